"""Issue 10's training targets, measured: lab MLP and lab CNN epoch time of fastnn against an
equivalent torch model, and the lab MLP's Adam step against one kernel pass.

    FASTNN_DATA=/path/to/mnist python bench/targets_training.py [--quick] [--rounds 3]
        [--threads 2] [--only mlp|cnn|step]

A plain script (no pytest).  It prints the CPU model (``lscpu``), the SIMD level the kernels
run at, then:

1. Epoch times on MNIST: the lab MLP (``zoo.mlp``: 784-256-128-10, ReLU, dropout 0.2, batch 128)
   and the lab CNN (``zoo.cnn``: conv32-pool-conv64-pool-dense128-dropout 0.5-10, batch 64),
   Adam 1e-3, through ``Sequential.fit``; torch trains the same layers (torch.nn, Adam,
   CrossEntropyLoss, dropout, reading each batch's loss as fit does).  One warm-up epoch each,
   then ``--rounds`` timed epochs, fastnn and torch alternating so that load on a shared machine
   hits both alike; the best round of each is reported, with the ratio fastnn / torch and the
   target (MLP <= 0.35, CNN <= 0.8).  Both use ``--threads`` threads.  torch is optional: its
   column is skipped when it is not installed.  ``--quick`` times 60 MLP batches and 20 CNN
   batches instead of whole epochs (a run under a minute; a harness check, not the numbers).
2. The lean step: the lab MLP's whole Adam step (``step()``, and ``checked_step()`` which fit
   uses) against one ``adam_update`` pass over as many float32 values in one array (the
   model's 235 146 parameters); median of many calls each.  Target: step <= 1.5x the pass.

Wall time (``time.perf_counter``); on a loaded machine rerun and compare.  Numbers belong in
docs/training.md with the command that gave them.
"""
import argparse
import statistics
import time

import numpy as np

import fastnn
from fastnn import data, datasets, kernels, optim, zoo
from fastnn.benchmarks.cases import torch_lab_model
from fastnn.benchmarks.probes import cpu_model

try:                                       # optional comparison: skipped when absent
    import torch
except ImportError:                        # pragma: no cover - depends on the environment
    torch = None

TARGETS = {"mlp": 0.35, "cnn": 0.8}
BATCH = {"mlp": 128, "cnn": 64}
QUICK_BATCHES = {"mlp": 60, "cnn": 20}
STEP_TARGET = 1.5


def load(kind, batches):
    (x, y), _ = datasets.load_mnist(download=False, verbose=False)
    if batches is not None:
        x, y = x[:batches * BATCH[kind]], y[:batches * BATCH[kind]]
    return data.preprocess_images(x, flatten=(kind == "mlp")), y.astype(np.int64)


def fastnn_epoch(kind, x, y):
    """A function running one more fit epoch of the lab model (the optimizer persists)."""
    model = zoo.mlp(seed=0) if kind == "mlp" else zoo.cnn(seed=0)
    epoch = [0]

    def run():
        model.fit(x, y, epochs=epoch[0] + 1, initial_epoch=epoch[0], batch_size=BATCH[kind],
                  optimizer=None if epoch[0] else "adam", seed=0, verbose=0)
        epoch[0] += 1
    return run


def torch_epoch(kind, x, y):
    net = torch_lab_model(torch, kind)
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    gen = torch.Generator().manual_seed(0)
    batch = BATCH[kind]

    def run():
        order = torch.randperm(tx.shape[0], generator=gen)
        for lo in range(0, tx.shape[0], batch):
            idx = order[lo:lo + batch]
            opt.zero_grad()
            loss = loss_fn(net(tx[idx]), ty[idx])
            loss.backward()
            opt.step()
            loss.item()
    return run


def timed(run):
    t = time.perf_counter()
    run()
    return time.perf_counter() - t


def epochs(kind, rounds, quick):
    x, y = load(kind, QUICK_BATCHES[kind] if quick else None)
    runs = {"fastnn": fastnn_epoch(kind, x, y)}
    if torch is not None:
        runs["torch"] = torch_epoch(kind, x, y)
    for run in runs.values():
        run()                                          # warm-up epoch
    times = {name: [] for name in runs}
    for _ in range(rounds):                            # alternating
        for name, run in runs.items():
            times[name].append(timed(run))
    best = {name: min(t) for name, t in times.items()}
    line = "%-4s %5d batches of %3d: fastnn %7.3f s" % (kind, -(-len(x) // BATCH[kind]),
                                                       BATCH[kind], best["fastnn"])
    if "torch" in best:
        line += "  torch %7.3f s  ratio %.2f (target <= %.2f)" % (
            best["torch"], best["fastnn"] / best["torch"], TARGETS[kind])
    else:
        line += "  (torch not installed: no ratio)"
    print(line + "  [best of %d; all: %s]" % (rounds, ", ".join(
        "%s %s" % (n, " ".join("%.3f" % v for v in t)) for n, t in times.items())))


def median_seconds(f, calls):
    out = []
    for _ in range(calls):
        t = time.perf_counter()
        f()
        out.append(time.perf_counter() - t)
    return statistics.median(out)


def step_ratio(calls):
    model = zoo.mlp(seed=0)
    params = model.parameters()
    rng = np.random.default_rng(0)
    for p in params:
        p.grad[...] = rng.standard_normal(p.grad.shape) * 1e-3
    opt = optim.Adam(params)
    n = sum(p.value.size for p in params)
    a = rng.standard_normal(n).astype(np.float32)
    g = (rng.standard_normal(n) * 1e-3).astype(np.float32)
    m, v = np.zeros(n, np.float32), np.zeros(n, np.float32)
    count = [0]

    def one_pass():
        count[0] += 1
        kernels.adam_update(a, g, m, v, None, count[0])

    for f in (opt.step, opt.checked_step, one_pass):   # warm-up: first calls build tables
        f()
    base = median_seconds(one_pass, calls)
    for name, f in (("step()", opt.step), ("checked_step()", opt.checked_step)):
        t = median_seconds(f, calls)
        print("Adam %-15s %8.1f us  one adam_update pass over %d values %7.1f us  ratio %.2f "
              "(target <= %.1f)" % (name, t * 1e6, n, base * 1e6, t / base, STEP_TARGET))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="60 MLP / 20 CNN batches, not epochs")
    ap.add_argument("--rounds", type=int, default=None, help="timed epochs (3, quick 2)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--step-calls", type=int, default=2000)
    ap.add_argument("--only", choices=("mlp", "cnn", "step"), default=None,
                    help="run one part: the MLP epochs, the CNN epochs or the Adam step")
    args = ap.parse_args(argv)
    rounds = args.rounds or (2 if args.quick else 3)
    fastnn.set_num_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)
    info = fastnn.build_info()
    print("CPU: %s; fastnn SIMD level %s (this CPU: %s); %d threads each; torch %s" % (
        cpu_model(), fastnn.get_simd(), ", ".join(fastnn.cpu_simd_levels()), args.threads,
        torch.__version__ if torch is not None else "not installed"))
    print("fastnn %s, OpenMP %s" % (info["version"], info["openmp"]))
    for kind in ("mlp", "cnn"):
        if args.only in (None, kind):
            epochs(kind, rounds, args.quick)
    if args.only in (None, "step"):
        step_ratio(args.step_calls if not args.quick else 300)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
