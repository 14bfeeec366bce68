"""A minimal DER reader: just enough to look at a PKCS#12 file's outer structure.

cryptography's ``load_pkcs12`` silently skips bags it does not understand (a secret key, a
CRL), so a store rewritten from what it returns would lose them. Reading the outer layers
ourselves lets the PKCS#12 store refuse such files instead, tell a damaged file from a wrong
password, and keep a file's protection (MAC or none) when it is written back.
"""

from __future__ import annotations

from typing import NamedTuple


class DerError(ValueError):
    """The bytes are not well-formed DER (truncated, damaged, or indefinite-length BER)."""


class Tlv(NamedTuple):
    tag: int
    raw: bytes  # the whole element: tag, length and value
    value: bytes

    @property
    def constructed(self) -> bool:
        return bool(self.tag & 0x20)

    def children(self) -> list[Tlv]:
        return read_all(self.value)

    def oid(self) -> str:
        if self.tag != 0x06 or not self.value:
            raise DerError("expected an OBJECT IDENTIFIER")
        first = self.value[0]
        parts = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
        n = 0
        for byte in self.value[1:]:
            n = (n << 7) | (byte & 0x7F)
            if not byte & 0x80:
                parts.append(n)
                n = 0
        return ".".join(str(p) for p in parts)


def read_one(data: bytes, pos: int = 0) -> tuple[Tlv, int]:
    """The element starting at ``pos`` and the position just past it."""
    if pos + 2 > len(data):
        raise DerError("truncated: element header past the end")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise DerError("multi-byte tags are not used by PKCS#12")
    first = data[pos + 1]
    head = pos + 2
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise DerError("indefinite-length (BER) encoding")
    else:
        count = first & 0x7F
        if count > 4 or head + count > len(data):
            raise DerError("truncated or oversized length")
        length = int.from_bytes(data[head : head + count], "big")
        head += count
    end = head + length
    if end > len(data):
        raise DerError("truncated: element runs past the end of the file")
    return Tlv(tag=tag, raw=data[pos:end], value=data[head:end]), end


def read_all(data: bytes) -> list[Tlv]:
    items: list[Tlv] = []
    pos = 0
    while pos < len(data):
        item, pos = read_one(data, pos)
        items.append(item)
    return items


def read_exact(data: bytes) -> Tlv:
    """Exactly one element covering all of ``data`` (trailing bytes mean a damaged file)."""
    item, end = read_one(data)
    if end != len(data):
        raise DerError(f"{len(data) - end} unexpected bytes after the end of the structure")
    return item


def encode_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def sequence(*raw_items: bytes) -> bytes:
    body = b"".join(raw_items)
    return b"\x30" + encode_length(len(body)) + body
