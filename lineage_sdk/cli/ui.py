"""``lineage ui``: the browser explorer, as one offline HTML file or served live (see
:mod:`lineage_sdk.ui`)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..ui import command
from .common import CommandError, open_graph
from .output import Lines, Result

__all__ = ["add_parsers", "ui"]


def ui(args: argparse.Namespace) -> Result:
    """Write the page to ``--output`` (and open it), or serve it until Ctrl-C."""
    if args.depth is not None and args.focus is None:
        raise CommandError("--depth needs --focus")
    lineage = open_graph(args)  # fail now, with the usual message, if the store cannot be read
    if args.focus is not None:
        lineage.node(args.focus)  # unknown id: exit 1 with suggestions
    if args.serve:
        lineage.close()
        code = command.serve_live(lambda: open_graph(args), args, sys.stdout)
        return Result(data={"stopped": True}, code=code)
    written = command.write_file(lineage, args.output, args.focus, args.depth, args.open)
    return Result(
        data=written,
        human=[Lines([f"wrote {written['path']}; open {written['uri']} in a browser"])],
    )


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register ``ui``."""
    command.add_parser(sub, [common]).set_defaults(handler=ui)
