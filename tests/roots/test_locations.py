"""One rule tells a URL from a local path: rotator.roots.locations.is_url. Every place that takes
either (a mirror, a root's urls, --source, probe --mirror, --cross-check) asks it."""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import pytest

from rotator.config.file import parse
from rotator.errors import ConfigError
from rotator.roots.catalog import Catalog
from rotator.roots.locations import is_url
from rotator.roots.obtain import Obtainer, ObtainSettings
from tests.support.paths import REPO

LOCATIONS = {
    "https://mirror.example/roots": True,
    "http://mirror.example/roots/": True,
    "HTTPS://mirror.example/roots": False,  # the scheme as written: upper case is a path
    "ftp://mirror.example/roots": False,
    "mirror-dir": False,
    "/srv/mirror": False,
}


@pytest.mark.parametrize("location", sorted(LOCATIONS))
def test_every_place_classifies_a_location_alike(location: str, tmp_path: Path) -> None:
    url = LOCATIONS[location]
    assert is_url(location) is url
    # The config: a mirror path is taken from the config's directory, a URL as it is.
    mirror = parse({"download": {"mirror": location}}, tmp_path / "rotator.toml").download.mirror
    assert mirror == (location if url else str(tmp_path / location))
    # The config: a root's urls must be URLs.
    root = {"id": "custom", "sha256": "0" * 64, "urls": [location]}
    if url:
        parse({"roots": [root]}, tmp_path / "rotator.toml")
    else:
        with pytest.raises(ConfigError, match="is not an http"):
            parse({"roots": [root]}, tmp_path / "rotator.toml")
    # The obtainer: offline, a URL mirror is skipped and a mirror directory is read.
    catalog_root = next(iter(Catalog.builtin().roots.values()))
    settings = ObtainSettings(at=dt.datetime.now(dt.UTC), offline=True, mirror=location)
    sources = [source for source, _, _ in Obtainer(settings)._candidates(catalog_root)]
    assert ("mirror" in sources) is not url


@pytest.mark.parametrize("location", sorted(LOCATIONS))
def test_probe_refuses_a_mirror_url_only(location: str, run, tmp_path: Path) -> None:
    result = run("probe", "--chain-file", str(tmp_path / "absent.pem"), "--mirror", location)
    assert result.code == 2
    assert ("probe never downloads" in result.err) is LOCATIONS[location], result.err


def test_no_other_module_restates_the_rule() -> None:
    """A ``startswith`` on "http://" outside locations.py is a second copy of the rule."""
    copies = []
    for package in ("rotator", "stores"):
        for path in sorted((REPO / package).rglob("*.py")):
            if path == REPO / "rotator" / "roots" / "locations.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if not (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "startswith"
                ):
                    continue
                texts = [c.value for a in node.args for c in ast.walk(a) if isinstance(c, ast.Constant)]
                if "http://" in texts:
                    copies.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert copies == []
