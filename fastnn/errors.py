"""Every exception fastnn defines, in one module, with structured fields.

A library error carries what went wrong as data (the file, the places looked, the batch, the
loss), so each caller can word it for its audience: the Python API speaks of keyword arguments,
the command line (``fastnn.cli``) of flags.  Nothing here imports the rest of fastnn, so any
module may import it without a cycle.

    DatasetError            a dataset file is missing, corrupt or cannot be fetched (ValueError)
    CheckpointError         a model file is corrupt, truncated or inconsistent (ValueError)
    TrainingDivergedError   the loss, or a weight, became NaN or infinite (RuntimeError)
    UsageError              a command-line value is wrong (ValueError; exit status 2)
"""

__all__ = ["FastnnError", "DatasetError", "CheckpointError", "TrainingDivergedError",
           "UsageError"]


class FastnnError(Exception):
    """Base class of fastnn's own exceptions (each also derives from the builtin a caller would
    catch for it: ValueError or RuntimeError)."""


class DatasetError(FastnnError, ValueError):
    """A dataset file is missing, corrupt or cannot be fetched.

    Fields (the facts; :meth:`message` words them):

    ``problem``    what is wrong, one sentence (may hold a list of attempts, one per line)
    ``dataset``    e.g. 'MNIST' (the message starts with it)
    ``files``      the files concerned (names or paths)
    ``looked_in``  ``[(directory, how it was chosen)]``, how = 'path=', 'FASTNN_DATA' or 'cache'
    ``remedy``     what the user can do, a code:
                   'download'  fetching was off: allow it, or point at the files;
                   'replace'   the named file is bad: delete it (it is fetched again) or point
                               at a good copy;
                   'provide'   nothing could be fetched: download ``files`` from ``sources``
                               into ``cache``, or point at a directory holding them;
                   'cache'     the cache directory cannot be created;
                   'explicit'  files missing from the directory the caller named (``path=``,
                               ``--data-dir``), which is the only place looked: put them
                               there, or leave the argument out to use the cache;
                   'other_dataset'  the file is another dataset's (MNIST for Fashion-MNIST):
                               point at the right directory; the file is good, keep it;
                   None        nothing to advise
    ``cache``      the cache directory, ``sources`` the base URLs the files come from

    ``str()`` is the library's wording (keyword arguments: ``path=``, ``download=True``);
    ``message('cli')`` the command line's (``--data-dir``, ``--no-download``).
    """

    REMEDIES = ("download", "replace", "provide", "cache", "explicit", "other_dataset", None)

    def __init__(self, problem, dataset=None, files=(), looked_in=(), remedy=None, cache=None,
                 sources=()):
        if remedy not in self.REMEDIES:
            raise ValueError("remedy must be one of %s, got %r" % (self.REMEDIES, remedy))
        self.problem = str(problem)
        self.dataset = dataset
        self.files = tuple(str(f) for f in files)
        self.looked_in = tuple((str(d), str(how)) for d, how in looked_in)
        self.remedy = remedy
        self.cache = None if cache is None else str(cache)
        self.sources = tuple(str(s) for s in sources)
        super().__init__(self.message("api"))

    def where(self, style="api"):
        """'dir (how), dir (how)': the places looked in (``path=`` is ``--data-dir`` on the
        command line)."""
        names = {"path=": "--data-dir"} if style == "cli" else {}
        return ", ".join("%s (%s)" % (d, names.get(how, how)) for d, how in self.looked_in)

    def message(self, style="api"):
        """The whole message; ``style`` 'api' (keyword arguments) or 'cli' (flags)."""
        if style not in ("api", "cli"):
            raise ValueError("style must be 'api' or 'cli', got %r" % (style,))
        cli = style == "cli"
        point = "pass --data-dir or set FASTNN_DATA" if cli else "pass path= or set FASTNN_DATA"
        files = ", ".join(self.files) or "the file"
        cache = self.cache or "the cache"
        parts = [("%s: %s" % (self.dataset, self.problem) if self.dataset
                  else self.problem).rstrip(".") + "."]
        if self.looked_in:
            parts.append("Looked in %s." % self.where(style))
        if self.remedy == "download":
            parts.append("%s to fetch them into %s, or put the files (gz or raw) in a directory "
                         "and %s." % ("Run without --no-download" if cli
                                      else "Call with download=True", cache, point))
        elif self.remedy == "replace":
            parts.append("Delete %s (it is then fetched again into the cache), or %s to a "
                         "directory with a good copy." % (files, point))
        elif self.remedy == "provide":
            parts.append("What to do: download %s from %s into %s (gz or decompressed), or %s "
                         "to a directory holding them."
                         % (files, " or ".join(self.sources) or "a mirror", cache, point))
        elif self.remedy == "explicit":
            parts.append("%s is the only place looked: put the files (gz or raw) there, or %s "
                         "to use FASTNN_DATA or the cache %s (missing files are fetched)."
                         % ("A --data-dir" if cli else "A directory given as path=",
                            "run without --data-dir" if cli else "call without path=", cache))
        elif self.remedy == "other_dataset":
            parts.append("Keep that file; %s to a directory holding %s (one directory may hold "
                         "both datasets in subdirectories mnist/ and fashion_mnist/)."
                         % (point, self.dataset or "the dataset"))
        elif self.remedy == "cache":
            parts.append("Set XDG_CACHE_HOME to a writable directory, or download %s yourself "
                         "and %s." % (files, point))
        return " ".join(parts)


class CheckpointError(FastnnError, ValueError):
    """A model file cannot be loaded: ``path`` and ``problem`` (what is wrong with it)."""

    def __init__(self, path, problem):
        self.path = str(path)
        self.problem = str(problem)
        super().__init__("cannot load model from %r: %s" % (self.path, self.problem))


class TrainingDivergedError(FastnnError, RuntimeError):
    """The training loss (or a weight) became NaN or infinite.  ``epoch`` and ``batch`` are
    0-based indices of where it happened; ``loss`` is the offending value.  The model keeps the
    last finite weights."""

    def __init__(self, message, epoch=None, batch=None, loss=None):
        super().__init__(message)
        self.epoch = epoch
        self.batch = batch
        self.loss = loss


class UsageError(FastnnError, ValueError):
    """A bad command-line value found after parsing: one line on stderr, exit status 2."""
