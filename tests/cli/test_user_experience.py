"""What a user meets in the first hour: no network, no targets, missing files, flags, messages, help."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from rotator.certs import parse_many
from rotator.cli.arguments import build_parser
from rotator.errors import SourceError
from rotator.roots.catalog import Catalog
from rotator.roots.download import Downloader, DownloadSettings
from rotator.sync import locks
from stores.jdk_discovery import java_on_path
from tests.support import postgres as pg
from tests.support.https_server import HttpsServer, Reply
from tests.support.paths import REPO
from tests.support.pki import make_root
from tests.support.runs import Run, run_process
from tests.support.systree import debian_tree
from tests.support.tls_server import free_port

CATALOG = Catalog.builtin()
ALL = list(CATALOG.profiles["azure-all"])  # the default profile


def custom_root_config(
    tmp_path: Path, sha256: str, *, urls: list[str] = (), file: Path | None = None, target: Path | None = None
) -> Path:
    config = tmp_path / "rotator.toml"
    lines = [
        'profile = "mine"',
        "[profiles]",
        'mine = ["test-root"]',
        "[[roots]]",
        'id = "test-root"',
        f'sha256 = "{sha256}"',
    ]
    if urls:
        lines.append("urls = [" + ", ".join(f'"{u}"' for u in urls) + "]")
    if file is not None:
        lines.append(f'file = "{file}"')
    if target is not None:
        lines += ["[[targets]]", 'kind = "pem"', f'path = "{target}"']
    config.write_text("\n".join(lines) + "\n")
    return config


# ------------------------------------------------------------------ without network


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None, reason="unshare -n needs root")
def test_no_network_one_short_line_for_the_outage_and_the_embedded_copies(tmp_path: Path) -> None:
    bundle = tmp_path / "azure.pem"
    env = dict(os.environ, HOME=str(tmp_path))
    # A network namespace with nothing in it: name resolution fails at once, as on a host without egress.
    proc = subprocess.run(
        [
            "unshare",
            "-n",
            sys.executable,
            "-m",
            "rotator",
            "sync",
            "--no-cache",
            "--state-dir",
            str(tmp_path / "s"),
            "--target",
            f"pem:{bundle}",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=REPO,  # the bound of the whole run
    )
    assert proc.returncode == 0, proc.stderr
    # One line for the outage, not one per root, and it says how not to wait for the network next time.
    assert proc.stderr.splitlines() == [
        f"rotator: WARNING: no download (DNS): {len(ALL)} roots from the embedded copies; --offline skips the network"
    ]
    assert len(parse_many(bundle.read_bytes())) == len(ALL)
    # -v gives each root's reason.
    argv = ["sync", "-v", "--no-cache", "--state-dir", str(tmp_path / "s"), "--target", f"pem:{bundle}"]
    verbose = subprocess.run(
        ["unshare", "-n", sys.executable, "-m", "rotator", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=REPO,
    )
    assert verbose.returncode == 0, verbose.stderr
    for root_id in ALL:
        assert f"root {root_id}: download failed (" in verbose.stderr
    assert verbose.stderr.count("no download (DNS)") == 1


def test_refused_connection_is_not_retried(caplog: pytest.LogCaptureFixture) -> None:
    url = f"https://127.0.0.1:{free_port()}/root.der"
    downloader = Downloader(DownloadSettings(retries=3, backoff=0.01))
    with caplog.at_level(logging.DEBUG, logger="urllib3"), pytest.raises(SourceError) as raised:
        downloader.get(url)
    assert raised.value.short == "connection refused"
    assert not [r for r in caplog.records if "Retrying" in r.getMessage()]
    # The same host and port again in this run: not even a new connection attempt.
    with caplog.at_level(logging.DEBUG, logger="urllib3"), pytest.raises(SourceError) as again:
        downloader.get(url.replace("root.der", "root.pem"))
    assert again.value.short == "connection refused" and "earlier in this run" in str(again.value)
    assert not [r for r in caplog.records if "Starting new HTTPS connection" in r.getMessage()][1:]


def test_refused_urls_then_a_good_one_make_one_line(tmp_path: Path, run, https: HttpsServer) -> None:
    root = make_root("Refused Test Root")
    port = free_port()
    good = https.serve("/good.der", Reply(body=root.der))
    bundle = tmp_path / "b.pem"
    config = custom_root_config(
        tmp_path,
        root.sha256,
        target=bundle,
        urls=[f"https://127.0.0.1:{port}/a.der", f"https://127.0.0.1:{port}/b.der", good],
    )
    result = run("sync", "--config", str(config), "--download-ca-bundle", str(https.ca_file))
    assert result.code == 0, result.err
    assert result.err.splitlines() == [
        f"rotator: WARNING: root test-root: download failed (127.0.0.1:{port}: connection refused), using {good}"
    ]


@pytest.mark.slow
def test_a_slow_download_says_what_it_waits_for(tmp_path: Path, run, https: HttpsServer) -> None:
    root = make_root("Slow Test Root")
    url = https.serve("/slow.der", Reply(body=root.der, delay_seconds=3.5))
    config = custom_root_config(tmp_path, root.sha256, urls=[url], target=tmp_path / "b.pem")
    result = run("sync", "--config", str(config), "--download-ca-bundle", str(https.ca_file))
    assert result.code == 0, result.err
    assert f"rotator: root test-root: waiting for {url} ..." in result.err.splitlines()
    quiet = run("sync", "-q", "--no-cache", "--config", str(config), "--download-ca-bundle", str(https.ca_file))
    assert quiet.code == 0 and quiet.err == "" and quiet.out == ""


# ------------------------------------------------------------------ no targets, missing files, last sync


@pytest.mark.parametrize("command", ["sync", "status"])
def test_no_targets_is_a_usage_error_not_a_success(run, state_dir: Path, command: str) -> None:
    result = run(command, "--offline")
    assert result.code == 2
    assert "no targets configured" in result.err and "--target KIND:PATH" in result.err
    assert "compliant" not in result.out
    assert not (state_dir / "state.json").exists(), "nothing is recorded as a success"


def test_daemon_without_targets_does_not_start(tmp_path: Path, run) -> None:
    config = tmp_path / "empty.toml"
    config.write_text('profile = "azure-minimal"\n')
    result = run("daemon", "--offline", "--config", str(config))
    assert result.code == 2
    assert f"add a [[targets]] table to {config}" in result.err


def test_status_of_a_missing_file_says_so_once_and_last_sync_is_per_target(tmp_path: Path, run) -> None:
    synced, missing = tmp_path / "synced.pem", tmp_path / "missing.pem"
    assert run("sync", "--offline", "--target", f"pem:{synced}").code == 0
    result = run("status", "--offline", "--target", f"pem:{synced}", "--target", f"pem:{missing}")
    assert result.code == 1
    assert "is missing" not in result.out
    flowing = " ".join(result.out.split())  # a long path wraps a line
    assert flowing.count("does not exist") == 2  # its line in the target list, its finding
    assert f"error: pem:{missing}: does not exist: run rotator sync to create it" in flowing
    lines = result.out.splitlines()
    assert "last sync 20" in lines[lines.index(f"  pem:{synced}") + 1]
    assert "never synced" in lines[lines.index(f"  pem:{missing}") + 1]
    doc = json.loads(
        run("status", "--json", "--offline", "--target", f"pem:{synced}", "--target", f"pem:{missing}").out
    )
    by_target = {t["target"]: t for t in doc["targets"]}
    assert by_target[f"pem:{missing}"]["exists"] is False and by_target[f"pem:{missing}"]["last_sync"] is None
    assert by_target[f"pem:{synced}"]["last_sync"].startswith("20")


# ------------------------------------------------------------------ an image tree without the refresh command


@pytest.mark.skipif(os.geteuid() != 0, reason="as root, auto mode would chroot; the note is about the missing tool")
def test_sysroot_without_refresh_tool_keeps_saying_so_and_status_reports_it(tmp_path: Path, run) -> None:
    image = tmp_path / "image"
    debian_tree(image)  # anchors directory, no update-ca-certificates in the image, no bundle
    args = ["--offline", "--profile", "azure-minimal", "--target", "system:debian", "--sysroot", str(image)]
    first = run("sync", *args)
    assert first.code == 0, first.err
    assert "the bundle is not refreshed" in first.out
    second = run("sync", *args)
    assert second.code == 0, second.err
    assert "up to date" not in second.out
    assert "NOT refreshed" in second.out and "the bundle is not refreshed" in second.out
    status = run("status", *args)
    assert status.code == 1
    assert "NOT COMPLIANT" in status.out
    assert "the bundle was not refreshed" in status.out and "update-ca-certificates" in status.out


# ------------------------------------------------------------------ a PATH entry the user cannot search


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root to drop capabilities")
def test_unsearchable_path_entry_is_skipped_not_a_traceback(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o700)
    os.chown(locked, 65534, 65534)  # someone else's private directory, like /root/.cargo/bin for nobody
    jdk = tmp_path / "jdk"
    (jdk / "bin").mkdir(parents=True)
    (jdk / "lib" / "security").mkdir(parents=True)
    java = jdk / "bin" / "java"
    java.write_text("#!/bin/sh\n")
    java.chmod(0o755)
    cacerts = jdk / "lib" / "security" / "cacerts"
    assert (
        run_process(
            "sync",
            "--offline",
            "--profile",
            "azure-minimal",
            "--state-dir",
            str(tmp_path / "s0"),
            "--target",
            f"pkcs12:{cacerts}",
            "--storepass-env",
            "PW",
            env=dict(os.environ, PW="changeit"),
        ).code
        == 0
    )
    env = dict(os.environ, PATH=f"{locked}:{jdk / 'bin'}:{os.environ['PATH']}")
    env.pop("JAVA_HOME", None)
    # Root without the capabilities that bypass file permissions: the locked entry cannot be searched.
    proc = subprocess.run(
        [
            "setpriv",
            "--bounding-set",
            "-dac_override,-dac_read_search",
            "--",
            sys.executable,
            "-m",
            "rotator",
            "sync",
            "--dry-run",
            "--offline",
            "--profile",
            "azure-minimal",
            "--state-dir",
            str(tmp_path / "s"),
            "--target",
            "java-cacerts",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=REPO,
    )
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 0, proc.stderr
    assert f"java-cacerts:{cacerts}" in proc.stdout


def test_java_on_path_skips_entries_that_raise() -> None:
    # A name too long to look up raises instead of answering "no such file", like an unsearchable one.
    assert java_on_path("/" + "x" * 300) is None


# ------------------------------------------------------------------ settings checked for every command


def test_bad_daemon_setting_fails_the_dry_run_that_checks_a_config(tmp_path: Path, run) -> None:
    config = tmp_path / "rotator.toml"
    config.write_text(f'[[targets]]\nkind = "pem"\npath = "{tmp_path / "b.pem"}"\n[daemon]\ninterval = "6 hours"\n')
    result = run("sync", "--dry-run", "--offline", "--config", str(config))
    assert result.code == 2
    assert "daemon.interval: '6 hours' is not a duration" in result.err


# ------------------------------------------------------------------ flags


def test_quiet_prints_nothing_on_success_and_only_errors_on_failure(tmp_path: Path, run) -> None:
    bundle = tmp_path / "b.pem"
    result = run("sync", "-q", "--offline", "--target", f"pem:{bundle}")
    assert (result.code, result.out, result.err) == (0, "", "")
    assert len(parse_many(bundle.read_bytes())) == len(ALL)
    missing = run("status", "-q", "--offline", "--target", f"pem:{tmp_path / 'none.pem'}")
    assert missing.code == 1 and missing.out == ""
    assert missing.err.splitlines() == [
        f"rotator: error: pem:{tmp_path / 'none.pem'}: does not exist: run rotator sync to create it"
    ]


def usage_of(result: Run) -> str:
    return result.err.splitlines()[0]


def test_flags_a_command_does_not_use_are_refused_with_its_own_usage(run) -> None:
    daemon = run("daemon", "--json")
    assert daemon.code == 2 and usage_of(daemon).startswith("usage: rotator daemon")
    bogus = run("sync", "--bogus")
    assert bogus.code == 2 and usage_of(bogus).startswith("usage: rotator sync")
    assert "unrecognized arguments: --bogus" in bogus.err


def test_probe_takes_offline_and_refuses_a_mirror_url(run) -> None:
    offline = run("probe", f"127.0.0.1:{free_port()}", "--offline")
    assert offline.code == 2 and "connection refused" in offline.err
    url = run("probe", "127.0.0.1:1", "--mirror", "https://mirror.example/roots/")
    assert url.code == 2 and "rotator mirror DIR" in url.err


def test_lock_timeout_zero_means_do_not_wait(tmp_path: Path, run, state_dir: Path) -> None:
    bundle = tmp_path / "b.pem"
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with locks.run_lock(tmp_path / "locks", state_dir, timeout=5):
            holding.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(10)
        zero = run("sync", "--offline", "--lock-timeout", "0", "--target", f"pem:{bundle}")
        assert zero.code == 1
        assert "for over 0s" in zero.err and "waiting" not in zero.err
        waited = run("sync", "--offline", "--lock-timeout", "0.3", "--target", f"pem:{bundle}")
        assert waited.code == 1
        assert (
            f"rotator: waiting up to 0.3s for the lock of {state_dir} "
            f"({locks.run_lock_path(tmp_path / 'locks', state_dir)}) held by pid {os.getpid()}"
            in waited.err.splitlines()
        )
    finally:
        release.set()
        holder.join(10)
    assert not bundle.exists()


def test_zero_warn_days_is_kept(tmp_path: Path, run) -> None:
    bundle = tmp_path / "b.pem"
    assert run("sync", "--offline", "--target", f"pem:{bundle}").code == 0
    doc = json.loads(run("status", "--json", "--warn-days", "0", "--offline", "--target", f"pem:{bundle}").out)
    assert doc["warn_days"] == 0


def test_target_paths_expand_tilde_and_become_absolute(
    tmp_path: Path, run, state_dir: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PW", "changeit")
    assert run("sync", "--offline", "--profile", "azure-minimal", "--target", "pem:~/x.pem").code == 0
    assert (isolated_env / "x.pem").is_file() and not (tmp_path / "~").exists()
    result = run("sync", "--offline", "--profile", "azure-minimal", "--target", "jks:rel.jks", "--storepass-env", "PW")
    assert result.code == 0, result.err
    targets = json.loads((state_dir / "state.json").read_text())["targets"]
    assert f"jks:{tmp_path / 'rel.jks'}" in targets and f"pem:{isolated_env / 'x.pem'}" in targets


@pytest.mark.parametrize(
    ("given", "meant"),
    [
        ("/tmp/x.pem", "pem:/tmp/x.pem"),
        ("/opt/app/trust.jks", "jks:/opt/app/trust.jks"),
        ("./store.p12", "pkcs12:./store.p12"),
    ],
)
def test_a_bare_path_as_target_suggests_the_spec(run, given: str, meant: str) -> None:
    result = run("sync", "--offline", "--target", given)
    assert result.code == 2
    assert f"did you mean {meant}?" in result.err


# ------------------------------------------------------------------ messages


def test_unknown_root_id_points_to_the_catalog(run, tmp_path: Path) -> None:
    result = run("sync", "--offline", "--root", "digicert-global-root-g9", "--target", f"pem:{tmp_path / 'b.pem'}")
    assert result.code == 2
    assert "unknown root id 'digicert-global-root-g9'" in result.err and "rotator catalog" in result.err


def test_wrong_pin_on_a_local_file_blames_the_file(tmp_path: Path, run) -> None:
    pinned, other = make_root("Pinned Root"), make_root("Other Root")
    path = tmp_path / "root.pem"
    path.write_bytes(other.pem)
    bundle = tmp_path / "b.pem"
    result = run(
        "sync", "--offline", "--config", str(custom_root_config(tmp_path, pinned.sha256, file=path, target=bundle))
    )
    assert result.code == 1
    assert f"the file {path} of root 'test-root' holds another certificate than the pinned one" in result.err
    assert "proxy" not in result.err and "mirror" not in result.err
    assert not bundle.exists()


def test_wrong_password_is_said_once_in_command_line_terms(
    tmp_path: Path, run, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "trust.p12"
    monkeypatch.setenv("RIGHT", "right-password")
    monkeypatch.setenv("WRONG", "wrong-password")
    args = ["--offline", "--profile", "azure-minimal", "--target", f"pkcs12:{store}"]
    assert run("sync", *args, "--storepass-env", "RIGHT").code == 0
    before = store.read_bytes()
    result = run("sync", *args, "--storepass-env", "WRONG")
    assert result.code == 1
    assert (result.out + result.err).count("the password did not open the store") == 1
    assert "--storepass-env WRONG" in result.err and "--storepass-file FILE" in result.err
    assert "storepass_" not in result.err
    assert store.read_bytes() == before


def test_past_expiry_says_expired_on(tmp_path: Path, run) -> None:
    result = run(
        "sync",
        "--dry-run",
        "--offline",
        "--at",
        "2032-01-01",
        "--profile",
        "azure-legacy",
        "--target",
        f"pem:{tmp_path / 'b.pem'}",
    )
    assert result.code == 0, result.err
    g1 = CATALOG.roots["digicert-global-root-ca"]
    assert f"root {g1.id}: not wanted on 2032-01-01 (expired on {g1.not_after:%Y-%m-%d})" in result.out


def bks_v2(password: str) -> bytes:
    """An empty BKS keystore (version 2), made the way Bouncy Castle makes one; pyjks reads it back."""
    import hashlib
    import hmac

    import jks
    from jks import rfc7292

    salt, iterations = bytes(range(20)), 1024
    body = (2).to_bytes(4, "big") + len(salt).to_bytes(4, "big") + salt + iterations.to_bytes(4, "big")
    entries = b"\x00"
    key = rfc7292.derive_key(hashlib.sha1, rfc7292.PURPOSE_MAC_MATERIAL, password, salt, iterations, 20)
    data = body + entries + hmac.new(key, entries, hashlib.sha1).digest()
    assert jks.bks.BksKeyStore.loads(data, password).entries == {}  # a real BKS store, not just a header
    return data


def test_bouncy_castle_store_is_named_and_never_replaced(tmp_path: Path, run) -> None:
    store = tmp_path / "android.bks"
    data = bks_v2("changeit")
    store.write_bytes(data)
    result = run(
        "sync", "--offline", "--profile", "azure-minimal", "--target", f"jks:{store}", "--storepass-env", "HOME"
    )
    assert result.code == 1
    assert "Bouncy Castle keystore (BKS or UBER)" in result.err and "must not be replaced" in result.err
    assert "backup" not in result.err and "move it aside" not in result.err
    assert store.read_bytes() == data


def test_jceks_advice_is_given_once(tmp_path: Path, run) -> None:
    store = tmp_path / "old.jceks"
    store.write_bytes(bytes.fromhex("cececece") + b"\x00\x00\x00\x02" + b"\x00" * 40)
    result = run(
        "sync", "--offline", "--profile", "azure-minimal", "--target", f"jks:{store}", "--storepass-env", "HOME"
    )
    assert result.code == 1
    assert "JCEKS" in result.err and result.err.count("point the target") == 1


@pytest.mark.slow
def test_probe_of_postgres_without_starttls_hints_at_it(run) -> None:
    with pg.postgres_server(ssl=False) as server:
        result = run("probe", f"127.0.0.1:{server.port}", "--timeout", "5")
    assert result.code == 2
    assert "is this PostgreSQL? try --starttls postgres" in result.err


# ------------------------------------------------------------------ state of targets no longer configured


def test_state_forgets_targets_no_longer_configured_or_gone(tmp_path: Path, run, state_dir: Path) -> None:
    a, b, adhoc = tmp_path / "a.pem", tmp_path / "b.pem", tmp_path / "adhoc.pem"
    both, only_a = tmp_path / "both.toml", tmp_path / "only-a.toml"
    both.write_text(f'[[targets]]\nkind = "pem"\npath = "{a}"\n[[targets]]\nkind = "pem"\npath = "{b}"\n')
    only_a.write_text(f'[[targets]]\nkind = "pem"\npath = "{a}"\n')

    def recorded() -> set[str]:
        doc = json.loads((state_dir / "state.json").read_text())
        return set(doc["targets"]) | set(doc["synced"])

    assert run("sync", "--offline", "--config", str(both)).code == 0
    assert run("sync", "--offline", "--target", f"pem:{adhoc}").code == 0
    assert recorded() == {f"pem:{a}", f"pem:{b}", f"pem:{adhoc}"}  # a --target run keeps the others
    adhoc.unlink()
    assert run("sync", "--offline", "--target", f"pem:{a}").code == 0
    assert recorded() == {f"pem:{a}", f"pem:{b}"}  # a target whose file is gone is forgotten
    assert run("sync", "--offline", "--config", str(only_a)).code == 0
    assert recorded() == {f"pem:{a}"}  # the configured set is the whole set


# ------------------------------------------------------------------ help and output width


def test_every_option_of_every_command_has_help() -> None:
    parser = build_parser()
    for name, command in parser.commands.items():
        for action in command._actions:
            if action.dest == "help":
                continue
            assert action.help, f"rotator {name} {action.option_strings or action.dest}: no help"


def table_part(out: str) -> list[str]:
    """Every status line: the events and findings wrap too, a sentence over several lines."""
    return out.splitlines()


def test_status_fits_100_columns_with_detail_on_request(tmp_path: Path, run) -> None:
    bundle = tmp_path / "b.pem"
    assert run("sync", "--offline", "--target", f"pem:{bundle}").code == 0
    result = run("status", "--offline", "--target", f"pem:{bundle}")
    assert result.code == 0, result.out
    assert len(f"  pem:{bundle}") <= 100, "the test's own path must leave room"
    assert max(len(line) for line in table_part(result.out)) <= 100, result.out
    assert "ahead:" in result.out  # the cross-sign's deadline: a sentence longer than a line, wrapped
    assert f"    {len(ALL)} of {len(ALL)} roots of azure-all ({len(ALL)} added); last sync 20" in result.out
    verbose = run("status", "-v", "--offline", "--target", f"pem:{bundle}")
    assert max(len(line) for line in table_part(verbose.out)) <= 100, verbose.out
    for root_id in ALL:
        assert f"      {root_id:32} added" in verbose.out.splitlines()


def test_a_reader_that_stops_early_gets_no_traceback() -> None:
    """`rotator catalog | head -1`: the pipe closes while rotator still writes."""
    import subprocess
    import sys

    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before rotator writes a line
    try:
        done = subprocess.run(
            [sys.executable, "-m", "rotator", "catalog"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    err = done.stderr.decode()
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert done.returncode == 1


def _stderr_on_a_terminal(argv: list[str], cwd: Path) -> str:
    """rotator's stderr as a terminal shows it (a pty), stdout discarded."""
    import pty

    leader, follower = pty.openpty()
    try:
        subprocess.run(
            [sys.executable, "-m", "rotator", *argv],
            stdout=subprocess.DEVNULL,
            stderr=follower,
            cwd=cwd,
            env=dict(os.environ, PYTHONPATH=str(REPO)),
            timeout=120,
        )
    finally:
        os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the other end is closed and drained
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return b"".join(chunks).decode().replace("\r\n", "\n")


def test_errors_and_warnings_wrap_on_a_terminal_and_stay_one_line_in_a_pipe(tmp_path: Path) -> None:
    store = tmp_path / "t.jks"
    subprocess.run(
        [
            *("keytool", "-genkeypair", "-alias", "app", "-keyalg", "EC", "-dname", "CN=app", "-keystore", str(store)),
            *("-storetype", "JKS", "-storepass", "rightpass", "-keypass", "rightpass"),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    before = store.read_bytes()
    (tmp_path / "pass").write_text("wrongpass\n")  # 0644: a warning as well
    argv = ["sync", "--offline", "--state-dir", str(tmp_path / "st"), "--cache-dir", str(tmp_path / "c")]
    argv += ["--target", f"jks:{store}", "--storepass-file", str(tmp_path / "pass")]

    shown = _stderr_on_a_terminal(argv, tmp_path)
    lines = shown.splitlines()
    assert max(len(line) for line in lines) <= 100, shown
    heads = [line for line in lines if line.startswith("rotator: ")]
    assert [h.split(":")[1] for h in heads] == [" WARNING", " error"], shown
    assert all(line.startswith("    ") for line in lines if not line.startswith("rotator: ")), shown
    joined = " ".join(line.strip() for line in lines)
    assert "the password did not open the store" in joined and "the file was left untouched" in joined

    piped = run_process(*argv, env=dict(os.environ, PYTHONPATH=str(REPO)))
    # ... while a log, the journal or a script gets each message whole, on one line.
    assert piped.code == 1 and len(piped.err.splitlines()) == 2, piped.err
    assert max(len(line) for line in piped.err.splitlines()) > 100
    assert " ".join(piped.err.split()) == " ".join(shown.split())
    assert store.read_bytes() == before
