"""fastnn.kernels maxpool2d_forward / maxpool2d_backward: what is specific to pooling.  Twin
parity (bit for bit, ties and NaN included), layouts, any integer argmax dtype, 1/2/3 threads,
error naming and the child-process crash check come from the kernel table
(tests/kernel_cases/pool.py, tests/test_kernels.py).  Here: torch (values AND argmax, ties and
NaN included), the tie and NaN rules by hand, numeric gradients and the argmax race."""
import textwrap

import numpy as np
import pytest
from hypothesis import given, strategies as st

import fastnn
from fastnn import reference
from fastnn.kernels import _pool
from fnn_testutil import same_bits, simd

DTYPES = [np.float32, np.float64]


@st.composite
def pool_cases(draw):
    """Random pooling problems: batch 1..3, 1..3 channels, planes 1..10, pools 1..4 per axis
    (non-square included), stride None (= pool), smaller than the pool (overlapping windows) or
    larger (gaps); values with many ties (small integers, all-equal planes) or distinct."""
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    h, w = draw(st.integers(ph, 10)), draw(st.integers(pw, 10))
    stride = draw(st.one_of(st.none(), st.integers(1, 4),
                            st.tuples(st.integers(1, 4), st.integers(1, 4))))
    pool = ph if ph == pw and draw(st.booleans()) else (ph, pw)
    values = draw(st.sampled_from(["normal", "integers", "equal", "nan"]))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    return dict(shape=(n, c, h, w), pool=pool, stride=stride, values=values, seed=seed)


def _input(case, dtype):
    rng = np.random.default_rng(case["seed"])
    shape = case["shape"]
    if case["values"] == "normal":
        x = rng.standard_normal(shape)
    elif case["values"] == "integers":
        x = rng.integers(-2, 3, shape).astype(np.float64)    # many ties in every window
    elif case["values"] == "equal":
        x = np.full(shape, 1.5)                              # every window one big tie
    else:
        x = rng.integers(-2, 3, shape).astype(np.float64)
        x[rng.random(shape) < 0.15] = np.nan
        x[rng.random(shape) < 0.1] = -np.inf
    return rng, x.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=pool_cases())
def test_pool_matches_torch_values_indices_and_grad(case, dtype):
    torch = pytest.importorskip("torch")
    rng, x = _input(case, dtype)
    pool, stride = case["pool"], case["stride"]
    tx = torch.tensor(x, requires_grad=True)
    ty, tam = torch.nn.functional.max_pool2d(tx, pool, stride, return_indices=True)
    y, am = _pool.maxpool2d_forward(x, pool, stride)
    np.testing.assert_array_equal(y, ty.detach().numpy())
    np.testing.assert_array_equal(am, tam.numpy())
    dy = rng.standard_normal(y.shape).astype(dtype)
    ty.backward(torch.from_numpy(dy))
    dx = _pool.maxpool2d_backward(dy, am, x.shape)
    # torch may add overlapping contributions in another order: equal up to rounding
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-6, atol=1e-6)


# --------------------------------------------------------------------------- the 2x2 planes
# 2x2 windows with stride 2 run their own C planes (src_c/fnn_pool.h) with AVX2 (8 outputs a
# vector, an overlapping last vector) and AVX-512 (16, a masked last vector) variants.  Widths
# 2..41 give rows of 1..20 outputs: shorter than a vector, exactly one, one and a part, several;
# odd W and H leave a column / row no window covers.
def _hostile_2x2(rng, shape, dtype):
    x = rng.integers(-2, 3, shape).astype(np.float64)         # ties in most windows
    x[rng.random(shape) < 0.1] = np.nan
    x[rng.random(shape) < 0.1] = -np.inf
    x[rng.random(shape) < 0.05] = np.inf
    return x.astype(dtype)


@pytest.mark.parametrize("level", fastnn.cpu_simd_levels())
@pytest.mark.parametrize("dtype", DTYPES)
def test_2x2_stride_2_bit_identical_to_twin_at_every_simd_level(level, dtype):
    rng = np.random.default_rng(5)
    for h in (2, 3, 5):
        for w in range(2, 42):
            x = _hostile_2x2(rng, (2, 2, h, w), dtype)
            dy = rng.standard_normal((2, 2, h // 2, w // 2)).astype(dtype)
            dy[0, 0, 0, :] = -0.0                  # the twin adds onto zeros: -0.0 -> +0.0
            dy[1, 1, -1, -1] = np.nan
            with simd(level):
                y, am = _pool.maxpool2d_forward(x, 2)
                dx = _pool.maxpool2d_backward(dy, am, x.shape)
            ry, ram = reference.maxpool2d_forward(x, 2)
            assert same_bits(y, ry) and same_bits(am, ram), (h, w)
            assert same_bits(dx, reference.maxpool2d_backward(dy, ram, x.shape)), (h, w)


@pytest.mark.parametrize("level", fastnn.cpu_simd_levels())
def test_2x2_backward_with_indices_outside_their_cell(level):
    """Backward accepts any index in [0, H*W) (argmax need not come from a 2x2 pooling): a plane
    with an entry outside its own output's 2x2 cell is redone by the general scatter, and the
    result is still the twin's, bit for bit, whether one plane or all of them do that."""
    rng = np.random.default_rng(6)
    for h, w in ((7, 9), (8, 34), (5, 40)):
        x = rng.standard_normal((3, 2, h, w)).astype(np.float32)
        # argmax of a 3x3 / stride 2 pooling: same output plane as 2x2 / 2 for odd h, w ...
        _, am3 = reference.maxpool2d_forward(x, 3, 2)
        _, am = reference.maxpool2d_forward(x, 2)
        if am3.shape == am.shape:
            dy = rng.standard_normal(am3.shape).astype(np.float32)
            with simd(level):
                dx = _pool.maxpool2d_backward(dy, am3, x.shape)
            assert same_bits(dx, reference.maxpool2d_backward(dy, am3, x.shape)), (h, w)
        # ... and one entry moved, in one plane only, to a far cell or a neighbouring one
        for k, moved in enumerate((0, h * w - 1, int(am[1, 1, 0, 0]) + 2)):
            bad = am.copy()
            bad[1, 1, 0, k] = moved
            dy = rng.standard_normal(am.shape).astype(np.float32)
            with simd(level):
                dx = _pool.maxpool2d_backward(dy, bad, x.shape)
            assert same_bits(dx, reference.maxpool2d_backward(dy, bad, x.shape)), (h, w, moved)


@pytest.mark.parametrize("dtype", DTYPES)
def test_2x2_bit_identical_at_1_2_3_threads(dtype):
    rng = np.random.default_rng(7)
    x = _hostile_2x2(rng, (3, 5, 11, 37), dtype)
    results = []
    for n in (1, 2, 3):
        with fastnn._config.threads(n):
            y, am = _pool.maxpool2d_forward(x, 2)
            dy = np.random.default_rng(8).standard_normal(y.shape).astype(dtype)
            results.append((y, am, _pool.maxpool2d_backward(dy, am, x.shape)))
    for other in results[1:]:
        assert all(same_bits(a, b) for a, b in zip(results[0], other))


def test_ties_pick_the_first_and_nan_propagates():
    x = np.array([[[[1.0, 3.0, 3.0, 0.0],
                    [3.0, 2.0, np.nan, 5.0],
                    [7.0, 7.0, -np.inf, -np.inf],
                    [7.0, 7.0, -np.inf, -np.inf]]]])
    y, am = _pool.maxpool2d_forward(x, 2)
    # window (0,0): 3 at (0,1) and (1,0) -> first in row-major order, flat index 1
    # window (0,1): NaN at (1,2) beats 5 -> NaN, index 6; window (1,0): all 7 -> index 8
    # window (1,1): all -inf -> -inf at the window's first index, 10
    np.testing.assert_array_equal(y[0, 0], [[3.0, np.nan], [7.0, -np.inf]])
    np.testing.assert_array_equal(am[0, 0], [[1, 6], [8, 10]])
    assert np.isnan(_pool.maxpool2d_forward(x, 4)[0]).all()


def test_overlapping_windows_add_gradients():
    # 1 x 1 x 1 x 5 input, pool (1, 3), stride 1: the 9 in the middle wins all three windows.
    x = np.array([[[[1.0, 2.0, 9.0, 3.0, 4.0]]]])
    y, am = _pool.maxpool2d_forward(x, (1, 3), 1)
    np.testing.assert_array_equal(am.ravel(), [2, 2, 2])
    dx = _pool.maxpool2d_backward(np.array([[[[1.0, 10.0, 100.0]]]]), am, x.shape)
    np.testing.assert_array_equal(dx.ravel(), [0, 0, 111.0, 0, 0])


@pytest.mark.parametrize("pool,stride", [(2, None), ((2, 3), (1, 2)), (3, 1), ((1, 2), 3)])
def test_pool_gradient_matches_centred_differences(pool, stride):
    """float64, all values distinct integers (>= 1 apart), so a step of h = 0.25 never changes a
    winner; the loss is then linear in each input and the centred difference is exact up to
    rounding (a large h keeps that rounding, ~eps*|loss|/h, far below the tolerance)."""
    rng = np.random.default_rng(1)
    x = rng.permutation(2 * 2 * 6 * 7).astype(np.float64).reshape(2, 2, 6, 7)
    y, am = _pool.maxpool2d_forward(x, pool, stride)
    r = rng.standard_normal(y.shape)
    dx = _pool.maxpool2d_backward(r, am, x.shape)
    h = 0.25
    num = np.empty_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + h
        up = np.vdot(_pool.maxpool2d_forward(x, pool, stride)[0], r)
        x[idx] = old - h
        down = np.vdot(_pool.maxpool2d_forward(x, pool, stride)[0], r)
        x[idx] = old
        num[idx] = (up - down) / (2 * h)
    np.testing.assert_allclose(dx, num, rtol=1e-9, atol=1e-9)


def test_api_names():
    assert set(_pool.__all__) == {"maxpool2d_forward", "maxpool2d_backward"}
    for name in _pool.__all__:
        assert getattr(fastnn.kernels, name) is getattr(_pool, name)
        assert callable(getattr(reference, name))


def test_argmax_changed_by_another_thread_never_writes_outside_dx(run_child):
    """maxpool2d_backward checks argmax, then scatters through it with the GIL released.  Another
    Python thread flips entries of the same (int64, C-contiguous: not copied) array between a
    valid index and one far out of range for ~2 seconds; every call must either raise ValueError
    (from the check, or from the scatter, which re-checks each index where it uses it) or give
    exactly the right dx, and the process must exit cleanly (an out-of-range write would crash
    it)."""
    code = textwrap.dedent("""
        import threading, time
        import numpy as np
        from fastnn.kernels import _pool
        rng = np.random.default_rng(0)
        x = rng.standard_normal((32, 16, 32, 32)).astype(np.float32)
        y, am = _pool.maxpool2d_forward(x, 2)
        dy = rng.standard_normal(y.shape).astype(np.float32)
        expected = _pool.maxpool2d_backward(dy, am, x.shape)
        flat = am.reshape(-1)
        good = flat[::997].copy()
        stop = False

        def flip():
            while not stop:
                flat[::997] = 10 ** 10
                flat[::997] = -(10 ** 10)
                flat[::997] = good

        t = threading.Thread(target=flip, daemon=True)
        t.start()
        calls = errors = 0
        t_end = time.monotonic() + 2.0
        while time.monotonic() < t_end:
            calls += 1
            try:
                dx = _pool.maxpool2d_backward(dy, am, x.shape)
            except ValueError as e:
                assert "argmax" in str(e), e
                errors += 1
            else:
                assert np.array_equal(dx, expected)
        stop = True
        t.join()
        print("ok", calls, errors)
    """)
    res = run_child(code, timeout=120)
    assert res.returncode == 0, res.stderr
    words = res.stdout.split()
    assert words[0] == "ok" and int(words[1]) > 10, res.stdout
