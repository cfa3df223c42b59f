"""Batched delivery: bounded, flushed on demand and at exit, safe across fork."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

import lineage_sdk
from lineage_sdk import BaseSink, LineageSinkError, MemorySink, Run, log_lineage
from lineage_sdk.delivery import Delivery
from lineage_sdk.records import Feature, Record
from lineage_sdk.sinks.jsonfile import read_json_lines

from .conftest import child_env

ROOT = Path(__file__).resolve().parent.parent


class SlowSink(BaseSink):
    """Blocks every write until released: the queue in front of it fills up."""

    def __init__(self) -> None:
        super().__init__("slow")
        self.release = threading.Event()
        self.records: list[Record] = []

    def _emit(self, records: Sequence[Record]) -> None:
        self.release.wait(10)
        self.records.extend(records)


class FailingSink(BaseSink):
    def __init__(self) -> None:
        super().__init__("failing")

    def _emit(self, records: Sequence[Record]) -> None:
        raise PermissionError("read-only file system")


def test_async_records_arrive_on_flush_and_the_call_does_not_wait() -> None:
    sink = SlowSink()
    lineage_sdk.configure([sink], async_delivery=True)

    @log_lineage()
    def job() -> int:
        return 1

    assert job() == 1
    assert sink.records == []  # returned while the sink is still blocked: not on the call's path
    sink.release.set()
    assert lineage_sdk.flush(timeout=10)
    assert sum(isinstance(r, Run) for r in sink.records) == 1


def test_a_full_queue_drops_and_counts_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    sink = SlowSink()
    lineage_sdk.configure([sink], async_delivery=True, queue_size=2)
    caplog.set_level(logging.WARNING, logger="lineage_sdk")

    @log_lineage()
    def job() -> None:
        pass

    for _ in range(20):
        job()
    stats = lineage_sdk.stats()
    assert stats["dropped"] > 0
    assert caplog.text.count("queue is full") == 1
    sink.release.set()
    lineage_sdk.flush(timeout=10)
    stored = sum(isinstance(r, Run) for r in sink.records)
    assert stored + lineage_sdk.stats()["dropped"] >= 20


def test_async_strict_mode_raises_from_flush() -> None:
    lineage_sdk.configure([FailingSink()], async_delivery=True, on_error="raise")

    @log_lineage()
    def job() -> int:
        return 3

    assert job() == 3  # the call itself cannot know yet
    with pytest.raises(LineageSinkError, match="PermissionError"):
        lineage_sdk.flush(timeout=10)


def test_the_worker_flushes_within_the_interval_without_being_asked() -> None:
    sink = MemorySink()
    lineage_sdk.configure([sink], async_delivery=True, flush_interval_s=0.05)

    @log_lineage()
    def job() -> None:
        pass

    job()
    deadline = time.monotonic() + 5
    while not any(isinstance(r, Run) for r in sink.records) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert any(isinstance(r, Run) for r in sink.records)


def test_shutdown_with_a_stuck_sink_returns_within_its_timeout() -> None:
    sink = SlowSink()
    delivery = Delivery([sink], async_delivery=True)
    delivery.submit([Feature("a")])
    started = time.monotonic()
    delivery.shutdown(timeout=0.2)
    assert time.monotonic() - started < 3
    sink.release.set()


def test_a_forked_child_writes_through_its_own_worker(tmp_path: Path) -> None:
    store = tmp_path / "fork.jsonl"
    lineage_sdk.configure(f"json:{store}", async_delivery=True)

    @log_lineage(name="in_parent")
    def parent_job() -> None:
        pass

    @log_lineage(name="in_child")
    def child_job() -> None:
        pass

    parent_job()  # the parent's worker thread exists before the fork
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            child_job()
            lineage_sdk.flush(timeout=10)
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    lineage_sdk.flush(timeout=10)
    names = sorted(r.transformation for r in read_json_lines(store) if isinstance(r, Run))
    assert names == ["in_child", "in_parent"]


def test_async_records_are_flushed_at_interpreter_exit(tmp_path: Path) -> None:
    store = tmp_path / "exit.db"
    env = child_env(LINEAGE_SINK=f"sqlite:{store}", LINEAGE_ASYNC="1")
    subprocess.run(
        [sys.executable, "-m", "tests.writer", "500"], env=env, cwd=ROOT, check=True, timeout=120
    )
    assert len(lineage_sdk.load_graph(f"sqlite:{store}").runs()) == 500
