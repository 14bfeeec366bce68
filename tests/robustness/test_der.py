"""The one DER reader, rotator.der, and the strict checks its callers get from it: the PKCS#12 store
(read_one, read_exact), certificates' shape, validity and subject (rotator.certs) and the subject
hash of a hash directory (stores.subject_hash). Definite lengths of one to four octets only, no
element past the end of the one holding it, no bytes after a top-level element, single-byte tags;
each caller turns a DerError into the error it always raised."""

from __future__ import annotations

import re

import pytest

from rotator.certs import Cert, NotACertificate, der_subject
from rotator.der import DerError, encode, encode_length, header, header_exact, read_all, read_exact, read_one, sequence
from stores.subject_hash import name_hash, subject_hash
from tests.support.pki import make_root

ROOT = make_root("rotator DER reader root")
OID_CN = encode(0x06, b"\x55\x04\x03")


def _cert_with_tbs(der: bytes, change) -> bytes:
    """The certificate with its TBSCertificate's elements (raw bytes) passed through ``change``."""
    cert = read_exact(der).children()
    tbs = [t.raw for t in cert[0].children()]
    return sequence(sequence(*change(tbs)), *(c.raw for c in cert[1:]))


def _subject_index(tbs: list[bytes]) -> int:
    return 5 if tbs[0][0] == 0xA0 else 4


def _cert_with_subject(der: bytes, subject: bytes) -> bytes:
    def change(tbs: list[bytes]) -> list[bytes]:
        tbs[_subject_index(tbs)] = subject
        return tbs

    return _cert_with_tbs(der, change)


def _name(*atvs: bytes) -> bytes:
    return sequence(*(encode(0x31, atv) for atv in atvs))


# --- the reader itself ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "truncated: element header past the end"),
        (b"\x30", "truncated: element header past the end"),
        (b"\x30\x05\x02\x01", "truncated: element runs past the end"),
        (b"\x30\x80\x02\x01\x05\x00\x00", "indefinite-length (BER) encoding"),
        (b"\x30\x85\x00\x00\x00\x00\x01\x00", "truncated or oversized length"),
        (b"\x30\xff" + bytes(200), "truncated or oversized length"),
        (b"\x30\x82\x01", "truncated or oversized length"),  # the length's own octets cut off
        (b"\x30\x82\x01\x00" + bytes(0xFF), "truncated: element runs past the end"),
        (b"\x1f\x81\x01\x00", "multi-byte tags"),
    ],
)
def test_malformed_der_is_a_der_error_with_its_reason(data: bytes, message: str) -> None:
    for read in (header, header_exact, read_one, read_exact, read_all):
        if data or read is not read_all:  # nothing at all is no elements
            with pytest.raises(DerError, match=re.escape(message)):
                read(data)


def test_an_element_may_not_run_past_the_one_holding_it() -> None:
    # In a SEQUENCE of 9 bytes, one of 3 whose OCTET STRING claims 5: inside the data, outside its parent.
    data = b"\x30\x09\x30\x03\x04\x05\x00" + bytes(4)
    assert header(data, 4) == (0x04, 6, 11)
    with pytest.raises(DerError, match="past the end"):
        header(data, 4, 7)
    with pytest.raises(DerError, match="past the end"):
        read_exact(data).children()[0].children()


def test_trailing_bytes_after_the_top_level_element() -> None:
    assert header_exact(b"\x04\x01\x00") == (0x04, 2, 3)
    for read in (header_exact, read_exact):
        with pytest.raises(DerError, match=r"^2 unexpected bytes after the end of the structure$"):
            read(b"\x04\x01\x00\x00\x00")
    assert [t.raw for t in read_all(b"\x04\x01\x00\x05\x00")] == [b"\x04\x01\x00", b"\x05\x00"]


@pytest.mark.parametrize("size", [0, 1, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF, 0x10000, 0x1000000])
def test_every_length_form_encodes_and_reads_back(size: int) -> None:
    value = bytes(size)
    raw = encode(0x04, value)
    assert raw == bytes([0x04]) + encode_length(size) + value
    assert raw[1] == size if size < 0x80 else raw[1] == 0x80 + (size.bit_length() + 7) // 8  # the shortest form
    assert header(raw) == (0x04, len(raw) - size, len(raw))
    tlv = read_exact(raw)
    assert (tlv.tag, tlv.raw, tlv.value) == (0x04, raw, value)
    assert sequence(raw, raw) == encode(0x30, raw + raw)


def test_a_long_form_length_the_short_form_would_hold_is_read_as_its_value() -> None:
    """None of the three readers merged here refused it, so this one does not either: cryptography
    does, so a certificate so encoded is refused when parsed and a PKCS#12 store so encoded is called
    damaged (tests/robustness/test_hostile_input.py)."""
    assert header(b"\x02\x81\x01\x03") == (0x02, 3, 4)


# --- certificates: shape, validity, subject -------------------------------------------------------


def _indefinite(der: bytes) -> bytes:
    """The outer SEQUENCE's length as BER's indefinite form, with the end-of-contents octets."""
    _, head, _ = header(der)
    return b"\x30\x80" + der[head:] + b"\x00\x00"


SHAPE_DAMAGE = {
    "truncated": lambda der: der[:-1],
    "trailing bytes": lambda der: der + b"\x00",
    "indefinite length": _indefinite,
    "oversized length": lambda der: (
        b"\x30\x85" + (len(der) - header(der)[1]).to_bytes(5, "big") + der[header(der)[1] :]
    ),
    "header only": lambda der: der[:4],
    "not a SEQUENCE": lambda der: b"\x31" + der[1:],
    "TBSCertificate not a SEQUENCE": lambda der: der[: header(der)[1]] + b"\x31" + der[header(der)[1] + 1 :],
}


@pytest.mark.parametrize("damage", sorted(SHAPE_DAMAGE))
def test_from_der_lazily_refuses_what_is_not_one_certificate_shaped_element(damage: str) -> None:
    assert Cert.from_der_lazily(ROOT.der).sha256 == ROOT.sha256
    with pytest.raises(NotACertificate, match=r"^not a DER certificate \(malformed structure\)$"):
        Cert.from_der_lazily(SHAPE_DAMAGE[damage](ROOT.der))


@pytest.mark.parametrize("damage", ["truncated", "trailing bytes", "indefinite length", "oversized length"])
def test_der_subject_refuses_malformed_der(damage: str) -> None:
    assert der_subject(ROOT.der) == ROOT.cert.subject.public_bytes()
    with pytest.raises(DerError):
        der_subject(SHAPE_DAMAGE[damage](ROOT.der))


def test_der_subject_refuses_a_subject_running_past_the_tbs_certificate() -> None:
    """The subject's bytes are in the certificate, but the TBSCertificate ends before them."""
    cert = read_exact(ROOT.der).children()
    tbs = cert[0].children()
    fields = b"".join(t.raw for t in tbs[: _subject_index([t.raw for t in tbs]) + 1])
    short_tbs = b"\x30" + encode_length(len(fields) - 1) + fields
    with pytest.raises(DerError, match="past the end"):
        der_subject(sequence(short_tbs, *(c.raw for c in cert[1:])))


def test_an_indefinite_length_inside_the_tbs_certificate_is_refused() -> None:
    def change(tbs: list[bytes]) -> list[bytes]:
        serial = 1 if tbs[0][0] == 0xA0 else 0
        tbs[serial] = b"\x02\x80" + read_exact(tbs[serial]).value + b"\x00\x00"
        return tbs

    damaged = _cert_with_tbs(ROOT.der, change)
    with pytest.raises(DerError, match="indefinite"):
        der_subject(damaged)
    with pytest.raises(NotACertificate):  # the dates fall back to the parser, which refuses it too
        _ = Cert(damaged).not_after


def test_validity_read_from_the_der_is_the_parsers() -> None:
    cert = Cert(ROOT.der)
    assert (cert.not_before, cert.not_after) == (ROOT.cert.not_valid_before_utc, ROOT.cert.not_valid_after_utc)


def test_validity_with_bytes_after_not_after_is_left_to_the_parser() -> None:
    def change(tbs: list[bytes]) -> list[bytes]:
        at = _subject_index(tbs) - 1
        tbs[at] = sequence(*(t.raw for t in read_exact(tbs[at]).children()), b"\x05\x00")
        return tbs

    with pytest.raises(NotACertificate):
        _ = Cert(_cert_with_tbs(ROOT.der, change)).not_after


# --- the subject hash -----------------------------------------------------------------------------


def _atv(value: bytes) -> bytes:
    return sequence(OID_CN, value)


NAME_DAMAGE = {
    "truncated": _name(_atv(encode(0x0C, b"root")))[:-1],
    "trailing bytes": _name(_atv(encode(0x0C, b"root"))) + b"\x00",
    "indefinite length value": _name(_atv(b"\x0c\x80root\x00\x00")),
    "indefinite length RDN": sequence(b"\x31\x80" + _atv(encode(0x0C, b"root")) + b"\x00\x00"),
    "oversized length": _name(_atv(b"\x0c\x85\x00\x00\x00\x00\x04root")),
    "attribute without a value": _name(sequence(OID_CN)),
    "bytes after an attribute's value": _name(sequence(OID_CN, encode(0x0C, b"root"), b"\x05\x00")),
    "attribute running past its RDN": sequence(b"\x31\x0b" + _atv(encode(0x0C, b"root")) + b"\x00\x00"),
    "multi-byte tag": _name(_atv(b"\x1f\x81\x01\x04root")),
}


@pytest.mark.parametrize("damage", sorted(NAME_DAMAGE))
def test_name_hash_refuses_a_malformed_name(damage: str) -> None:
    assert name_hash(_name(_atv(encode(0x0C, b"root")))) == name_hash(_name(_atv(encode(0x13, b" ROOT "))))
    with pytest.raises(DerError):
        name_hash(NAME_DAMAGE[damage])


@pytest.mark.parametrize("damage", sorted(set(NAME_DAMAGE) - {"truncated", "trailing bytes"}))
def test_a_certificate_whose_subject_is_malformed_inside_has_no_hash(damage: str) -> None:
    """The reader refuses it, the parser too: NotACertificate (a hash directory's scan treats such a
    file as not what its link says), never a hash of the part that could be read."""
    from stores.pemdir import _hash_is

    damaged = Cert.from_der_lazily(_cert_with_subject(ROOT.der, NAME_DAMAGE[damage]))  # the shape is right
    with pytest.raises(NotACertificate):
        subject_hash(damaged)
    assert _hash_is(damaged, subject_hash(Cert(ROOT.der))) is False  # a hash directory's scan: no traceback
