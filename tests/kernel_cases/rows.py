"""The table's rows entries: take_rows (a mini-batch gathered from a dataset) and sum_rows (the
sum of a batch's rows, a Dense layer's bias gradient)."""
import numpy as np

from .inputs import dtype_hostiles, normal, out_hostiles, seeded_rng
from .records import EXACT, KernelCase, bad, both, call

# (x's shape, the indices): batch 1, repeated and negative indices, empty, any integer dtype
_TAKE = [
    ((1, 3), np.array([0, 0, -1])),
    ((7,), np.array([6, 0, 3, -7])),
    ((5, 3), [4, -1, 0, 2]),
    ((9, 2, 3), np.array([8, 1, 1, 5, -2], np.int32)),
    ((6, 4), np.array([], np.int64)),
    ((4, 1), np.array([3, 2, 1, 0], np.uint8)),
    ((11, 17), np.array([10, 3, 0, 7, 7, 2], np.uint64)),
]


def _take_samples(dtype):
    rng = seeded_rng("take_rows", dtype.name)
    out = []
    for shape, idx in _TAKE:
        x = normal(rng, shape, dtype)
        out.append(call("x%s indices %r" % (shape, idx), x, idx))
    x = normal(rng, (13, 5), dtype)
    idx = rng.permutation(13)[:8]
    out.append(call("x(13, 5) 8 shuffled, out=", x, idx, out=np.empty((8, 5), dtype)))
    return out


def _take_big(dtype):
    rng = seeded_rng("take_rows big", dtype.name)
    return call("x(3000, 50) shuffled", normal(rng, (3000, 50), dtype), rng.permutation(3000))


_X = np.zeros((5, 3))
_I = np.array([4, 0, 2])


def _overlapping(x_shape, out_shape):
    """(x, indices, out=) with x and out two views of one buffer that overlap."""
    buf = np.zeros(int(np.prod(x_shape)) + 1)
    x = buf[:-1].reshape(x_shape)
    return (x, _I), {"out": buf[-int(np.prod(out_shape)):].reshape(out_shape)}


_OVERLAP = _overlapping((5, 3), (3, 3))


def _take_hostile():
    base = call("", _X, _I)
    with_x = [
        bad("x list", TypeError, "x", [[0.0]], _I),
        bad("x 0-d", ValueError, "x", np.array(1.0), _I),
        bad("x object", TypeError, "x", _X.astype(object), _I, words=["object"]),
        bad("x str", TypeError, "x", np.array([["a"]] * 5), _I),
        bad("x F-order", ValueError, "x", np.zeros((5, 3), order="F"), _I,
            words=["contiguous"]),
        bad("x strided", ValueError, "x", np.zeros((5, 6))[:, ::2], _I, words=["contiguous"]),
    ]
    with_indices = [
        bad("indices float", TypeError, "indices", _X, _I.astype(np.float64), words=["integer"]),
        bad("indices bool", TypeError, "indices", _X, _I > 0),
        bad("indices str", TypeError, "indices", _X, "abc"),
        bad("indices 2-d", ValueError, "indices", _X, _I.reshape(3, 1)),
        bad("indices n", ValueError, "indices", _X, np.array([0, 5]), words=["[-5, 5)", "5"]),
        bad("indices -n-1", ValueError, "indices", _X, np.array([-6, 0]), words=["-6"]),
        bad("indices 10**18", ValueError, "indices", _X, np.array([1, 10 ** 18])),
        bad("indices -2**63", ValueError, "indices", _X, np.array([-2 ** 63])),
        bad("indices uint64 2**64-1", ValueError, "indices", _X,
            np.array([1, 2 ** 64 - 1], np.uint64), words=[str(2 ** 64 - 1)]),
        bad("indices uint64 2**63", ValueError, "indices", _X, np.array([2 ** 63], np.uint64),
            words=[str(2 ** 63)]),
    ]
    return with_x + with_indices + out_hostiles(base, (3, 3), _X.dtype, {}) + [
        # x and out two views of one buffer (out_hostiles builds its overlaps for out of the
        # input's shape)
        bad("out overlaps x", ValueError, ("out", "x"), *_OVERLAP[0], **_OVERLAP[1]),
    ]


# sum_rows: (shape, scale of the values): batch 1, one column, a column block edge (2048)
_SUM = [((1, 1), 1.0), ((1, 7), 1.0), ((6, 1), 1.0), ((128, 10), 1e3), ((7, 33), 1e-3),
        ((40, 2049), 1.0), ((3, 2), 1e30)]


def _sum_samples(dtype):
    rng = seeded_rng("sum_rows", dtype.name)
    out = [call("a%s scale %g" % (shape, scale), normal(rng, shape, dtype, scale))
           for shape, scale in _SUM]
    a = normal(rng, (9, 12), dtype)
    # a column of -0.0 sums to +0.0 (the chain starts at +0.0, as NumPy's sum), not to -0.0
    a[2, 3], a[5, 7], a[:, 0] = np.inf, np.nan, -0.0
    out.append(call("a(9, 12) with inf, nan, a column of -0.0", a))
    out.append(call("a(1, 3) with -0.0", np.array([[-0.0, 1.0, -2.5]], dtype)))
    out.append(call("a(5, 4), out=", normal(rng, (5, 4), dtype), out=np.empty(4, dtype)))
    return out


def _sum_big(dtype):
    return call("a(200, 5000)", normal(seeded_rng("sum_rows big", dtype.name), (200, 5000),
                                       dtype))


_A = np.zeros((4, 3))
_SUM_BUF = np.zeros(15)       # a and out= as two overlapping views of it


def _sum_hostile():
    base = call("", _A)
    return [
        bad("a 1-d", ValueError, "a", np.zeros(3), words=["2-dimensional"]),
        bad("a 3-d", ValueError, "a", np.zeros((2, 2, 2))),
        bad("a empty rows", ValueError, "a", np.zeros((0, 3)), words=["empty"]),
        bad("a empty columns", ValueError, "a", np.zeros((3, 0)), words=["empty"]),
        *dtype_hostiles(base, 0, "a"),
        # (3,) is C- and F-contiguous at once: no F-order hostile
        *[h for h in out_hostiles(base, (3,), _A.dtype, {}) if h.label != "out F-order"],
        bad("out overlaps a", ValueError, ("out", "a"), _SUM_BUF[:12].reshape(4, 3),
            out=_SUM_BUF[10:13]),
    ]


CASES = [
    # a copy of bytes: the twin's bits, in any dtype
    KernelCase("take_rows", _take_samples, _take_hostile, both(EXACT), _take_big,
               any_layout=False),
    # rows added in order from +0.0, each column its own chain: NumPy's sum, bit for bit
    KernelCase("sum_rows", _sum_samples, _sum_hostile, both(EXACT), _sum_big),
]
