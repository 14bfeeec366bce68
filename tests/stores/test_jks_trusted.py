"""The direct JKS truststore reader against keytool's own files and the keystore library's reading
of them: the same aliases and certificates, the password checked, damage named, and every store
holding more than trusted certificates left to the library."""

from __future__ import annotations

from pathlib import Path

import pytest

from stores.keystore.base import KeystoreProblem, Reason
from stores.keystore.jks import JksKeystore
from stores.keystore.jks_trusted import read_trusted
from tests.support.hosttree import keystore
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
