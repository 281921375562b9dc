"""Kernel contracts: one module per kernel family, apart from both implementations.

A contract is what a kernel accepts and what it computes from its arguments before any
arithmetic: every argument check (through ``fastnn._validate``, so errors name the argument, the
expected and the actual value) and the scalar preparation (output shapes, bias corrections, step
sizes), returned as a named tuple.  The compiled kernel (``fastnn.kernels``) and its NumPy twin
(``fastnn.reference``) both call the same contract function first, so they accept and reject
exactly the same inputs with the same messages, and the twin reads as the math alone.

    family        contract / twin / compiled (fastnn/contracts, fastnn/reference, fastnn/kernels)
    GEMM          gemm.py / gemm.py / _gemm.pyx
    convolution   conv.py / conv.py / _conv.pyx
    max pooling   pool.py / pool.py / _pool.pyx
    activations   activations.py / activations.py / _activations.pyx
    optimizers    optim.py / optim.py / _optim.pyx

docs/kernels.md lists the C sources each compiled kernel calls.
"""
