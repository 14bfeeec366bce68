"""The service on a real Debian 12 host under a real systemd (PID 1 of a systemd-nspawn container).

docs/service.md is followed word for word: its shell blocks run inside the container as written,
with the shipped units and the shipped example config, edited as a user would (its commented targets
enabled). The one stand-in: the package index, which the container cannot reach, is a wheelhouse
built here (/etc/pip.conf inside points pip at it). Then: READY after the first sync, every target
written and read back by its real consumer (keytool of the image's JRE, openssl), Debian's Java hook
run from inside the sandbox, reload (and a broken config on reload), stop in the middle of a cycle,
a configuration error that stops the unit instead of restart-looping, and the timer's oneshot.

Needs root, systemd-nspawn, nsenter and debootstrap (.ci/run installs them). The image is built once
into /var/cache/rotator-tests (or $ROTATOR_TEST_CACHE) and reused.
"""

from __future__ import annotations

import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from rotator.certs import parse_many
from rotator.roots.catalog import Catalog
from tests.support.nspawn import REPO, Container, ensure_image, missing_tools
from tests.support.paths import embedded_pem

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="booting a container needs root"),
    pytest.mark.skipif(bool(missing_tools()), reason=f"missing: {', '.join(missing_tools())}"),
    # The wheelhouse is built with this interpreter for the image's Python 3.11 (twofish has no wheel).
    pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="the image's Python is 3.11; the 3.11 run covers it"),
]

DOCS = REPO / "docs" / "service.md"
CONFIG = "/etc/rotator/rotator.toml"
PASSWORD = "s3cret-keystore-pass"
CATALOG = Catalog.builtin()
POSTGRESQL_IDS = [r.id for r in CATALOG.select("azure-postgresql", [])]
MINIMAL_IDS = [r.id for r in CATALOG.select("azure-minimal", [])]
ROOTS, FEWER = f"{len(POSTGRESQL_IDS)} roots", f"{len(MINIMAL_IDS)} roots"
TIMINGS: dict[str, float] = {}


def doc_block(heading: str) -> str:
    """The first ```sh block under the docs/service.md heading that starts with ``heading``."""
    text = DOCS.read_text()
    start = text.index(f"\n## {heading}")
    match = re.compile(r"```sh\n(.*?)```", re.S).search(text, start)
    assert match, f"no sh block under {heading!r}"
    return match.group(1)


def enable_example_targets(example: str) -> str:
    """What a user does in sudoedit: enable the example's jks, system and pem-dir targets (not the
    jks target's on_change, which restarts an application this host does not have), the metrics file,
    and offline mode (this host has no internet access)."""
    out: list[str] = []
    lines = example.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if line == "# [[targets]]" and re.match(r'# kind = "(jks|system|pem-dir)"', nxt):
            out.append("[[targets]]")
            i += 1
            while i < len(lines) and re.match(r"# [a-z_]+ = ", lines[i]):
                if not lines[i].startswith("# on_change"):
                    out.append(lines[i][2:])
                i += 1
            continue
        if line.startswith(("# metrics_file = ", "# offline = true")):
            line = line[2:]
        out.append(line)
        i += 1
    return "\n".join(out) + "\n"


def wait_for(what: str, check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.2)


class Host:
    """The booted container, with helpers that speak systemd."""

    def __init__(self, container: Container) -> None:
        self.c = container

    def sh(
        self, script: str, *, check: bool = True, stdin: str | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        return self.c.run(["sh", "-e", "-c", f"cd /root/src\n{script}"], check=check, input=stdin, timeout=timeout)

    def show(self, unit: str) -> dict[str, str]:
        props = "ActiveState,SubState,Result,ExecMainStatus,ExecMainCode,NRestarts,MainPID,StatusText"
        out = self.c.run(["systemctl", "show", unit, "-p", props], timeout=30).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def write(self, inside: str, text: str) -> None:
        self.c.path(inside).write_text(text)

    def read(self, inside: str) -> str:
        return self.c.path(inside).read_text()

    def journal(self, unit: str) -> str:
        return self.c.journal(unit)

    def java_aliases(self) -> set[str]:
        out = self.c.run(["keytool", "-list", "-cacerts", "-storepass", "changeit"], timeout=60).stdout
        return set(re.findall(r"^(debian:rotator-[^,]+),", out, re.M))


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    started = time.monotonic()
    image = ensure_image()
    TIMINGS["image ready (cached or built)"] = time.monotonic() - started
    work = tmp_path_factory.mktemp("systemd-host")
    container = Container(image, work, f"rotator-test-{os.getpid()}")
    try:
        t = time.monotonic()
        container.boot()
        TIMINGS["extract and boot to running"] = time.monotonic() - t
        # The package index, as far as this test is concerned: wheels built here.
        t = time.monotonic()
        wheels = container.path("/opt/wheels")
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "-q", "-w", str(wheels), str(REPO), "setuptools", "wheel"],
            check=True,
            timeout=600,
            capture_output=True,
        )
        container.path("/etc/pip.conf").write_text("[global]\nno-index = true\nfind-links = /opt/wheels\n")
        TIMINGS["wheelhouse"] = time.monotonic() - t
        # A checkout of the repository, as the docs assume, in /root/src.
        shutil.copytree(
            REPO,
            container.path("/root/src"),
            ignore=shutil.ignore_patterns(
                ".git", ".venv*", "__pycache__", "*.egg-info", ".pytest_cache", ".mypy_cache", ".ruff_cache", "build"
            ),
        )
        yield Host(container)
    finally:
        container.poweroff()
        container.remove()
        print("\nreal-systemd timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in TIMINGS.items()))


@pytest.fixture(scope="module")
def installed(host: Host) -> Host:
    """docs/service.md, steps 1 to 3, as written; the config edited in between as a user would."""
    t = time.monotonic()
    host.sh(doc_block("1. Install"))
    TIMINGS["install (step 1)"] = time.monotonic() - t
    assert host.c.run(["rotator", "--version"]).stdout.startswith("rotator ")
    shipped = (REPO / "systemd" / "rotator.toml.example").read_text()
    assert host.read(CONFIG) == shipped
    host.write(CONFIG, enable_example_targets(shipped))
    host.sh(doc_block("2. Configure"), stdin=PASSWORD + "\n")  # the password, typed, then Ctrl-D
    t = time.monotonic()
    host.sh(doc_block("3. Let the sandbox"))  # enable --now returns once the daemon said READY=1
    TIMINGS["dropin + enable --now to READY"] = time.monotonic() - t
    return host


def test_ready_and_every_example_target_written(installed: Host) -> None:
    host = installed
    state = host.show("rotator.service")
    assert (state["ActiveState"], state["SubState"]) == ("active", "running"), state
    assert state["StatusText"].startswith(f"ok: 4 targets, {ROOTS}; changed 4; compliant"), state
    wanted = {parse_many(embedded_pem(i))[0].sha256 for i in POSTGRESQL_IDS}

    # The drop-in both units read, generated from the config.
    dropin = host.read("/etc/systemd/system/rotator.service.d/rotator-sandbox.conf")
    for line in (
        "ReadWritePaths=-/etc/azure",
        "ReadWritePaths=-/opt/myapp",
        "ReadWritePaths=-/var/lib/node_exporter/textfile_collector",
        "LoadCredential=rotator-storepass:/etc/credstore/rotator-storepass",
    ):
        assert line in dropin.splitlines()
    assert host.c.path("/etc/systemd/system/rotator-sync.service.d/rotator-sandbox.conf").is_symlink()
    assert "rotator-sandbox.conf" in host.c.run(["systemctl", "cat", "rotator-sync.service"]).stdout
    # The installed units with their drop-in, as this systemd reads them: clean, and still hardened.
    verify = host.c.run(
        ["systemd-analyze", "verify", "rotator.service", "rotator-sync.service", "rotator-sync.timer"], check=False
    )
    assert verify.returncode == 0 and verify.stderr.strip() == "", verify.stderr
    security = host.c.run(["systemd-analyze", "security", "rotator.service"], check=False).stdout
    exposure = re.search(r"Overall exposure level for rotator.service: (\d+\.\d+)", security)
    assert exposure and float(exposure.group(1)) <= 2.5, security[-500:]

    pem = {c.sha256 for c in parse_many(host.c.path("/etc/azure/azure-roots.pem").read_bytes())}
    assert pem == wanted
    # The keystore, read by the image's keytool with the password the credential holds.
    jks = host.c.run(["keytool", "-list", "-v", "-keystore", "/opt/myapp/truststore.jks", "-storepass", PASSWORD])
    assert {f"rotator-{i}" for i in POSTGRESQL_IDS} <= set(re.findall(r"^Alias name: (\S+)", jks.stdout, re.M))
    # pem-dir: openssl finds each root through its hash link.
    for root_id in POSTGRESQL_IDS:
        host.c.run(
            [
                "openssl",
                "verify",
                "-no-CAfile",
                "-no-CAstore",
                "-CApath",
                "/etc/azure/certs",
                f"/etc/azure/certs/rotator-{root_id}.pem",
            ]
        )
    # system: the bundle, and the JDK's cacerts through Debian's hook, run from inside the sandbox.
    bundle = {c.sha256 for c in parse_many(host.c.path("/etc/ssl/certs/ca-certificates.crt").read_bytes())}
    assert wanted <= bundle
    assert host.java_aliases() == {f"debian:rotator-{i}.pem" for i in POSTGRESQL_IDS}
    metrics = host.read("/var/lib/node_exporter/textfile_collector/rotator.prom")
    assert "rotator_compliant 1.0" in metrics

    journal = host.journal("rotator.service")
    assert "Warning" not in journal and "Traceback" not in journal, journal


def test_reload_applies_a_new_config_and_keeps_the_old_one_when_broken(installed: Host) -> None:
    host = installed
    assert not host.c.path("/bin/kill").exists() and not host.c.path("/usr/bin/kill").exists(), "no procps here"
    pid = host.show("rotator.service")["MainPID"]
    config = host.read(CONFIG)
    host.write(CONFIG, config.replace('profile = "azure-postgresql"', 'profile = "azure-minimal"'))
    host.c.run(["systemctl", "reload", "rotator.service"])
    wait_for("the reloaded config's sync", lambda: FEWER in host.show("rotator.service")["StatusText"])
    state = host.show("rotator.service")
    assert state["MainPID"] == pid and state["StatusText"].startswith(f"ok: 4 targets, {FEWER}; changed 4"), state
    # The root the profile dropped left the JDK's cacerts too (Debian's hook never removes an alias).
    assert host.java_aliases() == {f"debian:rotator-{i}.pem" for i in MINIMAL_IDS}

    host.write(CONFIG, config.replace('profile = "azure-postgresql"', "profile = [\n"))
    host.c.run(["systemctl", "reload", "rotator.service"])
    wait_for("the reload to be refused", lambda: "config reload failed" in host.show("rotator.service")["StatusText"])
    state = host.show("rotator.service")
    assert (state["ActiveState"], state["MainPID"]) == ("active", pid), state
    assert "keeping the previous config" in host.journal("rotator.service")
    host.write(CONFIG, config)
    host.c.run(["systemctl", "reload", "rotator.service"])
    wait_for("the original config again", lambda: ROOTS in host.show("rotator.service")["StatusText"])


class StallingServer:
    """Plain HTTP on 127.0.0.1 (the container shares this network): answers with headers, then
    never sends the body, so a cycle downloading from it is stuck mid-download."""

    def __init__(self) -> None:
        self.hit = threading.Event()
        self.release = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", "1500")
                self.end_headers()
                self.wfile.flush()
                outer.hit.set()
                outer.release.wait(60)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


def test_stop_in_the_middle_of_a_cycle_is_prompt_and_clean(installed: Host) -> None:
    host = installed
    config = host.read(CONFIG)
    server = StallingServer()
    try:
        # Online, with a mirror (tried first for every root) that never finishes an answer.
        online = re.sub(r"^offline = true.*\n", "", config, flags=re.M)
        host.write(CONFIG, online.replace("[download]\n", f'[download]\nmirror = "http://127.0.0.1:{server.port}/"\n'))
        host.c.run(["systemctl", "reload", "rotator.service"])
        assert server.hit.wait(60), "the reloaded cycle did not start downloading"
        t = time.monotonic()
        host.c.run(["systemctl", "stop", "rotator.service"], timeout=60)
        TIMINGS["stop mid-download"] = time.monotonic() - t
    finally:
        server.close()
        host.write(CONFIG, config)
    state = host.show("rotator.service")
    # Stopped by its own SIGTERM handling (exit 0), not killed after TimeoutStopSec (Result=timeout).
    assert (state["ActiveState"], state["Result"], state["ExecMainStatus"]) == ("inactive", "success", "0"), state
    assert "abandoned before writing" in host.journal("rotator.service")
    host.c.run(["systemctl", "start", "rotator.service"])
    assert host.show("rotator.service")["StatusText"].startswith(f"ok: 4 targets, {ROOTS}; no change"), host.show(
        "rotator.service"
    )


def test_a_config_error_stops_the_unit_instead_of_restarting_it(installed: Host) -> None:
    host = installed
    config = host.read(CONFIG)
    host.write(CONFIG, config.replace('profile = "azure-postgresql"', 'profile = "no-such-profile"'))
    assert host.c.run(["systemctl", "restart", "rotator.service"], check=False).returncode != 0
    state = host.show("rotator.service")
    # Without RestartPreventExitStatus=2 the unit would sit in "auto-restart" and try again in 30 s.
    assert (state["ActiveState"], state["SubState"], state["ExecMainStatus"]) == ("failed", "failed", "2"), state
    assert state["NRestarts"] == "0"

    # A target the sandbox does not allow yet: one line naming it and the command; no restart loop.
    host.write(CONFIG, config + '\n[[targets]]\nkind = "pem"\npath = "/srv/newapp/roots.pem"\n')
    assert host.c.run(["systemctl", "restart", "rotator.service"], check=False).returncode != 0
    state = host.show("rotator.service")
    assert (state["ActiveState"], state["ExecMainStatus"], state["NRestarts"]) == ("failed", "2", "0"), state
    journal = host.journal("rotator.service")
    assert re.search(r"cannot write /srv/newapp \(.*read-only file system\).*rotator service dropin", journal), journal[
        -2000:
    ]
    host.sh(doc_block("3. Let the sandbox").replace("enable --now", "restart").replace(" rotator.service", " rotator"))
    state = host.show("rotator.service")
    assert state["StatusText"].startswith(f"ok: 5 targets, {ROOTS}; changed 1; compliant"), state
    assert {c.sha256 for c in parse_many(host.c.path("/srv/newapp/roots.pem").read_bytes())} == {
        parse_many(embedded_pem(i))[0].sha256 for i in POSTGRESQL_IDS
    }


def test_the_timers_oneshot_syncs(installed: Host) -> None:
    host = installed
    host.c.run(["systemctl", "disable", "--now", "rotator.service"])
    host.c.run(["systemctl", "enable", "--now", "rotator-sync.timer"])
    assert host.c.run(["systemctl", "is-active", "rotator-sync.timer"]).stdout.strip() == "active"
    assert "rotator-sync.service" in host.c.run(["systemctl", "list-timers", "--all", "--no-pager"]).stdout
    host.c.path("/etc/azure/azure-roots.pem").unlink()  # drift for the oneshot to repair
    t = time.monotonic()
    host.c.run(["systemctl", "start", "rotator-sync.service"], timeout=300)  # what the timer starts
    TIMINGS["oneshot sync"] = time.monotonic() - t
    state = host.show("rotator-sync.service")
    assert (state["Result"], state["ExecMainStatus"]) == ("success", "0"), state
    journal = host.journal("rotator-sync.service")
    assert "pem:/etc/azure/azure-roots.pem: added" in journal and "system:debian: up to date" in journal, journal
    assert host.c.path("/etc/azure/azure-roots.pem").exists()
    assert "Warning" not in journal
