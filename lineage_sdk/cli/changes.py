"""Lineage over time: ``history``, ``diff``, ``stale``, ``impact --git-diff/--patch``, and
``--as-of`` / ``graph --diff`` on the commands that read the graph.

    lineage history calculate_user_counts_7d
    lineage upstream user_ctr_7d --as-of v1.0
    lineage diff v1.0 v1.1 --json
    lineage graph --diff v1.0 v1.1 -o changes.svg
    lineage stale --fail                      # a CI gate: exit 1 when anything is stale
    lineage impact --git-diff origin/main     # what this branch's changes will hit
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from ..graph.changes import GitDiffError, History, MomentError
from ..render import diff_marks
from . import draw
from .common import CommandError, add_command, open_graph
from .output import EXIT_NOT_FOUND, Block, Lines, Result, Table

__all__ = ["add_parsers", "diff", "graph_diff", "history", "impact", "impact_parser", "stale"]

#: Commands that read the graph and so can read it as it stood at a moment (those registered
#: before this module; ``ui`` reads its graph through ``open_graph`` too, where it exists).
AS_OF_COMMANDS = ("upstream", "downstream", "show", "graph", "runs", "history", "stale", "ui")


def _short(sha: str | None) -> str | None:
    return sha[:12] if sha else None


def _when(value: Any) -> str | None:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else None


# --- history -------------------------------------------------------------------------------------
def _history_blocks(found: History) -> list[Block]:
    if found.kind == "Transformation":
        header = (
            *("revision", "version", "source", "changed", "first run (UTC)", "first commit"),
            *("first tag", "last run (UTC)", "last commit", "runs"),
        )
        rows = [
            [
                r.id,
                r.version,
                _short(r.source_sha256),
                ", ".join(r.changed) or None,
                _when(r.first_run.started_at),
                _short(r.first_run.commit),
                r.first_run.tag,
                _when(r.last_run.started_at),
                _short(r.last_run.commit),
                r.runs,
            ]
            for r in found.revisions
        ]
        return [Table(header, rows)] if rows else [Lines([f"{found.id} never ran"])]
    runs_header = (
        *("started (UTC)", "transformation", "revision", "status", "version"),
        *("commit", "tag", "run id"),
    )
    rows = [
        [
            _when(p.run.started_at),
            p.run.transformation,
            p.revision,
            p.run.status,
            p.run.version,
            _short(p.run.commit),
            p.run.tag,
            p.run.run_id,
        ]
        for p in found.runs
    ]
    blocks: list[Block] = [Table(runs_header, rows) if rows else _no_run(found.id)]
    if found.declarations:
        declared = [
            [
                number,
                _when(d.recorded_at),
                ", ".join(d.changed) or None,
                _declared_fields(d.to_json()["declaration"]),
            ]
            for number, d in enumerate(found.declarations, 1)
        ]
        blocks.append(Table(("declaration", "recorded (UTC)", "changed", "fields"), declared))
    return blocks


def _no_run(node_id: str) -> Lines:
    return Lines([f"no run produced {node_id}"])


def _declared_fields(declaration: object) -> str:
    """``name=value`` for every field a declaration sets (the id aside): text as it is (the
    table escapes it), lists and mappings as JSON."""
    fields = declaration if isinstance(declaration, dict) else {}
    return ", ".join(
        f"{name}={value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)}"
        for name, value in fields.items()
        if name != "id" and value not in (None, [], {})
    )


def history(args: argparse.Namespace) -> Result:
    """``history ID``: a transformation's revisions, or the runs that produced a node and the
    node's declaration revisions."""
    found = open_graph(args).history(args.id)
    return Result(data=found.to_json(), human=_history_blocks(found))


# --- diff ----------------------------------------------------------------------------------------
def _moment_error(exc: MomentError) -> CommandError:
    return CommandError(str(exc))


def diff(args: argparse.Namespace) -> Result:
    """``diff A B``: what changed between two moments."""
    graph = open_graph(args)
    try:
        found = graph.diff(args.start, args.end)
    except MomentError as exc:
        raise _moment_error(exc) from exc
    human: list[Block] = [
        Lines(
            [
                f"from {found.start.label} ({found.start.at.isoformat()}) "
                f"to {found.end.label} ({found.end.at.isoformat()})",
                f"added: {', '.join(found.added) or '-'}",
                f"removed: {', '.join(found.removed) or '-'}",
            ]
        )
    ]
    if found.changed:
        human.append(
            Table(
                ("changed", "fields", "from version", "from source", "from commit"),
                [
                    [
                        c.id,
                        ", ".join(c.fields),
                        c.before.version,
                        _short(c.before.source_sha256),
                        _short(c.before.commit),
                    ]
                    for c in found.changed
                ],
            )
        )
        human.append(
            Table(
                ("changed", "to version", "to source", "to commit", "to tag"),
                [
                    [
                        c.id,
                        c.after.version,
                        _short(c.after.source_sha256),
                        _short(c.after.commit),
                        c.after.tag,
                    ]
                    for c in found.changed
                ],
            )
        )
    else:
        human.append(Lines(["changed: -"]))
    human.append(
        Lines(
            [f"edge added: {a} -> {b}" for a, b in found.edges_added]
            + [f"edge removed: {a} -> {b}" for a, b in found.edges_removed]
            + [f"affected: {', '.join(found.affected) or '-'}"]
        )
    )
    return Result(data=found.to_json(), human=human)


def graph_diff(args: argparse.Namespace) -> Result:
    """``graph --diff A B``: both moments' graphs in one picture, the changes marked."""
    if args.diff is None:
        return draw.graph(args)
    if args.focus is not None or args.depth is not None:
        raise CommandError("--diff draws the whole graph; it does not take --focus or --depth")
    lineage = open_graph(args)
    try:
        found = lineage.diff(*args.diff)
    except MomentError as exc:
        raise _moment_error(exc) from exc
    union = lineage.as_of(max(found.start.at, found.end.at))
    try:
        return draw.picture(args, union, diff_marks(found))
    finally:
        union.close()


# --- stale ---------------------------------------------------------------------------------------
def stale(args: argparse.Namespace) -> Result:
    """``stale``: every feature that is out of date and why; ``--fail`` exits 1 if any."""
    graph = open_graph(args)
    root = Path(args.check_code) if args.check_code is not None else None
    found = graph.stale(check_code=root)
    rows = [
        [
            entry.id if i == 0 else "",
            reason.kind,
            reason.detail,
            entry.produced_by if i == 0 else "",
        ]
        for entry in found
        for i, reason in enumerate(entry.reasons)
    ]
    human: list[Block] = (
        [Table(("id", "reason", "detail", "produced by run"), rows)]
        if rows
        else [Lines(["nothing is stale"])]
    )
    code = EXIT_NOT_FOUND if args.fail and found else 0
    return Result(data=[e.to_json() for e in found], human=human, code=code)


# --- impact --------------------------------------------------------------------------------------
def impact(args: argparse.Namespace) -> Result:
    """``impact ID`` (the features downstream of ID), or ``impact --git-diff REF`` /
    ``--patch FILE``: the transformations a code change touches and the features it will hit."""
    graph = open_graph(args)
    if args.git_diff is None and args.patch is None:
        if args.id is None:
            raise CommandError("impact needs ID, --git-diff REF or --patch FILE")
        ids = graph.impact(args.id)
        return Result(data=ids, human=[Lines(ids or [f"no feature depends on {args.id}"])])
    if args.id is not None:
        raise CommandError("give ID, or --git-diff/--patch, not both")
    try:
        if args.git_diff is not None:
            found = graph.impact_of_git_diff(args.git_diff)
        else:
            text = (
                sys.stdin.read()
                if args.patch == "-"
                else Path(args.patch).read_text(encoding="utf-8", errors="replace")
            )
            found = graph.impact_of_patch(text, root=Path.cwd())
    except (GitDiffError, OSError) as exc:
        raise CommandError(str(exc)) from exc
    rows = [[t.id, t.file, f"{t.lines[0]}-{t.lines[1]}"] for t in found.transformations]
    human: list[Block] = (
        [Table(("transformation", "file", "lines"), rows)]
        if rows
        else [Lines(["the change touches no recorded transformation"])]
    )
    if rows:
        human.append(Lines([f"affected: {', '.join(found.affected) or '-'}"]))
    return Result(data=found.to_json(), human=human)


_CODE_IMPACT = (
    "With --git-diff REF (the working tree's `git diff REF`) or --patch FILE (a unified diff, - "
    "for stdin; e.g. a pull request's): the decorated functions whose recorded lines the change "
    "touches (renamed and moved files followed), and every feature downstream of them."
)
_CODE_EXAMPLES = (
    "lineage impact --git-diff origin/main",
    "gh pr diff 42 | lineage impact --patch - --json",
)


def impact_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """``impact [ID] [--git-diff REF | --patch FILE]``; extends an ``impact ID`` registered by
    another command module rather than clashing with it."""
    parser = sub.choices.get("impact")
    if parser is None:
        parser = add_command(
            sub,
            "impact",
            common,
            summary="features hit by a node's change or by a code change",
            description="The features downstream of ID. " + _CODE_IMPACT,
            examples=["lineage impact raw_clicks_kafka_topic", *_CODE_EXAMPLES],
            handler=impact,
        )
        parser.add_argument("id", metavar="ID", nargs="?")
    else:
        by_id = parser.get_default("handler")
        # argparse has no public way to make a positional optional after the fact.
        for action in parser._actions:
            if action.dest == "id":
                action.nargs, action.required = "?", False
        parser.description = f"{parser.description or ''} {_CODE_IMPACT}".strip()
        parser.epilog = "\n".join(
            [parser.epilog or "examples:", *(f"  {e}" for e in _CODE_EXAMPLES)]
        )

        def either(args: argparse.Namespace) -> Result:
            if args.git_diff is None and args.patch is None:
                return by_id(args)  # type: ignore[no-any-return]
            return impact(args)

        parser.set_defaults(handler=either)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--git-diff", metavar="REF", help="the working tree's `git diff REF`")
    source.add_argument("--patch", metavar="FILE", help="a unified diff file (- for stdin)")


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register ``history``, ``diff``, ``stale``, ``impact``; add ``--as-of`` to the commands
    that read the graph and ``--diff`` to ``graph``."""
    _history_parser(sub, common)
    _diff_parser(sub, common)
    _stale_parser(sub, common)
    impact_parser(sub, common)
    _add_as_of_and_diff_options(sub)


def _history_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    parser = add_command(
        sub,
        "history",
        common,
        summary="revisions of a transformation, or the runs that produced a node",
        description="A transformation's revisions (distinct version, source hash, inputs, "
        "outputs and derivation), oldest first, each with its first and last run, their commits "
        "and tags, and what changed from the one before. For a feature or source: the runs that "
        "produced it, newest first, with the revision of each, then its declarations (each "
        "distinct one, merged, oldest first, with when the store first held it and the fields "
        "it changed).",
        examples=["lineage history calculate_user_counts_7d", "lineage history user_ctr_7d"],
        handler=history,
    )
    parser.add_argument("id", metavar="ID")


def _diff_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    parser = add_command(
        sub,
        "diff",
        common,
        summary="what changed between two moments",
        description="Transformations added, removed and changed (which fields, old and new "
        "source hash, version and commit), derivation edges added and removed, and the features "
        "downstream of any of it. A and B: a datetime, ISO-8601 text, a run id, or a git tag, "
        "branch or commit (the last run recorded at that commit).",
        examples=["lineage diff v1.0 v1.1", "lineage diff 2026-11-01 HEAD --json"],
        handler=diff,
    )
    parser.add_argument("start", metavar="A")
    parser.add_argument("end", metavar="B")


def _stale_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    parser = add_command(
        sub,
        "stale",
        common,
        summary="features that are out of date, and why",
        description="Every produced feature that is out of date, with each reason: "
        "upstream_newer, code_changed, last_run_failed, upstream_stale. --fail exits 1 when "
        "anything is stale (a CI gate).",
        examples=["lineage stale", "lineage stale --fail --check-code"],
        handler=stale,
    )
    parser.add_argument("--fail", action="store_true", help="exit 1 when anything is stale")
    parser.add_argument(
        "--check-code",
        nargs="?",
        const=".",
        metavar="ROOT",
        help="also compare each function's source in the working tree at ROOT (default: .)",
    )


def _add_as_of_and_diff_options(sub: Any) -> None:
    """``--as-of`` on every command that reads the graph, ``--diff A B`` on ``graph``."""
    for name in AS_OF_COMMANDS:
        if name not in sub.choices:
            continue
        with contextlib.suppress(argparse.ArgumentError):  # it declares --as-of itself
            sub.choices[name].add_argument(
                "--as-of",
                metavar="WHEN",
                help="the graph as it stood then: a datetime, ISO-8601 text, a run id, or a git "
                "tag, branch or commit",
            )
    drawing = sub.choices["graph"]
    drawing.add_argument(
        "--diff",
        nargs=2,
        metavar=("A", "B"),
        help="draw both moments' graphs: added green, removed red dashed, changed violet",
    )
    drawing.set_defaults(handler=graph_diff)
