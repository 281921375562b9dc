"""The installed package is the compiled one, built with OpenMP, and threads are configurable."""
import os

import pytest

import fastnn


def test_tested_package_is_installed_not_source_tree():
    # The compiled extension must be importable from where fastnn was imported.
    from fastnn.kernels import _runtime
    assert _runtime.__file__.endswith((".so", ".pyd")), _runtime.__file__


def test_build_info_reports_openmp():
    info = fastnn.build_info()
    for key in ("openmp", "simd", "compiler", "compile_args", "num_threads"):
        assert key in info
    assert "-ffast-math" not in (info["compile_args"] or [])
    if os.environ.get("FASTNN_NO_OPENMP", "") not in ("1", "true"):
        # A normal build on this platform must have found OpenMP.
        assert info["openmp"] is True, info


def test_set_num_threads_roundtrip_and_validation():
    saved = fastnn.get_num_threads()
    try:
        fastnn.set_num_threads(1)
        assert fastnn.get_num_threads() == 1
        with pytest.raises(ValueError, match="num_threads"):
            fastnn.set_num_threads(0)
        with pytest.raises(TypeError, match="num_threads"):
            fastnn.set_num_threads(1.5)
    finally:
        fastnn.set_num_threads(saved)


def test_env_sets_default_threads(run_child):
    code = "import fastnn; print(fastnn.get_num_threads())"
    out = run_child(code, env_extra={"FASTNN_NUM_THREADS": "3", "OMP_NUM_THREADS": "5"})
    assert out.stdout.strip() == "3", out.stderr
    env = {k: v for k, v in os.environ.items() if k != "FASTNN_NUM_THREADS"}
    out = run_child(code, env_extra={"OMP_NUM_THREADS": "5"}, env=env)
    assert out.stdout.strip() == "5", out.stderr


def test_every_twin_has_a_compiled_kernel_with_the_same_signature():
    import inspect

    from fastnn import kernels, reference
    names = [n for n in dir(reference) if not n.startswith("_")
             and callable(getattr(reference, n))
             and getattr(getattr(reference, n), "__module__", "").startswith("fastnn.reference")]
    assert len(names) >= 25, names          # matmul .. optimizer updates: the whole set
    for name in names:
        assert hasattr(kernels, name), "fastnn.kernels lacks %s" % name
        assert str(inspect.signature(getattr(kernels, name))) == \
            str(inspect.signature(getattr(reference, name))), name
        assert getattr(kernels, name).__module__.startswith("fastnn.kernels"), name


def test_kernels_cap_their_threads_to_the_work(run_child):
    """With the most threads fastnn allows, kernels given one unit of work per parallel loop (one
    image, one channel, a 1 x 1 kernel, a tiny product) must not start an OpenMP thread pool:
    those threads could not be used (and absurd counts used to crash).  libgomp keeps its
    threads alive after a parallel region, so the process's thread count before and after shows
    whether any were started."""
    code = """
        import os, sys
        if not os.path.isdir("/proc/self/task"):
            print("skip"); sys.exit(0)
        import numpy as np, fastnn
        from fastnn import kernels as K
        from fastnn._config import max_threads
        fastnn.set_num_threads(max_threads())
        x = np.ones((1, 1, 2, 2), np.float32); w = np.ones((1, 1, 1, 1), np.float32)
        before = len(os.listdir("/proc/self/task"))
        K.matmul(np.ones((3, 4), np.float32), np.ones((4, 5), np.float32))
        y = K.conv2d_forward(x, w, np.zeros(1, np.float32), 1, 0)
        K.conv2d_backward(np.ones_like(y), x, w, 1, 0)
        K.col2im(K.im2col(x, 1, 1, 1, 0), x.shape, 1, 1, 1, 0)
        p, am = K.maxpool2d_forward(x, 2)
        K.maxpool2d_backward(p, am, x.shape)
        print(before, len(os.listdir("/proc/self/task")))
    """
    res = run_child(code, timeout=120)
    assert res.returncode == 0, res.stderr
    if res.stdout.strip() == "skip":
        pytest.skip("no /proc/self/task on this platform")
    before, after = map(int, res.stdout.split())
    assert after == before, (before, after)
