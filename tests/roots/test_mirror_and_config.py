"""Mirror directories, `rotator mirror`, and configuration errors (exit 2 with the key path)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rotator.certs import parse_many, parse_one
from rotator.roots.catalog import Catalog
from tests.support.pki import make_root
from tests.support.runs import run_process

CATALOG = Catalog.builtin()


def test_mirror_command_feeds_an_offline_sync(tmp_path: Path, run) -> None:
    mirror = tmp_path / "mirror"
    result = run("mirror", "--offline", "--profile", "azure-postgresql", str(mirror))
    assert result.code == 0, result.err
    files = sorted(p.name for p in mirror.iterdir())
    assert files == sorted(f"{i}.pem" for i in CATALOG.profiles["azure-postgresql"])
    for path in mirror.iterdir():
        assert parse_one(path.read_bytes()).sha256 == CATALOG.roots[path.stem].sha256

    bundle = tmp_path / "b.pem"
    result = run(
        "sync",
        "--offline",
        "--no-cache",
        "--json",
        "--profile",
        "azure-postgresql",
        "--mirror",
        str(mirror),
        "--target",
        f"pem:{bundle}",
    )
    assert result.code == 0, result.err
    assert {r["source"] for r in json.loads(result.out)["roots"]} == {"mirror"}


def test_mirror_directory_accepts_der_crt(tmp_path: Path, run) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    g2 = CATALOG.roots["digicert-global-root-g2"]
    (mirror / "digicert-global-root-g2.crt").write_bytes(parse_many(g2.embedded_bytes() or b"")[0].der)
    result = run(
        "sync",
        "--offline",
        "--no-cache",
        "--json",
        "--profile",
        "azure-minimal",
        "--mirror",
        str(mirror),
        "--target",
        f"pem:{tmp_path / 'b.pem'}",
    )
    assert result.code == 0, result.err
    sources = {r["id"]: r["source"] for r in json.loads(result.out)["roots"]}
    assert sources == {"digicert-global-root-g2": "mirror", "microsoft-rsa-root-2017": "embedded"}


def test_tampered_mirror_directory_is_a_security_event(tmp_path: Path, run) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "microsoft-rsa-root-2017.pem").write_bytes(make_root("Microsoft RSA Root Certificate Authority 2017").pem)
    bundle = tmp_path / "b.pem"
    result = run(
        "sync", "--offline", "--profile", "azure-minimal", "--mirror", str(mirror), "--target", f"pem:{bundle}"
    )
    assert result.code == 1
    assert "microsoft-rsa-root-2017" in result.err and str(mirror / "microsoft-rsa-root-2017.pem") in result.err
    assert not bundle.exists()


CONFIG_ERRORS = {
    "unknown top key": ('colour = "blue"\n', "colour: unknown key"),
    "wrong type": ("profile = 3\n", "profile: expected a string"),
    "malformed pin": ('[[roots]]\nid = "x"\nsha256 = "abc"\nfile = "x.pem"\n', "roots[0].sha256"),
    "unknown profile": ('profile = "azure-everything"\n', "unknown profile 'azure-everything'"),
    "unknown root in include": ('include = ["nope"]\n', "unknown root id 'nope' (from --root or include); `rotator"),
    "unknown root in profile": ('[profiles]\nmine = ["nope"]\n', "profiles.mine: unknown root id 'nope'"),
    "unknown root key": (
        '[[roots]]\nid = "x"\nsha256 = "' + "a" * 64 + '"\nfile = "x"\nurl = "y"\n',
        "roots[0].url: unknown key",
    ),
    "root without source": ('[[roots]]\nid = "x"\nsha256 = "' + "a" * 64 + '"\n', "roots[0]: give urls, file"),
    "unknown target kind": ('[[targets]]\nkind = "bogus"\npath = "/x"\n', "targets[0]: unknown target kind"),
    "mistyped target kind": ('[[targets]]\nkind = "jsk"\npath = "/x"\n', "'jsk' (did you mean 'jks'? known: "),
    "unknown target key": ('[[targets]]\nkind = "pem"\npath = "/x"\ncolour = 1\n', "targets[0]: unknown key 'colour'"),
    "unknown target key lists the allowed": (
        '[[targets]]\nkind = "jks"\npath = "/x"\nstorepas = 1\n',
        "(allowed: include, kind, on_change, path, profile, storepass_credential, storepass_env, storepass_file)",
    ),
    "pem without path": ('[[targets]]\nkind = "pem"\n', "targets[0]: target kind 'pem' needs a path"),
    "bad download": ("[download]\nread_timeout = -1\n", "download.read_timeout"),
    "clash with catalog": (
        '[[roots]]\nid = "digicert-global-root-g2"\nsha256 = "' + "a" * 64 + '"\nfile = "x"\n',
        "already a catalog root",
    ),
    "not toml": ("profile = \n", "not valid TOML"),
}


@pytest.mark.parametrize("case", sorted(CONFIG_ERRORS))
def test_config_errors_exit_2_with_key_path(case: str, tmp_path: Path, run) -> None:
    text, expected = CONFIG_ERRORS[case]
    config = tmp_path / "rotator.toml"
    config.write_text(text)
    result = run("sync", "--offline", "--config", str(config))
    assert result.code == 2, (result.out, result.err)
    assert expected in result.err
    assert len(result.err.strip().splitlines()) == 1
    if case not in NAMED_LATER:
        # What only the file can be wrong about names the file.
        assert f"config file {config}" in result.err


# Checked once flags and file are merged (a profile or root may come from either), or when a target is
# built: the key path says where.
NAMED_LATER = {
    "unknown profile",
    "unknown root in include",
    "unknown target kind",
    "pem without path",
    "mistyped target kind",
    "unknown target key",
    "unknown target key lists the allowed",
}


def test_config_from_environment_variable(tmp_path: Path, run, monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = tmp_path / "env.pem"
    config = tmp_path / "rotator.toml"
    config.write_text(f'profile = "azure-minimal"\n[[targets]]\nkind = "pem"\npath = "{bundle}"\n')
    monkeypatch.setenv("ROTATOR_CONFIG", str(config))
    assert run("sync", "--offline").code == 0
    assert len(parse_many(bundle.read_bytes())) == 2
    # Flags override the file: --target replaces the configured targets, --profile the profile.
    other = tmp_path / "flag.pem"
    assert run("sync", "--offline", "--profile", "azure-postgresql", "--target", f"pem:{other}").code == 0
    assert len(parse_many(other.read_bytes())) == 3
    assert len(parse_many(bundle.read_bytes())) == 2


def test_usage_errors_exit_2(run, tmp_path: Path) -> None:
    assert run("sync", "--no-such-flag").code == 2
    assert run("frobnicate").code == 2
    missing = run("sync", "--config", str(tmp_path / "missing.toml"))
    assert missing.code == 2 and "not found" in missing.err
    bad_at = run("sync", "--offline", "--at", "next tuesday")
    assert bad_at.code == 2 and "--at" in bad_at.err


@pytest.mark.slow
def test_real_process_exit_codes(tmp_path: Path) -> None:
    env_bundle = tmp_path / "p.pem"
    import os

    env = dict(os.environ)
    ok = run_process(
        "sync",
        "--offline",
        "--cache-dir",
        str(tmp_path / "c"),
        "--state-dir",
        str(tmp_path / "s"),
        "--target",
        f"pem:{env_bundle}",
        env=env,
    )
    assert ok.code == 0, ok.err
    bad = run_process("sync", "--offline", "--state-dir", str(tmp_path / "s"), "--profile", "nope", env=env)
    assert bad.code == 2 and "unknown profile" in bad.err


def test_relative_paths_in_a_config_are_taken_from_its_directory(
    tmp_path: Path, run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A unit runs from /, a shell from anywhere: the same config must name the same files."""
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "trust.pass").write_text("s3cret\n")
    config = etc / "rotator.toml"
    config.write_text(
        'profile = "azure-minimal"\n'
        '[[targets]]\nkind = "pem"\npath = "out/roots.pem"\n'
        '[[targets]]\nkind = "pkcs12"\npath = "out/trust.p12"\nstorepass_file = "trust.pass"\n'
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = run("sync", "--offline", "--config", str(config))
    assert result.code == 0, result.err
    assert len(parse_many((etc / "out" / "roots.pem").read_bytes())) == len(CATALOG.profiles["azure-minimal"])
    assert (etc / "out" / "trust.p12").is_file()
    assert not any(elsewhere.iterdir())
