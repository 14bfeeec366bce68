"""Bash completion, written from the command-line parser: the commands, their actions and flags,
each flag's choices, and files or directories where a flag names one."""

from __future__ import annotations

import argparse
import re
import textwrap

from rotator import __version__
from rotator.cli.arguments import command_tree, options, subcommands

FILES, DIRS, NOTHING = "-f", "-d", "-n"  # what _rotator_argument prints besides a list of choices
_WORD = re.compile(r"[A-Za-z0-9_.:+-]+")  # every word the script holds: nothing to quote

MAIN = """\
_rotator() {
    local cur=${COMP_WORDS[COMP_CWORD]} path="" word arg i=1
    COMPREPLY=()
    while [ "$i" -lt "$COMP_CWORD" ]; do
        word=${COMP_WORDS[i]}
        if [[ $word == -* ]]; then
            arg=""
            [[ $word != *=* ]] && arg=$(_rotator_argument "$path" "$word")
            if [ -n "$arg" ]; then
                if [ $((i + 1)) -eq "$COMP_CWORD" ]; then
                    _rotator_reply "$arg"
                    return 0
                fi
                i=$((i + 1))
            fi
        elif [[ " $(_rotator_commands "$path") " == *" $word "* ]]; then
            path=${path:+$path }$word
        fi
        i=$((i + 1))
    done
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$(_rotator_options "$path")" -- "$cur"))
    elif [ -n "$(_rotator_commands "$path")" ]; then
        COMPREPLY=($(compgen -W "$(_rotator_commands "$path")" -- "$cur"))
    else
        _rotator_reply "$(_rotator_argument "$path" "")"
    fi
}

_rotator_reply() {
    case "$1" in
        -n | "") COMPREPLY=() ;;
        -f) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur")) ;;
        -d) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- "$cur")) ;;
        *) COMPREPLY=($(compgen -W "$1" -- "$cur")) ;;
    esac
}

complete -F _rotator rotator
"""


def _kind(action: argparse.Action) -> str:
    """What follows a flag (or fills a positional): its choices, a file, a directory, or nothing to offer."""
    if action.choices is not None:
        return " ".join(str(c) for c in action.choices)
    parts = str(action.metavar or "").split("|")
    if "FILE" in parts:
        return FILES
    return DIRS if "DIR" in parts else NOTHING


def _words(words: list[str]) -> str:
    for word in words:
        if not _WORD.fullmatch(word):
            raise ValueError(f"{word!r} needs quoting in the completion script")
    return " ".join(words)


def _case(name: str, comment: str, cases: list[tuple[str, str]], *, two: bool = False) -> list[str]:
    lines = [f"{name}() {{  # {comment}", '    case "$1|$2" in' if two else '    case "$1" in']
    for key, value in cases:
        # Within 100 columns; newlines separate the words as well as spaces do.
        start = f'        "{key}") echo "'
        body = textwrap.wrap(value, 95, initial_indent=start, break_on_hyphens=False) or [start]
        lines += [*body[:-1], f'{body[-1]}" ;;']
    return [*lines, "    esac", "}", ""]


def render(parser: argparse.ArgumentParser) -> str:
    commands: list[tuple[str, str]] = []
    flags: list[tuple[str, str]] = []
    arguments: list[tuple[str, str]] = []
    for path, sub, _ in command_tree(parser):
        key = " ".join(path)
        if subcommands(sub):
            commands.append((key, _words(subcommands(sub))))
        flags.append((key, _words([s for a in options(sub) for s in a.option_strings])))
        for action in options(sub):
            if action.option_strings and action.nargs != 0:
                for flag in action.option_strings:
                    arguments.append((f"{key}|{flag}", _kind(action)))
            elif not action.option_strings:
                arguments.append((f"{key}|", _kind(action)))
    head = [
        f"# bash completion for rotator {__version__}, written by `rotator completion bash` from its parser.",
        "# Install: rotator completion bash > /usr/share/bash-completion/completions/rotator",
        "",
    ]
    body = [
        *_case("_rotator_commands", "$1: the command so far; its actions", commands),
        *_case("_rotator_options", "$1: the command so far; its flags", flags),
        *_case("_rotator_argument", "$1|$2: the command, a flag (empty: a positional); its value", arguments, two=True),
    ]
    return "\n".join(head + body) + "\n" + MAIN
