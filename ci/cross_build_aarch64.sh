#!/usr/bin/env bash
# Cross-compile fastnn's extensions for Linux aarch64 on an x86-64 machine, as setup.py builds
# them, and check what the release wheels for aarch64 will hold: the build succeeds without a
# warning, no x86 flag (-mavx*, -march, -msse*) is passed, every extension is an aarch64 object,
# no AVX code is in it (the x86 SIMD code sits behind architecture macros in src_c/), the generic
# micro-kernels are, and OpenMP is on.
#
# Needs aarch64-linux-gnu-gcc (Debian: apt-get install gcc-aarch64-linux-gnu), plus Cython and
# numpy in the running python.  Not part of .ci/run (CI has no cross compiler); the release
# workflow builds and tests the aarch64 wheels natively.  About a minute of CPU time.
#     bash ci/cross_build_aarch64.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cc="${CC_AARCH64:-aarch64-linux-gnu-gcc}"
fail() { echo "cross_build_aarch64: FAILED: $*" >&2; exit 1; }
command -v "$cc" > /dev/null || fail "no $cc (apt-get install gcc-aarch64-linux-gnu)"
work="$(mktemp -d "${TMPDIR:-/tmp}/fastnn-aarch64.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# the tracked files as they are in the working tree (nothing built, nothing generated)
git -C "$root" ls-files -z | (cd "$root" && tar --null -T - -cf -) | tar -xf - -C "$work"
cd "$work"
env CC="$cc" CFLAGS="-Wall" FASTNN_NATIVE=0 python setup.py build_ext --inplace -j 2 \
    > build.log 2>&1 || { tail -40 build.log; fail "build"; }
grep -E "^$cc " build.log | head -1
if grep -E "warning:|error:" build.log; then fail "compiler warnings (above)"; fi
if grep -E "^$cc .*(-mavx|-march|-msse|-mfma)" build.log; then fail "x86 flags passed"; fi
grep -q "'openmp': True" fastnn/_build_config.py || fail "built without OpenMP"
n=0
for so in fastnn/kernels/_*.so; do
    file -b "$so" | grep -q "ARM aarch64" || fail "$so is not an aarch64 object: $(file -b "$so")"
    if aarch64-linux-gnu-nm "$so" | grep -i avx; then fail "AVX code in $so (above)"; fi
    n=$((n + 1))
done
[ "$n" -ge 6 ] || fail "only $n extensions built"
aarch64-linux-gnu-nm fastnn/kernels/_gemm*.so | grep -E "ukr_generic" \
    || fail "no generic GEMM micro-kernel in _gemm"
echo "cross_build_aarch64: passed ($n aarch64 extensions, generic micro-kernels, OpenMP on)"
