"""The ownership label: how rotator marks, in the store itself, what it added.

Every entry rotator writes is labelled ``rotator-<root id>``: a keystore alias as it is, a
file name with the suffix its store kind writes (``rotator-<id>.crt``, ``rotator-<id>.pem``),
a PEM bundle's marker comment ``# rotator-<id>: ...`` above the block. A label is rotator's
exactly when it is what ``label`` would write for a valid root id (``ROOT_ID``, the id rule
the catalog and the config are held to)
with one of the suffixes its store kind reads. Anything else (``rotator-``, ``rotator-../x``,
upper case, ``debian:rotator-x.pem`` written by another tool) is somebody else's and is never
removed. This is the only place that formats or parses the label.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# A root id: lower case letters, digits, ".", "_", "-", starting with a letter or digit, at most 63
# characters. It lives here, with the label it makes, so that the stores never load the catalog.
ROOT_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
PREFIX = "rotator-"
# File kinds accept both: a file with the suffix its distribution does not read is still rotator's to replace.
FILE_SUFFIXES = (".crt", ".pem")

# The id rule without its anchors, for the bundle marker, which sits mid-line.
_ID = ROOT_ID.pattern.removeprefix("^").removesuffix("$")
# ``# rotator-<id>: <name> (sha256 ...)`` on its own line, just above the block it owns.
PEM_MARKER = re.compile(rb"^# " + PREFIX.encode() + rb"(?P<id>" + _ID.encode() + rb"):[^\n]*\n", re.MULTILINE)


def valid_id(root_id: str) -> bool:
    """The id rule: lower case, digits, ``.``, ``_``, ``-``; starts with a letter or digit."""
    return ROOT_ID.fullmatch(root_id) is not None


MAX_NAME = 200  # a root's display name: what a marker line and a report line can carry
MAX_NOTE = 1000  # a root's note or retire reason: reports only, but one line all the same


def one_line(text: str, limit: int = MAX_NAME) -> bool:
    """A root's name (or note) is one line of printable text: it goes into a PEM bundle's marker
    comment, and a line break there would start a line rotator did not mean to write (a second
    certificate, unpinned, that every client of the bundle would trust)."""
    return len(text) <= limit and text.isprintable()


def marker_text(name: str) -> str:
    """``name`` as a marker comment may carry it: anything not printable becomes ``?``. The config is
    held to ``one_line`` already; this keeps every other path from writing a second line."""
    return name if one_line(name) else "".join(c if c.isprintable() else "?" for c in name[:MAX_NAME])


def label(root_id: str, suffix: str = "") -> str:
    """rotator's label for root_id: an alias, or with suffix a file name."""
    if not valid_id(root_id):
        raise ValueError(f"{root_id!r} is not a root id")
    return f"{PREFIX}{root_id}{suffix}"


def owner(name: str, suffixes: Sequence[str] = ("",)) -> str | None:
    """The root id when name is rotator's label for it with one of suffixes (in that order), else None."""
    for suffix in suffixes:
        if not name.endswith(suffix):
            continue
        base = name[: len(name) - len(suffix)]
        root_id = base[len(PREFIX) :] if base.startswith(PREFIX) else ""
        if valid_id(root_id):
            return root_id
    return None


def is_label_of(name: str, root_id: str) -> bool:
    """Whether name is rotator's label for root_id in any store kind (alias or file name)."""
    return valid_id(root_id) and name in {label(root_id, suffix) for suffix in ("", *FILE_SUFFIXES)}
