"""Hostile files for the tests of issue 11 (and ``bench/peak_memory.py``, which makes them at
the issue's sizes): checkpoints that lie about their sizes, dtypes or optimizer state, gzip
bombs, and the peak memory of a child process that reads them.

Every maker writes with plain ``zipfile`` / ``zlib`` / ``np.save`` (never with the fastnn code
under test), streaming, so making a bomb costs little memory itself.
"""
import io
import json
import os
import struct
import subprocess
import sys
import textwrap
import zipfile
import zlib

import numpy as np

_CHUNK = 1 << 22


def npy_header(shape, dtype):
    """The bytes of a version 1.0 ``.npy`` header for ``shape`` and ``dtype``."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": np.lib.format.dtype_to_descr(
        np.dtype(dtype)), "fortran_order": False, "shape": tuple(shape)})
    return buf.getvalue()


def read_checkpoint(path):
    """(header dict, {name: array}) of a checkpoint this test suite wrote (trusted)."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = {n: npz[n] for n in npz.files}
    header = json.loads(arrays.pop("header").tobytes().decode("utf-8"))
    return header, arrays


def write_checkpoint(path, header, arrays, extra=()):
    """A .npz with ``header`` (JSON) and ``arrays`` as ``np.savez`` lays them out, plus
    ``extra``: (member name, npy header bytes, number of zero bytes after it), deflated and
    streamed, so a member of any declared size costs no memory to make."""
    with zipfile.ZipFile(path, "w", allowZip64=True) as zf:
        members = {"header": np.frombuffer(json.dumps(header).encode("utf-8"), np.uint8)}
        members.update(arrays)
        for name, arr in members.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asanyarray(arr), allow_pickle=False)
            zf.writestr(name + ".npy", buf.getvalue())
        for name, head, zeros in extra:
            info = zipfile.ZipInfo(name + ".npy")
            info.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(info, "w", force_zip64=True) as fh:
                fh.write(head)
                block = bytes(min(_CHUNK, zeros))
                left = zeros
                while left > 0:
                    fh.write(block[:min(left, len(block))])
                    left -= len(block)
    return path


def rewrite_checkpoint(src, dst, edit):
    """Copy checkpoint ``src`` to ``dst`` after ``edit(header, arrays)`` changed them in place."""
    header, arrays = read_checkpoint(src)
    edit(header, arrays)
    return write_checkpoint(dst, header, arrays)


def gzip_bomb(path, prefix, zeros, level=9):
    """A gzip file holding ``prefix`` then ``zeros`` zero bytes, written streaming (wbits 31:
    zlib writes the gzip header and trailer)."""
    comp = zlib.compressobj(level, zlib.DEFLATED, 31)
    with open(path, "wb") as fh:
        fh.write(comp.compress(prefix))
        block = bytes(_CHUNK)
        left = zeros
        while left > 0:
            piece = block[:min(left, len(block))]
            fh.write(comp.compress(piece))
            left -= len(piece)
        fh.write(comp.flush())
    return path


def idx_labels_header(n):
    """The 8-byte header of an IDX labels file of n labels."""
    return struct.pack(">II", 0x801, n)


_PEAK = """
import resource, sys
def _peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
{setup}
_base = _peak_mb()
try:
{call}
    _outcome = "returned"
except BaseException as _e:
    _outcome = "%s: %s" % (type(_e).__name__, " ".join(str(_e).split())[:300])
print("PEAK\\t%.1f\\t%.1f\\t%s" % (_base, _peak_mb(), _outcome), flush=True)
"""


def peak_memory(setup, call, env=None, cwd=None, timeout=600):
    """Run ``setup`` then ``call`` (Python source) in a child process; returns (peak RSS in MB
    before the call, peak RSS in MB after it, outcome: 'returned' or 'Type: message').  The
    child's own ru_maxrss, so nothing the parent or other children did counts."""
    code = _PEAK.format(setup=textwrap.dedent(setup),
                        call=textwrap.indent(textwrap.dedent(call), "    "))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=timeout, env=env, cwd=cwd)
    for line in res.stdout.splitlines():
        if line.startswith("PEAK\t"):
            _, base, peak, outcome = line.split("\t", 3)
            return float(base), float(peak), outcome
    raise AssertionError("the child died (exit %d): %s" % (res.returncode, res.stderr[-2000:]))


def fifo(path):
    """A named pipe at ``path`` (nobody ever writes to it)."""
    os.mkfifo(path)
    return path
