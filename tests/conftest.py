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
