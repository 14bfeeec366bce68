"""Runs that overlap: different state directories writing one store, temp files of live runs,
duplicates from the past, and owners that must not change."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.runs import run_process

MARKER = b"# rotator-"


def _default_profile_size() -> int:
    """How many roots one sync of the default profile writes (counted, not assumed)."""
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        bundle = Path(scratch) / "b.pem"
        result = run_process(
            "sync",
            "--offline",
            "--no-cache",
            "--state-dir",
            f"{scratch}/s",
            "--target",
            f"pem:{bundle}",
            env={**os.environ, "HOME": scratch},
        )
        assert result.code == 0, result.err
        return bundle.read_bytes().count(MARKER)


AZURE_ALL = _default_profile_size()


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(HOME=str(tmp_path / "home"), XDG_CACHE_HOME=str(tmp_path / "xc"), XDG_STATE_HOME=str(tmp_path / "xs"))
    return env


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["pem", "jks", "pkcs12", "pem-dir"])
def test_two_runs_with_different_state_dirs_write_each_root_once(tmp_path: Path, kind: str) -> None:
    """The service and a manual run with --state-dir, started together, eight times over."""
    env = _env(tmp_path)
    env["FUZZ_STOREPASS"] = "changeit"
    for trial in range(8):
        store = tmp_path / f"trial{trial}" / ("certs" if kind == "pem-dir" else "store")
        store.parent.mkdir()
        if kind == "pem":
            store.write_bytes(b"# an application bundle\n")
        argv = [sys.executable, "-m", "rotator", "sync", "--offline", "--no-cache", "--target", f"{kind}:{store}"]
        if kind in ("jks", "pkcs12"):
            argv += ["--storepass-env", "FUZZ_STOREPASS"]
        runs = [
            subprocess.Popen(
                [*argv, "--state-dir", str(tmp_path / f"state{trial}-{n}")],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for n in range(2)
        ]
        for proc in runs:
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err.decode()
        assert _copies(kind, store) == AZURE_ALL, f"trial {trial}"
        again = run_process(*argv[3:], "--state-dir", str(tmp_path / "state-after"), env=env)
        assert again.code == 0 and "up to date" in again.out


def _copies(kind: str, store: Path) -> int:
    if kind == "pem":
        return store.read_bytes().count(MARKER)
    if kind == "pem-dir":
        return len([p for p in store.iterdir() if p.name.startswith("rotator-")])
    from stores.keystore.dispatch import load

    return len([c for c in load(store.read_bytes(), "changeit").trusted() if (c.alias or "").startswith("rotator-")])


def test_duplicates_from_an_earlier_race_are_collapsed(tmp_path: Path, run) -> None:
    bundle = tmp_path / "bundle.pem"
    assert run("sync", "--offline", "--target", f"pem:{bundle}").code == 0
    once = bundle.read_bytes()
    blocks = once.split(MARKER)
    # Two runs that raced before stores were locked appended every root a second time.
    bundle.write_bytes(b"# mine\n" + once + b"".join(MARKER + b for b in blocks[1:3]))
    assert bundle.read_bytes().count(MARKER) == AZURE_ALL + 2
    result = run("sync", "--offline", "--target", f"pem:{bundle}")
    assert result.code == 0, result.err
    after = bundle.read_bytes()
    assert after.count(MARKER) == AZURE_ALL and after.startswith(b"# mine\n")
    assert run("sync", "--offline", "--target", f"pem:{bundle}").out.count("up to date") == 1


def test_a_block_without_its_end_line_never_leads_to_a_duplicate(tmp_path: Path, run) -> None:
    bundle = tmp_path / "bundle.pem"
    assert run("sync", "--offline", "--target", f"pem:{bundle}", "--profile", "azure-postgresql").code == 0
    cut = bundle.read_bytes() + b"-----BEGIN CERTIFICATE-----\nMIIDrzCCApegAwIBAgIQCDvgVpBCRrGhdWrJWZHHSjANBgkqhk\n"
    bundle.write_bytes(cut)
    for _ in range(2):
        result = run("sync", "--offline", "--target", f"pem:{bundle}")
        assert result.code == 1
        assert "has no END CERTIFICATE line" in result.err
        assert bundle.read_bytes() == cut
    status = run("status", "--offline", "--target", f"pem:{bundle}", "--profile", "azure-postgresql")
    assert "no END line" in status.out


def test_a_temp_file_of_a_live_run_is_left_alone(tmp_path: Path, run) -> None:
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(b"# mine\n")
    theirs = tmp_path / ".bundle.pem.other.rotator-tmp"
    theirs.write_bytes(b"half written by another run")
    fd = os.open(theirs, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # its writer is alive and holds it
    try:
        assert run("sync", "--offline", "--target", f"pem:{bundle}").code == 0
        assert theirs.read_bytes() == b"half written by another run"
    finally:
        os.close(fd)
    bundle.write_bytes(b"# mine\n")
    assert run("sync", "--offline", "--target", f"pem:{bundle}").code == 0
    assert not theirs.exists()  # its writer is gone: the next run clears it


def _as_nobody(argv: list[str]) -> tuple[int, str]:
    """rotator's main() in a forked child running as nobody (the code is already loaded)."""
    import contextlib
    import io

    from rotator.cli.main import main

    # Load every module the run needs while still root: nobody cannot read this interpreter's files.
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        main([*argv, "--dry-run"])
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 99
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            err = io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                code = main(argv)
            os.write(write_end, err.getvalue().encode())
        except BaseException:
            import traceback

            os.write(write_end, traceback.format_exc().encode())
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as handle:
        err = handle.read().decode()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), err


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a child as another user")
def test_an_owner_that_cannot_be_kept_refuses_the_write() -> None:
    """A root-owned bundle in a directory anyone may write: a run as nobody could replace the file,
    but the file would become nobody's. rotator refuses instead."""
    import shutil
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="rotator-owner-"))  # reachable by nobody, unlike pytest's tmp
    request_cleanup = base
    base.chmod(0o755)
    directory = base / "shared"
    directory.mkdir()
    directory.chmod(0o777)
    bundle = directory / "bundle.pem"
    bundle.write_bytes(b"# root's bundle\n")
    bundle.chmod(0o444)
    state = directory / "state"
    lock_dir = base / "locks"  # nobody's own, as rotator would make it
    lock_dir.mkdir(mode=0o700)
    os.chown(lock_dir, 65534, 65534)
    argv = ["sync", "--offline", "--no-cache", "--state-dir", str(state), "--lock-dir", str(lock_dir)]
    code, err = _as_nobody([*argv, "--target", f"pem:{bundle}"])
    assert code == 1, err
    assert "keeping its owner 0:0" in err and "left untouched" in err
    info = bundle.stat()
    assert (info.st_uid, info.st_gid, info.st_mode & 0o7777) == (0, 0, 0o444)
    assert bundle.read_bytes() == b"# root's bundle\n"
    assert not [p for p in directory.iterdir() if p.name.endswith(".rotator-tmp")]
    shutil.rmtree(request_cleanup)


def test_a_planted_symlink_at_the_lock_is_refused(tmp_path: Path, run) -> None:
    from rotator.sync import locks

    state = tmp_path / "state"
    state.mkdir()
    lock_dir = tmp_path / "locks"
    lock_dir.mkdir(mode=0o700)
    victim = tmp_path / "precious"
    victim.write_bytes(b"not to be truncated")
    lock = locks.run_lock_path(lock_dir, state)
    lock.symlink_to(victim)
    result = run("sync", "--offline", "--state-dir", str(state), "--target", f"pem:{tmp_path / 'b.pem'}")
    assert result.code == 1
    assert f"{lock} is a symbolic link, which rotator never follows; remove it" in result.err
    assert victim.read_bytes() == b"not to be truncated"


@pytest.mark.slow
def test_a_run_waits_for_the_lock_of_the_store_directory(tmp_path: Path) -> None:
    """Whatever its state directory, a writing run waits while another holds the store's lock."""
    import time

    from rotator.sync import locks

    directory = tmp_path / "app"
    directory.mkdir()
    bundle = directory / "bundle.pem"
    bundle.write_bytes(b"# mine\n")
    # Another run, busy writing a store here (the lock directory ROTATOR_LOCK_DIR names for the test).
    with locks.store_lock(tmp_path / "locks", directory, timeout=5):
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "rotator",
                "sync",
                "--offline",
                "--no-cache",
                "--state-dir",
                str(tmp_path / "elsewhere"),
                "--lock-timeout",
                "60",
                "--target",
                f"pem:{bundle}",
            ],
            env=_env(tmp_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        time.sleep(3)
        assert proc.poll() is None and bundle.read_bytes() == b"# mine\n"  # waiting, nothing written
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert bundle.read_bytes().count(MARKER) == AZURE_ALL


def test_a_store_lock_times_out_naming_the_directory_and_the_holder(tmp_path: Path, run) -> None:
    from rotator.sync import locks

    bundle = tmp_path / "app" / "bundle.pem"
    with locks.store_lock(tmp_path / "locks", bundle.parent, timeout=5):
        result = run("sync", "--offline", "--lock-timeout", "0.2", "--target", f"pem:{bundle}")
    assert result.code == 1
    assert (
        f"another rotator run (pid {os.getpid()}) has been writing a store in {bundle.parent} for over 0.2s "
        f"(lock {locks.store_lock_path(tmp_path / 'locks', bundle.parent)})" in result.err
    )
    assert not bundle.exists()


# What an unprivileged user runs to hold every lock it can open: the paths given, read-only.
_HOLD = """
import fcntl, json, os, sys
held, refused, fds = [], {}, []
for path in sys.argv[1:]:
    try:
        fd = os.open(path, os.O_RDONLY)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        refused[path] = exc.strerror
    else:
        fds.append(fd)
        held.append(path)
print(json.dumps({"held": held, "refused": refused}), flush=True)
sys.stdin.read()
"""


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a process as another user")
def test_locks_held_by_another_user_do_not_stop_a_root_sync(tmp_path: Path) -> None:
    """nobody opens, read-only, every path root locked in earlier versions (the store's directory,
    the state directory's 0644 rotator.lock) and the new lock files, and holds a flock on each it
    can open. Root's sync, status and daemon go on at once; before, each waited for the lock timeout
    and failed."""
    import json
    import shutil
    import tempfile
    import time

    from rotator.sync import locks
    from tests.support.daemon import NotifySocket, stop
    from tests.support.runs import interpreter_for_nobody

    found = interpreter_for_nobody()
    if isinstance(found, str):
        pytest.skip(found)
    python = found[0][4]
    base = Path(tempfile.mkdtemp(prefix="rotator-locks-"))  # reachable by nobody, unlike pytest's tmp
    try:
        base.chmod(0o755)
        app, state, daemon_state, lock_dir = base / "app", base / "state", base / "daemon-state", base / "locks"
        bundle = app / "bundle.pem"
        argv = [sys.executable, "-m", "rotator", "sync", "--offline", "--no-cache", "--lock-timeout", "30"]
        argv += ["--lock-dir", str(lock_dir), "--state-dir", str(state), "--target", f"pem:{bundle}"]
        env = _env(tmp_path)
        first = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
        assert first.returncode == 0, first.stderr
        # A state directory as an earlier version left it, a 0644 run lock in it (the daemon's too).
        for directory in (state, daemon_state):
            directory.mkdir(exist_ok=True)
            (directory / locks.OLD_RUN_LOCK).write_bytes(b"")
            (directory / locks.OLD_RUN_LOCK).chmod(0o644)
        old_style = [str(app), str(state / locks.OLD_RUN_LOCK), str(daemon_state / locks.OLD_RUN_LOCK)]
        new_style = [
            str(lock_dir),
            str(locks.run_lock_path(lock_dir, state)),
            str(locks.run_lock_path(lock_dir, daemon_state)),
            str(locks.store_lock_path(lock_dir, app)),
        ]
        holder = subprocess.Popen(
            ["runuser", "-u", "nobody", "--", python, "-c", _HOLD, *old_style, *new_style],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd="/",
        )
        try:
            assert holder.stdout is not None
            report = json.loads(holder.stdout.readline() or "{}")
            # The attack is real: what earlier versions locked, nobody now holds.
            assert report["held"] == old_style, report
            assert report["refused"] == dict.fromkeys(new_style, "Permission denied")

            bundle.write_bytes(b"# mine\n")  # so that the sync has to write, under both locks
            started = time.monotonic()
            again = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
            took = time.monotonic() - started
            assert again.returncode == 0, again.stderr
            assert took < 15, f"the sync waited {took:.1f}s for a lock nobody holds"
            assert bundle.read_bytes().count(MARKER) == AZURE_ALL and "waiting" not in again.stderr
            # The old run lock is retired: nothing opens it any more.
            assert not (state / locks.OLD_RUN_LOCK).exists()

            status = subprocess.run(
                [sys.executable, "-m", "rotator", "status", "--offline", "--no-cache", "--state-dir", str(state)],
                capture_output=True,
                text=True,
                env=env,
                timeout=30,
            )
            assert status.returncode == 0, status.stderr

            config = base / "rotator.toml"
            config.write_text(f'[[targets]]\nkind = "pem"\npath = "{bundle}"\n')
            bundle.write_bytes(b"# mine\n")
            notify = NotifySocket(tmp_path / "notify.sock")
            daemon = subprocess.Popen(
                [
                    *[sys.executable, "-m", "rotator", "daemon", "--config", str(config), "--offline", "--no-cache"],
                    *["--lock-timeout", "30", "--lock-dir", str(lock_dir), "--state-dir", str(daemon_state)],
                ],
                env={**env, "NOTIFY_SOCKET": str(notify.path)},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            try:
                notify.collect("STATUS=ok", timeout=15)  # its first cycle, not the 30 s lock timeout
            finally:
                code, _, err = stop(daemon)
                notify.close()
            assert code == 0, err
            assert bundle.read_bytes().count(MARKER) == AZURE_ALL
        finally:
            holder.communicate(input="", timeout=30)
    finally:
        shutil.rmtree(base)
