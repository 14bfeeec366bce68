"""rotator(1) and the bash completion, both written from the parser: the page is valid roff that
`man` renders with every command and flag, and the completion answers a real bash."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from rotator.cli.arguments import build_parser, command_tree, options


def every_flag() -> list[tuple[str, str]]:
    return [
        (" ".join(path), flag)
        for path, parser, _ in command_tree(build_parser())
        for action in options(parser)
        for flag in action.option_strings
    ]


def test_the_page_names_every_command_and_flag(run) -> None:
    result = run("man")
    assert result.code == 0, result.err
    page = result.out
    assert page.startswith(".TH ROTATOR 1 ")
    for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "EXIT STATUS", "FILES", "SEE ALSO"):
        assert f"\n.SH {section}\n" in page
    for path, _, _ in command_tree(build_parser())[1:]:
        assert f'\n.SS "rotator {" ".join(path)}"\n' in page
    for _, flag in every_flag():
        assert flag.replace("-", "\\-") in page, flag
    assert max(len(line) for line in page.splitlines()) <= 100


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff not installed")
def test_groff_reads_the_page_without_a_warning(run, tmp_path: Path) -> None:
    page = tmp_path / "rotator.1"
    page.write_text(run("man").out)
    lint = subprocess.run(["groff", "-man", "-ww", "-z", str(page)], capture_output=True, text=True, timeout=60)
    assert lint.returncode == 0 and lint.stderr == "", lint.stderr
    if shutil.which("man") is None:
        return
    env = {**os.environ, "MANWIDTH": "80", "MAN_KEEP_FORMATTING": "", "LANG": "C.UTF-8"}
    shown = subprocess.run(["man", "-l", str(page)], capture_output=True, text=True, timeout=60, env=env)
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    assert "rotator service install" in text and "--chain-file FILE" in text
    assert max(len(line) for line in text.splitlines()) <= 100


def complete(script: Path, *words: str) -> list[str]:
    """What bash offers for the last of ``words`` (the one being typed), with the script sourced."""
    program = (
        f'source "{script}"\n'
        'COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))\n'
        '_rotator\nprintf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    proc = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", program, "bash", *words],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=script.parent,
    )
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    return [w for w in proc.stdout.splitlines() if w]


@pytest.fixture
def script(run, tmp_path: Path) -> Path:
    result = run("completion", "bash")
    assert result.code == 0, result.err
    path = tmp_path / "rotator.bash"
    path.write_text(result.out)
    assert max(len(line) for line in result.out.splitlines()) <= 100
    return path


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash not installed")
def test_bash_completes_commands_actions_flags_and_choices(script: Path) -> None:
    assert complete(script, "rotator", "sy") == ["sync"]
    assert set(complete(script, "rotator", "")) == {c for c in build_parser().commands}
    assert complete(script, "rotator", "service", "") == ["install", "dropin"]
    assert complete(script, "rotator", "sync", "--dr") == ["--dry-run"]
    assert complete(script, "rotator", "catalog", "check", "--so") == ["--source"]
    assert complete(script, "rotator", "probe", "--starttls", "") == ["postgres", "mysql"]
    assert complete(script, "rotator", "probe", "--sslmode", "verify-") == ["verify-full", "verify-ca"]
    # The value of a flag is not taken for a command: sync's flags still come after --target's value.
    assert complete(script, "rotator", "sync", "--target", "pem:x", "--sys") == ["--sysroot"]
    assert complete(script, "rotator", "completion", "") == ["bash"]
    assert set(complete(script, "rotator", "service", "install", "--")) == {
        "--help",
        "--unit-dir",
        "--config-dir",
        "--dry-run",
        "--force",
    }


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash not installed")
def test_bash_offers_files_and_directories_where_a_flag_names_one(script: Path) -> None:
    (script.parent / "conf.d").mkdir()
    (script.parent / "conf.toml").write_text("")
    assert complete(script, "rotator", "sync", "--config", "con") == ["conf.d", "conf.toml"]
    assert complete(script, "rotator", "sync", "--state-dir", "con") == ["conf.d"]
    assert complete(script, "rotator", "sync", "--profile", "con") == []  # a name: nothing to offer
    assert all(flag in complete(script, "rotator", *path.split(), "-") for path, flag in every_flag() if path)
