"""A Debian 12 host with a real systemd as PID 1: an image booted with systemd-nspawn.

The image is built once by ``tests/support/images/systemd.sh`` and kept as a tarball in a cache
directory; each test extracts it into its own directory. The host has no systemd or D-Bus, so
the container runs with ``--register=no --keep-unit`` and commands reach it through ``nsenter``
(``machinectl`` would need the host's bus). It shares the host's network.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from tests.support.paths import REPO

BUILD_SCRIPT = REPO / "tests" / "support" / "images" / "systemd.sh"
CACHE_DIR = Path(os.environ.get("ROTATOR_TEST_CACHE", "/var/cache/rotator-tests"))
# Named by the recipe's hash: a changed recipe builds a new image instead of reusing a stale one.
IMAGE = CACHE_DIR / f"bookworm-systemd-{hashlib.sha256(BUILD_SCRIPT.read_bytes()).hexdigest()[:12]}.tar"
INSIDE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def missing_tools() -> list[str]:
    return [t for t in ("systemd-nspawn", "nsenter", "debootstrap", "tar") if shutil.which(t) is None]


def ensure_image(timeout: float = 1200) -> Path:
    """The cached image, built first when the cache lacks it."""
    if not IMAGE.is_file():
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(["bash", str(BUILD_SCRIPT), str(IMAGE)], check=True, timeout=timeout, stdout=subprocess.DEVNULL)
    return IMAGE


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            out.append(int(entry))
    return out


class Container:
    def __init__(self, image: Path, workdir: Path, name: str) -> None:
        self.image = image
        self.workdir = workdir
        self.rootfs = workdir / "rootfs"
        self.name = name
        self.boot_log = workdir / "boot.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.leader: int | None = None

    def path(self, inside: str) -> Path:
        """A path inside the container as seen from this machine."""
        return self.rootfs / inside.lstrip("/")

    def boot(self, timeout: float = 90) -> None:
        self.rootfs.mkdir(parents=True)
        # GNU tar as root keeps owners, modes, devices and links: the tree is the image as built.
        subprocess.run(["tar", "-C", str(self.rootfs), "-xf", str(self.image)], check=True, timeout=300)
        with self.boot_log.open("wb") as log:
            self.proc = subprocess.Popen(
                [
                    "systemd-nspawn",
                    "-D",
                    str(self.rootfs),
                    "-M",
                    self.name,
                    "--register=no",
                    "--keep-unit",
                    "--console=pipe",
                    "-b",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while self.leader is None:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"container did not start; boot log:\n{self.boot_log.read_text()[-3000:]}")
            children = _children(self.proc.pid)
            self.leader = children[0] if children else None
            time.sleep(0.1)
        state = ""
        while time.monotonic() < deadline:
            state = self.run(["systemctl", "is-system-running"], check=False, timeout=10).stdout.strip()
            if state in ("running", "degraded"):
                return
            time.sleep(0.5)
        raise RuntimeError(f"systemd in the container did not finish booting ({state!r})")

    def run(
        self, argv: list[str] | str, *, check: bool = True, timeout: float = 120, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside (a string runs through sh -c); output captured as text."""
        assert self.leader is not None, "boot the container first"
        command = ["sh", "-c", argv] if isinstance(argv, str) else argv
        result = subprocess.run(
            [
                "nsenter",
                "-t",
                str(self.leader),
                "-a",
                "--",
                "env",
                "-i",
                f"PATH={INSIDE_PATH}",
                "LANG=C.UTF-8",
                "HOME=/root",
                *command,
            ],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"inside the container, {command} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
            )
        return result

    def journal(self, unit: str) -> str:
        return self.run(["journalctl", "-u", unit, "--no-pager", "-o", "cat"], check=False).stdout

    def poweroff(self, timeout: float = 60) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None and self.leader is not None:
            self.run(["systemctl", "poweroff"], check=False, timeout=15)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        if self.proc.poll() is None:
            # Bounded: nspawn ends its container when terminated; then it is killed outright.
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=15)

    def remove(self) -> None:
        # nspawn unmounts what it mounted when it exits; anything still mounted below the tree
        # (a crashed run) is unmounted before removing, so rm never walks into a mount.
        mounts = [
            line.split()[1]
            for line in Path("/proc/self/mounts").read_text().splitlines()
            if line.split()[1].startswith(str(self.rootfs))
        ]
        for mount in sorted(mounts, reverse=True):
            subprocess.run(["umount", "-l", mount], check=False, timeout=30)
        subprocess.run(["rm", "-rf", "--one-file-system", str(self.workdir)], check=False, timeout=120)
