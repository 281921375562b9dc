"""``fastnn study optimizers``: ten optimizers x {sigmoid, ReLU} x runs on the lab MLP or CNN.

Every run of run index i uses seed ``seed_offset + i`` for the model (weights and dropout
masks) and for the shuffling, so for a given activation and seed all optimizers start from the
same weights and see the same mini-batches: the curves differ by the optimizer only.  Each
optimizer runs at one or more learning rates (a sweep: ``lr={'sgd': [0.1, 0.03]}``), each rate
its own series.  When plain SGD runs, its first learning rate is the baseline (black, dashed)
every other curve is drawn against, and the summary gives each series' final loss relative to
it; without SGD there is no baseline, and the figures and report say none.

Output directory::

    config.json            the resolved configuration, the command that reproduces it, and the
                           run manifest (the ids of the runs the report was made from)
    runs/<id>.json, .csv   one file per run, id = <optimizer>-lr<lr>-<activation>-seed<seed>-
                           <digest of the run's whole configuration>
    epochs.csv             all runs' per-epoch values, long format
    batch_losses.csv       all runs' per-mini-batch losses, one column per run
    loss_<activation>.png  loss per epoch (±1 std), smoothed per-iteration loss, test accuracy
    summary.csv, summary.md  per (activation, optimizer, lr): final loss, test accuracy,
                           epochs and seconds to reach the loss threshold, ranked
    report.md              all of the above with the exact configuration; written last
"""
import math
import os

from .._version import __version__
from . import aggregate, plots, report, runner
from .config import (check_activations, check_common, check_names, initializer_name,
                     merge_mlp_cnn, model_text, seeds)
from .train import check_record, epoch_rows_csv, train_run

__all__ = ["OPTIMIZERS", "LABELS", "DEFAULT_LR", "ACTIVATIONS", "DEFAULTS", "QUICK",
           "CNN_DEFAULTS", "CNN_QUICK", "resolve_config", "series", "make_tasks", "task_index",
           "summarize", "command_for", "run_study"]

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "adam",
              "amsgrad", "adamax", "nadam")
LABELS = {"sgd": "SGD", "momentum": "SGD+momentum", "nesterov": "Nesterov",
          "adagrad": "Adagrad", "adadelta": "Adadelta", "rmsprop": "RMSprop", "adam": "Adam",
          "amsgrad": "AMSGrad", "adamax": "Adamax", "nadam": "NAdam"}
ACTIVATIONS = ("sigmoid", "relu")
BASELINE = "sgd"
#: the optimizers that take the study's ``momentum``
MOMENTUM_OPTIMIZERS = ("momentum", "nesterov")

# The customary learning rate of each optimizer (fastnn.optim.get presets otherwise: momentum
# and nesterov use the study's momentum, 0.9 by default).  Where the reference values disagree,
# the one that trains this MLP in a few epochs is used, and the reason is given.
DEFAULT_LR = {"sgd": 0.1, "momentum": 0.01, "nesterov": 0.01, "adagrad": 0.01,
              "adadelta": 1.0, "rmsprop": 1e-3, "adam": 1e-3, "amsgrad": 1e-3,
              "adamax": 2e-3, "nadam": 2e-3}
LR_REASONS = {
    "sgd": "the usual MNIST-MLP step for plain SGD (Keras' default 0.01 barely moves a sigmoid "
           "net in 10 epochs)",
    "momentum": "with momentum 0.9 the effective step is lr/(1-0.9) = 0.1, as plain SGD",
    "nesterov": "as SGD+momentum (momentum 0.9, Nesterov)",
    "adagrad": "Duchi et al.; torch's default",
    "adadelta": "Zeiler's method has no step size (lr 1.0 is the paper's update; torch's "
                "default)",
    "rmsprop": "Hinton's lecture and Keras' default (torch's 0.01 is too large here)",
    "adam": "Kingma & Ba; Keras' and torch's default",
    "amsgrad": "as Adam (Reddi et al.)",
    "adamax": "Kingma & Ba; torch's and Keras' default",
    "nadam": "Dozat; torch's and Keras' default",
}
# Why momentum does not run at SGD's lr by default, for the report.
MOMENTUM_NOTE = (
    "SGD+momentum and Nesterov run at lr 0.01 against plain SGD's 0.1 on purpose: with "
    "momentum 0.9 a step accumulates about 1/(1-0.9) = 10 gradients, so lr 0.01 gives the same "
    "effective step as SGD at 0.1, and the curves then compare what momentum does with the "
    "gradient (averaging out the mini-batch noise, accelerating along consistent directions) "
    "at an equal step size.  At lr 0.1 the effective step would be 10x SGD's, and the "
    "comparison would measure the larger step, not the momentum.  To see both, sweep the rate: "
    "`--lr momentum=0.1,0.01 --lr nesterov=0.1,0.01`.")

DEFAULTS = {
    "model": "mlp", "optimizers": list(OPTIMIZERS), "activations": list(ACTIVATIONS),
    "runs": 10, "seed_offset": 0, "epochs": 10, "batch_size": 128, "hidden": [256, 128],
    "dropout": 0.2, "init": "glorot_uniform", "momentum": 0.9, "train_size": 20000,
    "test_size": 10000, "eval_batch_size": 2000, "loss_threshold": 0.3,
}
QUICK = {"runs": 2, "epochs": 2, "train_size": 3000, "test_size": 2000}
# The lab CNN costs about 15x the MLP per image: fewer images, runs and epochs by default (a
# full default grid is 10 optimizers x 2 activations x 3 runs = 60 runs of 3 epochs on 3000
# images), its own batch size and dropout (the lab CNN's), and no hidden widths.
CNN_DEFAULTS = {"hidden": None, "runs": 3, "epochs": 3, "batch_size": 64, "dropout": 0.5,
                "train_size": 3000, "test_size": 2000}
CNN_QUICK = {"runs": 1, "epochs": 1, "train_size": 500, "test_size": 500}


def _check_lrs(lr_over):
    """{optimizer: [distinct positive rates]} from {name: rate or list of rates}."""
    out = {}
    for name, v in lr_over.items():
        if name not in OPTIMIZERS:
            raise ValueError("lr: unknown optimizer %r; expected names from %s"
                             % (name, ", ".join(OPTIMIZERS)))
        values = list(v) if isinstance(v, (list, tuple)) else [v]
        if not values:
            raise ValueError("lr: %s has no learning rate" % name)
        for x in values:
            if isinstance(x, bool) or not (isinstance(x, (int, float)) and math.isfinite(x)
                                           and x > 0):
                raise ValueError("lr: %s must be a positive number, got %r" % (name, x))
        if len(set(map(float, values))) != len(values):
            raise ValueError("lr: %s lists a learning rate twice: %s"
                             % (name, ",".join("%g" % x for x in values)))
        out[name] = [float(x) for x in values]
    return out


def resolve_config(**overrides):
    """DEFAULTS, then CNN_DEFAULTS for ``model='cnn'``, then QUICK (CNN_QUICK) when
    ``quick=True``, then the non-None ``overrides``.  ``lr`` (``{optimizer: rate}`` or
    ``{optimizer: [rates]}``, a sweep) is merged into DEFAULT_LR: ``cfg['lr'][name]`` is a list.
    ``init`` may be a Keras class name (``HeNormal``).  Validates names and values (ValueError
    naming the option)."""
    lr_over = overrides.pop("lr", None) or {}
    cfg = merge_mlp_cnn(DEFAULTS, QUICK, CNN_QUICK, CNN_DEFAULTS, overrides)
    check_names(cfg, "optimizers")
    for name in cfg["optimizers"]:
        if name not in OPTIMIZERS:
            raise ValueError("optimizers: unknown %r; expected names from %s"
                             % (name, ", ".join(OPTIMIZERS)))
    check_names(cfg, "activations")
    check_activations(cfg)
    cfg["init"] = initializer_name(cfg["init"], "init")
    m = cfg["momentum"]
    if isinstance(m, bool) or not isinstance(m, (int, float)) or not 0 < m < 1:
        raise ValueError("momentum must be a number in (0, 1), got %r" % (m,))
    lrs = _check_lrs(lr_over)
    cfg["lr"] = {name: lrs.get(name, [DEFAULT_LR[name]]) for name in cfg["optimizers"]}
    check_common(cfg)
    return cfg


def series(cfg):
    """The series of the grid, in order: (optimizer, lr) for each optimizer and each of its
    learning rates."""
    return [(opt, lr) for opt in cfg["optimizers"] for lr in cfg["lr"][opt]]


def _baseline(cfg):
    """The baseline series: plain SGD at its first learning rate, or None without SGD."""
    return (BASELINE, cfg["lr"][BASELINE][0]) if BASELINE in cfg["lr"] else None


def _series_label(cfg, opt, lr):
    return "%s (lr %g)" % (LABELS[opt], lr)


def make_tasks(cfg, data):
    """One task per (activation, optimizer, lr, seed); ids from ``runner.run_id`` (readable
    part ``<optimizer>-lr<lr>-<activation>-seed<s>``, then a digest of the configuration)."""
    tasks = []
    for act in cfg["activations"]:
        for opt, lr in series(cfg):
            for s in seeds(cfg, cfg["runs"]):
                config = {"study": "optimizers", "model": cfg["model"]}
                if cfg["model"] == "mlp":
                    config["hidden"] = list(cfg["hidden"])
                config.update({
                    "activation": act, "dropout": cfg["dropout"], "init": cfg["init"],
                    "optimizer": opt, "lr": lr, "epochs": cfg["epochs"],
                    "batch_size": cfg["batch_size"], "seed": s,
                    "eval_batch_size": cfg["eval_batch_size"], "weight_histograms": False,
                    "data": data.describe(),
                    # a finished run is reused only by the fastnn version that made it
                    "fastnn": __version__})
                if opt in MOMENTUM_OPTIMIZERS:
                    config["momentum"] = cfg["momentum"]
                tasks.append({"id": runner.run_id("%s-lr%g-%s-seed%d" % (opt, lr, act, s),
                                                  config),
                              "config": config, "key": (opt, lr, act, s)})
    return tasks


def task_index(tasks):
    """{(optimizer, lr, activation, seed): run id} of ``make_tasks``' tasks."""
    return {t["key"]: t["id"] for t in tasks}


SUMMARY_COLUMNS = ("activation", "rank", "optimizer", "label", "lr", "runs", "diverged",
                   "final_loss_mean", "final_loss_std", "final_loss_vs_sgd",
                   "test_accuracy_mean", "test_accuracy_std", "loss_threshold",
                   "threshold_reached", "epochs_to_threshold_mean",
                   "seconds_to_threshold_mean", "run_seconds_mean")


def summarize(cfg, records, index):
    """Summary rows, one per (activation, optimizer, lr), ranked within each activation by mean
    final training loss (lower first; NaN last).  ``index``: :func:`task_index`.

    final loss: the last epoch's training loss; test accuracy: after the last epoch; both
    mean and std over the runs that did not diverge.  threshold: a run reaches it at the first
    epoch whose training loss is <= loss_threshold; epochs/seconds to threshold are means over
    the runs that reached it (seconds = training time of those epochs, evaluation excluded);
    threshold_reached counts them.  final_loss_vs_sgd: mean final loss / the baseline's (plain
    SGD at its first lr, same activation), when SGD is in the grid.  run_seconds_mean: wall
    time per run."""
    thr = cfg["loss_threshold"]
    base_key = _baseline(cfg)
    order = {key: i for i, key in enumerate(series(cfg))}
    rows = []
    for act in cfg["activations"]:
        group_rows = []
        for opt, lr in series(cfg):
            recs = [records[index[(opt, lr, act, s)]] for s in seeds(cfg, cfg["runs"])]
            row, ok = aggregate.group_summary(recs)
            reach = [(aggregate.first_reach(r["loss"], thr), r) for r in ok]
            reach = [(e, r) for e, r in reach if e is not None]
            e_mean = aggregate.mean_std([e for e, _ in reach])[0]
            s_mean = aggregate.mean_std([aggregate.cumulative_time_to(r["epoch_time"], e)
                                         for e, r in reach])[0]
            row.update(activation=act, optimizer=opt, label=LABELS[opt], lr=lr,
                       loss_threshold=float(thr), threshold_reached=len(reach),
                       epochs_to_threshold_mean=e_mean, seconds_to_threshold_mean=s_mean)
            group_rows.append(row)
        base = next((r["final_loss_mean"] for r in group_rows
                     if (r["optimizer"], r["lr"]) == base_key), None)
        for r in group_rows:
            r["final_loss_vs_sgd"] = aggregate.ratio(r["final_loss_mean"], base)
        group_rows.sort(key=lambda r: (not math.isfinite(r["final_loss_mean"]),
                                       r["final_loss_mean"] if math.isfinite(r["final_loss_mean"])
                                       else 0.0, order[(r["optimizer"], r["lr"])]))
        for i, r in enumerate(group_rows):
            r["rank"] = i + 1
        rows.extend(group_rows)
    return rows


def _summary_markdown(rows, cfg):
    base = _baseline(cfg)
    out = []
    for act in cfg["activations"]:
        table = []
        for r in (r for r in rows if r["activation"] == act):
            table.append([
                r["rank"], r["label"], report.fmt(r["lr"]),
                report.fmt_pm(r["final_loss_mean"], r["final_loss_std"])]
                + ([report.fmt(r["final_loss_vs_sgd"], 3)] if base else []) + [
                report.fmt_pm(r["test_accuracy_mean"], r["test_accuracy_std"], scale=100),
                "%d/%d" % (r["threshold_reached"], r["runs"] - r["diverged"]),
                report.fmt(r["epochs_to_threshold_mean"], 3),
                report.fmt(r["seconds_to_threshold_mean"], 3),
                report.fmt(r["run_seconds_mean"], 3)
                + (" (%d diverged)" % r["diverged"] if r["diverged"] else "")])
        header = (["rank", "optimizer", "lr", "final train loss"]
                  + (["loss / SGD lr %g" % base[1]] if base else [])
                  + ["test acc. (%)", "reached loss <= %g" % cfg["loss_threshold"],
                     "epochs to reach", "seconds to reach", "s per run"])
        out.append("### %s\n\n" % act + report.markdown_table(
            header, table, align="rl" + "r" * (len(header) - 2)))
    return "\n".join(out)


def command_for(cfg, data_dir=None, out=None):
    """The ``fastnn study optimizers`` command line that recomputes exactly this grid (every
    setting spelled out, so it does not depend on the defaults of the version that runs it)."""
    lr = ",".join("%s=%s" % (k, ",".join(repr(x) for x in v)) for k, v in cfg["lr"].items())
    return report.command_line("optimizers", [
        ("--model", cfg["model"]),
        ("--optimizers", ",".join(cfg["optimizers"])),
        ("--activations", ",".join(cfg["activations"])), ("--runs", cfg["runs"]),
        ("--seed-offset", cfg["seed_offset"]), ("--epochs", cfg["epochs"]),
        ("--batch-size", cfg["batch_size"]), ("--lr", lr),
        ("--hidden", ",".join(map(str, cfg["hidden"])) if cfg["model"] == "mlp" else False),
        ("--init", cfg["init"]), ("--momentum", cfg["momentum"]),
        ("--dropout", cfg["dropout"]),
        ("--train-size", cfg["train_size"]), ("--test-size", cfg["test_size"]),
        ("--eval-batch-size", cfg["eval_batch_size"]),
        ("--loss-threshold", cfg["loss_threshold"]),
        ("--data-dir", data_dir if data_dir else False), ("--out", out if out else False)])


def run_study(cfg, data, out, *, jobs=1, threads=None, scheduler=None, progress=True,
              log_scale=None, data_dir=None, print_fn=print):
    """Run (or resume) the grid of ``cfg`` (from :func:`resolve_config`) on ``data`` (a
    StudyData), then write every artefact listed in the module docstring under ``out``:
    report.md last, after ``begin_report`` removed the old one, so an interrupted study never
    leaves a report of another run.  Returns ``(summary_rows, execution_summary)``."""
    os.makedirs(out, exist_ok=True)
    tasks = make_tasks(cfg, data)
    index = task_index(tasks)
    command = command_for(cfg, data_dir, out)
    if print_fn:
        print_fn("optimizer study: %d runs (%s x %s x %d seeds, %s), %d epochs each, on %s"
                 % (len(tasks), ",".join(cfg["optimizers"]), ",".join(cfg["activations"]),
                    cfg["runs"], model_text(cfg), cfg["epochs"], data.name))
        print_fn("learning rates: " + ", ".join("%s %s" % (LABELS[k], ", ".join(
            "%g" % x for x in v)) for k, v in cfg["lr"].items()))
    ex = runner.execute(train_run, tasks, data, os.path.join(out, "runs"), jobs=jobs,
                        threads=threads, scheduler=scheduler, progress=progress,
                        desc="optimizer study", to_csv=epoch_rows_csv, check=check_record)
    records = ex.records
    recs = list(records.values())
    report.begin_report(out)
    runner.atomic_write(os.path.join(out, "epochs.csv"), report.epochs_long_csv(
        recs, ("optimizer", "activation", "seed", "lr")))
    runner.atomic_write(os.path.join(out, "batch_losses.csv"), report.batch_losses_csv(recs))
    rows = summarize(cfg, records, index)
    runner.atomic_write(os.path.join(out, "summary.csv"), report.csv_text(rows, SUMMARY_COLUMNS))
    summary_md = _summary_markdown(rows, cfg)
    runner.atomic_write(os.path.join(out, "summary.md"), summary_md)

    window = aggregate.default_smooth_window(recs)
    base = _baseline(cfg)
    style = plots.series_style(series(cfg), baseline=base)
    figures = []
    for act in cfg["activations"]:
        lines = []
        for opt, lr in series(cfg):
            group = [records[index[(opt, lr, act, s)]] for s in seeds(cfg, cfg["runs"])]
            c, ls, lw, mk = style[(opt, lr)]
            s = aggregate.group_curves(group, window)
            s.update(label=_series_label(cfg, opt, lr), color=c, linestyle=ls, linewidth=lw,
                     marker=mk)
            lines.append(s)
        name = "loss_%s.png" % act
        bpe = recs[0]["batches_per_epoch"][0] if recs[0]["batches_per_epoch"] else None
        plots.comparison_figure(
            lines, "Optimizers on the %s, %s hidden layers: mean of %d run%s (±1 std)"
            % (model_text(cfg), act, cfg["runs"], "" if cfg["runs"] == 1 else "s"),
            os.path.join(out, name), log_scale=log_scale, batches_per_epoch=bpe,
            smooth_window=window,
            legend_title=("optimizer (black dashed:\nbaseline SGD lr %g)" % base[1]) if base
            else "optimizer (no baseline:\nSGD did not run)")
        figures.append((act, name))
    lines = _report_lines(cfg, data, rows, summary_md, figures, ex, window, command)
    report.finish_report(out, {
        "study": "optimizers", "config": cfg, "data": data.describe(), "command": command,
        "lr_reasons": {k: LR_REASONS[k] for k in cfg["optimizers"]}}, lines,
        [t["id"] for t in tasks])
    if print_fn:
        print_fn("%d runs reused, %d computed (%s) in %.1f s" % (
            len(ex.reused), len(ex.computed), ex.where, ex.seconds))
        print_fn(summary_md)
        print_fn("report: %s" % os.path.join(out, "report.md"))
    return rows, ex


def _report_lines(cfg, data, rows, summary_md, figures, ex, window, command):
    lr_rows = [[LABELS[k], ", ".join(report.fmt(x) for x in v),
                "yes" if v != [DEFAULT_LR[k]] else "no", LR_REASONS[k]]
               for k, v in cfg["lr"].items()]
    base = _baseline(cfg)
    if cfg["model"] == "cnn":
        model = ("%s (fastnn.zoo.cnn, the lab CNN), %s kernels, zero biases, dropout %g before "
                 "the output layer, logits + softmax cross-entropy"
                 % (model_text(cfg), cfg["init"], cfg["dropout"]))
    else:
        model = ("%s (fastnn.zoo.mlp), %s kernels, zero biases, dropout %g after each hidden "
                 "layer, logits + softmax cross-entropy"
                 % (model_text(cfg), cfg["init"], cfg["dropout"]))
    uses_momentum = [LABELS[k] for k in cfg["optimizers"] if k in MOMENTUM_OPTIMIZERS]
    lines = report.report_head("Optimizer study", cfg["quick"], command, [
        ["model", model],
        ["activations", ", ".join(cfg["activations"])],
        ["optimizers", ", ".join(LABELS[k] for k in cfg["optimizers"])
         + (" (fastnn.optim.get presets; %s use momentum %g)"
            % (" and ".join(uses_momentum), cfg["momentum"]) if uses_momentum else "")],
        ["runs", "%d per (optimizer, learning rate, activation): seeds %d..%d; run i of every "
         "optimizer starts from the same weights (model seed) and sees the same batches (fit "
         "seed)" % (cfg["runs"], cfg["seed_offset"], cfg["seed_offset"] + cfg["runs"] - 1)],
        ["epochs", str(cfg["epochs"])], ["batch size", str(cfg["batch_size"])],
        ["data", data.name + " (fingerprint %s)" % data.fingerprint],
        ["test evaluation", "after every epoch on the %d test images (inference mode, "
         "batches of %d)" % (data.n_test, cfg["eval_batch_size"])],
        ["loss threshold", "%g (training loss per epoch)" % cfg["loss_threshold"]]], ex)
    lines += [
        "\n### Learning rates\n",
        report.markdown_table(["optimizer", "lr", "overridden", "why this value"], lr_rows,
                              align="lrll"),
    ]
    if uses_momentum and any(cfg["lr"][k] == [DEFAULT_LR[k]] for k in MOMENTUM_OPTIMIZERS
                             if k in cfg["lr"]):
        lines.append("\n" + MOMENTUM_NOTE + "\n")
    lines += [
        "\n## Loss curves\n",
        "Left: training loss per epoch (mean over the epoch's mini-batches, dropout active), "
        "mean over runs with a ±1 std band.  Middle: the same per mini-batch, moving-averaged "
        "over %d mini-batches per run, then mean ±1 std over runs.  Right: test accuracy "
        "after each epoch.  %s\n" % (window, (
            "Plain SGD at lr %g is the black dashed baseline." % base[1]) if base
            else "There is no baseline curve: plain SGD was not in this grid."),
    ]
    for act, name in figures:
        lines.append("### %s\n\n![loss curves, %s](%s)\n" % (act, act, name))
    lines += [
        "## Summary\n",
        "Ranked by mean final training loss.  Mean ± std (sample std across runs, ddof=1); %s"
        "\"epochs/seconds to reach\" average over the runs that reached the threshold "
        "(seconds: training time of those epochs, evaluation excluded).  Same numbers: "
        "`summary.csv`.\n" % (("\"loss / SGD\" is the mean final loss relative to plain SGD's "
                               "at lr %g; " % base[1]) if base else ""),
        summary_md,
        "## Files\n",
        "- `runs/<optimizer>-lr<lr>-<activation>-seed<s>-<digest>.json`: one run: its "
        "configuration, per-epoch loss/accuracy/test loss/test accuracy/times, every "
        "mini-batch loss, wall time (the digest identifies the whole configuration)\n"
        "- `runs/<...>.csv`: the per-epoch values of that run\n"
        "- `epochs.csv`: all runs' per-epoch values (long format); `batch_losses.csv`: all "
        "mini-batch losses, one column per run\n"
        "- `summary.csv` / `summary.md`: the table above; `config.json`: the configuration "
        "and the run manifest\n",
    ]
    return lines
