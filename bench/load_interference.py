"""Does fastnn collapse under load or beside another runtime?  (issue 10, item 4; docs/threads.md)

    FASTNN_DATA=/path/to/mnist python bench/load_interference.py
    python bench/load_interference.py --synthetic                  # random data, no MNIST
    python bench/load_interference.py --policies default,runtime   # + the OpenMP runtime's own
                                                                   #   spin (fastnn before this)
    python bench/load_interference.py --json out.json --repeats 5

It measures, in one run, with a busy process it starts and stops itself:

(a) training: the lab-like MLP (784-200-10, ReLU, dropout 0.2, Adam, batch 128), 3 epochs over
    20000 images (MNIST from FASTNN_DATA, or random data with --synthetic), quiet and beside one
    busy process (a spinning Python loop, pinned to one CPU with --pin-busy), at 1 thread, at
    the default count (which adapts to load) and at that count fixed (set explicitly: no
    adaptation, the spin bound alone).  Target: busy at the default <= 2x its quiet time.
(b) beside another runtime: fastnn's 128x784x256 GEMM alternating call by call with NumPy's
    matmul (OpenBLAS, its own threads) and, when torch is importable, fastnn's conv 32->64 3x3
    pad 1 fwd+bwd (batch 64, 14x14) alternating with torch's, each side's time alternating vs the
    same call alone.  Target: <= 1.3x on both sides.

Each policy (FASTNN_SPIN_US value; 'default' = unset, fastnn's own default; 'runtime' = leave the
OpenMP runtime's default, which is what fastnn did before it bounded the spin) runs in a fresh
child process, because the OpenMP runtime reads its wait setting once, when it is loaded.
Within a child the quiet and busy runs are interleaved, ``--repeats`` times; the table gives the
median and, in brackets, the spread (max/min) of the repeats.  Nothing is asserted: this is a
measurement.  It prints the CPU model, the load average before and after, and what fastnn applied
(``build_info()['openmp_wait']``).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


# --------------------------------------------------------------------------- the busy process
BUSY_CODE = "while True:\n    pass\n"


class BusyProcess:
    """A spinning Python process, started on enter and killed on exit (even on error)."""

    def __init__(self, pin_cpu=None):
        self.pin_cpu = pin_cpu
        self.proc = None

    def __enter__(self):
        pin = self.pin_cpu

        def preexec():
            if pin is not None:
                os.sched_setaffinity(0, {pin})

        self.proc = subprocess.Popen([sys.executable, "-c", BUSY_CODE],
                                     preexec_fn=preexec if pin is not None else None)
        time.sleep(0.2)  # let it reach its loop (and the scheduler notice it)
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()
        return False


# --------------------------------------------------------------------------- the child
def _median_spread(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "all": values}


def _mlp_data(synthetic, n=20000):
    import numpy as np
    from fastnn import data, datasets
    if synthetic:
        rng = np.random.default_rng(0)
        return rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n).astype(np.int64)
    (x, y), _ = datasets.load_mnist(download=False, verbose=False)
    return data.preprocess_images(x[:n], flatten=True), y[:n].astype(np.int64)


def _train_seconds(x, y, threads, epochs=3):
    """Seconds for ``epochs`` epochs; ``threads`` None = the default count (load-adaptive).

    The default's load adapter starts afresh for each run, as in a new process: otherwise a
    quiet run that follows the busy ones starts at the count the load left (one thread, with a
    probe pause of up to ``LoadAdapter.HOLD_MAX_S``), and measures the way back, not the quiet
    machine."""
    import fastnn
    from fastnn import _config, zoo
    if threads is None:
        _config.load_adapter().reset()
    with fastnn.threads(threads):
        model = zoo.mlp(hidden=(200,), seed=0)
        model.fit(x[:1280], y[:1280], epochs=1, batch_size=128, optimizer="adam", seed=0,
                  verbose=0)                                   # warm-up: buffers, first calls
        t0 = time.perf_counter()
        model.fit(x, y, epochs=epochs, batch_size=128, optimizer="adam", seed=0, verbose=0)
        return time.perf_counter() - t0


def thread_settings():
    """(label, threads) rows: one thread, the default (adaptive), the default count fixed."""
    import fastnn
    n = fastnn.thread_info()["configured"]
    rows = [("1", 1), ("default (%d, adaptive)" % n, None)]
    if n > 1:
        rows.append(("%d fixed" % n, n))
    return rows


def measure_training(args):
    x, y = _mlp_data(args.synthetic)
    settings = thread_settings()
    runs = {(state, label): [] for state in ("quiet", "busy") for label, _ in settings}
    for _ in range(args.repeats):
        for label, n in settings:
            runs[("quiet", label)].append(_train_seconds(x, y, n))
        with BusyProcess(args.pin_busy):
            for label, n in settings:
                runs[("busy", label)].append(_train_seconds(x, y, n))
    return {"settings": [label for label, _ in settings],
            "runs": {"%s|%s" % k: _median_spread(v) for k, v in runs.items()}}


def _alternate(fn_a, fn_b, pairs, blocks):
    """Per-side seconds per call: each alone (a block of calls), and alternating a, b, a, b.
    Blocks interleave the three so that drift hits them alike; medians over blocks."""
    alone_a, alone_b, alt_a, alt_b = [], [], [], []
    perf = time.perf_counter
    for _ in range(blocks):
        t0 = perf()
        for _ in range(pairs):
            fn_a()
        alone_a.append((perf() - t0) / pairs)
        t0 = perf()
        for _ in range(pairs):
            fn_b()
        alone_b.append((perf() - t0) / pairs)
        sa = sb = 0.0
        for _ in range(pairs):
            t0 = perf()
            fn_a()
            t1 = perf()
            fn_b()
            t2 = perf()
            sa += t1 - t0
            sb += t2 - t1
        alt_a.append(sa / pairs)
        alt_b.append(sb / pairs)
    return {"a_alone": _median_spread(alone_a), "b_alone": _median_spread(alone_b),
            "a_alt": _median_spread(alt_a), "b_alt": _median_spread(alt_b)}


def measure_alternation(args):
    import numpy as np
    import fastnn
    from fastnn import kernels
    rng = np.random.default_rng(0)
    out = {}
    a = rng.standard_normal((128, 784), dtype=np.float32)
    b = rng.standard_normal((784, 256), dtype=np.float32)
    c1 = np.empty((128, 256), np.float32)
    c2 = np.empty((128, 256), np.float32)

    def ours():
        kernels.matmul(a, b, out=c1)

    def numpys():
        np.matmul(a, b, out=c2)

    for _ in range(20):
        ours()
        numpys()
    out["gemm_numpy"] = _alternate(ours, numpys, args.pairs, args.blocks)
    try:
        import torch
    except ImportError:
        out["conv_torch"] = None
        return out
    torch.set_num_threads(fastnn.get_num_threads())
    x = rng.standard_normal((64, 32, 14, 14), dtype=np.float32)
    w = (rng.standard_normal((64, 32, 3, 3)) * 0.05).astype(np.float32)
    bias = np.zeros(64, np.float32)
    dy = rng.standard_normal((64, 64, 14, 14), dtype=np.float32)
    tx = torch.from_numpy(x).requires_grad_(True)
    tw = torch.from_numpy(w).requires_grad_(True)
    tb = torch.from_numpy(bias).requires_grad_(True)
    tdy = torch.from_numpy(dy)

    def ours_conv():
        kernels.conv2d_forward(x, w, bias, 1, 1)
        kernels.conv2d_backward(dy, x, w, 1, 1)

    def torch_conv():
        tx.grad = tw.grad = tb.grad = None
        torch.nn.functional.conv2d(tx, tw, tb, 1, 1).backward(tdy)

    for _ in range(3):
        ours_conv()
        torch_conv()
    out["conv_torch"] = _alternate(ours_conv, torch_conv, max(2, args.pairs // 20), args.blocks)
    out["torch_threads"] = torch.get_num_threads()
    return out


def child_main(args):
    import fastnn   # first: the OpenMP runtime is loaded with fastnn's wait setting
    info = fastnn.build_info()
    result = {"policy": os.environ.get("FASTNN_SPIN_US", "default"),
              "openmp_wait": info["openmp_wait"], "num_threads": info["num_threads"],
              "simd": info["simd"]}
    try:
        from threadpoolctl import threadpool_info
        result["blas"] = [{k: p.get(k) for k in ("internal_api", "version", "num_threads",
                                                  "threading_layer")}
                          for p in threadpool_info()]
    except Exception as e:  # threadpoolctl is a dependency; report, do not fail, if it breaks
        result["blas"] = repr(e)
    if "training" in args.parts:
        result["training"] = measure_training(args)
    if "alternation" in args.parts:
        result["alternation"] = measure_alternation(args)
    json.dump(result, sys.stdout)


# --------------------------------------------------------------------------- the parent
def cpu_model():
    # Imported here, at the end of the run: the parent process starts no OpenMP runtime of its
    # own while its children measure.
    from fastnn.benchmarks.probes import cpu_model as probe_cpu_model
    return probe_cpu_model()


def loadavg():
    try:
        return os.getloadavg()
    except OSError:
        return None


def run_policy(policy, args):
    env = dict(os.environ)
    if policy == "default":
        env.pop("FASTNN_SPIN_US", None)
    else:
        env["FASTNN_SPIN_US"] = policy
    cmd = [sys.executable, os.path.abspath(__file__), "--child", "--parts", ",".join(args.parts),
           "--repeats", str(args.repeats), "--pairs", str(args.pairs),
           "--blocks", str(args.blocks)]
    if args.synthetic:
        cmd.append("--synthetic")
    if args.pin_busy is not None:
        cmd += ["--pin-busy", str(args.pin_busy)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit("policy %s: the child failed:\n%s" % (policy, proc.stderr))
    return json.loads(proc.stdout)


def _fmt(stat, scale=1.0, digits=2):
    if stat is None:
        return "-"
    m = stat["median"] * scale
    spread = stat["max"] / stat["min"] if stat["min"] > 0 else float("inf")
    return "%.*f (x%.2f)" % (digits, m, spread)


def report(results, header):
    lines = [header, ""]
    lines.append("(a) MLP 784-200-10, 3 epochs x 20000 images, seconds: median (max/min of "
                 "repeats)")
    lines.append("| policy | spin | threads | quiet | one busy process | busy / quiet |")
    lines.append("|---|---|---|---|---|---|")
    for r in results:
        t = r.get("training")
        if not t:
            continue
        w = r["openmp_wait"]
        spin = "%s us, %s" % (w.get("spin_us"), "applied" if w.get("applied") else
                              "not applied (%s)" % w.get("policy"))
        for label in t["settings"]:
            q, b = t["runs"]["quiet|" + label], t["runs"]["busy|" + label]
            lines.append("| %s | %s | %s | %s | %s | %.2fx |" % (
                r["policy"], spin, label, _fmt(q), _fmt(b), b["median"] / q["median"]))
    lines.append("")
    lines.append("(b) alternating call by call with another runtime, ms per call: median "
                 "(max/min of blocks)")
    lines.append("| policy | pair | fastnn alone | fastnn alternating | ratio | peer alone | "
                 "peer alternating | ratio |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for r in results:
        alt = r.get("alternation")
        if not alt:
            continue
        for key, label in (("gemm_numpy", "GEMM 128x784x256 / NumPy"),
                           ("conv_torch", "conv 32->64 fwd+bwd / torch")):
            s = alt.get(key)
            if not s:
                continue
            lines.append("| %s | %s | %s | %s | %.2fx | %s | %s | %.2fx |" % (
                r["policy"], label, _fmt(s["a_alone"], 1e3, 3), _fmt(s["a_alt"], 1e3, 3),
                s["a_alt"]["median"] / s["a_alone"]["median"], _fmt(s["b_alone"], 1e3, 3),
                _fmt(s["b_alt"], 1e3, 3), s["b_alt"]["median"] / s["b_alone"]["median"]))
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--policies", default="default",
                   help="comma-separated FASTNN_SPIN_US values to compare, each in a fresh "
                        "process: 'default' (unset), 'runtime', or microseconds (default: "
                        "%(default)s)")
    p.add_argument("--parts", default="training,alternation",
                   help="what to measure (default: %(default)s)")
    p.add_argument("--synthetic", action="store_true", help="random data instead of MNIST")
    p.add_argument("--repeats", type=int, default=3, help="training repeats (default 3)")
    p.add_argument("--pairs", type=int, default=200,
                   help="GEMM calls per block (the conv uses a twentieth; default 200)")
    p.add_argument("--blocks", type=int, default=5, help="alternation blocks (default 5)")
    p.add_argument("--pin-busy", type=int, default=None, metavar="CPU",
                   help="pin the busy process to this CPU (default: not pinned)")
    p.add_argument("--json", default=None, help="also write the raw results here")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.parts = [s.strip() for s in args.parts.split(",") if s.strip()]
    if args.child:
        return child_main(args)
    before = loadavg()
    t0 = time.time()
    results = []
    for pol in [p.strip() for p in args.policies.split(",") if p.strip()]:
        t1 = time.time()
        results.append(run_policy(pol, args))
        # progress on stderr (a policy can take minutes on a loaded machine); table at the end
        print(report(results[-1:], "policy %s: %.0f s, load average %s" % (
            pol, time.time() - t1, "%.2f" % loadavg()[0] if loadavg() else "?")),
            file=sys.stderr, flush=True)
    after = loadavg()
    header = ("CPU: %s; %d CPUs available; load average before %s, after %s; %.0f s; %s data"
              % (cpu_model(), len(os.sched_getaffinity(0)),
                 "%.2f" % before[0] if before else "?", "%.2f" % after[0] if after else "?",
                 time.time() - t0, "synthetic" if args.synthetic else "MNIST"))
    text = report(results, header)
    print(text)
    for r in results:
        print("policy %s: %s" % (r["policy"], r["openmp_wait"].get("reason")))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"header": header, "results": results}, fh, indent=1)


if __name__ == "__main__":
    main()
