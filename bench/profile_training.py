"""Where one lab-MLP epoch on MNIST goes (60000 images, batch 128, Adam, dropout 0.2): compiled
kernels against the Python around them.

    FASTNN_DATA=/path/to/mnist python bench/profile_training.py [--threads 1] [--top 25]
        [--batches N] [--model mlp|cnn]

Four epochs of ``Sequential.fit`` on one model (training continues from one to the next):

1. warm-up (first calls, first allocations), untimed;
2. plain: the epoch's wall time;
3. kernels timed: every public function of ``fastnn.kernels`` is wrapped in a timer for this
   epoch (the layers look kernels up at call time, so they call the wrappers), and so is
   ``update`` of every ``UpdateTable`` the optimizer builds (the lean step's one call; the
   optimizer is made to build fresh tables for this epoch).  The kernels' own argument checks
   (their contracts, in Python) run inside these calls and count as kernel time here; step 4
   shows them apart;
4. under cProfile: the top functions by own time.  Compiled (Cython) functions are invisible to
   cProfile: their time shows as own time of the Python function that calls them (e.g. Dense's
   ``_affine_activation`` holds its ``matmul_bias``).

Times are CPU seconds of this process (``time.process_time``), which a loaded shared machine
disturbs far less than wall time: time the OS gives to other processes is not counted.  Hence
one thread by default (with more, CPU time adds up the threads, OpenMP's spin-waiting
included).  The "Python share" printed is 1 - (kernel-call time / epoch time) of step 3.
docs/training.md quotes this script's output before and after the lean training step.
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


CLOCK = time.process_time


class _KernelTimer:
    """Wraps every public function of fastnn.kernels in a timer while active, and the update
    method of the UpdateTables built meanwhile."""

    def __init__(self):
        self.seconds = {}
        self.calls = {}
        self._saved = {}
        self.active = False

    def __enter__(self):
        self.active = True
        for name in dir(kernels):
            f = getattr(kernels, name)
            if not name.startswith("_") and callable(f) and name != "UpdateTable":
                self._saved[name] = f
                setattr(kernels, name, self._wrap(name, f))
        table_class = getattr(kernels, "UpdateTable", None)
        if table_class is not None:
            self._saved["UpdateTable"] = table_class
            timer = self

            class TimedTable(table_class):
                def __init__(self, *args, **kwargs):
                    super().__init__(*args, **kwargs)
                    self.update = timer._wrap("UpdateTable.update", self.update)
            kernels.UpdateTable = TimedTable
        return self

    def _wrap(self, name, f):
        seconds, calls, clock = self.seconds, self.calls, CLOCK

        def timed(*args, **kwargs):
            if not self.active:
                return f(*args, **kwargs)
            t = clock()
            try:
                return f(*args, **kwargs)
            finally:
                seconds[name] = seconds.get(name, 0.0) + clock() - t
                calls[name] = calls.get(name, 0) + 1
        return timed

    def __exit__(self, *exc):
        self.active = False
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
    t, w = CLOCK(), time.perf_counter()
    run()                                               # 2. plain
    cpu, wall = CLOCK() - t, time.perf_counter() - w
    with _KernelTimer() as kt:                          # 3. kernel calls timed
        # replaced state arrays make the optimizer build new (timed) tables
        model.optimizer.load_state_dict(model.optimizer.state_dict())
        t = CLOCK()
        run()
        cpu_timed = CLOCK() - t
    model.optimizer.load_state_dict(model.optimizer.state_dict())   # untimed tables again
    prof = cProfile.Profile(CLOCK)                      # 4. cProfile
    prof.enable()
    run()
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(args.top)
    print("\n".join(line for line in out.getvalue().splitlines()[4:] if line.strip()))
    print()
    print("fastnn.kernels calls in the timed epoch (CPU seconds, calls):")
    for name in sorted(kt.seconds, key=kt.seconds.get, reverse=True):
        print("  %-28s %8.3f s %7d" % (name, kt.seconds[name], kt.calls[name]))
    kern = sum(kt.seconds.values())
    print()
    print("%s epoch, %d threads: %.3f s CPU (%.3f s wall) plain; with kernel timers %.3f s CPU, "
          "of which %.3f s inside kernel calls and %.3f s outside: Python share %.0f%%" % (
              args.model, args.threads, cpu, wall, cpu_timed, kern, cpu_timed - kern,
              100 * (1 - kern / cpu_timed)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
