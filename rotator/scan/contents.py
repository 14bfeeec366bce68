"""The certificates a found store holds: each kind read its own way, bounded, never blocking.

A store that cannot be read is not guessed at: the reason (permission denied, wrong keystore
password, not a trust store) becomes the store's problem and the store is listed as unreadable.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from rotator.certs import PEM_BLOCK, Cert, NotACertificate, looks_like_pem, pem_blocks
from rotator.errors import RotatorError, StoreError
from rotator.host.files import ReadAs, read_file
from rotator.scan import found as kinds
from rotator.scan.found import Found

STORE_LIMIT = 64 << 20  # no trust store is larger; a 3 GiB sparse file is not read
NODE_LIMIT = 512 << 20  # node binaries are about 100 MB
NODE_TIMEOUT = 10.0
DIR_LIMIT = 20_000  # files read from one hash directory
_STORE = ReadAs("store", fix="scan names it and goes on")
DEFAULT_PASSWORDS = ("changeit", "")  # what every JDK ships; Temurin's opens with none


class Unreadable(Exception):
    """Why a store's certificates cannot be read."""


def certificates(store: Found, root: Path) -> list[Cert]:
    disk = root / store.path.lstrip("/")
    if store.kind == kinds.PEM_DIR:
        return _directory(disk)
    if store.kind == kinds.NODE:
        return node_roots(disk, live=root == Path("/"))
    if store.kind == kinds.WHEEL_OPENSSL:
        return openssl_dir(disk)
    if store.kind == kinds.NSS:
        return nss_trusted(disk)
    data = _read(disk)
    if store.kind in (kinds.JAVA_CACERTS, kinds.KEYSTORE):
        return _keystore(store, data)
    try:
        return parse_lazily(data)
    except NotACertificate as exc:
        raise Unreadable(f"not a PEM bundle or certificate ({exc})") from exc


def openssl_dir(disk: Path) -> list[Cert]:
    """What OpenSSL's default paths under OPENSSLDIR hold: cert.pem and the certs/ directory
    (nothing when the directory does not exist, which is the wheel's usual case)."""
    found: dict[str, Cert] = {}
    if (disk / "cert.pem").exists():
        for cert in parse_lazily(_read(disk / "cert.pem")):
            found.setdefault(cert.sha256, cert)
    if (disk / "certs").is_dir():
        for cert in _directory(disk / "certs"):
            found.setdefault(cert.sha256, cert)
    return list(found.values())


NSS_FILES = ("cert9.db", "key4.db", "pkcs11.txt")
NSS_LIMIT = 500  # certificates exported from one database


def nss_trusted(directory: Path) -> list[Cert]:
    """The certificates an NSS database trusts to issue server certificates (trust flag C in its
    SSL column), read with certutil from a copy: the database itself is never opened, so a scan
    cannot change it or wait on a browser's lock."""
    import shutil
    import tempfile

    certutil = shutil.which("certutil")
    if certutil is None:
        raise Unreadable("an NSS database: reading it needs certutil (apt install libnss3-tools); listed, not judged")
    with tempfile.TemporaryDirectory(prefix="rotator-scan-nss-") as copy:
        for name in NSS_FILES:
            if (directory / name).is_file():
                Path(copy, name).write_bytes(_read(directory / name))
        listing = _certutil(certutil, ["-L", "-d", f"sql:{copy}"])
        nicknames = []
        for line in listing.decode("utf-8", "replace").splitlines()[4:]:
            name, _, trust = line.rstrip().rpartition(" ")
            if name.strip() and "C" in trust.split(",")[0]:
                nicknames.append(name.strip())
        out: dict[str, Cert] = {}
        for nickname in nicknames[:NSS_LIMIT]:
            for cert in parse_lazily(_certutil(certutil, ["-L", "-d", f"sql:{copy}", "-n", nickname, "-a"])):
                out.setdefault(cert.sha256, cert)
    return list(out.values())


def _certutil(certutil: str, args: list[str]) -> bytes:
    import subprocess

    from rotator.host.process import run_bounded

    try:
        code, output = run_bounded([certutil, *args], env={"PATH": "/usr/bin:/bin"}, timeout=NODE_TIMEOUT, cwd="/")
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise Unreadable(f"certutil did not answer: {exc}") from exc
    if code != 0:
        raise Unreadable(f"certutil cannot read it: {output.decode('utf-8', 'replace').strip()[-200:]}")
    return output


def compiled_openssldir(library: Path) -> str | None:
    """The OPENSSLDIR a libcrypto was built with: its version text holds ``OPENSSLDIR: "..."``."""
    data = _read(library)
    at = data.find(b'OPENSSLDIR: "')
    if at < 0:
        return None
    start = at + len(b'OPENSSLDIR: "')
    end = data.find(b'"', start, start + 4096)
    if end < 0:
        return None
    value = data[start:end].decode("utf-8", "replace")
    return value if value.startswith("/") else None


def parse_lazily(data: bytes) -> list[Cert]:
    """Every certificate of a PEM bundle or one DER file, shape-checked only: judging a store
    reads names and dates from the DER, and parses just the few certificates whose signature it
    checks (a scan reads dozens of stores of 150 roots each)."""
    if not looks_like_pem(data):
        return [Cert.from_der_lazily(data)] if data else []
    out = []
    for der in pem_blocks(data):
        if der is None:
            continue
        try:
            out.append(Cert.from_der_lazily(der))
        except NotACertificate:
            continue
    return out


def _read(disk: Path, limit: int = STORE_LIMIT) -> bytes:
    try:
        return read_file(disk, _STORE, limit=limit)
    except RotatorError as exc:
        raise Unreadable(str(exc).removeprefix(f"store {disk} ").removeprefix(f"cannot read store {disk}: ")) from exc


def _directory(disk: Path) -> list[Cert]:
    try:
        names = sorted(os.listdir(disk))[:DIR_LIMIT]
    except OSError as exc:
        raise Unreadable(f"cannot list: {exc.strerror}") from exc
    out: dict[str, Cert] = {}
    for name in names:
        path = disk / name
        try:
            if not stat.S_ISREG(path.stat().st_mode):
                continue
            data = read_file(path, _STORE, limit=1 << 20)
            certs = parse_lazily(data)
        except (RotatorError, OSError, NotACertificate):
            continue  # a hash directory holds other files too (CRLs, READMEs)
        for cert in certs:
            out.setdefault(cert.sha256, cert)
    return list(out.values())


def _keystore(store: Found, data: bytes) -> list[Cert]:
    from stores.keystore import dispatch
    from stores.keystore.base import KeystoreProblem, Reason
    from stores.keystore.jks_trusted import read_trusted

    tried = [store.password] if store.password is not None else list(DEFAULT_PASSWORDS)
    last: Exception | None = None
    for password in tried:
        try:
            # A truststore of trusted certificates only is read directly; anything else by the library.
            trusted = read_trusted(data, password)
            if trusted is not None:
                return _certs_of(e.der for e in trusted)
            keystore = dispatch.load(data, password)
        except KeystoreProblem as exc:
            if exc.reason is not Reason.PASSWORD:
                raise Unreadable(f"not a keystore rotator can read: {exc.detail}") from exc
            last = exc
            continue
        except (StoreError, ValueError) as exc:
            last = exc
            continue
        return _certs_of(e.der for e in keystore.trusted())
    if store.password is None:
        raise Unreadable(
            "a keystore whose password is not changeit and not given next to it "
            "(-Djavax.net.ssl.trustStorePassword); check it with rotator status --storepass-file"
        ) from last
    raise Unreadable(f"cannot open it with the password from {store.password_from}: {last}") from last


def _certs_of(ders: Iterable[bytes]) -> list[Cert]:
    out = []
    for der in ders:
        try:
            out.append(Cert.from_der_lazily(der))
        except NotACertificate:
            continue
    return out


def node_roots(binary: Path, *, live: bool) -> list[Cert]:
    """The roots compiled into a node binary.

    On a live host a binary owned by root or by the user scanning is asked
    (``tls.rootCertificates``, bounded in time, with an empty environment so that no
    NODE_EXTRA_CA_CERTS or NODE_OPTIONS of the caller changes the answer). Anything else (an image
    tree, a binary another user owns: rotator never runs another user's program as root) is read
    as bytes: node keeps its roots as PEM text, the same certificates in the same order.
    """
    if live:
        try:
            owner = binary.stat().st_uid
        except OSError as exc:
            raise Unreadable(f"cannot stat: {exc.strerror}") from exc
        if owner in (0, os.geteuid()):
            asked = _ask_node(binary)
            if asked is not None:
                return asked
    data = _read(binary, NODE_LIMIT)
    out: dict[str, Cert] = {}
    for match in PEM_BLOCK.finditer(data):
        try:
            cert = Cert.from_der_lazily(_b64(match.group("body")))
        except (NotACertificate, ValueError):
            continue
        out.setdefault(cert.sha256, cert)
    if not out:
        raise Unreadable("no built-in roots found in the binary (not node, or built to use OpenSSL's store)")
    return list(out.values())


def _b64(body: bytes) -> bytes:
    import base64

    return base64.b64decode(body)


def _ask_node(binary: Path) -> list[Cert] | None:
    import subprocess

    from rotator.host.process import run_bounded

    script = "process.stdout.write(require('tls').rootCertificates.join('\\n'))"
    try:
        code, output = run_bounded(
            [str(binary), "-e", script], env={"PATH": "/usr/bin:/bin"}, timeout=NODE_TIMEOUT, cwd="/"
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if code != 0:
        return None
    try:
        return parse_lazily(output)
    except NotACertificate:
        return None
