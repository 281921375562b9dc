"""Kernel tests generated from the table in tests/kernel_cases/ (torch's OpInfo idea).

For every entry of ``kernel_cases.CASES`` (one per public kernel, or per variant):

* twin parity: on the seeded samples, at every SIMD level this CPU has, the compiled kernel
  matches its NumPy twin as the table says (bit for bit, or within its tolerance), every output
  and, for in-place kernels, every updated array; ``out=`` is returned as the result; every
  array returned is C-contiguous;
* memory layouts: F-ordered, sliced, reversed and read-only inputs give the C-ordered
  result's bits (kernels that take any layout);
* out=: a result written into out= (or in place) has the bits of a fresh result;
* threads: 1, 2 and 3 threads give identical bits on an input large enough to be split;
* equivalent calls: where the table gives one (a multi-tensor kernel against its single-tensor
  kernel on each tensor), the same bits at every SIMD level;
* hostile inputs: the compiled kernel and the twin both raise the table's exception, with a
  message naming the argument; and, in ONE child process, every hostile input of the table
  goes through the compiled kernels without killing the interpreter.

What is specific to a family (ties and NaN rules, torch cross-checks, numeric gradients,
accuracy bounds) stays in the family's own test file.
"""
import copy
import re

import numpy as np
import pytest

import fastnn
import kernel_cases as kc
from fastnn import kernels, reference
from fnn_testutil import assert_raise_in_child, layout, same_bits, simd

LAYOUTS = ("F", "sliced", "reversed", "readonly")
SIMD_LEVELS = ("generic", "avx2", "avx512")      # the level names of fastnn.set_simd
IMPLS = {"compiled": kernels, "twin": reference}
# the kernels whose samples pass out= (every kernel with an out= parameter has such samples)
_KERNELS_WITH_OUT = {c.name for c in kc.CASES
                     if any("out" in s.kwargs for s in c.samples(kc.F64))}


def _guard(case):
    reason = kc.missing(case)
    if reason:
        pytest.skip(reason)


def _spread(values):
    """``values`` with each list or tuple replaced by its entries (the arrays of a multi-tensor
    kernel's list arguments)."""
    out = []
    for v in values:
        out += list(v) if isinstance(v, (list, tuple)) else [v]
    return out


def _outputs(case, result, args, kwargs):
    """What a call produced: the arrays updated in place (a list of arrays is spread), then the
    result (a tuple or list is spread)."""
    if kwargs.get("out") is not None:
        assert result is kwargs["out"], "%s(out=...) did not return out" % case.id
    outs = _spread(args[i] for i in case.updates)
    if isinstance(result, (tuple, list)):
        outs += list(result)
    elif not (case.updates and result is None):
        outs.append(result)
    return outs


def _run(module, case, sample, fresh=True):
    """Call ``case``'s kernel from ``module`` on a deep copy of the sample (so in-place kernels
    and out= never touch the table's arrays, and aliasing such as out=x is kept) and return
    its outputs.  ``fresh=False`` passes the sample's own arrays (their layout kept)."""
    args, kwargs = (copy.deepcopy((sample.args, sample.kwargs)) if fresh
                    else (sample.args, sample.kwargs))
    result = getattr(module, case.name)(*args, **kwargs)
    return _outputs(case, result, args, kwargs)


def _mismatch(got, want, spec, dtype, args):
    """None when ``got`` matches ``want`` as ``spec`` says (``args``: the call's positional
    arguments, for a tolerance scaled by an input), else a description."""
    if want is None or isinstance(want, (bool, int, str)):
        return None if got == want else "got %r, want %r" % (got, want)
    if isinstance(want, float):
        if not isinstance(got, float):
            return "got %s, want a Python float" % type(got).__name__
        got, want = np.array([got]), np.array([want])
    else:
        if not isinstance(got, np.ndarray):
            return "got %s, want an array" % type(got).__name__
        if got.dtype != want.dtype or got.shape != want.shape:
            return "got %s %s, want %s %s" % (got.dtype, got.shape, want.dtype, want.shape)
    if spec is kc.EXACT:
        if same_bits(got, want):
            return None
        diff = got != want
        if got.dtype.kind == "f":
            diff &= ~(np.isnan(got) & np.isnan(want))
        where = np.flatnonzero(diff)
        if not len(where):
            return "not bit-identical: the sign of a zero, or a NaN payload"
        i = where[0]
        return "not bit-identical: %d of %d elements differ, first at flat index %d: %r vs %r" % (
            len(where), got.size, i, got.ravel()[i], want.ravel()[i])
    g, w = got.astype(np.float64), want.astype(np.float64)
    if not np.array_equal(np.isnan(g), np.isnan(w)):
        return "NaN in different places"
    finite = np.isfinite(w)
    if not np.array_equal(g[~finite & ~np.isnan(w)], w[~finite & ~np.isnan(w)]):
        return "infinities differ"
    if not finite.any():
        return None
    eps = float(np.finfo(dtype).eps)
    scale = float(np.abs(w[finite]).max()) if spec.scale is None else spec.scale(args)
    tol = eps * (spec.rel * np.abs(w[finite]) + spec.norm * scale)
    err = np.abs(g[finite] - w[finite])
    if np.all(err <= tol):
        return None
    k = int(np.argmax(err - tol))
    return "%d of %d elements outside %s; worst %r vs %r (error %.3g eps*%s)" % (
        (err > tol).sum(), err.size, spec, g[finite][k], w[finite][k],
        err[k] / (eps * scale) if scale else np.inf, spec.scale_text)


# --------------------------------------------------------------------------- the table itself
def test_table_lists_every_public_kernel():
    """Every public callable of fastnn.reference (= the kernel API) has an entry, every entry's
    kernel exists in both modules (unless guarded), and labels are unique."""
    public = {n for n in dir(reference) if not n.startswith("_")
              and callable(getattr(reference, n)) and not isinstance(getattr(reference, n), type)}
    names = {c.name for c in kc.CASES}
    assert public <= names, "kernels without a table entry: %s" % sorted(public - names)
    for case in kc.CASES:
        if not case.requires:
            assert hasattr(kernels, case.name) and hasattr(reference, case.name), case.id
        assert set(case.compare) == set(kc.DTYPES), case.id
    assert len({c.id for c in kc.CASES}) == len(kc.CASES)
    for case in kc.CASES:
        labels = [h.label for h in case.hostile()]
        assert len(set(labels)) == len(labels), (case.id, sorted(
            lab for lab in labels if labels.count(lab) > 1))
        assert case.hostile(), case.id
        for dtype in kc.DTYPES:
            samples = case.samples(dtype)
            assert samples and all(isinstance(s, kc.Args) for s in samples), case.id


# --------------------------------------------------------------------------- twin parity
@pytest.mark.parametrize("level", SIMD_LEVELS)
@pytest.mark.parametrize("dtype", kc.DTYPES, ids=str)
@pytest.mark.parametrize("case", kc.CASES, ids=lambda c: c.id)
def test_matches_twin(case, dtype, level):
    """Every sample, at SIMD ``level``: the compiled kernel's outputs against the twin's."""
    _guard(case)
    if level not in fastnn.cpu_simd_levels():
        pytest.skip("this CPU cannot run %s" % level)
    spec = case.compare[dtype]
    problems = []
    for sample in case.samples(dtype):
        want = _run(reference, case, sample)
        with simd(level):
            got = _run(kernels, case, sample)
        assert len(got) == len(want), sample.label
        for k, (g, w) in enumerate(zip(got, want)):
            why = _mismatch(g, w, spec, dtype, sample.args)
            if why is None and isinstance(g, np.ndarray) and not g.flags.c_contiguous:
                why = "not C-contiguous"
            if why:
                problems.append("%s, output %d: %s" % (sample.label, k, why))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("level", SIMD_LEVELS)
@pytest.mark.parametrize("dtype", kc.DTYPES, ids=str)
@pytest.mark.parametrize("case", [c for c in kc.CASES if c.equivalent], ids=lambda c: c.id)
def test_matches_its_equivalent_call(case, dtype, level):
    """Every sample and the big one (its work split over 3 threads), at SIMD ``level``: the
    compiled kernel gives the bits of the same call made another way with the compiled module's
    other kernels (the table's ``equivalent``)."""
    _guard(case)
    if level not in fastnn.cpu_simd_levels():
        pytest.skip("this CPU cannot run %s" % level)
    problems = []
    for sample in case.samples(dtype) + [case.big(dtype)]:
        args, kwargs = copy.deepcopy((sample.args, sample.kwargs))
        with simd(level), fastnn.threads(3):
            got = _run(kernels, case, sample)
            want = _outputs(case, case.equivalent(kernels, args, kwargs), args, kwargs)
        assert len(got) == len(want), sample.label
        for k, (g, w) in enumerate(zip(got, want)):
            why = _mismatch(g, w, kc.EXACT, dtype, sample.args)
            if why:
                problems.append("%s, output %d: %s" % (sample.label, k, why))
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- memory layouts
def _in_layout(sample, kind):
    """The sample with every array argument (out= aside) copied into layout ``kind``."""
    def conv(v):
        return layout(v, kind) if isinstance(v, np.ndarray) else copy.deepcopy(v)
    return kc.Args(sample.label, tuple(conv(a) for a in sample.args),
                   {k: conv(v) for k, v in sample.kwargs.items()})


@pytest.mark.parametrize("dtype", kc.DTYPES, ids=str)
@pytest.mark.parametrize("case", [c for c in kc.CASES if c.any_layout], ids=lambda c: c.id)
def test_any_input_layout_gives_the_same_bits(case, dtype):
    _guard(case)
    problems = []
    for sample in case.samples(dtype):
        if "out" in sample.kwargs:
            continue                              # out= must be C-contiguous: not a layout
        base = _run(kernels, case, sample)
        for kind in LAYOUTS:
            got = _run(kernels, case, _in_layout(sample, kind), fresh=False)
            for k, (g, b) in enumerate(zip(got, base)):
                if not same_bits(g, b):
                    problems.append("%s, %s layout, output %d differs" % (sample.label, kind, k))
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- out=
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dtype", kc.DTYPES, ids=str)
@pytest.mark.parametrize("case", [c for c in kc.CASES if c.name in _KERNELS_WITH_OUT],
                         ids=lambda c: c.id)
def test_out_gives_the_bits_of_a_fresh_result(case, dtype, impl):
    """out= an array full of NaN, or out= an input (in place): the result is out, and has the
    bits the same call without out= returns (out is written, never read)."""
    _guard(case)
    module = IMPLS[impl]
    for sample in case.samples(dtype):
        if sample.kwargs.get("out") is None:
            continue
        fresh = kc.Args(sample.label, sample.args,
                        {k: v for k, v in sample.kwargs.items() if k != "out"})
        for k, (g, w) in enumerate(zip(_run(module, case, sample), _run(module, case, fresh))):
            assert same_bits(g, w), "%s: output %d differs from a fresh result" % (
                sample.label, k)


# --------------------------------------------------------------------------- threads
@pytest.mark.parametrize("dtype", kc.DTYPES, ids=str)
@pytest.mark.parametrize("case", kc.CASES, ids=lambda c: c.id)
def test_bit_identical_at_1_2_3_threads(case, dtype):
    _guard(case)
    sample = case.big(dtype)
    runs = []
    for n in (1, 2, 3):
        with fastnn.threads(n):
            runs.append(_run(kernels, case, sample))
    for n, other in zip((2, 3), runs[1:]):
        for k, (a, b) in enumerate(zip(runs[0], other)):
            assert same_bits(a, b), "%s: output %d at %d threads differs from 1 thread" % (
                sample.label, k, n)


# --------------------------------------------------------------------------- hostile inputs
def _hostile_params():
    params = []
    for case in kc.CASES:
        for i, h in enumerate(case.hostile()):
            for impl in IMPLS:
                marks = ([pytest.mark.xfail(strict=True, reason=h.xfail)] if h.xfail else [])
                params.append(pytest.param(case, i, impl, marks=marks,
                                           id="%s-%s-%s" % (case.id, h.label, impl)))
    return params


def _names(message, name):
    """Whether ``message`` names the argument ``name`` as a whole word (so 'x' is not found in
    'x_shape' or 'max'); the one-letter 'a' must be the argument, not the English article."""
    if name == "a":
        return re.search(r"(^|\(|\s)a(\)| must| has|\s\()", message) is not None
    return re.search(r"(?<![\w])%s(?![\w])" % re.escape(name), message) is not None


@pytest.mark.parametrize("case,index,impl", _hostile_params())
def test_hostile_input_raises_naming_the_argument(case, index, impl):
    """The table's exception, naming the argument (and the words listed), before any array is
    written."""
    _guard(case)
    h = case.hostile()[index]
    arrays = [a for a in _spread(list(h.args) + list(h.kwargs.values()))
              if isinstance(a, np.ndarray)]
    before = [a.copy() for a in arrays]
    with pytest.raises(h.exc) as info:
        getattr(IMPLS[impl], case.name)(*h.args, **h.kwargs)
    for a, b in zip(arrays, before):
        assert same_bits(a, b), "a rejected call wrote into an argument"
    message = str(info.value)
    for name in h.names:
        assert _names(message, name), "the message does not name %r: %s" % (name, message)
    for word in h.words:
        assert word in message, "the message lacks %r: %s" % (word, message)


@pytest.mark.parametrize("case", kc.CASES, ids=lambda c: c.id)
def test_compiled_and_twin_reject_alike(case):
    """Both implementations call one contract, so each hostile input gets the same exception
    type and the same message from both (known findings aside)."""
    _guard(case)
    problems = []
    for h in case.hostile():
        if h.xfail:
            continue
        seen = []
        for module in IMPLS.values():
            try:
                getattr(module, case.name)(*h.args, **h.kwargs)
            except Exception as e:      # any exception: both must give the same
                seen.append((type(e).__name__, str(e)))
            else:
                seen.append(("no exception", ""))
        if seen[0] != seen[1]:
            problems.append("%s: compiled %s, twin %s" % (h.label, seen[0], seen[1]))
    assert not problems, "\n".join(problems)


def test_hostile_inputs_never_crash():
    """Every hostile input of the table through the compiled kernels in one child process: it
    must survive them all (a segfault or an abort would kill it) and see the table's exception
    for each; known findings (xfail entries) need only not crash."""
    calls = kc.hostile_calls(kernels)
    allow = {label for label, _, _, xfail in calls if xfail}
    outcome = assert_raise_in_child(
        "import kernel_cases as kc\n"
        "from fastnn import kernels\n"
        "CALLS = [(label, fn, exc) for label, fn, exc, _ in kc.hostile_calls(kernels)]\n",
        allow=allow)
    assert set(outcome) == {label for label, _, _, _ in calls}
