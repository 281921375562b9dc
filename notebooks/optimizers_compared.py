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
# # Optimizers compared on the lab MLP
#
# Six optimizers train the lab MLP (`fastnn.zoo.mlp`: 784-256-128-10, ReLU) from the **same
# initial weights** on the **same mini-batches** (one model seed, one shuffling seed), so the
# curves differ by the optimizer only; each runs at its customary learning rate
# (`fastnn.studies.optimizers.DEFAULT_LR`, reasons in `LR_REASONS`).  Then the cost of one
# `step()` of each, which the optimizer lesson (docs/kernels/optim.md) predicts from bytes per
# parameter.  The full study, with repeated seeds and learning-rate sweeps, is
# `fastnn study optimizers` (docs/studies.md).
#
# Data: `fastnn.datasets.load_mnist()` (FASTNN_DATA or the download cache).
# `FASTNN_NOTEBOOK_QUICK=1` trains on 1000 images for 2 epochs (the test suite does this);
# figures go to `FASTNN_NOTEBOOK_OUT` (default `notebook-figures/`).

# %%
import os
import timeit

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from fastnn import datasets, optim, zoo
from fastnn.data import preprocess_images
from fastnn.studies.optimizers import DEFAULT_LR, LABELS

QUICK = os.environ.get("FASTNN_NOTEBOOK_QUICK") == "1"
OUT = os.environ.get("FASTNN_NOTEBOOK_OUT", "notebook-figures")
os.makedirs(OUT, exist_ok=True)
N_TRAIN, N_TEST, EPOCHS = (1000, 500, 2) if QUICK else (10000, 2000, 10)
NAMES = ["sgd", "momentum", "adagrad", "rmsprop", "adam", "nadam"]

# %%
(x_train, y_train), (x_test, y_test) = datasets.load_mnist(verbose=False)
x_train = preprocess_images(x_train[:N_TRAIN]).reshape(N_TRAIN, -1)   # (N, 784) in [0, 1]
x_test = preprocess_images(x_test[:N_TEST]).reshape(N_TEST, -1)
y_train, y_test = y_train[:N_TRAIN], y_test[:N_TEST]
print(x_train.shape, x_test.shape)

# %% [markdown]
# ## Training: one model seed, one batch order, six optimizers

# %%
results = {}
for name in NAMES:
    model = zoo.mlp(seed=0)                               # the same initial weights each time
    opt = optim.get(name, model.parameters(), lr=DEFAULT_LR[name])
    history = model.fit(x_train, y_train, epochs=EPOCHS, batch_size=64, optimizer=opt,
                        seed=0, verbose=0)                 # the same mini-batches each time
    results[name] = (history, model.evaluate(x_test, y_test))
    print("%-13s lr %-6g final loss %.4f  test accuracy %.3f"
          % (LABELS[name], DEFAULT_LR[name], history["loss"][-1], results[name][1]["accuracy"]))

# %%
fig, (ax_batch, ax_epoch) = plt.subplots(1, 2, figsize=(11, 4))
for name, (history, _) in results.items():
    losses = np.asarray(history.batch_losses, dtype=float)
    window = max(1, len(losses) // 30)                    # a running mean to see through noise
    smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
    ax_batch.plot(np.arange(smooth.size) + window, smooth, label=LABELS[name])
    ax_epoch.plot(np.arange(1, len(history["loss"]) + 1), history["loss"], marker="o",
                  label=LABELS[name])
ax_batch.set(xlabel="mini-batch", ylabel="training loss (running mean)", yscale="log")
ax_epoch.set(xlabel="epoch", ylabel="training loss (epoch mean)", yscale="log")
ax_epoch.xaxis.set_major_locator(MaxNLocator(integer=True))
ax_epoch.legend()
fig.tight_layout()
fig.savefig(os.path.join(OUT, "optimizers_loss.png"), dpi=100)

# %% [markdown]
# ## What one step costs
# An update is memory-bound: per float32 parameter SGD reads and writes p (8 bytes, with g
# read: 12), momentum adds a buffer (20), Adam two moments (28).  The lab MLP has 235 146
# parameters; `step()` updates all of them in one multi-tensor call.  Compare the ratios of
# the times with the ratios of the bytes (docs/kernels/optim.md, exercise 2).

# %%
steps = {}
for name in NAMES:
    model = zoo.mlp(seed=0)
    for p in model.parameters():
        p.grad[...] = 1e-3
    opt = optim.get(name, model.parameters(), lr=1e-6)
    opt.step()                                            # creates the state
    steps[name] = min(timeit.repeat(opt.step, number=20, repeat=5)) / 20
for name, seconds in steps.items():
    print("%-13s %7.1f us per step" % (LABELS[name], seconds * 1e6))
