"""NumPy twins of ``fastnn.kernels._pool``: 2-D max pooling with argmax, as torch.

Forward slides a ph x pw window with stride (sh, sw) over every (n, c) plane, with no padding;
windows that do not fit are dropped (torch's default floor mode):

    OH = (H - ph) // sh + 1,   OW = (W - pw) // sw + 1
    y[n, c, oh, ow]      = max of x[n, c, oh*sh : oh*sh+ph, ow*sw : ow*sw+pw]
    argmax[n, c, oh, ow] = h*W + w, the flat index of that maximum in the (H, W) input plane

which is what ``torch.nn.functional.max_pool2d(x, pool, stride, return_indices=True)`` returns.
Tie and NaN rule (torch's CPU kernel): start from -inf and the window's first index, then visit
the window in row-major order and take a value when ``v > best or isnan(v)``.  So among equal
values the FIRST wins, and a NaN in the window wins (the last NaN, if there are several): NaN
propagates, as torch.

Backward needs only argmax and x's shape from forward (not x or y): each dy value goes back to
the input position that won its window.  With overlapping windows (stride < pool) one input can
win several windows, and its gradient is the sum.

The compiled kernels do exactly these operations in the same order, so results are
bit-identical.  The arguments are checked by the family's contract
(``fastnn/contracts/pool.py``), the same call the compiled kernels make.
"""
import numpy as np

from ..contracts import pool as contract

__all__ = ["maxpool2d_forward", "maxpool2d_backward"]


def maxpool2d_forward(x, pool, stride=None):
    """Max pooling without padding.

    x: (N, C, H, W) float32/float64, any layout; pool: int or (ph, pw); stride: int, (sh, sw)
    or None (= pool).  Returns y (N, C, OH, OW), same dtype, and argmax (N, C, OH, OW) int64,
    the flat index h*W + w of each maximum in its input plane (torch's return_indices).

        >>> y, argmax = maxpool2d_forward(np.array([[[[1.0, 3.0], [3.0, 2.0]]]]), 2)
        >>> y.ravel(), argmax.ravel()
        (array([3.]), array([1]))
    """
    args = contract.maxpool2d_forward_args(x, pool, stride)
    x, ph, pw, sh, sw, OH, OW = args.x, args.ph, args.pw, args.sh, args.sw, args.oh, args.ow
    N, C, H, W = x.shape
    y = np.full((N, C, OH, OW), -np.inf, dtype=x.dtype)
    # start index: the window's top-left corner (what an all -inf window reports, as torch)
    top = (np.arange(OH) * sh)[:, None] * W + (np.arange(OW) * sw)[None, :]    # (OH, OW)
    argmax = np.broadcast_to(top, y.shape).astype(np.int64)
    for i in range(ph):                     # visit window offsets in row-major order
        for j in range(pw):
            v = x[:, :, i:i + sh * (OH - 1) + 1:sh, j:j + sw * (OW - 1) + 1:sw]
            take = (v > y) | np.isnan(v)    # strict >: ties keep the first; NaN always wins
            y = np.where(take, v, y)
            argmax = np.where(take, top + (i * W + j), argmax)
    return y, argmax


def maxpool2d_backward(dy, argmax, x_shape):
    """Scatter dy back to the winning inputs.

    dy: (N, C, OH, OW) float; argmax: integer array of dy's shape from maxpool2d_forward;
    x_shape: (N, C, H, W).  Returns dx of shape x_shape, dy's dtype: dx[n, c].flat[argmax[n, c,
    k]] += dy[n, c, k], in output (row-major) order.

        >>> maxpool2d_backward(np.array([[[[5.0]]]]), np.array([[[[1]]]]), (1, 1, 2, 2))[0, 0]
        array([[0., 5.],
               [0., 0.]])
    """
    args = contract.maxpool2d_backward_args(dy, argmax, x_shape)
    dy, argmax, (N, C, H, W) = args.dy, args.argmax, args.x_shape
    dx = np.zeros((N * C, H * W), dtype=dy.dtype)
    planes = np.arange(N * C)[:, None]
    # np.add.at, unlike dx[idx] += v, adds repeated indices (an input that won several windows)
    np.add.at(dx, (planes, argmax.reshape(N * C, -1)), dy.reshape(N * C, -1))
    return dx.reshape(N, C, H, W)
