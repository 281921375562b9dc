"""Tables and text of the study reports: CSV and markdown from the same rows, number formats,
the command line that re-runs a study, an environment line, and writing config.json and
report.md as one pair tied to a run manifest."""
import csv
import hashlib
import io
import json
import math
import os
import platform
import shlex

import numpy as np

from .. import __version__, build_info
from . import runner
from .train import EPOCH_COLUMNS

__all__ = ["fmt", "fmt_pm", "csv_text", "markdown_table", "command_line", "environment",
           "report_head", "epochs_long_csv", "batch_losses_csv", "manifest", "begin_report",
           "finish_report"]


def fmt(v, digits=4):
    """A number for a markdown cell: '-' for None/NaN, ints as is, floats with ``digits``
    significant digits."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return str(v)
    return "%.*g" % (digits, v)


def fmt_pm(mean, std, digits=4, scale=1.0, n=None):
    """'mean ± std' (scaled, e.g. 100 for percentages); just the mean when ``n`` (the number
    of values) is 1."""
    if mean is None or not math.isfinite(mean):
        return "-"
    if n == 1:
        return fmt(mean * scale, digits)
    return "%s ± %s" % (fmt(mean * scale, digits), fmt(std * scale, 2 if std else 1))


def csv_text(rows, columns):
    """CSV with a header; floats written with ``repr`` (they read back exactly); None empty."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow(["" if r.get(c) is None else (repr(r[c]) if isinstance(r[c], float)
                                                  else r[c]) for c in columns])
    return buf.getvalue()


def markdown_table(header, rows, align=None):
    """A GitHub markdown table; ``align`` a string of 'l'/'r' per column (default: first
    left, others right)."""
    align = align or "l" + "r" * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join(":---" if a == "l" else "---:" for a in align) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(lines) + "\n"


def command_line(subcommand, options):
    """``fastnn study <subcommand> --opt value ...`` from (option, value) pairs (value None:
    a flag; False: left out), shell-quoted."""
    parts = ["fastnn", "study", subcommand]
    for opt, value in options:
        if value is False:
            continue
        parts.append(opt)
        if value is not None and value is not True:
            parts.append(str(value))
    return " ".join(shlex.quote(p) for p in parts)


def environment(execution):
    """One line: fastnn version, Python, CPU, where the runs executed."""
    info = build_info()
    return ("fastnn %s (OpenMP %s, SIMD %s), Python %s, NumPy %s, %s; %s" % (
        __version__, "on" if info.get("openmp") else "off", info.get("simd"),
        platform.python_version(), np.__version__,
        platform.processor() or platform.machine(), execution))


def report_head(title, quick, command, settings, execution, after=()):
    """The opening lines of a study's report.md: the title, the command that re-runs the study,
    and the configuration table: ``settings`` rows, the environment and what this invocation
    did (``execution``, a runner.ExecutionSummary), then the ``after`` rows."""
    return [
        "# %s%s\n" % (title, " (quick preset)" if quick else ""),
        "Re-run exactly (finished runs in `runs/` are reused, a run whose configuration "
        "differs is recomputed):\n",
        "```\n%s\n```\n" % command,
        "## Configuration\n",
        markdown_table(["setting", "value"], list(settings) + [
            ["environment", environment(execution.where)],
            ["this invocation", "%d runs reused, %d computed, %.1f s"
             % (len(execution.reused), len(execution.computed), execution.seconds)]]
            + list(after), align="ll"),
    ]


def epochs_long_csv(records, keys):
    """Every run's per-epoch values in one long ("tidy") CSV: run id, the config values named
    in ``keys`` (e.g. optimizer, activation, seed), then epoch, loss, accuracy, test_loss,
    test_accuracy, epoch_time, eval_time."""
    rows = []
    for r in records:
        for i in range(len(r["epoch"])):
            row = {"run": r["id"]}
            row.update({k: r["config"][k] for k in keys})
            row.update({c: r[c][i] for c in EPOCH_COLUMNS})
            rows.append(row)
    return csv_text(rows, ("run",) + tuple(keys) + EPOCH_COLUMNS)


def batch_losses_csv(records):
    """Wide CSV: column ``iteration`` (1-based mini-batch index) then one column per run id
    holding that run's training loss on that mini-batch (empty past a run's end)."""
    width = max((len(r["batch_losses"]) for r in records), default=0)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["iteration"] + [r["id"] for r in records])
    for i in range(width):
        w.writerow([i + 1] + [repr(r["batch_losses"][i]) if i < len(r["batch_losses"]) else ""
                              for r in records])
    return buf.getvalue()


def manifest(run_ids):
    """A short digest of the run ids a report was made from (in order)."""
    return hashlib.sha1("\n".join(run_ids).encode("utf-8")).hexdigest()[:12]


def begin_report(out):
    """Remove ``out/report.md`` before a study rewrites its artefacts: from then until
    :func:`finish_report` the directory has no report, never the report of another run next
    to new files (an interrupted study leaves none; running it again writes it)."""
    runner.remove_file(os.path.join(out, "report.md"))


def finish_report(out, config_doc, lines, run_ids):
    """Write ``out/config.json`` (``config_doc`` plus the run ids and their manifest digest),
    then ``out/report.md`` (``lines``, ending with the manifest line), each atomically and in
    that order, last of all the study's files: a report.md always belongs to the config.json
    beside it (same manifest)."""
    digest = manifest(run_ids)
    doc = dict(config_doc, manifest=digest, runs=list(run_ids))
    runner.atomic_write(os.path.join(out, "config.json"), json.dumps(doc, indent=1))
    lines = list(lines) + [
        "Run manifest `%s`: the %d runs listed under \"runs\" in `config.json` (written with "
        "this report)\n" % (digest, len(run_ids))]
    runner.atomic_write(os.path.join(out, "report.md"), "\n".join(lines))
