# The process-wide settings every compiled kernel reads (see _runtime.pyx).
cdef int simd_level() noexcept nogil
