"""Send every run to an OpenLineage backend (Marquez, DataHub, ...) through openlineage-python.

The client is configured the OpenLineage way, unchanged: ``OPENLINEAGE_URL`` (+
``OPENLINEAGE_API_KEY``), ``OPENLINEAGE__TRANSPORT__*`` variables, or an ``openlineage.yml``
(``OPENLINEAGE_CONFIG``); so its http, kafka, file, console and composite transports all work.

A backend that is down must not stall a pipeline run after run: after a failure the sink stops
sending for ``cooldown_s`` seconds and fails fast (the delivery layer counts the lost records),
then tries again. Only the first failure waits for the transport's own timeout and retries.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from .._version import DISTRIBUTION
from ..errors import ConfigError
from ..export.openlineage import run_events
from ..records import DataSource, Feature, Record, Run, Transformation
from .base import BaseSink

__all__ = ["BackendUnavailableError", "OpenLineageSink"]

INSTALL_HINT = (
    "LINEAGE_SINK=openlineage needs the OpenLineage client: "
    f"pip install '{DISTRIBUTION}[openlineage]' (or pip install openlineage-python)"
)


class BackendUnavailableError(ConnectionError):
    """Not sent: the backend failed recently and the sink is cooling down."""


class OpenLineageSink(BaseSink):
    """Maps runs to RunEvents and emits them with an ``OpenLineageClient``.

    ``client`` defaults to ``OpenLineageClient()``, configured from the environment or
    ``openlineage.yml``. ``include_source_code`` adds the ``sourceCode`` job facet (for the
    ``openlineage`` entry of ``LINEAGE_SINK``: ``LINEAGE_OPENLINEAGE_SOURCE_CODE=1``).
    """

    def __init__(
        self,
        client: Any = None,
        *,
        include_source_code: bool = False,
        cooldown_s: float = 30.0,
    ) -> None:
        super().__init__("openlineage")
        if client is None:
            try:
                from openlineage.client import OpenLineageClient
            except ImportError as exc:
                raise ConfigError(INSTALL_HINT) from exc
            client = OpenLineageClient()
        self.client = client
        self._include_source_code = include_source_code
        self._cooldown_s = cooldown_s
        self._down_until = 0.0
        self._nodes: dict[str, DataSource | Feature] = {}
        self._transformations: dict[str, Transformation] = {}
        self._started: set[str] = set()  # runs whose START went out with a running record

    def _emit(self, records: Sequence[Record]) -> None:
        events: list[dict[str, Any]] = []
        for record in records:
            if isinstance(record, (DataSource, Feature)):
                self._nodes[record.id] = record
            elif isinstance(record, Transformation):
                self._transformations[record.id] = record
            elif isinstance(record, Run):
                events.extend(self._events(record))
        if not events:
            return
        if time.monotonic() < self._down_until:
            raise BackendUnavailableError(
                "OpenLineage backend failed recently; not sending until the cool-down ends"
            )
        try:
            for event in events:
                self.client.emit(to_client_event(event))
        except Exception:
            self._down_until = time.monotonic() + self._cooldown_s
            raise

    def _events(self, run: Run) -> list[dict[str, Any]]:
        # A long run's START goes out at its real start, with its first running record; its
        # heartbeats send nothing more, and its end sends only COMPLETE or FAIL.
        started = run.run_id in self._started
        if run.status == "running" and started:
            return []
        events = run_events(
            run,
            self._nodes,
            self._transformations.get(run.transformation),
            include_source_code=self._include_source_code,
        )
        if run.status == "running":
            self._started.add(run.run_id)
        elif started:
            self._started.discard(run.run_id)
            events = [e for e in events if e["eventType"] != "START"]
        return events

    def _flush(self) -> None:
        transport = getattr(self.client, "transport", None)
        wait = getattr(transport, "wait_for_completion", None)
        if callable(wait):
            wait()

    def _close(self) -> None:
        close = getattr(self.client, "close", None)
        if callable(close):
            close()


def _facet_object(body: dict[str, Any]) -> Any:
    """A facet as the client's attrs model expects, carrying exactly our keys and schema URL."""
    from openlineage.client.generated.base import RunFacet

    fields = {k: v for k, v in body.items() if k not in ("_producer", "_schemaURL")}
    facet = RunFacet(producer=body["_producer"]).with_additional_properties(**fields)
    facet._schemaURL = body["_schemaURL"]  # the client would stamp its generic base URL
    return facet


def to_client_event(event: dict[str, Any]) -> Any:
    """Turn one of our event dicts into the client's ``event_v2.RunEvent``."""
    from openlineage.client import event_v2

    def facets(container: dict[str, Any]) -> dict[str, Any]:
        return {name: _facet_object(body) for name, body in container.items()}

    def datasets(items: list[dict[str, Any]], cls: Any) -> list[Any]:
        return [
            cls(namespace=d["namespace"], name=d["name"], facets=facets(d.get("facets", {})))
            for d in items
        ]

    return event_v2.RunEvent(
        eventType=event_v2.RunState(event["eventType"]),
        eventTime=event["eventTime"],
        producer=event["producer"],
        run=event_v2.Run(runId=event["run"]["runId"], facets=facets(event["run"]["facets"])),
        job=event_v2.Job(
            namespace=event["job"]["namespace"],
            name=event["job"]["name"],
            facets=facets(event["job"]["facets"]),
        ),
        inputs=datasets(event["inputs"], event_v2.InputDataset),
        outputs=datasets(event["outputs"], event_v2.OutputDataset),
    )
