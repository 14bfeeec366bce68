"""SIGKILL at every point where a sync touches the disk, over every store kind: old or new, never broken.

The sync runs as a real process through a small harness program that wraps the calls that change
files (os.replace, os.fsync, os.unlink, os.symlink, os.rename). Each call is two points, before
and after; the harness kills its own process with SIGKILL at point K (no Python code runs after
that, as in a power cut for the process). A first run counts the points; the test then kills at
each of them (or an even sample, ``ROTATOR_CRASH_POINTS`` per store, default 8; ``all`` for every
point), and checks what the real consumer sees: openssl for PEM files and hash directories,
keytool for Java stores, the bundle update-ca-certificates wrote for the system store. The run
after each kill must converge and leave no temp file.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import keytool as kt
from tests.support.pki import make_root
from tests.support.systree import UPDATE_CA_CERTIFICATES, debian_tree

HARNESS = r"""
import os, signal, sys
kill_at, count_file = int(sys.argv[1]), sys.argv[2]
points = [0]
def wrap(name):
    real = getattr(os, name)
    def hooked(*args, **kwargs):
        step()
        result = real(*args, **kwargs)
        step()
        return result
    setattr(os, name, hooked)
def step():
    if points[0] == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
    points[0] += 1
for name in ("replace", "fsync", "unlink", "symlink", "rename"):
    wrap(name)
from rotator.cli.main import main
code = main(sys.argv[3:])
with open(count_file, "w") as handle:
    handle.write(str(points[0]))
sys.exit(code)
"""
PW = "changeit"
SAMPLE = os.environ.get("ROTATOR_CRASH_POINTS", "8")
FOREIGN = make_root("Crash Harness Foreign Root")


def _sample(total: int) -> list[int]:
    if SAMPLE == "all" or total <= int(SAMPLE):
        return list(range(total))
    count = int(SAMPLE)
    return sorted({round(i * (total - 1) / (count - 1)) for i in range(count)})


class Case:
    """One store kind: how to make the old store, the sync arguments, and what its consumer sees."""

    def __init__(self, tmp: Path, kind: str) -> None:
        self.tmp = tmp
        self.kind = kind
        self.env = dict(os.environ, CRASH_STOREPASS=PW, HOME=str(tmp / "home"))
        self.extra: list[str] = []
        if kind == "pem":
            self.path = tmp / "bundle.pem"
        elif kind in ("jks", "pkcs12"):
            self.path = tmp / f"trust.{kind}"
            self.extra = ["--storepass-env", "CRASH_STOREPASS"]
        elif kind == "pem-dir":
            self.path = tmp / "certs"
        else:
            self.path = tmp / "root"
            self.extra = ["--sysroot", str(self.path)]

    def target(self) -> list[str]:
        # The system store comes from the config (refresh = host), which --target would replace.
        return [] if self.kind == "system" else ["--target", f"{self.kind}:{self.path}"]

    def make_old(self) -> None:
        foreign = self.tmp / "foreign.pem"
        foreign.write_bytes(FOREIGN.pem)
        if self.kind == "pem":
            self.path.write_bytes(b"# the application's own roots\n" + FOREIGN.pem)
        elif self.kind in ("jks", "pkcs12"):
            kt.keytool(
                "-importcert",
                "-noprompt",
                "-alias",
                "mine",
                "-file",
                str(foreign),
                "-storetype",
                self.kind.upper(),
                "-keystore",
                str(self.path),
                *kt.storepass(PW),
                password=PW,
            )
        elif self.kind == "pem-dir":
            self.path.mkdir()
            (self.path / "mine.pem").write_bytes(FOREIGN.pem)
        else:
            debian_tree(self.path, packaged=2)
            # The tree's refresh runs inside the tree with every path redirected (refresh = host).
            config = self.tmp / "rotator.toml"
            config.write_text('[[targets]]\nkind = "system"\ndistro = "debian"\nrefresh = "host"\n')
            self.extra = ["--sysroot", str(self.path), "--config", str(config)]
            subprocess.run(
                [
                    str(UPDATE_CA_CERTIFICATES),
                    "--certsconf",
                    str(self.path / "etc/ca-certificates.conf"),
                    "--certsdir",
                    str(self.path / "usr/share/ca-certificates"),
                    "--localcertsdir",
                    str(self.path / "usr/local/share/ca-certificates"),
                    "--etccertsdir",
                    str(self.path / "etc/ssl/certs"),
                    "--hooksdir",
                    str(self.path / "etc/ca-certificates/update.d"),
                ],
                check=True,
                capture_output=True,
                timeout=120,
            )

    def copy_old(self, to: Path) -> None:
        if self.path.is_dir():
            shutil.copytree(self.path, to, symlinks=True)
        else:
            shutil.copy2(self.path, to)

    def restore_old(self, saved: Path) -> None:
        if self.path.is_dir():
            shutil.rmtree(self.path)
            shutil.copytree(saved, self.path, symlinks=True)
        else:
            shutil.copy2(saved, self.path)

    def seen(self) -> object:
        """What the store's real consumer reads from it now."""
        if self.kind == "pem":
            return _openssl_bundle(self.path)
        if self.kind in ("jks", "pkcs12"):
            return frozenset(kt.by_alias(self.path, PW, self.kind.upper()).items())
        if self.kind == "pem-dir":
            # OpenSSL reads the directory through its hash links: each must reach a whole certificate.
            return frozenset(
                _openssl_one(self.path / name) for name in sorted(os.listdir(self.path)) if not name.startswith(".")
            )
        return _openssl_bundle(self.path / "etc/ssl/certs/ca-certificates.crt")

    def run(self, kill_at: int) -> tuple[int, int]:
        count_file = self.tmp / "points"
        count_file.unlink(missing_ok=True)
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                HARNESS,
                str(kill_at),
                str(count_file),
                "sync",
                "--offline",
                "--no-cache",
                "--state-dir",
                str(self.tmp / "state"),
                "--profile",
                "azure-postgresql",
                *self.target(),
                *self.extra,
            ],
            capture_output=True,
            text=True,
            timeout=180,
            env=self.env,
        )
        points = int(count_file.read_text()) if count_file.exists() else -1
        assert proc.returncode in (0, -signal.SIGKILL), proc.stderr
        return proc.returncode, points


def _openssl_one(path: Path) -> str:
    proc = subprocess.run(
        ["openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, f"{path}: openssl cannot read it: {proc.stderr}"
    return f"{path.name} {proc.stdout.strip()}"


def _openssl_bundle(path: Path) -> tuple[str, ...]:
    proc = subprocess.run(["openssl", "crl2pkcs7", "-nocrl", "-certfile", str(path)], capture_output=True, timeout=60)
    assert proc.returncode == 0, f"{path}: openssl cannot read it: {proc.stderr.decode()}"
    listing = subprocess.run(
        ["openssl", "pkcs7", "-print_certs", "-noout"], input=proc.stdout, capture_output=True, timeout=60
    )
    assert listing.returncode == 0
    return tuple(line for line in listing.stdout.decode().splitlines() if line.startswith("subject="))


def _temps(root: Path) -> list[Path]:
    return [p for p in root.rglob("*.rotator-tmp")]


KINDS = ["pem", "jks", "pkcs12", "pem-dir", "system"]


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_sigkill_at_every_write_point_leaves_old_or_new(tmp_path: Path, kind: str) -> None:
    if kind in ("jks", "pkcs12") and not Path(kt.KEYTOOL).exists():
        pytest.skip("keytool (a JDK) is required")
    if kind == "system" and not UPDATE_CA_CERTIFICATES.exists():
        pytest.skip("update-ca-certificates is required")
    case = Case(tmp_path / "work", kind)
    case.tmp.mkdir()
    case.make_old()
    saved = tmp_path / "saved"
    case.copy_old(saved)
    old = case.seen()

    code, total = case.run(kill_at=-1)  # a clean run: counts the points, gives the new store
    assert code == 0 and total > 0
    new = case.seen()
    assert new != old

    killed = 0
    for point in _sample(total):
        case.restore_old(saved)
        shutil.rmtree(case.tmp / "state", ignore_errors=True)
        code, _ = case.run(kill_at=point)
        if code == -signal.SIGKILL:
            killed += 1
        seen = case.seen()
        if kind in ("pem", "jks", "pkcs12"):
            assert seen in (old, new), f"point {point} of {total}: neither the old nor the new store"
        # The next run finishes the job: the new store, no temp file left behind.
        code, _ = case.run(kill_at=-1)
        assert code == 0
        assert case.seen() == new, f"point {point} of {total}: the next run did not converge"
        assert _temps(case.tmp) == [], f"point {point} of {total}: temp files left"
    assert killed == len(_sample(total))
    print(f"crash points, {kind}: {killed} kills of {total} points")  # the figure docs/reliability.md reports


def test_harness_kills_where_it_is_told(tmp_path: Path) -> None:
    """The harness itself: point 0 is before the first write, so nothing is written."""
    case = Case(tmp_path, "pem")
    case.make_old()
    before = case.path.read_bytes()
    code, _ = case.run(kill_at=0)
    assert code == -signal.SIGKILL and case.path.read_bytes() == before
    assert len(_temps(tmp_path)) == 1  # the temp file it was about to sync
    code, _ = case.run(kill_at=-1)
    assert code == 0 and case.path.read_bytes() != before
    assert _temps(tmp_path) == []
