"""Contract of the activation kernels: what they accept and the scalars they prepare.

Called first by both implementations -- the compiled ``fastnn/kernels/_activations.pyx`` and the
NumPy twin ``fastnn/reference/activations.py`` -- so the two accept and reject exactly the same
input with the same messages (ValueError/TypeError naming the argument, the expected and the
actual value), and the twin reads as the math alone.

What is checked:

* arrays: float32 or float64 ndarrays (lists are converted), not empty; pairs (``dy`` with the
  forward's kept ``x`` or ``y``) of one shape and one dtype; softmax rows 2-D with at least one
  column;
* ``alpha``: a finite real number; ``rate``: a real number in ``[0, 1)``;
* ``mask``: an ndarray of bool or uint8 with the input's shape;
* dropout's generator: ``seed`` an int in ``[0, 2**64)`` (the key), ``counter`` an int in
  ``[0, 2**64)`` with room for the call's draws (``draws(n)``: one 64-bit draw per two
  elements); ``mask_out`` (where the drawn keep-mask goes): None or a C-contiguous, writeable
  bool or uint8 array of the input's shape sharing no memory with the input or ``out``;
* ``labels`` of the cross-entropy: ``fastnn._validate.check_class_targets`` (integer class ids
  ``(N,)`` in ``[0, K)`` -> a private int64 copy, or float targets ``(N, K)``, finite and
  non-negative, of the logits' dtype);
* ``out``: ``fastnn._validate.make_out(..., allow_inplace=True)``, the one ``out=`` rule: a fresh
  array when None, else exactly the result's shape and dtype, C-contiguous, writeable, and either
  exactly an input (in place) or disjoint from every input.  A mask is never the same array as a
  float ``out``, so ``out`` may not overlap it at all.

Example::

    >>> import numpy as np
    >>> from fastnn.contracts import activations as c
    >>> a = c.dropout(np.ones((2, 3), np.float32), np.ones((2, 3), bool), 0.5, None)
    >>> float(a.scale), a.out.shape
    (2.0, (2, 3))
"""
import collections

import numpy as np

from .. import _validate as _v

__all__ = ["Unary", "Binary", "Dropout", "DropoutRNG", "CrossEntropy", "unary", "unary_alpha",
           "binary", "binary_alpha", "rows", "rows_binary", "dropout", "dropout_rng", "draws",
           "keep_threshold", "splitmix64_args", "cross_entropy"]

Unary = collections.namedtuple("Unary", "x alpha out")
Unary.__doc__ = """One input: ``x``, ``alpha`` (a float; 0.0 for functions without one), and
``out`` (the array the result goes to)."""

Binary = collections.namedtuple("Binary", "dy v alpha out")
Binary.__doc__ = """A backward pass: ``dy``, ``v`` (what the backward needs from the forward: its
input x or its output y), ``alpha`` (0.0 for functions without one) and ``out``."""

Dropout = collections.namedtuple("Dropout", "x mask scale out")
Dropout.__doc__ = """``x`` (or ``dy``), the keep-``mask`` (bool or uint8), ``scale`` = 1 / (1 -
rate) rounded once to x's dtype (a NumPy scalar of that dtype) and ``out``."""

DropoutRNG = collections.namedtuple("DropoutRNG", "x threshold scale seed counter out mask")
DropoutRNG.__doc__ = """Dropout with its mask drawn by the kernel: ``x``; ``threshold`` (an int in
[0, 2**32): an element is kept when its 32 random bits are >= it, see :func:`keep_threshold`);
``scale`` = 1 / (1 - rate) in x's dtype; ``seed`` and ``counter`` (ints in [0, 2**64): the
generator's key and the index of the call's first draw); ``out`` (y) and ``mask`` (the keep-mask
array the kernel writes, bool or uint8)."""

CrossEntropy = collections.namedtuple("CrossEntropy", "logits kind targets")
CrossEntropy.__doc__ = """``logits`` (N, K); ``kind`` 'labels' (``targets``: a private int64 (N,)
copy, every id in [0, K)) or 'probs' (``targets``: a private C-contiguous (N, K) copy of the
logits' dtype, finite and non-negative)."""


# --------------------------------------------------------------------------- single arguments
def check_x(x, name="x"):
    """A float32/float64 ndarray of any shape, not empty."""
    return _v.check_array(x, name)


def check_pair(a, a_name, b, b_name):
    """Two float arrays of the same shape and dtype (dy and the kept x or y) -> (a, b)."""
    a = _v.check_array(a, a_name)
    b = _v.check_array(b, b_name)
    _v.check_same_dtype((a_name, a), (b_name, b))
    if a.shape != b.shape:
        raise ValueError("%s must have %s's shape %s, got %s" % (a_name, b_name, b.shape, a.shape))
    return a, b


def check_rows(x, name):
    """A 2-D float array (N, K) with K >= 1 (softmax and cross-entropy rows)."""
    x = _v.check_array(x, name, ndim=2)
    if x.shape[1] == 0:
        raise ValueError("%s must have at least one column (classes), got shape %s"
                         % (name, x.shape))
    return x


def check_alpha(alpha):
    return _v.check_scalar(alpha, "alpha")


def check_rate(rate):
    return _v.check_scalar(rate, "rate", min=0.0, max=1.0, max_inclusive=False)


def check_mask(mask, shape):
    """Dropout's keep-mask: an ndarray of bool or uint8 (nonzero keeps) of the input's shape."""
    if not isinstance(mask, np.ndarray):
        raise TypeError("mask must be a numpy.ndarray of bool or uint8, got %s"
                        % type(mask).__name__)
    if mask.dtype not in (np.dtype(np.bool_), np.dtype(np.uint8)):
        raise TypeError("mask must have dtype bool or uint8, got %s" % mask.dtype)
    if mask.shape != tuple(shape):
        raise ValueError("mask must have shape %s (the input's), got %s"
                         % (tuple(shape), mask.shape))
    return mask


def keep_threshold(rate):
    """The 32-bit threshold of a drop probability: ``round(rate * 2**32)`` (at most 2**32 - 1).
    An element whose 32 random bits are >= it is kept, so P(keep) = 1 - threshold / 2**32, within
    2**-33 of 1 - rate."""
    return min(int(round(rate * 4294967296.0)), 4294967295)


def draws(n):
    """64-bit draws a dropout call of ``n`` elements consumes: one per two elements."""
    return (n + 1) // 2


def check_mask_out(mask_out, shape, inputs):
    """Where the drawn keep-mask goes: None (a fresh bool array) or a C-contiguous, writeable
    bool/uint8 ndarray of the input's shape sharing no memory with any of ``inputs``."""
    if mask_out is None:
        return np.empty(shape, dtype=np.bool_)
    if not isinstance(mask_out, np.ndarray):
        raise TypeError("mask_out must be a numpy.ndarray of bool or uint8 or None, got %s"
                        % type(mask_out).__name__)
    if mask_out.dtype not in (np.dtype(np.bool_), np.dtype(np.uint8)):
        raise TypeError("mask_out must have dtype bool or uint8, got %s" % mask_out.dtype)
    return _v.check_out(mask_out, "mask_out", shape, mask_out.dtype, inputs)


def check_targets(logits, labels):
    """Class ids or float targets for ``logits`` (N, K) -> ``_validate.ClassTargets``.

    ``_validate.check_class_targets`` is the one targets check; the one rule added here is the
    kernel's: float targets must already have the logits' dtype (TypeError otherwise; they are
    not cast).  Float class ids of shape (N,) get check_class_targets' message (use an integer
    dtype) whatever their float dtype.
    """
    n, k = logits.shape
    if isinstance(labels, (list, tuple)):
        labels = np.asarray(labels)        # as check_class_targets would, to see the dtype
    if (isinstance(labels, np.ndarray) and labels.dtype.kind == "f" and labels.ndim != 1
            and labels.dtype != logits.dtype):
        raise TypeError("float labels must have the logits' dtype %s, got %s"
                        % (logits.dtype, labels.dtype))
    return _v.check_class_targets(labels, "labels", n, k, logits.dtype)


def _out(out, like, inputs):
    return _v.make_out(out, "out", like.shape, like.dtype, inputs, allow_inplace=True)


# --------------------------------------------------------------------------- per kernel
def unary(x, out):
    """relu/sigmoid/tanh forward: ``x`` any shape -> Unary(x, 0.0, out)."""
    x = check_x(x)
    return Unary(x, 0.0, _out(out, x, (("x", x),)))


def unary_alpha(x, alpha, out):
    """elu forward: ``x`` any shape, ``alpha`` a finite real number -> Unary(x, alpha, out)."""
    x = check_x(x)
    alpha = check_alpha(alpha)
    return Unary(x, alpha, _out(out, x, (("x", x),)))


def binary(dy, v, v_name, out):
    """A backward pass: ``dy`` and ``v`` (named ``v_name``: 'x' or 'y') of one shape and dtype
    -> Binary(dy, v, 0.0, out)."""
    dy, v = check_pair(dy, "dy", v, v_name)
    return Binary(dy, v, 0.0, _out(out, v, (("dy", dy), (v_name, v))))


def binary_alpha(dy, v, v_name, alpha, out):
    """elu's backward passes: as :func:`binary`, with ``alpha`` -> Binary(dy, v, alpha, out)."""
    dy, v = check_pair(dy, "dy", v, v_name)
    alpha = check_alpha(alpha)
    return Binary(dy, v, alpha, _out(out, v, (("dy", dy), (v_name, v))))


def rows(x, out):
    """softmax forward: ``x`` (N, K) -> Unary(x, 0.0, out)."""
    x = check_rows(x, "x")
    return Unary(x, 0.0, _out(out, x, (("x", x),)))


def rows_binary(dy, y, out):
    """softmax backward: ``dy`` and ``y`` (N, K) of one dtype -> Binary(dy, y, 0.0, out)."""
    dy = check_rows(dy, "dy")
    y = check_rows(y, "y")
    dy, y = check_pair(dy, "dy", y, "y")
    return Binary(dy, y, 0.0, _out(out, y, (("dy", dy), ("y", y))))


def dropout(x, mask, rate, out, x_name="x"):
    """dropout forward (``x_name`` 'x') or backward ('dy')."""
    x = check_x(x, x_name)
    mask = check_mask(mask, x.shape)
    rate = check_rate(rate)
    out = _out(out, x, ((x_name, x), ("mask", mask)))
    return Dropout(x, mask, x.dtype.type(1.0 / (1.0 - rate)), out)


def dropout_rng(x, rate, seed, counter, out, mask_out):
    """dropout_forward_rng: ``x`` any shape, ``rate`` in [0, 1), ``seed`` and ``counter`` ints in
    [0, 2**64) (counter + draws(x.size) must not pass 2**64: the stream would wrap around and
    repeat), ``out`` and ``mask_out`` as the module docstring says."""
    x = check_x(x)
    rate = check_rate(rate)
    seed = _v.check_int(seed, "seed", min=0, max=2 ** 64 - 1)
    counter = _v.check_int(counter, "counter", min=0, max=2 ** 64 - 1)
    if counter + draws(x.size) > 2 ** 64:
        raise ValueError("counter must leave room for this call's %d draws below 2**64, got %d"
                         % (draws(x.size), counter))
    out = _out(out, x, (("x", x),))
    mask = check_mask_out(mask_out, x.shape, (("x", x), ("out", out)))
    return DropoutRNG(x, keep_threshold(rate), x.dtype.type(1.0 / (1.0 - rate)), seed, counter,
                      out, mask)


def splitmix64_args(seed, first, count):
    """splitmix64: ``seed`` and ``first`` ints in [0, 2**64), ``count`` an int >= 0 (first +
    count may wrap past 2**64: draws are numbered mod 2**64)."""
    return (_v.check_int(seed, "seed", min=0, max=2 ** 64 - 1),
            _v.check_int(first, "first", min=0, max=2 ** 64 - 1),
            _v.check_int(count, "count", min=0))


def cross_entropy(logits, labels):
    """softmax_cross_entropy: ``logits`` (N, K) and its class ids or float targets."""
    z = check_rows(logits, "logits")
    t = check_targets(z, labels)
    return CrossEntropy(z, t.kind, t.values)
