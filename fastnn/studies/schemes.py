"""The initialization schemes of the init study's part 2 and statistics: what each name means.

A scheme is ``'normal'``, the naive N(0, sigma) for each sigma of ``cfg['normal_std']`` (the
lab's N(0, 1) by default for the MLP; N(0, 0.01) and N(0, 0.005) for the CNN, the values the
conv-initialization question asks about), or any fastnn initializer name (``glorot_normal``,
``he_normal``, ...).  :func:`scheme_entries` expands the configured names into series:

    scheme_entries({"schemes": ["normal", "he_normal"], "normal_std": [0.01, 0.005]})
    # [('normal0.01', {...RandomNormal 0.01...}, 'N(0, 0.01)'),
    #  ('normal0.005', {...RandomNormal 0.005...}, 'N(0, 0.005)'),
    #  ('he_normal', 'he_normal', 'He normal')]
"""
from .. import initializers

__all__ = ["scheme_entries", "scheme_init", "scheme_label", "baseline_scheme"]

_LABELS = {"glorot_normal": "Xavier/Glorot normal", "glorot_uniform": "Xavier/Glorot uniform",
           "he_normal": "He normal", "he_uniform": "He uniform"}


def _normal_key(cfg, std):
    """'normal' when one sigma is configured (the lab's study), else 'normal<sigma>'."""
    return "normal" if len(cfg["normal_std"]) == 1 else "normal%g" % std


def scheme_entries(cfg):
    """[(key, initializer spec (JSON), label)] of the configured schemes, in order."""
    out = []
    for name in cfg["schemes"]:
        if name == "normal":
            for std in cfg["normal_std"]:
                spec = initializers.serialize(initializers.RandomNormal(mean=0.0,
                                                                        stddev=float(std)))
                naive = " (naive)" if len(cfg["normal_std"]) == 1 else ""
                out.append((_normal_key(cfg, std), spec, "N(0, %g)%s" % (std, naive)))
        else:
            out.append((name, name, _LABELS.get(name, name)))
    return out


def scheme_init(cfg, key):
    """The JSON initializer spec of the scheme ``key`` (as :func:`scheme_entries` names it)."""
    for k, spec, _ in scheme_entries(cfg):
        if k == key:
            return spec
    raise ValueError("unknown scheme %r; the configured ones are %s"
                     % (key, ", ".join(k for k, _, _ in scheme_entries(cfg))))


def scheme_label(cfg, key):
    """The label of the scheme ``key`` in tables and legends."""
    for k, _, label in scheme_entries(cfg):
        if k == key:
            return label
    return key


def baseline_scheme(cfg):
    """The key of the naive N(0, sigma) baseline (the first sigma), or None without it."""
    return _normal_key(cfg, cfg["normal_std"][0]) if "normal" in cfg["schemes"] else None
