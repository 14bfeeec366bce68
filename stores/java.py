"""Java trust stores: ``jks:PATH``, ``pkcs12:PATH`` and every JDK's cacerts (``java-cacerts``).

An existing file keeps the format its bytes show, whatever the target kind says; the kind
only decides the format of a new file. rotator's entries use the alias ``rotator-<root id>``;
a root already present under any other alias counts as present.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rotator import ownership
from rotator.certs import Cert, NotACertificate
from rotator.errors import ConfigError, StoreError
from rotator.host.files import atomic_write, read_optional, real_target
from stores.base import (
    Anchor,
    Entry,
    Plan,
    StampedFile,
    StoreContents,
    StoreContext,
    TargetSpec,
    TrustStore,
    make_plan,
    stat_or_none,
    target_path,
    verify_present,
)
from stores.keystore.base import Format, Keystore, KeystoreProblem, Reason, TrustedCert, integrity_check
from stores.passwords import PASSWORD_OPTIONS, StorePassword, store_password

CACERTS_PASSWORD = "changeit"  # noqa: S105 - every JDK's cacerts ships with it (Temurin's: no password at all)
JAVA_CACERTS_OPTIONS = PASSWORD_OPTIONS | {"jvm_dirs"}


class JavaKeystore:
    def __init__(
        self,
        kind: str,
        path: Path,
        password: StorePassword,
        *,
        new_format: Format | None,
        notes: Sequence[str] = (),
        where: str = "--target",
    ) -> None:
        self.kind = kind
        self.path = path
        self.name = f"{kind}:{path}"
        self._password = password
        self._new_format = new_format  # None: the file must already exist (a JDK's cacerts)
        self._notes = (*notes, password.note) if password.note else tuple(notes)
        self._where = where  # --target or targets[N]: the advice names the flags or the config keys
        self._written: dict[str, str] = {}  # alias -> SHA-256 of what the last apply wrote
        self._last: StampedFile | None = None

    def last_read(self) -> StampedFile | None:
        return self._last

    def access_digest(self, data: bytes) -> str:
        """The password, as an HMAC keyed with the store's own integrity check (JKS: its digest,
        PKCS#12: its MAC). Only who can read the store can test a guess against it, and they
        can against the store itself: the state file adds nothing. "" for a store without one."""
        import hmac

        check = integrity_check(data)
        return hmac.new(check, self._password.value.encode("utf-8"), "sha256").hexdigest() if check else ""

    def _problem(self, problem: KeystoreProblem) -> StoreError:
        if problem.reason is Reason.PASSWORD:
            how = (
                "--storepass-env VAR or --storepass-file FILE"
                if self._where == "--target"
                else f"storepass_file, storepass_env or storepass_credential in {self._where}"
            )
            step = f"; check the password (from {self._password}) or give the right one with {how}"
        elif problem.reason is Reason.DAMAGED:
            step = "; restore it from a backup, or move it aside to let rotator create a new store"
        else:
            step = f"; {problem.step or 'point the target at a trust store rotator can manage (JKS or PKCS12)'}"
        return StoreError(f"{self.name}: {problem.detail}{step}; the file was left untouched")

    def _load(self) -> Keystore | None:
        before = stat_or_none(self.path)
        data = read_optional(self.path, "keystore")
        self._last = (
            StampedFile(before, data, self.access_digest(data)) if before is not None and data is not None else None
        )
        if data is None:
            if self._new_format is None:
                raise StoreError(f"{self.name}: no such file; give the path of an existing JDK cacerts file")
            return None
        from stores.keystore.dispatch import load  # a store answered from its stamp is never opened

        try:
            return load(data, self._password.value)
        except KeystoreProblem as problem:
            raise self._problem(problem) from problem

    @property
    def lock_dir(self) -> Path:
        return real_target(self.path).parent

    def read(self) -> StoreContents:
        return self._contents(self._load())

    @staticmethod
    def _contents(store: Keystore | None) -> StoreContents:
        if store is None:
            return StoreContents(entries=(), exists=False)
        entries = []
        for number, trusted in enumerate(store.trusted(), start=1):
            try:
                # Fingerprints decide a plan, as for a bundle: the X.509 parser loads only when a
                # field is asked for (status), not for each of a cacerts' 140 entries.
                cert: Cert | None = Cert.from_der_lazily(trusted.der)
            except NotACertificate:
                cert = None
            label = trusted.alias if trusted.alias is not None else f"(certificate {number}, no alias)"
            entries.append(Entry(label=label, cert=cert, owner_id=ownership.owner(trusted.alias or "")))
        return StoreContents(entries=tuple(entries))

    def plan(self, wanted: Sequence[Anchor]) -> Plan:
        store = self._load()
        plan = make_plan(self.name, self._contents(store), wanted)
        notes = list(self._notes)
        if store is None:
            assert self._new_format is not None
            notes.append(f"new {self._new_format.value} store")
        else:
            notes.extend(store.notes)
            expected = Format.JKS if self.kind == "jks" else Format.PKCS12 if self.kind == "pkcs12" else None
            if expected is not None and store.format is not expected:
                notes.append(f"the file is {store.format.value} and stays {store.format.value}")
        return plan._replace(notes=tuple(notes))

    def apply(self, plan: Plan) -> None:
        if not plan.changes:
            return
        store = self._load()
        if store is None:
            assert self._new_format is not None
            from stores.keystore.dispatch import new

            store = new(self._new_format, self._password.value)
        adds = [TrustedCert(alias=ownership.label(a.root_id), der=a.cert.der) for a in plan.add]
        self._written = {ownership.label(a.root_id): a.cert.sha256 for a in plan.add}
        try:
            data = store.render([e.label for e in plan.remove], adds)
        except (KeystoreProblem, ValueError) as exc:
            raise StoreError(f"{self.name}: cannot write the store ({exc}); the file was left untouched") from exc
        atomic_write(self.path, data, mode=0o644)

    def verify(self, wanted: Sequence[Anchor]) -> None:
        contents = self.read()
        verify_present(self.name, contents, wanted)
        # What was just written must read back under its alias, or the next run could not own it.
        found = {e.label: e.cert.sha256 for e in contents.entries if e.cert is not None}
        for alias, sha256 in self._written.items():
            if found.get(alias) != sha256:
                raise StoreError(
                    f"{self.name}: {alias} did not read back with SHA-256 {sha256} after writing; "
                    "run sync again and check other tools managing this store"
                )


def build_jks(spec: TargetSpec, ctx: StoreContext) -> list[TrustStore]:
    return [
        JavaKeystore("jks", target_path(spec), store_password(spec, ctx, None), new_format=Format.JKS, where=spec.where)
    ]


def build_pkcs12(spec: TargetSpec, ctx: StoreContext) -> list[TrustStore]:
    return [
        JavaKeystore(
            "pkcs12", target_path(spec), store_password(spec, ctx, None), new_format=Format.PKCS12, where=spec.where
        )
    ]


def _jvm_dirs(spec: TargetSpec) -> list[Path]:
    from stores.jdk_discovery import DEFAULT_JVM_DIRS

    raw = spec.option("jvm_dirs", list(DEFAULT_JVM_DIRS))
    if not isinstance(raw, list) or not all(isinstance(d, str) and d for d in raw):
        raise ConfigError(f"{spec.where}.jvm_dirs: expected a list of directories")
    return [Path(d) for d in raw]


def build_java_cacerts(spec: TargetSpec, ctx: StoreContext) -> list[TrustStore]:
    """One store per distinct cacerts file: the one named, or every one found on the host."""
    password = store_password(spec, ctx, CACERTS_PASSWORD)
    if spec.path:
        return [JavaKeystore("java-cacerts", target_path(spec), password, new_format=None, where=spec.where)]
    from stores.jdk_discovery import discover  # only java-cacerts looks for JDKs

    root = Path(ctx.sysroot) if ctx.sysroot else None
    found = discover(
        java_home=ctx.getenv("JAVA_HOME"), path_env=ctx.getenv("PATH"), jvm_dirs=_jvm_dirs(spec), root=root
    )
    if found.java_home_problem:
        raise StoreError(
            f"{spec.where}: {found.java_home_problem}; point JAVA_HOME at a JDK, unset it, "
            "or name the file with java-cacerts:PATH"
        )
    if not found.found:
        raise StoreError(
            f"{spec.where}: java-cacerts found no JDK cacerts; looked at {', '.join(found.looked)}; "
            "set JAVA_HOME, or name the file with java-cacerts:PATH"
        )
    return [
        JavaKeystore(
            "java-cacerts", f.path, password, new_format=None, notes=(f"used by {f.describe()}",), where=spec.where
        )
        for f in found.found
    ]


__all__ = [
    "JAVA_CACERTS_OPTIONS",
    "PASSWORD_OPTIONS",
    "JavaKeystore",
    "build_java_cacerts",
    "build_jks",
    "build_pkcs12",
]
