"""The command line. The only module that prints and chooses exit codes.

Exit codes: 0 success (changed or not), 1 failure (nothing partially written),
2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from rotator import __version__, probe_options
from rotator.errors import ConfigError, RotatorError, ServerUnreachable

# Each command imports what it uses when it runs: --version and --help answer without loading
# the engine, and only probe loads ssl and the X.509 verifier (start-up is most of a no-op run).
if TYPE_CHECKING:
    from pathlib import Path

    from rotator import probe, tlsfetch
    from rotator.progress import Progress
    from rotator.published import CheckRecord
    from rotator.settings import Flags


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands: dict[str, _Parser] = {}  # the sub-command parsers, for their own usage line

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
    p.add_argument("--state-dir", metavar="DIR", help="state and lock (default /var/lib/rotator or XDG)")
    p.add_argument("--metrics-file", metavar="FILE", help="Prometheus textfile to write after each run")
    if lock_default is not None:
        p.add_argument(
            "--lock-timeout",
            metavar="SECONDS",
            type=float,
            help=f"how long to wait for another run holding the lock (default {lock_default:g}; 0: do not wait)",
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
    from rotator.settings import DEFAULT_LOCK_TIMEOUT

    _targets(p, "update")
    p.add_argument("--dry-run", action="store_true", help="print the plan, write nothing")
    _selection(p)
    _state(p, lock_default=DEFAULT_LOCK_TIMEOUT)
    _output(p)


def _status_args(p: _Parser) -> None:
    from rotator.settings import DEFAULT_WARN_DAYS

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
    from rotator.settings import DEFAULT_LOCK_TIMEOUT

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
        help="dropin: write the sandbox drop-in for the units",
    )
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
    p.add_argument("endpoint", metavar="HOST[:PORT]", nargs="?", help="port 5432 with --starttls postgres, else 443")
    p.add_argument(
        "--chain-file",
        metavar="FILE",
        help="judge a saved chain instead of connecting (openssl s_client -showcerts output or a PEM bundle)",
    )
    p.add_argument("--starttls", choices=probe_options.STARTTLS, help="protocol to speak before TLS (postgres)")
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
    p.add_argument("--at", metavar="DATE", help="judge validity as of DATE (YYYY-MM-DD), e.g. a deadline")
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
    "service": ("set up the systemd service: `rotator service dropin`", None, _service_args),
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
    "probe": (
        "connect to a server and say whether a client using each target would trust its chain",
        "Exit 0 when every target trusts the server, 1 when one would reject it, 2 when the server cannot "
        "be reached or speaks no TLS (or the chain file cannot be read).",
        _probe_args,
    ),
}


def build_parser(only: str | None = None) -> _Parser:
    """The whole command line, or with ``only`` a parser whose other commands are names without
    arguments: building every command's arguments is a tenth of a no-op run."""
    parser = _Parser(prog="rotator", description="Keep Azure's root CAs in every trust store your clients read.")
    parser.add_argument("--version", action="version", version=f"rotator {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (help_line, description, add_arguments) in _COMMAND_PARSERS.items():
        p: _Parser = sub.add_parser(name, help=help_line, description=description)
        parser.commands[name] = p
        if only is None or only == name:
            add_arguments(p)
    return parser


def command_given(argv: Sequence[str]) -> str | None:
    """The command named on the command line (the first word that is no option), if it is one."""
    word = next((arg for arg in argv if not arg.startswith("-")), None)
    return word if word in _COMMAND_PARSERS else None


def flags_of(args: argparse.Namespace) -> Flags:
    """The parsed command line as one typed object; a flag a command lacks is "not given"."""
    from rotator.settings import Flags

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
        warn_days=opt("warn_days"),
        dry_run=bool(opt("dry_run")),
        sysroot=opt("sysroot"),
        storepass_env=opt("storepass_env"),
        storepass_file=opt("storepass_file"),
    )


def _setup_logging(args: argparse.Namespace) -> None:
    import logging

    # The daemon logs one line per event; by hand, only what needs attention.
    level = logging.INFO if args.command == "daemon" else logging.WARNING
    if getattr(args, "verbose", False):
        level = logging.DEBUG
    elif getattr(args, "quiet", False):
        level = logging.ERROR
    handler = logging.StreamHandler(sys.stderr)
    # Plain lines: under systemd, journald adds the time and level itself.
    handler.setFormatter(logging.Formatter("rotator: %(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("urllib3").setLevel(logging.ERROR)
    logging.getLogger("schedule").setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    args_given = sys.argv[1:] if argv is None else list(argv)
    if args_given == ["--version"]:  # the one answer that needs no parser at all
        print(f"rotator {__version__}")
        return 0
    parser = build_parser(only=command_given(args_given))
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        # The usage of the command that was given, not the top-level one.
        parser.commands.get(args.command, parser).error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    _setup_logging(args)
    try:
        return int(COMMANDS[args.command](args))
    except RotatorError as exc:
        print(f"rotator: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("rotator: interrupted; stores are written atomically, nothing is half-written", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (`rotator catalog | head`): say nothing more, and keep the interpreter's
        # final flush of stdout from raising again at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _emit_json(doc: dict[str, Any]) -> None:
    import json

    sys.stdout.write(json.dumps(doc, indent=2, sort_keys=False) + "\n")


def _print(args: argparse.Namespace, lines: Sequence[str]) -> None:
    if not getattr(args, "quiet", False):
        for line in lines:
            print(line)


def _progress(args: argparse.Namespace) -> Progress:
    """Where a step that takes a while says so: stderr, unless --quiet or --json."""
    from rotator.progress import silent

    if args.quiet or getattr(args, "json", False):
        return silent

    def show(message: str) -> None:
        print(f"rotator: {message}", file=sys.stderr, flush=True)

    return show


def cmd_sync(args: argparse.Namespace) -> int:
    from rotator import report
    from rotator.engine import sync
    from rotator.settings import require_targets, resolve

    resolved = resolve(flags_of(args), os.environ)
    require_targets(resolved)
    result = sync(resolved.request, progress=_progress(args))
    if args.json:
        _emit_json(report.sync_json(result))
    else:
        _print(args, report.sync_text(result))
    for target in result.targets:
        if target.error:
            print(f"rotator: error: {target.error}", file=sys.stderr)
        for hook_error in target.hook_errors:
            print(f"rotator: error: {hook_error}", file=sys.stderr)
    return 0 if result.ok else 1


def cmd_status(args: argparse.Namespace) -> int:
    from rotator import report
    from rotator.engine import status_of
    from rotator.settings import require_targets, resolve
    from rotator.state import State
    from rotator.state import load as load_state

    resolved = resolve(flags_of(args), os.environ)
    require_targets(resolved)
    request = resolved.request
    status = status_of(request)
    state = load_state(request.state_dir) if request.state_dir else State()
    if request.metrics_file is not None:
        from rotator import metrics  # prometheus_client loads only when metrics are wanted

        metrics.write(request.metrics_file, status, state)
    if args.json:
        _emit_json(report.status_json(status, state))
    elif args.quiet:
        for message in report.status_errors(status):
            print(f"rotator: error: {message}", file=sys.stderr)
    else:
        _print(args, report.status_text(status, state, verbose=args.verbose))
    return 0 if status.compliant else 1


def cmd_catalog(args: argparse.Namespace) -> int:
    from rotator import report
    from rotator.settings import resolve

    if args.catalog_command == "check":
        return cmd_catalog_check(args)
    resolved = resolve(flags_of(args), os.environ)
    if args.json:
        _emit_json(report.catalog_json(resolved.catalog))
    else:
        _print(args, report.catalog_text(resolved.catalog))
    return 0


def cmd_catalog_check(args: argparse.Namespace) -> int:
    from rotator import catalog_check, check_report, upstream
    from rotator.settings import resolve

    resolved = resolve(flags_of(args), os.environ)
    request = resolved.request
    source = args.source or upstream.DEFAULT_SOURCE
    state_dir = request.state_dir
    try:
        checked = catalog_check.run(
            source, tuple(resolved.catalog.roots.values()), request.obtain, request.download, args.cross_check or ()
        )
    except upstream.ListUnreadable as exc:
        error = str(exc)
        _keep_check(state_dir, lambda previous: catalog_check.failure_record(source, request.at, error, previous))
        if args.json:
            _emit_json(check_report.check_unreadable_json(source, error))
        raise
    _keep_check(state_dir, lambda previous: catalog_check.success_record(checked, source))
    if args.json:
        _emit_json(check_report.check_json(checked))
    else:
        for line in check_report.check_text(checked):
            print(line)
    return 0 if checked.result.ok else 1


def _keep_check(state_dir: Path | None, record: Callable[[CheckRecord | None], CheckRecord]) -> None:
    from rotator import published

    """Save the check's outcome for status and the daemon; failing to save is a warning, not a failure."""
    if state_dir is None:
        return
    try:
        published.save(state_dir, record(published.load(state_dir)))
    except (RotatorError, OSError) as exc:
        print(
            f"rotator: warning: the result was not kept in {state_dir} ({exc}); status will not show it",
            file=sys.stderr,
        )


def cmd_mirror(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rotator import report
    from rotator.engine import wanted_roots
    from rotator.mirror import write_mirror
    from rotator.settings import resolve

    resolved = resolve(flags_of(args), os.environ)
    request = resolved.request
    active, _ = wanted_roots(resolved.every_selected, request.at)
    directory = Path(os.path.expanduser(args.directory))
    written = write_mirror(directory, active, request.obtain, request.download, _progress(args))
    if args.json:
        doc = [{"id": w.root_id, "sha256": w.sha256, "path": str(w.path), "source": w.source} for w in written]
        _emit_json({"version": report.JSON_VERSION, "command": "mirror", "written": doc})
    else:
        _print(args, [f"{w.path}: {w.root_id} (sha256 {w.sha256[:16]}..., from {w.source})" for w in written])
    return 0


def cmd_daemon(args: argparse.Namespace) -> int:
    from rotator.daemon import Daemon

    return Daemon(flags_of(args), os.environ).run()


def cmd_service(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rotator import config as config_mod
    from rotator import service

    path = config_mod.locate(args.config, os.environ)
    if path is None:
        raise ConfigError(
            f"no config at {config_mod.DEFAULT_PATH}; install one first (systemd/rotator.toml.example) or pass --config"
        )
    path = Path(os.path.abspath(path))  # named in the drop-in's comment
    cfg = config_mod.load(path)
    sandbox = service.sandbox_for(cfg)
    if args.print_only:
        sys.stdout.write(service.render_dropin(sandbox, path))
        return 0
    installed = service.install_dropin(sandbox, path, Path(args.unit_dir))
    for directory in installed.created:
        print(f"created {directory}")
    print(f"wrote {installed.dropin}" + "".join(f"\nlinked {link}" for link in installed.links))
    for directory in sandbox.writable:
        print(f"  writable: {directory}")
    for name in sandbox.credentials:
        print(f"  credential: {name}")
    for missing in installed.missing_credentials:
        print(
            f"rotator: warning: {missing} does not exist; put the keystore password there (mode 0600) "
            "before starting the service",
            file=sys.stderr,
        )
    print("next: systemctl daemon-reload, then (re)start rotator.service or rotator-sync.timer")
    return 0


def _probe_mode(args: argparse.Namespace) -> tuple[tlsfetch.Endpoint, str]:
    """The endpoint and sslmode of a live probe, or of a chain file (no connection, name only with --servername)."""
    from rotator import probe, tlsfetch

    if args.chain_file is None:
        if args.endpoint is None:
            raise ConfigError("probe: give HOST[:PORT] to connect to, or --chain-file FILE to judge a saved chain")
        if args.timeout is not None and (not math.isfinite(args.timeout) or args.timeout <= 0):
            raise ConfigError("--timeout: must be a positive number of seconds")
        endpoint = tlsfetch.parse_endpoint(args.endpoint, args.starttls, args.servername)
        return endpoint, args.sslmode or probe.VERIFY_FULL
    if args.endpoint is not None:
        raise ConfigError("probe: give HOST[:PORT] or --chain-file FILE, not both")
    for flag, value in (("--starttls", args.starttls), ("--timeout", args.timeout)):
        if value is not None:
            raise ConfigError(f"{flag}: no connection is made with --chain-file; leave it out")
    if args.sslmode == probe.VERIFY_FULL and not args.servername:
        raise ConfigError("--chain-file: the name is checked only with --servername NAME (the name clients connect to)")
    sslmode = args.sslmode or (probe.VERIFY_FULL if args.servername else probe.VERIFY_CA)
    # No host: the endpoint only carries the name to check.
    return tlsfetch.Endpoint(host="", port=0, servername=args.servername), sslmode


def cmd_probe(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rotator import probe, published, report, tlsfetch
    from rotator.settings import resolve

    endpoint, sslmode = _probe_mode(args)
    if args.mirror is not None and args.mirror.startswith(("https://", "http://")):
        raise ConfigError(
            "--mirror: probe never downloads and reads a mirror directory only; "
            "make one with `rotator mirror DIR` and pass --mirror DIR"
        )
    resolved = resolve(flags_of(args), os.environ)
    request = probe.ProbeRequest(
        endpoint=endpoint,
        roots=tuple(resolved.catalog.roots.values()),
        selected=resolved.selected,
        profile=resolved.profile,
        targets=resolved.request.targets,
        obtain=resolved.request.obtain,
        context=resolved.request.context,
        sslmode=sslmode,
        timeout=tlsfetch.DEFAULT_TIMEOUT if args.timeout is None else args.timeout,
        cross_signs=resolved.catalog.cross_signs,
        intermediates=published.intermediates(published.load_or_note(resolved.request.state_dir)),
    )
    if args.chain_file is not None:
        from rotator import chainfile

        return _probe_output(args, chainfile.probe_file(request, Path(args.chain_file)))
    try:
        result = probe.probe(request)
    except ServerUnreachable as exc:
        if args.json:
            _emit_json(report.probe_unreachable_json(exc, endpoint.starttls))
        raise
    return _probe_output(args, result)


def _probe_output(args: argparse.Namespace, result: probe.ProbeResult) -> int:
    from rotator import report

    if args.json:
        _emit_json(report.probe_json(result))
    elif args.quiet:
        if not result.ok:
            print(f"rotator: error: {report.probe_verdict(result)}", file=sys.stderr)
    else:
        _print(args, report.probe_text(result))
    return 0 if result.ok else 1


COMMANDS = {
    "sync": cmd_sync,
    "daemon": cmd_daemon,
    "status": cmd_status,
    "catalog": cmd_catalog,
    "mirror": cmd_mirror,
    "probe": cmd_probe,
    "service": cmd_service,
}
