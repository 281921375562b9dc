"""The lab studies (fastnn.studies): the grid runner (resume, config changes, atomic files,
Ctrl-C, local processes, Dask), the optimizer and initializer studies on a small synthetic set
(artefacts consistent with the raw per-run data, recomputed here), and the ``fastnn study``
command on real MNIST with --quick (skipped without MNIST).

    FASTNN_DATA=/work/shared/datasets/mnist python -m pytest tests/test_studies.py -q
"""
import csv
import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import fastnn
from fastnn import cli, zoo
from fastnn.studies import aggregate, data as study_data, init as init_study
from fastnn.studies import optimizers as opt_study
from fastnn.studies import runner
from fastnn.studies.train import train_run
from fnn_testutil import PACKAGE_PARENT, mnist_dir


MNIST = mnist_dir()
TIMING_KEYS = ("wall_time", "threads", "epoch_time", "eval_time")


def on_mnist(test):
    """Marks a test that runs a study on the real MNIST: mnist, slow, skipped without it."""
    for mark in (pytest.mark.mnist, pytest.mark.slow,
                 pytest.mark.skipif(MNIST is None, reason="needs MNIST in FASTNN_DATA")):
        test = mark(test)
    return test


@pytest.fixture(scope="module")
def toy():
    return study_data.synthetic(n_train=256, n_test=128, dim=32, seed=3)


def tiny_cfg(**kw):
    base = dict(optimizers=["sgd", "adam"], activations=["relu"], runs=2, epochs=2,
                hidden=[16, 8], batch_size=32, eval_batch_size=64, loss_threshold=1.5)
    base.update(kw)
    return opt_study.resolve_config(**base)


def without_timings(rec):
    return {k: v for k, v in rec.items() if k not in TIMING_KEYS}


def read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def readable(run_id):
    """The readable part of a run id (without the config digest): 'sgd-lr0.1-relu-seed0'."""
    return run_id.rsplit("-", 1)[0]


def runs_on_disk(runs_dir, ids=None):
    """{run id: record} of the records in ``runs_dir`` (only ``ids`` when given)."""
    out = {}
    for name in os.listdir(runs_dir):
        if name.endswith(".json"):
            with open(os.path.join(runs_dir, name)) as fh:
                rec = json.load(fh)
            if ids is None or rec["id"] in ids:
                out[rec["id"]] = rec
    return out


def study_runs(out):
    """{readable id: record} of the runs the report in ``out`` was made from (config.json's
    manifest)."""
    with open(os.path.join(out, "config.json")) as fh:
        ids = json.load(fh)["runs"]
    recs = runs_on_disk(os.path.join(out, "runs"), set(ids))
    assert len(recs) == len(ids)
    return {readable(k): v for k, v in recs.items()}


def close(a, b, rel=1e-9):
    if a in ("", None) or b in ("", None):
        return a in ("", None) and b in ("", None)
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)


# --------------------------------------------------------------------------- one run
def test_a_run_records_consistent_curves(toy):
    cfg = tiny_cfg(optimizers=["adam"], runs=1, epochs=3)
    task = opt_study.make_tasks(cfg, toy)[0]
    rec = train_run(task["config"], toy)
    n_batches = math.ceil(toy.n_train / cfg["batch_size"])
    assert rec["epoch"] == [1, 2, 3] and rec["batches_per_epoch"] == [n_batches] * 3
    assert len(rec["batch_losses"]) == 3 * n_batches
    # the epoch loss is the sample-weighted mean of that epoch's batch losses
    sizes = [cfg["batch_size"]] * (n_batches - 1) + [toy.n_train - cfg["batch_size"] *
                                                     (n_batches - 1)]
    for e in range(3):
        b = rec["batch_losses"][e * n_batches:(e + 1) * n_batches]
        assert math.isclose(rec["loss"][e], np.dot(b, sizes) / toy.n_train, rel_tol=1e-9)
    # test metrics agree with an independent evaluation of a model trained the same way
    model = zoo.mlp(hidden=(16, 8), dropout=cfg["dropout"], input_dim=toy.x_train.shape[1],
                    seed=task["config"]["seed"])
    x, y, xt, yt = toy.arrays()
    model.fit(x, y, epochs=3, batch_size=32, optimizer=fastnn.optim.Adam(model.parameters()),
              seed=task["config"]["seed"], verbose=0)
    ev = model.evaluate(xt, yt)
    assert math.isclose(rec["test_accuracy"][-1], ev["accuracy"])
    assert math.isclose(rec["test_loss"][-1], ev["loss"], rel_tol=1e-6)
    assert rec["diverged"] is None and rec["loss"][-1] < rec["loss"][0]


def test_every_optimizer_starts_from_the_same_weights(toy):
    cfg = tiny_cfg(optimizers=list(opt_study.OPTIMIZERS), runs=1, epochs=1)
    tasks = opt_study.make_tasks(cfg, toy)
    recs = [train_run(t["config"], toy) for t in tasks]
    # same weights and same first batch: the first mini-batch loss (computed before any update)
    # is identical for all ten optimizers; afterwards the curves differ (AMSGrad is left out:
    # it equals Adam exactly as long as no second-moment estimate has decreased yet)
    assert len({r["batch_losses"][0] for r in recs}) == 1
    last = [r["batch_losses"][-1] for t, r in zip(tasks, recs)
            if t["config"]["optimizer"] != "amsgrad"]
    assert len(set(last)) == len(last) == 9
    assert {t["config"]["lr"] for t in tasks if t["config"]["optimizer"] == "sgd"} == {0.1}


def test_diverging_run_is_recorded_not_raised(toy):
    # lr 1e30: the weights reach ~1e30 in one step and the next forward overflows, whatever
    # the dropout masks (at 1e6 the run may stay finite, with huge losses)
    cfg = tiny_cfg(optimizers=["sgd"], runs=1, epochs=3, lr={"sgd": 1e30})
    rec = train_run(opt_study.make_tasks(cfg, toy)[0]["config"], toy)
    assert rec["diverged"] is not None and rec["diverged"]["epoch"] >= 1
    assert len(rec["loss"]) == rec["diverged"]["epoch"] - 1 == len(rec["test_accuracy"])


# --------------------------------------------------------------------------- runner
def test_resume_reuses_finished_runs_and_recomputes_changed_ones(toy, tmp_path):
    cfg = tiny_cfg()
    tasks = opt_study.make_tasks(cfg, toy)
    runs = str(tmp_path / "runs")
    first = runner.execute(train_run, tasks, toy, runs, jobs=1, progress=False)
    assert first.computed == [t["id"] for t in tasks] and first.reused == []
    assert sorted(os.listdir(runs)) == sorted([t["id"] + ".json" for t in tasks])
    again = runner.execute(train_run, tasks, toy, runs, jobs=1, progress=False)
    assert again.computed == [] and again.reused == [t["id"] for t in tasks]
    assert again.records == first.records

    # a run whose config differs (lr) is recomputed, not reused; so is a damaged file
    changed = tiny_cfg(lr={"adam": 5e-3})
    tasks2 = opt_study.make_tasks(changed, toy)
    victim = tasks2[0]["id"]
    with open(os.path.join(runs, victim + ".json"), "r+") as fh:
        fh.truncate(50)
    third = runner.execute(train_run, tasks2, toy, runs, jobs=1, progress=False)
    adam_ids = [t["id"] for t in tasks2 if t["config"]["optimizer"] == "adam"]
    assert sorted(third.computed) == sorted(set(adam_ids) | {victim})
    for t in tasks2:
        assert third.records[t["id"]]["config"] == runner.normalize(t["config"])
        assert runner.load_record(runs, t) is not None
    old_adam = [t["id"] for t in tasks if t["config"]["optimizer"] == "adam"]
    assert third.records[adam_ids[0]]["batch_losses"] != \
        first.records[old_adam[0]]["batch_losses"]
    # the other configuration's runs have other file names: still there, unchanged
    assert not set(adam_ids) & set(old_adam)
    for run_id in old_adam:
        with open(os.path.join(runs, run_id + ".json")) as fh:
            assert json.load(fh) == first.records[run_id]
    assert not [n for n in os.listdir(runs) if n.endswith(".tmp")]


def test_records_do_not_depend_on_parallelism(toy, tmp_path):
    cfg = tiny_cfg(optimizers=["sgd", "momentum", "adam"])
    tasks = opt_study.make_tasks(cfg, toy)
    serial = runner.execute(train_run, tasks, toy, str(tmp_path / "a"), jobs=1, threads=2,
                            progress=False)
    pooled = runner.execute(train_run, tasks, toy, str(tmp_path / "b"), jobs=2, progress=False)
    assert "2 local processes x 1 thread" in pooled.where
    assert {r["threads"] for r in pooled.records.values()} == {1}
    assert {r["threads"] for r in serial.records.values()} == {2}
    for t in tasks:
        assert without_timings(serial.records[t["id"]]) == \
            without_timings(pooled.records[t["id"]])


def test_dask_local_cluster_gives_the_local_results(toy, tmp_path):
    distributed = pytest.importorskip("distributed")
    pytest.importorskip("joblib")
    cfg = tiny_cfg(optimizers=["sgd", "nadam"])
    tasks = opt_study.make_tasks(cfg, toy)
    local = runner.execute(train_run, tasks, toy, str(tmp_path / "local"), jobs=1,
                           progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        remote = runner.execute(train_run, tasks, toy, str(tmp_path / "dask"),
                                scheduler=cluster.scheduler_address, progress=False)
        assert remote.where.startswith("Dask at tcp://")
        assert remote.computed == [t["id"] for t in tasks]
        # resuming works the same way on Dask: nothing left to compute
        again = runner.execute(train_run, tasks, toy, str(tmp_path / "dask"),
                               scheduler=cluster.scheduler_address, progress=False)
        assert again.computed == []
    for t in tasks:
        assert without_timings(local.records[t["id"]]) == \
            without_timings(remote.records[t["id"]])


def test_missing_dask_gives_an_install_hint(toy, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)      # import fails
    tasks = opt_study.make_tasks(tiny_cfg(optimizers=["sgd"], runs=1), toy)
    with pytest.raises(ImportError, match=r'pip install "fastnn\[distributed\]"'):
        runner.execute(train_run, tasks, toy, str(tmp_path), scheduler="tcp://127.0.0.1:1",
                       progress=False)


def test_bad_tasks_are_rejected(toy, tmp_path):
    task = opt_study.make_tasks(tiny_cfg(runs=1), toy)[0]
    with pytest.raises(ValueError, match="unique"):
        runner.execute(train_run, [task, task], toy, str(tmp_path), progress=False)
    with pytest.raises(ValueError, match="plain file name"):
        runner.execute(train_run, [dict(task, id="../x")], toy, str(tmp_path), progress=False)
    with pytest.raises(ValueError, match="jobs"):
        runner.execute(train_run, [task], toy, str(tmp_path), jobs=0, progress=False)


# Enough epochs that the runs left after the first two take seconds: the parent interrupts the
# child once two are on disk, and on a loaded machine (its polling descheduled) a shorter study
# could end before the signal arrives (the child then exits 0 instead of 130).
_INTERRUPTED_EPOCHS = 20
_INTERRUPTED_CHILD = """
import sys
from fastnn.studies import data, optimizers, runner
from fastnn.studies.train import train_run
d = data.synthetic(n_train=3000, n_test=200, dim=64, seed=1)
cfg = optimizers.resolve_config(optimizers=list(optimizers.OPTIMIZERS), activations=["relu"],
                                runs=2, epochs=%d, hidden=[64, 32], batch_size=32)
tasks = optimizers.make_tasks(cfg, d)
print(len(tasks), flush=True)
try:
    runner.execute(train_run, tasks, d, sys.argv[1], jobs=int(sys.argv[2]), threads=1,
                   progress=False)
except KeyboardInterrupt:
    sys.exit(130)
print("finished", flush=True)
""" % _INTERRUPTED_EPOCHS


@pytest.mark.parametrize("jobs", [1, 2])
def test_ctrl_c_keeps_finished_runs_and_a_rerun_resumes(tmp_path, jobs):
    runs = str(tmp_path / "runs")
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_INTERRUPTED_CHILD), runs, str(jobs)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=PACKAGE_PARENT)
    total = int(proc.stdout.readline())
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if os.path.isdir(runs) and len([n for n in os.listdir(runs)
                                        if n.endswith(".json")]) >= 2:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the study finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    done = runs_on_disk(runs)
    assert 2 <= len(done) < total
    assert not [n for n in os.listdir(runs) if n.endswith(".tmp")]

    d = study_data.synthetic(n_train=3000, n_test=200, dim=64, seed=1)
    cfg = opt_study.resolve_config(optimizers=list(opt_study.OPTIMIZERS),
                                   activations=["relu"], runs=2, epochs=_INTERRUPTED_EPOCHS,
                                   hidden=[64, 32], batch_size=32)
    tasks = opt_study.make_tasks(cfg, d)
    # only the first few are re-run here (the rest would just repeat the work)
    keep = [t for t in tasks if t["id"] in done] + \
        [t for t in tasks if t["id"] not in done][:1]
    resumed = runner.execute(train_run, keep, d, runs, jobs=1, progress=False)
    assert sorted(resumed.reused) == sorted(done)
    assert len(resumed.computed) == 1
    for run_id, rec in done.items():
        assert resumed.records[run_id] == rec


def test_atomic_write_replaces_whole_files(tmp_path):
    path = str(tmp_path / "x" / "f.txt")
    runner.atomic_write(path, "old\n")
    runner.atomic_write(path, "new\n")
    with open(path) as fh:
        assert fh.read() == "new\n"
    assert os.listdir(os.path.dirname(path)) == ["f.txt"]


# --------------------------------------------------------------------------- aggregation
def test_aggregate_helpers():
    assert aggregate.mean_std([1.0, 2.0, 3.0]) == (2.0, 1.0)
    assert aggregate.mean_std([4.0]) == (4.0, 0.0)
    assert all(math.isnan(v) for v in aggregate.mean_std([]))
    m, s = aggregate.curve_mean_std(aggregate.curve_matrix(
        [{"v": [1.0, 2.0, 3.0]}, {"v": [3.0, 4.0]}], "v"))
    assert m.tolist() == [2.0, 3.0, 3.0]
    assert np.allclose(s, [math.sqrt(2), math.sqrt(2), 0.0])
    assert aggregate.smooth([1, 3, 5, 7], 2).tolist() == [1.0, 2.0, 4.0, 6.0]
    assert aggregate.first_reach([0.9, 0.5, 0.2, 0.1], 0.25) == 3
    assert aggregate.first_reach([0.9, 0.5], 0.25) is None


# --------------------------------------------------------------------------- the studies
def check_optimizer_outputs(out, cfg):
    """Every artefact exists and the summary agrees with the raw per-run files."""
    for name in ["report.md", "summary.md", "summary.csv", "epochs.csv", "batch_losses.csv",
                 "config.json"] + ["loss_%s.png" % a for a in cfg["activations"]]:
        assert os.path.getsize(os.path.join(out, name)) > 0, name
    for a in cfg["activations"]:
        with open(os.path.join(out, "loss_%s.png" % a), "rb") as fh:
            assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    recs = study_runs(out)
    seeds = range(cfg["seed_offset"], cfg["seed_offset"] + cfg["runs"])
    expected_ids = {"%s-lr%g-%s-seed%d" % (o, lr, a, s) for o in cfg["optimizers"]
                    for lr in cfg["lr"][o] for a in cfg["activations"] for s in seeds}
    assert expected_ids == set(recs)
    rows = read_csv(os.path.join(out, "summary.csv"))
    assert len(rows) == len(opt_study.series(cfg)) * len(cfg["activations"])
    thr = cfg["loss_threshold"]
    for act in cfg["activations"]:
        act_rows = [r for r in rows if r["activation"] == act]
        assert [int(r["rank"]) for r in act_rows] == list(range(1, len(act_rows) + 1))
        finals = [float(r["final_loss_mean"]) for r in act_rows]
        assert finals == sorted(finals)
        for r in act_rows:
            lr = float(r["lr"])
            group = [recs["%s-lr%g-%s-seed%d" % (r["optimizer"], lr, act, s)] for s in seeds]
            assert lr in cfg["lr"][r["optimizer"]]
            assert all(g["config"]["lr"] == lr for g in group)
            final = np.array([g["loss"][-1] for g in group])
            acc = np.array([g["test_accuracy"][-1] for g in group])
            ddof = 1 if len(group) > 1 else 0
            assert close(r["final_loss_mean"], final.mean())
            assert close(r["final_loss_std"], final.std(ddof=ddof))
            assert close(r["test_accuracy_mean"], acc.mean())
            assert close(r["test_accuracy_std"], acc.std(ddof=ddof))
            reached = []
            for g in group:
                hit = [i for i, v in enumerate(g["loss"]) if v <= thr]
                if hit:
                    reached.append((hit[0] + 1, sum(g["epoch_time"][:hit[0] + 1])))
            assert int(r["threshold_reached"]) == len(reached)
            if reached:
                assert close(r["epochs_to_threshold_mean"], np.mean([e for e, _ in reached]))
                assert close(r["seconds_to_threshold_mean"], np.mean([s for _, s in reached]))
            else:
                assert r["epochs_to_threshold_mean"] in ("", "nan")
            if "sgd" in cfg["optimizers"]:
                base = np.mean([recs["sgd-lr%g-%s-seed%d" % (cfg["lr"]["sgd"][0], act, s)]
                                ["loss"][-1] for s in seeds])
                assert close(r["final_loss_vs_sgd"], final.mean() / base)
            else:
                assert r["final_loss_vs_sgd"] == ""
    # the long CSV holds every epoch of every run, exactly
    epochs = read_csv(os.path.join(out, "epochs.csv"))
    for row in epochs:
        rec = recs[readable(row["run"])]
        i = int(row["epoch"]) - 1
        assert float(row["loss"]) == rec["loss"][i]
        assert float(row["test_accuracy"]) == rec["test_accuracy"][i]
    assert len(epochs) == sum(len(recs[i]["epoch"]) for i in expected_ids)
    with open(os.path.join(out, "batch_losses.csv")) as fh:
        cols = next(csv.reader(fh))
    assert cols[0] == "iteration" and {readable(c) for c in cols[1:]} == expected_ids
    with open(os.path.join(out, "report.md")) as fh:
        text = fh.read()
    assert "fastnn study optimizers" in text
    for a in cfg["activations"]:
        assert "](loss_%s.png)" % a in text
    for o in cfg["optimizers"]:
        assert opt_study.LABELS[o] in text
    return recs, rows


def test_optimizer_study_on_synthetic_data(toy, tmp_path):
    cfg = tiny_cfg(activations=["sigmoid", "relu"], optimizers=["sgd", "rmsprop", "adam"])
    out = str(tmp_path / "opt")
    rows, ex = opt_study.run_study(cfg, toy, out, jobs=1, progress=False, print_fn=None)
    recs, csv_rows = check_optimizer_outputs(out, cfg)
    assert len(ex.computed) == 3 * 2 * 2
    with open(os.path.join(out, "summary.md")) as fh:
        md = fh.read()
    for r in rows:   # the markdown table shows the same numbers as the CSV
        assert "%.4g ± " % r["final_loss_mean"] in md


def test_resolve_config_rejects_bad_values():
    with pytest.raises(ValueError, match="optimizers: unknown 'adamw2'"):
        opt_study.resolve_config(optimizers=["adamw2"])
    with pytest.raises(ValueError, match="lr: unknown optimizer"):
        opt_study.resolve_config(lr={"foo": 1.0})
    with pytest.raises(ValueError, match="runs must be a positive integer"):
        opt_study.resolve_config(runs=0)
    with pytest.raises(ValueError, match="schemes: unknown"):
        init_study.resolve_config(schemes=["xavier_magic"])
    with pytest.raises(ValueError, match="parts: unknown"):
        init_study.resolve_config(parts=["3"])
    q = opt_study.resolve_config(quick=True, epochs=3)
    assert q["runs"] == opt_study.QUICK["runs"] and q["epochs"] == 3
    assert q["lr"] == {k: [opt_study.DEFAULT_LR[k]] for k in opt_study.OPTIMIZERS}


def check_init_outputs(out, cfg):
    seeds = list(range(cfg["seed_offset"], cfg["seed_offset"] + cfg["runs"]))
    recs = study_runs(out)
    for name in ["report.md", "config.json", "part1_curves.png", "part1_summary.csv",
                 "part1_summary.md", "part2_summary.csv", "part2_summary.md",
                 "activation_stats.png", "activation_hist.png", "activation_stats.csv",
                 "activation_stats.md", "epochs.csv", "batch_losses.csv"] + \
            ["part2_%s.png" % a for a in cfg["activations"]] + \
            ["weights/%s.png" % i for i in cfg["initializers"]]:
        assert os.path.getsize(os.path.join(out, name)) > 0, name
    # part 1: one row per initializer, numbers from the run files
    p1 = read_csv(os.path.join(out, "part1_summary.csv"))
    assert [r["initializer"] for r in p1] == cfg["initializers"]
    for r in p1:
        rec = recs["p1-%s-seed%d" % (r["initializer"], cfg["seed_offset"])]
        assert rec["config"]["optimizer"] == "adam" and rec["config"]["activation"] == "relu"
        assert close(r["final_loss_mean"], rec["loss"][-1])
        assert close(r["test_accuracy_mean"], rec["test_accuracy"][-1])
        assert close(r["best_test_accuracy_mean"], max(rec["test_accuracy"]))
        assert len(rec["weights"]) == len(cfg["hidden"]) + 1
        for w in rec["weights"]:
            n = int(np.prod(w["shape"]))
            assert sum(w["start_counts"]) == n and sum(w["end_counts"]) == n
    accs = {r["initializer"]: float(r["test_accuracy_mean"]) for r in p1}
    ranked = sorted(p1, key=lambda r: int(r["rank"]))
    assert [accs[r["initializer"]] for r in ranked] == sorted(accs.values(), reverse=True)
    # part 2
    p2 = read_csv(os.path.join(out, "part2_summary.csv"))
    assert len(p2) == len(init_study.scheme_entries(cfg)) * len(cfg["activations"])
    for r in p2:
        group = [recs["p2-%s-%s-seed%d" % (r["scheme"], r["activation"], s)] for s in seeds]
        final = np.array([g["loss"][-1] for g in group])
        acc = np.array([g["test_accuracy"][-1] for g in group])
        assert close(r["final_loss_mean"], final.mean())
        assert close(r["final_loss_std"], final.std(ddof=1 if len(seeds) > 1 else 0))
        assert close(r["test_accuracy_mean"], acc.mean())
        assert close(r["first_batch_loss_mean"], np.mean([g["batch_losses"][0] for g in group]))
        assert all(g["config"]["optimizer"] == cfg["optimizer"] for g in group)
    with open(os.path.join(out, "report.md")) as fh:
        text = fh.read()
    assert "fastnn study init" in text
    for name in ["part1_curves.png", "activation_stats.png"] + \
            ["weights/%s.png" % i for i in cfg["initializers"]]:
        assert "](%s)" % name in text
    return recs, p1, p2


def test_init_study_on_synthetic_data(toy, tmp_path):
    cfg = init_study.resolve_config(
        initializers=["zeros", "identity", "glorot_uniform"], part1_epochs=2,
        schemes=["normal", "glorot_normal", "he_normal"], runs=2, epochs=2, hidden=[16, 8],
        batch_size=32, eval_batch_size=64, stats_batch=128)
    out = str(tmp_path / "init")
    result = init_study.run_study(cfg, toy, out, jobs=1, progress=False, print_fn=None)
    recs, p1, p2 = check_init_outputs(out, cfg)
    # zeros: every kernel stays exactly zero (ReLU of 0 passes no gradient to any kernel)
    zeros = recs["p1-zeros-seed0"]["weights"]
    assert all(w["end_std"] == 0.0 and w["end_mean"] == 0.0 for w in zeros)
    # identity works on the non-square kernels (eye of the shape)
    ident = recs["p1-identity-seed0"]["weights"][0]
    assert ident["shape"] == [32, 16] and math.isclose(ident["start_mean"], 16 / (32 * 16))

    stats = read_csv(os.path.join(out, "activation_stats.csv"))
    assert len(stats) == 3 * 2 * 3          # schemes x activations x Dense layers
    x = toy.arrays()[0][:128].astype(np.float64)
    for r in stats:
        # recompute the first layer's pre-activation statistics independently
        if r["layer_index"] == "1":
            init = init_study.scheme_init(cfg, r["scheme"])
            model = zoo.mlp(hidden=(16, 8), activation=r["activation"], dropout=0.0,
                            kernel_initializer=fastnn.initializers.get(init),
                            input_dim=x.shape[1], seed=0)
            z = x @ model.layers[0].kernel.value.astype(np.float64)
            assert close(r["z_std"], z.std(), rel=1e-6)
            assert close(r["z_mean"], z.mean(), rel=1e-6)
        if r["layer_index"] in ("1", "2"):
            # the variance argument predicts the first layers' spread (many units)
            assert abs(float(r["z_std"]) / float(r["z_std_predicted"]) - 1) < 0.25
    sat = {(r["activation"], r["scheme"]): float(r["saturated"]) for r in stats
           if r["layer_index"] == "1"}
    # only 32 inputs here (std z about 3.5 for N(0, 1)): fewer saturate than with 784
    assert sat[("sigmoid", "normal")] > 0.1 > 0.01 > sat[("sigmoid", "glorot_normal")]
    assert set(result) >= {"part1", "part2", "stats", "execution"}


def test_init_statistics_match_an_independent_float64_backprop(toy):
    cfg = init_study.resolve_config(parts=["stats"], schemes=["normal", "he_normal"],
                                    hidden=[16, 8], stats_batch=200)
    rows, _ = init_study.activation_statistics(cfg, toy)
    x, y, _, _ = toy.arrays()
    x, y = x[:200].astype(np.float64), y[:200]
    for act in cfg["activations"]:
        for scheme in cfg["schemes"]:
            model = zoo.mlp(hidden=(16, 8), activation=act, dropout=0.0, input_dim=x.shape[1],
                            kernel_initializer=fastnn.initializers.get(
                                init_study.scheme_init(cfg, scheme)), seed=0)
            ws = [layer.kernel.value.astype(np.float64) for layer in model.layers]
            f = (lambda z: 1 / (1 + np.exp(-z))) if act == "sigmoid" else \
                (lambda z: np.maximum(z, 0))
            hs, zs = [x], []
            for i, w in enumerate(ws):                       # biases are zero
                zs.append(hs[-1] @ w)
                hs.append(f(zs[-1]) if i < len(ws) - 1 else zs[-1])
            p = np.exp(hs[-1] - hs[-1].max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            g = p.copy()
            g[np.arange(len(y)), y] -= 1
            g /= len(y)
            expect = {}
            for i in reversed(range(len(ws))):
                if i == len(ws) - 1:
                    dz = g
                elif act == "sigmoid":
                    dz = g * hs[i + 1] * (1 - hs[i + 1])
                else:
                    dz = g * (zs[i] > 0)
                expect[i + 1] = (g.std(), (hs[i].T @ dz).std(), hs[i + 1].std())
                g = dz @ ws[i].T
            for r in (r for r in rows if r["activation"] == act and r["scheme"] == scheme):
                grad_out, grad_w, a_std = expect[r["layer_index"]]
                assert math.isclose(r["grad_out_std"], grad_out, rel_tol=1e-3)
                assert math.isclose(r["grad_w_std"], grad_w, rel_tol=1e-3)
                assert math.isclose(r["a_std"], a_std, rel_tol=1e-3)


def test_init_statistics_show_the_saturation_argument_on_784_inputs():
    # 784 unit-variance inputs and N(0, 1) weights: std(z) = sqrt(784) = 28, sigmoid saturated
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 784)).astype(np.float32)
    y = rng.integers(0, 10, 400)
    d = study_data.StudyData(x, y, x[:10], y[:10], name="unit normal inputs")
    cfg = init_study.resolve_config(parts=["stats"], activations=["sigmoid"],
                                    schemes=["normal", "glorot_normal"], stats_batch=400)
    rows, _ = init_study.activation_statistics(cfg, d)
    first = {r["scheme"]: r for r in rows if r["layer_index"] == 1}
    assert 26 < first["normal"]["z_std"] < 30
    assert first["normal"]["saturated"] > 0.8
    assert first["glorot_normal"]["z_std"] < 1.5 and first["glorot_normal"]["saturated"] < 0.01


# --------------------------------------------------------------------------- command line
def run_cli(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv", [["study", "--help"], ["study", "optimizers", "--help"],
                                  ["study", "init", "--help"]])
def test_help(capsys, argv):
    code, out, err = run_cli(capsys, *argv)
    assert code == 0 and out.startswith("usage: fastnn study") and err == ""


def test_optimizers_help_lists_options_and_learning_rates(capsys):
    _, out, _ = run_cli(capsys, "study", "optimizers", "--help")
    text = " ".join(out.split())
    for opt in ("--runs", "--epochs", "--optimizers", "--activations", "--train-size",
                "--data-dir", "--out", "--seed-offset", "--threads", "--jobs", "--scheduler",
                "--log-scale", "--quick", "--lr", "--quiet"):
        assert opt in text
    assert "sgd 0.1" in text and "adam 0.001" in text


@pytest.mark.parametrize("argv, needle", [
    (["study", "optimizers", "--optimizers", "sgd,adamz"], "unknown 'adamz'"),
    (["study", "optimizers", "--lr", "adam:0.1"], "argument --lr: expected name=value"),
    (["study", "optimizers", "--lr", "adam=-1"], "argument --lr: expected name=value"),
    (["study", "optimizers", "--optimizers", " , "], "expected a comma-separated list"),
    (["study", "optimizers", "--jobs", "0"], "--jobs must be a positive integer"),
    (["study", "optimizers", "--runs", "0"], "runs must be a positive integer"),
    (["study", "init", "--parts", "1,4"], "parts: unknown '4'"),
    (["study", "init", "--optimizer", "lbfgs"], "optimizer: unknown 'lbfgs'"),
])
def test_bad_arguments_exit_2_with_one_line(capsys, argv, needle):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1


def test_missing_mnist_exits_2(capsys, tmp_path, monkeypatch):
    # hermetic: no MNIST in a cache of this machine's user may answer for the empty --data-dir
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FASTNN_DATA", raising=False)
    code, _, err = run_cli(capsys, "study", "optimizers", "--quick", "--no-download",
                           "--data-dir", str(tmp_path), "--out", str(tmp_path / "o"))
    # an explicit --data-dir is the only place looked (issue 11; docs/data.md)
    assert code == 2 and "train-images" in err and "only place looked" in err


@on_mnist
def test_cli_optimizer_study_quick_and_resume(capsys, tmp_path):
    out = str(tmp_path / "opt")
    code, stdout, err = run_cli(capsys, "study", "optimizers", "--quick", "--data-dir", MNIST,
                                "--out", out, "--jobs", "2")
    assert code == 0, err
    cfg = opt_study.resolve_config(quick=True)
    recs, rows = check_optimizer_outputs(out, cfg)
    assert "0 runs reused, 40 computed" in stdout
    assert all(r["config"]["data"]["train_size"] == cfg["train_size"] for r in recs.values())
    assert "SGD 0.1" in stdout                 # the learning rates are printed
    # the same command again: everything is reused, the artefacts are rebuilt identically
    with open(os.path.join(out, "summary.csv")) as fh:
        before = fh.read()
    code, stdout, _ = run_cli(capsys, "study", "optimizers", "--quick", "--data-dir", MNIST,
                              "--out", out, "--quiet")
    assert code == 0 and stdout == ""
    with open(os.path.join(out, "summary.csv")) as fh:
        after = fh.read()
    strip = [c for c in ("seconds_to_threshold_mean", "run_seconds_mean")]
    assert _drop_columns(before, strip) == _drop_columns(after, strip)
    # another learning rate for SGD: only the SGD runs are recomputed
    code, stdout, _ = run_cli(capsys, "study", "optimizers", "--quick", "--data-dir", MNIST,
                              "--out", out, "--lr", "sgd=0.05", "--optimizers", "sgd,adam")
    assert code == 0
    assert "4 runs reused, 4 computed" in stdout


def _drop_columns(text, columns):
    rows = list(csv.DictReader(text.splitlines()))
    return [{k: v for k, v in r.items() if k not in columns} for r in rows]


@on_mnist
def test_cli_init_study_quick(capsys, tmp_path):
    out = str(tmp_path / "init")
    code, stdout, err = run_cli(capsys, "study", "init", "--quick", "--data-dir", MNIST,
                                "--out", out)
    assert code == 0, err
    cfg = init_study.resolve_config(quick=True)
    recs, p1, p2 = check_init_outputs(out, cfg)
    assert len(p1) == 14
    # 784 MNIST inputs in [0, 1] with N(0, 1) weights: std(z) = sqrt(E||x||^2), ~9-10
    stats = read_csv(os.path.join(out, "activation_stats.csv"))
    first = [r for r in stats if r["scheme"] == "normal" and r["layer_index"] == "1"]
    assert all(7 < float(r["z_std"]) < 12 for r in first)
    assert "initializer study" in stdout


# --------------------------------------------------------------------------- issue 13: options
def test_lr_sweep_gives_one_series_per_rate(toy, tmp_path):
    cfg = tiny_cfg(optimizers=["sgd", "adam"], runs=1, lr={"sgd": [0.1, 0.03], "adam": 1e-3})
    assert cfg["lr"] == {"sgd": [0.1, 0.03], "adam": [1e-3]}
    assert opt_study.series(cfg) == [("sgd", 0.1), ("sgd", 0.03), ("adam", 1e-3)]
    out = str(tmp_path / "sweep")
    opt_study.run_study(cfg, toy, out, jobs=1, progress=False, print_fn=None)
    recs, rows = check_optimizer_outputs(out, cfg)
    assert sorted(float(r["lr"]) for r in rows if r["optimizer"] == "sgd") == [0.03, 0.1]
    # the two SGD series really ran at their rates and differ
    a, b = recs["sgd-lr0.1-relu-seed0"], recs["sgd-lr0.03-relu-seed0"]
    assert a["batch_losses"][0] == b["batch_losses"][0] and a["loss"] != b["loss"]
    # the baseline is SGD's first rate
    sgd01 = next(r for r in rows if r["optimizer"] == "sgd" and float(r["lr"]) == 0.1)
    assert float(sgd01["final_loss_vs_sgd"]) == 1.0
    for bad, match in (({"sgd": [0.1, 0.1]}, "twice"), ({"sgd": []}, "no learning rate"),
                       ({"sgd": [0.1, -1]}, "positive")):
        with pytest.raises(ValueError, match=match):
            tiny_cfg(lr=bad)


def test_without_sgd_no_legend_or_report_claims_a_baseline(toy, tmp_path):
    cfg = tiny_cfg(optimizers=["adam", "rmsprop"], runs=1, epochs=1)
    out = str(tmp_path / "nosgd")
    opt_study.run_study(cfg, toy, out, jobs=1, progress=False, print_fn=None)
    check_optimizer_outputs(out, cfg)
    with open(os.path.join(out, "report.md")) as fh:
        text = fh.read()
    assert "baseline" in text and "SGD was not in this grid" in text
    assert "black dashed baseline" not in text and "loss / SGD" not in text
    with open(os.path.join(out, "summary.md")) as fh:
        assert "loss / SGD" not in fh.read()


def test_momentum_hidden_init_and_activation_options(toy):
    cfg = tiny_cfg(optimizers=["sgd", "momentum", "nesterov"], runs=1, epochs=1, momentum=0.5,
                   hidden=[12], init="HeNormal", activations=["tanh"])
    assert cfg["init"] == "he_normal" and cfg["hidden"] == [12]
    tasks = opt_study.make_tasks(cfg, toy)
    by_opt = {t["config"]["optimizer"]: t["config"] for t in tasks}
    assert by_opt["momentum"]["momentum"] == by_opt["nesterov"]["momentum"] == 0.5
    assert "momentum" not in by_opt["sgd"]         # SGD's runs do not depend on it
    assert all(c["hidden"] == [12] and c["init"] == "he_normal" and c["activation"] == "tanh"
               for c in by_opt.values())
    rec = train_run(by_opt["momentum"], toy)
    # the run is SGD(momentum=0.5): replay it by hand
    model = zoo.mlp(hidden=(12,), activation="tanh", dropout=cfg["dropout"],
                    kernel_initializer="he_normal", input_dim=toy.x_train.shape[1], seed=0)
    x, y, _, _ = toy.arrays()
    h = model.fit(x, y, epochs=1, batch_size=cfg["batch_size"], seed=0, verbose=0,
                  optimizer=fastnn.optim.SGD(model.parameters(), lr=cfg["lr"]["momentum"][0],
                                             momentum=0.5))
    assert rec["batch_losses"] == h.batch_losses
    with pytest.raises(ValueError, match="momentum must be"):
        tiny_cfg(momentum=1.5)
    with pytest.raises(ValueError, match="hidden"):
        opt_study.resolve_config(model="cnn", hidden=[64])


def test_empty_lists_are_refused():
    for kw, match in ((dict(optimizers=[]), "optimizers must name"),
                      (dict(activations=[]), "activations must name")):
        with pytest.raises(ValueError, match=match):
            opt_study.resolve_config(**kw)
    for kw, match in ((dict(parts=[]), "parts must name"),
                      (dict(initializers=[]), "initializers must name"),
                      (dict(schemes=[]), "schemes must name"),
                      (dict(normal_std=[]), "normal_std")):
        with pytest.raises(ValueError, match=match):
            init_study.resolve_config(**kw)


def test_keras_class_names_are_accepted_everywhere():
    cfg = init_study.resolve_config(initializers=["RandomNormal", "he_normal", "GLOROT_UNIFORM"],
                                    schemes=["normal", "GlorotNormal", "xavier_uniform"])
    assert cfg["initializers"] == ["random_normal", "he_normal", "glorot_uniform"]
    assert cfg["schemes"] == ["normal", "glorot_normal", "glorot_uniform"]
    with pytest.raises(ValueError, match="unknown initializer 'Magic'"):
        init_study.resolve_config(initializers=["Magic"])
    with pytest.raises(ValueError, match="lists a name twice"):
        init_study.resolve_config(initializers=["HeNormal", "he_normal"])


def test_run_ids_carry_the_settings_and_reports_their_manifest(toy, tmp_path):
    out = str(tmp_path / "same-out")
    first = tiny_cfg(optimizers=["sgd"], runs=1, epochs=1, hidden=[16, 8])
    second = tiny_cfg(optimizers=["sgd"], runs=1, epochs=1, hidden=[10])
    opt_study.run_study(first, toy, out, jobs=1, progress=False, print_fn=None)
    before = runs_on_disk(os.path.join(out, "runs"))
    opt_study.run_study(second, toy, out, jobs=1, progress=False, print_fn=None)
    after = runs_on_disk(os.path.join(out, "runs"))
    # the first configuration's records are all still there, unchanged; the second added its
    assert len(after) == 2 * len(before) and all(after[k] == v for k, v in before.items())
    with open(os.path.join(out, "config.json")) as fh:
        doc = json.load(fh)
    assert doc["config"]["hidden"] == [10] and not set(doc["runs"]) & set(before)
    with open(os.path.join(out, "report.md")) as fh:
        text = fh.read()
    assert "Run manifest `%s`" % doc["manifest"] in text and "--hidden 10" in text


def test_interrupted_report_never_pairs_with_another_config(toy, tmp_path, monkeypatch):
    out = str(tmp_path / "o")
    opt_study.run_study(tiny_cfg(optimizers=["sgd"], runs=1, epochs=1), toy, out, jobs=1,
                        progress=False, print_fn=None)
    with open(os.path.join(out, "config.json")) as fh:
        old = json.load(fh)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(opt_study.plots, "comparison_figure", interrupted)
    with pytest.raises(KeyboardInterrupt):       # Ctrl-C while the figures are drawn
        opt_study.run_study(tiny_cfg(optimizers=["adam"], runs=1, epochs=1), toy, out,
                            jobs=1, progress=False, print_fn=None)
    # no report.md at all (the old one is gone, the new one not written), config.json the
    # old one: never a report.md of one study next to the config.json of another
    assert not os.path.exists(os.path.join(out, "report.md"))
    with open(os.path.join(out, "config.json")) as fh:
        assert json.load(fh) == old
    monkeypatch.undo()
    opt_study.run_study(tiny_cfg(optimizers=["adam"], runs=1, epochs=1), toy, out, jobs=1,
                        progress=False, print_fn=None)
    with open(os.path.join(out, "config.json")) as fh:
        doc = json.load(fh)
    with open(os.path.join(out, "report.md")) as fh:
        assert "Run manifest `%s`" % doc["manifest"] in fh.read()
    assert doc["config"]["optimizers"] == ["adam"]


@pytest.mark.parametrize("edit, what", [
    (lambda r: r.pop("loss"), "'loss' is missing"),
    (lambda r: r.update(batch_losses="x"), "'batch_losses' must be a list of numbers"),
    (lambda r: r.update(test_accuracy=r["test_accuracy"][:-1]), "'test_accuracy' has"),
    (lambda r: r.update(init_test={}), "'init_test'"),
])
def test_edited_record_is_an_error_naming_the_file(toy, tmp_path, capsys, edit, what):
    cfg = tiny_cfg(optimizers=["sgd"], runs=1, epochs=2)
    out = str(tmp_path / "o")
    opt_study.run_study(cfg, toy, out, jobs=1, progress=False, print_fn=None)
    path = os.path.join(out, "runs", [n for n in os.listdir(os.path.join(out, "runs"))
                                      if n.endswith(".json")][0])
    with open(path) as fh:
        rec = json.load(fh)
    edit(rec)
    with open(path, "w") as fh:
        json.dump(rec, fh)
    with pytest.raises(ValueError) as info:
        opt_study.run_study(cfg, toy, out, jobs=1, progress=False, print_fn=None)
    assert path in str(info.value) and what in str(info.value) and "delete it" in str(info.value)


def test_cnn_studies_on_synthetic_images(tmp_path):
    toy_images = study_data.synthetic(n_train=96, n_test=48, dim=64, seed=5)   # 8x8 images
    cfg = opt_study.resolve_config(model="cnn", optimizers=["sgd", "adam"], runs=1, epochs=1,
                                   activations=["relu"], batch_size=32, eval_batch_size=48)
    assert cfg["hidden"] is None and cfg["dropout"] == 0.5
    out = str(tmp_path / "opt-cnn")
    opt_study.run_study(cfg, toy_images, out, jobs=1, progress=False, print_fn=None)
    recs, _ = check_optimizer_outputs(out, cfg)
    assert all(r["config"]["model"] == "cnn" and "hidden" not in r["config"]
               for r in recs.values())
    with open(os.path.join(out, "report.md")) as fh:
        text = fh.read()
    assert "--model cnn" in text and "CNN conv32" in text and "--hidden" not in text

    icfg = init_study.resolve_config(model="cnn", runs=1, epochs=1, batch_size=32,
                                     eval_batch_size=48, stats_batch=16, parts=["1", "2", "stats"],
                                     initializers=["glorot_uniform", "zeros"], part1_epochs=1)
    assert icfg["normal_std"] == [0.01, 0.005] and icfg["activations"] == ["relu"]
    assert [k for k, _, _ in init_study.scheme_entries(icfg)] == [
        "glorot_normal", "he_normal", "normal0.01", "normal0.005"]
    out = str(tmp_path / "init-cnn")
    init_study.run_study(icfg, toy_images, out, jobs=1, progress=False, print_fn=None)
    recs = study_runs(out)
    assert set(recs) >= {"p2-normal0.01-relu-seed0", "p2-normal0.005-relu-seed0"}
    stds = {k: recs["p2-%s-relu-seed0" % k]["config"]["init"] for k in ("normal0.01",
                                                                       "normal0.005")}
    assert stds["normal0.01"]["config"]["stddev"] == 0.01
    kernels = recs["p1-glorot_uniform-seed0"]["weights"]
    assert [w["layer"] for w in kernels] == ["conv 1", "conv 2", "dense 1", "dense 2"]
    assert kernels[0]["shape"] == [32, 1, 3, 3]
    stats = read_csv(os.path.join(out, "activation_stats.csv"))
    assert len(stats) == 4 * 4                       # schemes x weighted layers
    first = [r for r in stats if r["layer"] == "conv 1"]
    for r in first:   # the variance argument on image patches, for the first conv layer
        assert abs(float(r["z_std"]) / float(r["z_std_predicted"]) - 1) < 0.25
    with open(os.path.join(out, "part2_summary.md")) as fh:
        assert "N(0, 0.01)" in fh.read()


def test_series_styles_differ_in_colour_and_line_style():
    from fastnn.studies import plots
    names = list(init_study.KERAS_INITIALIZERS)
    style = plots.series_style(names)
    colours = [style[n][0] for n in names]
    assert len(set(colours)) == 14                   # no two initializers share a colour
    assert len({(c, ls) for c, ls, _, _ in style.values()}) == 14
    for a, b in zip(names, names[1:]):               # neighbours differ in both
        assert style[a][0] != style[b][0] and style[a][1] != style[b][1]
    assert plots.series_style(["sgd", "adam"], baseline="sgd")["sgd"][:2] == ("black", "--")


@pytest.mark.parametrize("argv, needle", [
    (["study", "optimizers", "--lr", "adam=1e-3,adam=2"], "adam is given twice"),
    (["study", "optimizers", "--lr", "sgd=0.1", "--lr", "sgd=0.2"], "sgd is given twice"),
    (["study", "optimizers", "--lr", "0.1,sgd=0.2"], "expected name=value"),
    (["study", "optimizers", "--lr", "sgd=0.1,,0.2"], "empty item"),
    (["study", "optimizers", "--optimizers", ""], "expected a comma-separated list"),
    (["study", "init", "--parts", ""], "expected a comma-separated list"),
    (["study", "optimizers", "--hidden", ""], "positive layer widths"),
    (["study", "optimizers", "--hidden", "5,,5"], "positive layer widths"),
    (["study", "optimizers", "--model", "cnn", "--hidden", "64"], "hidden sets the MLP"),
    (["study", "init", "--normal-std", "0.01,-1"], "positive numbers"),
    (["study", "init", "--initializers", "Magic"], "unknown initializer 'magic'"),
])
def test_more_bad_arguments_exit_2_with_one_line(capsys, argv, needle):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1, err


def test_lr_option_parses_sweeps():
    from fastnn.cli import study as cli_study
    parser = cli.build_parser()
    args = parser.parse_args(["study", "optimizers", "--lr", "sgd=0.1,0.03,adam=1e-3",
                              "--lr", "momentum=0.1"])
    assert args.lr == {"sgd": [0.1, 0.03], "adam": [1e-3], "momentum": [0.1]}
    assert cli_study.lr_overrides("adam=1e-3") == {"adam": [1e-3]}
    args = parser.parse_args(["study", "init", "--initializers", "RandomNormal,he_normal",
                              "--normal-std", "0.01,0.005", "--activation", "relu"])
    cfg = init_study.resolve_config(initializers=args.initializers, normal_std=args.normal_std,
                                    activations=args.activations)
    assert cfg["initializers"] == ["random_normal", "he_normal"]
    assert cfg["normal_std"] == [0.01, 0.005] and cfg["activations"] == ["relu"]


@on_mnist
def test_rerun_command_in_report_reproduces_the_records(capsys, tmp_path):
    import shlex
    # settings given through the API, several of them not the defaults
    cfg = opt_study.resolve_config(optimizers=["sgd", "momentum"], activations=["relu"],
                                   runs=1, epochs=1, hidden=[32], init="HeUniform",
                                   momentum=0.7, lr={"sgd": [0.1, 0.05]}, train_size=600,
                                   test_size=300, eval_batch_size=150, dropout=0.1)
    d = study_data.mnist(MNIST, cfg["train_size"], cfg["test_size"])
    out = str(tmp_path / "api")
    opt_study.run_study(cfg, d, out, jobs=1, progress=False, print_fn=None, data_dir=MNIST)
    with open(os.path.join(out, "report.md")) as fh:
        text = fh.read()
    command = text.split("```\n")[1].split("\n```")[0]
    argv = shlex.split(command)
    assert argv[:3] == ["fastnn", "study", "optimizers"]
    again = str(tmp_path / "cli")
    argv[argv.index("--out") + 1] = again
    code, _, err = run_cli(capsys, *(argv[1:] + ["--quiet", "--jobs", "1"]))
    assert code == 0, err
    a, b = study_runs(out), study_runs(again)
    assert set(a) == set(b) and len(a) == 3
    for k in a:
        assert a[k]["id"] == b[k]["id"]                  # same configuration, same digest
        assert without_timings(a[k]) == without_timings(b[k])

    icfg = init_study.resolve_config(parts=["2"], schemes=["normal", "HeNormal"],
                                     normal_std=[0.5, 0.1], activations=["sigmoid"], runs=1,
                                     epochs=1, hidden=[24], train_size=600, test_size=300,
                                     eval_batch_size=300, lr=0.2)
    d = study_data.mnist(MNIST, icfg["train_size"], icfg["test_size"])
    out = str(tmp_path / "init-api")
    init_study.run_study(icfg, d, out, jobs=1, progress=False, print_fn=None, data_dir=MNIST)
    with open(os.path.join(out, "report.md")) as fh:
        argv = shlex.split(fh.read().split("```\n")[1].split("\n```")[0])
    again = str(tmp_path / "init-cli")
    argv[argv.index("--out") + 1] = again
    code, _, err = run_cli(capsys, *(argv[1:] + ["--quiet", "--jobs", "1"]))
    assert code == 0, err
    a, b = study_runs(out), study_runs(again)
    assert set(a) == set(b) and len(a) == 3
    for k in a:
        assert without_timings(a[k]) == without_timings(b[k])
