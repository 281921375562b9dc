"""``Sequential``: a stack of layers, the output of each the input of the next.

    model = Sequential([Dense(784, 256, activation="relu"), Dropout(0.2, seed=1),
                        Dense(256, 10)])                   # ends in logits
    model.summary()                                        # layers, output shapes, params
    hist = model.fit(x, y, epochs=5, batch_size=128, optimizer="adam", seed=0,
                     validation_data=(x_val, y_val))
    model.evaluate(x_test, y_test)       # {'loss': ..., 'accuracy': ...}
    model.save("mlp.npz"); model = load_model("mlp.npz")

This module is the container: the layers, the chain rule through them (``forward``,
``backward``), their parameters, shapes, summary and configuration.  The methods ``fit``,
``evaluate`` and ``predict`` delegate to :mod:`fastnn.training` (the loop, its input checks,
divergence detection, callbacks), ``save`` to :mod:`fastnn.saving` (the checkpoint format);
:class:`~fastnn.history.History` lives in :mod:`fastnn.history`.  ``load_model``, ``History``
and ``TrainingDivergedError`` are importable from here as before.
"""
import numbers

import numpy as np

from . import _validate as _v
from . import layers as _layers
from . import training as _training
from .errors import TrainingDivergedError
from .history import History
from .saving import load_model, register_model_class, save_model

__all__ = ["Sequential", "History", "load_model", "TrainingDivergedError", "check_input_shape"]


def _shape_str(shape):
    if shape is None:
        return "?"
    return "(" + ", ".join("None" if s is None else str(s) for s in shape) + ")"


def check_input_shape(shape):
    """A per-sample input shape (without the batch dimension) as a tuple of positive ints; an
    int ``n`` means ``(n,)``.

        check_input_shape(784)            # (784,)
        check_input_shape([1, 28, 28])    # (1, 28, 28)
    """
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)) or not all(
            isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 1
            for s in shape):
        raise TypeError("input_shape must be a tuple of positive ints without the batch "
                        "dimension, e.g. (784,) or (1, 28, 28), got %r" % (shape,))
    return tuple(int(s) for s in shape)


# --------------------------------------------------------------------------- Sequential
@register_model_class("fastnn.Sequential")
class Sequential:
    """A linear stack of layers; the output of each is the input of the next.

    ``layers``: list of ``fastnn.layers.Layer`` (or anything with the same protocol:
    ``forward(x, training)``, ``backward(dy, need_dx=True)``, ``parameters()``, and
    ``output_shape(input_shape)`` for ``summary``).  ``input_shape``: per-sample input shape
    without the batch dimension (e.g. ``(784,)`` or ``(1, 28, 28)``); learnt from the first
    batch when not given, and used only by ``summary``.  Classification models end in logits
    (no softmax): ``fit`` pairs them with SoftmaxCrossEntropy and ``predict`` applies the
    softmax.

    State kept across ``fit`` calls (and saved by ``save``): ``optimizer``, ``loss``,
    ``epochs_completed`` (index of the next epoch), ``seed`` (the shuffle seed of the last fit)
    and ``history`` (the whole training record, across resumed runs).
    """

    def __init__(self, layers=None, input_shape=None, name="sequential"):
        self.layers = []
        self.name = name
        self.input_shape = None if input_shape is None else check_input_shape(input_shape)
        for layer in (layers or []):
            self.add(layer)
        self.optimizer = None
        self.loss = None
        self.epochs_completed = 0
        self.seed = None
        self.history = None
        self.stop_training = False

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
        so the backward pass stops at the first layer with parameters, which is called with
        ``need_dx=False`` and skips its own dx (for Dense a GEMM, for Conv2D a GEMM and a
        col2im); returns None.  Every parameter's ``grad`` is the same either way."""
        if not self.layers:
            raise ValueError("the model has no layers")
        if _v.check_bool(need_dx, "need_dx"):
            for layer in reversed(self.layers):
                dy = layer.backward(dy)
            return dy
        # layers before the first one with parameters need no gradient at all
        first = next((i for i, layer in enumerate(self.layers) if layer.parameters()), None)
        if first is None:
            return None
        for layer in reversed(self.layers[first + 1:]):
            dy = layer.backward(dy)
        self.layers[first].backward(dy, need_dx=False)
        return None

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
            for state in getattr(self.optimizer, "state", {}).values():
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

    # -- training and checkpoints: fastnn.training, fastnn.saving ---------------------------
    def fit(self, x, y, epochs=1, batch_size=32, optimizer=None,
            loss="sparse_categorical_crossentropy", validation_data=None, callbacks=None,
            shuffle=True, seed=None, verbose=1, initial_epoch=0, validation_batch_size=1000,
            scheduler=None):
        """Train with mini-batch gradient descent; returns a :class:`History` of this call.

        The arguments and the loop are :func:`fastnn.training.fit`'s: x float (N, ...), y class
        ids (N,) (or one-hot floats, or regression targets); ``epochs`` is the index to stop at
        (Keras); optimizer None / a name / an Optimizer / any object with ``step()`` and
        ``zero_grad()`` (kept in ``model.optimizer``); scheduler stepped once per epoch; seed the
        shuffle seed (epoch e uses ``default_rng([seed, e])``); callbacks; verbose 0, 1 or 2.
        A NaN/inf loss raises :class:`TrainingDivergedError`.

            hist = model.fit(x, y, epochs=5, batch_size=128, seed=0, verbose=0)
        """
        return _training.fit(self, x, y, epochs=epochs, batch_size=batch_size,
                             optimizer=optimizer, loss=loss, validation_data=validation_data,
                             callbacks=callbacks, shuffle=shuffle, seed=seed, verbose=verbose,
                             initial_epoch=initial_epoch,
                             validation_batch_size=validation_batch_size, scheduler=scheduler)

    def evaluate(self, x, y, batch_size=1000, loss=None):
        """``{'loss': float, 'accuracy': float}`` on (x, y) in inference mode (dropout off);
        see :func:`fastnn.training.evaluate`.

            model.evaluate(x_test, y_test)["accuracy"]
        """
        return _training.evaluate(self, x, y, batch_size=batch_size, loss=loss)

    def predict(self, x, batch_size=1000):
        """Class probabilities (N, K), the softmax of the logits (raw outputs for a model that
        ends in Softmax or was trained on a regression loss); see
        :func:`fastnn.training.predict`.

            model.predict(x_test).argmax(axis=1)
        """
        return _training.predict(self, x, batch_size=batch_size)

    def save(self, path):
        """Write architecture, weights, optimizer state and training state to one file,
        atomically; read it back with :func:`load_model`.  See :func:`fastnn.saving.save_model`.

            model.save("ckpt.npz")
        """
        return save_model(self, path)
