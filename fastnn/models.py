"""``Sequential``: a stack of layers with an explicit training loop, checkpoints and history.

    model = Sequential([Dense(784, 256, activation="relu"), Dropout(0.2, seed=1),
                        Dense(256, 10)])                   # ends in logits
    hist = model.fit(x, y, epochs=5, batch_size=128, optimizer="adam", seed=0,
                     validation_data=(x_val, y_val))
    model.evaluate(x_test, y_test)       # {'loss': ..., 'accuracy': ...}
    model.save("mlp.npz"); model = load_model("mlp.npz")

One training step (``fit``), for a mini-batch (xb, yb):

    logits = model.forward(xb, training=True)          # layer by layer, each keeps its inputs
    loss   = loss_fn.forward(logits, yb) + sum(layer.regularization_loss())
    dlogits = loss_fn.backward()                        # (p - onehot(y)) / N for softmax CE
    model.backward(dlogits)                             # layer by layer in reverse, fills .grad
    optimizer.step()                                    # one fused update kernel per parameter

Reproducibility.  Epoch ``e`` shuffles with ``numpy.random.default_rng([seed, e])``: the order
of any epoch depends only on (seed, e), so a run resumed from a checkpoint at epoch ``e`` sees
exactly the batches an uninterrupted run would.  Dropout layers draw their masks from their own
Generator; checkpoints save and restore its state.  Together with the optimizer state that makes
``fit 2 epochs; save; load_model; fit(initial_epoch=2)`` bit-identical to 4 epochs in one go.

Checkpoint file (``save``): a ``.npz`` zip (no pickle) with

* ``header``: UTF-8 JSON: format name and version, fastnn version, the architecture
  (``fastnn.layers.serialize`` of each layer, input shape), the name/shape/dtype of every
  weight, the optimizer (class, parameter groups with hyper-parameters, scalar state such as
  step counts), the training state (epochs completed, shuffle seed, loss, the bit-generator
  state of every layer's Generator) and the history so far;
* ``param_000``, ``param_001``, ...: the weights in ``parameters()`` order;
* ``opt_<i>_<name>``: the optimizer's state arrays (e.g. Adam's ``exp_avg``) of parameter i.

It is written to a temporary file in the same directory, flushed and fsynced, then renamed
over the target with ``os.replace`` (atomic on POSIX and Windows), so a crash mid-save leaves
the previous checkpoint intact.  ``load_model`` reads every member (the zip CRCs catch
corruption) and checks every shape and dtype; a damaged file raises ValueError naming it.
"""
import json
import math
import numbers
import os
import time
import warnings
import zipfile

import numpy as np

from ._version import __version__
from . import _atomic
from . import _validate as _v
from . import backend as _backend
from . import callbacks as _callbacks
from . import layers as _layers
from . import losses as _losses
from . import optim as _optim
from ._config import get_num_threads
from .data import batches as _batches

__all__ = ["Sequential", "History", "load_model", "TrainingDivergedError"]

FORMAT_NAME = "fastnn.Sequential"
FORMAT_VERSION = 1
_CLASSIFICATION_LOSSES = (_losses.SoftmaxCrossEntropy, _losses.CrossEntropy)
_HISTORY_ORDER = ("loss", "accuracy", "val_loss", "val_accuracy", "lr", "time")


class TrainingDivergedError(RuntimeError):
    """The training loss became NaN or infinite.  ``epoch`` and ``batch`` are 0-based indices
    of where it happened; ``loss`` is the offending value."""

    def __init__(self, message, epoch=None, batch=None, loss=None):
        super().__init__(message)
        self.epoch = epoch
        self.batch = batch
        self.loss = loss


# --------------------------------------------------------------------------- History
class History:
    """What ``fit`` recorded.

    ``history``: dict of per-epoch lists, ``'loss'`` and ``'accuracy'`` (training; accuracy for
    classification losses only), ``'val_loss'``/``'val_accuracy'`` with validation data,
    ``'lr'`` (learning rate of the first parameter group at the end of the epoch) and ``'time'``
    (seconds for the epoch, validation included).  ``epoch``: the epoch indices (0-based) the
    lists refer to.  ``batch_losses``: every mini-batch's training loss in order, and
    ``batches_per_epoch`` how many of them belong to each epoch.  ``history['loss'][i]`` is the
    sample-weighted mean of epoch i's batch losses.
    """

    def __init__(self):
        self.history = {}
        self.epoch = []
        self.batch_losses = []
        self.batches_per_epoch = []
        self.params = {}

    def __getitem__(self, key):
        return self.history[key]

    def __contains__(self, key):
        return key in self.history

    def keys(self):
        return self.history.keys()

    def __len__(self):
        return len(self.epoch)

    def __repr__(self):
        return "History(epochs=%d, keys=%s)" % (len(self.epoch), list(self.history))

    def _append(self, epoch, logs, batch_losses):
        n_before = len(self.epoch)
        self.epoch.append(int(epoch))
        for key in list(self.history) + [k for k in logs if k not in self.history]:
            column = self.history.setdefault(key, [None] * n_before)
            column.append(logs.get(key))
        self.batch_losses.extend(float(v) for v in batch_losses)
        self.batches_per_epoch.append(len(batch_losses))

    def _truncated(self, before_epoch):
        """A copy holding only the epochs with index < before_epoch (for resuming)."""
        out = History()
        keep = [i for i, e in enumerate(self.epoch) if e < before_epoch]
        out.epoch = [self.epoch[i] for i in keep]
        out.history = {k: [v[i] for i in keep] for k, v in self.history.items()}
        starts = np.concatenate([[0], np.cumsum(self.batches_per_epoch)]).astype(int)
        for i in keep:
            out.batch_losses.extend(self.batch_losses[starts[i]:starts[i + 1]])
            out.batches_per_epoch.append(self.batches_per_epoch[i])
        out.params = dict(self.params)
        return out

    def to_dict(self):
        """JSON-serialisable: ``{'epoch', 'history', 'batch_losses', 'batches_per_epoch'}``."""
        return {"epoch": list(self.epoch),
                "history": {k: list(v) for k, v in self.history.items()},
                "batch_losses": list(self.batch_losses),
                "batches_per_epoch": list(self.batches_per_epoch)}

    @classmethod
    def from_dict(cls, d):
        h = cls()
        h.epoch = [int(e) for e in d.get("epoch", [])]
        h.history = {str(k): list(v) for k, v in d.get("history", {}).items()}
        h.batch_losses = [float(v) for v in d.get("batch_losses", [])]
        h.batches_per_epoch = [int(v) for v in d.get("batches_per_epoch", [])]
        n = len(h.epoch)
        if any(len(v) != n for v in h.history.values()) or len(h.batches_per_epoch) not in (0, n) \
                or sum(h.batches_per_epoch) != len(h.batch_losses):
            raise ValueError("inconsistent history: %d epochs, columns of lengths %s, %d batch "
                             "losses for batches_per_epoch %s"
                             % (n, {k: len(v) for k, v in h.history.items()},
                                len(h.batch_losses), h.batches_per_epoch))
        return h

    def to_json(self, path):
        """Write ``to_dict()`` as JSON to ``path``."""
        with open(os.fspath(path), "w") as fh:
            json.dump(self.to_dict(), fh, indent=1)

    def _columns(self):
        known = [k for k in _HISTORY_ORDER if k in self.history]
        return known + sorted(k for k in self.history if k not in _HISTORY_ORDER)

    def to_csv(self, path):
        """Write one row per epoch: ``epoch`` (0-based) then the history columns."""
        cols = self._columns()
        with open(os.fspath(path), "w") as fh:
            fh.write(",".join(["epoch"] + cols) + "\n")
            for i, e in enumerate(self.epoch):
                cells = [str(e)] + ["" if self.history[c][i] is None else repr(self.history[c][i])
                                    for c in cols]
                fh.write(",".join(cells) + "\n")


# --------------------------------------------------------------------------- helpers
def _shape_str(shape):
    if shape is None:
        return "?"
    return "(" + ", ".join("None" if s is None else str(s) for s in shape) + ")"


def _check_flag(v, name):
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError("%s must be a bool, got %r (%s)" % (name, v, type(v).__name__))
    return bool(v)


def _check_int(v, name, min=None):
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError("%s must be an int, got %r (%s)" % (name, v, type(v).__name__))
    v = int(v)
    if min is not None and v < min:
        raise ValueError("%s must be >= %d, got %d" % (name, min, v))
    return v


def _check_x(x, name):
    if not isinstance(x, np.ndarray):
        raise TypeError("%s must be a numpy.ndarray, got %s" % (name, type(x).__name__))
    if x.dtype.kind != "f":
        hint = (" (raw uint8 images: use fastnn.data.preprocess_images(x) to scale them to "
                "[0, 1])" if x.dtype == np.uint8 else " (use x.astype(np.float32))")
        raise TypeError("%s must hold floats (float32 or float64), got dtype %s%s"
                        % (name, x.dtype, hint))
    if x.ndim < 2:
        raise ValueError("%s must be (N, features...) with a leading sample axis, got shape %s"
                         % (name, x.shape))
    if x.shape[0] == 0:
        raise ValueError("%s must not be empty, got shape %s" % (name, x.shape))
    if not np.isfinite(x).all():
        raise ValueError("%s must be finite, but it holds NaN or inf values" % name)
    return x


def _seed_entropy():
    return int(np.random.SeedSequence().entropy)


def _rng_state(gen):
    return gen.bit_generator.state


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
                      "restored: pass loss= to fit/evaluate" % (d.get("class_name"),))
        return None
    return cls(**d.get("config", {}))


# --------------------------------------------------------------------------- Sequential
class Sequential:
    """A linear stack of layers; the output of each is the input of the next.

    ``layers``: list of ``fastnn.layers.Layer`` (or anything with forward/backward/parameters/
    output_shape).  ``input_shape``: per-sample input shape without the batch dimension (e.g.
    ``(784,)`` or ``(1, 28, 28)``); learnt from the first batch when not given, and used only by
    ``summary``.  Classification models end in logits (no softmax): ``fit`` pairs them with
    SoftmaxCrossEntropy and ``predict`` applies the softmax.

    State kept across ``fit`` calls (and saved by ``save``): ``optimizer``, ``loss``,
    ``epochs_completed`` (index of the next epoch), ``seed`` (the shuffle seed of the last fit)
    and ``history`` (the whole training record, across resumed runs).
    """

    def __init__(self, layers=None, input_shape=None, name="sequential"):
        self.layers = []
        self.name = name
        self.input_shape = None if input_shape is None else self._check_input_shape(input_shape)
        for layer in (layers or []):
            self.add(layer)
        self.optimizer = None
        self.loss = None
        self.epochs_completed = 0
        self.seed = None
        self.history = None
        self.stop_training = False

    @staticmethod
    def _check_input_shape(shape):
        if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
            shape = (shape,)
        if not isinstance(shape, (tuple, list)) or not all(
                isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 1
                for s in shape):
            raise TypeError("input_shape must be a tuple of positive ints without the batch "
                            "dimension, e.g. (784,) or (1, 28, 28), got %r" % (shape,))
        return tuple(int(s) for s in shape)

    def add(self, layer):
        """Append a layer."""
        for attr in ("forward", "backward", "parameters"):
            if not callable(getattr(layer, attr, None)):
                raise TypeError("layer must have forward, backward and parameters methods "
                                "(a fastnn.layers.Layer), got %s" % type(layer).__name__)
        if any(layer is l for l in self.layers):
            raise ValueError("layer %r is already in the model" % (getattr(layer, "name", layer),))
        self.layers.append(layer)
        return self

    # -- the chain rule, layer by layer ----------------------------------------------------
    def forward(self, x, training=False):
        """Output of the last layer for a batch ``x`` (N, ...); each layer keeps what its
        backward needs."""
        if not self.layers:
            raise ValueError("the model has no layers; add some with model.add(layer)")
        if self.input_shape is None and isinstance(x, np.ndarray) and x.ndim >= 1:
            self.input_shape = tuple(int(s) for s in x.shape[1:])
        for layer in self.layers:
            x = layer.forward(x, training=training)
        return x

    __call__ = forward

    def backward(self, dy, need_dx=True):
        """dL/dinput from dL/doutput of the last forward; fills every parameter's ``grad``.

        need_dx=False (what ``fit`` uses): the gradient w.r.t. the model's input is not wanted,
        so the backward pass stops at the first layer with parameters, which skips its own dx
        (for Dense a GEMM, for Conv2D a GEMM and a col2im); returns None.  Every parameter's
        ``grad`` is the same either way."""
        if not self.layers:
            raise ValueError("the model has no layers")
        if not _v.check_bool(need_dx, "need_dx"):
            # layers before the first one with parameters need no gradient at all
            first = next((i for i, layer in enumerate(self.layers) if layer.parameters()), None)
            if first is None:
                return None
            for layer in reversed(self.layers[first + 1:]):
                dy = layer.backward(dy)
            layer = self.layers[first]
            if isinstance(layer, (_layers.Dense, _layers.Conv2D)):
                layer.backward(dy, need_dx=False)
            else:                    # a custom layer: its backward may not take need_dx
                layer.backward(dy)
            return None
        for layer in reversed(self.layers):
            dy = layer.backward(dy)
        return dy

    def parameters(self):
        """Every layer's parameters, in layer order (kernel before bias within a layer)."""
        return [p for layer in self.layers for p in layer.parameters()]

    def zero_grad(self):
        for p in self.parameters():
            p.grad[...] = 0

    def count_params(self):
        return int(sum(p.value.size for p in self.parameters()))

    def regularization_loss(self):
        """Sum of every layer's regularization penalty (0.0 without regularizers)."""
        return float(sum(layer.regularization_loss() for layer in self.layers
                         if hasattr(layer, "regularization_loss")))

    def get_weights(self):
        """Copies of every parameter value, in ``parameters()`` order."""
        return [p.value.copy() for p in self.parameters()]

    def set_weights(self, weights):
        """Copy ``weights`` (as ``get_weights``) into the parameters, in place."""
        params = self.parameters()
        weights = list(weights)
        if len(weights) != len(params):
            raise ValueError("weights must have %d arrays (one per parameter), got %d"
                             % (len(params), len(weights)))
        for i, (p, w) in enumerate(zip(params, weights)):
            w = np.asarray(w)
            if w.shape != p.value.shape:
                raise ValueError("weights[%d] (%s) must have shape %s, got %s"
                                 % (i, p.name, p.value.shape, w.shape))
        for p, w in zip(params, weights):
            p.value[...] = w

    def astype(self, dtype):
        """Cast every layer (and the optimizer's state arrays) to float32 / float64 in place."""
        for layer in self.layers:
            if hasattr(layer, "astype"):
                layer.astype(dtype)
        if self.optimizer is not None:
            for state in self.optimizer.state.values():
                for k, v in state.items():
                    if isinstance(v, np.ndarray):
                        state[k] = np.ascontiguousarray(v.astype(dtype))
        return self

    @property
    def dtype(self):
        params = self.parameters()
        return params[0].value.dtype if params else None

    # -- shapes and summary ----------------------------------------------------------------
    def _known_input_shape(self):
        if self.input_shape is not None:
            return self.input_shape
        first = self.layers[0] if self.layers else None
        if isinstance(first, _layers.Dense):
            return (first.in_features,)
        return None

    def output_shapes(self, input_shape=None):
        """Per-layer output shapes (without batch) for ``input_shape`` (default the model's)."""
        shape = self._known_input_shape() if input_shape is None else tuple(input_shape)
        if shape is None:
            return [None] * len(self.layers)
        out = []
        for layer in self.layers:
            if not hasattr(layer, "output_shape"):
                out.extend([None] * (len(self.layers) - len(out)))
                break
            shape = tuple(layer.output_shape(shape))
            out.append(shape)
        return out

    def summary(self, print_fn=print):
        """A table of layer name, type, output shape and parameter count, with the total.

        Returns the table as a string; also passes it to ``print_fn`` unless that is None.
        Output shapes need the input shape (``Sequential(..., input_shape=...)`` or one forward
        pass); they show as ``?`` until it is known."""
        shapes = self.output_shapes()
        rows = []
        for layer, shape in zip(self.layers, shapes):
            n = sum(p.value.size for p in layer.parameters())
            rows.append((str(getattr(layer, "name", "")), type(layer).__name__,
                         "?" if shape is None else _shape_str((None,) + shape), "{:,}".format(n)))
        head = ("Layer", "Type", "Output shape", "Params")
        widths = [max([len(head[i])] + [len(r[i]) for r in rows]) for i in range(4)]

        def fmt(r):
            return "  ".join([r[0].ljust(widths[0]), r[1].ljust(widths[1]),
                              r[2].ljust(widths[2]), r[3].rjust(widths[3])])
        total = self.count_params()
        rule = "-" * len(fmt(head))
        lines = ['Model: "%s"' % self.name, "Input shape: %s" % (
            _shape_str((None,) + self._known_input_shape())
            if self._known_input_shape() is not None else "? (not yet known)"),
            rule, fmt(head), rule] + [fmt(r) for r in rows] + [
            rule, "Total params: {:,}".format(total),
            "Parameter memory: %.2f MB" % (sum(p.value.nbytes for p in self.parameters()) / 1e6)]
        text = "\n".join(lines)
        if print_fn is not None:
            print_fn(text)
        return text

    # -- configuration ---------------------------------------------------------------------
    def get_config(self):
        """JSON-serialisable architecture: name, input shape and each layer's serialisation."""
        return {"name": self.name,
                "input_shape": None if self.input_shape is None else list(self.input_shape),
                "layers": [_layers.serialize(layer) for layer in self.layers]}

    @classmethod
    def from_config(cls, config):
        """A new model (freshly initialised weights) from ``get_config()``."""
        if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
            raise ValueError("config must be a dict with a 'layers' list, got %r" % (config,))
        layers = [_layers.deserialize(d) for d in config["layers"]]
        shape = config.get("input_shape")
        return cls(layers, input_shape=None if shape is None else tuple(shape),
                   name=config.get("name", "sequential"))

    def __repr__(self):
        return "Sequential(%d layers, %s params)" % (len(self.layers), "{:,}".format(
            self.count_params()))

    # -- training --------------------------------------------------------------------------
    def _resolve_optimizer(self, optimizer, initial_epoch):
        params = self.parameters()
        if not params:
            raise ValueError("the model has no trainable parameters; nothing to fit")
        if optimizer is None:
            if self.optimizer is not None:
                return self.optimizer
            optimizer = "adam"
        if isinstance(optimizer, str):
            if self.optimizer is not None and initial_epoch > 0 and self.optimizer.state:
                warnings.warn("fit(optimizer=%r, initial_epoch=%d) builds a NEW optimizer, "
                              "dropping the state of model.optimizer; pass optimizer=None to "
                              "continue with it" % (optimizer, initial_epoch), stacklevel=3)
            try:
                return _optim.get(optimizer, params)
            except (ValueError, TypeError) as e:
                raise type(e)("optimizer: %s" % e) from None
        if not isinstance(optimizer, _optim.Optimizer):
            raise TypeError("optimizer must be None, a name (%s) or a fastnn.optim.Optimizer, "
                            "got %s" % (", ".join(sorted(_optim._NAMES)),
                                        type(optimizer).__name__))
        own = {id(p) for p in params}
        theirs = [p for g in optimizer.param_groups for p in g["params"]]
        if any(id(p) not in own for p in theirs):
            raise ValueError("optimizer holds parameters that are not this model's; build it "
                             "from model.parameters()")
        if len(theirs) != len(params):
            warnings.warn("the optimizer updates %d of the model's %d parameters"
                          % (len(theirs), len(params)), stacklevel=3)
        return optimizer

    def _check_targets(self, y, n, name, loss_fn, out_shape, x_name):
        if not isinstance(y, np.ndarray):
            raise TypeError("%s must be a numpy.ndarray, got %s" % (name, type(y).__name__))
        if y.shape[:1] != (n,):
            raise ValueError("%s must have one entry per sample of %s (%d), got shape %s"
                             % (name, x_name, n, y.shape))
        if isinstance(loss_fn, _CLASSIFICATION_LOSSES):
            k = out_shape[-1] if out_shape else None
            if np.issubdtype(y.dtype, np.integer):
                if y.ndim != 1:
                    raise ValueError("%s as integer class ids must be 1-D (N,), got shape %s"
                                     % (name, y.shape))
                lo, hi = int(y.min()), int(y.max())
                if lo < 0 or (k is not None and hi >= k):
                    raise ValueError("%s must be class ids in [0, %s) (the model's output width), "
                                     "got %d" % (name, k, lo if lo < 0 else hi))
                return np.ascontiguousarray(y, dtype=np.int64)
            if y.dtype.kind != "f":
                raise TypeError("%s must be integer class ids (N,) or float one-hot targets "
                                "(N, K), got dtype %s" % (name, y.dtype))
            if out_shape is not None and y.shape[1:] != tuple(out_shape):
                raise ValueError("%s as float targets must have shape (N,) + %s (the model's "
                                 "output), got %s" % (name, tuple(out_shape), y.shape))
        elif y.dtype.kind not in "fiu":
            raise TypeError("%s must hold numbers, got dtype %s" % (name, y.dtype))
        if y.dtype.kind == "f" and not np.isfinite(y).all():
            raise ValueError("%s must be finite, but it holds NaN or inf values" % name)
        return y

    def _check_xy(self, x, y, name_x, name_y, loss_fn):
        x = _check_x(x, name_x)
        try:
            shapes = self.output_shapes(x.shape[1:])
        except (ValueError, TypeError) as e:
            raise ValueError("%s has per-sample shape %s, which the model cannot take: %s"
                             % (name_x, x.shape[1:], e)) from None
        out_shape = shapes[-1] if shapes else None
        y = self._check_targets(y, x.shape[0], name_y, loss_fn, out_shape, name_x)
        dtype = self.dtype
        if dtype is not None and x.dtype != dtype:
            x = x.astype(dtype)   # once here, rather than in the first layer of every batch
        return x, y

    @staticmethod
    def _is_classification(loss_fn):
        return isinstance(loss_fn, _CLASSIFICATION_LOSSES)

    @staticmethod
    def _n_correct(out, y):
        pred = np.argmax(out, axis=1)
        true = y if y.ndim == 1 else np.argmax(y, axis=1)
        return int(np.count_nonzero(pred == true))

    def _blas_threads(self):
        # The compiled kernels use their own OpenMP threads: BLAS (only hit by stray NumPy
        # matmuls there) gets one so the two pools never oversubscribe the cores.  On the
        # "reference" backend the NumPy twins ARE the compute, so BLAS gets fastnn's thread count.
        return 1 if _backend.get_backend() == "compiled" else get_num_threads()

    def fit(self, x, y, epochs=1, batch_size=32, optimizer=None,
            loss="sparse_categorical_crossentropy", validation_data=None, callbacks=None,
            shuffle=True, seed=None, verbose=1, initial_epoch=0, validation_batch_size=1000):
        """Train with mini-batch gradient descent; returns a :class:`History` of this call.

        x: float array (N, ...) already scaled (``fastnn.data.preprocess_images``); y: integer
        class ids (N,) (or one-hot (N, K) floats, or regression targets for 'mse'/'mae').
        Epoch indices run from ``initial_epoch`` to ``epochs - 1`` (as Keras: ``epochs`` is the
        index to stop at, so ``fit(epochs=4, initial_epoch=2)`` after ``load_model`` trains
        the 3rd and 4th epochs).

        optimizer: None (``model.optimizer`` when the model has one, e.g. after
        ``load_model``, else 'adam'), a name for ``fastnn.optim.get`` (a NEW optimizer with
        that optimizer's defaults), or an Optimizer built on ``model.parameters()``.  The
        optimizer used stays in ``model.optimizer``.
        loss: a ``fastnn.losses.get`` name or a Loss; 'sparse_categorical_crossentropy' and
        'categorical_crossentropy' mean softmax cross-entropy on the logits.
        seed: the shuffle seed; epoch e uses ``default_rng([seed, e])``.  None draws a fresh
        seed, except when resuming (``initial_epoch > 0``) a model that has one.
        callbacks: ``fastnn.callbacks.Callback`` objects or plain ``f(epoch, logs)`` callables
        (called at each epoch end).  A ProgressBar is added when verbose >= 1 and none given.
        verbose: 0 silent, 1 progress bar (one line per epoch when stderr is not a terminal),
        2 one line per epoch.

        A NaN/inf batch loss raises :class:`TrainingDivergedError` naming epoch and batch.
        Training runs inside ``threadpoolctl.threadpool_limits(1, "blas")`` on the compiled
        backend (the kernels use ``fastnn.get_num_threads()`` OpenMP threads).
        """
        loss_fn = _losses.get(loss) if loss is not None else _losses.SoftmaxCrossEntropy()
        epochs = _check_int(epochs, "epochs", min=1)
        initial_epoch = _check_int(initial_epoch, "initial_epoch", min=0)
        if initial_epoch >= epochs:
            raise ValueError("epochs must be > initial_epoch (epochs is the index to stop at, as "
                             "Keras), got epochs=%d, initial_epoch=%d" % (epochs, initial_epoch))
        batch_size = _check_int(batch_size, "batch_size", min=1)
        validation_batch_size = _check_int(validation_batch_size, "validation_batch_size", min=1)
        shuffle = _check_flag(shuffle, "shuffle")
        if isinstance(verbose, bool) or verbose not in (0, 1, 2):
            raise ValueError("verbose must be 0, 1 or 2, got %r" % (verbose,))
        if isinstance(seed, np.random.Generator):
            seed = int(seed.integers(0, 2 ** 63))
        elif seed is None:
            seed = self.seed if (initial_epoch > 0 and self.seed is not None) else _seed_entropy()
        else:
            seed = _check_int(seed, "seed", min=0)
        x, y = self._check_xy(x, y, "x", "y", loss_fn)
        val = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise TypeError("validation_data must be a pair (x_val, y_val) or None, got %s"
                                % type(validation_data).__name__)
            xv, yv = self._check_xy(validation_data[0], validation_data[1],
                                    "validation_data[0]", "validation_data[1]", loss_fn)
            if xv.shape[1:] != x.shape[1:]:
                raise ValueError("validation_data[0] must have x's per-sample shape %s, got %s"
                                 % (x.shape[1:], xv.shape[1:]))
            val = (xv, yv)
        cb_list = _callbacks.CallbackList(callbacks, verbose=verbose)
        optimizer = self._resolve_optimizer(optimizer, initial_epoch)

        classify = self._is_classification(loss_fn)
        metrics = ["loss"] + (["accuracy"] if classify else [])
        if val is not None:
            metrics += ["val_" + m for m in metrics]
        n = x.shape[0]
        steps = -(-n // batch_size)

        self.optimizer = optimizer
        self.loss = loss if isinstance(loss, (str, _losses.Loss)) else loss_fn
        self.seed = seed
        self.stop_training = False
        hist = History()
        hist.params = {"epochs": epochs, "initial_epoch": initial_epoch, "steps": steps,
                       "samples": n, "batch_size": batch_size, "seed": seed}
        if initial_epoch > 0 and self.history is not None:
            # the model's record keeps the epochs before initial_epoch (e.g. from a checkpoint)
            record = self.history._truncated(initial_epoch)
            record.params = dict(hist.params)
        else:
            record = hist
        self.history = record
        cb_list.set_model(self)
        cb_list.set_params(dict(hist.params, verbose=verbose, metrics=metrics))

        from threadpoolctl import threadpool_limits
        with threadpool_limits(self._blas_threads(), "blas"):
            try:
                cb_list.on_train_begin({})
                for epoch in range(initial_epoch, epochs):
                    logs, batch_losses = self._run_epoch(
                        x, y, epoch, epochs, batch_size, shuffle, seed, loss_fn, optimizer,
                        cb_list, classify, val, validation_batch_size)
                    hist._append(epoch, logs, batch_losses)
                    if record is not hist:
                        record._append(epoch, logs, batch_losses)
                    self.epochs_completed = epoch + 1
                    cb_list.on_epoch_end(epoch, dict(logs))
                    if self.stop_training:
                        break
                cb_list.on_train_end({k: v[-1] for k, v in hist.history.items()})
            except BaseException:
                cb_list.abort()
                raise
        return hist

    def _run_epoch(self, x, y, epoch, epochs, batch_size, shuffle, seed, loss_fn, optimizer,
                   cb_list, classify, val, validation_batch_size):
        t0 = time.perf_counter()
        cb_list.on_epoch_begin(epoch, {})
        order_rng = np.random.default_rng([seed, epoch]) if shuffle else None
        it = _batches(x, y, batch_size=batch_size, shuffle=shuffle, seed=order_rng)
        steps = len(it)
        batch_losses = []
        weighted_sum = 0.0
        correct = 0
        for b, (xb, yb) in enumerate(it):
            cb_list.on_batch_begin(b, {"size": xb.shape[0]})
            out = self.forward(xb, training=True)
            batch_loss = loss_fn.forward(out, yb) + self.regularization_loss()
            if not math.isfinite(batch_loss):
                lr = optimizer.param_groups[0].get("lr")
                raise TrainingDivergedError(
                    "training diverged at epoch %d/%d, batch %d/%d: the loss is %r. Try a lower "
                    "learning rate (it is %r for %s), another kernel_initializer (e.g. "
                    "'he_normal' for ReLU layers, 'glorot_uniform' otherwise), and check that "
                    "the inputs are scaled (fastnn.data.preprocess_images maps pixels to [0, 1])."
                    % (epoch + 1, epochs, b + 1, steps, batch_loss, lr,
                       type(optimizer).__name__), epoch=epoch, batch=b, loss=batch_loss)
            if classify:
                correct += self._n_correct(out, yb)
            # Layers overwrite (not accumulate) their parameters' grads in backward, so no
            # zero_grad is needed between steps.
            self.backward(loss_fn.backward(), need_dx=False)
            optimizer.step()
            batch_losses.append(batch_loss)
            weighted_sum += batch_loss * xb.shape[0]
            cb_list.on_batch_end(b, {"loss": batch_loss, "size": xb.shape[0]})
        n = x.shape[0]
        logs = {"loss": weighted_sum / n}
        if classify:
            logs["accuracy"] = correct / n
        if val is not None:
            vl = self._evaluate_arrays(val[0], val[1], loss_fn, validation_batch_size, classify)
            logs.update({"val_" + k: v for k, v in vl.items()})
        logs["lr"] = float(optimizer.param_groups[0]["lr"])
        logs["time"] = time.perf_counter() - t0
        return logs, batch_losses

    def _evaluate_arrays(self, x, y, loss_fn, batch_size, classify):
        total = 0.0
        correct = 0
        for xb, yb in _batches(x, y, batch_size=batch_size, shuffle=False):
            out = self.forward(xb, training=False)
            total += loss_fn.forward(out, yb) * xb.shape[0]
            if classify:
                correct += self._n_correct(out, yb)
        n = x.shape[0]
        res = {"loss": total / n + self.regularization_loss()}
        if classify:
            res["accuracy"] = correct / n
        return res

    def evaluate(self, x, y, batch_size=1000, loss=None):
        """``{'loss': float, 'accuracy': float}`` on (x, y) in inference mode (dropout off).

        loss: default the loss of the last ``fit`` (softmax cross-entropy if none).  The loss
        includes the regularization penalties, as in ``fit``; accuracy is reported for
        classification losses only."""
        if loss is None:
            loss = self.loss if self.loss is not None else "sparse_categorical_crossentropy"
        loss_fn = _losses.get(loss)
        batch_size = _check_int(batch_size, "batch_size", min=1)
        x, y = self._check_xy(x, y, "x", "y", loss_fn)
        from threadpoolctl import threadpool_limits
        with threadpool_limits(self._blas_threads(), "blas"):
            return self._evaluate_arrays(x, y, loss_fn, batch_size,
                                         self._is_classification(loss_fn))

    def _outputs_are_logits(self):
        if self.layers and isinstance(self.layers[-1], _layers.Softmax):
            return False
        loss = self.loss
        if loss is None or loss in ("sparse_categorical_crossentropy", "categorical_crossentropy",
                                    "softmax_cross_entropy"):
            return True
        return isinstance(loss, _losses.SoftmaxCrossEntropy)

    def predict(self, x, batch_size=1000):
        """Class probabilities (N, K): the softmax of the logits, in inference mode.

        When the model ends in a Softmax layer, or was trained with a loss on raw outputs
        ('mse', 'mae', 'cross_entropy'), the last layer's output is returned unchanged."""
        x = _check_x(x, "x")
        batch_size = _check_int(batch_size, "batch_size", min=1)
        dtype = self.dtype
        if dtype is not None and x.dtype != dtype:
            x = x.astype(dtype)
        softmax = self._outputs_are_logits()
        outs = []
        from threadpoolctl import threadpool_limits
        with threadpool_limits(self._blas_threads(), "blas"):
            for xb in _batches(x, None, batch_size=batch_size, shuffle=False):
                out = self.forward(xb, training=False)
                if softmax:
                    out = _backend.K().softmax_forward(np.ascontiguousarray(out))
                outs.append(np.array(out, copy=True))
        return np.concatenate(outs, axis=0)

    # -- checkpoints -----------------------------------------------------------------------
    def _rng_layers(self):
        return [(i, layer._rng) for i, layer in enumerate(self.layers)
                if isinstance(getattr(layer, "_rng", None), np.random.Generator)]

    def _checkpoint(self):
        """(header dict, {member name: array}) describing the whole training state."""
        params = self.parameters()
        arrays = {}
        weights = []
        for i, p in enumerate(params):
            arrays["param_%03d" % i] = p.value
            weights.append({"name": p.name, "shape": list(p.value.shape),
                            "dtype": p.value.dtype.name})
        opt = None
        if self.optimizer is not None:
            index = {id(p): i for i, p in enumerate(params)}
            groups = []
            for g in self.optimizer.param_groups:
                if any(id(p) not in index for p in g["params"]):
                    raise ValueError("model.optimizer holds parameters that are not this "
                                     "model's; cannot save it")
                groups.append([index[id(p)] for p in g["params"]])
            sd = self.optimizer.state_dict()
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
            opt = {"class_name": type(self.optimizer).__name__,
                   "param_groups": [{k: v for k, v in g.items() if k != "params"}
                                    for g in sd["param_groups"]],
                   "group_params": groups, "state": state_json}
        header = {
            "format": FORMAT_NAME, "format_version": FORMAT_VERSION, "fastnn_version": __version__,
            "model": self.get_config(), "weights": weights, "optimizer": opt,
            "training": {"epochs_completed": int(self.epochs_completed), "seed": self.seed,
                         "loss": None if self.loss is None else _loss_to_json(self.loss),
                         "layer_rngs": {str(i): _rng_state(g) for i, g in self._rng_layers()}},
            "history": None if self.history is None else self.history.to_dict(),
        }
        return header, arrays

    def save(self, path):
        """Write architecture, weights, optimizer state and training state to one file.

        Atomic: the file is written under a temporary name in the same directory, fsynced and
        renamed over ``path``; an existing checkpoint survives any failure mid-save.  Load with
        :func:`load_model`.  The ``.npz`` suffix is conventional, not added."""
        path = os.fspath(path)
        header, arrays = self._checkpoint()
        blob = json.dumps(header).encode("utf-8")
        members = {"header": np.frombuffer(blob, dtype=np.uint8)}
        members.update(arrays)
        # a missing directory is an error (a mistyped path), as for np.save
        return _atomic.atomic_write(
            path, lambda fh: np.savez(fh, allow_pickle=False, **members), make_dirs=False)


# --------------------------------------------------------------------------- loading
def _read_checkpoint(path):
    with np.load(path, allow_pickle=False) as npz:
        names = set(npz.files)
        if "header" not in names:
            raise ValueError("no 'header' member (not a fastnn model file)")
        header = json.loads(npz["header"].tobytes().decode("utf-8"))
        if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
            raise ValueError("header format is %r, expected %r"
                             % (header.get("format") if isinstance(header, dict) else header,
                                FORMAT_NAME))
        if header.get("format_version") != FORMAT_VERSION:
            raise ValueError("format version %r is not supported (this fastnn reads version %d)"
                             % (header.get("format_version"), FORMAT_VERSION))
        # Read every member: the zip CRC of each is checked as it is read.
        arrays = {name: npz[name] for name in names if name != "header"}
    return header, arrays


def load_model(path):
    """A :class:`Sequential` restored from ``save``: architecture, weights, optimizer (with its
    state), epochs completed, shuffle seed, loss, layer RNG states and history.

    Continue training exactly where it stopped with
    ``model.fit(x, y, epochs=N, initial_epoch=model.epochs_completed, ...)`` (optimizer=None
    keeps the restored optimizer, seed=None the restored seed).  A missing file raises
    FileNotFoundError; a corrupt, truncated or inconsistent one ValueError naming the file."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError("model file %r does not exist" % path)
    try:
        header, arrays = _read_checkpoint(path)
        model = _restore(header, arrays)
    except (ValueError, KeyError, TypeError, IndexError, EOFError, OSError, zipfile.BadZipFile,
            UnicodeDecodeError, AttributeError) as e:
        raise ValueError("cannot load model from %r: the file is corrupt, truncated or not a "
                         "fastnn model (%s: %s)" % (path, type(e).__name__, e)) from e
    return model


def _restore(header, arrays):
    model = Sequential.from_config(header["model"])
    params = model.parameters()
    specs = header["weights"]
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
    opt = header.get("optimizer")
    if opt is not None:
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
        model.optimizer = optimizer
    training = header.get("training") or {}
    model.epochs_completed = int(training.get("epochs_completed", 0))
    model.seed = training.get("seed")
    model.loss = _loss_from_json(training.get("loss"))
    for i, state in (training.get("layer_rngs") or {}).items():
        layer = model.layers[int(i)]
        if not hasattr(layer, "_rng"):
            raise ValueError("layer %s has no random generator to restore" % i)
        layer._rng = _restore_rng(state)
    if header.get("history") is not None:
        model.history = History.from_dict(header["history"])
    return model
