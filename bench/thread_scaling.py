"""Thread scaling: fastnn's GEMM against NumPy's BLAS, and its convolution and max pooling against
torch, at each thread count, with the FMA-loop peak at that count.  For a machine with more than
the two cores issue 10's targets are stated for.

    PYTHONPATH=. python bench/thread_scaling.py gemm               # 1, 2, 4, ... all CPUs
    PYTHONPATH=. python bench/thread_scaling.py conv --threads 1,2,8
    PYTHONPATH=. python bench/thread_scaling.py gemm --blocks 5    # more alternating blocks

Each pair runs in alternating blocks in one process (``fastnn.benchmarks.timing.alternate``) at
the same thread count on both sides: ``fastnn.set_num_threads``, threadpoolctl for NumPy's BLAS,
``torch.set_num_threads``.  Printed per row: medians per call, GFLOP/s where the work is a
product, the speed-up (the peer's time / fastnn's: above 1 fastnn is faster) and, for the GEMM,
the share of the peak measured at that thread count and SIMD level
(``fastnn.benchmarks.probes.peak_gflops``).

The ``conv`` suite sets OMP_WAIT_POLICY=passive unless the environment sets it, as
bench/targets_conv.py does (both runtimes' spinning threads would steal each other's cores); the
``gemm`` suite leaves it alone.  Run the two suites as two processes.
"""
import argparse
import os
import sys


def _args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("suite", choices=("gemm", "conv"))
    p.add_argument("--threads", default=None,
                   help="comma-separated thread counts (default 1, 2, 4, ... up to all CPUs)")
    p.add_argument("--blocks", type=int, default=3, help="alternating blocks per side (3)")
    p.add_argument("--simd", default=None, help="fastnn SIMD level (default: the one in use)")
    a = p.parse_args(argv)
    if a.threads is not None:
        try:
            a.counts = [int(t) for t in a.threads.split(",")]
        except ValueError:
            p.error("--threads must be comma-separated integers, got %r" % a.threads)
        if not a.counts or min(a.counts) < 1:
            p.error("--threads must name counts >= 1, got %r" % a.threads)
    else:
        a.counts = None
    if a.blocks < 1:
        p.error("--blocks must be >= 1, got %d" % a.blocks)
    return a


ARGS = _args()
if ARGS.suite == "conv":
    # Before fastnn or torch start an OpenMP runtime: read once, at its initialisation.
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import numpy as np  # noqa: E402

import fastnn  # noqa: E402
from fastnn.benchmarks import probes  # noqa: E402
from fastnn.benchmarks.cases import matmul_steps, suite, torch_module  # noqa: E402
from fastnn.benchmarks.timing import alternate, format_seconds  # noqa: E402

try:  # a runtime dependency, but the script runs (without NumPy's limit) if it is missing
    import threadpoolctl
except ImportError:
    threadpoolctl = None

GEMMS = [  # (label, M, K, N)
    ("MLP fwd", 128, 784, 256),
    ("conv fwd", 64, 288, 12544),
    ("square 1024", 1024, 1024, 1024),
    ("square 2048", 2048, 2048, 2048),
]
CONVS = [  # (suite, case group)
    ("conv", "conv fwd+bwd conv2 128x32x14x14 -> 64 3x3 pad1"),
    ("conv", "conv fwd+bwd (no dx) conv1 128x1x28x28 -> 32 3x3 pad1"),
    ("pool", "maxpool 2x2 fwd+bwd 128x32x28x28"),
]


def default_counts():
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    counts, t = [], 1
    while t < n:
        counts.append(t)
        t *= 2
    return counts + [n]


def gemm_rows(t, blocks):
    level = fastnn.get_simd()
    peak = probes.peak_gflops(level, threads=t, seconds=0.3)
    print("%2d thread(s): peak %.1f GFLOP/s (%s)" % (t, peak, level))
    for label, m, k, n in GEMMS:
        s_f, s_n = alternate(*matmul_steps(m, k, n), blocks=blocks, pause=0.2, min_seconds=0.05)
        flops = 2.0 * m * k * n
        print("   %-12s %-16s fastnn %7.1f GF (%3.0f%% of peak)  NumPy %7.1f GF  speed %.2fx"
              % (label, "%dx%dx%d" % (m, k, n), flops / s_f.median / 1e9,
                 100 * flops / s_f.median / 1e9 / peak, flops / s_n.median / 1e9,
                 s_n.median / s_f.median))


def conv_rows(t, blocks):
    print("%2d thread(s):" % t)
    for suite_name, group in CONVS:
        (case,) = [c for c in suite(suite_name) if c.group == group]
        ours, theirs = case.step("fastnn"), case.step("torch")
        s_f, s_t = alternate(ours, theirs, blocks=blocks, pause=0.2, min_seconds=0.1)
        print("   %-56s fastnn %9s  torch %9s  speed %.2fx"
              % (group, format_seconds(s_f.median), format_seconds(s_t.median),
                 s_t.median / s_f.median))


def main():
    args = ARGS
    if args.simd:
        fastnn.set_simd(args.simd)
    counts = args.counts or default_counts()
    torch = torch_module() if args.suite == "conv" else None
    if args.suite == "conv" and torch is None:
        print("torch is not installed: the conv suite compares with torch", file=sys.stderr)
        return 1
    info = fastnn.build_info()
    peer = ("NumPy %s" % np.__version__ if args.suite == "gemm"
            else "torch %s, OMP_WAIT_POLICY=%s" % (torch.__version__,
                                                   os.environ.get("OMP_WAIT_POLICY")))
    print("CPU: %s; fastnn %s, SIMD %s (cpu has %s); against %s; %d alternating blocks"
          % (probes.cpu_model(), info["version"], fastnn.get_simd(), "/".join(info["cpu_simd"]),
             peer, args.blocks))
    for t in counts:
        fastnn.set_num_threads(t)
        if args.suite == "gemm":
            limiter = threadpoolctl.threadpool_limits(t) if threadpoolctl else None
            gemm_rows(t, args.blocks)
            if limiter is not None:
                limiter.restore_original_limits()
        else:
            torch.set_num_threads(t)
            conv_rows(t, args.blocks)
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
