"""The fix for a store that fails: a target rotator can keep right, or the setting to add where
nothing can be written (Node's built-in roots); and the commented config that holds them."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

from rotator.errors import ConfigError, RotatorError, StoreError
from rotator.records import NamedTuple
from rotator.scan import found as kinds
from rotator.scan.found import Found
from rotator.sync import state_dir

# The bundle Node is pointed at when a unit's node lacks the roots (NODE_EXTRA_CA_CERTS adds it
# to node's own roots), unless a bundle rotator already manages is at hand.
NODE_BUNDLE = "/etc/rotator/azure-roots.pem"
DROP_IN_NAME = "azure-roots.conf"
G1 = "digicert-global-root-ca"


def profile_for(china: bool) -> str:
    # The database profile holds G2, Microsoft RSA 2017 and Microsoft TLS RSA Root G2: every
    # anchor the PostgreSQL and MySQL chains need, the cross-sign's successor included.
    return "azure-legacy" if china else "azure-postgresql"


class TargetFix(NamedTuple):
    """A target rotator can keep right: as a ``--target`` spec and as a config table."""

    kind: str
    path: str = ""
    options: tuple[tuple[str, str], ...] = ()

    @property
    def spec(self) -> str:
        head = f"{self.kind}:{self.path}" if self.path else self.kind
        return ",".join([head, *(f"{k}={v}" for k, v in self.options)])

    def toml(self) -> list[str]:
        lines = ["[[targets]]", f"kind = {_toml(self.kind)}"]
        if self.path:
            lines.append(f"path = {_toml(self.path)}")
        for key, value in self.options:
            lines.append(f"{key} = [{_toml(value)}]" if key == "allow_distrusted" else f"{key} = {_toml(value)}")
        return lines


_TARGET_KINDS = {
    kinds.PEM: "pem",
    # certifi kept by a pem target stays a full public bundle: its Mozilla roots are not
    # disturbed, Azure's are added, and a pip upgrade that replaces it is drift the daemon repairs.
    kinds.CERTIFI: "pem",
    kinds.PEM_DIR: "pem-dir",
    kinds.JAVA_CACERTS: "java-cacerts",
}


def target_for(store: Found, *, china: bool, keystore_format: str = "") -> TargetFix | None:
    """The target that keeps ``store`` right, or None when no target can (Node, NSS)."""
    profile = (("profile", profile_for(china)),)
    if store.kind == kinds.SYSTEM:
        return TargetFix("system", options=(("allow_distrusted", G1),) if china else ())
    if store.kind in _TARGET_KINDS:
        return TargetFix(_TARGET_KINDS[store.kind], store.path, profile)
    if store.kind == kinds.KEYSTORE:
        # A keystore target needs its password from a file rotator reads (never in the config).
        secret = ("storepass_file", f"/etc/rotator/{PurePosixPath(store.path).name}.storepass")
        return TargetFix("pkcs12" if keystore_format == "pkcs12" else "jks", store.path, (*profile, secret))
    return None


def node_setting(store: Found, bundle: str) -> tuple[str, str]:
    """(setting, where it goes) for a node whose roots lack Azure's."""
    setting = f"Environment=NODE_EXTRA_CA_CERTS={bundle}"
    if store.unit:
        return setting, f"/etc/systemd/system/{store.unit}.d/{DROP_IN_NAME} ([Service] section)"
    return f"NODE_EXTRA_CA_CERTS={bundle}", f"the environment of every program run with {store.path}"


def openssl_setting(store: Found, bundle: str) -> tuple[str, str]:
    """(setting, where it goes) for a wheel's OpenSSL whose compiled directory lacks Azure's roots."""
    users = ", ".join(r.who for r in store.readers[:2])
    return f"SSL_CERT_FILE={bundle}", f"the environment of every program using {users}"


ROOT_COPIES = "/etc/rotator/roots"  # where `rotator mirror` puts the verified copies an NSS fix imports


def nss_commands(store: Found, missing: Sequence[str]) -> tuple[str, str]:
    """(commands, where) for an NSS database lacking Azure roots: rotator writes no NSS database,
    so the fix is the verified copies (`rotator mirror`) imported with certutil, trusted for TLS."""
    imports = " && ".join(
        f"certutil -d sql:{store.path} -A -t C,, -n {root_id} -i {ROOT_COPIES}/{root_id}.pem" for root_id in missing
    )
    return f"rotator mirror {ROOT_COPIES} --offline --root {' --root '.join(missing)} && {imports}", (
        f"a shell, as the owner of {store.path}"
    )


def write_config(path: Path, targets: Sequence[tuple[TargetFix, str]], settings: Sequence[tuple[str, str]]) -> None:
    """A commented rotator.toml holding ``targets`` ((target, why)); never over an existing file."""
    lines = [
        "# Written by `rotator scan --write-config`: the stores scan found failing an Azure chain.",
        "# Check it, then: rotator sync --config THIS-FILE --dry-run, and without --dry-run.",
        "",
    ]
    for target, why in targets:
        lines += [f"# {why}", *target.toml(), ""]
    if settings:
        lines.append("# Settings to add by hand (nothing rotator writes can change these clients):")
        lines += [f"#   {setting}  ->  {where}" for setting, where in settings]
        lines.append("")
    data = "\n".join(lines).encode("utf-8")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except FileExistsError as exc:
        raise ConfigError(f"--write-config {path}: exists already; scan never overwrites, name a new file") from exc
    except OSError as exc:
        raise StoreError(f"--write-config {path}: cannot create it: {exc.strerror}") from exc
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _toml(value: str) -> str:
    out = ['"']
    for char in value:
        if char in '"\\':
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def managed_paths(root: Path, environ: Mapping[str, str], config: Path | None) -> set[str]:
    """The store paths rotator already keeps: recorded by a sync, or a target of the config."""
    out: set[str] = set()
    dirs = {root / "var/lib/rotator"}
    if root == Path("/"):
        is_root = hasattr(os, "geteuid") and os.geteuid() == 0
        dirs.add(state_dir.default_state_dir(environ, is_root))
    for directory in dirs:
        if not state_dir.has_state(directory):
            continue  # no sync recorded anything here: the state reader is not even loaded
        from rotator.sync import state as state_mod

        try:
            state = state_mod.load(directory)
        except (RotatorError, OSError, ValueError):  # a damaged state file: "not known as managed"
            continue
        out |= {r.path for r in state.recorded.values() if r.path}
    for candidate in [config] if config else [root / "etc/rotator/rotator.toml"]:
        out |= _config_paths(candidate)
    return {os.path.normpath(p) for p in out}


def _config_paths(path: Path) -> set[str]:
    try:
        with open(path, "rb") as handle:
            text = handle.read(1 << 20).decode("utf-8")
    except (OSError, ValueError):
        return set()
    import tomllib  # only when there is a config to read

    try:
        data = tomllib.loads(text)
    except ValueError:
        return set()
    targets = data.get("targets", [])
    if not isinstance(targets, list):
        return set()
    base = PurePosixPath(str(path)).parent
    return {
        str(base / t["path"]) if not str(t["path"]).startswith("/") else str(t["path"])
        for t in targets
        if isinstance(t, dict) and isinstance(t.get("path"), str) and t["path"]
    }
