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

    Fields: ``dataset`` (e.g. 'MNIST'), ``files`` (the file names concerned), ``looked_in``
    (list of ``(directory, how it was chosen)``), ``problem`` (what is wrong, one sentence) and
    ``remedy`` (a code: 'download' -- fetching is off; 'replace' -- delete or replace the named
    file; 'provide' -- point at a directory with the files; None).  ``str()`` is the library's
    wording; :meth:`message` words it for the command line with ``style='cli'``.
    """

    def __init__(self, problem, dataset=None, files=(), looked_in=(), remedy=None, cache=None):
        self.problem = str(problem)
        self.dataset = dataset
        self.files = tuple(str(f) for f in files)
        self.looked_in = tuple((str(d), str(how)) for d, how in looked_in)
        self.remedy = remedy
        self.cache = None if cache is None else str(cache)
        super().__init__(self.message("api"))

    def where(self):
        return ", ".join("%s (%s)" % (d, how) for d, how in self.looked_in)

    def message(self, style="api"):
        """The whole message; ``style`` 'api' (keyword arguments) or 'cli' (flags)."""
        cli = style == "cli"
        parts = [self.problem.rstrip(".") + "."]
        if self.looked_in:
            parts.append("Looked in %s." % self.where())
        if self.remedy == "download":
            parts.append("%s to fetch them into %s, or put the files (gz or raw) in a directory "
                         "and %s." % ("Run without --no-download" if cli
                                      else "Call with download=True", self.cache or "the cache",
                                      "pass --data-dir or set FASTNN_DATA" if cli
                                      else "pass path= or set FASTNN_DATA"))
        elif self.remedy == "replace":
            parts.append("Delete or replace %s (a file in the cache is fetched again), or %s to "
                         "a directory with a good copy."
                         % (", ".join(self.files) or "the file",
                            "pass --data-dir" if cli else "pass path= or set FASTNN_DATA"))
        elif self.remedy == "provide":
            parts.append("%s to a directory holding the files."
                         % ("Pass --data-dir" if cli else "Pass path= or set FASTNN_DATA"))
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
