"""``fastnn study optimizers`` and ``fastnn study init``: the parsing of the study commands.  The
studies themselves are ``fastnn.studies.optimizers.run_study`` and
``fastnn.studies.init.run_study``; a value they refuse raises ValueError naming the option,
which ``fastnn.cli.main`` prints in one line (exit status 2)."""
import argparse
import math
import os
import sys

from ..errors import UsageError
from ..studies import data as study_data
from ..studies import init as init_study
from ..studies import optimizers as opt_study
from ..studies import runner
from .checks import positive_int, thread_count

__all__ = ["add_parser", "run"]

# The options every study shares, passed to its resolve_config under their argparse names.
_SHARED = ("train_size", "test_size", "seed_offset")


def name_list(text):
    """argparse type: 'adam, SGD' -> ['adam', 'sgd']."""
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected a comma-separated list of names, got %r"
                                         % text)
    return names


def lower_name(text):
    """argparse type: ' Adam ' -> 'adam'."""
    return text.strip().lower()


def _number(text, what):
    try:
        v = float(text)
    except ValueError:
        v = None
    if v is None or not math.isfinite(v) or v <= 0:
        raise argparse.ArgumentTypeError("%s must be positive numbers, got %r" % (what, text))
    return v


def lr_overrides(text):
    """argparse type: learning rates per optimizer, several per optimizer for a sweep.

    'adam=1e-3,sgd=0.1' -> {'adam': [0.001], 'sgd': [0.1]};
    'sgd=0.1,0.03,adam=1e-3' -> {'sgd': [0.1, 0.03], 'adam': [0.001]}: a value without a name
    is one more rate of the optimizer named before it.  A name given twice is refused."""
    out, current = {}, None
    for item in (p.strip() for p in text.split(",")):
        if not item:
            raise argparse.ArgumentTypeError(
                "expected name=value pairs with positive values, e.g. 'adam=1e-3,sgd=0.1' "
                "(several rates: 'sgd=0.1,0.03'); got an empty item in %r" % text)
        name, sep, value = item.partition("=")
        if sep:
            current = name.strip().lower()
            if not current:
                raise argparse.ArgumentTypeError("expected name=value pairs with positive "
                                                 "values, e.g. 'adam=1e-3,sgd=0.1'; got %r"
                                                 % item)
            if current in out:
                raise argparse.ArgumentTypeError(
                    "%s is given twice in %r: give all its rates once, e.g. %s=1e-3,3e-4"
                    % (current, text, current))
            out[current] = []
        elif current is None:
            raise argparse.ArgumentTypeError("expected name=value pairs with positive values, "
                                             "e.g. 'adam=1e-3,sgd=0.1'; got %r" % item)
        else:
            value = item
        try:
            out[current].append(_number(value, "learning rates"))
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(
                "expected name=value pairs with positive values, e.g. 'adam=1e-3,sgd=0.1'; "
                "got %r" % item) from None
        if len(set(out[current])) != len(out[current]):
            raise argparse.ArgumentTypeError("%s lists the rate %s twice in %r"
                                             % (current, value, text))
    return out


class MergeLR(argparse.Action):
    """``--lr`` may be repeated (``--lr sgd=0.1,0.03 --lr adam=1e-3``); an optimizer named in
    two of them is refused."""

    def __call__(self, parser, namespace, values, option_string=None):
        merged = dict(getattr(namespace, self.dest, None) or {})
        for name, rates in values.items():
            if name in merged:
                parser.error("argument --lr: %s is given twice: give all its rates once, "
                             "e.g. --lr %s=1e-3,3e-4" % (name, name))
            merged[name] = rates
        setattr(namespace, self.dest, merged)


def number_list(text):
    """argparse type: '0.01, 0.005' -> [0.01, 0.005] (positive numbers)."""
    items = [t.strip() for t in text.split(",")]
    if not text.strip() or any(not t for t in items):
        raise argparse.ArgumentTypeError("expected comma-separated positive numbers, got %r"
                                         % text)
    return [_number(t, "values") for t in items]


def width_list(text):
    """argparse type: '256,128' -> [256, 128] (positive layer widths; no empty items)."""
    items = [t.strip() for t in text.split(",")]
    try:
        widths = [int(t) for t in items]
    except ValueError:
        widths = None
    if not text.strip() or widths is None or any(w < 1 for w in widths):
        raise argparse.ArgumentTypeError("expected comma-separated positive layer widths, "
                                         "e.g. 256,128; got %r" % text)
    return widths


def add_parser(sub):
    """Register ``study`` with its sub-commands ``optimizers`` and ``init`` on ``sub`` (the
    sub-parsers object of the ``fastnn`` parser)."""
    study = sub.add_parser(
        "study", help="optimizer / initializer studies (see 'fastnn study --help')",
        description="Reproducible lab studies on MNIST: many independent runs, in parallel, "
        "resumable, with figures, tables and a report.md.  See docs/studies.md.")
    studies = study.add_subparsers(dest="study_name", metavar="{optimizers,init}")
    _add_optimizers(studies)
    _add_init(studies)
    study.set_defaults(func=lambda args: _print_help(study))
    return study


def _print_help(parser):
    parser.print_help()
    return 2


def _add_optimizers(studies):
    d = opt_study.DEFAULTS
    p = studies.add_parser(
        "optimizers", help="10 optimizers x sigmoid/ReLU x runs on the lab MLP or CNN",
        description="Train the lab MLP (784-256-128-10) or, with --model cnn, the lab CNN "
        "with each optimizer (%s) and each activation, %d runs each (seeds 0..%d: the same "
        "initial weights and batches for every optimizer), and write per-run data, mean loss "
        "curves with +-1 std bands (plain SGD as the baseline when it runs), a ranked summary "
        "table and report.md to --out.  Customary learning rates: %s (override or sweep with "
        "--lr).  Defaults: %d epochs, batch %d, dropout %g, first %d training images, test "
        "accuracy on %d test images after each epoch.  --quick: %s."
        % (", ".join(opt_study.OPTIMIZERS), d["runs"], d["runs"] - 1,
           ", ".join("%s %g" % kv for kv in opt_study.DEFAULT_LR.items()), d["epochs"],
           d["batch_size"], d["dropout"], d["train_size"], d["test_size"],
           ", ".join("%s %s" % (k.replace("_", "-"), v) for k, v in opt_study.QUICK.items())))
    p.add_argument("--model", choices=("mlp", "cnn"), default=None,
                   help="the lab MLP (default) or the lab CNN; the CNN's defaults: %s"
                   % ", ".join("%s %s" % (k.replace("_", "-"), v)
                               for k, v in opt_study.CNN_DEFAULTS.items() if v is not None))
    p.add_argument("--optimizers", type=name_list, default=None,
                   help="comma-separated subset of: %s" % ",".join(opt_study.OPTIMIZERS))
    p.add_argument("--activations", "--activation", type=name_list, default=None,
                   help="comma-separated hidden activations: sigmoid,relu (also tanh, elu)")
    p.add_argument("--runs", type=int, default=None, help="runs (seeds) per cell")
    p.add_argument("--epochs", type=int, default=None, help="epochs per run")
    p.add_argument("--batch-size", type=int, default=None, help="mini-batch size")
    p.add_argument("--dropout", type=float, default=None, help="dropout rate")
    p.add_argument("--hidden", type=width_list, default=None,
                   help="MLP hidden widths, comma-separated (default %s)"
                   % ",".join(map(str, d["hidden"])))
    p.add_argument("--init", default=None,
                   help="kernel initializer, a Keras name in snake_case or as its class name "
                   "(default %s)" % d["init"])
    p.add_argument("--momentum", type=float, default=None,
                   help="momentum of SGD+momentum and Nesterov (default %g)" % d["momentum"])
    p.add_argument("--lr", type=lr_overrides, action=MergeLR, default=None,
                   metavar="NAME=LR[,LR...],...",
                   help="learning rates per optimizer, e.g. adam=1e-3,sgd=0.1; several rates "
                   "make a sweep, each its own series: sgd=0.1,0.03,adam=1e-3,3e-4 (a rate "
                   "without a name belongs to the optimizer before it); --lr may be repeated; "
                   "an optimizer given twice is refused")
    p.add_argument("--loss-threshold", type=float, default=None,
                   help="training loss whose first crossing is timed (default %g)"
                   % d["loss_threshold"])
    p.add_argument("--eval-batch-size", type=int, default=None,
                   help="batch size of the test evaluation after each epoch (default %d; "
                   "results do not depend on it beyond rounding)" % d["eval_batch_size"])
    _add_shared(p, "study-optimizers")
    p.set_defaults(func=run, study=opt_study, options=(
        "model", "optimizers", "activations", "runs", "epochs", "batch_size", "dropout",
        "hidden", "init", "momentum", "lr", "loss_threshold", "eval_batch_size") + _SHARED)


def _add_init(studies):
    d = init_study.DEFAULTS
    p = studies.add_parser(
        "init", help="weight initializers: every Keras initializer, Xavier vs He, "
        "activation statistics, on the lab MLP or CNN",
        description="With --model cnn: the lab CNN with Glorot, He and N(0, sigma) kernels "
        "(--normal-std 0.01,0.005), part 2 and the statistics by default.  "
        "Part 1: every Keras initializer (%s) on the lab MLP (ReLU, dropout %g, "
        "Adam 1e-3, batch %d, %d epochs): curves, final table, weight histograms before/after "
        "training.  Part 2: %s x %s, %d runs each (%s lr %g, %d epochs), mean loss curves "
        "with +-1 std bands.  Activation statistics: per-layer mean/std of pre-activations, "
        "outputs and gradients at initialization for each scheme and activation.  Defaults: "
        "first %d training images, %d test images."
        % (", ".join(init_study.KERAS_INITIALIZERS), d["dropout"], d["batch_size"],
           d["part1_epochs"], ", ".join(d["schemes"]), ", ".join(d["activations"]), d["runs"],
           d["optimizer"], d["lr"], d["epochs"], d["train_size"], d["test_size"]))
    p.add_argument("--model", choices=("mlp", "cnn"), default=None,
                   help="the lab MLP (default) or the lab CNN; the CNN's defaults: %s"
                   % ", ".join("%s %s" % (k.replace("_", "-"), v)
                               for k, v in init_study.CNN_DEFAULTS.items() if v is not None))
    p.add_argument("--parts", type=name_list, default=None,
                   help="comma-separated parts to run: 1,2,stats (default all; cnn: 2,stats)")
    p.add_argument("--initializers", type=name_list, default=None,
                   help="part 1: comma-separated Keras initializer names (default all 14)")
    p.add_argument("--part1-epochs", type=int, default=None,
                   help="part 1 epochs (default %d)" % d["part1_epochs"])
    p.add_argument("--part1-runs", type=int, default=None,
                   help="part 1 runs per initializer (default %d)" % d["part1_runs"])
    p.add_argument("--part1-activation", type=lower_name, default=None,
                   help="part 1 hidden activation (default %s)" % d["part1_activation"])
    p.add_argument("--part1-optimizer", type=lower_name, default=None,
                   help="part 1 optimizer, a fastnn.optim.get name (default %s)"
                   % d["part1_optimizer"])
    p.add_argument("--part1-lr", type=float, default=None,
                   help="part 1 learning rate (default %g)" % d["part1_lr"])
    p.add_argument("--schemes", type=name_list, default=None,
                   help="part 2 and statistics: comma-separated schemes: 'normal' (N(0, "
                   "sigma) for each sigma of --normal-std) or initializer names, snake_case or "
                   "Keras class names (default %s)" % ",".join(d["schemes"]))
    p.add_argument("--normal-std", type=number_list, default=None, metavar="SIGMA[,SIGMA...]",
                   help="standard deviations of the 'normal' scheme, one series each "
                   "(default %s; cnn: 0.01,0.005)"
                   % ",".join("%g" % v for v in d["normal_std"]))
    p.add_argument("--activations", "--activation", type=name_list, default=None,
                   help="part 2 and statistics: comma-separated (default sigmoid,relu)")
    # part 2's options repeat part 1's shape (each part of the study has its own settings)
    p.add_argument("--runs", type=int, default=None, help="part 2 runs per cell")
    p.add_argument("--epochs", type=int, default=None, help="part 2 epochs")
    p.add_argument("--optimizer", type=lower_name, default=None,
                   help="part 2 optimizer, a fastnn.optim.get name (default %s)" % d["optimizer"])
    p.add_argument("--lr", type=float, default=None,
                   help="part 2 learning rate (default %g)" % d["lr"])
    p.add_argument("--batch-size", type=int, default=None, help="mini-batch size (both parts)")
    p.add_argument("--dropout", type=float, default=None,
                   help="dropout rate after each hidden layer (both parts; default %g)"
                   % d["dropout"])
    p.add_argument("--hidden", type=width_list, default=None,
                   help="MLP hidden widths, comma-separated (default %s)"
                   % ",".join(map(str, d["hidden"])))
    p.add_argument("--eval-batch-size", type=int, default=None,
                   help="batch size of the test evaluations (default %d)" % d["eval_batch_size"])
    p.add_argument("--stats-batch", type=int, default=None,
                   help="training images in the statistics' batch (default %d; cnn 256)"
                   % d["stats_batch"])
    p.add_argument("--histogram-bins", type=int, default=None,
                   help="bins of part 1's weight histograms (default %d)" % d["histogram_bins"])
    _add_shared(p, "study-init")
    p.set_defaults(func=run, study=init_study, options=(
        "model", "parts", "initializers", "part1_epochs", "part1_runs", "part1_activation",
        "part1_optimizer", "part1_lr", "schemes", "normal_std", "activations", "runs",
        "epochs", "optimizer", "lr", "batch_size", "dropout", "hidden", "eval_batch_size",
        "stats_batch", "histogram_bins") + _SHARED)


def _add_shared(p, out_default):
    g = p.add_argument_group("data")
    g.add_argument("--train-size", type=int, default=None,
                   help="train on the first N MNIST training images")
    g.add_argument("--test-size", type=int, default=None,
                   help="evaluate on the first N MNIST test images after every epoch")
    g.add_argument("--data-dir", default=None,
                   help="directory with the MNIST IDX files (default: $FASTNN_DATA, else the "
                   "cache)")
    g.add_argument("--no-download", action="store_true",
                   help="fail instead of fetching missing MNIST files")
    g = p.add_argument_group("execution")
    g.add_argument("--jobs", type=int, default=None,
                   help="local worker processes (default: the available cores; 1 = run in "
                   "this process)")
    g.add_argument("--threads", type=int, default=None,
                   help="fastnn kernel threads per run (default: cores // jobs, at least 1; "
                   "1 on Dask).  Results do not depend on it")
    g.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run the grid on a Dask distributed cluster, e.g. tcp://host:8786 "
                   "(needs pip install \"fastnn[distributed]\"); --jobs is then ignored")
    g.add_argument("--out", default=out_default, metavar="DIR",
                   help="output directory; finished runs found there are reused")
    g.add_argument("--quick", action="store_true",
                   help="small preset for a check in under a minute (options given "
                   "explicitly still win)")
    g.add_argument("--log-scale", action="store_true",
                   help="log-scale loss axes (default: log only when the loss curves span "
                   "more than a factor 20)")
    g.add_argument("--quiet", action="store_true",
                   help="no progress bar and no summary, only errors")
    g.add_argument("--seed-offset", type=int, default=None,
                   help="run i uses seed OFFSET+i (weights, dropout masks, shuffling)")


def run(args):
    """``fastnn study <name>``: resolve the configuration, load MNIST, run (or resume) the
    study; returns the exit status (0)."""
    jobs = positive_int(args.jobs if args.jobs is not None else runner.available_cores(),
                        "--jobs")
    if args.threads is not None:
        thread_count(args.threads, "--threads")
    cfg = args.study.resolve_config(quick=args.quick,
                                    **{k: getattr(args, k) for k in args.options})
    data = study_data.mnist(args.data_dir, cfg["train_size"], cfg["test_size"],
                            download=not args.no_download, verbose=not args.quiet)
    try:
        args.study.run_study(cfg, data, args.out, jobs=jobs, threads=args.threads,
                             scheduler=args.scheduler, progress=not args.quiet,
                             log_scale=True if args.log_scale else None,
                             data_dir=args.data_dir, print_fn=None if args.quiet else print)
    except ImportError as e:          # --scheduler without the optional Dask extra
        raise UsageError(str(e)) from None
    except KeyboardInterrupt:
        print("finished runs are saved in %s; run the same command again to resume"
              % os.path.join(args.out, "runs"), file=sys.stderr)
        raise
    return 0
