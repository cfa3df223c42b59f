"""The lineage record model: nodes, transformations, runs and what a run captured.

Every record is a frozen, slotted attrs class validated at construction, so a bad id fails where it
is written, not when a store reads it back. Sequences are stored as tuples, which keeps nodes
hashable. The wire format (JSON) is owned by :mod:`lineage_sdk.serde`, never by these classes.

Example::

    >>> clicks = DataSource("raw_clicks_kafka_topic", type="kafka_topic",
    ...                     schema=["user_id", "timestamp", "ad_id"])
    >>> clicks.schema
    ('user_id', 'timestamp', 'ad_id')
    >>> Feature("user_ctr_7d", value_type="float", entity="user").kind
    'Feature'
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import string
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Literal, TypeVar

import attrs

__all__ = [
    "COLUMN_KINDS",
    "HEARTBEAT_S",
    "MAX_ID_LENGTH",
    "MAX_METADATA_BYTES",
    "RUNNING_STALE_S",
    "RUN_STATUSES",
    "SCHEMA_VERSION",
    "CodeRef",
    "ColumnEdge",
    "ColumnRef",
    "DataSource",
    "Declaration",
    "Feature",
    "GitInfo",
    "Node",
    "Partition",
    "PartitionRead",
    "Record",
    "Run",
    "RunStatus",
    "Transformation",
    "declaration_changes",
    "escape_surrogates",
    "has_surrogates",
    "merge_declaration",
]

#: Version of the record schema written by this release. Readers accept this and every older one.
#: 2: runs carry column-level derivation (``column_derivation``) and file partitions read or
#: written (``partitions``); version 1 records are read as having neither.
SCHEMA_VERSION = 2
#: Ids longer than this are refused: they are keys in every store and label every drawing.
MAX_ID_LENGTH = 1024
#: Metadata larger than this (as JSON) is refused rather than bloating every stored record.
MAX_METADATA_BYTES = 64 * 1024

#: ``running``: written while a long call is still going (its ``ended_at`` is the last heartbeat);
#: ``abandoned``: what readers show for a running run whose process is gone (never written).
RunStatus = Literal["completed", "failed", "running", "abandoned"]
RUN_STATUSES: tuple[RunStatus, ...] = ("completed", "failed", "running", "abandoned")
#: A running call's record is rewritten this often (its ended_at is the heartbeat).
HEARTBEAT_S = 30.0
#: A running run not heard of for this long is shown as abandoned (its host may be elsewhere).
RUNNING_STALE_S = 4 * HEARTBEAT_S

#: How an output column depends on an input column, as OpenLineage names it: kind -> type.
#: DIRECT: the value is computed from the column; INDIRECT: the column decides which rows count.
COLUMN_KINDS: dict[str, str] = {
    "identity": "DIRECT",
    "transformation": "DIRECT",
    "aggregation": "DIRECT",
    "join": "INDIRECT",
    "groupby": "INDIRECT",
    "filter": "INDIRECT",
    "sort": "INDIRECT",
    "window": "INDIRECT",
    "conditional": "INDIRECT",
}


def _check_id(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string, got {type(value).__name__}: {value!r}")
    if not value.strip():
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    if len(value) > MAX_ID_LENGTH:
        raise ValueError(f"{what} is {len(value)} characters long; the limit is {MAX_ID_LENGTH}")
    if not value.isascii() and has_surrogates(value):
        raise ValueError(
            f"{what} {value!r} holds a lone surrogate (an undecodable byte, as os.listdir and "
            "sys.argv give for a file name that is not UTF-8), which no store can encode; "
            "pass lineage_sdk.records.escape_surrogates(name), or a string id, which "
            "log_lineage escapes itself"
        )
    return value


def has_surrogates(text: str) -> bool:
    """Whether ``text`` holds a lone surrogate, so that it cannot be encoded as UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def escape_surrogates(text: str) -> str:
    """``text`` with each undecodable byte written as ``\\xNN`` (as Python shows it).

    Lossless for what ``os.fsdecode`` produced (``surrogateescape``): the bytes can be read back
    from the escapes. Text without lone surrogates is returned unchanged.
    """
    if text.isascii() or not has_surrogates(text):
        return text
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that is no escaped byte: keep its UTF-8 form
        raw = text.encode("utf-8", "surrogatepass")
    return raw.decode("utf-8", "backslashreplace")


def _validate_id(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    _check_id(value, f"{type(instance).__name__}.{attribute.name}")


def _validate_optional_text(
    instance: object, attribute: attrs.Attribute[Any], value: object
) -> None:
    if value is not None and not isinstance(value, str):
        raise TypeError(
            f"{type(instance).__name__}.{attribute.name} must be a string or None, "
            f"got {type(value).__name__}"
        )


def _str_tuple(value: Iterable[str]) -> tuple[str, ...]:
    # A bare string would silently become a tuple of characters.
    if isinstance(value, str):
        raise TypeError(f"expected a sequence of strings, got the string {value!r}")
    items = tuple(value)
    for item in items:
        if not isinstance(item, str):
            raise TypeError(
                f"expected a sequence of strings, found {type(item).__name__}: {item!r}"
            )
    return items


def check_metadata(value: Mapping[str, Any], what: str = "metadata") -> dict[str, Any]:
    """Return ``value`` as a plain dict after checking it is JSON and within the size limit."""
    if not isinstance(value, Mapping):
        raise TypeError(f"{what} must be a mapping, got {type(value).__name__}")
    plain = dict(value)
    for key in plain:
        if not isinstance(key, str):
            raise TypeError(f"{what} keys must be strings, got {type(key).__name__}: {key!r}")
    try:
        encoded = json.dumps(plain, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be JSON-serialisable (no NaN/Infinity): {exc}") from None
    size = len(encoded.encode("utf-8"))
    if size > MAX_METADATA_BYTES:
        raise ValueError(f"{what} is {size} bytes as JSON; the limit is {MAX_METADATA_BYTES}")
    # Round-trip through JSON so that what a store reads back equals what was recorded
    # (tuples become lists, for instance).
    result: dict[str, Any] = json.loads(encoded)
    return result


def _validate_metadata(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, dict):
        raise TypeError(f"{type(instance).__name__}.{attribute.name} must be a dict")
    checked = check_metadata(value, f"{type(instance).__name__}.{attribute.name}")
    if checked != value:
        raise ValueError(
            f"{type(instance).__name__}.{attribute.name} must hold plain JSON values "
            "(lists, not tuples); pass it through check_metadata()"
        )


def _validate_utc(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, _dt.datetime):
        raise TypeError(f"{type(instance).__name__}.{attribute.name} must be a datetime")
    if value.utcoffset() != _dt.timedelta(0):
        raise ValueError(f"{type(instance).__name__}.{attribute.name} must be timezone-aware UTC")


def _validate_schema_version(instance: object, attribute: attrs.Attribute[Any], value: int) -> None:
    if not isinstance(value, int) or not 1 <= value <= SCHEMA_VERSION:
        raise ValueError(
            f"{type(instance).__name__}.schema_version {value!r} is not one this release reads "
            f"(1..{SCHEMA_VERSION})"
        )


@attrs.frozen(slots=True)
class DataSource:
    """A raw source of data: a topic, a table, a file, a bucket.

    Example::

        DataSource("user_profiles_postgres_table", type="postgres_table",
                   schema=["user_id", "country", "registration_date"], owner="growth-team")
    """

    kind: ClassVar[str] = "DataSource"

    id: str = attrs.field(validator=_validate_id)
    type: str = attrs.field(validator=_validate_id)
    schema: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
    description: str | None = attrs.field(default=None, validator=_validate_optional_text)
    owner: str | None = attrs.field(default=None, validator=_validate_optional_text)
    location: str | None = attrs.field(default=None, validator=_validate_optional_text)
    tags: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
    schema_version: int = attrs.field(default=SCHEMA_VERSION, validator=_validate_schema_version)

    @classmethod
    def file(
        cls,
        path: str | os.PathLike[str],
        *,
        type: str = "file",
        schema: Iterable[str] = (),
        description: str | None = None,
        owner: str | None = None,
        tags: Iterable[str] = (),
    ) -> DataSource:
        """A file (or a dataset of partition files) whose id is its absolute, normalised path.

        The same file gets the same id from any working directory, and OpenLineage names it the
        way its file naming convention says (namespace ``file``, name = the absolute path).
        ``{name}`` fields make a partitioned dataset: one node for every file of the pattern; the
        partition a call reads is given with :meth:`partition` or :meth:`partition_of` and
        recorded on the run (``{{`` and ``}}`` are literal braces).

        Example::

            >>> clicks = DataSource.file("/data/raw_clicks/{date}.parquet")
            >>> clicks.id, clicks.partition_keys
            ('/data/raw_clicks/{date}.parquet', ('date',))
            >>> clicks.partition_of("/data/raw_clicks/2026-11-24.parquet").values
            (('date', '2026-11-24'),)
        """
        text = os.fspath(path)
        _check_id(text, "DataSource.file() path")
        absolute = os.path.abspath(os.path.expanduser(text))
        source = cls(
            absolute, type=type, schema=schema, description=description, owner=owner, tags=tags
        )
        source.partition_keys  # noqa: B018 - a malformed pattern fails here, naming it
        return source

    @property
    def partition_keys(self) -> tuple[str, ...]:
        """The ``{name}`` fields of a partitioned file dataset's id, in order (else empty)."""
        if self.type != "file":
            return ()
        return _pattern_keys(self.id)

    def partition(self, **values: object) -> Partition:
        """One partition of a partitioned file dataset: ``clicks.partition(date="2026-11-24")``.

        Stands for this dataset in ``inputs`` / ``outputs``; the run records the values and path.
        """
        keys = self.partition_keys
        if not keys:
            raise ValueError(
                f"DataSource {self.id!r} has no partition fields; create it with "
                "DataSource.file('.../{field}...')"
            )
        given = {k: str(v) for k, v in values.items()}
        if set(given) != set(keys):
            raise ValueError(
                f"partition of {self.id!r} takes exactly the fields {list(keys)}, "
                f"got {sorted(given)}"
            )
        for key, value in given.items():
            if not value or "/" in value or value in (".", "..") or "\x00" in value:
                raise ValueError(
                    f"partition value {key}={value!r} of {self.id!r} must be a non-empty path "
                    "segment (no '/', not '.' or '..')"
                )
        return Partition(self, tuple((k, given[k]) for k in keys))

    def partition_of(self, path: str | os.PathLike[str]) -> Partition:
        """The partition that ``path`` (relative paths from the working directory) is."""
        absolute = os.path.abspath(os.path.expanduser(os.fspath(path)))
        match = _pattern_regex(self.id).fullmatch(absolute) if self.partition_keys else None
        if match is None:
            raise ValueError(f"{absolute!r} is not a partition of {self.id!r}")
        return self.partition(**match.groupdict())

    def column(self, name: str, kind: str | None = None) -> ColumnRef:
        """A column of this source, to stand for it in a derivation mapping.

        ``kind`` says how the output depends on it, as OpenLineage names it: DIRECT
        (``identity``, ``transformation``, ``aggregation``) or INDIRECT (``join``, ``groupby``,
        ``filter``, ``sort``, ``window``, ``conditional``). With a declared ``schema`` the column
        must be one of it; without one any name is accepted.

        Example::

            >>> clicks = DataSource("clicks", type="kafka_topic", schema=["user_id", "ad_id"])
            >>> clicks.column("user_id", kind="groupby").name
            'user_id'
        """
        _check_id(name, f"a column name of DataSource {self.id!r}")
        if self.schema and name not in self.schema:
            raise ValueError(
                f"column {name!r} is not in the declared schema of DataSource {self.id!r}: "
                f"{list(self.schema)}"
            )
        return ColumnRef(self, name, kind)

    def __getitem__(self, name: str) -> ColumnRef:
        """``source["col"]`` is ``source.column("col")``."""
        return self.column(name)


def _pattern_keys(pattern: str) -> tuple[str, ...]:
    try:
        parsed = list(string.Formatter().parse(pattern))
    except ValueError as exc:
        raise ValueError(f"file pattern {pattern!r} is malformed: {exc}") from None
    keys: list[str] = []
    for _literal, field, spec, conversion in parsed:
        if field is None:
            continue
        if not field.isidentifier() or spec or conversion:
            raise ValueError(
                f"file pattern {pattern!r}: fields are plain names such as {{date}}, "
                f"got {{{field}}}"
            )
        if field in keys:
            raise ValueError(f"file pattern {pattern!r} names the field {field!r} twice")
        keys.append(field)
    return tuple(keys)


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    parts = []
    for literal, field, _spec, _conversion in string.Formatter().parse(pattern):
        parts.append(re.escape(literal))
        if field is not None:
            parts.append(f"(?P<{field}>[^/]+)")
    return re.compile("".join(parts))


def _validate_kind(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and value not in COLUMN_KINDS:
        raise ValueError(f"column kind {value!r} is not one of {', '.join(COLUMN_KINDS)} (or None)")


@attrs.frozen(slots=True)
class ColumnRef:
    """A column of a DataSource (``clicks["ad_id"]``): stands for the source in a derivation.

    Build it with :meth:`DataSource.column`, which checks the name against the declared schema.
    """

    source: DataSource = attrs.field(validator=attrs.validators.instance_of(DataSource))
    name: str = attrs.field(validator=_validate_id)
    kind: str | None = attrs.field(default=None, validator=_validate_kind)

    @property
    def id(self) -> str:
        """``source.column``, the form graph queries and the command line take."""
        return f"{self.source.id}.{self.name}"


@attrs.frozen(slots=True)
class Partition:
    """One partition of a partitioned file dataset; stands for the dataset in inputs / outputs."""

    source: DataSource
    values: tuple[tuple[str, str], ...]

    @property
    def path(self) -> str:
        """The partition's file path."""
        return self.source.id.format(**dict(self.values))


@attrs.frozen(slots=True)
class Feature:
    """A feature: a named, typed value computed per entity.

    Example::

        Feature("user_ctr_7d", description="7-day click-through rate", value_type="float",
                entity="user")
    """

    kind: ClassVar[str] = "Feature"

    id: str = attrs.field(validator=_validate_id)
    description: str | None = attrs.field(default=None, validator=_validate_optional_text)
    value_type: str | None = attrs.field(default=None, validator=_validate_optional_text)
    entity: str | None = attrs.field(default=None, validator=_validate_optional_text)
    tags: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
    schema_version: int = attrs.field(default=SCHEMA_VERSION, validator=_validate_schema_version)


#: What may stand as an input or output of a transformation.
Node = DataSource | Feature


@attrs.frozen(slots=True)
class CodeRef:
    """Where the code of a transformation lives. Fields are None where Python has no source."""

    module: str | None = None
    qualname: str | None = None
    file: str | None = None
    line_start: int | None = None
    line_end: int | None = None
    source_sha256: str | None = None


@attrs.frozen(slots=True)
class GitInfo:
    """The git state of the repository holding a transformation's code, when it ran."""

    commit: str
    branch: str | None = None
    tag: str | None = None
    describe: str | None = None
    dirty: bool | None = None
    remote_url: str | None = None


@attrs.frozen(slots=True)
class Transformation:
    """A transformation's declaration: the latest of these wins in every store.

    ``metadata`` holds the extra keyword arguments given to ``log_lineage`` (JSON values only).
    """

    kind: ClassVar[str] = "Transformation"

    id: str = attrs.field(validator=_validate_id)
    version: str | None = attrs.field(default=None, validator=_validate_optional_text)
    description: str | None = attrs.field(default=None, validator=_validate_optional_text)
    compute_framework: str | None = attrs.field(default=None, validator=_validate_optional_text)
    code_reference: str | None = attrs.field(default=None, validator=_validate_optional_text)
    metadata: dict[str, Any] = attrs.field(factory=dict, validator=_validate_metadata, hash=False)
    schema_version: int = attrs.field(default=SCHEMA_VERSION, validator=_validate_schema_version)


def _derivation(
    value: Iterable[tuple[str, Iterable[str]]],
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple((out, _str_tuple(ins)) for out, ins in value)


@attrs.frozen(slots=True)
class ColumnEdge:
    """On a run: ``output`` was derived from column ``column`` of ``source`` (``kind`` if known).

    An output whose derivation names a source without any of its columns depends on all of them.
    """

    output: str = attrs.field(validator=_validate_id)
    source: str = attrs.field(validator=_validate_id)
    column: str = attrs.field(validator=_validate_id)
    kind: str | None = attrs.field(default=None, validator=_validate_kind)


def _str_pairs(value: Iterable[Iterable[str]]) -> tuple[tuple[str, str], ...]:
    pairs = tuple(tuple(pair) for pair in value)
    for pair in pairs:
        if len(pair) != 2 or not all(isinstance(x, str) for x in pair):
            raise TypeError(f"expected (name, value) pairs of strings, got {pair!r}")
    return pairs  # type: ignore[return-value]  # length checked above


@attrs.frozen(slots=True)
class PartitionRead:
    """On a run: the partition of a partitioned file dataset (``node``) it read or wrote."""

    node: str = attrs.field(validator=_validate_id)
    path: str = attrs.field(validator=_validate_id)
    values: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_str_pairs)


def _column_edge_tuple(value: Iterable[ColumnEdge]) -> tuple[ColumnEdge, ...]:
    items = tuple(value)
    for item in items:
        if not isinstance(item, ColumnEdge):
            raise TypeError(f"expected ColumnEdge items, got {type(item).__name__}")
    return items


def _partition_tuple(value: Iterable[PartitionRead]) -> tuple[PartitionRead, ...]:
    items = tuple(value)
    for item in items:
        if not isinstance(item, PartitionRead):
            raise TypeError(f"expected PartitionRead items, got {type(item).__name__}")
    return items


@attrs.frozen(slots=True)
class Run:
    """One execution of a decorated function.

    ``derivation`` pairs each output with the inputs it was derived from, so that the graph can
    tell ``user_clicks_7d`` comes from clicks only even though both leave the same transformation.
    ``column_derivation`` narrows a pair to the source's columns it names; ``partitions`` holds
    the partitions of file datasets the run read or wrote.
    """

    kind: ClassVar[str] = "Run"

    run_id: str = attrs.field(validator=_validate_id)
    transformation: str = attrs.field(validator=_validate_id)
    status: RunStatus = attrs.field(validator=attrs.validators.in_(RUN_STATUSES))
    started_at: _dt.datetime = attrs.field(validator=_validate_utc)
    ended_at: _dt.datetime = attrs.field(validator=_validate_utc)
    duration_s: float = attrs.field(validator=attrs.validators.instance_of(float))
    inputs: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
    outputs: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
    derivation: tuple[tuple[str, tuple[str, ...]], ...] = attrs.field(
        default=(), converter=_derivation
    )
    column_derivation: tuple[ColumnEdge, ...] = attrs.field(
        default=(), converter=_column_edge_tuple
    )
    partitions: tuple[PartitionRead, ...] = attrs.field(default=(), converter=_partition_tuple)
    parent_run_id: str | None = attrs.field(default=None, validator=_validate_optional_text)
    parent_transformation: str | None = attrs.field(default=None, validator=_validate_optional_text)
    version: str | None = attrs.field(default=None, validator=_validate_optional_text)
    namespace: str = "default"
    error_type: str | None = attrs.field(default=None, validator=_validate_optional_text)
    error_message: str | None = attrs.field(default=None, validator=_validate_optional_text)
    error_stack: str | None = attrs.field(default=None, validator=_validate_optional_text)
    code: CodeRef | None = None
    git: GitInfo | None = None
    code_reference: str | None = attrs.field(default=None, validator=_validate_optional_text)
    host: str | None = None
    pid: int | None = None
    python_version: str | None = None
    sdk_version: str | None = None
    schema_version: int = attrs.field(default=SCHEMA_VERSION, validator=_validate_schema_version)

    def edges(self) -> tuple[tuple[str, str], ...]:
        """``(input, output)`` pairs this run establishes, honouring per-output derivation."""
        return tuple((src, out) for out, ins in self.derivation for src in ins)


#: Every kind of record a sink receives.
Record = DataSource | Feature | Transformation | Run


def _make_trusted_run() -> Any:
    # Generated once: one slot-descriptor store per field, no converter, validator or loop.
    names = [a.name for a in attrs.fields(Run)]
    namespace: dict[str, Any] = {"_new": object.__new__, "Run": Run}
    params, body = [], ["    run = _new(Run)"]
    for a in attrs.fields(Run):
        namespace[f"_default_{a.name}"] = a.default
        namespace[f"_set_{a.name}"] = Run.__dict__[a.name].__set__
        params.append(f"{a.name}=_default_{a.name}")
        body.append(f"    _set_{a.name}(run, {a.name})")
    source = f"def trusted_run(*, {', '.join(params)}):\n" + "\n".join(body) + "\n    return run\n"
    exec(compile(source, "<lineage_sdk trusted_run>", "exec"), namespace)  # noqa: S102
    assert len(names) == len(params)
    return namespace["trusted_run"]


#: Build a Run from values the SDK produced and checked itself, skipping converters and
#: validators: the decorator's hot path, whose ids were validated at decoration time and whose
#: times are UTC by construction.
trusted_run: Any = _make_trusted_run()


#: A declaration: what a later one of the same id merges into (see :func:`merge_declaration`).
Declaration = DataSource | Feature | Transformation

_FACTORY: type[Any] = type(attrs.Factory(dict))  # attrs types Factory as a function
# Fields that identify a declaration or its format rather than say something about it.
_NOT_DECLARED = frozenset({"id", "schema_version"})


_D = TypeVar("_D", bound="DataSource | Feature | Transformation")


def merge_declaration(earlier: Declaration | None, later: _D) -> _D:
    """``later`` over ``earlier``: the one rule every store reads and writes declarations by.

    A field ``later`` names (any value other than its default) replaces ``earlier``'s; a field
    left at its default keeps what ``earlier`` set, so a partial re-declaration erases nothing.
    A declaration of another kind (a Feature re-declared as a DataSource) replaces it whole.

    Example::

        >>> merge_declaration(Feature("f", description="CTR", entity="user"),
        ...                   Feature("f", value_type="float")).description
        'CTR'
    """
    if earlier is None or type(earlier) is not type(later) or earlier == later:
        return later
    kept = {}
    for field in attrs.fields(type(later)):
        if field.name in _NOT_DECLARED:
            continue
        value = getattr(later, field.name)
        default = field.default
        if isinstance(default, _FACTORY):
            default = default.factory()
        if value == default:
            kept[field.name] = getattr(earlier, field.name)
    return attrs.evolve(later, **kept) if kept else later


def declaration_changes(earlier: Declaration | None, later: Declaration) -> tuple[str, ...]:
    """The fields whose values differ between two declarations of an id, in field order.

    Every field when ``earlier`` is None or of another kind; empty when they are identical.
    """
    fields = [f.name for f in attrs.fields(type(later)) if f.name not in _NOT_DECLARED]
    if earlier is None or type(earlier) is not type(later):
        return tuple(fields) if earlier is not None else ()
    return tuple(n for n in fields if getattr(earlier, n) != getattr(later, n))
