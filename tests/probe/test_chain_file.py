"""rotator probe --chain-file: a saved chain (s_client output or a PEM bundle) judged offline.

The Azure certificates are the real ones (tests/data, see azure-chains-README.md); the s_client
text around them is written the way ``openssl s_client -showcerts`` prints it, and one test
captures real s_client output from a local TLS server.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rotator.certs import Cert, parse_one
from tests.support.paths import DATA, embedded_pem
from tests.support.pki import Rotation, make_rotation
from tests.support.runs import run_process
from tests.support.s_client import s_client_text
from tests.support.tls_server import TlsServer, serving

OCSP02 = "microsoft-tls-g2-rsa-ca-ocsp-02.pem"
TLS_ROOT_G2_XSIGN = "microsoft-tls-rsa-root-g2-xsign.pem"
TLS_ROOT_G2 = "microsoft-tls-rsa-root-g2.pem"  # self-signed
ISSUING_03 = "microsoft-azure-rsa-tls-issuing-ca-03-xsign.pem"
TLS_ROOT_G2_SHA256 = "6a170583db584151e1c454eeca2a64cc5d8e484a5bd1156e720b4458654ee9e5"
WHILE_VALID = "2027-06-01"  # the new chain is valid until 2029; judged on a fixed day


def real(name: str) -> Cert:
    return parse_one((DATA / name).read_bytes())


def saved(tmp_path: Path, name: str, *certs: Cert) -> Path:
    path = tmp_path / name
    path.write_text(s_client_text(certs))
    return path


def store_of(tmp_path: Path, name: str, *pems: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(b"".join(pems))
    return path


# ------------------------------------------------------------------ the real Azure chain


def test_new_azure_chain_is_anchored_at_g2_as_far_as_it_goes(tmp_path: Path, run) -> None:
    chain = saved(tmp_path, "azure.txt", real(OCSP02), real(TLS_ROOT_G2_XSIGN))
    g2 = store_of(tmp_path, "g2.pem", embedded_pem("digicert-global-root-g2"))
    result = run("probe", "--chain-file", str(chain), "--target", f"pem:{g2}", "--at", WHILE_VALID)
    assert result.code == 0, result.out + result.err
    assert "digicert-global-root-g2 (DigiCert Global Root G2): signs [1] Microsoft TLS RSA Root G2" in result.out
    assert f"pem:{g2}: trusted, anchored at digicert-global-root-g2" in result.out
    assert "no server certificate" in result.out and "as far as the chain goes" in result.out
    assert "name not checked" in result.out
    assert "Azure intermediates (on Microsoft's published list" in result.out
    assert "  [0] Microsoft TLS G2 RSA CA OCSP 02\n" in result.out
    assert "  [1] Microsoft TLS RSA Root G2 (cross-signed by DigiCert Global Root G2)\n" in result.out


def test_store_with_microsoft_rsa_2017_only_does_not_trust_it_and_names_the_missing_anchor(tmp_path: Path, run) -> None:
    chain = saved(tmp_path, "azure.txt", real(OCSP02), real(TLS_ROOT_G2_XSIGN))
    ms2017 = store_of(tmp_path, "ms2017.pem", embedded_pem("microsoft-rsa-root-2017"))
    result = run("probe", "--chain-file", str(chain), "--target", f"pem:{ms2017}", "--at", WHILE_VALID, "--json")
    assert result.code == 1, result.out + result.err
    doc = json.loads(result.out)
    verdict = doc["targets"][0]
    assert verdict["trusted"] is False
    assert "CN=DigiCert Global Root G2" in verdict["reason"]
    # by signature: G2 through the cross-sign, and the self-signed Microsoft TLS RSA Root G2 directly
    assert [a["id"] for a in doc["anchors"]] == ["digicert-global-root-g2", "microsoft-tls-rsa-root-g2"]
    assert doc["chain_file"] == str(chain) and doc["server_certificate"] is False and doc["host"] is None
    assert [(a["index"], a["sha1"]) for a in doc["azure_intermediates"]] == [
        (0, "f8a408b8fbeea077b75738658641be77154720eb"),
        (1, "b5ee89e77326ab2bf1775bd99c19a28947ff8184"),
    ]


def test_self_signed_microsoft_tls_rsa_root_g2_anchors_the_chain_without_the_cross_sign(tmp_path: Path, run) -> None:
    """Some Microsoft endpoints send the chain without the cross-sign; the self-signed root anchors it."""
    chain = saved(tmp_path, "azure.txt", real(OCSP02))
    root = store_of(tmp_path, "tls-root-g2.pem", (DATA / TLS_ROOT_G2).read_bytes())
    g2_only = store_of(tmp_path, "g2.pem", embedded_pem("digicert-global-root-g2"))
    result = run(
        "probe",
        "--chain-file",
        str(chain),
        "--target",
        f"pem:{root}",
        "--target",
        f"pem:{g2_only}",
        "--at",
        WHILE_VALID,
        "--json",
    )
    doc = json.loads(result.out)
    by_target = {t["target"]: t for t in doc["targets"]}
    assert by_target[f"pem:{root}"]["trusted"] is True
    assert by_target[f"pem:{root}"]["anchor"]["sha256"] == TLS_ROOT_G2_SHA256
    assert by_target[f"pem:{root}"]["anchor"]["id"] == "microsoft-tls-rsa-root-g2"
    assert by_target[f"pem:{g2_only}"]["trusted"] is False  # without the cross-sign G2 cannot reach it
    assert result.code == 1


def test_expired_issuing_ca_03_is_named_with_its_date(tmp_path: Path, run) -> None:
    chain = saved(tmp_path, "old.txt", real(ISSUING_03))
    g2 = store_of(tmp_path, "g2.pem", embedded_pem("digicert-global-root-g2"))
    result = run("probe", "--chain-file", str(chain), "--target", f"pem:{g2}", "--at", "2026-09-01")
    assert result.code == 1, result.out + result.err
    assert "'Microsoft Azure RSA TLS Issuing CA 03' expired on 2026-08-25" in result.out
    assert "EXPIRED" in result.out
    assert "NOT trusted: 'Microsoft Azure RSA TLS Issuing CA 03' is not valid on 2026-09-01" in result.out
    before = run("probe", "--chain-file", str(chain), "--target", f"pem:{g2}", "--at", "2026-08-01")
    assert before.code == 0, before.out
    assert "expired on" not in before.out


def test_a_plain_pem_bundle_in_any_order(tmp_path: Path, run) -> None:
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes((DATA / TLS_ROOT_G2_XSIGN).read_bytes() + b"\n" + (DATA / OCSP02).read_bytes())
    result = run("probe", "--chain-file", str(bundle), "--profile", "azure-minimal", "--at", WHILE_VALID, "--json")
    assert result.code == 0, result.out + result.err
    doc = json.loads(result.out)
    # the lowest certificate is judged first, whatever the order in the file
    assert doc["chain"][0]["subject"].startswith("CN=Microsoft TLS G2 RSA CA OCSP 02")


# ------------------------------------------------------------------ a leaf, and real s_client output


@pytest.fixture(scope="module")
def pki() -> Rotation:
    return make_rotation("Saved")


def _config(tmp_path: Path, pki: Rotation) -> Path:
    pki.old_root.write(tmp_path / "roots", "old-root")
    config = tmp_path / "rotator.toml"
    config.write_text(
        'include = ["saved-old-root"]\n[[roots]]\nid = "saved-old-root"\nname = "Saved Old Root"\n'
        f'sha256 = "{pki.old_root.sha256}"\nfile = "roots/old-root.pem"\n'
    )
    return config


def test_real_s_client_output_is_judged_like_the_live_server(tmp_path: Path, pki: Rotation, run) -> None:
    server = TlsServer(tmp_path / "server", [pki.old_leaf, pki.old_ca], pki.old_leaf)
    store = store_of(tmp_path, "store.pem", pki.old_root.pem)
    config = _config(tmp_path, pki)
    with serving(server):
        captured = subprocess.run(
            ["openssl", "s_client", "-connect", f"127.0.0.1:{server.port}", "-servername", "localhost", "-showcerts"],
            input="",
            capture_output=True,
            text=True,
            timeout=30,
        )
        live = run(
            "probe",
            f"127.0.0.1:{server.port}",
            "--servername",
            "localhost",
            "--config",
            str(config),
            "--target",
            f"pem:{store}",
            "--json",
        )
    assert "Certificate chain" in captured.stdout and live.code == 0, live.out + live.err
    assert json.loads(live.out)["azure_intermediates"] == []  # a test PKI: nothing of Azure's
    transcript = tmp_path / "s_client.txt"
    transcript.write_text(captured.stdout)
    offline = run(
        "probe",
        "--chain-file",
        str(transcript),
        "--servername",
        "localhost",
        "--config",
        str(config),
        "--target",
        f"pem:{store}",
        "--json",
    )
    assert offline.code == 0, offline.out + offline.err
    live_doc, file_doc = json.loads(live.out), json.loads(offline.out)
    assert [c["sha256"] for c in file_doc["chain"]] == [c["sha256"] for c in live_doc["chain"]]
    assert file_doc["targets"] == live_doc["targets"]
    assert file_doc["hostname_checked"] == "localhost" and file_doc["server_certificate"] is True

    wrong = run(
        "probe",
        "--chain-file",
        str(transcript),
        "--servername",
        "db.example.com",
        "--config",
        str(config),
        "--target",
        f"pem:{store}",
    )
    assert wrong.code == 1 and "not valid for 'db.example.com'" in wrong.out
    unnamed = run("probe", "--chain-file", str(transcript), "--config", str(config), "--target", f"pem:{store}")
    assert unnamed.code == 0 and "name not checked (give --servername NAME to check it)" in unnamed.out


def test_a_leaf_from_another_pki_is_not_trusted(tmp_path: Path, pki: Rotation, run) -> None:
    chain = tmp_path / "new.pem"
    chain.write_bytes(pki.new_leaf.pem + pki.new_ca.pem)
    store = store_of(tmp_path, "store.pem", pki.old_root.pem)
    config = _config(tmp_path, pki)
    result = run(
        "probe",
        "--chain-file",
        str(chain),
        "--servername",
        "localhost",
        "--config",
        str(config),
        "--target",
        f"pem:{store}",
    )
    assert result.code == 1
    assert "no certificate in this store signs the server's chain" in result.out


def test_exit_code_as_a_process(tmp_path: Path) -> None:
    chain = saved(tmp_path, "azure.txt", real(OCSP02), real(TLS_ROOT_G2_XSIGN))
    ms2017 = store_of(tmp_path, "ms2017.pem", embedded_pem("microsoft-rsa-root-2017"))
    result = run_process("probe", "--chain-file", str(chain), "--target", f"pem:{ms2017}", "--at", WHILE_VALID)
    assert result.code == 1 and "verdict: FAIL" in result.out


# ------------------------------------------------------------------ what cannot be judged


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give HOST[:PORT] to connect to, or --chain-file FILE"),
        (("localhost", "--chain-file", "x.pem"), "not both"),
        (("--chain-file", "x.pem", "--starttls", "postgres"), "--starttls: no connection is made"),
        (("--chain-file", "x.pem", "--timeout", "3"), "--timeout: no connection is made"),
        (("--chain-file", "x.pem", "--sslmode", "verify-full"), "only with --servername"),
    ],
)
def test_usage_errors(run, args: tuple[str, ...], message: str) -> None:
    result = run("probe", *args)
    assert result.code == 2 and message in result.err


def test_files_that_hold_no_chain(tmp_path: Path, run) -> None:
    missing = run("probe", "--chain-file", str(tmp_path / "nope.txt"))
    assert missing.code == 2 and "nope.txt not found" in missing.err
    empty = tmp_path / "empty.txt"
    empty.write_text("CONNECTED(00000003)\nno peer certificate available\n")
    result = run("probe", "--chain-file", str(empty))
    assert result.code == 2 and "holds no certificate" in result.err
    damaged = tmp_path / "damaged.txt"
    damaged.write_text(s_client_text([real(OCSP02)]).replace("MII", "XXX", 1))
    result = run("probe", "--chain-file", str(damaged))
    assert result.code == 2 and "certificate block 1" in result.err and "damaged" in result.err
    assert result.out == ""


def test_two_server_certificates_are_refused(tmp_path: Path, pki: Rotation, run) -> None:
    two = tmp_path / "two.pem"
    two.write_bytes(pki.old_leaf.pem + pki.new_leaf.pem)
    result = run("probe", "--chain-file", str(two))
    assert result.code == 2 and "2 server certificates" in result.err


def test_the_chain_from_standard_input(tmp_path: Path) -> None:
    g2 = store_of(tmp_path, "g2.pem", embedded_pem("digicert-global-root-g2"))
    proc = subprocess.run(
        [sys.executable, "-m", "rotator", "probe", "--chain-file", "-", "--target", f"pem:{g2}", "--at", WHILE_VALID],
        input=s_client_text([real(OCSP02), real(TLS_ROOT_G2_XSIGN)]),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "probe chain file <stdin> (no connection)" in proc.stdout
