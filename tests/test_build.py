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
