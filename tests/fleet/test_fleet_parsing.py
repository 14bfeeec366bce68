"""The collection's Python parts without Ansible: reading rotator's JSON into changed, diff and the
readiness table. Fed with what rotator really prints today, and with shapes it may print tomorrow
(fields missing or added, cells as a list), which must still parse."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from rotator.roots.catalog import Catalog
from tests.support.paths import REPO

PLUGINS = REPO / "ansible" / "rotator" / "fleet" / "plugins"
ALL = Catalog.builtin().profiles["azure-all"]
POSTGRES = Catalog.builtin().profiles["azure-postgresql"]


def load(relative: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(relative.replace("/", "_"), PLUGINS / relative)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


util = load("module_utils/rotator.py")
readiness = load("filter/readiness.py").readiness


def test_sync_json_gives_changed_and_a_diff_of_the_roots_removed(run: Any, tmp_path: Path) -> None:
    bundle = tmp_path / "roots.pem"
    first = run("sync", "--offline", "--json", "--target", f"pem:{bundle}")
    assert first.code == 0, first.err
    doc = util.parse_json(first.out)
    target = doc["targets"][0]
    assert util.roots_before_after(target) == ([], sorted(ALL))
    assert util.target_changed(target, check_mode=False) is True
    before = bundle.read_bytes()
    plan = util.parse_json(
        run(
            "sync", "--offline", "--json", "--dry-run", "--profile", "azure-postgresql", "--target", f"pem:{bundle}"
        ).out
    )
    assert bundle.read_bytes() == before
    target = plan["targets"][0]
    assert util.target_changed(target, check_mode=True) is True
    assert util.target_changed(target, check_mode=False) is False  # a dry run changed nothing
    [diff] = util.sync_diff(plan)
    assert diff["before"].splitlines() == sorted(ALL)
    assert diff["after"].splitlines() == sorted(POSTGRES)
    assert diff["before_header"] == f"pem:{bundle} (roots before)"
    summary = util.summary(plan, check_mode=True)
    assert sorted(summary[f"pem:{bundle}"]["removed"]) == sorted(set(ALL) - set(POSTGRES))
    # An up-to-date target shows no diff at all.
    again = util.parse_json(run("sync", "--offline", "--json", "--target", f"pem:{bundle}").out)
    assert util.sync_diff(again) == []
    assert not any(t["changed"] for t in util.summary(again, check_mode=False).values())


def test_a_report_without_before_and_after_is_read_from_added_removed_kept() -> None:
    older = {"target": "pem:/x", "added": ["b"], "removed": ["c"], "kept": [{"id": "a", "as": "rotator-a"}]}
    assert util.roots_before_after(older) == (["a", "c"], ["a", "b"])
    assert util.target_changed(older, check_mode=True) is True
    assert util.target_changed({"target": "pem:/x"}, check_mode=True) is False
    assert util.sync_diff({"targets": [older, "junk", {"target": "pem:/y", "error": "boom"}]})[0]["after"] == "a\nb\n"
    assert util.sync_diff({}) == [] and util.summary({"targets": None}, check_mode=False) == {}


def test_error_message_prefers_rotators_own_lines() -> None:
    stderr = "rotator: WARNING: a note\nrotator: error: jks:/t.jks: keystore password was incorrect\n"
    assert util.error_message(stderr, 1) == "rotator: error: jks:/t.jks: keystore password was incorrect"
    doc = {"targets": [{"target": "pem:/a", "error": "disk full"}, {"target": "pem:/b", "error": None}]}
    assert util.error_message("", 1, doc) == "pem:/a: disk full"
    assert util.error_message("Traceback...\nKeyError: 'x'\n", 1) == "KeyError: 'x'"
    assert util.error_message("", 3) == "rotator exited with status 3 and no message"
    assert util.parse_json("usage: rotator ...") is None and util.parse_json('["a"]') is None


def test_targets_config_keeps_passwords_out_of_the_file() -> None:
    text, environ = util.targets_config(
        [
            {"kind": "pem", "path": '/etc/azure/roots "q".pem', "password": None},
            {"kind": "jks", "path": "/opt/app/tr\u00fcst.jks", "password": 's3cret"\\'},
        ]
    )
    parsed = tomllib.loads(text)
    assert parsed["targets"][0] == {"kind": "pem", "path": '/etc/azure/roots "q".pem'}
    assert parsed["targets"][1] == {
        "kind": "jks",
        "path": "/opt/app/tr\u00fcst.jks",
        "storepass_env": "ROTATOR_FLEET_STOREPASS_1",
    }
    assert "s3cret" not in text
    assert environ == {"ROTATOR_FLEET_STOREPASS_1": 's3cret"\\'}


@pytest.mark.parametrize(
    "path",
    [
        "/srv/del\x7fhere.pem",
        "/srv/" + "".join(chr(c) for c in range(1, 32)) + ".pem",
        '/srv/quote"back\\slash.pem',
        "/srv/\u2028line\u2029para\u0085nel.pem",
        "/srv/\u00fc\u6839\U0001f512.pem",
    ],
)
def test_toml_string_reads_back_exactly_through_rotators_own_reader(path: str, tmp_path: Path) -> None:
    text, _ = util.targets_config([{"kind": "pem", "path": path, "password": None}])
    assert tomllib.loads(text)["targets"][0]["path"] == path
    # And rotator's config loader, not only tomllib, takes it (a path is just a value to it).
    config = tmp_path / "fleet.toml"
    config.write_text(text, encoding="utf-8")
    from rotator.config.file import load

    assert load(config).targets[0].path == path


def status_doc(run: Any, bundle: Path) -> dict[str, Any]:
    result = run("status", "--json", "--target", f"pem:{bundle}")
    assert result.code in (0, 1), result.err
    return json.loads(result.out)


def test_readiness_table_from_real_status(run: Any, tmp_path: Path) -> None:
    good, bad = tmp_path / "good.pem", tmp_path / "bad.pem"
    assert run("sync", "--offline", "--target", f"pem:{good}").code == 0
    assert run("sync", "--offline", "--profile", "azure-minimal", "--target", f"pem:{bad}").code == 0
    results = {
        "a": {"changed": False, "compliant": True, "report": status_doc(run, good)},
        "b": {"changed": False, "compliant": False, "report": status_doc(run, bad)},
        "c": {"unreachable": True, "msg": "chroot /nowhere is not a directory"},
        "d": {"failed": True, "msg": "rotator: error: config file /etc/rotator/rotator.toml: bad key"},
    }
    table = readiness(results, ["a", "b", "c", "d", "e"])
    assert table["ready"] is False
    assert table["not_ready"] == ["b", "c", "d", "e"]
    rows = {row["host"]: row for row in table["hosts"]}
    assert set(rows["a"]["cells"].values()) == {"ready"} and set(table["columns"]) == set(ALL)
    missing = set(ALL) - set(Catalog.builtin().profiles["azure-minimal"])
    assert {k for k, v in rows["b"]["cells"].items() if v == "not ready"} == missing
    assert rows["c"]["state"] == "unreachable" and set(rows["c"]["cells"].values()) == {"unreachable"}
    assert rows["d"]["state"] == "not ready" and "bad key" in rows["d"]["reasons"][0]
    assert rows["e"]["state"] == "unreachable"  # never ran there
    deadline = rows["a"]["next_deadline"]
    report = results["a"]["report"]
    today = dt.date.fromisoformat(report["at"][:10])
    soonest = min((e for e in report["events"] if e["date"] >= today.isoformat()), key=lambda e: e["date"])
    assert deadline["date"] == soonest["date"] and deadline["root"] == soonest["root"]
    assert deadline["days"] == (dt.date.fromisoformat(soonest["date"]) - today).days > 0
    assert table["lines"][0].split()[0] == "host" and table["lines"][1].startswith("a ")
    assert any(line.startswith("b: ") and "missing" in line for line in table["lines"])
    assert readiness({"a": results["a"]})["ready"] is True


def test_readiness_tolerates_other_shapes() -> None:
    report = {
        "at": "2030-01-01T00:00:00+00:00",
        "roots": [{"id": "r1", "not_after": "2031-01-01"}, {"id": "r2"}, "junk"],
        "targets": [{"target": "pem:/a", "roots": [{"id": "r1", "state": "OWNED"}, {"id": "r2", "state": "missing"}]}],
        "future_field": {"anything": 1},
    }
    table = readiness({"h": {"report": report}})
    row = table["hosts"][0]
    assert row["cells"] == {"r1": "ready", "r2": "not ready"} and row["state"] == "not ready"
    assert row["next_deadline"] == {"root": "r1", "what": "expires", "date": "2031-01-01", "days": 365}
    # No compliant flag, no events, no findings: judged from the cells alone.
    report["targets"] = [{"target": "pem:/a", "roots": {"r1": "present", "r2": "owned"}}]
    assert readiness({"h": {"report": report}})["ready"] is True
    # Events ahead win over expiry; past events are ignored.
    report["events"] = [
        {"date": "2029-06-01", "root": "r2", "what": "expires"},
        {"date": "2030-03-02", "root": "r2", "what": "retires after this day"},
    ]
    assert readiness({"h": {"report": report}})["hosts"][0]["next_deadline"]["days"] == 60
    assert readiness({"h": {"report": {"compliant": False}}})["ready"] is False
    # Targets with scopes of their own: a root that no target should hold is "-", not "not ready".
    report["targets"] = [
        {"target": "system", "roots": {"r1": "owned"}, "withheld": ["r2"]},
        {"target": "pem:/b", "roots": {"r1": "present"}},
    ]
    row = readiness({"h": {"report": report}})["hosts"][0]
    assert row["cells"] == {"r1": "ready", "r2": "-"} and row["state"] == "ready"
    report["targets"].append({"target": "jks:/c", "roots": {}, "error": "keystore password was incorrect"})
    row = readiness({"h": {"report": report}})["hosts"][0]
    assert row["cells"] == {"r1": "not ready", "r2": "not ready"} and "jks:/c: keystore password" in row["reasons"][0]


def test_the_roles_units_are_the_repositorys() -> None:
    """The role ships copies of systemd/ (a collection is installed on its own): they must not drift."""
    files = PLUGINS.parent / "roles" / "service" / "files"
    units = REPO / "systemd"
    names = sorted(p.name for p in units.iterdir() if p.suffix in (".service", ".timer"))
    assert names == sorted(p.name for p in files.iterdir())
    for name in names:
        assert (files / name).read_bytes() == (units / name).read_bytes(), f"copy {units / name} to {files}"


@pytest.mark.fleet
@pytest.mark.parametrize("module", ["rotator.fleet.sync", "rotator.fleet.status"])
def test_ansible_doc_reads_the_modules_documentation(module: str, tmp_path: Path) -> None:
    ansible_doc = Path(sys.executable).parent / "ansible-doc"
    if not ansible_doc.exists():
        pytest.skip(f"no ansible-doc in {ansible_doc.parent} (pip install -e '.[fleet]')")
    link = tmp_path / "ansible_collections" / "rotator" / "fleet"
    link.parent.mkdir(parents=True)
    link.symlink_to(PLUGINS.parent)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "ANSIBLE_COLLECTIONS_PATH": str(tmp_path),
        "ANSIBLE_HOME": str(tmp_path / "ansible"),
        "ANSIBLE_NOCOLOR": "1",
    }
    doc = subprocess.run([str(ansible_doc), "--json", module], capture_output=True, text=True, env=env, timeout=120)
    assert doc.returncode == 0, doc.stderr
    parsed = json.loads(doc.stdout)[module]["doc"]
    assert parsed["attributes"]["check_mode"]["support"] == "full"
    assert all(isinstance(line, str) for line in parsed["description"])
    assert parsed["options"]["targets"]["suboptions"]["password"]["type"] == "str"
