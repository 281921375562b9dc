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
import numpy as np
import pytest
from hypothesis import given, strategies as st

import fastnn
from fastnn import reference
from fastnn.kernels import _gemm
from fnn_testutil import assert_raise_in_child, run_child

matmul, matmul_bias = _gemm.matmul, _gemm.matmul_bias
DTYPES = [np.float32, np.float64]
ACTS = [None, "relu", "sigmoid", "tanh", "elu"]

# Dimensions that hit every edge case of the 6x16 / 6x8 tiles and the MC/KC blocks: 1, odd,
# primes, one less/more than a multiple of MR and NR, and sizes around MC (72, 144) and KC (256).
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
    (3, 1500, 5),         # K crosses KC several times (equal k-blocks)
    (300, 40, 7),         # M crosses MC (144 float / 72 double)
    (5, 9, 4200),         # N crosses NC (4080 float / 2040 double)
    (145, 257, 17),       # one past every block and tile size
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
@pytest.mark.parametrize("shape", [(64, 1100, 40), (7, 64, 600)])
def test_bit_identical_at_any_thread_count(dtype, act, shape):
    """Beyond the table's 1/2/3-thread check (150x300x170): K over several k-blocks, a wide N,
    every activation, 5 threads, and the transposed read of the same matrix."""
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


@pytest.fixture
def each_simd_level():
    """Yields a function that runs a body at every SIMD level this CPU has, restoring the
    process-wide level afterwards."""
    saved = fastnn.get_simd()

    def run(body):
        for level in fastnn.cpu_simd_levels():
            fastnn.set_simd(level)
            body(level)
    try:
        yield run
    finally:
        fastnn.set_simd(saved)


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


def test_gemm_is_exported_for_cimport():
    """_conv calls the one compiled GEMM through the fused-type cdef function `gemm` (float and
    double specialisations, fastnn/kernels/_gemm.pxd); the Python-level simd_level() of earlier
    versions is gone (fastnn.get_simd() replaces it)."""
    exported = set(_gemm.__pyx_capi__)
    assert "act_code" in exported
    for t in ("float", "double"):
        assert any(name.startswith("gemm[const %s *" % t) for name in exported), exported
    assert set(_gemm.__all__) == {"matmul", "matmul_bias"}
    assert not hasattr(fastnn.kernels, "simd_level")
