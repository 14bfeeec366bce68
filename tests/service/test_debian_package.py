"""The Debian package on a real Debian 12 host under a real systemd (PID 1 of a systemd-nspawn container).

Built from this tree by .ci/build-deb (or taken from $ROTATOR_DEB), copied in and installed with
docs/service.md's own commands ("The Debian package"): nothing enabled or started by the install; the
config edited as a user would (offline, plus the example's system target), `rotator service dropin`
and `systemctl enable --now` give a daemon that reported ready after a sync that wrote the pem bundle
and the OS store's anchors; a reinstall restarts the running daemon. Then `apt remove` stops it and
leaves every trust store byte for byte as it was, and `apt purge` removes rotator's own files and
nothing else. The container installs from the .deb alone: everything it depends on is in the image.

Needs root, systemd-nspawn, nsenter, debootstrap and Debian's packaging tools (.ci/run installs them).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rotator.roots.catalog import Catalog
from tests.support.nspawn import REPO, Container, ensure_image, missing_tools

BUILD_TOOLS = ("dpkg-buildpackage", "dh", "dh_virtualenv")
PREBUILT = os.environ.get("ROTATOR_DEB")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="booting a container needs root"),
    pytest.mark.skipif(bool(missing_tools()), reason=f"missing: {', '.join(missing_tools())}"),
    # The package runs Debian's python3.11 whatever runs the tests: one run of the suite covers it.
    pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="the 3.11 run covers the package"),
]

DOCS = REPO / "docs" / "service.md"
CONFIG = "/etc/rotator/rotator.toml"
BUNDLE = "/etc/azure/azure-roots.pem"
ANCHORS = "/usr/local/share/ca-certificates"
UNITS = ("rotator.service", "rotator-sync.service", "rotator-sync.timer")
ROOT_IDS = [r.id for r in Catalog.builtin().select("azure-postgresql", [])]
# rotator's own files: what purge removes, and only these.
OWN = (
    "/etc/rotator",
    "/var/lib/rotator",
    "/var/cache/rotator",
    "/etc/systemd/system/rotator.service.d",
    "/etc/systemd/system/rotator-sync.service.d",
    "/etc/systemd/system/multi-user.target.wants/rotator.service",
)
TIMINGS: dict[str, float] = {}


def doc_blocks(heading: str) -> list[str]:
    """The ```sh blocks of the docs/service.md section ``heading`` (up to the next heading)."""
    text = DOCS.read_text()
    match = re.search(rf"^#+ {re.escape(heading)}\n", text, re.M)
    assert match, f"no heading {heading!r} in docs/service.md"
    end = re.compile(r"^#", re.M).search(text, match.end())
    section = text[match.end() : end.start() if end else len(text)]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    assert blocks, f"no sh block under {heading!r}"
    return blocks


def configured(example: str) -> str:
    """What a user does in sudoedit on a host without internet access: offline mode, and the
    example's system target next to its pem bundle."""
    text = example.replace("# offline = true", "offline = true", 1)
    system = '# [[targets]]\n# kind = "system"'
    assert system in text and "offline = true" in text
    return text.replace(system, '[[targets]]\nkind = "system"', 1)


def wait_for(what: str, check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.2)


class Host:
    def __init__(self, container: Container) -> None:
        self.c = container

    def sh(
        self, script: str, *, check: bool = True, timeout: float = 300, network: bool = True
    ) -> subprocess.CompletedProcess[str]:
        # In /srv, where the .deb is: apt's unprivileged downloader may read it there (not in /root).
        argv = ["sh", "-e", "-c", f"cd /srv\n{script}"]
        return self.c.run(argv if network else ["unshare", "-n", *argv], check=check, timeout=timeout)

    def show(self, unit: str) -> dict[str, str]:
        props = "LoadState,ActiveState,SubState,UnitFileState,MainPID,StatusText"
        out = self.c.run(["systemctl", "show", unit, "-p", props], timeout=30).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def exists(self, inside: str) -> bool:
        return os.path.lexists(self.c.path(inside))

    def stores(self) -> dict[str, str]:
        """Every trust store file rotator wrote or a refresh derived, by SHA-256."""
        paths = [
            BUNDLE,
            "/etc/ssl/certs/ca-certificates.crt",
            "/etc/ssl/certs/java/cacerts",
            *(f"{ANCHORS}/{p.name}" for p in sorted(self.c.path(ANCHORS).iterdir())),
        ]
        return {p: hashlib.sha256(self.c.path(p).read_bytes()).hexdigest() for p in paths}


@pytest.fixture(scope="module")
def deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if PREBUILT:
        return Path(PREBUILT)
    missing = [t for t in BUILD_TOOLS if shutil.which(t) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} needed to build the package (.ci/run installs debhelper and dh-virtualenv)")
    t = time.monotonic()
    out = tmp_path_factory.mktemp("deb")
    subprocess.run([str(REPO / ".ci" / "build-deb"), str(out)], check=True, timeout=1200, capture_output=True)
    TIMINGS["build the .deb"] = time.monotonic() - t
    (built,) = out.glob("rotator_*.deb")
    return built


@pytest.fixture(scope="module")
def host(deb: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    image = ensure_image()
    container = Container(image, tmp_path_factory.mktemp("deb-host"), f"rotator-deb-{os.getpid()}")
    try:
        t = time.monotonic()
        container.boot()
        TIMINGS["extract and boot"] = time.monotonic() - t
        shutil.copy(deb, container.path(f"/srv/{deb.name}"))
        yield Host(container)
    finally:
        container.poweroff()
        container.remove()
        print("\ndebian package timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in TIMINGS.items()))


def test_install_enable_sync_remove_purge(host: Host) -> None:
    # Installed with the documented command, from the .deb alone: no network, nothing else fetched.
    t = time.monotonic()
    install, start = doc_blocks("Install")
    installed = host.sh(install, timeout=600, network=False)
    TIMINGS["apt install"] = time.monotonic() - t
    assert host.c.run(["dpkg-query", "-W", "-f", "${Status}", "rotator"]).stdout == "install ok installed"
    assert host.c.run(["rotator", "--version"]).stdout.startswith("rotator ")
    assert os.readlink(host.c.path("/usr/bin/rotator")) == "/opt/rotator/bin/rotator"
    assert "Setting up rotator" in installed.stdout, installed.stdout

    # The units as shipped (their ExecStart= names /opt/rotator, where the package put it), not
    # enabled, not started; the config is the example, kept as a conffile.
    for unit in UNITS:
        assert host.c.path(f"/lib/systemd/system/{unit}").read_bytes() == (REPO / "systemd" / unit).read_bytes()
        state = host.show(unit)
        assert state["LoadState"] == "loaded" and state["ActiveState"] == "inactive", (unit, state)
    assert host.show("rotator.service")["UnitFileState"] == "disabled"
    assert host.show("rotator-sync.timer")["UnitFileState"] == "disabled"
    example = (REPO / "systemd" / "rotator.toml.example").read_text()
    assert host.c.path(CONFIG).read_text() == example
    conffiles = host.c.run(["dpkg-query", "-W", "-f", "${Conffiles}", "rotator"]).stdout
    assert CONFIG in conffiles.split(), conffiles
    verify = host.c.run(["systemd-analyze", "verify", *UNITS], check=False)
    assert verify.returncode == 0 and verify.stderr.strip() == "", verify.stderr
    assert not host.exists(BUNDLE)

    # Configured, the sandbox following the config, enabled and started: a daemon that synced.
    host.c.path(CONFIG).write_text(configured(example))
    t = time.monotonic()
    host.sh(start, timeout=600)
    TIMINGS["dropin + enable --now to READY"] = time.monotonic() - t
    state = host.show("rotator.service")
    assert (state["ActiveState"], state["SubState"], state["UnitFileState"]) == ("active", "running", "enabled")
    assert state["StatusText"].startswith(f"ok: 2 targets, {len(ROOT_IDS)} roots; changed 2;"), state
    bundle = host.c.path(BUNDLE).read_text()
    assert all(f"# rotator-{i}: " in bundle for i in ROOT_IDS), bundle[:500]
    anchors = {p.name for p in host.c.path(ANCHORS).iterdir()}
    assert {f"rotator-{i}.crt" for i in ROOT_IDS} <= anchors, anchors
    assert host.c.run(["rotator", "status"]).returncode == 0

    # A reinstall (what an upgrade does to the units) restarts the running daemon, and it syncs again.
    pid = state["MainPID"]
    host.sh("apt-get install -y -q --reinstall ./rotator_*.deb", timeout=600)
    wait_for(
        "the daemon restarted and ready",
        lambda: (s := host.show("rotator.service"))["SubState"] == "running" and s["MainPID"] not in ("0", pid),
    )
    assert host.show("rotator-sync.timer")["ActiveState"] == "inactive"
    stores = host.stores()

    remove, purge = (line for line in doc_blocks("Remove")[0].splitlines() if line.strip())
    # Removed: stopped, the program and the units gone; every store as it was; config, state, cache kept.
    removed = host.sh(remove.replace("apt ", "apt -y ", 1))
    state = host.show("rotator.service")
    assert state["ActiveState"] == "inactive" and state["LoadState"] == "not-found", state
    for gone in ("/opt/rotator", "/usr/bin/rotator", *(f"/lib/systemd/system/{u}" for u in UNITS)):
        assert not host.exists(gone), gone
    assert host.stores() == stores
    for kept in (CONFIG, "/var/lib/rotator", "/var/cache/rotator"):
        assert host.exists(kept), kept

    # Purged: rotator's own files gone, nothing else touched, and nothing said about the stores.
    purged = host.sh(purge.replace("apt ", "apt -y ", 1))
    for gone in OWN:
        assert not host.exists(gone), gone
    assert host.stores() == stores
    assert host.exists("/etc/azure") and host.exists("/etc/systemd/system/multi-user.target.wants")
    status = host.c.run(["dpkg-query", "-W", "-f", "${Status}", "rotator"], check=False).stdout
    assert "installed" not in status.replace("not-installed", ""), status
    for said in (removed, purged):
        # apt's own note that its command line is not an API is no message of the package's.
        output = "\n".join(
            line for line in (said.stdout + said.stderr).splitlines() if "does not have a stable CLI" not in line
        )
        assert not re.search(r"warning|error|not empty", output, re.I), output
