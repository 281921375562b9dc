"""End-to-end: the lab models reach their published accuracy on the real MNIST test set.

    FASTNN_DATA=/path/to/mnist python -m pytest tests/test_mnist_training.py -m mnist

Lab MLP (784-256-128-10, ReLU, dropout 0.2, Adam 1e-3, batch 128, seed 0): >= 97.5% after 5
epochs.  Lab CNN (conv32-pool-conv64-pool-dense128-dropout 0.5-10, Adam 1e-3, batch 64,
seed 0): >= 98.0% after 1 epoch.  Both train on all 60000 training images and are scored on
the 10000 test images.  They take a minute or two on two cores.
"""

import numpy as np
import pytest

from fastnn import data, datasets, zoo
from fnn_testutil import mnist_dir


MNIST = mnist_dir()
pytestmark = [pytest.mark.mnist, pytest.mark.slow,
              pytest.mark.skipif(MNIST is None, reason="needs MNIST in FASTNN_DATA")]


@pytest.fixture(scope="module")
def mnist():
    (x_tr, y_tr), (x_te, y_te) = datasets.load_mnist(MNIST, download=False, verbose=False)
    return x_tr, y_tr.astype(np.int64), x_te, y_te.astype(np.int64)


def test_lab_mlp_reaches_97_5_percent_in_5_epochs(mnist):
    x_tr, y_tr, x_te, y_te = mnist
    model = zoo.mlp(hidden=(256, 128), activation="relu", dropout=0.2, seed=0)
    hist = model.fit(data.preprocess_images(x_tr, flatten=True), y_tr, epochs=5, batch_size=128,
                     optimizer="adam", seed=0, verbose=0)
    result = model.evaluate(data.preprocess_images(x_te, flatten=True), y_te)
    print("lab MLP: test accuracy %.4f, loss %.4f; epoch times %s s" % (
        result["accuracy"], result["loss"], ["%.1f" % t for t in hist["time"]]))
    assert hist["loss"][-1] < hist["loss"][0]
    assert result["accuracy"] >= 0.975


def test_lab_cnn_reaches_98_percent_in_1_epoch(mnist):
    x_tr, y_tr, x_te, y_te = mnist
    model = zoo.cnn(dropout=0.5, seed=0)
    hist = model.fit(data.preprocess_images(x_tr), y_tr, epochs=1, batch_size=64,
                     optimizer="adam", seed=0, verbose=0)
    result = model.evaluate(data.preprocess_images(x_te), y_te, batch_size=500)
    print("lab CNN: test accuracy %.4f, loss %.4f; epoch time %.1f s" % (
        result["accuracy"], result["loss"], hist["time"][0]))
    assert result["accuracy"] >= 0.980
