"""The rotator.fleet modules run in this process, as Ansible runs them on a managed host, with
rotator itself replaced: what each module would start (the command line and the config file it
writes for its targets) is captured and checked against what rotator's own parsers read from it.

``run_module`` goes through the module's ``main()`` and AnsibleModule's real argument handling
(types, ``path`` expansion, mutually exclusive options); ``check`` says what is wrong with the outcome,
or nothing. The fleet tests and benchmarks/fuzz_volume.py share both.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import math
import os
import re
import sys
import types
from pathlib import Path
from typing import Any, NamedTuple
from unittest import mock

from tests.support.paths import REPO

PLUGINS = REPO / "ansible" / "rotator" / "fleet" / "plugins"
COLLECTION = "ansible_collections.rotator.fleet"
EXECUTABLE = "/opt/rotator/bin/rotator"
MODULE_NAMES = ("sync", "status", "scan")
# What rotator prints, reduced to what every module reads.
REPORT = {"ok": True, "compliant": True, "targets": [], "stores": [], "summary": {}, "warnings": []}


def _load(name: str, path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _modules() -> dict[str, types.ModuleType]:
    """The collection's modules, importable as Ansible imports them (ansible_collections.rotator.fleet...)."""
    for package in ("ansible_collections.rotator", COLLECTION, f"{COLLECTION}.plugins"):
        sys.modules.setdefault(package, types.ModuleType(package))
    utils = sys.modules.setdefault(f"{COLLECTION}.plugins.module_utils", types.ModuleType("module_utils"))
    util = _load(f"{COLLECTION}.plugins.module_utils.rotator", PLUGINS / "module_utils" / "rotator.py")
    utils.rotator = util  # type: ignore[attr-defined]
    return {
        name: _load(f"{COLLECTION}.plugins.modules.{name}", PLUGINS / "modules" / f"{name}.py") for name in MODULE_NAMES
    }


MODULES = _modules()


class Call(NamedTuple):
    argv: list[str]
    environ: dict[str, str]
    config: str | None  # the config file the module wrote, as rotator would read it
    config_path: str | None
    params: dict[str, Any]  # the module's parameters after Ansible's checks and conversions
    loaded: Any  # rotator's Config from that file, or the error it refused it with


class Outcome(NamedTuple):
    result: dict[str, Any]  # what the module returned to Ansible
    calls: list[Call]


def run_module(name: str, params: dict[str, Any], *, check_mode: bool = False) -> Outcome:
    """Module ``name``'s main() with ``params``, rotator replaced by a stand-in that records its call."""
    from ansible.module_utils import basic

    from rotator.config.file import load
    from rotator.errors import ConfigError

    calls: list[Call] = []

    def run_command(self: Any, args: list[str], environ_update: dict[str, str] | None = None, **_: Any) -> Any:
        path = next((a.removeprefix("--config=") for a in args if a.startswith("--config=")), None)
        text, loaded = None, None
        if path is not None and self.params.get("targets"):  # the file the module wrote (a given one is not read)
            text = Path(path).read_text(encoding="utf-8")
            try:
                loaded = load(Path(path))
            except ConfigError as exc:
                loaded = exc
        calls.append(Call(list(args), dict(environ_update or {}), text, path, dict(self.params), loaded))
        return 0, json.dumps(REPORT), ""

    document = {"ANSIBLE_MODULE_ARGS": {**params, "executable": EXECUTABLE, "_ansible_check_mode": check_mode}}
    out = io.StringIO()
    with (
        mock.patch.object(basic, "_ANSIBLE_ARGS", json.dumps(document).encode()),
        mock.patch.object(basic, "_ANSIBLE_PROFILE", "legacy"),
        mock.patch.object(basic.AnsibleModule, "run_command", run_command),
        contextlib.redirect_stdout(out),
        contextlib.suppress(SystemExit),
    ):
        MODULES[name].main()
    return Outcome(json.loads(out.getvalue()), calls)


# Module parameter -> (rotator's flag, the attribute its parser sets).
VALUE_FLAGS = {
    "profile": "profile",
    "mirror": "mirror",
    "download_ca_bundle": "download_ca_bundle",
    "cache_dir": "cache_dir",
    "state_dir": "state_dir",
    "at": "at",
    "sysroot": "sysroot",
}


def check(name: str, outcome: Outcome) -> str | None:
    """What is wrong with one module run, or None.

    Refused (``failed``): a message, and rotator never started. Accepted: one command line that
    rotator's own parser reads back to exactly the module's parameters, and a config file that
    rotator's loader either refuses naming the file, or reads back to exactly the targets given,
    each naming the file the play named.
    """
    result, calls = outcome
    if result.get("failed"):
        msg = result.get("msg")
        if not isinstance(msg, str) or not msg.strip():
            return f"refused without a message: {result!r}"
        if calls:
            return f"failed after running rotator: {msg}"
        return None
    if len(calls) != 1:
        return f"{len(calls)} runs of rotator for one task: {result!r}"
    call = calls[0]
    problem = _argv_problem(name, call)
    if problem is None and call.params.get("targets"):
        problem = _config_problem(call)
    return problem


def _argv_problem(name: str, call: Call) -> str | None:
    from rotator.cli.arguments import build_parser

    params = call.params
    if call.argv[0] != EXECUTABLE:
        return f"runs {call.argv[0]!r}"
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            args = build_parser().parse_args(call.argv[1:])
    except SystemExit:
        said = err.getvalue().strip().splitlines()[-1:]
        # rotator refusing a value it names (a --service it does not know, a --time-limit that is not
        # a number) is a clear answer; reading a value as another option is not.
        if said and re.match(r"rotator(?: \w+)?: error: argument --[a-z-]+: invalid (choice|\w+ value): ", said[0]):
            return None
        return f"rotator cannot read the command line {call.argv[1:]!r}: {err.getvalue().strip()}"
    if args.command != name or not args.json:
        return f"ran {args.command!r} (json {args.json})"
    wanted: dict[str, Any] = {}
    if name == "scan":
        wanted["service"] = params.get("service") or None
        wanted["include"] = params.get("include") or None
        limit = params.get("time_limit")
        wanted["time_limit"] = float(str(limit)) if limit else None
        keys = ["at", "sysroot"]
    else:
        wanted["root"] = params.get("roots") or None
        keys = ["profile", "state_dir", "at", "sysroot"]
        if name == "sync":
            keys += ["mirror", "download_ca_bundle"]
            wanted["offline"] = bool(params.get("offline"))
            wanted["cache_dir"] = None if params.get("no_cache") else params.get("cache_dir") or None
            wanted["no_cache"] = bool(params.get("no_cache"))
    for key in keys:
        value = params.get(key)
        wanted[key] = str(value) if value else None
    config = params.get("config") if not params.get("targets") else None
    if name == "scan" or not params.get("targets"):
        wanted["config"] = config or None
    for key, value in wanted.items():
        got = getattr(args, key, None)
        if isinstance(value, float) and isinstance(got, float) and math.isnan(value) and math.isnan(got):
            continue
        if got != value:
            return f"{key}: the module was given {value!r}, rotator reads {got!r} from {call.argv[1:]!r}"
    return None


def _config_problem(call: Call) -> str | None:
    import tomllib

    from rotator.errors import ConfigError
    from stores.base import target_path

    targets = call.params["targets"]
    if call.config is None:
        return "targets given, but no config file written"
    try:
        parsed = tomllib.loads(call.config)
    except tomllib.TOMLDecodeError as exc:
        return f"the config written is not TOML ({exc}): {call.config!r}"
    loaded = call.loaded
    if isinstance(loaded, ConfigError):
        if not str(loaded).startswith(f"config file {call.config_path}"):
            return f"refused without naming the file: {loaded}"
        loaded = None
    specs = loaded.targets if loaded is not None else None
    if set(parsed) != {"targets"}:  # the passwords travel in the environment, never in the file
        return f"the config holds more than the targets: {sorted(parsed)}"
    if len(parsed.get("targets", [])) != len(targets) or (specs is not None and len(specs) != len(targets)):
        return f"{len(targets)} targets given, the config holds {parsed.get('targets')!r}"
    for index, given in enumerate(targets):
        read = parsed["targets"][index]
        password = given.get("password")
        expected = {"kind": given["kind"], **({"path": given["path"]} if given.get("path") else {})}
        if password is not None:
            expected["storepass_env"] = read.get("storepass_env")
            if call.environ.get(str(read.get("storepass_env"))) != password:
                return f"targets[{index}]: the password is not in the environment rotator gets"
        if read != expected:
            return f"targets[{index}]: given {given!r}, the config holds {read!r}"
        if specs is not None:
            spec = specs[index]
            if (spec.kind, spec.path) != (given["kind"], given.get("path") or None):
                return f"targets[{index}]: given {given!r}, rotator reads {spec.kind!r} {spec.path!r}"
            if spec.path:
                resolved = str(target_path(spec))
                if resolved.startswith(os.path.dirname(call.config_path or "/") + os.sep):
                    return f"targets[{index}]: {spec.path!r} names a file in the module's temp directory ({resolved})"
    return None
