"""Report 03 stays readable with many interviews and sites (issue 24, item 3).

The helpers that keep the page short (:mod:`spanalysis.report.display`: long tables folded,
tables by site summarised when there are too many sites for a column each; the heat map's
cap on codes in :mod:`spanalysis.qual.themes`; the quotes' sentence in
:mod:`spanalysis.qual.quotes`) are checked against hand-worked tables and against the
functions the report used before (show_counts / show_percent_of_group), and report 03 is
rendered on a generated study with 300 interviews over 20 sites to check the page's limits.
"""
from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from bs4 import BeautifulSoup

from spanalysis.privacy import disclosure
from spanalysis.qual import quotes, themes
from spanalysis.report import display
from spanalysis.report.display import (LONG_TABLE_ROWS, MAX_SITE_COLUMNS, counts_by_site_html,
                                       fold_long_table, percent_of_group_cells,
                                       show_counts, show_counts_by_site,
                                       show_percent_of_group, show_table, site_spread)


def _body_rows(table) -> list[list[str]]:
    return [[c.get_text(" ", strip=True) for c in tr.find_all(["th", "td"])]
            for tr in table.find("tbody").find_all("tr")]


def _cells(markup: str) -> dict:
    """{(row label, column heading): cell text} of the first table of ``markup``."""
    table = BeautifulSoup(markup, "html.parser").find("table")
    heads = [th.get_text(strip=True) for th in table.find("thead").find_all("th")][1:]
    out = {}
    for row in _body_rows(table):
        for head, text in zip(heads, row[1:], strict=True):
            out[(row[0], head)] = text
    return out


# ------------------------------------------------------------------------------------------
# Long tables folded
# ------------------------------------------------------------------------------------------
def test_fold_long_table_keeps_every_row_once_and_the_first_on_the_page():
    frame = pd.DataFrame({"theme": [f"theme {i:02d}" for i in range(45)],
                          "value": np.arange(45) / 10})
    markup = show_table(frame, caption="Forty-five themes", show=False)
    folded = fold_long_table(markup, visible=20, what="themes")
    soup = BeautifulSoup(folded, "html.parser")
    first, second = soup.find_all("table")
    assert first.find_parent("details") is None and second.find_parent("details") is not None
    assert [r[0] for r in _body_rows(first)] == [f"theme {i:02d}" for i in range(20)]
    assert [r[0] for r in _body_rows(second)] == [f"theme {i:02d}" for i in range(20, 45)]
    # the same header on both parts, captions saying which rows each holds
    assert first.find("thead") == second.find("thead")
    assert first.find("caption").get_text() == "Forty-five themes"
    assert second.find("caption").get_text() == "Forty-five themes (continued: rows 21 to 45)"
    assert soup.find("summary").get_text() == "The other 25 themes (rows 21 to 45)"
    assert "The first 20 of 45 themes are shown" in soup.get_text()


def test_fold_long_table_leaves_short_tables_and_sentences_alone():
    markup = show_table(pd.DataFrame({"theme": ["a", "b"], "x": [1.0, 2.0]}), caption="C",
                        show=False)
    assert fold_long_table(markup, visible=2) == markup
    sentence = "<p>Nothing to show.</p>"
    assert fold_long_table(sentence, visible=1) == sentence


def test_folding_a_count_table_keeps_the_protection_of_the_whole_table():
    """The table is protected whole, then split: each cell shows exactly what it shows in
    the unsplit table (splitting first would protect each part on its own), and the notes
    come with both parts."""
    counts = pd.DataFrame({"people": [3, 40, 25] + [10 + i for i in range(30)]},
                          index=[f"t{i:02d}" for i in range(33)])
    whole = show_counts(counts, 5, totals="none", caption="People", show=False)
    folded = fold_long_table(whole, visible=20, what="themes")
    tables = BeautifulSoup(folded, "html.parser").find_all("table")
    parts = {}
    for t in tables:
        parts.update(_cells(str(t)))
    assert parts == _cells(whole)
    assert parts[("t00", "people")] == "<5" and parts[("t03", "people")] == "[c]"
    assert all(t.find("tfoot") is not None for t in tables)
    assert disclosure.scan_html_for_small_counts(folded, 5) == []


# ------------------------------------------------------------------------------------------
# Tables by site
# ------------------------------------------------------------------------------------------
#: 2 themes x 4 sites; people interviewed per site A 20, B 12, C 40, D 30
COUNTS = pd.DataFrame({"A": [10, 0], "B": [6, 3], "C": [20, 8], "D": [12, 9]},
                      index=pd.Index(["hope", "calm"], name="theme"))
SIZES = pd.Series({"A": 20, "B": 12, "C": 40, "D": 30})


def _protect(counts, k=5, rounding=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", disclosure.DisclosureWarning)
        return disclosure.protect_counts(counts, k, totals="none", rounding=rounding)


def test_percent_of_group_cells_are_what_show_percent_of_group_shows():
    rng = np.random.default_rng(24)
    counts = pd.DataFrame(rng.integers(0, 15, size=(6, 9)), index=[f"t{i}" for i in range(6)],
                          columns=[f"S{j}" for j in range(9)])
    sizes = pd.Series(rng.integers(3, 40, size=9), index=counts.columns).clip(
        lower=counts.max())
    for rounding in (None, 5):
        shown = _protect(counts, rounding=rounding).shown
        ours = percent_of_group_cells(counts, sizes, 5, shown, rounding=rounding)
        theirs = _cells(show_percent_of_group(counts, sizes, 5, caption="P", show=False,
                                              rounding=rounding))
        assert {(r, c): ours.at[r, c] for r in counts.index for c in counts.columns} == theirs


def test_site_spread_worked_by_hand():
    """The protected table (protect_counts, k 5, no totals shown) is
           A    B    C   D
    hope  10  [c]  [c]  12
    calm   0   <5  [c]   9
    hope: shown at A (10 of 20: 50%) and D (12 of 30: 40%); hidden at B and C.
    calm: shown at D (9 of 30: 30%); hidden at B and C; none at A."""
    protected = _protect(COUNTS)
    assert protected.shown.loc["hope"].tolist() == ["10", "[c]", "[c]", "12"]
    assert protected.shown.loc["calm"].tolist() == ["0", "<5", "[c]", "9"]
    spread = site_spread(COUNTS, SIZES, 5)
    assert spread.loc["hope"].tolist() == [2, 2, 0, 40.0, 45.0, 50.0]
    assert spread.loc["calm", ["sites_shown", "sites_hidden", "sites_none"]].tolist() == [1, 2, 1]
    assert spread.loc["calm", ["lowest", "median", "highest"]].tolist() == [30.0, 30.0, 30.0]


def test_counts_by_site_turned_round_shows_the_wide_tables_cells():
    """Each cell of the table by site turned round is the count show_counts shows for it,
    with the percentage show_percent_of_group shows where that is shown."""
    rng = np.random.default_rng(3)
    counts = pd.DataFrame(rng.integers(0, 12, size=(5, 16)), index=[f"t{i}" for i in range(5)],
                          columns=[f"Site {j:02d}" for j in range(16)])
    sizes = pd.Series(20, index=counts.columns)
    wide = _cells(show_counts(counts, 5, totals="none", caption="People", show=False))
    pct = _cells(show_percent_of_group(counts, sizes, 5, caption="P", show=False))
    turned = _cells(counts_by_site_html(counts, sizes, 5, caption="People by site"))
    assert len(turned) == counts.size
    for (site, theme), text in turned.items():
        n, p = wide[(theme, site)], pct[(theme, site)]
        assert text == (n if p == "[c]" else f"{n} ({p}%)")
    assert disclosure.scan_html_for_small_counts(
        counts_by_site_html(counts, sizes, 5, caption="People by site"), 5) == []


def test_show_counts_by_site_up_to_the_limit_is_the_two_wide_tables():
    markup = show_counts_by_site(COUNTS, SIZES, 5, caption="People who voiced each theme, by site",
                                 percent_caption="Percentage", show=False)
    expected = "\n".join([
        show_counts(COUNTS, 5, totals="none", caption="People who voiced each theme, by site",
                    show=False),
        show_percent_of_group(COUNTS, SIZES, 5, caption="Percentage", show=False)])
    assert markup == expected


def test_show_counts_by_site_beyond_the_limit_summarises_and_folds():
    rng = np.random.default_rng(7)
    n_sites = MAX_SITE_COLUMNS + 8
    counts = pd.DataFrame(rng.integers(0, 14, size=(6, n_sites)),
                          index=pd.Index([f"theme {i}" for i in range(6)], name="theme"),
                          columns=[f"site {j:02d}" for j in range(n_sites)])
    sizes = pd.Series(25, index=counts.columns)
    markup = show_counts_by_site(counts, sizes, 5, caption="People who voiced each theme, by site",
                                 percent_caption="Percentage", show=False)
    soup = BeautifulSoup(markup, "html.parser")
    summary, full = soup.find_all("table")
    assert summary.find_parent("details") is None and full.find_parent("details") is not None
    # the summary: one row per theme, a few columns
    assert [r[0] for r in _body_rows(summary)] == list(counts.index)
    assert len(summary.find("thead").find_all("th")) == 7
    spread = site_spread(counts, sizes, 5)
    for row in _body_rows(summary):
        assert int(row[1]) == spread.at[row[0], "sites_shown"]
        assert int(row[2]) == spread.at[row[0], "sites_hidden"]
    # the full table: every site a row, hidden as the wide table hides
    assert [r[0] for r in _body_rows(full)] == list(counts.columns)
    wide = _cells(show_counts(counts, 5, totals="none", caption="x", show=False))
    turned = _cells(str(full))
    assert all(turned[(s, t)].split(" ")[0] == wide[(t, s)] for (t, s) in wide)
    assert f"Interviews came from {n_sites} sites" in soup.get_text()
    assert disclosure.scan_html_for_small_counts(markup, 5) == []


# ------------------------------------------------------------------------------------------
# The heat map and the quotes
# ------------------------------------------------------------------------------------------
def _many_codes(n_codes=40, n_sources=300, seed=1):
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_sources):
        # code c is applied with probability falling with c: low ids are the most coded
        for c in range(n_codes):
            if rng.random() < 0.6 * (1 - c / n_codes) + 0.02:
                rows.append((f"S{s:03d}", "x", f"c{c:02d}"))
    return pd.DataFrame(rows, columns=["source_id", "coder", "code_id"])


def test_most_coded_counts_sources_by_hand():
    seg = pd.DataFrame({"source_id": ["S1", "S1", "S2", "S2", "S3", "S3", "S4"],
                        "coder": ["x"] * 7,
                        "code_id": ["hope", "calm", "hope", "calm", "hope", "tea", "tea"]})
    # sources carrying each code: hope 3, calm 2, tea 2 (tie: calm before tea by id)
    assert themes.most_coded(themes.code_cooccurrence(seg), 2) == ["hope", "calm"]
    assert themes.most_coded(themes.code_cooccurrence(seg), 5) == ["hope", "calm", "tea"]


def test_heatmap_draws_at_most_max_codes():
    co = themes.code_cooccurrence(_many_codes())
    fig = themes.cooccurrence_heatmap(co, max_codes=themes.HEATMAP_MAX_CODES, annot=False)
    ax = fig.axes[0]
    drawn = [t.get_text() for t in ax.get_yticklabels()]
    assert len(drawn) == themes.HEATMAP_MAX_CODES
    assert set(drawn) == set(themes.most_coded(co, themes.HEATMAP_MAX_CODES))
    assert "of 25 codes (the 25 most often coded of 40)" in fig.alt_text
    full = themes.cooccurrence_heatmap(co, annot=False)      # default: every code
    assert len(full.axes[0].get_yticklabels()) == 40


def test_selection_sentence_says_the_number():
    assert quotes.selection_sentence(2).startswith("Up to two passages per theme")
    assert quotes.selection_sentence(1).startswith("Up to one passage per theme")
    assert "not drawn at random" in quotes.selection_sentence(3)
    with pytest.raises(Exception, match="at least 1"):
        quotes.selection_sentence(0)


# ------------------------------------------------------------------------------------------
# Report 03 rendered on a study with many interviews
# ------------------------------------------------------------------------------------------
#: the page limits of report 03 (issue 24, item 3): the HTML of a 300-interview, 20-site
#: study stays under this size (the 60-interview demo's page is about 290 KB, most of it
#: its two figures); the 1,000-interview, 200-site figures are in bench/README.md
MAX_HTML_BYTES = 450_000
QUOTES_PER_THEME = 2


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    from spanalysis.demo import generate
    from spanalysis.report.execution import run_job
    from spanalysis.report.jobs import RunSettings, plan_jobs
    from spanalysis.study import load_study

    root = tmp_path_factory.mktemp("report03_scale")
    study_dir = generate(root / "study", participants=3000, sites=20, interviews=300)
    study = load_study(study_dir)
    job = [j for j in plan_jobs(study, root / "out", sites="none",
                                parameters={"quotes_per_theme": QUOTES_PER_THEME})
           if j.name.startswith("03")][0]
    result = run_job(job, RunSettings())
    assert result.error is None, result.error
    return study, job.html.read_text(encoding="utf-8")


def test_report03_at_300_interviews_keeps_its_page_limits(rendered):
    study, page = rendered
    soup = BeautifulSoup(page, "html.parser")
    assert len(page.encode("utf-8")) < MAX_HTML_BYTES
    for table in soup.find_all("table"):
        if table.find_parent("details") is not None:
            continue
        body = table.find("tbody")
        rows = body.find_all("tr") if body else table.find_all("tr")
        assert len(rows) <= LONG_TABLE_ROWS, table.find("caption")
        widest = max(len(tr.find_all(["th", "td"])) for tr in table.find_all("tr"))
        assert widest <= MAX_SITE_COLUMNS + 1, table.find("caption")
    # quotes: at most quotes_per_theme under each theme's heading
    section = soup.find(lambda t: t.name == "h2" and "In participants" in t.get_text())
    assert section is not None
    per_theme, current = {}, None
    for el in section.find_all_next(["h2", "h3", "figure"]):
        if el.name == "h2":
            break
        if el.name == "h3":
            current = el.get_text(strip=True)
            per_theme[current] = 0
        elif "sp-quote" in (el.get("class") or []):
            per_theme[current] += 1
    assert per_theme and max(per_theme.values()) <= QUOTES_PER_THEME
    assert "Up to two passages per theme" in soup.get_text()
    # disclosure control holds on the whole page
    assert disclosure.scan_html_for_small_counts(page, study.min_cell_size) == []


def test_report03_table_by_site_folded_and_hidden_as_the_site_reports_hide_it(rendered):
    """With 20 sites the table by site is a summary and a folded table of 20 rows; its
    hidden cells are those of the whole-study table the site reports protect their column
    of (report.site_theme_counts)."""
    from spanalysis import report

    study, page = rendered
    soup = BeautifulSoup(page, "html.parser")
    caption = re.compile(r"^People who voiced each theme, by site, one row per site")
    full = [t for t in soup.find_all("table")
            if t.find("caption") and caption.match(t.find("caption").get_text(strip=True))]
    assert len(full) == 1 and full[0].find_parent("details") is not None
    rows = _body_rows(full[0])
    heads = [th.get_text(strip=True) for th in full[0].find("thead").find_all("th")][1:]
    table = report.themes_by_site(study)
    assert len(rows) == table.shape[1] == 20
    for site in table.columns[:5]:
        shown = report.site_theme_counts(study, site).set_index("theme")["shown"]
        row = dict(zip(heads, [r for r in rows if r[0] == site][0][1:], strict=True))
        assert {t: row[t].split(" ")[0] for t in shown.index} == shown.to_dict()
