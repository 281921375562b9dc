"""A/B of the convolution's two ways to the input gradient dx: as a convolution of dy (the
default at stride 1 with at least DX_CONVOLUTION_MIN_CHANNELS input channels) against the
columns' gradient W^T @ dy followed by col2im, one process, alternating blocks, CPU time.

    PYTHONPATH=. python bench/ab_conv_dx.py [blocks] [threads]     # defaults: 7 blocks, 1

For each layer (float32, 3x3 padding 1 unless said, batch 32) it times conv2d_backward with
and without dx and prints the dx part (the difference) of each path: the columns path is forced
by setting fastnn.kernels._conv.DX_CONVOLUTION_MIN_CHANNELS out of reach.  The layers span the
input channels around the threshold, so the threshold's choice can be re-checked on any CPU.
Each block times 3 calls with time.process_time; blocks alternate in order; medians printed.
OMP_WAIT_POLICY is set to passive unless the environment sets it.
"""
import os
import sys

os.environ.setdefault("OMP_WAIT_POLICY", "passive")   # before the OpenMP runtime starts

import time  # noqa: E402

import numpy as np  # noqa: E402

import fastnn  # noqa: E402
from fastnn.benchmarks.probes import cpu_model  # noqa: E402
from fastnn.kernels import _conv  # noqa: E402

# (C, OC, H): input channels, output channels, image side
LAYERS = [(1, 32, 28), (2, 32, 28), (4, 32, 28), (8, 16, 28), (16, 32, 14), (32, 64, 14),
          (64, 64, 7)]


def _dx_ms(dy, x, w, reps=3):
    t0 = time.process_time()
    for _ in range(reps):
        _conv.conv2d_backward(dy, x, w, 1, 1)
    t1 = time.process_time()
    for _ in range(reps):
        _conv.conv2d_backward(dy, x, w, 1, 1, need_dx=False)
    t2 = time.process_time()
    return ((t1 - t0) - (t2 - t1)) / reps * 1e3


def main(blocks=7, threads=1):
    fastnn.set_num_threads(threads)
    print("CPU: %s; SIMD level %s; %d thread(s)" % (cpu_model(), fastnn.get_simd(), threads))
    rng = np.random.default_rng(0)
    threshold = _conv.DX_CONVOLUTION_MIN_CHANNELS
    try:
        for c, oc, h in LAYERS:
            x = rng.standard_normal((32, c, h, h)).astype(np.float32)
            w = rng.standard_normal((oc, c, 3, 3)).astype(np.float32)
            dy = rng.standard_normal((32, oc, h, h)).astype(np.float32)
            res = {"convolution": [], "columns": []}
            paths = {"convolution": 1, "columns": 10 ** 9}
            for blk in range(blocks + 1):
                order = list(paths) if blk % 2 == 0 else list(paths)[::-1]
                for path in order:
                    _conv.DX_CONVOLUTION_MIN_CHANNELS = paths[path]
                    ms = _dx_ms(dy, x, w)
                    if blk > 0:                        # block 0 warms up both
                        res[path].append(ms)
            conv, cols = np.median(res["convolution"]), np.median(res["columns"])
            print("C=%3d OC=%3d %2dx%-2d  dx: convolution %6.2f ms  columns + col2im %6.2f ms  "
                  "speed-up %.2fx%s" % (c, oc, h, h, conv, cols, cols / conv,
                                        "  (default)" if c >= threshold else ""))
    finally:
        _conv.DX_CONVOLUTION_MIN_CHANNELS = threshold


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
