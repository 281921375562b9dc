"""Every GEMM target of issue 10, measured on this machine: fastnn against NumPy (its BLAS) in
alternating blocks in one process, at the same thread count, with GFLOP/s and the share of this
machine's measured FMA peak.  A plain script (no pytest), for re-running in a quiet window:

    python bench/targets_gemm.py                # 2 threads, the SIMD level in use
    python bench/targets_gemm.py --quick        # 2 blocks per side, not 5 (about 40 s)
    python bench/targets_gemm.py --simd avx2    # another level (fastnn.set_simd)
    python bench/targets_gemm.py --cpu          # one thread, timed by CPU time: for a loaded
                                                # machine, where wall clocks mean little
    python bench/targets_gemm.py --json out.json

The peak is measured by fastnn.benchmarks.probes.peak_gflops (the compiled FMA-loop probe that
``fastnn bench roofline`` uses too): independent FMA chains per thread at the vector width of
the SIMD level in use, nothing else.  The timing is fastnn.benchmarks.timing.alternate (blocks
of back-to-back calls, fastnn and NumPy alternating, a pause before each block); the medians
are reported.
Thread counts are fixed before NumPy loads its BLAS (OPENBLAS_NUM_THREADS and friends) and again
with threadpoolctl when it is installed.
"""
import argparse
import os
import sys


def _args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="2 alternating blocks per side, not 5")
    p.add_argument("--threads", type=int, default=2, help="threads for fastnn and NumPy (2)")
    p.add_argument("--simd", default=None, help="fastnn SIMD level (default: the one in use)")
    p.add_argument("--cpu", action="store_true",
                   help="one thread, timed by process CPU time (for a loaded machine)")
    p.add_argument("--blocks", type=int, default=None, help="alternating blocks per side")
    p.add_argument("--json", default=None, help="also write the rows to this file")
    a = p.parse_args(argv)
    if a.cpu:
        a.threads = 1
    if a.threads < 1:
        p.error("--threads must be >= 1")
    return a


ARGS = _args()
# NumPy's BLAS reads its thread count when it is loaded: fix it before importing numpy.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = str(ARGS.threads)
os.environ["FASTNN_NUM_THREADS"] = str(ARGS.threads)

import numpy as np  # noqa: E402

import fastnn  # noqa: E402
from fastnn.benchmarks import probes  # noqa: E402
from fastnn.benchmarks.cases import matmul_steps  # noqa: E402
from fastnn.benchmarks.timing import alternate  # noqa: E402

try:  # optional: pins OpenBLAS's pool even if something loaded it first
    import threadpoolctl
except ImportError:  # threadpoolctl is a runtime dependency, but the script runs without it
    threadpoolctl = None


# (label, M, K, N, trans_a, trans_b, the speed fastnn must reach against NumPy, peak share)
# The conv products: conv 32->64, 3x3, pad 1, batch 64 on 14x14 (P = 196 pixels, N*P = 12544,
# C*kh*kw = 288), each as one product as issue 10 quotes them.
TARGETS = [
    ("MLP fwd x @ W", 128, 784, 256, False, False, 1.0, None),
    ("MLP dW = x^T @ dz", 784, 128, 256, True, False, 1.0, None),
    ("MLP dx = dz @ W^T", 128, 256, 784, False, True, 1.0, None),
    ("conv fwd W @ cols", 64, 288, 12544, False, False, 1.0, None),
    ("conv dW = dY @ cols^T", 64, 12544, 288, False, True, 1.0, None),
    ("conv dcols = W^T @ dY", 288, 64, 12544, True, False, 1.0, None),
    ("square 256", 256, 256, 256, False, False, 1.0, None),
    ("square 512", 512, 512, 512, False, False, 1.0, None),
    ("square 1024", 1024, 1024, 1024, False, False, 1.0, 0.75),
    ("square 2048", 2048, 2048, 2048, False, False, 1.0, 0.75),
    ("skinny 128x128x10", 128, 128, 10, False, False, 1.2, None),
]


# a start-to-end change of the measured peak beyond which the run is flagged
PEAK_DRIFT_WARN = 0.10


def measure_peak(level, threads, cpu):
    """float32 GFLOP/s of the FMA-loop probe at SIMD ``level`` (fastnn.benchmarks.probes, the
    one implementation shared with ``fastnn bench roofline``).  Returns (gflops, how)."""
    clock = "cpu" if cpu else "wall"
    try:
        gflops = probes.peak_gflops(level, threads=threads, seconds=0.5, clock=clock)
    except (ValueError, RuntimeError) as e:
        return None, "peak probe failed: %s" % e
    how = "fastnn.benchmarks.probes.peak_gflops(%r, threads=%d, clock=%r)" % (level, threads,
                                                                          clock)
    return gflops, how


def time_pair(fn_fast, fn_np, blocks, pause, min_seconds, cpu):
    """Median seconds per call of (fastnn, NumPy), alternating blocks."""
    s_fast, s_np = alternate(fn_fast, fn_np, blocks=blocks, pause=pause,
                             min_seconds=min_seconds)
    if cpu:
        return s_fast.cpu_median, s_np.cpu_median
    return s_fast.median, s_np.median


def main():
    args = ARGS
    if args.simd:
        fastnn.set_simd(args.simd)
    fastnn.set_num_threads(args.threads)
    limiter = threadpoolctl.threadpool_limits(args.threads) if threadpoolctl else None
    blocks = args.blocks or (2 if args.quick else 5)
    # --quick runs fewer blocks, not shorter ones: in blocks of 0.01 s the first milliseconds
    # after a pause or after NumPy's block (whose idle OpenBLAS threads busy-wait a while)
    # weighed so much that a quiet 2-core machine showed fastnn far slower than it is
    # (bench/README.md, stop 20).
    pause = 0.5
    min_seconds = 0.05
    level = fastnn.get_simd()
    cfg = fastnn.kernels.gemm_config()
    peak, peak_how = measure_peak(level, args.threads, args.cpu)

    blas = "?"
    if threadpoolctl:
        for info in threadpoolctl.threadpool_info():
            if info.get("user_api") == "blas":
                blas = "%s %s (%s)" % (info.get("internal_api"), info.get("version"),
                                       info.get("architecture"))
                break
    print("GEMM targets of issue 10, float32")
    print("CPU: %s; SIMD levels %s, fastnn runs %s (micro-kernel %dx%d, MC %d, KC %d, NC %d; "
          "caches L1d %d KiB, L2 %d KiB, L3 %d KiB/core from %s)"
          % (probes.cpu_model(), ",".join(fastnn.cpu_simd_levels()), level, cfg["mr"], cfg["nr"],
             cfg["mc"], cfg["kc"], cfg["nc"], cfg["l1d"] >> 10, cfg["l2"] >> 10,
             cfg["l3_per_core"] >> 10, cfg["cache_source"]))
    split = cfg["inplace_split_min"]
    print("in-place products split over threads from %.0f (small M) / %.0f (skinny N) "
          "multiply-adds (measured at start-up)" % (split["small_m"], split["skinny_n"]))
    print("NumPy %s, BLAS %s; %d thread(s) each; %s; %d alternating blocks per side"
          % (np.__version__, blas, args.threads,
             "process CPU time" if args.cpu else "wall clock", blocks))
    print("peak: %s GFLOP/s (%s)" % ("%.1f" % peak if peak else "n/a", peak_how))
    print()
    head = ("%-24s %-18s %10s %10s %9s %7s %8s  %s"
            % ("target", "M x K x N", "fastnn", "NumPy", "speed", "peak", "needed", "verdict"))
    print(head)
    print("-" * len(head))
    rows = []
    for label, m, k, n, ta, tb, need, need_peak in TARGETS:
        step_f, step_n = matmul_steps(m, k, n, ta, tb)
        t_f, t_n = time_pair(step_f, step_n, blocks, pause, min_seconds, args.cpu)
        flops = 2.0 * m * n * k
        speed = t_n / t_f
        share = flops / t_f / 1e9 / peak if peak else None
        ok = speed >= need and (need_peak is None or (share is not None and share >= need_peak))
        needed = ">=%.1fx" % need + (" %d%%" % (need_peak * 100) if need_peak else "")
        print("%-24s %-18s %7.1f GF %7.1f GF %8.2fx %6s %8s  %s"
              % (label, "%dx%dx%d" % (m, k, n), flops / t_f / 1e9, flops / t_n / 1e9, speed,
                 "%.0f%%" % (share * 100) if share is not None else "n/a", needed,
                 "met" if ok else "MISSED"))
        rows.append({"target": label, "m": m, "k": k, "n": n, "trans_a": ta, "trans_b": tb,
                     "fastnn_s": t_f, "numpy_s": t_n, "fastnn_gflops": flops / t_f / 1e9,
                     "numpy_gflops": flops / t_n / 1e9, "speed": speed, "peak_share": share,
                     "needed_speed": need, "needed_peak_share": need_peak, "met": ok})

    # batch-1 inference (item 3: no number in the issue; reported against NumPy's x @ W + b,
    # relu, into preallocated arrays)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 784)).astype(np.float32)
    w = rng.standard_normal((784, 256)).astype(np.float32)
    bias = rng.standard_normal(256).astype(np.float32)
    out_f = np.empty((1, 256), np.float32)
    out_n = np.empty((1, 256), np.float32)

    def np_layer():
        np.matmul(x, w, out=out_n)
        np.add(out_n, bias, out=out_n)
        np.maximum(out_n, 0, out=out_n)

    t_f, t_n = time_pair(lambda: fastnn.kernels.matmul_bias(x, w, bias, "relu", out_f),
                         np_layer, blocks, pause, min_seconds, args.cpu)
    print("%-24s %-18s %7.1f us %7.1f us %8.2fx %6s %8s  %s"
          % ("batch-1 dense+relu", "1x784x256", t_f * 1e6, t_n * 1e6, t_n / t_f, "", "(none)",
             "faster" if t_f < t_n else "slower"))
    rows.append({"target": "batch-1 dense+relu", "m": 1, "k": 784, "n": 256,
                 "fastnn_s": t_f, "numpy_s": t_n, "speed": t_n / t_f})
    # The peak again: a shared VM's speed can drift within a run (bench/README.md, the AVX2-only
    # class), and then the shares of the peak and the ratios are loose.
    peak_after, _ = measure_peak(level, args.threads, args.cpu)
    if peak and peak_after:
        drift = peak_after / peak - 1.0
        print("peak after the rows: %.1f GFLOP/s (%+.0f%% against the start)%s"
              % (peak_after, drift * 100, "" if abs(drift) <= PEAK_DRIFT_WARN else
                 "; the machine's speed drifted during the run: re-run in a quieter window"))
    if limiter is not None:
        limiter.restore_original_limits()
    if args.json:
        import json  # only for this option
        with open(args.json, "w") as f:
            json.dump({"cpu": probes.cpu_model(), "simd": level, "threads": args.threads,
                       "clock": "cpu" if args.cpu else "wall", "peak_gflops": peak,
                       "peak_how": peak_how, "peak_after_gflops": peak_after,
                       "gemm_config": cfg, "numpy": np.__version__,
                       "blas": blas, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
