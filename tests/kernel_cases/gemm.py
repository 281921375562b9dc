"""The table's GEMM entries: matmul and matmul_bias."""
import numpy as np

from .inputs import (dtype_hostiles, nan_filled, normal, out_hostiles, scalar_hostiles,
                     seeded_rng)
from .records import F64, Close, Hostile, KernelCase, bad, both, call

ACTIVATIONS = (None, "relu", "sigmoid", "tanh", "elu")

# GEMM-based results: the compiled GEMM sums in its own blocked order (which may differ between
# SIMD levels), NumPy's BLAS in another.  For random inputs and the K <= 64 of these samples such
# differences stay a few eps of the largest |result| (random signs: ~sqrt(K) eps, far inside the
# worst-case 2 K eps bound), while a wrong index, a missed edge tile or a dropped bias is off by
# O(max|result|).  The fused activations add a few ulp, as for the elementwise kernels.
GEMM_TOL = Close(rel=8, norm=16)


def _matmul_samples(dtype):
    rng = seeded_rng("matmul", dtype.name)
    out = []
    for (m, k, n), ta, tb in [((1, 1, 1), False, False), ((1, 7, 5), False, True),
                              ((3, 5, 7), True, False), ((17, 33, 9), True, True),
                              ((6, 16, 8), False, False), ((13, 64, 3), False, True),
                              ((4, 0, 3), False, False), ((0, 5, 2), True, False),
                              ((2, 5, 0), False, True)]:
        a = normal(rng, (k, m) if ta else (m, k), dtype)
        b = normal(rng, (n, k) if tb else (k, n), dtype)
        out.append(call("%dx%dx%d ta=%s tb=%s" % (m, k, n, ta, tb), a, b, trans_a=ta,
                        trans_b=tb))
    a, b = normal(rng, (7, 11), dtype), normal(rng, (11, 5), dtype)
    out.append(call("out=", a, b, out=nan_filled((7, 5), dtype)))
    # K = 0: the product is zeros, written over out's NaN (out is written, never read)
    out.append(call("K=0 out=", normal(rng, (4, 0), dtype), normal(rng, (0, 3), dtype),
                    out=nan_filled((4, 3), dtype)))
    return out


def _matmul_big(dtype):
    rng = seeded_rng("matmul big", dtype.name)
    return call("150x300x170", normal(rng, (150, 300), dtype), normal(rng, (300, 170), dtype))


def _matmul_hostile():
    a, b = np.ones((3, 4)), np.ones((4, 5))
    base = call("", a, b)
    return [
        bad("a rank 1", ValueError, "a", a[0], b, words=["2-dim"]),
        bad("b rank 3", ValueError, "b", a, b[None], words=["2-dim"]),
        bad("a 0-d", ValueError, "a", np.array(1.0), b),
        bad("inner mismatch", ValueError, ("a", "b"), a, np.ones((5, 5)), words=["(3, 4)"]),
        bad("trans_a mismatch", ValueError, ("a", "b"), a, b, trans_a=True, words=["trans_a"]),
        bad("dtype mix", TypeError, ("a", "b"), a, b.astype(np.float32), words=["float32"]),
        bad("trans_a int", TypeError, "trans_a", a, b, trans_a=1, words=["bool"]),
        bad("trans_b str", TypeError, "trans_b", a, b, trans_b="yes", words=["bool"]),
        bad("trans_b None", TypeError, "trans_b", a, b, trans_b=None),
        *dtype_hostiles(base, 0, "a"),
        *dtype_hostiles(base, 1, "b"),
        *out_hostiles(base, (3, 5), F64, {}),
        _out_is_input("a", lambda buf: call("", buf, np.ones((4, 4)), out=buf)),
        _out_is_input("b", lambda buf: call("", np.ones((4, 4)), buf, out=buf)),
        bad("product of 2**47 bytes and more", ValueError, ("a", "b"), _TALL, _TALL.T,
            xfail=_ABSURD_PRODUCT),
    ]


# Zero-stride inputs of 2**22 + 1 rows (or columns) that cost nothing: their product would take
# more than 2**47 bytes, more than any address space holds (fastnn._validate.check_alloc).
_TALL = np.broadcast_to(np.float64(1.0), (2 ** 22 + 1, 1))
_ABSURD_PRODUCT = ("the product would take more than any address space: MemoryError, not a "
                   "ValueError naming the arguments (the GEMM contract has no check_alloc call)")


def _out_is_input(name, make):
    """out= the very array passed as input ``name``: refused by kernels that read their inputs
    while writing out (GEMM)."""
    c = make(np.ones((4, 4)))
    return Hostile("out is %s" % name, c.args, c.kwargs, ValueError, ("out", name))


def _matmul_bias_samples(dtype):
    rng = seeded_rng("matmul_bias", dtype.name)
    out = []
    shapes = [(1, 1, 1), (1, 7, 5), (3, 5, 7), (17, 33, 9), (6, 16, 8), (13, 64, 3)]
    for i, (n, k, m) in enumerate(shapes):
        act = ACTIVATIONS[i % len(ACTIVATIONS)]
        x = normal(rng, (n, k), dtype)
        w = normal(rng, (k, m), dtype, 1 / np.sqrt(k))
        b = normal(rng, (m,), dtype)
        out.append(call("%dx%dx%d %s" % (n, k, m, act), x, w, b, activation=act))
    x, w, b = normal(rng, (9, 12), dtype), normal(rng, (12, 7), dtype, 0.3), \
        normal(rng, (7,), dtype)
    for act in ACTIVATIONS:
        out.append(call("9x12x7 %s alpha=0.7 out=" % act, x, w, b, activation=act, elu_alpha=0.7,
                        out=nan_filled((9, 7), dtype)))
    return out


def _matmul_bias_big(dtype):
    rng = seeded_rng("matmul_bias big", dtype.name)
    return call("150x300x170 elu", normal(rng, (150, 300), dtype),
                normal(rng, (300, 170), dtype, 0.06), normal(rng, (170,), dtype),
                activation="elu")


def _matmul_bias_hostile():
    x, w, b = np.ones((3, 4)), np.ones((4, 5)), np.ones(5)
    base = call("", x, w, b)
    return [
        bad("x rank 1", ValueError, "x", x[0], w, b, words=["2-dim"]),
        bad("w rank 3", ValueError, "w", x, w[None], b, words=["2-dim"]),
        bad("b rank 2", ValueError, "b", x, w, b[None], words=["1-dim"]),
        bad("w rows", ValueError, "w", x, w.T, b, words=["(4, *)"]),
        bad("b length", ValueError, "b", x, w, np.ones(4), words=["(5,)"]),
        bad("x empty", ValueError, "x", np.ones((0, 4)), w, b, words=["empty"]),
        bad("x no features", ValueError, "x", np.ones((3, 0)), np.ones((0, 5)), b),
        bad("w dtype mix", TypeError, "w", x, w.astype(np.float32), b),
        bad("b dtype mix", TypeError, "b", x, w, b.astype(np.float32)),
        bad("activation gelu", ValueError, "activation", x, w, b, activation="gelu",
            words=["gelu"]),
        bad("activation 1", ValueError, "activation", x, w, b, activation=1),
        *dtype_hostiles(base, 0, "x"),
        *dtype_hostiles(base, 1, "w"),
        *scalar_hostiles(call("", x, w, b, activation="elu", elu_alpha=1.0), "elu_alpha",
                          "elu_alpha"),
        *out_hostiles(base, (3, 5), F64, {}),
        _out_is_input("x", lambda buf: call("", buf, np.ones((4, 4)), np.ones(4), out=buf)),
        _out_is_input("w", lambda buf: call("", np.ones((4, 4)), buf, np.ones(4), out=buf)),
        bad("product of 2**47 bytes and more", ValueError, ("x", "w"), _TALL, _TALL.T,
            np.ones(2 ** 22 + 1), xfail=_ABSURD_PRODUCT),
    ]


CASES = [
    KernelCase("matmul", _matmul_samples, _matmul_hostile, both(GEMM_TOL), _matmul_big),
    KernelCase("matmul_bias", _matmul_bias_samples, _matmul_bias_hostile, both(GEMM_TOL),
               _matmul_bias_big),
]
