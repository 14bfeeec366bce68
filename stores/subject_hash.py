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
from rotator.der import DerError, encode, header, header_exact

# Tags whose values OpenSSL canonicalises (ASN1_MASK_CANON), with how their bytes become text.
_UTF8, _PRINTABLE, _T61, _IA5, _VISIBLE, _UNIVERSAL, _BMP = 0x0C, 0x13, 0x14, 0x16, 0x1A, 0x1C, 0x1E
_ONE_BYTE = {_PRINTABLE, _T61, _IA5, _VISIBLE}  # OpenSSL reads each byte as one code point
_SPACE = frozenset(b" \t\n\v\f\r")


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
    """The canonical encoding OpenSSL hashes, from the DER of a Name (exactly one; DerError if not).

    Walked in place with ``rotator.der.header``, each element bounded by the one holding it.
    """
    tag, pos, end = header_exact(name_der)
    if tag != 0x30:
        raise DerError("a certificate name must be a SEQUENCE")
    out = bytearray()
    while pos < end:
        _, atv_pos, rdn_end = header(name_der, pos, end)  # one RDN: SET OF AttributeTypeAndValue
        encoded = []
        while atv_pos < rdn_end:
            _, type_pos, atv_end = header(name_der, atv_pos, rdn_end)
            _, _, type_end = header(name_der, type_pos, atv_end)
            value_tag, value_pos, value_end = header(name_der, type_end, atv_end)
            if value_end != atv_end:
                raise DerError("unexpected bytes after an attribute's value in a certificate name")
            if value_tag in _ONE_BYTE or value_tag in (_UTF8, _BMP, _UNIVERSAL):
                value_tlv = encode(_UTF8, _canon_text(_to_utf8(value_tag, name_der[value_pos:value_end])))
            else:
                value_tlv = name_der[type_end:value_end]
            encoded.append(encode(0x30, name_der[type_pos:type_end] + value_tlv))
            atv_pos = atv_end
        out += encode(0x31, b"".join(sorted(encoded)))  # DER orders a SET OF by encoding
        pos = rdn_end
    return bytes(out)


def name_hash(name_der: bytes) -> str:
    """``X509_NAME_hash`` of a name (its DER) as eight lower-case hex digits."""
    digest = hashlib.sha1(canonical_encoding(name_der), usedforsecurity=False).digest()
    return f"{int.from_bytes(digest[:4], 'little'):08x}"


def subject_hash(cert: Cert) -> str:
    """What ``openssl x509 -subject_hash`` prints for ``cert``, from its DER: no X.509 parser.

    An encoding the short reader does not follow (a DerError, anywhere from the certificate down
    to the name's attributes) is left to the parser, which re-encodes the name as DER, or raises
    NotACertificate for a certificate it cannot read either.
    """
    try:
        return name_hash(der_subject(cert.der))
    except DerError:
        return name_hash(cert.x509.subject.public_bytes())
