"""The tables of a lineage store and how each version migrates to the next, for both SQL stores.

Both SQL stores keep the same normalised tables (nodes, transformations, revisions with their
inputs and outputs, processes, narrow runs, the transformation's merged inputs and outputs, the
derivation edges ``input -> transformation -> output`` and the source columns they were narrowed
to). Where the two databases differ, the difference is a field of :class:`Dialect` and nowhere
else:

* placeholders (``?`` or ``%s``),
* the integer type for microsecond timestamps (``INTEGER`` or ``BIGINT``),
* SQLite's ``WITHOUT ROWID`` clustering (PostgreSQL has no equivalent: plain tables),
* how a view is (re)created,
* how a list of ids is passed as one parameter (``json_each(?)`` or ``= ANY(%s)``).

:func:`migration` gives the statements from one store version to the next; the writers
(:mod:`~lineage_sdk.sinks.sqlite`, :mod:`~lineage_sdk.sinks.postgres`) run them.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

import attrs

__all__ = [
    "GRAPH_TABLES",
    "NARROW_RECORD_TAIL",
    "POSTGRES",
    "RECORD_TABLES",
    "SQLITE",
    "STORE_VERSION",
    "Dialect",
    "StoreVersionError",
    "migration",
]

#: The end of the record of a run with nothing else of its own (record schema version 2): a row
#: of version 7 stores NULL for it, and run_records writes it back. Never changes: a later
#: schema version writes its own record.
NARROW_RECORD_TAIL = ',"schema_version":2,"record_type":"run"}'

#: Version of the table layout this release writes (and reads up to).
STORE_VERSION = 7


class StoreVersionError(RuntimeError):
    """The store was written by a newer lineage-sdk than this one."""


@attrs.frozen(slots=True)
class Dialect:
    """Everything that differs between the SQL stores, named in one place."""

    name: str
    placeholder: str
    text: str  # PostgreSQL: the "C" collation, so ids sort and compare byte-wise as in SQLite
    text_value: str  # a text parameter under that collation (where no column lends it one)
    bigint: str
    clustered: str  # suffix of a table whose primary key is its storage order
    create_view: str
    any_id: str  # ``<column> <any_id>`` is true when the column is in the list parameter
    id_list: Callable[[Sequence[Any]], Any]
    # Joins statements into one (atomic on its own: no BEGIN/COMMIT round trips), or None.
    one_statement: Callable[[Sequence[str]], str] | None = None
    # Rows travel as one array per column (``unnest``): the statement text stays the same for
    # any number of rows, so the driver parses and the server plans it once.
    array_rows: bool = False
    # Taken in the transaction that merges declarations, before it reads the stored ones, where
    # the transaction alone does not keep two writers from merging over the same stored state
    # (PostgreSQL's READ COMMITTED; SQLite's BEGIN IMMEDIATE already does).
    declarations_lock: str | None = None
    # SQLite keeps run_log clustered by (transformation, start, id) alone, so a run's commit
    # writes one b-tree; PostgreSQL's heap needs an index to find a run by id (cheap there).
    run_id_index: str = ""
    # SQL giving a microsecond count ({us}: a column) as the text datetime.isoformat() reads back.
    iso_us: str = ""
    # SQL giving a text column ({text}) as a JSON string literal.
    json_string: str = ""
    # SQL giving a count of nanoseconds ({ns}: a column, >= 0) as seconds, in exact decimal: the
    # text float() reads as the same double as ns / 1e9 (both are the nearest to ns * 10**-9).
    decimal_ns: str = ""
    # The bound parameters one statement may take, where rows go one placeholder per value.
    max_parameters: int = 32766

    def sql(self, statement: str) -> str:
        """``statement`` (written with ``?`` placeholders) in this dialect."""
        return statement if self.placeholder == "?" else statement.replace("?", self.placeholder)

    def run_keys_in(self) -> str:
        """A condition on run_log (or legacy_run_io) true for rows whose key columns are in
        three list parameters: transformation ids, starts (µs) and run ids. The key's first
        column leads, so it is a few seeks, never a scan."""
        return (
            f"transformation_id {self.any_id} AND started_us {self.any_id} AND run_id {self.any_id}"
        )


SQLITE = Dialect(
    name="sqlite",
    placeholder="?",
    text="TEXT",
    text_value="?",
    bigint="INTEGER",
    clustered=" WITHOUT ROWID",
    create_view="CREATE VIEW IF NOT EXISTS",
    any_id="IN (SELECT value FROM json_each(?))",
    id_list=lambda ids: json.dumps(list(ids)),
    # SQLite's compiled-in default (a build may raise it, as Debian's does); 999 before 3.32.
    max_parameters=32766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999,
    iso_us="strftime('%Y-%m-%dT%H:%M:%S', {us} / 1000000, 'unixepoch')"
    " || printf('.%06d+00:00', {us} % 1000000)",
    json_string="json_quote({text})",
    decimal_ns="({ns} / 1000000000) || '.' || substr('00000000' || ({ns} % 1000000000), -9)",
)


def _data_modifying_ctes(sqls: Sequence[str]) -> str:
    """``WITH s0 AS (first), s1 AS (second) last``: PostgreSQL runs them as one statement."""
    head = ", ".join(f"s{i} AS ({sql})" for i, sql in enumerate(sqls[:-1]))
    return f"WITH {head} {sqls[-1]}" if head else sqls[-1]


POSTGRES = Dialect(
    name="postgresql",
    placeholder="%b",  # binary parameters: no text escaping of JSON-heavy values
    text='TEXT COLLATE "C"',
    text_value='(CAST(? AS TEXT) COLLATE "C")',
    bigint="BIGINT",
    clustered="",
    create_view="CREATE OR REPLACE VIEW",
    # One transaction-scoped lock for every writer's declaration merges: rare (once per process
    # and declaration state), and one key cannot deadlock.
    declarations_lock="SELECT pg_advisory_xact_lock(7813316540163170931)",
    run_id_index="CREATE INDEX IF NOT EXISTS run_log_by_id ON run_log (run_id)",
    iso_us="to_char(to_timestamp({us} / 1000000) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS')"
    " || '.' || lpad(({us} % 1000000)::text, 6, '0') || '+00:00'",
    json_string="to_json({text})::text",
    decimal_ns="({ns} / 1000000000)::text || '.' || lpad(({ns} % 1000000000)::text, 9, '0')",
    any_id="= ANY(?)",
    id_list=list,
    one_statement=_data_modifying_ctes,
    array_rows=True,
)

_SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS nodes (
    id          {text} PRIMARY KEY,
    kind        {text} NOT NULL,             -- DataSource | Feature
    record      {text} NOT NULL,             -- JSON of the latest declaration
    updated_us  {bigint} NOT NULL
);
CREATE TABLE IF NOT EXISTS transformations (
    id                 {text} PRIMARY KEY,
    version            {text},
    description        {text},
    compute_framework  {text},
    code_reference     {text},
    record             {text} NOT NULL,
    updated_us         {bigint} NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    run_id             {text} PRIMARY KEY,
    transformation_id  {text} NOT NULL,
    parent_run_id      {text},
    status             {text} NOT NULL,
    started_us         {bigint} NOT NULL,
    ended_us           {bigint} NOT NULL,
    version            {text},
    source_sha256      {text},
    git_commit         {text},
    git_tag            {text},
    record             {text} NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_transformation ON runs (transformation_id, started_us);
CREATE INDEX IF NOT EXISTS runs_by_start ON runs (started_us);
-- A transformation's versions are derived from its runs (through runs_by_transformation) rather
-- than kept in a table of their own, which would cost every run's commit another page write.
{create_view} transformation_versions AS
    SELECT transformation_id, version, source_sha256, git_commit, git_tag,
           min(started_us) AS first_run_us, max(started_us) AS last_run_us, count(*) AS runs
    FROM runs
    GROUP BY transformation_id, version, source_sha256, git_commit, git_tag;
-- Which runs read and wrote a node is answered through transformation_io and runs, and these two
-- keep each run's own lists, keyed by run (more indexes would cost every commit page writes).
CREATE TABLE IF NOT EXISTS run_inputs (
    run_id   {text} NOT NULL,
    node_id  {text} NOT NULL,
    PRIMARY KEY (run_id, node_id)
){clustered};
CREATE TABLE IF NOT EXISTS run_outputs (
    run_id   {text} NOT NULL,
    node_id  {text} NOT NULL,
    PRIMARY KEY (run_id, node_id)
){clustered};
-- Which nodes a transformation reads and writes (every run's, merged).
CREATE TABLE IF NOT EXISTS transformation_io (
    transformation_id  {text} NOT NULL,
    direction          {text} NOT NULL,      -- 'in' | 'out'
    node_id            {text} NOT NULL,
    PRIMARY KEY (transformation_id, direction, node_id)
){clustered};
CREATE INDEX IF NOT EXISTS transformation_io_by_node ON transformation_io (node_id, direction);
-- Per-output derivation: src was read to produce dst by transformation_id.
CREATE TABLE IF NOT EXISTS edges (
    src                {text} NOT NULL,
    transformation_id  {text} NOT NULL,
    dst                {text} NOT NULL,
    PRIMARY KEY (src, transformation_id, dst)
){clustered};
CREATE INDEX IF NOT EXISTS edges_by_dst ON edges (dst, transformation_id, src);
CREATE INDEX IF NOT EXISTS edges_by_transformation ON edges (transformation_id);
"""

# Version 2: what only failed runs read, wrote or derived is not lineage by default. Rows of a
# version-1 store that no completed run supports move to the failed tables; for edges "supports"
# means a completed run of the transformation read src and wrote dst (a version-1 store does not
# keep each run's per-output derivation in its own rows).
_SCHEMA_V2 = """
CREATE TABLE IF NOT EXISTS failed_io (
    transformation_id  {text} NOT NULL,
    direction          {text} NOT NULL,
    node_id            {text} NOT NULL,
    PRIMARY KEY (transformation_id, direction, node_id)
){clustered};
CREATE INDEX IF NOT EXISTS failed_io_by_node ON failed_io (node_id, direction);
CREATE TABLE IF NOT EXISTS failed_edges (
    src                {text} NOT NULL,
    transformation_id  {text} NOT NULL,
    dst                {text} NOT NULL,
    PRIMARY KEY (src, transformation_id, dst)
){clustered};
CREATE INDEX IF NOT EXISTS failed_edges_by_dst ON failed_edges (dst, transformation_id, src);
{create_view} io_with_failed AS
    SELECT transformation_id, direction, node_id FROM transformation_io
    UNION SELECT transformation_id, direction, node_id FROM failed_io;
{create_view} edges_with_failed AS
    SELECT src, transformation_id, dst FROM edges
    UNION SELECT src, transformation_id, dst FROM failed_edges;
INSERT INTO failed_io
    SELECT io.transformation_id, io.direction, io.node_id FROM transformation_io io
    WHERE NOT EXISTS (
        SELECT 1 FROM runs r
        JOIN run_inputs ri ON ri.run_id = r.run_id AND io.direction = 'in'
        WHERE r.transformation_id = io.transformation_id AND r.status = 'completed'
          AND ri.node_id = io.node_id
    ) AND NOT EXISTS (
        SELECT 1 FROM runs r
        JOIN run_outputs ro ON ro.run_id = r.run_id AND io.direction = 'out'
        WHERE r.transformation_id = io.transformation_id AND r.status = 'completed'
          AND ro.node_id = io.node_id
    )
    ON CONFLICT DO NOTHING;
DELETE FROM transformation_io WHERE EXISTS (
    SELECT 1 FROM failed_io f WHERE f.transformation_id = transformation_io.transformation_id
      AND f.direction = transformation_io.direction AND f.node_id = transformation_io.node_id
);
INSERT INTO failed_edges
    SELECT e.src, e.transformation_id, e.dst FROM edges e
    WHERE NOT EXISTS (
        SELECT 1 FROM runs r
        JOIN run_inputs ri ON ri.run_id = r.run_id AND ri.node_id = e.src
        JOIN run_outputs ro ON ro.run_id = r.run_id AND ro.node_id = e.dst
        WHERE r.transformation_id = e.transformation_id AND r.status = 'completed'
    )
    ON CONFLICT DO NOTHING;
DELETE FROM edges WHERE EXISTS (
    SELECT 1 FROM failed_edges f WHERE f.src = edges.src
      AND f.transformation_id = edges.transformation_id AND f.dst = edges.dst
)
"""

# Version 3: column-level derivation. An edge is "whole" when some completed run derived dst from
# the whole of src (every edge of an older store); column_edges holds the columns completed runs
# named instead. (Failed runs' edges, shown on request only, count as whole.)
_SCHEMA_V3 = """
ALTER TABLE edges ADD COLUMN whole INTEGER NOT NULL DEFAULT 1;
CREATE TABLE IF NOT EXISTS column_edges (
    src                {text} NOT NULL,
    column_name        {text} NOT NULL,
    transformation_id  {text} NOT NULL,
    dst                {text} NOT NULL,
    kind               {text} NOT NULL,      -- an OpenLineage column kind, '' when not declared
    PRIMARY KEY (src, column_name, transformation_id, dst, kind)
){clustered};
CREATE INDEX IF NOT EXISTS column_edges_by_dst ON column_edges (dst, transformation_id, src);
"""

# Version 4: the narrow layout. What does not change from run to run is stored once, as a
# revision (declaration, code, git state, lineage; see lineage_sdk.revisions) and a process; a new
# run row points to both and its `record` keeps only the run's own fields. Rows written before
# (revision_id NULL) keep their whole record. Readers take whole records from the run_records
# view, which splices the three JSON objects into one as text (no JSON functions, the same in
# both databases): no object repeats a key of another, and none is empty.
_SCHEMA_V4 = """
CREATE TABLE IF NOT EXISTS revisions (
    id                 {text} PRIMARY KEY,   -- hash of the content: the same in every store
    transformation_id  {text} NOT NULL,
    record             {text} NOT NULL
){clustered};
CREATE INDEX IF NOT EXISTS revisions_by_transformation ON revisions (transformation_id);
CREATE TABLE IF NOT EXISTS processes (
    id      {text} PRIMARY KEY,
    record  {text} NOT NULL
){clustered};
ALTER TABLE runs ADD COLUMN revision_id {text};
ALTER TABLE runs ADD COLUMN process_id {text};
{create_view} run_records AS
    SELECT r.run_id, r.transformation_id, r.parent_run_id, r.status, r.started_us, r.ended_us,
           r.version, r.source_sha256, r.git_commit, r.git_tag, r.revision_id, r.process_id,
           CASE WHEN r.revision_id IS NULL THEN r.record
                ELSE substr(v.record, 1, length(v.record) - 1) || ','
                     || substr(p.record, 2, length(p.record) - 2) || ','
                     || substr(r.record, 2) END AS record
    FROM runs r
    LEFT JOIN revisions v ON v.id = r.revision_id
    LEFT JOIN processes p ON p.id = r.process_id
"""

# Version 5: declarations are revisions. nodes and transformations hold the merged latest (see
# records.merge_declaration); declarations keeps every distinct merged state with when the store
# first held it. An older store's declarations become each id's first revision.
_SCHEMA_V5 = """
CREATE TABLE IF NOT EXISTS declarations (
    id           {text} NOT NULL,
    kind         {text} NOT NULL,            -- DataSource | Feature | Transformation
    recorded_us  {bigint} NOT NULL,
    record       {text} NOT NULL,            -- JSON of the merged declaration
    PRIMARY KEY (id, kind, recorded_us)
){clustered};
INSERT INTO declarations (id, kind, recorded_us, record)
    SELECT id, kind, updated_us, record FROM nodes WHERE true ON CONFLICT DO NOTHING;
INSERT INTO declarations (id, kind, recorded_us, record)
    SELECT id, 'Transformation', updated_us, record FROM transformations WHERE true
    ON CONFLICT DO NOTHING
"""

# Version 6: a run's inputs and outputs belong to its revision (a revision's content includes
# them, so every run of one revision has the same ones): revision_io holds them once per
# revision, written with the revision row, and a new run writes its runs row only. Runs of older
# layouts (revision_id NULL) keep their run_inputs / run_outputs rows; those of v4/v5 runs move
# to revision_io. Readers ask the run_io view, the one place that answers "the inputs and
# outputs of run X" (and "the runs that read or wrote node N") over both.
#
# What a run's commit writes: its runs row, in three b-trees. Each b-tree costs a commit ~1.1
# WAL pages in SQLite (measured: 6.96 pages per run in version 5, 3.5 now; a raw one-row table
# with a text key takes 2.4), and page writes set the sink's write time. Why each stays:
# * the table (SQLite: its rowid b-tree, appended to) and its run_id key: a run is found,
#   replaced (running -> ended) and deduplicated by id;
# * runs_by_transformation (transformation_id, started_us): a transformation's runs newest first
#   (`lineage runs -t`, last status, history, staleness, prune's "newest run of each"), the
#   transformation_versions view, and the runs that read or wrote a node (run_io); without it
#   each of those scans every run (~0.6 s at 10^6 runs);
# * runs_by_start is gone: the newest runs over all transformations (`lineage runs`) come from
#   runs_by_transformation too, each transformation's newest merged (graph.sql._NEWEST_RUNS:
#   4 ms at 10^6 runs); only a listing without a limit sorts the table, and it reads it all.
# The run_io view reaches runs from a node through revision_io_by_node (written once per
# revision), the revision's transformation and runs_by_transformation.
_SCHEMA_V6 = """
CREATE TABLE IF NOT EXISTS revision_io (
    revision_id  {text} NOT NULL,
    direction    {text} NOT NULL,            -- 'in' | 'out'
    node_id      {text} NOT NULL,
    PRIMARY KEY (revision_id, direction, node_id)
){clustered};
CREATE INDEX IF NOT EXISTS revision_io_by_node ON revision_io (node_id, direction);
INSERT INTO revision_io (revision_id, direction, node_id)
    SELECT DISTINCT r.revision_id, 'in', i.node_id
    FROM runs r JOIN run_inputs i ON i.run_id = r.run_id
    WHERE r.revision_id IS NOT NULL ON CONFLICT DO NOTHING;
INSERT INTO revision_io (revision_id, direction, node_id)
    SELECT DISTINCT r.revision_id, 'out', o.node_id
    FROM runs r JOIN run_outputs o ON o.run_id = r.run_id
    WHERE r.revision_id IS NOT NULL ON CONFLICT DO NOTHING;
DELETE FROM run_inputs WHERE run_id IN (SELECT run_id FROM runs WHERE revision_id IS NOT NULL);
DELETE FROM run_outputs WHERE run_id IN (SELECT run_id FROM runs WHERE revision_id IS NOT NULL);
DROP INDEX IF EXISTS runs_by_start;
{create_view} run_io AS
    SELECT r.run_id, io.direction, io.node_id
    FROM revision_io io
    JOIN revisions v ON v.id = io.revision_id
    JOIN runs r ON r.transformation_id = v.transformation_id AND r.revision_id = io.revision_id
    UNION ALL SELECT run_id, 'in', node_id FROM run_inputs
    UNION ALL SELECT run_id, 'out', node_id FROM run_outputs
"""

# Version 7: a run's commit writes one b-tree. The rows move to run_log, clustered (SQLite:
# WITHOUT ROWID) by (transformation_id, started_us, run_id): the order "a transformation's runs
# newest first" is read in, so the index runs_by_transformation and the run_id key (two more
# b-trees, ~1.1 WAL pages each per commit) are gone. What used to be found by run_id alone is
# found by the whole key (run_io carries it) or, rarely (one run by id, prune), by a scan of the
# narrow rows. A new row keeps only what is its own: the revision's version and git columns
# move to the revisions row, and its `record` holds only the fields no column has (duration,
# parent, error...); run_records rebuilds the whole JSON. Rows of older layouts keep theirs. The
# name `runs` is now a view with the columns it always had, so readers ask what they asked.
_SCHEMA_V7 = """
CREATE TABLE IF NOT EXISTS run_log (
    transformation_id  {text} NOT NULL,
    started_us         {bigint} NOT NULL,
    run_id             {text} NOT NULL,
    parent_run_id      {text},
    status             {text} NOT NULL,
    ended_us           {bigint} NOT NULL,
    duration_ns        {bigint},             -- NULL: the duration is in the record
    revision_id        {text},
    process_id         {text},
    record             {text},               -- NULL: nothing but the duration is the run's own
    version            {text},               -- these four: rows without a revision only
    source_sha256      {text},
    git_commit         {text},
    git_tag            {text},
    PRIMARY KEY (transformation_id, started_us, run_id)
){clustered};
{run_id_index};
INSERT INTO run_log (transformation_id, started_us, run_id, parent_run_id, status, ended_us,
                     revision_id, process_id, record, version, source_sha256, git_commit, git_tag)
    SELECT transformation_id, started_us, run_id, parent_run_id, status, ended_us,
           revision_id, process_id, record, version, source_sha256, git_commit, git_tag
    FROM runs;
-- Runs written before revisions (store version 3 and older) keep their own inputs and outputs,
-- now under the run's whole key.
CREATE TABLE IF NOT EXISTS legacy_run_io (
    transformation_id  {text} NOT NULL,
    started_us         {bigint} NOT NULL,
    run_id             {text} NOT NULL,
    direction          {text} NOT NULL,      -- 'in' | 'out'
    node_id            {text} NOT NULL,
    PRIMARY KEY (transformation_id, started_us, run_id, direction, node_id)
){clustered};
CREATE INDEX IF NOT EXISTS legacy_run_io_by_node ON legacy_run_io (node_id, direction);
INSERT INTO legacy_run_io (transformation_id, started_us, run_id, direction, node_id)
    SELECT r.transformation_id, r.started_us, r.run_id, 'in', i.node_id
    FROM run_inputs i JOIN runs r ON r.run_id = i.run_id;
INSERT INTO legacy_run_io (transformation_id, started_us, run_id, direction, node_id)
    SELECT r.transformation_id, r.started_us, r.run_id, 'out', o.node_id
    FROM run_outputs o JOIN runs r ON r.run_id = o.run_id;
ALTER TABLE revisions ADD COLUMN version {text};
ALTER TABLE revisions ADD COLUMN source_sha256 {text};
ALTER TABLE revisions ADD COLUMN git_commit {text};
ALTER TABLE revisions ADD COLUMN git_tag {text};
UPDATE revisions SET version = g.version, source_sha256 = g.source_sha256,
                     git_commit = g.git_commit, git_tag = g.git_tag
    FROM (SELECT revision_id, max(version) AS version, max(source_sha256) AS source_sha256,
                 max(git_commit) AS git_commit, max(git_tag) AS git_tag
          FROM runs WHERE revision_id IS NOT NULL GROUP BY revision_id) g
    WHERE g.revision_id = revisions.id;
DROP VIEW IF EXISTS run_io;
DROP VIEW IF EXISTS run_records;
DROP VIEW IF EXISTS transformation_versions;
DROP TABLE run_inputs;
DROP TABLE run_outputs;
DROP TABLE runs;
{create_view} runs AS
    SELECT r.run_id, r.transformation_id, r.parent_run_id, r.status, r.started_us, r.ended_us,
           CASE WHEN r.revision_id IS NULL THEN r.version ELSE v.version END AS version,
           CASE WHEN r.revision_id IS NULL THEN r.source_sha256 ELSE v.source_sha256 END
               AS source_sha256,
           CASE WHEN r.revision_id IS NULL THEN r.git_commit ELSE v.git_commit END AS git_commit,
           CASE WHEN r.revision_id IS NULL THEN r.git_tag ELSE v.git_tag END AS git_tag,
           r.record, r.revision_id, r.process_id, r.duration_ns
    FROM run_log r LEFT JOIN revisions v ON v.id = r.revision_id;
{create_view} transformation_versions AS
    SELECT transformation_id, version, source_sha256, git_commit, git_tag,
           min(started_us) AS first_run_us, max(started_us) AS last_run_us, count(*) AS runs
    FROM runs
    GROUP BY transformation_id, version, source_sha256, git_commit, git_tag;
-- A run's whole record: its revision's, its process's and its own fields, spliced as text. A
-- row of version 7 gets its id, status, times and (with duration_ns) duration from its columns,
-- and a NULL record stands for the record tail of every plain run, one of versions 4 to 6 has
-- them in its record (which starts with its id), an older one has everything.
{create_view} run_records AS
    SELECT r.run_id, r.transformation_id, r.parent_run_id, r.status, r.started_us, r.ended_us,
           r.version, r.source_sha256, r.git_commit, r.git_tag, r.revision_id, r.process_id,
           r.duration_ns,
           CASE WHEN r.revision_id IS NULL THEN r.record
                ELSE substr(v.record, 1, length(v.record) - 1) || ','
                     || substr(p.record, 2, length(p.record) - 2) || ','
                     || CASE WHEN r.duration_ns IS NULL AND substr(r.record, 1, 10) = '{{"run_id":'
                             THEN substr(r.record, 2)
                             ELSE '"run_id":' || {run_id_json} || ',"status":' || {status_json}
                                  || ',"started_at":"' || {started_iso} || '","ended_at":"'
                                  || {ended_iso} || '",'
                                  || CASE WHEN r.duration_ns IS NULL THEN substr(r.record, 2)
                                          ELSE '"duration_s":' || {duration_text}
                                               || coalesce(',' || substr(r.record, 2),
                                                           '{narrow_tail}')
                                     END
                        END
           END AS record
    FROM runs r
    LEFT JOIN revisions v ON v.id = r.revision_id
    LEFT JOIN processes p ON p.id = r.process_id;
-- Each run's inputs and outputs with the run's whole key, its status and end: joined to a run by
-- (transformation_id, started_us, run_id), never by run_id alone.
{create_view} run_io AS
    SELECT r.transformation_id, r.started_us, r.run_id, r.status, r.ended_us,
           io.direction, io.node_id
    FROM revision_io io
    JOIN revisions v ON v.id = io.revision_id
    JOIN run_log r ON r.transformation_id = v.transformation_id AND r.revision_id = io.revision_id
    UNION ALL
    SELECT r.transformation_id, r.started_us, r.run_id, r.status, r.ended_us,
           l.direction, l.node_id
    FROM legacy_run_io l
    JOIN run_log r ON r.transformation_id = l.transformation_id AND r.started_us = l.started_us
                  AND r.run_id = l.run_id
"""

#: Store version N -> the script that brings a store from N to N + 1.
_MIGRATIONS: dict[int, str] = {
    0: _SCHEMA_V1,
    1: _SCHEMA_V2,
    2: _SCHEMA_V3,
    3: _SCHEMA_V4,
    4: _SCHEMA_V5,
    5: _SCHEMA_V6,
    6: _SCHEMA_V7,
}


def migration(dialect: Dialect, version: int) -> list[str]:
    """The statements that bring a store of ``version`` to ``version + 1``, in ``dialect``."""
    script = _MIGRATIONS[version].format(
        text=dialect.text,
        bigint=dialect.bigint,
        clustered=dialect.clustered,
        create_view=dialect.create_view,
        run_id_index=dialect.run_id_index,
        run_id_json=dialect.json_string.format(text="r.run_id"),
        status_json=dialect.json_string.format(text="r.status"),
        started_iso=dialect.iso_us.format(us="r.started_us"),
        ended_iso=dialect.iso_us.format(us="r.ended_us"),
        duration_text=dialect.decimal_ns.format(ns="r.duration_ns"),
        narrow_tail=NARROW_RECORD_TAIL,
    )
    return [s.strip() for s in script.split(";") if s.strip()]


#: Tables of records and the order they are read back in: nodes, transformations, then runs.
RECORD_TABLES = (
    ("nodes", "id"),
    ("transformations", "id"),
    ("run_records", "started_us, run_id"),
)

#: run completed? -> (io table, edge table); table names come from here only.
GRAPH_TABLES = {True: ("transformation_io", "edges"), False: ("failed_io", "failed_edges")}
