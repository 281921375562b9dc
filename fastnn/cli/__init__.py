"""The ``fastnn`` command (also ``python -m fastnn``).

    fastnn                          same as ``fastnn train``: the lab MLP on MNIST, 5 epochs
    fastnn train --model cnn --out runs/cnn     (fastnn/cli/train.py)
    fastnn study optimizers ...     the lab studies (fastnn/cli/study.py; fastnn.studies)
    fastnn bench                    quick kernel timings (fastnn/cli/bench.py; fastnn.benchmarks)

Exit status: 0 done, 1 the training diverged, 2 a usage or data error, 130 interrupted
(Ctrl-C).  Errors end the command with one line on stderr (set FASTNN_DEBUG=1 for the
traceback).  The library's errors carry their facts as fields (``fastnn.errors``); this package
words them for the command line (a dataset error names ``--data-dir``, not ``path=``).

This package imports the rest of fastnn; nothing in fastnn imports it.
"""
import argparse
import os
import sys

from .. import __version__, errors
from . import bench, study, train

__all__ = ["main", "build_parser"]

# Bad values and unusable data: one line and exit status 2, not a traceback.
_USAGE = (errors.UsageError, ValueError, TypeError, OSError)


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line that says where the help is (sub-parsers inherit the class)."""

    def error(self, message):
        self.exit(2, "%s: error: %s (see '%s --help')\n" % (self.prog, message, self.prog))


def build_parser():
    """The argument parser of ``fastnn`` with its sub-commands train, study and bench."""
    parser = _Parser(prog="fastnn", description="fastnn: train the MNIST lab models, run the "
                     "studies, time the kernels.  With no arguments: 'fastnn train'.")
    parser.add_argument("--version", action="version", version="fastnn " + __version__)
    sub = parser.add_subparsers(dest="command", metavar="{train,study,bench}")
    train.add_parser(sub)
    study.add_parser(sub)
    bench.add_parser(sub)
    return parser


def error_message(e):
    """The one line the command prints for the library error ``e``: a dataset error in the
    command line's terms (flags), anything else as the exception says it."""
    text = e.message("cli") if isinstance(e, errors.DatasetError) else str(e)
    return " ".join(text.split()) or type(e).__name__


def main(argv=None):
    """Run the command line on ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv) or ["train"]
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:          # --help (0) or a usage error (2), already printed
        return e.code if isinstance(e.code, int) else 2
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    command = args.command
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("fastnn %s: interrupted" % command, file=sys.stderr)
        return 130
    except Exception as e:
        if os.environ.get("FASTNN_DEBUG"):
            raise
        if isinstance(e, errors.TrainingDivergedError):
            print("fastnn %s: %s" % (command, error_message(e)), file=sys.stderr)
            return 1
        if isinstance(e, _USAGE):
            print("fastnn %s: error: %s" % (command, error_message(e)), file=sys.stderr)
            return 2
        raise
