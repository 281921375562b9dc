"""Convolution benchmarks: fastnn (im2col + one batched GEMM) vs its NumPy twin and torch.

    pytest bench/bench_conv.py --benchmark-json bench/conv.json
    python bench/report.py bench/conv.json

The two convolutions of a small MNIST CNN at batch 128, float32, 3x3 kernels, padding 1:
``conv1`` 1 -> 32 channels on 128x1x28x28 and ``conv2`` 32 -> 64 on 128x32x14x14; each timed
forward only and forward + backward (dx, dw, db).  Groups are ``conv <fwd|fwd+bwd> <shape>``;
``extra_info['impl']`` is fastnn, numpy-twin or torch, ``extra_info['flops']`` counts 2 flops per
multiply-add (forward 1 GEMM, backward 2 more of the same size).  Thread counts are pinned for
every implementation by bench/conftest.py (FASTNN_BENCH_THREADS).
"""
import numpy as np
import pytest

from fastnn import kernels, reference

# (name, N, C, H, W, OC, k, padding)
CASES = [
    ("conv1 128x1x28x28 -> 32 3x3 pad1", 128, 1, 28, 28, 32, 3, 1),
    ("conv2 128x32x14x14 -> 64 3x3 pad1", 128, 32, 14, 14, 64, 3, 1),
]
IMPLS = ["fastnn", "numpy-twin", "torch"]


def _problem(case):
    _, n, c, h, w, oc, k, pad = case
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    wt = (rng.standard_normal((oc, c, k, k)) * 0.1).astype(np.float32)
    b = rng.standard_normal(oc).astype(np.float32)
    oh, ow = h + 2 * pad - k + 1, w + 2 * pad - k + 1
    dy = rng.standard_normal((n, oc, oh, ow)).astype(np.float32)
    flops = 2.0 * n * oc * oh * ow * c * k * k
    return x, wt, b, dy, pad, flops


def _tag(benchmark, group, impl, flops):
    benchmark.group = group
    benchmark.extra_info["impl"] = impl
    benchmark.extra_info["flops"] = flops


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_conv_forward(benchmark, case, impl):
    x, w, b, _, pad, flops = _problem(case)
    _tag(benchmark, "conv fwd " + case[0], impl, flops)
    if impl == "fastnn":
        benchmark(kernels.conv2d_forward, x, w, b, 1, pad)
    elif impl == "numpy-twin":
        benchmark(reference.conv2d_forward, x, w, b, 1, pad)
    else:
        torch = pytest.importorskip("torch")
        tx, tw, tb = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b)
        with torch.no_grad():
            benchmark(torch.nn.functional.conv2d, tx, tw, tb, 1, pad)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_conv_forward_backward(benchmark, case, impl):
    x, w, b, dy, pad, flops = _problem(case)
    _tag(benchmark, "conv fwd+bwd " + case[0], impl, 3 * flops)
    if impl in ("fastnn", "numpy-twin"):
        mod = kernels if impl == "fastnn" else reference

        def step():
            y = mod.conv2d_forward(x, w, b, 1, pad)
            return y, mod.conv2d_backward(dy, x, w, 1, pad)
        benchmark(step)
    else:
        torch = pytest.importorskip("torch")
        tx = torch.from_numpy(x).requires_grad_(True)
        tw = torch.from_numpy(w).requires_grad_(True)
        tb = torch.from_numpy(b).requires_grad_(True)
        tdy = torch.from_numpy(dy)

        def step():
            y = torch.nn.functional.conv2d(tx, tw, tb, 1, pad)
            return torch.autograd.grad(y, (tx, tw, tb), tdy)
        benchmark(step)
