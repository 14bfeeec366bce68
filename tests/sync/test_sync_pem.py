"""``pem:PATH`` end to end through the CLI: merge, idempotency, dry-run, ownership, real openssl."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

from rotator.certs import parse_many
from rotator.roots.catalog import Catalog
from tests.support.pki import make_leaf, make_root

CATALOG = Catalog.builtin()
SYSTEM_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
PG = ["digicert-global-root-g2", "microsoft-rsa-root-2017", "microsoft-tls-rsa-root-g2"]


def fingerprints(path: Path) -> list[str]:
    return [c.sha256 for c in parse_many(path.read_bytes())]


def test_merge_into_system_bundle_keeps_every_certificate(tmp_path: Path, run) -> None:
    bundle = tmp_path / "ca-certificates.crt"
    original = SYSTEM_BUNDLE.read_bytes()
    bundle.write_bytes(original)
    before = fingerprints(bundle)
    assert len(before) > 100

    result = run("sync", "--offline", "--profile", "azure-postgresql", "--target", f"pem:{bundle}")
    assert result.code == 0, result.err

    after = fingerprints(bundle)
    data = bundle.read_bytes()
    assert data.startswith(original), "existing bytes must stay in place, in order"
    assert after[: len(before)] == before
    wanted = {CATALOG.roots[i].sha256 for i in PG}
    added = after[len(before) :]
    assert set(added) == wanted - set(before)
    assert set(after) >= wanted
    assert len(after) == len(set(after)), "no duplicates"
    for root_id in PG:
        if CATALOG.roots[root_id].sha256 not in before:
            assert f"# rotator-{root_id}:".encode() in data


def test_creates_bundle_with_mode_0644_and_parent_dir(tmp_path: Path, run) -> None:
    bundle = tmp_path / "new" / "dir" / "azure.pem"
    result = run("sync", "--offline", "--target", f"pem:{bundle}")
    assert result.code == 0, result.err
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o644
    assert set(fingerprints(bundle)) == {CATALOG.roots[i].sha256 for i in CATALOG.profiles["azure-all"]}
    assert not list(bundle.parent.glob("*.rotator-tmp"))


def test_second_run_is_a_no_op_same_bytes_same_mtime(tmp_path: Path, run) -> None:
    bundle = tmp_path / "azure.pem"
    assert run("sync", "--offline", "--target", f"pem:{bundle}").code == 0
    first = bundle.read_bytes()
    os.utime(bundle, ns=(1_000_000_000, 1_000_000_000))
    result = run("sync", "--offline", "--json", "--target", f"pem:{bundle}")
    assert result.code == 0, result.err
    assert bundle.read_bytes() == first
    assert bundle.stat().st_mtime_ns == 1_000_000_000
    doc = json.loads(result.out)
    assert doc["targets"][0]["changed"] is False and doc["targets"][0]["added"] == []


def test_dry_run_touches_nothing(tmp_path: Path, run) -> None:
    bundle = tmp_path / "azure.pem"
    bundle.write_bytes(b"# my bundle\n")
    os.utime(bundle, ns=(1_000_000_000, 1_000_000_000))
    missing = tmp_path / "missing.pem"
    result = run("sync", "--offline", "--dry-run", "--target", f"pem:{bundle}", "--target", f"pem:{missing}")
    assert result.code == 0, result.err
    assert bundle.read_bytes() == b"# my bundle\n"
    assert bundle.stat().st_mtime_ns == 1_000_000_000
    assert not missing.exists()
    assert "would add" in result.out and "+ digicert-global-root-g2" in result.out


def test_existing_mode_kept_and_symlink_updates_its_target(tmp_path: Path, run) -> None:
    real = tmp_path / "real" / "bundle.pem"
    real.parent.mkdir()
    real.write_bytes(b"# keep me\n")
    real.chmod(0o640)
    link = tmp_path / "link.pem"
    link.symlink_to(real)
    result = run("sync", "--offline", "--profile", "azure-minimal", "--target", f"pem:{link}")
    assert result.code == 0, result.err
    assert link.is_symlink() and link.resolve() == real
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    assert real.read_bytes().startswith(b"# keep me\n")
    assert len(fingerprints(real)) == 2


def test_text_without_final_newline_is_kept_intact(tmp_path: Path, run) -> None:
    bundle = tmp_path / "b.pem"
    root = make_root("Someone Else's Root")
    original = b"# comment line\r\n" + root.pem.rstrip(b"\n")  # no trailing newline
    bundle.write_bytes(original)
    assert run("sync", "--offline", "--profile", "azure-minimal", "--target", f"pem:{bundle}").code == 0
    data = bundle.read_bytes()
    assert data.startswith(original + b"\n")
    assert fingerprints(bundle)[0] == root.sha256


def test_narrower_profile_removes_only_what_rotator_added(tmp_path: Path, run) -> None:
    bundle = tmp_path / "b.pem"
    # G3 is already in the user's bundle (not rotator's): it must survive any profile change.
    g3 = CATALOG.roots["digicert-global-root-g3"]
    user_text = b"# the user's own\n" + (g3.embedded_bytes() or b"")
    bundle.write_bytes(user_text)
    assert run("sync", "--offline", "--profile", "azure-all", "--target", f"pem:{bundle}").code == 0
    assert len(fingerprints(bundle)) == 7
    result = run("sync", "--offline", "--json", "--profile", "azure-minimal", "--target", f"pem:{bundle}")
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert set(doc["targets"][0]["removed"]) == {
        "microsoft-tls-rsa-root-g2",
        "digicert-tls-ecc-p384-root-g5",
        "digicert-tls-rsa4096-root-g5",
        "microsoft-ecc-root-2017",
    }
    left = set(fingerprints(bundle))
    assert left == {
        g3.sha256,
        CATALOG.roots["digicert-global-root-g2"].sha256,
        CATALOG.roots["microsoft-rsa-root-2017"].sha256,
    }
    assert bundle.read_bytes().startswith(user_text)
    assert b"rotator-microsoft-tls-rsa-root-g2" not in bundle.read_bytes()


def test_custom_root_from_config_lets_openssl_verify_a_leaf(tmp_path: Path, run) -> None:
    root = make_root("Corp Root")
    leaf = make_leaf(root, ("db.corp.example",))
    root_file, _ = root.write(tmp_path, "corp-root")
    leaf_file, _ = leaf.write(tmp_path, "leaf")
    bundle = tmp_path / "bundle.pem"
    config = tmp_path / "rotator.toml"
    config.write_text(f"""
profile = "azure-minimal"
include = ["corp-root"]

[[roots]]
id = "corp-root"
sha256 = "{root.sha256.upper()}"
file = "{root_file}"

[[targets]]
kind = "pem"
path = "{bundle}"
""")
    # Before: openssl refuses the leaf.
    bundle.write_bytes(CATALOG.roots["digicert-global-root-g2"].embedded_bytes() or b"")
    before = subprocess.run(
        ["openssl", "verify", "-no-CAstore", "-no-CApath", "-CAfile", str(bundle), str(leaf_file)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert before.returncode != 0

    result = run("sync", "--offline", "--config", str(config))
    assert result.code == 0, result.err
    after = subprocess.run(
        ["openssl", "verify", "-no-CAstore", "-no-CApath", "-CAfile", str(bundle), str(leaf_file)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert after.returncode == 0, after.stderr
    assert b"# rotator-corp-root: Corp Root" not in bundle.read_bytes()  # name defaults to the id
    assert b"# rotator-corp-root: corp-root" in bundle.read_bytes()


def test_json_document_shape(tmp_path: Path, run) -> None:
    bundle = tmp_path / "b.pem"
    result = run("sync", "--offline", "--json", "--profile", "azure-minimal", "--target", f"pem:{bundle}")
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert doc["version"] == 1 and doc["command"] == "sync" and doc["ok"] is True
    assert [r["id"] for r in doc["roots"]] == ["digicert-global-root-g2", "microsoft-rsa-root-2017"]
    assert all(r["source"] == "embedded" and len(r["sha256"]) == 64 for r in doc["roots"])
    target = doc["targets"][0]
    assert target["target"] == f"pem:{bundle}"
    assert target["added"] == ["digicert-global-root-g2", "microsoft-rsa-root-2017"]
    assert target["changed"] is True and target["error"] is None


def test_unreadable_existing_file_is_refused_and_untouched(tmp_path: Path, run) -> None:
    bundle = tmp_path / "b.pem"
    bundle.write_bytes(b"\x00\x01binary junk, not a bundle")
    result = run("sync", "--offline", "--target", f"pem:{bundle}")
    assert result.code == 1
    assert "not a PEM bundle" in result.err and str(bundle) in result.err
    assert bundle.read_bytes() == b"\x00\x01binary junk, not a bundle"


def test_directory_at_the_path(tmp_path: Path, run) -> None:
    target = tmp_path / "adir"
    target.mkdir()
    result = run("sync", "--offline", "--target", f"pem:{target}")
    assert result.code == 1
    assert "is a directory" in result.err and str(target) in result.err


def test_unwritable_path_gives_clear_error(tmp_path: Path, run) -> None:
    # Tests run as root, which ignores permission bits; /proc refuses new files even to root.
    other = tmp_path / "other.pem"
    result = run("sync", "--offline", "--target", "pem:/proc/rotator-test/b.pem", "--target", f"pem:{other}")
    assert result.code == 1
    assert "cannot write /proc/rotator-test" in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert other.exists(), "a failing target does not stop the others"
