"""What every command shares: its failure type, the store it reads, argument types."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..config import DEFAULT_STORE, SinkTarget, sinks_from_env
from ..errors import ConfigError
from ..graph import LineageGraph, load_graph
from .output import EXIT_USAGE

__all__ = ["CommandError", "default_store", "open_graph", "positive_int"]


class CommandError(Exception):
    """A command cannot do what was asked; the message is for the user, ``code`` the exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def default_store(env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    """The store the CLI reads without ``--store``: the first json/sqlite in LINEAGE_SINK."""
    env = dict(os.environ) if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    try:
        for target in sinks_from_env(env, cwd):
            if target.scheme in ("json", "sqlite"):
                return str(target)
    except ConfigError:
        pass  # reported by `lineage doctor`; fall back to the embedded default
    return str(SinkTarget("sqlite", str(cwd / DEFAULT_STORE)))


def open_graph(args: argparse.Namespace) -> LineageGraph:
    """The graph of ``--store`` (or the default store); CommandError when it cannot be read."""
    store = args.store or default_store()
    try:
        return load_graph(store)
    except FileNotFoundError as exc:
        raise CommandError(f"{exc} (choose one with --store or LINEAGE_SINK)") from exc
    except (ConfigError, ValueError, LookupError) as exc:
        # LookupError: "--store memory" in a fresh process has no memory sink to read.
        raise CommandError(f"--store {store!r}: {exc}") from exc


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


def positive_int(text: str) -> int:
    """argparse type: a whole number of 1 or more (depths, limits)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("depth must be 1 or more")
    return value
