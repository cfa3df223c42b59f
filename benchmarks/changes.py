"""History questions (as_of, diff, stale) on an SQLite store of 10^5 runs, in SQL vs in memory.

The store: 100 transformations in a chain (each reads the previous one's feature), each run 1,000
times over 10 revisions (a new source hash and tag every 100 runs), one run in 50 failing. The
baseline reads every run back into an in-memory graph (what a store without SQL answers does) and
asks it the same questions; the answers are checked equal before timing.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lineage_sdk.graph import LineageGraph, load_graph
from lineage_sdk.records import CodeRef, GitInfo, Run
from lineage_sdk.sinks.sqlite import SQLiteSink, read_records

from .report import Report

AT = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
TRANSFORMATIONS = 100


def runs_of(total: int) -> list[Run]:
    """``total`` runs, round-robin over the transformations, one second apart."""
    per_t = max(total // TRANSFORMATIONS, 1)
    runs = []
    for i in range(total):
        t, k = i % TRANSFORMATIONS, i // TRANSFORMATIONS
        revision = k * 10 // per_t
        start = AT + dt.timedelta(seconds=i)
        src = f"feature_{t - 1}" if t else "raw_events"
        runs.append(
            Run(
                f"run-{i:07d}",
                f"job_{t}",
                "failed" if i % 50 == 49 else "completed",
                start,
                start + dt.timedelta(milliseconds=500),
                0.5,
                inputs=(src,),
                outputs=(f"feature_{t}",),
                derivation=[(f"feature_{t}", (src,))],
                version=f"1.{revision}",
                code=CodeRef(
                    "jobs", f"job_{t}", "jobs.py", 10 * t + 1, 10 * t + 9, f"{revision:064x}"
                ),
                git=GitInfo(f"{revision:040x}", branch="main", tag=f"v1.{revision}"),
            )
        )
    return runs


def _samples(fn: Callable[[], Any], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def _questions(graph: LineageGraph) -> dict[str, Callable[[], Any]]:
    def as_of() -> Any:
        snapshot = graph.as_of("v1.4")
        try:
            return snapshot.upstream("feature_90", 3), [r.run_id for r in snapshot.runs(limit=5)]
        finally:
            snapshot.close()

    return {
        "history(job_42)": lambda: graph.history("job_42").to_json(),
        "as_of(v1.4) + upstream + runs": as_of,
        "diff(v1.2, v1.7)": lambda: graph.diff("v1.2", "v1.7").to_json(),
        "stale()": lambda: [e.to_json() for e in graph.stale()],
    }


def run(report: Report, *, quick: bool) -> None:
    total = 2_000 if quick else 100_000
    repeats = 2 if quick else 5
    store = Path(tempfile.mkdtemp(prefix="lineage-bench-changes-")) / "history.db"
    runs = runs_of(total)
    sink = SQLiteSink(store)
    for k in range(0, len(runs), 1000):
        sink.emit(runs[k : k + 1000])
    sink.close()
    label = f"{total:,} runs"
    sql = load_graph(f"sqlite:{store}")
    start = time.perf_counter()
    memory = LineageGraph(read_records(store))
    load_s = time.perf_counter() - start
    report.add("changes", f"load every run into memory, {label}", [load_s], "s")
    sql_questions, memory_questions = _questions(sql), _questions(memory)
    for name, fn in sql_questions.items():
        baseline = memory_questions[name]
        assert fn() == baseline(), f"SQL and in-memory answers differ for {name}"
        ours = report.add("changes", f"sqlite (SQL) {name}, {label}", _samples(fn, repeats), "s")
        mem = report.add("changes", f"in memory {name}, {label}", _samples(baseline, repeats), "s")
        report.target(
            f"changes: SQL {name} / (load + in memory), {label}",
            ours.median / (load_s + mem.median),
            0.5,
            detail="the SQL store answers without reading every run back",
        )
    sql.close()
