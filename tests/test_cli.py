"""The ``fastnn`` command, run in-process through ``fastnn.cli.main``: --help of every
sub-command, exit status 2 with a one-line message for bad arguments and missing data, a short
real training run (MNIST, --limit) with its --out artefacts, and the quick bench; plus the
package's edges: ``python -m fastnn`` works and nothing in fastnn imports ``fastnn.cli``."""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import fastnn
from fastnn import cli
from fastnn.benchmarks import cases
from fastnn.models import load_model
from fnn_testutil import PACKAGE_PARENT, mnist_dir



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
    res = subprocess.run([sys.executable, "-m", "fastnn", "--version"], capture_output=True,
                         text=True, timeout=120, cwd=PACKAGE_PARENT)
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
                         timeout=300, cwd=PACKAGE_PARENT)
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
    # issue 11: silently accepted or ignored before
    (["train", "--hidden", ""], "--hidden"),
    (["train", "--hidden", "5,,5"], "--hidden"),
    (["train", "--hidden", "5,-1"], "--hidden"),
    (["train", "--model", "cnn", "--hidden", "64"], "--hidden"),
    (["train", "--out", ""], "--out"),
    (["train", "--lr", "1e300"], "--lr must be at most 1000"),
    (["train", "--lr", "inf"], "--lr"),
    (["train", "--threads", "100000"], "--threads must be between 1 and"),
    (["bench", "--threads", "100000"], "--threads must be between 1 and"),
    (["study", "optimizers", "--threads", "100000"], "--threads must be between 1 and"),
    (["train", "--resume", "no-such-file.npz"], "--resume"),
])
def test_bad_arguments_exit_2_with_one_line(capsys, argv, needle):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert needle in err


def test_missing_data_exits_2_naming_the_files(capsys, tmp_path):
    code, out, err = run(capsys, "train", "--data-dir", str(tmp_path), "--no-download", "--quiet")
    assert code == 2
    assert "train-images-idx3-ubyte" in err and str(tmp_path) in err and "not found" in err
    assert len(err.strip().splitlines()) == 1
    # an explicit --data-dir is the only place looked; the advice is in command-line terms
    assert "A --data-dir is the only place looked" in err and "run without --data-dir" in err
    assert "download=True" not in err and "path=" not in err


def test_explicit_data_dir_never_falls_back_to_the_cache(capsys, tmp_path):
    """Issue 11: README's "Run" cached MNIST in ~/.cache/fastnn, and then "Test" found it
    there although the test passed --data-dir.  With every file in the cache (here junk that
    the old loader would read, and reject with a checksum error naming the cache), an empty
    --data-dir still means: not found there."""
    from fastnn import datasets
    cache = datasets.cache_dir("mnist")          # in the test's own HOME (tests/conftest.py)
    cache.mkdir(parents=True)
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        (cache / stem).write_bytes(b"junk")
    empty = tmp_path / "empty"
    empty.mkdir()
    for extra in ([], ["--no-download"]):
        code, _, err = run(capsys, "train", "--data-dir", str(empty), "--quiet", *extra)
        assert code == 2 and "not found" in err and "does not match" not in err, err
        assert "Looked in %s (--data-dir)." % empty in err


def test_tests_run_with_an_empty_home_and_cache():
    """tests/conftest.py: HOME and XDG_CACHE_HOME are a fresh temporary directory for every
    test (and its children), and no FASTNN_* setting but FASTNN_DATA and the build switches
    reaches a test."""
    import tempfile
    from fastnn import datasets
    home = os.environ["HOME"]
    assert home.startswith(tempfile.gettempdir()) and os.listdir(home) == []
    assert str(datasets.cache_dir("mnist")).startswith(home)
    assert not datasets.cache_dir("mnist").exists()
    assert not [k for k in os.environ if k.startswith("FASTNN_") and k not in (
        "FASTNN_DATA", "FASTNN_NO_OPENMP", "FASTNN_NATIVE", "FASTNN_EXTENSIONS")]


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
    # 1200 images, 2 epochs: well above chance (0.1).  Seeds 0-3 give 0.796-0.807 with the
    # counter-based dropout masks and 0.798-0.807 with the former ones: 0.8 was the median
    assert float(m.group(1)) > 0.75
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


# --------------------------------------------------------------------------- issue 11
def test_train_help_states_each_default_once(capsys):
    _, out, _ = run(capsys, "train", "--help")
    text = " ".join(out.split())
    assert "(default: None)" not in text and "(default: False)" not in text
    assert "(default 5 mlp / 1 cnn) (default" not in text
    for phrase in ("epochs (default: 5 mlp / 1 cnn)", "mini-batch size (default: 128 mlp / 64 cnn)",
                   "dropout rate (default: 0.2 mlp / 0.5 cnn)", "(default: 256,128)",
                   "default: glorot_uniform)", "--checkpoint PATH", "--resume PATH"):
        assert phrase in text, phrase
    _, out, _ = run(capsys, "bench", "--help")
    assert "(default: None)" not in " ".join(out.split())


@pytest.fixture
def tiny_mnist(monkeypatch):
    """``datasets.load_mnist`` replaced by 300 + 60 random 28x28 images (fast, no files);
    returns the number of calls."""
    from fastnn import datasets
    calls = []

    def fake(path=None, download=True, verbose=True):
        calls.append(path)
        rng = np.random.default_rng(0)
        return ((rng.integers(0, 256, (300, 28, 28), dtype=np.uint8),
                 rng.integers(0, 10, 300).astype(np.uint8)),
                (rng.integers(0, 256, (60, 28, 28), dtype=np.uint8),
                 rng.integers(0, 10, 60).astype(np.uint8)))

    monkeypatch.setattr(datasets, "load_mnist", fake)
    return calls


TINY = ("--hidden", "16", "--batch-size", "50", "--threads", "1", "--quiet")


@pytest.mark.parametrize("bad", ["file", "under_a_file", "read_only"])
def test_out_is_checked_before_any_data_is_loaded(capsys, tmp_path, tiny_mnist, bad):
    """Issue 11: --out naming a file or an unwritable directory failed after the whole run."""
    (tmp_path / "f").write_text("x")
    if bad == "read_only":
        if os.geteuid() == 0:
            pytest.skip("root writes into a read-only directory")
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        target = ro / "run"
    else:
        target = tmp_path / "f" if bad == "file" else tmp_path / "f" / "run"
    code, _, err = run(capsys, "train", "--out", str(target), *TINY)
    assert code == 2 and "--out" in err and len(err.strip().splitlines()) == 1, err
    assert tiny_mnist == []                             # refused before loading the data
    assert (tmp_path / "f").read_text() == "x"


def _files(d):
    return {n: (d / n).read_bytes() for n in sorted(os.listdir(d))}


def test_out_is_replaced_as_a_whole_or_not_at_all(capsys, tmp_path, tiny_mnist, monkeypatch):
    """Issue 11: Ctrl-C while the outputs were written left the new run's history beside the
    old run's model and figures.  Now the new files are staged, and an interrupt leaves the old
    run's files exactly as they were (and no staging directory); a completed write replaces
    them all, removes what the old manifest listed and the new run did not write, and keeps
    files that are not the runs'."""
    import json
    from fastnn import plotting
    out = tmp_path / "run"
    assert run(capsys, "train", "--out", str(out), "--epochs", "1", *TINY)[0] == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["files"] == sorted(cli.train.ARTEFACTS)
    (out / "notes.txt").write_text("mine")                       # the user's own file
    (out / "stale.png").write_text("old figure")                 # a file of the old run...
    manifest["files"].append("stale.png")                        # ...listed in its manifest
    (out / "manifest.json").write_text(json.dumps(manifest))
    before = _files(out)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(plotting, "plot_confusion_matrix", interrupted)   # after history.* is written
        code, _, err = run(capsys, "train", "--out", str(out), "--epochs", "2", *TINY)
    assert code == 130 and "interrupted" in err
    assert _files(out) == before                                  # not one byte changed
    assert run(capsys, "train", "--out", str(out), "--epochs", "2", *TINY)[0] == 0
    after = _files(out)
    assert sorted(after) == sorted(list(cli.train.ARTEFACTS) + ["manifest.json", "notes.txt"])
    assert after["notes.txt"] == b"mine"
    assert json.loads(after["history.json"])["epoch"] == [0, 1]
    assert json.loads(after["manifest.json"])["files"] == sorted(cli.train.ARTEFACTS)
    assert len(tiny_mnist) == 3


def test_checkpoint_and_resume_are_bit_identical(capsys, tmp_path, tiny_mnist):
    """--checkpoint saves every epoch; --resume continues it: 1 epoch, then 2 more after a
    resume, gives the same weights, optimizer state, history and test result as 3 epochs in
    one run (dropout masks, shuffling and Adam's state included)."""
    from fastnn.models import load_model
    ck = tmp_path / "run{1}.npz"                  # braces are literal, not a format field
    code, whole, err = run(capsys, "train", "--epochs", "3", "--out", str(tmp_path / "a"), *TINY)
    assert code == 0, err
    code, _, err = run(capsys, "train", "--epochs", "1", "--checkpoint", str(ck), *TINY)
    assert code == 0, err
    assert load_model(ck).epochs_completed == 1
    code, resumed, err = run(capsys, "train", "--epochs", "3", "--resume", str(ck),
                             "--checkpoint", str(ck), "--out", str(tmp_path / "b"), *TINY)
    assert code == 0, err
    assert resumed == whole                                      # the test accuracy and loss
    a, b = load_model(tmp_path / "a" / "model.npz"), load_model(tmp_path / "b" / "model.npz")
    assert load_model(ck).epochs_completed == 3 and b.epochs_completed == 3
    for p, q in zip(a.parameters(), b.parameters()):
        assert p.value.tobytes() == q.value.tobytes()
    sa, sb = a.optimizer.state_dict(), b.optimizer.state_dict()
    for k in sa["state"]:
        for name, v in sa["state"][k].items():
            assert np.array_equal(v, sb["state"][k][name]) and type(v) is type(sb["state"][k][name])
    assert a.history.batch_losses == b.history.batch_losses
    assert a.history["loss"] == b.history["loss"] and a.history.epoch == [0, 1, 2]


def test_resume_refuses_what_would_not_continue_the_run(capsys, tmp_path, tiny_mnist):
    ck = tmp_path / "ck.npz"
    assert run(capsys, "train", "--epochs", "1", "--checkpoint", str(ck), *TINY)[0] == 0
    saved = ck.read_bytes()
    cases = [
        ((*TINY, "--epochs", "1", "--checkpoint", str(ck)), "--resume"),   # would overwrite it
        ((*TINY, "--epochs", "2", "--resume", str(ck), "--lr", "0.01"), "--lr"),
        (("--hidden", "16", "--batch-size", "60", "--threads", "1", "--quiet", "--epochs", "2",
          "--resume", str(ck)), "--batch-size 50 (now 60)"),
        ((*TINY, "--epochs", "1", "--resume", str(ck)), "completed 1 epoch"),
    ]
    for argv, needle in cases:
        code, _, err = run(capsys, "train", *argv)
        assert code == 2 and needle in err and len(err.strip().splitlines()) == 1, (argv, err)
    assert ck.read_bytes() == saved
    other = tmp_path / "plain.npz"
    from fastnn import layers as L
    fastnn.Sequential([L.Dense(784, 10)]).save(other)
    code, _, err = run(capsys, "train", *TINY, "--epochs", "2", "--resume", str(other))
    assert code == 2 and "not written by 'fastnn train'" in err
