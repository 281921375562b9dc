"""``History``: what ``fit`` recorded, epoch by epoch and batch by batch.

    hist = model.fit(x, y, epochs=3, validation_data=(xv, yv), verbose=0)
    hist["loss"]                  # [0.61, 0.32, 0.25]  one value per epoch
    hist.epoch                    # [0, 1, 2]
    hist.batch_losses[:3]         # every mini-batch's loss, in order
    hist.to_csv("history.csv")    # one row per epoch
    hist.to_json("history.json")  # everything; History.from_dict(json.load(f)) reads it back

``model.history`` is the model's whole record, across resumed runs (a checkpoint saves it);
the History that ``fit`` returns holds that call's epochs only.  ``to_json``/``to_csv`` write
through ``fastnn._atomic.atomic_write``: a crash mid-write leaves the previous file (or none),
never half of one.
"""
import json

import numpy as np

from ._atomic import atomic_write

__all__ = ["History"]

# Column order of to_csv: the known metrics first, then any other key alphabetically.
COLUMN_ORDER = ("loss", "accuracy", "val_loss", "val_accuracy", "lr", "time")


class History:
    """What ``fit`` recorded.

    ``history``: dict of per-epoch lists, ``'loss'`` and ``'accuracy'`` (training; accuracy for
    classification losses only), ``'val_loss'``/``'val_accuracy'`` with validation data,
    ``'lr'`` (learning rate of the first parameter group at the end of the epoch) and ``'time'``
    (seconds for the epoch, validation included).  ``epoch``: the epoch indices (0-based) the
    lists refer to.  ``batch_losses``: every mini-batch's training loss in order, and
    ``batches_per_epoch`` how many of them belong to each epoch.  ``history['loss'][i]`` is the
    sample-weighted mean of epoch i's batch losses.  ``params``: the settings of the ``fit`` call
    (epochs, initial_epoch, steps, samples, batch_size, seed).

        h = History()
        h.append_epoch(0, {"loss": 0.5}, [0.6, 0.4])
        h["loss"], h.batch_losses          # ([0.5], [0.6, 0.4])
    """

    def __init__(self):
        self.history = {}
        self.epoch = []
        self.batch_losses = []
        self.batches_per_epoch = []
        self.params = {}

    def __getitem__(self, key):
        return self.history[key]

    def __contains__(self, key):
        return key in self.history

    def keys(self):
        return self.history.keys()

    def __len__(self):
        return len(self.epoch)

    def __repr__(self):
        return "History(epochs=%d, keys=%s)" % (len(self.epoch), list(self.history))

    def append_epoch(self, epoch, logs, batch_losses):
        """Record epoch ``epoch``: its ``logs`` (metric -> value; a metric new in this epoch
        gets None for the earlier ones) and its mini-batch losses."""
        n_before = len(self.epoch)
        self.epoch.append(int(epoch))
        for key in list(self.history) + [k for k in logs if k not in self.history]:
            column = self.history.setdefault(key, [None] * n_before)
            column.append(logs.get(key))
        self.batch_losses.extend(float(v) for v in batch_losses)
        self.batches_per_epoch.append(len(batch_losses))

    def truncated(self, before_epoch):
        """A copy holding only the epochs with index < ``before_epoch`` (for resuming)."""
        out = History()
        keep = [i for i, e in enumerate(self.epoch) if e < before_epoch]
        out.epoch = [self.epoch[i] for i in keep]
        out.history = {k: [v[i] for i in keep] for k, v in self.history.items()}
        starts = np.concatenate([[0], np.cumsum(self.batches_per_epoch)]).astype(int)
        for i in keep:
            out.batch_losses.extend(self.batch_losses[starts[i]:starts[i + 1]])
            out.batches_per_epoch.append(self.batches_per_epoch[i])
        out.params = dict(self.params)
        return out

    def to_dict(self):
        """JSON-serialisable: ``{'epoch', 'history', 'batch_losses', 'batches_per_epoch'}``."""
        return {"epoch": list(self.epoch),
                "history": {k: list(v) for k, v in self.history.items()},
                "batch_losses": list(self.batch_losses),
                "batches_per_epoch": list(self.batches_per_epoch)}

    @classmethod
    def from_dict(cls, d):
        """The History that ``to_dict`` described; ValueError when its lengths disagree."""
        h = cls()
        h.epoch = [int(e) for e in d.get("epoch", [])]
        h.history = {str(k): list(v) for k, v in d.get("history", {}).items()}
        h.batch_losses = [float(v) for v in d.get("batch_losses", [])]
        h.batches_per_epoch = [int(v) for v in d.get("batches_per_epoch", [])]
        n = len(h.epoch)
        if any(len(v) != n for v in h.history.values()) or len(h.batches_per_epoch) not in (0, n) \
                or sum(h.batches_per_epoch) != len(h.batch_losses):
            raise ValueError("inconsistent history: %d epochs, columns of lengths %s, %d batch "
                             "losses for batches_per_epoch %s"
                             % (n, {k: len(v) for k, v in h.history.items()},
                                len(h.batch_losses), h.batches_per_epoch))
        return h

    def to_json(self, path):
        """Write ``to_dict()`` as JSON to ``path`` (atomically; the directory must exist)."""
        text = json.dumps(self.to_dict(), indent=1)
        return atomic_write(path, lambda fh: fh.write(text), binary=False, make_dirs=False)

    def _columns(self):
        known = [k for k in COLUMN_ORDER if k in self.history]
        return known + sorted(k for k in self.history if k not in COLUMN_ORDER)

    def to_csv(self, path):
        """Write one row per epoch: ``epoch`` (0-based) then the history columns (atomically;
        the directory must exist)."""
        cols = self._columns()
        lines = [",".join(["epoch"] + cols)]
        for i, e in enumerate(self.epoch):
            lines.append(",".join([str(e)] + ["" if self.history[c][i] is None
                                              else repr(self.history[c][i]) for c in cols]))
        text = "\n".join(lines) + "\n"
        return atomic_write(path, lambda fh: fh.write(text), binary=False, make_dirs=False)
