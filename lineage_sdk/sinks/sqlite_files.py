"""Which files are lineage stores, and opening them without ever changing them.

A writer refuses a file that is not a lineage store (another application's database, a text
file behind a symlink); a reader opens stores read-only (``mode=ro``, or ``immutable`` where the
``-shm`` file cannot be created) and never creates tables, migrates or switches the journal mode.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from .base import NotALineageStoreError, check_file_path
from .sqlschema import STORE_VERSION, StoreVersionError  # one definition for both SQL stores

__all__ = [
    "BUSY_TIMEOUT_MS",
    "STORE_VERSION",
    "StoreVersionError",
    "check_sqlite_file",
    "foreign_reason",
    "is_sqlite_store",
    "not_a_store_error",
    "open_read_only",
    "open_reader",
]

BUSY_TIMEOUT_MS = 30_000


_HEADER = b"SQLite format 3\x00"
#: Tables every lineage store has; a database without them is someone else's.
_OUR_TABLES = frozenset({"nodes", "transformations", "runs"})


def foreign_reason(conn: sqlite3.Connection) -> str | None:
    """Why the open database is not a lineage store (None when it is one, or is empty)."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    names = {
        row[0]
        for row in conn.execute("SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
    }
    if version == 0 and not names:
        return None  # a new, empty database: ours to create
    if not names >= _OUR_TABLES:
        if version:
            return f"its user_version is {version} and it lacks the lineage tables"
        return f"it holds other tables ({', '.join(sorted(names)[:5])})"
    return None


def not_a_store_error(path: Path, reason: str) -> NotALineageStoreError:
    """The one message for a file that is not a lineage store."""
    return NotALineageStoreError(
        f"{path} is not a lineage store ({reason}); lineage-sdk neither reads nor changes it. "
        "Give the path of a lineage store, or a new file"
    )


def check_sqlite_file(path: Path) -> None:
    """Raise NotALineageStoreError unless ``path`` is absent, empty, or a lineage store.

    Opened read-only: the check itself never changes the file.
    """
    try:
        with path.open("rb") as handle:
            header = handle.read(len(_HEADER))
    except OSError:
        return  # absent or unreachable: creating or writing it fails later, and is counted
    if not header:
        return
    if header != _HEADER:
        raise not_a_store_error(path, "it is not an SQLite database")
    try:
        conn = open_read_only(path)
        try:
            reason = foreign_reason(conn)
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise not_a_store_error(path, f"SQLite cannot read it: {exc}") from exc
    if reason is not None:
        raise not_a_store_error(path, reason)


def is_sqlite_store(path: Path) -> bool:
    """Whether ``path`` is a lineage store (or empty); never changes the file."""
    try:
        check_sqlite_file(path)
    except NotALineageStoreError:
        return False
    return True


def open_read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection that never creates, migrates or switches the journal mode.

    ``mode=ro`` still needs the ``-shm`` file of a WAL store, which it must create when it is
    missing; where that is impossible (a folder of another account, a read-only mount) the file
    is opened ``immutable`` (what a writer has not checkpointed yet is then not seen).
    """
    from urllib.parse import quote

    resolved = path.resolve()
    base = "file:" + quote(str(resolved), safe="/")
    try:
        return _connect_uri(base + "?mode=ro")
    except sqlite3.OperationalError as exc:
        text = str(exc).lower()
        if "unable to open" not in text and "readonly" not in text and "read-only" not in text:
            raise
    return _connect_uri(base + "?immutable=1")


def _connect_uri(uri: str) -> sqlite3.Connection:
    conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA query_only = 1")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except BaseException:
        conn.close()
        raise
    return conn


def open_reader(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """A read-only connection to an existing lineage store, or one clear error.

    FileNotFoundError when there is no file; NotALineageStoreError (a ConfigError) for a FIFO,
    a directory, a truncated or random file, another application's database or an empty one;
    StoreVersionError for a store of a newer release. Nothing is ever written.
    """
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        raise FileNotFoundError(f"no lineage store at {path}")
    check_file_path(path, "sqlite", lambda p: True, variable="store")  # follows links to read
    check_sqlite_file(path)
    if path.stat().st_size == 0:
        raise not_a_store_error(path, "it is empty: nothing was recorded there")
    try:
        conn = open_read_only(path)
    except sqlite3.DatabaseError as exc:
        raise not_a_store_error(path, f"SQLite cannot open it: {exc}") from exc
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > STORE_VERSION:
            raise StoreVersionError(
                f"{path} has store version {version}; this lineage-sdk reads up to "
                f"{STORE_VERSION}: upgrade lineage-sdk"
            )
        if foreign_reason(conn) is not None or version == 0:
            raise not_a_store_error(path, foreign_reason(conn) or "it has no lineage tables")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise not_a_store_error(path, f"SQLite cannot read it: {exc}") from exc
    except BaseException:
        conn.close()
        raise
    return conn
