"""fastnn.data: preprocessing, mini-batches, splits, one-hot."""
import numpy as np
import pytest

from fastnn.data import BatchIterator, batches, one_hot, preprocess_images, train_val_split


def _xy(n=10):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n, dtype=np.int64)  # y[i] == i identifies the row
    return x, y


# --- preprocess_images ----------------------------------------------------------------------

def test_preprocess_scales_and_shapes():
    x = np.array([[[0, 255], [51, 102]]], dtype=np.uint8)  # (1, 2, 2)
    nchw = preprocess_images(x)
    assert nchw.shape == (1, 1, 2, 2) and nchw.dtype == np.float32
    np.testing.assert_array_equal(nchw[0, 0],
                                  np.array([[0, 255], [51, 102]], np.float32) / np.float32(255))
    assert nchw.min() == 0.0 and nchw.max() == 1.0
    flat = preprocess_images(x, flatten=True, dtype=np.float64)
    assert flat.shape == (1, 4) and flat.dtype == np.float64
    np.testing.assert_array_equal(flat[0], np.array([0, 255, 51, 102]) / 255.0)
    assert preprocess_images(np.zeros((2, 3, 4, 4), np.uint8)).shape == (2, 3, 4, 4)


def test_preprocess_rejects_bad_input():
    with pytest.raises(TypeError, match="uint8"):
        preprocess_images(np.zeros((1, 2, 2), np.float32))
    with pytest.raises(ValueError, match="shape"):
        preprocess_images(np.zeros((4, 4), np.uint8))
    with pytest.raises(TypeError, match="dtype"):
        preprocess_images(np.zeros((1, 2, 2), np.uint8), dtype=np.int32)


# --- batches ----------------------------------------------------------------------------------

@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("n,bs", [(10, 3), (10, 5), (1, 4), (7, 1)])
def test_every_sample_once_per_epoch_last_short_batch_kept(n, bs, shuffle):
    x, y = _xy(n)
    it = batches(x, y, batch_size=bs, shuffle=shuffle, seed=0)
    got = list(it)
    assert len(got) == len(it) == -(-n // bs)
    sizes = [len(yb) for _, yb in got]
    assert sizes[:-1] == [bs] * (len(got) - 1) and sizes[-1] == n - bs * (len(got) - 1)
    seen = np.concatenate([yb for _, yb in got])
    np.testing.assert_array_equal(np.sort(seen), np.arange(n))  # each exactly once
    for xb, yb in got:
        np.testing.assert_array_equal(xb, x[yb])  # x and y stay paired
    if not shuffle:
        np.testing.assert_array_equal(seen, np.arange(n))


def test_drop_last():
    x, y = _xy(10)
    it = batches(x, y, batch_size=3, seed=1, drop_last=True)
    got = list(it)
    assert len(it) == len(got) == 3 and all(len(yb) == 3 for _, yb in got)
    assert len(np.unique(np.concatenate([yb for _, yb in got]))) == 9
    with pytest.raises(ValueError, match="no batch"):
        batches(x, y, batch_size=11, drop_last=True)


def _order(seed, n=50, epochs=1):
    it = batches(*_xy(n), batch_size=7, seed=seed)
    return [np.concatenate([yb for _, yb in it]) for _ in range(epochs)]


def test_seed_reproducible_and_seeds_differ():
    a, b = _order(123, epochs=2), _order(123, epochs=2)
    for ea, eb in zip(a, b):
        np.testing.assert_array_equal(ea, eb)
    assert not np.array_equal(a[0], a[1])  # a new permutation every epoch
    assert not np.array_equal(_order(123)[0], _order(124)[0])
    assert not np.array_equal(_order(123)[0], np.arange(50))


def test_generator_seed_is_used():
    g1, g2 = np.random.default_rng(5), np.random.default_rng(5)
    o1 = np.concatenate(list(batches(np.arange(20), batch_size=6, seed=g1)))
    o2 = np.concatenate(list(batches(np.arange(20), batch_size=6, seed=g2)))
    np.testing.assert_array_equal(o1, o2)
    assert np.array_equal(np.sort(o1), np.arange(20))


def test_x_only_yields_arrays_and_views_without_shuffle():
    x = np.arange(10)
    got = list(batches(x, batch_size=4, shuffle=False))
    assert [b.tolist() for b in got] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert np.shares_memory(got[0], x)  # documented: views when not shuffling
    shuffled = list(batches(x, batch_size=4, seed=0))
    assert not np.shares_memory(shuffled[0], x)  # documented: copies when shuffling


@pytest.mark.parametrize("backend_name", ["compiled", "reference"])
def test_shuffled_batches_are_the_rows_whatever_the_layout(backend_name):
    # a C-contiguous x of numbers is gathered by the backend's take_rows, any other by np.take:
    # the same batches, the same order, fresh C-contiguous arrays
    from fastnn import backend
    rng = np.random.default_rng(3)
    x = rng.standard_normal((23, 4, 5)).astype(np.float32)
    y = np.arange(23)
    with backend.use(backend_name):
        layouts = {"C": x, "F": np.asfortranarray(x), "strided": np.repeat(x, 2, axis=2)[..., ::2],
                   "complex": x.astype(np.complex64), "bool": x > 0}
        for name, xs in layouts.items():
            got = list(batches(xs, y, batch_size=6, seed=9))
            assert len(got) == 4, name
            for xb, yb in got:
                assert xb.flags.c_contiguous and not np.shares_memory(xb, xs), name
                np.testing.assert_array_equal(xb, xs[yb], err_msg=name)
            want = np.concatenate([yb for _, yb in batches(x, y, batch_size=6, seed=9)])
            np.testing.assert_array_equal(np.concatenate([yb for _, yb in got]), want)


def test_batches_validation():
    x, y = _xy(10)
    with pytest.raises(ValueError, match="x and y .* x: 10, y: 9"):
        batches(x, y[:9])
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        batches(x, y, batch_size=0)
    with pytest.raises(TypeError, match="batch_size"):
        batches(x, y, batch_size=2.5)
    with pytest.raises(ValueError, match="empty"):
        batches(x[:0])
    with pytest.raises(TypeError, match="seed"):
        batches(x, y, seed="abc")
    with pytest.raises(TypeError, match="numpy.ndarray"):
        batches(object())
    assert isinstance(batches(x, y), BatchIterator)


# --- train_val_split ------------------------------------------------------------------------

def test_train_val_split_partitions():
    x, y = _xy(20)
    (xt, yt), (xv, yv) = train_val_split(x, y, val_fraction=0.25, seed=3)
    assert len(yv) == 5 and len(yt) == 15
    np.testing.assert_array_equal(np.sort(np.concatenate([yt, yv])), np.arange(20))
    np.testing.assert_array_equal(xt, x[yt])
    np.testing.assert_array_equal(xv, x[yv])
    (_, yt2), (_, yv2) = train_val_split(x, y, val_fraction=0.25, seed=3)
    np.testing.assert_array_equal(yv, yv2)
    (_, _), (_, yv3) = train_val_split(x, y, val_fraction=0.25, shuffle=False)
    np.testing.assert_array_equal(yv3, np.arange(15, 20))  # last ones held out, as Keras


def test_train_val_split_validation():
    x, y = _xy(10)
    for bad in (0.0, 1.0, -0.1, float("nan"), "0.1", True):
        with pytest.raises(ValueError, match="val_fraction"):
            train_val_split(x, y, val_fraction=bad)
    with pytest.raises(ValueError, match="at least 1"):
        train_val_split(x, y, val_fraction=0.01)
    with pytest.raises(ValueError, match="same number"):
        train_val_split(x, y[:5])


# --- one_hot ----------------------------------------------------------------------------------

def test_one_hot():
    out = one_hot(np.array([2, 0, 1, 2], dtype=np.uint8), 4)
    expected = np.array([[0, 0, 1, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]], np.float32)
    np.testing.assert_array_equal(out, expected)
    assert out.dtype == np.float32
    assert one_hot([1, 0]).shape == (2, 2)
    with pytest.raises(ValueError, match=r"\[0, 3\), got 3"):
        one_hot(np.array([0, 3]), 3)
    with pytest.raises(ValueError, match="got -1"):
        one_hot(np.array([0, -1]), 3)
    with pytest.raises(TypeError, match="integer"):
        one_hot(np.array([0.0, 1.0]), 2)
    with pytest.raises(ValueError, match="1-dimensional"):
        one_hot(np.zeros((2, 2), np.int64), 2)
