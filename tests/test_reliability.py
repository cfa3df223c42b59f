"""The pipeline never hangs and loses nothing silently: fork, sink paths, signals, long runs."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import lineage_sdk
from lineage_sdk import BaseSink, DataSource, Feature, MemorySink, Run, _runtime, log_lineage, serde
from lineage_sdk.config import SinkTarget
from lineage_sdk.errors import ConfigError
from lineage_sdk.records import Record
from lineage_sdk.sinks import build_sink
from lineage_sdk.sinks.base import NotALineageStoreError
from lineage_sdk.testing import capture_records

from . import pool_jobs
from .conftest import child_env
from .helpers import cli

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
        original = sink.emit

        def emit(records: Sequence[Record]) -> None:
            # The sink's lock is taken here, around the write, even where the sink itself would
            # take none (the memory sink appends a lone run without it): the worst case.
            with sink._lock:
                original(records)
                if self.armed and threading.current_thread() is not threading.main_thread():
                    self.armed = False
                    self.inside.set()
                    self.release.wait(30)

        sink.emit = emit  # type: ignore[method-assign]
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


# --- sink paths that are not regular files ----------------------------------------------------
_CALL_TWICE = """
import lineage_sdk
from lineage_sdk import log_lineage

@log_lineage(name="fifo_job")
def job(x):
    return x + 1

print(job(1), job(2), lineage_sdk.stats()["emitted"])
"""


@pytest.mark.parametrize("scheme", ["json", "sqlite"])
def test_a_fifo_as_sink_is_refused_at_configure_and_the_pipeline_runs_on(
    scheme: str, tmp_path: Path
) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    done = subprocess.run(
        [sys.executable, "-c", _CALL_TWICE],
        env=child_env(LINEAGE_SINK=f"{scheme}:{fifo}"),
        capture_output=True,
        text=True,
        timeout=60,  # before the fix the first call blocked for ever (json) or at open (sqlite)
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2", "3", "0"]
    assert "lineage-sdk is disabled" in done.stderr
    assert "is a FIFO (named pipe); a file is needed" in done.stderr


@pytest.mark.parametrize("scheme", ["json", "sqlite"])
def test_configure_names_a_fifo_a_socket_or_a_device(scheme: str, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match=rf"LINEAGE_SINK={scheme}:.*pipe is a FIFO"):
        lineage_sdk.configure(f"{scheme}:{fifo}")
    with pytest.raises(ConfigError, match="is a character device"):
        lineage_sdk.configure(f"{scheme}:/dev/null")


@pytest.mark.parametrize("scheme", ["json", "sqlite"])
def test_a_symlink_to_a_file_that_is_not_a_store_is_refused_and_the_file_untouched(
    scheme: str, tmp_path: Path
) -> None:
    victim = tmp_path / "notes.txt"
    victim.write_text("my notes\n")
    link = tmp_path / f"lineage.{scheme}"
    link.symlink_to(victim)
    with pytest.raises(NotALineageStoreError, match=r"symbolic link .* not a lineage store"):
        lineage_sdk.configure(f"{scheme}:{link}")
    assert victim.read_text() == "my notes\n"


@pytest.mark.parametrize("scheme", ["json", "sqlite"])
def test_a_symlink_to_a_lineage_store_is_written_through(scheme: str, tmp_path: Path) -> None:
    real = tmp_path / f"real.{scheme}"
    lineage_sdk.configure(f"{scheme}:{real}", capture_git=False)

    @log_lineage(name="linked_job")
    def job() -> int:
        return 1

    job()
    link = tmp_path / f"link.{scheme}"
    link.symlink_to(real)
    lineage_sdk.configure(f"{scheme}:{link}", capture_git=False)
    job()
    lineage_sdk.flush()
    runs = [r for r in build_sink(SinkTarget(scheme, str(real))).read() if isinstance(r, Run)]
    assert len(runs) == 2


def test_a_writer_refuses_a_foreign_sqlite_database_and_leaves_it_byte_for_byte(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = tmp_path / "app.db"
    conn = sqlite3.connect(app)
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO users (name) VALUES ('ada')")
    conn.commit()
    conn.close()
    before = app.read_bytes()
    with pytest.raises(NotALineageStoreError, match="not a lineage store"):
        lineage_sdk.configure(f"sqlite:{app}")
    sqlite3.connect(app).execute("PRAGMA user_version = 7").connection.commit()
    foreign_version = app.read_bytes()
    with pytest.raises(NotALineageStoreError, match="user_version is 7"):
        lineage_sdk.configure(f"sqlite:{app}")
    assert app.read_bytes() == foreign_version != before
    assert not Path(f"{app}-wal").exists()
    # A text file is no store either, and a JSON file of other data neither (through a link).
    text = tmp_path / "readme.db"
    text.write_text("hello\n")
    with pytest.raises(NotALineageStoreError, match="not an SQLite database"):
        lineage_sdk.configure(f"sqlite:{text}")


# --- declarations are delivered once stored, per sink ---------------------------------------
@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("scheme", ["json", "sqlite"])
def test_declarations_of_a_failed_first_batch_are_sent_again_once_the_store_works(
    scheme: str, mode: str, tmp_path: Path
) -> None:
    mount = tmp_path / "mnt"
    mount.write_text("")  # the folder is not mounted yet: a file sits where it will be
    store = mount / f"lineage.{scheme}"
    lineage_sdk.configure(
        [f"{scheme}:{store}", "memory"], async_delivery=mode == "async", capture_git=False
    )
    lineage_sdk.register(DataSource("kept_for_reference", type="postgres_table", owner="data"))
    source = DataSource("raw_clicks", type="kafka_topic", owner="ads", schema=["user_id"])
    feature = Feature("clicks_7d", value_type="int", description="clicks in 7 days")

    @log_lineage(inputs=[source], outputs=[feature], name="clicks_job", version="3")
    def job() -> int:
        return 1

    job()
    lineage_sdk.flush(timeout=10)
    assert lineage_sdk.stats()["sinks"][f"{scheme}:{store}"]["failed"] > 0
    mount.unlink()
    mount.mkdir()  # mounted now
    job()
    job()
    lineage_sdk.flush(timeout=10)
    stored = list(build_sink(SinkTarget(scheme, str(store))).read())
    by_id = {getattr(r, "id", None): r for r in stored if not isinstance(r, Run)}
    assert by_id["raw_clicks"] == source
    assert by_id["clicks_7d"] == feature
    assert by_id["kept_for_reference"].owner == "data"
    assert by_id["clicks_job"].version == "3"
    assert sum(isinstance(r, Run) for r in stored) == 2
    # The memory sink stored them the first time and gets each declaration exactly once.
    memory = lineage_sdk.load_graph("memory")
    assert len(memory.runs()) == 3
    mem_records = _runtime.current().memory_sink().records
    assert sum(getattr(r, "id", None) == "raw_clicks" for r in mem_records) == 1


def test_a_later_run_does_not_resend_declarations_every_sink_has(tmp_path: Path) -> None:
    sink = MemorySink()
    lineage_sdk.configure([sink], capture_git=False)

    @log_lineage(inputs=[DataSource("a", type="file")], outputs=[Feature("b")], name="job_once")
    def job() -> int:
        return 1

    for _ in range(5):
        job()
    assert [r.kind for r in sink.records].count("DataSource") == 1
    assert [r.kind for r in sink.records].count("Transformation") == 1


# --- failed runs are never lost to their own exception ---------------------------------------
class _Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text for you")


def test_an_exception_whose_str_raises_still_records_the_failed_run(
    memory_sink: MemorySink,
) -> None:
    @log_lineage(name="unprintable_job")
    def job() -> None:
        raise _Unprintable

    with pytest.raises(_Unprintable):
        job()
    [run] = [r for r in memory_sink.records if isinstance(r, Run)]
    assert run.status == "failed"
    assert run.error_type is not None and run.error_type.endswith("_Unprintable")
    assert run.error_message == "<str() of the exception raised RuntimeError>"


@pytest.mark.parametrize(
    ("setting", "message", "stack"),
    [("full", True, True), ("type", False, False), ("none", False, False)],
)
def test_capture_errors_keeps_message_and_stack_only_when_full(
    setting: str, message: bool, stack: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINEAGE_CAPTURE_ERRORS", setting)
    sink = MemorySink()
    lineage_sdk.configure([sink], capture_git=False)

    @log_lineage(name="password_job")
    def job(password: str) -> int:
        return int(password)

    with pytest.raises(ValueError, match="hunter2"):
        job("hunter2")
    [run] = [r for r in sink.records if isinstance(r, Run)]
    text = serde.dumps(run)
    assert ("hunter2" in text) is message
    assert (run.error_stack is not None) is stack
    assert (run.error_type is not None) is (setting != "none")
    assert run.status == "failed"


def test_capture_errors_is_checked_and_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ConfigError, match="capture_errors"):
        lineage_sdk.configure("memory", capture_errors="some")
    monkeypatch.setenv("LINEAGE_CAPTURE_ERRORS", "verbose")
    with pytest.raises(ConfigError, match=r"LINEAGE_CAPTURE_ERRORS.*full, type or none"):
        lineage_sdk.configure("memory")


# --- runs in flight while the configuration changes ------------------------------------------
def _start_blocked_call(name: str) -> tuple[threading.Thread, threading.Event, threading.Event]:
    entered, release = threading.Event(), threading.Event()

    @log_lineage(name=name)
    def job() -> int:
        entered.set()
        release.wait(10)
        return 1

    thread = threading.Thread(target=job)
    thread.start()
    assert entered.wait(10)
    return thread, entered, release


def test_a_run_in_flight_during_configure_is_stored_by_the_new_configuration() -> None:
    first, second = MemorySink(), MemorySink()
    lineage_sdk.configure([first], capture_git=False)
    thread, _, release = _start_blocked_call("spans_configure")
    lineage_sdk.configure([second], capture_git=False)
    release.set()
    thread.join(10)
    assert [r.transformation for r in second.records if isinstance(r, Run)] == ["spans_configure"]
    assert lineage_sdk.stats()["lost_after_close"] == 0


def test_a_run_in_flight_when_capture_records_ends_is_stored_by_the_restored_one() -> None:
    outer = MemorySink()
    lineage_sdk.configure([outer], capture_git=False)
    with capture_records() as captured:
        thread, _, release = _start_blocked_call("spans_capture")
    release.set()
    thread.join(10)
    assert captured.runs() == []
    assert [r.transformation for r in outer.records if isinstance(r, Run)] == ["spans_capture"]


def test_a_run_ending_after_lineage_was_switched_off_is_counted() -> None:
    lineage_sdk.configure([MemorySink()], capture_git=False)
    before = lineage_sdk.stats()["lost_after_close"]
    thread, _, release = _start_blocked_call("spans_disable")
    lineage_sdk.configure("memory", enabled=False)
    release.set()
    thread.join(10)
    assert lineage_sdk.stats()["lost_after_close"] == before + 1


_STUCK_AT_EXIT = """
import threading, time
import lineage_sdk
from lineage_sdk import BaseSink, log_lineage
from lineage_sdk import delivery

delivery._EXIT_FLUSH_S = 0.3

class StuckSink(BaseSink):
    def _emit(self, records):
        time.sleep(3600)

lineage_sdk.configure([StuckSink("stuck")], async_delivery=True)

@log_lineage(name="stuck_job")
def job():
    return 1

for _ in range(7):
    job()
"""


def test_the_exit_warning_says_how_many_runs_were_not_written() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _STUCK_AT_EXIT],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "7 run(s) were not written" in done.stderr


# --- SIGTERM in async mode -----------------------------------------------------------------
_SIGTERM_CHILD = """
import os, sys, time
import lineage_sdk
from lineage_sdk import log_lineage

lineage_sdk.configure(sys.argv[1], async_delivery=True, flush_interval_s=3600)

@log_lineage(inputs=["raw"], outputs=["clean"], name="term_job")
def job(i):
    return i

for i in range(200):
    job(i)
print("ready", flush=True)
time.sleep(60)
"""

_OWN_HANDLER = """
import shutil
import signal
def mine(signum, frame):
    print("own handler", flush=True)
    raise SystemExit(0)
signal.signal(signal.SIGTERM, mine)
"""


def _terminate_when_ready(script: str, sink: str) -> tuple[int, str, str]:
    """Run ``script`` with ``sink``; SIGTERM it once it prints "ready"; (returncode, out, err).

    A child that does not end within 30 s is killed and fails the test instead of hanging it.
    """
    proc = subprocess.Popen(
        [sys.executable, "-c", script, sink],
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, out, err


@pytest.mark.parametrize("scheme", ["json", "sqlite"])
@pytest.mark.parametrize("own_handler", [False, True])
def test_sigterm_in_async_mode_writes_the_queued_runs(
    scheme: str, own_handler: bool, tmp_path: Path
) -> None:
    store = tmp_path / f"lineage.{scheme}"
    script = (_OWN_HANDLER if own_handler else "") + _SIGTERM_CHILD
    returncode, out, err = _terminate_when_ready(script, f"{scheme}:{store}")
    if own_handler:  # the application's handler stays in charge; its exit flushes
        assert returncode == 0 and "own handler" in out, err
    else:  # still ends the way SIGTERM does
        assert returncode == -signal.SIGTERM, err
    runs = [r for r in build_sink(SinkTarget(scheme, str(store))).read() if isinstance(r, Run)]
    assert len(runs) == 200


_SIGTERM_HOLDING_A_LOCK = """
import sys, time
import lineage_sdk
from lineage_sdk import _runtime, log_lineage

lineage_sdk.configure(sys.argv[1], async_delivery=True, flush_interval_s=3600)

@log_lineage(inputs=["raw"], outputs=["clean"], name="term_job")
def job(i):
    return i

for i in range(50):
    job(i)
delivery = _runtime.current().delivery
with delivery._stats_lock:  # the signal lands while the main thread holds an SDK lock
    print("ready", flush=True)
    time.sleep(60)
"""


def test_sigterm_while_the_main_thread_holds_an_sdk_lock_still_ends_the_process(
    tmp_path: Path,
) -> None:
    # A handler that flushed on the interrupted thread itself would wait on that lock for ever.
    returncode, _, err = _terminate_when_ready(
        _SIGTERM_HOLDING_A_LOCK, f"json:{tmp_path / 'l.jsonl'}"
    )
    assert returncode == -signal.SIGTERM, err


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_worker_processes_leave_sigterm_to_multiprocessing(
    start_method: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pool.terminate() ends workers with SIGTERM; a worker delivers synchronously, so there is no
    # queue to save and no reason to stand between the signal and the end of the process.
    monkeypatch.setenv("LINEAGE_SINK", f"sqlite:{tmp_path / 'w.db'}")
    monkeypatch.setenv("LINEAGE_ASYNC", "1")
    context = multiprocessing.get_context(start_method)
    pool = context.Pool(2)
    try:
        actions = pool.map(pool_jobs.sigterm_action_after_a_run, range(4))
    finally:  # close + join: what is tested is the workers' disposition, not Pool.terminate()
        pool.close()
        pool.join()
    assert actions == ["default"] * 4


_FORK_POOL_AFTER_THE_HANDLER = """
import multiprocessing, signal, sys
import lineage_sdk
from tests import pool_jobs

lineage_sdk.configure(sys.argv[1], async_delivery=True)
pool_jobs.double(1)  # the main process queues: the SDK owns SIGTERM here
lineage_sdk.flush()
print("parent", "handler" if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL else "default")
pool = multiprocessing.get_context("fork").Pool(2)
print("workers", *sorted(set(pool.map(pool_jobs.sigterm_action_after_a_run, range(4)))), flush=True)
pool.close()  # not terminate(): what is tested is the workers' disposition
pool.join()
"""


def test_forked_workers_do_not_inherit_the_sigterm_handler(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _FORK_POOL_AFTER_THE_HANDLER, f"sqlite:{tmp_path / 'f.db'}"],
        env=child_env(),
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["parent handler", "workers default"]


# --- long and killed runs are visible ----------------------------------------------------------
def _wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def _runs_in(store: str) -> list[Run]:
    try:
        graph = lineage_sdk.load_graph(store)
    except (FileNotFoundError, ConfigError):
        return []
    try:
        return graph.runs()
    finally:
        graph.close()


@pytest.mark.parametrize("scheme", ["memory", "json", "sqlite"])
def test_a_long_call_is_recorded_as_running_then_completed(scheme: str, tmp_path: Path) -> None:
    store = "memory" if scheme == "memory" else f"{scheme}:{tmp_path / ('store.' + scheme)}"
    lineage_sdk.configure(store, running_after_s=0.2, capture_git=False)
    seen: list[str] = []

    @log_lineage(inputs=["raw"], outputs=["slow_out"], name="slow_job")
    def slow() -> int:
        assert _wait_for(lambda: bool(_runs_in(store)))  # written while the call still runs
        seen.extend(r.status for r in _runs_in(store))
        return 7

    assert slow() == 7
    assert seen == ["running"]
    [run] = _runs_in(store)
    assert run.status == "completed" and run.outputs == ("slow_out",)
    graph = lineage_sdk.load_graph(store)
    assert "raw" in graph.upstream("slow_out")
    graph.close()


def test_short_calls_never_get_a_running_record(memory_sink: MemorySink) -> None:
    @log_lineage(name="quick_job")
    def quick() -> int:
        return 1

    for _ in range(500):
        quick()
    time.sleep(0.3)  # a scan of the watcher thread passes
    statuses = {r.status for r in memory_sink.records if isinstance(r, Run)}
    assert statuses == {"completed"}


_LONG_JOB = """
import sys, threading, time
import lineage_sdk
from lineage_sdk import log_lineage

@log_lineage(inputs=["raw"], outputs=["out"], name="killed_job")
def long_job():
    time.sleep(600)

if sys.argv[1] == "daemon":
    threading.Thread(target=long_job, daemon=True).start()
    time.sleep(0.1)  # the interpreter exits while the daemon thread's call is running
else:
    long_job()
"""


@pytest.mark.parametrize("scheme", ["json", "sqlite"])
def test_a_killed_process_leaves_its_long_run_shown_as_abandoned(
    scheme: str, tmp_path: Path
) -> None:
    store = f"{scheme}:{tmp_path / ('store.' + scheme)}"
    proc = subprocess.Popen(
        [sys.executable, "-c", _LONG_JOB, "main"],
        env=child_env(LINEAGE_SINK=store, LINEAGE_RUNNING_AFTER="0.2"),
    )
    try:
        assert _wait_for(lambda: bool(_runs_in(store)))
        [running] = _runs_in(store)
        assert running.status == "running" and running.pid == proc.pid
    finally:
        proc.kill()  # SIGKILL: no exit handler runs
        proc.wait()
    [run] = _runs_in(store)
    assert run.status == "abandoned"
    assert run.run_id == running.run_id
    table = cli("runs", "--store", store)
    assert "abandoned" in table.stdout and "killed_job" in table.stdout


def test_a_call_in_a_daemon_thread_at_exit_is_left_as_running_and_shown_abandoned(
    tmp_path: Path,
) -> None:
    store = f"sqlite:{tmp_path / 'store.db'}"
    done = subprocess.run(
        [sys.executable, "-c", _LONG_JOB, "daemon"],
        env=child_env(LINEAGE_SINK=store),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    [run] = _runs_in(store)
    assert run.status == "abandoned" and run.transformation == "killed_job"


def test_a_running_run_from_another_host_is_abandoned_only_without_heartbeat() -> None:
    sink = MemorySink()
    lineage_sdk.configure([sink], capture_git=False)
    now = datetime.now(timezone.utc)

    def run(run_id: str, heard: datetime) -> Run:
        return Run(
            run_id=run_id,
            transformation="remote_job",
            status="running",
            started_at=now - timedelta(hours=2),
            ended_at=heard,
            duration_s=1.0,
            host="another-host.example",
            pid=1,
        )

    sink.emit([run("fresh", now - timedelta(seconds=5)), run("stale", now - timedelta(hours=1))])
    statuses = {r.run_id: r.status for r in lineage_sdk.load_graph(sink).runs()}
    assert statuses == {"fresh": "running", "stale": "abandoned"}


def test_a_memory_sink_holds_each_long_run_once_like_a_store() -> None:
    sink = MemorySink()
    lineage_sdk.configure([sink], running_after_s=0.1, capture_git=False)

    def running_seen() -> bool:
        return any(isinstance(r, Run) and r.status == "running" for r in sink.records)

    @log_lineage(name="slow_in_memory")
    def slow() -> int:
        assert _wait_for(running_seen)
        return 1

    slow()
    slow()
    runs = [r for r in sink.records if isinstance(r, Run)]
    assert [r.status for r in runs] == ["completed", "completed"]
    assert len({r.run_id for r in runs}) == 2
