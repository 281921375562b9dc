"""fastnn.kernels im2col / col2im / conv2d_forward / conv2d_backward: what is specific to the
convolution.  Twin parity (im2col/col2im bit for bit), memory layouts, read-only inputs, 1/2/3
threads, error naming and the child-process crash check come from the kernel table
(tests/kernel_cases/conv.py, tests/test_kernels.py).  Here: adjointness, numeric gradients,
torch, the fused epilogue, the workspace, need_dx=False, and accuracy on random geometry.

The convolution products go through fastnn's GEMM, whose summation order differs
from NumPy's BLAS, so they are checked against the bound that holds for any summation order:
|computed - exact| <= 2 K eps (|A| @ |B|) with ``exact`` computed in float64 (float32 inputs),
or, for float64, against the twin with twice that bound (both sides are rounded).
"""
import sys
import threading

import numpy as np
import pytest
from hypothesis import given, strategies as st

import fastnn
from fastnn import reference
from fastnn.contracts.conv import Geometry, geometry
from fastnn.kernels import _conv
from fnn_testutil import run_child, same_bits, simd

DTYPES = [np.float32, np.float64]


@st.composite
def conv_cases(draw):
    """Random geometry: batch 1..3, 1..4, 8, 9 or 16 input channels (8 and up: dx as a
    convolution of dy at stride 1; 8 and 16 at AVX2, 16 at AVX-512: dw with its operands read
    in place), 1..4 output channels, kernels 1..4 (non-square included), strides
    1..3 per axis, padding 0..2 per axis, input sizes from 'kernel barely fits' upwards."""
    n = draw(st.integers(1, 3))
    c = draw(st.sampled_from([1, 2, 3, 4, 8, 9, 16]))
    oc = draw(st.integers(1, 4))
    kh = draw(st.integers(1, 4))
    kw = draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    h = draw(st.integers(max(1, kh - 2 * ph), kh + 7))
    w = draw(st.integers(max(1, kw - 2 * pw), kw + 7))
    stride = sh if sh == sw and draw(st.booleans()) else (sh, sw)
    padding = ph if ph == pw and draw(st.booleans()) else (ph, pw)
    seed = draw(st.integers(0, 2 ** 32 - 1))
    return dict(n=n, c=c, oc=oc, kh=kh, kw=kw, h=h, w=w, stride=stride, padding=padding,
                seed=seed)


def _arrays(case, dtype):
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal((case["n"], case["c"], case["h"], case["w"])).astype(dtype)
    w = rng.standard_normal((case["oc"], case["c"], case["kh"], case["kw"])).astype(dtype)
    b = rng.standard_normal(case["oc"]).astype(dtype)
    return rng, x, w, b


def _assert_within(got, exact, bound, what):
    err = np.abs(got.astype(np.float64) - exact)
    bad = err > bound
    assert not bad.any(), "%s: %d entries off, worst error %g vs bound %g" % (
        what, bad.sum(), err.max(), bound.flat[np.argmax(err - bound)])


def _bounds(dtype, k):
    """Bound factor for a dot product of length k: float32 vs exact float64 -> 2 k eps32;
    float64 vs the float64 twin (both rounded) -> 4 k eps64.  Plus a denormal floor (the GEMM
    flushes denormals to zero)."""
    eps = np.finfo(dtype).eps
    return (2.0 if dtype == np.float32 else 4.0) * max(k, 1) * eps, 8 * np.finfo(dtype).tiny


# --------------------------------------------------------------------------- im2col / col2im
@given(case=conv_cases())
def test_im2col_col2im_are_adjoint(case):
    rng, x, _, _ = _arrays(case, np.float64)
    args = (case["kh"], case["kw"], case["stride"], case["padding"])
    cols = _conv.im2col(x, *args)
    c = rng.standard_normal(cols.shape)
    lhs = np.vdot(cols, c)
    rhs = np.vdot(x, _conv.col2im(c, x.shape, *args))
    assert abs(lhs - rhs) <= 1e-12 * (np.abs(cols).ravel() @ np.abs(c).ravel() + 1.0)


def test_im2col_layout_and_padding_by_hand():
    # 1 x 1 x 2 x 3 input, 2 x 2 kernel, padding 1, stride (1, 2): OH = 3, OW = 2.
    x = np.arange(1.0, 7.0).reshape(1, 1, 2, 3)
    cols = _conv.im2col(x, 2, 2, (1, 2), 1)
    padded = np.pad(x[0, 0], 1)
    expected = np.empty((4, 6))
    for i in range(2):
        for j in range(2):
            for oh in range(3):
                for ow in range(2):
                    expected[i * 2 + j, oh * 2 + ow] = padded[oh + i, 2 * ow + j]
    np.testing.assert_array_equal(cols, expected)
    assert cols[0, 0] == 0.0 and cols[3, 0] == 1.0   # top-left tap in padding; (1,1) reads x[0,0]


# --------------------------------------------------------------------------- backward
@pytest.mark.parametrize("dtype", DTYPES)
@given(case=conv_cases())
def test_conv_backward_is_within_the_bound_of_float64(case, dtype):
    """dx, dw, db on random geometry, element by element within the summation bound of the
    float64 result (float32), or of the float64 twin (float64)."""
    rng, x, w, _ = _arrays(case, dtype)
    s, p = case["stride"], case["padding"]
    kh, kw = case["kh"], case["kw"]
    y_shape = reference.conv2d_forward(x, w, None, s, p).shape
    dy = rng.standard_normal(y_shape).astype(dtype)
    dx, dw, db = _conv.conv2d_backward(dy, x, w, s, p)
    as64 = (lambda a: a.astype(np.float64)) if dtype == np.float32 else (lambda a: a)
    ex_dx, ex_dw, ex_db = reference.conv2d_backward(as64(dy), as64(x), as64(w), s, p)
    m_dx, m_dw, m_db = reference.conv2d_backward(np.abs(dy).astype(np.float64),
                                                 np.abs(x).astype(np.float64),
                                                 np.abs(w).astype(np.float64), s, p)
    n_p = dy.shape[0] * dy.shape[2] * dy.shape[3]
    f, floor = _bounds(dtype, n_p)
    _assert_within(dw, ex_dw, f * m_dw + floor, "dw")
    _assert_within(db, ex_db, f * m_db + floor, "db")
    # dx: a length-OC dot product per tap, then up to kh*kw taps summed by col2im
    f, floor = _bounds(dtype, w.shape[0] + kh * kw)
    _assert_within(dx, ex_dx, f * m_dx + floor, "dx")


def _conv_loss(x, w, b, r, s, p):
    return float(np.vdot(_conv.conv2d_forward(x, w, b, s, p), r))


@pytest.mark.parametrize("geometry", [
    dict(kh=2, kw=3, stride=(2, 1), padding=(1, 1)),
    dict(kh=3, kw=3, stride=1, padding=1),
    dict(kh=1, kw=1, stride=2, padding=0),
    dict(kh=3, kw=2, stride=(1, 3), padding=(0, 2)),
])
def test_conv_gradients_match_centred_differences(geometry):
    """float64 d(sum(y * r))/d(x, w, b) by centred differences, every entry."""
    rng = np.random.default_rng(7)
    kh, kw, s, p = geometry["kh"], geometry["kw"], geometry["stride"], geometry["padding"]
    x = rng.standard_normal((2, 2, 5, 6))
    w = rng.standard_normal((3, 2, kh, kw))
    b = rng.standard_normal(3)
    r = rng.standard_normal(_conv.conv2d_forward(x, w, b, s, p).shape)
    dx, dw, db = _conv.conv2d_backward(r, x, w, s, p)
    h = 1e-6
    for arr, grad in ((x, dx), (w, dw), (b, db)):
        num = np.empty_like(arr)
        for idx in np.ndindex(arr.shape):
            old = arr[idx]
            arr[idx] = old + h
            up = _conv_loss(x, w, b, r, s, p)
            arr[idx] = old - h
            down = _conv_loss(x, w, b, r, s, p)
            arr[idx] = old
            num[idx] = (up - down) / (2 * h)
        # the loss is linear in each argument: centred differences are exact up to rounding
        np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-7)


# --------------------------------------------------------------------------- torch
@pytest.mark.parametrize("dtype", DTYPES)
@given(case=conv_cases())
def test_conv_matches_torch(case, dtype):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng, x, w, b = _arrays(case, dtype)
    s, p = case["stride"], case["padding"]
    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(w, requires_grad=True)
    tb = torch.tensor(b, requires_grad=True)
    ty = F.conv2d(tx, tw, tb, stride=s, padding=p)
    dy = rng.standard_normal(tuple(ty.shape)).astype(dtype)
    ty.backward(torch.from_numpy(dy))
    y = _conv.conv2d_forward(x, w, b, s, p)
    dx, dw, db = _conv.conv2d_backward(dy, x, w, s, p)
    tol = dict(rtol=2e-4, atol=2e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-11)
    np.testing.assert_allclose(y, ty.detach().numpy(), **tol)
    np.testing.assert_allclose(dx, tx.grad.numpy(), **tol)
    np.testing.assert_allclose(dw, tw.grad.numpy(), **tol)
    np.testing.assert_allclose(db, tb.grad.numpy(), **tol)


# ------------------------------------------------------------- forward (bias, activation fused)
ACTS = [None, "relu", "sigmoid", "tanh", "elu"]


def _act64(z, act):
    """The activation in float64, elu with alpha 1 (the formulas of matmul_bias)."""
    if act == "relu":
        return np.maximum(z, 0)
    if act == "sigmoid":
        return 1 / (1 + np.exp(-z))
    if act == "tanh":
        return np.tanh(z)
    if act == "elu":
        return np.where(z > 0, z, np.expm1(np.minimum(z, 0)))
    return z


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=conv_cases(), use_bias=st.booleans(), act=st.sampled_from(ACTS))
def test_conv_forward_is_within_the_bound_of_float64(case, use_bias, act, dtype):
    """y = act(conv(x, w) + b), bias and activation fused into the GEMM epilogue, on random
    geometry: the kernel and the twin, element by element within the summation bound of the
    exact value (computed in float64)."""
    _, x, w, b = _arrays(case, dtype)
    b = b if use_bias else None
    s, p = case["stride"], case["padding"]
    y = _conv.conv2d_forward(x, w, b, s, p, activation=act)
    twin = reference.conv2d_forward(x, w, b, s, p, activation=act)

    def as64(a):
        return None if a is None else a.astype(np.float64)
    z = reference.conv2d_forward(as64(x), as64(w), as64(b), s, p)
    mag = reference.conv2d_forward(np.abs(as64(x)), np.abs(as64(w)),
                                   None if b is None else np.abs(as64(b)), s, p)
    factor, floor = _bounds(dtype, case["c"] * case["kh"] * case["kw"] + 1)
    # every activation has slope <= 1; libm (kernel) and NumPy (twin) differ by a few ulp
    eps = np.finfo(dtype).eps
    bound = factor * mag + floor + 8 * eps * np.abs(_act64(z, act))
    _assert_within(y, _act64(z, act), bound, "y")
    _assert_within(twin, _act64(z, act), bound, "twin y")


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv_epilogue_is_the_gemm_epilogue_at_every_simd_level(dtype):
    """conv2d_forward is one call of the one compiled GEMM (cimported from _gemm) with the bias
    and activation in its epilogue: per image, bit for bit what the GEMM gives for the same
    operands at the same SIMD level, for every activation and every level this CPU has."""
    from fastnn.kernels import _gemm
    rng = np.random.default_rng(9)
    x = rng.standard_normal((3, 5, 9, 8)).astype(dtype)
    w = rng.standard_normal((7, 5, 3, 2)).astype(dtype)
    b = rng.standard_normal(7).astype(dtype)
    s, p = (2, 1), (1, 0)
    cols = _conv.im2col(x, 3, 2, s, p)
    w2 = w.reshape(7, -1)
    saved = fastnn.get_simd()
    try:
        for level in fastnn.cpu_simd_levels():
            fastnn.set_simd(level)
            for act in ACTS:
                y = _conv.conv2d_forward(x, w, b, s, p, activation=act)
                n_img, oc, oh, ow = y.shape
                P = oh * ow
                for n in range(n_img):
                    c = np.empty((oc, P), dtype)
                    _gemm._gemm_ex(w2, cols[:, n * P:(n + 1) * P], c, bias=b, bias_mode="row",
                                   activation=act)
                    np.testing.assert_array_equal(y[n].reshape(oc, P), c, err_msg=level)
            relu = _conv.conv2d_forward(x, w, b, s, p, activation="relu")
            plain = _conv.conv2d_forward(x, w, b, s, p)
            np.testing.assert_array_equal(relu, fastnn.kernels.relu_forward(plain))
    finally:
        fastnn.set_simd(saved)


# --------------------------------------------------------------------------- workspace
def test_workspace_reuse_across_shapes_and_threads():
    """The thread-local grow-only workspace must never leak a previous call's data (shrinking
    then growing shapes) nor be shared between Python threads running at once."""
    rng = np.random.default_rng(11)
    problems = []
    for shape, k, s, p in [((4, 3, 12, 12), 3, 1, 1), ((1, 2, 5, 4), 2, 2, 0),
                           ((3, 5, 9, 11), (2, 3), (1, 2), (2, 1))]:
        kh, kw = (k, k) if isinstance(k, int) else k
        x = rng.standard_normal(shape)
        w = rng.standard_normal((4, shape[1], kh, kw))
        y_ref = reference.conv2d_forward(x, w, None, s, p)
        g_ref = reference.conv2d_backward(np.sin(y_ref), x, w, s, p)
        problems.append((x, w, s, p, y_ref, g_ref))

    def run_all(order, out, slot):
        try:
            for idx in order:
                x, w, s, p, y_ref, g_ref = problems[idx]
                y = _conv.conv2d_forward(x, w, None, s, p)
                np.testing.assert_allclose(y, y_ref, rtol=1e-12, atol=1e-12)
                for a, e in zip(_conv.conv2d_backward(np.sin(y_ref), x, w, s, p), g_ref):
                    np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12)
            out[slot] = "ok"
        except BaseException as exc:  # reported by the main thread
            out[slot] = exc

    out = {}
    run_all([0, 1, 2, 1, 0, 2], out, "main")
    threads = [threading.Thread(target=run_all, args=([i % 3, (i + 1) % 3, i % 3] * 3, out, i))
               for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(v == "ok" for v in out.values()), out
    _conv._release_workspace()           # freed buffers are rebuilt on the next call
    x, w, s, p, y_ref, _ = problems[2]
    np.testing.assert_allclose(_conv.conv2d_forward(x, w, None, s, p), y_ref, rtol=1e-12,
                               atol=1e-12)


def test_api_names():
    assert set(_conv.__all__) == {"im2col", "col2im", "conv2d_forward", "conv2d_backward"}
    for name in _conv.__all__:
        assert getattr(fastnn.kernels, name) is getattr(_conv, name)
        assert callable(getattr(reference, name))


# --------------------------------------------------------------------------- need_dx=False
@pytest.mark.parametrize("mod", [_conv, reference], ids=["compiled", "twin"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_backward_without_dx_gives_the_same_weight_gradients(mod, dtype):
    # The first layer of a network skips dx; dw and db must not change by a bit.
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 2, 9, 7)).astype(dtype)
    w = rng.standard_normal((5, 2, 3, 2)).astype(dtype)
    dy = rng.standard_normal(mod.conv2d_forward(x, w, None, (2, 1), (1, 0)).shape).astype(dtype)
    dx, dw, db = mod.conv2d_backward(dy, x, w, (2, 1), (1, 0))
    none, dw2, db2 = mod.conv2d_backward(dy, x, w, (2, 1), (1, 0), need_dx=False)
    assert none is None and dx.shape == x.shape
    np.testing.assert_array_equal(dw2, dw)
    np.testing.assert_array_equal(db2, db)


# --------------------------------------------------------------------------- direct path
# float32 layers with C*kh*kw <= 12 and width stride 1 (a network's first layer) run the direct
# kernels of src_c/fnn_conv_direct.h instead of im2col + GEMM.  Each output is the same chain of
# operations in the same order as the GEMM path, so the two must agree bit for bit at every SIMD
# level and thread count.  Shapes: the lab's first layer; odd widths (partial last vector tile);
# stride 2 / padding on the rows; output channels that are not a multiple of 8 or 16; K = 12
# (the maximum) and K = 1; rows too wide for a work unit's chunk.
DIRECT_CASES = [((3, 1, 28, 28), (32, 1, 3, 3), 1, 1), ((2, 1, 7, 5), (5, 1, 2, 3), (2, 1), (0, 1)),
                ((1, 2, 9, 11), (17, 2, 2, 3), 1, (1, 2)), ((4, 1, 5, 5), (3, 1, 3, 3), (3, 1),
                                                             (2, 0)),
                ((2, 3, 6, 7), (19, 3, 2, 2), 1, 0), ((1, 1, 1, 1), (1, 1, 1, 1), 1, 0),
                ((2, 1, 30, 33), (40, 1, 3, 3), 1, 1),
                # rows of 100 and 302 outputs: units of 2 rows / 1 row, partial tiles inside
                ((2, 1, 20, 100), (9, 1, 3, 3), 1, 1), ((1, 1, 3, 300), (4, 1, 1, 3), 1, (0, 2))]


@pytest.fixture
def algorithm():
    """Restores the conv algorithm setting after the test."""
    previous = _conv.set_conv_algorithm("auto")
    yield _conv.set_conv_algorithm
    _conv.set_conv_algorithm(previous)


def test_direct_path_rule(algorithm):
    assert _conv.conv_algorithm(np.float32, 1, 3, 3, 1) == "direct"
    assert _conv.conv_algorithm(np.float32, 3, 2, 2, 1) == "direct"      # K = 12
    assert _conv.conv_algorithm(np.float32, 1, 1, 13, 1) == "gemm"       # K = 13
    assert _conv.conv_algorithm(np.float32, 1, 3, 3, 2) == "gemm"        # width stride 2
    assert _conv.conv_algorithm(np.float64, 1, 3, 3, 1) == "gemm"
    assert algorithm("gemm") == "auto"
    assert _conv.conv_algorithm(np.float32, 1, 3, 3, 1) == "gemm"
    with pytest.raises(ValueError, match="setting"):
        algorithm("direct!")
    assert algorithm("im2col") == "gemm"
    assert _conv.conv_algorithm(np.float32, 1, 3, 3, 1) == "gemm"
    assert algorithm("auto") == "im2col"


@pytest.mark.parametrize("level", fastnn.cpu_simd_levels())
def test_direct_path_is_the_gemm_path_bit_for_bit(level, algorithm):
    rng = np.random.default_rng(12)
    for xs, ws, s, p in DIRECT_CASES:
        assert _conv.conv_algorithm(np.float32, xs[1], ws[2], ws[3], np.broadcast_to(s, 2)[1])\
            == "direct"
        x = rng.standard_normal(xs).astype(np.float32)
        x.flat[rng.integers(x.size)] = np.nan if xs[0] == 2 else 0.0     # NaN reaches y and dw
        w = rng.standard_normal(ws).astype(np.float32)
        b = rng.standard_normal(ws[0]).astype(np.float32)
        for act, bias in zip(ACTS, (b, b, None, b, None)):
            results = {}
            for setting, threads in (("gemm", 1), ("auto", 1), ("auto", 2), ("auto", 3)):
                algorithm(setting)
                with simd(level), fastnn._config.threads(threads):
                    y = _conv.conv2d_forward(x, w, bias, s, p, activation=act)
                    dy = np.random.default_rng(13).standard_normal(y.shape).astype(np.float32)
                    grads = _conv.conv2d_backward(dy, x, w, s, p, need_dx=threads != 2)
                results[setting, threads] = (y,) + grads
            want = results["gemm", 1]
            for key, got in results.items():
                for name, a, e in zip(("y", "dx", "dw", "db"), got, want):
                    assert a is None or same_bits(a, e), (xs, ws, act, key, name)


# (x shape, w shape, stride, padding): micro-panels that span several output rows (OW < r),
# rows wider than a panel, OW = 1, strides > 1, padding wider than the kernel's reach (whole
# zero rows and columns), non-square kernels, K over one cache block (C*kh*kw = 600)
IMPLICIT_CASES = [((2, 3, 7, 9), (5, 3, 3, 3), 1, 1), ((3, 32, 14, 14), (64, 32, 3, 3), 1, 1),
                  ((2, 4, 11, 6), (3, 4, 2, 5), (2, 3), (1, 2)), ((1, 2, 5, 5), (4, 2, 5, 5), 1, 0),
                  ((2, 1, 9, 1), (7, 1, 3, 1), 2, (3, 0)), ((1, 2, 4, 70), (3, 2, 1, 3), 1, (0, 4)),
                  ((2, 24, 6, 7), (13, 24, 5, 5), 1, 2), ((1, 16, 3, 3), (2, 16, 3, 3), 1, 1),
                  # the vector packers: rows of 20 and 37 (two and three vectors), a kernel
                  # 9 wide (load masks not held per piece), no padding; C >= 8 with stride 1
                  # makes dx a convolution of dy (dy's rows of 20 / 37 / 4 packed the same way)
                  ((1, 8, 5, 20), (4, 8, 3, 3), 1, 1), ((2, 9, 3, 37), (5, 9, 2, 3), (2, 1), 1),
                  ((1, 8, 4, 12), (3, 8, 1, 9), 1, (0, 4)), ((2, 10, 6, 5), (4, 10, 2, 3), 1, 0)]


@pytest.mark.parametrize("level", fastnn.cpu_simd_levels())
@pytest.mark.parametrize("dtype", DTYPES)
def test_implicit_im2col_is_the_materialised_path_bit_for_bit(level, dtype, algorithm):
    """The GEMMs packing their im2col panels from x (src_c/fnn_conv_pack.h: the forward's B,
    the weight gradient's cols^T) give the bits of the GEMMs reading the materialised im2col
    matrix (setting 'im2col'), at 1/2/3 threads."""
    rng = np.random.default_rng(21)
    for xs, ws, s, p in IMPLICIT_CASES:
        x = rng.standard_normal(xs).astype(dtype)
        x.flat[rng.integers(x.size)] = np.nan if xs[0] == 2 else 0.0
        w = rng.standard_normal(ws).astype(dtype)
        b = rng.standard_normal(ws[0]).astype(dtype)
        for act, bias in zip(ACTS, (b, None, b, b, None)):
            algorithm("im2col")
            with simd(level):
                want = _conv.conv2d_forward(x, w, bias, s, p, activation=act)
            algorithm("gemm")
            for threads in (1, 2, 3):
                with simd(level), fastnn._config.threads(threads):
                    got = _conv.conv2d_forward(x, w, bias, s, p, activation=act)
                assert same_bits(got, want), (xs, ws, s, p, act, threads)
        dy = rng.standard_normal(want.shape).astype(dtype)
        algorithm("im2col")
        with simd(level):
            want = _conv.conv2d_backward(dy, x, w, s, p)
        algorithm("gemm")
        for threads, need_dx in ((1, True), (2, False), (3, True)):
            with simd(level), fastnn._config.threads(threads):
                got = _conv.conv2d_backward(dy, x, w, s, p, need_dx=need_dx)
            for name, a, e in zip(("dx", "dw", "db"), got, want):
                assert a is None or same_bits(a, e), (xs, ws, s, p, threads, name)


# (x shape, w shape, padding) at stride 1 with OW == W: the GEMM whose micro-kernel loads its
# im2col rows from x (src_c/fnn_conv_masked.h).  Output channels 1, 4, 5, 8, 9, 12, 13, 25, 64
# (row panels of 12 ending in 4 or 8 rows at AVX-512; halves of 6 ending in 2, 4 or 6 rows at
# AVX2), images of 1..300 pixels (a last panel of 1..8, 9..16, 17..31 pixels, or none), OH != H
# (kh = 3, ph = 0), a row of one pixel, taps that reach past a whole image (5x5 on 2x2),
# non-square kernels, K over one cache block (64 * 9 = 576 in dx).
MASKED_CASES = [((3, 32, 14, 14), (64, 32, 3, 3), 1), ((1, 3, 7, 5), (5, 3, 3, 3), 1),
                ((2, 5, 9, 9), (13, 5, 5, 5), 2), ((1, 4, 6, 8), (12, 4, 3, 5), (1, 2)),
                ((2, 2, 4, 4), (1, 2, 1, 1), 0), ((1, 7, 17, 3), (25, 7, 3, 3), 1),
                ((2, 8, 5, 20), (9, 8, 3, 1), (0, 0)), ((1, 9, 12, 1), (8, 9, 3, 1), (1, 0)),
                ((2, 2, 2, 2), (4, 2, 5, 5), 2), ((1, 6, 10, 30), (4, 6, 3, 3), (0, 1)),
                ((1, 64, 6, 6), (32, 64, 3, 3), 1)]


@pytest.mark.parametrize("level", [lv for lv in fastnn.cpu_simd_levels() if lv != "generic"])
def test_masked_kernel_is_the_packed_gemm_bit_for_bit(level, algorithm):
    """The GEMM that loads its im2col rows straight from x with masked vector loads (setting
    'gemm', float32, AVX2 or AVX-512) gives the bits of the GEMM that packs them first (setting
    'packed'): forward with every activation, with and without bias, NaN and inf in x, at 1/2/3
    threads, and the backward pass (dx by convolution runs the same kernel)."""
    rng = np.random.default_rng(41)
    for xs, ws, p in MASKED_CASES:
        x = rng.standard_normal(xs).astype(np.float32)
        x.flat[rng.integers(x.size)] = np.nan
        x.flat[rng.integers(x.size)] = -np.inf
        w = rng.standard_normal(ws).astype(np.float32)
        b = rng.standard_normal(ws[0]).astype(np.float32)
        with simd(level):
            algorithm("gemm")
            assert _conv.masked_kernel_applies(xs, ws, 1, p, np.float32), (xs, ws, p)
            assert not _conv.masked_kernel_applies(xs, ws, 1, p, np.float64)
            algorithm("packed")
            assert not _conv.masked_kernel_applies(xs, ws, 1, p, np.float32)
        for act, bias in zip(ACTS, (b, None, b, b, None)):
            algorithm("packed")
            with simd(level):
                want = _conv.conv2d_forward(x, w, bias, 1, p, activation=act)
            algorithm("gemm")
            for threads in (1, 2, 3):
                with simd(level), fastnn._config.threads(threads):
                    got = _conv.conv2d_forward(x, w, bias, 1, p, activation=act)
                assert same_bits(got, want), (xs, ws, p, act, threads)
        dy = rng.standard_normal(want.shape).astype(np.float32)
        algorithm("packed")
        with simd(level):
            want = _conv.conv2d_backward(dy, x, w, 1, p)
        algorithm("gemm")
        for threads in (1, 2, 3):
            with simd(level), fastnn._config.threads(threads):
                got = _conv.conv2d_backward(dy, x, w, 1, p)
            for name, a, e in zip(("dx", "dw", "db"), got, want):
                assert same_bits(a, e), (xs, ws, p, threads, name)


# (x shape, w shape, stride, padding) with C a multiple of 8: dw by the kernel that reads its
# operands in place (src_c/fnn_conv_dw_inplace.h) at AVX2, and at AVX-512 where C is a multiple
# of 16.  C = 16 (CKK an odd number of 16s: a last column panel of one vector at AVX-512), 48 and
# 24 (a panel's two vectors in two taps at AVX-512 / AVX2), 8, 32 and 64; output channels 1, 5,
# 7, 12, 13, 14, 64 (row panels ending in every row variant of both levels); strides and padding of
# every kind (the index table's zero row), non-square kernels, batch 1, a 1x1 output.
DW_INPLACE_CASES = [((3, 32, 14, 14), (64, 32, 3, 3), 1, 1), ((1, 16, 5, 7), (5, 16, 3, 3), 1, 1),
                    ((2, 48, 6, 5), (13, 48, 2, 3), (2, 1), (1, 2)),
                    ((1, 64, 7, 7), (12, 64, 3, 3), 2, 0), ((2, 16, 3, 3), (1, 16, 3, 3), 1, 0),
                    ((1, 32, 9, 4), (7, 32, 5, 1), (1, 3), (3, 0)),
                    ((2, 24, 5, 6), (5, 24, 3, 3), 1, 1), ((1, 8, 4, 9), (14, 8, 1, 3), 1, (0, 1))]


@pytest.mark.parametrize("level", [lv for lv in fastnn.cpu_simd_levels() if lv != "generic"])
def test_dw_inplace_is_the_packed_gemm_bit_for_bit(level, algorithm):
    """dw by the kernel that reads dy and a channel-last copy of x in place (setting 'gemm',
    float32) has the bits of the GEMM that packs both (setting 'packed'), with NaN and inf in x
    and dy, at 1/2/3 threads (its tiles split by cost)."""
    rng = np.random.default_rng(43)
    vector = 16 if level == "avx512" else 8
    for xs, ws, s, p in DW_INPLACE_CASES:
        x = rng.standard_normal(xs).astype(np.float32)
        x.flat[rng.integers(x.size)] = np.inf
        w = rng.standard_normal(ws).astype(np.float32)
        with simd(level):
            algorithm("gemm")
            applies = _conv.dw_inplace_applies(xs, ws, s, p, np.float32)
            assert applies == (xs[1] % vector == 0), (level, xs, ws, s, p)
            dy = rng.standard_normal(_conv.conv2d_forward(x, w, None, s, p).shape).astype(
                np.float32)
            dy.flat[rng.integers(dy.size)] = np.nan
            algorithm("packed")
            assert not _conv.dw_inplace_applies(xs, ws, s, p, np.float32)
            want = _conv.conv2d_backward(dy, x, w, s, p, need_dx=False)
        algorithm("gemm")
        for threads in (1, 2, 3):
            with simd(level), fastnn._config.threads(threads):
                got = _conv.conv2d_backward(dy, x, w, s, p, need_dx=False)
            for name, a, e in zip(("dw", "db"), got[1:], want[1:]):
                assert same_bits(a, e), (level, xs, ws, s, p, threads, name)


_GUARDED_CONV = """
import ctypes, mmap
import numpy as np
import fastnn
from fastnn.kernels import _conv

PAGE = mmap.PAGESIZE
libc = ctypes.CDLL(None)
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
keep = []


def guarded(shape):
    # a float32 array that fills whole pages with an inaccessible page on each side: a read
    # one element before or after it faults
    n = int(np.prod(shape))
    nbytes = -(-n * 4 // PAGE) * PAGE
    buf = mmap.mmap(-1, nbytes + 2 * PAGE)
    base = ctypes.addressof(ctypes.c_char.from_buffer(buf))
    a = np.frombuffer(buf, dtype=np.float32, count=nbytes // 4, offset=PAGE)[nbytes // 4 - n:]
    assert libc.mprotect(base, PAGE, 0) == 0
    assert libc.mprotect(base + PAGE + nbytes, PAGE, 0) == 0
    keep.append(buf)
    return a.reshape(shape)


rng = np.random.default_rng(5)
for C, H, W, OC in ((16, 8, 8, 16), (3, 5, 7, 5), (8, 1, 9, 8)):
    x = guarded((1, C, H, W))
    x[...] = rng.standard_normal(x.shape)
    w = rng.standard_normal((OC, C, 3, 3)).astype(np.float32)
    dy = guarded((1, OC, H, W))
    dy[...] = rng.standard_normal(dy.shape)
    for level in [lv for lv in fastnn.cpu_simd_levels() if lv != "generic"]:
        fastnn.set_simd(level)
        results = {}
        for setting in ("gemm", "packed"):
            _conv.set_conv_algorithm(setting)
            results[setting] = (_conv.conv2d_forward(x, w, None, 1, 1),) + tuple(
                _conv.conv2d_backward(dy, x, w, 1, 1))
        assert _conv.set_conv_algorithm("gemm") == "packed"
        assert _conv.masked_kernel_applies(x.shape, w.shape, 1, 1, np.float32)
        for a, b in zip(results["gemm"], results["packed"]):
            assert a.tobytes() == b.tobytes(), (C, H, W, OC, level)
print("ok")
"""


@pytest.mark.skipif(not sys.platform.startswith("linux") or "avx2" not in fastnn.cpu_simd_levels(),
                    reason="needs Linux (mprotect) and a CPU with AVX2")
def test_masked_loads_never_read_outside_the_arrays():
    """x and dy each end against an inaccessible page on both sides (a child process, so a
    fault fails the test instead of killing pytest): the masked loads of the forward pass and
    of dx by convolution reach past both ends of the arrays only in masked-off lanes, which are
    never read, at every SIMD level that runs them; the results are the packing GEMM's."""
    proc = run_child(_GUARDED_CONV)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]


def test_masked_kernel_rule(algorithm):
    """Where the masked kernel may run: float32 at an AVX2 or AVX-512 level, stride 1, OW == W;
    dw in place: float32, C % 16 == 0 at AVX-512 or C % 8 == 0 at AVX2, an index table no
    larger than one image; both under the settings 'auto' and 'gemm' only."""
    levels = fastnn.cpu_simd_levels()
    for level in levels:
        with simd(level):
            on = level != "generic"
            assert _conv.masked_kernel_applies((1, 3, 8, 8), (4, 3, 3, 3), 1, 1, "float32") == on
            assert _conv.masked_kernel_applies((1, 3, 8, 8), (4, 3, 3, 5), 1, (1, 2),
                                               np.float32) == on
            assert not _conv.masked_kernel_applies((1, 3, 8, 8), (4, 3, 3, 3), 1, 0, np.float32)
            assert not _conv.masked_kernel_applies((1, 3, 8, 8), (4, 3, 3, 3), (1, 2), 1,
                                                   np.float32)
            assert not _conv.masked_kernel_applies((1, 3, 8, 8), (4, 3, 3, 3), (2, 1), 1,
                                                   np.float32)
            assert not _conv.masked_kernel_applies((1, 3, 8, 8), (4, 3, 3, 3), 1, 1, np.float64)
            # dw in place: C % 16 == 0 (AVX-512) or C % 8 == 0 (AVX2), any stride and padding
            assert _conv.dw_inplace_applies((1, 16, 8, 8), (4, 16, 3, 3), (2, 3), 0,
                                            "float32") == on
            assert _conv.dw_inplace_applies((1, 24, 8, 8), (4, 24, 3, 3), 1, 1,
                                            "float32") == (level == "avx2")
            assert not _conv.dw_inplace_applies((1, 12, 8, 8), (4, 12, 3, 3), 1, 1, "float32")
            # its index table (kh*kw*OH*OW entries) may not outgrow one image (C*H*W)
            assert not _conv.dw_inplace_applies((1, 16, 4, 4), (4, 16, 5, 5), 1, 2, "float32")
            assert _conv.dw_inplace_applies((1, 16, 4, 4), (4, 16, 3, 3), 1, 1,
                                            "float32") == on
            assert not _conv.dw_inplace_applies((1, 16, 8, 8), (4, 16, 3, 3), 1, 1, "float64")
            for setting, allowed in (("gemm", True), ("packed", False), ("im2col", False)):
                algorithm(setting)
                assert _conv.masked_kernel_applies((1, 3, 8, 8), (4, 3, 3, 3), 1, 1,
                                                   np.float32) == (allowed and on)
                assert _conv.dw_inplace_applies((1, 16, 8, 8), (4, 16, 3, 3), 1, 1,
                                                np.float32) == (allowed and on)
            algorithm("auto")


# --------------------------------------------------------------------------- dx as a convolution
# At stride 1 with padding <= kernel - 1 and at least DX_CONVOLUTION_MIN_CHANNELS input
# channels, dx is the forward convolution of dy with the flipped, channel-swapped kernel
# (fastnn/kernels/_conv.pyx, _dx_convolution) instead of W^T @ dy and col2im: the same sums
# in another order, so the two paths agree to rounding, and each is the twin's dx to rounding.
DX_CASES = [((2, 8, 7, 9), (5, 8, 3, 3), 1, 1), ((1, 9, 5, 6), (3, 9, 2, 3), 1, (1, 0)),
            ((3, 12, 4, 4), (2, 12, 4, 1), 1, (3, 0)), ((1, 8, 6, 21), (4, 8, 5, 5), 1, 2),
            ((2, 8, 3, 3), (7, 8, 1, 1), 1, 0)]


def test_dx_as_convolution_rule():
    m = _conv.DX_CONVOLUTION_MIN_CHANNELS
    assert _conv.dx_as_convolution(m, Geometry(3, 3, 1, 1, 2, 2, 5, 5))
    assert not _conv.dx_as_convolution(m - 1, Geometry(3, 3, 1, 1, 1, 1, 5, 5))
    assert not _conv.dx_as_convolution(m, Geometry(3, 3, 1, 2, 1, 1, 5, 3))     # stride 2
    assert not _conv.dx_as_convolution(m, Geometry(3, 3, 1, 1, 3, 1, 7, 5))     # ph > kh - 1
    assert not _conv.dx_as_convolution(m, Geometry(1, 2, 1, 1, 0, 2, 5, 8))     # pw > kw - 1


@pytest.fixture
def dx_by_columns():
    """Makes conv2d_backward take the columns + col2im path for dx while active."""
    saved = _conv.DX_CONVOLUTION_MIN_CHANNELS

    def force(on):
        _conv.DX_CONVOLUTION_MIN_CHANNELS = 10 ** 9 if on else saved
    yield force
    _conv.DX_CONVOLUTION_MIN_CHANNELS = saved


@pytest.mark.parametrize("case", DX_CASES, ids=str)
def test_dx_as_convolution_is_the_columns_path_to_rounding(case, dx_by_columns):
    xs, ws, s, p = case
    rng = np.random.default_rng(31)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    dy = rng.standard_normal(_conv.conv2d_forward(x, w, None, s, p).shape)
    assert _conv.dx_as_convolution(xs[1], geometry(x.shape, ws[2], ws[3], s, p))
    dx_conv, dw, db = _conv.conv2d_backward(dy, x, w, s, p)
    dx_by_columns(True)
    dx_cols, dw2, db2 = _conv.conv2d_backward(dy, x, w, s, p)
    dx_by_columns(False)
    # dw and db do not depend on how dx is computed
    assert same_bits(dw, dw2) and same_bits(db, db2)
    want = reference.conv2d_backward(dy, x, w, s, p)[0]
    bound = 2 * ws[0] * ws[2] * ws[3] * np.finfo(np.float64).eps * reference.conv2d_backward(
        np.abs(dy), np.abs(x), np.abs(w), s, p)[0]
    for got in (dx_conv, dx_cols):
        assert np.all(np.abs(got - want) <= 2 * bound), case
