"""Activation layers: ReLU, Sigmoid, Tanh, ELU (elementwise) and Softmax."""

import numpy as np

from .. import _validate as _v
from ..backend import K
from ._common import as_batch_input, as_input
from .base import Layer


class ElementwiseActivation(Layer):
    """Elementwise activation on any shape.  A subclass's forward keeps x or y (whichever its
    derivative is written in) and ``_backward(dy, kept)`` applies that derivative."""

    def __init__(self, name=None):
        super().__init__(name)

    def _checked(self, x):
        if not self._input_seen(x):
            given = x
            x = as_batch_input(x)
            self._remember_input(given, x)
        return x

    def _out(self, name, like):
        """Where the kernel writes (``out=``): a kept array during fit, else None (fresh)."""
        return self._buffer(name, like.shape, like.dtype)

    def backward(self, dy, need_dx=True):
        kept = self._kept()
        dy = self._dy_if_needed(dy, need_dx, kept.shape, kept.dtype)
        if dy is None:
            return None
        return self._backward(dy, kept)


# ReLU, Sigmoid, Tanh, ELU share a shape (forward keeps x or y, _backward calls one kernel); the
# differences are exactly what each keeps and which kernel it calls.
class ReLU(ElementwiseActivation):
    """y = max(x, 0).  Keeps x; dx = dy * [x > 0] (the gradient at exactly 0 is 0, as torch)."""

    _prefix = "re_lu"

    def forward(self, x, training=False):
        x = self._checked(x)
        self._cache = x
        return K().relu_forward(x, out=self._out("y", x))

    def _backward(self, dy, x):
        return K().relu_backward(dy, x, out=self._out("dx", x))


class Sigmoid(ElementwiseActivation):
    """y = 1 / (1 + e^-x).  Keeps y; dx = dy * y * (1 - y)."""

    _prefix = "sigmoid"

    def forward(self, x, training=False):
        x = self._checked(x)
        y = K().sigmoid_forward(x, out=self._out("y", x))
        self._cache = y
        return y

    def _backward(self, dy, y):
        return K().sigmoid_backward(dy, y, out=self._out("dx", y))


class Tanh(ElementwiseActivation):
    """y = tanh(x).  Keeps y; dx = dy * (1 - y^2)."""

    _prefix = "tanh"

    def forward(self, x, training=False):
        x = self._checked(x)
        y = K().tanh_forward(x, out=self._out("y", x))
        self._cache = y
        return y

    def _backward(self, dy, y):
        return K().tanh_backward(dy, y, out=self._out("dx", y))


class ELU(ElementwiseActivation):
    """y = x for x > 0, alpha * (e^x - 1) otherwise.  Keeps x; dx = dy where x > 0, else
    dy * alpha * e^x."""

    _prefix = "elu"

    def __init__(self, alpha=1.0, name=None):
        self.alpha = _v.check_scalar(alpha, "alpha")
        super().__init__(name)

    def forward(self, x, training=False):
        x = self._checked(x)
        self._cache = x
        return K().elu_forward(x, self.alpha, out=self._out("y", x))

    def _backward(self, dy, x):
        return K().elu_backward(dy, x, self.alpha, out=self._out("dx", x))

    def get_config(self):
        return {"name": self.name, "alpha": self.alpha}


class Softmax(Layer):
    """Softmax over the last axis: y[n, i] = e^x[n, i] / sum_j e^x[n, j] (max-shifted).

    x: (N, K) or (N, ..., K) (flattened to rows of K and back).  Keeps y; backward is
    dx = y * (dy - sum_i(dy * y)) row by row (``softmax_backward``).  For classification
    training prefer logits + ``SoftmaxCrossEntropy``, which is more stable.
    """

    _prefix = "softmax"

    def __init__(self, name=None):
        super().__init__(name)

    def forward(self, x, training=False):
        x = as_input(x, "x")
        if x.ndim < 2 or x.shape[0] == 0 or x.shape[-1] == 0:
            raise ValueError("x must have shape (N, ..., K) with N, K >= 1, got %s" % (x.shape,))
        y = K().softmax_forward(np.ascontiguousarray(x).reshape(-1, x.shape[-1]))
        y = y.reshape(x.shape)
        self._cache = y
        return y

    def backward(self, dy, need_dx=True):
        y = self._kept()
        dy = self._dy_if_needed(dy, need_dx, y.shape, y.dtype)
        if dy is None:
            return None
        k = y.shape[-1]
        dx = K().softmax_backward(np.ascontiguousarray(dy).reshape(-1, k), y.reshape(-1, k))
        return dx.reshape(y.shape)
