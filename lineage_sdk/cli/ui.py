"""``lineage ui``: the browser explorer, as one offline HTML file or served live (see
:mod:`lineage_sdk.ui`)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..graph.changes import MomentError
from ..ui import command
from .common import CommandError, add_command, open_graph, positive_int
from .output import Lines, Result

__all__ = ["add_parsers", "ui"]


def _diff_page(args: argparse.Namespace) -> Result:
    """``ui --diff A B``: the union of both moments' graphs, the changes marked (as ``graph
    --diff`` draws them)."""
    if args.serve:
        raise CommandError(
            "--diff writes one offline page; it does not take --serve (use -o FILE, or serve "
            "the current graph without --diff)"
        )
    if args.focus is not None or args.depth is not None:
        raise CommandError("--diff shows the whole graph; it does not take --focus or --depth")
    lineage = open_graph(args)
    try:
        found = lineage.diff(*args.diff)
    except MomentError as exc:
        raise CommandError(str(exc)) from exc
    union = lineage.as_of(max(found.start.at, found.end.at))
    try:
        written = command.write_file(union, args.output, open_it=args.open, diff=found)
    finally:
        union.close()
    return Result(
        data=written,
        human=[Lines([f"wrote {written['path']}; open {written['uri']} in a browser"])],
    )


def ui(args: argparse.Namespace) -> Result:
    """Write the page to ``--output`` (and open it), or serve it until Ctrl-C."""
    if args.diff is not None:
        return _diff_page(args)
    if args.depth is not None and args.focus is None:
        raise CommandError("--depth needs --focus")
    lineage = open_graph(args)  # fail now, with the usual message, if the store cannot be read
    if args.focus is not None:
        lineage.node(args.focus)  # unknown id: exit 1 with suggestions
    if args.serve:
        lineage.close()
        code = command.serve_live(lambda: open_graph(args), args, sys.stdout)
        return Result(data={"stopped": True}, code=code)
    written = command.write_file(lineage, args.output, args.focus, args.depth, args.open)
    return Result(
        data=written,
        human=[Lines([f"wrote {written['path']}; open {written['uri']} in a browser"])],
    )


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("a port is 0..65535 (0: any free port)")
    return value


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register ``ui``."""
    parser = add_command(
        sub,
        "ui",
        common,
        summary="explore the lineage in a browser: one offline HTML file, or served live",
        description="An interactive explorer (pan, zoom, search, details, runs): written as one "
        "offline HTML file, or served live and read-only with --serve.",
        examples=[
            "lineage ui --open",
            "lineage ui --focus user_ctr_7d --depth 2 -o ctr.html",
            "lineage ui --serve --port 8765",
            "lineage ui --diff v1.0 v1.1 -o changes.html",
        ],
        handler=ui,
    )
    parser.add_argument(
        "-o", "--output", metavar="FILE", default="lineage.html", help="default: lineage.html"
    )
    parser.add_argument("--focus", metavar="ID", help="only this id and its neighbourhood")
    parser.add_argument(
        "--depth", type=positive_int("--depth"), metavar="N", help="with --focus: how far"
    )
    parser.add_argument("--open", action="store_true", help="open it in the default browser")
    parser.add_argument(
        "--diff",
        nargs=2,
        metavar=("A", "B"),
        help="show both moments' graphs (a datetime, ISO-8601 text, a run id, or a git tag, "
        "branch or commit): added green, removed red dashed, changed violet",
    )
    parser.add_argument(
        "--serve", action="store_true", help="serve it live and read-only instead of writing it"
    )
    parser.add_argument("--port", type=_port, default=8765, help="with --serve (default 8765)")
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="with --serve: address to bind (default 127.0.0.1; others expose the store)",
    )
