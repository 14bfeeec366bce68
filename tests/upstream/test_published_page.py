"""The published page's layout variants still read as before, now that every pattern is linear."""

from __future__ import annotations

import pytest

from rotator.upstream.published_list import MAX_CELL, ListUnreadable, parse
from tests.support.paths import DATA

PAGE = (DATA / "azure-ca-details.md").read_text()
TABLE_START = "|---- |---- |\n"
SHA1 = "df3c24f9bfd666761b268073fe06d1cc8d4f82a4"
URL = "https://cacerts.digicert.com/DigiCertGlobalRootG2.crt"


def first_root(page: str):
    return parse(page, "page.md").roots[0]


def with_row(row: str) -> str:
    return PAGE.replace(TABLE_START, TABLE_START + row + "\n", 1)


@pytest.mark.parametrize(
    "heading",
    [
        "## Root Certificate Authorities",
        "## Root Certificate Authorities ##",
        "##\tRoot Certificate Authorities  #  ",
        "   ## Root Certificate Authorities (CAs)",
        "## Root Certificate Authority",
    ],
)
def test_headings_with_closing_hashes_and_spaces(heading: str) -> None:
    page = PAGE.replace("## Root Certificate Authorities", heading, 1)
    assert len(parse(page, "page.md").roots) == 9


@pytest.mark.parametrize(
    ("cell", "name", "url"),
    [
        (f"[DigiCert Global Root G2]({URL})", "DigiCert Global Root G2", URL),
        (f"[DigiCert Global Root G2](<{URL}>)", "DigiCert Global Root G2", URL),
        (f'[DigiCert Global Root G2]( {URL} "the root" )', "DigiCert Global Root G2", URL),
        (f"**[DigiCert Global Root G2]({URL})**", "DigiCert Global Root G2", URL),
        ("DigiCert<br>Global Root G2", "DigiCert Global Root G2", None),
        ("DigiCert< br / >Global Root G2", "DigiCert Global Root G2", None),
        ("[a]([a]([a](", "[a]([a]([a](", None),
        ("[[a](u)", "[a", "u"),
    ],
)
def test_name_cells(cell: str, name: str, url: str | None) -> None:
    row = first_root(with_row(f"| {cell} | 0x033af1e6a711a9a0bb2864b11d09fae5<BR />{SHA1} |"))
    assert (row.name, row.url, row.sha1) == (name, url, SHA1)


def test_a_cell_longer_than_the_cap_is_refused_naming_the_line_briefly() -> None:
    page = with_row(f"| {'[a](' * MAX_CELL} | 1<br>{SHA1} |")
    with pytest.raises(ListUnreadable) as caught:
        parse(page, "page.md")
    message = str(caught.value)
    line = page.splitlines().index(next(li for li in page.splitlines() if li.startswith("| [a]("))) + 1
    assert message.startswith(f"page.md, line {line}: a cell of {4 * MAX_CELL} characters")
    assert len(message) < 400 and "\n" not in message


def test_a_bad_value_is_quoted_briefly() -> None:
    with pytest.raises(ListUnreadable, match=r"expected 'serial<br>SHA-1 thumbprint' for 'x', found '<{80}\.\.\.'$"):
        parse(with_row(f"| x | {'<' * 1500} |"), "page.md")
