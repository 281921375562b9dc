"""Training: the loop behind ``Sequential.fit``, ``evaluate`` and ``predict``, and its input
checks.

    model = zoo.mlp()
    hist = model.fit(x, y, epochs=5, batch_size=128, optimizer="adam", seed=0,
                     validation_data=(x_val, y_val))      # = training.fit(model, x, y, ...)
    model.evaluate(x_test, y_test)                        # {'loss': ..., 'accuracy': ...}
    model.predict(x_test[:5])                             # class probabilities (5, 10)

One training step, for a mini-batch (xb, yb):

    logits = model.forward(xb, training=True)          # layer by layer, each keeps its inputs
    loss   = loss_fn.forward(logits, yb) + model.regularization_loss()
    dlogits = loss_fn.backward()                        # (p - onehot(y)) / N for softmax CE
    model.backward(dlogits, need_dx=False)              # layer by layer in reverse, fills .grad
    optimizer.checked_step()                            # one compiled call per group, undone
                                                        # if it would leave an inf or NaN

Reproducibility.  Epoch ``e`` shuffles with ``numpy.random.default_rng([seed, e])``: the order
of any epoch depends only on (seed, e), so a run resumed from a checkpoint at epoch ``e`` sees
exactly the batches an uninterrupted run would.  Dropout layers draw their masks from their own
Generator, which checkpoints save (``fastnn.saving``).  Together with the optimizer state that
makes ``fit 2 epochs; save; load_model; fit(initial_epoch=2)`` bit-identical to 4 epochs in one
go.

Everything here works on any model with ``forward``, ``backward``, ``parameters``,
``regularization_loss``, ``output_shapes``, ``dtype`` and ``layers`` (``fastnn.Sequential``);
``fit`` keeps its state on the model: ``optimizer``, ``loss``, ``seed``, ``epochs_completed``,
``history``, ``stop_training``.
"""
import math
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from . import _validate as _v
from . import backend as _backend
from . import callbacks as _callbacks
from . import layers as _layers
from . import losses as _losses
from . import optim as _optim
from ._config import get_num_threads
from .data import batches
from .errors import TrainingDivergedError
from .history import History
from .layers.reuse import BufferReuse

__all__ = ["fit", "evaluate", "predict", "check_x", "check_xy", "is_classification"]

_CLASSIFICATION_LOSSES = (_losses.SoftmaxCrossEntropy, _losses.CrossEntropy)
_LOGIT_LOSS_NAMES = ("sparse_categorical_crossentropy", "categorical_crossentropy",
                     "softmax_cross_entropy")


# --------------------------------------------------------------------------- input checks
def check_x(x, name):
    """A float array (N, features...) with N >= 1 and only finite values; returned as is."""
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
    if not _v.all_finite(x):
        raise ValueError("%s must be finite, but it holds NaN or inf values" % name)
    return x


def is_classification(loss_fn):
    """Whether ``loss_fn`` takes class targets (and ``fit`` reports accuracy)."""
    return isinstance(loss_fn, _CLASSIFICATION_LOSSES)


def _num_classes(out_shape, y):
    if out_shape:
        return out_shape[-1]
    # The model cannot tell its output width (a layer without output_shape): bound the ids by
    # themselves here; the loss checks them against the logits at every batch.
    if np.issubdtype(y.dtype, np.integer):
        return max(int(y.max()) + 1, 1)
    return y.shape[-1] if y.ndim >= 2 else 1


def _check_targets(y, n, name, loss_fn, out_shape, x_name, dtype):
    if not isinstance(y, np.ndarray):
        raise TypeError("%s must be a numpy.ndarray, got %s" % (name, type(y).__name__))
    if y.shape[:1] != (n,):
        raise ValueError("%s must have one entry per sample of %s (%d), got shape %s"
                         % (name, x_name, n, y.shape))
    if is_classification(loss_fn):
        # class ids -> a private int64 copy; float one-hot/soft targets -> a copy in the
        # model's dtype (the cast the loss would make on every batch, made once)
        return _v.check_class_targets(y, name, n, _num_classes(out_shape, y), dtype).values
    if y.dtype.kind not in "fiu":
        raise TypeError("%s must hold numbers, got dtype %s" % (name, y.dtype))
    if y.dtype.kind == "f" and not _v.all_finite(y):
        raise ValueError("%s must be finite, but it holds NaN or inf values" % name)
    if out_shape and hasattr(loss_fn, "check_targets"):
        loss_fn.check_targets(y, out_shape, name)      # y's shape against the model's output
    return y


def check_xy(model, x, y, name_x, name_y, loss_fn):
    """(x, y) checked against ``model`` and ``loss_fn``; x cast to the model's dtype."""
    x = check_x(x, name_x)
    try:
        shapes = model.output_shapes(x.shape[1:])
    except (ValueError, TypeError) as e:
        raise ValueError("%s has per-sample shape %s, which the model cannot take: %s"
                         % (name_x, x.shape[1:], e)) from None
    out_shape = shapes[-1] if shapes else None
    dtype = model.dtype
    y = _check_targets(y, x.shape[0], name_y, loss_fn, out_shape, name_x,
                       x.dtype if dtype is None else dtype)
    if dtype is not None and x.dtype != dtype:
        x = x.astype(dtype)   # once here, rather than in the first layer of every batch
    return x, y


def _check_seed(seed, model, initial_epoch):
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(0, 2 ** 63))
    if seed is None:
        if initial_epoch > 0 and model.seed is not None:
            return model.seed
        return int(np.random.SeedSequence().entropy)
    return _v.check_int(seed, "seed", min=0)


def _check_validation(model, validation_data, x, loss_fn):
    if validation_data is None:
        return None
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
        raise TypeError("validation_data must be a pair (x_val, y_val) or None, got %s"
                        % type(validation_data).__name__)
    xv, yv = check_xy(model, validation_data[0], validation_data[1], "validation_data[0]",
                      "validation_data[1]", loss_fn)
    if xv.shape[1:] != x.shape[1:]:
        raise ValueError("validation_data[0] must have x's per-sample shape %s, got %s"
                         % (x.shape[1:], xv.shape[1:]))
    return xv, yv


def _is_optimizer_like(obj):
    """Duck typing: anything with callable ``step()`` and ``zero_grad()`` can train a model."""
    return callable(getattr(obj, "step", None)) and callable(getattr(obj, "zero_grad", None))


def _resolve_optimizer(model, optimizer, initial_epoch):
    params = model.parameters()
    if not params:
        raise ValueError("the model has no trainable parameters; nothing to fit")
    if optimizer is None:
        if model.optimizer is not None:
            return model.optimizer
        optimizer = "adam"
    if isinstance(optimizer, str):
        if model.optimizer is not None and initial_epoch > 0 and \
                getattr(model.optimizer, "state", None):
            # stacklevel 4: the caller of Sequential.fit
            warnings.warn("fit(optimizer=%r, initial_epoch=%d) builds a NEW optimizer, "
                          "dropping the state of model.optimizer; pass optimizer=None to "
                          "continue with it" % (optimizer, initial_epoch), stacklevel=4)
        try:
            return _optim.get(optimizer, params)
        except (ValueError, TypeError) as e:
            raise type(e)("optimizer: %s" % e) from None
    if not isinstance(optimizer, _optim.Optimizer):
        if _is_optimizer_like(optimizer):
            return optimizer        # a student's own optimizer: fit only calls step()
        raise TypeError("optimizer must be None, a name (%s), a fastnn.optim.Optimizer or an "
                        "object with step() and zero_grad() methods, got %s"
                        % (", ".join(_optim.names()), type(optimizer).__name__))
    own = {id(p) for p in params}
    theirs = [p for g in optimizer.param_groups for p in g["params"]]
    if any(id(p) not in own for p in theirs):
        raise ValueError("optimizer holds parameters that are not this model's; build it "
                         "from model.parameters()")
    if len(theirs) != len(params):
        warnings.warn("the optimizer updates %d of the model's %d parameters"
                      % (len(theirs), len(params)), stacklevel=4)
    return optimizer


def _check_scheduler(scheduler, optimizer):
    if scheduler is None:
        return None
    if not callable(getattr(scheduler, "step", None)):
        raise TypeError("scheduler must be None or a learning-rate scheduler with a step() "
                        "method (e.g. fastnn.optim.StepLR(optimizer, step_size=5)), got %s"
                        % type(scheduler).__name__)
    own = getattr(scheduler, "optimizer", optimizer)
    if own is not optimizer:
        raise ValueError("scheduler was built on another optimizer than the one fit uses (%s); "
                         "build the optimizer first, pass it as optimizer= and build the "
                         "scheduler on it" % type(optimizer).__name__)
    return scheduler


def _current_lr(optimizer):
    """The learning rate of the first parameter group, or an ``lr`` attribute; None if neither
    (a custom optimizer need not have one)."""
    groups = getattr(optimizer, "param_groups", None)
    try:
        lr = groups[0]["lr"] if groups else getattr(optimizer, "lr", None)
        return None if lr is None else float(lr)
    except (TypeError, KeyError, IndexError, ValueError):
        return None


#: whether fit's training step lets the layers reuse their arrays (fastnn/layers/reuse.py);
#: False only in tests, which check that both give the same bits
_REUSE_BUFFERS = True


def _blas_threads():
    # The compiled kernels use their own OpenMP threads: BLAS (only hit by stray NumPy
    # matmuls there) gets one so the two pools never oversubscribe the cores.  On the
    # "reference" backend the NumPy twins ARE the compute, so BLAS gets fastnn's thread count.
    return 1 if _backend.get_backend() == "compiled" else get_num_threads()


def _n_correct(out, y):
    pred = np.argmax(out, axis=1)
    true = y if y.ndim == 1 else np.argmax(y, axis=1)
    return int(np.count_nonzero(pred == true))


# --------------------------------------------------------------------------- fit
def fit(model, x, y, epochs=1, batch_size=32, optimizer=None,
        loss="sparse_categorical_crossentropy", validation_data=None, callbacks=None,
        shuffle=True, seed=None, verbose=1, initial_epoch=0, validation_batch_size=1000,
        scheduler=None):
    """Train ``model`` with mini-batch gradient descent; returns a :class:`History` of this call.

    x: float array (N, ...) already scaled (``fastnn.data.preprocess_images``); y: integer
    class ids (N,) (or one-hot (N, K) floats, or regression targets for 'mse'/'mae').
    Epoch indices run from ``initial_epoch`` to ``epochs - 1`` (as Keras: ``epochs`` is the
    index to stop at, so ``fit(epochs=4, initial_epoch=2)`` after ``load_model`` trains
    the 3rd and 4th epochs).

    optimizer: None (``model.optimizer`` when the model has one, e.g. after
    ``load_model``, else 'adam'), a name for ``fastnn.optim.get`` (a NEW optimizer with
    that optimizer's defaults), an Optimizer built on ``model.parameters()``, or any object
    with ``step()`` and ``zero_grad()`` methods (your own optimizer: ``fit`` calls its
    ``step()`` after every backward pass; layers overwrite the gradients, so ``fit`` does not
    need ``zero_grad()``).  The optimizer used stays in ``model.optimizer``.
    scheduler: None or a learning-rate scheduler built on that optimizer
    (``fastnn.optim.StepLR``, ``ExponentialLR``, ``CosineAnnealingLR``, or anything with
    ``step()``): ``scheduler.step()`` is called once at the end of every epoch, before the
    epoch-end callbacks, as in torch's loop; ``history['lr']`` is the rate each epoch ran with.
    loss: a ``fastnn.losses.get`` name or a Loss; 'sparse_categorical_crossentropy' and
    'categorical_crossentropy' mean softmax cross-entropy on the logits.
    seed: the shuffle seed; epoch e uses ``default_rng([seed, e])``.  None draws a fresh
    seed, except when resuming (``initial_epoch > 0``) a model that has one.
    callbacks: ``fastnn.callbacks.Callback`` objects or plain ``f(epoch, logs)`` callables
    (called at each epoch end).  A ProgressBar is added when verbose >= 1 and none given.
    verbose: 0 silent, 1 progress bar (one line per epoch when stderr is not a terminal),
    2 one line per epoch.

    Divergence: a NaN/inf batch loss, or an update that would make a weight or the optimizer's
    state NaN/inf (a non-finite gradient included: ``Optimizer.checked_step``), raises
    :class:`fastnn.errors.TrainingDivergedError` naming epoch, batch and what became
    non-finite; such an update is undone first, so the model (and any checkpoint written by
    a callback) keeps the last finite weights and optimizer state.

    Training runs inside ``threadpoolctl.threadpool_limits(1, "blas")`` on the compiled
    backend (the kernels use ``fastnn.get_num_threads()`` OpenMP threads).

        hist = training.fit(model, x, y, epochs=2, verbose=0)     # = model.fit(x, y, ...)
        hist["loss"]                                              # one value per epoch
    """
    loss_fn = _losses.get(loss) if loss is not None else _losses.SoftmaxCrossEntropy()
    epochs = _v.check_int(epochs, "epochs", min=1)
    initial_epoch = _v.check_int(initial_epoch, "initial_epoch", min=0)
    if initial_epoch >= epochs:
        raise ValueError("epochs must be > initial_epoch (epochs is the index to stop at, as "
                         "Keras), got epochs=%d, initial_epoch=%d" % (epochs, initial_epoch))
    batch_size = _v.check_int(batch_size, "batch_size", min=1)
    validation_batch_size = _v.check_int(validation_batch_size, "validation_batch_size", min=1)
    shuffle = _v.check_bool(shuffle, "shuffle")
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise ValueError("verbose must be 0, 1 or 2, got %r" % (verbose,))
    seed = _check_seed(seed, model, initial_epoch)
    x, y = check_xy(model, x, y, "x", "y", loss_fn)
    val = _check_validation(model, validation_data, x, loss_fn)
    cb_list = _callbacks.CallbackList(callbacks, verbose=verbose)
    optimizer = _resolve_optimizer(model, optimizer, initial_epoch)
    scheduler = _check_scheduler(scheduler, optimizer)

    classify = is_classification(loss_fn)
    metrics = ["loss"] + (["accuracy"] if classify else [])
    if val is not None:
        metrics += ["val_" + m for m in metrics]
    n = x.shape[0]
    steps = -(-n // batch_size)

    model.optimizer = optimizer
    model.loss = loss if isinstance(loss, (str, _losses.Loss)) else loss_fn
    model.seed = seed
    model.stop_training = False
    hist = History()
    hist.params = {"epochs": epochs, "initial_epoch": initial_epoch, "steps": steps,
                   "samples": n, "batch_size": batch_size, "seed": seed}
    if initial_epoch > 0 and model.history is not None:
        # the model's record keeps the epochs before initial_epoch (e.g. from a checkpoint)
        record = model.history.truncated(initial_epoch)
        record.params = dict(hist.params)
    else:
        record = hist
    model.history = record
    cb_list.set_model(model)
    cb_list.set_params(dict(hist.params, verbose=verbose, metrics=metrics, x=x))

    with threadpool_limits(_blas_threads(), "blas"):
        try:
            cb_list.on_train_begin({})
            for epoch in range(initial_epoch, epochs):
                logs, batch_losses = _run_epoch(
                    model, x, y, epoch, epochs, batch_size, shuffle, seed, loss_fn, optimizer,
                    cb_list, classify, val, validation_batch_size)
                hist.append_epoch(epoch, logs, batch_losses)
                if record is not hist:
                    record.append_epoch(epoch, logs, batch_losses)
                model.epochs_completed = epoch + 1
                if scheduler is not None:
                    scheduler.step()
                cb_list.on_epoch_end(epoch, dict(logs))
                if model.stop_training:
                    break
            cb_list.on_train_end({k: v[-1] for k, v in hist.history.items()})
        except BaseException:
            cb_list.abort()
            raise
    return hist


def _run_epoch(model, x, y, epoch, epochs, batch_size, shuffle, seed, loss_fn, optimizer,
               cb_list, classify, val, validation_batch_size):
    t0 = time.perf_counter()
    cb_list.on_epoch_begin(epoch, {})
    order_rng = np.random.default_rng([seed, epoch]) if shuffle else None
    it = batches(x, y, batch_size=batch_size, shuffle=shuffle, seed=order_rng)
    steps = len(it)
    batch_losses = []
    weighted_sum = 0.0
    correct = 0
    # the layers reuse their arrays inside each step only, never across a callback
    # (fastnn/layers/reuse.py: the rule)
    reuse = BufferReuse(model.layers, enabled=_REUSE_BUFFERS)
    for b, (xb, yb) in enumerate(it):
        cb_list.on_batch_begin(b, {"size": xb.shape[0]})
        with reuse:
            out = model.forward(xb, training=True)
            batch_loss = loss_fn.forward(out, yb) + model.regularization_loss()
            if not math.isfinite(batch_loss):
                raise _diverged(optimizer, epoch, epochs, b, steps, batch_loss,
                                "the loss is %r" % (batch_loss,))
            if classify:
                correct += _n_correct(out, yb)
            # Layers overwrite (not accumulate) their parameters' grads in backward, so no
            # zero_grad is needed between steps.
            model.backward(loss_fn.backward(), need_dx=False)
            # checked: a step that would leave an inf or NaN in a weight or in the optimizer's
            # state is undone, so the model keeps its last finite weights (and a
            # ModelCheckpoint never sees diverged ones); an optimizer object without
            # checked_step just steps
            checked_step = getattr(optimizer, "checked_step", None)
            problem = checked_step() if checked_step is not None else optimizer.step()
            if checked_step is not None and problem is not None:
                raise _diverged(optimizer, epoch, epochs, b, steps, batch_loss,
                                "%s is not finite (inf or NaN)" % problem, what=problem)
        batch_losses.append(batch_loss)
        weighted_sum += batch_loss * xb.shape[0]
        cb_list.on_batch_end(b, {"loss": batch_loss, "size": xb.shape[0]})
    n = x.shape[0]
    logs = {"loss": weighted_sum / n}
    if classify:
        logs["accuracy"] = correct / n
    if val is not None:
        vl = _evaluate_arrays(model, val[0], val[1], loss_fn, validation_batch_size, classify)
        logs.update({"val_" + k: v for k, v in vl.items()})
    logs["lr"] = _current_lr(optimizer)
    logs["time"] = time.perf_counter() - t0
    return logs, batch_losses


def _diverged(optimizer, epoch, epochs, b, steps, loss, problem, what=None):
    lr = _current_lr(optimizer)
    return TrainingDivergedError(
        "training diverged at epoch %d/%d, batch %d/%d: %s; the model keeps its last finite "
        "weights and optimizer state (from before this batch's update). Try a lower learning "
        "rate (it is %r for %s), another kernel_initializer (e.g. 'he_normal' for ReLU layers, "
        "'glorot_uniform' otherwise), and check that the inputs are scaled "
        "(fastnn.data.preprocess_images maps pixels to [0, 1])."
        % (epoch + 1, epochs, b + 1, steps, problem, lr, type(optimizer).__name__),
        epoch=epoch, batch=b, loss=loss, what=what)


# --------------------------------------------------------------------------- evaluate, predict
def _evaluate_arrays(model, x, y, loss_fn, batch_size, classify):
    total = 0.0
    correct = 0
    for xb, yb in batches(x, y, batch_size=batch_size, shuffle=False):
        out = model.forward(xb, training=False)
        total += loss_fn.forward(out, yb) * xb.shape[0]
        if classify:
            correct += _n_correct(out, yb)
    n = x.shape[0]
    res = {"loss": total / n + model.regularization_loss()}
    if classify:
        res["accuracy"] = correct / n
    return res


def evaluate(model, x, y, batch_size=1000, loss=None):
    """``{'loss': float, 'accuracy': float}`` on (x, y) in inference mode (dropout off).

    loss: default the loss of the last ``fit`` (softmax cross-entropy if none).  The loss
    includes the regularization penalties, as in ``fit``; accuracy is reported for
    classification losses only.

        training.evaluate(model, x_test, y_test)     # = model.evaluate(x_test, y_test)
    """
    if loss is None:
        loss = model.loss if model.loss is not None else "sparse_categorical_crossentropy"
    loss_fn = _losses.get(loss)
    batch_size = _v.check_int(batch_size, "batch_size", min=1)
    x, y = check_xy(model, x, y, "x", "y", loss_fn)
    with threadpool_limits(_blas_threads(), "blas"):
        return _evaluate_arrays(model, x, y, loss_fn, batch_size, is_classification(loss_fn))


def _outputs_are_logits(model):
    if model.layers and isinstance(model.layers[-1], _layers.Softmax):
        return False
    loss = model.loss
    if loss is None or loss in _LOGIT_LOSS_NAMES:
        return True
    return isinstance(loss, _losses.SoftmaxCrossEntropy)


def predict(model, x, batch_size=1000):
    """Class probabilities (N, K): the softmax of the logits, in inference mode.

    When the model ends in a Softmax layer, or was trained with a loss on raw outputs
    ('mse', 'mae', 'cross_entropy'), the last layer's output is returned unchanged.

        training.predict(model, x_test).argmax(axis=1)    # = model.predict(x_test)...
    """
    x = check_x(x, "x")
    batch_size = _v.check_int(batch_size, "batch_size", min=1)
    dtype = model.dtype
    if dtype is not None and x.dtype != dtype:
        x = x.astype(dtype)
    softmax = _outputs_are_logits(model)
    outs = []
    with threadpool_limits(_blas_threads(), "blas"):
        for xb in batches(x, None, batch_size=batch_size, shuffle=False):
            out = model.forward(xb, training=False)
            if softmax:
                out = _backend.K().softmax_forward(np.ascontiguousarray(out))
            outs.append(np.array(out, copy=True))
    return np.concatenate(outs, axis=0)
