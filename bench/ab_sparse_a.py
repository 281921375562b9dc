"""A/B timing of the GEMM's zero-skipping path (``set_gemm_sparse_a``): 'auto' against 'off'.

    FASTNN_DATA=path/to/mnist python bench/ab_sparse_a.py [--threads 1] [--calls 300]
    FASTNN_DATA=path/to/mnist python bench/ab_sparse_a.py --epochs 3 [--threads 2]

Products (default): the lab MLP's first-layer products on batches of 128 shuffled MNIST training
images, a new batch before each call as in training (forward ``matmul_bias`` with ReLU, weight
gradient ``x^T @ dz``, float32 and float64),
128 x 256 x 128 products with random A at 20%, 30% and 50% nonzero, and a dense 256^3.  Each is
timed with the mode 'off' and 'auto' in ``--blocks`` alternating blocks each of ``--calls`` calls
(median of each block), in one process; it prints the best block of each, the median over the
pairs of blocks of their ratio, whether 'auto' took the path and whether the two results are the
same bits.

``--sweep``: instead, 'always' against 'off' on random A at 10-50% nonzero, the lab MLP's two
hidden layers' shapes as forward products and as weight gradients (where each path breaks
even).  ``--epochs N``: instead, N rounds of one lab-MLP epoch (``Sequential.fit``, 469 batches
of 128, Adam, as ``targets_training.py``) with 'auto' and with 'off' (and torch's epoch when
installed), alternating; prints each one's best and median.
Prints the CPU model and SIMD level first.
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

import fastnn
from fastnn import data, datasets, kernels
from fastnn.benchmarks.probes import cpu_model
from fastnn.kernels import _gemm


def _median_us(f, calls, before=None):
    """Median of ``calls`` timed calls of f; ``before`` (untimed) runs ahead of each."""
    f()
    ts = []
    for _ in range(calls):
        if before is not None:
            before()
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts) * 1e6


class FreshBatches:
    """A buffer that ``next()`` fills with the next of ``count`` batches of 128 shuffled rows
    of ``x``, as training gives each call a new batch (the zeros fall elsewhere every time: a
    kernel's branches cannot learn one batch's pattern); ``reset()`` goes back to the first."""

    def __init__(self, x, rng, count=64, dtype=np.float32):
        rows = rng.permutation(len(x))[:128 * count]
        self.batches = x[rows].astype(dtype).reshape(count, 128, x.shape[1])
        self.buf = self.batches[0].copy()
        self.i = 0

    def next(self):
        self.i = (self.i + 1) % len(self.batches)
        np.copyto(self.buf, self.batches[self.i])

    def reset(self):
        self.i = 0
        np.copyto(self.buf, self.batches[0])


def _bits(x):
    return x.view(np.int32 if x.dtype == np.float32 else np.int64)


def compare(name, f, calls, blocks, fresh=None):
    """'off' against 'auto' on f; ``fresh``: a FreshBatches that f reads, refilled before each
    call (reset for the bits compared)."""
    res = {"off": [], "auto": []}
    outs, took = {}, False
    for mode in ("off", "auto") * blocks:
        kernels.set_gemm_sparse_a(mode)
        before = _gemm._sparse_a_calls()
        if fresh is not None:
            fresh.reset()
        outs[mode] = np.array(f(), copy=True)
        took = took or (mode == "auto" and _gemm._sparse_a_calls() > before)
        res[mode].append(_median_us(f, calls, None if fresh is None else fresh.next))
    kernels.set_gemm_sparse_a("auto")
    off, auto = min(res["off"]), min(res["auto"])
    pairs = statistics.median(o / a for o, a in zip(res["off"], res["auto"]))
    print("%-30s off %8.1f us  auto %8.1f us  off/auto %.2f (pairs: median %.2f)  "
          "zero-skipping %-3s  same bits %s"
          % (name, off, auto, off / auto, pairs, "yes" if took else "no",
             np.array_equal(_bits(outs["off"]), _bits(outs["auto"]))))


def products(calls, blocks):
    (x, _), _ = datasets.load_mnist(download=False, verbose=False)
    x = data.preprocess_images(x, flatten=True)
    rng = np.random.default_rng(0)
    fresh = FreshBatches(x, rng)
    xb = fresh.buf
    print("MNIST batches: %.1f%% nonzero; each call a new batch of 128 (%d in turn)"
          % (100 * np.count_nonzero(fresh.batches) / fresh.batches.size, len(fresh.batches)))
    w = (rng.standard_normal((784, 256)) * 0.05).astype(np.float32)
    b = rng.standard_normal(256).astype(np.float32)
    dz = rng.standard_normal((128, 256)).astype(np.float32)
    y, dw = np.empty((128, 256), np.float32), np.empty((784, 256), np.float32)
    compare("x @ W + b, relu  128x784x256", lambda: kernels.matmul_bias(
        xb, w, b, activation="relu", out=y), calls, blocks, fresh)
    compare("x^T @ dz         784x128x256", lambda: kernels.matmul(
        xb, dz, trans_a=True, out=dw), calls, blocks, fresh)
    fresh64 = FreshBatches(x, np.random.default_rng(0), dtype=np.float64)
    x64, w64, dz64 = fresh64.buf, w.astype(np.float64), dz.astype(np.float64)
    compare("x @ W   float64  128x784x256", lambda: kernels.matmul(x64, w64), calls, blocks,
            fresh64)
    compare("x^T @ dz float64 784x128x256", lambda: kernels.matmul(x64, dz64, trans_a=True),
            calls, blocks, fresh64)
    for density in (0.2, 0.3, 0.5):
        h = rng.standard_normal((128, 256)).astype(np.float32)
        h[rng.random(h.shape) >= density] = 0
        w2 = rng.standard_normal((256, 128)).astype(np.float32)
        compare("128x256x128, %d%% nonzero" % (100 * density),
                lambda h=h, w2=w2: kernels.matmul(h, w2), calls, blocks)
    a = rng.standard_normal((256, 256)).astype(np.float32)
    compare("dense 256^3", lambda: kernels.matmul(a, a), calls, blocks)


def sweep(calls, blocks):
    """'always' against 'off' on random A at each density, for the row path (a forward product
    ``a @ b``) and the column scan (a weight gradient ``a^T @ dz``): where each breaks even.
    Each call gets the next of 16 random A (the zeros fall elsewhere every time, as in
    training)."""
    rng = np.random.default_rng(1)
    for m, k, n, trans in ((128, 784, 256, False), (128, 256, 128, False),
                           (784, 128, 256, True), (256, 128, 128, True)):
        # op(A) is m x k: A itself is k x m when transposed
        b = rng.standard_normal((k, n)).astype(np.float32)
        for density in (0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5):
            shape = (k, m) if trans else (m, k)
            pool = []
            for _ in range(16):
                a = rng.standard_normal(shape).astype(np.float32)
                a[rng.random(shape) >= density] = 0
                pool.append(a)
            turn = [0]

            def call(b=b, pool=pool, trans=trans, turn=turn):
                turn[0] = (turn[0] + 1) % len(pool)
                return kernels.matmul(pool[turn[0]], b, trans_a=trans)
            res = {"off": [], "always": []}
            for mode in ("off", "always") * blocks:
                kernels.set_gemm_sparse_a(mode)
                res[mode].append(_median_us(call, calls))
            kernels.set_gemm_sparse_a("auto")
            pairs = statistics.median(o / a_ for o, a_ in zip(res["off"], res["always"]))
            print("%s %dx%dx%d, %2d%% nonzero: off %7.1f us  always %7.1f us  off/always "
                  "(pairs) %.2f" % ("a^T@b" if trans else "a@b  ", m, k, n, 100 * density,
                                    min(res["off"]), min(res["always"]), pairs))


def epochs(rounds):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import targets_training as tt
    x, y = tt.load("mlp", None)
    runs = {"auto": tt.fastnn_epoch("mlp", x, y), "off": tt.fastnn_epoch("mlp", x, y)}
    if tt.torch is not None:
        tt.torch.set_num_threads(fastnn.get_num_threads())
        runs["torch"] = tt.torch_epoch("mlp", x, y)

    def timed(name):
        kernels.set_gemm_sparse_a("off" if name == "off" else "auto")
        t = time.perf_counter()
        runs[name]()
        return time.perf_counter() - t
    for name in runs:                                   # warm-up epoch each
        timed(name)
    times = {name: [] for name in runs}
    for _ in range(rounds):
        for name in runs:
            times[name].append(timed(name))
    kernels.set_gemm_sparse_a("auto")
    for name, t in times.items():
        print("%-6s epoch best %.3f s  median %.3f s  (all: %s)" % (
            name, min(t), statistics.median(t), " ".join("%.3f" % v for v in t)))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--calls", type=int, default=300)
    p.add_argument("--blocks", type=int, default=4, help="blocks of calls per mode")
    p.add_argument("--epochs", type=int, default=0)
    p.add_argument("--sweep", action="store_true",
                   help="'always' vs 'off' on random A at 10-50%% nonzero (the break-even)")
    args = p.parse_args(argv)
    fastnn.set_num_threads(args.threads)
    print("CPU: %s; fastnn SIMD level %s; %d thread(s)" % (cpu_model(), fastnn.get_simd(),
                                                          args.threads))
    if args.epochs:
        epochs(args.epochs)
    elif args.sweep:
        sweep(args.calls, args.blocks)
    else:
        products(args.calls, args.blocks)


if __name__ == "__main__":
    main()
