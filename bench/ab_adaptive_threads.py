"""A/B on a quiet machine: the adaptive default thread count against a fixed count of 2.

    FASTNN_DATA=../shared/datasets/mnist PYTHONPATH=$PWD \
        python bench/ab_adaptive_threads.py [repeats]

Trains the MLP 784-200-10 (Adam, batch 128) for 3 epochs on 20000 MNIST images, alternating the
default count (``set_num_threads(None)``: adapted to the measured load) and 2 fixed threads,
``repeats`` times each after one warm-up run; prints the medians and every time.  It measures
what the load adaptation costs when there is no load (docs/threads.md).
"""
import sys
import time

import numpy as np

import fastnn
from fastnn import datasets, optim, zoo
from fastnn.data import preprocess_images


def main(repeats=4):
    (x, y), _ = datasets.load_mnist()
    x = preprocess_images(x[:20000], flatten=True)
    y = y[:20000].astype(np.int64)

    def run(n):
        fastnn.set_num_threads(n)
        model = zoo.mlp(hidden=(200,), seed=0)
        t0 = time.perf_counter()
        model.fit(x, y, epochs=3, batch_size=128, optimizer=optim.Adam(model.parameters()),
                  seed=0, verbose=0)
        return time.perf_counter() - t0

    run(2)                                            # warm-up
    times = {"default (adaptive)": [], "2 fixed": []}
    for _ in range(repeats):
        times["default (adaptive)"].append(run(None))
        times["2 fixed"].append(run(2))
    for name, ts in times.items():
        print("%-20s median %.3f s  all %s" % (name, float(np.median(ts)),
                                                " ".join("%.3f" % t for t in ts)))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 4)
