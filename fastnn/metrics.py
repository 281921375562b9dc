"""Classification metrics on NumPy arrays."""
import numpy as np

from ._validate import check_int
from .data import as_array

__all__ = ["accuracy", "confusion_matrix"]


def _to_class_ids(a, name):
    """Class ids ``(n,)`` (any integer dtype) or scores/one-hot ``(n, K)`` -> int64 ``(n,)``.

    A 1-D float array is refused rather than truncated: it is more likely a bug (e.g. sigmoid
    outputs) than class ids.  Scores take the argmax (first maximum on ties, as np.argmax).
    """
    a = as_array(a, name)
    if a.ndim == 1:
        if not np.issubdtype(a.dtype, np.integer):
            raise TypeError("%s as a 1-D array must hold integer class ids, got dtype %s "
                            "(pass (n, K) scores for argmax)" % (name, a.dtype))
        if a.size and a.min() < 0:
            raise ValueError("%s must be class ids >= 0, got %d" % (name, a.min()))
        return a.astype(np.int64, copy=False)
    if a.ndim == 2:
        if a.shape[1] == 0:
            raise ValueError("%s scores must have at least one class column, got shape %s"
                             % (name, a.shape))
        if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
            raise TypeError("%s scores must be numeric, got dtype %s" % (name, a.dtype))
        if np.issubdtype(a.dtype, np.floating) and not np.all(np.isfinite(a)):
            raise ValueError("%s scores contain NaN or inf" % name)
        return np.argmax(a, axis=1).astype(np.int64)
    raise ValueError("%s must be class ids (n,) or scores (n, K), got shape %s" % (name, a.shape))


def _pair(y_true, y_pred):
    t = _to_class_ids(y_true, "y_true")
    p = _to_class_ids(y_pred, "y_pred")
    if t.shape[0] != p.shape[0]:
        raise ValueError("y_true and y_pred must have the same number of samples, got "
                         "y_true: %d, y_pred: %d" % (t.shape[0], p.shape[0]))
    if t.shape[0] == 0:
        raise ValueError("y_true and y_pred must not be empty")
    return t, p


def accuracy(y_true, y_pred):
    """Fraction of samples whose predicted class equals the true class, as a float.

    ``y_true``: class ids ``(n,)`` or one-hot ``(n, K)``.  ``y_pred``: class ids ``(n,)`` or
    scores / probabilities / logits ``(n, K)`` (argmax is taken).
    """
    t, p = _pair(y_true, y_pred)
    return float(np.count_nonzero(t == p)) / t.shape[0]


def confusion_matrix(y_true, y_pred, num_classes=None):
    """``cm[i, j]`` = number of samples of true class ``i`` predicted as class ``j`` (int64).

    Rows are true classes, columns predicted (as scikit-learn).  ``num_classes`` defaults to
    the number of score columns when given scores, else ``max(ids) + 1``; every id must be below
    it.  Inputs as :func:`accuracy`.
    """
    t, p = _pair(y_true, y_pred)
    hi = int(max(t.max(), p.max()))
    if num_classes is None:
        widths = [a.shape[1] for a in (y_true, y_pred) if np.ndim(a) == 2]
        num_classes = max(widths + [hi + 1])
    k = check_int(num_classes, "num_classes", min=1)
    if hi >= k:
        raise ValueError("class ids must be < num_classes=%d, got %d" % (k, hi))
    return np.bincount(t * k + p, minlength=k * k).reshape(k, k).astype(np.int64)
