"""A verified ``[[roots]]`` entry for a root Azure publishes and the catalog does not know.

Nothing is trusted here. The certificate is downloaded from the URL the list gives and must have
the published SHA-1 and serial and be a self-signed CA; then each second channel the user named
(a local bundle or directory where the root already is, or another URL) is asked for the same
certificate. The result says which channels agreed; the user decides whether to paste the entry.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rotator.certs import Cert, NotACertificate, parse_many, parse_one
from rotator.errors import SourceError
from rotator.host.files import read_problem
from rotator.roots.locations import is_url
from rotator.upstream.published_list import PublishedCA

AGREES = "agrees"
DISAGREES = "disagrees"  # the channel holds another certificate under this name: no proposal
SILENT = "silent"  # the channel does not hold it, or could not be read: no evidence either way

Fetch = Callable[[str], bytes]


@dataclass(frozen=True)
class Channel:
    name: str  # "bundle /etc/ssl/certs/ca-certificates.crt", "URL https://..."
    verdict: str  # AGREES, DISAGREES, SILENT
    detail: str


@dataclass(frozen=True)
class Proposal:
    published: PublishedCA
    cert: Cert | None  # the downloaded certificate, when it could be read
    problems: tuple[str, ...]  # why there is no entry to paste
    channels: tuple[Channel, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems and not any(c.verdict == DISAGREES for c in self.channels)

    @property
    def root_id(self) -> str:
        return slug(self.published.name)

    @property
    def agreed(self) -> list[str]:
        """The channels that delivered the same certificate, the published download first."""
        first = [f"the published download {self.published.url}"] if self.cert is not None and not self.problems else []
        return first + [c.name for c in self.channels if c.verdict == AGREES]

    def entry(self) -> str:
        """The ``[[roots]]`` TOML to paste into the config (only when ``ok``)."""
        assert self.cert is not None and self.published.url is not None
        cert = self.cert
        note = (
            f"published by Microsoft as an Azure root; SHA-1 {cert.sha1}, serial {cert.x509.serial_number:x}; "
            f"confirmed by: {'; '.join(self.agreed)}"
        )
        return "\n".join(
            [
                "[[roots]]",
                f"id = {_toml(self.root_id)}",
                f"name = {_toml(self.published.name)}",
                f"sha256 = {_toml(cert.sha256)}",
                f"urls = [{_toml(self.published.url)}]",
                f"note = {_toml(note)}",
            ]
        )


def slug(name: str) -> str:
    text = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return text[:63] or "published-root"


def _toml(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def propose(published: PublishedCA, fetch: Fetch, cross_checks: Sequence[str], at: dt.datetime) -> Proposal:
    """Download, check against the published row, then ask each second channel."""
    if not published.url:
        return Proposal(published, None, ("the list gives no download URL for it",))
    try:
        cert = parse_one(fetch(published.url))
    except SourceError as exc:
        return Proposal(published, None, (f"cannot download it: {exc}",))
    except NotACertificate as exc:
        return Proposal(published, None, (f"{published.url} did not serve a certificate ({exc})",))
    problems = []
    if cert.sha1 != published.sha1:
        problems.append(
            f"the certificate downloaded from {published.url} has SHA-1 {cert.sha1}, "
            f"the list publishes {published.sha1}"
        )
    if cert.x509.serial_number != published.serial:
        problems.append(
            f"the certificate downloaded from {published.url} has serial {cert.x509.serial_number:x}, "
            f"the list publishes {published.serial_hex}"
        )
    if not (cert.is_ca and cert.is_self_issued and cert.signed_by(cert)):
        problems.append(f"{cert.common_name!r} from {published.url} is not a self-signed CA certificate")
    if cert.expired(at):
        problems.append(f"{cert.common_name!r} expired on {cert.not_after:%Y-%m-%d}")
    if problems:
        return Proposal(published, cert, tuple(problems))
    channels = tuple(_ask(source, cert, fetch) for source in cross_checks)
    return Proposal(published, cert, (), channels)


def _ask(source: str, cert: Cert, fetch: Fetch) -> Channel:
    if is_url(source):
        name = f"URL {source}"
        try:
            other = parse_one(fetch(source))
        except (SourceError, NotACertificate) as exc:
            return Channel(name, SILENT, f"could not be read ({exc})")
        if other.der == cert.der:
            return Channel(name, AGREES, "serves the same certificate")
        return Channel(name, DISAGREES, f"serves another certificate (SHA-256 {other.sha256})")
    path = Path(source)
    name = f"{'directory' if path.is_dir() else 'bundle'} {path}"
    try:
        held = _local_certs(path)
    except OSError as exc:
        return Channel(name, SILENT, f"could not be read ({read_problem(exc)})")
    if any(c.der == cert.der for c in held):
        return Channel(name, AGREES, "holds the same certificate")
    key = cert.x509.public_key()
    namesakes = [c for c in held if c.x509.subject == cert.x509.subject and c.x509.public_key() != key]
    if namesakes:
        return Channel(name, DISAGREES, f"holds another key under the same name (SHA-256 {namesakes[0].sha256})")
    return Channel(name, SILENT, f"does not hold it ({len(held)} certificates read)")


def _local_certs(path: Path) -> list[Cert]:
    """A PEM bundle, one certificate file, or a directory of them (such as /etc/ssl/certs)."""
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    certs: list[Cert] = []
    for file in files:
        try:
            certs.extend(parse_many(file.read_bytes()))
        except NotACertificate:
            continue  # a non-certificate file in a directory of certificates
    return certs
