"""Layers to and from JSON-able dicts: serialize, deserialize, get (by class name)."""

from .activation import ELU, ReLU, Sigmoid, Softmax, Tanh
from .base import Layer
from .conv import Conv2D
from .dense import Dense
from .dropout import Dropout
from .pooling import MaxPool2D
from .reshape import Flatten


LAYER_CLASSES = {c.__name__: c for c in (Dense, Conv2D, MaxPool2D, Flatten, Dropout, ReLU,
                                          Sigmoid, Tanh, ELU, Softmax)}


def serialize(layer):
    """``{"class_name": <class name>, "config": layer.get_config()}`` (JSON-serialisable)."""
    if not isinstance(layer, Layer):
        raise TypeError("layer must be a fastnn.layers.Layer, got %s" % type(layer).__name__)
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def deserialize(config):
    """A new layer from ``serialize``'s output (fresh parameters; load weights separately)."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError("layer config must be a dict with 'class_name' and 'config', got %r"
                         % (config,))
    cls = LAYER_CLASSES.get(config["class_name"])
    if cls is None:
        raise ValueError("unknown layer class %r; known: %s"
                         % (config["class_name"], ", ".join(sorted(LAYER_CLASSES))))
    return cls.from_config(dict(config.get("config") or {}))


def get(class_name):
    """The layer class for a name such as 'Dense'."""
    if class_name not in LAYER_CLASSES:
        raise ValueError("unknown layer class %r; known: %s"
                         % (class_name, ", ".join(sorted(LAYER_CLASSES))))
    return LAYER_CLASSES[class_name]
