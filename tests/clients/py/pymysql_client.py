"""PyMySQL with ``ssl_ca`` and the name verified: ``pymysql_client.py CAFILE NAME=PORT...``.

Prints one JSON line per server: connects, refuses (a certificate verify error) or error.
"""

import json
import ssl
import sys

import pymysql


def attempt(cafile: str, port: int) -> tuple[str, str]:
    try:
        conn = pymysql.connect(
            host="localhost",
            port=port,
            user="root",
            password="",
            ssl_ca=cafile,
            ssl_verify_cert=True,
            ssl_verify_identity=True,
            connect_timeout=10,
        )
    except pymysql.err.OperationalError as exc:
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(exc):
            return "refuses", str(exc)
        return "error", str(exc)
    with conn, conn.cursor() as cursor:
        cursor.execute("show status like 'Ssl_version'")
        row = cursor.fetchone()
    return "connects", str(row[1] if row else "")


def main() -> None:
    for endpoint in sys.argv[2:]:
        chain, port = endpoint.split("=")
        result, detail = attempt(sys.argv[1], int(port))
        print(json.dumps({"chain": chain, "result": result, "detail": detail}), flush=True)


main()
