"""Per-call overhead of @log_lineage against a bare call, a no-op wrapt decorator and OpenTelemetry.

Every variant decorates the same trivial function. Repeats are interleaved round-robin (one chunk
of every variant, then the next round), so drift of the machine hits all variants alike; the
overhead is the variant's median time per call minus the bare call's median.
"""

from __future__ import annotations

import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import wrapt

import lineage_sdk
from lineage_sdk import DataSource, Feature, log_lineage

from .report import Report

clicks = DataSource("raw_clicks_kafka_topic", type="kafka_topic", schema=["user_id", "ts", "ad_id"])
user_clicks = Feature("user_clicks_7d", value_type="int", entity="user")


def work(x: int) -> int:
    return x + 1


@log_lineage(inputs=[clicks], outputs=[user_clicks], name="bench_job", version="1.0")
def lineage_work(x: int) -> int:
    return x + 1


@wrapt.decorator
def _noop(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    return wrapped(*args, **kwargs)


floor_work = _noop(work)


def _otel(processor: str) -> tuple[Callable[[int], int], Any]:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    proc = SimpleSpanProcessor(exporter) if processor == "simple" else BatchSpanProcessor(exporter)
    provider.add_span_processor(proc)
    tracer = provider.get_tracer("benchmarks")

    @tracer.start_as_current_span("work")
    def otel_work(x: int) -> int:
        return x + 1

    return otel_work, (provider, exporter)


def _chunk(fn: Callable[[int], int], n: int) -> float:
    start = time.perf_counter_ns()
    for i in range(n):
        fn(i)
    return (time.perf_counter_ns() - start) / n / 1e9


def _raw_sqlite_transaction(path: Path, n: int) -> float:
    """One single-row transaction per run, in the same mode as the SQLite sink (WAL, NORMAL)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, t TEXT, record TEXT)")
    payload = '{"run_id":"x","transformation":"bench_job","status":"completed"}' * 8
    start = time.perf_counter_ns()
    for i in range(n):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "INSERT INTO runs VALUES (?, ?, ?)", (f"{time.time_ns()}-{i}", "bench_job", payload)
        )
        conn.execute("COMMIT")
    elapsed = (time.perf_counter_ns() - start) / n / 1e9
    conn.close()
    return elapsed


def run(report: Report, *, quick: bool) -> None:
    n, repeats = (300, 3) if quick else (2000, 21)
    tmp = Path(tempfile.mkdtemp(prefix="lineage-bench-"))
    otel_simple, keep1 = _otel("simple")
    otel_batch, keep2 = _otel("batch")
    sinks = {
        "none": "none",
        "memory": "memory",
        "json": f"json:{tmp / 'overhead.jsonl'}",
        "sqlite": f"sqlite:{tmp / 'overhead.db'}",
    }
    variants: dict[str, tuple[Callable[[int], int], str | None, bool]] = {
        "bare call": (work, None, False),
        "wrapt no-op decorator (floor)": (floor_work, None, False),
        "OpenTelemetry span, SimpleSpanProcessor": (otel_simple, None, False),
        "OpenTelemetry span, BatchSpanProcessor": (otel_batch, None, False),
    }
    for name, target in sinks.items():
        variants[f"log_lineage {name}, sync"] = (lineage_work, target, False)
        if name != "none":
            variants[f"log_lineage {name}, async"] = (lineage_work, target, True)
    variants["log_lineage disabled (LINEAGE_ENABLED=0)"] = (lineage_work, "disabled", False)
    samples: dict[str, list[float]] = {name: [] for name in variants}
    raw_sqlite: list[float] = []
    for _ in range(repeats):
        for name, (fn, target, async_delivery) in variants.items():
            if target == "disabled":
                lineage_sdk.configure("none", enabled=False)
            elif target is not None:
                lineage_sdk.configure(
                    target,
                    async_delivery=async_delivery,
                    on_error="warn",
                    queue_size=max(2 * n, 10_000),
                )
                fn(0)  # declarations, code and git capture happen once, outside the timing
                lineage_sdk.flush()
            samples[name].append(_chunk(fn, n))
            if target is not None:
                lineage_sdk.flush()
        keep1[1].clear()
        keep2[1].clear()
        raw_sqlite.append(_raw_sqlite_transaction(tmp / "raw.db", max(n // 4, 50)))
    lineage_sdk.configure("none")
    bare = statistics.median(samples["bare call"])
    overhead = {name: [s - bare for s in values] for name, values in samples.items()}
    report.add("overhead", "bare call (absolute time per call)", samples["bare call"], "s")
    for name, values in overhead.items():
        if name != "bare call":
            report.add("overhead", f"{name} (added per call)", values, "s")
    report.add(
        "overhead", "raw SQLite single-row transaction (WAL, synchronous=NORMAL)", raw_sqlite, "s"
    )
    otel = overhead["OpenTelemetry span, SimpleSpanProcessor"]
    floor = overhead["wrapt no-op decorator (floor)"]

    def ratio(name: str, base: list[float]) -> float:
        # The median of per-repeat ratios: a repeat measures every variant back to back, so
        # pairing them cancels how the machine's speed drifts from one repeat to the next (on a
        # shared VM it moves by 2x over a minute), where a ratio of medians would not.
        return statistics.median(a / b for a, b in zip(overhead[name], base, strict=True))

    report.target(
        "memory sink, sync / OTel span (Simple)",
        ratio("log_lineage memory, sync", otel),
        0.10,
        detail=f"wrapt floor is {ratio('wrapt no-op decorator (floor)', otel):.2f}",
    )
    report.target(
        "json sink, sync / OTel span (Simple)", ratio("log_lineage json, sync", otel), 0.35
    )
    for name in ("memory", "json", "sqlite"):
        report.target(
            f"{name} sink, async, caller's cost / OTel span (Simple)",
            ratio(f"log_lineage {name}, async", otel),
            0.10,
        )
    report.target(
        "sqlite sink, sync / raw single-row SQLite transaction",
        ratio("log_lineage sqlite, sync", raw_sqlite),
        1.0,
    )
    for name in ("log_lineage none, sync", "log_lineage disabled (LINEAGE_ENABLED=0)"):
        report.target(
            f"{name.removeprefix('log_lineage ')} / wrapt no-op wrapper", ratio(name, floor), 1.2
        )
    ours, raw = wal_pages_per_run(tmp, max(n // 4, 50))
    report.add("overhead", "WAL pages per run: log_lineage sqlite, sync", [ours], "pages")
    report.add("overhead", "WAL pages per run: raw single-row transaction", [raw], "pages")


def _wal_frames(db: Path) -> int:
    """Frames in a WAL file: a 32-byte header, then (24-byte header + page) per frame."""
    wal = db.with_name(db.name + "-wal")
    page_size = sqlite3.connect(db).execute("PRAGMA page_size").fetchone()[0]
    return max(wal.stat().st_size - 32, 0) // (page_size + 24) if wal.exists() else 0


def _frames_during(db: Path, write: Callable[[], None]) -> int:
    """WAL frames ``write`` appends. A reader holds a snapshot meanwhile, so no checkpoint can
    reset the WAL under the count: every committed page stays in the file."""
    reader = sqlite3.connect(db, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM sqlite_master").fetchone()
    before = _wal_frames(db)
    write()
    after = _wal_frames(db)
    reader.execute("COMMIT")
    reader.close()
    return after - before


def wal_pages_per_run(tmp: Path, n: int) -> tuple[float, float]:
    """WAL pages written per run by the SQLite sink (sync) and by a raw single-row transaction.

    A noise-free figure beside the times: every page is written once to the WAL and once more at
    the checkpoint, and a checkpoint (with its fsync) comes every ~1,000 pages.
    """
    store = tmp / "wal-pages.db"
    lineage_sdk.configure(f"sqlite:{store}", async_delivery=False, on_error="warn")
    lineage_work(0)  # the schema and the declarations are written once, outside the count
    lineage_sdk.flush()

    def sdk_runs() -> None:
        for i in range(n):
            lineage_work(i)
        lineage_sdk.flush()

    ours = _frames_during(store, sdk_runs)
    lineage_sdk.configure("none")
    raw_db = tmp / "wal-raw.db"
    _raw_sqlite_transaction(raw_db, 1)
    raw = _frames_during(raw_db, lambda: _raw_sqlite_transaction(raw_db, n))
    return ours / n, raw / n
