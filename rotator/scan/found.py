"""What a scan finds: stores (with who reads them and why we think so) and what it could not read."""

from __future__ import annotations

from rotator.records import NamedTuple

# Store kinds, as reported. Each maps to the target kind that keeps it right (``fix.py``), or to
# a setting where nothing can be written (Node's built-in roots, an NSS database).
SYSTEM = "system"  # the distribution's store: the consolidated bundle its refresh writes
PEM = "pem"  # a PEM bundle (a file named by a variable, ~/.postgresql/root.crt)
CERTIFI = "certifi"  # certifi's cacert.pem (requests, pip, httpx, ... in that environment)
PEM_DIR = "pem-dir"  # an OpenSSL hash directory (SSL_CERT_DIR)
JAVA_CACERTS = "java-cacerts"  # a JDK's or JRE's lib/security/cacerts
KEYSTORE = "keystore"  # a JKS or PKCS#12 file named by -Djavax.net.ssl.trustStore
NODE = "node-builtin"  # the roots compiled into a node binary
NSS = "nss"  # an NSS database (cert9.db): Firefox, Chromium, some curl builds
# The OPENSSLDIR compiled into an OpenSSL a wheel carries (psycopg's and psycopg2's binary wheels):
# libpq's sslrootcert=system there reads it, and it seldom exists on the host.
WHEEL_OPENSSL = "wheel-openssl"


class Reader(NamedTuple):
    """Who reads a store, and the evidence: ``who`` an environment, unit, account or program."""

    who: str
    why: str

    def text(self) -> str:
        return f"{self.who} ({self.why})" if self.why else self.who


class Found:
    """A store found on the host. ``path`` is as seen inside the sysroot ("/" on a live host).

    A plain class, as every record of a scan: a run builds a dozen record types, and a dataclass
    costs most of a millisecond each to create at import time.
    """

    def __init__(self, kind: str, path: str, readers: list[Reader] | None = None, *, unit: str = "") -> None:
        self.kind = kind
        self.path = path
        self.readers: list[Reader] = list(readers or [])
        self.password: str | None = None  # a keystore's, when a unit gives it
        self.password_from = ""  # where the password came from, for the evidence
        self.store_type = ""  # -Djavax.net.ssl.trustStoreType, when given
        self.unit = unit  # the unit file a setting fix belongs in (Node read by a service)
        self.notes: list[str] = []  # flags and variables that change what it reads
        # Node run by a unit: the NODE_EXTRA_CA_CERTS file it adds to its own roots, or the store it
        # reads instead of them (--use-openssl-ca); the verdict is for what it reads in all.
        self.also_reads = ""
        self.instead_reads = ""

    def __repr__(self) -> str:
        return f"Found({self.kind!r}, {self.path!r})"

    def add_reader(self, reader: Reader) -> None:
        if reader not in self.readers:
            self.readers.append(reader)


class Unreadable(NamedTuple):
    path: str
    reason: str

    def text(self) -> str:
        return f"{self.path}: {self.reason}"
