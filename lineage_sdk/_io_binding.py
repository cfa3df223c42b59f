"""How ``@log_lineage`` reads its declarations and a call's arguments.

Inputs, outputs and derivation (nodes, ids, a source's columns, partitions) are resolved to ids
once (:class:`IOSpec`), at decoration for static declarations or per call for callables; a
call's arguments are mapped to parameter names (:class:`Binder`) only when a declaration is a
callable that needs them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .records import (
    ColumnEdge,
    ColumnRef,
    DataSource,
    Feature,
    Node,
    Partition,
    PartitionRead,
    _check_id,
    escape_surrogates,
    has_surrogates,
)

__all__ = ["Binder", "IOSpec", "Item", "NodeLike", "node_list"]

_log = logging.getLogger("lineage_sdk")

#: A node, or the id of a node declared elsewhere.
NodeLike = Node | str

# --- declarations ----------------------------------------------------------------------------
#: What may stand in inputs, outputs and derivation: a node, its id, one of a source's columns
#: (derivation values and inputs only) or one partition of a partitioned file dataset.
Item = NodeLike | ColumnRef | Partition
_ITEM_TYPES = (DataSource, Feature, ColumnRef, Partition)


def _node_or_id(value: object, argument: str) -> Item:
    if isinstance(value, _ITEM_TYPES):
        return value
    if isinstance(value, str):
        if not value.isascii() and has_surrogates(value):
            value = _escaped_id(value)
        return _check_id(value, f"an id in {argument}")
    raise TypeError(
        f"{argument} takes DataSource / Feature objects, string ids, source columns "
        f"(source['column']) or partitions (source.partition(...)), "
        f"got {type(value).__name__}: {value!r}"
    )


# Undecodable ids are warned about once per process; later ones are escaped quietly.
_warned_surrogates = False


def _escaped_id(value: str) -> str:
    # A file name that is not UTF-8 (through os.listdir, sys.argv) cannot be stored as is: keep
    # its bytes as \xNN escapes rather than lose the run, and say so once.
    global _warned_surrogates
    escaped = escape_surrogates(value)
    if not _warned_surrogates:
        _warned_surrogates = True
        _log.warning(
            "lineage: id %r holds undecodable bytes; recorded as %r (further ones quietly)",
            value,
            escaped,
        )
    return escaped


def node_list(value: object, argument: str) -> tuple[Item, ...]:
    if isinstance(value, (*_ITEM_TYPES, str)):
        return (_node_or_id(value, argument),)
    if not isinstance(value, Iterable):
        raise TypeError(f"{argument} must be a node, an id or a sequence of them, got {value!r}")
    items = tuple(_node_or_id(v, argument) for v in value)
    return tuple(dict.fromkeys(items))  # keep order, drop repeats


def _output(value: object, argument: str) -> Item:
    item = _node_or_id(value, argument)
    if isinstance(item, ColumnRef):
        raise TypeError(
            f"{argument} takes nodes, not columns ({item.id!r}): columns stand for a source in "
            "inputs or in the derivation mapping's values"
        )
    return item


def _id(item: Item) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, (ColumnRef, Partition)):
        return item.source.id
    return item.id


def _node(item: Item) -> Node | None:
    if isinstance(item, str):
        return None
    if isinstance(item, (ColumnRef, Partition)):
        return item.source
    return item


def _column_edges(output: str, items: Iterable[Item]) -> list[ColumnEdge]:
    """Column edges of one output; a source also named whole depends with all its columns."""
    whole = {_id(i) for i in items if not isinstance(i, ColumnRef)}
    return [
        ColumnEdge(output, i.source.id, i.name, i.kind)
        for i in items
        if isinstance(i, ColumnRef) and i.source.id not in whole
    ]


class IOSpec:
    """Inputs, outputs, per-output (and per-column) derivation resolved to ids, the node objects
    seen and the partitions named."""

    __slots__ = ("columns", "derivation", "inputs", "nodes", "outputs", "partitions")

    def __init__(self, inputs: object, outputs: object, static_inputs: bool = True) -> None:
        ins = node_list(inputs, "inputs")
        input_ids = tuple(dict.fromkeys(_id(n) for n in ins))
        seen: list[Item] = list(ins)
        derivation: list[tuple[str, tuple[str, ...]]] = []
        columns: list[ColumnEdge] = []
        if isinstance(outputs, Mapping):
            out_items: list[Item] = []
            for key, sources in outputs.items():
                out = _output(key, "outputs")
                out_id = _id(out)
                src = node_list(sources, f"outputs[{out_id!r}]")
                missing = [_id(s) for s in src if _id(s) not in input_ids]
                if missing and static_inputs:
                    raise ValueError(
                        f"outputs maps {out_id!r} to {missing}, which are not among inputs "
                        f"{list(input_ids)}"
                    )
                out_items.append(out)
                seen.extend(src)
                derivation.append((out_id, tuple(dict.fromkeys(_id(s) for s in src))))
                columns.extend(_column_edges(out_id, src))
        else:
            out_items = [_output(o, "outputs") for o in node_list(outputs, "outputs")]
            derivation = [(_id(o), input_ids) for o in out_items]
            for out in out_items:
                columns.extend(_column_edges(_id(out), ins))
        seen.extend(out_items)
        self.inputs = input_ids
        self.outputs = tuple(dict.fromkeys(_id(o) for o in out_items))
        self.derivation = tuple(derivation)
        self.columns = tuple(dict.fromkeys(columns))
        self.partitions = tuple(
            dict.fromkeys(
                PartitionRead(p.source.id, p.path, p.values)
                for p in seen
                if isinstance(p, Partition)
            )
        )
        nodes = (_node(i) for i in seen)
        self.nodes: tuple[Node, ...] = tuple(dict.fromkeys(n for n in nodes if n is not None))


class Binder:
    """Maps a call's arguments to parameter names, as ``Signature.bind`` + ``apply_defaults``.

    The signature is inspected once; a call with plain positional-or-keyword parameters is bound
    with a few dict operations, anything else (``*args``, ``**kwargs``, positional-only, a
    binding error) goes through ``Signature.bind``, which also raises the same TypeError.
    """

    __slots__ = ("_defaults", "_fast", "_name_set", "_names", "_signature")

    def __init__(self, func: Callable[..., Any]) -> None:
        import inspect

        self._signature = inspect.signature(func)
        params = list(self._signature.parameters.values())
        self._names = tuple(p.name for p in params)
        self._name_set = frozenset(self._names)
        self._fast = all(p.kind is p.POSITIONAL_OR_KEYWORD for p in params)
        self._defaults = {p.name: p.default for p in params if p.default is not p.empty}

    def __call__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        names = self._names
        if self._fast and len(args) <= len(names) and kwargs.keys() <= self._name_set:
            given = dict(zip(names, args, strict=False))  # args may be fewer
            if not given.keys() & kwargs.keys():  # a name given twice: bind() raises below
                given.update(kwargs)
                defaults = self._defaults
                if all(n in given or n in defaults for n in names):
                    return {n: given[n] if n in given else defaults[n] for n in names}
        bound = self._signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return dict(bound.arguments)
