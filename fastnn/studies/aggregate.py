"""Numbers across runs: padded curve matrices, mean and standard deviation, smoothing, the
first epoch a loss threshold is reached.  Plain NumPy on run records (see ``train.py``).

Conventions (stated in every report): "std" is the sample standard deviation across runs
(``ddof=1``) when there are at least two runs, 0 for a single run; runs that diverged are
left out of the means (their count is reported); a curve that stopped early is padded with NaN.
"""
import math

import numpy as np

__all__ = ["mean_std", "final_mean_std", "group_summary", "ratio", "curve_matrix",
           "curve_mean_std", "smooth", "smoothed_batch_matrix", "first_reach",
           "cumulative_time_to", "group_curves", "default_smooth_window"]


def mean_std(values):
    """(mean, std) of the finite values in ``values``; std with ddof=1 for >= 2 values, 0.0
    for one; (nan, nan) for none."""
    a = np.asarray([v for v in values if v is not None], dtype=np.float64)
    a = a[np.isfinite(a)]
    if a.size == 0:
        return math.nan, math.nan
    return float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else 0.0


def final_mean_std(records, key):
    """(mean, std) of the last value of each record's ``key`` list (records whose list is
    empty are left out)."""
    return mean_std([r[key][-1] for r in records if r[key]])


def group_summary(records):
    """The columns every study's summary has, for one group of runs (one cell of the grid):
    ``runs``, ``diverged``, the final training loss and final test accuracy (mean and std over
    the runs that did not diverge) and ``run_seconds_mean`` (wall time, all runs).  Returns
    ``(row, the runs that did not diverge)``."""
    ok = [r for r in records if not r.get("diverged")]
    loss, acc = final_mean_std(ok, "loss"), final_mean_std(ok, "test_accuracy")
    row = {"runs": len(records), "diverged": len(records) - len(ok),
           "final_loss_mean": loss[0], "final_loss_std": loss[1],
           "test_accuracy_mean": acc[0], "test_accuracy_std": acc[1],
           "run_seconds_mean": mean_std([r["wall_time"] for r in records])[0]}
    return row, ok


def ratio(value, base):
    """``value / base`` for a baseline comparison; None unless both are finite and base > 0."""
    if base is None or value is None or not (math.isfinite(base) and base > 0
                                             and math.isfinite(value)):
        return None
    return value / base


def curve_matrix(records, key):
    """(runs, longest) float64 matrix of ``record[key]`` lists, padded with NaN."""
    rows = [list(r[key]) for r in records]
    width = max((len(v) for v in rows), default=0)
    m = np.full((len(rows), width), np.nan)
    for i, v in enumerate(rows):
        m[i, :len(v)] = v
    return m


def curve_mean_std(matrix):
    """Column-wise (mean, std) ignoring NaN, std with ddof=1 where >= 2 values (else 0)."""
    m = np.asarray(matrix, dtype=np.float64)
    if m.size == 0:
        return np.zeros(0), np.zeros(0)
    finite = np.isfinite(m)
    n = finite.sum(axis=0)
    filled = np.where(finite, m, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = filled.sum(axis=0) / n
        dev = np.where(finite, m - mean, 0.0)
        var = (dev ** 2).sum(axis=0) / np.maximum(n - 1, 1)
    std = np.where(n >= 2, np.sqrt(var), 0.0)
    mean = np.where(n > 0, mean, np.nan)
    return mean, std


def smooth(values, window):
    """Trailing moving average: out[i] = mean(values[max(0, i - window + 1) : i + 1]) (the
    first points average what exists so far).  window >= 1; window 1 returns a copy."""
    v = np.asarray(values, dtype=np.float64)
    if window <= 1 or v.size == 0:
        return v.copy()
    c = np.concatenate([[0.0], np.cumsum(v)])
    i = np.arange(1, v.size + 1)
    lo = np.maximum(0, i - window)
    return (c[i] - c[lo]) / (i - lo)


def smoothed_batch_matrix(records, window):
    """(runs, iterations) matrix of each run's smoothed batch losses, NaN-padded."""
    rows = [smooth(r["batch_losses"], window) for r in records]
    width = max((v.size for v in rows), default=0)
    m = np.full((len(rows), width), np.nan)
    for i, v in enumerate(rows):
        m[i, :v.size] = v
    return m


def first_reach(losses, threshold):
    """1-based index of the first epoch whose loss is <= threshold, or None."""
    for i, v in enumerate(losses):
        if v is not None and math.isfinite(v) and v <= threshold:
            return i + 1
    return None


def cumulative_time_to(epoch_times, epochs):
    """Training seconds spent in the first ``epochs`` epochs."""
    return float(sum(epoch_times[:epochs]))


def group_curves(records, smooth_window):
    """Mean and std across the (non-diverged) runs of one group, for ``comparison_figure``:
    epoch_mean/epoch_std (training loss per epoch), iter_mean/iter_std (smoothed batch
    losses), acc_mean/acc_std (test accuracy, epoch 0 = before training)."""
    ok = [r for r in records if not r.get("diverged")] or list(records)
    em, es = curve_mean_std(curve_matrix(ok, "loss"))
    im, is_ = curve_mean_std(smoothed_batch_matrix(ok, smooth_window))
    acc = curve_matrix([{"a": [r["init_test"]["accuracy"]] + list(r["test_accuracy"])}
                        for r in ok], "a")
    am, as_ = curve_mean_std(acc)
    return {"epoch_mean": em, "epoch_std": es, "iter_mean": im, "iter_std": is_,
            "acc_mean": am, "acc_std": as_}


def default_smooth_window(records):
    """A tenth of an epoch's mini-batches (at least 1): smooths the batch noise without
    hiding the within-epoch trend."""
    bpe = [r["batches_per_epoch"][0] for r in records if r.get("batches_per_epoch")]
    return max(1, (min(bpe) if bpe else 1) // 10)
