"""What a name may hold (a job's, a dataset column's): text that displays as it reads.

Pure text rules, shared by the schemas and by the dataset parser.
"""

from __future__ import annotations

import unicodedata

# Characters that change how text around them displays (right-to-left overrides,
# isolates, embeddings): a name holding one shows other than it reads.
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def display_problem(text: str) -> str | None:
    """Why `text` may not be shown as a name (a control or bidirectional formatting
    character), or None."""
    for i, char in enumerate(text):
        if char in _BIDI_CONTROLS or unicodedata.category(char) == "Cc":
            return (
                f"Names may not hold control or bidirectional formatting characters "
                f"(U+{ord(char):04X} at position {i}): they display other than they read."
            )
    return None
