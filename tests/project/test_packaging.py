"""The packages carry the product: built the way a user or a distribution builds them, then opened."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.support.paths import REPO

pytestmark = pytest.mark.slow


def _build(kind: str, out: Path) -> Path:
    # An isolated build: the declared build requirement is what gets installed, so a wrong minimum fails here.
    subprocess.run(
        [sys.executable, "-m", "build", f"--{kind}", "--outdir", str(out), str(REPO)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = [p for p in out.iterdir() if p.name.endswith((".tar.gz", ".whl"))]
    return built


def test_the_sdist_carries_license_changelog_security_units_and_collection(tmp_path: Path) -> None:
    with tarfile.open(_build("sdist", tmp_path)) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    for wanted in (
        "LICENSE",
        "CHANGELOG.md",
        "SECURITY.md",
        "README.md",
        "systemd/rotator.service",
        "systemd/rotator-sync.timer",
        "systemd/rotator.toml.example",
        "ansible/rotator/fleet/galaxy.yml",
        "docs/service.md",
        "rotator/data/digicert-global-root-g2.pem",
    ):
        assert wanted in names, f"{wanted} missing from the sdist"
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_the_wheel_carries_every_subpackage_the_embedded_roots_and_the_license(tmp_path: Path) -> None:
    with zipfile.ZipFile(_build("wheel", tmp_path)) as wheel:
        names = set(wheel.namelist())
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    packages = {str(p.parent.relative_to(REPO)) for p in REPO.glob("rotator/**/__init__.py")}
    packages |= {str(p.parent.relative_to(REPO)) for p in REPO.glob("stores/**/__init__.py")}
    for package in packages:
        assert f"{package}/__init__.py" in names, f"{package} missing from the wheel"
    embedded = {p.name for p in (REPO / "rotator/data").glob("*.pem")}
    assert embedded and {f"rotator/data/{n}" for n in embedded} <= names
