"""Opening or creating a keystore of either format: the one place that knows both.

It sits above the formats (``jks_trusted``, ``jks``, ``pkcs12``), which know only ``base``. A JKS
of trusted certificates only (a truststore, a JDK's cacerts, every new JKS) is read and written
directly (``jks_trusted``); pyjks loads only for a JKS holding anything else (``jks._pyjks``). The
PKCS#12 side is imported when a PKCS#12 file is read or written: a run that finds every store
unchanged since it last verified it loads neither it nor cryptography.
"""

from __future__ import annotations

from stores.keystore.base import Format, Keystore, detect
from stores.keystore.jks_trusted import TrustedJks


def load(data: bytes, password: str) -> Keystore:
    if detect(data) is Format.JKS:
        trusted = TrustedJks.load(data, password)
        if trusted is not None:
            return trusted
        # A private key, an old version, an alias twice, bytes not written back exactly: the
        # library reads the store and keeps what it holds, or refuses it (its own round-trip proof).
        from stores.keystore.jks import JksKeystore

        return JksKeystore.load(data, password)
    from stores.keystore.pkcs12 import Pkcs12Keystore

    return Pkcs12Keystore.load(data, password)


def new(fmt: Format, password: str) -> Keystore:
    if fmt is Format.JKS:
        return TrustedJks.new(password)
    from stores.keystore.pkcs12 import Pkcs12Keystore

    return Pkcs12Keystore.new(password)
