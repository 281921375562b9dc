"""fastnn.optim: optimizer classes and LR schedulers, against an independent NumPy replay of
torch's formulas (always) and torch.optim itself (when torch is importable)."""
import inspect
import json
import math

import numpy as np
import pytest

import fastnn
from fastnn import optim, zoo
from fastnn.contracts import constraints
from fastnn.parameter import Parameter
from fnn_testutil import PACKAGE_PARENT

STEPS = 20
SHAPES = [(6, 5), (7,)]


def problem(seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    values = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads = [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(STEPS)]
    return values, grads


def run_fastnn(name, kw, values, grads, steps=None):
    params = [Parameter(v) for v in values]
    opt = getattr(optim, name)(params, **kw)
    for gs in grads[:steps]:
        for p, g in zip(params, gs):
            p.grad[...] = g
        opt.step()
    return [p.value for p in params], opt


# ------------------------------------------------------------------------------------------
# Independent replay of torch's documented algorithms, in float64 (textbook form, not the
# operation-by-operation order of the kernels), so it checks the maths, not the rounding.
# ------------------------------------------------------------------------------------------

def replay(name, kw, value, grads):
    h = dict(DEFAULTS[name], **kw)
    th = value.astype(np.float64)
    z = np.zeros_like(th)
    b, m, v, vmax, a, u, acc = None, z.copy(), z.copy(), z.copy(), z.copy(), z.copy(), z.copy()
    ssum = np.full_like(th, h.get("initial_accumulator_value", 0.0))
    mu_prod = 1.0
    for t, g in enumerate(grads, 1):
        g = g.astype(np.float64)
        if h.get("maximize"):
            g = -g
        wd = h.get("weight_decay", 0.0)
        decoupled = name == "AdamW" or h.get("decoupled_weight_decay", False)
        if wd and decoupled:
            th = th * (1 - h["lr"] * wd)
        elif wd:
            g = g + wd * th
        if name == "SGD":
            if h["momentum"]:
                b = g.copy() if b is None else h["momentum"] * b + (1 - h["dampening"]) * g
                g = g + h["momentum"] * b if h["nesterov"] else b
            th = th - h["lr"] * g
        elif name == "Adagrad":
            clr = h["lr"] / (1 + (t - 1) * h["lr_decay"])
            ssum = ssum + g * g
            th = th - clr * g / (np.sqrt(ssum) + h["eps"])
        elif name == "Adadelta":
            v = h["rho"] * v + (1 - h["rho"]) * g * g
            d = np.sqrt(acc + h["eps"]) / np.sqrt(v + h["eps"]) * g
            acc = h["rho"] * acc + (1 - h["rho"]) * d * d
            th = th - h["lr"] * d
        elif name == "RMSprop":
            al = h["alpha"]
            v = al * v + (1 - al) * g * g
            if h["centered"]:
                a = al * a + (1 - al) * g
                avg = np.sqrt(v - a * a) + h["eps"]
            else:
                avg = np.sqrt(v) + h["eps"]
            if h["momentum"] > 0:
                u = h["momentum"] * u + g / avg
                th = th - h["lr"] * u
            else:
                th = th - h["lr"] * g / avg
        elif name in ("Adam", "AdamW"):
            b1, b2 = h["betas"]
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            if h["amsgrad"]:
                vmax = np.maximum(vmax, v)
            vv = vmax if h["amsgrad"] else v
            m_hat = m / (1 - b1 ** t)
            th = th - h["lr"] * m_hat / (np.sqrt(vv) / math.sqrt(1 - b2 ** t) + h["eps"])
        elif name == "Adamax":
            b1, b2 = h["betas"]
            m = b1 * m + (1 - b1) * g
            u = np.maximum(b2 * u, np.abs(g) + h["eps"])
            th = th - h["lr"] / (1 - b1 ** t) * m / u
        elif name == "NAdam":
            b1, b2 = h["betas"]
            mu = b1 * (1 - 0.5 * 0.96 ** (t * h["momentum_decay"]))
            mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * h["momentum_decay"]))
            mu_prod = mu_prod * mu
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            denom = np.sqrt(v / (1 - b2 ** t)) + h["eps"]
            th = (th - h["lr"] * (1 - mu) / (1 - mu_prod) * g / denom
                  - h["lr"] * mu_next / (1 - mu_prod * mu_next) * m / denom)
    return th


# torch 2.x defaults, written out here independently of fastnn.optim.
DEFAULTS = {
    "SGD": dict(lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False),
    "Adagrad": dict(lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                    eps=1e-10),
    "Adadelta": dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0),
    "RMSprop": dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                    centered=False),
    "Adam": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False),
    "AdamW": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False),
    "Adamax": dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0),
    "NAdam": dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, momentum_decay=4e-3),
}

CASES = [
    ("SGD", dict()),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.5, maximize=True)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.01, initial_accumulator_value=0.1)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, weight_decay=0.05, maximize=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(centered=True)),
    ("RMSprop", dict(momentum=0.9, weight_decay=0.01)),
    ("RMSprop", dict(lr=1e-3, momentum=0.5, centered=True, alpha=0.9, maximize=True)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, maximize=True)),
    ("Adam", dict(lr=0.01, betas=(0.5, 0.9), weight_decay=0.1, decoupled_weight_decay=True)),
    ("AdamW", dict()),
    ("AdamW", dict(lr=0.01, weight_decay=0.3, amsgrad=True)),
    ("Adamax", dict()),
    ("Adamax", dict(lr=0.01, weight_decay=0.1, maximize=True)),
    ("NAdam", dict()),
    ("NAdam", dict(lr=0.01, weight_decay=0.1)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, momentum_decay=0.01)),
]
IDS = ["%s-%d" % (c[0], i) for i, c in enumerate(CASES)]
# float32 trajectories vs the exact float64 replay: a few float32 ulps of |theta| per step.
RTOL, ATOL = 2e-5, 2e-6


@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_trajectory_matches_numpy_replay_of_torch_formula(name, kw):
    values, grads = problem()
    got, _ = run_fastnn(name, kw, values, grads)
    for i, v in enumerate(values):
        want = replay(name, kw, v, [gs[i] for gs in grads])
        np.testing.assert_allclose(got[i], want, rtol=RTOL, atol=ATOL)
        # The run really moved the parameter (a no-op optimizer would pass the check above
        # only if the replay were also a no-op).
        assert not np.array_equal(got[i], v)


@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_trajectory_matches_torch(name, kw):
    torch = pytest.importorskip("torch")
    values, grads = problem()
    got, _ = run_fastnn(name, kw, values, grads)
    tparams = [torch.tensor(v, requires_grad=True) for v in values]
    topt = getattr(torch.optim, name)(tparams, foreach=False, **kw)
    for gs in grads:
        for p, g in zip(tparams, gs):
            p.grad = torch.tensor(g)
        topt.step()
    for mine, theirs in zip(got, tparams):
        np.testing.assert_allclose(mine, theirs.detach().numpy(), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_reference_backend_gives_the_same_trajectory(name, kw):
    values, grads = problem(seed=1)
    compiled, _ = run_fastnn(name, kw, values, grads)
    with fastnn.backend.use("reference"):
        ref, _ = run_fastnn(name, kw, values, grads)
    for a, b in zip(compiled, ref):
        # The twins are bit-identical by construction (see test_optim_kernels.py).
        np.testing.assert_array_equal(a, b)


def test_float64_parameters_follow_the_replay():
    values, grads = problem(seed=2, dtype=np.float64)
    got, _ = run_fastnn("Adam", dict(lr=0.01, amsgrad=True), values, grads)
    assert got[0].dtype == np.float64
    want = replay("Adam", dict(lr=0.01, amsgrad=True), values[0], [gs[0] for gs in grads])
    np.testing.assert_allclose(got[0], want, rtol=1e-12, atol=1e-14)


# ------------------------------------------------------------------------------------------
# state_dict
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_state_dict_round_trip_continues_bit_for_bit(name, kw):
    values, grads = problem(seed=3)
    full, _ = run_fastnn(name, kw, values, grads)
    half, opt = run_fastnn(name, kw, values, grads, steps=10)
    sd = opt.state_dict()
    # Hyper-parameters are JSON-able; state arrays are NumPy copies keyed by parameter index.
    groups = json.loads(json.dumps(sd["param_groups"]))
    sd = {"state": sd["state"], "param_groups": groups}
    assert set(sd["state"]) <= {0, 1}
    params = [Parameter(v) for v in half]
    opt2 = getattr(optim, name)(params, **kw)
    opt2.load_state_dict(sd)
    for gs in grads[10:]:
        for p, g in zip(params, gs):
            p.grad[...] = g
        opt2.step()
    for a, b in zip(full, params):
        np.testing.assert_array_equal(a, b.value)


def test_state_dict_is_a_snapshot_and_matches_torch_layout():
    values, grads = problem()
    _, opt = run_fastnn("Adam", dict(amsgrad=True), values, grads, steps=3)
    sd = opt.state_dict()
    assert sorted(sd["state"][0]) == ["exp_avg", "exp_avg_sq", "max_exp_avg_sq", "step"]
    assert sd["state"][0]["step"] == 3
    assert sd["param_groups"][0]["params"] == [0, 1]
    assert sd["param_groups"][0]["betas"] == [0.9, 0.999]
    before = sd["state"][0]["exp_avg"].copy()
    opt.step()
    np.testing.assert_array_equal(sd["state"][0]["exp_avg"], before)


def test_load_state_dict_rejects_mismatches():
    values, grads = problem()
    _, opt = run_fastnn("Adam", {}, values, grads, steps=2)
    sd = opt.state_dict()
    other = optim.Adam([Parameter(np.zeros((3, 3), np.float32)), Parameter(values[1])])
    with pytest.raises(ValueError, match=r"state\[0\]\['exp_avg'\] has shape \(6, 5\)"):
        other.load_state_dict(sd)
    other = optim.Adam([Parameter(values[0].astype(np.float64)), Parameter(values[1])])
    with pytest.raises(ValueError, match="dtype float32, parameter .* has float64"):
        other.load_state_dict(sd)
    with pytest.raises(ValueError, match="doesn't match the size"):
        optim.Adam([Parameter(values[0])]).load_state_dict(sd)
    ams = optim.Adam([Parameter(v) for v in values], amsgrad=True)
    sd_ams = dict(sd, param_groups=[dict(sd["param_groups"][0], amsgrad=True)])
    with pytest.raises(ValueError, match="missing 'max_exp_avg_sq'"):
        ams.load_state_dict(sd_ams)
    bad = dict(sd, param_groups=[dict(sd["param_groups"][0], lr=-1)])
    fresh = optim.Adam([Parameter(v) for v in values], lr=0.5)
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        fresh.load_state_dict(bad)
    assert fresh.param_groups[0]["lr"] == 0.5 and not fresh.state   # failed load changes nothing


# ------------------------------------------------------------------------------------------
# Groups, zero_grad, constructor errors, get()
# ------------------------------------------------------------------------------------------

def test_param_groups_with_different_lr_equal_separate_optimizers():
    values, grads = problem()
    params = [Parameter(v) for v in values]
    opt = optim.SGD([{"params": [params[0]]}, {"params": [params[1]], "lr": 0.5}], lr=0.1,
                    momentum=0.9)
    assert opt.param_groups[1]["momentum"] == 0.9 and opt.param_groups[0]["lr"] == 0.1
    for gs in grads:
        for p, g in zip(params, gs):
            p.grad[...] = g
        opt.step()
    a, _ = run_fastnn("SGD", dict(lr=0.1, momentum=0.9), values[:1], [gs[:1] for gs in grads])
    b, _ = run_fastnn("SGD", dict(lr=0.5, momentum=0.9), values[1:], [gs[1:] for gs in grads])
    np.testing.assert_array_equal(params[0].value, a[0])
    np.testing.assert_array_equal(params[1].value, b[0])


def test_zero_grad_and_closure():
    p = Parameter(np.ones(3, np.float32))
    p.grad[...] = 5
    opt = optim.SGD([p], lr=0.1)
    grad_array = p.grad
    opt.zero_grad()
    assert p.grad is grad_array and not p.grad.any()
    assert opt.step(lambda: 1.25) == 1.25


@pytest.mark.parametrize("cls,kw,match", [
    ("SGD", dict(lr=-1), "Invalid learning rate: -1"),
    ("SGD", dict(momentum=-0.5), "Invalid momentum value: -0.5"),
    ("SGD", dict(weight_decay=-1e-4), "Invalid weight_decay value"),
    ("SGD", dict(nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
    ("SGD", dict(nesterov=True, momentum=0.9, dampening=0.1), "Nesterov momentum requires"),
    ("Adam", dict(betas=(1.0, 0.999)), "Invalid beta parameter at index 0: 1.0"),
    ("Adam", dict(betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    ("Adam", dict(eps=-1e-8), "Invalid epsilon value"),
    ("Adam", dict(lr=float("nan")), "Invalid learning rate: nan"),
    ("Adagrad", dict(lr_decay=-1), "Invalid lr_decay value: -1"),
    ("Adagrad", dict(initial_accumulator_value=-1), "Invalid initial_accumulator_value"),
    ("Adadelta", dict(rho=1.5), "Invalid rho value: 1.5"),
    ("RMSprop", dict(alpha=-0.1), "Invalid alpha value: -0.1"),
    ("NAdam", dict(momentum_decay=-1), "Invalid momentum_decay value: -1"),
    ("Adamax", dict(betas=(0.9,)), "Invalid betas"),
])
def test_constructor_rejects_bad_hyperparameters(cls, kw, match):
    with pytest.raises(ValueError, match=match):
        getattr(optim, cls)([Parameter(np.zeros(2))], **kw)


def test_constructor_rejects_bad_params():
    p = Parameter(np.zeros(2))
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])
    with pytest.raises(TypeError, match="should be an iterable"):
        optim.Adam(p)
    with pytest.raises(TypeError, match="fastnn.Parameter"):
        optim.Adam([np.zeros(2)])
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.Adam([{"params": [p]}, {"params": [p]}])
    with pytest.raises(ValueError, match="unknown hyper-parameter"):
        optim.Adam([{"params": [p], "momentum": 0.9}])


def test_defaults_are_torchs():
    p = [Parameter(np.zeros(2))]
    for name, want in DEFAULTS.items():
        group = getattr(optim, name)(p).param_groups[0]
        for k, v in want.items():
            assert group[k] == v, (name, k)


@pytest.mark.parametrize("name,cls,extra", [
    ("sgd", optim.SGD, {}), ("momentum", optim.SGD, {"momentum": 0.9}),
    ("Nesterov", optim.SGD, {"nesterov": True}), ("adagrad", optim.Adagrad, {}),
    ("adadelta", optim.Adadelta, {}), ("rmsprop", optim.RMSprop, {}), ("adam", optim.Adam, {}),
    ("amsgrad", optim.Adam, {"amsgrad": True}), ("adamw", optim.AdamW, {}),
    ("adamax", optim.Adamax, {}), ("nadam", optim.NAdam, {}),
])
def test_get_resolves_names(name, cls, extra):
    opt = optim.get(name, [Parameter(np.zeros(2))], lr=0.3)
    assert type(opt) is cls and opt.param_groups[0]["lr"] == 0.3
    for k, v in extra.items():
        assert opt.param_groups[0][k] == v
    assert optim.get(opt, None) is opt


def test_get_rejects_unknown_name():
    with pytest.raises(ValueError, match="unknown optimizer 'adamm'"):
        optim.get("adamm", [Parameter(np.zeros(2))])


# ------------------------------------------------------------------------------------------
# LR schedulers
# ------------------------------------------------------------------------------------------

SCHEDS = [
    ("StepLR", dict(step_size=3, gamma=0.5),
     lambda b, e: b * 0.5 ** (e // 3)),
    ("ExponentialLR", dict(gamma=0.9), lambda b, e: b * 0.9 ** e),
    ("CosineAnnealingLR", dict(T_max=10, eta_min=0.001),
     lambda b, e: 0.001 + (b - 0.001) * (1 + math.cos(math.pi * e / 10)) / 2),
]


def _sched_lrs(name, kw, epochs=25):
    opt = optim.SGD([{"params": [Parameter(np.zeros(2))]},
                     {"params": [Parameter(np.zeros(2))], "lr": 0.01}], lr=0.1)
    sched = getattr(optim, name)(opt, **kw)
    out = [sched.get_last_lr()]
    for _ in range(epochs):
        opt.step()
        sched.step()
        out.append(sched.get_last_lr())
        assert [g["lr"] for g in opt.param_groups] == out[-1]
    return out, sched


@pytest.mark.parametrize("name,kw,closed", SCHEDS, ids=[s[0] for s in SCHEDS])
def test_scheduler_matches_closed_form(name, kw, closed):
    lrs, _ = _sched_lrs(name, kw)
    for e, pair in enumerate(lrs):
        np.testing.assert_allclose(pair, [closed(0.1, e), closed(0.01, e)], rtol=1e-12,
                                   atol=1e-15)


@pytest.mark.parametrize("name,kw,closed", SCHEDS, ids=[s[0] for s in SCHEDS])
def test_scheduler_matches_torch(name, kw, closed):
    torch = pytest.importorskip("torch")
    lrs, _ = _sched_lrs(name, kw)
    opt = torch.optim.SGD([{"params": [torch.zeros(2, requires_grad=True)]},
                           {"params": [torch.zeros(2, requires_grad=True)], "lr": 0.01}], lr=0.1)
    sched = getattr(torch.optim.lr_scheduler, name)(opt, **kw)
    want = [sched.get_last_lr()]
    for _ in range(25):
        opt.step()
        sched.step()
        want.append(sched.get_last_lr())
    assert lrs == want   # same recursive formulas -> identical doubles


def test_scheduler_state_dict_round_trip():
    lrs, sched = _sched_lrs("CosineAnnealingLR", dict(T_max=7), epochs=5)
    sd = json.loads(json.dumps(sched.state_dict()))
    opt2 = optim.SGD([Parameter(np.zeros(2)), Parameter(np.zeros(2))], lr=0.1)
    opt2.param_groups[0]["lr"] = lrs[-1][0]
    sched2 = optim.CosineAnnealingLR(opt2, T_max=7)
    sched2.load_state_dict(sd)
    assert sched2.last_epoch == sched.last_epoch and sched2.get_last_lr() == sched.get_last_lr()
    sched.step()
    sched2.step()
    assert sched2.get_last_lr()[0] == sched.get_last_lr()[0]


def test_scheduler_rejects_bad_arguments():
    opt = optim.SGD([Parameter(np.zeros(2))], lr=0.1)
    with pytest.raises(ValueError, match="step_size must be a positive int"):
        optim.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="T_max must be a positive int"):
        optim.CosineAnnealingLR(opt, T_max=2.5)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        optim.ExponentialLR(object(), gamma=0.9)


# ------------------------------------------------------------------------------------------
# foreach: the per-parameter loop and the multi-tensor path, side by side
# ------------------------------------------------------------------------------------------

def _trajectory(name, kw, values, grads):
    got, opt = run_fastnn(name, kw, values, grads)
    states = [{k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in opt.state[p].items()}
              for g in opt.param_groups for p in g["params"]]
    return got, states


def _assert_same_trajectory(a, b):
    for x, y in zip(a[0], b[0]):
        np.testing.assert_array_equal(x, y)
    for sa, sb in zip(a[1], b[1]):
        assert sorted(sa) == sorted(sb)
        for k in sa:
            np.testing.assert_array_equal(sa[k], sb[k], err_msg=k)


@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_foreach_and_per_parameter_paths_give_the_same_bits(name, kw):
    values, grads = problem(seed=4)
    want = _trajectory(name, dict(kw, foreach=False), values, grads)
    _assert_same_trajectory(_trajectory(name, dict(kw, foreach=True), values, grads), want)
    _assert_same_trajectory(_trajectory(name, kw, values, grads), want)     # default: multi
    with fastnn.backend.use("reference"):
        for foreach in (None, True, False):
            _assert_same_trajectory(_trajectory(name, dict(kw, foreach=foreach), values, grads),
                                    want)


def _count_calls(monkeypatch, module, names):
    calls = []
    for n in names:
        f = getattr(module, n)
        monkeypatch.setattr(module, n, lambda *a, _f=f, _n=n, **k: calls.append(_n) or _f(*a, **k))
    return calls


def test_default_is_one_multi_tensor_call_per_group_compiled_and_a_loop_on_the_twins(monkeypatch):
    values, grads = problem()
    names = ["adam_update", "adam_update_multi", "UpdateTable"]
    compiled = _count_calls(monkeypatch, fastnn.kernels, names)
    reference = _count_calls(monkeypatch, fastnn.reference, names)
    params = [Parameter(v) for v in values]
    for p, g in zip(params, grads[0]):
        p.grad[...] = g
    opt = optim.Adam([{"params": params[:1]}, {"params": params[1:], "lr": 0.1}])
    opt.step()
    # one multi-tensor table per group, built at the first step (the state arrays are new) ...
    assert compiled == ["UpdateTable"] * 2 and reference == []
    before = [p.value.copy() for p in params]
    opt.step()
    # ... and reused: the step is one table update per group, nothing else
    assert compiled == ["UpdateTable"] * 2
    assert all(not np.array_equal(b, p.value) for b, p in zip(before, params))
    with fastnn.backend.use("reference"):
        opt.step()
    assert reference == ["adam_update"] * 2
    compiled.clear()
    opt.param_groups[0]["foreach"] = False
    opt.step()
    assert compiled == ["adam_update"]


def test_foreach_splits_a_group_by_dtype():
    rng = np.random.default_rng(5)
    values = [rng.standard_normal(7).astype(np.float32), rng.standard_normal(4),
              rng.standard_normal(3).astype(np.float32)]
    grads = [[rng.standard_normal(v.shape).astype(v.dtype) for v in values] for _ in range(3)]
    a, _ = run_fastnn("Adam", dict(foreach=True, amsgrad=True), values, grads)
    b, _ = run_fastnn("Adam", dict(foreach=False, amsgrad=True), values, grads)
    for x, y in zip(a, b):
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)


def test_foreach_is_checked_saved_and_optional_in_old_checkpoints():
    p = [Parameter(np.zeros(2, np.float32))]
    with pytest.raises(TypeError, match="foreach must be None or a bool"):
        optim.SGD(p, foreach=1)
    opt = optim.Adam(p, foreach=False)
    p[0].grad[...] = 1.0
    opt.step()
    sd = opt.state_dict()
    assert sd["param_groups"][0]["foreach"] is False
    old = dict(sd, param_groups=[{k: v for k, v in sd["param_groups"][0].items()
                                  if k != "foreach"}])
    fresh = optim.Adam([Parameter(np.zeros(2, np.float32))], foreach=True)
    fresh.load_state_dict(old)
    assert fresh.param_groups[0]["foreach"] is True and fresh.state


def test_a_subclass_with_only_the_per_parameter_hook_still_steps():
    class PlainSGD(optim.Optimizer):
        _parameter_constraints = {"lr": "real >= 0"}

        def __init__(self, params, lr=0.1):
            super().__init__(params, dict(lr=lr))

        def _update(self, kernels, p, group, state):
            kernels.sgd_update(p.value, p.grad, None, group["lr"])

    p = Parameter(np.ones(3, np.float32))
    p.grad[...] = 1.0
    PlainSGD([p], lr=0.5).step()
    np.testing.assert_array_equal(p.value, np.full(3, 0.5, np.float32))
    with pytest.raises(ValueError, match="Invalid learning rate: -2"):
        PlainSGD([p], lr=-2)


# ------------------------------------------------------------------------------------------
# The constraints tables drive the classes' checks
# ------------------------------------------------------------------------------------------

CLASSES = ["SGD", "Adagrad", "Adadelta", "RMSprop", "Adam", "AdamW", "Adamax", "NAdam"]


def _outside(constraint):
    """A value each constraint rejects, and the exception the class raises for it."""
    c = constraints.parse(constraint)
    if c.kind == "bool":
        return 1, TypeError
    bad = (c.high + 0.5) if c.high is not None else (c.low - 1 if c.low is not None else None)
    if c.pair:
        return (0.5, bad), ValueError
    return bad, ValueError


@pytest.mark.parametrize("name", CLASSES)
def test_each_class_checks_exactly_its_constraints_table(name):
    cls = getattr(optim, name)
    table = cls._parameter_constraints
    opt = cls([Parameter(np.zeros(2))])
    assert set(opt.defaults) == set(table) | {"foreach"}
    for key, constraint in table.items():
        value, exc = _outside(constraint)
        if value is None:                          # "real": any finite value; NaN is refused
            value = float("nan")
        if key in inspect.signature(cls).parameters:      # (AdamW fixes decoupled_weight_decay)
            with pytest.raises(exc, match="Invalid|must be a bool"):
                cls([Parameter(np.zeros(2))], **{key: value})
        group = dict(opt.param_groups[0], params=[Parameter(np.zeros(2))], **{key: value})
        with pytest.raises(exc):
            cls([Parameter(np.zeros(2))]).add_param_group(group)


def test_names_lists_every_preset_sorted():
    assert optim.names() == sorted(["sgd", "momentum", "nesterov", "adagrad", "adadelta",
                                    "rmsprop", "adam", "amsgrad", "adamw", "adamax", "nadam"])
    for n in optim.names():
        assert isinstance(optim.get(n, [Parameter(np.zeros(2))]), optim.Optimizer)


def test_schedulers_live_in_their_own_module():
    from fastnn.optim import lr_scheduler
    for name in ("LRScheduler", "StepLR", "ExponentialLR", "CosineAnnealingLR"):
        assert getattr(optim, name) is getattr(lr_scheduler, name)
    assert optim.StepLR.__module__ == "fastnn.optim.lr_scheduler"


# ------------------------------------------------------------------------------------------
# Optimizers a student writes: the public hook update(param, grad, state, group), any object
# with step() and zero_grad() in fit, schedulers in fit, the textbook forms
# ------------------------------------------------------------------------------------------

class HookMomentum(optim.Optimizer):
    """Momentum SGD written with the public hook, as in examples/my_momentum.py."""

    def __init__(self, params, lr=0.01, momentum=0.9):
        super().__init__(params, dict(lr=lr, momentum=momentum))

    def update(self, param, grad, state, group):
        v = state.setdefault("v", np.zeros_like(param))
        v *= group["momentum"]
        v += grad
        param -= group["lr"] * v


class DuckMomentum:
    """Not an Optimizer at all: step() and zero_grad() are all fit needs."""

    def __init__(self, params, lr=0.01, momentum=0.9):
        self.params, self.lr, self.momentum = list(params), lr, momentum
        self.v = [np.zeros_like(p.value) for p in self.params]

    def zero_grad(self):
        for p in self.params:
            p.grad[...] = 0

    def step(self):
        for p, v in zip(self.params, self.v):
            v *= self.momentum
            v += p.grad
            p.value -= self.lr * v


def _mlp_problem():
    rng = np.random.default_rng(4)
    x = rng.random((96, 10)).astype(np.float32)
    y = rng.integers(0, 3, 96)
    return x, y


def _mlp():
    return zoo.mlp(hidden=(12,), input_dim=10, num_classes=3, dropout=0.2, seed=1)


@pytest.mark.parametrize("cls", [HookMomentum, DuckMomentum])
def test_own_momentum_trains_exactly_as_optim_sgd(cls):
    x, y = _mlp_problem()
    mine, ref = _mlp(), _mlp()
    h1 = mine.fit(x, y, epochs=3, batch_size=16, seed=0, verbose=0,
                  optimizer=cls(mine.parameters(), lr=0.05, momentum=0.8))
    h2 = ref.fit(x, y, epochs=3, batch_size=16, seed=0, verbose=0,
                 optimizer=optim.SGD(ref.parameters(), lr=0.05, momentum=0.8))
    assert h1.batch_losses == h2.batch_losses
    for a, b in zip(mine.get_weights(), ref.get_weights()):
        np.testing.assert_array_equal(a, b)
    # the history's lr column: the group's lr, or the object's lr attribute
    assert h1["lr"] == [0.05] * 3


def test_hook_state_is_saved_and_restored_by_state_dict():
    values, grads = problem(seed=2)
    params = [Parameter(v) for v in values]
    opt = HookMomentum(params, lr=0.1)
    for gs in grads[:5]:
        for p, g in zip(params, gs):
            p.grad[...] = g
        opt.step()
    sd = json.loads(json.dumps({"state": {k: {n: a.tolist() for n, a in v.items()}
                                          for k, v in opt.state_dict()["state"].items()},
                                "param_groups": opt.state_dict()["param_groups"]}))
    clone = HookMomentum([Parameter(p.value) for p in params])
    clone.load_state_dict(sd)
    for (p, q) in zip(params, [q for g in clone.param_groups for q in g["params"]]):
        np.testing.assert_array_equal(opt.state[p]["v"], clone.state[q]["v"])
    with pytest.raises(ValueError, match="must be a number or an array"):
        clone.load_state_dict({"state": {0: {"v": [1.0, 2.0]}},
                               "param_groups": sd["param_groups"]})


@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_default_update_is_the_fused_kernel_of_step(name, kw):
    values, grads = problem(seed=3)
    by_step = [Parameter(v) for v in values]
    by_hook = [Parameter(v) for v in values]
    a = getattr(optim, name)(by_step, **kw)
    b = getattr(optim, name)(by_hook, **kw)
    for gs in grads[:6]:
        for p, q, g in zip(by_step, by_hook, gs):
            p.grad[...] = g
            q.grad[...] = g
        a.step()
        for q in by_hook:
            b.update(q.value, q.grad, b.state.setdefault(q, {}), b.param_groups[0])
    for p, q in zip(by_step, by_hook):
        np.testing.assert_array_equal(p.value, q.value)


def test_an_optimizer_without_an_algorithm_says_what_to_write():
    class Empty(optim.Optimizer):
        def __init__(self, params):
            super().__init__(params, dict(lr=0.1))
    p = Parameter(np.ones(2, np.float32))
    with pytest.raises(NotImplementedError, match=r"override update\(param, grad, state, group"):
        Empty([p]).step()


def test_fit_refuses_objects_that_are_not_optimizers():
    x, y = _mlp_problem()
    m = _mlp()

    class OnlyStep:
        def step(self):
            pass
    with pytest.raises(TypeError, match="step\\(\\) and zero_grad\\(\\)"):
        m.fit(x, y, epochs=1, optimizer=OnlyStep(), verbose=0)


def test_checkpoint_of_a_custom_optimizer_keeps_weights_and_says_state_is_lost(tmp_path):
    x, y = _mlp_problem()
    m = _mlp()
    m.fit(x, y, epochs=2, batch_size=16, seed=0, verbose=0,
          optimizer=HookMomentum(m.parameters(), lr=0.05))
    path = str(tmp_path / "ck.npz")
    with pytest.warns(UserWarning, match="custom optimizer \\(HookMomentum\\).*not the "
                                         "optimizer's state"):
        m.save(path)
    with pytest.warns(UserWarning, match="custom optimizer 'HookMomentum'.*pass optimizer="):
        back = fastnn.load_model(path)
    assert back.optimizer is None and back.epochs_completed == 2
    for a, b in zip(m.get_weights(), back.get_weights()):
        np.testing.assert_array_equal(a, b)
    back.fit(x, y, epochs=3, initial_epoch=2, batch_size=16, verbose=0,
             optimizer=HookMomentum(back.parameters(), lr=0.05))
    with pytest.warns(UserWarning, match="DuckMomentum"):
        m.fit(x, y, epochs=1, verbose=0, optimizer=DuckMomentum(m.parameters()))
        m.save(path)


def _lr_per_epoch(make_scheduler, epochs=5):
    x, y = _mlp_problem()
    m = _mlp()
    opt = optim.SGD(m.parameters(), lr=0.1)
    hist = m.fit(x, y, epochs=epochs, batch_size=32, seed=0, verbose=0, optimizer=opt,
                 scheduler=make_scheduler(opt))
    return hist, m


@pytest.mark.parametrize("make, closed", [
    (lambda o: optim.StepLR(o, step_size=2, gamma=0.5), lambda e: 0.1 * 0.5 ** (e // 2)),
    (lambda o: optim.ExponentialLR(o, gamma=0.7), lambda e: 0.1 * 0.7 ** e),
    (lambda o: optim.CosineAnnealingLR(o, T_max=4, eta_min=0.01),
     lambda e: 0.01 + 0.09 * (1 + math.cos(math.pi * e / 4)) / 2),
])
def test_fit_steps_the_scheduler_once_per_epoch(make, closed):
    hist, m = _lr_per_epoch(make)
    np.testing.assert_allclose(hist["lr"], [closed(e) for e in range(5)], rtol=1e-12)
    # the same as a hand-written loop: one epoch, one scheduler.step()
    x, y = _mlp_problem()
    ref = _mlp()
    opt = optim.SGD(ref.parameters(), lr=0.1)
    sched = make(opt)
    for e in range(5):
        ref.fit(x, y, epochs=e + 1, initial_epoch=e, batch_size=32, seed=0, verbose=0,
                optimizer=opt)
        sched.step()
    for a, b in zip(m.get_weights(), ref.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_fit_checks_the_scheduler():
    x, y = _mlp_problem()
    m = _mlp()
    opt = optim.SGD(m.parameters(), lr=0.1)
    other = optim.SGD(_mlp().parameters(), lr=0.1)
    with pytest.raises(ValueError, match="another optimizer"):
        m.fit(x, y, epochs=1, optimizer=opt, scheduler=optim.StepLR(other, 1), verbose=0)
    with pytest.raises(TypeError, match="scheduler must be None or a learning-rate scheduler"):
        m.fit(x, y, epochs=1, optimizer=opt, scheduler=0.5, verbose=0)


def _quadratic(seed=0, n=6):
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((n, n))
    a = q @ q.T / n + 0.1 * np.eye(n)          # positive definite
    b = rng.standard_normal(n)
    return (lambda theta: a @ theta - b), rng.standard_normal(n)


def test_nesterov_look_ahead_form_is_torchs_algorithm():
    # docs/optimizers.md: the handout keeps theta and evaluates the gradient at the look-ahead
    # point theta - gamma v;  torch (and fastnn) keep phi = theta - gamma v itself, with the
    # buffer b = v / lr.  Same algorithm: phi_t = theta_t - gamma v_t at every step.
    grad, start = _quadratic()
    lr, gamma = 0.05, 0.9
    theta, v = start.copy(), np.zeros_like(start)
    p = Parameter(start.copy())                 # float64
    opt = optim.SGD([p], lr=lr, momentum=gamma, nesterov=True)
    for _ in range(60):
        v = gamma * v + lr * grad(theta - gamma * v)      # the handout's two lines
        theta = theta - v
        p.grad[...] = grad(p.value)                       # torch: the gradient at phi
        opt.step()
        np.testing.assert_allclose(p.value, theta - gamma * v, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(opt.state[p]["momentum_buffer"], v / lr, rtol=1e-11,
                                   atol=1e-13)


def test_textbook_momentum_is_torchs_with_v_equal_minus_lr_b():
    # v = mu v - lr g; theta = theta + v  (Polyak / Sutskever)  ==  torch's b = mu b + g;
    # theta = theta - lr b, with v = -lr b, for a constant lr and dampening 0.
    grad, start = _quadratic(seed=1)
    lr, mu = 0.05, 0.9
    theta, v = start.copy(), np.zeros_like(start)
    p = Parameter(start.copy())
    opt = optim.SGD([p], lr=lr, momentum=mu)
    for _ in range(40):
        v = mu * v - lr * grad(theta)
        theta = theta + v
        p.grad[...] = grad(p.value)
        opt.step()
        np.testing.assert_allclose(p.value, theta, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(-lr * opt.state[p]["momentum_buffer"], v, rtol=1e-11,
                                   atol=1e-13)


def test_my_momentum_example_runs():
    import os
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=PACKAGE_PARENT)
    out = subprocess.run([sys.executable, os.path.join(root, "examples", "my_momentum.py")],
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "identical weights after 3 epochs: True" in out.stdout
