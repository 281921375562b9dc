"""Max-pooling benchmarks: fastnn vs its NumPy twin and torch.

    pytest bench/bench_pool.py --benchmark-json bench/pool.json
    python bench/report.py bench/pool.json

2x2 max pooling (stride 2) on 128x32x28x28 float32 (the first pooling layer of a small MNIST
CNN), forward only and forward + backward.  ``extra_info['bytes']`` is the minimum traffic
(forward: read x, write y and int64 argmax; backward: read dy and argmax, write dx), so
report.py prints effective GB/s.  Thread counts are pinned by bench/conftest.py.
"""
import numpy as np
import pytest

from fastnn import kernels, reference

SHAPE = (128, 32, 28, 28)
IMPLS = ["fastnn", "numpy-twin", "torch"]


def _problem():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(SHAPE).astype(np.float32)
    y_shape = SHAPE[:2] + (SHAPE[2] // 2, SHAPE[3] // 2)
    dy = rng.standard_normal(y_shape).astype(np.float32)
    nx, ny = x.size, dy.size
    fwd_bytes = 4 * nx + 4 * ny + 8 * ny
    bwd_bytes = 4 * ny + 8 * ny + 4 * nx
    return x, dy, fwd_bytes, bwd_bytes


def _tag(benchmark, group, impl, nbytes):
    benchmark.group = group
    benchmark.extra_info["impl"] = impl
    benchmark.extra_info["bytes"] = nbytes


@pytest.mark.parametrize("impl", IMPLS)
def test_maxpool_forward(benchmark, impl):
    x, _, fb, _ = _problem()
    _tag(benchmark, "maxpool 2x2 fwd 128x32x28x28", impl, fb)
    if impl in ("fastnn", "numpy-twin"):
        mod = kernels if impl == "fastnn" else reference
        benchmark(mod.maxpool2d_forward, x, 2, None)
    else:
        torch = pytest.importorskip("torch")
        tx = torch.from_numpy(x)
        with torch.no_grad():
            benchmark(torch.nn.functional.max_pool2d, tx, 2, 2, return_indices=True)


@pytest.mark.parametrize("impl", IMPLS)
def test_maxpool_forward_backward(benchmark, impl):
    x, dy, fb, bb = _problem()
    _tag(benchmark, "maxpool 2x2 fwd+bwd 128x32x28x28", impl, fb + bb)
    if impl in ("fastnn", "numpy-twin"):
        mod = kernels if impl == "fastnn" else reference

        def step():
            y, am = mod.maxpool2d_forward(x, 2, None)
            return mod.maxpool2d_backward(dy, am, x.shape)
        benchmark(step)
    else:
        torch = pytest.importorskip("torch")
        tx = torch.from_numpy(x).requires_grad_(True)
        tdy = torch.from_numpy(dy)

        def step():
            y, _ = torch.nn.functional.max_pool2d(tx, 2, 2, return_indices=True)
            return torch.autograd.grad(y, tx, tdy)
        benchmark(step)
