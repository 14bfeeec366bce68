"""The rotator.fleet collection against three managed hosts (separate Debian 12 root filesystems,
reached with Ansible's chroot connection): the role installs the service layout, the sync module
changes each host once, shows a narrowed profile's removal in --check --diff without doing it,
fails a host with a wrong keystore password alone, the readiness playbook finds a host made
non-compliant by hand, and a fleet syncs from one host's mirror over HTTPS with pins enforced.

No systemd runs in a chroot: the role's unit files, config and drop-in are checked, and enabling
the units is turned off with rotator_enable_units (the role then says which unit it would enable).
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from rotator.roots.catalog import Catalog
from tests.support import fleet_hosts
from tests.support.fleet_hosts import COLLECTION, Fleet, in_host
from tests.support.https_server import https_server
from tests.support.keytool import keytool
from tests.support.pki import make_root

pytestmark = [pytest.mark.slow, pytest.mark.fleet]

HOSTS = ("host1", "host2", "host3")
APP_PASSWORD = "app-truststore-pass"
TRUSTSTORE = "/opt/app/truststore.jks"
BUNDLE = "/etc/azure/roots.pem"
ALL = Catalog.builtin().profiles["azure-all"]
POSTGRES = Catalog.builtin().profiles["azure-postgresql"]
PINS = {root.id: root.sha256 for root in Catalog.builtin().roots.values()}

SYNC = """
- name: Sync the fleet
  hosts: "{{ sync_hosts | default('fleet') }}"
  gather_facts: false
  tasks:
    - name: rotator sync
      rotator.fleet.sync:
        profile: "{{ profile | default('azure-all') }}"
        offline: true
        targets:
          - kind: pem
            path: BUNDLE
          - kind: jks
            path: TRUSTSTORE
            password: "{{ app_storepass }}"
""".replace("BUNDLE", BUNDLE).replace("TRUSTSTORE", TRUSTSTORE)

ROLE = """
- name: Install rotator
  hosts: fleet
  gather_facts: false
  roles:
    - role: rotator.fleet.service
      vars:
        rotator_wheels_dir: %(wheels)s
        rotator_enable_units: false
        rotator_mode: timer
        rotator_profile: azure-postgresql
        rotator_targets:
          - {kind: pem, path: /etc/azure/service-roots.pem}
          - {kind: jks, path: /opt/service/truststore.jks, storepass_credential: service-storepass}
        rotator_credentials: {service-storepass: "{{ app_storepass }}"}
"""


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    base = tmp_path_factory.mktemp("fleet")
    fleet = fleet_hosts.make_fleet(base, HOSTS)
    try:
        fleet.hostvars = {host: {"app_storepass": APP_PASSWORD} for host in (*HOSTS, "host4")}
        # Each host's application truststore holds a root of its own, which must survive every run.
        corp = make_root("Corp Root")
        corp_file = base / "corp-root.pem"
        corp_file.write_bytes(corp.pem)
        store = base / "truststore.jks"
        keytool(
            "-importcert",
            "-noprompt",
            "-alias",
            "corp-root",
            "-file",
            str(corp_file),
            "-keystore",
            str(store),
            "-storetype",
            "JKS",
            "-storepass:env",
            "ROTATOR_TEST_KT_PW",
            password=APP_PASSWORD,
        )
        for host in HOSTS:
            dest = fleet.path(host, TRUSTSTORE)
            dest.parent.mkdir(parents=True)
            dest.write_bytes(store.read_bytes())
        wheels = fleet_hosts.build_wheels(base / "wheels")
        role = fleet.write("role.yml", ROLE % {"wheels": wheels})
        first = fleet.playbook(role)
        assert first.rc == 0, first.out[-5000:]
        fleet.first_role_run = first  # type: ignore[attr-defined]
        yield fleet
    finally:
        fleet_hosts.remove_fleet(fleet)


def store_sha256s(path: Path, password: str | None = None) -> set[str]:
    """SHA-256 of every certificate keytool finds in a PEM bundle or a keystore."""
    if password is None:
        out = keytool("-printcert", "-file", str(path)).stdout
    else:
        out = keytool(
            "-list", "-v", "-keystore", str(path), "-storepass:env", "ROTATOR_TEST_KT_PW", password=password
        ).stdout
    return {m.replace(":", "").lower() for m in re.findall(r"SHA256:\s*([0-9A-F:]{95})", out)}


def sync(fleet: Fleet, *args: str, **kwargs: object) -> fleet_hosts.Play:
    return fleet.playbook(fleet.write("sync.yml", SYNC), *args, **kwargs)  # type: ignore[arg-type]


def test_role_installs_the_service_layout_and_is_idempotent(fleet: Fleet) -> None:
    first = fleet.first_role_run  # type: ignore[attr-defined]
    dropin_help = in_host(fleet, "host1", "/opt/rotator/bin/rotator", "service", "dropin", "--help")
    dropin_supported = dropin_help.returncode == 0
    for host in HOSTS:
        assert first.stats(host)["changed"] > 0
        link = fleet.path(host, "/usr/local/bin/rotator")
        assert link.is_symlink() and str(link.readlink()) == "/opt/rotator/bin/rotator"
        version = in_host(fleet, host, "rotator", "--version")
        assert version.returncode == 0 and version.stdout.startswith("rotator "), version.stderr
        for unit in ("rotator.service", "rotator-sync.service", "rotator-sync.timer"):
            installed = fleet.path(host, f"/etc/systemd/system/{unit}")
            assert installed.read_bytes() == (COLLECTION / "roles/service/files" / unit).read_bytes()
            assert installed.stat().st_mode & 0o777 == 0o644
        config = fleet.path(host, "/etc/rotator/rotator.toml")
        assert config.stat().st_mode & 0o777 == 0o644
        parsed = tomllib.loads(config.read_text())
        assert parsed["profile"] == "azure-postgresql"
        assert parsed["targets"][1] == {
            "kind": "jks",
            "path": "/opt/service/truststore.jks",
            "storepass_credential": "service-storepass",
        }
        credential = fleet.path(host, "/etc/credstore/service-storepass")
        assert credential.read_text() == APP_PASSWORD and credential.stat().st_mode & 0o777 == 0o600
        # The config the role wrote is one rotator accepts, with the credential where systemd's
        # LoadCredential= would put it.
        check = in_host(
            fleet,
            host,
            "rotator",
            "sync",
            "--dry-run",
            "--offline",
            "--config",
            "/etc/rotator/rotator.toml",
            env={"CREDENTIALS_DIRECTORY": "/etc/credstore"},
        )
        assert check.returncode == 0, check.stderr
        assert "would add" in check.stdout and "jks:/opt/service/truststore.jks" in check.stdout
        dropin = fleet.path(host, "/etc/systemd/system/rotator.service.d/rotator-sandbox.conf")
        if dropin_supported:
            assert "ReadWritePaths=-/etc/azure" in dropin.read_text()
            assert "LoadCredential=service-storepass:/etc/credstore/service-storepass" in dropin.read_text()
            assert fleet.path(host, "/etc/systemd/system/rotator-sync.service.d/rotator-sandbox.conf").is_symlink()
        else:
            assert not dropin.exists()
    said = first.results("Say which unit would be enabled")
    assert all("rotator-sync.timer is installed but not enabled" in r["msg"] for r in said.values())
    if not dropin_supported:
        said = first.results("Say that no drop-in is generated")
        assert all("no sandbox drop-in generated" in r["msg"] for r in said.values())
    again = fleet.playbook(fleet.base / "role.yml")
    assert again.rc == 0, again.out[-5000:]
    for host in HOSTS:
        assert again.stats(host)["changed"] == 0, again.out[-5000:]


def test_first_sync_changes_each_host_the_second_nothing(fleet: Fleet) -> None:
    first = sync(fleet)
    assert first.rc == 0, first.out[-5000:]
    for host, result in first.results("rotator sync").items():
        assert result["changed"] is True
        assert set(result["targets"]) == {f"pem:{BUNDLE}", f"jks:{TRUSTSTORE}"}
        assert sorted(result["targets"][f"pem:{BUNDLE}"]["added"]) == sorted(ALL)
        assert result["report"]["ok"] is True
        # What keytool reads back: every Azure root, and the host's own root kept in the truststore.
        pins = {PINS[i] for i in ALL}
        assert store_sha256s(fleet.path(host, BUNDLE)) == pins
        truststore = store_sha256s(fleet.path(host, TRUSTSTORE), APP_PASSWORD)
        assert pins < truststore and len(truststore) == len(pins) + 1
    second = sync(fleet)
    assert second.rc == 0, second.out[-5000:]
    for result in second.results("rotator sync").values():
        assert result["changed"] is False
        assert not any(t["changed"] for t in result["targets"].values())


def test_check_diff_on_a_narrowed_profile_shows_the_removal_without_doing_it(fleet: Fleet) -> None:
    assert sync(fleet).rc == 0  # the whole azure-all set in place
    before = {host: fleet.path(host, BUNDLE).read_bytes() for host in HOSTS}
    removed = sorted(set(ALL) - set(POSTGRES))
    play = sync(fleet, "--check", "--diff", "-e", "profile=azure-postgresql", callback="default")
    assert play.rc == 0, play.out[-5000:]
    assert play.out.count("changed: [") == len(HOSTS)
    # --diff shows, per target, the roots before and after: the removed ones as '-' lines.
    for root_id in removed:
        assert play.out.count(f"\n-{root_id}\n") == 2 * len(HOSTS), play.out[-5000:]
    assert "+++ after: pem:/etc/azure/roots.pem (roots after)" in play.out
    for root_id in POSTGRES:
        assert f"\n-{root_id}\n" not in play.out
    for host in HOSTS:
        assert fleet.path(host, BUNDLE).read_bytes() == before[host]
        assert store_sha256s(fleet.path(host, BUNDLE)) == {PINS[i] for i in ALL}


def test_a_wrong_keystore_password_fails_that_host_alone(fleet: Fleet) -> None:
    assert sync(fleet).rc == 0
    untouched = {
        host: (fleet.path(host, BUNDLE).read_bytes(), fleet.path(host, TRUSTSTORE).read_bytes()) for host in HOSTS
    }
    inventory = fleet.inventory(overrides={"host3": {"app_storepass": "not-the-password"}})
    play = sync(fleet, "-e", "profile=azure-minimal", inventory=inventory)
    assert play.rc != 0
    results = play.results("rotator sync")
    assert results["host3"].get("failed") is True
    message = results["host3"]["msg"]
    assert message.startswith("rotator: error:") and TRUSTSTORE in message and "password" in message, message
    assert "not-the-password" not in play.out + json.dumps(play.doc)
    for host in ("host1", "host2"):
        assert not results[host].get("failed"), results[host]
        assert results[host]["changed"] is True
        assert play.stats(host)["failures"] == 0
        assert store_sha256s(fleet.path(host, BUNDLE)) == {PINS[i] for i in Catalog.builtin().profiles["azure-minimal"]}
    # On the failing host the keystore is exactly as it was; its bundle, a separate store, was synced.
    assert fleet.path("host3", TRUSTSTORE).read_bytes() == untouched["host3"][1]
    assert store_sha256s(fleet.path("host3", BUNDLE)) == {PINS[i] for i in Catalog.builtin().profiles["azure-minimal"]}
    assert sync(fleet).rc == 0  # back to azure-all everywhere


READINESS_VARS = {
    "rotator_status_profile": "azure-all",
    "rotator_status_targets": [
        {"kind": "pem", "path": BUNDLE},
        {"kind": "jks", "path": TRUSTSTORE, "password": "{{ app_storepass }}"},
    ],
}


def readiness(fleet: Fleet, inventory: Path | None = None) -> tuple[fleet_hosts.Play, dict[str, object]]:
    table = fleet.base / "readiness.json"
    table.unlink(missing_ok=True)
    extra = fleet.write("readiness-vars.json", json.dumps({**READINESS_VARS, "rotator_readiness_file": str(table)}))
    play = fleet.playbook("rotator.fleet.readiness", "-e", f"@{extra}", inventory=inventory, callback="default")
    return play, json.loads(table.read_text())


def test_readiness_reports_a_host_made_non_compliant_by_hand(fleet: Fleet) -> None:
    assert sync(fleet).rc == 0
    play, table = readiness(fleet)
    assert play.rc == 0, play.out[-5000:]
    assert table["ready"] is True and set(table["columns"]) == set(ALL)
    assert "all 3 hosts ready" in play.out
    # By hand on host2: one root taken out of the bundle; a fourth host that cannot be reached.
    bundle = fleet.path("host2", BUNDLE)
    blocks = re.findall(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\n", bundle.read_bytes(), re.S)
    gone = "digicert-global-root-g2"
    kept = [b for b in blocks if PINS[gone] not in store_sha256s_of_block(fleet, b)]
    assert len(kept) == len(blocks) - 1
    bundle.write_bytes(b"".join(kept))
    inventory = fleet.inventory(unreachable="host4")
    play, table = readiness(fleet, inventory)
    assert play.rc != 0
    assert "not ready: host2, host4" in play.out, play.out[-3000:]
    rows = {row["host"]: row for row in table["hosts"]}  # type: ignore[attr-defined]
    assert rows["host2"]["state"] == "not ready"
    assert rows["host2"]["cells"][gone] == "not ready"
    assert all(cell == "ready" for root_id, cell in rows["host2"]["cells"].items() if root_id != gone)
    assert any(gone in reason and "missing" in reason for reason in rows["host2"]["reasons"])
    assert rows["host4"]["state"] == "unreachable"
    assert set(rows["host4"]["cells"].values()) == {"unreachable"}
    for host in ("host1", "host3"):
        assert rows[host]["state"] == "ready"
        deadline = rows[host]["next_deadline"]
        # The soonest dated event ahead (its arithmetic is checked in test_fleet_parsing.py).
        assert deadline["days"] >= 0 and deadline["root"] and deadline["what"]
    # The printed table: one line per host.
    assert re.search(r"host2\s+.*not ready.*NOT READY", play.out), play.out[-3000:]
    assert sync(fleet).rc == 0


def store_sha256s_of_block(fleet: Fleet, block: bytes) -> set[str]:
    path = fleet.base / "one-cert.pem"
    path.write_bytes(block)
    return store_sha256s(path)


MIRROR = """
- name: One host writes the mirror
  hosts: host1
  gather_facts: false
  tasks:
    - name: rotator mirror
      ansible.builtin.command: rotator mirror --offline --profile azure-all /srv/rotator-mirror
"""

FROM_MIRROR = """
- name: Sync from the fleet's mirror
  hosts: fleet
  gather_facts: false
  tasks:
    - name: rotator sync from the mirror
      rotator.fleet.sync:
        profile: azure-all
        mirror: "{{ mirror_url }}"
        download_ca_bundle: /etc/rotator/mirror-ca.pem
        no_cache: true
        targets:
          - kind: pem
            path: "{{ bundle }}"
"""


def test_air_gapped_fleet_syncs_from_one_hosts_mirror_with_pins_enforced(fleet: Fleet, tmp_path: Path) -> None:
    wrote = fleet.playbook(fleet.write("mirror.yml", MIRROR))
    assert wrote.rc == 0, wrote.out[-5000:]
    mirror_dir = fleet.path("host1", "/srv/rotator-mirror")
    assert sorted(p.name for p in mirror_dir.iterdir()) == sorted(f"{i}.pem" for i in ALL)
    with https_server(tmp_path / "server") as server:
        server.static_dir = mirror_dir
        url = f"https://127.0.0.1:{server.port}/"
        for host in HOSTS:
            fleet.path(host, "/etc/rotator").mkdir(exist_ok=True)
            fleet.path(host, "/etc/rotator/mirror-ca.pem").write_bytes(server.ca_file.read_bytes())
        playbook = fleet.write("from-mirror.yml", FROM_MIRROR)
        ok = fleet.playbook(playbook, "-e", f"mirror_url={url}", "-e", "bundle=/etc/azure/from-mirror.pem")
        assert ok.rc == 0, ok.out[-5000:]
        for host, result in ok.results("rotator sync from the mirror").items():
            assert result["changed"] is True
            sources = {r["id"]: (r["source"], r["location"]) for r in result["report"]["roots"]}
            assert set(sources) == set(ALL)
            assert all(src == "mirror" and loc.startswith(url) for src, loc in sources.values()), sources
            assert store_sha256s(fleet.path(host, "/etc/azure/from-mirror.pem")) == {PINS[i] for i in ALL}
        # Someone swaps one file of the mirror for another (valid) root: every host refuses it.
        tampered = mirror_dir / "digicert-global-root-g2.pem"
        tampered.write_bytes((mirror_dir / "digicert-global-root-g3.pem").read_bytes())
        bad = fleet.playbook(playbook, "-e", f"mirror_url={url}", "-e", "bundle=/etc/azure/after-tamper.pem")
        assert bad.rc != 0
        for host, result in bad.results("rotator sync from the mirror").items():
            assert result.get("failed") is True
            assert "does not match its pin" in result["msg"] and "digicert-global-root-g2" in result["msg"], result
            assert not fleet.path(host, "/etc/azure/after-tamper.pem").exists()
            assert bad.stats(host)["failures"] == 1
