"""Loop conv 32->64 (128x32x14x14, 3x3 pad 1) forward + backward, for a profiler:

    FASTNN_NUM_THREADS=1 perf record -o perf.data python bench/profile_conv.py 40
    perf report -i perf.data --stdio --sort symbol

The step is the benchmark case "conv fwd+bwd conv2 ..." of fastnn.benchmarks.cases.
"""
import sys

from fastnn.benchmarks.cases import suite

GROUP = "conv fwd+bwd conv2 128x32x14x14 -> 64 3x3 pad1"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    repeats = int(argv[0]) if argv else 40
    (case,) = [c for c in suite("conv") if c.group == GROUP]
    step = case.step("fastnn")
    for _ in range(repeats):
        step()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
