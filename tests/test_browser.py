"""Rendered reports in a real browser: headless Chromium through Playwright.

Each page (the index, every whole-study report, two site reports) must load with networking
disabled and ask for nothing outside the file (every request is recorded: only ``file:`` and
``data:`` URLs are allowed), log no console error, not be blank (the screenshot has more than
one colour) and have no serious or critical axe-core violation (axe-core 4 bundled with
axe-playwright-python, injected from the local package: nothing is fetched). A quote
containing a script tag must show as text and never run.

Layout (issue 22, 5 and 6): every page is opened at 1280x800 (desktop), 390x844 (phone) and in
print emulation at the width of an A4 page less its margins (182 mm = 688 CSS px), all in one
browser, and must have one H1, a link to the index (reports), no sideways scroll of the page,
no table or figure cut off (on screen a wider table scrolls inside its own box, which lies
within the page; in print it fits the page and nothing scrolls), no right-aligned or centred
paragraph, list item, quote or text cell, figures that are SVG (on screen never shown under
0.65 of their drawn size, so 10 pt labels stay at least 8.7 px; a wider one scrolls in its own
box) or PNG with at least twice the pixels they are shown at, and, in print, folded content
(``<details>``) printed open.

The browser is Debian's ``chromium`` (``.ci/run`` installs it); Playwright never downloads
one. Locally a missing browser skips these tests with the reason; in CI (``CI=true``) it is a
failure.
"""
from __future__ import annotations

import base64
import io
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from spanalysis import integrate as integration
from spanalysis import report as rp
from spanalysis.study import load_study

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "data" / "demo"
CHROMIUM = os.environ.get("SPANALYSIS_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
XSS_SITE = "Riverside PCN"
PAYLOAD = '<script>window.__xss=1</script><img src="x" onerror="window.__xss=2">'


def _in_ci() -> bool:
    """``CI`` set to any true value (``true``, ``1``, ``yes``, ``on``, as CI services set it)."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes", "on", "y", "t"}


def _unavailable(reason: str):
    if _in_ci():
        pytest.fail(f"browser tests must run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    try:
        import axe_playwright_python  # noqa: F401
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        _unavailable(f"playwright / axe-playwright-python not installed ({exc})")
    if not Path(CHROMIUM).is_file():
        _unavailable(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    with sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        except Exception as exc:     # noqa: BLE001
            _unavailable(f"Chromium did not start: {exc}")
        yield b
        b.close()


def _plant_script_quote(study_dir: Path) -> str:
    """Replace the quote the Riverside site report shows first with markup of the same length
    (offsets of other segments stay valid) in both the transcript and segments.csv."""
    study = load_study(study_dir)
    joint = integration.side_by_side(study.for_site(XSS_SITE), quotes=1)
    quote = next(q for qs in joint["quotes"] for q in qs if not q["sensitive"])
    seg_path = study_dir / "qualitative" / "segments.csv"
    seg = pd.read_csv(seg_path, dtype=str, keep_default_na=False)
    row = seg.index[seg["segment_id"] == quote["segment_id"]][0]
    start, end = int(seg.at[row, "start"]), int(seg.at[row, "end"])
    assert end - start >= len(PAYLOAD)
    new = PAYLOAD + "." * (end - start - len(PAYLOAD))
    src = pd.read_csv(study_dir / "qualitative" / "sources.csv", dtype=str)
    rel = src.loc[src["source_id"] == seg.at[row, "source_id"], "path"].iloc[0]
    transcript = study_dir / "qualitative" / rel
    text = transcript.read_text(encoding="utf-8")
    assert text[start:end] == seg.at[row, "text"]
    transcript.write_text(text[:start] + new + text[end:], encoding="utf-8")
    seg.at[row, "text"] = new
    seg.to_csv(seg_path, index=False)
    return new


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    study = shutil.copytree(DEMO, root / "demo")
    planted = _plant_script_quote(study)
    out = root / "out"
    result = rp.build_reports(study, out, sites=f"{XSS_SITE},Kestrel Moor PCN", jobs=2,
                              progress=False)
    assert result.ok, [r.error for r in result.results]
    return {"out": out, "planted": planted}


def _pages(out: Path) -> list[Path]:
    return [out / "index.html", *sorted((out / "study").glob("*.html")),
            *sorted((out / "sites").glob("*.html"))]


def _open(browser, path: Path):
    context = browser.new_context(offline=True, java_script_enabled=True)
    requests, errors = [], []

    def block(route):
        url = route.request.url
        if url.startswith(("file:", "data:")):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", block)
    page = context.new_page()
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri(), wait_until="load")
    return context, page, requests, errors


def test_every_report_loads_offline_without_errors_and_is_accessible(browser, reports):
    from axe_playwright_python.sync_playwright import Axe
    from PIL import Image

    pages = _pages(reports["out"])
    assert len(pages) >= 1 + 2 + 2
    axe = Axe()
    for path in pages:
        context, page, requests, errors = _open(browser, path)
        try:
            outside = [u for u in requests if not u.startswith(("file:", "data:"))]
            assert outside == [], (path.name, outside)
            assert errors == [], (path.name, errors)
            shot = Image.open(io.BytesIO(page.screenshot(full_page=False))).convert("RGB")
            assert shot.getcolors(maxcolors=1) is None, f"{path.name} is blank"
            assert page.title().strip()
            violations = axe.run(page).response["violations"]
            serious = [(v["id"], v["impact"], len(v["nodes"])) for v in violations
                       if v.get("impact") in ("serious", "critical")]
            assert serious == [], (path.name, serious)
        finally:
            context.close()


def test_a_quote_with_a_script_tag_shows_as_text_and_never_runs(browser, reports):
    path = reports["out"] / "sites" / f"{rp.site_slug(XSS_SITE)}.html"
    context, page, requests, errors = _open(browser, path)
    try:
        assert page.evaluate("typeof window.__xss") == "undefined"
        assert page.locator("script").count() == 0
        assert page.locator('img[src="x"]').count() == 0
        shown = page.locator("blockquote.sp-quote").all_inner_texts()
        assert any(PAYLOAD in text for text in shown), shown
        assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
        assert errors == []
    finally:
        context.close()


@pytest.mark.parametrize("value", ["true", "1", "yes", "TRUE", "on"])
def test_a_missing_browser_fails_in_ci_whatever_true_value_ci_has(monkeypatch, value):
    """Issue 19 (32): with ``CI`` set to any true value a missing browser is a failure, not a
    skip (CI services set ``CI=true``, ``CI=1`` or ``CI=yes``)."""
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match="must run in CI"):
        _unavailable("no chromium")


@pytest.mark.parametrize("value", ["", "0", "false", "no"])
def test_a_missing_browser_skips_outside_ci(monkeypatch, value):
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.skip.Exception):
        _unavailable("no chromium")


# ---------------------------------------------------------------------------------------------
# Layout: desktop, phone and print (issue 22, 5 and 6)
# ---------------------------------------------------------------------------------------------

#: (name, viewport, media): A4 is 210 mm wide; less 14 mm margins each side (report.css
#: @page) the printed page is 182 mm = 182 / 25.4 * 96 = 688 CSS px
VIEWS = [("desktop", {"width": 1280, "height": 800}, "screen"),
         ("phone", {"width": 390, "height": 844}, "screen"),
         ("print", {"width": 688, "height": 1000}, "print")]

#: the checks, run in the page; returns a list of problems (empty when the layout is right)
LAYOUT_JS = r"""
(opts) => {
  const problems = [];
  const de = document.documentElement;
  const width = de.clientWidth;
  const say = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + ' "'
      + (el.getAttribute('aria-label') || el.innerText || el.alt || '').slice(0, 50)
          .replace(/\s+/g, ' ') + '"';
  const h1 = document.querySelectorAll('h1').length;
  if (h1 !== 1) problems.push(`${h1} h1 elements`);
  if (opts.needsIndexLink && !document.querySelector('a[href$="index.html"]'))
    problems.push('no link to the index');
  if (de.scrollWidth > width + 1 || document.body.scrollWidth > width + 1)
    problems.push(`the page scrolls sideways: ${de.scrollWidth} px wide in ${width} px`);
  for (const el of document.querySelectorAll('table, img')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;           // not shown (e.g. display: none)
    let box = null;
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      const ox = getComputedStyle(a).overflowX;
      if (ox === 'auto' || ox === 'scroll') { box = box || a; continue; }
      const ar = a.getBoundingClientRect();
      if ((ox === 'hidden' || ox === 'clip') && (r.right > ar.right + 1 || r.left < ar.left - 1))
        problems.push(`cut off by its container: ${say(el)}`);
    }
    const outer = box && !opts.print ? box.getBoundingClientRect() : r;
    if (outer.right > width + 1 || outer.left < -1)
      problems.push(`cut off at the edge of the page: ${say(el)} (${Math.round(outer.left)} to `
                    + `${Math.round(outer.right)} px of ${width})`);
    if (opts.print && box && box.scrollWidth > box.clientWidth + 1)
      problems.push(`scrolls in print: ${say(el)}`);
    if (el.tagName === 'IMG') {
      if (!el.complete || el.naturalWidth === 0) problems.push(`image not shown: ${say(el)}`);
      const svg = el.src.startsWith('data:image/svg+xml');
      const drawn = svg && atob(el.src.split(',')[1].slice(0, 1400))
          .match(/<svg\b[^>]*?\swidth="([\d.]+)pt"/);
      if (drawn && !opts.print && r.width < 0.64 * parseFloat(drawn[1]) * 96 / 72)
        problems.push(`figure shown at ${Math.round(r.width)} px, under 0.65 of its drawn `
                      + `${Math.round(parseFloat(drawn[1]) * 96 / 72)} px: ${say(el)}`);
      if (!svg && el.naturalWidth < 2 * r.width - 1)
        problems.push(`low-resolution figure (${el.naturalWidth} px shown at `
                      + `${Math.round(r.width)} px): ${say(el)}`);
    }
  }
  const left = (el) => ['left', 'start'].includes(getComputedStyle(el).textAlign);
  for (const el of document.querySelectorAll(
      'p, li, blockquote, figcaption, dd, dt, caption, summary, h1, h2, h3, h4, h5, h6')) {
    if (el.innerText.trim() && !left(el))
      problems.push(`${getComputedStyle(el).textAlign}-aligned text: ${say(el)}`);
  }
  for (const el of document.querySelectorAll('td, tbody th')) {   // a column header may sit
    const words = (el.innerText.match(/[A-Za-z]{3,}/g) || []).length;  // over its numbers
    if (words >= 3 && !left(el))
      problems.push(`${getComputedStyle(el).textAlign}-aligned text cell: ${say(el)}`);
  }
  if (opts.print) {
    for (const d of document.querySelectorAll('details:not([open])')) {
      // a fold inside something the print stylesheet leaves out on purpose (the contents
      // list, the menus) is not content lost on paper
      if (!d.checkVisibility()) continue;
      for (const child of d.children) {
        if (child.tagName !== 'SUMMARY' && !child.checkVisibility())   // closed: not rendered
          problems.push(`folded content not printed: ${say(d)}`);
      }
    }
  }
  return problems;
}
"""


def _layout_problems(browser, paths: list[Path], *, index_link: bool) -> list:
    """Every page in every view, one browser context per view: [(page, view, problem)]."""
    found = []
    for view, viewport, media in VIEWS:
        context = browser.new_context(viewport=viewport, offline=True)
        try:
            page = context.new_page()
            page.emulate_media(media=media)
            for path in paths:
                page.goto(path.as_uri(), wait_until="load")
                problems = page.evaluate(LAYOUT_JS, {"print": media == "print",
                                                     "needsIndexLink": index_link})
                found += [(path.name, view, problem) for problem in problems]
        finally:
            context.close()
    return found


def test_every_report_lays_out_on_desktop_phone_and_print(browser, reports):
    out = reports["out"]
    paths = [p for p in _pages(out) if p.name != "index.html"]
    assert len(paths) >= 4 + 2
    assert _layout_problems(browser, paths, index_link=True) == []
    # the links between reports lead to the index and to reports that exist
    from bs4 import BeautifulSoup
    for path in paths:
        nav = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser").find(
            "nav", attrs={"aria-label": "Other reports"})
        hrefs = [a["href"] for a in nav.find_all("a")]
        assert hrefs[0] == "../index.html", path.name
        assert all((path.parent / h).resolve().is_file() for h in hrefs), (path.name, hrefs)
        if path.parent.name == "study":
            assert len(hrefs) >= 2, (path.name, hrefs)     # a neighbouring report


def test_the_index_lays_out_on_desktop_phone_and_print(browser, reports):
    assert _layout_problems(browser, [reports["out"] / "index.html"], index_link=False) == []


def test_the_layout_checks_find_each_problem(browser, tmp_path):
    """The checks above fail on a page with each problem (so a pass means something)."""
    wide = "<table><tr>" + "<td>123456</td>" * 60 + "</tr></table>"
    cases = {
        "two_h1": ("<h1>A</h1><h1>B</h1>", "2 h1 elements"),
        "no_index": ("<h1>A</h1>", "no link to the index"),
        "sideways": ('<h1>A</h1><a href="../index.html">i</a>' + wide, "scrolls sideways"),
        "right": ('<h1>A</h1><a href="index.html">i</a><p style="text-align:right">Words '
                  "here</p>", "right-aligned text"),
        "cell": ('<h1>A</h1><a href="index.html">i</a><table><tr><td style="text-align:'
                 'center">a quote with words</td></tr></table>', "center-aligned text cell"),
        "clipped": ('<h1>A</h1><a href="index.html">i</a><div style="overflow:hidden;'
                    f'width:200px">{wide}</div>', "cut off by its container"),
        "tiny_figure": ('<h1>A</h1><a href="index.html">i</a><img alt="a wide chart" src="'
                        'data:image/svg+xml;base64,' + base64.b64encode(
                            b'<svg xmlns="http://www.w3.org/2000/svg" width="720pt" '
                            b'height="72pt"><rect width="10" height="10"/></svg>').decode()
                        + '" style="max-width:100%">', "under 0.65 of its drawn"),
        # a closed <details> prints closed unless the stylesheet opens it (report.css does)
        "folded": ('<h1>A</h1><a href="index.html">i</a><details><summary>s</summary>'
                   '<p>folded words</p></details>', "folded content not printed"),
    }
    paths = []
    for name, (body, _) in cases.items():
        path = tmp_path / f"{name}.html"
        path.write_text(f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
                        f'<meta name="viewport" content="width=device-width"><title>t</title>'
                        f"</head><body>{body}</body></html>", encoding="utf-8")
        paths.append(path)
    found = _layout_problems(browser, paths, index_link=True)
    for name, (_, problem) in cases.items():
        assert any(page == f"{name}.html" and problem in text for page, _, text in found), name
    assert not any(page == "right.html" and "h1" in text for page, _, text in found)
    # only print loses folded content: on screen the reader can open it
    assert {view for page, view, text in found if page == "folded.html"} == {"print"}


# =============================================================================================
# The index's site table: sorted and filtered by CSS alone (issue 22: 7, issue 24: 4)
# =============================================================================================

@pytest.fixture(scope="module")
def national_index(tmp_path_factory):
    """An index of 60 synthetic sites (some failed, some withheld; tests/test_index_sorting)."""
    from test_index_sorting import synthetic_results, write

    path = tmp_path_factory.mktemp("national-index")
    page = write(path, synthetic_results(60))
    return {"path": path / "index.html", "page": page}


def _shown_sites(page) -> tuple[list[str], list[str]]:
    """The ids of the orderings on show and the site names of their rows on show."""
    shown = page.locator("div.ordering:visible")
    ids = [shown.nth(i).get_attribute("id") for i in range(shown.count())]
    return ids, page.locator("div.ordering:visible tbody tr:visible > th").all_inner_texts()


def test_the_index_sorts_and_filters_with_javascript_off(browser, national_index):
    """With JavaScript disabled: one ordering shows at a time (the default, by name, first);
    clicking a "Sort by" label shows that ordering's rows in its order, the arrow keys move
    between orderings with a visible focus ring, clearing a filter hides its rows, an A to Z
    link leads to its site, and print shows only the default ordering with every row."""
    from test_index_sorting import orderings

    expected = {key: [r[0] for r in rows] for key, rows in orderings(
        national_index["page"]).items()}
    failed = [r[0] for r in orderings(national_index["page"])["by-name"] if r[1] == "FAILED"]
    assert failed and expected["by-referred"] != expected["by-name"]
    context = browser.new_context(offline=True, java_script_enabled=False,
                                  viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.goto(national_index["path"].as_uri(), wait_until="load")
        assert page.locator("script").count() == 0
        assert _shown_sites(page) == (["by-name"], expected["by-name"])
        page.click('label[for="sort-referred"]')
        assert _shown_sites(page) == (["by-referred"], expected["by-referred"])
        page.click('label[for="sort-change"]')
        assert _shown_sites(page) == (["by-change"], expected["by-change"])
        # keyboard: the arrow keys move within the radio group, and the focus shows
        page.focus("#sort-referred")
        page.keyboard.press("ArrowDown")
        assert page.locator("#sort-pairs").is_checked()
        assert _shown_sites(page) == (["by-pairs"], expected["by-pairs"])
        ring = page.locator("#sort-pairs").evaluate(
            "e => [getComputedStyle(e).outlineStyle, getComputedStyle(e).outlineWidth]")
        assert ring[0] != "none" and float(ring[1].rstrip("px")) >= 2, ring
        # filters (folded under a summary): clearing "Failed" hides exactly the failed rows
        page.click(".site-controls summary")
        page.click('label[for="show-st-failed"]')
        assert not page.locator("#show-st-failed").is_checked()
        assert _shown_sites(page)[1] == [s for s in expected["by-pairs"] if s not in failed]
        # in print: the default ordering only, every row, no controls
        page.emulate_media(media="print")
        assert _shown_sites(page) == (["by-name"], expected["by-name"])
        assert not page.locator(".site-controls").is_visible()
        page.emulate_media(media="screen")
        page.click('label[for="show-st-failed"]')
        assert _shown_sites(page)[1] == expected["by-pairs"]
        # the A to Z list: a letter leads to the first site of that letter, in name order
        page.click('label[for="sort-name"]')
        link = page.locator("nav.jump a", has_text="K")
        link.click()
        assert page.url.endswith("#sites-K")
        target = page.locator("#sites-K")
        assert target.is_visible() and target.locator("th").inner_text().startswith("K")
        assert target.locator("th").inner_text() == next(
            s for s in expected["by-name"] if s.startswith("K"))
    finally:
        context.close()


def test_the_national_index_is_accessible_and_lays_out_on_every_screen(browser, national_index):
    from axe_playwright_python.sync_playwright import Axe

    assert _layout_problems(browser, [national_index["path"]], index_link=False) == []
    context, page, requests, errors = _open(browser, national_index["path"])
    try:
        assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
        assert errors == []
        for key in ("name", "change"):        # the default ordering and another one
            page.click(f'label[for="sort-{key}"]')
            violations = Axe().run(page).response["violations"]
            serious = [(v["id"], v["impact"], len(v["nodes"])) for v in violations
                       if v.get("impact") in ("serious", "critical")]
            assert serious == [], (key, serious)
    finally:
        context.close()
