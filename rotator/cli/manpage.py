"""rotator(1), written in roff from the command-line parser: every command and flag, so the page
cannot fall behind ``--help``. Nothing is built: ``rotator man`` prints it."""

from __future__ import annotations

import argparse
import re
import textwrap

from rotator import __version__
from rotator.cli.arguments import command_tree, options

WIDTH = 100  # source lines too stay within 100 columns

EXIT_STATUS = (
    ("0", "success (changed or not); for status, compliant; for probe, every target trusts the server"),
    ("1", "a failure: a store is left as it was, never half-written; for status, not compliant"),
    ("2", "a usage or configuration error (the message names the thing and the next step)"),
)
FILES = (
    ("/etc/rotator/rotator.toml", "the config (the service's; --config or $ROTATOR_CONFIG for another)"),
    ("/var/lib/rotator", "the state and the run lock (as another user: $XDG_STATE_HOME/rotator)"),
    ("/var/cache/rotator", "verified copies of the roots (as another user: $XDG_CACHE_HOME/rotator)"),
    ("/etc/systemd/system/rotator.service", "the daemon unit; rotator-sync.service and .timer: the oneshot"),
)
ENVIRONMENT = (
    ("ROTATOR_CONFIG", "the config file when --config is not given"),
    ("CREDENTIALS_DIRECTORY", "where systemd hands the service its credentials (storepass_credential)"),
    ("JAVA_HOME", "the JDK whose cacerts a java-cacerts target patches first"),
)


def _escape(text: str) -> str:
    return text.replace("\\", "\\e")


def _flag(text: str) -> str:
    return _escape(text).replace("-", "\\-")


def _text(text: str) -> list[str]:
    """A paragraph, filled to WIDTH; no line may start with a control character."""
    # A flag's dashes are minus signs (\\-), so that it copies from the page as typed.
    text = re.sub(r"(?<![^\s(\[`/])(-+)(?=\w)", lambda m: "\\-" * len(m.group(1)), _escape(" ".join(text.split())))
    lines = textwrap.wrap(text, WIDTH, break_on_hyphens=False)
    return [f"\\&{line}" if line.startswith((".", "'")) else line for line in lines]


def _help(action: argparse.Action, prog: str) -> str:
    text = action.help or ""
    if "%" in text:  # argparse's own expansion, so the page says what --help says
        text = text % {**vars(action), "prog": prog}
    return text


def _argument(action: argparse.Action) -> str:
    if action.choices is not None and action.metavar is None:
        return "|".join(str(c) for c in action.choices)
    return str(action.metavar or action.dest.upper())


def _item(action: argparse.Action) -> str:
    if not action.option_strings:
        return f"\\fI{_escape(_argument(action))}\\fR"
    takes_value = action.nargs != 0
    names = ", ".join(f"\\fB{_flag(s)}\\fR" for s in action.option_strings)
    return f"{names} \\fI{_escape(_argument(action))}\\fR" if takes_value else names


def _synopsis(path: tuple[str, ...], parser: argparse.ArgumentParser) -> str:
    words = [f"\\fBrotator {' '.join(path)}\\fR"]
    if any(a.option_strings for a in options(parser) if a.dest != "help"):
        words.append("[\\fIoptions\\fR]")
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            words.append("\\fIACTION\\fR" if action.required else "[\\fIACTION\\fR]")
    for action in options(parser):
        if not action.option_strings:
            name = f"\\fI{_escape(_argument(action))}\\fR"
            words.append(f"[{name}]" if action.nargs == "?" else f"{name}..." if action.nargs == "+" else name)
    return " ".join(words)


def render(parser: argparse.ArgumentParser) -> str:
    tree = command_tree(parser)
    out = [
        f'.TH ROTATOR 1 "" "rotator {__version__}" "User Commands"',
        ".SH NAME",
        "rotator \\- keep Azure's root CAs in every trust store your clients read",
        ".SH SYNOPSIS",
        "\\fBrotator\\fR \\fICOMMAND\\fR [\\fIoptions\\fR]",
        ".br",
        "\\fBrotator \\-\\-version\\fR",
        ".SH DESCRIPTION",
        *_text(parser.description or ""),
        ".PP",
        *_text(
            "Every command takes -h, --help. A flag a command does not take is a usage error. "
            "The documentation (docs/ in the source distribution) has the configuration keys and examples."
        ),
        ".SH COMMANDS",
    ]
    for path, sub, help_line in tree[1:]:
        out += [".SS " + f'"rotator {" ".join(path)}"', _synopsis(path, sub), ".PP"]
        out += _text(sub.description or help_line)
        for action in options(sub):
            if action.dest == "help":
                continue
            out += [".TP", _item(action), *_text(_help(action, sub.prog))]
    for title, rows in (("EXIT STATUS", EXIT_STATUS), ("FILES", FILES), ("ENVIRONMENT", ENVIRONMENT)):
        out.append(f".SH {title}")
        for name, what in rows:
            out += [".TP", f"\\fB{_flag(name)}\\fR" if title != "FILES" else f"\\fI{name}\\fR", *_text(what)]
    out += [
        ".SH SEE ALSO",
        "\\fBsystemctl\\fR(1), \\fBupdate\\-ca\\-certificates\\fR(8), \\fBkeytool\\fR(1), \\fBopenssl\\fR(1)",
    ]
    return "\n".join(out) + "\n"
