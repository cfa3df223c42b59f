"""``@log_lineage``: declare what a function reads and produces; every call records a run.

Declarations are checked when the decorator is applied (a bad id fails at import, naming the
argument). Per call the decorator only takes timestamps, a run id and the cached code and git
state, then hands one small batch of records to delivery; everything that could fail inside the
SDK is caught and logged, so the user's return value or exception always passes through untouched.

Example::

    impressions = DataSource("raw_impressions_kafka_topic", type="kafka_topic")
    clicks = DataSource("raw_clicks_kafka_topic", type="kafka_topic")
    user_impressions = Feature("user_impressions_7d", value_type="int", entity="user")
    user_clicks = Feature("user_clicks_7d", value_type="int", entity="user")

    @log_lineage(inputs=[impressions, clicks],
                 outputs={user_impressions: [impressions], user_clicks: [clicks]},
                 name="calculate_user_counts_7d_job_v1.2", version="1.2",
                 compute_framework="Spark")
    def calculate_user_counts_7d(impressions_df, clicks_df): ...
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypeVar

from . import _runtime, inflight
from ._decorated import decorated_function_class
from ._ids import new_run_id
from ._io_binding import Binder, IOSpec, node_list
from ._version import __version__
from ._wrappers import async_generator_wrapper, async_wrapper, generator_wrapper, sync_wrapper
from .context import ActiveRun, RunContext, current_run, current_run_id
from .errors import LineageSinkError
from .records import (
    CodeRef,
    GitInfo,
    Record,
    Run,
    RunStatus,
    Transformation,
    _check_id,
    check_metadata,
    trusted_run,
)

if TYPE_CHECKING:
    from .capture.code import CodeLocation

__all__ = ["OpenRun", "current_run_id", "log_lineage", "open_run"]

_log = logging.getLogger("lineage_sdk")

F = TypeVar("F", bound=Callable[..., Any])
_ERROR_MESSAGE_LIMIT = 8192
_ERROR_STACK_LIMIT = 32768


class _Process:
    """Facts about this process that every run records, looked up once rather than per call."""

    __slots__ = ("_hostname", "pid", "python")

    def __init__(self) -> None:
        # os.getpid() per call is a system call: cache it and refresh it in forked children.
        self.pid = os.getpid()
        self.python = "{}.{}.{}".format(*sys.version_info[:3])
        self._hostname: str | None = None

    def refresh_after_fork(self) -> None:
        self.pid = os.getpid()

    @property
    def hostname(self) -> str:
        if self._hostname is None:
            import socket  # on first run, not at import

            self._hostname = socket.gethostname()
        return self._hostname


_process = _Process()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_process.refresh_after_fork)


class _Instrumented:
    """Everything about one decorated function that does not change per call, and its run hooks."""

    def __init__(  # noqa: PLR0917 - private, called once from log_lineage
        self,
        func: Callable[..., Any],
        inputs: object,
        outputs: object,
        name: str | None,
        version: str | None,
        description: str | None,
        compute_framework: str | None,
        metadata: dict[str, Any],
    ) -> None:
        from .capture.naming import code_object, default_name

        target = code_object(func)
        self.func = target
        self.name = name or default_name(target)
        self.version = version
        if description is None:
            import inspect

            description = inspect.getdoc(target)
        self.description = description
        self.compute_framework = compute_framework
        self.metadata = metadata
        self._inputs = inputs
        self._outputs = outputs
        self.dynamic_inputs = inputs if callable(inputs) else None
        self.dynamic_outputs = outputs if callable(outputs) else None
        self.static = IOSpec(
            () if self.dynamic_inputs else inputs,
            () if self.dynamic_outputs else outputs,
            static_inputs=self.dynamic_inputs is None,
        )
        self._location: CodeLocation | None = None
        self._announced: tuple[object, object] = (None, None)
        self._declared: tuple[GitInfo | None, str | None, Transformation] | None = None
        self._binders: dict[tuple[object, bool], Binder] = {}

    def location(self) -> CodeLocation:
        if self._location is None:  # first call: reading source is too slow for import time
            from .capture.code import capture_code

            self._location = capture_code(self.func)
        return self._location

    def declaration(
        self, git: GitInfo | None, location: CodeLocation
    ) -> tuple[str | None, Transformation]:
        """The Transformation record and code reference, rebuilt only when the git state moves."""
        cached = self._declared
        if cached is not None and cached[0] is git:
            return cached[1], cached[2]
        ref = None
        if git is not None and location.repository is not None:
            from .capture.git import code_reference

            ref = code_reference(git, location.repository.name, location.repo_path)
        record = Transformation(
            id=self.name,
            version=self.version,
            description=self.description,
            compute_framework=self.compute_framework,
            code_reference=ref,
            metadata=self.metadata,
        )
        self._declared = (git, ref, record)
        return ref, record

    def io_for(
        self, wrapped: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> IOSpec:
        if self.dynamic_inputs is None and self.dynamic_outputs is None:
            return self.static
        arguments = self._binder(wrapped)(args, kwargs)
        inputs = self.dynamic_inputs(arguments) if self.dynamic_inputs else self._inputs
        outputs = self.dynamic_outputs(arguments) if self.dynamic_outputs else self._outputs
        return IOSpec(inputs, outputs)

    def _binder(self, wrapped: Callable[..., Any]) -> Binder:
        # Prepared once per decorated function (and once more if it is also called bound).
        key = getattr(wrapped, "__func__", wrapped), hasattr(wrapped, "__self__")
        binder = self._binders.get(key)
        if binder is None:
            binder = self._binders[key] = Binder(wrapped)
        return binder

    # --- per call ------------------------------------------------------------------------------
    def begin(
        self, wrapped: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> _Call | None:
        """Start a run; None when lineage is off or the SDK failed (it never raises)."""
        rt = _runtime.current()
        if not rt.enabled:
            return None
        try:
            io = self.io_for(wrapped, args, kwargs)
        except Exception as exc:  # the user's inputs/outputs callable failed
            _log.warning(
                "lineage: resolving inputs/outputs of %s failed (%r); recording no nodes",
                self.name,
                exc,
            )
            io = _EMPTY_IO
        return _Call(rt, io, current_run.get(), self)

    def end(self, call: _Call, exc: BaseException | None) -> None:
        """Record the run. Raises only LineageSinkError, and only in strict mode."""
        ended_ns = time.time_ns()
        duration = (time.perf_counter_ns() - call.perf_ns) / 1e9
        inflight.unregister(call)
        try:
            if call.rt.delivery.closed:
                # configure() or the end of capture_records() replaced the configuration while
                # this call ran: the run goes to the one in force now, not into a closed queue.
                call.rt = _runtime.in_force_for(call.rt)
            code, git, ref, declared = self._code_state(call)
            run = self._run_record(call, exc, (ended_ns, duration), code, (git, ref))
            batch = self._batch(call, declared, run)
        except Exception as internal:
            _runtime.report_internal_error(internal, f"recording a run of {self.name}")
            return
        call.rt.delivery.submit(batch)  # LineageSinkError in strict mode is meant to surface

    def _code_state(
        self, call: _Call
    ) -> tuple[CodeRef | None, GitInfo | None, str | None, Transformation]:
        location = self.location()
        git = None
        settings = call.rt.settings
        if settings.capture_git and location.repository is not None:
            git = location.repository.state(settings.git_binary)
        ref, declared = self.declaration(git, location)
        return location.code, git, ref, declared

    def report_running(self, call: _Call, now_ns: int) -> None:
        """Write ``call``'s ``running`` record (from the watcher thread); never raises."""
        try:
            if call.rt.delivery.closed:
                return
            code, git, ref, declared = self._code_state(call)
            elapsed = (now_ns - call.started_ns) / 1e9
            run = self._run_record(
                call, None, (now_ns, elapsed), code, (git, ref), status="running"
            )
            batch = call.rt.pending_declarations((*call.io.nodes, declared))
            batch.append(run)
            call.rt.delivery.submit(batch)
        except Exception as exc:  # a strict-mode sink error included: nobody to raise it to
            _log.debug("lineage: writing the running record of %s failed: %r", self.name, exc)

    def _run_record(
        self,
        call: _Call,
        exc: BaseException | None,
        timing: tuple[int, float],
        code: CodeRef | None,
        git_and_ref: tuple[GitInfo | None, str | None],
        *,
        status: RunStatus | None = None,
    ) -> Run:
        ended_ns, duration = timing
        git, ref = git_and_ref
        io = call.io
        error_type, error_message, error_stack = _error_fields(exc, call.rt.settings.capture_errors)
        parent = call.parent
        # trusted_run skips the validators: every field here was checked at decoration or is
        # produced by the SDK itself (the validating constructor costs several µs per call).
        run: Run = trusted_run(
            run_id=call.run_id,
            transformation=self.name,
            status=status or ("failed" if exc is not None else "completed"),
            started_at=datetime.fromtimestamp(call.started_ns / 1e9, timezone.utc),
            ended_at=datetime.fromtimestamp(max(ended_ns, call.started_ns) / 1e9, timezone.utc),
            duration_s=float(duration),
            inputs=io.inputs,
            outputs=io.outputs,
            derivation=io.derivation,
            column_derivation=io.columns,
            partitions=io.partitions,
            parent_run_id=parent.run_id if parent is not None else None,
            parent_transformation=parent.transformation if parent is not None else None,
            version=self.version,
            namespace=call.rt.settings.namespace,
            error_type=error_type,
            error_message=error_message,
            error_stack=error_stack,
            code=code,
            git=git,
            code_reference=ref,
            host=_process.hostname,
            pid=_process.pid,
            python_version=_process.python,
            sdk_version=__version__,
        )
        return run

    def _batch(self, call: _Call, declared: Transformation, run: Run) -> list[Record]:
        """The run, preceded by the declarations these sinks have not been sent yet."""
        rt = call.rt
        io = call.io
        announced = self._announced
        # Fast path, deliberately ahead of rt.pending_declarations: with static inputs/outputs and
        # the same runtime and declaration as last time, there is nothing to look up.
        if io is self.static and announced[0] is rt and announced[1] is declared:
            return [run]
        batch = rt.pending_declarations((*io.nodes, declared))
        if io is self.static and not batch:  # every sink has stored them: the fast path is safe
            self._announced = (rt, declared)
        batch.append(run)
        return batch

    def end_failed(self, call: _Call, exc: BaseException) -> None:
        """Record a failed run without ever replacing the user's exception."""
        try:
            self.end(call, exc)
        except LineageSinkError as sink_error:
            _log.error("lineage: %s (while %s was raising)", sink_error, type(exc).__name__)


def _error_fields(
    exc: BaseException | None, capture: str = "full"
) -> tuple[str | None, str | None, str | None]:
    """The failed run's error type, message and stack (bounded); all None for a success.

    ``capture`` is ``LINEAGE_CAPTURE_ERRORS``: ``type`` keeps only the type, ``none`` nothing
    (messages, and the stack's last line, can contain argument values such as a password).
    """
    if exc is None or capture == "none":
        return None, None, None
    cls = type(exc)
    error_type = f"{cls.__module__}.{cls.__qualname__}"
    if capture == "type":
        return error_type, None, None
    import traceback  # failures only

    try:
        message = str(exc)
    except Exception as str_error:  # a broken __str__ must not cost the user their failed run
        message = f"<str() of the exception raised {type(str_error).__name__}>"
    # Frames and lines only: traceback.format_exception never renders locals (and it copes
    # with a raising __str__ itself).
    stack = "".join(traceback.format_exception(exc))[-_ERROR_STACK_LIMIT:]
    return error_type, message[:_ERROR_MESSAGE_LIMIT], stack


_EMPTY_IO = IOSpec((), ())


class _Call:
    """One decorated call in progress."""

    __slots__ = (
        "io",
        "job",
        "parent",
        "perf_ns",
        "reported_ns",
        "rt",
        "run_id",
        "started_ns",
        "transformation",
    )

    def __init__(
        self,
        rt: _runtime.Runtime,
        io: IOSpec,
        parent: ActiveRun | RunContext | None,
        job: _Instrumented,
    ) -> None:
        self.rt = rt
        self.io = io
        self.parent = parent
        self.job = job
        self.transformation = job.name
        self.run_id = new_run_id()
        self.started_ns = time.time_ns()
        self.perf_ns = time.perf_counter_ns()
        self.reported_ns = 0
        inflight.register(self)  # the watcher thread, not this call, notices a long run

    def running_after_s(self) -> float:
        """After how long this call gets a running record (``LINEAGE_RUNNING_AFTER``)."""
        return self.rt.settings.running_after_s

    def report_running(self, now_ns: int) -> None:
        """Write this call's running record (the watcher thread calls this)."""
        self.job.report_running(self, now_ns)

    @property
    def namespace(self) -> str:
        """The namespace of the configuration this run records into (see ``context.ActiveRun``)."""
        return self.rt.settings.namespace


def log_lineage(
    inputs: Any = (),
    outputs: Any = (),
    *,
    name: str | None = None,
    version: str | None = None,
    description: str | None = None,
    compute_framework: str | None = None,
    **metadata: Any,
) -> Callable[[F], F]:
    """Record the lineage of every call of the decorated function.

    :param inputs: nodes (``DataSource``/``Feature``) or string ids of nodes defined elsewhere; or
        a callable that receives the call's arguments (a dict by parameter name) and returns them.
    :param outputs: likewise; or a mapping from each output to the inputs it derives from
        (without it every output derives from every input). A source's column
        (``clicks["user_id"]``, ``clicks.column("ad_id", kind="filter")``) may stand for the
        source, in the mapping's values or in ``inputs``: the output then derives from those
        columns only. A partition (``files.partition(date=d)``) may stand for its dataset.
    :param name: the transformation's id (default ``module.qualname``).
    :param version: free text, e.g. ``"1.2"``.
    :param description: default: the function's docstring.
    :param compute_framework: e.g. ``"Spark"``, ``"pandas"``.
    :param metadata: any further JSON values, stored with the transformation.

    Works on functions, methods, classmethods, staticmethods, async functions, generators and
    async generators. Argument values are never recorded.

    Example::

        @log_lineage(inputs=[clicks, impressions], outputs=[ctr], compute_framework="pandas")
        def calculate_user_ctr(clicks_df, impressions_df): ...
    """
    checked_metadata = _checked_arguments(
        inputs,
        outputs,
        name=name,
        version=version,
        description=description,
        compute_framework=compute_framework,
        metadata=metadata,
    )

    def decorate(func: F) -> F:
        target = getattr(func, "__func__", func)
        if not callable(target):
            raise TypeError(f"log_lineage decorates functions, got {type(func).__name__}")
        job = _Instrumented(
            func, inputs, outputs, name, version, description, compute_framework, checked_metadata
        )
        decorated: F = decorated_function_class()(func, _wrapper_for(target, job))
        decorated._self_lineage = job  # type: ignore[attr-defined]  # for open_run()
        return decorated

    return decorate


def _checked_arguments(
    inputs: Any,
    outputs: Any,
    *,
    name: str | None,
    version: str | None,
    description: str | None,
    compute_framework: str | None,
    metadata: dict[str, Any],
) -> dict[str, Any]:
    """Check ``log_lineage``'s arguments now, so a bad one fails at import, not at a call;
    return the checked metadata."""
    if name is not None:
        _check_id(name, "name")
    for argument, value in (
        ("version", version),
        ("description", description),
        ("compute_framework", compute_framework),
    ):
        if value is not None and not isinstance(value, str):
            raise TypeError(f"{argument} must be a string, got {type(value).__name__}")
    checked_metadata = check_metadata(metadata, "log_lineage metadata")
    if not callable(inputs):
        node_list(inputs, "inputs")
    if not callable(outputs):
        IOSpec(() if callable(inputs) else inputs, outputs, static_inputs=not callable(inputs))
    return checked_metadata


def _wrapper_for(target: Any, job: _Instrumented) -> Any:
    """The call wrapper matching ``target``'s kind: async generator, coroutine, generator, plain."""
    import functools
    import inspect

    # A callable object's kind is its __call__'s (partials are looked through by inspect).
    if not inspect.isroutine(target) and not isinstance(target, functools.partial):
        target = getattr(target, "__call__", target)  # noqa: B004 - the method itself
    if inspect.isasyncgenfunction(target):
        return async_generator_wrapper(job)
    if inspect.iscoroutinefunction(target):
        return async_wrapper(job)
    if inspect.isgeneratorfunction(target):
        return generator_wrapper(job)
    return sync_wrapper(job)


class OpenRun:
    """A run of a decorated function held open across several calls; see :func:`open_run`."""

    __slots__ = ("_call", "_ended", "_job")

    def __init__(self, job: _Instrumented, call: _Call) -> None:
        self._job = job
        self._call = call
        self._ended = False

    @property
    def context(self) -> RunContext:
        """The token that makes decorated calls (``attach``) children of this run."""
        call = self._call
        return RunContext(call.run_id, call.transformation, call.namespace)

    @property
    def ended(self) -> bool:
        """Whether :meth:`end` was called."""
        return self._ended

    def end(self, exc: BaseException | None = None) -> None:
        """Record the run: completed, or failed with ``exc``. Only the first call counts."""
        if self._ended:
            return
        self._ended = True
        if exc is None:
            self._job.end(self._call, None)
        else:
            self._job.end_failed(self._call, exc)


def open_run(
    func: Callable[..., Any], args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None
) -> OpenRun | None:
    """Begin a run of the ``@log_lineage`` function ``func`` without calling it.

    For engines whose unit of work makes many calls (a Spark task calls a UDF once per row): the
    engine opens one run, calls ``func.__wrapped__`` as often as it needs inside
    ``attach(run.context)``, then calls ``run.end()`` or ``run.end(exc)``. ``args`` / ``kwargs``
    stand for a call's arguments when ``inputs`` / ``outputs`` are callables. The parent is the run
    current here (``attach``). Returns None when lineage is off; raises TypeError when ``func`` is
    not decorated.

    Example::

        run = open_run(count_rows)
        with attach(run.context):
            total = sum(count_rows.__wrapped__(row) for row in rows)
        run.end()
    """
    job = getattr(func, "_self_lineage", None)
    if not isinstance(job, _Instrumented):
        raise TypeError(f"open_run() takes a @log_lineage function, got {func!r}")
    call = job.begin(job.func, args, kwargs or {})
    return OpenRun(job, call) if call is not None else None
