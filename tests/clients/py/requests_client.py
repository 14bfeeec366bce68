"""requests with its default verification (``verify=True``: REQUESTS_CA_BUNDLE, else certifi):
``requests_client.py NAME=URL...``. Prints one JSON line per server: connects, refuses or error.
"""

import json
import sys

import requests


def attempt(url: str) -> tuple[str, str]:
    try:
        response = requests.get(url, timeout=10)
    except requests.exceptions.SSLError as exc:
        return ("refuses" if "CERTIFICATE_VERIFY_FAILED" in str(exc) else "error"), str(exc)
    except requests.RequestException as exc:
        return "error", f"{type(exc).__name__}: {exc}"
    return ("connects" if response.status_code == 200 else "error"), f"HTTP {response.status_code}"


def main() -> None:
    for endpoint in sys.argv[1:]:
        chain, url = endpoint.split("=", 1)
        result, detail = attempt(url)
        print(json.dumps({"chain": chain, "result": result, "detail": detail}), flush=True)


main()
