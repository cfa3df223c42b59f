"""Calls in progress, so that long ones are visible while they run and killed ones leave a trace.

Every decorated call is added to a set when it begins and removed when it ends: two set
operations, no timer, clock read or lock per call. One daemon thread wakes a few times a second,
and for a call running longer than ``LINEAGE_RUNNING_AFTER`` (1 s by default) writes a
``running`` run record (and sends the OpenLineage START at the call's real start); it repeats it
every :data:`~lineage_sdk.records.HEARTBEAT_S` as a heartbeat. The end record completes the run.
A process killed by SIGKILL, the OOM killer or preemption so leaves its long runs as ``running``,
which readers show as ``abandoned`` once the process is gone. At interpreter exit the calls still
running in other threads (daemon threads) get their ``running`` record too.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from typing import Any, Protocol

from .records import HEARTBEAT_S

__all__ = ["Tracked", "calls", "start", "watching"]

#: How often the watcher looks at the calls in progress.
SCAN_INTERVAL_S = 0.2


class Tracked(Protocol):
    """What the watcher needs of a call in progress."""

    started_ns: int
    reported_ns: int  # when its running record was last written; 0 before the first

    def running_after_s(self) -> float:
        """After how long this call counts as long running."""
        ...

    def report_running(self, now_ns: int) -> None:
        """Write the call's running record (never raises)."""
        ...


#: The calls in progress (:class:`Tracked`). The decorator adds and discards its calls itself,
#: inline (a function call per decorated call is measurable); this set is never replaced.
calls: set[Any] = set()
#: Holds the watcher thread once started (empty again in a forked child): see :func:`start`.
watching: list[threading.Thread] = []
_calls = calls
_watcher = watching
_start_lock = threading.Lock()


def start() -> None:
    """Start the watcher thread, unless it runs already."""
    with _start_lock:
        if not _watcher:
            thread = threading.Thread(target=_watch, name="lineage-sdk-running", daemon=True)
            _watcher.append(thread)
            thread.start()


def _watch() -> None:
    while True:
        time.sleep(SCAN_INTERVAL_S)
        scan(time.time_ns())


def scan(now_ns: int, everything: bool = False) -> None:
    """Write running records for the calls that are due (``everything``: all, at exit)."""
    heartbeat_ns = int(HEARTBEAT_S * 1e9)
    for call in list(_calls):  # list(set) is atomic: callers may add and remove meanwhile
        try:
            if getattr(call, "reported_ns", 0):
                due = now_ns - call.reported_ns >= heartbeat_ns
            else:
                due = everything or now_ns - call.started_ns >= call.running_after_s() * 1e9
            if due and call in _calls:
                call.reported_ns = now_ns
                call.report_running(now_ns)
        except Exception:  # noqa: S112 - the watcher must outlive any one call's trouble
            continue


def _at_exit() -> None:
    # Calls still running in other threads now will never end: say they were running, so that
    # readers show them as abandoned rather than not at all. (Runs before the delivery flush:
    # atexit runs handlers last-registered first, and delivery registered its own earlier.)
    scan(time.time_ns(), everything=True)


def _after_fork_in_child() -> None:
    # The parent's calls in other threads do not exist here, nor does the watcher thread.
    global _start_lock
    _calls.clear()
    _watcher.clear()
    _start_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_at_exit)
