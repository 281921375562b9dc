import os
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# tests/ (not the repository root, whose fastnn/ is uncompiled) on sys.path, so test modules can
# import the shared helpers in fnn_testutil.py
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

settings.register_profile(
    "fastnn", max_examples=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fastnn"))


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture
def run_child():
    """Run Python code in a child process, so a segfault fails the test instead of killing it.

    The child starts in the directory that holds the *imported* fastnn package, never in the
    source tree: ``python -c`` puts the working directory first on sys.path, and the uncompiled
    source tree there would shadow the installed, compiled package.
    """
    import subprocess
    import sys
    import textwrap

    import fastnn

    def run(code, env_extra=None, timeout=300, env=None):
        env = dict(os.environ if env is None else env)
        env.update(env_extra or {})
        return subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                              capture_output=True, text=True, timeout=timeout, env=env,
                              cwd=os.path.dirname(os.path.dirname(fastnn.__file__)))
    return run
