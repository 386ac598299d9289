"""Tests for spanalysis.report.render: offline, accessible, provenance-stamped HTML reports.

References: SHA-256 from hashlib; the WCAG 2.x contrast formula worked here (with the
published values 21:1 for black on white and about 4.48:1 for #777777 on white); HTML is
inspected with the standard library's html.parser (not the BeautifulSoup pass under test).
"""
from __future__ import annotations

import base64
import copy
import doctest
import hashlib
import os
import re
import subprocess
import sys
import warnings
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from spanalysis.errors import InputError
from spanalysis.report import render
from spanalysis.report.render import (
    ReportWarning,
    collect_provenance,
    external_references,
    notebook_to_html,
    write_html_atomic,
)

FIXTURES = Path(__file__).parent / "fixtures" / "notebooks"
REPORT_NB = FIXTURES / "report.ipynb"
sys.path.insert(0, str(FIXTURES))
from make_fixtures import report_notebook, tiny_png  # noqa: E402


class Page(HTMLParser):
    """Elements and attributes of a page, collected with the standard library parser."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.stack: list[str] = []
        self.headings: list[tuple[int, str, bool, bool]] = []   # level, id, in main, in nav
        self.toc_links: list[str] = []
        self._text_for = None
        self.heading_text: dict[str, str] = {}
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self.headings.append((int(tag[1]), attrs.get("id"), "main" in self.stack,
                                  "nav" in self.stack))
            self._text_for = attrs.get("id")
            self.heading_text[self._text_for] = ""
        if tag == "a" and "nav" in self.stack and attrs.get("href", "").startswith("#"):
            self.toc_links.append(attrs["href"][1:])
        if tag not in ("img", "meta", "br", "hr", "input", "link"):
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self._text_for = None
        if tag in self.stack:
            while self.stack and self.stack.pop() != tag:
                pass

    def handle_data(self, data):
        if self._text_for is not None:
            self.heading_text[self._text_for] += data

    def all(self, name):
        return [attrs for tag, attrs in self.tags if tag == name]


@pytest.fixture(scope="module")
def provenance_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    a = folder / "participants.csv"
    a.write_bytes(b"participant_id,site\nSP001,Riverside\n")
    b = folder / "big.bin"
    b.write_bytes(bytes(range(256)) * 5000)        # 1.28 MB: hashed in blocks
    return [a, b]


@pytest.fixture(scope="module")
def rendered(provenance_files):
    prov = collect_provenance(provenance_files, {"site": "Riverside<script>", "k": 5},
                              repo_dir=provenance_files[0].parent)
    nb = nbformat.read(REPORT_NB, as_version=4)
    before = copy.deepcopy(nb)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        html = notebook_to_html(nb, title="Riverside <report> & more", provenance=prov,
                                base_dir=FIXTURES)
    assert nb == before                                   # the notebook is not modified
    notes = [str(w.message) for w in caught if issubclass(w.category, ReportWarning)]
    return html, Page(html), notes, prov


def test_fixture_notebook_is_current():
    # The stored fixture equals what make_fixtures.py builds (rebuild it after editing).
    stored = nbformat.read(REPORT_NB, as_version=4)
    built = report_notebook()
    assert [c.source for c in stored.cells] == [c.source for c in built.cells]
    assert (FIXTURES / "pixel.png").read_bytes() == tiny_png(2, 2, (30, 30, 200))


# ---------------------------------------------------------------------------------------------
# Nothing outside the file
# ---------------------------------------------------------------------------------------------

def test_no_external_references(rendered):
    html, page, _, _ = rendered
    assert not re.search(r"""(?:src|href|action|data)\s*=\s*["']?\s*(?:https?:)?//""", html,
                         re.IGNORECASE)
    for attrs in page.all("link"):
        assert attrs.get("href", "").startswith("data:")
    assert not re.search(r"@import|url\(\s*['\"]?\s*(?:https?:)?//", html, re.IGNORECASE)
    assert not re.search(r"<script", html, re.IGNORECASE)
    for word in ("require.js", "requirejs", "mathjax", "mermaid", "cdn.", "@font-face",
                 "woff"):
        assert word not in html.lower()
    for attrs in page.all("img"):
        assert attrs["src"].startswith("data:image/")
    assert external_references(html) == []


def test_no_code_or_prompts_and_tags_honoured(rendered):
    html, _, _, _ = rendered
    for hidden in ("site = &#x27;Riverside", "site = 'Riverside'", "df.to_html()",
                   "figure_image(fig", "In&nbsp;[", "Out[", "REMOVED-CELL", "REMOVED-OUTPUT",
                   "print("):
        assert hidden not in html
    assert "KEPT-OUTPUT" in html                       # remove-input keeps the output
    # JavaScript and widget outputs fall back to their text form; nothing runs
    assert "JS-FALLBACK" in html and "WIDGET-FALLBACK" in html and "alert('js')" not in html


def test_markdown_math_stays_text_and_local_image_is_embedded(rendered):
    html, page, _, _ = rendered
    assert r"$d = \bar{x}/s$" in html and r"$$\frac{a}{b}$$" in html
    pixel = base64.b64encode((FIXTURES / "pixel.png").read_bytes()).decode()
    imgs = {a["alt"]: a["src"] for a in page.all("img")}
    assert imgs["A red rectangle"] == f"data:image/png;base64,{pixel}"


def test_external_link_becomes_text_and_external_images_are_dropped(rendered):
    html, page, notes, _ = rendered
    assert "NHS guidance (https://www.nhs.uk/)" in html
    assert '<a href="#who-took-part">the method</a>' in html        # in-page link kept
    assert "example.org" not in " ".join(a.get("src", "") for a in page.all("img"))
    assert "[Image not included in this offline report: tracker]" in html
    assert any("example.org/remote.png" in n for n in notes)


def test_script_in_dataframe_is_escaped(rendered):
    html, _, notes, _ = rendered
    # pandas to_html escapes free text itself ...
    assert "&lt;script&gt;alert('x')&lt;/script&gt; felt valued" in html
    # ... an unescaped (Styler-like) table is neutralised: shown as text, never run.
    assert "&lt;script&gt;alert('styler')&lt;/script&gt; said" in html
    assert any("<script>" in n and "shown as text" in n for n in notes)


def test_real_styler_without_escaping_is_neutralised():
    df = pd.DataFrame({"quote": ["<script>alert(1)</script> hope", "ok"], "n": [6, 7]})
    styler_html = df.style.to_html()          # Styler does not escape by default
    assert "<script>alert(1)</script>" in styler_html          # the danger is real
    nb = new_notebook(cells=[new_markdown_cell("# Quotes"), new_code_cell(
        "s", outputs=[new_output("display_data", data={"text/html": styler_html,
                                                       "text/plain": "s"})])])
    with pytest.warns(ReportWarning, match="shown as text"):
        html = notebook_to_html(nb, title="Quotes", provenance={})
    assert not re.search(r"<script", html, re.IGNORECASE)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; hope" in html


def test_active_content_in_outputs_is_removed():
    nasty = ('<link rel="stylesheet" href="https://cdn.example.org/x.css">'
             '<iframe src="https://example.org"></iframe>'
             '<div onclick="steal()" style="background: url(http://example.org/a.png)">x</div>'
             '<a href="javascript:steal()">click</a>'
             '<style>@import url("https://fonts.example.org/f.css"); p { color: #1a1a1a }</style>'
             '<img src="//example.org/pixel.gif" alt="pixel">'
             '<a href="other-site.html">the Hillview report</a>')
    nb = new_notebook(cells=[new_code_cell("x", outputs=[new_output(
        "display_data", data={"text/html": nasty, "text/plain": "x"})])])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReportWarning)
        html = notebook_to_html(nb, title="Nasty", provenance={})
    assert external_references(html) == []
    for bad in ("onclick", "javascript:", "<iframe", "<link", "@import", "example.org/a.png",
                "//example.org/pixel.gif"):
        assert bad not in html
    assert '<a href="other-site.html">the Hillview report</a>' in html   # relative: kept


def test_external_references_detector():
    found = external_references(
        '<script src="https://cdn.x/require.js"></script>'
        '<link rel="stylesheet" href="https://x/a.css">'
        '<img src="//x.org/a.png" alt="a"><a href="http://x.org">x</a>'
        '<div style="background:url(https://x/b.png)"></div>'
        '<style>@import "https://x/c.css";</style>')
    assert len(found) >= 6
    clean = ('<img src="data:image/png;base64,AAAA" alt="a"><a href="#s">s</a>'
             '<a href="b.html">b</a><style>p { color: #111 }</style>')
    assert external_references(clean) == []


# ---------------------------------------------------------------------------------------------
# Structure and accessibility
# ---------------------------------------------------------------------------------------------

def test_document_landmarks_title_lang_and_skip_link(rendered):
    html, page, _, _ = rendered
    assert html.startswith("<!DOCTYPE html>")
    assert page.all("html")[0]["lang"] == "en-GB"
    assert "<title>Riverside &lt;report&gt; &amp; more</title>" in html
    mains = page.all("main")
    assert len(mains) == 1 and mains[0]["id"] == "main"
    assert page.all("a")[0]["href"] == "#main"            # first link skips to the content
    assert len(page.all("footer")) == 1


def test_other_language_and_bad_language():
    nb = new_notebook(cells=[new_markdown_cell("# Adroddiad")])
    assert '<html lang="cy">' in notebook_to_html(nb, title="Adroddiad", provenance={},
                                                  lang="cy")
    with pytest.raises(InputError, match="language"):
        notebook_to_html(nb, title="x", provenance={}, lang='en"><script>')
    with pytest.raises(InputError, match="title"):
        notebook_to_html(nb, title=" ", provenance={})


def test_toc_links_match_heading_ids(rendered):
    _, page, _, _ = rendered
    ids = [i for _, i, _, _ in page.headings]
    all_ids = [a.get("id") for _, a in page.tags if a.get("id")]
    assert len(all_ids) == len(set(all_ids))                      # ids are unique
    body = [(level, i) for level, i, in_main, _ in page.headings if in_main and level <= 3]
    expected = [i for _, i in body] + ["provenance"]
    assert page.toc_links == expected
    assert set(page.toc_links) <= set(ids)
    # the duplicated heading got its own id; texts match
    assert "who-took-part" in page.toc_links and "who-took-part-2" in page.toc_links
    assert page.heading_text["who-took-part-2"] == "Who took part"
    assert "¶" not in "".join(page.heading_text.values())


def test_heading_order_warns(rendered):
    _, _, notes, _ = rendered
    assert any("headings out of order" in n and "(h4) follows an h2" in n for n in notes)
    assert render.check_heading_order([1, 2, 3, 1, 2]) == []
    assert render.check_heading_order([1, 3]) == ["heading 2 (h3) follows an h1"]


def test_every_image_has_alt_text(rendered):
    _, page, notes, _ = rendered
    alts = [a.get("alt", "") for a in page.all("img")]
    assert alts and all(a.strip() for a in alts)
    assert "Bar chart of WEMWBS change by site" in alts               # from output metadata
    assert "Figure 2 in section 'Figures' (no description was provided)" in alts
    assert any("figure 2" in n and "no alt text" in n for n in notes)


def test_figure_image_carries_alt_into_the_report():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())     # figures other tests of this process left open
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.bar(["A", "B"], [3, 5])
    img = render.figure_image(fig, "Bar chart: B higher than A", format="png", dpi=40)
    data, md = img._repr_png_()                 # IPython 9 gives base64 text
    raw = base64.b64decode(data) if isinstance(data, str) else data
    assert raw[:8] == b"\x89PNG\r\n\x1a\n" and md["alt"] == "Bar chart: B higher than A"
    assert set(plt.get_fignums()) == before                    # closed: not shown twice
    # As the kernel stores it: metadata keyed by MIME type.
    out = new_output("display_data", data={"image/png": base64.b64encode(raw).decode(),
                                           "text/plain": "<Image>"},
                     metadata={"image/png": md})
    html = notebook_to_html(new_notebook(cells=[new_code_cell("x", outputs=[out])]),
                            title="Figure", provenance={})
    assert 'alt="Bar chart: B higher than A"' in html
    with pytest.raises(InputError, match="alt text"):
        render.figure_image(plt.figure(), "  ")
    plt.close("all")


def _bar_figure(title="B is higher than A"):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3))
    ax.bar(["A", "B"], [3, 5])
    ax.set_title(title)
    ax.set_ylabel("People (number)")
    return fig


def test_figures_are_svg_by_default_with_alt_text_and_the_same_bytes_each_time():
    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())
    svgs = []
    for _ in range(2):
        img = render.figure_image(_bar_figure(), "Bar chart: A 3 people, B 5 people")
        data, md = img._repr_svg_()
        svgs.append(data)
    assert md == {"alt": "Bar chart: A 3 people, B 5 people"}
    assert set(plt.get_fignums()) == before
    svg = svgs[0]
    assert svgs[0] == svgs[1]                    # fixed id salt, no date: reproducible
    assert svg.startswith("<svg") and "<metadata" not in svg and "<?xml" not in svg
    # text is drawn as paths (no font needed on the reader's machine), so no <text> element
    assert "<text" not in svg and "<path" in svg
    assert 2_000 < len(svg.encode()) < 60_000    # a small chart stays small
    out = new_output("display_data", data={"image/svg+xml": svg, "text/plain": "<SVG>"},
                     metadata={"image/svg+xml": md})
    html = notebook_to_html(new_notebook(cells=[new_code_cell("x", outputs=[out])]),
                            title="Figure", provenance={})
    page = Page(html)
    (img_attrs,) = page.all("img")
    assert img_attrs["alt"] == "Bar chart: A 3 people, B 5 people"
    assert img_attrs["src"].startswith("data:image/svg+xml;base64,")
    assert base64.b64decode(img_attrs["src"].split(",", 1)[1]).decode() == svg
    assert "<svg" not in html                    # embedded as an image, not inline markup
    with pytest.raises(InputError, match="format"):
        render.figure_image(_bar_figure(), "x", format="gif")
    plt.close("all")


def test_cell_caption_is_the_fallback_alt():
    png = base64.b64encode(tiny_png()).decode()
    cell = new_code_cell("x", metadata={"caption": "Referrals per month"}, outputs=[
        new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"})])
    html = notebook_to_html(new_notebook(cells=[cell]), title="t", provenance={})
    assert 'alt="Referrals per month"' in html


def test_table_headers_have_scope(rendered):
    _, page, _, _ = rendered
    ths = page.all("th")
    assert ths and all(a.get("scope") in ("col", "row", "colgroup", "rowgroup") for a in ths)


def _luminance(hex_colour: str) -> float:
    # WCAG 2.x relative luminance: channel c = v/255; c/12.92 if c <= 0.04045 else
    # ((c + 0.055)/1.055)**2.4; L = 0.2126 R + 0.7152 G + 0.0722 B.
    h = hex_colour.lstrip("#")
    if len(h) == 3:
        h = "".join(ch * 2 for ch in h)
    chans = [int(h[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in chans]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def _contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_contrast_formula_reference_values():
    assert _contrast("#000000", "#ffffff") == pytest.approx(21.0)   # (1.05)/(0.05)
    assert _contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


def test_css_is_dark_on_light_and_readable():
    css = (render.TEMPLATE_DIR / "spanalysis" / "report.css").read_text()
    body = re.search(r"\bbody\s*\{([^}]*)\}", css).group(1)
    fg = re.search(r"(?<!-)color:\s*(#[0-9a-fA-F]{3,6})", body).group(1)
    bg = re.search(r"background:\s*(#[0-9a-fA-F]{3,6})", body).group(1)
    assert _luminance(fg) < 0.05 and _luminance(bg) > 0.9          # dark text, light page
    assert _contrast(fg, bg) >= 7.0                                  # WCAG AAA body text
    # Every text colour in the stylesheet is readable on white (AA, 4.5:1) ...
    for colour in re.findall(r"(?<![-\w])color:\s*(#[0-9a-fA-F]{3,6})", css):
        assert _contrast(colour, "#ffffff") >= 4.5, colour
    # ... and on the header-cell and skip-link backgrounds.
    assert _contrast(fg, "#f3f2f1") >= 7.0 and _contrast(fg, "#ffdd00") >= 7.0


def test_report_is_small(rendered):
    html, _, _, _ = rendered
    # Fixture with three tiny images: the lab template alone inlines ~250 kB of CSS.
    assert len(html.encode("utf-8")) < 25_000


# ---------------------------------------------------------------------------------------------
# Layout (issue 22, 5): one H1, links between reports, tables, alignment, print
# ---------------------------------------------------------------------------------------------

def _quiet_html(nb, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        html = notebook_to_html(nb, provenance=kw.pop("provenance", {}), **kw)
    return html, [str(w.message) for w in caught if issubclass(w.category, ReportWarning)]


@pytest.mark.parametrize("notebook_h1, title, kept", [
    ("Outcome change", "Outcome change", None),                  # repeats the title: dropped
    ("Site report", "Site report: Riverside PCN", None),         # begins the title: dropped
    ("  outcome   CHANGE ", "Outcome change", None),              # same words
    ("Site", "Sites and places", "Site"),                        # not a whole word: kept as h2
    ("Something else", "Outcome change", "Something else"),
])
def test_one_h1_per_page(notebook_h1, title, kept):
    nb = new_notebook(cells=[new_markdown_cell(f"# {notebook_h1}\n\nIntro.\n\n## Part\n\nx"),
                             new_markdown_cell("# A second top heading\n\ny")])
    html, notes = _quiet_html(nb, title=title)
    page = Page(html)
    h1s = [h for h in page.headings if h[0] == 1]
    assert h1s == [(1, "report-title", False, False)]
    assert page.heading_text["report-title"] == title
    h2s = [page.heading_text[i] for level, i, in_main, _ in page.headings if level == 2 and in_main]
    assert h2s == ([kept] if kept else []) + ["Part", "A second top heading"]
    assert "Intro." in html
    assert sum("second top-level heading" in n for n in notes) == (2 if kept else 1)
    assert not any("out of order" in n for n in notes)


def test_rendered_fixture_has_one_h1(rendered):
    _, page, notes, _ = rendered
    assert [h for h in page.headings if h[0] == 1] == [(1, "report-title", False, False)]
    assert any("'Well-being at Riverside'" in n and "h2" in n for n in notes)


def test_links_to_the_index_and_neighbouring_reports():
    nb = new_notebook(cells=[new_markdown_cell("## Part")])
    html, _ = _quiet_html(nb, title="Outcome change", index_href="../index.html",
                          related=[("Previous report", "Data <quality>", "01_data_quality.html"),
                                   ("Next report", "Qualitative benefits", "03 q.html")])
    page = Page(html)
    navs = [a for a in page.all("nav") if a.get("aria-label") == "Other reports"]
    assert len(navs) == 1
    hrefs = [a["href"] for a in page.all("a")]
    assert hrefs[0] == "#main"                                 # the skip link stays first
    assert hrefs[1:4] == ["../index.html", "01_data_quality.html", "03 q.html"]
    assert "Previous report: <a" in html and "Data &lt;quality&gt;</a>" in html
    assert external_references(html) == []
    # without links there is no navigation block
    assert 'aria-label="Other reports"' not in _quiet_html(nb, title="t")[0]
    for bad in ("https://example.org/index.html", "//x/index.html", "javascript:alert(1)",
                "#top", " "):
        with pytest.raises(InputError, match="relative"):
            notebook_to_html(nb, title="t", provenance={}, index_href=bad)
    with pytest.raises(InputError, match="relative"):
        notebook_to_html(nb, title="t", provenance={}, related=[("Next", "x", "file:///x")])
    with pytest.raises(InputError, match="relation, title, address"):
        notebook_to_html(nb, title="t", provenance={}, related=[("Next", "x.html")])


def test_tables_scroll_in_their_own_labelled_box_and_numbers_are_right_aligned():
    frame = pd.DataFrame({"Theme": ["Feeling valued and not alone", "Hope"],
                          "People": [12, "<5"], "Mean change": ["2.1 (0.4 to 3.8)", "[c]"],
                          "p": ["< 0.001", "1.2e-05"], "Mixed": ["3", "a few"]})
    table = frame.to_html(index=False).replace(
        "<thead>", "<caption>Themes and change</caption><thead>", 1)
    out = new_output("display_data", data={"text/html": table + "<table><tr><td>9</td></tr>"
                                           "</table>", "text/plain": "t"})
    html, _ = _quiet_html(new_notebook(cells=[new_code_cell("x", outputs=[out])]), title="t")
    from bs4 import BeautifulSoup
    soup = BeautifulSoup(html, "html.parser")
    boxes = soup.select("main div.sp-table-scroll")
    assert len(boxes) == 2
    assert all(b.get("role") == "region" and b.get("tabindex") == "0" for b in boxes)
    assert [b["aria-label"] for b in boxes] == ["Themes and change", "Table 2"]
    assert [b.find("table") is not None for b in boxes] == [True, True]
    first = boxes[0].find("table")
    header = [(th.get_text(), "sp-num" in (th.get("class") or [])) for th in first.select("thead th")]
    assert header == [("Theme", False), ("People", True), ("Mean change", True), ("p", True),
                      ("Mixed", False)]
    rows = [[("sp-num" in (td.get("class") or [])) for td in tr.find_all("td")]
            for tr in first.select("tbody tr")]
    assert rows == [[False, True, True, True, True], [False, True, True, True, False]]
    for text, numeric in [("41.38", True), ("-0.82", True), ("−1.5", True), ("1,234", True),
                          ("12%", True), ("<5", True), ("[c]", True), ("—", True),
                          ("2 (1 to 3)", True), ("p < 0.05", True), ("total", False),
                          ("WEMWBS total (14-70)", False), ("5 people", False), ("", False),
                          ("fewer than 5", False), ("2024-01-05", True)]:
        assert render._is_number_cell(text) is numeric, text


def test_provenance_is_folded_and_printed_open(rendered):
    html, page, _, _ = rendered
    from bs4 import BeautifulSoup
    soup = BeautifulSoup(html, "html.parser")
    footer = soup.find("footer")
    details = footer.find("details")
    assert details is not None and not details.has_attr("open")
    assert details.find("summary").get_text(strip=True)
    assert details.find("dl") is not None and details.find("table") is not None
    assert footer.find("h2", id="provenance").find_parent("details") is None   # TOC target
    # its tables (long file names and hashes) scroll in their own boxes on a phone
    tables = footer.find_all("table")
    assert len(tables) == 3
    assert all("sp-table-scroll" in t.parent.get("class", []) for t in tables)
    css = (render.TEMPLATE_DIR / "spanalysis" / "report.css").read_text()
    print_css = css[css.index("@media print"):]
    assert re.search(r"@page\s*\{[^}]*size:\s*A4", css)
    assert re.search(r"details::details-content\s*\{[^}]*content-visibility:\s*visible",
                     print_css)
    assert re.search(r"thead\s*\{[^}]*table-header-group", print_css)
    assert re.search(r"\btr\b[^{]*\{[^}]*break-inside:\s*avoid", print_css)
    assert re.search(r"\.sp-table-scroll[^{]*\{[^}]*overflow:\s*visible", print_css)


def test_css_left_aligns_text_and_right_aligns_only_numbers():
    css = (render.TEMPLATE_DIR / "spanalysis" / "report.css").read_text()
    rules = re.findall(r"([^{}]+)\{([^}]*)\}", re.sub(r"/\*.*?\*/", "", css, flags=re.S))
    right = [sel.strip() for sel, body in rules if re.search(r"text-align:\s*right", body)]
    assert right == ["td.sp-num, th.sp-num"]
    assert not re.search(r"text-align:\s*(center|justify)", css)
    cells = next(body for sel, body in rules if sel.strip() == "th, td")
    assert "text-align: left" in cells


# ---------------------------------------------------------------------------------------------
# Provenance
# ---------------------------------------------------------------------------------------------

def test_provenance_footer(rendered, provenance_files):
    html, _, _, prov = rendered
    for path in provenance_files:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert digest in html
        assert str(path) in html
    assert str(provenance_files[1].stat().st_size) in html
    assert "Riverside&lt;script&gt;" in html                  # parameters are escaped
    assert f"<dd>{prov['run_date']}</dd>" in html
    assert pd.__version__ in html and "nbconvert" in html
    import platform
    assert f"<dt>Python</dt><dd>{platform.python_version()}</dd>" in html


def test_collect_provenance_values(provenance_files, tmp_path):
    prov = collect_provenance(provenance_files, {"site": "Hillview"}, repo_dir=tmp_path)
    assert [f["sha256"] for f in prov["input_files"]] == [
        hashlib.sha256(p.read_bytes()).hexdigest() for p in provenance_files]
    assert prov["git_commit"] is None and prov["git_dirty"] is None   # not a repository
    assert prov["parameters"] == {"site": "Hillview"}
    assert set(render.KEY_PACKAGES) <= set(prov["packages"])
    assert prov["packages"]["pandas"] == pd.__version__
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", prov["run_date"])
    with pytest.raises(InputError) as err:
        collect_provenance([tmp_path / "missing.csv"], {})
    assert err.value.issue.file.endswith("missing.csv")


def test_collect_provenance_git(monkeypatch, tmp_path):
    calls = []

    def fake_run(args, **kw):
        calls.append(args)
        out = "0123abcd" * 5 + "\n" if args[1] == "rev-parse" else " M notebooks/x.ipynb\n"
        return subprocess.CompletedProcess(args, 0, stdout=out, stderr="")

    monkeypatch.setattr(render.subprocess, "run", fake_run)
    prov = collect_provenance([], None, repo_dir=tmp_path)
    assert prov["git_commit"] == "0123abcd" * 5 and prov["git_dirty"] is True
    assert calls[0] == ["git", "rev-parse", "HEAD"]

    def no_git(args, **kw):
        raise FileNotFoundError("git")

    monkeypatch.setattr(render.subprocess, "run", no_git)
    assert collect_provenance([], None, repo_dir=tmp_path)["git_commit"] is None


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------

def test_write_html_atomic(tmp_path):
    target = tmp_path / "out" / "report.html"
    write_html_atomic("<p>café</p>", target)
    assert target.read_bytes() == "<p>café</p>".encode("utf-8")
    assert os.listdir(target.parent) == ["report.html"]
    assert oct(target.stat().st_mode & 0o777) != oct(0o600)    # umask applies, not 0600


@pytest.mark.parametrize("failure", ["replace", "fsync", "encode"])
def test_write_html_atomic_leaves_nothing_partial(tmp_path, monkeypatch, failure):
    target = tmp_path / "report.html"
    target.write_text("old report")
    html = "<p>new</p>"
    if failure == "replace":
        monkeypatch.setattr(render.os, "replace", lambda *a: (_ for _ in ()).throw(
            OSError("disk full")))
    elif failure == "fsync":
        monkeypatch.setattr(render.os, "fsync", lambda fd: (_ for _ in ()).throw(
            OSError("I/O error")))
    else:
        html = "<p>\ud800</p>"                   # a lone surrogate cannot be encoded
    with pytest.raises((OSError, UnicodeEncodeError)):
        write_html_atomic(html, target)
    assert target.read_text() == "old report"
    assert os.listdir(tmp_path) == ["report.html"]


def test_exporter_is_reused_and_render_is_fast(rendered):
    import time

    nb = nbformat.read(REPORT_NB, as_version=4)
    render._exporter()
    hits = render._exporter.cache_info().hits
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReportWarning)
        notebook_to_html(nb, title="again", provenance={}, base_dir=FIXTURES)
    assert time.perf_counter() - start < 2.0
    assert render._exporter.cache_info().hits > hits


def test_notebook_path_input(provenance_files):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReportWarning)
        html = notebook_to_html(REPORT_NB, title="From a path", provenance={})
    assert "data:image/png;base64," + base64.b64encode(
        (FIXTURES / "pixel.png").read_bytes()).decode() in html
    with pytest.raises(InputError, match="not found"):
        notebook_to_html(FIXTURES / "nope.ipynb", title="x", provenance={})


def test_docstring_examples_run():
    result = doctest.testmod(render, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 5 and result.failed == 0


def test_execution_links_each_report_to_the_index_and_its_neighbours(tmp_path):
    from spanalysis.report import execution
    from spanalysis.report.jobs import ReportJob

    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    for name, heading in [("01_data_quality", "Data quality"), ("02_outcome_change", "Change"),
                          ("04_integration", "Integration")]:     # 03 is not there
        nbformat.write(new_notebook(cells=[new_markdown_cell(f"# {heading}")]),
                       nbs / f"{name}.ipynb")
    nbformat.write(new_notebook(cells=[new_markdown_cell("# Site report")]),
                   nbs / "site_report.ipynb")
    out = tmp_path / "out"

    def job(name, kind, folder, notebook):
        return ReportJob(name=name, kind=kind, title=name, notebook=nbs / f"{notebook}.ipynb",
                         parameters={}, html=out / folder / f"{name}.html",
                         executed=out / folder / f"{name}.ipynb", log=out / "x.log",
                         summary=out / "x.json", record=out / "x.run.json")

    assert execution._links(job("01_data_quality", "study", "study", "01_data_quality")) == (
        "../index.html", [("Next report", "Change", "02_outcome_change.html")])
    assert execution._links(job("04_integration", "study", "study", "04_integration")) == (
        "../index.html", [("Previous report", "Change", "02_outcome_change.html")])
    assert execution._links(job("02_outcome_change", "study", "study", "02_outcome_change"))[1] \
        == [("Previous report", "Data quality", "01_data_quality.html"),
            ("Next report", "Integration", "04_integration.html")]
    assert execution._links(job("riverside-pcn", "site", "sites", "site_report")) == (
        "../index.html", [])


# ---------------------------------------------------------------------------------------------
# Colour-blind-safe palette (issue 22, 6)
# ---------------------------------------------------------------------------------------------

#: Okabe and Ito (2008), "Color Universal Design": the published hex values
OKABE_ITO = {"#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7",
             "#000000"}
#: Machado, Oliveira and Fernandes (2009), IEEE TVCG 15(6), severity 1.0, on linear RGB
MACHADO = {
    "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                   [-0.003882, -0.048116, 1.051998]],
    "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                     [-0.011820, 0.042940, 0.968881]],
    "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                   [0.004733, 0.691367, 0.303900]],
}


def _lab(linear):
    # linear sRGB -> XYZ (D65, IEC 61966-2-1) -> CIELAB
    m = [[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]
    xyz = [sum(m[i][j] * linear[j] for j in range(3)) for i in range(3)]
    white = (0.9505, 1.0, 1.089)
    f = [(t / w) ** (1 / 3) if t / w > 0.008856 else 7.787 * t / w + 16 / 116
         for t, w in zip(xyz, white)]
    return (116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2]))


def _seen(hex_colour, matrix=None):
    h = hex_colour.lstrip("#")
    lin = [(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)
           for c in (int(h[i:i + 2], 16) / 255 for i in (0, 2, 4))]
    if matrix is not None:
        lin = [min(1.0, max(0.0, sum(matrix[i][j] * lin[j] for j in range(3))))
               for i in range(3)]
    return _lab(lin)


def _delta_e(a, b):            # CIE76
    return sum((x - y) ** 2 for x, y in zip(a, b)) ** 0.5


def test_palette_is_okabe_ito_and_change_categories_stay_apart_for_colour_blind_readers():
    import matplotlib

    from spanalysis import plotting

    assert {c.upper() for c in plotting.PALETTE.values()} == OKABE_ITO
    assert _delta_e(_seen("#ffffff"), (100.0, 0.0, 0.0)) < 0.5      # the conversion's white
    cats = plotting.CATEGORY_COLOURS
    for name, matrix in MACHADO.items():
        improved, none_, worse = (_seen(cats[k], matrix)
                                  for k in ("improvement", "none", "deterioration"))
        # clearly different (CIE76 delta E > 20) under each full colour-vision deficiency
        assert min(_delta_e(improved, worse), _delta_e(improved, none_),
                   _delta_e(worse, none_)) > 20, name
    # the red/green pair the figures used before is the kind this rules out: deuteranopes
    # see #1b7837 and #b2182b as far closer than the pair now used
    old = _delta_e(_seen("#1b7837", MACHADO["deuteranopia"]),
                   _seen("#b2182b", MACHADO["deuteranopia"]))
    new = _delta_e(_seen(cats["improvement"], MACHADO["deuteranopia"]),
                   _seen(cats["deterioration"], MACHADO["deuteranopia"]))
    assert old < 20 < new          # about 12 against about 108
    with matplotlib.rc_context():
        plotting.use_report_style()
        cycle = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
        assert {c.upper() for c in cycle} == OKABE_ITO
        assert matplotlib.rcParams["image.cmap"] == plotting.SEQUENTIAL_CMAP == "viridis"


def test_wide_svg_figures_keep_legible_labels_on_a_phone():
    from bs4 import BeautifulSoup

    def svg_output(width_pt):
        svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width_pt}pt" height="100pt">'
               '<rect width="5" height="5"/></svg>')
        return new_output("display_data", data={"image/svg+xml": svg, "text/plain": "<SVG>"},
                          metadata={"image/svg+xml": {"alt": f"{width_pt} pt wide"}})

    nb = new_notebook(cells=[new_code_cell("x", outputs=[svg_output(720), svg_output(300)])])
    soup = BeautifulSoup(_quiet_html(nb, title="t")[0], "html.parser")
    wide, narrow = soup.find_all("img")
    # 720 pt = 960 CSS px; 0.65 of it = 624 px, so 10 pt labels stay 8.7 px
    assert render.MIN_FIGURE_SCALE == 0.65
    assert wide["style"] == "min-width: 624px"
    box = wide.parent
    assert "sp-figure-scroll" in box["class"] and box["tabindex"] == "0"
    assert box["role"] == "region" and box["aria-label"].startswith("Figure 1")
    # 300 pt = 400 px: 0.65 of it (260 px) fits any phone, so no floor and no extra tab stop
    assert not narrow.has_attr("style") and not narrow.parent.has_attr("tabindex")
    css = (render.TEMPLATE_DIR / "spanalysis" / "report.css").read_text()
    assert re.search(r"img\s*\{\s*min-width:\s*0\s*!important", css[css.index("@media print"):])


def test_the_paired_plot_draws_a_seeded_sample_of_lines_for_a_large_study():
    """Above PAIRED_PLOT_MAX_LINES people the paired plot draws that many lines, the same ones
    every time; the mean and its interval are everyone's (scipy's t interval, here)."""
    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd
    from scipy import stats

    from spanalysis import plotting

    rng = np.random.default_rng(1)
    pairs = pd.DataFrame({"pre": rng.integers(14, 71, 5000).astype(float)})
    pairs["post"] = pairs["pre"] + rng.integers(-5, 10, 5000)
    drawn = []
    for _ in range(2):
        fig, alt = plotting.paired_plot(pairs, title="WEMWBS total", pre_label="baseline",
                                        post_label="followup")
        ax = fig.axes[0]
        grey = [line for line in ax.get_lines() if line.get_color() == "#8c8c8c"]
        drawn.append([tuple(line.get_ydata()) for line in grey])
        plt.close(fig)
    assert len(drawn[0]) == plotting.PAIRED_PLOT_MAX_LINES
    assert drawn[0] == drawn[1]
    assert set(drawn[0]) <= set(map(tuple, pairs[["pre", "post"]].to_numpy()))
    assert f"{plotting.PAIRED_PLOT_MAX_LINES:,} people chosen at random from the 5,000" in alt
    ci = stats.t.interval(0.95, len(pairs) - 1, loc=pairs["post"].mean(),
                          scale=stats.sem(pairs["post"]))
    assert f"{pairs['post'].mean():.1f}" in alt and f"{ci[0]:.1f} to {ci[1]:.1f}" in alt
    small = pairs.iloc[:50]
    fig, alt = plotting.paired_plot(small, title="WEMWBS total", pre_label="baseline",
                                    post_label="followup")
    assert len([line for line in fig.axes[0].get_lines()
                if line.get_color() == "#8c8c8c"]) == 50
    assert "joins each person's baseline and followup scores; the mean went" in alt
    plt.close(fig)


def _empty_sections_notebook():
    """Sections tagged hide-if-empty: one whose code shows nothing, one whose code shows a
    table, one whose only output is tagged remove-output, an untagged empty one, and a
    tagged section whose subsection shows something."""
    hide = {"tags": ["hide-if-empty"]}
    shown = [new_output("display_data", data={"text/plain": "a table"})]
    glossary = [new_output("display_data", data={"text/markdown": "## Glossary\n\n- term",
                                                 "text/plain": "glossary"})]
    return new_notebook(cells=[
        new_markdown_cell("# Report"),
        new_markdown_cell("## Nothing here\n\nHow it is computed.", metadata=hide),
        new_code_cell("if q: show()"),
        new_markdown_cell("More method text, still the same section."),
        new_code_cell("if q: show_more()"),
        new_markdown_cell("## Shown\n\nMethod.", metadata=hide),
        new_code_cell("show()", outputs=shown),
        new_markdown_cell("## Only for the analyst", metadata=hide),
        new_code_cell("summary", outputs=shown, metadata={"tags": ["remove-output"]}),
        new_code_cell("glossary", outputs=glossary),      # its heading ends the section
        new_markdown_cell("## Untagged and empty"),
        new_code_cell("if q: show()"),
        new_markdown_cell("## Parent", metadata=hide),
        new_code_cell("if q: show()"),
        new_markdown_cell("### Child with a table", metadata=hide),
        new_code_cell("show()", outputs=shown),
    ])


def test_sections_with_nothing_to_show_are_left_out():
    html = notebook_to_html(_empty_sections_notebook(), title="Report", provenance={})
    page = Page(html)
    headings = [page.heading_text[i].strip() for level, i, in_main, _ in page.headings
                if in_main and i]
    # the untagged empty section stays; a parent stays for a child that shows something
    for kept in ("Shown", "Glossary", "Untagged and empty", "Parent",
                 "Child with a table"):
        assert kept in headings, (kept, headings)
    for gone in ("Nothing here", "Only for the analyst"):
        assert gone not in headings
        assert gone not in html                 # nor in the contents list
    assert "still the same section" not in html      # the section's later text goes too
    assert "a table" not in html.split("Shown")[0]
    nb = _empty_sections_notebook()
    before = copy.deepcopy(nb)
    notebook_to_html(nb, title="Report", provenance={})
    assert nb == before                          # the notebook itself keeps every cell


def test_a_tagged_section_stays_when_its_parent_code_shows_something():
    hide = {"tags": ["hide-if-empty"]}
    nb = new_notebook(cells=[
        new_markdown_cell("# Report"),
        new_markdown_cell("## Parent", metadata=hide),
        new_code_cell("show()", outputs=[new_output("display_data",
                                                    data={"text/plain": "parent table"})]),
        new_markdown_cell("### Empty child", metadata=hide),
        new_code_cell("if q: show()"),
        new_markdown_cell("## Next"),
    ])
    html = notebook_to_html(nb, title="Report", provenance={})
    assert "Parent" in html and "parent table" in html and "Next" in html
    assert "Empty child" not in html
