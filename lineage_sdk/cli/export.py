"""``lineage export``: the whole store as records, the seed's registry, or OpenLineage events."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..serde import dumps
from .common import open_graph
from .output import Result

__all__ = ["add_parsers", "export"]

FORMATS = ("json", "registry", "openlineage")


def export(args: argparse.Namespace) -> Result:
    """The export's text: to ``--output`` (noted on stderr), else for stdout."""
    graph = open_graph(args)
    if args.format == "registry":
        from ..export.registry import registry_dict

        text = json.dumps(registry_dict(graph), ensure_ascii=False, indent=2) + "\n"
    elif args.format == "openlineage":
        from ..export.openlineage import dumps_event, events_from_records

        text = "".join(dumps_event(e) + "\n" for e in events_from_records(graph.records()))
    else:
        text = "".join(dumps(r) + "\n" for r in graph.records())
    if not args.output:
        return Result(raw=text)
    Path(args.output).write_text(text, encoding="utf-8")
    return Result(raw="", note=f"wrote {Path(args.output).resolve()}")


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register ``export``."""
    parser = sub.add_parser("export", parents=[common], help="dump the store")
    parser.add_argument(
        "--format",
        choices=FORMATS,
        required=True,
        help="json: one record per line; registry: the seed's lineage_registry; openlineage: "
        "one RunEvent per line (NDJSON), to replay history into a backend",
    )
    parser.add_argument("-o", "--output", metavar="FILE")
    parser.set_defaults(handler=export)
