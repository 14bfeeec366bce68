"""The published-page parser is linear in the page: a 2 MiB hostile page is parsed or refused within 2 s of CPU.

The daemon's check thread parses whatever the list's URL serves. Each page below is a real page (the
layout of tests/data/azure-ca-details.md) with rows the parser really reads: the hostile text sits in the
name cell of many rows (every cell under the cell cap, so each row is parsed), or in a heading line,
which no cap bounds. Backtracking patterns take 85 s of CPU on the first page, 15 s on "< and spaces"
and minutes per 10 KB of a heading line, so the pages are parsed in a child process with a wall-clock
bound: a slow parser fails the test instead of hanging it. The CPU time is measured around ``parse``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rotator.upstream.published_list import MAX_CELL, MAX_PAGE_BYTES
from tests.support.paths import DATA, REPO

PAGE = (DATA / "azure-ca-details.md").read_text()
TABLE_START = "|---- |---- |\n"
VALUE = "0x01<br>" + "ab" * 20  # a valid "serial<br>SHA-1" cell: the row is accepted, the next one read
CPU_BOUND = 2.0  # seconds; a linear parser takes well under 0.5 s for 2 MiB
SIZE = MAX_PAGE_BYTES - 4096  # what `catalog check` would still read


def _rows_of(name_cell: str) -> str:
    """The page with as many rows named ``name_cell`` as fit in SIZE, at the top of the root table."""
    assert len(name_cell) <= MAX_CELL
    row = f"| {name_cell} | {VALUE} |\n"
    at = PAGE.index(TABLE_START) + len(TABLE_START)
    count = (SIZE - len(PAGE)) // len(row)
    return PAGE[:at] + row * count + PAGE[at:]


def _fill(fragment: str, prefix: str = "", suffix: str = "") -> str:
    """``prefix`` + ``fragment`` repeated + ``suffix``, as long as a cell may be."""
    return prefix + fragment * ((MAX_CELL - len(prefix) - len(suffix)) // len(fragment)) + suffix


def hostile_pages() -> dict[str, str]:
    return {
        # the reported case: a name cell repeating "[a](" (a link opened and never closed)
        "[a]( repeated": _rows_of(_fill("[a](")),
        "[a](< repeated": _rows_of(_fill("[a](<")),
        "[a]( inside link text": _rows_of(_fill("[a](", "[", "](u)")),
        "[a]( inside unclosed link text": _rows_of(_fill("[a](", "[")),
        "[a]( then a closing paren": _rows_of(_fill("[a](", suffix=")")),
        "[a](u with a title left open": _rows_of(_fill('[a](u "')),
        "[a]( with backslash-pipes": _rows_of(_fill("[a](\\|")),
        "[a]( with <br> variants": _rows_of(_fill("[a](<br/>", suffix="</ br >")),
        "< and spaces, no br": _rows_of(_fill(" ", "x<", "x")),
        "</ and spaces, no br": _rows_of(_fill(" ", "x</", "x")),
        "<br and spaces, never closed": _rows_of(_fill(" ", "x<br", "x")),
        "[ repeated": _rows_of(_fill("[")),
        "a heading line of spaces": PAGE.replace(
            "## Subordinate", "### Notes" + " " * (SIZE - len(PAGE)) + "x\n\n## Subordinate", 1
        ),
        "a heading line of spaced hashes": PAGE.replace(
            "## Subordinate", "### Notes" + " #" * ((SIZE - len(PAGE)) // 2) + "x\n\n## Subordinate", 1
        ),
        "one cell of the whole page": PAGE.replace(TABLE_START, TABLE_START + f"| {'[a](' * (SIZE // 4)} | x |\n", 1),
    }


CHILD = """
import json, sys, time
from rotator.upstream.published_list import ListUnreadable, parse
for path in sys.argv[1:]:
    text = open(path, encoding="utf-8").read()
    started = time.process_time()
    try:
        found = parse(text, path)
        outcome = f"{len(found.roots)} roots"
    except ListUnreadable as exc:
        outcome = f"refused: {exc}"
    print(json.dumps({"path": path, "cpu": time.process_time() - started, "outcome": outcome}), flush=True)
"""


def test_a_2_mib_hostile_page_is_parsed_or_refused_in_bounded_time(tmp_path: Path) -> None:
    pages = hostile_pages()
    paths = {}
    for number, (case, text) in enumerate(pages.items()):
        assert SIZE - 8192 < len(text.encode()) <= MAX_PAGE_BYTES, case
        paths[case] = tmp_path / f"page-{number}.md"
        paths[case].write_text(text)
    try:
        child = subprocess.run(
            [sys.executable, "-c", CHILD, *map(str, paths.values())],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=30 + 2 * len(paths),
        )
    except subprocess.TimeoutExpired as exc:
        done = len((exc.stdout or b"").splitlines()) if exc.stdout else 0
        pytest.fail(f"the parser did not finish the hostile pages: stuck on {list(pages)[done]!r}")
    assert child.returncode == 0, child.stderr
    results = {json.loads(line)["path"]: json.loads(line) for line in child.stdout.splitlines()}
    for case, path in paths.items():
        result = results[str(path)]
        assert result["cpu"] < CPU_BOUND, f"{case}: {result['cpu']:.2f} s of CPU"
        outcome = result["outcome"]
        assert "\n" not in outcome and len(outcome) < 600, (case, outcome)
        if case.startswith("one cell"):
            assert outcome.startswith("refused: ") and "a cell of" in outcome, outcome
        elif not case.startswith("a heading"):
            assert outcome.split()[0].isdigit() and int(outcome.split()[0]) > 900, (case, outcome)  # every row read


PATTERNS_CHILD = """
import json, sys, time
from rotator.upstream import published_list as parser
for fragment in json.loads(sys.argv[1]):
    text = fragment * (parser.MAX_PAGE_BYTES // len(fragment))
    started = time.process_time()
    parser._LINK.search(text)
    parser._LINK.sub(lambda m: m.group(1), text)
    parser._BREAK.split(text)
    parser._HEADING.match("### x" + text)
    print(json.dumps({"fragment": fragment, "cpu": time.process_time() - started}), flush=True)
"""


def test_the_patterns_alone_are_linear_without_the_cell_cap() -> None:
    """The cap bounds a cell; the patterns must not need it: 2 MiB of each hostile run, straight to them."""
    fragments = ["[a](", "[a](<", "[a](\\|", '[a](u "', "[", "< ", "</ ", "<br ", "[a](<br>", " ", " #"]
    try:
        child = subprocess.run(
            [sys.executable, "-c", PATTERNS_CHILD, json.dumps(fragments)],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=30 + 2 * len(fragments),
        )
    except subprocess.TimeoutExpired as exc:
        done = len((exc.stdout or b"").splitlines()) if exc.stdout else 0
        pytest.fail(f"the patterns did not finish: stuck on {fragments[done]!r} repeated to 2 MiB")
    assert child.returncode == 0, child.stderr
    for line in child.stdout.splitlines():
        result = json.loads(line)
        assert result["cpu"] < CPU_BOUND, f"{result['fragment']!r} to 2 MiB: {result['cpu']:.2f} s of CPU"
    assert len(child.stdout.splitlines()) == len(fragments)
