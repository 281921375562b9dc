"""The table's max-pooling entries: maxpool2d_forward and maxpool2d_backward."""
import numpy as np

from fastnn import reference

from .inputs import dtype_hostiles, geometry_hostiles, normal, x_shape_hostiles, seeded_rng
from .records import EXACT, Hostile, KernelCase, bad, both, call


# (shape, pool, stride, values): stride None (= pool), overlapping windows (stride < pool),
# gaps (stride > pool), non-square pools, batch 1, windows that do not fit dropped; values
# "ties" (small integers), "equal" (one tie per window), "nan" (NaN and -inf mixed in).
POOL_GEOMETRIES = [
    ((1, 1, 1, 1), 1, None, "normal"),
    ((1, 2, 4, 6), 2, None, "ties"),
    ((2, 3, 7, 5), (2, 3), (1, 2), "normal"),
    ((3, 1, 6, 7), 3, 1, "ties"),
    ((1, 3, 9, 8), (1, 2), 3, "equal"),
    ((2, 2, 5, 5), 2, (2, 1), "nan"),
    ((2, 1, 10, 3), (4, 3), (3, 4), "nan"),
    ((1, 1, 8, 8), 4, None, "ties"),
]


def _pool_input(rng, shape, values, dtype):
    if values == "normal":
        x = rng.standard_normal(shape)
    elif values == "ties":
        x = rng.integers(-2, 3, shape).astype(np.float64)
    elif values == "equal":
        x = np.full(shape, 1.5)
    else:
        x = rng.integers(-2, 3, shape).astype(np.float64)
        x[rng.random(shape) < 0.15] = np.nan
        x[rng.random(shape) < 0.1] = -np.inf
    return x.astype(dtype)


def _pool_forward_samples(dtype):
    rng = seeded_rng("maxpool2d_forward", dtype.name)
    return [call("x%s pool %s stride %s %s" % (shape, pool, stride, values),
                 _pool_input(rng, shape, values, dtype), pool, stride)
            for shape, pool, stride, values in POOL_GEOMETRIES]


def _pool_backward_samples(dtype):
    rng = seeded_rng("maxpool2d_backward", dtype.name)
    out = []
    for i, (shape, pool, stride, values) in enumerate(POOL_GEOMETRIES):
        x = _pool_input(rng, shape, values, dtype)
        y, argmax = reference.maxpool2d_forward(x, pool, stride)
        dy = normal(rng, y.shape, dtype)
        # any integer dtype is accepted
        argmax = argmax.astype((np.int64, np.int32, np.uint16, np.uint64)[i % 4])
        out.append(call("x%s pool %s stride %s %s argmax %s" % (
            shape, pool, stride, values, argmax.dtype), dy, argmax,
            shape if i % 2 else list(shape)))
    return out


def _pool_forward_big(dtype):
    x = _pool_input(seeded_rng("pool big", dtype.name), (5, 7, 13, 11), "ties", dtype)
    return call("5x7x13x11 ties", x, 3, (1, 2))


def _pool_backward_big(dtype):
    rng = seeded_rng("pool backward big", dtype.name)
    x = _pool_input(rng, (5, 7, 13, 11), "ties", dtype)
    y, argmax = reference.maxpool2d_forward(x, 3, (1, 2))
    return call("5x7x13x11 ties", normal(rng, y.shape, dtype), argmax, x.shape)


_PX = np.zeros((2, 3, 6, 6))
_PY, _PAM = np.zeros((2, 3, 3, 3)), np.zeros((2, 3, 3, 3), np.int64)


def _with_entry(a, idx, v, dtype=None):
    a = a.astype(dtype or a.dtype)
    a[idx] = v
    return a


def _pool_forward_hostile():
    base = call("", _PX, 2, None)
    geo = geometry_hostiles(call("", _PX, 2, 1, 0), 2, 3)
    return [
        bad("x rank 3", ValueError, "x", _PX[0], 2, words=["4-dim"]),
        bad("x empty", ValueError, "x", _PX[:, :0], 2, words=["empty"]),
        bad("pool 0", ValueError, "pool", _PX, 0),
        bad("pool bool", TypeError, "pool", _PX, True, words=["bool"]),
        bad("pool float", TypeError, "pool", _PX, 2.0),
        bad("pool triple", ValueError, "pool", _PX, (2, 2, 2)),
        bad("pool too big", ValueError, "pool", _PX, (7, 2), words=["(6, 6)"]),
        bad("pool 2**40", ValueError, "pool", _PX, 2 ** 40),
        *dtype_hostiles(base, 0, "x"),
        # stride only (pooling has no padding argument)
        *[Hostile(h.label, h.args[:3], h.kwargs, h.exc, h.names, h.words) for h in geo
          if h.names[0].startswith("stride")],
    ]


def _pool_backward_hostile():
    base = call("", _PY, _PAM, _PX.shape)
    return [
        bad("argmax too big", ValueError, "argmax", _PY, _with_entry(_PAM, (1, 2, 0, 1), 36),
            _PX.shape, words=["36"]),
        bad("argmax negative", ValueError, "argmax", _PY, _with_entry(_PAM, (0, 0, 2, 2), -1),
            _PX.shape, words=["-1"]),
        bad("argmax 10**18", ValueError, "argmax", _PY, _with_entry(_PAM, (0, 1, 0, 0), 10 ** 18),
            _PX.shape),
        bad("argmax uint64 2**64-1", ValueError, "argmax", _PY,
            _with_entry(_PAM, (0, 1, 0, 0), 2 ** 64 - 1, np.uint64), _PX.shape,
            words=[str(2 ** 64 - 1)]),
        bad("argmax float", TypeError, "argmax", _PY, _PAM.astype(np.float64), _PX.shape,
            words=["integer"]),
        bad("argmax bool", TypeError, "argmax", _PY, _PAM.astype(bool), _PX.shape),
        bad("argmax list", TypeError, "argmax", _PY, "abc", _PX.shape),
        bad("argmax shape", ValueError, "argmax", _PY, _PAM[:, :, :2], _PX.shape,
            words=["(2, 3, 3, 3)"]),
        bad("dy empty", ValueError, "dy", _PY[:0], _PAM[:0], _PX.shape),
        bad("dy rank 3", ValueError, "dy", _PY[0], _PAM, _PX.shape),
        bad("dy batch", ValueError, ("dy", "x_shape"), _PY, _PAM, (3, 3, 6, 6)),
        bad("dy plane larger", ValueError, ("dy", "x_shape"), _PY, _PAM, (2, 3, 2, 2)),
        # dx of 2**80 elements (NumPy's 'array is too big') and of 10**14 (MemoryError): more
        # than any address space holds, refused before the allocation
        bad("x_shape absurd", ValueError, "x_shape", _PY[:1, :1, :1, :1], _PAM[:1, :1, :1, :1],
            (1, 1, 2 ** 40, 2 ** 40), words=["2**47"]),
        bad("x_shape huge", ValueError, "x_shape", _PY[:1, :1, :1, :1], _PAM[:1, :1, :1, :1],
            (1, 1, 10 ** 7, 10 ** 7), words=["2**47"]),
        *dtype_hostiles(base, 0, "dy"),
        *x_shape_hostiles(base, 2),
    ]


CASES = [
    # the same comparisons (ties: the first wins; NaN wins) and additions in the same order
    KernelCase("maxpool2d_forward", _pool_forward_samples, _pool_forward_hostile, both(EXACT),
               _pool_forward_big),
    KernelCase("maxpool2d_backward", _pool_backward_samples, _pool_backward_hostile,
               both(EXACT), _pool_backward_big),
]
