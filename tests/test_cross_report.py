"""No hidden count can be worked out by setting one report against another (issue 19, item 11).

Report 01 shows the participant flow by site and report 03 the people who voiced each theme
by site, each protected as one table (small counts "<k", complementary cells "[c]"). Each site
report shows that site's row (flow) or column (themes) again, and the index shows the sites'
referred counts. Before this was fixed, a site report protected its own numbers on their own:
a count report 03 hid as "[c]" (to protect a smaller site's count in the same row) was
printed in the larger site's own report, and subtracting the visible counts from the row's
total recovered the small one.

Here the demo's reports, with a minimum cell size of 3 (at 5 the demo's theme table by site
needs no complementary cell: every row has several small counts), are rendered once and
every count table is read back from the HTML.
The rule checked: a cell hidden in the whole-study table by site is hidden in every report
that shows it (a site table may hide more, for its own column total; hiding more never lets
a count be worked out). The whole-study tables' own protection is audited in test_disclosure.py.
"""
from __future__ import annotations

import json
import re
import shutil

import pytest
from bs4 import BeautifulSoup
from conftest import DEMO

from spanalysis import load_study
from spanalysis import report as rp
from spanalysis.privacy import disclosure

FLOW_BY_SITE = "Participants at each stage, by site"
THEMES_BY_SITE = "People who voiced each theme, by site"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    root = tmp_path_factory.mktemp("cross")
    study = root / "demo"
    shutil.copytree(DEMO, study)
    manifest = study / "study.yaml"
    text = manifest.read_text(encoding="utf-8")
    assert "min_cell_size: 5" in text
    manifest.write_text(text.replace("min_cell_size: 5", "min_cell_size: 3"), encoding="utf-8")
    out = root / "out"
    result = rp.build_reports(study, out, sites="all", jobs=2, progress=False)
    assert [r.status for r in result.results].count("ok") == len(result.results) == 12
    return {"out": out, "study": load_study(study)}


def count_tables(path) -> dict[str, dict[tuple[str, str], tuple[str, str]]]:
    """Every count table of a report by caption: (row, column) -> (shown text, why hidden)."""
    soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
    tables = {}
    for table in soup.find_all("table", class_="sp-counts"):
        heads = [th.get_text() for th in table.find("thead").find_all("th")][1:]
        cells = {}
        for tr in table.find("tbody").find_all("tr"):
            row = tr.find("th").get_text()
            for head, td in zip(heads, tr.find_all("td"), strict=True):
                cells[(row, head)] = (td.get_text(), td.get("data-suppressed") or "")
        tables[table.find("caption").get_text()] = cells
    return tables


def test_site_reports_hide_what_the_whole_study_tables_hide(rendered):
    out, study = rendered["out"], rendered["study"]
    flow = count_tables(out / "study" / "01_data_quality.html")[FLOW_BY_SITE]
    themes = count_tables(out / "study" / "03_qualitative_benefits.html")[THEMES_BY_SITE]
    assert {site for site, _ in flow} == set(study.sites)
    # the premise: the demo's theme table hides cells of k or more to protect small ones
    # (without them this test could not fail)
    complementary = [cell for cell, (text, why) in themes.items() if why == "complementary"]
    assert len(complementary) >= 3, complementary
    assert study.min_cell_size == 3
    checked = 0
    for site in study.sites:
        page = count_tables(out / "sites" / f"{rp.site_slug(site)}.html")
        own_flow = page[f"Participant flow at {site}"]
        stage_of = dict(zip([s for s, _ in own_flow], [h for (st, h) in flow if st == site]))
        assert len(stage_of) == 5
        for (stage, _), (text, why) in own_flow.items():
            whole_text, whole_why = flow[(site, stage_of[stage])]
            if whole_why:
                assert why, (site, stage, text)
            else:  # shown alike, or hidden by the site table's own protection
                assert text == whole_text or why, (site, stage)
            checked += 1
        if f"Themes voiced at {site}" in page:
            own_themes = page[f"Themes voiced at {site}"]
            assert len(own_themes) == len({t for t, _ in themes})
            for (theme, _), (text, why) in own_themes.items():
                whole_text, whole_why = themes[(theme, site)]
                if whole_why:
                    assert why and not re.fullmatch(r"\d+", text), (site, theme, text)
                else:  # shown alike, or hidden by the site table's own protection
                    assert text == whole_text or why, (site, theme)
                checked += 1
        else:
            # a mostly suppressed table is replaced by a sentence (issue 22: 3): every count
            # it still gives must be one the whole-study table shows for the site
            words = " ".join(BeautifulSoup((out / "sites" / f"{rp.site_slug(site)}.html")
                                           .read_text(encoding="utf-8"), "html.parser")
                             .get_text(" ").split())
            said = re.search(r"Most counts of the table of themes voiced at (.+?) would be "
                             r"hidden, so it is not shown\. (?:The counts that can be shown: "
                             r"(.+?)\. )?The others", words)
            assert said and said.group(1) == site, site
            for item in (said.group(2) or "").split("; ") if said.group(2) else []:
                theme, n = re.fullmatch(r"(.+) \((\d+)\)", item).groups()
                assert themes[(theme, site)] == (n, ""), (site, theme, n)
            checked += len({t for t, _ in themes})
    assert checked == 8 * 5 + 8 * 12


def test_summaries_and_index_publish_no_count_the_whole_study_tables_hide(rendered):
    out, study = rendered["out"], rendered["study"]
    themes = count_tables(out / "study" / "03_qualitative_benefits.html")[THEMES_BY_SITE]
    flow = count_tables(out / "study" / "01_data_quality.html")[FLOW_BY_SITE]
    index = json.loads((out / "index.json").read_text(encoding="utf-8"))
    assert index  # read to be sure it is valid JSON
    for site in study.sites:
        summary = json.loads((out / "sites" / f"{rp.site_slug(site)}.summary.json")
                             .read_text(encoding="utf-8"))
        for theme in summary["themes"]:
            assert not themes[(theme["theme"], site)][1], (site, theme)
            assert int(themes[(theme["theme"], site)][0]) == theme["n_voiced"]
        text, why = flow[(site, "Referred")]
        assert summary["referred"] == (text if why else int(text))
    page = BeautifulSoup((out / "index.html").read_text(encoding="utf-8"), "html.parser")
    rows = [tr for tr in page.find(id="by-name").find_all("tr")   # the table of site
            if tr.find("a", href=re.compile(r"^sites/"))]       # reports, default ordering
    assert len(rows) == len(study.sites)
    for tr in rows:
        site = tr.find("th").get_text(strip=True)
        referred = tr.find_all("td")[1].get_text(strip=True)  # after the status
        text, why = flow[(site, "Referred")]
        if why:
            assert referred in (disclosure.COMPLEMENTARY_MARKER, disclosure.primary_marker(3))


def test_site_flow_and_theme_counts_follow_the_table_by_site():
    # hand-made check on the demo's Riverside column: the whole-study table hides exactly
    # the cells protect_counts hides in the table by site, and site_theme_counts says so
    study = load_study(DEMO)
    table = rp.themes_by_site(study)
    result = disclosure.protect_counts(table, study.min_cell_size, totals="none")
    mine = rp.site_theme_counts(study, "Riverside PCN").set_index("theme")
    assert len(mine) == len(table) == 12
    for theme, row in mine.iterrows():
        assert row["n_voiced"] == table.at[theme, "Riverside PCN"]
        assert row["hidden"] == (result.pattern.at[theme, "Riverside PCN"] != "")
        assert row["published"] == (result.shown.at[theme, "Riverside PCN"] if row["hidden"]
                                    else row["n_voiced"])
    flow = rp.site_flow(study, "Riverside PCN")
    assert flow["n"].tolist() == [90, 90, 56, 56, 10]  # the demo's Riverside (report 01)


# --------------------------------------------------------------------------- rounding

ROUNDED_SITES = ["Riverside PCN", "Brackenridge PCN"]


@pytest.fixture(scope="module")
def rounded(tmp_path_factory):
    """The demo with ``privacy: rounding: 5`` (NHS Digital's practice), its four whole-study
    reports and two site reports."""
    root = tmp_path_factory.mktemp("rounded")
    study = root / "demo"
    shutil.copytree(DEMO, study)
    manifest = study / "study.yaml"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(text.replace("min_cell_size: 5", "min_cell_size: 5\n  rounding: 5"),
                        encoding="utf-8")
    assert load_study(study).rounding == 5
    out = root / "out"
    result = rp.build_reports(study, out, sites=",".join(ROUNDED_SITES), jobs=2, progress=False)
    assert [r.status for r in result.results] == ["ok"] * 6
    return out


def _ints(value, key=None):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _ints(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from _ints(v, key)
    elif isinstance(value, int) and not isinstance(value, bool):
        yield key, value


def test_every_published_count_is_rounded_to_five(rounded):
    pages = sorted(rounded.rglob("*.html"))
    assert len(pages) == 7  # four study reports, two site reports, the index
    seen = 0
    for page in pages:
        soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
        for td in soup.select("table.sp-counts td[data-count]"):
            value = td["data-count"]
            if value:  # "" where hidden
                assert int(value.replace(",", "")) % 5 == 0, (page.name, value)
                seen += 1
        # the n columns of statistics tables (group sizes) are rounded as well
        for table in soup.select("table.sp-stats"):
            heads = [th.get_text() for th in table.select("thead th")]
            for at, head in enumerate(heads):
                if (head == "n" or head.startswith("n ")) \
                        and head not in ("n sites", "n coders", "n items"):  # not people
                    for tr in table.select("tbody tr"):
                        text = tr.find_all(["th", "td"])[at].get_text()
                        if re.fullmatch(r"[\d,]+", text):
                            assert int(text.replace(",", "")) % 5 == 0, (page.name, head, text)
                            seen += 1
    assert seen > 100
    summaries = sorted(rounded.rglob("*.summary.json"))
    assert len(summaries) == 6
    for path in summaries:
        for key, value in _ints(json.loads(path.read_text(encoding="utf-8"))):
            if key not in ("k", "rounding", "min_cell_size"):
                assert value % 5 == 0, (path.name, key, value)
