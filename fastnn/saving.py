"""The checkpoint format: ``save_model(model, path)`` and ``load_model(path)``.

    model.fit(x, y, epochs=2, seed=0)
    model.save("mlp.npz")                  # = saving.save_model(model, "mlp.npz")
    model = load_model("mlp.npz")          # architecture, weights, optimizer, training state
    model.fit(x, y, epochs=4, initial_epoch=model.epochs_completed)   # exactly as if unbroken

A checkpoint is a ``.npz`` zip (no pickle) with

* ``header``: UTF-8 JSON: format name and version, fastnn version, the architecture
  (``model.get_config()``: ``fastnn.layers.serialize`` of each layer, input shape), the
  name/shape/dtype of every weight, the optimizer (class, parameter groups with
  hyper-parameters, scalar state such as step counts), the training state (epochs completed,
  shuffle seed, loss, the bit-generator state of every layer's Generator) and the history so far;
* ``param_000``, ``param_001``, ...: the weights in ``parameters()`` order;
* ``opt_<i>_<name>``: the optimizer's state arrays (e.g. Adam's ``exp_avg``) of parameter i.

It is written with ``fastnn._atomic.atomic_write`` (a temporary file in the same directory,
fsynced, renamed over the target), so a crash mid-save leaves the previous checkpoint intact.
``load_model`` reads every member (the zip CRCs catch corruption) and checks every shape and
dtype; a damaged file raises :class:`fastnn.errors.CheckpointError` (a ValueError) naming it.

The header's format name says which model class rebuilds the file: a model class registers
itself with :func:`register_model_class` (``fastnn.models`` registers ``Sequential`` as
``"fastnn.Sequential"``), so this module needs no import of the models it restores.
"""
import json
import os
import warnings
import zipfile

import numpy as np

from . import losses as _losses
from . import optim as _optim
from ._atomic import atomic_write
from ._version import __version__
from .errors import CheckpointError
from .history import History

__all__ = ["save_model", "load_model", "register_model_class", "FORMAT_VERSION"]

FORMAT_VERSION = 1
_MODEL_CLASSES = {}          # format name -> model class (with from_config); see register


def register_model_class(format_name):
    """Class decorator: files whose header format is ``format_name`` are rebuilt with
    ``cls.from_config(header['model'])``, and ``save_model`` writes that name for instances.

        @register_model_class("fastnn.Sequential")
        class Sequential: ...
    """
    def register(cls):
        _MODEL_CLASSES[format_name] = cls
        cls.checkpoint_format = format_name
        return cls
    return register


# --------------------------------------------------------------------------- pieces of state
def _rng_layers(model):
    return [(i, layer.rng) for i, layer in enumerate(model.layers)
            if isinstance(getattr(layer, "rng", None), np.random.Generator)]


def _restore_rng(state):
    cls = getattr(np.random, state["bit_generator"], None)
    if cls is None or not isinstance(cls, type) or not issubclass(cls, np.random.BitGenerator):
        raise ValueError("unknown bit generator %r" % (state["bit_generator"],))
    bitgen = cls()
    bitgen.state = state
    return np.random.Generator(bitgen)


def _loss_to_json(loss):
    if isinstance(loss, str):
        return {"name": loss}
    return {"class_name": type(loss).__name__,
            "config": loss.get_config() if hasattr(loss, "get_config") else {}}


def _loss_from_json(d):
    if d is None:
        return None
    if "name" in d:
        return d["name"]
    cls = getattr(_losses, d.get("class_name", ""), None)
    if not (isinstance(cls, type) and issubclass(cls, _losses.Loss)):
        # A custom loss class cannot be rebuilt from its name; the weights still can.
        warnings.warn("the checkpoint was trained with the custom loss %r, which cannot be "
                      "restored: pass loss= to fit/evaluate" % (d.get("class_name"),),
                      stacklevel=4)     # the caller of load_model
        return None
    return cls(**d.get("config", {}))


def _is_builtin_optimizer(optimizer):
    """Whether ``load_model`` can rebuild ``optimizer`` by its class name (fastnn.optim's)."""
    return getattr(_optim, type(optimizer).__name__, None) is type(optimizer)


def _optimizer_to_json(optimizer, params, arrays):
    """The optimizer's header entry; its state arrays go into ``arrays``.  A custom optimizer (a
    class of your own, or any object with step() and zero_grad()) cannot be rebuilt by
    load_model: only its class name is written, and a warning says its state is not saved."""
    if not _is_builtin_optimizer(optimizer):
        warnings.warn("model.optimizer is a custom optimizer (%s): the checkpoint holds the "
                      "weights and the training state, but not the optimizer's state; after "
                      "load_model, pass an optimizer to fit" % type(optimizer).__name__,
                      stacklevel=4)     # the caller of save / save_model
        return {"class_name": type(optimizer).__name__, "custom": True}
    index = {id(p): i for i, p in enumerate(params)}
    groups = []
    for g in optimizer.param_groups:
        if any(id(p) not in index for p in g["params"]):
            raise ValueError("model.optimizer holds parameters that are not this "
                             "model's; cannot save it")
        groups.append([index[id(p)] for p in g["params"]])
    sd = optimizer.state_dict()
    # state_dict numbers parameters in the optimizer's group order; map to model indices
    opt_order = [i for g in groups for i in g]
    state_json = {}
    for key, entry in sd["state"].items():
        mi = opt_order[int(key)]
        scalars = {}
        for name, v in entry.items():
            if isinstance(v, np.ndarray):
                arrays["opt_%03d_%s" % (mi, name)] = v
                scalars[name] = {"array": "opt_%03d_%s" % (mi, name)}
            else:
                scalars[name] = v
        state_json[str(mi)] = scalars
    return {"class_name": type(optimizer).__name__,
            "param_groups": [{k: v for k, v in g.items() if k != "params"}
                             for g in sd["param_groups"]],
            "group_params": groups, "state": state_json}


def _optimizer_from_json(opt, params, arrays):
    if opt.get("custom") is True:
        warnings.warn("the checkpoint was trained with the custom optimizer %r, whose state "
                      "was not saved: pass optimizer= to fit" % (opt.get("class_name"),),
                      stacklevel=4)     # the caller of load_model
        return None
    cls = getattr(_optim, opt["class_name"], None)
    if not (isinstance(cls, type) and issubclass(cls, _optim.Optimizer)):
        raise ValueError("unknown optimizer class %r" % (opt["class_name"],))
    groups = [{"params": [params[i] for i in g]} for g in opt["group_params"]]
    optimizer = cls(groups)
    opt_order = [i for g in opt["group_params"] for i in g]
    position = {mi: k for k, mi in enumerate(opt_order)}
    state = {}
    for mi, entry in opt["state"].items():
        restored = {}
        for name, v in entry.items():
            restored[name] = arrays[v["array"]] if isinstance(v, dict) else v
        state[position[int(mi)]] = restored
    groups_sd = []
    start = 0
    for g, hyper in zip(opt["group_params"], opt["param_groups"]):
        groups_sd.append(dict(hyper, params=list(range(start, start + len(g)))))
        start += len(g)
    optimizer.load_state_dict({"state": state, "param_groups": groups_sd})
    return optimizer


# --------------------------------------------------------------------------- saving
def _checkpoint(model):
    """(header dict, {member name: array}) describing the whole training state of ``model``."""
    params = model.parameters()
    arrays = {}
    weights = []
    for i, p in enumerate(params):
        arrays["param_%03d" % i] = p.value
        weights.append({"name": p.name, "shape": list(p.value.shape),
                        "dtype": p.value.dtype.name})
    opt = None if model.optimizer is None else _optimizer_to_json(model.optimizer, params,
                                                                  arrays)
    header = {
        "format": model.checkpoint_format, "format_version": FORMAT_VERSION,
        "fastnn_version": __version__,
        "model": model.get_config(), "weights": weights, "optimizer": opt,
        "training": {"epochs_completed": int(model.epochs_completed), "seed": model.seed,
                     "loss": None if model.loss is None else _loss_to_json(model.loss),
                     "layer_rngs": {str(i): g.bit_generator.state for i, g in _rng_layers(model)}},
        "history": None if model.history is None else model.history.to_dict(),
    }
    return header, arrays


def save_model(model, path):
    """Write architecture, weights, optimizer state and training state to one file.

    Atomic: the file is written under a temporary name in the same directory, fsynced and
    renamed over ``path``; an existing checkpoint survives any failure mid-save.  Load with
    :func:`load_model`.  The ``.npz`` suffix is conventional, not added.  A missing directory
    raises FileNotFoundError (a mistyped path), as ``np.save`` does.  Returns ``path``.

        save_model(model, "ckpt.npz")          # = model.save("ckpt.npz")
    """
    path = os.fspath(path)
    header, arrays = _checkpoint(model)
    blob = json.dumps(header).encode("utf-8")
    members = {"header": np.frombuffer(blob, dtype=np.uint8)}
    members.update(arrays)
    return atomic_write(path, lambda fh: np.savez(fh, allow_pickle=False, **members),
                        make_dirs=False)


# --------------------------------------------------------------------------- loading
def _read_checkpoint(path):
    with np.load(path, allow_pickle=False) as npz:
        names = set(npz.files)
        if "header" not in names:
            raise ValueError("no 'header' member (not a fastnn model file)")
        header = json.loads(npz["header"].tobytes().decode("utf-8"))
        fmt = header.get("format") if isinstance(header, dict) else header
        if not isinstance(fmt, str) or fmt not in _MODEL_CLASSES:
            raise ValueError("header format is %r, expected %s"
                             % (fmt, " or ".join(repr(f) for f in sorted(_MODEL_CLASSES))))
        if header.get("format_version") != FORMAT_VERSION:
            raise ValueError("format version %r is not supported (this fastnn reads version %d)"
                             % (header.get("format_version"), FORMAT_VERSION))
        # Read every member: the zip CRC of each is checked as it is read.
        arrays = {name: npz[name] for name in names if name != "header"}
    return header, arrays


def load_model(path):
    """A model restored from ``save_model``: architecture, weights, optimizer (with its
    state), epochs completed, shuffle seed, loss, layer RNG states and history.

    Continue training exactly where it stopped with
    ``model.fit(x, y, epochs=N, initial_epoch=model.epochs_completed, ...)`` (optimizer=None
    keeps the restored optimizer, seed=None the restored seed).  A missing file raises
    FileNotFoundError; a corrupt, truncated or inconsistent one
    :class:`fastnn.errors.CheckpointError` (a ValueError) naming the file.

        model = load_model("ckpt.npz")
        model.epochs_completed, model.optimizer      # (2, Adam(...))
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError("model file %r does not exist" % path)
    try:
        header, arrays = _read_checkpoint(path)
        model = _restore(header, arrays)
    except (ValueError, KeyError, TypeError, IndexError, EOFError, OSError, zipfile.BadZipFile,
            UnicodeDecodeError, AttributeError) as e:
        raise CheckpointError(path, "the file is corrupt, truncated or not a fastnn model "
                                    "(%s: %s)" % (type(e).__name__, e)) from e
    return model


def _restore_weights(params, specs, arrays):
    if len(specs) != len(params):
        raise ValueError("the header lists %d weights, the architecture has %d parameters"
                         % (len(specs), len(params)))
    for i, (p, spec) in enumerate(zip(params, specs)):
        arr = arrays["param_%03d" % i]
        if list(arr.shape) != list(spec["shape"]) or arr.dtype.name != spec["dtype"] \
                or arr.shape != p.value.shape:
            raise ValueError("weight %d (%s): stored %s %s, header says %s %s, layer expects %s"
                             % (i, spec.get("name"), arr.dtype, arr.shape, spec["dtype"],
                                tuple(spec["shape"]), p.value.shape))
        if arr.dtype != p.value.dtype:
            # the layer was built in the config's dtype; the stored weights decide
            p.value = np.ascontiguousarray(arr)
            p.grad = np.zeros_like(p.value)
        else:
            p.value[...] = arr


def _restore(header, arrays):
    model = _MODEL_CLASSES[header["format"]].from_config(header["model"])
    params = model.parameters()
    _restore_weights(params, header["weights"], arrays)
    opt = header.get("optimizer")
    if opt is not None:
        model.optimizer = _optimizer_from_json(opt, params, arrays)
    training = header.get("training") or {}
    model.epochs_completed = int(training.get("epochs_completed", 0))
    model.seed = training.get("seed")
    model.loss = _loss_from_json(training.get("loss"))
    for i, state in (training.get("layer_rngs") or {}).items():
        layer = model.layers[int(i)]
        if not hasattr(layer, "rng"):
            raise ValueError("layer %s has no random generator to restore" % i)
        layer.rng = _restore_rng(state)
    if header.get("history") is not None:
        model.history = History.from_dict(header["history"])
    return model
