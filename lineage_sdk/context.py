"""Run context across process boundaries, the way OpenTelemetry propagates trace context.

A driver takes :func:`current_context` inside its decorated call and ships the token (it pickles,
and round-trips through :meth:`RunContext.to_dict` / :meth:`RunContext.from_dict` for JSON
transports); a worker wraps its work in ``with attach(token):`` and every decorated call made in
there records the driver's run as its parent.

Example::

    @log_lineage(name="daily_ctr_pipeline")
    def pipeline(days):
        token = lineage_sdk.current_context()
        return client.gather(client.map(partition_job, days, token=token))

    def partition_job(day, token):
        with lineage_sdk.attach(token):
            return count_day(day)        # a decorated function: its run's parent is the pipeline
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any, Protocol

import attrs

from .records import _check_id

__all__ = ["ActiveRun", "RunContext", "attach", "current_context", "current_run", "current_run_id"]


class ActiveRun(Protocol):
    """What the write path puts in :data:`current_run` for a decorated call in progress."""

    @property
    def run_id(self) -> str:
        """The run's id."""

    @property
    def transformation(self) -> str:
        """The id of the transformation being run."""

    @property
    def namespace(self) -> str:
        """The namespace of the configuration the run records into."""


def _validate_id(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    _check_id(value, f"RunContext.{attribute.name}")


@attrs.frozen(slots=True)
class RunContext:
    """A small, serialisable pointer to a run: what a worker needs to record it as the parent."""

    run_id: str = attrs.field(validator=_validate_id)
    transformation: str = attrs.field(validator=_validate_id)
    namespace: str = "default"

    def to_dict(self) -> dict[str, str]:
        """A plain dict for JSON transports."""
        return {
            "run_id": self.run_id,
            "transformation": self.transformation,
            "namespace": self.namespace,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunContext:
        """The inverse of :meth:`to_dict`."""
        return cls(data["run_id"], data["transformation"], data.get("namespace", "default"))


#: The decorated call in progress in this thread / asyncio task (or the run attached with
#: :func:`attach`), if any: the parent of decorated calls made inside it.
current_run: contextvars.ContextVar[ActiveRun | RunContext | None] = contextvars.ContextVar(
    "lineage_sdk_current_run", default=None
)


def current_run_id() -> str | None:
    """The id of the decorated call in progress here (thread / asyncio task), or None."""
    run = current_run.get()
    return run.run_id if run is not None else None


def current_context() -> RunContext | None:
    """The context of the decorated call in progress here (thread / task), or None outside one."""
    run = current_run.get()
    if run is None or isinstance(run, RunContext):
        return run
    return RunContext(run.run_id, run.transformation, run.namespace)


@contextlib.contextmanager
def attach(token: RunContext | dict[str, Any] | None) -> Iterator[None]:
    """Make decorated calls inside the block children of the run ``token`` points to.

    ``None`` (a driver that was not itself inside a decorated call) attaches nothing, so workers
    can call ``attach(token)`` unconditionally.
    """
    if token is None:
        yield
        return
    if isinstance(token, dict):
        token = RunContext.from_dict(token)
    if not isinstance(token, RunContext):
        raise TypeError(f"attach() takes a RunContext (or its dict), got {type(token).__name__}")
    reset = current_run.set(token)
    try:
        yield
    finally:
        current_run.reset(reset)
