"""``lineage export``: the whole store as records, the seed's registry, or OpenLineage events.

Records and events stream from the store to the output: memory stays constant whatever the
store's size (the registry, one dict, is built whole).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..serde import dumps, line_safe
from .common import add_command, check_output, open_graph, open_records, refuse_json
from .output import Result

__all__ = ["add_parsers", "export"]

FORMATS = ("json", "registry", "openlineage")


def _chunks(args: argparse.Namespace) -> Iterator[str]:
    if args.format == "registry":
        from ..export.registry import registry_dict

        graph = open_graph(args)
        yield line_safe(json.dumps(registry_dict(graph), ensure_ascii=False, indent=2)) + "\n"
    elif args.format == "openlineage":
        from ..export.openlineage import dumps_event, stream_events

        for event in stream_events(open_records(args)):
            yield dumps_event(event) + "\n"
    else:
        for record in open_records(args):
            yield dumps(record) + "\n"


def export(args: argparse.Namespace) -> Result:
    """The export, streamed to ``--output`` (noted on stderr) or to stdout."""
    refuse_json(args, "choose the output with --format (json is one record per line)")
    if args.output:
        check_output(args.output)
    chunks = _chunks(args)
    if not args.output:
        return Result(stream=chunks)
    target = Path(args.output)
    first = next(chunks, "")  # the store opens (or fails) before the file is created
    with target.open("w", encoding="utf-8") as handle:
        handle.write(first)
        for chunk in chunks:
            handle.write(chunk)
    return Result(raw="", note=f"wrote {target.resolve()}")


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register ``export``."""
    parser = add_command(
        sub,
        "export",
        common,
        summary="dump the store",
        description="The whole store, streamed: json is one record per line (the store's own "
        "format), registry the seed's lineage_registry dict, openlineage one RunEvent per line "
        "(NDJSON), to replay history into an OpenLineage backend.",
        examples=[
            "lineage export --format json -o lineage.jsonl",
            "lineage export --format openlineage > events.ndjson",
        ],
        handler=export,
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        required=True,
        help="json: one record per line; registry: the seed's lineage_registry; openlineage: "
        "one RunEvent per line (NDJSON), to replay history into a backend",
    )
    parser.add_argument("-o", "--output", metavar="FILE")
