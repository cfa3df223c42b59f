"""``lineage graph``: draw the lineage graph as DOT, SVG, PNG or PDF."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from ..render import (
    FORMATS,
    LARGE_GRAPH,
    DotNotFoundError,
    DrawableGraph,
    Marks,
    layout_engine,
    render_bytes,
    to_dot,
    vertex_count,
)
from .common import (
    CommandError,
    add_command,
    check_output,
    open_graph,
    positive_int,
    refuse_json,
)
from .output import Lines, Result

__all__ = ["add_parsers", "graph", "picture"]

_BINARY = ("png", "pdf")


def _progress(message: str) -> None:
    """A status line on stderr, only when a person watches it (stderr is a terminal)."""
    if sys.stderr.isatty():
        print(f"lineage: {message}", file=sys.stderr, flush=True)


def _format(args: argparse.Namespace) -> str:
    fmt: str = args.format or (Path(args.output).suffix.lstrip(".") if args.output else "dot")
    fmt = (fmt or "svg").lower()
    if fmt not in FORMATS:
        raise CommandError(f"unknown format {fmt!r}; accepted: {', '.join(FORMATS)}")
    if fmt in _BINARY and not args.output and sys.stdout.isatty():
        raise CommandError(
            f"{fmt.upper()} is binary and stdout is a terminal: write it to a file with "
            f"-o FILE.{fmt}, or redirect stdout"
        )
    if not args.output:
        refuse_json(args, "without -o FILE it prints the picture (with -o, JSON reports the file)")
    return fmt


def graph(args: argparse.Namespace) -> Result:
    """The picture for stdout, or the file written with ``-o``."""
    if args.output:
        check_output(args.output)
    lineage = open_graph(args)
    if args.depth is not None and args.focus is None:
        raise CommandError("--depth needs --focus")
    _format(args)
    if args.focus is not None:
        lineage.node(args.focus)  # unknown id: exit 1 with suggestions
    return picture(args, lineage)


def picture(args: argparse.Namespace, lineage: DrawableGraph, marks: Marks | None = None) -> Result:
    """Draw ``lineage`` as ``args`` say (format, output, focus, depth, columns); ``marks`` as in
    :func:`~lineage_sdk.render.to_dot`."""
    fmt = _format(args)
    source = to_dot(
        lineage,
        focus=args.focus,
        depth=args.depth,
        marks=marks,
        columns=args.columns,
    )
    size = vertex_count(source)
    hint = None
    if size > LARGE_GRAPH:
        hint = (
            f"hint: {size:,} vertices make an overview, not a readable picture; draw one part "
            "with --focus ID --depth N"
        )
    if fmt != "dot":
        engine = layout_engine(source)
        _progress(f"laying out {size:,} vertices with Graphviz {engine} ...")
        started = time.monotonic()
        try:
            data = render_bytes(source, fmt, engine)
        except DotNotFoundError as exc:
            raise CommandError(str(exc)) from exc
        _progress(f"laid out in {time.monotonic() - started:.1f}s")
    else:
        data = source.encode("utf-8")
    if not args.output:
        return Result(raw=source if fmt == "dot" else data, note=hint)
    path = Path(args.output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    written = path.resolve()
    return Result(
        data={"path": str(written), "format": fmt, "vertices": size},
        human=[Lines([f"wrote {written}"])],
        note=hint,
    )


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register ``graph``."""
    parser = add_command(
        sub,
        "graph",
        common,
        summary="draw the lineage graph",
        description="Draw the graph (DataSource folders, Feature ellipses, Transformation boxes; a "
        "red border where the last run failed). Without -o it prints DOT. Beyond "
        f"{LARGE_GRAPH} vertices the layout is a fast force-directed overview; --focus and "
        "--depth draw one neighbourhood instead.",
        examples=[
            "lineage graph -o lineage.svg",
            "lineage graph --focus user_ctr_7d --depth 2 -o ctr.png",
            "lineage graph --columns -o columns.svg",
            "lineage graph | dot -Tsvg > lineage.svg",
        ],
        handler=graph,
    )
    parser.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout)")
    parser.add_argument("--format", choices=FORMATS, help="default: from FILE's suffix, else dot")
    parser.add_argument("--focus", metavar="ID", help="only this node and its neighbourhood")
    parser.add_argument(
        "--depth", type=positive_int("--depth"), metavar="N", help="with --focus: how far to go"
    )
    parser.add_argument(
        "--columns",
        action="store_true",
        help="draw sources as tables of their columns, edges from the columns each job read",
    )
