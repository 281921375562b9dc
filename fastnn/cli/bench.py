"""``fastnn bench``: time the quick cases of ``fastnn.benchmarks.cases`` (compiled kernel, its
NumPy twin, torch when installed) and print a markdown table."""
import platform

from threadpoolctl import threadpool_limits

from .. import __version__, build_info, get_num_threads
from .. import threads as kernel_threads
from ..benchmarks import cases, timing
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
    p.set_defaults(func=run)


def run(args):
    """``fastnn bench``: returns the exit status (0)."""
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
