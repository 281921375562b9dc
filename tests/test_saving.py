"""Checkpoints against hostile files and faults (issue 11): ``load_model`` bounds what it reads
by what the header declares and the stored arrays confirm, refuses wrong dtypes, poisoned or
aliased optimizer state and non-regular files; ``save`` cleans up after killed writers, names
the target in errors, refuses empty paths and directories, and follows symbolic links.
Memory is measured as the peak RSS of a child process (tests/hostile_files.py)."""
import errno
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import zipfile

import numpy as np
import pytest

import fastnn
import hostile_files as H
from fnn_testutil import PACKAGE_PARENT
from fastnn import _atomic, saving
from fastnn import layers as L
from fastnn.errors import CheckpointError
from fastnn.models import load_model



def trained(tmp_path, name="good.npz"):
    """A small trained MLP (Adam, dropout) saved to ``tmp_path / name``."""
    model = fastnn.Sequential([L.Dense(4, 3, seed=0), L.ReLU(), L.Dropout(0.2, seed=1),
                               L.Dense(3, 2, seed=2)])
    rng = np.random.default_rng(0)
    x, y = rng.random((40, 4)).astype(np.float32), rng.integers(0, 2, 40)
    model.fit(x, y, epochs=1, batch_size=8, optimizer="adam", seed=0, verbose=0)
    path = tmp_path / name
    model.save(path)
    return model, path


def peak(call):
    return H.peak_memory("from fastnn import load_model", call, cwd=PACKAGE_PARENT)


def refused(path, *needles):
    with pytest.raises(CheckpointError) as ei:
        load_model(path)
    msg = str(ei.value)
    assert str(path) in msg and "allow_pickle" not in msg, msg
    for needle in needles:
        assert needle in msg, (needle, msg)
    return ei.value


# --------------------------------------------------------------------------- memory
def test_extra_member_is_never_decompressed(tmp_path):
    """Issue 11: a small .npz with an extra member inflating to 1 GB loaded at 1.04 GB peak
    (np.load decompressed every member).  Only the members the header needs are read: an
    extra 256 MiB member costs nothing (the old loader: >= 256 MiB)."""
    model, good = trained(tmp_path)
    header, arrays = H.read_checkpoint(good)
    big = H.write_checkpoint(tmp_path / "extra.npz", header, arrays, extra=[
        ("extra", H.npy_header((256 * 2 ** 20,), np.uint8), 256 * 2 ** 20)])
    assert big.stat().st_size < 2 ** 20
    base, top, outcome = peak("m = load_model(%r); print(m)" % str(big))
    assert outcome == "returned" and top - base < 64, (base, top, outcome)
    back = load_model(big)
    for p, q in zip(model.parameters(), back.parameters()):
        assert p.value.tobytes() == q.value.tobytes()


@pytest.mark.parametrize("what", ["weights_and_layer", "layer_only", "1e6"])
def test_header_declaring_a_huge_layer_is_refused_before_building_it(tmp_path, what):
    """Issue 11: a 3 KB file whose header declares Dense(18000, 18000) peaked at 3.7 GB and
    ended in a raw MemoryError (Dense(10**6, 10**6) asked for 7.28 TiB).  The header's shapes
    are checked against the stored arrays', and the architecture against the header, before
    any layer is built: CheckpointError naming the file, no memory spent."""
    _, good = trained(tmp_path)
    n = 10 ** 6 if what == "1e6" else 18000

    def declare(h, a):
        h["model"]["layers"][0]["config"].update(in_features=n, out_features=n)
        h["model"]["layers"][3]["config"]["in_features"] = n
        if what != "layer_only":
            h["weights"][0]["shape"], h["weights"][1]["shape"] = [n, n], [n]
            h["weights"][2]["shape"] = [n, 2]
    bad = H.rewrite_checkpoint(good, tmp_path / "huge.npz", declare)
    assert bad.stat().st_size < 8192
    base, top, outcome = peak("load_model(%r)" % str(bad))
    assert outcome.startswith("CheckpointError: ") and str(bad) in outcome, outcome
    assert top - base < 64, (base, top)
    refused(bad, "the architecture has parameters" if what == "layer_only" else
            "the header says float32 (%d, %d), the file stores float32 (4, 3)" % (n, n))


def test_member_cannot_declare_more_than_the_file_holds(tmp_path):
    """The zip's sizes are checked against the .npy header before anything is inflated: a
    stored member whose directory entry claims 4 GB (compressed size unchanged) is refused."""
    _, good = trained(tmp_path)
    raw = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as zf:
        info = zf.getinfo("param_000.npy")
    # central directory entry: signature PK\1\2, uncompressed size at offset 24
    cd = raw.find(b"PK\x01\x02")
    while True:
        name_len = int.from_bytes(raw[cd + 28:cd + 30], "little")
        if raw[cd + 46:cd + 46 + name_len] == b"param_000.npy":
            break
        cd = raw.find(b"PK\x01\x02", cd + 4)
    assert int.from_bytes(raw[cd + 24:cd + 28], "little") == info.file_size
    raw[cd + 24:cd + 28] = (0xFFFFFFF0).to_bytes(4, "little")
    bad = tmp_path / "lies.npz"
    bad.write_bytes(bytes(raw))
    refused(bad, "param_000", "stored (not compressed) but claims 4294967280 bytes")


# --------------------------------------------------------------------------- dtypes, state
@pytest.mark.parametrize("dtype", [np.int32, np.float16, np.complex64, np.bool_, ">f4"])
@pytest.mark.parametrize("header_agrees", [False, True])
def test_weights_of_the_wrong_dtype_are_refused(tmp_path, dtype, header_agrees):
    """Issue 11: int32, float16, complex, bool and big-endian weights loaded and failed later."""
    _, good = trained(tmp_path)

    def edit(h, a):
        a["param_002"] = a["param_002"].astype(dtype)
        if header_agrees:
            h["weights"][2]["dtype"] = np.dtype(dtype).name
    bad = H.rewrite_checkpoint(good, tmp_path / "dtype.npz", edit)
    e = refused(bad, "weight 2")
    if header_agrees and np.dtype(dtype).isnative:
        assert "expected one of float32, float64" in e.problem
    else:
        stored = ("float32 (big-endian)" if dtype == ">f4" else np.dtype(dtype).name)
        assert "the file stores %s" % stored in e.problem


@pytest.mark.parametrize("damage, needle", [
    ("nan_first_moment", "optimizer state 'exp_avg' of weight 0 holds NaN"),
    ("inf_second_moment", "optimizer state 'exp_avg_sq' of weight 1 holds NaN or infinite"),
    ("negative_second_moment", "optimizer state 'exp_avg_sq' of weight 0 has negative values"),
    ("alias", "it must be its own array 'opt_000_exp_avg_sq'"),
    ("alias_a_weight", "it must be its own array 'opt_001_exp_avg'"),
    ("state_of_no_parameter", "optimizer state for parameter '9'"),
    ("wrong_shape", "optimizer state 'exp_avg' of weight 0: the header says float32 (4, 3), "
                    "the file stores float32 (3, 4)"),
    ("nan_weight", "weight 3 (dense_"),
])
def test_poisoned_optimizer_state_is_refused(tmp_path, damage, needle):
    """Issue 11: NaN or negative second moments, or one state array aliasing another, loaded
    without error and failed later (or trained on silently)."""
    _, good = trained(tmp_path)

    def edit(h, a):
        state = h["optimizer"]["state"]
        if damage == "nan_first_moment":
            a["opt_000_exp_avg"][0, 0] = np.nan
        elif damage == "inf_second_moment":
            a["opt_001_exp_avg_sq"][0] = np.inf
        elif damage == "negative_second_moment":
            a["opt_000_exp_avg_sq"][1, 1] = -1e-3
        elif damage == "alias":
            state["0"]["exp_avg_sq"] = {"array": "opt_000_exp_avg"}
        elif damage == "alias_a_weight":
            state["1"]["exp_avg"] = {"array": "param_001"}
        elif damage == "state_of_no_parameter":
            state["9"] = state["0"]
        elif damage == "wrong_shape":
            a["opt_000_exp_avg"] = np.ascontiguousarray(a["opt_000_exp_avg"].T)
        elif damage == "nan_weight":
            a["param_003"][0] = np.nan
    bad = H.rewrite_checkpoint(good, tmp_path / "state.npz", edit)
    refused(bad, needle)


def test_overflow_memory_and_recursion_errors_never_escape(tmp_path, monkeypatch):
    _, good = trained(tmp_path)

    def huge_shape(h, a):
        h["weights"][0]["shape"] = [2 ** 70, 2 ** 70]
    refused(H.rewrite_checkpoint(good, tmp_path / "overflow.npz", huge_shape), "weight 0")

    deep = tmp_path / "deep.npz"
    with zipfile.ZipFile(deep, "w") as zf:
        buf = io.BytesIO()
        text = ("[" * 100000 + "]" * 100000).encode()
        np.save(buf, np.frombuffer(text, np.uint8))
        zf.writestr("header.npy", buf.getvalue())
    refused(deep, "RecursionError")

    real_empty = np.empty

    def no_memory(shape, dtype=float, *args, **kwargs):
        if isinstance(shape, int) and shape > 20:     # the data buffers, not small helpers
            raise MemoryError("simulated")
        return real_empty(shape, dtype, *args, **kwargs)
    monkeypatch.setattr(np, "empty", no_memory)
    refused(good, "not enough memory")


def test_pickled_objects_are_refused_without_numpy_advice(tmp_path):
    """A weight stored as a pickled object array is refused by name; the message never repeats
    NumPy's advice to load with allow_pickle."""
    _, good = trained(tmp_path)
    header, arrays = H.read_checkpoint(good)
    bad = tmp_path / "pickle.npz"
    with zipfile.ZipFile(bad, "w") as zf:
        for name, arr in dict(arrays, header=np.frombuffer(json.dumps(header).encode(),
                                                           np.uint8)).items():
            buf = io.BytesIO()
            if name == "param_000":
                arr = np.array([object()] * 12, dtype=object).reshape(4, 3)
                np.lib.format.write_array(buf, arr, allow_pickle=True)
            else:
                np.lib.format.write_array(buf, arr)
            zf.writestr(name + ".npy", buf.getvalue())
    refused(bad, "Python objects", "never unpickled")


def test_fifo_and_directory_are_refused_without_waiting(tmp_path, run_child):
    """Issue 11: a FIFO given to load_model hung forever (np.load waited for a writer)."""
    fifo = H.fifo(tmp_path / "model.npz")
    res = run_child("""
        from fastnn import load_model
        from fastnn.errors import CheckpointError
        for path in (%r, %r):
            try:
                load_model(path)
            except CheckpointError as e:
                print(e)
    """ % (str(fifo), str(tmp_path)), timeout=60)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.strip().splitlines()
    assert lines == ["cannot load model from %r: it is a FIFO, not a regular file; a model file "
                     "is a .npz written by save_model" % str(fifo),
                     "cannot load model from %r: it is a directory, not a regular file; a "
                     "model file is a .npz written by save_model" % str(tmp_path)]


def test_every_layer_class_declares_its_parameter_shapes():
    """saving.PARAMETER_SHAPES (the architecture check before building) knows every layer class
    of fastnn.layers, and gives exactly the shapes the layer builds."""
    classes = {name for name, obj in vars(L).items() if isinstance(obj, type)
               and issubclass(obj, L.Layer) and obj is not L.Layer and not name.startswith("_")}
    assert classes == set(saving.PARAMETER_SHAPES), "add the new class to PARAMETER_SHAPES"
    examples = [L.Dense(5, 7), L.Conv2D(3, 4, (2, 5)), L.Conv2D(1, 2, 3, stride=2, padding=1),
                L.MaxPool2D(2), L.Flatten(), L.Dropout(0.5), L.ReLU(), L.Sigmoid(), L.Tanh(),
                L.ELU(), L.Softmax()]
    assert {type(layer).__name__ for layer in examples} == classes
    for layer in examples:
        entry = L.serialize(layer)
        shapes = saving.PARAMETER_SHAPES[entry["class_name"]](entry["config"], "x")
        assert shapes == [p.value.shape for p in layer.parameters()], layer


def test_checkpoint_metadata_round_trip(tmp_path):
    model, _ = trained(tmp_path)
    model.checkpoint_metadata = {"run": {"lr": 0.01, "hidden": [16]}}
    model.save(tmp_path / "m.npz")
    assert load_model(tmp_path / "m.npz").checkpoint_metadata == model.checkpoint_metadata
    model.checkpoint_metadata = ["not", "a", "dict"]
    with pytest.raises(TypeError, match="checkpoint_metadata"):
        model.save(tmp_path / "n.npz")
    assert not (tmp_path / "n.npz").exists()


# --------------------------------------------------------------------------- saving
_KILLED_WRITER = """
import sys, time
from fastnn import _atomic
def write(fh):
    fh.write(b"x" * (4 << 20))
    fh.flush()
    print("writing", flush=True)
    time.sleep(600)
_atomic.atomic_write(sys.argv[1], write)
"""


def test_temporaries_of_killed_writers_are_removed_by_the_next_save(tmp_path):
    """Issue 11: each kill -9 mid-save left a hidden temporary of up to full size (three kills,
    130 MB).  Writers killed with SIGKILL mid-write leave a temporary each; the next save to
    the same target removes exactly those (not the temporaries of a live writer, of another
    target or of another host, nor any other file), so they never pile up."""
    target = tmp_path / "ck.npz"
    model, _ = trained(tmp_path, "ck.npz")
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(target)],
                                stdout=subprocess.PIPE, text=True, cwd=PACKAGE_PARENT)
        assert proc.stdout.readline().strip() == "writing"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        # each writer removed its killed predecessor's temporary: never more than one
        litter = [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
        assert len(litter) == 1 and litter[0].startswith(".ck.npz."), litter
        assert (tmp_path / litter[0]).stat().st_size == 4 << 20
    host = _atomic.temporary_prefix("x").split(".")[2].split("-")[0]
    live = tmp_path / (".ck.npz.%s-%d.abcdefgh.tmp" % (host, os.getppid()))
    other_host = tmp_path / (".ck.npz.%s-%d.abcdefgh.tmp" % ("0" * 8 if host != "0" * 8
                                                             else "1" * 8, 2 ** 22 + 1))
    other_target = tmp_path / (".other.npz.%s-%d.abcdefgh.tmp" % (host, 2 ** 22 + 1))
    unrelated = tmp_path / ".ck.npz.random.tmp"
    for f in (live, other_host, other_target, unrelated):
        f.write_bytes(b"keep")
    model.save(target)
    left = sorted(n for n in os.listdir(tmp_path) if n.endswith(".tmp"))
    assert left == sorted(f.name for f in (live, other_host, other_target, unrelated))
    load_model(target)


def test_reused_pid_counts_as_gone(tmp_path):
    """A temporary whose pid now belongs to a process that started after the file was last
    written is stale (its writer died and the pid was reused)."""
    path = tmp_path / "x.tmp"
    path.write_bytes(b"")
    os.utime(path, (1, 1))                              # written in 1970
    assert _atomic.writer_is_gone(os.getppid(), str(path))
    os.utime(path, None)                                # written just now
    assert not _atomic.writer_is_gone(os.getppid(), str(path))
    assert not _atomic.writer_is_gone(os.getpid(), str(path))


def test_save_errors_name_the_target_not_the_temporary(tmp_path, monkeypatch):
    model, _ = trained(tmp_path)
    target = tmp_path / "ck.npz"

    def full_disk(fd):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError) as ei:
        model.save(target)
    assert ei.value.errno == errno.ENOSPC and ei.value.filename == str(target)
    assert ".tmp" not in str(ei.value) and str(target) in str(ei.value)
    monkeypatch.undo()

    def no_permission(prefix, suffix, dir):
        raise PermissionError(errno.EACCES, "Permission denied",
                              os.path.join(dir, prefix + "abcdefgh" + suffix))
    monkeypatch.setattr(tempfile, "mkstemp", no_permission)
    with pytest.raises(PermissionError) as ei:
        model.save(target)
    assert ei.value.filename == str(target) and ".tmp" not in str(ei.value)
    assert [n for n in os.listdir(tmp_path) if n.endswith(".tmp")] == []


def test_empty_path_and_directories_are_refused(tmp_path, monkeypatch):
    """Issue 11: save("") and save("/tmp") created a temporary file in "/" (the parent of the
    working directory).  Now they are refused, naming the path, and nothing is written."""
    model, _ = trained(tmp_path, "keep.npz")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    with pytest.raises(ValueError, match="path must name a file, got ''"):
        model.save("")
    for path in (str(tmp_path), str(cwd) + os.sep, ".", ".."):
        with pytest.raises(IsADirectoryError) as ei:
            model.save(path)
        assert ei.value.filename == path
    assert sorted(os.listdir(tmp_path)) == ["cwd", "keep.npz"] and os.listdir(cwd) == []


def test_saving_over_a_symlink_replaces_its_target_and_keeps_the_link(tmp_path):
    """Issue 11: saving over a symlink replaced the link with a regular file.  It now writes
    the link's target (atomically, in the target's directory), as open() would; a dangling
    link creates its target; a link loop and a non-regular target are refused."""
    model, _ = trained(tmp_path, "run7.npz")
    (tmp_path / "best.npz").symlink_to("run7.npz")
    model.layers[0].kernel.value[...] = 1.0
    model.save(tmp_path / "best.npz")
    assert os.readlink(tmp_path / "best.npz") == "run7.npz"
    assert np.all(load_model(tmp_path / "run7.npz").layers[0].kernel.value == 1.0)
    (tmp_path / "sub").mkdir()
    (tmp_path / "dangling.npz").symlink_to(tmp_path / "sub" / "new.npz")
    model.save(tmp_path / "dangling.npz")
    assert (tmp_path / "sub" / "new.npz").is_file() and (tmp_path / "dangling.npz").is_symlink()
    (tmp_path / "a.npz").symlink_to("b.npz")
    (tmp_path / "b.npz").symlink_to("a.npz")
    with pytest.raises(OSError) as ei:
        model.save(tmp_path / "a.npz")
    assert ei.value.errno == errno.ELOOP and (tmp_path / "a.npz").is_symlink()
    fifo = H.fifo(tmp_path / "pipe.npz")
    with pytest.raises(FileExistsError, match="not a regular file"):
        model.save(fifo)
    assert [n for n in os.listdir(tmp_path) if n.endswith(".tmp")] == []


def test_save_load_round_trip_still_exact_after_hardening(tmp_path):
    """The checks change nothing for a good file: every weight and state array bit-equal,
    float64 models included."""
    model = fastnn.Sequential([L.Conv2D(1, 2, 3, seed=0, dtype=np.float64), L.Flatten(),
                               L.Dense(2 * 4 * 4, 3, seed=1, dtype=np.float64)])
    rng = np.random.default_rng(1)
    model.fit(rng.random((12, 1, 6, 6)), rng.integers(0, 3, 12), epochs=1, batch_size=4,
              optimizer=fastnn.optim.RMSprop(model.parameters(), lr=1e-3, centered=True,
                                             momentum=0.5), verbose=0, seed=0)
    model.save(tmp_path / "m.npz")
    back = load_model(tmp_path / "m.npz")
    for p, q in zip(model.parameters(), back.parameters()):
        assert p.value.dtype == q.value.dtype == np.float64
        assert p.value.tobytes() == q.value.tobytes()
    sa, sb = model.optimizer.state_dict(), back.optimizer.state_dict()
    for k in sa["state"]:
        for name, v in sa["state"][k].items():
            assert (v.tobytes() == sb["state"][k][name].tobytes() if isinstance(v, np.ndarray)
                    else v == sb["state"][k][name])


def test_kill_during_save_keeps_the_previous_checkpoint(tmp_path):
    """The old property, now with the litter check: a writer killed mid-save leaves the last
    complete checkpoint loadable."""
    model, target = trained(tmp_path, "ck.npz")
    before = target.read_bytes()
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(_KILLED_WRITER),
                             str(target)], stdout=subprocess.PIPE, text=True, cwd=PACKAGE_PARENT)
    assert proc.stdout.readline().strip() == "writing"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    assert target.read_bytes() == before
    load_model(target)
