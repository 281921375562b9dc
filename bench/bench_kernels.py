"""Every kernel benchmark: each case of ``fastnn.benchmarks.cases`` (the table ``fastnn bench``
draws its quick cases from) timed for fastnn, its NumPy twin and torch.

    pytest bench/bench_kernels.py --benchmark-only                 # all kernels
    pytest bench/bench_kernels.py --benchmark-only -k "gemm"       # one suite: gemm, conv,
                                                                   # pool, activations, optim, rows

The cases, their shapes and their FLOP and byte counts are described in
``fastnn/benchmarks/cases.py``.  Thread counts are pinned for every implementation by
bench/conftest.py (FASTNN_BENCH_THREADS, default 2).
"""
import pytest

from fastnn.benchmarks.cases import CASES, IMPLS


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("case", CASES, ids=str)
def test_kernel(run_case, case, impl):
    run_case(case, impl)
