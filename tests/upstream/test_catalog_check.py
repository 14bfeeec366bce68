"""rotator catalog check: Azure's published CA list over real local HTTPS, compared with the catalog.

tests/data/azure-ca-details.md is written in the published page's layout (tables of root and
subordinate CAs, rows with a link and "serial<br>SHA-1"), with the real certificates' values and
every variant the page shows: <br>, </br>, <br/>, <BR>, upper- and lower-case thumbprints, serials
with and without 0x and leading zeros.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import subprocess
import tomllib
import tracemalloc
from pathlib import Path

import pytest

from rotator.certs import Cert, parse_one
from rotator.config.file import parse as parse_config
from rotator.roots.catalog import Catalog
from rotator.roots.download import Downloader, DownloadSettings
from rotator.upstream import check as check_mod
from rotator.upstream import published_list as upstream
from rotator.upstream import record as published
from rotator.upstream.proposal import AGREES, DISAGREES, SILENT, propose
from tests.support.https_server import HttpsServer, Reply, plain_http_server
from tests.support.paths import DATA, embedded_pem
from tests.support.pki import Issued, make_intermediate, make_root
from tests.support.runs import run_process

PAGE = (DATA / "azure-ca-details.md").read_text()
PAGE_PATH = "/MicrosoftDocs/azure-docs/main/articles/security/fundamentals/azure-certificate-authority-details.md"
TLS_ROOT_G2_SHA256 = "6a170583db584151e1c454eeca2a64cc5d8e484a5bd1156e720b4458654ee9e5"


def config_for(tmp_path: Path, extra: str = "") -> Path:
    """Microsoft TLS RSA Root G2 once more, as a custom root from a local file: a custom root is
    compared through its verified copy (the config pins SHA-256 only)."""
    (tmp_path / "roots").mkdir(exist_ok=True)
    (tmp_path / "roots" / "tls-rsa-root-g2.pem").write_bytes((DATA / "microsoft-tls-rsa-root-g2.pem").read_bytes())
    config = tmp_path / "rotator.toml"
    config.write_text(f"""
[[roots]]
id = "local-tls-rsa-root-g2"
name = "Microsoft TLS RSA Root G2 (local)"
sha256 = "{TLS_ROOT_G2_SHA256}"
file = "roots/tls-rsa-root-g2.pem"
[download]
retries = 0
connect_timeout = 2
read_timeout = 2
{extra}
""")
    return config


def serve_page(https: HttpsServer, text: str) -> str:
    return https.serve(PAGE_PATH, Reply(body=text.encode(), content_type="text/plain; charset=utf-8"))


def check(run, https: HttpsServer, tmp_path: Path, page: str, *extra: str, config: Path | None = None):
    url = serve_page(https, page)
    return run(
        "catalog",
        "check",
        "--source",
        url,
        "--download-ca-bundle",
        str(https.ca_file),
        "--config",
        str(config or config_for(tmp_path)),
        "--state-dir",
        str(tmp_path / "state"),
        *extra,
    )


def row(name: str, url: str, serial: str, sha1: str, br: str = "<br>") -> str:
    return f"| [{name}]({url}) | {serial}{br}{sha1} |"


def add_root_row(page: str, line: str) -> str:
    marker = "\n\n## Subordinate Certificate Authorities"
    return page.replace(marker, "\n" + line + marker, 1)


def serial_of(issued: Issued) -> str:
    return f"0x{issued.cert.serial_number:x}"


def sha1_of(issued: Issued) -> str:
    return Cert.from_der(issued.der).sha1


# ------------------------------------------------------------------ agreement and the page's variants


def test_the_published_page_agrees_with_the_catalog(tmp_path: Path, https: HttpsServer, run) -> None:
    result = check(run, https, tmp_path, PAGE, "--json")
    assert result.code == 0, result.out + result.err
    doc = json.loads(result.out)
    assert doc["ok"] is True and doc["differences"] == [] and doc["proposals"] == []
    assert len(doc["published"]["roots"]) == 9 and len(doc["published"]["subordinates"]) == 4
    agreeing = {a["id"] for a in doc["agreeing"]}
    expected = {r.id for r in Catalog.builtin().roots.values()} | {"local-tls-rsa-root-g2"}
    assert agreeing == expected
    by_name = {r["name"]: r for r in doc["published"]["roots"]}
    # </br> with a lower-case thumbprint; <br /> with a serial whose leading zero is not written
    assert by_name["DigiCert Global Root G2"]["sha1"] == "df3c24f9bfd666761b268073fe06d1cc8d4f82a4"
    assert by_name["DigiCert TLS ECC P384 Root G5"]["serial"] == "9e09365acf7d9c8b93e1c0b042a2ef3"
    assert by_name["DigiCert TLS RSA4096 Root G5"]["sha1"] == "a78849dc5d7c758c8cde399856b3aad0b2a57135"  # <BR>
    subordinates = {r["sha1"]: r["name"] for r in doc["published"]["subordinates"]}
    assert subordinates["f8a408b8fbeea077b75738658641be77154720eb"] == "Microsoft TLS G2 RSA CA OCSP 02"
    text = check(run, https, tmp_path, PAGE)
    assert text.code == 0 and "verdict: OK: the catalog agrees with Azure's published list" in text.out


def test_the_result_is_kept_for_status_and_the_daemon(tmp_path: Path, https: HttpsServer, run) -> None:
    assert check(run, https, tmp_path, PAGE).code == 0
    record = published.load(tmp_path / "state")
    assert record is not None and record.ok is True and record.error is None
    assert record.intermediates["b5ee89e77326ab2bf1775bd99c19a28947ff8184"] == "Microsoft TLS RSA Root G2"
    # a later failure keeps what the last read learnt, and says it failed
    https.serve(PAGE_PATH, Reply(status=404))
    failed = run(
        "catalog",
        "check",
        "--source",
        https.url(PAGE_PATH),
        "--download-ca-bundle",
        str(https.ca_file),
        "--config",
        str(config_for(tmp_path)),
        "--state-dir",
        str(tmp_path / "state"),
    )
    assert failed.code == 2 and "HTTP 404" in failed.err
    after = published.load(tmp_path / "state")
    assert after is not None and after.ok is None and "HTTP 404" in (after.error or "")
    assert after.intermediates == record.intermediates and after.last_read == record.last_read


# ------------------------------------------------------------------ a page that cannot be read is never "no roots"


@pytest.mark.parametrize(
    ("page", "message"),
    [
        (PAGE.replace("## Root Certificate Authorities", "## Roots we use"), "no table under a heading 'Root"),
        (PAGE.replace("## Subordinate Certificate Authorities", "## Intermediates"), "'Subordinate Certificate"),
        (
            "<!DOCTYPE html><html><body><h2>Root Certificate Authorities</h2><table></table></body></html>",
            "this looks like a web page",
        ),
        (PAGE.replace("Serial Number<br>Thumbprint", "Serial Number", 1), "no 'Certificate Authority' and"),
        (
            PAGE.replace("0x033af1e6a711a9a0bb2864b11d09fae5</br>", "0x033af1e6a711a9a0bb2864b11d09fae5 ", 1),
            "expected 'serial<br>SHA-1 thumbprint' for 'DigiCert Global Root G2'",
        ),
        (PAGE.replace("A8985D3A65E5E5C4B2D7D66D40C6DD2FB19C5436", "A8985D3A65E5", 1), "is not a SHA-1 thumbprint"),
        ("# Azure Certificate Authority details\n\nMoved.\n", "no table under a heading"),
    ],
)
def test_a_page_in_another_layout_is_exit_2_with_the_reason(
    tmp_path: Path, https: HttpsServer, run, page: str, message: str
) -> None:
    result = check(run, https, tmp_path, page)
    assert result.code == 2, result.out + result.err
    assert message in result.err and "rotator: error:" in result.err
    assert result.out == ""  # no verdict, no "agrees", no list of zero roots


def test_unreadable_json_and_line_numbers(tmp_path: Path, https: HttpsServer, run) -> None:
    page = PAGE.replace("0x1ed397095fd8b4b347701eaabe7f45b3<br>", "serial unknown<br>", 1)
    result = check(run, https, tmp_path, page, "--json")
    assert result.code == 2
    doc = json.loads(result.out)
    assert doc["ok"] is False and "is not a hexadecimal serial number" in doc["error"]
    line = next(i for i, text in enumerate(page.splitlines(), start=1) if "serial unknown" in text)
    assert f"line {line}:" in doc["error"]


def test_a_plain_http_source_is_refused(tmp_path: Path, run) -> None:
    result = run("catalog", "check", "--source", "http://127.0.0.1:9/list.md", "--state-dir", str(tmp_path / "s"))
    assert result.code == 2 and "is not https" in result.err


@pytest.mark.parametrize("caller", ["by hand", "daemon"])
def test_an_https_source_redirecting_to_plain_http_is_refused(
    tmp_path: Path, https: HttpsServer, run, caplog: pytest.LogCaptureFixture, caller: str
) -> None:
    import time

    redirect = Reply(status=302, headers={"Location": ""})
    with plain_http_server(PAGE.encode()) as plain:
        downgrade = redirect.headers["Location"] = plain.url("/list.md")
        if caller == "by hand":
            url = https.serve(PAGE_PATH, redirect)
            result = run(
                "catalog",
                "check",
                "--source",
                url,
                "--download-ca-bundle",
                str(https.ca_file),
                "--config",
                str(config_for(tmp_path)),
                "--state-dir",
                str(tmp_path / "state"),
            )
            said = f"exit {result.code}\n{result.err}"
        else:
            daemon = _daemon(tmp_path, https, PAGE)  # the daemon's source is PAGE_PATH too
            url = https.serve(PAGE_PATH, redirect)
            daemon.next_check = time.monotonic()
            with caplog.at_level(logging.INFO):
                _check_once(daemon)
            said = caplog.text
        assert plain.hits == 0
    expected = f"{url}: redirected to {downgrade}, which is not https; a redirect never lowers https to http"
    if caller == "by hand":
        assert said.startswith("exit 2\n") and len(said.strip().splitlines()) == 2, said
    assert expected in said
    record = published.load(tmp_path / "state")
    assert record is not None and record.ok is None and expected in (record.error or "")


def test_a_local_file_source(tmp_path: Path, run) -> None:
    page = tmp_path / "list.md"
    page.write_text(PAGE)
    result = run(
        "catalog",
        "check",
        "--source",
        str(page),
        "--config",
        str(config_for(tmp_path)),
        "--state-dir",
        str(tmp_path / "state"),
    )
    assert result.code == 0, result.out + result.err
    missing = run("catalog", "check", "--source", str(tmp_path / "nope.md"), "--state-dir", str(tmp_path / "state"))
    assert missing.code == 2 and "nope.md not found" in missing.err


def _refused_source(tmp_path: Path, source: Path) -> str:
    """``catalog check --source SOURCE`` as a real process: exit 2 with one line, well within the bound."""
    try:
        result = run_process(
            "catalog", "check", "--source", str(source), "--state-dir", str(tmp_path / "s"), timeout=20
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"catalog check --source {source} did not return: it opened or read it whole")
    assert result.code == 2, result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"rotator: error: --source: {source} "), result.err
    assert lines[0].endswith("save the CA list's markdown source to a file, or give an https URL")
    return lines[0]


def test_a_fifo_device_or_link_to_one_as_source_is_refused_unopened(tmp_path: Path) -> None:
    fifo = tmp_path / "list.md"
    os.mkfifo(fifo)  # no writer: opening it would block
    link = tmp_path / "zero.md"
    link.symlink_to("/dev/zero")
    for source in (fifo, Path("/dev/zero"), link):
        assert "is not a regular file (a FIFO, device or socket)" in _refused_source(tmp_path, source)


def test_a_huge_source_is_refused_after_reading_no_more_than_the_cap(tmp_path: Path) -> None:
    sparse = tmp_path / "list.md"
    with open(sparse, "wb") as handle:
        handle.truncate(1 << 30)  # 1 GiB, no blocks on disk
    assert "is larger than 2 MiB" in _refused_source(tmp_path, sparse)
    tracemalloc.start()
    try:
        with pytest.raises(upstream.ListUnreadable, match="is larger than 2 MiB"):
            upstream.fetch(str(sparse), DownloadSettings())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024, f"{peak} bytes allocated to refuse a 1 GiB file"


# ------------------------------------------------------------------ differences


def test_a_catalog_root_no_longer_published(tmp_path: Path, https: HttpsServer, run) -> None:
    page = "\n".join(
        line
        for line in PAGE.splitlines()
        if "[DigiCert Global Root G3]" not in line and "[Baltimore CyberTrust Root]" not in line
    )
    result = check(run, https, tmp_path, page, "--json")
    assert result.code == 1
    doc = json.loads(result.out)
    assert [(d["kind"], d["root"]) for d in doc["differences"]] == [("unpublished-root", "digicert-global-root-g3")]
    assert any("baltimore-cybertrust-root is retired" in n for n in doc["notes"])  # retired: expected, no difference


def test_changed_serial_and_thumbprint(tmp_path: Path, https: HttpsServer, run) -> None:
    page = PAGE.replace("0x033af1e6a711a9a0bb2864b11d09fae5", "0x033af1e6a711a9a0bb2864b11d09fae6", 1)
    page = page.replace("999A64C37FF47D9FAB95F14769891460EEC4C3C5", "999A64C37FF47D9FAB95F14769891460EEC4C3C6", 1)
    result = check(run, https, tmp_path, page)
    assert result.code == 1, result.out + result.err
    changed = "changed-serial: digicert-global-root-g2: published with serial 33af1e6a711a9a0bb2864b11d09fae6"
    assert changed in result.out
    assert "changed-thumbprint: microsoft-ecc-root-2017" in result.out
    assert "verdict: DIFFERS: 2 differences" in result.out


# ------------------------------------------------------------------ proposals


@pytest.fixture(scope="module")
def new_root() -> Issued:
    return make_root("Contoso Azure Root 2031")


def test_a_published_unknown_root_is_proposed_and_the_entry_works(
    tmp_path: Path, https: HttpsServer, run, new_root: Issued
) -> None:
    url = https.serve("/certs/contoso-root.crt", Reply(body=new_root.der))
    page = add_root_row(PAGE, row("Contoso Azure Root 2031", url, serial_of(new_root), sha1_of(new_root).upper()))
    bundle = tmp_path / "other-channel.pem"
    bundle.write_bytes(embedded_pem("digicert-global-root-g2") + new_root.pem)
    result = check(run, https, tmp_path, page, "--cross-check", str(bundle))
    assert result.code == 1, result.out + result.err
    assert "unknown-root: 'Contoso Azure Root 2031' is published as a root" in result.out
    assert f"second channel bundle {bundle}: agrees: holds the same certificate" in result.out
    assert f'sha256 = "{new_root.sha256}"' in result.out
    assert "nothing was trusted" in result.out
    entry = result.out[result.out.index("[[roots]]") :].split("\n\n")[0]
    entry = "\n".join(line.strip() for line in entry.splitlines())
    doc = tomllib.loads(entry)
    assert doc["roots"][0]["id"] == "contoso-azure-root-2031" and doc["roots"][0]["urls"] == [url]
    parse_config(doc)  # the entry is a valid config as printed

    # pasted into the config, the root is known and the catalog agrees again
    config = config_for(tmp_path, extra="")
    config.write_text(config.read_text() + "\n" + entry + "\n")
    again = check(run, https, tmp_path, page, config=config)
    assert again.code == 0, again.out + again.err


def test_no_proposal_when_the_download_does_not_match_the_published_row(
    tmp_path: Path, https: HttpsServer, run, new_root: Issued
) -> None:
    impostor = make_root("Contoso Azure Root 2031")
    url = https.serve("/certs/contoso-root.crt", Reply(body=impostor.pem))
    page = add_root_row(PAGE, row("Contoso Azure Root 2031", url, serial_of(new_root), sha1_of(new_root)))
    result = check(run, https, tmp_path, page, "--json")
    assert result.code == 1
    proposal = json.loads(result.out)["proposals"][0]
    assert proposal["ok"] is False and proposal["entry"] is None
    assert any(
        f"has SHA-1 {sha1_of(impostor)}, the list publishes {sha1_of(new_root)}" in p for p in proposal["problems"]
    )
    assert any("has serial" in p for p in proposal["problems"])
    text = check(run, https, tmp_path, page)
    assert "no proposal for 'Contoso Azure Root 2031'" in text.out and "[[roots]]" not in text.out


def test_no_proposal_for_a_certificate_that_is_not_a_self_signed_ca(
    tmp_path: Path, https: HttpsServer, run, new_root: Issued
) -> None:
    intermediate = make_intermediate(new_root, "Contoso Issuing CA")
    url = https.serve("/certs/issuing.crt", Reply(body=intermediate.der))
    page = add_root_row(PAGE, row("Contoso Issuing CA", url, serial_of(intermediate), sha1_of(intermediate), "</br>"))
    result = check(run, https, tmp_path, page)
    assert result.code == 1
    assert "'Contoso Issuing CA' from" in result.out and "is not a self-signed CA certificate" in result.out
    assert "[[roots]]" not in result.out


def test_a_second_channel_holding_another_key_blocks_the_proposal(
    tmp_path: Path, https: HttpsServer, run, new_root: Issued
) -> None:
    url = https.serve("/certs/contoso-root.crt", Reply(body=new_root.der))
    other_url = https.serve("/mirror/contoso-root.crt", Reply(body=new_root.pem))
    page = add_root_row(PAGE, row("Contoso Azure Root 2031", url, serial_of(new_root), sha1_of(new_root)))
    namesake = tmp_path / "namesake.pem"
    namesake.write_bytes(make_root("Contoso Azure Root 2031").pem)
    result = check(run, https, tmp_path, page, "--cross-check", other_url, "--cross-check", str(namesake), "--json")
    proposal = json.loads(result.out)["proposals"][0]
    verdicts = {c["channel"]: c["verdict"] for c in proposal["channels"]}
    assert verdicts == {f"URL {other_url}": AGREES, f"bundle {namesake}": DISAGREES}
    assert proposal["ok"] is False and proposal["entry"] is None


def test_the_real_microsoft_tls_rsa_root_g2_is_proven_from_its_published_row(
    tmp_path: Path, https: HttpsServer
) -> None:
    """The page's own row for Microsoft TLS RSA Root G2, its download served locally (DER, as Microsoft serves)."""
    der = parse_one((DATA / "microsoft-tls-rsa-root-g2.pem").read_bytes()).der
    url = https.serve("/pkiops/certs/Microsoft%20TLS%20RSA%20Root%20G2.crt", Reply(body=der))
    listed = upstream.parse(PAGE, "page")
    row_g2 = next(r for r in listed.roots if r.name == "Microsoft TLS RSA Root G2")
    row_g2 = dataclasses.replace(row_g2, url=url)
    directory = tmp_path / "certs"
    directory.mkdir()
    (directory / "README").write_text("not a certificate")
    (directory / "g2.pem").write_bytes(embedded_pem("digicert-global-root-g2"))
    (directory / "tls-rsa-root-g2.pem").write_bytes((DATA / "microsoft-tls-rsa-root-g2.pem").read_bytes())
    elsewhere = tmp_path / "without.pem"
    elsewhere.write_bytes(embedded_pem("microsoft-rsa-root-2017"))

    downloader = Downloader(DownloadSettings(ca_bundle=https.ca_file, retries=0))
    try:
        at = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
        proposal = propose(row_g2, downloader.get, [str(directory), str(elsewhere)], at)
    finally:
        downloader.close()
    assert proposal.ok and proposal.cert is not None
    assert proposal.cert.sha256 == TLS_ROOT_G2_SHA256
    assert [c.verdict for c in proposal.channels] == [AGREES, SILENT]
    assert proposal.root_id == "microsoft-tls-rsa-root-g2"
    assert f'sha256 = "{TLS_ROOT_G2_SHA256}"' in proposal.entry()


# ------------------------------------------------------------------ what status and probe learn from the list


def test_status_flags_a_published_azure_intermediate_in_a_managed_bundle(tmp_path: Path, run) -> None:
    bundle = tmp_path / "roots.pem"
    ocsp02 = (DATA / "microsoft-tls-g2-rsa-ca-ocsp-02.pem").read_bytes()
    bundle.write_bytes(embedded_pem("digicert-global-root-g2") + ocsp02)
    result = run("status", "--offline", "--profile", "azure-minimal", "--target", f"pem:{bundle}")
    flowing = " ".join(result.out.split())  # the finding wraps within 100 columns
    assert (
        "intermediate 'Microsoft TLS G2 RSA CA OCSP 02' at" in flowing
        and "is a published Azure intermediate (Microsoft TLS G2 RSA CA OCSP 02, SHA-1 "
        "f8a408b8fbeea077b75738658641be77154720eb): remove it: Azure rotates intermediates without notice"
        in flowing
    ), result.out


def test_an_intermediate_learnt_from_the_last_check_is_flagged_and_differences_show(
    tmp_path: Path, https: HttpsServer, run, new_root: Issued, state_dir: Path
) -> None:
    intermediate = make_intermediate(new_root, "Contoso TLS Issuing CA 09")
    bundle = tmp_path / "roots.pem"
    bundle.write_bytes(
        embedded_pem("digicert-global-root-g2") + embedded_pem("microsoft-rsa-root-2017") + intermediate.pem
    )
    status = ("status", "--offline", "--profile", "azure-minimal", "--target", f"pem:{bundle}", "--json")
    before = json.loads(run(*status).out)
    assert not any("published Azure intermediate" in f["message"] for f in before["findings"])
    assert before["catalog_check"] is None

    sub = row(
        "Contoso TLS Issuing CA 09", "https://example.invalid/ca09.crt", serial_of(intermediate), sha1_of(intermediate)
    )
    chains = "\n\n## Root Certificate Authority chains"
    page = PAGE.replace(chains, "\n" + sub + chains)
    page = "\n".join(line for line in page.splitlines() if "[DigiCert Global Root G3]" not in line)
    url = serve_page(https, page)
    checked = run(
        "catalog",
        "check",
        "--source",
        url,
        "--download-ca-bundle",
        str(https.ca_file),
        "--config",
        str(config_for(tmp_path)),
        "--state-dir",
        str(state_dir),
    )
    assert checked.code == 1, checked.out + checked.err

    after = json.loads(run(*status).out)
    messages = [f["message"] for f in after["findings"]]
    assert any(
        "'Contoso TLS Issuing CA 09'" in m and "published Azure intermediate" in m and "remove it" in m
        for m in messages
    ), messages
    assert any(
        "Azure's published CA list differs from the catalog" in m and "digicert-global-root-g3" in m for m in messages
    )
    assert after["catalog_check"]["ok"] is False and after["compliant"] is True  # news, not non-compliance
    text = run(*status[:-1])
    assert "Azure's published CA list: DIFFERS from the catalog" in text.out


def test_the_builtin_intermediates_are_the_real_certificates() -> None:
    """Each built-in SHA-1 is a certificate in tests/data that a catalog root (or the self-signed Microsoft
    TLS RSA Root G2) really signs: the list holds nothing that was not checked."""
    certs = {c.sha1: c for c in (parse_one(p.read_bytes()) for p in DATA.glob("*.pem"))}
    issuers = [parse_one(r.embedded_bytes() or b"") for r in Catalog.builtin().roots.values() if r.embedded]
    issuers.append(parse_one((DATA / "microsoft-tls-rsa-root-g2.pem").read_bytes()))
    assert len(published.BUILTIN_INTERMEDIATES) == 4
    for sha1, name in published.BUILTIN_INTERMEDIATES.items():
        cert = certs[sha1]
        assert name.startswith(cert.common_name)
        assert cert.is_ca and not cert.is_self_issued
        assert any(cert.signed_by(issuer) for issuer in issuers), name


# ------------------------------------------------------------------ the daemon's schedule, in process


def _daemon(tmp_path: Path, https: HttpsServer, page: str, *extra: str, check: str = "1d"):
    from rotator.cli.arguments import build_parser, flags_of
    from rotator.service.daemon import Daemon

    url = serve_page(https, page)
    config = config_for(tmp_path, extra=f'[daemon]\ncatalog_check = "{check}"\ncatalog_source = "{url}"\n')
    config.write_text(config.read_text().replace("[download]", f'[download]\nca_bundle = "{https.ca_file}"'))
    args = build_parser().parse_args(
        [
            "daemon",
            "--config",
            str(config),
            "--state-dir",
            str(tmp_path / "state"),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--target",
            f"pem:{tmp_path / 'roots.pem'}",
            *extra,
        ]
    )
    return Daemon(flags_of(args), {})


def _check_once(daemon) -> None:
    daemon._maybe_check()
    assert daemon.check_worker is not None
    daemon.check_worker.join(timeout=30)
    daemon._finish_check()


def test_daemon_check_schedule_and_status_line(tmp_path: Path, https: HttpsServer) -> None:
    import time

    page = "\n".join(line for line in PAGE.splitlines() if "[DigiCert Global Root G3]" not in line)
    daemon = _daemon(tmp_path, https, page)
    assert daemon.next_check <= time.monotonic()  # never checked: due at once
    daemon.status_line = "ok: 0 targets, 2 roots; no change"
    _check_once(daemon)
    assert daemon.check_record is not None and daemon.check_record.ok is False
    assert daemon._status().endswith("Azure's CA list differs from the catalog (1 difference: rotator catalog check)")
    assert daemon.next_check > time.monotonic() + 86000  # next in a day
    daemon._maybe_check()
    assert daemon.check_worker is None  # not due again

    # a restarted daemon keeps the time of the last check and the standing difference
    again = _daemon(tmp_path, https, page)
    assert again.next_check > time.monotonic() + 86000
    again.status_line = "ok"
    assert "differs from the catalog" in again._status()


def test_daemon_check_failure_is_retried_sooner_and_keeps_the_last_difference(
    tmp_path: Path, https: HttpsServer
) -> None:
    import time

    page = "\n".join(line for line in PAGE.splitlines() if "[DigiCert Global Root G3]" not in line)
    daemon = _daemon(tmp_path, https, page, check="7d")
    _check_once(daemon)
    https.serve(PAGE_PATH, Reply(status=503))
    daemon.next_check = time.monotonic()
    _check_once(daemon)
    record = daemon.check_record
    assert record is not None and record.ok is None and "HTTP 503" in (record.error or "")
    daemon.status_line = "ok"
    assert daemon._status() == "ok; Azure's CA list differed at the last read, unreadable since"
    assert time.monotonic() + 6 * 3600 - 60 < daemon.next_check < time.monotonic() + 6 * 3600 + 60


@pytest.mark.parametrize(("check", "extra"), [("off", ()), ("1d", ("--offline",))])
def test_daemon_never_checks_when_off_or_offline(
    tmp_path: Path, https: HttpsServer, check: str, extra: tuple[str, ...]
) -> None:
    daemon = _daemon(tmp_path, https, PAGE, *extra, check=check)
    assert daemon.next_check == float("inf")
    daemon._maybe_check()
    assert daemon.check_worker is None
    daemon.status_line = "ok"
    assert daemon._status() == "ok"


# ------------------------------------------------------------------ one way to run a check and keep its record
# ``rotator.upstream.check.run_and_keep`` serves `rotator catalog check` and the daemon: each case runs in both.

CALLERS = ("by hand", "daemon")


def _check_as(caller: str, run, https: HttpsServer, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> str:
    """One check of PAGE as ``caller`` runs it; what it said (stderr by hand, the log for the daemon)."""
    if caller == "by hand":
        result = check(run, https, tmp_path, PAGE)
        return f"exit {result.code}\n{result.err}"
    import time

    daemon = _daemon(tmp_path, https, PAGE)
    daemon.next_check = time.monotonic()  # due now, whatever the last record says
    caplog.clear()
    with caplog.at_level(logging.INFO):
        _check_once(daemon)
    if "not kept" not in caplog.text:
        assert daemon.check_record == published.load(tmp_path / "state")  # what it knows is what it kept
    return caplog.text


@pytest.mark.parametrize("caller", CALLERS)
def test_a_crash_in_the_check_is_logged_and_recorded_keeping_the_last_read(
    tmp_path: Path,
    https: HttpsServer,
    run,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    caller: str,
) -> None:
    _check_as(caller, run, https, tmp_path, caplog)
    learnt = published.load(tmp_path / "state")
    assert learnt is not None and learnt.ok is True and learnt.intermediates

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(check_mod, "run", crash)
    said = _check_as(caller, run, https, tmp_path, caplog)
    assert "catalog check crashed" in said and "RuntimeError: boom" in said
    if caller == "by hand":
        assert said.startswith("exit 1\n")
    record = published.load(tmp_path / "state")
    assert record is not None and record.ok is None and record.error == "internal error: boom"
    assert record.intermediates == learnt.intermediates and record.last_read == learnt.last_read


@pytest.mark.parametrize("caller", CALLERS)
def test_a_record_that_cannot_be_saved_is_a_warning_and_the_check_stands(
    tmp_path: Path,
    https: HttpsServer,
    run,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    caller: str,
) -> None:
    def disk_full(state_dir: Path, record: published.CheckRecord) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(published, "save", disk_full)
    said = _check_as(caller, run, https, tmp_path, caplog)
    state = tmp_path / "state"
    assert f"the result was not kept in {state} ([Errno 28] No space left on device); status will not show it" in said
    if caller == "by hand":
        assert said.startswith("exit 0\n") and "rotator: warning: the result was not kept" in said
    else:
        assert "Azure's published CA list agrees with the catalog" in said
    assert not (state / published.FILE_NAME).exists()


@pytest.mark.parametrize("caller", CALLERS)
def test_a_damaged_record_is_replaced_by_the_next_check(
    tmp_path: Path, https: HttpsServer, run, caplog: pytest.LogCaptureFixture, caller: str
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / published.FILE_NAME).write_text("{not json")
    said = _check_as(caller, run, https, tmp_path, caplog)
    assert "not kept" not in said
    record = published.load(state)
    assert record is not None and record.ok is True and record.error is None and record.intermediates


def test_a_mistyped_source_path_is_a_usage_error_and_nothing_is_recorded(tmp_path: Path, run) -> None:
    state = tmp_path / "state"
    result = run("catalog", "check", "--source", str(tmp_path / "ca-lsit.md"), "--state-dir", str(state))
    assert result.code == 2
    assert result.err == (
        f"rotator: error: --source: {tmp_path / 'ca-lsit.md'} not found; "
        "save the CA list's markdown source to a file, or give an https URL\n"
    )
    assert not (state / "catalog-check.json").exists()  # not "Azure's list failed" in status
