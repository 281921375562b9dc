"""Turning arrays into training input: scaling, mini-batches, splits, one-hot targets.

Randomness is explicit: every shuffling function takes ``seed`` (an int, ``None`` or a
``numpy.random.Generator``), and the same seed always gives the same order.
"""
import numbers

import numpy as np

from . import backend
from ._validate import check_int, check_int_array

__all__ = ["preprocess_images", "batches", "BatchIterator", "train_val_split", "one_hot",
           "as_array"]


def _rng(seed, name="seed"):
    """int / None -> a fresh Generator; a Generator is used as is (its state advances)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError("%s must be an int, None or a numpy.random.Generator, got %r (%s)"
                        % (name, seed, type(seed).__name__))
    return np.random.default_rng(int(seed))


def as_array(a, name):
    """``a`` as an ndarray: an ndarray as is, a list or tuple converted; anything else (a
    scalar, a generator) is TypeError naming ``name``.  (fastnn.metrics takes its inputs the
    same way.)"""
    if isinstance(a, np.ndarray):
        return a
    if isinstance(a, (list, tuple)):
        return np.asarray(a)
    raise TypeError("%s must be a numpy.ndarray, got %s" % (name, type(a).__name__))


def _as_batchable(a, name):
    a = as_array(a, name)
    if a.ndim == 0:
        raise ValueError("%s must have a leading sample axis, got a 0-dimensional array" % name)
    if a.shape[0] == 0:
        raise ValueError("%s must not be empty, got shape %s" % (name, a.shape))
    return a


def preprocess_images(x, flatten=False, dtype=np.float32):
    """uint8 images -> floats in [0, 1]: ``x / 255``.

    ``x``: uint8 ``(n, h, w)`` or ``(n, c, h, w)``.  Returns ``(n, c*h*w)`` when ``flatten``
    (for Dense/MLP models) else NCHW ``(n, 1, h, w)`` / ``(n, c, h, w)`` (for Conv2D).  Only
    uint8 is accepted so that data already scaled is never divided by 255 twice.
    """
    if not isinstance(x, np.ndarray):
        raise TypeError("x must be a numpy.ndarray, got %s" % type(x).__name__)
    if x.dtype != np.uint8:
        raise TypeError("x must have dtype uint8 (raw pixels 0-255), got %s; data already "
                        "scaled needs no preprocess_images" % x.dtype)
    if x.ndim not in (3, 4):
        raise ValueError("x must be (n, h, w) or (n, c, h, w), got shape %s" % (x.shape,))
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError("dtype must be float32 or float64, got %s" % dtype)
    if x.ndim == 3:
        x = x[:, None, :, :]
    # In-place division in the target dtype: correctly rounded x/255 (exactly 0 and 1 at the
    # ends, unlike multiplying by a rounded 1/255), without a float64 temporary.
    out = x.astype(dtype)
    out /= dtype.type(255)
    if flatten:
        out = out.reshape(out.shape[0], -1)
    return out


class BatchIterator:
    """Mini-batches over ``x`` (and ``y``), one epoch per iteration.

    ``len(it)`` is the number of batches per epoch.  Each ``iter(it)`` starts a new epoch; with
    ``shuffle`` it draws a new permutation from a Generator made once from ``seed``, so epochs
    differ from each other but the whole sequence is reproducible for a given seed.  Every
    sample appears exactly once per epoch; the last short batch is kept unless ``drop_last``.

    Batches are copies when shuffling (``x[idx]``, gathered by the kernels' ``take_rows``) and
    views of ``x``/``y`` when not (slicing; do not write into them if the source must stay
    unchanged).
    """

    def __init__(self, x, y=None, batch_size=128, shuffle=True, seed=None, drop_last=False):
        self.x = _as_batchable(x, "x")
        self.y = None if y is None else _as_batchable(y, "y")
        if self.y is not None and self.y.shape[0] != self.x.shape[0]:
            raise ValueError("x and y must have the same number of samples, got x: %d, y: %d"
                             % (self.x.shape[0], self.y.shape[0]))
        self.batch_size = check_int(batch_size, "batch_size", min=1)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self._rng = _rng(seed) if self.shuffle else None
        if self.drop_last and self.x.shape[0] < self.batch_size:
            raise ValueError("drop_last=True with batch_size=%d > number of samples %d would "
                             "yield no batch" % (self.batch_size, self.x.shape[0]))

    def __len__(self):
        n, b = self.x.shape[0], self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def __iter__(self):
        n, b = self.x.shape[0], self.batch_size
        order = self._rng.permutation(n) if self.shuffle else None
        take = backend.K().take_rows
        gather = self.x.flags.c_contiguous and self.x.dtype.kind in "biufc"
        for i in range(len(self)):
            lo, hi = i * b, min((i + 1) * b, n)
            if order is None:
                xb = self.x[lo:hi]
                yb = None if self.y is None else self.y[lo:hi]
            else:
                # the rows of x[idx], gathered by the active backend's take_rows (compiled: the
                # copy split over fastnn's threads) when x is one C-contiguous block of numbers,
                # else by np.take (faster than the fancy index); the labels, a few bytes a row,
                # by np.take, whose call costs less than the copy
                idx = order[lo:hi]
                xb = take(self.x, idx) if gather else np.take(self.x, idx, axis=0)
                yb = None if self.y is None else np.take(self.y, idx, axis=0)
            yield xb if self.y is None else (xb, yb)


def batches(x, y=None, batch_size=128, shuffle=True, seed=None, drop_last=False):
    """Mini-batches for one epoch: yields ``(xb, yb)``, or ``xb`` when ``y`` is None.

    Returns a :class:`BatchIterator` (has ``len()``; iterating it again gives a new epoch).
    Arguments are checked here, before the first batch: ``x`` and ``y`` must have the same
    length, ``batch_size >= 1``.
    """
    return BatchIterator(x, y, batch_size=batch_size, shuffle=shuffle, seed=seed,
                         drop_last=drop_last)


def train_val_split(x, y, val_fraction=0.1, seed=None, shuffle=True):
    """Split into ``((x_train, y_train), (x_val, y_val))``.

    ``round(n * val_fraction)`` samples go to validation (at least 1, and at least 1 left for
    training).  With ``shuffle`` the samples are drawn by a seeded permutation; without it the
    last ones are held out (as Keras ``validation_split``).  The outputs are copies.
    """
    x = _as_batchable(x, "x")
    y = _as_batchable(y, "y")
    n = x.shape[0]
    if y.shape[0] != n:
        raise ValueError("x and y must have the same number of samples, got x: %d, y: %d"
                         % (n, y.shape[0]))
    if (isinstance(val_fraction, bool) or not isinstance(val_fraction, numbers.Real)
            or not 0.0 < float(val_fraction) < 1.0):
        raise ValueError("val_fraction must be a number in (0, 1), got %r" % (val_fraction,))
    n_val = int(round(n * float(val_fraction)))
    if n_val < 1 or n_val > n - 1:
        raise ValueError("val_fraction=%r of %d samples gives %d validation samples; both "
                         "parts need at least 1" % (val_fraction, n, n_val))
    order = _rng(seed).permutation(n) if shuffle else np.arange(n)
    tr, va = order[:n - n_val], order[n - n_val:]
    return (x[tr], y[tr]), (x[va], y[va])


def one_hot(labels, num_classes=None, dtype=np.float32):
    """Integer class ids ``(n,)`` -> ``(n, num_classes)`` one-hot rows (default float32).

    ``num_classes`` defaults to ``max(labels) + 1``; every id must be in ``[0, num_classes)``.
    """
    labels = check_int_array(labels, "labels", ndim=1)
    lo, hi = int(labels.min()), int(labels.max())
    if num_classes is None:
        num_classes = hi + 1
    num_classes = check_int(num_classes, "num_classes", min=1)
    if lo < 0 or hi >= num_classes:
        raise ValueError("labels must be class ids in [0, %d), got %d"
                         % (num_classes, lo if lo < 0 else hi))
    out = np.zeros((labels.shape[0], num_classes), dtype=dtype)
    out[np.arange(labels.shape[0]), labels] = 1
    return out
