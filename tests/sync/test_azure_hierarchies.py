"""Azure's hierarchies: the real Microsoft TLS RSA Root G2 chain checked with openssl, cross-sign
deadlines in status, and the scope rule (no publicly distrusted root in a host-wide store) with the
real update-ca-certificates in a redirected tree and a JDK cacerts copy checked with keytool."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from rotator.certs import Cert, parse_many, parse_one
from rotator.probe.judge import unsent_cross_signs
from rotator.roots import catalog as catalog_mod
from rotator.roots.catalog import Catalog
from rotator.roots.scope import Scope
from tests.support import keytool as kt
from tests.support.paths import DATA
from tests.support.systree import UPDATE_CA_CERTIFICATES, calls, counting_wrapper, debian_tree

CATALOG = Catalog.builtin()
G1 = CATALOG.roots["digicert-global-root-ca"]
G2 = CATALOG.roots["digicert-global-root-g2"]
MS_TLS = CATALOG.roots["microsoft-tls-rsa-root-g2"]
OCSP02 = DATA / "microsoft-tls-g2-rsa-ca-ocsp-02.pem"
XSIGN = DATA / "microsoft-tls-rsa-root-g2-xsign.pem"
PW = "changeit"
DEBIAN_G1 = "debian:digicert_global_root_ca.pem"

needs_update_ca = pytest.mark.skipif(not UPDATE_CA_CERTIFICATES.exists(), reason="Debian's ca-certificates missing")
needs_keytool = pytest.mark.skipif(
    not Path(kt.KEYTOOL).exists() or not kt.MACHINE_CACERTS.is_file(), reason="a JDK with a cacerts file is required"
)


def openssl_verify(cafile: Path, cert: Path, untrusted: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``openssl verify`` trusting exactly ``cafile`` (no default store)."""
    argv = ["openssl", "verify", "-no-CApath", "-no-CAstore", "-CAfile", str(cafile)]
    if untrusted is not None:
        argv += ["-untrusted", str(untrusted)]
    return subprocess.run(
        [*argv, str(cert)],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "SSL_CERT_DIR": "/nonexistent", "SSL_CERT_FILE": "/nonexistent"},
    )


def fps(path: Path) -> set[str]:
    return {c.sha256 for c in parse_many(path.read_bytes())}


def profiles_config(tmp_path: Path, body: str = "") -> Path:
    config = tmp_path / "rotator.toml"
    config.write_text('[profiles]\nms-2017-only = ["microsoft-rsa-root-2017"]\n' + body)
    return config


# ------------------------------------------------------------------ the real chain, judged by openssl


def test_new_chain_verifies_to_the_new_root_and_through_the_cross_sign_to_g2(tmp_path: Path, run) -> None:
    config = profiles_config(tmp_path)
    stores = {}
    for name, profile in (("all", "azure-all"), ("minimal", "azure-minimal"), ("ms2017", "ms-2017-only")):
        stores[name] = tmp_path / f"{name}.pem"
        result = run(
            "sync", "--offline", "--config", str(config), "--profile", profile, "--target", f"pem:{stores[name]}"
        )
        assert result.code == 0, result.err
    assert MS_TLS.sha256 in fps(stores["all"]) and MS_TLS.sha256 not in fps(stores["minimal"])

    # the store rotator wrote with the self-signed root trusts OCSP 02 directly, with or without the cross-sign
    assert openssl_verify(stores["all"], OCSP02).returncode == 0
    assert openssl_verify(stores["all"], OCSP02, XSIGN).returncode == 0
    # G2 alone: only through the cross-sign; a server that omits it fails "unable to get local issuer"
    assert openssl_verify(stores["minimal"], OCSP02, XSIGN).returncode == 0
    without = openssl_verify(stores["minimal"], OCSP02)
    assert without.returncode != 0 and "unable to get local issuer certificate" in without.stdout + without.stderr
    # Microsoft RSA Root 2017 alone trusts neither path
    assert openssl_verify(stores["ms2017"], OCSP02).returncode != 0
    assert openssl_verify(stores["ms2017"], OCSP02, XSIGN).returncode != 0


def test_probe_names_the_missing_cross_sign_on_the_real_chain() -> None:
    ocsp02, xsign = parse_one(OCSP02.read_bytes()), parse_one(XSIGN.read_bytes())
    assert [c.subject_id for c in unsent_cross_signs([ocsp02], CATALOG.cross_signs)] == ["microsoft-tls-rsa-root-g2"]
    assert unsent_cross_signs([ocsp02, xsign], CATALOG.cross_signs) == []
    # the ECC cross-sign is a catalog fact too: a chain sending it is not missing one
    ecc = parse_one((DATA / "microsoft-tls-ecc-root-g2-xsign.pem").read_bytes())
    assert unsent_cross_signs([ecc], CATALOG.cross_signs) == []


# ------------------------------------------------------------------ cross-sign deadlines in status


def test_status_reports_the_cross_sign_deadline_and_at_rehearses_it(tmp_path: Path, run) -> None:
    minimal, full = tmp_path / "minimal.pem", tmp_path / "all.pem"
    config = tmp_path / "rotator.toml"
    config.write_text(
        f'[[targets]]\nkind = "pem"\npath = "{minimal}"\nprofile = "azure-minimal"\n'
        f'[[targets]]\nkind = "pem"\npath = "{full}"\n'
    )
    assert run("sync", "--offline", "--config", str(config)).code == 0
    now = run("status", "--json", "--config", str(config))
    assert now.code == 0, now.out
    doc = json.loads(now.out)
    reach = {t["target"]: {h["root"]: h for h in t["hierarchies"]} for t in doc["targets"]}
    assert reach[f"pem:{minimal}"]["microsoft-tls-rsa-root-g2"] == {
        "root": "microsoft-tls-rsa-root-g2",
        "name": "Microsoft TLS RSA Root G2",
        "path": "cross-sign",
        "anchor": "digicert-global-root-g2",
        "cross_sign": CATALOG.cross_signs[0].sha256,
        "until": "2029-06-19",
    }
    assert reach[f"pem:{full}"]["microsoft-tls-rsa-root-g2"]["path"] == "direct"
    assert reach[f"pem:{full}"]["microsoft-tls-rsa-root-g2"]["until"] == "2040-04-10"
    assert reach[f"pem:{minimal}"]["microsoft-tls-ecc-root-g2"]["path"] == "none"  # no G3 in azure-minimal
    assert reach[f"pem:{full}"]["microsoft-tls-ecc-root-g2"]["path"] == "cross-sign"
    events = [e for e in doc["events"] if e["root"] == "microsoft-tls-rsa-root-g2" and e["target"]]
    assert [(e["date"], e["target"]) for e in events] == [("2029-06-19", f"pem:{minimal}")]
    assert "add microsoft-tls-rsa-root-g2" in events[0]["what"]

    text = run("status", "--config", str(config))
    assert (
        f"2029-06-19 microsoft-tls-rsa-root-g2: pem:{minimal} reaches Microsoft TLS RSA Root G2 only "
        "through the digicert-global-root-g2 cross-sign, which expires: add microsoft-tls-rsa-root-g2"
    ) in " ".join(text.out.split())  # the sentence wraps within 100 columns
    lines = text.out.splitlines()
    section = lines[lines.index("cross-signed hierarchies (how each target anchors them):") :]
    at = section.index(f"  pem:{full}")
    direct = "    Microsoft TLS RSA Root G2: directly (microsoft-tls-rsa-root-g2, until 2040-04-10)"
    assert direct in section[at + 1 : at + 3]

    # after the cross-sign's end the G2-only store fails; the store with the self-signed root stays trusted
    later = run("status", "--json", "--config", str(config), "--at", "2029-07-01")
    assert later.code == 1
    doc = json.loads(later.out)
    lost = [f for f in doc["findings"] if "can no longer anchor Microsoft TLS RSA Root G2" in f["message"]]
    assert [f["target"] for f in lost] == [f"pem:{minimal}"]
    assert "add microsoft-tls-rsa-root-g2" in lost[0]["message"]
    reach = {t["target"]: {h["root"]: h for h in t["hierarchies"]} for t in doc["targets"]}
    assert reach[f"pem:{full}"]["microsoft-tls-rsa-root-g2"]["path"] == "direct"
    assert reach[f"pem:{minimal}"]["microsoft-tls-rsa-root-g2"]["path"] == "cross-sign"
    # a warning window reaching the deadline turns the status red before it
    warned = run("status", "--json", "--config", str(config), "--at", "2029-06-01", "--warn-days", "30")
    assert {
        "severity": "error",
        "target": f"pem:{minimal}",
        "message": (
            "reaches Microsoft TLS RSA Root G2 only through the digicert-global-root-g2 cross-sign, which expires on "
            "2029-06-19 (18 days left): add microsoft-tls-rsa-root-g2 to this target "
            '(include = ["microsoft-tls-rsa-root-g2"])'
        ),
    } in json.loads(warned.out)["findings"]


THROUGH_G2 = "reaches Microsoft TLS RSA Root G2 only through the digicert-global-root-g2 cross-sign, which expires"
ADD_TLS_ROOT_G2 = 'add microsoft-tls-rsa-root-g2 to this target (include = ["microsoft-tls-rsa-root-g2"])'
NO_PIN = "no pin for the self-signed Microsoft TLS RSA Root G2 is known to this catalog yet: update rotator before then"


@pytest.mark.parametrize("pinned", [True, False])
def test_status_and_probe_give_one_cross_sign_advice(
    tmp_path: Path, run, monkeypatch: pytest.MonkeyPatch, pinned: bool
) -> None:
    """A store with DigiCert Global Root G2 alone reaches Microsoft TLS RSA Root G2 only through the
    cross-sign: status (its deadline) and probe (the saved real chain) say so in the same words, naming
    the root to add, or, for a hierarchy whose root the catalog has no pin for, a newer rotator."""
    if not pinned:
        unpinned = CATALOG.cross_signs[0]._replace(subject_id="microsoft-tls-rsa-root-g9")
        monkeypatch.setattr(catalog_mod, "BUILTIN_CROSS_SIGNS", (unpinned, *CATALOG.cross_signs[1:]))
    advice = ADD_TLS_ROOT_G2 if pinned else NO_PIN
    g2_only = tmp_path / "g2.pem"
    g2_only.write_bytes(G2.embedded_bytes() or b"")
    chain = tmp_path / "chain.pem"
    chain.write_bytes(OCSP02.read_bytes() + XSIGN.read_bytes())
    at = dt.date(2027, 6, 1)
    left = (dt.date(2029, 6, 19) - at).days

    status = run(
        "status", "--json", "--offline", "--target", f"pem:{g2_only}", "--at", str(at), "--warn-days", str(left)
    )
    doc = json.loads(status.out)
    messages = [f["message"] for f in doc["findings"] if f["target"] == f"pem:{g2_only}"]
    assert f"{THROUGH_G2} on 2029-06-19 ({left} days left): {advice}" in messages
    events = [e["what"] for e in doc["events"] if e["target"] == f"pem:{g2_only}"]
    assert events == [f"pem:{g2_only} {THROUGH_G2}: {advice}"]

    probe = run("probe", "--chain-file", str(chain), "--target", f"pem:{g2_only}", "--at", str(at), "--json")
    assert probe.code == 0, probe.out + probe.err
    verdict = json.loads(probe.out)["targets"][0]
    assert verdict["trusted"] is True and verdict["route"] == "cross-sign"
    assert verdict["notes"] == [f"this store {THROUGH_G2} on 2029-06-19: {advice}"]


# ------------------------------------------------------------------ scopes


def test_target_profile_and_include_fall_back_to_the_global_selection(tmp_path: Path, run) -> None:
    app, legacy, plus = tmp_path / "app.pem", tmp_path / "legacy.pem", tmp_path / "plus.pem"
    config = tmp_path / "rotator.toml"
    config.write_text(
        'profile = "azure-postgresql"\ninclude = ["digicert-global-root-g3"]\n'
        f'[[targets]]\nkind = "pem"\npath = "{app}"\n'
        f'[[targets]]\nkind = "pem"\npath = "{legacy}"\nprofile = "azure-legacy"\n'
        f'[[targets]]\nkind = "pem"\npath = "{plus}"\ninclude = ["digicert-global-root-ca"]\n'
    )
    assert run("sync", "--offline", "--config", str(config)).code == 0
    sha = {i: r.sha256 for i, r in CATALOG.roots.items()}
    pg = {sha[i] for i in CATALOG.profiles["azure-postgresql"]}
    assert fps(app) == pg | {sha["digicert-global-root-g3"]}  # global profile and include
    assert fps(legacy) == {sha[i] for i in CATALOG.profiles["azure-legacy"]} | {sha["digicert-global-root-g3"]}
    assert fps(plus) == pg | {G1.sha256}  # its own include replaces the global one
    # the same through --target specs
    cli = tmp_path / "cli.pem"
    result = run("sync", "--offline", "--target", f"pem:{cli},profile=azure-minimal,include=digicert-global-root-ca")
    assert result.code == 0, result.err
    assert fps(cli) == {G2.sha256, sha["microsoft-rsa-root-2017"], G1.sha256}


@pytest.mark.parametrize(
    "args, message",
    [
        (["--target", "pem:{d}/a.pem,allow_distrusted=digicert-global-root-ca"], "allow_distrusted is for host-wide"),
        (["--target", "pem:{d}/a.pem,include=no-such-root"], "unknown root id 'no-such-root'"),
        (["--target", "pem:{d}/a.pem,profile=nope"], "unknown profile 'nope'"),
        (["--target", "pem:{d}/a.pem,proflie=azure-all"], "unknown option 'proflie'"),
    ],
)
def test_bad_scope_options_are_usage_errors(tmp_path: Path, run, args: list[str], message: str) -> None:
    result = run("sync", "--offline", *[a.format(d=tmp_path) for a in args])
    assert result.code == 2
    assert message in result.err and "--target" in result.err
    assert not (tmp_path / "a.pem").exists()


def scoped_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, allow: bool, profile: str = "azure-legacy"
) -> tuple[Path, Path, Path, Path]:
    """A redirected Debian tree, a copy of the machine's JDK cacerts, an app bundle, one config."""
    image = tmp_path / "image"
    if not image.exists():
        debian_tree(image)
        shutil.copyfile(kt.MACHINE_CACERTS, tmp_path / "cacerts")
        counting_wrapper(tmp_path / "bin", tmp_path / "refresh.log")
        monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    allowed = 'allow_distrusted = ["digicert-global-root-ca"]\n' if allow else ""
    config = tmp_path / "rotator.toml"
    config.write_text(
        f'profile = "{profile}"\n'
        f'[[targets]]\nkind = "pem"\npath = "{tmp_path / "app.pem"}"\n'
        f'[[targets]]\nkind = "system"\nrefresh = "host"\n{allowed}'
        f'[[targets]]\nkind = "java-cacerts"\npath = "{tmp_path / "cacerts"}"\n{allowed}'
    )
    return image, tmp_path / "cacerts", tmp_path / "app.pem", config


@pytest.mark.slow
@needs_update_ca
@needs_keytool
def test_host_wide_stores_refuse_g1_unless_allowed_and_rotator_removes_its_own(
    tmp_path: Path, run, monkeypatch: pytest.MonkeyPatch
) -> None:
    image, cacerts, app, config = scoped_host(tmp_path, monkeypatch, allow=False)
    anchors = image / "usr/local/share/ca-certificates"
    bundle = image / "etc/ssl/certs/ca-certificates.crt"
    sync = ["sync", "--offline", "--config", str(config), "--sysroot", str(image)]

    dry = run(*sync, "--dry-run")
    assert dry.code == 0, dry.err
    assert "skipped digicert-global-root-ca" in dry.unwrapped and not app.exists() and not bundle.exists()

    first = run(*sync)
    assert first.code == 0, first.err
    # the application bundle takes the whole selection, G1 included
    assert G1.sha256 in fps(app) and MS_TLS.sha256 in fps(app)
    # the OS store: no G1 anchor, and the real update-ca-certificates built a bundle without it
    assert not (anchors / "rotator-digicert-global-root-ca.crt").exists()
    assert (anchors / "rotator-microsoft-tls-rsa-root-g2.crt").exists()
    assert G1.sha256 not in fps(bundle) and MS_TLS.sha256 in fps(bundle)
    system_name = f"system:debian (sysroot {image})"
    assert (
        f"  skipped digicert-global-root-ca: DigiCert Global Root CA: the public trust programs removed it on "
        f"2026-04-15, and {system_name} serves every program on this host"
    ) in first.unwrapped
    assert 'include = ["digicert-global-root-ca"]' in first.out and "allow_distrusted" in first.unwrapped
    # the JDK cacerts copy: keytool lists no rotator G1; the distribution's own G1 is reported and kept
    listing = kt.by_alias(cacerts, PW)
    assert "rotator-digicert-global-root-ca" not in listing and listing[DEBIAN_G1][1] == G1.sha256
    assert listing["rotator-microsoft-tls-rsa-root-g2"] == ("trustedCertEntry", MS_TLS.sha256)
    assert (
        f"  left digicert-global-root-ca: DigiCert Global Root CA is here as {DEBIAN_G1}, not added by "
        "rotator, so it is left as it is" in first.unwrapped
    )

    # allowed explicitly: G1 goes in, under rotator's names
    image, cacerts, app, config = scoped_host(tmp_path, monkeypatch, allow=True)
    allowed = run(*sync)
    assert allowed.code == 0, allowed.err
    assert "skipped" not in allowed.out
    assert (anchors / "rotator-digicert-global-root-ca.crt").exists() and G1.sha256 in fps(bundle)
    assert "rotator-digicert-global-root-ca" not in kt.by_alias(cacerts, PW)  # present already as debian:...

    # allowance withdrawn: the next sync removes the G1 rotator added, and says so; the refresh drops it
    scoped_host(tmp_path, monkeypatch, allow=False)
    removed = run(*sync)
    assert removed.code == 0, removed.err
    assert not (anchors / "rotator-digicert-global-root-ca.crt").exists()
    assert G1.sha256 not in fps(bundle)
    assert (
        "  removed digicert-global-root-ca (as rotator-digicert-global-root-ca.crt): DigiCert Global Root CA, "
        "which rotator had added: the public trust programs removed it on 2026-04-15"
    ) in removed.unwrapped
    assert any("--fresh" in c for c in calls(tmp_path / "refresh.log"))
    assert G1.sha256 in fps(app)  # the application bundle keeps it
    assert run(*sync).out.count("up to date") == 3


@pytest.mark.slow
@needs_update_ca
@needs_keytool
def test_g1_rotator_added_earlier_leaves_host_wide_stores_foreign_g1_stays(
    tmp_path: Path, run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A host synced by a rotator whose default profile still held G1: rotator-owned G1 everywhere."""
    image, cacerts, app, config = scoped_host(tmp_path, monkeypatch, allow=True)
    anchors = image / "usr/local/share/ca-certificates"
    bundle = image / "etc/ssl/certs/ca-certificates.crt"
    kt.keytool("-delete", "-alias", DEBIAN_G1, "-keystore", str(cacerts), *kt.storepass(PW), password=PW)
    sync = ["sync", "--offline", "--config", str(config), "--sysroot", str(image)]
    assert run(*sync).code == 0
    assert kt.by_alias(cacerts, PW)["rotator-digicert-global-root-ca"][1] == G1.sha256
    # someone else's G1 beside it: an admin's anchor file
    admin = anchors / "corp-needs-g1.crt"
    admin.write_bytes(G1.embedded_bytes() or b"")

    scoped_host(tmp_path, monkeypatch, allow=False, profile="azure-all")
    status = run("status", "--json", "--config", str(config), "--sysroot", str(image))
    assert status.code == 1
    findings = json.loads(status.out)["findings"]
    assert any(f["severity"] == "error" and "the next sync removes it" in f["message"] for f in findings)
    assert any(
        f["severity"] == "warning" and "as corp-needs-g1.crt, not added by rotator" in f["message"] for f in findings
    )

    result = run(*sync)
    assert result.code == 0, result.err
    assert "removed digicert-global-root-ca (as rotator-digicert-global-root-ca.crt)" in result.unwrapped
    assert "removed digicert-global-root-ca (as rotator-digicert-global-root-ca)" in result.unwrapped  # the keystore
    assert "left digicert-global-root-ca: DigiCert Global Root CA is here as corp-needs-g1.crt" in result.unwrapped
    assert admin.read_bytes() == G1.embedded_bytes()  # never touched
    assert G1.sha256 in fps(bundle)  # still trusted through the admin's file, as the admin wants
    assert "rotator-digicert-global-root-ca" not in kt.by_alias(cacerts, PW)
    # the application bundle, no longer selecting G1 (azure-all), loses rotator's copy with a hint
    assert G1.sha256 not in fps(app)
    assert "is no longer selected for" in result.unwrapped and 'profile = "azure-legacy"' in result.out
    after = run("status", "--json", "--config", str(config), "--sysroot", str(image))
    assert after.code == 0, after.out  # the foreign G1 is a warning, not a failure
    assert [f["severity"] for f in json.loads(after.out)["findings"] if "digicert-global-root-ca" in f["message"]] == [
        "warning"
    ]


def test_status_table_shows_withheld_and_json_lists_it(tmp_path: Path, run) -> None:
    """One concept (Scope.withholds), each command's stable word for it: sync "skipped", status "withheld"."""
    cacerts = tmp_path / "cacerts"
    if not kt.MACHINE_CACERTS.is_file():
        pytest.skip("no JDK cacerts on this machine")
    shutil.copyfile(kt.MACHINE_CACERTS, cacerts)
    metrics = tmp_path / "rotator.prom"
    args = ["--offline", "--profile", "azure-legacy", "--target", f"java-cacerts:{cacerts}"]
    synced = run("sync", "--json", *args)
    assert synced.code == 0, synced.err
    scope = json.loads(synced.out)["targets"][0]["scope"]
    assert [(n["action"], n["root"], n["as"]) for n in scope if n["action"] == "skipped"] == [
        ("skipped", "digicert-global-root-ca", None)
    ]
    text = run("sync", *args).unwrapped
    assert "  skipped digicert-global-root-ca: DigiCert Global Root CA: the public trust programs removed" in text
    result = run("status", "--json", "--metrics-file", str(metrics), *args)
    target = json.loads(result.out)["targets"][0]
    assert target["withheld"] == ["digicert-global-root-ca"]
    assert "digicert-global-root-ca" not in target["roots"]
    # the metric says what the store holds: a withheld root has no series (status --json lists no cell)
    families = {f.name: f for f in text_string_to_metric_families(metrics.read_text())}
    present = {s.labels["root"] for s in families["rotator_root_present"].samples}
    assert "digicert-global-root-ca" not in present and "digicert-global-root-g2" in present
    lines = run("status", *args).out.splitlines()
    facts = lines[lines.index(f"  java-cacerts:{cacerts}") + 1]
    assert "1 withheld: publicly distrusted" in facts
    detail = run("status", "-v", *args).out.splitlines()
    assert f"      {'digicert-global-root-ca':32} withheld" in detail

    # allowed on this target: withheld from neither command
    config = tmp_path / "rotator.toml"
    config.write_text(
        f'profile = "azure-legacy"\n[[targets]]\nkind = "java-cacerts"\npath = "{cacerts}"\n'
        'allow_distrusted = ["digicert-global-root-ca"]\n'
    )
    allowed = run("sync", "--json", "--offline", "--config", str(config))
    assert allowed.code == 0, allowed.err
    assert "skipped" not in [n["action"] for n in json.loads(allowed.out)["targets"][0]["scope"]]
    target = json.loads(run("status", "--json", "--offline", "--config", str(config)).out)["targets"][0]
    assert target["withheld"] == [] and target["roots"]["digicert-global-root-ca"] in ("owned", "present")


def test_the_scope_rule_is_one_predicate() -> None:
    """Scope.withholds decides alone what sync skips and status marks withheld (and what wanted leaves out)."""
    day = dt.date(2027, 1, 1)
    host = Scope(profile="azure-legacy", roots=(G1, G2), host_wide=True)
    assert host.withholds(G1, day) and not host.withholds(G2, day)
    assert host.withheld(day) == [G1] and host.wanted(day) == [G2]
    assert not host.withholds(G1, dt.date(2026, 4, 14))  # before the trust programs removed it
    assert not host.withholds(G1._replace(not_after=dt.date(2026, 12, 31)), day)  # expired: not wanted anyway
    assert host.withholds(MS_TLS._replace(public_trust="removed", public_trust_date=None), day)  # not selected
    allowed = host._replace(allow_distrusted=("digicert-global-root-ca",))
    assert not allowed.withholds(G1, day) and allowed.wanted(day) == [G1, G2]
    app = Scope(profile="azure-legacy", roots=(G1, G2))
    assert not app.withholds(G1, day) and app.withheld(day) == [] and app.wanted(day) == [G1, G2]


def test_cross_signs_are_never_written_as_anchors(tmp_path: Path, run) -> None:
    bundle = tmp_path / "all.pem"
    assert run("sync", "--offline", "--profile", "azure-legacy", "--target", f"pem:{bundle}").code == 0
    held = fps(bundle)
    assert not held & {c.sha256 for c in CATALOG.cross_signs}
    assert all(Cert.from_der(c.der).is_self_issued for c in parse_many(bundle.read_bytes()))


def test_mirror_holds_what_every_target_selects(tmp_path: Path, run) -> None:
    """An air-gapped host syncing from the mirror needs the roots of every target's own profile too."""
    config = tmp_path / "rotator.toml"
    config.write_text(
        f'profile = "azure-minimal"\n[[targets]]\nkind = "pem"\npath = "{tmp_path / "a.pem"}"\n'
        'profile = "azure-legacy"\n'
    )
    mirror = tmp_path / "mirror"
    assert run("mirror", "--offline", "--config", str(config), str(mirror)).code == 0
    assert {p.stem for p in mirror.iterdir()} == set(CATALOG.profiles["azure-legacy"])


@needs_keytool
def test_a_host_wide_store_is_read_once_to_plan_and_to_find_foreign_g1(
    tmp_path: Path, run, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stores.java import JavaKeystore

    if not kt.MACHINE_CACERTS.is_file():
        pytest.skip("no JDK cacerts on this machine")
    cacerts = tmp_path / "cacerts"
    shutil.copyfile(kt.MACHINE_CACERTS, cacerts)
    aliases = kt.by_alias(cacerts, PW)
    theirs = next((alias for alias, (_, fp) in aliases.items() if fp == G1.sha256), None)
    if theirs is None:  # a JDK without it: an admin's copy, as on hosts that still need G1
        g1 = tmp_path / "g1.pem"
        g1.write_bytes(G1.embedded_bytes() or b"")
        kt.keytool(
            "-importcert", "-noprompt", "-alias", "corp-g1", "-file", str(g1), "-keystore", str(cacerts),
            *kt.storepass(PW), password=PW,
        )  # fmt: skip
        theirs = "corp-g1"
    args = ["sync", "--offline", "--profile", "azure-all", "--target", f"java-cacerts:{cacerts}"]
    assert run(*args).code == 0  # adds the roots; the next run reads the store in full
    loads: list[Path] = []
    real_load = JavaKeystore._load

    def counted(self: JavaKeystore) -> object:
        loads.append(self.path)
        return real_load(self)

    monkeypatch.setattr(JavaKeystore, "_load", counted)
    result = run(*args)
    assert result.code == 0, result.err
    assert f"here as {theirs}" in result.unwrapped, result.out  # a long note wraps
    assert loads == [cacerts], "the plan's read also answers which foreign copies are there"
