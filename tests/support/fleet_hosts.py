"""Managed hosts for the Ansible tests: copies of a small Debian 12 tree, reached with a chroot connection.

The tree is built once by tests/support/images/fleet.sh (.ci/run does it when it is missing) and kept
as a tarball in a cache directory; each test module extracts its own copies, so the hosts are
separate root filesystems that nothing else touches. Ansible runs from this venv against them
with the collection built and installed from ansible/ as a user would.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.paths import REPO

COLLECTION = REPO / "ansible" / "rotator" / "fleet"
BUILD_SCRIPT = REPO / "tests" / "support" / "images" / "fleet.sh"
CACHE = Path(os.environ.get("ROTATOR_TEST_CACHE", "/var/cache/rotator-tests"))
BIN = Path(sys.executable).parent


def image_path() -> Path:
    """The cached tarball; its name follows the build script, so a changed script means a new image."""
    digest = hashlib.sha256(BUILD_SCRIPT.read_bytes()).hexdigest()[:12]
    return CACHE / f"fleet-bookworm-{digest}.tar"


def require_tools() -> Path:
    """The image, or a skip that says how to get it (in CI a missing piece is a failure)."""
    image = image_path()
    missing = []
    if not (BIN / "ansible-playbook").exists():
        missing.append(f"ansible-playbook in {BIN} (pip install ansible)")
    if not image.exists():
        missing.append(f"the image {image} (bash {BUILD_SCRIPT.relative_to(REPO)} {image})")
    if os.geteuid() != 0:
        missing.append("root (chroot)")
    if missing:
        message = "fleet tests need " + ", ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return image


@dataclass
class Play:
    """One ansible-playbook run: exit code, text output, and the JSON callback's document when used."""

    rc: int
    out: str
    err: str
    doc: dict[str, Any] | None = None

    def stats(self, host: str) -> dict[str, int]:
        assert self.doc is not None
        return dict(self.doc["stats"].get(host, {}))

    def results(self, task_name: str) -> dict[str, dict[str, Any]]:
        """host -> result of the task named task_name (the last run of it)."""
        assert self.doc is not None
        found: dict[str, dict[str, Any]] = {}
        for play in self.doc["plays"]:
            for task in play["tasks"]:
                name = task["task"]["name"]
                if name == task_name or name.endswith(f" : {task_name}"):  # a role's tasks: "role : name"
                    found.update(task["hosts"])
        assert found, f"no task named {task_name!r} in the run:\n{self.out[-3000:]}"
        return found


@dataclass
class Fleet:
    base: Path
    roots: dict[str, Path]  # host name -> its root filesystem
    hostvars: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def hosts(self) -> list[str]:
        return list(self.roots)

    def path(self, host: str, inside: str) -> Path:
        """A path inside a host's root filesystem, as seen from here."""
        return self.roots[host] / inside.lstrip("/")

    def inventory(self, overrides: dict[str, dict[str, str]] | None = None, unreachable: str | None = None) -> Path:
        """The hosts (with per-host variables overridden), and optionally one that cannot be reached:
        an ssh host on a loopback port where nothing listens."""
        overrides = overrides or {}
        lines = ["[fleet]"]
        for name, root in self.roots.items():
            values = dict(
                self.hostvars.get(name, {}),
                ansible_host=str(root),
                ansible_connection="community.general.chroot",
                **overrides.get(name, {}),
            )
            lines.append(name + "".join(f" {k}={json.dumps(v)}" for k, v in values.items()))
        if unreachable:
            values = dict(
                self.hostvars.get(unreachable, {}),
                ansible_connection="ssh",
                ansible_host="127.0.0.1",
                ansible_port=str(closed_port()),
                ansible_ssh_common_args="-o ConnectTimeout=5 -o StrictHostKeyChecking=no",
            )
            lines.append(unreachable + "".join(f" {k}={json.dumps(v)}" for k, v in values.items()))
        lines += ["", "[fleet:vars]", "ansible_python_interpreter=/usr/bin/python3", ""]
        path = self.base / f"inventory-{len(list(self.base.glob('inventory-*')))}.ini"
        path.write_text("\n".join(lines))
        return path

    def env(self, callback: str = "ansible.posix.json") -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
        env.update(
            {
                "PATH": f"{BIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "HOME": str(self.base / "home"),
                "ANSIBLE_HOME": str(self.base / "ansible-home"),
                "ANSIBLE_LOCAL_TEMP": str(self.base / "ansible-tmp"),
                "ANSIBLE_COLLECTIONS_PATH": str(self.base / "collections"),
                "ANSIBLE_STDOUT_CALLBACK": callback,
                "ANSIBLE_PIPELINING": "1",
                "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_RETRY_FILES_ENABLED": "0",
                "ANSIBLE_FORKS": "5",
            }
        )
        return env

    def playbook(
        self,
        playbook: str | Path,
        *args: str,
        inventory: Path | None = None,
        callback: str = "ansible.posix.json",
        timeout: float = 600,
    ) -> Play:
        argv = [str(BIN / "ansible-playbook"), "-i", str(inventory or self.inventory()), str(playbook), *args]
        proc = subprocess.run(
            argv, capture_output=True, text=True, env=self.env(callback), timeout=timeout, cwd=self.base
        )
        doc = None
        if callback.endswith("json"):
            start = proc.stdout.find("{")
            assert start >= 0, f"ansible-playbook printed no JSON (rc {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
            doc = json.loads(proc.stdout[start:])
        return Play(proc.returncode, proc.stdout, proc.stderr, doc)

    def write(self, name: str, text: str) -> Path:
        path = self.base / name
        path.write_text(text)
        return path


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_fleet(base: Path, names: tuple[str, ...]) -> Fleet:
    """Extract one root filesystem per host, and install the collection as a user would."""
    image = require_tools()
    roots = {name: base / "hosts" / name for name in names}
    extracting = []
    for root in roots.values():
        root.mkdir(parents=True)
        extracting.append(subprocess.Popen(["tar", "-C", str(root), "-xf", str(image)]))
    for proc in extracting:
        assert proc.wait(timeout=300) == 0
    (base / "home").mkdir()
    built = base / "collection-build"
    env = Fleet(base, roots).env()
    subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", "build", str(COLLECTION), "--output-path", str(built)],
        check=True,
        capture_output=True,
        env=env,
        timeout=120,
    )
    tarball = next(built.glob("rotator-fleet-*.tar.gz"))
    subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", "install", str(tarball), "-p", str(base / "collections")],
        check=True,
        capture_output=True,
        env=env,
        timeout=120,
    )
    return Fleet(base, roots)


def build_wheels(dest: Path) -> Path:
    """rotator and its dependencies as wheels, as docs/service.md says for hosts without a package index."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check", "-w", str(dest), str(REPO)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return dest


def remove_fleet(fleet: Fleet) -> None:
    """The hosts' trees are large: removed at once rather than left to pytest's temp cleanup."""
    removing = [subprocess.Popen(["rm", "-rf", "--one-file-system", str(root)]) for root in fleet.roots.values()]
    for proc in removing:
        proc.wait(timeout=300)


def in_host(
    fleet: Fleet, host: str, *argv: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run a command inside a host, as the chroot connection does."""
    return subprocess.run(
        ["chroot", str(fleet.roots[host]), *argv],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", **(env or {})},
        timeout=timeout,
    )
