"""``fastnn study optimizers``: ten optimizers x {sigmoid, ReLU} x runs on the lab MLP.

Every run of run index i uses seed ``seed_offset + i`` for zoo.mlp (weights and dropout masks)
and for the shuffling, so for a given activation and seed all optimizers start from the same
weights and see the same mini-batches: the curves differ by the optimizer only.  Plain SGD is
the baseline (black, dashed) every other curve is drawn against; the summary table gives each
optimizer's final loss relative to SGD's.

Output directory::

    config.json            the resolved configuration and the command that reproduces it
    runs/<id>.json, .csv   one file per run (id = <optimizer>-<activation>-seed<seed>)
    epochs.csv             all runs' per-epoch values, long format
    batch_losses.csv       all runs' per-mini-batch losses, one column per run
    loss_<activation>.png  loss per epoch (±1 std), smoothed per-iteration loss, test accuracy
    summary.csv, summary.md  per (activation, optimizer): final loss, test accuracy,
                           epochs and seconds to reach the loss threshold, ranked
    report.md              all of the above with the exact configuration
"""
import json
import math
import os

from .._version import __version__
from . import aggregate, plots, report, runner
from .config import check_activations, check_common, merge, seeds
from .train import epoch_rows_csv, train_run

__all__ = ["OPTIMIZERS", "LABELS", "DEFAULT_LR", "ACTIVATIONS", "DEFAULTS", "QUICK",
           "make_tasks", "summarize", "run_study"]

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "adam",
              "amsgrad", "adamax", "nadam")
LABELS = {"sgd": "SGD", "momentum": "SGD+momentum", "nesterov": "Nesterov",
          "adagrad": "Adagrad", "adadelta": "Adadelta", "rmsprop": "RMSprop", "adam": "Adam",
          "amsgrad": "AMSGrad", "adamax": "Adamax", "nadam": "NAdam"}
ACTIVATIONS = ("sigmoid", "relu")
BASELINE = "sgd"

# The customary learning rate of each optimizer (fastnn.optim.get presets otherwise: momentum
# and nesterov use momentum 0.9).  Where the reference values disagree, the one that trains this
# MLP in a few epochs is used, and the reason is given.
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

DEFAULTS = {
    "optimizers": list(OPTIMIZERS), "activations": list(ACTIVATIONS), "runs": 10,
    "seed_offset": 0, "epochs": 10, "batch_size": 128, "hidden": [256, 128], "dropout": 0.2,
    "init": "glorot_uniform", "train_size": 20000, "test_size": 10000, "eval_batch_size": 2000,
    "loss_threshold": 0.3,
}
QUICK = {"runs": 2, "epochs": 2, "train_size": 3000, "test_size": 2000}


def resolve_config(**overrides):
    """DEFAULTS updated with the non-None ``overrides``; ``lr`` (a dict of per-optimizer
    overrides) is merged into DEFAULT_LR; ``quick=True`` applies QUICK before the overrides.
    Validates names and values (ValueError naming the option)."""
    lr_over = overrides.pop("lr", None) or {}
    cfg = merge(DEFAULTS, QUICK, overrides)
    for name in cfg["optimizers"]:
        if name not in OPTIMIZERS:
            raise ValueError("optimizers: unknown %r; expected names from %s"
                             % (name, ", ".join(OPTIMIZERS)))
    if not cfg["optimizers"]:
        raise ValueError("optimizers must name at least one optimizer")
    if len(set(cfg["optimizers"])) != len(cfg["optimizers"]):
        raise ValueError("optimizers lists a name twice: %s" % ",".join(cfg["optimizers"]))
    check_activations(cfg)
    if not cfg["activations"] or len(set(cfg["activations"])) != len(cfg["activations"]):
        raise ValueError("activations must name distinct activations, got %s"
                         % cfg["activations"])
    for name, v in lr_over.items():
        if name not in OPTIMIZERS:
            raise ValueError("lr: unknown optimizer %r; expected names from %s"
                             % (name, ", ".join(OPTIMIZERS)))
        if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
            raise ValueError("lr: %s must be a positive number, got %r" % (name, v))
    cfg["lr"] = {name: float(lr_over.get(name, DEFAULT_LR[name])) for name in cfg["optimizers"]}
    check_common(cfg)
    return cfg


def _run_id(optimizer, activation, seed):
    return "%s-%s-seed%d" % (optimizer, activation, seed)


def make_tasks(cfg, data):
    """One task per (activation, optimizer, seed), ids ``<optimizer>-<activation>-seed<s>``."""
    tasks = []
    for act in cfg["activations"]:
        for opt in cfg["optimizers"]:
            for s in seeds(cfg, cfg["runs"]):
                tasks.append({"id": _run_id(opt, act, s), "config": {
                    "study": "optimizers", "hidden": list(cfg["hidden"]), "activation": act,
                    "dropout": cfg["dropout"], "init": cfg["init"], "optimizer": opt,
                    "lr": cfg["lr"][opt], "epochs": cfg["epochs"],
                    "batch_size": cfg["batch_size"], "seed": s,
                    "eval_batch_size": cfg["eval_batch_size"], "weight_histograms": False,
                    "data": data.describe(),
                    # a finished run is reused only by the fastnn version that made it
                    "fastnn": __version__}})
    return tasks


SUMMARY_COLUMNS = ("activation", "rank", "optimizer", "label", "lr", "runs", "diverged",
                   "final_loss_mean", "final_loss_std", "final_loss_vs_sgd",
                   "test_accuracy_mean", "test_accuracy_std", "loss_threshold",
                   "threshold_reached", "epochs_to_threshold_mean",
                   "seconds_to_threshold_mean", "run_seconds_mean")


def summarize(cfg, records):
    """Summary rows, one per (activation, optimizer), ranked within each activation by mean
    final training loss (lower first; NaN last).

    final loss: the last epoch's training loss; test accuracy: after the last epoch; both
    mean and std over the runs that did not diverge.  threshold: a run reaches it at the first
    epoch whose training loss is <= loss_threshold; epochs/seconds to threshold are means over
    the runs that reached it (seconds = training time of those epochs, evaluation excluded);
    threshold_reached counts them.  final_loss_vs_sgd: mean final loss / SGD's (same
    activation), when SGD is in the grid.  run_seconds_mean: wall time per run."""
    thr = cfg["loss_threshold"]
    rows = []
    for act in cfg["activations"]:
        group_rows = []
        for opt in cfg["optimizers"]:
            recs = [records[_run_id(opt, act, s)] for s in seeds(cfg, cfg["runs"])]
            row, ok = aggregate.group_summary(recs)
            reach = [(aggregate.first_reach(r["loss"], thr), r) for r in ok]
            reach = [(e, r) for e, r in reach if e is not None]
            e_mean = aggregate.mean_std([e for e, _ in reach])[0]
            s_mean = aggregate.mean_std([aggregate.cumulative_time_to(r["epoch_time"], e)
                                         for e, r in reach])[0]
            row.update(activation=act, optimizer=opt, label=LABELS[opt], lr=cfg["lr"][opt],
                       loss_threshold=float(thr), threshold_reached=len(reach),
                       epochs_to_threshold_mean=e_mean, seconds_to_threshold_mean=s_mean)
            group_rows.append(row)
        base = next((r["final_loss_mean"] for r in group_rows if r["optimizer"] == BASELINE),
                    None)
        for r in group_rows:
            r["final_loss_vs_sgd"] = aggregate.ratio(r["final_loss_mean"], base)
        group_rows.sort(key=lambda r: (not math.isfinite(r["final_loss_mean"]),
                                       r["final_loss_mean"] if math.isfinite(r["final_loss_mean"])
                                       else 0.0, OPTIMIZERS.index(r["optimizer"])))
        for i, r in enumerate(group_rows):
            r["rank"] = i + 1
        rows.extend(group_rows)
    return rows


def _summary_markdown(rows, cfg):
    out = []
    for act in cfg["activations"]:
        table = []
        for r in (r for r in rows if r["activation"] == act):
            table.append([
                r["rank"], r["label"], report.fmt(r["lr"]),
                report.fmt_pm(r["final_loss_mean"], r["final_loss_std"]),
                report.fmt(r["final_loss_vs_sgd"], 3),
                report.fmt_pm(r["test_accuracy_mean"], r["test_accuracy_std"], scale=100),
                "%d/%d" % (r["threshold_reached"], r["runs"] - r["diverged"]),
                report.fmt(r["epochs_to_threshold_mean"], 3),
                report.fmt(r["seconds_to_threshold_mean"], 3),
                report.fmt(r["run_seconds_mean"], 3)
                + (" (%d diverged)" % r["diverged"] if r["diverged"] else "")])
        out.append("### %s\n\n" % act + report.markdown_table(
            ["rank", "optimizer", "lr", "final train loss", "loss / SGD", "test acc. (%)",
             "reached loss <= %g" % cfg["loss_threshold"], "epochs to reach",
             "seconds to reach", "s per run"], table, align="rlrrrrrrrr"))
    return "\n".join(out)


def command_for(cfg, data_dir=None, out=None):
    """The ``fastnn study optimizers`` command line that recomputes exactly this grid."""
    lr = ",".join("%s=%r" % (k, v) for k, v in cfg["lr"].items())
    return report.command_line("optimizers", [
        ("--optimizers", ",".join(cfg["optimizers"])),
        ("--activations", ",".join(cfg["activations"])), ("--runs", cfg["runs"]),
        ("--seed-offset", cfg["seed_offset"]), ("--epochs", cfg["epochs"]),
        ("--batch-size", cfg["batch_size"]), ("--lr", lr), ("--dropout", cfg["dropout"]),
        ("--train-size", cfg["train_size"]), ("--test-size", cfg["test_size"]),
        ("--loss-threshold", cfg["loss_threshold"]),
        ("--data-dir", data_dir if data_dir else False), ("--out", out if out else False)])


def run_study(cfg, data, out, *, jobs=1, threads=None, scheduler=None, progress=True,
              log_scale=None, data_dir=None, print_fn=print):
    """Run (or resume) the grid of ``cfg`` (from :func:`resolve_config`) on ``data`` (a
    StudyData), then write every artefact listed in the module docstring under ``out``.
    Returns ``(summary_rows, execution_summary)``."""
    os.makedirs(out, exist_ok=True)
    tasks = make_tasks(cfg, data)
    command = command_for(cfg, data_dir, out)
    runner.atomic_write(os.path.join(out, "config.json"), json.dumps(
        {"study": "optimizers", "config": cfg, "data": data.describe(), "command": command,
         "lr_reasons": {k: LR_REASONS[k] for k in cfg["optimizers"]}}, indent=1))
    if print_fn:
        print_fn("optimizer study: %d runs (%s x %s x %d seeds), %d epochs each, on %s"
                 % (len(tasks), ",".join(cfg["optimizers"]), ",".join(cfg["activations"]),
                    cfg["runs"], cfg["epochs"], data.name))
        print_fn("learning rates: " + ", ".join("%s %g" % (LABELS[k], v)
                                                for k, v in cfg["lr"].items()))
    ex = runner.execute(train_run, tasks, data, os.path.join(out, "runs"), jobs=jobs,
                        threads=threads, scheduler=scheduler, progress=progress,
                        desc="optimizer study", to_csv=epoch_rows_csv)
    records = ex.records
    recs = list(records.values())
    runner.atomic_write(os.path.join(out, "epochs.csv"), report.epochs_long_csv(
        recs, ("optimizer", "activation", "seed", "lr")))
    runner.atomic_write(os.path.join(out, "batch_losses.csv"), report.batch_losses_csv(recs))
    rows = summarize(cfg, records)
    runner.atomic_write(os.path.join(out, "summary.csv"), report.csv_text(rows, SUMMARY_COLUMNS))
    summary_md = _summary_markdown(rows, cfg)
    runner.atomic_write(os.path.join(out, "summary.md"), summary_md)

    window = aggregate.default_smooth_window(recs)
    style = plots.series_style(cfg["optimizers"], baseline=BASELINE)
    figures = []
    for act in cfg["activations"]:
        series = []
        for opt in cfg["optimizers"]:
            group = [records[_run_id(opt, act, s)] for s in seeds(cfg, cfg["runs"])]
            c, ls, lw = style[opt]
            s = aggregate.group_curves(group, window)
            s.update(label="%s (lr %g)" % (LABELS[opt], cfg["lr"][opt]), color=c,
                     linestyle=ls, linewidth=lw)
            series.append(s)
        name = "loss_%s.png" % act
        bpe = recs[0]["batches_per_epoch"][0] if recs[0]["batches_per_epoch"] else None
        plots.comparison_figure(
            series, "Optimizers on the MNIST MLP %s, %s hidden layers: mean of %d run%s "
            "(±1 std)" % ("-".join(map(str, [784] + list(cfg["hidden"]) + [10])), act,
                           cfg["runs"], "" if cfg["runs"] == 1 else "s"),
            os.path.join(out, name), log_scale=log_scale, batches_per_epoch=bpe,
            smooth_window=window, legend_title="optimizer (SGD = baseline)")
        figures.append((act, name))
    _write_report(cfg, data, out, rows, summary_md, figures, ex, window, command)
    if print_fn:
        print_fn("%d runs reused, %d computed (%s) in %.1f s" % (
            len(ex.reused), len(ex.computed), ex.where, ex.seconds))
        print_fn(summary_md)
        print_fn("report: %s" % os.path.join(out, "report.md"))
    return rows, ex


def _write_report(cfg, data, out, rows, summary_md, figures, ex, window, command):
    lr_rows = [[LABELS[k], report.fmt(v), "yes" if v != DEFAULT_LR[k] else "no", LR_REASONS[k]]
               for k, v in cfg["lr"].items()]
    arch = "-".join(map(str, [784] + list(cfg["hidden"]) + [10]))
    lines = report.report_head("Optimizer study", cfg["quick"], command, [
        ["model", "MLP %s (fastnn.zoo.mlp), %s kernels, zero biases, dropout %g after each "
         "hidden layer, logits + softmax cross-entropy" % (arch, cfg["init"], cfg["dropout"])],
        ["activations", ", ".join(cfg["activations"])],
        ["optimizers", ", ".join(LABELS[k] for k in cfg["optimizers"])
         + " (fastnn.optim.get presets: momentum and Nesterov use momentum 0.9)"],
        ["runs", "%d per (optimizer, activation): seeds %d..%d; run i of every optimizer "
         "starts from the same weights (zoo.mlp seed) and sees the same batches (fit "
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
        "\n## Loss curves\n",
        "Left: training loss per epoch (mean over the epoch's mini-batches, dropout active), "
        "mean over runs with a ±1 std band.  Middle: the same per mini-batch, moving-averaged "
        "over %d mini-batches per run, then mean ±1 std over runs.  Right: test accuracy "
        "after each epoch.  Plain SGD is the black dashed "
        "baseline.\n" % window,
    ]
    for act, name in figures:
        lines.append("### %s\n\n![loss curves, %s](%s)\n" % (act, act, name))
    lines += [
        "## Summary\n",
        "Ranked by mean final training loss.  Mean ± std (sample std across runs, ddof=1); "
        "\"loss / SGD\" is the mean final loss relative to plain SGD's; \"epochs/seconds to "
        "reach\" average over the runs that reached the threshold (seconds: training time of "
        "those epochs, evaluation excluded).  Same numbers: `summary.csv`.\n",
        summary_md,
        "## Files\n",
        "- `runs/<optimizer>-<activation>-seed<s>.json`: one run: its configuration, per-epoch "
        "loss/accuracy/test loss/test accuracy/times, every mini-batch loss, wall time\n"
        "- `runs/<...>.csv`: the per-epoch values of that run\n"
        "- `epochs.csv`: all runs' per-epoch values (long format); `batch_losses.csv`: all "
        "mini-batch losses, one column per run\n"
        "- `summary.csv` / `summary.md`: the table above; `config.json`: the configuration\n",
    ]
    runner.atomic_write(os.path.join(out, "report.md"), "\n".join(lines))
