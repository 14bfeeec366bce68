"""Files that decide what rotator runs, trusts or reads as a secret: only root (or the user running
rotator) may be able to change them; links others planted are not followed; what rotator creates
gets its mode whatever the umask.

Run as root (as CI does), with ownership made real by chown to ``nobody``, ``daemon`` and group
``nogroup``; the last tests run rotator itself as ``nobody`` through runuser.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rotator.sync import locks
from tests.support.paths import DATA
from tests.support.runs import Run, interpreter_for_nobody

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="ownership is made with chown, which needs root")

REPO = DATA.parent.parent
NOBODY, NOGROUP, DAEMON = 65534, 65534, 1
ROOT_ID = "digicert-global-root-g2"


def write(path: Path, text: str, mode: int = 0o644, uid: int = 0, gid: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.chmod(path, mode)
    os.chown(path, uid, gid)
    return path


def hook_script(path: Path, marker: Path, mode: int = 0o755, uid: int = 0) -> Path:
    return write(path, f"#!/bin/sh\necho ran > {marker}\n", mode=mode, uid=uid)


def mirror_of(directory: Path) -> Path:
    """A mirror directory of the embedded roots: sources that also fill the cache."""
    directory.mkdir(parents=True, exist_ok=True)
    for pem in (REPO / "rotator" / "data").glob("*.pem"):
        shutil.copy(pem, directory / pem.name)
    return directory


def one_error_line(result: Run) -> str:
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    return lines[0]


@pytest.fixture
def mirror(tmp_path: Path) -> Path:
    return mirror_of(tmp_path / "mirror")


@pytest.fixture
def sync(run, tmp_path: Path, mirror: Path) -> Callable[..., Run]:
    def _sync(config: Path, *extra: str) -> Run:
        return run(
            "sync", "--config", str(config), "--offline", "--mirror", str(mirror), "--profile", "azure-minimal", *extra
        )  # type: ignore[no-any-return]

    return _sync


def test_world_writable_config_with_a_hook_is_refused_before_anything_runs(tmp_path: Path, sync) -> None:
    marker = tmp_path / "hook-ran"
    target = tmp_path / "stores" / "roots.pem"
    config = write(tmp_path / "etc" / "rotator.toml", f'on_change = ["/bin/sh", "-c", "id > {marker}"]\n', 0o666)

    refused = sync(config, "--target", f"pem:{target}")

    assert refused.code == 2
    line = one_error_line(refused)
    assert f"config file {config} (owner root:root, mode 0666) is writable by every user" in line
    assert line.endswith(f"fix: chmod go-w {config}")
    assert not marker.exists() and not target.exists()
    # The same config made safe runs, hook included: the refusal above is the mode's doing.
    os.chmod(config, 0o644)
    assert sync(config, "--target", f"pem:{target}").code == 0
    assert marker.read_text().startswith("uid=0(root)")


def _config_group_writable(tmp: Path) -> tuple[Path, str]:
    config = write(tmp / "etc" / "rotator.toml", "", mode=0o664, gid=NOGROUP)
    return (
        config,
        f"config file {config} (owner root:nogroup, mode 0664) is writable by group nogroup; fix: chmod go-w {config}",
    )


def _config_owned_by_nobody(tmp: Path) -> tuple[Path, str]:
    config = write(tmp / "etc" / "rotator.toml", "", uid=NOBODY)
    return (
        config,
        f"config file {config} (owner nobody:root, mode 0644) is owned by nobody, not root; fix: chown root {config}",
    )


def _config_in_world_writable_dir(tmp: Path) -> tuple[Path, str]:
    config = write(tmp / "shared" / "rotator.toml", "")
    os.chmod(config.parent, 0o777)
    return (
        config,
        f"config file {config}: directory {config.parent} (owner root:root, mode 0777) is writable "
        f"by every user; fix: chmod go-w {config.parent}",
    )


def _config_of_nobody_in_sticky_dir(tmp: Path) -> tuple[Path, str]:
    config = write(tmp / "sticky" / "rotator.toml", "", uid=NOBODY)
    os.chmod(config.parent, 0o1777)
    return config, f"config file {config} (owner nobody:root, mode 0644) is owned by nobody"


def _config_through_a_planted_link(tmp: Path) -> tuple[Path, str]:
    real = write(tmp / "etc" / "real.toml", "")
    link = tmp / "etc" / "rotator.toml"
    link.symlink_to(real)
    os.lchown(link, NOBODY, NOGROUP)
    return link, f"config file {link} (owner nobody:nogroup, mode 0777) is a symbolic link owned by nobody"


def _root_file_owned_by_nobody(tmp: Path) -> tuple[Path, str]:
    pem = write(tmp / "etc" / "corp-root.pem", (REPO / "rotator" / "data" / f"{ROOT_ID}.pem").read_text(), uid=NOBODY)
    config = write(
        tmp / "etc" / "rotator.toml", f'[[roots]]\nid = "corp-root"\nsha256 = "{"0" * 64}"\nfile = "{pem}"\n'
    )
    return (
        config,
        f"file of root corp-root {pem} (owner nobody:root, mode 0644) is owned by nobody, not root; "
        f"fix: chown root {pem}",
    )


def _hook_owned_by_nobody(tmp: Path) -> tuple[Path, str]:
    script = hook_script(tmp / "hooks" / "reload-app", tmp / "ran", uid=NOBODY)
    config = write(tmp / "etc" / "rotator.toml", f'on_change = ["{script}", "now"]\n')
    return config, f"on_change hook {script} (owner nobody:root, mode 0755) is owned by nobody"


def _hook_found_on_path_writable_by_group(tmp: Path) -> tuple[Path, str]:
    script = hook_script(tmp / "bin" / "reload-app", tmp / "ran", mode=0o775)
    os.chown(script, 0, NOGROUP)
    os.environ["PATH"] = f"{script.parent}:{os.environ['PATH']}"  # undone by the monkeypatch below
    target = tmp.parent / "out" / "roots.pem"
    config = write(
        tmp / "etc" / "rotator.toml", f'[[targets]]\nkind = "pem"\npath = "{target}"\non_change = ["reload-app"]\n'
    )
    return (
        config,
        f"targets[0].on_change hook reload-app: file {script} (owner root:nogroup, mode 0775) "
        "is writable by group nogroup",
    )


def _hook_through_a_link_owned_by_nobody(tmp: Path) -> tuple[Path, str]:
    script = hook_script(tmp / "hooks" / "reload-app", tmp / "ran")
    link = tmp / "bin" / "reload"
    link.parent.mkdir()
    link.symlink_to(script)
    os.lchown(link, NOBODY, NOGROUP)
    config = write(tmp / "etc" / "rotator.toml", f'on_change = ["{link}"]\n')
    return config, f"on_change hook {link} (owner nobody:nogroup, mode 0777) is a symbolic link owned by nobody"


def _hook_shadowable_from_a_sticky_path_dir(tmp: Path) -> tuple[Path, str]:
    # /tmp-like: nothing in it is unsafe yet, but anyone may add a `sh` that would run instead.
    shared = tmp / "shared-bin"
    shared.mkdir(parents=True)
    os.chmod(shared, 0o1777)
    os.environ["PATH"] = f"{shared}:{os.environ['PATH']}"
    config = write(tmp / "etc" / "rotator.toml", 'on_change = ["sh", "-c", "true"]\n')
    return (
        config,
        f"on_change hook sh: directory {shared} (owner root:root, mode 1777) is writable by every "
        f"user; fix: chmod go-w {shared} or take it out of PATH",
    )


def _password_file_owned_by_nobody(tmp: Path) -> tuple[Path, str]:
    secret = write(tmp / "etc" / "storepass", "changeit\n", mode=0o600, uid=NOBODY)
    config = write(
        tmp / "etc" / "rotator.toml",
        f'[[targets]]\nkind = "jks"\npath = "{tmp / "app.jks"}"\nstorepass_file = "{secret}"\n',
    )
    return config, f"targets[0].storepass_file {secret} (owner nobody:root, mode 0600) is owned by nobody"


def _password_file_in_a_group_writable_dir(tmp: Path) -> tuple[Path, str]:
    secret = write(tmp / "app" / "conf" / "storepass", "changeit\n", mode=0o600)
    os.chmod(secret.parent, 0o775)
    os.chown(secret.parent, 0, NOGROUP)
    config = write(
        tmp / "etc" / "rotator.toml",
        f'[[targets]]\nkind = "jks"\npath = "{tmp / "app.jks"}"\nstorepass_file = "{secret}"\n',
    )
    return (
        config,
        f"targets[0].storepass_file {secret}: directory {secret.parent} (owner root:nogroup, "
        f"mode 0775) is writable by group nogroup; fix: chmod go-w {secret.parent}",
    )


@pytest.mark.parametrize(
    "layout",
    [
        _config_group_writable,
        _config_owned_by_nobody,
        _config_in_world_writable_dir,
        _config_of_nobody_in_sticky_dir,
        _config_through_a_planted_link,
        _root_file_owned_by_nobody,
        _hook_owned_by_nobody,
        _hook_found_on_path_writable_by_group,
        _hook_through_a_link_owned_by_nobody,
        _hook_shadowable_from_a_sticky_path_dir,
        _password_file_owned_by_nobody,
        _password_file_in_a_group_writable_dir,
    ],
)
def test_each_unsafe_kind_is_refused_with_owner_mode_and_fix(
    layout: Callable[[Path], tuple[Path, str]], tmp_path: Path, sync, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", os.environ["PATH"])  # layouts that prepend to PATH are undone after the test
    config, expected = layout(tmp_path / "case")
    target = tmp_path / "out" / "roots.pem"

    # The config's own targets where it has some (per-target hooks, passwords), else one given here.
    extra = [] if "[[targets]]" in config.read_text() else ["--target", f"pem:{target}"]

    refused = sync(config, *extra)

    assert refused.code == 2, refused.err
    assert expected in one_error_line(refused)
    assert refused.out == "" and not target.exists() and not (tmp_path / "case" / "app.jks").exists()
    assert not (tmp_path / "case" / "ran").exists()


def test_root_group_and_sticky_directories_of_root_are_accepted(tmp_path: Path, sync) -> None:
    marker = tmp_path / "ran"
    script = hook_script(tmp_path / "sticky" / "reload-app", marker, mode=0o775)  # group root may write
    os.chmod(script.parent, 0o1777)  # like /tmp: the root-owned entry in it is what counts
    config = write(tmp_path / "sticky" / "rotator.toml", f'on_change = ["{script}"]\n', mode=0o664)
    target = tmp_path / "out" / "roots.pem"

    result = sync(config, "--target", f"pem:{target}")

    assert result.code == 0, result.err
    assert marker.read_text() == "ran\n"


def test_password_file_readable_by_everyone_is_a_warning(tmp_path: Path, sync) -> None:
    secret = write(tmp_path / "etc" / "storepass", "s3cret-pass\n", mode=0o644)
    store = tmp_path / "app" / "truststore.jks"
    config = write(
        tmp_path / "etc" / "rotator.toml", f'[[targets]]\nkind = "jks"\npath = "{store}"\nstorepass_file = "{secret}"\n'
    )

    warned = sync(config)

    assert warned.code == 0, warned.err
    assert (
        f"targets[0].storepass_file {secret} (mode 0644) is readable by every user; fix: chmod o-r {secret}"
        in warned.err
    )
    assert store.exists()
    os.chmod(secret, 0o640)
    quiet = sync(config)
    assert quiet.code == 0 and "readable" not in quiet.err


def test_a_target_link_planted_by_another_user_is_not_followed(tmp_path: Path, sync) -> None:
    victim = write(tmp_path / "etc" / "shadow", "root:*:19000::::::\n", mode=0o640)
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    link = shared / "roots.pem"
    link.symlink_to(victim)
    os.lchown(link, NOBODY, NOGROUP)
    config = write(tmp_path / "etc" / "rotator.toml", "")

    refused = sync(config, "--target", f"pem:{link}")

    assert refused.code == 1
    assert (
        f"{link} (owner nobody:nogroup, mode 0777) is a symbolic link owned by nobody, not root: not followed"
        in refused.err
    )
    assert victim.read_text() == "root:*:19000::::::\n"
    # Root's own link (Debian's JDK cacerts is one) is followed and keeps being a link.
    os.lchown(link, 0, 0)
    bundle = write(tmp_path / "etc" / "bundle.pem", "")
    link.unlink()
    link.symlink_to(bundle)
    assert sync(config, "--target", f"pem:{link}").code == 0
    assert link.is_symlink() and f"# rotator-{ROOT_ID}" in bundle.read_text()


def test_a_lock_file_link_is_never_followed(tmp_path: Path, run, mirror: Path) -> None:
    victim = write(tmp_path / "etc" / "important", "keep me\n")
    state = tmp_path / "state"
    state.mkdir()
    lock_dir = tmp_path / "locks"
    lock_dir.mkdir(mode=0o700)
    target = tmp_path / "roots.pem"
    argv = ["sync", "--state-dir", str(state), "--offline", "--mirror", str(mirror), "--target", f"pem:{target}"]
    # The store's lock: even root's own link is refused, a lock is never a link.
    store_lock = locks.store_lock_path(lock_dir, tmp_path)
    store_lock.symlink_to(victim)

    result = run(*argv)

    assert result.code == 1
    assert f"{store_lock} is a symbolic link, which rotator never follows; remove it" in result.err
    assert victim.read_text() == "keep me\n" and not target.exists()
    # An earlier version's run lock in the state directory is no longer opened: a link there is
    # neither followed nor removed, and the run goes on.
    store_lock.unlink()
    (state / "rotator.lock").symlink_to(victim)
    assert run(*argv).code == 0
    assert victim.read_text() == "keep me\n" and (state / "rotator.lock").is_symlink()


@pytest.mark.slow
@pytest.mark.parametrize("umask", [0o000, 0o077])
def test_files_rotator_creates_get_their_modes_whatever_the_umask(umask: int, tmp_path: Path, mirror: Path) -> None:
    base = tmp_path / "var"
    state, cache, metrics = base / "lib" / "rotator", base / "cache" / "rotator", base / "metrics" / "rotator.prom"
    target = tmp_path / "new" / "dir" / "roots.pem"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "rotator",
            "sync",
            "--offline",
            "--mirror",
            str(mirror),
            "--profile",
            "azure-minimal",
            "--state-dir",
            str(state),
            "--cache-dir",
            str(cache),
            "--metrics-file",
            str(metrics),
            "--target",
            f"pem:{target}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=lambda: os.umask(umask),
    )
    assert proc.returncode == 0, proc.stderr

    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    directories = [state, state.parent, cache, cache.parent, metrics.parent, target.parent, target.parent.parent]
    assert {str(d): mode(d) for d in directories} == {str(d): 0o755 for d in directories}
    files = [state / "state.json", metrics, target, *cache.glob("*.pem")]
    assert len(files) == 5
    assert {str(f): mode(f) for f in files} == {str(f): 0o644 for f in files}
    # The locks are private: only the running user may open them (flock needs no more than that).
    lock_dir = tmp_path / "locks"
    lock_files = sorted(lock_dir.iterdir())
    assert [p.name.split("-")[0] for p in lock_files] == ["run", "store"]
    assert {str(p): mode(p) for p in [lock_dir, *lock_files]} == {
        str(lock_dir): 0o700,
        **{str(p): 0o600 for p in lock_files},
    }


def test_the_service_layout_is_accepted(tmp_path: Path, run, mirror: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/service.md and systemd/rotator.service, redirected under a temp root: the config installed
    with ``install -m 0644`` (root:root), state and cache directories as systemd makes them (0755), a
    hook found on PATH, a keystore password file 0600, a store reached through root's link."""
    root = tmp_path / "sysroot"
    etc = root / "etc" / "rotator"
    subprocess.run(["install", "-d", str(etc)], check=True)
    example = (REPO / "systemd" / "rotator.toml.example").read_text()
    store = root / "opt" / "myapp" / "truststore.jks"
    example = example.replace(
        '# on_change = ["systemctl", "try-reload-or-restart", "myapp.service"]', 'on_change = ["reload-myapp"]'
    ).replace("/etc/azure/azure-roots.pem", str(root / "etc" / "azure" / "azure-roots.pem"))
    example += f'\n[[targets]]\nkind = "jks"\npath = "{store}"\nstorepass_file = "{etc / "storepass"}"\n'
    staged = write(tmp_path / "rotator.toml", example)
    subprocess.run(["install", "-m", "0644", str(staged), str(etc / "rotator.toml")], check=True)
    write(tmp_path / "storepass", "changeit\n")
    subprocess.run(["install", "-m", "0600", str(tmp_path / "storepass"), str(etc / "storepass")], check=True)
    marker = tmp_path / "reloaded"
    hook_script(tmp_path / "staged-hook", marker)
    bin_dir = root / "usr" / "local" / "bin"
    subprocess.run(
        ["install", "-D", "-m", "0755", str(tmp_path / "staged-hook"), str(bin_dir / "reload-myapp")], check=True
    )
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    # The bundle's directory is a link of root's, as Debian links /etc/ssl/certs/java/cacerts.
    (root / "srv" / "azure").mkdir(parents=True)
    (root / "etc" / "azure").symlink_to(root / "srv" / "azure")
    for directory in ("var/lib/rotator", "var/cache/rotator"):
        subprocess.run(["install", "-d", "-m", "0755", str(root / directory)], check=True)

    result = run(
        "sync",
        "--config",
        str(etc / "rotator.toml"),
        "--offline",
        "--mirror",
        str(mirror),
        "--state-dir",
        str(root / "var/lib/rotator"),
        "--cache-dir",
        str(root / "var/cache/rotator"),
    )

    assert result.code == 0, result.err
    assert result.err == ""
    assert marker.read_text() == "ran\n"
    assert f"# rotator-{ROOT_ID}" in (root / "srv" / "azure" / "azure-roots.pem").read_text()
    assert store.exists()


# --- as an unprivileged user -------------------------------------------------------------------------------


@pytest.fixture
def shared() -> Iterator[Path]:
    """A directory nobody can traverse: pytest's own under /tmp/pytest-of-root is root's alone."""
    directory = Path(tempfile.mkdtemp(prefix="rotator-test-", dir="/tmp"))
    os.chmod(directory, 0o755)
    try:
        yield directory
    finally:
        shutil.rmtree(directory)


@pytest.fixture
def as_nobody(shared: Path) -> Callable[..., Run]:
    found = interpreter_for_nobody()
    if isinstance(found, str):
        pytest.skip(found)
    command, env = found
    home = shared / "home"
    home.mkdir()
    os.chown(home, NOBODY, NOGROUP)
    mirror = mirror_of(shared / "mirror")

    def _run(*args: str) -> Run:
        argv = [*command, *args]
        if args[0] == "sync":
            argv += [
                "--offline",
                "--mirror",
                str(mirror),
                "--profile",
                "azure-minimal",
                "--state-dir",
                str(home / "state"),
                "--cache-dir",
                str(home / "cache"),
            ]
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            # runuser sets HOME to nobody's (/nonexistent): where the user's own state is, it says so.
            env={**env, "HOME": str(home), "XDG_STATE_HOME": str(home / ".local" / "state")},
            timeout=120,
            cwd="/",
        )
        return Run(proc.returncode, proc.stdout, proc.stderr)

    return _run


@pytest.mark.slow
def test_as_a_user_their_own_files_and_roots_are_trusted(shared: Path, as_nobody) -> None:
    home = shared / "home"
    marker = home / "reloaded"
    script = hook_script(home / "bin" / "reload-app", marker, uid=NOBODY)
    os.chown(script.parent, NOBODY, NOGROUP)
    target = home / "app" / "roots.pem"
    config = write(
        home / "rotator.toml", f'on_change = ["{script}"]\n[[targets]]\nkind = "pem"\npath = "{target}"\n', uid=NOBODY
    )

    result = as_nobody("sync", "--config", str(config))

    assert result.code == 0, result.err
    assert marker.read_text() == "ran\n" and target.stat().st_uid == NOBODY
    # Its locks are its own: a private directory under its home, whatever --state-dir says.
    lock_dir = home / ".local" / "state" / "rotator" / "locks"
    info = lock_dir.stat()
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (NOBODY, 0o700)
    assert sorted(p.name.split("-")[0] for p in lock_dir.iterdir()) == ["run", "store"]
    # The very same files are refused when root runs them: nobody could change what root runs.
    as_root = subprocess.run(
        [sys.executable, "-m", "rotator", "catalog", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert as_root.returncode == 2
    assert (
        f"config file {config}: directory {home} (owner nobody:nogroup, mode 0755) is owned by nobody, not root; "
        f"fix: chown root {home}" in as_root.stderr
    )


@pytest.mark.slow
def test_as_a_user_files_of_other_users_are_refused(shared: Path, as_nobody) -> None:
    home = shared / "home"
    owned_by_daemon = write(home / "daemon.toml", "", uid=DAEMON)
    refused = as_nobody("catalog", "--config", str(owned_by_daemon))
    assert refused.code == 2
    assert (
        f"config file {owned_by_daemon} (owner daemon:root, mode 0644) is owned by daemon, not root or nobody "
        f"(running rotator); fix: chown root {owned_by_daemon}" in one_error_line(refused)
    )

    writable = write(home / "writable.toml", "", mode=0o666, uid=NOBODY)
    refused = as_nobody("catalog", "--config", str(writable))
    assert refused.code == 2
    assert f"config file {writable} (owner nobody:root, mode 0666) is writable by every user" in refused.err

    secret = write(home / "storepass", "changeit\n", mode=0o644, uid=DAEMON)
    config = write(
        home / "rotator.toml",
        f'[[targets]]\nkind = "jks"\npath = "{home / "app.jks"}"\nstorepass_file = "{secret}"\n',
        uid=NOBODY,
    )
    refused = as_nobody("sync", "--config", str(config))
    assert refused.code == 2
    assert f"targets[0].storepass_file {secret} (owner daemon:root, mode 0644) is owned by daemon" in refused.err
    assert not (home / "app.jks").exists()


@pytest.mark.slow
def test_as_a_user_a_link_planted_by_another_is_not_followed(shared: Path, as_nobody) -> None:
    home = shared / "home"
    victim = write(home / "victim.pem", "", uid=NOBODY, gid=NOGROUP)  # nobody's own file, group too
    link = home / "roots.pem"
    link.symlink_to(victim)
    os.lchown(link, DAEMON, DAEMON)
    config = write(home / "rotator.toml", "", uid=NOBODY)

    refused = as_nobody("sync", "--config", str(config), "--target", f"pem:{link}")

    assert refused.code == 1
    assert (
        f"{link} (owner daemon:daemon, mode 0777) is a symbolic link owned by daemon, not root or nobody" in refused.err
    )
    assert victim.read_text() == ""
    os.lchown(link, NOBODY, NOGROUP)
    assert as_nobody("sync", "--config", str(config), "--target", f"pem:{link}").code == 0
    assert f"# rotator-{ROOT_ID}" in victim.read_text()


# --- the lock directory -----------------------------------------------------------------------------------


def _lock_dir_symlink(tmp: Path) -> tuple[Path, str]:
    real = tmp / "real-locks"
    real.mkdir(mode=0o700)
    link = tmp / "locks"
    link.symlink_to(real)
    return link, f"lock directory {link} is a symbolic link, which rotator never follows; remove it"


def _lock_dir_writable_by_all(tmp: Path) -> tuple[Path, str]:
    directory = tmp / "locks"
    directory.mkdir()
    directory.chmod(0o777)
    return directory, (
        f"lock directory {directory} (owner root:root, mode 0777) is writable by other users, who could hold "
        f"rotator's locks; fix: chmod 0700 {directory}"
    )


def _lock_dir_of_nobody(tmp: Path) -> tuple[Path, str]:
    directory = tmp / "locks"
    directory.mkdir(mode=0o700)
    os.chown(directory, NOBODY, NOGROUP)
    return directory, f"lock directory {directory} (owner nobody:nogroup, mode 0700) is not the running user's"


def _lock_dir_in_a_shared_directory(tmp: Path) -> tuple[Path, str]:
    shared = tmp / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # not sticky: anyone may rename the lock directory and put their own there
    directory = shared / "locks"
    return directory, (
        f"lock directory {directory}: directory {shared} (owner root:root, mode 0777) is writable by every user"
    )


def _lock_file_of_nobody(tmp: Path) -> tuple[Path, str]:
    directory = tmp / "locks"
    directory.mkdir(mode=0o700)
    lock = locks.run_lock_path(directory, tmp / "state")
    lock.write_bytes(b"")
    os.chown(lock, NOBODY, NOGROUP)
    return directory, f"the lock {lock} is owned by nobody, not the user running rotator; remove it"


@pytest.mark.parametrize(
    "make",
    [
        _lock_dir_symlink,
        _lock_dir_writable_by_all,
        _lock_dir_of_nobody,
        _lock_dir_in_a_shared_directory,
        _lock_file_of_nobody,
    ],
)
def test_a_lock_directory_others_could_hold_locks_in_is_refused(tmp_path: Path, run, make) -> None:
    (tmp_path / "state").mkdir()
    lock_dir, expected = make(tmp_path)
    target = tmp_path / "roots.pem"
    state = str(tmp_path / "state")
    argv = ["--offline", "--state-dir", state, "--lock-dir", str(lock_dir), "--target", f"pem:{target}"]

    result = run("sync", *argv)

    assert result.code == 1
    assert expected in one_error_line(result)
    assert not target.exists()
    # forget takes the same run lock, from the same code.
    forget = run("forget", "--state-dir", state, "--lock-dir", str(lock_dir), "pem")
    assert forget.code == 1 and expected in one_error_line(forget)
