"""Dense: the fully connected layer."""

import numpy as np

from .. import _validate as _v
from ..backend import K
from ._common import check_activation, check_input_shape, check_input_shape_arg
from .base import WeightedLayer


class Dense(WeightedLayer):
    """Fully connected layer: ``y = act(x @ W + b)``.

    Shapes: x (N, in_features); W = ``kernel`` (in_features, out_features); b = ``bias``
    (out_features,); y (N, out_features).

    Forward is one fused kernel call, ``matmul_bias(x, W, b, activation)``.  It keeps x and y
    (not z = x @ W + b: every supported activation's derivative can be written from y, see
    ``activation_backward``).

    Backward, with dz = dL/dz (N, out) computed from dy and y:

        dW = x^T @ dz       (in, out)   matmul(x, dz, trans_a=True)
        db = sum_n dz[n]    (out,)      sum_rows(dz)
        dx = dz @ W^T       (N, in)     matmul(dz, W, trans_b=True)

    activation: None (or 'linear'), 'relu', 'sigmoid', 'tanh', 'elu' (alpha = 1).
    """

    _prefix = "dense"

    def __init__(self, in_features, out_features, activation=None,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, seed=None, dtype=np.float32,
                 name=None):
        self.in_features = _v.check_int(in_features, "in_features", min=1)
        self.out_features = _v.check_int(out_features, "out_features", min=1)
        self.activation = check_activation(activation)
        super().__init__(name)
        self._init_weights((self.in_features, self.out_features), (self.out_features,),
                           kernel_initializer, bias_initializer, kernel_regularizer,
                           bias_regularizer, seed, dtype)

    def _check_x(self, x):
        if x.ndim != 2 or x.shape[1] != self.in_features:
            hint = ""
            if x.ndim > 2 and int(np.prod(x.shape[1:])) == self.in_features:
                hint = ("; flatten each sample first: a Flatten() layer before this one, "
                        "x.reshape(len(x), -1) or preprocess_images(images, flatten=True)")
            raise ValueError("x must have shape (N, %d) (in_features=%d of %s), got %s%s"
                             % (self.in_features, self.in_features, self.name, x.shape, hint))
        check_input_shape(x, (None, self.in_features))

    def _affine_activation(self, x):
        return K().matmul_bias(x, self.kernel.value, self.bias.value, activation=self.activation,
                               out=self._buffer("y", (x.shape[0], self.out_features),
                                                self.dtype))

    def _affine_backward(self, dz, x, need_dx):
        # dW and db go straight into the grads when they can take them (the same numbers as a
        # fresh array copied there, one pass less); dx into a kept array during fit
        k = K()
        dw = k.matmul(x, dz, trans_a=True, out=self._grad_out(self.kernel))
        db = k.sum_rows(dz, out=self._grad_out(self.bias))
        dx = k.matmul(dz, self.kernel.value, trans_b=True,
                      out=self._buffer("dx", x.shape, x.dtype)) if need_dx else None
        return dx, dw, db

    def output_shape(self, input_shape):
        input_shape = check_input_shape_arg(input_shape)
        if input_shape != (self.in_features,):
            raise ValueError("input_shape must be (%d,) for %s (in_features=%d), got %s"
                             % (self.in_features, self.name, self.in_features, input_shape))
        return (self.out_features,)

    def get_config(self):
        return {"name": self.name, "in_features": self.in_features,
                "out_features": self.out_features, "activation": self.activation,
                **self._weights_config()}
