"""What ``lineage ui`` does: write the explorer as one HTML file, or serve it live.

    lineage ui -o lineage.html [--focus ID] [--depth N] [--open]
    lineage ui --serve [--port 8765] [--host 127.0.0.1]

The command line (:mod:`lineage_sdk.cli.ui`) parses with :func:`add_parser`, reads the store and
prints; the work is here.
"""

from __future__ import annotations

import argparse
import webbrowser
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:  # pragma: no cover
    from ..graph import LineageGraph

__all__ = ["add_parser", "serve_live", "write_file"]


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("depth must be 1 or more")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("a port is 0..65535 (0: any free port)")
    return value


def add_parser(
    subparsers: Any, parents: Sequence[argparse.ArgumentParser] = ()
) -> argparse.ArgumentParser:
    """Add ``ui`` to the ``lineage`` command's subparsers; returns its parser."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "ui",
        parents=list(parents),
        help="explore the lineage in a browser: one offline HTML file, or served live",
    )
    parser.add_argument(
        "-o", "--output", metavar="FILE", default="lineage.html", help="default: lineage.html"
    )
    parser.add_argument("--focus", metavar="ID", help="only this id and its neighbourhood")
    parser.add_argument("--depth", type=_positive, metavar="N", help="with --focus: how far")
    parser.add_argument("--open", action="store_true", help="open it in the default browser")
    parser.add_argument(
        "--serve", action="store_true", help="serve it live and read-only instead of writing it"
    )
    parser.add_argument("--port", type=_port, default=8765, help="with --serve (default 8765)")
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="with --serve: address to bind (default 127.0.0.1; others expose the store)",
    )
    return parser


def write_file(
    graph: LineageGraph,
    output: str | Path,
    focus: str | None = None,
    depth: int | None = None,
    open_it: bool = False,
) -> dict[str, Any]:
    """Write the page to ``output``; returns its path, ``file:`` URI and size."""
    from .page import build_page

    page = build_page(graph, focus=focus, depth=depth)
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    uri = path.resolve().as_uri()
    if open_it:
        webbrowser.open(uri)
    return {"path": str(path.resolve()), "uri": uri, "bytes": len(page.encode("utf-8"))}


def serve_live(
    open_graph: Callable[[], LineageGraph], args: argparse.Namespace, out: IO[str]
) -> int:
    """Serve until Ctrl-C; ``open_graph`` reads the store again for every page."""
    from .server import serve

    query = ""
    if args.focus is not None:  # --open starts on the neighbourhood asked for
        query = "?focus=" + quote(args.focus, safe="")
        query += f"&depth={args.depth}" if args.depth else ""

    def ready(url: str) -> None:
        if args.open:
            webbrowser.open(url + query)

    return serve(open_graph, host=args.host, port=args.port, out=out, on_ready=ready)
