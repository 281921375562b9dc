"""fastnn.models: Sequential's chain rule, fit/evaluate/predict, History, checkpoints (round trip,
atomic save, corrupt files, exact resume), divergence, argument checks, reproducibility."""
import json
import os
import zipfile

import numpy as np
import pytest

import fastnn
from fastnn import layers as L
from fastnn import losses, metrics, optim, regularizers, zoo
from fastnn.models import History, Sequential, TrainingDivergedError, load_model


# --------------------------------------------------------------------------- problems
def blobs(n=600, d=10, k=3, seed=0, spread=0.6):
    """k Gaussian blobs around fixed random centres of norm 3 (the same for every ``seed``;
    ``seed`` draws the samples): linearly separable up to a few overlapping points."""
    centres = np.random.default_rng(1234).standard_normal((k, d))
    centres *= 3.0 / np.linalg.norm(centres, axis=1, keepdims=True)
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    x = centres[y] + spread * rng.standard_normal((n, d))
    return x.astype(np.float32), y.astype(np.int64)


def small_mlp(seed=1, dropout=0.25, d=10, k=3, dtype=np.float32):
    return zoo.mlp(hidden=(16, 8), input_dim=d, num_classes=k, dropout=dropout, seed=seed,
                   dtype=dtype)


def small_cnn(seed=2):
    return zoo.cnn(channels=(4, 6), dense=12, dropout=0.3, input_shape=(1, 8, 8),
                   num_classes=3, seed=seed)


def weights_equal(a, b):
    pa, pb = a.parameters(), b.parameters()
    return len(pa) == len(pb) and all(np.array_equal(p.value, q.value) for p, q in zip(pa, pb))


# --------------------------------------------------------------------------- chain rule
def _twin_layers(seed):
    return [L.Dense(6, 5, activation="tanh", seed=seed, dtype=np.float64),
            L.Dropout(0.4, seed=seed + 1),
            L.Dense(5, 4, activation="relu", seed=seed + 2, dtype=np.float64),
            L.Dense(4, 3, seed=seed + 3, dtype=np.float64)]


def test_forward_backward_is_the_layer_chain(rng):
    model = Sequential(_twin_layers(10))
    manual = _twin_layers(10)
    x = rng.standard_normal((7, 6))
    dy = rng.standard_normal((7, 3))

    out = model.forward(x, training=True)
    h = x
    for layer in manual:
        h = layer.forward(h, training=True)
    np.testing.assert_array_equal(out, h)

    dx = model.backward(dy)
    g = dy
    for layer in reversed(manual):
        g = layer.backward(g)
    np.testing.assert_array_equal(dx, g)
    for p, q in zip(model.parameters(), [p for l in manual for p in l.parameters()]):
        assert p.name is not None
        np.testing.assert_array_equal(p.grad, q.grad)


def test_backward_matches_finite_differences(rng):
    model = Sequential([L.Dense(5, 4, activation="tanh", seed=0, dtype=np.float64),
                        L.Dense(4, 3, seed=1, dtype=np.float64)])
    x = rng.standard_normal((3, 5))
    y = np.array([0, 2, 1])
    loss = losses.SoftmaxCrossEntropy()
    loss.forward(model.forward(x), y)
    dx = model.backward(loss.backward())
    eps = 1e-6
    num = np.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += eps
        xm[idx] -= eps
        num[idx] = (loss.forward(model.forward(xp), y)
                    - loss.forward(model.forward(xm), y)) / (2 * eps)
    np.testing.assert_allclose(dx, num, rtol=1e-5, atol=1e-8)
    # and for one weight
    w = model.parameters()[0]
    loss.forward(model.forward(x), y)
    model.backward(loss.backward())
    analytic = w.grad[2, 1]
    w.value[2, 1] += eps
    lp = loss.forward(model.forward(x), y)
    w.value[2, 1] -= 2 * eps
    lm = loss.forward(model.forward(x), y)
    w.value[2, 1] += eps
    assert analytic == pytest.approx((lp - lm) / (2 * eps), rel=1e-5)


def test_parameters_zero_grad_and_add():
    model = Sequential()
    d1 = L.Dense(3, 2, seed=0)
    model.add(d1).add(L.ReLU())
    assert model.parameters() == [d1.kernel, d1.bias]
    d1.kernel.grad[...] = 1.0
    model.zero_grad()
    assert not d1.kernel.grad.any()
    with pytest.raises(TypeError, match="layer"):
        model.add("dense")
    with pytest.raises(ValueError, match="already"):
        model.add(d1)
    with pytest.raises(ValueError, match="no layers"):
        Sequential().forward(np.zeros((1, 3), np.float32))


# --------------------------------------------------------------------------- summary
def test_summary_lists_layers_shapes_and_counts(capsys):
    model = small_cnn()
    text = model.summary()
    assert capsys.readouterr().out.strip() == text.strip()
    for layer in model.layers:
        assert layer.name in text
        assert type(layer).__name__ in text
    assert "(None, 4, 8, 8)" in text          # conv 1
    assert "(None, 4, 4, 4)" in text          # pool 1
    assert "(None, 6, 2, 2)" in text          # pool 2
    assert "(None, 24)" in text               # flatten
    assert "(None, 3)" in text
    conv = model.layers[0]
    assert "{:,}".format(conv.kernel.value.size + conv.bias.value.size) in text
    total = sum(p.value.size for p in model.parameters())
    assert "Total params: {:,}".format(total) in text
    assert total == model.count_params() == 4 * 9 + 4 + 6 * 4 * 9 + 6 + 24 * 12 + 12 + 12 * 3 + 3


def test_summary_learns_input_shape_from_first_batch(rng):
    model = Sequential([L.Conv2D(1, 2, 3, seed=0), L.Flatten(), L.Dense(2 * 4 * 4, 3, seed=1)])
    before = model.summary(print_fn=None)
    assert "?" in before
    model.forward(rng.standard_normal((2, 1, 6, 6)).astype(np.float32))
    after = model.summary(print_fn=None)
    assert model.input_shape == (1, 6, 6)
    assert "(None, 2, 4, 4)" in after and "(None, 32)" in after and "(None, 3)" in after


# --------------------------------------------------------------------------- fit / evaluate
def test_fit_learns_separable_problem():
    x, y = blobs(900, seed=3)
    xt, yt = blobs(300, seed=4)
    model = small_mlp()
    hist = model.fit(x, y, epochs=15, batch_size=32, optimizer="adam", seed=0, verbose=0)
    # training accuracy is measured with dropout active (25% of 16 and 8 units), so lower
    assert hist["accuracy"][-1] > 0.9
    assert hist["loss"][-1] < hist["loss"][0] / 3
    assert model.evaluate(x, y)["accuracy"] > 0.98
    assert model.evaluate(xt, yt)["accuracy"] > 0.98


def test_history_contents_and_lengths(tmp_path):
    x, y = blobs(250)
    xv, yv = blobs(60, seed=9)
    model = small_mlp()
    hist = model.fit(x, y, epochs=3, batch_size=32, seed=1, verbose=0, validation_data=(xv, yv))
    assert isinstance(hist, History) and hist is model.history
    assert hist.epoch == [0, 1, 2]
    assert set(hist.history) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "time"}
    assert all(len(v) == 3 for v in hist.history.values())
    assert hist["loss"] == hist.history["loss"]
    steps = -(-250 // 32)
    assert hist.batches_per_epoch == [steps] * 3
    assert len(hist.batch_losses) == 3 * steps
    sizes = np.array([32] * (steps - 1) + [250 - 32 * (steps - 1)])
    for e in range(3):
        bl = np.array(hist.batch_losses[e * steps:(e + 1) * steps])
        assert hist["loss"][e] == pytest.approx(float((bl * sizes).sum() / 250), rel=1e-12)
    assert hist["lr"] == [1e-3] * 3
    assert all(t > 0 for t in hist["time"])
    assert all(0 <= a <= 1 for a in hist["accuracy"] + hist["val_accuracy"])
    # val metrics are the inference-mode evaluation of the weights at the epoch end
    assert hist["val_loss"][-1] == pytest.approx(model.evaluate(xv, yv)["loss"], rel=1e-6)
    assert hist["val_accuracy"][-1] == model.evaluate(xv, yv)["accuracy"]

    hist.to_json(tmp_path / "h.json")
    back = History.from_dict(json.loads((tmp_path / "h.json").read_text()))
    assert back.history == hist.history and back.batch_losses == hist.batch_losses
    hist.to_csv(tmp_path / "h.csv")
    rows = (tmp_path / "h.csv").read_text().strip().splitlines()
    assert rows[0].split(",")[:3] == ["epoch", "loss", "accuracy"]
    assert len(rows) == 4
    assert float(rows[2].split(",")[1]) == hist["loss"][1]


def test_training_accuracy_and_loss_come_from_the_batches_forward_pass():
    """With lr=0 the weights never change: the training loss/accuracy (taken from each batch's
    forward logits, plus the regularization penalty) must equal a separate evaluation."""
    x, y = blobs(200)
    model = Sequential([L.Dense(10, 8, activation="relu", seed=0,
                                kernel_regularizer=regularizers.L2(0.01)),
                        L.Dense(8, 3, seed=1, kernel_regularizer=regularizers.L1(0.003))])
    before = model.get_weights()
    hist = model.fit(x, y, epochs=1, batch_size=200, shuffle=False, verbose=0,
                     optimizer=optim.SGD(model.parameters(), lr=0.0))
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    data_loss = losses.SoftmaxCrossEntropy().forward(model.forward(x), y)
    penalty = model.regularization_loss()
    assert penalty > 0
    assert hist["loss"][0] == pytest.approx(data_loss + penalty, rel=1e-12)
    assert hist["accuracy"][0] == metrics.accuracy(y, model.forward(x))
    assert model.evaluate(x, y)["loss"] == pytest.approx(data_loss + penalty, rel=1e-6)


def test_evaluate_and_predict_shapes():
    x, y = blobs(123)
    model = small_mlp()
    model.fit(x, y, epochs=2, batch_size=16, seed=0, verbose=0)
    res = model.evaluate(x, y, batch_size=50)
    assert set(res) == {"loss", "accuracy"}
    assert isinstance(res["loss"], float) and isinstance(res["accuracy"], float)
    probs = model.predict(x, batch_size=50)
    assert probs.shape == (123, 3) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=0, atol=1e-5)
    assert (probs >= 0).all()
    assert res["accuracy"] == metrics.accuracy(y, probs)
    np.testing.assert_array_equal(np.argmax(probs, 1), np.argmax(model.forward(x), 1))
    # batch size does not change predictions beyond rounding
    np.testing.assert_allclose(model.predict(x, batch_size=7), probs, rtol=1e-6, atol=1e-7)


def test_predict_does_not_softmax_twice():
    model = Sequential([L.Dense(4, 3, seed=0), L.Softmax()])
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_array_equal(model.predict(x), model.forward(x))


def test_one_hot_targets_and_float64_input():
    x, y = blobs(200)
    model = small_mlp(seed=5)
    hist = model.fit(x.astype(np.float64), fastnn.data.one_hot(y, 3), epochs=2, batch_size=32,
                     loss="categorical_crossentropy", seed=0, verbose=0)
    assert len(hist["accuracy"]) == 2
    twin = small_mlp(seed=5)
    hist2 = twin.fit(x, y, epochs=2, batch_size=32, seed=0, verbose=0)
    # one-hot targets and integer labels are the same loss
    np.testing.assert_allclose(hist.batch_losses, hist2.batch_losses, rtol=1e-5)


def test_regression_loss_has_no_accuracy():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]], np.float32))
    model = Sequential([L.Dense(3, 1, seed=0)])
    hist = model.fit(x, y, epochs=30, batch_size=16, loss="mse", seed=0, verbose=0,
                     optimizer=optim.SGD(model.parameters(), lr=0.1))
    assert "accuracy" not in hist.history
    assert hist["loss"][-1] < 1e-3
    np.testing.assert_array_equal(model.predict(x), model.forward(x))   # raw outputs


def test_model_keeps_its_optimizer():
    x, y = blobs(100)
    model = small_mlp()
    model.fit(x, y, epochs=1, batch_size=20, optimizer="rmsprop", seed=0, verbose=0)
    assert isinstance(model.optimizer, optim.RMSprop)
    opt = model.optimizer
    model.fit(x, y, epochs=1, batch_size=20, seed=0, verbose=0)      # optimizer=None: reuse
    assert model.optimizer is opt
    assert opt.state[model.parameters()[0]]["step"] == 10
    with pytest.warns(UserWarning, match="NEW optimizer"):
        model.fit(x, y, epochs=2, batch_size=20, optimizer="rmsprop", initial_epoch=1, verbose=0)


def test_astype_float64_trains():
    x, y = blobs(100)
    model = small_mlp()
    model.fit(x, y, epochs=1, batch_size=20, seed=0, verbose=0)
    model.astype(np.float64)
    assert all(p.value.dtype == np.float64 for p in model.parameters())
    assert all(v.dtype == np.float64 for s in model.optimizer.state.values()
               for v in s.values() if isinstance(v, np.ndarray))
    model.fit(x, y, epochs=1, batch_size=20, seed=0, verbose=0)
    assert model.predict(x).dtype == np.float64


# --------------------------------------------------------------------------- checkpoints
def test_save_load_round_trip(tmp_path):
    x, y = blobs(150)
    model = small_mlp()
    model.fit(x, y, epochs=2, batch_size=32, optimizer=optim.Adam(model.parameters(), lr=3e-3,
                                                                  amsgrad=True),
              seed=11, verbose=0, validation_data=(x[:30], y[:30]))
    path = tmp_path / "model.npz"
    model.save(path)
    back = load_model(path)
    assert back.get_config() == model.get_config()
    assert [type(l) for l in back.layers] == [type(l) for l in model.layers]
    assert weights_equal(model, back)
    assert [p.name for p in back.parameters()] == [p.name for p in model.parameters()]
    assert isinstance(back.optimizer, optim.Adam)
    group = back.optimizer.param_groups[0]
    assert group["lr"] == 3e-3 and group["amsgrad"]
    sd_a, sd_b = model.optimizer.state_dict(), back.optimizer.state_dict()
    assert sd_a["param_groups"] == sd_b["param_groups"]
    assert sd_a["state"].keys() == sd_b["state"].keys()
    for k in sd_a["state"]:
        for name, v in sd_a["state"][k].items():
            np.testing.assert_array_equal(v, sd_b["state"][k][name])
    assert back.epochs_completed == 2 and back.seed == 11
    assert back.loss == "sparse_categorical_crossentropy"
    assert back.history.to_dict() == model.history.to_dict()
    for la, lb in zip(model.layers, back.layers):
        if isinstance(la, L.Dropout):
            assert (la.seed, la.counter) == (lb.seed, lb.counter) and la.counter > 0
    np.testing.assert_array_equal(back.predict(x), model.predict(x))
    assert back.input_shape == model.input_shape


def test_save_without_optimizer_and_cnn(tmp_path):
    model = small_cnn()
    model.save(tmp_path / "fresh.fnn")
    back = load_model(tmp_path / "fresh.fnn")
    assert back.optimizer is None and back.history is None and back.epochs_completed == 0
    assert weights_equal(model, back)
    assert (back.summary(print_fn=None).splitlines()[3:]
            == model.summary(print_fn=None).splitlines()[3:])


def test_save_is_atomic(tmp_path, monkeypatch):
    x, y = blobs(100)
    model = small_mlp()
    path = tmp_path / "ckpt.npz"
    model.save(path)
    saved = [w.copy() for w in model.get_weights()]
    model.fit(x, y, epochs=1, batch_size=20, seed=0, verbose=0)
    assert not all(np.array_equal(a, b) for a, b in zip(saved, model.get_weights()))

    import numpy.lib.format as npformat
    real = npformat.write_array
    calls = []

    def crash_mid_write(fp, array, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:                     # header and one weight are already in the zip
            fp.write(b"\0" * 100)
            raise OSError("disk full (simulated)")
        return real(fp, array, *args, **kwargs)

    monkeypatch.setattr(npformat, "write_array", crash_mid_write)
    with pytest.raises(OSError, match="simulated"):
        model.save(path)
    monkeypatch.setattr(npformat, "write_array", real)
    assert len(calls) == 3
    assert sorted(os.listdir(tmp_path)) == ["ckpt.npz"]       # no temp file left behind
    old = load_model(path)                                     # the old checkpoint is intact
    assert all(np.array_equal(a, b) for a, b in zip(saved, old.get_weights()))


def _good_file(tmp_path):
    x, y = blobs(60)
    model = small_mlp()
    model.fit(x, y, epochs=1, batch_size=20, seed=0, verbose=0)
    path = tmp_path / "good.npz"
    model.save(path)
    return path, path.read_bytes()


@pytest.mark.parametrize("damage", ["truncate_half", "truncate_tail", "flip_weight_byte",
                                    "garbage", "empty", "zip_without_header", "bad_json",
                                    "wrong_format"])
def test_corrupt_or_truncated_file_raises_naming_it(tmp_path, damage):
    good, raw = _good_file(tmp_path)
    bad = tmp_path / ("bad_%s.npz" % damage)
    if damage == "truncate_half":
        bad.write_bytes(raw[:len(raw) // 2])
    elif damage == "truncate_tail":
        bad.write_bytes(raw[:-10])
    elif damage == "flip_weight_byte":
        data = bytearray(raw)
        # a byte inside the first weight array's data: the zip CRC must catch it
        with zipfile.ZipFile(good) as zf:
            info = zf.getinfo("param_000.npy")
        off = info.header_offset              # local file header: name and extra lengths at +26
        name_len, extra_len = np.frombuffer(raw[off + 26:off + 30], "<u2")
        pos = off + 30 + int(name_len) + int(extra_len) + 128 + 40   # past the .npy header
        assert pos < off + info.file_size
        data[pos] ^= 0x40
        bad.write_bytes(bytes(data))
    elif damage == "garbage":
        bad.write_bytes(np.random.default_rng(0).bytes(5000))
    elif damage == "empty":
        bad.write_bytes(b"")
    elif damage == "zip_without_header":
        np.savez(bad, w=np.zeros(3))
    elif damage in ("bad_json", "wrong_format"):
        blob = b"{not json" if damage == "bad_json" else json.dumps({"format": "other"}).encode()
        with zipfile.ZipFile(good) as zf, zipfile.ZipFile(bad, "w") as out:
            for name in zf.namelist():
                if name == "header.npy":
                    import io
                    buf = io.BytesIO()
                    np.save(buf, np.frombuffer(blob, np.uint8))
                    out.writestr(name, buf.getvalue())
                else:
                    out.writestr(name, zf.read(name))
    with pytest.raises(ValueError) as err:
        load_model(bad)
    assert str(bad) in str(err.value)
    load_model(good)                                     # the good one still loads


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        load_model(tmp_path / "nope.npz")


@pytest.mark.parametrize("make", [small_mlp, small_cnn], ids=["mlp", "cnn"])
def test_resume_is_bit_identical(tmp_path, make):
    """2 epochs + save + load + 2 epochs == 4 uninterrupted epochs (dropout, Adam)."""
    if make is small_cnn:
        rng = np.random.default_rng(5)
        x = rng.random((90, 1, 8, 8)).astype(np.float32)
        y = rng.integers(0, 3, 90)
    else:
        x, y = blobs(170)
    kw = dict(batch_size=16, seed=21, verbose=0, validation_data=(x[:40], y[:40]))

    full = make()
    h_full = full.fit(x, y, epochs=4, optimizer="adam", **kw)

    part = make()
    h1 = part.fit(x, y, epochs=2, optimizer="adam", **kw)
    part.save(tmp_path / "half.npz")
    del part
    resumed = load_model(tmp_path / "half.npz")
    h2 = resumed.fit(x, y, epochs=4, initial_epoch=resumed.epochs_completed, **kw)

    assert h2.epoch == [2, 3]
    assert weights_equal(full, resumed)
    assert h1.batch_losses + h2.batch_losses == h_full.batch_losses
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert h1[key] + h2[key] == h_full[key]
        assert resumed.history[key] == h_full[key]      # the model's record spans the resume
    assert resumed.epochs_completed == 4
    sd_a, sd_b = full.optimizer.state_dict(), resumed.optimizer.state_dict()
    for k in sd_a["state"]:
        for name, v in sd_a["state"][k].items():
            np.testing.assert_array_equal(v, sd_b["state"][k][name])


def test_epoch_shuffle_depends_only_on_seed_and_epoch():
    x, y = blobs(64)
    a = small_mlp()
    ha = a.fit(x, y, epochs=3, batch_size=8, seed=4, verbose=0)
    b = small_mlp()
    hb = b.fit(x, y, epochs=3, batch_size=8, seed=5, verbose=0)
    assert ha.batch_losses != hb.batch_losses
    c = small_mlp()
    hc = c.fit(x, y, epochs=3, batch_size=8, seed=4, verbose=0)
    assert hc.batch_losses == ha.batch_losses and weights_equal(a, c)


# --------------------------------------------------------------------------- divergence
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_divergence_raises_with_epoch_and_batch():
    x, y = blobs(256)
    model = small_mlp(dropout=0.0)
    with pytest.raises(TrainingDivergedError) as err:
        model.fit(x, y, epochs=5, batch_size=32, verbose=0, seed=1,
                  optimizer=optim.SGD(model.parameters(), lr=1e6))
    e = err.value
    assert isinstance(e, RuntimeError)
    msg = str(e)
    assert "epoch %d/5" % (e.epoch + 1) in msg and "batch %d/8" % (e.batch + 1) in msg
    assert "learning rate" in msg and "initializer" in msg and "scaled" in msg
    assert not np.isfinite(e.loss)


def test_nonfinite_input_is_rejected_up_front():
    x, y = blobs(50)
    x[7, 3] = np.nan
    with pytest.raises(ValueError, match="x must be finite"):
        small_mlp().fit(x, y, verbose=0)


# --------------------------------------------------------------------------- bad arguments
def _bad_fit_cases():
    x, y = blobs(40)
    cases = [
        (dict(x=x.astype(np.uint8)), TypeError, "x must hold floats"),
        (dict(x=x.tolist()), TypeError, "x must be a numpy.ndarray"),
        (dict(x=x[:, :5]), ValueError, "x has per-sample shape"),
        (dict(x=x[:0], y=y[:0]), ValueError, "x must not be empty"),
        (dict(y=y[:30]), ValueError, "y must have one entry per sample"),
        (dict(y=y + 5), ValueError, "y must be class ids in \\[0, 3\\)"),
        (dict(y=y.astype(np.float32)), ValueError, "y of shape \\(40,\\) holds floats"),
        (dict(y=y.astype(str)), TypeError, "y must be"),
        (dict(epochs=0), ValueError, "epochs must be >= 1"),
        (dict(epochs=2.0), TypeError, "epochs must be an int"),
        (dict(batch_size=0), ValueError, "batch_size must be >= 1"),
        (dict(batch_size="32"), TypeError, "batch_size must be an int"),
        (dict(optimizer="bogus"), ValueError, "optimizer"),
        (dict(optimizer=3), TypeError, "optimizer must be"),
        (dict(loss="bogus"), ValueError, "loss"),
        (dict(validation_data=x), TypeError, "validation_data must be a pair"),
        (dict(validation_data=(x[:, :4], y)), ValueError, "validation_data\\[0\\]"),
        (dict(validation_data=(x, y[:3])), ValueError, "validation_data\\[1\\]"),
        (dict(callbacks=lambda e, l: None), TypeError, "callbacks must be a list"),
        (dict(callbacks=[3]), TypeError, "callbacks\\[0\\]"),
        (dict(shuffle="yes"), TypeError, "shuffle must be a bool"),
        (dict(seed=-1), ValueError, "seed must be >= 0"),
        (dict(seed=1.5), TypeError, "seed must be an int"),
        (dict(verbose=3), ValueError, "verbose must be"),
        (dict(initial_epoch=-1), ValueError, "initial_epoch must be >= 0"),
        (dict(epochs=2, initial_epoch=2), ValueError, "epochs must be > initial_epoch"),
    ]
    return x, y, cases


@pytest.mark.parametrize("i", range(len(_bad_fit_cases()[2])))
def test_bad_fit_arguments_raise(i):
    x, y, cases = _bad_fit_cases()
    override, exc, pattern = cases[i]
    kw = dict(x=x, y=y, epochs=1, batch_size=8, verbose=0)
    kw.update(override)
    model = small_mlp()
    before = model.get_weights()
    with pytest.raises(exc, match=pattern):
        model.fit(**kw)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_optimizer_of_another_model_is_rejected():
    x, y = blobs(40)
    other = small_mlp()
    with pytest.raises(ValueError, match="not this model's"):
        small_mlp().fit(x, y, optimizer=optim.Adam(other.parameters()), verbose=0)


# --------------------------------------------------------------------------- reproducibility
def test_same_seed_same_result():
    x, y = blobs(120)
    runs = []
    for _ in range(2):
        model = small_mlp(seed=8)
        hist = model.fit(x, y, epochs=2, batch_size=16, seed=3, verbose=0)
        runs.append((model, hist))
    assert weights_equal(runs[0][0], runs[1][0])
    assert runs[0][1].batch_losses == runs[1][1].batch_losses


@pytest.mark.parametrize("make", [small_mlp, small_cnn], ids=["mlp", "cnn"])
def test_thread_count_does_not_change_training(make):
    rng = np.random.default_rng(1)
    if make is small_cnn:
        x = rng.random((70, 1, 8, 8)).astype(np.float32)
        y = rng.integers(0, 3, 70)
    else:
        x, y = blobs(200)
    results = []
    for n in (1, 2):
        with fastnn.threads(n):
            model = make()
            hist = model.fit(x, y, epochs=2, batch_size=32, seed=0, verbose=0)
        results.append((model, hist))
    assert weights_equal(results[0][0], results[1][0])
    assert results[0][1].batch_losses == results[1][1].batch_losses


def test_fit_limits_blas_threads():
    from threadpoolctl import threadpool_info
    seen = []

    class Probe(fastnn.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.extend(p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas")

    x, y = blobs(40)
    small_mlp().fit(x, y, epochs=1, verbose=0, callbacks=[Probe()])
    expected = 1 if fastnn.backend.get_backend() == "compiled" else fastnn.get_num_threads()
    assert seen and all(n == expected for n in seen)


@pytest.mark.parametrize("make, shape", [
    (lambda: Sequential([L.Dropout(0.1, seed=3), L.Dense(12, 6, activation="relu", seed=0),
                         L.Dropout(0.5, seed=1), L.Dense(6, 3, seed=2)]), (4, 12)),
    (lambda: zoo.cnn(seed=0), (2, 1, 28, 28)),
], ids=["mlp-with-input-dropout", "lab-cnn"])
def test_backward_without_input_gradient_gives_the_same_grads(make, shape):
    # fit uses need_dx=False: layers before the first weighted layer are skipped, and that
    # layer skips its dx; every parameter gradient must be bit-identical to the full pass.
    rng = np.random.default_rng(0)
    x = rng.random(shape).astype(np.float32)
    a, b = make(), make()
    out = a.forward(x, training=True)
    b.forward(x, training=True)
    g = rng.standard_normal(out.shape).astype(np.float32)
    assert a.backward(g).shape == x.shape
    assert b.backward(g, need_dx=False) is None
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(q.grad, p.grad)
    with pytest.raises(TypeError, match="need_dx"):
        b.backward(g, need_dx=0)


def test_save_into_a_missing_directory_raises_and_keeps_modes(tmp_path):
    model = small_mlp()
    with pytest.raises(FileNotFoundError):
        model.save(tmp_path / "no-such-dir" / "m.npz")
    assert os.listdir(tmp_path) == []
    path = tmp_path / "m.npz"
    model.save(path)
    os.chmod(path, 0o640)
    model.save(path)                      # overwriting keeps the existing file's mode
    assert (os.stat(path).st_mode & 0o777) == 0o640
    assert sorted(os.listdir(tmp_path)) == ["m.npz"]


# --------------------------------------------------------------------------- module split
def test_public_names_are_the_split_modules_objects():
    from fastnn import errors, history, saving, training
    import fastnn.models as models
    assert models.History is history.History is fastnn.History
    assert models.load_model is saving.load_model is fastnn.load_model
    assert models.TrainingDivergedError is errors.TrainingDivergedError
    assert models.Sequential is fastnn.Sequential
    assert callable(training.fit) and callable(saving.save_model)


def test_corrupt_file_raises_checkpoint_error_with_fields(tmp_path):
    from fastnn.errors import CheckpointError
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(CheckpointError) as err:
        load_model(bad)
    assert isinstance(err.value, ValueError)
    assert err.value.path == str(bad) and str(bad) in str(err.value)
    assert "corrupt" in err.value.problem


def test_save_model_and_model_save_write_the_same_checkpoint(tmp_path):
    from fastnn import saving
    x, y = blobs(60)
    model = small_mlp()
    model.fit(x, y, epochs=1, batch_size=20, seed=0, verbose=0)
    model.save(tmp_path / "a.npz")
    saving.save_model(model, tmp_path / "b.npz")
    a, b = np.load(tmp_path / "a.npz"), np.load(tmp_path / "b.npz")
    assert sorted(a.files) == sorted(b.files)
    for name in a.files:
        np.testing.assert_array_equal(a[name], b[name])
    assert json.loads(a["header"].tobytes())["format"] == "fastnn.Sequential"


class _Scale(L.Layer):
    """A custom layer with one parameter: y = x * s; records the need_dx it was given."""

    def __init__(self, width):
        super().__init__()
        self.s = fastnn.Parameter(np.full(width, 2.0), name="scale")
        self.calls = []

    def forward(self, x, training=False):
        self._cache = x
        return x * self.s.value

    def backward(self, dy, need_dx=True):
        self.calls.append(need_dx)
        x = self._kept()
        self.s.grad[...] = (dy * x).sum(axis=0)
        return dy * self.s.value if need_dx else None

    def parameters(self):
        return [self.s]


def test_backward_without_input_gradient_follows_the_layer_protocol(rng):
    """Sequential asks any first layer with parameters, not just Dense/Conv2D, to skip dx."""
    first = _Scale(4)
    model = Sequential([L.ReLU(), first, L.Dense(4, 3, seed=0, dtype=np.float64)])
    x = rng.standard_normal((5, 4))
    model.forward(x, training=True)
    assert model.backward(np.ones((5, 3)), need_dx=False) is None
    assert first.calls == [False]
    full = model.backward(np.ones((5, 3)))
    assert full.shape == x.shape and first.calls == [False, True]


def test_float_class_targets_are_checked_once_for_fit():
    x, y = blobs(40)
    onehot = fastnn.data.one_hot(y, 3)
    with pytest.raises(ValueError, match="y must be non-negative"):
        small_mlp().fit(x, -onehot, verbose=0, loss="categorical_crossentropy")
    with pytest.raises(ValueError, match=r"y must have shape \(40, 3\)"):
        small_mlp().fit(x, onehot[:, :2], verbose=0, loss="categorical_crossentropy")
    with pytest.raises(ValueError, match="y must be 1-dimensional"):
        small_mlp().fit(x, y[:, None], verbose=0)


def test_history_files_are_written_atomically(tmp_path):
    hist = History()
    hist.append_epoch(0, {"loss": 0.5, "accuracy": 0.75}, [0.6, 0.4])
    path_json, path_csv = tmp_path / "h.json", tmp_path / "h.csv"
    hist.to_json(path_json)
    hist.to_csv(path_csv)
    good_json, good_csv = path_json.read_text(), path_csv.read_text()
    assert good_csv == "epoch,loss,accuracy\n0,0.5,0.75\n"

    class Unprintable:
        def __repr__(self):
            raise RuntimeError("repr failed (simulated)")

    hist.append_epoch(1, {"loss": Unprintable()}, [0.3])
    with pytest.raises(TypeError):
        hist.to_json(path_json)                     # not JSON-serialisable
    with pytest.raises(RuntimeError, match="simulated"):
        hist.to_csv(path_csv)
    assert path_json.read_text() == good_json and path_csv.read_text() == good_csv
    assert sorted(os.listdir(tmp_path)) == ["h.csv", "h.json"]     # no temp file left


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("where", ["none", "first", "chunk_edge", "last"])
def test_all_finite_scans_large_arrays_in_chunks(dtype, where):
    """fit's check of x (``_validate.all_finite``) goes a chunk at a time past _FINITE_CHUNK
    elements: a bad value anywhere, in C order or not, is found."""
    from fastnn import _validate
    chunk = _validate._FINITE_CHUNK
    x = np.ones((5 * (chunk // 2 + 3),), dtype=dtype)     # 2.5 chunks and a bit
    at = {"none": None, "first": 0, "chunk_edge": chunk, "last": x.size - 1}[where]
    for bad in (np.nan, np.inf, -np.inf):
        y = x.copy()
        if at is not None:
            y[at] = bad
        for arr in (y.reshape(-1, 5), y[::-1], y.reshape(-1, 5).T):
            assert _validate.all_finite(arr) is (at is None)
    assert _validate.all_finite(np.empty((0, 3), dtype))


def test_nonfinite_input_past_the_first_chunk_is_rejected_up_front():
    from fastnn import _validate
    x, y = blobs(50)
    reps = _validate._FINITE_CHUNK // x.size + 2
    x, y = np.repeat(x, reps, axis=0), np.repeat(y, reps)
    assert x.size > _validate._FINITE_CHUNK
    x[-1, -1] = np.inf
    with pytest.raises(ValueError, match="x must be finite"):
        small_mlp().fit(x, y, verbose=0)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nonfinite_float_targets_are_rejected_up_front(bad):
    """One-hot targets (classification) and regression targets go through the same finiteness
    test as x (``_validate.all_finite``)."""
    x, y = blobs(50)
    onehot = fastnn.data.one_hot(y, 3).astype(np.float32)
    onehot[-1, -1] = bad
    with pytest.raises(ValueError, match="y must be finite"):
        small_mlp().fit(x, onehot, loss="categorical_crossentropy", verbose=0)
    target = np.zeros((50, 3), np.float32)
    target[7, 1] = bad
    with pytest.raises(ValueError, match="y must be finite"):
        small_mlp().fit(x, target, loss="mse", verbose=0)
