"""debian/ agrees with the tree it packages; tests/service/test_debian_package.py builds and installs it."""

from __future__ import annotations

import re
import tomllib

import rotator
from rotator.service.install import SHIPPED_COMMAND, UNIT_FILES
from tests.support.paths import REPO

DEBIAN = REPO / "debian"


def test_the_changelog_is_at_rotators_version() -> None:
    first = (DEBIAN / "changelog").read_text().splitlines()[0]
    assert re.match(rf"^rotator \({re.escape(rotator.__version__)}\) ", first), first


def test_every_unit_is_shipped_from_systemd_and_none_is_enabled_or_started() -> None:
    installed = (DEBIAN / "rotator.install").read_text().split("\n")
    for unit in UNIT_FILES:
        assert f"systemd/{unit} lib/systemd/system/" in installed, unit
    rules = (DEBIAN / "rules").read_text()
    (call,) = re.findall(r"^\tdh_installsystemd .*$", rules, re.M)
    assert "--no-enable" in call and "--no-start" in call, call
    # --no-start drops debhelper's stop on removal: the package's prerm stops the units itself.
    prerm = (DEBIAN / "rotator.prerm").read_text()
    assert all(unit in prerm for unit in UNIT_FILES) and "deb-systemd-invoke stop" in prerm


def test_the_venv_is_where_the_units_start_rotator() -> None:
    rules = (DEBIAN / "rules").read_text()
    assert "export DH_VIRTUALENV_INSTALL_ROOT = /opt\n" in rules
    assert SHIPPED_COMMAND == "/opt/rotator/bin/rotator"
    assert (DEBIAN / "rotator.links").read_text().split() == ["opt/rotator/bin/rotator", "usr/bin/rotator"]


def test_the_python_dependency_is_the_minor_version_the_venv_is_built_for() -> None:
    control = (DEBIAN / "control").read_text()
    low = re.search(r"python3 \(>= 3\.(\d+)\)", control.split("Package:")[1])
    high = re.search(r"python3 \(<< 3\.(\d+)\)", control.split("Package:")[1])
    assert low and high and int(high.group(1)) == int(low.group(1)) + 1, control
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == f">=3.{low.group(1)}"


def test_purge_removes_only_rotators_own_files() -> None:
    postrm = (DEBIAN / "rotator.postrm").read_text()
    removed = {
        word
        for line in postrm.splitlines()
        if re.match(r"\s*(rm|rmdir)\b", line) or line.strip().startswith("/etc/")
        for word in line.replace("\\", " ").split()
        if word.startswith("/")
    }
    assert removed == {
        "/etc/rotator",
        "/var/lib/rotator",
        "/var/cache/rotator",
        "/etc/systemd/system/rotator.service.d/rotator-sandbox.conf",
        "/etc/systemd/system/rotator-sync.service.d/rotator-sandbox.conf",
        "/etc/systemd/system/rotator.service.d",
        "/etc/systemd/system/rotator-sync.service.d",
    }, removed
    assert '"$1" = "purge"' in postrm
