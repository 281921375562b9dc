"""One study run: build the lab MLP or CNN from a seed, train it, record every curve.

:func:`train_run` is the task function of both studies (see ``runner.execute``), and
:func:`check_record` the check of what it returns.  Its config (all JSON) is:

    model         "mlp" (default) | "cnn"    zoo.mlp or zoo.cnn (the lab models)
    hidden        [256, 128]                 hidden widths (zoo.mlp; absent for the CNN)
    activation    "relu" | "sigmoid" | ...   hidden activation
    dropout       0.2                        dropout rate after each hidden layer
    init          "glorot_uniform" or {"class_name": "RandomNormal", "config": {...}}
                  (fastnn.initializers.get / deserialize)
    optimizer     "adam"                     fastnn.optim.get name
    lr            1e-3
    momentum      0.9                        (optional) momentum of 'momentum' / 'nesterov'
    epochs, batch_size, seed                 ``seed`` is zoo.mlp's weight/dropout seed AND
                                             fit's shuffle seed, so two runs with one seed
                                             start from identical weights and see identical
                                             batches whatever the optimizer
    eval_batch_size  2000                    batch size of the per-epoch test evaluation
    weight_histograms  false | true          also histogram each kernel, start and end
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
    weights        (weight_histograms) per kernel (Dense, and Conv2D for the CNN): shape,
                   histogram edges and counts at the start and at the end, mean and std at
                   both
"""
import time

import numpy as np

import numbers

from .. import errors, initializers, optim, zoo
from ..layers import Conv2D, Dense

__all__ = ["train_run", "build_model", "weighted_layers", "check_record", "epoch_rows_csv",
           "EPOCH_COLUMNS"]


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


def weighted_layers(model):
    """[(positional name, layer)] of the layers with a kernel, in order: "dense 1", "dense 2",
    ... for the MLP; "conv 1", "conv 2", "dense 1", "dense 2" for the CNN.  Positional, since
    layer names carry a per-process counter ("dense_15") and a record must not depend on
    which process ran it."""
    out, counts = [], {}
    for layer in model.layers:
        kind = "conv" if isinstance(layer, Conv2D) else "dense" if isinstance(layer, Dense) \
            else None
        if kind is not None:
            counts[kind] = counts.get(kind, 0) + 1
            out.append(("%s %d" % (kind, counts[kind]), layer))
    return out


def build_model(config, data, dropout=None, init=None):
    """The run's model from ``config``: zoo.mlp or zoo.cnn with its seed, activation, dropout
    (``dropout`` overrides) and kernel initializer (``init``, a resolved initializer,
    overrides config['init']); returns ``(model, arrays)``, arrays = data.arrays() in the
    model's input layout."""
    init = initializers.get(config["init"]) if init is None else init
    dropout = config["dropout"] if dropout is None else dropout
    if config.get("model", "mlp") == "cnn":
        arrays = data.arrays(images=True)
        model = zoo.cnn(activation=config["activation"], dropout=dropout,
                        kernel_initializer=init, input_shape=arrays[0].shape[1:],
                        num_classes=data.num_classes, seed=config["seed"])
    else:
        arrays = data.arrays()
        model = zoo.mlp(hidden=tuple(config["hidden"]), activation=config["activation"],
                        dropout=dropout, kernel_initializer=init, input_dim=arrays[0].shape[1],
                        num_classes=data.num_classes, seed=config["seed"])
    return model, arrays


def train_run(config, data):
    """Train one run described by ``config`` on ``data`` (a StudyData); returns its record
    (see the module docstring).  Deterministic given (config, data)."""
    model, (x, y, xt, yt) = build_model(config, data)
    extra = {"momentum": config["momentum"]} if "momentum" in config else {}
    optimizer = optim.get(config["optimizer"], model.parameters(), lr=config["lr"], **extra)
    kernels = weighted_layers(model)
    start = None
    if config.get("weight_histograms"):
        start = ([name for name, _ in kernels], [layer.kernel.value.copy() for _, layer in kernels])

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
        record["weights"] = _histograms(start, [layer.kernel.value for _, layer in kernels],
                                        int(config.get("histogram_bins", 50)))
    return record


def _numbers(record, key, allow_none=False):
    v = record[key]
    if not isinstance(v, list) or not all(
            (x is None and allow_none) or (isinstance(x, numbers.Real) and not isinstance(x, bool))
            for x in v):
        raise ValueError("%r must be a list of numbers" % key)
    return v


def check_record(record):
    """ValueError naming the first field of a run record (as ``train_run`` returns it) that is
    missing or malformed: the per-epoch lists of one length, the batch losses and their
    per-epoch counts, the initial test result, the divergence note, the weight histograms."""
    if not isinstance(record, dict):
        raise ValueError("a record is a JSON object")
    for key in EPOCH_COLUMNS + ("batch_losses", "batches_per_epoch", "init_test", "wall_time"):
        if key not in record:
            raise ValueError("%r is missing" % key)
    n = len(_numbers(record, "epoch"))
    for key in EPOCH_COLUMNS:
        if len(_numbers(record, key, allow_none=True)) != n:
            raise ValueError("%r has %d entries for %d epochs" % (key, len(record[key]), n))
    per_epoch = _numbers(record, "batches_per_epoch")
    if len(per_epoch) != n or sum(per_epoch) != len(_numbers(record, "batch_losses")):
        raise ValueError("'batches_per_epoch' does not add up to the %d batch losses"
                         % len(record["batch_losses"]))
    init = record["init_test"]
    if not isinstance(init, dict) or not all(isinstance(init.get(k), numbers.Real)
                                             for k in ("loss", "accuracy")):
        raise ValueError("'init_test' must hold a loss and an accuracy")
    if not isinstance(record["wall_time"], numbers.Real):
        raise ValueError("'wall_time' must be a number")
    if record.get("diverged") is not None and not isinstance(record["diverged"], dict):
        raise ValueError("'diverged' must be null or an object")
    if (record.get("config") or {}).get("weight_histograms"):
        weights = record.get("weights")
        keys = ("layer", "shape", "edges", "start_counts", "end_counts", "start_mean",
                "start_std", "end_mean", "end_std")
        if not isinstance(weights, list) or not all(
                isinstance(w, dict) and all(k in w for k in keys) for w in weights):
            raise ValueError("'weights' must list each kernel's histograms (%s)"
                             % ", ".join(keys))


def epoch_rows_csv(record):
    """A run's per-epoch CSV: epoch, loss, accuracy, test_loss, test_accuracy, epoch_time,
    eval_time (one row per completed epoch; ``repr`` floats, so they read back exactly)."""
    lines = [",".join(EPOCH_COLUMNS)]
    for i in range(len(record["epoch"])):
        lines.append(",".join(repr(record[c][i]) for c in EPOCH_COLUMNS))
    return "\n".join(lines) + "\n"
