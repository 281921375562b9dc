"""Contract of the convolution family: what ``im2col``, ``col2im``, ``conv2d_forward`` and
``conv2d_backward`` accept, and the geometry they compute, called first by the compiled kernels
(``fastnn/kernels/_conv.pyx``) and by their NumPy twins (``fastnn/reference/conv.py``), so both
accept and reject the same inputs with the same messages.

Geometry, as ``torch.nn.functional.conv2d``: a kh x kw kernel with stride (sh, sw) and zero
padding (ph, pw) on an H x W plane gives OH = (H + 2*ph - kh) // sh + 1 output rows (likewise
OW); the kernel must fit in the padded input.

    >>> import numpy as np
    >>> g = im2col_args(np.zeros((1, 3, 5, 5)), 3, 3, 2, 1).geo
    >>> (g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.oh, g.ow)
    (3, 3, 2, 2, 1, 1, 3, 3)
"""
import collections
import numbers

from .. import _validate as _v

__all__ = ["MAX_HW", "Geometry", "Im2colArgs", "Col2imArgs", "ConvForwardArgs",
           "ConvBackwardArgs", "check_hw_pair", "check_x_shape", "geometry", "im2col_args",
           "col2im_args", "conv2d_forward_args", "conv2d_backward_args"]

# Upper bound for kernel sizes, strides and paddings: keeps every index product in the compiled
# loops far inside int64 (and Python ints convertible to C), so an absurd value is a ValueError
# naming the argument rather than an OverflowError.  No real layer comes near it.
MAX_HW = 2 ** 31 - 1

Geometry = collections.namedtuple("Geometry", "kh kw sh sw ph pw oh ow")
Geometry.__doc__ = """Kernel (kh, kw), stride (sh, sw), padding (ph, pw) and output plane
(oh, ow) of a convolution window, every one a checked Python int."""

Im2colArgs = collections.namedtuple("Im2colArgs", "x geo")
Col2imArgs = collections.namedtuple("Col2imArgs", "cols x_shape geo")
ConvForwardArgs = collections.namedtuple("ConvForwardArgs", "x w b activation geo")
ConvBackwardArgs = collections.namedtuple("ConvBackwardArgs", "dy x w need_dx geo")


def check_hw_pair(v, name, min):
    """An int or an (h, w) pair of ints, each in [min, MAX_HW] -> tuple of two ints."""
    pair = _v.check_pair(v, name, min=min)
    for k, p in enumerate(pair):
        if p > MAX_HW:
            label = name if not isinstance(v, (tuple, list)) else "%s[%d]" % (name, k)
            raise ValueError("%s must be <= %d, got %d" % (label, MAX_HW, p))
    return pair


def check_x_shape(x_shape, name="x_shape"):
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


def geometry(x_shape, kh, kw, stride, padding, x_name="x", k_name=("kh", "kw")):
    """Check stride (>= 1), padding (>= 0) and that the kernel fits in the padded input ->
    :class:`Geometry`.  ``k_name`` names where the kernel size came from (the kh/kw arguments,
    or w's shape for the convolution)."""
    kh = _v.check_int(kh, k_name[0], min=1, max=MAX_HW)
    kw = _v.check_int(kw, k_name[1], min=1, max=MAX_HW)
    sh, sw = check_hw_pair(stride, "stride", 1)
    ph, pw = check_hw_pair(padding, "padding", 0)
    H, W = x_shape[2], x_shape[3]
    if kh > H + 2 * ph:
        raise ValueError(
            "%s (%d) must be <= the padded input height H + 2*padding[0] = %d + 2*%d = %d "
            "(%s has shape %s)" % (k_name[0], kh, H, ph, H + 2 * ph, x_name, tuple(x_shape)))
    if kw > W + 2 * pw:
        raise ValueError(
            "%s (%d) must be <= the padded input width W + 2*padding[1] = %d + 2*%d = %d "
            "(%s has shape %s)" % (k_name[1], kw, W, pw, W + 2 * pw, x_name, tuple(x_shape)))
    return Geometry(kh, kw, sh, sw, ph, pw, (H + 2 * ph - kh) // sh + 1,
                    (W + 2 * pw - kw) // sw + 1)


def _check_padded(x_shape, geo, dtype):
    """The twins pad the input planes (``np.pad``, col2im's padded dx): that array must be
    possible too, or the two implementations would not accept the same inputs."""
    N, C, H, W = x_shape
    _v.check_alloc((N, C, H + 2 * geo.ph, W + 2 * geo.pw), dtype, "padding", "the padded input")


def _check_columns(C, N, geo, dtype, name):
    """im2col's columns (C*kh*kw, N*OH*OW), a result or the convolution's workspace."""
    _v.check_alloc((C * geo.kh * geo.kw, N * geo.oh * geo.ow), dtype, name, "the columns")


def _w_geometry(x, w, stride, padding):
    """The geometry of w (OC, C, kh, kw) sliding over x."""
    return geometry(x.shape, w.shape[2], w.shape[3], stride, padding,
                    k_name=("w.shape[2] (kh)", "w.shape[3] (kw)"))


def _check_weights(x, w, x_name="x"):
    w = _v.check_array(w, "w", ndim=4)
    if w.shape[1] != x.shape[1]:
        raise ValueError("w must have in_channels = %d (w.shape[1]) to match %s's channels "
                         "(%s.shape[1] = %d): w has shape %s, %s has shape %s"
                         % (x.shape[1], x_name, x_name, x.shape[1], w.shape, x_name, x.shape))
    return w


def im2col_args(x, kh, kw, stride, padding):
    """Check ``im2col(x, kh, kw, stride, padding)`` -> :class:`Im2colArgs`; x is (N, C, H, W)
    float32/float64, non-empty."""
    x = _v.check_array(x, "x", ndim=4)
    geo = geometry(x.shape, kh, kw, stride, padding)
    _check_padded(x.shape, geo, x.dtype)
    _check_columns(x.shape[1], x.shape[0], geo, x.dtype, "kh, kw and padding")
    return Im2colArgs(x, geo)


def col2im_args(cols, x_shape, kh, kw, stride, padding):
    """Check ``col2im(cols, x_shape, kh, kw, stride, padding)`` -> :class:`Col2imArgs`; cols
    must be (C*kh*kw, N*OH*OW) for x_shape (N, C, H, W)."""
    cols = _v.check_array(cols, "cols", ndim=2)
    x_shape = check_x_shape(x_shape)
    geo = geometry(x_shape, kh, kw, stride, padding, x_name="x_shape")
    N, C = x_shape[0], x_shape[1]
    _v.check_shape(cols, "cols", (C * geo.kh * geo.kw, N * geo.oh * geo.ow))
    _v.check_alloc(x_shape, cols.dtype, "x_shape", "dx")
    _check_padded(x_shape, geo, cols.dtype)
    return Col2imArgs(cols, x_shape, geo)


def conv2d_forward_args(x, w, b, stride, padding, activation):
    """Check ``conv2d_forward(x, w, b, stride, padding, activation)`` ->
    :class:`ConvForwardArgs`: x (N, C, H, W), w (OC, C, kh, kw), b (OC,) or None, one float
    dtype; activation None, 'relu', 'sigmoid', 'tanh' or 'elu'."""
    x = _v.check_array(x, "x", ndim=4)
    w = _check_weights(x, w)
    pairs = [("x", x), ("w", w)]
    if b is not None:
        b = _v.check_array(b, "b", ndim=1)
        pairs.append(("b", b))
    _v.check_same_dtype(*pairs)
    if b is not None:
        _v.check_shape(b, "b", (w.shape[0],))
    activation = _v.check_activation(activation)
    geo = _w_geometry(x, w, stride, padding)
    _check_padded(x.shape, geo, x.dtype)
    _check_columns(x.shape[1], x.shape[0], geo, x.dtype, "w's kernel size and padding")
    _v.check_alloc((x.shape[0], w.shape[0], geo.oh, geo.ow), x.dtype, "padding", "y")
    return ConvForwardArgs(x, w, b, activation, geo)


def conv2d_backward_args(dy, x, w, stride, padding, need_dx):
    """Check ``conv2d_backward(dy, x, w, stride, padding, need_dx)`` ->
    :class:`ConvBackwardArgs`: dy must be (N, OC, OH, OW) for x and w; need_dx a bool."""
    x = _v.check_array(x, "x", ndim=4)
    w = _check_weights(x, w)
    dy = _v.check_array(dy, "dy", ndim=4)
    _v.check_same_dtype(("x", x), ("w", w), ("dy", dy))
    geo = _w_geometry(x, w, stride, padding)
    _v.check_shape(dy, "dy", (x.shape[0], w.shape[0], geo.oh, geo.ow))
    _check_padded(x.shape, geo, x.dtype)
    _check_columns(x.shape[1], x.shape[0], geo, x.dtype, "w's kernel size and padding")
    need_dx = _v.check_bool(need_dx, "need_dx")
    return ConvBackwardArgs(dy, x, w, need_dx, geo)
