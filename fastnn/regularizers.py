"""Weight regularizers, as Keras: a penalty added to the loss and its gradient.

    L1(l1):        penalty = l1 * sum|w|                    gradient = l1 * sign(w)
    L2(l2):        penalty = l2 * sum w^2                   gradient = 2 * l2 * w
    L1L2(l1, l2):  penalty = l1 * sum|w| + l2 * sum w^2     gradient = l1 * sign(w) + 2 * l2 * w

Note Keras' L2 has no 1/2 factor, so ``L2(l)`` equals torch's ``weight_decay = 2 * l`` for SGD.
sign(0) = 0 (the subgradient numpy and Keras' autodiff pick).

A layer with ``kernel_regularizer=...`` adds ``gradient(kernel)`` to the kernel's grad in
``backward`` and reports ``penalty`` in ``regularization_loss()``; the model adds those
penalties to the data loss it reports.  Penalties are summed in float64 and returned as a float.
"""
import math
import numbers

import numpy as np

__all__ = ["Regularizer", "L1", "L2", "L1L2", "get", "serialize", "deserialize"]


def _factor(v, name):
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError("%s must be a real number, got %r (%s)" % (name, v, type(v).__name__))
    v = float(v)
    if not math.isfinite(v) or v < 0:
        raise ValueError("%s must be a finite number >= 0, got %r" % (name, v))
    return v


def _weights(w):
    if not isinstance(w, np.ndarray) or w.dtype.kind != "f":
        raise TypeError("w must be a floating-point numpy.ndarray, got %s"
                        % (type(w).__name__ if not isinstance(w, np.ndarray) else w.dtype))
    return w


class Regularizer:
    """Base class: ``reg(w) -> float`` penalty, ``reg.gradient(w) -> array`` (w's shape/dtype)."""

    def __call__(self, w):
        raise NotImplementedError

    def gradient(self, w):
        raise NotImplementedError

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return "%s(%s)" % (type(self).__name__,
                           ", ".join("%s=%r" % kv for kv in self.get_config().items()))


class L1L2(Regularizer):
    """``l1 * sum|w| + l2 * sum w^2`` (Keras defaults l1 = l2 = 0)."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _factor(l1, "l1")
        self.l2 = _factor(l2, "l2")

    def __call__(self, w):
        w = _weights(w)
        penalty = 0.0
        if self.l1:
            penalty += self.l1 * float(np.abs(w).sum(dtype=np.float64))
        if self.l2:
            penalty += self.l2 * float(np.square(w, dtype=np.float64).sum())
        return penalty

    def gradient(self, w):
        w = _weights(w)
        g = np.zeros_like(w)
        if self.l1:
            g += w.dtype.type(self.l1) * np.sign(w)
        if self.l2:
            g += w.dtype.type(2.0 * self.l2) * w
        return g

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    """``l1 * sum|w|`` (Keras default l1 = 0.01).  ``L1(l=...)`` is accepted as Keras 2 did."""

    def __init__(self, l1=0.01, l=None):
        super().__init__(l1=l1 if l is None else l, l2=0.0)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    """``l2 * sum w^2`` (Keras default l2 = 0.01).  ``L2(l=...)`` is accepted as Keras 2 did."""

    def __init__(self, l2=0.01, l=None):
        super().__init__(l1=0.0, l2=l2 if l is None else l)

    def get_config(self):
        return {"l2": self.l2}


_CLASSES = {"L1": L1, "L2": L2, "L1L2": L1L2}
# Keras string names; 'l1_l2' uses 0.01 for both, as Keras 2's l1_l2() shortcut did.
_NAMES = {"l1": lambda: L1(), "l2": lambda: L2(), "l1_l2": lambda: L1L2(0.01, 0.01),
          "l1l2": lambda: L1L2(0.01, 0.01)}


def get(identifier):
    """Resolve a regularizer.

    None -> None; 'l1' / 'l2' / 'l1_l2' (or a class name 'L1', 'L2', 'L1L2') -> a default
    instance; a ``{"class_name", "config"}`` dict -> an instance; a ``Regularizer`` class -> its
    default instance; a ``Regularizer`` (or any object with ``__call__`` and ``gradient``)
    passes through."""
    if identifier is None:
        return None
    if isinstance(identifier, str):
        if identifier in _NAMES:
            return _NAMES[identifier]()
        if identifier in _CLASSES:
            return _CLASSES[identifier]()
        raise ValueError("unknown regularizer %r; valid names: %s"
                         % (identifier, ", ".join(sorted(_NAMES) + sorted(_CLASSES))))
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Regularizer):
        # a class (L2) means its default instance, as keras.regularizers.get
        return identifier()
    if callable(identifier) and hasattr(identifier, "gradient"):
        return identifier
    raise TypeError("regularizer must be None, a name (%s), a config dict or a Regularizer, "
                    "got %r (%s)" % (", ".join(sorted(_NAMES)), identifier,
                                     type(identifier).__name__))


def serialize(regularizer):
    """None -> None; a built-in regularizer -> ``{"class_name", "config"}``."""
    if regularizer is None:
        return None
    name = type(regularizer).__name__
    if _CLASSES.get(name) is not type(regularizer):
        raise ValueError("cannot serialise the custom regularizer %r" % (regularizer,))
    return {"class_name": name, "config": regularizer.get_config()}


def deserialize(config):
    if config is None:
        return None
    if isinstance(config, str):
        return get(config)
    if not isinstance(config, dict) or config.get("class_name") not in _CLASSES:
        raise ValueError("regularizer config must be a dict with class_name in %s, got %r"
                         % (sorted(_CLASSES), config))
    return _CLASSES[config["class_name"]].from_config(dict(config.get("config") or {}))
