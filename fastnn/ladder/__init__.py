"""The ladders: each kernel rebuilt one idea at a time, from the textbook loops to the compiled
kernel, every rung a function with the compiled kernel's signature (tests/test_ladder.py checks
each against it).

    fastnn.ladder.gemm   matmul: loops, i-k-j, cache blocks, packing, register tile (NumPy),
                         then the compiled GEMM at each SIMD level and on all threads
    fastnn.ladder.conv   conv2d_forward: seven loops, im2col + GEMM, the compiled convolution

Start at rung 1 in a Python prompt::

    python -c "import numpy as np; from fastnn.ladder import gemm; \\
               a = np.random.rand(50, 40).astype('f4'); b = np.random.rand(40, 30).astype('f4'); \\
               print(abs(gemm.loops(a, b) - a @ b).max())"

and time every rung on your machine with ``fastnn bench ladder gemm`` (``conv``); the path
through the rungs, the code to read at each one and the measured reason for each step are in
docs/kernels.md ("The ladder").
"""
from . import conv, gemm  # noqa: F401

__all__ = ["conv", "gemm"]
