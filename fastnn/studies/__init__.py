"""The lab studies: many independent, seeded training runs of the MNIST MLP, run in parallel
(local processes or a Dask cluster), resumable, summarised in figures, tables and a report.

    fastnn study optimizers --quick --out study-opt      # command line (fastnn/cli/study.py)
    fastnn study init --quick --out study-init

From Python::

    from fastnn.studies import data, optimizers
    cfg = optimizers.resolve_config(quick=True)
    d = data.mnist(train_size=cfg["train_size"], test_size=cfg["test_size"])
    rows, execution = optimizers.run_study(cfg, d, "study-opt", jobs=2)

Modules: ``runner`` (grid execution, one atomic file per run, resume), ``train`` (one run),
``data`` (what the runs train on), ``aggregate`` (mean/std across runs), ``plots``,
``report`` (tables), ``config`` (defaults, presets and the checks both studies share),
``optimizers`` and ``init`` (the two studies).  Nothing here imports the command line.
See docs/studies.md.
"""
