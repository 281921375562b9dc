"""Contract of the max-pooling family: what ``maxpool2d_forward`` and ``maxpool2d_backward``
accept and the output plane they compute, called first by the compiled kernels
(``fastnn/kernels/_pool.pyx``) and by their NumPy twins (``fastnn/reference/pool.py``), so both
accept and reject the same inputs with the same messages.

No padding, torch's floor mode: a ph x pw window with stride (sh, sw) on an H x W plane gives
OH = (H - ph) // sh + 1 rows (likewise OW); windows that do not fit are dropped.

    >>> import numpy as np
    >>> a = maxpool2d_forward_args(np.zeros((1, 1, 5, 4)), 2, None)
    >>> (a.ph, a.pw, a.sh, a.sw, a.oh, a.ow)
    (2, 2, 2, 2, 2, 2)
"""
import collections

import numpy as np

from .. import _validate as _v
from .conv import check_hw_pair, check_x_shape

__all__ = ["PoolForwardArgs", "PoolBackwardArgs", "maxpool2d_forward_args",
           "maxpool2d_backward_args"]

PoolForwardArgs = collections.namedtuple("PoolForwardArgs", "x ph pw sh sw oh ow")
PoolForwardArgs.__doc__ = """Checked ``maxpool2d_forward`` arguments: x (N, C, H, W), window
(ph, pw), stride (sh, sw), output plane (oh, ow)."""

PoolBackwardArgs = collections.namedtuple("PoolBackwardArgs", "dy argmax x_shape")
PoolBackwardArgs.__doc__ = """Checked ``maxpool2d_backward`` arguments: dy (N, C, OH, OW),
argmax as int64 of dy's shape with every entry in [0, H*W) when it was checked, and x_shape
(N, C, H, W) as Python ints.  argmax may still be the caller's memory (it is copied only when its
dtype or layout needs it), so code that indexes through it without the GIL must re-check each
entry where it uses it: another thread may change it after this check."""


def maxpool2d_forward_args(x, pool, stride):
    """Check ``maxpool2d_forward(x, pool, stride)`` -> :class:`PoolForwardArgs`; stride None
    means stride = pool."""
    x = _v.check_array(x, "x", ndim=4)
    ph, pw = check_hw_pair(pool, "pool", 1)
    sh, sw = (ph, pw) if stride is None else check_hw_pair(stride, "stride", 1)
    H, W = x.shape[2], x.shape[3]
    if ph > H or pw > W:
        raise ValueError("pool (%d, %d) must fit in the input plane (H, W) = (%d, %d) (x has "
                         "shape %s; max pooling has no padding)" % (ph, pw, H, W, x.shape))
    return PoolForwardArgs(x, ph, pw, sh, sw, (H - ph) // sh + 1, (W - pw) // sw + 1)


def maxpool2d_backward_args(dy, argmax, x_shape):
    """Check ``maxpool2d_backward(dy, argmax, x_shape)`` -> :class:`PoolBackwardArgs`: argmax
    of any integer dtype and dy's shape, every entry in [0, H*W)."""
    dy = _v.check_array(dy, "dy", ndim=4)
    argmax = _v.check_int_array(argmax, "argmax", ndim=4)
    x_shape = check_x_shape(x_shape)
    N, C, H, W = x_shape
    _v.check_shape(argmax, "argmax", dy.shape)
    if dy.shape[0] != N or dy.shape[1] != C:
        raise ValueError("dy must have shape (%d, %d, *, *) to match x_shape %s (N, C), got %s"
                         % (N, C, x_shape, dy.shape))
    if dy.shape[2] > H or dy.shape[3] > W:
        raise ValueError("dy's output plane %s cannot be larger than x_shape's plane (%d, %d)"
                         % (dy.shape[2:], H, W))
    _v.check_alloc(x_shape, dy.dtype, "x_shape", "dx")
    lo, hi = int(argmax.min()), int(argmax.max())
    if lo < 0 or hi >= H * W:
        raise ValueError("argmax must hold flat indices h*W + w in [0, H*W) = [0, %d) for "
                         "x_shape %s, got %d" % (H * W, x_shape, lo if lo < 0 else hi))
    return PoolBackwardArgs(dy, np.ascontiguousarray(argmax, dtype=np.int64), x_shape)
