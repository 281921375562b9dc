"""Argument checks shared by the compiled kernels' wrappers and their NumPy twins.

Every public kernel validates here, in Python, before any ``nogil`` code runs (bounds checks are
off there).  Errors name the argument, the expected and the actual value.
"""
import collections
import math
import numbers

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _describe_dtype(dt):
    return str(np.dtype(dt)) if dt is not None else "None"


def check_array(x, name, *, ndim=None, dtypes=FLOAT_DTYPES, allow_empty=False):
    """Return ``x`` as an ndarray after checking type, dtype, rank and emptiness.

    ``ndim`` is an int or a tuple of allowed ranks.  ``dtypes`` is a tuple of allowed dtypes
    (default float32/float64); integer or object data raise TypeError rather than being cast.
    The array is returned as is (no copy); callers decide whether they need contiguity.
    """
    if not isinstance(x, np.ndarray):
        if isinstance(x, (list, tuple)) or np.isscalar(x):
            x = np.asarray(x)
            if (x.dtype == np.float64 and np.dtype(np.float32) in dtypes
                    and np.dtype(np.float64) not in dtypes):
                x = x.astype(np.float32)
        else:
            raise TypeError("%s must be a numpy.ndarray, got %s" % (name, type(x).__name__))
    if dtypes is not None and x.dtype not in dtypes:
        raise TypeError("%s must have dtype %s, got %s" % (
            name, " or ".join(_describe_dtype(d) for d in dtypes), x.dtype))
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.ndim not in allowed:
            raise ValueError("%s must be %s-dimensional, got shape %s (%d-dimensional)" % (
                name, " or ".join(str(a) for a in allowed), x.shape, x.ndim))
    if not allow_empty and x.size == 0:
        raise ValueError("%s must not be empty, got shape %s" % (name, x.shape))
    return x


def check_int_array(x, name, *, ndim=None, allow_empty=False):
    """Integer (or bool for masks is NOT accepted) array check; returns the array."""
    if not isinstance(x, np.ndarray):
        if isinstance(x, (list, tuple)):
            x = np.asarray(x)
        else:
            raise TypeError("%s must be a numpy.ndarray, got %s" % (name, type(x).__name__))
    if not np.issubdtype(x.dtype, np.integer):
        raise TypeError("%s must have an integer dtype, got %s" % (name, x.dtype))
    return check_array(x, name, ndim=ndim, dtypes=None, allow_empty=allow_empty)


#: elements tested per step by ``all_finite``: its temporary stays in cache
_FINITE_CHUNK = 1 << 17


def all_finite(a):
    """Whether the float array ``a`` holds no NaN or inf: ``np.isfinite(a).all()``, for a large
    C-contiguous array (a training set) a chunk at a time, so that it needs no temporary of its
    size and an early NaN ends the scan (any other layout is tested in one go).

        >>> all_finite(np.array([1.0, np.inf]))
        False
    """
    flat = a.reshape(-1) if a.flags.c_contiguous else None
    if flat is None or flat.size <= _FINITE_CHUNK:
        return bool(np.isfinite(a).all())
    test = np.empty(_FINITE_CHUNK, dtype=bool)
    for start in range(0, flat.size, _FINITE_CHUNK):
        part = flat[start:start + _FINITE_CHUNK]
        into = test[:part.size]
        np.isfinite(part, out=into)
        if not into.all():
            return False
    return True


def check_same_dtype(*pairs):
    """``check_same_dtype(("x", x), ("w", w))``: every array shares the first one's dtype."""
    (name0, a0) = pairs[0]
    for name, a in pairs[1:]:
        if a.dtype != a0.dtype:
            raise TypeError("%s must have the same dtype as %s (%s), got %s" % (
                name, name0, a0.dtype, a.dtype))


def check_shape(x, name, expected):
    """``expected`` is a tuple of ints or None (any)."""
    ok = x.ndim == len(expected) and all(e is None or e == s for e, s in zip(expected, x.shape))
    if not ok:
        parts = ["*" if e is None else str(e) for e in expected]
        shown = "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"
        raise ValueError("%s must have shape %s, got %s" % (name, shown, x.shape))


def _as_int(v, name):
    if type(v) is int:          # the common case, without the ABC check below (bool is not int)
        return v
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError("%s must be an int, got %r (%s)" % (name, v, type(v).__name__))
    return int(v)


def check_int(v, name, *, min=None, max=None):
    v = _as_int(v, name)
    if min is not None and v < min:
        raise ValueError("%s must be >= %d, got %d" % (name, min, v))
    if max is not None and v > max:
        raise ValueError("%s must be <= %d, got %d" % (name, max, v))
    return v


def check_pair(v, name, *, min=None):
    """An int or a pair of ints (height, width) -> tuple of two ints, each >= min."""
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError("%s must be an int or a pair (h, w), got %r" % (name, v))
        return (check_int(v[0], name + "[0]", min=min), check_int(v[1], name + "[1]", min=min))
    v = check_int(v, name, min=min)
    return (v, v)


def check_scalar(v, name, *, min=None, max=None, min_inclusive=True, max_inclusive=True):
    """A finite real number within optional bounds -> float."""
    # an exact float skips the ABC check (numbers.Real), the slow part of a per-call check
    if type(v) is not float:
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise TypeError("%s must be a real number, got %r (%s)"
                            % (name, v, type(v).__name__))
        v = float(v)
    if not math.isfinite(v):
        raise ValueError("%s must be finite, got %r" % (name, v))
    if min is not None and (v < min or (not min_inclusive and v == min)):
        raise ValueError("%s must be %s %r, got %r"
                         % (name, ">=" if min_inclusive else ">", min, v))
    if max is not None and (v > max or (not max_inclusive and v == max)):
        raise ValueError("%s must be %s %r, got %r"
                         % (name, "<=" if max_inclusive else "<", max, v))
    return v


def check_bool(v, name):
    """A Python or NumPy bool (not 0/1, not a string): TypeError naming ``name`` otherwise."""
    if v is True or v is False:
        return v
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError("%s must be a bool, got %r (%s)" % (name, v, type(v).__name__))
    return bool(v)


def check_out(out, name, shape, dtype, inputs=(), allow_inplace=False):
    """The one ``out=`` rule of every kernel.

    ``out`` must be an ndarray of exactly ``shape`` and ``dtype``, C-contiguous and writeable, and
    must not share memory with any of ``inputs`` (a sequence of ``(name, array or None)``): the
    kernel writes ``out`` while it reads them.  With ``allow_inplace`` (elementwise kernels that
    read element i before writing it) ``out`` may be *exactly* an input -- same start, dtype,
    shape, C-contiguous -- but never partially overlap one.  Returns ``out``.
    """
    if not isinstance(out, np.ndarray):
        raise TypeError("%s must be a numpy.ndarray or None, got %s" % (name, type(out).__name__))
    if out.dtype != dtype:
        raise TypeError("%s must have dtype %s, got %s" % (name, dtype, out.dtype))
    if tuple(out.shape) != tuple(shape):
        raise ValueError("%s must have shape %s, got %s" % (name, tuple(shape), out.shape))
    if not out.flags.c_contiguous:
        raise ValueError("%s must be C-contiguous" % name)
    if not out.flags.writeable:
        raise ValueError("%s must be writeable" % name)
    for in_name, arr in inputs:
        if arr is None or not np.shares_memory(out, arr):
            continue
        if allow_inplace and _same_memory(out, arr):
            continue
        if allow_inplace:
            raise ValueError("%s must not partially overlap %s (the same array, in place, is "
                             "allowed)" % (name, in_name))
        raise ValueError("%s must not share memory with %s (the kernel writes %s while reading "
                         "%s)" % (name, in_name, name, in_name))
    return out


def _same_memory(a, b):
    """True when ``b`` is element for element the memory of ``a`` (C-contiguous ``a``)."""
    return (a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
            and a.dtype == b.dtype and a.shape == b.shape and b.flags.c_contiguous)


def make_out(out, name, shape, dtype, inputs=(), allow_inplace=False):
    """A fresh ``np.empty(shape, dtype)`` when ``out`` is None, else ``check_out(...)``."""
    if out is None:
        return np.empty(shape, dtype=dtype)
    return check_out(out, name, shape, dtype, inputs, allow_inplace)


#: The most bytes one array can take: the user half of a 48-bit virtual address space (x86-64,
#: AArch64).  A size beyond it is a mistake in the arguments, never a real request.
MAX_ARRAY_BYTES = 2 ** 47


def check_alloc(shape, dtype, name, what):
    """Check that an array a kernel is about to allocate, its ``shape`` computed from
    caller-given sizes, could exist: at most :data:`MAX_ARRAY_BYTES` bytes of ``dtype`` (which
    also keeps every element count and index far inside int64).  Otherwise a ValueError naming
    ``name`` (the arguments that set the size) before NumPy tries the allocation (and raises
    MemoryError or 'array is too big').  Counted in Python ints, which do not overflow.
    Returns ``shape``.

        >>> check_alloc((1, 1, 2 ** 40, 2 ** 40), np.float32, "x_shape", "dx")
        Traceback (most recent call last):
        ...
        ValueError: dx of shape (1, 1, 1099511627776, 1099511627776) would take 2**82 bytes \
(float32), more than any address space holds (2**47): check x_shape
    """
    nbytes = np.dtype(dtype).itemsize
    for s in shape:
        nbytes *= int(s)
    if nbytes > MAX_ARRAY_BYTES:
        raise ValueError("%s of shape %s would take %s bytes (%s), more than any address space "
                         "holds (2**47): check %s" % (
                             what, tuple(int(s) for s in shape), _bytes_text(nbytes),
                             np.dtype(dtype), name))
    return shape


def _bytes_text(n):
    """``n`` as 2**k when it is a power of two, else the number."""
    return "2**%d" % (n.bit_length() - 1) if n & (n - 1) == 0 else str(n)


def check_labels(labels, name, n, num_classes):
    """Integer class ids, shape (n,), each in [0, num_classes) -> a private int64 copy.

    Always a copy: the compiled kernels index with these ids with the GIL released, and an id
    checked here must be the id used there, whatever another thread does to the caller's array.
    """
    labels = check_int_array(labels, name, ndim=1)
    if labels.shape[0] != n:
        raise ValueError("%s must have length %d (the batch size), got %d"
                         % (name, n, labels.shape[0]))
    labels = np.array(labels, order="C", copy=True)
    # the range is checked on the copy in its own dtype (a uint64 id above 2**63 must be
    # reported as itself, not as its int64 wrap-around), then the copy is converted
    lo, hi = int(labels.min()), int(labels.max())
    if lo < 0 or hi >= num_classes:
        bad = lo if lo < 0 else hi
        raise ValueError("%s must be class ids in [0, %d), got %d" % (name, num_classes, bad))
    return labels.astype(np.int64, copy=False)


ClassTargets = collections.namedtuple("ClassTargets", "kind values")
ClassTargets.__doc__ = """``kind`` is 'labels' (``values``: a private int64 (N,) copy) or 'probs'
(``values``: float (N, K) targets in the requested dtype, C-contiguous)."""


def check_class_targets(targets, name, n, num_classes, dtype):
    """The one check of classification targets: integer class ids ``(n,)`` in
    ``[0, num_classes)``, or float one-hot / soft targets ``(n, num_classes)``, finite and
    non-negative, cast to ``dtype``.  Returns a :class:`ClassTargets`."""
    if not isinstance(targets, np.ndarray):
        if isinstance(targets, (list, tuple)):
            targets = np.asarray(targets)
        else:
            raise TypeError("%s must be a numpy.ndarray, got %s" % (name, type(targets).__name__))
    if np.issubdtype(targets.dtype, np.integer):
        return ClassTargets("labels", check_labels(targets, name, n, num_classes))
    if targets.dtype.kind != "f":
        raise TypeError("%s must be integer class ids (N,) or float targets (N, K), got dtype %s"
                        % (name, targets.dtype))
    if targets.ndim == 1:
        raise ValueError("%s of shape %s holds floats: class ids must have an integer dtype "
                         "(e.g. %s.astype(np.int64)), float targets shape (%d, %d)"
                         % (name, targets.shape, name, n, num_classes))
    check_shape(targets, name, (n, num_classes))
    if not all_finite(targets):
        raise ValueError("%s must be finite, but it holds NaN or inf values" % name)
    if (targets < 0).any():
        raise ValueError("%s must be non-negative (one-hot or soft targets), got a minimum of %r"
                         % (name, float(targets.min())))
    return ClassTargets("probs", np.array(targets, dtype=dtype, order="C", copy=True))


def check_activation(activation, name="activation"):
    allowed = (None, "relu", "sigmoid", "tanh", "elu")
    if activation not in allowed:
        raise ValueError("%s must be one of %s, got %r" % (name, allowed, activation))
    return activation
