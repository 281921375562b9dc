"""Conv2D: the 2-D convolution layer."""

import numpy as np

from .. import _validate as _v
from ..backend import K
from ._common import check_activation, check_input_shape, check_input_shape_arg
from .base import WeightedLayer


class Conv2D(WeightedLayer):
    """2-D convolution (cross-correlation, as torch.nn.Conv2d), then an optional activation.

    Shapes: x (N, in_channels, H, W); W = ``kernel`` (out_channels, in_channels, kh, kw) (torch
    layout); b = ``bias`` (out_channels,); y (N, out_channels, OH, OW) with
    OH = (H + 2*ph - kh) // sh + 1 and likewise OW.

    Forward: y = act(conv2d(x, W) + b), one conv2d_forward call with the bias and activation
    fused into its GEMM (as Dense's matmul_bias).  It keeps x and y.
    Backward: dz from dy and y (as Dense), then ``conv2d_backward(dz, x, W, stride, padding)``
    -> (dx, dW, db) (im2col / GEMM / col2im; see fastnn/reference/conv.py).

    kernel_size, stride, padding: int or (h, w) pair.  Fans for the initializers:
    fan_in = in_channels*kh*kw, fan_out = out_channels*kh*kw.
    """

    _prefix = "conv2d"

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 activation=None, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, seed=None, dtype=np.float32,
                 name=None):
        self.in_channels = _v.check_int(in_channels, "in_channels", min=1)
        self.out_channels = _v.check_int(out_channels, "out_channels", min=1)
        self.kernel_size = _v.check_pair(kernel_size, "kernel_size", min=1)
        self.stride = _v.check_pair(stride, "stride", min=1)
        self.padding = _v.check_pair(padding, "padding", min=0)
        self.activation = check_activation(activation)
        super().__init__(name)
        self._init_weights((self.out_channels, self.in_channels) + self.kernel_size,
                           (self.out_channels,), kernel_initializer, bias_initializer,
                           kernel_regularizer, bias_regularizer, seed, dtype)

    def _out_hw(self, h, w, name):
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        if h + 2 * ph < kh or w + 2 * pw < kw:
            raise ValueError("%s's spatial size (H, W) = (%d, %d) plus padding %s is smaller than "
                             "kernel_size %s" % (name, h, w, self.padding, self.kernel_size))
        return (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1

    def _check_x(self, x):
        c = self.in_channels
        if x.ndim != 4:
            hint = ""
            if x.ndim == 3 and c == 1:
                hint = ("; images of shape (N, H, W) need a channel axis: x[:, None] (or "
                        "fastnn.data.preprocess_images(images), which gives (N, 1, H, W))")
            elif x.ndim == 3 and x.shape[0] == c:
                hint = "; one image of shape (C, H, W) needs a batch axis: x[None]"
            elif x.ndim == 3:
                hint = ("; images of shape (N, H, W) need a channel axis: x[:, None] gives "
                        "(N, 1, H, W), for a layer with in_channels=1")
            raise ValueError("x must be 4-D (N, C, H, W) with C = in_channels = %d (%s), got "
                             "shape %s%s" % (c, self.name, x.shape, hint))
        if x.shape[1] != c:
            hint = ""
            if x.shape[3] == c:
                hint = "; fastnn is channels-first (NCHW): x.transpose(0, 3, 1, 2)"
            raise ValueError("x must have in_channels = %d channel%s on axis 1 of (N, C, H, W) "
                             "(%s), got %d channel%s: shape %s%s"
                             % (c, "" if c == 1 else "s", self.name, x.shape[1],
                                "" if x.shape[1] == 1 else "s", x.shape, hint))
        check_input_shape(x, (None, c, None, None))
        self._out_hw(x.shape[2], x.shape[3], "x")

    def _affine_activation(self, x):
        # bias and activation fused into the convolution's GEMM epilogue, as Dense does
        return K().conv2d_forward(x, self.kernel.value, self.bias.value, self.stride,
                                  self.padding, activation=self.activation)

    def _affine_backward(self, dz, x, need_dx):
        # need_dx=False skips a GEMM and a col2im
        return K().conv2d_backward(dz, x, self.kernel.value, self.stride, self.padding,
                                   need_dx=need_dx)

    def output_shape(self, input_shape):
        input_shape = check_input_shape_arg(input_shape)
        if len(input_shape) != 3 or input_shape[0] != self.in_channels:
            raise ValueError("input_shape must be (%d, H, W) for %s (in_channels=%d), got %s"
                             % (self.in_channels, self.name, self.in_channels, input_shape))
        oh, ow = self._out_hw(input_shape[1], input_shape[2], "input_shape")
        return (self.out_channels, oh, ow)

    def get_config(self):
        return {"name": self.name, "in_channels": self.in_channels,
                "out_channels": self.out_channels, "kernel_size": list(self.kernel_size),
                "stride": list(self.stride), "padding": list(self.padding),
                "activation": self.activation, **self._weights_config()}
