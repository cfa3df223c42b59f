"""A compact, integer-indexed derivation graph: what the in-memory backend walks.

Each node id is interned once to a dense integer (``ids[i]`` and ``index[id] == i``), each
transformation likewise, and adjacency is kept as compressed sparse rows: per direction one
offsets array and one values array from the standard library's :mod:`array`, 4 bytes an entry.
A graph of 10^6 edges then costs its index and a few dozen bytes per edge, where dicts of sets
of strings cost several hundred (and networkx about 450 MiB for the same graph).

Example::

    graph = CompactGraph.build(completed_runs)
    graph.reach({graph.index["raw"]: 0}, depth=None, forward=True)  # {id: distance}
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Iterable, Iterator
from itertools import accumulate, chain, islice, repeat
from operator import itemgetter, le

from ..records import Run

__all__ = ["CompactGraph", "Rows"]

_OUTPUT = itemgetter(0)  # of a derivation entry (output, sources)
_SOURCES = itemgetter(1)

#: 4-byte signed integers: ample for any graph that fits in one process's memory.
_CODE = "i"


def _zeros(n: int) -> array[int]:
    return array(_CODE, bytes(4 * n))


class Rows:
    """Values grouped by integer key (compressed sparse rows), with a parallel label per value.

    ``values[offsets[k]:offsets[k + 1]]`` are key ``k``'s values, in the order they were given.
    """

    __slots__ = ("labels", "offsets", "values")

    offsets: array[int]
    values: array[int]
    labels: array[int] | None

    def __init__(
        self, n_keys: int, keys: array[int], values: array[int], labels: array[int] | None = None
    ) -> None:
        counts = _zeros(n_keys)
        for k in keys:
            counts[k] += 1
        self.offsets = array(_CODE, accumulate(counts, initial=0))
        del counts
        if all(map(le, keys, islice(keys, 1, None))):
            # Already grouped by key (edges usually come so: ids are numbered as they appear).
            self.values = array(_CODE, values)
            self.labels = None if labels is None else array(_CODE, labels)
            return
        # Counting sort: each value goes to its key's next free slot (stable, one pass, and no
        # list of a million Python ints as a sort by key would build).
        free = array(_CODE, self.offsets)
        self.values = out_v = _zeros(len(values))
        if labels is None:
            self.labels = None
            for k, v in zip(keys, values, strict=True):
                slot = free[k]
                free[k] = slot + 1
                out_v[slot] = v
            return
        self.labels = out_l = _zeros(len(values))
        for k, v, label in zip(keys, values, labels, strict=True):
            slot = free[k]
            free[k] = slot + 1
            out_v[slot] = v
            out_l[slot] = label

    def row(self, key: int) -> array[int]:
        """The values of ``key`` (a copy, usually a handful of integers)."""
        return self.values[self.offsets[key] : self.offsets[key + 1]]

    def degree(self, key: int) -> int:
        """How many values ``key`` has."""
        return self.offsets[key + 1] - self.offsets[key]


class CompactGraph:
    """The structure of a set of runs: interned ids, derivation edges, reads and writes.

    ``down`` maps a node to the nodes derived from it (labelled by transformation), ``up`` the
    reverse; ``reads`` / ``writes`` map a node to the transformations that read / write it;
    ``io[t]`` holds the distinct input and output tuples of ``t``'s runs (the runs' own tuples,
    not copies). A derivation triple given twice (two runs of one transformation that overlap)
    is kept twice: walks do not mind, and the readers that list edges de-duplicate.
    """

    __slots__ = ("down", "ids", "index", "io", "reads", "t_ids", "t_index", "up", "writes")

    def __init__(
        self,
        *,
        ids: list[str],
        index: dict[str, int],
        t_ids: list[str],
        edges: tuple[array[int], array[int], array[int]],
        touches: tuple[tuple[array[int], array[int]], tuple[array[int], array[int]]],
        io: dict[str, tuple[list[tuple[str, ...]], list[tuple[str, ...]]]],
    ) -> None:
        self.ids = ids
        self.index = index
        self.t_ids = t_ids
        self.t_index = dict(zip(t_ids, range(len(t_ids)), strict=True))
        src, label, dst = edges
        self.down = Rows(len(ids), src, dst, label)
        self.up = Rows(len(ids), dst, src, label)
        (read_nodes, read_ts), (write_nodes, write_ts) = touches
        self.reads = Rows(len(ids), read_nodes, read_ts)
        self.writes = Rows(len(ids), write_nodes, write_ts)
        self.io = io

    @classmethod
    def build(cls, runs: Iterable[Run]) -> CompactGraph:
        """The graph of ``runs`` (the caller picks which runs make structure)."""
        derivations: dict[tuple[str, tuple[tuple[str, tuple[str, ...]], ...]], None] = {}
        seen_io: dict[str, tuple[dict[tuple[str, ...], None], dict[tuple[str, ...], None]]] = {}
        for run in runs:
            # A transformation's runs usually repeat the same inputs, outputs and derivation:
            # each distinct tuple is taken once (the tuples are the records' own).
            ins, outs = seen_io.setdefault(run.transformation, ({}, {}))
            ins[run.inputs] = None
            outs[run.outputs] = None
            if run.derivation:
                derivations[(run.transformation, run.derivation)] = None
        io = {t: (list(ins), list(outs)) for t, (ins, outs) in seen_io.items()}
        del seen_io
        # Every loop over nodes or edges below runs in C (dict.update, map, chain, repeat):
        # a Python-level loop per edge would take most of the build's time.
        seen: dict[str, None] = {}
        for read, written in io.values():
            for group in chain(read, written):
                seen.update(zip(group, repeat(None)))
        ids = list(seen)
        del seen
        index = dict(zip(ids, range(len(ids)), strict=True))
        t_ids = list(io)
        t_index = dict(zip(t_ids, range(len(t_ids)), strict=True))
        try:
            edges = _edges(derivations, index, t_index)
        except KeyError:
            # A derivation naming a node outside its run's inputs and outputs (records not
            # written by the SDK): number those nodes too, then again.
            for _t, derivation in derivations:
                for out, sources in derivation:
                    for node in (out, *sources):
                        if node not in index:
                            index[node] = len(ids)
                            ids.append(node)
            edges = _edges(derivations, index, t_index)
        del derivations
        touches = (_touches(io, index, t_index, 0), _touches(io, index, t_index, 1))
        return cls(ids=ids, index=index, t_ids=t_ids, edges=edges, touches=touches, io=io)

    # --- questions ---------------------------------------------------------------------------
    def referenced(self, i: int) -> bool:
        """Whether some run read or wrote node ``i``."""
        reads, writes = self.reads.offsets, self.writes.offsets
        return reads[i] != reads[i + 1] or writes[i] != writes[i + 1]

    def referenced_ids(self) -> set[str]:
        """Every node some run read or wrote."""
        groups = (group for pair in self.io.values() for side in pair for group in side)
        return set(chain.from_iterable(groups))

    def node_io(self, transformation: str, side: int) -> set[str]:
        """The nodes ``transformation`` read (side 0) or wrote (side 1)."""
        groups = self.io.get(transformation)
        return set(chain.from_iterable(groups[side])) if groups else set()

    def reach(self, seeds: dict[int, int], depth: int | None, forward: bool) -> dict[str, int]:
        """Nodes and transformations reachable from ``seeds`` (node -> distance): id -> distance.

        Unbounded walks (``depth=None``) report distance 0 for everything; bounded ones count
        vertices (a node, then the transformations touching it at +1, its derived nodes at +2).
        """
        rows, touch = (self.down, self.reads) if forward else (self.up, self.writes)
        if depth is None:
            nodes, ts = _reach(seeds, rows, touch)
            # Comprehensions: quicker than dict.fromkeys over a map, for few ids or millions.
            ids, t_ids = self.ids, self.t_ids
            found = {ids[i]: 0 for i in nodes}
            found.update({t_ids[t]: 0 for t in ts})
            return found
        dist, t_dist = _bounded(seeds, depth, rows, touch)
        found = {self.ids[i]: d for i, d in dist.items()}
        found.update({self.t_ids[t]: d for t, d in t_dist.items()})
        return found

    def steps(self, ids: Iterable[str], forward: bool) -> Iterator[tuple[str, str]]:
        """``(node, neighbour)`` one derivation step from each of ``ids``; neighbours sorted."""
        # Path search calls this once per frontier: locals, and no slice for a lone neighbour.
        get, names = self.index.get, self.ids
        rows = self.down if forward else self.up
        offsets, values = rows.offsets, rows.values
        for a in ids:
            i = get(a)
            if i is None:
                continue
            start, end = offsets[i], offsets[i + 1]
            if start + 1 == end:
                yield a, names[values[start]]
            elif start != end:
                for b in sorted(set(map(names.__getitem__, values[start:end]))):
                    yield a, b

    def label(self, src: str, dst: str) -> str:
        """The transformation of the step src -> dst (the first by id when several make it)."""
        return self.label_of(self.index[src], self.index[dst])

    def label_of(self, i: int, j: int) -> str:
        """:meth:`label` of the step between nodes numbered ``i`` and ``j``."""
        down = self.down
        offsets, values, labels = down.offsets, down.values, down.labels
        assert labels is not None
        start, end = offsets[i], offsets[i + 1]
        if start + 1 == end:
            return self.t_ids[labels[start]]
        row = values[start:end]
        if row.count(j) == 1:
            return self.t_ids[labels[start + row.index(j)]]
        # Made by several transformations (or by one, twice).
        return min(self.t_ids[labels[start + k]] for k, v in enumerate(row) if v == j)

    def triples(self) -> set[tuple[str, str, str]]:
        """Every distinct ``(input, transformation, output)``."""
        ids, t_ids, down = self.ids, self.t_ids, self.down
        offsets, values, labels = down.offsets, down.values, down.labels
        assert labels is not None
        found: set[tuple[str, str, str]] = set()
        for i, src in enumerate(ids):
            start, end = offsets[i], offsets[i + 1]
            for k in range(start, end):
                found.add((src, t_ids[labels[k]], ids[values[k]]))
        return found


def _edges(
    derivations: Iterable[tuple[str, tuple[tuple[str, tuple[str, ...]], ...]]],
    index: dict[str, int],
    t_index: dict[str, int],
) -> tuple[array[int], array[int], array[int]]:
    """``(sources, labels, outputs)``: one entry per derivation edge, in the order given.

    KeyError when a derivation names a node ``index`` lacks.
    """
    # Every loop over edges here runs in C (map, chain, repeat): a Python-level loop per edge
    # would take most of the build's time.
    src, label, dst = array(_CODE), array(_CODE), array(_CODE)
    at = index.__getitem__
    for t, derivation in derivations:
        before = len(src)
        sources = list(map(_SOURCES, derivation))
        src.extend(map(at, chain.from_iterable(sources)))
        outputs = map(at, map(_OUTPUT, derivation))
        widths = list(map(len, sources))
        if widths.count(1) == len(widths):  # one source per output, the common case
            dst.extend(outputs)
        else:  # each output once per source it derives from
            dst.extend(chain.from_iterable(map(repeat, outputs, widths)))
        label.extend(repeat(t_index[t], len(src) - before))
    return src, label, dst


def _touches(
    io: dict[str, tuple[list[tuple[str, ...]], list[tuple[str, ...]]]],
    index: dict[str, int],
    t_index: dict[str, int],
    side: int,
) -> tuple[array[int], array[int]]:
    """``(node, transformation)`` pairs, each once, of the nodes read (0) or written (1)."""
    nodes, ts = array(_CODE), array(_CODE)
    for t, groups in io.items():
        distinct = set(chain.from_iterable(groups[side]))
        nodes.extend(map(index.__getitem__, distinct))
        ts.extend(repeat(t_index[t], len(distinct)))
    return nodes, ts


def _reach(seeds: dict[int, int], rows: Rows, touch: Rows) -> tuple[set[int], set[int]]:
    """Unbounded walk (depth-first: distances are not needed): nodes and transformations."""
    offsets, values = rows.offsets, rows.values
    t_offsets, t_values = touch.offsets, touch.values
    stack = list(seeds)
    seen = set(stack)
    ts: set[int] = set()
    add_t, add, push, pop = ts.add, seen.add, stack.append, stack.pop
    while stack:
        i = pop()
        while True:  # along a chain (one neighbour each) without the stack
            start, end = t_offsets[i], t_offsets[i + 1]
            if start + 1 == end:
                add_t(t_values[start])
            elif start != end:
                ts.update(t_values[start:end])
            start, end = offsets[i], offsets[i + 1]
            if start + 1 != end:
                break
            i = values[start]
            if i in seen:
                break
            add(i)
        if start + 1 < end:
            for j in values[start:end]:
                if j not in seen:
                    add(j)
                    push(j)
    return seen, ts


def _bounded(
    seeds: dict[int, int], depth: int, rows: Rows, touch: Rows
) -> tuple[dict[int, int], dict[int, int]]:
    """Breadth-first walk to ``depth`` vertices: node -> distance, transformation -> distance."""
    dist = dict(seeds)
    t_dist: dict[int, int] = {}
    queue: deque[tuple[int, int]] = deque(seeds.items())
    while queue:
        i, d = queue.popleft()
        if d + 1 > depth:
            continue
        for t in touch.row(i):
            t_dist.setdefault(t, d + 1)
        if d + 2 > depth:
            continue
        for j in rows.row(i):
            if j not in dist:
                dist[j] = d + 2
                queue.append((j, d + 2))
    return dist, t_dist
