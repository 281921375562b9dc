"""Helpers the layer modules share: argument checks, input coercion, default names and
the activations' backward from their output."""

import collections
import numbers

import numpy as np

from .. import _validate as _v
from ..backend import K

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
name_counts = collections.defaultdict(int)


def unique_name(prefix):
    """Keras-style: the first layer of a kind is 'dense', then 'dense_1', 'dense_2', ..."""
    n = name_counts[prefix]
    name_counts[prefix] += 1
    return prefix if n == 0 else "%s_%d" % (prefix, n)


def check_name(name, prefix):
    if name is None:
        return unique_name(prefix)
    if not isinstance(name, str) or not name:
        raise TypeError("name must be a non-empty string or None, got %r" % (name,))
    return name


def check_float_dtype(dtype, name="dtype"):
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError("%s must be float32 or float64, got %r" % (name, dtype)) from None
    if dt not in FLOATS:
        raise TypeError("%s must be float32 or float64, got %s" % (name, dt))
    return dt


def check_activation(activation):
    if activation == "linear":
        return None
    try:
        return _v.check_activation(activation)
    except ValueError as e:
        raise ValueError("%s (or 'linear'; for a softmax output, keep the logits and use "
                         "SoftmaxCrossEntropy, or add a Softmax() layer)" % e) from None


def check_seed(seed):
    if seed is None or isinstance(seed, np.random.Generator):
        return seed
    try:
        return _v.check_int(seed, "seed", min=0)
    except TypeError:
        raise TypeError("seed must be a non-negative int, a numpy.random.Generator or None, "
                        "got %r (%s)" % (seed, type(seed).__name__)) from None


def json_seed(seed):
    # A Generator has no JSON form: the config records None (a reloaded layer gets its
    # weights from the checkpoint, so only the initial draw would differ).
    return seed if isinstance(seed, int) else None


def as_input(x, name="x", dtype=None):
    """x as an ndarray of ``dtype`` (or of its own float dtype, ints -> float32 when None)."""
    if not isinstance(x, np.ndarray):
        if isinstance(x, (list, tuple)) or np.isscalar(x):
            x = np.asarray(x)
        else:
            raise TypeError("%s must be a numpy.ndarray, got %s" % (name, type(x).__name__))
    if x.dtype.kind not in "fiu":
        raise TypeError("%s must hold real numbers (float or int), got dtype %s" % (name, x.dtype))
    if dtype is None:
        dtype = x.dtype if x.dtype in FLOATS else np.dtype(np.float32)
    if x.dtype != dtype:
        x = x.astype(dtype)
    return x


def as_batch_input(x):
    """``as_input(x)`` that also requires a non-empty leading (batch) dimension."""
    x = as_input(x, "x")
    if x.ndim < 1 or x.shape[0] == 0:
        raise ValueError("x must have a non-empty batch dimension, got shape %s" % (x.shape,))
    return x

def shape_str(shape):
    parts = ["N" if s is None else str(s) for s in shape]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def check_input_shape(x, expected, name="x"):
    """expected: tuple with None for 'any' (including the batch).  Batch must be >= 1."""
    ok = x.ndim == len(expected) and all(e is None or e == s for e, s in zip(expected, x.shape))
    if not ok:
        raise ValueError("%s must have shape %s, got %s" % (name, shape_str(expected), x.shape))
    if x.shape[0] == 0:
        raise ValueError("%s must have a non-empty batch, got shape %s" % (name, x.shape))


def check_input_shape_arg(input_shape):
    if isinstance(input_shape, numbers.Integral) and not isinstance(input_shape, bool):
        input_shape = (input_shape,)
    if not isinstance(input_shape, (tuple, list)):
        raise TypeError("input_shape must be a tuple of ints (without the batch dimension), "
                        "got %r" % (input_shape,))
    return tuple(input_shape)


def activation_backward(dy, y, activation, alpha=1.0, out=None):
    """dL/dz from dL/dy and the activation's OUTPUT y = act(z) (z itself is not kept):

        relu:    dz = dy * [y > 0]              (y > 0 exactly where z > 0)
        sigmoid: dz = dy * y * (1 - y)
        tanh:    dz = dy * (1 - y^2)
        elu:     dz = dy                 where y > 0
                 dz = dy * (y + alpha)   elsewhere (d/dz alpha*(e^z - 1) = alpha*e^z = y + alpha)

    ``out``: where dz goes (the kernels' ``out=``; None: a fresh array); unused without an
    activation, where dz is dy itself.
    """
    if activation is None:
        return dy
    k = K()
    if activation == "relu":
        # relu_backward masks on its second argument > 0; y > 0 iff z > 0, so y can stand in
        return k.relu_backward(dy, y, out=out)
    if activation == "sigmoid":
        return k.sigmoid_backward(dy, y, out=out)
    if activation == "tanh":
        return k.tanh_backward(dy, y, out=out)
    # elu: from y (elu_backward would want z)
    return k.elu_backward_from_output(dy, y, alpha, out=out)
