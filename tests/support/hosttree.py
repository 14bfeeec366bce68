"""A planted host tree for scan: every kind of store a client reads, made from real parts.

The stores are real: certifi's own bundle copied, keystores made by keytool, Azure's real
intermediates from tests/data, the catalog's embedded roots. What each one should be judged is
known from what it holds (``EXPECTED``), so a test compares scan's verdict with it.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import certifi

from tests.support.keytool import keytool, storepass
from tests.support.paths import DATA, embedded_pem

G1 = "digicert-global-root-ca"
G2 = "digicert-global-root-g2"
TLS_G2 = "microsoft-tls-rsa-root-g2"
RSA_2017 = "microsoft-rsa-root-2017"
NODE = shutil.which("node")


def write(path: Path, data: str | bytes, mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    os.chmod(path, mode)
    return path


def keystore(path: Path, password: str, root_ids: list[str], storetype: str = "JKS") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    for root_id in root_ids:
        pem = path.parent / f"{root_id}.import.pem"
        pem.write_bytes(embedded_pem(root_id))
        keytool(
            "-importcert", "-noprompt", "-alias", root_id, "-file", str(pem), "-keystore", str(path),
            "-storetype", storetype, *storepass(password), password=password,
        )  # fmt: skip
        pem.unlink()
    return path


@dataclass(frozen=True)
class HostTree:
    root: Path
    node_copied: bool


def plant(root: Path, *, node: bool = True) -> HostTree:
    """The tree. Paths below are as inside it."""
    write(root / "etc/os-release", 'ID=debian\nPRETTY_NAME="Debian GNU/Linux 12"\n')
    write(
        root / "etc/passwd",
        "root:x:0:0:root:/root:/bin/bash\n"
        "app:x:1000:1000:App:/home/app:/bin/bash\n"
        "pgapp:x:1001:1001:Pg:/var/lib/pgapp:/usr/sbin/nologin\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
    )
    # The OS bundle: a public bundle, as Debian's holds (G2 and Microsoft RSA 2017, not TLS RSA G2).
    write(root / "etc/ssl/certs/ca-certificates.crt", Path(certifi.where()).read_bytes())
    # A virtualenv with a real certifi; pip's vendored copy too.
    venv = root / "srv/app/.venv"
    write(venv / "pyvenv.cfg", "home = /usr/bin\ninclude-system-site-packages = false\n")
    write(venv / "lib/python3.11/site-packages/certifi/cacert.pem", Path(certifi.where()).read_bytes())
    write(venv / "lib/python3.11/site-packages/pip/_vendor/certifi/cacert.pem", Path(certifi.where()).read_bytes())
    # An application's own JRE whose cacerts holds G1 alone (an old bundled JRE).
    write(root / "opt/app/jre/release", 'JAVA_VERSION="17"\n')
    keystore(root / "opt/app/jre/lib/security/cacerts", "changeit", [G1])
    # A unit pointing libpq at a file that holds only G1.
    write(root / "etc/billing/root.crt", embedded_pem(G1))
    write(
        root / "etc/systemd/system/billing.service",
        "[Service]\nUser=pgapp\nEnvironment=PGSSLROOTCERT=/etc/billing/root.crt\nExecStart=/usr/bin/billing\n",
    )
    # A unit whose JVM reads a keystore (password on the same line) that holds both new anchors.
    keystore(root / "etc/ledger/trust.jks", "s3cret-pw", [G2, TLS_G2, RSA_2017])
    write(
        root / "etc/systemd/system/ledger.service",
        "[Service]\n"
        'Environment="JAVA_TOOL_OPTIONS=-Djavax.net.ssl.trustStore=/etc/ledger/trust.jks '
        '-Djavax.net.ssl.trustStorePassword=s3cret-pw"\n'
        "ExecStart=/usr/bin/java -jar /srv/ledger.jar\n",
    )
    # A unit whose EnvironmentFile points Node at an extra bundle holding Microsoft TLS RSA Root G2.
    write(root / "etc/web/extra.pem", embedded_pem(TLS_G2) + embedded_pem(RSA_2017))
    write(root / "etc/default/web", "NODE_EXTRA_CA_CERTS=/etc/web/extra.pem\n")
    write(
        root / "etc/systemd/system/web.service",
        "[Service]\nEnvironmentFile=-/etc/default/web\nExecStart=/usr/bin/node /srv/web/server.js\n",
    )
    # An account whose root.crt pins Azure's OCSP 02 intermediate (and nothing that anchors).
    write(root / "home/app/.postgresql/root.crt", (DATA / "microsoft-tls-g2-rsa-ca-ocsp-02.pem").read_bytes())
    # An account whose root.crt is right: it holds every anchor the chains need.
    write(root / "var/lib/pgapp/.postgresql/root.crt", b"".join(embedded_pem(r) for r in (G2, TLS_G2, RSA_2017)))
    # What breaks walks: a directory link loop, a FIFO and a 3 GiB sparse file where stores hide.
    (root / "srv/loop").symlink_to(".")
    (root / "opt/tools/certifi").mkdir(parents=True)
    os.mkfifo(root / "opt/tools/certifi/cacert.pem")
    big = root / "opt/huge/lib/security/cacerts"
    big.parent.mkdir(parents=True)
    with open(big, "wb") as handle:
        handle.truncate(3 << 30)
    copied = False
    if node and NODE:
        target = root / "usr/bin/node"
        target.parent.mkdir(parents=True, exist_ok=True)
        real = os.path.realpath(NODE)
        try:
            os.link(real, target)  # a hard link: the real binary at no cost, when on one file system
        except OSError:
            shutil.copy2(real, target)
        copied = True
    return HostTree(root, copied)


# Per store: (kind, verdict on postgresql, on postgresql-no-xsign, on mysql).
UNTIL = "survives-until:2029-06-19"
EXPECTED = {
    "/etc/ssl/certs/ca-certificates.crt": ("system", UNTIL, "fails", UNTIL),
    "/srv/app/.venv/lib/python3.11/site-packages/certifi/cacert.pem": ("certifi", UNTIL, "fails", UNTIL),
    "/srv/app/.venv/lib/python3.11/site-packages/pip/_vendor/certifi/cacert.pem": ("certifi", UNTIL, "fails", UNTIL),
    "/opt/app/jre/lib/security/cacerts": ("java-cacerts", "fails", "fails", "fails"),
    "/etc/billing/root.crt": ("pem", "fails", "fails", "fails"),
    "/etc/ledger/trust.jks": ("keystore", "survives", "survives", "survives"),
    "/home/app/.postgresql/root.crt": ("pem", "fails", "fails", "fails"),
    "/var/lib/pgapp/.postgresql/root.crt": ("pem", "survives", "survives", "survives"),
    "/etc/web/extra.pem": ("pem", "survives", "survives", "survives"),
}
