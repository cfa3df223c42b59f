"""History, diff, staleness and the impact of a patch, computed from a :class:`ChangeSource`.

Everything here is pure: a store answers the aggregate questions of
:class:`~lineage_sdk.graph.changes.source.ChangeSource`, and these functions turn the answers into
what users ask. ``kind_of`` tells a node's kind (``Feature`` ...) from the declarations.
"""

from __future__ import annotations

import datetime as _dt
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path

import attrs

from ..model import DeclarationRevision
from .model import (
    Revision,
    RunFacts,
    chain_revisions,
    changed_fields,
    revision_id,
)
from .moments import Moment
from .patch import FileChange, current_source_sha256, touches
from .source import ChangeSource

__all__ = [
    "Change",
    "Diff",
    "History",
    "Impact",
    "Production",
    "Reason",
    "Stale",
    "TouchedTransformation",
    "diff",
    "history",
    "impact_of_patch",
    "stale",
]

KindOf = Callable[[str], "str | None"]


def _iso(when: _dt.datetime) -> str:
    return when.isoformat()


@attrs.frozen(slots=True)
class Production:
    """A run that wrote a node, and the revision of its transformation."""

    run: RunFacts
    revision: str

    def to_json(self) -> dict[str, object]:
        """Plain JSON values."""
        r = self.run
        return {
            "run_id": r.run_id,
            "transformation": r.transformation,
            "revision": self.revision,
            "status": r.status,
            "started_at": _iso(r.started_at),
            "ended_at": _iso(r.ended_at),
            "version": r.version,
            "source_sha256": r.source_sha256,
            "commit": r.commit,
            "tag": r.tag,
        }


@attrs.frozen(slots=True)
class History:
    """``revisions`` of a transformation (oldest first), or ``runs`` that produced a node
    (newest first) and the node's ``declarations`` (its distinct declarations, oldest first)."""

    id: str
    kind: str
    revisions: tuple[Revision, ...] = ()
    runs: tuple[Production, ...] = ()
    declarations: tuple[DeclarationRevision, ...] = ()

    def to_json(self) -> dict[str, object]:
        """Plain JSON values (the ``--json`` shape of ``lineage history``)."""
        out: dict[str, object] = {"id": self.id, "kind": self.kind}
        if self.kind == "Transformation":
            out["revisions"] = [r.to_json() for r in self.revisions]
        else:
            out["runs"] = [_production_json(p, self.id) for p in self.runs]
            out["declarations"] = [d.to_json() for d in self.declarations]
        return out


def _production_json(p: Production, node_id: str) -> dict[str, object]:
    data = p.to_json()
    data["inputs"] = list(p.run.sources_of(node_id))
    return data


def history(
    source: ChangeSource,
    node_id: str,
    kind: str,
    until: _dt.datetime | None,
    declarations: Iterable[DeclarationRevision] = (),
) -> History:
    """The history of a transformation (its revisions) or of a node (the runs that wrote it,
    and ``declarations``, its declaration revisions)."""
    if kind == "Transformation":
        chained = chain_revisions(source.revisions(until, node_id))
        return History(node_id, kind, revisions=tuple(chained.get(node_id, ())))
    runs = source.runs_producing(node_id, until)
    productions = tuple(Production(f, revision_id(f.key())) for f in runs)
    return History(node_id, kind, runs=productions, declarations=tuple(declarations))


# --- diff ----------------------------------------------------------------------------------------
@attrs.frozen(slots=True)
class Change:
    """A transformation whose latest revision differs between two moments."""

    id: str
    fields: tuple[str, ...]
    before: RunFacts  # the transformation's newest run at each moment
    after: RunFacts

    def to_json(self) -> dict[str, object]:
        """``{"id", "fields", "from", "to"}``."""
        return {
            "id": self.id,
            "fields": list(self.fields),
            "from": _side(self.before),
            "to": _side(self.after),
        }


def _side(run: RunFacts) -> dict[str, object]:
    return {
        "revision": revision_id(run.key()),
        "version": run.version,
        "source_sha256": run.source_sha256,
        "commit": run.commit,
        "tag": run.tag,
    }


@attrs.frozen(slots=True)
class Diff:
    """What changed between two moments (see :func:`diff`)."""

    start: Moment
    end: Moment
    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[Change, ...]
    edges_added: tuple[tuple[str, str], ...]
    edges_removed: tuple[tuple[str, str], ...]
    affected: tuple[str, ...]
    #: What a drawing shows at each moment: (node, transformation) and (transformation, node).
    drawn_before: frozenset[tuple[str, str]] = frozenset()
    drawn_after: frozenset[tuple[str, str]] = frozenset()

    def to_json(self) -> dict[str, object]:
        """The ``lineage diff --json`` shape."""
        return {
            "from": {"when": self.start.label, "at": _iso(self.start.at)},
            "to": {"when": self.end.label, "at": _iso(self.end.at)},
            "added": list(self.added),
            "removed": list(self.removed),
            "changed": [c.to_json() for c in self.changed],
            "edges_added": [list(e) for e in self.edges_added],
            "edges_removed": [list(e) for e in self.edges_removed],
            "affected": list(self.affected),
        }


def _run_edges(run: RunFacts) -> set[tuple[str, str]]:
    return {(src, out) for out, ins in run.derivation for src in ins}


def _edges(latest: dict[str, RunFacts]) -> set[tuple[str, str]]:
    return {edge for run in latest.values() for edge in _run_edges(run)}


def _features_downstream(
    starts: Iterable[str], runs: Iterable[RunFacts], kind_of: KindOf
) -> set[str]:
    """Features reachable from ``starts`` (node ids) along the runs' derivation edges."""
    succ: dict[str, set[str]] = {}
    for run in runs:
        for src, dst in _run_edges(run):
            succ.setdefault(src, set()).add(dst)
    seen = set(starts)
    queue = deque(seen)
    while queue:
        for nxt in succ.get(queue.popleft(), ()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return {n for n in seen if kind_of(n) == "Feature"}


def diff(source: ChangeSource, start: Moment, end: Moment, kind_of: KindOf) -> Diff:
    """Transformations added, removed and changed (the revision of their newest run at each
    moment), derivation edges added and removed, and every feature downstream of any of it
    (``affected``)."""
    before = source.newest_runs(start.at)
    after = source.newest_runs(end.at)
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = []
    for t in sorted(set(before) & set(after)):
        old, new = before[t], after[t]
        if old.key() != new.key():
            changed.append(Change(t, changed_fields(old.key(), new.key()), old, new))
    old_edges, new_edges = _edges(before), _edges(after)
    edges_added = sorted(new_edges - old_edges)
    edges_removed = sorted(old_edges - new_edges)
    starts_after = {o for t in [*added, *(c.id for c in changed)] for o in after[t].outputs}
    starts_before = {o for t in removed for o in before[t].outputs}
    affected = _features_downstream(
        starts_after | {dst for _, dst in edges_added}, after.values(), kind_of
    ) | _features_downstream(
        starts_before | {dst for _, dst in edges_removed}, before.values(), kind_of
    )
    return Diff(
        start,
        end,
        tuple(added),
        tuple(removed),
        tuple(changed),
        tuple(edges_added),
        tuple(edges_removed),
        tuple(sorted(affected)),
        _drawn(before),
        _drawn(after),
    )


def _drawn(latest: dict[str, RunFacts]) -> frozenset[tuple[str, str]]:
    edges = {(n, t) for t, run in latest.items() for n in run.inputs}
    return frozenset(edges | {(t, n) for t, run in latest.items() for n in run.outputs})


# --- staleness -----------------------------------------------------------------------------------
@attrs.frozen(slots=True)
class Reason:
    """Why a node is out of date: ``upstream_newer``, ``code_changed``, ``last_run_failed`` or
    ``upstream_stale``, and a sentence naming what."""

    kind: str
    detail: str

    def to_json(self) -> dict[str, str]:
        """Plain JSON values."""
        return {"kind": self.kind, "detail": self.detail}


@attrs.frozen(slots=True)
class Stale:
    """A node that is out of date, every reason that applies, and the run that produced it."""

    id: str
    reasons: tuple[Reason, ...]
    produced_by: str

    def to_json(self) -> dict[str, object]:
        """The ``lineage stale --json`` shape of one entry."""
        return {
            "id": self.id,
            "reasons": [r.to_json() for r in self.reasons],
            "produced_by": self.produced_by,
        }


def _code_reasons(
    producer: RunFacts, since: list[RunFacts], newest: RunFacts | None, root: Path | None
) -> list[Reason]:
    reasons = []
    for run in since:
        reasons.append(
            Reason(
                "code_changed",
                f"{run.transformation} has since run as revision {revision_id(run.key())} "
                f"(version {run.version}, source {_short(run.source_sha256)}; run "
                f"{run.run_id}), which has not produced it",
            )
        )
    if root is not None and producer.file and producer.qualname:
        path = Path(producer.file)
        path = path if path.is_absolute() else root / path
        now = current_source_sha256(path, producer.qualname)
        if now != producer.source_sha256:
            state = f"hashes {_short(now)}" if now else "is no longer found"
            reasons.append(
                Reason(
                    "code_changed",
                    f"{producer.qualname} in {producer.file} {state} in the working tree; "
                    f"it was produced by source {_short(producer.source_sha256)}",
                )
            )
    if (
        newest is not None
        and newest.status == "failed"
        and (newest.started_at, newest.run_id) > (producer.started_at, producer.run_id)
    ):
        error = f" ({newest.error_type})" if newest.error_type else ""
        reasons.append(
            Reason(
                "last_run_failed",
                f"run {newest.run_id} of {newest.transformation} failed at "
                f"{_iso(newest.ended_at)}{error} after the run that produced it",
            )
        )
    return reasons


def _short(sha: str | None) -> str:
    return sha[:12] if sha else "unknown"


def stale(
    source: ChangeSource,
    until: _dt.datetime | None = None,
    check_code: Path | None = None,
) -> list[Stale]:
    """Every produced node that is out of date, sorted by id, with every reason that applies.

    ``check_code``: the working tree to compare each producing function's current source with
    (recorded relative paths are taken from there); None skips that check.
    """
    producers = source.producers(until)
    newest = source.newest_runs(until)
    since: dict[str, list[RunFacts]] = {}  # producing run id -> runs with other code since
    direct: dict[str, list[Reason]] = {}
    for node, producer in producers.items():
        reasons = []
        for src in producer.sources_of(node):
            upstream = producers.get(src)
            if upstream is not None and upstream.ended_at > producer.started_at:
                reasons.append(
                    Reason(
                        "upstream_newer",
                        f"{src} was produced again by run {upstream.run_id} of "
                        f"{upstream.transformation} at {_iso(upstream.ended_at)}",
                    )
                )
        if producer.run_id not in since:
            since[producer.run_id] = source.code_changes_since(producer, until)
        reasons += _code_reasons(
            producer, since[producer.run_id], newest.get(producer.transformation), check_code
        )
        direct[node] = reasons
    is_stale = _propagate(producers, direct)
    out = []
    for node in sorted(producers):
        reasons = list(direct[node])
        stale_parents = sorted(
            src for src in producers[node].sources_of(node) if is_stale.get(src, False)
        )
        if stale_parents:
            reasons.append(Reason("upstream_stale", f"{', '.join(stale_parents)} is out of date"))
        if reasons:
            out.append(Stale(node, tuple(reasons), producers[node].run_id))
    return out


def _propagate(producers: dict[str, RunFacts], direct: dict[str, list[Reason]]) -> dict[str, bool]:
    """Whether each produced node is stale: directly, or through any ancestor (cycles end)."""
    result: dict[str, bool] = {}

    def sources(node: str) -> list[str]:
        return [s for s in producers[node].sources_of(node) if s in producers]

    for start in producers:
        if start in result:
            continue
        # Iterative depth-first search: a node is decided once all its sources are.
        stack: list[tuple[str, list[str]]] = [(start, sources(start))]
        on_path = {start}
        while stack:
            node, pending = stack[-1]
            while pending and (pending[-1] in result or pending[-1] in on_path):
                pending.pop()
            if pending:
                nxt = pending.pop()
                stack.append((nxt, sources(nxt)))
                on_path.add(nxt)
                continue
            stack.pop()
            on_path.discard(node)
            result[node] = bool(direct[node]) or any(result.get(s, False) for s in sources(node))
    return result


# --- impact of a patch ---------------------------------------------------------------------------
@attrs.frozen(slots=True)
class TouchedTransformation:
    """A transformation whose recorded code a patch edits."""

    id: str
    file: str
    lines: tuple[int, int]

    def to_json(self) -> dict[str, object]:
        """Plain JSON values."""
        return {"id": self.id, "file": self.file, "lines": list(self.lines)}


@attrs.frozen(slots=True)
class Impact:
    """The transformations a patch touches and every feature downstream of them."""

    transformations: tuple[TouchedTransformation, ...]
    affected: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        """The ``lineage impact --json`` shape."""
        return {
            "transformations": [t.to_json() for t in self.transformations],
            "affected": list(self.affected),
        }


def impact_of_patch(
    changes: list[FileChange],
    source: ChangeSource,
    kind_of: KindOf,
    root: Path | None = None,
    locate: Callable[[str, str], tuple[int, int] | None] | None = None,
) -> Impact:
    """Map each changed line range to the recorded functions it touches (the code of each
    transformation's newest run), then list those and every feature downstream of them.

    ``root``: the repository root, to match functions recorded with an absolute path.
    ``locate``: ``(file, qualname)`` -> the function's lines on the patch's old side (e.g.
    :func:`~lineage_sdk.graph.changes.patch.lines_at_ref`); without it, or where it finds
    nothing, the recorded lines are used.
    """
    latest = source.newest_runs(None)  # the newest run carries the latest revision's code
    touched = []
    for t, rev in sorted(latest.items()):
        if rev.file is None or rev.line_start is None or rev.line_end is None:
            continue
        file = _repo_relative(rev.file, root)
        found = locate(file, rev.qualname) if locate is not None and rev.qualname else None
        start, end = found or (rev.line_start, rev.line_end)
        if any(touches(c, file, start, end) for c in changes):
            touched.append(TouchedTransformation(t, file, (start, end)))
    starts = {o for t in touched for o in latest[t.id].outputs}
    affected = _features_downstream(starts, latest.values(), kind_of)
    return Impact(tuple(touched), tuple(sorted(affected)))


def _repo_relative(file: str, root: Path | None) -> str:
    path = Path(file)
    if root is not None and path.is_absolute():
        try:
            return path.relative_to(root.resolve()).as_posix()
        except ValueError:
            return file
    return file
