# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # A first CNN on MNIST, and what its filters learn
#
# The lab CNN (`fastnn.zoo.cnn`: two 3x3 convolutions with max pooling, then two dense layers)
# trained on part of MNIST; then its 32 first-layer filters, and one image through them.
#
# Data: `fastnn.datasets.load_mnist()` (FASTNN_DATA or the download cache).
# `FASTNN_NOTEBOOK_QUICK=1` trains on 512 images for one epoch (the test suite does this);
# figures go to `FASTNN_NOTEBOOK_OUT` (default `notebook-figures/`).

# %%
import os

import numpy as np

from fastnn import datasets, kernels, optim, zoo
from fastnn.data import preprocess_images
from fastnn.plotting import plot_feature_maps, plot_filters, plot_history

QUICK = os.environ.get("FASTNN_NOTEBOOK_QUICK") == "1"
OUT = os.environ.get("FASTNN_NOTEBOOK_OUT", "notebook-figures")
os.makedirs(OUT, exist_ok=True)
N_TRAIN, N_TEST, EPOCHS = (512, 256, 1) if QUICK else (10000, 2000, 3)

# %%
(x_train, y_train), (x_test, y_test) = datasets.load_mnist(verbose=False)
x_train = preprocess_images(x_train[:N_TRAIN])        # (N, 1, 28, 28) float32 in [0, 1]
x_test = preprocess_images(x_test[:N_TEST])
y_train, y_test = y_train[:N_TRAIN], y_test[:N_TEST]
print(x_train.shape, x_test.shape)

# %% [markdown]
# ## The model
# 1x28x28 -> conv 32 -> pool -> conv 64 -> pool -> 3136 -> 128 -> 10.

# %%
model = zoo.cnn(seed=0)
model.summary()

# %%
history = model.fit(x_train, y_train, epochs=EPOCHS, batch_size=64,
                    optimizer=optim.Adam(model.parameters(), lr=1e-3),
                    validation_data=(x_test, y_test), seed=0, verbose=0)
print({k: np.round(v, 4).tolist() for k, v in history.history.items()})
print("test:", model.evaluate(x_test, y_test))
plot_history(history, os.path.join(OUT, "cnn_history.png"))

# %% [markdown]
# ## The first layer's filters
# Each is a 3x3 weight pattern (blue negative, red positive); after training, many look like
# small edge and blob detectors.

# %%
conv1 = model.layers[0]
w = conv1.kernel.value                                  # (32, 1, 3, 3)
plot_filters(conv1, os.path.join(OUT, "cnn_filters.png"))
print("filters:", w.shape, "mean |w| = %.3f" % np.abs(w).mean())

# %% [markdown]
# ## One image through the network
# The first layer's forward pass is one `conv2d_forward` call (bias and ReLU fused into its
# GEMM); `plot_feature_maps` runs every conv and pool layer on one test image.

# %%
maps = kernels.conv2d_forward(x_test[:1], w, conv1.bias.value, 1, 1, "relu")[0]   # (32, 28, 28)
print("first layer's maps:", maps.shape, "fraction active: %.2f" % (maps > 0).mean())
plot_feature_maps(model, x_test[0], os.path.join(OUT, "cnn_feature_maps.png"))
