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

import certifi
import pytest

from rotator.roots.catalog import Catalog
from tests.support.hosttree import EXPECTED, G2, RSA_2017, TLS_G2, plant, write
from tests.support.paths import REPO, embedded_pem

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
scan_report = load("filter/scan_report.py").scan_report


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


def scanned(run: Any, tree: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    """What the scan module returns for a tree: rotator's real JSON through the module's own reading."""
    result = run("scan", "--json", "--sysroot", str(tree), *extra)
    assert result.code in (0, 1), result.err
    return result.code, util.scan_result(util.parse_json(result.out), result.code)


def clean_tree(root: Path) -> Path:
    """A host where every store holds the anchors Azure's chains need (what rotator sync leaves)."""
    write(root / "etc/os-release", "ID=debian\n")
    write(root / "etc/passwd", "root:x:0:0:root:/root:/bin/bash\nreport:x:1002:1002::/home/report:/bin/sh\n")
    write(root / "etc/ssl/certs/ca-certificates.crt", Path(certifi.where()).read_bytes() + embedded_pem(TLS_G2))
    write(root / "home/report/.postgresql/root.crt", b"".join(embedded_pem(r) for r in (G2, TLS_G2, RSA_2017)))
    return root


def test_scan_table_from_real_scan(run: Any, tmp_path: Path) -> None:
    code, dirty = scanned(run, plant(tmp_path / "dirty", node=False).root)
    assert code == 1 and dirty["breaks"] is True
    # Failing: every planted store with a chain that fails (the stock bundles fail the one without
    # the cross-sign), as many as rotator's own summary counts.
    failing = {f["path"]: f for f in dirty["failing"]}
    assert set(failing) == {path for path, (_, *verdicts) in EXPECTED.items() if "fails" in verdicts}
    assert dirty["summary"]["failing"] == len(failing) and dirty["summary"]["stores"] == len(dirty["stores"])
    billing = failing["/etc/billing/root.crt"]
    assert billing["kind"] == "pem" and billing["readers"][0]["who"] == "unit billing.service"
    assert billing["failing_chains"] == ["mysql", "postgresql", "postgresql-no-xsign"]
    assert billing["fix"] == {"target": "pem:/etc/billing/root.crt,profile=azure-postgresql"}
    assert failing["/home/app/.postgresql/root.crt"]["azure_intermediates"] == ["Microsoft TLS G2 RSA CA OCSP 02"]
    assert failing["/etc/ssl/certs/ca-certificates.crt"]["failing_chains"] == ["postgresql-no-xsign"]
    assert len(dirty["unreadable"]) == 2 and all(u["reason"] for u in dirty["unreadable"])
    # MySQL's chains alone: the stock bundles survive them (until the cross-sign expires).
    _, mysql = scanned(run, tmp_path / "dirty", "--service", "mysql")
    fails_mysql = {path for path, (_, _, _, verdict) in EXPECTED.items() if verdict == "fails"}
    assert {f["path"] for f in mysql["failing"]} == fails_mysql
    assert list(mysql["chains"]) == ["mysql"]
    code, clean = scanned(run, clean_tree(tmp_path / "clean"))
    assert code == 0 and clean["breaks"] is False and clean["failing"] == [] and len(clean["stores"]) == 2
    # What the module fails with when rotator refuses its arguments (exit 2, nothing on stdout).
    refused = run("scan", "--json", "--sysroot", str(tmp_path / "nowhere"))
    assert refused.code == 2 and util.parse_json(refused.out) is None
    message = util.error_message(refused.err, refused.code)
    assert message.startswith("rotator: error: --sysroot") and "\n" not in message

    results = {
        "dirty": dirty,
        "clean": clean,
        "gone": {"unreachable": True, "msg": "chroot /nowhere is not a directory"},
        "broken": {"failed": True, "msg": message},
    }
    table = scan_report(results, ["dirty", "clean", "gone", "broken", "never"])
    assert table["ok"] is False and table["failing_hosts"] == ["dirty"]
    assert table["not_scanned"] == ["gone", "broken", "never"] and table["failing_stores"] == len(failing)
    assert table["verdict"] == f"{len(failing)} failing stores on dirty; not scanned: gone, broken, never"
    rows = {row["host"]: row for row in table["hosts"]}
    assert rows["dirty"]["state"] == "fails" and rows["dirty"]["stores"] == len(dirty["stores"])
    assert rows["dirty"]["unreadable"] == 2
    assert rows["clean"]["state"] == "survives" and rows["clean"]["failing"] == [] and rows["clean"]["reasons"] == []
    assert (rows["clean"]["stores"], rows["clean"]["unreadable"]) == (2, 0)
    assert rows["gone"]["state"] == "unreachable" and rows["never"]["state"] == "unreachable"
    assert rows["broken"]["state"] == "scan failed" and rows["broken"]["reasons"] == [message]
    # The printed table: a line per failing store naming host, store and fix; the clean host on one line.
    lines = table["lines"]
    assert lines[0].split()[:5] == ["host", "stores", "failing", "unreadable", "failing"]
    [line] = [line for line in lines if "/etc/billing/root.crt" in line]
    assert line.startswith("dirty ") and f"rotator sync --target {billing['fix']['target']}" in line
    assert "unit billing.service" in line and "mysql, postgresql, postgresql-no-xsign" in line
    [line] = [line for line in lines if "/home/app/.postgresql/root.crt" in line]
    assert "pins an Azure CA" in line and "remove Microsoft TLS G2 RSA CA OCSP 02" in line
    [line] = [line for line in lines if "/etc/ssl/certs/ca-certificates.crt" in line]
    assert line.endswith("rotator sync --target system")
    assert [line.split() for line in lines if line.startswith("clean ")] == [["clean", "2", "0", "0", "-"]]
    assert any(line.split()[:2] == ["broken", "-"] and "SCAN FAILED" in line for line in lines)
    assert f"broken: {message}" in lines
    alone = scan_report({"clean": clean})
    assert alone["ok"] is True and alone["verdict"] == "all 1 host scanned, no store breaks"


def test_scan_result_and_table_tolerate_other_shapes() -> None:
    assert util.scan_result({}, 0) == {
        "stores": [],
        "failing": [],
        "unreadable": [],
        "summary": {},
        "chains": {},
        "breaks": False,
    }
    # Exit 1 says a store fails even when no store this version reads says why.
    assert util.scan_result({"stores": "junk"}, 1)["breaks"] is True
    doc = {
        "stores": [
            "junk",
            {"path": "/a.pem", "verdicts": {"postgresql": "fails", "mysql": "survives-until:2029-06-19"}, "fix": "?"},
            {"path": "/b.pem", "verdicts": None, "azure_intermediates": ["Some CA"], "readers": ["junk"]},
            {"path": "/c.pem", "verdicts": {"mysql": "survives"}},
            {
                "path": "/usr/bin/node",
                "kind": "node-builtin",
                "verdicts": {"postgresql": "fails"},
                "fix": {"setting": "Environment=NODE_EXTRA_CA_CERTS=/etc/rotator/azure-roots.pem", "where": "web.d"},
                "future_field": 1,
            },
        ],
        "summary": {"complete": False},
    }
    result = util.scan_result(doc, 1)
    assert [f["path"] for f in result["failing"]] == ["/a.pem", "/b.pem", "/usr/bin/node"]
    assert result["failing"][0]["fix"] is None and result["failing"][1]["readers"] == []
    assert result["failing"][1]["failing_chains"] == [] and result["failing"][1]["azure_intermediates"] == ["Some CA"]
    row = scan_report({"h": result})["hosts"][0]
    # No counts in the summary: taken from the lists.
    assert row["state"] == "fails" and row["stores"] == 4 and row["unreadable"] == 0
    assert [s["fix"] for s in row["failing"]] == [
        "-",
        "remove Some CA",
        "Environment=NODE_EXTRA_CA_CERTS=/etc/rotator/azure-roots.pem in web.d",
    ]
    assert [s["fails"] for s in row["failing"]] == ["postgresql", "pins an Azure CA", "postgresql"]
    assert "the walk stopped before the end" in row["reasons"][0]
    row = scan_report({"h": {"stores": [], "breaks": True}})["hosts"][0]
    assert row["state"] == "fails" and "names none" in row["reasons"][0]
    assert scan_report({"h": {"changed": False}})["hosts"][0]["state"] == "scan failed"
    assert scan_report({})["ok"] is True and scan_report(None, [])["lines"][0].startswith("host")


def test_the_roles_units_are_the_repositorys() -> None:
    """The role ships copies of systemd/ (a collection is installed on its own): they must not drift."""
    files = PLUGINS.parent / "roles" / "service" / "files"
    units = REPO / "systemd"
    names = sorted(p.name for p in units.iterdir() if p.suffix in (".service", ".timer"))
    assert names == sorted(p.name for p in files.iterdir())
    for name in names:
        assert (files / name).read_bytes() == (units / name).read_bytes(), f"copy {units / name} to {files}"


@pytest.mark.fleet
@pytest.mark.parametrize("module", ["rotator.fleet.sync", "rotator.fleet.status", "rotator.fleet.scan"])
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
    if module == "rotator.fleet.scan":
        # scan finds the stores itself: it takes no targets, and says whose chains to judge.
        assert "targets" not in parsed["options"]
        assert parsed["options"]["service"]["type"] == "list" and parsed["options"]["include"]["elements"] == "path"
    else:
        assert parsed["options"]["targets"]["suboptions"]["password"]["type"] == "str"


def test_option_values_reach_rotator_as_given_even_when_they_start_with_dashes() -> None:
    """Each value is one ``--flag=VALUE`` word: ``--profile -x`` made rotator stop with "expected one
    argument", and ``--root --offline`` would have been two options (found by fuzzing the modules)."""
    from rotator.cli.arguments import build_parser

    params = {"profile": "-x", "state_dir": "--", "roots": ["--offline", "a b"], "at": "-1", "sysroot": "=/s"}
    parsed = build_parser().parse_args(util.common_args(params, "status"))
    assert (parsed.profile, parsed.state_dir, parsed.root, parsed.at, parsed.sysroot) == (
        "-x",
        "--",
        ["--offline", "a b"],
        "-1",
        "=/s",
    )
    assert parsed.offline is False
    scan = build_parser().parse_args(["scan", *util.scan_args({"include": ["-d"], "time_limit": 5.0})])
    assert scan.include == ["-d"] and scan.time_limit == 5.0


@pytest.mark.fleet  # runs the module's main(), which imports Ansible
def test_a_relative_target_path_is_refused_naming_it() -> None:
    """The module's config lives in a temporary directory, and rotator takes a relative path from the
    config's directory: ``path: roots.pem`` wrote the store there, and it was removed with it."""
    from tests.support.fleet_modules import run_module

    problem = util.target_problem(1, {"kind": "pem", "path": "roots.pem"})
    assert problem is not None and problem.startswith("targets[1].path 'roots.pem': give an absolute path")
    # ~ of a user the host does not have stays as written, so it is relative too (found by fuzzing).
    assert util.target_problem(0, {"kind": "pem", "path": "~no-such-user-here/roots.pem"}) is not None
    assert util.target_problem(0, {"kind": "pem", "path": "~root/roots.pem"}) is None
    for fine in (
        {"kind": "pem", "path": "/etc/azure/roots.pem"},
        {"kind": "pem", "path": "~/roots.pem"},
        {"kind": "system"},
    ):
        assert util.target_problem(0, fine) is None
    outcome = run_module("sync", {"targets": [{"kind": "pem", "path": "/a.pem"}, {"kind": "pem", "path": "b.pem"}]})
    assert outcome.result["failed"] and outcome.result["msg"].startswith("targets[1].path 'b.pem'")
    assert outcome.calls == []  # rotator never started
