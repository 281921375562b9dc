import os
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# tests/ (not the repository root, whose fastnn/ is uncompiled) on sys.path, so test modules can
# import the shared helpers in fnn_testutil.py and the kernel table in kernel_cases.py
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fnn_testutil  # noqa: E402  (needs the sys.path entry above)

settings.register_profile(
    "fastnn", max_examples=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fastnn"))


# Issue 11: no test depends on the user's HOME, cache or fastnn settings.  Kept: FASTNN_DATA (the
# test data, read through fnn_testutil.mnist_dir) and the build switches, which describe the
# build under test (tests/test_build.py reads FASTNN_NO_OPENMP).
_KEPT_ENV = ("FASTNN_DATA", "FASTNN_NO_OPENMP", "FASTNN_NATIVE", "FASTNN_EXTENSIONS")


def _user_settings():
    return [k for k in os.environ if k.startswith("FASTNN_") and k not in _KEPT_ENV]


for _name in _user_settings():      # before any test module imports fastnn
    del os.environ[_name]


@pytest.fixture(autouse=True)
def _hermetic_environment(tmp_path_factory, monkeypatch):
    """Every test, and every child process it starts, runs with HOME and XDG_CACHE_HOME in a
    fresh temporary directory (an empty dataset cache) and without the user's FASTNN_*
    settings."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    for name in _user_settings():
        monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def _inplace_split_always():
    """The GEMM's small and skinny products split over threads from a threshold measured on
    first use (timing: it differs between runs); every test runs with it at 0 instead, so a
    test on several threads takes the split path every time.  test_gemm.py's test of the
    measurement itself turns it back on."""
    from fastnn.kernels import _gemm   # here: the environment is cleaned before fastnn loads

    _gemm._set_inplace_split_min(0)
    yield
    _gemm._set_inplace_split_min(0)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture
def run_child():
    """``fnn_testutil.run_child``: Python code in a child process, so a segfault fails the test
    instead of killing pytest."""
    return fnn_testutil.run_child


@pytest.fixture
def each_simd_level():
    """Yields a function that runs a body at every SIMD level this CPU has, restoring the
    process-wide level afterwards (tests/test_gemm.py, tests/test_gemm_sparse.py)."""
    import fastnn      # here, not at the top: the environment is cleaned before fastnn loads

    saved = fastnn.get_simd()

    def run(body):
        for level in fastnn.cpu_simd_levels():
            fastnn.set_simd(level)
            body(level)
    try:
        yield run
    finally:
        fastnn.set_simd(saved)
