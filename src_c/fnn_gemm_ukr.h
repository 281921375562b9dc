/* Private to fnn_gemm.c: what a GEMM micro-kernel is (the interface every fnn_gemm_ukr_*.h
 * implements), its tile sizes and its function-pointer types.
 *
 * A micro-kernel computes one MR x NR tile of C from a packed A micro-panel (kc steps of MR
 * values) and a packed B micro-panel (kc steps of NR values):
 *     C[r][j] (+)= sum_k a[k*MR + r] * b[k*NR + j]        (k ascending, one FMA chain per element)
 * `load` = 0 starts the accumulators at zero (C is write-only), `load` = 1 continues the chain
 * from the values already in C (the previous k-block, or beta*C).  C is addressed as c[r*rs_c + j]
 * (unit column stride); the driver gives a private MR x NR scratch tile when the real C tile is
 * partial or not row-contiguous.
 *
 * Every element's k loop runs in the same order in every tile, edge or not (edges are
 * zero-padded, never a different kernel), so where a tile starts never changes a result.
 *
 * The "direct" variants read A in place (element (r, k) at a[r*a_rs + k*a_cs]) instead of from a
 * packed panel.  The driver uses them when each A micro-panel would meet only one or two B
 * micro-panels (a skinny output, N <= 2*NR), where packing A would cost as much as the
 * arithmetic.  Same FMA chain per element as the packed kernels, so the same bits.
 *
 * The packing format depends on MR and NR, so every micro-kernel of one element type has the
 * same tile shape (float 6 x 16, double 6 x 8); the SIMD level picks among them at run time
 * (fnn_gemm.c).
 */
#ifndef FNN_GEMM_UKR_H
#define FNN_GEMM_UKR_H
#include <stdint.h>

#define FNN_S_MR 6
#define FNN_S_NR 16
#define FNN_D_MR 6
#define FNN_D_NR 8

typedef void (*fnn_sukr_t)(int64_t kc, const float *a, const float *b, float *c, int64_t rs_c,
                           int load);
typedef void (*fnn_dukr_t)(int64_t kc, const double *a, const double *b, double *c, int64_t rs_c,
                           int load);
typedef void (*fnn_sukr_direct_t)(int64_t kc, const float *a, int64_t a_rs, int64_t a_cs,
                                  const float *b, float *c, int64_t rs_c, int load);
typedef void (*fnn_dukr_direct_t)(int64_t kc, const double *a, int64_t a_rs, int64_t a_cs,
                                  const double *b, double *c, int64_t rs_c, int load);

#endif /* FNN_GEMM_UKR_H */
