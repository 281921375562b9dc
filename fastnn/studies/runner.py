"""Running a grid of independent training runs: one file per run, resumable, in parallel.

A *task* is ``{"id": str, "config": dict}``: ``id`` names the run's files, ``config`` is every
JSON value that decides its result (hyper-parameters, seed, data fingerprint, fastnn version).
A task function ``fn(config, data) -> dict`` (module level, so it pickles by reference) trains
one run; :func:`execute` adds ``id``, ``config``, ``wall_time`` and ``threads`` to what it
returns and writes the record to ``<runs_dir>/<id>.json`` (plus ``<id>.csv`` through
``to_csv``).

Resuming.  Before running anything, :func:`execute` reads each task's file: a record whose
stored ``config`` equals the task's (after a JSON round trip) is reused, anything else (no
file, unreadable file, different config) is computed again.  A record that parses and matches
but fails the task function's own check (an edited file) stops the study with a ValueError
naming the file.  Run ids carry a digest of the whole config (:func:`run_id`), so runs of
another configuration get other files and never replace these.  Files are written to a temporary
name in the same directory and renamed with ``os.replace``, so an interruption (Ctrl-C, a
killed worker, a full disk) never leaves a half-written run that looks finished.  The records
are written by the calling process, as each result arrives; a run in flight at Ctrl-C is lost,
every finished one is kept.

Where runs execute:

* ``jobs == 1``: in this process, one after the other;
* ``jobs > 1``: a ``concurrent.futures.ProcessPoolExecutor`` with the "spawn" start method
  (no fork of a process that may already hold OpenMP threads).  Each worker receives the data
  once (its initializer), pins fastnn to ``threads`` kernel threads and BLAS to 1 thread, so
  ``jobs x threads`` never exceeds the cores;
* ``scheduler="tcp://host:8786"``: the same tasks on a Dask distributed cluster through
  joblib's "dask" backend; the data is scattered to the workers once.  Needs the optional
  extra ``pip install "fastnn[distributed]"`` (dask[distributed], joblib), imported only here.

Every run pins the thread count itself, whatever the executor, and fastnn's kernels give the
same numbers at any thread count, so a run's curve depends only on its config.
"""
import concurrent.futures as _cf
import dataclasses
import hashlib
import json
import multiprocessing
import os
import signal
import sys
import time

from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from .. import _atomic, _config
from .._validate import check_int
from .._version import __version__

__all__ = ["available_cores", "normalize", "config_digest", "run_id", "atomic_write",
           "remove_file", "load_record", "execute", "ExecutionSummary"]

RECORD_FORMAT = 1

# Worker-process globals, set by _init_worker (local pool) or on first use (Dask).
_WORKER_DATA = None
_WORKER_THREADS = None


def available_cores():
    """CPUs this process may run on (the affinity mask when the OS has one)."""
    return _config.available_cpus()


def normalize(config):
    """``config`` after a JSON round trip (tuples become lists, keys strings), for comparing a
    task's config with the one stored in its file."""
    return json.loads(json.dumps(config, sort_keys=True))


def config_digest(config, length=10):
    """A short hex digest of ``config`` (after :func:`normalize`, keys sorted): equal configs,
    equal digests."""
    text = json.dumps(normalize(config), sort_keys=True)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:length]


def run_id(readable, config):
    """``<readable>-<digest of config>``: the file name of a run.  The readable part says what
    the run is (``sgd-lr0.1-relu-seed0``); the digest makes every configuration its own file,
    so a study re-run with other options into the same directory adds files and replaces
    none of another configuration."""
    return "%s-%s" % (readable, config_digest(config))


def remove_file(path):
    """Remove ``path`` if it exists (a report about to be rewritten)."""
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def atomic_write(path, text):
    """Write ``text`` to ``path`` atomically (fastnn._atomic: temporary file in the same
    directory, fsync, ``os.replace``).  Readers see the old file or the new one, never a partial
    one."""
    return _atomic.atomic_write(path, lambda fh: fh.write(text), binary=False)


def record_path(runs_dir, run_id):
    return os.path.join(runs_dir, run_id + ".json")


def load_record(runs_dir, task, check=None):
    """The finished record of ``task`` in ``runs_dir``, or None when it must be (re)computed:
    no file, a file that does not parse, another record format, or a different config.
    ``check(record)``: the task function's check of a record's contents (raises ValueError);
    a record that fails it raises ValueError naming the file."""
    path = record_path(runs_dir, task["id"])
    try:
        with open(path, encoding="utf-8") as fh:
            record = json.load(fh)
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT:
        return None
    if record.get("config") != normalize(task["config"]):
        return None
    if check is not None:
        try:
            check(record)
        except (ValueError, TypeError, KeyError) as e:
            raise ValueError("the study record %s is damaged or was edited (%s); delete it to "
                             "recompute that run" % (path, e)) from None
    return record


@dataclasses.dataclass
class ExecutionSummary:
    """What :func:`execute` did."""
    records: dict     # id -> record, in task order
    reused: list      # ids of the runs read back from their files
    computed: list    # ids of the runs computed by this call
    seconds: float    # wall time of the call
    where: str        # "in-process, 2 threads", "2 local processes x 1 thread", "Dask at ..."


def _check_tasks(tasks):
    seen = set()
    for t in tasks:
        if not isinstance(t, dict) or not isinstance(t.get("id"), str) or \
                not isinstance(t.get("config"), dict):
            raise TypeError("each task must be a dict {'id': str, 'config': dict}, got %r" % (t,))
        if not t["id"] or os.sep in t["id"] or t["id"].startswith("."):
            raise ValueError("task id must be a plain file name, got %r" % t["id"])
        if t["id"] in seen:
            raise ValueError("task ids must be unique, %r appears twice" % t["id"])
        seen.add(t["id"])


def _pin_threads(threads):
    """Set fastnn's kernel threads and limit every BLAS/OpenMP pool NumPy loaded to one thread
    (process-wide; used in worker processes, which run nothing else)."""
    _config.set_num_threads(threads)
    threadpool_limits(1, "blas")


def _run_one(fn, task, data, threads):
    """Run one task with ``threads`` kernel threads; returns the complete record."""
    t0 = time.perf_counter()
    with _config.threads(threads), threadpool_limits(1, "blas"):
        result = fn(task["config"], data)
    record = {"format": RECORD_FORMAT, "id": task["id"], "config": normalize(task["config"])}
    record.update(result)
    record["wall_time"] = time.perf_counter() - t0
    record["threads"] = int(threads)
    record["fastnn_version"] = __version__
    return normalize(record)


def _init_worker(data, threads):
    global _WORKER_DATA, _WORKER_THREADS
    # Ctrl-C in a terminal reaches the whole process group: the parent handles it (saves
    # what is finished, then terminates the workers), so workers must not die mid-result and
    # print a traceback each.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER_DATA = data
    _WORKER_THREADS = threads
    _pin_threads(threads)


def _pool_task(fn, task):
    return _run_one(fn, task, _WORKER_DATA, _WORKER_THREADS)


def _dask_task(fn, task, data, threads):
    global _WORKER_THREADS
    if _WORKER_THREADS != threads:
        _pin_threads(threads)
        _WORKER_THREADS = threads
    return _run_one(fn, task, data, threads)


def _progress(total, initial, desc, enabled):
    return tqdm(total=total, initial=initial, desc=desc, unit="run", dynamic_ncols=True,
                disable=not enabled, file=sys.stderr)


def execute(fn, tasks, data, runs_dir, *, jobs=1, threads=None, scheduler=None, progress=True,
            desc="runs", to_csv=None, check=None):
    """Run every task of ``tasks`` not already finished in ``runs_dir``; returns an
    :class:`ExecutionSummary` with the records of all tasks.

    fn: ``fn(config, data) -> dict`` of JSON values, a module-level function.
    data: passed to ``fn`` unchanged (pickled once per worker process).
    jobs: local worker processes (1 = in this process).  threads: kernel threads per run
    (default: the available cores divided by ``jobs``, at least 1; on Dask, 1).
    scheduler: a Dask scheduler address (``tcp://host:8786``) or a ``distributed.Client``;
    when given, ``jobs`` is ignored.
    progress: a tqdm bar over the grid with ETA (shown only when stderr is a terminal).
    to_csv: optional ``f(record) -> str``, written atomically to ``<id>.csv`` next to the JSON.
    check: optional ``f(record)`` raising ValueError for a record whose contents are not what
    ``fn`` returns (see :func:`load_record`).
    """
    _check_tasks(tasks)
    jobs = check_int(jobs, "jobs", min=1)
    if threads is not None:
        threads = check_int(threads, "threads", min=1)
    os.makedirs(runs_dir, exist_ok=True)
    t0 = time.perf_counter()

    records, reused, todo = {}, [], []
    for task in tasks:
        rec = load_record(runs_dir, task, check)
        if rec is None:
            todo.append(task)
        else:
            records[task["id"]] = rec
            reused.append(task["id"])
            if to_csv is not None and not os.path.exists(os.path.join(runs_dir,
                                                                      task["id"] + ".csv")):
                # the JSON is written last, so an interruption can leave it without its CSV
                atomic_write(os.path.join(runs_dir, task["id"] + ".csv"), to_csv(rec))

    def save(rec):
        if to_csv is not None:
            atomic_write(os.path.join(runs_dir, rec["id"] + ".csv"), to_csv(rec))
        atomic_write(record_path(runs_dir, rec["id"]), json.dumps(rec, indent=1))
        records[rec["id"]] = rec

    cores = available_cores()
    bar = _progress(len(tasks), len(reused), desc, progress and sys.stderr.isatty())
    try:
        if not todo:
            where = "nothing to run"
        elif scheduler is not None:
            threads = threads or 1
            where = _execute_dask(fn, todo, data, scheduler, threads, save, bar)
        elif jobs == 1 or len(todo) == 1:
            threads = threads or cores
            where = "in-process, %d thread%s" % (threads, "" if threads == 1 else "s")
            for task in todo:
                save(_run_one(fn, task, data, threads))
                bar.update(1)
        else:
            jobs = min(jobs, len(todo))
            threads = threads or max(1, cores // jobs)
            where = "%d local processes x %d thread%s" % (jobs, threads,
                                                          "" if threads == 1 else "s")
            _execute_pool(fn, todo, data, jobs, threads, save, bar)
    finally:
        bar.close()
    ordered = {t["id"]: records[t["id"]] for t in tasks}
    return ExecutionSummary(ordered, reused, [t["id"] for t in todo],
                            time.perf_counter() - t0, where)


def _execute_pool(fn, todo, data, jobs, threads, save, bar):
    ctx = multiprocessing.get_context("spawn")
    executor = _cf.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx,
                                       initializer=_init_worker, initargs=(data, threads))
    futures = []
    try:
        futures = [executor.submit(_pool_task, fn, task) for task in todo]
        for fut in _cf.as_completed(futures):
            save(fut.result())
            bar.update(1)
    except BaseException:
        # Ctrl-C or a failed run: keep what is saved, stop the rest now rather than after
        # the runs in flight finish (shutdown alone would wait for them).
        for fut in futures:
            fut.cancel()
        for proc in list((getattr(executor, "_processes", None) or {}).values()):
            try:
                proc.terminate()
            except Exception:  # already gone
                pass
        executor.shutdown(wait=True, cancel_futures=True)
        raise
    executor.shutdown(wait=True)


def _execute_dask(fn, todo, data, scheduler, threads, save, bar):
    # dask.distributed and joblib are the optional extra fastnn[distributed]: imported only
    # when a scheduler is given.
    try:
        import joblib
        from distributed import Client
    except ImportError as e:
        raise ImportError(
            "running on a Dask cluster (--scheduler) needs the optional dependencies dask "
            "distributed and joblib: pip install \"fastnn[distributed]\" (%s)" % e) from None
    own_client = not isinstance(scheduler, Client)
    client = Client(scheduler, timeout="20s") if own_client else scheduler
    try:
        where = "Dask at %s, %d thread%s per run" % (client.scheduler.address, threads,
                                                      "" if threads == 1 else "s")
        with joblib.parallel_backend("dask", client=client, scatter=[data]):
            results = joblib.Parallel(n_jobs=-1, return_as="generator_unordered")(
                joblib.delayed(_dask_task)(fn, task, data, threads) for task in todo)
            for rec in results:
                save(rec)
                bar.update(1)
    finally:
        if own_client:
            client.close()
    return where
