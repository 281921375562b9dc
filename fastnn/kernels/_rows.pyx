# Design:
#
# Kernels over the rows of a batch: take_rows (a shuffled mini-batch gathered from a dataset) and
# sum_rows (the sum of a batch's rows: a Dense layer's bias gradient).  Three files make this
# family: the contract (fastnn/contracts/rows.py: every argument check, the private copy of the
# indices, the out= array), the NumPy twin (fastnn/reference/rows.py) and this module; the
# column loop of sum_rows is C (src_c/fnn_rows.h, with an AVX2 variant).
#
# * Validate first.  The contract runs in Python before any nogil code (bounds checks are off
#   below).  take_rows indexes x through the contract's private int64 copy of the indices, which
#   no other thread can change.  Their range is checked where each is used, in the copy loop
#   (one compare a row, after a negative index is wrapped by + n): an index outside [0, n) is
#   counted, never read, and a non-zero count makes the contract's check_row_indices raise the
#   twin's error afterwards (``out`` may then hold some rows already).  So the range costs no
#   pass of its own over the indices.
# * take_rows copies whole rows, as bytes (bool, integer, float or complex), straight from x
#   into the batch: no temporary, no per-element work.  A shuffled batch's rows are scattered
#   over the dataset, so the copy waits on memory; threads (each a contiguous run of batch rows)
#   keep more of those reads in flight.  A copy has no rounding: the bits are the twin's at any
#   thread count.
# * sum_rows adds the rows in order, each column its own chain from +0.0 (s[j] = 0 + a[0, j] +
#   a[1, j] + ...), which is NumPy's a.sum(axis=0) and the twin's order (a column of -0.0 sums to
#   +0.0, as there); threads split the columns (64-byte aligned runs), so no
#   sum depends on the thread count, and the SIMD level changes only how many columns one
#   instruction adds.  Small batches (a training step's bias gradients) run on one thread: the
#   work is a few microseconds, less than waking a second one.  A fast path checks the buffers
#   themselves before the contract (see _sum_rows_fast).
from cpython.buffer cimport (PyObject_GetBuffer, PyBuffer_Release, PyBUF_C_CONTIGUOUS,
                             PyBUF_WRITABLE)
from cython.parallel cimport prange
from libc.stdint cimport int64_t

from fastnn.kernels._buffers cimport acquire_exact, float_code, ranges_meet
from fastnn.kernels._runtime cimport simd_level, threads_for
from fastnn.kernels._rows cimport fnn_sum_rows_s, fnn_sum_rows_d, fnn_take_rows

import numpy as np

from fastnn.contracts import rows as contract

__all__ = ["take_rows", "sum_rows"]

_NDARRAY = np.ndarray

# bytes a take_rows thread copies at least, elements a sum_rows thread adds at least
cdef Py_ssize_t _TAKE_GRAIN = 1 << 16
cdef Py_ssize_t _SUM_GRAIN = 1 << 16


cdef class _Held:
    """The buffer of a C-contiguous array, held while a kernel reads or writes it (the address
    through the buffer protocol: numpy's ``__array_interface__`` builds a dict at every call)."""
    cdef Py_buffer view

    def __cinit__(self, arr, bint writable):
        PyObject_GetBuffer(arr, &self.view,
                           PyBUF_C_CONTIGUOUS | (PyBUF_WRITABLE if writable else 0))

    def __dealloc__(self):
        PyBuffer_Release(&self.view)


def take_rows(x, indices, out=None):
    """The rows ``x[indices]``, C-contiguous (``np.take(x, indices, axis=0)``): a shuffled
    mini-batch gathered from a dataset.  ``x`` C-contiguous, of a bool, integer, float or
    complex dtype; indices in ``[-n, n)``; ``out``: an array of the result's shape and x's dtype
    to write into.  See fastnn.reference.take_rows."""
    a = contract.take_rows_args(x, indices, out)
    result = np.empty(a.out_shape, a.x.dtype) if a.out is None else a.out
    cdef Py_ssize_t m = a.indices.shape[0], n = a.x.shape[0], i, bad = 0
    cdef Py_ssize_t row_bytes = a.x.dtype.itemsize
    for i in range(1, a.x.ndim):
        row_bytes *= a.x.shape[i]
    if m == 0 or row_bytes == 0:
        return result
    cdef _Held xs = _Held(a.x, False), rs = _Held(result, True), ks = _Held(a.indices, False)
    cdef const char *src = <const char *> xs.view.buf
    cdef char *dst = <char *> rs.view.buf
    cdef const int64_t *idx = <const int64_t *> ks.view.buf
    cdef int nt = threads_for(m * row_bytes, m, _TAKE_GRAIN), t
    cdef Py_ssize_t per = (m + nt - 1) // nt
    if nt == 1:
        with nogil:
            bad = fnn_take_rows(src, dst, idx, 0, m, row_bytes, n)
    else:
        for t in prange(nt, schedule="static", num_threads=nt, nogil=True):
            bad += fnn_take_rows(src, dst, idx, min(t * per, m), min((t + 1) * per, m),
                                 row_bytes, n)
    if bad:
        contract.check_row_indices(a.indices, n)     # raises, naming the index
    return result


def sum_rows(a, out=None):
    """The sum of the rows of ``a`` (N, M), added in row order from +0.0: ``s[j] = 0 + a[0, j]
    + ... + a[N-1, j]`` in a's dtype, as NumPy's ``a.sum(axis=0)`` (a Dense layer's bias
    gradient).  See fastnn.reference.sum_rows."""
    result = _sum_rows_fast(a, out)
    if result is not None:
        return result
    args = contract.sum_rows_args(a, out)
    result = np.empty(args.a.shape[1], args.a.dtype) if args.out is None else args.out
    cdef _Held held_a = _Held(args.a, False), held_s = _Held(result, True)
    _sum_rows_go(held_a.view.buf, held_s.view.buf, args.a.shape[0], args.a.shape[1],
                 args.a.dtype == np.float32)
    return result


# The fast path of sum_rows (the pattern of fastnn/kernels/_activations.pyx, its acquisition
# shared through _buffers.pxd): a training step's bias gradients are small, and the contract's
# checks cost about as much as their loop, so the buffers are first checked directly -- an
# exact ndarray ``a``, C-contiguous, float32/float64, 2-D and non-empty; ``out`` None or an
# exact ndarray of shape (M,) and a's format, C-contiguous, writeable and clear of a's bytes.
# Anything else returns None and goes to the contract, which accepts or rejects it with its own
# messages: the fast path never raises and never accepts what the contract refuses.
cdef object _sum_rows_fast(object a, object out):
    cdef Py_buffer va, vo
    cdef char code
    if not acquire_exact(a, _NDARRAY, &va, False):
        return None
    try:
        code = float_code(&va)
        if code == 0 or va.ndim != 2 or va.len == 0:
            return None
        if out is None:
            out = np.empty(va.shape[1], a.dtype)
        if not acquire_exact(out, _NDARRAY, &vo, True):
            return None
        try:
            if (float_code(&vo) != code or vo.ndim != 1 or vo.shape[0] != va.shape[1]
                    or ranges_meet(&vo, &va)):
                return None
            _sum_rows_go(va.buf, vo.buf, va.shape[0], va.shape[1], code == b'f')
            return out
        finally:
            PyBuffer_Release(&vo)
    finally:
        PyBuffer_Release(&va)


cdef void _sum_rows_go(void *a, void *s, Py_ssize_t N, Py_ssize_t M, bint single):
    """s = the row sums of the C-ordered (N, M) buffer a, threads splitting the columns."""
    cdef int simd = simd_level()
    cdef int nt = threads_for(N * M, (M + 15) // 16, _SUM_GRAIN), t
    cdef Py_ssize_t per = (M + nt - 1) // nt
    per = (per + 15) // 16 * 16         # each thread's columns start on a 64-byte boundary
    if nt == 1:
        with nogil:
            if single:
                fnn_sum_rows_s(simd, <const float *> a, <float *> s, N, M, 0, M)
            else:
                fnn_sum_rows_d(simd, <const double *> a, <double *> s, N, M, 0, M)
        return
    for t in prange(nt, schedule="static", num_threads=nt, nogil=True):
        if single:
            fnn_sum_rows_s(simd, <const float *> a, <float *> s, N, M, min(t * per, M),
                           min((t + 1) * per, M))
        else:
            fnn_sum_rows_d(simd, <const double *> a, <double *> s, N, M, min(t * per, M),
                           min((t + 1) * per, M))
