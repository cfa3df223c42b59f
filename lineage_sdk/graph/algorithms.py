"""Pure graph algorithms: walks, ordering, bidirectional path search, cycles, version grouping.

Nothing here knows about stores: the callers pass adjacency as mappings or step functions, so the
same code serves the in-memory backend and the parts of SQL backends that are not run in SQL.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import pairwise

from ..records import Run
from .model import VersionInfo

__all__ = [
    "bounded_walk",
    "check_depth",
    "find_cycles",
    "group_versions",
    "labelled_path",
    "ordered",
    "reach",
    "shortest_node_path",
    "sorted_steps",
]

_Empty: frozenset[str] = frozenset()

#: ``steps(ids, forward)`` yields ``(node, neighbour)`` pairs: derived nodes forward, sources back.
Steps = Callable[[list[str], bool], Iterable[tuple[str, str]]]


def check_depth(depth: int | None) -> None:
    """ValueError unless ``depth`` is None or a positive integer."""
    if depth is not None and (not isinstance(depth, int) or depth < 1):
        raise ValueError(f"depth must be a positive integer or None, got {depth!r}")


def ordered(found: Mapping[str, int], depth: int | None) -> list[str]:
    """Ids of a walk: nearest first (ties by id) when a depth bounds it, by id otherwise."""
    # An unbounded walk in SQL is a set (de-duplicating ids is what makes it end on cycles), so
    # every backend answers it sorted by id.
    if depth is None:
        return sorted(found)
    return sorted(found, key=lambda k: (found[k], k))


def bounded_walk(
    seeds: Mapping[str, int],
    depth: int,
    step: Mapping[str, Iterable[tuple[str, str]]],
    touching: Mapping[str, Iterable[str]],
) -> dict[str, int]:
    """Breadth-first walk to ``depth`` vertices; id -> distance, transformations included.

    ``seeds`` are the starting nodes with their distance; ``step[node]`` gives
    ``(transformation, next node)`` pairs and ``touching[node]`` the transformations that read
    (forward) or write (backward) the node.
    """
    seen_nodes = dict(seeds)
    seen_ts: dict[str, int] = {}
    queue: deque[tuple[str, int]] = deque(sorted(seeds.items()))
    while queue:
        node, d = queue.popleft()
        if d + 1 > depth:
            continue
        for t in touching.get(node, _Empty):
            seen_ts.setdefault(t, d + 1)
        if d + 2 > depth:
            continue
        for _t, nxt in step.get(node, ()):
            if nxt not in seen_nodes:
                seen_nodes[nxt] = d + 2
                queue.append((nxt, d + 2))
    return {**seen_nodes, **seen_ts}


def reach(
    seeds: Iterable[str],
    neighbours: Mapping[str, Iterable[str]],
    touching: Mapping[str, set[str]],
) -> set[str]:
    """Unbounded walk (depth-first; distances are not needed): every node and transformation."""
    stack = list(seeds)
    seen = set(stack)
    transformations: set[str] = set()
    while stack:
        node = stack.pop()
        reached = touching.get(node)
        if reached:
            transformations |= reached
        for other in neighbours.get(node, ()):
            if other not in seen:
                seen.add(other)
                stack.append(other)
    return seen | transformations


def shortest_node_path(
    starts: Iterable[str], ends: Iterable[str], steps: Steps
) -> list[str] | None:
    """The nodes of one shortest path from any of ``starts`` to any of ``ends``, or None.

    A bidirectional breadth-first search: it meets in the middle instead of exploring everything
    downstream of the start. Equally short paths break ties by id, the same in every process.
    The in-memory backend runs the same search on integers (:mod:`lineage_sdk.graph.paths`):
    a change here is a change there.
    """
    fwd: dict[str, str | None] = dict.fromkeys(starts)
    bwd: dict[str, str | None] = dict.fromkeys(ends)
    ffront, bfront = sorted(fwd), sorted(bwd)
    meets = [n for n in ffront if n in bwd]
    while not meets and ffront and bfront:
        forward = len(ffront) <= len(bfront)
        here, there = (fwd, bwd) if forward else (bwd, fwd)
        nxt: list[str] = []
        for a, b in steps(ffront if forward else bfront, forward):
            if b not in here:
                here[b] = a
                nxt.append(b)
                if b in there:
                    meets.append(b)
        if forward:
            ffront = nxt
        else:
            bfront = nxt
    if not meets:
        return None
    middle = min(meets, key=lambda n: (len(_chain(fwd, n)) + len(_chain(bwd, n)), n))
    return _chain(fwd, middle)[::-1] + _chain(bwd, middle)[1:]


def labelled_path(
    starts: Iterable[str], ends: Iterable[str], steps: Steps, label: Callable[[str, str], str]
) -> list[str] | None:
    """:func:`shortest_node_path` with the transformation of each step (``label(src, dst)``)
    between its nodes: ``[node, transformation, node, ...]``, or None."""
    nodes = shortest_node_path(starts, ends, steps)
    if nodes is None:
        return None
    out = [nodes[0]]
    for src, dst in pairwise(nodes):
        out.append(label(src, dst))
        out.append(dst)
    return out


def sorted_steps(ids: list[str], neighbours: Mapping[str, set[str]]) -> Iterator[tuple[str, str]]:
    """``(node, neighbour)`` for each of ``ids``, neighbours sorted so ties break the same way."""
    for a in ids:
        others = neighbours.get(a)
        if others:
            for b in sorted(others) if len(others) > 1 else others:
                yield a, b


def _chain(prev: Mapping[str, str | None], end: str) -> list[str]:
    """``end`` and the nodes back to the search's endpoint, following ``prev`` links."""
    out = [end]
    node = prev[end]
    while node is not None:
        out.append(node)
        node = prev[node]
    return out


def group_versions(runs: Iterable[Run]) -> list[VersionInfo]:
    """Distinct (version, code hash, commit, tag) among ``runs``, oldest first."""
    groups: dict[tuple[str | None, ...], list[Run]] = {}
    for run in runs:
        key = (
            run.version,
            run.code.source_sha256 if run.code else None,
            run.git.commit if run.git else None,
            run.git.tag if run.git else None,
        )
        groups.setdefault(key, []).append(run)
    infos = [
        VersionInfo(
            version=key[0],
            source_sha256=key[1],
            commit=key[2],
            tag=key[3],
            first_run=min(r.started_at for r in members),
            last_run=max(r.started_at for r in members),
            runs=len(members),
        )
        for key, members in groups.items()
    ]
    return sorted(infos, key=lambda v: v.first_run)


def find_cycles(graph: Mapping[str, list[str]]) -> list[list[str]]:
    """One cycle per strongly connected component that has one (iterative Tarjan).

    Each cycle is a list of ids with the first repeated last; the result is sorted.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(graph.get(root, ())))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            advanced = False
            for w in children:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(graph.get(w, ()))))
                    advanced = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                members = set(component)
                if len(component) > 1 or v in graph.get(v, ()):
                    cycles.append(_cycle_in(graph, sorted(members)[0], members))
    return sorted(cycles)


def _cycle_in(graph: Mapping[str, list[str]], start: str, members: set[str]) -> list[str]:
    """A concrete cycle through ``start`` inside one strongly connected component."""
    prev: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in graph.get(v, ()):
                if w not in members:
                    continue
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(prev[path[-1]])
                    return [*reversed(path), start]
                if w not in prev:
                    prev[w] = v
                    nxt.append(w)
        frontier = nxt
    return [start, start]  # pragma: no cover - a component with a cycle always closes
