"""Helpers shared by the test modules.

pytest runs with --import-mode=importlib (the installed fastnn is what is tested), which keeps
tests/ off sys.path; tests/conftest.py puts this directory, and only it, on sys.path so the test
modules can ``from fnn_testutil import ...``.  The repository root (with the uncompiled fastnn
sources) stays off it.
"""
import contextlib
import os
import struct
import subprocess
import sys
import textwrap

import numpy as np

import fastnn

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
# Where a child process (python -c / -m) must start: beside the *imported* fastnn package, never
# in the source tree, which "-c"/"-m" would put first on sys.path and whose uncompiled fastnn/
# would shadow the installed, compiled package.
PACKAGE_PARENT = os.path.dirname(os.path.dirname(fastnn.__file__))


def mnist_dir():
    """The MNIST directory for tests: FASTNN_DATA if it holds the IDX files, else None."""
    path = os.environ.get("FASTNN_DATA")
    if path and any(os.path.exists(os.path.join(path, "train-images-idx3-ubyte" + ext))
                    for ext in (".gz", "")):
        return path
    return None


def layout(x, kind):
    """The same values as x in another memory layout (the kernels must not care):
    "C", "F" (Fortran order), "sliced" (every other element of a larger array), "reversed"
    (negative strides) or "readonly" (a C-ordered copy that cannot be written)."""
    if kind == "C":
        return np.ascontiguousarray(x)
    if kind == "readonly":
        ro = np.array(x, order="C", copy=True)
        ro.flags.writeable = False
        return ro
    if kind == "F":
        return np.asfortranarray(x)
    if kind == "sliced":
        big = np.zeros(tuple(2 * s for s in x.shape), dtype=x.dtype)
        view = big[(slice(None, None, 2),) * x.ndim]
        view[...] = x
        return view
    if kind == "reversed":
        rev = np.ascontiguousarray(x[(slice(None, None, -1),) * x.ndim])
        return rev[(slice(None, None, -1),) * x.ndim]
    raise AssertionError(kind)


@contextlib.contextmanager
def simd(level):
    """Run the block with every kernel at SIMD ``level`` ('generic', 'avx2', 'avx512'), then
    restore the level that was in use."""
    import fastnn
    previous = fastnn.set_simd(level)
    try:
        yield
    finally:
        fastnn.set_simd(previous)


def same_bits(a, b):
    """True when a and b are the same bits: arrays of one dtype and shape with identical bytes
    (so -0.0 differs from 0.0 and NaN equals the same NaN), Python floats with the same
    representation, or equal other values (None, ints)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype
                and a.shape == b.shape
                and np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes())
    if isinstance(a, float) or isinstance(b, float):
        return (isinstance(a, float) and isinstance(b, float)
                and struct.pack("<d", a) == struct.pack("<d", b))
    return a == b


# --------------------------------------------------------------------------- child processes
def run_child(code, env_extra=None, timeout=300, env=None):
    """Run Python ``code`` in a child process, so a segfault fails the test instead of killing
    pytest; returns the ``subprocess.CompletedProcess`` (text stdout/stderr).

    The child starts in the directory that holds the *imported* fastnn package, never in the
    source tree: ``python -c`` puts the working directory first on sys.path, and the uncompiled
    source tree there would shadow the installed, compiled package.  tests/ is appended to the
    child's sys.path (after the package), so it can import the shared test modules.
    """
    env = dict(os.environ if env is None else env)
    env.update(env_extra or {})
    prelude = "import sys; sys.path.append(%r)\n" % TESTS_DIR
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=PACKAGE_PARENT)


_CHILD_LOOP = """
import sys as _sys
for _label, _fn, _expected in CALLS:
    print("start\\t%s" % _label, flush=True)
    try:
        _fn()
    except BaseException as _e:
        _ok = isinstance(_e, _expected)
        print("%s\\t%s\\t%s" % ("raised" if _ok else "wrong", _label, type(_e).__name__),
              flush=True)
    else:
        print("returned\\t%s" % _label, flush=True)
print("done", flush=True)
"""


def assert_raise_in_child(setup, timeout=300, env_extra=None, allow=()):
    """Run calls that must raise, all in ONE child process, and check it survived them all.

    ``setup`` is Python source that defines ``CALLS``: a list of ``(label, fn, expected)``
    with unique labels, ``fn`` a zero-argument callable and ``expected`` an exception class or
    a tuple of them.  Each call runs in turn; the child reports what each did.  Asserts that
    the child exited 0 (a crash names the call that was running), and that every call raised
    what was expected, except the labels in ``allow`` (known findings: any outcome but a crash
    is accepted).  Returns ``{label: outcome}`` (outcome 'raised', 'wrong ...' or 'returned').
    """
    proc = run_child(setup + _CHILD_LOOP, env_extra=env_extra, timeout=timeout)
    outcome, running = {}, None
    for line in proc.stdout.splitlines():
        parts = line.split("\t")
        if parts[0] == "start":
            running = parts[1]
        elif parts[0] in ("raised", "returned"):
            outcome[parts[1]] = parts[0]
            running = None
        elif parts[0] == "wrong":
            outcome[parts[1]] = "wrong exception %s" % parts[2]
            running = None
    assert proc.returncode == 0 and proc.stdout.rstrip().endswith("done"), (
        "the child died (exit status %d) while running %r\nstderr: %s"
        % (proc.returncode, running, proc.stderr[-3000:]))
    failed = {k: v for k, v in outcome.items() if v != "raised" and k not in allow}
    assert not failed, "calls that did not raise what was expected: %s" % failed
    return outcome
