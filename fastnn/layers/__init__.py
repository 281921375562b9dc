"""Layers with explicit forward and backward passes (CS231n style, no autograd tape).

    layer = Dense(784, 10, activation="relu", seed=0)
    y = layer.forward(x, training=True)      # (N, 10); keeps x and y for backward
    dx = layer.backward(dy)                  # dL/dx; fills layer.kernel.grad, layer.bias.grad
    layer.backward(dy, need_dx=False)        # the grads only (None): a network's first layer

Every layer has

* ``forward(x, training=False) -> y`` which keeps what ``backward`` will need,
* ``backward(dy, need_dx=True) -> dx`` which applies the chain rule to the kept arrays: given
  dL/dy it returns dL/dx and *overwrites* each parameter's ``grad`` with dL/dparameter (plus the
  regularizer's gradient, when the layer has one).  ``need_dx=False`` says the caller does not
  want dx (the first layer of a network, ``Sequential.backward(..., need_dx=False)``): the
  parameters' grads are filled all the same, dx is not computed and None is returned,
* ``parameters()`` -> list of ``fastnn.Parameter`` in a fixed order (kernel, then bias),
* ``output_shape(input_shape)`` (shapes without the batch dimension), ``get_config()``
  (JSON-serialisable constructor arguments), ``regularization_loss()`` -> float,
  ``astype(dtype)`` (float32 <-> float64, in place) and ``count_params()``.

The arithmetic runs through ``fastnn.backend.K()``: the compiled kernels by default, their NumPy
twins inside ``with fastnn.backend.use("reference"):``.

Names.  Each layer gets a unique ``name`` Keras style (``dense``, ``dense_1``, ``conv2d``, ...)
unless one is given; its parameters are named ``"<layer name>/kernel"`` and
``"<layer name>/bias"``.

Dtypes.  Layers with parameters compute in their ``dtype`` (float32 by default; float64 for
gradient checks via ``dtype=np.float64`` or ``layer.astype(np.float64)``); an input of another
real dtype (float64, uint8 images, ...) is cast to the layer's dtype first, as Keras does.
Layers without parameters compute in the input's dtype when it is float32 or float64 and cast any
other real dtype to float32.  Boolean, complex or object inputs raise TypeError.

Arrays returned by ``forward`` are kept by reference for ``backward``: do not modify them in
place between the two calls.

Serialisation: ``serialize(layer)`` -> ``{"class_name": "Dense", "config": {...}}`` and
``deserialize(d)`` -> a new layer with freshly initialised parameters (weights travel separately,
in ``parameters()`` order).
"""

from .base import Layer
from .dense import Dense
from .conv import Conv2D
from .pooling import MaxPool2D
from .reshape import Flatten
from .dropout import Dropout
from .activation import ReLU, Sigmoid, Tanh, ELU, Softmax
from .serialization import serialize, deserialize, get

__all__ = ["Layer", "Dense", "Conv2D", "MaxPool2D", "Flatten", "Dropout", "ReLU", "Sigmoid",
           "Tanh", "ELU", "Softmax", "serialize", "deserialize", "get"]
