"""Scanning rendered HTML for counts from 1 to k-1 that escaped disclosure control.

:func:`scan_html_for_small_counts` reads every table of a rendered report and lists the cells
that look like small counts of people; the report tests run it on every page. Split from
:mod:`spanalysis.privacy.disclosure`, which re-exports it.
"""
from __future__ import annotations

import re

from spanalysis.privacy.disclosure import _check_k

__all__ = ["scan_html_for_small_counts"]


_COUNT_WORDS = re.compile(
    r"\b(n|count|counts|number|no|people|persons|participants|patients|referred|referrals|"
    r"pairs|frequency|freq)\b", re.IGNORECASE)
_NOT_COUNT_WORDS = re.compile(
    r"%|percent|per cent|proportion|mean|median|\bsd\b|rate|score|age\b|ratio|kappa|alpha",
    re.IGNORECASE)
_N_PERCENT = re.compile(r"\b(n|count|number)\s*\(\s*%\s*\)", re.IGNORECASE)
# "3", "3 (7.5%)", "1,234": a whole number, optionally followed by a bracketed percentage
_CELL_COUNT = re.compile(r"^\s*(\d{1,3}(?:,\d{3})*|\d+)\s*(?:\(\s*[\d.]+\s*%?\s*\))?\s*$")


def _is_count_label(text: str) -> bool:
    if not text:
        return False
    if _N_PERCENT.search(text):
        return True
    return bool(_COUNT_WORDS.search(text)) and not _NOT_COUNT_WORDS.search(text)


def _grid(table) -> tuple[list[list], list[list]]:
    """Expand a table's rows (colspan/rowspan) into a grid of (cell, is_header, in_thead)."""
    grid: list[list] = []
    pending: dict[tuple[int, int], object] = {}
    for r, tr in enumerate(table.find_all("tr")):
        if tr.find_parent("table") is not table:
            continue
        row: list = []
        col = 0
        cells = tr.find_all(["td", "th"], recursive=False)
        queue = list(cells)
        while queue or (len(grid), col) in pending:
            if (len(grid), col) in pending:
                row.append(pending.pop((len(grid), col)))
                col += 1
                continue
            cell = queue.pop(0)
            try:
                span = max(1, int(cell.get("colspan", 1)))
                down = max(1, int(cell.get("rowspan", 1)))
            except ValueError:
                span = down = 1
            in_head = cell.find_parent("thead") is not None
            for c in range(span):
                row.append((cell, cell.name == "th", in_head))
                for d in range(1, down):
                    pending[(len(grid) + d, col + c)] = (cell, cell.name == "th", in_head)
            col += span
        grid.append(row)
    return grid


def scan_html_for_small_counts(html: str, k: int = 5) -> list[dict]:
    """Find small counts (1 to k-1) shown in any ``<table>`` of an HTML page.

    Parameters
    ----------
    html : str
        A rendered report (or any HTML).
    k : int, default 5
        Minimum cell size.

    Returns
    -------
    list of dict
        One dict per finding with keys ``table`` (0-based position on the page),
        ``caption``, ``row`` (row label, or the row number in the table), ``column``
        (column heading), ``value`` (int), ``text`` (the cell text) and ``why`` (how the
        cell was recognised as a count). Empty when nothing was found.

    Notes
    -----
    A cell is a count when it carries a ``data-count`` attribute (tables rendered by
    :func:`count_table_html`), when its column heading or row label names a count (n, count,
    number, no., people, participants, patients, referred, referrals, pairs, frequency; not
    when it also says %, percent, mean, median, SD, rate, score, ...; "n (%)" is a count), or
    when the table caption names a count (every cell except in non-count columns). A cell
    is flagged when its text is a whole number from 1 to k-1, optionally followed by a
    bracketed percentage such as ``3 (7.5%)``. Nested tables are scanned on their own.

    Examples
    --------
    >>> scan_html_for_small_counts(
    ...     "<table><tr><th>Site</th><th>n</th></tr><tr><td>A</td><td>3</td></tr></table>")[0]["value"]
    3
    """
    from bs4 import BeautifulSoup

    k = _check_k(k)
    soup = BeautifulSoup(html, "html.parser")
    findings = []
    for t_index, table in enumerate(soup.find_all("table")):
        cap = table.find("caption")
        caption = cap.get_text(" ", strip=True) if cap and cap.find_parent("table") is table \
            else ""
        tagged = "sp-counts" in (table.get("class") or [])
        grid = _grid(table)
        width = max((len(r) for r in grid), default=0)
        # Column headings: text of header cells in the head rows (thead, or leading th-only
        # rows when there is no thead), joined over levels.
        has_thead = table.find("thead") is not None
        head_idx = {n for n, r in enumerate(grid) if r and all(h for _, h, _ in r)
                    and (any(t for _, _, t in r) or not has_thead)}
        head_rows = [grid[n] for n in sorted(head_idx)]
        headings = []
        for c in range(width):
            parts = []
            for r in head_rows:
                if c < len(r):
                    text = r[c][0].get_text(" ", strip=True)
                    if text and text not in parts:
                        parts.append(text)
            headings.append(" ".join(parts))
        caption_count = _is_count_label(caption)
        for r_no, row in enumerate(grid):
            if r_no in head_idx:
                continue
            row_label = " ".join(cell.get_text(" ", strip=True) for cell, h, _ in row if h)
            row_is_count = _is_count_label(row_label)
            for c, (cell, is_head, _) in enumerate(row):
                if is_head:
                    continue
                text = cell.get_text(" ", strip=True)
                match = _CELL_COUNT.match(text)
                if not match:
                    continue
                value = int(match.group(1).replace(",", ""))
                if not 1 <= value < k:
                    continue
                heading = headings[c] if c < len(headings) else ""
                if cell.has_attr("data-count") or tagged:
                    why = "data-count attribute"
                elif _is_count_label(heading):
                    why = "count column heading"
                elif row_is_count:
                    why = "count row label"
                elif caption_count and not _NOT_COUNT_WORDS.search(heading):
                    why = "count caption"
                else:
                    continue
                findings.append({"table": t_index, "caption": caption,
                                 "row": row_label or r_no, "column": heading,
                                 "value": value, "text": text, "why": why})
    return findings
