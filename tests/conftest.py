import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "fastnn", max_examples=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fastnn"))


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def mnist_dir():
    """The MNIST directory for tests: FASTNN_DATA if it holds the IDX files, else None."""
    path = os.environ.get("FASTNN_DATA")
    if path and os.path.exists(os.path.join(path, "train-images-idx3-ubyte.gz")) or (
            path and os.path.exists(os.path.join(path, "train-images-idx3-ubyte"))):
        return path
    return None


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
