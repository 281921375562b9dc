"""Write your own optimizer: momentum SGD in ten lines, checked against fastnn.optim.SGD.

fastnn.optim.Optimizer keeps the parameter groups and the per-parameter state; you write the
update of ONE parameter, on NumPy arrays, in ``update``.  ``step()`` calls it for every
parameter, ``fit`` calls ``step()`` after every backward pass.  Run:  python examples/my_momentum.py
"""
import numpy as np

from fastnn import optim, zoo
from fastnn.studies.data import synthetic


class MyMomentum(optim.Optimizer):
    """Polyak's heavy ball as torch writes it: v = momentum * v + g;  theta = theta - lr * v."""

    def __init__(self, params, lr=0.01, momentum=0.9):
        super().__init__(params, dict(lr=lr, momentum=momentum))

    def update(self, param, grad, state, group):
        v = state.setdefault("v", np.zeros_like(param))   # created at the first step: v = 0
        v *= group["momentum"]
        v += grad
        param -= group["lr"] * v                           # in place: param IS the weights


x, y, _, _ = synthetic(n_train=600, dim=32, seed=0).arrays()
mine, theirs = zoo.mlp(hidden=(64, 32), input_dim=32, seed=0), zoo.mlp(hidden=(64, 32),
                                                                         input_dim=32, seed=0)
h1 = mine.fit(x, y, epochs=3, batch_size=32, seed=0, verbose=0,
              optimizer=MyMomentum(mine.parameters(), lr=0.05, momentum=0.9))
h2 = theirs.fit(x, y, epochs=3, batch_size=32, seed=0, verbose=0,
                optimizer=optim.SGD(theirs.parameters(), lr=0.05, momentum=0.9))
same = all(np.array_equal(a, b) for a, b in zip(mine.get_weights(), theirs.get_weights()))
print("loss per epoch, MyMomentum:", np.round(h1["loss"], 6))
print("loss per epoch, optim.SGD: ", np.round(h2["loss"], 6))
print("identical weights after 3 epochs:", same)
assert same, "MyMomentum and optim.SGD(momentum=0.9) should agree bit for bit"
