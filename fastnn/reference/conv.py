"""NumPy twins of ``fastnn.kernels._conv``: 2-D convolution by im2col + one matrix product.

The idea (CS231n style).  A convolution slides a ``kh x kw`` window over every input channel;
each output pixel is a dot product of the window's ``C*kh*kw`` input values with one filter.
``im2col`` copies every window into one column of a matrix, so the whole convolution becomes
one matrix product:

    x (N, C, H, W) --im2col--> cols (C*kh*kw, N*OH*OW)
    w (OC, C, kh, kw)  viewed as  W (OC, C*kh*kw)
    y = W @ cols  ->  (OC, N*OH*OW)  -> reshaped/transposed to (N, OC, OH, OW), + b per channel

Row ``c*kh*kw + i*kw + j`` of cols holds, for every output position, the input value under
kernel tap (c, i, j); column ``n*OH*OW + oh*OW + ow`` is the window of output pixel (n, oh, ow).
Padded positions are zeros.  OH = (H + 2*ph - kh) // sh + 1 (likewise OW), as torch.

Backward (what it needs from forward: only x and w, both passed again, so nothing is cached;
cols is recomputed from x):

    dy (N, OC, OH, OW)  viewed as  dY (OC, N*OH*OW)
    dW   = dY @ cols.T                 (OC, C*kh*kw)  -> reshaped to w's shape
    db   = dy summed over n, oh, ow    (OC,)
    dcols = W.T @ dY                   (C*kh*kw, N*OH*OW)
    dx   = col2im(dcols)               (N, C, H, W): each column is added back onto its window

``col2im`` is the adjoint (transpose) of ``im2col``: where windows overlap, their
contributions add up.  The compiled kernels compute the same sums; ``im2col`` and ``col2im``
even in the same order (bit-identical), the products through fastnn's GEMM (same values up to
rounding).  docs/kernels/conv.md puts both versions side by side.

The arguments are checked by the family's contract (``fastnn/contracts/conv.py``), the same call
the compiled kernels make, so both raise the same errors, with the same messages, for the same
bad input.
"""
import numpy as np

from ..contracts import conv as contract
from .gemm import apply_activation

__all__ = ["im2col", "col2im", "conv2d_forward", "conv2d_backward"]


# --------------------------------------------------------------------------- kernels
def im2col(x, kh, kw, stride, padding):
    """Unfold every kh x kw window of x into a column.

    x: (N, C, H, W) float32/float64, any layout.  stride, padding: int or (h, w) pair.
    Returns cols (C*kh*kw, N*OH*OW), same dtype: cols[c*kh*kw + i*kw + j, n*OH*OW + oh*OW + ow]
    = x[n, c, oh*sh + i - ph, ow*sw + j - pw], or 0 where that position is padding.

        >>> im2col(np.arange(4.0).reshape(1, 1, 2, 2), 2, 2, 1, 0).ravel()
        array([0., 1., 2., 3.])
    """
    args = contract.im2col_args(x, kh, kw, stride, padding)
    x, g = args.x, args.geo
    kh, kw, sh, sw, ph, pw, OH, OW = g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.oh, g.ow
    N, C, H, W = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))      # zeros around each plane
    cols = np.empty((C, kh, kw, N, OH, OW), dtype=x.dtype)
    for i in range(kh):                    # one kernel tap (i, j) at a time: a strided slice
        for j in range(kw):                # picks that tap's input for every output pixel
            tap = xp[:, :, i:i + sh * (OH - 1) + 1:sh, j:j + sw * (OW - 1) + 1:sw]  # (N,C,OH,OW)
            cols[:, i, j] = tap.transpose(1, 0, 2, 3)
    return cols.reshape(C * kh * kw, N * OH * OW)


def col2im(cols, x_shape, kh, kw, stride, padding):
    """Adjoint of im2col: add every column back onto the window it came from.

    cols: (C*kh*kw, N*OH*OW) float32/float64; x_shape: (N, C, H, W).  Returns dx of shape
    x_shape, same dtype as cols.  Overlapping windows (stride < kernel) sum; contributions that
    fall on padding are dropped.  Each element receives its terms in (i, j) tap order.

        >>> col2im(np.ones((4, 4)), (1, 1, 3, 3), 2, 2, 1, 0)[0, 0]
        array([[1., 2., 1.],
               [2., 4., 2.],
               [1., 2., 1.]])
    """
    args = contract.col2im_args(cols, x_shape, kh, kw, stride, padding)
    cols, g = args.cols, args.geo
    kh, kw, sh, sw, ph, pw, OH, OW = g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.oh, g.ow
    N, C, H, W = args.x_shape
    c6 = cols.reshape(C, kh, kw, N, OH, OW)
    dxp = np.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            dxp[:, :, i:i + sh * (OH - 1) + 1:sh, j:j + sw * (OW - 1) + 1:sw] += \
                c6[:, i, j].transpose(1, 0, 2, 3)
    return np.ascontiguousarray(dxp[:, :, ph:ph + H, pw:pw + W])


def conv2d_forward(x, w, b, stride, padding, activation=None):
    """y = act(conv2d(x, w) + b), as torch.nn.functional.conv2d (cross-correlation, no flip)
    followed by the activation.

    x: (N, C, H, W); w: (OC, C, kh, kw) (torch layout); b: (OC,) or None; all the same float
    dtype.  stride, padding: int or (h, w).  activation: None, 'relu', 'sigmoid', 'tanh' or
    'elu' (alpha 1), the formulas of matmul_bias (the compiled kernel applies it in the GEMM's
    epilogue, as matmul_bias does).  Returns y (N, OC, OH, OW).
    Backward needs x and w (and y for the activation): conv2d_backward recomputes im2col(x).

        >>> conv2d_forward(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)), np.array([-5.0]), 1, 0,
        ...                activation="relu")[0, 0]
        array([[0., 0.],
               [0., 0.]])
    """
    args = contract.conv2d_forward_args(x, w, b, stride, padding, activation)
    x, w, b, g = args.x, args.w, args.b, args.geo
    N, OC = x.shape[0], w.shape[0]
    cols = im2col(x, g.kh, g.kw, (g.sh, g.sw), (g.ph, g.pw))    # (C*kh*kw, N*OH*OW)
    y = np.matmul(w.reshape(OC, -1), cols)                     # (OC, N*OH*OW)
    if b is not None:
        y += b[:, None]
    y = apply_activation(y, args.activation)
    return np.ascontiguousarray(y.reshape(OC, N, g.oh, g.ow).transpose(1, 0, 2, 3))


def conv2d_backward(dy, x, w, stride, padding, need_dx=True):
    """Gradients of conv2d_forward (without activation): returns (dx, dw, db).

    dy: (N, OC, OH, OW), the loss gradient w.r.t. y; x: (N, C, H, W) and w: (OC, C, kh, kw), the
    forward inputs.  dx has x's shape, dw w's shape, db is (OC,) (the bias gradient, returned
    whether or not the forward pass used a bias).  need_dx=False returns dx = None without
    computing it (a network's first layer never needs the gradient of its input).

        >>> dx, dw, db = conv2d_backward(np.ones((1, 1, 2, 2)), np.ones((1, 1, 3, 3)),
        ...                              np.ones((1, 1, 2, 2)), 1, 0)
        >>> dw[0, 0], db
        (array([[4., 4.],
               [4., 4.]]), array([4.]))
    """
    args = contract.conv2d_backward_args(dy, x, w, stride, padding, need_dx)
    dy, x, w, g = args.dy, args.x, args.w, args.geo
    stride, padding = (g.sh, g.sw), (g.ph, g.pw)
    OC = w.shape[0]
    dY = dy.transpose(1, 0, 2, 3).reshape(OC, -1)             # (OC, N*OH*OW)
    cols = im2col(x, g.kh, g.kw, stride, padding)             # (C*kh*kw, N*OH*OW)
    dw = np.matmul(dY, cols.T).reshape(w.shape)
    db = dy.sum(axis=(0, 2, 3))
    if not args.need_dx:
        return None, dw, db
    dcols = np.matmul(w.reshape(OC, -1).T, dY)                # (C*kh*kw, N*OH*OW)
    dx = col2im(dcols, x.shape, g.kh, g.kw, stride, padding)
    return dx, dw, db
