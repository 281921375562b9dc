# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The GEMM ladder: from three loops to the compiled kernel
#
# Each rung of `fastnn.ladder.gemm` adds one idea to the matrix product and has the signature
# of `fastnn.kernels.matmul`.  This notebook checks every rung against the compiled kernel,
# times them on this machine, runs two experiments (the register tile's width; the SIMD level)
# and draws the roofline.  docs/kernels.md ("The ladder") is the text that goes with it.
#
# `FASTNN_NOTEBOOK_QUICK=1` runs everything on small sizes (the test suite does this);
# figures go to `FASTNN_NOTEBOOK_OUT` (default `notebook-figures/`).

# %%
import os
import timeit

import numpy as np

import fastnn
from fastnn import kernels
from fastnn.benchmarks import ladder as ladder_bench
from fastnn.benchmarks import roofline
from fastnn.ladder import gemm

QUICK = os.environ.get("FASTNN_NOTEBOOK_QUICK") == "1"
OUT = os.environ.get("FASTNN_NOTEBOOK_OUT", "notebook-figures")
os.makedirs(OUT, exist_ok=True)
print("SIMD levels of this CPU:", fastnn.cpu_simd_levels(), "- in use:", fastnn.get_simd())

# %% [markdown]
# ## Rung 1: the definition
# Three Python loops; one dot product per output element.

# %%
rng = np.random.default_rng(0)
a = rng.standard_normal((7, 5), dtype=np.float32)
b = rng.standard_normal((5, 3), dtype=np.float32)
print(gemm.loops(a, b))
print("max |rung 1 - kernels.matmul| =", np.abs(gemm.loops(a, b) - kernels.matmul(a, b)).max())

# %% [markdown]
# ## Every rung computes the same product
# On odd sizes, so every block, panel and tile has a partial edge.

# %%
m, k, n = 13, 29, 19
a = rng.standard_normal((m, k), dtype=np.float32)
b = rng.standard_normal((k, n), dtype=np.float32)
expected = kernels.matmul(a, b)
for rung in gemm.RUNGS:
    reason = rung.skip_reason()
    if reason:
        print("%d %-12s skipped: %s" % (rung.number, rung.name, reason))
        continue
    err = np.abs(rung.fn(a, b) - expected).max()
    print("%d %-12s max error %.2e   %s" % (rung.number, rung.name, err, rung.idea))
    assert err < 1e-4

# %% [markdown]
# ## Packing, seen
# `pack_b` cuts a KC x NC block of B into NR-column micro-panels, zero-padding the last one.

# %%
block = np.arange(3 * 5, dtype=np.float32).reshape(3, 5)
print(gemm.pack_b(block, nr=2))

# %% [markdown]
# ## Time every rung
# Each rung at its own size; GFLOP/s compares them.  (`fastnn bench ladder gemm` prints the
# same table.)

# %%
rows = ladder_bench.gemm_rows(quick=QUICK, repeats=1 if QUICK else 3)
print("\n".join(ladder_bench.table(rows)))
ladder_bench.draw(rows, "GEMM ladder", os.path.join(OUT, "ladder_gemm.png"))

# %% [markdown]
# ## Experiment 1: the register tile's width
# Rung 5 runs one NumPy outer product per k step of each MR x NR tile, at a roughly fixed cost
# per call, so its rate should grow with the tile's area.

# %%
size = 48 if QUICK else 192
x = rng.standard_normal((size, size), dtype=np.float32)
for nr in (8, 16, 32):
    t = min(timeit.repeat(lambda nr=nr: gemm.micro_kernel(x, x, nr=nr), number=1, repeat=2))
    print("MR=6, NR=%2d: %.4f GFLOP/s" % (nr, 2 * size ** 3 / t / 1e9))

# %% [markdown]
# ## Experiment 2: one SIMD level at a time
# The same compiled GEMM at every level this CPU runs, one thread.

# %%
size = 128 if QUICK else 768
x = rng.standard_normal((size, size), dtype=np.float32)
for level in fastnn.cpu_simd_levels():
    step = gemm.compiled(level, 1)
    t = min(timeit.repeat(lambda step=step: step(x, x), number=1, repeat=3))
    print("%-8s %.1f GFLOP/s" % (level, 2 * size ** 3 / t / 1e9))
print("the GEMM's blocks:", gemm.compiled_blocking() or "unknown (no gemm_config in this build)")

# %% [markdown]
# ## The roofline
# Peak FLOP/s per SIMD level and the memory bandwidth, measured with fastnn's own loops, and
# every main kernel (filled) and its NumPy twin (open) placed by arithmetic intensity.

# %%
# quick: two kernels only (a compute-bound GEMM, a memory-bound activation)
groups = (("matmul square 512", "relu fwd+bwd 128x32x28x28") if QUICK
          else roofline.ROOFLINE_CASES)
result = roofline.measure(quick=QUICK, groups=groups)
print("\n".join(roofline.table(result)))
roofline.draw(result, os.path.join(OUT, "roofline.png"))
