"""The command line's arguments: one parser per command, and the parsed values as typed flags.

Kept apart from ``rotator.cli.main`` so that ``rotator --version`` answers before argparse (with re
and enum) is even imported.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from rotator import __version__
from rotator.records import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

    from rotator.config.settings import Flags


_COLUMNS: list[int] = []  # found once: argparse asks for every argument it adds


def _columns() -> int:
    """The terminal's width as ``shutil.get_terminal_size`` finds it ($COLUMNS, then the terminal,
    then 80), without importing shutil."""
    if not _COLUMNS:
        _COLUMNS.append(_find_columns())
    return _COLUMNS[0]


def _find_columns() -> int:
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class _Formatter(argparse.HelpFormatter):
    """argparse's own formatter, but for where its width comes from: argparse makes one for every
    argument added (to check its metavar), and the default one imports shutil, which brings bz2,
    lzma and zlib with it: about 2 ms of every run, for a width only --help uses."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: int | None = None):
        super().__init__(prog, indent_increment, max_help_position, _columns() - 2 if width is None else width)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)
        self.commands: dict[str, _Parser] = {}  # the sub-command parsers, for their own usage line

    def _get_values(self, action: argparse.Action, arg_strings: list[str]) -> Any:
        # Python before 3.13 drops a "--" that is an option's own value (--state-dir=--), which left
        # the option a list and ended in a traceback: "--" is taken as written, like any other value.
        if arg_strings == ["--"] and action.nargs is None:
            value = self._get_value(action, "--")
            self._check_value(action, value)
            return value
        return super()._get_values(action, arg_strings)

    def error(self, message: str) -> Any:  # argparse exits 2 already; keep its one line
        self.print_usage(sys.stderr)
        self.exit(2, f"rotator: error: {message}\n")


def _selection(p: argparse.ArgumentParser) -> None:
    """Which roots, and where they come from."""
    p.add_argument("--config", metavar="FILE", help="TOML config (default $ROTATOR_CONFIG, /etc/rotator/rotator.toml)")
    p.add_argument("--profile", metavar="NAME", help="root set: azure-all (default), azure-postgresql, ...")
    p.add_argument("--root", metavar="ID", action="append", help="add a root by id (repeatable; see rotator catalog)")
    p.add_argument("--mirror", metavar="DIR|URL", help="a directory or URL holding <id>.pem / <id>.crt")
    p.add_argument("--offline", action="store_true", help="no network: cache, mirror directory, embedded copies")
    p.add_argument("--cache-dir", metavar="DIR", help="verified-copy cache (default /var/cache/rotator or XDG)")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    p.add_argument("--download-ca-bundle", metavar="FILE", help="CA bundle for downloads (TLS-intercepting proxies)")
    p.add_argument("--at", metavar="DATE", help="evaluate the lifecycle as of DATE (YYYY-MM-DD)")


def _state(p: argparse.ArgumentParser, *, lock_default: float | None) -> None:
    """State and metrics; ``lock_default`` (the default shown in help) for the commands that take the lock."""
    p.add_argument("--state-dir", metavar="DIR", help="state (default /var/lib/rotator or XDG)")
    p.add_argument("--metrics-file", metavar="FILE", help="Prometheus textfile to write after each run")
    if lock_default is not None:
        p.add_argument(
            "--lock-timeout",
            metavar="SECONDS",
            type=float,
            help=f"how long to wait for another run holding the lock (default {lock_default:g}; 0: do not wait)",
        )
        _lock_dir(p)


def _lock_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--lock-dir",
        metavar="DIR",
        help="private directory of the locks (default $ROTATOR_LOCK_DIR, else /var/lib/rotator/locks or XDG)",
    )


def _output(p: argparse.ArgumentParser, *, json_doc: bool = True) -> None:
    if json_doc:
        p.add_argument("--json", action="store_true", help="one JSON document on stdout")
    p.add_argument("-v", "--verbose", action="store_true", help="more detail")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors (on stderr)")


def _targets(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--target", metavar="KIND:PATH", action="append", help=f"a store to {what} (repeatable)")
    p.add_argument("--sysroot", metavar="DIR", help="image tree: system store paths under DIR")
    # Never the password itself on a command line (ps shows it): where to read it from.
    group = p.add_mutually_exclusive_group()
    group.add_argument("--storepass-env", metavar="VAR", help="keystore password of --target stores from $VAR")
    group.add_argument("--storepass-file", metavar="FILE", help="keystore password of --target stores from FILE")


# One function per command adds its arguments; the parser of a run fills in only the command given.
def _sync_args(p: _Parser) -> None:
    from rotator.config.settings import DEFAULT_LOCK_TIMEOUT

    _targets(p, "update")
    p.add_argument("--dry-run", action="store_true", help="print the plan, write nothing")
    _selection(p)
    _state(p, lock_default=DEFAULT_LOCK_TIMEOUT)
    _output(p)


def _status_args(p: _Parser) -> None:
    from rotator.config.settings import DEFAULT_WARN_DAYS

    _targets(p, "check")
    p.add_argument(
        "--warn-days",
        metavar="N",
        type=int,
        help=f"non-compliant when a wanted root expires within N days (default {DEFAULT_WARN_DAYS})",
    )
    _selection(p)
    _state(p, lock_default=None)
    _output(p)


def _daemon_args(p: _Parser) -> None:
    from rotator.config.settings import DEFAULT_LOCK_TIMEOUT

    _targets(p, "keep right")
    _selection(p)
    _state(p, lock_default=DEFAULT_LOCK_TIMEOUT)
    _output(p, json_doc=False)  # it logs, one line per event


def _service_args(p: _Parser) -> None:
    service_sub = p.add_subparsers(
        dest="service_command",
        metavar="ACTION",
        parser_class=_Parser,
        required=True,
        help="install: the units, the example config and the drop-in; dropin: the drop-in alone",
    )
    p_install = service_sub.add_parser(
        "install",
        help="write the units, /etc/rotator/rotator.toml (only when absent) and the drop-in",
        description="Writes rotator.service, rotator-sync.service and rotator-sync.timer (ExecStart= naming "
        "this rotator), the example config when none exists (never over one), and the sandbox drop-in "
        "from the config. A unit that differs from these is replaced only with --force. "
        "Then run: systemctl daemon-reload && systemctl enable --now rotator.service.",
    )
    p_install.add_argument(
        "--unit-dir",
        metavar="DIR",
        default="/etc/systemd/system",
        help="where to write the units (default /etc/systemd/system)",
    )
    p_install.add_argument(
        "--config-dir",
        metavar="DIR",
        default="/etc/rotator",
        help="where the config is, or the example goes (default /etc/rotator)",
    )
    p_install.add_argument("--dry-run", action="store_true", help="say what would be written, write nothing")
    p_install.add_argument("--force", action="store_true", help="replace units that differ from these")
    p_dropin = service_sub.add_parser(
        "dropin",
        help="write the sandbox drop-in both units read, from the config",
        description="Writes rotator.service.d/rotator-sandbox.conf (and links it for rotator-sync.service): "
        "ReadWritePaths= for every directory the config's targets and metrics file write into, and "
        "LoadCredential= for every storepass_credential. Creates missing target directories. "
        "Then run: systemctl daemon-reload.",
    )
    p_dropin.add_argument("--config", metavar="FILE", help="TOML config (default /etc/rotator/rotator.toml)")
    p_dropin.add_argument(
        "--unit-dir",
        metavar="DIR",
        default="/etc/systemd/system",
        help="where the units are installed (default /etc/systemd/system)",
    )
    p_dropin.add_argument("--print", dest="print_only", action="store_true", help="print the drop-in, write nothing")


def _man_args(p: _Parser) -> None:
    del p  # no arguments: the page is the whole parser


def _completion_args(p: _Parser) -> None:
    p.add_argument("shell", choices=("bash",), help="the shell to complete for")


def _catalog_args(p: _Parser) -> None:
    p.add_argument("--config", metavar="FILE", help="TOML config whose custom roots and profiles to include")
    p.add_argument("--json", action="store_true", help="one JSON document on stdout")
    cat_sub = p.add_subparsers(
        dest="catalog_command",
        metavar="ACTION",
        parser_class=_Parser,
        help="check: compare the catalog with Azure's published CA list",
    )
    p_check = cat_sub.add_parser(
        "check",
        help="compare the catalog with Azure's published CA list; propose verified entries for new roots",
        description="Exit 0 when the catalog agrees with the list, 1 when they differ, 2 when the list "
        "cannot be fetched or read. Nothing is trusted or changed.",
    )
    p_check.add_argument("--source", metavar="URL|FILE", help="the list's markdown source (default: Microsoft's)")
    p_check.add_argument(
        "--cross-check",
        metavar="FILE|DIR|URL",
        action="append",
        help="a second channel for proposed roots: a bundle or directory of certificates, "
        "or another URL of the certificate (repeatable)",
    )
    # SUPPRESS: `rotator catalog --json check` keeps the flag given before the action.
    p_check.add_argument(
        "--config",
        metavar="FILE",
        default=argparse.SUPPRESS,
        help="TOML config (custom roots are part of the comparison)",
    )
    p_check.add_argument("--download-ca-bundle", metavar="FILE", help="CA bundle for downloads")
    p_check.add_argument("--cache-dir", metavar="DIR", help="verified-copy cache (custom roots' local copies)")
    p_check.add_argument("--state-dir", metavar="DIR", help="where the result is kept for status and the daemon")
    p_check.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="one JSON document on stdout")
    p_check.add_argument("-v", "--verbose", action="store_true", help="more detail on stderr")
    p_check.add_argument("-q", "--quiet", action="store_true", help="errors only on stderr")


def _mirror_args(p: _Parser) -> None:
    p.add_argument("directory", metavar="DIR", help="directory to write <id>.pem files into (created)")
    _selection(p)
    _output(p)


def _probe_args(p: _Parser) -> None:
    from rotator.probe import options as probe_options  # built only when probe's arguments are

    p.add_argument(
        "endpoint",
        metavar="HOST[:PORT]",
        nargs="?",
        help="port 5432 with --starttls postgres, 3306 with mysql, else 443",
    )
    p.add_argument(
        "--chain-file",
        metavar="FILE",
        help="judge a saved chain instead of connecting (openssl s_client -showcerts output or a PEM bundle)",
    )
    p.add_argument("--starttls", choices=probe_options.STARTTLS, help="protocol to speak before TLS (postgres, mysql)")
    p.add_argument("--servername", metavar="NAME", help="SNI and the name checked (default: HOST)")
    p.add_argument(
        "--sslmode",
        choices=probe_options.SSLMODES,
        help="verify-full (default) also checks the name, verify-ca only the chain; "
        "with --chain-file the name is checked only when --servername is given",
    )
    p.add_argument(
        "--timeout",
        metavar="S",
        type=float,
        help=f"connect and handshake timeout in seconds (default {probe_options.DEFAULT_TIMEOUT:g})",
    )
    _targets(p, "judge (default: the config's targets)")
    p.add_argument("--config", metavar="FILE", help="TOML config (default $ROTATOR_CONFIG, /etc/rotator/...)")
    p.add_argument("--profile", metavar="NAME", help="root set judged when no target is configured")
    p.add_argument("--root", metavar="ID", action="append", help="add a root by id (repeatable)")
    p.add_argument("--mirror", metavar="DIR", help="a directory holding <id>.pem copies of custom roots")
    p.add_argument(
        "--offline",
        action="store_true",
        help="accepted as everywhere: probe never downloads roots (it reads local copies)",
    )
    p.add_argument("--cache-dir", metavar="DIR", help="verified-copy cache to read roots from")
    p.add_argument(
        "--state-dir", metavar="DIR", help="where syncs recorded their targets (default /var/lib/rotator or XDG)"
    )
    p.add_argument("--at", metavar="DATE", help="judge validity as of DATE (YYYY-MM-DD), e.g. a deadline")
    _output(p)


def _forget_args(p: _Parser) -> None:
    from rotator.config.settings import DEFAULT_LOCK_TIMEOUT

    p.add_argument("targets", metavar="TARGET", nargs="+", help="a recorded target: KIND:PATH, or KIND for all of it")
    p.add_argument("--state-dir", metavar="DIR", help="state (default /var/lib/rotator or XDG)")
    p.add_argument(
        "--lock-timeout",
        metavar="SECONDS",
        type=float,
        help=f"how long to wait for a run holding the lock (default {DEFAULT_LOCK_TIMEOUT:g}; 0: do not wait)",
    )
    _lock_dir(p)
    p.add_argument("-q", "--quiet", action="store_true", help="errors only on stderr")


def _scan_args(p: _Parser) -> None:
    p.add_argument("--sysroot", metavar="DIR", help="scan an image tree or a mounted root instead of this host")
    p.add_argument(
        "--service",
        action="append",
        choices=("postgresql", "mysql", "china", "all"),
        help="whose chains to judge (repeatable; default postgresql and mysql)",
    )
    p.add_argument("--include", metavar="DIR", action="append", help="walk DIR too (repeatable)")
    p.add_argument("--write-config", metavar="FILE", help="write a rotator.toml with a target per failing store")
    p.add_argument("--config", metavar="FILE", help="config whose targets count as managed (default as sync's)")
    p.add_argument("--at", metavar="DATE", help="judge as of DATE (YYYY-MM-DD), e.g. after a cross-sign expires")
    p.add_argument("--time-limit", metavar="S", type=float, help="stop walking after S seconds (default 300)")
    _output(p)


# name: (its one-line help, its description or None, the function adding its arguments), in help order
_COMMAND_PARSERS: dict[str, tuple[str, str | None, Callable[[_Parser], None]]] = {
    "sync": (
        "merge the verified roots into every target",
        "Obtain the verified roots and merge them into every target (exit 0 ok, 1 failure, 2 usage or config error).",
        _sync_args,
    ),
    "status": (
        "read-only: which targets hold which roots, what expires when",
        "Exit 0 when compliant, 1 when a target lacks a wanted root, cannot be read or a root expires soon, "
        "2 when no target is configured.",
        _status_args,
    ),
    "daemon": ("sync at start and then on a schedule (systemd service)", None, _daemon_args),
    "service": ("set up the systemd service: `rotator service install`", None, _service_args),
    "catalog": (
        "list the known roots and profiles; check them against Azure's list",
        "The roots rotator knows (built in and from the config), with pins and notes, and the profiles; "
        "`rotator catalog check` compares them with Azure's published list.",
        _catalog_args,
    ),
    "mirror": (
        "write verified copies of the selected roots into DIR",
        "Write a verified copy of each selected root into DIR as <id>.pem, for hosts without network "
        "(rotator sync --offline --mirror DIR).",
        _mirror_args,
    ),
    "forget": (
        "drop targets from what earlier syncs recorded (the stores themselves are not touched)",
        "Drop targets from the state file, so that status, sync and probe without --target no longer use "
        "them (exit 0 done, 1 when a TARGET is not recorded, 2 usage). The stores are left as they are.",
        _forget_args,
    ),
    "scan": (
        "read-only: find every trust store the host's clients read, say which will break, and the fix",
        "Find the trust stores on this host (or --sysroot), judge each against Azure's chains, and say the "
        "fix (exit 0 when every store survives every chain, 1 when one fails, 2 usage).",
        _scan_args,
    ),
    "probe": (
        "connect to a server and say whether a client using each target would trust its chain",
        "Exit 0 when every target trusts the server, 1 when one would reject it, 2 when the server cannot "
        "be reached or speaks no TLS (or the chain file cannot be read).",
        _probe_args,
    ),
    "man": (
        "print the manual page, rotator(1), in roff",
        "Print rotator(1), every command and flag, made from this parser: "
        "rotator man > /usr/local/share/man/man1/rotator.1",
        _man_args,
    ),
    "completion": (
        "print the shell completion script (bash)",
        "Print a bash completion script for every command and flag: "
        "rotator completion bash > /usr/share/bash-completion/completions/rotator",
        _completion_args,
    ),
}


def build_parser(only: str | None = None) -> _Parser:
    """The whole command line, or with ``only`` a parser of that command alone: building every
    command's parser is a tenth of a no-op run."""
    parser = _Parser(prog="rotator", description="Keep Azure's root CAs in every trust store your clients read.")
    parser.add_argument("--version", action="version", version=f"rotator {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (help_line, description, add_arguments) in _COMMAND_PARSERS.items():
        # With the command known, the others are left out: nothing parses with them (the list of
        # commands only shows in the top-level help and errors, which a known command never
        # reaches), and each parser argparse builds costs a formatter and gettext lookups.
        if only is not None and name != only:
            continue
        p: _Parser = sub.add_parser(name, help=help_line, description=description)
        parser.commands[name] = p
        add_arguments(p)
    return parser


def command_given(argv: Sequence[str]) -> str | None:
    """The command named on the command line (the first word that is no option), if it is one."""
    word = next((arg for arg in argv if not arg.startswith("-")), None)
    return word if word in _COMMAND_PARSERS else None


def flags_of(args: argparse.Namespace) -> Flags:
    """The parsed command line as one typed object; a flag a command lacks is "not given"."""
    from rotator.config.settings import Flags

    def opt(name: str) -> Any:
        return getattr(args, name, None)

    return Flags(
        config=opt("config"),
        profile=opt("profile"),
        roots=tuple(opt("root") or ()),
        targets=tuple(opt("target") or ()),
        mirror=opt("mirror"),
        offline=bool(opt("offline")),
        cache_dir=opt("cache_dir"),
        no_cache=bool(opt("no_cache")),
        download_ca_bundle=opt("download_ca_bundle"),
        at=opt("at"),
        state_dir=opt("state_dir"),
        metrics_file=opt("metrics_file"),
        lock_timeout=opt("lock_timeout"),
        lock_dir=opt("lock_dir"),
        warn_days=opt("warn_days"),
        dry_run=bool(opt("dry_run")),
        sysroot=opt("sysroot"),
        storepass_env=opt("storepass_env"),
        storepass_file=opt("storepass_file"),
    )


def command_tree(parser: argparse.ArgumentParser) -> list[tuple[tuple[str, ...], argparse.ArgumentParser, str]]:
    """Every command of ``parser`` (a whole one: build_parser()), depth first in help order:
    (its words after ``rotator``, its parser, its one-line help). The man page, the completion
    script and the flags test read the command line from here."""
    found: list[tuple[tuple[str, ...], argparse.ArgumentParser, str]] = []

    def walk(path: tuple[str, ...], p: argparse.ArgumentParser, help_line: str) -> None:
        found.append((path, p, help_line))
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for choice in action._choices_actions:
                    walk((*path, choice.dest), action.choices[choice.dest], choice.help or "")

    walk((), parser, parser.description or "")
    return found


def subcommands(p: argparse.ArgumentParser) -> list[str]:
    return [c.dest for a in p._actions if isinstance(a, argparse._SubParsersAction) for c in a._choices_actions]


def options(p: argparse.ArgumentParser) -> list[argparse.Action]:
    """The actions of ``p`` a user gives: its flags and positionals, not its sub-commands."""
    return [a for a in p._actions if not isinstance(a, argparse._SubParsersAction) and a.help != argparse.SUPPRESS]
