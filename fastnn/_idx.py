"""The IDX file format of MNIST and Fashion-MNIST: bounded reading and strict parsing.

Design: an IDX file's first 8 (labels) or 16 (images) bytes fix its exact length, so a reader
never needs to trust anything else.  :func:`read_idx_file` reads that header first, checks it
(magic number, image size, example count), then reads at most the declared length plus one
byte: a raw file's length is checked with ``fstat`` before its data is read, and a ``.gz`` is
inflated as a stream (:class:`GunzipStream`) that stops there -- a gzip bomb is refused after
the expected size + 1 byte, never inflated whole.  :func:`parse_idx` then checks the bytes
strictly and returns a writeable copy.  Errors are ValueError (:class:`GzipError` for a broken
gzip stream, :class:`CountMismatch` for another example count); fastnn.datasets words them as
DatasetError naming the file.

    data = read_idx_file(Path("t10k-labels-idx1-ubyte.gz"), "labels", (28, 28), 10000)
    labels = parse_idx(data, "labels")            # uint8 (10000,)
"""
import hashlib
import os
import struct
import zlib

import numpy as np

from ._readfile import open_regular

__all__ = ["MAGIC", "CountMismatch", "GzipError", "GunzipStream", "expected_length",
           "read_idx_file", "read_idx", "parse_idx", "idx_bytes", "file_md5"]

MAGIC = {"images": 0x00000803, "labels": 0x00000801}  # 0x08 = unsigned byte, then ndim
IO_CHUNK = 1 << 20          # bytes of compressed or raw input read at a time


def file_md5(path):
    """md5 of a file's bytes, read in chunks (memory bounded whatever its size)."""
    md5 = hashlib.md5()
    with open_regular(path) as fh:
        for chunk in iter(lambda: fh.read(IO_CHUNK), b""):
            md5.update(chunk)
    return md5.hexdigest()


class CountMismatch(ValueError):
    """The IDX header declares args[0] examples where args[1] are expected."""


class GzipError(ValueError):
    """The .gz file is not a complete, valid gzip stream."""


def header_dims(data, kind, image_shape, short_note=""):
    """(dims, header size) from the first bytes of an IDX file: ValueError for a header shorter
    than its size (``short_note`` appended to the message), a bad magic number or image size."""
    ndim = 3 if kind == "images" else 1
    size = 4 + 4 * ndim
    if len(data) < size:
        raise ValueError("only %d bytes, shorter than the %d-byte header%s"
                         % (len(data), size, short_note))
    magic = struct.unpack(">I", data[:4])[0]
    if magic != MAGIC[kind]:
        raise ValueError("magic number 0x%08x, expected 0x%08x (uint8, %d dimension%s)"
                         % (magic, MAGIC[kind], ndim, "s" if ndim > 1 else ""))
    dims = struct.unpack(">%dI" % ndim, data[4:size])
    if kind == "images" and tuple(dims[1:]) != tuple(image_shape):
        raise ValueError("images are %dx%d, expected %dx%d" % (dims[1], dims[2], *image_shape))
    return dims, size


def expected_length(head, kind, image_shape, count):
    """The exact byte length of an IDX file whose first bytes are ``head`` (ValueError for a
    bad magic number or image size, CountMismatch for another example count)."""
    dims, size = header_dims(head, kind, image_shape, " (truncated)")
    if count is not None and dims[0] != count:
        raise CountMismatch(dims[0], count)
    n = 1
    for d in dims:
        n *= d
    return size + n


def read_idx_file(path, kind, image_shape, count):
    """The IDX bytes of a file (gz or raw): reads the header first, then at most the
    length it declares plus one byte, so a file (or a gzip stream) longer than its header says
    -- a gzip bomb -- is refused after that many bytes, never inflated whole."""
    with open_regular(path) as fh:
        return read_idx(fh, path.name.endswith(".gz"), kind, image_shape, count)


def read_idx(fh, gz, kind, image_shape, count):
    """``read_idx_file`` on an open binary file object (a real file when not ``gz``)."""
    head_size = 16 if kind == "images" else 8
    if not gz:
        head = fh.read(head_size)
        expected = expected_length(head, kind, image_shape, count)
        size = os.fstat(fh.fileno()).st_size
        if size != expected:
            raise ValueError("%d bytes, expected exactly %d for its header's dimensions (%s)"
                             % (size, expected, "truncated" if size < expected
                                else "trailing bytes"))
        data = head + fh.read(expected - len(head))
        if len(data) != expected:
            raise ValueError("%d bytes, expected exactly %d (truncated while reading)"
                             % (len(data), expected))
        return data
    stream = GunzipStream(fh)
    head = stream.read(head_size)
    expected = expected_length(head, kind, image_shape, count)
    data = bytearray(expected + 1)          # filled in place: no joined or concatenated copies
    data[:len(head)] = head
    with memoryview(data) as view, view[len(head):] as rest:
        n = len(head) + stream.readinto(rest)
    del data[n:]                            # (after the views are released)
    if len(data) > expected:
        raise ValueError("inflates to more than the %d bytes its header declares (trailing "
                         "bytes; decompression stopped there)" % expected)
    if len(data) < expected:
        raise ValueError("%d bytes, expected exactly %d for its header's dimensions "
                         "(truncated)" % (len(data), expected))
    stream.finish()
    return data


class GunzipStream:
    """Decompress a (multi-member) gzip file incrementally; ``read(n)`` returns at most n bytes
    and never inflates more than it returns."""

    def __init__(self, fh):
        self._fh = fh
        self._d = zlib.decompressobj(31)
        self._pending = b""          # compressed input not yet given to the decompressor
        self._raw_eof = False

    def _raw(self):
        chunk = self._fh.read(IO_CHUNK)
        if not chunk:
            self._raw_eof = True
        return chunk

    def read(self, n):
        out = bytearray(n)
        return bytes(out[:self.readinto(memoryview(out))])

    def readinto(self, view):
        """Fill ``view`` (a writable memoryview of bytes) as far as the stream goes; returns the
        number of bytes written."""
        n, done = len(view), 0
        try:
            while n > 0:
                if self._d.eof:
                    rest = self._d.unused_data.lstrip(b"\0")
                    while not rest and not self._raw_eof:      # zero padding between members
                        rest = self._raw().lstrip(b"\0")
                    if not rest:
                        break
                    self._d = zlib.decompressobj(31)
                    self._pending = rest
                if self._d.unconsumed_tail:
                    src = self._d.unconsumed_tail
                elif self._pending:
                    src, self._pending = self._pending, b""
                else:
                    src = self._raw()
                    if not src:
                        raise GzipError("the stream ends before its end marker (truncated)")
                piece = self._d.decompress(src, n)
                view[done:done + len(piece)] = piece
                done += len(piece)
                n -= len(piece)
        except zlib.error as e:
            raise GzipError("zlib.error: %s" % e) from None
        return done

    def finish(self):
        """After the expected data: the stream must end here (only zero padding may follow).
        Reads the remaining raw bytes, inflating none of them."""
        if self.read(1):
            raise ValueError("inflates to more than its header declares (trailing bytes)")
        while not self._raw_eof:
            if self._raw().strip(b"\0"):
                raise GzipError("data after the end of the gzip stream")


def parse_idx(data, kind, image_shape=(28, 28)):
    """Strict IDX parser for uint8 images (n, h, w) or labels (n,).

    Checks the magic number, the dimensions and the exact byte length before touching the data,
    so a truncated or padded file is rejected rather than half-read.  Returns a writeable copy
    (np.frombuffer over ``bytes`` is read-only, which surprises users who edit in place).
    """
    dims, header = header_dims(data, kind, image_shape)
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(data) != expected:
        raise ValueError("%d bytes, expected exactly %d for dimensions %s (%s)" % (
            len(data), expected, dims, "truncated" if len(data) < expected else "trailing bytes"))
    arr = np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims).copy()
    if kind == "labels" and arr.size and arr.max() > 9:
        raise ValueError("label %d out of range 0-9" % arr.max())
    return arr


def idx_bytes(arr, kind):
    """Serialise a uint8 array as an IDX file (header + data), the inverse of parse_idx."""
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    header = struct.pack(">I", MAGIC[kind]) + struct.pack(">%dI" % arr.ndim, *arr.shape)
    return header + arr.tobytes()
