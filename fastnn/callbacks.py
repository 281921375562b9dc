"""Callbacks: code that ``Sequential.fit`` runs at fixed points of the training loop.

    model.fit(x, y, epochs=50, validation_data=(xv, yv), callbacks=[
        EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True),
        ModelCheckpoint("ckpt/epoch{epoch:02d}.npz"),
        CSVLogger("log.csv"),
        lambda epoch, logs: print(epoch, logs["val_accuracy"])])

Hooks (override any; each gets a ``logs`` dict):

    on_train_begin(logs)
    on_epoch_begin(epoch, logs)
    on_batch_begin(batch, logs)        logs: size (samples in the batch)
    on_batch_end(batch, logs)          logs: loss (this batch's training loss), size
    on_epoch_end(epoch, logs)          logs: loss, accuracy, val_loss, val_accuracy (as present),
                                       lr, time (seconds for the epoch)
    on_train_end(logs)                 logs: the last epoch's values

``epoch`` and ``batch`` are 0-based indices.  ``self.model`` is the model being trained (set it
``model.stop_training = True`` to stop after the current epoch) and ``self.params`` a dict with
epochs, initial_epoch, steps (batches per epoch), samples, batch_size, seed, verbose, metrics
(the keys the epoch logs will carry) and x (fit's training inputs, not a copy: for callbacks that
look at activations on a fixed batch; read it, never write it).  A plain callable
``f(epoch, logs)`` in the callbacks list is called at each epoch end.
"""
# Size: over ~500 lines, kept whole: Keras' set of callbacks, each a small class with its
# docstring example; LayerStatistics keeps its record in fastnn/layer_record.py.
import csv
import os
import sys
import warnings

import numpy as np
from tqdm import tqdm

from . import _validate as _v
from .history import COLUMN_ORDER
from .layer_record import LayerRecord

__all__ = ["Callback", "CallbackList", "ProgressBar", "EarlyStopping", "ModelCheckpoint",
           "CSVLogger", "LambdaCallback", "LayerStatistics"]


class Callback:
    """Base class: every hook does nothing."""

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_batch_begin(self, batch, logs=None):
        pass

    def on_batch_end(self, batch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def _abort(self):
        """Called when training stops with an exception: release files, close bars."""


class _FunctionCallback(Callback):
    """Wraps a plain ``f(epoch, logs)``: called at each epoch end."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def on_epoch_end(self, epoch, logs=None):
        self.fn(epoch, logs)

    def __repr__(self):
        return "_FunctionCallback(%r)" % (self.fn,)


class CallbackList:
    """The callbacks of one ``fit`` call, called in order.  ``callbacks``: None or a list of
    Callback objects and plain callables; with ``verbose`` >= 1 and no ProgressBar among them,
    a ProgressBar is put first."""

    def __init__(self, callbacks=None, verbose=0):
        if callbacks is None:
            callbacks = []
        if isinstance(callbacks, Callback) or callable(callbacks) or not isinstance(
                callbacks, (list, tuple)):
            raise TypeError("callbacks must be a list of Callback objects or callables, or None, "
                            "got %s" % type(callbacks).__name__)
        items = []
        for i, cb in enumerate(callbacks):
            if isinstance(cb, Callback):
                items.append(cb)
            elif callable(cb):
                items.append(_FunctionCallback(cb))
            else:
                raise TypeError("callbacks[%d] must be a fastnn.callbacks.Callback or a callable "
                                "f(epoch, logs), got %s" % (i, type(cb).__name__))
        if verbose and not any(isinstance(cb, ProgressBar) for cb in items):
            items.insert(0, ProgressBar())
        self.callbacks = items

    def _dispatch(self, hook, *args):
        for cb in self.callbacks:
            getattr(cb, hook)(*args)

    def set_model(self, model):
        self._dispatch("set_model", model)

    def set_params(self, params):
        self._dispatch("set_params", params)

    def on_train_begin(self, logs):
        self._dispatch("on_train_begin", logs)

    def on_epoch_begin(self, epoch, logs):
        self._dispatch("on_epoch_begin", epoch, logs)

    def on_batch_begin(self, batch, logs):
        self._dispatch("on_batch_begin", batch, logs)

    def on_batch_end(self, batch, logs):
        self._dispatch("on_batch_end", batch, logs)

    def on_epoch_end(self, epoch, logs):
        self._dispatch("on_epoch_end", epoch, logs)

    def on_train_end(self, logs):
        self._dispatch("on_train_end", logs)

    def abort(self):
        for cb in self.callbacks:
            try:
                cb._abort()
            except Exception:  # pragma: no cover - never mask the original error
                pass


def _format_logs(logs, keys=None):
    parts = []
    for k in keys if keys is not None else logs:
        v = logs.get(k)
        if k == "time" or v is None:
            continue
        parts.append("%s: %s" % (k, ("%.4g" % v) if k == "lr" else ("%.4f" % v)))
    return " - ".join(parts)


# --------------------------------------------------------------------------- ProgressBar
class ProgressBar(Callback):
    """Progress display.

    verbose 1 with stderr a terminal: a tqdm bar per epoch on stderr, showing the running mean
    loss, then the epoch's metrics.  verbose 1 with stderr not a terminal (a log file, a pipe,
    pytest), or verbose 2: one line per epoch on stdout (``Epoch 3/5 - 4.1s - loss: ... ``).
    verbose 0: nothing.  ``verbose=None`` takes fit's verbose.  ``file``: where the per-epoch
    lines go (default sys.stdout at the time of printing).
    """

    def __init__(self, verbose=None, file=None):
        super().__init__()
        if verbose is not None and (isinstance(verbose, bool) or verbose not in (0, 1, 2)):
            raise ValueError("verbose must be 0, 1, 2 or None, got %r" % (verbose,))
        self.verbose = verbose
        self.file = file
        self._bar = None
        self._mode = None

    def _level(self):
        return self.params.get("verbose", 1) if self.verbose is None else self.verbose

    def on_train_begin(self, logs=None):
        level = self._level()
        if level == 0:
            self._mode = None
        elif level == 1 and _isatty(sys.stderr):
            self._mode = "bar"
        else:
            self._mode = "line"

    def on_epoch_begin(self, epoch, logs=None):
        self._seen = 0
        self._loss_sum = 0.0
        if self._mode == "bar":
            self._bar = tqdm(total=self.params.get("steps"), unit="batch", leave=True,
                             desc="Epoch %d/%d" % (epoch + 1, self.params.get("epochs", 0)),
                             file=sys.stderr, dynamic_ncols=True, mininterval=0.2)

    def on_batch_end(self, batch, logs=None):
        if self._bar is None:
            return
        size = (logs or {}).get("size", 1)
        self._seen += size
        self._loss_sum += (logs or {}).get("loss", 0.0) * size
        self._bar.update(1)
        if batch % 10 == 0:
            self._bar.set_postfix_str("loss: %.4f" % (self._loss_sum / max(self._seen, 1)),
                                      refresh=False)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self._bar is not None:
            self._bar.set_postfix_str(_format_logs(logs), refresh=False)
            self._bar.close()
            self._bar = None
        elif self._mode == "line":
            out = self.file if self.file is not None else sys.stdout
            t = logs.get("time", 0.0)
            print("Epoch %d/%d - %s - %s" % (epoch + 1, self.params.get("epochs", 0),
                                             "%.1fs" % t if t >= 10 else "%.2fs" % t,
                                             _format_logs(logs)), file=out, flush=True)

    def _abort(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def on_train_end(self, logs=None):
        self._abort()


def _isatty(stream):
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


# --------------------------------------------------------------------------- monitoring helpers
def _check_monitor(monitor):
    if not isinstance(monitor, str) or not monitor:
        raise TypeError("monitor must be a metric name such as 'val_loss', got %r" % (monitor,))
    return monitor


def _check_mode(mode, monitor):
    if mode not in ("auto", "min", "max"):
        raise ValueError("mode must be 'auto', 'min' or 'max', got %r" % (mode,))
    if mode == "auto":
        # as Keras: accuracy-like metrics are maximised, everything else minimised
        mode = "max" if ("acc" in monitor or monitor.endswith("auc")) else "min"
    return mode


def _require_metric(callback, monitor):
    available = list(callback.params.get("metrics", [])) + ["lr", "time"]
    if callback.params and monitor not in available:
        raise ValueError("%s: monitor=%r is not among the logged metrics %s (val_* metrics need "
                         "validation_data)" % (type(callback).__name__, monitor, available))


class EarlyStopping(Callback):
    """Stop training when ``monitor`` has stopped improving (as keras.callbacks.EarlyStopping).

    An epoch improves when ``current < best - min_delta`` (mode 'min') or ``current > best +
    min_delta`` (mode 'max'); 'auto' picks 'max' for accuracy metrics, else 'min'.  After
    ``patience`` epochs in a row without improvement, ``model.stop_training`` is set.  With
    ``restore_best_weights`` the weights of the best epoch are put back when training ends.
    ``best``, ``best_epoch``, ``stopped_epoch`` (0-based; -1 when it did not stop) are kept.
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, mode="auto",
                 restore_best_weights=False, verbose=0):
        super().__init__()
        self.monitor = _check_monitor(monitor)
        self.min_delta = _v.check_scalar(min_delta, "min_delta", min=0.0)
        self.patience = _v.check_int(patience, "patience", min=0)
        self.mode = _check_mode(mode, self.monitor)
        self.restore_best_weights = _v.check_bool(restore_best_weights, "restore_best_weights")
        self.verbose = verbose
        self._reset()

    def _reset(self):
        self.wait = 0
        self.best = None
        self.best_epoch = -1
        self.best_weights = None
        self.stopped_epoch = -1

    def _improved(self, current):
        if self.best is None:
            return True
        if self.mode == "min":
            return current < self.best - self.min_delta
        return current > self.best + self.min_delta

    def on_train_begin(self, logs=None):
        _require_metric(self, self.monitor)
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None:
            raise ValueError("EarlyStopping: monitor=%r is not in the epoch logs %s"
                             % (self.monitor, sorted(logs or {})))
        if self._improved(current):
            self.best = current
            self.best_epoch = epoch
            self.wait = 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        self.wait += 1
        if self.wait >= self.patience:       # wait >= 1 here, so patience=0 stops at once
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch >= 0 and self.verbose:
            print("Epoch %d: early stopping (best %s = %.4f at epoch %d)"
                  % (self.stopped_epoch + 1, self.monitor, self.best, self.best_epoch + 1))
        if self.restore_best_weights and self.best_weights is not None:
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(Callback):
    """Save the model (``model.save``: weights, optimizer and training state) at epoch ends.

    ``path`` may contain ``str.format`` fields: ``{epoch}`` is the number of epochs completed
    (1 after the first epoch, as Keras), and any epoch log such as ``{val_loss:.4f}``.  With
    ``save_best_only`` a file is written only when ``monitor`` improves (mode as EarlyStopping).
    ``last_path`` is the last file written.  Resume from one with ``load_model(path)`` and
    ``fit(..., initial_epoch=model.epochs_completed)``.  A model whose weights or optimizer
    state hold an inf or NaN is never saved (a RuntimeWarning says so), so a diverged run never
    overwrites a good checkpoint.
    """

    def __init__(self, path, monitor="val_loss", save_best_only=False, mode="auto", verbose=0):
        super().__init__()
        self.path = os.fspath(path)
        self.monitor = _check_monitor(monitor)
        self.save_best_only = _v.check_bool(save_best_only, "save_best_only")
        self.mode = _check_mode(mode, self.monitor)
        self.verbose = verbose
        self.best = None
        self.last_path = None

    def on_train_begin(self, logs=None):
        if self.save_best_only:
            _require_metric(self, self.monitor)

    def _improved(self, current):
        if self.best is None:
            return True
        return current < self.best if self.mode == "min" else current > self.best

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                raise ValueError("ModelCheckpoint: monitor=%r is not in the epoch logs %s"
                                 % (self.monitor, sorted(logs)))
            if not self._improved(current):
                return
            self.best = current
        try:
            path = self.path.format(epoch=epoch + 1, **logs)
        except (KeyError, IndexError, ValueError) as e:
            raise ValueError("ModelCheckpoint: cannot format path %r with epoch and the logs %s: "
                             "%s" % (self.path, sorted(logs), e)) from None
        bad = _nonfinite_weights(self.model)
        if bad is not None:
            # never overwrite a good checkpoint with diverged weights
            warnings.warn("ModelCheckpoint: not saving %s after epoch %d: %s holds inf or NaN "
                          "(an earlier checkpoint, if any, is kept)" % (path, epoch + 1, bad),
                          RuntimeWarning, stacklevel=2)
            return
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        self.model.save(path)
        self.last_path = path
        if self.verbose:
            print("Epoch %d: saved model to %s" % (epoch + 1, path))


def _nonfinite_weights(model):
    """The name of the first weight (or optimizer state array) of ``model`` holding an inf or
    NaN, or None when all are finite."""
    parameters = getattr(model, "parameters", None)
    for i, p in enumerate(parameters() if callable(parameters) else []):
        if not np.isfinite(p.value).all():
            return "weight %s" % (p.name or i)
    optimizer = getattr(model, "optimizer", None)
    for state in (getattr(optimizer, "state", None) or {}).values():
        for key, v in state.items():
            if isinstance(v, np.ndarray) and not np.isfinite(v).all():
                return "the optimizer's state %r" % (key,)
    return None


class CSVLogger(Callback):
    """Append one row per epoch to a CSV file: ``epoch`` (0-based) then the epoch logs (loss,
    accuracy, val_loss, val_accuracy, lr, time).  ``append=True`` continues an existing file
    (its header is kept), e.g. when resuming.  Rows are flushed as they are written."""

    def __init__(self, path, separator=",", append=False):
        super().__init__()
        self.path = os.fspath(path)
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError("separator must be a single character, got %r" % (separator,))
        self.separator = separator
        self.append = _v.check_bool(append, "append")
        self._fh = None
        self._writer = None
        self._keys = None

    def on_train_begin(self, logs=None):
        has_rows = self.append and os.path.exists(self.path) and os.path.getsize(self.path) > 0
        self._fh = open(self.path, "a" if self.append else "w", newline="")
        self._writer = None
        self._keys = None
        self._write_header = not has_rows

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self._writer is None:
            self._keys = [k for k in COLUMN_ORDER if k in logs] + sorted(
                k for k in logs if k not in COLUMN_ORDER)
            self._writer = csv.DictWriter(self._fh, fieldnames=["epoch"] + self._keys,
                                          delimiter=self.separator, extrasaction="ignore")
            if self._write_header:
                self._writer.writeheader()
        row = {"epoch": epoch}
        for k in self._keys:
            v = logs.get(k)
            row[k] = "" if v is None else (repr(float(v)) if isinstance(v, (float, np.floating))
                                           else v)
        self._writer.writerow(row)
        self._fh.flush()

    def on_train_end(self, logs=None):
        self._abort()

    def _abort(self):
        if self._fh is not None:
            self._fh.close()
            self._fh = None


class LambdaCallback(Callback):
    """A callback from functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``.

    Accepts on_train_begin(logs), on_epoch_begin(epoch, logs), on_batch_begin(batch, logs),
    on_batch_end(batch, logs), on_epoch_end(epoch, logs), on_train_end(logs)."""

    _HOOKS = ("on_train_begin", "on_epoch_begin", "on_batch_begin", "on_batch_end",
              "on_epoch_end", "on_train_end")

    def __init__(self, on_train_begin=None, on_epoch_begin=None, on_batch_begin=None,
                 on_batch_end=None, on_epoch_end=None, on_train_end=None):
        super().__init__()
        given = dict(on_train_begin=on_train_begin, on_epoch_begin=on_epoch_begin,
                     on_batch_begin=on_batch_begin, on_batch_end=on_batch_end,
                     on_epoch_end=on_epoch_end, on_train_end=on_train_end)
        for name, fn in given.items():
            if fn is None:
                continue
            if not callable(fn):
                raise TypeError("%s must be callable or None, got %r" % (name, fn))
            setattr(self, name, fn)


# --------------------------------------------------------------------------- LayerStatistics
class LayerStatistics(LayerRecord, Callback):
    """Records, per layer and per epoch, histograms and moments of the weights, the gradients
    and the activations (what TensorBoard's histograms show), for ``fastnn.plotting``'s
    ``plot_layer_histograms``, ``plot_layer_moments`` and ``plot_gradient_norms``.

    What is recorded and how it is stored is :class:`fastnn.layer_record.LayerRecord`'s
    (``weights``, ``gradients``, ``grad_norm_mean``, ``activations``, ``epochs``, ``to_json``);
    this class adds the hooks: the weights and the activations of the fixed sample batch
    (``x_sample``, else the first ``sample_size`` training inputs of ``fit``) before training
    and after every epoch, the gradient's norm after every mini-batch, the gradients as left by
    the epoch's last mini-batch.  Recording runs no training computation: a fit with or without
    it gives the same weights, bit for bit.

        stats = LayerStatistics()
        model.fit(x, y, epochs=5, callbacks=[stats], verbose=0)
        stats.weights["dense_1/kernel"][-1]["std"]       # kernel std after the last epoch
        plotting.plot_layer_histograms(stats, "weights", path="weights.png")
        stats.to_json("layer_stats.json")                # LayerStatistics.from_json reads it
    """

    def __init__(self, x_sample=None, sample_size=256, bins=30):
        LayerRecord.__init__(self, bins=bins)
        Callback.__init__(self)
        if x_sample is not None and (not isinstance(x_sample, np.ndarray)
                                     or x_sample.ndim < 2 or x_sample.shape[0] == 0
                                     or x_sample.dtype.kind != "f"):
            raise TypeError("x_sample must be None or a non-empty float array (N, ...) of "
                            "model inputs, got %s" % (
                                "shape %s dtype %s" % (x_sample.shape, x_sample.dtype)
                                if isinstance(x_sample, np.ndarray)
                                else type(x_sample).__name__))
        self.x_sample = x_sample
        self.sample_size = _v.check_int(sample_size, "sample_size", min=1)
        self._sample = None

    def on_train_begin(self, logs=None):
        x = self.x_sample if self.x_sample is not None else self.params.get("x")
        self._sample = None if x is None else np.array(x[:self.sample_size], copy=True)
        if self._sample is not None and self.model.dtype is not None:
            self._sample = self._sample.astype(self.model.dtype, copy=False)
        self.describe_layers(self.model)
        if not self.epochs:
            self.record_state(self.model, self._sample, int(self.params.get("initial_epoch", 0)))

    def on_epoch_begin(self, epoch, logs=None):
        self.start_epoch(self.model)

    def on_batch_end(self, batch, logs=None):
        self.add_batch(self.model)

    def on_epoch_end(self, epoch, logs=None):
        self.end_epoch(self.model)
        self.record_state(self.model, self._sample, epoch + 1)
