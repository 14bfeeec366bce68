"""Named hostile inputs: each once caused a traceback or a half-done run; each is now rotator's own
error or a clean success, and no store is left half-written."""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path

import pytest

from rotator.der import encode_length, read_exact
from tests.support.pki import make_root

FOREIGN = make_root("Hostile Input Foreign Root")


def _tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + encode_length(len(value)) + value


def _with_tbs(der: bytes, change) -> bytes:
    cert = read_exact(der).children()
    tbs = change(cert[0].children())
    return _tlv(0x30, _tlv(0x30, b"".join(t.raw for t in tbs)) + b"".join(c.raw for c in cert[1:]))


def invalid_version() -> bytes:
    """Version 34: cryptography raises InvalidVersion, which is not a ValueError."""
    return _with_tbs(FOREIGN.der, lambda tbs: [read_exact(_tlv(0xA0, _tlv(0x02, b"\x22"))), *tbs[1:]])


def duplicate_extension() -> bytes:
    """Parses at first; fails (DuplicateExtension) only when the extensions are read."""

    def change(tbs):
        extensions = tbs[-1]
        items = [e.raw for e in read_exact(extensions.value).children()]
        return [*tbs[:-1], read_exact(_tlv(0xA3, _tlv(0x30, b"".join([items[0], *items]))))]

    return _with_tbs(FOREIGN.der, change)


def pem(der: bytes) -> bytes:
    return b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(der) + b"-----END CERTIFICATE-----\n"


BAD = {"invalid-version": invalid_version(), "duplicate-extension": duplicate_extension()}


@pytest.mark.parametrize("bad", sorted(BAD))
@pytest.mark.parametrize("where", ["pem", "pem-dir", "anchor"])
def test_a_malformed_foreign_certificate_is_kept_and_reported(tmp_path: Path, run, bad: str, where: str) -> None:
    der = BAD[bad]
    extra: list[str] = []
    if where == "pem":
        path = tmp_path / "bundle.pem"
        path.write_bytes(
            b"# mine\n" + pem(der) + b"-----BEGIN CERTIFICATE-----\n!!!not base64===\n-----END CERTIFICATE-----\n"
        )
        target = f"pem:{path}"
    elif where == "pem-dir":
        directory = tmp_path / "certs"
        directory.mkdir()
        path = directory / "theirs.pem"
        path.write_bytes(pem(der))
        os.symlink("theirs.pem", directory / "0badc0de.0")
        target = f"pem-dir:{directory}"
    else:
        sysroot = tmp_path / "root"
        anchors = sysroot / "usr/local/share/ca-certificates"
        anchors.mkdir(parents=True)
        path = anchors / "theirs.crt"
        path.write_bytes(pem(der))
        bundle = sysroot / "etc/ssl/certs/ca-certificates.crt"
        bundle.parent.mkdir(parents=True)
        bundle.write_bytes(b"\x30\x82 not PEM at all")
        target = "system:debian"
        extra = ["--sysroot", str(sysroot)]
    before = path.read_bytes()
    metrics = ["--metrics-file", str(tmp_path / "rotator.prom")]
    result = run("sync", "--offline", "--target", target, *extra, *metrics)
    assert result.code == 0, result.err
    assert path.read_bytes().startswith(before)  # kept byte for byte (a bundle gets the roots appended)
    status = run("status", "--offline", "--target", target, *extra, *metrics)
    # The system store is not compliant here (its bundle was never refreshed): exit 1 with the report.
    assert status.code == (1 if where == "anchor" else 0), status.out + status.err
    assert "unreadable certificate" in " ".join(status.out.split()) and "kept exactly as it is" in " ".join(
        status.out.split()
    )


def test_a_malformed_certificate_in_a_keystore_is_kept(tmp_path: Path, run, monkeypatch) -> None:
    import jks

    store = tmp_path / "trust.jks"
    store.write_bytes(
        jks.KeyStore.new("jks", [jks.TrustedCertEntry.new("theirs", BAD["invalid-version"])]).saves("changeit")
    )
    monkeypatch.setenv("STOREPASS", "changeit")
    result = run("sync", "--offline", "--target", f"jks:{store}", "--storepass-env", "STOREPASS")
    assert result.code == 0, result.err
    loaded = jks.KeyStore.loads(store.read_bytes(), "changeit")
    assert loaded.certs["theirs"].cert == BAD["invalid-version"]
    status = run("status", "--offline", "--target", f"jks:{store}", "--storepass-env", "STOREPASS")
    assert "unreadable certificate at theirs" in " ".join(status.out.split())


@pytest.mark.parametrize("where", ["mirror", "cache"])
def test_a_malformed_candidate_root_is_a_warning_then_the_next_source(tmp_path: Path, run, where: str) -> None:
    directory = tmp_path / where
    directory.mkdir()
    if where == "mirror":
        (directory / "digicert-global-root-g2.pem").write_bytes(pem(BAD["duplicate-extension"]))
        args = ["--mirror", str(directory), "--no-cache"]
    else:
        name = "cb3ccbb76031e5e0138f8dd39a23f9de47ffc35e43c1144cea27d46a5ab1cb5f.pem"
        (directory / name).write_bytes(b"-----BEGIN CERTIFICATE-----\n@@@\n-----END CERTIFICATE-----\n")
        args = ["--cache-dir", str(directory)]
    bundle = tmp_path / "bundle.pem"
    result = run("sync", "--offline", *args, "--profile", "azure-postgresql", "--target", f"pem:{bundle}")
    assert result.code == 0, result.err
    assert "root digicert-global-root-g2" in result.err and "using the embedded copy" in result.err
    assert "from the embedded copy" in result.out


@pytest.mark.parametrize(
    "setting",
    [
        "hook_timeout = nan",
        "hook_timeout = inf",
        "hook_timeout = 1e19",
        "[download]\nread_timeout = nan",
        "[download]\nmax_bytes = 1e19",
        "[download]\nretries = -1",
        'cache_dir = "a\\u0000b"',
    ],
)
def test_hostile_config_values_are_config_errors(tmp_path: Path, run, setting: str) -> None:
    bundle = tmp_path / "bundle.pem"
    config = tmp_path / "rotator.toml"
    config.write_text(f'on_change = ["true"]\n{setting}\n[[targets]]\nkind = "pem"\npath = "{bundle}"\n')
    result = run("sync", "--offline", "--config", str(config))
    assert result.code == 2, result.err
    assert result.err.startswith("rotator: error: ") and len(result.err.strip().splitlines()) == 1
    assert not bundle.exists()  # nothing written before the error


@pytest.mark.parametrize("value", ["nan", "inf", "0", "1e19"])
def test_refresh_timeout_must_be_a_usable_number(tmp_path: Path, run, value: str) -> None:
    sysroot = tmp_path / "root"
    (sysroot / "usr/local/share/ca-certificates").mkdir(parents=True)
    config = tmp_path / "rotator.toml"
    config.write_text(f'[[targets]]\nkind = "system"\ndistro = "debian"\nrefresh_timeout = {value}\n')
    result = run("sync", "--offline", "--config", str(config), "--sysroot", str(sysroot))
    assert result.code == 2 and "refresh_timeout" in result.err
    assert os.listdir(sysroot / "usr/local/share/ca-certificates") == []


@pytest.mark.parametrize("value", ["Infinity", "-1", "1e400", "true", '"3"', "NaN"])
def test_state_counters_out_of_range_are_a_corrupt_state(tmp_path: Path, run, value: str) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "state.json").write_text(f'{{"version": 1, "targets": {{}}, "failures": {value}}}')
    bundle = tmp_path / "bundle.pem"
    result = run("sync", "--offline", "--state-dir", str(state), "--target", f"pem:{bundle}")
    assert result.code == 1
    assert "is corrupt" in result.err and "move it aside" in result.err
    assert not bundle.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_a_full_state_directory_is_an_error_not_a_traceback(tmp_path: Path, run) -> None:
    state = tmp_path / "state"
    state.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k,nr_inodes=16", "tmpfs", str(state)], capture_output=True, timeout=30
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        fd = os.open(state / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            with pytest.raises(OSError):
                while True:
                    os.write(fd, b"\0" * 4096)
        finally:
            os.close(fd)
        bundle = tmp_path / "bundle.pem"
        result = run("sync", "--offline", "--state-dir", str(state), "--target", f"pem:{bundle}")
        assert result.code == 1
        assert "no space left on device" in result.err and "Traceback" not in result.err
    finally:
        subprocess.run(["umount", str(state)], capture_output=True, timeout=30)


def _pkcs12_store() -> bytes:
    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12

    theirs = pkcs12.PKCS12Certificate(FOREIGN.cert, b"theirs")
    return pkcs12.serialize_java_truststore([theirs], BestAvailableEncryption(b"changeit"))


def _negative_version(p12: bytes) -> bytes:
    """PFX version -128 (found by the fuzzer): valid in shape, refused by cryptography's DER reader."""
    assert p12[4:7] == b"\x02\x01\x03"
    return p12[:6] + b"\x80" + p12[7:]


def _long_form_length(p12: bytes) -> bytes:
    """The version's length in the long form (``81 01``): BER, not DER. cryptography warns, reads it
    again as BER, and would load it."""
    version, *rest = read_exact(p12).children()
    assert version.raw == b"\x02\x01\x03"
    return _tlv(0x30, b"\x02\x81\x01\x03" + b"".join(part.raw for part in rest))


@pytest.mark.parametrize("damage", [_negative_version, _long_form_length])
def test_a_pkcs12_store_that_is_not_der_is_damaged(tmp_path: Path, run, monkeypatch, damage) -> None:
    store = tmp_path / "trust.p12"
    store.write_bytes(damage(_pkcs12_store()))
    before = store.read_bytes()
    monkeypatch.setenv("STOREPASS", "changeit")
    result = run("sync", "--offline", "--target", f"pkcs12:{store}", "--storepass-env", "STOREPASS")
    assert result.code == 1, result.out + result.err
    assert "damaged" in result.err and "the file was left untouched" in result.err, result.err
    assert store.read_bytes() == before


def test_an_option_whose_value_is_two_dashes_takes_it_as_written(
    tmp_path: Path, run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--state-dir=--``: Python's argparse (before 3.13) dropped the value and left a list, and every
    command ended in ``TypeError: expected str ... not list``. Found by fuzzing the fleet modules,
    which pass each value as ``--flag=VALUE``."""
    from rotator.cli.arguments import build_parser

    assert build_parser().parse_args(["status", "--state-dir=--"]).state_dir == "--"
    assert build_parser().parse_args(["scan", "--sysroot=--"]).sysroot == "--"
    monkeypatch.chdir(tmp_path)
    result = run("sync", "--offline", "--state-dir=--", "--target", f"pem:{tmp_path / 'roots.pem'}")
    assert result.code == 0 and "Traceback" not in result.err, result.err
    assert (tmp_path / "--" / "state.json").is_file()  # a directory named "--", as written
    result = run("probe", "--chain-file=--")
    assert result.code == 2 and "Traceback" not in result.err, result.err
    assert result.err.splitlines()[-1].startswith("rotator: error: --chain-file: "), result.err
    # "--state-dir --" is still the option without its value (what "--" means on a command line).
    assert run("status", "--state-dir", "--").code == 2
