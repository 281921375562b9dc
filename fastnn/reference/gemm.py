"""NumPy twins of ``fastnn.kernels._gemm``: the readable version of GEMM.

The compiled kernel computes the same thing as the loops below, only blocked for the caches,
packed, vectorized and threaded (docs/kernels/gemm.md walks from one to the other):

    for i in range(M):                 # rows of op(a)
        for j in range(N):             # columns of op(b)
            acc = 0
            for k in range(K):         # one dot product, always in ascending k
                acc += op(a)[i, k] * op(b)[k, j]
            out[i, j] = act(acc + bias[j])

Validation is identical to the compiled version (same ``fastnn._validate`` calls, same messages),
so both raise the same errors for the same bad input.
"""
import numpy as np

from .. import _validate as _v

__all__ = ["matmul", "matmul_bias"]


def _check_bool(v, name):
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    raise TypeError("%s must be a bool, got %r (%s)" % (name, v, type(v).__name__))


def _check_no_overlap(out, out_name, inputs):
    for name, arr in inputs:
        if np.shares_memory(out, arr):
            raise ValueError("%s must not share memory with %s (the kernel writes %s while "
                             "reading %s)" % (out_name, name, out_name, name))


def _make_out(out, name, shape, dtype, inputs):
    if out is None:
        return np.empty(shape, dtype=dtype)
    _v.check_out(out, name, shape, dtype)
    _check_no_overlap(out, name, inputs)
    return out


def _activate(z, activation, elu_alpha):
    """The activation applied in place to ``z`` (a fresh array)."""
    if activation == "relu":
        np.maximum(z, 0, out=z)
    elif activation == "sigmoid":
        # exp of a non-positive number only, so no overflow for large |z|.
        e = np.exp(-np.abs(z))
        z[...] = np.where(z >= 0, 1 / (1 + e), e / (1 + e))
    elif activation == "tanh":
        np.tanh(z, out=z)
    elif activation == "elu":
        # expm1 keeps full relative precision for small |z|.
        z[...] = np.where(z > 0, z, elu_alpha * np.expm1(np.minimum(z, 0)))
    return z


def matmul(a, b, trans_a=False, trans_b=False, out=None):
    """``op(a) @ op(b)`` where ``op(a)`` is ``a.T`` when ``trans_a`` (likewise ``b``).

    a, b: 2-D float32 or float64 arrays of the same dtype.  out: optional C-contiguous (M, N)
    array of that dtype, not overlapping a or b.  Empty dimensions follow NumPy (K == 0 gives
    zeros).
    """
    a = _v.check_array(a, "a", ndim=2, allow_empty=True)
    b = _v.check_array(b, "b", ndim=2, allow_empty=True)
    _v.check_same_dtype(("a", a), ("b", b))
    trans_a = _check_bool(trans_a, "trans_a")
    trans_b = _check_bool(trans_b, "trans_b")
    op_a = a.T if trans_a else a
    op_b = b.T if trans_b else b
    (M, K), (Kb, N) = op_a.shape, op_b.shape
    if K != Kb:
        raise ValueError(
            "inner dimensions must agree: op(a) is %d x %d (a has shape %s, trans_a=%s) but op(b) "
            "is %d x %d (b has shape %s, trans_b=%s)" % (M, K, a.shape, trans_a, Kb, N, b.shape,
                                                        trans_b))
    out = _make_out(out, "out", (M, N), a.dtype, (("a", a), ("b", b)))
    np.matmul(op_a, op_b, out=out)
    return out


def matmul_bias(x, w, b, activation=None, out=None, elu_alpha=1.0):
    """``act(x @ w + b)``: x (N, in), w (in, out), b (out,), same float dtype, non-empty.

    activation: None, 'relu', 'sigmoid', 'tanh' or 'elu' (``elu_alpha * expm1(v)`` for v <= 0).
    """
    x = _v.check_array(x, "x", ndim=2)
    w = _v.check_array(w, "w", ndim=2)
    b = _v.check_array(b, "b", ndim=1)
    _v.check_same_dtype(("x", x), ("w", w), ("b", b))
    activation = _v.check_activation(activation)
    elu_alpha = _v.check_scalar(elu_alpha, "elu_alpha")
    n, k = x.shape
    if w.shape[0] != k:
        raise ValueError("w must have shape (%d, *) to match x of shape %s (in_features = %d), "
                         "got %s" % (k, x.shape, k, w.shape))
    m = w.shape[1]
    _v.check_shape(b, "b", (m,))
    out = _make_out(out, "out", (n, m), x.dtype, (("x", x), ("w", w), ("b", b)))
    z = x @ w
    z += b
    out[...] = _activate(z, activation, elu_alpha)
    return out
