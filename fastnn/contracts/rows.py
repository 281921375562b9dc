"""Contract of the rows family: kernels over the rows of a batch, called first by the compiled
kernels (``fastnn/kernels/_rows.pyx``) and by their NumPy twins (``fastnn/reference/rows.py``),
so both accept and reject the same inputs with the same messages.

* ``take_rows(x, indices, out=None)``: the rows ``x[indices]`` (a shuffled mini-batch gathered
  from a dataset), as ``np.take(x, indices, axis=0)``.  Indices lie in ``[-n, n)`` (negative
  ones count from the end, as NumPy's).
* ``sum_rows(a, out=None)``: the sum of the rows of ``a`` (N, M), added in row order from
  +0.0, as NumPy's ``a.sum(axis=0)`` (a Dense layer's bias gradient ``db = sum_n dz[n]``).

    >>> import numpy as np
    >>> a = take_rows_args(np.zeros((5, 3), np.float32), [4, -1, 0], None)
    >>> a.indices, a.out_shape
    (array([ 4, -1,  0]), (3, 3))
"""
import collections

import numpy as np

from .. import _validate as _v

__all__ = ["TakeRowsArgs", "SumRowsArgs", "take_rows_args", "check_row_indices",
           "sum_rows_args"]

TakeRowsArgs = collections.namedtuple("TakeRowsArgs", "x indices out_shape out")
TakeRowsArgs.__doc__ = """Checked ``take_rows`` arguments: x (C-contiguous, as given), indices
as a private int64 copy (their range is checked by :func:`check_row_indices`), the result's
shape and ``out`` (None or the checked array)."""

SumRowsArgs = collections.namedtuple("SumRowsArgs", "a out")
SumRowsArgs.__doc__ = """Checked ``sum_rows`` arguments: a (N, M) float32/float64 in C order
(copied once when it was not) and ``out`` (None or the checked (M,) array)."""


def take_rows_args(x, indices, out):
    """Check ``take_rows(x, indices, out)`` -> :class:`TakeRowsArgs`, all but the range of the
    indices (:func:`check_row_indices`).

    ``x``: an ndarray of one or more dimensions, of a bool, integer, float or complex dtype,
    C-contiguous (its rows are copied as blocks of bytes; a dataset in another layout would be
    copied whole at every call, so it is refused: pass ``np.ascontiguousarray(x)`` once).
    ``indices``: a 1-D integer array (or list); it may be empty.  Returns them as a private int64
    copy (a negative entry k stands for row k + n, as in NumPy).
    """
    if not isinstance(x, np.ndarray):
        raise TypeError("x must be a numpy.ndarray, got %s" % type(x).__name__)
    if x.ndim < 1:
        raise ValueError("x must have at least 1 dimension (rows), got a 0-dimensional array")
    if x.dtype.kind not in "biufc":
        raise TypeError("x must have a bool, integer, float or complex dtype, got %s" % x.dtype)
    if not x.flags.c_contiguous:
        raise ValueError("x must be C-contiguous (its rows are copied as blocks of bytes; pass "
                         "np.ascontiguousarray(x) once)")
    if not (type(indices) is np.ndarray and indices.ndim == 1 and indices.dtype.kind in "iu"):
        indices = _v.check_int_array(indices, "indices", ndim=1, allow_empty=True)
    # a private copy: the compiled kernel reads it without the GIL
    private = indices.astype(np.int64)
    if indices.dtype.kind == "u" and indices.dtype.itemsize == 8 and private.size:
        huge = private < 0                  # beyond int64: no row has such an index
        if huge.any():
            raise ValueError("indices must lie in [-%d, %d) (x has %d rows), got %d" % (
                x.shape[0], x.shape[0], x.shape[0], int(indices[huge][0])))
    out_shape = (indices.shape[0],) + x.shape[1:]
    if out is not None:
        out = _v.check_out(out, "out", out_shape, x.dtype, inputs=[("x", x)])
    return TakeRowsArgs(x, private, out_shape, out)


def check_row_indices(indices, n):
    """Raise ValueError unless every entry of ``indices`` (take_rows_args' int64 copy) lies in
    [-n, n): the range check of ``take_rows``, which the compiled kernel makes in its copy loop
    (an index out of range is counted, not read) and this function then reports."""
    if indices.size:
        lo, hi = int(indices.min()), int(indices.max())
        if lo < -n or hi >= n:
            raise ValueError("indices must lie in [-%d, %d) (x has %d rows), got %d" % (
                n, n, n, lo if lo < -n else hi))


def sum_rows_args(a, out):
    """Check ``sum_rows(a, out)`` -> :class:`SumRowsArgs`: ``a`` a non-empty (N, M) float32 or
    float64 array of any layout, ``out`` None or a C-contiguous writeable (M,) array of a's
    dtype that does not overlap ``a``."""
    a = _v.check_array(a, "a", ndim=2)
    if out is not None:
        out = _v.check_out(out, "out", (a.shape[1],), a.dtype, inputs=[("a", a)])
    return SumRowsArgs(np.ascontiguousarray(a), out)
