"""The explorer's data: every vertex with its details, its runs, the adjacency and the layout.

Built only through the graph's public API. Vertices are numbered (nodes first, then
transformations, each sorted by id); adjacency lists hold those numbers, so the page walks
upstream and downstream exactly as :meth:`LineageGraph.upstream` and ``downstream`` do:
derivation steps between nodes (``succ``/``pred``, honouring per-output derivation) and the
transformations that read or write each reached node (``reads``/``writes``).

Marks use ``lineage graph``'s colour language: each stale feature carries its reasons
(``stale``); given a diff (``lineage ui --diff A B``), the page shows the union of both moments
with each vertex's ``mark`` (``added``, ``removed`` or ``changed``, with the changed fields and
both sides) and each edge's mark instead.
"""

from __future__ import annotations

import datetime as _dt
from typing import TYPE_CHECKING, Any

from ..graph.memory import MemoryBackend
from ..links import code_link
from ..records import DataSource, Feature, Run, Transformation
from ..render import diff_marks, focused_ids
from .layout import LABEL_CHARS, Layout, layout, vertex_size

if TYPE_CHECKING:  # pragma: no cover
    from ..graph import LineageGraph
    from ..graph.changes import Diff
    from ..graph.changes.model import RunFacts

__all__ = ["RUNS_PER_TRANSFORMATION", "code_url", "explorer_data"]

#: How many recent runs of each transformation the page carries (details and timeline).
RUNS_PER_TRANSFORMATION = 20
#: Format version of the data the page reads; bumped when a field changes meaning.
DATA_VERSION = 1


def _subtitle(node: Any) -> str | None:
    kind = node.kind
    if kind == "External":
        return "external reference"
    if kind == "DataSource":
        return str(node.type)
    if kind == "Feature":
        return node.value_type  # type: ignore[no-any-return]
    parts = [node.compute_framework, f"v{node.version}" if node.version else None]
    return " · ".join(p for p in parts if p) or None


def _short(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def _time(when: _dt.datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def _run_dict(run: Run) -> dict[str, Any]:
    git = run.git
    return {
        "run_id": run.run_id,
        "status": run.status,
        "started_at": _time(run.started_at),
        "duration_s": run.duration_s,
        "commit": git.commit if git else None,
        "tag": git.tag if git else None,
        "dirty": git.dirty if git else None,
        "host": run.host,
        "code_reference": run.code_reference,
        "error": f"{run.error_type}: {run.error_message}" if run.error_type else None,
    }


def code_url(run: Run) -> str | None:
    """The web page of the run's code (file at the recorded commit, with its lines), if any.

    Only for remotes on GitHub, GitLab or Bitbucket (see :func:`lineage_sdk.links.code_link`).
    """
    return code_link(run.git, run.code)


def _node_dict(graph: LineageGraph, vid: str) -> dict[str, Any]:
    node = graph.node(vid)
    kind = str(node.kind)
    out: dict[str, Any] = {"id": vid, "kind": kind, "sub": _subtitle(node)}
    if isinstance(node, DataSource):
        out.update(
            description=node.description,
            owner=node.owner,
            type=node.type,
            schema=list(node.schema),
            location=node.location,
            tags=list(node.tags),
        )
    elif isinstance(node, Feature):
        out.update(
            description=node.description,
            value_type=node.value_type,
            entity=node.entity,
            tags=list(node.tags),
        )
    elif isinstance(node, Transformation):
        out.update(
            description=node.description,
            version=node.version,
            compute_framework=node.compute_framework,
            code_reference=node.code_reference,
            owner=node.metadata.get("owner")
            if isinstance(node.metadata.get("owner"), str)
            else None,
        )
    return out


def _recent_runs(graph: LineageGraph, transformations: list[str]) -> dict[str, list[Run]]:
    """Newest runs per transformation: one query each on SQL stores, one pass in memory."""
    if not isinstance(graph.backend, MemoryBackend):  # runs stay in the store, queried by index
        return {
            t: graph.runs(transformation=t, limit=RUNS_PER_TRANSFORMATION) for t in transformations
        }
    recent: dict[str, list[Run]] = {t: [] for t in transformations}
    for run in graph.runs():  # newest first; one scan instead of one per transformation
        bucket = recent.get(run.transformation)
        if bucket is not None and len(bucket) < RUNS_PER_TRANSFORMATION:
            bucket.append(run)
    return recent


def _adjacency(
    graph: LineageGraph, node_ids: list[str], t_ids: list[str]
) -> tuple[dict[str, list[list[int]]], list[tuple[int, int]]]:
    """Per-vertex adjacency lists (by vertex number) and the drawn edges node -> t -> node."""
    n_index = {n: i for i, n in enumerate(node_ids)}
    count = len(node_ids) + len(t_ids)
    sets: dict[str, list[set[int]]] = {
        name: [set() for _ in range(count)]
        for name in ("succ", "pred", "reads", "writes", "tin", "tout")
    }
    for src, _t, dst in graph.edges():
        if src in n_index and dst in n_index:
            sets["succ"][n_index[src]].add(n_index[dst])
            sets["pred"][n_index[dst]].add(n_index[src])
    drawn: list[tuple[int, int]] = []
    for ti, t in enumerate(t_ids, start=len(node_ids)):
        for n in graph.transformation_inputs(t):
            if n in n_index:
                sets["reads"][n_index[n]].add(ti)
                sets["tin"][ti].add(n_index[n])
                drawn.append((n_index[n], ti))
        for n in graph.transformation_outputs(t):
            if n in n_index:
                sets["writes"][n_index[n]].add(ti)
                sets["tout"][ti].add(n_index[n])
                drawn.append((ti, n_index[n]))
    return {name: [sorted(s) for s in per] for name, per in sets.items()}, drawn


def _add_source_columns(graph: LineageGraph, nodes: list[dict[str, Any]]) -> None:
    """The source columns (``source.column``) each node is derived from directly, if runs named
    any: one read of the column edges for the whole page."""
    by_output: dict[str, set[str]] = {}
    for src, column, _t, dst, _kind in graph.column_edges():
        by_output.setdefault(dst, set()).add(f"{src}.{column}")
    for vertex in nodes:
        vertex["source_columns"] = sorted(by_output.get(vertex["id"], ()))


def _add_runs(graph: LineageGraph, transformations: list[dict[str, Any]]) -> None:
    """Recent runs, the failed-last-run mark and the code link of each transformation vertex."""
    recent = _recent_runs(graph, [v["id"] for v in transformations])
    for vertex in transformations:
        runs = recent.get(vertex["id"], [])
        vertex["runs"] = [_run_dict(r) for r in runs]
        vertex["failed"] = bool(runs) and runs[0].status == "failed"
        if vertex["failed"]:
            sub = vertex["sub"]
            vertex["sub"] = f"{sub} · last run failed" if sub else "last run failed"
        vertex["code_url"] = code_url(runs[0]) if runs else None


def _diff_side(run: RunFacts) -> dict[str, Any]:
    return {
        "version": run.version,
        "source_sha256": run.source_sha256,
        "commit": run.commit,
        "tag": run.tag,
    }


def _add_marks(
    graph: LineageGraph, vertices: list[dict[str, Any]], diff: Diff | None
) -> dict[tuple[str, str], str]:
    """Each vertex's ``stale`` reasons and diff ``mark`` (as ``lineage graph`` marks them: a diff
    replaces staleness); returns the mark of each drawn (from, to) edge."""
    for vertex in vertices:
        vertex["stale"] = []
        vertex["mark"] = None
    by_id = {v["id"]: v for v in vertices}
    if diff is None:
        for entry in graph.stale():
            if entry.id in by_id:
                by_id[entry.id]["stale"] = [r.to_json() for r in entry.reasons]
        return {}
    marks = diff_marks(diff)
    changes = {c.id: c for c in diff.changed}
    for vertex in vertices:
        vid = vertex["id"]
        if vid in marks.added:
            vertex["mark"] = "added"
        elif vid in marks.removed:
            vertex["mark"] = "removed"
        elif vid in marks.changed:
            change = changes[vid]
            vertex["mark"] = "changed"
            vertex["changed"] = {
                "fields": list(change.fields),
                "from": _diff_side(change.before),
                "to": _diff_side(change.after),
            }
        if vertex["mark"]:
            note = (
                f"changed: {', '.join(marks.changed[vid])}"
                if vertex["mark"] == "changed"
                else vertex["mark"]
            )
            vertex["sub"] = f"{vertex['sub']} · {note}" if vertex["sub"] else note
    edges = dict.fromkeys(marks.edges_added, "added")
    edges.update(dict.fromkeys(marks.edges_removed, "removed"))
    return edges


def _diff_header(diff: Diff) -> dict[str, Any]:
    return {
        "from": {"when": diff.start.label, "at": _time(diff.start.at)},
        "to": {"when": diff.end.label, "at": _time(diff.end.at)},
        "affected": list(diff.affected),
    }


def explorer_data(
    graph: LineageGraph,
    focus: str | None = None,
    depth: int | None = None,
    live: bool = False,
    diff: Diff | None = None,
) -> dict[str, Any]:
    """Everything the page shows, as plain JSON values (strings from the store kept as data).

    With ``focus``, only that id and what lies within ``depth`` of it upstream or downstream,
    as ``lineage graph --focus`` draws it. Stale features carry their reasons; with ``diff``
    (from :meth:`LineageGraph.diff`, ``graph`` being the union of both moments), the changes are
    marked instead, as ``lineage graph --diff`` draws them.
    """
    node_ids, t_ids = focused_ids(graph, focus, depth)
    adjacency, drawn = _adjacency(graph, node_ids, t_ids)
    vertices = [_node_dict(graph, n) for n in node_ids] + [_node_dict(graph, t) for t in t_ids]
    _add_source_columns(graph, vertices[: len(node_ids)])
    _add_runs(graph, vertices[len(node_ids) :])
    edge_marks = _add_marks(graph, vertices, diff)
    boxes = [vertex_size(v["kind"], v["id"], v["sub"]) for v in vertices]
    placed: Layout = layout(boxes, drawn)
    for vertex, box, (x, y) in zip(vertices, boxes, placed.centres, strict=True):
        vertex["label"] = _short(vertex["id"])
        vertex["xywh"] = [round(x, 1), round(y, 1), box.width, box.height]
        if vertex["sub"]:
            vertex["sub"] = _short(vertex["sub"])
    return {
        "version": DATA_VERSION,
        "live": live,
        "focus": focus,
        "depth": depth,
        "diff": _diff_header(diff) if diff is not None else None,
        "layout": {
            "engine": placed.engine,
            "width": round(placed.width, 1),
            "height": round(placed.height, 1),
        },
        "nodes": vertices,
        "edges": [
            [a, b, [round(p, 1) for p in points], [round(tip[0], 1), round(tip[1], 1)]]
            for a, b, points, tip in placed.edges
        ],
        # Per edge, in the same order: "added", "removed" (with a diff) or None.
        "edge_marks": [
            edge_marks.get((vertices[a]["id"], vertices[b]["id"])) for a, b, _p, _t in placed.edges
        ],
        **adjacency,
    }
