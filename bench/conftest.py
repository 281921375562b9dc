"""Benchmarks (pytest-benchmark).  Not part of CI's test run: run them on a quiet machine with

    pytest bench/ --benchmark-json bench/results.json
    python bench/report.py bench/results.json --markdown bench/results.md --png docs/bench.png

Every benchmark sets ``benchmark.group`` (kernel and shape) and ``benchmark.extra_info['impl']``
(fastnn / numpy-twin / torch) so ``report.py`` can put implementations side by side.
"""
import os

import pytest

import fastnn


def pytest_configure(config):
    # Side-by-side comparisons are only fair at one thread count for everyone.
    n = int(os.environ.get("FASTNN_BENCH_THREADS", "2"))
    fastnn.set_num_threads(n)
    try:
        import torch
        torch.set_num_threads(n)
    except ImportError:
        pass
    try:
        from threadpoolctl import threadpool_limits
        # NumPy's BLAS runs the numpy-twin baselines with the same number of threads.
        config._fastnn_blas_limit = threadpool_limits(n, user_api="blas")
    except ImportError:
        pass


def torch_or_skip():
    return pytest.importorskip("torch")


IMPLS = ["fastnn", "numpy-twin", "torch"]
