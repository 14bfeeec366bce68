"""The rotator.fleet scan module and playbook against two managed hosts (Debian 12 root filesystems
reached with Ansible's chroot connection, rotator installed by the role): one host made clean by
applying every fix scan names, the other with an account's root.crt that holds only an old root.
The playbook's table names that host, store and fix, and the play fails; report-only passes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import fleet_hosts
from tests.support.fleet_hosts import Fleet, in_host
from tests.support.hosttree import G1
from tests.support.paths import embedded_pem

pytestmark = [pytest.mark.slow, pytest.mark.fleet]

CLEAN, FAILING = "scan1", "scan2"
ROOT_CRT = "/home/report/.postgresql/root.crt"
FIX = f"rotator sync --target pem:{ROOT_CRT},profile=azure-postgresql"

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
"""

MODULE = """
- name: The scan module on its own
  hosts: "%(host)s"
  gather_facts: false
  tasks:
    - name: scan in check mode
      rotator.fleet.scan:
        service: [postgresql, mysql]
      check_mode: true
      register: checked

    - name: scan with a service rotator does not know
      rotator.fleet.scan:
        service: [oracle]
      ignore_errors: true
"""


def host_scan(fleet: Fleet, host: str) -> tuple[int, dict[str, Any]]:
    """rotator scan run inside the host, as someone logged in there would."""
    done = in_host(fleet, host, "rotator", "scan", "--json")
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def apply_every_fix(fleet: Fleet, host: str) -> None:
    """What an operator does with scan's answer: each failing store's target, synced."""
    _, doc = host_scan(fleet, host)
    for store in doc["stores"]:
        if "fails" in store["verdicts"].values():
            target = store["fix"]["target"]
            synced = in_host(fleet, host, "rotator", "sync", "--offline", "--target", target)
            assert synced.returncode == 0, f"{target}: {synced.stderr}"
    code, doc = host_scan(fleet, host)
    assert code == 0, json.dumps(doc["stores"], indent=1)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    base = tmp_path_factory.mktemp("fleet-scan")
    fleet = fleet_hosts.make_fleet(base, (CLEAN, FAILING))
    try:
        wheels = fleet_hosts.build_wheels(base / "wheels")
        installed = fleet.playbook(fleet.write("role.yml", ROLE % {"wheels": wheels}))
        assert installed.rc == 0, installed.out[-5000:]
        # A stock host fails too (Debian's bundle, certifi in rotator's own venv lack Microsoft TLS
        # RSA Root G2): both hosts start from what the fixes leave, so the planted store stands alone.
        for host in fleet.hosts:
            apply_every_fix(fleet, host)
        # On one host, an account whose libpq root.crt holds only DigiCert Global Root CA (G1).
        with fleet.path(FAILING, "/etc/passwd").open("a") as passwd:
            passwd.write("report:x:1002:1002:Reports:/home/report:/bin/sh\n")
        planted = fleet.path(FAILING, ROOT_CRT)
        planted.parent.mkdir(parents=True)
        planted.write_bytes(embedded_pem(G1))
        yield fleet
    finally:
        fleet_hosts.remove_fleet(fleet)


def scan_playbook(fleet: Fleet, *args: str, inventory: Path | None = None) -> tuple[fleet_hosts.Play, dict[str, Any]]:
    table = fleet.base / "scan.json"
    table.unlink(missing_ok=True)
    play = fleet.playbook(
        "rotator.fleet.scan", "-e", f"rotator_scan_file={table}", *args, inventory=inventory, callback="default"
    )
    return play, json.loads(table.read_text())


def test_scan_playbook_names_the_failing_host_store_and_fix_and_fails(fleet: Fleet) -> None:
    play, table = scan_playbook(fleet)
    assert play.rc != 0, play.out[-5000:]
    assert "1 failing store on scan2 (see the table above" in play.out, play.out[-3000:]
    assert table["ok"] is False and table["failing_hosts"] == [FAILING] and table["not_scanned"] == []
    rows = {row["host"]: row for row in table["hosts"]}
    assert rows[CLEAN]["state"] == "survives" and rows[CLEAN]["failing"] == [] and rows[CLEAN]["stores"] > 0
    assert rows[FAILING]["state"] == "fails" and rows[FAILING]["unreadable"] == 0
    [store] = rows[FAILING]["failing"]
    assert store == {
        "path": ROOT_CRT,
        "kind": "pem",
        "read_by": "account report",
        "fails": "mysql, postgresql, postgresql-no-xsign",
        "fix": FIX,
    }
    # The printed table: the failing host's line names its store and fix; the clean host has one line.
    [line] = [line for line in play.out.splitlines() if ROOT_CRT in line]
    assert line.strip().strip('",').startswith(FAILING) and FIX in line, line
    assert [line for line in play.out.splitlines() if line.strip().strip('"').startswith(f"{CLEAN} ")]


def test_report_only_prints_the_table_and_passes(fleet: Fleet) -> None:
    # A third host that cannot be reached: in the table, not scanned, and still only reported.
    inventory = fleet.inventory(unreachable="scan3")
    play, table = scan_playbook(fleet, "-e", "rotator_scan_report_only=true", inventory=inventory)
    assert play.rc == 0, play.out[-5000:]
    assert "report only: 1 failing store on scan2; not scanned: scan3" in play.out, play.out[-3000:]
    assert table["failing_hosts"] == [FAILING] and table["not_scanned"] == ["scan3"]
    assert ROOT_CRT in play.out and FIX in play.out and "UNREACHABLE" in play.out


def test_the_module_reads_in_check_mode_never_changes_and_fails_on_a_usage_error(fleet: Fleet) -> None:
    play = fleet.playbook(fleet.write("module.yml", MODULE % {"host": FAILING}))
    checked = play.results("scan in check mode")[FAILING]
    assert checked["changed"] is False and "failed" not in checked and "rc" not in checked
    assert checked["breaks"] is True and [s["path"] for s in checked["failing"]] == [ROOT_CRT]
    assert checked["failing"][0]["failing_chains"] == ["mysql", "postgresql", "postgresql-no-xsign"]
    assert checked["summary"]["failing"] == 1 and checked["summary"]["stores"] == len(checked["stores"])
    assert set(checked["chains"]) == {"postgresql", "postgresql-no-xsign", "mysql"}
    refused = play.results("scan with a service rotator does not know")[FAILING]
    assert refused["failed"] is True and refused["rc"] == 2
    assert "argument --service: invalid choice: 'oracle'" in refused["msg"] and "\n" not in refused["msg"]


def test_a_host_without_rotator_fails_the_module_with_one_line(fleet: Fleet) -> None:
    # Take rotator away from the clean host (both places the module looks), then put it back.
    links = [fleet.path(CLEAN, "/usr/local/bin/rotator"), fleet.path(CLEAN, "/opt/rotator/bin/rotator")]
    moved = [link.with_name("rotator.away") for link in links]
    for link, away in zip(links, moved, strict=True):
        link.rename(away)
    try:
        play, table = scan_playbook(fleet, "-e", f"rotator_scan_hosts={CLEAN}")
    finally:
        for link, away in zip(links, moved, strict=True):
            away.rename(link)
    assert play.rc != 0
    [row] = table["hosts"]
    assert row["state"] == "scan failed" and table["not_scanned"] == [CLEAN]
    assert row["reasons"][0].startswith("rotator is not installed on this host"), row
