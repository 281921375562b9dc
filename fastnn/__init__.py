"""fastnn: a compiled neural-network engine for learning and for speed.

Hot kernels are Cython over typed memoryviews with OpenMP plus a C GEMM (``fastnn.kernels``);
each has a readable NumPy twin (``fastnn.reference``).  Models and training are a thin Python
layer on top.

    import fastnn
    from fastnn import zoo, data
    (x, y), (xt, yt) = fastnn.datasets.load_mnist()
    model = zoo.mlp(seed=0)
    model.fit(data.preprocess_images(x, flatten=True), y, epochs=2, batch_size=128)
    model.save("mlp.npz"); model = fastnn.load_model("mlp.npz")
"""
from ._version import __version__  # noqa: F401
from . import _openmp_wait
from ._config import (get_num_threads, set_num_threads, threads,  # noqa: F401
                      set_adaptive_threads, thread_info)
from .parameter import Parameter  # noqa: F401

# Runtime setup: the OpenMP runtime reads how long its idle threads spin when it is loaded, i.e.
# by the first compiled kernel imported below; _openmp_wait.openmp_wait_setup bounds that spin
# in time (docs/threads.md).  fastnn._spin, which measures a spin step, is built without OpenMP.
try:
    from ._spin import spin_step_ns as _spin_step_ns
except ImportError:  # built by something other than setup.py: an assumed step time is used
    _spin_step_ns = None
with _openmp_wait.openmp_wait_setup(_spin_step_ns):
    from . import kernels, reference, backend  # noqa: F401
from .kernels import _runtime
from .kernels._runtime import set_simd, get_simd, cpu_simd_levels  # noqa: F401

try:
    from ._build_config import BUILD_CONFIG as _BUILD_CONFIG
except ImportError:  # built by something other than setup.py
    _BUILD_CONFIG = {}


def build_info():
    """What the compiled core was built with and uses now.

    Returns a dict: ``openmp`` (bool, from the compiled extension), ``openmp_version``,
    ``simd`` (the level the kernels run at now: FASTNN_SIMD / ``set_simd``, default the best
    this CPU has), ``cpu_simd`` (every level this CPU can run), ``compiler``, ``compile_args``,
    ``link_args``, ``native`` (FASTNN_NATIVE=1 build), ``num_threads`` (what the next kernel call
    uses), ``threads`` (``thread_info()``: explicit or default, load adaptation), ``openmp_wait``
    (how idle kernel threads wait: FASTNN_SPIN_US, what was applied to the OpenMP runtime and
    why).  Threads and waiting: docs/threads.md.
    """
    return {
        "version": __version__,
        "openmp": _runtime.openmp_enabled(),
        "openmp_version": _runtime.openmp_version(),
        "openmp_probe": _BUILD_CONFIG.get("openmp_reason"),
        "simd": _runtime.get_simd(),
        "cpu_simd": list(_runtime.cpu_simd_levels()),
        "compiler": _BUILD_CONFIG.get("compiler"),
        "compile_args": _BUILD_CONFIG.get("compile_args"),
        "link_args": _BUILD_CONFIG.get("link_args"),
        "native": _BUILD_CONFIG.get("native", False),
        "num_threads": get_num_threads(),
        "threads": thread_info(),
        "openmp_wait": _openmp_wait.openmp_wait_info(),
    }


# The Python layer: imported eagerly so ``fastnn.layers`` etc. work after ``import fastnn``.
from . import (layers, initializers, losses, regularizers, optim, datasets,  # noqa: F401,E402
               callbacks, metrics, data, errors, history, training, saving)
from .models import Sequential, History, load_model  # noqa: F401,E402
from .gradcheck import gradcheck  # noqa: F401,E402
