"""``fastnn study init``: how the initial weights decide whether and how fast a network learns,
on the lab MLP or the lab CNN.

Part 1 (as the Keras initializer notebook): each of the 14 Keras initializers, with its Keras
defaults, as the kernel initializer of the model (MLP: 784-256-128-10, ReLU, dropout 0.2, Adam
1e-3, batch 128, 20 epochs); loss/accuracy curves, a final table and, per initializer, the
histogram of every layer's weights before and after training.

Part 2 (as the lab): Xavier/Glorot vs He, with sigmoid and ReLU, several runs each, compared
with the naive N(0, sigma) initialization (sigma = 1 for the MLP; 0.01 and 0.005 for the CNN,
the conv-initialization question: any list with ``normal_std``); mean loss curves with ±1 std
bands.  Plain SGD by default: adaptive optimizers rescale every step and hide part of what the
initial scale does.

Activation statistics (:mod:`fastnn.studies.init_stats`): per scheme, activation and layer, the
spread of pre-activations, outputs and gradients at initialization, next to the variance
argument's prediction.

With ``model='cnn'`` (the lab CNN, zoo.cnn) the defaults are CNN_DEFAULTS: part 2 and the
statistics, ReLU only, Glorot normal, He normal, N(0, 0.01) and N(0, 0.005), 3 runs of one
epoch on the first 3000 training images, batch 64, dropout 0.5, SGD lr 0.1.

Output directory::

    config.json, report.md   written last, tied together by the run manifest
    runs/p1-<initializer>-seed<s>-<digest>.json/.csv,
    runs/p2-<scheme>-<activation>-seed<s>-<digest>.json/.csv
    epochs.csv, batch_losses.csv             all runs, as in the optimizer study
    part1_curves.png, part1_summary.md/.csv, weights/<initializer>.png
    part2_<activation>.png, part2_summary.md/.csv
    activation_stats.png, activation_hist.png, activation_stats.md/.csv
"""
import math
import os

from .. import optim
from .._version import __version__
from . import aggregate, plots, report, runner
from .config import (KERAS_INITIALIZERS, check_activations, check_common, check_names,
                     check_positive_ints, initializer_name, merge_mlp_cnn, model_text,
                     seeds)
from .init_stats import STATS_COLUMNS, activation_statistics, write_statistics
from .schemes import baseline_scheme, scheme_entries, scheme_init, scheme_label
from .train import check_record, epoch_rows_csv, train_run

__all__ = ["KERAS_INITIALIZERS", "DEFAULTS", "QUICK", "CNN_DEFAULTS", "CNN_QUICK",
           "STATS_COLUMNS", "resolve_config", "make_tasks", "part1_summary", "part2_summary",
           "activation_statistics", "scheme_entries", "scheme_init", "scheme_label",
           "command_for", "run_study"]

PARTS = ("1", "2", "stats")

DEFAULTS = {
    "model": "mlp", "parts": list(PARTS), "initializers": list(KERAS_INITIALIZERS),
    "part1_epochs": 20, "part1_runs": 1, "part1_activation": "relu", "part1_optimizer": "adam",
    "part1_lr": 1e-3, "schemes": ["normal", "glorot_normal", "he_normal"], "normal_std": [1.0],
    "activations": ["sigmoid", "relu"], "runs": 10, "epochs": 10, "optimizer": "sgd",
    "lr": 0.1, "hidden": [256, 128], "dropout": 0.2, "batch_size": 128, "train_size": 20000,
    "test_size": 10000, "eval_batch_size": 2000, "seed_offset": 0, "stats_batch": 1000,
    "histogram_bins": 50,
}
QUICK = {"part1_epochs": 2, "runs": 2, "epochs": 2, "train_size": 3000, "test_size": 2000}
# The lab CNN: the conv-initialization question (Glorot, He, small normals) with ReLU, one epoch
# on fewer images (it costs about 15x the MLP per image); the lab CNN's batch size and dropout;
# plain SGD at the MLP's lr 0.1; a smaller statistics batch (conv outputs are 784x larger).
CNN_DEFAULTS = {"hidden": None, "parts": ["2", "stats"], "normal_std": [0.01, 0.005],
                "schemes": ["glorot_normal", "he_normal", "normal"], "activations": ["relu"],
                "runs": 3, "epochs": 1, "batch_size": 64, "dropout": 0.5, "train_size": 3000,
                "test_size": 2000, "stats_batch": 256}
CNN_QUICK = {"part1_epochs": 1, "runs": 1, "epochs": 1, "train_size": 500, "test_size": 500}


def _positive(v, key):
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
        raise ValueError("%s must be a positive number, got %r" % (key, v))
    return float(v)


def resolve_config(**overrides):
    """DEFAULTS, then CNN_DEFAULTS for ``model='cnn'``, then QUICK (CNN_QUICK) when
    ``quick=True``, then the non-None ``overrides``; validated (ValueError naming the option).
    Initializer names may be Keras class names (``RandomNormal``) or snake_case;
    ``normal_std`` is a number or a list of them (one 'normal' series each)."""
    cfg = merge_mlp_cnn(DEFAULTS, QUICK, CNN_QUICK, CNN_DEFAULTS, overrides)
    check_names(cfg, "parts")
    for p in cfg["parts"]:
        if p not in PARTS:
            raise ValueError("parts: unknown %r; expected a subset of 1,2,stats" % p)
    cfg["parts"] = [p for p in PARTS if p in cfg["parts"]]
    check_names(cfg, "initializers")
    cfg["initializers"] = [initializer_name(n, "initializers", KERAS_INITIALIZERS)
                           for n in cfg["initializers"]]
    check_names(cfg, "schemes")
    cfg["schemes"] = [n if n == "normal" else initializer_name(n, "schemes")
                      for n in cfg["schemes"]]
    for key in ("initializers", "schemes", "activations"):
        check_names(cfg, key)
    check_activations(cfg)
    if cfg["part1_activation"] not in ("sigmoid", "relu", "tanh", "elu"):
        raise ValueError("part1_activation: unknown %r; expected sigmoid, relu, tanh or elu"
                         % (cfg["part1_activation"],))
    stds = cfg["normal_std"]
    stds = list(stds) if isinstance(stds, (list, tuple)) else [stds]
    if not stds:
        raise ValueError("normal_std must give at least one standard deviation")
    cfg["normal_std"] = [_positive(v, "normal_std") for v in stds]
    if len(set(cfg["normal_std"])) != len(cfg["normal_std"]):
        raise ValueError("normal_std lists a value twice: %s"
                         % ",".join("%g" % v for v in cfg["normal_std"]))
    names = optim.names()
    for key in ("optimizer", "part1_optimizer"):
        if cfg[key] not in names:
            raise ValueError("%s: unknown %r; expected one of %s"
                             % (key, cfg[key], ", ".join(names)))
    for key in ("lr", "part1_lr"):
        _positive(cfg[key], key)
    check_positive_ints(cfg, ("part1_epochs", "part1_runs", "stats_batch", "histogram_bins"))
    check_common(cfg)
    return cfg


def _common(cfg, data):
    common = {"model": cfg["model"]}
    if cfg["model"] == "mlp":
        common["hidden"] = list(cfg["hidden"])
    common.update({"dropout": cfg["dropout"], "batch_size": cfg["batch_size"],
                   "eval_batch_size": cfg["eval_batch_size"], "data": data.describe(),
                   # a finished run is reused only by the fastnn version that made it
                   "fastnn": __version__})
    return common


def make_tasks(cfg, data):
    """Part-1 tasks (per initializer and seed) then part-2 tasks (per activation, scheme,
    seed), for the parts selected in ``cfg``; each task's ``key`` is ('p1', initializer,
    seed) or ('p2', scheme, activation, seed)."""
    common = _common(cfg, data)
    tasks = []
    if "1" in cfg["parts"]:
        for name in cfg["initializers"]:
            for s in seeds(cfg, cfg["part1_runs"]):
                config = dict(common, study="init-part1", activation=cfg["part1_activation"],
                              init=name, optimizer=cfg["part1_optimizer"], lr=cfg["part1_lr"],
                              epochs=cfg["part1_epochs"], seed=s, weight_histograms=True,
                              histogram_bins=cfg["histogram_bins"])
                tasks.append({"id": runner.run_id("p1-%s-seed%d" % (name, s), config),
                              "config": config, "key": ("p1", name, s)})
    if "2" in cfg["parts"]:
        for act in cfg["activations"]:
            for key, spec, _ in scheme_entries(cfg):
                for s in seeds(cfg, cfg["runs"]):
                    config = dict(common, study="init-part2", activation=act, init=spec,
                                  optimizer=cfg["optimizer"], lr=cfg["lr"],
                                  epochs=cfg["epochs"], seed=s, weight_histograms=False)
                    tasks.append({"id": runner.run_id("p2-%s-%s-seed%d" % (key, act, s),
                                                      config),
                                  "config": config, "key": ("p2", key, act, s)})
    return tasks


# --------------------------------------------------------------------------- summaries
PART1_COLUMNS = ("initializer", "rank", "runs", "diverged", "final_loss_mean", "final_loss_std",
                 "final_accuracy_mean", "final_test_loss_mean", "final_test_loss_std",
                 "test_accuracy_mean", "test_accuracy_std", "best_test_accuracy_mean",
                 "initial_test_loss_mean", "run_seconds_mean")


def part1_summary(cfg, records, index):
    """One row per initializer (listing order), ranked by mean final test accuracy (higher
    first).  "final" = after the last epoch; "best" = the best epoch's test accuracy; means
    and stds over the runs that did not diverge.  ``index``: {task key: run id}."""
    rows = []
    for name in cfg["initializers"]:
        recs = [records[index[("p1", name, s)]] for s in seeds(cfg, cfg["part1_runs"])]
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


def part2_summary(cfg, records, index):
    """One row per (activation, scheme): loss on the first mini-batch (the initial loss),
    final training loss, final test accuracy (mean, std over non-diverged runs), and the
    final loss relative to the naive N(0, sigma) scheme's (its first sigma) when it is in
    the grid."""
    base_key = baseline_scheme(cfg)
    rows = []
    for act in cfg["activations"]:
        group = []
        for key, _, label in scheme_entries(cfg):
            recs = [records[index[("p2", key, act, s)]] for s in seeds(cfg, cfg["runs"])]
            row, _ = aggregate.group_summary(recs)
            row.update(activation=act, scheme=key, label=label,
                       first_batch_loss_mean=aggregate.mean_std(
                           [r["batch_losses"][0] for r in recs if r["batch_losses"]])[0])
            group.append(row)
        base = next((g["final_loss_mean"] for g in group if g["scheme"] == base_key), None)
        for g in group:
            g["final_loss_vs_normal"] = aggregate.ratio(g["final_loss_mean"], base)
        rows.extend(group)
    return rows


# --------------------------------------------------------------------------- running
def command_for(cfg, data_dir=None, out=None):
    """The ``fastnn study init`` command line that recomputes exactly this study (every
    setting spelled out)."""
    return report.command_line("init", [
        ("--model", cfg["model"]),
        ("--parts", ",".join(cfg["parts"])), ("--initializers", ",".join(cfg["initializers"])),
        ("--part1-epochs", cfg["part1_epochs"]), ("--part1-runs", cfg["part1_runs"]),
        ("--part1-activation", cfg["part1_activation"]),
        ("--part1-optimizer", cfg["part1_optimizer"]), ("--part1-lr", repr(cfg["part1_lr"])),
        ("--schemes", ",".join(cfg["schemes"])),
        ("--normal-std", ",".join(repr(v) for v in cfg["normal_std"])),
        ("--activations", ",".join(cfg["activations"])), ("--runs", cfg["runs"]),
        ("--epochs", cfg["epochs"]), ("--optimizer", cfg["optimizer"]),
        ("--lr", repr(cfg["lr"])),
        ("--hidden", ",".join(map(str, cfg["hidden"])) if cfg["model"] == "mlp" else False),
        ("--dropout", cfg["dropout"]), ("--batch-size", cfg["batch_size"]),
        ("--train-size", cfg["train_size"]), ("--test-size", cfg["test_size"]),
        ("--eval-batch-size", cfg["eval_batch_size"]), ("--stats-batch", cfg["stats_batch"]),
        ("--histogram-bins", cfg["histogram_bins"]), ("--seed-offset", cfg["seed_offset"]),
        ("--data-dir", data_dir if data_dir else False), ("--out", out if out else False)])


def _mean_series(recs, key, with_init=False):
    m = aggregate.curve_matrix([{"v": ([r["init_test"][key.replace("test_", "")]]
                                       if with_init else []) + list(r[key])} for r in recs], "v")
    return aggregate.curve_mean_std(m)


def run_study(cfg, data, out, *, jobs=1, threads=None, scheduler=None, progress=True,
              log_scale=None, data_dir=None, print_fn=print):
    """Run (or resume) the parts of ``cfg`` (from :func:`resolve_config`) on ``data`` and
    write every artefact of the module docstring under ``out`` (report.md last, after the old
    one was removed).  Returns a dict with the summaries ('part1', 'part2', 'stats' rows) and
    'execution'."""
    os.makedirs(out, exist_ok=True)
    tasks = make_tasks(cfg, data)
    index = {t["key"]: t["id"] for t in tasks}
    command = command_for(cfg, data_dir, out)
    if print_fn:
        print_fn("initializer study on the %s (parts %s): %d training runs on %s"
                 % (model_text(cfg), ",".join(cfg["parts"]), len(tasks), data.name))
    ex = runner.execute(train_run, tasks, data, os.path.join(out, "runs"), jobs=jobs,
                        threads=threads, scheduler=scheduler, progress=progress,
                        desc="init study", to_csv=epoch_rows_csv, check=check_record)
    records = ex.records
    recs = list(records.values())
    result = {"execution": ex}
    sections = []
    report.begin_report(out)
    if recs:
        runner.atomic_write(os.path.join(out, "epochs.csv"), report.epochs_long_csv(
            recs, ("study", "activation", "optimizer", "seed")))
        runner.atomic_write(os.path.join(out, "batch_losses.csv"),
                            report.batch_losses_csv(recs))
    if "1" in cfg["parts"]:
        result["part1"] = _part1(cfg, records, index, out, log_scale, sections)
    if "2" in cfg["parts"]:
        result["part2"] = _part2(cfg, records, index, out, log_scale, sections)
    if "stats" in cfg["parts"]:
        result["stats"] = write_statistics(cfg, data, out, sections,
                                           threads or runner.available_cores())
    report.finish_report(out, {"study": "init", "config": cfg, "data": data.describe(),
                               "command": command},
                         _report_lines(cfg, data, sections, ex, command),
                         [t["id"] for t in tasks])
    if print_fn:
        print_fn("%d runs reused, %d computed (%s) in %.1f s"
                 % (len(ex.reused), len(ex.computed), ex.where, ex.seconds))
        for title, text in sections:
            if title.endswith("table"):
                print_fn(text)
        print_fn("report: %s" % os.path.join(out, "report.md"))
    return result


def _same_curves(a, b):
    keys = ("loss", "accuracy", "test_loss", "test_accuracy")
    return all(len(a[k]) == len(b[k]) and all(
        (x == y) or (x != x and y != y) for x, y in zip(a[k], b[k])) for k in keys)


def _part1(cfg, records, index, out, log_scale, sections):
    rows = part1_summary(cfg, records, index)
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
        recs = [records[index[("p1", name, s)]] for s in seeds(cfg, cfg["part1_runs"])]
        ok = [r for r in recs if not r.get("diverged")] or recs
        c, ls, lw, mk = style[name]
        label = "constant (value 0)" if name == "constant" else name
        s = {"label": label, "color": c, "linestyle": ls, "linewidth": lw, "marker": mk,
             "name": name}
        for key, with_init in (("loss", False), ("accuracy", False), ("test_loss", True),
                               ("test_accuracy", True)):
            s[key], s[key + "_std"] = _mean_series(ok, key, with_init)
        series.append(s)
    for i, s in enumerate(series):       # identical curves (constant 0 = zeros): say so
        twin = next((t for t in series[:i] if _same_curves(s, t)), None)
        if twin is not None:
            s["label"] += ":\nsame curves as %s" % twin["name"]
    runs = cfg["part1_runs"]
    plots.curves_figure(
        series, "Part 1: Keras initializers on the %s (%s, dropout %g, %s lr %g, batch "
        "%d)%s" % (model_text(cfg), cfg["part1_activation"], cfg["dropout"],
                   cfg["part1_optimizer"], cfg["part1_lr"], cfg["batch_size"],
                   "" if runs == 1 else ", mean of %d runs ±1 std" % runs),
        os.path.join(out, "part1_curves.png"), log_scale=log_scale, legend_title="initializer")
    hist_dir = os.path.join(out, "weights")
    for name in cfg["initializers"]:
        rec = records[index[("p1", name, cfg["seed_offset"])]]
        plots.weight_histogram_figure(
            rec["weights"], "Part 1, %s: kernels before and after %d epochs (seed %d)%s"
            % (name, len(rec["epoch"]), cfg["seed_offset"],
               " - diverged" if rec.get("diverged") else ""),
            os.path.join(hist_dir, "%s.png" % name))
    text = [
        "## Part 1: every Keras initializer\n",
        "Kernel initializer = each Keras initializer with its Keras defaults (random_normal, "
        "random_uniform, truncated_normal: scale 0.05; constant: value 0, so it equals zeros: "
        "its curves lie exactly on those of zeros, the legend says so and the staggered "
        "markers show both); biases zero; %s, %s, dropout %g, %s lr %g, batch %d, %d epochs, "
        "%d run%s per initializer (seed %d%s).  Test curves start at epoch 0 (before "
        "training); the training curves are the epoch means (dropout active).\n"
        % (model_text(cfg), cfg["part1_activation"], cfg["dropout"], cfg["part1_optimizer"],
           cfg["part1_lr"], cfg["batch_size"], cfg["part1_epochs"], runs,
           "" if runs == 1 else "s", cfg["seed_offset"],
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


def _part2(cfg, records, index, out, log_scale, sections):
    rows = part2_summary(cfg, records, index)
    runner.atomic_write(os.path.join(out, "part2_summary.csv"),
                        report.csv_text(rows, PART2_COLUMNS))
    entries = scheme_entries(cfg)
    base = baseline_scheme(cfg)
    table = report.markdown_table(
        ["activation", "initialization", "loss on 1st batch", "final train loss"]
        + (["loss / N(0,%g)" % cfg["normal_std"][0]] if base else [])
        + ["test acc. (%)", "s per run"],
        [[r["activation"], r["label"], report.fmt(r["first_batch_loss_mean"]),
          report.fmt_pm(r["final_loss_mean"], r["final_loss_std"])]
         + ([report.fmt(r["final_loss_vs_normal"], 3)] if base else [])
         + [report.fmt_pm(r["test_accuracy_mean"], r["test_accuracy_std"], scale=100),
            report.fmt(r["run_seconds_mean"], 3)
            + (" (%d diverged)" % r["diverged"] if r["diverged"] else "")] for r in rows],
        align="ll" + "r" * (5 if base else 4))
    runner.atomic_write(os.path.join(out, "part2_summary.md"), table)
    all_recs = [records[index[("p2", key, a, s)]] for a in cfg["activations"]
                for key, _, _ in entries for s in seeds(cfg, cfg["runs"])]
    window = aggregate.default_smooth_window(all_recs)
    style = plots.series_style([k for k, _, _ in entries], baseline=base)
    figures = []
    for act in cfg["activations"]:
        series = []
        for key, _, label in entries:
            group = [records[index[("p2", key, act, s)]] for s in seeds(cfg, cfg["runs"])]
            s = aggregate.group_curves(group, window)
            c, ls, lw, mk = style[key]
            s.update(label=label, color=c, linestyle=ls, linewidth=lw, marker=mk)
            series.append(s)
        name = "part2_%s.png" % act
        bpe = all_recs[0]["batches_per_epoch"][0] if all_recs[0]["batches_per_epoch"] else None
        plots.comparison_figure(
            series, "Part 2: initialization of the %s with %s hidden layers (%s lr %g, "
            "dropout %g): mean of %d run%s (±1 std)"
            % (model_text(cfg), act, cfg["optimizer"], cfg["lr"], cfg["dropout"], cfg["runs"],
               "" if cfg["runs"] == 1 else "s"),
            os.path.join(out, name), log_scale=log_scale, batches_per_epoch=bpe,
            smooth_window=window,
            legend_title="initialization" + ("\n(black dashed: %s)" % scheme_label(cfg, base)
                                             if base else ""))
        figures.append((act, name))
    text = ["## Part 2: Xavier vs He, sigmoid vs ReLU\n",
            "%s on the %s with %s hidden layers, %d runs each (seeds %d..%d; run i of every "
            "scheme uses the same seed for the weight draw, the dropout masks and the batch "
            "order), %s lr %g, dropout %g, batch %d, %d epoch%s.  Curves as in the optimizer "
            "study: epoch loss, per-mini-batch loss moving-averaged over %d batches, test "
            "accuracy; mean ±1 std over runs%s.\n"
            % (", ".join(label for _, _, label in entries), model_text(cfg),
               "/".join(cfg["activations"]), cfg["runs"], cfg["seed_offset"],
               cfg["seed_offset"] + cfg["runs"] - 1, cfg["optimizer"], cfg["lr"],
               cfg["dropout"], cfg["batch_size"], cfg["epochs"],
               "" if cfg["epochs"] == 1 else "s", window,
               "; the naive %s scheme is the black dashed baseline" % scheme_label(cfg, base)
               if base else "")]
    for act, name in figures:
        text.append("### %s\n\n![part 2, %s](%s)\n" % (act, act, name))
    text += ["Summary (`part2_summary.csv`; mean ± sample std over runs):\n", table]
    sections.append(("part 2", "\n".join(text)))
    sections.append(("part 2 table", "Part 2 (initialization schemes):\n" + table))
    return rows


def _report_lines(cfg, data, sections, ex, command):
    lines = report.report_head("Initializer study", cfg["quick"], command, [
        ["model", model_text(cfg) + (" (fastnn.zoo.cnn, the lab CNN)" if cfg["model"] == "cnn"
                                     else " (fastnn.zoo.mlp)")],
        ["parts", ", ".join(cfg["parts"])],
        ["data", data.name + " (fingerprint %s)" % data.fingerprint],
        ["test evaluation", "before training and after every epoch on the %d test images "
         "(inference mode, batches of %d)" % (data.n_test, cfg["eval_batch_size"])]],
        ex, after=[["full configuration", "`config.json`"]])
    lines += [text for title, text in sections if not title.endswith("table")]
    lines.append("## Files\n\n- `runs/p1-<initializer>-seed<s>-<digest>.json`, "
                 "`runs/p2-<scheme>-<activation>-seed<s>-<digest>.json`: one run each "
                 "(configuration, per-epoch curves, mini-batch losses, weight histograms for "
                 "part 1; the digest identifies the whole configuration), with a per-epoch "
                 "`.csv`\n- `epochs.csv` (long format), `batch_losses.csv` (one column per "
                 "run)\n- `part1_summary.csv`, `part2_summary.csv`, `activation_stats.csv` and "
                 "their `.md` tables\n")
    return lines
