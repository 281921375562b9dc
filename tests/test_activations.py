"""fastnn.kernels activations, softmax, softmax cross-entropy and dropout: what is specific to
this family.  Twin parity (bit for bit, or to a few ulp where exp/tanh/expm1 or a row sum is
involved), layouts, out= and in place, 1/2/3 threads, error naming and the child-process crash
check come from the kernel table (tests/kernel_cases/activations.py, tests/test_kernels.py).
Here: float64 centred differences, torch, accuracy of the float32 transcendentals, stability at
huge logits, NaN and special values, the same bits at every SIMD level, the thread split
really happening, zero-stride inputs, label dtypes, and the label race."""
import textwrap
import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st

import fastnn
from fastnn import reference
from fastnn.kernels import _activations as _act
from fnn_testutil import simd

DTYPES = [np.float32, np.float64]
ELEMENTWISE = ["relu", "sigmoid", "tanh", "elu"]
# Results with no transcendental and no reduction: the same float operations in the same order
# as the twin, so bit-identical (see the design comment in fastnn/kernels/_activations.pyx).
BIT_IDENTICAL = {("relu", "fwd"), ("relu", "bwd"), ("sigmoid", "bwd"), ("tanh", "bwd")}
# exp / tanh / expm1 come from the kernel's own float32 code or libm (float64) in the kernel and
# from NumPy's SIMD code in the twin; each is within ~2.5 ulp of the true value, and a product
# or quotient after it adds half an ulp (how far apart they are in practice:
# docs/kernels/activations.md).
MAXULP = 8
CHUNK = _act._CHUNK_ELEMENTS       # elementwise work is cut into chunks of this many elements


def _fwd(impl, name):
    return getattr(_act if impl == "kernels" else reference, name + "_forward")


def _kept(name, x, y):
    """What backward takes from forward: x for relu/elu, the output y for sigmoid/tanh."""
    return y if name in ("sigmoid", "tanh") else x


def _eps(dtype):
    return float(np.finfo(dtype).eps)


def _call_fwd(mod, name, x, alpha, **kw):
    f = getattr(mod, name + "_forward")
    return f(x, alpha, **kw) if name == "elu" else f(x, **kw)


def _call_bwd(mod, name, dy, v, alpha, **kw):
    f = getattr(mod, name + "_backward")
    return f(dy, v, alpha, **kw) if name == "elu" else f(dy, v, **kw)


def _assert_same(a, b, exact):
    assert a.dtype == b.dtype and a.shape == b.shape
    if exact:
        np.testing.assert_array_equal(a, b)
    else:
        np.testing.assert_array_max_ulp(a, b, maxulp=MAXULP)


@st.composite
def elementwise_cases(draw):
    """Rank 1-4, each axis 1..7 (batch 1 and odd sizes), values ~N(0, 3^2) with exact zeros
    sprinkled in (the relu kink), a random elu alpha."""
    rank = draw(st.integers(1, 4))
    shape = tuple(draw(st.lists(st.integers(1, 7), min_size=rank, max_size=rank)))
    return dict(shape=shape, alpha=draw(st.sampled_from([1.0, 0.3, 2.5])),
                seed=draw(st.integers(0, 2 ** 32 - 1)))


def _values(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    x = 3.0 * rng.standard_normal(shape)
    x[rng.random(shape) < 0.1] = 0.0
    dy = rng.standard_normal(shape)
    return rng, x.astype(dtype), dy.astype(dtype)


# --------------------------------------------------------------------------- ELU from its output
def _elu_bwd_from_y_numpy(dy, y, alpha):
    """The expression Dense/Conv2D used before the kernel existed (fastnn/layers), in the dtype."""
    return np.where(y > 0, dy, dy * (y + y.dtype.type(alpha)))


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=elementwise_cases())
def test_elu_backward_from_output_is_the_layers_numpy_expression(dtype, case):
    """No transcendental: the kernel and the NumPy expression the layers used give the same
    bits."""
    _, x, dy = _values(case["shape"], dtype, case["seed"])
    a = case["alpha"]
    y = reference.elu_forward(x, a)
    dx = _act.elu_backward_from_output(dy, y, a)
    np.testing.assert_array_equal(dx, _elu_bwd_from_y_numpy(dy, y, a))
    # and it is ELU's derivative: agrees with the backward from the input x
    np.testing.assert_allclose(dx, reference.elu_backward(dy, x, a), rtol=64 * _eps(dtype),
                               atol=64 * _eps(dtype) * a)


def test_elu_backward_from_output_special_values():
    """NaN in y gives NaN (NaN fails y > 0, then dy * NaN); NaN dy passes; y = 0 (x = 0 or a
    saturated -0.0) takes the dy * (y + alpha) branch, which is dy * alpha: ELU's slope at 0."""
    for dtype in DTYPES:
        y = np.array([np.nan, 1.0, 0.0, -0.0, -0.5, -1.0, np.inf], dtype=dtype)
        dy = np.array([1.0, np.nan, 2.0, 2.0, 2.0, 2.0, 3.0], dtype=dtype)
        for mod in (_act, reference):
            dx = mod.elu_backward_from_output(dy, y, 1.0)
            np.testing.assert_array_equal(dx, _elu_bwd_from_y_numpy(dy, y, 1.0))
            assert np.isnan(dx[0]) and np.isnan(dx[1])
            np.testing.assert_array_equal(dx[2:], np.array([2.0, 2.0, 1.0, 0.0, 3.0], dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_zero_stride_broadcast_input(dtype):
    """A read-only zero-stride view (np.broadcast_to; not one of the table's layouts) reads its
    one row for every row."""
    _, x, _ = _values((4, 9), dtype, 5)
    row = x[0]
    b = np.broadcast_to(row, (6, row.size))
    np.testing.assert_array_equal(_act.relu_forward(b),
                                  np.tile(reference.relu_forward(row), (6, 1)))


def test_elementwise_special_values():
    """relu(-0.0) = +0.0 and relu(+-inf); sigmoid(+-inf) = 1/0; elu(-inf) = -alpha; tanh(+-inf)."""
    for dtype in DTYPES:
        x = np.array([-0.0, 0.0, np.inf, -np.inf, 1e-40, -1e-40], dtype=dtype)
        for impl in ("kernels", "reference"):
            y = _fwd(impl, "relu")(x)
            assert not np.signbit(y[0])
            np.testing.assert_array_equal(y, np.maximum(x, 0))
            np.testing.assert_array_equal(_fwd(impl, "sigmoid")(x[2:4]), [1.0, 0.0])
            np.testing.assert_array_equal(_fwd(impl, "tanh")(x[2:4]), [1.0, -1.0])
            np.testing.assert_array_equal(_fwd(impl, "elu")(x[2:4], 0.5), [np.inf, -0.5])


# --------------------------------------------------------------------------- stability, NaN
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("impl", ["kernels", "reference"])
def test_sigmoid_saturates_exactly_without_warnings(impl, dtype):
    x = np.array([-1e4, 1e4, -1e30, 1e30, -200.0, 200.0, np.finfo(dtype).max,
                  -np.finfo(dtype).max], dtype=dtype)
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        y = _fwd(impl, "sigmoid")(x)
    np.testing.assert_array_equal(y[:4], [0.0, 1.0, 0.0, 1.0])
    np.testing.assert_array_equal(y[6:], [1.0, 0.0])
    # e^-200 is 1.4e-87 in float64 and underflows to 0 in float32: either way y = e/(1+e) = e
    np.testing.assert_allclose(y[4], np.exp(np.float64(-200)).astype(dtype), rtol=4 * _eps(dtype))
    assert y[5] == 1.0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("impl", ["kernels", "reference"])
def test_cross_entropy_at_huge_logits_equals_float64_logsumexp(impl, dtype):
    rng = np.random.default_rng(7)
    z = (rng.choice([-1e4, 1e4], size=(6, 5)) + rng.integers(-3, 4, (6, 5))).astype(dtype)
    z[0] = 1e4                                  # a row of equal huge logits
    z[1] = -1e4
    labels = rng.integers(0, 5, 6)
    mod = _act if impl == "kernels" else reference
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        loss, d = mod.softmax_cross_entropy(z, labels)
        y = mod.softmax_forward(z)
    zd = z.astype(np.float64)
    m = zd.max(axis=1)
    e = np.exp(zd - m[:, None])                  # exact shift: the logits are integers
    lse = m + np.log(e.sum(axis=1))
    expected = np.mean(lse - zd[np.arange(6), labels])
    assert np.isfinite(loss) and np.isfinite(d).all() and np.isfinite(y).all()
    # the log of a dtype-rounded row sum: off by ~eps of the dtype per row, whatever the logits
    assert abs(loss - expected) <= 4 * _eps(dtype) * max(1.0, abs(expected)), (loss, expected)
    p = e / e.sum(axis=1, keepdims=True)        # not exp(z - lse): lse ~ 1e4 keeps few digits
    np.testing.assert_allclose(d, (p - np.eye(5)[labels]) / 6, rtol=0, atol=4 * _eps(dtype))
    np.testing.assert_allclose(y, p, rtol=0, atol=4 * _eps(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_nan_propagation_as_the_twin(dtype):
    """NaN passes through relu, sigmoid, tanh, elu (forward); the backward of relu/elu at a NaN
    x gives 0 / NaN as the formulas do; a NaN logit makes its softmax row (and that row of the
    cross-entropy) NaN and leaves the other rows alone."""
    x = np.array([[np.nan, 1.0, -1.0, 0.0], [2.0, -3.0, 0.5, 1.0]], dtype=dtype)
    dy = np.array([[1.0, np.nan, 2.0, 3.0], [1.0, 1.0, 1.0, 1.0]], dtype=dtype)
    for name in ELEMENTWISE:
        y = _call_fwd(_act, name, x, 1.0)
        assert np.isnan(y[0, 0]) and np.isfinite(y[1]).all(), name
        _assert_same(y, _call_fwd(reference, name, x, 1.0), (name, "fwd") in BIT_IDENTICAL)
        v = _kept(name, x, y)
        dx = _call_bwd(_act, name, dy, v, 1.0)
        _assert_same(dx, _call_bwd(reference, name, dy, v, 1.0), (name, "bwd") in BIT_IDENTICAL)
        assert np.isnan(dx[0, 1]), name           # dy NaN at x = 1 > 0: NaN for every function
    assert _act.relu_backward(dy, x)[0, 0] == 0   # x NaN fails x > 0: no gradient
    assert np.isnan(_act.elu_backward(dy, x)[0, 0])
    for impl in ("kernels", "reference"):
        mod = _act if impl == "kernels" else reference
        y = mod.softmax_forward(x)
        assert np.isnan(y[0]).all() and np.isfinite(y[1]).all()
        loss, d = mod.softmax_cross_entropy(x, np.array([1, 2]))
        assert np.isnan(loss) and np.isnan(d[0]).all() and np.isfinite(d[1]).all()


def test_minus_inf_logit_is_probability_zero():
    """A -inf logit (a masked class) is a probability of 0, not NaN, in softmax and in the
    cross-entropy against integer labels."""
    for dtype in DTYPES:
        z = np.array([[0.0, -np.inf, 1.0], [-np.inf, 2.0, 2.0]], dtype=dtype)
        for mod in (_act, reference):
            y = mod.softmax_forward(z)
            assert y[0, 1] == 0 and y[1, 0] == 0 and np.isfinite(y).all()
            loss, d = mod.softmax_cross_entropy(z, np.array([2, 1]))
            assert np.isfinite(loss) and np.isfinite(d).all() and d[0, 1] == 0


# --------------------------------------------------------------------------- float32 exp/expm1
def _sweep():
    """float32 inputs over every regime: a dense grid through the denormal results of e^x
    (x < -87.3) and past saturation, random values, and magnitudes from 1e-45 to 100."""
    rng = np.random.default_rng(30)
    mags = np.logspace(-45, 2, 50000)
    return np.concatenate([np.linspace(-110, 110, 200001), 20 * rng.standard_normal(100000),
                           -mags, mags, [0.0, -0.0]]).astype(np.float32)


def _max_ulp(a, exact):
    """Largest error of float32 a against float64 `exact`, in float32 ulps of the exact value."""
    spacing = np.spacing(np.abs(exact.astype(np.float32))).astype(np.float64)
    return float(np.max(np.abs(a.astype(np.float64) - exact) / spacing))


# the C loops' variant expected at each level: there is no AVX-512 variant (yet), so the best
# one at or below avx512 is AVX2
VARIANT = {"generic": "generic", "avx2": "avx2", "avx512": "avx2"}


@pytest.mark.parametrize("level", fastnn.cpu_simd_levels())
def test_float32_transcendentals_are_accurate(level):
    """The kernel's own float32 exp/expm1 (vectorised, not libm) against float64 results, at
    every SIMD level this CPU runs: within 2.5 ulp for sigmoid, tanh, elu and its backward, and
    softmax within 3 (the error budget in src_c/fnn_vecmath.h)."""
    x = _sweep()
    xd = x.astype(np.float64)
    with simd(level):
        assert _act._loop_variant() == VARIANT[level]
        sig = np.where(xd >= 0, 1 / (1 + np.exp(-xd)), np.exp(xd) / (1 + np.exp(xd)))
        assert _max_ulp(_act.sigmoid_forward(x), sig) <= 2.5
        assert _max_ulp(_act.tanh_forward(x), np.tanh(xd)) <= 2.5
        for a in (1.0, 0.3, 2.5):
            a32 = float(np.float32(a))
            elu = np.where(xd > 0, xd, a32 * np.expm1(np.minimum(xd, 0)))
            assert _max_ulp(_act.elu_forward(x, a), elu) <= 2.0, a
            delu = np.where(xd > 0, 1.0, a32 * np.exp(np.minimum(xd, 0)))
            assert _max_ulp(_act.elu_backward(np.ones_like(x), x, a), delu) <= 2.5, a
        z = x[:200000].reshape(-1, 40)
        zd = z.astype(np.float64)
        e = np.exp(zd - zd.max(axis=1, keepdims=True))
        assert _max_ulp(_act.softmax_forward(z), e / e.sum(axis=1, keepdims=True)) <= 3.0
        y = _act.tanh_forward(np.array([-0.0, 0.0], np.float32))
        assert np.signbit(y[0]) and not np.signbit(y[1])


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_simd_level_gives_the_same_bits(dtype):
    """The float32 loops exist once per SIMD level (generic, AVX2); every variant rounds the
    same operations in the same way (no FMA), so fastnn.set_simd / FASTNN_SIMD never changes a
    result of this family.  Every kernel of the family, at every level this CPU runs."""
    levels = fastnn.cpu_simd_levels()
    if len(levels) < 2:
        pytest.skip("this CPU runs only the generic level")
    rng = np.random.default_rng(31)
    x = _sweep()[:70001].astype(dtype)           # odd length: a scalar remainder in each chunk
    dy = np.cos(x)
    y = _act.elu_forward(x, 0.7)
    z = x[:70000].reshape(-1, 35)
    labels = np.arange(z.shape[0]) % 35
    soft = _soft_targets(rng, z.shape, dtype, "soft")
    mask = rng.random(x.shape) >= 0.3

    def run():
        sy = _act.softmax_forward(z)
        return [_act.relu_forward(x), _act.relu_backward(dy, x), _act.sigmoid_forward(x),
                _act.sigmoid_backward(dy, _act.sigmoid_forward(x)), _act.tanh_forward(x),
                _act.tanh_backward(dy, _act.tanh_forward(x)), _act.elu_forward(x, 0.7),
                _act.elu_backward(dy, x, 0.7), _act.elu_backward_from_output(dy, y, 0.7),
                sy, _act.softmax_backward(z, sy),
                *_act.softmax_cross_entropy(z, labels), *_act.softmax_cross_entropy(z, soft),
                _act.dropout_forward(x, mask, 0.3), _act.dropout_backward(dy, mask, 0.3)]
    results = {}
    for level in levels:
        with simd(level):
            assert _act._loop_variant() == VARIANT[level]
            results[level] = run()
    # the levels must really run different code for the comparison to mean something
    assert len({VARIANT[level] for level in levels}) >= 2
    for level in levels[1:]:
        for a, b in zip(results[levels[0]], results[level]):
            if isinstance(a, float):
                assert a == b, level
            else:
                np.testing.assert_array_equal(a, b, err_msg=level)


# --------------------------------------------------------------------------- label dtypes
def _rows(case, dtype):
    rng = np.random.default_rng(case["seed"])
    z = (case["scale"] * rng.standard_normal(case["shape"])).astype(dtype)
    return rng, z


def _soft_targets(rng, shape, dtype, kind):
    n, k = shape
    if kind == "one-hot":
        return np.eye(k, dtype=dtype)[rng.integers(0, k, n)]
    t = rng.random(shape)
    if kind == "soft":
        t /= t.sum(axis=1, keepdims=True)                     # rows sum to 1
    return t.astype(dtype)                                    # "unnormalised": any sum


@pytest.mark.parametrize("dtype", DTYPES)
def test_integer_labels_of_any_dtype_and_one_hot_agree(dtype):
    rng, z = _rows(dict(shape=(9, 6), scale=3.0, seed=4), dtype)
    labels = rng.integers(0, 6, 9)
    loss, d = _act.softmax_cross_entropy(z, labels)
    for dt in (np.int8, np.int16, np.int32, np.uint8, np.uint16, np.uint32, np.uint64,
               np.intp, np.longlong):
        l2, d2 = _act.softmax_cross_entropy(z, labels.astype(dt))
        assert l2 == loss
        np.testing.assert_array_equal(d2, d)
    l3, d3 = _act.softmax_cross_entropy(z, labels.tolist())          # a list of ints
    assert l3 == loss
    # one-hot float targets: the same formula; row sums of exactly 1 leave p - t unchanged
    l4, d4 = _act.softmax_cross_entropy(z, np.eye(6, dtype=dtype)[labels])
    assert abs(l4 - loss) <= 4 * _eps(dtype) * abs(loss)
    np.testing.assert_allclose(d4, d, rtol=4 * _eps(dtype), atol=_eps(dtype) / 9)


# --------------------------------------------------------------------------- gradients
def _numeric_grad(f, x, h=1e-6):
    """Centred differences of the scalar f at x (float64), one element at a time."""
    x = x.copy()
    g = np.empty_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + h
        up = f(x)
        x[idx] = old - h
        down = f(x)
        x[idx] = old
        g[idx] = (up - down) / (2 * h)
    return g


def _away_from_kink(rng, shape):
    """Values with |x| in [0.1, 2]: a step of 1e-6 never crosses the relu/elu kink at 0."""
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.1, 2.0, shape)


@pytest.mark.parametrize("impl", ["kernels", "reference"])
@pytest.mark.parametrize("name,alpha", [("relu", None), ("sigmoid", None), ("tanh", None),
                                        ("elu", 1.0), ("elu", 0.4), ("elu", 2.5)])
def test_backward_matches_centred_differences(name, alpha, impl):
    mod = _act if impl == "kernels" else reference
    rng = np.random.default_rng(8)
    x = _away_from_kink(rng, (3, 2, 5))
    dy = rng.standard_normal(x.shape)
    a = 1.0 if alpha is None else alpha
    y = _call_fwd(mod, name, x, a)
    dx = _call_bwd(mod, name, dy, _kept(name, x, y), a)
    num = _numeric_grad(lambda v: np.vdot(_call_fwd(mod, name, v, a), dy), x)
    np.testing.assert_allclose(dx, num, rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("impl", ["kernels", "reference"])
@pytest.mark.parametrize("alpha", [1.0, 0.4, 2.5])
def test_elu_backward_from_output_matches_centred_differences(alpha, impl):
    """float64 centred differences through elu_forward, the backward fed the forward's OUTPUT."""
    mod = _act if impl == "kernels" else reference
    rng = np.random.default_rng(18)
    x = _away_from_kink(rng, (3, 2, 5))
    dy = rng.standard_normal(x.shape)
    dx = mod.elu_backward_from_output(dy, mod.elu_forward(x, alpha), alpha)
    num = _numeric_grad(lambda v: np.vdot(mod.elu_forward(v, alpha), dy), x)
    np.testing.assert_allclose(dx, num, rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("impl", ["kernels", "reference"])
def test_softmax_backward_matches_centred_differences(impl):
    mod = _act if impl == "kernels" else reference
    rng = np.random.default_rng(9)
    z = 2.0 * rng.standard_normal((4, 6))
    dy = rng.standard_normal(z.shape)
    dx = mod.softmax_backward(dy, mod.softmax_forward(z))
    num = _numeric_grad(lambda v: np.vdot(mod.softmax_forward(v), dy), z)
    np.testing.assert_allclose(dx, num, rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("impl", ["kernels", "reference"])
@pytest.mark.parametrize("kind", ["labels", "one-hot", "soft", "unnormalised"])
def test_cross_entropy_gradient_matches_centred_differences(kind, impl):
    mod = _act if impl == "kernels" else reference
    rng = np.random.default_rng(10)
    z = 2.0 * rng.standard_normal((5, 7))
    t = rng.integers(0, 7, 5) if kind == "labels" else _soft_targets(rng, z.shape, np.float64,
                                                                     kind)
    _, d = mod.softmax_cross_entropy(z, t)
    num = _numeric_grad(lambda v: mod.softmax_cross_entropy(v, t)[0], z)
    np.testing.assert_allclose(d, num, rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("impl", ["kernels", "reference"])
def test_dropout_backward_is_the_gradient_of_forward(impl):
    mod = _act if impl == "kernels" else reference
    rng = np.random.default_rng(11)
    x = rng.standard_normal((4, 5))
    dy = rng.standard_normal(x.shape)
    mask = rng.random(x.shape) >= 0.3
    num = _numeric_grad(lambda v: np.vdot(mod.dropout_forward(v, mask, 0.3), dy), x)
    np.testing.assert_allclose(mod.dropout_backward(dy, mask, 0.3), num, rtol=1e-7, atol=1e-8)


# --------------------------------------------------------------------------- dropout
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mask_dtype", [np.bool_, np.uint8])
@given(case=elementwise_cases(), rate=st.sampled_from([0.0, 0.1, 0.5, 0.9, 0.999]))
def test_dropout_is_inverted_scaling(dtype, mask_dtype, case, rate):
    """Kept elements times 1 / (1 - rate) rounded to the dtype, dropped ones 0: the formula,
    independently of the twin."""
    rng, x, dy = _values(case["shape"], dtype, case["seed"])
    keep = rng.random(x.shape) >= rate
    # uint8 masks: any nonzero byte keeps
    mask = keep if mask_dtype is np.bool_ else keep.astype(np.uint8) * rng.integers(1, 256, x.shape,
                                                                                    dtype=np.uint8)
    scale = dtype(1.0 / (1.0 - rate))
    np.testing.assert_array_equal(_act.dropout_forward(x, mask, rate),
                                  np.where(keep, x * scale, dtype(0)))
    np.testing.assert_array_equal(_act.dropout_backward(dy, mask, rate),
                                  np.where(keep, dy * scale, dtype(0)))


def test_dropout_rate_zero_is_identity_on_kept_and_mean_is_preserved():
    rng = np.random.default_rng(12)
    x = rng.standard_normal((50, 40))
    ones = np.ones(x.shape, dtype=bool)
    for mod in (_act, reference):
        np.testing.assert_array_equal(mod.dropout_forward(x, ones, 0.0), x)
        np.testing.assert_array_equal(mod.dropout_backward(x, ones, 0), x)
    # inverted scaling: E[y] = x; with a constant x the mean over a Bernoulli mask is x up to
    # sampling noise (2000 draws of keep-probability 0.75: sd of the mean ~ 0.013)
    c = np.full(2000, 2.0)
    mask = rng.random(2000) >= 0.25
    assert abs(_act.dropout_forward(c, mask, 0.25).mean() - 2.0) < 0.1
    np.testing.assert_array_equal(np.unique(_act.dropout_forward(c, mask, 0.25)), [0.0, 2.0 / 0.75])


# --------------------------------------------------------------------------- threads
def _at_threads(fn, split, counts=(1, 2, 3)):
    """fn() at each thread count; `split` is [(work, units, cheap)] for the kernels fn calls,
    checked to really run on that many threads (else the test would prove nothing)."""
    out = []
    for n in counts:
        with fastnn.threads(n):
            for work, units, cheap in split:
                assert _act._threads_planned(work, units, cheap) == n, (work, units, cheap, n)
            out.append(fn())
    return out


@pytest.mark.parametrize("dtype", DTYPES)
def test_elementwise_and_dropout_bit_identical_at_any_thread_count(dtype):
    rng = np.random.default_rng(14)
    size = 12 * CHUNK + 17      # 13 chunks, the last one short: split even for relu and dropout
    x = (3 * rng.standard_normal(size)).astype(dtype).reshape(-1, 1)
    dy = rng.standard_normal(x.shape).astype(dtype)
    mask = rng.random(x.shape) >= 0.3

    def run():
        res = []
        for name in ELEMENTWISE:
            y = _call_fwd(_act, name, x, 0.8)
            res += [y, _call_bwd(_act, name, dy, _kept(name, x, y), 0.8)]
        res.append(_act.elu_backward_from_output(dy, res[6], 0.8))      # res[6]: elu's y
        return res + [_act.dropout_forward(x, mask, 0.3), _act.dropout_backward(dy, mask, 0.3)]
    runs = _at_threads(run, [(size, size, True), (size, size, False)])
    for other in runs[1:]:
        for a, b in zip(runs[0], other):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_and_cross_entropy_bit_identical_at_any_thread_count(dtype):
    rng = np.random.default_rng(15)
    z = (3 * rng.standard_normal((4001, 25))).astype(dtype)      # 100025 elements, 4001 rows
    dy = rng.standard_normal(z.shape).astype(dtype)
    labels = rng.integers(0, 25, z.shape[0])
    soft = _soft_targets(rng, z.shape, dtype, "soft")

    def run():
        y = _act.softmax_forward(z)
        return [y, _act.softmax_backward(dy, y), *_act.softmax_cross_entropy(z, labels),
                *_act.softmax_cross_entropy(z, soft)]
    runs = _at_threads(run, [(z.size, z.shape[0], False), (z.size, z.shape[0], True)])
    for other in runs[1:]:
        for a, b in zip(runs[0], other):
            if isinstance(a, float):
                assert a == b                     # the mean loss too, not just each row
            else:
                np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------- torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["labels", "soft"])
def test_cross_entropy_matches_torch(kind, dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(16)
    z = (4 * rng.standard_normal((33, 10))).astype(dtype)
    t = rng.integers(0, 10, 33) if kind == "labels" else _soft_targets(rng, z.shape, dtype, "soft")
    loss, d = _act.softmax_cross_entropy(z, t)
    tz = torch.tensor(z, requires_grad=True)
    tl = torch.nn.functional.cross_entropy(tz, torch.from_numpy(t))
    tl.backward()
    tol = 64 * _eps(dtype)
    assert abs(loss - tl.item()) <= tol * max(1.0, abs(loss))
    np.testing.assert_allclose(d, tz.grad.numpy(), rtol=tol, atol=tol / 33)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("alpha", [1.0, 0.5, 1.7])
def test_elu_matches_torch(alpha, dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(17)
    x = (3 * rng.standard_normal((7, 13))).astype(dtype)
    dy = rng.standard_normal(x.shape).astype(dtype)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.elu(tx, alpha)
    ty.backward(torch.from_numpy(dy))
    np.testing.assert_array_max_ulp(_act.elu_forward(x, alpha), ty.detach().numpy(), MAXULP)
    np.testing.assert_array_max_ulp(_act.elu_backward(dy, x, alpha), tx.grad.numpy(), MAXULP)


# --------------------------------------------------------------------------- API, label race
def test_api_names_match_the_twin():
    names = {"relu_forward", "relu_backward", "sigmoid_forward", "sigmoid_backward",
             "tanh_forward", "tanh_backward", "elu_forward", "elu_backward",
             "elu_backward_from_output", "softmax_forward", "softmax_backward",
             "softmax_cross_entropy", "dropout_forward", "dropout_backward",
             "dropout_forward_rng", "splitmix64"}
    assert set(_act.__all__) == names == set(reference.activations.__all__)
    for name in names:
        assert getattr(fastnn.kernels, name) is getattr(_act, name)


def test_labels_changed_by_another_thread_never_index_out_of_bounds(run_child):
    """Issue 11's check-then-use race: a thread flips labels between 0 and 10**10 while the
    cross-entropy runs with the GIL released.  The kernel indexes only through the contract's
    private copy, checked after it was made, so every call either raises ValueError (the copy
    caught a bad id) or computes with ids in range -- never an out-of-bounds write.  Run for
    about two seconds in a child process, where a crash shows as a signal."""
    code = textwrap.dedent("""
        import threading, time
        import numpy as np
        from fastnn import kernels as K
        n = 200000
        z = np.zeros((n, 10), np.float32)
        lab = np.zeros(n, np.int64)
        def flip():
            while True:
                lab[::997] = 10 ** 10
                lab[::997] = 0
        threading.Thread(target=flip, daemon=True).start()
        calls = refused = 0
        end = time.monotonic() + 2.0
        while time.monotonic() < end or calls < 5:
            try:
                loss, d = K.softmax_cross_entropy(z, lab)
            except ValueError:
                refused += 1
            else:
                # equal logits: every row's loss is log(10) whatever its (valid) label, and its
                # gradient has exactly one negative entry, (0.1 - 1) / n
                assert abs(loss - np.log(10)) < 1e-5, loss
                assert (d < 0).sum() == n, (d < 0).sum()
            calls += 1
        print("ok", calls, refused)
    """)
    res = run_child(code, timeout=300)
    assert res.returncode == 0, (res.returncode, res.stderr[-2000:])
    assert res.stdout.split()[0] == "ok", res.stdout


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 7, 33, 70001])
def test_dropout_with_a_given_mask_is_the_twins_select_bit_for_bit(dtype, n):
    """The branch-free mask pass (src_c/fnn_random.h, fnn_dropout_apply_*) gives exactly
    np.where(mask, x * scale, 0): kept -0.0 stays -0.0, a dropped inf or NaN gives +0, a kept
    one stays inf or NaN; lengths around the vector widths and above a thread's grain."""
    rng = np.random.default_rng(n)
    x = rng.standard_normal(n).astype(dtype) * 1e3
    special = np.array([np.inf, -np.inf, np.nan, -0.0, 0.0, np.finfo(dtype).max,
                        np.finfo(dtype).tiny], dtype=dtype)
    x[:min(n, special.size)] = special[:min(n, special.size)]
    for mask in (rng.random(n) >= 0.3, np.arange(n) % 2 == 0, np.ones(n, bool),
                 np.zeros(n, bool)):
        for fn in ("dropout_forward", "dropout_backward"):
            got = getattr(fastnn.kernels, fn)(x, mask.view(np.uint8), 0.3)
            with np.errstate(over="ignore", invalid="ignore"):     # the twin on max, inf, NaN
                want = getattr(reference, fn)(x, mask.view(np.uint8), 0.3)
            assert got.tobytes() == want.tobytes(), (fn, dtype, n)
