"""The pipeline never hangs and loses nothing silently: fork, odd sink paths, signals, odd ids."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import lineage_sdk
from lineage_sdk import BaseSink, DataSource, Feature, MemorySink, Run, _runtime, log_lineage, serde
from lineage_sdk.cli import main as cli_main
from lineage_sdk.config import SinkTarget
from lineage_sdk.errors import ConfigError
from lineage_sdk.records import Record
from lineage_sdk.sinks import build_sink
from lineage_sdk.sinks.base import NotALineageStoreError
from lineage_sdk.testing import capture_records

from .conftest import JOB_MODULE, Repo, child_env, import_path
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


def _lineage(*args: str) -> tuple[int, str, str]:
    """Run the command line in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err):
        code = cli_main(list(args), out=out)
    return code, out.getvalue(), err.getvalue()


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


@pytest.mark.parametrize("scheme", ["json", "sqlite"])
@pytest.mark.parametrize("own_handler", [False, True])
def test_sigterm_in_async_mode_writes_the_queued_runs(
    scheme: str, own_handler: bool, tmp_path: Path
) -> None:
    store = tmp_path / f"lineage.{scheme}"
    script = (_OWN_HANDLER if own_handler else "") + _SIGTERM_CHILD
    proc = subprocess.Popen(
        [sys.executable, "-c", script, f"{scheme}:{store}"],
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
    if own_handler:  # the application's handler stays in charge; its exit flushes
        assert proc.returncode == 0 and "own handler" in out, err
    else:  # still ends the way SIGTERM does
        assert proc.returncode == -signal.SIGTERM, err
    runs = [r for r in build_sink(SinkTarget(scheme, str(store))).read() if isinstance(r, Run)]
    assert len(runs) == 200


# --- ids and text that UTF-8 or a line splitter would break ------------------------------------
@pytest.mark.parametrize("scheme", ["json", "sqlite"])
def test_ids_from_undecodable_file_names_are_stored_escaped_and_the_run_kept(
    scheme: str, tmp_path: Path
) -> None:
    folder = tmp_path / "landing"
    folder.mkdir()
    with open(os.path.join(os.fsencode(folder), b"clicks-\xff\xfe.csv"), "wb") as handle:
        handle.write(b"x")
    (folder / "views.csv").write_text("y")
    store = tmp_path / f"lineage.{scheme}"
    lineage_sdk.configure(f"{scheme}:{store}", on_error="raise", capture_git=False)

    @log_lineage(inputs=lambda args: sorted(os.listdir(args["folder"])), name="ingest_dir")
    def ingest(folder: Path) -> None:
        raise ValueError(f"cannot parse {sorted(os.listdir(folder))[0]}")

    with pytest.raises(ValueError, match="cannot parse"):
        ingest(folder)
    [run] = [r for r in build_sink(SinkTarget(scheme, str(store))).read() if isinstance(r, Run)]
    assert run.inputs == ("clicks-\\xff\\xfe.csv", "views.csv")
    assert run.status == "failed"
    assert run.error_message == "cannot parse clicks-\udcff\udcfe.csv"  # exact


def test_a_declared_node_with_an_undecodable_id_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match=r"DataSource.id 'a\\udcffb' holds a lone surrogate"):
        DataSource("a\udcffb", type="file")


_SEPARATORS = "a\u2028b\u2029c\x85d"


def test_every_ndjson_output_keeps_one_record_per_line_for_str_splitlines(
    tmp_path: Path,
) -> None:
    store = tmp_path / "lineage.jsonl"
    lineage_sdk.configure(f"json:{store}", capture_git=False)
    node = DataSource(f"src_{_SEPARATORS}", type="file", description=_SEPARATORS)

    @log_lineage(inputs=[node], outputs=[f"out_{_SEPARATORS}"], name=f"job_{_SEPARATORS}")
    def job() -> None:
        raise ValueError(_SEPARATORS)

    with pytest.raises(ValueError):
        job()
    lineage_sdk.flush()
    stored = store.read_text(encoding="utf-8")
    assert len(stored.splitlines()) == len(list(build_sink(SinkTarget("json", str(store))).read()))
    for fmt in ("json", "openlineage"):
        code, out, err = _lineage("export", "--format", fmt, "--store", f"json:{store}")
        assert code == 0, err
        lines = out.splitlines()
        assert all(json.loads(line) for line in lines)
        assert len(lines) == len(out.split("\n")) - 1
    [run] = [r for r in build_sink(SinkTarget("json", str(store))).read() if isinstance(r, Run)]
    assert run.error_message == _SEPARATORS  # exact after the round trip


# --- secrets in git remotes, and dirty trees ------------------------------------------------
@pytest.mark.parametrize(
    ("remote", "shown"),
    [
        (
            "https://bot:pw-SECRET1@gitlab.com/acme/jobs.git?private_token=glpat-SECRET2#x-SECRET3",
            "https://gitlab.com/acme/jobs.git",
        ),
        ("git@github.com:acme/jobs.git?access_token=SECRET4", "github.com:acme/jobs.git"),
        ("ssh://git@host.example/acme/jobs.git?token=SECRET5", "ssh://host.example/acme/jobs.git"),
    ],
)
def test_credentials_in_a_remote_never_reach_a_record_an_export_or_doctor(
    remote: str,
    shown: str,
    make_repo: Callable[..., Repo],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo = make_repo(remote=remote)
    repo.write("jobs/job.py", JOB_MODULE)
    repo.commit("add job")
    repo.git("tag", "v0.1")
    store = tmp_path / "lineage.jsonl"
    lineage_sdk.configure(f"json:{store}")
    assert import_path(repo.root / "jobs/job.py").job(2) == 4
    lineage_sdk.flush()
    [run] = [r for r in build_sink(SinkTarget("json", str(store))).read() if isinstance(r, Run)]
    assert run.git is not None and run.git.remote_url == shown
    outputs = [store.read_text()]
    for args in (
        ["runs", "--json"],
        ["runs"],
        ["show", "job_x"],
        ["show", "job_x", "--json"],
        ["export", "--format", "openlineage"],
        ["export", "--format", "json"],
        ["doctor"],
        ["doctor", "--json"],
    ):
        monkeypatch.chdir(repo.root)  # doctor reports the repository it is run in
        code, out, err = _lineage(*args, "--store", f"json:{store}")
        assert code in (0, 1), err
        outputs.append(out + err)
    assert any(shown in text for text in outputs)
    for text in outputs:
        assert "SECRET" not in text


def test_a_dirty_tree_is_visible_wherever_its_tag_or_commit_is(
    make_repo: Callable[..., Repo], tmp_path: Path
) -> None:
    repo = make_repo(remote="https://github.com/acme/jobs.git")
    repo.write("jobs/job.py", JOB_MODULE)
    sha = repo.commit("add job")
    repo.git("tag", "v0.1")
    repo.write("jobs/job.py", JOB_MODULE + "\n# work in progress\n")  # not committed
    store = tmp_path / "lineage.jsonl"
    lineage_sdk.configure(f"json:{store}")
    assert import_path(repo.root / "jobs/job.py").job(2) == 4
    lineage_sdk.flush()
    [run] = [r for r in build_sink(SinkTarget("json", str(store))).read() if isinstance(r, Run)]
    assert run.git is not None and run.git.dirty is True
    assert run.code_reference == f"git://github.com/acme/jobs/jobs/job.py#commit={sha}&dirty=true"
    table = _lineage("runs", "--store", f"json:{store}")[1]
    assert "v0.1 (dirty)" in table and f"{sha[:10]}+dirty" in table
    shown = _lineage("show", "job_x", "--store", f"json:{store}")[1]
    assert "dirty=true" in shown and "v0.1 (dirty)" in shown
    events = _lineage("export", "--format", "openlineage", "--store", f"json:{store}")[1]
    location = json.loads(events.splitlines()[-1])["job"]["facets"]["sourceCodeLocation"]
    assert location["version"] == f"{sha}-dirty"
    assert "tag" not in location
    assert location["url"].endswith(f"#commit={sha}&dirty=true")


# --- Trojan Source: bidirectional controls stay visible and inert in human output -------------
_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def test_bidi_controls_are_escaped_in_every_human_output(tmp_path: Path) -> None:
    store = tmp_path / "lineage.jsonl"
    lineage_sdk.configure(f"json:{store}", capture_git=False)
    spoof = "T\u202egnp.exe"
    source = DataSource(spoof, type="file", owner=f"o{_BIDI}", description=f"d{_BIDI}")

    @log_lineage(inputs=[source], outputs=["out\u2066x\u2069"], name="job\u202dz")
    def job() -> None:
        raise ValueError(f"bad {spoof}")

    with pytest.raises(ValueError):
        job()
    lineage_sdk.flush()
    where = ["--store", f"json:{store}"]
    commands = [
        ["runs"],
        ["show", spoof],
        ["show", "job\u202dz"],
        ["upstream", "out\u2066x\u2069"],
        ["downstream", spoof],
        ["show", f"missing{_BIDI}"],
        ["graph", "--format", "dot"],
        ["doctor"],
    ]
    if shutil.which("dot"):
        commands.append(["graph", "--format", "svg"])
    for args in commands:
        _, out, err = _lineage(*args, *where)
        text = out + err
        assert not any(ch in text for ch in _BIDI), (args, text)
        if args[0] in ("runs", "show", "upstream", "downstream"):
            assert "\\u202e" in text or "\\u2066" in text or "\\u202d" in text, (args, text)


# --- readers never modify a store, and never crash on a bad one --------------------------------
_READ_COMMANDS = [
    ["runs"],
    ["runs", "--json"],
    ["show", "raw_clicks"],
    ["upstream", "clicks_7d"],
    ["downstream", "raw_clicks"],
    ["graph", "--format", "dot"],
    ["export", "--format", "json"],
    ["export", "--format", "registry"],
    ["export", "--format", "openlineage"],
]


def _record_one_run(store: str) -> None:
    lineage_sdk.configure(store, capture_git=False)

    @log_lineage(inputs=[DataSource("raw_clicks", type="kafka_topic")], outputs=["clicks_7d"])
    def job() -> int:
        return 1

    job()
    _runtime.reset()  # closes the store: no -wal / -shm left behind


def _foreign_database(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    conn.execute("INSERT INTO invoices (total) VALUES (9.5)")
    conn.commit()
    conn.close()


@pytest.mark.parametrize("command", [*_READ_COMMANDS, ["doctor"]], ids=" ".join)
def test_a_foreign_sqlite_database_is_refused_by_every_command_and_left_unchanged(
    command: list[str], tmp_path: Path
) -> None:
    (tmp_path / "data").mkdir()
    app = tmp_path / "data" / "app.db"
    _foreign_database(app)
    before = app.read_bytes()
    code, out, err = _lineage(*command, "--store", f"sqlite:{app}")
    assert code == (1 if command == ["doctor"] else 2)
    assert "not a lineage store" in out + err
    assert app.read_bytes() == before
    assert sorted(p.name for p in app.parent.iterdir()) == ["app.db"]  # no -wal, no -shm


def test_reading_a_lineage_store_never_changes_it(tmp_path: Path) -> None:
    store = tmp_path / "lineage.db"
    _record_one_run(f"sqlite:{store}")
    before = store.read_bytes()
    for command in _READ_COMMANDS:
        code, _, err = _lineage(*command, "--store", f"sqlite:{store}")
        assert code == 0, (command, err)
    graph = lineage_sdk.load_graph(f"sqlite:{store}")
    assert [r.transformation for r in graph.runs()] != []
    graph.close()
    assert store.read_bytes() == before


def _bad_stores(tmp_path: Path) -> dict[str, str]:
    real = tmp_path / "real.db"
    _record_one_run(f"sqlite:{real}")
    truncated = tmp_path / "truncated.db"
    truncated.write_bytes(real.read_bytes()[:1500])
    noise = tmp_path / "noise.db"
    noise.write_bytes(bytes(range(256)) * 64)
    text = tmp_path / "notes.txt"
    text.write_text("dear diary\n")
    (tmp_path / "link.db").symlink_to(text)
    (tmp_path / "link.jsonl").symlink_to(text)
    (tmp_path / "folder").mkdir()
    (tmp_path / "empty.db").write_bytes(b"")
    return {
        "truncated": f"sqlite:{truncated}",
        "random bytes": f"sqlite:{noise}",
        "symlink to text (sqlite)": f"sqlite:{tmp_path / 'link.db'}",
        "symlink to text (json)": f"json:{tmp_path / 'link.jsonl'}",
        "directory (sqlite)": f"sqlite:{tmp_path / 'folder'}",
        "directory (json)": f"json:{tmp_path / 'folder'}",
        "empty sqlite": f"sqlite:{tmp_path / 'empty.db'}",
        "missing": f"sqlite:{tmp_path / 'missing.db'}",
        "memory in a fresh process": "memory",
    }


@pytest.mark.parametrize("command", _READ_COMMANDS, ids=" ".join)
def test_every_bad_store_gives_one_message_and_exit_2(command: list[str], tmp_path: Path) -> None:
    for what, store in _bad_stores(tmp_path).items():
        _runtime.reset()
        code, out, err = _lineage(*command, "--store", store)
        assert code == 2, (what, out, err)
        assert err.startswith("lineage: ") and err.count("\n") == 1, (what, err)
        assert "Traceback" not in err


def test_a_fifo_as_store_is_refused_by_the_cli_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for scheme in ("json", "sqlite"):
        done = cli("runs", "--store", f"{scheme}:{fifo}")  # a 60 s timeout guards a hang
        assert done.returncode == 2, done.stderr
        assert "FIFO" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "command", [["export", "--format", "json"], ["graph", "--format", "dot"]], ids=" ".join
)
def test_an_output_path_that_cannot_be_written_gives_one_message_and_exit_2(
    command: list[str], tmp_path: Path
) -> None:
    store = tmp_path / "lineage.jsonl"
    _record_one_run(f"json:{store}")
    (tmp_path / "a_folder").mkdir()
    for target in (tmp_path / "no" / "such" / "dir" / "out.txt", tmp_path / "a_folder"):
        code, _, err = _lineage(*command, "--store", f"json:{store}", "-o", str(target))
        assert code == 2, err
        assert err.startswith("lineage: ") and err.count("\n") == 1 and str(target) in err


def test_a_pathologically_nested_json_line_is_skipped_like_any_bad_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = tmp_path / "lineage.jsonl"
    _record_one_run(f"json:{store}")
    with store.open("a") as handle:
        handle.write("[" * 100_000 + "\n")
    _record_one_run(f"json:{store}")
    code, _, err = _lineage("runs", "--store", f"json:{store}")
    assert code == 0, err
    assert len(lineage_sdk.load_graph(f"json:{store}").runs()) == 2
    assert any("skipped a torn or corrupt line" in r.getMessage() for r in caplog.records)


def test_a_store_in_a_folder_the_reader_cannot_write_is_readable(
    request: pytest.FixtureRequest,
) -> None:
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to read as the unprivileged user 'nobody'")
    # Outside pytest's own temp folder, which only its owner may enter.
    top = Path(tempfile.mkdtemp(prefix="lineage-ro-"))
    request.addfinalizer(lambda: shutil.rmtree(top, ignore_errors=True))
    folder = top / "service-output"
    folder.mkdir()
    store = folder / "lineage.db"
    _record_one_run(f"sqlite:{store}")
    for path in (top, folder):
        path.chmod(0o755)  # readable by everyone, writable by its owner (root) only
    store.chmod(0o644)
    before = store.read_bytes()
    done = subprocess.run(
        [
            *("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"),
            *(sys.executable, "-m", "lineage_sdk.cli", "runs", "--store", f"sqlite:{store}"),
        ],
        env=child_env(),
        cwd="/",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if "Permission denied" in done.stderr and "python" in done.stderr.lower():
        pytest.skip(f"the user 'nobody' cannot run this Python: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    assert "completed" in done.stdout
    assert store.read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["lineage.db"]


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
