"""Revisions of a transformation: what defines one, how two compare, and their time order.

A *revision* is a distinct (version, source hash, inputs, outputs, derivation) of one
transformation, as its runs recorded it. Revisions are derived from runs when read (grouped by
those fields, :func:`revision_key`); :func:`revision_id` names a group by a hash of its key, so a
store that later keeps revisions in a table of their own can hand out the same ids.

Example::

    >>> key = revision_key("job", "1.0", "ab12", inputs=["a", "b"], outputs=["c"],
    ...                    derivation=[("c", ["a", "b"])])
    >>> key == revision_key("job", "1.0", "ab12", inputs=("b", "a"), outputs=["c"],
    ...                     derivation=[("c", ("b", "a"))])
    True
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import itertools
import json
from collections.abc import Iterable, Sequence

import attrs

from ...records import Run

__all__ = [
    "CHANGE_FIELDS",
    "Revision",
    "RevisionBuilder",
    "RevisionKey",
    "RunFacts",
    "RunMark",
    "chain_revisions",
    "changed_fields",
    "latest_revisions",
    "make_revision",
    "revision_id",
    "revision_key",
]

#: The fields a revision can differ in, in the order they are reported.
CHANGE_FIELDS = ("code", "version", "inputs", "outputs", "derivation")

Derivation = tuple[tuple[str, tuple[str, ...]], ...]
#: (transformation, version, source hash, inputs, outputs, derivation), order-free where the
#: order carries no meaning.
RevisionKey = tuple[str, str | None, str | None, tuple[str, ...], tuple[str, ...], Derivation]


def revision_key(
    transformation: str,
    version: str | None,
    source_sha256: str | None,
    *,
    inputs: Iterable[str],
    outputs: Iterable[str],
    derivation: Iterable[tuple[str, Iterable[str]]],
) -> RevisionKey:
    """The identity of a revision; inputs, outputs and each output's sources are sets."""
    return (
        transformation,
        version,
        source_sha256,
        tuple(sorted(set(inputs))),
        tuple(sorted(set(outputs))),
        tuple(sorted((out, tuple(sorted(set(ins)))) for out, ins in derivation)),
    )


def revision_id(key: RevisionKey) -> str:
    """A stable short id for a revision key (the same in every store and process)."""
    text = json.dumps(key, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


@attrs.frozen(slots=True)
class RunFacts:
    """What change analysis needs of one run (a store may answer it without the whole record)."""

    run_id: str
    transformation: str
    status: str
    started_at: _dt.datetime
    ended_at: _dt.datetime
    version: str | None = None
    source_sha256: str | None = None
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    derivation: Derivation = ()
    file: str | None = None
    qualname: str | None = None
    line_start: int | None = None
    line_end: int | None = None
    commit: str | None = None
    tag: str | None = None
    branch: str | None = None
    error_type: str | None = None

    @classmethod
    def of(cls, run: Run) -> RunFacts:
        """The facts of a full run record."""
        code, git = run.code, run.git
        return cls(
            run_id=run.run_id,
            transformation=run.transformation,
            status=run.status,
            started_at=run.started_at,
            ended_at=run.ended_at,
            version=run.version,
            source_sha256=code.source_sha256 if code else None,
            inputs=run.inputs,
            outputs=run.outputs,
            derivation=run.derivation,
            file=code.file if code else None,
            qualname=code.qualname if code else None,
            line_start=code.line_start if code else None,
            line_end=code.line_end if code else None,
            commit=git.commit if git else None,
            tag=git.tag if git else None,
            branch=git.branch if git else None,
            error_type=run.error_type,
        )

    def key(self) -> RevisionKey:
        """The revision this run belongs to."""
        return revision_key(
            self.transformation,
            self.version,
            self.source_sha256,
            inputs=self.inputs,
            outputs=self.outputs,
            derivation=self.derivation,
        )

    def sources_of(self, output: str) -> tuple[str, ...]:
        """The inputs ``output`` was derived from in this run."""
        return tuple(src for out, ins in self.derivation if out == output for src in ins)


@attrs.frozen(slots=True)
class RunMark:
    """One end of a revision's life: a run, when it ran and at which git state."""

    run_id: str
    started_at: _dt.datetime
    status: str
    commit: str | None
    tag: str | None

    @classmethod
    def of(cls, facts: RunFacts) -> RunMark:
        """The mark of a run."""
        return cls(facts.run_id, facts.started_at, facts.status, facts.commit, facts.tag)

    def to_json(self) -> dict[str, object]:
        """Plain JSON values."""
        return {
            "run_id": self.run_id,
            "started_at": self.started_at.isoformat(),
            "status": self.status,
            "commit": self.commit,
            "tag": self.tag,
        }


@attrs.frozen(slots=True)
class Revision:
    """One distinct revision of a transformation, with the runs that share it.

    ``file``, ``qualname`` and the line range are those of the revision's newest run (a function
    can move inside its file without its source changing). ``changed`` lists what differs from
    the previous revision (empty for the first): ``code``, ``version``, ``inputs``, ``outputs``,
    ``derivation``.
    """

    id: str
    transformation: str
    version: str | None
    source_sha256: str | None
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    derivation: Derivation
    first_run: RunMark
    last_run: RunMark
    runs: int
    file: str | None = None
    qualname: str | None = None
    line_start: int | None = None
    line_end: int | None = None
    changed: tuple[str, ...] = ()

    @property
    def key(self) -> RevisionKey:
        """The identity of this revision."""
        return (
            self.transformation,
            self.version,
            self.source_sha256,
            self.inputs,
            self.outputs,
            self.derivation,
        )

    def edges(self) -> set[tuple[str, str]]:
        """``(input, output)`` pairs of this revision's derivation."""
        return {(src, out) for out, ins in self.derivation for src in ins}

    def to_json(self) -> dict[str, object]:
        """Plain JSON values (the ``--json`` shape of ``lineage history``)."""
        return {
            "id": self.id,
            "transformation": self.transformation,
            "version": self.version,
            "source_sha256": self.source_sha256,
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
            "derivation": [[out, list(ins)] for out, ins in self.derivation],
            "file": self.file,
            "qualname": self.qualname,
            "lines": [self.line_start, self.line_end] if self.line_start is not None else None,
            "first_run": self.first_run.to_json(),
            "last_run": self.last_run.to_json(),
            "runs": self.runs,
            "changed": list(self.changed),
        }


def changed_fields(old: RevisionKey, new: RevisionKey) -> tuple[str, ...]:
    """Which of :data:`CHANGE_FIELDS` differ between two revisions of a transformation."""
    _, old_version, old_sha, old_in, old_out, old_der = old
    _, new_version, new_sha, new_in, new_out, new_der = new
    flags = (
        old_sha != new_sha,
        old_version != new_version,
        old_in != new_in,
        old_out != new_out,
        old_der != new_der,
    )
    return tuple(name for name, differs in zip(CHANGE_FIELDS, flags, strict=True) if differs)


@attrs.define(slots=True)
class _Group:
    first: RunFacts
    last: RunFacts
    count: int = 1


class RevisionBuilder:
    """Accumulates runs into revisions in one pass, any order (where runs are in memory)."""

    def __init__(self) -> None:
        self._groups: dict[RevisionKey, _Group] = {}

    def add(self, facts: RunFacts) -> None:
        """Count one run; only its group's first and newest run are kept."""
        key = facts.key()
        group = self._groups.get(key)
        if group is None:
            self._groups[key] = _Group(facts, facts)
            return
        group.count += 1
        if (facts.started_at, facts.run_id) < (group.first.started_at, group.first.run_id):
            group.first = facts
        if (facts.started_at, facts.run_id) > (group.last.started_at, group.last.run_id):
            group.last = facts

    def revisions(self) -> list[Revision]:
        """Every revision seen, unchained (``changed`` empty)."""
        return [make_revision(k, g.first, g.last, g.count) for k, g in self._groups.items()]


def make_revision(key: RevisionKey, first: RunFacts, last: RunFacts, runs: int) -> Revision:
    """A revision from its key, its first and newest run, and how many runs it has."""
    transformation, version, sha, inputs, outputs, derivation = key
    return Revision(
        id=revision_id(key),
        transformation=transformation,
        version=version,
        source_sha256=sha,
        inputs=inputs,
        outputs=outputs,
        derivation=derivation,
        first_run=RunMark.of(first),
        last_run=RunMark.of(last),
        runs=runs,
        file=last.file,
        qualname=last.qualname,
        line_start=last.line_start,
        line_end=last.line_end,
    )


def chain_revisions(revisions: Sequence[Revision]) -> dict[str, list[Revision]]:
    """Per transformation, its revisions oldest first, each with ``changed`` filled in."""
    by_t: dict[str, list[Revision]] = {}
    for rev in revisions:
        by_t.setdefault(rev.transformation, []).append(rev)
    out: dict[str, list[Revision]] = {}
    for t, revs in sorted(by_t.items()):
        revs.sort(key=lambda r: (r.first_run.started_at, r.first_run.run_id))
        chained = [revs[0]]
        for prev, rev in itertools.pairwise(revs):
            chained.append(attrs.evolve(rev, changed=changed_fields(prev.key, rev.key)))
        out[t] = chained
    return out


def latest_revisions(revisions: Iterable[Revision]) -> dict[str, Revision]:
    """Per transformation, the revision whose newest run is the newest."""
    latest: dict[str, Revision] = {}
    for rev in revisions:
        mark = (rev.last_run.started_at, rev.last_run.run_id)
        have = latest.get(rev.transformation)
        if have is None or mark > (have.last_run.started_at, have.last_run.run_id):
            latest[rev.transformation] = rev
    return latest
