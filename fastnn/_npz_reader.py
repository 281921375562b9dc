"""Reading arrays from a ``.npz`` (a zip of ``.npy`` files) without trusting the file.

Design: ``np.load`` believes what a file says: it decompresses any member asked for, however
large it inflates, allocates whatever shape a ``.npy`` header declares, and blocks forever on a
FIFO.  This reader lets the caller decide what it needs before any data is read:

* the caller opens the file with ``fastnn._readfile.open_regular`` (read-only, never blocking,
  regular files only);
* :class:`NpzArchive` lists the members from the zip's central directory (a name that occurs
  twice is refused); nothing is decompressed yet;
* :meth:`NpzArchive.header` reads one member's ``.npy`` header only (its first bytes) and checks
  it against the zip's own sizes: the uncompressed size must be exactly header + data; the
  compressed size must fit in the file, equal the uncompressed size for a stored member and be
  at least 1/1032 of it for a deflated one (deflate cannot expand more), so a member cannot
  declare more data than the file can hold; other compressions are refused;
* :meth:`NpzArchive.read` reads exactly the declared bytes into a new array and then checks that
  the member ends there, which makes ``zipfile`` verify its CRC.

So what a caller reads is bounded by what it decided to accept from the headers, and members it
does not ask for are never decompressed.  Every problem raises :class:`FormatError` (a
ValueError) naming the member; the caller adds the file's name.
"""
import collections
import os
import zipfile

import numpy as np
import numpy.lib.format as npformat

__all__ = ["FormatError", "NpyHeader", "NpzArchive"]

# Deflate's largest expansion: a 258-byte match per (at best) two bits, about 1032:1.
_DEFLATE_MAX_RATIO = 1032
_CHUNK = 1 << 24              # bytes per read while copying a member's data
_MAX_NPY_HEADER = 10000       # numpy's own default limit on the text of a .npy header


class FormatError(ValueError):
    """The archive or one of its members is malformed, inconsistent or refused."""


NpyHeader = collections.namedtuple("NpyHeader", "member shape dtype fortran_order offset")
NpyHeader.__doc__ = ("What a member's .npy header declares: ``shape`` (tuple of ints), "
                     "``dtype`` (numpy.dtype), ``fortran_order`` and ``offset`` (bytes before "
                     "the data).")


class NpzArchive:
    """The members of an open ``.npz``; see the module docstring.

        with open_regular(path) as fh:
            npz = NpzArchive(fh)
            h = npz.header("w")            # NpyHeader: shape, dtype, ... (nothing read yet)
            w = npz.read(h)                # exactly those bytes, CRC checked
    """

    def __init__(self, fh):
        self._size = os.fstat(fh.fileno()).st_size
        self._zip = zipfile.ZipFile(fh)
        infos = self._zip.infolist()
        self._members = {}
        for info in infos:
            if info.filename in self._members:
                raise FormatError("the member %r occurs twice" % info.filename)
            self._members[info.filename] = info

    def names(self):
        """The array names (member names without ``.npy``), in file order."""
        return [n[:-4] for n in self._members if n.endswith(".npy")]

    def __contains__(self, name):
        return name + ".npy" in self._members

    def header(self, name):
        """The :class:`NpyHeader` of array ``name``, checked against the zip's sizes."""
        info = self._members.get(name + ".npy")
        if info is None:
            raise FormatError("no member %r" % name)
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise FormatError("member %r uses zip compression method %d (only stored and "
                              "deflate are read)" % (name, info.compress_type))
        if info.header_offset + info.compress_size > self._size:
            raise FormatError("member %r claims %d compressed bytes, more than the file holds"
                              % (name, info.compress_size))
        if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
            raise FormatError("member %r is stored (not compressed) but claims %d bytes in %d"
                              % (name, info.file_size, info.compress_size))
        if info.file_size > info.compress_size * _DEFLATE_MAX_RATIO + 1024:
            raise FormatError("member %r claims %d bytes from %d compressed bytes, more than "
                              "deflate can produce" % (name, info.file_size, info.compress_size))
        with self._zip.open(info) as fp:
            try:
                version = npformat.read_magic(fp)
                if version == (1, 0):
                    shape, fortran, dtype = npformat.read_array_header_1_0(
                        fp, max_header_size=_MAX_NPY_HEADER)
                elif version == (2, 0):
                    shape, fortran, dtype = npformat.read_array_header_2_0(
                        fp, max_header_size=_MAX_NPY_HEADER)
                else:
                    raise FormatError("member %r is .npy version %d.%d (1.0 and 2.0 are read)"
                                      % (name, version[0], version[1]))
            except FormatError:
                raise
            except (ValueError, TypeError, SyntaxError, EOFError) as e:
                raise FormatError("member %r has no valid .npy header (%s)" % (name, e)) from None
            offset = fp.tell()
        if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
            raise FormatError("member %r holds %s, not plain numbers (never unpickled)"
                              % (name, "Python objects" if dtype.hasobject else
                                 "a structured dtype"))
        nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if info.file_size != offset + nbytes:
            raise FormatError("member %r declares shape %s of %s (%d bytes of data) but holds "
                              "%d bytes after its %d-byte header"
                              % (name, shape, dtype, nbytes, info.file_size - offset, offset))
        return NpyHeader(name, tuple(int(s) for s in shape), dtype, bool(fortran), offset)

    def read(self, header):
        """The array ``header`` describes: exactly its bytes, then the member must end (its CRC
        is checked).  Bounded by the header, which the caller has accepted."""
        info = self._members[header.member + ".npy"]
        count = int(np.prod(header.shape, dtype=object))
        flat = np.empty(count * header.dtype.itemsize, dtype=np.uint8)
        with self._zip.open(info) as fp:
            fp.read(header.offset)
            pos = 0
            while pos < flat.size:
                chunk = fp.read(min(_CHUNK, flat.size - pos))
                if not chunk:
                    raise FormatError("member %r ends after %d of its %d bytes of data"
                                      % (header.member, pos, flat.size))
                flat[pos:pos + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
                pos += len(chunk)
            if fp.read(1):          # reading to the end also makes zipfile check the CRC
                raise FormatError("member %r has bytes after its data" % header.member)
        order = "F" if header.fortran_order else "C"
        return np.ndarray(header.shape, dtype=header.dtype, buffer=flat, order=order)
