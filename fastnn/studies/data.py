"""The data a study trains on: MNIST subsets, or any arrays (e.g. a synthetic set for tests).

A :class:`StudyData` is what each worker receives (pickled once per worker).  It keeps the
arrays as given, uint8 images being 4x smaller to ship than floats, and converts them on first
use in each process (``arrays()``).  Its ``fingerprint`` (a hash of the bytes) goes into every
run's config, so a run trained on other data is never reused.
"""
import hashlib

import numpy as np

from .. import datasets
from ..data import preprocess_images

__all__ = ["StudyData", "mnist", "synthetic"]


class StudyData:
    """Training and test arrays for the studies.

    x_train (N, ...) and x_test (M, ...): uint8 images (scaled to [0, 1] and flattened on use)
    or float arrays (N, D) used as they are; y_train (N,), y_test (M,): integer class ids.
    name: a short description for reports (e.g. "MNIST, first 20000 training images").
    """

    def __init__(self, x_train, y_train, x_test, y_test, name="arrays"):
        for arr, label in ((x_train, "x_train"), (x_test, "x_test")):
            if not isinstance(arr, np.ndarray) or arr.ndim < 2 or arr.shape[0] == 0:
                raise ValueError("%s must be a non-empty numpy array (N, ...) , got %r"
                                 % (label, getattr(arr, "shape", arr)))
            if arr.dtype != np.uint8 and arr.dtype.kind != "f":
                raise TypeError("%s must be uint8 images or floats, got dtype %s"
                                % (label, arr.dtype))
        for arr, label, x in ((y_train, "y_train", x_train), (y_test, "y_test", x_test)):
            if not isinstance(arr, np.ndarray) or arr.shape != (x.shape[0],) or \
                    arr.dtype.kind not in "iu":
                raise ValueError("%s must be integer class ids of shape (%d,), got %s %s"
                                 % (label, x.shape[0], getattr(arr, "dtype", type(arr)),
                                    getattr(arr, "shape", "")))
        if x_train.shape[1:] != x_test.shape[1:]:
            raise ValueError("x_train and x_test must have the same per-sample shape, got %s "
                             "and %s" % (x_train.shape[1:], x_test.shape[1:]))
        self.x_train = np.ascontiguousarray(x_train)
        self.y_train = np.ascontiguousarray(y_train)
        self.x_test = np.ascontiguousarray(x_test)
        self.y_test = np.ascontiguousarray(y_test)
        self.name = str(name)
        h = hashlib.sha1()
        for arr in (self.x_train, self.y_train, self.x_test, self.y_test):
            h.update(str((arr.dtype.str, arr.shape)).encode())
            h.update(arr.tobytes())
        self.fingerprint = h.hexdigest()[:16]
        self._prepared = {}

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_prepared"] = {}            # rebuilt in each process, not shipped
        return state

    @property
    def n_train(self):
        return int(self.x_train.shape[0])

    @property
    def n_test(self):
        return int(self.x_test.shape[0])

    @property
    def num_classes(self):
        return int(max(self.y_train.max(), self.y_test.max())) + 1

    def describe(self):
        """JSON description stored in every run's config."""
        return {"name": self.name, "fingerprint": self.fingerprint, "train_size": self.n_train,
                "test_size": self.n_test}

    def arrays(self, images=False):
        """(x_train, y_train, x_test, y_test): float32 inputs and int64 labels.  The inputs are
        flat (N, D) for the MLP, or with ``images=True`` NCHW images (N, C, H, W) for the CNN:
        uint8 images keep their shape, flat float rows of a square length D become
        (N, 1, sqrt(D), sqrt(D))."""
        key = "images" if images else "flat"
        if key not in self._prepared:
            def prep(x):
                if x.dtype == np.uint8:
                    return preprocess_images(x if x.ndim >= 3 else x[:, None, :],
                                             flatten=not images)
                x = np.ascontiguousarray(x, dtype=np.float32)
                if not images:
                    return x.reshape(x.shape[0], -1)
                if x.ndim == 4:
                    return x
                if x.ndim == 3:
                    return x[:, None]
                side = int(round(np.sqrt(x.shape[1])))
                if x.ndim != 2 or side * side != x.shape[1]:
                    raise ValueError("the CNN needs images: %s has rows of %d values, not a "
                                     "square image" % (self.name, x.shape[1]))
                return x.reshape(x.shape[0], 1, side, side)
            self._prepared[key] = (prep(self.x_train), self.y_train.astype(np.int64),
                                   prep(self.x_test), self.y_test.astype(np.int64))
        return self._prepared[key]


def mnist(data_dir=None, train_size=None, test_size=None, download=True, verbose=False):
    """MNIST through ``fastnn.datasets.load_mnist``: the first ``train_size`` training images
    (all 60000 when None) and the first ``test_size`` test images (all 10000 when None).
    The first N of the training file are roughly class-balanced (about N/10 per digit)."""
    (x_tr, y_tr), (x_te, y_te) = datasets.load_mnist(data_dir, download=download,
                                                     verbose=verbose)
    for v, n, label in ((train_size, x_tr.shape[0], "train_size"),
                        (test_size, x_te.shape[0], "test_size")):
        if v is not None and not 1 <= v <= n:
            raise ValueError("%s must be in [1, %d], got %d" % (label, n, v))
    ntr = x_tr.shape[0] if train_size is None else int(train_size)
    nte = x_te.shape[0] if test_size is None else int(test_size)
    name = "MNIST, first %d of %d training images, first %d of %d test images" % (
        ntr, x_tr.shape[0], nte, x_te.shape[0])
    return StudyData(x_tr[:ntr], y_tr[:ntr], x_te[:nte], y_te[:nte], name=name)


def synthetic(n_train=600, n_test=200, dim=64, num_classes=10, seed=0):
    """A small learnable classification set (for tests and demos without MNIST): class k's
    inputs are a fixed random prototype in [0, 1]^dim plus Gaussian noise, clipped to [0, 1],
    float32 (N, dim); labels int64 (N,)."""
    rng = np.random.default_rng(seed)
    protos = rng.random((num_classes, dim))

    def draw(n):
        y = rng.integers(0, num_classes, n)
        x = np.clip(protos[y] + 0.35 * rng.standard_normal((n, dim)), 0, 1).astype(np.float32)
        return x, y.astype(np.int64)
    x_tr, y_tr = draw(n_train)
    x_te, y_te = draw(n_test)
    return StudyData(x_tr, y_tr, x_te, y_te,
                     name="synthetic: %d classes, %d features, %d train / %d test (seed %d)"
                     % (num_classes, dim, n_train, n_test, seed))
