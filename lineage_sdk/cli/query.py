"""Questions about the graph: ``upstream``, ``downstream``, ``show``, ``runs``."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..graph import LineageGraph
from ..records import Run
from ..serde import to_dict
from .common import open_graph, positive_int
from .output import Lines, Result, Table

__all__ = ["add_parsers", "runs", "show", "walk"]

RUN_HEADER = ("started (UTC)", "transformation", "status", "duration", "commit", "tag", "run id")


def run_row(run: Run) -> list[object]:
    """One run as a row under :data:`RUN_HEADER`."""
    return [
        run.started_at.strftime("%Y-%m-%d %H:%M:%S"),
        run.transformation,
        run.status,
        f"{run.duration_s:.3f}s",
        run.git.commit[:10] if run.git else None,
        run.git.tag if run.git else None,
        run.run_id,
    ]


def walk(args: argparse.Namespace) -> Result:
    """``upstream`` / ``downstream``: the ids, one per line; with ``--json`` their kinds too."""
    graph = open_graph(args)
    step = graph.upstream if args.command == "upstream" else graph.downstream
    ids = step(args.id, args.depth)
    return Result(
        data=[{"id": i, "kind": str(graph.node(i).kind)} for i in ids] if args.json else None,
        human=[Lines(ids)],
    )


def runs(args: argparse.Namespace) -> Result:
    """``runs``: recorded runs, newest first."""
    graph = open_graph(args)
    if args.transformation is not None:
        graph.node(args.transformation)  # unknown name: exit 1 with suggestions
    found = graph.runs(transformation=args.transformation, status=args.status, limit=args.limit)
    return Result(
        data=[to_dict(r) for r in found], human=[Table(RUN_HEADER, [run_row(r) for r in found])]
    )


def _details(graph: LineageGraph, node_id: str) -> dict[str, Any]:
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
        details["recent_runs"] = [to_dict(r) for r in graph.runs(transformation=node_id, limit=5)]
        details["versions"] = [
            {k: getattr(v, k) for k in ("version", "source_sha256", "commit", "tag", "runs")}
            | {"first_run": v.first_run.isoformat(), "last_run": v.last_run.isoformat()}
            for v in graph.versions(node_id)
        ]
    else:
        details["upstream"] = graph.upstream(node_id, 1)
        details["downstream"] = graph.downstream(node_id, 1)
    return details


def _field_rows(details: dict[str, Any]) -> list[list[object]]:
    rows: list[list[object]] = []
    for key, value in details.items():
        if key in ("recent_runs", "versions"):
            continue
        shown: object = value
        if isinstance(value, (list, tuple)):
            shown = ", ".join(map(str, value)) if value else None
        elif isinstance(value, dict):
            shown = json.dumps(value, ensure_ascii=False) if value else None
        rows.append([key, shown])
    return rows


def show(args: argparse.Namespace) -> Result:
    """``show``: everything known about one id; a transformation's recent runs below."""
    graph = open_graph(args)
    details = _details(graph, args.id)
    human: list[Table | Lines] = [Table(("field", "value"), _field_rows(details))]
    if details["kind"] == "Transformation":
        recent = graph.runs(transformation=args.id, limit=5)
        human += [Lines([""]), Table(RUN_HEADER, [run_row(r) for r in recent])]
    return Result(data=details, human=human)


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register this group's subcommands."""
    for name, help_text in (
        ("upstream", "what ID derives from, one id per line"),
        ("downstream", "what derives from ID, one id per line"),
    ):
        parser = sub.add_parser(name, parents=[common], help=help_text)
        parser.add_argument("id", metavar="ID")
        parser.add_argument("--depth", type=positive_int, metavar="N", help="1 = direct neighbours")
        parser.set_defaults(handler=walk)

    parser = sub.add_parser("show", parents=[common], help="everything known about one id")
    parser.add_argument("id", metavar="ID")
    parser.set_defaults(handler=show)

    parser = sub.add_parser("runs", parents=[common], help="recorded runs, newest first")
    parser.add_argument("--transformation", metavar="NAME")
    parser.add_argument("--status", choices=("completed", "failed"))
    parser.add_argument("--limit", type=positive_int, metavar="N", default=20, help="default 20")
    parser.set_defaults(handler=runs)
