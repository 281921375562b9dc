"""fastnn.kernels im2col / col2im / conv2d_forward / conv2d_backward against their NumPy twins,
torch (when importable), numeric gradients and each other (adjointness, thread counts).

im2col and col2im do the same operations as the twins in the same order, so they must match
bit for bit.  The convolution products go through fastnn's GEMM, whose summation order differs
from NumPy's BLAS, so they are checked against the bound that holds for any summation order:
|computed - exact| <= 2 K eps (|A| @ |B|) with ``exact`` computed in float64 (float32 inputs),
or, for float64, against the twin with twice that bound (both sides are rounded).
"""
import textwrap
import threading

import numpy as np
import pytest
from hypothesis import given, strategies as st

import fastnn
from fastnn import reference
from fastnn.kernels import _conv
from fnn_testutil import layout as _layout

DTYPES = [np.float32, np.float64]
LAYOUTS = ["C", "F", "sliced"]


@st.composite
def conv_cases(draw):
    """Random geometry: batch 1..3, 1..4 channels, kernels 1..4 (non-square included), strides
    1..3 per axis, padding 0..2 per axis, input sizes from 'kernel barely fits' upwards."""
    n = draw(st.integers(1, 3))
    c = draw(st.integers(1, 4))
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
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@given(case=conv_cases())
def test_im2col_col2im_bit_identical_to_twin(case, layout, dtype):
    rng, x, _, _ = _arrays(case, dtype)
    args = (case["kh"], case["kw"], case["stride"], case["padding"])
    cols = _conv.im2col(_layout(x, layout), *args)
    expected = reference.im2col(x, *args)
    assert cols.shape == expected.shape and cols.dtype == x.dtype
    np.testing.assert_array_equal(cols, expected)
    c = rng.standard_normal(cols.shape).astype(dtype)
    dx = _conv.col2im(_layout(c, layout), x.shape, *args)
    assert dx.shape == x.shape and dx.dtype == x.dtype
    np.testing.assert_array_equal(dx, reference.col2im(c, x.shape, *args))


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
@given(case=conv_cases(), layout=st.sampled_from(LAYOUTS))
def test_conv_backward_matches_twin(case, layout, dtype):
    rng, x, w, _ = _arrays(case, dtype)
    s, p = case["stride"], case["padding"]
    kh, kw = case["kh"], case["kw"]
    y_shape = reference.conv2d_forward(x, w, None, s, p).shape
    dy = rng.standard_normal(y_shape).astype(dtype)
    dx, dw, db = _conv.conv2d_backward(_layout(dy, layout), _layout(x, layout),
                                       _layout(w, layout), s, p)
    assert (dx.shape, dw.shape, db.shape) == (x.shape, w.shape, (w.shape[0],))
    assert dx.dtype == dw.dtype == db.dtype == x.dtype
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
@given(case=conv_cases(), use_bias=st.booleans(), layout=st.sampled_from(LAYOUTS),
       act=st.sampled_from(ACTS))
def test_conv_forward_matches_twin(case, use_bias, layout, act, dtype):
    """y = act(conv(x, w) + b), bias and activation fused into the GEMM epilogue, against the
    exact value (computed in float64) and the twin."""
    _, x, w, b = _arrays(case, dtype)
    b = b if use_bias else None
    s, p = case["stride"], case["padding"]
    y = _conv.conv2d_forward(_layout(x, layout), _layout(w, layout), b, s, p, activation=act)
    twin = reference.conv2d_forward(x, w, b, s, p, activation=act)
    assert y.dtype == twin.dtype == x.dtype and y.shape == twin.shape and y.flags.c_contiguous

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


# --------------------------------------------------------------------------- threads, workspace
@pytest.mark.parametrize("dtype", DTYPES)
def test_bit_identical_at_1_2_3_threads(dtype):
    # Large enough that every loop and the GEMM really split over threads.
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 8, 15, 13)).astype(dtype)
    w = rng.standard_normal((24, 8, 3, 2)).astype(dtype)
    b = rng.standard_normal(24).astype(dtype)
    s, p = (2, 1), (1, 2)
    results = []
    for n in (1, 2, 3):
        with fastnn._config.threads(n):
            cols = _conv.im2col(x, 3, 2, s, p)
            y = _conv.conv2d_forward(x, w, b, s, p)
            dy = np.cos(y)
            grads = _conv.conv2d_backward(dy, x, w, s, p)
            back = _conv.col2im(cols, x.shape, 3, 2, s, p)
        results.append((cols, y, back) + grads)
    for other in results[1:]:
        for a, b_ in zip(results[0], other):
            np.testing.assert_array_equal(a, b_)


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


def test_read_only_inputs_are_accepted():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 6, 6))
    w = rng.standard_normal((4, 3, 3, 3))
    b = rng.standard_normal(4)
    for a in (x, w, b):
        a.flags.writeable = False
    y = _conv.conv2d_forward(x, w, b, 1, 1)
    dx, dw, db = _conv.conv2d_backward(y, x, w, 1, 1)
    np.testing.assert_allclose(y, reference.conv2d_forward(x, w, b, 1, 1), rtol=1e-12, atol=1e-12)
    assert _conv.im2col(x, 3, 3, 1, 1).shape == (27, 72)


def test_api_names():
    assert set(_conv.__all__) == {"im2col", "col2im", "conv2d_forward", "conv2d_backward"}
    for name in _conv.__all__:
        assert getattr(fastnn.kernels, name) is getattr(_conv, name)
        assert callable(getattr(reference, name))


# --------------------------------------------------------------------------- bad input
_X = np.zeros((2, 3, 5, 5))
_W = np.zeros((4, 3, 3, 3))
_DY = np.zeros((2, 4, 3, 3))

BAD = [
    # (label, call, exception, words the message must contain)
    ("x rank", lambda m: m.conv2d_forward(_X[0], _W, None, 1, 0), ValueError, ["x", "4-dim"]),
    ("w rank", lambda m: m.conv2d_forward(_X, _W[0], None, 1, 0), ValueError, ["w", "4-dim"]),
    ("channels", lambda m: m.conv2d_forward(_X, _W[:, :2], None, 1, 0), ValueError,
     ["w", "x", "in_channels", "3"]),
    ("bias shape", lambda m: m.conv2d_forward(_X, _W, np.zeros(3), 1, 0), ValueError, ["b"]),
    ("dtype mix", lambda m: m.conv2d_forward(_X.astype(np.float32), _W, None, 1, 0), TypeError,
     ["w", "float32", "float64"]),
    ("bias dtype", lambda m: m.conv2d_forward(_X, _W, np.zeros(4, np.float32), 1, 0), TypeError,
     ["b"]),
    ("int x", lambda m: m.conv2d_forward(_X.astype(np.int64), _W, None, 1, 0), TypeError,
     ["x", "int64"]),
    ("object x", lambda m: m.im2col(_X.astype(object), 3, 3, 1, 0), TypeError, ["x", "object"]),
    ("kernel too big", lambda m: m.conv2d_forward(_X, np.zeros((4, 3, 8, 3)), None, 1, 1),
     ValueError, ["kh", "7", "8"]),
    ("kernel too wide", lambda m: m.im2col(_X, 3, 6, 1, 0), ValueError, ["kw", "6", "5"]),
    ("stride 0", lambda m: m.conv2d_forward(_X, _W, None, 0, 0), ValueError, ["stride", "0"]),
    ("stride pair 0", lambda m: m.im2col(_X, 3, 3, (1, 0), 0), ValueError, ["stride[1]"]),
    ("negative padding", lambda m: m.conv2d_forward(_X, _W, None, 1, -1), ValueError,
     ["padding", "-1"]),
    ("float stride", lambda m: m.im2col(_X, 3, 3, 1.5, 0), TypeError, ["stride"]),
    ("stride triple", lambda m: m.im2col(_X, 3, 3, (1, 1, 1), 0), ValueError, ["stride"]),
    ("kh 0", lambda m: m.im2col(_X, 0, 3, 1, 0), ValueError, ["kh"]),
    ("huge padding", lambda m: m.im2col(_X, 3, 3, 1, 10 ** 19), ValueError, ["padding"]),
    ("huge stride", lambda m: m.conv2d_forward(_X, _W, None, (1, 2 ** 63), 0), ValueError,
     ["stride[1]"]),
    ("empty batch", lambda m: m.conv2d_forward(_X[:0], _W, None, 1, 0), ValueError, ["x"]),
    ("list x", lambda m: m.im2col("abc", 3, 3, 1, 0), TypeError, ["x"]),
    ("cols shape", lambda m: m.col2im(np.zeros((27, 17)), _X.shape, 3, 3, 1, 0), ValueError,
     ["cols", "(27, 18)"]),
    ("x_shape len", lambda m: m.col2im(np.zeros((27, 18)), (2, 3, 5), 3, 3, 1, 0), ValueError,
     ["x_shape"]),
    ("x_shape neg", lambda m: m.col2im(np.zeros((27, 18)), (2, 3, -5, 5), 3, 3, 1, 0),
     ValueError, ["x_shape"]),
    ("dy shape", lambda m: m.conv2d_backward(_DY[:, :3], _X, _W, 1, 0), ValueError,
     ["dy", "(2, 4, 3, 3)"]),
    ("dy dtype", lambda m: m.conv2d_backward(_DY.astype(np.float32), _X, _W, 1, 0), TypeError,
     ["dy"]),
    ("bwd channels", lambda m: m.conv2d_backward(_DY, _X[:, :2], _W, 1, 0), ValueError,
     ["w", "x"]),
    ("activation", lambda m: m.conv2d_forward(_X, _W, None, 1, 0, activation="gelu"),
     ValueError, ["activation", "gelu"]),
]


@pytest.mark.parametrize("impl", ["kernels", "reference"])
@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_input_raises_naming_the_argument(case, impl):
    _, call, exc, words = case
    module = _conv if impl == "kernels" else reference
    with pytest.raises(exc) as info:
        call(module)
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def test_bad_input_in_child_process_does_not_crash(run_child):
    """A crash (segfault) would kill the child, not fail an assert: run a few there."""
    code = textwrap.dedent("""
        import numpy as np
        from fastnn.kernels import _conv
        x = np.zeros((2, 3, 5, 5)); w = np.zeros((4, 3, 3, 3))
        calls = [
            lambda: _conv.conv2d_forward(x, np.zeros((4, 3, 9, 9)), None, 1, 1),
            lambda: _conv.conv2d_forward(x, w, None, 0, 0),
            lambda: _conv.conv2d_forward(x, w, None, 1, -3),
            lambda: _conv.conv2d_backward(np.zeros((2, 4, 9, 9)), x, w, 1, 0),
            lambda: _conv.col2im(np.zeros((27, 1)), (2, 3, 5, 5), 3, 3, 1, 0),
            lambda: _conv.im2col(x.astype(np.int32), 3, 3, 1, 0),
        ]
        for call in calls:
            try:
                call()
            except (ValueError, TypeError) as exc:
                print(type(exc).__name__)
            else:
                print("no error")
    """)
    res = run_child(code, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["ValueError"] * 5 + ["TypeError"], res.stdout


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


@pytest.mark.parametrize("mod", [_conv, reference], ids=["compiled", "twin"])
@pytest.mark.parametrize("bad", [1, "no", None])
def test_backward_need_dx_must_be_a_bool(mod, bad):
    x = np.zeros((1, 1, 4, 4), np.float32)
    w = np.zeros((1, 1, 3, 3), np.float32)
    dy = np.zeros((1, 1, 2, 2), np.float32)
    with pytest.raises(TypeError, match="need_dx"):
        mod.conv2d_backward(dy, x, w, 1, 0, need_dx=bad)
