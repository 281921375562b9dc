"""fastnn.initializers against the Keras definitions, written out here independently of the
library: every Keras name resolves and gives the requested shape and dtype; the fan rules for
Dense (in, out) and Conv2D (out, in, kh, kw) kernels; the exact bounds and the sample moments of
every distribution (fixed seeds, tolerances of a few standard errors derived from the sample
size); orthogonal and identity; seed and Generator reproducibility; get() and its aliases;
serialize/deserialize round trips; errors for bad arguments."""
import json
import math
import re

import numpy as np
import pytest

import fastnn
from fastnn import initializers as I
from fastnn import layers as L

KERAS_NAMES = ["zeros", "ones", "constant", "random_normal", "random_uniform", "truncated_normal",
               "orthogonal", "identity", "glorot_normal", "glorot_uniform", "he_normal",
               "he_uniform", "lecun_normal", "lecun_uniform"]
RANDOM_NAMES = ["random_normal", "random_uniform", "truncated_normal", "orthogonal",
                "glorot_normal", "glorot_uniform", "he_normal", "he_uniform", "lecun_normal",
                "lecun_uniform"]
DTYPES = [np.float32, np.float64]
DENSE = (784, 256)
CONV = (64, 32, 3, 3)          # (out_channels, in_channels, kh, kw), torch layout as API.md
SHAPES = [DENSE, CONV]
SHAPE_IDS = ["dense784x256", "conv64x32x3x3"]

@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """orthogonal's QR is ~10 ms on one BLAS thread but can take seconds when OpenBLAS's threads
    compete with other work for the cores; the results checked here do not depend on it."""
    from threadpoolctl import threadpool_limits
    with threadpool_limits(1, "blas"):
        yield


Z_SE = 4.0                     # tolerance for sample moments, in standard errors
MISS_P = 1e-9                  # accepted probability that a "samples reach the bound" check misses


# --------------------------------------------------------------------------- Keras formulas
def keras_fans(shape):
    """fan_in, fan_out as API.md states them for fastnn's layouts (Keras' numbers for the same
    layer): Dense (in, out); conv (out, in, kh, kw) -> in*kh*kw, out*kh*kw."""
    if len(shape) == 2:
        return shape[0], shape[1]
    out_c, in_c = shape[0], shape[1]
    rf = int(np.prod(shape[2:]))
    return in_c * rf, out_c * rf


# (scale, mode, distribution) of each Keras variance-scaling initializer (keras.initializers docs)
VS = {
    "glorot_uniform": (1.0, "fan_avg", "uniform"),
    "he_uniform": (2.0, "fan_in", "uniform"),
    "lecun_uniform": (1.0, "fan_in", "uniform"),
    "glorot_normal": (1.0, "fan_avg", "truncated_normal"),
    "he_normal": (2.0, "fan_in", "truncated_normal"),
    "lecun_normal": (1.0, "fan_in", "truncated_normal"),
}


def keras_n(shape, mode):
    fan_in, fan_out = keras_fans(shape)
    return {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[mode]


def phi(x):
    return math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def trunc_moments(a=2.0):
    """(m2, m4) of a standard normal truncated to [-a, a] (integration by parts:
    I_k = -2 a^(k-1) phi(a) + (k-1) I_(k-2), I_0 = erf(a/sqrt 2))."""
    i0 = math.erf(a / math.sqrt(2))
    i2 = i0 - 2 * a * phi(a)
    i4 = 3 * i2 - 2 * a ** 3 * phi(a)
    return i2 / i0, i4 / i0


def trunc_tail_prob(lo, a=2.0):
    """P(|X| > lo) for a standard normal truncated to [-a, a]."""
    cdf = lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2)))  # noqa: E731
    return 2 * (cdf(a) - cdf(lo)) / math.erf(a / math.sqrt(2))


KURT_NORMAL = 3.0
KURT_UNIFORM = 9.0 / 5.0
_M2, _M4 = trunc_moments()
KURT_TRUNC = _M4 / _M2 ** 2


def check_moments(x, mean, std, kurtosis):
    """Sample mean and std within Z_SE standard errors: se(mean) = std / sqrt(n),
    se(std) ~= std * sqrt((kurtosis - 1) / (4 n)) (delta method on the sample variance)."""
    v = np.asarray(x, dtype=np.float64).ravel()
    n = v.size
    se_mean = std / math.sqrt(n)
    se_std = std * math.sqrt((kurtosis - 1.0) / (4.0 * n))
    assert abs(v.mean() - mean) <= Z_SE * se_mean, (v.mean(), mean, se_mean)
    assert abs(v.std() - std) <= Z_SE * se_std, (v.std(), std, se_std)


def test_truncation_constant_is_the_std_of_a_unit_normal_truncated_at_2():
    # the 0.87962566103423978 of Keras, derived independently
    assert math.sqrt(_M2) == pytest.approx(0.87962566103423978, rel=1e-14)


# --------------------------------------------------------------------------- names, shape, dtype
NAME_SHAPES = [(n, s) for n in KERAS_NAMES for s in SHAPES
               if not (n == "identity" and len(s) != 2)]     # identity: 2-D only (see below)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,shape", NAME_SHAPES,
                         ids=["%s-%s" % (n, "x".join(map(str, s))) for n, s in NAME_SHAPES])
def test_every_keras_name_resolves_and_gives_shape_and_dtype(name, shape, dtype):
    init = I.get(name)
    assert callable(init)
    w = init(shape, seed=0, dtype=dtype)
    assert isinstance(w, np.ndarray)
    assert w.shape == shape
    assert w.dtype == np.dtype(dtype)
    assert np.isfinite(w).all()


@pytest.mark.parametrize("name", KERAS_NAMES)
def test_default_dtype_is_float32(name):
    assert I.get(name)((5, 4), seed=1).dtype == np.float32


@pytest.mark.parametrize("name", KERAS_NAMES)
def test_class_form_matches_function_form(name):
    cls = getattr(I, "".join(p.capitalize() for p in name.split("_")))
    assert cls.name == name
    a = cls()((6, 5), seed=3, dtype=np.float64)
    b = I.get(name)((6, 5), seed=3, dtype=np.float64)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_constants(shape, dtype):
    np.testing.assert_array_equal(I.zeros(shape, dtype=dtype), np.zeros(shape))
    np.testing.assert_array_equal(I.ones(shape, dtype=dtype), np.ones(shape))
    np.testing.assert_array_equal(I.constant(shape, dtype=dtype), np.zeros(shape))  # Keras: 0
    np.testing.assert_array_equal(I.constant(shape, dtype=dtype, value=-2.5),
                                  np.full(shape, -2.5))
    np.testing.assert_array_equal(I.Constant(0.75)(shape, dtype=dtype), np.full(shape, 0.75))


# --------------------------------------------------------------------------- fans
@pytest.mark.parametrize("shape,expected", [
    ((784, 256), (784, 256)),
    ((256, 10), (256, 10)),
    ((64, 32, 3, 3), (32 * 9, 64 * 9)),
    ((32, 1, 3, 3), (9, 288)),           # docs/layers.md: Conv2D(1, 32, 3)
    ((8, 4, 5, 3), (4 * 15, 8 * 15)),
])
def test_compute_fans(shape, expected):
    assert tuple(I.compute_fans(shape)) == expected
    assert keras_fans(shape) == expected


def test_conv2d_layer_kernel_layout_and_fans():
    layer = L.Conv2D(32, 64, 3, kernel_initializer="he_uniform", seed=0)
    w = layer.parameters()[0].value
    assert w.shape == CONV
    bound = math.sqrt(6.0 / (32 * 9))
    assert np.abs(w).max() <= bound
    # the samples fill the bound: with the swapped layout it would be sqrt(6 / 576)
    assert np.abs(w).max() >= bound * MISS_P ** (1.0 / w.size)


# --------------------------------------------------------------------------- variance scaling
UNIFORM_VS = ["glorot_uniform", "he_uniform", "lecun_uniform"]
NORMAL_VS = ["glorot_normal", "he_normal", "lecun_normal"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize("name", UNIFORM_VS)
def test_variance_scaling_uniform(name, shape, dtype):
    scale, mode, _ = VS[name]
    bound = math.sqrt(3.0 * scale / keras_n(shape, mode))
    w = I.get(name)(shape, seed=11, dtype=dtype)
    a = np.abs(w.astype(np.float64))
    assert a.max() <= bound                                   # exact bound, no sample beyond
    # P(max |w| < bound * f) = f^n for U(-bound, bound): the bound is reached, not a smaller one
    assert a.max() >= bound * MISS_P ** (1.0 / w.size)
    check_moments(w, 0.0, bound / math.sqrt(3.0), KURT_UNIFORM)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize("name", NORMAL_VS)
def test_variance_scaling_truncated_normal(name, shape, dtype):
    scale, mode, _ = VS[name]
    target_std = math.sqrt(scale / keras_n(shape, mode))
    sigma = target_std / 0.87962566103423978
    w = I.get(name)(shape, seed=12, dtype=dtype)
    a = np.abs(w.astype(np.float64))
    assert a.max() <= 2.0 * sigma                             # truncated at 2 sigma
    # ... and not at less: samples beyond 1.9 sigma exist (miss probability checked first)
    p_tail = trunc_tail_prob(1.9)
    assert (1.0 - p_tail) ** w.size < MISS_P
    assert a.max() > 1.9 * sigma
    check_moments(w, 0.0, target_std, KURT_TRUNC)


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg"])
@pytest.mark.parametrize("distribution", ["uniform", "truncated_normal", "untruncated_normal"])
def test_variance_scaling_class_modes(distribution, mode, shape):
    scale = 3.0
    std = math.sqrt(scale / keras_n(shape, mode))
    w = I.VarianceScaling(scale, mode, distribution)(shape, seed=13, dtype=np.float64)
    a = np.abs(w)
    if distribution == "uniform":
        assert a.max() <= math.sqrt(3.0) * std
        check_moments(w, 0.0, std, KURT_UNIFORM)
    elif distribution == "truncated_normal":
        assert a.max() <= 2.0 * std / 0.87962566103423978
        check_moments(w, 0.0, std, KURT_TRUNC)
    else:
        # untruncated: the fraction beyond 2 std is the normal's 2 * (1 - Phi(2))
        p = 1.0 - math.erf(2.0 / math.sqrt(2.0))
        frac = (a > 2.0 * std).mean()
        assert abs(frac - p) <= Z_SE * math.sqrt(p * (1 - p) / w.size)
        check_moments(w, 0.0, std, KURT_NORMAL)


def test_variance_scaling_normal_is_truncated_alias():
    a = I.VarianceScaling(2.0, "fan_in", "normal")(DENSE, seed=5, dtype=np.float64)
    b = I.VarianceScaling(2.0, "fan_in", "truncated_normal")(DENSE, seed=5, dtype=np.float64)
    np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------- plain distributions
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_random_normal_defaults(shape, dtype):
    w = I.random_normal(shape, seed=21, dtype=dtype).astype(np.float64)
    check_moments(w, 0.0, 0.05, KURT_NORMAL)
    # not truncated: the share beyond 2 stddev is the normal's
    p = 1.0 - math.erf(2.0 / math.sqrt(2.0))
    frac = (np.abs(w) > 0.1).mean()
    assert abs(frac - p) <= Z_SE * math.sqrt(p * (1 - p) / w.size)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_random_uniform_defaults(shape, dtype):
    w = I.random_uniform(shape, seed=22, dtype=dtype).astype(np.float64)
    assert w.min() >= -0.05
    assert w.max() < 0.05
    # the range is filled at both ends: P(max < 0.05 - 0.1 (1 - f)) = f^n, likewise the min
    slack = 0.1 * (1.0 - MISS_P ** (1.0 / w.size))
    assert w.max() >= 0.05 - slack
    assert w.min() <= -0.05 + slack
    check_moments(w, 0.0, 0.1 / math.sqrt(12.0), KURT_UNIFORM)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_truncated_normal_defaults(shape, dtype):
    w = I.truncated_normal(shape, seed=23, dtype=dtype).astype(np.float64)
    assert np.abs(w).max() <= 2 * 0.05                    # no sample beyond 2 stddev
    assert (1.0 - trunc_tail_prob(1.9)) ** w.size < MISS_P
    assert np.abs(w).max() > 1.9 * 0.05
    # Keras' stddev is the pre-truncation parameter: the samples' std is 0.8796 * stddev
    check_moments(w, 0.0, 0.05 * math.sqrt(_M2), KURT_TRUNC)


def test_plain_distributions_hyperparameters():
    n = (300, 300)
    w = I.random_normal(n, seed=31, dtype=np.float64, mean=1.5, stddev=2.0)
    check_moments(w, 1.5, 2.0, KURT_NORMAL)
    w = I.random_uniform(n, seed=32, dtype=np.float64, minval=2.0, maxval=5.0)
    assert w.min() >= 2.0 and w.max() < 5.0
    check_moments(w, 3.5, 3.0 / math.sqrt(12.0), KURT_UNIFORM)
    w = I.truncated_normal(n, seed=33, dtype=np.float64, mean=-1.0, stddev=0.5)
    assert np.abs(w + 1.0).max() <= 2 * 0.5
    check_moments(w, -1.0, 0.5 * math.sqrt(_M2), KURT_TRUNC)


# --------------------------------------------------------------------------- orthogonal, identity
@pytest.mark.parametrize("gain", [1.0, 0.5, 2.0])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(64, 64), DENSE, (256, 784), (10, 3)])
def test_orthogonal_dense(shape, dtype, gain):
    w = I.orthogonal(shape, seed=41, dtype=dtype, gain=gain).astype(np.float64)
    assert w.shape == shape
    r, c = shape
    gram = w.T @ w if r >= c else w @ w.T            # the smaller side is orthonormal
    # float32: rounding each entry by a relative 2^-24 moves a Gram entry by at most
    # (2 * 2^-24 + 2^-48) * gain^2 (Cauchy-Schwarz on unit columns); float64: QR's ~n*eps
    tol = (1e-12 if dtype == np.float64 else 3 * 2.0 ** -24) * gain ** 2
    np.testing.assert_allclose(gram, gain ** 2 * np.eye(min(r, c)), rtol=0, atol=tol)


@pytest.mark.parametrize("shape", [CONV, (64, 2, 3, 3)])
def test_orthogonal_conv_filters(shape):
    # Keras' matrix for the same layer has one filter per column: filters are orthonormal when
    # out <= in*kh*kw, otherwise the (in*kh*kw)-dimensional columns across filters are
    w = I.orthogonal(shape, seed=42, dtype=np.float64)
    m = w.reshape(shape[0], -1)                          # row o = filter o, flattened
    if m.shape[0] <= m.shape[1]:
        gram = m @ m.T
    else:
        gram = m.T @ m
    np.testing.assert_allclose(gram, np.eye(min(m.shape)), rtol=0, atol=1e-12)


@pytest.mark.parametrize("shape", [(5,), ()])
def test_orthogonal_rejects_rank_below_2(shape):
    with pytest.raises(ValueError, match="orthogonal"):
        I.orthogonal(shape, seed=0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(5, 5), (3, 7), (7, 3)])
@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_identity(shape, dtype, gain):
    w = I.identity(shape, dtype=dtype, gain=gain)
    assert w.dtype == np.dtype(dtype)
    expected = np.zeros(shape)
    for i in range(min(shape)):
        expected[i, i] = gain
    np.testing.assert_array_equal(w, expected)
    np.testing.assert_array_equal(I.Identity(gain=gain)(shape, dtype=dtype), expected)


@pytest.mark.parametrize("shape", [(4,), (2, 3, 3), CONV])
def test_identity_rejects_non_2d(shape):
    with pytest.raises(ValueError, match="identity"):
        I.identity(shape)


# --------------------------------------------------------------------------- seeds
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize("name", RANDOM_NAMES)
def test_same_int_seed_same_array_different_seeds_differ(name, shape):
    f = I.get(name)
    a = f(shape, seed=7)
    np.testing.assert_array_equal(a, f(shape, seed=7))
    assert not np.array_equal(a, f(shape, seed=8))
    assert not np.array_equal(a, f(shape))           # seed=None: fresh entropy


@pytest.mark.parametrize("name", RANDOM_NAMES)
def test_generator_seed(name):
    f = I.get(name)
    g1, g2 = np.random.default_rng(99), np.random.default_rng(99)
    a1, b1 = f((30, 20), seed=g1), f((30, 20), seed=g1)
    a2, b2 = f((30, 20), seed=g2), f((30, 20), seed=g2)
    np.testing.assert_array_equal(a1, a2)            # the sequence reproduces
    np.testing.assert_array_equal(b1, b2)
    assert not np.array_equal(a1, b1)                # draws advance the generator


@pytest.mark.parametrize("name", RANDOM_NAMES)
def test_seed_gives_same_numbers_in_both_dtypes(name):
    f = I.get(name)
    a32 = f((40, 30), seed=5, dtype=np.float32)
    a64 = f((40, 30), seed=5, dtype=np.float64)
    # float32 rounding of the same float64 draws: within one float32 ulp of each value
    np.testing.assert_allclose(a32, a64, rtol=2.0 ** -23, atol=0)


def test_class_seed_and_call_seed():
    init = I.GlorotUniform(seed=4)
    np.testing.assert_array_equal(init(DENSE), init(DENSE))
    np.testing.assert_array_equal(init(DENSE), I.glorot_uniform(DENSE, seed=4))
    np.testing.assert_array_equal(init(DENSE, seed=6), I.glorot_uniform(DENSE, seed=6))


@pytest.mark.parametrize("seed,exc", [(-1, ValueError), (1.5, TypeError), ("0", TypeError),
                                      (True, TypeError)])
def test_bad_seed(seed, exc):
    with pytest.raises(exc, match="seed"):
        I.glorot_uniform((3, 3), seed=seed)


@pytest.mark.parametrize("shape,exc", [((3, -1), ValueError), ((3, 2.0), TypeError),
                                       ("3x3", TypeError)])
def test_bad_shape(shape, exc):
    with pytest.raises(exc, match="shape"):
        I.glorot_uniform(shape, seed=0)


@pytest.mark.parametrize("dtype", [np.int32, np.bool_, "not-a-dtype"])
def test_bad_dtype(dtype):
    with pytest.raises(TypeError, match="dtype"):
        I.random_normal((3, 3), seed=0, dtype=dtype)


@pytest.mark.parametrize("make", [
    lambda: I.RandomNormal(stddev=-1.0), lambda: I.RandomNormal(mean=float("nan")),
    lambda: I.RandomUniform(minval=1.0, maxval=0.0), lambda: I.TruncatedNormal(stddev=-0.1),
    lambda: I.VarianceScaling(scale=0.0), lambda: I.VarianceScaling(mode="fan_sum"),
    lambda: I.VarianceScaling(distribution="cauchy"), lambda: I.Constant(float("inf")),
])
def test_bad_hyperparameters(make):
    with pytest.raises(ValueError):
        make()


# --------------------------------------------------------------------------- get
@pytest.mark.parametrize("alias,name", [
    ("xavier_uniform", "glorot_uniform"), ("xavier_normal", "glorot_normal"),
    ("normal", "random_normal"), ("uniform", "random_uniform"), ("zero", "zeros"),
    ("one", "ones"),
])
def test_get_aliases(alias, name):
    assert I.get(alias) is I.get(name)
    np.testing.assert_array_equal(I.get(alias)((8, 6), seed=2), I.get(name)((8, 6), seed=2))


@pytest.mark.parametrize("name", KERAS_NAMES)
def test_get_name_gives_module_function(name):
    assert I.get(name) is getattr(I, name)


def test_get_class_names_classes_callables_and_dicts():
    assert isinstance(I.get("GlorotUniform"), I.GlorotUniform)
    assert isinstance(I.get(I.HeNormal), I.HeNormal)
    inst = I.RandomNormal(stddev=0.3)
    assert I.get(inst) is inst

    def custom(shape, seed=None, dtype=None):
        return np.full(shape, 7.0)
    assert I.get(custom) is custom
    got = I.get({"class_name": "RandomUniform", "config": {"minval": 1.0, "maxval": 2.0}})
    assert isinstance(got, I.RandomUniform)
    w = got((50, 50), seed=0)
    assert w.min() >= 1.0 and w.max() < 2.0


@pytest.mark.parametrize("name", ["glorot", "he_normall", "Xavier", ""])
def test_get_unknown_name_raises_naming_it(name):
    with pytest.raises(ValueError, match=re.escape(repr(name))):
        I.get(name)


@pytest.mark.parametrize("bad", [42, 1.0, [3, 3]])
def test_get_non_callable_raises_type_error(bad):
    with pytest.raises(TypeError):
        I.get(bad)


# --------------------------------------------------------------------------- serialize
@pytest.mark.parametrize("name", KERAS_NAMES)
def test_serialize_builtin_function_round_trip(name):
    f = I.get(name)
    s = I.serialize(f)
    assert s == name
    assert I.deserialize(json.loads(json.dumps(s))) is f


@pytest.mark.parametrize("init", [
    I.Zeros(), I.Ones(), I.Constant(3.0), I.RandomNormal(mean=1.0, stddev=0.2, seed=3),
    I.RandomUniform(-1.0, 2.0, seed=4), I.TruncatedNormal(0.5, 0.1, seed=5),
    I.VarianceScaling(2.0, "fan_out", "uniform", seed=6), I.GlorotNormal(seed=7),
    I.GlorotUniform(seed=8), I.HeNormal(seed=9), I.HeUniform(seed=10), I.LecunNormal(seed=11),
    I.LecunUniform(seed=12), I.Orthogonal(gain=1.5, seed=13), I.Identity(gain=0.5),
], ids=lambda i: type(i).__name__)
def test_serialize_instance_round_trip(init):
    s = json.loads(json.dumps(I.serialize(init)))
    assert s["class_name"] == type(init).__name__
    back = I.deserialize(s)
    assert type(back) is type(init)
    assert back.get_config() == init.get_config()
    np.testing.assert_array_equal(back((6, 6)), init((6, 6)))


def test_serialize_rejects_custom_function():
    with pytest.raises(ValueError):
        I.serialize(lambda shape, seed=None, dtype=None: np.zeros(shape))


@pytest.mark.parametrize("bad", [{"class_name": "NoSuchInit", "config": {}}, {"config": {}}, 3])
def test_deserialize_rejects_bad_config(bad):
    with pytest.raises(ValueError):
        I.deserialize(bad)


def test_package_exposes_initializers():
    assert fastnn.initializers is I
