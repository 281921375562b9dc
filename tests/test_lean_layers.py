"""The lean training step in the layers (fastnn/layers/base.py, fastnn/layers/reuse.py): checks
run once per input signature, yet a changed input is refused exactly as by a layer that never
saw one; arrays are reused inside fit's training step only, with the same bits as without, so
what forward/backward return outside it is never overwritten, and what callbacks keep during
fit stays right."""
import copy

import numpy as np
import pytest

from fastnn import callbacks, layers as L, losses, training
from fastnn.models import Sequential
from fastnn.tensor_stats import describe

RNG = np.random.default_rng(3)


def outcome(f, *args, **kwargs):
    try:
        return "ok", f(*args, **kwargs)
    except (ValueError, TypeError) as e:
        return type(e), str(e)


# layer factory, a good input, inputs that must be refused (or converted) as a cold layer does
def _img(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


LAYERS = {
    "dense": (lambda: L.Dense(6, 4, activation="relu", seed=1, name="probe"), _img(5, 6),
              [_img(5, 7), _img(5, 2, 3), _img(0, 6), _img(6), _img(5, 6).astype(np.float64),
               _img(5, 6).astype(np.int64), [[1.0] * 6] * 2, "x"]),
    "conv": (lambda: L.Conv2D(2, 3, 3, seed=1, name="probe"), _img(2, 2, 6, 6),
             [_img(2, 3, 6, 6), _img(2, 2, 2, 6), _img(2, 2, 6), _img(2, 2, 6, 6).astype(
                 np.float64)]),
    "pool": (lambda: L.MaxPool2D(2, name="probe"), _img(2, 3, 6, 6),
             [_img(2, 3, 1, 6), _img(3, 6, 6), _img(2, 3, 6, 6).astype(np.float64),
              _img(2, 3, 6, 6).astype(np.int32)]),
    "dropout": (lambda: L.Dropout(0.4, seed=2, name="probe"), _img(5, 6),
                [_img(0, 6), np.float32(1.0), _img(5, 6).astype(np.int16), _img(5, 7),
                 "x"]),
    "relu": (lambda: L.ReLU(name="probe"), _img(5, 6),
             [_img(0, 6), _img(4, 6).astype(np.int32), _img(5, 6, 2), "x"]),
    "sigmoid": (lambda: L.Sigmoid(name="probe"), _img(5, 6),
                [_img(0, 6), _img(5, 6).astype(np.float64)]),
    "tanh": (lambda: L.Tanh(name="probe"), _img(5, 6),
             [_img(0, 6), _img(5, 6).astype(np.uint8)]),
    "elu": (lambda: L.ELU(0.5, name="probe"), _img(5, 6),
            [_img(0, 6), _img(3, 6).astype(np.float64)]),
}


@pytest.mark.parametrize("kind", sorted(LAYERS))
@pytest.mark.parametrize("training_mode", [False, True])
def test_a_changed_input_is_refused_or_converted_as_by_a_cold_layer(kind, training_mode):
    make, good, others = LAYERS[kind]
    warm = make()
    warm.forward(good, training=training_mode)
    warm.forward(good, training=training_mode)          # the signature is now known
    for x in others:
        cold = make()
        want = outcome(cold.forward, x, training=training_mode)
        got = outcome(warm.forward, x, training=training_mode)
        assert got[0] == want[0], (kind, got, want)
        if got[0] == "ok":
            assert got[1].dtype == want[1].dtype
            if kind != "dropout":                        # dropout's counter has moved on
                np.testing.assert_array_equal(got[1], want[1])
        else:
            assert got[1] == want[1]
        # and the known signature still works after the refusal
        assert outcome(warm.forward, good, training=training_mode)[0] == "ok"


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_backward_refuses_a_wrong_dy_as_before(kind):
    make, good, _ = LAYERS[kind]
    layer = make()
    y = layer.forward(good, training=True)
    for dy in (np.ones(y.shape[:-1] + (y.shape[-1] + 1,), y.dtype), y.astype(np.int8)[:1],
               "dy"):
        cold = make()
        cold.forward(good, training=True)
        want = outcome(cold.backward, dy)
        got = outcome(layer.backward, dy)
        assert got[:1] == want[:1] and (got[0] == "ok" or got[1] == want[1])
    cold = make()
    cold.forward(good, training=True)
    want = outcome(cold.backward, np.ones_like(y), need_dx=1)
    assert want[0] is TypeError
    layer.forward(good, training=True)
    assert outcome(layer.backward, np.ones_like(y), need_dx=1) == want


def test_the_loss_refuses_bad_labels_in_its_own_words_after_warming_up():
    loss = losses.SoftmaxCrossEntropy()
    z = _img(4, 3)
    loss.forward(z, np.array([0, 1, 2, 1]))
    loss.forward(z, np.array([2, 1, 0, 0]))             # the cached path
    for bad in (np.array([0, 1, 3, 1]), np.array([0, -1, 0, 0]), np.array([0, 1, 2]),
                np.array([0., 1., 2., 1.]), z[:, :2]):
        want = outcome(losses.SoftmaxCrossEntropy().forward, z, bad)
        assert want[0] != "ok"
        assert outcome(loss.forward, z, bad) == want
    labels = np.array([2, 0, 1, 1])
    fresh = losses.SoftmaxCrossEntropy()
    assert loss.forward(z, labels) == fresh.forward(z, labels)
    np.testing.assert_array_equal(loss.backward(), fresh.backward())


# --------------------------------------------------------------------------- outputs kept
def mlp(seed=0, regularizer=None):
    # fixed names: two runs' records are compared key for key
    return Sequential([L.Dense(12, 16, activation="relu", seed=seed,
                               kernel_regularizer=regularizer, name="d0"),
                       L.Dropout(0.25, seed=seed, name="p0"),
                       L.Dense(16, 8, seed=seed + 1, name="d1"), L.Tanh(name="t"),
                       L.Dropout(0.1, seed=seed + 2, name="p1"),
                       L.Dense(8, 5, activation="elu", seed=seed + 3, name="d2"),
                       L.Sigmoid(name="s"), L.Dense(5, 3, seed=seed + 4, name="d3")])


def cnn(seed=0):
    return Sequential([L.Conv2D(1, 3, 3, padding=1, activation="relu", seed=seed, name="c0"),
                       L.MaxPool2D(2, name="m"), L.Flatten(name="f"),
                       L.Dropout(0.2, seed=seed, name="p"),
                       L.Dense(3 * 3 * 3, 4, seed=seed + 1, name="d0"), L.ReLU(name="r"),
                       L.Dense(4, 3, seed=seed + 2, name="d1")])


def data(kind, n=70):
    shape = (n, 12) if kind == "mlp" else (n, 1, 6, 6)
    return RNG.standard_normal(shape).astype(np.float32), RNG.integers(0, 3, n)


def test_outputs_outside_fit_are_never_overwritten():
    model = mlp()
    x, y = data("mlp")
    model.fit(x, y, epochs=1, batch_size=16, seed=0, verbose=0)
    kept = [model.forward(x[:16], training=True), model.forward(x[16:32], training=False),
            model.predict(x[:16])]
    copies = [k.copy() for k in kept]
    layer = model.layers[1]
    d1 = layer.forward(np.ones((16, 16), np.float32), training=True)
    d1_copy = d1.copy()
    dx = layer.backward(np.ones((16, 16), np.float32))
    dx_copy = dx.copy()
    model.fit(x, y, epochs=2, initial_epoch=1, batch_size=16, seed=0, verbose=0)
    model.forward(x[:16], training=True)
    model.forward(x[16:32], training=False)
    layer.forward(np.ones((16, 16), np.float32), training=True)
    layer.backward(np.full((16, 16), 2.0, np.float32))
    for k, c in zip(kept + [d1, dx], copies + [d1_copy, dx_copy]):
        np.testing.assert_array_equal(k, c)
    assert all(not k.flags.owndata or k.base is None for k in kept[:2])


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
@pytest.mark.parametrize("n", [64, 70, 5])        # whole batches, a last partial one, one batch
def test_fit_with_reuse_gives_the_bits_of_fit_without(monkeypatch, kind, n):
    x, y = data(kind, n)
    results = []
    for reuse in (True, False):
        monkeypatch.setattr(training, "_REUSE_BUFFERS", reuse)
        model = mlp() if kind == "mlp" else cnn()
        grads = [p.grad for p in model.parameters()]
        hist = model.fit(x, y, epochs=3, batch_size=16, seed=4, verbose=0,
                         validation_data=(x[:9], y[:9]))
        assert all(p.grad is g for p, g in zip(model.parameters(), grads))
        results.append((model.get_weights(), [p.grad.copy() for p in model.parameters()],
                        hist.history, model.predict(x)))
    (w1, g1, h1, p1), (w2, g2, h2, p2) = results
    for a, b in zip(w1 + g1, w2 + g2):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(p1, p2)
    assert {k: v for k, v in h1.items() if k != "time"} == \
        {k: v for k, v in h2.items() if k != "time"}


def test_fit_reuses_arrays_per_batch_shape_and_only_inside_the_step():
    model = mlp()
    x, y = data("mlp", 70)
    model.fit(x, y, epochs=1, batch_size=16, seed=0, verbose=0)
    dense = model.layers[0]
    shapes = {key[1] for key in dense._buffers}
    assert shapes == {(16, 16), (6, 16)}             # full batches and the last, partial one
    kept = dict(dense._buffers)
    model.fit(x, y, epochs=2, initial_epoch=1, batch_size=16, seed=0, verbose=0)
    assert all(dense._buffers[k] is v for k, v in kept.items())
    assert not any(layer._reuse for layer in model.layers)
    y1 = dense.forward(x[:16])
    assert all(y1 is not v for v in dense._buffers.values())


def test_regularized_grads_are_written_in_place_with_the_same_bits(monkeypatch):
    from fastnn import regularizers
    x, y = data("mlp")
    weights = []
    for reuse in (True, False):
        monkeypatch.setattr(training, "_REUSE_BUFFERS", reuse)
        model = mlp(regularizer=regularizers.L2(0.01))
        model.fit(x, y, epochs=2, batch_size=16, seed=1, verbose=0)
        weights.append(model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)


def test_a_layer_whose_grad_cannot_take_the_gemm_output_still_gets_it():
    layer = L.Dense(4, 3, seed=0)
    layer.kernel.grad = np.zeros((3, 4), np.float32).T       # not C-contiguous
    x = _img(5, 4)
    layer.forward(x)
    layer.backward(np.ones((5, 3), np.float32))
    np.testing.assert_allclose(layer.kernel.grad, x.T @ np.ones((5, 3), np.float32), rtol=1e-6)


# --------------------------------------------------------------------------- callbacks
def test_callbacks_keeping_activations_during_fit_see_right_values(monkeypatch):
    x, y = data("mlp")
    sample = x[:10]
    kept = []

    def keep(epoch, logs):
        kept.append((model.forward(sample, training=False), model.get_weights()))

    stats_by_mode = []
    for reuse in (True, False):
        monkeypatch.setattr(training, "_REUSE_BUFFERS", reuse)
        kept.clear()
        model = mlp(seed=5)
        stats = callbacks.LayerStatistics(x_sample=sample)
        model.fit(x, y, epochs=3, batch_size=16, seed=2, verbose=0,
                  callbacks=[stats, callbacks.LambdaCallback(on_epoch_end=keep)])
        stats_by_mode.append(stats.to_dict())
        # what the callback kept each epoch is still that epoch's output
        replay = copy.deepcopy(model)
        for out, weights in kept:
            replay.set_weights(weights)
            np.testing.assert_array_equal(out, replay.forward(sample, training=False))
        assert len({id(out) for out, _ in kept}) == 3
    assert stats_by_mode[0] == stats_by_mode[1]
    # the last recorded activations are those of the trained model
    h = sample
    last = stats_by_mode[0]["activations"]
    for layer in model.layers:
        h = layer.forward(h, training=False)
        if layer.name in last:
            assert last[layer.name][-1] == describe(h, 30, exclude_zeros=True)


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_fit_after_fit_refuses_changed_inputs_as_a_fresh_model(kind):
    x, y = data(kind, 40)
    warm = mlp() if kind == "mlp" else cnn()
    warm.fit(x, y, epochs=1, batch_size=16, seed=0, verbose=0)
    bad_inputs = ([x[:, :11], x.astype(np.int64), x[:, :, None]] if kind == "mlp"
                  else [x[:, :, :5], np.concatenate([x, x], axis=1), x[:, 0]])
    for bad in bad_inputs:
        fresh = mlp() if kind == "mlp" else cnn()
        want = outcome(fresh.fit, bad, y, epochs=1, batch_size=16, seed=0, verbose=0)
        got = outcome(warm.fit, bad, y, epochs=2, initial_epoch=1, batch_size=16, seed=0,
                      verbose=0)
        assert got[0] == want[0]
        if want[0] != "ok":
            assert got[1] == want[1]
        else:
            assert np.isfinite(got[1].history["loss"][-1])
