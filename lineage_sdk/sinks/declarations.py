"""Declarations as revisions: how a store takes a node's or transformation's re-declaration.

Every store follows :func:`~lineage_sdk.records.merge_declaration`: a later declaration's named
fields replace, the ones it leaves at their defaults keep what was set before. A writer that sees a
declaration change what its store held logs it once, at INFO, naming the id and the fields.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, MutableMapping

from ..records import (
    DataSource,
    Declaration,
    Feature,
    Record,
    Transformation,
    declaration_changes,
    merge_declaration,
)

__all__ = ["declaration_key", "is_declaration", "take_declaration", "take_declarations"]

_log = logging.getLogger("lineage_sdk")


def is_declaration(record: Record) -> bool:
    """Whether ``record`` is a node's or a transformation's declaration (not a run)."""
    return isinstance(record, (DataSource, Feature, Transformation))


def declaration_key(record: Declaration) -> str:
    """The key a declaration merges under: nodes (of either kind) share one id space,
    transformations have their own."""
    return f"{'transformation' if isinstance(record, Transformation) else 'node'}:{record.id}"


def take_declaration(
    latest: MutableMapping[str, Declaration], record: Declaration, *, log: bool = True
) -> tuple[Declaration, tuple[str, ...]]:
    """Merge ``record`` into ``latest`` (id -> merged declaration); return it and what changed.

    Logs at INFO when a declaration the store held changes (never for a first or an identical
    one), under :func:`declaration_key`.
    """
    key = declaration_key(record)
    before = latest.get(key)
    merged = merge_declaration(before, record)
    changed = declaration_changes(before, merged)
    latest[key] = merged
    if changed and log:
        _log.info("declaration of %s %r changed: %s", record.kind, record.id, ", ".join(changed))
    return merged, changed


def take_declarations(
    latest: MutableMapping[str, Declaration], records: Iterable[Record], *, log: bool = True
) -> None:
    """:func:`take_declaration` for every declaration among ``records``, in order."""
    for record in records:
        if isinstance(record, (DataSource, Feature, Transformation)):
            take_declaration(latest, record, log=log)
