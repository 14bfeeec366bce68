"""Running rotator on a managed host and reading its JSON, shared by the modules.

Nothing here imports Ansible: the modules pass in what they need, so the parsing can be tested
on its own. rotator's JSON may grow fields (and a newer rotator may drop some): every read is
tolerant, with a default, and only ``targets`` and ``ok``/``compliant`` (scan: ``stores`` and their
``verdicts``) are relied on.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile

# Where the service install (docs/service.md) puts rotator, then the usual places.
SEARCH_DIRS = ["/opt/rotator/bin", "/usr/local/bin", "/usr/bin"]
PASSWORD_ENV = "ROTATOR_FLEET_STOREPASS_{index}"  # noqa: S105 - a variable name, not a password

# The targets option of both modules (an Ansible argument spec).
TARGET_SPEC = {
    "kind": {"type": "str", "required": True},
    "path": {"type": "str"},
    "password": {"type": "str", "no_log": True},
}


def toml_string(value):
    """A TOML basic string: JSON's escapes are TOML's, as long as non-ASCII stays literal.

    JSON escapes every control character below U+0020 but leaves DEL (U+007F) as it is, which TOML
    forbids inside a basic string: escape it too, or rotator could not read the file back.
    """
    return json.dumps(str(value), ensure_ascii=False).replace("\x7f", "\\u007f")


def target_problem(index, target):
    """Why one target cannot be written into the run's config, or None.

    A relative path would be taken from the config file's directory, which is the module's temporary
    one (removed after the run): the store would be written there and lost.
    """
    path = target.get("path")
    # As rotator reads it: ~ and ~user expanded (here, on the managed host); "~nosuchuser/x" stays relative.
    if path and not os.path.isabs(os.path.expanduser(path)):
        return (
            f"targets[{index}].path {path!r}: give an absolute path (or one starting with ~/); "
            "a relative one has no fixed place on the managed host"
        )
    return None


def targets_config(targets):
    """A config holding only the given targets, and the environment carrying their passwords.

    Passwords never reach a command line or the file: the file names an environment variable
    (storepass_env) and the variable is set for rotator's process alone.
    """
    lines = ["# Written by the rotator.fleet modules for one run, then removed.", ""]
    environ = {}
    for index, target in enumerate(targets):
        lines.append("[[targets]]")
        lines.append("kind = " + toml_string(target["kind"]))
        if target.get("path"):
            lines.append("path = " + toml_string(target["path"]))
        if target.get("password") is not None:
            name = PASSWORD_ENV.format(index=index)
            lines.append("storepass_env = " + toml_string(name))
            environ[name] = target["password"]
        lines.append("")
    return "\n".join(lines), environ


# The options both modules take; each module adds its own (an Ansible argument spec).
COMMON_SPEC = {
    "config": {"type": "path"},
    "targets": {"type": "list", "elements": "dict", "options": TARGET_SPEC},
    "profile": {"type": "str"},
    "roots": {"type": "list", "elements": "str"},
    "state_dir": {"type": "path"},
    "at": {"type": "str"},
    "sysroot": {"type": "path"},
    "executable": {"type": "path"},
}


def option(flag, value):
    """One argv word ``--flag=value``: a value starting with ``-`` (or holding anything at all) is then
    never taken for another option, as ``--flag VALUE`` would have it."""
    return f"{flag}={value}"


def common_args(params, command):
    """The flags both sync and status take, from the module's parameters."""
    args = [command, "--json"]
    if params.get("profile"):
        args.append(option("--profile", params["profile"]))
    for root in params.get("roots") or []:
        args.append(option("--root", root))
    if params.get("mirror"):
        args.append(option("--mirror", params["mirror"]))
    if params.get("offline"):
        args.append("--offline")
    if params.get("download_ca_bundle"):
        args.append(option("--download-ca-bundle", params["download_ca_bundle"]))
    if params.get("no_cache"):
        args.append("--no-cache")
    elif params.get("cache_dir"):
        args.append(option("--cache-dir", params["cache_dir"]))
    if params.get("state_dir"):
        args.append(option("--state-dir", params["state_dir"]))
    if params.get("at"):
        args.append(option("--at", str(params["at"])))
    if params.get("sysroot"):
        args.append(option("--sysroot", params["sysroot"]))
    return args


def parse_json(stdout):
    """rotator's one JSON document, or None when stdout holds none (a usage error prints nothing)."""
    text = (stdout or "").strip()
    if not text.startswith("{"):
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def error_message(stderr, rc, doc=None):
    """rotator's own error lines (``rotator: error: ...``), else the failed targets' errors."""
    lines = [line.strip() for line in (stderr or "").splitlines()]
    errors = [line for line in lines if line.startswith("rotator: error:")]
    if errors:
        return "; ".join(errors)
    for target in _targets(doc):
        if target.get("error"):
            errors.append(f"{target.get('target', '?')}: {target['error']}")
    if errors:
        return "; ".join(errors)
    tail = [line for line in lines if line]
    return tail[-1] if tail else f"rotator exited with status {rc} and no message"


def _targets(doc):
    targets = (doc or {}).get("targets")
    return [t for t in targets if isinstance(t, dict)] if isinstance(targets, list) else []


def _ids(items):
    out = []
    for item in items or []:
        if isinstance(item, dict):
            item = item.get("id") or item.get("as")
        if item:
            out.append(str(item))
    return out


def roots_before_after(target):
    """The roots rotator manages in one target before and after the run.

    rotator reports them as ``before``/``after``; an older one only as added, removed and kept.
    """
    before = target.get("before")
    after = target.get("after")
    if isinstance(before, list) and isinstance(after, list):
        return sorted(_ids(before)), sorted(_ids(after))
    kept = _ids(target.get("kept"))
    return sorted(kept + _ids(target.get("removed"))), sorted(kept + _ids(target.get("added")))


def target_changed(target, check_mode):
    """Whether this target changed (or, in check mode, would change)."""
    if check_mode:
        if "would_change" in target:
            return bool(target["would_change"])
        return bool(target.get("added") or target.get("removed"))
    return bool(target.get("changed"))


def sync_diff(doc):
    """One ``--diff`` entry per target whose roots change: before and after, one root per line."""
    diffs = []
    for target in _targets(doc):
        if target.get("error"):
            continue
        before, after = roots_before_after(target)
        if before == after:
            continue
        name = str(target.get("target", "?"))
        diffs.append(
            {
                "before_header": f"{name} (roots before)",
                "after_header": f"{name} (roots after)",
                "before": "".join(r + "\n" for r in before),
                "after": "".join(r + "\n" for r in after),
            }
        )
    return diffs


def summary(doc, check_mode):
    """Per target: what was (or would be) added and removed, for a short look at the result."""
    out = {}
    for target in _targets(doc):
        out[str(target.get("target", "?"))] = {
            "changed": target_changed(target, check_mode),
            "added": _ids(target.get("added")),
            "removed": _ids(target.get("removed")),
            "error": target.get("error"),
        }
    return out


def find_rotator(explicit, which):
    """The rotator executable: the one given, else the service install's, else on PATH."""
    if explicit:
        return explicit
    for directory in SEARCH_DIRS:
        candidate = os.path.join(directory, "rotator")
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return which("rotator")


def run(module, command, extra_args):
    """Run rotator COMMAND --json with the module's parameters; returns (rc, doc, stdout, stderr)."""
    params = module.params
    rotator = find_rotator(params["executable"], lambda name: module.get_bin_path(name))
    if not rotator:
        looked = ", ".join(SEARCH_DIRS)
        module.fail_json(
            msg=f"rotator is not installed on this host (looked in {looked} and PATH); "
            "install it with the rotator.fleet.service role"
        )
    args = [rotator, *common_args(params, command), *extra_args]
    environ = {}
    workdir = None
    try:
        if params.get("targets"):
            for index, target in enumerate(params["targets"]):
                problem = target_problem(index, target)
                if problem:
                    module.fail_json(msg=problem)
            text, environ = targets_config(params["targets"])
            workdir = tempfile.mkdtemp(prefix="rotator-fleet-")  # 0700, owned by the user running rotator
            path = os.path.join(workdir, "targets.toml")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            args.append(option("--config", path))
        elif params.get("config"):
            args.append(option("--config", params["config"]))
        rc, stdout, stderr = module.run_command(args, environ_update=environ)
    finally:
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    return rc, parse_json(stdout), stdout, stderr


def run_report(module, command, extra_args):
    """Run a read-only rotator COMMAND (status, scan); returns (rc, doc). Exit 1 with a report is an
    answer (not compliant, a store fails); anything else without a report fails the task."""
    rc, doc, stdout, stderr = run(module, command, extra_args)
    if doc is None or rc not in (0, 1):
        module.fail_json(msg=error_message(stderr, rc), rc=rc, stdout=stdout, stderr=stderr)
    return rc, doc


# The options of the scan module (it takes none of COMMON_SPEC's store selection: scan finds the stores).
SCAN_SPEC = {
    "service": {"type": "list", "elements": "str"},
    "include": {"type": "list", "elements": "path"},
    "config": {"type": "path"},
    "at": {"type": "str"},
    "time_limit": {"type": "float"},
    "sysroot": {"type": "path"},
    "executable": {"type": "path"},
}


def scan_args(params):
    """The flags of ``rotator scan`` beyond those common_args gives (--json, --at, --sysroot)."""
    args = []
    for service in params.get("service") or []:
        args.append(option("--service", service))
    for directory in params.get("include") or []:
        args.append(option("--include", directory))
    if params.get("time_limit"):
        args.append(option("--time-limit", str(params["time_limit"])))
    return args


def _dicts(items):
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def failing_store(store):
    """One store scan counts as failing: a chain fails, or it holds an Azure intermediate.

    The intermediates count as scan's exit status counts them: Azure replaces them without notice,
    so a store anchored there breaks on a day nobody announced, whatever today's verdicts say.
    """
    verdicts = store.get("verdicts") if isinstance(store.get("verdicts"), dict) else {}
    chains = sorted(str(chain) for chain, verdict in verdicts.items() if verdict == "fails")
    intermediates = [str(name) for name in store.get("azure_intermediates") or [] if name]
    if not chains and not intermediates:
        return None
    return {
        "path": str(store.get("path", "?")),
        "kind": str(store.get("kind", "")),
        "readers": _dicts(store.get("readers")),
        "failing_chains": chains,
        "azure_intermediates": intermediates,
        "fix": store.get("fix") if isinstance(store.get("fix"), dict) else None,
    }


def scan_result(doc, rc):
    """What the scan module returns, from ``rotator scan --json`` and its exit status."""
    stores = _dicts(doc.get("stores"))
    failing = [f for f in (failing_store(s) for s in stores) if f is not None]
    summary = doc.get("summary") if isinstance(doc.get("summary"), dict) else {}
    return {
        "stores": stores,
        "failing": failing,
        "unreadable": _dicts(doc.get("unreadable")),
        "summary": summary,
        "chains": doc.get("chains") if isinstance(doc.get("chains"), dict) else {},
        # Exit 1 is scan's own "a store fails", which may count a reason this version cannot read.
        "breaks": bool(failing) or rc == 1,
    }
