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


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture
def run_child():
    """``fnn_testutil.run_child``: Python code in a child process, so a segfault fails the test
    instead of killing pytest."""
    return fnn_testutil.run_child
