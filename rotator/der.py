"""The one DER reader (and encoder): PKCS#12 structure, certificate fields, names to hash.

cryptography's ``load_pkcs12`` silently skips bags it does not understand (a secret key, a
CRL), so a store rewritten from what it returns would lose them. Reading the outer layers
ourselves lets the PKCS#12 store refuse such files instead, tell a damaged file from a wrong
password, and keep a file's protection (MAC or none) when it is written back. The same reader
finds a certificate's shape, validity and subject (``rotator.certs``) and walks a subject name
for OpenSSL's hash (``stores.subject_hash``) without loading the X.509 parser.

Strict DER only: single-byte tags, definite lengths of at most four octets, no element running
past the end of the one holding it (or of the data), and, through ``header_exact`` and
``read_exact``, no bytes after the top-level element. Anything else is a ``DerError``. Stdlib
only and cheap to import: it is loaded on every certificate path.
"""

from __future__ import annotations

from collections import namedtuple

from rotator.records import TYPE_CHECKING, NamedTuple


class DerError(ValueError):
    """The bytes are not well-formed DER (truncated, damaged, or indefinite-length BER)."""


if TYPE_CHECKING:

    class _Fields(NamedTuple):
        tag: int
        raw: bytes  # the whole element: tag, length and value
        value: bytes

else:  # the same tuple: typing.NamedTuple costs about 1 ms the first time, on every certificate path
    _Fields = namedtuple("Tlv", ("tag", "raw", "value"))


class Tlv(_Fields):
    __slots__ = ()

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


def header(data: bytes, pos: int = 0, end: int | None = None) -> tuple[int, int, int]:
    """(tag, start of the value, end of the value) of the element at ``pos``, copying nothing.

    ``end`` is where the enclosing element ends (by default, and at most, the end of ``data``): an
    element, or its header, running past it is truncated. Every other reader here is built on it.
    """
    if end is None:
        end = len(data)
    head = pos + 2
    if head > end:
        raise DerError("truncated: element header past the end")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise DerError("multi-byte tags are not used by PKCS#12")
    length = data[pos + 1]
    if length > 0x7F:  # the long form: 0x80 plus the number of length octets
        count = length - 0x80
        if not count:
            raise DerError("indefinite-length (BER) encoding")
        if count > 4 or head + count > end:
            raise DerError("truncated or oversized length")
        if count == 1:  # one or two octets, nearly every element: no slice, no int.from_bytes
            length = data[head]
        elif count == 2:
            length = data[head] << 8 | data[head + 1]
        else:
            length = int.from_bytes(data[head : head + count], "big")
        head += count
    stop = head + length
    if stop > end:
        raise DerError("truncated: element runs past the end of the file")
    return tag, head, stop


def header_exact(data: bytes) -> tuple[int, int, int]:
    """``header`` of exactly one element covering all of ``data`` (trailing bytes mean damage)."""
    tag, head, end = header(data)
    if end != len(data):
        raise DerError(f"{len(data) - end} unexpected bytes after the end of the structure")
    return tag, head, end


def read_one(data: bytes, pos: int = 0) -> tuple[Tlv, int]:
    """The element starting at ``pos`` and the position just past it."""
    tag, head, end = header(data, pos)
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
    tag, head, _ = header_exact(data)
    return Tlv(tag=tag, raw=data, value=data[head:])


def encode_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def encode(tag: int, value: bytes) -> bytes:
    """One element, its length in the shortest form (as DER requires)."""
    length = len(value)
    if length < 0x80:  # nearly every element of a name: no second call
        return bytes([tag, length]) + value
    return bytes([tag]) + encode_length(length) + value


def sequence(*raw_items: bytes) -> bytes:
    return encode(0x30, b"".join(raw_items))
