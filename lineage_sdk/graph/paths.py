"""Shortest paths on a :class:`~lineage_sdk.graph.compact.CompactGraph`: the in-memory ``path``.

The same search as :func:`~lineage_sdk.graph.algorithms.shortest_node_path` runs on the SQL
stores' string steps (a bidirectional breadth-first search, neighbours in id order, so equally
short paths break ties by id), here on the integer rows: a query costs what the search reaches,
nothing in proportion to the graph. Two shortcuts keep the common shapes cheap: a chain (one
neighbour each) is followed in one loop, and a lone-source chain down to the end (any tree)
settles the search before it starts.

Example::

    shortest_path(graph, ["raw"], ["feature"])  # ["raw", "job", "feature"] or None
"""

from __future__ import annotations

from itertools import pairwise

from .compact import CompactGraph, Rows

__all__ = ["shortest_path"]


def shortest_path(graph: CompactGraph, starts: list[str], ends: list[str]) -> list[str] | None:
    """One shortest path from any of ``starts`` to any of ``ends``, or None: node and
    transformation ids alternating (``[node, transformation, node, ...]``).

    The path :func:`~lineage_sdk.graph.algorithms.labelled_path` finds over the graph's string
    steps and labels, so every backend answers alike.
    """
    ffront, bfront = _numbered(graph, starts), _numbered(graph, ends)
    if len(bfront) == 1:
        settled, found = _down_lone_sources(graph, bfront[0], set(ffront))
        if settled:
            return found
    nodes = _meet(ffront, bfront, graph.down, graph.up, graph.ids)
    if nodes is None:
        return None
    return _labelled(graph, nodes)


def _numbered(graph: CompactGraph, ids: list[str]) -> list[int]:
    """The numbers of ``ids`` in id order, once each; ids the graph lacks (a declared node no
    run touched) are left out: they lead nowhere."""
    get = graph.index.get
    if len(ids) == 1:
        i = get(ids[0])
        return [] if i is None else [i]
    return [i for i in map(get, sorted(set(ids))) if i is not None]


def _down_lone_sources(
    graph: CompactGraph, end: int, starts: set[int]
) -> tuple[bool, list[str] | None]:
    """``(True, answer)`` when following ``end``'s lone sources settles the search, else
    ``(False, None)``.

    While each node derives from one lone source, every path to ``end`` comes down that chain:
    the first start on it begins the one shortest path (so any search would find this one), and
    a chain that reaches a root or loops without passing a start means there is no path. In a
    tree, the way down from the root to a node is then found without expanding anything else
    the root reaches. A chain that stops at a node with several sources settles nothing.
    """
    if end in starts:
        return True, [graph.ids[end]]
    up = graph.up
    offsets, values, labels = up.offsets, up.values, up.labels
    assert labels is not None
    trail = [end]
    steps = []  # the transformation of each step up the trail: a lone edge's, so the only one
    seen = {end}
    a = end
    start = offsets[a]
    while start + 1 == offsets[a + 1]:
        steps.append(labels[start])
        a = values[start]
        trail.append(a)
        if a in starts:
            # Filled by slices from maps (loops in C): a chain may be thousands of steps long.
            out = [""] * (2 * len(trail) - 1)
            out[::2] = map(graph.ids.__getitem__, reversed(trail))
            out[1::2] = map(graph.t_ids.__getitem__, reversed(steps))
            return True, out
        if a in seen:
            return True, None
        seen.add(a)
        start = offsets[a]
    return start == offsets[a + 1], None


def _labelled(graph: CompactGraph, nodes: list[int]) -> list[str]:
    """The ids of ``nodes`` with the transformation of each step between them (the first by
    id when several make it)."""
    up, names, t_ids = graph.up, graph.ids, graph.t_ids
    up_offsets, up_labels = up.offsets, up.labels
    assert up_labels is not None
    out = [names[nodes[0]]]
    append = out.append
    for i, j in pairwise(nodes):
        start = up_offsets[j]
        if start + 1 == up_offsets[j + 1]:  # j derives from one edge: i's, the only label
            append(t_ids[up_labels[start]])
        else:
            append(graph.label_of(i, j))
        append(names[j])
    return out


def _meet(
    ffront: list[int], bfront: list[int], down: Rows, up: Rows, names: list[str]
) -> list[int] | None:
    """The nodes of one shortest path from any of ``ffront`` to any of ``bfront``, or None.

    A bidirectional breadth-first search that expands the smaller frontier a whole level at a
    time, each node's neighbours in id order: the same search, and so the same path, as
    :func:`~lineage_sdk.graph.algorithms.shortest_node_path` over string steps.
    """
    # Per side: node -> the node it was reached from, and the frontier's unsorted slices.
    fwd: dict[int, int] = dict.fromkeys(ffront, -1)
    bwd: dict[int, int] = dict.fromkeys(bfront, -1)
    fmixed: _Slices = []
    bmixed: _Slices = []
    meets = [i for i in ffront if i in bwd]
    while not meets and ffront and bfront:
        if len(ffront) <= len(bfront):
            ffront, fmixed = _level(ffront, fmixed, fwd, bwd, down, names=names, meets=meets)
        else:
            bfront, bmixed = _level(bfront, bmixed, bwd, fwd, up, names=names, meets=meets)
    if not meets:
        return None
    middle = (
        meets[0]
        if len(meets) == 1
        else min(meets, key=lambda m: (_depth(fwd, m) + _depth(bwd, m), names[m]))
    )
    return _trail(fwd, middle)[::-1] + _trail(bwd, middle)[1:]


#: ``(start, end)`` slices of a frontier still to sort by id: one node's new neighbours each.
_Slices = list[tuple[int, int]]


def _level(
    front: list[int],
    mixed: _Slices,
    here: dict[int, int],
    there: dict[int, int],
    rows: Rows,
    *,
    names: list[str],
    meets: list[int],
) -> tuple[list[int], _Slices]:
    """Expand one side's frontier a level: its next frontier and that one's unsorted slices.

    A node new to ``here`` is linked to the frontier node that reaches it first, and added to
    ``meets`` if ``there`` has it. Which node is first depends only on the frontier's order, so
    a node's new neighbours are put in id order only when their frontier is expanded in turn
    (often never: the search meets first).
    """
    offsets, values = rows.offsets, rows.values
    if len(front) == 1:
        # A lone frontier node with a lone neighbour makes a lone frontier again, and the same
        # side expands next (the other frontier has not changed): follow such a chain here.
        a = front[0]
        start = offsets[a]
        claim = here.setdefault
        while start + 1 == offsets[a + 1]:
            b = values[start]
            if claim(b, a) != a:  # seen before (``a`` itself is expanded once): a dead end
                return [], []
            if b in there:
                meets.append(b)
                return [b], []
            a = b
            start = offsets[a]
        front = [a]
    elif mixed:
        by_name = names.__getitem__
        for first, last in mixed:
            front[first:last] = sorted(front[first:last], key=by_name)
    nxt: list[int] = []
    add = nxt.append
    new_mixed: _Slices = []
    for a in front:
        start, end = offsets[a], offsets[a + 1]
        if start + 1 == end:
            b = values[start]
            if b not in here:
                here[b] = a
                add(b)
                if b in there:
                    meets.append(b)
        elif start != end:
            first = len(nxt)
            for b in values[start:end]:
                if b not in here:
                    here[b] = a
                    add(b)
                    if b in there:
                        meets.append(b)
            if len(nxt) - first > 1:
                new_mixed.append((first, len(nxt)))
    return nxt, new_mixed


def _depth(prev: dict[int, int], node: int) -> int:
    """How many links lead back from ``node`` to its side's endpoint."""
    n = 0
    node = prev[node]
    while node != -1:
        n += 1
        node = prev[node]
    return n


def _trail(prev: dict[int, int], end: int) -> list[int]:
    """``end`` and the nodes back to its side's endpoint, following ``prev`` links."""
    out = [end]
    node = prev[end]
    while node != -1:
        out.append(node)
        node = prev[node]
    return out
