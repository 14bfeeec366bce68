"""Text output fits a terminal: every line within WIDTH columns."""

from __future__ import annotations

from collections.abc import Iterable

WIDTH = 100


def wrapped(lines: Iterable[str], width: int = WIDTH) -> list[str]:
    """Each line within ``width``, continued with four more spaces of indent; a word longer than
    the room (a path, a command to paste) is never cut."""
    import textwrap

    out = []
    for line in lines:
        if len(line) <= width:
            out.append(line)
            continue
        indent = " " * (len(line) - len(line.lstrip()) + 4)
        out += textwrap.wrap(line, width, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False) or [
            line
        ]
    return out
