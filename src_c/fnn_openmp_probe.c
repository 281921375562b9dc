/* Build probe, not part of fastnn: setup.py compiles and links this with -fopenmp to learn
 * whether the compiler can build OpenMP code (if not, the kernels are built serial). */
#include <omp.h>

int main(void)
{
    int n = 0;
#pragma omp parallel reduction(+ : n)
    n += 1;
    return n > 0 ? 0 : 1;
}
