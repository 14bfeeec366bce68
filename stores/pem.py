"""``pem:PATH``: a PEM bundle (one file of concatenated certificates).

Merging keeps every byte that is not rotator's: other certificates, comments, blank lines
and their order. rotator's own blocks are marked by a comment line just above them,
``# rotator-<root id>: <name> (sha256 ...)``, which is how later runs know what they own.
"""

from __future__ import annotations

import binascii
import contextlib
import gc
from collections.abc import Iterator, Sequence
from pathlib import Path

from rotator import ownership
from rotator.certs import BEGIN_LINE, PEM_BLOCK, Cert, NotACertificate
from rotator.errors import StoreError
from rotator.host.files import atomic_write, read_optional, real_target
from rotator.records import NamedTuple
from stores.base import (
    Anchor,
    Entry,
    Plan,
    StampedFile,
    StoreContents,
    make_plan,
    stat_or_none,
    verify_present,
)

MARKER = ownership.PEM_MARKER
MARKER_START = b"# " + ownership.PREFIX.encode()
BEGIN = b"-----BEGIN CERTIFICATE-----"


class _Block(NamedTuple):
    """Where one certificate sits. A named tuple: a bundle can hold 100,000 of them."""

    start: int  # where the block (with its marker line, if owned) starts
    end: int  # just past the block and its line break
    entry: Entry
    number: int  # 1-based position among the bundle's blocks
    line: int  # line of the BEGIN line


class _Parsed(NamedTuple):
    """A bundle's bytes and its blocks, kept so one run parses each version of the file once."""

    data: bytes
    blocks: tuple[_Block, ...]

    def contents(self) -> StoreContents:
        return StoreContents(entries=tuple(b.entry for b in self.blocks))


def _blocks(data: bytes, offset: int = 0, number: int = 0) -> list[_Block]:
    """The certificate blocks from ``offset`` on, numbered after ``number`` earlier blocks.

    One linear pass: the line number is carried from block to block, never recounted from the
    start (a bundle of 100,000 certificates would otherwise take hours), and rotator's marker
    lines are found by one search of their own rather than looked for above every block.
    """
    owners = _owners(data, offset)
    with _cycle_collector_paused():
        return _blocks_from(data, offset, number, owners)


@contextlib.contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """A bundle's parse makes an object or three per certificate, none of them in a cycle; the
    cycle collector would walk all of them again and again as they pile up (a fifth of the
    parse of 100,000 certificates)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _blocks_from(data: bytes, offset: int, number: int, owners: dict[int, tuple[int, str]]) -> list[_Block]:
    blocks: list[_Block] = []
    line, counted = data.count(b"\n", 0, offset) + 1, offset
    for match in PEM_BLOCK.finditer(data, offset):
        number += 1
        start, end = match.span()
        line += data.count(b"\n", counted, start)
        counted = start
        if data[end : end + 1] == b"\n":
            end += 1
        elif data[end : end + 2] == b"\r\n":
            end += 2
        owner = None
        marker = owners.get(start)
        if marker is not None:
            start, owner = marker
        entry = Entry(label=_label(owner, number, line), cert=_cert(match.group("body")), owner_id=owner)
        blocks.append(_Block(start, end, entry, number, line))
    return blocks


def _owners(data: bytes, offset: int) -> dict[int, tuple[int, str]]:
    """rotator's marker lines from ``offset`` on: (where the line starts, root id), keyed by where
    it ends, which is where the BEGIN line of the block it owns starts.

    Found with ``bytes.find`` and matched only there: a multi-line regex search would try every
    line of the bundle.
    """
    owners: dict[int, tuple[int, str]] = {}
    pos = data.find(MARKER_START, offset)
    while pos != -1:
        marker = MARKER.match(data, pos)  # its ``^`` holds only at the start of a line
        if marker is not None:
            owners[marker.end()] = (pos, marker.group("id").decode())
        pos = data.find(MARKER_START, pos + 1)
    return owners


def unterminated(data: bytes, blocks: int | None = None) -> int | None:
    """The line of the first BEGIN CERTIFICATE line that starts no complete block, if any.

    PEM readers stop at such a block, so roots appended after it would not be seen: a bundle
    like that is refused rather than written. ``blocks``, the number of complete blocks when
    known, answers the common case by counting: each complete block holds one BEGIN line.
    """
    if blocks is not None and data.count(BEGIN) == blocks:
        return None
    starts = {m.start() for m in PEM_BLOCK.finditer(data)}
    for begin in BEGIN_LINE.finditer(data):
        if begin.start() not in starts:
            return data.count(b"\n", 0, begin.start()) + 1
    return None


def _label(owner: str | None, number: int, line: int) -> str:
    return ownership.label(owner) if owner else f"certificate {number} (line {line})"


def _cert(body: bytes) -> Cert | None:
    """The block's certificate, or None when it does not decode to one (kept, never parsed further)."""
    try:
        return Cert.from_der_lazily(binascii.a2b_base64(body))  # what b64decode calls, minus its checks
    except (NotACertificate, ValueError):
        return None


def render_block(anchor: Anchor) -> bytes:
    name = ownership.marker_text(anchor.name)
    header = f"# {ownership.label(anchor.root_id)}: {name} (sha256 {anchor.cert.sha256})\n"
    return header.encode() + anchor.cert.to_pem()


def merged(data: bytes, plan: Plan, blocks: Sequence[_Block] | None = None) -> bytes:
    """The bundle with the plan applied; every byte not named by the plan stays where it was."""
    drop = {e.label for e in plan.remove}
    view = memoryview(data)  # slices of a view are not copies: the result is built in one join
    parts: list[bytes | memoryview] = []
    pos = 0
    for block in _blocks(data) if blocks is None else blocks:
        if block.entry.owner_id is not None and block.entry.label in drop:
            parts.append(view[pos : block.start])
            pos = block.end
    parts.append(view[pos:])
    if plan.add:
        kept_end = _last_byte(parts)
        if kept_end not in (None, b"\n"):
            parts.append(b"\n")
        parts.extend(render_block(anchor) for anchor in plan.add)
    return b"".join(parts)


def _last_byte(parts: Sequence[bytes | memoryview]) -> bytes | None:
    """The last byte of what is kept so far, None when nothing is."""
    for part in reversed(parts):
        if len(part):
            return bytes(part[-1:])
    return None


class PemBundle:
    kind = "pem"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = f"pem:{path}"
        # The last version of the file this object parsed. Every step still reads the file, and
        # the parse is reused only when the bytes are identical, so a change made by someone
        # else in between is always seen.
        self._parsed: _Parsed | None = None
        self._last: StampedFile | None = None

    def last_read(self) -> StampedFile | None:
        return self._last

    def access_digest(self, data: bytes) -> str:
        return ""  # a bundle opens for anyone who may read it

    def _load(self) -> bytes | None:
        before = stat_or_none(self.path)
        # The bytes last parsed are what verification expects to read back: no second copy then.
        data = read_optional(self.path, "PEM bundle", known=self._parsed.data if self._parsed else None)
        self._last = StampedFile(before, data) if before is not None and data is not None else None
        # Comments alone are a fine (empty) bundle; binary content (DER, a keystore) is not.
        if data is not None and b"-----BEGIN" not in data and (b"\x00" in data or data[:1] == b"\x30"):
            raise StoreError(
                f"{self.path} is not a PEM bundle (binary content, no BEGIN line); "
                "point the target at a PEM file or move this file aside"
            )
        return data

    @property
    def lock_dir(self) -> Path:
        return real_target(self.path).parent

    def _parse(self, data: bytes) -> _Parsed:
        if self._parsed is None or self._parsed.data != data:
            self._parsed = _Parsed(data, tuple(_blocks(data)))
        return self._parsed

    def read(self) -> StoreContents:
        data = self._load()
        if data is None:
            return StoreContents(entries=(), exists=False)
        parsed = self._parse(data)
        contents = parsed.contents()
        line = unterminated(data, len(parsed.blocks))
        if line is not None:
            unreadable = Entry(label=f"certificate block at line {line} (no END line)", cert=None)
            contents = StoreContents(entries=(*contents.entries, unreadable), exists=contents.exists)
        return contents

    def plan(self, wanted: Sequence[Anchor]) -> Plan:
        return make_plan(self.name, self.read(), wanted)

    def apply(self, plan: Plan) -> None:
        if not plan.changes:
            return
        current = self._parse(self._load() or b"")
        line = unterminated(current.data, len(current.blocks))
        if line is not None:
            raise StoreError(
                f"{self.path}: the certificate block at line {line} has no END CERTIFICATE line, so PEM readers "
                "stop there and would not see roots added after it; repair or remove that block and run sync "
                "again; the file was left untouched"
            )
        data = merged(current.data, plan, current.blocks)
        atomic_write(self.path, data, mode=0o644)
        self._parsed = _after(current, data, plan)

    def verify(self, wanted: Sequence[Anchor]) -> None:
        # Read back from disk: identical bytes to what was written mean the blocks known for them
        # hold; anything else is parsed afresh.
        verify_present(self.name, self.read(), wanted)


def _after(before: _Parsed, data: bytes, plan: Plan) -> _Parsed:
    """The blocks of the merged bundle without parsing it again: the blocks that stayed move up
    by what was cut before them (``merged`` cuts whole blocks only), and only the appended tail
    is read."""
    drop = {e.label for e in plan.remove}
    if not drop:
        kept: list[_Block] = list(before.blocks)
        body = len(before.data)
        tail = body if body == 0 or data[body - 1 : body] == b"\n" else body + 1
        return _Parsed(data, (*kept, *_blocks(data, tail, len(kept))))
    kept = []
    cut_bytes = cut_lines = cut_blocks = 0
    for block in before.blocks:
        if block.entry.owner_id is not None and block.entry.label in drop:
            cut_bytes += block.end - block.start
            cut_lines += before.data.count(b"\n", block.start, block.end)
            cut_blocks += 1
            continue
        number, line = block.number - cut_blocks, block.line - cut_lines
        entry = block.entry
        if entry.owner_id is None:
            entry = Entry(label=_label(None, number, line), cert=entry.cert)
        kept.append(_Block(block.start - cut_bytes, block.end - cut_bytes, entry, number, line))
    body = len(before.data) - cut_bytes
    tail = body if body == 0 or data[body - 1 : body] == b"\n" else body + 1
    return _Parsed(data, (*kept, *_blocks(data, tail, len(kept))))
