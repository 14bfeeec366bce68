"""The packages carry the product: built the way a user or a distribution builds them, then opened."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import pytest

from tests.support.paths import REPO

pytestmark = pytest.mark.slow
NO_INDEX = ("--no-index", "--no-deps")


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


def test_the_wheel_carries_the_units_and_the_example_config(tmp_path: Path) -> None:
    with zipfile.ZipFile(_build("wheel", tmp_path)) as wheel:
        names = set(wheel.namelist())
        for unit in sorted((REPO / "systemd").iterdir()):
            packaged = f"rotator/data/systemd/{unit.name}"
            assert packaged in names, f"{packaged} missing from the wheel"
            assert wheel.read(packaged) == unit.read_bytes()


def _outside_the_sandboxs_hidden_places() -> Path | None:
    """A scratch directory a unit may start a program from (not /tmp, /home or /root), or None."""
    from rotator.service.install import HIDDEN

    for base in (Path(os.environ.get("ROTATOR_TEST_CACHE", "/var/cache/rotator-tests")), REPO / "build"):
        try:
            base.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(base, os.W_OK) and not any(base.resolve().is_relative_to(h) for h in HIDDEN):
            return Path(tempfile.mkdtemp(prefix="wheel-only-", dir=base))
    return None


def test_a_wheel_only_install_writes_units_that_start_it(tmp_path: Path) -> None:
    """The wheel in a venv of its own, no checkout on the path: `rotator service install` from it
    writes the units naming that venv's rotator, and systemd-analyze accepts them."""
    scratch = _outside_the_sandboxs_hidden_places()
    if scratch is None:
        pytest.skip("no scratch directory outside /tmp, /home and /root")
    try:
        wheel = _build("wheel", tmp_path / "dist")
        venv = scratch / "venv"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "--python",
                str(venv / "bin" / "python"),
                "install",
                "-q",
                *NO_INDEX,
                str(wheel),
            ],
            check=True,
            timeout=300,
            capture_output=True,
        )
        # The dependencies from this environment's site-packages, but not this checkout (its editable
        # finder is a .pth file, which PYTHONPATH entries never run).
        site = [p for p in sys.path if p.endswith("site-packages")]
        env = {"PATH": os.environ["PATH"], "PYTHONPATH": os.pathsep.join(site), "LANG": "C.UTF-8"}
        config = tmp_path / "etc" / "rotator.toml"
        config.parent.mkdir()
        config.write_text(f'[[targets]]\nkind = "pem"\npath = "{tmp_path}/azure/roots.pem"\n')
        units = tmp_path / "units"
        rotator = venv / "bin" / "rotator"
        where = subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import rotator; print(rotator.__file__)"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            cwd="/",
        )
        assert where.stdout.startswith(str(venv)), where.stdout + where.stderr
        proc = subprocess.run(
            [str(rotator), "service", "install", "--unit-dir", str(units), "--config-dir", str(config.parent)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            cwd="/",
        )
        assert proc.returncode == 0, proc.stderr
        assert f"ExecStart={rotator} daemon --config {config}\n" in (units / "rotator.service").read_text()
        assert (units / "rotator-sync.timer").read_bytes() == (REPO / "systemd" / "rotator-sync.timer").read_bytes()
        if shutil.which("systemd-analyze"):
            names = ["rotator.service", "rotator-sync.service", "rotator-sync.timer"]
            verify = subprocess.run(
                ["systemd-analyze", "verify", *names], cwd=units, capture_output=True, text=True, timeout=60
            )
            assert verify.returncode == 0 and verify.stderr.strip() == "", verify.stderr
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
