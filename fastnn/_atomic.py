"""Writing a file so that no crash, full disk or Ctrl-C ever leaves half of it behind.

Design: the content goes to a temporary file in the target's own directory (so the final rename
never crosses file systems), which is flushed and fsynced, given the mode a plain ``open()``
would have produced (an existing file keeps its mode), and renamed over the target with
``os.replace``; the directory entry is then fsynced so the rename survives a power cut.  Readers
see the old file or the new one, never a mixture.  On any error the temporary file is removed and
the target is untouched.  Used by checkpoints (``Sequential.save``), the dataset cache, history
files and the study runner's per-run records.

What a caller can rely on, whatever it passes:

* **The target is checked first.**  An empty path, a directory, a path ending in a separator or
  an existing file that is not a regular file (a FIFO, a device) is refused before anything is
  written, naming the path: a temporary file is never created somewhere else (``save("")`` used
  to create one in the parent of the working directory).
* **Symbolic links are followed.**  Writing to ``best.npz -> runs/7/ck.npz`` replaces
  ``runs/7/ck.npz`` (atomically, in its own directory) and keeps the link, as ``open(path,
  "w")``, ``np.save`` and ``torch.save`` do; replacing the link with a regular file would
  silently detach it from what the user pointed it at.  A link loop is refused.
* **Errors name the target**, never the temporary file.
* **No litter from a killed writer.**  A temporary file is named
  ``.<target name>.<host tag>-<pid>.<random>.tmp``.  A writer killed with SIGKILL (no cleanup
  runs) leaves its temporary file behind; the next write to the same target removes every such
  file of that target whose writer, on this host, is gone: its pid is not running, or the
  process now holding that pid started after the file was last written (pid reuse).  Files of
  other targets, of other hosts (a shared network directory), of running writers and of any
  other name are left alone.
"""
import errno
import hashlib
import os
import re
import shutil
import socket
import tempfile

__all__ = ["atomic_write", "check_target", "remove_stale_temporaries", "temporary_prefix",
           "writer_is_gone"]

# Which host made a temporary file: pids are only meaningful on the machine that issued them.
_HOST_TAG = hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]
# tempfile.mkstemp's random part: 8 characters of this alphabet.
_RANDOM = r"[a-z0-9_]{8}"


def temporary_prefix(name):
    """The prefix of this process's temporary files for the target file ``name`` (a base name);
    they end in ``.tmp``."""
    return ".%s.%s-%d." % (name, _HOST_TAG, os.getpid())


def _temporary_pattern(name):
    return re.compile(r"^\.%s\.([0-9a-f]{8})-([0-9]+)\.%s\.tmp$" % (re.escape(name), _RANDOM))


def atomic_write(path, write, binary=True, make_dirs=True):
    """Create or replace ``path`` with what ``write(fh)`` writes to an open file object.

    ``binary``: the file object is opened "wb"; else "w" with UTF-8 and no newline translation.
    ``make_dirs``: create missing parent directories (else a missing one raises
    FileNotFoundError naming ``path``).  A symbolic link is followed (its target is replaced,
    the link kept).  Returns ``os.fspath(path)``.

        atomic_write("out/result.json", lambda fh: fh.write(b"{}"))
    """
    path = os.fspath(path)
    target = check_target(path)
    directory = os.path.dirname(os.path.abspath(target))
    name = os.path.basename(target)
    try:
        if make_dirs:
            os.makedirs(directory, exist_ok=True)
        elif not os.path.isdir(directory):
            raise FileNotFoundError(errno.ENOENT, "the directory %s does not exist" % directory,
                                    path)
        remove_stale_temporaries(directory, name)
        mode = _new_file_mode(target)
        fd, tmp = tempfile.mkstemp(prefix=temporary_prefix(name), suffix=".tmp", dir=directory)
    except OSError as e:
        raise _naming(e, path) from e
    try:
        opts = {} if binary else {"encoding": "utf-8", "newline": ""}
        with os.fdopen(fd, "wb" if binary else "w", **opts) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp creates the file 0600; give it the mode a plain open() would have.
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise _naming(e, path) from e
        raise
    _fsync_directory(directory)
    return path


def check_target(path):
    """The file that writing ``path`` replaces: ``path`` itself, or the file a symbolic link
    points to.  Raises ValueError (empty path, a name without a file part) or OSError naming
    ``path`` (a directory, a link loop, an existing file that is not a regular file)."""
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(path, str) or path == "":
        raise ValueError("path must name a file, got %r" % (path,))
    if os.path.basename(path) in ("", ".", ".."):
        raise IsADirectoryError(errno.EISDIR, "the path names a directory, not a file", path)
    target = path
    if os.path.islink(path):
        target = os.path.realpath(path)
        if os.path.islink(target):          # realpath stops at a loop and returns a link
            raise OSError(errno.ELOOP, "symbolic link loop (not replaced)", path)
    if os.path.isdir(target):
        raise IsADirectoryError(errno.EISDIR, "is a directory (expected a file name)", path)
    if os.path.lexists(target) and not os.path.isfile(target):
        raise FileExistsError(errno.EEXIST, "exists and is not a regular file (not replaced)",
                              path)
    return target


def remove_stale_temporaries(directory, name, directories=False):
    """Remove the temporary files of target ``name`` in ``directory`` left by writers on this
    host that are gone (see the module docstring).  ``directories``: remove temporary
    directories of that name pattern instead (``tempfile.mkdtemp(prefix=temporary_prefix(name),
    suffix=".tmp")``), with their contents.  Returns the paths removed."""
    pattern = _temporary_pattern(name)
    removed = []
    try:
        entries = os.listdir(directory)
    except OSError:
        return removed
    for entry in entries:
        m = pattern.match(entry)
        if m is None or m.group(1) != _HOST_TAG:
            continue
        full = os.path.join(directory, entry)
        if os.path.islink(full) or os.path.isdir(full) != directories:
            continue
        if writer_is_gone(int(m.group(2)), full):
            try:
                if directories:
                    shutil.rmtree(full)
                else:
                    os.unlink(full)
                removed.append(full)
            except OSError:
                pass                  # another writer removed it first, or no permission
    return removed


def writer_is_gone(pid, path):
    """True when process ``pid`` (on this host) cannot still be writing ``path``: it is not
    running, or the process that holds the pid now started after ``path`` was last modified.
    Our own pid is never gone (another thread of this process may be writing)."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError, OSError):
        pass                          # running under another user, or cannot tell: keep
    started = _process_start_time(pid)
    try:
        modified = os.stat(path).st_mtime
    except OSError:
        return False
    return started is not None and started > modified + 1.0


def _process_start_time(pid):
    """When process ``pid`` started (seconds since the epoch), from /proc; None where there is
    no /proc (then a running pid always counts as the writer)."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        ticks = int(fields[19])                       # field 22, starttime, clock ticks
        with open("/proc/stat", "rb") as fh:
            btime = next(int(line.split()[1]) for line in fh if line.startswith(b"btime"))
        return btime + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _naming(e, path):
    """``e`` re-worded to name ``path`` (the target), not the temporary file."""
    if e.errno is not None:
        return OSError(e.errno, e.strerror or os.strerror(e.errno), path)
    return OSError("cannot write %r: %s" % (path, e))


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
