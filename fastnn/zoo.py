"""Ready-made models for the MNIST labs.  Both end in logits (no softmax): train them with the
default loss of ``fit`` (softmax cross-entropy) and read probabilities from ``predict``.

    model = zoo.mlp()      # Dense(784,256,relu) -> Dropout(0.2) -> Dense(256,128,relu)
                           #   -> Dropout(0.2) -> Dense(128,10)
    model = zoo.cnn()      # Conv2D(1,32,3,pad 1,relu) -> MaxPool2D(2) -> Conv2D(32,64,3,pad 1,relu)
                           #   -> MaxPool2D(2) -> Flatten -> Dense(3136,128,relu) -> Dropout(0.5)
                           #   -> Dense(128,10)

Seeds.  Every layer with randomness (weights or dropout masks) gets its own 64-bit seed from
``numpy.random.SeedSequence(seed).spawn``, one child per *slot* of the architecture (hidden
layer i, dropout i, output layer), so the same ``seed`` gives bit-identical initial weights
whatever optimizer is used later, and changing the dropout rate does not change the weights.
The seeds are stored in the layers' configs, so a saved model records them.
"""
import numbers

import numpy as np

from . import _validate as _v
from . import layers as L
from .models import Sequential, check_input_shape

__all__ = ["mlp", "cnn"]

_ACTIVATIONS = ("relu", "sigmoid", "tanh", "elu")


def _seeds(seed, n):
    if seed is not None:
        seed = _v.check_int(seed, "seed", min=0)
    children = np.random.SeedSequence(seed).spawn(n)
    return [int(c.generate_state(1, np.uint64)[0]) for c in children]


def _check_common(activation, dropout, num_classes):
    if activation not in _ACTIVATIONS:
        raise ValueError("activation must be one of %s, got %r" % (_ACTIVATIONS, activation))
    _v.check_scalar(dropout, "dropout", min=0.0, max=1.0, max_inclusive=False)
    _v.check_int(num_classes, "num_classes", min=2)


def _check_widths(widths, name):
    """A tuple of positive layer widths (an int n means (n,))."""
    if isinstance(widths, numbers.Integral) and not isinstance(widths, bool):
        widths = (widths,)
    if not isinstance(widths, (tuple, list)):
        raise ValueError("%s must be a tuple of positive layer widths, got %r" % (name, widths))
    return tuple(_v.check_int(w, "%s[%d]" % (name, i), min=1) for i, w in enumerate(widths))


def mlp(hidden=(256, 128), activation="relu", dropout=0.2, kernel_initializer="glorot_uniform",
        input_dim=784, num_classes=10, seed=0, dtype=np.float32, kernel_regularizer=None):
    """Multi-layer perceptron: for each width h in ``hidden``, Dense(prev, h, activation) (the
    fused ``matmul_bias`` kernel) followed by Dropout(dropout) when dropout > 0; then
    Dense(prev, num_classes) giving logits.  Input (N, input_dim), output (N, num_classes).

    The defaults are the lab MLP (784-256-128-10, ReLU, dropout 0.2, Glorot uniform)."""
    hidden = _check_widths(hidden, "hidden")
    _check_common(activation, dropout, num_classes)
    input_dim = _v.check_int(input_dim, "input_dim", min=1)
    seeds = _seeds(seed, 2 * len(hidden) + 1)
    layers = []
    prev = int(input_dim)
    for i, h in enumerate(hidden):
        layers.append(L.Dense(prev, int(h), activation=activation,
                              kernel_initializer=kernel_initializer,
                              kernel_regularizer=kernel_regularizer, seed=seeds[2 * i],
                              dtype=dtype))
        if dropout > 0:
            layers.append(L.Dropout(float(dropout), seed=seeds[2 * i + 1]))
        prev = int(h)
    layers.append(L.Dense(prev, int(num_classes), kernel_initializer=kernel_initializer,
                          kernel_regularizer=kernel_regularizer, seed=seeds[-1], dtype=dtype))
    return Sequential(layers, input_shape=(int(input_dim),), name="mlp")


def cnn(channels=(32, 64), dense=128, dropout=0.5, activation="relu",
        kernel_initializer="glorot_uniform", input_shape=(1, 28, 28), num_classes=10, seed=0,
        dtype=np.float32, kernel_regularizer=None):
    """Small convolutional network: for each c in ``channels``, Conv2D(prev, c, 3, padding=1,
    activation) -> MaxPool2D(2); then Flatten -> Dense(flat, dense, activation) ->
    Dropout(dropout) (when > 0) -> Dense(dense, num_classes) giving logits.
    Input (N, C, H, W) NCHW, output (N, num_classes).

    The defaults are the lab CNN: 1x28x28 -> 32x14x14 -> 64x7x7 -> 3136 -> 128 -> 10."""
    if not isinstance(channels, (tuple, list)) or not channels:
        raise ValueError("channels must be a non-empty tuple of positive ints, got %r"
                         % (channels,))
    channels = _check_widths(channels, "channels")
    dense = _v.check_int(dense, "dense", min=1)
    _check_common(activation, dropout, num_classes)
    input_shape = check_input_shape(input_shape)
    if len(input_shape) != 3:
        raise ValueError("input_shape must be (C, H, W), got %r" % (input_shape,))
    seeds = _seeds(seed, len(channels) + 3)
    layers = []
    prev = input_shape[0]
    for i, c in enumerate(channels):
        layers.append(L.Conv2D(prev, int(c), 3, padding=1, activation=activation,
                               kernel_initializer=kernel_initializer,
                               kernel_regularizer=kernel_regularizer, seed=seeds[i], dtype=dtype))
        layers.append(L.MaxPool2D(2))
        prev = int(c)
    layers.append(L.Flatten())
    shape = input_shape
    for layer in layers:
        shape = layer.output_shape(shape)       # raises when the image is too small to pool
    flat = int(shape[0])
    k = len(channels)
    layers.append(L.Dense(flat, int(dense), activation=activation,
                          kernel_initializer=kernel_initializer,
                          kernel_regularizer=kernel_regularizer, seed=seeds[k], dtype=dtype))
    if dropout > 0:
        layers.append(L.Dropout(float(dropout), seed=seeds[k + 1]))
    layers.append(L.Dense(int(dense), int(num_classes), kernel_initializer=kernel_initializer,
                          kernel_regularizer=kernel_regularizer, seed=seeds[k + 2], dtype=dtype))
    return Sequential(layers, input_shape=input_shape, name="cnn")
