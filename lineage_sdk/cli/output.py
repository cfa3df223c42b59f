"""The one place the command line prints: tables and lines for people, JSON for machines.

Commands return a :class:`Result`; :func:`emit` writes it. Human output escapes control
characters, so hostile ids cannot move the cursor or forge lines; ``--json`` gives exact values.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import IO, Any

import attrs

__all__ = ["EXIT_NOT_FOUND", "EXIT_OK", "EXIT_USAGE", "Lines", "Result", "Table", "emit", "safe"]

EXIT_OK, EXIT_NOT_FOUND, EXIT_USAGE = 0, 1, 2


@attrs.frozen
class Table:
    """Rows under a header; None cells show as ``-``."""

    header: Sequence[str]
    rows: Sequence[Sequence[object]]


@attrs.frozen
class Lines:
    """Lines of text, each printed escaped."""

    lines: Sequence[str]


Block = Table | Lines


@attrs.frozen
class Result:
    """What a command computed.

    ``data`` is printed for ``--json``, ``human`` otherwise; ``raw`` (DOT, an image, an export)
    is written as it is in both modes; ``note`` goes to stderr (stdout may carry data).
    """

    data: Any = None
    human: Sequence[Block] = ()
    code: int = EXIT_OK
    raw: str | bytes | None = None
    note: str | None = None


def safe(text: object) -> str:
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


def _table(table: Table, out: IO[str]) -> None:
    cells = [[safe(c) if c is not None else "-" for c in row] for row in table.rows]
    widths = [len(h) for h in table.header]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    line = "  ".join(h.ljust(w) for h, w in zip(table.header, widths, strict=True))
    print(line.rstrip(), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(), file=out)


def json_text(value: Any) -> str:
    """``value`` as indented JSON (non-ASCII kept, unknown types as strings)."""
    return json.dumps(value, ensure_ascii=False, indent=2, default=str) + "\n"


def emit(result: Result, out: IO[str], as_json: bool) -> int:
    """Print ``result`` to ``out`` (and its note to stderr); return its exit code."""
    if result.raw is not None:
        if isinstance(result.raw, str):
            out.write(result.raw)
        else:  # a picture: bytes go to the binary stream under the text one
            out.flush()
            sys.stdout.buffer.write(result.raw)
    elif as_json:
        out.write(json_text(result.data))
    else:
        for block in result.human:
            if isinstance(block, Table):
                _table(block, out)
            else:
                for line in block.lines:
                    print(safe(line), file=out)
    if result.note is not None:
        print(safe(result.note), file=sys.stderr)
    return result.code


def error(message: object) -> None:
    """Report a failure on stderr as ``lineage: MESSAGE``."""
    print(f"lineage: {safe(message)}", file=sys.stderr)
