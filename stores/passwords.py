"""Keystore passwords: from a file, an environment variable or a systemd credential.

Never from the command line and never logged: a ``StorePassword`` prints as its source only.
A missing or unreadable source is a configuration error (exit 2) found before anything runs.
"""

from __future__ import annotations

from pathlib import Path

from rotator.errors import ConfigError
from rotator.host.files import ReadAs, read_file
from rotator.records import NamedTuple
from stores.base import StoreContext, TargetSpec

PASSWORD_OPTIONS = frozenset({"storepass_file", "storepass_env", "storepass_credential"})
# Where systemd looks for a LoadCredential= given by name only, in its order (systemd.exec(5)). Outside
# the unit (status, probe, a hand-run sync, a fleet's readiness check) root reads the same file there.
CREDSTORE_DIRS = (Path("/etc/credstore"), Path("/run/credstore"), Path("/usr/lib/credstore"))


class StorePassword(NamedTuple):
    value: str
    source: str  # where it came from, for messages: "storepass_env APP_STOREPASS"
    note: str = ""  # said once in the run's report: how a credential was found outside systemd

    def __str__(self) -> str:
        return self.source

    def __repr__(self) -> str:  # never the value, wherever the object is printed
        return f"StorePassword(source={self.source!r})"


def _strip_newline(text: str) -> str:
    # Files written with echo end in a line break that is not part of the password.
    if text.endswith("\r\n"):
        return text[:-2]
    return text[:-1] if text.endswith("\n") else text


def _read_secret_file(path: Path, where: str, what: str) -> str:
    # A pipe too: --storepass-file <(pass show app/truststore)
    raw = read_file(path, ReadAs(what, "create it or fix the path", ConfigError, where), pipes=True)
    try:
        return _strip_newline(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where}: {what} {path} is not UTF-8 text") from exc


def store_password(spec: TargetSpec, ctx: StoreContext, default: str | None) -> StorePassword:
    """The password configured for a target, or ``default`` when none is (``changeit`` for JDK cacerts)."""
    given = [(key, spec.option(key)) for key in sorted(PASSWORD_OPTIONS) if spec.option(key) is not None]
    if len(given) > 1:
        keys = " and ".join(k for k, _ in given)
        raise ConfigError(f"{spec.where}: {keys} both set; give the store password one way only")
    if not given:
        if default is None:
            how = (
                "pass --storepass-env VAR or --storepass-file FILE"
                if spec.where == "--target"
                else "add storepass_file, storepass_env or storepass_credential to it"
            )
            raise ConfigError(f"{spec.where}: {spec.kind}:{spec.path or ''} needs its store password: {how}")
        return StorePassword(default, f"the default {spec.kind} password" if default else "the empty password")
    key, value = given[0]
    cli = spec.where == "--target"
    where = f"--{key.replace('_', '-')}" if cli else f"{spec.where}.{key}"
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: expected a non-empty string")
    if key == "storepass_file":
        return StorePassword(_read_secret_file(Path(value), where, "password file"), _named(spec, key, value))
    if key == "storepass_env":
        secret = ctx.getenv(value)
        if secret is None:
            raise ConfigError(
                f"{where}: environment variable {value} is not set; export it or use "
                f"{'--storepass-file' if cli else 'storepass_file'}"
            )
        return StorePassword(secret, _named(spec, key, value))
    if "/" in value or value in (".", ".."):
        raise ConfigError(f"{where}: {value!r} is not a credential name (no slashes)")
    directory = ctx.getenv("CREDENTIALS_DIRECTORY")
    if directory:
        secret = _read_secret_file(Path(directory) / value, where, "credential")
        return StorePassword(secret, _named(spec, key, value))
    stored = _in_credstore(value, ctx.sysroot)
    if stored is None:
        places = ", ".join(str(d / value) for d in CREDSTORE_DIRS)
        raise ConfigError(
            f"{where}: $CREDENTIALS_DIRECTORY is not set and there is no {places}; run under systemd with "
            f"LoadCredential={value}:/path/to/file, or put the password in {CREDSTORE_DIRS[0] / value} (mode 0600)"
        )
    secret = _read_secret_file(stored, where, "credential")
    note = f"store password: credential {value} read from {stored} ($CREDENTIALS_DIRECTORY is not set)"
    return StorePassword(secret, f"{_named(spec, key, value)} (from {stored})", note)


def _in_credstore(name: str, sysroot: str | None) -> Path | None:
    """The first credential store holding ``name`` (inside ``sysroot`` for an image tree)."""
    for directory in CREDSTORE_DIRS:
        path = Path(sysroot) / directory.relative_to("/") if sysroot else directory
        try:
            if (path / name).exists():  # unreadable (not root): read_file names why
                return path / name
        except OSError:
            continue
    return None


def _named(spec: TargetSpec, key: str, value: str) -> str:
    """Where the password came from, as the user wrote it: a flag or a config key."""
    return f"--{key.replace('_', '-')} {value}" if spec.where == "--target" else f"{key} {value}"
