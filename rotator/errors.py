"""One error tree. Every message says what failed, where, and the next step.

Only ``rotator.cli.main`` turns these into output and exit codes: ``exit_code`` is 1
for a failure (nothing partially written) and 2 for a usage or config error.
"""

from __future__ import annotations


class RotatorError(Exception):
    """Base of every error rotator reports to the user."""

    exit_code = 1


class ConfigError(RotatorError):
    """The configuration or the command line is wrong: nothing was attempted."""

    exit_code = 2


class SourceError(RotatorError):
    """A candidate source could not deliver a usable certificate (try the next one).

    ``short`` is the gist in a few words ("DNS", "connection refused", "HTTP 404") for the one
    line a user sees per root; the message keeps the detail.
    """

    def __init__(self, message: str, short: str = "") -> None:
        super().__init__(message)
        self.short = short or message


class PinMismatch(RotatorError):
    """A source served a certificate that contradicts its pin: a security event.

    Never a reason to fall back quietly: the run stops before any target is written.
    """

    def __init__(self, root_id: str, location: str, expected: str, received: str, *, local_file: bool = False) -> None:
        self.root_id = root_id
        self.location = location
        self.expected = expected
        self.received = received
        if local_file:
            # The user's own file: nothing in transit to blame.
            message = (
                f"the file {location} of root {root_id!r} holds another certificate than the pinned one: "
                f"expected SHA-256 {expected}, found {received}; nothing was written. "
                "Put the right certificate in the file, or correct the root's sha256 in the config"
            )
        else:
            message = (
                f"{location} served a certificate for root {root_id!r} that does not match its pin: "
                f"expected SHA-256 {expected}, received {received}; nothing was written. "
                "Check for a TLS-intercepting proxy or a tampered mirror before trusting this source"
            )
        super().__init__(message)


class RootUnavailable(RotatorError):
    """No candidate source produced a verified copy of a root."""


class StoreError(RotatorError):
    """A trust store could not be read, planned or written; it was left as it was."""


class LockTimeout(RotatorError):
    """Another rotator run holds the lock for longer than we are willing to wait."""


class ServerUnreachable(RotatorError):
    """``rotator probe`` could not get a TLS chain from the server: nothing was judged.

    ``reason`` is a short stable word for scripts: refused, timeout, unresolved, unreachable,
    no-ssl, closed or handshake.
    """

    exit_code = 2

    def __init__(self, endpoint: object, reason: str, detail: str) -> None:
        self.endpoint = str(endpoint)
        self.reason = reason
        self.detail = detail
        super().__init__(f"cannot probe {self.endpoint}: {detail}")
