"""Trust store kinds: the one registry that maps a target kind to its code (``KINDS``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from rotator.errors import ConfigError
from rotator.records import NamedTuple
from stores.base import StoreContext, TargetSpec, TrustStore, target_path
from stores.passwords import PASSWORD_OPTIONS

# Each kind's module is imported when a target of that kind is built, so a run that writes one
# PEM bundle does not load keystore, distribution or hash-directory code (start-up time is most
# of what a sync costs).


class Kind(NamedTuple):
    name: str
    # One spec may stand for several stores (java-cacerts: one per JDK found).
    build: Callable[[TargetSpec, StoreContext], list[TrustStore]]
    needs_path: bool = True
    options: frozenset[str] = frozenset()
    summary: str = ""
    # The directories a target of this kind writes into, from the spec alone (no detection): the
    # service's sandbox must allow them. Kinds whose places are fixed (system, JDK cacerts under
    # /usr/lib/jvm and /etc/ssl) are allowed by the units themselves.
    writes: Callable[[TargetSpec], tuple[Path, ...]] = lambda spec: ()
    # Serves every program on the host for every website: never given a publicly distrusted root
    # unless the target allows it by name.
    host_wide: bool = False


def _parent_dir(spec: TargetSpec) -> tuple[Path, ...]:
    # A file is replaced by renaming a temp file next to it: its directory must be writable.
    return (target_path(spec).parent,)


def _own_dir(spec: TargetSpec) -> tuple[Path, ...]:
    return (target_path(spec),)


def _cacerts_dirs(spec: TargetSpec) -> tuple[Path, ...]:
    if spec.path:
        return _parent_dir(spec)
    dirs = spec.option("jvm_dirs")
    return tuple(Path(d) for d in dirs if isinstance(d, str) and d) if isinstance(dirs, list) else ()


def _pem(spec: TargetSpec, ctx: StoreContext) -> list[TrustStore]:
    from stores.pem import PemBundle

    return [PemBundle(target_path(spec))]


def _jks(spec: TargetSpec, ctx: StoreContext) -> list[TrustStore]:
    from stores.java import build_jks

    return build_jks(spec, ctx)


def _pkcs12(spec: TargetSpec, ctx: StoreContext) -> list[TrustStore]:
    from stores.java import build_pkcs12

    return build_pkcs12(spec, ctx)


def _java_cacerts(spec: TargetSpec, ctx: StoreContext) -> list[TrustStore]:
    from stores.java import build_java_cacerts

    return build_java_cacerts(spec, ctx)


def _system(spec: TargetSpec, ctx: StoreContext) -> list[TrustStore]:
    from stores import system

    return [system.build(spec, ctx)]


def _pem_dir(spec: TargetSpec, ctx: StoreContext) -> list[TrustStore]:
    from stores.pemdir import PemDir

    return [PemDir(target_path(spec))]


# Keys every target accepts; the engine, not the store, acts on them.
COMMON_OPTIONS = frozenset({"on_change", "profile", "include"})
HOST_WIDE_OPTIONS = frozenset({"allow_distrusted"})
# Keys a --target spec may carry after the path: KIND:PATH,profile=NAME,include=ID+ID
SPEC_KEYS = {"profile": False, "include": True, "allow_distrusted": True}  # key -> takes a list

KINDS: dict[str, Kind] = {
    "pem": Kind(
        "pem", _pem, summary="a PEM bundle file (libpq sslrootcert, curl --cacert, SSL_CERT_FILE)", writes=_parent_dir
    ),
    "jks": Kind("jks", _jks, options=PASSWORD_OPTIONS, summary="a Java KeyStore file (JKS)", writes=_parent_dir),
    "pkcs12": Kind(
        "pkcs12", _pkcs12, options=PASSWORD_OPTIONS, summary="a PKCS#12 Java trust store", writes=_parent_dir
    ),
    "java-cacerts": Kind(
        "java-cacerts",
        _java_cacerts,
        needs_path=False,
        options=PASSWORD_OPTIONS | HOST_WIDE_OPTIONS | {"jvm_dirs"},
        summary="every JDK's cacerts on the host ($JAVA_HOME, java on PATH, /usr/lib/jvm), or the one named",
        writes=_cacerts_dirs,
        host_wide=True,
    ),
    "system": Kind(
        "system",
        _system,
        needs_path=False,
        options=HOST_WIDE_OPTIONS | {"distro", "refresh", "refresh_timeout"},
        summary="the OS trust store: system (detected) or system:debian|rhel|suse|alpine|arch",
        host_wide=True,
    ),
    "pem-dir": Kind(
        "pem-dir",
        _pem_dir,
        summary="an OpenSSL hash directory: one PEM per root plus <hash>.0 links (SSL_CERT_DIR, CApath)",
        writes=_own_dir,
    ),
}


def _kind_of(spec: TargetSpec) -> Kind:
    """The spec's kind; an unknown one is a ConfigError that suggests the nearest (``jsk`` -> ``jks``)."""
    kind = KINDS.get(spec.kind)
    if kind is None:
        import difflib  # only on this error path

        near = difflib.get_close_matches(spec.kind, KINDS, n=1, cutoff=0.5)
        hint = f"did you mean {near[0]!r}? " if near else ""
        known = ", ".join(sorted(KINDS))
        raise ConfigError(f"{spec.where}: unknown target kind {spec.kind!r} ({hint}known: {known})")
    return kind


def build_stores(spec: TargetSpec, ctx: StoreContext) -> list[TrustStore]:
    kind = _kind_of(spec)
    allowed = kind.options | COMMON_OPTIONS
    unknown = sorted(k for k, _ in spec.options if k not in allowed)
    if unknown:
        raise ConfigError(
            f"{spec.where}: unknown key {unknown[0]!r} for target kind {spec.kind!r} "
            f"(allowed: {', '.join(sorted(allowed | {'kind', 'path'}))})"
        )
    return kind.build(spec, ctx)


def parse_target(text: str, where: str = "--target") -> TargetSpec:
    """``KIND:PATH`` or a bare ``KIND`` (``system``, ``java-cacerts``), optionally followed by
    ``,key=value`` scope options: ``pem:/etc/app/roots.pem,profile=azure-legacy``,
    ``system,allow_distrusted=digicert-global-root-ca``. List values join ids with ``+``."""
    body = text
    options: dict[str, object] = {}
    while True:
        head, comma, tail = body.rpartition(",")
        key, eq, value = tail.partition("=")
        if not comma or not eq or not key.replace("_", "").isalpha():
            break  # a comma that belongs to the path
        if key not in SPEC_KEYS:
            allowed = ", ".join(SPEC_KEYS)
            raise ConfigError(f"{where}: unknown option {key!r} in {text!r} (after the path: {allowed})")
        if not value:
            raise ConfigError(f"{where}: {key}= needs a value in {text!r}")
        if SPEC_KEYS[key]:
            previous = options.get(key, [])
            assert isinstance(previous, list)
            options[key] = value.split("+") + previous
        elif key in options:
            raise ConfigError(f"{where}: {key} given twice in {text!r}")
        else:
            options[key] = value
        body = head
    kind, sep, path = body.partition(":")
    if not kind:
        raise ConfigError(f"{where}: empty target kind in {text!r}; write KIND:PATH, e.g. pem:/etc/azure/roots.pem")
    if kind not in KINDS and ("/" in kind or "." in kind or kind.startswith("~")):
        # A bare path: say which spec was probably meant.
        raise ConfigError(f"{where} {text}: a target is KIND:PATH; did you mean {_guess_kind(text)}:{text}?")
    return TargetSpec(kind=kind, path=path if sep and path else None, options=tuple(options.items()), where=where)


def is_host_wide(kind: str) -> bool:
    """Whether targets of ``kind`` serve every program on the host (the scope rule applies)."""
    known = KINDS.get(kind)
    return known is not None and known.host_wide


def _guess_kind(path: str) -> str:
    lower = path.lower()
    if lower.endswith((".jks", ".truststore", ".keystore")):
        return "jks"
    if lower.endswith((".p12", ".pfx")):
        return "pkcs12"
    if lower.endswith("cacerts"):
        return "java-cacerts"
    if os.path.isdir(os.path.expanduser(path)) or path.endswith("/"):
        return "pem-dir"
    return "pem"


def written_dirs(spec: TargetSpec) -> tuple[Path, ...]:
    """The directories a target writes into (see ``Kind.writes``); an unknown kind is a ConfigError."""
    return _kind_of(spec).writes(spec)


def accepts_option(kind: str, key: str) -> bool:
    """Whether targets of ``kind`` take the per-target option ``key``."""
    known = KINDS.get(kind)
    return known is not None and key in known.options
