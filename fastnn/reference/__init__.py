"""NumPy twins of every compiled kernel in ``fastnn.kernels``: same names, signatures and
results.  Written to be read: the teaching version, the test oracle and the benchmark baseline."""
# DEV-ONLY tolerant imports while the modules are being written; made strict at integration.
try:
    from .gemm import matmul, matmul_bias  # noqa: F401
except ImportError:  # pragma: no cover
    pass
try:
    from .conv import im2col, col2im, conv2d_forward, conv2d_backward  # noqa: F401
except ImportError:  # pragma: no cover
    pass
try:
    from .pool import maxpool2d_forward, maxpool2d_backward  # noqa: F401
except ImportError:  # pragma: no cover
    pass
try:
    from .activations import *  # noqa: F401,F403
except ImportError:  # pragma: no cover
    pass
try:
    from .optim import *  # noqa: F401,F403
except ImportError:  # pragma: no cover
    pass
