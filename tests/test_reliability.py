"""The pipeline never hangs and loses nothing silently: fork, odd sink paths, signals, odd ids."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

import lineage_sdk
from lineage_sdk import BaseSink, MemorySink, Run, log_lineage
from lineage_sdk.config import SinkTarget
from lineage_sdk.records import Record
from lineage_sdk.sinks import build_sink

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")


def _wait_child(pid: int, timeout: float) -> int | None:
    """The child's exit status, or None (after killing it) if it did not end within ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


def _fork_and_call(job: Callable[[], int], timeout: float = 5.0) -> int | None:
    pid = os.fork()
    if pid == 0:  # the child: one decorated call and a flush, then leave without cleanup
        code = 1
        try:
            job()
            code = 0 if lineage_sdk.flush(timeout=timeout) else 3
        finally:
            os._exit(code)
    return _wait_child(pid, timeout)


class _Gate:
    """Holds one thread inside a real sink's write (its lock taken) while the test forks."""

    def __init__(self) -> None:
        self.armed = False
        self.inside = threading.Event()
        self.release = threading.Event()

    def wrap(self, sink: BaseSink) -> BaseSink:
        original = sink._emit

        def emit(records: Sequence[Record]) -> None:
            original(records)
            if self.armed and threading.current_thread() is not threading.main_thread():
                self.armed = False
                self.inside.set()
                self.release.wait(30)

        sink._emit = emit  # type: ignore[method-assign]
        return sink


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("scheme", ["memory", "json", "sqlite"])
def test_a_child_forked_while_threads_write_records_and_flushes_without_hanging(
    scheme: str, mode: str, tmp_path: Path
) -> None:
    value = None if scheme == "memory" else str(tmp_path / f"store.{scheme}")
    sink = build_sink(SinkTarget(scheme, value))
    assert isinstance(sink, BaseSink)
    gate = _Gate()
    lineage_sdk.configure([gate.wrap(sink)], async_delivery=mode == "async", capture_git=False)

    @log_lineage(inputs=["fork_in"], outputs=["fork_out"], name="fork_job")
    def job() -> int:
        return 1

    job()  # warm: the first call imports modules, and a fork must not land in an import
    assert lineage_sdk.flush(timeout=10)
    stop = threading.Event()

    def write() -> None:
        while not stop.is_set():
            job()
            if mode == "async":
                lineage_sdk.flush(timeout=10)

    writers = [threading.Thread(target=write, daemon=True) for _ in range(3)]
    for thread in writers:
        thread.start()
    results = []
    try:
        for _ in range(3):
            gate.inside.clear()
            gate.release.clear()
            gate.armed = True
            assert gate.inside.wait(10)  # a writer (or the delivery thread) holds the sink's lock
            results.append(_fork_and_call(job))
            gate.release.set()
    finally:
        stop.set()
        gate.release.set()
        for thread in writers:
            thread.join(10)
    assert results == [0, 0, 0], "None: the forked child hung on a lock held by a parent thread"
