"""``fastnn bench``: time the quick cases of ``fastnn.benchmarks.cases`` (compiled kernel, its
NumPy twin, torch when installed) and print a markdown table.

    fastnn bench ladder gemm|conv [--json] [--out DIR]   every rung of a ladder (fastnn.ladder):
                                                         GFLOP/s per rung, table and figure
    fastnn bench roofline [--json] [--out DIR]           peak FLOP/s per SIMD level, bandwidth,
                                                         and the kernels placed on the roofline
"""
import json
import os
import platform

from threadpoolctl import threadpool_limits

from .. import __version__, build_info, get_num_threads
from .._atomic import atomic_write
from .. import threads as kernel_threads
from ..benchmarks import cases, probes, timing
from ..benchmarks import ladder as ladder_bench
from ..benchmarks import roofline as roofline_bench
from . import outputs
from .checks import positive_int, thread_count

__all__ = ["add_parser", "run"]


def add_parser(sub):
    p = sub.add_parser(
        "bench", help="quick timing of the main kernels: compiled vs NumPy twin (vs torch)",
        description="Quick built-in timing (median of --repeats runs, time.perf_counter) of "
        "fastnn's main kernels at the lab's shapes (%s); compiled kernels vs their NumPy twins "
        "(fastnn.reference) and torch when it is importable.  Prints a markdown table.  The "
        "full benchmark suite (pytest-benchmark, more shapes and whole training epochs) is "
        "'pytest bench/ --benchmark-only' in the source tree."
        % "; ".join(c.group for c in cases.quick()))
    p.add_argument("--repeats", type=int, default=7,
                   help="timed repeats per kernel (median; default: %(default)s)")
    p.add_argument("--threads", type=int, default=None,
                   help="threads for fastnn, NumPy's BLAS and torch (default: fastnn's)")
    p.add_argument("--no-torch", action="store_true", help="skip the torch column")
    p.set_defaults(func=run, bench_command=None)
    what = p.add_subparsers(dest="bench_command", metavar="{ladder,roofline}")
    lad = what.add_parser(
        "ladder", help="time every rung of the GEMM or convolution ladder (fastnn.ladder)",
        description="Time every rung of a ladder: the kernel rebuilt one idea at a time, from "
        "Python loops to the compiled kernel (docs/kernels.md, 'The ladder').  Each rung runs "
        "at its own size (seconds each); prints a table of GFLOP/s, or the rows as JSON.")
    lad.add_argument("kernel", choices=("gemm", "conv"))
    _add_common(lad, "ladder_<kernel>.png and ladder_<kernel>.json")
    roof = what.add_parser(
        "roofline", help="measure peak FLOP/s and bandwidth, place the kernels on the roofline",
        description="Measure this machine's peak float32 FLOP/s per SIMD level and its memory "
        "bandwidth with fastnn's own loops, time the main kernels and their NumPy twins, and "
        "place each by arithmetic intensity and achieved GFLOP/s (docs/kernels.md).")
    roof.add_argument("--threads", type=int, default=None,
                      help="threads for the probes and the kernels (default: fastnn's)")
    _add_common(roof, "roofline.png and roofline.json")


def _add_common(p, files):
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    p.add_argument("--out", default=None, metavar="DIR", help="write %s to DIR" % files)
    p.add_argument("--quick", action="store_true",
                   help="small sizes and short probes: a first look in seconds (numbers noisy)")


def run(args):
    """``fastnn bench`` (and its ladder / roofline sub-commands): returns the exit status."""
    if args.bench_command == "ladder":
        return run_ladder(args)
    if args.bench_command == "roofline":
        return run_roofline(args)
    repeats = positive_int(args.repeats, "--repeats")
    # checked against fastnn's cap before torch sees it: torch.set_num_threads(100000) crashes
    threads = thread_count(args.threads if args.threads is not None else get_num_threads(),
                           "--threads")
    torch = None if args.no_torch else cases.torch_module()
    impls = [i for i in cases.IMPLS if i != "torch" or torch is not None]
    saved_torch_threads = torch.get_num_threads() if torch is not None else None
    try:
        if torch is not None:
            torch.set_num_threads(threads)
        # Everyone gets the same thread count: fastnn's kernels, NumPy's BLAS (the twins'
        # matmuls) and torch.
        with kernel_threads(threads), threadpool_limits(threads, "blas"):
            rows = []
            for case in cases.quick():
                steps = {impl: case.step(impl) for impl in impls}
                rows.append((case, {impl: None if step is None else
                                    timing.time_call(step, repeats)
                                    for impl, step in steps.items()}))
    finally:
        if torch is not None:
            torch.set_num_threads(saved_torch_threads)
    _print_table(rows, impls, threads, repeats, torch)
    return 0


def _print_table(rows, impls, threads, repeats, torch):
    info = build_info()
    plural = "" if threads == 1 else "s"
    print("fastnn %s, %d thread%s, SIMD %s, OpenMP %s; %s; NumPy twin with %d BLAS thread%s%s; "
          "median of %d" % (__version__, threads, plural, info.get("simd"),
                            "on" if info.get("openmp") else "off",
                            platform.processor() or platform.machine(), threads, plural,
                            "; torch %s" % torch.__version__ if torch is not None else "",
                            repeats))
    print()
    head = "| kernel | shape | fastnn | NumPy twin | twin / fastnn |"
    rule = "|---|---|---:|---:|---:|"
    if "torch" in impls:
        head += " torch | torch / fastnn |"
        rule += "---:|---:|"
    print(head)
    print(rule)
    for case, t in rows:
        ours = t["fastnn"]
        line = "| %s | %s |" % (case.kernel, case.shape)
        for impl in impls:
            line += (" %s |" % timing.format_seconds(t[impl]) if impl == "fastnn" else
                     " %s | %s |" % _versus(t[impl], ours))
        print(line)
    print()
    print("Full suite: pytest bench/ --benchmark-only (in the source tree).")


def _versus(theirs, ours):
    """(time, ratio to fastnn's) cells; '-' when the case has no such version."""
    if theirs is None:
        return "-", "-"
    return timing.format_seconds(theirs), "%.2fx" % (theirs / ours)


def _write_outputs(out, stem, payload, fig):
    """<stem>.json and <stem>.png in ``out``, each replaced atomically.  No manifest: the
    ladders and the roofline may share one directory (docs/kernels.md writes them all to one)."""
    text = json.dumps(payload, indent=1) + "\n"
    atomic_write(os.path.join(out, stem + ".json"), lambda fh: fh.write(text), binary=False)
    atomic_write(os.path.join(out, stem + ".png"), lambda fh: fig.savefig(fh, format="png",
                                                                            dpi=100))


def run_ladder(args):
    """``fastnn bench ladder gemm|conv``: time the rungs, print the table (or JSON), write the
    figure and the JSON to --out."""
    if args.out is not None:
        outputs.prepare(args.out, "--out")
    measure = ladder_bench.gemm_rows if args.kernel == "gemm" else ladder_bench.conv_rows
    rows = measure(quick=args.quick)
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        print("fastnn %s %s ladder; %s; float32; median of 3; GFLOP/s counts 2 per multiply-add"
              % (__version__, args.kernel, probes.cpu_model()))
        print()
        print("\n".join(ladder_bench.table(rows)))
    if args.out is not None:
        title = "fastnn %s ladder on %s" % (args.kernel, probes.cpu_model())
        fig = ladder_bench.draw(rows, title)
        stem = "ladder_%s" % args.kernel
        _write_outputs(args.out, stem, rows, fig)
        if not args.json:
            print("\nwrote %s.png and %s.json to %s" % (stem, stem, args.out))
    return 0


def run_roofline(args):
    """``fastnn bench roofline``: probe, time, print the table (or JSON), write roofline.png and
    roofline.json to --out."""
    nthreads = None if args.threads is None else thread_count(args.threads, "--threads")
    if args.out is not None:
        outputs.prepare(args.out, "--out")
    result = roofline_bench.measure(quick=args.quick, num_threads=nthreads)
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print("\n".join(roofline_bench.table(result)))
    if args.out is not None:
        fig = roofline_bench.draw(result)
        _write_outputs(args.out, "roofline", result, fig)
        if not args.json:
            print("\nwrote roofline.png and roofline.json to %s" % args.out)
    return 0
