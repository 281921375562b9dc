# Design:
#
# 2-D max pooling (no padding, floor mode) returning torch-style argmax, and its backward
# scatter.  Three files: the contract (fastnn/contracts/pool.py: every argument check and the
# output plane, called first here and by the NumPy twin in fastnn/reference/pool.py, so both
# raise the same errors), this module (the prange loops), and the C inner loop of the forward
# pass (src_c/fnn_pool.h, declared in _pool.pxd).
#
# * Validate first.  Ranks, dtypes, pool/stride, the fit of the window and, for backward, every
#   argmax entry (must lie in [0, H*W)) are checked in Python before nogil code runs: bounds
#   checks are off below.  Non-contiguous / Fortran inputs are copied to C order once.
# * Indices from the caller are re-checked where they are used.  Backward writes dx through
#   argmax, which may be the caller's memory: another Python thread can change it after the
#   contract checked it.  So the scatter reads each index once, writes only when it lies in
#   [0, H*W), counts the others, and a non-zero count is a ValueError after the loop (never a
#   write outside dx).  The test costs one compare per output.
# * Threads over (n, c) planes, never more threads than planes.  prange(schedule="static")
#   gives each thread a contiguous block of planes (one thread: a plain loop, no OpenMP region);
#   a plane is read and written by one thread only.  Forward is pure comparisons; backward adds
#   each plane's dy in output (row-major) order, which is the order np.add.at uses in the twin.
#   So both are bit-identical to the twin and at any thread count.
# * Comparison rule = torch's CPU kernel: best starts at -inf with the window's first index,
#   and a value is taken when `v > best or v != v` (v != v is isnan: no -ffast-math here).
#   Strict > keeps the first of equal values; a NaN always wins, so NaN propagates.
# * Branch-free inner loop.  The per-offset row update (src_c/fnn_pool.h) selects with an
#   all-ones/all-zeros bit mask: on random data the comparison is a coin flip, and branches
#   mispredict about half of the time (docs/kernels/pool.md has the timings).
# * Backward needs only argmax and x's shape: dx is zeroed plane by plane inside the parallel
#   loop (the zeroing is then spread over threads and done where the plane is about to be hot).
# * 2x2 windows with stride 2 (every CNN here) have their own float32 planes in C, with AVX2 and
#   AVX-512 variants chosen by the run-time SIMD level (fastnn.set_simd): forward compares two
#   input rows' even and odd columns a vector at a time; backward writes each dx plane once
#   (zeroing fused in) when every argmax entry lies in its own output's 2x2 cell, and a plane
#   with an entry elsewhere (legal, if unusual) is redone by the general scatter below, which
#   re-checks each index.  Same comparisons in the same order: the same bits as the general
#   loops and the twin (src_c/fnn_pool.h explains both).
from cython.parallel cimport prange
from cython cimport floating
from libc.stdint cimport int64_t
from libc.string cimport memset
from libc.math cimport INFINITY

from fastnn.kernels._runtime cimport simd_level

import numpy as np

from fastnn._config import get_num_threads
from fastnn.contracts import pool as contract

__all__ = ["maxpool2d_forward", "maxpool2d_backward"]


cdef inline void _pool_plane(const floating *xp, floating *yp, int64_t *ap, Py_ssize_t W,
                             Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t ph, Py_ssize_t pw,
                             Py_ssize_t sh, Py_ssize_t sw) noexcept nogil:
    """One (n, c) plane.  Loop order: output row, window offset (i, j), output column.  Each
    output still sees its window in row-major order (so ties and NaN resolve as torch), but the
    innermost loop (C, fnn_maxpool_row_*) runs along a row of outputs with a branch-free
    select."""
    cdef Py_ssize_t oh, ow, i, j, base, off
    cdef floating *yr
    cdef int64_t *ar
    for oh in range(OH):
        yr = yp + oh * OW
        ar = ap + oh * OW
        base = oh * sh * W
        for ow in range(OW):
            yr[ow] = -INFINITY              # torch's start: -inf at the window's first index
            ar[ow] = base + ow * sw
        for i in range(ph):
            for j in range(pw):
                off = base + i * W + j
                if floating is float:
                    fnn_maxpool_row_s(xp + off, yr, ar, OW, sw, off)
                else:
                    fnn_maxpool_row_d(xp + off, yr, ar, OW, sw, off)


cdef inline Py_ssize_t _unpool_plane(const floating *dyp, const int64_t *ap, floating *dxp,
                                     Py_ssize_t HW, Py_ssize_t P) noexcept nogil:
    """dxp (HW values, zeroed here) += dyp[k] at ap[k] for k in [0, P).  Each index is read once
    and used only when it lies in [0, HW): returns how many did not (they are skipped)."""
    cdef Py_ssize_t k, bad = 0
    cdef int64_t idx
    memset(dxp, 0, HW * sizeof(floating))
    for k in range(P):
        idx = ap[k]                         # the value checked is the value used
        if idx < 0 or idx >= HW:
            bad += 1
        else:
            dxp[idx] += dyp[k]
    return bad


# The 2x2 C planes compute the int32 part of each index, 2*ow + W + 1, in 32 bits.
cdef Py_ssize_t _MAX_2X2_W = 1 << 30


cdef inline void _pool_fwd_plane(const floating *xp, floating *yp, int64_t *ap, Py_ssize_t W,
                                 Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t ph, Py_ssize_t pw,
                                 Py_ssize_t sh, Py_ssize_t sw, bint two_by_two,
                                 int simd) noexcept nogil:
    if floating is float:
        if two_by_two:
            fnn_maxpool2x2_plane_s(simd, xp, yp, ap, W, OH, OW)
            return
    _pool_plane(xp, yp, ap, W, OH, OW, ph, pw, sh, sw)


cdef void _pool_fwd(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] y,
                    int64_t[:, :, :, ::1] am, Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t sh,
                    Py_ssize_t sw, int nt):
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], W = x.shape[3]
    cdef Py_ssize_t OH = y.shape[2], OW = y.shape[3]
    cdef Py_ssize_t plane, n, c
    cdef int simd = simd_level()
    cdef bint two_by_two = (floating is float and ph == 2 and pw == 2 and sh == 2 and sw == 2
                            and W < _MAX_2X2_W)
    # one thread: a plain loop, no OpenMP region (docs/threads.md, "One thread: no region")
    if nt > 1:
        for plane in prange(N * C, schedule="static", nogil=True, num_threads=nt):
            n = plane // C
            c = plane - n * C
            _pool_fwd_plane(&x[n, c, 0, 0], &y[n, c, 0, 0], &am[n, c, 0, 0], W, OH, OW, ph, pw,
                            sh, sw, two_by_two, simd)
    else:
        with nogil:
            for plane in range(N * C):
                n = plane // C
                c = plane - n * C
                _pool_fwd_plane(&x[n, c, 0, 0], &y[n, c, 0, 0], &am[n, c, 0, 0], W, OH, OW, ph,
                                pw, sh, sw, two_by_two, simd)


cdef inline Py_ssize_t _pool_bwd_plane(const floating *dyp, const int64_t *ap, floating *dxp,
                                       Py_ssize_t H, Py_ssize_t W, Py_ssize_t OH, Py_ssize_t OW,
                                       bint two_by_two, int simd) noexcept nogil:
    if floating is float:
        if two_by_two:
            if fnn_unpool2x2_plane_s(simd, dyp, ap, dxp, H, W, OH, OW) == 0:
                return 0
    return _unpool_plane(dyp, ap, dxp, H * W, OH * OW)


# The plane loop has _pool_fwd's shape (the 2x2 float plane first); each direction stays its own
# loop, as the Design notes above describe.
cdef Py_ssize_t _pool_bwd(const floating[:, :, :, ::1] dy, const int64_t[:, :, :, ::1] am,
                          floating[:, :, :, ::1] dx, int nt):
    """Every plane's scatter; returns the number of argmax entries found out of range."""
    cdef Py_ssize_t N = dx.shape[0], C = dx.shape[1], H = dx.shape[2], W = dx.shape[3]
    cdef Py_ssize_t OH = dy.shape[2], OW = dy.shape[3]
    cdef Py_ssize_t plane, n, c, bad = 0
    cdef int simd = simd_level()
    # the shape of a 2x2 / stride 2 pooling (whatever produced argmax: the C plane checks that
    # each entry is in its own cell, and a plane where one is not is redone by the scatter)
    cdef bint two_by_two = (floating is float and OH == H // 2 and OW == W // 2
                            and W < _MAX_2X2_W)
    if nt > 1:
        for plane in prange(N * C, schedule="static", nogil=True, num_threads=nt):
            n = plane // C
            c = plane - n * C
            bad += _pool_bwd_plane(&dy[n, c, 0, 0], &am[n, c, 0, 0], &dx[n, c, 0, 0], H, W, OH,
                                   OW, two_by_two, simd)
    else:
        with nogil:
            for plane in range(N * C):
                n = plane // C
                c = plane - n * C
                bad += _pool_bwd_plane(&dy[n, c, 0, 0], &am[n, c, 0, 0], &dx[n, c, 0, 0], H, W,
                                       OH, OW, two_by_two, simd)
    return bad


def maxpool2d_forward(x, pool, stride=None):
    """Max pooling without padding (windows that do not fit are dropped, torch's floor mode).

    x: (N, C, H, W) float32/float64, any layout; pool: int or (ph, pw); stride: int, (sh, sw)
    or None (= pool).  Returns (y, argmax): y (N, C, OH, OW) in x's dtype, OH = (H - ph)//sh + 1,
    and argmax int64 of y's shape holding the flat index h*W + w of each window's maximum in its
    input plane (torch's return_indices).  Ties -> the first in row-major window order; a NaN
    in the window wins (propagates), as torch.

        >>> import numpy as np
        >>> y, argmax = maxpool2d_forward(np.array([[[[1.0, 3.0], [3.0, 2.0]]]]), 2)
        >>> y.ravel(), argmax.ravel()
        (array([3.]), array([1]))
    """
    args = contract.maxpool2d_forward_args(x, pool, stride)
    x = np.ascontiguousarray(args.x)
    N, C = x.shape[0], x.shape[1]
    y = np.empty((N, C, args.oh, args.ow), dtype=x.dtype)
    argmax = np.empty((N, C, args.oh, args.ow), dtype=np.int64)
    cdef int nt = min(get_num_threads(), N * C)      # one plane is the smallest unit of work
    if x.dtype == np.float32:
        _pool_fwd[float](x, y, argmax, args.ph, args.pw, args.sh, args.sw, nt)
    else:
        _pool_fwd[double](x, y, argmax, args.ph, args.pw, args.sh, args.sw, nt)
    return y, argmax


def maxpool2d_backward(dy, argmax, x_shape):
    """Scatter-add dy to the inputs that won: dx (x_shape, dy's dtype) with
    dx[n, c].flat[argmax[n, c, k]] += dy[n, c, k].  argmax: any integer dtype, dy's shape,
    every entry in [0, H*W) (ValueError naming argmax otherwise, also when another thread puts
    an entry out of range while this runs).

        >>> import numpy as np
        >>> maxpool2d_backward(np.array([[[[5.0]]]]), np.array([[[[1]]]]), (1, 1, 2, 2))[0, 0]
        array([[0., 5.],
               [0., 0.]])
    """
    args = contract.maxpool2d_backward_args(dy, argmax, x_shape)
    dy = np.ascontiguousarray(args.dy)
    N, C, H, W = args.x_shape
    dx = np.empty(args.x_shape, dtype=dy.dtype)
    cdef int nt = min(get_num_threads(), N * C)      # one plane is the smallest unit of work
    cdef Py_ssize_t bad
    if dy.dtype == np.float32:
        bad = _pool_bwd[float](dy, args.argmax, dx, nt)
    else:
        bad = _pool_bwd[double](dy, args.argmax, dx, nt)
    if bad:
        raise ValueError("argmax must hold flat indices h*W + w in [0, H*W) = [0, %d) for "
                         "x_shape %s, but %d entries were outside it when maxpool2d_backward "
                         "read them (argmax was changed while the kernel ran; nothing was "
                         "written for them)" % (H * W, args.x_shape, bad))
    return dx
