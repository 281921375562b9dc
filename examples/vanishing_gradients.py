"""See the gradient vanish: the same deep MLP (six hidden layers of 64) with sigmoid and with
ReLU, one epoch of plain SGD; the mean gradient norm of every layer, per epoch, side by side.

Run:  FASTNN_DATA=path/to/mnist python examples/vanishing_gradients.py [OUT.png] [TRAIN_IMAGES]
(defaults: gradient_norms.png and 10000 images).
"""
import sys

from fastnn import callbacks, datasets, plotting, zoo
from fastnn.data import preprocess_images

path = sys.argv[1] if len(sys.argv) > 1 else "gradient_norms.png"
n = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
(x, y), _ = datasets.load_mnist()
x, y = preprocess_images(x[:n], flatten=True), y[:n]

runs = {}
for activation in ("sigmoid", "relu"):
    model = zoo.mlp(hidden=(64,) * 6, activation=activation, dropout=0.0, seed=0)
    runs[activation] = callbacks.LayerStatistics()
    model.fit(x, y, epochs=1, batch_size=64, optimizer="sgd", seed=0, verbose=0,
              callbacks=[runs[activation]])
    norms = [v[-1] for k, v in runs[activation].grad_norm_mean.items() if k.endswith("kernel")]
    print("%-7s gradient norm per layer, input to output: %s" % (
        activation, " ".join("%.2g" % v for v in norms)))
plotting.plot_gradient_norms(runs, path=path)
print("figure:", path)
