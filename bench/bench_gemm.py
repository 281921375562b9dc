"""GEMM benchmarks: fastnn's C GEMM vs its NumPy twin (OpenBLAS) and torch, per shape.

    pytest bench/bench_gemm.py --benchmark-json bench/gemm.json
    python bench/report.py bench/gemm.json

Groups are ``matmul <shape>`` / ``matmul_bias <act> <shape>``; ``extra_info['impl']`` is fastnn,
numpy-twin or torch and ``extra_info['flops']`` the multiply-adds x 2, so report.py prints GFLOP/s.
Thread counts are pinned for every implementation by bench/conftest.py (FASTNN_BENCH_THREADS).
"""
import numpy as np
import pytest

from fastnn import kernels, reference


def torch_or_skip():
    return pytest.importorskip("torch")

# (name, M, K, N, trans_a, trans_b): the MLP at batch 128 (784-256-128-10), forward and
# backward (dW = x.T @ dy, dx = dy @ W.T), then square sizes.
SHAPES = [
    ("fwd 128x784@784x256", 128, 784, 256, False, False),
    ("fwd 128x256@256x128", 128, 256, 128, False, False),
    ("fwd 128x128@128x10", 128, 128, 10, False, False),
    ("dW 784x128@128x256 (x.T@dy)", 784, 128, 256, True, False),
    ("dx 128x256@256x784 (dy@W.T)", 128, 256, 784, False, True),
    ("square 256", 256, 256, 256, False, False),
    ("square 512", 512, 512, 512, False, False),
    ("square 1024", 1024, 1024, 1024, False, False),
    ("square 2048", 2048, 2048, 2048, False, False),
]
IMPLS = ["fastnn", "numpy-twin", "torch"]


def _operands(m, k, n, trans_a, trans_b, dtype=np.float32):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    return a, b


def _tag(benchmark, group, impl, flops):
    benchmark.group = group
    benchmark.extra_info["impl"] = impl
    benchmark.extra_info["flops"] = flops


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("shape", SHAPES, ids=[s[0] for s in SHAPES])
def test_matmul(benchmark, shape, impl):
    name, m, k, n, ta, tb = shape
    if name == "square 2048" and impl == "torch":
        pytest.skip("2048 is compared against NumPy only (keeps the run short)")
    a, b = _operands(m, k, n, ta, tb)
    out = np.empty((m, n), np.float32)
    _tag(benchmark, "matmul " + name, impl, 2.0 * m * n * k)
    if impl == "fastnn":
        benchmark(kernels.matmul, a, b, ta, tb, out)
    elif impl == "numpy-twin":
        benchmark(reference.matmul, a, b, ta, tb, out)
    else:
        torch = torch_or_skip()
        ta_, tb_ = torch.from_numpy(a), torch.from_numpy(b)
        ta_ = ta_.T if ta else ta_
        tb_ = tb_.T if tb else tb_
        tout = torch.from_numpy(out)
        benchmark(torch.matmul, ta_, tb_, out=tout)


FUSED = [("relu", 128, 784, 256), ("relu", 128, 256, 128), (None, 128, 128, 10),
         ("tanh", 128, 784, 256), ("sigmoid", 128, 784, 256)]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("case", FUSED, ids=["%s %dx%dx%d" % c for c in FUSED])
def test_matmul_bias(benchmark, case, impl):
    act, m, k, n = case
    x, w = _operands(m, k, n, False, False)
    b = np.random.default_rng(1).standard_normal(n).astype(np.float32)
    out = np.empty((m, n), np.float32)
    _tag(benchmark, "matmul_bias %s %dx%d@%dx%d" % (act, m, k, k, n), impl, 2.0 * m * n * k)
    if impl == "fastnn":
        benchmark(kernels.matmul_bias, x, w, b, act, out)
    elif impl == "numpy-twin":
        benchmark(reference.matmul_bias, x, w, b, act, out)
    else:
        torch = torch_or_skip()
        tx, tw, tb = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b)
        fn = {None: lambda z: z, "relu": torch.relu, "tanh": torch.tanh,
              "sigmoid": torch.sigmoid}[act]
        benchmark(lambda: fn(torch.addmm(tb, tx, tw)))
