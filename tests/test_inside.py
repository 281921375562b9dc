"""Looking inside from the command line and the examples: ``fastnn train --out`` writes the
layer statistics and their figures (and the CNN's filters and feature maps), ``--l1``/``--l2``
put Keras regularizers on every kernel, and the examples that need MNIST run (skipped without
it)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import fastnn
from fastnn import callbacks, cli, regularizers
from fnn_testutil import PACKAGE_PARENT, mnist_dir

pytest.importorskip("matplotlib")
MNIST = mnist_dir()
needs_mnist = [pytest.mark.mnist, pytest.mark.slow,
               pytest.mark.skipif(MNIST is None, reason="needs MNIST in FASTNN_DATA")]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_train_regularizer_flags_build_l1l2_on_every_kernel(monkeypatch, capsys):
    seen = {}

    def fake_mlp(**kw):           # stop before loading data: only the model's arguments matter
        seen.update(kw)
        raise KeyboardInterrupt
    monkeypatch.setattr(cli.train.zoo, "mlp", fake_mlp)
    monkeypatch.setattr(cli.train, "_load", lambda args, s: (
        (np.zeros((2, 784), np.float32), np.zeros(2, np.int64)), None,
        (np.zeros((2, 784), np.float32), np.zeros(2, np.int64))))
    code, _, _ = run(capsys, "train", "--l1", "1e-5", "--l2", "1e-4")
    assert code == 130
    reg = seen["kernel_regularizer"]
    assert isinstance(reg, regularizers.L1L2) and (reg.l1, reg.l2) == (1e-5, 1e-4)
    seen.clear()
    run(capsys, "train")
    assert seen["kernel_regularizer"] is None
    code, _, err = run(capsys, "train", "--l2", "-1")
    assert code == 2 and "--l2 must be a number >= 0" in err


def test_train_help_lists_the_new_flags(capsys):
    code, out, _ = run(capsys, "train", "--help")
    text = " ".join(out.split())
    assert code == 0 and "--l1" in text and "--l2" in text and "layer_stats.json" in text


def _apply(marks):
    def deco(f):
        for m in marks:
            f = m(f)
        return f
    return deco


@_apply(needs_mnist)
def test_train_out_writes_what_happened_inside(capsys, tmp_path):
    out_dir = tmp_path / "mlp"
    code, out, err = run(capsys, "train", "--data-dir", MNIST, "--limit", "1200", "--epochs",
                         "2", "--l2", "1e-4", "--activation", "sigmoid", "--threads", "1",
                         "--quiet", "--out", str(out_dir))
    assert code == 0, err
    for name in cli.train.ARTEFACTS:
        assert (out_dir / name).stat().st_size > 0, name
    assert not (out_dir / "filters.png").exists()          # the MLP has no filters
    stats = callbacks.LayerStatistics.from_json(out_dir / "layer_stats.json")
    assert stats.epochs == [0, 1, 2] and len(stats.activations) == 3
    record = json.loads((out_dir / "history.json").read_text())
    assert record["config"]["l2"] == 1e-4
    model = fastnn.load_model(out_dir / "model.npz")
    assert model.layers[0].kernel_regularizer.l2 == 1e-4      # saved with the model

    cnn_dir = tmp_path / "cnn"
    code, _, err = run(capsys, "train", "--model", "cnn", "--data-dir", MNIST, "--limit", "300",
                       "--quiet", "--out", str(cnn_dir))
    assert code == 0, err
    for name in cli.train.ARTEFACTS + cli.train.CNN_ARTEFACTS:
        assert (cnn_dir / name).stat().st_size > 0, name


@_apply(needs_mnist)
@pytest.mark.parametrize("script, args, expect", [
    ("vanishing_gradients.py", ["grads.png", "1500"], "sigmoid gradient norm per layer"),
    ("look_inside.py", ["inside", "600"], "figures in inside"),
])
def test_examples_that_need_mnist_run(tmp_path, script, args, expect):
    env = dict(os.environ, FASTNN_DATA=MNIST,
               PYTHONPATH=PACKAGE_PARENT)
    out = subprocess.run([sys.executable, os.path.join(ROOT, "examples", script)] + args,
                         capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert expect in out.stdout
    assert (tmp_path / args[0]).exists()
