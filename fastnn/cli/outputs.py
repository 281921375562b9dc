"""An output directory (``fastnn train --out DIR``) that never holds two runs' files at once.

Design:

1. **Before the run** (:func:`prepare`): the directory is checked and created -- an empty
   name, an existing file, a directory that cannot be created or written is a usage error
   (exit 2) before any data is loaded or any epoch trained, not after.
2. **Writing** (:func:`staged`): the run's files are written into a hidden staging directory
   inside DIR (``.fastnn-staging.<host tag>-<pid>.<random>.tmp``: same file system, so the moves
   below are renames).  An error or Ctrl-C while writing removes the staging directory; DIR
   keeps the previous run's files, untouched.
3. **Commit**: with Ctrl-C deferred (a few renames, microseconds), DIR's ``manifest.json`` is
   removed, each new file is renamed over its old namesake, the files the previous manifest
   listed that this run did not write are removed (a figure of an option not used this time),
   and the new ``manifest.json`` -- the list of this run's files -- is written (atomically)
   last.  Files the manifest never listed (the user's own) are never touched.  A Ctrl-C during
   the commit takes effect after it.
4. **Reading**: ``manifest.json`` present means every file it lists is from one run.  Only a
   hard kill (SIGKILL, power loss) in the microseconds of step 3 can leave DIR without it, and
   then its absence says so.  Staging directories of writers that are gone (killed during step
   2) are removed by the next :func:`prepare` of the same DIR (same liveness rule as
   ``fastnn._atomic``).
"""
import contextlib
import json
import os
import shutil
import signal
import tempfile
import threading

from .. import __version__
from .._atomic import atomic_write, remove_stale_temporaries, temporary_prefix
from ..errors import UsageError

__all__ = ["MANIFEST", "prepare", "staged", "read_manifest"]

MANIFEST = "manifest.json"
_STAGING = "fastnn-staging"


def prepare(out, flag="--out"):
    """Check ``out`` and create it (with parents) before the run; returns it.  UsageError
    naming ``flag`` when it cannot hold the outputs.  Removes staging directories left by
    killed runs."""
    if not out or not out.strip():
        raise UsageError("%s must name a directory, got %r" % (flag, out))
    if os.path.exists(out) and not os.path.isdir(out):
        raise UsageError("%s %s exists and is not a directory" % (flag, out))
    try:
        os.makedirs(out, exist_ok=True)
        probe = tempfile.mkdtemp(prefix=temporary_prefix(_STAGING), suffix=".tmp", dir=out)
        os.rmdir(probe)
    except OSError as e:
        raise UsageError("%s: cannot write in %s (%s)" % (flag, out, e.strerror or e)) from None
    remove_stale_temporaries(out, _STAGING, directories=True)
    return out


@contextlib.contextmanager
def staged(out, record=None):
    """``with staged(out) as stage:`` write the run's files into the directory ``stage``; when
    the block ends normally they replace ``out``'s files as one group (module docstring), and
    ``manifest.json`` lists them (plus ``record``, a JSON-able dict, under "run")."""
    stage = tempfile.mkdtemp(prefix=temporary_prefix(_STAGING), suffix=".tmp", dir=out)
    try:
        yield stage
        _commit(stage, out, record)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def read_manifest(out):
    """The manifest of ``out`` (dict with "files"), or None when it is missing or unreadable."""
    try:
        with open(os.path.join(out, MANIFEST), encoding="utf-8") as fh:
            manifest = json.load(fh)
    except (OSError, ValueError):
        return None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return None
    return manifest


def _commit(stage, out, record):
    names = sorted(os.listdir(stage))
    if MANIFEST in names:
        raise ValueError("a run cannot write its own %s" % MANIFEST)
    previous = read_manifest(out)
    stale = [] if previous is None else [
        f for f in previous["files"] if f not in names and os.path.basename(f) == f
        and f != MANIFEST]
    text = json.dumps({"files": names, "fastnn_version": __version__, "run": record},
                      indent=1)
    with _ctrl_c_deferred():
        try:
            os.unlink(os.path.join(out, MANIFEST))
        except FileNotFoundError:
            pass
        for name in names:
            os.replace(os.path.join(stage, name), os.path.join(out, name))
        for name in stale:
            path = os.path.join(out, name)
            if os.path.isfile(path) and not os.path.islink(path):
                os.unlink(path)
        atomic_write(os.path.join(out, MANIFEST), lambda fh: fh.write(text), binary=False)


@contextlib.contextmanager
def _ctrl_c_deferred():
    """Run the block with SIGINT held back (main thread only); a Ctrl-C that arrived meanwhile
    is delivered when the block ends."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught:
            if previous is signal.default_int_handler:
                raise KeyboardInterrupt
            if callable(previous):
                previous(signal.SIGINT, None)
