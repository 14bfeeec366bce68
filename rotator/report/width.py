"""Text output fits a terminal: every line within WIDTH columns."""

from __future__ import annotations

from collections.abc import Iterable

from rotator.records import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import TextIO

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


def for_terminal(text: str, stream: TextIO) -> str:
    """``text`` wrapped when ``stream`` is a terminal; whole otherwise, so that a log, the journal or
    a script reading stderr gets each message on one line."""
    isatty = getattr(stream, "isatty", None)
    if len(text) <= WIDTH or isatty is None or not isatty():
        return text
    return "\n".join(wrapped(text.split("\n")))
