"""The README's commands and the documentation's examples, checked the way a reader uses them.

Every documented ``rotator ...`` command line must parse with the real command-line parser, and
those that can run here do run, in document order, in a temp dir: every absolute path is moved
under it, the network is cut (``unshare -n``) so nothing is downloaded, and the machine's own
stores (``system``, ``java-cacerts``) are never written; what each prints fits 100 columns. Every
TOML example must load as a config.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from rotator.cli.arguments import build_parser
from rotator.config import file as config_mod
from rotator.roots.catalog import DEFAULT_PROFILE, Catalog
from tests.support.paths import REPO
from tests.support.systree import debian_tree

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
TOML_FILES = [REPO / "systemd" / "rotator.toml.example"]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
INLINE = re.compile(r"`(rotator [^`]*--[^`]*)`")  # inline spans with a flag are examples, not mentions
CAN_UNSHARE = os.geteuid() == 0 and shutil.which("unshare") is not None


@dataclass(frozen=True)
class Command:
    page: str
    argv: tuple[str, ...]  # after "rotator"

    def __str__(self) -> str:
        return f"{self.page}: rotator {shlex.join(self.argv)}"


def _rotator_argvs(line: str) -> Iterator[tuple[str, ...]]:
    """The rotator invocations in one shell line (``a && b``, ``sudo``, ``.venv/bin/``, ``RUN``)."""
    try:
        words = shlex.split(line, comments=True)
    except ValueError:
        return
    segment: list[str] = []
    for word in [*words, "&&"]:
        if word not in ("&&", ";", "||", "|"):
            segment.append(word)
            continue
        while segment and segment[0] in ("sudo", "RUN"):
            segment.pop(0)
        if segment and segment[0].rsplit("/", 1)[-1] == "rotator":
            yield tuple(segment[1:])
        segment = []


def documented_commands() -> list[Command]:
    found: list[Command] = []
    for page in PAGES:
        text = page.read_text()
        name = str(page.relative_to(REPO))
        for lang, body in FENCE.findall(text):
            if lang not in ("", "sh", "bash", "dockerfile"):
                continue  # toml, text (output)
            for line in body.replace("\\\n", " ").splitlines():
                found.extend(Command(name, argv) for argv in _rotator_argvs(line))
        for span in INLINE.findall(FENCE.sub("", text)):
            found.extend(Command(name, argv) for argv in _rotator_argvs(span))
    return found


COMMANDS = documented_commands()


def test_the_docs_show_commands() -> None:
    pages = {c.page for c in COMMANDS}
    assert {"README.md", "docs/stores.md", "docs/probe.md", "docs/roots.md"} <= pages
    assert len(COMMANDS) >= 20
    runnable = [c for c in COMMANDS if not _why_not_run(tuple(_under(Path("/t"), w) for w in c.argv), Path("/t"))]
    assert len(runnable) >= 10 and {c.page for c in runnable} >= {"README.md", "docs/stores.md"}


@pytest.mark.parametrize("command", COMMANDS, ids=str)
def test_every_documented_command_parses(command: Command) -> None:
    argv = [w for w in command.argv if w != "..."]  # "..." stands for the flags of the line above
    try:
        build_parser().parse_args(argv)
    except SystemExit as exc:
        if exc.code != 0:  # --version and --help exit 0
            pytest.fail(f"{command} does not parse (exit {exc.code})")


def _under(tmp: Path, word: str) -> str:
    """Absolute paths in a word (``/etc/x``, ``pem:/etc/x``, ``KEY=/etc/x``) moved under ``tmp``."""
    return re.sub(r"(^|[:=])/(?!tmp/)", lambda m: f"{m.group(1)}{tmp}/", word)


def _why_not_run(argv: tuple[str, ...], tmp: Path) -> str | None:
    """Why a documented command is only parsed here, or None when it runs."""
    if "..." in argv:
        return "abbreviated"
    if argv[0] in ("probe", "daemon"):
        return "needs a server / runs until stopped"
    if argv[0] == "scan":
        return "judges the reader's machine (exit 1 when a store fails); tests/scan runs it on planted trees"
    if argv[0] == "service":
        return "sets up the machine's systemd units"
    if argv[0] in ("sync", "status") and "--target" not in argv and "--config" not in argv:
        return "the reader's /etc/rotator/rotator.toml"
    if argv[:2] == ("catalog", "check") and (
        "--source" not in argv or not Path(argv[argv.index("--source") + 1]).exists()
    ):
        return "fetches Azure's published list"
    targets = [argv[i + 1] for i, w in enumerate(argv[:-1]) if w == "--target"]
    for target in targets:
        kind = target.split(":", 1)[0]
        if kind == "java-cacerts" or (kind == "system" and "--sysroot" not in argv):
            return "the machine's own store"
    if "--config" in argv and not Path(argv[argv.index("--config") + 1]).exists():
        return "a config file on the reader's machine"
    if "--offline" not in argv and not CAN_UNSHARE:
        return "would use the network (unshare -n needs root)"
    return None


@pytest.mark.slow
@pytest.mark.parametrize("page", sorted({c.page for c in COMMANDS}))
def test_documented_commands_run_offline(page: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ROTATOR_", "JAVA_HOME"))}
    env.update(
        HOME=str(tmp_path / "home"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        XDG_STATE_HOME=str(tmp_path / "state"),
        PYTHONPATH=str(REPO),
    )
    ran = 0
    for command in (c for c in COMMANDS if c.page == page):
        argv = tuple(_under(tmp_path, w) for w in command.argv)
        if _why_not_run(argv, tmp_path):
            continue
        if "--sysroot" in argv:
            image = Path(argv[argv.index("--sysroot") + 1])
            if not image.exists():
                debian_tree(image)
        for i, word in enumerate(argv[:-1]):
            if word == "--storepass-env":
                env[argv[i + 1]] = "changeit"
        extra: list[str] = []
        if argv[0] in ("sync", "status") and "--state-dir" not in argv:
            extra = ["--state-dir", str(tmp_path / "state-dir")]  # never the machine's /var/lib/rotator
        if argv[0] in ("sync", "status", "mirror") and "--cache-dir" not in argv and "--no-cache" not in argv:
            extra += ["--cache-dir", str(tmp_path / "cache-dir")]
        full = [sys.executable, "-m", "rotator", argv[0], *extra, *argv[1:]]
        if CAN_UNSHARE:
            full = ["unshare", "-n", *full]
        proc = subprocess.run(full, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
        ran += 1
        assert "Traceback" not in proc.stderr, f"{command}\n{proc.stderr}"
        not_yet = argv[0] == "status" and "does not exist" in proc.stdout  # status before the first sync
        assert proc.returncode == 0 or (proc.returncode == 1 and not_yet), (
            f"{command} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        )
        # As the reader sees it, with the documented paths, not the test's longer ones: within 100 columns.
        wide = [line for line in (proc.stdout + proc.stderr).replace(str(tmp_path), "").splitlines() if len(line) > 100]
        assert not wide, f"{command}: {len(wide)} lines over 100 columns:\n" + "\n".join(wide)
    if not ran:
        pytest.skip(f"{page}: its commands need a server or the reader's machine; they are checked by parsing")


def toml_examples() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        for lang, body in FENCE.findall(page.read_text()):
            if lang == "toml":
                found.append((str(page.relative_to(REPO)), body))
    found.extend((str(p.relative_to(REPO)), p.read_text()) for p in TOML_FILES)
    return found


@pytest.mark.parametrize(("page", "body"), toml_examples(), ids=[p for p, _ in toml_examples()])
def test_every_toml_example_is_a_valid_config(page: str, body: str) -> None:
    # "<64 hex digits ...>" and "<the row's download URL>" are the reader's to fill in: any well-formed
    # pin and URL stand for them.
    body = re.sub(r'(sha256\s*=\s*)"<[^"]*>"', lambda m: m.group(1) + '"' + "0" * 64 + '"', body)
    body = re.sub(r'"<[^"]*>"', '"https://example.invalid/placeholder"', body)
    cfg = config_mod.parse(tomllib.loads(body), REPO / "rotator.toml")
    catalog = Catalog.builtin().extended(cfg.roots, cfg.profiles, keep=cfg.keep)
    catalog.select(cfg.profile or DEFAULT_PROFILE, cfg.include)
