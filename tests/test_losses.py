"""fastnn.losses against float64 NumPy computations written here (log-sum-exp softmax
cross-entropy; Keras' renormalise-then-clip cross-entropy from probabilities; mean squared and
absolute error over all elements), on both kernel backends where a kernel is used: forward for
integer labels and one-hot targets (which agree), batch 1 and odd batch sizes; backward against
the analytic gradient and float64 centred differences of forward; stability for huge logits and
for probabilities of exactly 0 and 1; the errors for bad input; the names losses.get accepts."""
import math
import re

import numpy as np
import pytest

from fastnn import backend
from fastnn import losses

BACKENDS = ["compiled", "reference"]
DTYPES = [np.float32, np.float64]
BATCHES = [1, 3, 7]
K = 5
KERAS_EPS = 1e-7               # keras.backend.epsilon()

# float64: a few ulps of values of order 1-10; float32: the exp-sum over K classes is rounded K
# times at 2^-24 relative, which moves log(sum) (and so the loss) by up to ~K * 2^-24 ~ 3e-7
TOL = {np.float32: dict(rtol=1e-5, atol=2e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}


@pytest.fixture(params=BACKENDS)
def on_backend(request):
    with backend.use(request.param):
        yield request.param


# --------------------------------------------------------------------------- NumPy oracles
def one_hot(labels, k):
    t = np.zeros((len(labels), k))
    t[np.arange(len(labels)), labels] = 1.0
    return t


def log_softmax(z):
    z = np.asarray(z, dtype=np.float64)
    m = z.max(axis=1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))


def np_sce(z, t):
    """-(1/N) sum t log softmax(z), and its gradient (sum_k t[n,k] softmax(z) - t) / N."""
    t = np.asarray(t, dtype=np.float64)
    ls = log_softmax(z)
    n = z.shape[0]
    loss = -(t * ls).sum() / n
    grad = (t.sum(axis=1, keepdims=True) * np.exp(ls) - t) / n
    return loss, grad


def np_ce(o, t, eps=KERAS_EPS):
    """Keras' categorical cross-entropy from probabilities: renormalise rows, clip, -t log."""
    o = np.asarray(o, dtype=np.float64)
    q = o / o.sum(axis=1, keepdims=True)
    c = np.clip(q, eps, 1.0 - eps)
    return -(np.asarray(t, dtype=np.float64) * np.log(c)).sum() / o.shape[0]


def np_ce_grad(o, t, eps=KERAS_EPS):
    """d/do of np_ce, by the chain rule through q = o / s: dq_k/do_j = (delta_kj - q_k) / s;
    the clip passes no gradient where it is active."""
    o = np.asarray(o, dtype=np.float64)
    n, k = o.shape
    s = o.sum(axis=1, keepdims=True)
    q = o / s
    g = np.where((q > eps) & (q < 1 - eps), -t / (n * np.clip(q, eps, 1 - eps)), 0.0)
    out = np.empty_like(o)
    for r in range(n):
        jac = (np.eye(k) - q[r][:, None]) / s[r, 0]      # jac[k, j] = dq_k / do_j
        out[r] = g[r] @ jac
    return out


def centred_diff(f, x, h=1e-6):
    x = np.array(x, dtype=np.float64)
    g = np.empty_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        g[i] = (f(xp) - f(xm)) / (2 * h)
    return g


# central differences in float64: truncation h^2 * f''' ~ 1e-12, rounding eps * |f| / h ~ 1e-10
FD_TOL = dict(rtol=1e-6, atol=1e-8)


def logits(n, k=K, seed=0, scale=3.0):
    return scale * np.random.default_rng(seed).standard_normal((n, k))


def labels_for(n, k=K, seed=0):
    return np.random.default_rng(seed + 100).integers(0, k, n)


def probs(n, k=K, seed=0, lo=0.5, hi=1.5):
    p = np.random.default_rng(seed + 200).uniform(lo, hi, (n, k))
    return p / p.sum(axis=1, keepdims=True)


# --------------------------------------------------------------------------- SoftmaxCrossEntropy
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", BATCHES)
def test_sce_forward_backward_labels_and_one_hot(on_backend, n, dtype):
    z = logits(n, seed=n).astype(dtype)
    y = labels_for(n, seed=n)
    want_loss, want_grad = np_sce(z, one_hot(y, K))

    loss = losses.SoftmaxCrossEntropy()
    got = loss.forward(z, y)
    assert isinstance(got, float)
    assert got == pytest.approx(want_loss, rel=TOL[dtype]["rtol"], abs=TOL[dtype]["atol"])
    g = loss.backward()
    assert g.shape == z.shape and g.dtype == np.dtype(dtype)
    np.testing.assert_allclose(g, want_grad, **TOL[dtype])

    loss_oh = losses.SoftmaxCrossEntropy()
    got_oh = loss_oh.forward(z, one_hot(y, K).astype(dtype))
    assert got_oh == pytest.approx(got, rel=TOL[dtype]["rtol"], abs=TOL[dtype]["atol"])
    np.testing.assert_allclose(loss_oh.backward(), g, **TOL[dtype])


@pytest.mark.parametrize("label_dtype", [np.int8, np.int32, np.int64, np.uint8, np.uint64])
def test_sce_any_integer_label_dtype(on_backend, label_dtype):
    z, y = logits(7, seed=1), labels_for(7, seed=1)
    loss = losses.SoftmaxCrossEntropy()
    want = np_sce(z, one_hot(y, K))
    assert loss.forward(z, y.astype(label_dtype)) == pytest.approx(want[0], rel=1e-12)
    np.testing.assert_allclose(loss.backward(), want[1], rtol=1e-12, atol=1e-14)


def test_sce_matches_definition_on_a_hand_case(on_backend):
    # z = [0, log 3]: p = [1/4, 3/4]; label 1 -> -log(3/4); label 0 -> -log(1/4)
    z = np.array([[0.0, math.log(3.0)], [0.0, math.log(3.0)]])
    loss = losses.SoftmaxCrossEntropy()
    assert loss.forward(z, np.array([1, 0])) == pytest.approx(
        (-math.log(0.75) - math.log(0.25)) / 2, rel=1e-14)
    np.testing.assert_allclose(loss.backward(), [[0.125, -0.125], [-0.375, 0.375]],
                               rtol=1e-14, atol=1e-16)


@pytest.mark.parametrize("n", BATCHES)
def test_sce_soft_targets(on_backend, n):
    z = logits(n, seed=10 + n)
    t = probs(n, seed=n)
    loss = losses.SoftmaxCrossEntropy()
    want_loss, want_grad = np_sce(z, t)
    assert loss.forward(z, t) == pytest.approx(want_loss, rel=1e-12)
    np.testing.assert_allclose(loss.backward(), want_grad, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("target", ["labels", "one_hot", "soft", "unnormalised"])
@pytest.mark.parametrize("n", BATCHES)
def test_sce_backward_matches_centred_differences(on_backend, n, target):
    z = logits(n, seed=20 + n)
    y = labels_for(n, seed=20 + n)
    t = {"labels": y, "one_hot": one_hot(y, K), "soft": probs(n, seed=n),
         "unnormalised": 2.5 * probs(n, seed=n)}[target]
    loss = losses.SoftmaxCrossEntropy()
    loss.forward(z, t)
    g = loss.backward()
    fd = centred_diff(lambda zz: losses.SoftmaxCrossEntropy().forward(zz, t), z)
    np.testing.assert_allclose(g, fd, **FD_TOL)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sce_stable_for_huge_logits(on_backend, dtype):
    z = np.array([[1e4, -1e4, 0.0],
                  [-1e4, 1e4, 1e4],
                  [1e4, -1e4, -1e4],
                  [-1e4, -1e4, -1e4]], dtype=dtype)
    y = np.array([1, 0, 0, 2])
    want_loss, want_grad = np_sce(z, one_hot(y, 3))
    # row 0: 2e4; row 1: 2e4 + log 2; row 2: 0; row 3: log 3
    assert want_loss == pytest.approx((4e4 + math.log(2) + math.log(3)) / 4, rel=1e-15)
    for target in (y, one_hot(y, 3).astype(dtype)):
        loss = losses.SoftmaxCrossEntropy()
        got = loss.forward(z, target)
        g = loss.backward()
        assert math.isfinite(got)
        assert np.isfinite(g).all()
        assert got == pytest.approx(want_loss, rel=TOL[dtype]["rtol"], abs=TOL[dtype]["atol"])
        np.testing.assert_allclose(g, want_grad, **TOL[dtype])


# --------------------------------------------------------------------------- CrossEntropy
def test_ce_default_epsilon_is_keras():
    assert losses.CrossEntropy().epsilon == KERAS_EPS


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", BATCHES)
def test_ce_forward_backward_labels_and_one_hot(n, dtype):
    o = (2.0 * probs(n, seed=30 + n)).astype(dtype)        # rows sum to 2: renormalised
    y = labels_for(n, seed=30 + n)
    t = one_hot(y, K)
    want_loss = np_ce(o, t)
    want_grad = np_ce_grad(o, t)
    for target in (y, t.astype(dtype)):
        loss = losses.CrossEntropy()
        got = loss.forward(o, target)
        assert isinstance(got, float)
        assert got == pytest.approx(want_loss, rel=TOL[dtype]["rtol"], abs=TOL[dtype]["atol"])
        g = loss.backward()
        assert g.shape == o.shape and g.dtype == np.dtype(dtype)
        np.testing.assert_allclose(g, want_grad, **TOL[dtype])


def test_ce_soft_targets_and_custom_epsilon():
    o, t = probs(4, seed=40, lo=0.01, hi=1.0), probs(4, seed=41)
    for eps in (KERAS_EPS, 0.05):
        loss = losses.CrossEntropy(epsilon=eps)
        assert loss.forward(o, t) == pytest.approx(np_ce(o, t, eps), rel=1e-12)
        np.testing.assert_allclose(loss.backward(), np_ce_grad(o, t, eps), rtol=1e-12,
                                   atol=1e-14)


@pytest.mark.parametrize("target", ["labels", "soft"])
@pytest.mark.parametrize("n", BATCHES)
def test_ce_backward_matches_centred_differences(n, target):
    o = 3.0 * probs(n, seed=50 + n)                      # q within (0.05, 0.6): clip inactive
    t = labels_for(n, seed=50 + n) if target == "labels" else probs(n, seed=60 + n)
    loss = losses.CrossEntropy()
    loss.forward(o, t)
    fd = centred_diff(lambda oo: losses.CrossEntropy().forward(oo, t), o)
    np.testing.assert_allclose(loss.backward(), fd, **FD_TOL)


@pytest.mark.parametrize("dtype", DTYPES)
def test_ce_exact_zero_and_one_probabilities_are_clipped(dtype):
    o = np.array([[0.0, 1.0, 0.0],        # the true class has probability 0
                  [1.0, 0.0, 0.0],        # the true class has probability 1
                  [0.0, 0.0, 1.0]], dtype=dtype)
    y = np.array([0, 0, 2])
    want = (-math.log(KERAS_EPS) - 2 * math.log(1.0 - KERAS_EPS)) / 3
    assert np_ce(o, one_hot(y, 3)) == pytest.approx(want, rel=1e-15)
    for target in (y, one_hot(y, 3).astype(dtype)):
        loss = losses.CrossEntropy()
        got = loss.forward(o, target)
        assert math.isfinite(got)
        assert got == pytest.approx(want, rel=1e-12)
        g = loss.backward()
        assert np.isfinite(g).all()
        np.testing.assert_array_equal(g, np_ce_grad(o, one_hot(y, 3)))   # clipped: no gradient


# --------------------------------------------------------------------------- MSE, MAE
ELEMENTWISE = [
    (losses.MSE, lambda d: np.mean(d * d), lambda d: 2.0 * d / d.size),
    (losses.MAE, lambda d: np.mean(np.abs(d)), lambda d: np.sign(d) / d.size),
]
EW_IDS = ["mse", "mae"]
EW_SHAPES = [(1,), (1, 1), (3, 1), (7,), (7, 3), (3, 2, 5), (1, 4, 3, 3)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", EW_SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("cls,f,df", ELEMENTWISE, ids=EW_IDS)
def test_elementwise_forward_backward(cls, f, df, shape, dtype):
    rng = np.random.default_rng(sum(shape))
    pred = rng.standard_normal(shape).astype(dtype)
    target = rng.standard_normal(shape).astype(dtype)
    d = pred.astype(np.float64) - target.astype(np.float64)
    loss = cls()
    got = loss.forward(pred, target)
    assert isinstance(got, float)
    assert got == pytest.approx(f(d), rel=TOL[dtype]["rtol"], abs=TOL[dtype]["atol"])
    g = loss.backward()
    assert g.shape == pred.shape and g.dtype == np.dtype(dtype)
    np.testing.assert_allclose(g, df(d), **TOL[dtype])


@pytest.mark.parametrize("shape", [(1,), (3, 1), (7, 3), (3, 2, 5)],
                         ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("cls", [losses.MSE, losses.MAE], ids=EW_IDS)
def test_elementwise_backward_matches_centred_differences(cls, shape):
    rng = np.random.default_rng(70 + len(shape))
    pred = rng.standard_normal(shape)
    target = pred + rng.choice([-1.0, 1.0], shape) * rng.uniform(0.1, 1.0, shape)  # no ties
    loss = cls()
    loss.forward(pred, target)
    fd = centred_diff(lambda p: cls().forward(p, target), pred)
    np.testing.assert_allclose(loss.backward(), fd, **FD_TOL)


def test_mae_gradient_is_zero_at_ties():
    pred = np.array([[1.0, 2.0, 3.0]])
    loss = losses.MAE()
    assert loss.forward(pred, np.array([[1.0, 0.0, 5.0]])) == pytest.approx(4.0 / 3.0)
    np.testing.assert_array_equal(loss.backward(), [[0.0, 1.0 / 3.0, -1.0 / 3.0]])


@pytest.mark.parametrize("cls", [losses.MSE, losses.MAE], ids=EW_IDS)
def test_elementwise_column_pred_with_flat_target(cls):
    rng = np.random.default_rng(80)
    pred, target = rng.standard_normal((7, 1)), rng.standard_normal(7)
    a, b = cls(), cls()
    assert a.forward(pred, target) == b.forward(pred, target[:, None])
    np.testing.assert_array_equal(a.backward(), b.backward())
    assert a.backward().shape == (7, 1)


@pytest.mark.parametrize("cls,f,df", ELEMENTWISE, ids=EW_IDS)
def test_elementwise_integer_target(cls, f, df):
    pred = np.array([[0.5, -1.0], [2.0, 3.0], [0.0, 1.5]])
    target = np.array([[1, -1], [0, 4], [2, 1]])
    d = pred - target
    loss = cls()
    assert loss.forward(pred, target) == pytest.approx(f(d), rel=1e-15)
    np.testing.assert_allclose(loss.backward(), df(d), rtol=1e-15)


# --------------------------------------------------------------------------- shared behaviour
ALL = [losses.SoftmaxCrossEntropy, losses.CrossEntropy, losses.MSE, losses.MAE]
ALL_IDS = ["sce", "ce", "mse", "mae"]


def _valid_input(cls):
    if cls is losses.SoftmaxCrossEntropy:
        return logits(4, seed=90), labels_for(4, seed=90)
    if cls is losses.CrossEntropy:
        return probs(4, seed=90), labels_for(4, seed=90)
    return logits(4, seed=90), logits(4, seed=91)


@pytest.mark.parametrize("cls", ALL, ids=ALL_IDS)
def test_backward_before_forward_raises(cls):
    with pytest.raises(RuntimeError, match="before forward"):
        cls().backward()


@pytest.mark.parametrize("cls", ALL, ids=ALL_IDS)
def test_call_is_forward_and_backward_follows_last_forward(cls):
    pred, target = _valid_input(cls)
    a = cls()
    assert a(pred, target) == cls().forward(pred, target)
    a.forward(2 * pred, target)
    b = cls()
    b.forward(2 * pred, target)
    a.forward(pred, target)
    c = cls()
    c.forward(pred, target)
    np.testing.assert_array_equal(a.backward(), c.backward())
    assert not np.array_equal(a.backward(), b.backward())


@pytest.mark.parametrize("cls", ALL, ids=ALL_IDS)
def test_nan_pred_gives_nan_loss_not_an_error(cls):
    # documented: non-finite predictions are not rejected (fit detects a diverging loss)
    pred, target = _valid_input(cls)
    pred = pred.copy()
    pred[1, 2] = np.nan
    assert math.isnan(cls().forward(pred, target))


# --------------------------------------------------------------------------- bad input
def _bad_class_cases():
    z, y = logits(4, seed=1), labels_for(4, seed=1)
    p = probs(4, seed=1)
    nan_t = one_hot(y, K)
    nan_t[0, 0] = np.nan
    common = [
        ("label-equal-K", lambda x: (x, np.array([0, 1, K, 2])), ValueError),
        ("label-large", lambda x: (x, np.array([0, 1, 10 ** 9, 2])), ValueError),
        ("label-negative", lambda x: (x, np.array([0, -1, 2, 2])), ValueError),
        ("labels-too-long", lambda x: (x, np.append(y, 0)), ValueError),
        ("labels-too-short", lambda x: (x, y[:3]), ValueError),
        ("labels-3d-int", lambda x: (x, y[:, None, None]), ValueError),
        ("one-hot-too-wide", lambda x: (x, one_hot(y, K + 1)), ValueError),
        ("one-hot-too-few-rows", lambda x: (x, one_hot(y, K)[:3]), ValueError),
        ("one-hot-transposed", lambda x: (x, one_hot(y, K).T), ValueError),
        ("pred-1d", lambda x: (x[0], y[:1]), ValueError),
        ("pred-3d", lambda x: (x[None], y), ValueError),
        ("empty-batch", lambda x: (x[:0], y[:0]), ValueError),
        ("zero-classes", lambda x: (x[:, :0], np.zeros((4, 0))), ValueError),
        ("nan-target", lambda x: (x, nan_t), ValueError),
        ("int-pred", lambda x: (np.ones((4, K), dtype=np.int64), y), TypeError),
        ("str-target", lambda x: (x, np.array(["a", "b", "c", "d"])), TypeError),
        ("bool-target", lambda x: (x, np.ones((4, K), dtype=bool)), TypeError),
        ("target-not-array", lambda x: (x, {"labels": y}), TypeError),
        ("target-none", lambda x: (x, None), TypeError),
    ]
    cases = []
    for name, make, exc in common:
        cases.append(("sce-" + name, losses.SoftmaxCrossEntropy, make(z), exc))
        cases.append(("ce-" + name, losses.CrossEntropy, make(p), exc))
    neg = p.copy()
    neg[2, 1] = -0.1
    zero_row = p.copy()
    zero_row[3] = 0.0
    cases += [
        ("ce-negative-prob", losses.CrossEntropy, (neg, y), ValueError),
        ("ce-logits-given", losses.CrossEntropy, (z, y), ValueError),
        ("ce-all-zero-row", losses.CrossEntropy, (zero_row, y), ValueError),
    ]
    return cases


BAD_CLASS = _bad_class_cases()


@pytest.mark.parametrize("cls,args,exc", [c[1:] for c in BAD_CLASS], ids=[c[0] for c in BAD_CLASS])
def test_classification_bad_input(on_backend, cls, args, exc):
    with pytest.raises(exc):
        cls().forward(*args)


def _bad_elementwise_cases():
    x = logits(4, k=3, seed=2)
    return [
        ("shape-mismatch", (x, x[:, :2]), ValueError),
        ("fewer-rows", (x, x[:3]), ValueError),
        ("transposed", (x, x.T), ValueError),
        ("no-broadcasting", (x, x[0]), ValueError),
        ("empty-batch", (x[:0], x[:0]), ValueError),
        ("int-pred", (np.ones((4, 3), dtype=np.int32), x), TypeError),
        ("str-target", (x, np.full((4, 3), "a")), TypeError),
        ("bool-target", (x, np.ones((4, 3), dtype=bool)), TypeError),
        ("complex-target", (x, x.astype(np.complex128)), TypeError),
        ("target-not-array", (x, {"t": x}), TypeError),
    ]


BAD_EW = _bad_elementwise_cases()


@pytest.mark.parametrize("cls", [losses.MSE, losses.MAE], ids=EW_IDS)
@pytest.mark.parametrize("args,exc", [c[1:] for c in BAD_EW], ids=[c[0] for c in BAD_EW])
def test_elementwise_bad_input(cls, args, exc):
    with pytest.raises(exc):
        cls().forward(*args)


@pytest.mark.parametrize("eps,exc", [(0.0, ValueError), (-1e-7, ValueError), (0.5, ValueError),
                                     (float("nan"), ValueError), (float("inf"), ValueError),
                                     ("1e-7", TypeError), (None, TypeError)])
def test_ce_bad_epsilon(eps, exc):
    with pytest.raises(exc, match="epsilon"):
        losses.CrossEntropy(epsilon=eps)


def test_error_messages_name_the_argument():
    z, y = logits(3, seed=3), labels_for(3, seed=3)
    with pytest.raises(ValueError, match=r"target.*\[0, 5\).*7"):
        losses.SoftmaxCrossEntropy().forward(z, np.array([0, 7, 1]))
    with pytest.raises(ValueError, match="pred.*2-dimensional"):
        losses.SoftmaxCrossEntropy().forward(z[0], y[:1])
    with pytest.raises(ValueError, match=r"target.*\(3, 5\)"):
        losses.MSE().forward(z, z[:, :4])


@pytest.mark.parametrize("cls", [losses.SoftmaxCrossEntropy, losses.CrossEntropy])
def test_class_targets_are_checked_once_naming_target(on_backend, cls):
    """Both class losses use fastnn._validate.check_class_targets: negative or non-finite soft
    targets are refused, and float class ids of shape (N,) are told to use an integer dtype."""
    z, y = logits(4, seed=5), labels_for(4, seed=5)
    pred = z if cls is losses.SoftmaxCrossEntropy else probs(4, seed=5)
    soft = probs(4, seed=6)
    neg = soft.copy()
    neg[1, 3] = -0.2
    with pytest.raises(ValueError, match=r"target must be non-negative.*-0\.2"):
        cls().forward(pred, neg)
    for bad in (np.inf, -np.inf, np.nan):
        t = soft.copy()
        t[2, 0] = bad
        with pytest.raises(ValueError, match="target must be finite"):
            cls().forward(pred, t)
    with pytest.raises(ValueError, match="target.*integer dtype"):
        cls().forward(pred, y.astype(np.float64))
    with pytest.raises(ValueError, match=r"target must have shape \(4, 5\), got \(4, 6\)"):
        cls().forward(pred, np.zeros((4, 6)))
    # float targets of another float dtype are cast to pred's dtype (the loss is float64 inside)
    a = cls().forward(pred, soft)
    b = cls().forward(pred, soft.astype(np.float32))
    assert math.isfinite(a) and a == pytest.approx(b, rel=1e-6)


# --------------------------------------------------------------------------- names
@pytest.mark.parametrize("name,cls", [
    ("sparse_categorical_crossentropy", losses.SoftmaxCrossEntropy),
    ("categorical_crossentropy", losses.SoftmaxCrossEntropy),
    ("softmax_cross_entropy", losses.SoftmaxCrossEntropy),
    ("cross_entropy", losses.CrossEntropy),
    ("mse", losses.MSE), ("mean_squared_error", losses.MSE),
    ("mae", losses.MAE), ("mean_absolute_error", losses.MAE),
])
def test_get_names(name, cls):
    a = losses.get(name)
    assert type(a) is cls
    assert losses.get(name) is not a                  # a fresh instance: no shared state


def test_keras_names_work_with_labels_and_one_hot():
    z, y = logits(5, seed=4), labels_for(5, seed=4)
    want = np_sce(z, one_hot(y, K))[0]
    for name in ("sparse_categorical_crossentropy", "categorical_crossentropy"):
        assert losses.get(name).forward(z, y) == pytest.approx(want, rel=1e-12)
        assert losses.get(name).forward(z, one_hot(y, K)) == pytest.approx(want, rel=1e-12)


def test_get_instances_classes_and_duck_types():
    inst = losses.MAE()
    assert losses.get(inst) is inst
    assert type(losses.get(losses.CrossEntropy)) is losses.CrossEntropy

    class Duck:
        def forward(self, pred, target):
            return 0.0

        def backward(self):
            return None
    d = Duck()
    assert losses.get(d) is d


@pytest.mark.parametrize("name", ["crossentropy", "MSE", "mean_squared", "binary_crossentropy",
                                  ""])
def test_get_unknown_name_raises_naming_it(name):
    with pytest.raises(ValueError, match=re.escape(repr(name))):
        losses.get(name)


@pytest.mark.parametrize("bad", [42, 1.5, object()])
def test_get_rejects_non_losses(bad):
    with pytest.raises(TypeError):
        losses.get(bad)


@pytest.mark.parametrize("backend_name", ["compiled", "reference"])
def test_minus_inf_logit_gives_the_same_loss_for_labels_and_one_hot(backend_name):
    # A masked (-inf) logit whose target is 0 must not turn into 0 * -inf = NaN on the
    # one-hot path: integer labels and their one-hot rows describe the same targets.
    from fastnn import backend
    z = np.array([[0.0, -np.inf, 1.0], [2.0, 0.0, -1.0]])
    y = np.array([0, 1])
    with backend.use(backend_name):
        a = losses.SoftmaxCrossEntropy().forward(z, y)
        b = losses.SoftmaxCrossEntropy().forward(z, np.eye(3)[y])
    assert np.isfinite(a) and np.isfinite(b)
    np.testing.assert_allclose(b, a, rtol=1e-12)
    expected = np.mean([np.log(1 + np.e) - 0.0, np.log(np.exp(2) + 1 + np.exp(-1)) - 0.0])
    np.testing.assert_allclose(a, expected, rtol=1e-12)
