"""``@log_lineage``: declare what a function reads and produces; every call records a run.

Declarations are checked when the decorator is applied (a bad id fails at import, naming the
argument). Per call the decorator only takes clock readings and references (``_instrumented``)
and hands the pending run to delivery; everything that could fail inside the SDK is caught and
logged, so the user's return value or exception always passes through untouched.

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
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ._decorated import decorated_function_class
from ._instrumented import Call, Instrumented
from ._io_binding import IOSpec, node_list
from ._wrappers import async_generator_wrapper, async_wrapper, generator_wrapper, sync_wrapper
from .context import RunContext, current_run_id
from .records import (
    _check_id,
    check_metadata,
)

if TYPE_CHECKING:
    pass

__all__ = ["OpenRun", "current_run_id", "log_lineage", "open_run"]

_log = logging.getLogger("lineage_sdk")

F = TypeVar("F", bound=Callable[..., Any])
_ERROR_MESSAGE_LIMIT = 8192
_ERROR_STACK_LIMIT = 32768


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
        job = Instrumented(
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


def _wrapper_for(target: Any, job: Instrumented) -> Any:
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

    def __init__(self, job: Instrumented, call: Call) -> None:
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
    if not isinstance(job, Instrumented):
        raise TypeError(f"open_run() takes a @log_lineage function, got {func!r}")
    call = job.begin(job.func, args, kwargs or {})
    return OpenRun(job, call) if call is not None else None
