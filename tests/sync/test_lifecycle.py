"""Lifecycle, ownership state, drift repair, status, metrics and change hooks, through the CLI."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from rotator.certs import parse_many
from rotator.roots.catalog import Catalog
from tests.support.paths import DATA
from tests.support.pki import Issued, make_intermediate, make_leaf, make_root

CATALOG = Catalog.builtin()
G1 = CATALOG.roots["digicert-global-root-ca"]
G2 = CATALOG.roots["digicert-global-root-g2"]


def fps(path: Path) -> set[str]:
    return {c.sha256 for c in parse_many(path.read_bytes())}


def custom_config(tmp_path: Path, root: Issued, targets: list[Path], extra: str = "") -> Path:
    root_file, _ = root.write(tmp_path, "old-root")
    config = tmp_path / "rotator.toml"
    text = f"""
profile = "azure-minimal"
include = ["old-root"]
{extra}
[[roots]]
id = "old-root"
name = "Old Root"
sha256 = "{root.sha256}"
file = "{root_file}"
retire_after = 2030-06-30
retire_reason = "replaced by the new root"
"""
    for t in targets:
        text += f'\n[[targets]]\nkind = "pem"\npath = "{t}"\n'
    config.write_text(text)
    return config


def test_retirement_removes_only_where_rotator_added_it(tmp_path: Path, run) -> None:
    old = make_root("Old Root")
    managed = tmp_path / "managed.pem"
    preexisting = tmp_path / "preexisting.pem"
    preexisting.write_bytes(b"# had it before rotator\n" + old.pem)
    config = custom_config(tmp_path, old, [managed, preexisting])
    assert run("sync", "--offline", "--config", str(config)).code == 0
    assert old.sha256 in fps(managed) and old.sha256 in fps(preexisting)

    rehearsal = run("sync", "--offline", "--config", str(config), "--dry-run", "--at", "2030-07-01")
    assert rehearsal.code == 0, rehearsal.err
    assert "would remove old-root" in rehearsal.out
    assert old.sha256 in fps(managed)

    result = run("sync", "--offline", "--json", "--config", str(config), "--at", "2030-07-01")
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert doc["not_wanted"] == [{"id": "old-root", "reason": "replaced by the new root"}]
    by_target = {t["target"]: t for t in doc["targets"]}
    assert by_target[f"pem:{managed}"]["removed"] == ["old-root"]
    assert by_target[f"pem:{preexisting}"]["removed"] == []
    assert old.sha256 not in fps(managed)
    assert old.sha256 in fps(preexisting)
    assert preexisting.read_bytes().startswith(b"# had it before rotator\n" + old.pem)
    assert {G2.sha256} <= fps(managed)


def test_future_g1_expiry_rehearsal(tmp_path: Path, run) -> None:
    bundle = tmp_path / "pg.pem"
    assert run("sync", "--offline", "--profile", "azure-legacy", "--target", f"pem:{bundle}").code == 0
    result = run(
        "sync", "--offline", "--profile", "azure-legacy", "--target", f"pem:{bundle}", "--dry-run", "--at", "2031-12-01"
    )
    assert result.code == 0, result.err
    assert "would remove digicert-global-root-ca" in result.out
    assert G1.sha256 in fps(bundle)


def test_keep_overrides_retirement(tmp_path: Path, run) -> None:
    old = make_root("Old Root")
    bundle = tmp_path / "b.pem"
    config = custom_config(tmp_path, old, [bundle], extra='keep = ["old-root"]')
    assert run("sync", "--offline", "--config", str(config), "--at", "2031-01-01").code == 0
    assert old.sha256 in fps(bundle)


def test_drift_is_reported_repaired_and_status_goes_green(tmp_path: Path, run, state_dir: Path) -> None:
    bundle = tmp_path / "b.pem"
    args = ["--offline", "--profile", "azure-minimal", "--target", f"pem:{bundle}"]
    assert run("sync", *args).code == 0
    assert run("status", *args).code == 0
    # Something (a package update, a person) rewrites the bundle without rotator's G2 block.
    text = bundle.read_bytes()
    start = text.index(b"# rotator-digicert-global-root-g2")
    end = text.index(b"-----END CERTIFICATE-----\n", start) + len(b"-----END CERTIFICATE-----\n")
    bundle.write_bytes(text[:start] + text[end:])

    status = run("status", "--json", *args)
    assert status.code == 1
    doc = json.loads(status.out)
    assert doc["compliant"] is False
    assert doc["targets"][0]["roots"]["digicert-global-root-g2"] == "missing"
    assert any("digicert-global-root-g2" in f["message"] for f in doc["findings"] if f["severity"] == "error")

    repaired = run("sync", "--json", *args)
    assert repaired.code == 0, repaired.err
    assert json.loads(repaired.out)["targets"][0]["drift"] == ["digicert-global-root-g2"]
    assert "drift" in repaired.err
    state = json.loads((state_dir / "state.json").read_text())
    assert state["drift_repairs"] == 1
    assert run("status", *args).code == 0


def test_status_table_and_warn_days(tmp_path: Path, run) -> None:
    bundle = tmp_path / "b.pem"
    bundle.write_bytes(G2.embedded_bytes() or b"")
    args = ["--offline", "--profile", "azure-legacy", "--target", f"pem:{bundle}"]
    before = run("status", *args)
    assert before.code == 1
    assert "NOT COMPLIANT" in before.out and "MISSING" in before.out
    assert run("sync", *args).code == 0
    after = run("status", *args)
    assert after.code == 0, after.out
    lines = after.out.splitlines()
    row = lines[lines.index(f"  pem:{bundle}") + 1]
    # G2 was there already, the others rotator added
    assert "8 of 8 roots of azure-legacy (7 added, 1 already there)" in row
    detail = run("status", "-v", *args).out.splitlines()
    at = detail.index(row)
    cells = dict(line.split() for line in detail[at + 1 : at + 9])
    assert cells == {
        root_id: "present" if root_id == G2.id else "added" for root_id in Catalog.builtin().profiles["azure-legacy"]
    }
    assert "2031-11-10  digicert-global-root-ca: expires" in after.out
    # G1 expires 2031-11-10: with a long enough warning window the status turns red.
    warned = run("status", "--json", "--warn-days", "2000", *args)
    assert warned.code == 1
    doc = json.loads(warned.out)
    assert any("digicert-global-root-ca expires" in f["message"] for f in doc["findings"])
    assert {r["id"]: r["days_left"] for r in doc["roots"]}["digicert-global-root-ca"] > 0


def test_pinned_intermediate_and_server_certificate_are_flagged(tmp_path: Path, run) -> None:
    root = make_root("Pin Test Root")
    intermediate = make_intermediate(root, "Pin Test Issuing CA 07")
    leaf = make_leaf(intermediate, ("mydb.postgres.database.azure.com",))
    azure_intermediate = (DATA / "microsoft-tls-g2-rsa-ca-ocsp-02.pem").read_bytes()
    expired_azure = (DATA / "microsoft-azure-rsa-tls-issuing-ca-03-xsign.pem").read_bytes()
    bundle = tmp_path / "b.pem"
    bundle.write_bytes(intermediate.pem + leaf.pem + azure_intermediate + expired_azure)
    result = run("status", "--json", "--offline", "--profile", "azure-minimal", "--target", f"pem:{bundle}")
    doc = json.loads(result.out)
    messages = [f["message"] for f in doc["findings"] if f["severity"] == "warning"]
    assert any("intermediate 'Pin Test Issuing CA 07'" in m for m in messages)
    assert any("server certificate 'mydb.postgres.database.azure.com'" in m for m in messages)
    assert any("intermediate 'Microsoft TLS G2 RSA CA OCSP 02'" in m for m in messages)
    assert any("expired certificate 'Microsoft Azure RSA TLS Issuing CA 03'" in m for m in messages)


def test_metrics_file_parses_back(tmp_path: Path, run) -> None:
    bundle = tmp_path / "b.pem"
    metrics = tmp_path / "textfile" / "rotator.prom"
    args = ["--offline", "--profile", "azure-minimal", "--target", f"pem:{bundle}", "--metrics-file", str(metrics)]
    assert run("sync", *args).code == 0
    families = {f.name: f for f in text_string_to_metric_families(metrics.read_text())}
    present = {(s.labels["target"], s.labels["root"]): s.value for s in families["rotator_root_present"].samples}
    assert present == {
        (f"pem:{bundle}", "digicert-global-root-g2"): 1.0,
        (f"pem:{bundle}", "microsoft-rsa-root-2017"): 1.0,
    }
    not_after = {s.labels["root"]: s.value for s in families["rotator_root_not_after_timestamp_seconds"].samples}
    assert not_after["digicert-global-root-g2"] == dt.datetime(2038, 1, 15, tzinfo=dt.UTC).timestamp()
    assert families["rotator_last_success_timestamp_seconds"].samples[0].value > 1.7e9
    assert families["rotator_compliant"].samples[0].value == 1.0
    failures = [s for s in families["rotator_sync_failures"].samples if s.name == "rotator_sync_failures_total"]
    assert failures[0].value == 0.0
    # A failed run counts, and a missing root shows as 0 once status runs.
    bundle.write_bytes(b"")
    bad = run(
        "sync",
        "--offline",
        "--profile",
        "azure-minimal",
        "--target",
        "pem:/proc/nope/b.pem",
        "--metrics-file",
        str(metrics),
    )
    assert bad.code == 1
    assert run("status", *args).code == 1
    families = {f.name: f for f in text_string_to_metric_families(metrics.read_text())}
    failures = [s for s in families["rotator_sync_failures"].samples if s.name == "rotator_sync_failures_total"]
    assert failures[0].value == 1.0
    assert {s.value for s in families["rotator_root_present"].samples} == {0.0}


def hook_script(tmp_path: Path, exit_code: int = 0) -> tuple[Path, Path]:
    log = tmp_path / "hook.log"
    script = tmp_path / "hook.py"
    script.write_text(f"""#!{sys.executable}
import json, os, sys
with open({str(log)!r}, "a") as f:
    keys = ("ROTATOR_TARGET", "ROTATOR_ADDED", "ROTATOR_REMOVED")
    f.write(json.dumps({{k: os.environ.get(k) for k in keys}}) + "\\n")
sys.stderr.write("reload failed\\n" if {exit_code} else "")
sys.exit({exit_code})
""")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, log


def test_hooks_run_once_per_changed_target_and_not_on_no_op(tmp_path: Path, run) -> None:
    script, log = hook_script(tmp_path)
    a, b = tmp_path / "a.pem", tmp_path / "b.pem"
    config = tmp_path / "rotator.toml"
    config.write_text(f"""
profile = "azure-minimal"
on_change = ["{script}"]
[[targets]]
kind = "pem"
path = "{a}"
on_change = [["{script}"]]
[[targets]]
kind = "pem"
path = "{b}"
""")
    assert run("sync", "--offline", "--config", str(config)).code == 0
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    # Target a: its own hook and the global one; target b: the global one.
    assert sorted(c["ROTATOR_TARGET"] for c in calls) == sorted([f"pem:{a}", f"pem:{a}", f"pem:{b}"])
    assert all(c["ROTATOR_ADDED"] == "digicert-global-root-g2,microsoft-rsa-root-2017" for c in calls)
    assert all(c["ROTATOR_REMOVED"] == "" for c in calls)
    assert run("sync", "--offline", "--config", str(config)).code == 0
    assert len(log.read_text().splitlines()) == 3, "no hook on a no-op run"


def test_failing_hook_exits_1_and_keeps_the_store(tmp_path: Path, run) -> None:
    script, log = hook_script(tmp_path, exit_code=3)
    assert not log.exists()
    bundle = tmp_path / "b.pem"
    config = tmp_path / "rotator.toml"
    config.write_text(
        f'profile = "azure-minimal"\non_change = ["{script}"]\n[[targets]]\nkind = "pem"\npath = "{bundle}"\n'
    )
    result = run("sync", "--offline", "--config", str(config))
    assert result.code == 1
    assert "exited 3" in result.err and "reload failed" in result.err
    assert len(fps(bundle)) == 2


def test_corrupt_state_is_an_error_and_left_alone(tmp_path: Path, run, state_dir: Path) -> None:
    state_dir.mkdir(parents=True)
    (state_dir / "state.json").write_text("{not json")
    bundle = tmp_path / "b.pem"
    result = run("sync", "--offline", "--target", f"pem:{bundle}")
    assert result.code == 1
    assert "state file" in result.err and "corrupt" in result.err and "move it aside" in result.err
    assert (state_dir / "state.json").read_text() == "{not json"
    assert not bundle.exists()


def test_missing_state_is_rebuilt_from_the_store(tmp_path: Path, run, state_dir: Path) -> None:
    bundle = tmp_path / "b.pem"
    bundle.write_bytes(G2.embedded_bytes() or b"")
    args = ["--offline", "--profile", "azure-minimal", "--target", f"pem:{bundle}"]
    assert run("sync", *args).code == 0
    (state_dir / "state.json").unlink()
    assert run("sync", *args).code == 0
    state = json.loads((state_dir / "state.json").read_text())
    records = state["targets"][f"pem:{bundle}"]
    assert records["digicert-global-root-g2"]["owned"] is False
    assert records["microsoft-rsa-root-2017"]["owned"] is True
    # Ownership comes from the store itself: a narrower profile still removes only rotator's block.
    assert (
        run(
            "sync",
            "--offline",
            "--profile",
            "azure-minimal",
            "--root",
            "digicert-global-root-g3",
            "--target",
            f"pem:{bundle}",
        ).code
        == 0
    )
    (state_dir / "state.json").unlink()
    result = run("sync", "--json", *args)
    assert json.loads(result.out)["targets"][0]["removed"] == ["digicert-global-root-g3"]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to show the state dir default")
def test_default_state_dir_for_root_is_var_lib() -> None:
    from rotator.sync.state import default_state_dir

    assert default_state_dir({}, True) == Path("/var/lib/rotator")
    assert default_state_dir({"XDG_STATE_HOME": "/x"}, False) == Path("/x/rotator")


@pytest.mark.slow
def test_drift_in_a_jks_deleted_with_keytool(tmp_path: Path, run, state_dir: Path) -> None:
    from tests.support.keytool import by_alias, keytool, storepass

    store = tmp_path / "trust.jks"
    args = ["--offline", "--profile", "azure-minimal", "--target", f"java-cacerts:{store}"]
    # java-cacerts:PATH needs an existing store: start from a keytool-made JKS holding one foreign root.
    other, _ = make_root("App Root").write(tmp_path, "app-root")
    keytool(
        "-importcert",
        "-noprompt",
        "-alias",
        "app-root",
        "-file",
        str(other),
        "-keystore",
        str(store),
        "-storetype",
        "JKS",
        *storepass("changeit"),
        password="changeit",
    )
    assert run("sync", *args).code == 0
    assert set(by_alias(store, "changeit")) == {
        "app-root",
        "rotator-digicert-global-root-g2",
        "rotator-microsoft-rsa-root-2017",
    }
    keytool(
        "-delete",
        "-alias",
        "rotator-digicert-global-root-g2",
        "-keystore",
        str(store),
        *storepass("changeit"),
        password="changeit",
    )

    status = run("status", "--json", *args)
    assert status.code == 1
    assert json.loads(status.out)["targets"][0]["roots"]["digicert-global-root-g2"] == "missing"
    repaired = run("sync", "--json", *args)
    assert repaired.code == 0, repaired.err
    assert json.loads(repaired.out)["targets"][0]["drift"] == ["digicert-global-root-g2"]
    assert by_alias(store, "changeit")["rotator-digicert-global-root-g2"][1] == G2.sha256
    assert "app-root" in by_alias(store, "changeit")
    assert run("status", *args).code == 0


@pytest.mark.slow
def test_drift_of_a_system_anchor_is_reported_and_repaired(
    tmp_path: Path, run, state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.systree import debian_tree

    # The real update-ca-certificates in a redirected Debian tree (no hook touches the machine).
    image = tmp_path / "image"
    debian_tree(image)
    config = tmp_path / "rotator.toml"
    config.write_text('profile = "azure-minimal"\n[[targets]]\nkind = "system"\nrefresh = "host"\n')
    args = ["--offline", "--config", str(config), "--sysroot", str(image)]
    assert run("sync", *args).code == 0
    anchor = image / "usr/local/share/ca-certificates/rotator-microsoft-rsa-root-2017.crt"
    assert anchor.exists()
    anchor.unlink()  # say, a configuration-management run cleaned the directory

    status = run("status", "--json", *args)
    assert status.code == 1
    assert json.loads(status.out)["targets"][0]["roots"]["microsoft-rsa-root-2017"] == "missing"
    repaired = run("sync", "--json", *args)
    assert repaired.code == 0, repaired.err
    assert json.loads(repaired.out)["targets"][0]["drift"] == ["microsoft-rsa-root-2017"]
    assert anchor.exists()
    ms = CATALOG.roots["microsoft-rsa-root-2017"]
    assert ms.sha256 in fps(image / "etc/ssl/certs/ca-certificates.crt")
    assert run("status", *args).code == 0
