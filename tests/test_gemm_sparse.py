"""The GEMM's zero-skipping path for a sparse A (src_c/fnn_gemm_sparse.h).

Its promise is the dense path's bits: each element is the dense FMA chain minus the steps that add
+-0.  So every test here runs a product twice, with ``set_gemm_sparse_a('always')`` and 'off',
checks through the path counter that the first really took the zero-skipping path, and compares
the bits, at every SIMD level the CPU has, in both dtypes, over shapes that cross the kernels'
tile width (64 float / 32 double columns) and the row blocks.  Then: what must send a call to
the dense path (a non-finite B, beta != 0, B's rows not contiguous), what 'auto' decides,
thread-count independence, and the mode's argument checks.
"""
import numpy as np
import pytest

import fastnn
from fastnn import kernels
from fastnn.kernels import _gemm

DTYPES = [np.float32, np.float64]
ACTS = [None, "relu", "sigmoid", "tanh", "elu"]


@pytest.fixture
def sparse_mode_restored():
    previous = kernels.set_gemm_sparse_a("auto")
    kernels.set_gemm_sparse_a(previous)
    try:
        yield
    finally:
        kernels.set_gemm_sparse_a(previous)


def _bits(x):
    return x.view(np.int32 if x.dtype == np.float32 else np.int64)


def _sparse(rng, shape, dtype, density):
    """Normal values with about 1 - density of them zero, some of the zeros -0.0 and some
    denormals (which the GEMM reads as zero), one NaN-free, inf-free matrix."""
    x = rng.standard_normal(shape).astype(dtype)
    zero = rng.random(shape) >= density
    x[zero] = 0
    flip = zero & (rng.random(shape) < 0.2)
    x[flip] = -0.0
    tiny = zero & (rng.random(shape) < 0.05)
    x[tiny] = np.finfo(dtype).tiny / 4
    return x


def _run(mode, f):
    """f() with the path mode set; returns (result copy, whether the sparse path ran)."""
    previous = kernels.set_gemm_sparse_a(mode)
    try:
        before = _gemm._sparse_a_calls()
        out = np.array(f(), copy=True)
        return out, _gemm._sparse_a_calls() > before
    finally:
        kernels.set_gemm_sparse_a(previous)


def _same_bits_both_paths(f):
    got, took = _run("always", f)
    want, took_dense = _run("off", f)
    assert took and not took_dense
    assert np.array_equal(_bits(got), _bits(want))
    return got


SHAPES = [(1, 1, 1), (3, 5, 7), (33, 17, 64), (40, 9, 65), (7, 200, 130), (130, 31, 33),
          (300, 12, 129), (64, 784, 96)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("trans_a", [False, True])
def test_same_bits_as_the_dense_path(dtype, trans_a, each_simd_level, sparse_mode_restored):
    rng = np.random.default_rng(1)

    def body(level):
        for m, k, n in SHAPES:
            for density in (0.0, 0.15, 0.6, 1.0):
                a = _sparse(rng, (m, k), dtype, density)
                b = rng.standard_normal((k, n)).astype(dtype)
                operand = np.ascontiguousarray(a.T) if trans_a else a
                got = _same_bits_both_paths(
                    lambda x=operand, y=b: kernels.matmul(x, y, trans_a=trans_a))
                # the GEMM reads denormals as zero (DAZ): so does the exact product here
                a64 = np.where(np.abs(a) < np.finfo(dtype).tiny, 0, a).astype(np.float64)
                exact = a64 @ b.astype(np.float64)
                tol = 2 * k * np.finfo(dtype).eps * (np.abs(a64) @ np.abs(b).astype(np.float64))
                assert np.all(np.abs(got - exact) <= tol + 4 * np.finfo(dtype).tiny), (level,)
    each_simd_level(body)


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_read_through_any_strides(dtype, sparse_mode_restored):
    """A as a view with negative strides, every other row and column, or Fortran order: each
    row's list is still built in ascending k (row by row or column by column)."""
    rng = np.random.default_rng(10)
    for m, k, n in ((40, 37, 70), (33, 130, 65)):
        a = _sparse(rng, (m, k), dtype, 0.2)
        b = rng.standard_normal((k, n)).astype(dtype)
        big = np.zeros((2 * m, 3 * k), dtype)
        big[::2, ::3] = a
        views = [a[::-1, ::-1].copy()[::-1, ::-1], big[::2, ::3], np.asfortranarray(a)]
        for view in views:
            assert np.array_equal(view, a)
            _same_bits_both_paths(lambda view=view, b=b: kernels.matmul(view, b))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTS)
def test_bias_and_activation_epilogue(dtype, act, each_simd_level, sparse_mode_restored):
    rng = np.random.default_rng(2)

    def body(level):
        x = _sparse(rng, (70, 100), dtype, 0.2)
        w = rng.standard_normal((100, 75)).astype(dtype)
        b = rng.standard_normal(75).astype(dtype)
        _same_bits_both_paths(lambda: kernels.matmul_bias(x, w, b, activation=act))
    each_simd_level(body)


@pytest.mark.parametrize("dtype", DTYPES)
def test_row_bias_and_batch(dtype, sparse_mode_restored):
    """The private batched entry: several items (each its own lists), bias per row of C."""
    rng = np.random.default_rng(3)
    a = _sparse(rng, (3, 45, 50), dtype, 0.25)
    b = rng.standard_normal((3, 50, 70)).astype(dtype)
    bias = rng.standard_normal(45).astype(dtype)
    _same_bits_both_paths(lambda: _gemm._gemm_ex(a, b, np.empty((3, 45, 70), dtype), bias=bias,
                                                 bias_mode="row", activation="relu"))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_a_non_finite_b_takes_the_dense_path(dtype, threads, each_simd_level,
                                             sparse_mode_restored):
    """0 * inf is NaN in the dense chain; skipping the zero would hide it.  B is tested as its
    tiles are copied, so C may be partly written when the bad value turns up (first, middle or
    last k-block, first or last column tile, a full tile or the partial one): the dense path then
    writes all of C again, and the result is the dense path's, bit for bit, NaNs included."""
    rng = np.random.default_rng(4)

    def body(level):
        for row, col in ((0, 7), (150, 70), (299, 140), (299, 127)):
            a = _sparse(rng, (100, 300), dtype, 0.3)
            a[:, row] = 0
            b = rng.standard_normal((300, 150)).astype(dtype)
            for bad in (np.inf, -np.inf, np.nan):
                b[row, col] = bad
                out = np.full((100, 150), 7.0, dtype)     # stale values the path must not keep
                got, took = _run("always", lambda a=a, b=b, out=out: kernels.matmul(a, b, out=out))
                want, _ = _run("off", lambda a=a, b=b: kernels.matmul(a, b))
                assert not took, (level, row, col, bad)
                assert np.isnan(got[:, col]).all()
                assert np.array_equal(_bits(got), _bits(want)), (level, row, col, bad)

    with fastnn.threads(threads):
        each_simd_level(body)


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_non_finite_b_in_a_later_batch_item(dtype, sparse_mode_restored):
    """Batched: items before the bad one went through the sparse path, and are written again
    by the dense one with the rest."""
    rng = np.random.default_rng(5)
    a = _sparse(rng, (3, 45, 130), dtype, 0.25)
    b = rng.standard_normal((3, 130, 70)).astype(dtype)
    b[2, 100, 3] = np.inf
    for threads in (1, 2, 3):
        with fastnn.threads(threads):
            got, took = _run("always", lambda: _gemm._gemm_ex(
                a, b, np.full((3, 45, 70), 7.0, dtype), activation="relu"))
            want, _ = _run("off", lambda: _gemm._gemm_ex(a, b, np.empty((3, 45, 70), dtype),
                                                         activation="relu"))
        assert not took
        assert np.array_equal(_bits(got), _bits(want)), threads


def test_non_finite_a_values_are_kept(sparse_mode_restored):
    """NaN and inf in A are not zeros: they reach C as in the dense path."""
    rng = np.random.default_rng(5)
    a = _sparse(rng, (40, 30), np.float32, 0.2)
    a[3, 4], a[9, 11] = np.nan, -np.inf
    b = rng.standard_normal((30, 50)).astype(np.float32)
    got = _same_bits_both_paths(lambda: kernels.matmul(a, b))
    assert np.isnan(got[3]).all() and not np.isfinite(got[9]).any()


def test_beta_and_strided_b_take_the_dense_path(sparse_mode_restored):
    rng = np.random.default_rng(6)
    a = _sparse(rng, (40, 30), np.float32, 0.2)
    b = rng.standard_normal((30, 50)).astype(np.float32)
    c = rng.standard_normal((40, 50)).astype(np.float32)
    _, took = _run("always", lambda: _gemm._gemm_ex(a, b, c.copy(), beta=0.5))
    assert not took
    _, took = _run("always", lambda: kernels.matmul(a, np.asfortranarray(b)))
    assert not took           # B's rows not contiguous


def test_auto_takes_it_for_sparse_inputs_only(sparse_mode_restored):
    rng = np.random.default_rng(7)
    w = rng.standard_normal((784, 256)).astype(np.float32)
    sparse = _sparse(rng, (128, 784), np.float32, 0.15)
    dense = rng.standard_normal((128, 784)).astype(np.float32)
    assert _run("auto", lambda: kernels.matmul(sparse, w))[1]
    assert not _run("auto", lambda: kernels.matmul(dense, w))[1]
    half = _sparse(rng, (128, 784), np.float32, 0.5)
    assert not _run("auto", lambda: kernels.matmul(half, w))[1]              # too dense
    assert not _run("auto", lambda: kernels.matmul(sparse[:8], w))[1]       # too few rows
    assert not _run("off", lambda: kernels.matmul(sparse, w))[1]


def test_auto_asks_more_of_a_transposed_a(sparse_mode_restored):
    # x^T @ dz builds its lists by scanning all of A: 'auto' takes it only for a sparser A (at
    # most 30% nonzero, AVX2) and a C at least 256 columns wide
    if fastnn.get_simd() == "avx512":
        pytest.skip("the AVX-512 level halves the limits")
    rng = np.random.default_rng(10)
    x = _sparse(rng, (128, 784), np.float32, 0.15)
    x40 = _sparse(rng, (128, 784), np.float32, 0.4)
    dz256 = rng.standard_normal((128, 256)).astype(np.float32)
    assert _run("auto", lambda: kernels.matmul(x, dz256, trans_a=True))[1]
    assert not _run("auto", lambda: kernels.matmul(x40, dz256, trans_a=True))[1]   # too dense
    assert not _run("auto", lambda: kernels.matmul(x, dz256[:, :128], trans_a=True))[1]
    # the row path at the same density and width still takes it
    w = rng.standard_normal((784, 128)).astype(np.float32)
    assert _run("auto", lambda: kernels.matmul(x40, w))[1]


@pytest.mark.parametrize("dtype", DTYPES)
def test_bit_identical_at_any_thread_count(dtype, sparse_mode_restored):
    rng = np.random.default_rng(8)
    a = _sparse(rng, (300, 200), dtype, 0.2)
    b = rng.standard_normal((200, 150)).astype(dtype)
    saved = fastnn.get_num_threads()
    try:
        results = []
        for t in (1, 2, 3, 5):
            fastnn.set_num_threads(t)
            results.append(_run("always", lambda: kernels.matmul(a, b, trans_a=False))[0])
            results.append(_run("always", lambda: kernels.matmul(
                np.ascontiguousarray(a.T), b, trans_a=True))[0])
    finally:
        fastnn.set_num_threads(saved)
    for r in results[1:]:
        assert np.array_equal(_bits(r), _bits(results[0]))


def test_mode_is_reported_and_checked(sparse_mode_restored):
    assert kernels.set_gemm_sparse_a("off") in ("auto", "off", "always")
    assert kernels.gemm_config()["sparse_a"] == "off"
    assert kernels.set_gemm_sparse_a("always") == "off"
    assert fastnn.build_info()["gemm"]["sparse_a"] == "always"
    with pytest.raises(ValueError, match="mode must be 'auto', 'off' or 'always', got 'on'"):
        kernels.set_gemm_sparse_a("on")
    with pytest.raises(TypeError, match="mode must be a str"):
        kernels.set_gemm_sparse_a(1)
    assert kernels.gemm_config()["sparse_a"] == "always"


def test_training_on_sparse_inputs_gives_the_same_weights_with_and_without_it(
        sparse_mode_restored):
    """End to end: a few fit steps of the lab MLP on image-like inputs (80% zeros, so 'auto'
    takes the path for the first layer's products) leave the same bits as with the path off."""
    from fastnn import zoo
    rng = np.random.default_rng(9)
    x = rng.random((512, 784)).astype(np.float32)
    x[rng.random(x.shape) < 0.8] = 0
    y = rng.integers(0, 10, 512)
    weights = {}
    for mode in ("auto", "off"):
        kernels.set_gemm_sparse_a(mode)
        before = _gemm._sparse_a_calls()
        model = zoo.mlp(seed=0)
        model.fit(x, y, epochs=1, batch_size=128, seed=0, verbose=0)
        took = _gemm._sparse_a_calls() - before
        assert (took > 0) == (mode == "auto")
        weights[mode] = [w.copy() for w in model.get_weights()]
    for a, b in zip(weights["auto"], weights["off"]):
        assert np.array_equal(_bits(a), _bits(b))
