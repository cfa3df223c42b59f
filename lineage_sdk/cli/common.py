"""What every command shares: its failure type, the store it reads, argument types."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..config import DEFAULT_STORE, SinkTarget, parse_sinks
from ..errors import ConfigError
from ..graph import LineageGraph, load_graph
from ..graph.changes import MomentError
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
    raw = env.get("LINEAGE_SINK", "")
    if raw.strip():
        try:
            for target in parse_sinks(raw, cwd):
                if target.scheme in ("json", "sqlite"):
                    return str(target)
        except ConfigError:
            pass  # reported by `lineage doctor`; fall back to the embedded default
    return str(SinkTarget("sqlite", str(cwd / DEFAULT_STORE)))


def open_graph(args: argparse.Namespace) -> LineageGraph:
    """The graph of ``--store`` (or the default store); CommandError when it cannot be read."""
    store = args.store or default_store()
    try:
        return load_graph(store, as_of=getattr(args, "as_of", None))
    except MomentError as exc:
        raise CommandError(f"--as-of: {exc}") from exc
    except FileNotFoundError as exc:
        raise CommandError(f"{exc} (choose one with --store or LINEAGE_SINK)") from exc
    except (ConfigError, ValueError) as exc:
        raise CommandError(f"--store {store!r}: {exc}") from exc


def positive_int(text: str) -> int:
    """argparse type: a whole number of 1 or more (depths, limits)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("depth must be 1 or more")
    return value
