"""A run that cannot finish writing a store, or is killed while writing it, leaves it as it was.

Both are real: the sync process runs with a file-size limit (RLIMIT_FSIZE) smaller than the store
it must write. Python ignores SIGXFSZ, so the write fails with EFBIG (the disk-full path: a clean
error). With SIGXFSZ restored to the system default, the kernel kills the process in the middle of
writing the new copy (a crash: no Python code runs after it).
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from rotator.certs import parse_many
from tests.support.keytool import MACHINE_CACERTS, by_alias, keytool, storepass

SYSTEM_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


# The rotator command, with SIGXFSZ back to the system default (terminate) instead of Python's ignore.
CRASHING = (
    "import signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_DFL); "
    "from rotator.cli.main import main; sys.exit(main(sys.argv[1:]))"
)


def sync_with_size_limit(
    tmp_path: Path, target: str, limit: int | None, crash: bool = False
) -> subprocess.CompletedProcess[str]:
    def cap() -> None:
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    program = [sys.executable, "-c", CRASHING] if crash else [sys.executable, "-m", "rotator"]
    return subprocess.run(
        [
            *program,
            "sync",
            "--offline",
            "--no-cache",
            "--state-dir",
            str(tmp_path / "state"),
            "--profile",
            "azure-postgresql",
            "--target",
            target,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=cap,
        env=dict(os.environ),
    )


def temps(directory: Path) -> list[Path]:
    return sorted(directory.glob(".*.rotator-tmp"))


@pytest.mark.slow
def test_pem_bundle_survives_a_crash_mid_write(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.pem"
    original = b"# the app's bundle, with its own roots\n" + (
        b"".join(c.to_pem() for c in parse_many(SYSTEM_BUNDLE.read_bytes())[:40])
    )
    bundle.write_bytes(original)
    full = sync_with_size_limit(tmp_path, f"pem:{bundle}", limit=len(original) + 100)
    assert full.returncode == 1
    assert f"cannot write {bundle}: File too large" in full.stderr
    assert bundle.read_bytes() == original
    assert temps(tmp_path) == []

    crashed = sync_with_size_limit(tmp_path, f"pem:{bundle}", limit=len(original) + 100, crash=True)
    assert crashed.returncode == -signal.SIGXFSZ, crashed.stderr
    assert bundle.read_bytes() == original
    assert len(temps(tmp_path)) == 1, "the crash happened while the new copy was being written"

    again = sync_with_size_limit(tmp_path, f"pem:{bundle}", limit=None)
    assert again.returncode == 0, again.stderr
    assert bundle.read_bytes().startswith(original)
    assert len(parse_many(bundle.read_bytes())) >= 41
    assert temps(tmp_path) == [], "the next run clears what the killed one left"


@pytest.mark.slow
def test_jks_survives_a_crash_mid_write(tmp_path: Path) -> None:
    store = tmp_path / "cacerts"
    store.write_bytes(MACHINE_CACERTS.read_bytes())
    for alias in ("debian:digicert_global_root_g2.pem", "debian:digicert_global_root_ca.pem"):
        keytool(
            "-delete",
            "-alias",
            alias,
            "-keystore",
            str(store),
            *storepass("changeit"),
            password="changeit",
            check=False,
        )
    original = store.read_bytes()
    before = by_alias(store, "changeit")
    full = sync_with_size_limit(tmp_path, f"java-cacerts:{store}", limit=len(original) + 100)
    assert full.returncode == 1 and "File too large" in full.stderr
    assert store.read_bytes() == original and temps(tmp_path) == []
    crashed = sync_with_size_limit(tmp_path, f"java-cacerts:{store}", limit=len(original) + 100, crash=True)
    assert crashed.returncode == -signal.SIGXFSZ, crashed.stderr
    assert store.read_bytes() == original
    assert len(temps(tmp_path)) == 1

    again = sync_with_size_limit(tmp_path, f"java-cacerts:{store}", limit=None)
    assert again.returncode == 0, again.stderr
    after = by_alias(store, "changeit")
    assert {a: v for a, v in after.items() if a in before} == before
    assert "rotator-digicert-global-root-g2" in after
    assert temps(tmp_path) == []
