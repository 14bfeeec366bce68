"""From what the walk saw and the settings read, the stores and who reads each.

One function per kind of evidence. A store is known by its kind and its path with links resolved
inside the sysroot, so the JDKs Debian links to one ``/etc/ssl/certs/java/cacerts`` are one store
with each JDK among its readers.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from rotator.records import NamedTuple
from rotator.scan import found as kinds
from rotator.scan.found import Found, Reader, Unreadable
from rotator.scan.settings import JAVA_VARIABLES, STORE_VARIABLES, Source, java_properties
from rotator.scan.walk import Hits
from stores import distros
from stores.jdk_discovery import resolve_in

GLOBAL_ENVIRONMENT = "/etc/environment"
SCANNING_SHELL = "your environment"
PATH_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


class Account(NamedTuple):
    name: str
    uid: int
    home: str


def accounts(root: Path) -> list[Account]:
    """The accounts in the tree's passwd, each with its home (as inside the tree)."""
    try:
        with open(root / "etc/passwd", encoding="utf-8", errors="replace") as handle:
            lines = handle.read(4 << 20).splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        parts = line.split(":")
        if len(parts) >= 7 and parts[2].isdigit() and parts[5].startswith("/"):
            out.append(Account(parts[0], int(parts[2]), os.path.normpath(parts[5])))
    return out


class Findings:
    """The stores found so far, merged by (kind, resolved path)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.by_key: dict[tuple[str, str], Found] = {}
        self.unreadable: list[Unreadable] = []
        # The distribution's bundle and the hash directory beside it, by whatever name a variable
        # gives them (SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt): one store, the system's.
        self.system_names: dict[str, str] = {}

    def inside(self, host_path: str | Path) -> str:
        """A path on this machine as seen inside the sysroot."""
        rel = os.path.relpath(host_path, self.root)
        return "/" if rel == "." else "/" + rel

    def on_disk(self, inside: str) -> Path:
        return self.root / inside.lstrip("/")

    def resolved(self, inside: str) -> str:
        live = self.root == Path("/")
        return self.inside(resolve_in(None if live else self.root, Path(inside)))

    def add(self, kind: str, inside: str, reader: Reader, *, resolve: bool = True) -> Found:
        path = self.resolved(inside) if resolve else inside
        if kind in (kinds.PEM, kinds.PEM_DIR) and path in self.system_names:
            kind, path = kinds.SYSTEM, self.system_names[path]
        key = (kind, path)
        store = self.by_key.get(key)
        if store is None:
            store = self.by_key[key] = Found(kind=kind, path=path)
        store.add_reader(reader)
        return store


def system_store(findings: Findings) -> str | None:
    """The distribution's consolidated bundle: what OpenSSL's default paths (and so libpq's
    ``sslrootcert=system``, curl, Python's ssl default, Node with --use-openssl-ca) read."""
    distro = distros.detect(findings.root)
    if distro is None:
        return None
    store = findings.add(kinds.SYSTEM, distro.bundle, Reader(f"{distro.label} trust store", "OpenSSL's default"))
    findings.system_names = {store.path: store.path, str(PurePosixPath(store.path).parent): store.path}
    findings.system_names[distro.bundle] = store.path
    return store.path


def jdk_stores(findings: Findings, hits: Hits) -> None:
    for path in hits.cacerts:
        inside = findings.inside(path)
        security = PurePosixPath(inside).parent  # .../lib/security
        home = security.parent.parent
        if home.name == "jre" and (findings.on_disk(str(home.parent)) / "bin").is_dir():
            home = home.parent  # JDK 8: jdk/jre/lib/security; the JDK is who runs
        system = inside.startswith("/usr/lib/jvm/")
        who = f"JDK {home}" if system else f"application JRE {home}"
        findings.add(kinds.JAVA_CACERTS, inside, Reader(who, "its lib/security/cacerts, unless told otherwise"))


def certifi_stores(findings: Findings, hits: Hits) -> None:
    for path in hits.certifi:
        inside = findings.inside(path)
        parts = PurePosixPath(inside).parts
        vendored = len(parts) >= 4 and parts[-3] == "_vendor" and parts[-4] == "pip"
        env = _environment_of(findings, PurePosixPath(inside))
        if vendored:
            reader = Reader(f"pip in {env}", "pip's own copy of certifi")
        else:
            reader = Reader(f"Python {env}", "requests, httpx, urllib3, pip and anything else on certifi there")
        findings.add(kinds.CERTIFI, inside, reader, resolve=False)


def wheel_openssl_stores(findings: Findings, hits: Hits) -> None:
    """Each OpenSSL a wheel carries: its compiled OPENSSLDIR is what libpq's sslrootcert=system
    (psycopg, psycopg2 binary wheels) and OpenSSL's defaults read inside that library."""
    from rotator.scan.contents import Unreadable as NotRead
    from rotator.scan.contents import compiled_openssldir

    for path in hits.openssl_libs:
        inside = findings.inside(path)
        try:
            directory = compiled_openssldir(Path(path))
        except NotRead as exc:
            findings.unreadable.append(Unreadable(inside, str(exc)))
            continue
        if directory is None:
            continue
        package = PurePosixPath(inside).parent.name.removesuffix(".libs")
        env = _environment_of(findings, PurePosixPath(inside))
        why = f"sslrootcert=system and OpenSSL's defaults in its own OpenSSL, built for {directory}"
        store = findings.add(kinds.WHEEL_OPENSSL, directory, Reader(f"{package} in {env}", why), resolve=False)
        if not findings.on_disk(directory).exists():
            note = f"{directory} does not exist here: it trusts nothing unless SSL_CERT_FILE is set"
            if note not in store.notes:
                store.notes.append(note)


def _environment_of(findings: Findings, inside: PurePosixPath) -> str:
    """The virtualenv holding a file (the first ancestor with a pyvenv.cfg), or its site-packages."""
    for ancestor in list(inside.parents)[:7]:
        if (findings.on_disk(str(ancestor)) / "pyvenv.cfg").is_file():
            return f"virtualenv {ancestor}"
    for ancestor in inside.parents:
        if ancestor.name in ("site-packages", "dist-packages"):
            return f"site-packages {ancestor}"
    return f"environment {inside.parent.parent}"


def node_binaries(findings: Findings, hits: Hits, path_dirs: tuple[str, ...]) -> list[str]:
    """Every distinct node binary (inside paths), from PATH and the walk; each a store of its own."""
    candidates: list[tuple[str, str]] = []
    for directory in path_dirs:
        for name in ("node", "nodejs"):
            inside = f"{directory.rstrip('/')}/{name}"
            if findings.on_disk(inside).is_file():
                candidates.append((inside, f"on PATH as {inside}"))
    candidates += [(findings.inside(p), "found on disk") for p in hits.node]
    out = []
    for inside, why in candidates:
        disk = findings.on_disk(inside)
        if not disk.is_file() or not os.access(disk, os.X_OK):
            continue
        store = findings.add(kinds.NODE, inside, Reader(f"programs run with {inside}", why))
        if store.path not in out:
            out.append(store.path)
    return out


def nss_databases(findings: Findings, hits: Hits) -> None:
    for path in hits.nss:
        inside = findings.inside(path)
        reader = Reader("NSS (Firefox, Chromium, some curl builds)", f"{inside}: the certificates it marks trusted")
        findings.add(kinds.NSS, str(PurePosixPath(inside).parent), reader)


def postgresql_root_certs(findings: Findings, people: list[Account], users_of: dict[str, list[str]]) -> None:
    """Each account's ``~/.postgresql/root.crt``: the default sslrootcert of libpq, psycopg and
    asyncpg, and of pgjdbc's default factory (which takes the passwd home, whatever $HOME says)."""
    seen_homes = set()
    for account in people:
        if account.home in ("/", "/nonexistent") or account.home in seen_homes:
            continue
        seen_homes.add(account.home)
        inside = f"{account.home.rstrip('/')}/.postgresql/root.crt"
        if not os.path.lexists(findings.on_disk(inside)):
            continue
        reader = Reader(f"account {account.name}", "libpq, psycopg, asyncpg and pgjdbc default sslrootcert")
        store = findings.add(kinds.PEM, inside, reader)
        for unit in users_of.get(account.name, []):
            store.add_reader(Reader(f"unit {unit}", f"runs as {account.name}"))


def variable_stores(findings: Findings, sources: list[Source], system: str | None, nodes: list[str]) -> None:
    """The files, directories and keystores the variables name, and Node run by a unit."""
    for source in sources:
        for var in STORE_VARIABLES:
            value = source.values.get(var, "").strip()
            if not value:
                continue
            why = f"{var} in {source.set_in.get(var, source.file)}: {STORE_VARIABLES[var]}"
            if var == "PGSSLROOTCERT" and value == "system":
                if system:
                    findings.add(kinds.SYSTEM, system, Reader(source.name, why))
                continue
            if var == "SSL_CERT_DIR":
                for directory in value.split(":"):
                    if directory.startswith("/"):
                        findings.add(kinds.PEM_DIR, directory, Reader(source.name, why))
                continue
            if value.startswith("/"):
                findings.add(kinds.PEM, value, Reader(source.name, why))
            else:
                findings.unreadable.append(Unreadable(value, f"{why}: a relative path depends on the directory"))
        _java_trust_stores(findings, source)
        _node_of_unit(findings, source, nodes, system)


def _java_trust_stores(findings: Findings, source: Source) -> None:
    options = [(var, source.values[var]) for var in JAVA_VARIABLES if source.values.get(var)]
    options += [("ExecStart", line) for line in source.exec_start]
    for where, text in options:
        props = java_properties(text)
        store = props.get("javax.net.ssl.trustStore", "")
        if not store or store.upper() == "NONE":
            continue
        why = f"-Djavax.net.ssl.trustStore in {where} of {source.set_in.get(where, source.file)}"
        found = findings.add(kinds.KEYSTORE, store, Reader(source.name, why))
        if "javax.net.ssl.trustStorePassword" in props:
            found.password = props["javax.net.ssl.trustStorePassword"]
            found.password_from = f"-Djavax.net.ssl.trustStorePassword in {source.file}"
        found.store_type = props.get("javax.net.ssl.trustStoreType", found.store_type)


def _node_of_unit(findings: Findings, source: Source, nodes: list[str], system: str | None) -> None:
    """A unit whose ExecStart runs node reads that node's roots, plus NODE_EXTRA_CA_CERTS; with
    --use-openssl-ca (or --use-system-ca) it reads OpenSSL's default store instead. An
    environment that is no unit's (the scanning shell's, /etc/environment) changes every node."""
    lines = source.exec_start
    # /etc/environment (login sessions) and the scanning shell reach every program; a file under
    # /etc/default reaches only what reads it (a unit's EnvironmentFile=, counted with that unit).
    everyone = source.name in (GLOBAL_ENVIRONMENT, SCANNING_SHELL)
    if everyone and (source.values.get("NODE_EXTRA_CA_CERTS") or source.values.get("NODE_OPTIONS")):
        lines = nodes
    for line in lines:
        words = line.split()
        if not words:
            continue
        program = words[0]
        if PurePosixPath(program).name not in ("node", "nodejs"):
            continue
        inside = findings.resolved(program) if program.startswith("/") else None
        node = inside if inside in nodes else (nodes[0] if nodes and not program.startswith("/") else None)
        if node is None:
            continue
        flags = " ".join(words[1:]) + " " + source.values.get("NODE_OPTIONS", "")
        openssl = "--use-openssl-ca" in flags or "--use-system-ca" in flags
        extra = source.values.get("NODE_EXTRA_CA_CERTS", "")
        reader = Reader(source.name, f"ExecStart runs {program}" if source.unit else f"sets {program}'s variables")
        if not openssl and not extra:
            store = findings.by_key[(kinds.NODE, node)]
            store.add_reader(reader)
            store.unit = store.unit or source.unit
            continue
        # What this unit's node reads differs from the binary's own roots: a store of its own.
        store = Found(kind=kinds.NODE, path=node, readers=[reader], unit=source.unit)
        findings.by_key[(kinds.NODE, f"{node} {source.name}")] = store
        if openssl:
            store.instead_reads = source.values.get("SSL_CERT_FILE") or system or ""
            store.notes.append(f"run with --use-openssl-ca: reads {store.instead_reads or 'OpenSSL defaults'}")
        if extra:
            store.also_reads = extra
            store.notes.append(f"NODE_EXTRA_CA_CERTS={extra} adds to its roots")
