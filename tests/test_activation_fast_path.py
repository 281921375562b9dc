"""The activation kernels' fast path (fastnn/kernels/_activations.pyx): what it takes is checked
on the buffers before any nogil code, and anything it does not take goes to the contract.  Each
call here runs on the compiled kernel and on its NumPy twin (which always runs the contract):
hostile input must raise the same ValueError/TypeError with the same message on both, never
crash; valid input must give the same bits whether the compiled call took the fast path (exact,
C-contiguous arrays) or the contract path (the same numbers in an ndarray subclass)."""
import numpy as np
import pytest

from fastnn import kernels, reference


class Sub(np.ndarray):
    """An ndarray subclass: the fast path never takes one, so it forces the contract path."""


def sub(a):
    return a.view(Sub)


def plain(a):
    return np.asarray(a).view(np.ndarray)


RNG = np.random.default_rng(0)
X = RNG.standard_normal((6, 7)).astype(np.float32)
DY = RNG.standard_normal((6, 7)).astype(np.float32)
MASK = RNG.random((6, 7)) >= 0.3

UNARY = [("relu_forward", ()), ("sigmoid_forward", ()), ("tanh_forward", ()),
         ("elu_forward", (0.7,))]
BINARY = [("relu_backward", ()), ("sigmoid_backward", ()), ("tanh_backward", ()),
          ("elu_backward", (0.7,)), ("elu_backward_from_output", (1.0,))]


def outcome(f, *args, **kwargs):
    """('ok', result) or (exception type, message)."""
    try:
        return "ok", f(*args, **kwargs)
    except (ValueError, TypeError) as e:
        return type(e), str(e)


def same_outcome(name, *args, **kwargs):
    """Run ``name`` on the compiled kernels and the twin; both must refuse alike, or both
    succeed.  Returns the compiled outcome."""
    got = outcome(getattr(kernels, name), *args, **kwargs)
    want = outcome(getattr(reference, name), *args, **kwargs)
    assert got[0] == want[0], (name, got, want)
    if got[0] != "ok":
        assert got[1] == want[1]
    return got


# --------------------------------------------------------------------------- same bits
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, extra", UNARY)
def test_unary_fast_path_matches_contract_path(name, extra, dtype):
    x = X.astype(dtype)
    f = getattr(kernels, name)
    fast = f(x, *extra)
    slow = plain(f(sub(x), *extra))
    assert type(fast) is np.ndarray and fast.dtype == dtype
    np.testing.assert_array_equal(fast, slow)
    out = np.empty_like(x)
    assert f(x, *extra, out=out) is out
    np.testing.assert_array_equal(out, fast)
    inplace = x.copy()
    assert f(inplace, *extra, out=inplace) is inplace       # exactly the input: allowed
    np.testing.assert_array_equal(inplace, fast)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, extra", BINARY)
def test_binary_fast_path_matches_contract_path(name, extra, dtype):
    dy, v = DY.astype(dtype), np.abs(X).astype(dtype) * 0.5
    f = getattr(kernels, name)
    fast = f(dy, v, *extra)
    np.testing.assert_array_equal(fast, plain(f(sub(dy), v, *extra)))
    out = np.empty_like(dy)
    assert f(dy, v, *extra, out=out) is out
    np.testing.assert_array_equal(out, fast)
    inplace = dy.copy()
    assert f(inplace, v, *extra, out=inplace) is inplace
    np.testing.assert_array_equal(inplace, fast)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mask_dtype", [np.bool_, np.uint8])
def test_dropout_fast_path_matches_contract_path(dtype, mask_dtype):
    x, m = X.astype(dtype), MASK.astype(mask_dtype)
    for name in ("dropout_forward", "dropout_backward"):
        f = getattr(kernels, name)
        fast = f(x, m, 0.3)
        np.testing.assert_array_equal(fast, plain(f(sub(x), m, 0.3)))
        np.testing.assert_array_equal(fast, getattr(reference, name)(x, m, 0.3))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_rng_fast_path_matches_contract_path(dtype):
    x = RNG.standard_normal((5, 9)).astype(dtype)     # odd size: the last draw is half used
    y, m = kernels.dropout_forward_rng(x, 0.3, 12345, 77)
    ys, ms = kernels.dropout_forward_rng(sub(x), 0.3, 12345, 77)
    yr, mr = reference.dropout_forward_rng(x, 0.3, 12345, 77)
    np.testing.assert_array_equal(y, plain(ys))
    np.testing.assert_array_equal(m, plain(ms))
    np.testing.assert_array_equal(y, yr)
    np.testing.assert_array_equal(m, mr)
    out, mask = np.empty_like(x), np.empty(x.shape, np.uint8)
    y2, m2 = kernels.dropout_forward_rng(x, 0.3, 12345, 77, out=out, mask_out=mask)
    assert y2 is out and m2 is mask
    np.testing.assert_array_equal(out, y)
    np.testing.assert_array_equal(mask.astype(bool), m)


def test_cross_entropy_fast_path_matches_contract_path():
    z = RNG.standard_normal((9, 4)).astype(np.float32)
    labels = RNG.integers(0, 4, 9)
    fast = kernels.softmax_cross_entropy(z, labels)
    slow = kernels.softmax_cross_entropy(sub(z), labels.astype(np.int32))
    assert fast[0] == slow[0]
    np.testing.assert_array_equal(fast[1], plain(slow[1]))


def test_cross_entropy_copies_the_labels_it_checked():
    z = RNG.standard_normal((4, 3)).astype(np.float32)
    labels = np.array([0, 1, 2, 1])
    before = kernels.softmax_cross_entropy(z, labels)
    labels[:] = 2                                   # the caller's array changes afterwards
    again = kernels.softmax_cross_entropy(z, np.array([0, 1, 2, 1]))
    assert before[0] == again[0]


# --------------------------------------------------------------------------- hostile input
def hostile_pairs(dy):
    """(dy, v, out) triples every backward kernel must refuse or take without crashing."""
    x = np.abs(dy)
    big = np.zeros(dy.size * 2, dy.dtype)
    yield dy, x[:, :-1], None                                  # shapes differ
    yield dy, x.astype(np.float64), None                       # dtypes differ
    yield dy.astype(np.int32), x, None                         # integer data
    yield dy[:0], x[:0], None                                  # empty
    yield dy, x, np.empty((dy.shape[0], dy.shape[1] + 1), dy.dtype)    # out of another shape
    yield dy, x, np.empty(dy.shape, np.float64)                # out of another dtype
    yield dy, x, np.empty(dy.shape[::-1], dy.dtype).T          # out not C-contiguous
    ro = np.empty_like(dy)
    ro.flags.writeable = False
    yield dy, x, ro                                            # out read-only
    yield dy, x, list(dy)                                      # out not an array
    shared = big[:dy.size].reshape(dy.shape)
    yield shared, x, big[1:dy.size + 1].reshape(dy.shape)      # out partly overlaps dy
    yield dy, shared, big[3:dy.size + 3].reshape(dy.shape)     # out partly overlaps v
    yield dy[:, ::2], x[:, ::2], None                          # strided inputs (contract copies)
    yield dy.T, x.T, np.empty(dy.T.shape, dy.dtype)            # Fortran-ordered inputs
    yield list(dy), x, None                                    # a list
    yield dy.astype(dy.dtype.newbyteorder()), x, None          # byte-swapped


@pytest.mark.parametrize("name, extra", BINARY)
def test_backward_kernels_refuse_hostile_input_as_the_contract(name, extra):
    refused = 0
    for dy, v, out in hostile_pairs(DY.copy()):
        got = same_outcome(name, dy, v, *extra, out=out)
        refused += got[0] != "ok"
    assert refused >= 10


@pytest.mark.parametrize("name, extra", UNARY)
def test_forward_kernels_refuse_hostile_input_as_the_contract(name, extra):
    refused = 0
    for x, _, out in hostile_pairs(X.copy()):
        got = same_outcome(name, x, *extra, out=out)
        refused += got[0] != "ok"
    assert refused >= 7


@pytest.mark.parametrize("alpha", [float("nan"), float("inf"), True, "1", np.float32(0.5), 2])
def test_elu_alpha_goes_through_the_contract(alpha):
    same_outcome("elu_forward", X, alpha)
    same_outcome("elu_backward", DY, X, alpha)


@pytest.mark.parametrize("name", ["dropout_forward", "dropout_backward"])
def test_dropout_refuses_hostile_input_as_the_contract(name):
    x, m = X.copy(), MASK.copy()
    big = np.zeros(x.size * 2, np.float32)
    cases = [
        (x, m[:, :-1], 0.3, None), (x, m.astype(np.int8), 0.3, None),
        (x, m.astype(np.float32), 0.3, None), (x, list(m), 0.3, None),
        (x, m, 1.0, None), (x, m, -0.1, None), (x, m, float("nan"), None),
        (x, m, True, None), (x, m, "0.3", None), (x, m, 0, None),
        (x, m, 0.3, np.empty((6, 8), np.float32)), (x, m, 0.3, np.empty((6, 7), np.float64)),
        (x, m, 0.3, m.view(np.uint8)),
        (big[:42].reshape(6, 7), m, 0.3, big[2:44].reshape(6, 7)),
        (x[:, ::2], m[:, ::2], 0.3, None), (x, m.T.copy().T, 0.3, None),
    ]
    maskbytes = np.zeros(x.size * 4 + 8, np.uint8)
    mview = maskbytes[:42].view(np.bool_).reshape(6, 7)
    cases.append((x, mview, 0.3, maskbytes[4:4 + 168].view(np.float32).reshape(6, 7)))
    refused = 0
    for xx, mm, rate, out in cases:
        refused += same_outcome(name, xx, mm, rate, out=out)[0] != "ok"
    assert refused >= 12


def test_dropout_rng_refuses_hostile_input_as_the_contract():
    x = X.copy()
    big = np.zeros(x.size * 2, np.float32)
    cases = [
        dict(rate=1.0), dict(rate=float("nan")), dict(rate=0), dict(seed=-1),
        dict(seed=2 ** 64), dict(seed=1.0), dict(counter=-1), dict(counter=2 ** 64 - 1),
        dict(counter=2 ** 64 - 21), dict(counter=2 ** 64 - 22), dict(counter=True),
        dict(out=np.empty((6, 8), np.float32)), dict(out=x),
        dict(mask_out=np.empty((6, 7), np.int8)), dict(mask_out=np.empty((7, 6), bool)),
        dict(mask_out=x.view(np.uint8)[:, :7]), dict(x=big[:42].reshape(6, 7),
                                                    out=big[1:43].reshape(6, 7)),
        dict(x=x[:, ::2]), dict(x=x.astype(np.float16)), dict(x=x[:0]),
    ]
    same_buffer = np.zeros(x.size * 4, np.uint8)
    cases.append(dict(out=same_buffer.view(np.float32)[:42].reshape(6, 7),
                      mask_out=same_buffer[:42].reshape(6, 7)))
    refused = 0
    for case in cases:
        args = dict(x=x, rate=0.3, seed=5, counter=0)
        args.update(case)
        got = same_outcome("dropout_forward_rng", args.pop("x"), args.pop("rate"),
                           args.pop("seed"), args.pop("counter"), **args)
        refused += got[0] != "ok"
    assert refused >= 15


def test_cross_entropy_refuses_hostile_labels_as_the_contract():
    z = RNG.standard_normal((4, 3)).astype(np.float32)
    cases = [np.array([0, 1, 3, 1]), np.array([0, -1, 2, 1]), np.array([0, 1, 2]),
             np.array([0, 1, 2, 1, 0]), np.array([[0, 1, 2, 1]]), np.array([0., 1., 2., 1.]),
             np.array([0, 1, 2, 1], np.uint64), np.array([0, 1, 2, 2 ** 62]),
             np.array([0, 1, 2, 1, 0, 1, 2, 1])[::2], np.array([0, 1, 2, 1]).byteswap().view(
                 np.dtype(np.int64).newbyteorder())]
    refused = 0
    for labels in cases:
        refused += same_outcome("softmax_cross_entropy", z, labels)[0] != "ok"
    refused += same_outcome("softmax_cross_entropy", z[:, :0], np.zeros(4, int))[0] != "ok"
    refused += same_outcome("softmax_cross_entropy", z.T, np.zeros(3, int))[0] == "ok"
    assert refused >= 8
