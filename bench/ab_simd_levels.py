"""The GEMM at each SIMD level this CPU has, in one process: best-of timings of a 1024^3
product and of the lab MLP's forward product (128x784 @ 784x256), levels alternating.

    PYTHONPATH=. python bench/ab_simd_levels.py [rounds] [threads ...]    # defaults: 2, 1 2

Best-of (not medians): on a shared VM the 2-thread medians of bench/targets_gemm.py vary more
between runs than the levels differ, while the best of several calls shows what each level's
kernel can do.  It prints `lscpu`'s model, each level's micro-kernel and blocking, and GFLOP/s.
"""
import sys
import time

import numpy as np

import fastnn
from fastnn import kernels
from fastnn.benchmarks.probes import cpu_model


def _best(f, calls, reps=8):
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(calls):
            f()
        best = min(best, (time.perf_counter() - t0) / calls)
    return best


def main(rounds=2, threads=(1, 2)):
    rng = np.random.default_rng(0)
    big = rng.random((1024, 1024), dtype=np.float32)
    big_out = np.empty_like(big)
    x = rng.random((128, 784), dtype=np.float32)
    w = rng.random((784, 256), dtype=np.float32)
    out = np.empty((128, 256), np.float32)
    levels = fastnn.cpu_simd_levels()
    saved = fastnn.get_simd(), fastnn.get_num_threads()
    print("CPU: %s; levels %s" % (cpu_model(), ", ".join(levels)))
    try:
        for level in levels:
            fastnn.set_simd(level)
            cfg = kernels.gemm_config("float32")
            print("%-7s micro-kernel %dx%d, MC %d, KC %d, NC %d"
                  % (level, cfg["mr"], cfg["nr"], cfg["mc"], cfg["kc"], cfg["nc"]))
        for nt in threads:
            fastnn.set_num_threads(nt)
            for _ in range(rounds):
                for level in levels:
                    fastnn.set_simd(level)
                    t_big = _best(lambda: kernels.matmul(big, big, out=big_out), 1)
                    t_mlp = _best(lambda: kernels.matmul(x, w, out=out), 20)
                    print("%d thread(s) %-7s 1024^3 %6.1f GFLOP/s   128x784x256 %6.1f GFLOP/s"
                          % (nt, level, 2 * 1024 ** 3 / t_big / 1e9,
                             2 * 128 * 784 * 256 / t_mlp / 1e9))
    finally:
        fastnn.set_simd(saved[0])
        fastnn.set_num_threads(saved[1])


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    main(args[0] if args else 2, tuple(args[1:]) or (1, 2))
