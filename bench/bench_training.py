"""Whole-training benchmarks on MNIST: fastnn vs its NumPy twin (backend 'reference') and torch.

    FASTNN_DATA=/path/to/mnist pytest bench/bench_training.py --benchmark-json bench/training.json
    python bench/report.py bench/training.json

Two groups, each timed for impl fastnn / numpy-twin / torch:

* ``train epoch: lab MLP ...``: one full epoch (60000 images, 469 batches of 128) of the lab MLP
  (784-256-128-10, ReLU, dropout 0.2) with Adam 1e-3, through ``Sequential.fit`` (shuffle, forward,
  loss, backward, Adam step, per-batch divergence check and training accuracy).
* ``train N batches: lab CNN ...``: the lab CNN (conv32-pool-conv64-pool-dense128-dropout 0.5-10)
  with Adam 1e-3 and batch 64, for a FIXED number of batches, ``CNN_BATCHES`` (default 200 =
  12800 images, about a fifth of an epoch), because a whole CNN epoch on the NumPy twin takes
  minutes.  Multiply by 938 / CNN_BATCHES for a full-epoch estimate.

Steady state: ``benchmark.pedantic`` runs one warm-up round (an untimed epoch / batch run, which
also fills the kernels' workspaces) before ``ROUNDS`` timed rounds; training continues from
round to round, as in a real run.  torch trains the same architecture (torch.nn, default
initialisation, ``torch.optim.Adam``, ``CrossEntropyLoss``) with ``torch.set_num_threads`` equal
to ``fastnn.get_num_threads()`` (bench/conftest.py pins both, and NumPy's BLAS, to
FASTNN_BENCH_THREADS, default 2); it also reads each batch's loss (``loss.item()``) as ``fit``
does.  ``extra_info``: samples and batches per round.

Quick check of the harness: ``FASTNN_BENCH_CNN_BATCHES=3 FASTNN_BENCH_MLP_BATCHES=3
pytest bench/bench_training.py --benchmark-disable`` (the override is for that only; results
always say how many batches they timed).  Skipped when MNIST is not found (FASTNN_DATA or the
cache; nothing is downloaded).
"""
import os

import numpy as np
import pytest

import fastnn
from fastnn import backend, data, datasets, zoo
from fastnn.benchmarks.cases import IMPLS, torch_lab_model

#: batches timed per CNN round (batch 64); the group name and extra_info carry the number
CNN_BATCHES = int(os.environ.get("FASTNN_BENCH_CNN_BATCHES", "200"))
#: batches per MLP round; None = the whole epoch (469 batches of 128)
MLP_BATCHES = (int(os.environ["FASTNN_BENCH_MLP_BATCHES"])
               if os.environ.get("FASTNN_BENCH_MLP_BATCHES") else None)
ROUNDS = 3
MLP_BATCH, CNN_BATCH = 128, 64


@pytest.fixture(scope="module")
def mnist():
    try:
        (x, y), _ = datasets.load_mnist(download=False, verbose=False)
    except datasets.DatasetError as e:
        pytest.skip("MNIST not available: %s" % e)
    return x, y.astype(np.int64)


def _subset(x, y, batches, batch_size):
    if batches is None:
        return x, y
    n = batches * batch_size
    return x[:n], y[:n]


def _fastnn_round(model, x, y, batch_size, impl):
    """One fit epoch over (x, y); the optimizer persists across rounds (model.optimizer)."""
    name = "compiled" if impl == "fastnn" else "reference"
    epoch = [0]

    def run():
        with backend.use(name):
            model.fit(x, y, epochs=epoch[0] + 1, initial_epoch=epoch[0], batch_size=batch_size,
                      optimizer=None, seed=0,
                      verbose=0)
        epoch[0] += 1
    return run


def _torch_model(kind):
    return torch_lab_model(pytest.importorskip("torch"), kind)


def _torch_round(kind, x, y, batch_size):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(fastnn.get_num_threads())
    net = _torch_model(kind)
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    gen = torch.Generator().manual_seed(0)

    def run():
        order = torch.randperm(tx.shape[0], generator=gen)
        for lo in range(0, tx.shape[0], batch_size):
            idx = order[lo:lo + batch_size]
            xb, yb = tx[idx], ty[idx]
            opt.zero_grad()
            loss = loss_fn(net(xb), yb)
            loss.backward()
            opt.step()
            loss.item()
    return run


def _tag(benchmark, group, impl, samples, batches):
    benchmark.group = group
    benchmark.extra_info["impl"] = impl
    benchmark.extra_info["samples"] = samples
    benchmark.extra_info["batches"] = batches
    benchmark.extra_info["threads"] = fastnn.get_num_threads()


@pytest.mark.parametrize("impl", IMPLS)
def test_train_mlp_epoch(benchmark, impl, mnist):
    x, y = _subset(*mnist, MLP_BATCHES, MLP_BATCH)
    x = data.preprocess_images(x, flatten=True)
    batches = -(-x.shape[0] // MLP_BATCH)
    what = "epoch" if MLP_BATCHES is None else "%d batches" % batches
    _tag(benchmark, "train %s: lab MLP, MNIST %d images, batch %d, Adam" % (
        what, x.shape[0], MLP_BATCH), impl, x.shape[0], batches)
    if impl == "torch":
        run = _torch_round("mlp", x, y, MLP_BATCH)
    else:
        run = _fastnn_round(zoo.mlp(seed=0), x, y, MLP_BATCH, impl)
    benchmark.pedantic(run, rounds=ROUNDS, iterations=1, warmup_rounds=1)


@pytest.mark.parametrize("impl", IMPLS)
def test_train_cnn_batches(benchmark, impl, mnist):
    x, y = _subset(*mnist, CNN_BATCHES, CNN_BATCH)
    x = data.preprocess_images(x)
    _tag(benchmark, "train %d batches: lab CNN, batch %d (%d images), Adam" % (
        CNN_BATCHES, CNN_BATCH, x.shape[0]), impl, x.shape[0], CNN_BATCHES)
    if impl == "torch":
        run = _torch_round("cnn", x, y, CNN_BATCH)
    else:
        run = _fastnn_round(zoo.cnn(seed=0), x, y, CNN_BATCH, impl)
    benchmark.pedantic(run, rounds=ROUNDS, iterations=1, warmup_rounds=1)
