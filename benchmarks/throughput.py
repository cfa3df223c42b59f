"""Throughput: many runs into json: and sqlite: stores, against raw writes of equivalent data."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import lineage_sdk
from lineage_sdk.serde import to_dict

from .overhead import lineage_work
from .report import Report


def lineage_runs(target: str, runs: int, async_delivery: bool) -> float:
    lineage_sdk.configure(
        target, async_delivery=async_delivery, queue_size=runs + 10, on_error="warn"
    )
    lineage_work(0)
    lineage_sdk.flush()
    start = time.perf_counter()
    for i in range(runs):
        lineage_work(i)
    lineage_sdk.flush()
    elapsed = time.perf_counter() - start
    stats = lineage_sdk.stats()
    lineage_sdk.configure("none")
    lost = stats["dropped"] + stats["failed"]
    assert lost == 0, f"{lost} records lost: the benchmark would overstate throughput"
    return runs / elapsed


def sample_record() -> dict[str, object]:
    sink = lineage_sdk.MemorySink()
    lineage_sdk.configure([sink])
    lineage_work(0)
    lineage_sdk.configure("none")
    return to_dict(sink.records[-1])


def _raw_json_lines(path: Path, runs: int, record: dict[str, object]) -> float:
    start = time.perf_counter()
    with path.open("a", encoding="utf-8") as handle:
        for i in range(runs):
            record["run_id"] = str(i)
            handle.write(json.dumps(record, separators=(",", ":")) + "\n")
    return runs / (time.perf_counter() - start)


def _raw_executemany(path: Path, runs: int, record: dict[str, object]) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(
        "CREATE TABLE runs (run_id TEXT PRIMARY KEY, transformation_id TEXT, "
        "status TEXT, started_us INTEGER, record TEXT)"
    )
    text = json.dumps(record, separators=(",", ":"))
    rows = [(str(i), "bench_job", "completed", i, text) for i in range(runs)]
    start = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO runs VALUES (?, ?, ?, ?, ?)", rows)
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return runs / elapsed


def _processes_into_one_store(store: Path, processes: int, runs_each: int) -> tuple[float, float]:
    """Runs per second of ``processes`` writers (async delivery) into one SQLite file, and the
    CPU cores they kept busy on average (their CPU time over the wall-clock time).

    The clock starts when every writer has imported, configured and warmed up, and stops when the
    last one has flushed: what is timed is ingest, not interpreter start-up.
    """
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    env.pop("LINEAGE_SINK", None)
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "benchmarks.ingest_worker", str(store), str(runs_each)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=root,
            env=env,
        )
        for _ in range(processes)
    ]
    for w in workers:
        assert w.stdout is not None and w.stdout.readline().strip() == "ready"
    start = time.time()
    for w in workers:
        assert w.stdin is not None
        w.stdin.write("go\n")
        w.stdin.flush()
    results = []
    for w in workers:
        assert w.stdout is not None
        results.append(json.loads(w.stdout.readline()))
        w.wait(timeout=600)
    dropped = sum(r["dropped"] for r in results)
    assert dropped == 0, f"{dropped} runs dropped: the benchmark would overstate throughput"
    wall = max(r["done"] for r in results) - start
    return processes * runs_each / wall, sum(r["cpu"] for r in results) / wall


def _raw_narrow_executemany(path: Path, runs: int) -> float:
    """The floor for ingest: one ``executemany`` of narrow run rows (ids, times, status)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(
        "CREATE TABLE runs (run_id TEXT PRIMARY KEY, revision_id TEXT, process_id TEXT, "
        "parent_run_id TEXT, started_us INTEGER, ended_us INTEGER, status TEXT, error TEXT)"
    )
    rows = [
        (f"0192f0c4-{i:012d}", "rev-1a2b3c4d", "proc-9f8e7d", None, i, i + 5, "completed", None)
        for i in range(runs)
    ]
    start = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return runs / elapsed


def run_processes(report: Report, *, quick: bool) -> None:
    """SQLite async ingest from 1 and 4 processes into one file, against raw executemany."""
    runs_each, repeats = (1_000, 1) if quick else (25_000, 3)
    tmp = Path(tempfile.mkdtemp(prefix="lineage-bench-"))
    one: list[float] = []
    four: list[float] = []
    raw: list[float] = []
    one_busy: list[float] = []
    four_busy: list[float] = []
    for r in range(repeats):
        rate, busy = _processes_into_one_store(tmp / f"one-{r}.db", 1, 4 * runs_each)
        one.append(rate)
        one_busy.append(busy)
        rate, busy = _processes_into_one_store(tmp / f"four-{r}.db", 4, runs_each)
        four.append(rate)
        four_busy.append(busy)
        raw.append(_raw_narrow_executemany(tmp / f"raw-narrow-{r}.db", 4 * runs_each))
    total = 4 * runs_each
    one_row = report.add("ingest", f"sqlite async, 1 process, {total:,} runs", one, "runs/s")
    four_row = report.add("ingest", f"sqlite async, 4 processes, {total:,} runs", four, "runs/s")
    raw_row = report.add("ingest", f"raw executemany of narrow run rows, {total:,}", raw, "runs/s")
    # What bounds 4 / 1 here: one process keeps about one core busy (its caller and its delivery
    # thread share one GIL), so four cannot go past min(4, CPUs) / that.
    cores = os.cpu_count() or 1
    one_cores = report.add("ingest", "CPU cores busy, 1 process", one_busy, "cores")
    report.add("ingest", f"CPU cores busy, 4 processes (of {cores})", four_busy, "cores")
    report.target(
        "sqlite async ingest, 4 processes / raw narrow executemany",
        four_row.median / raw_row.median,
        0.5,
        higher_is_better=True,
    )
    report.target(
        "sqlite async ingest, 4 processes / 1 process",
        four_row.median / one_row.median,
        2.5,
        higher_is_better=True,
        detail=f"the most {cores} CPUs allow: {min(4, cores) / one_cores.median:.2g}",
    )


def run(report: Report, *, quick: bool) -> None:
    runs, repeats = (2_000, 2) if quick else (100_000, 5)
    tmp = Path(tempfile.mkdtemp(prefix="lineage-bench-"))
    record = sample_record()
    # Warm-up, untimed: the first file of a run and the first SQLite database are slower to write
    # (page cache, allocation), which would otherwise land on whichever variant goes first.
    _raw_json_lines(tmp / "warm.jsonl", runs // 10, dict(record))
    _raw_executemany(tmp / "warm.db", runs // 10, record)
    results: dict[str, list[float]] = {}
    for r in range(repeats):
        for kind in ("json", "sqlite"):
            for async_delivery in (False, True):
                suffix = "jsonl" if kind == "json" else "db"
                target = f"{kind}:{tmp / f'{kind}-{async_delivery}-{r}.{suffix}'}"
                name = f"log_lineage {kind}, {'async' if async_delivery else 'sync'}"
                results.setdefault(name, []).append(lineage_runs(target, runs, async_delivery))
        results.setdefault("raw JSON lines loop", []).append(
            _raw_json_lines(tmp / f"raw-{r}.jsonl", runs, dict(record))
        )
        results.setdefault("raw SQLite executemany", []).append(
            _raw_executemany(tmp / f"raw-{r}.db", runs, record)
        )
    med = {
        name: report.add("throughput", f"{name}, {runs:,} runs", values, "runs/s").median
        for name, values in results.items()
    }
    report.target(
        "json async throughput / raw JSON lines loop",
        med["log_lineage json, async"] / med["raw JSON lines loop"],
        0.5,
        higher_is_better=True,
    )
    report.target(
        "sqlite async throughput / raw executemany",
        med["log_lineage sqlite, async"] / med["raw SQLite executemany"],
        0.25,
        higher_is_better=True,
    )
