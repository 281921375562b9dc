# The process-wide settings every compiled kernel reads (see _runtime.pyx).
cdef int simd_level() noexcept nogil
cdef int threads_for(Py_ssize_t work, Py_ssize_t units, Py_ssize_t grain) except -1
