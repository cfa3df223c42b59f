"""``lineage graph``: draw the lineage graph as DOT, SVG, PNG or PDF."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..render import FORMATS, DotNotFoundError, render, render_bytes, to_dot
from .common import CommandError, open_graph, positive_int
from .output import Lines, Result

__all__ = ["add_parsers", "graph"]


def graph(args: argparse.Namespace) -> Result:
    """Write the picture to ``--output``, or return it to be written to stdout."""
    lineage = open_graph(args)
    if args.depth is not None and args.focus is None:
        raise CommandError("--depth needs --focus")
    if args.focus is not None:
        lineage.node(args.focus)  # unknown id: exit 1 with suggestions
    fmt = args.format or (Path(args.output).suffix.lstrip(".") if args.output else "dot") or "svg"
    if fmt not in FORMATS:
        raise CommandError(f"unknown format {fmt!r}; accepted: {', '.join(FORMATS)}")
    try:
        if not args.output:
            data = render_bytes(to_dot(lineage, focus=args.focus, depth=args.depth), fmt)
            return Result(raw=data.decode("utf-8") if fmt == "dot" else data)
        path = render(lineage, args.output, fmt, focus=args.focus, depth=args.depth)
    except DotNotFoundError as exc:
        raise CommandError(str(exc)) from exc
    written = path.resolve()
    return Result(data={"path": str(written), "format": fmt}, human=[Lines([f"wrote {written}"])])


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register ``graph``."""
    parser = sub.add_parser("graph", parents=[common], help="draw the lineage graph")
    parser.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout)")
    parser.add_argument("--format", choices=FORMATS, help="default: from FILE's suffix, else dot")
    parser.add_argument("--focus", metavar="ID", help="only this node and its neighbourhood")
    parser.add_argument(
        "--depth", type=positive_int, metavar="N", help="with --focus: how far to go"
    )
    parser.set_defaults(handler=graph)
