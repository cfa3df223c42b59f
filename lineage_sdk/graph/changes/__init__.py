"""Lineage over time and against git: revisions, history, as-of, diff, staleness, patch impact.

The algorithms here are pure; a store answers the aggregate questions of
:class:`~lineage_sdk.graph.changes.source.ChangeSource` and the graph facade exposes the results
(``LineageGraph.history``, ``as_of``, ``diff``, ``stale``, ``impact_of_patch``).
"""

from .analysis import (
    Change,
    Diff,
    History,
    Impact,
    Production,
    Reason,
    Stale,
    TouchedTransformation,
    diff,
    history,
    impact_of_patch,
    stale,
)
from .model import Revision, RunFacts, RunMark, revision_id, revision_key
from .moments import Moment, MomentError, resolve_moment
from .patch import (
    FileChange,
    GitDiffError,
    current_source_sha256,
    function_lines,
    git_diff,
    lines_at_ref,
    parse_patch,
)
from .source import ChangeSource, RunsChangeSource

__all__ = [
    "Change",
    "ChangeSource",
    "Diff",
    "FileChange",
    "GitDiffError",
    "History",
    "Impact",
    "Moment",
    "MomentError",
    "Production",
    "Reason",
    "Revision",
    "RunFacts",
    "RunMark",
    "RunsChangeSource",
    "Stale",
    "TouchedTransformation",
    "current_source_sha256",
    "diff",
    "function_lines",
    "git_diff",
    "history",
    "impact_of_patch",
    "lines_at_ref",
    "parse_patch",
    "resolve_moment",
    "revision_id",
    "revision_key",
    "stale",
]
