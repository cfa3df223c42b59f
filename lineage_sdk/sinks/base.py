"""The sink protocol and a base class that does the bookkeeping.

A sink only knows how to write (and, for stores, read back). Batching, threads, retries of the
whole pipeline and the failure policy belong to :mod:`lineage_sdk.delivery`; a sink simply raises
when it cannot write, and the delivery layer logs, counts or re-raises as configured.

Writing a sink::

    class PrintSink(BaseSink):
        def _emit(self, records):
            for record in records:
                print(dumps(record))

Expose it to ``LINEAGE_SINK`` with an entry point in group ``lineage_sdk.sinks`` whose value is a
factory taking the text after ``NAME:`` (or ``""``), or name the factory as ``module:attr``.
"""

from __future__ import annotations

import os
import stat
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Protocol, runtime_checkable

from ..errors import ConfigError
from ..records import Record

if TYPE_CHECKING:
    from ..pending import PendingRun

__all__ = [
    "BaseSink",
    "NotALineageStoreError",
    "ReadableSink",
    "Sink",
    "SinkClosedError",
    "SinkUnavailableError",
    "check_file_path",
    "open_regular",
]

# Bumped in every forked child: comparing it is cheaper than os.getpid() on each emit. A plain
# module int (rebound under ``global``): sinks read it through the module at each emit.
_fork_generation = 0
_live_sinks: weakref.WeakSet[BaseSink] = weakref.WeakSet()


def _forked() -> None:
    global _fork_generation
    _fork_generation += 1
    # A thread of the parent may have been inside emit() when another one forked: the child
    # inherits that lock held by a thread that does not exist there, and would wait for ever.
    for sink in list(_live_sinks):
        sink._lock = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked)


_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def _kind_of(mode: int) -> str | None:
    """What a non-regular file is ("a FIFO (named pipe)"...), or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    return next((text for test, text in _KINDS if test(mode)), "not a regular file")


def check_file_path(
    path: Path,
    scheme: str,
    is_store: Callable[[Path], bool] | None = None,
    variable: str = "LINEAGE_SINK",
) -> None:
    """ConfigError, naming ``variable``, where a file store cannot be.

    Refused: an empty path; anything but a regular file or a path still to be created (a
    directory, a FIFO that would block every write once full, a device, a socket); a symbolic
    link, unless it leads to a regular file that ``is_store`` recognises as a lineage store (a
    writer must not append to whatever file a link happens to point at).
    """
    if str(path).strip() in ("", "."):
        raise ConfigError(f"{variable}: the {scheme} path is empty; accepted: {scheme}:PATH")
    shown = f"{variable}={scheme}:{path}"
    try:
        link = os.lstat(path)
    except OSError:
        return  # absent, or not reachable yet (a folder to be mounted): writes fail and count
    try:
        info = os.stat(path)
    except OSError as exc:
        raise ConfigError(
            f"{shown} is a symbolic link to a missing or unreadable file; give the store's own path"
        ) from exc
    kind = _kind_of(info.st_mode)
    if kind is not None:
        raise ConfigError(
            f"{shown} is {kind}; a file is needed (a regular file, or a path to create)"
        )
    if stat.S_ISLNK(link.st_mode) and not (is_store is not None and is_store(path)):
        raise NotALineageStoreError(
            f"{shown} is a symbolic link to {os.path.realpath(path)}, which is not a lineage "
            "store; give the store's own path"
        )


def open_regular(path: Path, flags: int, mode: int, follow: bool) -> int:
    """``os.open`` that refuses anything but a regular file (checked on the open descriptor)."""
    if not follow:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags | getattr(os, "O_NONBLOCK", 0), mode)
    try:
        kind = _kind_of(os.fstat(fd).st_mode)
        if kind is not None:
            raise OSError(f"{path} is {kind}; a lineage store must be a regular file")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


class NotALineageStoreError(ConfigError):
    """The file exists but belongs to something else (another application's database...)."""


class SinkClosedError(RuntimeError):
    """A record was emitted to a sink after :meth:`Sink.close`."""


class SinkUnavailableError(RuntimeError):
    """The sink wrote nothing of this batch and may take it later (a server down or refusing).

    Batched delivery keeps such a batch (within the queue's limit) and offers it again once
    ``retry_in_s`` has passed; synchronous delivery counts it as lost like any failure. ``kind``
    names the failure for logs and :func:`lineage_sdk.stats` (logged once per sink and kind).
    """

    def __init__(self, message: str, *, kind: str, retry_in_s: float) -> None:
        super().__init__(message)
        self.kind = kind
        self.retry_in_s = retry_in_s


@runtime_checkable
class Sink(Protocol):
    """What the delivery layer needs of a sink."""

    @property
    def name(self) -> str:
        """A short, stable name for logs and stats (``json:/path``, ``memory``...)."""
        ...

    def emit(self, records: Sequence[Record]) -> None:
        """Store ``records`` (one batch, in order) or raise."""
        ...

    def flush(self) -> None:
        """Make everything emitted so far durable."""
        ...

    def close(self) -> None:
        """Flush and release resources; later emits raise :class:`SinkClosedError`."""
        ...


@runtime_checkable
class ReadableSink(Sink, Protocol):
    """A sink that is also a store: it can give its records back."""

    def read(self) -> Iterator[Record]:
        """Every stored record, oldest first."""
        ...


class BaseSink:
    """Thread safety, closing and fork awareness for sinks; subclasses implement :meth:`_emit`.

    ``_emit`` runs under a lock, so a subclass sees one batch at a time within a process.
    :meth:`_after_fork` is called (under that lock) the first time a forked child emits, for
    sinks that hold file descriptors or connections that must not be shared with the parent.
    """

    #: Whether :meth:`emit` takes :class:`~lineage_sdk.pending.PendingRun` objects as they are
    #: (building each one's Run only if and when it needs it). False: delivery builds them first.
    accepts_pending: ClassVar[bool] = False

    def __init__(self, name: str) -> None:
        self._name = name
        self._lock = threading.RLock()
        self._closed = False
        self._generation = _fork_generation
        _live_sinks.add(self)

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._name!r})"

    def emit(self, records: Sequence[Record]) -> None:
        if self._closed:
            raise SinkClosedError(f"sink {self._name} is closed")
        with self._lock:
            self._check_fork()
            self._emit(records)

    def emit_run(self, run: PendingRun) -> None:
        """Store one pending run (a sink with :attr:`accepts_pending`); delivery's lean path:
        :meth:`emit`'s checks, then :meth:`_emit_run`."""
        if self._closed:
            raise SinkClosedError(f"sink {self._name} is closed")
        with self._lock:
            self._check_fork()
            self._emit_run(run)

    def flush(self) -> None:
        with self._lock:
            self._check_fork()
            self._flush()

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._close()

    def _check_fork(self) -> None:
        if self._generation != _fork_generation:
            self._generation = _fork_generation
            self._after_fork()

    # --- for subclasses ---------------------------------------------------------------------
    def _emit(self, records: Sequence[Record]) -> None:
        raise NotImplementedError

    def _emit_run(self, run: PendingRun) -> None:
        """One pending run, under the sink's lock: a sink with a cheaper way than :meth:`_emit`
        of a one-run batch overrides this."""
        self._emit((run,))  # type: ignore[arg-type]  # accepts_pending: _emit takes it

    def _flush(self) -> None:
        """Nothing is buffered by default."""

    def _close(self) -> None:
        self._flush()

    def _after_fork(self) -> None:
        """Drop resources inherited from the parent process."""
