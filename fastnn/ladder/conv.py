"""The convolution ladder: the seven-loop direct convolution, then im2col + GEMM, then the
compiled convolution.

Every rung has ``fastnn.kernels.conv2d_forward``'s signature, ``(x, w, b, stride, padding,
activation=None)`` with x (N, C, H, W), w (OC, C, kh, kw), and returns y (N, OC, OH, OW):

    1 direct        seven Python loops (n, oc, oh, ow, c, i, j): the definition, tiny sizes
    2 im2col-numpy  every window unfolded into a column (fastnn.reference.im2col), then one
                    matrix product by NumPy's BLAS: the NumPy twin's algorithm
    3 im2col-gemm   the compiled im2col and fastnn's compiled GEMM, called from Python
                    (the columns matrix is built whole, then multiplied)
    4 compiled      kernels.conv2d_forward on 1 thread: im2col and GEMM fused block by block
                    in C, bias and activation in the GEMM's epilogue
    5 threads       the same on fastnn.get_num_threads() threads

    >>> import numpy as np
    >>> float(direct(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)), None, 1, 0)[0, 0, 1, 1])
    4.0

docs/kernels/conv.md walks the rungs; ``fastnn bench ladder conv`` times them.
"""
import dataclasses
from typing import Callable

import numpy as np

from .. import kernels, reference, threads
from ..contracts import conv as contract
from ..reference.gemm import apply_activation
from .gemm import all_threads

__all__ = ["LAB_X", "LAB_W", "Rung", "RUNGS", "direct", "im2col_numpy", "im2col_gemm", "compiled",
           "flops"]


def direct(x, w, b, stride, padding, activation=None):
    """Rung 1: the definition, ``y[n, oc, oh, ow] = b[oc] + sum over c, i, j of
    w[oc, c, i, j] * x[n, c, oh*sh + i - ph, ow*sw + j - pw]`` (zero outside x), in seven loops
    with Python floats."""
    args = contract.conv2d_forward_args(x, w, b, stride, padding, activation)
    x, w, g = args.x, args.w, args.geo
    n_, c_, h_, w_ = x.shape
    oc_ = w.shape[0]
    xs, ws = x.tolist(), w.tolist()
    y = np.zeros((n_, oc_, g.oh, g.ow), x.dtype)
    for n in range(n_):
        for oc in range(oc_):
            for oh in range(g.oh):
                for ow in range(g.ow):
                    acc = 0.0 if args.b is None else float(args.b[oc])
                    for c in range(c_):
                        for i in range(g.kh):
                            r = oh * g.sh + i - g.ph
                            if not 0 <= r < h_:
                                continue
                            for j in range(g.kw):
                                s = ow * g.sw + j - g.pw
                                if 0 <= s < w_:
                                    acc += ws[oc][c][i][j] * xs[n][c][r][s]
                    y[n, oc, oh, ow] = acc
    return apply_activation(y, args.activation)


def _im2col_then(im2col, matmul, x, w, b, stride, padding, activation):
    args = contract.conv2d_forward_args(x, w, b, stride, padding, activation)
    x, w, g = args.x, args.w, args.geo
    n_, oc_ = x.shape[0], w.shape[0]
    cols = im2col(x, g.kh, g.kw, (g.sh, g.sw), (g.ph, g.pw))       # (C*kh*kw, N*OH*OW)
    y = matmul(np.ascontiguousarray(w.reshape(oc_, -1)), cols)      # (OC, N*OH*OW)
    if args.b is not None:
        y += args.b[:, None]
    y = apply_activation(y, args.activation)
    return np.ascontiguousarray(y.reshape(oc_, n_, g.oh, g.ow).transpose(1, 0, 2, 3))


def im2col_numpy(x, w, b, stride, padding, activation=None):
    """Rung 2: im2col in NumPy, then one product by NumPy's matmul (its BLAS): a convolution is
    a GEMM of the (OC, C*kh*kw) filters by the (C*kh*kw, N*OH*OW) columns."""
    return _im2col_then(reference.im2col, np.matmul, x, w, b, stride, padding, activation)


def im2col_gemm(x, w, b, stride, padding, activation=None):
    """Rung 3: the compiled im2col and the compiled GEMM (fastnn.kernels), one call each, on 1
    thread: the whole columns matrix is written to memory, then read back by the GEMM."""
    with threads(1):
        return _im2col_then(kernels.im2col, kernels.matmul, x, w, b, stride, padding,
                            activation)


def compiled(num_threads=1):
    """A rung calling ``kernels.conv2d_forward`` on ``num_threads`` threads (None: all)."""
    def rung(x, w, b, stride, padding, activation=None):
        with threads(num_threads or all_threads()):
            return kernels.conv2d_forward(x, w, b, stride, padding, activation)
    rung.__name__ = "compiled_%s" % (num_threads or "all")
    return rung


def flops(x_shape, w_shape, stride, padding):
    """2 * N * OC * OH * OW * C * kh * kw: the multiply-adds of one forward pass, counted 2."""
    g = contract.conv2d_forward_args(np.zeros(x_shape, np.float32),
                                     np.zeros(w_shape, np.float32), None, stride, padding,
                                     None).geo
    n_, c_ = x_shape[:2]
    return 2.0 * n_ * w_shape[0] * g.oh * g.ow * c_ * g.kh * g.kw


#: the lab CNN's second convolution at batch 32: x (N, C, H, W), w (OC, C, kh, kw)
LAB_X, LAB_W = (32, 32, 14, 14), (64, 32, 3, 3)


@dataclasses.dataclass(frozen=True)
class Rung:
    """One rung: ``number``, ``name``, ``fn`` (conv2d_forward's signature), ``idea``, and the
    ``x_shape`` and ``w_shape`` ``fastnn bench ladder conv`` times it at, 3x3 kernels, stride
    1, padding 1: the lab CNN's second convolution (32 images, 32 -> 64 channels on 14 x 14
    maps), and a smaller one (1 image, 8 -> 16 channels) for the Python loops."""
    number: int
    name: str
    fn: Callable
    idea: str
    x_shape: tuple = LAB_X
    w_shape: tuple = LAB_W


RUNGS = (
    Rung(1, "direct", direct, "seven Python loops", (1, 8, 14, 14), (16, 8, 3, 3)),
    Rung(2, "im2col-numpy", im2col_numpy, "im2col + NumPy's matmul (the twin)"),
    Rung(3, "im2col-gemm", im2col_gemm, "compiled im2col, then compiled GEMM, 1 thread"),
    Rung(4, "compiled", compiled(1), "kernels.conv2d_forward, 1 thread"),
    Rung(5, "threads", compiled(None), "kernels.conv2d_forward, all fastnn threads"),
)
