"""Optimizer update kernels: compiled (fastnn.kernels) vs NumPy twin (fastnn.reference).

The compiled loop does per element exactly the operations the twin does on whole arrays, so
trajectories must agree BIT FOR BIT (param and every state array), at any thread count, at every
SIMD level the CPU has, and between the single-tensor kernels and the multi-tensor ones.
"""
import inspect
import textwrap

import numpy as np
import pytest
from hypothesis import given, strategies as st

import fastnn
from fastnn import kernels as K, reference as R
from fastnn.contracts import constraints, optim as contract

# kernel -> its state arrays in argument order, whether it takes `step`, whether `mu_product`.
SPECS = {
    "sgd_update": (["momentum_buffer"], False, False),
    "adagrad_update": (["state_sum"], True, False),
    "adadelta_update": (["square_avg", "acc_delta"], False, False),
    "rmsprop_update": (["square_avg", "grad_avg", "momentum_buffer"], False, False),
    "adam_update": (["exp_avg", "exp_avg_sq", "max_exp_avg_sq"], True, False),
    "adamw_update": (["exp_avg", "exp_avg_sq", "max_exp_avg_sq"], True, False),
    "adamax_update": (["exp_avg", "exp_inf"], True, False),
    "nadam_update": (["exp_avg", "exp_avg_sq"], True, True),
}
# States that are averages of squares / norms start non-negative; the rest are signed.
NONNEG = {"state_sum", "square_avg", "acc_delta", "exp_avg_sq", "max_exp_avg_sq", "exp_inf"}

CASES = [
    ("sgd_update", dict(lr=0.1)),
    ("sgd_update", dict(lr=0.1, momentum=0.9)),
    ("sgd_update", dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("sgd_update", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01, maximize=True)),
    ("adagrad_update", dict()),
    ("adagrad_update", dict(lr=0.1, lr_decay=0.01, weight_decay=0.01, eps=1e-6, maximize=True)),
    ("adadelta_update", dict()),
    ("adadelta_update", dict(lr=0.5, rho=0.5, weight_decay=0.1, maximize=True)),
    ("rmsprop_update", dict()),
    ("rmsprop_update", dict(centered=True)),
    ("rmsprop_update", dict(momentum=0.9)),
    ("rmsprop_update", dict(centered=True, momentum=0.9, weight_decay=0.01, maximize=True,
                            alpha=0.3)),          # 1 - alpha >= 0.5: lerp's other branch
    ("adam_update", dict()),
    ("adam_update", dict(amsgrad=True)),
    ("adam_update", dict(weight_decay=0.1)),
    ("adam_update", dict(weight_decay=0.1, decoupled_weight_decay=True, amsgrad=True,
                         maximize=True)),
    ("adam_update", dict(lr=0.01, beta1=0.3, beta2=0.5)),
    ("adamw_update", dict()),
    ("adamw_update", dict(amsgrad=True, weight_decay=0.5, lr=0.01)),
    ("adamax_update", dict()),
    ("adamax_update", dict(weight_decay=0.1, maximize=True, beta1=0.2)),
    ("nadam_update", dict()),
    ("nadam_update", dict(weight_decay=0.1)),
    ("nadam_update", dict(weight_decay=0.1, decoupled_weight_decay=True, maximize=True,
                          momentum_decay=0.01)),
]
CASE_IDS = ["%s-%d" % (name, i) for i, (name, _) in enumerate(CASES)]
DTYPES = [np.float32, np.float64]


def make_problem(name, shape, dtype, steps, seed):
    rng = np.random.default_rng(seed)
    p0 = rng.standard_normal(shape).astype(dtype)
    grads = [rng.standard_normal(shape).astype(dtype) for _ in range(steps)]
    states = {s: (rng.random(shape) if s in NONNEG else rng.standard_normal(shape)).astype(dtype)
              for s in SPECS[name][0]}
    if "grad_avg" in states:
        # Consistent centered-RMSprop state (v >= a^2, as the update keeps it): no NaN sqrt.
        states["square_avg"] += states["grad_avg"] ** 2
    return p0, grads, states


def run(mod, name, kw, p0, grads, states0, step0=0):
    """Apply ``len(grads)`` updates of kernel ``name`` from module ``mod`` to copies, the first
    one being step ``step0 + 1``."""
    f = getattr(mod, name)
    names, takes_step, takes_mu = SPECS[name]
    p = p0.copy()
    states = {k: v.copy() for k, v in states0.items()}
    mu = 1.0
    for t, g in enumerate(grads, step0 + 1):
        args = [p, g] + [states[s] for s in names]
        if name == "sgd_update":
            f(*args, first_step=(t == 1), **kw)
        elif takes_mu:
            mu = f(*args, t, mu, **kw)
        elif takes_step:
            f(*args, t, **kw)
        else:
            f(*args, **kw)
    return p, states, mu


def run_multi(mod, name, kw, problems, step0s):
    """``run`` for every (p0, grads, states0) of ``problems`` at once: ONE call of the
    multi-tensor kernel per step, tensor j at step ``step0s[j] + t``."""
    f = getattr(mod, name + "_multi")
    names, takes_step, takes_mu = SPECS[name]
    ps = [p0.copy() for p0, _, _ in problems]
    states = [{k: v.copy() for k, v in st.items()} for _, _, st in problems]
    mus = [1.0] * len(problems)
    for t in range(1, len(problems[0][1]) + 1):
        args = [ps, [grads[t - 1] for _, grads, _ in problems]]
        args += [[st[s] for st in states] for s in names]
        steps = [s0 + t for s0 in step0s]
        if name == "sgd_update":
            f(*args, first_steps=[s == 1 for s in steps], **kw)
        elif takes_mu:
            mus = f(*args, steps, mus, **kw)
        elif takes_step:
            f(*args, steps, **kw)
        else:
            f(*args, **kw)
    return [(p, st, mu) for p, st, mu in zip(ps, states, mus)]


def assert_same(a, b):
    pa, sa, mua = a
    pb, sb, mub = b
    np.testing.assert_array_equal(pa, pb)
    for k in sa:
        np.testing.assert_array_equal(sa[k], sb[k], err_msg=k)
    assert mua == mub


def test_every_kernel_has_a_twin():
    names = sorted(list(SPECS) + [n + "_multi" for n in SPECS])
    assert sorted(K._optim.__all__) == sorted(R.optim.__all__) == names
    for name in names:
        assert getattr(K, name).__doc__ and getattr(R, name).__doc__


@pytest.mark.parametrize("name", sorted(set(SPECS) - {"adamw_update"}))
def test_kernels_pass_their_arguments_to_the_contract_in_order(name):
    # Both implementations call the contract positionally: same parameter names, same order.
    for suffix in ("", "_multi"):
        kernel = inspect.signature(getattr(K, name + suffix)).parameters
        twin = inspect.signature(getattr(R, name + suffix)).parameters
        want = inspect.signature(getattr(contract, name + suffix)).parameters
        assert list(kernel) == list(twin) == list(want), name + suffix


@given(case=st.sampled_from(range(len(CASES))),
       n=st.one_of(st.sampled_from([1, 2, 3, 15, 16, 17, 33]), st.integers(1, 3000)),
       dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**31 - 1))
def test_compiled_matches_reference_bit_for_bit(case, n, dtype, seed):
    name, kw = CASES[case]
    p0, grads, states = make_problem(name, (n,), dtype, steps=4, seed=seed)
    assert_same(run(K, name, kw, p0, grads, states), run(R, name, kw, p0, grads, states))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", range(len(CASES)), ids=CASE_IDS)
def test_large_multistep_trajectory(case, dtype):
    # ~1e5 elements: above the parallel threshold, odd length (a ragged last block).
    name, kw = CASES[case]
    p0, grads, states = make_problem(name, (317, 331), dtype, steps=3, seed=case)
    assert_same(run(K, name, kw, p0, grads, states), run(R, name, kw, p0, grads, states))


@pytest.mark.parametrize("case", range(len(CASES)), ids=CASE_IDS)
def test_thread_count_does_not_change_bits(case):
    name, kw = CASES[case]
    p0, grads, states = make_problem(name, (100_003,), np.float32, steps=2, seed=7)
    results = []
    for n in (1, 2, 3):
        with fastnn.threads(n):
            results.append(run(K, name, kw, p0, grads, states))
    assert_same(results[0], results[1])
    assert_same(results[0], results[2])


@pytest.mark.parametrize("mod", [K, R], ids=["compiled", "reference"])
def test_unaligned_views_and_multidim(mod):
    # Views into a larger buffer start off a 16-element boundary; result equals fresh arrays.
    rng = np.random.default_rng(3)
    big = rng.standard_normal((5, 40_001)).astype(np.float32)
    p, g, m, v = (big[i, 1:].reshape(8, 5000) for i in range(4))
    v[...] = np.abs(v)
    fresh = [a.copy() for a in (p, g, m, v)]
    mod.adam_update(p, g, m, v, None, 3, lr=0.01)
    mod.adam_update(fresh[0], fresh[1], fresh[2], fresh[3], None, 3, lr=0.01)
    np.testing.assert_array_equal(p, fresh[0])
    np.testing.assert_array_equal(m, fresh[2])


@pytest.mark.parametrize("mod", [K, R], ids=["compiled", "reference"])
def test_optional_states_may_be_none(mod):
    p, g = np.ones(5, np.float32), np.ones(5, np.float32)
    z = np.zeros(5, np.float32)
    mod.sgd_update(p, g, None, 0.5)
    np.testing.assert_array_equal(p, 0.5 * np.ones(5, np.float32))
    mod.rmsprop_update(p, g, z.copy(), None, None)
    mod.adam_update(p, g, z.copy(), z.copy(), None, 1)
    mod.adamw_update(p, g, z.copy(), z.copy(), None, 1)
    assert mod.nadam_update(p, g, z.copy(), z.copy(), 1, 1.0) < 1.0


@pytest.mark.parametrize("mod", [K, R], ids=["compiled", "reference"])
def test_empty_arrays_are_a_no_op(mod):
    e = np.zeros((0, 3), np.float32)
    mod.adam_update(e, e.copy(), e.copy(), e.copy(), None, 1)
    mod.sgd_update(e, e.copy(), e.copy(), 0.1, momentum=0.9)


def test_known_values_first_adam_step():
    # Step 1 of Adam moves every coordinate by lr * sign(g) (up to eps): m_hat/sqrt(v_hat) = g/|g|.
    p = np.zeros(4)
    g = np.array([3.0, -2.0, 0.5, -1e-3])
    K.adam_update(p, g, np.zeros(4), np.zeros(4), None, 1, lr=0.1, eps=0.0)
    np.testing.assert_allclose(p, -0.1 * np.sign(g), rtol=1e-12)


# ------------------------------------------------------------------------------------------
# Bad inputs: errors name the argument, expected and actual value; nothing is written.
# ------------------------------------------------------------------------------------------

def _adam_args(n=6, dtype=np.float32):
    return [np.zeros(n, dtype) for _ in range(4)]


BAD = [
    ("grad shape", lambda p, g, m, v: (p, g[:-1], m, v), {}, ValueError, "grad.*shape"),
    ("state dtype", lambda p, g, m, v: (p, g, m.astype(np.float64), v), {}, TypeError,
     "exp_avg.*dtype"),
    ("non-contiguous state", lambda p, g, m, v: (p, g, np.zeros(12, np.float32)[::2], v), {},
     ValueError, "exp_avg.*C-contiguous"),
    ("read-only state", lambda p, g, m, v: (p, g, m, np.frombuffer(bytes(24), np.float32)), {},
     ValueError, "exp_avg_sq.*writeable"),
    ("object dtype", lambda p, g, m, v: (p.astype(object), g, m, v), {}, TypeError,
     "param.*float32 or float64.*object"),
    ("int param", lambda p, g, m, v: (p.astype(np.int32), g, m, v), {}, TypeError, "param"),
    ("list param", lambda p, g, m, v: ([0.0] * 6, g, m, v), {}, TypeError, "param.*ndarray"),
    ("negative lr", lambda *a: a, dict(lr=-1.0), ValueError, "lr must be >= 0.0, got -1.0"),
    ("beta1 = 1", lambda *a: a, dict(beta1=1.0), ValueError, "beta1 must be < 1.0, got 1.0"),
    ("beta2 < 0", lambda *a: a, dict(beta2=-0.1), ValueError, "beta2"),
    ("nan eps", lambda *a: a, dict(eps=float("nan")), ValueError, "eps must be finite, got nan"),
    ("inf weight decay", lambda *a: a, dict(weight_decay=float("inf")), ValueError,
     "weight_decay must be finite"),
    ("flag not bool", lambda *a: a, dict(amsgrad=1), TypeError, "amsgrad must be a bool"),
    ("amsgrad needs buffer", lambda *a: a, dict(amsgrad=True), ValueError,
     "max_exp_avg_sq must be an array when amsgrad=True, got None"),
    ("overlap", lambda p, g, m, v: (p, g, p, v), {}, ValueError, "param and exp_avg.*overlap"),
]


@pytest.mark.parametrize("mod", [K, R], ids=["compiled", "reference"])
@pytest.mark.parametrize("label,mutate,kw,exc,match", BAD, ids=[b[0] for b in BAD])
def test_adam_rejects_bad_input(mod, label, mutate, kw, exc, match):
    p, g, m, v = mutate(*_adam_args())
    with pytest.raises(exc, match=match):
        mod.adam_update(p, g, m, v, None, 1, **kw)


@pytest.mark.parametrize("mod", [K, R], ids=["compiled", "reference"])
def test_other_kernels_reject_bad_hyperparameters(mod):
    p, g, a, b = _adam_args()
    with pytest.raises(ValueError, match="step must be >= 1, got 0"):
        mod.adagrad_update(p, g, a, 0)
    with pytest.raises(TypeError, match="step must be an int"):
        mod.adamax_update(p, g, a, b, 1.5)
    with pytest.raises(ValueError, match="rho must be <= 1.0, got 1.5"):
        mod.adadelta_update(p, g, a, b, rho=1.5)
    with pytest.raises(ValueError, match="alpha must be >= 0.0"):
        mod.rmsprop_update(p, g, a, None, None, alpha=-0.5)
    with pytest.raises(ValueError, match="grad_avg must be an array when centered=True"):
        mod.rmsprop_update(p, g, a, None, None, centered=True)
    with pytest.raises(ValueError, match="momentum_buffer must be an array when momentum != 0"):
        mod.sgd_update(p, g, None, 0.1, momentum=0.9)
    with pytest.raises(ValueError, match="nesterov=True requires momentum > 0"):
        mod.sgd_update(p, g, a, 0.1, momentum=0.9, dampening=0.1, nesterov=True)
    with pytest.raises(ValueError, match="momentum_decay must be >= 0.0"):
        mod.nadam_update(p, g, a, b, 1, 1.0, momentum_decay=-1.0)
    with pytest.raises(ValueError, match="lr_decay must be finite"):
        mod.adagrad_update(p, g, a, 1, lr_decay=float("nan"))


def test_failed_call_writes_nothing():
    p, g, m, v = _adam_args()
    g[...] = 1.0
    with pytest.raises(ValueError):
        K.adam_update(p, g, m, v, None, 1, beta1=1.0)
    assert not p.any() and not m.any() and not v.any()


def test_bad_inputs_raise_cleanly_in_a_child_process(run_child):
    # A kernel that wrote outside an array or crashed would kill this child, not just fail.
    code = textwrap.dedent("""
        import numpy as np
        from fastnn import kernels as K
        z = lambda n, dt=np.float32: np.zeros(n, dt)
        bad = [
            lambda: K.adam_update(z(10), z(9), z(10), z(10), None, 1),
            lambda: K.adam_update(z(10), z(10), z(20)[::2], z(10), None, 1),
            lambda: K.sgd_update(z(10), z(10), z(10, np.float64), 0.1, momentum=0.9),
            lambda: K.nadam_update(z(10), z(10), z(10), z(10), 1, 1.0, beta2=1.0),
            lambda: K.adamax_update(z(10).astype(object), z(10), z(10), z(10), 1),
            lambda: K.adam_update_multi([z(10), z(10)], [z(10), z(9)], [z(10), z(10)],
                                        [z(10), z(10)], None, [1, 1]),
            lambda: K.adam_update_multi([z(10)] * 2, [z(10), z(10)], [z(10), z(10)],
                                        [z(10), z(10)], None, [1, 1]),
            lambda: K.sgd_update_multi([z(10), z(10, np.float64)], [z(10), z(10, np.float64)],
                                       None, 0.1),
        ]
        for f in bad:
            try:
                f()
            except (ValueError, TypeError) as e:
                print(type(e).__name__)
            else:
                print("NO ERROR")
    """)
    out = run_child(code, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["ValueError", "ValueError", "TypeError", "ValueError",
                                  "TypeError", "ValueError", "ValueError",
                                  "TypeError"], out.stdout + out.stderr


# ------------------------------------------------------------------------------------------
# SIMD levels: no FMA, correctly rounded vector sqrt and division -> the same bits everywhere
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("level", fastnn.cpu_simd_levels())
@pytest.mark.parametrize("case", range(len(CASES)), ids=CASE_IDS)
def test_every_simd_level_gives_the_twins_bits(case, level):
    name, kw = CASES[case]
    for dtype in DTYPES:
        p0, grads, states = make_problem(name, (1003,), dtype, steps=3, seed=case)
        want = run(R, name, kw, p0, grads, states)
        saved = fastnn.set_simd(level)
        try:
            single = run(K, name, kw, p0, grads, states)
            multi = run_multi(K, name, kw, [(p0, grads, states)], [0])[0]
        finally:
            fastnn.set_simd(saved)
        assert_same(single, want)
        assert_same(multi, want)


# ------------------------------------------------------------------------------------------
# Multi-tensor kernels: one call for a list of tensors == the single-tensor kernel on each
# ------------------------------------------------------------------------------------------

# Empty, one element, ragged chunks, a 2-D tensor, one above the one-thread threshold.
MULTI_SHAPES = [(0,), (1,), (17,), (6, 5), (301,), (20_011,)]
MULTI_STEP0 = [0, 3, 0, 7, 1, 0]      # tensors at different steps (e.g. after add_param_group)


def make_multi(name, shapes, dtype, steps, seed):
    return [make_problem(name, shape, dtype, steps, seed + j) for j, shape in enumerate(shapes)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", range(len(CASES)), ids=CASE_IDS)
def test_multi_tensor_kernel_equals_single_tensor_kernel_bit_for_bit(case, dtype):
    name, kw = CASES[case]
    problems = make_multi(name, MULTI_SHAPES, dtype, steps=3, seed=10 * case)
    want = [run(K, name, kw, p0, grads, states, step0)
            for (p0, grads, states), step0 in zip(problems, MULTI_STEP0)]
    for mod in (K, R):
        got = run_multi(mod, name, kw, problems, MULTI_STEP0)
        for a, b in zip(got, want):
            assert_same(a, b)
    # The run really moved every non-empty parameter.
    assert all(not np.array_equal(a[0], p[0]) for a, p in zip(want, problems) if p[0].size)


@pytest.mark.parametrize("case", range(len(CASES)), ids=CASE_IDS)
def test_multi_tensor_thread_count_does_not_change_bits(case):
    # 70k elements in three tensors: three threads each get work, and blocks cross tensors.
    name, kw = CASES[case]
    problems = make_multi(name, [(40_000,), (33,), (30_001,)], np.float32, steps=2, seed=case)
    results = []
    for n in (1, 2, 3):
        with fastnn.threads(n):
            results.append(run_multi(K, name, kw, problems, [0, 0, 0]))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert_same(a, b)


@pytest.mark.parametrize("mod", [K, R], ids=["compiled", "reference"])
def test_multi_tensor_empty_list_is_a_no_op(mod):
    mod.adam_update_multi([], [], [], [], None, [])
    mod.sgd_update_multi([], [], None, 0.1)
    assert mod.nadam_update_multi([], [], [], [], [], []) == []


def _multi_args(n=5, count=2, dtype=np.float32):
    return [[np.zeros(n, dtype) for _ in range(count)] for _ in range(4)]


def _f64(arrays):
    return [arrays[0], arrays[1].astype(np.float64)]


MULTI_BAD = [
    ("params not a list", lambda P, G, M, V: (P[0], G, M, V), {}, TypeError,
     "params must be a list or tuple, got ndarray"),
    ("length mismatch", lambda P, G, M, V: (P, G[:1], M, V), {}, ValueError,
     r"grads must have one entry per tensor \(2, as params\), got 1"),
    ("shape", lambda P, G, M, V: (P, G, [M[0], M[1][:-1]], V), {}, ValueError,
     r"exp_avgs\[1\] must have the same shape as params\[1\]"),
    ("dtype within a tensor", lambda P, G, M, V: (P, G, M, _f64(V)), {}, TypeError,
     r"exp_avg_sqs\[1\] must have the same dtype as params\[1\] \(float32\), got float64"),
    ("dtypes across tensors", lambda P, G, M, V: (_f64(P), _f64(G), _f64(M), _f64(V)), {},
     TypeError, r"params\[1\] must have the dtype of params\[0\] \(float32\), got float64"),
    ("read-only state", lambda P, G, M, V: (P, G, [M[0], np.frombuffer(bytes(20), np.float32)], V),
     {}, ValueError, r"exp_avgs\[1\] must be writeable"),
    ("same param twice", lambda P, G, M, V: ([P[0], P[0]], G, M, V), {}, ValueError,
     r"params\[0\] and params\[1\] must not overlap in memory"),
    ("state of one tensor is the param of another", lambda P, G, M, V: (P, G, [P[1], M[1]], V),
     {}, ValueError, r"exp_avgs\[0\] and params\[1\] must not overlap"),
    ("grads shared", lambda P, G, M, V: (P, [G[0], G[0]], M, V), {}, ValueError,
     r"grads\[0\] and grads\[1\] must not overlap"),
    ("bad step", lambda *a: a, dict(steps=[1, 0]), ValueError, r"steps\[1\] must be >= 1, got 0"),
    ("steps length", lambda *a: a, dict(steps=[1]), ValueError,
     "steps must have one entry per tensor"),
    ("amsgrad needs buffers", lambda *a: a, dict(amsgrad=True), ValueError,
     "max_exp_avg_sqs must be a list of arrays when amsgrad=True, got None"),
    ("bad hyper-parameter", lambda *a: a, dict(beta2=1.0), ValueError,
     "beta2 must be < 1.0, got 1.0"),
]


@pytest.mark.parametrize("mod", [K, R], ids=["compiled", "reference"])
@pytest.mark.parametrize("label,mutate,kw,exc,match", MULTI_BAD, ids=[b[0] for b in MULTI_BAD])
def test_multi_tensor_rejects_bad_input_and_writes_nothing(mod, label, mutate, kw, exc, match):
    P, G, M, V = _multi_args()
    for g in G:
        g[...] = 1.0
    P, G, M, V = mutate(P, G, M, V)
    kw = dict(kw)
    steps = kw.pop("steps", [1, 1])
    with pytest.raises(exc, match=match):
        mod.adam_update_multi(P, G, M, V, None, steps, **kw)
    for a in list(P) + list(M) + list(V):
        if isinstance(a, np.ndarray) and a.flags.writeable:
            assert not a.any(), label


@pytest.mark.parametrize("mod", [K, R], ids=["compiled", "reference"])
def test_multi_tensor_per_tensor_arguments_are_checked(mod):
    P, G, M, V = _multi_args()
    with pytest.raises(TypeError, match=r"first_steps\[0\] must be a bool"):
        mod.sgd_update_multi(P, G, M, 0.1, momentum=0.9, first_steps=[1, True])
    with pytest.raises(ValueError, match=r"mu_products\[1\] must be <= 1.0, got 2.0"):
        mod.nadam_update_multi(P, G, M, V, [1, 1], [1.0, 2.0])
    with pytest.raises(ValueError, match="grad_avgs must be a list of arrays when centered=True"):
        mod.rmsprop_update_multi(P, G, M, None, None, centered=True)
    with pytest.raises(ValueError,
                       match="momentum_buffers must be a list of arrays when momentum != 0"):
        mod.sgd_update_multi(P, G, None, 0.1, momentum=0.9)


# ------------------------------------------------------------------------------------------
# The constraints tables of fastnn.contracts.optim
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,inside,outside", [
    ("real >= 0", [0.0, 3.5], [-1e-9]),
    ("real > 0", [1e-9], [0.0, -1.0]),
    ("real in [0, 1)", [0.0, 0.5], [1.0, -0.1]),
    ("real in [0, 1]", [0.0, 1.0], [1.5]),
    ("real in (0, 1]", [1.0], [0.0]),
    ("real", [-1e300, 0.0, 1e300], []),
    ("int >= 1", [1, 7], [0, -3]),
    ("pair of real in [0, 1)", [0.0, 0.999], [1.0]),
])
def test_constraint_grammar(text, inside, outside):
    c = constraints.parse(text)
    assert all(c.admits(x) for x in inside)
    assert not any(c.admits(x) for x in outside)
    assert c.pair == text.startswith("pair of ")


@pytest.mark.parametrize("text", ["real >= ", "float >= 0", "real in [0 1)", "bool >= 0 x"])
def test_constraint_grammar_refuses_nonsense(text):
    with pytest.raises(ValueError, match="not a constraint"):
        constraints.parse(text)


def test_every_table_entry_parses():
    tables = [contract.SGD, contract.ADAGRAD, contract.ADADELTA, contract.RMSPROP, contract.ADAM,
              contract.ADAMAX, contract.NADAM, contract.STEP_ARGUMENTS]
    for table in tables:
        for name, text in table.items():
            assert constraints.parse(text).kind in ("bool", "int", "real"), name
