"""java-cacerts: finding every JDK's cacerts, against trees made by the test (and, read-only, the machine's)."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from stores.jdk_discovery import discover
from tests.support import keytool as kt
from tests.support.targets import G2, MS_RSA, MS_TLS, PW, error_lines, write_config

ISRG = "/etc/ssl/certs/ISRG_Root_X1.pem"


def make_jdk(home: Path, *, jdk8: bool = False, cacerts_link: Path | None = None) -> Path:
    security = home / ("jre/lib/security" if jdk8 else "lib/security")
    security.mkdir(parents=True)
    java = home / ("jre/bin/java" if jdk8 else "bin/java")
    java.parent.mkdir(parents=True)
    java.write_text("#!/bin/sh\nexit 0\n")
    java.chmod(0o755)
    if cacerts_link is not None:
        (security / "cacerts").symlink_to(cacerts_link)
    return security / "cacerts"


def keystore(path: Path, storetype: str, *, no_mac: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    options = ["-J-Dkeystore.pkcs12.macAlgorithm=NONE", "-J-Dkeystore.pkcs12.certProtectionAlgorithm=NONE"]
    kt.keytool(
        *(options if no_mac else []),
        "-importcert",
        "-noprompt",
        "-alias",
        "isrg",
        "-file",
        ISRG,
        "-storetype",
        storetype,
        "-keystore",
        str(path),
        *kt.storepass(PW),
        password=PW,
    )
    return path


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A host with Debian's shared cacerts, a JDK 8, a Temurin-like JDK and a JDK outside /usr/lib/jvm."""
    jvm = tmp_path / "jvm"
    shared = tmp_path / "etc/ssl/certs/java/cacerts"
    shared.parent.mkdir(parents=True)
    shared.write_bytes(b"placeholder")
    make_jdk(jvm / "java-17-openjdk", cacerts_link=shared)
    (jvm / "java-1.17.0-openjdk").symlink_to("java-17-openjdk")
    make_jdk(jvm / "java-21-openjdk", cacerts_link=shared)
    jdk8 = make_jdk(jvm / "java-8-openjdk", jdk8=True)
    temurin = make_jdk(jvm / "temurin-25")
    (jvm / "not-a-jdk").mkdir()
    custom = make_jdk(tmp_path / "opt/custom-jdk")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "java").symlink_to(jvm / "java-21-openjdk/bin/java")
    return {
        "jvm": jvm,
        "shared": shared,
        "jdk8": jdk8,
        "temurin": temurin,
        "custom": custom,
        "bin": bin_dir,
        "java_home": tmp_path / "opt/custom-jdk",
    }


def test_discover_dedupes_by_real_path(host: dict[str, Path]) -> None:
    for name in ("jdk8", "temurin", "custom"):
        host[name].write_bytes(b"placeholder")
    found = discover(
        java_home=str(host["java_home"]), path_env=f"relative/bin{os.pathsep}{host['bin']}", jvm_dirs=[host["jvm"]]
    )
    paths = [f.path for f in found.found]
    assert paths == [host["custom"], host["shared"], host["jdk8"], host["temurin"]]
    shared = found.found[1]
    assert list(shared.jdks) == [host["jvm"] / "java-21-openjdk", host["jvm"] / "java-17-openjdk"]
    assert shared.jdks[host["jvm"] / "java-21-openjdk"][0].startswith("java on PATH")
    assert found.found[0].jdks == {host["java_home"]: ["$JAVA_HOME"]}


def test_discover_skips_missing_and_dangling(host: dict[str, Path]) -> None:
    host["shared"].unlink()  # Debian without ca-certificates-java: dangling links
    found = discover(java_home=None, path_env=None, jvm_dirs=[host["jvm"], Path("/nonexistent/jvm")])
    assert found.found == []
    assert found.looked == ["$JAVA_HOME (unset)", "java on PATH (none)", str(host["jvm"]), "/nonexistent/jvm"]


@pytest.mark.slow
def test_java_cacerts_syncs_every_distinct_store(
    tmp_path: Path, run, host: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    host["shared"].unlink()
    keystore(host["shared"], "JKS")
    keystore(host["jdk8"], "JKS")
    keystore(host["custom"], "PKCS12")
    keystore(host["temurin"], "PKCS12", no_mac=True)
    monkeypatch.setenv("JAVA_HOME", str(host["java_home"]))
    monkeypatch.setenv("PATH", str(host["bin"]))
    config = write_config(tmp_path, {"kind": "java-cacerts", "jvm_dirs": [host["jvm"]]})
    result = run("sync", "--offline", "--config", str(config), "--profile", "azure-postgresql")
    assert result.code == 0, result.err
    targets = [line.split(": ")[0] for line in result.unwrapped.splitlines() if line.startswith("java-cacerts:")]
    assert targets == [f"java-cacerts:{host[n]}" for n in ("custom", "shared", "jdk8", "temurin")]
    assert f"note: used by {host['jvm'] / 'java-21-openjdk'} (java on PATH" in result.unwrapped
    expected = {
        "isrg",
        "rotator-digicert-global-root-g2",
        "rotator-microsoft-rsa-root-2017",
        "rotator-microsoft-tls-rsa-root-g2",
    }
    for name in ("custom", "shared", "jdk8"):
        listing = kt.by_alias(host[name], PW)
        assert set(listing) == expected
        assert {sha for _, sha in listing.values()} >= {MS_TLS, G2, MS_RSA}
    # Temurin's password-less store stays password-less: listed with no password at all.
    assert set(kt.by_alias(host["temurin"], "", "PKCS12")) == expected
    assert (host["jvm"] / "java-17-openjdk/lib/security/cacerts").is_symlink()


def test_java_cacerts_none_found_names_where_it_looked(tmp_path: Path, run, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "jvm"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "nobin"))
    config = write_config(tmp_path, {"kind": "java-cacerts", "jvm_dirs": [empty]})
    result = run("sync", "--offline", "--config", str(config))
    assert result.code == 1
    line = error_lines(result.err)[0]
    assert "java-cacerts found no JDK cacerts" in line
    assert f"$JAVA_HOME (unset), java on PATH (none), {empty}" in line


@pytest.mark.slow
def test_java_cacerts_in_an_image_tree_stays_inside_it(tmp_path: Path, run) -> None:
    """--sysroot: Debian's absolute link /etc/ssl/certs/java/cacerts is followed inside the image."""
    image = tmp_path / "image"
    inside = keystore(image / "etc/ssl/certs/java/cacerts", "JKS")
    make_jdk(image / "usr/lib/jvm/java-17-openjdk", cacerts_link=Path("/etc/ssl/certs/java/cacerts"))
    found = discover(java_home=None, path_env=None, jvm_dirs=[Path("/usr/lib/jvm")], root=image)
    assert [f.path for f in found.found] == [inside]
    machine = hashlib.sha256(kt.MACHINE_CACERTS.read_bytes()).hexdigest() if kt.MACHINE_CACERTS.exists() else None
    dry = run("sync", "--offline", "--dry-run", "--sysroot", str(image), "--target", "java-cacerts")
    assert dry.code == 0, dry.err
    assert f"java-cacerts:{inside}:" in dry.unwrapped
    result = run("sync", "--offline", "--sysroot", str(image), "--target", "java-cacerts")
    assert result.code == 0, result.err
    assert len(kt.by_alias(inside, PW)) == 8
    if machine is not None:
        assert hashlib.sha256(kt.MACHINE_CACERTS.read_bytes()).hexdigest() == machine


def test_real_machine_discovery_dry_run(run) -> None:
    """Read-only: on this machine, every JDK shares Debian's cacerts; nothing is written."""
    if not kt.MACHINE_CACERTS.is_file() or shutil.which("java") is None:
        pytest.skip("no JDK on this machine")
    before = kt.MACHINE_CACERTS.read_bytes()
    result = run("sync", "--offline", "--dry-run", "--target", "java-cacerts")
    assert result.code == 0, result.err
    real_java = Path(os.path.realpath(shutil.which("java") or "")).parent.parent
    assert f"java-cacerts:{kt.MACHINE_CACERTS}:" in result.unwrapped
    assert f"note: used by {real_java} (java on PATH" in result.unwrapped
    assert sum(line.startswith("java-cacerts:") for line in result.unwrapped.splitlines()) == 1
    assert kt.MACHINE_CACERTS.read_bytes() == before


@pytest.mark.parametrize("java_home", ["missing", "empty"])
def test_a_java_home_that_names_no_jdk_is_an_error_and_no_other_jdk_is_patched(
    tmp_path: Path, run, host: dict[str, Path], monkeypatch: pytest.MonkeyPatch, java_home: str
) -> None:
    """JAVA_HOME says which JDK the user means: one that is not there must not quietly become another."""
    keystore(host["shared"].parent / "real-cacerts", "JKS").replace(host["shared"])
    before = host["shared"].read_bytes()
    home = tmp_path / "opt" / java_home
    if java_home == "empty":
        home.mkdir(parents=True)
    monkeypatch.setenv("JAVA_HOME", str(home))
    monkeypatch.setenv("PATH", str(host["bin"]))  # a JDK on PATH that would otherwise be patched
    config = write_config(tmp_path, {"kind": "java-cacerts", "jvm_dirs": [host["jvm"]]})
    result = run("sync", "--offline", "--config", str(config), "--profile", "azure-postgresql")
    assert result.code == 1, result.out
    (line,) = error_lines(result.err)
    assert f"$JAVA_HOME={home}" in line
    assert ("is not a directory" if java_home == "missing" else "holds no lib/security/cacerts") in line
    assert "point JAVA_HOME at a JDK, unset it, or name the file with java-cacerts:PATH" in line
    assert host["shared"].read_bytes() == before


def test_discover_reports_no_problem_for_a_java_home_with_cacerts(host: dict[str, Path]) -> None:
    host["custom"].write_bytes(b"a keystore")
    found = discover(java_home=str(host["java_home"]), path_env="", jvm_dirs=[])
    assert found.java_home_problem == ""
    assert [f.path for f in found.found] == [host["custom"]]
