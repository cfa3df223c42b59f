"""``running`` runs as readers show them: ``abandoned`` once their process is gone.

A run is written as ``running`` while a long call goes on, with a heartbeat in ``ended_at``; its
end record replaces it. If the end never comes (SIGKILL, the OOM killer, preemption, a daemon
thread at exit), the reader tells: on the same host a process id that is no longer alive, or
anywhere a heartbeat older than :data:`~lineage_sdk.records.RUNNING_STALE_S`.
"""

from __future__ import annotations

import datetime as _dt
import os
import socket
from collections.abc import Iterable, Iterator

import attrs

from ..records import RUNNING_STALE_S, Record, Run

__all__ = ["as_seen", "latest_per_run", "process_alive"]

_host: list[str] = []


def _hostname() -> str:
    if not _host:
        _host.append(socket.gethostname())
    return _host[0]


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # it exists (another user's), or we cannot tell: not abandoned by us
    return True


def as_seen(run: Run, now: _dt.datetime | None = None) -> Run:
    """``run``, or a copy marked ``abandoned`` when it is running but its process is gone."""
    if run.status != "running":
        return run
    now = now or _dt.datetime.now(_dt.timezone.utc)
    gone = run.host == _hostname() and run.pid is not None and not process_alive(run.pid)
    stale = (now - run.ended_at).total_seconds() > RUNNING_STALE_S
    return attrs.evolve(run, status="abandoned") if gone or stale else run


def _rank(run: Run) -> tuple[int, _dt.datetime]:
    # An end record beats any running one; among running ones, the latest heartbeat.
    return (0 if run.status == "running" else 1, run.ended_at)


def latest_per_run(records: Iterable[Record]) -> Iterator[Record]:
    """``records`` with one run per run id (its end record, else its latest heartbeat).

    Stores that append (JSON lines) hold a long run's ``running`` record and its end record.
    """
    runs: dict[str, Run] = {}
    for record in records:
        if isinstance(record, Run):
            kept = runs.get(record.run_id)
            if kept is None or _rank(record) >= _rank(kept):
                runs[record.run_id] = record
        else:
            yield record
    yield from runs.values()
