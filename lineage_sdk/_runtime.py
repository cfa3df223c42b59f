"""The process-wide provider: the effective settings, their sinks and delivery.

Built lazily from the environment on first use; :func:`configure` replaces it. A bad environment
never breaks the host: the problem is logged once and lineage is switched off, unless the policy
is ``raise``, in which case the ConfigError surfaces.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from .config import Settings, SinkTarget, strict_from_env
from .delivery import Delivery, lost_after_close
from .errors import ConfigError
from .project_file import load_settings
from .records import DataSource, Feature, Node, Record
from .sinks import MemorySink, ReadableSink, Sink, build_sink

_log = logging.getLogger("lineage_sdk")

#: Called with every exception the SDK swallows; its own tests make it re-raise.
internal_error_hook: Any = None


def report_internal_error(exc: BaseException, where: str) -> None:
    """Log an SDK bug without letting it reach the host (see ``internal_error_hook``)."""
    _counters["internal_errors"] += 1
    if internal_error_hook is not None:
        internal_error_hook(exc)
    _log.warning("lineage-sdk internal error in %s: %r (the pipeline is unaffected)", where, exc)


_counters = {"internal_errors": 0}


class Runtime:
    """One configuration in force: settings, sinks, delivery, and what was announced to them."""

    def __init__(self, settings: Settings, sinks: Sequence[Sink]) -> None:
        self.settings = settings
        self.sinks = tuple(sinks)
        # With no sink (LINEAGE_SINK=none) there is nothing to record: calls pass straight through.
        self.enabled = settings.enabled and bool(self.sinks)
        self.delivery = Delivery(
            self.sinks,
            on_error=settings.on_error,
            async_delivery=settings.async_delivery,
            queue_size=settings.queue_size,
            flush_interval_s=settings.flush_interval_s,
        )
        self._registered_stored = False
        self._logged_where = False

    def pending_declarations(self, records: Iterable[Record]) -> list[Record]:
        """The ones among ``records`` (nodes, transformations) not yet stored by every sink.

        Registered nodes come first until the sinks have them. A declaration whose first batch
        failed (a store not mounted yet, locked, full) is sent again with the next run.
        """
        confirmed = self.delivery.confirmed
        out: list[Record] = []
        if not self._registered_stored:
            if not self._logged_where:  # the first write of this configuration
                self._logged_where = True
                self._log_where_records_go()
            out.extend(n for n in list(_registered.values()) if confirmed.get(_key(n)) is not n)
            self._registered_stored = not out
        out.extend(r for r in records if confirmed.get(_key(r)) is not r)
        return out

    def registered_changed(self) -> None:
        """Look at the registered nodes again with the next run (a new one was registered)."""
        self._registered_stored = False

    def _log_where_records_go(self) -> None:
        origin = self.settings.origin_of("sinks")
        where = {"default": "the default, in the working directory"}.get(origin, origin)
        stores = ", ".join(str(t) for t in self.settings.sinks) or "nothing"
        _log.info("lineage-sdk records to %s (from %s)", stores, where)

    def memory_sink(self) -> MemorySink:
        for sink in self.sinks:
            if isinstance(sink, MemorySink):
                return sink
        raise LookupError("no memory sink is configured (LINEAGE_SINK has no 'memory')")


_lock = threading.RLock()
_current: Runtime | None = None
_registered: dict[str, Node] = {}


def _after_fork_in_child() -> None:
    # configure() may have been running in another thread of the parent when it forked.
    global _lock
    _lock = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _key(record: Record) -> tuple[str, str]:
    return (record.kind, record.id)  # type: ignore[union-attr]


def _disabled(settings: Settings | None = None) -> Runtime:
    return Runtime(settings or Settings(sinks=(), enabled=False), ())


def _from_env() -> Runtime:
    env = os.environ
    try:
        settings = load_settings({}, env, Path.cwd())
        sinks = [build_sink(t, settings) for t in settings.sinks]
    except ConfigError as exc:
        if strict_from_env(env):
            raise
        _log.error("lineage-sdk is disabled: %s", exc)
        return _disabled()
    return Runtime(settings, sinks)


def current() -> Runtime:
    """The runtime in force, built from the environment on first use."""
    rt = _current
    if rt is None:
        with _lock:
            rt = _current
            if rt is None:
                rt = _install(_from_env())
    return rt


def _install(rt: Runtime) -> Runtime:
    global _current
    old, _current = _current, rt
    if old is not None:
        old.delivery.shutdown()
    return rt


def configure(sinks: str | Iterable[str | Sink] | None = None, **options: Any) -> None:
    """Configure lineage in code; what is given overrides the environment, the rest comes from it.

    ``sinks`` is a ``LINEAGE_SINK`` string, or a list of such strings and sink objects.
    Options (``None`` means "not given"): ``enabled``, ``async_delivery``, ``on_error``
    (warn/ignore/raise), ``namespace``, ``capture_git``, ``queue_size``, ``flush_interval_s``,
    ``openlineage_source_code``, ``git_binary`` (each also an environment variable, see
    ``lineage_sdk.config``). The previous configuration is flushed and closed.

    Raises ConfigError naming the argument (or the environment variable) on a bad value, and
    TypeError on an unknown option.

    Example::

        lineage_sdk.configure("json:lineage.jsonl", on_error="raise")
        lineage_sdk.configure([MemorySink()], async_delivery=False)
    """
    rt = build_runtime(sinks, **options)
    with _lock:
        _install(rt)


def build_runtime(
    sinks: str | Iterable[str | Sink] | None = None, *, function: str = "configure", **options: Any
) -> Runtime:
    """The configuration :func:`configure` would put in force, built but not installed.

    ``function`` is the public function whose arguments these are, for error messages.
    """
    explicit: dict[str, object] = dict(options)
    given: list[Sink] = []  # sink objects, in order; each stands in the targets as "object"
    if isinstance(sinks, str) or sinks is None:
        explicit["sinks"] = sinks
    else:
        items: list[str | SinkTarget] = []
        for item in sinks:
            if isinstance(item, Sink):
                items.append(SinkTarget("object", item.name))
                given.append(item)
            elif isinstance(item, str):
                items.append(item)
            else:
                raise TypeError(
                    f"{function}(sinks=...) takes sink objects or LINEAGE_SINK strings, "
                    f"got {type(item).__name__}"
                )
        explicit["sinks"] = items
    settings = load_settings(explicit, os.environ, Path.cwd(), function=function)
    origin = "LINEAGE_SINK" if sinks is None else f"{function}(sinks)"
    objects = iter(given)
    built = [
        next(objects) if target.scheme == "object" else build_sink(target, settings, origin)
        for target in settings.sinks
    ]
    return Runtime(settings, built)


@contextlib.contextmanager
def installed(rt: Runtime) -> Iterator[Runtime]:
    """Put ``rt`` in force for the block, then restore the configuration in force before.

    The previous configuration is set aside untouched (not flushed or closed) and comes back
    afterwards; ``rt`` is shut down on the way out. ``lineage_sdk.testing`` is built on this.
    """
    global _current
    with _lock:
        previous, _current = _current, rt
    try:
        yield rt
    finally:
        with _lock:
            inner, _current = _current, previous
        # configure() inside the block replaced (and closed) rt: close what it installed too.
        for leaving in {id(rt): rt, id(inner): inner}.values():
            if leaving is not None:
                leaving.delivery.shutdown()


def reset() -> None:
    """Drop the configuration in force; the next use reads the environment again."""
    global _current
    with _lock:
        old, _current = _current, None
        if old is not None:
            old.delivery.shutdown()


def register(*nodes: Node) -> None:
    """Record nodes that no transformation touches, such as a source kept for reference.

    Example::

        register(DataSource("user_profiles_postgres_table", type="postgres_table"))
    """
    for node in nodes:
        if not isinstance(node, (DataSource, Feature)):
            raise TypeError(f"register() takes DataSource or Feature objects, got {node!r}")
    with _lock:
        for node in nodes:
            _registered[node.id] = node
    rt = current()
    if not rt.enabled:
        return
    rt.registered_changed()
    pending = rt.pending_declarations(())
    if pending:
        rt.delivery.submit(pending)


def flush(timeout: float | None = None) -> bool:
    """Deliver everything pending; False if ``timeout`` seconds ran out first.

    With policy ``raise`` a failure of batched delivery surfaces here as LineageSinkError.
    """
    return current().delivery.flush(timeout)


def in_force_for(rt: Runtime) -> Runtime:
    """Where a run begun under ``rt`` (since closed) is recorded: the configuration in force.

    ``rt`` itself when nothing usable replaced it (lineage is off now, or the interpreter is
    exiting); its closed delivery then counts the run as lost and says so.
    """
    now = _current
    if now is None or now is rt or not now.enabled or now.delivery.closed:
        return rt
    return now


def stats() -> dict[str, Any]:
    """Counters of the configuration in force: emitted, failed, dropped, per sink, SDK errors.

    ``lost_after_close`` counts, for the whole process, runs that ended after their
    configuration was closed with nothing to take them (interpreter exit, lineage turned off).
    """
    result = current().delivery.stats()
    result["internal_errors"] = _counters["internal_errors"]
    result["lost_after_close"] = lost_after_close()
    return result


def readable_store(which: Sink | Literal["memory"] | None = None) -> Sink:
    """The sink lineage is read back from, with what delivery still holds for it written first.

    The one seam between the configuration in force and the read side (``load_graph()``):
    ``None`` is the first configured sink that can be read back, ``"memory"`` the configured
    :class:`MemorySink`, a sink object is that sink (flushed first when it is configured).
    ValueError (or LookupError for ``"memory"``) names ``LINEAGE_SINK`` when there is none.
    """
    rt = current()
    if which is None:
        for sink in rt.sinks:
            if isinstance(sink, ReadableSink):
                rt.delivery.flush()
                return sink
        raise ValueError(f"none of the configured sinks can be read back: {rt.settings.sinks}")
    if isinstance(which, str):
        rt.delivery.flush()
        return rt.memory_sink()
    if any(s is which for s in rt.sinks):
        rt.delivery.flush()
    return which
