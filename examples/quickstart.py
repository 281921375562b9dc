"""The README's example: train the lab MLP for 2 epochs on MNIST, then check a compiled kernel
against its NumPy twin.  Run:  FASTNN_DATA=path/to/mnist python examples/quickstart.py"""
import numpy as np

import fastnn
from fastnn import datasets, kernels, layers, optim, reference
from fastnn.data import preprocess_images

(x_train, y_train), (x_test, y_test) = datasets.load_mnist()
x_train = preprocess_images(x_train, flatten=True)   # (60000, 784) float32 in [0, 1]
x_test = preprocess_images(x_test, flatten=True)

model = fastnn.Sequential([
    layers.Dense(784, 256, activation="relu", seed=0), layers.Dropout(0.2, seed=1),
    layers.Dense(256, 128, activation="relu", seed=2), layers.Dropout(0.2, seed=3),
    layers.Dense(128, 10, seed=4),
])
history = model.fit(x_train, y_train, epochs=2, batch_size=128,
                    optimizer=optim.Adam(model.parameters(), lr=1e-3),
                    loss="sparse_categorical_crossentropy", seed=0, verbose=0)
print("train loss per epoch:", np.round(history.history["loss"], 4))
print("test:", {k: round(v, 4) for k, v in model.evaluate(x_test, y_test).items()})

# every compiled kernel has a NumPy twin with the same signature and results
x = np.random.default_rng(0).standard_normal((8, 3, 9, 9), dtype=np.float32)
y_fast, arg_fast = kernels.maxpool2d_forward(x, 3, 2)
y_ref, arg_ref = reference.maxpool2d_forward(x, 3, 2)
print("compiled == twin:", np.array_equal(y_fast, y_ref) and np.array_equal(arg_fast, arg_ref))
info = fastnn.build_info()
print("OpenMP:", info["openmp"], " SIMD:", info["simd"])
