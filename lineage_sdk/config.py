"""Configuration: every option declared once, resolved into one immutable :class:`Settings`.

Each option is one field of :class:`Settings`, declared with :func:`option`: its environment
variable, its default and its kind (which parses environment text, checks values given in code,
and says which forms are accepted). Precedence: an explicit ``configure()`` argument, then the
environment, then the default. Errors name what was wrong where the user wrote it: the
``configure()`` argument, or the environment variable, with the accepted forms.

Everything here is a pure function of its inputs (the given values, the environment mapping and
the working directory), so every accepted and rejected form is tested without touching the process.
This is the only module that reads ``LINEAGE_*`` variables (:data:`ENV_VARS` lists them all):

- ``LINEAGE_SINK``: comma-separated ``memory``, ``json:PATH``, ``sqlite:PATH``,
  ``postgresql://USER@HOST:PORT/DB`` (also ``postgres://``, ``postgresql:KEY=VALUE ...``),
  ``openlineage``, ``none``, an entry-point name or ``module:attr``; default
  ``sqlite:lineage.db`` in the working directory.
- ``LINEAGE_ENABLED`` (``1``/``0``, default ``1``), ``LINEAGE_ASYNC`` (default ``0``),
  ``LINEAGE_CAPTURE_GIT`` (default ``1``).
- ``LINEAGE_ON_ERROR``: ``warn`` (default), ``ignore`` or ``raise``.
- ``LINEAGE_NAMESPACE``: text, default ``default``.
- ``LINEAGE_QUEUE_SIZE`` (default 10000) and ``LINEAGE_FLUSH_INTERVAL`` (seconds, default 1.0):
  the bounded queue of asynchronous delivery.
- ``LINEAGE_OPENLINEAGE_SOURCE_CODE`` (``1``/``0``, default ``0``): the OpenLineage sink adds the
  function's source code as a job facet.
- ``LINEAGE_GIT_BINARY`` (``1``/``0``, default ``1``): ``0`` reads git state from the repository's
  files only, never running ``git``.
- ``LINEAGE_PG_SCHEMA``: the PostgreSQL schema of the tables when the DSN has no ``?schema=``
  (default: the server's search path, usually ``public``).
- ``LINEAGE_PG_CONNECT_TIMEOUT``: seconds a PostgreSQL connection attempt may take (default 5).

Adding an option is one field in :class:`Settings`::

    capture_errors: bool = option("LINEAGE_CAPTURE_ERRORS", True, BOOL, "record error stacks")
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import attrs

from .errors import ConfigError
from .sink_strings import (
    BUILTIN_SCHEMES,
    PG_SCHEMA_FORMS,
    PG_SCHEMES,
    SINK_FORMS,
    Invalid,
    SinkTarget,
    bad,
    parse_pg_schema,
    parse_sinks,
    redact_secrets,
    schema_value,
    shown,
    sinks_text,
    sinks_value,
)

if TYPE_CHECKING:
    from .project_file import ProjectConfig

__all__ = [
    "BOOL",
    "BUILTIN_SCHEMES",
    "ENV_VARS",
    "NON_NEGATIVE_SECONDS",
    "PG_SCHEMES",
    "POSITIVE_INT",
    "POSITIVE_SECONDS",
    "TEXT",
    "Kind",
    "OnError",
    "Option",
    "Settings",
    "SinkTarget",
    "choice",
    "file_keys",
    "from_file",
    "option",
    "options",
    "parse_bool",
    "parse_pg_schema",
    "parse_sinks",
    "redact_secrets",
    "resolve_settings",
    "settings_from_env",
    "shown",
    "strict_from_env",
]

OnError = Literal["warn", "ignore", "raise"]
ON_ERROR_VALUES: tuple[OnError, ...] = ("warn", "ignore", "raise")
DEFAULT_PG_CONNECT_TIMEOUT_S = 5.0
DEFAULT_STORE = "lineage.db"

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


# --- kinds: how an option parses text, checks a value given in code, and says what it accepts ---
@attrs.frozen(slots=True)
class Kind:
    """The type of an option.

    ``from_text`` parses environment text; ``from_value`` checks a value given in code (``None``
    means: text only). Both take the working directory (for paths) and raise ``ValueError``
    with the reason; the caller names the argument or variable.
    """

    accepted: str
    from_text: Callable[[str, Path], Any]
    from_value: Callable[[object, Path], Any] | None = None
    #: An empty (or blank) environment value means the default, instead of an error.
    empty_is_default: bool = False


def parse_bool(value: str, variable: str) -> bool:
    """``1``/``0`` (also true/false, yes/no, on/off, any case)."""
    try:
        return _bool_text(value, Path())
    except Invalid:
        raise bad(variable, value, BOOL.accepted) from None


def _bool_text(text: str, cwd: Path) -> bool:
    low = text.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise Invalid("not a yes/no value")


def _bool_value(value: object, cwd: Path) -> bool:
    if isinstance(value, bool):
        return value
    raise Invalid(f"got {type(value).__name__}")


def _positive_int_text(text: str, cwd: Path) -> int:
    try:
        number = int(text.strip())
    except ValueError:
        raise Invalid("not a whole number") from None
    return _positive_int_value(number, cwd)


def _positive_int_value(value: object, cwd: Path) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"got {type(value).__name__}")
    if value < 1:
        raise Invalid("must be at least 1")
    return value


def _seconds(minimum_exclusive: bool) -> tuple[Callable[..., float], Callable[..., float]]:
    def from_value(value: object, cwd: Path) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise Invalid(f"got {type(value).__name__}")
        seconds = float(value)
        if not math.isfinite(seconds):
            raise Invalid("must be finite")
        if seconds < 0 or (minimum_exclusive and seconds == 0):
            raise Invalid("must be above 0" if minimum_exclusive else "must not be negative")
        return seconds

    def from_text(text: str, cwd: Path) -> float:
        try:
            number = float(text.strip())
        except ValueError:
            raise Invalid("not a number") from None
        return from_value(number, cwd)

    return from_text, from_value


def _text_value(value: object, cwd: Path) -> str:
    if not isinstance(value, str):
        raise Invalid(f"got {type(value).__name__}")
    text = value.strip()
    if not text:
        raise Invalid("empty")
    if any(not ch.isprintable() for ch in text):
        raise Invalid("contains control characters")
    return text


def choice(*values: str) -> Kind:
    """A kind accepting one of ``values`` (any case in the environment)."""
    accepted = ", ".join(values[:-1]) + f" or {values[-1]}" if len(values) > 1 else values[0]

    def from_value(value: object, cwd: Path) -> str:
        if not isinstance(value, str):
            raise Invalid(f"got {type(value).__name__}")
        if value not in values:
            raise Invalid("unknown value")
        return value

    return Kind(
        accepted,
        lambda text, cwd: from_value(text.strip().lower(), cwd),
        from_value,
        empty_is_default=True,
    )


BOOL = Kind("1 or 0 (also true/false, yes/no, on/off)", _bool_text, _bool_value)
POSITIVE_INT = Kind("a whole number, at least 1", _positive_int_text, _positive_int_value)
POSITIVE_SECONDS = Kind("a number of seconds above 0", *_seconds(minimum_exclusive=True))
NON_NEGATIVE_SECONDS = Kind("a number of seconds, 0 or more", *_seconds(minimum_exclusive=False))
TEXT = Kind("non-empty text", _text_value, _text_value, empty_is_default=True)
_ON_ERROR = choice(*ON_ERROR_VALUES)
CaptureErrors = Literal["full", "type", "none"]
CAPTURE_ERRORS_VALUES: tuple[CaptureErrors, ...] = ("full", "type", "none")
_CAPTURE_ERRORS = choice(*CAPTURE_ERRORS_VALUES)


# --- sinks ---------------------------------------------------------------------------------------
SINKS = Kind(SINK_FORMS, sinks_text, sinks_value, empty_is_default=True)


#: A PostgreSQL schema name (never quoted into SQL by hand: it is checked, then an identifier).
PG_SCHEMA = Kind(
    PG_SCHEMA_FORMS,
    schema_value,
    lambda value, cwd: None if value is None else schema_value(value, cwd),
    empty_is_default=True,
)


# --- the options -------------------------------------------------------------------------------
@attrs.frozen(slots=True)
class Option:
    """One option: the ``configure()`` keyword (= the Settings field), its variable and kind."""

    name: str
    variable: str
    kind: Kind
    doc: str
    #: The value when neither an argument nor the environment gives one (``NOTHING``: computed).
    default: Any


_OPTION_KEY = "lineage_option"


def option(variable: str, default: Any, kind: Kind, doc: str) -> Any:
    """Declare a field of :class:`Settings` as an option read from ``variable``.

    ``default`` is ``attrs.NOTHING`` when it depends on the working directory (the sink).
    """
    return attrs.field(default=default, metadata={_OPTION_KEY: (variable, kind, doc)})


def _default_sinks(cwd: Path) -> tuple[SinkTarget, ...]:
    return (SinkTarget("sqlite", str(cwd / DEFAULT_STORE)),)


@attrs.frozen(slots=True)
class Settings:
    """The effective configuration, one immutable object. Build it with :func:`resolve_settings`.

    Every field is an option; its variable, kind and meaning are declared right here.
    """

    sinks: tuple[SinkTarget, ...] = option(
        "LINEAGE_SINK", attrs.NOTHING, SINKS, "where records go; default sqlite:lineage.db in cwd"
    )
    enabled: bool = option("LINEAGE_ENABLED", True, BOOL, "0 makes the decorator a pass-through")
    async_delivery: bool = option(
        "LINEAGE_ASYNC", False, BOOL, "1 delivers from a background thread via a bounded queue"
    )
    # option() returns an attrs field (a declaration), not a shared mutable default.
    on_error: OnError = option(  # noqa: RUF009
        "LINEAGE_ON_ERROR", "warn", _ON_ERROR, "what a sink failure does"
    )
    namespace: str = option("LINEAGE_NAMESPACE", "default", TEXT, "the namespace of runs")
    capture_git: bool = option("LINEAGE_CAPTURE_GIT", True, BOOL, "record the git state")
    queue_size: int = option(
        "LINEAGE_QUEUE_SIZE", 10_000, POSITIVE_INT, "records the asynchronous queue holds"
    )
    flush_interval_s: float = option(
        "LINEAGE_FLUSH_INTERVAL", 1.0, POSITIVE_SECONDS, "how often the asynchronous queue drains"
    )
    openlineage_source_code: bool = option(
        "LINEAGE_OPENLINEAGE_SOURCE_CODE",
        False,
        BOOL,
        "the OpenLineage sink adds the function's source as a job facet",
    )
    git_binary: bool = option(
        "LINEAGE_GIT_BINARY", True, BOOL, "0 reads git state from files, never running git"
    )
    capture_errors: CaptureErrors = option(  # noqa: RUF009
        "LINEAGE_CAPTURE_ERRORS",
        "full",
        _CAPTURE_ERRORS,
        "what a failed run records of its exception: full (type, message, stack), type, none; "
        "messages can contain argument values",
    )
    running_after_s: float = option(
        "LINEAGE_RUNNING_AFTER",
        1.0,
        POSITIVE_SECONDS,
        "a call still running after this many seconds is recorded as running (and heartbeats)",
    )
    pg_schema: str | None = option(
        "LINEAGE_PG_SCHEMA", None, PG_SCHEMA, "PostgreSQL schema when the DSN names none"
    )
    pg_connect_timeout_s: float = option(
        "LINEAGE_PG_CONNECT_TIMEOUT",
        DEFAULT_PG_CONNECT_TIMEOUT_S,
        POSITIVE_SECONDS,
        "seconds a PostgreSQL connection attempt may take",
    )

    #: Where each option's value came from: ``(name, origin)`` pairs, origin being
    #: ``configure()``, a variable name, a project file's path, or ``default``. Not compared.
    origins: tuple[tuple[str, str], ...] = attrs.field(default=(), eq=False, repr=False)

    def origin_of(self, name: str) -> str:
        """Where option ``name`` came from (``default`` when not recorded)."""
        return dict(self.origins).get(name, "default")

    def summary(self) -> dict[str, Any]:
        """Every option's value, JSON-friendly (sinks as their ``LINEAGE_SINK`` text)."""
        out: dict[str, Any] = {}
        for opt in options():
            value = getattr(self, opt.name)
            out[opt.name] = [str(t) for t in value] if opt.name == "sinks" else value
        return out


def options() -> tuple[Option, ...]:
    """Every option, in declaration order."""
    return _OPTIONS


def _collect_options() -> tuple[Option, ...]:
    found = []
    for field in attrs.fields(Settings):
        if _OPTION_KEY not in field.metadata:
            continue  # origins: bookkeeping, not an option
        variable, kind, doc = field.metadata[_OPTION_KEY]
        found.append(Option(field.name, variable, kind, doc, field.default))
    return tuple(found)


_OPTIONS = _collect_options()
_BY_NAME = {opt.name: opt for opt in _OPTIONS}
#: Every environment variable the SDK reads, each declared once in :class:`Settings`.
ENV_VARS: tuple[str, ...] = tuple(opt.variable for opt in _OPTIONS)
_FILE_KEYS = {opt.variable.removeprefix("LINEAGE_").lower(): opt for opt in _OPTIONS}


# --- resolution ----------------------------------------------------------------------------------
def _from_env(opt: Option, text: str, cwd: Path) -> Any:
    try:
        return opt.kind.from_text(text, cwd)
    except ValueError as exc:
        why, at_fault = _reason(exc, text)
        raise bad(opt.variable, at_fault, opt.kind.accepted, why) from None


def _from_argument(opt: Option, value: object, cwd: Path, function: str) -> Any:
    check = opt.kind.from_value
    try:
        if check is None:
            raise Invalid(f"got {type(value).__name__}")
        return check(value, cwd)
    except ValueError as exc:
        why, at_fault = _reason(exc, value)
        raise bad(f"{function}({opt.name})", at_fault, opt.kind.accepted, why) from None


def _reason(exc: ValueError, value: object) -> tuple[str, object]:
    if isinstance(exc, Invalid):
        return exc.why, value if exc.value is None else exc.value
    return str(exc), value


def from_file(opt: Option, value: object, folder: Path, label: str) -> Any:
    """A value of ``opt`` from a configuration file: strings are read like the variable (paths
    relative to ``folder``), other TOML values are checked as given. ConfigError names ``label``.
    """
    try:
        if isinstance(value, str):
            if opt.kind.empty_is_default and not value.strip():
                raise Invalid("empty")
            return opt.kind.from_text(value, folder)
        if opt.kind.from_value is None:
            raise Invalid(f"got {type(value).__name__}")
        return opt.kind.from_value(value, folder)
    except ValueError as exc:
        why, at_fault = _reason(exc, value)
        raise bad(label, at_fault, opt.kind.accepted, why) from None


def file_keys() -> dict[str, Option]:
    """Configuration-file key -> option: the variable's name without ``LINEAGE_``, lower case."""
    return dict(_FILE_KEYS)


def check_option_names(names: Iterable[str], function: str = "configure") -> None:
    """TypeError for any name that is not an option, listing the accepted ones."""
    unknown = sorted(set(names) - set(_BY_NAME))
    if unknown:
        accepted = ", ".join(_BY_NAME)
        raise TypeError(f"{function}() got unknown option(s) {unknown}; accepted: {accepted}")


def resolve_settings(
    explicit: Mapping[str, object],
    env: Mapping[str, str],
    cwd: Path,
    *,
    project: ProjectConfig | None = None,
    function: str = "configure",
) -> Settings:
    """Settings from explicit arguments (``None`` = not given), then ``env``, then the
    ``project`` file's ``[tool.lineage]`` table, then defaults.

    A bad argument raises ConfigError naming the argument of ``function``; a bad variable, naming
    the variable; a bad project value, naming the file and key; an unknown argument name,
    TypeError.
    """
    check_option_names(explicit, function)
    values: dict[str, Any] = {}
    origins: list[tuple[str, str]] = []
    table = project.values_by_option() if project is not None else {}
    for opt in _OPTIONS:
        given = explicit.get(opt.name)
        text = env.get(opt.variable)
        if given is not None:
            values[opt.name] = _from_argument(opt, given, cwd, function)
            origins.append((opt.name, f"{function}()"))
        elif text is not None and not (opt.kind.empty_is_default and not text.strip()):
            values[opt.name] = _from_env(opt, text, cwd)
            origins.append((opt.name, opt.variable))
        elif opt.name in table and project is not None:
            values[opt.name] = project.value(opt, table[opt.name])
            origins.append((opt.name, str(project.path)))
        elif opt.default is attrs.NOTHING:
            values[opt.name] = _default_sinks(cwd)
    return Settings(**values, origins=tuple(origins))


def settings_from_env(env: Mapping[str, str], cwd: Path) -> Settings:
    """Build :class:`Settings` from environment variables; raise ConfigError on a bad value."""
    return resolve_settings({}, env, cwd)


def strict_from_env(env: Mapping[str, str]) -> bool:
    """Whether the environment asks for policy ``raise``: decides how a bad environment fails."""
    opt = _BY_NAME["on_error"]
    try:
        return cast(str, _from_env(opt, env.get(opt.variable, ""), Path())) == "raise"
    except ConfigError:
        return False
