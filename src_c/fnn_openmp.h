/* The one place fastnn's C code touches OpenMP.  Without -fopenmp these fall back to serial.
 *
 * It also measures how long one spin-wait step of the OpenMP runtime takes on this CPU
 * (fnn_spin_step_ns), so that fastnn can bound the runtime's busy-waiting in time rather than in
 * steps (docs/threads.md).  That measurement is compiled into fastnn._spin, an extension built
 * WITHOUT OpenMP: it must run before any extension loads the runtime, which reads its wait
 * settings from the environment once, when it is loaded. */
#ifndef FNN_OPENMP_H
#define FNN_OPENMP_H
#ifdef _OPENMP
#include <omp.h>
#define FNN_HAVE_OPENMP 1
static inline int fnn_omp_thread_num(void) { return omp_get_thread_num(); }
static inline int fnn_omp_num_threads(void) { return omp_get_num_threads(); }
static inline int fnn_omp_version(void) { return _OPENMP; }
static inline int fnn_omp_in_parallel(void) { return omp_in_parallel(); }
#else
#define FNN_HAVE_OPENMP 0
static inline int fnn_omp_thread_num(void) { return 0; }
static inline int fnn_omp_num_threads(void) { return 1; }
static inline int fnn_omp_version(void) { return 0; }
static inline int fnn_omp_in_parallel(void) { return 0; }
#endif

/* A worker stacked on its caller's CPU (docs/threads.md, "4. A worker on its caller's CPU").
 * After an idle pause a woken OpenMP worker can be placed on the CPU of the thread that opened
 * the region, with another CPU idle (some kernels pack runnable threads onto few CPUs on
 * purpose: the Firecracker guest kernel of this project's VMs has a sched_vcpu_pack setting);
 * the two then take turns on one CPU, and a bounded spin keeps either from looking runnable long
 * enough for the load balancer to separate them.  So each worker, at the start of a region,
 * compares its CPU with the caller's (read just before the region: sched_getcpu is a vDSO call,
 * tens of ns) and, if they are the same, leaves: it excludes that CPU from its affinity mask,
 * which migrates it at once, and gives the mask back, which does not move it again.  Two
 * system calls, only when stacked; never a change to any result.
 * fnn_omp_unstack returns 1 when it moved the thread, 0 when the thread was not on that CPU or
 * cannot leave it (its mask holds no other CPU), -1 when a system call failed. */
#if defined(__linux__) && defined(_GNU_SOURCE)
#include <sched.h>
#define FNN_HAVE_UNSTACK 1
static inline int fnn_current_cpu(void) { return sched_getcpu(); }
static inline int fnn_omp_unstack(int caller_cpu)
{
    cpu_set_t mask, away;
    if (caller_cpu < 0 || caller_cpu >= CPU_SETSIZE || sched_getcpu() != caller_cpu)
        return 0;
    if (sched_getaffinity(0, sizeof mask, &mask) != 0)
        return -1;
    if (!CPU_ISSET(caller_cpu, &mask) || CPU_COUNT(&mask) < 2)
        return 0;
    away = mask;
    CPU_CLR(caller_cpu, &away);
    if (sched_setaffinity(0, sizeof away, &away) != 0)
        return -1;
    return sched_setaffinity(0, sizeof mask, &mask) == 0 ? 1 : -1;
}
#else
#define FNN_HAVE_UNSTACK 0
static inline int fnn_current_cpu(void) { return -1; }
static inline int fnn_omp_unstack(int caller_cpu) { (void)caller_cpu; return 0; }
#endif

/* One step of libgomp's spin-wait (config/linux/wait.h, do_spin): a relaxed load of the flag
 * it waits on, a compare, and cpu_relax().  The pause instruction's latency is what varies:
 * from ~10 to ~140 cycles across x86 generations, so the same GOMP_SPINCOUNT spins 3 ns/step on
 * one CPU and 60 ns/step on another. */
static inline void fnn_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#elif defined(__GNUC__)
    __asm__ __volatile__("" ::: "memory");
#endif
}

#if defined(__GNUC__) && (defined(__unix__) || defined(__APPLE__))
#include <time.h>
#define FNN_HAVE_SPIN_CLOCK 1

static inline double fnn_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Nanoseconds per spin-wait step: the fastest of `reps` timings of `steps` steps (the fastest
 * because a timing can only be lengthened, by preemption or a slower clock, never shortened).
 * The flag never changes, as for a worker waiting for work that has not come. */
static inline double fnn_spin_step_ns(long steps, int reps)
{
    static volatile int flag = 0;
    double best = -1.0;
    int r;
    if (steps < 1)
        steps = 1;
    for (r = 0; r < reps; r++) {
        long i;
        const double t0 = fnn_now_ns();
        for (i = 0; i < steps; i++) {
            if (__atomic_load_n(&flag, __ATOMIC_RELAXED) != 0)
                break;
            fnn_cpu_relax();
        }
        {
            const double dt = (fnn_now_ns() - t0) / (double)steps;
            if (best < 0.0 || dt < best)
                best = dt;
        }
    }
    return best;
}
#else
#define FNN_HAVE_SPIN_CLOCK 0
/* No monotonic clock we can rely on (e.g. MSVC, whose OpenMP runtime has no spin count to set
 * anyway): unknown. */
static inline double fnn_spin_step_ns(long steps, int reps) { (void)steps; (void)reps; return -1.0; }
#endif
#endif
