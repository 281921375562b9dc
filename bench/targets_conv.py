"""Issue 10's convolution and max-pooling targets: fastnn against torch, one process.

    PYTHONPATH=. python bench/targets_conv.py            # 6 alternating blocks per target
    PYTHONPATH=. python bench/targets_conv.py --quick    # 2 short blocks: a smoke run

Each target is a case of ``fastnn.benchmarks.cases`` (the same steps ``bench/`` and
``fastnn bench`` time), run by fastnn and by torch in alternating blocks
(``fastnn.benchmarks.timing.alternate``) so the noise of a shared machine falls on both alike;
both libraries run at 2 threads (``--threads``).  Printed: the CPU model (``lscpu``), fastnn's
SIMD level, each side's median time per step, the speed-up (torch's median / fastnn's: above 1
fastnn is faster) and whether the target holds.  torch is optional: without it only fastnn's
times are printed.

OMP_WAIT_POLICY is set to ``passive`` unless the environment sets it: torch (its own libgomp) and
fastnn both keep their OpenMP threads spinning after a call, and in alternating blocks each
side's spinning threads then steal the cores of the other (issue 10 measured 80 ms instead of
9-10 ms per conv step).  The value in effect is printed with the results.
"""
import argparse
import os

# Before fastnn or torch start an OpenMP runtime: read once, at its initialisation.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import fastnn  # noqa: E402  (the OpenMP environment must be set first)
from fastnn.benchmarks.cases import suite, torch_module  # noqa: E402
from fastnn.benchmarks.probes import cpu_model  # noqa: E402
from fastnn.benchmarks.timing import alternate, format_seconds, time_call  # noqa: E402

# (suite, case group, target: torch's time / fastnn's time must be at least this)
TARGETS = (
    ("conv", "conv fwd+bwd conv2 128x32x14x14 -> 64 3x3 pad1", 1.0),
    ("conv", "conv fwd+bwd (no dx) conv1 128x1x28x28 -> 32 3x3 pad1", 2.0),
    ("pool", "maxpool 2x2 fwd+bwd 128x32x28x28", 3.0),
)


def find_case(suite_name, group):
    (case,) = [c for c in suite(suite_name) if c.group == group]
    return case


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="2 short blocks per target")
    p.add_argument("--blocks", type=int, default=None, help="alternating blocks (default 6)")
    p.add_argument("--threads", type=int, default=2, help="threads for both libraries")
    p.add_argument("--only", default="", help="run the targets whose name contains this")
    args = p.parse_args(argv)
    blocks = args.blocks or (2 if args.quick else 6)
    min_seconds = 0.02 if args.quick else 0.2
    pause = 0.1 if args.quick else 0.5

    fastnn.set_num_threads(args.threads)
    torch = torch_module()
    if torch is not None:
        torch.set_num_threads(args.threads)
    info = fastnn.build_info()
    print("cpu: %s; fastnn %s, simd %s (cpu has %s); %d threads each; OMP_WAIT_POLICY=%s"
          % (cpu_model(), info["version"], info["simd"], "/".join(info["cpu_simd"]),
             args.threads, os.environ.get("OMP_WAIT_POLICY")))
    print("torch %s" % (torch.__version__ if torch is not None else "not installed: fastnn only"))
    print("%d alternating blocks, each >= %.2f s; medians per step" % (blocks, min_seconds))
    print()
    print("| target | fastnn | torch | speed-up (torch / fastnn) | wanted | verdict |")
    print("|---|---|---|---|---|---|")
    for suite_name, group, wanted in TARGETS:
        if args.only not in group:
            continue
        case = find_case(suite_name, group)
        ours = case.step("fastnn")
        theirs = case.step("torch")
        if theirs is None:
            t = time_call(ours, repeats=blocks, min_seconds=min_seconds)
            print("| %s | %s | - | - | %.1fx | torch missing |"
                  % (group, format_seconds(t), wanted))
            continue
        a, b = alternate(ours, theirs, blocks=blocks, pause=pause, min_seconds=min_seconds)
        ratio = b.median / a.median
        print("| %s | %s | %s | %.2fx | >= %.1fx | %s |"
              % (group, format_seconds(a.median), format_seconds(b.median), ratio, wanted,
                 "met" if ratio >= wanted else "missed (%.0f%% short)"
                 % (100 * (1 - ratio / wanted))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
