"""Build script for fastnn's compiled kernels.

Design: every kernel module under ``fastnn/kernels`` is a Cython extension; the GEMM and its SIMD
micro-kernels are plain C in ``src_c``, compiled into ``_gemm`` alone (other extensions call it
through ``cimport``, fastnn/kernels/_gemm.pxd).  OpenMP is probed by compiling a tiny program;
when the compiler cannot do OpenMP (or FASTNN_NO_OPENMP=1) the build goes on serially with a
warning.  SIMD is chosen at run time: the C code takes the level as an argument (held by
fastnn.kernels._runtime) and its SIMD variants carry GCC target attributes, so the default flags
stay portable; FASTNN_NATIVE=1 opts into ``-march=native``.  Never ``-ffast-math``: the kernels
are compared bit-for-bit across thread counts and against NumPy twins.
"""
import glob
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import warnings

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))

# name -> extra C sources compiled into that extension (each C source into exactly one: _conv
# calls the GEMM through _gemm's cimported functions)
KERNEL_MODULES = {
    "_gemm": ["src_c/fnn_gemm.c"],
    "_conv": [],
    "_pool": [],
    "_activations": [],
    "_optim": ["src_c/fnn_optim.c"],
    "_rows": [],
    "_runtime": [],
    "_probe": [],          # machine probes for `fastnn bench roofline` (src_c/fnn_probe.h)
}


# Headers every extension may include: a header-only edit must trigger a rebuild.
C_HEADERS = sorted(os.path.relpath(p, HERE) for p in glob.glob(os.path.join(HERE, "src_c", "*.h")))


def _compiler_cmd():
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    return cc.split()


def _compiler_version(cc):
    try:
        out = subprocess.run(cc + ["--version"], capture_output=True, text=True, timeout=30)
        return out.stdout.splitlines()[0].strip() if out.stdout else " ".join(cc)
    except (OSError, subprocess.SubprocessError):
        return " ".join(cc)


def _probe_openmp(cc):
    """Return True when ``cc -fopenmp`` compiles and links src_c/fnn_openmp_probe.c."""
    path = os.path.join(HERE, "src_c", "fnn_openmp_probe.c")
    tmp = tempfile.mkdtemp(prefix="fastnn-omp-")
    try:
        res = subprocess.run(cc + ["-fopenmp", path, "-o", os.path.join(tmp, "probe")],
                             capture_output=True, text=True, timeout=120)
        return res.returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _truthy(name):
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


CC = _compiler_cmd()
if _truthy("FASTNN_NO_OPENMP"):
    USE_OPENMP = False
    OPENMP_REASON = "disabled by FASTNN_NO_OPENMP=1"
elif sys.platform == "win32":
    USE_OPENMP = True
    OPENMP_REASON = "msvc /openmp"
else:
    USE_OPENMP = _probe_openmp(CC)
    OPENMP_REASON = "probe compiled" if USE_OPENMP else "compiler cannot build an OpenMP program"
if not USE_OPENMP:
    warnings.warn("fastnn: OpenMP not available (%s); building serial kernels"
                  % OPENMP_REASON, stacklevel=2)

if sys.platform == "win32":
    COMPILE_ARGS = ["/O2"] + (["/openmp"] if USE_OPENMP else [])
    LINK_ARGS = []
else:
    COMPILE_ARGS = ["-O3", "-fno-strict-aliasing", "-Wno-unused-function"]
    if USE_OPENMP:
        COMPILE_ARGS.append("-fopenmp")
    LINK_ARGS = ["-fopenmp"] if USE_OPENMP else []
    if _truthy("FASTNN_NATIVE"):
        COMPILE_ARGS.append("-march=native")

BUILD_CONFIG = {
    "openmp": USE_OPENMP,
    "openmp_reason": OPENMP_REASON,
    "compiler": _compiler_version(CC),
    "compile_args": list(COMPILE_ARGS),
    "link_args": list(LINK_ARGS),
    "native": _truthy("FASTNN_NATIVE"),
}


def _write_build_config():
    path = os.path.join(HERE, "fastnn", "_build_config.py")
    with open(path, "w") as fh:
        fh.write('"""Written by setup.py at build time; not committed."""\n')
        fh.write("BUILD_CONFIG = %r\n" % (BUILD_CONFIG,))


def _extensions():
    only = [s.strip() for s in os.environ.get("FASTNN_EXTENSIONS", "").split(",") if s.strip()]
    exts = []
    for name, extra in KERNEL_MODULES.items():
        if only and name not in only:
            continue
        exts.append(Extension(
            "fastnn.kernels." + name,
            sources=["fastnn/kernels/%s.pyx" % name] + extra,
            include_dirs=["src_c"],
            depends=C_HEADERS,
            extra_compile_args=COMPILE_ARGS,
            extra_link_args=LINK_ARGS,
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        ))
    if not only or "_spin" in only:
        # Built WITHOUT OpenMP: fastnn imports it before the OpenMP runtime is loaded, to
        # measure the runtime's spin-wait step (src_c/fnn_openmp.h, docs/threads.md).
        exts.append(Extension(
            "fastnn._spin", sources=["fastnn/_spin.pyx"], include_dirs=["src_c"],
            depends=["src_c/fnn_openmp.h"],
            extra_compile_args=[a for a in COMPILE_ARGS if a not in ("-fopenmp", "/openmp")]))
    return exts


class BuildExt(build_ext):
    def run(self):
        _write_build_config()
        super().run()


def _cythonize(exts):
    from Cython.Build import cythonize
    return cythonize(
        exts,
        language_level=3,
        compile_time_env={"FNN_OPENMP": USE_OPENMP},
        compiler_directives={
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
            "nonecheck": False,
            "embedsignature": True,
        },
    )


_write_build_config()
setup(ext_modules=_cythonize(_extensions()), cmdclass={"build_ext": BuildExt})
