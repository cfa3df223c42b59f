"""Where each vertex of the explorer goes: Graphviz ``dot`` for ordinary graphs, layers for big.

Both layouts place vertices left to right along the derivation edges and size every vertex from its
label the same way, so the page draws either in one visual language. ``dot`` gives the picture
``lineage graph`` draws; past :data:`DOT_LIMIT` vertices or :data:`DOT_EDGE_LIMIT` edges (where
``dot`` takes tens of seconds) the layered layout here takes well under a second: longest-path
layers, then a few barycentre sweeps to order each layer.

Coordinates are points (1/72 inch), origin top left. An edge is a cubic B-spline as Graphviz gives
it (``1 + 3k`` points) and the tip of its arrow.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence

import attrs

__all__ = [
    "DOT_EDGE_LIMIT",
    "DOT_LIMIT",
    "Box",
    "Layout",
    "dot_layout",
    "layer_layout",
    "layout",
    "vertex_size",
]

#: Up to this many vertices and edges the page is laid out by ``dot``; beyond, by layers (dot's
#: time grows much faster than the graph: ~15 s for 300 vertices with 700 edges on two cores).
DOT_LIMIT = 300
DOT_EDGE_LIMIT = 450
#: Labels longer than this are cut in the drawing (the details panel shows the whole id).
LABEL_CHARS = 48
#: A dot that takes longer than this is stopped and the layered layout used instead.
DOT_TIMEOUT_S = 10.0
_GAP_X, _GAP_Y = 43.0, 25.0  # as ranksep=0.6 and nodesep=0.35 inch in dot


@attrs.frozen(slots=True)
class Box:
    """One vertex to place: its shape and size in points."""

    shape: str
    width: float
    height: float


@attrs.frozen(slots=True)
class Layout:
    """Positions (centres) per vertex, edges as splines with arrow tips, the bounding size."""

    engine: str
    width: float
    height: float
    centres: list[tuple[float, float]]
    edges: list[tuple[int, int, list[float], tuple[float, float]]]


def vertex_size(kind: str, title: str, subtitle: str | None) -> Box:
    """The drawn size of a vertex whose label is ``title`` (bold 11 pt) over ``subtitle`` (9 pt)."""
    shape = {"DataSource": "folder", "Feature": "ellipse", "Transformation": "box"}.get(
        kind, "note"
    )
    chars = min(len(title), LABEL_CHARS)
    sub_chars = min(len(subtitle or ""), LABEL_CHARS)
    # Helvetica's average advance: about 0.62 em in bold, 0.55 em in regular.
    width = max(chars * 11 * 0.62, sub_chars * 9 * 0.55) + 20
    height = 38.0 if subtitle else 30.0
    if shape == "ellipse":  # the label must fit inside the ellipse, not its bounding box
        width, height = width * 1.25, height * 1.2
    return Box(shape, round(max(width, 54.0), 1), height)


def layout(boxes: Sequence[Box], edges: Sequence[tuple[int, int]]) -> Layout:
    """``dot`` when it is installed and the graph is small enough, else the layered layout."""
    small = len(boxes) <= DOT_LIMIT and len(edges) <= DOT_EDGE_LIMIT
    if small and shutil.which("dot") is not None:
        try:
            return dot_layout(boxes, edges)
        except (OSError, subprocess.SubprocessError, ValueError, KeyError):
            pass  # a dot that fails or times out still leaves the page a layout
    return layer_layout(boxes, edges)


def dot_layout(boxes: Sequence[Box], edges: Sequence[tuple[int, int]]) -> Layout:
    """Lay out with Graphviz ``dot`` (``-Tjson0``), left to right as ``lineage graph`` does."""
    lines = [
        "digraph explorer {",
        "  graph [rankdir=LR, nodesep=0.35, ranksep=0.6];",
        '  node [fixedsize=true, label=""];',
        "  edge [arrowsize=0.7];",
    ]
    # Vertices are named by index and carry no label: no text from the store reaches dot.
    for i, box in enumerate(boxes):
        lines.append(
            f"  v{i} [shape={box.shape}, width={box.width / 72:.3f}, height={box.height / 72:.3f}];"
        )
    lines.extend(f"  v{a} -> v{b};" for a, b in edges)
    lines.append("}")
    done = subprocess.run(
        ["dot", "-Tjson0"],
        input="\n".join(lines),
        capture_output=True,
        text=True,
        timeout=DOT_TIMEOUT_S,
        check=True,
    )
    doc = json.loads(done.stdout)
    _x0, _y0, width, height = (float(v) for v in doc["bb"].split(","))
    centres = [(0.0, 0.0)] * len(boxes)
    for obj in doc.get("objects", ()):
        i = int(obj["name"][1:])
        x, y = (float(v) for v in obj["pos"].split(","))
        centres[i] = (x, height - y)
    placed = []
    for edge in doc.get("edges", ()):
        a = int(doc["objects"][edge["tail"]]["name"][1:])
        b = int(doc["objects"][edge["head"]]["name"][1:])
        tip: tuple[float, float] | None = None
        points: list[float] = []
        for part in edge["pos"].split():
            fields = part.split(",")
            if fields[0] == "e":
                tip = (float(fields[1]), height - float(fields[2]))
            elif fields[0] != "s":
                points += [float(fields[0]), height - float(fields[1])]
        if tip is None:
            tip = (points[-2], points[-1])
        placed.append((a, b, points, tip))
    return Layout("dot", width, height, centres, placed)


def _layers(count: int, edges: Sequence[tuple[int, int]]) -> list[int]:
    """Longest-path layer of each vertex; vertices on cycles go after their placed predecessors."""
    succ: list[list[int]] = [[] for _ in range(count)]
    indegree = [0] * count
    for a, b in edges:
        if a != b:
            succ[a].append(b)
            indegree[b] += 1
    layer = [0] * count
    ready = [v for v in range(count) if indegree[v] == 0]
    done = [False] * count
    while True:
        while ready:
            v = ready.pop()
            done[v] = True
            for w in succ[v]:
                layer[w] = max(layer[w], layer[v] + 1)
                indegree[w] -= 1
                if indegree[w] == 0:
                    ready.append(w)
        # A cycle blocks the rest: release its first vertex, as if its back edge were absent.
        stuck = next((v for v in range(count) if not done[v] and indegree[v] > 0), None)
        if stuck is None:
            return layer
        indegree[stuck] = 0
        ready.append(stuck)


def _order(layer: list[int], edges: Sequence[tuple[int, int]]) -> list[list[int]]:
    """Vertices per layer, ordered by a few barycentre sweeps to reduce crossings."""
    columns: list[list[int]] = [[] for _ in range(max(layer, default=0) + 1)]
    for v, lv in enumerate(layer):
        columns[lv].append(v)
    pred: dict[int, list[int]] = {}
    succ: dict[int, list[int]] = {}
    for a, b in edges:
        pred.setdefault(b, []).append(a)
        succ.setdefault(a, []).append(b)
    rank = {v: i for col in columns for i, v in enumerate(col)}
    for sweep in range(4):
        forward = sweep % 2 == 0
        near = pred if forward else succ
        sequence = columns[1:] if forward else columns[-2::-1]
        for col in sequence:

            def centre(v: int, near: dict[int, list[int]] = near) -> float:
                others = near.get(v)
                return sum(rank[o] for o in others) / len(others) if others else rank[v]

            col.sort(key=centre)
            for i, v in enumerate(col):
                rank[v] = i
    return columns


def layer_layout(boxes: Sequence[Box], edges: Sequence[tuple[int, int]]) -> Layout:
    """Left-to-right layers, linear in the graph's size; edges are simple S-curves."""
    columns = _order(_layers(len(boxes), edges), edges)
    centres = [(0.0, 0.0)] * len(boxes)
    heights = [sum(boxes[v].height for v in col) + _GAP_Y * max(len(col) - 1, 0) for col in columns]
    total_height = max(heights, default=0.0)
    x = 0.0
    for col, col_height in zip(columns, heights, strict=True):
        col_width = max((boxes[v].width for v in col), default=0.0)
        y = (total_height - col_height) / 2
        for v in col:
            centres[v] = (x + col_width / 2, y + boxes[v].height / 2)
            y += boxes[v].height + _GAP_Y
        x += col_width + _GAP_X
    placed = []
    for a, b in edges:
        (ax, ay), (bx, by) = centres[a], centres[b]
        x1, x2 = ax + boxes[a].width / 2, bx - boxes[b].width / 2
        end = x2 - 7.0 if x2 > x1 else x2 + 7.0  # room for the arrow head
        bend = max(abs(end - x1) / 2, 20.0)
        points = [x1, ay, x1 + bend, ay, end - bend, by, end, by]
        placed.append((a, b, points, (x2, by)))
    return Layout("layers", max(x - _GAP_X, 0.0), total_height, centres, placed)
