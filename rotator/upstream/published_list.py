"""Microsoft's published list of Azure certificate authorities, read and compared with the catalog.

The list is the "Azure Certificate Authority details" page, whose source is a markdown file in the
public MicrosoftDocs/azure-docs repository. Under the headings "Root Certificate Authorities" and
"Subordinate Certificate Authorities" it holds tables whose rows carry a markdown link (the CA's name
and its download URL) and a cell "serial<br>SHA-1 thumbprint".

The parser is strict about that layout: a page whose tables cannot be found, or a row that does not
read as a name, a serial and a thumbprint, is a ``ListUnreadable`` (exit 2) naming the line. A changed
layout must never read as "no roots". Nothing here trusts anything: it reports what differs.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rotator.certs import Cert
from rotator.errors import PinMismatch, RootUnavailable, RotatorError, SourceError
from rotator.host.files import ReadAs, read_file
from rotator.roots.catalog import RETIRED, Root
from rotator.roots.download import Downloader, DownloadSettings
from rotator.roots.locations import is_url
from rotator.roots.obtain import Obtainer, ObtainSettings

DEFAULT_SOURCE = (
    "https://raw.githubusercontent.com/MicrosoftDocs/azure-docs/main/"
    "articles/security/fundamentals/azure-certificate-authority-details.md"
)
MAX_PAGE_BYTES = 2 * 1024 * 1024

ROOT = "root"
SUBORDINATE = "subordinate"
_SECTIONS = ((ROOT, "root certificate authorities"), (SUBORDINATE, "subordinate certificate authorities"))

# Every pattern below is linear in its input: each quantifier is followed by something it cannot
# match (no two quantifiers compete for the same characters), so a failed attempt never backtracks,
# and the link's text and URL stop at the next bracket, so attempts from nearby starts do not re-read
# each other's characters. The daemon's check thread runs them on whatever the list's URL serves: a
# backtracking pattern took minutes on a 10 KB heading line and grew with the square of a cell.
_HEADING = re.compile(r"\s{0,3}(#{1,6})\s(.*)")  # the title's closing #s and spaces are stripped after
_LINK = re.compile(r"\[([^\[\]]+)\]\(\s*<?([^\[\]()<>\s]+)>?\s*(?:\"[^\"]*\"\s*)?\)")
_BREAK = re.compile(r"<\s*(?:/\s*)?br\s*(?:/\s*)?>", re.IGNORECASE)
# The longest cell of the real page (a name and its download link) is under 200 characters.
MAX_CELL = 2000
_SHOWN = 80  # characters of a cell quoted in a message
_SHA1 = re.compile(r"^[0-9a-f]{40}$")
_SERIAL = re.compile(r"^(?:0x)?([0-9a-f]{1,80})$")

# what each kind of difference is called, for people and for JSON
UNKNOWN_ROOT = "unknown-root"  # published, not in the catalog
UNPUBLISHED_ROOT = "unpublished-root"  # in the catalog, no longer published
CHANGED_THUMBPRINT = "changed-thumbprint"  # a catalog root's name published with another SHA-1
CHANGED_SERIAL = "changed-serial"  # a catalog root's SHA-1 published with another serial


class ListUnreadable(RotatorError):
    """The published list could not be fetched or read: nothing was compared."""

    exit_code = 2


@dataclass(frozen=True)
class PublishedCA:
    kind: str  # ROOT or SUBORDINATE
    name: str
    url: str | None  # the download link of the row
    serial: int
    sha1: str  # lower-case hex
    line: int  # in the page, for messages

    @property
    def serial_hex(self) -> str:
        return f"{self.serial:x}"


@dataclass(frozen=True)
class PublishedList:
    source: str
    roots: tuple[PublishedCA, ...]
    subordinates: tuple[PublishedCA, ...]


# ---------------------------------------------------------------------------- reading the page


def fetch(source: str, settings: DownloadSettings) -> PublishedList:
    """Read the list from an https URL or a local file, then parse it; ListUnreadable (exit 2) if either fails."""
    if is_url(source):
        if not source.startswith("https://"):
            raise ListUnreadable(f"--source: {source} is not https; the list decides what you are told to trust")
        downloader = Downloader(settings._replace(max_bytes=MAX_PAGE_BYTES))
        try:
            data = downloader.get(source)
        except SourceError as exc:
            raise ListUnreadable(f"cannot fetch Azure's CA list: {exc}") from exc
        finally:
            downloader.close()
    else:
        read_as = ReadAs(
            "", "save the CA list's markdown source to a file, or give an https URL", ListUnreadable, "--source"
        )
        # Never as a pipe: a FIFO with no writer would block the daemon's check forever, and a device
        # never ends. A regular file is read no further than the cap.
        data = read_file(Path(source), read_as, limit=MAX_PAGE_BYTES)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ListUnreadable(f"{source}: not UTF-8 text ({exc.reason}); expected the page's markdown source") from exc
    return parse(text, source)


def parse(text: str, source: str) -> PublishedList:
    """The root and subordinate tables of the page. Strict: a missing table or a strange row is an error."""
    lines = text.splitlines()
    found: dict[str, list[PublishedCA]] = {ROOT: [], SUBORDINATE: []}
    tables: dict[str, int] = {ROOT: 0, SUBORDINATE: 0}
    section: str | None = None
    i = 0
    while i < len(lines):
        heading = _HEADING.match(lines[i])
        if heading:
            title = heading.group(2).rstrip().rstrip("#").rstrip()
            section = _section(title, len(heading.group(1)), section)
            i += 1
            continue
        if section is not None and lines[i].lstrip().startswith("|"):
            start = i
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                i += 1
            found[section].extend(_table(lines[start:i], start + 1, section, source))
            tables[section] += 1
            continue
        i += 1
    for kind, title in _SECTIONS:
        if not tables[kind]:
            hint = " (this looks like a web page: give the markdown source)" if "<html" in text[:2000].lower() else ""
            raise ListUnreadable(
                f"{source}: no table under a heading {title.title()!r} was found{hint}; the page layout has "
                "changed or this is not the Azure Certificate Authority details page, so nothing was compared"
            )
        if not found[kind]:
            raise ListUnreadable(f"{source}: the {title.title()} table has no rows; nothing was compared")
    return PublishedList(source=source, roots=tuple(found[ROOT]), subordinates=tuple(found[SUBORDINATE]))


def _section(title: str, level: int, current: str | None) -> str | None:
    """Which table a heading opens; a deeper heading keeps the section it belongs to."""
    lowered = " ".join(title.lower().replace("(cas)", "").split())
    for kind, name in _SECTIONS:
        if lowered.startswith(name) or lowered == name.removesuffix("ies") + "y":
            return kind
    return current if current is not None and level > 2 else None


def _cells(line: str) -> list[str]:
    body = line.strip()
    body = body[1:] if body.startswith("|") else body
    body = body[:-1] if body.endswith("|") and not body.endswith("\\|") else body
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", body)]


def _shown(text: str) -> str:
    """A cell for a message: quoted, and cut short (a message stays one readable line)."""
    return repr(text if len(text) <= _SHOWN else text[:_SHOWN] + "...")


def _bounded(cells: list[str], source: str, line: int) -> list[str]:
    for cell in cells:
        if len(cell) > MAX_CELL:
            raise ListUnreadable(
                f"{source}, line {line}: a cell of {len(cell)} characters (the page's cells hold a name and "
                f"a link, at most {MAX_CELL}) starting {_shown(cell)}; the layout has changed or this is not "
                "the Azure Certificate Authority details page, so nothing was compared"
            )
    return cells


def _table(rows: list[str], first_line: int, kind: str, source: str) -> list[PublishedCA]:
    where = f"{source}, line {first_line}"
    _bounded(_cells(rows[0]), source, first_line)
    if len(rows) < 2 or not all(set(c) <= set(":- ") and c for c in _cells(rows[1])):
        raise ListUnreadable(f"{where}: a table without a header and |---| line; the layout has changed")
    header = [_BREAK.sub(" ", c).lower() for c in _cells(rows[0])]
    name_col = next((j for j, h in enumerate(header) if "authority" in h or h == "name"), None)
    value_col = next((j for j, h in enumerate(header) if "thumbprint" in h), None)
    if name_col is None or value_col is None:
        raise ListUnreadable(
            f"{where}: the table has no 'Certificate Authority' and 'Serial Number / Thumbprint' columns "
            f"(found: {_shown(', '.join(header))}); the layout has changed"
        )
    out = []
    for offset, row in enumerate(rows[2:], start=2):
        line = first_line + offset
        cells = _bounded(_cells(row), source, line)
        if len(cells) != len(header):
            raise ListUnreadable(f"{source}, line {line}: {len(cells)} cells where the header has {len(header)}")
        out.append(_row(cells, name_col, value_col, kind, f"{source}, line {line}", line))
    return out


def _row(cells: list[str], name_col: int, value_col: int, kind: str, where: str, line: int) -> PublishedCA:
    name_cell = cells[name_col]
    link = _LINK.search(name_cell) or next((m for c in cells if (m := _LINK.search(c))), None)
    name = _LINK.sub(lambda m: m.group(1), name_cell)
    name = " ".join(re.sub(r"[*_`]", "", _BREAK.sub(" ", name)).split())
    if not name:
        raise ListUnreadable(f"{where}: no certificate authority name")
    parts = [p.strip() for p in _BREAK.split(cells[value_col]) if p.strip()]
    if len(parts) != 2:
        found = _shown(cells[value_col])
        raise ListUnreadable(f"{where}: expected 'serial<br>SHA-1 thumbprint' for {_shown(name)}, found {found}")
    serial_text = re.sub(r"[\s:`]", "", parts[0]).lower()
    sha1 = re.sub(r"[\s:`]", "", parts[1]).lower()
    serial = _SERIAL.match(serial_text)
    if serial is None:
        raise ListUnreadable(f"{where}: {_shown(parts[0])} is not a hexadecimal serial number ({_shown(name)})")
    if not _SHA1.match(sha1):
        raise ListUnreadable(f"{where}: {_shown(parts[1])} is not a SHA-1 thumbprint (40 hex digits) ({_shown(name)})")
    url = link.group(2) if link else None
    return PublishedCA(kind=kind, name=name, url=url, serial=int(serial.group(1), 16), sha1=sha1, line=line)


# ---------------------------------------------------------------------------- comparing with the catalog


@dataclass(frozen=True)
class Difference:
    kind: str  # UNKNOWN_ROOT, UNPUBLISHED_ROOT, CHANGED_THUMBPRINT, CHANGED_SERIAL
    message: str
    root_id: str | None = None
    published: PublishedCA | None = None


@dataclass(frozen=True)
class Comparison:
    agreeing: tuple[tuple[Root, PublishedCA], ...]
    differences: tuple[Difference, ...]
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.differences


def _key(name: str) -> str:
    return " ".join(name.lower().split())


def compare(published: PublishedList, roots: Sequence[tuple[Root, Cert | None]]) -> Comparison:
    """Published roots against the catalog's, by SHA-1 (what Microsoft publishes), then by name.

    ``roots`` pairs each catalog root with its local copy when one is at hand: the serial, and the
    SHA-1 of a custom root (the config pins SHA-256 only), come from it.
    """
    by_sha1: dict[str, list[tuple[Root, Cert | None]]] = {}
    for root, cert in roots:
        sha1 = root.sha1 or (cert.sha1 if cert is not None else "")
        if sha1:
            by_sha1.setdefault(sha1, []).append((root, cert))
    by_name = {_key(root.name): root for root, _ in roots}
    agreeing: list[tuple[Root, PublishedCA]] = []
    differences: list[Difference] = []
    notes: list[str] = []
    matched: set[str] = set()
    for row in published.roots:
        known = by_sha1.get(row.sha1)
        if known:
            for root, cert in known:
                matched.add(root.id)
                agreeing.append((root, row))
                if cert is not None and cert.x509.serial_number != row.serial:
                    differences.append(
                        Difference(
                            CHANGED_SERIAL,
                            f"{root.id}: published with serial {row.serial_hex}, the catalog's certificate has "
                            f"{cert.x509.serial_number:x} (same SHA-1 {row.sha1}; {published.source} line {row.line})",
                            root.id,
                            row,
                        )
                    )
            continue
        same_name = by_name.get(_key(row.name))
        if same_name is not None:
            matched.add(same_name.id)
            differences.append(
                Difference(
                    CHANGED_THUMBPRINT,
                    f"{same_name.id}: {row.name!r} is published with SHA-1 {row.sha1}, the catalog has "
                    f"{same_name.sha1 or 'another certificate'} (line {row.line})",
                    same_name.id,
                    row,
                )
            )
            continue
        differences.append(
            Difference(
                UNKNOWN_ROOT,
                f"{row.name!r} is published as a root (serial {row.serial_hex}, SHA-1 {row.sha1}) "
                f"but is not in the catalog (line {row.line})",
                None,
                row,
            )
        )
    for root, _ in roots:
        if root.id in matched:
            continue
        if root.custom:
            continue  # the user's own roots are not Azure's to publish
        if root.status == RETIRED:
            notes.append(f"{root.id} is retired in the catalog and no longer published: as expected")
            continue
        differences.append(
            Difference(
                UNPUBLISHED_ROOT,
                f"{root.id} ({root.name}) is in the catalog but no longer published as an Azure root",
                root.id,
                None,
            )
        )
    return Comparison(agreeing=tuple(agreeing), differences=tuple(differences), notes=tuple(notes))


@dataclass(frozen=True)
class CheckResult:
    at: dt.datetime
    published: PublishedList
    comparison: Comparison
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.comparison.ok


def check(source: str, roots: Sequence[Root], obtain: ObtainSettings, download: DownloadSettings) -> CheckResult:
    """Read the list and compare it with ``roots`` (built-in and custom). Raises ListUnreadable (exit 2)."""
    published = fetch(source, download)
    local, notes = local_copies(roots, obtain, download)
    comparison = compare(published, local)
    return CheckResult(at=obtain.at, published=published, comparison=comparison, notes=(*notes, *comparison.notes))


def local_copies(
    roots: Sequence[Root], obtain: ObtainSettings, download: DownloadSettings
) -> tuple[list[tuple[Root, Cert | None]], list[str]]:
    """Each root with a verified copy: local first (cache, mirror directory, file, embedded); a custom
    root with none is downloaded from its own URLs and proven by its pin. Nothing is cached."""
    offline = ObtainSettings(
        at=obtain.at, offline=True, cache_dir=obtain.cache_dir, mirror=obtain.mirror, max_bytes=obtain.max_bytes
    )
    local = Obtainer(offline, downloader=None, write_cache=False)
    online = Obtainer(
        offline._replace(offline=False, cache_dir=None), downloader=lambda: Downloader(download), write_cache=False
    )
    out: list[tuple[Root, Cert | None]] = []
    notes: list[str] = []
    try:
        for root in roots:
            cert: Cert | None = None
            reason = "no local copy and no URL"
            for obtainer in (local, online):
                if obtainer is online and (not root.urls or obtain.offline):
                    break
                try:
                    cert = obtainer.obtain(root).cert
                    break
                except (RootUnavailable, PinMismatch) as exc:
                    reason = str(exc)
            out.append((root, cert))
            if cert is None:
                notes.append(f"root {root.id}: no verified copy, so it was compared by name only ({reason})")
    finally:
        online.report_fallbacks()
        online.close()
    return out, notes
