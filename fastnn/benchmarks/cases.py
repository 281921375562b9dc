"""The benchmark cases: one table, used by ``fastnn bench`` (the cases marked ``quick``) and by
the pytest-benchmark suite in the source tree (``bench/bench_kernels.py``, all of them).

A case is one kernel at one shape, timed three ways (an *impl*):

    fastnn       the compiled kernel (``fastnn.kernels``)
    numpy-twin   its NumPy twin (``fastnn.reference``): same name, same signature, same result,
                 so one ``run(module, inputs)`` function serves both
    torch        the torch operation that computes the same thing, when torch is installed

Every array is float32, drawn from ``numpy.random.default_rng(0)``; torch's tensors share the
NumPy arrays' memory and need no gradient unless the case times a backward pass.
``Case.step(impl)`` builds fresh inputs for each impl, so an optimizer's state
or an ``out=`` buffer is never shared between two impls.  ``flops`` counts 2 per multiply-add
(the report prints GFLOP/s); ``bytes`` is the least memory traffic of one call: each input read
once, each output written once (the report prints GB/s).

The groups (``Case.group``, the kernel and its shape) are the rows of bench/results.md:

    suite        kernel                 shapes
    gemm         matmul                 the lab MLP at batch 128 (784-256-128-10), forward and
                                        backward (dW = x.T @ dy, dx = dy @ W.T), square 256-2048
    gemm         matmul_bias <act>      act(x @ w + b), one fused pass, the MLP's layers
    conv         conv fwd, conv fwd+bwd the two convolutions of the lab CNN at batch 128
    pool         maxpool 2x2 fwd(+bwd)  the CNN's first pooling layer, batch 128
    activations  relu fwd+bwd, sigmoid fwd, softmax CE: a Dense layer's output, the first
                                        conv's output (3.2 M elements), the logits
    optim        Adam, SGD-momentum, Adagrad: one step on one parameter of 1M / 10M elements,
                                        state already initialised; torch runs fused=True
    rows         take_rows, sum_rows    a shuffled MNIST-sized batch gathered (128 of 60000
                                        rows of 784), the bias gradients of the MLP's layers
"""
import dataclasses
from typing import Callable, Optional

import numpy as np

from .. import kernels, reference

__all__ = ["IMPLS", "Case", "CASES", "suite", "quick", "torch_module", "matmul_steps"]

IMPLS = ("fastnn", "numpy-twin", "torch")
_TWINS = {"fastnn": kernels, "numpy-twin": reference}
_F32 = np.float32


def torch_module():
    """torch, or None when it is not installed.  torch is an optional comparison, never a
    dependency of fastnn: it is imported here, when a benchmark asks for it, and nowhere at
    module level."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def torch_lab_model(torch, kind):
    """The lab model ``kind`` ("mlp" or "cnn", as ``fastnn.zoo.mlp()`` / ``zoo.cnn()``) built
    with ``torch.nn`` (seeded), for the epoch comparisons of bench/."""
    nn = torch.nn
    torch.manual_seed(0)
    if kind == "mlp":
        return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Dropout(0.2),
                             nn.Linear(256, 128), nn.ReLU(), nn.Dropout(0.2), nn.Linear(128, 10))
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Dropout(0.5),
                         nn.Linear(128, 10))


@dataclasses.dataclass(frozen=True)
class Case:
    """One kernel at one shape.

    ``inputs()`` builds the arrays (a dict); ``run(module, inputs)`` returns the zero-argument
    step for fastnn (module ``fastnn.kernels``) or its twin (``fastnn.reference``);
    ``torch_run(torch, inputs)``, when given, the step for torch.  A step may carry an
    ``extra_info`` dict (what torch mode ran) to be recorded beside its timing.
    """
    suite: str
    kernel: str
    shape: str
    inputs: Callable[[], dict]
    run: Callable
    torch_run: Optional[Callable] = None
    flops: Optional[float] = None
    bytes: Optional[float] = None
    quick: bool = False          # one of the few cases ``fastnn bench`` times

    @property
    def group(self):
        return "%s %s" % (self.kernel, self.shape)

    def __str__(self):
        return "%s: %s" % (self.suite, self.group)

    def step(self, impl):
        """The zero-argument callable that runs this case once with ``impl`` (one of IMPLS);
        None when it cannot run here (torch not installed, or no torch version of the case)."""
        if impl == "torch":
            torch = torch_module()
            if torch is None or self.torch_run is None:
                return None
            return self.torch_run(torch, self.inputs())
        if impl not in _TWINS:
            raise ValueError("impl must be one of %s, got %r" % (IMPLS, impl))
        return self.run(_TWINS[impl], self.inputs())

    def info(self):
        """The case's counts, for pytest-benchmark's ``extra_info``."""
        return {k: v for k, v in (("flops", self.flops), ("bytes", self.bytes)) if v is not None}


def _normal(rng, shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(_F32)


# --------------------------------------------------------------------------- gemm
def _matmul_case(label, m, k, n, trans_a, trans_b, with_torch=True):
    def inputs():
        rng = np.random.default_rng(0)
        return {"a": _normal(rng, (k, m) if trans_a else (m, k)),
                "b": _normal(rng, (n, k) if trans_b else (k, n)),
                "out": np.empty((m, n), _F32)}

    def run(mod, d):
        return lambda: mod.matmul(d["a"], d["b"], trans_a, trans_b, d["out"])

    def torch_run(torch, d):
        a, b = torch.from_numpy(d["a"]), torch.from_numpy(d["b"])
        a, b = (a.T if trans_a else a), (b.T if trans_b else b)
        out = torch.from_numpy(d["out"])
        return lambda: torch.matmul(a, b, out=out)

    return Case("gemm", "matmul", label, inputs, run, torch_run if with_torch else None,
                flops=2.0 * m * n * k)


def matmul_steps(m, k, n, trans_a=False, trans_b=False):
    """``(fastnn step, NumPy step)``: the m x k x n float32 product (A stored k x m when
    ``trans_a``, B stored n x k when ``trans_b``) by ``fastnn.kernels.matmul`` and by NumPy's own
    ``np.matmul`` (its BLAS, not the twin), each into its own preallocated output, on the same
    operands from ``default_rng(0)``.  What bench/targets_gemm.py and bench/thread_scaling.py
    time against each other.

        >>> fast, peer = matmul_steps(3, 4, 5)
        >>> fast().shape, peer().shape
        ((3, 5), (3, 5))
    """
    rng = np.random.default_rng(0)
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(_F32)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(_F32)
    out_f, out_n = np.empty((m, n), _F32), np.empty((m, n), _F32)
    op_a, op_b = (a.T if trans_a else a), (b.T if trans_b else b)
    return (lambda: kernels.matmul(a, b, trans_a, trans_b, out_f),
            lambda: np.matmul(op_a, op_b, out=out_n))


def _matmul_bias_case(activation, m, k, n, quick=False):
    def inputs():
        rng = np.random.default_rng(0)
        return {"x": _normal(rng, (m, k)), "w": _normal(rng, (k, n)), "b": _normal(rng, n),
                "out": np.empty((m, n), _F32)}

    def run(mod, d):
        return lambda: mod.matmul_bias(d["x"], d["w"], d["b"], activation, d["out"])

    def torch_run(torch, d):
        x, w, b = (torch.from_numpy(d[key]) for key in ("x", "w", "b"))
        act = {None: lambda z: z, "relu": torch.relu, "tanh": torch.tanh,
               "sigmoid": torch.sigmoid}[activation]
        return lambda: act(torch.addmm(b, x, w))

    return Case("gemm", "matmul_bias %s" % activation, "%dx%d@%dx%d" % (m, k, k, n), inputs,
                run, torch_run, flops=2.0 * m * n * k, quick=quick)


# --------------------------------------------------------------------------- conv
def _conv_cases(label, n, c, h, w, oc, k, pad, quick=False):
    """Forward, and forward + backward (dx, dw, db), of one 3x3 convolution, stride 1."""
    oh, ow = h + 2 * pad - k + 1, w + 2 * pad - k + 1
    flops = 2.0 * n * oc * oh * ow * c * k * k     # forward: one GEMM; backward: two more

    def inputs():
        rng = np.random.default_rng(0)
        return {"x": _normal(rng, (n, c, h, w)), "w": _normal(rng, (oc, c, k, k), 0.1),
                "b": _normal(rng, oc), "dy": _normal(rng, (n, oc, oh, ow))}

    def forward(mod, d):
        return lambda: mod.conv2d_forward(d["x"], d["w"], d["b"], 1, pad)

    def forward_backward(mod, d):
        def step():
            y = mod.conv2d_forward(d["x"], d["w"], d["b"], 1, pad)
            return y, mod.conv2d_backward(d["dy"], d["x"], d["w"], 1, pad)
        return step

    def torch_forward(torch, d):
        x, wt, b = (torch.from_numpy(d[key]) for key in ("x", "w", "b"))
        return lambda: torch.nn.functional.conv2d(x, wt, b, 1, pad)

    def torch_forward_backward(torch, d):
        x, wt, b = (torch.from_numpy(d[key]).requires_grad_(True) for key in ("x", "w", "b"))
        dy = torch.from_numpy(d["dy"])

        def step():
            y = torch.nn.functional.conv2d(x, wt, b, 1, pad)
            return torch.autograd.grad(y, (x, wt, b), dy)
        return step

    def forward_backward_no_dx(mod, d):
        def step():
            y = mod.conv2d_forward(d["x"], d["w"], d["b"], 1, pad)
            return y, mod.conv2d_backward(d["dy"], d["x"], d["w"], 1, pad, need_dx=False)
        return step

    def torch_forward_backward_no_dx(torch, d):
        x = torch.from_numpy(d["x"])
        wt, b = (torch.from_numpy(d[key]).requires_grad_(True) for key in ("w", "b"))
        dy = torch.from_numpy(d["dy"])

        def step():
            y = torch.nn.functional.conv2d(x, wt, b, 1, pad)
            return torch.autograd.grad(y, (wt, b), dy)
        return step

    cases = [Case("conv", "conv fwd", label, inputs, forward, torch_forward, flops=flops,
                  quick=quick),
             Case("conv", "conv fwd+bwd", label, inputs, forward_backward,
                  torch_forward_backward, flops=3 * flops, quick=quick)]
    if c == 1:
        # a first layer: training never asks for its dx (Sequential.fit, need_dx=False)
        cases.append(Case("conv", "conv fwd+bwd (no dx)", label, inputs, forward_backward_no_dx,
                          torch_forward_backward_no_dx, flops=2 * flops))
    return cases


# --------------------------------------------------------------------------- pool
def _maxpool_cases(shape, quick=False):
    """2x2 max pooling, stride 2.  Bytes: forward reads x, writes y and the int64 argmax;
    backward reads dy and argmax, writes dx."""
    y_shape = shape[:2] + (shape[2] // 2, shape[3] // 2)
    nx, ny = int(np.prod(shape)), int(np.prod(y_shape))
    forward_bytes = 4 * nx + 4 * ny + 8 * ny
    backward_bytes = 4 * ny + 8 * ny + 4 * nx
    label = "x".join(map(str, shape))

    def inputs():
        rng = np.random.default_rng(0)
        return {"x": _normal(rng, shape), "dy": _normal(rng, y_shape)}

    def forward(mod, d):
        return lambda: mod.maxpool2d_forward(d["x"], 2, None)

    def forward_backward(mod, d):
        def step():
            _, argmax = mod.maxpool2d_forward(d["x"], 2, None)
            return mod.maxpool2d_backward(d["dy"], argmax, d["x"].shape)
        return step

    def torch_forward(torch, d):
        x = torch.from_numpy(d["x"])
        return lambda: torch.nn.functional.max_pool2d(x, 2, 2, return_indices=True)

    def torch_forward_backward(torch, d):
        x = torch.from_numpy(d["x"]).requires_grad_(True)
        dy = torch.from_numpy(d["dy"])

        def step():
            y, _ = torch.nn.functional.max_pool2d(x, 2, 2, return_indices=True)
            return torch.autograd.grad(y, x, dy)
        return step

    return [Case("pool", "maxpool 2x2 fwd", label, inputs, forward, torch_forward,
                 bytes=forward_bytes, quick=quick),
            Case("pool", "maxpool 2x2 fwd+bwd", label, inputs, forward_backward,
                 torch_forward_backward, bytes=forward_bytes + backward_bytes)]


# --------------------------------------------------------------------------- activations
def _activation_cases(label, shape):
    """relu forward + backward (reads x, dy, x; writes y, dx) and sigmoid forward (reads x,
    writes y).  Each call allocates its result, as the layers do."""
    nbytes = 4 * int(np.prod(shape))

    def inputs():
        rng = np.random.default_rng(0)
        return {"x": _normal(rng, shape), "dy": _normal(rng, shape)}

    def relu(mod, d):
        def step():
            return mod.relu_forward(d["x"]), mod.relu_backward(d["dy"], d["x"])
        return step

    def torch_relu(torch, d):
        x, dy = torch.from_numpy(d["x"]), torch.from_numpy(d["dy"])
        return lambda: (torch.relu(x), torch.ops.aten.threshold_backward(dy, x, 0.0))

    def sigmoid(mod, d):
        return lambda: mod.sigmoid_forward(d["x"])

    def torch_sigmoid(torch, d):
        x = torch.from_numpy(d["x"])
        return lambda: torch.sigmoid(x)

    return [Case("activations", "relu fwd+bwd", label, inputs, relu, torch_relu,
                 bytes=5 * nbytes),
            Case("activations", "sigmoid fwd", label, inputs, sigmoid, torch_sigmoid,
                 bytes=2 * nbytes)]


def _softmax_ce_case(n, k):
    """(mean loss, dlogits) from logits and int64 labels: reads the logits and labels, writes
    dlogits.  torch: cross_entropy then autograd.grad, which is how torch gets both."""
    def inputs():
        rng = np.random.default_rng(0)
        return {"z": _normal(rng, (n, k)), "labels": rng.integers(0, k, n)}

    def run(mod, d):
        return lambda: mod.softmax_cross_entropy(d["z"], d["labels"])

    def torch_run(torch, d):
        z = torch.from_numpy(d["z"]).requires_grad_(True)
        labels = torch.from_numpy(d["labels"])

        def step():
            loss = torch.nn.functional.cross_entropy(z, labels)
            (dz,) = torch.autograd.grad(loss, z)
            return loss.item(), dz
        return step

    return Case("activations", "softmax CE", "%dx%d" % (n, k), inputs, run, torch_run,
                bytes=2 * 4 * n * k + 8 * n)


# --------------------------------------------------------------------------- rows
def _take_rows_case(n, row, m, quick=False):
    """A shuffled mini-batch of ``m`` rows gathered from a dataset of ``n`` rows of ``row``
    float32 values (larger than the caches, as MNIST's 188 MB): reads and writes m rows.
    Each call takes the next batch of one permutation, as an epoch does."""
    def inputs():
        rng = np.random.default_rng(0)
        return {"x": _normal(rng, (n, row)), "order": rng.permutation(n)}

    def batches(d):
        state = {"b": 0}

        def next_indices():
            b = state["b"] = (state["b"] + 1) % (n // m)
            return d["order"][b * m:(b + 1) * m]
        return next_indices

    def run(mod, d):
        nxt = batches(d)
        return lambda: mod.take_rows(d["x"], nxt())

    def torch_run(torch, d):
        x, nxt = torch.from_numpy(d["x"]), batches(d)
        return lambda: torch.index_select(x, 0, torch.from_numpy(nxt()))

    return Case("rows", "take_rows", "%d of %dx%d" % (m, n, row), inputs, run, torch_run,
                bytes=2 * 4 * m * row, quick=quick)


def _sum_rows_case(n, k):
    """The bias gradient of a Dense layer: the sum of dz's rows (reads dz, writes k sums)."""
    def inputs():
        return {"dz": _normal(np.random.default_rng(0), (n, k))}

    def run(mod, d):
        return lambda: mod.sum_rows(d["dz"])

    def torch_run(torch, d):
        dz = torch.from_numpy(d["dz"])
        return lambda: dz.sum(0)

    return Case("rows", "sum_rows", "%dx%d" % (n, k), inputs, run, torch_run,
                bytes=4 * n * k + 4 * k)


# --------------------------------------------------------------------------- optimizers
# name -> (state arrays, bytes moved per float32 parameter, the fastnn update call, torch
# class and keyword arguments).  Bytes: Adam reads p, g, m, v and writes p, m, v (7 x 4);
# SGD-momentum reads p, g, b and writes p, b (5 x 4); Adagrad reads p, g, s and writes p, s.
_OPTIMIZERS = {
    "Adam": (("exp_avg", "exp_avg_sq"), 28,
             lambda mod, p, g, s, t: mod.adam_update(p, g, s["exp_avg"], s["exp_avg_sq"], None, t,
                                                     lr=1e-3),
             "Adam", {"lr": 1e-3}),
    "SGD-momentum": (("momentum_buffer",), 20,
                     lambda mod, p, g, s, t: mod.sgd_update(p, g, s["momentum_buffer"], 1e-2,
                                                            momentum=0.9),
                     "SGD", {"lr": 1e-2, "momentum": 0.9}),
    "Adagrad": (("state_sum",), 20,
                lambda mod, p, g, s, t: mod.adagrad_update(p, g, s["state_sum"], t, lr=1e-2),
                "Adagrad", {"lr": 1e-2}),
}


def _optimizer_case(name, n, quick=False):
    """One optimizer step on one parameter of ``n`` elements.  The step counter keeps growing
    from call to call, as in training (Adam's bias corrections change)."""
    state_names, bytes_per, update, torch_class, torch_kw = _OPTIMIZERS[name]

    def inputs():
        rng = np.random.default_rng(0)
        p, g = _normal(rng, n), _normal(rng, n)
        state = {s: np.abs(rng.standard_normal(n)).astype(_F32) for s in state_names}
        return {"p": p, "g": g, "state": state}

    def run(mod, d):
        t = [0]

        def step():
            t[0] += 1
            update(mod, d["p"], d["g"], d["state"], t[0])
        return step

    def torch_run(torch, d):
        p = torch.from_numpy(d["p"]).requires_grad_(True)
        p.grad = torch.from_numpy(d["g"])
        cls = getattr(torch.optim, torch_class)
        try:                      # one fused kernel per parameter list (CPU since torch 2.4)
            opt, mode = cls([p], fused=True, **torch_kw), "fused"
            opt.step()
        except (RuntimeError, TypeError, ValueError):
            opt, mode = cls([p], foreach=True, **torch_kw), "foreach"
            opt.step()

        def step():
            opt.step()
        step.extra_info = {"torch_mode": mode}
        return step

    return Case("optim", name, "%dM float32" % (n // 1_000_000), inputs, run, torch_run,
                bytes=bytes_per * n, quick=quick)


# --------------------------------------------------------------------------- the table
CASES = tuple(
    [_matmul_case(*shape) for shape in (
        ("fwd 128x784@784x256", 128, 784, 256, False, False),
        ("fwd 128x256@256x128", 128, 256, 128, False, False),
        ("fwd 128x128@128x10", 128, 128, 10, False, False),
        ("dW 784x128@128x256 (x.T@dy)", 784, 128, 256, True, False),
        ("dx 128x256@256x784 (dy@W.T)", 128, 256, 784, False, True),
        ("square 256", 256, 256, 256, False, False),
        ("square 512", 512, 512, 512, False, False),
        ("square 1024", 1024, 1024, 1024, False, False),
        # compared against NumPy only: keeps the run short
        ("square 2048", 2048, 2048, 2048, False, False, False))]
    + [_matmul_bias_case("relu", 128, 784, 256, quick=True),
       _matmul_bias_case("relu", 128, 256, 128, quick=True),
       _matmul_bias_case(None, 128, 128, 10),
       _matmul_bias_case("tanh", 128, 784, 256),
       _matmul_bias_case("sigmoid", 128, 784, 256)]
    + _conv_cases("conv1 128x1x28x28 -> 32 3x3 pad1", 128, 1, 28, 28, 32, 3, 1, quick=True)
    + _conv_cases("conv2 128x32x14x14 -> 64 3x3 pad1", 128, 32, 14, 14, 64, 3, 1)
    + _maxpool_cases((128, 32, 28, 28), quick=True)
    + _activation_cases("128x256", (128, 256))
    + _activation_cases("128x32x28x28", (128, 32, 28, 28))
    + [_softmax_ce_case(128, 10), _softmax_ce_case(128, 256)]
    + [_optimizer_case(name, n, quick=(name == "Adam" and n == 1_000_000))
       for name in _OPTIMIZERS for n in (1_000_000, 10_000_000)]
    + [_take_rows_case(60_000, 784, 128), _sum_rows_case(128, 256),
       _sum_rows_case(128, 10)])


def suite(name):
    """The cases of one suite ('gemm', 'conv', 'pool', 'activations', 'optim' or 'rows')."""
    cases = [c for c in CASES if c.suite == name]
    if not cases:
        raise ValueError("unknown suite %r; expected one of %s"
                         % (name, sorted({c.suite for c in CASES})))
    return cases


def quick():
    """The cases ``fastnn bench`` times: one or two per kernel family, at the lab's shapes."""
    return [c for c in CASES if c.quick]
