"""A shared store for a team: the SQL store (:mod:`.sqlschema`, :mod:`.sqlmodel`) in PostgreSQL.

``LINEAGE_SINK=postgresql://USER@HOST:PORT/DB`` (also ``postgres://``, or ``postgresql:`` followed
by libpq ``KEY=VALUE`` pairs, or nothing: then libpq's ``PGHOST``, ``PGSERVICE``... decide).
libpq reads the password from the DSN, ``PGPASSWORD`` or ``~/.pgpass``. ``?schema=NAME`` in the
URL (``schema=NAME`` among the pairs), or ``LINEAGE_PG_SCHEMA``, puts the tables in that schema.

* Tables are created on first use; the store version lives in ``lineage_store_version`` and
  migrations run once, under a transaction-scoped advisory lock, however many processes start at
  the same moment.
* One transaction per batch, sent in pipeline mode (one round trip for the common case). Shared
  rows are upserted in key order, so concurrent writers never deadlock on each other.
* Failures never reach the pipeline (the delivery layer logs and counts them). A connection
  failure, a refused password, a ``statement_timeout``, a full disk: the sink raises
  :class:`PostgresUnavailableError` and then fails fast for a cool-down (doubling up to a limit)
  before it tries the server again, so a dead server does not cost every call a connect timeout.
  Batched delivery keeps those batches and writes them when the server is back.
* The password never appears in the sink's name, an exception message or a log line.
* A forked child opens its own connection; the parent's is never used (nor closed) there.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import re
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, cast
from urllib.parse import unquote, urlsplit, urlunsplit

import attrs

from .._version import DISTRIBUTION
from ..config import DEFAULT_PG_CONNECT_TIMEOUT_S, parse_pg_schema, redact_secrets
from ..errors import ConfigError
from ..pending import PendingRun
from ..records import Record, Run
from .base import BaseSink, SinkUnavailableError
from .sqlmodel import (
    GraphRows,
    Plan,
    iter_records,
    merge_stored_declarations,
    plan_batch,
    stored_runs_query,
)
from .sqlrows import RunParts
from .sqlschema import POSTGRES, RECORD_TABLES, STORE_VERSION, StoreVersionError, migration

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "PgTarget",
    "PostgresSink",
    "PostgresUnavailableError",
    "connect",
    "connect_reader",
    "describe_failure",
    "parse_dsn",
    "probe",
    "read_records",
]

#: Key of the advisory lock that serialises store creation and migrations ("lineage" in ASCII).
MIGRATION_LOCK_KEY = 0x6C696E65616765
_DEADLOCK_RETRIES = 5
_READ_CHUNK = 2000
# Connections a forked child inherited: kept referenced (never closed, never used) because closing
# one would end the parent's session on the server.
_inherited: list[Any] = []


class PostgresUnavailableError(SinkUnavailableError):
    """The server could not take the batch: unreachable, refusing, timing out, out of space."""


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise ConfigError(
            f"the PostgreSQL store needs psycopg 3: pip install '{DISTRIBUTION}[postgres]'"
        ) from None
    return psycopg


@attrs.frozen(slots=True)
class PgTarget:
    """A parsed PostgreSQL DSN: what libpq gets, the schema, and a name safe to show."""

    conninfo: str = attrs.field(repr=False)
    schema: str | None
    display: str
    secrets: tuple[str, ...] = attrs.field(repr=False, default=())

    def scrub(self, text: str) -> str:
        """``text`` with every password this target knows replaced by ``***``."""
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return redact_secrets(text)


_KV_SCHEMA_RE = re.compile(r"(?:^|\s)schema\s*=\s*([^\s']*)")


def parse_dsn(dsn: str, schema: str | None = None) -> PgTarget:
    """Split ``?schema=`` off ``dsn`` (a URL or libpq pairs) and check it with libpq.

    ``schema`` (from ``LINEAGE_PG_SCHEMA``) applies when the DSN names none. Raises ConfigError,
    never showing the password.
    """
    psycopg = _psycopg()
    dsn_schema: str | None = None
    conninfo = dsn.strip()
    if "://" in conninfo:
        parts = urlsplit(conninfo)
        # Only the schema parameter is ours; the others go to libpq exactly as written.
        pairs = [p for p in parts.query.split("&") if p]
        ours = [p for p in pairs if p.split("=", 1)[0] == "schema"]
        if ours:
            dsn_schema = unquote(ours[-1].partition("=")[2])
        rest = "&".join(p for p in pairs if p not in ours)
        conninfo = urlunsplit(parts._replace(query=rest))
    else:
        found = _KV_SCHEMA_RE.search(conninfo)
        if found:
            dsn_schema = found.group(1)
            conninfo = (conninfo[: found.start()] + " " + conninfo[found.end() :]).strip()
    shown = redact_secrets(dsn if "://" in dsn else f"postgresql:{dsn}")
    if dsn_schema is not None:
        schema = parse_pg_schema(dsn_schema, "LINEAGE_SINK (?schema=)") or schema
    try:
        params = psycopg.conninfo.conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        # libpq's message may quote the DSN, password included: name the problem, not the text.
        raise ConfigError(
            f"LINEAGE_SINK={shown!r}: not a valid PostgreSQL DSN; accepted: "
            "postgresql://USER[:PASSWORD]@HOST[:PORT]/DB[?schema=NAME] (also postgres://), or "
            "postgresql: followed by libpq KEY=VALUE pairs (host=... dbname=... service=...)"
        ) from None
    secrets = tuple(
        s for s in (str(params.get("password") or ""), os.environ.get("PGPASSWORD", "")) if s
    )
    return PgTarget(conninfo=conninfo, schema=schema, display=shown, secrets=secrets)


def _with_schema(dsn: str, schema: str) -> str:
    """``dsn`` naming ``schema`` (a reader given only the DSN finds the same tables)."""
    if "://" in dsn:
        return f"{dsn}{'&' if '?' in dsn else '?'}schema={schema}"
    return f"{dsn} schema={schema}"


def connect(
    target: PgTarget,
    *,
    connect_timeout_s: float = DEFAULT_PG_CONNECT_TIMEOUT_S,
    create: bool = True,
) -> psycopg.Connection[Any]:
    """Open a connection (autocommit; explicit transactions) with the store created or migrated.

    ``create=False`` (readers) creates nothing: a missing store raises FileNotFoundError.
    """
    pg = _psycopg()
    options: dict[str, Any] = {"application_name": "lineage-sdk", "autocommit": True}
    if "connect_timeout" not in target.conninfo:
        # libpq counts whole seconds (at least 2); psycopg applies it to every host it tries.
        options["connect_timeout"] = max(2, math.ceil(connect_timeout_s))
    conn = pg.connect(target.conninfo, **options)
    try:
        if target.schema is not None:
            conn.execute(
                pg.sql.SQL("SET search_path TO {}").format(pg.sql.Identifier(target.schema))
            )
        _migrate(conn, target, create)
    except BaseException:
        conn.close()
        raise
    return cast("psycopg.Connection[Any]", conn)


def _store_version(conn: Any) -> int | None:
    if conn.execute("SELECT to_regclass('lineage_store_version')").fetchone()[0] is None:
        return None
    row = conn.execute("SELECT version FROM lineage_store_version").fetchone()
    return None if row is None else int(row[0])


# The run_io view as readers of store version 7 ask it (each run's whole key, status and end),
# over what an older store has: a reader never upgrades a store, so it makes its session's own.
_RUN_IO_OVER = (
    "CREATE TEMP VIEW run_io AS SELECT r.transformation_id, r.started_us, r.run_id, r.status, "
    "r.ended_us, i.direction, i.node_id FROM runs r JOIN ({}) i ON i.run_id = r.run_id"
)
#: Store versions read without being upgraded -> the statement that stands in for run_io.
_OLD_RUN_IO = {
    5: _RUN_IO_OVER.format(
        "SELECT run_id, 'in'::text AS direction, node_id FROM run_inputs "
        "UNION ALL SELECT run_id, 'out'::text, node_id FROM run_outputs"
    ),
    6: _RUN_IO_OVER.format("SELECT run_id, direction, node_id FROM run_io"),
}


def _migrate(conn: Any, target: PgTarget, create: bool) -> None:
    psycopg = _psycopg()
    version = _store_version(conn)
    if version == STORE_VERSION:
        return
    if version is not None and version > STORE_VERSION:
        raise StoreVersionError(
            f"{target.display} has store version {version}; this lineage-sdk reads up to "
            f"{STORE_VERSION}: pip install --upgrade {DISTRIBUTION}"
        )
    if not create and version in _OLD_RUN_IO:
        # Read as it is (a writer upgrades it): this session's own view stands in for the one
        # version 7 has; runs, run_records and transformation_versions answer as they are.
        conn.execute(_OLD_RUN_IO[version])
        return
    if not create:
        raise FileNotFoundError(f"no lineage store at {target.display}")
    with conn.transaction():
        # Every process starting at once gets here; the first one creates, the others find it done.
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
        if target.schema is not None:
            conn.execute(
                psycopg.sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
                    psycopg.sql.Identifier(target.schema)
                )
            )
        conn.execute("CREATE TABLE IF NOT EXISTS lineage_store_version (version INTEGER NOT NULL)")
        current = _store_version(conn) or 0
        while current < STORE_VERSION:
            for statement in migration(POSTGRES, current):
                conn.execute(statement)
            current += 1
        conn.execute("DELETE FROM lineage_store_version")
        conn.execute("INSERT INTO lineage_store_version (version) VALUES (%s)", (current,))


def describe_failure(target: PgTarget, exc: BaseException, connecting: bool = True) -> str:
    """One line about a failure: the store, its kind, the server's words; never a password."""
    detail = " ".join(str(exc).split())
    return target.scrub(f"{target.display}: {_failure_kind(exc, connecting)}: {detail}")


def connect_reader(
    target: PgTarget, connect_timeout_s: float = DEFAULT_PG_CONNECT_TIMEOUT_S
) -> psycopg.Connection[Any]:
    """A connection for reading an existing store; ConnectionError (password-free) if none."""
    pg = _psycopg()
    try:
        return connect(target, connect_timeout_s=connect_timeout_s, create=False)
    except pg.Error as exc:
        raise ConnectionError(describe_failure(target, exc)) from None


def _failure_kind(exc: BaseException, connecting: bool) -> str:
    """A short, stable name for a failure: logged once per kind, counted per kind."""
    psycopg = _psycopg()
    errors = psycopg.errors
    text = str(exc).lower()
    if isinstance(exc, errors.QueryCanceled):
        return "statement_timeout" if "statement timeout" in text else "canceled"
    if isinstance(exc, (errors.DiskFull, errors.InsufficientResources)):
        return "disk_full"
    if "password" in text or "authentication" in text or isinstance(exc, errors.InvalidPassword):
        return "authentication"
    if connecting:
        return "connect_timeout" if "timeout expired" in text else "unreachable"
    return "connection_lost"


class PostgresSink(BaseSink):
    """Writes records to a PostgreSQL store (tables created on first use).

    Example::

        lineage_sdk.configure(sinks=[PostgresSink("postgresql://ann@db.internal/lineage")])

    ``cooldown_s`` is the first fail-fast pause after a failure; it doubles on every further
    failure up to ``max_cooldown_s`` and resets once a batch is written.
    """

    #: A run of a revision this process wrote before is written without building its Run.
    accepts_pending: ClassVar[bool] = True

    def __init__(
        self,
        dsn: str,
        *,
        schema: str | None = None,
        connect_timeout_s: float = DEFAULT_PG_CONNECT_TIMEOUT_S,
        cooldown_s: float = 2.0,
        max_cooldown_s: float = 60.0,
    ) -> None:
        self.target = parse_dsn(dsn, parse_pg_schema(schema, "schema"))
        # The DSN as given (password included): readers connect with it. Never shown.
        named = parse_dsn(dsn).schema is not None
        self.dsn = (
            dsn if named or self.target.schema is None else _with_schema(dsn, self.target.schema)
        )
        if not connect_timeout_s > 0:
            raise ConfigError(f"connect_timeout_s={connect_timeout_s!r}: seconds above 0")
        super().__init__(self.target.display)
        self._connect_timeout_s = connect_timeout_s
        self._base_cooldown_s = cooldown_s
        self._max_cooldown_s = max_cooldown_s
        self._cooldown_s = cooldown_s
        self._down_until = 0.0
        self._down_kind = ""
        self._conn: Any = None
        self._known: GraphRows = (set(), set(), set())
        self._parts = RunParts()  # revisions and processes: written once per store

    def _connection(self) -> Any:
        if self._conn is None or self._conn.closed:
            self._conn = connect(self.target, connect_timeout_s=self._connect_timeout_s)
        return self._conn

    def _emit(self, records: Sequence[Record]) -> None:
        if not records:
            return
        now = time.monotonic()
        if now < self._down_until:
            raise PostgresUnavailableError(
                f"{self.name}: not retrying for {self._down_until - now:.1f}s after a failure "
                f"({self._down_kind})",
                kind=self._down_kind,
                retry_in_s=self._down_until - now,
            )
        psycopg = _psycopg()
        connecting = self._conn is None or self._conn.closed
        try:
            conn = self._connection()
            connecting = False
            written = self._write(conn, records)
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            raise self._down(exc, connecting) from None
        except psycopg.Error as exc:  # a bug or a schema changed under us: this batch only
            raise RuntimeError(self.target.scrub(f"{self.name}: {exc}")) from None
        self._cooldown_s = self._base_cooldown_s
        self._known[0].update(written[0])  # committed: no need to write these again
        self._known[1].update(written[1])
        self._known[2].update(written[2])

    def _write(self, conn: Any, records: Sequence[Record]) -> GraphRows:
        psycopg = _psycopg()
        skip: set[str] = set()
        for attempt in range(_DEADLOCK_RETRIES + 1):
            try:
                if all(type(r) is Run or isinstance(r, PendingRun) for r in records):
                    plan = plan_batch(POSTGRES, records, self._known, skip, self._parts)
                    _run_plan(conn, plan)
                    self._parts.committed()
                    return plan.graph_rows
                # Declarations merge over the stored ones in the transaction that writes them.
                with conn.transaction():
                    batch, revisions = merge_stored_declarations(POSTGRES, records, conn.execute)
                    plan = plan_batch(POSTGRES, batch, self._known, skip, self._parts)
                    _run_plan(conn, attrs.evolve(plan, statements=[*plan.statements, *revisions]))
                self._parts.committed()
                return plan.graph_rows
            except psycopg.IntegrityError:  # rolled back; rare: a run emitted twice
                if skip or attempt == _DEADLOCK_RETRIES:
                    raise
                query = stored_runs_query(POSTGRES, records)
                skip = {row[0] for row in conn.execute(query.sql, query.params)}
            except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure):
                # Not expected (rows are taken in key order), but a retry is the right answer.
                if attempt == _DEADLOCK_RETRIES:
                    raise
                time.sleep(0.01 * (2**attempt) * (1 + random.random()))  # noqa: S311 - jitter
        raise AssertionError("unreachable")  # pragma: no cover

    def _down(self, exc: BaseException, connecting: bool) -> PostgresUnavailableError:
        """Close the connection, start the cool-down, and describe ``exc`` without secrets."""
        kind = _failure_kind(exc, connecting)
        self._drop_connection()
        self._down_kind = kind
        self._down_until = time.monotonic() + self._cooldown_s
        retry = self._cooldown_s
        self._cooldown_s = min(self._cooldown_s * 2, self._max_cooldown_s)
        return PostgresUnavailableError(
            f"{describe_failure(self.target, exc, connecting)}; retrying in {retry:.1f}s",
            kind=kind,
            retry_in_s=retry,
        )

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # a broken connection may fail to close: gone
                conn.close()

    def _close(self) -> None:
        self._drop_connection()

    def _after_fork(self) -> None:
        if self._conn is not None:
            _inherited.append(self._conn)
        self._conn = None
        self._down_until = 0.0

    def read(self) -> Iterator[Record]:
        """Every stored record: nodes, transformations, then runs oldest first."""
        return read_records(self.target)


def _run_plan(conn: Any, plan: Plan) -> None:
    """Run a batch's statements atomically, in as few round trips as the rows allow."""
    if not plan.statements:
        return
    combine = POSTGRES.one_statement
    if plan.private and combine is not None:
        # Only this batch's own rows (the common case: runs whose lineage is known): one
        # statement, atomic by itself, one round trip, and no lock another writer waits on.
        sql = combine([s.sql for s in plan.statements])
        conn.execute(sql, [p for s in plan.statements for p in s.params])
        return
    with conn.transaction():  # shared rows: one transaction, statements in lock order
        for statement in plan.statements:
            conn.execute(statement.sql, statement.params)


def read_records(
    target: PgTarget, *, connect_timeout_s: float = DEFAULT_PG_CONNECT_TIMEOUT_S
) -> Iterator[Record]:
    """Every record of a store, streamed from the server in chunks (never all in memory)."""
    try:
        conn = connect_reader(target, connect_timeout_s)
    except FileNotFoundError:
        return
    try:
        with conn.transaction():  # one snapshot for all three tables
            for table, order in RECORD_TABLES:
                with conn.cursor(name=f"lineage_read_{table}") as cur:
                    cur.itersize = _READ_CHUNK
                    cur.execute(f"SELECT record FROM {table} ORDER BY {order}")
                    yield from iter_records(cur)
    finally:
        conn.close()


def _write_tables(version: int) -> tuple[str, ...]:
    """The tables a writer fills in a store of ``version`` (an older one lacks the newer)."""
    tables = ("nodes", "transformations", "edges", "run_log" if version >= 7 else "runs")
    return (*tables, "revisions", "revision_io") if version >= 6 else tables


def probe(
    target: PgTarget, connect_timeout_s: float = DEFAULT_PG_CONNECT_TIMEOUT_S
) -> dict[str, Any]:
    """What ``lineage doctor`` shows of a PostgreSQL store; ConnectionError if unreachable.

    Server version, store version (None before the first write), whether this login can write
    (INSERT on the tables, or CREATE in the schema before they exist; never on a read-only
    replica), and the median round trip of ``SELECT 1`` in milliseconds. Nothing is written.
    """
    pg = _psycopg()
    options = {"application_name": "lineage-sdk doctor", "autocommit": True}
    if "connect_timeout" not in target.conninfo:
        options["connect_timeout"] = max(2, math.ceil(connect_timeout_s))
    try:
        conn = pg.connect(target.conninfo, **options)
    except pg.Error as exc:
        raise ConnectionError(describe_failure(target, exc)) from None
    with conn:
        if target.schema is not None:
            conn.execute(
                pg.sql.SQL("SET search_path TO {}").format(pg.sql.Identifier(target.schema))
            )
        trips = []
        for _ in range(5):
            start = time.perf_counter()
            conn.execute("SELECT 1").fetchone()
            trips.append((time.perf_counter() - start) * 1000)
        version = _store_version(conn)
        read_only = conn.execute("SELECT pg_is_in_recovery()").fetchone()[0] or (
            conn.execute("SHOW transaction_read_only").fetchone()[0] == "on"
        )
        if version is None:
            schema = target.schema or conn.execute("SELECT current_schema()").fetchone()[0]
            can = (
                schema is not None
                and conn.execute("SELECT has_schema_privilege(%s, 'CREATE')", (schema,)).fetchone()[
                    0
                ]
            )
        else:
            can = all(
                conn.execute("SELECT has_table_privilege(%s, 'INSERT')", (t,)).fetchone()[0]
                for t in _write_tables(version)
            )
        return {
            "server_version": conn.execute("SHOW server_version").fetchone()[0],
            "store_version": version,
            "can_write": bool(can) and not read_only,
            "round_trip_ms": round(sorted(trips)[len(trips) // 2], 3),
        }
