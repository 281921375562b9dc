/* The one place fastnn's C code touches OpenMP.  Without -fopenmp these fall back to serial. */
#ifndef FNN_OPENMP_H
#define FNN_OPENMP_H
#ifdef _OPENMP
#include <omp.h>
#define FNN_HAVE_OPENMP 1
static inline int fnn_omp_thread_num(void) { return omp_get_thread_num(); }
static inline int fnn_omp_version(void) { return _OPENMP; }
#else
#define FNN_HAVE_OPENMP 0
static inline int fnn_omp_thread_num(void) { return 0; }
static inline int fnn_omp_version(void) { return 0; }
#endif
#endif
