"""Obtaining roots over real HTTPS from a local server, and every way a source can be wrong."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from rotator.certs import parse_many
from rotator.roots.catalog import Catalog
from tests.support.https_server import HttpsServer, Reply, plain_http_server
from tests.support.pki import Issued, make_intermediate, make_root

CATALOG = Catalog.builtin()
G2 = CATALOG.roots["digicert-global-root-g2"]


def write_config(tmp_path: Path, root: Issued, urls: list[str], bundle: Path, extra: str = "") -> Path:
    config = tmp_path / "rotator.toml"
    url_list = ", ".join(f'"{u}"' for u in urls)
    config.write_text(f"""
profile = "custom-only"
[profiles]
custom-only = ["test-root"]
[[roots]]
id = "test-root"
sha256 = "{root.sha256}"
urls = [{url_list}]
[[targets]]
kind = "pem"
path = "{bundle}"
[download]
connect_timeout = 2
read_timeout = 1
retries = 2
{extra}
""")
    return config


@pytest.fixture
def root() -> Issued:
    return make_root("Download Test Root")


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    path = tmp_path / "bundle.pem"
    path.write_bytes(b"# existing content\n")
    return path


def sync(run, config: Path, https: HttpsServer, *extra: str):
    return run("sync", "--config", str(config), "--download-ca-bundle", str(https.ca_file), "--json", *extra)


@pytest.mark.parametrize("form", ["der", "pem"])
def test_der_and_pem_downloads(form: str, tmp_path: Path, run, https: HttpsServer, root: Issued, bundle: Path) -> None:
    url = https.serve(
        f"/root.{form}", Reply(body=root.der if form == "der" else root.pem, content_type="text/html")
    )  # content type is never trusted
    result = sync(run, write_config(tmp_path, root, [url], bundle), https)
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert doc["roots"][0]["source"] == "url" and doc["roots"][0]["location"] == url
    assert [c.sha256 for c in parse_many(bundle.read_bytes())] == [root.sha256]
    assert bundle.read_bytes().startswith(b"# existing content\n")


def test_verified_copy_is_cached_and_reverified(
    tmp_path: Path, run, https: HttpsServer, root: Issued, bundle: Path, cache_dir: Path
) -> None:
    url = https.serve("/root.der", Reply(body=root.der))
    config = write_config(tmp_path, root, [url], bundle)
    assert sync(run, config, https).code == 0
    cached = cache_dir / f"{root.sha256}.pem"
    assert cached.exists()
    # Second run: served from the cache, the server is not asked again.
    bundle.unlink()
    result = sync(run, config, https)
    assert result.code == 0, result.err
    assert json.loads(result.out)["roots"][0]["source"] == "cache"
    assert https.routes["/root.der"].hits == 1
    # A corrupted cache file is ignored (with a warning) and the source is used again.
    cached.write_bytes(b"garbage")
    bundle.unlink()
    result = sync(run, config, https)
    assert result.code == 0, result.err
    assert json.loads(result.out)["roots"][0]["source"] == "url"
    assert https.routes["/root.der"].hits == 2
    assert "cache" in result.err


def test_tampered_certificate_is_a_security_event_and_nothing_is_written(
    tmp_path: Path, run, https: HttpsServer, root: Issued, bundle: Path
) -> None:
    impostor = make_root("Download Test Root")  # same name, other key: what an attacker would serve
    url = https.serve("/root.der", Reply(body=impostor.der))
    other_target = tmp_path / "second.pem"
    config = write_config(tmp_path, root, [url], bundle)
    config.write_text(config.read_text() + f'\n[[targets]]\nkind = "pem"\npath = "{other_target}"\n')
    result = sync(run, config, https)
    assert result.code == 1
    assert "test-root" in result.err and url in result.err
    assert root.sha256 in result.err and impostor.sha256 in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert bundle.read_bytes() == b"# existing content\n"
    assert not other_target.exists()


def test_tampered_mirror_for_a_catalog_root_stops_the_run(
    tmp_path: Path, run, https: HttpsServer, bundle: Path
) -> None:
    https.serve("/mirror/digicert-global-root-g2.pem", Reply(body=make_root("DigiCert Global Root G2").pem))
    result = run(
        "sync",
        "--profile",
        "azure-minimal",
        "--mirror",
        https.url("/mirror/"),
        "--download-ca-bundle",
        str(https.ca_file),
        "--target",
        f"pem:{bundle}",
    )
    assert result.code == 1
    assert "digicert-global-root-g2" in result.err and G2.sha256 in result.err
    assert bundle.read_bytes() == b"# existing content\n"


def test_intermediate_pinned_by_mistake_is_refused(
    tmp_path: Path, run, https: HttpsServer, root: Issued, bundle: Path
) -> None:
    intermediate = make_intermediate(root)
    url = https.serve("/int.der", Reply(body=intermediate.der))
    config = write_config(tmp_path, root, [url], bundle)
    config.write_text(config.read_text().replace(root.sha256, intermediate.sha256))
    result = sync(run, config, https)
    assert result.code == 1
    assert "not a self-signed root" in result.err
    assert bundle.read_bytes() == b"# existing content\n"


BAD_BODIES = {
    "truncated": lambda r: r.der[: len(r.der) // 2],
    "html": lambda r: b"<!DOCTYPE html><html><body>Sign in to continue</body></html>",
    "two-certs": lambda r: r.pem + r.pem,
    "empty": lambda r: b"",
}


@pytest.mark.parametrize("kind", sorted(BAD_BODIES))
def test_bad_body_is_skipped_and_fails_without_other_source(
    kind: str, tmp_path: Path, run, https: HttpsServer, root: Issued, bundle: Path
) -> None:
    url = https.serve("/root", Reply(body=BAD_BODIES[kind](root)))
    result = sync(run, write_config(tmp_path, root, [url], bundle), https)
    assert result.code == 1
    last = result.err.strip().splitlines()[-1]
    assert last.startswith("rotator: error: root test-root: no verified copy") and url in last
    assert bundle.read_bytes() == b"# existing content\n"


@pytest.mark.parametrize("kind", sorted(BAD_BODIES))
def test_bad_body_falls_through_to_the_next_candidate(
    kind: str, tmp_path: Path, run, https: HttpsServer, root: Issued, bundle: Path
) -> None:
    bad = https.serve("/bad", Reply(body=BAD_BODIES[kind](root)))
    good = https.serve("/good", Reply(body=root.der))
    result = sync(run, write_config(tmp_path, root, [bad, good], bundle), https)
    assert result.code == 0, result.err
    assert json.loads(result.out)["roots"][0]["location"] == good
    assert bad in result.err  # warned about


def test_a_redirect_from_https_to_plain_http_is_refused_unfollowed(
    tmp_path: Path, run, https: HttpsServer, root: Issued, bundle: Path
) -> None:
    with plain_http_server(root.der) as plain:
        downgrade = plain.url("/root.der")
        url = https.serve("/root", Reply(status=302, headers={"Location": downgrade}))
        hop = https.serve("/hop", Reply(status=301, headers={"Location": url}))  # https to https, then down
        good = https.serve("/good", Reply(body=root.der))
        result = sync(run, write_config(tmp_path, root, [url, hop], bundle), https)
        assert plain.hits == 0  # never asked: the pinned root is proven anyway, but http is never read
        assert result.code == 1
        for asked in (url, hop):
            said = [line for line in result.err.splitlines() if f"{asked}: redirected" in line]
            assert said and f"to {downgrade}, which is not https; a redirect never lowers https to http" in said[0]
        assert f"{hop}: redirected (through {url}) to {downgrade}" in result.err
        assert bundle.read_bytes() == b"# existing content\n"

        https.serve("/root", Reply(status=302, headers={"Location": good}))  # https to https is followed
        result = sync(run, write_config(tmp_path, root, [url], bundle), https)
        assert result.code == 0, result.err
        assert plain.hits == 0


def test_oversized_body_is_refused(tmp_path: Path, run, https: HttpsServer, root: Issued, bundle: Path) -> None:
    url = https.serve("/big", Reply(body=root.pem + b"#" * 70_000))
    result = sync(run, write_config(tmp_path, root, [url], bundle), https)
    assert result.code == 1
    assert "exceeds the 65536-byte limit" in result.err
    assert bundle.read_bytes() == b"# existing content\n"


def test_oversized_body_without_content_length(
    tmp_path: Path, run, https: HttpsServer, root: Issued, bundle: Path
) -> None:
    url = https.serve("/big", Reply(body=b"A" * 2000, headers={}))
    config = write_config(tmp_path, root, [url], bundle, extra="max_bytes = 1000")
    result = sync(run, config, https)
    assert result.code == 1
    assert "exceeds the 1000-byte limit" in result.err


def test_503_then_200_is_retried(tmp_path: Path, run, https: HttpsServer, root: Issued, bundle: Path) -> None:
    url = https.serve("/flaky", Reply(status=503, body=b"busy"), Reply(body=root.der))
    result = sync(run, write_config(tmp_path, root, [url], bundle), https)
    assert result.code == 0, result.err
    assert https.routes["/flaky"].hits == 2


@pytest.mark.slow
def test_persistent_503_is_unreachable(tmp_path: Path, run, https: HttpsServer, root: Issued, bundle: Path) -> None:
    url = https.serve("/down", Reply(status=503, body=b"busy"))
    result = sync(run, write_config(tmp_path, root, [url], bundle), https)
    assert result.code == 1
    assert url in result.err and ("503" in result.err or "retries" in result.err)
    assert https.routes["/down"].hits == 3  # first try plus two retries


@pytest.mark.slow
def test_body_that_stalls_past_the_read_timeout(
    tmp_path: Path, run, https: HttpsServer, root: Issued, bundle: Path
) -> None:
    url = https.serve("/stall", Reply(body=root.der, stall_after=10, stall_seconds=5))
    started = time.monotonic()
    result = sync(run, write_config(tmp_path, root, [url], bundle), https)
    assert time.monotonic() - started < 4.5
    assert result.code == 1
    assert "timed out" in result.err and url in result.err
    assert bundle.read_bytes() == b"# existing content\n"


@pytest.mark.slow
def test_refused_connection_is_a_warning_then_next_source(
    tmp_path: Path, run, https: HttpsServer, root: Issued, bundle: Path
) -> None:
    dead = "https://127.0.0.1:9/root.der"  # discard port: nothing listens
    good = https.serve("/good", Reply(body=root.der))
    result = sync(run, write_config(tmp_path, root, [dead, good], bundle), https)
    assert result.code == 0, result.err
    # One short line for the root: what failed and what was used instead (the detail is in -v).
    assert result.err.splitlines() == [
        f"rotator: WARNING: root test-root: download failed (127.0.0.1:9: connection refused), using {good}"
    ]


@pytest.mark.slow
def test_ca_bundle_from_environment_does_not_replace_the_explicit_one(
    tmp_path: Path, run, https: HttpsServer, root: Issued, bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # requests would silently use REQUESTS_CA_BUNDLE with verify=True; rotator passes certifi explicitly,
    # so the test CA in the environment must NOT make the local server trusted.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(https.ca_file))
    url = https.serve("/root.der", Reply(body=root.der))
    config = write_config(tmp_path, root, [url], bundle)
    result = run("sync", "--config", str(config))
    assert result.code == 1
    assert "TLS verification failed" in result.err and "--download-ca-bundle" in result.err


def test_offline_never_touches_the_network(tmp_path: Path, run, https: HttpsServer, root: Issued, bundle: Path) -> None:
    url = https.serve("/root.der", Reply(body=root.der))
    result = sync(run, write_config(tmp_path, root, [url], bundle), https, "--offline")
    assert result.code == 1
    assert https.routes["/root.der"].hits == 0
    assert "--offline" in result.err


def test_mirror_url_is_preferred_over_embedded(tmp_path: Path, run, https: HttpsServer, bundle: Path) -> None:
    # A mirror URL serving the genuine roots (PEM for one, DER for the other) wins over the embedded copy.
    https.serve("/m/digicert-global-root-g2.pem", Reply(body=G2.embedded_bytes() or b""))
    ms = CATALOG.roots["microsoft-rsa-root-2017"]
    https.serve("/m/microsoft-rsa-root-2017.crt", Reply(body=parse_many(ms.embedded_bytes() or b"")[0].der))
    result = run(
        "sync",
        "--json",
        "--profile",
        "azure-minimal",
        "--mirror",
        https.url("/m"),
        "--download-ca-bundle",
        str(https.ca_file),
        "--target",
        f"pem:{bundle}",
    )
    doc = json.loads(result.out)
    sources = {r["id"]: r["location"] for r in doc["roots"]}
    assert sources == {
        "digicert-global-root-g2": https.url("/m/digicert-global-root-g2.pem"),
        "microsoft-rsa-root-2017": https.url("/m/microsoft-rsa-root-2017.crt"),
    }
