"""Sink strings: the ``LINEAGE_SINK`` forms, parsed into :class:`SinkTarget`, and secrets kept
out of what is shown.

Part of the configuration (:mod:`lineage_sdk.config` declares the options and re-exports the
public names); apart because parsing store strings is a concern of its own, also used by the CLI
and the stores.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

import attrs

from .errors import ConfigError

__all__ = [
    "BUILTIN_SCHEMES",
    "FACTORY_RE",
    "PG_SCHEMA_FORMS",
    "PG_SCHEMES",
    "SINK_FORMS",
    "Invalid",
    "SinkTarget",
    "bad",
    "parse_pg_schema",
    "parse_sinks",
    "redact_secrets",
    "schema_value",
    "shown",
    "sinks_text",
    "sinks_value",
]

BUILTIN_SCHEMES = ("memory", "none", "json", "sqlite", "openlineage", "postgresql")
#: ``postgresql://URL``, ``postgres://URL`` and ``postgresql:KEY=VALUE ...``: a PostgreSQL store.
PG_SCHEMES = ("postgresql", "postgres")
SINK_FORMS = (
    "comma-separated list of: memory, json:PATH, sqlite:PATH, postgresql://USER@HOST:PORT/DB "
    "(also postgres://..., or postgresql: followed by libpq KEY=VALUE pairs), openlineage, none, "
    "an installed plug-in name (entry point group 'lineage_sdk.sinks', optionally NAME:ARG), "
    "or module:attr naming a sink factory"
)
_DOTTED = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
FACTORY_RE = re.compile(rf"^{_DOTTED}:{_DOTTED}$")
_PLUGIN_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_KV_PASSWORD_RE = re.compile(r"""(password\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s&]*)""", re.IGNORECASE)
_URL_USERINFO_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)(.*)$", re.DOTALL)


def redact_secrets(text: str) -> str:
    """``text`` with the password of a DSN (URL user-info, ``password=``) replaced by ``***``.

    >>> redact_secrets("postgresql://ann:hunter2@db/lineage")
    'postgresql://ann:***@db/lineage'
    >>> redact_secrets("host=db password='a b' user=ann")
    'host=db password=*** user=ann'
    """
    # The last "@" ends the user-info: an unencoded "@" in a password must not leak its tail.
    head, at, tail = text.rpartition("@")
    url = _URL_USERINFO_RE.match(head) if at else None
    if url is not None:
        user, colon, _ = url.group(2).partition(":")
        text = f"{url.group(1)}{user}{':***' if colon else ''}@{tail}"
    return _KV_PASSWORD_RE.sub(lambda m: m.group(1) + "***", text)


def _redacted_repr(value: str | None) -> str:
    return repr(value if value is None else redact_secrets(value))


class Invalid(ValueError):
    """A refused value: ``why``, and ``value``, the part at fault when narrower than the whole."""

    def __init__(self, why: str, value: object = None) -> None:
        super().__init__(why)
        self.why = why
        self.value = value


@attrs.frozen(slots=True)
class SinkTarget:
    """One parsed entry of ``LINEAGE_SINK``.

    ``scheme`` is a built-in scheme, ``plugin`` (an entry-point name, ``value`` = ``NAME[:ARG]``),
    ``factory`` (``value`` = ``module:attr``) or ``object`` (a sink object given to
    ``configure()``, ``value`` = its name). For ``json`` and ``sqlite``, ``value`` is an absolute
    path; for ``postgresql`` the DSN (a URL, or libpq ``KEY=VALUE`` pairs). ``str()`` and
    ``repr()`` never show a password; ``value`` keeps it for connecting.
    """

    scheme: str
    value: str | None = attrs.field(default=None, repr=_redacted_repr)

    def __str__(self) -> str:
        if self.scheme in ("plugin", "factory", "object"):
            return self.value or ""
        if self.scheme == "postgresql":
            dsn = redact_secrets(self.value or "")
            return dsn if "://" in dsn else f"postgresql:{dsn}"
        return self.scheme if self.value is None else f"{self.scheme}:{self.value}"


def shown(origin: str, value: object) -> str:
    """A value as an error shows it, by where it came from.

    ``origin`` is an environment variable (``LINEAGE_SINK`` -> ``LINEAGE_SINK='x'``), a function
    argument spelled with parentheses (``configure(sinks)`` -> ``configure(sinks='x')``), or
    another label such as a CLI option (``--store`` -> ``--store='x'``).
    """
    if isinstance(value, str):
        value = redact_secrets(value)  # a DSN's password never reaches an error message
    if origin.endswith(")"):
        return f"{origin[:-1]}={value!r})"
    return f"{origin}={value!r}"


def bad(origin: str, value: object, accepted: str, why: str = "") -> ConfigError:
    reason = f" ({why})" if why else ""
    return ConfigError(f"{shown(origin, value)} is not valid{reason}; accepted: {accepted}")


def _parse_path(raw: str, cwd: Path, entry: str) -> str:
    if raw.startswith("///"):  # tolerate URL form sqlite:///abs/path
        raw = raw[2:]
    if not raw.strip():
        raise Invalid("the path is empty", entry)
    path = Path(os.path.expanduser(raw))
    if not path.is_absolute():
        path = cwd / path
    return os.path.normpath(path)


def sinks_text(value: str, cwd: Path) -> tuple[SinkTarget, ...]:
    entries = [e.strip() for e in value.split(",")]
    if not value.strip() or any(not e for e in entries):
        raise Invalid("empty entry")
    targets: list[SinkTarget] = []
    for entry in entries:
        scheme, colon, rest = entry.partition(":")
        low = scheme.lower()
        if low in ("memory", "none", "openlineage") and not colon:
            targets.append(SinkTarget(low))
        elif low in ("json", "sqlite") and colon:
            targets.append(SinkTarget(low, _parse_path(rest, cwd, entry)))
        elif low in PG_SCHEMES and colon:
            # A URL stays whole (libpq parses it); after "postgresql:" come KEY=VALUE pairs, or
            # nothing at all: then libpq's PGHOST, PGSERVICE... decide.
            targets.append(SinkTarget("postgresql", entry if rest.startswith("//") else rest))
        elif low in BUILTIN_SCHEMES:
            expected = {"json": "json:PATH", "sqlite": "sqlite:PATH"}.get(low, low)
            if low == "postgresql":
                expected = "postgresql://USER@HOST:PORT/DB or postgresql:KEY=VALUE ..."
            raise Invalid(f"write it as {expected}", entry)
        elif FACTORY_RE.match(entry) and "." in scheme:
            targets.append(SinkTarget("factory", entry))
        elif _PLUGIN_RE.match(scheme):
            targets.append(SinkTarget("plugin", entry))
        else:
            raise Invalid("unknown scheme", entry)
    if any(t.scheme == "none" for t in targets):
        if len(targets) > 1:
            raise Invalid("'none' cannot be combined with other sinks")
        return ()
    return tuple(targets)


def sinks_value(value: object, cwd: Path) -> tuple[SinkTarget, ...]:
    """A ``LINEAGE_SINK`` string, or a sequence of such strings and parsed targets."""
    if isinstance(value, str):
        return sinks_text(value, cwd)
    if not isinstance(value, Iterable):
        raise Invalid(f"got {type(value).__name__}")
    targets: list[SinkTarget] = []
    for item in value:
        if isinstance(item, SinkTarget):
            targets.append(item)
        elif isinstance(item, str):
            targets.extend(sinks_text(item, cwd))
        else:
            raise Invalid(f"an item is {type(item).__name__}", item)
    return tuple(targets)


_SCHEMA_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def schema_value(value: object, cwd: Path) -> str:
    if not isinstance(value, str):
        raise Invalid(f"got {type(value).__name__}")
    if not _SCHEMA_RE.match(value.strip()):
        raise Invalid("not a schema name")
    return value.strip()


#: What a PostgreSQL schema name may be.
PG_SCHEMA_FORMS = "a schema name of letters, digits and _ (at most 63), not starting with a digit"


def parse_pg_schema(value: str | None, origin: str) -> str | None:
    """A PostgreSQL schema name, or None for none; ConfigError naming ``origin`` otherwise."""
    if value is None or not value.strip():
        return None
    try:
        return schema_value(value, Path())
    except Invalid as exc:
        raise bad(origin, value, PG_SCHEMA_FORMS, exc.why) from None


def parse_sinks(value: str, cwd: Path, variable: str = "LINEAGE_SINK") -> tuple[SinkTarget, ...]:
    """Parse a ``LINEAGE_SINK`` value; relative paths are resolved against ``cwd``.

    >>> parse_sinks("memory, json:/tmp/l.jsonl", Path("/"))
    (SinkTarget(scheme='memory', value=None), SinkTarget(scheme='json', value='/tmp/l.jsonl'))
    >>> parse_sinks("none", Path("/"))
    ()
    """
    try:
        return sinks_text(value, cwd)
    except Invalid as exc:
        shown = value if exc.value is None else exc.value
        raise bad(variable, shown, SINK_FORMS, exc.why) from None
