"""Every reader fuzzed through ``rotator.cli.main.main``: rotator's own error or success, never another exception.

Inputs are built from real pieces (rotator's embedded roots, certificates made here, keystores
written by pyjks and cryptography) and then damaged: bytes flipped, cut, repeated, mixed with
text. Each example runs a real sync (offline, every path in a temp directory) and status.

The number of examples per reader is ``ROTATOR_FUZZ_EXAMPLES`` (default 60, enough for CI);
``benchmarks/reliability.sh`` runs the same tests far longer.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import io
import json
import os
import re
import tempfile
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rotator.cli.main import main
from tests.support.pki import make_intermediate, make_root

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
ROOT_IDS = ["digicert-global-root-g2", "microsoft-rsa-root-2017", "digicert-global-root-ca", "no-such-root"]
EMBEDDED = sorted(p.name for p in resources.files("rotator.data").iterdir() if p.name.endswith(".pem"))


def _embedded(name: str) -> bytes:
    return resources.files("rotator.data").joinpath(name).read_bytes()


FOREIGN_ROOT = make_root("Fuzz Foreign Root")
FOREIGN_INTERMEDIATE = make_intermediate(FOREIGN_ROOT, "Fuzz Foreign Intermediate")
GOOD_DERS = [FOREIGN_ROOT.der, FOREIGN_INTERMEDIATE.der] + [
    base64.b64decode(b"".join(_embedded(n).split(b"\n")[1:-2])) for n in EMBEDDED[:3]
]


def pem_of(der: bytes) -> bytes:
    body = base64.encodebytes(der).replace(b"\n", b"")
    return (
        b"-----BEGIN CERTIFICATE-----\n"
        + b"\n".join(body[i : i + 64] for i in range(0, len(body), 64))
        + b"\n-----END CERTIFICATE-----\n"
    )


# -- damaging bytes ---------------------------------------------------------------------------------


@st.composite
def damaged(draw: st.DrawFn, original: bytes) -> bytes:
    """``original`` with a few edits: flipped or replaced bytes, a cut, a repeat, an insertion."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        op = draw(st.sampled_from(["flip", "set", "cut", "truncate", "insert", "repeat"]))
        at = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "set":
            data[at] = draw(st.sampled_from([0x00, 0x01, 0x7F, 0x80, 0x81, 0x82, 0x84, 0xFF, 0x30, 0x02, 0xA0]))
        elif op == "cut":
            del data[at : at + draw(st.integers(1, 16))]
        elif op == "truncate":
            del data[at:]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        else:
            data[at:at] = data[at : at + draw(st.integers(1, 32))]
    return bytes(data)


def _tlv(tag: int, value: bytes) -> bytes:
    from rotator.der import encode_length

    return bytes([tag]) + encode_length(len(value)) + value


@st.composite
def restructured(draw: st.DrawFn, der: bytes) -> bytes:
    """Well-formed DER with a semantic fault: an element repeated, dropped, retagged or replaced
    somewhere in the tree (a duplicate extension, a version 34, a missing field, ...)."""
    from rotator.der import DerError, read_all, read_exact

    def rewrite(raw: bytes, depth: int) -> bytes:
        node = read_exact(raw)
        try:
            children = read_all(node.value) if node.constructed and node.value else []
        except DerError:
            children = []
        if not children or (depth > 1 and draw(st.integers(0, 3)) == 0):
            op = draw(st.sampled_from(["value", "tag", "keep"]))
            if op == "value":
                return _tlv(node.tag, draw(st.one_of(st.binary(max_size=6), st.just(b"\x22"), st.just(b""))))
            if op == "tag":
                return _tlv(
                    draw(st.sampled_from([0x02, 0x04, 0x05, 0x06, 0x0C, 0x13, 0x30, 0x31, 0xA0, 0xA3])), node.value
                )
            return node.raw
        parts = [c.raw for c in children]
        at = draw(st.integers(0, len(parts) - 1))
        op = draw(st.sampled_from(["descend", "descend", "descend", "repeat", "drop"]))
        if op == "repeat":
            parts.insert(at, parts[at])
        elif op == "drop":
            del parts[at]
        else:
            parts[at] = rewrite(parts[at], depth + 1)
        return _tlv(node.tag, b"".join(parts))

    return rewrite(der, 0)


@st.composite
def targeted(draw: st.DrawFn, der: bytes) -> bytes:
    """The faults cryptography only notices late: a repeated or garbled extension, an odd version,
    a name attribute of the wrong string type."""
    from rotator.der import read_all, read_exact

    cert = read_exact(der).children()
    tbs = cert[0].children()
    fault = draw(st.sampled_from(["repeat-extension", "garble-extension", "version", "name", "key"]))
    if fault == "version" and tbs[0].tag == 0xA0:
        tbs[0] = read_exact(_tlv(0xA0, _tlv(0x02, draw(st.sampled_from([b"\x22", b"\x03", b"\xff", b"\x00\x02"])))))
    elif fault in ("repeat-extension", "garble-extension"):
        where = next((i for i, t in enumerate(tbs) if t.tag == 0xA3), None)
        if where is not None:
            extensions = [e.raw for e in read_exact(tbs[where].value).children()]
            at = draw(st.integers(0, len(extensions) - 1))
            if fault == "repeat-extension":
                extensions.insert(at, extensions[at])
            else:
                fields = read_all(read_exact(extensions[at]).value)
                value = draw(st.binary(max_size=8))
                extensions[at] = _tlv(0x30, b"".join(f.raw for f in fields[:-1]) + _tlv(0x04, value))
            tbs[where] = read_exact(_tlv(0xA3, _tlv(0x30, b"".join(extensions))))
    elif fault == "name":
        subject = tbs[5 if tbs[0].tag == 0xA0 else 4]
        rdns = subject.children()
        if rdns:
            attribute = rdns[-1].children()[0].children()
            garbled = _tlv(
                0x30, attribute[0].raw + _tlv(draw(st.sampled_from([0x1E, 0x1C, 0x12, 0x16, 0x03])), b"\xff\xfe\x00")
            )
            index = tbs.index(subject)
            tbs[index] = read_exact(_tlv(0x30, b"".join(r.raw for r in rdns[:-1]) + _tlv(0x31, garbled)))
    else:
        index = 6 if tbs[0].tag == 0xA0 else 5
        spki = tbs[index].children()
        tbs[index] = read_exact(_tlv(0x30, spki[0].raw + _tlv(0x03, b"\x00" + draw(st.binary(max_size=12)))))
    body = _tlv(0x30, b"".join(t.raw for t in tbs))
    return _tlv(0x30, body + b"".join(c.raw for c in cert[1:]))


def der_certs() -> st.SearchStrategy[bytes]:
    """A certificate's DER: intact, or damaged (bad version, duplicate extensions, cut short, ...)."""
    good = st.sampled_from(GOOD_DERS)
    return st.one_of(
        good,
        good.flatmap(targeted),
        good.flatmap(targeted),
        good.flatmap(restructured),
        good.flatmap(damaged),
        st.binary(max_size=64),
    )


@st.composite
def pem_fragment(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["block", "block", "marker", "comment", "bad-base64", "no-end", "text", "binary"]))
    if kind == "block":
        return pem_of(draw(der_certs()))
    if kind == "marker":
        root_id = draw(st.sampled_from(ROOT_IDS))
        cert = draw(st.one_of(st.sampled_from([_embedded(n) for n in EMBEDDED]), der_certs().map(pem_of)))
        return f"# rotator-{root_id}: fuzz (sha256 0)\n".encode() + cert
    if kind == "comment":
        return b"# " + draw(st.text(max_size=30)).encode("utf-8", "replace").replace(b"\n", b" ") + b"\n"
    if kind == "bad-base64":
        return (
            b"-----BEGIN CERTIFICATE-----\n"
            + draw(st.binary(max_size=40)).replace(b"-", b"")
            + b"\n-----END CERTIFICATE-----\n"
        )
    if kind == "no-end":
        return pem_of(draw(st.sampled_from(GOOD_DERS))).split(b"-----END")[0]
    if kind == "text":
        return draw(st.text(max_size=40)).encode("utf-8", "replace")
    return draw(st.binary(max_size=40))


pem_bundles = st.lists(pem_fragment(), max_size=6).map(b"".join)


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


def invoke(*argv: str) -> tuple[int, str]:
    """main() in process; any exception but argparse's SystemExit fails the example."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exc:
            code = int(exc.code or 0)
    stderr = err.getvalue()
    assert code in (0, 1, 2), (code, stderr)
    assert "Traceback" not in stderr, stderr
    if code != 0:  # a one-line error of rotator's own, or status saying what is not compliant
        said = re.search(r"^rotator: error: \S", stderr, re.MULTILINE) or (
            argv[0] == "status" and code == 1 and "NOT COMPLIANT" in out.getvalue()
        )
        assert said, (code, out.getvalue(), stderr)
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


VALID_STATE = {
    "version": 1,
    "last_success": "2026-01-01T00:00:00+00:00",
    "last_failure": None,
    "failures": 0,
    "drift_repairs": 0,
    "targets": {
        "pem:/x": {"digicert-global-root-g2": {"sha256": "ab", "owned": True, "since": "2026-01-01T00:00:00+00:00"}}
    },
}
json_leaves = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70), st.floats(), st.text(max_size=10)
)
json_shallow = st.one_of(
    json_leaves, st.lists(json_leaves, max_size=3), st.dictionaries(st.text(max_size=8), json_leaves, max_size=3)
)
json_values = st.one_of(
    json_shallow, st.lists(json_shallow, max_size=3), st.dictionaries(st.text(max_size=8), json_shallow, max_size=3)
)


@st.composite
def state_files(draw: st.DrawFn) -> bytes:
    doc = json.loads(json.dumps(VALID_STATE))
    for _ in range(draw(st.integers(0, 3))):
        key = draw(
            st.sampled_from(
                ["version", "last_success", "last_failure", "failures", "drift_repairs", "targets", "record"]
            )
        )
        value = draw(json_values)
        if key == "record":
            record = doc["targets"].get("pem:/x", {}) if isinstance(doc["targets"], dict) else {}
            if isinstance(record, dict) and isinstance(record.get("digicert-global-root-g2"), dict):
                record["digicert-global-root-g2"][draw(st.sampled_from(["sha256", "owned", "since"]))] = value
        else:
            doc[key] = value
    data = json.dumps(doc, allow_nan=True).encode()
    if draw(st.integers(0, 4)) == 0:
        data = draw(damaged(data))
    return data


@FUZZ
@given(data=state_files())
def test_state(data: bytes) -> None:
    with workdir() as work:
        (work / "state").mkdir()
        (work / "state" / "state.json").write_bytes(data)
        target = f"pem:{work / 'out.pem'}"
        code, err = offline(work, "sync", "--target", target, "--metrics-file", str(work / "m.prom"))
        if code != 0:
            assert "state file" in err and "corrupt" in err, err
            assert not (work / "out.pem").exists()  # corrupt state: no store touched
        offline(work, "status", "--target", target, "--metrics-file", str(work / "m.prom"))


# -- the catalog check's record ---------------------------------------------------------------------

VALID_RECORD = {
    "version": 1,
    "at": "2026-01-01T00:00:00+00:00",
    "source": "https://127.0.0.1:9/list.md",
    "ok": False,
    "error": None,
    "differences": [{"kind": "unknown-root", "message": "'X' is published as a root"}],
    "intermediates": {"b5ee89e77326ab2bf1775bd99c19a28947ff8184": "Microsoft TLS RSA Root G2"},
    "last_read": "2026-01-01T00:00:00+00:00",
}
_offsets = st.integers(-1439, 1439).map(lambda m: dt.timezone(dt.timedelta(minutes=m)))
times = st.one_of(
    st.sampled_from(
        [
            "garbage",
            "",
            "2026-01-01T00:00:00",  # no zone
            "2026-01-01",
            "2026-01-01T00:00:00Z",
            "2026-01-01 00:00:00+00:00",
            "9999-12-31T23:59:59-05:00",  # the interval added to it overflows
            "0001-01-01T00:00:00+05:00",
            "2026-13-01T00:00:00+00:00",
            "2026-01-01T00:00:00+24:00",
            "2026-W01-1T00:00+00:00",
        ]
    ),
    st.datetimes(timezones=st.one_of(st.none(), _offsets)).map(lambda d: d.isoformat()),
    json_values,
)


@st.composite
def record_files(draw: st.DrawFn) -> bytes:
    doc: Any = json.loads(json.dumps(VALID_RECORD))
    for _ in range(draw(st.integers(0, 3))):
        key = draw(st.sampled_from([*VALID_RECORD, "difference", "intermediate", "whole"]))
        if not isinstance(doc, dict):
            break
        if key in ("at", "last_read"):
            doc[key] = draw(times)
        elif key == "difference" and isinstance(doc.get("differences"), list) and doc["differences"]:
            doc["differences"][0][draw(st.sampled_from(["kind", "message"]))] = draw(json_values)
        elif key == "intermediate" and isinstance(doc.get("intermediates"), dict):
            doc["intermediates"][draw(st.text(max_size=41))] = draw(json_values)
        elif key == "whole":
            doc = draw(json_values)
        else:
            doc[key] = draw(json_values)
    data = json.dumps(doc, allow_nan=True).encode()
    if draw(st.integers(0, 4)) == 0:
        data = draw(damaged(data))
    return data


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


# -- the published page -----------------------------------------------------------------------------

PAGE = (Path(__file__).resolve().parent.parent / "data" / "azure-ca-details.md").read_text()
PAGE_LINES = PAGE.splitlines()
FRAGMENTS = [
    "[a](", "[", "]", "(", ")", "<", ">", "<br>", "</br>", "<br/>", "< br / >", "<BR >", "<b r>", "\\|", "|",
    '"', "*", "_", "`", " ", "\t", "x", "#", "0x", "https://127.0.0.1:9/r.crt", "[Name](https://127.0.0.1:9/r.crt)",
    "\x00", "\x1b", "\x7f", "\u2028", "\x85", "\r", "\u00e9", "\ufeff",
]  # fmt: skip
BREAKS = ["<br>", "</br>", "<br/>", "<br />", "<BR>", "< br / >", "<br", "br>", " ", ""]
cell_text = st.lists(st.tuples(st.sampled_from(FRAGMENTS), st.integers(1, 700)), max_size=4).map(
    lambda parts: "".join(fragment * count for fragment, count in parts)
)
serials = st.one_of(st.sampled_from(["0x01", "01", "0x", "", "0x" + "f" * 81, "12:34", "`0a`"]), cell_text)
sha1s = st.one_of(st.sampled_from(["ab" * 20, "AB" * 20, "ab" * 19, "zz" * 20, "ab " * 20]), cell_text)


@st.composite
def published_pages(draw: st.DrawFn) -> bytes:
    lines = list(PAGE_LINES)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["name", "value", "row", "heading", "cells", "drop"]))
        rows = [i for i, line in enumerate(lines) if line.startswith("| ") and line.count("|") == 3]
        if not rows:
            break
        at = draw(st.sampled_from(rows))
        if op == "name":
            cell = draw(cell_text)
            if draw(st.booleans()):
                cell = f"[{cell}](https://127.0.0.1:9/r.crt)"
            lines[at] = "| " + cell + " |" + lines[at].split("|")[-2] + "|"
        elif op == "value":
            value = f"{draw(serials)}{draw(st.sampled_from(BREAKS))}{draw(sha1s)}"
            lines[at] = lines[at].rsplit("|", 2)[0] + f"| {value} |"
        elif op == "row":
            lines[at:at] = [lines[at]] * draw(st.integers(1, 50))  # the same root many times
        elif op == "heading":
            headings = [i for i, line in enumerate(lines) if line.startswith("#")]
            if not headings:
                continue
            where = draw(st.sampled_from(headings))
            hashes = "#" * draw(st.integers(1, 7))
            space = draw(st.sampled_from([" ", "", "\t"]))
            lines[where] = f"{hashes}{space}{lines[where].lstrip('# ')}{draw(cell_text)}"
        elif op == "cells":
            lines[at] = "|" + "|".join(draw(cell_text) for _ in range(draw(st.integers(0, 4)))) + "|"
        else:
            del lines[draw(st.integers(0, len(lines) - 1))]
    data = "\n".join(lines).encode()
    if draw(st.integers(0, 5)) == 0:
        data = draw(damaged(data))
    return data


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
