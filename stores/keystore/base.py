"""What both keystore formats share: the format of a file, a loaded store, and the problems it can have.

Nothing here knows paths or targets: problems are raised as ``KeystoreProblem`` with a
``reason`` the store turns into a message naming the file and the next step.

A store is only rewritten when rotator can show it will not lose or change what it does not
own. For JKS that is proven directly: the loaded store, serialized again unchanged, must give
back the file's exact bytes (private key entries stay encrypted and are copied verbatim).
For PKCS#12 (``stores.keystore.pkcs12``) every bag rotator does not own is kept byte for
byte, and a bag it could not write back (a private or secret key, a CRL) makes the store refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rotator.records import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from typing import ClassVar

JKS_MAGIC = bytes.fromhex("feedfeed")
JCEKS_MAGIC = bytes.fromhex("cececece")


# Plain classes with one instance per member rather than enums: creating an enum class is a
# tenth of a millisecond or more each, paid by every run that has a keystore target, and these
# are only ever compared by identity and printed.
class Format:
    """A keystore file format; ``value`` is its name as keytool spells it."""

    __slots__ = ("value",)
    JKS: ClassVar[Format]
    PKCS12: ClassVar[Format]

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"Format.{self.value}"


Format.JKS = Format("JKS")
Format.PKCS12 = Format("PKCS12")


class Reason:
    """Why a store cannot be opened or written back."""

    __slots__ = ("value",)
    PASSWORD: ClassVar[Reason]  # the password did not open the store
    DAMAGED: ClassVar[Reason]  # truncated, corrupt, not a keystore
    UNSUPPORTED: ClassVar[Reason]  # readable, but cannot be written back safely

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"Reason.{self.value.upper()}"


Reason.PASSWORD = Reason("password")
Reason.DAMAGED = Reason("damaged")
Reason.UNSUPPORTED = Reason("unsupported")


# Both formats check integrity with a MAC keyed by the password: a wrong password and
# altered bytes fail the same check, and nothing can tell them apart.
INTEGRITY_FAILED = (
    "the password did not open the store (integrity check failed: wrong password, or the file was altered)"
)


class KeystoreProblem(Exception):
    def __init__(self, reason: Reason, detail: str, step: str = "") -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.step = step  # the next step, when this problem has its own


def detect(data: bytes) -> Format:
    """The format of an existing store, from its first bytes (never from a name or kind)."""
    if not data:
        raise KeystoreProblem(Reason.DAMAGED, "the file is empty")
    if data[:4] == JKS_MAGIC:
        return Format.JKS
    if data[:4] == JCEKS_MAGIC:
        raise KeystoreProblem(
            Reason.UNSUPPORTED,
            "it is a JCEKS keystore, which rotator cannot write back",
            "convert it with keytool -importkeystore -deststoretype PKCS12 and point the target at the copy",
        )
    if _is_bouncy_castle(data):
        raise KeystoreProblem(
            Reason.UNSUPPORTED,
            "it is a Bouncy Castle keystore (BKS or UBER), which rotator cannot read or write",
            "it is not damaged and must not be replaced; to manage its roots, convert a copy to PKCS12 "
            "(keytool -importkeystore with the Bouncy Castle provider) and point the target at the copy",
        )
    if data[0] == 0x30:
        return Format.PKCS12
    raise KeystoreProblem(
        Reason.DAMAGED, f"it is not a keystore (starts with {data[:4].hex()}, neither JKS nor PKCS12)"
    )


def integrity_check(data: bytes) -> bytes:
    """The bytes a store's password is checked against: JKS's trailing SHA-1, PKCS#12's MAC;
    empty for a store without one (a PKCS#12 file without a MAC opens with any password)."""
    if data[:4] == JKS_MAGIC:
        return data[-20:] if len(data) > 24 else b""
    if data[:1] != b"\x30":
        return b""
    from rotator.der import DerError, read_exact

    try:
        parts = read_exact(data).children()
        if len(parts) != 3:
            return b""
        digest_info = parts[2].children()[0]  # MacData: mac DigestInfo, macSalt, iterations
        return digest_info.children()[1].value
    except (DerError, IndexError):
        return b""


def _is_bouncy_castle(data: bytes) -> bool:
    """BKS (version 1 or 2) and UBER start alike: a version, a salt with its length, an iteration count."""
    if len(data) < 12 or data[:4] not in (b"\x00\x00\x00\x01", b"\x00\x00\x00\x02"):
        return False
    salt_length = int.from_bytes(data[4:8], "big")
    if not 0 < salt_length <= 64 or len(data) < 12 + salt_length:
        return False
    iterations = int.from_bytes(data[8 + salt_length : 12 + salt_length], "big")
    return 0 < iterations < 10_000_000


class TrustedCert(NamedTuple):
    alias: str | None  # PKCS#12 certificates may lack a friendly name
    der: bytes


class Keystore:
    """A loaded store: its trusted certificates, and a way to write it back changed."""

    format: Format
    notes: tuple[str, ...] = ()

    def trusted(self) -> list[TrustedCert]:
        raise NotImplementedError

    def render(self, remove: Iterable[str], add: Sequence[TrustedCert]) -> bytes:
        """The store's bytes with the aliases in ``remove`` gone and ``add`` appended."""
        raise NotImplementedError
