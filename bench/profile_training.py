"""Where one lab-MLP epoch on MNIST goes (60000 images, batch 128, Adam, dropout 0.2): compiled
kernels against the Python around them.

    FASTNN_DATA=/path/to/mnist python bench/profile_training.py [--threads 1] [--top 25]
        [--batches N] [--model mlp|cnn]

Four epochs of ``Sequential.fit`` on one model (training continues from one to the next):

1. warm-up (first calls, first allocations), untimed;
2. plain: the epoch's wall time;
3. kernels timed: every public function of ``fastnn.kernels`` is wrapped in a timer for this
   epoch (the layers look kernels up at call time, so they call the wrappers).  The kernels'
   own argument checks (their contracts, in Python) run inside these calls and count as kernel
   time here; step 4 shows them apart;
4. under cProfile: the top functions by own time.  Compiled (Cython) functions are invisible to
   cProfile: their time shows as own time of the Python function that calls them (e.g. Dense's
   ``_affine_activation`` holds its ``matmul_bias``).

The "Python share" printed is 1 - (kernel-call time / wall time) of step 3.  docs/training.md
quotes this script's output before and after the lean training step.  One thread by default:
the question is the Python around the kernels, and a loaded shared machine makes OpenMP threads
wait for cores (issue 10), which would swamp it.
"""
import argparse
import cProfile
import io
import pstats
import time

import numpy as np

import fastnn
from fastnn import data, datasets, kernels, zoo


def _load(model_kind, batches):
    (x, y), _ = datasets.load_mnist(download=False, verbose=False)
    batch = 128 if model_kind == "mlp" else 64
    if batches is not None:
        x, y = x[:batches * batch], y[:batches * batch]
    x = data.preprocess_images(x, flatten=(model_kind == "mlp"))
    return x, y.astype(np.int64), batch


class _KernelTimer:
    """Wraps every public function of fastnn.kernels in a timer while active."""

    def __init__(self):
        self.seconds = {}
        self.calls = {}
        self._saved = {}

    def __enter__(self):
        for name in dir(kernels):
            f = getattr(kernels, name)
            if not name.startswith("_") and callable(f):
                self._saved[name] = f
                setattr(kernels, name, self._wrap(name, f))
        return self

    def _wrap(self, name, f):
        seconds, calls, clock = self.seconds, self.calls, time.perf_counter

        def timed(*args, **kwargs):
            t = clock()
            try:
                return f(*args, **kwargs)
            finally:
                seconds[name] = seconds.get(name, 0.0) + clock() - t
                calls[name] = calls.get(name, 0) + 1
        return timed

    def __exit__(self, *exc):
        for name, f in self._saved.items():
            setattr(kernels, name, f)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--batches", type=int, default=None, help="batches per epoch (default all)")
    ap.add_argument("--model", choices=("mlp", "cnn"), default="mlp")
    args = ap.parse_args(argv)
    fastnn.set_num_threads(args.threads)
    x, y, batch = _load(args.model, args.batches)
    model = zoo.mlp(seed=0) if args.model == "mlp" else zoo.cnn(seed=0)
    epoch = [0]

    def run():
        model.fit(x, y, epochs=epoch[0] + 1, initial_epoch=epoch[0], batch_size=batch,
                  optimizer=None if epoch[0] else "adam", seed=0, verbose=0)
        epoch[0] += 1

    run()                                               # 1. warm-up
    t = time.perf_counter()
    run()                                               # 2. plain
    wall = time.perf_counter() - t
    with _KernelTimer() as kt:                          # 3. kernel calls timed
        t = time.perf_counter()
        run()
        wall_timed = time.perf_counter() - t
    prof = cProfile.Profile()                           # 4. cProfile
    prof.enable()
    run()
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(args.top)
    print("\n".join(line for line in out.getvalue().splitlines()[4:] if line.strip()))
    print()
    print("fastnn.kernels calls in the timed epoch (seconds, calls):")
    for name in sorted(kt.seconds, key=kt.seconds.get, reverse=True):
        print("  %-28s %8.3f s %7d" % (name, kt.seconds[name], kt.calls[name]))
    kern = sum(kt.seconds.values())
    print()
    print("%s epoch, %d threads: %.3f s plain; with kernel timers %.3f s, of which %.3f s "
          "inside kernel calls and %.3f s outside: Python share %.0f%%" % (
              args.model, args.threads, wall, wall_timed, kern, wall_timed - kern,
              100 * (1 - kern / wall_timed)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
