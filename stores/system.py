"""``system`` / ``system:DISTRO``: the operating system's trust store.

rotator writes one PEM anchor file per root into the distribution's anchor directory
(``rotator-<root id>.crt`` or ``.pem``), runs the distribution's refresh command when an
anchor changed, and checks that the consolidated bundle then holds every root.

``stores.distros.DISTROS`` is the one table of distributions: adding one is adding one row.

Where the refresh runs (target key ``refresh``):

- ``auto`` (default): on this machine; with ``--sysroot DIR``, as ``chroot DIR CMD`` when DIR
  holds the command and rotator runs as root, otherwise not at all and the report says which
  command to run inside the image.
- ``chroot``: always ``chroot DIR CMD`` (needs ``--sysroot``).
- ``host``: this machine's command, first on PATH. For a distribution whose command takes path
  flags (Debian's ``update-ca-certificates``), every path points under the sysroot; the links
  it writes then name those paths, so this is for trees used where they are (and for tests).
- ``none``: write the anchors only; the report says what to run.

The consumers decide whether the store is right: after a refresh, rotator reads back the
consolidated bundle and, where the distribution's refresh maintains one (Debian's
ca-certificates-java, RHEL's and SUSE's extracted stores), the Java cacerts. A refresh whose hook
failed (Debian's update-ca-certificates prints ``E: <hook> exited with code N.`` and exits 0) is a
failure, and a later run that finds a consumer lacking a root refreshes again. Debian's Java hook
only ever adds aliases: when rotator removes an anchor it removes its ``debian:rotator-<id>.pem``
alias from the Java cacerts itself.
"""

from __future__ import annotations

import errno
import hashlib
import math
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rotator import ownership
from rotator.certs import NotACertificate, parse_many
from rotator.errors import ConfigError, StoreError
from rotator.host.files import atomic_write, read_optional, real_target, remove_file
from rotator.host.process import run_bounded
from stores.base import Anchor, Entry, Plan, StoreContents, StoreContext, TargetSpec, make_plan
from stores.distros import BY_NAME, Distro, detect, os_release, under

SEARCH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_TIMEOUT = 120.0
MAX_TIMEOUT = 86400.0  # a day: beyond that a refresh is stuck, not slow
REFRESH_MODES = ("auto", "chroot", "host", "none")
OUTPUT_LIMIT = 4000
JAVA_LABEL = "java cacerts alias "  # plan entries for the Java cacerts (anchor files are rotator-*)
JAVA_PASSWORD = "changeit"  # noqa: S105 - what the distributions' Java trust packages use
# Debian's update-ca-certificates reports a failed hook on stdout and still exits 0.
HOOK_FAILED = re.compile(r"^E: .*exited with code \d+", re.MULTILINE)
ERROR_LINE = re.compile(r"^E: |error|exception|cannot|denied|read-only", re.IGNORECASE)


def build(spec: TargetSpec, ctx: StoreContext) -> SystemStore:
    """The store for a ``system`` target; detection happens here, at run time, never at import."""
    forced = spec.path or _opt_str(spec, "distro")
    if spec.path and spec.option("distro") is not None and spec.option("distro") != spec.path:
        raise ConfigError(f"{spec.where}: system:{spec.path} and distro = {spec.option('distro')!r} disagree")
    mode = _opt_str(spec, "refresh") or "auto"
    if mode not in REFRESH_MODES:
        raise ConfigError(f"{spec.where}.refresh: {mode!r} is not one of {', '.join(REFRESH_MODES)}")
    if mode == "chroot" and not ctx.sysroot:
        raise ConfigError(f"{spec.where}.refresh: 'chroot' needs --sysroot DIR (the image tree to chroot into)")
    timeout = spec.option("refresh_timeout", DEFAULT_TIMEOUT)
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not math.isfinite(timeout)
        or not 0 < timeout <= MAX_TIMEOUT
    ):
        raise ConfigError(
            f"{spec.where}.refresh_timeout: expected a positive number of seconds no greater than {MAX_TIMEOUT:g}"
        )
    root = Path(ctx.sysroot) if ctx.sysroot else Path("/")
    if ctx.sysroot and not root.is_dir():
        raise ConfigError(f"--sysroot {root}: not a directory; pass the root of the image tree")
    names = "|".join(BY_NAME)
    if forced:
        distro = BY_NAME.get(forced)
        if distro is None:
            raise ConfigError(f"{spec.where}: unknown distribution {forced!r}; use system:{names}")
    else:
        found = detect(root)
        if found is None:
            release = os_release(root)
            seen = f"ID={release.get('ID', '?')}, ID_LIKE={release.get('ID_LIKE', '')}" if release else "no os-release"
            raise ConfigError(
                f"{spec.where}: cannot tell the distribution of {root} ({seen}) and none of the known anchor "
                f"directories exists; name it: system:{names}"
            )
        distro = found
    return SystemStore(
        distro, root=root, sysroot=bool(ctx.sysroot), mode=mode, timeout=float(timeout), environ=dict(ctx.environ)
    )


def _opt_str(spec: TargetSpec, key: str) -> str | None:
    value = spec.option(key)
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{spec.where}.{key}: expected a string")
    return value


@dataclass(frozen=True)
class Refresh:
    """How this run refreshes the store: an argv to run, or the note saying what to run by hand."""

    argv: tuple[str, ...] | None
    note: str


class SystemStore:
    kind = "system"

    def __init__(
        self,
        distro: Distro,
        *,
        root: Path,
        sysroot: bool = False,
        mode: str = "auto",
        timeout: float = DEFAULT_TIMEOUT,
        environ: dict[str, str] | None = None,
    ) -> None:
        self.distro = distro
        self.root = root
        self.sysroot = sysroot
        self.mode = mode
        self.timeout = timeout
        self.environ = environ or {}
        self.anchor_dir = under(root, distro.anchor_dir)
        self.bundle = under(root, distro.bundle)
        # Checked only where the refresh maintains it: a cacerts left behind by a removed Java trust
        # package (its hook gone) would otherwise fail every run.
        maintained = distro.java_hook is None or os.path.lexists(under(root, distro.java_hook))
        self.java_cacerts = under(root, distro.java_cacerts) if distro.java_cacerts and maintained else None
        self.name = f"system:{distro.name}" + (f" (sysroot {root})" if sysroot else "")
        self._refreshed = False
        self._refresh_output = b""

    @property
    def lock_dir(self) -> Path:
        return self.anchor_dir

    # -- reading -------------------------------------------------------------------------------

    def _reads(self, filename: str) -> bool:
        return not self.distro.reads or filename.endswith(self.distro.reads)

    def anchor_name(self, anchor: Anchor) -> str:
        return ownership.label(anchor.root_id, self.distro.suffix)

    def read(self) -> StoreContents:
        """Every certificate in the anchor directory that the refresh will pick up.

        rotator's own files are ``rotator-<id>.crt|.pem``; one the distribution would not read
        (wrong suffix) is listed without a certificate, so the plan replaces it.
        """
        try:
            names = sorted(os.listdir(self.anchor_dir))
        except FileNotFoundError:
            return StoreContents(entries=(), exists=False)
        except OSError as exc:
            raise StoreError(
                f"cannot list anchor directory {self.anchor_dir}: {exc.strerror}; "
                "run with sudo or through the rotator service"
            ) from exc
        entries: list[Entry] = []
        for filename in names:
            path = self.anchor_dir / filename
            if filename.startswith(".") or not path.is_file():
                continue
            owner = ownership.owner(filename, ownership.FILE_SUFFIXES)
            if not self._reads(filename):
                if owner is not None:
                    entries.append(Entry(label=filename, cert=None, owner_id=owner))
                continue
            data = read_optional(path, "anchor file") or b""
            try:
                certs = parse_many(data)
            except NotACertificate:
                certs = []
            if owner is not None:
                entries.append(Entry(label=filename, cert=certs[0] if len(certs) == 1 else None, owner_id=owner))
            elif certs:
                entries.extend(Entry(label=filename, cert=c) for c in certs)
            elif data.strip():
                entries.append(Entry(label=filename, cert=None))  # unreadable: reported, kept as it is
        return StoreContents(entries=tuple(entries), problems=self._unrefreshed(entries))

    def _unrefreshed(self, entries: Sequence[Entry]) -> tuple[str, ...]:
        """Anchors that the consolidated bundle lacks: clients do not trust them until a refresh."""
        owned = [(e.owner_id, e.cert.sha256) for e in entries if e.owner_id is not None and e.cert is not None]
        if not owned:
            return ()
        in_bundle = self.bundle_fingerprints()
        lacking = [root_id for root_id, sha256 in owned if in_bundle is None or sha256 not in in_bundle]
        if not lacking:
            return ()
        where = f"{self.bundle} does not exist" if in_bundle is None else f"{self.bundle} lacks {', '.join(lacking)}"
        command = shlex.join(self.distro.refresh)
        inside = " inside the image" if self.sysroot else ""
        return (
            f"{where}: the anchors are written but the bundle was not refreshed; clients do not trust them "
            f"until `{command}` runs{inside}",
        )

    def bundle_fingerprints(self) -> set[str] | None:
        data = read_optional(self.bundle, "consolidated bundle")
        if data is None:
            return None
        try:
            return {c.sha256 for c in parse_many(data)}
        except NotACertificate:
            return set()  # not PEM at all: it lacks every root, and the refresh rewrites it

    def java_aliases(self) -> dict[str, str] | None:
        """Alias -> SHA-256 of every certificate in the Java cacerts the refresh maintains, or None
        when the distribution keeps none or its Java trust package is not installed."""
        if self.java_cacerts is None:
            return None
        data = read_optional(self.java_cacerts, "Java cacerts")
        if data is None:
            return None
        from stores.keystore.base import KeystoreProblem
        from stores.keystore.dispatch import load

        try:
            store = load(data, JAVA_PASSWORD)
        except KeystoreProblem as problem:
            raise StoreError(
                f"{self.name}: cannot read the Java cacerts {self.java_cacerts} that the refresh maintains "
                f"({problem.detail}); rotator expects the password {JAVA_PASSWORD!r} there"
            ) from problem
        return {t.alias or f"#{n}": hashlib.sha256(t.der).hexdigest() for n, t in enumerate(store.trusted())}

    def _stale_java_aliases(self, java: dict[str, str] | None, wanted: Sequence[Anchor]) -> list[Entry]:
        """Aliases the refresh made for rotator's anchors whose roots are no longer wanted."""
        pattern = self.distro.java_alias
        if java is None or pattern is None:
            return []
        prefix, _, suffix = pattern.partition("{}")
        wanted_ids = {a.root_id for a in wanted}
        stale = []
        for alias in sorted(java):
            root_id = alias[len(prefix) : len(alias) - len(suffix)] if alias.startswith(prefix) else ""
            # Only an alias made from an anchor rotator could have written: rotator's label rule.
            if alias.endswith(suffix) and ownership.valid_id(root_id) and root_id not in wanted_ids:
                stale.append(Entry(label=JAVA_LABEL + alias, cert=None, owner_id=root_id))
        return stale

    # -- planning ------------------------------------------------------------------------------

    def refresh_for(self, fresh: bool) -> Refresh:
        """The refresh this run would do (pure: looks at files and PATH, runs nothing)."""
        base = self.distro.refresh_fresh if fresh else self.distro.refresh
        command = shlex.join(base)
        if self.mode == "none":
            return Refresh(None, f"refresh = none: run `{command}` yourself so the bundle includes the anchors")
        if not self.sysroot or self.mode == "host":
            argv = base
            if self.sysroot:
                argv = base + tuple(
                    x for flag, path in self.distro.path_flags for x in (flag, str(under(self.root, path)))
                )
            return Refresh(argv, f"refresh: `{shlex.join(argv)}` runs after the anchors change")
        in_image = self._image_has(base[0])
        if self.mode == "chroot" and not in_image:
            raise StoreError(
                f"{self.name}: refresh = chroot, but {self.root} holds no {base[0]}; install the distribution's "
                'ca-certificates package in the image first, or use refresh = "auto" to be told what to run'
            )
        if self.mode == "chroot" or (in_image and _is_root()):
            argv = ("chroot", str(self.root), *base)
            return Refresh(argv, f"refresh: `{shlex.join(argv)}` runs after the anchors change")
        why = f"{self.root} holds no {base[0]}" if not in_image else "chroot needs root"
        return Refresh(
            None,
            f"{why}: anchors are written, the bundle is not refreshed; run `{command}` inside the image "
            f"(e.g. a RUN step after this one) before anything reads {self.distro.bundle}",
        )

    def _image_has(self, command: str) -> bool:
        return any(os.path.lexists(under(self.root, d) / command) for d in SEARCH_PATH.split(":"))

    def hints(self) -> tuple[str, ...]:
        bundle = self.distro.bundle
        return (
            f"Python requests and pip use certifi, not this store: set REQUESTS_CA_BUNDLE={bundle}; "
            f"Pythons with their own OpenSSL (conda, python.org builds) need SSL_CERT_FILE={bundle}",
            f"Node.js ignores the OS store: set NODE_EXTRA_CA_CERTS={bundle} (read at start: restart node; "
            "which store each client reads: docs/clients.md)",
        )

    def plan(self, wanted: Sequence[Anchor]) -> Plan:
        plan = make_plan(self.name, self.read(), wanted)
        notes: list[str] = []
        refresh = self.refresh_for(fresh=self._needs_fresh(plan))
        if refresh.argv is not None:
            # An anchor on disk that a consumer lacks (written without a refresh, a DER file the
            # refresh appended unparsed, a Java hook that failed): rotator writes its own PEM
            # anchor and refreshes again.
            in_bundle = self.bundle_fingerprints()
            java = self.java_aliases()
            in_java = set(java.values()) if java is not None else None
            lacking = [(a, label) for a, label in plan.keep if in_bundle is None or a.cert.sha256 not in in_bundle]
            if lacking:
                where = (
                    f"{self.distro.bundle} does not exist"
                    if in_bundle is None
                    else f"{self.distro.bundle} lacks {', '.join(a.root_id for a, _ in lacking)}"
                )
                notes.append(f"{where}: rewriting the anchors and refreshing")
            java_lacking = [
                k for k in plan.keep if k not in lacking and in_java is not None and k[0].cert.sha256 not in in_java
            ]
            if java_lacking:
                notes.append(
                    f"the Java cacerts {self.distro.java_cacerts} lacks "
                    f"{', '.join(a.root_id for a, _ in java_lacking)}: rewriting the anchors and refreshing"
                )
            lacking += java_lacking
            if lacking:
                plan = plan._replace(
                    add=plan.add + tuple(a for a, _ in lacking),
                    keep=tuple(k for k in plan.keep if k not in lacking),
                )
                refresh = self.refresh_for(fresh=self._needs_fresh(plan))
            stale = self._stale_java_aliases(java, wanted)
            if stale:
                plan = plan._replace(remove=plan.remove + tuple(stale))
        if plan.changes:
            # Said when the store changes, not on every no-op run of a daemon.
            shipped = self.bundle_fingerprints() or set()
            already = [a.root_id for a in plan.add if a.cert.sha256 in shipped]
            if already:
                notes.append(
                    f"{', '.join(already)} already in {self.distro.bundle} from the distribution: "
                    "anchored by rotator too, so that a distribution update cannot drop them"
                )
            notes.append(refresh.note)
            notes.extend(self.hints())
        elif refresh.argv is None and self.read().problems:
            # Nothing to write, but the bundle still lacks the anchors: said on every run until it is refreshed.
            notes.append(refresh.note)
            return plan._replace(notes=tuple(notes), unfinished=True)
        return plan._replace(notes=tuple(notes))

    def _needs_fresh(self, plan: Plan) -> bool:
        """A removal, or a file rewritten under its own name: Debian then needs ``--fresh``
        (otherwise the old hash link stays)."""
        removes = [e for e in plan.remove if not e.label.startswith(JAVA_LABEL)]
        return bool(removes) or any((self.anchor_dir / self.anchor_name(a)).exists() for a in plan.add)

    # -- writing -------------------------------------------------------------------------------

    def _check_writable(self) -> None:
        if _is_root():
            return
        existing = self.anchor_dir
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not os.access(existing, os.W_OK | os.X_OK):
            raise StoreError(
                f"cannot write anchors into {self.anchor_dir}: {existing} is not writable by this user "
                "(not root); run with sudo, or let the rotator service (which runs as root) do it"
            )

    def apply(self, plan: Plan) -> None:
        self._refreshed = False
        java_removals = [e.label[len(JAVA_LABEL) :] for e in plan.remove if e.label.startswith(JAVA_LABEL)]
        plan = plan._replace(remove=tuple(e for e in plan.remove if not e.label.startswith(JAVA_LABEL)))
        self._apply_anchors(plan)
        if java_removals:
            self._remove_java_aliases(java_removals)

    def _remove_java_aliases(self, aliases: Sequence[str]) -> None:
        from stores.keystore.base import KeystoreProblem
        from stores.keystore.dispatch import load

        assert self.java_cacerts is not None
        data = read_optional(self.java_cacerts, "Java cacerts")
        if data is None:
            return
        target = real_target(self.java_cacerts)  # Debian's JDKs link to it: write through the link
        try:
            rendered = load(data, JAVA_PASSWORD).render(aliases, [])
        except (KeystoreProblem, ValueError) as exc:
            raise StoreError(f"{self.name}: cannot rewrite the Java cacerts {target} ({exc}); left untouched") from exc
        atomic_write(target, rendered, mode=0o644)

    def _apply_anchors(self, plan: Plan) -> None:
        if not plan.changes:
            return
        self._check_writable()
        fresh = self._needs_fresh(plan)
        touched = [self.anchor_dir / e.label for e in plan.remove]
        touched += [self.anchor_dir / self.anchor_name(a) for a in plan.add]
        snapshot = {p: read_optional(p, "anchor file") for p in dict.fromkeys(touched)}
        try:
            for entry in plan.remove:
                remove_file(self.anchor_dir / entry.label)
            for anchor in plan.add:
                atomic_write(self.anchor_dir / self.anchor_name(anchor), anchor.cert.to_pem(), mode=0o644)
        except StoreError:
            self._restore(snapshot)
            raise
        refresh = self.refresh_for(fresh=fresh)
        if refresh.argv is None:
            return
        try:
            self._run(refresh.argv)
        except StoreError as exc:
            self._restore(snapshot)
            again = self._refresh_again(exc)
            raise StoreError(f"{exc}; the anchors in {self.anchor_dir} were put back as they were{again}") from exc
        except BaseException:
            self._restore(snapshot)  # interrupted mid-refresh: the anchors go back to what the bundle has
            raise
        self._refreshed = True

    def _restore(self, snapshot: dict[Path, bytes | None]) -> None:
        for path, data in snapshot.items():
            if data is None:
                remove_file(path)
            else:
                atomic_write(path, data, mode=0o644)

    def _refresh_again(self, first: StoreError) -> str:
        if isinstance(first, _CommandMissing):
            return ""
        argv = self.refresh_for(fresh=True).argv
        if argv is None:
            return ""
        try:
            self._run(argv)
        except StoreError as exc:
            return f", but refreshing them again failed too ({exc}); run `{shlex.join(argv)}` by hand"
        return " and refreshed again"

    def _run(self, argv: Sequence[str]) -> None:
        env = dict(self.environ) if self.environ else dict(os.environ)
        search = env.get("PATH") or SEARCH_PATH
        if argv[0] == "chroot":
            env["PATH"] = SEARCH_PATH  # the command is looked up inside the image
        executable = shutil.which(argv[0], path=search) or shutil.which(argv[0], path=SEARCH_PATH)
        command = shlex.join(argv)
        if executable is None:
            raise _CommandMissing(
                f"{self.name}: refresh command {argv[0]!r} not found (PATH={search}); install the "
                f'distribution\'s ca-certificates package, or use refresh = "none" and run `{command}` yourself'
            )
        try:
            returncode, output = run_bounded([executable, *argv[1:]], env=env, timeout=self.timeout)
        except subprocess.TimeoutExpired as exc:
            raise StoreError(
                f"{self.name}: `{command}` did not finish within {self.timeout:g}s and was stopped (raise "
                f"refresh_timeout if the machine is slow){_tail(exc.output or b'')}"
            ) from exc
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.EACCES):
                raise _CommandMissing(f"{self.name}: cannot run `{command}`: {exc.strerror}") from exc
            raise StoreError(f"{self.name}: cannot run `{command}`: {exc.strerror}") from exc
        self._refresh_output = output
        if returncode != 0:
            raise StoreError(f"{self.name}: `{command}` failed with exit code {returncode}{_tail(output)}")
        text = output.decode("utf-8", "replace")
        if HOOK_FAILED.search(text):
            # The hook's own error lines and update-ca-certificates' verdict; not the whole listing.
            lines = [line.strip() for line in text.splitlines() if ERROR_LINE.search(line)]
            raise StoreError(
                f"{self.name}: `{command}` exited 0 but a hook failed, so a store it maintains (such as the Java "
                f"cacerts) is stale: {' | '.join(lines)[-OUTPUT_LIMIT:]}"
            )

    # -- verifying -----------------------------------------------------------------------------

    def verify(self, wanted: Sequence[Anchor]) -> None:
        have = self.read().fingerprints()
        missing = [a.root_id for a in wanted if a.cert.sha256 not in have]
        if missing:
            raise StoreError(
                f"{self.name}: after writing, {self.anchor_dir} still lacks {', '.join(missing)}; something "
                "else rewrote it, run sync again and check other tools managing it"
            )
        java = self.java_aliases() if self.refresh_for(fresh=False).argv is not None else None
        stale = self._stale_java_aliases(java, wanted)
        if stale:
            raise StoreError(
                f"{self.name}: the Java cacerts {self.java_cacerts} still holds "
                f"{', '.join(e.label[len(JAVA_LABEL) :] for e in stale)} after removing them; run sync again"
            )
        if not self._refreshed:
            return
        in_bundle = self.bundle_fingerprints()
        if in_bundle is None:
            raise StoreError(
                f"{self.name}: the refresh ran but {self.bundle} does not exist; check the distribution's "
                "ca-certificates package and run the refresh by hand to see its output"
            )
        missing = [a.root_id for a in wanted if a.cert.sha256 not in in_bundle]
        if missing:
            raise StoreError(
                f"{self.name}: after the refresh, {self.bundle} lacks {', '.join(missing)} although the anchors "
                f"are in {self.anchor_dir}; check that they are PEM files the refresh reads"
            )
        if java is None:
            return
        in_java = set(java.values())
        missing = [a.root_id for a in wanted if a.cert.sha256 not in in_java]
        if missing:
            # The anchors stay: the next run sees the Java cacerts lacking them and refreshes again.
            raise StoreError(
                f"{self.name}: after the refresh, the Java cacerts {self.java_cacerts} lacks {', '.join(missing)}: "
                f"the distribution's Java hook did not update it; run `{shlex.join(self.distro.refresh_fresh)}` "
                f"by hand to see why{_tail(self._refresh_output)}"
            )


class _CommandMissing(StoreError):
    """The refresh command is not there: running it again after restoring would not help."""


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _tail(output: bytes) -> str:
    text = output.decode("utf-8", "replace").strip()
    if not text:
        return " (no output)"
    if len(text) > OUTPUT_LIMIT:
        text = "..." + text[-OUTPUT_LIMIT:]
    return f"; output:\n{text}"
