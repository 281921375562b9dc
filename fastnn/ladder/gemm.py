"""The GEMM ladder: from the three-loop nest to the compiled kernel, one idea per rung.

Every rung has ``fastnn.kernels.matmul``'s signature, ``(a, b, trans_a=False, trans_b=False,
out=None)``, and computes ``op(a) @ op(b)`` (float32 or float64).  Rungs 1-5 are NumPy, written
to show the structure of the compiled GEMM, not to be fast; rungs 6-9 call the compiled GEMM
with one setting changed at a time:

    1 loops        three Python loops, one dot product per output (tiny sizes only)
    2 ikj          loop order i-k-j: the inner loop is a NumPy row update out[i] += a[i,k]*b[k]
    3 blocked      the same, over MC x KC x NC blocks that fit the caches (BLIS's loops 3-5)
    4 packed       each block copied into micro-panels: A in MR-row slivers, B in NR-column
                   slivers, zero-padded, read with unit stride by the micro-kernel
    5 micro-kernel an MR x NR register tile updated by one rank-1 outer product per k step:
                   the compiled micro-kernel's arithmetic, here in NumPy
    6 generic      the compiled GEMM, plain C micro-kernel (set_simd('generic')), 1 thread
    7 avx2         the AVX2 + FMA micro-kernel, 1 thread
    8 avx512       the AVX-512 level, 1 thread (the GEMM runs its best micro-kernel at or below
                   the level: ``gemm_config()`` says which, when this build has it)
    9 threads      the best level on fastnn.get_num_threads() threads

    >>> import numpy as np
    >>> a, b = np.ones((3, 4), np.float32), np.ones((4, 5), np.float32)
    >>> float(micro_kernel(a, b)[2, 4])
    4.0

Block sizes: rungs 3-5 take keyword arguments ``mc``, ``kc``, ``nc`` (and ``mr``, ``nr`` for
4-5).  The compiled GEMM's are read with ``fastnn.kernels.gemm_config()`` and changed with
``fastnn.kernels.set_gemm_blocking(mc=None, kc=None, nc=None)`` where this build has them
(``compiled_blocking()`` returns None otherwise); its SIMD level with ``fastnn.set_simd`` and its
threads with ``fastnn.set_num_threads`` / ``fastnn.threads``.  docs/kernels/gemm.md walks the
rungs; ``fastnn bench ladder gemm`` times them.
"""
import contextlib
import dataclasses
from typing import Callable

import numpy as np

from .. import cpu_simd_levels, kernels, set_simd, thread_info, threads
from ..contracts import gemm as contract

__all__ = ["MR", "NR", "MC", "KC", "NC", "Rung", "RUNGS", "loops", "ikj", "blocked", "packed",
           "micro_kernel", "compiled", "compiled_blocking", "all_threads", "pack_a", "pack_b"]

#: the register tile of the compiled float32 micro-kernels (src_c/fnn_gemm_ukr.h)
MR, NR = 6, 16
#: default cache blocks of the NumPy rungs (the compiled GEMM's: compiled_blocking())
MC, KC, NC = 72, 256, 1024


def _operands(a, b, trans_a, trans_b, out):
    """The contract's checks (the errors of kernels.matmul), then op(a), op(b) and a zeroed
    out."""
    args = contract.matmul_args(a, b, trans_a, trans_b, out)
    op_a = args.a.T if args.trans_a else args.a
    op_b = args.b.T if args.trans_b else args.b
    args.out[...] = 0
    return op_a, op_b, args.out


# --------------------------------------------------------------------------- rung 1
def loops(a, b, trans_a=False, trans_b=False, out=None):
    """Rung 1: the definition.  For each output, one dot product in ascending k; Python floats
    (so float64 accumulation), one interpreted multiply-add per FLOP pair."""
    op_a, op_b, out = _operands(a, b, trans_a, trans_b, out)
    m, k = op_a.shape
    n = op_b.shape[1]
    rows, cols = op_a.tolist(), op_b.T.tolist()
    for i in range(m):
        row = rows[i]
        for j in range(n):
            col = cols[j]
            acc = 0.0
            for p in range(k):
                acc += row[p] * col[p]
            out[i, j] = acc
    return out


# --------------------------------------------------------------------------- rung 2
def ikj(a, b, trans_a=False, trans_b=False, out=None):
    """Rung 2: loop order i-k-j.  The innermost loop walks a row of b and a row of out with unit
    stride, so it becomes one vectorized NumPy statement: M*K statements instead of M*N*K."""
    op_a, op_b, out = _operands(a, b, trans_a, trans_b, out)
    m, k = op_a.shape
    for i in range(m):
        for p in range(k):
            out[i] += op_a[i, p] * op_b[p]
    return out


# --------------------------------------------------------------------------- rung 3
def blocked(a, b, trans_a=False, trans_b=False, out=None, *, mc=MC, kc=KC, nc=NC):
    """Rung 3: cache blocking.  BLIS's three outer loops: columns of B in NC-wide blocks, k in
    KC-deep blocks, rows of A in MC-tall blocks; inside, rung 2 on the block.  Each block is
    sized for one cache level (BLIS: the KC x NC block of B in L3, the MC x KC block of A in L2;
    fastnn's driver may assign the levels the other way round, ``gemm_config()`` and
    docs/kernels/gemm.md say how), so it is reused from there while it is used; in NumPy the
    interpreter's cost hides the gain, in C it is the first big one."""
    op_a, op_b, out = _operands(a, b, trans_a, trans_b, out)
    m, k = op_a.shape
    n = op_b.shape[1]
    for jc in range(0, n, nc):
        for pc in range(0, k, kc):
            for ic in range(0, m, mc):
                for i in range(ic, min(ic + mc, m)):
                    for p in range(pc, min(pc + kc, k)):
                        out[i, jc:jc + nc] += op_a[i, p] * op_b[p, jc:jc + nc]
    return out


# --------------------------------------------------------------------------- rung 4
def pack_a(block, mr=MR):
    """An (mc, kc) block of op(a) as ceil(mc/mr) micro-panels of shape (kc, mr): panel[q][p, r]
    is block[q*mr + r, p], rows past the edge zero.  The micro-kernel then reads MR values per
    k step from consecutive memory."""
    mc, kc = block.shape
    panels = np.zeros((-(-mc // mr), kc, mr), block.dtype)
    for q in range(panels.shape[0]):
        rows = block[q * mr:(q + 1) * mr]
        panels[q, :, :rows.shape[0]] = rows.T
    return panels


def pack_b(block, nr=NR):
    """A (kc, nc) block of op(b) as ceil(nc/nr) micro-panels of shape (kc, nr): panel[q][p, j]
    is block[p, q*nr + j], columns past the edge zero."""
    kc, nc = block.shape
    panels = np.zeros((-(-nc // nr), kc, nr), block.dtype)
    for q in range(panels.shape[0]):
        cols = block[:, q * nr:(q + 1) * nr]
        panels[q, :, :cols.shape[1]] = cols
    return panels


def _macro_kernel(op_a, op_b, out, tile, mc, kc, nc, mr, nr):
    """BLIS's loops 1-5 around ``tile(a_panel, b_panel) -> (mr, nr)``, the micro-kernel."""
    m, k = op_a.shape
    n = op_b.shape[1]
    for jc in range(0, n, nc):
        for pc in range(0, k, kc):
            b_panels = pack_b(op_b[pc:pc + kc, jc:jc + nc], nr)
            for ic in range(0, m, mc):
                a_panels = pack_a(op_a[ic:ic + mc, pc:pc + kc], mr)
                for jr, b_panel in enumerate(b_panels):             # loop 2: NR columns
                    j0 = jc + jr * nr
                    jn = min(nr, n - j0)
                    for ir, a_panel in enumerate(a_panels):         # loop 1: MR rows
                        i0 = ic + ir * mr
                        im = min(mr, m - i0)
                        # the edge tile is computed whole (zero padding) and only its valid
                        # part stored, as the compiled driver does with its scratch tile
                        out[i0:i0 + im, j0:j0 + jn] += tile(a_panel, b_panel)[:im, :jn]
    return out


def _tile_by_rows(a_panel, b_panel):
    """Rung 4's micro-kernel: rung 2's row updates on the packed panels."""
    kc, mr = a_panel.shape
    c = np.zeros((mr, b_panel.shape[1]), a_panel.dtype)
    for r in range(mr):
        for p in range(kc):
            c[r] += a_panel[p, r] * b_panel[p]
    return c


def packed(a, b, trans_a=False, trans_b=False, out=None, *, mc=MC, kc=KC, nc=NC, mr=MR, nr=NR):
    """Rung 4: packing.  Rung 3's blocks, each copied once into micro-panels (``pack_a``,
    ``pack_b``) that the inner loops read with unit stride, edges zero-padded so every tile is
    a full MR x NR tile."""
    op_a, op_b, out = _operands(a, b, trans_a, trans_b, out)
    return _macro_kernel(op_a, op_b, out, _tile_by_rows, mc, kc, nc, mr, nr)


# --------------------------------------------------------------------------- rung 5
def _tile_outer(a_panel, b_panel):
    """Rung 5's micro-kernel: an MR x NR accumulator (the register tile) and one rank-1 update
    per k step.  Each of the MR + NR values loaded per step is used NR or MR times: 2*MR*NR
    FLOPs per MR + NR loads, the arithmetic intensity that makes the compiled kernel
    compute-bound."""
    c = np.zeros((a_panel.shape[1], b_panel.shape[1]), a_panel.dtype)
    for p in range(a_panel.shape[0]):
        c += np.multiply.outer(a_panel[p], b_panel[p])
    return c


def micro_kernel(a, b, trans_a=False, trans_b=False, out=None, *, mc=MC, kc=KC, nc=NC, mr=MR,
                 nr=NR):
    """Rung 5: the register-tile micro-kernel, in NumPy: rung 4 with the MR x NR tile updated
    by outer products (src_c/fnn_gemm_ukr_generic.h is this loop in C)."""
    op_a, op_b, out = _operands(a, b, trans_a, trans_b, out)
    return _macro_kernel(op_a, op_b, out, _tile_outer, mc, kc, nc, mr, nr)


# --------------------------------------------------------------------------- rungs 6-9
def all_threads():
    """The thread count a rung on "all threads" uses: fastnn's configured count (the
    available CPUs, FASTNN_NUM_THREADS or set_num_threads), not the count adapted to the
    machine's load at this instant."""
    return thread_info()["configured"]


@contextlib.contextmanager
def _simd(level):
    previous = set_simd(level)
    try:
        yield
    finally:
        set_simd(previous)


def compiled(level, num_threads=1):
    """A rung calling the compiled ``kernels.matmul`` at SIMD ``level`` ('generic', 'avx2',
    'avx512' or 'auto') on ``num_threads`` threads (None: fastnn.get_num_threads()), both
    restored after each call.

        >>> import numpy as np
        >>> float(compiled("generic")(np.ones((2, 3)), np.ones((3, 2)))[0, 0])
        3.0
    """
    def rung(a, b, trans_a=False, trans_b=False, out=None):
        with _simd(level), threads(num_threads or all_threads()):
            return kernels.matmul(a, b, trans_a, trans_b, out)
    rung.__name__ = "compiled_%s_%s" % (level, num_threads or "all")
    rung.__doc__ = ("kernels.matmul at SIMD level %r on %s thread(s)"
                    % (level, num_threads or "all"))
    return rung


def compiled_blocking(level=None):
    """The compiled GEMM's configuration at ``level`` (None: the level in use), as
    ``fastnn.kernels.gemm_config()`` reports it (simd, mr, nr, mc, kc, nc, cache sizes), or
    None when this build has no gemm_config."""
    gemm_config = getattr(kernels, "gemm_config", None)
    if gemm_config is None:
        return None
    if level is None:
        return dict(gemm_config())
    with _simd(level):
        return dict(gemm_config())


# --------------------------------------------------------------------------- the table
@dataclasses.dataclass(frozen=True)
class Rung:
    """One rung: ``number``, ``name``, ``fn`` (matmul's signature), ``idea`` (one line),
    ``size`` (the square size ``fastnn bench ladder gemm`` times it at: a slow rung gets a
    small one), ``level`` (the SIMD level a compiled rung needs, None for NumPy) and
    ``threads`` (None: all)."""
    number: int
    name: str
    fn: Callable
    idea: str
    size: int
    level: str = None
    threads: int = 1

    @property
    def compiled(self):
        return self.level is not None

    def skip_reason(self):
        """Why this rung cannot run on this CPU, or None."""
        if self.level is not None and self.level != "auto" \
                and self.level not in cpu_simd_levels():
            return "this CPU has no %s (it runs %s)" % (self.level, ", ".join(cpu_simd_levels()))
        return None


RUNGS = (
    Rung(1, "loops", loops, "three Python loops, one dot product per output", 48),
    Rung(2, "ikj", ikj, "loop order i-k-j: the inner loop is a NumPy row update", 128),
    Rung(3, "blocked", blocked, "MC x KC x NC cache blocks around rung 2", 128),
    Rung(4, "packed", packed, "blocks packed into MR x KC and KC x NR micro-panels", 96),
    Rung(5, "micro-kernel", micro_kernel, "MR x NR register tile, one outer product per k", 192),
    Rung(6, "generic", compiled("generic", 1), "compiled, plain C micro-kernel, 1 thread",
         768, "generic"),
    Rung(7, "avx2", compiled("avx2", 1), "compiled, AVX2 + FMA micro-kernel, 1 thread",
         1024, "avx2"),
    Rung(8, "avx512", compiled("avx512", 1), "compiled, AVX-512 level, 1 thread", 1024,
         "avx512"),
    Rung(9, "threads", compiled("auto", None), "compiled, best level, all fastnn threads",
         1024, "auto", None),
)
