"""What makes runs cheap must not change what they decide: one parse per bundle version, roots
proven by their pins, stores unchanged since they were verified not read again, and the
modules a run does not need not loaded."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import stores.pem as pem_module
from rotator.certs import Cert, parse_many, parse_one
from rotator.config.settings import DEFAULT_LOCK_TIMEOUT, DEFAULT_WARN_DAYS
from rotator.roots.catalog import Catalog
from rotator.roots.download import DownloadSettings
from rotator.roots.obtain import ObtainSettings, check_candidate
from rotator.sync import state as state_mod
from rotator.sync.engine import SyncRequest, sync
from stores.kinds import parse_target
from tests.support.paths import REPO
from tests.support.pki import make_leaf, make_root

CATALOG = Catalog.builtin()
NOW = dt.datetime.now(dt.UTC)


def _request(bundle: Path, state_dir: Path, *, with_status: bool = False) -> SyncRequest:
    return SyncRequest(
        selected=tuple(CATALOG.select("azure-all")),
        targets=(parse_target(f"pem:{bundle}"),),
        obtain=ObtainSettings(at=NOW, offline=True),
        download=DownloadSettings(),
        state_dir=state_dir,
        with_status=with_status,
        lock_timeout=DEFAULT_LOCK_TIMEOUT,
        warn_days=DEFAULT_WARN_DAYS,
    )


def _count_full_parses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every call of the bundle parser from the first byte (a tail read after an append is not one)."""
    calls: list[int] = []
    real = pem_module._blocks

    def counting(data: bytes, offset: int = 0, number: int = 0) -> list[pem_module._Block]:
        if offset == 0:
            calls.append(len(data))
        return real(data, offset, number)

    monkeypatch.setattr(pem_module, "_blocks", counting)
    return calls


def _foreign_bundle(path: Path, count: int) -> bytes:
    data = b"# someone else's bundle\n" + b"".join(make_root(f"Foreign {i}").pem for i in range(count))
    path.write_bytes(data)
    return data


def test_one_parse_serves_plan_apply_verify_and_status(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = tmp_path / "bundle.pem"
    original = _foreign_bundle(bundle, 5)
    parses = _count_full_parses(monkeypatch)

    result = sync(_request(bundle, tmp_path / "state", with_status=True))

    assert result.ok and result.targets[0].changed
    assert parses == [len(original)], "the bundle is parsed once; the appended roots are read from the tail only"
    assert result.status is not None and result.status.compliant
    # What the reused parse says is what a fresh parse of the file says.
    fresh = pem_module.PemBundle(bundle).read()
    reused = result.status.targets[0]
    assert all(cell == "owned" for cell in reused.cells.values())
    assert {e.label for e in fresh.entries} >= {f"rotator-{rid}" for rid in reused.cells}
    assert bundle.read_bytes().startswith(original)


def test_a_change_between_steps_is_parsed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = tmp_path / "bundle.pem"
    _foreign_bundle(bundle, 2)
    store = pem_module.PemBundle(bundle)
    root = CATALOG.roots["digicert-global-root-g2"]
    anchor = _anchor(root.id)
    plan = store.plan([anchor])
    parses = _count_full_parses(monkeypatch)
    # Someone appends a certificate after the plan: the apply must merge into the new bytes.
    extra = make_root("Appended Later").pem
    bundle.write_bytes(bundle.read_bytes() + extra)
    store.apply(plan)
    assert len(parses) == 1
    data = bundle.read_bytes()
    assert extra in data and data.index(extra) < data.index(b"# rotator-digicert-global-root-g2")
    store.verify([anchor])


def _anchor(root_id: str):  # type: ignore[no-untyped-def]
    from stores.base import Anchor

    root = CATALOG.roots[root_id]
    embedded = root.embedded_bytes()
    assert embedded is not None
    return Anchor(root_id=root.id, name=root.name, cert=parse_one(embedded))


def test_lazy_blocks_agree_with_a_full_parse(tmp_path: Path) -> None:
    leaf = make_leaf(make_root("Issuer"))
    damaged = b"-----BEGIN CERTIFICATE-----\nMIIBdGFtYWdlZA==\n-----END CERTIFICATE-----\n"
    data = make_root("A").pem + damaged + leaf.pem + b"# rotator-x: y\n" + make_root("B").pem
    bundle = tmp_path / "b.pem"
    bundle.write_bytes(data)
    entries = pem_module.PemBundle(bundle).read().entries
    assert [e.label for e in entries] == [
        "certificate 1 (line 1)",
        "certificate 2 (line " + str(data[: data.index(damaged)].count(b"\n") + 1) + ")",
        "certificate 3 (line " + str(data[: data.index(leaf.pem)].count(b"\n") + 1) + ")",
        "rotator-x",
    ]
    assert entries[1].cert is None, "a block that is not a certificate stays unreadable"
    assert [e.cert.sha256 for e in entries if e.cert] == [c.sha256 for c in parse_many(data)]
    for entry in entries:
        if entry.cert is not None:
            eager = Cert.from_der(entry.cert.der)
            assert (entry.cert.is_ca, entry.cert.not_after) == (eager.is_ca, eager.x509.not_valid_after_utc)


@pytest.mark.parametrize("days", [30, 3650, 365 * 40])  # the last one ends after 2049: GeneralizedTime
def test_validity_read_from_der_matches_the_parser(days: int) -> None:
    cert = Cert(der=make_root("Dates", days=days).der)
    assert "x509" not in cert.__dict__
    assert cert.not_after == Cert.from_der(cert.der).x509.not_valid_after_utc
    assert cert.not_before == Cert.from_der(cert.der).x509.not_valid_before_utc
    assert "x509" not in cert.__dict__, "dates come from the DER, not from the X.509 parser"


@pytest.mark.parametrize("root", [r for r in CATALOG.roots.values() if r.status != "retired"], ids=lambda r: r.id)
def test_a_proven_source_and_the_full_checks_agree(root) -> None:  # type: ignore[no-untyped-def]
    data = root.embedded_bytes()
    full = check_candidate(root, data, "embedded", NOW, 65536)
    proven = check_candidate(root, data, "embedded", NOW, 65536, proven=True)
    assert proven == full and proven.sha256 == root.sha256
    assert "x509" not in proven.__dict__, "a pin match from a proven source needs no X.509 parse"
    assert proven.not_after == full.x509.not_valid_after_utc


def test_full_checks_still_run_for_a_new_source(tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    leaf = make_leaf(make_root("Leaf Issuer"))
    copy = tmp_path / "leaf.pem"
    copy.write_bytes(leaf.pem)
    config = tmp_path / "rotator.toml"
    config.write_text(f'include = ["mine"]\n[[roots]]\nid = "mine"\nsha256 = "{leaf.sha256}"\nfile = "{copy}"\n')
    result = run("sync", "--config", str(config), "--offline", "--target", f"pem:{tmp_path / 'b.pem'}")
    assert result.code == 1
    assert "not a CA" in result.err
    assert not (tmp_path / "b.pem").exists()


def test_no_op_trusts_the_stamp_and_any_edit_means_a_full_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = tmp_path / "bundle.pem"
    _foreign_bundle(bundle, 3)
    state_dir = tmp_path / "state"
    assert sync(_request(bundle, state_dir)).targets[0].changed
    assert f"pem:{bundle}" not in state_mod.load(state_dir).seen, "stamped at the first full read without a change"
    assert sync(_request(bundle, state_dir)).ok
    seen = state_mod.load(state_dir).seen[f"pem:{bundle}"]
    assert seen.stamp.size == bundle.stat().st_size and seen.stamp.mtime_ns == bundle.stat().st_mtime_ns

    parses = _count_full_parses(monkeypatch)
    again = sync(_request(bundle, state_dir))
    assert again.ok and not again.targets[0].changed and not again.targets[0].drift
    assert parses == [], "an unchanged store is not parsed again"
    assert {label for _, label in again.targets[0].plan.keep} == set(seen.labels.values())

    # Remove rotator's G2 block and pad to the same size, then put the mtime back: only the
    # content hash can tell.
    data = bundle.read_bytes()
    start = data.index(b"# rotator-digicert-global-root-g2")
    end = data.index(b"-----END CERTIFICATE-----\n", start) + len(b"-----END CERTIFICATE-----\n")
    edited = data[:start] + b"#" * (end - start - 1) + b"\n" + data[end:]
    assert len(edited) == len(data)
    stat = bundle.stat()
    bundle.write_bytes(edited)
    os.utime(bundle, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert bundle.stat().st_mtime_ns == seen.stamp.mtime_ns

    repaired = sync(_request(bundle, state_dir))
    assert repaired.targets[0].drift == ("digicert-global-root-g2",)
    assert len(parses) == 1
    assert CATALOG.roots["digicert-global-root-g2"].sha256 in {c.sha256 for c in parse_many(bundle.read_bytes())}


def test_other_roots_wanted_means_a_full_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = tmp_path / "bundle.pem"
    state_dir = tmp_path / "state"
    assert sync(_request(bundle, state_dir)).ok
    parses = _count_full_parses(monkeypatch)
    request = _request(bundle, state_dir)
    fewer = SyncRequest(**{**request._asdict(), "selected": tuple(CATALOG.select("azure-minimal"))})
    result = sync(fewer)
    leaving = set(CATALOG.profiles["azure-all"]) - set(CATALOG.profiles["azure-minimal"])
    assert leaving and len(parses) == 1
    assert {e.owner_id for e in result.targets[0].plan.remove} == leaving


def test_state_without_stamps_still_loads(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text(
        json.dumps({"version": 1, "targets": {"pem:/x": {"r": {"sha256": "ab", "owned": True, "since": "t"}}}})
    )
    loaded = state_mod.load(tmp_path)
    assert loaded.seen == {} and loaded.targets["pem:/x"]["r"].sha256 == "ab"


def _modules_after(args: list[str], tmp_path: Path) -> set[str]:
    """The modules a real ``rotator`` process had loaded when it finished."""
    code = (
        "import sys; from rotator.cli.main import main; code = main(sys.argv[1:]); "
        "print(' '.join(sorted(sys.modules))); sys.exit(code)"
    )
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "ROTATOR_STOREPASS": "changeit",
    }
    env.pop("ROTATOR_CONFIG", None)
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=120, cwd=REPO
    )
    assert proc.returncode == 0, proc.stderr
    return set(proc.stdout.split("\n")[-2].split())


def _bare_modules() -> set[str]:
    """The modules this interpreter has loaded before it runs any code of its own."""
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; print(' '.join(sorted(sys.modules)))"],
        capture_output=True, text=True, timeout=60, cwd=REPO, check=True,
    )  # fmt: skip
    return set(proc.stdout.split())


@pytest.mark.slow
def test_version_and_help_load_nothing_heavy(tmp_path: Path) -> None:
    for args in (["--version"], ["sync", "--help"]):
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from rotator.cli.main import main\ntry: main(sys.argv[1:])\n"
                "except SystemExit: pass\nprint(' '.join(sorted(sys.modules)))",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=REPO,
        )
        loaded = set(proc.stdout.split("\n")[-2].split())
        assert not loaded & {"cryptography", "rotator.sync.engine", "ssl", "requests", "jks"}, args
        if args == ["--version"]:
            assert not loaded & {"argparse", "rotator.cli.arguments"}, "the version is printed before any parser"


@pytest.mark.slow
def test_offline_runs_load_neither_probe_nor_downloads_and_a_no_op_no_parser(tmp_path: Path) -> None:
    state = ["--state-dir", str(tmp_path / "state"), "--offline"]
    targets = [
        "--target",
        f"pem:{tmp_path / 'b.pem'}",
        "--target",
        f"jks:{tmp_path / 'b.jks'}",
        "--target",
        f"pkcs12:{tmp_path / 'b.p12'}",
        "--storepass-env",
        "ROTATOR_STOREPASS",
    ]
    first = _modules_after(["sync", *state, *targets], tmp_path)
    assert not first & {"ssl", "requests", "certifi", "rotator.probe.judge", "rotator.probe.tlsfetch"}
    # An offline run has nothing to download, and without a config file nothing to parse: neither
    # the download code nor the TOML reader and its checks are loaded.
    assert not first & {"rotator.roots.download", "rotator.config.file", "tomllib"}
    # A JKS of trusted certificates is written directly (stores/keystore/jks_trusted.py): pyjks
    # and what it pulls in (pyasn1, pycryptodome: about 60 ms) load only for a store holding keys.
    assert not first & {"jks", "pyasn1", "Crypto"}
    _modules_after(["sync", *state, *targets], tmp_path)  # reads each store in full and stamps it
    no_op = _modules_after(["sync", *state, *targets], tmp_path)
    assert not no_op & {
        "cryptography",
        "jks",
        "ssl",
        "requests",
        "certifi",
        "rotator.probe.judge",
        "rotator.sync.status",
    }
    # Nor what only a PKCS#12 write, a download, java-cacerts or a dataclass would load.
    assert not no_op & {"stores.keystore.pkcs12", "socket", "stores.jdk_discovery", "dataclasses"}
    # Nor typing (named tuples come from rotator.records), nor shutil and the compression modules
    # behind it (argparse's formatter asks it for a width), nor a glob for stale temp files.
    # (What the interpreter loads before rotator, such as an editable install's finder, aside.)
    assert not (no_op - _bare_modules()) & {"typing", "shutil", "bz2", "lzma", "glob", "fnmatch"}
    # Nor the keystore code that opens a store (a stamp answers), nor base64 (binascii decodes
    # the PEM) or the probe's option lists.
    assert not (no_op - _bare_modules()) & {
        "stores.keystore.dispatch",
        "stores.keystore.jks_trusted",
        "base64",
        "rotator.probe.options",
    }
    pem_only = _modules_after(
        ["sync", "--state-dir", str(tmp_path / "s2"), "--offline", "--target", f"pem:{tmp_path / 'c.pem'}"], tmp_path
    )
    assert "cryptography" not in pem_only, "embedded roots are proven by their pins, a new bundle needs no parser"
    pem_dir = _modules_after(
        ["sync", "--state-dir", str(tmp_path / "s3"), "--offline", "--target", f"pem-dir:{tmp_path / 'certs'}"],
        tmp_path,
    )
    assert "cryptography" not in pem_dir, "hash links are named from the DER, with no parser"


def test_blocks_known_after_a_write_are_those_of_a_fresh_parse(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.pem"
    g2, ca = _anchor("digicert-global-root-g2"), _anchor("digicert-global-root-ca")
    foreign = make_root("Between").pem
    store = pem_module.PemBundle(bundle)
    store.apply(store.plan([g2, ca]))
    bundle.write_bytes(b"# head\n" + bundle.read_bytes() + foreign + b"no newline at the end")
    rsa = _anchor("microsoft-rsa-root-2017")
    plan = store.plan([ca, rsa])  # G2 leaves, RSA 2017 comes
    assert [e.owner_id for e in plan.remove] == ["digicert-global-root-g2"] and plan.add == (rsa,)
    store.apply(plan)
    derived = store._parsed
    assert derived is not None and derived.data == bundle.read_bytes()
    fresh = pem_module._blocks(derived.data)
    assert [
        (b.start, b.end, b.number, b.line, b.entry.label, b.entry.cert and b.entry.cert.sha256) for b in derived.blocks
    ] == [(b.start, b.end, b.number, b.line, b.entry.label, b.entry.cert and b.entry.cert.sha256) for b in fresh]


def test_daemon_status_reuses_earlier_reads_until_the_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    from rotator.sync.engine import StatusReads

    bundle = tmp_path / "bundle.pem"
    _foreign_bundle(bundle, 2)
    reads = StatusReads()
    request = _request(bundle, tmp_path / "state", with_status=True)._replace(status_reads=reads)
    parses = _count_full_parses(monkeypatch)
    cycles = [sync(request) for _ in range(5)]
    assert all(c.ok and c.status is not None and c.status.compliant for c in cycles)
    # The first cycle writes (its status reuses that parse), the second reads the result in full
    # once and stamps it; from then on neither the sync nor the status pass parses the bundle.
    assert len(parses) == 2

    # A foreign expired certificate appears: the next status pass reads the file and reports it.
    expired = make_root("Old Foreign", not_before=NOW - dt.timedelta(days=400), days=10).pem
    bundle.write_bytes(bundle.read_bytes() + expired)
    later = sync(request)
    assert len(parses) == 3
    assert later.status is not None
    assert any("expired certificate 'Old Foreign'" in f.message for f in later.status.findings)


def test_a_file_read_back_as_it_was_written_is_the_same_object(tmp_path: Path) -> None:
    from rotator.host.files import read_regular

    path = tmp_path / "big"
    written = os.urandom(3 * (1 << 20) + 17)  # chunks of 1 MiB and a short tail
    path.write_bytes(written)
    assert read_regular(path, known=written) is written
    for other in (
        written[:100] + b"x" + written[101:],  # differs in the first chunk
        written[: 2 << 20] + b"y" + written[(2 << 20) + 1 :],  # in a later one
        written + b"more",  # the file is longer than expected
        written[:-5],  # or shorter
    ):
        path.write_bytes(other)
        assert read_regular(path, known=written) == other


def test_each_command_parses_alike_when_only_its_own_arguments_are_built() -> None:
    from rotator.cli.arguments import build_parser, command_given

    full = build_parser()
    for name, sub in full.commands.items():
        assert command_given(["-v", name, "--x"]) == name
        assert build_parser(only=name).commands[name].format_help() == sub.format_help(), name
    assert command_given(["--help"]) is None and command_given(["nosuch"]) is None
    argv = ["sync", "--offline", "--target", "pem:/x.pem", "--dry-run", "--lock-timeout", "0"]
    assert vars(build_parser(only="sync").parse_args(argv)) == vars(full.parse_args(argv))


@pytest.mark.parametrize("kind", ["jks", "pkcs12"])
def test_a_wrong_password_is_found_by_the_next_no_op(
    tmp_path: Path, run, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    store = tmp_path / f"trust.{kind}"
    args = ["sync", "--offline", "--target", f"{kind}:{store}", "--storepass-env", "STOREPASS"]
    monkeypatch.setenv("STOREPASS", "changeit")
    assert run(*args).code == 0  # written
    assert run(*args).code == 0  # read in full and stamped
    seen = next(iter(json.loads((tmp_path / "state" / "state.json").read_text())["seen"].values()))
    assert len(seen["access"]) == 64 and "changeit" not in json.dumps(seen)
    assert run(*args).code == 0  # the stamp answers

    monkeypatch.setenv("STOREPASS", "not-the-password")  # a typo in the config, the file unchanged
    wrong = run(*args)
    assert wrong.code == 1 and "the password did not open the store" in wrong.err, wrong.err
    monkeypatch.setenv("STOREPASS", "changeit")
    assert run(*args).code == 0


@pytest.mark.slow
def test_a_scan_of_truststores_loads_no_x509_parser_keystore_library_or_logging(tmp_path: Path) -> None:
    from tests.support.hosttree import keystore, write

    root = tmp_path / "host"
    write(root / "etc/passwd", "root:x:0:0:root:/root:/bin/sh\n")
    keystore(root / "usr/lib/jvm/jdk/lib/security/cacerts", "changeit", ["digicert-global-root-g2"])
    import certifi

    write(root / "srv/venv/lib/python3.11/site-packages/certifi/cacert.pem", Path(certifi.where()).read_bytes())
    code = "import sys; from rotator.cli.main import main\nmain(sys.argv[1:])\nprint(' '.join(sorted(sys.modules)))"
    proc = subprocess.run(
        [sys.executable, "-c", code, "scan", "--sysroot", str(root), "--json"],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )  # fmt: skip
    loaded = set(proc.stdout.split("\n")[-2].split())
    assert '"kind": "java-cacerts"' in proc.stdout and '"kind": "certifi"' in proc.stdout
    # The chains' signer keys are pinned, a truststore JKS is read directly, and scan logs nothing.
    assert not loaded & {"cryptography.x509", "jks", "logging", "dataclasses", "rotator.sync.state", "tomllib"}


@pytest.mark.slow
def test_adding_to_a_keytool_made_truststore_loads_no_keystore_library_or_x509_parser(tmp_path: Path) -> None:
    from tests.support.hosttree import keystore
    from tests.support.keytool import by_alias

    store = keystore(tmp_path / "cacerts", "changeit", ["digicert-global-root-ca", "microsoft-ecc-root-2017"])
    loaded = _modules_after(
        ["sync", "--state-dir", str(tmp_path / "state"), "--offline", "--profile", "azure-postgresql",
         "--target", f"jks:{store}", "--storepass-env", "ROTATOR_STOREPASS"],
        tmp_path,
    )  # fmt: skip
    # The trusted-certificate JKS is read and written directly, and a plan needs fingerprints only.
    assert not (loaded - _bare_modules()) & {"jks", "pyasn1", "Crypto", "cryptography", "typing", "socket"}
    assert {alias for alias in by_alias(store, "changeit") if alias.startswith("rotator-")} == {
        "rotator-digicert-global-root-g2",
        "rotator-microsoft-rsa-root-2017",
        "rotator-microsoft-tls-rsa-root-g2",
    }


@pytest.mark.slow
def test_catalog_loads_no_x509_parser_network_or_typing(tmp_path: Path) -> None:
    loaded = _modules_after(["catalog"], tmp_path) - _bare_modules()
    assert not loaded & {"cryptography", "ssl", "requests", "socket", "typing", "jks"}
