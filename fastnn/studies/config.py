"""What both studies do with a configuration: merge the defaults, the quick preset and the
caller's overrides; check the values they share; list the seeds.

A study's ``resolve_config(**overrides)`` calls :func:`merge` and then these checks; every check
raises ValueError naming the option (the command line prints it as is).
"""
import math

__all__ = ["HIDDEN_ACTIVATIONS", "merge", "seeds", "check_activations", "check_positive_ints",
           "check_common"]

#: the hidden activations a study may use (zoo.mlp's)
HIDDEN_ACTIVATIONS = ("sigmoid", "relu", "tanh", "elu")


def merge(defaults, quick_preset, overrides):
    """``defaults``, then ``quick_preset`` when ``overrides['quick']`` is true, then the
    overrides that are not None; the result also holds ``quick`` (a bool).  Keys keep the order
    of ``defaults`` (then 'quick'), so a config written as JSON reads the same every time."""
    overrides = dict(overrides)
    quick = bool(overrides.pop("quick", False))
    cfg = dict(defaults)
    if quick:
        cfg.update(quick_preset)
    cfg.update({k: v for k, v in overrides.items() if v is not None})
    cfg["quick"] = quick
    return cfg


def seeds(cfg, runs):
    """The seeds of ``runs`` runs: ``seed_offset``, ``seed_offset + 1``, ..."""
    return [cfg["seed_offset"] + i for i in range(runs)]


def check_activations(cfg):
    for name in cfg["activations"]:
        if name not in HIDDEN_ACTIVATIONS:
            raise ValueError("activations: unknown %r; expected %s or %s"
                             % (name, ", ".join(HIDDEN_ACTIVATIONS[:-1]), HIDDEN_ACTIVATIONS[-1]))


def check_positive_ints(cfg, keys):
    for key in keys:
        v = cfg[key]
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError("%s must be a positive integer, got %r" % (key, v))


def check_common(cfg):
    """The options every study has: run counts and sizes, seed offset, dropout and (when
    present) the loss threshold."""
    check_positive_ints(cfg, ("runs", "epochs", "batch_size", "train_size", "test_size",
                              "eval_batch_size"))
    if isinstance(cfg["seed_offset"], bool) or not isinstance(cfg["seed_offset"], int) or \
            cfg["seed_offset"] < 0:
        raise ValueError("seed_offset must be an integer >= 0, got %r" % (cfg["seed_offset"],))
    if not (isinstance(cfg["dropout"], (int, float)) and 0 <= cfg["dropout"] < 1):
        raise ValueError("dropout must be in [0, 1), got %r" % (cfg["dropout"],))
    if "loss_threshold" in cfg and not (isinstance(cfg["loss_threshold"], (int, float))
                                        and math.isfinite(cfg["loss_threshold"])
                                        and cfg["loss_threshold"] > 0):
        raise ValueError("loss_threshold must be a positive number, got %r"
                         % (cfg["loss_threshold"],))
