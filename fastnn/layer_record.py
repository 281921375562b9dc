"""What ``callbacks.LayerStatistics`` records, epoch after epoch: per layer, the moments and
histograms (``fastnn.tensor_stats.describe``) of the weights, the gradients and the
activations, and how the record is saved.

* ``weights[param]``: every parameter (``model.parameters()`` names, e.g. ``'dense_1/kernel'``),
  before training and after every epoch.
* ``gradients[param]``: the gradient **as left by the epoch's last mini-batch**, and
  ``grad_norm_mean[param]``: the gradient's L2 norm **averaged over all of the epoch's
  mini-batches** (the vanishing-gradient view: one batch is noisy).
* ``activations[layer]``: the output of every layer but Dropout and Flatten (identities in
  inference mode) on one fixed sample batch, in inference mode (dropout off), before training
  and after every epoch.  Histograms leave out exact zeros (ReLU's would dwarf every other
  bin; their fraction is the ``zeros`` moment).
* ``epochs``: the epochs the weight and activation records belong to (0 = before training,
  e = after epoch e, 1-based); the gradient records are for ``epochs[1:]``.
* ``layers``: name, type and parameter names of every recorded layer.

    rec = LayerRecord(bins=20)
    rec.describe_layers(model); rec.record_state(model, x[:256], epoch=0)
    rec.to_json("layer_stats.json"); LayerRecord.from_json("layer_stats.json")
"""
import json

import numpy as np

from . import _validate as _v
from ._atomic import atomic_write
from .tensor_stats import describe

__all__ = ["LayerRecord"]

# Identities in inference mode: their outputs are their inputs' (Flatten: reshaped).
_SKIPPED = ("Dropout", "Flatten")


def _named_layers(model):
    """(name, layer) of the layers whose outputs are recorded, names made unique."""
    out, seen = [], set()
    for i, layer in enumerate(model.layers):
        name = str(getattr(layer, "name", "") or "layer")
        if name in seen:
            name = "%s#%d" % (name, i)
        seen.add(name)
        if type(layer).__name__ not in _SKIPPED:
            out.append((name, layer))
    return out


class LayerRecord:
    """Per-layer, per-epoch statistics of a model (see the module docstring)."""

    def __init__(self, bins=30):
        self.bins = _v.check_int(bins, "bins", min=1)
        self.epochs = []
        self.weights = {}
        self.gradients = {}
        self.grad_norm_mean = {}
        self.activations = {}
        self.layers = []
        self._norm_sums = {}
        self._batches = 0

    # -- measuring -----------------------------------------------------------------------------
    def describe_layers(self, model):
        """Fill ``layers``: the name, type and parameter names of each recorded layer."""
        self.layers = [{"name": name, "type": type(layer).__name__,
                        "parameters": [p.name for p in layer.parameters()]}
                       for name, layer in _named_layers(model)]

    def record_state(self, model, sample, epoch):
        """Record the weights, and the activations of ``sample`` (None: none), as of ``epoch``.
        The layers run in inference mode: nothing of the training state changes (no dropout
        mask is drawn)."""
        self.epochs.append(int(epoch))
        for p in model.parameters():
            self.weights.setdefault(p.name, []).append(describe(p.value, self.bins))
        if sample is None:
            return
        names = {id(layer): name for name, layer in _named_layers(model)}
        h = sample
        for layer in model.layers:
            h = layer.forward(h, training=False)
            name = names.get(id(layer))
            if name is not None:
                self.activations.setdefault(name, []).append(
                    describe(h, self.bins, exclude_zeros=True))

    def start_epoch(self, model):
        """Reset the per-batch gradient norm sums."""
        self._norm_sums = {p.name: 0.0 for p in model.parameters()}
        self._batches = 0

    def add_batch(self, model):
        """Add every parameter's gradient norm (after a backward pass) to the epoch's sums."""
        for p in model.parameters():
            g = p.grad.ravel()
            self._norm_sums[p.name] = self._norm_sums.get(p.name, 0.0) + float(
                np.sqrt(np.dot(g, g)))
        self._batches += 1

    def end_epoch(self, model):
        """Record the gradients as they are now (the epoch's last batch) and the epoch's mean
        gradient norms."""
        for p in model.parameters():
            self.gradients.setdefault(p.name, []).append(describe(p.grad, self.bins))
            self.grad_norm_mean.setdefault(p.name, []).append(
                self._norm_sums.get(p.name, 0.0) / max(self._batches, 1))

    # -- saving --------------------------------------------------------------------------------
    def to_dict(self):
        """Everything recorded, as JSON-able lists and dicts (``from_dict`` reads it back)."""
        return {"epochs": list(self.epochs), "layers": list(self.layers), "bins": self.bins,
                "weights": self.weights, "gradients": self.gradients,
                "grad_norm_mean": self.grad_norm_mean, "activations": self.activations}

    @classmethod
    def from_dict(cls, d):
        """An object of this class holding the records of ``to_dict()`` (to plot them again)."""
        keys = ("epochs", "layers", "weights", "gradients", "grad_norm_mean", "activations")
        if not isinstance(d, dict) or any(k not in d for k in keys):
            raise ValueError("not a LayerStatistics record: expected a dict with keys %s"
                             % (keys,))
        out = cls(bins=int(d.get("bins", 30)))
        for k in keys:
            setattr(out, k, d[k])
        return out

    def to_json(self, path):
        """Write ``to_dict()`` as JSON to ``path`` (atomically)."""
        text = json.dumps(self.to_dict())
        return atomic_write(path, lambda fh: fh.write(text), binary=False)

    @classmethod
    def from_json(cls, path):
        """Read what ``to_json`` wrote."""
        with open(path, encoding="utf-8") as fh:
            return cls.from_dict(json.load(fh))
