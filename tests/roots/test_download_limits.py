"""Download settings from the config: offline, a time budget shared by one run's downloads, and no
retries of a name that does not resolve."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rotator.roots.download import _retry_class
from tests.support.https_server import HttpsServer, Reply
from tests.support.pki import Issued, make_root


def config(tmp_path: Path, root: Issued, urls: list[str], download: str, file: Path | None = None) -> Path:
    path = tmp_path / "rotator.toml"
    url_list = ", ".join(f'"{u}"' for u in urls)
    source = f'file = "{file}"\n' if file else ""
    path.write_text(f"""
profile = "mine"
[profiles]
mine = ["test-root"]
[[roots]]
id = "test-root"
sha256 = "{root.sha256}"
urls = [{url_list}]
{source}
[[targets]]
kind = "pem"
path = "{tmp_path}/bundle.pem"
[download]
{download}
""")
    return path


def test_offline_in_the_config_never_asks_the_network(tmp_path: Path, run, https: HttpsServer) -> None:
    root = make_root("offline test root")
    local, _ = root.write(tmp_path / "pki", "root")
    url = https.serve("/root.der", Reply(body=root.der))
    cfg = config(tmp_path, root, [url], "offline = true", file=local)
    result = run("sync", "--config", str(cfg), "--download-ca-bundle", str(https.ca_file), "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["roots"][0]["source"] == "file"
    assert https.routes["/root.der"].hits == 0


def test_offline_must_be_a_boolean(tmp_path: Path, run) -> None:
    cfg = config(tmp_path, make_root("r"), [], 'offline = "yes"', file=tmp_path / "x.pem")
    result = run("sync", "--config", str(cfg))
    assert result.code == 2 and "download.offline: expected true or false" in result.err


@pytest.mark.slow
def test_one_runs_downloads_share_a_time_budget(tmp_path: Path, run, https: HttpsServer) -> None:
    root = make_root("budget test root")
    stalled = https.serve("/stalled.der", Reply(body=root.der, stall_after=10, stall_seconds=10))
    never = https.serve("/never.der", Reply(body=root.der))
    cfg = config(tmp_path, root, [stalled, never], "budget = 1\nread_timeout = 5\nretries = 0")
    result = run("sync", "--config", str(cfg), "--download-ca-bundle", str(https.ca_file))
    assert result.code == 1
    assert "download budget of 1s is used up" in result.err
    assert https.routes["/never.der"].hits == 0


def test_a_name_that_does_not_resolve_is_asked_once(tmp_path: Path, run) -> None:
    root = make_root("dns test root")
    urls = ["https://rotator-test.invalid/a.crt", "https://rotator-test.invalid/b.crt"]
    cfg = config(tmp_path, root, urls, "retries = 3")
    result = run("sync", "--config", str(cfg))
    assert result.code == 1
    assert "rotator-test.invalid/a.crt: rotator-test.invalid does not resolve" in result.err
    assert "b.crt: skipped, rotator-test.invalid did not resolve earlier in this run" in result.err


def test_the_retry_policy_gives_up_at_once_on_a_failed_name_lookup() -> None:
    from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NameResolutionError

    retry = _retry_class()(total=3, connect=3)
    with pytest.raises(MaxRetryError):
        retry.increment(method="GET", url="/x", error=NameResolutionError("h.invalid", None, OSError("no name")))
    # Other connection errors are still retried.
    again = retry.increment(method="GET", url="/x", error=ConnectTimeoutError("slow"))
    assert again.total == 2
