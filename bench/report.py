"""Turn a pytest-benchmark JSON file into a markdown table and a bar chart.

    python bench/report.py bench/results.json --markdown bench/results.md --png docs/bench.png

For each group (one kernel at one shape) it lists every implementation's median, min and max
time and fastnn's speed-up over each other implementation (other's median / fastnn's median).
"""
import argparse
import json
import sys
from collections import OrderedDict

import numpy as np

from fastnn.benchmarks.timing import format_seconds
from fastnn.plotting import new_figure, save_figure


def load(path):
    with open(path) as fh:
        data = json.load(fh)
    groups = OrderedDict()
    for b in data.get("benchmarks", []):
        impl = ((b.get("extra_info") or {}).get("impl") or (b.get("params") or {}).get("impl")
                or b["name"])
        groups.setdefault(b.get("group") or b["name"], OrderedDict())[impl] = b
    return data, groups


def markdown(data, groups):
    machine = data.get("machine_info", {})
    lines = ["Machine: %s, %s; Python %s; %s" % (
        machine.get("cpu", {}).get("brand_raw", "?"), machine.get("cpu", {}).get("count", "?"),
        machine.get("python_version", "?"), data.get("datetime", "")), "",
        "| kernel / shape | impl | median | min | max | fastnn speed-up (x) | extra |",
        "|---|---|---|---|---|---|---|"]
    for group, impls in groups.items():
        ours = impls.get("fastnn")
        for impl, b in impls.items():
            st = b["stats"]
            speed = ""
            if ours is not None and impl != "fastnn":
                speed = "%.2f" % (st["median"] / ours["stats"]["median"])
            extra = []
            info = b.get("extra_info") or {}
            if "flops" in info:
                extra.append("%.1f GFLOP/s" % (info["flops"] / st["median"] / 1e9))
            if "bytes" in info:
                extra.append("%.1f GB/s" % (info["bytes"] / st["median"] / 1e9))
            lines.append("| %s | %s | %s | %s | %s | %s | %s |" % (
                group, impl, format_seconds(st["median"], 3), format_seconds(st["min"], 3),
                format_seconds(st["max"], 3), speed, ", ".join(extra)))
    return "\n".join(lines) + "\n"


def bar_chart(groups, path):
    names = [g for g, impls in groups.items() if "fastnn" in impls and len(impls) > 1]
    impls = ["numpy-twin", "torch"]
    colors = {"numpy-twin": "tab:blue", "torch": "tab:orange"}
    fig = new_figure((10, 0.38 * len(names) + 1.6))
    ax = fig.subplots()
    y = np.arange(len(names))
    h = 0.38
    for k, impl in enumerate(impls):
        vals = [groups[g][impl]["stats"]["median"] / groups[g]["fastnn"]["stats"]["median"]
                if impl in groups[g] else np.nan for g in names]
        ax.barh(y + (k - 0.5) * h, vals, height=h, color=colors[impl], label="vs " + impl)
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_xscale("log")
    ax.set_yticks(y)
    ax.set_yticklabels(names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("fastnn speed-up (other median / fastnn median; > 1 means fastnn is faster)")
    ax.set_title("fastnn kernels vs NumPy twins and torch (median times)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    save_figure(fig, path, dpi=110)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("json")
    p.add_argument("--markdown", help="write the table here (default: stdout)")
    p.add_argument("--png", help="write the bar chart here")
    args = p.parse_args(argv)
    data, groups = load(args.json)
    text = markdown(data, groups)
    if args.markdown:
        with open(args.markdown, "w") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)
    if args.png:
        bar_chart(groups, args.png)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
