"""The per-call wrappers of ``@log_lineage``, one per kind of callable, chosen at decoration.

Each receives ``(wrapped, instance, args, kwargs)`` from wrapt, asks the decorated function's
hooks to begin a run, makes it the current run only while the function's own code executes, and
ends it with the outcome. Return values and exceptions pass through untouched.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any, Protocol

from .context import current_run

__all__ = [
    "RunHooks",
    "async_generator_wrapper",
    "async_wrapper",
    "generator_wrapper",
    "sync_wrapper",
]


class RunHooks(Protocol):
    """What a wrapper needs of a decorated function (``_instrumented.Instrumented``)."""

    def begin(
        self, wrapped: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """Start a run (an object for :data:`current_run`), or None when lineage is off."""

    def end(self, call: Any, exc: BaseException | None) -> None:
        """Record the run; raises only LineageSinkError in strict mode."""

    def end_failed(self, call: Any, exc: BaseException) -> None:
        """Record a failed run; never raises."""


# --- wrappers, one per kind of callable, chosen once at decoration time ------------------------
# The four wrappers below, and the two traced generators, repeat the same set/reset/end sequence
# on purpose: folding them into one helper (or a context manager) adds a call frame or a kind
# check to every decorated call, which is the hot path the overhead benchmark measures. Keep them
# in step when changing one.
def sync_wrapper(job: RunHooks) -> Callable[..., Any]:
    # The hooks and the context variable's methods are bound once, here: the wrapper reads
    # them from its closure instead of looking them up on every call.
    begin, end, end_failed = job.begin, job.end, job.end_failed
    set_current, reset_current = current_run.set, current_run.reset

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        call = begin(wrapped, args, kwargs)
        if call is None:
            return wrapped(*args, **kwargs)
        token = set_current(call)
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            reset_current(token)
            end_failed(call, exc)
            raise
        reset_current(token)
        end(call, None)
        return result

    return wrapper


def async_wrapper(job: RunHooks) -> Callable[..., Any]:
    begin, end, end_failed = job.begin, job.end, job.end_failed  # bound once, as above
    set_current, reset_current = current_run.set, current_run.reset

    async def wrapper(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        call = begin(wrapped, args, kwargs)
        if call is None:
            return await wrapped(*args, **kwargs)
        token = set_current(call)
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as exc:
            reset_current(token)
            end_failed(call, exc)
            raise
        reset_current(token)
        end(call, None)
        return result

    return wrapper


def generator_wrapper(job: RunHooks) -> Callable[..., Any]:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        call = job.begin(wrapped, args, kwargs)
        generator = wrapped(*args, **kwargs)
        if call is None:
            return generator
        return _traced_generator(job, call, generator)

    return wrapper


def _traced_generator(job: RunHooks, call: Any, gen: Generator[Any, Any, Any]) -> Any:
    # Drive the generator by hand so that the run is "current" only while its body executes,
    # never while the consumer runs between two items.
    sent: Any = None
    thrown: BaseException | None = None
    while True:
        token = current_run.set(call)
        try:
            item = gen.throw(thrown) if thrown is not None else gen.send(sent)
        except StopIteration as stop:
            current_run.reset(token)
            job.end(call, None)
            return stop.value
        except BaseException as exc:
            current_run.reset(token)
            job.end_failed(call, exc)
            raise
        current_run.reset(token)
        try:
            sent, thrown = (yield item), None
        except GeneratorExit:  # the consumer closed us early: the run ends, successfully
            token = current_run.set(call)
            try:
                gen.close()
            except BaseException as exc:
                current_run.reset(token)
                job.end_failed(call, exc)
                raise
            current_run.reset(token)
            job.end(call, None)
            raise
        except BaseException as exc:
            thrown = exc


def async_generator_wrapper(job: RunHooks) -> Callable[..., Any]:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        call = job.begin(wrapped, args, kwargs)
        agen = wrapped(*args, **kwargs)
        if call is None:
            return agen
        return _traced_async_generator(job, call, agen)

    return wrapper


async def _traced_async_generator(
    job: RunHooks, call: Any, agen: AsyncGenerator[Any, Any]
) -> AsyncGenerator[Any, Any]:
    sent: Any = None
    thrown: BaseException | None = None
    while True:
        token = current_run.set(call)
        try:
            item = await (agen.athrow(thrown) if thrown is not None else agen.asend(sent))
        except StopAsyncIteration:
            current_run.reset(token)
            job.end(call, None)
            return
        except BaseException as exc:
            current_run.reset(token)
            job.end_failed(call, exc)
            raise
        current_run.reset(token)
        try:
            sent, thrown = (yield item), None
        except GeneratorExit:
            token = current_run.set(call)
            try:
                await agen.aclose()
            except BaseException as exc:
                current_run.reset(token)
                job.end_failed(call, exc)
                raise
            current_run.reset(token)
            job.end(call, None)
            raise
        except BaseException as exc:
            thrown = exc
