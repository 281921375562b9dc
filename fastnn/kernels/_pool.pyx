# Design:
#
# 2-D max pooling (no padding, floor mode) returning torch-style argmax, and its backward
# scatter.  The NumPy twins in fastnn/reference/pool.py are the readable version; this module
# imports their argument checks (`_check_pool_*`), so both raise the same errors.
#
# * Validate first.  Ranks, dtypes, pool/stride, the fit of the window and, for backward, every
#   argmax entry (must lie in [0, H*W)) are checked in Python before nogil code runs: bounds
#   checks are off below and backward writes through argmax, so one bad index would write
#   outside dx.  Non-contiguous / Fortran inputs are copied to C order once.
# * Threads over (n, c) planes.  prange(schedule="static") gives each thread a contiguous block
#   of planes; a plane is read and written by one thread only.  Forward is pure comparisons;
#   backward adds each plane's dy in output (row-major) order, which is the order np.add.at
#   uses in the twin.  So both are bit-identical to the twin and at any thread count.
# * Comparison rule = torch's CPU kernel: best starts at -inf with the window's first index,
#   and a value is taken when `v > best or v != v` (v != v is isnan: no -ffast-math here).
#   Strict > keeps the first of equal values; a NaN always wins, so NaN propagates.
# * Branch-free inner loop.  The per-offset row update is a few lines of C (verbatim block
#   below) that select with an all-ones/all-zeros bit mask: on random data the comparison is a
#   coin flip, and both an `if` and a `take ? v : cur` (which GCC compiles back into branches)
#   mispredicted about half the time: 6.96 ms -> 2.44 ms on the benchmark shape (2 threads,
#   docs/kernels/pool.md).
# * Backward needs only argmax and x's shape: dx is zeroed plane by plane inside the parallel
#   loop (the zeroing is then spread over threads and done where the plane is about to be hot).
from cython.parallel cimport prange
from cython cimport floating
from libc.stdint cimport int64_t
from libc.string cimport memset
from libc.math cimport INFINITY

import numpy as np

from fastnn._config import get_num_threads
from fastnn.reference.pool import _check_pool_forward_args, _check_pool_backward_args

cdef extern from *:
    """
    #include <stdint.h>
    #include <stddef.h>
    #include <string.h>
    /* One window offset applied to a row of OW outputs.  The select is done on bits with an
       all-ones/all-zeros mask: written as `take ? v : cur`, GCC turns it back into branches and
       conditional stores, and with random data `take` is a coin flip (about half mispredicted:
       that version ran 3x slower).  Same comparison, same order per output as the NumPy twin.
       The sw == 1 copy of the loop has a unit-stride load, which the compiler can vectorise. */
    #define FNN_POOL_STEP(T, UT, LOAD)                                                     \
        {                                                                                  \
            T v = LOAD, cur = yr[ow];                                                      \
            int64_t m = -(int64_t)((v > cur) | (v != v));  /* v != v: NaN wins, as torch */ \
            UT vb, cb, rb;                                                                 \
            memcpy(&vb, &v, sizeof(T));                                                    \
            memcpy(&cb, &cur, sizeof(T));                                                  \
            rb = (vb & (UT)m) | (cb & ~(UT)m);                                             \
            memcpy(&yr[ow], &rb, sizeof(T));                                               \
            ar[ow] = ((off + (int64_t)(ow * sw)) & m) | (ar[ow] & ~m);                     \
        }
    #define FNN_POOL_ROW(NAME, T, UT)                                                      \
    static inline void NAME(const T *restrict row, T *restrict yr, int64_t *restrict ar,    \
                            ptrdiff_t OW, ptrdiff_t sw, int64_t off)                        \
    {                                                                                      \
        ptrdiff_t ow;                                                                      \
        if (sw == 1) {                                                                     \
            for (ow = 0; ow < OW; ++ow) FNN_POOL_STEP(T, UT, row[ow])                      \
        } else {                                                                           \
            for (ow = 0; ow < OW; ++ow) FNN_POOL_STEP(T, UT, row[ow * sw])                 \
        }                                                                                  \
    }
    FNN_POOL_ROW(fnn_pool_row_f, float, uint32_t)
    FNN_POOL_ROW(fnn_pool_row_d, double, uint64_t)
    """
    void fnn_pool_row_f(const float *row, float *yr, int64_t *ar, Py_ssize_t OW,
                        Py_ssize_t sw, int64_t off) noexcept nogil
    void fnn_pool_row_d(const double *row, double *yr, int64_t *ar, Py_ssize_t OW,
                        Py_ssize_t sw, int64_t off) noexcept nogil

__all__ = ["maxpool2d_forward", "maxpool2d_backward"]


cdef inline void _pool_plane(const floating *xp, floating *yp, int64_t *ap, Py_ssize_t W,
                             Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t ph, Py_ssize_t pw,
                             Py_ssize_t sh, Py_ssize_t sw) noexcept nogil:
    """One (n, c) plane.  Loop order: output row, window offset (i, j), output column.  Each
    output still sees its window in row-major order (so ties and NaN resolve as torch), but the
    innermost loop (C, fnn_pool_row_*) runs along a row of outputs with a branch-free select
    (see the Design note)."""
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
                    fnn_pool_row_f(xp + off, yr, ar, OW, sw, off)
                else:
                    fnn_pool_row_d(xp + off, yr, ar, OW, sw, off)


cdef inline void _unpool_plane(const floating *dyp, const int64_t *ap, floating *dxp,
                               Py_ssize_t HW, Py_ssize_t P) noexcept nogil:
    cdef Py_ssize_t k
    memset(dxp, 0, HW * sizeof(floating))
    for k in range(P):
        dxp[ap[k]] += dyp[k]


cdef void _pool_fwd(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] y,
                    int64_t[:, :, :, ::1] am, Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t sh,
                    Py_ssize_t sw, int nt):
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], W = x.shape[3]
    cdef Py_ssize_t OH = y.shape[2], OW = y.shape[3]
    cdef Py_ssize_t plane, n, c
    for plane in prange(N * C, schedule="static", nogil=True, num_threads=nt):
        n = plane // C
        c = plane - n * C
        _pool_plane(&x[n, c, 0, 0], &y[n, c, 0, 0], &am[n, c, 0, 0], W, OH, OW, ph, pw, sh, sw)


cdef void _pool_bwd(const floating[:, :, :, ::1] dy, const int64_t[:, :, :, ::1] am,
                    floating[:, :, :, ::1] dx, int nt):
    cdef Py_ssize_t N = dx.shape[0], C = dx.shape[1], HW = dx.shape[2] * dx.shape[3]
    cdef Py_ssize_t P = dy.shape[2] * dy.shape[3]
    cdef Py_ssize_t plane, n, c
    for plane in prange(N * C, schedule="static", nogil=True, num_threads=nt):
        n = plane // C
        c = plane - n * C
        _unpool_plane(&dy[n, c, 0, 0], &am[n, c, 0, 0], &dx[n, c, 0, 0], HW, P)


def maxpool2d_forward(x, pool, stride=None):
    """Max pooling without padding (windows that do not fit are dropped, torch's floor mode).

    x: (N, C, H, W) float32/float64, any layout; pool: int or (ph, pw); stride: int, (sh, sw)
    or None (= pool).  Returns (y, argmax): y (N, C, OH, OW) in x's dtype, OH = (H - ph)//sh + 1,
    and argmax int64 of y's shape holding the flat index h*W + w of each window's maximum in its
    input plane (torch's return_indices).  Ties -> the first in row-major window order; a NaN
    in the window wins (propagates), as torch.
    """
    x, (ph, pw), (sh, sw), (OH, OW) = _check_pool_forward_args(x, pool, stride)
    x = np.ascontiguousarray(x)
    N, C = x.shape[0], x.shape[1]
    y = np.empty((N, C, OH, OW), dtype=x.dtype)
    argmax = np.empty((N, C, OH, OW), dtype=np.int64)
    cdef int nt = get_num_threads()
    if x.dtype == np.float32:
        _pool_fwd[float](x, y, argmax, ph, pw, sh, sw, nt)
    else:
        _pool_fwd[double](x, y, argmax, ph, pw, sh, sw, nt)
    return y, argmax


def maxpool2d_backward(dy, argmax, x_shape):
    """Scatter-add dy to the inputs that won: dx (x_shape, dy's dtype) with
    dx[n, c].flat[argmax[n, c, k]] += dy[n, c, k].  argmax: any integer dtype, dy's shape,
    every entry in [0, H*W) (ValueError naming argmax otherwise)."""
    dy, argmax, x_shape = _check_pool_backward_args(dy, argmax, x_shape)
    dy = np.ascontiguousarray(dy)
    dx = np.empty(x_shape, dtype=dy.dtype)
    cdef int nt = get_num_threads()
    if dy.dtype == np.float32:
        _pool_bwd[float](dy, argmax, dx, nt)
    else:
        _pool_bwd[double](dy, argmax, dx, nt)
    return dx
