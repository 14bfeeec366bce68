"""``settings.resolve``: the command line and the config file to one run's values (flags win),
from the real argument parser, with no store touched and nothing run."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from rotator.cli.arguments import build_parser, flags_of
from rotator.config.settings import Resolved, parse_at, resolve
from rotator.errors import ConfigError
from rotator.roots.catalog import DEFAULT_PROFILE

CONFIG = """\
profile = "azure-postgresql"
cache_dir = "cache-from-config"
state_dir = "state-from-config"
[download]
mirror = "mirror-from-config"
ca_bundle = "ca-from-config.pem"
read_timeout = 7
[[targets]]
kind = "pem"
path = "/srv/from-config.pem"
"""


def resolved(*argv: str, environ: dict[str, str] | None = None) -> Resolved:
    return resolve(flags_of(build_parser().parse_args(argv)), environ if environ is not None else {"HOME": "/home/u"})


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "rotator.toml"
    path.write_text(CONFIG)
    return path


def test_an_empty_config_and_no_flags_give_every_default(tmp_path: Path) -> None:
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    r = resolved("sync", "--config", str(empty), environ={"HOME": "/home/u", "XDG_STATE_HOME": "/xdg/state"})
    request = r.request
    assert r.profile == DEFAULT_PROFILE and request.targets == ()
    as_root = os.geteuid() == 0
    assert request.obtain.cache_dir == Path("/var/cache/rotator" if as_root else "/home/u/.cache/rotator")
    assert request.state_dir == Path("/var/lib/rotator" if as_root else "/xdg/state/rotator")
    assert request.obtain.mirror is None and not request.obtain.offline and not request.dry_run
    assert request.download.ca_bundle is None and request.context.sysroot is None


def test_each_default_comes_from_its_one_definition(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Changing a default where it is defined changes every run: nothing restates its value."""
    from rotator.config import settings
    from rotator.sync import engine, hooks

    empty = tmp_path / "empty.toml"
    empty.write_text("")
    monkeypatch.setattr(settings, "DEFAULT_LOCK_TIMEOUT", 7.5)
    monkeypatch.setattr(settings, "DEFAULT_WARN_DAYS", 11)
    request = resolved("sync", "--config", str(empty)).request
    assert request.lock_timeout == 7.5 and request.warn_days == 11
    assert settings.lock_timeout(None) == 7.5  # the check applies the default itself, the same one
    assert resolved("status", "--config", str(empty)).request.warn_days == 11
    assert request.hook_timeout == hooks.DEFAULT_TIMEOUT == engine.SyncRequest._field_defaults["hook_timeout"]


def test_the_config_applies_when_no_flag_is_given(config: Path) -> None:
    request = resolved("sync", "--config", str(config)).request
    base = config.parent
    assert request.obtain.cache_dir == base / "cache-from-config"
    assert request.state_dir == base / "state-from-config"
    assert request.obtain.mirror == str(base / "mirror-from-config")
    assert request.download.ca_bundle == base / "ca-from-config.pem"
    assert request.download.read_timeout == 7.0
    assert [t.path for t in request.targets] == ["/srv/from-config.pem"]


def test_flags_win_over_the_config(config: Path, tmp_path: Path) -> None:
    r = resolved(
        "sync",
        "--config",
        str(config),
        "--profile",
        "azure-all",
        "--cache-dir",
        "/c",
        "--state-dir",
        "/s",
        "--mirror",
        "/m",
        "--download-ca-bundle",
        "/ca.pem",
        "--target",
        "pem:/srv/flag.pem",
    )
    assert r.profile == "azure-all"
    request = r.request
    assert (request.obtain.cache_dir, request.state_dir) == (Path("/c"), Path("/s"))
    assert (request.obtain.mirror, request.download.ca_bundle) == ("/m", Path("/ca.pem"))
    assert [t.path for t in request.targets] == ["/srv/flag.pem"]  # the config's targets are replaced


def test_no_cache_wins_over_every_cache_dir(config: Path) -> None:
    assert resolved("sync", "--config", str(config), "--cache-dir", "/c", "--no-cache").request.obtain.cache_dir is None


def test_the_config_file_comes_from_the_environment(config: Path) -> None:
    r = resolved("sync", environ={"HOME": "/home/u", "ROTATOR_CONFIG": str(config)})
    assert r.profile == "azure-postgresql" and r.config.source == config


def test_extra_roots_add_to_the_profile() -> None:
    plain = {root.id for root in resolved("sync", "--profile", "azure-postgresql").selected}
    extra = {
        root.id
        for root in resolved("sync", "--profile", "azure-postgresql", "--root", "baltimore-cybertrust-root").selected
    }
    assert extra - plain == {"baltimore-cybertrust-root"}


def test_a_password_flag_reaches_keystore_targets_only() -> None:
    request = resolved("sync", "--target", "jks:/t.jks", "--target", "pem:/b.pem", "--storepass-env", "PW").request
    jks, pem = request.targets
    assert jks.option("storepass_env") == "PW" and pem.option("storepass_env") is None


def test_status_warn_days_zero_is_zero() -> None:
    assert resolved("status", "--warn-days", "0").request.warn_days == 0
    assert resolved("status", "--warn-days", "5").request.warn_days == 5


def test_an_unknown_profile_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="nope"):
        resolved("sync", "--profile", "nope")


def test_at_is_a_utc_instant() -> None:
    assert parse_at("2027-03-01") == dt.datetime(2027, 3, 1, tzinfo=dt.UTC)
    assert parse_at("2027-03-01T12:00:00+02:00") == dt.datetime(2027, 3, 1, 10, tzinfo=dt.UTC)
    assert resolved("sync", "--at", "2027-03-01").request.at == dt.datetime(2027, 3, 1, tzinfo=dt.UTC)
    with pytest.raises(ConfigError, match=r"^--at: 'soon' is not a date"):
        parse_at("soon")
