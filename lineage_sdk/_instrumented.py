"""What ``@log_lineage`` keeps per decorated function, and the hot path of every call.

An :class:`Instrumented` holds what does not change from one call to the next (names, the
declared lineage, the located code, the last git state and whether the sinks have the
declarations); its ``begin`` and ``end`` run around every call. A call is a :class:`Call`: a few
clock readings and references, handed to delivery as a
:class:`~lineage_sdk.pending.PendingRun` and built into its Run only where one is read. Nothing
here ever raises into the user's code but a strict-mode :class:`LineageSinkError`.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import _ids, _runtime, inflight
from ._ids import render_run_id
from ._io_binding import Binder, IOSpec
from ._version import __version__
from .context import ActiveRun, RunContext, current_run
from .errors import LineageSinkError
from .pending import PendingRun, utc_datetime
from .records import GitInfo, Record, Run, RunStatus, Transformation, trusted_run

if TYPE_CHECKING:
    from .capture.code import CodeLocation
    from .delivery import Delivery

    #: Instrumented._lean: (runtime, git state, valid until (perf_counter ns), its delivery).
    _Lean = tuple[_runtime.Runtime, GitInfo | None, int, Delivery]

__all__ = ["EMPTY_IO", "Call", "Instrumented"]

_log = logging.getLogger("lineage_sdk")
_ERROR_MESSAGE_LIMIT = 8192
_ERROR_STACK_LIMIT = 32768


class _Process:
    """Facts about this process that every run records, looked up once rather than per call.

    (The pid comes from ``_ids``, per run: a run captured before a fork names its own process.)
    """

    __slots__ = ("_hostname", "python")

    def __init__(self) -> None:
        self.python = "{}.{}.{}".format(*sys.version_info[:3])
        self._hostname: str | None = None

    @property
    def hostname(self) -> str:
        if self._hostname is None:
            import socket  # on first run, not at import

            self._hostname = socket.gethostname()
        return self._hostname


_process = _Process()


class Instrumented:
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
        self._static_io: IOSpec | None = (
            self.static if self.dynamic_inputs is None and self.dynamic_outputs is None else None
        )
        self._repository: Any = _UNSET  # the code's git repository (or None), once located
        # end()'s lean path: (runtime, git state, until when (perf_counter ns) that state is
        # taken as current, the runtime's delivery) for which every sink has stored this
        # function's declarations.
        self._lean: _Lean | None = None
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
    # begin() and end() are the hot path: every decorated call runs both. They capture clock
    # readings and references into a Call and hand it to delivery; the Run is built later, from
    # the Call, by whoever needs it (pending.py). Keep work out of them.
    def begin(
        self, wrapped: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Call | None:
        """Start a run; None when lineage is off or the SDK failed (it never raises)."""
        rt = _runtime._current  # the installed one; current() builds it on first use
        if rt is None:
            rt = _runtime.current()
        if not rt.enabled:
            return None
        io = self._static_io
        if io is None:
            io = self._io_of_call(wrapped, args, kwargs)
        call = Call()
        call.job = self
        call.rt = rt
        call.io = io
        call.parent = _current_run_get()
        call.seq = _next_seq()
        call.prefix = _ids._prefix
        call.started_ns = _time_ns()
        call.perf_ns = _perf_ns()
        _in_progress.add(call)  # the watcher thread, not this call, notices a long run
        if not _watching:
            inflight.start()
        return call

    def _io_of_call(
        self, wrapped: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> IOSpec:
        try:
            return self.io_for(wrapped, args, kwargs)
        except Exception as exc:  # the user's inputs/outputs callable failed
            _log.warning(
                "lineage: resolving inputs/outputs of %s failed (%r); recording no nodes",
                self.name,
                exc,
            )
            return EMPTY_IO

    def end(self, call: Call, exc: BaseException | None) -> None:
        """Record the run. Raises only LineageSinkError, and only in strict mode."""
        now = _perf_ns()
        call.duration_ns = now - call.perf_ns
        _in_progress.discard(call)
        rt = call.rt
        if exc is None:
            call.status = "completed"
        else:
            call.status = "failed"
            try:
                call.error = _error_fields(exc, rt.settings.capture_errors)
            except Exception as internal:  # the user's exception must pass through untouched
                call.error = (None, None, None)
                _runtime.report_internal_error(internal, f"describing the error of {self.name}")
        lean = self._lean
        if lean is not None and lean[0] is rt and now < lean[2]:
            call.git = lean[1]
            # (LineageSinkError in strict mode is meant to surface from here.)
            delivery = lean[3]
            one = delivery.lean_one
            if one is not None:  # delivery's lean paths, here: no call frame per run
                try:
                    one[0](call)
                except Exception as sink_exc:
                    delivery.lean_one_failed(sink_exc)
                else:
                    one[1]()
                return
            queue = delivery.lean_queue
            if queue is not None:
                buffer, room, wake_at, wake = queue
                if len(buffer) < room:
                    buffer.append(call)  # atomic: no lock on the caller's path
                    if len(buffer) >= wake_at:
                        wake()
                    return
            if delivery.submit_run(call):
                return
        try:
            git = call.git = self._git_state(rt)
            batch = self._batch(call, git, now)
        except Exception as internal:
            _runtime.report_internal_error(internal, f"recording a run of {self.name}")
            return
        call.rt.delivery.submit(batch)

    def _git_state(self, rt: _runtime.Runtime) -> GitInfo | None:
        """The git state of this function's repository now (cached there: no file read per call)."""
        repository = self._repository
        if repository is _UNSET:  # the first call: reading source is too slow for import time
            repository = self._repository = self.location().repository
        settings = rt.settings
        if repository is None or not settings.capture_git:
            return None
        state: GitInfo | None = repository.state(settings.git_binary)
        return state

    def _batch(self, call: Call, git: GitInfo | None, now: int) -> list[Record | PendingRun]:
        """The run, preceded by the declarations these sinks have not been sent yet."""
        rt = call.rt
        if rt.delivery.closed:
            # configure() or the end of capture_records() replaced the configuration while this
            # call ran: the run goes to the one in force now, not into a closed queue.
            rt = call.rt = _runtime.in_force_for(rt)
        _, declared = self.declaration(git, self.location())
        batch: list[Record | PendingRun] = list(rt.pending_declarations((*call.io.nodes, declared)))
        if call.io is self._static_io and not batch:
            # Every sink has stored them: later calls skip the lookup and take this git state,
            # which the repository itself re-reads no more often than this (end()).
            from .capture.git import RECHECK_INTERVAL_S

            self._lean = (rt, git, now + int(RECHECK_INTERVAL_S * 1e9), rt.delivery)
        batch.append(call)
        return batch

    def run_record(self, call: Call, running_at_ns: int | None = None) -> Run:
        """The Run ``call`` stands for: ended, or (``running_at_ns``) running at that time."""
        location = self.location()
        if running_at_ns is None:
            git = getattr(call, "git", None)
            duration_ns = call.duration_ns
            status: RunStatus = call.status  # type: ignore[assignment]
            error_type, error_message, error_stack = call.error_fields()
        else:
            git = self._git_state(call.rt)
            duration_ns = max(running_at_ns - call.started_ns, 0)
            status = "running"
            error_type = error_message = error_stack = None
        ref, _ = self.declaration(git, location)
        io = call.io
        parent = call.parent
        started_ns = call.started_ns
        # trusted_run skips the validators: every field here was checked at decoration or is
        # produced by the SDK itself (the validating constructor costs several µs per call).
        run: Run = trusted_run(
            run_id=call.run_id,
            transformation=self.name,
            status=status,
            started_at=utc_datetime(started_ns),
            ended_at=utc_datetime(started_ns + duration_ns),
            duration_s=duration_ns / 1e9,
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
            code=location.code,
            git=git,
            code_reference=ref,
            host=_process.hostname,
            pid=call.pid,
            python_version=_process.python,
            sdk_version=__version__,
        )
        return run

    def report_running(self, call: Call, now_ns: int) -> None:
        """Write ``call``'s ``running`` record (from the watcher thread); never raises."""
        try:
            rt = call.rt
            if rt.delivery.closed:
                return
            run = self.run_record(call, running_at_ns=now_ns)
            _, declared = self.declaration(run.git, self.location())
            batch = rt.pending_declarations((*call.io.nodes, declared))
            batch.append(run)
            rt.delivery.submit(batch)
        except Exception as exc:  # a strict-mode sink error included: nobody to raise it to
            _log.debug("lineage: writing the running record of %s failed: %r", self.name, exc)

    def end_failed(self, call: Call, exc: BaseException) -> None:
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


EMPTY_IO = IOSpec((), ())
_NO_ERROR = (None, None, None)
_UNSET: Any = object()
_time_ns = time.time_ns
_perf_ns = time.perf_counter_ns
_next_seq = _ids.next_seq
_current_run_get = current_run.get
# The calls in progress (inflight's set: it never replaces it) and whether its watcher runs.
_in_progress = inflight.calls
_watching = inflight.watching


class Call(PendingRun):
    """One decorated call: in progress, then ended and waiting to be built into its Run.

    Only clock readings and references are taken per call; unset slots (``git``, ``error``,
    ``reported_ns``...) mean "not captured" and are read with a default. See ``pending.py``.
    """

    __slots__ = (
        "_built",
        "_id",
        "duration_ns",
        "error",
        "git",
        "io",
        "job",
        "parent",
        "perf_ns",
        "prefix",
        "reported_ns",
        "rt",
        "seq",
        "started_ns",
        "status",
    )

    job: Instrumented
    rt: _runtime.Runtime
    io: IOSpec
    parent: ActiveRun | RunContext | None
    seq: int
    prefix: str
    started_ns: int
    perf_ns: int
    duration_ns: int
    status: str  # a slot here, a read-only property on PendingRun
    error: tuple[str | None, str | None, str | None]
    git: GitInfo | None
    reported_ns: int
    _id: str
    _built: Run

    @property
    def run_id(self) -> str:
        """The run's id: a UUIDv7 rendered from the call's start, process prefix and counter."""
        try:
            return self._id
        except AttributeError:
            rid = self._id = render_run_id(self.started_ns, self.prefix, self.seq)
            return rid

    @property
    def pid(self) -> int:
        """The process the call ran in (a run pending at a fork belongs to the parent)."""
        return _ids.pid_of(self.prefix)

    def parent_ids(self) -> tuple[str | None, str | None]:
        """``(parent_run_id, parent_transformation)``."""
        parent = self.parent
        return (None, None) if parent is None else (parent.run_id, parent.transformation)

    def error_fields(self) -> tuple[str | None, str | None, str | None]:
        """``(error_type, error_message, error_stack)``; all None for a success."""
        return _NO_ERROR if self.status == "completed" else self.error

    def revision_key(self) -> tuple[object, ...]:
        """What fixes the Run's other fields: the function, its inputs and outputs this call,
        the git state, the configuration (namespace) and the process (pid)."""
        return (self.job, self.io, getattr(self, "git", None), self.rt, self.prefix)

    def same_revision(self, key: tuple[object, ...]) -> bool:
        """:meth:`PendingRun.same_revision`, without building this call's key."""
        return (
            len(key) == 5
            and self.job is key[0]
            and self.io is key[1]
            and getattr(self, "git", None) is key[2]
            and self.rt is key[3]
            and self.prefix is key[4]
        )

    def to_run(self) -> Run:
        """The Run this call stands for, built on first use and kept."""
        try:
            return self._built
        except AttributeError:
            run = self._built = self.job.run_record(self)
            return run

    @property
    def transformation(self) -> str:
        """The decorated function's transformation id."""
        return self.job.name

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
