"""``pem:PATH``: a PEM bundle (one file of concatenated certificates).

Merging keeps every byte that is not rotator's: other certificates, comments, blank lines
and their order. rotator's own blocks are marked by a comment line just above them,
``# rotator-<root id>: <name> (sha256 ...)``, which is how later runs know what they own.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rotator.certs import BEGIN_LINE, PEM_BLOCK, Cert, NotACertificate
from rotator.errors import StoreError
from rotator.fsutil import atomic_write, read_optional, real_target
from stores.base import Anchor, Entry, Plan, StoreContents, make_plan, verify_present

MARKER = re.compile(rb"^# rotator-(?P<id>[a-z0-9][a-z0-9._-]*):[^\n]*\n", re.MULTILINE)


@dataclass(frozen=True)
class _Block:
    start: int  # where the block (with its marker line, if owned) starts
    end: int  # just past the block and its line break
    entry: Entry


def _blocks(data: bytes) -> list[_Block]:
    blocks: list[_Block] = []
    for number, match in enumerate(PEM_BLOCK.finditer(data), start=1):
        start, end = match.start(), match.end()
        if data[end : end + 2] == b"\r\n":
            end += 2
        elif data[end : end + 1] == b"\n":
            end += 1
        owner = None
        if start > 0:
            line_start = data.rfind(b"\n", 0, start - 1) + 1
            marker = MARKER.match(data, line_start)
            if marker is not None and marker.end() == start:
                owner = marker.group("id").decode()
                start = line_start
        try:
            cert: Cert | None = Cert.from_der(base64.b64decode(match.group("body")))
        except (NotACertificate, ValueError):
            cert = None
        line = data.count(b"\n", 0, match.start()) + 1
        label = f"rotator-{owner}" if owner else f"certificate {number} (line {line})"
        blocks.append(_Block(start, end, Entry(label=label, cert=cert, owner_id=owner)))
    return blocks


def unterminated(data: bytes) -> int | None:
    """The line of the first BEGIN CERTIFICATE line that starts no complete block, if any.

    PEM readers stop at such a block, so roots appended after it would not be seen: a bundle
    like that is refused rather than written.
    """
    starts = {m.start() for m in PEM_BLOCK.finditer(data)}
    for begin in BEGIN_LINE.finditer(data):
        if begin.start() not in starts:
            return data.count(b"\n", 0, begin.start()) + 1
    return None


def render_block(anchor: Anchor) -> bytes:
    header = f"# rotator-{anchor.root_id}: {anchor.name} (sha256 {anchor.cert.sha256})\n"
    return header.encode() + anchor.cert.to_pem()


def merged(data: bytes, plan: Plan) -> bytes:
    """The bundle with the plan applied; every byte not named by the plan stays where it was."""
    drop = {e.label for e in plan.remove}
    out = bytearray()
    pos = 0
    for block in _blocks(data):
        if block.entry.owner_id is not None and block.entry.label in drop:
            out += data[pos : block.start]
            pos = block.end
    out += data[pos:]
    if plan.add:
        if out and not out.endswith(b"\n"):
            out += b"\n"
        for anchor in plan.add:
            out += render_block(anchor)
    return bytes(out)


class PemBundle:
    kind = "pem"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = f"pem:{path}"

    def _load(self) -> bytes | None:
        data = read_optional(self.path, "PEM bundle")
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

    def read(self) -> StoreContents:
        data = self._load()
        if data is None:
            return StoreContents(entries=(), exists=False)
        entries = [b.entry for b in _blocks(data)]
        line = unterminated(data)
        if line is not None:
            entries.append(Entry(label=f"certificate block at line {line} (no END line)", cert=None))
        return StoreContents(entries=tuple(entries))

    def plan(self, wanted: Sequence[Anchor]) -> Plan:
        return make_plan(self.name, self.read(), wanted)

    def apply(self, plan: Plan) -> None:
        if not plan.changes:
            return
        data = self._load() or b""
        line = unterminated(data)
        if line is not None:
            raise StoreError(
                f"{self.path}: the certificate block at line {line} has no END CERTIFICATE line, so PEM readers "
                "stop there and would not see roots added after it; repair or remove that block and run sync "
                "again; the file was left untouched"
            )
        atomic_write(self.path, merged(data, plan), mode=0o644)

    def verify(self, wanted: Sequence[Anchor]) -> None:
        verify_present(self.name, self.read(), wanted)
