"""The direct JKS truststore reader against keytool's own files and the keystore library's reading
of them: the same aliases and certificates, the password checked, damage named, and every store
holding more than trusted certificates left to the library."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from rotator.certs import parse_one
from stores.keystore import dispatch
from stores.keystore.base import INTEGRITY_FAILED, Format, KeystoreProblem, Reason, TrustedCert
from stores.keystore.jks import JksKeystore
from stores.keystore.jks_trusted import (
    TrustedJks,
    decode_utf,
    encode_utf,
    integrity_digest,
    read_trusted,
    serialize,
    trusted_entry,
)
from tests.support import keytool as kt
from tests.support.hosttree import embedded_pem, keystore
from tests.support.keytool import keytool, storepass

ROOTS = ["digicert-global-root-g2", "microsoft-rsa-root-2017", "microsoft-tls-rsa-root-g2"]


@pytest.fixture(scope="module")
def truststore(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return keystore(tmp_path_factory.mktemp("jks") / "trust.jks", "s3cret", ROOTS).read_bytes()


def test_it_reads_what_keytool_wrote_as_the_library_does(truststore: bytes) -> None:
    direct = read_trusted(truststore, "s3cret")
    assert direct is not None
    assert sorted(direct) == sorted(JksKeystore.load(truststore, "s3cret").trusted())
    assert sorted(t.alias for t in direct) == ROOTS


def test_a_jdk_cacerts_reads_as_the_library_reads_it() -> None:
    cacerts = Path("/etc/ssl/certs/java/cacerts")  # Debian's: JKS, about 140 roots
    if not cacerts.is_file() or cacerts.read_bytes()[:4] != bytes.fromhex("feedfeed"):
        pytest.skip("no JKS cacerts on this machine")
    data = cacerts.read_bytes()
    direct = read_trusted(data, "changeit")
    assert direct is not None and len(direct) > 100
    assert sorted(direct) == sorted(JksKeystore.load(data, "changeit").trusted())


def test_a_wrong_password_or_an_altered_byte_fails_the_integrity_check(truststore: bytes) -> None:
    with pytest.raises(KeystoreProblem) as wrong:
        read_trusted(truststore, "changeit")
    assert wrong.value.reason is Reason.PASSWORD
    altered = bytearray(truststore)
    altered[200] ^= 0x01  # inside the first certificate
    with pytest.raises(KeystoreProblem) as flipped:
        read_trusted(bytes(altered), "s3cret")
    assert flipped.value.reason is Reason.PASSWORD


@pytest.mark.parametrize("cut", [5, 30, 200, -21])
def test_a_truncated_store_is_damaged(truststore: bytes, cut: int) -> None:
    with pytest.raises(KeystoreProblem) as problem:
        read_trusted(truststore[:cut], "s3cret")
    assert problem.value.reason in (Reason.DAMAGED, Reason.PASSWORD)
    if cut < 40:
        assert problem.value.reason is Reason.DAMAGED


def test_a_store_with_a_private_key_or_another_format_is_the_librarys(tmp_path: Path, truststore: bytes) -> None:
    store = tmp_path / "keys.jks"
    keytool(
        "-genkeypair", "-alias", "app", "-keyalg", "EC", "-dname", "CN=app", "-keystore", str(store),
        "-storetype", "JKS", *storepass("s3cret"), "-keypass", "s3cret", password="s3cret",
    )  # fmt: skip
    assert read_trusted(store.read_bytes(), "s3cret") is None
    pkcs12 = keystore(tmp_path / "trust.p12", "s3cret", ROOTS[:1], storetype="PKCS12").read_bytes()
    assert read_trusted(pkcs12, "s3cret") is None
    version_1 = truststore[:4] + (1).to_bytes(4, "big") + truststore[8:]
    assert read_trusted(version_1, "s3cret") is None


# -- the writer: keytool judges every byte ---------------------------------------------------------

MACHINE_CACERTS = Path("/etc/ssl/certs/java/cacerts")


def _roots(*ids: str) -> list[TrustedCert]:
    return [TrustedCert(alias=f"rotator-{i}", der=parse_one(embedded_pem(i)).der) for i in ids]


def test_each_entry_and_the_file_are_written_as_keytool_writes_them(truststore: bytes) -> None:
    stores = [(truststore, "s3cret")]
    if MACHINE_CACERTS.is_file() and MACHINE_CACERTS.read_bytes()[:4] == bytes.fromhex("feedfeed"):
        stores.append((MACHINE_CACERTS.read_bytes(), "changeit"))
    for data, password in stores:
        store = TrustedJks.load(data, password)
        assert store is not None, "a keytool-made truststore is read directly"
        assert store.render((), ()) == data, "and written back byte for byte"
        raws = []
        for entry in store._entries:
            at = 4 + len(encode_utf(entry.alias))
            created = int.from_bytes(entry.raw[at : at + 8], "big")
            assert trusted_entry(entry.alias, entry.der, created) == entry.raw, entry.alias
            raws.append(entry.raw)
        assert serialize(raws, password) == data


def test_keytool_lists_what_rotator_wrote(tmp_path: Path, truststore: bytes) -> None:
    added = _roots("digicert-global-root-g3", "microsoft-ecc-root-2017")
    new = tmp_path / "new.jks"
    new.write_bytes(dispatch.new(Format.JKS, "s3cret").render((), added))
    listed = kt.entries(new, "s3cret")
    assert sorted((e.alias, e.kind, e.sha256) for e in listed) == sorted(
        (c.alias, "trustedCertEntry", hashlib.sha256(c.der).hexdigest()) for c in added
    )
    existing = tmp_path / "existing.jks"
    before = kt.by_alias(_write(existing, truststore), "s3cret")
    store = dispatch.load(truststore, "s3cret")
    assert isinstance(store, TrustedJks)
    existing.write_bytes(store.render((), added))
    after = kt.by_alias(existing, "s3cret")
    assert len(after) == len(before) + 2
    assert {a: after[a] for a in before} == before
    assert {a: after[a] for a in after.keys() - before.keys()} == {
        c.alias: ("trustedCertEntry", hashlib.sha256(c.der).hexdigest()) for c in added
    }
    # Taking rotator's entries out again gives back keytool's file to the byte.
    again = dispatch.load(existing.read_bytes(), "s3cret")
    assert again.render([c.alias for c in added if c.alias], ()) == truststore
    with pytest.raises(AssertionError):
        kt.entries(existing, "wrong password")  # keytool checks the digest rotator wrote


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_non_ascii_aliases_keytool_made_are_read_and_kept(tmp_path: Path) -> None:
    """keytool writes aliases as Java's modified UTF-8: a character beyond the BMP as two surrogates
    of three bytes each (which plain UTF-8 cannot read: the library calls such a store damaged)."""
    store = tmp_path / "intl.jks"
    pem = tmp_path / "g2.pem"
    pem.write_bytes(embedded_pem("digicert-global-root-g2"))
    alias = "zé😀名"
    env = {**os.environ, "LC_ALL": "C.UTF-8", kt.PW_VAR: "s3cret"}
    subprocess.run(
        [kt.KEYTOOL, "-importcert", "-noprompt", "-alias", alias, "-file", str(pem), "-keystore", str(store),
         "-storetype", "JKS", "-storepass:env", kt.PW_VAR],
        env=env, capture_output=True, check=True, timeout=120,
    )  # fmt: skip
    data = store.read_bytes()
    assert "😀".encode("utf-16-be").hex() not in data.hex() and bytes.fromhex("eda0bdedb880") in data
    loaded = dispatch.load(data, "s3cret")
    assert isinstance(loaded, TrustedJks)
    assert [t.alias for t in loaded.trusted()] == [alias]
    assert loaded.render((), ()) == data
    store.write_bytes(loaded.render((), _roots("microsoft-rsa-root-2017")))
    listing = subprocess.run(
        [kt.KEYTOOL, "-list", "-keystore", str(store), "-storepass:env", kt.PW_VAR],
        env=env, capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    assert f"{alias}, " in listing and "rotator-microsoft-rsa-root-2017, " in listing
    assert "contains 2 entries" in listing


@pytest.mark.parametrize("text", ["plain", "a\x00b", "é", "名", "😀", "z😀\x00名é", "x" * 300])
def test_modified_utf8_round_trips(text: str) -> None:
    encoded = encode_utf(text)
    assert int.from_bytes(encoded[:2], "big") == len(encoded) - 2
    assert b"\x00" not in encoded[2:] and not any(b >= 0xF0 for b in encoded[2:])
    assert decode_utf(encoded[2:]) == text


def test_an_alias_the_jdk_would_not_write_is_left_to_the_library(truststore: bytes) -> None:
    """A lone surrogate, a four-byte sequence, a raw NUL: not read directly, so the library's answer
    stands: it refuses the store, or reads it and proves it writes it back byte for byte."""
    for raw in (bytes.fromhex("eda0bd"), "😀".encode(), b"a\x00"):
        assert decode_utf(raw) is None
        body = truststore[:-20]
        first = 12 + 4  # the first entry's alias length
        length = int.from_bytes(body[first : first + 2], "big")
        forged = body[:first] + len(raw).to_bytes(2, "big") + raw + body[first + 2 + length :]
        forged += integrity_digest(forged, "s3cret")
        assert TrustedJks.load(forged, "s3cret") is None
        try:
            by_library = dispatch.load(forged, "s3cret")
        except KeystoreProblem as problem:
            assert problem.reason is Reason.DAMAGED  # a lone surrogate is not UTF-8 to it
        else:  # plain UTF-8 reads these, and its own round-trip proof held
            assert isinstance(by_library, JksKeystore) and by_library.render((), ()) == forged
    with pytest.raises(ValueError, match="longer than JKS allows"):
        encode_utf("名" * 30000)


def test_an_alias_twice_is_refused_by_the_library(truststore: bytes) -> None:
    body = truststore[:-20]
    store = TrustedJks.load(truststore, "s3cret")
    assert store is not None
    first = store._entries[0].raw
    doubled = body[:8] + (int.from_bytes(body[8:12], "big") + 1).to_bytes(4, "big") + body[12:] + first
    doubled += integrity_digest(doubled, "s3cret")
    assert TrustedJks.load(doubled, "s3cret") is None
    with pytest.raises(KeystoreProblem) as problem:
        dispatch.load(doubled, "s3cret")
    assert problem.value.reason is Reason.UNSUPPORTED and "same alias twice" in problem.value.detail


def test_a_store_with_a_private_key_still_goes_through_the_library(tmp_path: Path) -> None:
    store = tmp_path / "keys.jks"
    keytool(
        "-genkeypair", "-alias", "app", "-keyalg", "EC", "-dname", "CN=app", "-keystore", str(store),
        "-storetype", "JKS", *storepass("s3cret"), "-keypass", "s3cret", password="s3cret",
    )  # fmt: skip
    data = store.read_bytes()
    loaded = dispatch.load(data, "s3cret")
    assert isinstance(loaded, JksKeystore)
    assert loaded.render((), ()) == data, "unchanged, the library's write gives back the file"
    store.write_bytes(loaded.render((), _roots("digicert-global-root-g2")))
    listed = kt.by_alias(store, "s3cret")
    assert listed["app"][0] == "PrivateKeyEntry" and listed["rotator-digicert-global-root-g2"][0] == "trustedCertEntry"


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda d: d[:5], Reason.DAMAGED),
        (lambda d: d[: len(d) // 2], Reason.DAMAGED),
        (lambda d: d[:-1], Reason.DAMAGED),
        (lambda d: d + b"\x00", Reason.DAMAGED),
        (lambda d: d[:300] + bytes([d[300] ^ 1]) + d[301:], Reason.PASSWORD),
    ],
    ids=["header", "half", "last-byte", "one-more-byte", "a-flipped-bit"],
)
def test_damage_gets_the_same_problem_as_before(truststore: bytes, damage, reason: Reason) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(KeystoreProblem) as problem:
        dispatch.load(damage(truststore), "s3cret")
    assert problem.value.reason is reason
    with pytest.raises(KeystoreProblem) as wrong:
        dispatch.load(truststore, "not-it")
    assert wrong.value.reason is Reason.PASSWORD and wrong.value.detail == INTEGRITY_FAILED
