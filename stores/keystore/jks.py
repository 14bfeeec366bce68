"""JKS, through pyjks: loaded only when proven to write back byte for byte (see ``base``)."""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

from rotator.records import TYPE_CHECKING
from stores.keystore.base import INTEGRITY_FAILED, Format, Keystore, KeystoreProblem, Reason, TrustedCert

if TYPE_CHECKING:
    from typing import Any


def _pyjks() -> Any:
    # pyjks pulls in pyasn1 and pycryptodome (about 80 ms): only runs that touch a JKS pay for it.
    import jks

    return jks


class JksKeystore(Keystore):
    format = Format.JKS

    def __init__(self, store: Any, password: str) -> None:  # a jks.KeyStore
        self._store = store
        self._password = password
        keys = len(store.private_keys)
        self.notes = (f"{keys} private key entr{'y' if keys == 1 else 'ies'} kept unchanged",) if keys else ()

    @classmethod
    def new(cls, password: str) -> JksKeystore:
        return cls(_pyjks().KeyStore.new("jks", []), password)

    @classmethod
    def load(cls, data: bytes, password: str) -> JksKeystore:
        jks = _pyjks()
        try:
            # Keys stay encrypted: pyjks then writes their encrypted bytes back verbatim.
            store = jks.KeyStore.loads(data, password, try_decrypt_keys=False)
        except jks.util.KeystoreSignatureException as exc:
            raise KeystoreProblem(Reason.PASSWORD, INTEGRITY_FAILED) from exc
        except jks.util.DuplicateAliasException as exc:
            raise KeystoreProblem(Reason.UNSUPPORTED, f"it holds the same alias twice ({exc})") from exc
        except (jks.util.KeystoreException, struct.error, ValueError, IndexError, EOFError) as exc:
            raise KeystoreProblem(Reason.DAMAGED, f"it is damaged or truncated ({exc or type(exc).__name__})") from exc
        if store.store_type != "jks" or store.secret_keys:
            raise KeystoreProblem(Reason.UNSUPPORTED, "it holds entries rotator cannot write back")
        # The round-trip proof: unchanged, the store must serialize to the very same bytes.
        if store.saves(password) != data:
            raise KeystoreProblem(
                Reason.UNSUPPORTED,
                "it cannot be written back byte for byte (an old JKS version or non-ASCII aliases), "
                "so rewriting could change entries rotator does not own",
            )
        return cls(store, password)

    def trusted(self) -> list[TrustedCert]:
        return [TrustedCert(alias=alias, der=entry.cert) for alias, entry in self._store.certs.items()]

    def render(self, remove: Iterable[str], add: Sequence[TrustedCert]) -> bytes:
        jks = _pyjks()
        entries = dict(self._store.entries)
        for alias in remove:
            entries.pop(alias, None)
        for cert in add:
            assert cert.alias is not None
            entries[cert.alias] = jks.TrustedCertEntry.new(cert.alias, cert.der)
        out: bytes = jks.KeyStore.new("jks", list(entries.values())).saves(self._password)
        return out
