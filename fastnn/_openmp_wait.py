"""How long an idle OpenMP thread busy-waits: set up once, when the OpenMP runtime is loaded.

Between parallel regions, and at the join of each one, an OpenMP thread that has nothing to do
spins before it sleeps.  libgomp's default is 300000 spin steps: 7 ms on a CPU whose pause takes
24 ns, 14 ms on one whose pause takes 47 ns.  On a machine where another process holds a core,
every join then costs that long for a worker the scheduler has not run yet, and an idle worker
that spins takes a core from NumPy's or torch's threads between fastnn's calls.  fastnn bounds
the spin in time: FASTNN_SPIN_US microseconds (default ``DEFAULT_SPIN_US``), long enough to
bridge the Python between two kernel calls of a training step, short enough that an idle worker
gives its core back at once.  A step's duration is measured (``fastnn._spin``, built without
OpenMP) and the budget converted to steps.

The runtime reads its setting from the environment once, when it is loaded, i.e. by the first
compiled kernel fastnn imports; ``openmp_wait_setup`` sets the environment around that import and
restores it after, so the setting reaches that runtime only (not child processes, not a runtime
another module loads later).  The measurements: docs/threads.md.

    FASTNN_SPIN_US=0 python train.py          # passive: idle threads sleep at once
    FASTNN_SPIN_US=runtime python train.py    # leave the OpenMP runtime's own default
    fastnn.build_info()["openmp_wait"]         # what was applied, and why
"""
import contextlib
import os
import warnings

#: microseconds an idle OpenMP thread spins before it sleeps, unless FASTNN_SPIN_US says otherwise
DEFAULT_SPIN_US = 300
#: the most FASTNN_SPIN_US may ask (one second: beyond it, it is a spin that never ends)
MAX_SPIN_US = 1_000_000
#: the step time assumed where it cannot be measured (no monotonic clock, _spin not built)
FALLBACK_STEP_NS = 30.0
#: environment variables through which a user sets the OpenMP runtime's waiting; fastnn never
#: overrides them
USER_WAIT_VARS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")
#: file-name prefixes of OpenMP runtimes (GNU, LLVM, Intel)
_RUNTIME_PREFIXES = ("libgomp", "libomp", "libiomp")

_wait_info = {"policy": "not set up", "applied": None,
              "reason": "fastnn's extensions were imported without openmp_wait_setup"}


def spin_us_setting():
    """FASTNN_SPIN_US parsed: an int number of microseconds (0 = passive), or None for
    'runtime' (leave the OpenMP runtime's default).  Unset or empty: ``DEFAULT_SPIN_US``."""
    raw = os.environ.get("FASTNN_SPIN_US")
    if raw is None or raw.strip() == "":
        return DEFAULT_SPIN_US
    text = raw.strip().lower()
    if text == "runtime":
        return None
    try:
        value = int(text)
    except ValueError:
        raise ValueError("FASTNN_SPIN_US must be an integer number of microseconds (0 to %d) or "
                         "'runtime', got %r" % (MAX_SPIN_US, raw)) from None
    if not 0 <= value <= MAX_SPIN_US:
        raise ValueError("FASTNN_SPIN_US must be between 0 and %d microseconds, got %r"
                         % (MAX_SPIN_US, raw))
    return value


def openmp_runtimes():
    """Paths of the OpenMP runtime libraries mapped into this process, as a frozenset, or None
    where that cannot be known (no /proc/self/maps)."""
    try:
        with open("/proc/self/maps") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    found = set()
    for line in lines:
        parts = line.split(None, 5)
        if len(parts) == 6:
            name = os.path.basename(parts[5])
            if name.startswith(_RUNTIME_PREFIXES) and ".so" in name:
                found.add(parts[5])
    return frozenset(found)


def spin_plan(spin_us, step_ns):
    """The environment that bounds the OpenMP runtime's spin to ``spin_us`` microseconds when a
    spin step takes ``step_ns`` nanoseconds: GOMP_SPINCOUNT for libgomp (steps) and KMP_BLOCKTIME
    for LLVM's and Intel's runtimes (whole milliseconds, rounded up: their finest unit)."""
    steps = int(round(spin_us * 1000.0 / step_ns)) if spin_us > 0 else 0
    blocktime_ms = -(-spin_us // 1000)
    return {"GOMP_SPINCOUNT": str(steps), "KMP_BLOCKTIME": str(blocktime_ms)}


@contextlib.contextmanager
def openmp_wait_setup(step_ns_fn):
    """Context manager around the first import of fastnn's compiled extensions: bounds the OpenMP
    runtime's spin-wait (see the module docstring) and records what happened for
    ``openmp_wait_info()``.  ``step_ns_fn()`` measures a spin step (``fastnn._spin``) or is None.

    The environment is restored on exit: the setting reaches only the runtime loaded inside the
    block.  When a runtime was already loaded (another module imported it first; fastnn's
    extensions then bind to it) or the user set one of ``USER_WAIT_VARS``, nothing is changed;
    ``openmp_wait_info()['applied']`` says so.

        with openmp_wait_setup(spin_step_ns):
            from fastnn import kernels
    """
    global _wait_info
    spin_us = spin_us_setting()
    explicit = os.environ.get("FASTNN_SPIN_US", "").strip() != ""
    user_vars = [v for v in USER_WAIT_VARS if os.environ.get(v, "").strip() != ""]
    before = openmp_runtimes()
    info = {"spin_us": spin_us, "step_ns": None, "env": {}, "runtime": None,
            "preloaded": sorted(before) if before else []}
    saved = {}
    if user_vars:
        info.update(policy="user", reason="set by the user: %s" % ", ".join(
            "%s=%s" % (v, os.environ[v]) for v in user_vars))
    elif spin_us is None:
        info.update(policy="runtime", reason="FASTNN_SPIN_US=runtime: the runtime's default")
    else:
        step = step_ns_fn() if step_ns_fn is not None else None
        info["step_ns"] = round(step, 2) if step else None
        plan = spin_plan(spin_us, step if step else FALLBACK_STEP_NS)
        info.update(policy="passive" if spin_us == 0 else "bounded", env=plan,
                    reason="spin %d us = %s steps of %s ns" % (
                        spin_us, plan["GOMP_SPINCOUNT"],
                        "%.1f" % step if step else "%.0f (assumed)" % FALLBACK_STEP_NS))
        for var, value in plan.items():
            saved[var] = os.environ.get(var)
            os.environ[var] = value
    try:
        yield
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value
        after = openmp_runtimes()
        if before is None or after is None:
            new = None
        else:
            new = sorted(after - before)
            loaded = new or sorted(after)
            info["runtime"] = loaded[0] if len(loaded) == 1 else (loaded or None)
        if info["policy"] in ("bounded", "passive"):
            if new is None:
                info["applied"] = None
            elif new:
                info["applied"] = True
            else:
                info["applied"] = False
                info["reason"] = ("not applied: the OpenMP runtime %s was loaded before fastnn "
                                  "with its own wait setting (import fastnn before the module "
                                  "that loads it, or start Python with GOMP_SPINCOUNT=%s)"
                                  % (", ".join(sorted(before)), info["env"]["GOMP_SPINCOUNT"]))
                if explicit:
                    warnings.warn("FASTNN_SPIN_US=%s: %s" % (os.environ["FASTNN_SPIN_US"],
                                                            info["reason"]),
                                  RuntimeWarning, stacklevel=3)
        else:
            info["applied"] = False
        _wait_info = info


def openmp_wait_info():
    """How the OpenMP runtime's idle threads wait, as set up at import: ``policy`` ('bounded',
    'passive', 'user', 'runtime'), ``spin_us``, ``step_ns`` (measured spin step), ``env`` (what
    fastnn set while loading the runtime), ``applied`` (True, False, or None when unknown),
    ``reason``, ``runtime`` (the library's path) and ``preloaded`` (runtimes loaded before)."""
    return dict(_wait_info)
