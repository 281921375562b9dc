"""Writing a file so that no crash, full disk or Ctrl-C ever leaves half of it behind.

Design: the content goes to a temporary file in the target's own directory (so the final rename
never crosses file systems), which is flushed and fsynced, given the mode a plain ``open()``
would have produced (an existing file keeps its mode), and renamed over the target with
``os.replace``; the directory entry is then fsynced so the rename survives a power cut.  Readers
see the old file or the new one, never a mixture.  On any error the temporary file is removed and
the target is untouched.  Used by checkpoints (``Sequential.save``), the dataset cache and the
study runner's per-run records.
"""
import os
import tempfile

__all__ = ["atomic_write"]


def atomic_write(path, write, binary=True, make_dirs=True):
    """Create or replace ``path`` with what ``write(fh)`` writes to an open file object.

    ``binary``: the file object is opened "wb"; else "w" with UTF-8 and no newline translation.
    ``make_dirs``: create missing parent directories (else a missing one raises
    FileNotFoundError, as ``open`` would).  Returns ``os.fspath(path)``.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if make_dirs:
        os.makedirs(directory, exist_ok=True)
    mode = _new_file_mode(path)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                               dir=directory)
    try:
        opts = {} if binary else {"encoding": "utf-8", "newline": ""}
        with os.fdopen(fd, "wb" if binary else "w", **opts) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp creates the file 0600; give it the mode a plain open() would have.
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_directory(directory)
    return path


def _new_file_mode(path):
    try:
        return os.stat(path).st_mode & 0o777          # overwrite: keep the old file's mode
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def _fsync_directory(directory):
    # Make the rename itself durable (POSIX); a platform without O_DIRECTORY skips it.
    if not hasattr(os, "O_DIRECTORY"):
        return
    try:
        dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass
