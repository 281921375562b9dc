"""Peak memory of fastnn reading hostile files (issue 11), each in a child process.

    PYTHONPATH=. python bench/peak_memory.py [--scale 1.0] [--keep DIR]

Makes, at the issue's sizes (``--scale`` shrinks them), a checkpoint with an extra member that
inflates to 1 GiB, a 3 KB checkpoint whose header declares Dense(18000, 18000) (and one
declaring Dense(10**6, 10**6)), and a ``t10k-labels-idx1-ubyte.gz`` that inflates to 1 GiB
(zeros, and a valid IDX header followed by zeros) beside the other three MNIST files; then
loads each in a fresh child process and prints, per case, the file size, the child's peak RSS
before and after the call (ru_maxrss) and what the call did.  The fastnn imported is the one
on PYTHONPATH, so the same command measures any checkout.  Numbers go to
docs/hostile-inputs.md.
"""
import argparse
import os
import shutil
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
import hostile_files as H  # noqa: E402  (tests/ is not a package; the path is set above)


def _checkpoints(d, scale):
    import fastnn
    from fastnn import layers as L
    model = fastnn.Sequential([L.Dense(4, 3, seed=0), L.ReLU(), L.Dense(3, 2, seed=1)])
    good = os.path.join(d, "good.npz")
    model.save(good)
    header, arrays = H.read_checkpoint(good)
    extra = int(2 ** 30 * scale)
    yield ("extra %d-byte member" % extra, H.write_checkpoint(
        os.path.join(d, "extra.npz"), header, arrays,
        extra=[("extra", H.npy_header((extra,), np.uint8), extra)]))
    for n in (int(18000 * scale ** 0.5), 10 ** 6):
        def declare(h, a, n=n):
            h["model"]["layers"][0]["config"].update(in_features=n, out_features=n)
            h["weights"][0]["shape"] = [n, n]
            h["weights"][1]["shape"] = [n]
            h["model"]["layers"][2]["config"]["in_features"] = n
            h["weights"][2]["shape"] = [n, 2]
        yield ("header declares Dense(%d, %d)" % (n, n), H.rewrite_checkpoint(
            good, os.path.join(d, "dense%d.npz" % n), declare))


def _bombs(d, scale, mnist):
    size = int(2 ** 30 * scale)
    for name, prefix in (("zeros", b""), ("IDX header + zeros", H.idx_labels_header(10000))):
        sub = os.path.join(d, name.split()[0].lower())
        os.makedirs(sub)
        for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                     "t10k-images-idx3-ubyte"):      # the three good files, read first
            os.symlink(os.path.join(mnist, stem + ".gz"), os.path.join(sub, stem + ".gz"))
        H.gzip_bomb(os.path.join(sub, "t10k-labels-idx1-ubyte.gz"), prefix, size)
        yield "labels .gz inflating to %d bytes (%s)" % (len(prefix) + size, name), sub


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0, help="shrink the hostile files")
    ap.add_argument("--keep", default=None, help="make the files in this directory, keep them")
    ap.add_argument("--mnist", default=os.environ.get("FASTNN_DATA"),
                    help="directory with the four MNIST .gz files (default $FASTNN_DATA); the "
                    "bombs replace the test labels, the other three are linked from here")
    args = ap.parse_args(argv)
    d = args.keep or tempfile.mkdtemp(prefix="fastnn-peak-")
    os.makedirs(d, exist_ok=True)
    env = dict(os.environ)
    env["XDG_CACHE_HOME"] = os.path.join(d, "cache")     # never a real cache
    env.pop("FASTNN_DATA", None)
    try:
        rows = []
        for label, path in _checkpoints(d, args.scale):
            base, peak, outcome = H.peak_memory("from fastnn import load_model",
                                                "load_model(%r)" % path, env=env)
            rows.append(("load_model: " + label, os.path.getsize(path), base, peak, outcome))
        for label, sub in (_bombs(d, args.scale, args.mnist) if args.mnist else ()):
            src = os.path.join(sub, "t10k-labels-idx1-ubyte.gz")
            base, peak, outcome = H.peak_memory(
                "from fastnn import datasets",
                "datasets.load_mnist(%r, download=False, verbose=False)" % sub, env=env)
            rows.append(("load_mnist: " + label, os.path.getsize(src), base, peak, outcome))
        import fastnn
        print("fastnn %s from %s" % (fastnn.__version__, os.path.dirname(fastnn.__file__)))
        print("| case | file bytes | RSS before call (MB) | peak RSS (MB) | outcome |")
        print("|---|---:|---:|---:|---|")
        for label, size, base, peak, outcome in rows:
            print("| %s | %d | %.0f | %.0f | %s |" % (label, size, base, peak, outcome[:160]))
    finally:
        if not args.keep:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
