"""``fastnn study init``: how the initial weights decide whether and how fast the MLP learns.

Part 1 (as the Keras initializer notebook): each of the 14 Keras initializers, with its Keras
defaults, as the kernel initializer of the lab MLP (784-256-128-10, ReLU, dropout 0.2, Adam
1e-3, batch 128, 20 epochs); loss/accuracy curves, a final table and, per initializer, the
histogram of every layer's weights before and after training.

Part 2 (as the lab): Xavier/Glorot vs He, with sigmoid and ReLU, several runs each, compared
with the naive N(0, 1) initialization; mean loss curves with ±1 std bands.  Plain SGD by
default: adaptive optimizers rescale every step and hide part of what the initial scale does.

Activation statistics: for each part-2 scheme and activation, at initialization, on one batch
of training images: per Dense layer the mean and std of the pre-activations z = h W + b, of the
outputs act(z), the fraction saturated (sigmoid outputs below 0.01 or above 0.99) or zero
(ReLU), and the std of the gradients dL/d(output) and dL/dW.  The variance argument: with
zero-mean weights of variance s^2 independent of the inputs and zero biases,
Var(z_j) = s^2 * E[||h||^2], so the table also gives that prediction next to the measurement.
With N(0, 1) weights a 784-input layer has std(z) = sqrt(E||x||^2), i.e. sqrt(784) = 28 for
unit-variance inputs and about 9-10 for MNIST pixels scaled to [0, 1]: far outside the range
where the sigmoid has any slope.

Output directory::

    config.json, report.md
    runs/p1-<initializer>-seed<s>.json/.csv, runs/p2-<scheme>-<activation>-seed<s>.json/.csv
    epochs.csv, batch_losses.csv             all runs, as in the optimizer study
    part1_curves.png, part1_summary.md/.csv, weights/<initializer>.png
    part2_<activation>.png, part2_summary.md/.csv
    activation_stats.png, activation_hist.png, activation_stats.md/.csv
"""
import json
import math
import os

import numpy as np

from .. import initializers, optim, zoo
from .._config import threads as kernel_threads
from .._version import __version__
from ..layers import Dense
from ..losses import SoftmaxCrossEntropy
from . import aggregate, plots, report, runner
from .config import check_activations, check_common, check_positive_ints, merge, seeds
from .train import epoch_rows_csv, train_run

__all__ = ["KERAS_INITIALIZERS", "DEFAULTS", "QUICK", "resolve_config", "make_tasks",
           "part1_summary", "part2_summary", "activation_statistics", "run_study"]

KERAS_INITIALIZERS = ("zeros", "ones", "constant", "random_normal", "random_uniform",
                      "truncated_normal", "orthogonal", "identity", "glorot_normal",
                      "glorot_uniform", "he_normal", "he_uniform", "lecun_normal",
                      "lecun_uniform")
PARTS = ("1", "2", "stats")

DEFAULTS = {
    "parts": list(PARTS), "initializers": list(KERAS_INITIALIZERS), "part1_epochs": 20,
    "part1_runs": 1, "part1_activation": "relu", "part1_optimizer": "adam", "part1_lr": 1e-3,
    "schemes": ["normal", "glorot_normal", "he_normal"], "normal_std": 1.0,
    "activations": ["sigmoid", "relu"], "runs": 10, "epochs": 10, "optimizer": "sgd",
    "lr": 0.1, "hidden": [256, 128], "dropout": 0.2, "batch_size": 128, "train_size": 20000,
    "test_size": 10000, "eval_batch_size": 2000, "seed_offset": 0, "stats_batch": 1000,
    "histogram_bins": 50,
}
QUICK = {"part1_epochs": 2, "runs": 2, "epochs": 2, "train_size": 3000, "test_size": 2000}


def resolve_config(**overrides):
    """DEFAULTS, then QUICK when ``quick=True``, then the non-None ``overrides``; validated
    (ValueError naming the option)."""
    cfg = merge(DEFAULTS, QUICK, overrides)
    for p in cfg["parts"]:
        if p not in PARTS:
            raise ValueError("parts: unknown %r; expected a subset of 1,2,stats" % p)
    cfg["parts"] = [p for p in PARTS if p in cfg["parts"]]
    if not cfg["parts"]:
        raise ValueError("parts must name at least one of 1,2,stats")
    for name in cfg["initializers"]:
        if name not in KERAS_INITIALIZERS:
            raise ValueError("initializers: unknown %r; expected names from %s"
                             % (name, ", ".join(KERAS_INITIALIZERS)))
    for name in cfg["schemes"]:
        if name != "normal":
            try:
                initializers.get(name)
            except (ValueError, TypeError):
                raise ValueError("schemes: unknown %r; expected 'normal' or a Keras initializer "
                                 "name (%s)" % (name, ", ".join(KERAS_INITIALIZERS))) from None
    for key in ("initializers", "schemes", "activations"):
        if not cfg[key] or len(set(cfg[key])) != len(cfg[key]):
            raise ValueError("%s must list distinct names, got %s" % (key, cfg[key]))
    check_activations(cfg)
    names = optim.names()
    if cfg["optimizer"] not in names:
        raise ValueError("optimizer: unknown %r; expected one of %s"
                         % (cfg["optimizer"], ", ".join(names)))
    for key in ("lr", "normal_std", "part1_lr"):
        v = cfg[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                or v <= 0:
            raise ValueError("%s must be a positive number, got %r" % (key, v))
    check_positive_ints(cfg, ("part1_epochs", "part1_runs", "stats_batch", "histogram_bins"))
    check_common(cfg)
    return cfg


def scheme_init(cfg, scheme):
    """The JSON initializer spec of a part-2 scheme ('normal' = N(0, normal_std))."""
    if scheme == "normal":
        return initializers.serialize(initializers.RandomNormal(
            mean=0.0, stddev=float(cfg["normal_std"])))
    return scheme


def scheme_label(cfg, scheme):
    names = {"normal": "N(0, %g) (naive)" % cfg["normal_std"],
             "glorot_normal": "Xavier/Glorot normal", "glorot_uniform": "Xavier/Glorot uniform",
             "he_normal": "He normal", "he_uniform": "He uniform"}
    return names.get(scheme, scheme)


def _p1_id(name, s):
    return "p1-%s-seed%d" % (name, s)


def _p2_id(scheme, act, s):
    return "p2-%s-%s-seed%d" % (scheme, act, s)


def make_tasks(cfg, data):
    """Part-1 tasks (per initializer and seed) then part-2 tasks (per activation, scheme,
    seed), for the parts selected in ``cfg``."""
    common = {"hidden": list(cfg["hidden"]), "dropout": cfg["dropout"],
              "batch_size": cfg["batch_size"], "eval_batch_size": cfg["eval_batch_size"],
              "data": data.describe(),
              # a finished run is reused only by the fastnn version that made it
              "fastnn": __version__}
    tasks = []
    if "1" in cfg["parts"]:
        for name in cfg["initializers"]:
            for s in seeds(cfg, cfg["part1_runs"]):
                tasks.append({"id": _p1_id(name, s), "config": dict(
                    common, study="init-part1", activation=cfg["part1_activation"], init=name,
                    optimizer=cfg["part1_optimizer"], lr=cfg["part1_lr"],
                    epochs=cfg["part1_epochs"], seed=s, weight_histograms=True,
                    histogram_bins=cfg["histogram_bins"])})
    if "2" in cfg["parts"]:
        for act in cfg["activations"]:
            for scheme in cfg["schemes"]:
                for s in seeds(cfg, cfg["runs"]):
                    tasks.append({"id": _p2_id(scheme, act, s), "config": dict(
                        common, study="init-part2", activation=act,
                        init=scheme_init(cfg, scheme), optimizer=cfg["optimizer"],
                        lr=cfg["lr"], epochs=cfg["epochs"], seed=s,
                        weight_histograms=False)})
    return tasks


# --------------------------------------------------------------------------- summaries
PART1_COLUMNS = ("initializer", "rank", "runs", "diverged", "final_loss_mean", "final_loss_std",
                 "final_accuracy_mean", "final_test_loss_mean", "final_test_loss_std",
                 "test_accuracy_mean", "test_accuracy_std", "best_test_accuracy_mean",
                 "initial_test_loss_mean", "run_seconds_mean")


def part1_summary(cfg, records):
    """One row per initializer (listing order), ranked by mean final test accuracy (higher
    first).  "final" = after the last epoch; "best" = the best epoch's test accuracy; means
    and stds over the runs that did not diverge."""
    rows = []
    for name in cfg["initializers"]:
        recs = [records[_p1_id(name, s)] for s in seeds(cfg, cfg["part1_runs"])]
        row, ok = aggregate.group_summary(recs)
        test_loss = aggregate.final_mean_std(ok, "test_loss")
        row.update(
            initializer=name, final_accuracy_mean=aggregate.final_mean_std(ok, "accuracy")[0],
            final_test_loss_mean=test_loss[0], final_test_loss_std=test_loss[1],
            best_test_accuracy_mean=aggregate.mean_std(
                [max(r["test_accuracy"]) for r in ok if r["test_accuracy"]])[0],
            initial_test_loss_mean=aggregate.mean_std([r["init_test"]["loss"]
                                                       for r in recs])[0])
        rows.append(row)
    order = sorted(range(len(rows)), key=lambda i: (
        not math.isfinite(rows[i]["test_accuracy_mean"]),
        -rows[i]["test_accuracy_mean"] if math.isfinite(rows[i]["test_accuracy_mean"]) else 0.0,
        i))
    for rank, i in enumerate(order):
        rows[i]["rank"] = rank + 1
    return rows


PART2_COLUMNS = ("activation", "scheme", "label", "runs", "diverged", "first_batch_loss_mean",
                 "final_loss_mean", "final_loss_std", "final_loss_vs_normal",
                 "test_accuracy_mean", "test_accuracy_std", "run_seconds_mean")


def part2_summary(cfg, records):
    """One row per (activation, scheme): loss on the first mini-batch (the initial loss),
    final training loss, final test accuracy (mean, std over non-diverged runs), and the
    final loss relative to the 'normal' scheme's when it is in the grid."""
    rows = []
    for act in cfg["activations"]:
        group = [_part2_row(cfg, records, act, scheme) for scheme in cfg["schemes"]]
        base = next((g["final_loss_mean"] for g in group if g["scheme"] == "normal"), None)
        for g in group:
            g["final_loss_vs_normal"] = aggregate.ratio(g["final_loss_mean"], base)
        rows.extend(group)
    return rows


def _part2_row(cfg, records, act, scheme):
    recs = [records[_p2_id(scheme, act, s)] for s in seeds(cfg, cfg["runs"])]
    row, _ = aggregate.group_summary(recs)
    row.update(activation=act, scheme=scheme, label=scheme_label(cfg, scheme),
               first_batch_loss_mean=aggregate.mean_std(
                   [r["batch_losses"][0] for r in recs if r["batch_losses"]])[0])
    return row


# --------------------------------------------------------------------------- statistics
STATS_COLUMNS = ("activation", "scheme", "label", "layer_index", "layer", "shape", "fan_in",
                 "weight_std", "z_mean", "z_std", "z_std_predicted", "a_mean", "a_std",
                 "saturated", "grad_out_std", "grad_w_std")


def activation_statistics(cfg, data):
    """Per (activation, scheme, Dense layer) statistics at initialization, on the first
    ``stats_batch`` training images, model seed ``seed_offset`` (dropout off: inference).

    Returns ``(rows, samples)``: rows as STATS_COLUMNS (z = h W + b, the pre-activation;
    a = act(z), the layer output, linear for the last layer; z_std_predicted =
    std(W) * sqrt(mean_n ||h_n||^2), the variance argument; saturated = fraction of sigmoid
    outputs < 0.01 or > 0.99, of ReLU outputs == 0, of tanh outputs with |a| > 0.99, None for
    the linear output layer; grad_out_std = std of dL/da, grad_w_std = std of dL/dW, for the
    mean softmax cross-entropy of the batch), and ``samples[(act, scheme)]`` = [(layer name,
    hidden outputs)] for the histogram figure.  Computed in this process (cheap)."""
    x, y, _, _ = data.arrays()
    n = min(cfg["stats_batch"], x.shape[0])
    x, y = x[:n], y[:n]
    rows, samples = [], {}
    for act in cfg["activations"]:
        for scheme in cfg["schemes"]:
            model = zoo.mlp(hidden=tuple(cfg["hidden"]), activation=act, dropout=0.0,
                            kernel_initializer=initializers.get(scheme_init(cfg, scheme)),
                            input_dim=x.shape[1], num_classes=data.num_classes,
                            seed=cfg["seed_offset"])
            dense = [layer for layer in model.layers if isinstance(layer, Dense)]
            h = x
            layer_rows, hidden = [], []
            for i, layer in enumerate(dense):
                w = layer.kernel.value.astype(np.float64)
                h64 = h.astype(np.float64)
                z = h64 @ w + layer.bias.value.astype(np.float64)
                a = layer.forward(h, training=False)
                last = i == len(dense) - 1
                if last:
                    sat = None
                elif act == "sigmoid":
                    sat = float(np.mean((a < 0.01) | (a > 0.99)))
                elif act == "relu":
                    sat = float(np.mean(a == 0))
                elif act == "tanh":
                    sat = float(np.mean(np.abs(a) > 0.99))
                else:
                    sat = None
                layer_rows.append({
                    "activation": act, "scheme": scheme, "label": scheme_label(cfg, scheme),
                    "layer_index": i + 1, "layer": "dense %d" % (i + 1),
                    "shape": "%dx%d" % w.shape, "fan_in": int(w.shape[0]),
                    "weight_std": float(w.std()), "z_mean": float(z.mean()),
                    "z_std": float(z.std()),
                    "z_std_predicted": float(w.std() * np.sqrt(np.mean(np.sum(h64 ** 2, 1)))),
                    "a_mean": float(np.mean(a, dtype=np.float64)),
                    "a_std": float(np.std(a, dtype=np.float64)), "saturated": sat})
                if not last:
                    hidden.append(("layer %d (%dx%d)" % ((i + 1,) + w.shape), a.copy()))
                h = a
            loss = SoftmaxCrossEntropy()
            loss.forward(h, y)
            g = loss.backward()
            for i in reversed(range(len(dense))):
                layer_rows[i]["grad_out_std"] = float(np.std(g, dtype=np.float64))
                g = dense[i].backward(g)
                layer_rows[i]["grad_w_std"] = float(np.std(dense[i].kernel.grad,
                                                           dtype=np.float64))
            rows.extend(layer_rows)
            samples[(act, scheme)] = hidden
    return rows, samples


# --------------------------------------------------------------------------- running
def command_for(cfg, data_dir=None, out=None):
    """The ``fastnn study init`` command line that recomputes exactly this study."""
    return report.command_line("init", [
        ("--parts", ",".join(cfg["parts"])), ("--initializers", ",".join(cfg["initializers"])),
        ("--part1-epochs", cfg["part1_epochs"]), ("--part1-runs", cfg["part1_runs"]),
        ("--schemes", ",".join(cfg["schemes"])), ("--normal-std", cfg["normal_std"]),
        ("--activations", ",".join(cfg["activations"])), ("--runs", cfg["runs"]),
        ("--epochs", cfg["epochs"]), ("--optimizer", cfg["optimizer"]), ("--lr", cfg["lr"]),
        ("--dropout", cfg["dropout"]), ("--batch-size", cfg["batch_size"]),
        ("--train-size", cfg["train_size"]),
        ("--test-size", cfg["test_size"]), ("--seed-offset", cfg["seed_offset"]),
        ("--data-dir", data_dir if data_dir else False), ("--out", out if out else False)])


def _mean_series(recs, key, with_init=False):
    m = aggregate.curve_matrix([{"v": ([r["init_test"][key.replace("test_", "")]]
                                       if with_init else []) + list(r[key])} for r in recs], "v")
    return aggregate.curve_mean_std(m)


def run_study(cfg, data, out, *, jobs=1, threads=None, scheduler=None, progress=True,
              log_scale=None, data_dir=None, print_fn=print):
    """Run (or resume) the parts of ``cfg`` (from :func:`resolve_config`) on ``data`` and
    write every artefact of the module docstring under ``out``.  Returns a dict with the
    summaries ('part1', 'part2', 'stats' rows) and 'execution'."""
    os.makedirs(out, exist_ok=True)
    tasks = make_tasks(cfg, data)
    command = command_for(cfg, data_dir, out)
    runner.atomic_write(os.path.join(out, "config.json"), json.dumps(
        {"study": "init", "config": cfg, "data": data.describe(), "command": command},
        indent=1))
    if print_fn:
        print_fn("initializer study (parts %s): %d training runs on %s"
                 % (",".join(cfg["parts"]), len(tasks), data.name))
    ex = runner.execute(train_run, tasks, data, os.path.join(out, "runs"), jobs=jobs,
                        threads=threads, scheduler=scheduler, progress=progress,
                        desc="init study", to_csv=epoch_rows_csv)
    records = ex.records
    recs = list(records.values())
    result = {"execution": ex}
    sections = []
    if recs:
        runner.atomic_write(os.path.join(out, "epochs.csv"), report.epochs_long_csv(
            recs, ("study", "activation", "optimizer", "seed")))
        runner.atomic_write(os.path.join(out, "batch_losses.csv"),
                            report.batch_losses_csv(recs))
    if "1" in cfg["parts"]:
        result["part1"] = _part1(cfg, records, out, log_scale, sections)
    if "2" in cfg["parts"]:
        result["part2"] = _part2(cfg, records, out, log_scale, sections)
    if "stats" in cfg["parts"]:
        with kernel_threads(threads or runner.available_cores()):
            result["stats"] = _stats(cfg, data, out, sections)
    _write_report(cfg, data, out, sections, ex, command)
    if print_fn:
        print_fn("%d runs reused, %d computed (%s) in %.1f s"
                 % (len(ex.reused), len(ex.computed), ex.where, ex.seconds))
        for title, text in sections:
            if title.endswith("table"):
                print_fn(text)
        print_fn("report: %s" % os.path.join(out, "report.md"))
    return result


def _part1(cfg, records, out, log_scale, sections):
    rows = part1_summary(cfg, records)
    runner.atomic_write(os.path.join(out, "part1_summary.csv"),
                        report.csv_text(rows, PART1_COLUMNS))
    def pm(mean, std, scale=1.0):
        return report.fmt_pm(mean, std, scale=scale, n=cfg["part1_runs"])
    table = report.markdown_table(
        ["initializer", "rank", "final train loss", "final train acc. (%)", "final test loss",
         "test acc. (%)", "best test acc. (%)", "test loss before training", "s per run"],
        [[r["initializer"], r["rank"], pm(r["final_loss_mean"], r["final_loss_std"]),
          report.fmt(100 * r["final_accuracy_mean"]),
          pm(r["final_test_loss_mean"], r["final_test_loss_std"]),
          pm(r["test_accuracy_mean"], r["test_accuracy_std"], scale=100),
          report.fmt(100 * r["best_test_accuracy_mean"]),
          report.fmt(r["initial_test_loss_mean"]),
          report.fmt(r["run_seconds_mean"], 3)
          + (" (%d diverged)" % r["diverged"] if r["diverged"] else "")] for r in rows],
        align="lrrrrrrrr")
    runner.atomic_write(os.path.join(out, "part1_summary.md"), table)

    style = plots.series_style(cfg["initializers"])
    series = []
    for name in cfg["initializers"]:
        recs = [records[_p1_id(name, s)] for s in seeds(cfg, cfg["part1_runs"])]
        ok = [r for r in recs if not r.get("diverged")] or recs
        c, ls, lw = style[name]
        label = "constant (value 0)" if name == "constant" else name
        s = {"label": label, "color": c, "linestyle": ls, "linewidth": lw}
        for key, with_init in (("loss", False), ("accuracy", False), ("test_loss", True),
                               ("test_accuracy", True)):
            s[key], s[key + "_std"] = _mean_series(ok, key, with_init)
        series.append(s)
    runs = cfg["part1_runs"]
    plots.curves_figure(
        series, "Part 1: Keras initializers on the MLP %s (ReLU, dropout %g, %s lr %g, batch "
        "%d)%s" % ("-".join(map(str, [784] + list(cfg["hidden"]) + [10])), cfg["dropout"],
                   cfg["part1_optimizer"], cfg["part1_lr"], cfg["batch_size"],
                   "" if runs == 1 else ", mean of %d runs ±1 std" % runs),
        os.path.join(out, "part1_curves.png"), log_scale=log_scale, legend_title="initializer")
    hist_dir = os.path.join(out, "weights")
    for name in cfg["initializers"]:
        rec = records[_p1_id(name, cfg["seed_offset"])]
        plots.weight_histogram_figure(
            rec["weights"], "Part 1, %s: Dense kernels before and after %d epochs (seed %d)%s"
            % (name, len(rec["epoch"]), cfg["seed_offset"],
               " - diverged" if rec.get("diverged") else ""),
            os.path.join(hist_dir, "%s.png" % name))
    text = [
        "## Part 1: every Keras initializer\n",
        "Kernel initializer = each Keras initializer with its Keras defaults (random_normal, "
        "random_uniform, truncated_normal: scale 0.05; constant: value 0, so it equals zeros); "
        "biases zero; MLP %s, %s, dropout %g, %s lr %g, batch %d, %d epochs, %d run%s per "
        "initializer (seed %d%s).  Test curves start at epoch 0 (before training); the "
        "training curves are the epoch means (dropout active).\n"
        % ("-".join(map(str, [784] + list(cfg["hidden"]) + [10])), cfg["part1_activation"],
           cfg["dropout"], cfg["part1_optimizer"], cfg["part1_lr"], cfg["batch_size"],
           cfg["part1_epochs"], runs, "" if runs == 1 else "s", cfg["seed_offset"],
           "" if runs == 1 else "..%d" % (cfg["seed_offset"] + runs - 1)),
        "![part 1 curves](part1_curves.png)\n",
        "Ranked by final test accuracy (`part1_summary.csv`):\n", table,
        "\n### Weight histograms (before / after training)\n",
    ]
    for name in cfg["initializers"]:
        text.append("#### %s\n\n![%s weights](weights/%s.png)\n" % (name, name, name))
    sections.append(("part 1", "\n".join(text)))
    sections.append(("part 1 table", "Part 1 (Keras initializers):\n" + table))
    return rows


def _part2(cfg, records, out, log_scale, sections):
    rows = part2_summary(cfg, records)
    runner.atomic_write(os.path.join(out, "part2_summary.csv"),
                        report.csv_text(rows, PART2_COLUMNS))
    table = report.markdown_table(
        ["activation", "initialization", "loss on 1st batch", "final train loss",
         "loss / N(0,%g)" % cfg["normal_std"], "test acc. (%)", "s per run"],
        [[r["activation"], r["label"], report.fmt(r["first_batch_loss_mean"]),
          report.fmt_pm(r["final_loss_mean"], r["final_loss_std"]),
          report.fmt(r["final_loss_vs_normal"], 3),
          report.fmt_pm(r["test_accuracy_mean"], r["test_accuracy_std"], scale=100),
          report.fmt(r["run_seconds_mean"], 3)
          + (" (%d diverged)" % r["diverged"] if r["diverged"] else "")] for r in rows],
        align="llrrrrr")
    runner.atomic_write(os.path.join(out, "part2_summary.md"), table)
    all_recs = [records[_p2_id(sc, a, s)] for a in cfg["activations"] for sc in cfg["schemes"]
                for s in seeds(cfg, cfg["runs"])]
    window = aggregate.default_smooth_window(all_recs)
    style = plots.series_style(cfg["schemes"],
                               baseline="normal" if "normal" in cfg["schemes"] else None)
    figures = []
    for act in cfg["activations"]:
        series = []
        for scheme in cfg["schemes"]:
            group = [records[_p2_id(scheme, act, s)] for s in seeds(cfg, cfg["runs"])]
            s = aggregate.group_curves(group, window)
            c, ls, lw = style[scheme]
            s.update(label=scheme_label(cfg, scheme), color=c, linestyle=ls, linewidth=lw)
            series.append(s)
        name = "part2_%s.png" % act
        bpe = all_recs[0]["batches_per_epoch"][0] if all_recs[0]["batches_per_epoch"] else None
        plots.comparison_figure(
            series, "Part 2: initialization with %s hidden layers (%s lr %g, dropout %g): mean "
            "of %d run%s (±1 std)" % (act, cfg["optimizer"], cfg["lr"], cfg["dropout"],
                                       cfg["runs"], "" if cfg["runs"] == 1 else "s"),
            os.path.join(out, name), log_scale=log_scale, batches_per_epoch=bpe,
            smooth_window=window, legend_title="initialization")
        figures.append((act, name))
    text = ["## Part 2: Xavier vs He, sigmoid vs ReLU\n",
            "%s with %s hidden layers, %d runs each (seeds %d..%d; run i of every scheme uses "
            "the same seed for the weight draw, the dropout masks and the batch order), %s lr "
            "%g, dropout %g, batch %d, %d epochs.  Curves as in the optimizer study: epoch "
            "loss, per-mini-batch loss moving-averaged over %d batches, test accuracy; mean "
            "±1 std over runs; the naive N(0, %g) scheme is the black dashed baseline.\n"
            % (", ".join(scheme_label(cfg, s) for s in cfg["schemes"]),
               "/".join(cfg["activations"]), cfg["runs"], cfg["seed_offset"],
               cfg["seed_offset"] + cfg["runs"] - 1, cfg["optimizer"], cfg["lr"],
               cfg["dropout"], cfg["batch_size"], cfg["epochs"], window, cfg["normal_std"])]
    for act, name in figures:
        text.append("### %s\n\n![part 2, %s](%s)\n" % (act, act, name))
    text += ["Summary (`part2_summary.csv`; mean ± sample std over runs):\n", table]
    sections.append(("part 2", "\n".join(text)))
    sections.append(("part 2 table", "Part 2 (initialization schemes):\n" + table))
    return rows


def _stats(cfg, data, out, sections):
    rows, samples = activation_statistics(cfg, data)
    runner.atomic_write(os.path.join(out, "activation_stats.csv"),
                        report.csv_text(rows, STATS_COLUMNS))
    f = report.fmt
    table = report.markdown_table(
        ["activation", "initialization", "layer", "std(W)", "mean z", "std z",
         "predicted std z", "mean a", "std a", "saturated / zero", "std dL/da", "std dL/dW"],
        [[r["activation"], r["label"], "%d (%s)" % (r["layer_index"], r["shape"]),
          f(r["weight_std"], 3), f(r["z_mean"], 3), f(r["z_std"], 3),
          f(r["z_std_predicted"], 3), f(r["a_mean"], 3), f(r["a_std"], 3),
          "-" if r["saturated"] is None else "%.1f%%" % (100 * r["saturated"]),
          f(r["grad_out_std"], 3), f(r["grad_w_std"], 3)] for r in rows],
        align="lllrrrrrrrrr")
    runner.atomic_write(os.path.join(out, "activation_stats.md"), table)
    labels = {s: scheme_label(cfg, s) for s in cfg["schemes"]}
    plots.activation_stats_figure(rows, cfg["schemes"], cfg["activations"], labels,
                                  os.path.join(out, "activation_stats.png"))
    plots.activation_hist_figure(samples, cfg["schemes"], cfg["activations"], labels,
                                 os.path.join(out, "activation_hist.png"))
    x = data.arrays()[0][:cfg["stats_batch"]].astype(np.float64)
    norm = float(np.sqrt(np.mean(np.sum(x ** 2, axis=1))))
    text = ["## Activation statistics at initialization\n",
            "One batch of %d training images, model seed %d, dropout off.  z = h W + b is a "
            "Dense layer's pre-activation, a = act(z) its output (the last layer is linear: "
            "the logits).  *Predicted std z* is the variance argument std(W) * sqrt(E||h||^2) "
            "(zero-mean weights independent of the input, zero biases).  For the first layer "
            "sqrt(E||x||^2) = %.2f on these images (pixels in [0, 1]; it would be sqrt(784) = "
            "28 for unit-variance inputs), so N(0, %g) weights give pre-activations of std "
            "about %.1f: the sigmoid is flat there (saturated column: outputs below 0.01 or "
            "above 0.99; for ReLU: outputs exactly 0).  Gradients are those of the batch's "
            "mean cross-entropy.\n" % (min(cfg["stats_batch"], data.n_train),
                                       cfg["seed_offset"], norm, cfg["normal_std"],
                                       cfg["normal_std"] * norm),
            "![activation statistics](activation_stats.png)\n",
            "![hidden-layer outputs](activation_hist.png)\n",
            "Table (`activation_stats.csv`):\n", table]
    sections.append(("statistics", "\n".join(text)))
    sections.append(("statistics table", "Activation statistics at initialization:\n" + table))
    return rows


def _write_report(cfg, data, out, sections, ex, command):
    lines = report.report_head("Initializer study", cfg["quick"], command, [
        ["parts", ", ".join(cfg["parts"])],
        ["data", data.name + " (fingerprint %s)" % data.fingerprint],
        ["test evaluation", "before training and after every epoch on the %d test images "
         "(inference mode, batches of %d)" % (data.n_test, cfg["eval_batch_size"])]],
        ex, after=[["full configuration", "`config.json`"]])
    lines += [text for title, text in sections if not title.endswith("table")]
    lines.append("## Files\n\n- `runs/p1-<initializer>-seed<s>.json`, "
                 "`runs/p2-<scheme>-<activation>-seed<s>.json`: one run each (configuration, "
                 "per-epoch curves, mini-batch losses, weight histograms for part 1), with a "
                 "per-epoch `.csv`\n- `epochs.csv` (long format), `batch_losses.csv` (one "
                 "column per run)\n- `part1_summary.csv`, `part2_summary.csv`, "
                 "`activation_stats.csv` and their `.md` tables\n")
    runner.atomic_write(os.path.join(out, "report.md"), "\n".join(lines))
