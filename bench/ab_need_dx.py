"""A/B timing of Sequential.backward(need_dx=True) vs need_dx=False on the lab models.

    FASTNN_DATA=path/to/mnist python bench/ab_need_dx.py cnn     # 40 batches of 64
    FASTNN_DATA=path/to/mnist python bench/ab_need_dx.py mlp     # 200 batches of 128

One model and optimizer; each timed call is one pass over the batches (forward, loss,
backward, Adam step).  ``fastnn.benchmarks.timing.alternate`` runs the two settings in 4
alternating blocks after a warm-up pass of each, so machine noise hits both alike.  Prints the
median wall and CPU time per pass for each setting.
"""
import argparse

import numpy as np

from fastnn import data, datasets, losses, optim, zoo
from fastnn.benchmarks.timing import alternate

# model -> (batches, batch size, builder)
MODELS = {
    "cnn": (40, 64, lambda: zoo.cnn(seed=0)),
    "mlp": (200, 128, lambda: zoo.mlp(hidden=(256, 128), activation="relu", dropout=0.2,
                                      seed=0)),
}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", choices=sorted(MODELS))
    args = p.parse_args(argv)
    batches, batch_size, build = MODELS[args.model]
    (x, y), _ = datasets.load_mnist(verbose=False)
    n = batches * batch_size
    x = data.preprocess_images(x[:n], flatten=args.model == "mlp")
    y = y[:n].astype(np.int64)
    model = build()
    opt = optim.Adam(model.parameters(), lr=1e-3)
    loss = losses.SoftmaxCrossEntropy()

    def one_pass(need_dx):
        for i in range(0, n, batch_size):
            loss.forward(model.forward(x[i:i + batch_size], training=True), y[i:i + batch_size])
            model.backward(loss.backward(), need_dx=need_dx)
            opt.step()

    results = alternate(lambda: one_pass(True), lambda: one_pass(False), blocks=4)
    for need_dx, r in zip((True, False), results):
        print("%s need_dx=%s wall median %.3f s  cpu median %.3f s n_batches %d"
              % (args.model, need_dx, r.median, r.cpu_median, batches))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
