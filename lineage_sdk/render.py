"""Drawing the lineage graph: DOT source in the seed's visual language, and Graphviz rendering.

DataSource = folder ``#a5d8ff``, Feature = ellipse ``#b2f2bb``, Transformation = box ``#ffd8a8``,
left to right; nodes no run touches are still drawn; a transformation whose last run failed gets a
red border and says so.

Ids never become DOT identifiers: every vertex is named ``n<i>`` / ``t<i>`` and its id only appears
inside an HTML-like label, escaped. So an id holding quotes, backslashes, newlines, ``->``, braces
or markup yields valid DOT with exactly the intended nodes and edges.
"""

from __future__ import annotations

import html
import os
import re
import shutil
from pathlib import Path
from typing import Any, Protocol

__all__ = [
    "LARGE_GRAPH",
    "DotNotFoundError",
    "DrawableGraph",
    "layout_engine",
    "render",
    "to_dot",
    "vertex_count",
]


class DrawableGraph(Protocol):
    """What drawing needs from a graph: the public query methods of ``LineageGraph``.

    Rendering depends on this and not on the graph package, so the two never import each other.
    """

    def node_ids(self) -> list[str]: ...
    def transformation_ids(self) -> list[str]: ...
    def node(self, node_id: str) -> Any: ...  # a record or ExternalNode: has .kind
    def upstream(self, node_id: str, depth: int | None = None) -> list[str]: ...
    def downstream(self, node_id: str, depth: int | None = None) -> list[str]: ...
    def transformation_inputs(self, transformation: str) -> list[str]: ...
    def transformation_outputs(self, transformation: str) -> list[str]: ...
    def last_status(self, transformation: str) -> str | None: ...


_STYLE = {
    "DataSource": 'shape=folder, fillcolor="#a5d8ff"',
    "Feature": 'shape=ellipse, fillcolor="#b2f2bb"',
    "Transformation": 'shape=box, fillcolor="#ffd8a8"',
    "External": 'shape=note, fillcolor="#e9ecef", style="filled,dashed"',
}
_FAILED = 'color="#e03131", penwidth=2.5'
FORMATS = ("svg", "png", "pdf", "dot")
_INSTALL_HINT = (
    "the Graphviz 'dot' program is not installed, so the graph cannot be rendered to {fmt}. "
    "Install the graphviz system package (Debian/Ubuntu: apt-get install graphviz; macOS: "
    "brew install graphviz; conda: conda install graphviz), or write DOT with format='dot'."
)


class DotNotFoundError(RuntimeError):
    """The Graphviz ``dot`` binary is missing; the message says how to install it."""


#: Characters that reorder the text around them (overrides, embeddings, isolates, marks):
#: shown as visible escapes in every human output, never applied (Trojan Source).
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def _visible(ch: str) -> str:
    if ch in BIDI_CONTROLS:
        return f"\\u{ord(ch):04x}"
    return ch if ch >= " " or ch == "\t" else "\ufffd"


def _text(value: str) -> str:
    """Escape arbitrary text for an HTML-like label (one line per line of the text)."""
    out = []
    for line in value.replace("\r\n", "\n").split("\n"):
        clean = "".join(_visible(ch) for ch in line)
        # "]" is escaped too: Graphviz's HTML-label lexer rejects it before a closing tag.
        out.append(html.escape(clean, quote=True).replace("]", "&#93;"))
    return "<br/>".join(out)


def _label(title: str, subtitle: str | None) -> str:
    label = f"<b>{_text(title)}</b>"
    if subtitle:
        label += f'<br/><font point-size="9">{_text(subtitle)}</font>'
    return f"<{label}>"


def to_dot(graph: DrawableGraph, focus: str | None = None, depth: int | None = None) -> str:
    """DOT source of ``graph``; with ``focus``, only that id and what is within ``depth`` of it."""
    node_ids = graph.node_ids()
    t_ids = graph.transformation_ids()
    if focus is not None:
        keep = {focus, *graph.upstream(focus, depth), *graph.downstream(focus, depth)}
        node_ids = [n for n in node_ids if n in keep]
        t_ids = [t for t in t_ids if t in keep]
    elif depth is not None:
        raise ValueError("depth needs focus")
    names: dict[tuple[str, str], str] = {}
    lines = [
        "digraph lineage {",
        '  graph [rankdir=LR, fontname="Helvetica", nodesep=0.35, ranksep=0.6];',
        '  node [fontname="Helvetica", fontsize=11, style=filled, color="#495057"];',
        '  edge [color="#495057", arrowsize=0.7];',
    ]
    for i, node_id in enumerate(node_ids):
        node = graph.node(node_id)
        kind = str(node.kind)
        subtitle = getattr(node, "type", None) or getattr(node, "value_type", None)
        if kind == "External":
            subtitle = "external reference"
        names[("n", node_id)] = f"n{i}"
        lines.append(f"  n{i} [{_STYLE[kind]}, label={_label(node_id, subtitle)}];")
    for i, t_id in enumerate(t_ids):
        node = graph.node(t_id)
        framework = getattr(node, "compute_framework", None)
        version = getattr(node, "version", None)
        subtitle = " · ".join(x for x in (framework, f"v{version}" if version else None) if x)
        style = _STYLE["Transformation"]
        if graph.last_status(t_id) == "failed":
            style += f", {_FAILED}"
            subtitle = f"{subtitle} · last run failed" if subtitle else "last run failed"
        names[("t", t_id)] = f"t{i}"
        lines.append(f"  t{i} [{style}, label={_label(t_id, subtitle or None)}];")
    for t_id in t_ids:
        t_name = names[("t", t_id)]
        for node_id in graph.transformation_inputs(t_id):
            if ("n", node_id) in names:
                lines.append(f"  {names[('n', node_id)]} -> {t_name};")
        for node_id in graph.transformation_outputs(t_id):
            if ("n", node_id) in names:
                lines.append(f"  {t_name} -> {names[('n', node_id)]};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def dot_available() -> bool:
    """Whether the Graphviz ``dot`` program is on PATH."""
    return shutil.which("dot") is not None


#: Above this many vertices the layered ``dot`` layout takes minutes (or crashes) on lineage
#: graphs, so pictures are laid out by ``sfdp``, a force-directed engine that takes seconds.
LARGE_GRAPH = 300
_VERTEX = re.compile(r"^  [nt]\d+ \[", re.M)


def vertex_count(dot_source: str) -> int:
    """How many vertices DOT source made by :func:`to_dot` draws."""
    return len(_VERTEX.findall(dot_source))


def layout_engine(dot_source: str) -> str:
    """``dot`` (layered, left to right) for readable sizes, ``sfdp`` beyond :data:`LARGE_GRAPH`."""
    return "sfdp" if vertex_count(dot_source) > LARGE_GRAPH else "dot"


def render_bytes(dot_source: str, fmt: str, engine: str | None = None) -> bytes:
    """Run Graphviz on ``dot_source``; :class:`DotNotFoundError` when ``dot`` is missing.

    ``engine`` defaults to :func:`layout_engine`'s choice.
    """
    if fmt == "dot":
        return dot_source.encode("utf-8")
    import graphviz  # imported only when a picture is asked for

    try:
        source = graphviz.Source(dot_source, engine=engine or layout_engine(dot_source))
        data: bytes = source.pipe(format=fmt)
    except graphviz.ExecutableNotFound as exc:
        raise DotNotFoundError(_INSTALL_HINT.format(fmt=fmt)) from exc
    return data


def render(
    graph: DrawableGraph,
    path: str | os.PathLike[str],
    format: str | None = None,
    focus: str | None = None,
    depth: int | None = None,
) -> Path:
    """Write ``graph`` to ``path`` as svg, png, pdf or dot (default: from the suffix)."""
    target = Path(path)
    fmt = (format or target.suffix.lstrip(".") or "svg").lower()
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; accepted: {', '.join(FORMATS)}")
    data = render_bytes(to_dot(graph, focus=focus, depth=depth), fmt)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return target


def mimebundle(graph: DrawableGraph) -> dict[str, str]:
    """What Jupyter shows: SVG where Graphviz is installed, else the DOT text."""
    source = to_dot(graph)
    if dot_available():
        try:
            return {"image/svg+xml": render_bytes(source, "svg").decode("utf-8")}
        except Exception:  # noqa: S110 - display falls back to text rather than failing
            pass
    return {"text/plain": source}
