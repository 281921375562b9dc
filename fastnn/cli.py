"""The ``fastnn`` command (also ``python -m fastnn``).

    fastnn                          same as ``fastnn train``: the lab MLP on MNIST, 5 epochs
    fastnn train --model cnn --out runs/cnn
    fastnn study optimizers ...     (fastnn.studies.cli)
    fastnn bench                    quick kernel timings

Bad arguments and missing data end with exit status 2 and a one-line message (set
FASTNN_DEBUG=1 for the traceback); a diverging run ends with status 1.
"""
import argparse
import math
import os
import sys

__all__ = ["main", "build_parser"]

_TRAIN_DEFAULTS = {   # model -> (epochs, batch size, dropout)
    "mlp": (5, 128, 0.2),
    "cnn": (1, 64, 0.5),
}


class UsageError(Exception):
    """A bad argument value found after parsing: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, "%s: error: %s (see '%s --help')\n" % (self.prog, message, self.prog))


# --------------------------------------------------------------------------- parsers
def build_parser(with_study=False):
    """The argument parser.  ``with_study``: import ``fastnn.studies.cli`` and let it register
    the ``study`` sub-commands (done only when the command line asks for ``study``, so other
    commands never pay for that import)."""
    from . import __version__
    parser = _Parser(prog="fastnn", description="fastnn: train the MNIST lab models, run the "
                     "studies, time the kernels.  With no arguments: 'fastnn train'.")
    parser.add_argument("--version", action="version", version="fastnn " + __version__)
    sub = parser.add_subparsers(dest="command", metavar="{train,study,bench}")
    _add_train(sub)
    if with_study:
        _add_study(sub)
    else:
        p = sub.add_parser("study", help="optimizer / initializer studies "
                           "(see 'fastnn study --help')", add_help=False)
        p.add_argument("rest", nargs=argparse.REMAINDER)
    _add_bench(sub)
    return parser


def _study_module():
    """``fastnn.studies.cli``, or raise UsageError saying why it cannot be used."""
    try:
        from .studies import cli as study_cli
    except ImportError as e:
        raise UsageError("the study commands live in fastnn.studies.cli, which cannot be "
                         "imported in this installation (%s: %s)" % (type(e).__name__, e)) from None
    if not callable(getattr(study_cli, "add_parser", None)):
        raise UsageError("fastnn.studies.cli has no add_parser(subparsers) function")
    return study_cli


def _add_study(sub):
    _study_module().add_parser(sub)


def _add_train(sub):
    from . import optim
    p = sub.add_parser(
        "train", help="train the lab MLP or CNN on MNIST and report test accuracy",
        description="Train the lab MLP (784-256-128-10, ReLU, dropout) or CNN "
        "(conv32-pool-conv64-pool-dense128-dropout-10) on MNIST, then print the test accuracy "
        "and loss.  With --out DIR also write history.csv, history.json, curves.png, "
        "confusion.png and model.npz there.  Defaults: mlp 5 epochs, batch 128, dropout 0.2; "
        "cnn 1 epoch, batch 64, dropout 0.5; Adam with its default lr 1e-3.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", choices=("mlp", "cnn"), default="mlp", help="architecture")
    p.add_argument("--dataset", choices=("mnist", "fashion-mnist"), default="mnist",
                   help="MNIST digits or Fashion-MNIST (same file format)")
    p.add_argument("--optimizer", choices=sorted(optim._NAMES), default="adam",
                   help="fastnn.optim.get name")
    p.add_argument("--lr", type=float, default=None,
                   help="learning rate (default: the optimizer's, e.g. 1e-3 for adam)")
    p.add_argument("--epochs", type=int, default=None, help="epochs (default 5 mlp / 1 cnn)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="mini-batch size (default 128 mlp / 64 cnn)")
    p.add_argument("--init", default="glorot_uniform",
                   help="kernel initializer (Keras name, e.g. he_normal)")
    p.add_argument("--activation", choices=("relu", "sigmoid", "tanh", "elu"), default="relu",
                   help="hidden-layer activation")
    p.add_argument("--dropout", type=float, default=None,
                   help="dropout rate (default 0.2 mlp / 0.5 cnn)")
    p.add_argument("--hidden", default="256,128",
                   help="mlp hidden widths, comma-separated")
    p.add_argument("--seed", type=int, default=0,
                   help="seed for weights, dropout masks, shuffling and the validation split")
    p.add_argument("--threads", type=int, default=None,
                   help="kernel threads (default: FASTNN_NUM_THREADS or the CPUs available)")
    p.add_argument("--backend", choices=("compiled", "reference"), default=None,
                   help="compiled kernels or their NumPy twins (slower, for reading); "
                   "default: the active fastnn.backend (compiled unless changed)")
    p.add_argument("--data-dir", default=None,
                   help="directory with the IDX files (default: $FASTNN_DATA, else the cache)")
    p.add_argument("--no-download", action="store_true",
                   help="fail instead of fetching missing dataset files")
    p.add_argument("--val-fraction", type=float, default=0.0,
                   help="fraction of the training set held out for validation (0 = none)")
    p.add_argument("--limit", type=int, default=None,
                   help="train on the first N training images only (quick runs)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="write history.csv, history.json, curves.png, confusion.png, model.npz")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--verbose", dest="verbose", action="store_const", const=1, default=1,
                   help="progress bar / one line per epoch, and the model summary")
    g.add_argument("--quiet", dest="verbose", action="store_const", const=0,
                   help="print only the final test result")
    p.set_defaults(func=_cmd_train)


def _add_bench(sub):
    p = sub.add_parser(
        "bench", help="quick timing of the main kernels: compiled vs NumPy twin (vs torch)",
        description="Quick built-in timing (median of --repeats runs, time.perf_counter) of "
        "fastnn's main kernels at the lab's shapes: the MLP's fused matmul+bias+ReLU, the first "
        "convolution (1->32 channels), 2x2 max pooling and an Adam step over 1M parameters; "
        "compiled kernels vs their NumPy twins (fastnn.reference) and torch when it is "
        "importable.  Prints a markdown table.  The full benchmark suite (pytest-benchmark, "
        "more shapes and whole training epochs) is 'pytest bench/ --benchmark-only' in the "
        "source tree.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--repeats", type=int, default=7, help="timed repeats per kernel (median)")
    p.add_argument("--threads", type=int, default=None,
                   help="threads for fastnn, NumPy's BLAS and torch (default: fastnn's)")
    p.add_argument("--no-torch", action="store_true", help="skip the torch column")
    p.set_defaults(func=_cmd_bench)


# --------------------------------------------------------------------------- helpers
def _positive_int(v, name):
    if v is None or v < 1:
        raise UsageError("%s must be a positive integer, got %r" % (name, v))
    return v


def _fraction(v, name, lo_open=False):
    if not math.isfinite(v) or v < 0 or v >= 1 or (lo_open and v == 0):
        raise UsageError("%s must be in %s0, 1), got %r" % (name, "(" if lo_open else "[", v))
    return v


# --------------------------------------------------------------------------- train
def _cmd_train(args):
    import json

    import numpy as np

    import fastnn
    from . import backend, data, datasets, metrics, optim, plotting, zoo

    epochs_d, batch_d, dropout_d = _TRAIN_DEFAULTS[args.model]
    epochs = _positive_int(args.epochs if args.epochs is not None else epochs_d, "--epochs")
    batch_size = _positive_int(args.batch_size if args.batch_size is not None else batch_d,
                               "--batch-size")
    dropout = _fraction(args.dropout if args.dropout is not None else dropout_d, "--dropout")
    val_fraction = _fraction(args.val_fraction, "--val-fraction")
    threads = _positive_int(args.threads if args.threads is not None
                            else fastnn.get_num_threads(), "--threads")
    if args.limit is not None:
        _positive_int(args.limit, "--limit")
    if args.seed < 0:
        raise UsageError("--seed must be >= 0, got %d" % args.seed)
    opt_kw = {}
    if args.lr is not None:
        if not math.isfinite(args.lr) or args.lr <= 0:
            raise UsageError("--lr must be a positive number, got %r" % args.lr)
        opt_kw["lr"] = args.lr
    try:
        hidden = tuple(int(h) for h in args.hidden.split(",") if h.strip())
    except ValueError:
        raise UsageError("--hidden must be comma-separated positive integers, got %r"
                         % args.hidden) from None
    from . import initializers
    try:
        initializers.get(args.init)
    except (ValueError, TypeError) as e:
        raise UsageError("--init: %s" % e) from None

    verbose = args.verbose
    backend_name = args.backend or backend.get_backend()
    loader = datasets.load_mnist if args.dataset == "mnist" else datasets.load_fashion_mnist
    (x_tr, y_tr), (x_te, y_te) = loader(args.data_dir, download=not args.no_download,
                                        verbose=bool(verbose))
    if args.limit is not None:
        x_tr, y_tr = x_tr[:args.limit], y_tr[:args.limit]
    flatten = args.model == "mlp"
    x_tr = data.preprocess_images(x_tr, flatten=flatten)
    x_te = data.preprocess_images(x_te, flatten=flatten)
    y_tr = y_tr.astype(np.int64)
    y_te = y_te.astype(np.int64)
    validation = None
    if val_fraction > 0:
        (x_tr, y_tr), validation = data.train_val_split(x_tr, y_tr, val_fraction, seed=args.seed)

    if args.model == "mlp":
        model = zoo.mlp(hidden=hidden, activation=args.activation, dropout=dropout,
                        kernel_initializer=args.init, input_dim=x_tr.shape[1], seed=args.seed)
    else:
        model = zoo.cnn(dropout=dropout, activation=args.activation,
                        kernel_initializer=args.init, input_shape=x_tr.shape[1:], seed=args.seed)
    optimizer = optim.get(args.optimizer, model.parameters(), **opt_kw)

    if verbose:
        print("fastnn %s: %s on %s (%d train%s / %d test), %s lr=%g, %d epoch%s, batch %d, "
              "%d thread%s, %s backend" % (
                  fastnn.__version__, args.model, args.dataset, x_tr.shape[0],
                  "" if validation is None else " / %d val" % validation[0].shape[0],
                  x_te.shape[0], args.optimizer, optimizer.param_groups[0]["lr"], epochs,
                  "" if epochs == 1 else "s", batch_size, threads, "" if threads == 1 else "s",
                  backend_name))
        model.summary()
    with fastnn.threads(threads), backend.use(backend_name):
        hist = model.fit(x_tr, y_tr, epochs=epochs, batch_size=batch_size, optimizer=optimizer,
                         validation_data=validation, seed=args.seed, verbose=verbose)
        result = model.evaluate(x_te, y_te)
        probs = model.predict(x_te) if args.out else None
    print("test accuracy: %.4f  test loss: %.4f" % (result["accuracy"], result["loss"]))
    if verbose:
        times = hist.history["time"]
        print("epoch time: %s s (mean %.2f s)" % (", ".join("%.2f" % t for t in times),
                                                  sum(times) / len(times)))

    if args.out:
        out = args.out
        os.makedirs(out, exist_ok=True)
        record = hist.to_dict()
        record["test"] = {"accuracy": result["accuracy"], "loss": result["loss"]}
        record["config"] = {
            "model": args.model, "dataset": args.dataset, "optimizer": args.optimizer,
            "lr": optimizer.param_groups[0]["lr"], "epochs": epochs, "batch_size": batch_size,
            "init": args.init, "activation": args.activation, "dropout": dropout,
            "hidden": list(hidden) if args.model == "mlp" else None, "seed": args.seed,
            "threads": threads, "backend": backend_name, "val_fraction": val_fraction,
            "limit": args.limit, "train_samples": int(x_tr.shape[0])}
        with open(os.path.join(out, "history.json"), "w") as fh:
            json.dump(record, fh, indent=1)
        hist.to_csv(os.path.join(out, "history.csv"))
        plotting.plot_history(hist, path=os.path.join(out, "curves.png"))
        cm = metrics.confusion_matrix(y_te, probs, num_classes=probs.shape[1])
        plotting.plot_confusion_matrix(cm, path=os.path.join(out, "confusion.png"))
        model.save(os.path.join(out, "model.npz"))
        if verbose:
            print("wrote history.csv, history.json, curves.png, confusion.png, model.npz to %s"
                  % out)
    return 0


# --------------------------------------------------------------------------- bench
def _time_call(fn, repeats):
    """Median seconds per call over ``repeats`` samples; each sample loops enough calls to
    last >= 5 ms so microsecond kernels are not lost in timer resolution."""
    import time
    fn()                                     # warm-up: workspaces, caches, lazy imports
    number = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        dt = time.perf_counter() - t0
        if dt >= 5e-3 or number >= 1 << 16:
            break
        number *= 4
    samples = [dt / number]
    for _ in range(repeats - 1):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - t0) / number)
    samples.sort()
    return samples[len(samples) // 2]


def _bench_cases(torch):
    import numpy as np

    from . import kernels, reference
    rng = np.random.default_rng(0)
    f32 = np.float32
    cases = []

    def dense(n, k, m):
        x = rng.standard_normal((n, k)).astype(f32)
        w = (rng.standard_normal((k, m)) * 0.05).astype(f32)
        b = rng.standard_normal(m).astype(f32)
        run = {mod: (lambda mod=mod: mod.matmul_bias(x, w, b, activation="relu"))
               for mod in (kernels, reference)}
        t = None
        if torch is not None:
            tx, tw, tb = (torch.from_numpy(a) for a in (x, w, b))
            t = lambda: torch.addmm(tb, tx, tw).relu_()  # noqa: E731
        cases.append(("matmul_bias + relu", "%dx%d @ %dx%d" % (n, k, k, m), run, t))

    dense(128, 784, 256)
    dense(128, 256, 128)

    x = rng.standard_normal((64, 1, 28, 28)).astype(f32)
    w = (rng.standard_normal((32, 1, 3, 3)) * 0.3).astype(f32)
    b = np.zeros(32, f32)
    run = {mod: (lambda mod=mod: mod.conv2d_forward(x, w, b, 1, 1)) for mod in (kernels, reference)}
    t = None
    if torch is not None:
        tx, tw, tb = (torch.from_numpy(a) for a in (x, w, b))
        t = lambda: torch.nn.functional.conv2d(tx, tw, tb, 1, 1)  # noqa: E731
    cases.append(("conv2d forward 1->32, 3x3, pad 1", "64x1x28x28", run, t))

    dy = rng.standard_normal((64, 32, 28, 28)).astype(f32)
    run = {mod: (lambda mod=mod: mod.conv2d_backward(dy, x, w, 1, 1))
           for mod in (kernels, reference)}
    t = None
    if torch is not None:
        tdy = torch.from_numpy(dy)
        t = lambda: torch.ops.aten.convolution_backward(  # noqa: E731
            tdy, tx, tw, [32], [1, 1], [1, 1], [1, 1], False, [0, 0], 1, [True, True, True])
    cases.append(("conv2d backward 1->32, 3x3, pad 1", "64x1x28x28", run, t))

    xp = rng.standard_normal((64, 32, 28, 28)).astype(f32)
    run = {mod: (lambda mod=mod: mod.maxpool2d_forward(xp, 2, None))
           for mod in (kernels, reference)}
    t = None
    if torch is not None:
        txp = torch.from_numpy(xp)
        t = lambda: torch.nn.functional.max_pool2d(txp, 2, 2, return_indices=True)  # noqa: E731
    cases.append(("maxpool2d forward 2x2", "64x32x28x28", run, t))

    n = 1 << 20
    p0 = rng.standard_normal(n).astype(f32)
    g = rng.standard_normal(n).astype(f32)
    states = {}
    run = {}
    for mod in (kernels, reference):
        p, m, v = p0.copy(), np.zeros(n, f32), np.zeros(n, f32)
        states[mod] = (p, m, v)
        run[mod] = (lambda mod=mod, p=p, m=m, v=v:
                    mod.adam_update(p, g, m, v, None, 1, lr=1e-3))
    t = None
    if torch is not None:
        tp = torch.from_numpy(p0.copy()).requires_grad_(True)
        tp.grad = torch.from_numpy(g)
        topt = torch.optim.Adam([tp], lr=1e-3, foreach=False)
        t = topt.step
    cases.append(("Adam step", "1M float32 params", run, t))
    return cases


def _cmd_bench(args):
    import platform

    import fastnn
    from . import kernels, reference
    repeats = _positive_int(args.repeats, "--repeats")
    threads = _positive_int(args.threads if args.threads is not None
                            else fastnn.get_num_threads(), "--threads")
    torch = None
    if not args.no_torch:
        try:
            import torch
        except ImportError:
            torch = None
    from threadpoolctl import threadpool_limits
    if torch is not None:
        saved_torch_threads = torch.get_num_threads()
        torch.set_num_threads(threads)
    try:
        # Everyone gets the same thread count: fastnn's kernels, NumPy's BLAS (the twins'
        # matmuls) and torch.
        with fastnn.threads(threads), threadpool_limits(threads, "blas"):
            cases = _bench_cases(torch)
            rows = []
            for name, shape, run, t in cases:
                ours = _time_call(run[kernels], repeats)
                twin = _time_call(run[reference], repeats)
                tt = _time_call(t, repeats) if t is not None else None
                rows.append((name, shape, ours, twin, tt))
    finally:
        if torch is not None:
            torch.set_num_threads(saved_torch_threads)
    info = fastnn.build_info()
    print("fastnn %s, %d thread%s, SIMD %s, OpenMP %s; %s; NumPy twin with %d BLAS thread%s%s; "
          "median of %d" % (fastnn.__version__, threads, "" if threads == 1 else "s",
                            info.get("simd"), "on" if info.get("openmp") else "off",
                            platform.processor() or platform.machine(), threads,
                            "" if threads == 1 else "s",
                            "; torch %s" % torch.__version__ if torch is not None else "",
                            repeats))
    print()
    head = "| kernel | shape | fastnn | NumPy twin | twin / fastnn |"
    rule = "|---|---|---:|---:|---:|"
    if torch is not None:
        head += " torch | torch / fastnn |"
        rule += "---:|---:|"
    print(head)
    print(rule)
    for name, shape, ours, twin, tt in rows:
        line = "| %s | %s | %s | %s | %.2fx |" % (name, shape, _fmt(ours), _fmt(twin), twin / ours)
        if torch is not None:
            line += " %s | %.2fx |" % (_fmt(tt), tt / ours)
        print(line)
    print()
    print("Full suite: pytest bench/ --benchmark-only (in the source tree).")
    return 0


def _fmt(seconds):
    if seconds >= 1:
        return "%.2f s" % seconds
    if seconds >= 1e-3:
        return "%.2f ms" % (seconds * 1e3)
    return "%.1f us" % (seconds * 1e6)


# --------------------------------------------------------------------------- entry point
def main(argv=None):
    """Run the command line; returns the exit status (0 ok, 1 diverged, 2 usage/data error)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        argv = ["train"]
    try:
        parser = build_parser(with_study=argv[0] == "study")
    except UsageError as e:           # fastnn.studies is missing
        print("fastnn %s: error: %s" % (argv[0], _one_line(e)), file=sys.stderr)
        return 2
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:          # --help (0) or a usage error (2), already printed
        return e.code if isinstance(e.code, int) else 2
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    command = getattr(args, "command", None) or "fastnn"
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("fastnn %s: interrupted" % command, file=sys.stderr)
        return 130
    except Exception as e:
        if os.environ.get("FASTNN_DEBUG"):
            raise
        from .datasets import DatasetError
        from .models import TrainingDivergedError
        if isinstance(e, TrainingDivergedError):
            print("fastnn %s: %s" % (command, e), file=sys.stderr)
            return 1
        if isinstance(e, (UsageError, DatasetError, ValueError, TypeError, OSError)):
            msg = _one_line(e)
            if isinstance(e, DatasetError):
                # the library's advice names its keyword argument; say it in command-line terms
                msg = msg.replace("Call with download=True to fetch them",
                                  "Run without --no-download to fetch them")
                msg = msg.replace("pass path= or set FASTNN_DATA",
                                  "pass --data-dir or set FASTNN_DATA")
            print("fastnn %s: error: %s" % (command, msg), file=sys.stderr)
            return 2
        raise


def _one_line(e):
    return " ".join(str(e).split()) or type(e).__name__
