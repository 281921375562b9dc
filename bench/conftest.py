"""Benchmarks (pytest-benchmark).  Not part of the test run: on a quiet machine,

    pytest bench/ --benchmark-only --benchmark-json bench/results.json
    python bench/report.py bench/results.json --markdown bench/results.md --png docs/bench.png

Every benchmark sets ``benchmark.group`` (kernel and shape) and ``benchmark.extra_info['impl']``
(fastnn / numpy-twin / torch) so ``report.py`` can put the implementations side by side.
"""
import os

import pytest
from threadpoolctl import threadpool_limits

import fastnn
from fastnn.benchmarks.cases import torch_module


def pytest_configure(config):
    # Side-by-side comparisons are only fair at one thread count for everyone: fastnn, torch
    # and NumPy's BLAS (which runs the numpy-twin baselines).
    n = int(os.environ.get("FASTNN_BENCH_THREADS", "2"))
    fastnn.set_num_threads(n)
    torch = torch_module()
    if torch is not None:
        torch.set_num_threads(n)
    config.fastnn_blas_limit = threadpool_limits(n, user_api="blas")


@pytest.fixture
def run_case(benchmark):
    """``run_case(case, impl)``: time one case of ``fastnn.benchmarks.cases`` with one impl,
    tagged for report.py (group, impl, flops / bytes); skipped when it cannot run here."""
    def run(case, impl):
        benchmark.group = case.group
        benchmark.extra_info["impl"] = impl
        benchmark.extra_info.update(case.info())
        step = case.step(impl)
        if step is None:
            pytest.skip("no %s version of %s here (torch missing, or the case is compared "
                        "against NumPy only)" % (impl, case.group))
        benchmark.extra_info.update(getattr(step, "extra_info", {}))
        step()   # warm: first touch of the pages, workspaces, torch's lazy optimizer state
        benchmark(step)
    return run
