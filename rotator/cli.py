"""The command line. The only module that prints and chooses exit codes.

Exit codes: 0 success (changed or not), 1 failure (nothing partially written),
2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rotator import __version__, probe, report, tlsfetch
from rotator.engine import status_of, sync, wanted_roots
from rotator.errors import ConfigError, RotatorError, ServerUnreachable
from rotator.fetch import Downloader
from rotator.fsutil import atomic_write
from rotator.obtain import Obtainer
from rotator.settings import resolve
from rotator.state import State
from rotator.state import load as load_state

log = logging.getLogger("rotator")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse exits 2 already; keep its one line
        self.print_usage(sys.stderr)
        self.exit(2, f"rotator: error: {message}\n")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE", help="TOML config (default $ROTATOR_CONFIG, /etc/rotator/rotator.toml)")
    p.add_argument("--profile", metavar="NAME", help="root set: azure-all (default), azure-postgresql, ...")
    p.add_argument("--root", metavar="ID", action="append", help="add a root by id (repeatable)")
    p.add_argument("--mirror", metavar="DIR|URL", help="a directory or URL holding <id>.pem / <id>.crt")
    p.add_argument("--offline", action="store_true", help="no network: cache, mirror directory, embedded copies")
    p.add_argument("--cache-dir", metavar="DIR", help="verified-copy cache (default /var/cache/rotator or XDG)")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    p.add_argument("--download-ca-bundle", metavar="FILE", help="CA bundle for downloads (TLS-intercepting proxies)")
    p.add_argument("--at", metavar="DATE", help="evaluate the lifecycle as of DATE (YYYY-MM-DD)")
    p.add_argument("--state-dir", metavar="DIR", help="state and lock (default /var/lib/rotator or XDG)")
    p.add_argument("--metrics-file", metavar="FILE", help="Prometheus textfile to write after each run")
    p.add_argument("--lock-timeout", metavar="SECONDS", type=float, default=60.0,
                   help="how long to wait for another run holding the lock (default 60)")
    p.add_argument("--json", action="store_true", help="one JSON document on stdout")
    p.add_argument("-v", "--verbose", action="store_true", help="more detail on stderr")
    p.add_argument("-q", "--quiet", action="store_true", help="errors only on stderr")


def _keystore_password(p: argparse.ArgumentParser) -> None:
    # Never the password itself on a command line (ps shows it): where to read it from.
    group = p.add_mutually_exclusive_group()
    group.add_argument("--storepass-env", metavar="VAR", help="keystore password of --target stores from $VAR")
    group.add_argument("--storepass-file", metavar="FILE", help="keystore password of --target stores from FILE")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="rotator", description="Keep Azure's root CAs in every trust store your clients read.")
    parser.add_argument("--version", action="version", version=f"rotator {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p_sync = sub.add_parser("sync", help="merge the verified roots into every target")
    _common(p_sync)
    p_sync.add_argument("--target", metavar="KIND:PATH", action="append", help="a store to update (repeatable)")
    p_sync.add_argument("--dry-run", action="store_true", help="print the plan, write nothing")
    _keystore_password(p_sync)
    p_sync.add_argument("--sysroot", metavar="DIR", help="image tree: system store paths under DIR")

    p_status = sub.add_parser("status", help="read-only: which targets hold which roots, what expires when")
    _common(p_status)
    p_status.add_argument("--target", metavar="KIND:PATH", action="append", help="a store to check (repeatable)")
    p_status.add_argument("--sysroot", metavar="DIR", help="image tree: system store paths under DIR")
    _keystore_password(p_status)
    p_status.add_argument("--warn-days", metavar="N", type=int, default=30,
                          help="non-compliant when a wanted root expires within N days (default 30)")

    p_daemon = sub.add_parser("daemon", help="sync at start and then on a schedule (systemd service)")
    _common(p_daemon)
    p_daemon.add_argument("--target", metavar="KIND:PATH", action="append", help="a store to keep right")
    p_daemon.add_argument("--sysroot", metavar="DIR", help=argparse.SUPPRESS)

    p_cat = sub.add_parser("catalog", help="list the known roots and profiles")
    p_cat.add_argument("--config", metavar="FILE")
    p_cat.add_argument("--json", action="store_true")

    p_mirror = sub.add_parser("mirror", help="write verified copies of the selected roots into DIR")
    _common(p_mirror)
    p_mirror.add_argument("directory", metavar="DIR")

    p_probe = sub.add_parser(
        "probe",
        help="connect to a server and say whether a client using each target would trust its chain",
        description="Exit 0 when every target trusts the server, 1 when one would reject it, "
        "2 when the server cannot be reached or speaks no TLS.",
    )
    p_probe.add_argument("endpoint", metavar="HOST[:PORT]", help="port 5432 with --starttls postgres, else 443")
    p_probe.add_argument("--starttls", choices=tlsfetch.STARTTLS, help="protocol to speak before TLS (postgres)")
    p_probe.add_argument("--servername", metavar="NAME", help="SNI and the name checked (default: HOST)")
    p_probe.add_argument("--sslmode", choices=probe.SSLMODES, default=probe.VERIFY_FULL,
                         help="verify-full (default) also checks the name, verify-ca only the chain")
    p_probe.add_argument("--timeout", metavar="S", type=float, default=tlsfetch.DEFAULT_TIMEOUT,
                         help=f"connect and handshake timeout in seconds (default {tlsfetch.DEFAULT_TIMEOUT:g})")
    p_probe.add_argument("--target", metavar="KIND:PATH", action="append",
                         help="a store to judge (repeatable; default: the config's targets)")
    _keystore_password(p_probe)
    p_probe.add_argument("--sysroot", metavar="DIR", help="image tree: system store paths under DIR")
    p_probe.add_argument("--config", metavar="FILE", help="TOML config (default $ROTATOR_CONFIG, /etc/rotator/...)")
    p_probe.add_argument("--profile", metavar="NAME", help="root set judged when no target is configured")
    p_probe.add_argument("--root", metavar="ID", action="append", help="add a root by id (repeatable)")
    p_probe.add_argument("--mirror", metavar="DIR", help="a directory holding <id>.pem copies of custom roots")
    p_probe.add_argument("--cache-dir", metavar="DIR", help="verified-copy cache to read roots from")
    p_probe.add_argument("--at", metavar="DATE", help="judge validity as of DATE (YYYY-MM-DD), e.g. a deadline")
    p_probe.add_argument("--json", action="store_true", help="one JSON document on stdout")
    p_probe.add_argument("-v", "--verbose", action="store_true", help="more detail on stderr")
    p_probe.add_argument("-q", "--quiet", action="store_true", help="errors only on stderr")
    return parser


def _setup_logging(args: argparse.Namespace) -> None:
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
    parser = build_parser()
    args = parser.parse_args(argv)
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


def _emit_json(doc: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, sort_keys=False) + "\n")


def cmd_sync(args: argparse.Namespace) -> int:
    resolved = resolve(args, os.environ)
    result = sync(resolved.request)
    if args.json:
        _emit_json(report.sync_json(result))
    else:
        for line in report.sync_text(result):
            print(line)
    for target in result.targets:
        if target.error:
            print(f"rotator: error: {target.error}", file=sys.stderr)
        for hook_error in target.hook_errors:
            print(f"rotator: error: {hook_error}", file=sys.stderr)
    return 0 if result.ok else 1


def cmd_status(args: argparse.Namespace) -> int:
    resolved = resolve(args, os.environ)
    request = resolved.request
    status = status_of(request)
    state = load_state(request.state_dir) if request.state_dir else State()
    if request.metrics_file is not None:
        from rotator import metrics  # prometheus_client loads only when metrics are wanted

        metrics.write(request.metrics_file, status, state)
    if args.json:
        _emit_json(report.status_json(status, state))
    else:
        for line in report.status_text(status, state):
            print(line)
    return 0 if status.compliant else 1


def cmd_catalog(args: argparse.Namespace) -> int:
    resolved = resolve(args, os.environ)
    if args.json:
        _emit_json(report.catalog_json(resolved.catalog))
    else:
        for line in report.catalog_text(resolved.catalog):
            print(line)
    return 0


def cmd_mirror(args: argparse.Namespace) -> int:
    resolved = resolve(args, os.environ)
    request = resolved.request
    active, _ = wanted_roots(resolved.every_selected, request.at)
    directory = Path(args.directory)
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"mirror: {directory} exists and is not a directory")
    obtainer = Obtainer(request.obtain, downloader=lambda: Downloader(request.download))
    try:
        obtained = obtainer.obtain_all(active)
    finally:
        obtainer.close()
    written = []
    for o in obtained:
        path = directory / f"{o.root.id}.pem"
        atomic_write(path, o.cert.to_pem(), mode=0o644)
        written.append({"id": o.root.id, "sha256": o.cert.sha256, "path": str(path), "source": o.source})
    if args.json:
        _emit_json({"version": report.JSON_VERSION, "command": "mirror", "written": written})
    else:
        for w in written:
            print(f"{w['path']}: {w['id']} (sha256 {w['sha256'][:16]}..., from {w['source']})")
    return 0


def cmd_daemon(args: argparse.Namespace) -> int:
    from rotator.daemon import Daemon

    return Daemon(args, os.environ).run()


def cmd_probe(args: argparse.Namespace) -> int:
    if not math.isfinite(args.timeout) or args.timeout <= 0:
        raise ConfigError("--timeout: must be a positive number of seconds")
    endpoint = tlsfetch.parse_endpoint(args.endpoint, args.starttls, args.servername)
    resolved = resolve(args, os.environ)
    request = probe.ProbeRequest(
        endpoint=endpoint,
        roots=tuple(resolved.catalog.roots.values()),
        selected=resolved.selected,
        profile=resolved.profile,
        targets=resolved.request.targets,
        obtain=resolved.request.obtain,
        context=resolved.request.context,
        sslmode=args.sslmode,
        timeout=args.timeout,
        cross_signs=resolved.catalog.cross_signs,
    )
    try:
        result = probe.probe(request)
    except ServerUnreachable as exc:
        if args.json:
            _emit_json(report.probe_unreachable_json(exc, endpoint.starttls))
        raise
    if args.json:
        _emit_json(report.probe_json(result))
    else:
        for line in report.probe_text(result):
            print(line)
    return 0 if result.ok else 1


COMMANDS = {
    "sync": cmd_sync,
    "daemon": cmd_daemon,
    "status": cmd_status,
    "catalog": cmd_catalog,
    "mirror": cmd_mirror,
    "probe": cmd_probe,
}
