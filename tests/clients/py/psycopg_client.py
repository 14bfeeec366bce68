"""psycopg (its binary wheel) with sslmode=verify-full: ``psycopg_client.py ROOTCERT NAME=PORT...``.

ROOTCERT is a file or ``system`` (the wheel's own OpenSSL store, which SSL_CERT_FILE/SSL_CERT_DIR redirect).
Prints one JSON line per server: connects, refuses (a certificate verify error) or error.
"""

import json
import sys

import psycopg


def attempt(rootcert: str, port: str) -> tuple[str, str]:
    conninfo = (
        f"host=localhost hostaddr=127.0.0.1 port={port} user=postgres dbname=postgres "
        f"sslmode=verify-full sslrootcert={rootcert} connect_timeout=10"
    )
    try:
        with psycopg.connect(conninfo) as conn:
            row = conn.execute("select version from pg_stat_ssl where pid = pg_backend_pid()").fetchone()
            return "connects", str(row[0] if row else "")
    except psycopg.OperationalError as exc:
        message = str(exc).strip()
        return ("refuses" if "certificate verify failed" in message else "error"), message


def main() -> None:
    rootcert = sys.argv[1]
    for endpoint in sys.argv[2:]:
        chain, port = endpoint.split("=")
        result, detail = attempt(rootcert, port)
        print(json.dumps({"chain": chain, "result": result, "detail": detail}), flush=True)


main()
