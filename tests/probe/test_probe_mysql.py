"""probe --starttls mysql against small fake servers: the greeting, the SSLRequest, every way a server
that is not MySQL, offers no TLS or refuses the client is named; the negotiated TLS version and cipher,
and TLS 1.0/1.1 flagged. (A real MariaDB server: test_rehearsal_mysql.py.)"""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path

import pytest

from rotator.probe.tlsfetch import (
    CLIENT_PROTOCOL_41,
    CLIENT_SSL,
    mysql_ssl_request,
    parse_endpoint,
    parse_mysql_greeting,
    port_hint,
)
from tests.support.pki import Issued, Rotation, make_rotation
from tests.support.runs import run_process
from tests.support.tls_server import (
    FakeMysql,
    HangUp,
    Plaintext,
    Silent,
    TlsServer,
    mysql_error,
    mysql_greeting,
    server_context,
    serving,
)


@pytest.fixture(scope="module")
def pki() -> Rotation:
    return make_rotation("MySQL Probe")


def bundle(path: Path, *certs: Issued) -> Path:
    path.write_bytes(b"".join(c.pem for c in certs))
    return path


# ------------------------------------------------------------------ the packets


def test_greeting_is_parsed_for_version_and_both_halves_of_the_flags() -> None:
    greeting = parse_mysql_greeting(mysql_greeting("8.0.36-azure")[4:])
    assert greeting.server_version == "8.0.36-azure"
    assert greeting.capabilities & CLIENT_SSL
    assert greeting.capabilities >> 16 == 0xFFFF  # the upper flags are read too
    assert not parse_mysql_greeting(mysql_greeting(ssl=False)[4:]).capabilities & CLIENT_SSL
    for bad in (b"", b"\x09old\x00", b"\x0a8.0.36", b"\x0a8.0\x00\x01\x02"):
        with pytest.raises(ValueError):
            parse_mysql_greeting(bad)


def test_ssl_request_is_32_bytes_with_sequence_1() -> None:
    packet = mysql_ssl_request(0xFFFFFFFF)
    assert packet[:4] == b"\x20\x00\x00\x01"
    flags, max_packet, charset = struct.unpack("<IIB", packet[4:13])
    assert flags & CLIENT_SSL and flags & CLIENT_PROTOCOL_41
    assert (max_packet, charset, packet[13:]) == (1 << 24, 33, b"\x00" * 23)
    # Never more than the server offers, but always SSL and protocol 4.1.
    assert struct.unpack("<I", mysql_ssl_request(0)[4:8])[0] == CLIENT_SSL | CLIENT_PROTOCOL_41


def test_mysql_default_port_is_3306() -> None:
    assert parse_endpoint("db.mysql.database.azure.com", "mysql").port == 3306
    assert parse_endpoint("db.mysql.database.azure.com:3307", "mysql").port == 3307


def test_a_well_known_port_suggests_its_protocol_unless_spoken() -> None:
    assert port_hint(parse_endpoint("db:3306")) == "; port 3306 is MySQL's: try --starttls mysql"
    assert port_hint(parse_endpoint("db:5432")) == "; port 5432 is PostgreSQL's: try --starttls postgres"
    assert port_hint(parse_endpoint("db:5432", "mysql")) == "; port 5432 is PostgreSQL's: try --starttls postgres"
    assert port_hint(parse_endpoint("db", "mysql")) == ""
    assert port_hint(parse_endpoint("db", "postgres")) == ""
    assert port_hint(parse_endpoint("db:443")) == ""


# ------------------------------------------------------------------ what a server that cannot be probed says


def test_a_greeting_without_client_ssl_is_no_ssl(run) -> None:
    with serving(FakeMysql(mysql_greeting("8.0.36-nossl", ssl=False))) as server:
        result = run("probe", f"127.0.0.1:{server.port}", "--starttls", "mysql", "--json", "--timeout", "5")
    assert result.code == 2
    assert json.loads(result.out)["reason"] == "no-ssl"
    (line,) = result.err.splitlines()
    assert "server does not support SSL (its MySQL greeting, 8.0.36-nossl, lacks CLIENT_SSL" in line


def test_an_error_packet_instead_of_the_greeting_is_named_with_the_next_step(run) -> None:
    refusal = mysql_error(1130, "Host '10.1.2.3' is not allowed to connect to this MySQL server")
    with serving(FakeMysql(refusal)) as server:
        result = run("probe", f"127.0.0.1:{server.port}", "--starttls", "mysql", "--timeout", "5")
    assert result.code == 2
    (line,) = result.err.splitlines()
    assert "the MySQL server refused the connection before TLS: error 1130: Host '10.1.2.3' is not allowed" in line
    assert "allow this client's address in the server's firewall rules" in line


@pytest.mark.parametrize(
    ("first", "said"),
    [
        (b"220 mail.example.org ESMTP ready\r\n", "the server sent '220 mail.example.org ESMTP"),
        (b"\x05\x00\x00\x00\x09old\x00", "protocol version 09, not 0a"),
        (b"\x16\x03\x03\x00\x10" + b"\x00" * 16, "a TLS record: the server speaks TLS directly; leave out --starttls"),
    ],
)
def test_a_server_that_is_not_mysql_is_named(run, first: bytes, said: str) -> None:
    with serving(FakeMysql(first)) as server:
        result = run("probe", f"127.0.0.1:{server.port}", "--starttls", "mysql", "--json", "--timeout", "5")
    assert result.code == 2
    doc = json.loads(result.out)
    assert doc["reason"] == "handshake"
    assert said in doc["error"]
    assert len(result.err.splitlines()) == 1


def test_a_silent_server_is_no_greeting_within_the_one_deadline(run) -> None:
    with serving(Silent()) as server:
        started = time.monotonic()
        result = run("probe", f"127.0.0.1:{server.port}", "--starttls", "mysql", "--timeout", "0.5")
    assert result.code == 2
    assert time.monotonic() - started < 3
    assert "no MySQL greeting within 0.5s" in result.err and "is this a MySQL server?" in result.err


def test_postgres_sslrequest_to_a_mysql_server_suggests_mysql(run) -> None:
    with serving(FakeMysql(mysql_greeting("10.11.19-MariaDB"))) as server:
        result = run("probe", f"127.0.0.1:{server.port}", "--starttls", "postgres", "--timeout", "5")
    assert result.code == 2
    assert "the server sent a MySQL greeting (10.11.19-MariaDB) instead of answering PostgreSQL's SSLRequest" in (
        result.err
    )
    assert "try --starttls mysql" in result.err


# ------------------------------------------------------------------ the TLS that follows


@pytest.mark.slow
def test_starttls_mysql_gets_the_chain_and_names_version_and_cipher(tmp_path: Path, pki: Rotation, run) -> None:
    store = bundle(tmp_path / "old.pem", pki.old_root)
    context = server_context(tmp_path / "srv", pki.old, pki.old_leaf)
    with serving(FakeMysql(mysql_greeting("8.0.36-fake"), context)) as server:
        text = run("probe", f"localhost:{server.port}", "--starttls", "mysql", "--target", f"pem:{store}")
        doc = run("probe", f"localhost:{server.port}", "--starttls", "mysql", "--target", f"pem:{store}", "--json")
    assert text.code == 0, text.out + text.err
    assert "(MySQL SSLRequest, then TLSv1.3)" in text.out
    assert "negotiated TLSv1.3, cipher TLS_" in text.out
    assert "server version 8.0.36-fake (from its MySQL greeting)" in text.out
    assert all(len(line) <= 100 for line in text.out.splitlines() if not line.startswith(("probe ", "  pem:")))
    report = json.loads(doc.out)
    assert (report["starttls"], report["tls_version"], report["tls_legacy"]) == ("mysql", "TLSv1.3", False)
    assert report["tls_cipher"].startswith("TLS_")
    assert report["server_version"] == "8.0.36-fake"
    assert [c["sha256"] for c in report["chain"]] == [pki.old_leaf.sha256, pki.old_ca.sha256]
    # What the server read before TLS: one SSLRequest per probe, sequence 1, CLIENT_SSL set.
    assert len(server.requests) == 2
    assert all(r[:4] == b"\x20\x00\x00\x01" and struct.unpack("<I", r[4:8])[0] & CLIENT_SSL for r in server.requests)


@pytest.mark.slow
def test_tls_below_1_2_is_negotiated_and_flagged(tmp_path: Path, pki: Rotation, run) -> None:
    store = bundle(tmp_path / "old.pem", pki.old_root)
    with serving(TlsServer(tmp_path / "srv", pki.old, pki.old_leaf, legacy=True)) as server:
        text = run("probe", f"localhost:{server.port}", "--target", f"pem:{store}")
        doc = run("probe", f"localhost:{server.port}", "--target", f"pem:{store}", "--json")
    assert text.code == 0, text.out + text.err  # the stores trust the chain; the version is a finding
    assert "negotiated TLSv1.1, cipher " in text.out and "BELOW TLS 1.2 (Azure refuses it)" in text.out
    assert "warning: the server negotiated TLSv1.1: Azure refuses TLS below 1.2, and so do default clients" in text.out
    assert all(len(line) <= 100 for line in text.out.splitlines() if line.startswith(("negotiated", "warning")))
    report = json.loads(doc.out)
    assert (report["tls_version"], report["tls_legacy"]) == ("TLSv1.1", True)
    assert any("TLS below 1.2" in w for w in report["warnings"])


@pytest.mark.slow
def test_plain_tls_to_a_mysql_server_says_so(run) -> None:
    with serving(FakeMysql(mysql_greeting("8.0.36-fake"))) as server:
        result = run("probe", f"127.0.0.1:{server.port}", "--timeout", "5")
    assert result.code == 2
    (line,) = result.err.splitlines()
    assert "the server sent a MySQL greeting (8.0.36-fake) instead of TLS" in line
    assert "try --starttls mysql" in line
    assert "PostgreSQL" not in line


@pytest.mark.slow
def test_plain_tls_to_a_server_that_hangs_up_asks_whether_it_is_postgres(run) -> None:
    with serving(HangUp()) as server:
        result = run("probe", f"127.0.0.1:{server.port}", "--timeout", "5")
    assert result.code == 2
    (line,) = result.err.splitlines()
    assert "the server closed the connection without sending a byte" in line
    assert line.endswith("is this PostgreSQL? try --starttls postgres")
    assert "mysql" not in line


@pytest.mark.slow
def test_plain_tls_to_something_else_suggests_no_database(run) -> None:
    with serving(Plaintext()) as server:
        result = run("probe", f"127.0.0.1:{server.port}", "--timeout", "5")
    assert result.code == 2
    assert "TLS handshake error" in result.err
    assert "--starttls" not in result.err


@pytest.mark.slow
def test_the_mysql_path_is_bounded_by_one_deadline() -> None:
    """A greeting right away, then a TLS handshake that never ends: cut off at --timeout, all steps together."""
    with serving(FakeMysql(mysql_greeting(), context=None)) as server:
        started = time.monotonic()
        result = run_process("probe", f"127.0.0.1:{server.port}", "--starttls", "mysql", "--timeout", "1.5")
        elapsed = time.monotonic() - started
    assert result.code == 2, result.out + result.err
    assert "TLS handshake did not finish within 1.5s" in result.err
    assert elapsed < 4, f"{elapsed:.1f}s"
