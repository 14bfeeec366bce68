from pathlib import Path

import pytest

from tests.support.runs import run_process


def test_offline_sync_writes_every_default_root(tmp_path: Path, run) -> None:
    bundle = tmp_path / "azure.pem"
    result = run("sync", "--offline", "--target", f"pem:{bundle}")
    assert result.code == 0, result.err
    assert bundle.read_bytes().count(b"BEGIN CERTIFICATE") == 7


@pytest.mark.slow
def test_version_as_module() -> None:
    result = run_process("--version")
    assert result.code == 0
    assert result.out.startswith("rotator ")
