"""pem-dir: an OpenSSL hash directory, checked with openssl verify, Python's ssl and openssl rehash."""

from __future__ import annotations

import base64
import os
import shutil
import socket
import ssl
import subprocess
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

from rotator.certs import Cert, parse_one
from stores.subject_hash import subject_hash
from tests.support.paths import AZURE_IDS, embedded_pem
from tests.support.pki import NOW, make_intermediate, make_leaf, make_root
from tests.support.systree import config_with_root, openssl_verify


def hash_links(directory: Path) -> dict[str, str]:
    return {
        p.name: os.readlink(p) for p in directory.iterdir() if p.is_symlink() and len(p.name) > 9 and p.name[8] == "."
    }


@pytest.fixture
def chain(tmp_path: Path):
    root = make_root("rotator pem-dir test root")
    inter = make_intermediate(root, "rotator pem-dir test intermediate")
    leaf = make_leaf(inter, ("localhost",))
    pki = tmp_path / "pki"
    root_pem, _ = root.write(pki, "root")
    inter_pem, _ = inter.write(pki, "inter")
    leaf_pem, leaf_key = leaf.write(pki, "leaf")
    server_chain = pki / "server-chain.pem"
    server_chain.write_bytes(leaf.pem + inter.pem)
    return root, root_pem, inter_pem, leaf_pem, leaf_key, server_chain


def test_pem_dir_is_an_openssl_capath(tmp_path: Path, run, chain) -> None:
    root, root_pem, inter_pem, leaf_pem, _, _ = chain
    directory = tmp_path / "certs"
    cfg = config_with_root(tmp_path / "cfg.toml", root_pem, root.sha256)
    result = run("sync", "--offline", "--config", str(cfg), "--target", f"pem-dir:{directory}")
    assert result.code == 0, result.err
    assert f"SSL_CERT_DIR={directory}" in result.out
    assert sorted(p.name for p in directory.iterdir() if not p.is_symlink()) == sorted(
        f"rotator-{i}.pem" for i in [*AZURE_IDS, "test-root"]
    )
    links = hash_links(directory)
    assert len(links) == len(AZURE_IDS) + 1
    assert links[f"{subject_hash(Cert(root.der))}.0"] == "rotator-test-root.pem"
    verified = openssl_verify(directory, leaf_pem, inter_pem)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_openssl_rehash_makes_the_same_links(tmp_path: Path, run, chain) -> None:
    root, root_pem, *_ = chain
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    cfg = config_with_root(tmp_path / "cfg.toml", root_pem, root.sha256)
    assert run("sync", "--offline", "--config", str(cfg), "--target", f"pem-dir:{ours}").code == 0
    theirs.mkdir()
    for path in ours.glob("rotator-*.pem"):
        shutil.copyfile(path, theirs / path.name)
    subprocess.run(["openssl", "rehash", str(theirs)], check=True, capture_output=True, timeout=60)
    assert hash_links(ours) == hash_links(theirs)


def test_python_ssl_with_capath_accepts_the_chain(tmp_path: Path, run, chain) -> None:
    root, root_pem, _, _, leaf_key, server_chain = chain
    directory = tmp_path / "certs"
    cfg = config_with_root(tmp_path / "cfg.toml", root_pem, root.sha256)
    assert run("sync", "--offline", "--config", str(cfg), "--target", f"pem-dir:{directory}").code == 0

    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(server_chain, leaf_key)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)
    port = listener.getsockname()[1]
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            conn, _ = listener.accept()
            conn.settimeout(10)
            with server_ctx.wrap_socket(conn, server_side=True) as tls:
                tls.sendall(b"ok")
        except (OSError, ssl.SSLError) as exc:
            errors.append(exc)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        client_ctx = ssl.create_default_context(capath=str(directory))  # only the directory, no defaults
        assert client_ctx.cert_store_stats()["x509_ca"] == 0  # capath entries load lazily, per lookup
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
            client_ctx.wrap_socket(raw, server_hostname="localhost") as tls,
        ):
            assert tls.recv(2) == b"ok"
    finally:
        thread.join(timeout=10)
        listener.close()
    assert not errors


def test_without_the_test_root_openssl_refuses(tmp_path: Path, run, chain) -> None:
    """The control: the same directory without the test root does not verify the chain."""
    *_, leaf_pem, _, _ = chain
    directory = tmp_path / "certs"
    assert run("sync", "--offline", "--target", f"pem-dir:{directory}").code == 0
    assert openssl_verify(directory, leaf_pem).returncode != 0


def test_second_sync_writes_nothing(tmp_path: Path, run) -> None:
    directory = tmp_path / "certs"
    assert run("sync", "--offline", "--target", f"pem-dir:{directory}").code == 0
    before = {p.name: os.lstat(p).st_mtime_ns for p in directory.iterdir()}
    again = run("sync", "--offline", "--target", f"pem-dir:{directory}")
    assert again.code == 0 and "up to date" in again.out
    assert {p.name: os.lstat(p).st_mtime_ns for p in directory.iterdir()} == before


def test_stale_links_of_own_files_go_and_others_stay(tmp_path: Path, run, chain) -> None:
    root, root_pem, *_ = chain
    directory = tmp_path / "certs"
    directory.mkdir()
    corp = make_root("corp CA")
    (directory / "corp.pem").write_bytes(corp.pem)
    os.symlink("corp.pem", directory / f"{subject_hash(Cert(corp.der))}.0")  # someone else's link
    (directory / "notes.txt").write_text("not a certificate\n")
    os.symlink("rotator-gone.pem", directory / "0badf00d.0")  # our file is gone: stale
    os.symlink("rotator-digicert-global-root-g2.pem", directory / "12345678.0")  # wrong hash: stale
    cfg = config_with_root(tmp_path / "cfg.toml", root_pem, root.sha256)
    assert run("sync", "--offline", "--config", str(cfg), "--target", f"pem-dir:{directory}").code == 0
    links = hash_links(directory)
    assert "0badf00d.0" not in links and "12345678.0" not in links
    assert links[f"{subject_hash(Cert(corp.der))}.0"] == "corp.pem"
    assert (directory / "notes.txt").exists()

    # the profile drops the test root: its file and link go, the rest stays
    without = config_with_root(tmp_path / "without.toml", root_pem, root.sha256, include=False)
    result = run("sync", "--offline", "--config", str(without), "--target", f"pem-dir:{directory}")
    assert result.code == 0, result.err
    assert not (directory / "rotator-test-root.pem").exists()
    assert f"{subject_hash(Cert(root.der))}.0" not in hash_links(directory)
    assert (directory / "corp.pem").exists() and hash_links(directory)[
        f"{subject_hash(Cert(corp.der))}.0"
    ] == "corp.pem"
    assert not [p for p in directory.iterdir() if p.is_symlink() and not p.exists()]


def test_root_already_hashed_under_another_name_is_kept(tmp_path: Path, run) -> None:
    directory = tmp_path / "certs"
    directory.mkdir()
    g2 = parse_one(embedded_pem("digicert-global-root-g2"))
    (directory / "DigiCert_Global_Root_G2.pem").write_bytes(g2.to_pem())
    os.symlink("DigiCert_Global_Root_G2.pem", directory / f"{subject_hash(g2)}.0")
    result = run("sync", "--offline", "--profile", "azure-minimal", "--target", f"pem-dir:{directory}")
    assert result.code == 0, result.err
    assert "already present: digicert-global-root-g2" in result.out
    assert not (directory / "rotator-digicert-global-root-g2.pem").exists()


def test_missing_link_of_own_file_is_repaired(tmp_path: Path, run) -> None:
    directory = tmp_path / "certs"
    assert run("sync", "--offline", "--profile", "azure-minimal", "--target", f"pem-dir:{directory}").code == 0
    g2 = parse_one(embedded_pem("digicert-global-root-g2"))
    (directory / f"{subject_hash(g2)}.0").unlink()
    result = run("sync", "--offline", "--profile", "azure-minimal", "--target", f"pem-dir:{directory}")
    assert result.code == 0, result.err
    assert hash_links(directory)[f"{subject_hash(g2)}.0"] == "rotator-digicert-global-root-g2.pem"


# --- the subject hash itself, against OpenSSL -----------------------------------------------------


def openssl_subject_hash(pem: bytes) -> str:
    out = subprocess.run(
        ["openssl", "x509", "-noout", "-subject_hash"], input=pem, capture_output=True, check=True, timeout=30
    )
    return out.stdout.decode().strip()


def odd_name_cert(attributes: list[x509.NameAttribute], multi_valued: bool = False) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.RelativeDistinguishedName(attributes)]) if multi_valued else x509.Name(attributes)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW)
        .not_valid_after(NOW.replace(year=NOW.year + 1))
        .sign(key, hashes.SHA256())
    )


ODD_NAMES = {
    "spaces and case": [x509.NameAttribute(NameOID.COMMON_NAME, "  Mixed   CASE\tName  ")],
    "printable": [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Big  Corp", _type=_ASN1Type.PrintableString),
    ],
    "bmp": [x509.NameAttribute(NameOID.COMMON_NAME, "Root Ü", _type=_ASN1Type.BMPString)],
    "ia5 email": [x509.NameAttribute(NameOID.EMAIL_ADDRESS, "CA@Example.COM")],
    "utf8 non-ascii": [x509.NameAttribute(NameOID.COMMON_NAME, "Zertifizierungsstelle ÄÖÜ  Wurzel")],
    "long": [x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "x" * 60) for _ in range(4)],
    "one and two octet lengths": [  # each attribute in rotator.der's long forms, 0x81 and 0x82
        x509.NameAttribute(x509.ObjectIdentifier("1.3.6.1.4.1.311.99.1"), "  Long   " + "A" * 200),
        x509.NameAttribute(x509.ObjectIdentifier("1.3.6.1.4.1.311.99.1"), "b" * 300),
    ],
}


@pytest.mark.parametrize("case", sorted(ODD_NAMES))
def test_subject_hash_matches_openssl(case: str) -> None:
    from cryptography.hazmat.primitives.serialization import Encoding

    cert = odd_name_cert(ODD_NAMES[case])
    assert subject_hash(Cert(cert.public_bytes(Encoding.DER))) == openssl_subject_hash(cert.public_bytes(Encoding.PEM))


def test_subject_hash_of_a_multi_valued_rdn_matches_openssl() -> None:
    from cryptography.hazmat.primitives.serialization import Encoding

    cert = odd_name_cert(
        [x509.NameAttribute(NameOID.COMMON_NAME, "Zed"), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Alpha")],
        multi_valued=True,
    )
    assert subject_hash(Cert(cert.public_bytes(Encoding.DER))) == openssl_subject_hash(cert.public_bytes(Encoding.PEM))


@pytest.mark.parametrize("root_id", [*AZURE_IDS, "baltimore-cybertrust-root"])
def test_subject_hash_of_azure_roots_matches_openssl(root_id: str) -> None:
    pem = embedded_pem(root_id)
    assert subject_hash(parse_one(pem)) == openssl_subject_hash(pem)


def test_subject_hash_names_every_link_in_the_machines_store() -> None:
    """Every <hash>.N link openssl rehash made in /etc/ssl/certs carries the hash we compute."""
    store = Path("/etc/ssl/certs")
    links = [p for p in store.glob("*.[0-9]")] if store.is_dir() else []
    if not links:
        pytest.skip("no OpenSSL hash directory on this machine")
    for link in links:
        assert subject_hash(parse_one(link.read_bytes())) == link.name[:8], link


@pytest.mark.parametrize("root_id", AZURE_IDS)
def test_subject_hash_from_the_der_is_the_parsers(root_id: str) -> None:
    from rotator.certs import der_subject
    from stores.subject_hash import name_hash

    cert = parse_one(embedded_pem(root_id))
    assert der_subject(cert.der) == cert.x509.subject.public_bytes()
    assert subject_hash(cert) == name_hash(cert.x509.subject.public_bytes())


def test_a_damaged_file_of_rotators_is_replaced_and_its_link_redone(tmp_path: Path, run) -> None:
    directory = tmp_path / "certs"
    state = ["--offline", "--state-dir", str(tmp_path / "state"), "--target", f"pem-dir:{directory}"]
    assert run("sync", *state).code == 0
    own = directory / "rotator-digicert-global-root-g2.pem"
    good = own.read_bytes()
    # A certificate's outer shape around a body no parser reads: only a full parse tells.
    damaged = bytes([0x30, 0x06, 0x30, 0x04, 0x02, 0x02, 0xFF, 0xFF])
    own.write_bytes(b"-----BEGIN CERTIFICATE-----\n" + base64.b64encode(damaged) + b"\n-----END CERTIFICATE-----\n")
    result = run("sync", *state)
    assert result.code == 0, result.err
    assert own.read_bytes() == good
    links = hash_links(directory)
    assert links[f"{subject_hash(parse_one(good))}.0"] == own.name
    assert openssl_verify_dir_lists(directory) == len(AZURE_IDS)


def openssl_verify_dir_lists(directory: Path) -> int:
    """How many of the directory's hash links resolve to a certificate openssl reads."""
    count = 0
    for name in hash_links(directory):
        proc = subprocess.run(
            ["openssl", "x509", "-noout", "-in", str(directory / name)], capture_output=True, timeout=30
        )
        count += proc.returncode == 0
    return count
