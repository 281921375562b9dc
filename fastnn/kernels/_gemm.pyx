# Design:
#
# This module is the Python face of fastnn's C GEMM (src_c/fnn_gemm.c, contract in fnn_gemm.h).
# Each public function does all of its checking in Python first -- rank, dtype, shapes, the
# output array, overlap between output and inputs -- using fastnn._validate, exactly as its NumPy
# twin in fastnn/reference/gemm.py does, so both raise the same errors.  Only then does it take
# raw pointers and element strides and call C with the GIL released.  The C code has no checks
# (bounds checking is impossible there), so nothing unvalidated may reach it.
#
# Inputs are read in place through their strides: transposes (trans_a/trans_b or a.T), Fortran
# order, slices, negative and zero strides all cost nothing extra, because the C packing routines
# gather panels from any strides.  Only an array whose strides are not whole elements (or whose
# data is misaligned) is copied first.  Pointers come from the buffer protocol (PyObject_GetBuffer)
# rather than typed memoryviews so one code path serves float32 and float64, 2-D and 3-D, and
# read-only inputs, at ~0.1 us per array.
#
# Empty arrays: matmul follows NumPy (an (M, 0) @ (0, N) product is an M x N array of zeros; a
# zero M or N gives an empty result).  matmul_bias is a dense layer's forward pass, so an empty
# batch or an empty weight is an error (ValueError), as the package-wide conventions require.
#
# Threads: the C kernel splits the output into tiles over fastnn.get_num_threads() OpenMP
# threads and never splits a dot product, so every result is bit-identical at any thread count.

import numpy as np

from cpython.buffer cimport (PyObject_GetBuffer, PyBuffer_Release, PyBUF_RECORDS,
                             PyBUF_RECORDS_RO)
from libc.stdint cimport int64_t

from fastnn import _validate as _v
from fastnn._config import get_num_threads

cdef extern from "fnn_gemm.h" nogil:
    enum:
        FNN_ACT_NONE
        FNN_ACT_RELU
        FNN_ACT_SIGMOID
        FNN_ACT_TANH
        FNN_ACT_ELU
    enum:
        FNN_BIAS_NONE
        FNN_BIAS_ROW
        FNN_BIAS_COL
    void fnn_sgemm(int64_t batch, int64_t M, int64_t N, int64_t K,
                   const float *A, int64_t a_bs, int64_t a_rs, int64_t a_cs,
                   const float *B, int64_t b_bs, int64_t b_rs, int64_t b_cs,
                   float beta, float *C, int64_t c_bs, int64_t c_rs, int64_t c_cs,
                   const float *bias, int bias_mode, int act, float elu_alpha, int nthreads)
    void fnn_dgemm(int64_t batch, int64_t M, int64_t N, int64_t K,
                   const double *A, int64_t a_bs, int64_t a_rs, int64_t a_cs,
                   const double *B, int64_t b_bs, int64_t b_rs, int64_t b_cs,
                   double beta, double *C, int64_t c_bs, int64_t c_rs, int64_t c_cs,
                   const double *bias, int bias_mode, int act, double elu_alpha, int nthreads)
    const char *fnn_gemm_simd_level()

__all__ = ["matmul", "matmul_bias", "simd_level"]

_ACT_CODES = {None: FNN_ACT_NONE, "relu": FNN_ACT_RELU, "sigmoid": FNN_ACT_SIGMOID,
              "tanh": FNN_ACT_TANH, "elu": FNN_ACT_ELU}
_BIAS_CODES = {None: FNN_BIAS_NONE, "row": FNN_BIAS_ROW, "col": FNN_BIAS_COL}
_F32 = np.dtype(np.float32)


def simd_level():
    """The GEMM micro-kernel chosen at run time for this CPU: ``"avx2+fma"`` or ``"generic"``."""
    return fnn_gemm_simd_level().decode("ascii")


cdef object _readable(object x):
    """``x`` when C can address it by whole-element strides, else an aligned C-ordered copy."""
    cdef Py_ssize_t isz = x.itemsize
    if not x.flags.aligned:
        return np.ascontiguousarray(x)
    for s in x.strides:
        if s % isz:
            return np.ascontiguousarray(x)
    return x


cdef object _check_bool(object v, str name):
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    raise TypeError("%s must be a bool, got %r (%s)" % (name, v, type(v).__name__))


cdef object _raise_overlap(str out_name, str name):
    raise ValueError("%s must not share memory with %s (the kernel writes %s while reading %s)"
                     % (out_name, name, out_name, name))


cdef object _check_no_overlap(object out, str out_name, tuple inputs):
    for name, arr in inputs:
        if arr is not None and np.may_share_memory(out, arr) and np.shares_memory(out, arr):
            _raise_overlap(out_name, name)


cdef void _extent(Py_buffer *v, char **lo, char **hi) noexcept:
    """Byte range [lo, hi) spanned by a strided buffer (lo == hi when it is empty)."""
    cdef char *l = <char *>v.buf
    cdef char *h = <char *>v.buf
    cdef int i
    for i in range(v.ndim):
        if v.shape[i] == 0:
            lo[0] = hi[0] = l
            return
        if v.strides[i] < 0:
            l += v.strides[i] * (v.shape[i] - 1)
        else:
            h += v.strides[i] * (v.shape[i] - 1)
    lo[0] = l
    hi[0] = h + v.itemsize


cdef bint _ranges_meet(Py_buffer *x, Py_buffer *y) noexcept:
    cdef char *xl
    cdef char *xh
    cdef char *yl
    cdef char *yh
    _extent(x, &xl, &xh)
    _extent(y, &yl, &yh)
    return xl < xh and yl < yh and xl < yh and yl < xh


cdef object _make_out(object out, str name, tuple shape, object dtype):
    """A fresh output, or the caller's after checking it (overlap is checked in _call_gemm,
    on the buffers it has to acquire anyway: a byte-range test, then NumPy's exact test)."""
    if out is None:
        return np.empty(shape, dtype=dtype)
    _v.check_out(out, name, shape, dtype)
    return out


cdef int64_t _estride(Py_buffer *view, int axis, int ndim) noexcept:
    """Element stride of axis `axis` counted from the end (so 2-D and 3-D share code); 0 for a
    missing leading (batch) axis."""
    cdef int ax = view.ndim - ndim + axis
    if ax < 0:
        return 0
    return view.strides[ax] // view.itemsize


cdef _call_gemm(object a, object b, object c, object bias, int64_t batch, int64_t M,
                int64_t N, int64_t K, bint trans_a, bint trans_b, double beta,
                int bias_mode, int act, double elu_alpha, tuple names):
    """Run C[i] = act(beta*C[i] + op(A[i]) @ op(B[i]) + bias).  a, b, c are validated 2-D or 3-D
    arrays (a missing batch axis is broadcast with stride 0); bias is None or a 1-D contiguous
    array of the right length.  `names` = (a, b, c, bias) argument names for the overlap error;
    the arrays tested are the caller's (a copy made by _readable cannot overlap anyway)."""
    cdef Py_buffer va, vb, vc, vbias
    cdef bint got_a = False, got_b = False, got_c = False, got_bias = False
    cdef int64_t a_bs, a_rs, a_cs, b_bs, b_rs, b_cs, c_bs, c_rs, c_cs
    cdef int nthreads = get_num_threads()
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
        if _ranges_meet(&vc, &va) and np.shares_memory(c, a):
            _raise_overlap(names[2], names[0])
        if _ranges_meet(&vc, &vb) and np.shares_memory(c, b):
            _raise_overlap(names[2], names[1])
        if got_bias and _ranges_meet(&vc, &vbias) and np.shares_memory(c, bias):
            _raise_overlap(names[2], names[3])
        if is_f32:
            with nogil:
                fnn_sgemm(batch, M, N, K,
                          <const float *>va.buf, a_bs, a_rs, a_cs,
                          <const float *>vb.buf, b_bs, b_rs, b_cs,
                          <float>beta, <float *>vc.buf, c_bs, c_rs, c_cs,
                          <const float *>pbias, bias_mode, act, <float>elu_alpha, nthreads)
        else:
            with nogil:
                fnn_dgemm(batch, M, N, K,
                          <const double *>va.buf, a_bs, a_rs, a_cs,
                          <const double *>vb.buf, b_bs, b_rs, b_cs,
                          beta, <double *>vc.buf, c_bs, c_rs, c_cs,
                          <const double *>pbias, bias_mode, act, elu_alpha, nthreads)
    finally:
        if got_bias:
            PyBuffer_Release(&vbias)
        if got_c:
            PyBuffer_Release(&vc)
        if got_b:
            PyBuffer_Release(&vb)
        if got_a:
            PyBuffer_Release(&va)


def matmul(a, b, trans_a=False, trans_b=False, out=None):
    """``op(a) @ op(b)`` where ``op(a)`` is ``a.T`` when ``trans_a`` (likewise ``b``).

    a, b: 2-D float32 or float64 arrays of the same dtype, any strides (read in place).
    out: optional C-contiguous array of shape (M, N) and the same dtype, not overlapping a or b;
    its previous contents (even NaN) are ignored.  Returns the result (``out`` when given).
    Empty dimensions follow NumPy: K == 0 gives zeros, M == 0 or N == 0 an empty array.
    """
    a = _v.check_array(a, "a", ndim=2, allow_empty=True)
    b = _v.check_array(b, "b", ndim=2, allow_empty=True)
    if a.dtype is not b.dtype:  # identity is the common, cheap case; the check gives the message
        _v.check_same_dtype(("a", a), ("b", b))
    trans_a = _check_bool(trans_a, "trans_a")
    trans_b = _check_bool(trans_b, "trans_b")
    M, K = (a.shape[1], a.shape[0]) if trans_a else a.shape
    Kb, N = (b.shape[1], b.shape[0]) if trans_b else b.shape
    if K != Kb:
        raise ValueError(
            "inner dimensions must agree: op(a) is %d x %d (a has shape %s, trans_a=%s) but op(b) "
            "is %d x %d (b has shape %s, trans_b=%s)" % (M, K, a.shape, trans_a, Kb, N, b.shape,
                                                        trans_b))
    out = _make_out(out, "out", (M, N), a.dtype)
    if M == 0 or N == 0:
        return out
    _call_gemm(_readable(a), _readable(b), out, None, 1, M, N, K, trans_a, trans_b, 0.0,
               FNN_BIAS_NONE, FNN_ACT_NONE, 1.0, ("a", "b", "out", None))
    return out


def matmul_bias(x, w, b, activation=None, out=None, elu_alpha=1.0):
    """``act(x @ w + b)`` in one fused pass (bias and activation applied to each output tile
    while it is in cache).

    x: (N, in), w: (in, out), b: (out,), all float32 or all float64, non-empty; x and w may have
    any strides.  activation: None, 'relu', 'sigmoid', 'tanh' or 'elu' (``elu_alpha`` * expm1(v)
    for v <= 0).  out: optional C-contiguous (N, out) array, not overlapping the inputs.
    """
    x = _v.check_array(x, "x", ndim=2)
    w = _v.check_array(w, "w", ndim=2)
    b = _v.check_array(b, "b", ndim=1)
    _v.check_same_dtype(("x", x), ("w", w), ("b", b))
    activation = _v.check_activation(activation)
    elu_alpha = _v.check_scalar(elu_alpha, "elu_alpha")
    n, k = x.shape
    if w.shape[0] != k:
        raise ValueError("w must have shape (%d, *) to match x of shape %s (in_features = %d), "
                         "got %s" % (k, x.shape, k, w.shape))
    m = w.shape[1]
    _v.check_shape(b, "b", (m,))
    out = _make_out(out, "out", (n, m), x.dtype)
    _call_gemm(_readable(x), _readable(w), out, np.ascontiguousarray(b), 1, n, m, k, False, False,
               0.0, FNN_BIAS_COL, _ACT_CODES[activation], elu_alpha, ("x", "w", "out", "b"))
    return out


def _gemm_ex(a, b, c, beta=0.0, bias=None, bias_mode=None, activation=None, elu_alpha=1.0,
             trans_a=False, trans_b=False):
    """Private hook exposing every feature of the C kernel, for tests and sibling kernels:
    ``c[i] = act(beta * c[i] + op(a[i]) @ op(b[i]) + bias)`` in place, for 2-D or batched 3-D
    arrays (a 2-D a or b is shared by every batch item).  ``c`` may have any strides;
    ``bias_mode`` is None, 'row' (bias of length M) or 'col' (length N).  Returns ``c``."""
    a = _v.check_array(a, "a", ndim=(2, 3), allow_empty=True)
    b = _v.check_array(b, "b", ndim=(2, 3), allow_empty=True)
    if not isinstance(c, np.ndarray):
        raise TypeError("c must be a numpy.ndarray, got %s" % type(c).__name__)
    c = _v.check_array(c, "c", ndim=(2, 3), allow_empty=True)
    _v.check_same_dtype(("c", c), ("a", a), ("b", b))
    if not c.flags.writeable:
        raise ValueError("c must be writeable")
    trans_a = _check_bool(trans_a, "trans_a")
    trans_b = _check_bool(trans_b, "trans_b")
    beta = _v.check_scalar(beta, "beta")
    activation = _v.check_activation(activation)
    elu_alpha = _v.check_scalar(elu_alpha, "elu_alpha")
    if bias_mode not in _BIAS_CODES:
        raise ValueError("bias_mode must be one of %s, got %r" % (tuple(_BIAS_CODES), bias_mode))
    batch = c.shape[0] if c.ndim == 3 else 1
    # (wraparound is off in this module: index shapes from the front.)
    M, N = c.shape[c.ndim - 2], c.shape[c.ndim - 1]
    for name, arr in (("a", a), ("b", b)):
        if arr.ndim == 3 and (c.ndim != 3 or arr.shape[0] != batch):
            raise ValueError("%s has batch size %d but c has shape %s" % (name, arr.shape[0],
                                                                          c.shape))
    Ma, K = a.shape[a.ndim - 2], a.shape[a.ndim - 1]
    if trans_a:
        Ma, K = K, Ma
    Kb, Nb = b.shape[b.ndim - 2], b.shape[b.ndim - 1]
    if trans_b:
        Kb, Nb = Nb, Kb
    if Ma != M or Nb != N or K != Kb:
        raise ValueError("shapes do not chain: op(a) is %d x %d, op(b) is %d x %d, c is %d x %d"
                         % (Ma, K, Kb, Nb, M, N))
    if (bias is None) != (bias_mode is None):
        raise ValueError("bias and bias_mode must be given together, got bias=%s, bias_mode=%r"
                         % ("None" if bias is None else "array", bias_mode))
    if bias is not None:
        bias = _v.check_array(bias, "bias", ndim=1, allow_empty=True)
        _v.check_same_dtype(("c", c), ("bias", bias))
        _v.check_shape(bias, "bias", (M if bias_mode == "row" else N,))
        bias = np.ascontiguousarray(bias)
    _check_no_overlap(c, "c", (("a", a), ("b", b), ("bias", bias)))
    if c.size == 0:
        return c
    # c is written through its own strides, so it must not be copied.
    for s in c.strides:
        if s % c.itemsize or not c.flags.aligned:
            raise ValueError("c must have whole-element strides and aligned data")
    _call_gemm(_readable(a), _readable(b), c, bias, batch, M, N, K, trans_a, trans_b, beta,
               _BIAS_CODES[bias_mode], _ACT_CODES[activation], elu_alpha, ("a", "b", "c", "bias"))
    return c
