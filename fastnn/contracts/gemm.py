"""Contract of the GEMM family: what ``matmul`` and ``matmul_bias`` accept and the sizes they
compute, called first by the compiled kernels (``fastnn/kernels/_gemm.pyx``) and by their NumPy
twins (``fastnn/reference/gemm.py``), so both accept and reject the same inputs with the same
messages.

Sizes follow GEMM's names: ``op(a)`` is m x k, ``op(b)`` is k x n, the result m x n.

The ``out=`` rule is ``fastnn._validate``'s (exact shape and dtype, C-contiguous, writeable, no
memory shared with an input: a GEMM output may never alias an input, since the kernel writes it
while it still reads them).  The compiled kernel passes ``defer_overlap=True`` and runs the same
overlap test itself on the buffers it acquires anyway: a byte-range pre-test first, then
``_validate``'s exact test only when the byte ranges meet, so a small call does not pay for
``np.shares_memory`` on every input.

    >>> import numpy as np
    >>> args = matmul_args(np.ones((2, 3)), np.ones((4, 3)), False, True, None)
    >>> (args.m, args.n, args.k), args.out.shape
    ((2, 4, 3), (2, 4))
"""
import collections

import numpy as np

from .. import _validate as _v

__all__ = ["MatmulArgs", "MatmulBiasArgs", "GemmExArgs", "matmul_args", "matmul_bias_args",
           "gemm_ex_args", "BIAS_MODES", "blocking_args", "SPARSE_A_MODES", "sparse_a_mode",
           "config_dtype"]

MatmulArgs = collections.namedtuple("MatmulArgs", "a b trans_a trans_b m n k out")
MatmulArgs.__doc__ = """Checked ``matmul`` arguments: ``op(a)`` is m x k, ``op(b)`` k x n; ``out``
is the caller's checked array or a fresh ``np.empty((m, n))``."""

MatmulBiasArgs = collections.namedtuple("MatmulBiasArgs",
                                        "x w b activation elu_alpha m n k out")
MatmulBiasArgs.__doc__ = """Checked ``matmul_bias`` arguments: x is m x k, w k x n, b (n,);
``out`` (m, n) as in :class:`MatmulArgs`."""

GemmExArgs = collections.namedtuple(
    "GemmExArgs",
    "a b c beta bias bias_mode activation elu_alpha trans_a trans_b batch m n k")
GemmExArgs.__doc__ = """Checked arguments of the compiled module's ``_gemm_ex`` hook, the C
kernel's whole surface: ``c[i] = act(beta*c[i] + op(a[i]) @ op(b[i]) + bias)`` for i in
[0, batch); ``op(a[i])`` m x k, ``op(b[i])`` k x n."""

#: where ``_gemm_ex`` adds its bias: None, 'row' (length m, a conv bias) or 'col' (length n)
BIAS_MODES = (None, "row", "col")

# The checks of a small matmul cost as much as its arithmetic, so the two hot contracts avoid
# what is slow without changing a rule: a named tuple built by tuple.__new__ (the same object
# its generated constructor makes, at half the cost), and _validate's bool and dtype checks
# called only when the cheap identity test does not already settle them.
_new = tuple.__new__


def _inner_dims_error(m, k, a, trans_a, kb, n, b, trans_b):
    return ValueError(
        "inner dimensions must agree: op(a) is %d x %d (a has shape %s, trans_a=%s) but op(b) "
        "is %d x %d (b has shape %s, trans_b=%s)" % (m, k, a.shape, trans_a, kb, n, b.shape,
                                                    trans_b))


def matmul_args(a, b, trans_a, trans_b, out, *, defer_overlap=False):
    """Check ``matmul(a, b, trans_a, trans_b, out)`` -> :class:`MatmulArgs`.

    a, b: 2-D float32/float64 of one dtype, possibly empty; trans_a, trans_b: bools; out: None
    or an array obeying the ``out=`` rule for shape (m, n).  ``defer_overlap``: see the module
    docstring (the compiled kernel only)."""
    a = _v.check_array(a, "a", ndim=2, allow_empty=True)
    b = _v.check_array(b, "b", ndim=2, allow_empty=True)
    if a.dtype is not b.dtype:
        _v.check_same_dtype(("a", a), ("b", b))
    if trans_a is not False and trans_a is not True:
        trans_a = _v.check_bool(trans_a, "trans_a")
    if trans_b is not False and trans_b is not True:
        trans_b = _v.check_bool(trans_b, "trans_b")
    m, k = (a.shape[1], a.shape[0]) if trans_a else a.shape
    kb, n = (b.shape[1], b.shape[0]) if trans_b else b.shape
    if k != kb:
        raise _inner_dims_error(m, k, a, trans_a, kb, n, b, trans_b)
    inputs = () if defer_overlap else (("a", a), ("b", b))
    if out is None:
        _v.check_alloc((m, n), a.dtype, "a %s and b %s" % (a.shape, b.shape), "the product")
    out = _v.make_out(out, "out", (m, n), a.dtype, inputs)
    return _new(MatmulArgs, (a, b, trans_a, trans_b, m, n, k, out))


def matmul_bias_args(x, w, b, activation, out, elu_alpha, *, defer_overlap=False):
    """Check ``matmul_bias(x, w, b, activation, out, elu_alpha)`` -> :class:`MatmulBiasArgs`.

    x (m, k), w (k, n), b (n,): one float dtype, non-empty (a dense layer's forward pass);
    activation: None, 'relu', 'sigmoid', 'tanh' or 'elu'; elu_alpha: a finite number."""
    x = _v.check_array(x, "x", ndim=2)
    w = _v.check_array(w, "w", ndim=2)
    b = _v.check_array(b, "b", ndim=1)
    _v.check_same_dtype(("x", x), ("w", w), ("b", b))
    activation = _v.check_activation(activation)
    elu_alpha = _v.check_scalar(elu_alpha, "elu_alpha")
    m, k = x.shape
    if w.shape[0] != k:
        raise ValueError("w must have shape (%d, *) to match x of shape %s (in_features = %d), "
                         "got %s" % (k, x.shape, k, w.shape))
    n = w.shape[1]
    _v.check_shape(b, "b", (n,))
    inputs = () if defer_overlap else (("x", x), ("w", w), ("b", b))
    if out is None:
        _v.check_alloc((m, n), x.dtype, "x %s and w %s" % (x.shape, w.shape), "the product")
    out = _v.make_out(out, "out", (m, n), x.dtype, inputs)
    return _new(MatmulBiasArgs, (x, w, b, activation, elu_alpha, m, n, k, out))


def gemm_ex_args(a, b, c, beta, bias, bias_mode, activation, elu_alpha, trans_a, trans_b):
    """Check the compiled ``_gemm_ex`` hook's arguments -> :class:`GemmExArgs`.

    a, b: 2-D or batched 3-D (a 2-D operand is shared by every batch item); c: 2-D or 3-D, read
    when beta != 0 and written in place, so it obeys the ``out=`` rule for its own shape (the
    overlap test included: c may not alias a, b or bias); bias: None, or 1-D of length m
    (bias_mode 'row') or n ('col')."""
    a = _v.check_array(a, "a", ndim=(2, 3), allow_empty=True)
    b = _v.check_array(b, "b", ndim=(2, 3), allow_empty=True)
    c = _v.check_array(c, "c", ndim=(2, 3), allow_empty=True)
    _v.check_same_dtype(("c", c), ("a", a), ("b", b))
    trans_a = _v.check_bool(trans_a, "trans_a")
    trans_b = _v.check_bool(trans_b, "trans_b")
    beta = _v.check_scalar(beta, "beta")
    activation = _v.check_activation(activation)
    elu_alpha = _v.check_scalar(elu_alpha, "elu_alpha")
    if bias_mode not in BIAS_MODES:
        raise ValueError("bias_mode must be one of %s, got %r" % (BIAS_MODES, bias_mode))
    batch = c.shape[0] if c.ndim == 3 else 1
    m, n = c.shape[-2:]
    for name, arr in (("a", a), ("b", b)):
        if arr.ndim == 3 and (c.ndim != 3 or arr.shape[0] != batch):
            raise ValueError("%s has batch size %d but c has shape %s"
                             % (name, arr.shape[0], c.shape))
    ma, k = a.shape[-2:]
    if trans_a:
        ma, k = k, ma
    kb, nb = b.shape[-2:]
    if trans_b:
        kb, nb = nb, kb
    if ma != m or nb != n or k != kb:
        raise ValueError("shapes do not chain: op(a) is %d x %d, op(b) is %d x %d, c is %d x %d"
                         % (ma, k, kb, nb, m, n))
    if (bias is None) != (bias_mode is None):
        raise ValueError("bias and bias_mode must be given together, got bias=%s, bias_mode=%r"
                         % ("None" if bias is None else "array", bias_mode))
    if bias is not None:
        bias = _v.check_array(bias, "bias", ndim=1, allow_empty=True)
        _v.check_same_dtype(("c", c), ("bias", bias))
        _v.check_shape(bias, "bias", (m if bias_mode == "row" else n,))
    _v.check_out(c, "c", c.shape, c.dtype, (("a", a), ("b", b), ("bias", bias)))
    return GemmExArgs(a, b, c, beta, bias, bias_mode, activation, elu_alpha, trans_a, trans_b,
                      batch, m, n, k)


def blocking_args(mc, kc, nc, limits):
    """Check ``set_gemm_blocking(mc, kc, nc)`` -> ``(mc, kc, nc)``, each an int or None (None:
    derive it from the caches).  ``limits`` maps each name to its inclusive (min, max), the C
    bounds that keep the packing buffers reasonable (src_c/fnn_gemm.h).

        >>> blocking_args(None, 128, None, {"mc": (1, 10), "kc": (1, 4096), "nc": (1, 10)})
        (None, 128, None)
    """
    out = []
    for name, v in (("mc", mc), ("kc", kc), ("nc", nc)):
        if v is not None:
            lo, hi = limits[name]
            v = _v.check_int(v, name, min=lo, max=hi)
        out.append(v)
    return tuple(out)


SPARSE_A_MODES = ("auto", "off", "always")


def sparse_a_mode(mode):
    """Check ``set_gemm_sparse_a(mode)``: one of ``SPARSE_A_MODES``.

        >>> sparse_a_mode("off")
        'off'
    """
    if not isinstance(mode, str):
        raise TypeError("mode must be a str ('auto', 'off' or 'always'), got %s"
                        % type(mode).__name__)
    if mode not in SPARSE_A_MODES:
        raise ValueError("mode must be 'auto', 'off' or 'always', got %r" % (mode,))
    return mode


def config_dtype(dtype):
    """The element type ``gemm_config(dtype)`` describes: float32 or float64 -> numpy dtype.

        >>> config_dtype("float64")
        dtype('float64')
    """
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError("dtype must be float32 or float64, got %r" % (dtype,)) from None
    if dt not in _v.FLOAT_DTYPES:
        raise TypeError("dtype must be float32 or float64, got %s" % dt)
    return dt
