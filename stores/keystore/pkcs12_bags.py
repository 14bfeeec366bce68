"""PKCS#12 at the level of its bags, so a rewrite keeps every foreign entry exactly as it was.

Java trusts a certificate bag only when it carries Java's trusted-key-usage attribute; a store
made by ``openssl pkcs12 -export -nokeys`` has none, and keytool lists it as empty. Rebuilding
such a file from its certificates (what ``serialize_java_truststore`` does) would stamp the
attribute on every one of them and make Java trust what it did not trust before. So a rewrite
here keeps every bag rotator does not own as the very bytes it was, attributes included, in
the container it was in; only rotator's own bags are dropped or appended.

Containers encrypted with a password-based scheme are decrypted to read their bags, and a
changed container is encrypted again with the scheme and parameters it had (its contents are
public certificates: the encryption is kept for the clients that expect it, not for secrecy).
The MAC is computed again with its digest and iteration count and a fresh salt.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass, replace

from rotator.der import DerError, Tlv, encode_length, read_all, read_exact, sequence
from rotator.records import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

    from cryptography.hazmat.primitives.ciphers import Cipher, modes

# cryptography's ciphers are imported where a container is decrypted or encrypted: runs that do
# not touch a PKCS#12 store never load them.

OID_DATA = "1.2.840.113549.1.7.1"
OID_ENCRYPTED_DATA = "1.2.840.113549.1.7.6"
OID_CERT_BAG = "1.2.840.113549.1.12.10.1.3"
OID_X509_CERT = "1.2.840.113549.1.9.22.1"
OID_FRIENDLY_NAME = "1.2.840.113549.1.9.20"
OID_JAVA_TRUSTED = "2.16.840.1.113894.746875.1.1"  # Oracle's trusted-key-usage attribute
OID_PBES2 = "1.2.840.113549.1.5.13"
OID_PBKDF2 = "1.2.840.113549.1.5.12"
PBE_SHA1 = {  # PKCS#12 password-based schemes: (cipher, key length in bytes)
    "1.2.840.113549.1.12.1.3": ("3des", 24),
    "1.2.840.113549.1.12.1.5": ("rc2", 16),
    "1.2.840.113549.1.12.1.6": ("rc2", 5),
}
PBES2_CIPHERS = {
    "2.16.840.1.101.3.4.1.2": 16,
    "2.16.840.1.101.3.4.1.22": 24,
    "2.16.840.1.101.3.4.1.42": 32,
}
HMAC_PRF = {
    "1.2.840.113549.2.7": "sha1",
    "1.2.840.113549.2.8": "sha224",
    "1.2.840.113549.2.9": "sha256",
    "1.2.840.113549.2.10": "sha384",
    "1.2.840.113549.2.11": "sha512",
}
MAC_DIGESTS = {
    "1.3.14.3.2.26": "sha1",
    "2.16.840.1.101.3.4.2.4": "sha224",
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
}
# Far above what keytool (10,000) or openssl (2,048) use; a damaged count must not stall a run.
MAX_ITERATIONS = 1_000_000


class BagProblem(Exception):
    """The file cannot be read or written back at the bag level; ``damaged`` tells which."""

    def __init__(self, detail: str, *, damaged: bool = False) -> None:
        super().__init__(detail)
        self.damaged = damaged


@dataclass(frozen=True)
class Bag:
    raw: bytes  # the SafeBag exactly as it was in the file
    is_cert: bool
    type_oid: str
    der: bytes | None  # the certificate, for a certificate bag
    alias: str | None  # friendlyName
    java_trusted: bool  # carries Java's trusted-key-usage attribute


@dataclass(frozen=True)
class Container:
    raw: bytes  # the ContentInfo exactly as it was
    bags: tuple[Bag, ...]
    scheme: Tlv | None = None  # the encryption AlgorithmIdentifier; None for plain data
    changed: bool = False


@dataclass(frozen=True)
class Pfx:
    version: bytes  # raw INTEGER
    containers: tuple[Container, ...]
    mac_digest: str | None  # hashlib name; None when the file has no MAC
    mac_iterations: int
    mac_salt_length: int
    password: bytes  # the password encoding that opened the file (BMPString form for the MAC)
    password_utf8: bytes

    def bags(self) -> list[Bag]:
        return [bag for container in self.containers for bag in container.bags]


def _int(tlv: Tlv) -> int:
    if tlv.tag != 0x02 or not tlv.value:
        raise DerError("expected an INTEGER")
    return int.from_bytes(tlv.value, "big", signed=True)


def _iterations(tlv: Tlv) -> int:
    count = _int(tlv)
    if not 1 <= count <= MAX_ITERATIONS:
        raise BagProblem(f"it asks for {count} key derivation iterations (rotator accepts 1 to {MAX_ITERATIONS})")
    return count


def _octets(tlv: Tlv) -> bytes:
    if tlv.tag == 0x04:
        return tlv.value
    if tlv.tag == 0x24:  # constructed OCTET STRING (BER leftovers some writers use)
        return b"".join(_octets(part) for part in tlv.children())
    raise DerError("expected an OCTET STRING")


def bmp_password(password: str) -> bytes:
    """The PKCS#12 password encoding: UTF-16BE with a two-byte terminator."""
    return password.encode("utf-16-be") + b"\x00\x00"


def pkcs12_kdf(hash_name: str, password: bytes, salt: bytes, purpose: int, iterations: int, size: int) -> bytes:
    """RFC 7292 appendix B.2: the key derivation of PKCS#12's own schemes and its MAC."""
    u = hashlib.new(hash_name).digest_size
    v = hashlib.new(hash_name).block_size
    d = bytes([purpose]) * v

    def fill(data: bytes) -> bytes:
        if not data:
            return b""
        length = v * -(-len(data) // v)
        return (data * (length // len(data) + 1))[:length]

    i = bytearray(fill(salt) + fill(password))
    out = b""
    while len(out) < size:
        a = hashlib.new(hash_name, d + bytes(i)).digest()
        for _ in range(iterations - 1):
            a = hashlib.new(hash_name, a).digest()
        out += a
        b = int.from_bytes((a * (v // u + 1))[:v], "big") + 1
        for start in range(0, len(i), v):
            block = (int.from_bytes(i[start : start + v], "big") + b) % (1 << (8 * v))
            i[start : start + v] = block.to_bytes(v, "big")
    return out[:size]


def _cipher(scheme: Tlv, pfx_password: bytes, utf8_password: bytes) -> Cipher[modes.CBC] | _Rc2:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

    fields = scheme.children()
    oid = fields[0].oid()
    if oid in PBE_SHA1:
        name, key_size = PBE_SHA1[oid]
        salt_tlv, count_tlv = fields[1].children()[:2]
        salt, count = _octets(salt_tlv), _iterations(count_tlv)
        key = pkcs12_kdf("sha1", pfx_password, salt, 1, count, key_size)
        iv = pkcs12_kdf("sha1", pfx_password, salt, 2, count, 8)
        if name == "3des":
            from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES

            return Cipher(TripleDES(key), modes.CBC(iv))
        return _Rc2(key, iv)
    if oid == OID_PBES2:
        kdf, enc = fields[1].children()[:2]
        kdf_fields = kdf.children()
        if kdf_fields[0].oid() != OID_PBKDF2:
            raise BagProblem(f"it uses the key derivation {kdf_fields[0].oid()}, which rotator cannot read")
        params = kdf_fields[1].children()
        salt, count = _octets(params[0]), _iterations(params[1])
        prf = "sha1"
        for extra in params[2:]:
            if extra.tag == 0x30:
                prf_oid = extra.children()[0].oid()
                if prf_oid not in HMAC_PRF:
                    raise BagProblem(f"it uses the PRF {prf_oid}, which rotator cannot read")
                prf = HMAC_PRF[prf_oid]
        enc_fields = enc.children()
        if enc_fields[0].oid() not in PBES2_CIPHERS:
            raise BagProblem(f"it uses the cipher {enc_fields[0].oid()}, which rotator cannot read")
        iv = _octets(enc_fields[1])
        if len(iv) != 16:
            raise DerError("AES initialization vector is not 16 bytes")
        algorithm = getattr(hashes, prf.upper())()
        key = PBKDF2HMAC(algorithm, PBES2_CIPHERS[enc_fields[0].oid()], salt, count).derive(utf8_password)
        return Cipher(algorithms.AES(key), modes.CBC(iv))
    raise BagProblem(f"a container is encrypted with {oid}, which rotator cannot read")


class _Rc2:
    """RC2-CBC (40-bit in files from older JDKs) through pycryptodome, which pyjks already needs."""

    def __init__(self, key: bytes, iv: bytes) -> None:
        self.key = key
        self.iv = iv

    def _new(self) -> Any:
        from Cryptodome.Cipher import ARC2

        new: Any = ARC2.new
        return new(self.key, ARC2.MODE_CBC, iv=self.iv, effective_keylen=len(self.key) * 8)

    def decrypt(self, data: bytes) -> bytes:
        out: bytes = self._new().decrypt(data)
        return out

    def encrypt(self, data: bytes) -> bytes:
        out: bytes = self._new().encrypt(data)
        return out


def _block_size(cipher: Cipher[modes.CBC] | _Rc2) -> int:
    from cryptography.hazmat.primitives.ciphers import BlockCipherAlgorithm

    if isinstance(cipher, _Rc2):
        return 8
    algorithm = cipher.algorithm
    return algorithm.block_size // 8 if isinstance(algorithm, BlockCipherAlgorithm) else 8


def _decrypt(cipher: Cipher[modes.CBC] | _Rc2, data: bytes) -> bytes:
    from cryptography.hazmat.primitives import padding

    block = _block_size(cipher)
    if not data or len(data) % block:
        raise BagProblem("an encrypted container has a damaged length", damaged=True)
    if isinstance(cipher, _Rc2):
        padded = cipher.decrypt(data)
    else:
        decryptor = cipher.decryptor()
        padded = decryptor.update(data) + decryptor.finalize()
    unpadder = padding.PKCS7(block * 8).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError as exc:
        raise BagProblem("an encrypted container did not decrypt (wrong password or damaged)", damaged=True) from exc


def _encrypt(cipher: Cipher[modes.CBC] | _Rc2, data: bytes) -> bytes:
    from cryptography.hazmat.primitives import padding

    padder = padding.PKCS7(_block_size(cipher) * 8).padder()
    padded = padder.update(data) + padder.finalize()
    if isinstance(cipher, _Rc2):
        return cipher.encrypt(padded)
    encryptor = cipher.encryptor()
    return encryptor.update(padded) + encryptor.finalize()


def _read_bag(raw: Tlv) -> Bag:
    fields = raw.children()
    type_oid = fields[0].oid()
    if type_oid != OID_CERT_BAG:
        return Bag(raw=raw.raw, is_cert=False, type_oid=type_oid, der=None, alias=None, java_trusted=False)
    if len(fields) < 2 or fields[1].tag != 0xA0:
        raise DerError("a certificate bag has no value")
    cert_bag = read_exact(fields[1].value).children()
    if cert_bag[0].oid() != OID_X509_CERT or cert_bag[1].tag != 0xA0:
        raise BagProblem("it holds a certificate that is not X.509, which rotator cannot write back safely")
    der = _octets(read_exact(cert_bag[1].value))
    alias = None
    trusted = False
    if len(fields) > 2:
        for attribute in fields[2].children():
            attr_oid, values = attribute.children()[:2]
            if attr_oid.oid() == OID_FRIENDLY_NAME:
                value = values.children()[0]
                if value.tag == 0x1E:
                    alias = value.value.decode("utf-16-be", "replace")
            elif attr_oid.oid() == OID_JAVA_TRUSTED:
                trusted = True
    return Bag(raw=raw.raw, is_cert=True, type_oid=type_oid, der=der, alias=alias, java_trusted=trusted)


def _content(info: list[Tlv]) -> bytes:
    if len(info) != 2 or info[1].tag != 0xA0:
        raise DerError("unexpected content")
    return _octets(read_exact(info[1].value))


def _verify_mac(digest: str, password: bytes, salt: bytes, iterations: int, data: bytes, expected: bytes) -> bool:
    size = hashlib.new(digest).digest_size
    key = pkcs12_kdf(digest, password, salt, 3, iterations, size)
    return hmac.compare_digest(hmac.new(key, data, digest).digest(), expected)


def read_pfx(data: bytes, password: str) -> Pfx:
    """Every container and bag of a PKCS#12 file; raises BagProblem or DerError."""
    parts = read_exact(data).children()
    if len(parts) not in (2, 3):
        raise DerError("not a PKCS#12 PFX structure")
    auth_info = parts[1].children()
    if auth_info[0].oid() != OID_DATA:
        raise BagProblem("it is signed with a public key, which rotator cannot write back")
    auth_safe = _content(auth_info)
    # An empty password is written as nothing or as the bare terminator, depending on the writer.
    candidates = [bmp_password(password)] + ([b""] if not password else [])
    chosen = candidates[0]
    digest = None
    iterations = 1
    salt_length = 8
    if len(parts) == 3:
        mac_fields = parts[2].children()
        digest_info = mac_fields[0].children()
        digest_oid = digest_info[0].children()[0].oid()
        if digest_oid not in MAC_DIGESTS:
            raise BagProblem(f"its integrity check uses {digest_oid}, which rotator cannot compute again")
        digest = MAC_DIGESTS[digest_oid]
        salt = _octets(mac_fields[1])
        salt_length = len(salt) or 8
        iterations = _iterations(mac_fields[2]) if len(mac_fields) > 2 else 1
        expected = _octets(digest_info[1])
        for candidate in candidates:
            if _verify_mac(digest, candidate, salt, iterations, auth_safe, expected):
                chosen = candidate
                break
        else:
            raise BagProblem("the integrity check failed", damaged=True)
    utf8 = password.encode("utf-8")
    containers = []
    for info in read_exact(auth_safe).children():
        fields = info.children()
        kind = fields[0].oid()
        if kind == OID_DATA:
            bags = tuple(_read_bag(b) for b in read_exact(_content(fields)).children())
            containers.append(Container(raw=info.raw, bags=bags))
        elif kind == OID_ENCRYPTED_DATA:
            if len(fields) != 2 or fields[1].tag != 0xA0:
                raise DerError("unexpected encrypted content")
            encrypted = read_exact(fields[1].value).children()[1].children()
            scheme = encrypted[1]
            if len(encrypted) < 3 or encrypted[2].tag not in (0x80, 0xA0):
                raise DerError("an encrypted container has no content")
            body = (
                encrypted[2].value
                if encrypted[2].tag == 0x80
                else b"".join(_octets(p) for p in encrypted[2].children())
            )
            plain = _decrypt(_cipher(scheme, chosen, utf8), body)
            bags = tuple(_read_bag(b) for b in read_exact(plain).children())
            containers.append(Container(raw=info.raw, bags=bags, scheme=scheme))
        else:
            raise BagProblem(f"it holds a container of type {kind} rotator cannot read")
    return Pfx(
        version=parts[0].raw,
        containers=tuple(containers),
        mac_digest=digest,
        mac_iterations=iterations,
        mac_salt_length=salt_length,
        password=chosen,
        password_utf8=utf8,
    )


def _explicit(tag: int, raw: bytes) -> bytes:
    return bytes([tag]) + encode_length(len(raw)) + raw


def _octet_string(value: bytes) -> bytes:
    return b"\x04" + encode_length(len(value)) + value


def _integer(value: int) -> bytes:
    body = value.to_bytes(value.bit_length() // 8 + 1, "big")
    return b"\x02" + encode_length(len(body)) + body


def _container_bytes(container: Container, pfx: Pfx) -> bytes:
    if not container.changed:
        return container.raw
    safe_contents = sequence(*(b.raw for b in container.bags))
    if container.scheme is None:
        return sequence(_oid_data(), _explicit(0xA0, _octet_string(safe_contents)))
    ciphertext = _encrypt(_cipher(container.scheme, pfx.password, pfx.password_utf8), safe_contents)
    encrypted_content_info = sequence(
        _oid_data(), container.scheme.raw, b"\x80" + encode_length(len(ciphertext)) + ciphertext
    )
    encrypted_data = sequence(_integer(0), encrypted_content_info)
    return sequence(_OID_ENCRYPTED_DATA_DER, _explicit(0xA0, encrypted_data))


def _oid_data() -> bytes:
    return _OID_DATA_DER


_OID_DATA_DER = bytes.fromhex("06092a864886f70d010701")
_OID_ENCRYPTED_DATA_DER = bytes.fromhex("06092a864886f70d010706")
_MAC_DIGEST_DER = {
    "sha1": bytes.fromhex("06052b0e03021a"),
    "sha224": bytes.fromhex("0609608648016503040204"),
    "sha256": bytes.fromhex("0609608648016503040201"),
    "sha384": bytes.fromhex("0609608648016503040202"),
    "sha512": bytes.fromhex("0609608648016503040203"),
}


def rewrite(pfx: Pfx, remove: set[str], add: list[Bag]) -> bytes:
    """The file with rotator's bags named in ``remove`` dropped and ``add`` appended.

    Every other bag keeps its bytes and its container; a container that did not change keeps
    its bytes too (encrypted ones are not even encrypted again).
    """
    containers = []
    for container in pfx.containers:
        kept = tuple(b for b in container.bags if not (b.is_cert and b.alias in remove))
        containers.append(replace(container, bags=kept, changed=len(kept) != len(container.bags)))
    if add:
        # Appended to the last container that holds certificates, so they get its protection.
        last = max((n for n, c in enumerate(containers) if any(b.is_cert for b in c.bags) or c.scheme), default=None)
        if last is None:
            containers.append(Container(raw=b"", bags=tuple(add), changed=True))
        else:
            target = containers[last]
            containers[last] = replace(target, bags=target.bags + tuple(add), changed=True)
    auth_safe = sequence(*(_container_bytes(c, pfx) for c in containers))
    auth_info = sequence(_OID_DATA_DER, _explicit(0xA0, _octet_string(auth_safe)))
    if pfx.mac_digest is None:
        return sequence(pfx.version, auth_info)
    salt = os.urandom(pfx.mac_salt_length)
    key = pkcs12_kdf(pfx.mac_digest, pfx.password, salt, 3, pfx.mac_iterations, hashlib.new(pfx.mac_digest).digest_size)
    mac = hmac.new(key, auth_safe, pfx.mac_digest).digest()
    digest_info = sequence(sequence(_MAC_DIGEST_DER[pfx.mac_digest], b"\x05\x00"), _octet_string(mac))
    mac_data = sequence(digest_info, _octet_string(salt), _integer(pfx.mac_iterations))
    return sequence(pfx.version, auth_info, mac_data)


def trusted_bags(serialized: bytes) -> list[Bag]:
    """The bags of a file made by ``serialize_java_truststore`` without encryption."""
    return read_pfx(serialized, "").bags()


__all__ = ["Bag", "BagProblem", "Pfx", "read_all", "read_pfx", "rewrite", "trusted_bags"]
