"""Where the tests find the repository, their data, rotator's embedded roots and the PostgreSQL JDBC driver."""

from __future__ import annotations

import glob
import os
import pwd
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
DATA = REPO / "tests" / "data"
EMBEDDED = REPO / "rotator" / "data"
# The roots of the default profile (azure-all), written out: what the tests expect it to be.
AZURE_IDS = [
    "digicert-global-root-g2",
    "digicert-global-root-g3",
    "digicert-tls-ecc-p384-root-g5",
    "digicert-tls-rsa4096-root-g5",
    "microsoft-rsa-root-2017",
    "microsoft-ecc-root-2017",
    "microsoft-tls-rsa-root-g2",
]


def embedded_pem(root_id: str) -> bytes:
    return (EMBEDDED / f"{root_id}.pem").read_bytes()


def pgjdbc_jar() -> str | None:
    """The PostgreSQL JDBC driver: Maven's local repository of the account (its passwd home), else Debian's."""
    home = pwd.getpwuid(os.getuid()).pw_dir
    found = sorted(glob.glob(f"{home}/.m2/repository/org/postgresql/postgresql/*/postgresql-*.jar"))
    found = [j for j in found if not j.endswith(("-sources.jar", "-javadoc.jar"))]
    if found:
        return found[-1]
    return "/usr/share/java/postgresql.jar" if os.path.exists("/usr/share/java/postgresql.jar") else None
