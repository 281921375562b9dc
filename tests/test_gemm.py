"""fastnn.kernels matmul / matmul_bias (the C GEMM): what is specific to the GEMM.

Twin parity at every SIMD level, memory layouts, out=, 1/2/3 threads, error naming and the
child-process crash check come from the kernel table (tests/kernel_cases/gemm.py,
tests/test_kernels.py) on small shapes.  Here: large shapes up to every tile and block edge, the
micro-kernel chosen per SIMD level, more thread counts, the private batched ``_gemm_ex``.

Accuracy is checked against the rigorous bound for any summation order,
|computed - exact| <= 2 K eps (|op(a)| @ |op(b)|), with ``exact`` computed in float64 (float32
inputs) or checked against float64 at its own eps (float64 inputs), so a wrong index, a missed
edge tile or a dropped k-block fails while rounding differences do not.
"""
import os
import sys

import numpy as np
import pytest
from hypothesis import given, strategies as st

import fastnn
from fastnn import reference
from fastnn.kernels import _gemm, _runtime
from fnn_testutil import assert_raise_in_child, run_child

matmul, matmul_bias = _gemm.matmul, _gemm.matmul_bias
DTYPES = [np.float32, np.float64]
ACTS = [None, "relu", "sigmoid", "tanh", "elu"]

# Dimensions that hit every edge case of the tiles (6x16 / 6x8 AVX2, 12x32 / 12x16 AVX-512): 1,
# odd, primes, one less/more than a multiple of MR and NR.  The cache blocks (MC, KC, NC depend on
# the machine) are crossed on purpose by test_blocking_never_changes_a_bit, which sets them small.
DIMS = st.one_of(st.integers(1, 200),
                 st.sampled_from([1, 2, 5, 6, 7, 8, 15, 16, 17, 31, 71, 73, 97, 127, 143, 145,
                                  191, 197, 199]))
LAYOUTS = ["C", "F", "sliced", "negative"]


def _layout(x, layout, rng):
    """The same values as x, stored with the requested memory layout."""
    if layout == "C":
        return np.ascontiguousarray(x)
    if layout == "F":
        return np.asfortranarray(x)
    if layout == "sliced":
        # Every other row and column of a larger array: strides are not the natural ones.
        big = rng.standard_normal((2 * x.shape[0] + 1, 3 * x.shape[1] + 2)).astype(x.dtype)
        view = big[1::2, 2::3][: x.shape[0], : x.shape[1]]
        view[...] = x
        return view
    if layout == "negative":
        return np.ascontiguousarray(x[::-1, ::-1])[::-1, ::-1]
    raise AssertionError(layout)


def _bound(op_a, op_b, dtype):
    """2 K eps (|a| @ |b|) plus a tiny absolute slack for FTZ'd denormals."""
    k = op_a.shape[1]
    eps = np.finfo(dtype).eps
    mag = np.abs(op_a.astype(np.float64)) @ np.abs(op_b.astype(np.float64))
    return 2 * max(k, 1) * eps * mag + 4 * np.finfo(dtype).tiny


def _exact(op_a, op_b):
    return op_a.astype(np.float64) @ op_b.astype(np.float64)


def _assert_gemm_close(c, op_a, op_b):
    exact = _exact(op_a, op_b)
    err = np.abs(c.astype(np.float64) - exact)
    bound = _bound(op_a, op_b, c.dtype)
    assert np.all(err <= bound), "max err %g, bound there %g" % (
        err.max(), bound.flat[np.argmax(err - bound)])


@given(m=DIMS, k=DIMS, n=DIMS, dtype=st.sampled_from(DTYPES), trans_a=st.booleans(),
       trans_b=st.booleans(), layout_a=st.sampled_from(LAYOUTS),
       layout_b=st.sampled_from(LAYOUTS), seed=st.integers(0, 2**31 - 1))
def test_matmul_random_shapes_layouts_transposes(m, k, n, dtype, trans_a, trans_b, layout_a,
                                                 layout_b, seed):
    rng = np.random.default_rng(seed)
    op_a = rng.standard_normal((m, k)).astype(dtype)
    op_b = rng.standard_normal((k, n)).astype(dtype)
    a = _layout(op_a.T if trans_a else op_a, layout_a, rng)
    b = _layout(op_b.T if trans_b else op_b, layout_b, rng)
    c = matmul(a, b, trans_a=trans_a, trans_b=trans_b)
    assert c.shape == (m, n) and c.dtype == dtype and c.flags.c_contiguous
    _assert_gemm_close(c, op_a, op_b)


@given(n=DIMS, k=DIMS, m=DIMS, dtype=st.sampled_from(DTYPES), act=st.sampled_from(ACTS),
       seed=st.integers(0, 2**31 - 1), layout_x=st.sampled_from(LAYOUTS))
def test_matmul_bias_matches_reference(n, k, m, dtype, act, seed, layout_x):
    rng = np.random.default_rng(seed)
    x = _layout(rng.standard_normal((n, k)).astype(dtype), layout_x, rng)
    w = (rng.standard_normal((k, m)) / np.sqrt(k)).astype(dtype)
    b = rng.standard_normal(m).astype(dtype)
    y = matmul_bias(x, w, b, activation=act, elu_alpha=0.7)
    ref = reference.matmul_bias(x, w, b, activation=act, elu_alpha=0.7)
    # Pre-activation error is bounded as for GEMM (+ one rounding for the bias); every activation
    # here has slope <= 1 (elu: alpha < 1), and libm vs NumPy differ by a few ulps.
    pre = (np.abs(x.astype(np.float64)) @ np.abs(w.astype(np.float64)) + np.abs(b))
    eps = np.finfo(dtype).eps
    tol = 2 * (k + 1) * eps * pre + 8 * eps * np.maximum(np.abs(ref), 1e-30) + 4 * np.finfo(
        dtype).tiny
    assert y.dtype == dtype and y.shape == (n, m)
    assert np.all(np.abs(y.astype(np.float64) - ref) <= 2 * tol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_float64_near_machine_precision_and_float32_close(dtype):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((97, 513)).astype(dtype)
    b = rng.standard_normal((513, 131)).astype(dtype)
    c = matmul(a, b)
    exact = _exact(a, b)
    rel = np.abs(c - exact).max() / np.abs(exact).max()
    # random-sign sums: the error grows like sqrt(K) eps, far inside the worst-case K eps bound
    assert rel < 4 * np.finfo(dtype).eps * np.sqrt(513)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [
    (1, 784, 256),        # batch of one: a vector-matrix product
    (128, 128, 10),       # skinny output (runs transposed internally)
    (3, 1500, 5),         # K crosses KC (several equal k-blocks)
    (300, 40, 7),         # several row panels, an edge panel
    (5, 9, 4200),         # N crosses NC
    (145, 257, 17),       # one past tile sizes
    (6, 100, 17),         # transposed second call runs in the swapped (C^T) orientation
])
def test_block_boundaries(dtype, shape):
    m, k, n = shape
    rng = np.random.default_rng(1)
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    _assert_gemm_close(matmul(a, b), a, b)
    _assert_gemm_close(matmul(b, a, trans_a=True, trans_b=True), b.T, a.T)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("shape", [(64, 1100, 40), (7, 64, 600),
                                   (128, 128, 10), (203, 150, 9), (3, 900, 200)])
def test_bit_identical_at_any_thread_count(dtype, act, shape):
    """Beyond the table's 1/2/3-thread check (150x300x170): K over several k-blocks, a wide N,
    every activation, 5 threads, and the transposed read of the same matrix.  The last three
    shapes take the in-place paths on several threads (a skinny N cut into one run of rows per
    thread, a small M cut into column units)."""
    m, k, n = shape
    rng = np.random.default_rng(2)
    x = rng.standard_normal((m, k)).astype(dtype)
    w = rng.standard_normal((k, n)).astype(dtype) / 10
    b = rng.standard_normal(n).astype(dtype)
    results = []
    for nt in (1, 2, 3, 5):
        with fastnn.threads(nt):
            results.append((matmul(x, w), matmul(x.T.copy(), w, trans_a=True),
                            matmul_bias(x, w, b, activation=act)))
    for other in results[1:]:
        for r0, r1 in zip(results[0], other):
            assert np.array_equal(r0, r1)  # bitwise, not approximately
    # the transposed read of the same matrix takes another packing path, same bits
    assert np.array_equal(results[0][0], results[0][1])


@pytest.mark.parametrize("dtype", DTYPES)
def test_fused_relu_with_zero_bias_is_relu_of_the_product(dtype):
    """The epilogue adds the bias and applies the activation to the finished sum: the product's
    bits are those of matmul (a fused epilogue that summed in another order would differ)."""
    rng = np.random.default_rng(3)
    a = rng.standard_normal((37, 300)).astype(dtype)
    b = rng.standard_normal((300, 41)).astype(dtype)
    fused = matmul_bias(a, b, np.zeros(41, dtype), activation="relu")
    assert np.array_equal(fused, np.maximum(matmul(a, b), 0))


def test_sigmoid_and_elu_extremes_are_finite():
    x = np.array([[1.0], [-1.0]], np.float32)
    w = np.array([[1e4, -1e4, 0.0]], np.float32)
    b = np.zeros(3, np.float32)
    s = matmul_bias(x, w, b, activation="sigmoid")
    assert np.array_equal(s, np.array([[1, 0, 0.5], [0, 1, 0.5]], np.float32))
    e = matmul_bias(x, w, b, activation="elu", elu_alpha=2.0)
    assert np.array_equal(e, np.array([[1e4, -2, 0], [-2, 1e4, 0]], np.float32))
    t = matmul_bias(x, w, b, activation="tanh")
    assert np.array_equal(t, np.array([[1, -1, 0], [-1, 1, 0]], np.float32))


def test_ftz_inside_kernel_and_caller_mxcsr_restored():
    tiny = np.float32(1e-39)  # a float32 denormal
    a = np.full((8, 4), tiny, np.float32)
    b = np.ones((4, 8), np.float32)
    c = matmul(a, b)
    # DAZ reads the denormal inputs as zero inside the kernel ...
    assert np.all(c == 0)
    # ... and the caller's floating-point mode is back to normal afterwards.
    assert tiny * np.float32(1.0) != 0
    assert np.float32(1e-38) / np.float32(100) != 0


# ----------------------------------------------------------------- the C kernel's full surface
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("beta", [0.0, 1.0, -0.5])
@pytest.mark.parametrize("bias_mode", [None, "row", "col"])
def test_batched_beta_bias(dtype, beta, bias_mode):
    rng = np.random.default_rng(4)
    batch, m, k, n = 3, 23, 270, 29
    a = rng.standard_normal((batch, m, k)).astype(dtype)
    b_shared = rng.standard_normal((n, k)).astype(dtype)  # 2-D: shared by the batch, read as B^T
    c = rng.standard_normal((batch, m, n)).astype(dtype)
    c0 = c.copy()
    bias = None if bias_mode is None else rng.standard_normal(m if bias_mode == "row" else n
                                                              ).astype(dtype)
    res = _gemm._gemm_ex(a, b_shared, c, beta=beta, bias=bias, bias_mode=bias_mode,
                         activation="tanh", trans_b=True)
    assert res is c
    exact = beta * c0.astype(np.float64) + _exact(a, b_shared.T)
    if bias_mode == "row":
        exact += bias[None, :, None]
    elif bias_mode == "col":
        exact += bias[None, None, :]
    eps = np.finfo(dtype).eps
    mag = np.abs(a.astype(np.float64)) @ np.abs(b_shared.T) + np.abs(beta * c0) + 1
    assert np.all(np.abs(c - np.tanh(exact)) <= 2 * (k + 2) * eps * mag)


def test_gemm_ex_c_obeys_the_out_rule():
    """c is written in place: the one out= rule of fastnn._validate applies to it."""
    a = np.ones((3, 4), np.float32)
    b = np.ones((4, 5), np.float32)
    with pytest.raises(ValueError, match="c must be C-contiguous"):
        _gemm._gemm_ex(a, b, np.empty((3, 10), np.float32)[:, ::2])
    ro = np.empty((3, 5), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="c must be writeable"):
        _gemm._gemm_ex(a, b, ro)
    buf = np.ones((3, 5), np.float32)
    with pytest.raises(ValueError, match="c must not share memory with bias"):
        _gemm._gemm_ex(a, b, buf, bias=buf[0], bias_mode="col")
    with pytest.raises(ValueError, match="c must not share memory with a"):
        _gemm._gemm_ex(buf[:, :4], b, buf)


@pytest.mark.parametrize("dtype", DTYPES)
def test_k_zero_gives_beta_c_plus_bias(dtype):
    c = np.full((5, 7), 2.0, dtype)
    bias = np.arange(7, dtype=dtype)
    _gemm._gemm_ex(np.ones((5, 0), dtype), np.ones((0, 7), dtype), c, beta=0.5, bias=bias,
                   bias_mode="col", activation="relu")
    assert np.array_equal(c, np.broadcast_to(1.0 + bias, (5, 7)))
    c[...] = np.nan
    _gemm._gemm_ex(np.ones((5, 0), dtype), np.ones((0, 7), dtype), c)  # beta 0: NaN not read
    assert np.array_equal(c, np.zeros((5, 7), dtype))


def test_batched_bit_identical_across_threads():
    rng = np.random.default_rng(5)
    a = rng.standard_normal((5, 70, 90)).astype(np.float32)
    b = rng.standard_normal((5, 90, 110)).astype(np.float32)
    outs = []
    for nt in (1, 2, 4):
        c = np.empty((5, 70, 110), np.float32)
        with fastnn.threads(nt):
            _gemm._gemm_ex(a, b, c)
        outs.append(c)
    assert all(np.array_equal(outs[0], o) for o in outs[1:])
    for i in range(5):
        _assert_gemm_close(outs[0][i], a[i], b[i])


def test_fast_path_leaves_unusual_inputs_to_the_contract():
    """The compiled wrappers' fast path takes only plain cases; everything else (subclasses,
    byte-swapped or misaligned data, an out that overlaps an input's bytes without sharing
    elements, numpy bools, int elu_alpha) gets the contract's answer, as the twin does."""
    rng = np.random.default_rng(12)
    a = rng.standard_normal((5, 7)).astype(np.float32)
    b = rng.standard_normal((7, 3)).astype(np.float32)
    ref = reference.matmul(a, b)
    # a subclass of ndarray and numpy bools are accepted (by the contract path)
    assert np.array_equal(matmul(a.view(np.matrix), b), ref)
    assert np.array_equal(matmul(a, b, trans_a=np.False_), ref)
    # misaligned float32 data (a 4-byte element at an odd address) is copied, not misread
    raw = np.zeros(5 * 7 * 4 + 1, np.uint8)
    mis = raw[1:].view(np.float32).reshape(5, 7)
    mis[...] = a
    assert not mis.flags.aligned
    assert np.array_equal(matmul(mis, b), ref)
    # byte-swapped data is refused with the contract's TypeError, by both implementations
    for mod in (_gemm, reference):
        with pytest.raises(TypeError, match="a must have dtype"):
            mod.matmul(a.astype(">f4"), b)
    # out lies between the rows of an input: the byte ranges meet, no element is shared, so it
    # is allowed (the exact test decides)
    buf = rng.standard_normal((10, 5)).astype(np.float32)
    rows, out = buf[0::2], buf[1:2]
    x = np.ones((1, 5), np.float32)
    expected = reference.matmul(x, rows.copy())
    assert matmul(x, rows, out=out) is out and np.array_equal(out, expected)
    # a read-only out is refused with the contract's message
    ro = np.empty((5, 3), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="out must be writeable"):
        matmul(a, b, out=ro)
    # elu_alpha as an int, activation as a non-string
    bias = np.zeros(3, np.float32)
    assert np.array_equal(matmul_bias(a, b, bias, "elu", elu_alpha=2),
                          matmul_bias(a, b, bias, "elu", elu_alpha=2.0))
    with pytest.raises(ValueError, match="activation must be one of"):
        matmul_bias(a, b, bias, activation=["relu"])
    with pytest.raises(ValueError, match="elu_alpha must be finite"):
        matmul_bias(a, b, bias, "elu", elu_alpha=float("inf"))


# ----------------------------------------------------------------- child processes
def test_gemm_ex_bad_input_in_child_process_raises_not_crash():
    """The private _gemm_ex (batched, beta, bias modes; not in the kernel table): bad c and bias
    shapes are refused before the C code runs (a crash would kill the child)."""
    assert_raise_in_child(
        "import numpy as np\n"
        "from fastnn.kernels import _gemm\n"
        "a, b = np.ones((3, 4), np.float32), np.ones((4, 5), np.float32)\n"
        "CALLS = [\n"
        "    ('c shape', lambda: _gemm._gemm_ex(a, b, np.empty((3, 6), np.float32)),\n"
        "     ValueError),\n"
        "    ('bias length', lambda: _gemm._gemm_ex(a, b, np.empty((3, 5), np.float32),\n"
        "                                           bias=np.ones(4, np.float32),\n"
        "                                           bias_mode='col'), ValueError),\n"
        "]\n")


def test_generic_microkernel_from_the_environment_in_child_process():
    """FASTNN_SIMD=generic (read once at import) selects the plain-C micro-kernels (what they
    compute at that level: the table and test_every_simd_level_matches_the_twin)."""
    proc = run_child("""
        import fastnn
        from fastnn.kernels import _gemm
        assert fastnn.get_simd() == "generic", fastnn.get_simd()
        assert _gemm._ukr_name() == "generic", _gemm._ukr_name()
        print("ok")
    """, {"FASTNN_SIMD": "generic"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_simd_level_matches_the_twin(dtype, each_simd_level):
    """matmul and matmul_bias at every level the CPU has: the micro-kernel chosen is the best at
    or below the level, results are within the GEMM bound of the exact product and of the twin,
    and bit-identical at 1, 2 and 3 threads."""
    rng = np.random.default_rng(8)
    # packed (wide N) and direct (skinny N) paths, edge tiles, two k-blocks
    shapes = [(37, 300, 53), (70, 290, 9), (6, 16, 16), (1, 5, 1)]
    cases = []
    for m, k, n in shapes:
        a = rng.standard_normal((m, k)).astype(dtype)
        b = rng.standard_normal((k, n)).astype(dtype)
        cases.append((a, b, rng.standard_normal(n).astype(dtype)))

    def body(level):
        names = fastnn.cpu_simd_levels()
        ukr = _gemm._ukr_name()
        assert ukr in names[:names.index(level) + 1], (level, ukr)
        if level == "generic":
            assert ukr == "generic"
        for a, b, bias in cases:
            outs = []
            for nt in (1, 2, 3):
                with fastnn.threads(nt):
                    outs.append((matmul(a, b), matmul(a.T.copy(), b, trans_a=True),
                                 matmul_bias(a, b, bias, activation="tanh")))
            for other in outs[1:]:
                for r0, r1 in zip(outs[0], other):
                    assert np.array_equal(r0, r1), level
            c, ct, cb = outs[0]
            assert np.array_equal(c, ct), level
            _assert_gemm_close(c, a, b)
            k = a.shape[1]
            ref = reference.matmul_bias(a, b, bias, activation="tanh")
            pre = np.abs(a.astype(np.float64)) @ np.abs(b.astype(np.float64)) + np.abs(bias)
            eps = np.finfo(dtype).eps
            assert np.all(np.abs(cb - ref) <= 4 * (k + 1) * eps * pre + 16 * eps), level
    each_simd_level(body)


# ----------------------------------------------------------------- SIMD levels and blocking
_BIT_SHAPES = [(37, 300, 53), (70, 290, 9), (9, 40, 130), (128, 784, 256), (1, 784, 256),
               (128, 128, 10), (100, 50, 2), (13, 1000, 70), (3, 100, 40),
               # last column panels of exactly, and one more than, half a tile's columns
               # (AVX-512 float: 48 = 32 + 16, 49 = 32 + 17; double: 40 = 2 x 16 + 8, 49):
               # the half-width "left" kernels against the full ones
               (25, 70, 48), (26, 33, 49), (20, 64, 40),
               # skinny N by the width of the AVX2 narrow kernel's variants: one vector
               # (float N <= 8, double <= 4), the last pair packed (float 9-10; double 5-6
               # take two vectors; float 11-12 too), with 1-5 rows left after the 6-row panels
               (23, 61, 5), (13, 40, 6), (17, 33, 3), (11, 29, 9), (29, 45, 8), (19, 37, 11),
               (14, 30, 12),
               # one column (the AVX2 column kernels, A's columns or rows contiguous): 8 vectors
               # and a remainder of full and partial vectors, k past the transposed 64-k blocks
               # and their 8 x 8 sub-blocks, a lone vector, a short M
               (70, 290, 1), (200, 64, 1), (64, 130, 1), (13, 9, 1), (8, 17, 1), (5, 1000, 1)]


def _bit_cases(dtype, shapes=_BIT_SHAPES):
    """Products that take every path of the driver: packed and direct A, both orientations,
    edge tiles, several k-blocks, small M, transposed reads, a batch with beta and a row bias."""
    rng = np.random.default_rng(11)
    out = []
    for m, k, n in shapes:
        a = rng.standard_normal((m, k)).astype(dtype)
        b = rng.standard_normal((k, n)).astype(dtype)
        bias = rng.standard_normal(n).astype(dtype)
        out.append((a, b, bias))
    return out


def _all_paths(a, b, bias):
    """The results of one product through every public path (and the batched hook)."""
    c3 = np.ones((2,) + (a.shape[0], b.shape[1]), a.dtype)
    _gemm._gemm_ex(np.stack([a, a[::-1]]), b, c3, beta=0.5, bias=np.ones(a.shape[0], a.dtype),
                   bias_mode="row", activation="elu")
    return (matmul(a, b), matmul(np.asfortranarray(a), b), matmul(a.T.copy(), b, trans_a=True),
            matmul(a, b.T.copy(), trans_b=True), matmul_bias(a, b, bias, activation="relu"), c3)


@pytest.mark.skipif("avx512" not in fastnn.cpu_simd_levels(), reason="CPU without AVX-512F")
@pytest.mark.parametrize("dtype", DTYPES)
def test_avx2_and_avx512_give_the_same_bits(dtype, each_simd_level):
    """AVX2 (6x16 / 6x8 tiles) and AVX-512 (12x32 / 12x16) run the same FMA chain per element in
    ascending k, so their results are identical bit for bit (the generic level, which rounds the
    multiply and the add separately, may differ in the last bits: not asserted here)."""
    saved = fastnn.get_simd()
    try:
        for a, b, bias in _bit_cases(dtype):
            fastnn.set_simd("avx2")
            r2 = _all_paths(a, b, bias)
            fastnn.set_simd("avx512")
            assert _gemm._ukr_name() == "avx512"
            r5 = _all_paths(a, b, bias)
            for x2, x5 in zip(r2, r5):
                assert np.array_equal(x2, x5), (a.shape, b.shape)
    finally:
        fastnn.set_simd(saved)


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_shared_by_the_batch_is_packed_once_per_thread_with_the_same_bits(dtype,
                                                                           each_simd_level):
    """A 2-D A shared by every batch item (as the convolution's weights are) is packed once per
    thread and call and reused by the thread's next items (fnn_gemm_driver.h, a_held_t): each
    item's result must be the bits of its own product, at 1, 2 and 3 threads, for an A of one
    k-block (reused) and of several (packed every time), and the next call, with new values in
    the same A array, must not reuse what the last one packed."""
    rng = np.random.default_rng(5)

    def body(level):
        for m, k, n, batch in [(64, 288, 196, 7), (13, 40, 70, 5), (30, 2000, 33, 3)]:
            a = rng.standard_normal((m, k)).astype(dtype)
            b = rng.standard_normal((batch, k, n)).astype(dtype)
            for threads in (1, 2, 3):
                with fastnn.threads(threads):
                    for _ in range(2):
                        a[...] = rng.standard_normal((m, k))
                        want = np.stack([matmul(a, b[i]) for i in range(batch)])
                        got = _gemm._gemm_ex(a, b, np.empty((batch, m, n), dtype))
                        assert got.tobytes() == want.tobytes(), (level, m, k, n, threads)
    each_simd_level(body)


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_path_of_one_level_gives_the_same_bits(dtype, each_simd_level):
    """The packed path, the direct-A path, the in-place paths (small M, skinny N) and both
    orientations compute each element with the same chain, so reading B transposed (which rules
    out the in-place paths) or A in Fortran order changes no bit, at any level."""
    def body(level):
        for a, b, bias in _bit_cases(dtype):
            r = _all_paths(a, b, bias)
            for other in r[1:4]:
                assert np.array_equal(r[0], other), (level, a.shape, b.shape)
    each_simd_level(body)


@pytest.mark.parametrize("dtype", DTYPES)
def test_in_place_paths_continue_from_c_as_the_packed_path_does(dtype, each_simd_level):
    """With beta != 0 each element's chain starts from beta * C: the in-place kernels (small M,
    skinny N, whatever variant the width picks) must load C as the packed path does (B read
    transposed, which rules the in-place paths out), bit for bit, with and without an
    activation, for a batch."""
    rng = np.random.default_rng(12)

    def body(level):
        for m, k, n in [(13, 40, 1), (17, 33, 5), (23, 61, 6), (11, 29, 8), (19, 45, 9),
                        (13, 31, 10), (7, 50, 13), (3, 70, 40)]:
            a = rng.standard_normal((2, m, k)).astype(dtype)
            b = rng.standard_normal((k, n)).astype(dtype)
            c = rng.standard_normal((2, m, n)).astype(dtype)
            for act in (None, "tanh"):
                got = _gemm._gemm_ex(a, b, c.copy(), beta=0.5, activation=act)
                want = _gemm._gemm_ex(a, b.T.copy(), c.copy(), beta=0.5, activation=act,
                                      trans_b=True)
                assert np.array_equal(got, want), (level, m, k, n, act)
    each_simd_level(body)


def test_inplace_split_threshold_is_measured_per_thread_count_and_can_be_set():
    """gemm_config reports the thresholds from which small-M and skinny-N products are split
    over threads: 0 on one thread; on two, measured on first use (a positive number of
    multiply-adds, at least the floor of 1e4, the same on every later call); a set value
    replaces both until None turns the measurement back on."""
    from fastnn.kernels import gemm_config
    try:
        _gemm._set_inplace_split_min(None)
        with fastnn.threads(1):
            assert gemm_config()["inplace_split_min"] == {"small_m": 0, "skinny_n": 0}
        with fastnn.threads(2):
            first = gemm_config()["inplace_split_min"]
            assert set(first) == {"small_m", "skinny_n"}
            for value in first.values():
                assert np.isfinite(value) and value >= 1e4
            assert gemm_config()["inplace_split_min"] == first
            if sys.platform.startswith("linux"):     # a monotonic clock: measured, not 1e5
                assert 1e5 not in first.values()
            assert min(gemm_config("float64")["inplace_split_min"].values()) >= 1e4
            _gemm._set_inplace_split_min(5e4)
            assert gemm_config()["inplace_split_min"] == {"small_m": 5e4, "skinny_n": 5e4}
            _gemm._set_inplace_split_min(None)
            assert gemm_config()["inplace_split_min"] == first
    finally:
        _gemm._set_inplace_split_min(0)


@pytest.mark.skipif(not _runtime.openmp_enabled(), reason="built without OpenMP")
def test_a_skinny_product_below_the_split_threshold_starts_no_thread():
    """The split threshold decides: with it above the product, a 2-thread 128x128x10 product
    runs on the calling thread alone (no OpenMP worker is started: the process's thread count
    stays), with it at 0 the product is split (a worker appears)."""
    code = """
        import os, sys
        if not os.path.isdir("/proc/self/task"):
            print("skip"); sys.exit(0)
        import numpy as np, fastnn
        from fastnn.kernels import matmul, _gemm
        fastnn.set_num_threads(2)
        a = np.ones((128, 128), np.float32); b = np.ones((128, 10), np.float32)
        _gemm._set_inplace_split_min(1e12)
        before = len(os.listdir("/proc/self/task"))
        matmul(a, b)
        mid = len(os.listdir("/proc/self/task"))
        _gemm._set_inplace_split_min(0)
        matmul(a, b)
        print(before, mid, len(os.listdir("/proc/self/task")))
    """
    res = run_child(code, timeout=120)
    assert res.returncode == 0, res.stderr
    if res.stdout.strip() == "skip":
        pytest.skip("no /proc/self/task on this platform")
    before, mid, after = map(int, res.stdout.split())
    assert mid == before and after > mid, (before, mid, after)


@pytest.fixture
def blocking_restored():
    previous = _gemm.set_gemm_blocking()
    _gemm.set_gemm_blocking(**previous)
    try:
        yield
    finally:
        _gemm.set_gemm_blocking(**previous)


@pytest.mark.parametrize("dtype", DTYPES)
def test_blocking_never_changes_a_bit(dtype, each_simd_level, blocking_restored):
    """MC, KC and NC (derived, or set tiny so that every block boundary is crossed many times)
    change the order of the loops, never an element's FMA chain: the same bits, at every SIMD
    level and thread count."""
    cases = _bit_cases(dtype, [(37, 300, 53), (70, 290, 9), (9, 40, 130), (1, 200, 70),
                               (100, 50, 2), (13, 300, 70), (3, 100, 40)])
    sweeps = [dict(mc=1, kc=1, nc=1), dict(kc=7), dict(mc=13, kc=64, nc=40), dict(kc=129),
              dict(mc=8192, kc=4096, nc=65536), dict(mc=25, nc=97)]

    def body(level):
        _gemm.set_gemm_blocking()
        base = [_all_paths(*c) for c in cases]
        for sweep in sweeps:
            _gemm.set_gemm_blocking(**sweep)
            for nt in (1, 3):
                with fastnn.threads(nt):
                    for ref, case in zip(base, cases):
                        for r0, r1 in zip(ref, _all_paths(*case)):
                            assert np.array_equal(r0, r1), (level, sweep, nt, case[0].shape)
        _gemm.set_gemm_blocking()
    each_simd_level(body)


_TILES = {("generic", 4): (6, 16), ("generic", 8): (6, 8), ("avx2", 4): (6, 16),
          ("avx2", 8): (6, 8), ("avx512", 4): (12, 32), ("avx512", 8): (12, 16)}


@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm_config_reports_the_running_context(dtype, each_simd_level, blocking_restored):
    def body(level):
        cfg = fastnn.kernels.gemm_config(dtype)
        assert cfg["simd"] == level == _gemm._ukr_name()
        assert (cfg["mr"], cfg["nr"]) == _TILES[level, np.dtype(dtype).itemsize]
        assert cfg["mc"] % cfg["mr"] == 0 and cfg["nc"] % cfg["nr"] == 0
        assert cfg["l1d"] >= 4096 and cfg["l2"] >= cfg["l1d"] and cfg["l3_per_core"] > 0
        assert cfg["cache_source"] in ("sysfs", "cpuid", "default")
        assert cfg["blocking_set"] == {"mc": None, "kc": None, "nc": None}
        assert (cfg["mc"], cfg["kc"], cfg["nc"]) == _gemm._blocking_model(
            cfg["l1d"], cfg["l2"], cfg["l3_per_core"], cfg["mr"], cfg["nr"],
            np.dtype(dtype).itemsize)
        # set values: kc as given, mc and nc rounded down to whole tiles (at least one)
        _gemm.set_gemm_blocking(mc=cfg["mr"] + 1, kc=77, nc=cfg["nr"] - 1)
        cfg2 = fastnn.kernels.gemm_config(dtype)
        assert (cfg2["mc"], cfg2["kc"], cfg2["nc"]) == (cfg["mr"], 77, cfg["nr"])
        assert cfg2["blocking_set"] == {"mc": cfg["mr"] + 1, "kc": 77, "nc": cfg["nr"] - 1}
        _gemm.set_gemm_blocking(mc=5 * cfg["mr"] + 3)
        assert fastnn.kernels.gemm_config(dtype)["mc"] == 5 * cfg["mr"]
        _gemm.set_gemm_blocking()
    each_simd_level(body)
    info = fastnn.build_info()["gemm"]
    assert info["simd"] == fastnn.get_simd() and info["dtype"] == "float32"


def test_cache_sizes_match_sysfs():
    """On Linux the cache sizes come from sysfs (cpu0, data and unified caches)."""
    root = "/sys/devices/system/cpu/cpu0/cache"
    if not os.path.isdir(root):
        pytest.skip("no sysfs cache information")
    sizes = {}
    for entry in sorted(os.listdir(root)):
        path = os.path.join(root, entry)
        try:
            with open(os.path.join(path, "type")) as f:
                kind = f.read().strip()
            with open(os.path.join(path, "level")) as f:
                level = int(f.read())
            with open(os.path.join(path, "size")) as f:
                text = f.read().strip()
        except OSError:
            continue
        if kind == "Instruction":
            continue
        scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
        sizes[level] = int(text.rstrip("KMG")) * scale
    cfg = fastnn.kernels.gemm_config()
    if 1 not in sizes:
        pytest.skip("sysfs lists no L1 data cache")
    assert cfg["cache_source"] == "sysfs"
    assert cfg["l1d"] == sizes[1]
    if 2 in sizes:
        assert cfg["l2"] == sizes[2]
    if 3 in sizes:
        assert cfg["l3"] == sizes[3] and cfg["l3_per_core"] <= sizes[3]


@pytest.mark.parametrize("caches", [(32 << 10, 256 << 10, 2 << 20), (48 << 10, 2 << 20, 1 << 20),
                                    (32 << 10, 1 << 20, 16 << 20), (64 << 10, 512 << 10, 0),
                                    (8 << 10, 64 << 10, 512 << 10)])
@pytest.mark.parametrize("tile", [(6, 16, 4), (12, 32, 4), (6, 8, 8), (12, 16, 8)])
def test_blocking_model_fits_the_caches(caches, tile):
    """The analytical model (src_c/fnn_gemm_blocking.h): the A micro-panel in half of L1, the
    B block in half of L2, the A block in half of the L3 share (at most 4 MiB); whole tiles;
    bigger caches never give smaller blocks."""
    l1, l2, l3 = caches
    mr, nr, size = tile
    mc, kc, nc = _gemm._blocking_model(l1, l2, l3, mr, nr, size)
    assert kc % 8 == 0 and 32 <= kc <= 1024
    assert mr * kc * size <= l1 // 2 or kc == 32
    assert nc % nr == 0 and (kc * nc * size <= l2 // 2 or nc == nr)
    assert mc % mr == 0 and (mc * kc * size <= min(l3 // 2, 4 << 20) or mc == mr)
    bigger = _gemm._blocking_model(2 * l1, 2 * l2, 2 * l3, mr, nr, size)
    assert bigger[1] >= kc
    # a set KC replaces the derived one, and MC, NC follow it
    mc2, kc2, nc2 = _gemm._blocking_model(l1, l2, l3, mr, nr, size, kc=2 * kc)
    assert kc2 == 2 * kc and nc2 <= nc and mc2 <= mc


@pytest.mark.parametrize("kwargs, exc, pattern", [
    (dict(mc=0), ValueError, "mc must be >= 1"),
    (dict(kc=-3), ValueError, "kc must be >= 1"),
    (dict(nc=10 ** 9), ValueError, "nc must be <= 65536"),
    (dict(kc=4097), ValueError, "kc must be <= 4096"),
    (dict(mc=1.5), TypeError, "mc must be an int"),
    (dict(kc=True), TypeError, "kc must be an int"),
    (dict(nc="64"), TypeError, "nc must be an int"),
])
def test_set_gemm_blocking_refuses_bad_values(kwargs, exc, pattern, blocking_restored):
    before = fastnn.kernels.gemm_config()
    with pytest.raises(exc, match=pattern):
        fastnn.kernels.set_gemm_blocking(**kwargs)
    assert fastnn.kernels.gemm_config() == before


def test_set_gemm_blocking_returns_the_previous_settings(blocking_restored):
    first = fastnn.kernels.set_gemm_blocking(kc=100)
    assert first == {"mc": None, "kc": None, "nc": None}
    assert fastnn.kernels.set_gemm_blocking(mc=np.int64(24)) == {"mc": None, "kc": 100,
                                                                  "nc": None}
    assert fastnn.kernels.set_gemm_blocking(**first) == {"mc": 24, "kc": None, "nc": None}
    assert fastnn.kernels.gemm_config()["blocking_set"] == first


def test_gemm_config_dtype_is_checked():
    with pytest.raises(TypeError, match="dtype must be float32 or float64"):
        fastnn.kernels.gemm_config(np.int32)
    with pytest.raises(TypeError, match="dtype must be float32 or float64"):
        fastnn.kernels.gemm_config("nonsense")


def test_gemm_is_exported_for_cimport():
    """_conv calls the one compiled GEMM through the fused-type cdef function `gemm` (float and
    double specialisations, fastnn/kernels/_gemm.pxd); the Python-level simd_level() of earlier
    versions is gone (fastnn.get_simd() replaces it)."""
    exported = set(_gemm.__pyx_capi__)
    assert "act_code" in exported
    for t in ("float", "double"):
        assert any(name.startswith("gemm[const %s *" % t) for name in exported), exported
    assert set(_gemm.__all__) == {"matmul", "matmul_bias", "gemm_config", "set_gemm_blocking"}
    assert not hasattr(fastnn.kernels, "simd_level")


# ----------------------------------------------------------------- packing sources (the hook)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sources", [(False, True), (True, False), (True, True)],
                         ids=["b_src", "a_src", "both"])
@pytest.mark.parametrize("shape", [
    (2, 37, 300, 53),     # packed path, edge tiles, two k-blocks
    (3, 70, 290, 9),      # skinny N: the driver computes C^T, so B's source serves as A
    (1, 9, 40, 130),      # skinny M
    (2, 6, 16, 16),       # exactly one tile
    (1, 1, 600, 1),       # one element, three k-blocks
    (2, 150, 5, 4200),    # N crosses NC
    (2, 100, 50, 2),      # the driver computes C^T: a source serves in the other role
])
def test_packing_sources_give_the_same_bits(dtype, sources, shape, each_simd_level):
    """A caller-supplied packing routine (fnn_gemm_src, the hook the convolution packs its B
    panels with) gives the same bits as the driver's own packing, at every SIMD level and
    thread count; every request it gets obeys the contract of src_c/fnn_gemm.h."""
    batch, m, k, n = shape
    rng = np.random.default_rng(10)
    a = rng.standard_normal((batch, m, k)).astype(dtype)
    b = rng.standard_normal((batch, k, n)).astype(dtype)

    def body(level):
        ref = np.empty((batch, m, n), dtype)
        _gemm._gemm_ex(a, b, ref)
        for nt in (1, 2, 3):
            c = np.full((batch, m, n), np.nan, dtype)
            with fastnn.threads(nt):
                status, log_a, log_b = _gemm._gemm_src_check(a, b, c, *sources)
            assert status == 0
            for used, log in zip(sources, (log_a, log_b)):
                assert log["calls"] == int(used), (level, log)
                assert log["bad"] == 0, (level, log)
                if used:
                    cfg = fastnn.kernels.gemm_config(dtype)
                    assert log["r"] in (cfg["mr"], cfg["nr"]), (level, log)
            assert np.array_equal(c, ref), (level, nt)
    each_simd_level(body)


def test_packing_source_k_zero_is_never_called():
    a = np.ones((1, 4, 0), np.float32)
    b = np.ones((1, 0, 5), np.float32)
    c = np.full((1, 4, 5), np.nan, np.float32)
    status, log_a, log_b = _gemm._gemm_src_check(a, b, c, True, True)
    assert status == 0 and log_a["calls"] == 0 and log_b["calls"] == 0
    assert np.array_equal(c, np.zeros((1, 4, 5), np.float32))


def test_gemm_src_is_exported_for_cimport():
    exported = set(_gemm.__pyx_capi__)
    for t in ("float", "double"):
        assert any(name.startswith("gemm_src[const %s *" % t) for name in exported), exported
