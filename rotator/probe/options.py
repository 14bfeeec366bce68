"""The choices ``rotator probe`` offers, apart from the code that connects and judges.

The command line is built from these on every run, and must not load ssl and the X.509
verifier to do so: only ``probe`` itself needs them.
"""

from __future__ import annotations

STARTTLS = ("postgres", "mysql")
DEFAULT_TIMEOUT = 10.0

VERIFY_FULL = "verify-full"
VERIFY_CA = "verify-ca"
SSLMODES = (VERIFY_FULL, VERIFY_CA)


MAX_NAME = 253  # a DNS name, without its final dot


def check_servername(value: str) -> str | None:
    """Why ``value`` cannot be the name a client connects to, or None when it can.

    The name checked against the certificate is a host name (LDH labels, RFC 1123) or an IP address,
    as libpq, pgjdbc and every TLS client send it. A wildcard is what a certificate holds, never what
    a client asks for. A name in another script is refused rather than converted: the client sends
    its A-label (``xn--...``), and that is the name to give, so the check is of the name really sent.
    """
    if not value:
        return "empty; give the name clients connect to (e.g. myserver.postgres.database.azure.com)"
    import ipaddress  # on this path only

    try:
        ipaddress.ip_address(value)
        return None
    except ValueError:
        pass
    if not value.isascii():
        try:
            a_label = value.encode("idna").decode("ascii")
        except UnicodeError:
            return "not ASCII, and not a name IDNA can encode; give the A-label (xn--...) clients send"
        if check_servername(a_label) is not None:  # IDNA keeps ASCII as it is: control characters, "_", ...
            return "not ASCII, and its IDNA form is not a host name either; give the A-label (xn--...) clients send"
        return f"not ASCII; give the A-label clients send: {a_label}"
    name = value[:-1] if value.endswith(".") else value
    if "*" in name:
        return "a wildcard is a certificate's pattern, not a name to connect to; give the full host name"
    if not name or len(name) > MAX_NAME:
        return f"not a host name (1 to {MAX_NAME} characters)"
    for label in name.split("."):
        if not label:
            return "an empty label (two dots in a row, or a leading dot); write labels separated by single dots"
        if len(label) > 63 or not all(c.isalnum() or c == "-" for c in label):
            return f"label {label!r} is not letters, digits and '-' (at most 63)"
        if label.startswith("-") or label.endswith("-"):
            return f"label {label!r} starts or ends with '-'"
    return None
