"""Dropout's counter-based generator: the definition (SplitMix64 of (seed, counter)), its
statistics in simple tests, and the Dropout layer's (seed, counter) state.

Twin parity, layouts, out=, threads and hostile inputs of ``dropout_forward_rng`` and
``splitmix64`` are in the kernel table (tests/kernel_cases/activations.py)."""
import numpy as np
import pytest

import fastnn
from fastnn import backend, kernels, layers as L, reference
from fastnn.contracts import activations as contract

IMPLS = [kernels, reference]
MASK64 = 2 ** 64 - 1


def splitmix64_python(seed, j):
    """The (j+1)-th output of SplitMix64 seeded with ``seed``, in Python ints (Steele, Lea &
    Flood 2014; Vigna's splitmix64.c)."""
    z = (seed + (j + 1) * 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


# --------------------------------------------------------------------------- the definition
@pytest.mark.parametrize("impl", IMPLS, ids=["compiled", "twin"])
def test_splitmix64_gives_the_published_outputs(impl):
    # the first five outputs of SplitMix64 seeded with 1234567 (Rosetta Code, "Pseudo-random
    # numbers/Splitmix64") and the first output for seed 0
    assert impl.splitmix64(1234567, 0, 5).tolist() == [
        6457827717110365317, 3203168211198807973, 9817491932198370423, 4593380528125082431,
        16408922859458223821]
    assert int(impl.splitmix64(0, 0, 1)[0]) == 0xE220A8397B1DCDAF
    assert impl.splitmix64(7, 3, 0).shape == (0,)


@pytest.mark.parametrize("impl", IMPLS, ids=["compiled", "twin"])
def test_mask_is_the_documented_function_of_seed_counter_and_index(impl):
    seed, counter, rate = 2 ** 63 + 12345, 2 ** 40 + 3, 0.3
    x = np.arange(1, 16, dtype=np.float64).reshape(3, 5)       # odd size: one half unused
    y, mask = impl.dropout_forward_rng(x, rate, seed, counter)
    threshold = contract.keep_threshold(rate)
    assert threshold == round(0.3 * 2 ** 32)
    want = []
    for i in range(x.size):
        z = splitmix64_python(seed, counter + i // 2)
        bits = (z >> 32) if i % 2 else (z & 0xFFFFFFFF)
        want.append(bits >= threshold)
    assert mask.dtype == np.bool_ and mask.ravel().tolist() == want
    np.testing.assert_array_equal(y, np.where(mask, x * (1 / (1 - rate)), 0.0))


def test_rate_zero_keeps_everything_and_the_threshold_is_bounded():
    x = np.ones(1000, np.float32)
    for impl in IMPLS:
        y, mask = impl.dropout_forward_rng(x, 0.0, 3, 0)
        assert mask.all() and np.array_equal(y, x)
    assert contract.keep_threshold(1 - 2 ** -40) == 2 ** 32 - 1     # never 2**32
    assert contract.draws(7) == 4 and contract.draws(8) == 4


def test_dropped_elements_are_zero_whatever_x_holds():
    x = np.array([np.nan, np.inf, -np.inf, -0.0, 1.0, np.nan] * 50, np.float32)
    for impl in IMPLS:
        y, mask = impl.dropout_forward_rng(x, 0.5, 11, 0)
        assert not mask.all() and mask.any()
        dropped = y[~mask]
        assert np.all(dropped == 0) and not np.signbit(dropped).any()
        np.testing.assert_array_equal(y[mask], x[mask] * np.float32(2.0))


# --------------------------------------------------------------------------- statistics
# Simple tests, each at 5 standard deviations (a false alarm about once in 1.7 million runs per
# check; the seeds are fixed, so the outcome is deterministic).  They catch a broken generator
# (a wrong constant, a shift, two elements sharing bits) -- not subtle statistical defects,
# which is what the generator's published test results (docs/kernels/activations.md) are for.
N = 1 << 20


@pytest.mark.parametrize("rate", [0.1, 0.2, 0.5, 0.9])
def test_keep_frequency_is_within_binomial_bounds(rate):
    x = np.ones(N, np.float32)
    p = 1 - contract.keep_threshold(rate) / 2 ** 32
    for seed in (0, 1, 2 ** 64 - 1):
        _, mask = kernels.dropout_forward_rng(x, rate, seed, 0)
        kept = int(mask.sum())
        assert abs(kept - N * p) < 5 * np.sqrt(N * p * (1 - p)), (seed, kept)
        # either half of the draws alone (the low and the high 32 bits)
        for half in (mask[0::2], mask[1::2]):
            n = half.size
            assert abs(int(half.sum()) - n * p) < 5 * np.sqrt(n * p * (1 - p))


def _correlation(a, b):
    a = a.astype(np.float64) - a.mean()
    b = b.astype(np.float64) - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def test_neighbouring_elements_and_consecutive_calls_are_not_correlated():
    bound = 5 / np.sqrt(N)                 # 5 standard errors of a correlation coefficient
    x = np.ones(N, np.float32)
    _, m = kernels.dropout_forward_rng(x, 0.5, 42, 0)
    # neighbours: lag 1 pairs the low and high halves of one draw (even i) and of two draws
    for lag in (1, 2, 3, 64, 8192):
        assert abs(_correlation(m[:-lag], m[lag:])) < bound, lag
    pairs = m[0::2].astype(np.int64) * 2 + m[1::2]               # the two halves of each draw
    counts = np.bincount(pairs, minlength=4)
    e = pairs.size / 4
    assert ((counts - e) ** 2 / e).sum() < 25.0      # chi-square, 3 d.o.f.; p ~ 3e-5
    # consecutive calls of one layer (the counter advanced) and neighbouring seeds
    layer = L.Dropout(0.5, seed=42)
    a = layer.forward(x[None, :], training=True) != 0
    b = layer.forward(x[None, :], training=True) != 0
    assert layer.counter == 2 * contract.draws(N)
    np.testing.assert_array_equal(a[0], m)
    assert abs(_correlation(a, b)) < bound
    _, other = kernels.dropout_forward_rng(x, 0.5, 43, 0)
    assert abs(_correlation(m, other)) < bound


# --------------------------------------------------------------------------- the layer's state
def test_layer_state_is_seed_and_counter_and_the_config_resumes_the_stream(rng):
    x = rng.standard_normal((6, 9)).astype(np.float32)
    a = L.Dropout(0.3, seed=2 ** 64 - 2)
    first = a.forward(x, training=True)
    assert (a.seed, a.counter) == (2 ** 64 - 2, contract.draws(x.size))
    # a layer rebuilt from the config continues where a stopped: the same next masks
    b = L.Dropout.from_config(a.get_config())
    assert (b.seed, b.counter) == (a.seed, a.counter)
    np.testing.assert_array_equal(a.forward(x, training=True), b.forward(x, training=True))
    assert not np.array_equal(a.forward(x, training=True), first)
    # a given mask, inference and rate 0 draw nothing
    before = a.counter
    a.forward(x, training=True, mask=np.ones(x.shape, bool))
    a.forward(x, training=False)
    L.Dropout(0.0, seed=1).forward(x, training=True)
    assert a.counter == before


def test_seed_forms():
    x = np.ones((4, 4))
    g1, g2 = (L.Dropout(0.5, seed=np.random.default_rng(9)) for _ in range(2))
    assert g1.seed == g2.seed == int(np.random.default_rng(9).integers(0, 2 ** 64,
                                                                       dtype=np.uint64))
    np.testing.assert_array_equal(g1.forward(x, training=True), g2.forward(x, training=True))
    fresh = {L.Dropout(0.5).seed for _ in range(4)}          # None: fresh entropy each time
    assert len(fresh) == 4 and all(0 <= s < 2 ** 64 for s in fresh)
    for bad, exc in [(-1, ValueError), (2 ** 64, ValueError), (1.5, TypeError),
                     ("1", TypeError), (True, TypeError)]:
        with pytest.raises(exc, match="seed"):
            L.Dropout(0.5, seed=bad)
    with pytest.raises(ValueError, match="counter"):
        L.Dropout.from_config({"rate": 0.5, "seed": 1, "counter": -1})


def test_same_masks_at_any_thread_count_and_on_either_backend():
    x = np.ones((300, 1000), np.float32)          # 300 000 elements: split across threads
    outs = []
    for threads in (1, 2, 3):
        with fastnn.threads(threads):
            outs.append(L.Dropout(0.2, seed=5).forward(x, training=True))
    with backend.use("reference"):
        outs.append(L.Dropout(0.2, seed=5).forward(x, training=True))
    for y in outs[1:]:
        np.testing.assert_array_equal(y, outs[0])


def test_a_generator_state_from_an_older_checkpoint_rekeys_the_layer():
    # checkpoints written before the counter-based generator restore a numpy Generator into
    # layer.rng (fastnn.saving): the layer takes its key from it and starts its counter at 0
    layer = L.Dropout(0.5, seed=1)
    layer.forward(np.ones((3, 3)), training=True)
    layer.rng = np.random.default_rng(77)
    assert layer.seed == int(np.random.default_rng(77).integers(0, 2 ** 64, dtype=np.uint64))
    assert layer.counter == 0 and layer.rng is None
    with pytest.raises(TypeError, match="rng"):
        layer.rng = 5
