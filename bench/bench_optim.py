"""Optimizer update benchmarks: fastnn's fused kernels vs their NumPy twins and torch.optim.

    pytest bench/bench_optim.py --benchmark-json bench/optim.json
    python bench/report.py bench/optim.json

Groups are ``<optimizer> <n> float32``; ``extra_info['impl']`` is fastnn, numpy-twin or torch and
``extra_info['bytes']`` the minimum bytes one step must move (each array read once, each
updated array written once), so report.py prints effective GB/s:

    Adam        reads p, g, m, v; writes p, m, v    7 x 4 B = 28 B/param
    SGD-momentum reads p, g, b;   writes p, b       5 x 4 B = 20 B/param
    Adagrad     reads p, g, s;    writes p, s       5 x 4 B = 20 B/param

torch runs ``fused=True`` (one kernel per parameter list, on CPU since torch 2.4) when available,
else ``foreach=True``.  Thread counts are pinned for all by bench/conftest.py.  Each timed call is
one full optimizer step on one parameter of n elements (state already initialised).
"""
import numpy as np
import pytest

from fastnn import kernels, reference

SIZES = [1_000_000, 10_000_000]
IMPLS = ["fastnn", "numpy-twin", "torch"]
# name -> (state arrays, bytes moved per float32 parameter, torch class and kwargs)
OPTS = {
    "Adam": (["exp_avg", "exp_avg_sq"], 28, "Adam", dict(lr=1e-3)),
    "SGD-momentum": (["momentum_buffer"], 20, "SGD", dict(lr=1e-2, momentum=0.9)),
    "Adagrad": (["state_sum"], 20, "Adagrad", dict(lr=1e-2)),
}


def _arrays(n, names):
    rng = np.random.default_rng(0)
    p = rng.standard_normal(n).astype(np.float32)
    g = rng.standard_normal(n).astype(np.float32)
    return p, g, {k: np.abs(rng.standard_normal(n)).astype(np.float32) for k in names}


def _fastnn_step(mod, opt, p, g, s):
    # A step counter that keeps growing across rounds, as in training (bias corrections change).
    t = [0]
    if opt == "Adam":
        def step():
            t[0] += 1
            mod.adam_update(p, g, s["exp_avg"], s["exp_avg_sq"], None, t[0], lr=1e-3)
    elif opt == "SGD-momentum":
        def step():
            mod.sgd_update(p, g, s["momentum_buffer"], 1e-2, momentum=0.9)
    else:
        def step():
            t[0] += 1
            mod.adagrad_update(p, g, s["state_sum"], t[0], lr=1e-2)
    return step


def _torch_step(opt, p, g):
    torch = pytest.importorskip("torch")
    _, _, cls_name, kw = OPTS[opt]
    tp = torch.from_numpy(p.copy()).requires_grad_(True)
    tp.grad = torch.from_numpy(g.copy())
    cls = getattr(torch.optim, cls_name)
    try:
        o = cls([tp], fused=True, **kw)
        o.step()
        mode = "fused"
    except (RuntimeError, TypeError, ValueError):
        o = cls([tp], foreach=True, **kw)
        o.step()
        mode = "foreach"
    return o.step, mode


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("n", SIZES, ids=["1M", "10M"])
@pytest.mark.parametrize("opt", list(OPTS))
def test_optimizer_step(benchmark, opt, n, impl):
    names, bytes_per, _, _ = OPTS[opt]
    p, g, s = _arrays(n, names)
    benchmark.group = "%s %s float32" % (opt, "%dM" % (n // 1_000_000))
    benchmark.extra_info["impl"] = impl
    benchmark.extra_info["bytes"] = bytes_per * n
    if impl == "fastnn":
        step = _fastnn_step(kernels, opt, p, g, s)
    elif impl == "numpy-twin":
        step = _fastnn_step(reference, opt, p, g, s)
    else:
        step, mode = _torch_step(opt, p, g)
        benchmark.extra_info["torch_mode"] = mode
    step()   # warm: first touch of the state pages, lazy state in torch
    benchmark(step)
