"""Fake image trees for the system target: a redirected Debian tree the real update-ca-certificates
can work in, stand-in refresh commands that record their argv, and a test root to trust."""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
from pathlib import Path

MOZILLA = Path("/usr/share/ca-certificates/mozilla")
UPDATE_CA_CERTIFICATES = Path("/usr/sbin/update-ca-certificates")


def debian_tree(root: Path, *, packaged: int = 3) -> list[str]:
    """A Debian layout under ``root``: a few packaged CAs listed in a certsconf, an empty hooks
    dir (so no hook touches the machine), an empty local anchor dir, and an os-release file.
    Returns the packaged names as listed in the certsconf."""
    (root / "etc/ssl/certs").mkdir(parents=True)
    (root / "etc/ca-certificates/update.d").mkdir(parents=True)
    (root / "usr/local/share/ca-certificates").mkdir(parents=True)
    certsdir = root / "usr/share/ca-certificates/mozilla"
    certsdir.mkdir(parents=True)
    names = []
    for source in sorted(MOZILLA.glob("*.crt"))[:packaged]:
        (certsdir / source.name).write_bytes(source.read_bytes())
        names.append(f"mozilla/{source.name}")
    (root / "etc/ca-certificates.conf").write_text("# packaged CAs\n" + "".join(f"{n}\n" for n in names))
    (root / "etc/os-release").write_text('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n')
    return names


def redirect_flags(root: Path) -> list[str]:
    return [
        "--certsconf",
        str(root / "etc/ca-certificates.conf"),
        "--certsdir",
        str(root / "usr/share/ca-certificates"),
        "--localcertsdir",
        str(root / "usr/local/share/ca-certificates"),
        "--etccertsdir",
        str(root / "etc/ssl/certs"),
        "--hooksdir",
        str(root / "etc/ca-certificates/update.d"),
    ]


def write_script(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def counting_wrapper(bindir: Path, log: Path) -> Path:
    """``update-ca-certificates`` first on PATH: logs its argv, then runs the real one."""
    return write_script(
        bindir / "update-ca-certificates",
        f'echo "$0 $*" >> {shlex.quote(str(log))}\nexec {UPDATE_CA_CERTIFICATES} "$@"\n',
    )


def recording_stand_in(
    bindir: Path, name: str, log: Path, anchors: Path, bundle: Path, *, exit_code: int = 0, sleep: float = 0
) -> Path:
    """A stand-in refresh command: records its argv, then (on success) concatenates the anchor
    files into the bundle, which is what the real command's output amounts to for our checks."""
    body = f'echo "$*" >> {shlex.quote(str(log))}\n'
    if sleep:
        body += f"sleep {sleep}\n"
    if exit_code:
        body += f'echo "stand-in {name}: cannot write the bundle" >&2\nexit {exit_code}\n'
    else:
        body += (
            f"mkdir -p {shlex.quote(str(bundle.parent))}\n"
            f"cat {shlex.quote(str(anchors))}/* > {shlex.quote(str(bundle))}\n"
        )
    return write_script(bindir / name, body)


def calls(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def openssl_verify(capath: Path, leaf: Path, untrusted: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``openssl verify`` against ``capath`` only: no default file, no default store."""
    argv = ["openssl", "verify", "-no-CAfile", "-no-CAstore", "-CApath", str(capath)]
    if untrusted is not None:
        argv += ["-untrusted", str(untrusted)]
    return subprocess.run(
        [*argv, str(leaf)],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "SSL_CERT_DIR": "/nonexistent", "SSL_CERT_FILE": "/nonexistent"},
    )


def config_with_root(path: Path, root_pem: Path, sha256: str, *, include: bool = True, target: str = "") -> Path:
    """A config that adds ``test-root`` (a custom root from a file) and optional target tables."""
    lines = [
        'include = ["test-root"]' if include else "",
        "[[roots]]",
        'id = "test-root"',
        f'sha256 = "{sha256}"',
        f'file = "{root_pem}"',
        'name = "rotator test root"',
        target,
    ]
    path.write_text("\n".join(lines) + "\n")
    return path
