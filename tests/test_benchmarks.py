"""fastnn.benchmarks: the timing functions on a fake clock (no time is asserted), and the table
of cases: well formed, and for the quick cases (those ``fastnn bench`` runs) the fastnn and
twin steps compute the same thing."""
import numpy as np
import pytest

from fastnn.benchmarks import cases, timing


class FakeClock:
    """perf_counter / process_time / sleep that only move when told: each call of the timed
    function costs ``cost`` seconds, a sleep its argument."""

    def __init__(self, monkeypatch):
        self.now = 0.0
        self.events = []
        monkeypatch.setattr(timing.time, "perf_counter", lambda: self.now)
        monkeypatch.setattr(timing.time, "process_time", lambda: self.now)
        monkeypatch.setattr(timing.time, "sleep", self.sleep)

    def sleep(self, seconds):
        self.events.append("sleep")
        self.now += seconds

    def fn(self, name, cost):
        def call():
            self.events.append(name)
            self.now += cost
        return call


def test_calls_per_sample_quadruples_until_the_sample_is_long_enough(monkeypatch):
    clock = FakeClock(monkeypatch)
    number, seconds = timing.calls_per_sample(clock.fn("f", 1e-3), min_seconds=5e-3)
    assert number == 16 and seconds == pytest.approx(16e-3)
    assert len(clock.events) == 1 + 4 + 16
    # a call long enough on its own is timed once per sample
    assert timing.calls_per_sample(clock.fn("g", 0.1))[0] == 1


def test_time_call_is_the_per_call_median(monkeypatch):
    clock = FakeClock(monkeypatch)
    costs = iter([2e-3] * 1000)
    calls = []

    def fn():
        calls.append(1)
        clock.now += next(costs)
    assert timing.time_call(fn, repeats=5) == pytest.approx(2e-3)
    # warm-up 1, calibration 1 + 4, then 4 more samples of 4 calls
    assert len(calls) == 1 + 1 + 4 + 4 * 4


def test_alternate_interleaves_with_pauses(monkeypatch):
    clock = FakeClock(monkeypatch)
    a, b = timing.alternate(clock.fn("a", 0.2), clock.fn("b", 0.1), blocks=3, pause=1.0)
    # warm-up and calibration of each, then a, b, a, b, a, b with a pause before each block
    assert clock.events[:4] == ["a", "b", "a", "b"]
    assert clock.events[4:] == ["sleep", "a", "sleep", "b"] * 3
    assert a.wall == pytest.approx([0.2] * 3) and b.wall == pytest.approx([0.1] * 3)
    assert a.median == pytest.approx(0.2) and b.cpu_median == pytest.approx(0.1)


@pytest.mark.parametrize("seconds, digits, text", [
    (2.5, 2, "2.50 s"), (0.0123, 2, "12.30 ms"), (0.0123, 3, "12.300 ms"), (4.2e-6, 2, "4.2 us"),
])
def test_format_seconds(seconds, digits, text):
    assert timing.format_seconds(seconds, digits) == text


def test_the_table_is_well_formed():
    groups = [c.group for c in cases.CASES]
    assert len(groups) == len(set(groups))
    assert {c.suite for c in cases.CASES} == {"gemm", "conv", "pool", "activations", "optim",
                                              "rows"}
    for c in cases.CASES:
        assert (c.flops is None) != (c.bytes is None), c   # one throughput measure each
        assert cases.suite(c.suite).count(c) == 1
    assert set(cases.quick()) <= set(cases.CASES) and cases.quick()
    with pytest.raises(ValueError, match="unknown suite 'nope'"):
        cases.suite("nope")
    with pytest.raises(ValueError, match="impl must be one of"):
        cases.CASES[0].step("numpy")


def test_no_torch_means_no_torch_step(monkeypatch):
    monkeypatch.setattr(cases, "torch_module", lambda: None)
    assert all(c.step("torch") is None for c in cases.quick())


def _arrays(result):
    """The arrays a step returned (nested tuples flattened), or [] for an in-place update."""
    if result is None:
        return []
    if isinstance(result, tuple):
        return [a for r in result for a in _arrays(r)]
    return [np.asarray(result)]


@pytest.mark.parametrize("case", cases.quick(), ids=str)
def test_quick_case_fastnn_and_twin_agree(case):
    ours, twin = case.step("fastnn"), case.step("numpy-twin")
    got, want = _arrays(ours()), _arrays(twin())
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=2e-4, atol=2e-4)
    for _ in range(2):        # a step may be called again (state carries over, as in training)
        ours(), twin()


@pytest.mark.parametrize("trans_a,trans_b", [(False, False), (True, False), (False, True)])
def test_matmul_steps_compute_one_product_both_ways(trans_a, trans_b):
    fast, peer = cases.matmul_steps(7, 13, 5, trans_a, trans_b)
    got, want = fast(), peer()
    assert got.shape == want.shape == (7, 5)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert got is fast() and want is peer()     # the same preallocated outputs on every call
