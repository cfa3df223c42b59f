"""JSON Lines: one record per line, appended, safe for many processes writing one file.

Each batch is written with a single ``write`` on an ``O_APPEND`` descriptor, so lines from
concurrent writers never interleave: on a local file system the kernel appends each write whole;
elsewhere (NFS, where clients compute the end of file themselves, or a file system not known to
be local) the writer also holds an advisory ``flock`` around it. A writer killed mid-line
(between the writes of a batch a short write split) leaves a torn line. A writer looks at the
file's last byte once, when it opens the file, and starts on a fresh line if it must; a line
another writer tears later gets this writer's next record glued to its end. Readers skip a torn
line with a warning that names its line number, and read the record glued after it: a record
line is a JSON object from ``{"`` to the end of the line, so the first ``{"`` from which the
rest of the line parses as a record is where that record begins.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import ClassVar

from ..filesystems import atomic_appends
from ..pending import RUN_TYPES, PendingRun
from ..records import Declaration, Record, Run
from ..serde import RunLines, UnsupportedRecord, dumps, loads
from .base import BaseSink, NotALineageStoreError, check_file_path, open_regular
from .declarations import take_declarations

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: appends are still atomic per write
    fcntl = None  # type: ignore[assignment]

__all__ = ["JsonFileSink", "check_json_store", "is_json_store", "read_json_lines"]

_log = logging.getLogger("lineage_sdk")
# rw for owner and group, never for others; the umask can only take more away.
_FILE_MODE = 0o664


def _line(lines: RunLines, record: Record | PendingRun) -> str:
    if isinstance(record, PendingRun):
        return lines.pending_line(record)
    return lines.line(record) if type(record) is Run else dumps(record)


class JsonFileSink(BaseSink):
    """Appends records to a JSON Lines file (created with its folders on first write).

    ``fsync=True`` also forces each batch to disk, surviving power loss, at a cost of
    milliseconds per batch; without it a batch survives the death of the process.
    """

    accepts_pending: ClassVar[bool] = True  # a run line is rendered without building the Run

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = False) -> None:
        self.path = Path(path)
        check_file_path(self.path, "json", is_json_store)
        # A link accepted above (to a store) may be followed; any other path must not become one.
        self._follow = self.path.is_symlink()
        super().__init__(f"json:{self.path}")
        self._fsync = fsync
        self._fd: int | None = None
        self._check_tail = True  # whether the file may end mid-line (until the first write)
        self._lock_appends = True  # flock around each write: unless on a local file system
        self._lines = RunLines()  # a run's shared fields rendered once, not per line
        # The file's declarations, merged, read on this sink's first declaration: to log what a
        # re-declaration changes (runs never pay for it).
        self._declared: dict[str, Declaration] | None = None

    def _open(self) -> int:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            flags = os.O_RDWR | os.O_APPEND | os.O_CREAT
            self._fd = open_regular(self.path, flags, _FILE_MODE, self._follow)
            self._check_tail = True
            self._lock_appends = fcntl is not None and not atomic_appends(self.path)
        return self._fd

    def _emit_run(self, run: PendingRun) -> None:
        # One write once the file is open and its tail checked, with no flock or fsync to do
        # (otherwise the general path does them).
        fd = self._fd
        if fd is None or self._check_tail or self._lock_appends or self._fsync:
            self._emit((run,))  # type: ignore[arg-type]  # accepts_pending
            return
        data = (self._lines.pending_line(run) + "\n").encode("utf-8")
        written = os.write(fd, data)
        if written < len(data):
            _write_rest(fd, data, written)

    def _emit(self, records: Sequence[Record]) -> None:
        if not records:
            return
        lines = self._lines
        if len(records) == 1 and isinstance(records[0], PendingRun):  # the common batch
            data = (lines.pending_line(records[0]) + "\n").encode("utf-8")
            self._append(self._fd if self._fd is not None else self._open(), data)
            return
        data = "".join([_line(lines, r) + "\n" for r in records]).encode("utf-8")
        fd = self._open()
        if not all(isinstance(r, RUN_TYPES) for r in records):
            if self._declared is None:  # opened: the file exists (perhaps empty)
                declared: dict[str, Declaration] = {}
                take_declarations(declared, _stored_declarations(self.path), log=False)
                self._declared = declared
            take_declarations(self._declared, records)
        self._append(fd, data)

    def _append(self, fd: int, data: bytes) -> None:
        # Threads of this process are kept apart by the sink's own lock (emit holds it).
        lock = fcntl is not None and (self._lock_appends or self._check_tail)
        if lock:
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            if self._check_tail:
                # A killed writer may have left a torn line: do not glue the first one onto it.
                # Later, no check per write (two system calls more on every run's path): a
                # line torn meanwhile gets ours glued on, and readers recover it (see above).
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    data = b"\n" + data
                self._check_tail = False
            written = os.write(fd, data)
            if written < len(data):
                _write_rest(fd, data, written)
            if self._fsync:
                os.fsync(fd)
        finally:
            if lock:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def _flush(self) -> None:
        if self._fd is not None and self._fsync:
            os.fsync(self._fd)

    def _close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _after_fork(self) -> None:
        # flock belongs to the open file description, which a forked child shares with its
        # parent: the child needs its own, or the two would not exclude each other.
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def read(self) -> Iterator[Record]:
        """Every readable record in the file, oldest first; bad lines are skipped with a warning."""
        return read_json_lines(self.path)


def _write_rest(fd: int, data: bytes, written: int) -> None:
    """After a short write (a signal, a full disk): write the rest of ``data``."""
    view = memoryview(data)[written:]
    while view:
        view = view[os.write(fd, view) :]


# How a declaration's line starts (serde writes ``record_type`` last): runs are not parsed.
_DECLARATION_TAGS = (
    b'"record_type":"data_source"',
    b'"record_type":"feature"',
    b'"record_type":"transformation"',
)


def _stored_declarations(path: Path) -> Iterator[Record]:
    """The declarations a store holds, in order (lines of runs are skipped unparsed)."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return
    with handle:
        for raw in handle:
            if any(tag in raw for tag in _DECLARATION_TAGS):
                try:
                    yield loads(raw.decode("utf-8"))
                except (ValueError, UnicodeDecodeError, RecursionError):
                    glued = _glued_record(raw)
                    if glued is not None:
                        yield glued


def is_json_store(path: Path) -> bool:
    """Whether ``path`` is empty or starts with a lineage record (a JSON object with a type)."""
    try:
        with path.open("rb") as handle:
            first = handle.readline(1 << 20)
    except OSError:
        return False
    if not first.strip():
        return True
    try:
        data = json.loads(first)
    except (ValueError, RecursionError):
        return False
    return isinstance(data, dict) and isinstance(data.get("record_type"), str)


def check_json_store(path: Path) -> None:
    """For readers: FileNotFoundError, or NotALineageStoreError unless ``path`` is a store."""
    if not path.exists() and not path.is_symlink():
        raise FileNotFoundError(f"no lineage store at {path}")
    check_file_path(path, "json", lambda p: True, variable="store")  # follows links to read
    if not is_json_store(path):
        raise NotALineageStoreError(
            f"{path} is not a lineage store (its first line is no lineage record); "
            "lineage-sdk neither reads nor changes it"
        )


def read_json_lines(
    path: str | os.PathLike[str], on_skip: Callable[[], None] | None = None
) -> Iterator[Record]:
    """Yield the records of a JSON Lines store, skipping (and logging) torn or corrupt lines.

    ``on_skip`` is called once per skipped line (``lineage copy`` counts them).
    """
    path = Path(path)
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return
    with handle:
        for lineno, raw in enumerate(handle, 1):
            if not raw.strip():
                continue
            try:
                yield loads(raw.decode("utf-8"))
            except (ValueError, UnicodeDecodeError, RecursionError) as exc:
                # RecursionError: a pathologically nested line ([[[[...) is one bad line too.
                kind = "unsupported" if isinstance(exc, UnsupportedRecord) else "torn or corrupt"
                glued = None if isinstance(exc, UnsupportedRecord) else _glued_record(raw)
                _log.warning(
                    "%s:%d: skipped a %s line%s: %s",
                    path,
                    lineno,
                    kind,
                    " (and read the record written after it on the same line)" if glued else "",
                    exc,
                )
                if on_skip is not None:
                    on_skip()
                if glued is not None:
                    yield glued


def _glued_record(raw: bytes) -> Record | None:
    """The record a writer appended to a torn line (see the module's docstring), or None.

    Records begin with their id (``{"run_id":`` or ``{"id":``); a few such places are tried,
    leftmost first, so that a hostile line cannot make this quadratic.
    """
    starts = sorted(i for tag in _RECORD_STARTS for i in _find_all(raw, tag) if i > 0)[
        :_GLUED_ATTEMPTS
    ]
    for start in starts:
        try:
            return loads(raw[start:].decode("utf-8"))
        except (ValueError, UnicodeDecodeError, RecursionError):
            continue
    return None


_RECORD_STARTS = (b'{"run_id":', b'{"id":')
_GLUED_ATTEMPTS = 8


def _find_all(raw: bytes, tag: bytes) -> list[int]:
    found: list[int] = []
    at = raw.find(tag)
    while at != -1 and len(found) < _GLUED_ATTEMPTS + 1:
        found.append(at)
        at = raw.find(tag, at + 1)
    return found
