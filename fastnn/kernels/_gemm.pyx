# Design:
#
# Size: over ~500 lines, kept whole: the only extension that holds the GEMM (others cimport it);
# matmul/matmul_bias with their fast paths, the run-time context and the packing-source hook.
#
# The Python face of fastnn's C GEMM (src_c/fnn_gemm.c, its contract in src_c/fnn_gemm.h, its
# declarations in fastnn/kernels/_gemm.pxd).  This extension is the only one that contains the
# GEMM: _conv calls it through the fused-type cdef function `gemm` exported here (cimport), so
# there is one copy of the code and one set of thread-local packing buffers.
#
# Each public function first calls its contract (fastnn/contracts/gemm.py), the same call the
# NumPy twin (fastnn/reference/gemm.py) makes, so both raise the same errors: rank, dtype,
# shapes, the out= rule.  Only then does it take raw pointers and element strides and call C
# with the GIL released.  The C code has no checks (bounds checking is impossible there), so
# nothing unvalidated may reach it.
#
# * Overlap of out with the inputs (the out= rule of fastnn._validate) is tested only when the
#   caller gave `out` (a fresh array cannot overlap anything), and cheaply: the byte ranges of
#   the buffers first, _validate's exact test only when they meet.
# * Inputs are read in place through their strides: transposes (trans_a/trans_b or a.T),
#   Fortran order, slices, negative and zero strides cost nothing extra, because the C packing
#   routines gather panels from any strides.  Only an array whose strides are not whole elements
#   (or whose data is misaligned) is copied first.  Pointers come from the buffer protocol
#   (PyObject_GetBuffer) rather than typed memoryviews, so one code path serves float32 and
#   float64, 2-D and 3-D, and read-only inputs.
# * Empty arrays: matmul follows NumPy (an (M, 0) @ (0, N) product is an M x N array of zeros;
#   a zero M or N gives an empty result).  matmul_bias is a dense layer's forward pass, so an
#   empty batch or an empty weight is an error (ValueError), as the package-wide conventions
#   require.
# * SIMD: every call passes the process-wide level (fastnn.kernels._runtime, FASTNN_SIMD /
#   fastnn.set_simd) to C, which runs the best micro-kernel at or below it.
# * Threads: the C kernel splits the output into tiles over fastnn.get_num_threads() OpenMP
#   threads (fewer when the product is small) and never splits a dot product, so every result
#   is bit-identical at any thread count.

import numpy as np

from fastnn.kernels._buffers cimport float_code, ranges_meet
from cpython.buffer cimport (PyObject_GetBuffer, PyBuffer_Release, PyBUF_RECORDS,
                             PyBUF_RECORDS_RO, PyBUF_C_CONTIGUOUS)
from libc.math cimport isfinite
from cython cimport floating
from libc.stdint cimport int64_t

from fastnn.kernels._runtime cimport simd_level

from fastnn import _validate as _v
from fastnn._config import get_num_threads
from fastnn.contracts import gemm as contract

__all__ = ["matmul", "matmul_bias", "gemm_config", "set_gemm_blocking"]

_ACT_CODES = {None: FNN_ACT_NONE, "relu": FNN_ACT_RELU, "sigmoid": FNN_ACT_SIGMOID,
              "tanh": FNN_ACT_TANH, "elu": FNN_ACT_ELU}
_BIAS_CODES = {None: FNN_BIAS_NONE, "row": FNN_BIAS_ROW, "col": FNN_BIAS_COL}
_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
cdef int64_t _MAX_ARRAY_BYTES = _v.MAX_ARRAY_BYTES
_NDARRAY = np.ndarray


# --------------------------------------------------------------------------- for cimport
cdef void gemm(int64_t batch, int64_t M, int64_t N, int64_t K,
               const floating *A, int64_t a_bs, int64_t a_rs, int64_t a_cs,
               const floating *B, int64_t b_bs, int64_t b_rs, int64_t b_cs,
               floating beta, floating *C, int64_t c_bs, int64_t c_rs, int64_t c_cs,
               const floating *bias, int bias_mode, int act, floating elu_alpha, int nthreads,
               int simd) noexcept nogil:
    if floating is float:
        fnn_sgemm(batch, M, N, K, A, a_bs, a_rs, a_cs, B, b_bs, b_rs, b_cs, beta, C, c_bs, c_rs,
                  c_cs, bias, bias_mode, act, elu_alpha, nthreads, simd)
    else:
        fnn_dgemm(batch, M, N, K, A, a_bs, a_rs, a_cs, B, b_bs, b_rs, b_cs, beta, C, c_bs, c_rs,
                  c_cs, bias, bias_mode, act, elu_alpha, nthreads, simd)


cdef int gemm_src(int64_t batch, int64_t M, int64_t N, int64_t K,
                  const floating *A, int64_t a_bs, int64_t a_rs, int64_t a_cs,
                  const floating *B, int64_t b_bs, int64_t b_rs, int64_t b_cs,
                  floating beta, floating *C, int64_t c_bs, int64_t c_rs, int64_t c_cs,
                  const floating *bias, int bias_mode, int act, floating elu_alpha,
                  int nthreads, int simd, const fnn_gemm_src *a_src,
                  const fnn_gemm_src *b_src) noexcept nogil:
    if floating is float:
        return fnn_sgemm_src(batch, M, N, K, A, a_bs, a_rs, a_cs, B, b_bs, b_rs, b_cs, beta, C,
                             c_bs, c_rs, c_cs, bias, bias_mode, act, elu_alpha, nthreads, simd,
                             a_src, b_src)
    else:
        return fnn_dgemm_src(batch, M, N, K, A, a_bs, a_rs, a_cs, B, b_bs, b_rs, b_cs, beta, C,
                             c_bs, c_rs, c_cs, bias, bias_mode, act, elu_alpha, nthreads, simd,
                             a_src, b_src)


cdef int act_code(object activation) except -1:
    return _ACT_CODES[activation]


# --------------------------------------------------------------------------- helpers
cdef object _readable(object x):
    """``x`` when C can address it by whole-element strides, else an aligned C-ordered copy."""
    cdef Py_ssize_t isz = x.itemsize
    if not x.flags.aligned:
        return np.ascontiguousarray(x)
    for s in x.strides:
        if s % isz:
            return np.ascontiguousarray(x)
    return x


cdef object _check_out_overlap(object out, tuple inputs):
    """The overlap half of the out= rule for a caller's ``out`` (shape, dtype, contiguity were
    checked by the contract): byte ranges first, _validate's exact test (and message) only when
    they meet.  ``inputs``: (name, array) pairs, as the twin passes them to _validate."""
    cdef Py_buffer vo, vi
    cdef bint meet
    PyObject_GetBuffer(out, &vo, PyBUF_RECORDS_RO)
    try:
        for name, arr in inputs:
            PyObject_GetBuffer(arr, &vi, PyBUF_RECORDS_RO)
            meet = ranges_meet(&vo, &vi)
            PyBuffer_Release(&vi)
            if meet:
                _v.check_out(out, "out", out.shape, out.dtype, ((name, arr),))
    finally:
        PyBuffer_Release(&vo)


cdef int64_t _estride(Py_buffer *view, int axis, int ndim) noexcept:
    """Element stride of axis `axis` counted from the end (so 2-D and 3-D share code); 0 for a
    missing leading (batch) axis."""
    cdef int ax = view.ndim - ndim + axis
    if ax < 0:
        return 0
    return view.strides[ax] // view.itemsize


cdef _call_gemm(object a, object b, object c, object bias, int64_t batch, int64_t M,
                int64_t N, int64_t K, bint trans_a, bint trans_b, double beta,
                int bias_mode, int act, double elu_alpha):
    """Run C[i] = act(beta*C[i] + op(A[i]) @ op(B[i]) + bias).  a, b, c are validated 2-D or 3-D
    arrays (a missing batch axis is broadcast with stride 0), c does not overlap a, b or bias;
    bias is None or a 1-D contiguous array of the right length."""
    cdef Py_buffer va, vb, vc, vbias
    cdef bint got_a = False, got_b = False, got_c = False, got_bias = False
    cdef int64_t a_bs, a_rs, a_cs, b_bs, b_rs, b_cs, c_bs, c_rs, c_cs
    cdef int nthreads = get_num_threads()
    cdef int simd = simd_level()
    cdef bint is_f32 = c.dtype == _F32
    cdef void *pbias = NULL
    try:
        PyObject_GetBuffer(a, &va, PyBUF_RECORDS_RO)
        got_a = True
        PyObject_GetBuffer(b, &vb, PyBUF_RECORDS_RO)
        got_b = True
        PyObject_GetBuffer(c, &vc, PyBUF_RECORDS)
        got_c = True
        if bias is not None:
            PyObject_GetBuffer(bias, &vbias, PyBUF_RECORDS_RO)
            got_bias = True
            pbias = vbias.buf
        a_bs = _estride(&va, 0, 3)
        b_bs = _estride(&vb, 0, 3)
        c_bs = _estride(&vc, 0, 3)
        # op(A) = A^T is A read with its row and column strides swapped: no copy.
        if trans_a:
            a_rs, a_cs = _estride(&va, 2, 3), _estride(&va, 1, 3)
        else:
            a_rs, a_cs = _estride(&va, 1, 3), _estride(&va, 2, 3)
        if trans_b:
            b_rs, b_cs = _estride(&vb, 2, 3), _estride(&vb, 1, 3)
        else:
            b_rs, b_cs = _estride(&vb, 1, 3), _estride(&vb, 2, 3)
        c_rs, c_cs = _estride(&vc, 1, 3), _estride(&vc, 2, 3)
        if is_f32:
            with nogil:
                gemm(batch, M, N, K, <const float *>va.buf, a_bs, a_rs, a_cs,
                     <const float *>vb.buf, b_bs, b_rs, b_cs, <float>beta, <float *>vc.buf, c_bs,
                     c_rs, c_cs, <const float *>pbias, bias_mode, act, <float>elu_alpha,
                     nthreads, simd)
        else:
            with nogil:
                gemm(batch, M, N, K, <const double *>va.buf, a_bs, a_rs, a_cs,
                     <const double *>vb.buf, b_bs, b_rs, b_cs, beta, <double *>vc.buf, c_bs,
                     c_rs, c_cs, <const double *>pbias, bias_mode, act, elu_alpha, nthreads,
                     simd)
    finally:
        if got_bias:
            PyBuffer_Release(&vbias)
        if got_c:
            PyBuffer_Release(&vc)
        if got_b:
            PyBuffer_Release(&vb)
        if got_a:
            PyBuffer_Release(&va)


# --------------------------------------------------------------------------- the fast path
# A small product costs as much in Python as in C, so the public functions first try a fast
# path that checks, on the buffers it has to acquire anyway, a subset of what the contract
# accepts: exact ndarrays, native float32/float64 of one dtype, the right ranks and shapes, bool
# flags, an `out` that is C-contiguous, writeable, of the right shape and dtype and whose bytes do
# not meet the inputs'.  Whatever it does not recognise (subclasses, lists, byte-swapped or
# misaligned data, overlapping byte ranges, bad values) goes to the contract path, which accepts
# or rejects it with the contract's messages: the fast path never raises and never accepts what
# the contract would refuse.
cdef object _fast_out(object out, int64_t m, int64_t n, char code, Py_buffer *vc):
    """Acquire (writable, C-contiguous) the caller's ``out`` or a fresh array into vc; None when
    the caller's ``out`` is not one the fast path takes."""
    if out is None:
        # a product larger than any address space is the contract's error (check_alloc)
        if m > 0 and n > (_MAX_ARRAY_BYTES // (4 if code == b'f' else 8)) // m:
            return None
        out = np.empty((m, n), _F32 if code == b'f' else _F64)
    elif type(out) is not _NDARRAY:
        return None
    try:
        PyObject_GetBuffer(out, vc, PyBUF_RECORDS | PyBUF_C_CONTIGUOUS)
    except (BufferError, ValueError):   # read-only or not C-contiguous: the contract says so
        return None
    if (vc.ndim != 2 or vc.shape[0] != m or vc.shape[1] != n or vc.format == NULL
            or vc.format[0] != code or vc.format[1] != 0):
        PyBuffer_Release(vc)
        return None
    return out


cdef object _matmul_fast(object a, object b, object trans_a, object trans_b, object out):
    """matmul's fast path: the result, or None (use the contract path)."""
    cdef Py_buffer va, vb, vc
    cdef bint ta, tb, got_c = False
    cdef char code
    cdef int64_t m, k, kb, n, a_rs, a_cs, b_rs, b_cs, isz
    cdef int nthreads, simd
    if type(a) is not _NDARRAY or type(b) is not _NDARRAY:
        return None
    if (trans_a is not True and trans_a is not False) or (
            trans_b is not True and trans_b is not False):
        return None
    ta = trans_a is True
    tb = trans_b is True
    PyObject_GetBuffer(a, &va, PyBUF_RECORDS_RO)
    try:
        PyObject_GetBuffer(b, &vb, PyBUF_RECORDS_RO)
        try:
            code = float_code(&va)
            if va.ndim != 2 or vb.ndim != 2 or code == 0 or float_code(&vb) != code:
                return None
            isz = va.itemsize
            m, k = (va.shape[1], va.shape[0]) if ta else (va.shape[0], va.shape[1])
            kb, n = (vb.shape[1], vb.shape[0]) if tb else (vb.shape[0], vb.shape[1])
            if k != kb:
                return None
            given = out is not None
            out = _fast_out(out, m, n, code, &vc)
            if out is None:
                return None
            got_c = True
            if given and (ranges_meet(&vc, &va) or ranges_meet(&vc, &vb)):
                return None
            if m == 0 or n == 0:
                return out
            if ta:
                a_rs, a_cs = va.strides[1] // isz, va.strides[0] // isz
            else:
                a_rs, a_cs = va.strides[0] // isz, va.strides[1] // isz
            if tb:
                b_rs, b_cs = vb.strides[1] // isz, vb.strides[0] // isz
            else:
                b_rs, b_cs = vb.strides[0] // isz, vb.strides[1] // isz
            nthreads = get_num_threads()
            simd = simd_level()
            with nogil:
                if code == b'f':
                    fnn_sgemm(1, m, n, k, <const float *>va.buf, 0, a_rs, a_cs,
                              <const float *>vb.buf, 0, b_rs, b_cs, 0, <float *>vc.buf, 0, n, 1,
                              NULL, FNN_BIAS_NONE, FNN_ACT_NONE, 1, nthreads, simd)
                else:
                    fnn_dgemm(1, m, n, k, <const double *>va.buf, 0, a_rs, a_cs,
                              <const double *>vb.buf, 0, b_rs, b_cs, 0, <double *>vc.buf, 0, n,
                              1, NULL, FNN_BIAS_NONE, FNN_ACT_NONE, 1, nthreads, simd)
            return out
        finally:
            if got_c:
                PyBuffer_Release(&vc)
            PyBuffer_Release(&vb)
    finally:
        PyBuffer_Release(&va)


# Its buffer and overlap checks have _matmul_fast's shape; they stay separate because the
# operands (three, not two) and the refusals differ: each fast path reads whole.
cdef object _matmul_bias_fast(object x, object w, object b, object activation, object out,
                              object elu_alpha):
    """matmul_bias's fast path: the result, or None (use the contract path)."""
    cdef Py_buffer vx, vw, vb, vc
    cdef bint got_c = False
    cdef char code
    cdef int64_t m, k, n, isz
    cdef int act, nthreads, simd
    cdef double alpha
    if type(x) is not _NDARRAY or type(w) is not _NDARRAY or type(b) is not _NDARRAY:
        return None
    if activation is not None and type(activation) is not str:
        return None
    act = _ACT_CODES.get(activation, -1)
    if act < 0:
        return None
    if type(elu_alpha) is float:
        alpha = elu_alpha
    elif type(elu_alpha) is int:
        alpha = <double>elu_alpha
    else:
        return None
    if not isfinite(alpha):
        return None
    PyObject_GetBuffer(x, &vx, PyBUF_RECORDS_RO)
    try:
        PyObject_GetBuffer(w, &vw, PyBUF_RECORDS_RO)
        try:
            PyObject_GetBuffer(b, &vb, PyBUF_RECORDS_RO)
            try:
                code = float_code(&vx)
                if (vx.ndim != 2 or vw.ndim != 2 or vb.ndim != 1 or code == 0
                        or float_code(&vw) != code or float_code(&vb) != code):
                    return None
                isz = vx.itemsize
                m, k, n = vx.shape[0], vx.shape[1], vw.shape[1]
                if (m == 0 or k == 0 or n == 0 or vw.shape[0] != k or vb.shape[0] != n
                        or (n > 1 and vb.strides[0] != isz)):
                    return None
                given = out is not None
                out = _fast_out(out, m, n, code, &vc)
                if out is None:
                    return None
                got_c = True
                if given and (ranges_meet(&vc, &vx) or ranges_meet(&vc, &vw)
                              or ranges_meet(&vc, &vb)):
                    return None
                nthreads = get_num_threads()
                simd = simd_level()
                with nogil:
                    if code == b'f':
                        fnn_sgemm(1, m, n, k, <const float *>vx.buf, 0, vx.strides[0] // isz,
                                  vx.strides[1] // isz, <const float *>vw.buf, 0,
                                  vw.strides[0] // isz, vw.strides[1] // isz, 0,
                                  <float *>vc.buf, 0, n, 1, <const float *>vb.buf, FNN_BIAS_COL,
                                  act, <float>alpha, nthreads, simd)
                    else:
                        fnn_dgemm(1, m, n, k, <const double *>vx.buf, 0, vx.strides[0] // isz,
                                  vx.strides[1] // isz, <const double *>vw.buf, 0,
                                  vw.strides[0] // isz, vw.strides[1] // isz, 0,
                                  <double *>vc.buf, 0, n, 1, <const double *>vb.buf,
                                  FNN_BIAS_COL, act, alpha, nthreads, simd)
                return out
            finally:
                if got_c:
                    PyBuffer_Release(&vc)
                PyBuffer_Release(&vb)
        finally:
            PyBuffer_Release(&vw)
    finally:
        PyBuffer_Release(&vx)


# --------------------------------------------------------------------------- public API
def matmul(a, b, trans_a=False, trans_b=False, out=None):
    """``op(a) @ op(b)`` where ``op(a)`` is ``a.T`` when ``trans_a`` (likewise ``b``).

    a, b: 2-D float32 or float64 arrays of the same dtype, any strides (read in place).
    out: optional C-contiguous array of shape (M, N) and the same dtype, not overlapping a or b;
    its previous contents (even NaN) are ignored.  Returns the result (``out`` when given).
    Empty dimensions follow NumPy: K == 0 gives zeros, M == 0 or N == 0 an empty array.

        >>> import numpy as np
        >>> matmul(np.eye(2), np.array([[1.0, 2.0], [3.0, 4.0]]), trans_b=True)
        array([[1., 3.],
               [2., 4.]])
    """
    res = _matmul_fast(a, b, trans_a, trans_b, out)
    if res is not None:
        return res
    cdef bint out_given = out is not None
    args = contract.matmul_args(a, b, trans_a, trans_b, out, defer_overlap=True)
    if out_given:
        _check_out_overlap(args.out, (("a", args.a), ("b", args.b)))
    if args.m == 0 or args.n == 0:
        return args.out
    _call_gemm(_readable(args.a), _readable(args.b), args.out, None, 1, args.m, args.n, args.k,
               args.trans_a, args.trans_b, 0.0, FNN_BIAS_NONE, FNN_ACT_NONE, 1.0)
    return args.out


def matmul_bias(x, w, b, activation=None, out=None, elu_alpha=1.0):
    """``act(x @ w + b)`` in one fused pass (bias and activation applied to each output tile
    while it is in cache).

    x: (N, in), w: (in, out), b: (out,), all float32 or all float64, non-empty; x and w may have
    any strides.  activation: None, 'relu', 'sigmoid', 'tanh' or 'elu' (``elu_alpha`` * expm1(v)
    for v <= 0).  out: optional C-contiguous (N, out) array, not overlapping the inputs.

        >>> import numpy as np
        >>> matmul_bias(np.ones((1, 2)), np.ones((2, 3)), np.array([-3.0, 0.0, 1.0]), "relu")
        array([[0., 2., 3.]])
    """
    res = _matmul_bias_fast(x, w, b, activation, out, elu_alpha)
    if res is not None:
        return res
    cdef bint out_given = out is not None
    args = contract.matmul_bias_args(x, w, b, activation, out, elu_alpha, defer_overlap=True)
    if out_given:
        _check_out_overlap(args.out, (("x", args.x), ("w", args.w), ("b", args.b)))
    _call_gemm(_readable(args.x), _readable(args.w), args.out, np.ascontiguousarray(args.b), 1,
               args.m, args.n, args.k, False, False, 0.0, FNN_BIAS_COL,
               _ACT_CODES[args.activation], args.elu_alpha)
    return args.out


def _gemm_ex(a, b, c, beta=0.0, bias=None, bias_mode=None, activation=None, elu_alpha=1.0,
             trans_a=False, trans_b=False):
    """Private hook exposing every feature of the C kernel, for tests:
    ``c[i] = act(beta * c[i] + op(a[i]) @ op(b[i]) + bias)`` in place, for 2-D or batched 3-D
    arrays (a 2-D a or b is shared by every batch item).  ``c`` obeys the out= rule (checked
    exactly); ``bias_mode`` is None, 'row' (bias of length M) or 'col' (length N).  Returns
    ``c``."""
    g = contract.gemm_ex_args(a, b, c, beta, bias, bias_mode, activation, elu_alpha, trans_a,
                              trans_b)
    if g.c.size == 0:
        return g.c
    _call_gemm(_readable(g.a), _readable(g.b), g.c,
               None if g.bias is None else np.ascontiguousarray(g.bias), g.batch, g.m, g.n, g.k,
               g.trans_a, g.trans_b, g.beta, _BIAS_CODES[g.bias_mode], _ACT_CODES[g.activation],
               g.elu_alpha)
    return g.c


# --------------------------------------------------------------------------- packing sources
# A reference packing source for tests (fnn_gemm.h, "packing sources"): it packs from a strided
# array, as the driver's own packing routines do, and checks every request against the
# contract, recording what it saw in a log that the test reads afterwards.
ctypedef struct _SrcLog:
    int calls        # set to 1 by any call (threads may race to write the same value)
    int bad          # set to 1 by a request that breaks the contract
    int r            # the r of the last request


ctypedef struct _StridedSrc:
    const char *base
    int64_t bs, xs, ks     # element strides: batch item, the non-k index, k
    int64_t batch, nx, nk  # extents: batch items, rows of op(A) or columns of op(B), K
    int itemsize
    _SrcLog *log


cdef inline void _pack_strided_t(const _StridedSrc *s, int64_t bi, int64_t k0, int64_t kc,
                                 int64_t x0, int64_t xn, int r, floating *buf) noexcept nogil:
    cdef const floating *base = <const floating *>s.base + bi * s.bs
    cdef int64_t p, k, x
    cdef int t
    for p in range((xn + r - 1) // r):
        for k in range(kc):
            for t in range(r):
                x = x0 + p * r + t
                buf[(p * kc + k) * r + t] = (base[x * s.xs + (k0 + k) * s.ks]
                                             if x < x0 + xn else 0)


cdef void _pack_strided(const void *ctx, int64_t bi, int64_t k0, int64_t kc, int64_t x0,
                        int64_t xn, int r, void *buf) noexcept nogil:
    cdef const _StridedSrc *s = <const _StridedSrc *>ctx
    s.log.calls = 1
    s.log.r = r
    if (bi < 0 or bi >= s.batch or k0 < 0 or kc < 1 or k0 + kc > s.nk or x0 < 0 or xn < 1
            or x0 + xn > s.nx or r < 1 or r > FNN_GEMM_MAX_R or (<size_t>buf) % 64 != 0):
        s.log.bad = 1
        return
    if s.itemsize == 4:
        _pack_strided_t(s, bi, k0, kc, x0, xn, r, <float *>buf)
    else:
        _pack_strided_t(s, bi, k0, kc, x0, xn, r, <double *>buf)


def _gemm_src_check(a, b, c, bint a_source, bint b_source):
    """Private hook for tests: ``c[i] = a[i] @ b[i]`` (3-D C-contiguous arrays of one dtype,
    checked by the caller) with A and/or B delivered by a packing source (reading the same
    array) instead of the driver's own packing.  Returns ``(status, log_a, log_b)``: the C
    function's return value and, per source, a dict of what the source saw (``calls``, ``bad``:
    a request that broke the contract, ``r``: the panel width it was asked for)."""
    cdef Py_buffer va, vb, vc
    cdef _StridedSrc sa, sb
    cdef _SrcLog la, lb
    cdef fnn_gemm_src srca, srcb
    cdef const fnn_gemm_src *pa = NULL
    cdef const fnn_gemm_src *pb = NULL
    cdef int64_t batch = c.shape[0], M = c.shape[1], N = c.shape[2], K = a.shape[2]
    cdef int status, nthreads = get_num_threads(), simd = simd_level()
    cdef bint is_f32 = c.dtype == _F32
    la.calls = la.bad = la.r = 0
    lb.calls = lb.bad = lb.r = 0
    PyObject_GetBuffer(a, &va, PyBUF_RECORDS_RO)
    PyObject_GetBuffer(b, &vb, PyBUF_RECORDS_RO)
    PyObject_GetBuffer(c, &vc, PyBUF_RECORDS)
    try:
        # op(A)[i, k] = a[bi, i, k]: x is the row; op(B)[k, j] = b[bi, k, j]: x is the column
        sa = _StridedSrc(<const char *>va.buf, M * K, K, 1, batch, M, K, va.itemsize, &la)
        sb = _StridedSrc(<const char *>vb.buf, K * N, 1, N, batch, N, K, vb.itemsize, &lb)
        srca.pack = _pack_strided
        srca.ctx = &sa
        srcb.pack = _pack_strided
        srcb.ctx = &sb
        if a_source:
            pa = &srca
        if b_source:
            pb = &srcb
        if is_f32:
            with nogil:
                status = gemm_src(batch, M, N, K, <const float *>va.buf, M * K, K, 1,
                                  <const float *>vb.buf, K * N, N, 1, 0, <float *>vc.buf, M * N,
                                  N, 1, <const float *>NULL, FNN_BIAS_NONE, FNN_ACT_NONE, 1,
                                  nthreads, simd, pa, pb)
        else:
            with nogil:
                status = gemm_src(batch, M, N, K, <const double *>va.buf, M * K, K, 1,
                                  <const double *>vb.buf, K * N, N, 1, 0, <double *>vc.buf,
                                  M * N, N, 1, <const double *>NULL, FNN_BIAS_NONE,
                                  FNN_ACT_NONE, 1, nthreads, simd, pa, pb)
    finally:
        PyBuffer_Release(&vc)
        PyBuffer_Release(&vb)
        PyBuffer_Release(&va)
    return status, dict(la), dict(lb)


# --------------------------------------------------------------------------- the context
_CACHE_SOURCES = ("default", "sysfs", "cpuid")
_BLOCKING_LIMITS = {"mc": (FNN_GEMM_MC_MIN, FNN_GEMM_MC_MAX),
                    "kc": (FNN_GEMM_KC_MIN, FNN_GEMM_KC_MAX),
                    "nc": (FNN_GEMM_NC_MIN, FNN_GEMM_NC_MAX)}

fnn_gemm_init()


def gemm_config(dtype="float32"):
    """The GEMM's run-time context for ``dtype`` (float32 or float64) at the current SIMD level:
    a dict with ``simd`` (the micro-kernels' level), ``mr`` x ``nr`` (their register tile, which
    is also the packed panel format), ``mc``, ``kc``, ``nc`` (the cache blocking a call runs with
    now: derived from the caches unless :func:`set_gemm_blocking` replaced it), ``blocking_set``
    (the replaced values, None where derived), and the cache sizes in bytes it was derived from
    (``l1d``, ``l2``, ``l3``, ``l3_per_core``, ``cache_source``: 'sysfs', 'cpuid' or
    'default'), and ``inplace_split_min``: for a small M (``small_m``: at most 4 rows) and a
    skinny N (``skinny_n``), the fewest multiply-adds for which such a product (the in-place
    paths, no packing) is split over ``fastnn.get_num_threads()`` threads, measured on this
    machine the first time it is needed (0 on one thread).  docs/kernels/gemm.md explains the
    model.

        >>> cfg = gemm_config()
        >>> cfg["mc"] % cfg["mr"] == 0 and cfg["nc"] % cfg["nr"] == 0
        True
    """
    cdef fnn_gemm_config_t cfg
    cdef int64_t smc, skc, snc
    dt = contract.config_dtype(dtype)
    fnn_gemm_config(simd_level(), dt.itemsize, &cfg)
    fnn_gemm_get_blocking(&smc, &skc, &snc)
    return {"dtype": str(dt), "simd": cfg.ukr.decode("ascii"), "mr": cfg.mr, "nr": cfg.nr,
            "mc": cfg.mc, "kc": cfg.kc, "nc": cfg.nc,
            "blocking_set": {"mc": smc or None, "kc": skc or None, "nc": snc or None},
            "l1d": cfg.l1d, "l2": cfg.l2, "l3": cfg.l3, "l3_per_core": cfg.l3_per_core,
            "cache_source": _CACHE_SOURCES[cfg.cache_source],
            "sparse_a": _SPARSE_MODES[fnn_gemm_get_sparse_a()],
            "inplace_split_min": {
                name: fnn_gemm_ip_split_min(simd_level(), dt.itemsize, skinny, get_num_threads())
                for name, skinny in (("small_m", 0), ("skinny_n", 1))}}


_SPARSE_MODES = {FNN_SPARSE_OFF: "off", FNN_SPARSE_AUTO: "auto", FNN_SPARSE_ALWAYS: "always"}


def set_gemm_sparse_a(mode):
    """Choose when the GEMM skips the zeros of a sparse A (process-wide); returns the previous
    mode.  ``mode``: 'auto' (the default: when a sample of A's rows is at most 45% nonzero
    -- for ``trans_a`` products at most 30%, and C at least 256 columns wide -- and the product
    is large enough for it to pay, e.g. a first layer's products on MNIST images), 'off'
    (never), 'always' (whenever the call's layout allows it, whatever the density:
    for tests and experiments).

    The zero-skipping path computes each element as the dense chain minus its steps that add
    +-0, so results are the same bits as the dense path's, except possibly the sign of a zero
    result; it needs beta == 0, rows of B and of C contiguous, and a finite B (a skipped
    0 * inf would have been NaN), and takes the dense path otherwise.  docs/kernels/gemm.md,
    "Zero-skipping", explains it and gives its speed.

        >>> previous = set_gemm_sparse_a("off")
        >>> gemm_config()["sparse_a"]
        'off'
        >>> set_gemm_sparse_a(previous)
        'off'
    """
    mode = contract.sparse_a_mode(mode)
    previous = _SPARSE_MODES[fnn_gemm_get_sparse_a()]
    fnn_gemm_set_sparse_a({name: code for code, name in _SPARSE_MODES.items()}[mode])
    return previous


def _set_inplace_split_min(value):
    """Private, for tests and experiments: the in-place paths split over threads from ``value``
    multiply-adds on (process-wide; 0: whenever the product has 1e4 multiply-adds, the floor,
    and two units of work), or from the measured threshold again when ``value`` is None."""
    fnn_gemm_set_ip_split_min(-1.0 if value is None else float(value))


def _sparse_a_calls():
    """Private, for tests: how many GEMM calls took the zero-skipping path so far."""
    return fnn_gemm_sparse_a_calls()


def set_gemm_blocking(mc=None, kc=None, nc=None):
    """Replace the GEMM's cache blocking (process-wide, for experiments); None derives that value
    from the caches (MC and NC are derived from the KC in use).  Each given value is an int
    within bounds (mc 1..8192, kc 1..4096, nc 1..65536; ValueError/TypeError naming it
    otherwise).  Where it is used, ``mc`` is rounded down to a multiple of the micro-kernel's MR
    and ``nc`` to a multiple of NR (never below one tile); :func:`gemm_config` shows the values
    in use.  Results never change: only speed does.  Returns the previous settings as a dict
    (None where derived), so ``set_gemm_blocking(**previous)`` restores them.

        >>> previous = set_gemm_blocking(kc=64)
        >>> gemm_config()["kc"]
        64
        >>> set_gemm_blocking(**previous)
        {'mc': None, 'kc': 64, 'nc': None}
    """
    cdef int64_t smc, skc, snc
    mc, kc, nc = contract.blocking_args(mc, kc, nc, _BLOCKING_LIMITS)
    fnn_gemm_get_blocking(&smc, &skc, &snc)
    previous = {"mc": smc or None, "kc": skc or None, "nc": snc or None}
    fnn_gemm_set_blocking(mc or 0, kc or 0, nc or 0)
    return previous


def _blocking_model(l1d, l2, l3_per_core, mr, nr, itemsize, mc=None, kc=None, nc=None):
    """Private, for tests: the blocking ``(mc, kc, nc)`` the model gives for these cache sizes
    (bytes), tile and element size, with optional set values (as set_gemm_blocking)."""
    cdef int64_t omc, okc, onc
    fnn_gemm_blocking_model(l1d, l2, l3_per_core, mr, nr, itemsize, mc or 0, kc or 0, nc or 0,
                            &omc, &okc, &onc)
    return omc, okc, onc


def _ukr_name():
    """The micro-kernels the GEMM runs at the current SIMD level: 'generic', 'avx2' or
    'avx512'."""
    return fnn_gemm_ukr_name(simd_level()).decode("ascii")
