"""The machine probes (fastnn.kernels._probe, fastnn.benchmarks.probes) and ``fastnn bench
roofline``: the probes count what they did and refuse bad input; the roofline's JSON has its
fields, every number positive and finite; the figure is a PNG.  Short probes, seconds in all;
no timing is asserted."""
import json
import math

import numpy as np
import pytest

import fastnn
from fastnn import cli
from fastnn.benchmarks import cases, probes, roofline
from fastnn.kernels import _probe

_KERNEL_FIELDS = {"kernel", "shape", "impl", "flops", "bytes", "intensity", "seconds", "gflops",
                  "gbs", "bound", "share"}


@pytest.mark.parametrize("level", fastnn.cpu_simd_levels())
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_fma_peak_counts_its_flops(level, threads):
    per_iter = _probe.flops_per_iter(level)
    assert per_iter >= 2 and per_iter % 2 == 0
    assert _probe.fma_peak(level, 7, threads) == 7 * per_iter * threads


def test_wider_levels_do_more_work_per_iteration():
    counts = [_probe.flops_per_iter(level) for level in fastnn.cpu_simd_levels()]
    assert counts == sorted(counts)


def test_fma_peak_rejects_bad_arguments():
    with pytest.raises(ValueError, match="level"):
        _probe.fma_peak("sse9", 10)
    with pytest.raises(ValueError, match="iters"):
        _probe.fma_peak("generic", 0)
    with pytest.raises(ValueError, match="threads"):
        _probe.fma_peak("generic", 10, 0)
    missing = [lv for lv in ("avx2", "avx512") if lv not in fastnn.cpu_simd_levels()]
    for level in missing:
        with pytest.raises(ValueError, match="not supported"):
            _probe.fma_peak(level, 10)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_triad_computes_the_triad(threads):
    rng = np.random.default_rng(0)
    b = rng.standard_normal(1001, dtype=np.float32)
    c = rng.standard_normal(1001, dtype=np.float32)
    a = np.empty_like(b)
    assert _probe.triad(a, b, c, 2.5, threads) == 12 * 1001
    np.testing.assert_array_equal(a, b + np.float32(2.5) * c)


def test_triad_rejects_bad_arrays():
    x = np.ones(8, np.float32)
    with pytest.raises(TypeError, match="a must"):
        _probe.triad(np.ones(8), x, x)
    with pytest.raises(TypeError, match="c must"):
        _probe.triad(np.empty(8, np.float32), x, np.ones(16, np.float32)[::2])
    with pytest.raises(ValueError, match="length"):
        _probe.triad(np.empty(7, np.float32), x, x)
    with pytest.raises(ValueError, match="overlap"):
        _probe.triad(x, np.ones(8, np.float32), x)
    with pytest.raises(ValueError, match="overlap"):
        _probe.triad(x[1:], x[:-1], np.ones(7, np.float32))


def test_triad_in_place():
    a = np.arange(5, dtype=np.float32)
    c = np.ones(5, np.float32)
    assert _probe.triad(a, a, c, 2.0) == 60
    np.testing.assert_array_equal(a, np.arange(5, dtype=np.float32) + 2)
    ro = np.empty(8, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        _probe.triad(ro, np.ones(8, np.float32), np.ones(8, np.float32))


def test_probes_return_positive_finite_rates():
    for level in fastnn.cpu_simd_levels():
        rate = probes.peak_gflops(level, threads=1, seconds=0.005, repeats=1)
        assert math.isfinite(rate) and rate > 0
    for threads in (1, 2):
        rate = probes.peak_gflops("generic", threads, seconds=0.005, repeats=1, clock="cpu")
        assert math.isfinite(rate) and rate > 0
    with pytest.raises(ValueError, match="clock"):
        probes.peak_gflops("generic", clock="tsc")
    bw = probes.bandwidth_gbs(threads=1, elements=1 << 16, repeats=1)
    assert math.isfinite(bw) and bw > 0
    m = probes.machine(1)
    assert m["threads"] == 1 and m["simd"] in m["simd_levels"] and m["cpu"]


def test_every_roofline_case_is_in_the_table_with_counts():
    quick = set(roofline.QUICK_GROUPS.values())
    assert set(roofline.QUICK_GROUPS) <= set(roofline.ROOFLINE_CASES)
    for group in sorted(set(roofline.ROOFLINE_CASES) - set(roofline.QUICK_GROUPS) | quick):
        case = next(c for c in cases.CASES if c.group == group)
        flops, nbytes = roofline.counts(case)
        assert flops > 0 and nbytes > 0


def test_counts_of_a_gemm_are_its_operands():
    case = next(c for c in cases.CASES if c.group == "matmul square 512")
    assert roofline.counts(case) == (2.0 * 512 ** 3, 3 * 4.0 * 512 * 512)


def _check_result(result):
    assert set(result) >= {"machine", "peaks", "bandwidth_gbs", "ridge", "kernels"}
    assert sorted(result["peaks"]) == sorted(fastnn.cpu_simd_levels())
    numbers = list(result["peaks"].values()) + list(result["ridge"].values())
    numbers.append(result["bandwidth_gbs"])
    assert len(result["kernels"]) == 2 * len(roofline.ROOFLINE_CASES)
    for row in result["kernels"]:
        assert set(row) == _KERNEL_FIELDS
        assert row["impl"] in ("fastnn", "numpy-twin") and row["bound"] in ("compute", "memory")
        assert row["intensity"] == pytest.approx(row["flops"] / row["bytes"])
        numbers += [row[k] for k in ("flops", "bytes", "intensity", "seconds", "gflops", "gbs",
                                     "share")]
    assert all(math.isfinite(v) and v > 0 for v in numbers)


def test_cli_bench_roofline_writes_png_and_json(capsys, tmp_path):
    code = cli.main(["bench", "roofline", "--quick", "--threads", "1", "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "roofline.png" in out and "| matmul | square 512 | fastnn |" in out
    result = json.loads((tmp_path / "roofline.json").read_text())
    _check_result(result)
    assert result["machine"]["threads"] == 1
    assert (tmp_path / "roofline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_bench_roofline_rejects_bad_threads(capsys):
    assert cli.main(["bench", "roofline", "--threads", "0"]) == 2
    assert "--threads" in capsys.readouterr().err
