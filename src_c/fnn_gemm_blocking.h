/* Private to fnn_gemm.c: the GEMM's cache blocking (KC, MC, NC) from the cache sizes and the
 * micro-kernel's tile, after BLIS's analytical model (Low, Igual, Smith, Quintana-Orti, "Analytical
 * modeling is enough for high-performance BLIS", ACM TOMS 2016), in its simple form, for the
 * loop nest of fnn_gemm_driver.h (where the A micro-panel is the one re-read from L1):
 *
 *   KC  the A micro-panel (MR x KC), which the micro-kernel re-reads for every B micro-panel of
 *       the block, fills half of L1; the other half takes the B micro-panel streaming past and
 *       the C tile.  A multiple of 8.
 *   NC  the packed B block (KC x NC) fills half of L2, leaving room for the A micro-panels and C.
 *       A multiple of NR.
 *   MC  the packed A block (MC x KC) fills half of one core's share of L3, and at most 4 MiB (a
 *       per-thread buffer, allocated once: its pages are faulted in on first use).  A multiple
 *       of MR.
 *
 * BLIS's Intel configurations state the same model with A and B the other way round, because
 * their micro-kernels broadcast B and load A as vectors; docs/kernels/gemm.md says why this
 * loop order.  Each value is clamped to the bounds below.  The blocking only changes
 * speed: every element's FMA chain runs over ascending k whatever KC is (the chain continues
 * through C between k-blocks), so results do not depend on it (tests/test_gemm.py sweeps it).
 */
#ifndef FNN_GEMM_BLOCKING_H
#define FNN_GEMM_BLOCKING_H
#include <stdint.h>
#include "fnn_gemm.h"       /* FNN_GEMM_{KC,MC,NC}_{MIN,MAX}: the bounds of any value */

/* The derived values stay within friendlier bounds than a caller may set. */
#define FNN_GEMM_KC_DERIVED_MIN 32
#define FNN_GEMM_KC_DERIVED_MAX 1024
#define FNN_GEMM_MC_BUFFER_MAX (4L << 20)

/* Products with fewer multiply-adds (batch x M x N x K) than this run on one thread: waking a
 * second one costs more than it saves (from earlier single measurements; docs/kernels/gemm.md). */
#ifndef FNN_GEMM_MT_MIN
#define FNN_GEMM_MT_MIN 2.5e5
#endif

/* The same for the in-place paths (small M, skinny N), which need no packing: there the
 * threshold is measured on first use (fnn_gemm_driver.h, ip_split_min: what a parallel region
 * costs differs several-fold between machines, docs/kernels/gemm.md, "Low per-call overhead");
 * this is the value where it cannot be measured, and the floor below which no split can pay. */
#ifndef FNN_GEMM_IP_MT_MIN
#define FNN_GEMM_IP_MT_MIN 1e5
#endif
#define FNN_GEMM_IP_SPLIT_FLOOR 1e4
#define FNN_IP_SPLIT_SLOTS 65

/* B's row stride (bytes) from which the packed path packs each B block row by row, up front,
 * instead of lazily one micro-panel at a time (fnn_gemm_driver.h). */
#ifndef FNN_GEMM_WHOLE_B_ROW_BYTES
#define FNN_GEMM_WHOLE_B_ROW_BYTES 4096
#endif

static inline int64_t fnn_gemm_clamp(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Round v down to a multiple of r, but not below r. */
static inline int64_t fnn_gemm_round_to(int64_t v, int64_t r)
{
    v = v / r * r;
    return v < r ? r : v;
}

/* KC, MC, NC for a kernel of tile mr x nr and elements of elsize bytes.  set_kc > 0 replaces the
 * derived KC (fastnn.kernels.set_gemm_blocking); MC and NC are then derived from it. */
static inline void fnn_gemm_derive_blocking(long l1d, long l2, long l3_per_core, int mr, int nr,
                                            int elsize, int64_t set_kc, int64_t *mc, int64_t *kc,
                                            int64_t *nc)
{
    int64_t k, m, n;
    long l3_budget = l3_per_core / 2;
    if (set_kc > 0) {
        k = set_kc;
    } else {
        k = (int64_t)(l1d / 2) / ((int64_t)mr * elsize);
        k = fnn_gemm_clamp(k / 8 * 8, FNN_GEMM_KC_DERIVED_MIN, FNN_GEMM_KC_DERIVED_MAX);
    }
    n = (int64_t)(l2 / 2) / (k * elsize);
    n = fnn_gemm_round_to(fnn_gemm_clamp(n, nr, FNN_GEMM_NC_MAX), nr);
    if (l3_budget > FNN_GEMM_MC_BUFFER_MAX)
        l3_budget = FNN_GEMM_MC_BUFFER_MAX;
    m = (int64_t)l3_budget / (k * elsize);
    m = fnn_gemm_round_to(fnn_gemm_clamp(m, mr, FNN_GEMM_MC_MAX), mr);
    *kc = k;
    *mc = m;
    *nc = n;
}

#endif /* FNN_GEMM_BLOCKING_H */
