"""The ``lineage`` command: ask a store where things come from, what they feed, and draw it.

Exit codes: 0 success, 1 not found (with close matches) or an unhealthy ``doctor``, 2 usage or
configuration errors. Commands compute a :class:`~.output.Result`; :mod:`.output` prints it
(tables for people, ``--json`` for machines).

    lineage upstream user_ctr_7d
    lineage downstream raw_clicks_kafka_topic --depth 2
    lineage graph -o lineage.svg
    lineage runs --transformation calculate_user_ctr_job_v1.0 --limit 5
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Sequence
from typing import IO

from ..errors import ConfigError
from ..graph import UnknownNodeError
from ..sinks.sqlite_files import StoreVersionError
from .common import CommandError, default_store
from .output import EXIT_NOT_FOUND, EXIT_OK, EXIT_USAGE, emit, error, use_color
from .parser import build_parser

__all__ = ["build_parser", "default_store", "main"]


def main(argv: Sequence[str] | None = None, out: IO[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    out = out or sys.stdout
    args = build_parser().parse_args(argv)
    args.json = bool(args.json)
    args.include_failed = bool(args.include_failed)
    try:
        return emit(args.handler(args), out, args.json, color=use_color(out))
    except UnknownNodeError as exc:
        error(exc)
        return EXIT_NOT_FOUND
    except CommandError as exc:
        error(exc)
        return exc.code
    except (ConfigError, ConnectionError) as exc:  # a server store that went away mid-command
        error(exc)
        return EXIT_USAGE
    except BrokenPipeError:  # `lineage runs | head`
        return EXIT_OK
    except (OSError, sqlite3.DatabaseError, StoreVersionError) as exc:
        # A store that breaks while being read, an output path that cannot be written: one
        # line saying so, exit 2, never a traceback.
        error(_describe(exc))
        return EXIT_USAGE


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or exc}"
    if isinstance(exc, sqlite3.DatabaseError):
        return f"the store cannot be read ({exc}); is it a lineage store?"
    return str(exc)
