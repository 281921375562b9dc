"""fastnn.gradcheck: it passes on every layer, a Sequential and every loss, and it FAILS on
deliberately broken layers and losses (so a pass means something); the caller's object is left
untouched; bad arguments raise."""
import copy

import numpy as np
import pytest

import fastnn
from fastnn import backend, layers, losses
from fastnn.gradcheck import GradcheckResult, gradcheck, gradcheck_loss

BACKENDS = ["kernels", "reference"]


def _use(name):
    """The compiled kernels (the default) or, inside the block, their NumPy twins."""
    return backend.use("reference") if name == "reference" else _Null()


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _x(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _assert_ok(res, names):
    assert isinstance(res, GradcheckResult)
    assert res.ok and bool(res), res
    assert [c.name for c in res.checks] == names, res
    for c in res.checks:
        assert c.checked == int(np.prod(c.shape)) and c.max_rel_error <= res.rtol, res


# --------------------------------------------------------------------------- every layer passes
def _layer_cases():
    """(id, layer factory, input shape, parameter names after 'x')."""
    cases = []
    for act in (None, "relu", "sigmoid", "tanh", "elu"):
        cases.append(("dense-%s" % act, lambda act=act: layers.Dense(
            5, 4, activation=act, bias_initializer="random_normal", seed=1, name="d"),
            (3, 5), ["d/kernel", "d/bias"]))
    cases += [
        ("dense-batch1-l1l2", lambda: layers.Dense(
            7, 3, activation="tanh", kernel_regularizer=fastnn.regularizers.L1L2(0.01, 0.02),
            bias_regularizer="l2", bias_initializer="random_uniform", seed=2, name="d"),
         (1, 7), ["d/kernel", "d/bias"]),
        ("conv-stride2-pad1-3x2", lambda: layers.Conv2D(
            2, 3, (3, 2), stride=2, padding=1, bias_initializer="random_normal", seed=3,
            name="c"), (2, 2, 7, 6), ["c/kernel", "c/bias"]),
        ("conv-relu-stride(1,2)-pad(0,1)", lambda: layers.Conv2D(
            3, 2, (2, 3), stride=(1, 2), padding=(0, 1), activation="relu", seed=4, name="c"),
         (2, 3, 5, 7), ["c/kernel", "c/bias"]),
        ("conv-sigmoid-1x1", lambda: layers.Conv2D(
            2, 2, 1, activation="sigmoid", seed=5, name="c"), (1, 2, 3, 3),
         ["c/kernel", "c/bias"]),
        ("conv-elu-l2", lambda: layers.Conv2D(
            1, 2, 3, padding=1, activation="elu", kernel_regularizer="l2", seed=6, name="c"),
         (2, 1, 4, 5), ["c/kernel", "c/bias"]),
        ("maxpool-2", lambda: layers.MaxPool2D(2), (2, 3, 6, 5), []),
        ("maxpool-overlapping", lambda: layers.MaxPool2D((2, 3), stride=(1, 2)), (1, 2, 5, 7), []),
        ("flatten", lambda: layers.Flatten(), (2, 3, 2, 2), []),
        ("relu", lambda: layers.ReLU(), (3, 4, 2), []),
        ("sigmoid", lambda: layers.Sigmoid(), (3, 5), []),
        ("tanh", lambda: layers.Tanh(), (2, 3, 4), []),
        ("elu", lambda: layers.ELU(), (4, 5), []),
        ("elu-alpha0.4", lambda: layers.ELU(alpha=0.4), (4, 5), []),
        ("softmax", lambda: layers.Softmax(), (3, 6), []),
        ("softmax-3d", lambda: layers.Softmax(), (2, 3, 4), []),
        ("dropout-eval", lambda: layers.Dropout(0.5, seed=0), (3, 4), []),
    ]
    return cases


LAYER_CASES = _layer_cases()


@pytest.mark.parametrize("impl", BACKENDS)
@pytest.mark.parametrize("case", LAYER_CASES, ids=[c[0] for c in LAYER_CASES])
def test_every_layer_passes(case, impl):
    _, make, shape, names = case
    layer = make()
    with _use(impl):
        res = gradcheck(layer, _x(shape))
    _assert_ok(res, ["x"] + names)


def test_dropout_in_training_mode_with_a_fixed_mask():
    layer = layers.Dropout(0.4, seed=0)
    res = gradcheck(layer, _x((6, 5)), training=True, seed=3)
    _assert_ok(res, ["x"])
    # the mask is really applied: about 40 % of the inputs get a zero gradient, the rest 1/0.6
    dy = np.ones((6, 5))
    copy_ = copy.deepcopy(layer)
    copy_.forward(np.ones((6, 5)), training=True)
    assert 0 < np.count_nonzero(copy_.backward(dy) == 0) < 30


def test_sequential_models_pass():
    mlp = fastnn.Sequential([
        layers.Dense(6, 5, activation="relu", bias_initializer="random_normal", seed=1),
        layers.Dropout(0.3, seed=2),
        layers.Dense(5, 4, activation="elu", kernel_regularizer="l2", seed=3),
        layers.Dense(4, 3, seed=4)])
    for training in (False, True):
        res = gradcheck(mlp, _x((4, 6)), training=training)
        assert res.ok, res
        assert len(res.checks) == 1 + 6
    cnn = fastnn.Sequential([
        layers.Conv2D(1, 3, (3, 2), stride=2, padding=1, activation="relu", seed=5),
        layers.MaxPool2D(2),
        layers.Conv2D(3, 2, 1, activation="tanh", seed=6),
        layers.Flatten(),
        layers.Dense(2 * 2 * 3, 4, activation="sigmoid", seed=7),
        layers.Softmax()])
    res = gradcheck(cnn, _x((2, 1, 9, 11)))
    assert res.ok, res
    assert len(res.checks) == 1 + 6


# --------------------------------------------------------------------------- every loss passes
def _probs(shape, seed):
    """Rows of probabilities within (0.05, 0.6): inside CrossEntropy's clip range."""
    p = np.random.default_rng(seed).uniform(0.5, 1.5, shape)
    return p / p.sum(axis=1, keepdims=True)


def _loss_cases():
    rng = np.random.default_rng(20)
    labels = rng.integers(0, 5, 6)
    one_hot = np.eye(5)[labels]
    soft = _probs((6, 5), 21)
    return [
        ("sce-labels", losses.SoftmaxCrossEntropy(), 3 * _x((6, 5), 1), labels),
        ("sce-labels-uint8", losses.SoftmaxCrossEntropy(), 3 * _x((6, 5), 1),
         labels.astype(np.uint8)),
        ("sce-one-hot", losses.SoftmaxCrossEntropy(), 3 * _x((6, 5), 2), one_hot),
        ("sce-soft", losses.SoftmaxCrossEntropy(), 3 * _x((6, 5), 3), soft),
        ("sce-float32-pred", losses.SoftmaxCrossEntropy(), _x((6, 5), 4).astype(np.float32),
         labels),
        ("ce-labels", losses.CrossEntropy(), _probs((6, 5), 5), labels),
        ("ce-one-hot", losses.CrossEntropy(), _probs((6, 5), 6), one_hot),
        ("ce-soft-unnormalised-pred", losses.CrossEntropy(), 2.0 * _probs((6, 5), 7), soft),
        ("mse", losses.MSE(), _x((4, 3), 8), _x((4, 3), 9)),
        ("mse-(N,1)-vs-(N,)", losses.MSE(), _x((5, 1), 10), _x(5, 11)),
        ("mse-int-target", losses.MSE(), _x((4, 3), 12), rng.integers(-2, 3, (4, 3))),
        ("mae", losses.MAE(), _x((4, 3), 13), _x((4, 3), 14)),
        ("mae-4d", losses.MAE(), _x((2, 2, 3, 2), 15), _x((2, 2, 3, 2), 16)),
    ]


LOSS_CASES = _loss_cases()


@pytest.mark.parametrize("impl", BACKENDS)
@pytest.mark.parametrize("case", LOSS_CASES, ids=[c[0] for c in LOSS_CASES])
def test_every_loss_passes(case, impl):
    _, loss, pred, target = case
    with _use(impl):
        res = gradcheck_loss(loss, pred, target)
    _assert_ok(res, ["pred"])


def test_losses_by_keras_name_pass():
    pred, labels = 2 * _x((5, 4), 30), np.array([0, 3, 1, 1, 2])
    for name in ("sparse_categorical_crossentropy", "categorical_crossentropy"):
        assert gradcheck_loss(losses.get(name), pred, labels).ok
    assert gradcheck_loss(losses.get("mse"), pred, _x((5, 4), 31)).ok
    assert gradcheck_loss(losses.get("mae"), pred, _x((5, 4), 32)).ok


# --------------------------------------------------------------------------- it can fail
class _DenseWrongBias(layers.Dense):
    """The bias gradient is the mean over the batch instead of the sum."""

    def backward(self, dy, need_dx=True):
        dx = super().backward(dy, need_dx)
        self.bias.grad[...] /= dy.shape[0]
        return dx


class _DenseForgetsBias(layers.Dense):
    """Never writes the bias gradient (leaves whatever was there)."""

    def backward(self, dy, need_dx=True):
        keep = self.bias.grad.copy()
        dx = super().backward(dy, need_dx)
        self.bias.grad[...] = keep
        return dx


class _DenseTransposedDx(layers.Dense):
    """dx from the wrong weights (a square kernel transposed): right shape, wrong values."""

    def backward(self, dy, need_dx=True):
        super().backward(dy, need_dx)
        x, y = self._kept()
        return dy @ self.kernel.value            # should be dy @ W.T


class _ReLUPassThrough(layers.ReLU):
    """Forgets the mask: dx = dy everywhere."""

    def _backward(self, dy, x):
        return dy


class _ELUAlphaOne(layers.ELU):
    """Uses alpha = 1 in backward whatever the forward used."""

    def _backward(self, dy, x):
        return fastnn.kernels.elu_backward(dy, x, 1.0)


class _SoftmaxNoCoupling(layers.Softmax):
    """The diagonal of the Jacobian only: dx = dy * y * (1 - y)."""

    def backward(self, dy, need_dx=True):
        y = self._kept()
        return dy * y * (1 - y)


class _DropoutIgnoresMask(layers.Dropout):
    """Backward scales by 1 / (1 - rate) but drops no gradient."""

    def backward(self, dy, need_dx=True):
        mask, x_shape, dtype = self._kept()
        return dy / (1 - self.rate) if mask is not None else dy


class _MSEHalf(losses.MSE):
    """The factor 2 forgotten."""

    def backward(self):
        return super().backward() / 2


class _SCEUnscaled(losses.SoftmaxCrossEntropy):
    """Forgets the 1/N of the mean."""

    def backward(self):
        d = super().backward()
        return d * d.shape[0]


BROKEN = [
    ("dense wrong db", lambda: _DenseWrongBias(4, 3, seed=1, name="d"), (5, 4), "d/bias"),
    ("dense forgets db", lambda: _DenseForgetsBias(4, 3, activation="tanh", seed=1, name="d"),
     (5, 4), "d/bias"),
    ("dense transposed dx", lambda: _DenseTransposedDx(4, 4, seed=1, name="d"), (2, 4), "x"),
    ("relu without mask", lambda: _ReLUPassThrough(), (4, 6), "x"),
    ("elu alpha", lambda: _ELUAlphaOne(alpha=0.5), (4, 6), "x"),
    ("softmax diagonal only", lambda: _SoftmaxNoCoupling(), (3, 4), "x"),
]


@pytest.mark.parametrize("case", BROKEN, ids=[c[0] for c in BROKEN])
def test_fails_on_a_broken_layer(case):
    _, make, shape, bad = case
    res = gradcheck(make(), _x(shape, 40))
    assert not res.ok and not bool(res), res
    assert not res[bad].ok, res
    for c in res.checks:                     # only the broken tensor fails
        assert c.ok == (c.name != bad), res
    assert res[bad].max_rel_error > res.rtol
    text = repr(res)
    assert "ok=False" in text and "NO" in text and bad in text


def test_fails_on_a_broken_layer_inside_a_model():
    model = fastnn.Sequential([layers.Dense(4, 5, activation="relu", seed=1, name="a"),
                               _DenseWrongBias(5, 3, seed=2, name="b")])
    res = gradcheck(model, _x((6, 4), 41))
    assert not res.ok
    assert [c.name for c in res.checks if not c.ok] == ["b/bias"], res


def test_fails_on_dropout_that_ignores_its_mask_in_training():
    layer = _DropoutIgnoresMask(0.5, seed=0)
    assert gradcheck(layer, _x((5, 6)), training=False).ok      # identity: nothing to see
    res = gradcheck(layer, _x((5, 6)), training=True)
    assert not res.ok and not res["x"].ok, res


@pytest.mark.parametrize("loss,target", [(_MSEHalf(), _x((4, 3), 50)),
                                         (_SCEUnscaled(), np.array([0, 2, 1, 1]))],
                         ids=["mse", "sce"])
def test_fails_on_a_broken_loss(loss, target):
    res = gradcheck_loss(loss, _x((4, 3), 51), target)
    assert not res.ok and not res["pred"].ok, res


def test_small_errors_are_caught_by_the_default_tolerance():
    """A gradient 1e-4 off in relative terms (far below what training would notice) fails:
    float64 centred differences are good to ~1e-9 here, so the default rtol=1e-5 has room."""

    class Off(layers.Tanh):
        def _backward(self, dy, y):
            return super()._backward(dy, y) * (1 + 1e-4)
    res = gradcheck(Off(), 3 * _x((4, 5), 52))
    assert not res.ok, res
    assert gradcheck(layers.Tanh(), 3 * _x((4, 5), 52)).max_rel_error < 1e-7


# --------------------------------------------------------------------------- the caller's object
def test_the_callers_layer_is_untouched():
    layer = layers.Dense(4, 3, activation="relu", seed=1)
    x0 = _x((2, 4), 60).astype(np.float32)
    layer.forward(x0)
    layer.backward(np.ones((2, 3), np.float32))
    before = [(p, p.value.copy(), p.grad.copy(), p.value, p.grad) for p in layer.parameters()]
    cache = layer._cache
    x = _x((5, 4), 61)
    x_before = x.copy()
    assert gradcheck(layer, x).ok
    assert layer.dtype == np.float32 and layer._cache is cache
    np.testing.assert_array_equal(x, x_before)
    for p, value, grad, value_obj, grad_obj in before:
        assert p.value is value_obj and p.grad is grad_obj and p.value.dtype == np.float32
        np.testing.assert_array_equal(p.value, value)
        np.testing.assert_array_equal(p.grad, grad)


def test_float32_layer_is_checked_in_float64():
    """A float32 check would be hopeless at eps=1e-6; the copy computes in float64."""
    layer = layers.Dense(6, 4, activation="sigmoid", seed=2)
    res = gradcheck(layer, _x((3, 6), 62).astype(np.float32))
    assert res.ok and res.max_rel_error < 1e-7, res


def test_integer_input_is_accepted():
    x = np.random.default_rng(63).integers(-3, 4, (2, 1, 4, 4)).astype(np.int64)
    x[x == 0] = 1                        # keep relu's input away from its kink
    assert gradcheck(layers.Conv2D(1, 2, 2, seed=3), x).ok


# --------------------------------------------------------------------------- options
def test_given_dy_and_seed():
    layer = layers.Dense(3, 2, activation="tanh", seed=4)
    x = _x((4, 3), 70)
    dy = _x((4, 2), 71)
    assert gradcheck(layer, x, dy).ok
    assert gradcheck(layer, x, dy.astype(np.float32)).ok
    a, b = gradcheck(layer, x, seed=5), gradcheck(layer, x, seed=5)
    assert a.errors == b.errors                                     # same seed, same numbers
    assert gradcheck(layer, x, seed=np.random.default_rng(5)).ok


def test_params_false_checks_only_x():
    res = gradcheck(layers.Dense(3, 2, seed=5), _x((2, 3), 72), params=False)
    assert [c.name for c in res.checks] == ["x"] and res.ok
    # a broken parameter gradient goes unnoticed when only x is checked
    assert gradcheck(_DenseWrongBias(3, 2, seed=5), _x((2, 3), 72), params=False).ok


def test_max_elements_samples_entries():
    layer = layers.Conv2D(2, 3, 3, padding=1, seed=6, name="c")
    res = gradcheck(layer, _x((2, 2, 5, 5), 73), max_elements=7, seed=1)
    assert res.ok
    assert [c.checked for c in res.checks] == [7, 7, 3]           # the bias has only 3 entries
    again = gradcheck(layer, _x((2, 2, 5, 5), 73), max_elements=7, seed=1)
    assert [c.worst_index for c in again.checks] == [c.worst_index for c in res.checks]
    broken = gradcheck(_DenseWrongBias(4, 3, seed=1, name="d"), _x((5, 4), 40), max_elements=2)
    assert not broken["d/bias"].ok


def test_result_api_and_repr():
    res = gradcheck(layers.Dense(3, 2, seed=7, name="dd"), _x((2, 3), 74))
    text = repr(res)
    assert text.startswith("GradcheckResult(ok=True")
    for word in ("x", "dd/kernel", "dd/bias", "max rel err", "(3, 2)"):
        assert word in text
    assert set(res.errors) == {"x", "dd/kernel", "dd/bias"}
    assert res.max_rel_error == max(res.errors.values())
    assert res["dd/kernel"].shape == (3, 2) and "dd/kernel" in repr(res["dd/kernel"])
    with pytest.raises(KeyError, match="nope"):
        res["nope"]


def test_relative_error_floor_for_near_zero_gradients():
    """Dead relu units have an analytic gradient of exactly 0 and a numeric one of ~1e-11:
    that must not count as a 100 % error."""
    layer = layers.Dense(4, 6, activation="relu", seed=8)
    res = gradcheck(layer, _x((5, 4), 75))
    assert res.ok and res.max_rel_error < 1e-6, res


# --------------------------------------------------------------------------- bad arguments
BAD = [
    ("eps 0", lambda: gradcheck(layers.ReLU(), _x((2, 2)), eps=0), ValueError, "eps"),
    ("eps nan", lambda: gradcheck(layers.ReLU(), _x((2, 2)), eps=float("nan")), ValueError, "eps"),
    ("atol negative", lambda: gradcheck(layers.ReLU(), _x((2, 2)), atol=-1), ValueError, "atol"),
    ("rtol inf", lambda: gradcheck(layers.ReLU(), _x((2, 2)), rtol=float("inf")), ValueError,
     "rtol"),
    ("seed negative", lambda: gradcheck(layers.ReLU(), _x((2, 2)), seed=-1), ValueError, "seed"),
    ("seed float", lambda: gradcheck(layers.ReLU(), _x((2, 2)), seed=1.5), TypeError, "seed"),
    ("params str", lambda: gradcheck(layers.ReLU(), _x((2, 2)), params="yes"), TypeError,
     "params"),
    ("training int", lambda: gradcheck(layers.ReLU(), _x((2, 2)), training=2), TypeError,
     "training"),
    ("max_elements 0", lambda: gradcheck(layers.ReLU(), _x((2, 2)), max_elements=0), ValueError,
     "max_elements"),
    ("not a layer", lambda: gradcheck(object(), _x((2, 2))), TypeError, "layer_or_model"),
    ("a loss", lambda: gradcheck(losses.MSE(), _x((2, 2))), TypeError, "gradcheck_loss"),
    ("x object", lambda: gradcheck(layers.ReLU(), np.array([[None]])), TypeError, "x"),
    ("x dict", lambda: gradcheck(layers.ReLU(), {}), TypeError, "x"),
    ("x empty", lambda: gradcheck(layers.ReLU(), np.zeros((0, 3))), ValueError, "x"),
    ("x nan", lambda: gradcheck(layers.ReLU(), np.array([[np.nan, 1.0]])), ValueError, "x"),
    ("dy shape", lambda: gradcheck(layers.ReLU(), _x((2, 2)), _x((2, 3))), ValueError, "dy"),
    ("dy str", lambda: gradcheck(layers.ReLU(), _x((2, 2)), "dy"), TypeError, "dy"),
    ("layer rejects x", lambda: gradcheck(layers.Dense(3, 2), _x((2, 4))), ValueError, "x"),
    ("loss not a loss", lambda: gradcheck_loss(layers.ReLU(), _x((2, 2)), _x((2, 2))), TypeError,
     "loss"),
    ("loss pred str", lambda: gradcheck_loss(losses.MSE(), "p", _x((2, 2))), TypeError, "pred"),
    ("loss eps", lambda: gradcheck_loss(losses.MSE(), _x((2, 2)), _x((2, 2)), eps=-1e-6),
     ValueError, "eps"),
    ("loss target", lambda: gradcheck_loss(losses.SoftmaxCrossEntropy(), _x((2, 3)),
                                           np.array([0, 3])), ValueError, "target"),
]


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_arguments_raise(case):
    _, call, exc, word = case
    with pytest.raises(exc) as info:
        call()
    assert word in str(info.value), str(info.value)


def test_layer_without_float64_support_is_refused():
    class Float32Only(layers.Dense):
        def astype(self, dtype):
            return self                      # ignores the request
    with pytest.raises(TypeError, match="float64"):
        gradcheck(Float32Only(3, 2, seed=1), _x((2, 3)))


def test_exported_from_the_package():
    assert fastnn.gradcheck is gradcheck
