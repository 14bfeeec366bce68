"""Every reader fuzzed through ``rotator.cli.main.main``: rotator's own error or success, never another exception.

Inputs are built from real pieces (rotator's embedded roots, certificates made here, keystores
written by pyjks and cryptography, saved s_client chains, the fleet modules' parameters) and then
damaged: bytes flipped, cut, repeated, mixed with text; DER trees and transcripts changed by their
structure (tests/support/fuzzing.py, shared with benchmarks/fuzz_volume.py). Each example runs a
real sync (offline, every path in a temp directory) and status, or the probe of a saved chain.

The number of examples per reader is ``ROTATOR_FUZZ_EXAMPLES`` (default 60, enough for CI);
``benchmarks/reliability.sh`` runs the same tests far longer.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rotator.cli.main import main
from tests.support.fuzzing import (
    CHAIN_BASES,
    GOOD_DERS,
    SERVER_NAME,
    VALID_STATE,
    WORK,
    ServerName,
    chain_files,
    damaged,
    der_certs,
    fleet_params,
    pem_bundles,
    pem_of,
    published_pages,
    record_files,
    server_names,
    servername_exit,
    state_files,
)

# Many generated cases through whole runs: outside the quick loop.
pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("ROTATOR_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)
PW = "changeit"


# -- running ----------------------------------------------------------------------------------------


@contextlib.contextmanager
def workdir() -> Iterator[Path]:
    """A temp dir that is also $HOME, so ``~`` in a generated path stays inside it."""
    with tempfile.TemporaryDirectory(prefix="rotator-fuzz-") as name:
        home = os.environ.get("HOME")
        os.environ["HOME"] = name
        try:
            yield Path(name)
        finally:
            if home is None:
                os.environ.pop("HOME", None)
            else:
                os.environ["HOME"] = home


def run_main(*argv: str) -> tuple[int, str, str]:
    """main() in process: exit code, stdout, stderr; never a traceback."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exc:
            code = int(exc.code or 0)
    assert code in (0, 1, 2), (code, err.getvalue())
    assert "Traceback" not in err.getvalue(), err.getvalue()
    return code, out.getvalue(), err.getvalue()


def invoke(*argv: str) -> tuple[int, str]:
    """main() in process; any exception but argparse's SystemExit fails the example."""
    code, stdout, stderr = run_main(*argv)
    assert code in (0, 1, 2), (code, stderr)
    assert "Traceback" not in stderr, stderr
    if code != 0:  # a one-line error of rotator's own, or status saying what is not compliant
        said = re.search(r"^rotator: error: \S", stderr, re.MULTILINE) or (
            argv[0] == "status" and code == 1 and "NOT COMPLIANT" in stdout
        )
        assert said, (code, stdout, stderr)
    return code, stderr


def offline(work: Path, command: str, *rest: str) -> tuple[int, str]:
    return invoke(command, "--offline", "--no-cache", "--state-dir", str(work / "state"), *rest)


# -- merge invariants -------------------------------------------------------------------------------

OWNED_BLOCK = re.compile(
    rb"# rotator-[a-z0-9][a-z0-9._-]*:[^\n]*\n-----BEGIN CERTIFICATE-----\r?\n[^-]*-----END CERTIFICATE-----(\r?\n)?"
)


def foreign(data: bytes) -> bytes:
    """Everything in a bundle that rotator does not own (its marked blocks taken out)."""
    return OWNED_BLOCK.sub(b"", data)


@FUZZ
@given(bundle=pem_bundles)
def test_pem_bundle(bundle: bytes) -> None:
    with workdir() as work:
        path = work / "bundle.pem"
        path.write_bytes(bundle)
        code, _ = offline(work, "sync", "--target", f"pem:{path}")
        after = path.read_bytes()
        if code != 0:
            assert after == bundle  # refused or failed: left exactly as it was
        else:
            kept = foreign(after)
            # Foreign bytes stay, in order; rotator only takes its own blocks out and appends.
            assert kept in (foreign(bundle), foreign(bundle) + b"\n"), (bundle, after)
            again, _ = offline(work, "sync", "--target", f"pem:{path}")
            assert again == 0 and path.read_bytes() == after  # idempotent
        offline(work, "status", "--target", f"pem:{path}")


@FUZZ
@given(der=der_certs(), where=st.sampled_from(["mirror", "cache"]))
def test_der_candidate_root(der: bytes, where: str) -> None:
    """A damaged copy of a root in the mirror or the cache: a warning, then the next source."""
    with workdir() as work:
        directory = work / where
        directory.mkdir()
        if where == "mirror":
            (directory / "digicert-global-root-g2.crt").write_bytes(der)
            (directory / "microsoft-rsa-root-2017.pem").write_bytes(pem_of(der))
            source = ["--mirror", str(directory), "--no-cache"]
        else:
            for name in (
                "cb3ccbb76031e5e0138f8dd39a23f9de47ffc35e43c1144cea27d46a5ab1cb5f",
                "c741f70f4b2a8d88bf2e71c14122ef53ef10eba0cfa5e64cfa20f418853073e0",
            ):
                (directory / f"{name}.pem").write_bytes(pem_of(der))
            source = ["--cache-dir", str(directory)]
        target = work / "out.pem"
        code, err = invoke(
            "sync",
            "--offline",
            "--state-dir",
            str(work / "state"),
            "--profile",
            "azure-postgresql",
            *source,
            "--target",
            f"pem:{target}",
        )
        # The embedded copies are always there: a bad candidate can cost a warning, never the run,
        # except when it is a certificate contradicting the pin (a mirror serving the wrong root).
        assert code == 0 or "does not match its pin" in err, err


@FUZZ
@given(der=der_certs(), kind=st.sampled_from(["pem-dir", "anchor"]), name=st.sampled_from(["a.crt", "b.pem"]))
def test_der_foreign_file(der: bytes, kind: str, name: str) -> None:
    """A foreign (maybe damaged) certificate file in a hash directory or an anchor directory."""
    from rotator.certs import Cert
    from stores.subject_hash import subject_hash

    with workdir() as work:
        if kind == "pem-dir":
            directory = work / "certs"
            directory.mkdir()
            path = directory / name
            path.write_bytes(der if name.endswith(".crt") else pem_of(der))
            with contextlib.suppress(Exception):  # a hash name when the certificate is readable at all
                os.symlink(name, directory / f"{subject_hash(Cert(der))}.0")
            os.symlink(name, directory / "0badc0de.0")
            target = f"pem-dir:{directory}"
            extra: list[str] = []
        else:
            sysroot = work / "root"
            anchors = sysroot / "usr/local/share/ca-certificates"
            anchors.mkdir(parents=True)
            path = anchors / name
            path.write_bytes(der if name.endswith(".crt") else pem_of(der))
            bundle = sysroot / "etc/ssl/certs/ca-certificates.crt"
            bundle.parent.mkdir(parents=True)
            bundle.write_bytes(der)
            target = "system:debian"
            extra = ["--sysroot", str(sysroot)]
        before = path.read_bytes()
        offline(work, "sync", "--target", target, *extra)
        assert path.read_bytes() == before  # foreign: never rewritten
        offline(work, "status", "--target", target, *extra)
        offline(work, "status", "--target", target, *extra, "--metrics-file", str(work / "m.prom"))


# -- keystores --------------------------------------------------------------------------------------


def _jks_with(ders: list[bytes]) -> bytes:
    import jks

    entries = [jks.TrustedCertEntry.new(f"foreign-{i}", der) for i, der in enumerate(ders)]
    data: bytes = jks.KeyStore.new("jks", entries).saves(PW)
    return data


def _p12_with(ders: list[bytes]) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12

    certs = [
        pkcs12.PKCS12Certificate(x509.load_der_x509_certificate(d), f"foreign-{i}".encode()) for i, d in enumerate(ders)
    ]
    return pkcs12.serialize_java_truststore(certs, BestAvailableEncryption(PW.encode()))


JKS_BASE = _jks_with(GOOD_DERS[:2])
P12_BASE = _p12_with(GOOD_DERS[:2])


def _keystore(kind: str, data: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    with workdir() as work:
        path = work / f"store.{kind}"
        path.write_bytes(data)
        monkeypatch.setenv("FUZZ_STOREPASS", PW)
        code, _ = offline(work, "sync", "--target", f"{kind}:{path}", "--storepass-env", "FUZZ_STOREPASS")
        if code != 0:
            assert path.read_bytes() == data
        else:  # idempotent: a second run finds everything in place and writes nothing
            after = path.read_bytes()
            again, _ = offline(work, "sync", "--target", f"{kind}:{path}", "--storepass-env", "FUZZ_STOREPASS")
            assert again == 0 and path.read_bytes() == after
        offline(work, "status", "--target", f"{kind}:{path}", "--storepass-env", "FUZZ_STOREPASS")


@FUZZ
@given(data=st.one_of(st.just(JKS_BASE).flatmap(damaged), st.lists(der_certs(), min_size=1, max_size=3).map(_jks_with)))
def test_jks(data: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    _keystore("jks", data, monkeypatch)


@FUZZ
@given(data=st.just(P12_BASE).flatmap(damaged))
def test_pkcs12(data: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    _keystore("pkcs12", data, monkeypatch)


# -- configuration and state ------------------------------------------------------------------------

HOSTILE_NUMBERS = st.sampled_from(
    ["inf", "-inf", "nan", "1e19", "-1", "0", "1e308", "9" * 30, "0.001", "3", "true", '"10"', "[]"]
)
HOSTILE_STRINGS = st.sampled_from(['"a\\u0000b"', '""', '"../x"', '"~"', "1", '"sub/dir"', '"\\u00e9"'])
NUMBER_KEYS = [
    "hook_timeout",
    "download.connect_timeout",
    "download.read_timeout",
    "download.retries",
    "download.max_bytes",
    "targets.refresh_timeout",
]
STRING_KEYS = [
    "profile",
    "cache_dir",
    "state_dir",
    "metrics_file",
    "targets.path",
    "targets.kind",
    "download.mirror",
    "daemon.interval",
    "roots.id",
    "roots.sha256",
    "roots.file",
]


@st.composite
def configs(draw: st.DrawFn) -> str:
    """A TOML document with a few hostile values among valid ones, every path relative (in the temp dir)."""
    top: dict[str, str] = {}
    sections: dict[str, dict[str, str]] = {"download": {}, "daemon": {}}
    target: dict[str, str] = {"kind": '"pem"', "path": '"out.pem"'}
    root: dict[str, str] | None = None
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):
            key, value = draw(st.sampled_from(NUMBER_KEYS)), draw(HOSTILE_NUMBERS)
        else:
            key, value = draw(st.sampled_from(STRING_KEYS)), draw(HOSTILE_STRINGS)
        section, _, name = key.rpartition(".")
        if section == "targets":
            if name == "refresh_timeout":
                target.update(kind='"system"')
                target.pop("path", None)
            target[name] = value
        elif section == "roots":
            root = root or {"id": '"custom"', "sha256": '"' + "0" * 64 + '"', "file": '"custom.pem"'}
            root[name] = value
        elif section:
            sections[section][name] = value
        else:
            top[name] = value
    lines = [f"{k} = {v}" for k, v in top.items()]
    if draw(st.booleans()):
        lines.append('on_change = ["true"]')
    for name, values in sections.items():
        if values:
            lines.append(f"[{name}]")
            lines += [f"{k} = {v}" for k, v in values.items()]
    lines.append("[[targets]]")
    lines += [f"{k} = {v}" for k, v in target.items()]
    if root is not None:
        lines.append("[[roots]]")
        lines += [f"{k} = {v}" for k, v in root.items()]
    text = "\n".join(lines) + "\n"
    if draw(st.integers(0, 9)) == 0:  # now and then, damage the document itself
        text = draw(damaged(text.encode())).decode("utf-8", "replace")
    return text


@FUZZ
@given(text=configs())
def test_config(text: str) -> None:
    with workdir() as work:
        # One level down, so a generated "../x" (taken from the config's directory) stays in the temp dir.
        config = work / "conf" / "rotator.toml"
        config.parent.mkdir()
        config.write_text(text.replace("\x00", ""), encoding="utf-8")
        # --state-dir: a hostile state_dir in the file must not send the state out of the temp dir.
        isolated = ("--offline", "--no-cache", "--state-dir", str(work / "state"), "--config", str(config))
        code, err = invoke("sync", *isolated, "--sysroot", str(work / "root"))
        invoke("status", *isolated, "--sysroot", str(work / "root"))
        for bad in ("nan", "inf", "1e19", "1e308", "\\u0000"):
            if any(
                re.search(
                    rf"\b(hook_timeout|connect_timeout|read_timeout|retries|max_bytes|refresh_timeout)"
                    rf" = -?{re.escape(bad)}$",
                    line,
                )
                for line in text.splitlines()
            ):
                assert code == 2, (text, err)  # a hostile value is a config error, before anything is written


def test_the_state_fuzzed_is_the_state_written_today() -> None:
    """The fuzzed state starts from every field a sync writes now: a field added later fails here."""
    from rotator.sync.state import State, _parse

    assert set(VALID_STATE) == set(State().to_json())
    assert _parse(VALID_STATE).to_json() == VALID_STATE
    assert all(VALID_STATE[table] for table in ("targets", "synced", "seen", "recorded"))


@FUZZ
@given(data=state_files())
def test_state(data: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUZZ_STOREPASS", PW)
    with workdir() as work:
        (work / "state").mkdir()
        (work / "state" / "state.json").write_bytes(data.replace(WORK.encode(), str(work).encode()))
        target = f"pem:{work / 'out.pem'}"
        code, err = offline(work, "sync", "--target", target, "--metrics-file", str(work / "m.prom"))
        if code != 0:
            assert "state file" in err and "corrupt" in err, err
            assert not (work / "out.pem").exists()  # corrupt state: no store touched
        offline(work, "status", "--target", target, "--metrics-file", str(work / "m.prom"))
        # No --target: the targets the state recorded (its "recorded" table) are built and read.
        code, err = offline(work, "status")
        if code == 2:
            assert "state file" in err or "recorded" in err or "target" in err, err


@FUZZ
@given(data=record_files())
def test_check_record(data: bytes) -> None:
    """Whatever the record holds, sync (with metrics), status and the daemon's start go on: exit 0."""
    from rotator.cli.arguments import build_parser, flags_of
    from rotator.service.daemon import Daemon

    with workdir() as work:
        (work / "state").mkdir()
        (work / "state" / "catalog-check.json").write_bytes(data)
        target = f"pem:{work / 'out.pem'}"
        code, err = offline(work, "sync", "--target", target, "--metrics-file", str(work / "m.prom"))
        assert code == 0, err
        code, err = offline(work, "status", "--target", target, "--json")
        assert code == 0, err
        config = work / "rotator.toml"
        config.write_text('[daemon]\ncatalog_check = "1d"\ncatalog_source = "https://127.0.0.1:9/list.md"\n')
        argv = ["daemon", "--config", str(config), "--state-dir", str(work / "state"), "--target", target]
        daemon = Daemon(flags_of(build_parser().parse_args(argv)), {})
        assert daemon.next_check >= 0


def check_invoke(*argv: str) -> tuple[int, str]:
    """``catalog check``: exit 0 (agrees), 1 (differs: the report on stdout) or 2 (rotator's own error)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    stderr = err.getvalue()
    assert "Traceback" not in stderr and "catalog check crashed" not in stderr, stderr
    assert code in (0, 1, 2), (code, stderr)
    if code == 2:
        assert re.search(r"^rotator: error: \S", stderr, re.MULTILINE), stderr
        assert len(stderr.strip().splitlines()) == 1, stderr
    if code == 1:
        assert "differ" in out.getvalue().lower(), out.getvalue()
    return code, stderr


@FUZZ
@given(page=published_pages())
def test_published_page(page: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    """Parsed or refused within 2 s of CPU; then ``catalog check`` on it, and ``status`` on the record it kept."""
    from rotator.upstream.published_list import ListUnreadable, parse

    # A proposal downloads the row's link: nothing leaves this machine, and a refusal is at once.
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    started = time.process_time()
    with contextlib.suppress(ListUnreadable, UnicodeDecodeError):
        parse(page.decode("utf-8"), "page.md")
    assert time.process_time() - started < 2.0
    with workdir() as work:
        (work / "list.md").write_bytes(page)
        config = work / "rotator.toml"
        config.write_text("[download]\nretries = 0\nconnect_timeout = 1\nread_timeout = 1\n")
        state = str(work / "state")
        check_invoke(
            "catalog", "check", "--source", str(work / "list.md"), "--config", str(config), "--state-dir", state
        )
        code, err = offline(work, "status", "--target", f"pem:{work / 'out.pem'}")
        assert code in (0, 1), err


# -- saved chains: probe --chain-file -----------------------------------------------------------------


def probe_chain(work: Path, base: str, data: bytes, *extra: str) -> tuple[int, dict[str, Any] | None, str]:
    """``probe --chain-file`` on ``data`` against the store that trusts ``base``'s intact chain.

    Exit 0 or 1 comes with the JSON verdict (0: every target trusted); exit 2 with one line of
    rotator's own naming the option at fault.
    """
    chain_base = CHAIN_BASES[base]
    chain, store = work / "chain.txt", work / "store.pem"
    chain.write_bytes(data)
    store.write_bytes(chain_base.store)
    argv = ["probe", "--chain-file", str(chain), "--target", f"pem:{store}", "--json"]
    argv += ["--state-dir", str(work / "state"), *(["--at", chain_base.at] if chain_base.at else []), *extra]
    code, out, err = run_main(*argv)
    if code == 2:
        lines = [line for line in err.splitlines() if line.startswith("rotator: error: ")]
        assert len(lines) == 1 and re.match(r"rotator: error: --(chain-file|servername)\b", lines[0]), err
        return code, None, lines[0]
    doc = json.loads(out)
    assert (code == 0) == all(t["trusted"] for t in doc["targets"]), doc
    return code, doc, err


@FUZZ
@given(case=chain_files(), servername=st.booleans())
def test_chain_file(case: Any, servername: bool) -> None:
    """Mutated s_client transcripts and DER: a verdict or rotator's own refusal of the file."""
    with workdir() as work:
        code, doc, said = probe_chain(
            work, case.base, case.data, *(["--servername", SERVER_NAME] if servername else [])
        )
        if case.expect == "trusted":
            assert code == 0, (case.how, doc, said)
        elif case.expect == "untrusted":
            assert code == 1 and doc is not None, (case.how, doc, said)
            assert any(case.finding in w for w in doc["warnings"]), doc["warnings"]
        if doc is not None and servername:
            assert doc["hostname_checked"] == (SERVER_NAME if CHAIN_BASES[case.base].has_leaf else None) or (
                doc["server_certificate"] is False
            ), doc


@FUZZ
@given(name=server_names())
def test_servername(name: ServerName) -> None:
    """A valid --servername is checked against the certificate (0 when it holds the name, else 1);
    an invalid one is exit 2 naming the value."""
    from tests.support.fuzzing import transcript

    made = CHAIN_BASES["made"]
    with workdir() as work:
        code, doc, said = probe_chain(work, "made", transcript(made.ders).encode(), f"--servername={name.value}")
        expected = servername_exit(name)
        assert expected is None or code == expected, (name, code, said)
        if code == 2:
            assert said.startswith(f"rotator: error: --servername {name.value!r}: "), said
        else:
            assert doc is not None and doc["hostname_checked"] == name.value, doc


# -- the fleet modules' arguments -------------------------------------------------------------------


@pytest.mark.fleet  # runs each module's main(), which imports Ansible
@FUZZ
@given(module=fleet_params(), check_mode=st.booleans())
def test_fleet_module_arguments(module: tuple[str, dict[str, Any]], check_mode: bool) -> None:
    """Each module's main() with hostile parameters: refused with a message, or a command line and
    a config file rotator reads back to exactly what the play gave."""
    from tests.support.fleet_modules import check, run_module

    name, params = module
    outcome = run_module(name, params, check_mode=check_mode)
    problem = check(name, outcome)
    assert problem is None, (name, params, problem)
