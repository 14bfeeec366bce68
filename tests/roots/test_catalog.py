"""The built-in catalog: every embedded copy is the pinned certificate, with the right name and expiry."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import pytest

from rotator.certs import parse_one
from rotator.roots.catalog import BUILTIN_PROFILES, CURRENT, TRUST_IN, TRUST_NOT_YET, TRUST_REMOVED, Catalog
from tests.support.paths import DATA

CATALOG = Catalog.builtin()


@pytest.mark.parametrize("root", CATALOG.roots.values(), ids=lambda r: r.id)
def test_embedded_copy_matches_pin_subject_and_expiry(root) -> None:
    data = root.embedded_bytes()
    assert data is not None
    cert = parse_one(data)
    assert cert.sha256 == root.sha256
    assert cert.sha1 == root.sha1
    assert cert.common_name == root.name
    assert cert.not_after.date() == root.not_after
    assert cert.is_ca and cert.is_self_issued and cert.signed_by(cert)


@pytest.mark.parametrize("root", CATALOG.roots.values(), ids=lambda r: r.id)
def test_openssl_agrees_with_the_pin(root, tmp_path: Path) -> None:
    pem = tmp_path / "root.pem"
    pem.write_bytes(root.embedded_bytes())
    out = subprocess.run(
        ["openssl", "x509", "-in", str(pem), "-noout", "-fingerprint", "-sha256"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    assert out.split("=", 1)[1].strip().replace(":", "").lower() == root.sha256


def test_profiles() -> None:
    current = [r.id for r in CATALOG.roots.values() if r.status == CURRENT]
    assert len(current) == 7 and "microsoft-tls-rsa-root-g2" in current
    assert list(BUILTIN_PROFILES["azure-all"]) == current
    assert "baltimore-cybertrust-root" not in BUILTIN_PROFILES["azure-all"]
    # G1 only where asked for: the legacy profile, never a default one
    assert [p for p, ids in BUILTIN_PROFILES.items() if "digicert-global-root-ca" in ids] == ["azure-legacy"]
    assert list(BUILTIN_PROFILES["azure-legacy"]) == [*current, "digicert-global-root-ca"]
    assert set(BUILTIN_PROFILES["azure-postgresql"]) == {
        "digicert-global-root-g2",
        "microsoft-rsa-root-2017",
        "microsoft-tls-rsa-root-g2",
    }
    assert BUILTIN_PROFILES["azure-mysql"] == BUILTIN_PROFILES["azure-postgresql"]
    assert set(BUILTIN_PROFILES["azure-minimal"]) == {"digicert-global-root-g2", "microsoft-rsa-root-2017"}
    assert all(CATALOG.purpose(p) != "defined in the configuration" for p in BUILTIN_PROFILES)


def test_new_microsoft_root_pin_subject_serial_and_dates() -> None:
    root = CATALOG.roots["microsoft-tls-rsa-root-g2"]
    cert = parse_one(root.embedded_bytes() or b"")
    assert cert.sha256 == "6a170583db584151e1c454eeca2a64cc5d8e484a5bd1156e720b4458654ee9e5"
    assert cert.sha1 == "21734d95a2473be25cbfd12a84c6fbc5bc8e2414"
    assert cert.subject == "CN=Microsoft TLS RSA Root G2,O=Microsoft Corporation,C=US" and cert.is_self_issued
    assert format(cert.x509.serial_number, "X") == "6486E3B269180FBF4040392E2E534B9B"
    assert str(cert.not_after.date()) == "2040-04-10" and str(cert.not_before.date()) == "2025-04-10"
    assert root.urls == ("https://www.microsoft.com/pkiops/certs/Microsoft%20TLS%20RSA%20Root%20G2.crt",)
    # the copy in the test data (taken from Microsoft's published chain) is the same certificate
    assert parse_one((DATA / "microsoft-tls-rsa-root-g2.pem").read_bytes()).sha256 == root.sha256


def test_public_trust_is_recorded_for_every_root() -> None:
    trust = {r.id: (r.public_trust, r.public_trust_date) for r in CATALOG.roots.values()}
    assert all(status in (TRUST_IN, TRUST_NOT_YET, TRUST_REMOVED) for status, _ in trust.values())
    assert trust["digicert-global-root-ca"] == (TRUST_REMOVED, dt.date(2026, 4, 15))
    assert trust["microsoft-tls-rsa-root-g2"][0] == TRUST_NOT_YET
    assert trust["digicert-global-root-g2"][0] == TRUST_IN
    assert all(r.role for r in CATALOG.roots.values())
    g1 = CATALOG.roots["digicert-global-root-ca"]
    assert not g1.distrusted_at(dt.date(2026, 4, 14)) and g1.distrusted_at(dt.date(2026, 4, 15))


@pytest.mark.parametrize("cross_sign", CATALOG.cross_signs, ids=lambda c: c.subject_id)
def test_cross_signs_match_the_real_certificates(cross_sign) -> None:
    cert = parse_one((DATA / f"{cross_sign.subject_id}-xsign.pem").read_bytes())
    assert (cert.sha256, cert.sha1) == (cross_sign.sha256, cross_sign.sha1)
    assert cert.not_after.date() == cross_sign.not_after == dt.date(2029, 6, 19)
    assert cert.common_name == cross_sign.subject_name
    issuer = parse_one(CATALOG.roots[cross_sign.issuer_id].embedded_bytes() or b"")
    assert cert.signed_by(issuer)  # chains to the catalog root it names, by signature
    # a fact, not an anchor: no catalog root is a cross-sign, and no profile names one
    assert cross_sign.sha256 not in {r.sha256 for r in CATALOG.roots.values()}
    subject = CATALOG.roots.get(cross_sign.subject_id)
    if subject is not None:  # the self-signed root carries the same key
        self_signed = parse_one(subject.embedded_bytes() or b"")
        assert self_signed.x509.public_key() == cert.x509.public_key()
    else:
        assert cross_sign.subject_id == "microsoft-tls-ecc-root-g2"  # no verifiable pin: not invented


def test_urls_are_https_and_digicert_offers_der_and_pem() -> None:
    for root in CATALOG.roots.values():
        assert root.urls and all(u.startswith("https://") for u in root.urls)
        if root.id.startswith(("digicert", "baltimore")):
            assert any(u.endswith(".crt.pem") for u in root.urls)
            assert any(u.endswith(".crt") for u in root.urls)


def test_catalog_command_lists_roots_and_profiles(run) -> None:
    result = run("catalog", "--json")
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert {r["id"] for r in doc["roots"]} == set(CATALOG.roots)
    by_id = {r["id"]: r for r in doc["roots"]}
    assert by_id["baltimore-cybertrust-root"]["status"] == "retired"
    assert by_id["digicert-global-root-g2"]["sha256"] == CATALOG.roots["digicert-global-root-g2"].sha256
    assert "azure-postgresql" in doc["profiles"]
    assert by_id["digicert-global-root-ca"]["public_trust"] == {
        "status": "removed",
        "date": "2026-04-15",
        "note": CATALOG.roots["digicert-global-root-ca"].public_trust_note,
    }
    assert {c["subject"]: c["issuer"] for c in doc["cross_signs"]} == {
        "microsoft-tls-rsa-root-g2": "digicert-global-root-g2",
        "microsoft-tls-ecc-root-g2": "digicert-global-root-g3",
    }
    assert "G1" in doc["profile_purposes"]["azure-legacy"]
    text = run("catalog")
    assert text.code == 0 and "digicert-global-root-g2" in text.out and "azure-minimal" in text.out
    assert "public trust: removed 2026-04-15" in text.out
    assert "Microsoft TLS RSA Root G2 signed by digicert-global-root-g2: not after 2029-06-19" in text.out
    assert f"  azure-legacy: {CATALOG.purpose('azure-legacy')}" in text.unwrapped
    assert "  digicert-global-root-g2: current, not after 2038-01-15\n    DigiCert Global Root G2\n" in text.out
    assert max(len(line) for line in text.out.splitlines()) <= 100
