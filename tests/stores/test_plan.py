"""``make_plan``, the diff every store kind uses: pure, on entries built in the test."""

from __future__ import annotations

import pytest

from rotator.certs import Cert, parse_one
from stores.base import Anchor, Entry, StoreContents, make_plan
from tests.support.paths import embedded_pem

G2 = parse_one(embedded_pem("digicert-global-root-g2"))
G3 = parse_one(embedded_pem("digicert-global-root-g3"))
ECC = parse_one(embedded_pem("microsoft-ecc-root-2017"))
RSA = parse_one(embedded_pem("microsoft-rsa-root-2017"))


def anchor(root_id: str, cert: Cert) -> Anchor:
    return Anchor(root_id=root_id, name=root_id.upper(), cert=cert)


def contents(*entries: Entry) -> StoreContents:
    return StoreContents(entries=entries)


def test_an_empty_store_gets_every_wanted_root_in_order() -> None:
    wanted = [anchor("g3", G3), anchor("g2", G2)]
    plan = make_plan("t", StoreContents(entries=(), exists=False), wanted)
    assert plan.add == tuple(wanted)
    assert plan.keep == () and plan.remove == ()
    assert plan.changes


def test_a_root_present_under_a_foreign_label_is_kept_not_added() -> None:
    plan = make_plan("t", contents(Entry("digicertglobalrootg2", G2)), [anchor("g2", G2)])
    assert plan.keep == ((anchor("g2", G2), "digicertglobalrootg2"),)
    assert plan.add == () and plan.remove == ()
    assert not plan.changes


def test_own_entry_of_a_root_no_longer_wanted_is_removed() -> None:
    old = Entry("rotator-ecc", ECC, owner_id="ecc")
    plan = make_plan("t", contents(old, Entry("rotator-g2", G2, owner_id="g2")), [anchor("g2", G2)])
    assert plan.remove == (old,)
    assert plan.keep == ((anchor("g2", G2), "rotator-g2"),)


def test_foreign_entries_are_never_removed_even_when_unwanted_or_unreadable() -> None:
    foreign = (Entry("corp", RSA), Entry("broken", None), Entry("debian:rotator-g2.pem", ECC))
    plan = make_plan("t", contents(*foreign), [])
    assert plan.remove == ()
    assert not plan.changes


def test_own_entry_holding_another_certificate_is_replaced() -> None:
    stale = Entry("rotator-g2", ECC, owner_id="g2")
    plan = make_plan("t", contents(stale), [anchor("g2", G2)])
    assert plan.remove == (stale,)
    assert plan.add == (anchor("g2", G2),)


def test_own_unreadable_entry_is_removed_and_its_root_written_again() -> None:
    broken = Entry("rotator-g2", None, owner_id="g2")
    plan = make_plan("t", contents(broken), [anchor("g2", G2)])
    assert plan.remove == (broken,) and plan.add == (anchor("g2", G2),)


def test_a_copy_being_removed_does_not_count_as_present() -> None:
    # rotator's entry for a retired id holds the certificate now wanted under another id:
    # it goes, and the wanted root is written under its own label.
    retired = Entry("rotator-old-name", G2, owner_id="old-name")
    plan = make_plan("t", contents(retired), [anchor("g2", G2)])
    assert plan.remove == (retired,)
    assert plan.add == (anchor("g2", G2),) and plan.keep == ()


@pytest.mark.parametrize("foreign_first", [True, False])
def test_a_foreign_copy_keeps_the_root_when_rotators_own_goes(foreign_first: bool) -> None:
    retired, foreign = Entry("rotator-old-name", G2, owner_id="old-name"), Entry("corp-g2", G2)
    entries = (foreign, retired) if foreign_first else (retired, foreign)
    plan = make_plan("t", contents(*entries), [anchor("g2", G2)])
    assert plan.remove == (retired,)
    assert plan.keep == ((anchor("g2", G2), "corp-g2"),) and plan.add == ()


def test_the_plan_names_its_target_and_has_no_notes() -> None:
    plan = make_plan("pem:/x", contents(), [anchor("g2", G2)])
    assert plan.target == "pem:/x" and plan.notes == ()
