"""What ``lineage ui`` does: write the explorer as one HTML file, or serve it live.

    lineage ui -o lineage.html [--focus ID] [--depth N] [--open]
    lineage ui --diff A B -o changes.html
    lineage ui --serve [--port 8765] [--host 127.0.0.1]

The command line (:mod:`lineage_sdk.cli.ui`) parses, reads the store and prints; the work is here.
"""

from __future__ import annotations

import argparse
import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:  # pragma: no cover
    from ..graph import LineageGraph
    from ..graph.changes import Diff

__all__ = ["serve_live", "write_file"]


def write_file(
    graph: LineageGraph,
    output: str | Path,
    focus: str | None = None,
    depth: int | None = None,
    open_it: bool = False,
    *,
    diff: Diff | None = None,
) -> dict[str, Any]:
    """Write the page to ``output``; returns its path, ``file:`` URI and size. With ``diff``,
    ``graph`` is the union of both moments and the page marks the changes."""
    from .page import build_page

    page = build_page(graph, focus=focus, depth=depth, diff=diff)
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
