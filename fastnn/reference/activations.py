"""NumPy twins of ``fastnn.kernels._activations``: activations, softmax cross-entropy, dropout.

Elementwise functions accept any shape; softmax works on rows of a 2-D array (N, K).  Every
function takes float32 or float64 and returns the same dtype.  ``out`` (optional) is a
C-contiguous array of the result's shape and dtype that receives the result.

Forward / backward pairs, and what backward needs from forward:

    relu     y = max(x, 0)                      dx = dy * [x > 0]          (needs x)
    sigmoid  y = 1 / (1 + e^-x)                 dx = dy * y * (1 - y)      (needs y)
    tanh     y = tanh(x)                        dx = dy * (1 - y^2)        (needs y)
    elu      y = x if x > 0 else a*(e^x - 1)    dx = dy if x > 0 else dy * a * e^x   (needs x)
             or, from the output:               dx = dy if y > 0 else dy * (y + a)   (needs y)
    softmax  y = e^(x - max) / sum e^(x - max)  dx = y * (dy - sum(dy * y)) row-wise (needs y)

Overflow: sigmoid only ever exponentiates a non-positive number (e^-|x|), so it is exact for
|x| of 1e4 and more; softmax and the cross-entropy subtract the row maximum first.

``softmax_cross_entropy(logits, labels)``: logits (N, K); labels integer class ids (N,) or float
targets (N, K) of the logits' dtype, finite and non-negative.  With t the (one-hot) targets,
s_n = sum_k t[n, k],

    lse_n     = max_n + log(sum_k e^(z[n, k] - max_n))
    loss      = (1/N) sum_n (s_n * lse_n - sum_k t[n, k] z[n, k])
    dlogits   = (s_n * softmax(z)[n, k] - t[n, k]) / N       (= (p - t)/N for one-hot rows)

Per-row losses are computed and summed in float64, in row order, so the compiled kernel (which
sums them serially after a parallel loop over rows) gives the same loss at any thread count.

Dropout (inverted): ``mask`` is the keep-mask (bool or uint8, x's shape; nonzero = kept) drawn by
the caller from a seeded generator; kept elements are scaled by 1 / (1 - rate):

    y  = x  * mask / (1 - rate)          dx = dy * mask / (1 - rate)

``dropout_forward_rng(x, rate, seed, counter)`` draws the mask itself, from a counter-based
generator (SplitMix64 read as a function of its position, as src_c/fnn_random.h):

    draw(seed, j) = mix(seed + (j + 1) * GAMMA)         uint64 arithmetic, mod 2**64
    bits(i)       = low 32 bits of draw(seed, counter + i // 2) for even i, high 32 for odd i
    keep(i)       = bits(i) >= round(rate * 2**32)       (element i of x in C order)

so the mask depends only on (seed, counter, i): the same at any thread count.  A call consumes
(x.size + 1) // 2 draws; the caller advances its counter by that (``fastnn.layers.Dropout``).

Every function first calls its contract (``fastnn/contracts/activations.py``, shared with the
compiled kernels): the argument checks, the ``out`` array and the scalars (alpha, the dropout
scale) come from there, so what follows in each function is the math.
"""
import numpy as np

from ..contracts import activations as _contract

__all__ = ["relu_forward", "relu_backward", "sigmoid_forward", "sigmoid_backward",
           "tanh_forward", "tanh_backward", "elu_forward", "elu_backward",
           "elu_backward_from_output", "softmax_forward", "softmax_backward",
           "softmax_cross_entropy", "dropout_forward", "dropout_backward", "dropout_forward_rng",
           "splitmix64"]


# --------------------------------------------------------------------------- elementwise
def relu_forward(x, out=None):
    """y = max(x, 0); x any shape.  NaN propagates (as torch)."""
    x, _, out = _contract.unary(x, out)
    out[...] = np.where(x > 0, x, np.where(np.isnan(x), x, 0)).astype(x.dtype, copy=False)
    return out


def relu_backward(dy, x, out=None):
    """dx = dy * [x > 0] (0 at x == 0, as torch)."""
    dy, x, _, out = _contract.binary(dy, x, "x", out)
    out[...] = np.where(x > 0, dy, 0).astype(x.dtype, copy=False)
    return out


def sigmoid_forward(x, out=None):
    """y = 1 / (1 + e^-x), computed from e^-|x| so no exponent overflows."""
    x, _, out = _contract.unary(x, out)
    e = np.exp(-np.abs(x))
    one = x.dtype.type(1)
    out[...] = np.where(x >= 0, one / (one + e), e / (one + e))
    return out


def sigmoid_backward(dy, y, out=None):
    """dx = dy * y * (1 - y), from the forward OUTPUT y."""
    dy, y, _, out = _contract.binary(dy, y, "y", out)
    out[...] = dy * (y * (y.dtype.type(1) - y))
    return out


def tanh_forward(x, out=None):
    """y = tanh(x)."""
    x, _, out = _contract.unary(x, out)
    np.tanh(x, out=out)
    return out


def tanh_backward(dy, y, out=None):
    """dx = dy * (1 - y^2), from the forward OUTPUT y."""
    dy, y, _, out = _contract.binary(dy, y, "y", out)
    out[...] = dy * (y.dtype.type(1) - y * y)
    return out


def elu_forward(x, alpha=1.0, out=None):
    """y = x for x > 0, alpha * (e^x - 1) otherwise (expm1 for precision near 0)."""
    x, alpha, out = _contract.unary_alpha(x, alpha, out)
    a = x.dtype.type(alpha)
    out[...] = np.where(x > 0, x, a * np.expm1(np.minimum(x, 0)))
    return out


def elu_backward(dy, x, alpha=1.0, out=None):
    """dx = dy for x > 0, dy * alpha * e^x otherwise (from the forward INPUT x)."""
    dy, x, alpha, out = _contract.binary_alpha(dy, x, "x", alpha, out)
    a = x.dtype.type(alpha)
    out[...] = np.where(x > 0, dy, dy * (a * np.exp(np.minimum(x, 0))))
    return out


def elu_backward_from_output(dy, y, alpha=1.0, out=None):
    """dx = dy for y > 0, dy * (y + alpha) otherwise, from the forward OUTPUT y: where x <= 0,
    y = alpha (e^x - 1), so alpha e^x = y + alpha (what Dense and Conv2D use: they keep y)."""
    dy, y, alpha, out = _contract.binary_alpha(dy, y, "y", alpha, out)
    out[...] = np.where(y > 0, dy, dy * (y + y.dtype.type(alpha)))
    return out


# --------------------------------------------------------------------------- softmax
def softmax_forward(x, out=None):
    """Row-wise softmax of x (N, K): y = e^(x - max) / sum e^(x - max)."""
    x, _, out = _contract.rows(x, out)
    e = np.exp(x - x.max(axis=1, keepdims=True))
    out[...] = e / e.sum(axis=1, keepdims=True)
    return out


def softmax_backward(dy, y, out=None):
    """dx = y * (dy - sum_k dy[:, k] y[:, k]) row-wise; y is the forward output (N, K)."""
    dy, y, _, out = _contract.rows_binary(dy, y, out)
    out[...] = y * (dy - (dy * y).sum(axis=1, keepdims=True))
    return out


def softmax_cross_entropy(logits, labels):
    """Mean softmax cross-entropy of logits (N, K) against integer labels (N,) or float targets
    (N, K) -> (loss as a Python float, dlogits (N, K) in the logits' dtype).  See the module
    docstring for the formulas; stable for logits of any finite size."""
    z, kind, t = _contract.cross_entropy(logits, labels)
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
    x, mask, scale, out = _contract.dropout(x, mask, rate, out)
    out[...] = np.where(mask != 0, x * scale, x.dtype.type(0))
    return out


def dropout_backward(dy, mask, rate, out=None):
    """dx = dy * mask / (1 - rate)."""
    dy, mask, scale, out = _contract.dropout(dy, mask, rate, out, "dy")
    out[...] = np.where(mask != 0, dy * scale, dy.dtype.type(0))
    return out


# --------------------------------------------------------------------------- dropout's generator
_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def splitmix64(seed, first, count):
    """Draws ``first .. first + count - 1`` of the generator keyed by ``seed`` (uint64 array):
    draw j is the (j+1)-th output of SplitMix64 (Steele, Lea & Flood 2014) seeded with ``seed``.

        splitmix64(1234567, 0, 2)      # array([6457827717110365317, 3203168211198807973])
    """
    seed, first, count = _contract.splitmix64_args(seed, first, count)
    j = np.arange(1, count + 1, dtype=np.uint64) + np.uint64(first)      # wraps mod 2**64
    z = np.uint64(seed) + j * _GAMMA
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


def dropout_forward_rng(x, rate, seed, counter, out=None, mask_out=None):
    """Dropout with the keep-mask drawn from (seed, counter): returns (y, mask), y = x * mask /
    (1 - rate) and mask the bool keep-mask (written into ``mask_out`` when given).  Consumes
    (x.size + 1) // 2 draws, starting at draw ``counter``."""
    x, threshold, scale, seed, counter, out, mask = _contract.dropout_rng(
        x, rate, seed, counter, out, mask_out)
    z = splitmix64(seed, counter, (x.size + 1) // 2)
    bits = np.stack([z & np.uint64(0xFFFFFFFF), z >> np.uint64(32)], axis=1).reshape(-1)
    keep = (bits[:x.size] >= np.uint64(threshold)).reshape(x.shape)
    mask[...] = keep
    out[...] = np.where(keep, x * scale, x.dtype.type(0))
    return out, mask
