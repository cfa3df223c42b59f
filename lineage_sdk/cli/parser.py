"""The ``lineage`` argument parser, assembled from the command modules.

Adding a command: a module with the function computing its :class:`~.output.Result` and an
``add_parsers(sub, common)`` registering it, then one entry in :data:`COMMAND_MODULES`.
"""

from __future__ import annotations

import argparse
from types import ModuleType
from typing import Any

from .. import __version__
from .._version import DISTRIBUTION
from . import changes, completion, doctor, draw, export, query, runs, stores, ui

__all__ = ["COMMAND_MODULES", "build_parser"]

#: Their subcommands, in the order ``lineage --help`` lists them.
# changes goes after draw, query, runs and ui: it adds --as-of (and graph --diff) to them.
COMMAND_MODULES: tuple[ModuleType, ...] = (
    draw,
    query,
    runs,
    export,
    stores,
    ui,
    changes,
    doctor,
    completion,
)


def _options(default: Any) -> argparse.ArgumentParser:
    # Accepted before and after the subcommand; SUPPRESS on the subcommand keeps its defaults
    # from overwriting a value given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--store",
        metavar="TARGET",
        default=default,
        help="store to read: sqlite:PATH, json:PATH, postgresql://USER@HOST/DB, or a path "
        "ending .db/.sqlite (SQLite) or .jsonl/.json/.ndjson (JSON) (default: LINEAGE_SINK, "
        "else sqlite:lineage.db in the working directory)",
    )
    common.add_argument(
        "--json", action="store_true", default=default, help="machine-readable output"
    )
    common.add_argument(
        "--include-failed",
        action="store_true",
        default=default,
        help="count failed runs' inputs and outputs as lineage too (by default only completed "
        "runs make the graph; failed runs are always listed by runs and show)",
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation tools)."""
    parser = argparse.ArgumentParser(
        prog="lineage",
        description="Query and draw the feature lineage recorded by lineage-sdk.",
        epilog="`lineage COMMAND --help` describes each command, with examples.",
        parents=[_options(None)],
    )
    parser.add_argument("--version", action="version", version=f"{DISTRIBUTION} {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = _options(argparse.SUPPRESS)
    for module in COMMAND_MODULES:
        module.add_parsers(sub, common)
    return parser
