"""The table's activation entries: relu, sigmoid, tanh and elu forward and backward (and elu's
backward from its output, guarded until it exists), softmax forward and backward, the softmax
cross-entropy, dropout forward and backward."""
import numpy as np

from fastnn import reference

from .inputs import (dtype_hostiles, nan_filled, normal, out_hostiles, scalar_hostiles,
                     seeded_rng, with_zeros)
from .records import EXACT, F64, Close, KernelCase, bad, both, call


# What backward takes from forward: x for relu/elu, the output y for sigmoid/tanh/softmax, and
# y for elu_backward_from_output.
ELEMENTWISE = ("relu", "sigmoid", "tanh", "elu")
_ELEMENTWISE_SHAPES = [(1,), (7,), (3, 5), (1, 1, 1, 1), (2, 3, 4, 5), (4, 9, 3)]


def _alpha_kwargs(name, i):
    if name != "elu":
        return {}
    return dict(alpha=(1.0, 0.3, 2.5)[i % 3])


def _forward_of(name, x, alpha):
    f = getattr(reference, name + "_forward")
    return f(x, alpha) if name == "elu" else f(x)


def _unary_samples(name):
    def samples(dtype):
        rng = seeded_rng(name + "_forward", dtype.name)
        out = []
        for i, shape in enumerate(_ELEMENTWISE_SHAPES):
            out.append(call("%s" % (shape,), with_zeros(rng, shape, dtype),
                            **_alpha_kwargs(name, i)))
        x = with_zeros(rng, (5, 7), dtype)
        out.append(call("out=", x, out=nan_filled(x.shape, dtype), **_alpha_kwargs(name, 1)))
        xi = x.copy()
        out.append(call("in place", xi, out=xi, **_alpha_kwargs(name, 2)))
        special = np.array([-0.0, 0.0, np.inf, -np.inf, np.nan, 40.0, -40.0, 1e-30], dtype)
        out.append(call("special values", special, **_alpha_kwargs(name, 0)))
        return out
    return samples


def _backward_samples(name, kept):
    """``kept``: 'x' (relu, elu) or 'y' (sigmoid, tanh, elu from output)."""
    def samples(dtype):
        rng = seeded_rng(name + "_backward", kept, dtype.name)
        out = []
        fwd = name.replace("_from_output", "")
        for i, shape in enumerate(_ELEMENTWISE_SHAPES + [(5, 7), (5, 7)]):
            x = with_zeros(rng, shape, dtype)
            dy = normal(rng, shape, dtype)
            kw = _alpha_kwargs(fwd, i)
            v = x if kept == "x" else _forward_of(fwd, x, kw.get("alpha", 1.0))
            label = "%s" % (shape,)
            if i == len(_ELEMENTWISE_SHAPES):
                kw["out"], label = dy, "in place (out=dy)"
            elif i == len(_ELEMENTWISE_SHAPES) + 1:
                kw["out"], label = v, "in place (out=%s)" % kept
            out.append(call(label, dy, v, **kw))
        return out
    return samples


def _elementwise_big(name, nargs, kept="x"):
    def big(dtype):
        rng = seeded_rng(name + " big", dtype.name)
        x = with_zeros(rng, (100_003,), dtype)
        kw = dict(alpha=0.8) if name.startswith("elu") else {}
        if nargs == 1:
            return call("100003", x, **kw)
        v = x if kept == "x" else _forward_of(name.split("_")[0], x, 0.8)
        return call("100003", normal(rng, x.shape, dtype), v, **kw)
    return big


_A = np.zeros((3, 4))


def _unary_hostile(name):
    def hostile():
        base = call("", _A)
        out = [bad("x empty", ValueError, "x", np.zeros((0, 3)), words=["empty"]),
               *dtype_hostiles(base, 0, "x"),
               *out_hostiles(base, (3, 4), F64, {"x": 0})]
        if name == "elu":
            out += scalar_hostiles(call("", _A, alpha=1.0), "alpha", "alpha")
        return out
    return hostile


def _pair_hostile(v_name, with_alpha):
    def hostile():
        base = call("", _A, _A)
        buf = np.zeros(13)
        out = [
            # dy every other element of out's buffer: overlapping, not contiguous
            bad("out overlaps dy strided", ValueError, ("out", "dy"),
                buf[::2][:6].reshape(2, 3), _A[:2, :3], out=buf[:6].reshape(2, 3),
                words=["overlap"]),
            bad("dy shape", ValueError, "dy", _A[:2], _A, words=["(3, 4)", "(2, 4)"]),
            bad("%s shape" % v_name, ValueError, ("dy", v_name), _A, _A[:, :3]),
            bad("%s dtype mix" % v_name, TypeError, v_name, _A, _A.astype(np.float32),
                words=["float32", "float64"]),
            bad("dy empty", ValueError, "dy", np.zeros((0, 4)), np.zeros((0, 4))),
            *dtype_hostiles(base, 0, "dy"),
            *dtype_hostiles(base, 1, v_name),
            *out_hostiles(base, (3, 4), F64, {"dy": 0, v_name: 1}),
        ]
        if with_alpha:
            out += scalar_hostiles(call("", _A, _A, alpha=1.0), "alpha", "alpha")
        return out
    return hostile


def _softmax_forward_samples(dtype):
    rng = seeded_rng("softmax_forward", dtype.name)
    out = [call("%s scale %g" % (shape, scale), normal(rng, shape, dtype, scale))
           for shape, scale in [((1, 1), 1.0), ((1, 13), 3.0), ((9, 7), 0.1), ((4, 25), 30.0),
                                ((17, 3), 3.0)]]
    z = np.array([[0.0, -np.inf, 1.0], [-np.inf, 2.0, 2.0], [1e4, -1e4, 0.0]], dtype)
    out.append(call("-inf and huge logits", z))
    x = normal(rng, (5, 7), dtype, 3.0)
    out.append(call("out=", x, out=nan_filled(x.shape, dtype)))
    xi = x.copy()
    out.append(call("in place", xi, out=xi))
    return out


def _softmax_backward_samples(dtype):
    rng = seeded_rng("softmax_backward", dtype.name)
    out = []
    for i, (shape, scale) in enumerate([((1, 1), 1.0), ((1, 13), 3.0), ((9, 7), 0.1),
                                        ((4, 25), 30.0), ((17, 3), 3.0), ((5, 7), 3.0),
                                        ((5, 7), 3.0)]):
        y = reference.softmax_forward(normal(rng, shape, dtype, scale))
        dy = normal(rng, shape, dtype)
        kw, label = {}, "%s" % (shape,)
        if i == 5:
            kw["out"], label = dy, "in place (out=dy)"
        elif i == 6:
            kw["out"], label = y, "in place (out=y)"
        out.append(call(label, dy, y, **kw))
    return out


def _rows_big(name):
    def big(dtype):
        rng = seeded_rng(name + " big", dtype.name)
        z = normal(rng, (4001, 25), dtype, 3.0)
        if name == "softmax_forward":
            return call("4001x25", z)
        if name == "softmax_backward":
            return call("4001x25", normal(rng, z.shape, dtype), reference.softmax_forward(z))
        return call("4001x25 labels", z, rng.integers(0, 25, 4001))
    return big


def _targets(rng, n, k, dtype, kind):
    if kind == "labels":
        return rng.integers(0, k, n)
    if kind == "one-hot":
        return np.eye(k, dtype=dtype)[rng.integers(0, k, n)]
    t = rng.random((n, k))
    if kind == "soft":
        t /= t.sum(axis=1, keepdims=True)
    return t.astype(dtype)


def _cross_entropy_samples(dtype):
    rng = seeded_rng("softmax_cross_entropy", dtype.name)
    out = []
    for (n, k), kind, scale in [((1, 1), "labels", 1.0), ((1, 10), "labels", 3.0),
                                ((7, 5), "one-hot", 3.0), ((9, 13), "soft", 0.1),
                                ((4, 6), "unnormalised", 30.0), ((33, 10), "labels", 4.0)]:
        out.append(call("%dx%d %s" % (n, k, kind), normal(rng, (n, k), dtype, scale),
                        _targets(rng, n, k, dtype, kind)))
    z = normal(rng, (6, 5), dtype, 3.0)
    labels = rng.integers(0, 5, 6)
    for dt in (np.int8, np.uint8, np.int32, np.uint64):
        out.append(call("labels %s" % np.dtype(dt).name, z, labels.astype(dt)))
    out.append(call("labels list", z, labels.tolist()))
    z = np.array([[0.0, -np.inf, 1.0], [-np.inf, 2.0, 2.0], [1e4, -1e4, 0.0]], dtype)
    out.append(call("-inf and huge logits", z, np.array([2, 1, 0])))
    return out


def _cross_entropy_hostile():
    z = _A
    labels = np.array([0, 1, 3])
    return [
        bad("logits rank 1", ValueError, "logits", z[0], labels, words=["2-dim"]),
        bad("logits rank 3", ValueError, "logits", z[None], labels),
        bad("logits empty", ValueError, "logits", np.zeros((0, 4)), np.zeros(0, np.int64)),
        bad("logits no classes", ValueError, "logits", np.zeros((3, 0)), labels),
        *dtype_hostiles(call("", z, labels), 0, "logits"),
        bad("labels too big", ValueError, "labels", z, np.array([0, 4, 1]),
            words=["[0, 4)", "4"]),
        bad("labels negative", ValueError, "labels", z, np.array([0, -1, 1]), words=["-1"]),
        bad("labels 2**62", ValueError, "labels", z, np.array([0, 2 ** 62, 1]),
            words=[str(2 ** 62)]),
        bad("labels uint64 2**64-1", ValueError, "labels", z,
            np.array([0, 2 ** 64 - 1, 1], np.uint64), words=[str(2 ** 64 - 1)]),
        bad("labels length", ValueError, "labels", z, labels[:2], words=["3", "2"]),
        bad("labels empty", ValueError, "labels", z, np.zeros(0, np.int64)),
        bad("labels 2-D int", ValueError, "labels", z, np.zeros((3, 4), np.int64)),
        bad("labels 0-d", TypeError, "labels", z, np.int64(1)),
        bad("float labels (N,)", ValueError, "labels", z, labels.astype(np.float64),
            words=["integer dtype", "(3, 4)"]),
        bad("float32 labels (N,)", ValueError, "labels", z, labels.astype(np.float32),
            words=["integer dtype"]),
        bad("labels uint8 too big", ValueError, "labels", z, np.array([0, 5, 1], np.uint8),
            words=["[0, 4)", "5"]),
        bad("float labels list", TypeError, "labels", z.astype(np.float32),
            [[0.0, 1.0, 0.0, 0.0]] * 3, words=["float32", "float64"]),
        bad("float labels shape", ValueError, "labels", z, np.zeros((3, 5)),
            words=["(3, 4)", "(3, 5)"]),
        bad("float labels dtype", TypeError, "labels", z, np.zeros((3, 4), np.float32),
            words=["float64", "float32"]),
        bad("labels NaN", ValueError, "labels", z, np.full((3, 4), np.nan), words=["finite"]),
        bad("labels inf", ValueError, "labels", z, np.full((3, 4), np.inf), words=["finite"]),
        bad("labels negative soft", ValueError, "labels", z, np.full((3, 4), -0.25),
            words=["non-negative", "-0.25"]),
        bad("labels bool", TypeError, "labels", z, np.array([True, False, True]),
            words=["bool"]),
        bad("labels complex", TypeError, "labels", z, np.zeros((3, 4), complex)),
        bad("labels str", TypeError, "labels", z, "abc"),
        bad("labels None", TypeError, "labels", z, None),
    ]


def _softmax_forward_hostile():
    base = call("", _A)
    return [
        bad("x rank 1", ValueError, "x", _A[0], words=["2-dim"]),
        bad("x rank 3", ValueError, "x", _A[None], words=["2-dim"]),
        bad("x no classes", ValueError, "x", np.zeros((3, 0))),
        bad("x empty", ValueError, "x", np.zeros((0, 3))),
        *dtype_hostiles(base, 0, "x"),
        *out_hostiles(base, (3, 4), F64, {"x": 0}),
    ]


def _softmax_backward_hostile():
    base = call("", _A, _A)
    return [
        bad("dy rank 1", ValueError, "dy", _A[0], _A[0], words=["2-dim"]),
        bad("y rank 3", ValueError, "y", _A, _A[None], words=["2-dim"]),
        bad("dy shape", ValueError, "dy", _A[:, :3], _A),
        bad("y dtype mix", TypeError, "y", _A, _A.astype(np.float32)),
        *dtype_hostiles(base, 0, "dy"),
        *dtype_hostiles(base, 1, "y"),
        *out_hostiles(base, (3, 4), F64, {"dy": 0, "y": 1}),
    ]


def _dropout_samples(name):
    def samples(dtype):
        rng = seeded_rng(name, dtype.name)
        out = []
        for i, (shape, rate) in enumerate([((1,), 0.0), ((7,), 0.1), ((3, 5), 0.5),
                                           ((2, 3, 4, 5), 0.9), ((4, 9, 3), 0.999),
                                           ((5, 7), 0.3)]):
            x = with_zeros(rng, shape, dtype)
            keep = rng.random(shape) >= rate
            if i % 2:      # uint8 masks: any nonzero byte keeps
                mask = keep.astype(np.uint8) * rng.integers(1, 256, shape, dtype=np.uint8)
            else:
                mask = keep
            out.append(call("%s rate %g %s" % (shape, rate, mask.dtype), x, mask, rate))
        x = with_zeros(rng, (5, 7), dtype)
        out.append(call("out=", x, rng.random(x.shape) >= 0.4, 0.4,
                        out=nan_filled(x.shape, dtype)))
        xi = x.copy()
        out.append(call("in place", xi, rng.random(x.shape) >= 0.4, 0.4, out=xi))
        return out
    return samples


def _dropout_big(name):
    def big(dtype):
        rng = seeded_rng(name + " big", dtype.name)
        x = with_zeros(rng, (100_003,), dtype)
        return call("100003", x, rng.random(x.shape) >= 0.3, 0.3)
    return big


def _dropout_hostile(x_name):
    def hostile():
        mask = np.ones((3, 4), bool)
        base = call("", _A, mask, 0.5)
        buf = np.zeros((3, 4))
        return [
            bad("%s empty" % x_name, ValueError, x_name, np.zeros((0, 4)), mask[:0], 0.5),
            bad("mask shape", ValueError, "mask", _A, mask[:2], 0.5, words=["(3, 4)"]),
            bad("mask broadcastable", ValueError, "mask", _A, mask[0], 0.5),
            bad("mask float", TypeError, "mask", _A, mask.astype(np.float64), 0.5,
                words=["float64"]),
            bad("mask int32", TypeError, "mask", _A, mask.astype(np.int32), 0.5,
                words=["int32"]),
            bad("mask list", TypeError, "mask", _A, mask.tolist(), 0.5),
            bad("mask None", TypeError, "mask", _A, None, 0.5),
            bad("rate 1", ValueError, "rate", _A, mask, 1.0, words=["1.0"]),
            bad("rate 1.5", ValueError, "rate", _A, mask, 1.5),
            *scalar_hostiles(base, 2, "rate", below=-0.1),
            *dtype_hostiles(base, 0, x_name),
            *out_hostiles(base, (3, 4), F64, {x_name: 0}),
            bad("mask is out's bytes", ValueError, "mask", _A.copy(),
                buf.view(np.uint8)[:, :4], 0.5, out=buf),
        ]
    return hostile


def _elementwise_cases():
    cases = []
    for name in ELEMENTWISE:
        # no transcendental (relu; the backward formulas from y) is bit for bit; exp, tanh and
        # expm1 come from the C library or the kernel's own vector code in the compiled kernel
        # and from NumPy in the twin, each within a few ulp of the true value: 8 eps relative
        # (4 to 8 ulp) as tests/test_activations.py allows
        fwd = EXACT if name == "relu" else Close(rel=8)
        bwd = Close(rel=8) if name == "elu" else EXACT
        kept = "y" if name in ("sigmoid", "tanh") else "x"
        cases.append(KernelCase(name + "_forward", _unary_samples(name), _unary_hostile(name),
                                both(fwd), _elementwise_big(name + "_forward", 1)))
        cases.append(KernelCase(name + "_backward", _backward_samples(name, kept),
                                _pair_hostile(kept, name == "elu"), both(bwd),
                                _elementwise_big(name + "_backward", 2, kept)))
    # elu's backward from its output y: dx = dy where y > 0, dy * (y + alpha) elsewhere (no
    # transcendental: bit for bit).  Guarded until the kernel exists.
    cases.append(KernelCase("elu_backward_from_output",
                            _backward_samples("elu_from_output", "y"), _pair_hostile("y", True),
                            both(EXACT), _elementwise_big("elu_backward_from_output", 2, "y"),
                            requires=("dy", "y", "alpha", "out")))
    return cases


CASES = [
    *_elementwise_cases(),
    # softmax: exp a few ulp apart, the row sum in double (kernel) vs NumPy's pairwise sum;
    # backward's dy - sum(dy * y) cancels (a near one-hot y), so its error scales with |dy|
    KernelCase("softmax_forward", _softmax_forward_samples, _softmax_forward_hostile,
               both(Close(rel=16)), _rows_big("softmax_forward")),
    KernelCase("softmax_backward", _softmax_backward_samples, _softmax_backward_hostile,
               both(Close(rel=16, norm=16, scale=lambda args: float(np.abs(args[0]).max()),
                          scale_text="max|dy|")), _rows_big("softmax_backward")),
    KernelCase("softmax_cross_entropy", _cross_entropy_samples, _cross_entropy_hostile,
               both(Close(rel=16, norm=8)), _rows_big("softmax_cross_entropy")),
    # dropout: one multiplication by the same scale, bit for bit
    KernelCase("dropout_forward", _dropout_samples("dropout_forward"),
               _dropout_hostile("x"), both(EXACT), _dropout_big("dropout_forward")),
    KernelCase("dropout_backward", _dropout_samples("dropout_backward"),
               _dropout_hostile("dy"), both(EXACT), _dropout_big("dropout_backward")),
]
