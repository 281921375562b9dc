"""Benchmark code that ships with fastnn: ``timing`` (the median of a call; two callables
compared in alternating blocks) and ``cases`` (the one table of kernel benchmarks, used by
``fastnn bench`` and by the pytest-benchmark suite in the source tree's ``bench/``).

Nothing here imports pytest, and torch only when a benchmark asks for it.
"""
