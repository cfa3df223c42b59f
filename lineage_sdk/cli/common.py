"""What every command shares: its failure type, the store it reads, argument types."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ..config import DEFAULT_STORE, SinkTarget, redact_secrets
from ..errors import ConfigError
from ..graph import LineageGraph, load_graph
from ..graph.changes import MomentError
from ..graph.load import parse_store, store_records
from ..project_file import sinks_from_env
from ..records import Record
from .output import EXIT_USAGE

__all__ = [
    "CommandError",
    "add_command",
    "check_output",
    "default_store",
    "open_graph",
    "positive_int",
    "refuse_json",
    "store_spec",
    "store_target",
]

#: A bare path's suffix -> the store scheme it means for ``--store``.
STORE_SUFFIXES = {
    ".db": "sqlite",
    ".sqlite": "sqlite",
    ".sqlite3": "sqlite",
    ".jsonl": "json",
    ".json": "json",
    ".ndjson": "json",
}


class CommandError(Exception):
    """A command cannot do what was asked; the message is for the user, ``code`` the exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def store_spec(target: SinkTarget) -> str:
    """``target`` as a store string again, password included (to open it; never to show it)."""
    if target.scheme == "postgresql":
        value = target.value or ""
        return value if "://" in value else f"postgresql:{value}"
    return str(target)


def default_store(env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    """The store the CLI reads without ``--store``: the first json/sqlite/postgresql sink
    configured.

    Configured as the SDK is (``LINEAGE_SINK``, else the project file's ``sink``), so the CLI
    reads what the pipeline writes.
    """
    env = dict(os.environ) if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    try:
        for target in sinks_from_env(env, cwd):
            if target.scheme in ("json", "sqlite", "postgresql"):
                return store_spec(target)
    except ConfigError:
        pass  # reported by `lineage doctor`; fall back to the embedded default
    return str(SinkTarget("sqlite", str(cwd / DEFAULT_STORE)))


def store_target(text: str) -> str:
    """``--store`` as a store string: a bare path is an SQLite or JSON store by its suffix."""
    scheme, colon, _ = text.partition(":")
    if colon and scheme.lower() in ("sqlite", "json"):
        return text
    suffix = Path(text).suffix.lower()
    if suffix in STORE_SUFFIXES:
        return f"{STORE_SUFFIXES[suffix]}:{text}"
    return text


def open_graph(args: argparse.Namespace) -> LineageGraph:
    """The graph of ``--store`` (or the default store); CommandError when it cannot be read."""
    store = store_target(args.store) if args.store else default_store()
    try:
        return load_graph(
            store,
            include_failed=bool(getattr(args, "include_failed", False)),
            as_of=getattr(args, "as_of", None),
        )
    except MomentError as exc:
        raise CommandError(f"--as-of: {exc}") from exc
    except FileNotFoundError as exc:
        raise CommandError(f"{exc} (choose one with --store or LINEAGE_SINK)") from exc
    except (ConfigError, ValueError, LookupError, ConnectionError) as exc:
        # LookupError: "--store memory" in a fresh process has no memory sink to read.
        suffixes = ", ".join(STORE_SUFFIXES)
        raise CommandError(
            f"--store {redact_secrets(store)!r}: {exc}. A bare path is read by its suffix "
            f"({suffixes})"
        ) from exc


def add_command(
    sub: Any,
    name: str,
    common: argparse.ArgumentParser,
    *,
    summary: str,
    description: str,
    examples: Sequence[str],
    handler: Callable[[argparse.Namespace], Any],
) -> argparse.ArgumentParser:
    """Register one subcommand with its one-line summary, description and examples."""
    epilog = "examples:\n" + "\n".join(f"  {e}" for e in examples)
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        parents=[common],
        help=summary,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(handler=handler)
    return parser


def open_records(args: argparse.Namespace) -> Iterator[Record]:
    """The records of ``--store``, streamed (the graph is not built); CommandError if unreadable."""
    store = store_target(args.store) if args.store else default_store()
    try:
        target = parse_store(store)
        if target.scheme != "postgresql" and not Path(target.value or "").exists():
            raise FileNotFoundError(f"no lineage store at {target.value}")
    except FileNotFoundError as exc:
        raise CommandError(f"{exc} (choose one with --store or LINEAGE_SINK)") from exc
    except (ConfigError, ValueError, LookupError, ConnectionError) as exc:
        # LookupError: "--store memory" in a fresh process has no memory sink to read.
        raise CommandError(f"--store {redact_secrets(store)!r}: {exc}") from exc
    return store_records(target)


def check_output(path: str) -> Path:
    """The ``-o`` path, or CommandError when it cannot be a file we write (before any work)."""
    target = Path(path)
    if target.is_dir():
        raise CommandError(f"-o {path}: is a directory; give a file name")
    if not target.parent.is_dir():
        raise CommandError(f"-o {path}: the folder {target.parent} does not exist")
    if target.exists() and not target.is_file():
        raise CommandError(f"-o {path}: is not a regular file")
    return target


def refuse_json(args: argparse.Namespace, why: str) -> None:
    """CommandError (exit 2) when ``--json`` was given to a command whose output is not JSON."""
    if args.json:
        raise CommandError(f"--json does not apply to `lineage {args.command}`: {why}")


def positive_int(what: str) -> Callable[[str], int]:
    """argparse type: a whole number of 1 or more; errors say ``what`` the number is."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"{what} must be 1 or more, got {value}")
        return value

    return parse
