"""The one place that turns records into plain JSON and back.

Every record becomes a JSON object with a ``record_type`` tag and its ``schema_version``. Readers
accept every schema version up to :data:`~lineage_sdk.records.SCHEMA_VERSION`, upgrading older ones
through :data:`_UPGRADES`, and ignore keys they do not know (a newer writer's additions).

Example::

    >>> from lineage_sdk.records import Feature
    >>> text = dumps(Feature("user_ctr_7d"))
    >>> loads(text) == Feature("user_ctr_7d")
    True
"""

from __future__ import annotations

import datetime as _dt
import itertools
import json
import math
import operator
from collections.abc import Callable
from typing import Any

import attrs

from ._version import DISTRIBUTION
from .pending import PendingRun, utc_isoformat
from .records import SCHEMA_VERSION, DataSource, Feature, Record, Run, Transformation

__all__ = [
    "RECORD_TYPES",
    "RunLines",
    "UnsupportedRecord",
    "converter",
    "dumps",
    "from_dict",
    "line_safe",
    "loads",
    "to_dict",
]


class UnsupportedRecord(ValueError):
    """A stored record this release cannot read (unknown type or a newer schema version)."""


_converter: Any = None


def converter() -> Any:
    """The one cattrs converter of the SDK (built on first use: cattrs is slow to import)."""
    global _converter
    if _converter is None:
        import cattrs

        conv = cattrs.Converter()
        # datetimes travel as ISO 8601 with an explicit offset; fromisoformat reads them exactly.
        conv.register_unstructure_hook(_dt.datetime, lambda d: d.isoformat())
        conv.register_structure_hook(_dt.datetime, lambda v, _: _dt.datetime.fromisoformat(v))
        _converter = conv
    return _converter


#: JSON tag <-> record class.
RECORD_TYPES: dict[str, type[Any]] = {
    "data_source": DataSource,
    "feature": Feature,
    "transformation": Transformation,
    "run": Run,
}
_TAGS: dict[type[Any], str] = {cls: tag for tag, cls in RECORD_TYPES.items()}

#: (record_type, schema_version) -> function upgrading a dict of that version to the next one.
_UPGRADES: dict[tuple[str, int], Callable[[dict[str, Any]], dict[str, Any]]] = {}


def _run_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    # Version 1 runs knew no columns and no partitions: every derivation is whole-source.
    return {**data, "column_derivation": [], "partitions": []}


def _unchanged(data: dict[str, Any]) -> dict[str, Any]:
    return data


for _tag in RECORD_TYPES:
    _UPGRADES[(_tag, 1)] = _run_v1_to_v2 if _tag == "run" else _unchanged


def to_dict(record: Record) -> dict[str, Any]:
    """Return ``record`` as a dict of plain JSON values, tagged with its ``record_type``."""
    data: dict[str, Any] = converter().unstructure(record)
    data["record_type"] = _TAGS[type(record)]
    return data


def from_dict(data: dict[str, Any]) -> Record:
    """Build a record from :func:`to_dict` output of this or any earlier schema version.

    Raises :class:`UnsupportedRecord` for an unknown ``record_type`` or a newer schema version.
    """
    if not isinstance(data, dict):
        raise UnsupportedRecord(f"a record must be a JSON object, got {type(data).__name__}")
    tag = data.get("record_type")
    cls = RECORD_TYPES.get(tag) if isinstance(tag, str) else None
    if cls is None:
        raise UnsupportedRecord(f"unknown record_type {tag!r}")
    version = data.get("schema_version", 1)
    if not isinstance(version, int) or version < 1:
        raise UnsupportedRecord(f"bad schema_version {version!r} in a {tag} record")
    if version > SCHEMA_VERSION:
        raise UnsupportedRecord(
            f"a {tag} record has schema_version {version}; this release reads up to "
            f"{SCHEMA_VERSION}: pip install --upgrade {DISTRIBUTION}"
        )
    data = dict(data)
    while version < SCHEMA_VERSION:
        data = _UPGRADES[(tag, version)](data)  # type: ignore[index]
        version += 1
        data["schema_version"] = version
    data.pop("record_type", None)
    try:
        record: Record = converter().structure(data, cls)
    except Exception as exc:  # cattrs wraps validation errors in an ExceptionGroup
        raise UnsupportedRecord(f"invalid {tag} record: {_describe(exc)}") from exc
    return record


def _describe(exc: BaseException) -> str:
    inner = getattr(exc, "exceptions", None)  # ExceptionGroup on 3.11+, its backport on 3.10
    if inner:
        return _describe(inner[0])
    return f"{type(exc).__name__}: {exc}"


# One encoder, built once: json.dumps with options builds a new encoder on every call.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


# U+2028, U+2029 and U+0085 end a line for str.splitlines() (and for JavaScript before ES2019),
# so a record holding one would read as two lines. A lone surrogate (an undecodable byte of a
# file name, through os.listdir or sys.argv) cannot be written as UTF-8 at all. JSON's \\u
# escape keeps both exact, and they only ever occur inside JSON strings.
_LINE_SAFE = {c: f"\\u{c:04x}" for c in (0x85, 0x2028, 0x2029, *range(0xD800, 0xE000))}


def line_safe(text: str) -> str:
    """``text`` (JSON) with line separators and lone surrogates escaped; ASCII costs one check."""
    return text if text.isascii() else text.translate(_LINE_SAFE)


def dumps(record: Record) -> str:
    """Serialise one record as a single line of JSON, for every line splitter.

    UTF-8 text stays readable; U+2028, U+2029, U+0085 and lone surrogates are ``\\u``-escaped,
    so the line can always be encoded and reads back exactly.
    """
    return line_safe(_encode(to_dict(record)))


def loads(text: str | bytes) -> Record:
    """Parse one line written by :func:`dumps`."""
    return from_dict(json.loads(text))


#: Fields of a Run that consecutive runs of one function in one process share (its revision and
#: process: see lineage_sdk.revisions), in the order to_dict writes them.
_SHARED_RUN_FIELDS = tuple(
    a.name
    for a in attrs.fields(Run)
    if a.name
    in {
        "transformation", "version", "inputs", "outputs", "derivation", "column_derivation",
        "code", "git", "code_reference", "host", "pid", "python_version", "sdk_version",
        "namespace",
    }
)  # fmt: skip
_CACHE_LIMIT = 1024


#: The other fields of a Run, in order: rendered per run into the template.
_OWN_RUN_FIELDS = tuple(a.name for a in attrs.fields(Run) if a.name not in _SHARED_RUN_FIELDS)
_encode_str = json.encoder.encode_basestring  # the C function the encoder uses for a str
#: The fields a pending run fills into its revision's template, in to_dict's order (what else
#: is a run's own, its partitions and schema version, is fixed by its revision key).
_PER_CALL_FIELDS = tuple(
    name for name in _OWN_RUN_FIELDS if name not in {"partitions", "schema_version"}
)
# A completed run without parent: only its id and times vary. The template is split at the
# markers (a NUL, which JSON text never holds unescaped) into the pieces between them.
_PLAIN = {
    "run_id": '"\x00"',
    "started_at": '"\x00"',
    "ended_at": '"\x00"',
    "duration_s": "\x00",
    "status": '"completed"',
    "parent_run_id": "null",
    "parent_transformation": "null",
    "error_type": "null",
    "error_message": "null",
    "error_stack": "null",
}


def _json_value(value: Any) -> str:
    """One run-own field as JSON text, exactly as the encoder writes it inside ``dumps``."""
    if value is None:
        return "null"
    cls = type(value)
    if cls is tuple and not value:  # partitions, as most runs have them
        return "[]"
    if cls is str:
        return _encode_str(value)
    if cls is _dt.datetime:
        return _encode_str(value.isoformat())
    if cls is int or (cls is float and math.isfinite(value)):
        return repr(value)  # what the encoder writes for them
    return _encode(converter().unstructure(value))  # NaN (refused as dumps does), anything else


class RunLines:
    """Renders runs as JSON lines identical to :func:`dumps`, from a template per revision.

    A run's shared fields (its revision and process: transformation, lineage, code, git, host...)
    are the same objects from one call of a decorated function to the next. They are rendered
    once into a %-template whose slots are the run's own fields (ids, status, times, error), so a
    line costs one encoding per own field and one string format. Thread-safe: the cached pair is
    replaced in one assignment.
    """

    __slots__ = ("_cache", "_last", "_last_pending", "_pending")

    def __init__(self) -> None:
        self._last: tuple[tuple[Any, ...], str] = ((), "")
        self._cache: dict[tuple[Any, ...], str] = {}
        self._last_pending: tuple[tuple[object, ...], tuple[str, tuple[str, ...]]] = (
            (),
            ("", ()),
        )
        # id()s of a revision key -> (the key, kept so that no id is reused while cached; the
        # revision's templates: any run's, and a completed run's without parent)
        self._pending: dict[
            tuple[int, ...], tuple[tuple[object, ...], tuple[str, tuple[str, ...]]]
        ] = {}

    def pending_line(self, run: PendingRun) -> str:
        """``dumps(run.to_run())``, byte for byte, without building the Run (but the first of
        each revision): the template of the run's revision with its own fields filled in."""
        last_key, templates = self._last_pending
        if not run.same_revision(last_key):  # the same revision as last time: no key to build
            templates = self._pending_templates(run, run.revision_key())
        started = run.started_ns
        duration = run.duration_ns
        parent_id, parent_transformation = run.parent_ids()
        if parent_id is None and run.status == "completed":
            # The common line: only the id and the times vary. Joining the template's pieces
            # with them costs half of a %-format, which scans the whole (long) template.
            pieces = templates[1]
            return "".join((
                pieces[0],
                run.run_id,  # a UUID: hex digits and dashes
                pieces[1],
                utc_isoformat(started),
                pieces[2],
                utc_isoformat(started + duration),
                pieces[3],
                repr(duration / 1e9),  # what the encoder writes for a float
                pieces[4],
            ))  # fmt: skip
        error_type, error_message, error_stack = run.error_fields()
        text = templates[0] % (
            _encode_str(run.run_id),
            _encode_str(run.status),
            f'"{utc_isoformat(started)}"',
            f'"{utc_isoformat(started + duration)}"',
            repr(duration / 1e9),
            "null" if parent_id is None else _encode_str(parent_id),
            "null" if parent_transformation is None else _encode_str(parent_transformation),
            "null" if error_type is None else _encode_str(error_type),
            "null" if error_message is None else _encode_str(error_message),
            "null" if error_stack is None else _encode_str(error_stack),
        )
        return line_safe(text)

    def _pending_templates(
        self, run: PendingRun, key: tuple[object, ...]
    ) -> tuple[str, tuple[str, ...]]:
        ids = tuple(map(id, key))
        found = self._pending.get(ids)
        if found is None:
            if len(self._pending) >= _CACHE_LIMIT:
                self._pending.clear()
            first = run.to_run()
            general = self._template(first, _PER_CALL_FIELDS)
            # "%%" -> "%": the pieces are joined, not formatted
            plain = tuple(self._template(first, (), _PLAIN).replace("%%", "%").split("\x00"))
            assert len(plain) == 5
            found = self._pending[ids] = (key, (general, plain))
        self._last_pending = (key, found[1])
        return found[1]

    def line(self, run: Run) -> str:
        """``dumps(run)``, byte for byte."""
        key = tuple(map(getattr, itertools.repeat(run), _SHARED_RUN_FIELDS))
        last_key, template = self._last
        if len(last_key) != len(key) or not all(map(operator.is_, key, last_key)):
            found = self._cache.get(key)
            if found is None:
                found = self._template(run)
                if len(self._cache) >= _CACHE_LIMIT:
                    self._cache.clear()
                self._cache[key] = found
            template = found
            self._last = (key, template)
        own = tuple(_json_value(getattr(run, name)) for name in _OWN_RUN_FIELDS)
        return line_safe(template % own)

    @staticmethod
    def _template(
        run: Run, slots: tuple[str, ...] = (), fixed: dict[str, str] | None = None
    ) -> str:
        # Once per revision and process: the full record, its own fields (or ``slots``) turned
        # into %s slots, in the order to_dict writes them; ``fixed`` fields get the JSON given.
        data = to_dict(run)
        slots = slots or _OWN_RUN_FIELDS
        parts = []
        for name, value in data.items():
            if fixed is not None and name in fixed:
                parts.append(f"{_encode_str(name)}:{fixed[name]}")
            elif fixed is None and name in slots:
                parts.append(f"{_encode_str(name)}:%s")
            else:
                rendered = f"{_encode_str(name)}:{_encode(value)}"
                parts.append(line_safe(rendered).replace("%", "%%"))
        return "{" + ",".join(parts) + "}"
