"""The table's convolution entries: im2col, col2im, conv2d_forward (with and without a fused
activation) and conv2d_backward."""
import numpy as np

from .gemm import ACTIVATIONS, GEMM_TOL
from .inputs import dtype_hostiles, geometry_hostiles, normal, x_shape_hostiles, seeded_rng
from .records import EXACT, KernelCase, bad, both, call


# (n, c, oc, h, w, kh, kw, stride, padding): batch 1, odd sizes, non-square kernels, stride > 1
# and padding > 0 per axis, a kernel that barely fits, 1x1 kernels.
CONV_GEOMETRIES = [
    (1, 1, 1, 1, 1, 1, 1, 1, 0),
    (1, 2, 3, 5, 7, 3, 2, 1, 0),
    (2, 3, 4, 7, 6, 3, 3, 2, 1),
    (3, 2, 5, 9, 7, 2, 3, (2, 1), (1, 2)),
    (1, 4, 2, 4, 5, 4, 1, (1, 3), (0, 2)),
    (2, 1, 3, 3, 3, 5, 5, 1, 1),
    (2, 3, 2, 8, 9, 1, 1, 3, 0),
    (1, 2, 2, 6, 5, 2, 4, (3, 2), (2, 0)),
]


def _conv_inputs(rng, geo, dtype):
    n, c, oc, h, w, kh, kw, s, p = geo
    x = normal(rng, (n, c, h, w), dtype)
    wt = normal(rng, (oc, c, kh, kw), dtype)
    b = normal(rng, (oc,), dtype)
    return x, wt, b, s, p


def _out_hw(h, w, kh, kw, s, p):
    sh, sw = (s, s) if isinstance(s, int) else s
    ph, pw = (p, p) if isinstance(p, int) else p
    return (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1


def _geo_label(geo):
    n, c, oc, h, w, kh, kw, s, p = geo
    return "x%s k%dx%d oc%d s%s p%s" % ((n, c, h, w), kh, kw, oc, s, p)


def _im2col_samples(dtype):
    rng = seeded_rng("im2col", dtype.name)
    return [call(_geo_label(g), _conv_inputs(rng, g, dtype)[0], g[5], g[6], g[7], g[8])
            for g in CONV_GEOMETRIES]


def _col2im_samples(dtype):
    rng = seeded_rng("col2im", dtype.name)
    out = []
    for g in CONV_GEOMETRIES:
        n, c, oc, h, w, kh, kw, s, p = g
        oh, ow = _out_hw(h, w, kh, kw, s, p)
        cols = normal(rng, (c * kh * kw, n * oh * ow), dtype)
        out.append(call(_geo_label(g), cols, (n, c, h, w), kh, kw, s, p))
    return out


def _conv_forward_samples(dtype, activations=(None,)):
    rng = seeded_rng("conv2d_forward", activations, dtype.name)
    out = []
    for i, g in enumerate(CONV_GEOMETRIES):
        x, w, b, s, p = _conv_inputs(rng, g, dtype)
        act = activations[i % len(activations)]
        kw = {} if act is None and activations == (None,) else dict(activation=act)
        out.append(call(_geo_label(g) + (" no bias" if i % 3 == 1 else "")
                        + (" %s" % act if kw else ""), x, w, None if i % 3 == 1 else b, s, p,
                        **kw))
    return out


def _conv_backward_samples(dtype):
    rng = seeded_rng("conv2d_backward", dtype.name)
    out = []
    for i, g in enumerate(CONV_GEOMETRIES):
        n, c, oc, h, w, kh, kw, s, p = g
        x, wt, _, s, p = _conv_inputs(rng, g, dtype)
        dy = normal(rng, (n, oc) + _out_hw(h, w, kh, kw, s, p), dtype)
        kwargs = dict(need_dx=False) if i % 4 == 3 else {}
        out.append(call(_geo_label(g) + (" need_dx=False" if kwargs else ""), dy, x, wt, s, p,
                        **kwargs))
    return out


_BIG_CONV = (6, 8, 24, 15, 13, 3, 2, (2, 1), (1, 2))


def _im2col_big(dtype):
    x = _conv_inputs(seeded_rng("im2col big", dtype.name), _BIG_CONV, dtype)[0]
    return call(_geo_label(_BIG_CONV), x, 3, 2, (2, 1), (1, 2))


def _col2im_big(dtype):
    n, c, oc, h, w, kh, kw, s, p = _BIG_CONV
    oh, ow = _out_hw(h, w, kh, kw, s, p)
    cols = normal(seeded_rng("col2im big", dtype.name), (c * kh * kw, n * oh * ow), dtype)
    return call(_geo_label(_BIG_CONV), cols, (n, c, h, w), kh, kw, s, p)


def _conv_forward_big(dtype, activation=None):
    x, w, b, s, p = _conv_inputs(seeded_rng("conv big", dtype.name), _BIG_CONV, dtype)
    kw = {} if activation is None else dict(activation=activation)
    return call(_geo_label(_BIG_CONV), x, w, b, s, p, **kw)


def _conv_backward_big(dtype):
    rng = seeded_rng("conv backward big", dtype.name)
    n, c, oc, h, w, kh, kw, s, p = _BIG_CONV
    x, wt, _, s, p = _conv_inputs(rng, _BIG_CONV, dtype)
    dy = normal(rng, (n, oc) + _out_hw(h, w, kh, kw, s, p), dtype)
    return call(_geo_label(_BIG_CONV), dy, x, wt, s, p)


_X = np.zeros((2, 3, 5, 5))
_W = np.zeros((4, 3, 3, 3))
_DY = np.zeros((2, 4, 3, 3))
_ONE = np.zeros((1, 1, 1, 1))
_HUGE_STRIDE = 2 ** 31 - 1      # the largest stride: one output position however large the plane


def _absurd_size_hostiles(make):
    """A padding of 2**24 on a 1x1 input: a padded plane (the twins build it) and, at stride 1,
    an output of 2**50 elements, more than any address space holds, so the allocation would fail
    at once whatever the OS's overcommit policy (a smaller absurd size could be granted): a
    ValueError naming padding before anything is allocated.  ``make(stride, padding)``: the
    call's arguments."""
    return [bad("padding 2**24", ValueError, "padding", *make(1, 2 ** 24), words=["2**47"]),
            bad("padding 2**24, stride 2**31-1", ValueError, "padding",
                *make(_HUGE_STRIDE, 2 ** 24), words=["2**47"])]


def _im2col_hostile():
    base = call("", _X, 3, 3, 1, 0)
    return [
        bad("x rank 3", ValueError, "x", _X[0], 3, 3, 1, 0, words=["4-dim"]),
        bad("x empty batch", ValueError, "x", _X[:0], 3, 3, 1, 0, words=["empty"]),
        bad("kh 0", ValueError, "kh", _X, 0, 3, 1, 0),
        bad("kw -2", ValueError, "kw", _X, 3, -2, 1, 0),
        bad("kh bool", TypeError, "kh", _X, True, 3, 1, 0, words=["bool"]),
        bad("kw float", TypeError, "kw", _X, 3, 2.0, 1, 0),
        bad("kh too tall", ValueError, "kh", _X, 6, 3, 1, 0, words=["6", "5"]),
        bad("kw too wide", ValueError, "kw", _X, 3, 8, 1, 1, words=["8", "7"]),
        bad("kh 2**40", ValueError, "kh", _X, 2 ** 40, 3, 1, 0),
        *_absurd_size_hostiles(lambda s, p: (_ONE, 1, 1, s, p)),
        bad("columns of 2**80 elements", ValueError, ("kh", "kw", "padding"), _ONE, 2 ** 20,
            2 ** 20, 1, 2 ** 20, words=["2**47"]),
        *dtype_hostiles(base, 0, "x"),
        *geometry_hostiles(base, 3, 4),
    ]


def _col2im_hostile():
    cols = np.zeros((27, 18))
    base = call("", cols, _X.shape, 3, 3, 1, 0)
    return [
        bad("cols rank 1", ValueError, "cols", cols[0], _X.shape, 3, 3, 1, 0, words=["2-dim"]),
        bad("cols shape", ValueError, "cols", cols[:, :17], _X.shape, 3, 3, 1, 0,
            words=["(27, 18)", "(27, 17)"]),
        bad("cols empty", ValueError, "cols", cols[:0], _X.shape, 3, 3, 1, 0),
        bad("kh too tall", ValueError, "kh", cols, _X.shape, 6, 3, 1, 0),
        bad("kw bool", TypeError, "kw", cols, _X.shape, 3, True, 1, 0),
        bad("x_shape 2**63", ValueError, "cols", cols, (1, 1, 2 ** 63, 3), 3, 3, 1, 0),
        bad("x_shape 2**62 batch", ValueError, "cols", cols, (2 ** 62, 1, 3, 3), 3, 3, 1, 0),
        # cols of the right shape (513 x 513 windows), dx of 2**80 elements
        bad("x_shape 2**40 x 2**40", ValueError, "x_shape", np.zeros((1, 513 * 513)),
            (1, 1, 2 ** 40, 2 ** 40), 1, 1, _HUGE_STRIDE, 0, words=["2**47"]),
        bad("padding 2**24, stride 2**31-1", ValueError, "padding", np.zeros((1, 1)),
            (1, 1, 1, 1), 1, 1, _HUGE_STRIDE, 2 ** 24, words=["2**47"]),
        *dtype_hostiles(base, 0, "cols"),
        *x_shape_hostiles(base, 1),
        *geometry_hostiles(base, 4, 5),
    ]


def _conv_forward_hostile():
    base = call("", _X, _W, np.zeros(4), 1, 0)
    return [
        bad("x rank 3", ValueError, "x", _X[0], _W, None, 1, 0, words=["4-dim"]),
        bad("w rank 3", ValueError, "w", _X, _W[0], None, 1, 0, words=["4-dim"]),
        bad("channels", ValueError, ("w", "x"), _X, _W[:, :2], None, 1, 0,
            words=["in_channels"]),
        bad("b length", ValueError, "b", _X, _W, np.zeros(3), 1, 0),
        bad("b rank 2", ValueError, "b", _X, _W, np.zeros((1, 4)), 1, 0),
        bad("b int", TypeError, "b", _X, _W, np.zeros(4, np.int64), 1, 0),
        bad("w dtype mix", TypeError, "w", _X, _W.astype(np.float32), None, 1, 0,
            words=["float32", "float64"]),
        bad("b dtype mix", TypeError, "b", _X, _W, np.zeros(4, np.float32), 1, 0),
        bad("kernel too tall", ValueError, "kh", _X, np.zeros((4, 3, 8, 3)), None, 1, 1,
            words=["8", "7"]),
        bad("x empty batch", ValueError, "x", _X[:0], _W, None, 1, 0, words=["empty"]),
        bad("w empty", ValueError, "w", _X, _W[:0], None, 1, 0, words=["empty"]),
        *_absurd_size_hostiles(lambda s, p: (_ONE, _ONE, None, s, p)),
        *dtype_hostiles(base, 0, "x"),
        *dtype_hostiles(base, 1, "w"),
        *geometry_hostiles(base, 3, 4),
    ]


def _conv_forward_activation_hostile():
    return [bad("activation gelu", ValueError, "activation", _X, _W, None, 1, 0,
                activation="gelu", words=["gelu"]),
            bad("activation 1", ValueError, "activation", _X, _W, None, 1, 0, activation=1)]


def _conv_backward_hostile():
    base = call("", _DY, _X, _W, 1, 0)
    return [
        bad("dy shape", ValueError, "dy", _DY[:, :3], _X, _W, 1, 0, words=["(2, 4, 3, 3)"]),
        bad("dy rank 3", ValueError, "dy", _DY[0], _X, _W, 1, 0, words=["4-dim"]),
        bad("dy dtype mix", TypeError, "dy", _DY.astype(np.float32), _X, _W, 1, 0),
        bad("channels", ValueError, ("w", "x"), _DY, _X[:, :2], _W, 1, 0),
        bad("x empty", ValueError, "x", _DY, _X[:0], _W, 1, 0),
        bad("need_dx int", TypeError, "need_dx", _DY, _X, _W, 1, 0, need_dx=1, words=["bool"]),
        bad("need_dx None", TypeError, "need_dx", _DY, _X, _W, 1, 0, need_dx=None),
        bad("need_dx str", TypeError, "need_dx", _DY, _X, _W, 1, 0, need_dx="no"),
        bad("padding 2**24, stride 2**31-1", ValueError, "padding", _ONE, _ONE, _ONE,
            _HUGE_STRIDE, 2 ** 24, words=["2**47"]),
        *dtype_hostiles(base, 0, "dy"),
        *dtype_hostiles(base, 1, "x"),
        *dtype_hostiles(base, 2, "w"),
        *geometry_hostiles(base, 3, 4),
    ]


CASES = [
    # im2col / col2im: the same copies and additions as the twin in the same order
    KernelCase("im2col", _im2col_samples, _im2col_hostile, both(EXACT), _im2col_big),
    KernelCase("col2im", _col2im_samples, _col2im_hostile, both(EXACT), _col2im_big),
    KernelCase("conv2d_forward", _conv_forward_samples, _conv_forward_hostile, both(GEMM_TOL),
               _conv_forward_big),
    # the fused activation (y = act(conv + b)), guarded until conv2d_forward has `activation`
    KernelCase("conv2d_forward", lambda dt: _conv_forward_samples(dt, ACTIVATIONS),
               _conv_forward_activation_hostile, both(GEMM_TOL),
               lambda dt: _conv_forward_big(dt, "tanh"), variant="activation",
               requires=("activation",)),
    KernelCase("conv2d_backward", _conv_backward_samples, _conv_backward_hostile,
               both(GEMM_TOL), _conv_backward_big),
]
