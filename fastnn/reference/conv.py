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

The argument checks below (``_check_*``) are shared with the compiled module, so both raise the
same errors, with the same messages, for the same bad input.
"""
import numbers

import numpy as np

from .. import _validate as _v

__all__ = ["im2col", "col2im", "conv2d_forward", "conv2d_backward"]


# --------------------------------------------------------------------------- argument checks
# Upper bound for kernel sizes, strides and paddings: keeps every index product in the compiled
# loops far inside int64 (and Python ints convertible to C), so an absurd value is a ValueError
# naming the argument rather than an OverflowError.  No real layer comes near it.
_MAX_HW = 2 ** 31 - 1


def _check_hw_pair(v, name, min):
    """check_pair plus the _MAX_HW upper bound."""
    pair = _v.check_pair(v, name, min=min)
    for k, p in enumerate(pair):
        if p > _MAX_HW:
            label = name if not isinstance(v, (tuple, list)) else "%s[%d]" % (name, k)
            raise ValueError("%s must be <= %d, got %d" % (label, _MAX_HW, p))
    return pair


def _check_x_shape(x_shape, name="x_shape"):
    """A 4-tuple of positive ints (N, C, H, W) -> tuple of Python ints."""
    if not isinstance(x_shape, (tuple, list)):
        raise TypeError("%s must be a tuple (N, C, H, W), got %r (%s)"
                        % (name, x_shape, type(x_shape).__name__))
    if len(x_shape) != 4:
        raise ValueError("%s must have 4 entries (N, C, H, W), got %r" % (name, tuple(x_shape)))
    out = []
    for k, v in zip("NCHW", x_shape):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError("%s must hold ints, got %r for %s" % (name, v, k))
        if int(v) < 1:
            raise ValueError("%s must hold positive sizes, got %s = %d in %r"
                             % (name, k, int(v), tuple(x_shape)))
        out.append(int(v))
    return tuple(out)


def _check_geometry(x_shape, kh, kw, stride, padding, x_name="x", k_name=("kh", "kw")):
    """Check stride (>= 1), padding (>= 0) and that the kernel fits in the padded input.

    Returns ((kh, kw), (sh, sw), (ph, pw), (OH, OW)).  ``k_name`` names where the kernel size
    came from (the kh/kw arguments, or w's shape for the convolution)."""
    kh = _v.check_int(kh, k_name[0], min=1, max=_MAX_HW)
    kw = _v.check_int(kw, k_name[1], min=1, max=_MAX_HW)
    sh, sw = _check_hw_pair(stride, "stride", 1)
    ph, pw = _check_hw_pair(padding, "padding", 0)
    H, W = x_shape[2], x_shape[3]
    if kh > H + 2 * ph:
        raise ValueError(
            "%s (%d) must be <= the padded input height H + 2*padding[0] = %d + 2*%d = %d "
            "(%s has shape %s)" % (k_name[0], kh, H, ph, H + 2 * ph, x_name, tuple(x_shape)))
    if kw > W + 2 * pw:
        raise ValueError(
            "%s (%d) must be <= the padded input width W + 2*padding[1] = %d + 2*%d = %d "
            "(%s has shape %s)" % (k_name[1], kw, W, pw, W + 2 * pw, x_name, tuple(x_shape)))
    OH = (H + 2 * ph - kh) // sh + 1
    OW = (W + 2 * pw - kw) // sw + 1
    return (kh, kw), (sh, sw), (ph, pw), (OH, OW)


def _check_im2col_args(x, kh, kw, stride, padding):
    x = _v.check_array(x, "x", ndim=4)
    geo = _check_geometry(x.shape, kh, kw, stride, padding)
    return (x,) + geo


def _check_col2im_args(cols, x_shape, kh, kw, stride, padding):
    cols = _v.check_array(cols, "cols", ndim=2)
    x_shape = _check_x_shape(x_shape)
    geo = _check_geometry(x_shape, kh, kw, stride, padding, x_name="x_shape")
    (kh, kw), _, _, (OH, OW) = geo
    N, C = x_shape[0], x_shape[1]
    _v.check_shape(cols, "cols", (C * kh * kw, N * OH * OW))
    return (cols, x_shape) + geo


def _check_weights(x, w, x_name="x"):
    w = _v.check_array(w, "w", ndim=4)
    if w.shape[1] != x.shape[1]:
        raise ValueError("w must have in_channels = %d (w.shape[1]) to match %s's channels "
                         "(%s.shape[1] = %d): w has shape %s, %s has shape %s"
                         % (x.shape[1], x_name, x_name, x.shape[1], w.shape, x_name, x.shape))
    return w


def _check_conv_forward_args(x, w, b, stride, padding):
    x = _v.check_array(x, "x", ndim=4)
    w = _check_weights(x, w)
    pairs = [("x", x), ("w", w)]
    if b is not None:
        b = _v.check_array(b, "b", ndim=1)
        pairs.append(("b", b))
    _v.check_same_dtype(*pairs)
    if b is not None:
        _v.check_shape(b, "b", (w.shape[0],))
    geo = _check_geometry(x.shape, w.shape[2], w.shape[3], stride, padding,
                          k_name=("w.shape[2] (kh)", "w.shape[3] (kw)"))
    return (x, w, b) + geo


def _check_conv_backward_args(dy, x, w, stride, padding):
    x = _v.check_array(x, "x", ndim=4)
    w = _check_weights(x, w)
    dy = _v.check_array(dy, "dy", ndim=4)
    _v.check_same_dtype(("x", x), ("w", w), ("dy", dy))
    geo = _check_geometry(x.shape, w.shape[2], w.shape[3], stride, padding,
                          k_name=("w.shape[2] (kh)", "w.shape[3] (kw)"))
    OH, OW = geo[3]
    _v.check_shape(dy, "dy", (x.shape[0], w.shape[0], OH, OW))
    return (dy, x, w) + geo


# --------------------------------------------------------------------------- kernels
def im2col(x, kh, kw, stride, padding):
    """Unfold every kh x kw window of x into a column.

    x: (N, C, H, W) float32/float64, any layout.  stride, padding: int or (h, w) pair.
    Returns cols (C*kh*kw, N*OH*OW), same dtype: cols[c*kh*kw + i*kw + j, n*OH*OW + oh*OW + ow]
    = x[n, c, oh*sh + i - ph, ow*sw + j - pw], or 0 where that position is padding.
    """
    x, (kh, kw), (sh, sw), (ph, pw), (OH, OW) = _check_im2col_args(x, kh, kw, stride, padding)
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
    """
    cols, x_shape, (kh, kw), (sh, sw), (ph, pw), (OH, OW) = _check_col2im_args(
        cols, x_shape, kh, kw, stride, padding)
    N, C, H, W = x_shape
    c6 = cols.reshape(C, kh, kw, N, OH, OW)
    dxp = np.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            dxp[:, :, i:i + sh * (OH - 1) + 1:sh, j:j + sw * (OW - 1) + 1:sw] += \
                c6[:, i, j].transpose(1, 0, 2, 3)
    return np.ascontiguousarray(dxp[:, :, ph:ph + H, pw:pw + W])


def conv2d_forward(x, w, b, stride, padding):
    """y = conv2d(x, w) + b, as torch.nn.functional.conv2d (cross-correlation, no flip).

    x: (N, C, H, W); w: (OC, C, kh, kw) (torch layout); b: (OC,) or None; all the same float
    dtype.  stride, padding: int or (h, w).  Returns y (N, OC, OH, OW).
    Backward needs x and w (not y): conv2d_backward recomputes im2col(x).
    """
    x, w, b, (kh, kw), stride, padding, (OH, OW) = _check_conv_forward_args(
        x, w, b, stride, padding)
    N, OC = x.shape[0], w.shape[0]
    cols = im2col(x, kh, kw, stride, padding)             # (C*kh*kw, N*OH*OW)
    y = np.matmul(w.reshape(OC, -1), cols)                # (OC, N*OH*OW)
    if b is not None:
        y += b[:, None]
    return np.ascontiguousarray(y.reshape(OC, N, OH, OW).transpose(1, 0, 2, 3))


def conv2d_backward(dy, x, w, stride, padding, need_dx=True):
    """Gradients of conv2d_forward: returns (dx, dw, db).

    dy: (N, OC, OH, OW), the loss gradient w.r.t. y; x: (N, C, H, W) and w: (OC, C, kh, kw), the
    forward inputs.  dx has x's shape, dw w's shape, db is (OC,) (the bias gradient, returned
    whether or not the forward pass used a bias).  need_dx=False returns dx = None without
    computing it (a network's first layer never needs the gradient of its input).
    """
    dy, x, w, (kh, kw), stride, padding, (OH, OW) = _check_conv_backward_args(
        dy, x, w, stride, padding)
    need_dx = _v.check_bool(need_dx, "need_dx")
    OC = w.shape[0]
    dY = dy.transpose(1, 0, 2, 3).reshape(OC, -1)         # (OC, N*OH*OW)
    cols = im2col(x, kh, kw, stride, padding)             # (C*kh*kw, N*OH*OW)
    dw = np.matmul(dY, cols.T).reshape(w.shape)
    db = dy.sum(axis=(0, 2, 3))
    if not need_dx:
        return None, dw, db
    dcols = np.matmul(w.reshape(OC, -1).T, dY)            # (C*kh*kw, N*OH*OW)
    dx = col2im(dcols, x.shape, kh, kw, stride, padding)
    return dx, dw, db
