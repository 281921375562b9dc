"""The ladders (fastnn.ladder): every rung against the compiled kernel on small odd shapes,
both transposes, both dtypes; the NumPy rungs' block and tile sizes changed (odd ones, so every
edge is partial); the packing helpers; and the runner behind ``fastnn bench ladder`` (rows,
table, figure, CLI) in quick mode.  Seconds in all; no timing is asserted."""
import json

import numpy as np
import pytest

import fastnn
from fastnn import cli, kernels
from fastnn.benchmarks import ladder as ladder_bench
from fastnn.ladder import conv as conv_ladder
from fastnn.ladder import gemm as gemm_ladder

_RUNNABLE = [r for r in gemm_ladder.RUNGS if r.skip_reason() is None]


def _operands(rng, m, k, n, trans_a, trans_b, dtype):
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    return a, b


def _tol(dtype, k):
    return dict(rtol=1e-4, atol=1e-5 * k) if dtype == np.float32 else dict(rtol=1e-10,
                                                                           atol=1e-12 * k)


@pytest.mark.parametrize("rung", _RUNNABLE, ids=lambda r: "%d-%s" % (r.number, r.name))
@pytest.mark.parametrize("trans_a, trans_b", [(False, False), (True, False), (False, True),
                                              (True, True)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_rung_matches_the_compiled_matmul(rung, trans_a, trans_b, dtype):
    rng = np.random.default_rng(rung.number)
    for m, k, n in [(1, 1, 1), (7, 13, 5), (13, 29, 19)]:
        a, b = _operands(rng, m, k, n, trans_a, trans_b, dtype)
        expected = kernels.matmul(a, b, trans_a, trans_b)
        got = rung.fn(a, b, trans_a, trans_b)
        assert got.shape == (m, n) and got.dtype == dtype
        np.testing.assert_allclose(got, expected, **_tol(dtype, k))


@pytest.mark.parametrize("rung", _RUNNABLE, ids=lambda r: "%d-%s" % (r.number, r.name))
def test_gemm_rung_writes_into_out(rung):
    rng = np.random.default_rng(1)
    a, b = _operands(rng, 5, 11, 9, False, False, np.float32)
    out = np.full((5, 9), np.nan, np.float32)
    assert rung.fn(a, b, out=out) is out
    np.testing.assert_allclose(out, kernels.matmul(a, b), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("fn", [gemm_ladder.blocked, gemm_ladder.packed, gemm_ladder.micro_kernel])
def test_gemm_rung_block_sizes_change_nothing_but_speed(fn):
    rng = np.random.default_rng(2)
    a, b = _operands(rng, 23, 31, 37, False, False, np.float64)
    expected = kernels.matmul(a, b)
    for blocks in [dict(mc=5, kc=7, nc=9), dict(mc=1, kc=1, nc=1), dict(mc=100, kc=100, nc=100)]:
        if fn is not gemm_ladder.blocked:
            blocks.update(mr=3, nr=5)
        np.testing.assert_allclose(fn(a, b, **blocks), expected, rtol=1e-10, atol=1e-10)


def test_packing_layout_and_zero_padding():
    block = np.arange(5 * 4, dtype=np.float32).reshape(5, 4)        # (mc, kc)
    panels = gemm_ladder.pack_a(block, mr=3)
    assert panels.shape == (2, 4, 3)
    np.testing.assert_array_equal(panels[0], block[:3].T)
    np.testing.assert_array_equal(panels[1][:, :2], block[3:].T)
    assert not panels[1][:, 2].any()
    bblock = np.arange(4 * 7, dtype=np.float32).reshape(4, 7)       # (kc, nc)
    bpanels = gemm_ladder.pack_b(bblock, nr=4)
    assert bpanels.shape == (2, 4, 4)
    np.testing.assert_array_equal(bpanels[1][:, :3], bblock[:, 4:])
    assert not bpanels[1][:, 3].any()


def test_gemm_rungs_check_arguments_as_matmul_does():
    a = np.ones((3, 4), np.float32)
    for rung in _RUNNABLE:
        with pytest.raises(ValueError):
            rung.fn(a, np.ones((5, 2), np.float32))
        with pytest.raises((TypeError, ValueError)):
            rung.fn(a, np.ones((4, 2), np.float64))


def test_compiled_rungs_restore_simd_and_threads():
    before = (fastnn.get_simd(), fastnn.thread_info()["explicit"])
    a = np.ones((4, 4), np.float32)
    for rung in _RUNNABLE:
        rung.fn(a, a)
    assert (fastnn.get_simd(), fastnn.thread_info()["explicit"]) == before


def test_rung_table_covers_every_level_and_skips_with_a_reason():
    assert [r.number for r in gemm_ladder.RUNGS] == list(range(1, 10))
    levels = [r.level for r in gemm_ladder.RUNGS if r.compiled]
    assert levels == ["generic", "avx2", "avx512", "auto"]
    for rung in gemm_ladder.RUNGS:
        reason = rung.skip_reason()
        if rung.level in ("generic", "auto", None) or rung.level in fastnn.cpu_simd_levels():
            assert reason is None
        else:
            assert rung.level in reason


def test_compiled_blocking_is_none_or_the_gemm_config():
    config = gemm_ladder.compiled_blocking()
    if hasattr(kernels, "gemm_config"):
        assert {"mr", "nr", "mc", "kc", "nc"} <= set(config)
    else:
        assert config is None


@pytest.mark.parametrize("rung", conv_ladder.RUNGS, ids=lambda r: "%d-%s" % (r.number, r.name))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_rung_matches_the_compiled_convolution(rung, dtype):
    rng = np.random.default_rng(rung.number)
    for (n, c, h, w, oc, kh, kw, stride, pad, act, bias) in [
            (1, 1, 5, 5, 1, 3, 3, 1, 0, None, True),
            (2, 3, 7, 6, 4, 3, 2, (2, 1), (1, 0), "relu", True),
            (1, 2, 9, 5, 3, 1, 4, 2, 2, "tanh", False)]:
        x = rng.standard_normal((n, c, h, w)).astype(dtype)
        wt = rng.standard_normal((oc, c, kh, kw)).astype(dtype)
        b = rng.standard_normal(oc).astype(dtype) if bias else None
        expected = kernels.conv2d_forward(x, wt, b, stride, pad, act)
        got = rung.fn(x, wt, b, stride, pad, act)
        assert got.shape == expected.shape and got.dtype == dtype
        np.testing.assert_allclose(got, expected, **_tol(dtype, c * kh * kw))


def test_conv_flops_count():
    # 2 * N * OC * OH * OW * C * kh * kw with OH = OW = 14 (padding 1)
    assert conv_ladder.flops((2, 3, 14, 14), (5, 3, 3, 3), 1, 1) == 2 * 2 * 5 * 14 * 14 * 3 * 9


def test_gemm_rows_quick():
    rows = ladder_bench.gemm_rows(quick=True, repeats=1)
    assert [r["rung"] for r in rows] == list(range(1, 10))
    for r in rows:
        if r["skipped"] is None:
            assert np.isfinite(r["gflops"]) and r["gflops"] > 0
            assert r["seconds"] > 0 and r["flops"] == 2.0 * r["shape"][0] ** 3
        else:
            assert r["gflops"] is None and r["seconds"] is None
    ran = [r for r in rows if r["gflops"] is not None]
    assert ran[0]["speedup"] is None
    assert all(r["speedup"] > 0 for r in ran[1:])
    assert rows[3]["mr"] == gemm_ladder.MR and rows[2]["mc"] == gemm_ladder.MC
    lines = ladder_bench.table(rows)
    assert len(lines) == 2 + len(rows) and "loops" in lines[2]
    assert json.loads(json.dumps(rows)) == rows


def test_conv_rows_quick_and_figure(tmp_path):
    rows = ladder_bench.conv_rows(quick=True, repeats=1)
    assert [r["name"] for r in rows] == [r.name for r in conv_ladder.RUNGS]
    assert all(np.isfinite(r["gflops"]) and r["gflops"] > 0 for r in rows)
    path = tmp_path / "fig.png"
    ladder_bench.draw(rows, "conv", str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_bench_ladder_json_and_out(capsys, tmp_path):
    code = cli.main(["bench", "ladder", "conv", "--quick", "--json", "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 0, err
    rows = json.loads(out)
    assert [r["rung"] for r in rows] == [1, 2, 3, 4, 5]
    assert all(r["gflops"] > 0 for r in rows)
    assert json.loads((tmp_path / "ladder_conv.json").read_text()) == rows
    assert (tmp_path / "ladder_conv.png").read_bytes()[:4] == b"\x89PNG"


def test_cli_bench_ladder_table(capsys):
    code = cli.main(["bench", "ladder", "gemm", "--quick"])
    out, _ = capsys.readouterr()
    assert code == 0
    for rung in gemm_ladder.RUNGS:
        assert "| %d | %s |" % (rung.number, rung.name) in out


def test_cli_bench_ladder_rejects_an_unknown_kernel(capsys):
    assert cli.main(["bench", "ladder", "pool"]) == 2
    assert "invalid choice" in capsys.readouterr().err
