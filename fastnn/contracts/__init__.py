"""Kernel contracts: one module per kernel family, apart from both implementations.

A contract is what a kernel accepts and what it computes from its arguments before any
arithmetic: every argument check (through ``fastnn._validate``, so errors name the argument, the
expected and the actual value) and the scalar preparation (output shapes, bias corrections, step
sizes), returned as a named tuple.  The compiled kernel (``fastnn.kernels``) and its NumPy twin
(``fastnn.reference``) both call the same contract function first, so they accept and reject
exactly the same inputs with the same messages, and the twin reads as the math alone.

    family        contract                      twin                          compiled
    GEMM          fastnn/contracts/gemm.py      fastnn/reference/gemm.py      fastnn/kernels/_gemm.pyx
    convolution   fastnn/contracts/conv.py      fastnn/reference/conv.py      fastnn/kernels/_conv.pyx
    max pooling   fastnn/contracts/pool.py      fastnn/reference/pool.py      fastnn/kernels/_pool.pyx
    activations   fastnn/contracts/activations.py  fastnn/reference/activations.py  fastnn/kernels/_activations.pyx
    optimizers    fastnn/contracts/optim.py     fastnn/reference/optim.py     fastnn/kernels/_optim.pyx
"""
