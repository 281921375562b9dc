"""Helpers shared by the test modules.

pytest runs with --import-mode=importlib (the installed fastnn is what is tested), which keeps
tests/ off sys.path; tests/conftest.py puts this directory, and only it, on sys.path so the test
modules can ``from fnn_testutil import ...``.  The repository root (with the uncompiled fastnn
sources) stays off it.
"""
import os

import numpy as np


def mnist_dir():
    """The MNIST directory for tests: FASTNN_DATA if it holds the IDX files, else None."""
    path = os.environ.get("FASTNN_DATA")
    if path and any(os.path.exists(os.path.join(path, "train-images-idx3-ubyte" + ext))
                    for ext in (".gz", "")):
        return path
    return None


def layout(x, kind):
    """The same values as x in another memory layout (the kernels must not care):
    "C", "F" (Fortran order), "sliced" (every other element of a larger array) or "reversed"
    (negative strides)."""
    if kind == "C":
        return np.ascontiguousarray(x)
    if kind == "F":
        return np.asfortranarray(x)
    if kind == "sliced":
        big = np.zeros(tuple(2 * s for s in x.shape), dtype=x.dtype)
        view = big[(slice(None, None, 2),) * x.ndim]
        view[...] = x
        return view
    if kind == "reversed":
        rev = np.ascontiguousarray(x[(slice(None, None, -1),) * x.ndim])
        return rev[(slice(None, None, -1),) * x.ndim]
    raise AssertionError(kind)
