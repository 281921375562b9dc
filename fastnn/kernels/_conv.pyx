# Design:
#
# Size: about 700 lines, kept whole: forward and backward choose between the im2col + GEMM
# path and the direct one, and share the packing and workspace; splitting would scatter that.
#
# 2-D convolution as im2col + fastnn's batched C GEMM.  Three files: the contract
# (fastnn/contracts/conv.py: every argument check and the geometry, called first here and by the
# NumPy twins in fastnn/reference/conv.py, so both raise the same errors), this module (the
# prange loops and the GEMM calls) and the GEMM, which lives in fastnn.kernels._gemm and is
# called through its cimported fused-type `gemm` (fastnn/kernels/_gemm.pxd): it is compiled
# once.
#
# * Validate first.  Every public function checks ranks, dtypes, shapes, stride/padding and
#   that the kernel fits, in Python, before any nogil code; bounds checking is off below, so
#   nothing unchecked may reach it.  Non-contiguous or Fortran inputs are copied to C order
#   once (np.ascontiguousarray; free when already contiguous).
# * Layout.  cols is (C*kh*kw, N*P) with P = OH*OW: row r = c*kh*kw + i*kw + j is kernel tap
#   (c, i, j), column n*P + oh*OW + ow is one output pixel.  For sample n the block
#   cols[:, n*P:(n+1)*P] is a strided matrix (row stride N*P), so the whole forward pass is ONE
#   batched GEMM call:  y[n] (OC x P) = act(W (OC x CKK) @ cols[:, n*P:(n+1)*P] + b per row),
#   batch strides: A 0 (W shared), B P, C OC*P.  Bias and activation are fused into the GEMM
#   epilogue, exactly as matmul_bias does for a dense layer.
# * Implicit im2col (the default): the forward GEMM and the weight-gradient GEMM never read
#   cols from memory.  They go through gemm_src with a packing source (src_c/fnn_conv_pack.h)
#   that packs their im2col panels straight from x: the forward's B panels (cols_n, columns
#   are output pixels) and dW's cols panels (k runs over pixels; from a channel-last copy of
#   x, see Backward).  Same values in the same k
#   order as packing them from the materialised cols, so the same bits; set_conv_algorithm(
#   "im2col") selects the materialised path below (tests compare the two bit for bit;
#   bench/ab_conv_im2col.py times them).  The float32 panels at width stride 1 are written by
#   masked vector moves (src_c/fnn_conv_pack_simd.h, AVX-512 or AVX2 by the SIMD level): the
#   same values.  cols is then only the buffer the columns path of dx writes dcols into.
# * In-place operands (float32, the default settings): where the layer allows it the GEMM's
#   micro-kernels read their im2col operand where it lies, so not even its panels are packed.
#   Forward and dx by convolution, at an AVX2 or AVX-512 level, stride 1 and OW == W: each
#   tap's row of 8 or 16 pixels is one masked vector load from x (src_c/fnn_conv_masked.h,
#   _forward_masked).  dW at AVX-512 with C % 16 == 0 or AVX2 with C % 8 == 0: dy's rows are
#   broadcast as they are and cols^T's rows are vector loads from a channel-last copy of x,
#   through a table of where each pixel's taps read (src_c/fnn_conv_dw_inplace.h,
#   _dw_inplace).  The same FMA chains as the packing GEMM, so the same bits;
#   set_conv_algorithm("packed") keeps the packing GEMM (tests compare the two bit for bit;
#   bench/ab_conv_im2col.py times them).
# * Workspace.  cols is large (kh*kw times the input at stride 1) and only lives for one call.
#   It lives in a thread-local, grow-only buffer (threading.local: two Python threads never
#   share one) so its pages are faulted in once, not on every call: above glibc's mmap
#   threshold every fresh block is new memory (docs/kernels/conv.md has the measurement).  The
#   buffer is kept until the thread ends; `_release_workspace()` frees the calling thread's.
# * Threads: every prange gets min(fastnn.get_num_threads(), its number of work units), so no
#   thread is woken that has nothing to do; the GEMM caps its own count.
# * im2col threads: prange over (row r, sample n) pairs; pair (r, n) writes the contiguous run
#   cols[r, n*P:(n+1)*P], and consecutive pairs are consecutive in memory, so the static
#   schedule gives each thread one contiguous block of cols.  Pure copies: thread-count
#   independent.  The innermost helper splits each output row into [zeros | copy | zeros] once
#   per tap, so the copy loop has no padding test.
# * col2im threads: prange over (n, c) input planes; one thread owns a plane and adds every tap
#   to it in the fixed (i, j, oh, ow) order, so no two threads write one element and the sum
#   order never depends on the thread count.  It is the same order as the NumPy twin's
#   slice-adds, so col2im is bit-identical to the twin.
# * Backward (default settings):
#     dw (OC x CKK) = dY (OC x N*P) @ cols^T : ONE GEMM with K = N*P, run as its transpose
#       dw^T = cols @ dY^T (CKK rows tile evenly, OC often does not) whose operands are both
#       packed from arrays: cols, rows in tap-major order, from a channel-last copy of x (a
#       pixel's taps are then runs of channels: no transposes per tap), and dY^T from dy
#       (dy[n, oc, p] is a row-major OC x P block per image), so neither cols nor a transposed
#       copy of dy exists; a single GEMM keeps each dw element's whole sum in one thread, so no
#       cross-thread reduction is needed and dw is deterministic.
#     db[oc] = sum over n, p of dy: prange over oc, serial sum inside (deterministic).
#     dx, at stride 1 with padding <= kernel - 1 and C >= DX_CONVOLUTION_MIN_CHANNELS: the
#       forward convolution of dy with the kernel flipped and its channel axes swapped
#       (_dx_convolution), through the same implicit-im2col GEMM as the forward pass: no
#       column gradients, no col2im.  Otherwise (strides > 1, wide padding, few channels,
#       where that GEMM's C rows would fill too little of a micro-tile):
#       dcols = W^T @ dy[n] per sample, one batched GEMM (W^T read through swapped strides)
#       into the cols workspace, then col2im -> dx.
#   The setting 'im2col' keeps the materialised path: cols = im2col(x) again, dY = dy
#   transposed into a workspace (fused with db's sum), the same GEMMs reading them, and for
#   dx by convolution the materialised im2col of dy: the same bits as the default.
#   The activation's derivative is not here: the layer computes dz from dy and the kept output
#   (fastnn/layers), as for Dense.
# * The GEMM itself threads over output tiles and never splits a dot product, so every output
#   here is bit-identical at any thread count.
# * Direct path (src_c/fnn_conv_direct.h, declared in _conv.pxd) for layers where K = C*kh*kw
#   is tiny: float32, K <= FNN_CONV_DIRECT_MAX_K (12) and stride 1 along the width (the rule is
#   `conv_algorithm`; a network's first layer, 1 -> 32 channels 3x3, has K = 9).  With K = 9 the
#   GEMM spends more time packing and on edge tiles than on its 9 FMAs per output; the direct
#   kernels copy the K input rows under a few output rows into a small per-unit buffer (in
#   cache, never the whole im2col matrix) and run each channel's K FMAs on vectors of output
#   pixels.  Forward: prange over blocks of output rows of one image, each computing every
#   channel.  dw and db: prange over blocks of output channels
#   (16 at AVX-512, 8 otherwise), each summing its whole batch in one thread.  Each element is
#   the same chain of FMAs (or multiply-adds at the generic level) in the same k order as the
#   GEMM computes for it, under the same flush-to-zero mode, so the path never changes a result
#   (tested bit for bit against the GEMM path, which `set_conv_algorithm("gemm")` forces).  dx,
#   when asked for, goes through the GEMM path's rules above.
from cython.parallel cimport prange
from cython cimport floating
from libc.stdint cimport int64_t, uint32_t
from libc.string cimport memcpy, memset

from fastnn.kernels._gemm cimport (gemm, gemm_src, fnn_gemm_src, act_code, FNN_ACT_NONE,
                                   FNN_BIAS_NONE, FNN_BIAS_ROW)
from fastnn.kernels._runtime cimport simd_level

import threading
from math import gcd

import numpy as np

from fastnn._config import get_num_threads
from fastnn.contracts import conv as contract

__all__ = ["im2col", "col2im", "conv2d_forward", "conv2d_backward"]

# --------------------------------------------------------------------------- algorithm choice
#: the settings of set_conv_algorithm: 'auto' applies the rule of conv_algorithm; 'gemm' never
#: takes the direct path; 'packed' never takes it either, nor the GEMM that reads its B rows
#: from x in the micro-kernel (src_c/fnn_conv_masked.h): its panels are packed from x first;
#: 'im2col' makes the forward GEMM read a materialised im2col matrix instead (the earlier paths,
#: kept for tests and A/B benchmarks: all four give the same bits)
ALGORITHM_SETTINGS = ("auto", "gemm", "packed", "im2col")
_algorithm_setting = "auto"


def set_conv_algorithm(setting):
    """'auto' (the rule of conv_algorithm), 'gemm' (always the GEMM; where the layer allows it,
    float32 at an AVX2 or AVX-512 level, its micro-kernels read their im2col operand in place:
    masked_kernel_applies, dw_inplace_applies), 'packed' (always the GEMM, its panels packed
    from x) or 'im2col' (always the GEMM, reading a materialised im2col matrix); returns the
    previous setting.
    Process-wide; the results are the same bits either way, only the speed changes."""
    global _algorithm_setting
    if setting not in ALGORITHM_SETTINGS:
        raise ValueError("setting must be one of %s, got %r" % (ALGORITHM_SETTINGS, setting))
    previous, _algorithm_setting = _algorithm_setting, setting
    return previous


def conv_algorithm(dtype, c, kh, kw, sw):
    """'direct' or 'gemm': the path conv2d_forward / conv2d_backward take for x of `dtype` with
    `c` channels, a kh x kw kernel and width stride sw.  Direct when the dtype is float32,
    c*kh*kw <= 12 (FNN_CONV_DIRECT_MAX_K) and sw == 1 (and set_conv_algorithm is 'auto').

        >>> import numpy as np
        >>> conv_algorithm(np.float32, 1, 3, 3, 1), conv_algorithm(np.float32, 32, 3, 3, 1)
        ('direct', 'gemm')
    """
    if (_algorithm_setting == "auto" and np.dtype(dtype) == np.float32
            and c * kh * kw <= FNN_CONV_DIRECT_MAX_K and sw == 1):
        return "direct"
    return "gemm"


def masked_kernel_applies(x_shape, w_shape, stride, padding, dtype):
    """True when conv2d_forward (and dx by convolution of a layer of these shapes) runs the GEMM
    whose micro-kernel loads its im2col rows straight from x (src_c/fnn_conv_masked.h): float32,
    an AVX2 or AVX-512 SIMD level, stride 1, OW == W, and set_conv_algorithm 'auto' or 'gemm'
    (under 'auto', a layer that takes the direct path does not get here).

        >>> import fastnn
        >>> masked_kernel_applies((8, 32, 14, 14), (64, 32, 3, 3), 1, 1, "float32") == (
        ...     fastnn.build_info()["simd"] != "generic")
        True
    """
    cdef fnn_conv_geom geo = _query_geom(x_shape, w_shape, stride, padding)
    return _masked_applies(dtype, &geo)


def dw_inplace_applies(x_shape, w_shape, stride, padding, dtype):
    """True when conv2d_backward computes dw by the kernel that reads its operands in place
    (src_c/fnn_conv_dw_inplace.h): float32, C a multiple of 16 at an AVX-512 SIMD level or of 8
    at AVX2, its index table (kh*kw*OH*OW entries) no larger than one image (C*H*W), and
    set_conv_algorithm 'auto' or 'gemm' (under 'auto', a layer that takes the direct path does
    not get here).

        >>> import fastnn
        >>> dw_inplace_applies((8, 32, 14, 14), (64, 32, 3, 3), 2, 0, "float32") == (
        ...     fastnn.build_info()["simd"] != "generic")
        True
    """
    cdef fnn_conv_geom geo = _query_geom(x_shape, w_shape, stride, padding)
    return _dw_inplace_applies(dtype, &geo)


cdef fnn_conv_geom _query_geom(object x_shape, object w_shape, object stride, object padding):
    """The checked geometry of a query about shapes (the *_applies functions)."""
    g = contract.geometry(tuple(x_shape), w_shape[2], w_shape[3], stride, padding)
    return _geom(tuple(x_shape), w_shape[0], g)


cdef bint _in_place_setting(object dtype):
    """Whether the setting and dtype let a kernel read its operands in place (float32 under
    'auto' or 'gemm'); the kernel's own rule decides the rest."""
    return _algorithm_setting in ("auto", "gemm") and np.dtype(dtype) == np.float32


cdef bint _dw_inplace_applies(object dtype, const fnn_conv_geom *geo):
    return _in_place_setting(dtype) and fnn_conv_dw_inplace_applies(simd_level(), geo)


cdef bint _masked_applies(object dtype, const fnn_conv_geom *geo):
    return _in_place_setting(dtype) and fnn_conv_masked_applies(simd_level(), geo)


# --------------------------------------------------------------------------- workspace
_tls = threading.local()


def _workspace(str name, Py_ssize_t size, dtype):
    """A 1-D array of `size` elements from the calling thread's grow-only buffer `name`.
    Contents are garbage; valid until the next call of a kernel in this module on this thread."""
    bufs = getattr(_tls, "bufs", None)
    if bufs is None:
        bufs = _tls.bufs = {}
    key = (name, np.dtype(dtype).char)
    buf = bufs.get(key)
    if buf is None or buf.shape[0] < size:
        bufs[key] = None                      # free the old one before allocating the new one
        buf = bufs[key] = np.empty(size, dtype=dtype)
    return buf[:size]


def _release_workspace():
    """Free the calling thread's workspace buffers (they are rebuilt on demand)."""
    _tls.bufs = {}


# --------------------------------------------------------------------------- inner helpers
cdef inline Py_ssize_t _tap_lo(Py_ssize_t j, Py_ssize_t s, Py_ssize_t p,
                               Py_ssize_t OL) noexcept nogil:
    """First output o whose input o*s + j - p is >= 0 (inputs of earlier ones are padding).
    Signed divisions only see non-negative numbers (cdivision is on: C truncation)."""
    cdef Py_ssize_t d = p - j
    cdef Py_ssize_t lo = 0 if d <= 0 else (d + s - 1) // s
    return lo if lo < OL else OL


cdef inline Py_ssize_t _tap_hi(Py_ssize_t j, Py_ssize_t s, Py_ssize_t p, Py_ssize_t L,
                               Py_ssize_t OL, Py_ssize_t lo) noexcept nogil:
    """One past the last output o whose input o*s + j - p is < L; never below lo, so that
    [lo, hi) is the (possibly empty) run of outputs reading real input."""
    cdef Py_ssize_t t = L - 1 - j + p
    cdef Py_ssize_t hi = 0 if t < 0 else t // s + 1
    if hi > OL:
        hi = OL
    return hi if hi > lo else lo


cdef inline void _im2col_run_row(const floating *xp, floating *out, Py_ssize_t H, Py_ssize_t W,
                                 Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t i, Py_ssize_t j,
                                 Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw,
                                 Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """out[oh*OW + ow] = plane xp at (oh*sh + i - ph, ow*sw + j - pw), 0 in the padding."""
    cdef Py_ssize_t oh, ow, ih
    cdef const floating *src
    cdef floating *dst
    for oh in range(OH):
        dst = out + oh * OW
        ih = oh * sh + i - ph
        if ih < 0 or ih >= H:
            memset(dst, 0, OW * sizeof(floating))
            continue
        src = xp + ih * W + j - pw          # src[ow*sw] is the input under output ow
        for ow in range(lo):
            dst[ow] = 0
        if sw == 1:
            memcpy(dst + lo, src + lo, (hi - lo) * sizeof(floating))
        else:
            for ow in range(lo, hi):
                dst[ow] = src[ow * sw]
        for ow in range(hi, OW):
            dst[ow] = 0


cdef inline void _col2im_plane(const floating *cp, Py_ssize_t row_stride, floating *dxp,
                               Py_ssize_t H, Py_ssize_t W, Py_ssize_t OH, Py_ssize_t OW,
                               Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
                               Py_ssize_t ph, Py_ssize_t pw) noexcept nogil:
    """dxp (H x W, zeroed here) += every tap row of this (n, c): cp points at cols[c*kh*kw,
    n*P]; tap (i, j) is row i*kw + j, row_stride apart.  Order (i, j, oh, ow) as the twin."""
    cdef Py_ssize_t i, j, oh, ow, ih, lo, hi
    cdef const floating *src
    cdef floating *dst
    memset(dxp, 0, H * W * sizeof(floating))
    for i in range(kh):
        for j in range(kw):
            lo = _tap_lo(j, sw, pw, OW)
            hi = _tap_hi(j, sw, pw, W, OW, lo)
            src = cp + (i * kw + j) * row_stride
            for oh in range(OH):
                ih = oh * sh + i - ph
                if ih < 0 or ih >= H:
                    continue
                dst = dxp + ih * W + j - pw
                for ow in range(lo, hi):
                    dst[ow * sw] += src[oh * OW + ow]


# --------------------------------------------------------------------------- parallel loops
cdef inline int _threads_for(Py_ssize_t units, int nt) noexcept nogil:
    """The thread count for a loop of `units` independent work units: never more threads than
    units (an idle thread still costs its wake-up)."""
    return <int>units if units < nt else nt


cdef void _im2col_fill(const floating[:, :, :, ::1] x, floating[:, ::1] cols, Py_ssize_t kh,
                       Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph,
                       Py_ssize_t pw, Py_ssize_t OH, Py_ssize_t OW, int nt):
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t P = OH * OW, KK = kh * kw, R = C * KK
    cdef Py_ssize_t idx, r, n, c, i, j, lo, hi
    for idx in prange(R * N, schedule="static", nogil=True,
                      num_threads=_threads_for(R * N, nt)):
        r = idx // N
        n = idx - r * N
        c = r // KK
        i = (r - c * KK) // kw
        j = r - c * KK - i * kw
        # lo, hi are assigned here, so Cython makes them thread-private
        lo = _tap_lo(j, sw, pw, OW)
        hi = _tap_hi(j, sw, pw, W, OW, lo)
        _im2col_run_row(&x[n, c, 0, 0], &cols[r, n * P], H, W, OH, OW, i, j, sh, sw, ph, pw,
                        lo, hi)


cdef void _col2im_fill(const floating[:, ::1] cols, floating[:, :, :, ::1] dx, Py_ssize_t kh,
                       Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph,
                       Py_ssize_t pw, Py_ssize_t OH, Py_ssize_t OW, int nt):
    cdef Py_ssize_t N = dx.shape[0], C = dx.shape[1], H = dx.shape[2], W = dx.shape[3]
    cdef Py_ssize_t P = OH * OW, KK = kh * kw, row_stride = cols.shape[1]
    cdef Py_ssize_t plane, n, c
    for plane in prange(N * C, schedule="static", nogil=True,
                        num_threads=_threads_for(N * C, nt)):
        n = plane // C
        c = plane - n * C
        _col2im_plane(&cols[c * KK, n * P], row_stride, &dx[n, c, 0, 0], H, W, OH, OW, kh, kw,
                      sh, sw, ph, pw)


cdef void _transpose_dy_bias_grad(const floating[:, :, ::1] dy, floating[:, ::1] dyt,
                                  floating[::1] db, int nt):
    """dyt[oc, n*P + p] = dy[n, oc, p] and db[oc] = sum over n then p of dy[n, oc, p].

    One pass over dy instead of two (dy is the largest array of a first-layer backward): each
    thread owns whole output channels, copies a run of P and sums it while it is in L1.  The
    sum runs serially in (n, p) order inside one thread, so db does not depend on the thread
    count."""
    cdef Py_ssize_t N = dy.shape[0], OC = dy.shape[1], P = dy.shape[2]
    cdef Py_ssize_t oc, n, p
    cdef floating acc
    for oc in prange(OC, schedule="static", nogil=True, num_threads=_threads_for(OC, nt)):
        acc = 0
        for n in range(N):
            memcpy(&dyt[oc, n * P], &dy[n, oc, 0], P * sizeof(floating))
            for p in range(P):
                acc = acc + dy[n, oc, p]
        db[oc] = acc


cdef enum:
    _DB_CHANNELS = 4      # channels whose sums one work unit interleaves


cdef inline void _bias_grad_block(const floating *dy, floating *db, Py_ssize_t N, Py_ssize_t OC,
                                  Py_ssize_t P, Py_ssize_t oc0, Py_ssize_t oc1) noexcept nogil:
    """db[oc] for oc in [oc0, oc1) (at most _DB_CHANNELS): each channel's own serial sum over n
    then p, the chains of the block interleaved so that they run side by side instead of each
    waiting on its previous add."""
    cdef floating acc[_DB_CHANNELS]
    cdef const floating *row
    cdef Py_ssize_t c, n, p, w = oc1 - oc0
    for c in range(_DB_CHANNELS):
        acc[c] = 0
    for n in range(N):
        row = dy + (n * OC + oc0) * P
        if w == _DB_CHANNELS:
            for p in range(P):
                acc[0] = acc[0] + row[p]
                acc[1] = acc[1] + row[P + p]
                acc[2] = acc[2] + row[2 * P + p]
                acc[3] = acc[3] + row[3 * P + p]
        else:
            for c in range(w):
                for p in range(P):
                    acc[c] = acc[c] + row[c * P + p]
    for c in range(w):
        db[oc0 + c] = acc[c]


cdef void _bias_grad(const floating[:, :, ::1] dy, floating[::1] db, int nt):
    """db[oc] = sum over n then p of dy[n, oc, p]: _transpose_dy_bias_grad's sum, in the same
    order (serial in one thread per channel), without the copy, for the GEMM that packs dY
    straight from dy.  Threads over blocks of _DB_CHANNELS channels."""
    cdef Py_ssize_t N = dy.shape[0], OC = dy.shape[1], P = dy.shape[2]
    cdef Py_ssize_t blocks = (OC + _DB_CHANNELS - 1) // _DB_CHANNELS, blk, oc1
    for blk in prange(blocks, schedule="static", nogil=True,
                      num_threads=_threads_for(blocks, nt)):
        oc1 = (blk + 1) * _DB_CHANNELS
        if oc1 > OC:
            oc1 = OC
        _bias_grad_block(&dy[0, 0, 0], &db[0], N, OC, P, blk * _DB_CHANNELS, oc1)


cdef void _gemm(int64_t batch, int64_t M, int64_t N, int64_t K,
                const floating *A, int64_t a_bs, int64_t a_rs, int64_t a_cs,
                const floating *B, int64_t b_bs, int64_t b_rs, int64_t b_cs,
                floating *C, int64_t c_bs, int64_t c_rs, int64_t c_cs,
                const floating *bias, int bias_mode, int act, int nt) noexcept nogil:
    """C[b] = act(A[b] @ B[b] (+ row bias)): the GEMM of fastnn.kernels._gemm (cimported) with
    beta = 0 and ELU alpha 1, at the process-wide SIMD level."""
    gemm(batch, M, N, K, A, a_bs, a_rs, a_cs, B, b_bs, b_rs, b_cs, 0, C, c_bs, c_rs, c_cs, bias,
         bias_mode, act, 1, nt, simd_level())


cdef void _forward_gemm(const floating[:, ::1] w2, const floating[:, ::1] cols,
                        floating[:, :, ::1] y, const floating[::1] b, bint has_bias, int act,
                        int nt):
    cdef int64_t N = y.shape[0], OC = y.shape[1], P = y.shape[2], CKK = w2.shape[1]
    cdef const floating *pb = &b[0] if has_bias else NULL
    with nogil:
        # y[n] (OC x P) = act(W (OC x CKK) @ cols[:, n*P:(n+1)*P] (row stride N*P) + b per row)
        _gemm(N, OC, P, CKK, &w2[0, 0], 0, CKK, 1, &cols[0, 0], P, N * P, 1,
              &y[0, 0, 0], OC * P, P, 1, pb, FNN_BIAS_ROW if has_bias else FNN_BIAS_NONE, act,
              nt)


cdef int _forward_implicit(const floating[:, :, :, ::1] x, const floating[:, ::1] w2,
                           floating[:, :, ::1] y, const floating[::1] b, bint has_bias, int act,
                           fnn_conv_geom geo, int nt):
    """y[n] (OC x P) = act(W (OC x CKK) @ cols_n + b per row), one batched GEMM whose B panels
    are packed straight from x[n] (src_c/fnn_conv_pack.h): no im2col matrix.  Returns the
    GEMM's status (-1: no memory for its packing buffers)."""
    cdef int64_t N = y.shape[0], OC = y.shape[1], P = y.shape[2], CKK = w2.shape[1]
    cdef const floating *pb = &b[0] if has_bias else NULL
    cdef fnn_conv_cols_src ctx
    cdef fnn_gemm_src src
    cdef int status
    ctx.g = &geo
    ctx.x = &x[0, 0, 0, 0]
    ctx.simd = simd_level()
    src.ctx = &ctx
    if floating is float:
        src.pack = fnn_conv_pack_cols_f
    else:
        src.pack = fnn_conv_pack_cols_d
    with nogil:
        status = gemm_src(N, OC, P, CKK, &w2[0, 0], 0, CKK, 1, <const floating *>NULL, 0, 0, 0,
                          0, &y[0, 0, 0], OC * P, P, 1, pb,
                          FNN_BIAS_ROW if has_bias else FNN_BIAS_NONE, act, 1, nt, simd_level(),
                          NULL, &src)
    return status


cdef void _forward_masked(const float[:, :, :, ::1] x, const float[:, ::1] w2,
                          float[:, :, ::1] y, const float[::1] b, bint has_bias, int act,
                          fnn_conv_geom geo, int nt):
    """y[n] (OC x P) = act(W (OC x CKK) @ cols_n + b per row) by the GEMM whose micro-kernel
    loads cols_n's rows straight from x[n] (src_c/fnn_conv_masked.h; the caller checked
    fnn_conv_masked_applies).  A work unit is one image's panel of FNN_CONV_MASKED_NR pixels,
    every channel; the weights are packed once, the masks made once, before the threads."""
    cdef Py_ssize_t npan = fnn_conv_masked_panels(&geo), taps = geo.kh * geo.kw
    cdef Py_ssize_t K = w2.shape[1], units = geo.N * npan, u, n
    cdef float[::1] ap = np.empty(fnn_conv_masked_packed_size(geo.OC, K), dtype=np.float32)
    cdef Py_ssize_t[::1] off = np.empty(taps, dtype=np.intp)
    cdef uint32_t[::1] mask = np.empty(npan * taps, dtype=np.uint32)
    cdef const float *pb = &b[0] if has_bias else NULL
    cdef int simd = simd_level()
    with nogil:
        fnn_conv_masked_tables(&geo, &off[0], &mask[0])
        fnn_conv_masked_pack_w(&w2[0, 0], geo.OC, K, &ap[0])
    for u in prange(units, schedule="static", nogil=True, num_threads=_threads_for(units, nt)):
        n = u // npan
        fnn_conv_masked_fwd(simd, &geo, &off[0], &mask[0], &ap[0], &x[n, 0, 0, 0], pb, act,
                            &y[n, 0, 0], u - n * npan)


cdef int _dw_implicit(const floating[:, :, :, ::1] x, const floating[:, :, ::1] dy,
                      floating[:, ::1] dw2, fnn_conv_geom geo, int nt):
    """dw (OC x CKK) = dY (OC x NP) @ cols^T, ONE GEMM with K = N*P, computed as its transpose
    dw^T = cols @ dY^T with both operands packed straight from arrays (src_c/fnn_conv_pack.h),
    so neither cols nor a transposed copy of dy exists:
    - A, cols with its rows in tap-major order ((i*kw + j)*C + c), packed from a channel-last
      copy of x (one transpose of x, where packing from x itself transposes every tap's run);
    - B, dY^T, packed from dy.
    In this orientation the rows (CKK) are a multiple of the micro-kernel's MR far more often
    than OC is (288 = 24 x 12 against 64 = 5 x 12 + 4 in the benchmark layer) and the threads
    split them into equal blocks.  Each element is still one FMA chain over the pixels in order
    (an FMA's two factors commute, and the order of the rows is not a sum), so the bits are
    those of dY @ cols^T.  dw^T's rows are then written to dw's (c, i, j) columns.
    Returns the GEMM's status.  The source set-up repeats _forward_implicit's on purpose: the
    packers and the GEMM's shape differ, and each reads as one call beside its docstring."""
    cdef int64_t OC = dw2.shape[0], CKK = dw2.shape[1], NP = dy.shape[0] * dy.shape[2]
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], L = x.shape[2] * x.shape[3]
    cdef Py_ssize_t KK = geo.kh * geo.kw, n, o, t, tap, c
    dtype = np.float32 if floating is float else np.float64
    cdef floating[:, ::1] dwt = np.empty((CKK, OC), dtype=dtype)
    cdef floating[::1] xt = _workspace("xt", N * L * C, dtype)
    cdef fnn_conv_cols_src ctx              # its x: the channel-last copy
    cdef fnn_conv_dy_src dy_ctx
    cdef fnn_gemm_src src, dy_src
    cdef int status
    ctx.g = &geo
    ctx.x = &xt[0]
    ctx.simd = simd_level()
    src.ctx = &ctx
    dy_ctx.dy = &dy[0, 0, 0]
    dy_ctx.OC = dy.shape[1]
    dy_ctx.P = dy.shape[2]
    dy_src.ctx = &dy_ctx
    if floating is float:
        src.pack = fnn_conv_pack_nhwc_f
        dy_src.pack = fnn_conv_pack_dy_f
    else:
        src.pack = fnn_conv_pack_nhwc_d
        dy_src.pack = fnn_conv_pack_dy_d
    for n in prange(N, schedule="static", nogil=True, num_threads=_threads_for(N, nt)):
        if floating is float:
            fnn_conv_to_channel_last_f(&x[n, 0, 0, 0], C, L, &xt[n * L * C])
        else:
            fnn_conv_to_channel_last_d(&x[n, 0, 0, 0], C, L, &xt[n * L * C])
    with nogil:
        status = gemm_src(1, CKK, OC, NP, <const floating *>NULL, 0, 0, 0,
                          <const floating *>NULL, 0, 0, 0, 0, &dwt[0, 0], 0, OC, 1,
                          <const floating *>NULL, FNN_BIAS_NONE, FNN_ACT_NONE, 1, nt,
                          simd_level(), &src, &dy_src)
        if status == 0:
            for t in range(CKK):
                tap = t // C
                c = t - tap * C
                for o in range(OC):
                    dw2[o, c * KK + tap] = dwt[t, o]
    return status


cdef void _dw_inplace(const float[:, :, :, ::1] x, const float[:, :, ::1] dy, float[:, ::1] dw2,
                      fnn_conv_geom geo, int nt):
    """dw (OC x CKK) = dY (OC x NP) @ cols^T by the kernel that reads both operands in place
    (src_c/fnn_conv_dw_inplace.h; the caller checked fnn_conv_dw_inplace_applies): dy's rows
    as they are, cols^T's rows from a channel-last copy of x with a zero row after each image,
    through a table of where each output pixel's taps read.  dw's tiles are split between the
    threads by their cost (rows x vectors), each thread owning its tiles over the whole batch,
    so the split changes no result.  The tiles' columns are in tap-major order ((i*kw + j)*C
    + c): they are written back to dw's (c, i, j) columns at the end."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], L = x.shape[2] * x.shape[3]
    cdef Py_ssize_t OC = dw2.shape[0], CKK = dw2.shape[1], KK = geo.kh * geo.kw, P = dy.shape[2]
    cdef Py_ssize_t image = (L + 1) * C, n, i, tap, c, o
    # the copy starts on a 64-byte boundary: one image is a whole number of 16-float vectors
    cdef float[::1] buf = _workspace("xt", N * image + 16, np.float32)
    cdef float *xt = &buf[((64 - <size_t>&buf[0] % 64) % 64) // sizeof(float)]
    cdef float[:, ::1] dwt = np.empty((OC, CKK), dtype=np.float32)
    cdef Py_ssize_t[::1] idx = np.empty(KK * P, dtype=np.intp)
    cdef int simd = simd_level()
    cdef int threads = _threads_for(fnn_conv_dw_inplace_tiles(simd, &geo), nt)
    cdef Py_ssize_t[::1] bounds = np.empty(threads + 1, dtype=np.intp)   # thread i's tiles
    with nogil:
        fnn_conv_dw_inplace_split(simd, &geo, threads, &bounds[0])
        fnn_conv_dw_inplace_index(&geo, &idx[0])
    for n in prange(N, schedule="static", nogil=True, num_threads=_threads_for(N, nt)):
        fnn_conv_to_channel_last_f(&x[n, 0, 0, 0], C, L, xt + n * image)
        memset(xt + n * image + L * C, 0, C * sizeof(float))
    for i in prange(threads, schedule="static", nogil=True, num_threads=threads):
        fnn_conv_dw_inplace(simd, &geo, xt, &dy[0, 0, 0], &idx[0], &dwt[0, 0], bounds[i],
                            bounds[i + 1])
    with nogil:
        for o in range(OC):
            for tap in range(KK):
                for c in range(C):
                    dw2[o, c * KK + tap] = dwt[o, tap * C + c]


cdef void _dcols_gemm(const floating[:, ::1] w2, floating[:, ::1] cols,
                      const floating[:, :, ::1] dy, int nt):
    """dcols[:, n*P:(n+1)*P] (CKK x P) = W^T (CKK x OC) @ dy[n] (OC x P), one batched GEMM,
    written over cols."""
    cdef int64_t N = dy.shape[0], OC = dy.shape[1], P = dy.shape[2], CKK = w2.shape[1]
    with nogil:
        _gemm(N, CKK, P, OC, &w2[0, 0], 0, 1, CKK, &dy[0, 0, 0], OC * P, P, 1,
              &cols[0, 0], P, N * P, 1, <const floating *>NULL, FNN_BIAS_NONE, FNN_ACT_NONE, nt)


cdef void _dw_gemm(const floating[:, ::1] dyt, const floating[:, ::1] cols, floating[:, ::1] dw2,
                   int nt):
    """dw (OC x CKK) = dY (OC x NP) @ cols^T (NP x CKK; cols read with swapped strides): the
    materialised path's weight gradient."""
    cdef int64_t OC = dw2.shape[0], CKK = dw2.shape[1], NP = dyt.shape[1]
    with nogil:
        _gemm(1, OC, CKK, NP, &dyt[0, 0], 0, NP, 1, &cols[0, 0], 0, 1, NP,
              &dw2[0, 0], 0, CKK, 1, <const floating *>NULL, FNN_BIAS_NONE, FNN_ACT_NONE, nt)


# --------------------------------------------------------------------------- direct path
cdef fnn_conv_geom _geom(object x_shape, Py_ssize_t OC, object g):
    cdef fnn_conv_geom geo
    geo.N, geo.C, geo.H, geo.W = x_shape
    geo.OC = OC
    geo.kh, geo.kw, geo.sh, geo.sw, geo.ph, geo.pw = g.kh, g.kw, g.sh, g.sw, g.ph, g.pw
    geo.OH, geo.OW = g.oh, g.ow
    return geo


cdef Py_ssize_t _direct_forward(const float[:, :, :, ::1] x, const float[:, ::1] w2,
                                const float[::1] b, bint has_bias, int act,
                                float[:, :, :, ::1] y, fnn_conv_geom geo, int nt):
    """y = act(conv(x, w) + b).  A work unit is a block of whole output rows of one image, about
    FNN_CONV_DIRECT_CHUNK pixels, every channel; the row count is a multiple of 16/gcd(OW, 16)
    when that fits in the chunk, so that only an image's last vector tile is partial (a unit's
    last tile may be partial otherwise: its store is masked).  Rows wider than the chunk make
    one-row units, so a unit's buffer stays K rows of one output row at most.
    Returns how many units could not allocate their buffer (0 when all is done)."""
    cdef Py_ssize_t step = 16 // gcd(geo.OW, 16)
    cdef Py_ssize_t rpu = FNN_CONV_DIRECT_CHUNK // geo.OW // step * step
    if rpu == 0:
        rpu = max(1, FNN_CONV_DIRECT_CHUNK // geo.OW)
    cdef Py_ssize_t per_image = (geo.OH + rpu - 1) // rpu
    cdef Py_ssize_t units = geo.N * per_image, u, n, r0, r1, failed = 0
    cdef const float *pb = &b[0] if has_bias else NULL
    cdef int simd = simd_level()
    for u in prange(units, schedule="static", nogil=True, num_threads=_threads_for(units, nt)):
        n = u // per_image
        r0 = (u - n * per_image) * rpu
        r1 = r0 + rpu
        if r1 > geo.OH:
            r1 = geo.OH
        if fnn_conv_direct_fwd(simd, &geo, &x[n, 0, 0, 0], &w2[0, 0], pb, act, &y[n, 0, 0, 0],
                               r0 * geo.OW, r1 * geo.OW) != 0:
            failed += 1
    return failed


cdef Py_ssize_t _direct_weight_grads(const float[:, :, :, ::1] x, const float[:, :, ::1] dy,
                                     float[:, ::1] dw2, float[::1] db, fnn_conv_geom geo, int nt):
    """dw and db by the direct kernel, one block of output channels per work unit; returns how
    many blocks could not allocate their buffer (0 when all is done)."""
    cdef int simd = simd_level()
    cdef Py_ssize_t lanes = fnn_conv_direct_dw_lanes(simd)
    cdef Py_ssize_t blocks = (geo.OC + lanes - 1) // lanes, blk, failed = 0
    for blk in prange(blocks, schedule="static", nogil=True,
                      num_threads=_threads_for(blocks, nt)):
        if fnn_conv_direct_dw(simd, &geo, &x[0, 0, 0, 0], &dy[0, 0, 0], &dw2[0, 0], &db[0],
                              blk * lanes) != 0:
            failed += 1
    return failed


# --------------------------------------------------------------------------- dispatch helpers
cdef object _im2col_into(object x, object cols, object g, int nt):
    """cols = im2col(x) for the checked geometry g (a contracts.conv.Geometry)."""
    if x.dtype == np.float32:
        _im2col_fill[float](x, cols, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.oh, g.ow, nt)
    else:
        _im2col_fill[double](x, cols, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.oh, g.ow, nt)


cdef object _col2im_into(object cols, object dx, object g, int nt):
    """dx = col2im(cols) for the checked geometry g."""
    if cols.dtype == np.float32:
        _col2im_fill[float](cols, dx, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.oh, g.ow, nt)
    else:
        _col2im_fill[double](cols, dx, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.oh, g.ow, nt)


# --------------------------------------------------------------------------- public API
def im2col(x, kh, kw, stride, padding):
    """Unfold every kh x kw window of x into a column (see fastnn.reference.im2col).

    x: (N, C, H, W) float32/float64, any layout.  stride, padding: int or (h, w) pair.
    Returns a new array cols (C*kh*kw, N*OH*OW): cols[c*kh*kw + i*kw + j, n*OH*OW + oh*OW + ow]
    = x[n, c, oh*sh + i - ph, ow*sw + j - pw], 0 where that position is padding.

        >>> import numpy as np
        >>> im2col(np.arange(4.0).reshape(1, 1, 2, 2), 2, 2, 1, 0).ravel()
        array([0., 1., 2., 3.])
    """
    args = contract.im2col_args(x, kh, kw, stride, padding)
    x, g = np.ascontiguousarray(args.x), args.geo
    N, C = x.shape[0], x.shape[1]
    cols = np.empty((C * g.kh * g.kw, N * g.oh * g.ow), dtype=x.dtype)
    _im2col_into(x, cols, g, get_num_threads())
    return cols


def col2im(cols, x_shape, kh, kw, stride, padding):
    """Adjoint of im2col (see fastnn.reference.col2im): returns dx of shape x_shape, cols'
    dtype, where every column is added back onto its window (overlaps sum, padding dropped).
    Parallel over (n, c) planes, each summed in a fixed order: deterministic.

        >>> import numpy as np
        >>> col2im(np.ones((4, 4)), (1, 1, 3, 3), 2, 2, 1, 0)[0, 0]
        array([[1., 2., 1.],
               [2., 4., 2.],
               [1., 2., 1.]])
    """
    args = contract.col2im_args(cols, x_shape, kh, kw, stride, padding)
    cols = np.ascontiguousarray(args.cols)
    dx = np.empty(args.x_shape, dtype=cols.dtype)
    _col2im_into(cols, dx, args.geo, get_num_threads())
    return dx


def conv2d_forward(x, w, b, stride, padding, activation=None):
    """y = act(conv2d(x, w) + b), as torch.nn.functional.conv2d followed by the activation.

    x: (N, C, H, W); w: (OC, C, kh, kw); b: (OC,) or None; one float dtype for all.
    stride, padding: int or (h, w).  activation: None, 'relu', 'sigmoid', 'tanh' or 'elu'
    (alpha 1), applied with the bias in the GEMM's epilogue, as matmul_bias does.  Returns a new
    y (N, OC, OH, OW).

        >>> import numpy as np
        >>> conv2d_forward(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)), np.array([-5.0]), 1, 0,
        ...                activation="relu")[0, 0]
        array([[0., 0.],
               [0., 0.]])
    """
    args = contract.conv2d_forward_args(x, w, b, stride, padding, activation)
    cdef int nt = get_num_threads()
    x, w, b, g = np.ascontiguousarray(args.x), args.w, args.b, args.geo
    N, C, OC = x.shape[0], x.shape[1], w.shape[0]
    P = g.oh * g.ow
    ckk = C * g.kh * g.kw
    w2 = np.ascontiguousarray(w).reshape(OC, ckk)
    y = np.empty((N, OC, g.oh, g.ow), dtype=x.dtype)
    has_bias = b is not None
    bb = np.ascontiguousarray(b) if has_bias else np.zeros(1, dtype=x.dtype)
    act = act_code(args.activation)
    if conv_algorithm(x.dtype, C, g.kh, g.kw, g.sw) == "direct":
        if _direct_forward(x, w2, bb, has_bias, act, y, _geom(x.shape, OC, g), nt):
            raise MemoryError("conv2d_forward: no memory for the direct kernel's buffers")
        return y
    _convolution_gemm(x, w2, y.reshape(N, OC, P), bb, has_bias, act, g, nt, "conv2d_forward")
    return y


cdef object _convolution_gemm(object x, object w2, object y3, object bb, bint has_bias, int act,
                              object g, int nt, str caller):
    """y3 (N, OC, P) = act(w2 (OC x C*kh*kw) @ im2col(x) + b per row) for the checked geometry
    g, through the GEMM: its panels packed straight from x (the default), or read from the
    materialised im2col matrix under set_conv_algorithm('im2col'); the same bits.  The forward
    pass and dx by convolution both run here."""
    N = x.shape[0]
    OC, ckk, P = w2.shape[0], w2.shape[1], y3.shape[2]
    cdef fnn_conv_geom geo = _geom(x.shape, OC, g)
    if _masked_applies(x.dtype, &geo):
        _forward_masked(x, w2, y3, bb, has_bias, act, geo, nt)
        return
    if _algorithm_setting != "im2col":
        if x.dtype == np.float32:
            status = _forward_implicit[float](x, w2, y3, bb, has_bias, act, geo, nt)
        else:
            status = _forward_implicit[double](x, w2, y3, bb, has_bias, act, geo, nt)
        if status != 0:
            raise MemoryError("%s: no memory for the GEMM's packing buffers" % caller)
        return
    cols = _workspace("cols", ckk * N * P, x.dtype).reshape(ckk, N * P)
    _im2col_into(x, cols, g, nt)
    if x.dtype == np.float32:
        _forward_gemm[float](w2, cols, y3, bb, has_bias, act, nt)
    else:
        _forward_gemm[double](w2, cols, y3, bb, has_bias, act, nt)


#: the fewest input channels for which conv2d_backward computes dx as a convolution of dy: its
#: GEMM has one row per input channel, and with fewer rows than about two thirds of a micro-tile
#: the columns' gradient + col2im is faster (bench/ab_conv_dx.py); a constant, not the SIMD
#: level's tile height, so that the choice (and so dx's bits) is the same at every level
DX_CONVOLUTION_MIN_CHANNELS = 8


def dx_as_convolution(c, g):
    """True when conv2d_backward computes dx as a convolution of dy, for x with `c` channels
    and the checked geometry g: stride 1 and padding at most the kernel size - 1 on both axes,
    and c >= DX_CONVOLUTION_MIN_CHANNELS.  False: it computes the columns' gradient
    W^T @ dy and col2im.

        >>> from fastnn.contracts.conv import Geometry
        >>> dx_as_convolution(32, Geometry(3, 3, 1, 1, 1, 1, 14, 14))
        True
        >>> dx_as_convolution(32, Geometry(3, 3, 2, 2, 1, 1, 7, 7))
        False
    """
    return (c >= DX_CONVOLUTION_MIN_CHANNELS and g.sh == 1 and g.sw == 1
            and g.ph <= g.kh - 1 and g.pw <= g.kw - 1)


cdef object _dx_convolution(object dy, object w, object x_shape, object g, int nt):
    """dx for a stride-1 layer, as the forward convolution of dy (N, OC, OH, OW) with the
    kernel flipped in both axes and its channel axes swapped, padding (kh-1-ph, kw-1-pw):

        dx[n, c, h, v] = sum over o, i, j of dy[n, o, h + ph - i, v + pw - j] * w[o, c, i, j]
                       = sum over o, i', j' of dy_padded[n, o, h + i', v + j'] * wf[c, o, i', j']
        with wf[c, o, i', j'] = w[o, c, kh-1-i', kw-1-j'] and dy padded by kh-1-ph, kw-1-pw.

    One GEMM per image with K = OC*kh*kw whose B panels are packed straight from dy (the
    forward's implicit im2col), so neither the (C*kh*kw) x (N*P) matrix of column gradients nor
    col2im's pass over it exists.  Each dx element is one FMA chain over (o, i', j'): other
    roundings than the columns + col2im path (tests compare both with the NumPy twin), the
    same bits at any thread count, and the same bits under set_conv_algorithm('im2col'), which
    materialises im2col(dy) for the same GEMM."""
    N, OC = dy.shape[0], dy.shape[1]
    C, H, W = x_shape[1], x_shape[2], x_shape[3]
    kh, kw = g.kh, g.kw
    wf2 = np.ascontiguousarray(w.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1]).reshape(
        C, OC * kh * kw)
    gd = contract.Geometry(kh, kw, 1, 1, kh - 1 - g.ph, kw - 1 - g.pw, H, W)
    dx = np.empty(x_shape, dtype=dy.dtype)
    _convolution_gemm(dy, wf2, dx.reshape(N, C, H * W), np.zeros(1, dtype=dy.dtype), False,
                      FNN_ACT_NONE, gd, nt, "conv2d_backward")
    return dx


def conv2d_backward(dy, x, w, stride, padding, need_dx=True):
    """Gradients of conv2d_forward (without activation) -> (dx, dw, db), shapes of x, w and
    (OC,).

    dy: (N, OC, OH, OW); x, w: the forward inputs (im2col(x) is recomputed).  need_dx=False
    skips the input gradient (dx is None): the first layer of a network never needs it, and it
    costs a GEMM and a col2im.  Deterministic: bit-identical at any thread count.

        >>> import numpy as np
        >>> dx, dw, db = conv2d_backward(np.ones((1, 1, 2, 2)), np.ones((1, 1, 3, 3)),
        ...                              np.ones((1, 1, 2, 2)), 1, 0, need_dx=False)
        >>> dx is None, db
        (True, array([4.]))
    """
    args = contract.conv2d_backward_args(dy, x, w, stride, padding, need_dx)
    cdef int nt = get_num_threads()
    x, w, g = np.ascontiguousarray(args.x), args.w, args.geo
    N, C, OC = x.shape[0], x.shape[1], w.shape[0]
    P = g.oh * g.ow
    ckk = C * g.kh * g.kw
    w2 = np.ascontiguousarray(w).reshape(OC, ckk)
    dy3 = np.ascontiguousarray(args.dy).reshape(N, OC, P)
    dw = np.empty(w.shape, dtype=x.dtype)
    dw2 = dw.reshape(OC, ckk)
    db = np.empty(OC, dtype=x.dtype)
    # dw and db, by one of the three paths
    if conv_algorithm(x.dtype, C, g.kh, g.kw, g.sw) == "direct":
        if _direct_weight_grads(x, dy3, dw2, db, _geom(x.shape, OC, g), nt):
            raise MemoryError("conv2d_backward: no memory for the direct kernel's buffers")
    elif _algorithm_setting != "im2col":
        geo = _geom(x.shape, OC, g)
        if _dw_inplace_applies(x.dtype, &geo):
            _bias_grad[float](dy3, db, nt)
            _dw_inplace(x, dy3, dw2, geo, nt)
            status = 0
        elif x.dtype == np.float32:
            _bias_grad[float](dy3, db, nt)
            status = _dw_implicit[float](x, dy3, dw2, geo, nt)
        else:
            _bias_grad[double](dy3, db, nt)
            status = _dw_implicit[double](x, dy3, dw2, geo, nt)
        if status != 0:
            raise MemoryError("conv2d_backward: no memory for the GEMM's packing buffers")
    else:
        cols = _workspace("cols", ckk * N * P, x.dtype).reshape(ckk, N * P)
        dyt = _workspace("dyt", OC * N * P, x.dtype).reshape(OC, N * P)
        _im2col_into(x, cols, g, nt)
        if x.dtype == np.float32:
            _transpose_dy_bias_grad[float](dy3, dyt, db, nt)
            _dw_gemm[float](dyt, cols, dw2, nt)
        else:
            _transpose_dy_bias_grad[double](dy3, dyt, db, nt)
            _dw_gemm[double](dyt, cols, dw2, nt)
    # dx: a convolution of dy, or the columns' gradient and col2im
    if not args.need_dx:
        return None, dw, db
    if dx_as_convolution(C, g):
        return _dx_convolution(dy3.reshape(args.dy.shape), w, x.shape, g, nt), dw, db
    cols = _workspace("cols", ckk * N * P, x.dtype).reshape(ckk, N * P)
    if x.dtype == np.float32:
        _dcols_gemm[float](w2, cols, dy3, nt)
    else:
        _dcols_gemm[double](w2, cols, dy3, nt)
    dx = np.empty(x.shape, dtype=x.dtype)
    _col2im_into(cols, dx, g, nt)   # cols now holds dcols
    return dx, dw, db
