"""NumPy twins of ``fastnn.kernels._activations``: activations, softmax cross-entropy, dropout.

Elementwise functions accept any shape; softmax works on rows of a 2-D array (N, K).  Every
function takes float32 or float64 and returns the same dtype.  ``out`` (optional) is a
C-contiguous array of the result's shape and dtype that receives the result.

Forward / backward pairs, and what backward needs from forward:

    relu     y = max(x, 0)                      dx = dy * [x > 0]          (needs x)
    sigmoid  y = 1 / (1 + e^-x)                 dx = dy * y * (1 - y)      (needs y)
    tanh     y = tanh(x)                        dx = dy * (1 - y^2)        (needs y)
    elu      y = x if x > 0 else a*(e^x - 1)    dx = dy if x > 0 else dy * a * e^x   (needs x)
    softmax  y = e^(x - max) / sum e^(x - max)  dx = y * (dy - sum(dy * y)) row-wise (needs y)

Overflow: sigmoid only ever exponentiates a non-positive number (e^-|x|), so it is exact for
|x| of 1e4 and more; softmax and the cross-entropy subtract the row maximum first.

``softmax_cross_entropy(logits, labels)``: logits (N, K); labels integer class ids (N,) or float
targets (N, K) of the logits' dtype.  With t the (one-hot) targets, s_n = sum_k t[n, k],

    lse_n     = max_n + log(sum_k e^(z[n, k] - max_n))
    loss      = (1/N) sum_n (s_n * lse_n - sum_k t[n, k] z[n, k])
    dlogits   = (s_n * softmax(z)[n, k] - t[n, k]) / N       (= (p - t)/N for one-hot rows)

Per-row losses are computed and summed in float64, in row order, so the compiled kernel (which
sums them serially after a parallel loop over rows) gives the same loss at any thread count.

Dropout (inverted): ``mask`` is the keep-mask (bool or uint8, x's shape; nonzero = kept) drawn by
the caller from a seeded generator; kept elements are scaled by 1 / (1 - rate):

    y  = x  * mask / (1 - rate)          dx = dy * mask / (1 - rate)
"""
import numpy as np

from .. import _validate as _v

__all__ = ["relu_forward", "relu_backward", "sigmoid_forward", "sigmoid_backward",
           "tanh_forward", "tanh_backward", "elu_forward", "elu_backward",
           "softmax_forward", "softmax_backward", "softmax_cross_entropy",
           "dropout_forward", "dropout_backward"]


# --------------------------------------------------------------------------- argument checks
# Shared with the compiled module, so both raise the same errors for the same bad input.
def _check_x(x, name="x"):
    return _v.check_array(x, name)


def _check_pair(a, a_name, b, b_name):
    """Two float arrays of the same shape and dtype (dy and the kept x or y)."""
    a = _v.check_array(a, a_name)
    b = _v.check_array(b, b_name)
    _v.check_same_dtype((a_name, a), (b_name, b))
    if a.shape != b.shape:
        raise ValueError("%s must have %s's shape %s, got %s" % (a_name, b_name, b.shape, a.shape))
    return a, b


def _check_rows(x, name):
    x = _v.check_array(x, name, ndim=2)
    if x.shape[1] == 0:
        raise ValueError("%s must have at least one column (classes), got shape %s"
                         % (name, x.shape))
    return x


def _check_alpha(alpha):
    return _v.check_scalar(alpha, "alpha")


def _check_rate(rate):
    return _v.check_scalar(rate, "rate", min=0.0, max=1.0, max_inclusive=False)


def _check_mask(mask, shape):
    if not isinstance(mask, np.ndarray):
        raise TypeError("mask must be a numpy.ndarray of bool or uint8, got %s"
                        % type(mask).__name__)
    if mask.dtype not in (np.dtype(np.bool_), np.dtype(np.uint8)):
        raise TypeError("mask must have dtype bool or uint8, got %s" % mask.dtype)
    if mask.shape != tuple(shape):
        raise ValueError("mask must have shape %s (the input's), got %s" % (tuple(shape), mask.shape))
    return mask


def _check_targets(logits, labels):
    """-> ('labels', int64 (N,)) or ('probs', float array (N, K) of the logits' dtype)."""
    n, k = logits.shape
    if not isinstance(labels, np.ndarray):
        if isinstance(labels, (list, tuple)):
            labels = np.asarray(labels)
        else:
            raise TypeError("labels must be a numpy.ndarray, got %s" % type(labels).__name__)
    if np.issubdtype(labels.dtype, np.integer):
        return "labels", _v.check_labels(labels, "labels", n, k)
    if labels.dtype.kind != "f":
        raise TypeError("labels must be integer class ids (N,) or float targets (N, K), got "
                        "dtype %s" % labels.dtype)
    if labels.dtype != logits.dtype:
        raise TypeError("float labels must have the logits' dtype %s, got %s"
                        % (logits.dtype, labels.dtype))
    _v.check_shape(labels, "labels", (n, k))
    if not np.isfinite(labels).all():
        raise ValueError("labels must be finite")
    return "probs", labels


def _make_out(out, shape, dtype, inputs):
    if out is None:
        return np.empty(shape, dtype=dtype)
    _v.check_out(out, "out", shape, dtype)
    for name, arr in inputs:
        # In place is allowed only when arr is exactly out's memory, element for element (the
        # compiled loops read element i before writing it).  A mask (uint8/bool) never is: its
        # bytes would be overwritten by out's wider elements before they are read.
        if np.shares_memory(out, arr) and not (out.__array_interface__["data"][0]
                                               == arr.__array_interface__["data"][0]
                                               and arr.dtype == out.dtype
                                               and arr.shape == out.shape
                                               and arr.flags.c_contiguous):
            raise ValueError("out must not partially overlap %s (the same array, in place, is "
                             "allowed)" % name)
    return out


# --------------------------------------------------------------------------- elementwise
def relu_forward(x, out=None):
    """y = max(x, 0); x any shape.  NaN propagates (as torch)."""
    x = _check_x(x)
    out = _make_out(out, x.shape, x.dtype, (("x", x),))
    out[...] = np.where(x > 0, x, np.where(np.isnan(x), x, 0)).astype(x.dtype, copy=False)
    return out


def relu_backward(dy, x, out=None):
    """dx = dy * [x > 0] (0 at x == 0, as torch)."""
    dy, x = _check_pair(dy, "dy", x, "x")
    out = _make_out(out, x.shape, x.dtype, (("dy", dy), ("x", x)))
    out[...] = np.where(x > 0, dy, 0).astype(x.dtype, copy=False)
    return out


def sigmoid_forward(x, out=None):
    """y = 1 / (1 + e^-x), computed from e^-|x| so no exponent overflows."""
    x = _check_x(x)
    out = _make_out(out, x.shape, x.dtype, (("x", x),))
    e = np.exp(-np.abs(x))
    one = x.dtype.type(1)
    out[...] = np.where(x >= 0, one / (one + e), e / (one + e))
    return out


def sigmoid_backward(dy, y, out=None):
    """dx = dy * y * (1 - y), from the forward OUTPUT y."""
    dy, y = _check_pair(dy, "dy", y, "y")
    out = _make_out(out, y.shape, y.dtype, (("dy", dy), ("y", y)))
    out[...] = dy * (y * (y.dtype.type(1) - y))
    return out


def tanh_forward(x, out=None):
    """y = tanh(x)."""
    x = _check_x(x)
    out = _make_out(out, x.shape, x.dtype, (("x", x),))
    np.tanh(x, out=out)
    return out


def tanh_backward(dy, y, out=None):
    """dx = dy * (1 - y^2), from the forward OUTPUT y."""
    dy, y = _check_pair(dy, "dy", y, "y")
    out = _make_out(out, y.shape, y.dtype, (("dy", dy), ("y", y)))
    out[...] = dy * (y.dtype.type(1) - y * y)
    return out


def elu_forward(x, alpha=1.0, out=None):
    """y = x for x > 0, alpha * (e^x - 1) otherwise (expm1 for precision near 0)."""
    x = _check_x(x)
    alpha = _check_alpha(alpha)
    out = _make_out(out, x.shape, x.dtype, (("x", x),))
    a = x.dtype.type(alpha)
    out[...] = np.where(x > 0, x, a * np.expm1(np.minimum(x, 0)))
    return out


def elu_backward(dy, x, alpha=1.0, out=None):
    """dx = dy for x > 0, dy * alpha * e^x otherwise (from the forward INPUT x)."""
    dy, x = _check_pair(dy, "dy", x, "x")
    alpha = _check_alpha(alpha)
    out = _make_out(out, x.shape, x.dtype, (("dy", dy), ("x", x)))
    a = x.dtype.type(alpha)
    out[...] = np.where(x > 0, dy, dy * (a * np.exp(np.minimum(x, 0))))
    return out


# --------------------------------------------------------------------------- softmax
def softmax_forward(x, out=None):
    """Row-wise softmax of x (N, K): y = e^(x - max) / sum e^(x - max)."""
    x = _check_rows(x, "x")
    out = _make_out(out, x.shape, x.dtype, (("x", x),))
    e = np.exp(x - x.max(axis=1, keepdims=True))
    out[...] = e / e.sum(axis=1, keepdims=True)
    return out


def softmax_backward(dy, y, out=None):
    """dx = y * (dy - sum_k dy[:, k] y[:, k]) row-wise; y is the forward output (N, K)."""
    dy = _check_rows(dy, "dy")
    y = _check_rows(y, "y")
    dy, y = _check_pair(dy, "dy", y, "y")
    out = _make_out(out, y.shape, y.dtype, (("dy", dy), ("y", y)))
    out[...] = y * (dy - (dy * y).sum(axis=1, keepdims=True))
    return out


def softmax_cross_entropy(logits, labels):
    """Mean softmax cross-entropy of logits (N, K) against integer labels (N,) or float targets
    (N, K) -> (loss as a Python float, dlogits (N, K) in the logits' dtype).  See the module
    docstring for the formulas; stable for logits of any finite size."""
    z = _check_rows(logits, "logits")
    kind, t = _check_targets(z, labels)
    n, k = z.shape
    m = z.max(axis=1, keepdims=True)
    e = np.exp(z - m)
    s = e.sum(axis=1, keepdims=True)
    p = e / s
    # per-row loss in float64: s_n * lse_n - t_n . z_n, with the max subtracted inside
    zd = z.astype(np.float64) - m.astype(np.float64)
    log_s = np.log(s[:, 0].astype(np.float64))
    if kind == "labels":
        # pick the labelled logit (as torch's nll): a -inf logit elsewhere in the row must not
        # turn into 0 * -inf = NaN, as a dot product with the one-hot row would
        row = log_s - zd[np.arange(n), t]
        tsum = np.ones(n)
        t = np.eye(k, dtype=z.dtype)[t]
    else:
        td = t.astype(np.float64)
        tsum = td.sum(axis=1)
        # a target of 0 contributes nothing, even against a -inf logit (0 * -inf = NaN), so
        # one-hot targets give what the integer labels give
        with np.errstate(invalid="ignore"):
            tz = np.where(td != 0, td * zd, 0.0)
        row = tsum * log_s - tz.sum(axis=1)
    loss = 0.0
    for v in row.tolist():             # Python floats, in row order, as the compiled kernel
        loss += v
    dlogits = ((tsum[:, None].astype(z.dtype) * p - t) / z.dtype.type(n)).astype(z.dtype)
    return loss / n, dlogits


# --------------------------------------------------------------------------- dropout
def dropout_forward(x, mask, rate, out=None):
    """y = x * mask / (1 - rate), mask the keep-mask (bool/uint8, nonzero = keep)."""
    x = _check_x(x)
    mask = _check_mask(mask, x.shape)
    rate = _check_rate(rate)
    out = _make_out(out, x.shape, x.dtype, (("x", x), ("mask", mask)))
    scale = x.dtype.type(1.0 / (1.0 - rate))
    out[...] = np.where(mask != 0, x * scale, x.dtype.type(0))
    return out


def dropout_backward(dy, mask, rate, out=None):
    """dx = dy * mask / (1 - rate)."""
    dy = _check_x(dy, "dy")
    mask = _check_mask(mask, dy.shape)
    rate = _check_rate(rate)
    out = _make_out(out, dy.shape, dy.dtype, (("dy", dy), ("mask", mask)))
    scale = dy.dtype.type(1.0 / (1.0 - rate))
    out[...] = np.where(mask != 0, dy * scale, dy.dtype.type(0))
    return out
