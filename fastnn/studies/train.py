"""One study run: build the lab MLP from a seed, train it, record every curve.

:func:`train_run` is the task function of both studies (see ``runner.execute``).  Its config
(all JSON) is:

    hidden        [256, 128]                 hidden widths (zoo.mlp)
    activation    "relu" | "sigmoid" | ...   hidden activation
    dropout       0.2                        dropout rate after each hidden layer
    init          "glorot_uniform" or {"class_name": "RandomNormal", "config": {...}}
                  (fastnn.initializers.get / deserialize)
    optimizer     "adam"                     fastnn.optim.get name
    lr            1e-3
    epochs, batch_size, seed                 ``seed`` is zoo.mlp's weight/dropout seed AND
                                             fit's shuffle seed, so two runs with one seed
                                             start from identical weights and see identical
                                             batches whatever the optimizer
    eval_batch_size  2000                    batch size of the per-epoch test evaluation
    weight_histograms  false | true          also histogram each Dense kernel, start and end
    histogram_bins  50
    data          StudyData.describe() (name, fingerprint, sizes): identifies the data
    fastnn        fastnn.__version__ (not used here: it makes another version recompute)
    study         which study the run belongs to (not used here)

What it returns (all per epoch lists have one entry per completed epoch):

    epoch          [1, 2, ...]               epochs completed
    loss           training loss: mean over the epoch's mini-batches (dropout active)
    accuracy       training accuracy over the epoch, measured on the fly (dropout active)
    test_loss, test_accuracy   on the test arrays after the epoch (inference mode)
    epoch_time     seconds of training in the epoch (test evaluation excluded)
    eval_time      seconds of the test evaluation
    init_test      {"loss", "accuracy"} on the test arrays before training
    batch_losses   every mini-batch's training loss, in order; batches_per_epoch
    diverged       null, or {"epoch", "batch", "loss"} (1-based) when the loss became
                   NaN/inf; the curves then stop at the last completed epoch
    weights        (weight_histograms) per Dense kernel: shape, histogram edges and counts
                   at the start and at the end, mean and std at both
"""
import time

import numpy as np

from .. import errors, initializers, optim, zoo
from ..layers import Dense

__all__ = ["train_run", "epoch_rows_csv", "EPOCH_COLUMNS"]


#: the per-epoch lists of a run record, in the column order of every per-epoch CSV
EPOCH_COLUMNS = ("epoch", "loss", "accuracy", "test_loss", "test_accuracy", "epoch_time",
                 "eval_time")


def _histograms(start, end, bins):
    out = []
    for name, w0, w1 in zip(start[0], start[1], end):
        both = np.concatenate([w0.ravel(), w1.ravel()]).astype(np.float64)
        finite = both[np.isfinite(both)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
        if hi <= lo:                      # a constant kernel (zeros, ones): one centred bin
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, bins + 1)

        def stats(w):
            w = w[np.isfinite(w)].astype(np.float64)
            return (float(w.mean()) if w.size else None, float(w.std()) if w.size else None)
        m0, s0 = stats(w0)
        m1, s1 = stats(w1)
        out.append({"layer": name, "shape": list(w0.shape), "edges": edges.tolist(),
                    "start_counts": np.histogram(w0, edges)[0].tolist(),
                    "end_counts": np.histogram(w1[np.isfinite(w1)], edges)[0].tolist(),
                    "start_mean": m0, "start_std": s0, "end_mean": m1, "end_std": s1})
    return out


def train_run(config, data):
    """Train one run described by ``config`` on ``data`` (a StudyData); returns its record
    (see the module docstring).  Deterministic given (config, data)."""
    x, y, xt, yt = data.arrays()
    init = initializers.get(config["init"])
    model = zoo.mlp(hidden=tuple(config["hidden"]), activation=config["activation"],
                    dropout=config["dropout"], kernel_initializer=init, input_dim=x.shape[1],
                    num_classes=data.num_classes, seed=config["seed"])
    optimizer = optim.get(config["optimizer"], model.parameters(), lr=config["lr"])
    dense = [layer for layer in model.layers if isinstance(layer, Dense)]
    start = None
    if config.get("weight_histograms"):
        # positional names: layer names carry a per-process counter ("dense_15"), and a
        # record must not depend on which process ran it
        start = (["dense %d" % (i + 1) for i in range(len(dense))],
                 [d.kernel.value.copy() for d in dense])

    eval_bs = config["eval_batch_size"]
    init_test = model.evaluate(xt, yt, batch_size=eval_bs)
    test_loss, test_acc, eval_time = [], [], []

    def evaluate(epoch, logs):
        t0 = time.perf_counter()
        r = model.evaluate(xt, yt, batch_size=eval_bs)
        eval_time.append(time.perf_counter() - t0)
        test_loss.append(r["loss"])
        test_acc.append(r["accuracy"])

    diverged = None
    try:
        model.fit(x, y, epochs=config["epochs"], batch_size=config["batch_size"],
                  optimizer=optimizer, callbacks=[evaluate], shuffle=True, seed=config["seed"],
                  verbose=0)
    except errors.TrainingDivergedError as e:
        diverged = {"epoch": int(e.epoch) + 1, "batch": int(e.batch) + 1, "loss": repr(e.loss)}
    hist = model.history
    n = len(hist.epoch)
    record = {
        "epoch": [int(e) + 1 for e in hist.epoch],
        "loss": list(hist.history.get("loss", [])),
        "accuracy": list(hist.history.get("accuracy", [])),
        "test_loss": test_loss[:n], "test_accuracy": test_acc[:n],
        "epoch_time": list(hist.history.get("time", [])), "eval_time": eval_time[:n],
        "init_test": {"loss": init_test["loss"], "accuracy": init_test["accuracy"]},
        "batch_losses": list(hist.batch_losses),
        "batches_per_epoch": list(hist.batches_per_epoch),
        "diverged": diverged,
    }
    if start is not None:
        record["weights"] = _histograms(start, [d.kernel.value for d in dense],
                                        int(config.get("histogram_bins", 50)))
    return record


def epoch_rows_csv(record):
    """A run's per-epoch CSV: epoch, loss, accuracy, test_loss, test_accuracy, epoch_time,
    eval_time (one row per completed epoch; ``repr`` floats, so they read back exactly)."""
    lines = [",".join(EPOCH_COLUMNS)]
    for i in range(len(record["epoch"])):
        lines.append(",".join(repr(record[c][i]) for c in EPOCH_COLUMNS))
    return "\n".join(lines) + "\n"
