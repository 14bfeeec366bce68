"""docs/configuration.md's "Command line" section lists every flag `--help` shows, for every command.

A flag counts as documented for a command when its row of the command table names it, or when the
section's text outside the table does (the flags shared by many commands are described once there).
"""

from __future__ import annotations

import re

from rotator.cli.arguments import build_parser, command_tree, options, subcommands
from tests.support.paths import REPO

PAGE = REPO / "docs" / "configuration.md"
# A flag is named in a code span of its own: `--target KIND:PATH`, `-v`; not `openssl s_client -showcerts`.
FLAG = re.compile(r"`(--?[a-z][a-z0-9-]*)[ `=]")


def command_line_section() -> str:
    text = PAGE.read_text()
    start = text.index("\n## Command line\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def documented() -> tuple[dict[str, set[str]], set[str]]:
    """Per command (its words after ``rotator``), the flags its table row names; and the flags the
    section names outside the table."""
    commands = {" ".join(path) for path, _, _ in command_tree(build_parser())}
    rows: dict[str, set[str]] = {}
    shared: set[str] = set()
    for line in command_line_section().splitlines():
        match = re.match(r"\| `rotator ([^`]*)`", line)
        if not match:
            shared |= set(FLAG.findall(line))
            continue
        words = match.group(1).split()
        while words and " ".join(words) not in commands:
            words.pop()
        assert words, f"docs/configuration.md: the row {line[:60]!r} names no command"
        cells = re.split(r"(?<!\\)\|", line)  # `a\|b` is one cell's text
        rows.setdefault(" ".join(words), set()).update(FLAG.findall("|".join(cells[3:])))
    return rows, shared


def test_every_flag_help_shows_is_in_the_command_line_section() -> None:
    rows, shared = documented()
    missing = []
    for path, parser, _ in command_tree(build_parser()):
        name = " ".join(path)
        for action in options(parser):
            for flag in action.option_strings:
                if flag not in ("-h", "--help") and flag not in rows.get(name, set()) | shared:
                    missing.append(f"rotator {name} {flag}".replace("  ", " "))
    assert not missing, f"{len(missing)} flags missing from {PAGE.relative_to(REPO)}: " + ", ".join(missing)


def test_every_command_has_a_row() -> None:
    rows, _ = documented()
    # A command that is only its actions (`rotator service`) has the rows of its actions.
    missing = [
        " ".join(path)
        for path, parser, _ in command_tree(build_parser())[1:]
        if " ".join(path) not in rows and (subcommands(parser) == [] or len(options(parser)) > 1)
    ]
    assert not missing, f"commands without a row in the command table: {', '.join(missing)}"


def test_no_row_names_a_flag_its_command_lacks() -> None:
    parsers = {" ".join(p): parser for p, parser, _ in command_tree(build_parser())}
    wrong = []
    for name, flags in documented()[0].items():
        known = {s for a in options(parsers[name]) for s in a.option_strings}
        wrong += [f"rotator {name} {flag}" for flag in sorted(flags - known)]
    assert not wrong, f"rows naming flags their command does not take: {', '.join(wrong)}"
