"""Optimizer update kernels: compiled (fastnn.kernels) vs NumPy twin (fastnn.reference).

The compiled loop does per element exactly the operations the twin does on whole arrays, so
trajectories must agree BIT FOR BIT (param and every state array), at any thread count, at every
SIMD level the CPU has, and between the single-tensor kernels and the multi-tensor ones.  The
kernel table (tests/kernel_cases/optim.py, optim_multi.py; tests/test_kernels.py) checks one step
of every kernel under every setting against its twin at every SIMD level, the multi-tensor
kernels against the single-tensor ones, optional states, empty arrays and lists, bad input
(nothing written) and the child-process crash check.  Here: multi-step trajectories above the
parallel threshold, every setting at 1/2/3 threads, unaligned views, a known value, the
contracts' signatures and constraint grammar.
"""
import inspect

import numpy as np
import pytest

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


def test_every_kernel_and_twin_has_a_docstring():
    for name in list(SPECS) + [n + "_multi" for n in SPECS]:
        assert getattr(K, name).__doc__ and getattr(R, name).__doc__, name


@pytest.mark.parametrize("name", sorted(set(SPECS) - {"adamw_update"}))
def test_kernels_pass_their_arguments_to_the_contract_in_order(name):
    # Both implementations call the contract positionally: same parameter names, same order.
    for suffix in ("", "_multi"):
        kernel = inspect.signature(getattr(K, name + suffix)).parameters
        twin = inspect.signature(getattr(R, name + suffix)).parameters
        want = inspect.signature(getattr(contract, name + suffix)).parameters
        assert list(kernel) == list(twin) == list(want), name + suffix


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


def test_known_values_first_adam_step():
    # Step 1 of Adam moves every coordinate by lr * sign(g) (up to eps): m_hat/sqrt(v_hat) = g/|g|.
    p = np.zeros(4)
    g = np.array([3.0, -2.0, 0.5, -1e-3])
    K.adam_update(p, g, np.zeros(4), np.zeros(4), None, 1, lr=0.1, eps=0.0)
    np.testing.assert_allclose(p, -0.1 * np.sign(g), rtol=1e-12)


# ------------------------------------------------------------------------------------------
# Multi-tensor kernels: one call for a list of tensors
# ------------------------------------------------------------------------------------------

def make_multi(name, shapes, dtype, steps, seed):
    return [make_problem(name, shape, dtype, steps, seed + j) for j, shape in enumerate(shapes)]


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
