"""Rendering untrusted text (payload fields, identifiers) safely for messages and logs."""

from __future__ import annotations


def bounded(text: str, limit: int) -> str:
    """`text`, cut to `limit` characters with a visible ellipsis."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def printable(text: str) -> str:
    """`text` with control and invisible characters escaped, so it cannot break or disguise a log line."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def quoted(raw: str, limit: int = 80) -> str:
    """A quoted, ASCII-only rendering for an error message, bounded after escaping
    (ascii() turns one character into up to ten)."""
    return bounded(ascii(raw), limit)
