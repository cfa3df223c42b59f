"""The ``lineage`` command: ask a store where things come from, what they feed, and draw it.

Exit codes: 0 success, 1 not found (with close matches) or an unhealthy ``doctor``, 2 usage or
configuration errors. Human output escapes control characters so that hostile ids cannot move the
cursor or forge lines; ``--json`` gives exact values.

    lineage upstream user_ctr_7d
    lineage downstream raw_clicks_kafka_topic --depth 2
    lineage impact raw_clicks_kafka_topic.ad_id
    lineage graph -o lineage.svg
    lineage runs --transformation calculate_user_ctr_job_v1.0 --limit 5
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from . import __version__
from .config import DEFAULT_STORE, SinkTarget, parse_sinks, settings_from_env
from .errors import ConfigError
from .graph import LineageGraph, UnknownNodeError, load_graph
from .records import Run
from .registry import registry_dict
from .render import FORMATS, DotNotFoundError, render, render_bytes, to_dot
from .serde import dumps, to_dict

__all__ = ["main"]

EXIT_OK, EXIT_NOT_FOUND, EXIT_USAGE = 0, 1, 2


class _Fail(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def _safe(text: object) -> str:
    """Printable form of arbitrary text: control characters become escapes, one line always."""
    out = []
    for ch in str(text):
        if ch == "\\":
            out.append("\\\\")
        elif ch < " " or "\x7f" <= ch < "\xa0" or ch in "\u2028\u2029":
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    return "".join(out)


def _table(rows: Sequence[Sequence[object]], header: Sequence[str], out: IO[str]) -> None:
    cells = [[_safe(c) if c is not None else "-" for c in row] for row in rows]
    widths = [len(h) for h in header]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    print(line.rstrip(), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(), file=out)


def _json_out(value: Any, out: IO[str]) -> None:
    json.dump(value, out, ensure_ascii=False, indent=2, default=str)
    out.write("\n")


def default_store(env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    """The store the CLI reads without ``--store``: the first json/sqlite in LINEAGE_SINK."""
    env = dict(os.environ) if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    raw = env.get("LINEAGE_SINK", "")
    if raw.strip():
        try:
            for target in parse_sinks(raw, cwd):
                if target.scheme in ("json", "sqlite"):
                    return str(target)
        except ConfigError:
            pass  # reported by `lineage doctor`; fall back to the embedded default
    return str(SinkTarget("sqlite", str(cwd / DEFAULT_STORE)))


def _open(args: argparse.Namespace) -> LineageGraph:
    store = args.store or default_store()
    try:
        return load_graph(store)
    except FileNotFoundError as exc:
        raise _Fail(f"{exc} (choose one with --store or LINEAGE_SINK)", EXIT_USAGE) from exc
    except (ConfigError, ValueError) as exc:
        raise _Fail(f"--store {store!r}: {exc}", EXIT_USAGE) from exc


def _kind(graph: LineageGraph, node_id: str) -> str:
    return str(graph.node(node_id).kind)


# --- subcommands ---------------------------------------------------------------------------------
def _cmd_walk(args: argparse.Namespace, out: IO[str]) -> int:
    graph = _open(args)
    if args.command == "upstream":
        ids = graph.upstream(args.id, args.depth, columns=args.columns)
        nodes = set(graph.upstream(args.id, args.depth)) if args.columns else set(ids)
    else:
        ids = graph.downstream(args.id, args.depth)
        nodes = set(ids)
    _print_ids(graph, ids, nodes, args.json, out)
    return EXIT_OK


def _print_ids(
    graph: LineageGraph, ids: list[str], nodes: set[str], as_json: bool, out: IO[str]
) -> None:
    """One id per line, or JSON with each id's kind (``Column`` for ``source.column``)."""
    if as_json:
        _json_out(
            [{"id": i, "kind": _kind(graph, i) if i in nodes else "Column"} for i in ids], out
        )
    else:
        for node_id in ids:
            print(_safe(node_id), file=out)


def _cmd_impact(args: argparse.Namespace, out: IO[str]) -> int:
    graph = _open(args)
    ids = graph.impact(args.id)
    _print_ids(graph, ids, set(ids), args.json, out)
    return EXIT_OK


def _run_row(run: Run) -> list[object]:
    return [
        run.started_at.strftime("%Y-%m-%d %H:%M:%S"),
        run.transformation,
        run.status,
        f"{run.duration_s:.3f}s",
        run.git.commit[:10] if run.git else None,
        run.git.tag if run.git else None,
        run.run_id,
    ]


_RUN_HEADER = ["started (UTC)", "transformation", "status", "duration", "commit", "tag", "run id"]


def _cmd_runs(args: argparse.Namespace, out: IO[str]) -> int:
    graph = _open(args)
    if args.transformation is not None:
        graph.node(args.transformation)  # unknown name: exit 1 with suggestions
    runs = graph.runs(transformation=args.transformation, status=args.status, limit=args.limit)
    if args.json:
        _json_out([to_dict(r) for r in runs], out)
    else:
        _table([_run_row(r) for r in runs], _RUN_HEADER, out)
    return EXIT_OK


def _cmd_show(args: argparse.Namespace, out: IO[str]) -> int:
    graph = _open(args)
    node = graph.node(args.id)
    kind = str(node.kind)
    details: dict[str, Any] = {"id": args.id, "kind": kind}
    if kind != "External":
        record = to_dict(node)  # type: ignore[arg-type]
        for key in ("record_type", "schema_version", "id"):
            record.pop(key, None)
        details.update(record)
    if kind == "Transformation":
        details["inputs"] = graph.transformation_inputs(args.id)
        details["outputs"] = graph.transformation_outputs(args.id)
        details["recent_runs"] = [to_dict(r) for r in graph.runs(transformation=args.id, limit=5)]
        details["versions"] = [
            {k: getattr(v, k) for k in ("version", "source_sha256", "commit", "tag", "runs")}
            | {"first_run": v.first_run.isoformat(), "last_run": v.last_run.isoformat()}
            for v in graph.versions(args.id)
        ]
    else:
        details["upstream"] = graph.upstream(args.id, 1)
        details["downstream"] = graph.downstream(args.id, 1)
    if args.json:
        _json_out(details, out)
        return EXIT_OK
    rows = []
    for key, value in details.items():
        if key in ("recent_runs", "versions"):
            continue
        shown: object = value
        if isinstance(value, (list, tuple)):
            shown = ", ".join(map(str, value)) if value else None
        elif isinstance(value, dict):
            shown = json.dumps(value, ensure_ascii=False) if value else None
        rows.append([key, shown])
    _table(rows, ["field", "value"], out)
    if kind == "Transformation":
        print(file=out)
        _table([_run_row(r) for r in graph.runs(transformation=args.id, limit=5)], _RUN_HEADER, out)
    return EXIT_OK


def _cmd_graph(args: argparse.Namespace, out: IO[str]) -> int:
    graph = _open(args)
    if args.depth is not None and args.focus is None:
        raise _Fail("--depth needs --focus", EXIT_USAGE)
    if args.focus is not None:
        graph.node(args.focus)
    fmt = args.format or (Path(args.output).suffix.lstrip(".") if args.output else "dot") or "svg"
    if fmt not in FORMATS:
        raise _Fail(f"unknown format {fmt!r}; accepted: {', '.join(FORMATS)}", EXIT_USAGE)
    try:
        if args.output:
            path = render(
                graph, args.output, fmt, focus=args.focus, depth=args.depth, columns=args.columns
            )
        else:
            source = to_dot(graph, focus=args.focus, depth=args.depth, columns=args.columns)
            data = render_bytes(source, fmt)
    except DotNotFoundError as exc:
        raise _Fail(str(exc), EXIT_USAGE) from exc
    if args.output:
        if args.json:
            _json_out({"path": str(path.resolve()), "format": fmt}, out)
        else:
            print(f"wrote {_safe(path.resolve())}", file=out)
    elif fmt == "dot":
        out.write(data.decode("utf-8"))
    else:
        out.flush()
        sys.stdout.buffer.write(data)
    return EXIT_OK


def _cmd_export(args: argparse.Namespace, out: IO[str]) -> int:
    graph = _open(args)
    if args.format == "registry":
        text = json.dumps(registry_dict(graph), ensure_ascii=False, indent=2) + "\n"
    elif args.format == "openlineage":
        from .openlineage import dumps_event, events_from_records

        text = "".join(dumps_event(e) + "\n" for e in events_from_records(graph.records()))
    else:
        text = "".join(dumps(r) + "\n" for r in graph.records())
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {_safe(Path(args.output).resolve())}", file=sys.stderr)
    else:
        out.write(text)
    return EXIT_OK


def _cmd_doctor(args: argparse.Namespace, out: IO[str]) -> int:
    from .capture.git import repository_for

    report: dict[str, Any] = {"version": __version__, "problems": []}
    try:
        settings = settings_from_env(os.environ, Path.cwd())
        report["settings"] = {
            "sinks": [str(t) for t in settings.sinks],
            "enabled": settings.enabled,
            "async_delivery": settings.async_delivery,
            "on_error": settings.on_error,
            "namespace": settings.namespace,
            "capture_git": settings.capture_git,
        }
        targets = list(settings.sinks)
    except ConfigError as exc:
        report["problems"].append(str(exc))
        targets = []
    if args.store:
        targets = list(parse_sinks(args.store, Path.cwd(), "--store"))
    sinks = []
    for target in targets:
        entry: dict[str, Any] = {"sink": str(target)}
        if target.scheme in ("json", "sqlite"):
            path = Path(target.value or "")
            entry["exists"] = path.exists()
            writable_dir = next((p for p in (path.parent, *path.parents) if p.exists()), None)
            entry["writable"] = bool(
                os.access(path, os.W_OK)
                if path.exists()
                else writable_dir is not None and os.access(writable_dir, os.W_OK)
            )
            if not entry["writable"]:
                report["problems"].append(f"{target}: not writable")
            if target.scheme == "sqlite":
                from .sinks.sqlite import network_filesystem

                fs = network_filesystem(path)
                entry["filesystem"] = fs
                if fs is not None:
                    report["problems"].append(
                        f"{target}: on a network file system ({fs}); SQLite locking is not "
                        "reliable there. Send lineage to an OpenLineage backend instead "
                        "(LINEAGE_SINK=openlineage), or keep the store on a local disk"
                    )
            if path.exists():
                try:
                    graph = load_graph(str(target))
                    entry["runs"] = len(graph.runs())
                    cycles = graph.cycles()
                    if cycles:
                        report["problems"].append(f"{target}: lineage has cycles: {cycles[:3]}")
                except Exception as exc:
                    entry["error"] = f"{type(exc).__name__}: {exc}"
                    report["problems"].append(f"{target}: cannot be read: {exc}")
        sinks.append(entry)
    report["sinks"] = sinks
    repo = repository_for(Path.cwd())
    git_state = repo.state() if repo is not None else None
    report["git"] = (
        {"repository": str(repo.root), **(_git_dict(git_state) if git_state else {})}
        if repo is not None
        else None
    )
    if args.json:
        _json_out(report, out)
    else:
        rows: list[list[object]] = [["lineage-sdk", report["version"]]]
        for key, value in report.get("settings", {}).items():
            rows.append([key, ", ".join(value) if isinstance(value, list) else value])
        for entry in sinks:
            rows.append(
                [
                    f"store {entry['sink']}",
                    ", ".join(f"{k}={v}" for k, v in entry.items() if k != "sink"),
                ]
            )
        git = report["git"]
        rows.append(
            [
                "git",
                "not a repository"
                if git is None
                else ", ".join(f"{k}={v}" for k, v in git.items()),
            ]
        )
        _table(rows, ["check", "result"], out)
        for problem in report["problems"]:
            print(f"problem: {_safe(problem)}", file=out)
        if not report["problems"]:
            print("no problems found", file=out)
    return EXIT_NOT_FOUND if report["problems"] else EXIT_OK


def _git_dict(info: Any) -> dict[str, Any]:
    return {
        k: getattr(info, k) for k in ("commit", "branch", "tag", "describe", "dirty", "remote_url")
    }


# --- parser --------------------------------------------------------------------------------------
def _depth(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("depth must be 1 or more")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation tools)."""

    def options(default: Any) -> argparse.ArgumentParser:
        # Accepted before and after the subcommand; SUPPRESS on the subcommand keeps its
        # defaults from overwriting a value given before it.
        common = argparse.ArgumentParser(add_help=False)
        common.add_argument(
            "--store",
            metavar="TARGET",
            default=default,
            help="store to read: sqlite:PATH or json:PATH (default: LINEAGE_SINK, else "
            "sqlite:lineage.db in the working directory)",
        )
        common.add_argument(
            "--json", action="store_true", default=default, help="machine-readable output"
        )
        return common

    common = options(argparse.SUPPRESS)
    parser = argparse.ArgumentParser(
        prog="lineage",
        description="Query and draw the feature lineage recorded by lineage-sdk.",
        parents=[options(None)],
    )
    parser.add_argument("--version", action="version", version=f"lineage-sdk {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    graph = sub.add_parser("graph", parents=[common], help="draw the lineage graph")
    graph.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout)")
    graph.add_argument("--format", choices=FORMATS, help="default: from FILE's suffix, else dot")
    graph.add_argument("--focus", metavar="ID", help="only this node and its neighbourhood")
    graph.add_argument("--depth", type=_depth, metavar="N", help="with --focus: how far to go")
    graph.add_argument(
        "--columns",
        action="store_true",
        help="draw sources as tables of their columns, edges from the columns each job read",
    )
    graph.set_defaults(handler=_cmd_graph)

    for name, help_text in (
        ("upstream", "what ID derives from, one id per line"),
        ("downstream", "what derives from ID, one id per line"),
    ):
        walk = sub.add_parser(name, parents=[common], help=help_text)
        walk.add_argument("id", metavar="ID")
        walk.add_argument("--depth", type=_depth, metavar="N", help="1 = direct neighbours")
        if name == "upstream":
            walk.add_argument(
                "--columns",
                action="store_true",
                help="also list the source columns (SOURCE.COLUMN) each derivation used",
            )
        walk.set_defaults(handler=_cmd_walk)

    impact = sub.add_parser(
        "impact",
        parents=[common],
        help="the features that change when ID (a node, or SOURCE.COLUMN) changes",
    )
    impact.add_argument("id", metavar="ID")
    impact.set_defaults(handler=_cmd_impact)

    show = sub.add_parser("show", parents=[common], help="everything known about one id")
    show.add_argument("id", metavar="ID")
    show.set_defaults(handler=_cmd_show)

    runs = sub.add_parser("runs", parents=[common], help="recorded runs, newest first")
    runs.add_argument("--transformation", metavar="NAME")
    runs.add_argument("--status", choices=("completed", "failed"))
    runs.add_argument("--limit", type=_depth, metavar="N", default=20, help="default 20")
    runs.set_defaults(handler=_cmd_runs)

    export = sub.add_parser("export", parents=[common], help="dump the store")
    export.add_argument(
        "--format",
        choices=("json", "registry", "openlineage"),
        required=True,
        help="json: one record per line; registry: the seed's lineage_registry; openlineage: "
        "one RunEvent per line (NDJSON), to replay history into a backend",
    )
    export.add_argument("-o", "--output", metavar="FILE")
    export.set_defaults(handler=_cmd_export)

    doctor = sub.add_parser(
        "doctor", parents=[common], help="check configuration, stores and git capture"
    )
    doctor.set_defaults(handler=_cmd_doctor)
    return parser


def main(argv: Sequence[str] | None = None, out: IO[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    out = out or sys.stdout
    args = build_parser().parse_args(argv)
    args.json = bool(args.json)
    try:
        code: int = args.handler(args, out)
        return code
    except UnknownNodeError as exc:
        print(f"lineage: {_safe(exc)}", file=sys.stderr)
        return EXIT_NOT_FOUND
    except _Fail as exc:
        print(f"lineage: {_safe(exc)}", file=sys.stderr)
        return exc.code
    except ConfigError as exc:
        print(f"lineage: {_safe(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # `lineage runs | head`
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
