"""Graph queries on synthetic feature graphs, in memory and in SQLite, against networkx.

Shapes: ``chains`` (disjoint chains of 1,000 derivation edges: the deepest feature of a chain
has 1,000 ancestors) and ``fan`` (a tree with 10 children per node: the root reaches
everything). Each transformation run carries up to 1,000 derivation edges.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lineage_sdk.graph import LineageGraph, load_graph
from lineage_sdk.records import Feature, Run
from lineage_sdk.sinks.sqlite import SQLiteSink

from .report import Report

CHAIN = 1000
AT = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def edges_of(shape: str, size: int) -> list[tuple[str, str]]:
    if shape == "chains":
        return [
            (f"c{i // CHAIN}_{i % CHAIN}", f"c{i // CHAIN}_{i % CHAIN + 1}") for i in range(size)
        ]
    return [(f"f{(i - 1) // 10}", f"f{i}") for i in range(1, size + 1)]


def endpoints(shape: str, size: int) -> tuple[str, str]:
    """(root, deepest feature) for the queries."""
    if shape == "chains":
        last_chain = (size - 1) // CHAIN
        return f"c{last_chain}_0", f"c{last_chain}_{(size - 1) % CHAIN + 1}"
    return "f0", f"f{size}"


#: On the fan store, every FEATURE_EVERY-th node is a declared Feature: impact() then walks the
#: whole graph below the root and names the features it reaches (an undeclared store would make
#: it answer at once, measuring nothing but the call).
FEATURE_EVERY = 100


def features_of(shape: str, size: int) -> list[Feature]:
    """The Feature declarations of a store of ``shape``: none on chains, 1% of the fan's nodes."""
    if shape != "fan":
        return []
    return [Feature(f"f{i}") for i in range(FEATURE_EVERY - 1, size + 1, FEATURE_EVERY)]


def fill_store(sink: Any, shape: str, size: int, runs: list[Run]) -> float:
    """Write a store of ``shape``'s declarations and ``runs`` (50 a batch) and close it;
    the seconds it took."""
    start = time.perf_counter()
    sink.emit(features_of(shape, size))
    for k in range(0, len(runs), 50):
        sink.emit(runs[k : k + 50])
    sink.close()
    return time.perf_counter() - start


def runs_of(edges: list[tuple[str, str]]) -> list[Run]:
    runs = []
    for k in range(0, len(edges), CHAIN):
        chunk = edges[k : k + CHAIN]
        runs.append(
            Run(
                f"run-{k}",
                f"t{k // CHAIN}",
                "completed",
                AT,
                AT,
                0.0,
                inputs=tuple(dict.fromkeys(s for s, _ in chunk)),
                outputs=tuple(d for _, d in chunk),
                derivation=[(d, (s,)) for s, d in chunk],
            )
        )
    return runs


def _best(fn: Callable[[], Any], repeats: int) -> list[float]:
    """``repeats`` samples of the seconds one call of ``fn`` takes. The first call is untimed;
    a sample of a quick query times a loop of calls lasting ~2 ms, since one call of a few
    microseconds measures the timer and the machine's noise more than the query. The garbage
    collector is off while timing, as timeit has it: this process holds millions of objects
    (the graphs of every size), and a full collection landing in one side's loop would time
    the others' objects."""
    start = time.perf_counter()
    fn()
    once = time.perf_counter() - start
    calls = max(1, min(1000, int(0.002 / max(once, 1e-7))))
    samples = []
    collecting = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            samples.append((time.perf_counter() - start) / calls)
    finally:
        if collecting:
            gc.enable()
    return samples


def _probe(store: Path, node: str) -> dict[str, Any]:
    """Upstream of ``node`` in a fresh interpreter: time, result size and peak memory (RSS)."""
    # VmHWM, not ru_maxrss: Linux carries a parent's ru_maxrss into the child across exec, and
    # this parent holds whole graphs in memory.
    code = (
        "import json, re, sys, time\n"
        "def hwm():\n"
        "    text = open('/proc/self/status').read()\n"
        "    return int(re.search(r'VmHWM:\\s+(\\d+)', text).group(1))\n"
        "import lineage_sdk\n"
        "from lineage_sdk import load_graph\n"
        "base = hwm()\n"
        "g = load_graph('sqlite:' + sys.argv[1])\n"
        "t = time.perf_counter(); ids = g.upstream(sys.argv[2]); t = time.perf_counter() - t\n"
        "peak = hwm()\n"
        "if sys.argv[3] == 'full':\n"
        "    from lineage_sdk.graph import LineageGraph\n"
        "    whole = LineageGraph(g.records()); peak = hwm()\n"
        "print(json.dumps({'seconds': t, 'count': len(ids), 'delta_kib': peak - base}))\n"
    )
    out = {}
    for mode in ("query", "full"):
        proc = subprocess.run(
            [sys.executable, "-c", code, str(store), node, mode],
            capture_output=True,
            text=True,
            check=True,
        )
        out[mode] = json.loads(proc.stdout)
    return out


def _load_probe(kind: str, shape: str, size: int) -> dict[str, float]:
    """Build a whole graph in a fresh interpreter: seconds and peak memory added (MiB).

    Both sides start from the same data already in memory (our run records / networkx's edge
    list, made by this module), so what is measured is the graph each builds from it.
    """
    build = (
        "g = LineageGraph(runs); g.upstream(deepest)\n"
        if kind == "lineage"
        else "g = nx.DiGraph(edges); nx.ancestors(g, deepest)\n"
    )
    code = (
        "import gc, json, re, sys, time\n"
        "def hwm():\n"
        "    text = open('/proc/self/status').read()\n"
        "    return int(re.search(r'VmHWM:\\s+(\\d+)', text).group(1))\n"
        "from benchmarks.queries import edges_of, endpoints, runs_of\n"
        "from lineage_sdk.graph import LineageGraph\n"
        "import networkx as nx\n"
        "shape, size = sys.argv[1], int(sys.argv[2])\n"
        "edges = edges_of(shape, size); deepest = endpoints(shape, size)[1]\n"
        "runs = runs_of(edges) if sys.argv[3] == 'lineage' else None\n"
        "gc.collect(); base = hwm()\n"
        "t = time.perf_counter()\n" + build + "t = time.perf_counter() - t\n"
        "print(json.dumps({'seconds': t, 'mib': (hwm() - base) / 1024}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, shape, str(size), kind],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    return dict(json.loads(proc.stdout))


def run(report: Report, *, quick: bool) -> None:
    import networkx as nx

    sizes = [2_000] if quick else [10_000, 100_000, 1_000_000]
    repeats = 2 if quick else 5
    tmp = Path(tempfile.mkdtemp(prefix="lineage-bench-"))
    ratios: list[float] = []
    for shape in ("chains", "fan"):
        for size in sizes:
            edges = edges_of(shape, size)
            root, deepest = endpoints(shape, size)
            runs = runs_of(edges)
            label = f"{shape}, {size:,} edges"
            graph = LineageGraph(runs)
            nxg = nx.DiGraph(edges)
            cases = [
                (
                    "upstream(deepest)",
                    lambda: graph.upstream(deepest),
                    lambda: nx.ancestors(nxg, deepest),
                ),
                (
                    "downstream(root)",
                    lambda: graph.downstream(root),
                    lambda: nx.descendants(nxg, root),
                ),
                (
                    "path(root, deepest)",
                    lambda: graph.path(root, deepest),
                    lambda: nx.shortest_path(nxg, root, deepest),
                ),
            ]
            for query, ours, theirs in cases:
                mine = _best(ours, repeats)
                base = _best(theirs, repeats)
                ours_row = report.add("queries", f"memory {query}, {label}", mine, "s")
                base_row = report.add("queries", f"networkx {query}, {label}", base, "s")
                ratios.append(ours_row.median / base_row.median)
            store = tmp / f"{shape}-{size}.db"
            seconds = fill_store(SQLiteSink(store), shape, size, runs)
            report.add("queries", f"sqlite store build, {label}", [seconds], "s")
            sql_graph = load_graph(f"sqlite:{store}")
            for query, fn in (
                ("upstream(deepest)", lambda: sql_graph.upstream(deepest)),
                ("upstream(deepest, depth=10)", lambda: sql_graph.upstream(deepest, 10)),
                ("path(root, deepest)", lambda: sql_graph.path(root, deepest)),
            ):
                report.add("queries", f"sqlite {query}, {label}", _best(fn, repeats), "s")
            if shape == "fan":
                impact = report.add(
                    "queries",
                    f"sqlite impact(root), {label}",
                    _best(lambda: sql_graph.impact(root), repeats),
                    "s",
                )
                down = report.add(
                    "queries",
                    f"sqlite downstream(root), {label}",
                    _best(lambda: sql_graph.downstream(root), repeats),
                    "s",
                )
                if size == sizes[-1]:
                    report.target(
                        f"sqlite impact / downstream ({label})", impact.median / down.median, 1.5
                    )
            sql_graph.close()
            if shape == "chains" and size == sizes[-1]:
                probe = _probe(store, deepest)
                q, full = probe["query"], probe["full"]
                report.add(
                    "queries",
                    f"sqlite upstream of a node with {q['count'] - 1:,} node ancestors, "
                    f"{label}, fresh process",
                    [q["seconds"]],
                    "s",
                    note=f"peak RSS +{q['delta_kib'] / 1024:.1f} MiB; loading the whole "
                    f"graph instead: +{full['delta_kib'] / 1024:.1f} MiB",
                )
                if not quick:  # at quick sizes both vanish in the interpreter's own footprint
                    report.target(
                        f"sqlite upstream peak memory / whole-graph load ({label})",
                        (q["delta_kib"] + 1) / (full["delta_kib"] + 1),
                        0.05,
                        detail="answers without loading the whole graph",
                    )
    size = sizes[-1]
    ours = [_load_probe("lineage", "fan", size) for _ in range(1 if quick else 3)]
    theirs = [_load_probe("networkx", "fan", size) for _ in range(1 if quick else 3)]
    label = f"whole-graph build, fan, {size:,} edges, fresh process"
    t_ours = report.add("queries", f"memory {label}", [o["seconds"] for o in ours], "s")
    t_nx = report.add("queries", f"networkx {label}", [o["seconds"] for o in theirs], "s")
    m_ours = report.add("queries", f"memory {label}, peak memory", [o["mib"] for o in ours], "MiB")
    m_nx = report.add(
        "queries", f"networkx {label}, peak memory", [o["mib"] for o in theirs], "MiB"
    )
    report.target(f"{label}: time / networkx", t_ours.median / t_nx.median, 1.0)
    report.target(f"{label}: memory / networkx", (m_ours.median + 1) / (m_nx.median + 1), 1.0)
    worst = max(ratios)
    report.target(
        "in-memory queries / networkx (worst case over shapes, sizes, queries)", worst, 1.0
    )
