"""What both studies do with a configuration: merge the defaults, the model's and the quick
presets and the caller's overrides; check the values they share; list the seeds; name
initializers; describe the model.

A study's ``resolve_config(**overrides)`` calls :func:`merge` and then these checks; every check
raises ValueError naming the option (the command line prints it as is).
"""
import math

from .. import initializers

__all__ = ["HIDDEN_ACTIVATIONS", "MODELS", "KERAS_INITIALIZERS", "merge", "seeds",
           "check_activations", "check_positive_ints", "check_common", "check_names",
           "initializer_name", "model_text"]

#: the hidden activations a study may use (zoo.mlp's and zoo.cnn's)
HIDDEN_ACTIVATIONS = ("sigmoid", "relu", "tanh", "elu")
#: the models a study may train: the lab MLP (zoo.mlp) or the lab CNN (zoo.cnn)
MODELS = ("mlp", "cnn")
#: every Keras initializer, by its snake_case name
KERAS_INITIALIZERS = ("zeros", "ones", "constant", "random_normal", "random_uniform",
                      "truncated_normal", "orthogonal", "identity", "glorot_normal",
                      "glorot_uniform", "he_normal", "he_uniform", "lecun_normal",
                      "lecun_uniform")
# Spellings without underscores or case (Keras class names, "HeNormal"; snake_case,
# "he_normal"; the Xavier aliases) -> the snake_case name.
_INIT_KEYS = dict({n.replace("_", ""): n for n in KERAS_INITIALIZERS + ("variance_scaling",)},
                  xavieruniform="glorot_uniform", xaviernormal="glorot_normal")


def merge(defaults, quick_preset, overrides, model_presets=None):
    """``defaults``, then ``model_presets[model]`` (the model named by the overrides, else by
    the defaults), then ``quick_preset`` when ``overrides['quick']`` is true (a dict of such
    presets per model when ``model_presets`` is given), then the overrides that are not None;
    the result also holds ``quick`` (a bool).  Keys keep the order of ``defaults`` (then
    'quick'), so a config written as JSON reads the same every time."""
    overrides = dict(overrides)
    quick = bool(overrides.pop("quick", False))
    cfg = dict(defaults)
    model = overrides.get("model") or defaults.get("model")
    if model_presets is not None:
        if model not in MODELS:
            raise ValueError("model must be one of %s, got %r" % (", ".join(MODELS), model))
        cfg.update(model_presets.get(model, {}))
        quick_preset = quick_preset.get(model, {})
    if quick:
        cfg.update(quick_preset)
    cfg.update({k: v for k, v in overrides.items() if v is not None})
    cfg["quick"] = quick
    return cfg


def merge_mlp_cnn(defaults, quick, cnn_quick, cnn_defaults, overrides):
    """``merge`` for a study that runs the MLP (``defaults``, ``quick``) or the CNN (then
    ``cnn_defaults``, ``cnn_quick``); 'hidden' (the MLP's widths) is refused with model 'cnn'."""
    if overrides.get("hidden") is not None and overrides.get("model") == "cnn":
        raise ValueError("hidden sets the MLP's hidden widths; the CNN (zoo.cnn) has fixed "
                         "layers: leave hidden out with model 'cnn'")
    return merge(defaults, {"mlp": quick, "cnn": cnn_quick}, overrides,
                 model_presets={"mlp": {}, "cnn": cnn_defaults})


def check_names(cfg, key):
    """``cfg[key]`` is a non-empty list of distinct names (an empty list would silently run
    nothing, or, on the command line, everything)."""
    v = cfg[key]
    if not isinstance(v, (list, tuple)) or not v:
        raise ValueError("%s must name at least one entry, got %r" % (key, v))
    if len(set(v)) != len(v):
        raise ValueError("%s lists a name twice: %s" % (key, ",".join(map(str, v))))


def initializer_name(name, option, allowed=None):
    """The snake_case name of an initializer given as a Keras class name (``RandomNormal``),
    in snake_case (``random_normal``), in any case, or as a Xavier alias; ValueError naming
    ``option`` when it is none of ``allowed`` (default: any fastnn initializer name).

        initializer_name("RandomNormal", "initializers")     # 'random_normal'
    """
    key = str(name).strip().replace("_", "").replace("-", "").lower()
    canonical = _INIT_KEYS.get(key)
    if canonical is None and allowed is None:
        try:
            initializers.get(str(name).strip())
            canonical = str(name).strip()
        except (ValueError, TypeError):
            canonical = None
    if canonical is None or (allowed is not None and canonical not in allowed):
        raise ValueError("%s: unknown initializer %r; expected a Keras initializer name, in "
                         "snake_case or as its class name (e.g. he_normal or HeNormal): %s"
                         % (option, name, ", ".join(allowed or KERAS_INITIALIZERS)))
    return canonical


def model_text(cfg, input_dim=784):
    """A short description of the study's model for titles and reports."""
    if cfg.get("model", "mlp") == "cnn":
        return "CNN conv32-pool-conv64-pool-dense128-10"
    return "MLP %s" % "-".join(map(str, [input_dim] + list(cfg["hidden"]) + [10]))


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
    """The options every study has: the model, run counts and sizes, seed offset, dropout and
    (when present) the loss threshold."""
    if cfg.get("model", "mlp") not in MODELS:
        raise ValueError("model must be one of %s, got %r" % (", ".join(MODELS), cfg["model"]))
    if cfg.get("model") == "cnn":
        if cfg.get("hidden") is not None:
            raise ValueError("hidden sets the MLP's hidden widths; the CNN (zoo.cnn) has fixed "
                             "layers: leave hidden out with model 'cnn'")
    elif not isinstance(cfg.get("hidden"), (list, tuple)) or not cfg["hidden"] or not all(
            isinstance(h, int) and not isinstance(h, bool) and h >= 1 for h in cfg["hidden"]):
        raise ValueError("hidden must be a non-empty list of positive layer widths, got %r"
                         % (cfg.get("hidden"),))
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
