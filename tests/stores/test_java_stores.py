"""Java trust stores against the real keytool and a real Java TLS client."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.support import keytool as kt
from tests.support.pki import make_intermediate, make_leaf, make_root
from tests.support.runs import unwrapped
from tests.support.targets import (
    DEBIAN_G1,
    DEBIAN_G2,
    DEBIAN_MS_RSA,
    G2,
    MS_RSA,
    MS_TLS,
    POSTGRES,
    PW,
    error_lines,
    write_config,
)

# Every test here drives keytool (a JVM) or a Java client: end-to-end, outside the quick loop.
pytestmark = [pytest.mark.skipif(not Path(kt.KEYTOOL).exists(), reason="keytool (a JDK) is required"), pytest.mark.slow]


@pytest.fixture(scope="module")
def reduced(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, tuple[str, str]]]:
    """The machine's JDK cacerts (JKS) without G2 and Microsoft RSA 2017, and keytool's listing of it.

    G1 stays under its Debian alias (not rotator's: never touched); a sync adds three roots.
    """
    if not kt.MACHINE_CACERTS.is_file():
        pytest.skip("no JDK cacerts on this machine")
    directory = tmp_path_factory.mktemp("reduced")
    path = directory / "cacerts"
    shutil.copyfile(kt.MACHINE_CACERTS, path)
    for alias in (DEBIAN_G2, DEBIAN_MS_RSA):
        kt.keytool("-delete", "-alias", alias, "-keystore", str(path), *kt.storepass(PW), password=PW)
    listing = kt.by_alias(path, PW)
    assert len(listing) > 100 and DEBIAN_G1 in listing
    assert G2 not in {sha for _, sha in listing.values()}
    return path, listing


@pytest.fixture(scope="module")
def reduced_p12(
    tmp_path_factory: pytest.TempPathFactory, reduced: tuple[Path, dict[str, tuple[str, str]]]
) -> tuple[Path, dict[str, tuple[str, str]]]:
    path = tmp_path_factory.mktemp("reduced-p12") / "cacerts.p12"
    kt.copy_to_pkcs12(reduced[0], PW, path, PW)
    listing = kt.by_alias(path, PW, "PKCS12")
    assert {sha for _, sha in listing.values()} == {sha for _, sha in reduced[1].values()}
    return path, listing


def assert_synced(after: dict[str, tuple[str, str]], before: dict[str, tuple[str, str]]) -> None:
    """The three missing roots added under rotator's aliases, every other entry (G1 too) unchanged."""
    added = {alias: after[alias] for alias in after.keys() - before.keys()}
    assert added == {
        "rotator-digicert-global-root-g2": ("trustedCertEntry", G2),
        "rotator-microsoft-rsa-root-2017": ("trustedCertEntry", MS_RSA),
        "rotator-microsoft-tls-rsa-root-g2": ("trustedCertEntry", MS_TLS),
    }
    assert {alias: after[alias] for alias in before} == before
    fingerprints = [sha for _, sha in after.values()]
    for sha in POSTGRES.values():
        assert fingerprints.count(sha) == 1


def test_jks_copy_of_jdk_cacerts(tmp_path: Path, run, reduced) -> None:
    store = tmp_path / "cacerts"
    shutil.copyfile(reduced[0], store)
    password_file = tmp_path / "storepass"
    password_file.write_text(PW + "\n")  # as `echo changeit > file` writes it
    config = write_config(tmp_path, {"kind": "jks", "path": store, "storepass_file": password_file})
    result = run("sync", "--offline", "--config", str(config), "--profile", "azure-postgresql")
    assert result.code == 0, result.err
    assert _listed(result.out, "added ") == [
        "digicert-global-root-g2",
        "microsoft-rsa-root-2017",
        "microsoft-tls-rsa-root-g2",
    ]
    assert "digicert-global-root-ca" not in result.out  # an application store: G1 is the owner's business
    assert store.read_bytes()[:4] == bytes.fromhex("feedfeed")
    assert_synced(kt.by_alias(store, PW), reduced[1])
    assert PW not in result.out + result.err

    # A second run has nothing to do and does not rewrite the file.
    before = store.read_bytes(), store.stat().st_mtime_ns
    again = run("sync", "--offline", "--config", str(config), "--profile", "azure-postgresql")
    assert again.code == 0, again.err
    assert "up to date" in again.unwrapped
    assert (store.read_bytes(), store.stat().st_mtime_ns) == before


def test_pkcs12_copy_made_by_keytool(tmp_path: Path, run, reduced_p12, monkeypatch: pytest.MonkeyPatch) -> None:
    store = tmp_path / "cacerts.p12"
    shutil.copyfile(reduced_p12[0], store)
    monkeypatch.setenv("APP_STOREPASS", PW)
    config = write_config(tmp_path, {"kind": "pkcs12", "path": store, "storepass_env": "APP_STOREPASS"})
    result = run("sync", "--offline", "--config", str(config), "--profile", "azure-postgresql")
    assert result.code == 0, result.err
    assert store.read_bytes()[:1] == b"\x30"
    assert_synced(kt.by_alias(store, PW, "PKCS12"), reduced_p12[1])
    before = store.read_bytes()
    assert run("sync", "--offline", "--config", str(config), "--profile", "azure-postgresql").code == 0
    assert store.read_bytes() == before


def test_java_cacerts_path_default_password_through_symlink(tmp_path: Path, run, reduced) -> None:
    """Debian's layout: the JDK's cacerts is a link; the real file is updated, mode kept, link kept."""
    real = tmp_path / "etc" / "cacerts"
    real.parent.mkdir()
    shutil.copyfile(reduced[0], real)
    real.chmod(0o640)
    link = tmp_path / "jdk" / "lib" / "security" / "cacerts"
    link.parent.mkdir(parents=True)
    link.symlink_to(real)
    result = run("sync", "--offline", "--profile", "azure-postgresql", "--target", f"java-cacerts:{link}")
    assert result.code == 0, result.err
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.stat().st_mode & 0o777 == 0o640
    assert_synced(kt.by_alias(real, PW), reduced[1])


def test_dry_run_prints_alias_plan_and_writes_nothing(tmp_path: Path, run, reduced) -> None:
    store = tmp_path / "cacerts"
    shutil.copyfile(reduced[0], store)
    before = store.read_bytes()
    result = run("sync", "--offline", "--dry-run", "--profile", "azure-postgresql", "--target", f"java-cacerts:{store}")
    assert result.code == 0, result.err
    assert f"  + digicert-global-root-g2 (DigiCert Global Root G2, sha256 {G2})" in result.unwrapped
    # host-wide: the distribution's G1 is reported, and left where it is
    left = f"  left digicert-global-root-ca: DigiCert Global Root CA is here as {DEBIAN_G1}, not added by"
    assert left in result.unwrapped
    assert store.read_bytes() == before


@pytest.mark.parametrize("kind, storetype, magic", [("jks", "JKS", "feedfeed"), ("pkcs12", "PKCS12", "30")])
def test_new_store_gets_the_kind_format(
    tmp_path: Path, run, kind: str, storetype: str, magic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "sub" / f"trust.{kind}"
    monkeypatch.setenv("APP_STOREPASS", "s3cret-pass")
    config = write_config(tmp_path, {"kind": kind, "path": store, "storepass_env": "APP_STOREPASS"})
    result = run("sync", "--offline", "--config", str(config), "--profile", "azure-postgresql")
    assert result.code == 0, result.err
    assert store.read_bytes().hex().startswith(magic)
    assert store.stat().st_mode & 0o777 == 0o644
    assert kt.by_alias(store, "s3cret-pass", storetype) == {
        f"rotator-{root_id}": ("trustedCertEntry", sha) for root_id, sha in POSTGRES.items()
    }


def test_empty_password_pkcs12_readable_with_and_without_password(
    tmp_path: Path, run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Temurin ships a password-less cacerts: rotator writes one that Java opens either way."""
    store = tmp_path / "trust.p12"
    monkeypatch.setenv("EMPTY_PASS", "")
    config = write_config(tmp_path, {"kind": "pkcs12", "path": store, "storepass_env": "EMPTY_PASS"})
    result = run("sync", "--offline", "--config", str(config), "--profile", "azure-postgresql")
    assert result.code == 0, result.err
    expected = {f"rotator-{root_id}": ("trustedCertEntry", sha) for root_id, sha in POSTGRES.items()}
    assert kt.by_alias(store, "", "PKCS12") == expected  # keytool, no password given
    # Java opened with any password too (no MAC, like Temurin's), and rotator opens it again.
    assert kt.by_alias(store, "changeit", "PKCS12") == expected
    again = run("sync", "--offline", "--config", str(config), "--profile", "azure-all")
    assert again.code == 0, again.err
    assert len(kt.by_alias(store, "", "PKCS12")) == 7


def test_kind_does_not_change_an_existing_format(tmp_path: Path, run, monkeypatch: pytest.MonkeyPatch) -> None:
    store = tmp_path / "trust"
    kt.keytool(
        "-importcert",
        "-noprompt",
        "-alias",
        "digicertglobalrootg2",
        "-file",
        "/etc/ssl/certs/DigiCert_Global_Root_G2.pem",
        "-storetype",
        "JKS",
        "-keystore",
        str(store),
        *kt.storepass(PW),
        password=PW,
    )
    monkeypatch.setenv("APP_STOREPASS", PW)
    config = write_config(tmp_path, {"kind": "pkcs12", "path": store, "storepass_env": "APP_STOREPASS"})
    result = run("sync", "--offline", "--config", str(config), "--profile", "azure-postgresql")
    assert result.code == 0, result.err
    assert "the file is JKS and stays JKS" in result.unwrapped
    assert store.read_bytes()[:4] == bytes.fromhex("feedfeed")
    # The alias from Azure's manual steps counts: G2 is not added a second time.
    assert kt.by_alias(store, PW, "JKS") == {
        "digicertglobalrootg2": ("trustedCertEntry", G2),
        "rotator-microsoft-rsa-root-2017": ("trustedCertEntry", MS_RSA),
        "rotator-microsoft-tls-rsa-root-g2": ("trustedCertEntry", MS_TLS),
    }


@pytest.mark.parametrize("kind, storetype", [("jks", "JKS"), ("pkcs12", "PKCS12")])
def test_profile_change_removes_only_rotator_entries(
    tmp_path: Path, run, kind: str, storetype: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "trust"
    kt.keytool(
        "-importcert",
        "-noprompt",
        "-alias",
        "mine",
        "-file",
        "/etc/ssl/certs/ISRG_Root_X1.pem",
        "-storetype",
        storetype,
        "-keystore",
        str(store),
        *kt.storepass(PW),
        password=PW,
    )
    monkeypatch.setenv("APP_STOREPASS", PW)
    config = write_config(tmp_path, {"kind": kind, "path": store, "storepass_env": "APP_STOREPASS"})
    assert run("sync", "--offline", "--config", str(config), "--profile", "azure-all").code == 0
    assert len(kt.by_alias(store, PW, storetype)) == 8
    result = run("sync", "--offline", "--config", str(config), "--profile", "azure-postgresql")
    assert result.code == 0, result.err
    after = kt.by_alias(store, PW, storetype)
    assert set(after) == {"mine"} | {f"rotator-{root_id}" for root_id in POSTGRES}


def test_jks_private_key_is_kept_intact(tmp_path: Path, run, monkeypatch: pytest.MonkeyPatch) -> None:
    """A JKS with a key pair round-trips byte for byte, so rotator may add roots beside the key."""
    store = tmp_path / "app.jks"
    kt.keytool(
        "-genkeypair",
        "-alias",
        "server",
        "-keyalg",
        "EC",
        "-dname",
        "CN=app",
        "-storetype",
        "JKS",
        "-keystore",
        str(store),
        *kt.storepass(PW),
        "-keypass:env",
        kt.PW_VAR,
        password=PW,
    )
    key_before = kt.by_alias(store, PW)["server"]
    monkeypatch.setenv("APP_STOREPASS", PW)
    config = write_config(tmp_path, {"kind": "jks", "path": store, "storepass_env": "APP_STOREPASS"})
    result = run("sync", "--offline", "--config", str(config), "--profile", "azure-postgresql")
    assert result.code == 0, result.err
    assert "1 private key entry kept unchanged" in result.unwrapped
    after = kt.by_alias(store, PW)
    assert after["server"] == key_before == ("PrivateKeyEntry", key_before[1])
    assert len(after) == 4
    # keytool can still use the private key (a CSR needs it decrypted).
    csr = kt.keytool(
        "-certreq",
        "-alias",
        "server",
        "-keystore",
        str(store),
        *kt.storepass(PW),
        "-keypass:env",
        kt.PW_VAR,
        password=PW,
    )
    assert "BEGIN NEW CERTIFICATE REQUEST" in csr.stdout


def _make_bad_store(tmp_path: Path, case: str, reduced_path: Path, p12_path: Path) -> tuple[Path, str]:
    """A store that must be refused, and the kind of target that points at it."""
    path = tmp_path / "bad"
    if case in ("wrong-password-jks", "truncated-jks", "corrupt-jks"):
        data = reduced_path.read_bytes()
        if case == "truncated-jks":
            data = data[: len(data) // 2]
        elif case == "corrupt-jks":
            data = data[:2000] + bytes(b ^ 0xFF for b in data[2000:2100]) + data[2100:]
        path.write_bytes(data)
        return path, "jks"
    if case in ("wrong-password-pkcs12", "truncated-pkcs12", "corrupt-pkcs12", "garbage-pkcs12"):
        data = p12_path.read_bytes()
        if case == "truncated-pkcs12":
            data = data[: len(data) - 100]
        elif case == "corrupt-pkcs12":
            data = data[:3000] + bytes(b ^ 0xFF for b in data[3000:3050]) + data[3050:]
        elif case == "garbage-pkcs12":
            data = data[:40] + bytes(range(256)) * 4
        path.write_bytes(data)
        return path, "pkcs12"
    if case == "jceks":
        kt.keytool(
            "-importcert",
            "-noprompt",
            "-alias",
            "x",
            "-file",
            "/etc/ssl/certs/ISRG_Root_X1.pem",
            "-storetype",
            "JCEKS",
            "-keystore",
            str(path),
            *kt.storepass(PW),
            password=PW,
        )
        return path, "jks"
    if case in ("pkcs12-private-key", "pkcs12-secret-key"):
        if case == "pkcs12-private-key":
            args = ["-genkeypair", "-alias", "k", "-keyalg", "EC", "-dname", "CN=k"]
        else:
            args = ["-genseckey", "-alias", "k", "-keyalg", "AES", "-keysize", "128"]
        kt.keytool(*args, "-storetype", "PKCS12", "-keystore", str(path), *kt.storepass(PW), password=PW)
        return path, "pkcs12"
    if case == "directory":
        path.mkdir()
        return path, "jks"
    if case == "empty":
        path.write_bytes(b"")
        return path, "pkcs12"
    if case == "not-a-keystore":
        path.write_bytes(b"-----BEGIN CERTIFICATE-----\nnot a keystore\n")
        return path, "jks"
    raise AssertionError(case)


BAD_STORES = {
    "wrong-password-jks": "the password did not open the store",
    "wrong-password-pkcs12": "the password did not open the store",
    "truncated-jks": "damaged or truncated",
    "corrupt-jks": "the password did not open the store (integrity check failed: wrong password, or the file was "
    "altered)",
    "truncated-pkcs12": "damaged or truncated",
    "corrupt-pkcs12": "the password did not open the store (integrity check failed: wrong password, or the file "
    "was altered)",
    "garbage-pkcs12": "damaged or truncated",
    "jceks": "it is a JCEKS keystore",
    "pkcs12-private-key": "it holds a private key",
    "pkcs12-secret-key": "it holds a secret key",
    "directory": "is a directory",
    "empty": "the file is empty",
    "not-a-keystore": "it is not a keystore",
}


@pytest.mark.parametrize("case", sorted(BAD_STORES))
def test_refused_stores_are_left_untouched(
    tmp_path: Path, run, reduced, reduced_p12, case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, kind = _make_bad_store(tmp_path, case, reduced[0], reduced_p12[0])
    before = None if path.is_dir() else path.read_bytes()
    monkeypatch.setenv("APP_STOREPASS", "wrong-one" if case.startswith("wrong-password") else PW)
    config = write_config(tmp_path, {"kind": kind, "path": path, "storepass_env": "APP_STOREPASS"})
    result = run("sync", "--offline", "--config", str(config), "--profile", "azure-postgresql")
    assert result.code == 1
    lines = error_lines(result.err)
    assert len(lines) == 1, result.err
    assert BAD_STORES[case] in lines[0]
    assert str(path) in lines[0]
    assert "wrong-one" not in result.out + result.err
    if before is None:
        assert path.is_dir() and not any(path.iterdir())
    else:
        assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".rotator-tmp")] == []


def test_wrong_default_password_on_java_cacerts(tmp_path: Path, run) -> None:
    store = tmp_path / "cacerts"
    kt.keytool(
        "-importcert",
        "-noprompt",
        "-alias",
        "x",
        "-file",
        "/etc/ssl/certs/ISRG_Root_X1.pem",
        "-storetype",
        "PKCS12",
        "-keystore",
        str(store),
        *kt.storepass("other-pass"),
        password="other-pass",
    )
    before = store.read_bytes()
    result = run("sync", "--offline", "--target", f"java-cacerts:{store}")
    assert result.code == 1
    assert "the password did not open the store" in error_lines(result.err)[0]
    assert "the default java-cacerts password" in result.err
    assert store.read_bytes() == before


def test_password_from_systemd_credential(tmp_path: Path, run, reduced, monkeypatch: pytest.MonkeyPatch) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "truststore-pass").write_text(PW)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    store = tmp_path / "cacerts"
    shutil.copyfile(reduced[0], store)
    config = write_config(tmp_path, {"kind": "jks", "path": store, "storepass_credential": "truststore-pass"})
    result = run("sync", "--offline", "--config", str(config), "--profile", "azure-postgresql")
    assert result.code == 0, result.err
    assert_synced(kt.by_alias(store, PW), reduced[1])


@pytest.mark.parametrize("command", ["sync", "status"])
def test_outside_systemd_a_credential_is_read_where_systemd_keeps_it(
    tmp_path: Path, run, reduced, command: str
) -> None:
    """status, probe and a hand-run sync read the credential the unit would get (an image tree: --sysroot)."""
    image = tmp_path / "image"
    (image / "run/credstore").mkdir(parents=True)
    (image / "run/credstore/truststore-pass").write_text(PW + "\n")
    store = tmp_path / "truststore.jks"
    shutil.copyfile(reduced[0], store)
    config = write_config(tmp_path, {"kind": "jks", "path": store, "storepass_credential": "truststore-pass"})
    args = ["--offline"] if command == "sync" else []
    result = run(command, *args, "--sysroot", str(image), "--config", str(config), "--profile", "azure-postgresql")
    if command == "sync":
        assert result.code == 0, result.err
        assert f"credential truststore-pass read from {image}/run/credstore/truststore-pass" in result.unwrapped
        assert_synced(kt.by_alias(store, PW), reduced[1])
    else:
        assert "CREDENTIALS_DIRECTORY" not in result.err, result.err
        assert f"jks:{store}" in result.unwrapped
    # Without it anywhere, the error says where it looked and what to do.
    (image / "run/credstore/truststore-pass").unlink()
    missing = run(command, *args, "--sysroot", str(image), "--config", str(config))
    assert missing.code == 2
    (line,) = error_lines(missing.err)
    assert "$CREDENTIALS_DIRECTORY is not set and there is no /etc/credstore/truststore-pass, " in line
    assert "or put the password in /etc/credstore/truststore-pass (mode 0600)" in line


@pytest.mark.parametrize(
    "target, message",
    [
        ({"kind": "jks", "path": "X"}, "needs its store password"),
        ({"kind": "jks", "path": "X", "storepass_env": "NOT_SET_ANYWHERE"}, "NOT_SET_ANYWHERE is not set"),
        ({"kind": "jks", "path": "X", "storepass_env": "A", "storepass_file": "B"}, "give the store password one way"),
        ({"kind": "pkcs12", "path": "X", "storepass_credential": "pw"}, "$CREDENTIALS_DIRECTORY is not set"),
        ({"kind": "pkcs12", "path": "X", "storepass_file": "/nonexistent/pw"}, "/nonexistent/pw not found"),
        ({"kind": "jks", "path": "X", "storepass": "plain"}, "unknown key 'storepass'"),
        ({"kind": "jks", "storepass_env": "HOME"}, "needs a path"),
    ],
)
def test_password_configuration_errors(tmp_path: Path, run, target: dict[str, object], message: str) -> None:
    if target.get("path") == "X":
        target = {**target, "path": tmp_path / "store"}
    config = write_config(tmp_path, target)
    result = run("sync", "--offline", "--config", str(config))
    assert result.code == 2
    assert message in result.err
    assert not (tmp_path / "store").exists()


def test_no_password_on_the_command_line_for_jks(tmp_path: Path, run) -> None:
    result = run("sync", "--offline", "--target", f"jks:{tmp_path / 'a.jks'}")
    assert result.code == 2
    # A command-line user is told the flags, never config keys.
    assert "pass --storepass-env VAR or --storepass-file FILE" in result.err
    assert "storepass_" not in result.err


@pytest.mark.slow
@pytest.mark.parametrize("kind, storetype", [("jks", "JKS"), ("pkcs12", "PKCS12")])
def test_java_client_trusts_server_only_after_sync(
    tmp_path: Path, run, reduced, reduced_p12, kind: str, storetype: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_root("rotator Java test root")
    intermediate = make_intermediate(root)
    leaf = make_leaf(intermediate)
    root_file, _ = root.write(tmp_path / "pki", "root")
    _, leaf_key = leaf.write(tmp_path / "pki", "leaf")
    chain = tmp_path / "pki" / "chain.pem"
    chain.write_bytes(leaf.pem + intermediate.pem)

    store = tmp_path / f"truststore.{kind}"
    shutil.copyfile(reduced[0] if kind == "jks" else reduced_p12[0], store)
    untouched = tmp_path / f"untouched.{kind}"
    shutil.copyfile(store, untouched)
    monkeypatch.setenv("APP_STOREPASS", PW)
    config = write_config(
        tmp_path,
        {"kind": kind, "path": store, "storepass_env": "APP_STOREPASS"},
        extra=f'include = ["java-test-root"]\n[[roots]]\nid = "java-test-root"\nsha256 = "{root.sha256}"\n'
        f'file = "{root_file}"\n',
    )
    result = run("sync", "--offline", "--config", str(config), "--profile", "azure-postgresql")
    assert result.code == 0, result.err
    assert kt.by_alias(store, PW, storetype)["rotator-java-test-root"] == ("trustedCertEntry", root.sha256)

    with kt.tls_server(chain, leaf_key) as port:
        trusted = kt.java_client(port, store, storetype, PW)
        assert trusted.returncode == 0, trusted.stdout + trusted.stderr
        assert trusted.stdout.startswith("TRUSTED TLSv1.")
        refused = kt.java_client(port, untouched, storetype, PW)
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert "NOT TRUSTED" in refused.stdout and "PKIX path building failed" in refused.stdout


def test_legacy_pkcs12_keeps_sha1_protection(tmp_path: Path, run, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store made the pre-2021 way stays readable by the old JDKs that made it."""
    from stores.keystore.pkcs12 import OID_SHA1, inspect_pkcs12

    store = tmp_path / "old.p12"
    kt.keytool(
        "-J-Dkeystore.pkcs12.legacy",
        "-importcert",
        "-noprompt",
        "-alias",
        "mine",
        "-file",
        "/etc/ssl/certs/ISRG_Root_X1.pem",
        "-storetype",
        "PKCS12",
        "-keystore",
        str(store),
        *kt.storepass(PW),
        password=PW,
    )
    assert inspect_pkcs12(store.read_bytes()).mac == OID_SHA1
    monkeypatch.setenv("APP_STOREPASS", PW)
    config = write_config(tmp_path, {"kind": "pkcs12", "path": store, "storepass_env": "APP_STOREPASS"})
    result = run("sync", "--offline", "--config", str(config), "--profile", "azure-postgresql")
    assert result.code == 0, result.err
    protection = inspect_pkcs12(store.read_bytes())
    assert protection.mac == OID_SHA1 and protection.encrypted
    assert set(kt.by_alias(store, PW, "PKCS12")) == {"mine"} | {f"rotator-{root_id}" for root_id in POSTGRES}


def test_password_flags_for_command_line_targets(tmp_path: Path, run, monkeypatch: pytest.MonkeyPatch) -> None:
    store = tmp_path / "cli.jks"
    monkeypatch.setenv("APP_STOREPASS", "s3cret-pw")
    missing = run("sync", "--offline", "--profile", "azure-minimal", "--target", f"jks:{store}")
    assert missing.code == 2 and "--storepass-env" in missing.err
    result = run(
        "sync",
        "--offline",
        "--profile",
        "azure-minimal",
        "--target",
        f"jks:{store}",
        "--target",
        f"pem:{tmp_path / 'b.pem'}",
        "--storepass-env",
        "APP_STOREPASS",
    )
    assert result.code == 0, result.err
    assert "s3cret-pw" not in result.out + result.err
    aliases = kt.by_alias(store, "s3cret-pw", "JKS")
    assert set(aliases) == {"rotator-digicert-global-root-g2", "rotator-microsoft-rsa-root-2017"}
    pw_file = tmp_path / "pw"
    pw_file.write_text("s3cret-pw\n")
    status = run(
        "status",
        "--offline",
        "--profile",
        "azure-minimal",
        "--target",
        f"jks:{store}",
        "--storepass-file",
        str(pw_file),
    )
    assert status.code == 0, status.out + status.err


def _openssl_bags(store: Path, password: str, legacy: bool) -> list[str]:
    """openssl's view of every certificate bag: its attributes and its certificate, in file order."""
    import subprocess

    out = subprocess.run(
        [
            "openssl",
            "pkcs12",
            "-in",
            str(store),
            "-nokeys",
            "-passin",
            f"pass:{password}",
            *(["-legacy"] if legacy else []),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    return ["Bag Attributes" + block for block in out.split("Bag Attributes")[1:]]


def _listed(out: str, verb: str) -> list[str]:
    """The root ids sync lists after ``verb``, across the lines a long list wraps onto."""
    return unwrapped(out).split(verb, 1)[1].splitlines()[0].split(";")[0].split(", ")


@pytest.mark.parametrize("legacy", [False, True])
def test_pkcs12_made_by_openssl_keeps_foreign_trust(
    tmp_path: Path, run, monkeypatch: pytest.MonkeyPatch, legacy: bool
) -> None:
    """`openssl pkcs12 -export -nokeys` writes certificates without Java's trust attribute: keytool lists
    none of them, and after a sync keytool must still list none of them (only rotator's own roots)."""
    import subprocess

    bundle = tmp_path / "in.pem"
    bundle.write_bytes(
        Path("/etc/ssl/certs/ISRG_Root_X1.pem").read_bytes()
        + Path("/etc/ssl/certs/DigiCert_Global_Root_G2.pem").read_bytes()
    )
    store = tmp_path / "openssl.p12"
    subprocess.run(
        [
            "openssl",
            "pkcs12",
            "-export",
            "-nokeys",
            "-in",
            str(bundle),
            "-out",
            str(store),
            "-passout",
            f"pass:{PW}",
            *(["-legacy"] if legacy else []),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    assert kt.by_alias(store, PW, "PKCS12") == {}
    foreign = _openssl_bags(store, PW, legacy)
    assert len(foreign) == 2 and all("<No Attributes>" in bag for bag in foreign)
    monkeypatch.setenv("APP_STOREPASS", PW)
    config = write_config(tmp_path, {"kind": "pkcs12", "path": store, "storepass_env": "APP_STOREPASS"})

    result = run("sync", "--offline", "--config", str(config), "--profile", "azure-all")
    assert result.code == 0, result.err
    assert "2 certificates without Java's trust attribute kept as they are" in result.unwrapped
    listing = kt.by_alias(store, PW, "PKCS12")
    # G2 was in the file but untrusted by Java: rotator adds its own trusted copy, and Java trusts
    # exactly rotator's roots, nothing of the foreign ones.
    added = _listed(result.out, ": added ")
    assert "digicert-global-root-g2" in added
    assert set(listing) == {f"rotator-{root_id}" for root_id in added}
    assert G2 in {sha for _, sha in listing.values()}
    assert _openssl_bags(store, PW, legacy)[:2] == foreign

    result = run("sync", "--offline", "--config", str(config), "--profile", "azure-postgresql")
    assert result.code == 0, result.err
    removed = _listed(result.out, "removed ")
    assert removed and set(kt.by_alias(store, PW, "PKCS12")) == {f"rotator-{r}" for r in added if r not in removed}
    assert _openssl_bags(store, PW, legacy)[:2] == foreign
    again = run("sync", "--offline", "--config", str(config), "--profile", "azure-postgresql")
    assert again.code == 0 and "up to date" in again.unwrapped
