"""Would a client reading this store trust each reference chain, and until when.

A store's anchors are its self-issued certificates that are still valid on the day judged. An
anchor carries a path when its key verifies the signature of a certificate on it (the name is
matched first, on the DER, so a store of 150 roots costs a handful of signature checks). A path
through a cross-sign holds only until the cross-sign expires: ``survives-until``. The best path
of a variant counts, and the worst variant of a chain: a MySQL server may sit on either anchor.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping, Sequence

from rotator.certs import Cert, NotACertificate, der_issuer, der_spki, der_subject
from rotator.der import DerError
from rotator.records import NamedTuple
from rotator.roots.catalog import CrossSign, Root
from rotator.scan.chains import Chain, Variant, signer_key

SURVIVES = "survives"
FAILS = "fails"
SURVIVES_UNTIL = "survives-until"


class Verdict(NamedTuple):
    outcome: str
    until: dt.date | None = None
    evidence: str = ""

    @property
    def code(self) -> str:
        return f"{SURVIVES_UNTIL}:{self.until.isoformat()}" if self.until else self.outcome

    @property
    def rank(self) -> tuple[int, dt.date]:
        """Higher is better: survives, then the later deadline, then fails."""
        if self.outcome == SURVIVES:
            return (2, dt.date.max)
        if self.outcome == SURVIVES_UNTIL and self.until is not None:
            return (1, self.until)
        return (0, dt.date.min)


class Anchors:
    """A store's certificates, indexed for judging."""

    def __init__(self, certs: Iterable[Cert], at: dt.datetime) -> None:
        self.at = at
        self.by_subject: dict[bytes, list[Cert]] = {}  # self-issued: the candidates to anchor
        self.issued: list[tuple[Cert, bytes]] = []  # the others (intermediates, leaves), with their issuer
        self.sha256s: set[str] = set()
        for cert in certs:
            self.sha256s.add(cert.sha256)
            try:
                subject, issuer = der_subject(cert.der), der_issuer(cert.der)
            except (DerError, ValueError):
                continue
            if subject != issuer:
                self.issued.append((cert, issuer))  # no anchor for OpenSSL's default verifier
                continue
            # Dates are read only of a candidate that matches a name on a chain (signer_of).
            self.by_subject.setdefault(subject, []).append(cert)

    def signer_of(self, cert: Cert) -> Cert | None:
        try:
            issuer = der_issuer(cert.der)
        except (DerError, ValueError):
            return None
        key = signer_key(cert)
        for candidate in self.by_subject.get(issuer, ()):
            try:
                if candidate.not_after < self.at:
                    continue  # an expired anchor anchors nothing
                if key is not None:
                    # A shipped certificate: its signer's key is pinned (the name matched above).
                    if hashlib.sha256(der_spki(candidate.der)).hexdigest() == key:
                        return candidate
                elif cert.signed_by(candidate):
                    return candidate
            except (NotACertificate, DerError, ValueError):
                continue  # a store entry the readers refuse signs nothing
        return None


def judge(
    chain: Chain,
    anchors: Anchors,
    *,
    at: dt.datetime,
    roots: Mapping[str, Root],
    cross_signs: Sequence[CrossSign],
    names: Mapping[str, str],
) -> Verdict:
    """``names``: catalog root id by SHA-256, to say which root a path rests on."""
    verdicts = [_variant(v, anchors, at, roots, cross_signs, names) for v in chain.variants]
    return min(verdicts, key=lambda v: v.rank)


def _variant(
    variant: Variant,
    anchors: Anchors,
    at: dt.datetime,
    roots: Mapping[str, Root],
    cross_signs: Sequence[CrossSign],
    names: Mapping[str, str],
) -> Verdict:
    if variant.anchor_id:
        root = roots[variant.anchor_id]
        if root.sha256 in anchors.sha256s and (root.not_after is None or root.not_after >= at.date()):
            return Verdict(SURVIVES, evidence=f"{variant.label}: holds {root.id}")
        return Verdict(FAILS, evidence=f"{variant.label}: lacks {root.id}")
    path = variant.path()
    pins = {c.sha256: c for c in cross_signs}
    best = Verdict(FAILS, evidence=f"{variant.label}: no root in the store signs any certificate of it")
    for depth, cert in enumerate(path):
        anchor = anchors.signer_of(cert)
        if anchor is None:
            continue
        relied = [pins[c.sha256] for c in path[: depth + 1] if c.sha256 in pins]
        rests_on = names.get(anchor.sha256) or anchor.common_name  # parsed only when not a catalog root
        if not relied:
            return Verdict(SURVIVES, evidence=f"{variant.label}: rests on {rests_on}")
        until = min(x.not_after for x in relied)
        through = ", ".join(x.label for x in relied)
        if until < at.date():
            candidate = Verdict(FAILS, evidence=f"{variant.label}: {through} expired on {until}")
        else:
            candidate = Verdict(SURVIVES_UNTIL, until, f"{variant.label}: rests on {rests_on} through {through}")
        if candidate.rank > best.rank:
            best = candidate
    return best
