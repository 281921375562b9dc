"""MaxPool2D."""

from .. import _validate as _v
from ..backend import K
from ._common import as_input, check_input_shape, check_input_shape_arg
from .base import Layer


class MaxPool2D(Layer):
    """Max pooling without padding, as torch.nn.MaxPool2d (floor mode).

    Shapes: x (N, C, H, W) -> y (N, C, OH, OW), OH = (H - ph) // sh + 1 (likewise OW).
    stride defaults to pool_size.  Forward keeps argmax (N, C, OH, OW), the flat index h*W + w
    of each window's maximum, and x's shape; backward sends each dy value to that position
    (summing where windows overlap) and gives 0 elsewhere.  Among tied maxima the first in
    row-major order takes the whole gradient.
    """

    _prefix = "max_pooling2d"

    def __init__(self, pool_size=2, stride=None, name=None):
        self.pool_size = _v.check_pair(pool_size, "pool_size", min=1)
        self.stride = self.pool_size if stride is None else _v.check_pair(stride, "stride", min=1)
        self._stride_arg = None if stride is None else self.stride
        super().__init__(name)

    def forward(self, x, training=False):
        if not self._input_seen(x):
            given = x
            x = as_input(x, "x")
            check_input_shape(x, (None, None, None, None))
            ph, pw = self.pool_size
            if x.shape[2] < ph or x.shape[3] < pw:
                raise ValueError("x's spatial size (H, W) = %s must be at least pool_size %s"
                                 % (x.shape[2:], self.pool_size))
            self._remember_input(given, x)
        y, argmax = K().maxpool2d_forward(x, self.pool_size, self.stride)
        self._cache = (argmax, x.shape, y.shape, x.dtype)
        return y

    def backward(self, dy, need_dx=True):
        argmax, x_shape, y_shape, dtype = self._kept()
        dy = self._dy_if_needed(dy, need_dx, y_shape, dtype)
        if dy is None:
            return None
        return K().maxpool2d_backward(dy, argmax, x_shape)

    def output_shape(self, input_shape):
        input_shape = check_input_shape_arg(input_shape)
        (ph, pw), (sh, sw) = self.pool_size, self.stride
        if len(input_shape) != 3 or input_shape[1] < ph or input_shape[2] < pw:
            raise ValueError("input_shape must be (C, H, W) with H >= %d and W >= %d, got %s"
                             % (ph, pw, input_shape))
        c, h, w = input_shape
        return (c, (h - ph) // sh + 1, (w - pw) // sw + 1)

    def get_config(self):
        return {"name": self.name, "pool_size": list(self.pool_size),
                "stride": None if self._stride_arg is None else list(self._stride_arg)}
