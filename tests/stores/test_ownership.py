"""The ownership label ``rotator-<id>``: formatted and parsed in one place, and every store kind
claims exactly the entries rotator could have written, never a look-alike somebody else made."""

from __future__ import annotations

from pathlib import Path

import pytest

from rotator import ownership
from rotator.certs import parse_one
from stores.base import Anchor
from stores.distros import BY_NAME
from stores.java import JavaKeystore
from stores.keystore.base import Format, TrustedCert
from stores.keystore.dispatch import new
from stores.passwords import StorePassword
from stores.pem import PemBundle
from stores.pemdir import PemDir
from stores.system import SystemStore
from tests.support.paths import embedded_pem

G2 = parse_one(embedded_pem("digicert-global-root-g2"))
G3 = parse_one(embedded_pem("digicert-global-root-g3"))
ECC = parse_one(embedded_pem("microsoft-ecc-root-2017"))

# Look-alikes of rotator's label that rotator never writes: none of them is rotator's.
HOSTILE = [
    "rotator-",
    "rotator-../x",
    "rotator-..",
    "rotator-./x",
    "rotator-/etc/passwd",
    "rotator-x/../../y",
    "rotator-.hidden",
    "rotator--x",
    "rotator-_x",
    "rotator-X",
    "ROTATOR-x",
    "Rotator-x",
    "rotator-x y",
    "rotator-x\n",
    "rotator-x\x00",
    "rotator-é",
    "rotator-" + "a" * 64,
    "debian:rotator-x",
    "debian:rotator-x.pem",
    "certs/rotator-x",
    " rotator-x",
    "xrotator-x",
    "",
]


@pytest.mark.parametrize("root_id", ["digicert-global-root-g2", "a", "0", "corp.root_2", "a" * 63])
@pytest.mark.parametrize("suffix", ["", ".crt", ".pem"])
def test_a_label_parses_back_to_its_id(root_id: str, suffix: str) -> None:
    name = ownership.label(root_id, suffix)
    assert name == f"rotator-{root_id}{suffix}"
    assert ownership.owner(name, (suffix,)) == root_id
    assert ownership.is_label_of(name, root_id)


@pytest.mark.parametrize("name", HOSTILE)
@pytest.mark.parametrize("suffixes", [("",), (".pem",), ownership.FILE_SUFFIXES])
def test_a_look_alike_has_no_owner(name: str, suffixes: tuple[str, ...]) -> None:
    assert ownership.owner(name, suffixes) is None
    assert ownership.owner(name + ".pem", suffixes) is None
    assert ownership.owner(name + ".crt", suffixes) is None


@pytest.mark.parametrize("root_id", ["", "../x", "X", "-x", ".x", "x/y", "x\n", "a" * 64])
def test_no_label_for_an_invalid_id(root_id: str) -> None:
    with pytest.raises(ValueError, match="not a root id"):
        ownership.label(root_id)
    assert not ownership.is_label_of(f"rotator-{root_id}", root_id)


def test_a_suffix_belongs_only_to_the_kinds_that_write_it() -> None:
    # A hash directory holds rotator-<id>.pem: a .crt file there is somebody else's.
    assert ownership.owner("rotator-x.crt", (".pem",)) is None
    assert ownership.owner("rotator-x.pem", (".pem",)) == "x"
    # A file without a suffix is not rotator's in a directory, an alias without one is.
    assert ownership.owner("rotator-x", ownership.FILE_SUFFIXES) is None
    assert ownership.owner("rotator-x", ("",)) == "x"
    # An alias is taken as written: ".pem" is part of the id there, as the id rule allows.
    assert ownership.owner("rotator-x.pem", ("",)) == "x.pem"
    assert ownership.is_label_of("rotator-x.crt", "x")
    assert not ownership.is_label_of("rotator-x.crt", "x.crt.crt")
    assert not ownership.is_label_of("rotator-x.txt", "x")


def test_the_bundle_marker_takes_only_valid_ids() -> None:
    assert ownership.PEM_MARKER.match(b"# rotator-digicert-global-root-g2: DigiCert (sha256 ab)\n")
    for hostile in (
        b"# rotator-: x\n",
        b"# rotator-../x: x\n",
        b"# rotator-X: x\n",
        b"# rotator-x y: x\n",
        b"#rotator-x: x\n",
        b"# debian:rotator-x: x\n",
        b"# rotator-" + b"a" * 64 + b": x\n",
    ):
        assert ownership.PEM_MARKER.match(hostile) is None, hostile


def _anchor(root_id: str, cert: object) -> Anchor:
    return Anchor(root_id=root_id, name=root_id, cert=cert)  # type: ignore[arg-type]


def test_pem_bundle_removes_its_own_block_and_keeps_look_alikes(tmp_path: Path) -> None:
    hostile = b"# rotator-../x: planted\n" + G3.to_pem() + b"# rotator-X: planted\n" + ECC.to_pem()
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(hostile + b"# rotator-old: retired\n" + G2.to_pem())
    store = PemBundle(bundle)
    owners = [e.owner_id for e in store.read().entries]
    assert owners == [None, None, "old"]
    plan = store.plan([])
    assert [e.label for e in plan.remove] == ["rotator-old"]
    store.apply(plan)
    assert bundle.read_bytes() == hostile


def test_pem_dir_claims_only_its_own_files(tmp_path: Path) -> None:
    store = PemDir(tmp_path / "certs")
    store.apply(store.plan([_anchor("old", G2)]))
    planted = ["rotator-.pem", "rotator-X.pem", "rotator-x.crt", "rotator-x", "debian:rotator-x.pem"]
    for name in planted:
        (tmp_path / "certs" / name).write_bytes(G3.to_pem())
    assert [(e.label, e.owner_id) for e in store.read().entries if e.owner_id] == [("rotator-old.pem", "old")]
    store.apply(store.plan([]))
    assert sorted(p.name for p in (tmp_path / "certs").iterdir()) == sorted(planted)


def test_system_store_claims_only_its_own_anchors(tmp_path: Path) -> None:
    debian = BY_NAME["debian"]
    store = SystemStore(debian, root=tmp_path, sysroot=True, mode="none")
    store.anchor_dir.mkdir(parents=True)
    planted = ["rotator-.crt", "rotator-UP.crt", "rotator-x.txt", "debian:rotator-x.crt", "rotator-x"]
    for name in planted:
        (store.anchor_dir / name).write_bytes(G3.to_pem())
    (store.anchor_dir / "rotator-old.crt").write_bytes(G2.to_pem())
    (store.anchor_dir / "rotator-wrong-suffix.pem").write_bytes(ECC.to_pem())
    plan = store.plan([])
    assert sorted(e.label for e in plan.remove) == ["rotator-old.crt", "rotator-wrong-suffix.pem"]
    store.apply(plan)
    assert sorted(p.name for p in store.anchor_dir.iterdir()) == sorted(planted)


@pytest.mark.parametrize("fmt", [Format.JKS, Format.PKCS12])
def test_keystore_claims_only_its_own_aliases(tmp_path: Path, fmt: Format) -> None:
    path = tmp_path / "trust.store"
    foreign = ["debian:rotator-x.pem", "rotator-", "rotator-../x"]
    path.write_bytes(
        new(fmt, "changeit").render(
            [],
            [
                TrustedCert(alias=foreign[0], der=G3.der),
                TrustedCert(alias=foreign[1], der=ECC.der),
                TrustedCert(alias=foreign[2], der=ECC.der),
                TrustedCert(alias="rotator-old", der=G2.der),
            ],
        )
    )
    kind = "jks" if fmt is Format.JKS else "pkcs12"
    store = JavaKeystore(kind, path, StorePassword("changeit", "test"), new_format=fmt)
    plan = store.plan([])
    assert [e.label for e in plan.remove] == ["rotator-old"]
    store.apply(plan)
    assert sorted(e.label for e in store.read().entries) == sorted(foreign)


def test_system_store_drops_only_java_aliases_made_from_its_own_anchors(tmp_path: Path) -> None:
    # Debian's ca-certificates-java names the copy of an anchor debian:<link name>; rotator removes
    # those of its own anchors when the root goes, and never one made from somebody else's file.
    store = SystemStore(BY_NAME["debian"], root=tmp_path, sysroot=True, mode="none")
    aliases = [
        "debian:rotator-old.pem",
        "debian:rotator-kept.pem",
        "debian:rotator-X.pem",
        "debian:rotator-.pem",
        "debian:rotator-old.crt",
        "debian:corp.pem",
        "rotator-old",
        "debian:rotator-a b.pem",
    ]
    stale = store._stale_java_aliases(dict.fromkeys(aliases, "sha"), [_anchor("kept", G2)])
    assert [(e.label.rsplit(" ", 1)[-1], e.owner_id) for e in stale] == [("debian:rotator-old.pem", "old")]
