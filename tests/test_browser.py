"""Rendered reports in a real browser: headless Chromium through Playwright.

Each page (the index, every whole-study report, two site reports) must load with networking
disabled and ask for nothing outside the file (every request is recorded: only ``file:`` and
``data:`` URLs are allowed), log no console error, not be blank (the screenshot has more than
one colour) and have no serious or critical axe-core violation (axe-core 4 bundled with
axe-playwright-python, injected from the local package: nothing is fetched). A quote
containing a script tag must show as text and never run.

The browser is Debian's ``chromium`` (``.ci/run`` installs it); Playwright never downloads
one. Locally a missing browser skips these tests with the reason; in CI (``CI=true``) it is a
failure.
"""
from __future__ import annotations

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
