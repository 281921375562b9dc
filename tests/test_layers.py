"""fastnn.layers: every layer against a plain NumPy computation written here, on both kernel
backends (compiled and the NumPy twins), float64 centred-difference gradient checks of dx and
of every parameter's grad, Dropout's semantics, configs and serialisation, regularization_loss,
astype, and the errors for bad constructor arguments, bad inputs and backward-before-forward."""
import json

import numpy as np
import pytest

import fastnn
from fastnn import backend
from fastnn import layers as L
from fastnn import regularizers

BACKENDS = ["compiled", "reference"]
ACTS = [None, "relu", "sigmoid", "tanh", "elu"]


# --------------------------------------------------------------------------- NumPy oracles
def np_act(z, act, alpha=1.0):
    if act is None:
        return z
    if act == "relu":
        return np.maximum(z, 0)
    if act == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if act == "tanh":
        return np.tanh(z)
    if act == "elu":
        return np.where(z > 0, z, alpha * (np.exp(z) - 1.0))
    raise AssertionError(act)


def np_act_grad(z, act, alpha=1.0):
    """d act / dz, from z."""
    if act is None:
        return np.ones_like(z)
    if act == "relu":
        return (z > 0).astype(z.dtype)
    if act == "sigmoid":
        s = 1.0 / (1.0 + np.exp(-z))
        return s * (1 - s)
    if act == "tanh":
        return 1 - np.tanh(z) ** 2
    if act == "elu":
        return np.where(z > 0, 1.0, alpha * np.exp(z))
    raise AssertionError(act)


def np_conv2d(x, w, b, stride, pad):
    """Direct cross-correlation, window by window (no im2col)."""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    (sh, sw), (ph, pw) = stride, pad
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh, ow = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    y = np.empty((n, o, oh, ow), dtype=np.float64)
    for i in range(oh):
        for j in range(ow):
            win = xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
            y[:, :, i, j] = np.tensordot(win, w, axes=([1, 2, 3], [1, 2, 3])) + b
    return y


def np_conv2d_backward(dz, x, w, stride, pad):
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    (sh, sw), (ph, pw) = stride, pad
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))).astype(np.float64)
    dxp = np.zeros_like(xp)
    dw = np.zeros(w.shape)
    for i in range(dz.shape[2]):
        for j in range(dz.shape[3]):
            sl = (slice(None), slice(None), slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw))
            dw += np.tensordot(dz[:, :, i, j], xp[sl], axes=([0], [0]))
            dxp[sl] += np.tensordot(dz[:, :, i, j], w, axes=([1], [0]))
    return dxp[:, :, ph:ph + h, pw:pw + wd], dw, dz.sum(axis=(0, 2, 3))


def np_maxpool(x, pool, stride):
    """(y, dy -> dx function); ties: first maximum in row-major order (np.argmax)."""
    n, c, h, w = x.shape
    (ph, pw), (sh, sw) = pool, stride
    oh, ow = (h - ph) // sh + 1, (w - pw) // sw + 1
    y = np.empty((n, c, oh, ow), dtype=x.dtype)
    pos = np.empty((n, c, oh, ow, 2), dtype=np.int64)
    for a in range(n):
        for ch in range(c):
            for i in range(oh):
                for j in range(ow):
                    win = x[a, ch, i * sh:i * sh + ph, j * sw:j * sw + pw]
                    k = int(np.argmax(win))
                    y[a, ch, i, j] = win.flat[k]
                    pos[a, ch, i, j] = (i * sh + k // pw, j * sw + k % pw)

    def backward(dy):
        dx = np.zeros_like(x)
        for a in range(n):
            for ch in range(c):
                for i in range(oh):
                    for j in range(ow):
                        r, s = pos[a, ch, i, j]
                        dx[a, ch, r, s] += dy[a, ch, i, j]
        return dx
    return y, backward


def np_softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# --------------------------------------------------------------------------- gradient helper
# Written out, not fastnn.gradcheck: the layer tests check gradients independently of the
# library's own checker (which has its own tests).
def numgrad(f, a, eps=1e-6):
    """Centred differences of the scalar f() with respect to every element of ``a`` (perturbed
    in place and restored)."""
    g = np.zeros(a.shape, dtype=np.float64)
    for idx in np.ndindex(a.shape):
        old = a[idx]
        a[idx] = old + eps
        fp = f()
        a[idx] = old - eps
        fm = f()
        a[idx] = old
        g[idx] = (fp - fm) / (2 * eps)
    return g


# float64 centred differences with eps = 1e-6 on O(1) values: truncation ~eps^2 = 1e-12 and
# rounding ~1e-16 / 1e-6 = 1e-10, so 1e-6 relative / 1e-7 absolute is loose for a correct
# gradient and far below what any wrong term (O(1)) would give.
GRAD_TOL = dict(rtol=1e-6, atol=1e-7)


def check_layer_grads(layer, x, rng, training=False, **fwd):
    """Check dx and every parameter grad of ``layer`` at x against centred differences of
    L = sum(forward(x) * g) for a random upstream gradient g."""
    y = layer.forward(x, training=training, **fwd)
    g = rng.standard_normal(y.shape)
    dx = layer.backward(g).copy()
    grads = [p.grad.copy() for p in layer.parameters()]
    reg = layer.regularization_loss

    def loss():
        return float(np.sum(layer.forward(x, training=training, **fwd) * g)) + reg()
    np.testing.assert_allclose(dx, numgrad(loss, x), **GRAD_TOL)
    for p, gr in zip(layer.parameters(), grads):
        np.testing.assert_allclose(gr, numgrad(loss, p.value), err_msg=p.name, **GRAD_TOL)


@pytest.fixture(params=BACKENDS)
def on_backend(request):
    with backend.use(request.param):
        yield request.param


# --------------------------------------------------------------------------- Dense
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_matches_numpy(on_backend, act, dtype, rng):
    layer = L.Dense(7, 5, activation=act, bias_initializer="random_normal", seed=3, dtype=dtype)
    w, b = layer.kernel.value, layer.bias.value
    assert w.shape == (7, 5) and b.shape == (5,)         # Keras layout (in, out)
    x = rng.standard_normal((4, 7)).astype(dtype)
    y = layer.forward(x)
    x64, w64, b64 = x.astype(np.float64), w.astype(np.float64), b.astype(np.float64)
    z = x64 @ w64 + b64
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    assert y.dtype == dtype and y.shape == (4, 5)
    np.testing.assert_allclose(y, np_act(z, act), **tol)
    dy = rng.standard_normal(y.shape).astype(dtype)
    dx = layer.backward(dy)
    dz = dy.astype(np.float64) * np_act_grad(z, act)
    assert dx.dtype == dtype and dx.shape == x.shape
    np.testing.assert_allclose(dx, dz @ w64.T, **tol)
    np.testing.assert_allclose(layer.kernel.grad, x64.T @ dz, **tol)
    np.testing.assert_allclose(layer.bias.grad, dz.sum(axis=0), **tol)


def test_dense_uses_fused_matmul_bias(monkeypatch, rng):
    """Forward is one matmul_bias call with the layer's activation (the fused kernel)."""
    calls = []
    k = backend.K()
    real = k.matmul_bias

    def spy(*args, **kw):
        calls.append(kw.get("activation", args[3] if len(args) > 3 else None))
        return real(*args, **kw)
    monkeypatch.setattr(k, "matmul_bias", spy)
    layer = L.Dense(3, 2, activation="tanh", seed=0)
    layer.forward(rng.standard_normal((2, 3)).astype(np.float32))
    assert calls == ["tanh"]


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("batch", [1, 3])
def test_dense_gradcheck(on_backend, act, batch, rng):
    layer = L.Dense(5, 4, activation=act, bias_initializer="random_normal", seed=1,
                    dtype=np.float64)
    x = rng.standard_normal((batch, 5))
    z = x @ layer.kernel.value + layer.bias.value
    assert np.abs(z).min() > 1e-3                       # no ReLU/ELU kink within eps
    check_layer_grads(layer, x, rng)


def test_dense_noncontiguous_and_int_input(on_backend, rng):
    layer = L.Dense(4, 3, seed=0, dtype=np.float64)
    big = rng.standard_normal((6, 8))
    x = big[::2, ::2]                                   # strided view
    np.testing.assert_allclose(layer.forward(x), x @ layer.kernel.value, rtol=1e-12, atol=1e-12)
    xf = np.asfortranarray(big[:, :4])
    np.testing.assert_allclose(layer.forward(xf), big[:, :4] @ layer.kernel.value,
                               rtol=1e-12, atol=1e-12)
    xi = np.arange(8, dtype=np.uint8).reshape(2, 4)     # uint8 pixels are cast, as Keras
    y = layer.forward(xi)
    assert y.dtype == np.float64
    np.testing.assert_allclose(y, xi @ layer.kernel.value, rtol=1e-12)


# --------------------------------------------------------------------------- Conv2D
CONV_CASES = [  # (in, out, kernel, stride, padding, x shape)
    (2, 3, (3, 2), 2, 1, (1, 2, 5, 6)),               # batch 1, stride 2, pad 1, non-square
    (3, 2, 3, 1, 0, (2, 3, 5, 5)),
    (1, 4, (2, 3), (2, 1), (1, 0), (2, 1, 6, 7)),
    (2, 2, 1, 1, 2, (1, 2, 2, 3)),                    # 1x1 kernel, padding larger than kernel
]


@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("act", [None, "relu", "tanh"])
def test_conv2d_matches_numpy(on_backend, case, act, rng):
    cin, cout, k, s, p, xs = case
    layer = L.Conv2D(cin, cout, k, stride=s, padding=p, activation=act,
                     bias_initializer="random_normal", seed=2, dtype=np.float64)
    kh, kw = (k, k) if isinstance(k, int) else k
    assert layer.kernel.value.shape == (cout, cin, kh, kw)      # torch layout
    x = rng.standard_normal(xs)
    stride = (s, s) if isinstance(s, int) else s
    pad = (p, p) if isinstance(p, int) else p
    z = np_conv2d(x, layer.kernel.value, layer.bias.value, stride, pad)
    y = layer.forward(x)
    np.testing.assert_allclose(y, np_act(z, act), rtol=1e-12, atol=1e-12)
    assert y.shape[1:] == layer.output_shape(xs[1:])
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    edx, edw, edb = np_conv2d_backward(dy * np_act_grad(z, act), x, layer.kernel.value,
                                       stride, pad)
    np.testing.assert_allclose(dx, edx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.kernel.grad, edw, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.bias.grad, edb, rtol=1e-12, atol=1e-12)


def test_conv2d_float32_matches_numpy(on_backend, rng):
    layer = L.Conv2D(3, 4, 3, stride=1, padding=1, activation="relu", seed=0)
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    y = layer.forward(x)
    assert y.dtype == np.float32
    z = np_conv2d(x.astype(np.float64), layer.kernel.value.astype(np.float64),
                  layer.bias.value.astype(np.float64), (1, 1), (1, 1))
    np.testing.assert_allclose(y, np_act(z, "relu"), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", CONV_CASES[:3])
@pytest.mark.parametrize("act", [None, "tanh", "elu"])
def test_conv2d_gradcheck(on_backend, case, act, rng):
    cin, cout, k, s, p, xs = case
    layer = L.Conv2D(cin, cout, k, stride=s, padding=p, activation=act,
                     bias_initializer="random_normal", seed=4, dtype=np.float64)
    x = rng.standard_normal(xs)
    stride = (s, s) if isinstance(s, int) else s
    pad = (p, p) if isinstance(p, int) else p
    z = np_conv2d(x, layer.kernel.value, layer.bias.value, stride, pad)
    assert np.abs(z).min() > 1e-4                       # ELU's kink is away from every z
    check_layer_grads(layer, x, rng)


# --------------------------------------------------------------------------- MaxPool2D
POOL_CASES = [  # (pool, stride, x shape)
    (3, 2, (1, 2, 7, 6)),            # stride < pool: overlapping windows, batch 1
    ((2, 3), (3, 1), (2, 1, 8, 7)),  # stride > pool in H (gaps), < pool in W
    (2, None, (2, 3, 4, 5)),         # default stride = pool, odd width drops a column
]


def _distinct(rng, shape):
    """Values 0.1 apart (shuffled), so no two in a window are within eps of each other."""
    n = int(np.prod(shape))
    return (rng.permutation(n) * 0.1 - n * 0.05).reshape(shape).astype(np.float64)


@pytest.mark.parametrize("case", POOL_CASES)
def test_maxpool_matches_numpy(on_backend, case, rng):
    pool, stride, xs = case
    layer = L.MaxPool2D(pool, stride)
    x = _distinct(rng, xs)
    pp = (pool, pool) if isinstance(pool, int) else pool
    ss = pp if stride is None else ((stride, stride) if isinstance(stride, int) else stride)
    ey, eback = np_maxpool(x, pp, ss)
    y = layer.forward(x)
    np.testing.assert_array_equal(y, ey)
    assert y.shape[1:] == layer.output_shape(xs[1:])
    dy = rng.standard_normal(y.shape)
    np.testing.assert_allclose(layer.backward(dy), eback(dy), rtol=1e-15, atol=0)


def test_maxpool_ties_first_wins(on_backend):
    x = np.zeros((1, 1, 2, 2), dtype=np.float32)
    layer = L.MaxPool2D(2)
    layer.forward(x)
    dx = layer.backward(np.ones((1, 1, 1, 1), dtype=np.float32))
    np.testing.assert_array_equal(dx[0, 0], [[1, 0], [0, 0]])


@pytest.mark.parametrize("case", POOL_CASES)
def test_maxpool_gradcheck(on_backend, case, rng):
    pool, stride, xs = case
    layer = L.MaxPool2D(pool, stride)
    check_layer_grads(layer, _distinct(rng, xs), rng)


# --------------------------------------------------------------------------- Flatten
def test_flatten(on_backend, rng):
    layer = L.Flatten()
    x = rng.standard_normal((3, 2, 4, 5))
    y = layer.forward(x)
    np.testing.assert_array_equal(y, x.reshape(3, 40))     # channel-major, as torch
    assert layer.output_shape((2, 4, 5)) == (40,)
    dy = rng.standard_normal(y.shape)
    np.testing.assert_array_equal(layer.backward(dy), dy.reshape(x.shape))
    check_layer_grads(layer, x, rng)
    assert L.Flatten().forward(np.arange(3.0)).shape == (3, 1)


# --------------------------------------------------------------------------- activations
ACT_LAYERS = [
    (L.ReLU, {}, lambda x: np.maximum(x, 0), lambda x: (x > 0) * 1.0),
    (L.Sigmoid, {}, lambda x: 1 / (1 + np.exp(-x)),
     lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2),
    (L.Tanh, {}, np.tanh, lambda x: 1 / np.cosh(x) ** 2),
    (L.ELU, {}, lambda x: np.where(x > 0, x, np.exp(x) - 1),
     lambda x: np.where(x > 0, 1, np.exp(x))),
    (L.ELU, {"alpha": 0.3}, lambda x: np.where(x > 0, x, 0.3 * (np.exp(x) - 1)),
     lambda x: np.where(x > 0, 1, 0.3 * np.exp(x))),
]


@pytest.mark.parametrize("cls,kw,f,df", ACT_LAYERS)
@pytest.mark.parametrize("shape", [(1, 5), (3, 2, 4, 3)])
def test_activation_layers_match_numpy(on_backend, cls, kw, f, df, shape, rng):
    layer = cls(**kw)
    x = rng.standard_normal(shape) * 3
    y = layer.forward(x)
    np.testing.assert_allclose(y, f(x), rtol=1e-12, atol=1e-15)
    dy = rng.standard_normal(shape)
    np.testing.assert_allclose(layer.backward(dy), dy * df(x), rtol=1e-11, atol=1e-15)
    assert layer.output_shape(shape[1:]) == shape[1:]
    x32 = x.astype(np.float32)
    y32 = cls(**kw).forward(x32)
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32, f(x32.astype(np.float64)), rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize("cls,kw,f,df", ACT_LAYERS)
def test_activation_layers_gradcheck(on_backend, cls, kw, f, df, rng):
    x = rng.standard_normal((2, 3, 4))
    x[np.abs(x) < 1e-3] = 0.5                           # keep away from the kink at 0
    check_layer_grads(cls(**kw), x, rng)


def test_sigmoid_large_inputs_finite(on_backend):
    y = L.Sigmoid().forward(np.array([[-1e4, -50.0, 0.0, 50.0, 1e4]]))
    assert np.isfinite(y).all()
    np.testing.assert_allclose(y[0], [0.0, np.exp(-50.0) / (1 + np.exp(-50.0)), 0.5, 1.0, 1.0],
                               rtol=1e-12, atol=0)


@pytest.mark.parametrize("shape", [(4, 6), (1, 3), (2, 3, 5)])
def test_softmax_matches_numpy(on_backend, shape, rng):
    layer = L.Softmax()
    x = rng.standard_normal(shape) * 4
    y = layer.forward(x)
    p = np_softmax(x)
    np.testing.assert_allclose(y, p, rtol=1e-12, atol=1e-15)
    dy = rng.standard_normal(shape)
    # full Jacobian J[i, j] = p_i (delta_ij - p_j), row by row
    rows_p, rows_dy = p.reshape(-1, shape[-1]), dy.reshape(-1, shape[-1])
    expect = np.stack([(np.diag(r) - np.outer(r, r)) @ d for r, d in zip(rows_p, rows_dy)])
    np.testing.assert_allclose(layer.backward(dy), expect.reshape(shape), rtol=1e-10, atol=1e-14)
    check_layer_grads(L.Softmax(), x, rng)


def test_softmax_stable_for_huge_logits(on_backend):
    y = L.Softmax().forward(np.array([[1e4, -1e4, 0.0], [1e4, 1e4, -1e4]], dtype=np.float32))
    np.testing.assert_allclose(y, [[1, 0, 0], [0.5, 0.5, 0]], atol=1e-7)


# --------------------------------------------------------------------------- Dropout
def test_dropout_identity_when_not_training(on_backend, rng):
    layer = L.Dropout(0.5, seed=0)
    x = rng.standard_normal((4, 5))
    np.testing.assert_array_equal(layer.forward(x), x)
    np.testing.assert_array_equal(layer.forward(x, training=False), x)
    dy = rng.standard_normal(x.shape)
    np.testing.assert_array_equal(layer.backward(dy), dy)


@pytest.mark.parametrize("rate", [0.2, 0.5, 0.8])
def test_dropout_rate_is_drop_probability_with_inverted_scaling(on_backend, rate):
    n = 400_000
    layer = L.Dropout(rate, seed=11)
    x = np.ones((100, n // 100), dtype=np.float64)
    y = layer.forward(x, training=True)
    dropped = np.mean(y == 0)
    # binomial: 5 standard errors of the dropped fraction
    assert abs(dropped - rate) < 5 * np.sqrt(rate * (1 - rate) / n)
    np.testing.assert_allclose(y[y != 0], 1.0 / (1.0 - rate), rtol=1e-15)
    # inverted scaling keeps the expectation: y_i = Bernoulli(1-rate)/(1-rate) has variance
    # rate/(1-rate), so its mean is within 5 * sqrt(rate/((1-rate) n)) of 1
    assert abs(y.mean() - 1.0) < 5 * np.sqrt(rate / ((1 - rate) * n))


def test_dropout_backward_uses_forward_mask(on_backend, rng):
    rate = 0.4
    layer = L.Dropout(rate, seed=5)
    x = rng.uniform(1, 2, size=(6, 7))                  # no zeros: y == 0 exactly where dropped
    y = layer.forward(x, training=True)
    kept = y != 0
    np.testing.assert_allclose(y[kept], x[kept] / (1 - rate), rtol=1e-15)
    dy = rng.standard_normal(x.shape)
    np.testing.assert_allclose(layer.backward(dy), np.where(kept, dy / (1 - rate), 0),
                               rtol=1e-15, atol=0)
    # twice: backward does not redraw
    np.testing.assert_allclose(layer.backward(dy), np.where(kept, dy / (1 - rate), 0),
                               rtol=1e-15, atol=0)
    y2 = layer.forward(x, training=True)                # a new forward draws a new mask
    assert not np.array_equal(y2 != 0, kept)


def test_dropout_reproducible_from_seed():
    x = np.ones((50, 40), dtype=np.float32)
    a, b, c = L.Dropout(0.5, seed=123), L.Dropout(0.5, seed=123), L.Dropout(0.5, seed=124)
    for _ in range(3):
        ya, yb, yc = (l.forward(x, training=True) for l in (a, b, c))
        np.testing.assert_array_equal(ya, yb)
        assert not np.array_equal(ya, yc)
    g1 = L.Dropout(0.3, seed=np.random.default_rng(9))
    g2 = L.Dropout(0.3, seed=np.random.default_rng(9))
    np.testing.assert_array_equal(g1.forward(x, training=True), g2.forward(x, training=True))


def test_dropout_same_mask_both_backends(rng):
    x = rng.standard_normal((5, 8)).astype(np.float32)
    outs = []
    for name in BACKENDS:
        with backend.use(name):
            layer = L.Dropout(0.3, seed=42)
            outs.append((layer.forward(x, training=True), layer.backward(x)))
    np.testing.assert_array_equal(outs[0][0], outs[1][0])
    np.testing.assert_array_equal(outs[0][1], outs[1][1])


def test_dropout_given_mask_and_gradcheck(on_backend, rng):
    layer = L.Dropout(0.25)
    x = rng.standard_normal((2, 3, 4))
    mask = rng.random(x.shape) >= 0.25
    y = layer.forward(x, training=True, mask=mask)
    np.testing.assert_allclose(y, np.where(mask, x / 0.75, 0), rtol=1e-15)
    check_layer_grads(layer, x, rng, training=True, mask=mask)


def test_dropout_rate_zero_is_identity_in_training(on_backend, rng):
    x = rng.standard_normal((3, 4))
    layer = L.Dropout(0.0, seed=0)
    np.testing.assert_array_equal(layer.forward(x, training=True), x)


# --------------------------------------------------------------------------- both backends
def _all_layers(dtype):
    return [
        (L.Dense(6, 4, activation="relu", seed=0, dtype=dtype), (3, 6)),
        (L.Dense(6, 4, activation="sigmoid", seed=0, dtype=dtype), (1, 6)),
        (L.Conv2D(2, 3, (3, 2), stride=2, padding=1, activation="elu", seed=0, dtype=dtype),
         (2, 2, 5, 6)),
        (L.MaxPool2D(3, 2), (2, 2, 7, 6)),
        (L.Flatten(), (2, 3, 4)),
        (L.ReLU(), (3, 5)), (L.Sigmoid(), (3, 5)), (L.Tanh(), (3, 5)), (L.ELU(0.7), (3, 5)),
        (L.Softmax(), (3, 5)),
    ]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_and_reference_agree(dtype, rng):
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
    for layer, shape in _all_layers(dtype):
        x = rng.standard_normal(shape).astype(dtype)
        res = {}
        for name in BACKENDS:
            with backend.use(name):
                y = layer.forward(x)
                dy = np.linspace(-1, 1, y.size).reshape(y.shape).astype(dtype)
                dx = layer.backward(dy)
                res[name] = [y, dx] + [p.grad.copy() for p in layer.parameters()]
        for a, b in zip(res["compiled"], res["reference"]):
            assert a.dtype == b.dtype == dtype, layer
            np.testing.assert_allclose(a, b, err_msg=repr(layer), **tol)


# --------------------------------------------------------------------------- configs
def _config_layers():
    return [
        L.Dense(5, 3, activation="tanh", kernel_initializer="he_normal",
                bias_initializer="random_uniform", kernel_regularizer=regularizers.L2(0.01),
                bias_regularizer=regularizers.L1(0.002), seed=7, dtype=np.float64),
        L.Conv2D(2, 4, (3, 2), stride=(2, 1), padding=1, activation="relu",
                 kernel_regularizer=regularizers.L1L2(0.001, 0.002), seed=8),
        L.MaxPool2D(3, 2), L.MaxPool2D((2, 3)), L.Flatten(), L.Dropout(0.3, seed=4),
        L.ReLU(), L.Sigmoid(), L.Tanh(), L.ELU(alpha=0.5), L.Softmax(),
    ]


@pytest.mark.parametrize("index", range(11))
def test_serialize_deserialize_round_trip(index):
    layer = _config_layers()[index]
    d = json.loads(json.dumps(L.serialize(layer)))       # must be JSON-serialisable
    assert d["class_name"] == type(layer).__name__
    new = L.deserialize(d)
    assert type(new) is type(layer)
    assert new.get_config() == layer.get_config()
    assert L.get(d["class_name"]) is type(layer)
    # seeded weighted layers re-draw the same initial weights from their config
    for p, q in zip(layer.parameters(), new.parameters()):
        np.testing.assert_array_equal(p.value, q.value)
        assert p.value.dtype == q.value.dtype


def test_config_contents():
    d = L.Dense(5, 3, activation="linear", seed=1)
    cfg = d.get_config()
    assert cfg["activation"] is None and cfg["in_features"] == 5 and cfg["out_features"] == 3
    assert cfg["kernel_initializer"] == "glorot_uniform" and cfg["bias_initializer"] == "zeros"
    assert cfg["dtype"] == "float32" and cfg["seed"] == 1
    m = L.MaxPool2D(2)
    assert m.get_config()["stride"] is None and m.stride == (2, 2)
    # Dropout's config carries its generator state: the 64-bit key (drawn from a Generator
    # seed) and the counter, so a layer rebuilt from it continues the same mask stream
    cfg = L.Dropout(0.2, seed=np.random.default_rng(0)).get_config()
    assert cfg["seed"] == int(np.random.default_rng(0).integers(0, 2 ** 64, dtype=np.uint64))
    assert cfg["counter"] == 0
    assert L.Dropout(0.2, seed=5, name="d").get_config() == {
        "name": "d", "rate": 0.2, "seed": 5, "counter": 0}


def test_output_shapes_match_forward(rng):
    for layer, shape in _all_layers(np.float64):
        y = layer.forward(rng.standard_normal(shape))
        assert tuple(layer.output_shape(shape[1:])) == y.shape[1:], layer
    with pytest.raises(ValueError, match="input_shape"):
        L.Dense(4, 2).output_shape((5,))
    with pytest.raises(ValueError, match="input_shape"):
        L.Conv2D(3, 2, 3).output_shape((2, 8, 8))
    with pytest.raises(ValueError, match="input_shape"):
        L.Conv2D(3, 2, 5).output_shape((3, 4, 4))
    with pytest.raises(ValueError, match="input_shape"):
        L.MaxPool2D(3).output_shape((1, 2, 5))


def test_deserialize_bad_configs():
    with pytest.raises(ValueError, match="unknown layer class"):
        L.deserialize({"class_name": "Nope", "config": {}})
    with pytest.raises(ValueError, match="class_name"):
        L.deserialize([1, 2])
    with pytest.raises(TypeError, match="layer"):
        L.serialize("dense")
    with pytest.raises(ValueError, match="unknown layer class"):
        L.get("Nope")


def test_custom_initializer_layer_still_reprs():
    layer = L.Dense(3, 2, kernel_initializer=lambda shape, seed=None, dtype=None:
                    np.full(shape, 0.5, dtype=dtype))
    np.testing.assert_array_equal(layer.kernel.value, 0.5)
    assert "Dense" in repr(layer)
    with pytest.raises(ValueError, match="custom initializer"):
        layer.get_config()


# --------------------------------------------------------------------------- regularization_loss
def test_regularization_loss_values():
    d = L.Dense(6, 4, kernel_regularizer=regularizers.L2(0.01),
                bias_initializer="ones", bias_regularizer=regularizers.L1(0.5), seed=0)
    w = d.kernel.value.astype(np.float64)
    assert d.regularization_loss() == pytest.approx(0.01 * np.sum(w ** 2) + 0.5 * 4, rel=1e-12)
    c = L.Conv2D(2, 3, 3, kernel_regularizer=regularizers.L1L2(0.1, 0.2), seed=0)
    wc = c.kernel.value.astype(np.float64)
    assert c.regularization_loss() == pytest.approx(
        0.1 * np.abs(wc).sum() + 0.2 * (wc ** 2).sum(), rel=1e-12)
    assert L.Dense(3, 2).regularization_loss() == 0.0
    for layer in (L.MaxPool2D(), L.Flatten(), L.Dropout(0.5), L.ReLU(), L.Softmax()):
        assert layer.regularization_loss() == 0.0 and layer.parameters() == []


def test_regularized_layers_gradcheck(on_backend, rng):
    """With regularizers the grads are those of sum(y * g) + regularization_loss()."""
    d = L.Dense(4, 3, activation="tanh", kernel_regularizer=regularizers.L1L2(0.05, 0.1),
                bias_initializer="random_normal", bias_regularizer=regularizers.L2(0.3),
                seed=2, dtype=np.float64)
    check_layer_grads(d, rng.standard_normal((3, 4)), rng)
    c = L.Conv2D(2, 2, (2, 3), stride=2, padding=1, kernel_regularizer=regularizers.L1(0.07),
                 seed=3, dtype=np.float64)
    check_layer_grads(c, rng.standard_normal((1, 2, 5, 5)), rng)


# --------------------------------------------------------------------------- astype
def test_astype_float64_round_trip(rng):
    layer = L.Dense(4, 3, activation="relu", seed=0)
    kernel, bias = layer.kernel, layer.bias
    w32 = kernel.value.copy()
    x = rng.standard_normal((2, 4)).astype(np.float32)
    layer.forward(x)
    assert layer.astype(np.float64) is layer
    assert layer.parameters()[0] is kernel and layer.parameters()[1] is bias
    assert kernel.value.dtype == kernel.grad.dtype == np.float64 and layer.dtype == np.float64
    np.testing.assert_array_equal(kernel.value, w32.astype(np.float64))
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.ones((2, 3)))                 # astype drops what forward kept
    y = layer.forward(x)
    assert y.dtype == np.float64 and layer.backward(np.ones_like(y)).dtype == np.float64
    layer.astype("float32")
    assert kernel.value.dtype == np.float32
    np.testing.assert_array_equal(kernel.value, w32)
    with pytest.raises(TypeError, match="dtype"):
        layer.astype(np.int32)
    assert L.ReLU().astype(np.float64).forward(np.ones((1, 2), np.float32)).dtype == np.float32


def test_param_names_and_unique_layer_names():
    a, b = L.Dense(2, 2), L.Dense(2, 2)
    assert a.name != b.name
    c = L.Conv2D(1, 1, 1, name="first_conv")
    assert [p.name for p in c.parameters()] == ["first_conv/kernel", "first_conv/bias"]
    assert c.count_params() == 2


# --------------------------------------------------------------------------- bad arguments
@pytest.mark.parametrize("make,exc,arg", [
    (lambda: L.Dense(0, 3), ValueError, "in_features"),
    (lambda: L.Dense(3.5, 3), TypeError, "in_features"),
    (lambda: L.Dense(3, -1), ValueError, "out_features"),
    (lambda: L.Dense(3, True), TypeError, "out_features"),
    (lambda: L.Dense(3, 2, activation="softmax"), ValueError, "activation"),
    (lambda: L.Dense(3, 2, kernel_initializer="nope"), ValueError, "kernel_initializer"),
    (lambda: L.Dense(3, 2, kernel_initializer=3), TypeError, "kernel_initializer"),
    (lambda: L.Dense(3, 2, bias_initializer="nope"), ValueError, "bias_initializer"),
    (lambda: L.Dense(3, 2, kernel_regularizer="nope"), ValueError, "kernel_regularizer"),
    (lambda: L.Dense(3, 2, kernel_regularizer=0.01), TypeError, "kernel_regularizer"),
    (lambda: L.Dense(3, 2, seed=-1), ValueError, "seed"),
    (lambda: L.Dense(3, 2, seed=1.5), TypeError, "seed"),
    (lambda: L.Dense(3, 2, dtype=np.int32), TypeError, "dtype"),
    (lambda: L.Dense(3, 2, name=""), TypeError, "name"),
    (lambda: L.Dense(3, 2, kernel_initializer=lambda s, seed=None, dtype=None: np.zeros(5)),
     ValueError, "kernel_initializer"),
    (lambda: L.Conv2D(0, 2, 3), ValueError, "in_channels"),
    (lambda: L.Conv2D(1, 2, 0), ValueError, "kernel_size"),
    (lambda: L.Conv2D(1, 2, (3,)), ValueError, "kernel_size"),
    (lambda: L.Conv2D(1, 2, 3, stride=0), ValueError, "stride"),
    (lambda: L.Conv2D(1, 2, 3, padding=-1), ValueError, "padding"),
    (lambda: L.Conv2D(1, 2, 3, activation="gelu"), ValueError, "activation"),
    (lambda: L.MaxPool2D(0), ValueError, "pool_size"),
    (lambda: L.MaxPool2D(2, stride=(1, 0)), ValueError, "stride"),
    (lambda: L.Dropout(1.0), ValueError, "rate"),
    (lambda: L.Dropout(-0.1), ValueError, "rate"),
    (lambda: L.Dropout(float("nan")), ValueError, "rate"),
    (lambda: L.Dropout("0.5"), TypeError, "rate"),
    (lambda: L.Dropout(0.5, seed="x"), TypeError, "seed"),
    (lambda: L.ELU(alpha=float("inf")), ValueError, "alpha"),
])
def test_bad_constructor_args(make, exc, arg):
    with pytest.raises(exc, match=arg):
        make()


@pytest.mark.parametrize("layer,x,exc", [
    (L.Dense(4, 2), np.zeros((3, 5), np.float32), ValueError),        # wrong width
    (L.Dense(4, 2), np.zeros(4, np.float32), ValueError),             # no batch axis
    (L.Dense(4, 2), np.zeros((0, 4), np.float32), ValueError),        # empty batch
    (L.Dense(4, 2), np.zeros((1, 4), np.complex64), TypeError),
    (L.Dense(4, 2), np.zeros((1, 4), bool), TypeError),
    (L.Dense(4, 2), {"x": 1}, TypeError),
    (L.Conv2D(3, 2, 3), np.zeros((1, 2, 5, 5), np.float32), ValueError),  # channels
    (L.Conv2D(3, 2, 3), np.zeros((1, 3, 2, 5), np.float32), ValueError),  # smaller than kernel
    (L.Conv2D(3, 2, 3), np.zeros((3, 5, 5), np.float32), ValueError),     # rank 3
    (L.MaxPool2D(2), np.zeros((1, 2, 5), np.float32), ValueError),
    (L.MaxPool2D(3), np.zeros((1, 1, 2, 5), np.float32), ValueError),
    (L.Flatten(), np.zeros((0, 3), np.float32), ValueError),
    (L.Dropout(0.5), np.zeros((0, 3), np.float32), ValueError),
    (L.ReLU(), np.array(["a", "b"]), TypeError),
    (L.Sigmoid(), np.zeros((0, 2)), ValueError),
    (L.Softmax(), np.zeros(3), ValueError),
    (L.Softmax(), np.zeros((2, 0)), ValueError),
])
def test_bad_forward_inputs(layer, x, exc):
    with pytest.raises(exc, match=r"\bx\b"):
        layer.forward(x, training=True)


def test_bad_dropout_mask(rng):
    x = rng.standard_normal((2, 3))
    with pytest.raises(ValueError, match="mask"):
        L.Dropout(0.5).forward(x, training=True, mask=np.ones((3, 2), bool))
    with pytest.raises(TypeError, match="mask"):
        L.Dropout(0.5).forward(x, training=True, mask=np.ones((2, 3)))


@pytest.mark.parametrize("layer,x", [(l, np.ones(s)) for l, s in _all_layers(np.float64)]
                         + [(L.Dropout(0.5, seed=0), np.ones((2, 3)))])
def test_backward_before_forward_and_bad_dy(layer, x):
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.ones((1, 1)))
    y = layer.forward(x, training=True)
    with pytest.raises(ValueError, match="dy"):
        layer.backward(np.ones(y.shape + (1,)))
    assert layer.backward(np.ones(y.shape)).shape == x.shape


def test_layers_work_inside_sequential_on_both_backends(rng):
    """A conv stack trained one step gives the same numbers on both backends."""
    x = rng.standard_normal((3, 1, 8, 8))
    outs = []
    for name in BACKENDS:
        with backend.use(name):
            model = fastnn.Sequential([
                L.Conv2D(1, 2, 3, padding=1, activation="relu", seed=0, dtype=np.float64),
                L.MaxPool2D(2), L.Flatten(), L.Dense(32, 4, seed=1, dtype=np.float64),
                L.Softmax()])
            y = model.forward(x)
            dx = model.backward(np.ones_like(y))
            outs.append([y, dx] + [p.grad.copy() for p in model.parameters()])
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)


# --------------------------------------------------------------------------- need_dx=False
@pytest.mark.parametrize("make, shape", [
    (lambda: L.Dense(7, 5, activation="relu", seed=0), (3, 7)),
    (lambda: L.Conv2D(2, 4, (3, 2), stride=(2, 1), padding=1, activation="relu", seed=0),
     (2, 2, 9, 6)),
], ids=["dense", "conv2d"])
def test_backward_without_dx_fills_the_same_grads(on_backend, make, shape, rng):
    x = rng.standard_normal(shape).astype(np.float32)
    a, b = make(), make()
    y = a.forward(x, training=True)
    b.forward(x, training=True)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx = a.backward(dy)
    assert dx.shape == x.shape
    assert b.backward(dy, need_dx=False) is None
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(q.grad, p.grad)
    with pytest.raises(TypeError, match="need_dx"):
        b.backward(dy, need_dx="no")


@pytest.mark.parametrize("layer,shape", _all_layers(np.float64)
                         + [(L.Dropout(0.5, seed=0), (2, 3))],
                         ids=lambda v: type(v).__name__ if isinstance(v, L.Layer) else "")
def test_every_layer_takes_need_dx(layer, shape, rng):
    """backward(dy, need_dx) is the base protocol: every layer takes it; need_dx=False returns
    None and still writes the same parameter grads as the full pass."""
    x = rng.standard_normal(shape)
    y = layer.forward(x, training=True)
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy, need_dx=True)
    assert dx.shape == x.shape
    grads = [p.grad.copy() for p in layer.parameters()]
    for p in layer.parameters():
        p.grad[...] = np.nan
    assert layer.backward(dy, need_dx=False) is None
    for p, g in zip(layer.parameters(), grads):
        np.testing.assert_array_equal(p.grad, g)
    with pytest.raises(TypeError, match="need_dx"):
        layer.backward(dy, need_dx=1)
