"""A saved chain for ``rotator probe --chain-file``: judged offline, exactly like a live one.

Operators often cannot reach a server from the host whose trust store matters; they capture
``openssl s_client -showcerts`` elsewhere and bring the text over. This module reads such a file
(or any PEM bundle; the text around the blocks is ignored) and puts the certificates in the order
a server sends them: the server certificate first. A file without a server certificate (the
intermediates alone) is judged from its lowest CA certificate upward, and the probe says so.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from rotator.certs import Cert, NotACertificate, looks_like_pem, pem_blocks
from rotator.errors import ConfigError
from rotator.host.files import ReadAs, read_file
from rotator.probe.judge import ProbeRequest, ProbeResult, assess, catalog_certs, reachable, target_stores
from rotator.probe.tlsfetch import Fetched

MAX_BYTES = 4 * 1024 * 1024  # an s_client transcript is a few KiB; anything near this is the wrong file
CHAIN_FILE = ReadAs("", "give the file holding the chain", ConfigError, where="--chain-file")


@dataclass(frozen=True)
class SavedChain:
    path: Path
    chain: tuple[Cert, ...]  # the server certificate first, when there is one
    has_leaf: bool  # False: CA certificates only; judged from chain[0] upward
    unrelated: tuple[Cert, ...] = ()  # in the file but on no signature path up from chain[0]


def read(path: Path) -> SavedChain:
    """The certificates of ``path`` ("-": standard input), server certificate first.

    A ConfigError (exit 2) names what is wrong.
    """
    if str(path) == "-":  # openssl s_client -showcerts ... | rotator probe --chain-file -
        path = Path("<stdin>")
        try:
            data = sys.stdin.buffer.read(MAX_BYTES + 1)
        except OSError as exc:
            raise CHAIN_FILE.refusal(path, exc) from exc
        if len(data) > MAX_BYTES:
            raise CHAIN_FILE.too_large(path, MAX_BYTES)
    else:  # a pipe too: --chain-file <(openssl s_client -showcerts ...)
        data = read_file(path, CHAIN_FILE, limit=MAX_BYTES, pipes=True)
    certs = _certificates(path, data)
    return order(path, certs)


def _certificates(path: Path, data: bytes) -> list[Cert]:
    if not looks_like_pem(data):
        try:
            return [Cert.from_der(data)]  # a single DER certificate is a chain too
        except NotACertificate as exc:
            raise ConfigError(
                f"--chain-file: {path} holds no certificate (expected PEM blocks, as printed by "
                "openssl s_client -showcerts, or a PEM bundle)"
            ) from exc
    certs = []
    for number, der in enumerate(pem_blocks(data), start=1):
        try:
            if der is None:
                raise NotACertificate("damaged base64")
            certs.append(Cert.from_der(der))
        except NotACertificate as exc:
            # A damaged block is never skipped here: the chain judged would not be the chain saved.
            raise ConfigError(f"--chain-file: certificate block {number} in {path} is damaged ({exc})") from exc
    if not certs:
        raise ConfigError(f"--chain-file: {path} holds no -----BEGIN CERTIFICATE----- block")
    return certs


def order(path: Path, certs: list[Cert]) -> SavedChain:
    """Server certificate first; the others in file order (path building does not need them sorted)."""
    unique: list[Cert] = []
    for cert in certs:
        if cert not in unique:  # a bundle pasted twice is still one chain
            unique.append(cert)
    leaves = [c for c in unique if not c.is_ca]
    if len(leaves) > 1:
        names = ", ".join(repr(c.common_name) for c in leaves)
        raise ConfigError(
            f"--chain-file: {path} holds {len(leaves)} server certificates ({names}); save one server's chain per file"
        )
    if leaves:
        start, has_leaf = leaves[0], True
    else:
        # No server certificate: start at the lowest CA, the first one that signs no other one here.
        signs_another = [c for c in unique if any(o is not c and o.signed_by(c) for o in unique)]
        bottoms = [c for c in unique if c not in signs_another]
        start, has_leaf = (bottoms or unique)[0], False
    chain = [start, *[c for c in unique if c is not start]]
    on_path = set(reachable(chain))
    unrelated = tuple(c for i, c in enumerate(chain) if i not in on_path)
    return SavedChain(path=path, chain=tuple(chain), has_leaf=has_leaf, unrelated=unrelated)


def probe_file(request: ProbeRequest, path: Path) -> ProbeResult:
    """Judge a saved chain against every target, as ``probe.probe`` judges a live one. No network.

    Store specs are checked before the file is read, so a config error is reported first, as live.
    """
    stores = target_stores(request)
    saved = read(path)
    path = saved.path
    roots, warnings = catalog_certs(request.roots, request.obtain)
    notes = list(warnings)
    if not saved.has_leaf:
        lowest = saved.chain[0]
        notes.append(
            f"{path} holds no server certificate: judged from {lowest.common_name!r} up to each store, "
            "as far as the chain goes; the server certificate itself (its name, dates and key usage) is not checked"
        )
    for cert in saved.unrelated:
        notes.append(f"{cert.common_name!r} in {path} is on no signature path from {saved.chain[0].common_name!r}")
    return assess(
        request, Fetched(chain=saved.chain), roots, stores, notes, has_leaf=saved.has_leaf, chain_file=str(path)
    )
