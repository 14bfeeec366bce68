"""Opening or creating a keystore of either format: the one place that knows both.

It sits above the formats (``jks``, ``pkcs12``), which know only ``base``. pyjks loads when a JKS
is read or written (``jks._pyjks``); the PKCS#12 side is
imported when a PKCS#12 file is read or written: a run that finds every store unchanged since it
last verified it loads neither it nor cryptography.
"""

from __future__ import annotations

from stores.keystore.base import Format, Keystore, detect
from stores.keystore.jks import JksKeystore


def load(data: bytes, password: str) -> Keystore:
    if detect(data) is Format.JKS:
        return JksKeystore.load(data, password)
    from stores.keystore.pkcs12 import Pkcs12Keystore

    return Pkcs12Keystore.load(data, password)


def new(fmt: Format, password: str) -> Keystore:
    if fmt is Format.JKS:
        return JksKeystore.new(password)
    from stores.keystore.pkcs12 import Pkcs12Keystore

    return Pkcs12Keystore.new(password)
