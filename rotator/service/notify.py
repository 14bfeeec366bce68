"""The systemd notify protocol: READY, STATUS, WATCHDOG and STOPPING over $NOTIFY_SOCKET."""

from __future__ import annotations

import logging
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)


class Notifier:
    """Sends datagrams to systemd; a no-op when not started by systemd (no NOTIFY_SOCKET)."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        address = environ.get("NOTIFY_SOCKET", "")
        # An abstract socket is written with a leading '@' in the environment.
        self.address = "\0" + address[1:] if address.startswith("@") else address
        usec = environ.get("WATCHDOG_USEC", "")
        self.watchdog_seconds = int(usec) / 1_000_000 if usec.isdigit() and int(usec) > 0 else None

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def send(self, *fields: str) -> None:
        if not self.address:
            return
        message = "\n".join(fields).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                # Never block the service on a reader that has stopped reading.
                sock.setblocking(False)
                sock.connect(self.address)
                sock.send(message)
        except BlockingIOError:
            log.debug("systemd notify socket is full; dropped %r", message)
        except OSError as exc:
            log.warning("could not notify systemd at %s: %s", self.address.replace("\0", "@"), exc.strerror)

    def status(self, text: str) -> None:
        self.send(f"STATUS={text}")
