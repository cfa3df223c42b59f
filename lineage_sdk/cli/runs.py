"""Runs and what is known about one id: ``runs``, ``show``, ``versions``."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..graph import LineageGraph
from ..links import code_link
from ..records import GitInfo, Run
from ..serde import to_dict
from .common import CommandError, add_command, open_graph, positive_int
from .output import Lines, Result, Styled, Table

__all__ = ["add_parsers"]

RUN_HEADER = ("started (UTC)", "transformation", "status", "duration", "commit", "tag", "run id")
DEFAULT_LIMIT = 20
_STATUS_STYLE = {"completed": "green", "failed": "red", "running": "yellow", "abandoned": "red"}


def _commit(run: Run) -> object:
    """The short commit, marked when the working tree had uncommitted changes."""
    if run.git is None:
        return None
    short = run.git.commit[:10]
    return Styled(f"{short}+dirty", "yellow") if run.git.dirty else short


def _tag(git: GitInfo | None) -> object:
    """The tag, marked when the code had uncommitted changes (then it is not the release)."""
    if git is None or git.tag is None:
        return None
    return Styled(f"{git.tag} (dirty)", "yellow") if git.dirty else git.tag


def run_row(run: Run) -> list[object]:
    """One run as a row under :data:`RUN_HEADER`."""
    return [
        run.started_at.strftime("%Y-%m-%d %H:%M:%S"),
        run.transformation,
        Styled(run.status, _STATUS_STYLE.get(run.status, "")),
        f"{run.duration_s:.3f}s",
        _commit(run),
        _tag(run.git),
        run.run_id,
    ]


def run_dict(run: Run) -> dict[str, Any]:
    """A run for ``--json``: its record, plus a link to its code where the host is known."""
    return to_dict(run) | {"code_link": code_link(run.git, run.code)}


def runs(args: argparse.Namespace) -> Result:
    """``runs``: recorded runs, newest first, failed ones included."""
    graph = open_graph(args)
    if args.transformation is not None:
        graph.node(args.transformation)  # unknown name: exit 1 with suggestions
    limit = args.limit if args.limit is not None else DEFAULT_LIMIT
    found = graph.runs(transformation=args.transformation, status=args.status, limit=limit + 1)
    more = len(found) > limit
    found = found[:limit]
    human: list[Table | Lines] = []
    if found:
        human.append(Table(RUN_HEADER, [run_row(r) for r in found]))
    else:
        human.append(Lines([Styled("no runs recorded" + _filters(args), "dim")]))
    if more:
        human.append(Lines([Styled(f"showing the newest {limit}; more with --limit N", "dim")]))
    return Result(
        data={"runs": [run_dict(r) for r in found], "limit": limit, "truncated": more},
        human=human,
    )


def _filters(args: argparse.Namespace) -> str:
    parts = [
        f"{name} {value}"
        for name, value in (("of", args.transformation), ("with status", args.status))
        if value is not None
    ]
    return f" ({', '.join(parts)})" if parts else ""


def _node_details(graph: LineageGraph, node_id: str) -> dict[str, Any]:
    node = graph.node(node_id)
    kind = str(node.kind)
    details: dict[str, Any] = {"id": node_id, "kind": kind}
    if kind != "External":
        record = to_dict(node)  # type: ignore[arg-type]
        for key in ("record_type", "schema_version", "id"):
            record.pop(key, None)
        details.update(record)
    if kind == "Transformation":
        details["inputs"] = graph.transformation_inputs(node_id)
        details["outputs"] = graph.transformation_outputs(node_id)
        recent = graph.runs(transformation=node_id, limit=5)
        details["code_link"] = code_link(recent[0].git, recent[0].code) if recent else None
        details["recent_runs"] = [run_dict(r) for r in recent]
        details["versions"] = [_version_dict(v) for v in graph.versions(node_id)]
    else:
        details["upstream"] = graph.upstream(node_id, 1)
        details["downstream"] = graph.downstream(node_id, 1)
    return details


def _shown(value: object) -> object:
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) if value else None
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False) if value else None
    return value


def _run_fields(run: Run) -> list[list[object]]:
    """One run as (field, value) rows a person reads top to bottom."""
    code, git = run.code, run.git
    where = None
    if code is not None and code.file:
        lines = f":{code.line_start}-{code.line_end}" if code.line_start else ""
        where = f"{code.file}{lines}"
    rows: list[list[object]] = [
        ["run id", run.run_id],
        ["transformation", run.transformation],
        ["status", Styled(run.status, _STATUS_STYLE.get(run.status, ""))],
        ["started (UTC)", run.started_at.isoformat()],
        ["ended (UTC)", run.ended_at.isoformat()],
        ["duration", f"{run.duration_s:.3f}s"],
        ["parent run", f"{run.parent_run_id} ({run.parent_transformation})"]
        if run.parent_run_id
        else ["parent run", None],
        ["inputs", _shown(run.inputs)],
        ["outputs", _shown(run.outputs)],
    ]
    rows += [[f"  {out} from", _shown(ins)] for out, ins in run.derivation]
    rows += [
        ["version", run.version],
        ["code", f"{code.module}.{code.qualname}" if code and code.qualname else None],
        ["file", where],
        ["code link", code_link(git, code)],
        ["code reference", run.code_reference],
        ["commit", _commit(run)],
        ["branch", git.branch if git else None],
        ["tag", _tag(git)],
        ["describe", git.describe if git else None],
        [
            "uncommitted changes",
            None
            if git is None or git.dirty is None
            else Styled("yes", "yellow")
            if git.dirty
            else "no",
        ],
        ["host / pid", f"{run.host} / {run.pid}" if run.host else None],
        ["python / sdk", f"{run.python_version} / {run.sdk_version}"],
    ]
    if run.status == "failed":
        error = f"{run.error_type}: {run.error_message}" if run.error_type else run.error_message
        rows.append(["error", Styled(error or "failed", "red")])
    return rows


def _show_run(run: Run) -> Result:
    human: list[Table | Lines] = [Table(("field", "value"), _run_fields(run))]
    if run.error_stack:
        human += [Lines(["", "stack (most recent call last):", *run.error_stack.splitlines()])]
    return Result(data={"kind": "Run", **run_dict(run)}, human=human)


def show(args: argparse.Namespace) -> Result:
    """``show``: everything known about a node, a transformation, or one run (by run id)."""
    graph = open_graph(args)
    if args.id not in graph:
        run = graph.run(args.id)
        if run is not None:
            return _show_run(run)
    details = _node_details(graph, args.id)  # unknown: exit 1 with suggestions
    rows = [[k, _shown(v)] for k, v in details.items() if k not in ("recent_runs", "versions")]
    human: list[Table | Lines] = [Table(("field", "value"), rows)]
    if details["kind"] == "Transformation":
        recent = graph.runs(transformation=args.id, limit=5)
        human += [Lines([""]), Table(RUN_HEADER, [run_row(r) for r in recent])]
    return Result(data=details, human=human)


def _version_dict(v: Any) -> dict[str, Any]:
    fields = ("version", "source_sha256", "commit", "tag", "runs")
    return {k: getattr(v, k) for k in fields} | {
        "first_run": v.first_run.isoformat(),
        "last_run": v.last_run.isoformat(),
    }


def versions(args: argparse.Namespace) -> Result:
    """``versions``: the distinct code versions a transformation ran with, oldest first."""
    graph = open_graph(args)
    kind = graph.kind(args.transformation)  # unknown: exit 1 with suggestions
    if kind != "Transformation":
        raise CommandError(f"{args.transformation!r} is a {kind}, not a transformation")
    found = graph.versions(args.transformation)
    rows = [
        [
            v.version,
            (v.source_sha256 or "")[:12] or None,
            (v.commit or "")[:10] or None,
            v.tag,
            v.first_run.strftime("%Y-%m-%d %H:%M:%S"),
            v.last_run.strftime("%Y-%m-%d %H:%M:%S"),
            v.runs,
        ]
        for v in found
    ]
    header = ("version", "code sha256", "commit", "tag", "first run", "last run", "runs")
    empty = Lines([Styled(f"{args.transformation} has no recorded runs", "dim")])
    return Result(
        data=[_version_dict(v) for v in found], human=[Table(header, rows) if rows else empty]
    )


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register this group's subcommands."""
    parser = add_command(
        sub,
        "show",
        common,
        summary="everything known about one id or run",
        description="A node's or transformation's declaration, neighbours, recent runs and "
        "versions; or, given a run id, that run: inputs, outputs, code, git, error and stack.",
        examples=["lineage show user_ctr_7d", "lineage show 01a20ec1-ab34-7523-8735-1fc58788d5d3"],
        handler=show,
    )
    parser.add_argument("id", metavar="ID", help="a node, transformation or run id")

    parser = add_command(
        sub,
        "runs",
        common,
        summary="recorded runs, newest first",
        description="Recorded runs, failed ones included, newest first (the newest "
        f"{DEFAULT_LIMIT} unless --limit says otherwise).",
        examples=[
            "lineage runs --status failed",
            "lineage runs --transformation calculate_user_ctr_job_v1.0 --limit 5 --json",
        ],
        handler=runs,
    )
    parser.add_argument("--transformation", metavar="NAME")
    parser.add_argument("--status", choices=("completed", "failed"))
    parser.add_argument(
        "--limit",
        type=positive_int("--limit (how many runs to show)"),
        metavar="N",
        help=f"how many runs to show (default {DEFAULT_LIMIT})",
    )

    parser = add_command(
        sub,
        "versions",
        common,
        summary="the code versions a transformation ran with",
        description="Distinct (version, code hash, commit, tag) among a transformation's runs, "
        "oldest first, with when each ran first and last.",
        examples=["lineage versions calculate_user_ctr_job_v1.0"],
        handler=versions,
    )
    parser.add_argument("transformation", metavar="TRANSFORMATION")
