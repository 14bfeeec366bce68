"""The system target: the real Debian update-ca-certificates in a redirected tree, stand-in refresh
commands for the distributions whose tools this machine does not have, detection, failures."""

from __future__ import annotations

import contextlib
import io
import os
import select
import shutil
import stat
import tempfile
from pathlib import Path

import pytest

from rotator.certs import Cert, parse_many, parse_one
from rotator.errors import ConfigError
from stores import system
from stores.base import StoreContext, TargetSpec
from stores.subject_hash import subject_hash
from tests.support.paths import AZURE_IDS, embedded_pem
from tests.support.pki import make_intermediate, make_leaf, make_root
from tests.support.systree import (
    UPDATE_CA_CERTIFICATES,
    calls,
    config_with_root,
    counting_wrapper,
    debian_tree,
    openssl_verify,
    recording_stand_in,
    write_script,
)

HOST_REFRESH = '[[targets]]\nkind = "system"\nrefresh = "host"\n'

needs_update_ca = pytest.mark.skipif(not UPDATE_CA_CERTIFICATES.exists(), reason="Debian's ca-certificates missing")


@pytest.fixture
def test_pki(tmp_path: Path):
    root = make_root("rotator system test root")
    inter = make_intermediate(root, "rotator system test intermediate")
    leaf = make_leaf(inter, ("db.example.test",))
    pki = tmp_path / "pki"
    root_pem, _ = root.write(pki, "root")
    inter_pem, _ = inter.write(pki, "inter")
    leaf_pem, _ = leaf.write(pki, "leaf")
    return root, root_pem, inter_pem, leaf_pem


def azure_sha256(root_id: str) -> str:
    return parse_one(embedded_pem(root_id)).sha256


def bundle_fingerprints(path: Path) -> set[str]:
    return {c.sha256 for c in parse_many(path.read_bytes())}


# --- Debian: the real update-ca-certificates, every path redirected into tmp -------------------


@pytest.mark.slow
@needs_update_ca
def test_debian_real_refresh_adds_links_bundle_and_removes_only_its_own(
    tmp_path: Path, run, monkeypatch: pytest.MonkeyPatch, test_pki
) -> None:
    root_ca, root_pem, inter_pem, leaf_pem = test_pki
    image = tmp_path / "image"
    packaged = debian_tree(image)
    local = image / "usr/local/share/ca-certificates"
    certs_dir = image / "etc/ssl/certs"
    bundle = certs_dir / "ca-certificates.crt"
    admin_own = local / "corp-proxy.crt"  # an anchor the admin put there: never rotator's to touch
    admin_own.write_bytes(make_root("corp proxy CA").pem)
    bindir, log = tmp_path / "bin", tmp_path / "refresh.log"
    counting_wrapper(bindir, log)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    with_root = config_with_root(tmp_path / "with.toml", root_pem, root_ca.sha256, target=HOST_REFRESH)

    assert openssl_verify(certs_dir, leaf_pem, inter_pem).returncode != 0  # nothing trusts it yet

    first = run("sync", "--offline", "--config", str(with_root), "--sysroot", str(image))
    assert first.code == 0, first.err
    assert len(calls(log)) == 1
    assert "refresh: `update-ca-certificates" in first.unwrapped
    assert "REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt" in first.unwrapped
    assert "NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt" in first.unwrapped

    # one PEM anchor per root, named rotator-<id>.crt, mode 0644
    for root_id in [*AZURE_IDS, "test-root"]:
        anchor = local / f"rotator-{root_id}.crt"
        assert anchor.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
        assert stat.S_IMODE(anchor.stat().st_mode) == 0o644
    # the bundle holds every root, and the packaged ones and the admin's are still there
    held = bundle_fingerprints(bundle)
    assert {azure_sha256(i) for i in AZURE_IDS} | {root_ca.sha256} <= held
    for name in packaged:
        assert parse_one((image / "usr/share/ca-certificates" / name).read_bytes()).sha256 in held
    assert parse_one(admin_own.read_bytes()).sha256 in held
    # the hash links exist and lead to rotator's anchors
    for root_id in [*AZURE_IDS, "test-root"]:
        cert = parse_one((local / f"rotator-{root_id}.crt").read_bytes())
        link = certs_dir / f"{subject_hash(cert)}.0"
        assert link.is_symlink() and parse_one(link.read_bytes()).sha256 == cert.sha256
    verified = openssl_verify(certs_dir, leaf_pem, inter_pem)
    assert verified.returncode == 0, verified.stdout + verified.stderr

    # a second sync is a no-op: no refresh, the bundle is not rewritten
    before = bundle.stat().st_mtime_ns
    second = run("sync", "--offline", "--config", str(with_root), "--sysroot", str(image))
    assert second.code == 0, second.err
    assert "up to date" in second.out
    assert len(calls(log)) == 1
    assert bundle.stat().st_mtime_ns == before

    # the profile no longer has the test root: only rotator's anchor for it goes
    without = config_with_root(tmp_path / "without.toml", root_pem, root_ca.sha256, include=False, target=HOST_REFRESH)
    third = run("sync", "--offline", "--config", str(without), "--sysroot", str(image))
    assert third.code == 0, third.err
    assert len(calls(log)) == 2 and "--fresh" in calls(log)[1]
    assert not (local / "rotator-test-root.crt").exists()
    assert admin_own.exists()
    assert all((local / f"rotator-{i}.crt").exists() for i in AZURE_IDS)
    held = bundle_fingerprints(bundle)
    assert root_ca.sha256 not in held
    assert parse_one(admin_own.read_bytes()).sha256 in held
    assert {azure_sha256(i) for i in AZURE_IDS} <= held
    assert not [p for p in certs_dir.iterdir() if p.is_symlink() and not p.exists()], "dangling links left"
    assert openssl_verify(certs_dir, leaf_pem, inter_pem).returncode != 0


@pytest.mark.slow
@needs_update_ca
def test_debian_bundle_lacking_an_anchor_is_refreshed(tmp_path: Path, run, monkeypatch: pytest.MonkeyPatch) -> None:
    """An anchor on disk the bundle does not hold (written without a refresh) is repaired."""
    image = tmp_path / "image"
    debian_tree(image)
    bindir, log = tmp_path / "bin", tmp_path / "refresh.log"
    counting_wrapper(bindir, log)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(HOST_REFRESH)
    assert run("sync", "--offline", "--config", str(cfg), "--sysroot", str(image)).code == 0
    bundle = image / "etc/ssl/certs/ca-certificates.crt"
    held = [c for c in parse_many(bundle.read_bytes()) if c.sha256 != azure_sha256("digicert-global-root-g2")]
    bundle.write_bytes(b"".join(c.to_pem() for c in held))  # as if a package update dropped it
    repaired = run("sync", "--offline", "--config", str(cfg), "--sysroot", str(image))
    assert repaired.code == 0, repaired.err
    assert "lacks digicert-global-root-g2" in repaired.out
    assert len(calls(log)) == 2
    assert azure_sha256("digicert-global-root-g2") in bundle_fingerprints(bundle)


# --- the other distributions: stand-in refresh commands ------------------------------------------
# The real update-ca-trust, SUSE's and Alpine's update-ca-certificates and Arch's trust are absent on
# this (Debian) machine: a stand-in placed first on PATH records its argv and concatenates the
# anchors into the bundle path, so the tests check paths, names, formats and argv.

STAND_INS = [
    # os-release ID, distro, anchor dir, suffix, command, argv after the command, bundle
    (
        "rocky",
        "rhel",
        "etc/pki/ca-trust/source/anchors",
        ".pem",
        "update-ca-trust",
        "extract",
        "etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    ),
    (
        "opensuse-leap",
        "suse",
        "etc/pki/trust/anchors",
        ".pem",
        "update-ca-certificates",
        "",
        "var/lib/ca-certificates/ca-bundle.pem",
    ),
    (
        "alpine",
        "alpine",
        "usr/local/share/ca-certificates",
        ".crt",
        "update-ca-certificates",
        "",
        "etc/ssl/certs/ca-certificates.crt",
    ),
    (
        "arch",
        "arch",
        "etc/ca-certificates/trust-source/anchors",
        ".crt",
        "trust",
        "extract-compat",
        "etc/ca-certificates/extracted/tls-ca-bundle.pem",
    ),
]


@pytest.mark.parametrize(("os_id", "distro", "anchor_dir", "suffix", "command", "args", "bundle"), STAND_INS)
def test_stand_in_distributions(
    tmp_path: Path,
    run,
    monkeypatch: pytest.MonkeyPatch,
    os_id: str,
    distro: str,
    anchor_dir: str,
    suffix: str,
    command: str,
    args: str,
    bundle: str,
) -> None:
    image = tmp_path / "image"
    (image / "etc").mkdir(parents=True)
    (image / "etc/os-release").write_text(f'NAME="whatever"\nID="{os_id}"\n')
    anchors = image / anchor_dir
    bindir, log = tmp_path / "bin", tmp_path / "refresh.log"
    recording_stand_in(bindir, command, log, anchors, image / bundle)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(HOST_REFRESH)

    result = run("sync", "--offline", "--config", str(cfg), "--sysroot", str(image))
    assert result.code == 0, result.err
    assert f"system:{distro} (sysroot {image})" in result.unwrapped
    assert calls(log) == [args]
    assert sorted(p.name for p in anchors.iterdir()) == sorted(f"rotator-{i}{suffix}" for i in AZURE_IDS)
    for root_id in AZURE_IDS:
        anchor = anchors / f"rotator-{root_id}{suffix}"
        assert anchor.read_bytes() == parse_one(embedded_pem(root_id)).to_pem()  # PEM text, one certificate
        assert stat.S_IMODE(anchor.stat().st_mode) == 0o644
    assert f"REQUESTS_CA_BUNDLE=/{bundle}" in result.unwrapped

    again = run("sync", "--offline", "--config", str(cfg), "--sysroot", str(image))
    assert again.code == 0 and "up to date" in again.unwrapped
    assert calls(log) == [args]  # no refresh without a change


def rhel_image(tmp_path: Path) -> tuple[Path, Path, Path]:
    image = tmp_path / "image"
    anchors = image / "etc/pki/ca-trust/source/anchors"
    anchors.mkdir(parents=True)
    (image / "etc/os-release").write_text('ID="rhel"\nID_LIKE="fedora"\n')
    return image, anchors, image / "etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem"


def test_failing_refresh_puts_anchors_back_and_refreshes_again(
    tmp_path: Path, run, monkeypatch: pytest.MonkeyPatch, test_pki
) -> None:
    root_ca, root_pem, _, _ = test_pki
    image, anchors, bundle = rhel_image(tmp_path)
    bindir, log = tmp_path / "bin", tmp_path / "refresh.log"
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    recording_stand_in(bindir, "update-ca-trust", log, anchors, bundle)
    with_root = config_with_root(tmp_path / "with.toml", root_pem, root_ca.sha256, target=HOST_REFRESH)
    assert run("sync", "--offline", "--config", str(with_root), "--sysroot", str(image)).code == 0
    before = {p.name: p.read_bytes() for p in anchors.iterdir()}
    assert "rotator-test-root.pem" in before

    recording_stand_in(bindir, "update-ca-trust", log, anchors, bundle, exit_code=3)
    without = config_with_root(tmp_path / "without.toml", root_pem, root_ca.sha256, include=False, target=HOST_REFRESH)
    failed = run("sync", "--offline", "--config", str(without), "--sysroot", str(image))
    assert failed.code == 1
    assert "`update-ca-trust extract` failed with exit code 3" in failed.err
    assert "stand-in update-ca-trust: cannot write the bundle" in failed.err  # its output, in the error
    assert "were put back as they were" in failed.err
    assert {p.name: p.read_bytes() for p in anchors.iterdir()} == before
    assert calls(log) == ["extract", "extract", "extract"]  # the good run, the failed one, the one after restoring


def test_missing_refresh_command_puts_anchors_back(tmp_path: Path, run, monkeypatch: pytest.MonkeyPatch) -> None:
    assert shutil.which("update-ca-trust", path=system.SEARCH_PATH) is None, "this test needs update-ca-trust absent"
    image, anchors, _ = rhel_image(tmp_path)
    (anchors / "corp.pem").write_bytes(make_root("corp CA").pem)
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(HOST_REFRESH)
    result = run("sync", "--offline", "--config", str(cfg), "--sysroot", str(image))
    assert result.code == 1
    assert "refresh command 'update-ca-trust' not found" in result.err
    assert "put back as they were" in result.err
    assert sorted(p.name for p in anchors.iterdir()) == ["corp.pem"]


@pytest.mark.slow
def test_refresh_timeout_is_bounded(tmp_path: Path, run, monkeypatch: pytest.MonkeyPatch) -> None:
    image, anchors, bundle = rhel_image(tmp_path)
    bindir, log = tmp_path / "bin", tmp_path / "refresh.log"
    recording_stand_in(bindir, "update-ca-trust", log, anchors, bundle, sleep=30)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(HOST_REFRESH + "refresh_timeout = 0.5\n")
    import time

    started = time.monotonic()
    result = run("sync", "--offline", "--config", str(cfg), "--sysroot", str(image))
    assert time.monotonic() - started < 10
    assert result.code == 1
    assert "did not finish within 0.5s" in result.err
    assert list(anchors.iterdir()) == []


# --- sysroot: chroot when the image holds the command, otherwise say what to run ---------------


@needs_update_ca
def test_sysroot_without_the_command_says_what_to_run(tmp_path: Path, run, monkeypatch: pytest.MonkeyPatch) -> None:
    image = tmp_path / "image"
    debian_tree(image)
    bindir, log = tmp_path / "bin", tmp_path / "refresh.log"
    counting_wrapper(bindir, log)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    result = run("sync", "--offline", "--target", "system", "--sysroot", str(image))
    assert result.code == 0, result.err
    flowing = " ".join(result.out.split())  # a note wraps within 100 columns
    assert f"{image} holds no update-ca-certificates" in flowing
    assert "run `update-ca-certificates` inside the image" in flowing
    assert calls(log) == []
    assert len(list((image / "usr/local/share/ca-certificates").glob("rotator-*.crt"))) == len(AZURE_IDS)
    assert not (image / "etc/ssl/certs/ca-certificates.crt").exists()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="chroot needs root")
def test_sysroot_holding_the_command_refreshes_through_chroot(
    tmp_path: Path, run, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = tmp_path / "image"
    debian_tree(image)
    write_script(image / "usr/sbin/update-ca-certificates", "exit 0\n")  # what the image would hold
    bindir, log = tmp_path / "bin", tmp_path / "chroot.log"
    # A stand-in chroot records its argv and builds the bundle (a real chroot would need a whole image).
    recording_stand_in(
        bindir, "chroot", log, image / "usr/local/share/ca-certificates", image / "etc/ssl/certs/ca-certificates.crt"
    )
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    result = run("sync", "--offline", "--target", "system:debian", "--sysroot", str(image))
    assert result.code == 0, result.err
    assert calls(log) == [f"{image} update-ca-certificates"]


# --- detection -------------------------------------------------------------------------------


def detected(root: Path) -> str:
    return system.build(TargetSpec("system"), StoreContext(sysroot=str(root))).distro.name


@pytest.mark.parametrize(
    ("release", "expected"),
    [
        ("ID=ubuntu\nID_LIKE=debian\n", "debian"),
        ('ID="rocky"\nID_LIKE="rhel centos fedora"\n', "rhel"),
        ("ID=amzn\n", "rhel"),
        ('ID="opensuse-tumbleweed"\nID_LIKE="opensuse suse"\n', "suse"),
        ("ID=alpine\n", "alpine"),
        ("ID=manjaro\nID_LIKE=arch\n", "arch"),
        ('ID=mycorp-linux\nID_LIKE="ubuntu debian"\n', "debian"),  # unknown ID: ID_LIKE decides
        ('ID=mycorp-linux\nID_LIKE="centos"\n', "rhel"),
    ],
)
def test_detection_from_os_release(tmp_path: Path, release: str, expected: str) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/os-release").write_text(release)
    assert detected(tmp_path) == expected


def test_detection_reads_usr_lib_os_release(tmp_path: Path) -> None:
    (tmp_path / "usr/lib").mkdir(parents=True)
    (tmp_path / "usr/lib/os-release").write_text("ID=fedora\n")
    assert detected(tmp_path) == "rhel"


@pytest.mark.parametrize(
    ("present", "expected"),
    [
        ("etc/pki/ca-trust/source/anchors/", "rhel"),
        ("etc/pki/trust/anchors/", "suse"),
        ("etc/ca-certificates/trust-source/anchors/", "arch"),
        ("usr/local/share/ca-certificates/", "debian"),
        ("etc/alpine-release", "alpine"),
    ],
)
def test_detection_falls_back_on_what_exists(tmp_path: Path, present: str, expected: str) -> None:
    path = tmp_path / present
    if present.endswith("/"):
        path.mkdir(parents=True)
    else:
        path.parent.mkdir(parents=True)
        path.write_text("3.20.0\n")
    assert detected(tmp_path) == expected


def test_undetectable_tree_is_a_usage_error(tmp_path: Path, run) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/os-release").write_text("ID=gentoo\n")
    with pytest.raises(ConfigError, match="ID=gentoo"):
        detected(tmp_path)
    result = run("sync", "--offline", "--target", "system", "--sysroot", str(tmp_path))
    assert result.code == 2
    assert "system:debian|rhel|suse|alpine|arch" in result.err


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ('kind = "system"\npath = "gentoo"\n', "unknown distribution 'gentoo'"),
        ('kind = "system"\nrefresh = "sometimes"\n', "is not one of auto, chroot, host, none"),
        ('kind = "system"\nrefresh = "chroot"\n', "'chroot' needs --sysroot"),
        ('kind = "system"\nrefresh_timeout = -1\n', "refresh_timeout: expected a positive number"),
        ('kind = "system"\ncolour = "blue"\n', "unknown key 'colour'"),
        ('kind = "system"\npath = "debian"\ndistro = "rhel"\n', "disagree"),
    ],
)
def test_bad_system_targets_are_usage_errors(tmp_path: Path, run, target: str, message: str) -> None:
    image = tmp_path / "image"
    debian_tree(image)
    cfg = tmp_path / "cfg.toml"
    cfg.write_text("[[targets]]\n" + target)
    sysroot = [] if "chroot" in target else ["--sysroot", str(image)]
    result = run("sync", "--offline", "--config", str(cfg), *sysroot)
    assert result.code == 2, result.err
    assert message in result.err


def test_chroot_into_an_image_without_the_command_fails_before_writing(tmp_path: Path, run) -> None:
    image = tmp_path / "image"
    debian_tree(image)
    cfg = tmp_path / "cfg.toml"
    cfg.write_text('[[targets]]\nkind = "system"\nrefresh = "chroot"\n')
    result = run("sync", "--offline", "--config", str(cfg), "--sysroot", str(image))
    assert result.code == 1
    assert f"{image} holds no update-ca-certificates" in result.err
    assert list((image / "usr/local/share/ca-certificates").iterdir()) == []


def test_dry_run_writes_nothing_and_runs_nothing(tmp_path: Path, run, monkeypatch: pytest.MonkeyPatch) -> None:
    image, anchors, bundle = rhel_image(tmp_path)
    bindir, log = tmp_path / "bin", tmp_path / "refresh.log"
    recording_stand_in(bindir, "update-ca-trust", log, anchors, bundle)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(HOST_REFRESH)
    result = run("sync", "--offline", "--dry-run", "--config", str(cfg), "--sysroot", str(image))
    assert result.code == 0, result.err
    assert "would add" in result.unwrapped and "refresh: `update-ca-trust extract`" in result.unwrapped
    assert list(anchors.iterdir()) == [] and calls(log) == []


def test_wrong_suffix_anchor_of_rotator_is_replaced(tmp_path: Path) -> None:
    """Debian reads only *.crt: a rotator-<id>.pem there trusts nothing and is replaced."""
    image = tmp_path / "image"
    debian_tree(image)
    local = image / "usr/local/share/ca-certificates"
    (local / "rotator-digicert-global-root-g2.pem").write_bytes(embedded_pem("digicert-global-root-g2"))
    store = system.build(
        TargetSpec("system", "debian", options=(("refresh", "none"),)), StoreContext(sysroot=str(image))
    )
    from stores.base import Anchor

    g2 = Cert.from_der(parse_one(embedded_pem("digicert-global-root-g2")).der)
    plan = store.plan([Anchor("digicert-global-root-g2", "G2", g2)])
    assert [e.label for e in plan.remove] == ["rotator-digicert-global-root-g2.pem"]
    assert [a.root_id for a in plan.add] == ["digicert-global-root-g2"]
    store.apply(plan)
    assert sorted(p.name for p in local.iterdir()) == ["rotator-digicert-global-root-g2.crt"]


# --- not root, directory not writable ------------------------------------------------------------


def test_not_root_and_not_writable_names_the_directory(tmp_path: Path) -> None:
    """Run the CLI as an unprivileged user (a forked child that drops to nobody when we are root)."""
    from rotator.cli.main import main

    image = Path(tempfile.mkdtemp(prefix="rotator-ro-"))  # outside pytest's 0700 tmp tree
    try:
        debian_tree(image)
        for path in [image, *image.rglob("*")]:
            if path.is_dir():
                path.chmod(0o755)
        local = image / "usr/local/share/ca-certificates"
        if os.geteuid() != 0:
            local.chmod(0o555)
        state = image.parent / f"{image.name}-state"  # the unprivileged user's own state and lock
        state.mkdir(mode=0o777)
        state.chmod(0o777)
        lock_dir = image.parent / f"{image.name}-locks"  # and its own private lock directory
        lock_dir.mkdir(mode=0o700)
        if os.geteuid() == 0:
            os.chown(lock_dir, 65534, 65534)
        argv = [
            "sync",
            "--offline",
            "--no-cache",
            "--state-dir",
            str(state),
            "--lock-dir",
            str(lock_dir),
            "--target",
            "system:debian",
            "--sysroot",
            str(image),
        ]
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # child
            code = 99
            err = io.StringIO()
            try:
                os.close(read_end)
                if os.geteuid() == 0:
                    os.setgroups([])
                    os.setgid(65534)
                    os.setuid(65534)
                with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                    code = main(argv)
            except BaseException as exc:  # report anything to the parent
                err.write(f"child crashed: {exc!r}")
            finally:
                os.write(write_end, f"{code}\n{err.getvalue()}".encode())
                os._exit(0)
        os.close(write_end)
        chunks = []
        while True:
            ready, _, _ = select.select([read_end], [], [], 60)
            assert ready, "the unprivileged run did not finish within 60s"
            chunk = os.read(read_end, 65536)
            if not chunk:
                break
            chunks.append(chunk)
        os.close(read_end)
        os.waitpid(pid, 0)
        code_text, _, err_text = b"".join(chunks).decode().partition("\n")
        assert code_text == "1", err_text
        assert f"cannot write anchors into {local}" in err_text
        assert "sudo" in err_text and "service" in err_text
        assert list(local.iterdir()) == []
    finally:
        shutil.rmtree(image, ignore_errors=True)
        shutil.rmtree(image.parent / f"{image.name}-state", ignore_errors=True)


def test_roots_the_distribution_already_ships_are_said_to_be_anchored_not_just_added(tmp_path: Path, run) -> None:
    image = tmp_path / "image"
    debian_tree(image)
    bundle = image / "etc/ssl/certs/ca-certificates.crt"
    bundle.parent.mkdir(parents=True, exist_ok=True)
    bundle.write_bytes(embedded_pem("digicert-global-root-g2"))  # as Debian's bundle carries it
    roots = ["--root", "digicert-global-root-g2", "--root", "microsoft-tls-rsa-root-g2"]
    result = run("sync", "--offline", "--target", "system", "--sysroot", str(image), *roots)
    assert result.code == 0, result.err
    assert (
        "note: digicert-global-root-g2 already in /etc/ssl/certs/ca-certificates.crt from the distribution: "
        "anchored by rotator too, so that a distribution update cannot drop them"
    ) in result.unwrapped
    assert "microsoft-tls-rsa-root-g2 already" not in result.out  # not shipped: plainly added
