"""Opening a file for reading so that a hostile path cannot hang or mislead the reader.

Design: ``open()`` on a FIFO blocks until a writer appears (forever, if none does), and a device
such as /dev/zero never ends.  :func:`open_regular` opens with O_NONBLOCK (which makes opening a
FIFO return at once; it changes nothing for a regular file), then checks with ``fstat`` -- on
the opened descriptor, so the path cannot be swapped between check and use -- that it is a
regular file.  Used by ``load_model`` (fastnn._npz_reader) and the dataset reader
(fastnn._idx).
"""
import os
import stat

__all__ = ["NotRegularFile", "open_regular"]


class NotRegularFile(ValueError):
    """The path is a FIFO, socket, device or directory.  ``kind`` says which."""

    def __init__(self, kind):
        self.kind = kind
        super().__init__("it is %s, not a regular file" % kind)


def open_regular(path):
    """``path`` opened for binary reading.  OSError as ``open`` raises it (a missing file, no
    permission); :class:`NotRegularFile` for anything but a regular file, at once.

        with open_regular("model.npz") as fh:
            head = fh.read(4)
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile("a directory" if stat.S_ISDIR(mode) else
                                 "a FIFO" if stat.S_ISFIFO(mode) else
                                 "a socket" if stat.S_ISSOCK(mode) else "a device")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
