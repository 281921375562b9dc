"""Issue 11's reproducers that are not about one module: thread counts (crashes before, each run
in a child process so a crash fails the test instead of killing pytest), the input-shape
messages of layers and losses, and the hostile-input table of docs/hostile-inputs.md, whose
every test reference must exist.  (The label and argmax races are tested beside their kernels:
tests/test_activations.py, tests/test_pool.py.)"""
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import fastnn
from fastnn import layers as L
from fnn_testutil import PACKAGE_PARENT

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))


def fastnn_command(*argv, env_extra=None, timeout=300):
    env = dict(os.environ)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "fastnn", *argv], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=PACKAGE_PARENT)


# --------------------------------------------------------------------------- threads
@pytest.mark.parametrize("argv", [
    ["train", "--threads", "100000", "--limit", "10", "--epochs", "1", "--quiet"],
    ["bench", "--threads", "100000", "--repeats", "1"],
    ["study", "optimizers", "--quick", "--threads", "100000", "--jobs", "1"],
])
def test_absurd_thread_count_on_the_command_line_exits_2(argv, tmp_path):
    """Issue 11: these were SIGSEGV (exit 139); `fastnn bench` still crashed after fastnn
    refused the count, because torch.set_num_threads(100000) ran first.  Now: one line naming
    --threads, exit status 2, before any data is loaded or any thread pool is sized."""
    res = fastnn_command(*argv, "--data-dir", str(tmp_path)) if argv[0] != "bench" \
        else fastnn_command(*argv)
    assert res.returncode == 2, (res.returncode, res.stderr[-2000:])
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and "--threads must be between 1 and" in err[0], res.stderr


def test_absurd_thread_settings_in_python_never_crash(run_child):
    """FASTNN_NUM_THREADS=100000 is clamped (with a warning) and the kernels run;
    set_num_threads(2**40) and set_num_threads(1000) are refused with ValueError."""
    res = run_child("""
        import warnings
        import numpy as np
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            import fastnn     # the environment is read at import
            n = fastnn.get_num_threads()
        y, arg = fastnn.kernels.maxpool2d_forward(np.ones((1, 1, 4, 4), np.float32), 2)
        dx = fastnn.kernels.maxpool2d_backward(np.ones_like(y), arg, (1, 1, 4, 4))
        out = fastnn.kernels.matmul(np.ones((3, 3), np.float32), np.ones((3, 3), np.float32))
        refused = []
        for bad in (2 ** 40, 1000 * fastnn._config.max_threads()):
            try:
                fastnn.set_num_threads(bad)
            except ValueError as e:
                refused.append("num_threads must be <=" in str(e))
        warned = any("FASTNN_NUM_THREADS=100000" in str(x.message) for x in w)
        print(n, fastnn._config.max_threads(), warned, y.sum(), dx.sum(), out.sum(), refused)
    """, env_extra={"FASTNN_NUM_THREADS": "100000"})
    assert res.returncode == 0, res.stderr[-2000:]
    n, cap, warned, ysum, dxsum, outsum, refused = res.stdout.split(" ", 6)
    assert n == cap and warned == "True"
    assert float(ysum) == 4.0 and float(dxsum) == 4.0 and float(outsum) == 27.0
    assert refused.strip() == "[True, True]"


@pytest.mark.parametrize("value", ["abc", "0", "-3", "2.5"])
def test_malformed_thread_variable_is_named_and_ignored_at_import(run_child, value):
    res = run_child("""
        import warnings
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            import fastnn
        print(fastnn.get_num_threads() == fastnn._config.available_cpus(),
              [str(x.message) for x in w if "OMP_NUM_THREADS" in str(x.message)])
    """, env_extra={"OMP_NUM_THREADS": value, "FASTNN_NUM_THREADS": "",
                                 "FASTNN_ADAPTIVE_THREADS": "0"})
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.startswith("True ") and "must be a positive integer" in res.stdout
    assert repr(value) in res.stdout and "ignored" in res.stdout


# --------------------------------------------------------------------------- shape messages
@pytest.mark.parametrize("layer, x, needles", [
    (lambda: L.Conv2D(3, 8, 3), (2, 1, 28, 28),
     ["in_channels = 3 channels", "got 1 channel: shape (2, 1, 28, 28)"]),
    (lambda: L.Conv2D(1, 8, 3), (2, 28, 28),
     ["x must be 4-D (N, C, H, W) with C = in_channels = 1", "need a channel axis: x[:, None]"]),
    (lambda: L.Conv2D(3, 8, 3), (2, 28, 28), ["in_channels = 3", "x[:, None]"]),
    (lambda: L.Conv2D(3, 8, 3), (3, 28, 28), ["needs a batch axis: x[None]"]),
    (lambda: L.Conv2D(3, 8, 3), (2, 28, 28, 3),
     ["got 28 channels", "channels-first (NCHW): x.transpose(0, 3, 1, 2)"]),
    (lambda: L.Dense(784, 10), (2, 28, 28),
     ["x must have shape (N, 784)", "got (2, 28, 28)", "Flatten()"]),
    (lambda: L.Dense(784, 10), (2, 100), ["x must have shape (N, 784)", "got (2, 100)"]),
])
def test_input_shape_messages_say_what_is_wrong(layer, x, needles):
    """Issue 11: Conv2D(3, 8, 3) on (2, 1, 28, 28) said "x must have shape (N, 3, N, N)"; a
    (N, 28, 28) batch got no hint to add a channel axis."""
    with pytest.raises(ValueError) as ei:
        layer().forward(np.zeros(x, np.float32))
    msg = str(ei.value)
    assert "(N, 3, N, N)" not in msg
    for needle in needles:
        assert needle in msg, (needle, msg)


@pytest.mark.parametrize("loss", ["mse", "mae"])
def test_regression_targets_are_checked_before_training(loss):
    """Issue 11: loss="mse" with y of shape (N,) for a 10-output model failed mid-training,
    naming the shapes of a batch.  Now fit refuses y up front, naming y and the model's
    output, with a hint for class ids; a (N,) target of a 1-output model is still fine."""
    rng = np.random.default_rng(0)
    x = rng.random((64, 4)).astype(np.float32)
    model = fastnn.Sequential([L.Dense(4, 10, seed=0)])
    calls = []
    with pytest.raises(ValueError) as ei:
        model.fit(x, rng.integers(0, 10, 64), loss=loss, batch_size=32, verbose=0,
                  callbacks=[lambda epoch, logs: calls.append(epoch)])
    msg = str(ei.value)
    assert "y must have shape (64, 10) to match the model's output" in msg and "got (64,)" in msg
    assert "sparse_categorical_crossentropy" in msg and "one_hot(y, 10)" in msg
    assert model.epochs_completed == 0 and calls == []
    with pytest.raises(ValueError, match=r"y must have shape \(64, 10\).*got \(64, 3\)"):
        model.evaluate(x, rng.random((64, 3)), loss=loss)
    one = fastnn.Sequential([L.Dense(4, 1, seed=0)])
    one.fit(x, rng.random(64), loss=loss, batch_size=32, verbose=0)
    one.fit(x, rng.random((64, 1)), loss=loss, batch_size=32, verbose=0)


# --------------------------------------------------------------------------- the docs table
def test_hostile_inputs_table_names_existing_tests():
    """Every `tests/test_x.py::test_name` in docs/hostile-inputs.md is a test that exists (so
    the table cannot promise a check that is not made)."""
    doc = os.path.join(TESTS_DIR, "..", "docs", "hostile-inputs.md")
    if not os.path.exists(doc):
        pytest.skip("docs/ is not beside tests/ (an installed test run)")
    text = open(doc, encoding="utf-8").read()
    refs = set(re.findall(r"tests/(test_\w+\.py)::(\w+)", text))
    assert len(refs) >= 30, "the table lists %d tests" % len(refs)
    missing = []
    for module, name in sorted(refs):
        source = open(os.path.join(TESTS_DIR, module), encoding="utf-8").read()
        if not re.search(r"^def %s\(" % re.escape(name), source, re.M):
            missing.append("%s::%s" % (module, name))
    assert not missing, "docs/hostile-inputs.md names tests that do not exist: %s" % missing
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    # no row defers its item to another place
    assert rows and not [row for row in rows if "see issue" in row]
    for item in ("ModelCheckpoint", "NaN gradient", "run ids", "binary wheels", "gzip",
                 "FIFO", "--threads 100000"):
        assert any(item in row for row in rows), "no row covers %r" % item
