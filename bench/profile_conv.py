"""Loop conv 32->64 (128x32x14x14, 3x3 pad 1) forward + backward, or one part of it, for a
profiler:

    FASTNN_NUM_THREADS=1 perf record -o perf.data python bench/profile_conv.py 40 [part]
    perf report -i perf.data --stdio --sort symbol

part: 'step' (default: the benchmark case "conv fwd+bwd conv2 ..." of
fastnn.benchmarks.cases), 'forward' (conv2d_forward with bias and ReLU), 'backward'
(conv2d_backward with dx) or 'weights' (conv2d_backward with need_dx=False).  The inputs of the
parts are drawn once, before the loop, so the profile is the kernel's.
"""
import sys

import numpy as np

from fastnn.benchmarks.cases import suite
from fastnn.kernels import _conv

GROUP = "conv fwd+bwd conv2 128x32x14x14 -> 64 3x3 pad1"
PARTS = ("step", "forward", "backward", "weights")


def _part(name):
    if name == "step":
        (case,) = [c for c in suite("conv") if c.group == GROUP]
        return case.step("fastnn")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 32, 14, 14)).astype(np.float32)
    w = rng.standard_normal((64, 32, 3, 3)).astype(np.float32)
    b = rng.standard_normal(64).astype(np.float32)
    dy = rng.standard_normal((128, 64, 14, 14)).astype(np.float32)
    if name == "forward":
        return lambda: _conv.conv2d_forward(x, w, b, 1, 1, "relu")
    return lambda: _conv.conv2d_backward(dy, x, w, 1, 1, need_dx=(name == "backward"))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    repeats = int(argv[0]) if argv else 40
    part = argv[1] if len(argv) > 1 else "step"
    if part not in PARTS:
        raise SystemExit("part must be one of %s, got %r" % (PARTS, part))
    step = _part(part)
    for _ in range(repeats):
        step()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
