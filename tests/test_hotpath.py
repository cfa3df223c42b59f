"""The hot path's cheap parts: run ids, the prepared binding of callable inputs/outputs, and
pending runs (captured per call, built into Runs where they are read)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import threading
import uuid
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lineage_sdk
from lineage_sdk import DataSource, Feature, MemorySink, Run, log_lineage
from lineage_sdk._ids import new_run_id, render_run_id
from lineage_sdk._io_binding import Binder
from lineage_sdk.errors import LineageSinkError
from lineage_sdk.pending import PendingRun, utc_datetime, utc_isoformat
from lineage_sdk.records import Record, Transformation
from lineage_sdk.serde import RunLines, dumps, loads


def test_run_ids_are_uuid7_and_ordered_by_millisecond() -> None:
    ids = [new_run_id() for _ in range(2000)]
    parsed = [uuid.UUID(i) for i in ids]
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in parsed)
    assert all(str(u) == i for u, i in zip(parsed, ids))
    stamps = [u.int >> 80 for u in parsed]
    assert stamps == sorted(stamps)


def test_run_ids_are_unique_across_threads() -> None:
    per_thread: list[list[str]] = [[] for _ in range(8)]

    def make(out: list[str]) -> None:
        out.extend(new_run_id() for _ in range(5000))

    threads = [threading.Thread(target=make, args=(out,)) for out in per_thread]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for out in per_thread for i in out]
    assert len(set(every)) == len(every) == 40_000


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")
def test_run_ids_are_unique_across_forked_children() -> None:
    # Children forked from the same parent start from the same counter value: only their
    # per-process random part, drawn again after fork, keeps their ids apart.
    new_run_id()
    children: list[tuple[int, int]] = []
    for _ in range(4):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: write ids, leave at once without running the parent's cleanup
            try:
                os.close(read_end)
                data = "\n".join(new_run_id() for _ in range(2000)).encode()
                with os.fdopen(write_end, "wb") as out:
                    out.write(data)
            finally:
                os._exit(0)
        os.close(write_end)
        children.append((pid, read_end))
    every = [new_run_id() for _ in range(2000)]
    for pid, read_end in children:
        with os.fdopen(read_end, "rb") as source:
            every.extend(source.read().decode().split("\n"))
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    assert len(every) == 10_000
    assert len(set(every)) == len(every)
    assert len({i[14:28] for i in every}) == 5  # one random part per process


def _reference(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    import inspect

    bound = inspect.signature(func).bind(*args, **kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


def plain(day: str, region: str = "eu", limit: int = 10) -> None:
    """Positional-or-keyword parameters only: the prepared fast path."""


def mixed(day: str, /, *rest: int, region: str = "eu", **extra: int) -> None:
    """Every other kind of parameter: bound through Signature.bind."""


@given(
    st.lists(st.integers(), max_size=4).map(tuple),
    st.dictionaries(st.sampled_from(["day", "region", "limit", "other"]), st.integers()),
)
def test_prepared_binding_equals_signature_bind_or_raises_the_same(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    for func in (plain, mixed):
        try:
            expected: dict[str, Any] | type[TypeError] = _reference(func, args, kwargs)
        except TypeError:
            expected = TypeError
        if expected is TypeError:
            with pytest.raises(TypeError):
                Binder(func)(args, kwargs)
        else:
            got = Binder(func)(args, kwargs)
            assert got == expected
            assert list(got) == list(expected)  # parameter order kept


# --- pending runs: what the hot path captures, built into Runs later ---------------------------

_node_ids = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)) | st.sampled_from('"%\\\u2028\n{}'),
    min_size=1,
    max_size=12,
).filter(str.strip)


@settings(max_examples=60, deadline=None)
@given(
    inputs=st.lists(_node_ids, max_size=3, unique=True),
    outputs=st.lists(_node_ids, max_size=3, unique=True),
    fail=st.booleans(),
    nested=st.booleans(),
    message=st.text(max_size=30),
)
def test_a_pending_run_builds_the_run_the_validating_constructor_builds_and_its_json_line(
    inputs: list[str], outputs: list[str], fail: bool, nested: bool, message: str
) -> None:
    sink = MemorySink()
    lineage_sdk.configure([sink], capture_git=False)

    @log_lineage(inputs=inputs, outputs=outputs, name="pending_job")
    def job() -> None:
        if fail:
            raise KeyError(message)

    @log_lineage(name="pending_parent")
    def parent() -> None:
        job()

    for _ in range(3):  # the first call also sends declarations; later ones take the lean path
        with contextlib.suppress(KeyError):
            parent() if nested else job()
    pending = [r for r in sink._records if isinstance(r, PendingRun)]
    assert len(pending) == (6 if nested else 3)
    lines = RunLines()
    for item in pending:
        run = item.to_run()
        assert item.to_run() is run  # built once
        validated = Run(**{f.name: getattr(run, f.name) for f in attrs.fields(Run)})
        assert validated == run
        assert run.run_id == item.run_id and run.status == item.status
        assert lines.pending_line(item) == dumps(run)
        assert loads(lines.pending_line(item)) == run
    assert [r for r in sink.records if isinstance(r, Run)] == [p.to_run() for p in pending]


@given(st.integers(min_value=0, max_value=4_102_444_800 * 10**9))
def test_the_pending_time_rule_agrees_with_datetime_isoformat(ns: int) -> None:
    assert utc_isoformat(ns) == utc_datetime(ns).isoformat()
    assert utc_datetime(ns) == dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(
        microseconds=ns // 1000
    )


def test_decorated_runs_have_unique_ids_across_threads_and_every_one_is_counted() -> None:
    sink = MemorySink()
    lineage_sdk.configure([sink], capture_git=False)

    @log_lineage(inputs=["t_in"], outputs=["t_out"], name="threaded_job")
    def job() -> None:
        pass

    job()
    seen: list[tuple[Record, ...]] = []

    def read_meanwhile() -> None:
        for _ in range(20):
            seen.append(sink.records)  # never a pending run, whatever is appended meanwhile

    threads = [threading.Thread(target=lambda: [job() for _ in range(2000)]) for _ in range(6)]
    threads.append(threading.Thread(target=read_meanwhile))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    runs = [r for r in sink.records if isinstance(r, Run)]
    assert len(runs) == 12_001
    assert len({r.run_id for r in runs}) == 12_001
    assert all(isinstance(r, (Run, DataSource, Feature, Transformation)) for s in seen for r in s)
    assert lineage_sdk.stats()["sinks"]["memory"]["emitted"] == len(sink.records)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")
def test_a_run_captured_before_a_fork_keeps_its_id_and_pid_when_the_child_builds_it() -> None:
    sink = MemorySink()
    lineage_sdk.configure([sink], capture_git=False)

    @log_lineage(name="before_fork")
    def job() -> None:
        pass

    job()
    job()
    captured = sink._records[-1]
    assert isinstance(captured, PendingRun)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: build the parent's pending run here, then make one of its own
        try:
            os.close(read_end)
            job()
            mine = sink.records[-1]
            theirs = captured.to_run()
            with os.fdopen(write_end, "w") as out:
                json.dump([theirs.run_id, theirs.pid, mine.run_id, mine.pid], out)  # type: ignore[union-attr]
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as source:
        theirs_id, theirs_pid, child_id, child_pid = json.load(source)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    built_here = captured.to_run()
    assert (theirs_id, theirs_pid) == (built_here.run_id, os.getpid())
    assert child_pid == pid and child_id != theirs_id
    assert child_id[14:28] != theirs_id[14:28]  # the child drew its own random part


def test_a_strict_sink_error_surfaces_from_the_lean_path() -> None:
    class Failing(MemorySink):
        fail = False

        def emit(self, records: Any) -> None:
            if self.fail:
                raise OSError("disk gone")
            super().emit(records)

    sink = Failing()
    lineage_sdk.configure([sink], on_error="raise", capture_git=False)

    @log_lineage(name="strict_lean")
    def job() -> int:
        return 7

    assert job() == 7 and job() == 7  # declarations sent: the next call is a lean one
    sink.fail = True
    with pytest.raises(LineageSinkError, match="disk gone"):
        job()
    assert lineage_sdk.stats()["sinks"]["memory"]["failed"] == 1


@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=2**62),
            st.sampled_from(["7abc-8def-0123", "7fff-bfff-ffff"]),
            st.integers(min_value=0, max_value=2**40),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_a_lazily_rendered_run_id_is_the_uuid7_text_of_its_parts(
    calls: list[tuple[int, str, int]],
) -> None:
    for started_ns, prefix, seq in calls:  # a sequence: the millisecond cache is crossed too
        ms = started_ns // 1_000_000
        expected = f"{ms >> 16 & 0xFFFFFFFF:08x}-{ms & 0xFFFF:04x}-{prefix}{seq & 0xFFFFFFFF:08x}"
        assert render_run_id(started_ns, prefix, seq) == expected
        assert uuid.UUID(expected).version == 7


def test_an_exception_the_sdk_cannot_describe_still_reaches_the_caller_and_its_run_is_failed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from lineage_sdk import _runtime

    monkeypatch.setattr(_runtime, "internal_error_hook", None)  # count it, as in production

    class Meta(type):
        def __getattribute__(cls, name: str) -> Any:
            if name == "__qualname__":
                raise RuntimeError("no name")
            return super().__getattribute__(name)

    class Odd(Exception, metaclass=Meta):
        pass

    sink = MemorySink()
    lineage_sdk.configure([sink], capture_git=False)
    before = lineage_sdk.stats()["internal_errors"]

    @log_lineage(name="odd_failure")
    def job() -> None:
        raise Odd("boom")

    with pytest.raises(Odd, match="boom"):
        job()
    (run,) = [r for r in sink.records if isinstance(r, Run)]
    assert run.status == "failed" and run.error_type is None
    assert lineage_sdk.stats()["internal_errors"] == before + 1


@pytest.mark.parametrize("on_error", ["warn", "raise"])
def test_a_lone_sinks_failing_emit_run_on_the_lean_path_is_counted_or_raised(
    on_error: str,
) -> None:
    class FailingRuns(MemorySink):
        fail = False

        def emit_run(self, run: PendingRun) -> None:  # the lean path calls this one directly
            if self.fail:
                raise OSError("disk gone")
            super().emit_run(run)

    sink = FailingRuns()
    lineage_sdk.configure([sink], on_error=on_error, capture_git=False)

    @log_lineage(name="lean_emit_run")
    def job() -> int:
        return 7

    assert job() == 7 and job() == 7  # declarations sent: the next calls are lean ones
    sink.fail = True
    if on_error == "raise":
        with pytest.raises(LineageSinkError, match="disk gone"):
            job()
    else:
        assert job() == 7
    sink.fail = False
    assert job() == 7
    stats = lineage_sdk.stats()["sinks"]["memory"]
    assert stats["failed"] == 1
    assert stats["emitted"] == len(sink.records) == 1 + 3  # the transformation and three runs


def test_a_json_sinks_lean_lines_are_the_lines_of_their_runs(tmp_path: Any) -> None:
    path = tmp_path / "lean.jsonl"
    lineage_sdk.configure(f"json:{path}", capture_git=False)

    @log_lineage(inputs=["lean_in"], outputs=["lean_out"], name="lean_json_child")
    def child(fail: bool) -> None:
        if fail:
            raise ValueError('bad "row"\n')

    @log_lineage(name="lean_json_parent")
    def parent() -> None:
        child(False)
        with contextlib.suppress(ValueError):
            child(True)

    for _ in range(30):
        parent()
    if hasattr(os, "fork"):  # a forked child writes its lean lines through its own descriptor
        pid = os.fork()
        if pid == 0:
            try:
                parent()
                lineage_sdk.flush()
            finally:
                os._exit(0)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    lineage_sdk.flush()
    raw = path.read_text("utf-8").splitlines()
    runs = [loads(line) for line in raw if '"record_type":"run"' in line]
    expected = 31 * 3 if hasattr(os, "fork") else 30 * 3
    assert len(runs) == expected and len({r.run_id for r in runs}) == expected  # type: ignore[union-attr]
    run_lines = [line for line in raw if '"record_type":"run"' in line]
    assert all(dumps(loads(line)) == line for line in run_lines)  # byte for byte
    by_id = {r.run_id: r for r in runs}  # type: ignore[union-attr]
    children = [r for r in runs if r.transformation == "lean_json_child"]  # type: ignore[union-attr]
    assert all(by_id[r.parent_run_id].transformation == "lean_json_parent" for r in children)  # type: ignore[union-attr]
    failed = [r for r in children if r.status == "failed"]  # type: ignore[union-attr]
    assert len(failed) == len(children) // 2
    assert all(r.error_message == 'bad "row"\n' for r in failed)  # type: ignore[union-attr]


def test_lean_batched_runs_are_stored_or_counted_dropped_then_go_to_a_new_config() -> None:
    first = MemorySink()
    lineage_sdk.configure([first], async_delivery=True, queue_size=8, capture_git=False)

    @log_lineage(name="lean_batched")
    def job(i: int) -> int:
        return i

    assert [job(i) for i in range(3000)] == list(range(3000))  # most calls append directly
    lineage_sdk.flush()
    stats = lineage_sdk.stats()
    stored = [r for r in first.records if isinstance(r, Run)]
    assert len({r.run_id for r in stored}) == len(stored)
    assert len(stored) + stats["dropped"] == 3000
    second = MemorySink("second")
    lineage_sdk.configure([second], async_delivery=True, capture_git=False)
    job(0)  # the closed delivery's queue is not the lean path any more
    lineage_sdk.flush()
    assert len([r for r in first.records if isinstance(r, Run)]) == len(stored)
    assert [r.transformation for r in second.records if isinstance(r, Run)] == ["lean_batched"]
