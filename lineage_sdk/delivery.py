"""Getting records to sinks: synchronously, or batched on one background thread.

This is the layer that keeps the user's pipeline safe. A sink that raises is logged once per sink
and kind of failure (logger ``lineage_sdk``) and counted afterwards (policy ``warn``), only counted
(``ignore``), or turned into :class:`~lineage_sdk.errors.LineageSinkError` (``raise``, strict
mode). One failing sink never stops the others.

Batched delivery (``LINEAGE_ASYNC=1``) uses a bounded queue: when it is full a run waits briefly,
then is dropped and counted, so memory stays bounded and the host never blocks for long. The
worker flushes at least every ``flush_interval_s``, on :meth:`Delivery.flush`, at interpreter
exit and on SIGTERM (where the SDK may own that handler), and is re-created lazily in a forked
child. A sink that raises :class:`~lineage_sdk.sinks.base.SinkUnavailableError` (a server down)
wrote nothing: the worker holds its batches, up to ``queue_size`` runs per sink (beyond that they
are dropped and counted), and offers them again, in order, once the sink's retry delay has passed.

A declaration (node, transformation) counts as delivered once a sink stored it, per sink
(:attr:`Delivery.confirmed`): until every sink has it, it travels with the next runs again.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import itertools
import logging
import os
import sys
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from ._sigterm import SIGNAL_FLUSH_S, flush_on_sigterm, forget_sigterm_handler
from .config import OnError
from .errors import LineageSinkError
from .pending import RUN_TYPES, PendingRun, built
from .records import Record
from .sinks.base import Sink, SinkUnavailableError

__all__ = ["Delivery", "SinkStats", "lost_after_close"]

_log = logging.getLogger("lineage_sdk")
_PUT_WAIT_S = 0.05
_MAX_BATCH_RECORDS = 2048
_EXIT_FLUSH_S = 10.0


class SinkStats:
    """Counters of one sink: records stored, records lost to failures, failures by kind.

    ``batches`` counts records stored in batches (under the delivery's stats lock); ``one_run``
    is bumped, without a lock, for each run stored alone: ``next()`` on an ``itertools.count``
    is one atomic C call, a lock would cost the lean path twice as much as everything else.
    """

    __slots__ = ("_runs", "batches", "errors", "failed", "one_run")

    def __init__(self) -> None:
        self.batches = 0
        self.failed = 0
        self.errors: dict[str, int] = {}
        self._runs = itertools.count()
        self.one_run = self._runs.__next__

    @property
    def emitted(self) -> int:
        """Records stored so far."""
        # The repr of a count is "count(N)", N the next value: the number of bumps. (Reading it
        # another way, copy() or __reduce__, is deprecated for itertools objects.)
        return self.batches + int(repr(self._runs)[6:-1])


class _Held:
    """Batches a sink could not take yet (it raised SinkUnavailableError), oldest first."""

    __slots__ = ("batches", "retry_at", "runs")

    def __init__(self) -> None:
        self.batches: collections.deque[tuple[list[Item], int]] = collections.deque()
        self.runs = 0
        self.retry_at = 0.0


#: What a batch holds: declarations, runs, and runs the decorator captured but did not build.
Item = Record | PendingRun


def _runs_in(records: Sequence[Item]) -> int:
    return max(1, sum(1 for r in records if isinstance(r, RUN_TYPES)))


class _Flush:
    """A marker put in the queue; set once everything queued before it was written."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


_STOP = object()
_live: weakref.WeakSet[Delivery] = weakref.WeakSet()


class Delivery:
    """Delivers batches of records to ``sinks`` under a failure policy, sync or batched."""

    #: (buffer, its room, how full it wakes the worker, the wake-up) while batched delivery may
    #: take a lone run by appending it (the decorator's end() does), else None.
    lean_queue: tuple[collections.deque[Any], int, int, Callable[[], None]] | None

    def __init__(
        self,
        sinks: Sequence[Sink],
        *,
        on_error: OnError = "warn",
        async_delivery: bool = False,
        queue_size: int = 10_000,
        flush_interval_s: float = 1.0,
    ) -> None:
        self.sinks = tuple(sinks)
        self.on_error = on_error
        self.async_delivery = async_delivery
        self._closed = False
        self._queue_size = queue_size
        self._flush_interval_s = flush_interval_s
        self._stats = {sink.name: SinkStats() for sink in self.sinks}
        # Per sink: its counters, and whether it takes pending runs as they are (the built-in
        # sinks do); the others are given built Runs.
        self._plan = tuple(
            (sink, self._stats[sink.name], bool(getattr(sink, "accepts_pending", False)))
            for sink in self.sinks
        )
        # One sink that takes a pending run alone (emit_run): the common configuration, and
        # the leanest path of all (lean_one).
        self._one = None
        if len(self._plan) == 1 and self._plan[0][2]:
            emit_run = _run_emitter(self._plan[0][0])
            if emit_run is not None:
                self._one = (emit_run, self._plan[0][1].one_run)
        #: (kind, id) -> the declaration (node, transformation) every sink has stored.
        self.confirmed: dict[tuple[str, str], Record] = {}
        self._stored_by: dict[str, dict[tuple[str, str], Record]] = {
            sink.name: {} for sink in self.sinks
        }
        self._warned: set[tuple[str, str]] = set()
        self._dropped = 0
        self._pending_errors: list[tuple[str, BaseException]] = []
        self._stats_lock = threading.Lock()
        self._process_checked = False
        self._reset_worker()
        _live.add(self)
        if async_delivery:
            # now, in case the first run comes from another thread
            flush_on_sigterm(_shutdown_queued)

    # --- sync path ---------------------------------------------------------------------------
    def submit_run(self, run: PendingRun) -> bool:
        """:meth:`submit` of one run and nothing else, where the decorator's end() could not
        take either lean path itself: calling :attr:`lean_one`, or appending to
        :attr:`lean_queue` (it does both inline, on the hot path, without a call here).

        Returns False, having done nothing, when this delivery is closed: the caller may then
        give the run to the configuration in force instead.
        """
        if self.lean_queue is None and self._lean_sync:
            failures = self._write((run,))  # several sinks: the general path
            if failures and self.on_error == "raise":
                raise _sink_error(failures)
            return True
        if self._closed:
            return False
        self.submit([run])
        return True

    def lean_one_failed(self, exc: Exception) -> None:
        """Count (and in strict mode raise) the failure of :attr:`lean_one`'s emit of one run."""
        sink, stats, _ = self._plan[0]
        self._record_failure(sink.name, stats, exc, 1)
        if self.on_error == "raise":
            raise _sink_error([(sink.name, exc)]) from None

    def submit(self, records: Sequence[Item]) -> None:
        """Deliver one run's records. In sync mode they are stored when this returns.

        With policy ``raise`` a sink failure raises :class:`LineageSinkError` here (sync) or from
        the next :meth:`flush` (batched).
        """
        if self._closed:
            if self.sinks:
                _count_lost_after_close(records)
            return
        if not self.sinks:
            return
        if self.async_delivery and not self._process_checked:
            self._check_process()
        if not self.async_delivery:
            failures = self._write(records)
            if failures and self.on_error == "raise":
                raise _sink_error(failures)
            return
        self._ensure_worker()
        # The decorator's end() may now append directly, unless a shutdown in another thread
        # closed this delivery meanwhile
        queue = (self._buffer, self._queue_size, self._wake_at, self._wake.set)
        self.lean_queue = None if self._closed else queue
        buffer = self._buffer
        if len(buffer) >= self._queue_size and not self._wait_for_room():
            with self._stats_lock:
                self._dropped += len(records)
                first = self._dropped == len(records)
            if first:
                _log.warning(
                    "lineage queue is full (%d runs): dropping records; the sinks cannot keep up. "
                    "Further drops are counted quietly (lineage_sdk.stats()).",
                    self._queue_size,
                )
            return
        buffer.append(records)  # deque.append is atomic: no lock on the caller's path
        if len(buffer) >= self._wake_at:
            self._wake.set()

    def _check_process(self) -> None:
        # Worker processes of multiprocessing, concurrent.futures and Dask may end without running
        # exit handlers (os._exit, Pool.terminate): a queue there could die with its records.
        self._process_checked = True
        mp = sys.modules.get("multiprocessing")
        if mp is not None and mp.parent_process() is not None:
            self.async_delivery = False
            self._lean_sync = not self._closed
            self.lean_one = self._one if self._lean_sync else None
            _log.info(
                "lineage: LINEAGE_ASYNC=1 is ignored in worker process %d: workers can exit "
                "without running exit handlers, so each run is written when it ends",
                os.getpid(),
            )

    def _wait_for_room(self) -> bool:
        self._wake.set()
        deadline = time.monotonic() + _PUT_WAIT_S
        while len(self._buffer) >= self._queue_size:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.001)
        return True

    def _write(
        self, records: Sequence[Item], hold: bool = False
    ) -> list[tuple[str, BaseException]]:
        """Emit ``records`` to every sink; ``hold`` (the worker) keeps what a sink cannot take."""
        failures: list[tuple[str, BaseException]] = []
        if not records:
            return failures
        # The common batch is one run and nothing else: no declaration bookkeeping for it.
        declarations = (
            [r for r in records if not isinstance(r, RUN_TYPES)]
            if len(records) > 1 or not isinstance(records[0], RUN_TYPES)
            else ()
        )
        for sink, stats, takes_pending in self._plan:
            batch: Sequence[Item] = self._unstored(sink.name, records) if declarations else records
            if not takes_pending:
                batch = built(batch)  # each pending run builds its Run once, for every sink
            if hold and sink.name in self._held:  # older batches wait: keep the order
                self._hold(sink.name, list(batch))
                continue
            try:
                # Pending runs reach only the sinks that take them (built() above).
                sink.emit(batch)  # type: ignore[arg-type]
            except SinkUnavailableError as exc:
                if not hold:
                    failures.append((sink.name, exc))
                    self._record_failure(sink.name, stats, exc, len(batch))
                    continue
                self._record_failure(sink.name, stats, exc, 0)
                held = self._hold(sink.name, list(batch))
                held.retry_at = time.monotonic() + exc.retry_in_s
            except Exception as exc:
                failures.append((sink.name, exc))
                self._record_failure(sink.name, stats, exc, len(batch))
            else:
                with self._stats_lock:
                    stats.batches += len(batch)
                if declarations:
                    self._mark_stored(sink.name, declarations)
        return failures

    def _hold(self, name: str, records: list[Item]) -> _Held:
        held = self._held.setdefault(name, _Held())
        runs = _runs_in(records)
        if held.runs + runs > self._queue_size:  # bounded like the queue: drop and count
            with self._stats_lock:
                self._dropped += runs
                self._stats[name].failed += len(records)
            return held
        held.batches.append((records, runs))
        held.runs += runs
        return held

    def _retry_held(self) -> None:
        """Offer held batches again, oldest first, to each sink whose retry delay has passed."""
        for name, held in list(self._held.items()):
            sink = next(s for s in self.sinks if s.name == name)
            stats = self._stats[name]
            while held.batches and time.monotonic() >= held.retry_at:
                records, runs = held.batches[0]
                try:
                    sink.emit(records)  # type: ignore[arg-type]  # built for it, as in _write
                except SinkUnavailableError as exc:
                    self._record_failure(name, stats, exc, 0)
                    held.retry_at = time.monotonic() + exc.retry_in_s
                    break
                except Exception as exc:
                    self._record_failure(name, stats, exc, len(records))
                else:
                    with self._stats_lock:
                        stats.batches += len(records)
                    self._mark_stored(name, [r for r in records if not isinstance(r, RUN_TYPES)])
                held.batches.popleft()
                held.runs -= runs
            if not held.batches:
                del self._held[name]

    def _unstored(self, sink: str, records: Sequence[Item]) -> list[Item]:
        """``records`` without the declarations ``sink`` has stored already (or repeats)."""
        stored = self._stored_by[sink]
        seen: set[int] = set()
        out: list[Item] = []
        for record in records:
            if not isinstance(record, RUN_TYPES):
                if stored.get(_key(record)) is record or id(record) in seen:
                    continue
                seen.add(id(record))
            out.append(record)
        return out

    def _mark_stored(self, sink: str, declarations: Sequence[Any]) -> None:
        # A declaration counts as delivered only once every sink has stored it; until then the
        # decorator keeps sending it with each run, so a failed first batch is not the last word.
        stored = self._stored_by[sink]
        for record in declarations:
            key = _key(record)
            stored[key] = record
            if all(s.get(key) is record for s in self._stored_by.values()):
                self.confirmed[key] = record

    def _record_failure(self, name: str, stats: SinkStats, exc: Exception, count: int) -> None:
        kind = _kind(exc)
        with self._stats_lock:
            stats.failed += count
            stats.errors[kind] = stats.errors.get(kind, 0) + 1
            first = (name, kind) not in self._warned
            self._warned.add((name, kind))
        if self.on_error == "warn" and first:
            _log.warning(
                "lineage sink %s failed (%s: %s); %d record(s) %s. The pipeline goes on; "
                "further %s failures of this sink are counted quietly (lineage_sdk.stats()).",
                name,
                kind,
                exc,
                count,
                "held for a retry" if count == 0 else "lost",
                kind,
            )

    @property
    def closed(self) -> bool:
        """True once :meth:`shutdown` ran: later records are counted as lost, not written."""
        return self._closed

    # --- batched path ------------------------------------------------------------------------
    def _reset_worker(self) -> None:
        # A deque the callers append to and one worker drains. The worker sleeps until the flush
        # interval passes, the buffer is a quarter full, or someone flushes: waking it on every
        # run would make each caller pay for a context switch.
        self._buffer: collections.deque[Any] = collections.deque()
        self._wake = threading.Event()
        self._wake_at = max(1, self._queue_size // 4)
        self._worker: threading.Thread | None = None
        self._worker_lock = threading.Lock()
        self._writing = 0  # runs in the batch the worker is writing now
        self.lean_queue = None  # set once the worker runs
        self._lean_sync = not self.async_delivery and bool(self.sinks) and not self._closed
        #: (emit_run, count) of the one sink while sync delivery may call it directly with a
        #: lone run (the decorator's end() does), else None.
        self.lean_one = self._one if self._lean_sync else None
        self._held: dict[str, _Held] = {}  # sink name -> batches waiting for it (worker only)

    def _ensure_worker(self) -> None:
        if self._worker is None:
            with self._worker_lock:
                if self._worker is None:
                    flush_on_sigterm(_shutdown_queued)
                    self._worker = threading.Thread(
                        target=self._run_worker, name="lineage-sdk-delivery", daemon=True
                    )
                    self._worker.start()

    def _run_worker(self) -> None:
        buffer = self._buffer
        while True:
            self._wake.wait(self._flush_interval_s)
            self._wake.clear()
            if self._held:
                try:
                    self._retry_held()
                except Exception:  # never let the worker die
                    _log.exception("lineage delivery worker failed")
            stop = False
            while buffer and not stop:
                batch: list[Item] = []
                markers: list[_Flush] = []
                while buffer and len(batch) < _MAX_BATCH_RECORDS:
                    item = buffer.popleft()
                    if item is _STOP:
                        stop = True
                        break
                    if isinstance(item, _Flush):
                        markers.append(item)
                        break  # everything before the marker is in this batch
                    if type(item) is list:
                        batch.extend(item)
                    else:  # one pending run (the decorator appends it alone)
                        batch.append(item)
                if batch:
                    self._writing = sum(isinstance(r, RUN_TYPES) for r in batch)
                    try:
                        failures = self._write(batch, hold=True)
                    except Exception:  # never let the worker die: it would strand every flush()
                        _log.exception("lineage delivery worker failed")
                        failures = []
                    self._writing = 0
                    if failures and self.on_error == "raise":
                        with self._stats_lock:
                            self._pending_errors.extend(failures)
                for marker in markers:
                    marker.done.set()
            if stop:
                return

    def flush(self, timeout: float | None = None) -> bool:
        """Write everything submitted so far; return False if ``timeout`` (s) ran out first."""
        done = True
        if self.async_delivery and self._worker is not None and self._worker.is_alive():
            marker = _Flush()
            self._buffer.append(marker)
            self._wake.set()
            done = marker.done.wait(timeout)
        for sink in self.sinks if done else ():  # not done: a sink is busy; don't queue behind it
            try:
                sink.flush()
            except Exception as exc:
                self._record_failure(sink.name, self._stats[sink.name], exc, 0)
        with self._stats_lock:
            errors, self._pending_errors = self._pending_errors, []
        if errors and self.on_error == "raise":
            raise _sink_error(errors)
        return done and not self._held  # held: a sink is down and has not taken them yet

    def shutdown(self, timeout: float = _EXIT_FLUSH_S) -> None:
        """Flush (within ``timeout``), stop the worker and close every sink."""
        if self._closed:
            return
        with contextlib.suppress(LineageSinkError):  # logged and counted; exit must not raise
            self.flush(timeout)
        deadline = time.monotonic() + timeout
        while self._held and time.monotonic() < deadline:  # a server may be back any moment
            self._wake.set()
            time.sleep(0.05)
        self.lean_queue = None
        self._lean_sync = False
        self.lean_one = None
        self._closed = True
        worker = self._worker
        if worker is not None and worker.is_alive():
            self._buffer.append(_STOP)
            self._wake.set()
            worker.join(timeout)
            if worker.is_alive():
                # A sink is stuck mid-write; closing it would wait on that write. The worker is a
                # daemon thread and ends with the interpreter.
                _log.warning(
                    "lineage delivery did not finish within %.1fs: %d run(s) were not written "
                    "(a sink is still busy: %s); not waiting",
                    timeout,
                    self._unwritten_runs(),
                    ", ".join(s.name for s in self.sinks),
                )
                return
        for name, held in list(self._held.items()):
            lost = sum(len(records) for records, _ in held.batches)
            with self._stats_lock:
                self._stats[name].failed += lost
            _log.warning(
                "lineage sink %s was still unavailable at exit: %d held record(s) not written",
                name,
                lost,
            )
        self._held.clear()
        for sink in self.sinks:
            try:
                sink.close()
            except Exception as exc:
                _log.warning("closing lineage sink %s failed: %s", sink.name, exc)

    def _unwritten_runs(self) -> int:
        """Runs queued or in the batch being written: what an exit now would lose."""
        queued = [
            item if type(item) is list else [item]
            for item in list(self._buffer)
            if type(item) is list or isinstance(item, PendingRun)
        ]
        return self._writing + sum(isinstance(r, RUN_TYPES) for item in queued for r in item)

    def stats(self) -> dict[str, Any]:
        """Counts of records emitted, failed and dropped, overall and per sink."""
        with self._stats_lock:
            per_sink = {
                name: {"emitted": s.emitted, "failed": s.failed, "errors": dict(s.errors)}
                for name, s in self._stats.items()
            }
            return {
                "emitted": sum(s.emitted for s in self._stats.values()),
                "failed": sum(s.failed for s in self._stats.values()),
                "dropped": self._dropped,
                "queued": len(self._buffer),
                "held": sum(h.runs for h in list(self._held.values())),
                "sinks": per_sink,
            }

    def _after_fork_in_child(self) -> None:
        # The parent's worker thread does not exist here and its queue belongs to the parent,
        # which will write those records itself.
        self._reset_worker()
        self._stats_lock = threading.Lock()
        self._pending_errors = []
        self._process_checked = False


# Runs of this process lost after their configuration closed: process-wide, never reset.
_lost_runs = 0


def _count_lost_after_close(records: Sequence[Item]) -> None:
    runs = sum(isinstance(r, RUN_TYPES) for r in records)
    if not runs:
        return
    global _lost_runs
    _lost_runs += runs
    if _lost_runs == runs:
        _log.warning(
            "lineage: %d run(s) ended after their configuration was closed (interpreter exit, "
            "or lineage switched off meanwhile) and were not written; further ones are counted "
            "(lineage_sdk.stats()['lost_after_close'])",
            runs,
        )


def lost_after_close() -> int:
    """Runs of this process that ended after their configuration was closed, not written."""
    return _lost_runs


def _run_emitter(sink: Sink) -> Any:
    """``sink.emit_run`` where it stores what ``sink.emit`` would: not where a subclass
    overrides ``emit`` below the class that defines ``emit_run`` (a test double, a wrapper)."""
    cls = type(sink)
    owners = {
        name: next((c for c in cls.__mro__ if name in vars(c)), None)
        for name in ("emit", "emit_run")
    }
    emit_owner, run_owner = owners["emit"], owners["emit_run"]
    if run_owner is None or emit_owner is None or not issubclass(run_owner, emit_owner):
        return None
    replaced = getattr(sink, "__dict__", {})
    if "emit" in replaced or "emit_run" in replaced:
        return None  # an instance attribute stands in for the method
    return sink.emit_run  # type: ignore[attr-defined]


def _kind(exc: BaseException) -> str:
    if isinstance(exc, SinkUnavailableError):
        return exc.kind
    return f"{type(exc).__module__}.{type(exc).__qualname__}"


def _key(record: Item) -> tuple[str, str]:
    return (record.kind, record.id)  # type: ignore[union-attr]


def _sink_error(failures: list[tuple[str, BaseException]]) -> LineageSinkError:
    names = ", ".join(f"{name} ({type(exc).__name__}: {exc})" for name, exc in failures)
    return LineageSinkError(f"lineage sink(s) failed: {names}", tuple(failures))


def _after_fork_in_child() -> None:
    for delivery in list(_live):
        delivery._after_fork_in_child()
    forget_sigterm_handler()


def _at_exit() -> None:
    for delivery in list(_live):
        try:
            delivery.shutdown(_EXIT_FLUSH_S)
        except Exception:  # pragma: no cover - never fail interpreter exit
            _log.exception("lineage delivery shutdown failed")


def _shutdown_queued() -> None:
    """On SIGTERM (from a helper thread): write what the queues of this process hold."""
    for delivery in list(_live):
        if not (delivery.async_delivery and delivery._unwritten_runs()):
            continue
        try:
            delivery.shutdown(SIGNAL_FLUSH_S)
        except Exception:  # pragma: no cover - the process is ending; never block that
            _log.exception("lineage delivery shutdown on SIGTERM failed")


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_at_exit)
