"""Hypothesis strategies shared by the tests: hostile text that tries to break every output."""

from __future__ import annotations

from hypothesis import strategies as st

FRAGMENTS = [
    "'",
    '"',
    ";",
    "--",
    "\n",
    "\r\n",
    "\\",
    "\\n",
    "<script>alert(1)</script>",
    "&amp;",
    "DROP TABLE runs;",
    "' OR 1=1 --",
    "->",
    "--",
    "{",
    "}",
    "[",
    "]",
    "\t",
    "é",
    "数据",
    "🙂",
    "subgraph",
    "digraph",
    "node",
    "\x00",
    "\x1b[31m",
    "%s",
    "${x}",
]

hostile_text = (
    st.lists(
        st.sampled_from(FRAGMENTS) | st.text(st.characters(exclude_categories=("Cs",)), max_size=3),
        min_size=1,
        max_size=6,
    )
    .map("".join)
    .filter(lambda s: s.strip() != "" and len(s) <= 200)
)
