"""Moments and a histogram of one array: the unit that ``callbacks.LayerStatistics`` records for
every weight, gradient and activation, epoch after epoch.

    describe(np.array([0.0, 1.0, -2.0, 3.0]), bins=4)
    # {'size': 4, 'mean': 0.5, 'std': 1.80..., 'min': -2.0, 'max': 3.0, 'norm': 3.74...,
    #  'zeros': 0.25, 'nonfinite': 0, 'edges': [-2.0, -0.75, 0.5, 1.75, 3.0],
    #  'counts': [1, 1, 1, 1]}

Everything is computed in float64 on the finite values (a NaN or inf is counted in
``nonfinite``, not folded into the moments), and returned as plain Python numbers and lists, so
a record is JSON as it is.
"""
import numpy as np

__all__ = ["MOMENTS", "describe"]

#: the moments of a record, in the order tables and figures show them
MOMENTS = ("mean", "std", "min", "max", "norm", "zeros")


def describe(values, bins=30, exclude_zeros=False):
    """Moments and histogram of ``values`` (any shape, any real dtype).

    mean, std (population, ddof=0), min, max, norm (L2 norm of the whole array), zeros (the
    fraction of entries exactly 0), size, nonfinite (how many NaN/inf were left out); edges
    (``bins + 1`` equally spaced from min to max; a constant array gets one unit-wide bin range
    centred on its value) and counts.  ``exclude_zeros=True`` histograms only the non-zero
    values (ReLU outputs: the zeros, reported in ``zeros``, would dwarf every other bin); the
    moments always use every finite value.
    """
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ValueError("bins must be an int >= 1, got %r" % (bins,))
    a = np.asarray(values, dtype=np.float64).ravel()
    finite = np.isfinite(a)
    v = a[finite] if not finite.all() else a
    out = {"size": int(a.size), "nonfinite": int(a.size - v.size)}
    if v.size == 0:
        out.update({k: None for k in MOMENTS})
        out.update(edges=[], counts=[])
        return out
    lo, hi = float(v.min()), float(v.max())
    out.update(mean=float(v.mean()), std=float(v.std()), min=lo, max=hi,
               norm=float(np.sqrt(np.dot(v, v))), zeros=float(np.count_nonzero(v == 0) / v.size))
    shown = v[v != 0] if exclude_zeros else v
    if shown.size:
        lo, hi = float(shown.min()), float(shown.max())
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, int(bins) + 1)
    out["edges"] = edges.tolist()
    out["counts"] = np.histogram(shown, edges)[0].tolist()
    return out
