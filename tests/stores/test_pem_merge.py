"""Merging into a PEM bundle, byte for byte: examples, and a property over generated bundles
(merging twice equals merging once; no foreign certificate is ever dropped or reordered)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rotator.certs import Cert, parse_one
from stores.base import Anchor, Plan, StoreContents, make_plan
from stores.pem import PemBundle, merged, render_block
from tests.support.paths import embedded_pem

IDS = (
    "digicert-global-root-g2",
    "digicert-global-root-g3",
    "microsoft-ecc-root-2017",
    "microsoft-rsa-root-2017",
    "baltimore-cybertrust-root",
)
CERTS = {root_id: parse_one(embedded_pem(root_id)) for root_id in IDS}
G2, G3, ECC = CERTS[IDS[0]], CERTS[IDS[1]], CERTS[IDS[2]]


def anchor(root_id: str, cert: Cert | None = None) -> Anchor:
    return Anchor(root_id=root_id, name=f"Name of {root_id}", cert=cert or CERTS[root_id])


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as directory:
        yield Path(directory)


def read(data: bytes, scratch: Path) -> StoreContents:
    path = scratch / "bundle.pem"
    path.write_bytes(data)
    return PemBundle(path).read()


def sync(data: bytes, wanted: list[Anchor], scratch: Path) -> bytes:
    """What a sync writes: the bundle with the plan for ``wanted`` merged in."""
    return merged(data, make_plan("pem", read(data, scratch), wanted))


def foreign(data: bytes, scratch: Path) -> list[str | None]:
    return [e.cert.sha256 if e.cert else None for e in read(data, scratch).entries if e.owner_id is None]


# -- examples -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data", [b"", b"# only a comment", b"\n\n", G2.to_pem().replace(b"\n", b"\r\n"), b"# corp\n" + G3.to_pem()[:-1]]
)
def test_an_empty_plan_changes_no_byte(data: bytes) -> None:
    assert merged(data, Plan(target="pem")) == data


def test_a_block_is_marked_with_its_id_name_and_fingerprint() -> None:
    block = render_block(anchor(IDS[0]))
    assert block == f"# rotator-{IDS[0]}: Name of {IDS[0]} (sha256 {G2.sha256})\n".encode() + G2.to_pem()


def test_an_addition_after_a_last_line_without_newline_starts_on_its_own_line() -> None:
    data = b"# corp roots\n" + G3.to_pem()[:-1]
    assert merged(data, Plan(target="pem", add=(anchor(IDS[0]),))) == data + b"\n" + render_block(anchor(IDS[0]))


def test_removing_an_own_block_takes_its_marker_and_line_break_only(scratch: Path) -> None:
    before, after = b"# corp\r\n" + G3.to_pem().replace(b"\n", b"\r\n"), b"\n# trailing comment\n"
    own = render_block(anchor(IDS[2])).replace(b"\n", b"\r\n")
    data = before + own + after
    plan = make_plan("pem", read(data, scratch), [])
    assert [e.label for e in plan.remove] == [f"rotator-{IDS[2]}"]
    assert merged(data, plan) == before + after


def test_a_marker_not_right_above_its_block_is_a_comment_and_the_block_foreign(scratch: Path) -> None:
    data = f"# rotator-{IDS[0]}: moved\n\n".encode() + G2.to_pem()
    assert [e.owner_id for e in read(data, scratch).entries] == [None]
    assert sync(data, [], scratch) == data


def test_a_stale_own_copy_is_replaced_in_one_sync(scratch: Path) -> None:
    data = b"# corp\n" + render_block(anchor(IDS[0], ECC))
    once = sync(data, [anchor(IDS[0])], scratch)
    assert once == b"# corp\n" + render_block(anchor(IDS[0]))


# -- property -------------------------------------------------------------------------------------

NEWLINES = st.sampled_from([b"\n", b"\r\n"])
COMMENTS = st.sampled_from(
    [
        b"# corp bundle",
        b"",
        b"   ",
        b"# rotator-../x: planted",
        b"# rotator-X: planted",
        b"# " + b"x" * 70,
        b"# rotator-: planted",
    ]
)


@st.composite
def pieces(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["foreign", "own", "comment", "stale"]))
    newline = draw(NEWLINES)
    if kind == "comment":
        return draw(COMMENTS) + newline
    root_id = draw(st.sampled_from(IDS))
    if kind == "foreign":
        return CERTS[root_id].to_pem().replace(b"\n", newline)
    # own: rotator's block as rendered; stale: rotator's label above another certificate
    cert = CERTS[draw(st.sampled_from(IDS))] if kind == "stale" else CERTS[root_id]
    return render_block(anchor(root_id, cert)).replace(b"\n", newline)


BUNDLES = st.lists(pieces(), max_size=8).map(b"".join)
WANTED = st.lists(st.sampled_from(IDS), unique=True).map(lambda ids: [anchor(i) for i in ids])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=BUNDLES, wanted=WANTED, cut_last_newline=st.booleans())
def test_merging_twice_equals_merging_once_and_keeps_every_foreign_certificate(
    scratch: Path, data: bytes, wanted: list[Anchor], cut_last_newline: bool
) -> None:
    if cut_last_newline:
        data = data.rstrip(b"\r\n")
    once = sync(data, wanted, scratch)
    assert sync(once, wanted, scratch) == once
    assert foreign(once, scratch) == foreign(data, scratch)
    # Every wanted root is in the result, and rotator owns nothing else.
    contents = read(once, scratch)
    assert {a.cert.sha256 for a in wanted} <= contents.fingerprints()
    assert {e.owner_id for e in contents.entries if e.owner_id} <= {a.root_id for a in wanted}
