"""``pem-dir:DIR``: an OpenSSL hash directory (``SSL_CERT_DIR``, CApath, .NET on Linux).

One PEM file per root, ``rotator-<root id>.pem``, plus the subject-hash link ``<hash>.N`` that
``openssl rehash`` would make for it (a relative symlink in the same directory). Links of
rotator's own files that no longer fit (target gone, subject hash changed) are removed; every
other file and link in the directory is left alone.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rotator import ownership
from rotator.certs import Cert, NotACertificate, parse_many, parse_one
from rotator.errors import StoreError
from rotator.host.files import atomic_write, fsync_dir, read_optional, read_regular, remove_file
from stores.base import Anchor, Entry, Plan, StoreContents, make_plan
from stores.subject_hash import subject_hash

HASH_NAME = re.compile(r"^(?P<hash>[0-9a-f]{8})\.(?P<n>[0-9]+)$")
OWNED_SUFFIXES = (".pem",)  # rotator's files here: rotator-<id>.pem


@dataclass(frozen=True)
class _Scan:
    entries: tuple[Entry, ...]
    linked: frozenset[str]  # rotator files that a correct hash link points at


class PemDir:
    kind = "pem-dir"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.name = f"pem-dir:{directory}"

    @property
    def lock_dir(self) -> Path:
        return self.directory

    # -- reading -------------------------------------------------------------------------------

    def _names(self) -> list[str] | None:
        try:
            return sorted(os.listdir(self.directory))
        except FileNotFoundError:
            return None
        except NotADirectoryError as exc:
            raise StoreError(f"{self.directory} is not a directory; point pem-dir: at a directory") from exc
        except OSError as exc:
            raise StoreError(
                f"cannot list {self.directory}: {exc.strerror}; run as its owner (sudo) or through the service"
            ) from exc

    def _one(self, filename: str) -> Cert | None:
        data = read_optional(self.directory / filename, "certificate file")
        if data is None:
            return None
        try:
            # rotator's own file: its SHA-256 is compared with the wanted root's, no parse needed.
            return parse_one(data, lazily=True)
        except NotACertificate:
            return None

    def _scan(self) -> _Scan | None:
        names = self._names()
        if names is None:
            return None
        entries: list[Entry] = []
        owned: dict[str, Cert | None] = {}
        for filename in names:
            owner = ownership.owner(filename, OWNED_SUFFIXES)
            if owner and (self.directory / filename).is_file() and not (self.directory / filename).is_symlink():
                owned[filename] = self._one(filename)
                entries.append(Entry(label=filename, cert=owned[filename], owner_id=owner))
        linked: set[str] = set()
        for filename in names:
            match = HASH_NAME.match(filename)
            if not match:
                continue
            path = self.directory / filename
            target = os.readlink(path) if path.is_symlink() else None
            target_owner = ownership.owner(target, OWNED_SUFFIXES) if target is not None else None
            if target is not None and target_owner is not None:
                cert = owned.get(target)
                if cert is not None and _hash_is(cert, match.group("hash")):
                    linked.add(target)
                else:  # stale: our file is gone, unreadable, or has another subject now
                    entries.append(Entry(label=filename, cert=None, owner_id=target_owner))
                continue
            # Somebody else's hash entry: it counts as present when it is what its name says.
            try:
                certs = parse_many(read_regular(path))
            except OSError:
                continue
            except NotACertificate:
                certs = []
            if not certs:
                entries.append(Entry(label=filename if target is None else f"{filename} -> {target}", cert=None))
            for cert in certs:
                if _hash_is(cert, match.group("hash")):
                    entries.append(Entry(label=filename if target is None else f"{filename} -> {target}", cert=cert))
        return _Scan(entries=tuple(entries), linked=frozenset(linked))

    def read(self) -> StoreContents:
        scan = self._scan()
        if scan is None:
            return StoreContents(entries=(), exists=False)
        return StoreContents(entries=scan.entries)

    # -- planning ------------------------------------------------------------------------------

    def plan(self, wanted: Sequence[Anchor]) -> Plan:
        scan = self._scan() or _Scan(entries=(), linked=frozenset())
        plan = make_plan(self.name, StoreContents(entries=scan.entries), wanted)
        # A rotator file without its hash link is invisible to OpenSSL: write it and link it.
        unlinked = [
            (a, label) for a, label in plan.keep if ownership.owner(label, OWNED_SUFFIXES) and label not in scan.linked
        ]
        if unlinked:
            plan = plan._replace(
                add=plan.add + tuple(a for a, _ in unlinked),
                keep=tuple(k for k in plan.keep if k not in unlinked),
            )
        if not plan.changes:
            return plan  # the hints are said when the directory changes, not on every no-op run
        notes = (
            f"OpenSSL, .NET on Linux and Python's ssl read it through SSL_CERT_DIR={self.directory}; "
            f"requests through REQUESTS_CA_BUNDLE={self.directory}",
            "Node.js reads files only: point NODE_EXTRA_CA_CERTS at a pem: target's bundle",
        )
        return plan._replace(notes=notes)

    # -- writing -------------------------------------------------------------------------------

    def apply(self, plan: Plan) -> None:
        if not plan.changes:
            return
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _cannot_write(self.directory, exc) from exc
        for entry in plan.remove:
            if ownership.owner(entry.label, OWNED_SUFFIXES):
                for link in self._links_to(entry.label):
                    remove_file(self.directory / link)
            remove_file(self.directory / entry.label)
        for anchor in plan.add:
            filename = ownership.label(anchor.root_id, ".pem")
            atomic_write(self.directory / filename, anchor.cert.to_pem(), mode=0o644)
            self._link(filename, subject_hash(anchor.cert))

    def _links_to(self, filename: str) -> list[str]:
        links = []
        for name in self._names() or []:
            path = self.directory / name
            if HASH_NAME.match(name) and path.is_symlink() and os.readlink(path) == filename:
                links.append(name)
        return links

    def _link(self, filename: str, digest: str) -> None:
        """``<hash>.N`` -> filename, with N the first free index, as ``openssl rehash`` numbers them."""
        stale = [n for n in self._links_to(filename) if not n.startswith(digest + ".")]
        for name in stale:
            remove_file(self.directory / name)
        if any(n.startswith(digest + ".") for n in self._links_to(filename)):
            return
        index = 0
        while os.path.lexists(self.directory / f"{digest}.{index}"):
            index += 1
        link = self.directory / f"{digest}.{index}"
        tmp = self.directory / f".{digest}.{index}.rotator-tmp"
        try:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            os.symlink(filename, tmp)
            os.replace(tmp, link)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise _cannot_write(link, exc) from exc
        fsync_dir(self.directory)

    # -- verifying -----------------------------------------------------------------------------

    def verify(self, wanted: Sequence[Anchor]) -> None:
        scan = self._scan() or _Scan(entries=(), linked=frozenset())
        have = {
            e.cert.sha256 for e in scan.entries if e.cert is not None and (e.owner_id is None or e.label in scan.linked)
        }
        missing = [a.root_id for a in wanted if a.cert.sha256 not in have]
        if missing:
            raise StoreError(
                f"{self.name}: after writing, no hash link reaches {', '.join(missing)}; something else changed "
                f"{self.directory}, run sync again (or `openssl rehash {self.directory}`) and check other tools"
            )


def _cannot_write(path: Path, exc: OSError) -> StoreError:
    if exc.errno in (errno.EACCES, errno.EPERM):
        return StoreError(f"cannot write {path}: permission denied; run with sudo or through the rotator service")
    return StoreError(f"cannot write {path}: {exc.strerror or exc}")


def _hash_is(cert: Cert, digest: str) -> bool:
    """Whether ``digest`` is the certificate's subject hash; never, for one no parser can read."""
    try:
        return subject_hash(cert) == digest
    except NotACertificate:
        return False
