/* Max pooling's inner loop: one window offset applied to a row of outputs, branch-free.
 *
 * fastnn/kernels/_pool.pyx runs, for each (n, c) plane and output row, every window offset
 * (i, j) in row-major order and calls this with `row` pointing at input (oh*sh + i, j), `off`
 * the flat input index of that element (oh*sh + i)*W + j.  For each output ow it compares
 * v = row[ow*sw] with the running maximum yr[ow] and takes v (and the index off + ow*sw into
 * ar[ow]) when `v > yr[ow] or v != v`: torch's CPU rule (strict >: ties keep the first; a NaN
 * always wins, so NaN propagates).  v != v is isnan, valid because nothing here is built with
 * -ffast-math.
 *
 * Why the select is done on bits with an all-ones/all-zeros mask: on random data the comparison
 * is a coin flip, and both an `if` and `take ? v : cur` (which GCC compiles back into branches
 * and conditional stores) mispredict about half of the time (docs/kernels/pool.md gives the
 * timings).  The sw == 1 copy of the loop has unit-stride loads, which the compiler can
 * vectorise.  Callers validate every size and pointer (no checks here: nogil code).
 */
#ifndef FNN_POOL_H
#define FNN_POOL_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define FNN_MAXPOOL_STEP(T, UT, LOAD)                                                             \
    {                                                                                             \
        T v = LOAD, cur = yr[ow];                                                                 \
        int64_t m = -(int64_t)((v > cur) | (v != v));    /* all ones when v is taken */           \
        UT vb, cb, rb;                                                                            \
        memcpy(&vb, &v, sizeof(T));                                                               \
        memcpy(&cb, &cur, sizeof(T));                                                             \
        rb = (vb & (UT)m) | (cb & ~(UT)m);                                                        \
        memcpy(&yr[ow], &rb, sizeof(T));                                                          \
        ar[ow] = ((off + (int64_t)(ow * sw)) & m) | (ar[ow] & ~m);                                \
    }

#define FNN_MAXPOOL_ROW(NAME, T, UT)                                                              \
static inline void NAME(const T *restrict row, T *restrict yr, int64_t *restrict ar,              \
                        ptrdiff_t OW, ptrdiff_t sw, int64_t off)                                  \
{                                                                                                 \
    ptrdiff_t ow;                                                                                 \
    if (sw == 1) {                                                                                \
        for (ow = 0; ow < OW; ++ow) FNN_MAXPOOL_STEP(T, UT, row[ow])                              \
    } else {                                                                                      \
        for (ow = 0; ow < OW; ++ow) FNN_MAXPOOL_STEP(T, UT, row[ow * sw])                         \
    }                                                                                             \
}

/* float32 and float64 rows: the same body, the select done on 32- or 64-bit patterns */
FNN_MAXPOOL_ROW(fnn_maxpool_row_s, float, uint32_t)
FNN_MAXPOOL_ROW(fnn_maxpool_row_d, double, uint64_t)

#undef FNN_MAXPOOL_ROW
#undef FNN_MAXPOOL_STEP

#endif /* FNN_POOL_H */
