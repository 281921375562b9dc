"""Losses: ``forward(pred, target) -> float`` keeps what ``backward() -> dpred`` needs.

``dpred`` has pred's shape and dtype.  Every loss is a mean over the batch (Keras'
``sum_over_batch_size`` reduction), so its gradient carries a 1/N.  N = pred.shape[0].

SoftmaxCrossEntropy (from logits z, via the ``softmax_cross_entropy`` kernel; numerically stable):
    p = softmax(z) row-wise;  L = -(1/N) sum_n sum_k t[n, k] log p[n, k]
    integer labels y (N,) mean t = one_hot(y);  float targets t (N, K) (one-hot or soft)
    dL/dz = (p - t) / N                                   (for rows of t summing to 1)
  This is what ``fit`` uses for 'sparse_categorical_crossentropy' / 'categorical_crossentropy':
  fastnn models end in logits (no softmax layer), and ``predict`` applies the softmax.

CrossEntropy (from probabilities, Keras' ``from_logits=False``):
    q = o / sum_k o[n, k]  (rows renormalised, as Keras),  c = clip(q, eps, 1 - eps), eps = 1e-7
    L = -(1/N) sum_n sum_k t[n, k] log c[n, k]
    dL/dq[n, k] = -t[n, k] / (N c[n, k]) where eps < q < 1 - eps (0 where the clip is active)
    dL/do[n, k] = (g[n, k] - sum_j g[n, j] q[n, j]) / s[n],  g = dL/dq, s = sum_k o[n, k]

MSE:  L = mean over ALL elements of (pred - target)^2      dL/dpred = 2 (pred - target) / size
MAE:  L = mean over all elements of |pred - target|         dL/dpred = sign(pred - target) / size
  (Keras averages over the last axis, then over the batch: the same number for any shape.)
  target must have pred's shape; a (N,) target with a (N, 1) pred is accepted (as Keras).
  ``check_targets(y, out_shape)`` checks a whole target array against the model's output
  before training, so a wrong y is named as such, not by the shapes of a batch.

Values are accumulated in float64 and returned as Python floats.  Non-finite predictions are not
rejected here: ``fit`` detects a diverging loss.
"""
import numpy as np

from . import _validate as _v
from .backend import K

__all__ = ["Loss", "SoftmaxCrossEntropy", "CrossEntropy", "MSE", "MAE", "get"]

EPSILON = 1e-7  # keras.backend.epsilon()
_NDARRAY = np.ndarray


def _pred(pred, ndim=None):
    return _v.check_array(pred, "pred", ndim=ndim)


def _class_targets(target, pred):
    """Integer labels (N,) or float targets of pred's shape (N, K), finite and non-negative ->
    ``ClassTargets('labels', int64 copy)`` or ``ClassTargets('probs', copy in pred's dtype)``."""
    n, k = pred.shape
    return _v.check_class_targets(target, "target", n, k, pred.dtype)


class Loss:
    """Base class: ``forward(pred, target) -> float``, ``backward() -> dpred``."""

    def __init__(self):
        self._cache = None

    def __call__(self, pred, target):
        return self.forward(pred, target)

    def forward(self, pred, target):
        raise NotImplementedError

    def backward(self):
        raise NotImplementedError

    def _kept(self):
        if self._cache is None:
            raise RuntimeError("%s.backward called before forward" % type(self).__name__)
        return self._cache

    def get_config(self):
        return {}

    def __repr__(self):
        return "%s()" % type(self).__name__


class SoftmaxCrossEntropy(Loss):
    """Softmax + cross-entropy from logits (N, K); target integer labels (N,) or float (N, K).
    Forward keeps dL/dlogits computed by the fused kernel; backward returns it.

    Checked once per signature: after pred and integer labels of some (shape, dtype) passed
    the loss's checks, the next pair of that signature goes straight to the kernel, whose
    contract checks the label values itself (on a private copy); should it refuse them, the
    loss's own check runs, so the error is the one it always was."""

    _sig = None      # (pred shape, pred dtype, target shape, target dtype) last checked in full

    def forward(self, pred, target):
        if (type(pred) is _NDARRAY and type(target) is _NDARRAY
                and (pred.shape, pred.dtype, target.shape, target.dtype) == self._sig):
            try:
                loss, dlogits = K().softmax_cross_entropy(pred, target)
            except (ValueError, TypeError):
                self._checked(pred, target)        # raises in the loss's words
                raise
        else:
            given_pred, given_target = pred, target
            pred, t = self._checked(pred, target)
            loss, dlogits = K().softmax_cross_entropy(pred, t)
            # labels only: float targets are cast to pred's dtype here, which the kernel is not
            # asked to do
            self._sig = ((pred.shape, pred.dtype, t.shape, given_target.dtype)
                         if pred is given_pred and type(given_target) is _NDARRAY
                         and given_target.dtype.kind in "iu" else None)
        self._cache = dlogits
        return float(loss)

    @staticmethod
    def _checked(pred, target):
        pred = _pred(pred, ndim=2)
        return pred, _class_targets(target, pred)[1]

    def backward(self):
        return self._kept()


class CrossEntropy(Loss):
    """Cross-entropy from probabilities (N, K), Keras-style (renormalise, clip to [1e-7,
    1 - 1e-7]); target integer labels (N,) or one-hot / soft float targets (N, K)."""

    def __init__(self, epsilon=EPSILON):
        super().__init__()
        self.epsilon = _v.check_scalar(epsilon, "epsilon", min=0.0, max=0.5, min_inclusive=False,
                                       max_inclusive=False)

    def forward(self, pred, target):
        pred = _pred(pred, ndim=2)
        kind, t = _class_targets(target, pred)
        n = pred.shape[0]
        if kind == "labels":
            t = np.eye(pred.shape[1], dtype=np.float64)[t]
        o = pred.astype(np.float64)
        # NaN passes (fit reports a diverging loss); negative entries or an all-zero row mean
        # the input is not probabilities (logits, most likely), which clipping would hide
        if (o < 0).any():
            raise ValueError("pred must be probabilities (>= 0), got a minimum of %r; for "
                             "logits use SoftmaxCrossEntropy" % float(np.nanmin(o)))
        s = o.sum(axis=1, keepdims=True)
        if (s <= 0).any():
            raise ValueError("pred's rows must have a positive sum (probabilities), got a row "
                             "of zeros at index %d" % int(np.flatnonzero(s[:, 0] <= 0)[0]))
        q = o / s
        eps = self.epsilon
        c = np.clip(q, eps, 1.0 - eps)
        loss = -(t * np.log(c)).sum() / n
        self._cache = (t, q, c, s, pred.dtype)
        return float(loss)

    def backward(self):
        t, q, c, s, dtype = self._kept()
        n = q.shape[0]
        eps = self.epsilon
        inside = (q > eps) & (q < 1.0 - eps)          # where the clip passes the gradient
        g = np.where(inside, -t / (n * c), 0.0)          # dL/dq
        do = (g - (g * q).sum(axis=1, keepdims=True)) / s
        return do.astype(dtype)

    def get_config(self):
        return {"epsilon": self.epsilon}


class _Elementwise(Loss):
    def check_targets(self, y, out_shape, name="y"):
        """Check a whole target array ``y`` (N, ...) against the model's per-sample output shape
        ``out_shape`` before training (``fit`` calls it), so a mismatch names ``y`` and the
        model, not the shapes of some batch.  A (N,) target for a (1,) output is accepted."""
        want = (y.shape[0],) + tuple(out_shape)
        if y.shape == want or (tuple(out_shape) == (1,) and y.ndim == 1):
            return
        hint = ""
        if y.ndim == 1 and len(out_shape) == 1 and y.dtype.kind in "iu":
            hint = (" (class ids? use loss='sparse_categorical_crossentropy', or "
                    "fastnn.data.one_hot(%s, %d) for %s)"
                    % (name, out_shape[0], type(self).__name__))
        raise ValueError("%s must have shape %s to match the model's output for %s, got %s%s"
                         % (name, want, type(self).__name__, y.shape, hint))

    def _diff(self, pred, target):
        pred = _pred(pred)
        target = _v.check_array(target, "target", dtypes=None)
        if target.dtype.kind not in "fiu":
            raise TypeError("target must hold real numbers, got dtype %s" % target.dtype)
        if target.shape != pred.shape:
            if pred.ndim >= 1 and pred.shape[-1] == 1 and target.shape == pred.shape[:-1]:
                target = target.reshape(pred.shape)      # (N,) target for a (N, 1) output
            else:
                raise ValueError("target must have pred's shape %s, got %s"
                                 % (pred.shape, target.shape))
        return pred, pred.astype(np.float64) - target.astype(np.float64)


class MSE(_Elementwise):
    """Mean squared error over all elements."""

    def forward(self, pred, target):
        pred, d = self._diff(pred, target)
        self._cache = (d, pred.dtype)
        return float(np.mean(d * d))

    def backward(self):
        d, dtype = self._kept()
        return (2.0 * d / d.size).astype(dtype)


class MAE(_Elementwise):
    """Mean absolute error over all elements (gradient sign(pred - target) / size; 0 at ties)."""

    def forward(self, pred, target):
        pred, d = self._diff(pred, target)
        self._cache = (d, pred.dtype)
        return float(np.mean(np.abs(d)))

    def backward(self):
        d, dtype = self._kept()
        return (np.sign(d) / d.size).astype(dtype)


_NAMES = {
    "sparse_categorical_crossentropy": SoftmaxCrossEntropy,
    "categorical_crossentropy": SoftmaxCrossEntropy,
    "softmax_cross_entropy": SoftmaxCrossEntropy,
    "cross_entropy": CrossEntropy,
    "mse": MSE, "mean_squared_error": MSE,
    "mae": MAE, "mean_absolute_error": MAE,
}


def get(identifier):
    """A loss instance from a name or an instance (passes through).

    'sparse_categorical_crossentropy' and 'categorical_crossentropy' give SoftmaxCrossEntropy:
    fit pairs them with a model that outputs logits (integer labels or one-hot targets both
    work).  The Keras from-probabilities variant is 'cross_entropy' (CrossEntropy).
    """
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()                # a class means its default instance, as Keras
    if isinstance(identifier, str):
        if identifier in _NAMES:
            return _NAMES[identifier]()
        raise ValueError("unknown loss %r; valid names: %s"
                         % (identifier, ", ".join(sorted(_NAMES))))
    if hasattr(identifier, "forward") and hasattr(identifier, "backward"):
        return identifier
    raise TypeError("loss must be a name (%s) or a Loss instance, got %r"
                    % (", ".join(sorted(_NAMES)), identifier))
