"""Smoke test of an installed fastnn (a wheel), run where a user would run it.

Design: every check compares against something that can differ (the NumPy twin, float64 NumPy,
another thread count, the loss before training), and the first failure ends the run with exit
status 1 and one line naming the check; nothing needs MNIST, the network or a compiler.  Run it
from outside the source tree so ``import fastnn`` finds the installed package:

    cd /tmp && python /path/to/ci/smoke_wheel.py --expect-openmp --expect-vendored-openmp

--expect-openmp           build_info() must report OpenMP (a release wheel is never serial)
--expect-vendored-openmp  the OpenMP runtime loaded into the process must be the copy that
                          auditwheel put in the wheel (fastnn.libs/), not the system's
--no-compiler             assert the simulated user machine has no C compiler on PATH
"""
import argparse
import os
import platform
import shutil
import subprocess
import sys
import sysconfig

import numpy as np


def check(cond, what):
    if not cond:
        print("smoke test FAILED: %s" % what, file=sys.stderr)
        sys.exit(1)
    print("ok  %s" % what)


def check_installed(fastnn):
    here = os.path.realpath(os.path.dirname(fastnn.__file__))
    site = {os.path.realpath(sysconfig.get_paths()[k]) for k in ("purelib", "platlib")}
    check(any(here.startswith(s + os.sep) for s in site),
          "fastnn imported from site-packages (%s)" % here)
    from fastnn.kernels import _activations, _conv, _gemm, _optim, _pool, _runtime
    for mod in (_activations, _conv, _gemm, _optim, _pool, _runtime):
        check(mod.__file__.endswith(".so"), "%s is compiled" % mod.__name__)


def check_build_info(fastnn, expect_openmp):
    info = fastnn.build_info()
    print("    build_info: %r" % (info,))
    if expect_openmp:
        check(info["openmp"] is True, "built with OpenMP")
    check(info["compiler"], "build_info names the compiler")
    check("-march=native" not in (info["compile_args"] or []), "portable flags (no -march=native)")
    check(info["simd"] in info["cpu_simd"], "SIMD level %s is one this CPU runs" % info["simd"])
    if platform.machine().lower() not in ("x86_64", "amd64", "i686", "x86"):
        check(info["simd"] == "generic", "generic micro-kernels on %s" % platform.machine())


def check_vendored_openmp(fastnn):
    libs = os.path.join(os.path.dirname(os.path.dirname(fastnn.__file__)), "fastnn.libs")
    vendored = sorted(os.listdir(libs)) if os.path.isdir(libs) else []
    check(any(n.startswith(("libgomp", "libomp")) for n in vendored),
          "OpenMP runtime vendored in fastnn.libs (%s)" % ", ".join(vendored))
    with open("/proc/self/maps") as fh:
        loaded = {line.split()[-1] for line in fh if "gomp" in line or "libomp" in line}
    check(loaded and all(os.path.realpath(p).startswith(os.path.realpath(libs)) for p in loaded),
          "the OpenMP runtime in use is the vendored one (%s)" % ", ".join(sorted(loaded)))


def check_kernels(fastnn):
    from fastnn import kernels, reference
    rng = np.random.default_rng(0)
    a = rng.standard_normal((67, 129), dtype=np.float32)
    b = rng.standard_normal((129, 45), dtype=np.float32)
    exact = a.astype(np.float64) @ b.astype(np.float64)
    c = kernels.matmul(a, b)
    err = np.max(np.abs(c - exact)) / np.max(np.abs(exact))
    check(c.shape == (67, 45) and err < 1e-5, "matmul 67x129 @ 129x45 (rel. error %.1e)" % err)
    saved = fastnn.get_num_threads()
    try:
        fastnn.set_num_threads(1)
        c1 = kernels.matmul(a, b)
        fastnn.set_num_threads(2)
        c2 = kernels.matmul(a, b)
    finally:
        fastnn.set_num_threads(saved)
    check(np.array_equal(c1, c2), "matmul bit-identical at 1 and 2 threads")

    x = rng.standard_normal((3, 2, 9, 8), dtype=np.float32)
    w = rng.standard_normal((4, 2, 3, 2), dtype=np.float32)
    bias = rng.standard_normal(4, dtype=np.float32)
    y = kernels.conv2d_forward(x, w, bias, 2, 1)
    y_ref = reference.conv2d_forward(x, w, bias, 2, 1)
    check(y.shape == y_ref.shape and np.allclose(y, y_ref, rtol=1e-5, atol=1e-5),
          "conv2d_forward equals its NumPy twin, shape %s" % (y.shape,))
    p, arg = kernels.maxpool2d_forward(x, 2, 2)
    p_ref, arg_ref = reference.maxpool2d_forward(x, 2, 2)
    check(np.array_equal(p, p_ref) and np.array_equal(arg, arg_ref),
          "maxpool2d_forward equals its NumPy twin")


def check_training(fastnn):
    from fastnn import layers, optim
    rng = np.random.default_rng(1)
    x = rng.random((64, 1, 8, 8), dtype=np.float32)
    y = rng.integers(0, 10, 64)
    model = fastnn.Sequential([
        layers.Conv2D(1, 4, 3, padding=1, activation="relu", seed=0),
        layers.MaxPool2D(2), layers.Flatten(),
        layers.Dense(4 * 4 * 4, 10, seed=1),
    ])
    hist = model.fit(x, y, epochs=5, batch_size=16, optimizer=optim.Adam(model.parameters(),
                     lr=1e-2), seed=0, verbose=0)
    loss = hist.history["loss"]
    check(len(loss) == 5 and np.all(np.isfinite(loss)) and loss[-1] < loss[0],
          "a small CNN trains (loss %.4f -> %.4f)" % (loss[0], loss[-1]))


def check_cli():
    exe = shutil.which("fastnn")
    check(exe is not None and os.path.dirname(exe) == os.path.dirname(sys.executable),
          "the fastnn command is installed beside this python (%s)" % exe)
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=120)
    check(out.returncode == 0 and "train" in out.stdout, "fastnn --help (exit %d)" % out.returncode)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--expect-openmp", action="store_true")
    parser.add_argument("--expect-vendored-openmp", action="store_true")
    parser.add_argument("--no-compiler", action="store_true")
    args = parser.parse_args()
    if args.no_compiler:
        found = [c for c in ("cc", "gcc", "clang", "c++", "g++", "x86_64-linux-gnu-gcc")
                 if shutil.which(c)]
        check(not found, "no C compiler on PATH (found: %s)" % (", ".join(found) or "none"))
    import fastnn
    print("fastnn %s, Python %s, %s" % (fastnn.__version__, platform.python_version(),
                                       platform.machine()))
    check_installed(fastnn)
    check_build_info(fastnn, args.expect_openmp)
    if args.expect_vendored_openmp:
        check_vendored_openmp(fastnn)
    check_kernels(fastnn)
    check_training(fastnn)
    check_cli()
    print("smoke test passed")


if __name__ == "__main__":
    main()
