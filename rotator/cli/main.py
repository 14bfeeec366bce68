"""The command line. The only module that prints and chooses exit codes.

Exit codes: 0 success (changed or not), 1 failure (nothing partially written),
2 usage or configuration error.
"""

from __future__ import annotations

import math
import os
import sys

from rotator import __version__
from rotator.errors import ConfigError, RotatorError, ServerUnreachable

# Each command imports what it uses when it runs: --version answers without even argparse or
# typing (together about half of what it would cost), --help without the engine, and only probe
# loads ssl and the X.509 verifier (start-up is most of a no-op run). Type checkers read this name
# as typing.TYPE_CHECKING.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    import logging
    from collections.abc import Sequence
    from typing import Any

    from rotator.config.settings import Flags, Resolved
    from rotator.probe import judge as probe
    from rotator.probe import tlsfetch
    from rotator.progress import Progress


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
    handler.setFormatter(_terminal_formatter("rotator: %(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("urllib3").setLevel(logging.ERROR)
    logging.getLogger("schedule").setLevel(logging.WARNING)


def _error(message: object) -> None:
    """rotator's one error line for ``message``, wrapped on a terminal."""
    from rotator.report.width import for_terminal

    print(for_terminal(f"rotator: error: {message}", sys.stderr), file=sys.stderr)


def _terminal_formatter(fmt: str) -> logging.Formatter:
    """A formatter whose lines wrap on a terminal (one line each in the journal or a pipe)."""
    import logging

    from rotator.report.width import for_terminal

    class Wrapping(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            return for_terminal(super().format(record), sys.stderr)

    return Wrapping(fmt)


# Commands whose code logs nothing (all they say is their report): the logging package (7 ms with
# threading and traceback) stays unloaded. tests/robustness/test_fast_paths.py holds them to it.
_SILENT = frozenset({"scan"})


def main(argv: Sequence[str] | None = None) -> int:
    args_given = sys.argv[1:] if argv is None else list(argv)
    if args_given == ["--version"]:  # the one answer that needs no parser at all
        print(f"rotator {__version__}")
        return 0
    from rotator.cli.arguments import build_parser, command_given

    parser = build_parser(only=command_given(args_given))
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        # The usage of the command that was given, not the top-level one.
        parser.commands.get(args.command, parser).error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    if args.command not in _SILENT:
        _setup_logging(args)
    try:
        return int(COMMANDS[args.command](args))
    except RotatorError as exc:
        _error(exc)
        return exc.exit_code
    except KeyboardInterrupt:
        print("rotator: interrupted; stores are written atomically, nothing is half-written", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (`rotator catalog | head`): say nothing more, and keep the interpreter's
        # final flush of stdout from raising again at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def run() -> None:
    """The ``rotator`` command and ``python -m rotator``: ``main``, then a quick exit."""
    exit_quickly(main())


def exit_quickly(code: int) -> None:
    """Exit as a normal exit does, without the interpreter's teardown of every module and object
    (about 10 ms, a sixth of a no-op sync): the output is flushed and the exit handlers run
    (logging's, a coverage tool's, temporary files' finalizers); only the freeing of memory the
    process is about to give back is skipped. With another thread alive, the normal exit joins it."""
    threading = sys.modules.get("threading")
    if threading is not None and threading.active_count() > 1:
        sys.exit(code)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BrokenPipeError:  # the reader went away (`rotator catalog | head`): as main says
            code = code or 1
        except (OSError, ValueError):  # a closed or failing stream: nothing more can be said on it
            pass
    import atexit

    atexit._run_exitfuncs()
    os._exit(code)


def _flags(args: argparse.Namespace) -> Flags:
    from rotator.cli.arguments import flags_of  # loaded already: main parsed the command line with it

    return flags_of(args)


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


def _say_recorded(args: argparse.Namespace, resolved: Resolved) -> None:
    """One line, on stderr so the output and its JSON stay the same: which targets were taken from the state."""
    if resolved.recorded_in is None or args.quiet:
        return
    count = len(resolved.request.targets)
    print(
        f"rotator: no target given: using the {count} target{'s' if count != 1 else ''} recorded in "
        f"{resolved.recorded_in} (--target to choose, `rotator forget` to drop one)",
        file=sys.stderr,
    )


def cmd_sync(args: argparse.Namespace) -> int:
    from rotator.config.settings import require_targets, resolve
    from rotator.report import sync as report
    from rotator.sync.engine import sync

    resolved = resolve(_flags(args), os.environ, use_recorded=True)
    _say_recorded(args, resolved)
    require_targets(resolved)
    result = sync(resolved.request, progress=_progress(args))
    if args.json:
        _emit_json(report.sync_json(result))
    else:
        _print(args, report.sync_text(result))
    for target in result.targets:
        if target.error:
            _error(target.error)
        for hook_error in target.hook_errors:
            _error(hook_error)
    return 0 if result.ok else 1


def cmd_status(args: argparse.Namespace) -> int:
    from rotator.config.settings import require_targets, resolve
    from rotator.report import status as report
    from rotator.sync.engine import status_of
    from rotator.sync.state import State
    from rotator.sync.state import load as load_state

    resolved = resolve(_flags(args), os.environ, use_recorded=True)
    _say_recorded(args, resolved)
    require_targets(resolved)
    request = resolved.request
    status = status_of(request)
    state = load_state(request.state_dir) if request.state_dir else State()
    if request.metrics_file is not None:
        from rotator.sync import metrics  # prometheus_client loads only when metrics are wanted

        metrics.write(request.metrics_file, status, state)
    if args.json:
        _emit_json(report.status_json(status, state))
    elif args.quiet:
        for message in report.status_errors(status):
            _error(message)
    else:
        _print(args, report.status_text(status, state, verbose=args.verbose))
    return 0 if status.compliant else 1


def cmd_catalog(args: argparse.Namespace) -> int:
    from rotator.config.settings import resolve
    from rotator.report import catalog as report

    if args.catalog_command == "check":
        return cmd_catalog_check(args)
    resolved = resolve(_flags(args), os.environ)
    if args.json:
        _emit_json(report.catalog_json(resolved.catalog))
    else:
        _print(args, report.catalog_text(resolved.catalog))
    return 0


def cmd_catalog_check(args: argparse.Namespace) -> int:
    from rotator.config.settings import resolve
    from rotator.report import catalog_check as check_report
    from rotator.upstream import check as catalog_check
    from rotator.upstream import published_list as upstream

    resolved = resolve(_flags(args), os.environ)
    request = resolved.request
    source = args.source or upstream.DEFAULT_SOURCE
    from rotator.roots.locations import is_url

    if args.source and not is_url(source) and not os.path.lexists(source):
        # A mistyped path is the user's, not a failed read of Azure's list: nothing is recorded.
        raise ConfigError(
            f"--source: {source} not found; save the CA list's markdown source to a file, or give an https URL"
        )
    kept = catalog_check.run_and_keep(
        source,
        tuple(resolved.catalog.roots.values()),
        request.obtain,
        request.download,
        request.state_dir,
        args.cross_check or (),
    )
    if kept.not_kept is not None:
        print(f"rotator: warning: {kept.not_kept}", file=sys.stderr)
    if isinstance(kept.error, upstream.ListUnreadable):
        if args.json:
            _emit_json(check_report.check_unreadable_json(source, str(kept.error)))
        raise kept.error
    if kept.error is not None:
        return 1  # a bug in the check: logged with its traceback, and recorded for status
    checked = kept.checked
    assert checked is not None
    if args.json:
        _emit_json(check_report.check_json(checked))
    else:
        for line in check_report.check_text(checked):
            print(line)
    return 0 if checked.result.ok else 1


def cmd_mirror(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rotator.config.settings import resolve
    from rotator.report import JSON_VERSION
    from rotator.roots.mirror import write_mirror
    from rotator.sync.engine import wanted_roots

    resolved = resolve(_flags(args), os.environ)
    request = resolved.request
    active, _ = wanted_roots(resolved.every_selected, request.at)
    directory = Path(os.path.expanduser(args.directory))
    written = write_mirror(directory, active, request.obtain, request.download, _progress(args))
    if args.json:
        doc = [{"id": w.root_id, "sha256": w.sha256, "path": str(w.path), "source": w.source} for w in written]
        _emit_json({"version": JSON_VERSION, "command": "mirror", "written": doc})
    else:
        _print(args, [f"{w.path}: {w.root_id} (sha256 {w.sha256[:16]}..., from {w.source})" for w in written])
    return 0


def cmd_daemon(args: argparse.Namespace) -> int:
    from rotator.service.daemon import Daemon

    return Daemon(_flags(args), os.environ).run()


def cmd_man(args: argparse.Namespace) -> int:
    from rotator.cli.arguments import build_parser
    from rotator.cli.manpage import render

    sys.stdout.write(render(build_parser()))
    return 0


def cmd_completion(args: argparse.Namespace) -> int:
    from rotator.cli.arguments import build_parser
    from rotator.cli.completion import render

    sys.stdout.write(render(build_parser()))
    return 0


def cmd_service(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rotator.config import file as config_mod
    from rotator.service import dropin as service

    if args.service_command == "install":
        return cmd_service_install(args)
    path = config_mod.locate(args.config, os.environ)
    if path is None:
        raise ConfigError(
            f"no config at {config_mod.DEFAULT_PATH}; `rotator service install` writes the example, or pass --config"
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
    done = "wrote" if installed.changed else "unchanged:"
    print(f"{done} {installed.dropin}" + "".join(f"\nlinked {link}" for link in installed.links))
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


def cmd_service_install(args: argparse.Namespace) -> int:
    import tomllib
    from pathlib import Path

    from rotator.config import file as config_mod
    from rotator.service import dropin as service
    from rotator.service import install

    unit_dir = Path(os.path.abspath(args.unit_dir))
    config_dir = Path(os.path.abspath(args.config_dir))
    command = install.running_command(sys.argv[0], sys.executable)
    plan = install.plan(unit_dir, config_dir, command, force=args.force)
    config_path = plan.config.path
    # The drop-in follows the config the service will read: the one there, else the example about to be.
    if plan.fresh_config:
        cfg = config_mod.parse(tomllib.loads(plan.config.text), config_path)
    else:
        cfg = config_mod.load(config_path)
    sandbox = service.sandbox_for(cfg)
    lines = []
    for step in plan.units:
        if step.action == install.WRITE:
            lines.append(f"{'would write' if args.dry_run else 'wrote'} {step.path}")
        elif step.action == install.REPLACE:
            lines.append(f"{'would replace' if args.dry_run else 'replaced'} {step.path}")
    if plan.fresh_config:
        lines.append(f"{'would write' if args.dry_run else 'wrote'} {config_path} (the example: one pem target)")
    if args.dry_run:
        if service.pending(sandbox, config_path, unit_dir):
            lines.append(f"would write {service.dropin_path(unit_dir)} (from {config_path})")
    else:
        install.apply(plan)
        installed = service.install_dropin(sandbox, config_path, unit_dir)
        lines += [f"created {directory}" for directory in installed.created]
        if installed.changed:
            lines.append(f"wrote {installed.dropin} (from {config_path})")
    if not lines:
        lines.append(f"nothing changed: the units, {config_path} and the drop-in are as installed")
    else:
        if any(step.action != install.UNCHANGED for step in plan.units):
            lines.append(f"the units run {command}")
        if not plan.fresh_config:
            lines.append(f"kept {config_path} (an existing config is never overwritten)")
    if args.dry_run:
        lines.append("nothing written (--dry-run)")
    _print(args, lines)
    if plan.fresh_config:
        dropin = "rotator service dropin"
        if config_path != install.DEFAULT_CONFIG_DIR / install.CONFIG_NAME:
            dropin += f" --config {config_path}"
        if unit_dir != install.DEFAULT_UNIT_DIR:
            dropin += f" --unit-dir {unit_dir}"
        _print(args, [f"edit {config_path} for your targets, then run `{dropin}` again"])
    _print(
        args,
        [
            "next: systemctl daemon-reload && systemctl enable --now rotator.service",
            "      (or rotator-sync.timer for a sync four times a day instead; not both)",
        ],
    )
    return 0


def _probe_mode(args: argparse.Namespace) -> tuple[tlsfetch.Endpoint, str]:
    """The endpoint and sslmode of a live probe, or of a chain file (no connection, name only with --servername)."""
    from rotator.probe import judge as probe
    from rotator.probe import tlsfetch
    from rotator.probe.options import check_servername

    if args.servername is not None:
        problem = check_servername(args.servername)
        if problem:
            raise ConfigError(f"--servername {args.servername!r}: {problem}")
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


def probe_request(args: argparse.Namespace) -> probe.ProbeRequest:
    """What ``rotator probe`` judges, from its parsed arguments: endpoint, roots, targets and options."""
    from rotator.config.settings import resolve
    from rotator.probe import judge as probe
    from rotator.probe import tlsfetch
    from rotator.roots.locations import is_url
    from rotator.upstream import record as published

    endpoint, sslmode = _probe_mode(args)
    if args.mirror is not None and is_url(args.mirror):
        raise ConfigError(
            "--mirror: probe never downloads and reads a mirror directory only; "
            "make one with `rotator mirror DIR` and pass --mirror DIR"
        )
    resolved = resolve(_flags(args), os.environ, use_recorded=True)
    _say_recorded(args, resolved)
    return probe.ProbeRequest(
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


def cmd_probe(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rotator.probe import judge as probe
    from rotator.report import probe as report

    request = probe_request(args)
    if args.chain_file is not None:
        from rotator.probe import chainfile

        return _probe_output(args, chainfile.probe_file(request, Path(args.chain_file)))
    try:
        result = probe.probe(request)
    except ServerUnreachable as exc:
        if args.json:
            _emit_json(report.probe_unreachable_json(exc, request.endpoint.starttls))
        raise
    return _probe_output(args, result)


def _probe_output(args: argparse.Namespace, result: probe.ProbeResult) -> int:
    from rotator.report import probe as report

    if args.json:
        _emit_json(report.probe_json(result))
    elif args.quiet:
        if not result.ok:
            _error(report.probe_verdict(result))
    else:
        _print(args, report.probe_text(result))
    return 0 if result.ok else 1


def cmd_forget(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rotator.config.settings import lock_timeout
    from rotator.sync import state as state_mod
    from rotator.sync.locks import default_lock_dir, run_lock

    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    state_dir = (
        Path(os.path.expanduser(args.state_dir)) if args.state_dir else state_mod.default_state_dir(os.environ, is_root)
    )
    lock_dir = Path(os.path.expanduser(args.lock_dir)) if args.lock_dir else default_lock_dir(os.environ, is_root)
    with run_lock(lock_dir, state_dir, timeout=lock_timeout(args.lock_timeout), on_wait=_progress(args)):
        state = state_mod.load(state_dir)
        known = state_mod.recorded_names(state)
        chosen = {name for wanted in args.targets for name in state_mod.matching(known, wanted)}
        missing = [w for w in args.targets if not state_mod.matching(known, w)]
        if missing:
            listed = ", ".join(known) if known else "none"
            raise RotatorError(
                f"{missing[0]}: not recorded in {state_dir / state_mod.FILE_NAME} (recorded: {listed}); "
                "nothing forgotten"
            )
        for name in sorted(chosen):
            state.forget(name)
        state_mod.save(state_dir, state)
    _print(args, [f"forgot {name} (the store itself is left as it is)" for name in sorted(chosen)])
    return 0


def cmd_scan(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rotator.report import scan as report
    from rotator.scan import run

    root = Path(args.sysroot or "/").absolute()
    if not root.is_dir():
        raise ConfigError(f"--sysroot {root}: not a directory; name the unpacked image or mounted root")
    includes = tuple(Path(d).absolute() for d in args.include or ())
    for directory in includes:
        if not directory.is_dir():
            raise ConfigError(f"--include {directory}: not a directory")
    if args.time_limit is not None and not (0 < args.time_limit <= 86400):
        raise ConfigError(f"--time-limit {args.time_limit:g}: give seconds between 0 and 86400")
    write_to = Path(args.write_config) if args.write_config else None
    if write_to is not None and os.path.lexists(write_to):
        raise ConfigError(f"--write-config {write_to}: exists already; scan never overwrites, name a new file")
    at = None
    if args.at:
        from rotator.config.settings import parse_at  # the config layer, only when a date is given

        at = parse_at(args.at)
    request = run.ScanRequest(
        root=root,
        services=tuple(args.service or ()),
        includes=includes,
        at=at,
        time_limit=args.time_limit or run.DEFAULT_TIME_LIMIT,
        config=Path(args.config) if args.config else None,
        environ=dict(os.environ) if root == Path("/") else {},
    )
    result = run.scan(request)
    if write_to is not None:
        run.write_config(result, write_to)
    if args.json:
        _emit_json(report.scan_json(result))
    elif args.quiet:
        for store in result.failing:
            _error(report.store_line(store))
    else:
        _print(args, report.scan_text(result, verbose=args.verbose))
        if write_to is not None:
            _print(args, [f"wrote {write_to}: check it, then rotator sync --config {write_to} --dry-run"])
    return 1 if result.failing else 0


COMMANDS = {
    "sync": cmd_sync,
    "daemon": cmd_daemon,
    "status": cmd_status,
    "catalog": cmd_catalog,
    "mirror": cmd_mirror,
    "probe": cmd_probe,
    "scan": cmd_scan,
    "forget": cmd_forget,
    "service": cmd_service,
    "man": cmd_man,
    "completion": cmd_completion,
}
