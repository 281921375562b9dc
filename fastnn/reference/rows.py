"""NumPy twins of the rows kernels (``fastnn.kernels._rows``): a mini-batch gathered from a
dataset, and the sum of a batch's rows.

    >>> x = np.arange(12.0).reshape(4, 3)
    >>> take_rows(x, [2, 0])
    array([[6., 7., 8.],
           [0., 1., 2.]])
    >>> sum_rows(x)
    array([18., 22., 26.])
"""
import numpy as np

from ..contracts import rows as contract

__all__ = ["take_rows", "sum_rows"]


def take_rows(x, indices, out=None):
    """The rows ``x[indices]``, C-contiguous: what ``np.take(x, indices, axis=0)`` returns (a
    shuffled mini-batch; ``fastnn.data.batches`` gathers its batches with it).  Indices in
    ``[-n, n)``; ``out``: an array of the result's shape and x's dtype to write into."""
    a = contract.take_rows_args(x, indices, out)
    contract.check_row_indices(a.indices, a.x.shape[0])
    rows = np.take(a.x, a.indices, axis=0)
    if a.out is None:
        return rows
    a.out[...] = rows
    return a.out


def sum_rows(a, out=None):
    """The sum of the rows of ``a`` (N, M): ``s[j] = 0 + a[0, j] + a[1, j] + ... + a[N-1, j]``,
    added in that order from +0.0, in a's dtype.  A Dense layer's bias gradient is
    ``sum_rows(dz)``.

    That is NumPy's ``a.sum(axis=0)`` of a C-ordered array with two or more columns: it walks
    the array row after row, adding each row to running sums that start at +0.0.  One column is
    a contiguous vector, which NumPy sums pairwise instead; there the running sums of
    ``np.cumsum`` give the order, and adding +0.0 the start (it turns a -0.0 sum into +0.0, the
    only difference a +0.0 start can make)."""
    args = contract.sum_rows_args(a, out)
    arr = args.a
    if arr.shape[1] == 1:
        total = np.cumsum(arr[:, 0], dtype=arr.dtype)[-1:] + arr.dtype.type(0)
    else:
        total = np.add.reduce(arr, axis=0, dtype=arr.dtype)
    if args.out is None:
        return total
    args.out[...] = total
    return args.out
