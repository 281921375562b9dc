"""fastnn.callbacks: hook order and logs, plain callables, stop_training, ProgressBar modes,
EarlyStopping, ModelCheckpoint (and resuming from one), CSVLogger, LambdaCallback."""
import csv
import io
import sys

import numpy as np
import pytest

from fastnn import callbacks as cb
from fastnn import zoo
from fastnn.models import load_model


def problem(n=90, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(77).standard_normal((3, 6)) * 2
    y = rng.integers(0, 3, n)
    x = (centres[y] + 0.5 * rng.standard_normal((n, 6))).astype(np.float32)
    return x, y


def model(seed=0, dropout=0.2):
    return zoo.mlp(hidden=(12,), input_dim=6, num_classes=3, dropout=dropout, seed=seed)


class Recorder(cb.Callback):
    def __init__(self):
        super().__init__()
        self.events = []

    def on_train_begin(self, logs=None):
        self.events.append(("train_begin",))

    def on_epoch_begin(self, epoch, logs=None):
        self.events.append(("epoch_begin", epoch))

    def on_batch_begin(self, batch, logs=None):
        self.events.append(("batch_begin", batch, logs["size"]))

    def on_batch_end(self, batch, logs=None):
        self.events.append(("batch_end", batch, logs["loss"]))

    def on_epoch_end(self, epoch, logs=None):
        self.events.append(("epoch_end", epoch, dict(logs)))

    def on_train_end(self, logs=None):
        self.events.append(("train_end", dict(logs)))


def test_hook_order_and_logs():
    x, y = problem(50)
    rec = Recorder()
    m = model()
    hist = m.fit(x, y, epochs=2, batch_size=20, seed=0, verbose=0, callbacks=[rec],
                 validation_data=(x[:10], y[:10]))
    kinds = [e[0] for e in rec.events]
    per_epoch = ["epoch_begin"] + ["batch_begin", "batch_end"] * 3 + ["epoch_end"]
    assert kinds == ["train_begin"] + per_epoch * 2 + ["train_end"]
    assert rec.model is m
    assert rec.params["steps"] == 3 and rec.params["epochs"] == 2 and rec.params["samples"] == 50
    assert rec.params["metrics"] == ["loss", "accuracy", "val_loss", "val_accuracy"]
    sizes = [e[2] for e in rec.events if e[0] == "batch_begin"]
    assert sizes == [20, 20, 10] * 2
    batch_losses = [e[2] for e in rec.events if e[0] == "batch_end"]
    assert batch_losses == hist.batch_losses
    ends = [e for e in rec.events if e[0] == "epoch_end"]
    for (_, epoch, logs) in ends:
        assert set(logs) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "time"}
        for k in ("loss", "accuracy", "val_loss", "val_accuracy"):
            assert logs[k] == hist[k][epoch]
    assert rec.events[-1][1]["loss"] == hist["loss"][-1]


def test_plain_callable_and_stop_training():
    x, y = problem(40)
    seen = []
    m = model()

    def stop_after_second(epoch, logs):
        seen.append((epoch, logs["loss"]))
        if epoch == 1:
            m.stop_training = True

    hist = m.fit(x, y, epochs=6, batch_size=10, seed=0, verbose=0, callbacks=[stop_after_second])
    assert [e for e, _ in seen] == [0, 1]
    assert hist.epoch == [0, 1] and m.epochs_completed == 2
    assert [l for _, l in seen] == hist["loss"]


def test_lambda_callback():
    x, y = problem(30)
    calls = []
    lam = cb.LambdaCallback(on_train_begin=lambda logs: calls.append("tb"),
                            on_epoch_end=lambda e, logs: calls.append(("ee", e)),
                            on_batch_end=lambda b, logs: calls.append("b"),
                            on_train_end=lambda logs: calls.append("te"))
    model().fit(x, y, epochs=2, batch_size=15, verbose=0, callbacks=[lam])
    assert calls == ["tb", "b", "b", ("ee", 0), "b", "b", ("ee", 1), "te"]
    with pytest.raises(TypeError, match="on_epoch_end must be callable"):
        cb.LambdaCallback(on_epoch_end=3)


# --------------------------------------------------------------------------- ProgressBar
def test_progress_lines_when_stderr_is_not_a_tty(capsys):
    x, y = problem(40)
    model().fit(x, y, epochs=3, batch_size=10, seed=0, verbose=1)
    out, err = capsys.readouterr()
    lines = [l for l in out.splitlines() if l.startswith("Epoch ")]
    assert len(lines) == 3
    assert lines[0].startswith("Epoch 1/3 - ") and "loss: " in lines[0] and "accuracy: " in lines[0]
    assert err == ""


def test_verbose_0_prints_nothing(capsys):
    x, y = problem(40)
    model().fit(x, y, epochs=2, batch_size=10, verbose=0)
    assert capsys.readouterr() == ("", "")


def test_verbose_2_is_one_line_per_epoch(capsys):
    x, y = problem(40)
    model().fit(x, y, epochs=2, batch_size=10, verbose=2)
    assert len([l for l in capsys.readouterr().out.splitlines() if l.startswith("Epoch")]) == 2


class _TTY(io.StringIO):
    def isatty(self):
        return True


def test_tqdm_bar_on_a_terminal(monkeypatch, capsys):
    x, y = problem(40)
    fake = _TTY()
    monkeypatch.setattr(sys, "stderr", fake)
    model().fit(x, y, epochs=2, batch_size=10, verbose=1)
    text = fake.getvalue()
    assert "Epoch 1/2" in text and "Epoch 2/2" in text and "4/4" in text
    assert "Epoch" not in capsys.readouterr().out        # no duplicate per-epoch lines


def test_explicit_progress_bar_is_not_doubled(capsys):
    x, y = problem(20)
    bar = cb.ProgressBar(verbose=2)
    model().fit(x, y, epochs=2, batch_size=10, verbose=1, callbacks=[bar])
    assert len([l for l in capsys.readouterr().out.splitlines() if l.startswith("Epoch")]) == 2
    with pytest.raises(ValueError, match="verbose"):
        cb.ProgressBar(verbose=5)


# --------------------------------------------------------------------------- EarlyStopping
class FakeModel:
    def __init__(self):
        self.stop_training = False
        self.w = 0
        self.restored = None

    def get_weights(self):
        return [self.w]

    def set_weights(self, ws):
        self.restored = ws[0]


def drive(callback, values, key="val_loss"):
    """Feed epoch logs to a callback as fit would; returns the epochs run."""
    m = FakeModel()
    callback.set_model(m)
    callback.set_params({"metrics": ["loss", "accuracy", "val_loss", "val_accuracy"]})
    callback.on_train_begin({})
    run = []
    for epoch, v in enumerate(values):
        m.w = epoch
        run.append(epoch)
        callback.on_epoch_end(epoch, {key: v})
        if m.stop_training:
            break
    callback.on_train_end({})
    return run, m


def test_early_stopping_patience_and_min_delta():
    # best at epoch 1 (0.5); epochs 2, 3 do not improve; patience 2 stops at epoch 3
    es = cb.EarlyStopping(patience=2)
    run, _ = drive(es, [1.0, 0.5, 0.6, 0.55, 0.1])
    assert run == [0, 1, 2, 3] and es.stopped_epoch == 3 and es.best == 0.5 and es.best_epoch == 1
    # patience 0 stops at the first epoch that does not improve
    run, _ = drive(cb.EarlyStopping(patience=0), [1.0, 0.9, 0.95, 0.1])
    assert run == [0, 1, 2]
    # improvements smaller than min_delta do not count
    es = cb.EarlyStopping(patience=1, min_delta=0.1)
    run, _ = drive(es, [1.0, 0.95, 0.92, 0.5])
    assert run == [0, 1] and es.best == 1.0
    # never stops while improving
    run, _ = drive(cb.EarlyStopping(patience=0), [5, 4, 3, 2, 1])
    assert run == [0, 1, 2, 3, 4]


def test_early_stopping_mode_and_restore_best_weights():
    es = cb.EarlyStopping(monitor="val_accuracy", patience=1, restore_best_weights=True)
    assert es.mode == "max"
    run, m = drive(es, [0.5, 0.8, 0.7, 0.75], key="val_accuracy")
    assert run == [0, 1, 2] and m.restored == 1
    es = cb.EarlyStopping(monitor="val_accuracy", mode="min", patience=0)
    run, _ = drive(es, [0.5, 0.8], key="val_accuracy")
    assert run == [0, 1]


def test_early_stopping_in_fit_restores_best_weights():
    x, y = problem(60)
    xv, yv = problem(30, seed=1)
    m = model()
    snapshots = []
    es = cb.EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True)
    hist = m.fit(x, y, epochs=30, batch_size=10, seed=0, verbose=0, validation_data=(xv, yv),
                 callbacks=[es, lambda e, logs: snapshots.append(m.get_weights())],
                 optimizer="sgd")   # small steps: val_loss keeps improving for a while
    best = int(np.argmin(hist["val_loss"]))
    assert es.best_epoch == best
    for a, b in zip(m.get_weights(), snapshots[best]):
        np.testing.assert_array_equal(a, b)
    if es.stopped_epoch >= 0:
        assert len(hist.epoch) == es.stopped_epoch + 1


def test_early_stopping_needs_the_metric():
    x, y = problem(20)
    with pytest.raises(ValueError, match="val_loss.*validation_data"):
        model().fit(x, y, epochs=2, verbose=0, callbacks=[cb.EarlyStopping()])


@pytest.mark.parametrize("kw, exc", [(dict(patience=-1), ValueError),
                                     (dict(patience=1.5), TypeError),
                                     (dict(min_delta=-0.1), ValueError),
                                     (dict(mode="up"), ValueError), (dict(monitor=3), TypeError),
                                     (dict(restore_best_weights=1), TypeError)])
def test_early_stopping_bad_arguments(kw, exc):
    with pytest.raises(exc, match=list(kw)[0]):
        cb.EarlyStopping(**kw)


# --------------------------------------------------------------------------- ModelCheckpoint
def test_model_checkpoint_every_epoch_and_resume(tmp_path):
    x, y = problem(60)
    kw = dict(batch_size=10, seed=3, verbose=0)
    ref = model()
    ref_hist = ref.fit(x, y, epochs=4, **kw)

    m = model()
    ck = cb.ModelCheckpoint(str(tmp_path / "ck-{epoch:02d}.npz"))
    m.fit(x, y, epochs=3, callbacks=[ck], **kw)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck-01.npz", "ck-02.npz", "ck-03.npz"]
    assert ck.last_path == str(tmp_path / "ck-03.npz")
    # resume from the checkpoint written after the 2nd epoch: same as never stopping
    back = load_model(tmp_path / "ck-02.npz")
    assert back.epochs_completed == 2
    hist = back.fit(x, y, epochs=4, initial_epoch=back.epochs_completed, **kw)
    for a, b in zip(back.get_weights(), ref.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert back.history["loss"] == ref_hist["loss"] and hist.epoch == [2, 3]


def test_model_checkpoint_save_best_only(tmp_path):
    ck = cb.ModelCheckpoint(str(tmp_path / "best-{epoch}-{val_loss:.2f}.npz"), save_best_only=True)
    saved = []

    class M(FakeModel):
        def save(self, path):
            saved.append(path)

    m = M()
    ck.set_model(m)
    ck.set_params({"metrics": ["loss", "val_loss"]})
    ck.on_train_begin({})
    for epoch, v in enumerate([1.0, 0.7, 0.9, 0.4]):
        ck.on_epoch_end(epoch, {"val_loss": v, "loss": v})
    assert [p.rsplit("/", 1)[1] for p in saved] == ["best-1-1.00.npz", "best-2-0.70.npz",
                                                    "best-4-0.40.npz"]
    bad = cb.ModelCheckpoint(str(tmp_path / "{nope}.npz"))
    bad.set_model(m)
    with pytest.raises(ValueError, match="nope"):
        bad.on_epoch_end(0, {"loss": 1.0})


# --------------------------------------------------------------------------- CSVLogger
def test_csv_logger_rows_match_history(tmp_path):
    x, y = problem(40)
    path = tmp_path / "log.csv"
    m = model()
    hist = m.fit(x, y, epochs=3, batch_size=10, seed=0, verbose=0, callbacks=[cb.CSVLogger(path)],
                 validation_data=(x[:10], y[:10]))
    rows = list(csv.DictReader(open(path)))
    assert len(rows) == 3
    assert list(rows[0]) == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "time"]
    for i, row in enumerate(rows):
        assert int(row["epoch"]) == i
        assert float(row["loss"]) == hist["loss"][i]
        assert float(row["val_accuracy"]) == hist["val_accuracy"][i]
    # append=True continues the file without a second header
    m.fit(x, y, epochs=5, initial_epoch=3, batch_size=10, verbose=0,
          callbacks=[cb.CSVLogger(path, append=True)], validation_data=(x[:10], y[:10]))
    rows = list(csv.DictReader(open(path)))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="separator"):
        cb.CSVLogger(path, separator=";;")


def test_csv_logger_closes_file_on_error(tmp_path):
    x, y = problem(20)
    logger = cb.CSVLogger(tmp_path / "log.csv")

    def boom(epoch, logs):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        model().fit(x, y, epochs=2, verbose=0, callbacks=[logger, boom])
    assert logger._fh is None


# --------------------------------------------------------------------------- LayerStatistics
def _fit(m, x, y, callbacks=None, epochs=3):
    return m.fit(x, y, epochs=epochs, batch_size=16, optimizer="sgd", seed=3, verbose=0,
                 callbacks=callbacks)


def _describe64(a):
    a = np.asarray(a, dtype=np.float64)
    return {"mean": a.mean(), "std": a.std(), "min": a.min(), "max": a.max(),
            "norm": np.sqrt((a * a).sum()), "zeros": np.mean(a == 0)}


def test_layer_statistics_records_weights_gradients_activations():
    x, y = problem(n=80)
    m = model(dropout=0.3)
    batch_norms = {}

    def norms(batch, logs):      # an independent record of every batch's gradient norms
        for p in m.parameters():
            batch_norms.setdefault(p.name, []).append(
                float(np.linalg.norm(p.grad.astype(np.float64))))
    st = cb.LayerStatistics(bins=10)
    _fit(m, x, y, [st, cb.LambdaCallback(on_batch_end=norms)])
    names = [p.name for p in m.parameters()]
    assert st.epochs == [0, 1, 2, 3]
    assert list(st.weights) == names and list(st.gradients) == names
    assert all(len(st.weights[n]) == 4 and len(st.gradients[n]) == 3 for n in names)
    # the last weight record is the trained weights; every record's histogram counts them all
    for p in m.parameters():
        last = st.weights[p.name][-1]
        for k, v in _describe64(p.value).items():
            assert last[k] == pytest.approx(v, rel=1e-12, abs=1e-15)
        assert all(sum(r["counts"]) == p.value.size and len(r["edges"]) == 11
                   for r in st.weights[p.name])
        # the gradient record: as left by the last batch of the last epoch
        for k, v in _describe64(p.grad).items():
            assert st.gradients[p.name][-1][k] == pytest.approx(v, rel=1e-12, abs=1e-15)
        # the mean gradient norm per epoch: over the 5 batches of each epoch
        per_epoch = np.reshape(batch_norms[p.name], (3, 5)).mean(axis=1)
        np.testing.assert_allclose(st.grad_norm_mean[p.name], per_epoch, rtol=1e-5)
    # activations: the Dense layers' outputs (Dropout left out) on the first 80 inputs
    assert list(st.activations) == [m.layers[0].name, m.layers[2].name]
    h = m.layers[0].forward(x, training=False)
    rec = st.activations[m.layers[0].name][-1]
    for k, v in _describe64(h).items():
        assert rec[k] == pytest.approx(v, rel=1e-9, abs=1e-12)
    assert sum(rec["counts"]) == np.count_nonzero(h)          # exact zeros not histogrammed
    assert st.layers[0]["parameters"] == names[:2]


def test_layer_statistics_do_not_change_training():
    x, y = problem(n=70)
    plain, watched = model(dropout=0.3), model(dropout=0.3)
    h1 = _fit(plain, x, y)
    st = cb.LayerStatistics(x_sample=x[:20], sample_size=7)
    h2 = _fit(watched, x, y, [st])
    assert h1.batch_losses == h2.batch_losses
    for a, b in zip(plain.get_weights(), watched.get_weights()):
        np.testing.assert_array_equal(a, b)
    # x_sample wins over fit's inputs, and sample_size cuts it
    h = watched.layers[0].forward(x[:7], training=False)
    assert st.activations[watched.layers[0].name][-1]["size"] == h.size


def test_layer_statistics_json_round_trip_and_resume(tmp_path):
    x, y = problem(n=48)
    m = model()
    st = cb.LayerStatistics()
    _fit(m, x, y, [st], epochs=2)
    path = tmp_path / "stats.json"
    st.to_json(path)
    back = cb.LayerStatistics.from_json(path)
    assert back.to_dict() == st.to_dict()
    # continuing training appends to the same record
    m.fit(x, y, epochs=3, initial_epoch=2, batch_size=16, seed=3, verbose=0, callbacks=[st])
    assert st.epochs == [0, 1, 2, 3] and len(st.gradients[m.parameters()[0].name]) == 3
    with pytest.raises(ValueError, match="not a LayerStatistics record"):
        cb.LayerStatistics.from_dict({"epochs": []})
    with pytest.raises(TypeError, match="x_sample"):
        cb.LayerStatistics(x_sample=np.zeros((4, 6), np.int64))
    with pytest.raises(ValueError, match="bins"):
        cb.LayerStatistics(bins=0)


def test_layer_statistics_show_the_vanishing_gradient_with_sigmoid():
    from fastnn.studies import data as study_data
    d = study_data.synthetic(n_train=512, n_test=10, dim=32, seed=0)
    x, y, _, _ = d.arrays()
    ratio = {}
    for act in ("sigmoid", "relu"):
        m = zoo.mlp(hidden=(32,) * 6, activation=act, dropout=0.0, input_dim=32, seed=0)
        st = cb.LayerStatistics()
        m.fit(x, y, epochs=1, batch_size=64, optimizer="sgd", callbacks=[st], verbose=0, seed=0)
        norms = [st.grad_norm_mean[p.name][0] for p in m.parameters()
                 if p.name.endswith("/kernel")]
        ratio[act] = norms[0] / norms[-1]
        if act == "sigmoid":       # shrinks layer after layer on the way to the input
            assert all(a < b for a, b in zip(norms, norms[1:]))
    # seven Dense layers: sigmoid's first-layer gradient is thousands of times smaller than
    # its last layer's; ReLU's stays of the same order
    assert ratio["sigmoid"] < 1e-2 and ratio["relu"] > 0.3
