"""Driving the real keytool (and java) from tests. Passwords go through the environment, never argv."""

from __future__ import annotations

import os
import re
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

KEYTOOL = shutil.which("keytool") or "/usr/bin/keytool"
JAVA = shutil.which("java") or "/usr/bin/java"
MACHINE_CACERTS = Path("/etc/ssl/certs/java/cacerts")
TLS_CLIENT = Path(__file__).resolve().parent / "java" / "TlsClient.java"
PW_VAR = "ROTATOR_TEST_KT_PW"


@dataclass(frozen=True)
class KeytoolEntry:
    alias: str
    kind: str  # trustedCertEntry, PrivateKeyEntry, SecretKeyEntry
    sha256: str  # lower-case hex, no colons


def keytool(
    *args: str, password: str | None = None, stdin: str = "", check: bool = True, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    argv = [KEYTOOL, *args]
    if password is not None:
        env[PW_VAR] = password
    proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=env, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"keytool {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def storepass(password: str) -> list[str]:
    """keytool's password arguments: from the environment, or none at all (empty password)."""
    return ["-storepass:env", PW_VAR] if password else []


def entries(path: Path, password: str, storetype: str | None = None) -> list[KeytoolEntry]:
    """Every entry as ``keytool -list -v`` reports it."""
    args = ["-list", "-v", "-keystore", str(path), *storepass(password)]
    if storetype:
        args += ["-storetype", storetype]
    out = keytool(*args, password=password, stdin="\n").stdout
    found = []
    for block in out.split("Alias name: ")[1:]:
        alias = block.splitlines()[0].strip()
        kind = re.search(r"Entry type: (\S+)", block)
        digest = re.search(r"SHA256: ([0-9A-F:]+)", block)
        assert kind and digest, block[:500]
        found.append(KeytoolEntry(alias, kind.group(1), digest.group(1).replace(":", "").lower()))
    return found


def by_alias(path: Path, password: str, storetype: str | None = None) -> dict[str, tuple[str, str]]:
    return {e.alias: (e.kind, e.sha256) for e in entries(path, password, storetype)}


def copy_to_pkcs12(source: Path, source_password: str, dest: Path, dest_password: str) -> None:
    env_names = {"SRC": source_password, "DST": dest_password}
    env = dict(os.environ)
    env.update({f"ROTATOR_TEST_{k}": v for k, v in env_names.items()})
    proc = subprocess.run(
        [
            KEYTOOL,
            "-importkeystore",
            "-noprompt",
            "-srckeystore",
            str(source),
            "-srcstorepass:env",
            "ROTATOR_TEST_SRC",
            "-destkeystore",
            str(dest),
            "-deststoretype",
            "PKCS12",
            "-deststorepass:env",
            "ROTATOR_TEST_DST",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@contextmanager
def tls_server(cert_chain: Path, key: Path) -> Iterator[int]:
    """A TLS server on 127.0.0.1 that completes handshakes and closes; yields its port."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_chain, key)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.5)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(10)
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.sendall(b"hello\n")
            except (OSError, ssl.SSLError):
                conn.close()  # an untrusting client aborts the handshake: expected

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=5)


def java_client(port: int, store: Path, storetype: str, password: str | None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("TRUSTSTORE_PASSWORD", None)
    if password is not None:
        env["TRUSTSTORE_PASSWORD"] = password
    return subprocess.run(
        [JAVA, str(TLS_CLIENT), "127.0.0.1", str(port), str(store), storetype],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
