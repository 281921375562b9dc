"""The ``fastnn`` command, run in-process through ``fastnn.cli.main``: --help of every
sub-command, exit status 2 with a one-line message for bad arguments and missing data, a short
real training run (MNIST, --limit) with its --out artefacts, and the quick bench; plus the
package's edges: ``python -m fastnn`` works and nothing in fastnn imports ``fastnn.cli``."""
import json
import os
import re
import subprocess
import sys

import pytest

import fastnn
from fastnn import cli
from fastnn.benchmarks import cases
from fastnn.models import load_model
from fnn_testutil import mnist_dir

_PACKAGE_PARENT = os.path.dirname(os.path.dirname(fastnn.__file__))


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"], ["bench", "--help"]])
def test_help(capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == 0 and out.startswith("usage: fastnn") and err == ""


def test_train_help_lists_the_options(capsys):
    _, out, _ = run(capsys, "train", "--help")
    for opt in ("--model", "--optimizer", "--lr", "--epochs", "--batch-size", "--init",
                "--activation", "--dropout", "--seed", "--threads", "--data-dir",
                "--val-fraction", "--limit", "--out", "--verbose", "--quiet"):
        assert opt in out


def test_bench_help_points_to_the_full_suite(capsys):
    _, out, _ = run(capsys, "bench", "--help")
    assert "pytest bench/ --benchmark-only" in " ".join(out.split())


def test_study_lists_its_commands(capsys):
    code, out, err = run(capsys, "study", "--help")
    assert code == 0 and "optimizers" in out and "init" in out and err == ""


def test_study_without_a_study_prints_help_and_exits_2(capsys):
    code, out, _ = run(capsys, "study")
    assert code == 2 and out.startswith("usage: fastnn study")


def test_python_dash_m_fastnn():
    # cwd: the directory holding the imported (compiled) package, never the source tree,
    # which "-m" would put first on sys.path.
    res = subprocess.run([sys.executable, "-m", "fastnn", "--version"], capture_output=True,
                         text=True, timeout=120, cwd=_PACKAGE_PARENT)
    assert res.returncode == 0 and res.stdout.startswith("fastnn ")


def test_nothing_in_fastnn_imports_the_command_line():
    # Every module of the package (the studies and benchmarks included) imports without
    # pulling in fastnn.cli, and without torch or pytest (optional / test-only).
    code = """
import importlib, pkgutil, sys, fastnn
def walk(package):
    for m in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
        if m.name not in ("fastnn.cli", "fastnn.__main__"):   # the command line itself
            module = importlib.import_module(m.name)
            if m.ispkg:
                walk(module)
walk(fastnn)
assert "fastnn.studies.init" in sys.modules and "fastnn.benchmarks.cases" in sys.modules
bad = sorted(n for n in sys.modules
             if n.startswith("fastnn.cli") or n.split(".")[0] in ("torch", "pytest"))
print(" ".join(bad) or "clean")
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, cwd=_PACKAGE_PARENT)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "clean"


def test_no_arguments_means_train(capsys, monkeypatch):
    seen = {}

    def fake_train(args):
        seen.update(vars(args))
        return 0

    monkeypatch.setattr(cli.train, "run", fake_train)
    assert cli.main([]) == 0
    assert seen["command"] == "train" and seen["model"] == "mlp" and seen["optimizer"] == "adam"


@pytest.mark.parametrize("argv, needle", [
    (["bogus"], "invalid choice"),
    (["train", "--model", "rnn"], "--model"),
    (["train", "--epochs", "two"], "--epochs"),
    (["train", "--epochs", "0"], "--epochs"),
    (["train", "--batch-size", "-3"], "--batch-size"),
    (["train", "--lr", "-1"], "--lr"),
    (["train", "--lr", "nan"], "--lr"),
    (["train", "--dropout", "1.5"], "--dropout"),
    (["train", "--val-fraction", "1"], "--val-fraction"),
    (["train", "--init", "bogus"], "--init"),
    (["train", "--hidden", "256,x"], "--hidden"),
    (["train", "--threads", "0"], "--threads"),
    (["train", "--limit", "0"], "--limit"),
    (["train", "--verbose", "--quiet"], "not allowed"),
    (["bench", "--repeats", "0"], "--repeats"),
])
def test_bad_arguments_exit_2_with_one_line(capsys, argv, needle):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert needle in err


def test_missing_data_exits_2_naming_the_files(capsys, tmp_path):
    code, out, err = run(capsys, "train", "--data-dir", str(tmp_path), "--no-download", "--quiet")
    assert code == 2
    assert "train-images-idx3-ubyte" in err and str(tmp_path) in err
    assert len(err.strip().splitlines()) == 1
    # the advice is in command-line terms, not the library's keyword arguments
    assert "without --no-download" in err and "--data-dir" in err
    assert "download=True" not in err and "path=" not in err


def test_diverging_training_exits_1(capsys, monkeypatch):
    def diverge(args):
        raise cli.errors.TrainingDivergedError("loss became nan at epoch 1, batch 3")

    monkeypatch.setattr(cli.train, "run", diverge)
    code, _, err = run(capsys, "train")
    assert code == 1 and err.strip() == "fastnn train: loss became nan at epoch 1, batch 3"


def test_ctrl_c_exits_130(capsys, monkeypatch):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli.train, "run", interrupted)
    code, _, err = run(capsys, "train")
    assert code == 130 and "interrupted" in err


@pytest.mark.mnist
@pytest.mark.skipif(mnist_dir() is None, reason="needs MNIST in FASTNN_DATA")
def test_train_short_run_writes_artefacts(capsys, tmp_path):
    out_dir = tmp_path / "run"
    code, out, err = run(capsys, "train", "--data-dir", mnist_dir(), "--limit", "1500",
                         "--epochs", "2", "--val-fraction", "0.2", "--threads", "1",
                         "--out", str(out_dir))
    assert code == 0, err
    m = re.search(r"test accuracy: ([0-9.]+)\s+test loss: ([0-9.]+)", out)
    assert m, out
    for name in ("history.csv", "history.json", "curves.png", "confusion.png", "model.npz"):
        assert (out_dir / name).stat().st_size > 0
    record = json.loads((out_dir / "history.json").read_text())
    assert "%.4f" % record["test"]["accuracy"] == m.group(1)
    assert "%.4f" % record["test"]["loss"] == m.group(2)
    assert record["epoch"] == [0, 1]
    assert len(record["history"]["val_accuracy"]) == 2
    assert record["config"]["train_samples"] == 1200
    assert float(m.group(1)) > 0.8          # 1200 images, 2 epochs: well above chance
    model = load_model(out_dir / "model.npz")
    assert model.epochs_completed == 2
    csv_rows = (out_dir / "history.csv").read_text().strip().splitlines()
    assert len(csv_rows) == 3
    assert (out_dir / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.mnist
@pytest.mark.skipif(mnist_dir() is None, reason="needs MNIST in FASTNN_DATA")
def test_train_cnn_quiet(capsys):
    code, out, err = run(capsys, "train", "--model", "cnn", "--data-dir", mnist_dir(),
                         "--limit", "300", "--quiet", "--optimizer", "sgd", "--lr", "0.05")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("test accuracy: ")


def test_bench_quick(capsys):
    code, out, err = run(capsys, "bench", "--repeats", "1", "--no-torch", "--threads", "1")
    assert code == 0, err
    rows = [l for l in out.splitlines() if l.startswith("| ") and "---" not in l]
    assert rows[0].startswith("| kernel | shape | fastnn | NumPy twin | twin / fastnn |")
    assert "torch" not in rows[0]
    # one row per quick case of the shared table, in its order, each with a time per impl
    quick = cases.quick()
    assert [r.split(" | ")[:2] for r in rows[1:]] == [["| " + c.kernel, c.shape] for c in quick]
    assert all(re.search(r"\d (s|ms|us) \| .*\d (s|ms|us) \| [0-9.]+x \|$", r) for r in rows[1:])
    assert {c.suite for c in quick} >= {"gemm", "conv", "pool", "optim"}
    assert "pytest bench/ --benchmark-only" in out
