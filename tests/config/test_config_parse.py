"""``config.parse``: a TOML document (already decoded) to plain values, every error naming its key."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from rotator.config.file import Config, DownloadConfig, parse
from rotator.errors import ConfigError

PIN = "ab" * 32
BASE = Path("/etc/rotator/rotator.toml")


def test_an_empty_document_is_the_defaults() -> None:
    assert parse({}) == Config()


def test_every_key_reaches_its_value_and_paths_are_relative_to_the_file() -> None:
    cfg = parse(
        {
            "profile": "azure-all",
            "include": ["corp"],
            "keep": ["baltimore-cybertrust-root"],
            "roots": [{"id": "corp", "sha256": "AB:" * 31 + "AB", "file": "corp.pem", "retire_after": "2030-01-02"}],
            "profiles": {"mine": ["corp"]},
            "targets": [{"kind": "pem", "path": "/srv/b.pem", "on_change": ["true"], "include": ["corp"]}],
            "download": {"mirror": "mirror", "connect_timeout": 3, "retries": 0, "ca_bundle": "ca.pem"},
            "cache_dir": "cache",
            "state_dir": "/var/lib/x",
            "on_change": [["systemctl", "reload", "app"], ["true"]],
            "hook_timeout": 5,
            "daemon": {"interval": "1h"},
        },
        BASE,
    )
    assert (cfg.profile, cfg.include, cfg.keep) == ("azure-all", ("corp",), ("baltimore-cybertrust-root",))
    (root,) = cfg.roots
    assert (root.id, root.sha256, root.file, root.custom) == ("corp", PIN, Path("/etc/rotator/corp.pem"), True)
    assert root.retire_after == dt.date(2030, 1, 2) and root.name == "corp"
    assert cfg.profiles == {"mine": ("corp",)}
    (target,) = cfg.targets
    assert (target.kind, target.path, target.where) == ("pem", "/srv/b.pem", "targets[0]")
    assert target.option("on_change") == (("true",),) and target.option("include") == ["corp"]
    assert cfg.download == DownloadConfig(
        ca_bundle=Path("/etc/rotator/ca.pem"), mirror="/etc/rotator/mirror", connect_timeout=3.0, retries=0
    )
    assert cfg.cache_dir == Path("/etc/rotator/cache") and cfg.state_dir == Path("/var/lib/x")
    assert cfg.on_change == (("systemctl", "reload", "app"), ("true",))
    assert cfg.hook_timeout == 5.0 and cfg.daemon == {"interval": "1h"}


def test_a_mirror_url_is_kept_as_written() -> None:
    assert (
        parse({"download": {"mirror": "https://m.example/roots/"}}, BASE).download.mirror == "https://m.example/roots/"
    )


ERRORS: dict[str, tuple[dict[str, Any], str]] = {
    "unknown top key": ({"profil": "x"}, "profil: unknown key"),
    "unknown root key": ({"roots": [{"id": "a", "sha256": PIN, "file": "f", "pin": 1}]}, "roots[0].pin: unknown key"),
    "root without id": ({"roots": [{"sha256": PIN, "file": "f"}]}, "roots[0].id: required"),
    "root id with a path": ({"roots": [{"id": "../x", "sha256": PIN, "file": "f"}]}, "roots[0].id: '../x' is not"),
    "root id upper case": ({"roots": [{"id": "Corp", "sha256": PIN, "file": "f"}]}, "roots[0].id: 'Corp' is not"),
    "root id with a newline": ({"roots": [{"id": "corp\n", "sha256": PIN, "file": "f"}]}, "roots[0].id:"),
    "short pin": ({"roots": [{"id": "a", "sha256": "ab", "file": "f"}]}, "roots[0].sha256: expected 64 hex"),
    "no source": ({"roots": [{"id": "a", "sha256": PIN}]}, "roots[0]: give urls, file, or both"),
    "ftp url": ({"roots": [{"id": "a", "sha256": PIN, "urls": ["ftp://x"]}]}, "roots[0].urls[0]: 'ftp://x'"),
    "duplicate id": ({"roots": [{"id": "a", "sha256": PIN, "file": "f"}] * 2}, "roots[1].id: duplicate id 'a'"),
    "bad date": (
        {"roots": [{"id": "a", "sha256": PIN, "file": "f", "trusted_from": "soon"}]},
        "roots[0].trusted_from: expected a date",
    ),
    "roots not tables": ({"roots": ["a"]}, "roots: expected a list of tables"),
    "profiles not a table": ({"profiles": ["a"]}, "profiles: expected a table"),
    "target without kind": ({"targets": [{"path": "/x"}]}, "targets[0].kind: required"),
    "target hook not argv": ({"targets": [{"kind": "pem", "on_change": "reload"}]}, "targets[0].on_change: expected"),
    "empty argv": ({"on_change": [[]]}, "on_change[0]: expected a non-empty list"),
    "zero timeout": ({"download": {"read_timeout": 0}}, "download.read_timeout: expected a positive number"),
    "negative retries": ({"download": {"retries": -1}}, "download.retries: expected a non-negative number"),
    "boolean as number": ({"hook_timeout": True}, "hook_timeout: expected a positive number"),
    "string as number": ({"download": {"max_bytes": "64k"}}, "download.max_bytes: expected a positive number"),
    "unknown download key": ({"download": {"proxy": "x"}}, "download.proxy: unknown key"),
    "daemon not a table": ({"daemon": "6h"}, "daemon: expected a table"),
    "unknown daemon key": ({"daemon": {"every": "6h"}}, "daemon.every: unknown key"),
    "profile not a string": ({"profile": 3}, "profile: expected a string, got int"),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_a_bad_value_is_a_config_error_naming_its_key(case: str) -> None:
    document, message = ERRORS[case]
    with pytest.raises(ConfigError) as caught:
        parse(document, BASE)
    assert str(caught.value).startswith(message), str(caught.value)
