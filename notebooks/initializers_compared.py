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
# # Initializers compared: activations through depth, then training
#
# Why the initial weights' scale matters.  Part 1 sends a batch of MNIST images through a deep
# MLP (eight hidden layers of 256) at initialisation and prints the spread (standard
# deviation) of each layer's output, for three initializers and two activations: with
# `random_normal` (stddev 0.05, too small for a 256-wide layer) the signal shrinks layer by
# layer; Glorot (variance 2 / (fan_in + fan_out)) slows the decline for tanh, and He (variance
# 2 / fan_in, making up for ReLU zeroing half its inputs) keeps it for ReLU.  Part 2 trains the
# lab MLP from each initializer on the same mini-batches.
# The full study, with repeated seeds, is `fastnn study init` (docs/studies.md).
#
# Data: `fastnn.datasets.load_mnist()` (FASTNN_DATA or the download cache).
# `FASTNN_NOTEBOOK_QUICK=1` uses 1000 images and 2 epochs (the test suite does this);
# figures go to `FASTNN_NOTEBOOK_OUT` (default `notebook-figures/`).

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from fastnn import datasets, optim, zoo
from fastnn.data import preprocess_images

QUICK = os.environ.get("FASTNN_NOTEBOOK_QUICK") == "1"
OUT = os.environ.get("FASTNN_NOTEBOOK_OUT", "notebook-figures")
os.makedirs(OUT, exist_ok=True)
N_TRAIN, N_TEST, EPOCHS = (1000, 500, 2) if QUICK else (10000, 2000, 10)
INITS = ["random_normal", "glorot_uniform", "he_normal"]
DEPTH = 8

# %%
(x_train, y_train), (x_test, y_test) = datasets.load_mnist(verbose=False)
x_train = preprocess_images(x_train[:N_TRAIN]).reshape(N_TRAIN, -1)   # (N, 784) in [0, 1]
x_test = preprocess_images(x_test[:N_TEST]).reshape(N_TEST, -1)
y_train, y_test = y_train[:N_TRAIN], y_test[:N_TEST]

# %% [markdown]
# ## Part 1: the spread of each layer's output at initialisation

# %%
spread = {}
for activation in ("tanh", "relu"):
    for init in INITS:
        model = zoo.mlp(hidden=(256,) * DEPTH, activation=activation, dropout=0,
                        kernel_initializer=init, seed=0)
        h, stds = x_train[:256], []
        for layer in model.layers[:-1]:                   # the hidden layers (Dense + act)
            h = layer.forward(h)
            stds.append(float(h.std()))
        spread[activation, init] = stds
        print("%-4s %-15s" % (activation, init), " ".join("%.3f" % s for s in stds))

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
for ax, activation in zip(axes, ("tanh", "relu")):
    for init in INITS:
        ax.plot(np.arange(1, DEPTH + 1), spread[activation, init], marker="o", label=init)
    ax.set(title=activation, xlabel="hidden layer", yscale="log")
axes[0].set_ylabel("std of the layer's output")
axes[1].legend()
fig.tight_layout()
fig.savefig(os.path.join(OUT, "init_spread.png"), dpi=100)

# %% [markdown]
# ## Part 2: training the lab MLP from each initializer
# Same model seed and batch order for all; Adam at lr 1e-3.

# %%
fig, ax = plt.subplots(figsize=(6, 4))
for init in INITS:
    model = zoo.mlp(kernel_initializer=init, seed=0)
    history = model.fit(x_train, y_train, epochs=EPOCHS, batch_size=64,
                        optimizer=optim.Adam(model.parameters(), lr=1e-3), seed=0, verbose=0)
    accuracy = model.evaluate(x_test, y_test)["accuracy"]
    print("%-15s final loss %.4f  test accuracy %.3f" % (init, history["loss"][-1], accuracy))
    losses = np.asarray(history.batch_losses, dtype=float)
    window = max(1, len(losses) // 30)
    ax.plot(np.arange(len(losses) - window + 1) + window,
            np.convolve(losses, np.ones(window) / window, mode="valid"), label=init)
ax.set(xlabel="mini-batch", ylabel="training loss (running mean)", yscale="log")
ax.legend()
fig.tight_layout()
fig.savefig(os.path.join(OUT, "init_loss.png"), dpi=100)
