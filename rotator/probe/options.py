"""The choices ``rotator probe`` offers, apart from the code that connects and judges.

The command line is built from these on every run, and must not load ssl and the X.509
verifier to do so: only ``probe`` itself needs them.
"""

from __future__ import annotations

STARTTLS = ("postgres",)
DEFAULT_TIMEOUT = 10.0

VERIFY_FULL = "verify-full"
VERIFY_CA = "verify-ca"
SSLMODES = (VERIFY_FULL, VERIFY_CA)
