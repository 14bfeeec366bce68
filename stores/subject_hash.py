"""OpenSSL's subject-name hash (``X509_NAME_hash``, ``openssl x509 -subject_hash``) in pure Python.

The hash names the links in an OpenSSL CApath directory (``<hash>.0``, as ``openssl rehash`` makes
them). OpenSSL computes it as the SHA-1 of the name's *canonical* encoding, first four bytes read as
a little-endian integer, printed as eight hex digits. The canonical encoding is the DER of each RDN
set, concatenated without the outer SEQUENCE, where every string value of a text type is converted
to UTF-8, stripped of leading and trailing whitespace, has inner whitespace runs collapsed to one
space and ASCII letters lower-cased, and is then re-tagged as UTF8String.
"""

from __future__ import annotations

import hashlib

from rotator.certs import Cert, der_subject

# Tags whose values OpenSSL canonicalises (ASN1_MASK_CANON), with how their bytes become text.
_UTF8, _PRINTABLE, _T61, _IA5, _VISIBLE, _UNIVERSAL, _BMP = 0x0C, 0x13, 0x14, 0x16, 0x1A, 0x1C, 0x1E
_ONE_BYTE = {_PRINTABLE, _T61, _IA5, _VISIBLE}  # OpenSSL reads each byte as one code point
_SPACE = frozenset(b" \t\n\v\f\r")


class _Der:
    """Just enough DER reading to walk a Name: tag, content, and the raw TLV bytes."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def done(self) -> bool:
        return self.pos >= len(self.data)

    def next(self) -> tuple[int, bytes, bytes]:
        start = self.pos
        tag = self.data[self.pos]
        length = self.data[self.pos + 1]
        self.pos += 2
        if length & 0x80:
            count = length & 0x7F
            length = int.from_bytes(self.data[self.pos : self.pos + count], "big")
            self.pos += count
        content = self.data[self.pos : self.pos + length]
        if len(content) != length:
            raise ValueError("truncated DER in a certificate name")
        self.pos += length
        return tag, content, self.data[start : self.pos]


def _tlv(tag: int, content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        return bytes([tag, length]) + content
    octets = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(octets)]) + octets + content


def _to_utf8(tag: int, value: bytes) -> bytes:
    if tag == _UTF8:
        return value
    if tag in _ONE_BYTE:
        return value.decode("latin-1").encode("utf-8")
    if tag == _BMP:
        return value.decode("utf-16-be").encode("utf-8")
    return value.decode("utf-32-be").encode("utf-8")  # UniversalString


def _canon_text(raw: bytes) -> bytes:
    """OpenSSL's asn1_string_canon on UTF-8 bytes: trim, collapse spaces, lower-case ASCII."""
    start, end = 0, len(raw)
    while start < end and raw[start] in _SPACE:
        start += 1
    while end > start and raw[end - 1] in _SPACE:
        end -= 1
    out = bytearray()
    i = start
    while i < end:
        c = raw[i]
        if c >= 0x80:
            out.append(c)
            i += 1
        elif c in _SPACE:
            out.append(0x20)
            while i < end and raw[i] in _SPACE:
                i += 1
        else:
            out.append(c + 32 if 0x41 <= c <= 0x5A else c)
            i += 1
    return bytes(out)


def canonical_encoding(name_der: bytes) -> bytes:
    """The canonical encoding OpenSSL hashes, from the DER of a Name."""
    outer = _Der(name_der)
    tag, rdns, _ = outer.next()
    if tag != 0x30:
        raise ValueError("a certificate name must be a SEQUENCE")
    out = bytearray()
    reader = _Der(rdns)
    while not reader.done():
        _, atvs, _ = reader.next()  # one RDN: SET OF AttributeTypeAndValue
        encoded = []
        inner = _Der(atvs)
        while not inner.done():
            _, atv, _ = inner.next()
            parts = _Der(atv)
            _, _, oid_tlv = parts.next()
            value_tag, value, value_tlv = parts.next()
            if value_tag in _ONE_BYTE or value_tag in (_UTF8, _BMP, _UNIVERSAL):
                value_tlv = _tlv(_UTF8, _canon_text(_to_utf8(value_tag, value)))
            encoded.append(_tlv(0x30, oid_tlv + value_tlv))
        out += _tlv(0x31, b"".join(sorted(encoded)))  # DER orders a SET OF by encoding
    return bytes(out)


def name_hash(name_der: bytes) -> str:
    """``X509_NAME_hash`` of a name (its DER) as eight lower-case hex digits."""
    digest = hashlib.sha1(canonical_encoding(name_der), usedforsecurity=False).digest()
    return f"{int.from_bytes(digest[:4], 'little'):08x}"


def subject_hash(cert: Cert) -> str:
    """What ``openssl x509 -subject_hash`` prints for ``cert``, from its DER: no X.509 parser.

    An encoding the short reader does not follow is left to the parser, which re-encodes the
    name as DER.
    """
    try:
        name = der_subject(cert.der)
    except ValueError:
        name = cert.x509.subject.public_bytes()
    return name_hash(name)
