"""A certificate whose signature algorithm the crypto library does not know (valid DER, an unknown
OID) is a finding about that certificate, never a crash; a chain that needs its signature checked is
not verified, and a root pinned with one is refused by name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from tests.support.pki import Issued, make_intermediate, make_leaf, make_root
from tests.support.runs import run_process

ECDSA_SHA256 = bytes.fromhex("06082A8648CE3D040302")  # OID 1.2.840.10045.4.3.2, in the TBS and outside it
UNKNOWN = bytes.fromhex("06082A8648CE3D040309")  # 1.2.840.10045.4.3.9: same length, so the DER stays valid
UNKNOWN_OID = "1.2.840.10045.4.3.9"


def unknown_algorithm(issued: Issued) -> bytes:
    """The certificate as PEM with its signature algorithm replaced by one nobody implements."""
    der = issued.der
    assert der.count(ECDSA_SHA256) == 2
    patched = x509.load_der_x509_certificate(der.replace(ECDSA_SHA256, UNKNOWN))  # still loads
    assert patched.signature_algorithm_oid.dotted_string == UNKNOWN_OID
    return patched.public_bytes(Encoding.PEM)


@pytest.mark.parametrize("position", ["leaf", "intermediate", "root"])
def test_probe_of_a_chain_file_names_the_algorithm_and_does_not_verify(tmp_path: Path, position: str) -> None:
    root = make_root("Unknown Alg Root")
    issuing = make_intermediate(root)
    leaf = make_leaf(issuing, ("db.example.com",))
    blocks = {"leaf": leaf.pem, "intermediate": issuing.pem, "root": root.pem}
    blocks[position] = unknown_algorithm({"leaf": leaf, "intermediate": issuing, "root": root}[position])
    chain = tmp_path / "chain.pem"
    chain.write_bytes(blocks["leaf"] + blocks["intermediate"] + (blocks["root"] if position == "root" else b""))
    store = tmp_path / "store.pem"
    store.write_bytes(blocks["root"])
    args = ["probe", "--chain-file", str(chain), "--target", f"pem:{store}", "--state-dir", str(tmp_path / "s")]
    text = run_process(*args, "--servername", "db.example.com")
    assert "Traceback" not in text.err, text.err
    doc = json.loads(run_process(*args, "--servername", "db.example.com", "--json").out)
    finding = f"signature algorithm {UNKNOWN_OID} not supported: cannot tell whether it signed the next one"
    assert finding in text.out
    assert any(finding in w for w in doc["warnings"])
    if position == "root":
        # The root's own signature is never what a client checks: the chain verifies through its key.
        assert text.code == 0, text.out
    else:
        assert text.code == 1, text.out
        assert [t["trusted"] for t in doc["targets"]] == [False]


def test_a_custom_root_with_an_unknown_algorithm_is_refused_by_name(tmp_path: Path) -> None:
    root_pem = unknown_algorithm(make_root("Unknown Alg Custom Root"))
    root_file = tmp_path / "root.pem"
    root_file.write_bytes(root_pem)
    from rotator.certs import parse_one

    pin = parse_one(root_pem).sha256
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(b"# app bundle\n")
    config = tmp_path / "rotator.toml"
    config.write_text(
        'profile = "mine"\n[profiles]\nmine = ["odd-root"]\n'
        f'[[roots]]\nid = "odd-root"\nsha256 = "{pin}"\nfile = "{root_file}"\n'
        f'[[targets]]\nkind = "pem"\npath = "{bundle}"\n'
    )
    result = run_process("sync", "--offline", "--config", str(config), "--state-dir", str(tmp_path / "s"))
    assert "Traceback" not in result.err, result.err
    assert result.code == 1, result.out + result.err
    assert (
        f"root odd-root: the pinned certificate 'Unknown Alg Custom Root': signature algorithm {UNKNOWN_OID}"
        in result.err
    )
    assert bundle.read_bytes() == b"# app bundle\n"


RSASSA_PSS = "1.2.840.113549.1.1.10"


@pytest.mark.parametrize("position", ["leaf", "intermediate"])
def test_rsassa_pss_without_its_parameters_is_a_finding_not_a_crash(tmp_path: Path, position: str) -> None:
    """RSASSA-PSS is known, but without its parameters cryptography raises ValueError ("Invalid RSA PSS
    parameters") where an unknown algorithm raises UnsupportedAlgorithm; the probe of a chain file
    holding one ended in that traceback (found by benchmarks/fuzz_volume.py, chain-file). With parameters
    of the wrong shape the certificate does not parse at all: a damaged block (exit 2), as before."""
    from tests.support.fuzzing import pem_of, with_signature_algorithm

    root = make_root("PSS Params Root")
    issuing = make_intermediate(root)
    leaf = make_leaf(issuing, ("db.example.com",))
    ders = {"leaf": leaf.der, "intermediate": issuing.der}
    ders[position] = with_signature_algorithm(ders[position], RSASSA_PSS)  # no parameters at all
    chain = tmp_path / "chain.pem"
    chain.write_bytes(pem_of(ders["leaf"]) + pem_of(ders["intermediate"]))
    store = tmp_path / "store.pem"
    store.write_bytes(root.pem)
    args = ["probe", "--chain-file", str(chain), "--target", f"pem:{store}", "--state-dir", str(tmp_path / "s")]
    result = run_process(*args, "--servername", "db.example.com", "--json")
    assert "Traceback" not in result.err, result.err
    assert result.code == 1, result.out + result.err
    doc = json.loads(result.out)
    assert [t["trusted"] for t in doc["targets"]] == [False]
    assert any(f"signature algorithm {RSASSA_PSS} with unreadable parameters" in w for w in doc["warnings"]), doc
