"""History questions (as_of, diff, stale) on an SQLite store of 10^5 runs, in SQL vs in memory.

The store: 100 transformations in a chain (each reads the previous one's feature), each run 1,000
times over 10 revisions (a new source hash every 100 runs), one run in 50 failing. The baseline
answers the same questions by reading every run back and computing in memory (what a store
without SQL answers would do); the answers are checked equal before timing.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lineage_sdk.graph.changes import RunsChangeSource, diff, resolve_moment, stale
from lineage_sdk.graph.changes.source import ChangeSource
from lineage_sdk.graph.changes.sql import SQLChangeSource
from lineage_sdk.records import CodeRef, GitInfo, Run
from lineage_sdk.sinks.sqlite import SQLiteSink, connect, read_records

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


def _questions(source: ChangeSource) -> dict[str, Callable[[], Any]]:
    def kind_of(node: str) -> str:
        return "Feature" if node.startswith("feature_") else "DataSource"

    def as_of() -> Any:
        # The structure as it stood: each transformation's newest run, each node's producer.
        at = resolve_moment("v1.4", source, cwd=Path("/")).at
        return sorted(source.newest_runs(at).items()), sorted(source.producers(at).items())

    def history() -> Any:
        return sorted(source.revisions(None, "job_42"), key=lambda r: r.first_run.started_at)

    def diff_tags() -> Any:
        a = resolve_moment("v1.2", source, cwd=Path("/"))
        b = resolve_moment("v1.7", source, cwd=Path("/"))
        return diff(source, a, b, kind_of)

    return {
        "history(job_42)": history,
        "as_of(v1.4)": as_of,
        "diff(v1.2, v1.7)": diff_tags,
        "stale()": lambda: stale(source),
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
    conn = connect(store, create=False)
    sql = SQLChangeSource(conn.execute)

    def in_memory() -> ChangeSource:
        return RunsChangeSource(r for r in read_records(store) if isinstance(r, Run))

    label = f"{total:,} runs"
    memory_source = in_memory()
    for name, fn in _questions(sql).items():
        baseline = _questions(memory_source)[name]
        assert repr(fn()) == repr(baseline()), f"SQL and in-memory answers differ for {name}"
        ours = report.add("changes", f"sqlite SQL {name}, {label}", _samples(fn, repeats), "s")

        def load_and_answer(name: str = name) -> Any:
            return _questions(in_memory())[name]()

        base = report.add(
            "changes",
            f"load every run + in memory {name}, {label}",
            _samples(load_and_answer, 1),
            "s",
        )
        report.target(
            f"changes: SQL {name} / load-everything, {label}",
            ours.median / base.median,
            0.5,
            detail="the SQL store answers without reading every run back",
        )
    conn.close()
