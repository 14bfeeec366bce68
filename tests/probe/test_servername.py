"""--servername is the name a client connects to: a host name or an IP address, checked before anything
is read or connected to; anything else is a usage error naming the value and the rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.pki import make_intermediate, make_leaf, make_root
from tests.support.runs import run_process
from tests.support.targets import error_lines


@pytest.fixture
def chain(tmp_path: Path) -> tuple[Path, Path]:
    root = make_root("Servername Test Root")
    issuing = make_intermediate(root)
    chain = tmp_path / "chain.pem"
    chain.write_bytes(make_leaf(issuing, ("db.example.com", "127.0.0.1")).pem + issuing.pem)
    store = tmp_path / "store.pem"
    store.write_bytes(root.pem)
    return chain, store


BAD = {
    "*": "a wildcard is a certificate's pattern",
    "*.localhost": "a wildcard is a certificate's pattern",
    "a..b": "an empty label",
    ".": "not a host name",
    ".example.com": "an empty label",
    "a_b.example": "label 'a_b' is not letters, digits and '-'",
    "-db.example": "starts or ends with '-'",
    "bücher.example": "not ASCII; give the A-label clients send: xn--bcher-kva.example",
    # The IDNA form of a name holding a line break is no host name: not suggested (nor a second line).
    "ú·y\nRg.example": "not ASCII, and its IDNA form is not a host name either",
    "bücher_db.example": "not ASCII, and its IDNA form is not a host name either",
    "": "empty; give the name clients connect to",
    "x" * 64 + ".example": "is not letters, digits and '-' (at most 63)",
    "has space.example": "is not letters, digits and '-'",
}


@pytest.mark.parametrize("value", sorted(BAD))
def test_an_invalid_servername_is_a_usage_error_for_chain_files_and_live_probes(
    value: str, chain: tuple[Path, Path], tmp_path: Path
) -> None:
    chain_file, store = chain
    for where in (["--chain-file", str(chain_file)], ["127.0.0.1:9"]):  # the live one never connects
        result = run_process(
            "probe", *where, f"--servername={value}", "--target", f"pem:{store}", "--state-dir", str(tmp_path / "s")
        )
        assert result.code == 2, (where, result.out, result.err)
        assert "Traceback" not in result.err
        (line,) = error_lines(result.err)
        assert line.startswith(f"rotator: error: --servername {value!r}: ") and BAD[value] in line


@pytest.mark.parametrize(
    "value, verdict",
    [
        ("db.example.com", 0),
        ("DB.Example.COM.", 0),
        ("127.0.0.1", 0),
        ("other.example.com", 1),
        ("xn--bcher-kva.example", 1),
    ],
)
def test_a_valid_servername_is_checked_against_the_certificate(
    value: str, verdict: int, chain: tuple[Path, Path], tmp_path: Path
) -> None:
    chain_file, store = chain
    result = run_process(
        "probe",
        "--chain-file",
        str(chain_file),
        "--servername",
        value,
        "--target",
        f"pem:{store}",
        "--json",
        "--state-dir",
        str(tmp_path / "s"),
    )
    assert result.code == verdict, result.out + result.err
    assert json.loads(result.out)["hostname_checked"] == value
