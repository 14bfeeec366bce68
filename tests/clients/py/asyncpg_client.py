"""asyncpg with an ``ssl.SSLContext`` made from a CA file: ``asyncpg_client.py CAFILE NAME=PORT...``.

Prints one JSON line per server: connects, refuses (a certificate verify error) or error.
"""

import asyncio
import json
import ssl
import sys

import asyncpg


async def attempt(context: ssl.SSLContext, port: int) -> tuple[str, str]:
    try:
        conn = await asyncpg.connect(
            host="localhost", port=port, user="postgres", database="postgres", ssl=context, timeout=10
        )
    except ssl.SSLCertVerificationError as exc:
        return "refuses", str(exc)
    except Exception as exc:
        return "error", f"{type(exc).__name__}: {exc}"
    try:
        return "connects", str(await conn.fetchval("select version from pg_stat_ssl where pid = pg_backend_pid()"))
    finally:
        await conn.close()


async def main() -> None:
    context = ssl.create_default_context(cafile=sys.argv[1])  # the file only; the name is checked
    for endpoint in sys.argv[2:]:
        chain, port = endpoint.split("=")
        result, detail = await attempt(context, int(port))
        print(json.dumps({"chain": chain, "result": result, "detail": detail}), flush=True)


asyncio.run(main())
