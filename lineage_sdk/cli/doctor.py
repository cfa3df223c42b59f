"""``lineage doctor``: check the configuration, each store and git capture; list problems."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from .. import __version__
from .._version import DISTRIBUTION
from ..config import SinkTarget, parse_sinks
from ..errors import ConfigError
from ..filesystems import network_filesystem
from ..graph import load_graph
from ..project_file import load_settings
from .common import add_command, store_target
from .output import EXIT_NOT_FOUND, EXIT_OK, Lines, Result, Table

__all__ = ["add_parsers", "doctor"]


def _settings(report: dict[str, Any]) -> list[SinkTarget]:
    """Record the settings in force in ``report``; return their sinks (none if they are bad)."""
    try:
        settings = load_settings({}, os.environ, Path.cwd())
    except ConfigError as exc:
        report["problems"].append(str(exc))
        return []
    report["settings"] = settings.summary()
    origin = settings.origin_of("sinks")
    report["store_origin"] = (
        "default: lineage.db in the working directory" if origin == "default" else origin
    )
    return list(settings.sinks)


def _writable(path: Path) -> bool:
    if path.exists():
        return os.access(path, os.W_OK)
    nearest = next((p for p in (path.parent, *path.parents) if p.exists()), None)
    return nearest is not None and os.access(nearest, os.W_OK)


def _check_store(target: SinkTarget, problems: list[str]) -> dict[str, Any]:
    """What is known about one file store; its problems are appended to ``problems``."""
    path = Path(target.value or "")
    entry: dict[str, Any] = {"sink": str(target), "exists": path.exists()}
    entry["writable"] = _writable(path)
    if not entry["writable"]:
        problems.append(f"{target}: not writable")
    if target.scheme == "sqlite":
        fs = network_filesystem(path)
        entry["filesystem"] = fs
        if fs is not None:
            problems.append(
                f"{target}: on a network file system ({fs}); SQLite locking is not "
                "reliable there. Send lineage to an OpenLineage backend instead "
                "(LINEAGE_SINK=openlineage), or keep the store on a local disk"
            )
    if path.exists():
        try:
            graph = load_graph(str(target))
            entry["runs"] = len(graph.runs())
            cycles = graph.cycles()
            graph.close()
            if cycles:
                problems.append(f"{target}: lineage has cycles: {cycles[:3]}")
        except Exception as exc:
            entry["error"] = f"{type(exc).__name__}: {exc}"
            problems.append(f"{target}: cannot be read: {exc}")
    return entry


def _check_postgres(target: SinkTarget, problems: list[str]) -> dict[str, Any]:
    """Server version, store version, can-write and round trip of a PostgreSQL store."""
    entry: dict[str, Any] = {"sink": str(target)}  # str(): the password is never shown
    try:
        from ..sinks.postgres import parse_dsn, probe

        settings = load_settings({}, os.environ, Path.cwd())
        entry.update(probe(parse_dsn(target.value or "", settings.pg_schema)))
    except (ConfigError, ConnectionError) as exc:
        entry["error"] = str(exc)
        problems.append(f"{target}: cannot be reached: {exc}")
        return entry
    if not entry["can_write"]:
        problems.append(f"{target}: this login cannot write lineage there")
    return entry


def _git_report() -> dict[str, Any] | None:
    from ..capture.git import repository_for

    repo = repository_for(Path.cwd())
    if repo is None:
        return None
    state = repo.state()
    fields = ("commit", "branch", "tag", "describe", "dirty", "remote_url")
    return {
        "repository": str(repo.root),
        **({k: getattr(state, k) for k in fields} if state else {}),
    }


def _human(report: dict[str, Any]) -> list[Table | Lines]:
    rows: list[list[object]] = [[DISTRIBUTION, report["version"]]]
    for key, value in report.get("settings", {}).items():
        rows.append([key, ", ".join(value) if isinstance(value, list) else value])
        if key == "sinks" and "store_origin" in report:
            rows.append(["sinks from", report["store_origin"]])
    for entry in report["sinks"]:
        details = ", ".join(f"{k}={v}" for k, v in entry.items() if k != "sink")
        rows.append([f"store {entry['sink']}", details])
    git = report["git"]
    shown = "not a repository" if git is None else ", ".join(f"{k}={v}" for k, v in git.items())
    rows.append(["git", shown])
    problems = [f"problem: {p}" for p in report["problems"]] or ["no problems found"]
    return [Table(("check", "result"), rows), Lines(problems)]


def doctor(args: argparse.Namespace) -> Result:
    """The report; exit 1 when it found problems."""
    report: dict[str, Any] = {"version": __version__, "problems": []}
    targets = _settings(report)
    if args.store:
        try:
            targets = list(parse_sinks(store_target(args.store), Path.cwd(), "--store"))
        except ConfigError as exc:
            report["problems"].append(str(exc))
            targets = []
    checks = {"json": _check_store, "sqlite": _check_store, "postgresql": _check_postgres}
    report["sinks"] = [
        checks[t.scheme](t, report["problems"]) if t.scheme in checks else {"sink": str(t)}
        for t in targets
    ]
    report["git"] = _git_report()
    return Result(
        data=report,
        human=_human(report),
        code=EXIT_NOT_FOUND if report["problems"] else EXIT_OK,
    )


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register ``doctor``."""
    add_command(
        sub,
        "doctor",
        common,
        summary="check configuration, stores and git capture",
        description="Check the settings in force (LINEAGE_* variables), each file store (exists, "
        "writable, local disk, readable, cycles) and git capture in the working directory; exit 1 "
        "when a problem is found.",
        examples=["lineage doctor", "lineage doctor --store lineage.db --json"],
        handler=doctor,
    )
