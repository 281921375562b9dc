"""Activation, softmax cross-entropy benchmarks: fastnn vs its NumPy twin and torch.

    pytest bench/bench_activations.py --benchmark-json bench/activations.json
    python bench/report.py bench/activations.json

float32, the shapes of the small MNIST models: 128x256 (a Dense hidden layer), 128x32x28x28 (the
first Conv2D's output, 3.2 M elements) and 128x10 (the logits).  Groups:

    relu fwd+bwd     y = relu(x); dx = relu_backward(dy, x)      read x, dy, x; write y, dx
    sigmoid fwd      y = sigmoid(x)                             read x; write y
    softmax CE       (loss, dlogits) from logits and int64 labels  read z, labels; write dlogits

Each call allocates its result, as the layers do (no ``out=``).  torch runs the same operations
without autograd where a functional form exists (``relu`` + ``threshold_backward``,
``sigmoid``); the cross-entropy is ``cross_entropy`` + ``autograd.grad``, which is how torch
gets both the loss and dlogits.  ``extra_info['bytes']`` is the minimum memory traffic, so
report.py prints effective GB/s.  Thread counts are pinned for all by bench/conftest.py.
"""
import numpy as np
import pytest

from fastnn import kernels, reference

IMPLS = ["fastnn", "numpy-twin", "torch"]
ELEMENTWISE_SHAPES = {"128x256": (128, 256), "128x32x28x28": (128, 32, 28, 28)}
CE_SHAPES = {"128x10": (128, 10), "128x256": (128, 256)}


def _tag(benchmark, group, impl, nbytes):
    benchmark.group = group
    benchmark.extra_info["impl"] = impl
    benchmark.extra_info["bytes"] = nbytes


def _data(shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    dy = rng.standard_normal(shape).astype(np.float32)
    return rng, x, dy


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("shape", list(ELEMENTWISE_SHAPES))
def test_relu_forward_backward(benchmark, shape, impl):
    _, x, dy = _data(ELEMENTWISE_SHAPES[shape])
    _tag(benchmark, "relu fwd+bwd %s" % shape, impl, 5 * x.nbytes)
    if impl in ("fastnn", "numpy-twin"):
        mod = kernels if impl == "fastnn" else reference

        def step():
            y = mod.relu_forward(x)
            return y, mod.relu_backward(dy, x)
        benchmark(step)
    else:
        torch = pytest.importorskip("torch")
        tx, tdy = torch.from_numpy(x), torch.from_numpy(dy)

        def step():
            y = torch.relu(tx)
            return y, torch.ops.aten.threshold_backward(tdy, tx, 0.0)
        with torch.no_grad():
            benchmark(step)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("shape", list(ELEMENTWISE_SHAPES))
def test_sigmoid_forward(benchmark, shape, impl):
    _, x, _ = _data(ELEMENTWISE_SHAPES[shape])
    _tag(benchmark, "sigmoid fwd %s" % shape, impl, 2 * x.nbytes)
    if impl in ("fastnn", "numpy-twin"):
        mod = kernels if impl == "fastnn" else reference
        benchmark(mod.sigmoid_forward, x)
    else:
        torch = pytest.importorskip("torch")
        tx = torch.from_numpy(x)
        with torch.no_grad():
            benchmark(torch.sigmoid, tx)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("shape", list(CE_SHAPES))
def test_softmax_cross_entropy(benchmark, shape, impl):
    rng, z, _ = _data(CE_SHAPES[shape])
    n, k = z.shape
    labels = rng.integers(0, k, n)
    _tag(benchmark, "softmax CE %s" % shape, impl, 2 * z.nbytes + labels.nbytes)
    if impl in ("fastnn", "numpy-twin"):
        mod = kernels if impl == "fastnn" else reference
        benchmark(mod.softmax_cross_entropy, z, labels)
    else:
        torch = pytest.importorskip("torch")
        tz = torch.from_numpy(z).requires_grad_(True)
        tl = torch.from_numpy(labels)

        def step():
            loss = torch.nn.functional.cross_entropy(tz, tl)
            (d,) = torch.autograd.grad(loss, tz)
            return loss.item(), d
        benchmark(step)
