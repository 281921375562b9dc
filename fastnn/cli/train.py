"""``fastnn train``: train the lab MLP or CNN on MNIST (or Fashion-MNIST) and report the test
accuracy; with ``--out`` also write the history, the figures and the model; with
``--checkpoint`` save the whole training state after every epoch, and continue it
bit-identically with ``--resume``.

Every flag is checked before any data is loaded (``--out`` and ``--checkpoint`` included), so a
bad value costs nothing.  ``--out`` is written through :mod:`fastnn.cli.outputs`: a Ctrl-C or an
error while writing leaves the previous run's files untouched, and ``manifest.json`` lists the
files of the run that wrote it.
"""
import argparse
import json
import math
import os

import numpy as np

from .. import (__version__, backend, callbacks, data, datasets, get_num_threads, initializers,
                metrics, optim, plotting, regularizers, zoo)
from .. import threads as kernel_threads
from .._atomic import check_target
from ..errors import UsageError
from ..saving import load_model
from . import outputs
from .checks import fraction, int_list, learning_rate, positive_int, thread_count

__all__ = ["add_parser", "run"]

# Per model: (epochs, batch size, dropout) when the flag is not given.
DEFAULTS = {"mlp": (5, 128, 0.2), "cnn": (1, 64, 0.5)}
# The flags whose default depends on --model, in the order of a DEFAULTS row.
_PER_MODEL = (("--epochs", int, "epochs"), ("--batch-size", int, "mini-batch size"),
              ("--dropout", float, "dropout rate"))
_HIDDEN_DEFAULT = (256, 128)
# What --out writes (manifest.json last: the list of these files; the CNN adds CNN_ARTEFACTS).
ARTEFACTS = ("history.csv", "history.json", "curves.png", "confusion.png", "model.npz",
             "layer_stats.json", "weights_hist.png", "gradients_hist.png",
             "activations_hist.png", "activations_moments.png", "gradient_norms.png")
CNN_ARTEFACTS = ("filters.png", "feature_maps.png")
# The settings a checkpoint records and --resume requires unchanged: everything that decides
# the numbers of a run (not --epochs, which a resumed run may raise; not --threads, on which
# results never depend), with the flag that sets each.
RUN_SETTINGS = (("model", "--model"), ("dataset", "--dataset"), ("optimizer", "--optimizer"),
                ("lr", "--lr"), ("batch_size", "--batch-size"), ("init", "--init"),
                ("activation", "--activation"), ("dropout", "--dropout"),
                ("hidden", "--hidden"), ("seed", "--seed"), ("backend", "--backend"),
                ("val_fraction", "--val-fraction"), ("limit", "--limit"), ("l1", "--l1"),
                ("l2", "--l2"))
_METADATA_KEY = "fastnn train"


def add_parser(sub):
    p = sub.add_parser(
        "train", help="train the lab MLP or CNN on MNIST and report test accuracy",
        description="Train the lab MLP (784-256-128-10, ReLU, dropout) or CNN "
        "(conv32-pool-conv64-pool-dense128-dropout-10) on MNIST, then print the test accuracy "
        "and loss.  With --out DIR also write %s and manifest.json there (all or nothing: an "
        "interrupted write leaves the previous run's files).  With --checkpoint PATH save the "
        "training state after every epoch; --resume PATH continues it exactly (pass the same "
        "flags; --epochs is the total).  Defaults: mlp 5 epochs, batch 128, dropout 0.2; cnn 1 "
        "epoch, batch 64, dropout 0.5; Adam with its default lr 1e-3." % ", ".join(ARTEFACTS))
    p.add_argument("--model", choices=("mlp", "cnn"), default="mlp",
                   help="architecture (default: %(default)s)")
    p.add_argument("--dataset", choices=("mnist", "fashion-mnist"), default="mnist",
                   help="MNIST digits or Fashion-MNIST (same file format; default: "
                   "%(default)s)")
    p.add_argument("--optimizer", choices=optim.names(), default="adam",
                   help="fastnn.optim.get name (default: %(default)s)")
    p.add_argument("--lr", type=float, default=None,
                   help="learning rate, at most 1e3 (default: the optimizer's, e.g. 1e-3 for "
                   "adam)")
    for i, (flag, kind, what) in enumerate(_PER_MODEL):
        p.add_argument(flag, type=kind, default=None, help="%s (default: %s mlp / %s cnn)"
                       % (what, DEFAULTS["mlp"][i], DEFAULTS["cnn"][i]))
    p.add_argument("--init", default="glorot_uniform",
                   help="kernel initializer (Keras name, e.g. he_normal; default: %(default)s)")
    p.add_argument("--activation", choices=("relu", "sigmoid", "tanh", "elu"), default="relu",
                   help="hidden-layer activation (default: %(default)s)")
    p.add_argument("--hidden", default=None,
                   help="mlp only: hidden widths, comma-separated positive integers (default: "
                   "%s)" % ",".join(str(h) for h in _HIDDEN_DEFAULT))
    p.add_argument("--l1", type=float, default=0.0,
                   help="L1 penalty l1 * sum|w| on every kernel (Keras' L1; default 0 = none)")
    p.add_argument("--l2", type=float, default=0.0,
                   help="L2 penalty l2 * sum w^2 on every kernel (Keras' L2, no 1/2: torch's "
                   "weight_decay = 2 * l2 for SGD; default 0 = none)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed for weights, dropout masks, shuffling and the validation split "
                   "(default: %(default)s)")
    p.add_argument("--threads", type=int, default=None,
                   help="kernel threads (default: FASTNN_NUM_THREADS or the CPUs available)")
    p.add_argument("--backend", choices=("compiled", "reference"), default=None,
                   help="compiled kernels or their NumPy twins (slower, for reading); "
                   "default: the active fastnn.backend (compiled unless changed)")
    p.add_argument("--data-dir", default=None,
                   help="directory with the IDX files, the only place looked (default: "
                   "$FASTNN_DATA, else the cache)")
    p.add_argument("--no-download", action="store_true",
                   help="fail instead of fetching missing dataset files")
    p.add_argument("--val-fraction", type=float, default=0.0,
                   help="fraction of the training set held out for validation (default: "
                   "%(default)s = none)")
    p.add_argument("--limit", type=int, default=None,
                   help="train on the first N training images only (quick runs)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="write %s and manifest.json to DIR (created; checked before "
                   "training); the last six come from fastnn.callbacks.LayerStatistics (per "
                   "layer and epoch: histograms and moments of weights, gradients and "
                   "activations), and the cnn adds %s" % (", ".join(ARTEFACTS),
                                                         " and ".join(CNN_ARTEFACTS)))
    p.add_argument("--checkpoint", default=None, metavar="PATH",
                   help="save the whole training state to PATH after every epoch (an existing "
                   "PATH is only continued, with --resume PATH)")
    p.add_argument("--resume", default=None, metavar="PATH",
                   help="continue the run saved in PATH (by --checkpoint or --out's model.npz) "
                   "up to --epochs in total, bit-identically to an uninterrupted run")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--verbose", dest="verbose", action="store_const", const=1, default=1,
                   help="progress bar / one line per epoch, and the model summary (default)")
    g.add_argument("--quiet", dest="verbose", action="store_const", const=0,
                   help="print only the final test result")
    p.set_defaults(func=run)


def _settings(args):
    """The checked values of ``args`` (UsageError naming the flag), defaults filled in."""
    epochs, batch_size, dropout = (d if v is None else v for v, d in zip(
        (args.epochs, args.batch_size, args.dropout), DEFAULTS[args.model]))
    s = argparse.Namespace(
        epochs=positive_int(epochs, "--epochs"),
        batch_size=positive_int(batch_size, "--batch-size"),
        dropout=fraction(dropout, "--dropout"),
        val_fraction=fraction(args.val_fraction, "--val-fraction"),
        # None without --threads: the default count, adapted to the machine's load per call
        # (fastnn.get_num_threads); an explicit count would switch that adaptation off.
        threads=(thread_count(args.threads, "--threads") if args.threads is not None
                 else None),
        optimizer_kw={} if args.lr is None else {"lr": learning_rate(args.lr, "--lr")})
    if args.limit is not None:
        positive_int(args.limit, "--limit")
    if args.seed < 0:
        raise UsageError("--seed must be >= 0, got %d" % args.seed)
    if args.hidden is not None and args.model != "mlp":
        raise UsageError("--hidden sets the mlp's hidden widths; --model %s has a fixed "
                         "architecture (leave --hidden out)" % args.model)
    s.hidden = _HIDDEN_DEFAULT if args.hidden is None else int_list(args.hidden, "--hidden")
    try:
        initializers.get(args.init)
    except (ValueError, TypeError) as e:
        raise UsageError("--init: %s" % e) from None
    s.kernel_regularizer = _regularizer(args)
    s.backend = args.backend or backend.get_backend()
    s.run = {"model": args.model, "dataset": args.dataset, "optimizer": args.optimizer,
             "lr": args.lr, "batch_size": s.batch_size, "init": args.init,
             "activation": args.activation, "dropout": s.dropout,
             "hidden": list(s.hidden) if args.model == "mlp" else None, "seed": args.seed,
             "backend": s.backend, "val_fraction": s.val_fraction, "limit": args.limit,
             "l1": args.l1, "l2": args.l2}
    if args.resume is not None and not os.path.isfile(args.resume):
        raise UsageError("--resume %s: no such file" % args.resume)
    if args.checkpoint is not None:
        _check_checkpoint_path(args)
    if args.out is not None:
        outputs.prepare(args.out, "--out")
    return s


def _check_checkpoint_path(args):
    path = args.checkpoint
    try:
        check_target(path)
    except (ValueError, OSError) as e:
        raise UsageError("--checkpoint: %s" % e) from None
    if os.path.lexists(path) and (args.resume is None or not os.path.samefile(path,
                                                                              args.resume)):
        raise UsageError("--checkpoint %s exists: continue that run with --resume %s, or "
                         "choose another path (it is never overwritten by a new run)"
                         % (path, path))
    parent = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as e:
        raise UsageError("--checkpoint: cannot create %s (%s)" % (parent, e.strerror)) from None
    if not os.access(parent, os.W_OK):
        raise UsageError("--checkpoint: cannot write in %s" % parent)


def _regularizer(args):
    """regularizers.L1L2 from --l1/--l2, or None when both are 0."""
    for flag, v in (("--l1", args.l1), ("--l2", args.l2)):
        if not math.isfinite(v) or v < 0:
            raise UsageError("%s must be a number >= 0, got %r" % (flag, v))
    if args.l1 == 0 and args.l2 == 0:
        return None
    return regularizers.L1L2(l1=args.l1, l2=args.l2)


def _load(args, s):
    """(x_train, y_train), validation or None, (x_test, y_test): scaled, int64 labels."""
    loader = datasets.load_mnist if args.dataset == "mnist" else datasets.load_fashion_mnist
    (x_tr, y_tr), (x_te, y_te) = loader(args.data_dir, download=not args.no_download,
                                        verbose=bool(args.verbose))
    if args.limit is not None:
        x_tr, y_tr = x_tr[:args.limit], y_tr[:args.limit]
    flatten = args.model == "mlp"
    x_tr = data.preprocess_images(x_tr, flatten=flatten)
    x_te = data.preprocess_images(x_te, flatten=flatten)
    y_tr = y_tr.astype(np.int64)
    y_te = y_te.astype(np.int64)
    validation = None
    if s.val_fraction > 0:
        (x_tr, y_tr), validation = data.train_val_split(x_tr, y_tr, s.val_fraction,
                                                        seed=args.seed)
    return (x_tr, y_tr), validation, (x_te, y_te)


def _resumed(path, s):
    """The model saved in ``path``, checked to continue this run: it must have been written by
    ``fastnn train`` with the same RUN_SETTINGS and fewer than --epochs epochs."""
    model = load_model(path)
    saved = (getattr(model, "checkpoint_metadata", None) or {}).get(_METADATA_KEY)
    if not isinstance(saved, dict):
        raise UsageError("--resume %s: not written by 'fastnn train' (no training settings in "
                         "it); resume it from Python with load_model and fit(initial_epoch=...)"
                         % path)
    now = json.loads(json.dumps(s.run))              # as the checkpoint stores it
    differ = ["%s %s (now %s)" % (flag, _flag_value(saved.get(key)), _flag_value(now[key]))
              for key, flag in RUN_SETTINGS if saved.get(key) != now[key]]
    if differ:
        raise UsageError("--resume %s was trained with %s; pass the same flags to continue it"
                         % (path, ", ".join(differ)))
    if model.epochs_completed >= s.epochs:
        raise UsageError("--resume %s has completed %d epoch%s; pass --epochs greater than that "
                         "to train on (--epochs is the total)"
                         % (path, model.epochs_completed,
                            "" if model.epochs_completed == 1 else "s"))
    if model.optimizer is None:
        raise UsageError("--resume %s holds no optimizer state" % path)
    return model


def _flag_value(v):
    if v is None:
        return "unset"
    return ",".join(str(h) for h in v) if isinstance(v, list) else str(v)


def run(args):
    """``fastnn train``: returns the exit status (0)."""
    s = _settings(args)
    verbose = args.verbose
    (x_tr, y_tr), validation, (x_te, y_te) = _load(args, s)

    if args.resume is not None:
        model = _resumed(args.resume, s)
        optimizer = None                               # the restored one, with its state
        lr = model.optimizer.param_groups[0]["lr"]
    else:
        if args.model == "mlp":
            model = zoo.mlp(hidden=s.hidden, activation=args.activation, dropout=s.dropout,
                            kernel_initializer=args.init, input_dim=x_tr.shape[1],
                            seed=args.seed, kernel_regularizer=s.kernel_regularizer)
        else:
            model = zoo.cnn(dropout=s.dropout, activation=args.activation,
                            kernel_initializer=args.init, input_shape=x_tr.shape[1:],
                            seed=args.seed, kernel_regularizer=s.kernel_regularizer)
        optimizer = optim.get(args.optimizer, model.parameters(), **s.optimizer_kw)
        lr = optimizer.param_groups[0]["lr"]
    model.checkpoint_metadata = {_METADATA_KEY: s.run}
    first = model.epochs_completed

    shown_threads = s.threads if s.threads is not None else get_num_threads()
    if verbose:
        print("fastnn %s: %s on %s (%d train%s / %d test), %s lr=%g, %d epoch%s, batch %d, "
              "%d thread%s, %s backend%s" % (
                  __version__, args.model, args.dataset, x_tr.shape[0],
                  "" if validation is None else " / %d val" % validation[0].shape[0],
                  x_te.shape[0], args.optimizer, lr, s.epochs, "" if s.epochs == 1 else "s",
                  s.batch_size, shown_threads, "" if shown_threads == 1 else "s", s.backend,
                  "" if args.resume is None else ", resuming %s after epoch %d"
                  % (args.resume, first)))
        model.summary()
    # braces escaped: ModelCheckpoint formats its path with the epoch logs, --checkpoint is literal
    cbs = [] if args.checkpoint is None else [callbacks.ModelCheckpoint(
        args.checkpoint.replace("{", "{{").replace("}", "}}"))]
    # --out: record what happens inside, layer by layer (no effect on the training itself)
    stats = callbacks.LayerStatistics() if args.out else None
    if stats is not None:
        cbs.append(stats)
    with kernel_threads(s.threads), backend.use(s.backend):
        hist = model.fit(x_tr, y_tr, epochs=s.epochs, batch_size=s.batch_size,
                         optimizer=optimizer, validation_data=validation, seed=args.seed,
                         verbose=verbose, initial_epoch=first, callbacks=cbs or None)
        result = model.evaluate(x_te, y_te)
        probs = model.predict(x_te) if args.out else None
    print("test accuracy: %.4f  test loss: %.4f" % (result["accuracy"], result["loss"]))
    if verbose:
        times = hist.history["time"]
        print("epoch time: %s s (mean %.2f s)" % (", ".join("%.2f" % t for t in times),
                                                  sum(times) / len(times)))
    if args.out:
        config = dict(s.run, lr=lr, epochs=s.epochs, threads=shown_threads,
                      train_samples=int(x_tr.shape[0]), resumed_from=args.resume,
                      resumed_after_epoch=first if args.resume else None)
        with outputs.staged(args.out, {"command": "fastnn train", "config": config}) as stage:
            _write(stage, model, result, config, y_te, probs)
            written = list(ARTEFACTS[:5]) + _write_inside(stage, model, stats, x_te)
        if verbose:
            print("wrote %s and %s to %s" % (", ".join(written), outputs.MANIFEST, args.out))
    return 0


def _write(out, model, result, config, y_test, probs):
    """The --out artefacts (ARTEFACTS) into the directory ``out``; the history is the model's
    whole record (across a --resume)."""
    hist = model.history
    record = hist.to_dict()
    record["test"] = {"accuracy": result["accuracy"], "loss": result["loss"]}
    record["config"] = config
    with open(os.path.join(out, "history.json"), "w") as fh:
        json.dump(record, fh, indent=1)
    hist.to_csv(os.path.join(out, "history.csv"))
    plotting.plot_history(hist, path=os.path.join(out, "curves.png"),
                          test={"loss": result["loss"], "accuracy": result["accuracy"]})
    cm = metrics.confusion_matrix(y_test, probs, num_classes=probs.shape[1])
    plotting.plot_confusion_matrix(cm, path=os.path.join(out, "confusion.png"))
    model.save(os.path.join(out, "model.npz"))


def _write_inside(out, model, stats, x_test):
    """The --out figures of what happened inside the network (LayerStatistics; the CNN's
    filters and the feature maps of the first test image); returns the file names."""
    stats.to_json(os.path.join(out, "layer_stats.json"))
    for kind in ("weights", "gradients", "activations"):
        plotting.plot_layer_histograms(stats, kind, path=os.path.join(out, kind + "_hist.png"))
    plotting.plot_layer_moments(stats, "activations",
                                path=os.path.join(out, "activations_moments.png"))
    plotting.plot_gradient_norms(stats, path=os.path.join(out, "gradient_norms.png"))
    written = list(ARTEFACTS[5:])
    convs = [layer for layer in model.layers if hasattr(layer, "kernel_size")]
    if convs:
        plotting.plot_filters(convs[0], path=os.path.join(out, "filters.png"))
        plotting.plot_feature_maps(model, x_test[0], path=os.path.join(out, "feature_maps.png"))
        written += list(CNN_ARTEFACTS)
    return written
