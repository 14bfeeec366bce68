"""Structure-aware inputs for fuzzing rotator's readers: real pieces, then damaged.

The fuzz tests (tests/robustness/test_fuzz.py, through ``rotator.cli.main.main``) and the volume
runs (benchmarks/fuzz_volume.py, straight into each reader) draw from the same strategies here, so
what the volume run counts is what the suite tries. Each strategy starts from something real
(rotator's embedded roots, certificates made here, the real Azure chain and published page, a
state file as a sync writes it) and then changes it the way a disk, a copy-paste or an attacker
would.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from importlib import resources
from typing import Any, NamedTuple

from hypothesis import strategies as st

from tests.support.paths import DATA
from tests.support.pki import make_intermediate, make_leaf, make_root

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


# A state file as a sync writes it today (every field of State.to_json); WORK stands for the run's
# temp directory, so that the recorded targets a target-less status reads back stay inside it.
WORK = "@WORK@"
VALID_STATE: dict[str, Any] = {
    "version": 1,
    "last_success": "2026-01-01T00:00:00+00:00",
    "last_failure": None,
    "failures": 0,
    "drift_repairs": 0,
    "targets": {
        f"pem:{WORK}/x.pem": {
            "digicert-global-root-g2": {"sha256": "ab", "owned": True, "since": "2026-01-01T00:00:00+00:00"}
        }
    },
    "synced": {f"pem:{WORK}/x.pem": "2026-01-01T00:00:00+00:00"},
    "seen": {
        f"pem:{WORK}/x.pem": {
            "size": 1234,
            "mtime_ns": 1767225600000000000,
            "sha256": "ab" * 32,
            "labels": {"digicert-global-root-g2": "rotator-digicert-global-root-g2"},
            "notes": ["a note"],
        }
    },
    "recorded": {
        f"pem:{WORK}/x.pem": {"kind": "pem", "path": f"{WORK}/x.pem", "options": {}},
        f"jks:{WORK}/t.jks": {
            "kind": "jks",
            "path": f"{WORK}/t.jks",
            "options": {"storepass_env": "FUZZ_STOREPASS", "on_change": ["true"]},
        },
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


STATE_FIELDS = {
    "top": ["version", "last_success", "last_failure", "failures", "drift_repairs"],
    "tables": ["targets", "synced", "seen", "recorded"],
    "record": ["sha256", "owned", "since"],
    "seen": ["size", "mtime_ns", "sha256", "access", "labels", "notes"],
    "recorded": ["kind", "path", "options"],
}


def _entry(doc: Any, table: str) -> Any:
    """The first entry of one of the state's tables, when the document still has one."""
    values = doc.get(table) if isinstance(doc, dict) else None
    return next(iter(values.values()), None) if isinstance(values, dict) and values else None


@st.composite
def state_files(draw: st.DrawFn) -> bytes:
    """The state file in its current shape, with a few values replaced (at the top, in a table, in
    one entry of targets, seen or recorded, in a recorded target's options), then maybe bytes damaged."""
    doc = json.loads(json.dumps(VALID_STATE))
    for _ in range(draw(st.integers(0, 3))):
        where = draw(st.sampled_from(["top", "tables", "entry", "record", "seen", "recorded", "option", "name"]))
        # Values of every JSON type, and values of the right type in the wrong range or shape.
        value = draw(st.one_of(json_values, times, st.text(max_size=20), st.integers(-1, 2**64)))
        if where in ("top", "tables"):
            doc[draw(st.sampled_from(STATE_FIELDS[where]))] = value
        elif where == "entry":  # a whole entry of one table
            table = doc.get(draw(st.sampled_from(STATE_FIELDS["tables"])))
            if isinstance(table, dict) and table:
                table[draw(st.sampled_from(sorted(table)))] = value
        elif where == "record":
            record = _entry({"roots": _entry(doc, "targets")}, "roots")  # a target's first root
            if isinstance(record, dict):
                record[draw(st.sampled_from(STATE_FIELDS["record"]))] = value
        elif where in ("seen", "recorded"):
            entry = _entry(doc, where)
            if isinstance(entry, dict):
                entry[draw(st.sampled_from(STATE_FIELDS[where]))] = value
        elif where == "option":
            entry = _entry(doc, "recorded")
            if isinstance(entry, dict) and isinstance(entry.get("options"), dict):
                entry["options"][draw(st.sampled_from(["storepass_env", "on_change", "aliases", "x"]))] = value
        else:  # a table's key: the store's name
            table = doc.get(draw(st.sampled_from(STATE_FIELDS["tables"])))
            if isinstance(table, dict) and table:
                table[draw(st.one_of(st.text(max_size=12), st.just("system"), st.just("pem:relative")))] = table.pop(
                    next(iter(table))
                )
    data = json.dumps(doc, allow_nan=True).encode()
    if draw(st.integers(0, 7)) == 0:
        data = draw(damaged(data))
    return data


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
            if isinstance(doc["differences"][0], dict):  # the list may have been replaced by anything
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


# -- the published page -----------------------------------------------------------------------------

PAGE = (DATA / "azure-ca-details.md").read_text()
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


# -- DER faults by structure: algorithm identifiers, extensions, names, lengths -------------------------

# Signature algorithms: others that exist, and OIDs nobody implements (1.2.840.10045.4.3.9 and the like).
SIGNATURE_OIDS = [
    "1.2.840.10045.4.3.9",  # ecdsa-with-"SHA-9": unknown, same length as ecdsa-with-SHA256
    "1.2.840.113549.1.1.99",  # unknown under pkcs-1
    "1.3.6.1.4.1.99999.1.2.3",
    "2.999.1",
    "1.2.840.113549.1.1.4",  # md5WithRSAEncryption
    "1.2.840.113549.1.1.5",  # sha1WithRSAEncryption
    "1.2.840.113549.1.1.10",  # RSASSA-PSS, here without its parameters
    "1.2.840.113549.1.1.11",  # sha256WithRSAEncryption
    "1.2.840.10045.4.3.2",  # ecdsa-with-SHA256
    "1.2.840.10045.4.1",  # ecdsa-with-SHA1
    "1.3.101.112",  # Ed25519
    "2.16.840.1.101.3.4.3.2",  # dsa-with-sha256
]
UNKNOWN_SIGNATURE = "1.2.840.10045.4.3.9"


def encode_oid(dotted: str) -> bytes:
    """An OBJECT IDENTIFIER's TLV from its dotted form."""
    arcs = [int(a) for a in dotted.split(".")]
    body = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body += bytes(reversed(chunk))
    return _tlv(0x06, bytes(body))


generated_oids = st.builds(
    lambda first, second, rest: ".".join(str(a) for a in [first, second if first < 2 else second * 10, *rest]),
    st.integers(0, 2),
    st.integers(0, 39),
    st.lists(st.integers(0, 2**40), max_size=8),
)
oids = st.one_of(st.sampled_from(SIGNATURE_OIDS).map(encode_oid), generated_oids.map(encode_oid))
broken_oids = st.sampled_from([b"", b"\x80", b"\x2a\x86", b"\x2a\x80\x01", b"\xff" * 12]).map(lambda v: _tlv(0x06, v))
algorithm_parameters = st.sampled_from([b"", b"\x05\x00", b"\x30\x00", b"\x04\x01\x00"])


def _tbs_index(tbs: list[Any], offset: int) -> int:
    """Index of a TBSCertificate field counted without the optional [0] version."""
    return offset + 1 if tbs and tbs[0].tag == 0xA0 else offset


def _rebuilt(cert: list[Any], tbs: list[bytes]) -> bytes:
    return _tlv(0x30, _tlv(0x30, b"".join(tbs)) + b"".join(c.raw for c in cert[1:]))


@st.composite
def signature_algorithm(draw: st.DrawFn, der: bytes, oid: bytes | None = None) -> bytes:
    """The signature algorithm replaced, in the TBS, outside it, or both (they must agree)."""
    from rotator.der import read_exact

    cert = read_exact(der).children()
    tbs = cert[0].children()
    oid = oid if oid is not None else draw(st.one_of(oids, oids, broken_oids))
    algorithm = _tlv(0x30, oid + draw(algorithm_parameters))
    where = draw(st.sampled_from(["both", "both", "inner", "outer"]))
    parts = [t.raw for t in tbs]
    if where in ("both", "inner"):
        parts[_tbs_index(tbs, 1)] = algorithm
    outer = algorithm if where in ("both", "outer") else cert[1].raw
    return _tlv(0x30, _tlv(0x30, b"".join(parts)) + outer + cert[2].raw)


def with_signature_algorithm(der: bytes, dotted: str = UNKNOWN_SIGNATURE, parameters: bytes = b"") -> bytes:
    """Valid DER whose signature algorithm (both copies) is ``dotted`` with ``parameters``: by default
    one nobody implements, 1.2.840.10045.4.3.9."""
    from rotator.der import read_exact

    cert = read_exact(der).children()
    tbs = cert[0].children()
    algorithm = _tlv(0x30, encode_oid(dotted) + parameters)
    parts = [t.raw for t in tbs]
    parts[_tbs_index(tbs, 1)] = algorithm
    return _tlv(0x30, _tlv(0x30, b"".join(parts)) + algorithm + cert[2].raw)


@st.composite
def extension_fault(draw: st.DrawFn, der: bytes) -> bytes:
    """An extension's OID replaced, its critical flag set, or a new (maybe critical) extension added."""
    from rotator.der import read_all, read_exact

    cert = read_exact(der).children()
    tbs = cert[0].children()
    parts = [t.raw for t in tbs]
    where = next((i for i, t in enumerate(tbs) if t.tag == 0xA3), None)
    extensions = [e.raw for e in read_exact(tbs[where].value).children()] if where is not None else []
    op = draw(st.sampled_from(["oid", "critical", "add", "add"])) if extensions else "add"
    if op == "add":
        critical = draw(st.sampled_from([b"", b"\x01\x01\xff", b"\x01\x01\x00", b"\x01\x01\x01"]))
        value = _tlv(0x04, draw(st.one_of(st.binary(max_size=12), st.just(b"\x30\x00"), st.just(b"\x05\x00"))))
        extensions.insert(draw(st.integers(0, len(extensions))), _tlv(0x30, draw(oids) + critical + value))
    else:
        at = draw(st.integers(0, len(extensions) - 1))
        fields = read_all(read_exact(extensions[at]).value)
        if op == "oid":
            fields_raw = [draw(st.one_of(oids, broken_oids))] + [f.raw for f in fields[1:]]
        else:
            fields_raw = [fields[0].raw, b"\x01\x01\xff"] + [f.raw for f in fields[1:] if f.tag != 0x01]
        extensions[at] = _tlv(0x30, b"".join(fields_raw))
    block = _tlv(0xA3, _tlv(0x30, b"".join(extensions)))
    if where is None:
        parts.append(block)
    else:
        parts[where] = block
    return _rebuilt(cert, parts)


@st.composite
def name_fault(draw: st.DrawFn, der: bytes) -> bytes:
    """In the subject or the issuer: an attribute's OID replaced, or an attribute added with any
    string type and bytes."""
    from rotator.der import read_exact

    cert = read_exact(der).children()
    tbs = cert[0].children()
    parts = [t.raw for t in tbs]
    index = _tbs_index(tbs, draw(st.sampled_from([2, 4])))  # issuer, subject
    rdns = [r.raw for r in tbs[index].children()]
    value = _tlv(
        draw(st.sampled_from([0x0C, 0x13, 0x16, 0x1E, 0x1C, 0x14, 0x04, 0x02])),
        draw(st.one_of(st.binary(max_size=16), st.text(max_size=12).map(lambda t: t.encode("utf-8")))),
    )
    if rdns and draw(st.booleans()):
        at = draw(st.integers(0, len(rdns) - 1))
        attribute = read_exact(rdns[at]).children()[0].children()
        rdns[at] = _tlv(0x31, _tlv(0x30, draw(st.one_of(oids, broken_oids)) + attribute[1].raw))
    else:
        rdns.insert(draw(st.integers(0, len(rdns))), _tlv(0x31, _tlv(0x30, draw(oids) + value)))
    parts[index] = _tlv(0x30, b"".join(rdns))
    return _rebuilt(cert, parts)


@st.composite
def length_fault(draw: st.DrawFn, der: bytes) -> bytes:
    """One element's length written wrongly (non-minimal long form, indefinite, one off, huge), every
    enclosing length right for the bytes it now holds."""
    from rotator.der import DerError, encode_length, read_all, read_exact

    def rewrite(raw: bytes) -> bytes:
        node = read_exact(raw)
        try:
            children = read_all(node.value) if node.constructed and node.value else []
        except DerError:
            children = []
        if children and draw(st.integers(0, 2)) != 0:
            parts = [c.raw for c in children]
            at = draw(st.integers(0, len(parts) - 1))
            parts[at] = rewrite(parts[at])
            return _tlv(node.tag, b"".join(parts))
        n = len(node.value)
        fault = draw(st.sampled_from(["long", "indefinite", "plus", "minus", "huge", "five"]))
        if fault == "long":
            length = bytes([0x82]) + n.to_bytes(2, "big") if n < 256 else bytes([0x84]) + n.to_bytes(4, "big")
        elif fault == "indefinite":
            return bytes([node.tag, 0x80]) + node.value + b"\x00\x00"
        elif fault == "plus":
            length = encode_length(n + 1)
        elif fault == "minus":
            length = encode_length(max(n - 1, 0))
        elif fault == "huge":
            length = b"\x84\xff\xff\xff\xff"
        else:
            length = b"\x85" + n.to_bytes(5, "big")
        return bytes([node.tag]) + length + node.value

    return rewrite(der)


def der_mutations(der: bytes) -> st.SearchStrategy[bytes]:
    """One certificate damaged by structure or by bytes."""
    return st.one_of(
        signature_algorithm(der),
        extension_fault(der),
        name_fault(der),
        length_fault(der),
        targeted(der),
        restructured(der),
        damaged(der),
    )


# -- saved chains: what `openssl s_client -showcerts` printed, then damaged ------------------------------

SERVER_NAME = "db.example.com"
CHAIN_ROOT = make_root("Fuzz Chain Root")
CHAIN_ISSUING = make_intermediate(CHAIN_ROOT, "Fuzz Chain Issuing CA")
CHAIN_LEAF = make_leaf(CHAIN_ISSUING, (SERVER_NAME,))  # and 127.0.0.1
# The names the leaf is valid for, as a client may write them: a valid --servername gives exit 0 for
# exactly these (and 1 for every other valid name).
SERVER_NAMES = {SERVER_NAME, SERVER_NAME + ".", "DB.Example.COM", "db.EXAMPLE.com.", "127.0.0.1"}


class ChainBase(NamedTuple):
    name: str
    ders: tuple[bytes, ...]  # in the order the server sends them
    store: bytes  # PEM: the store that trusts the intact chain
    at: str | None  # --at: a day the intact chain is valid on
    has_leaf: bool


def _data_der(name: str) -> bytes:
    from rotator.certs import parse_one

    return parse_one((DATA / name).read_bytes()).der


CHAIN_BASES = {
    "made": ChainBase("made", (CHAIN_LEAF.der, CHAIN_ISSUING.der), CHAIN_ROOT.pem, None, True),
    "made-with-root": ChainBase(
        "made-with-root", (CHAIN_LEAF.der, CHAIN_ISSUING.der, CHAIN_ROOT.der), CHAIN_ROOT.pem, None, True
    ),
    # Azure's real new chain (no server certificate), anchored at DigiCert Global Root G2.
    "azure": ChainBase(
        "azure",
        (_data_der("microsoft-tls-g2-rsa-ca-ocsp-02.pem"), _data_der("microsoft-tls-rsa-root-g2-xsign.pem")),
        resources.files("rotator.data").joinpath("digicert-global-root-g2.pem").read_bytes(),
        "2027-06-01",
        False,
    ),
}


class ChainCase(NamedTuple):
    base: str
    data: bytes
    expect: str  # "trusted" (exit 0), "untrusted" (exit 1), or "any" (0, 1 or 2)
    finding: str | None = None  # a line the output must hold
    how: str = ""


SAFE_NOISE = [
    "", "---", "depth=0 CN = db.example.com", "verify error:num=20:unable to get local issuer certificate",
    "\x1b[1mbold\x1b[0m", "ünïcødé 根", "Certificate chain", "   a:PKEY: id-ecPublicKey, 256 (bit)", "\t", "DONE",
    "read R BLOCK", "closed", "\x00\x01\x02", "-- ----",
]  # fmt: skip
MARKER_FAULTS = [
    "lower", "drop-dash", "add-dash", "trailing-space", "leading-space", "x509", "trusted", "delete", "duplicate",
]  # fmt: skip
BASE64_FAULTS = ["char", "delete", "drop-line", "duplicate-line", "swap-lines", "insert"]


def _pem(der: bytes) -> str:
    return pem_of(der).decode()


def transcript(ders: tuple[bytes, ...]) -> str:
    from rotator.certs import Cert
    from tests.support.s_client import s_client_text

    return s_client_text([Cert.from_der(d) for d in ders])


def _block_spans(lines: list[str]) -> list[tuple[int, int]]:
    """(BEGIN line, END line) of each PEM block."""
    begins = [i for i, line in enumerate(lines) if line == "-----BEGIN CERTIFICATE-----"]
    ends = [i for i, line in enumerate(lines) if line == "-----END CERTIFICATE-----"]
    return list(zip(begins, ends, strict=True))


@st.composite
def chain_files(draw: st.DrawFn) -> ChainCase:
    """A saved chain: the real s_client text around real certificates, then one kind of damage."""
    base = CHAIN_BASES[draw(st.sampled_from(sorted(CHAIN_BASES)))]
    ders = base.ders
    op = draw(
        st.sampled_from(
            ["intact", "crlf", "noise", "noise-any", "marker", "truncate", "base64", "repeat", "reverse", "bare"]
            + ["der"] * 6
            + ["unknown-signature", "der-file"]
        )
    )
    if op == "reverse":
        ders = tuple(reversed(ders))
    if op == "bare":  # the blocks alone, as a PEM bundle
        return ChainCase(base.name, "".join(_pem(d) for d in ders).encode(), "trusted", how=op)
    if op == "repeat":
        at = draw(st.integers(0, len(ders) - 1))
        ders = (*ders[: at + 1], ders[at], *ders[at + 1 :])
    text = transcript(ders)
    lines = text.split("\n")
    spans = _block_spans(lines)
    blocks = [i for span in spans for i in span]
    inside = {j for a, b in spans for j in range(a, b + 1)}
    expect, finding = "any", None
    if op in ("intact", "reverse", "repeat"):
        expect = "trusted"
    elif op == "crlf":
        text, expect = text.replace("\n", "\r\n"), "trusted"
    elif op in ("noise", "noise-any"):
        for _ in range(draw(st.integers(1, 5))):
            if op == "noise":  # lines of text between the blocks, never inside one
                spans = _block_spans(lines)
                at = draw(st.sampled_from([i for i in range(len(lines) + 1) if not any(a < i <= b for a, b in spans)]))
                lines.insert(at, draw(st.sampled_from(SAFE_NOISE)))
            else:  # anything, anywhere
                lines.insert(draw(st.integers(0, len(lines))), draw(st.text(max_size=40)))
        text = "\n".join(lines)
        expect = "trusted" if op == "noise" else "any"
    elif op == "marker":
        at = draw(st.sampled_from(blocks))
        fault = draw(st.sampled_from(MARKER_FAULTS))
        line = lines[at]
        lines[at : at + 1] = {
            "lower": [line.lower()],
            "drop-dash": [line[1:]],
            "add-dash": ["-" + line],
            "trailing-space": [line + " "],
            "leading-space": [" " + line],
            "x509": [line.replace("CERTIFICATE", "X509 CERTIFICATE")],
            "trusted": [line.replace("CERTIFICATE", "TRUSTED CERTIFICATE")],
            "delete": [],
            "duplicate": [line, line],
        }[fault]
        text = "\n".join(lines)
    elif op == "truncate":
        text = text[: draw(st.integers(0, len(text)))]
    elif op == "base64":
        body = sorted(inside - set(blocks))
        at = draw(st.sampled_from(body))
        fault = draw(st.sampled_from(BASE64_FAULTS))
        line = lines[at]
        pos = draw(st.integers(0, max(len(line) - 1, 0)))
        if fault == "char":
            lines[at] = (
                line[:pos] + draw(st.sampled_from(["!", "=", " ", "\t", "é", "-", "\x00", "A", "/"])) + line[pos + 1 :]
            )
        elif fault == "delete":
            lines[at] = line[:pos] + line[pos + 1 :]
        elif fault == "insert":
            lines[at] = line[:pos] + draw(st.text(max_size=4)) + line[pos:]
        elif fault == "drop-line":
            del lines[at]
        elif fault == "duplicate-line":
            lines.insert(at, line)
        elif at + 1 in body:
            lines[at], lines[at + 1] = lines[at + 1], lines[at]
        text = "\n".join(lines)
    elif op in ("der", "unknown-signature", "der-file"):
        at = draw(st.integers(0, len(ders) - 1))
        if op == "unknown-signature":
            mutated = with_signature_algorithm(ders[at])
            # Every certificate but the anchor is checked by the signature its issuer made over it.
            if at < len(ders) - 1 or base.name != "made-with-root":
                expect = "untrusted"
                finding = f"signature algorithm {UNKNOWN_SIGNATURE} not supported"
        else:
            mutated = draw(der_mutations(ders[at]))
        if op == "der-file":
            return ChainCase(base.name, mutated, "any", how=op)
        text = text.replace(_pem(ders[at]), _pem(mutated), 1)
    return ChainCase(base.name, text.encode("utf-8", "surrogatepass"), expect, finding, how=op)


# -- --servername values ------------------------------------------------------------------------------

_LDH = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
labels = st.one_of(
    st.sampled_from(_LDH),
    st.builds(
        lambda a, m, z: a + m + z, st.sampled_from(_LDH), st.text(_LDH + "-", max_size=61), st.sampled_from(_LDH)
    ),
)


@st.composite
def host_names(draw: st.DrawFn) -> str:
    """A valid host name: LDH labels of 1 to 63, at most 253 characters, maybe a final dot."""
    parts = draw(st.lists(labels, min_size=1, max_size=6))
    while len(".".join(parts)) > 253:
        parts.pop()
    return ".".join(parts) + draw(st.sampled_from(["", "", "."]))


NAME_FAULTS = [
    "wildcard", "star", "empty-label", "leading-dot", "underscore", "long-label", "long-name", "non-ascii",
    "control", "space", "hyphen-start", "hyphen-end", "empty", "dot", "dots", "slash", "colon-text", "idna-bad",
]  # fmt: skip
CONTROL = [chr(c) for c in range(32)] + ["\x7f"]


class ServerName(NamedTuple):
    value: str
    valid: bool | None  # None: a free-form value, either answer is right if it is rotator's own


@st.composite
def server_names(draw: st.DrawFn) -> ServerName:
    """--servername values: valid ones (names, the leaf's own names, IP addresses, A-labels) and
    names with one fault each (wildcards, empty labels, underscores, lengths, non-ASCII, control
    characters, empty); now and then any text at all."""
    kind = draw(st.sampled_from(["name", "name", "own", "ip", "a-label", "fault", "fault", "fault", "any", "scoped"]))
    if kind == "own":
        return ServerName(draw(st.sampled_from(sorted(SERVER_NAMES))), True)
    if kind == "ip":
        return ServerName(str(draw(st.ip_addresses())), True)
    if kind == "a-label":
        unicode = draw(st.text(st.characters(min_codepoint=0xA1, max_codepoint=0x2FFF), min_size=1, max_size=8))
        try:
            label = unicode.encode("idna").decode("ascii")
        except UnicodeError:
            label = "xn--bcher-kva"
        if "." in label:  # an ideographic full stop and the like: more than one label
            return ServerName(label + ".example", None)
        valid = len(label) <= 63 and all(c in _LDH + "-" for c in label) and label[:1] != "-" != label[-1:]
        return ServerName(label + ".example", valid)
    if kind == "any":
        return ServerName(draw(st.text(max_size=30)), None)
    if kind == "scoped":  # an IPv6 address with a zone: ipaddress takes any text after the %
        return ServerName(f"fe80::1%{draw(st.text(max_size=8))}", None)
    name = draw(host_names())
    if kind == "name":
        return ServerName(name, True)
    fault = draw(st.sampled_from(NAME_FAULTS))
    parts = name.rstrip(".").split(".")
    at = draw(st.integers(0, len(parts) - 1))
    if fault == "wildcard":
        value = "*." + name
    elif fault == "star":
        parts[at] = parts[at][:1] + "*" + parts[at][1:]
        value = ".".join(parts)
    elif fault == "empty-label":
        value = ".".join(parts[: at + 1]) + ".." + ".".join(parts[at + 1 :] or ["x"])
    elif fault == "leading-dot":
        value = "." + name
    elif fault == "underscore":
        parts[at] = parts[at][:1] + "_" + parts[at][1:]
        value = ".".join(parts)
    elif fault == "long-label":
        parts[at] = "a" * draw(st.integers(64, 300))
        value = ".".join(parts)
    elif fault == "long-name":
        value = ".".join(["a" * 63] * 4) + "." + name  # past 253
    elif fault == "non-ascii":
        pos = draw(st.integers(0, len(name)))
        char = draw(st.characters(min_codepoint=0x80, exclude_categories=["Cs"]))
        value = name[:pos] + char + name[pos:]
    elif fault == "control":
        pos = draw(st.integers(0, len(name)))
        value = name[:pos] + draw(st.sampled_from(CONTROL)) + name[pos:]
    elif fault == "space":
        value = name[: len(name) // 2] + " " + name[len(name) // 2 :]
    elif fault == "hyphen-start":
        parts[at] = "-" + parts[at]
        value = ".".join(parts)
    elif fault == "hyphen-end":
        parts[at] = parts[at] + "-"
        value = ".".join(parts)
    elif fault == "empty":
        value = ""
    elif fault == "dot":
        value = "."
    elif fault == "dots":
        value = "." * draw(st.integers(2, 5))
    elif fault == "slash":
        value = name + "/" + draw(st.sampled_from(["", "path", "..", "db"]))
    elif fault == "colon-text":
        value = name + ":" + draw(st.sampled_from(["5432", "", "x"]))
    else:  # not a name IDNA can encode
        value = draw(st.sampled_from(["\u0080.example", "a\u200d.example", "\u3002\u3002", "\ufffd.example"]))
    return ServerName(value, False)


# -- the Ansible modules' parameters ---------------------------------------------------------------------

SPECIALS = [*CONTROL, '"', "'", "\\", "\n", "\r", "\u2028", "\u2029", "\u0085", "\ufeff", "$", "~", "=", "#", "[", "]"]
PREFIXES = ["", "/srv/", "/etc/azure/", "-", "--", "~/", "$HOME/", "./", "../", "=", " ", "/"]
hostile_text = st.builds(
    lambda prefix, body: prefix + body,
    st.sampled_from(PREFIXES),
    st.text(st.one_of(st.sampled_from(SPECIALS), st.characters(exclude_categories=["Cs"])), max_size=16),
)
KINDS = ["pem", "jks", "pkcs12", "pem-dir", "system", "java-cacerts"]


@st.composite
def fleet_params(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A module (sync, status or scan) and the parameters a play may give it, many of them hostile."""
    module = draw(st.sampled_from(["sync", "status", "scan"]))
    params: dict[str, Any] = {}
    maybe = st.one_of(st.none(), hostile_text)
    if module == "scan":
        for key in ("config", "at", "sysroot"):
            params[key] = draw(maybe)
        params["service"] = draw(st.one_of(st.none(), st.lists(hostile_text, max_size=3)))
        params["include"] = draw(st.one_of(st.none(), st.lists(hostile_text, max_size=3)))
        params["time_limit"] = draw(st.one_of(st.none(), st.floats(allow_nan=True), st.integers(-5, 10**6)))
    else:
        if draw(st.integers(0, 4)) == 0:
            params["config"] = draw(hostile_text)
        else:
            targets = []
            for _ in range(draw(st.integers(1, 3))):
                target: dict[str, Any] = {"kind": draw(st.one_of(st.sampled_from(KINDS), hostile_text))}
                if draw(st.integers(0, 3)):
                    target["path"] = draw(hostile_text)
                if draw(st.booleans()):
                    target["password"] = draw(hostile_text)
                targets.append(target)
            params["targets"] = targets
        for key in ("profile", "state_dir", "at", "sysroot"):
            params[key] = draw(maybe)
        params["roots"] = draw(st.one_of(st.none(), st.lists(hostile_text, max_size=3)))
        if module == "sync":
            for key in ("mirror", "download_ca_bundle", "cache_dir"):
                params[key] = draw(maybe)
            params["offline"] = draw(st.booleans())
            params["no_cache"] = draw(st.booleans())
    return module, {k: v for k, v in params.items() if v is not None}


def servername_exit(name: ServerName) -> int | None:
    """The exit of ``probe --chain-file`` on the intact made chain with ``--servername name.value``:
    2 for an invalid name, 0 for a name the server certificate holds, 1 for any other valid name;
    None for free-form text (0, 1 and 2 are all right, as long as they are rotator's)."""
    if name.valid is None:
        return None
    if not name.valid:
        return 2
    return 0 if name.value.rstrip(".").lower() == SERVER_NAME or name.value == "127.0.0.1" else 1
