"""The lean, checked training step: ``UpdateTable`` (the multi-tensor call's table of tensors,
checked once and reused), the optimizers' reuse and rebuilding of it, ``checked_step``'s
snapshot and rollback, and what ``fit`` does on divergence (issue 11: ModelCheckpoint saving
diverged weights, a NaN gradient poisoning Adam, the weights left when fit raises)."""
import copy

import numpy as np
import pytest

import fastnn
from fastnn import backend, callbacks, kernels, layers as L, losses, optim, reference, zoo
from fastnn.errors import TrainingDivergedError
from fastnn.models import Sequential, load_model
from fastnn.parameter import Parameter

from fnn_testutil import simd

IMPLS = {"compiled": kernels, "twin": reference}
SHAPES = [(5, 3), (3,), (17,), (1,), (40, 41)]


def tensors(rng, dtype=np.float32, shapes=SHAPES):
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


# rule -> (the multi-tensor kernel's arguments after its arrays for step t, the state slots used)
def _arguments(rule, t, n):
    steps = [t] * n
    return {
        "sgd": (dict(lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.01, nesterov=True,
                     maximize=False, first_steps=[t == 1] * n), (0,)),
        "adagrad": (dict(steps=steps, lr=0.1, lr_decay=0.01, weight_decay=0.0, eps=1e-10,
                         maximize=False), (0,)),
        "adadelta": (dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=True), (0, 1)),
        "rmsprop": (dict(lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.5,
                         centered=True, maximize=False), (0, 1, 2)),
        "adam": (dict(steps=steps, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.1,
                      amsgrad=True, maximize=False, decoupled_weight_decay=True), (0, 1, 2)),
        "adamax": (dict(steps=steps, lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8,
                        weight_decay=0.0, maximize=False), (0, 1)),
        "nadam": (dict(steps=steps, mu_products=[1.0 if t == 1 else 0.9] * n, lr=2e-3,
                       beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
                       momentum_decay=4e-3, decoupled_weight_decay=False, maximize=False),
                  (0, 1)),
    }[rule]


RULES = ["sgd", "adagrad", "adadelta", "rmsprop", "adam", "adamax", "nadam"]
SLOTS = {"sgd": 1, "adagrad": 1, "adadelta": 2, "rmsprop": 3, "adam": 3, "adamax": 2,
         "nadam": 2}


def _problem(rule, rng, dtype=np.float32):
    params, grads = tensors(rng, dtype), tensors(rng, dtype)
    _, used = _arguments(rule, 1, len(params))
    # non-negative states, RMSprop's square_avg (slot 0) above its grad_avg (slot 1) squared
    scale, shift = (1.0, 0.1, 1.0), (1.0, 0.0, 0.0)
    states = [[(np.abs(a) * scale[i] + shift[i]).astype(dtype) for a in tensors(rng, dtype)]
              if i in used else None for i in range(SLOTS[rule])]
    return params, grads, states


# --------------------------------------------------------------------------- UpdateTable
@pytest.mark.parametrize("checked", [False, True])
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("rule", RULES)
def test_update_table_gives_the_multi_tensor_kernels_bits(rule, impl, checked, rng):
    module = IMPLS[impl]
    params, grads, states = _problem(rule, rng)
    want = copy.deepcopy((params, states))
    table = module.UpdateTable(rule, params, grads, states, checked=checked)
    assert table.holds(params, grads, states)
    for t in (1, 2, 3):
        arguments, _ = _arguments(rule, t, len(params))
        got = table.update(**arguments)
        expect = getattr(module, rule + "_update_multi")(want[0], grads, *want[1], **arguments)
        assert got == expect                          # NAdam's mu_products, else None
        assert table.flags == 0
        for a, b in zip(params + [x for s in states if s for x in s],
                        want[0] + [x for s in want[1] if s for x in s]):
            assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("impl", IMPLS)
def test_update_table_checks_its_arrays_once_and_its_scalars_at_every_update(impl, rng):
    module = IMPLS[impl]
    params, grads, states = _problem("adam", rng)
    with pytest.raises(ValueError, match="rule"):
        module.UpdateTable("adamw", params, grads, states)
    with pytest.raises(ValueError, match="states"):
        module.UpdateTable("adam", params, grads, states[:2])
    bad = list(grads)
    bad[1] = bad[1].astype(np.float64)
    with pytest.raises(TypeError, match=r"grads\[1\]"):
        module.UpdateTable("adam", params, bad, states)
    with pytest.raises(ValueError, match="overlap"):
        module.UpdateTable("adam", params, grads, [states[0], states[0], states[2]])
    ro = [p.copy() for p in params]
    ro[0].flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        module.UpdateTable("adam", ro, grads, states)
    table = module.UpdateTable("adam", params, grads, states)
    arguments, _ = _arguments("adam", 1, len(params))
    with pytest.raises(ValueError, match="lr"):
        table.update(**dict(arguments, lr=-1.0))
    with pytest.raises(ValueError, match=r"steps\[0\]"):
        table.update(**dict(arguments, steps=[0] * len(params)))
    with pytest.raises(TypeError):
        table.update(lr=1e-3)                               # every argument, by name
    # the flags must use exactly the states the table holds
    with pytest.raises(ValueError, match="max_exp_avg_sqs"):
        table.update(**dict(arguments, amsgrad=False))
    assert not table.holds(params, grads, [states[0], states[1], None])
    assert not table.holds([p.copy() for p in params], grads, states)
    with pytest.raises(RuntimeError, match="checked"):
        table.restore()


@pytest.mark.parametrize("impl", IMPLS)
def test_update_table_checks_a_value_again_once_it_changes(impl, rng):
    # the contract keeps the last values it checked and skips values that ARE those objects;
    # an update that passes a new object -- equal or not -- is checked again
    module = IMPLS[impl]
    params, grads, states = _problem("adam", rng)
    table = module.UpdateTable("adam", params, grads, states)
    arguments, _ = _arguments("adam", 1, len(params))
    table.update(**arguments)
    for name, bad, exc in [("lr", -1.0, ValueError), ("lr", float("nan"), ValueError),
                           ("eps", float("inf"), ValueError), ("beta1", 1.0, ValueError),
                           ("amsgrad", 1, TypeError), ("maximize", 0, TypeError),
                           ("weight_decay", True, TypeError)]:
        with pytest.raises(exc, match=name):
            table.update(**dict(arguments, **{name: bad}))
        table.update(**arguments)                 # the checked values pass again
    # 1 == True and 0.0 == -0.0, but they are different arguments: a check remembered by value
    # would let the int through, and hand back +0.0 for -0.0
    from fastnn.contracts import optim as contract
    held = (0, 1, 2)
    ss = contract.update_scalars("adam", 2, held, **dict(arguments, steps=[1, 1],
                                                          weight_decay=0.0))
    assert np.copysign(1.0, ss[0].weight_decay) == 1.0
    ss = contract.update_scalars("adam", 2, held, **dict(arguments, steps=[1, 1],
                                                          weight_decay=-0.0))
    assert np.copysign(1.0, ss[0].weight_decay) == -1.0
    with pytest.raises(TypeError, match="amsgrad"):
        contract.update_scalars("adam", 2, held, **dict(arguments, steps=[1, 1], amsgrad=1))


def test_a_group_value_set_between_steps_is_checked_at_the_next_step(rng):
    p = Parameter(rng.standard_normal((4, 3)).astype(np.float32))
    p.grad[...] = 1.0
    opt = optim.Adam([p], lr=1e-3)
    opt.step()
    opt.param_groups[0]["lr"] = -1.0
    with pytest.raises(ValueError, match="lr"):
        opt.step()
    opt.param_groups[0]["lr"] = 1e-3
    opt.step()
    assert np.isfinite(p.value).all()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_checked_update_reports_non_finite_values_and_restores_exactly(impl, dtype, rng):
    module = IMPLS[impl]
    # lr 1e308: the step size lr / (1 - beta1) overflows to inf, in float32 and float64
    for poison, lr, want in [("grad", 1e-3, {"GRAD", "PARAM", "STATE"}),
                             ("lr", 1e308, {"PARAM"}), ("none", 1e-3, set())]:
        params, grads, states = _problem("adam", rng, dtype)
        if poison == "grad":
            grads[4][20, 3] = np.nan
        before = [a.copy() for a in params + [x for s in states if s for x in s]]
        flags = []
        for threads in (1, 2, 3):
            with fastnn.threads(threads):
                table = module.UpdateTable("adam", params, grads, states, checked=True)
                arguments, _ = _arguments("adam", 1, len(params))
                arguments["lr"], arguments["weight_decay"] = lr, 0.0
                table.update(**arguments)
                flags.append(table.flags)
                table.restore()
                after = params + [x for s in states if s for x in s]
                assert all(a.tobytes() == b.tobytes() for a, b in zip(after, before))
        assert flags[0] == flags[1] == flags[2]
        got = {name for name in ("GRAD", "PARAM", "STATE")
               if flags[0] & getattr(module.UpdateTable, "NONFINITE_" + name)}
        assert got == want, poison


@pytest.mark.filterwarnings("ignore::RuntimeWarning")     # the twin's arithmetic on inf, NaN
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_checked_update_scan_tells_the_largest_finite_value_from_inf_and_nan(impl, dtype):
    """The scan after a checked update tests exponent bits (fnn_optim.h, any_nonfinite): the
    largest finite value and subnormals are finite, inf and NaN of either sign are not, wherever
    they lie: in a vector's lanes, a 512-element block's end, or the scalar tail after it."""
    module = IMPLS[impl]
    info = np.finfo(dtype)
    n = 531                                      # a block of 512 and a tail of 19
    arguments, _ = _arguments("adam", 1, 1)
    arguments["lr"], arguments["weight_decay"], arguments["amsgrad"] = 1e-30, 0.0, False

    def flags(grad):
        params = [np.full(n, info.max, dtype)]
        states = [[np.zeros(n, dtype)], [np.zeros(n, dtype)], None]
        table = module.UpdateTable("adam", params, [grad], states, checked=True)
        table.update(**arguments)
        table.restore()
        return table.flags

    finite = np.zeros(n, dtype)
    finite[::7] = info.smallest_subnormal
    finite[1::5] = -np.sqrt(info.max) / 10      # large, and exp_avg_sq stays finite
    assert flags(finite) == 0
    for at in (0, 15, 16, 511, 512, 530):
        for bad in (np.inf, -np.inf, np.nan, -np.nan):
            grad = finite.copy()
            grad[at] = bad
            assert flags(grad) & module.UpdateTable.NONFINITE_GRAD, (at, bad)


# --------------------------------------------------------------------------- the optimizers
def _count_tables(monkeypatch):
    built = []
    real = kernels.UpdateTable

    def counting(*args, **kwargs):
        built.append(args[0])
        return real(*args, **kwargs)
    monkeypatch.setattr(kernels, "UpdateTable", counting)
    return built


def test_the_step_reuses_its_table_until_an_array_is_replaced(monkeypatch, rng):
    built = _count_tables(monkeypatch)
    model = zoo.mlp(hidden=(8, 6), input_dim=5, num_classes=3, dropout=0.0, seed=0)
    twin = zoo.mlp(hidden=(8, 6), input_dim=5, num_classes=3, dropout=0.0, seed=0)
    opt, opt_twin = optim.Adam(model.parameters()), optim.Adam(twin.parameters(), foreach=False)

    def step(grads):
        for m, o in ((model, opt), (twin, opt_twin)):
            for p, g in zip(m.parameters(), grads):
                p.grad[...] = g
            o.step()
        for a, b in zip(model.parameters(), twin.parameters()):
            assert a.value.tobytes() == b.value.tobytes()

    grads = [rng.standard_normal(p.value.shape) for p in model.parameters()]
    step(grads)
    assert built == ["adam"]                   # the first step creates the state: one table
    step(grads)
    step(grads)
    assert built == ["adam"]                   # reused
    # load_state_dict replaces the state arrays: a new table, and the same bits as the twin
    opt.load_state_dict(opt.state_dict())
    step(grads)
    assert built == ["adam"] * 2
    # a parameter array replaced by hand
    p = model.parameters()[2]
    p.value = p.value.copy()
    step(grads)
    assert built == ["adam"] * 3
    # astype: new parameter and state arrays of another dtype
    model.optimizer, twin.optimizer = opt, opt_twin
    model.astype(np.float64)
    twin.astype(np.float64)
    step(grads)
    assert built == ["adam"] * 4 and model.parameters()[0].value.dtype == np.float64
    # a deep copy (gradcheck copies models) does not share the cache
    clone = copy.deepcopy(opt)
    assert clone._tables == {}


OPTIMIZERS = [
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1)),
    ("SGD", dict(lr=0.1)),
    ("Adam", dict(lr=1e-2, amsgrad=True)),
    ("AdamW", dict(lr=1e-2)),
    ("Adagrad", dict(lr=0.1)),
    ("Adadelta", dict()),
    ("RMSprop", dict(lr=1e-2, momentum=0.5, centered=True)),
    ("Adamax", dict()),
    ("NAdam", dict()),
]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")      # the twins' inf - inf, 0 * inf
@pytest.mark.parametrize("foreach", [None, False])
@pytest.mark.parametrize("backend_name", ["compiled", "reference"])
@pytest.mark.parametrize("name,kw", OPTIMIZERS, ids=[n + str(i) for i, (n, _) in
                                                     enumerate(OPTIMIZERS)])
def test_checked_step_undoes_a_diverging_step_exactly(name, kw, backend_name, foreach, rng):
    values = tensors(rng)
    grads = [tensors(rng) for _ in range(4)]

    def make():
        ps = [Parameter(v, name="p%d" % i) for i, v in enumerate(values)]
        groups = [{"params": ps[:2]}, {"params": ps[2:], "lr": kw.get("lr", 1e-2) / 2}]
        return ps, getattr(optim, name)(groups, foreach=foreach, **kw)

    def run(ps, opt, gs, checked=True):
        for p, g in zip(ps, gs):
            p.grad[...] = g
        return opt.checked_step() if checked else opt.step()

    with backend.use(backend_name):
        ps, opt = make()
        ref_ps, ref_opt = make()
        for gs in grads[:2]:
            assert run(ps, opt, gs) is None
            run(ref_ps, ref_opt, gs, checked=False)
        before = (copy.deepcopy([p.value for p in ps]), copy.deepcopy(opt.state_dict()))
        bad = [g.copy() for g in grads[2]]
        bad[3][0] = np.inf                          # a gradient of the second group
        problem = run(ps, opt, bad)
        assert problem == "the gradient of p3"
        # weights, state arrays, step counts and state entries exactly as before the step
        assert all(a.tobytes() == b.tobytes() for a, b in zip([p.value for p in ps], before[0]))
        sd = opt.state_dict()
        assert sd["state"].keys() == before[1]["state"].keys()
        for k, entry in before[1]["state"].items():
            assert sd["state"][k].keys() == entry.keys()
            for key, v in entry.items():
                got = sd["state"][k][key]
                assert (got.tobytes() == v.tobytes()) if isinstance(v, np.ndarray) else got == v
        # and training goes on as if the bad step had never been tried
        for gs in grads[2:]:
            assert run(ps, opt, gs) is None
            run(ref_ps, ref_opt, gs, checked=False)
        for a, b in zip(ps, ref_ps):
            assert a.value.tobytes() == b.value.tobytes()


@pytest.mark.parametrize("level", fastnn.cpu_simd_levels())
def test_checked_adam_fused_cases_give_the_unchecked_bits(level, rng):
    """float32 Adam without amsgrad takes the fused one-pass kernel when checked
    (fnn_optim_adam_checked_avx2.h; the table test above uses amsgrad, which takes the general
    path): the same bits as the unchecked multi-tensor kernel with and without maximize, with no,
    coupled and decoupled weight decay, for tensors shorter than a vector, one vector, and
    vectors plus a tail, over steps 1-3, at 1-3 threads; beta1 = 0.4 (1 - beta1 above one half:
    torch.lerp's other formula) takes the general path and must agree too."""
    sizes = [1, 7, 8, 9, 531, 4099]
    cases = [(maximize, wd, decoupled, 0.9, threads)
             for maximize in (False, True)
             for wd, decoupled in ((0.0, False), (0.1, False), (0.1, True))
             for threads in (1, 2, 3)] + [(False, 0.0, False, 0.4, 2)]
    for maximize, wd, decoupled, beta1, threads in cases:
        params = [rng.standard_normal(n).astype(np.float32) for n in sizes]
        grads = [rng.standard_normal(n).astype(np.float32) for n in sizes]
        states = [[np.abs(rng.standard_normal(n)).astype(np.float32) for n in sizes]
                  for _ in range(2)] + [None]
        want = copy.deepcopy((params, states))
        with simd(level), fastnn.threads(threads):
            table = kernels.UpdateTable("adam", params, grads, states, checked=True)
            for t in (1, 2, 3):
                arguments, _ = _arguments("adam", t, len(sizes))
                arguments.update(weight_decay=wd, amsgrad=False, beta1=beta1,
                                 decoupled_weight_decay=decoupled, maximize=maximize)
                table.update(**arguments)
                kernels.adam_update_multi(want[0], grads, *want[1], **arguments)
                assert table.flags == 0
                for a, b in zip(params + states[0] + states[1],
                                want[0] + want[1][0] + want[1][1]):
                    assert a.tobytes() == b.tobytes(), (level, maximize, wd, decoupled, beta1,
                                                        threads, t, a.size)


@pytest.mark.parametrize("level", fastnn.cpu_simd_levels())
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_checked_adam_flags_an_overflowing_state_anywhere_and_restores_it(level, dtype, rng):
    """A huge gradient entry makes exp_avg_sq inf (g * g overflows) while exp_avg and the weight
    stay finite: only the state bit is set, wherever the entry lies (the fused float32 AVX2
    kernel's vectors, fnn_optim_adam_checked_avx2.h, and the general path's tail after them),
    the bits equal the unchecked update's, and restore() undoes it exactly."""
    n, huge = 531, (1e30 if dtype == np.float32 else 1e200)
    arguments, _ = _arguments("adam", 3, 1)
    arguments["weight_decay"], arguments["amsgrad"] = 0.0, False
    for at in (0, 7, 8, 300, 527, 528, 530):
        params = [rng.standard_normal(n).astype(dtype)]
        grads = [rng.standard_normal(n).astype(dtype)]
        grads[0][at] = huge
        states = [[np.abs(rng.standard_normal(n)).astype(dtype)],
                  [np.abs(rng.standard_normal(n)).astype(dtype)], None]
        before = [params[0].copy(), states[0][0].copy(), states[1][0].copy()]
        want = copy.deepcopy((params, states))
        with simd(level):
            table = kernels.UpdateTable("adam", params, grads, states, checked=True)
            table.update(**arguments)
            kernels.adam_update_multi(want[0], grads, *want[1], **arguments)
        assert table.flags == kernels.UpdateTable.NONFINITE_STATE, at
        assert np.isinf(states[1][0][at]) and np.isfinite(params[0]).all()
        for a, b in zip((params[0], states[0][0], states[1][0]),
                        (want[0][0], want[1][0][0], want[1][1][0])):
            assert a.tobytes() == b.tobytes(), at
        table.restore()
        for a, b in zip((params[0], states[0][0], states[1][0]), before):
            assert a.tobytes() == b.tobytes(), at


def test_checked_step_names_weights_and_state_and_undoes_a_first_step(rng):
    ps = [Parameter(v, name="w%d" % i) for i, v in enumerate(tensors(rng))]
    for p in ps:
        p.grad[...] = 1.0
    opt = optim.SGD(ps, lr=1e300)                   # lr rounds to inf in float32
    values = [p.value.copy() for p in ps]
    assert opt.checked_step() == "the weights w0 (after the update)"
    assert all(np.array_equal(p.value, v) for p, v in zip(ps, values))
    opt = optim.Adam(ps, lr=1e-3)
    for p in ps:
        p.grad[...] = 1e30                          # g * g overflows: exp_avg_sq is inf
    assert opt.checked_step() == "Adam's state 'exp_avg_sq' of w0 (after the update)"
    assert opt.state == {p: {} for p in ps}         # the first step's new state is dropped
    assert all(np.array_equal(p.value, v) for p, v in zip(ps, values))


# --------------------------------------------------------------------------- fit (issue 11)
def _blobs(n=96, d=6, k=3, seed=0):
    r = np.random.default_rng(seed)
    y = r.integers(0, k, n)
    x = (np.eye(k, d)[y] * 3 + r.standard_normal((n, d))).astype(np.float32)
    return x, y


def _mlp(seed=0, dropout=0.2):
    return zoo.mlp(hidden=(8, 6), input_dim=6, num_classes=3, dropout=dropout, seed=seed)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_issue_reproducer_leaves_the_initial_weights_and_writes_no_checkpoint(tmp_path):
    x, y = _blobs()
    m = _mlp()
    initial = m.get_weights()
    path = tmp_path / "ck.npz"
    with pytest.raises(TrainingDivergedError) as err:
        m.fit(x, y, epochs=2, batch_size=32, verbose=0, seed=0,
              optimizer=optim.SGD(m.parameters(), lr=1e300),
              callbacks=[callbacks.ModelCheckpoint(str(path))], validation_data=(x, y))
    e = err.value
    assert (e.epoch, e.batch) == (0, 0) and np.isfinite(e.loss)
    assert e.what.startswith("the weights") and e.what in str(e)
    assert "last finite weights" in str(e) and "epoch 1/2, batch 1/3" in str(e)
    assert all(np.array_equal(a, b) for a, b in zip(m.get_weights(), initial))
    assert not path.exists()


def test_divergence_on_an_epochs_last_batch_keeps_the_good_checkpoint(tmp_path):
    """Before: the step on epoch 2's last batch made the weights inf, the epoch ended, the
    checkpoint of epoch 1 was overwritten with them, and the error came at epoch 3."""
    x, y = _blobs()
    m = _mlp()
    path = tmp_path / "ck.npz"
    seen = {}

    def blow_up(batch, logs):
        if m.epochs_completed == 1 and batch == 2:         # epoch 2's last batch (3 batches)
            seen["weights"] = m.get_weights()
            seen["state"] = copy.deepcopy(m.optimizer.state_dict())
            m.optimizer.param_groups[0]["lr"] = 1e300
    with pytest.raises(TrainingDivergedError) as err:
        m.fit(x, y, epochs=4, batch_size=32, verbose=0, seed=0, optimizer="adam",
              callbacks=[callbacks.LambdaCallback(on_batch_begin=blow_up),
                         callbacks.ModelCheckpoint(str(path))])
    assert (err.value.epoch, err.value.batch) == (1, 2)
    # in memory: the weights and Adam's state from before that batch's update
    assert all(np.array_equal(a, b) for a, b in zip(m.get_weights(), seen["weights"]))
    sd = m.optimizer.state_dict()
    for k, entry in seen["state"]["state"].items():
        for key, v in entry.items():
            assert np.array_equal(sd["state"][k][key], v)
    # on disk: epoch 1's checkpoint, finite, and it resumes
    back = load_model(path)
    assert back.epochs_completed == 1
    assert all(np.isfinite(w).all() for w in back.get_weights())


class _NaNGradientOnce(losses.SoftmaxCrossEntropy):
    """Softmax cross-entropy whose gradient is NaN at call ``bad`` (the loss stays finite)."""

    def __init__(self, bad):
        super().__init__()
        self.calls, self.bad = 0, bad

    def backward(self):
        d = super().backward()
        self.calls += 1
        if self.calls == self.bad:
            d = d.copy()
            d[0, 0] = np.nan
        return d


def test_a_nan_gradient_raises_and_leaves_adams_state_untouched():
    """Before: the NaN went into exp_avg / exp_avg_sq and the weights; the error came a batch
    later, from the loss, with every later step poisoned."""
    x, y = _blobs()
    m = _mlp(dropout=0.0)
    states = []
    with pytest.raises(TrainingDivergedError) as err:
        m.fit(x, y, epochs=3, batch_size=32, verbose=0, seed=0, optimizer="adam",
              loss=_NaNGradientOnce(bad=5), callbacks=[callbacks.LambdaCallback(
                  on_batch_begin=lambda b, logs: states.append(
                      (m.get_weights(), copy.deepcopy(m.optimizer.state_dict()))))])
    e = err.value
    assert (e.epoch, e.batch) == (1, 1) and e.what.startswith("the gradient of dense")
    weights, sd = states[-1]
    assert all(np.array_equal(a, b) for a, b in zip(m.get_weights(), weights))
    now = m.optimizer.state_dict()["state"]
    for k, entry in sd["state"].items():
        assert now[k]["step"] == entry["step"] == 4
        for key in ("exp_avg", "exp_avg_sq"):
            assert np.array_equal(now[k][key], entry[key]) and np.isfinite(now[k][key]).all()


def test_model_checkpoint_never_writes_non_finite_weights(tmp_path):
    x, y = _blobs()
    m = _mlp()
    m.fit(x, y, epochs=1, batch_size=32, verbose=0, seed=0)
    path = tmp_path / "ck.npz"
    ck = callbacks.ModelCheckpoint(str(path))
    ck.set_model(m)
    ck.on_epoch_end(0, {"loss": 1.0})
    good = path.read_bytes()
    m.layers[0].kernel.value[0, 0] = np.nan
    with pytest.warns(RuntimeWarning, match="inf or NaN"):
        ck.on_epoch_end(1, {"loss": 1.0})
    assert path.read_bytes() == good
    m.layers[0].kernel.value[0, 0] = 0.0
    m.optimizer.state[m.parameters()[1]]["exp_avg"][0] = np.inf
    with pytest.warns(RuntimeWarning, match="exp_avg"):
        ck.on_epoch_end(2, {"loss": 1.0})
    assert path.read_bytes() == good


@pytest.mark.parametrize("make", [lambda ps, **kw: optim.Adam(ps, **kw),
                                  lambda ps, **kw: optim.SGD(ps, lr=0.05, momentum=0.9, **kw)],
                         ids=["adam", "sgd_momentum"])
def test_a_model_without_dropout_trains_to_the_bits_of_the_per_parameter_loop(make):
    # fit steps through the reused table with checked_step; a plain loop stepping each
    # parameter with its own single-tensor call (foreach=False: no table, no snapshot) gives
    # the same bits, so only models with dropout (its new masks) changed their seeded results
    x, y = _blobs()
    a, b = _mlp(dropout=0.0), _mlp(dropout=0.0)
    a.fit(x, y, epochs=2, batch_size=32, verbose=0, seed=3, shuffle=False,
          optimizer=make(a.parameters()))
    opt = make(b.parameters(), foreach=False)
    loss = losses.SoftmaxCrossEntropy()
    for _ in range(2):
        for lo in range(0, x.shape[0], 32):
            loss.forward(b.forward(x[lo:lo + 32], training=True), y[lo:lo + 32])
            b.backward(loss.backward(), need_dx=False)
            opt.step()
    assert all(np.array_equal(p, q) for p, q in zip(a.get_weights(), b.get_weights()))


def test_sequential_of_plain_layers_trains_through_the_table():
    model = Sequential([L.Dense(6, 5, activation="tanh", seed=1), L.Dense(5, 3, seed=2)])
    x, y = _blobs()
    hist = model.fit(x, y, epochs=3, batch_size=16, verbose=0, seed=0, optimizer="sgd")
    assert hist["loss"][-1] < hist["loss"][0]


class _MomentumOfYourOwn(optim.Optimizer):
    """An algorithm written with the public ``update`` hook (NumPy, per parameter)."""

    def __init__(self, params, lr=0.1):
        super().__init__(params, dict(lr=lr))

    def update(self, param, grad, state, group):
        v = state.setdefault("v", np.zeros_like(param))
        v += grad
        param -= group["lr"] * v


def test_checked_step_undoes_a_diverging_step_of_an_update_hook_optimizer(rng):
    p = Parameter(rng.standard_normal((4, 3)).astype(np.float32))
    opt = _MomentumOfYourOwn([p], lr=0.5)
    p.grad[...] = 1.0
    assert opt.checked_step() is None
    value, v = p.value.copy(), opt.state[p]["v"].copy()
    p.grad[1, 2] = np.nan
    assert opt.checked_step() == "the gradient of parameter 0"
    assert np.array_equal(p.value, value) and np.array_equal(opt.state[p]["v"], v)
    p.grad[...] = 1.0
    opt.step()                                        # the hook still runs unchecked
    assert np.array_equal(p.value, value - 0.5 * (v + 1.0))
