"""rotator probe against real TLS servers on 127.0.0.1 and on real Azure chain certificates."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from rotator.certs import Cert, parse_many, parse_one
from rotator.errors import ConfigError
from rotator.probe.judge import anchoring_roots, judge_chain, signing_certs
from rotator.probe.tlsfetch import parse_endpoint
from rotator.roots import catalog as catalog_mod
from rotator.roots.catalog import Catalog, CrossSign
from tests.support.paths import DATA
from tests.support.pki import NOW, Issued, Rotation, make_intermediate, make_leaf, make_root, make_rotation
from tests.support.runs import Run, run_process
from tests.support.tls_server import NoSslPostgres, Plaintext, Silent, TlsServer, free_port, serving


@pytest.fixture(scope="module")
def pki() -> Rotation:
    return make_rotation("Probe")


@pytest.fixture
def old_server(tmp_path: Path, pki: Rotation) -> Iterator[TlsServer]:
    server = TlsServer(tmp_path / "old-server", [pki.old_leaf, pki.old_ca], pki.old_leaf)
    with serving(server):
        yield server


def write_config(tmp_path: Path, pki: Rotation, targets: list[str] = ()) -> Path:
    """Both test roots as custom catalog roots, pinned."""
    pki.old_root.write(tmp_path / "roots", "old-root")
    pki.new_root.write(tmp_path / "roots", "new-root")
    lines = ['include = ["test-old-root", "test-new-root"]']
    for rid, stem, issued in (("test-old-root", "old-root", pki.old_root), ("test-new-root", "new-root", pki.new_root)):
        name = issued.cert.subject.rfc4514_string().split(",")[0].removeprefix("CN=")
        lines += [
            "[[roots]]",
            f'id = "{rid}"',
            f'name = "{name}"',
            f'sha256 = "{issued.sha256}"',
            f'file = "roots/{stem}.pem"',
        ]
    for t in targets:
        kind, _, path = t.partition(":")
        lines += ["[[targets]]", f'kind = "{kind}"', f'path = "{path}"']
    config = tmp_path / "rotator.toml"
    config.write_text("\n".join(lines) + "\n")
    return config


def bundle(path: Path, *certs: Issued) -> Path:
    path.write_bytes(b"".join(c.pem for c in certs))
    return path


# ------------------------------------------------------------------ direct TLS


@pytest.mark.slow
def test_direct_tls_trusted_names_root_and_target(tmp_path: Path, pki: Rotation, old_server: TlsServer, run) -> None:
    config = write_config(tmp_path, pki)
    store = bundle(tmp_path / "old.pem", pki.old_root)
    result = run("probe", f"localhost:{old_server.port}", "--config", str(config), "--target", f"pem:{store}")
    assert result.code == 0, result.out + result.err
    assert "test-old-root (Probe Old Root): signs [1] Probe Old Intermediate" in result.out
    assert f"pem:{store}: trusted, anchored at test-old-root" in result.out
    assert pki.old_leaf.sha256 in result.out and pki.old_ca.sha256 in result.out
    assert "verdict: OK: every target (1) trusts" in result.out


@pytest.mark.slow
def test_json_reports_chain_anchor_and_targets(tmp_path: Path, pki: Rotation, old_server: TlsServer, run) -> None:
    config = write_config(tmp_path, pki)
    good = bundle(tmp_path / "both.pem", pki.old_root, pki.new_root)
    bad = bundle(tmp_path / "new.pem", pki.new_root)
    result = run(
        "probe",
        f"127.0.0.1:{old_server.port}",
        "--servername",
        "localhost",
        "--json",
        "--config",
        str(config),
        "--target",
        f"pem:{good}",
        "--target",
        f"pem:{bad}",
    )
    assert result.code == 1
    doc = json.loads(result.out)
    assert doc["version"] == 1 and doc["command"] == "probe" and doc["reachable"] is True
    assert [c["sha256"] for c in doc["chain"]] == [pki.old_leaf.sha256, pki.old_ca.sha256]
    assert doc["chain"][0]["issuer"] == pki.old_ca.cert.subject.rfc4514_string()
    assert [a["id"] for a in doc["anchors"]] == ["test-old-root"]
    first, second = doc["targets"]
    assert first["trusted"] is True and first["anchor"]["id"] == "test-old-root"
    assert first["path"] == [pki.old_leaf.sha256, pki.old_ca.sha256, pki.old_root.sha256]
    assert second["trusted"] is False and "no certificate in this store signs" in second["reason"]
    assert "Probe Old Root" in second["reason"]
    assert doc["ok"] is False and doc["verdict"].startswith("FAIL: 1 of 2 targets")


@pytest.mark.slow
def test_targets_come_from_the_config(tmp_path: Path, pki: Rotation, old_server: TlsServer, run) -> None:
    store = bundle(tmp_path / "old.pem", pki.old_root)
    config = write_config(tmp_path, pki, targets=[f"pem:{store}"])
    result = run("probe", f"localhost:{old_server.port}", "--config", str(config))
    assert result.code == 0, result.out + result.err
    assert f"pem:{store}: trusted" in result.out


@pytest.mark.slow
def test_without_targets_the_profile_roots_are_judged(
    tmp_path: Path, pki: Rotation, old_server: TlsServer, run
) -> None:
    config = write_config(tmp_path, pki)
    result = run("probe", f"localhost:{old_server.port}", "--config", str(config))
    assert result.code == 0, result.out + result.err
    assert "profile:azure-all: trusted, anchored at test-old-root" in result.out
    assert "no targets configured" in result.out
    # The built-in Azure roots alone do not anchor a test chain.
    plain = run("probe", f"localhost:{old_server.port}")
    assert plain.code == 1
    assert "anchored by catalog roots: none" in plain.out


@pytest.mark.slow
def test_hostname_mismatch_fails_verify_full_only(tmp_path: Path, pki: Rotation, old_server: TlsServer, run) -> None:
    store = bundle(tmp_path / "old.pem", pki.old_root)
    full = run("probe", f"127.0.0.1:{old_server.port}", "--servername", "db.example.org", "--target", f"pem:{store}")
    assert full.code == 1
    assert "not valid for 'db.example.org' (it names localhost, 127.0.0.1)" in full.out
    ca = run(
        "probe",
        f"127.0.0.1:{old_server.port}",
        "--servername",
        "db.example.org",
        "--sslmode",
        "verify-ca",
        "--target",
        f"pem:{store}",
    )
    assert ca.code == 0, ca.out
    assert "name not checked (verify-ca)" in ca.out


@pytest.mark.slow
def test_ip_address_is_checked_against_ip_san(tmp_path: Path, pki: Rotation, old_server: TlsServer, run) -> None:
    store = bundle(tmp_path / "old.pem", pki.old_root)
    result = run("probe", f"127.0.0.1:{old_server.port}", "--target", f"pem:{store}")
    assert result.code == 0, result.out
    assert "name checked: 127.0.0.1" in result.out


@pytest.mark.slow
def test_untrusted_chain_says_which_root_is_missing(tmp_path: Path, pki: Rotation, old_server: TlsServer, run) -> None:
    store = bundle(tmp_path / "new.pem", pki.new_root)
    result = run("probe", f"localhost:{old_server.port}", "--target", f"pem:{store}")
    assert result.code == 1
    assert "NOT trusted: no certificate in this store signs the server's chain" in result.out
    assert "it needs CN=Probe Old Root" in result.out


@pytest.mark.slow
def test_expired_chain_is_rejected_with_dates(tmp_path: Path, pki: Rotation, old_server: TlsServer, run) -> None:
    store = bundle(tmp_path / "old.pem", pki.old_root)
    later = (NOW + dt.timedelta(days=400)).date().isoformat()
    result = run("probe", f"localhost:{old_server.port}", "--target", f"pem:{store}", "--at", later)
    assert result.code == 1
    assert "EXPIRED" in result.out
    assert "'localhost' is not valid on" in result.out


@pytest.mark.slow
def test_expired_server_certificate_now(tmp_path: Path, pki: Rotation, run) -> None:
    leaf = _expired_leaf(pki.old_ca)
    store = bundle(tmp_path / "old.pem", pki.old_root)
    with serving(TlsServer(tmp_path / "srv", [leaf, pki.old_ca], leaf)) as server:
        result = run("probe", f"localhost:{server.port}", "--target", f"pem:{store}")
    assert result.code == 1
    assert "EXPIRED" in result.out and "is not valid on" in result.out


@pytest.mark.slow
def test_missing_and_empty_stores_are_not_trusted(tmp_path: Path, pki: Rotation, old_server: TlsServer, run) -> None:
    empty = tmp_path / "empty.pem"
    empty.write_text("")
    result = run(
        "probe", f"localhost:{old_server.port}", "--target", f"pem:{tmp_path / 'nope.pem'}", "--target", f"pem:{empty}"
    )
    assert result.code == 1
    assert "does not exist yet (run rotator sync)" in result.out
    assert "the store is empty" in result.out


@pytest.mark.slow
def test_intermediate_in_a_store_is_flagged(tmp_path: Path, pki: Rotation, old_server: TlsServer, run) -> None:
    store = bundle(tmp_path / "pinned.pem", pki.old_ca)
    result = run("probe", f"localhost:{old_server.port}", "--target", f"pem:{store}")
    assert result.code == 0, result.out
    assert "which is not a self-signed root" in result.out


@pytest.mark.slow
def test_cross_signed_chain_lists_every_anchoring_root(tmp_path: Path, pki: Rotation, run) -> None:
    """New root cross-signed by the old one: both anchor, and a store with either trusts the server."""
    cross = _cross_sign(pki.new_root, pki.old_root)
    config = write_config(tmp_path, pki)
    only_old = bundle(tmp_path / "old.pem", pki.old_root)
    only_new = bundle(tmp_path / "new.pem", pki.new_root)
    with serving(TlsServer(tmp_path / "srv", [pki.new_leaf, pki.new_ca, cross], pki.new_leaf)) as server:
        result = run(
            "probe",
            f"localhost:{server.port}",
            "--json",
            "--config",
            str(config),
            "--target",
            f"pem:{only_old}",
            "--target",
            f"pem:{only_new}",
        )
    assert result.code == 0, result.out + result.err
    doc = json.loads(result.out)
    anchors = {a["id"]: a["signs"] for a in doc["anchors"]}
    assert anchors == {"test-old-root": 2, "test-new-root": 1}
    assert [t["anchor"]["id"] for t in doc["targets"]] == ["test-old-root", "test-new-root"]


def _probe_twice(run: Callable[..., Run], port: int, config: Path, *bundles: Path) -> tuple[Run, Any]:
    """The text report and the JSON document of one probe against ``bundles``."""
    args = ["probe", f"localhost:{port}", "--config", str(config)]
    for path in bundles:
        args += ["--target", f"pem:{path}"]
    return run(*args), json.loads(run(*args[:2], "--json", *args[2:]).out)


def _test_cross_sign_fact(pki: Rotation, cross: Issued, monkeypatch: pytest.MonkeyPatch) -> CrossSign:
    """The catalog's cross-sign facts for the test PKI: the new root cross-signed by the old one."""
    fact = CrossSign(
        subject_id="test-new-root",
        subject_name="Probe New Root",
        issuer_id="test-old-root",
        sha256=cross.sha256,
        sha1="",
        not_after=cross.cert.not_valid_after_utc.date(),
    )
    monkeypatch.setattr(catalog_mod, "BUILTIN_CROSS_SIGNS", (fact,))
    return fact


@pytest.mark.slow
def test_probe_names_the_route_direct_or_cross_sign(
    tmp_path: Path, pki: Rotation, run, monkeypatch: pytest.MonkeyPatch
) -> None:
    cross = _cross_sign(pki.new_root, pki.old_root)
    fact = _test_cross_sign_fact(pki, cross, monkeypatch)
    config = write_config(tmp_path, pki)
    only_old = bundle(tmp_path / "old.pem", pki.old_root)
    only_new = bundle(tmp_path / "new.pem", pki.new_root)
    with serving(TlsServer(tmp_path / "srv", [pki.new_leaf, pki.new_ca, cross], pki.new_leaf)) as server:
        text, doc = _probe_twice(run, server.port, config, only_old, only_new)
    assert text.code == 0, text.out + text.err
    assert (
        f"pem:{only_old}: trusted, anchored at test-old-root (Probe Old Root), through the cross-sign of "
        f"Probe New Root by test-old-root, valid to {fact.not_after}"
    ) in text.out
    # the advice is status's too (rotator.roots.catalog.only_through): tests/sync/test_azure_hierarchies.py
    assert (
        f"note: this store reaches Probe New Root only through the test-old-root cross-sign, which expires "
        f'on {fact.not_after}: add test-new-root to this target (include = ["test-new-root"])'
    ) in text.out
    assert f"pem:{only_new}: trusted, anchored at test-new-root (Probe New Root), direct root" in text.out
    routes = {t["target"]: (t["route"], t["cross_sign"]) for t in doc["targets"]}
    assert routes[f"pem:{only_old}"] == (
        "cross-sign",
        {
            "subject": "test-new-root",
            "issuer": "test-old-root",
            "sha256": cross.sha256,
            "not_after": fact.not_after.isoformat(),
        },
    )
    assert routes[f"pem:{only_new}"] == ("direct", None)
    assert doc["missing_cross_signs"] == []


@pytest.mark.slow
def test_probe_says_a_newer_rotator_is_needed_when_the_catalog_has_no_pin_for_the_root(
    tmp_path: Path, pki: Rotation, run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same advice as status's (rotator.roots.catalog.root_to_add) when the hierarchy's own root is unknown."""
    cross = _cross_sign(pki.new_root, pki.old_root)
    fact = _test_cross_sign_fact(pki, cross, monkeypatch)._replace(subject_id="test-unpinned-root")
    monkeypatch.setattr(catalog_mod, "BUILTIN_CROSS_SIGNS", (fact,))
    config = write_config(tmp_path, pki)
    only_old = bundle(tmp_path / "old.pem", pki.old_root)
    with serving(TlsServer(tmp_path / "srv", [pki.new_leaf, pki.new_ca, cross], pki.new_leaf)) as server:
        text, doc = _probe_twice(run, server.port, config, only_old)
    assert text.code == 0, text.out + text.err
    note = (
        f"this store reaches Probe New Root only through the test-old-root cross-sign, which expires on "
        f"{fact.not_after}: no pin for the self-signed Probe New Root is known to this catalog yet: update rotator "
        "before then"
    )
    assert f"    note: {note}\n" in text.out
    assert doc["targets"][0]["notes"] == [note]


@pytest.mark.slow
def test_probe_says_which_anchor_a_chain_without_its_cross_sign_needs(
    tmp_path: Path, pki: Rotation, run, monkeypatch: pytest.MonkeyPatch
) -> None:
    _test_cross_sign_fact(pki, _cross_sign(pki.new_root, pki.old_root), monkeypatch)
    config = write_config(tmp_path, pki)
    only_old = bundle(tmp_path / "old.pem", pki.old_root)
    only_new = bundle(tmp_path / "new.pem", pki.new_root)
    with serving(TlsServer(tmp_path / "srv", [pki.new_leaf, pki.new_ca], pki.new_leaf)) as server:
        result, doc = _probe_twice(run, server.port, config, only_old, only_new)
    assert result.code == 1
    assert (
        f"pem:{only_old}: NOT trusted: the server sends no cross-sign for Probe New Root, so a client needs the "
        "self-signed Probe New Root as an anchor and this store lacks it; add test-new-root to this target"
    ) in result.out
    assert (
        "warning: the server sends its chain without the cross-sign for Probe New Root: only a store holding "
        "test-new-root itself trusts it"
    ) in result.out
    assert f"pem:{only_new}: trusted, anchored at test-new-root (Probe New Root), direct root" in result.out
    assert doc["missing_cross_signs"] == [
        {"subject": "test-new-root", "name": "Probe New Root", "issuer": "test-old-root"}
    ]


@pytest.mark.slow
def test_starttls_postgres_with_a_fake_server(tmp_path: Path, pki: Rotation, run) -> None:
    store = bundle(tmp_path / "old.pem", pki.old_root)
    with serving(TlsServer(tmp_path / "srv", [pki.old_leaf, pki.old_ca], pki.old_leaf, starttls=True)) as server:
        result = run("probe", f"localhost:{server.port}", "--starttls", "postgres", "--target", f"pem:{store}")
    assert result.code == 0, result.out + result.err
    assert "PostgreSQL SSLRequest, then TLSv1." in result.out


# ------------------------------------------------------------------ unreachable: exit 2 with the reason


def test_refused(run) -> None:
    result = run("probe", f"127.0.0.1:{free_port()}", "--starttls", "postgres")
    assert result.code == 2
    assert "connection refused" in result.err


def test_refused_json(run) -> None:
    port = free_port()
    result = run("probe", f"127.0.0.1:{port}", "--json")
    assert result.code == 2
    doc = json.loads(result.out)
    assert doc == {
        "version": 1,
        "command": "probe",
        "endpoint": f"127.0.0.1:{port}",
        "starttls": None,
        "reachable": False,
        "reason": "refused",
        "error": doc["error"],
        "ok": False,
    }


@pytest.mark.slow
def test_postgres_without_ssl(run) -> None:
    with serving(NoSslPostgres()) as server:
        result = run("probe", f"127.0.0.1:{server.port}", "--starttls", "postgres")
    assert result.code == 2
    assert "server does not support SSL" in result.err


@pytest.mark.slow
def test_handshake_timeout(run) -> None:
    with serving(Silent()) as server:
        result = run("probe", f"127.0.0.1:{server.port}", "--timeout", "0.5", "--json")
    assert result.code == 2
    assert json.loads(result.out)["reason"] == "timeout"
    assert "did not finish within 0.5s" in result.err


@pytest.mark.slow
def test_not_tls_is_a_handshake_error(run) -> None:
    with serving(Plaintext()) as server:
        result = run("probe", f"127.0.0.1:{server.port}", "--timeout", "5")
    assert result.code == 2
    assert "TLS handshake error" in result.err


def test_unresolvable_host(run) -> None:
    result = run("probe", "no-such-host.invalid:5432", "--timeout", "5")
    assert result.code == 2
    assert "cannot resolve" in result.err


@pytest.mark.slow
def test_exit_code_as_a_process() -> None:
    result = run_process("probe", f"127.0.0.1:{free_port()}", "--starttls", "postgres")
    assert result.code == 2
    assert "connection refused" in result.err


def test_endpoint_parsing() -> None:
    assert parse_endpoint("db.example.org", "postgres").port == 5432
    assert parse_endpoint("db.example.org").port == 443
    assert parse_endpoint("db.example.org:6432", "postgres").port == 6432
    ep = parse_endpoint("[::1]:5433", "postgres", "localhost")
    assert (ep.host, ep.port, ep.name, str(ep)) == ("::1", 5433, "localhost", "[::1]:5433")
    assert parse_endpoint("::1").host == "::1"
    for bad in ("db:0", "db:http", ":5432", "[::1"):
        with pytest.raises(ConfigError):
            parse_endpoint(bad)


# ------------------------------------------------------------------ the real Azure chain (no network)


def _catalog_roots() -> list[tuple[object, Cert]]:
    catalog = Catalog.builtin()
    return [(root, parse_one(root.embedded_bytes() or b"")) for root in catalog.roots.values()]


def test_real_azure_chain_anchors_at_g2_by_cross_sign_and_at_the_new_root_directly() -> None:
    ocsp02 = parse_one((DATA / "microsoft-tls-g2-rsa-ca-ocsp-02.pem").read_bytes())
    xsign = parse_one((DATA / "microsoft-tls-rsa-root-g2-xsign.pem").read_bytes())
    chain = [ocsp02, xsign]  # as Azure sends it above the server certificate
    anchors = anchoring_roots(chain, _catalog_roots())  # type: ignore[arg-type]
    assert [(a.root.id, a.index, a.sent) for a in anchors] == [
        ("digicert-global-root-g2", 1, False),
        ("microsoft-tls-rsa-root-g2", 0, False),
    ]
    assert chain[anchors[0].index].common_name == "Microsoft TLS RSA Root G2"
    assert chain[anchors[1].index].common_name == "Microsoft TLS G2 RSA CA OCSP 02"


def test_real_azure_chain_is_not_anchored_by_microsoft_rsa_2017_alone() -> None:
    chain = [
        parse_one((DATA / "microsoft-tls-g2-rsa-ca-ocsp-02.pem").read_bytes()),
        parse_one((DATA / "microsoft-tls-rsa-root-g2-xsign.pem").read_bytes()),
    ]
    roots = {root.id: cert for root, cert in _catalog_roots()}  # type: ignore[attr-defined]
    assert signing_certs(chain, [roots["microsoft-rsa-root-2017"]]) == []
    assert [c.common_name for c, _ in signing_certs(chain, [roots["digicert-global-root-g2"]])] == [
        "DigiCert Global Root G2"
    ]


def test_old_azure_intermediate_anchors_at_g2_and_is_expired() -> None:
    issuing03 = parse_many((DATA / "microsoft-azure-rsa-tls-issuing-ca-03-xsign.pem").read_bytes())
    anchors = anchoring_roots(issuing03, _catalog_roots())  # type: ignore[arg-type]
    assert [a.root.id for a in anchors] == ["digicert-global-root-g2"]
    assert issuing03[0].expired(dt.datetime(2026, 9, 1, tzinfo=dt.UTC))


def test_name_match_without_signature_is_no_anchor() -> None:
    """An impostor naming DigiCert Global Root G2 as issuer, signed by another key, anchors nothing."""
    g2 = dict((r.id, c) for r, c in _catalog_roots())["digicert-global-root-g2"]  # type: ignore[attr-defined]
    impostor_root = make_root("Impostor")
    forged = _issue(impostor_root, g2.x509.subject, "Fake Microsoft TLS RSA Root G2", ca=True)
    assert anchoring_roots([Cert.from_der(forged.der)], _catalog_roots()) == []  # type: ignore[arg-type]


def test_judge_chain_on_a_given_chain_without_network(pki: Rotation) -> None:
    chain = [Cert.from_der(pki.new_leaf.der), Cert.from_der(pki.new_ca.der)]
    store = [Cert.from_der(pki.new_root.der)]
    ok = judge_chain("pem:x", store, chain, "localhost", dt.datetime.now(dt.UTC))
    assert ok.trusted and ok.anchor == store[0]
    bad = judge_chain("pem:x", [Cert.from_der(pki.old_root.der)], chain, "localhost", dt.datetime.now(dt.UTC))
    assert not bad.trusted and "no certificate in this store signs" in bad.reason


def test_sha1_signed_root_works_as_an_anchor() -> None:
    """DigiCert Global Root CA (G1) is SHA-1 self-signed; no client checks an anchor's own signature."""
    g1 = dict((r.id, c) for r, c in _catalog_roots())["digicert-global-root-ca"]  # type: ignore[attr-defined]
    assert g1.x509.signature_hash_algorithm is not None and g1.x509.signature_hash_algorithm.name == "sha1"
    root = make_root("Another Root")
    chain = [Cert.from_der(make_leaf(make_intermediate(root)).der)]
    verdict = judge_chain("pem:x", [g1, Cert.from_der(root.der)], chain, "localhost", dt.datetime.now(dt.UTC))
    assert not verdict.trusted  # the intermediate is not sent: no path
    inter = make_intermediate(root)
    leaf = make_leaf(inter)
    chain = [Cert.from_der(leaf.der), Cert.from_der(inter.der)]
    verdict = judge_chain("pem:x", [g1, Cert.from_der(root.der)], chain, "localhost", dt.datetime.now(dt.UTC))
    assert verdict.trusted, verdict.reason


# ------------------------------------------------------------------ helpers


def _issue(issuer: Issued, subject_or_issuer_name: x509.Name, cn: str, *, ca: bool) -> Issued:
    """A certificate naming ``subject_or_issuer_name`` as issuer, signed with ``issuer``'s key."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(subject_or_issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    return Issued(builder.sign(issuer.key, hashes.SHA256()), key)


def _cross_sign(subject: Issued, issuer: Issued) -> Issued:
    """``subject``'s name and key, issued by ``issuer``: what Azure's cross-signed roots are."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject.cert.subject)
        .issuer_name(issuer.cert.subject)
        .public_key(subject.key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=1000))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(subject.key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False)
    )
    return Issued(builder.sign(issuer.key, hashes.SHA256()), subject.key)


def _expired_leaf(issuer: Issued) -> Issued:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(issuer.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=30))
        .not_valid_after(NOW - dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False)
    )
    return Issued(builder.sign(issuer.key, hashes.SHA256()), key)


@pytest.mark.slow
def test_any_store_kind_in_the_registry_is_judged(
    tmp_path: Path, pki: Rotation, old_server: TlsServer, run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """probe reads stores only through the registry and ``read()``: a new kind needs no probe change."""
    from stores import kinds
    from stores.base import Entry, StoreContents

    class FakeStore:
        def __init__(self, path: str) -> None:
            self.name = f"fake:{path}"

        def read(self) -> StoreContents:
            return StoreContents(entries=(Entry("alias-1", Cert.from_der(pki.old_root.der)),))

    kind = kinds.Kind("fake", lambda spec, ctx: [FakeStore(spec.path or "")])  # type: ignore[list-item]
    monkeypatch.setitem(kinds.KINDS, "fake", kind)
    result = run("probe", f"localhost:{old_server.port}", "--target", "fake:one")
    assert result.code == 0, result.out + result.err
    assert "fake:one: trusted, anchored at 'Probe Old Root'" in result.out


def test_a_url_is_told_to_give_host_and_port(run) -> None:  # type: ignore[no-untyped-def]
    result = run("probe", "https://myserver.postgres.database.azure.com/", "--starttls", "postgres")
    assert result.code == 2
    assert result.err == (
        "rotator: error: probe: 'https://myserver.postgres.database.azure.com/' is a URL (https://); "
        "give HOST[:PORT], e.g. myserver.postgres.database.azure.com\n"
    )
