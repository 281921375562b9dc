"""Flatten."""

import numpy as np

from ._common import as_batch_input, check_input_shape_arg
from .base import Layer


class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1*d2*...), row-major (so NCHW flattens channel-major, as torch).
    Keeps x's shape; backward reshapes dy back to it.  A (N,) input becomes (N, 1)."""

    _prefix = "flatten"

    def __init__(self, name=None):
        super().__init__(name)

    def forward(self, x, training=False):
        x = as_batch_input(x)
        y = x.reshape(x.shape[0], -1)
        self._cache = (x.shape, y.shape, x.dtype)
        return y

    def backward(self, dy, need_dx=True):
        x_shape, y_shape, dtype = self._kept()
        dy = self._dy_if_needed(dy, need_dx, y_shape, dtype)
        if dy is None:
            return None
        return dy.reshape(x_shape)

    def output_shape(self, input_shape):
        return (int(np.prod(check_input_shape_arg(input_shape))),)
