"""A/B of two ways the convolution's GEMMs get their im2col operand, one process, alternating
blocks, CPU time.

    PYTHONPATH=. python bench/ab_conv_im2col.py [blocks] [threads] [old new]
    # defaults: 9 blocks, 1 thread, old 'im2col' (the materialised matrix), new 'gemm'

conv 32 -> 64, 3x3, padding 1, batch 128 (x 128x32x14x14), float32: forward (bias + ReLU),
backward, backward with need_dx=False.  old and new are settings of
fastnn.kernels._conv.set_conv_algorithm (same bits, only the path differs): 'im2col' reads a
materialised im2col matrix, 'packed' packs the GEMM's panels straight from x, 'gemm' (and
'auto' at this shape) reads them in the micro-kernels where they apply (float32 at an AVX-512
level: the masked loads of src_c/fnn_conv_masked.h, dw from src_c/fnn_conv_dw_inplace.h);
each block times 3
calls with time.process_time (CPU time of the process: at 1 thread less sensitive than wall time
to other jobs on a shared machine), blocks alternate in order, medians are printed.
OMP_WAIT_POLICY is set to passive unless the environment sets it.
"""
import os
import sys

os.environ.setdefault("OMP_WAIT_POLICY", "passive")   # before the OpenMP runtime starts

import time  # noqa: E402

import numpy as np  # noqa: E402

import fastnn  # noqa: E402
from fastnn.kernels import _conv  # noqa: E402


def main(blocks=9, threads=1, old="im2col", new="gemm"):
    fastnn.set_num_threads(threads)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 32, 14, 14)).astype(np.float32)
    w = rng.standard_normal((64, 32, 3, 3)).astype(np.float32)
    b = rng.standard_normal(64).astype(np.float32)
    dy = rng.standard_normal((128, 64, 14, 14)).astype(np.float32)
    ops = {"forward": lambda: _conv.conv2d_forward(x, w, b, 1, 1, "relu"),
           "backward": lambda: _conv.conv2d_backward(dy, x, w, 1, 1),
           "backward need_dx=False": lambda: _conv.conv2d_backward(dy, x, w, 1, 1,
                                                                   need_dx=False)}
    previous = _conv.set_conv_algorithm("auto")
    try:
        for name, f in ops.items():
            res = {old: [], new: []}
            for s in res:                                   # warm-up: workspaces, pages
                _conv.set_conv_algorithm(s)
                f()
            for blk in range(blocks):
                for s in ((old, new) if blk % 2 == 0 else (new, old)):
                    _conv.set_conv_algorithm(s)
                    t0 = time.process_time()
                    for _ in range(3):
                        f()
                    res[s].append((time.process_time() - t0) / 3 * 1e3)
            a, b = np.median(res[old]), np.median(res[new])
            print("%-24s %s %6.1f ms  %s %6.1f ms  speed-up %.2fx" % (name, old, a, new, b,
                                                                     a / b))
    finally:
        _conv.set_conv_algorithm(previous)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]), *sys.argv[3:5])
