"""Benchmark code that ships with fastnn: ``timing`` (the median of a call; two callables
compared in alternating blocks), ``cases`` (the one table of kernel benchmarks, used by
``fastnn bench`` and by the pytest-benchmark suite in the source tree's ``bench/``),
``probes`` (this machine's peak FLOP/s per SIMD level and memory bandwidth, with fastnn's own
loops), ``ladder`` (``fastnn bench ladder gemm|conv``: every rung of ``fastnn.ladder`` timed)
and ``roofline`` (``fastnn bench roofline``: the kernels placed against the probes' roofs).

Nothing here imports pytest, and torch only when a benchmark asks for it.
"""
