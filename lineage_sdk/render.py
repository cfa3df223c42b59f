"""Drawing the lineage graph: DOT source in the seed's visual language, and Graphviz rendering.

DataSource = folder ``#a5d8ff``, Feature = ellipse ``#b2f2bb``, Transformation = box ``#ffd8a8``,
left to right; nodes no run touches are still drawn; a transformation whose last run failed gets a
red border and says so; a stale feature an orange border. Drawing the changes between two moments
(:class:`Marks`): added green, removed red dashed, changed transformations violet.

Ids never become DOT identifiers: every vertex is named ``n<i>`` / ``t<i>`` (a column's port
``c<j>``) and its id only appears inside an HTML-like label, escaped. So an id holding quotes,
backslashes, newlines, ``->``, braces or markup yields valid DOT with exactly the intended nodes
and edges.
"""

from __future__ import annotations

import html
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import attrs

__all__ = [
    "LARGE_GRAPH",
    "DiffLike",
    "DotNotFoundError",
    "DrawableGraph",
    "Marks",
    "diff_marks",
    "focused_ids",
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
    def known_columns(self, source: str) -> list[str]: ...
    def column_edges(self) -> list[tuple[str, str, str, str, str | None]]: ...
    def whole_edges(self) -> list[tuple[str, str, str]]: ...
    def stale(self) -> list[Any]: ...  # entries with .id: nodes that are out of date


@attrs.frozen
class Marks:
    """What to highlight: stale nodes, and the changes between two moments (``lineage graph
    --diff``). Ids are plain strings; edges are ``(from, to)`` pairs between a node and a
    transformation, as drawn."""

    stale: frozenset[str] = frozenset()
    added: frozenset[str] = frozenset()
    removed: frozenset[str] = frozenset()
    changed: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)
    edges_added: frozenset[tuple[str, str]] = frozenset()
    edges_removed: frozenset[tuple[str, str]] = frozenset()


_STYLE = {
    "DataSource": 'shape=folder, fillcolor="#a5d8ff"',
    "Feature": 'shape=ellipse, fillcolor="#b2f2bb"',
    "Transformation": 'shape=box, fillcolor="#ffd8a8"',
    "External": 'shape=note, fillcolor="#e9ecef", style="filled,dashed"',
}
_FAILED = 'color="#e03131", penwidth=2.5'
_SOURCE_FILL = "#a5d8ff"
# Changes between two moments, and staleness: borders and edge styles over the kind's fill.
_ADDED = 'color="#2f9e44", penwidth=2.5'
_REMOVED = 'color="#e03131", penwidth=2, style="filled,dashed"'
_CHANGED = 'color="#7048e8", penwidth=3'
_STALE = 'color="#f08c00", penwidth=2.5'
_EDGE_ADDED = ' [color="#2f9e44", penwidth=2]'
_EDGE_REMOVED = ' [color="#e03131", style=dashed]'
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


def _table_label(title: str, subtitle: str | None, columns: list[str]) -> str:
    """A source as a table: its id on a coloured header row, then one row (a port) per column."""
    head = f"<b>{_text(title)}</b>"
    if subtitle:
        head += f'<br/><font point-size="9">{_text(subtitle)}</font>'
    rows = [f'<tr><td bgcolor="{_SOURCE_FILL}">{head}</td></tr>']
    rows += [
        f'<tr><td port="c{j}" align="left">{_text(column)}</td></tr>'
        for j, column in enumerate(columns)
    ]
    table = '<table border="0" cellborder="1" cellspacing="0" cellpadding="4">'
    return f"<{table}{''.join(rows)}</table>>"


def _column_inputs(
    graph: DrawableGraph,
) -> tuple[dict[tuple[str, str], set[str]], set[tuple[str, str]]]:
    """(source, transformation) -> the columns it reads; and the pairs read as a whole."""
    narrowed: dict[tuple[str, str], set[str]] = {}
    for src, column, t, _dst, _kind in graph.column_edges():
        narrowed.setdefault((src, t), set()).add(column)
    whole = {(src, t) for src, t, _dst in graph.whole_edges()}
    return narrowed, whole


class DiffLike(Protocol):
    """What :func:`diff_marks` reads of a ``LineageGraph.diff`` result."""

    @property
    def added(self) -> tuple[str, ...]: ...
    @property
    def removed(self) -> tuple[str, ...]: ...
    @property
    def changed(self) -> Any: ...  # entries with .id and .fields
    @property
    def drawn_before(self) -> frozenset[tuple[str, str]]: ...
    @property
    def drawn_after(self) -> frozenset[tuple[str, str]]: ...


def diff_marks(diff: DiffLike, stale: frozenset[str] = frozenset()) -> Marks:
    """The marks that draw ``diff`` over the union of both moments' graphs."""
    nodes_before = {x for edge in diff.drawn_before for x in edge}
    nodes_after = {x for edge in diff.drawn_after for x in edge}
    return Marks(
        stale=stale,
        added=frozenset(diff.added) | frozenset(nodes_after - nodes_before),
        removed=frozenset(diff.removed) | frozenset(nodes_before - nodes_after),
        changed={c.id: tuple(c.fields) for c in diff.changed},
        edges_added=diff.drawn_after - diff.drawn_before,
        edges_removed=diff.drawn_before - diff.drawn_after,
    )


def _marked(style: str, subtitle: str | None, ident: str, marks: Marks) -> tuple[str, str | None]:
    """``style`` and ``subtitle`` of a vertex with its marks (diff first, then staleness)."""
    if ident in marks.added:
        style, note = f"{style}, {_ADDED}", "added"
    elif ident in marks.removed:
        style, note = f"{style}, {_REMOVED}", "removed"
    elif ident in marks.changed:
        style, note = f"{style}, {_CHANGED}", f"changed: {', '.join(marks.changed[ident])}"
    elif ident in marks.stale:
        style, note = f"{style}, {_STALE}", "stale"
    else:
        return style, subtitle
    notes = [subtitle, note] if subtitle else [note]
    return style, " · ".join(notes)


def to_dot(
    graph: DrawableGraph,
    focus: str | None = None,
    depth: int | None = None,
    marks: Marks | None = None,
    *,
    columns: bool = False,
) -> str:
    """DOT source of ``graph``; with ``focus``, only that id and what is within ``depth`` of it.

    Stale features are marked (orange border, "stale"); ``marks`` replaces what is marked, e.g.
    with the changes between two moments. With ``columns``, data sources are drawn as tables
    listing their columns (declared schema, then any other column a run named), and an input edge
    leaves from each column the transformation derived from; from the table as a whole where it
    read the whole source.
    """
    if marks is None:
        marks = Marks(stale=frozenset(entry.id for entry in graph.stale()))
    node_ids, t_ids = focused_ids(graph, focus, depth)
    names: dict[tuple[str, str], str] = {}
    lines = [
        "digraph lineage {",
        '  graph [rankdir=LR, fontname="Helvetica", nodesep=0.35, ranksep=0.6];',
        '  node [fontname="Helvetica", fontsize=11, style=filled, color="#495057"];',
        '  edge [color="#495057", arrowsize=0.7];',
    ]
    ports = _node_lines(graph, node_ids, marks, columns=columns, names=names, lines=lines)
    _transformation_lines(graph, t_ids, marks, names=names, lines=lines)
    _edge_lines(graph, t_ids, marks, ports=ports, names=names, lines=lines)
    lines.append("}")
    return "\n".join(lines) + "\n"


def focused_ids(
    graph: DrawableGraph, focus: str | None, depth: int | None
) -> tuple[list[str], list[str]]:
    """The node ids and transformation ids drawn: all, or with ``focus`` only that id and what
    lies within ``depth`` of it upstream or downstream (``depth`` without ``focus`` is an error).
    """
    node_ids = graph.node_ids()
    t_ids = graph.transformation_ids()
    if focus is not None:
        keep = {focus, *graph.upstream(focus, depth), *graph.downstream(focus, depth)}
        node_ids = [n for n in node_ids if n in keep]
        t_ids = [t for t in t_ids if t in keep]
    elif depth is not None:
        raise ValueError("depth needs focus")
    return node_ids, t_ids


def _node_lines(
    graph: DrawableGraph,
    node_ids: list[str],
    marks: Marks,
    *,
    columns: bool,
    names: dict[tuple[str, str], str],
    lines: list[str],
) -> dict[str, dict[str, str]]:
    """Append the DOT lines of the nodes; return the column ports of sources drawn as tables."""
    ports: dict[str, dict[str, str]] = {}  # source id -> column -> port
    for i, node_id in enumerate(node_ids):
        node = graph.node(node_id)
        kind = str(node.kind)
        subtitle = getattr(node, "type", None) or getattr(node, "value_type", None)
        if kind == "External":
            subtitle = "external reference"
        names[("n", node_id)] = f"n{i}"
        style, subtitle = _marked(_STYLE[kind], subtitle, node_id, marks)
        known = graph.known_columns(node_id) if columns and kind == "DataSource" else []
        if known:  # a table carries its marks in its subtitle: a plain shape has no border
            ports[node_id] = {c: f"c{j}" for j, c in enumerate(known)}
            table = _table_label(node_id, subtitle, known)
            lines.append(f"  n{i} [shape=plain, style=solid, label={table}];")
        else:
            lines.append(f"  n{i} [{style}, label={_label(node_id, subtitle)}];")
    return ports


def _transformation_lines(
    graph: DrawableGraph,
    t_ids: list[str],
    marks: Marks,
    *,
    names: dict[tuple[str, str], str],
    lines: list[str],
) -> None:
    """Append the DOT lines of the transformations (framework, version, a failed last run)."""
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
        style, marked = _marked(style, subtitle or None, t_id, marks)
        lines.append(f"  t{i} [{style}, label={_label(t_id, marked)}];")


def _edge_lines(
    graph: DrawableGraph,
    t_ids: list[str],
    marks: Marks,
    *,
    ports: dict[str, dict[str, str]],
    names: dict[tuple[str, str], str],
    lines: list[str],
) -> None:
    """Append the edges between drawn ids; an input read by columns leaves from their ports."""
    narrowed, whole = _column_inputs(graph) if ports else ({}, set())
    for t_id in t_ids:
        t_name = names[("t", t_id)]
        for node_id in graph.transformation_inputs(t_id):
            if ("n", node_id) not in names:
                continue
            edge = _edge_style((node_id, t_id), marks)
            used = narrowed.get((node_id, t_id), set()) if node_id in ports else set()
            for column in sorted(used):
                port = ports[node_id][column]
                lines.append(f"  {names[('n', node_id)]}:{port}:e -> {t_name}{edge};")
            if not used or (node_id, t_id) in whole:
                lines.append(f"  {names[('n', node_id)]} -> {t_name}{edge};")
        for node_id in graph.transformation_outputs(t_id):
            if ("n", node_id) in names:
                edge = _edge_style((t_id, node_id), marks)
                lines.append(f"  {t_name} -> {names[('n', node_id)]}{edge};")


def _edge_style(edge: tuple[str, str], marks: Marks) -> str:
    if edge in marks.edges_added:
        return _EDGE_ADDED
    if edge in marks.edges_removed:
        return _EDGE_REMOVED
    return ""


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
    *,
    marks: Marks | None = None,
    columns: bool = False,
) -> Path:
    """Write ``graph`` to ``path`` as svg, png, pdf or dot (default: from the suffix); ``marks``
    and ``columns`` as in :func:`to_dot`."""
    target = Path(path)
    fmt = (format or target.suffix.lstrip(".") or "svg").lower()
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; accepted: {', '.join(FORMATS)}")
    data = render_bytes(to_dot(graph, focus=focus, depth=depth, marks=marks, columns=columns), fmt)
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
