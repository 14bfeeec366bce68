"""A custom root's name, note and retire reason reach a PEM bundle's marker line and every report:
one line of printable text or the config is refused, and no other path writes a second line."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from rotator import ownership
from tests.support.pki import make_root
from tests.support.targets import error_lines


def _config(tmp_path: Path, root_file: Path, sha256: str, bundle: Path, **text: str) -> Path:
    extra = "".join(f"{key} = {json.dumps(value)}\n" for key, value in text.items())  # a TOML basic string
    config = tmp_path / "rotator.toml"
    config.write_text(
        'profile = "mine"\n[profiles]\nmine = ["test-root"]\n'
        f'[[roots]]\nid = "test-root"\nsha256 = "{sha256}"\nfile = "{root_file}"\n{extra}'
        f'[[targets]]\nkind = "pem"\npath = "{bundle}"\n'
    )
    return config


def _openssl_count(bundle: Path) -> int:
    out = subprocess.run(
        ["openssl", "crl2pkcs7", "-nocrl", "-certfile", str(bundle)], capture_output=True, check=True
    ).stdout
    listing = subprocess.run(
        ["openssl", "pkcs7", "-print_certs", "-noout"], input=out, capture_output=True, check=True
    ).stdout
    return listing.count(b"subject=")


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, str, Path, bytes]:
    root = make_root("Pinned Test Root")
    root_file = tmp_path / "root.pem"
    root_file.write_bytes(root.pem)
    bundle = tmp_path / "bundle.pem"
    unpinned = make_root("Unpinned Attacker Root")
    bundle.write_bytes(b"# the application's own bundle\n")
    return root_file, root.sha256, bundle, unpinned.pem


@pytest.mark.parametrize("key", ["name", "note", "retire_reason"])
def test_a_name_carrying_a_pem_block_is_refused_and_the_bundle_is_untouched(
    tmp_path: Path, run, setup: tuple[Path, str, Path, bytes], key: str
) -> None:
    root_file, sha256, bundle, unpinned = setup
    before = bundle.read_bytes()
    injected = "Contoso\n" + unpinned.decode() + "# trailing"
    result = run("sync", "--offline", "--config", str(_config(tmp_path, root_file, sha256, bundle, **{key: injected})))
    assert result.code == 2, result.out
    (line,) = error_lines(result.err)
    assert f"roots[0].{key}: must be one line of printable text" in line
    assert bundle.read_bytes() == before


@pytest.mark.parametrize("bad", ["tab\there", "del\x7f", "line\u2028separator", "nul-free but \x1b[31mred", "x" * 201])
def test_control_characters_and_overlong_names_are_refused(
    tmp_path: Path, run, setup: tuple[Path, str, Path, bytes], bad: str
) -> None:
    root_file, sha256, bundle, _ = setup
    result = run("sync", "--offline", "--config", str(_config(tmp_path, root_file, sha256, bundle, name=bad)))
    assert result.code == 2 and "roots[0].name: must be one line" in result.err


def test_a_printable_name_in_any_script_is_written_as_one_marker_line_and_stays_idempotent(
    tmp_path: Path, run, setup: tuple[Path, str, Path, bytes]
) -> None:
    root_file, sha256, bundle, _ = setup
    name = "Contoso Wurzel-CA — Ünïcödé 根"
    config = _config(tmp_path, root_file, sha256, bundle, name=name)
    assert run("sync", "--offline", "--config", str(config)).code == 0
    text = bundle.read_text()
    assert f"# rotator-test-root: {name} (sha256 {sha256})\n" in text
    assert _openssl_count(bundle) == 1
    again = run("sync", "--offline", "--config", str(config))
    assert again.code == 0 and "up to date" in again.out
    assert bundle.read_text() == text


def test_the_marker_writer_never_writes_a_second_line_whatever_it_is_given() -> None:
    assert ownership.marker_text("a\nb\r\x85c\u2029d") == "a?b??c?d"
    assert ownership.marker_text("fine name") == "fine name"
    assert len(ownership.marker_text("y" * 1000)) == ownership.MAX_NAME
