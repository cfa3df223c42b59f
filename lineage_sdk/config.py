"""Configuration: environment variables (and ``configure()`` options) -> one immutable Settings.

Everything here is a pure function of its inputs (the environment mapping and the working
directory), so every accepted and rejected form is tested without touching the process.

- ``LINEAGE_SINK``: comma-separated ``memory``, ``json:PATH``, ``sqlite:PATH``, ``openlineage``,
  ``none``, an entry-point name or ``module:attr``; default ``sqlite:lineage.db`` in the working
  directory.
- ``LINEAGE_ENABLED`` (``1``/``0``, default ``1``), ``LINEAGE_ASYNC`` (default ``0``),
  ``LINEAGE_CAPTURE_GIT`` (default ``1``).
- ``LINEAGE_ON_ERROR``: ``warn`` (default), ``ignore`` or ``raise``.
- ``LINEAGE_NAMESPACE``: text, default ``default``.
- ``LINEAGE_PG_SCHEMA``: the PostgreSQL schema of the tables when the DSN has no ``?schema=``
  (default: the server's search path, usually ``public``).
- ``LINEAGE_PG_CONNECT_TIMEOUT``: seconds a PostgreSQL connection attempt may take (default 5).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import attrs

from .errors import ConfigError

__all__ = [
    "BUILTIN_SCHEMES",
    "ENV_VARS",
    "PG_SCHEMES",
    "OnError",
    "Settings",
    "SinkTarget",
    "parse_bool",
    "parse_sinks",
    "redact_secrets",
    "settings_from_env",
]

OnError = Literal["warn", "ignore", "raise"]
ON_ERROR_VALUES: tuple[OnError, ...] = ("warn", "ignore", "raise")
BUILTIN_SCHEMES = ("memory", "none", "json", "sqlite", "openlineage", "postgresql")
#: ``postgresql://URL``, ``postgres://URL`` and ``postgresql:KEY=VALUE ...``: a PostgreSQL store.
PG_SCHEMES = ("postgresql", "postgres")
DEFAULT_PG_CONNECT_TIMEOUT_S = 5.0
DEFAULT_STORE = "lineage.db"
ENV_VARS = (
    "LINEAGE_SINK",
    "LINEAGE_ENABLED",
    "LINEAGE_ASYNC",
    "LINEAGE_ON_ERROR",
    "LINEAGE_NAMESPACE",
    "LINEAGE_CAPTURE_GIT",
    "LINEAGE_PG_SCHEMA",
    "LINEAGE_PG_CONNECT_TIMEOUT",
)

SINK_FORMS = (
    "comma-separated list of: memory, json:PATH, sqlite:PATH, postgresql://USER@HOST:PORT/DB "
    "(also postgres://..., or postgresql: followed by libpq KEY=VALUE pairs), openlineage, none, "
    "an installed plug-in name (entry point group 'lineage_sdk.sinks', optionally NAME:ARG), "
    "or module:attr naming a sink factory"
)
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
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


@attrs.frozen(slots=True)
class SinkTarget:
    """One parsed entry of ``LINEAGE_SINK``.

    ``scheme`` is a built-in scheme, ``plugin`` (an entry-point name, ``value`` = ``NAME[:ARG]``)
    or ``factory`` (``value`` = ``module:attr``). For ``json`` and ``sqlite``, ``value`` is an
    absolute path; for ``postgresql`` the DSN (a URL, or libpq ``KEY=VALUE`` pairs). ``str()``
    and ``repr()`` never show a password; ``value`` keeps it for connecting.
    """

    scheme: str
    value: str | None = attrs.field(default=None, repr=_redacted_repr)

    def __str__(self) -> str:
        if self.scheme in ("plugin", "factory"):
            return self.value or ""
        if self.scheme == "postgresql":
            dsn = redact_secrets(self.value or "")
            return dsn if "://" in dsn else f"postgresql:{dsn}"
        return self.scheme if self.value is None else f"{self.scheme}:{self.value}"


@attrs.frozen(slots=True)
class Settings:
    """The effective configuration. Build it with :func:`settings_from_env`."""

    sinks: tuple[SinkTarget, ...]
    enabled: bool = True
    async_delivery: bool = False
    on_error: OnError = "warn"
    namespace: str = "default"
    capture_git: bool = True
    queue_size: int = 10_000
    flush_interval_s: float = 1.0
    pg_schema: str | None = None
    pg_connect_timeout_s: float = DEFAULT_PG_CONNECT_TIMEOUT_S


def _bad(variable: str, value: str, accepted: str, why: str = "") -> ConfigError:
    reason = f" ({why})" if why else ""
    value = redact_secrets(value)
    return ConfigError(f"{variable}={value!r} is not valid{reason}; accepted: {accepted}")


def parse_bool(value: str, variable: str) -> bool:
    """``1``/``0`` (also true/false, yes/no, on/off, any case)."""
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _bad(variable, value, "1 or 0 (also true/false, yes/no, on/off)")


def _parse_path(raw: str, cwd: Path, variable: str, entry: str) -> str:
    if raw.startswith("///"):  # tolerate URL form sqlite:///abs/path
        raw = raw[2:]
    if not raw.strip():
        raise _bad(variable, entry, SINK_FORMS, "the path is empty")
    path = Path(os.path.expanduser(raw))
    if not path.is_absolute():
        path = cwd / path
    return os.path.normpath(path)


def parse_sinks(value: str, cwd: Path, variable: str = "LINEAGE_SINK") -> tuple[SinkTarget, ...]:
    """Parse a ``LINEAGE_SINK`` value; relative paths are resolved against ``cwd``.

    >>> parse_sinks("memory, json:/tmp/l.jsonl", Path("/"))
    (SinkTarget(scheme='memory', value=None), SinkTarget(scheme='json', value='/tmp/l.jsonl'))
    >>> parse_sinks("none", Path("/"))
    ()
    """
    entries = [e.strip() for e in value.split(",")]
    if not value.strip() or any(not e for e in entries):
        raise _bad(variable, value, SINK_FORMS, "empty entry")
    targets: list[SinkTarget] = []
    for entry in entries:
        scheme, colon, rest = entry.partition(":")
        low = scheme.lower()
        if low in ("memory", "none", "openlineage") and not colon:
            targets.append(SinkTarget(low))
        elif low in ("json", "sqlite") and colon:
            targets.append(SinkTarget(low, _parse_path(rest, cwd, variable, entry)))
        elif low in PG_SCHEMES and colon:
            # A URL stays whole (libpq parses it); after "postgresql:" come KEY=VALUE pairs, or
            # nothing at all: then libpq's PGHOST, PGSERVICE... decide.
            targets.append(SinkTarget("postgresql", entry if rest.startswith("//") else rest))
        elif low in BUILTIN_SCHEMES:
            expected = {"json": "json:PATH", "sqlite": "sqlite:PATH"}.get(low, low)
            if low == "postgresql":
                expected = "postgresql://USER@HOST:PORT/DB or postgresql:KEY=VALUE ..."
            raise _bad(variable, entry, SINK_FORMS, f"write it as {expected}")
        elif FACTORY_RE.match(entry) and "." in scheme:
            targets.append(SinkTarget("factory", entry))
        elif _PLUGIN_RE.match(scheme):
            targets.append(SinkTarget("plugin", entry))
        else:
            raise _bad(variable, entry, SINK_FORMS, "unknown scheme")
    if any(t.scheme == "none" for t in targets):
        if len(targets) > 1:
            raise _bad(variable, value, SINK_FORMS, "'none' cannot be combined with other sinks")
        return ()
    return tuple(targets)


def settings_from_env(env: Mapping[str, str], cwd: Path) -> Settings:
    """Build :class:`Settings` from environment variables; raise ConfigError on a bad value."""
    raw_sink = env.get("LINEAGE_SINK")
    if raw_sink is None or not raw_sink.strip():
        sinks: tuple[SinkTarget, ...] = (SinkTarget("sqlite", str(cwd / DEFAULT_STORE)),)
    else:
        sinks = parse_sinks(raw_sink, cwd)
    raw_on_error = env.get("LINEAGE_ON_ERROR", "warn").strip().lower() or "warn"
    on_error = next((v for v in ON_ERROR_VALUES if v == raw_on_error), None)
    if on_error is None:
        raise _bad("LINEAGE_ON_ERROR", env["LINEAGE_ON_ERROR"], "warn, ignore or raise")
    namespace = env.get("LINEAGE_NAMESPACE", "default").strip() or "default"
    return Settings(
        sinks=sinks,
        enabled=parse_bool(env.get("LINEAGE_ENABLED", "1"), "LINEAGE_ENABLED"),
        async_delivery=parse_bool(env.get("LINEAGE_ASYNC", "0"), "LINEAGE_ASYNC"),
        on_error=on_error,
        namespace=namespace,
        capture_git=parse_bool(env.get("LINEAGE_CAPTURE_GIT", "1"), "LINEAGE_CAPTURE_GIT"),
        pg_schema=parse_pg_schema(env.get("LINEAGE_PG_SCHEMA"), "LINEAGE_PG_SCHEMA"),
        pg_connect_timeout_s=_parse_timeout(env.get("LINEAGE_PG_CONNECT_TIMEOUT")),
    )


_SCHEMA_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def parse_pg_schema(value: str | None, variable: str) -> str | None:
    """A PostgreSQL schema name: letters, digits and ``_``, not starting with a digit."""
    if value is None or not value.strip():
        return None
    if not _SCHEMA_RE.match(value.strip()):
        raise _bad(variable, value, "a schema name of letters, digits and _ (at most 63)")
    return value.strip()


def _parse_timeout(value: str | None) -> float:
    if value is None or not value.strip():
        return DEFAULT_PG_CONNECT_TIMEOUT_S
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= 3600:
        raise _bad("LINEAGE_PG_CONNECT_TIMEOUT", value, "seconds, a number above 0 (e.g. 5)")
    return seconds
