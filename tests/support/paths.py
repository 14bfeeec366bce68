"""Where the tests find the repository, their data and rotator's embedded roots."""

from __future__ import annotations

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
