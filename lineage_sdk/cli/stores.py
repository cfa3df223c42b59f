"""``lineage copy`` and ``lineage prune``: gather stores into one, and keep it from growing forever.

lineage copy json:ci-lineage.jsonl postgresql://lineage@db.internal/lineage
lineage prune --older-than 90d --dry-run --store postgresql://lineage@db.internal/lineage
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sqlite3
import sys
from typing import IO, Any

from ..config import SinkTarget, redact_secrets
from ..errors import ConfigError
from ..stores import copy_store, parse_store, prune_store
from .common import CommandError, default_store
from .output import Lines, Result, Table

__all__ = ["add_parsers", "copy", "parse_age", "prune"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
# What a store that cannot be opened or written raises; all become one message, exit 2.
_STORE_ERRORS = (OSError, ValueError, RuntimeError, ConfigError, sqlite3.Error)


def parse_age(text: str) -> dt.timedelta:
    """argparse type: ``90d``, ``12h``, ``30m``, ``2w`` or ``45s``."""
    match = _AGE.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an age; write a number and a unit: 90d, 12h, 30m, 2w, 45s"
        )
    return dt.timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def _store(text: str, what: str) -> SinkTarget:
    try:
        return parse_store(text, what)
    except (ConfigError, ValueError) as exc:
        raise CommandError(redact_secrets(str(exc))) from None


class _Bar:
    """A one-line progress bar on a terminal (stderr: stdout may carry --json)."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def __call__(self, done: int, total: int | None) -> None:
        if total:
            filled = min(30, 30 * done // total)
            text = f"[{'#' * filled}{'.' * (30 - filled)}] {done}/{total} records"
        else:
            text = f"{done} records"
        self.stream.write(f"\r{text}")
        self.stream.flush()

    def end(self) -> None:
        self.stream.write("\n")


def copy(args: argparse.Namespace) -> Result:
    """Copy every record of SOURCE that TARGET lacks; the summary."""
    source, target = _store(args.source, "SOURCE"), _store(args.target, "TARGET")
    bar = _Bar(sys.stderr) if sys.stderr.isatty() else None
    try:
        summary = copy_store(source, target, bar)
    except _STORE_ERRORS as exc:
        raise CommandError(
            f"copy {source} -> {target} failed: {redact_secrets(str(exc))}"
        ) from None
    finally:
        if bar is not None:
            bar.end()
    data = {
        "source": str(source),
        "target": str(target),
        "copied": summary.copied,
        "already_present": summary.present,
        "skipped": summary.skipped,
    }
    rows = [["copied", summary.copied], ["already present", summary.present]]
    rows.append(["skipped (unreadable)", summary.skipped])
    return Result(data=data, human=[Table((f"{source} -> {target}", "records"), rows)])


def prune(args: argparse.Namespace) -> Result:
    """Remove (or, with --dry-run, list) runs older than --older-than."""
    target = _store(args.store or default_store(), "--store")
    try:
        pruned = prune_store(target, args.older_than, dry_run=args.dry_run)
    except _STORE_ERRORS as exc:
        raise CommandError(f"prune {target} failed: {redact_secrets(str(exc))}") from None
    verb = "would remove" if args.dry_run else "removed"
    lines = [f"{verb} run {run_id} of {job}" for run_id, job in pruned.runs]
    lines += [f"{verb} node {node}" for node in pruned.nodes]
    lines.append(f"{verb} {len(pruned.runs)} run(s) and {len(pruned.nodes)} node(s) from {target}")
    data = {
        "store": str(target),
        "dry_run": args.dry_run,
        "runs": [{"run_id": r, "transformation": t} for r, t in pruned.runs],
        "nodes": pruned.nodes,
    }
    return Result(data=data, human=[Lines(lines)])


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register ``copy`` and ``prune``."""
    parser = sub.add_parser(
        "copy",
        parents=[common],
        help="copy every record from one store to another (json, sqlite, postgresql)",
        description="Copy records that TARGET lacks (by run id and node id): running it again "
        "copies nothing twice. Shows a progress bar on a terminal and prints a summary.",
    )
    parser.add_argument(
        "source", metavar="SOURCE", help="json:PATH, sqlite:PATH or postgresql://..."
    )
    parser.add_argument(
        "target", metavar="TARGET", help="json:PATH, sqlite:PATH or postgresql://..."
    )
    parser.set_defaults(handler=copy)
    parser = sub.add_parser(
        "prune",
        parents=[common],
        help="remove old runs from an SQL store (keeps each job's newest run)",
        description="Remove runs older than --older-than from --store (sqlite or postgresql). "
        "The newest run of every transformation stays, and so does every node a kept run "
        "references. Prints what it removed.",
    )
    parser.add_argument(
        "--older-than", type=parse_age, required=True, metavar="AGE", help="e.g. 90d, 12h, 2w"
    )
    parser.add_argument("--dry-run", action="store_true", help="only list what would go")
    parser.set_defaults(handler=prune)
