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
  shuffle seed, loss, the bit-generator state of every layer's Generator), the history so far
  and ``metadata`` (``model.checkpoint_metadata``: a JSON object the caller attaches, e.g. the
  command line's training settings; restored by ``load_model``);
* ``param_000``, ``param_001``, ...: the weights in ``parameters()`` order;
* ``opt_<i>_<name>``: the optimizer's state arrays (e.g. Adam's ``exp_avg``) of parameter i.

It is written with ``fastnn._atomic.atomic_write`` (a temporary file in the same directory,
fsynced, renamed over the target; a symbolic link is followed, the link kept; temporary files
of killed writers are removed by the next save), so a crash mid-save leaves the previous
checkpoint intact.

``load_model`` trusts nothing in the file (``fastnn._readfile``, ``fastnn._npz_reader``).  In
order:

1. the path must be a regular file (a FIFO or device is refused, never waited on);
2. the header (at most ``MAX_HEADER_BYTES``) must be a fastnn header of this format version;
3. every member the header needs -- the weights and the optimizer's state arrays, nothing
   else; other members are never decompressed -- must exist, and its ``.npy`` header (read
   without the data) must match the header's shape and dtype (float32 or float64, native
   byte order), and the zip's sizes must agree with it (a member cannot declare more than the
   file can inflate to);
4. the architecture's parameter shapes (``PARAMETER_SHAPES``, from the layer configs) must be
   the header's weight shapes -- before any layer is built, so a header declaring a huge layer
   over small weights costs nothing;
5. the data is read: exactly the declared bytes, each member's CRC checked; weights and state
   must be finite, second moments (``NONNEGATIVE_STATE``) non-negative, and each state array
   is its own member (``opt_<i>_<name>``), so two state entries cannot alias one array.

Anything wrong raises :class:`fastnn.errors.CheckpointError` (a ValueError) naming the file;
OverflowError and MemoryError from a hostile file become CheckpointError too.

The header's format name says which model class rebuilds the file: a model class registers
itself with :func:`register_model_class` (``fastnn.models`` registers ``Sequential`` as
``"fastnn.Sequential"``), so this module needs no import of the models it restores.
"""
# Size: just over ~500 lines, kept whole: the writer and the untrusting reader of one format
# belong together (fastnn/_npz_reader.py holds the zip-level reading).
import json
import os
import warnings
import zipfile
import zlib

import numpy as np

from . import losses as _losses
from . import optim as _optim
from ._atomic import atomic_write
from ._npz_reader import FormatError, NpzArchive
from ._readfile import NotRegularFile, open_regular
from ._version import __version__
from .errors import CheckpointError
from .history import History

__all__ = ["save_model", "load_model", "register_model_class", "FORMAT_VERSION",
           "MAX_HEADER_BYTES", "PARAMETER_SHAPES", "WEIGHT_DTYPES", "NONNEGATIVE_STATE"]

FORMAT_VERSION = 1
# The JSON header holds the architecture, hyper-parameters and the history (one float per
# batch): a few MB for the longest real run; more is refused rather than parsed.
MAX_HEADER_BYTES = 64 * 2 ** 20
WEIGHT_DTYPES = ("float32", "float64")
# Optimizer state that is a running sum or average of squares (or of magnitudes): never
# negative, and square-rooted by the update.
NONNEGATIVE_STATE = frozenset(("exp_avg_sq", "max_exp_avg_sq", "square_avg", "acc_delta", "sum",
                               "exp_inf"))
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
        "metadata": getattr(model, "checkpoint_metadata", None),
    }
    return header, arrays


def save_model(model, path):
    """Write architecture, weights, optimizer state and training state to one file.

    Atomic: the file is written under a temporary name in the same directory, fsynced and
    renamed over ``path``; an existing checkpoint survives any failure mid-save.  Load with
    :func:`load_model`.  The ``.npz`` suffix is conventional, not added.  A missing directory
    raises FileNotFoundError (a mistyped path), as ``np.save`` does; an empty path, a
    directory or a non-regular file is refused naming ``path``; a symbolic link is followed
    (its target replaced, the link kept).  Errors name ``path``, never the temporary file.
    ``model.checkpoint_metadata`` (a JSON object, or absent) is stored in the header.
    Returns ``path``.

        save_model(model, "ckpt.npz")          # = model.save("ckpt.npz")
    """
    path = os.fspath(path)
    header, arrays = _checkpoint(model)
    metadata = header["metadata"]
    if metadata is not None and not isinstance(metadata, dict):
        raise TypeError("model.checkpoint_metadata must be a dict or None, got %s"
                        % type(metadata).__name__)
    blob = json.dumps(header).encode("utf-8")
    if len(blob) > MAX_HEADER_BYTES:         # load_model would refuse it
        raise ValueError("the checkpoint header would be %d bytes, more than MAX_HEADER_BYTES "
                         "(%d): shorten model.history or model.checkpoint_metadata"
                         % (len(blob), MAX_HEADER_BYTES))
    members = {"header": np.frombuffer(blob, dtype=np.uint8)}
    members.update(arrays)
    return atomic_write(path, lambda fh: np.savez(fh, allow_pickle=False, **members),
                        make_dirs=False)


# --------------------------------------------------------------------------- loading
def load_model(path):
    """A model restored from ``save_model``: architecture, weights, optimizer (with its
    state), epochs completed, shuffle seed, loss, layer RNG states and history.

    Continue training exactly where it stopped with
    ``model.fit(x, y, epochs=N, initial_epoch=model.epochs_completed, ...)`` (optimizer=None
    keeps the restored optimizer, seed=None the restored seed).  A missing file raises
    FileNotFoundError; a corrupt, truncated, inconsistent or hostile one (see the module
    docstring) :class:`fastnn.errors.CheckpointError` (a ValueError) naming the file.  The
    file is checked before the model is built: the memory used is bounded by what its header
    declares and the stored arrays confirm.

        model = load_model("ckpt.npz")
        model.epochs_completed, model.optimizer      # (2, Adam(...))
    """
    path = os.fspath(path)
    try:
        fh = open_regular(path)
    except FileNotFoundError:
        raise FileNotFoundError("model file %r does not exist" % path) from None
    except NotRegularFile as e:
        raise CheckpointError(path, "%s; a model file is a .npz written by save_model" % e) \
            from None
    try:
        with fh:
            header, arrays = _read_checkpoint(fh)
            model = _restore(header, arrays)
    except FormatError as e:                 # a check of this module or of the npz reader
        raise CheckpointError(path, str(e)) from None
    except MemoryError:
        raise CheckpointError(path, "not enough memory to hold the weights it declares") \
            from None
    except (ValueError, KeyError, TypeError, IndexError, EOFError, OSError, OverflowError,
            RecursionError, zipfile.BadZipFile, zlib.error, UnicodeDecodeError,
            AttributeError) as e:
        raise CheckpointError(path, "the file is corrupt, truncated or not a fastnn model "
                                    "(%s: %s)" % (type(e).__name__, e)) from None
    return model


def _read_checkpoint(fh):
    """(header, {member: array}) with every needed member checked before any data is read."""
    npz = NpzArchive(fh)
    if "header" not in npz:
        raise FormatError("no 'header' member (not a fastnn model file)")
    h = npz.header("header")
    if h.dtype != np.uint8 or len(h.shape) != 1 or h.shape[0] > MAX_HEADER_BYTES:
        raise FormatError("the 'header' member is %s %s, expected uint8 text of at most %d bytes"
                         % (h.dtype, h.shape, MAX_HEADER_BYTES))
    header = json.loads(npz.read(h).tobytes().decode("utf-8"))
    if not isinstance(header, dict):
        raise FormatError("the header is a JSON %s, expected an object" % type(header).__name__)
    fmt = header.get("format")
    if not isinstance(fmt, str) or fmt not in _MODEL_CLASSES:
        raise FormatError("header format is %r, expected %s"
                         % (fmt, " or ".join(repr(f) for f in sorted(_MODEL_CLASSES))))
    if header.get("format_version") != FORMAT_VERSION:
        raise FormatError("format version %r is not supported (this fastnn reads version %d)"
                         % (header.get("format_version"), FORMAT_VERSION))
    needed = _needed_arrays(header)
    # 1. each needed member's .npy header against the checkpoint header (no data read yet)
    headers = {}
    for name, (shape, dtype, what) in needed.items():
        if name not in npz:
            raise FormatError("the header lists %s, but the file has no member %r" % (what, name))
        stored = npz.header(name)
        if stored.dtype != dtype or stored.shape != shape:
            raise FormatError("%s: the header says %s %s, the file stores %s %s"
                             % (what, np.dtype(dtype).name, shape, _dtype_words(stored.dtype),
                                stored.shape))
        headers[name] = stored
    # 2. the architecture against the weights, before any layer is built
    _check_architecture(header)
    # 3. the data: exactly what was declared and confirmed
    arrays = {}
    for name, stored in headers.items():
        arr = npz.read(stored)
        _check_values(arr, name, needed[name][2])
        arrays[name] = arr
    return header, arrays


def _dtype_words(dtype):
    """'int32', 'float32 (big-endian)': a refused dtype named so that the reason is visible."""
    if dtype.kind == "f" and not dtype.isnative:
        return "%s (big-endian)" % dtype.newbyteorder("=").name
    return dtype.name


def _shape_of(value, what):
    if not isinstance(value, list) or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in value):
        raise FormatError("%s: shape %r is not a list of non-negative ints" % (what, value))
    return tuple(value)


def _needed_arrays(header):
    """{member: (shape, dtype, description)}: the weights and the optimizer's state arrays the
    header declares, each a float32/float64 array; state arrays under their canonical names
    (so no two entries can share, or alias, one stored array)."""
    weights = header.get("weights")
    if not isinstance(weights, list):
        raise FormatError("the header has no 'weights' list")
    needed = {}
    specs = []
    for i, spec in enumerate(weights):
        if not isinstance(spec, dict):
            raise FormatError("weight %d: expected an object, got %r" % (i, spec))
        what = "weight %d (%s)" % (i, spec.get("name"))
        if spec.get("dtype") not in WEIGHT_DTYPES:
            raise FormatError("%s: dtype %r, expected one of %s"
                             % (what, spec.get("dtype"), ", ".join(WEIGHT_DTYPES)))
        shape = _shape_of(spec.get("shape"), what)
        specs.append((shape, np.dtype(spec["dtype"])))
        needed["param_%03d" % i] = (shape, np.dtype(spec["dtype"]), what)
    opt = header.get("optimizer")
    if opt is None or isinstance(opt, dict) and opt.get("custom") is True:
        return needed          # a custom optimizer: only its class name was written
    if not isinstance(opt, dict) or not isinstance(opt.get("state"), dict):
        raise FormatError("the optimizer entry has no 'state' object")
    for key, entry in opt["state"].items():
        if not (isinstance(key, str) and key.isdigit() and int(key) < len(specs)):
            raise FormatError("optimizer state for parameter %r, which does not exist" % (key,))
        mi = int(key)
        if not isinstance(entry, dict):
            raise FormatError("optimizer state %s is not an object" % key)
        for name, v in entry.items():
            if not isinstance(v, dict):
                continue                                  # a scalar such as 'step'
            member = "opt_%03d_%s" % (mi, name)
            if v != {"array": member}:
                raise FormatError("optimizer state %r of parameter %d refers to %r; it must be "
                                 "its own array %r" % (name, mi, v.get("array"), member))
            shape, dtype = specs[mi]
            needed[member] = (shape, dtype, "optimizer state %r of weight %d" % (name, mi))
    return needed


def _check_values(arr, member, what):
    """Weights and optimizer state must be finite; second moments (and accumulated squares)
    must also be non-negative: Adam and friends take their square root."""
    if not np.isfinite(arr).all():
        raise FormatError("%s holds NaN or infinite values" % what)
    if member.startswith("opt_") and member.split("_", 2)[2] in NONNEGATIVE_STATE \
            and arr.size and arr.min() < 0:
        raise FormatError("%s has negative values (%g); it is a sum of squares"
                         % (what, float(arr.min())))


def _int_field(config, key, layer):
    v = config.get(key)
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise FormatError("layer %s: %s must be a positive int, got %r" % (layer, key, v))
    return v


def _dense_shapes(config, layer):
    i, o = _int_field(config, "in_features", layer), _int_field(config, "out_features", layer)
    return [(i, o), (o,)]


def _conv2d_shapes(config, layer):
    i, o = _int_field(config, "in_channels", layer), _int_field(config, "out_channels", layer)
    k = config.get("kernel_size")
    if isinstance(k, int) and not isinstance(k, bool):
        k = [k, k]
    if not (isinstance(k, list) and len(k) == 2 and all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in k)):
        raise FormatError("layer %s: kernel_size must be a positive int or pair, got %r"
                         % (layer, config.get("kernel_size")))
    return [(o, i, k[0], k[1]), (o,)]


# The shapes of each layer class's parameters, from its config, so a file's architecture can be
# checked against its weights before building a layer allocates them.  Every layer class of
# fastnn.layers must be listed (tests/test_saving.py checks it): a file naming another class is
# refused.
PARAMETER_SHAPES = {
    "Dense": _dense_shapes, "Conv2D": _conv2d_shapes,
    **{name: (lambda config, layer: []) for name in (
        "MaxPool2D", "Flatten", "Dropout", "ReLU", "Sigmoid", "Tanh", "ELU", "Softmax")},
}


def _check_architecture(header):
    """The parameter shapes the architecture would build must be the header's weights."""
    model = header.get("model")
    layers = model.get("layers") if isinstance(model, dict) else None
    if not isinstance(layers, list):
        raise FormatError("the header's model has no 'layers' list")
    built = []
    for i, entry in enumerate(layers):
        cls = entry.get("class_name") if isinstance(entry, dict) else None
        config = entry.get("config") if isinstance(entry, dict) else None
        if cls not in PARAMETER_SHAPES or not isinstance(config, dict):
            raise FormatError("layer %d: unknown layer class %r" % (i, cls))
        built.extend(PARAMETER_SHAPES[cls](config, "%d (%s)" % (i, cls)))
    declared = [tuple(spec["shape"]) for spec in header["weights"]]
    if built != declared:
        raise FormatError("the architecture has parameters of shapes %s, the header's weights "
                         "are %s" % (_short(built), _short(declared)))


def _short(shapes, n=6):
    text = ", ".join(str(s) for s in shapes[:n])
    return "[%s%s]" % (text, ", ... (%d in all)" % len(shapes) if len(shapes) > n else "")


def _restore_weights(params, specs, arrays):
    if len(specs) != len(params):
        raise ValueError("the header lists %d weights, the architecture has %d parameters"
                         % (len(specs), len(params)))
    for i, (p, spec) in enumerate(zip(params, specs)):
        arr = arrays["param_%03d" % i]
        if arr.shape != p.value.shape:
            raise ValueError("weight %d (%s): stored %s %s, layer expects %s"
                             % (i, spec.get("name"), arr.dtype, arr.shape, p.value.shape))
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
    epochs = training.get("epochs_completed", 0)
    if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 0:
        raise ValueError("epochs_completed must be a non-negative int, got %r" % (epochs,))
    model.epochs_completed = epochs
    seed = training.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or seed < 0):
        raise ValueError("the shuffle seed must be a non-negative int or null, got %r" % (seed,))
    model.seed = seed
    model.loss = _loss_from_json(training.get("loss"))
    for i, state in (training.get("layer_rngs") or {}).items():
        layer = model.layers[int(i)]
        if not hasattr(layer, "rng"):
            raise ValueError("layer %s has no random generator to restore" % i)
        layer.rng = _restore_rng(state)
    if header.get("history") is not None:
        model.history = History.from_dict(header["history"])
    metadata = header.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise ValueError("metadata must be a JSON object, got %r" % (metadata,))
    model.checkpoint_metadata = metadata
    return model
