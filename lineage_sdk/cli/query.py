"""Questions about the graph's shape: ``upstream``, ``downstream``, ``impact``, ``path``,
``orphans``, ``cycles``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from ..graph import LineageGraph
from .common import add_command, open_graph, positive_int
from .output import EXIT_NOT_FOUND, Lines, Result, Styled

__all__ = ["add_parsers"]


def _ids(
    args: argparse.Namespace,
    graph: LineageGraph,
    ids: Sequence[str],
    empty: str,
    columns: Sequence[str] = (),
) -> Result:
    """Ids one per line for people, ``[{"id", "kind"}]`` for machines; ``empty`` if none.

    Ids among ``columns`` are source columns (``SOURCE.COLUMN``, kind ``Column``).
    """
    column_ids = set(columns)
    return Result(
        data=[{"id": i, "kind": "Column" if i in column_ids else str(graph.kind(i))} for i in ids]
        if args.json
        else None,
        human=[Lines(ids if ids else [Styled(empty, "dim")])],
    )


def walk(args: argparse.Namespace) -> Result:
    """``upstream`` / ``downstream``: the ids, one per line.

    ``upstream --columns`` lists after each source the columns used (kind ``Column``).
    """
    graph = open_graph(args)
    side = "upstream of" if args.command == "upstream" else "downstream of"
    if args.command == "upstream" and args.columns:
        ids = graph.upstream(args.id, args.depth, columns=True)
        nodes = set(graph.upstream(args.id, args.depth))
        columns = [i for i in ids if i not in nodes]
        return _ids(args, graph, ids, f"nothing {side} {args.id}", columns)
    step = graph.upstream if args.command == "upstream" else graph.downstream
    return _ids(args, graph, step(args.id, args.depth), f"nothing {side} {args.id}")


def impact(args: argparse.Namespace) -> Result:
    """``impact``: the features that change when ID (a node, or ``SOURCE.COLUMN``) changes."""
    graph = open_graph(args)
    return _ids(args, graph, graph.impact(args.id), f"no feature depends on {args.id}")


def path(args: argparse.Namespace) -> Result:
    """``path``: one shortest derivation path from SRC to DST; exit 1 when there is none."""
    graph = open_graph(args)
    found = graph.path(args.src, args.dst)
    if found is None:
        return Result(
            data=None,
            human=[Lines([Styled(f"no path from {args.src} to {args.dst}", "dim")])],
            code=EXIT_NOT_FOUND,
        )
    return _ids(args, graph, found, "")


def orphans(args: argparse.Namespace) -> Result:
    """``orphans``: declared nodes no completed run reads or writes."""
    graph = open_graph(args)
    return _ids(args, graph, graph.orphans(), "no orphans: every declared node is used by a run")


def cycles(args: argparse.Namespace) -> Result:
    """``cycles``: derivation cycles, one per line as ``a -> b -> a``."""
    found = open_graph(args).cycles()
    lines: list[object] = [" -> ".join(c) for c in found] or [Styled("no cycles", "dim")]
    return Result(data=found, human=[Lines(lines)])


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register this group's subcommands."""
    _add_walks(sub, common)
    _add_whole_graph_questions(sub, common)


def _add_walks(sub: Any, common: argparse.ArgumentParser) -> None:
    depth = positive_int("--depth")
    for name, summary, description, example in (
        (
            "upstream",
            "what ID derives from, one id per line",
            "Everything ID is derived from, transformations included: sorted by id, or nearest "
            "first with --depth (1 = direct neighbours).",
            "lineage upstream user_ctr_7d --depth 2",
        ),
        (
            "downstream",
            "what derives from ID, one id per line",
            "Everything derived from ID, transformations included: sorted by id, or nearest "
            "first with --depth (1 = direct neighbours).",
            "lineage downstream raw_clicks_kafka_topic",
        ),
    ):
        parser = add_command(
            sub,
            name,
            common,
            summary=summary,
            description=description,
            examples=[example, f"lineage {name} ID --json"],
            handler=walk,
        )
        parser.add_argument("id", metavar="ID")
        parser.add_argument("--depth", type=depth, metavar="N", help="1 = direct neighbours")
        if name == "upstream":
            parser.add_argument(
                "--columns",
                action="store_true",
                help="also list the source columns (SOURCE.COLUMN) each derivation used",
            )


def _add_whole_graph_questions(sub: Any, common: argparse.ArgumentParser) -> None:
    parser = add_command(
        sub,
        "impact",
        common,
        summary="the features that change when ID (a node or SOURCE.COLUMN) changes",
        description="The features downstream of ID: what to recompute or warn about. For "
        "SOURCE.COLUMN, only what derives from that column (or from the whole source).",
        examples=[
            "lineage impact raw_clicks_kafka_topic",
            "lineage impact raw_clicks_kafka_topic.ad_id",
        ],
        handler=impact,
    )
    parser.add_argument("id", metavar="ID")

    parser = add_command(
        sub,
        "path",
        common,
        summary="one shortest derivation path from SRC to DST",
        description="The ids along one shortest path, transformations included; exit 1 when "
        "DST does not derive from SRC.",
        examples=["lineage path raw_clicks_kafka_topic user_ctr_7d"],
        handler=path,
    )
    parser.add_argument("src", metavar="SRC")
    parser.add_argument("dst", metavar="DST")

    add_command(
        sub,
        "orphans",
        common,
        summary="declared nodes that no run reads or writes",
        description="Declared data sources and features no completed run reads or writes, "
        "such as a registered reference table.",
        examples=["lineage orphans --json"],
        handler=orphans,
    )
    add_command(
        sub,
        "cycles",
        common,
        summary="derivation cycles, if any",
        description="One cycle per strongly connected group of nodes, as a -> b -> a.",
        examples=["lineage cycles"],
        handler=cycles,
    )
