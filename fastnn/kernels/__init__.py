"""Compiled kernels (Cython + OpenMP, C GEMM).  Same names, signatures and results as
``fastnn.reference``, the NumPy twins.  Every function validates its arguments in Python (its
family's contract in ``fastnn.contracts``) before any ``nogil`` code runs.  The SIMD level they
run at is ``fastnn.get_simd()`` / ``fastnn.set_simd()``."""
from ._gemm import (matmul, matmul_bias, gemm_config, set_gemm_blocking,  # noqa: F401
                    set_gemm_sparse_a)
from ._conv import im2col, col2im, conv2d_forward, conv2d_backward  # noqa: F401
from ._pool import maxpool2d_forward, maxpool2d_backward  # noqa: F401
from ._activations import *  # noqa: F401,F403
from ._optim import *  # noqa: F401,F403
from ._rows import take_rows, sum_rows  # noqa: F401
from ._optim import UpdateTable  # noqa: F401
