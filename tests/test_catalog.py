"""The built-in catalog: every embedded copy is the pinned certificate, with the right name and expiry."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from rotator.catalog import BUILTIN_PROFILES, RETIRED, Catalog
from rotator.certs import parse_one

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
    out = subprocess.run(["openssl", "x509", "-in", str(pem), "-noout", "-fingerprint", "-sha256"],
                         capture_output=True, text=True, check=True, timeout=30).stdout
    assert out.split("=", 1)[1].strip().replace(":", "").lower() == root.sha256


def test_profiles() -> None:
    non_retired = [r.id for r in CATALOG.roots.values() if r.status != RETIRED]
    assert len(non_retired) == 7
    assert list(BUILTIN_PROFILES["azure-all"]) == non_retired
    assert "baltimore-cybertrust-root" not in BUILTIN_PROFILES["azure-all"]
    assert set(BUILTIN_PROFILES["azure-postgresql"]) == {
        "digicert-global-root-g2", "microsoft-rsa-root-2017", "digicert-global-root-ca"}
    assert BUILTIN_PROFILES["azure-mysql"] == BUILTIN_PROFILES["azure-postgresql"]
    assert set(BUILTIN_PROFILES["azure-minimal"]) == {"digicert-global-root-g2", "microsoft-rsa-root-2017"}


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
    text = run("catalog")
    assert text.code == 0 and "digicert-global-root-g2" in text.out and "azure-minimal" in text.out
