"""NumPy twins of every compiled kernel in ``fastnn.kernels``: same names, signatures and
results.  Written to be read: the teaching version, the test oracle and the benchmark baseline."""
from .gemm import matmul, matmul_bias  # noqa: F401
from .conv import im2col, col2im, conv2d_forward, conv2d_backward  # noqa: F401
from .pool import maxpool2d_forward, maxpool2d_backward  # noqa: F401
from .activations import *  # noqa: F401,F403
from .optim import *  # noqa: F401,F403
from .rows import take_rows, sum_rows  # noqa: F401
from .optim import UpdateTable  # noqa: F401
