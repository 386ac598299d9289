"""The index's site table sorted and filtered without a script (issue 22: 7, issue 24: 4).

The index is built from synthetic report results (a summary per site as the site notebook
writes it), so that each test controls every figure; no notebook is run. Each ordering is
read back from the HTML with BeautifulSoup (html.parser) and checked against an order worked
out here from the displayed text, not from the code's sort keys.
"""
from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from spanalysis import report as rp
from spanalysis.privacy import disclosure
from spanalysis.report import render
from spanalysis.study import load_study

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"

#: first words of the synthetic site names: varied first letters, an accent, a digit and a
#: name in lower case, so that the A to Z list and the name order are exercised
FIRST = ["Ash", "Beck", "Cairn", "Dale", "Église", "Fern", "Glen", "Heath", "Ivy", "Juniper",
         "Kestrel", "Larch", "Moor", "Northgate", "Oak", "Pine", "Quarry", "Rowan", "Salt",
         "Thorn", "Upton", "Vale", "Willow", "Yew", "Zennor", "de Vere", "3 Rivers"]
SECOND = ["Bank", "Cross", "Field", "Green", "Hill", "Lane", "Mill", "Park"]


def site_result(name: str, *, referred, pairs, mean=None, status="ok", instrument="wemwbs",
                scale="total", themes=(("Being listened to", 7), ("Hope", 6))):
    """A site's ReportResult with the summary the site notebook writes (``primary`` as
    :func:`spanalysis.change.outcomes.headline` gives it; counts 1 to k-1 as "<k" are
    left to the index to suppress, as a summary read back from disk may hold them)."""
    if status == "failed":
        return rp.ReportResult(rp.site_slug(name), "site", name,
                               f"sites/{rp.site_slug(name)}.html", "failed", name,
                               error="ValueError: boom", cell=3, cell_source="x = 1 / 0")
    primary = {"instrument": instrument, "scale": scale, "n_pairs": pairs,
               "small_group": pairs < 5, "confidence": 0.95}
    if pairs >= 5 and mean is not None:
        primary.update(change_mean=mean, ci_low=mean - 1.5, ci_high=mean + 1.5)
    return rp.ReportResult(rp.site_slug(name), "site", name, f"sites/{rp.site_slug(name)}.html",
                           status, name, summary={
                               "referred": referred, "pairs": pairs, "primary": primary,
                               "themes": [{"label": t, "n_voiced": n} for t, n in themes]})


def synthetic_results(n_sites: int = 200, seed: int = 24) -> list:
    """Two whole-study reports and ``n_sites`` site reports: about one in 25 failed, some
    with fewer than 5 pairs (change withheld), the rest with a change from -4 to +10."""
    rng = random.Random(seed)
    names = [f"{a} {b} PCN" for b in SECOND for a in FIRST][:n_sites]
    assert len(names) == n_sites
    rng.shuffle(names)                         # the run's order is not the name order
    out = [rp.ReportResult("01_data_quality", "study", "Data quality", "study/01.html", "ok"),
           rp.ReportResult("02_outcome_change", "study", "Outcome change", "study/02.html",
                           "ok")]
    for i, name in enumerate(names):
        if i % 25 == 7:
            out.append(site_result(name, referred=None, pairs=None, status="failed"))
            continue
        pairs = rng.choice([2, 3]) if i % 17 == 3 else rng.randint(5, 250)
        out.append(site_result(name, referred=pairs + rng.randint(0, 200), pairs=pairs,
                               mean=round(rng.uniform(-4, 10), 2),
                               status="skipped" if i % 9 == 0 else "ok"))
    return out


def write(tmp_path: Path, results: list, study=None) -> str:
    study = study or load_study(DEMO)
    return rp.write_index(rp.BuildResult(tmp_path, results), study).read_text("utf-8")


def orderings(page: str) -> dict[str, list[list[str]]]:
    """Each ordering's rows as [site, status, referred, pairs, change, themes, problem]."""
    soup = BeautifulSoup(page, "html.parser")
    out = {}
    for div in soup.select("div.site-index div.ordering"):
        rows = div.find("table").find("tbody").find_all("tr")
        out[div["id"]] = [[tr.find("th").get_text(" ", strip=True)]
                          + [td.get_text(" ", strip=True) for td in tr.find_all("td")]
                          for tr in rows]
    return out


def number(text: str) -> float | None:
    """The leading signed number of a displayed change ("+4.0 (95% CI ...)", "−0.03 ...")."""
    m = re.match(r"([+\u2212-]?\d+(?:\.\d+)?)", text)
    return None if not m else float(m.group(1).replace("\u2212", "-"))


def by_shown_value_then_name(rows, column, parse):
    """Rows with a shown value first, largest first (ties by name, case ignored), then the
    others by name: the order the index promises, from the displayed text alone."""
    shown = [r for r in rows if parse(r[column]) is not None]
    rest = [r for r in rows if parse(r[column]) is None]
    return (sorted(shown, key=lambda r: (-parse(r[column]), ascii_fold(r[0])))
            + sorted(rest, key=lambda r: ascii_fold(r[0])))


def ascii_fold(name: str) -> str:
    """Hand-listed accent folding for the synthetic names (É -> E), then case folding."""
    return name.replace("É", "E").replace("é", "e").casefold()


@pytest.fixture(scope="module")
def national(tmp_path_factory):
    path = tmp_path_factory.mktemp("national")
    results = synthetic_results(200)
    return {"page": write(path, results), "results": results, "path": path}


def test_a_200_site_index_is_under_2_mb_and_self_contained(national):
    page = national["page"]
    size = len(page.encode("utf-8"))
    assert size < 2_000_000, size
    soup = BeautifulSoup(page, "html.parser")
    assert soup.find("script") is None
    assert not [a for tag in soup.find_all(True) for a in tag.attrs if a.lower().startswith("on")]
    assert render.external_references(page) == []
    assert disclosure.scan_html_for_small_counts(page, 5) == []


def test_every_ordering_holds_every_site_once_and_is_sorted(national):
    tables = orderings(national["page"])
    assert list(tables) == ["by-name", "by-referred", "by-pairs", "by-change"]
    sites = sorted(r.site for r in national["results"] if r.kind == "site")
    for name, rows in tables.items():
        assert len(rows) == 200 and sorted(r[0] for r in rows) == sites, name
        # a row reads the same in every ordering: only its place changes
        assert sorted(map(tuple, rows)) == sorted(map(tuple, tables["by-name"])), name
    names = [r[0] for r in tables["by-name"]]
    assert names == sorted(names, key=ascii_fold)
    # spot checks by hand: the accented name sorts with E, the digit first, lower case "de"
    # with D
    assert names[0].startswith("3 Rivers")
    assert names.index("Église Bank PCN") > names.index("Dale Park PCN")
    assert names.index("Église Bank PCN") < names.index("Fern Bank PCN")
    assert names.index("de Vere Bank PCN") < names.index("Église Bank PCN")
    def count(text):
        return int(text) if text.isdigit() else None

    for key, column, parse in (("by-referred", 2, count), ("by-pairs", 3, count),
                               ("by-change", 4, number)):
        rows = tables[key]
        assert rows == by_shown_value_then_name(rows, column, parse), key
        values = [parse(r[column]) for r in rows]
        shown = [v for v in values if v is not None]
        assert shown == sorted(shown, reverse=True) and len(shown) > 150, key
        assert all(v is None for v in values[len(shown):]), key     # withheld ones last
    # the failed and withheld sites are at the end of the change ordering, never in between
    tail = [r[4] for r in tables["by-change"] if number(r[4]) is None]
    assert {t.split(" (")[0] for t in tail} == {"withheld", "not available"}


def test_the_default_ordering_is_first_and_the_others_are_hidden_only_by_the_checked_rule(
        national):
    page = national["page"]
    soup = BeautifulSoup(page, "html.parser")
    divs = soup.select("div.ordering")
    assert divs[0]["class"] == ["ordering", "default"] and divs[0]["id"] == "by-name"
    assert not any(d.get("hidden") is not None or d.get("style") for d in divs)
    radios = soup.select('input[type="radio"][name="site-order"]')
    assert [r["id"] for r in radios] == ["sort-name", "sort-referred", "sort-pairs",
                                         "sort-change"]
    assert [r.has_attr("checked") for r in radios] == [True, False, False, False]
    for radio in radios:     # every control has a label, inside a fieldset with a legend
        assert soup.find("label", attrs={"for": radio["id"]}).get_text(strip=True)
        assert radio.find_parent("fieldset").find("legend").get_text(strip=True)
    css = soup.find("style").get_text()
    screen = css[css.index("@media screen"):]
    screen = screen[:screen.index("\n}\n")]
    for key in ("name", "referred", "pairs", "change"):
        assert (f".site-index:has(#sort-{key}:checked) .ordering:not(#by-{key}) "
                "{ display: none; }") in screen
    # outside the :checked rules nothing hides an ordering on screen; print keeps only the
    # default
    outside = css.replace(screen, "")
    assert ".ordering" not in outside.split("@media print")[0]
    assert ".site-index .ordering:not(.default) { display: none; }" in outside


def test_filters_hide_rows_by_their_class(national):
    """Every row has one status and one direction class; each class present has a checked
    checkbox whose :not(:checked) rule hides it, and a label counting its sites."""
    soup = BeautifulSoup(national["page"], "html.parser")
    css = soup.find("style").get_text()
    rows = soup.select("#by-name tbody tr")
    classes = {}
    for tr in rows:
        st = [c for c in tr["class"] if c.startswith("st-")]
        di = [c for c in tr["class"] if c.startswith("dir-")]
        assert len(st) == len(di) == 1, tr["class"]
        classes.setdefault(st[0], 0)
        classes[st[0]] += 1
        classes.setdefault(di[0], 0)
        classes[di[0]] += 1
    assert {"st-ready", "st-withheld", "st-failed", "dir-better", "dir-unclear",
            "dir-none"} <= set(classes)
    for cls, n in classes.items():
        box = soup.find("input", id=f"show-{cls}")
        assert box is not None and box["type"] == "checkbox" and box.has_attr("checked"), cls
        assert f"({n} site{'s' if n != 1 else ''})" in soup.find("label", attrs={
            "for": f"show-{cls}"}).get_text(), cls
        assert f".site-index:has(#show-{cls}:not(:checked)) tr.{cls} {{ display: none; }}" in css
    # the sentence above the table explains the failed and withheld sites
    said = soup.find("h2", id="sites").find_next("p").get_text(" ", strip=True)
    assert f"{classes['st-failed']} site reports failed" in said
    assert f"At {classes['st-withheld']} sites the change is withheld: fewer than 5" in said


def test_a_rows_status_and_direction_classes_by_hand(tmp_path):
    """Hand-worked: WEMWBS (higher is better) +4.0 (CI +2.5 to +5.5) improved, -0.5 (CI -2.0
    to +1.0) unclear, -3.0 (CI -4.5 to -1.5) worse; UCLA-3 (lower is better, demo scale
    table) -3.0 (CI -4.5 to -1.5) improved; 3 pairs: withheld, and so is the next smallest
    number of pairs (G's 10: complementary suppression); failed: no change."""
    results = [site_result("A", referred=40, pairs=30, mean=4.0),
               site_result("B", referred=40, pairs=30, mean=-0.5),
               site_result("C", referred=40, pairs=30, mean=-3.0),
               site_result("D", referred=40, pairs=30, mean=-3.0, instrument="ucla3"),
               site_result("E", referred=40, pairs=3),
               site_result("F", referred=None, pairs=None, status="failed"),
               site_result("G", referred=40, pairs=10, mean=1.0)]
    soup = BeautifulSoup(write(tmp_path, results), "html.parser")
    got = {tr.find("th").get_text(strip=True): sorted(tr["class"])
           for tr in soup.select("#by-name tbody tr")}
    assert got == {"A": ["dir-better", "st-ready"], "B": ["dir-unclear", "st-ready"],
                   "C": ["dir-worse", "st-ready"], "D": ["dir-better", "st-ready"],
                   "E": ["dir-none", "st-withheld"], "F": ["dir-none", "st-failed"],
                   "G": ["dir-none", "st-withheld"]}
    # most improvement first: D's -3.0 on a lower-is-better scale is an improvement of 3
    assert [r[0] for r in orderings(str(soup))["by-change"]] == ["A", "D", "B", "C", "E", "F",
                                                                  "G"]


def test_the_order_gives_away_no_hidden_count(tmp_path):
    """Two runs whose withheld counts differ only in their true values (A and B referred 3
    and 4, or 4 and 3; pairs 2 and 3, or 3 and 2) give the same page byte for byte: the
    withheld rows sort by name after the shown ones, whatever they hide."""
    def run(a, b, folder):
        results = [site_result("A", referred=a, pairs=a - 1),
                   site_result("B", referred=b, pairs=b - 1),
                   site_result("C", referred=60, pairs=40, mean=2.0),
                   site_result("D", referred=80, pairs=50, mean=3.0)]
        folder.mkdir()
        return write(folder, results)

    first, second = run(3, 4, tmp_path / "one"), run(4, 3, tmp_path / "two")
    assert first == second
    tables = orderings(first)
    assert [r[0] for r in tables["by-referred"]] == ["D", "C", "A", "B"]
    assert [r[2] for r in tables["by-referred"]] == ["80", "60", "<5", "<5"]
    assert [r[0] for r in tables["by-pairs"]] == ["D", "C", "A", "B"]


def test_the_a_to_z_list_leads_to_the_first_site_of_each_letter(national):
    soup = BeautifulSoup(national["page"], "html.parser")
    nav = soup.select_one("#by-name nav.jump")
    assert nav is not None and nav["aria-label"]
    links = nav.find_all("a")
    rows = soup.select("#by-name tbody tr")
    names = [tr.find("th").get_text(strip=True) for tr in rows]
    first = {}
    for name in names:        # the first character, accents folded by hand, digits as "#"
        c = ascii_fold(name)[0].upper()
        first.setdefault(c if c.isalpha() else "#", name)
    assert [a.get_text() for a in links] == list(first)
    for a in links:
        target = soup.find(id=a["href"][1:])
        assert target is not None and target.name == "tr", a["href"]
        assert target.find_parent("div", class_="ordering")["id"] == "by-name"
        assert target.find("th").get_text(strip=True) == first[a.get_text()]
    # ids are unique on the page
    ids = [t["id"] for t in soup.find_all(id=True)]
    assert len(ids) == len(set(ids))


def test_the_figure_of_200_sites_is_one_short_chart_whose_alt_text_has_the_numbers(national):
    """Above FIGURE_SITE_ROWS sites the index draws every site as a thin, unlabelled row: a
    figure of a few inches, not one labelled row per site (80 inches at 200 sites)."""
    import base64

    from spanalysis.report import index

    soup = BeautifulSoup(national["page"], "html.parser")
    img = soup.select_one("img.main-figure")
    svg = base64.b64decode(img["src"].split(",", 1)[1]).decode("utf-8")
    height_pt = float(re.search(r'<svg[^>]*height="([\d.]+)pt"', svg).group(1))
    assert height_pt <= 5 * 72, height_pt              # at most 5 inches tall
    assert 200 > index.FIGURE_SITE_ROWS
    # the sites drawn: those whose change the default table shows as a number
    shown = [number(row[4]) for row in orderings(national["page"])["by-name"]]
    shown = [v for v in shown if v is not None]
    alt = img["alt"]
    assert f"at each of {len(shown)} sites" in alt
    low, high = min(shown), max(shown)
    fmt = lambda v: f"{v:+.1f}".replace("-", "\u2212")  # noqa: E731
    assert f"site means from {fmt(low)} to {fmt(high)}" in alt, alt
    # every synthetic interval is the mean +/- 1.5 (site_result): wholly above zero when the
    # mean is above 1.5, wholly below when under -1.5
    means = [r.summary["primary"]["change_mean"] for r in national["results"]
             if r.kind == "site" and r.summary and "change_mean" in r.summary["primary"]]
    assert len(means) == len(shown)
    assert (f"at {sum(m > 1.5 for m in means)} sites the interval lies wholly above zero "
            f"and at {sum(m < -1.5 for m in means)} wholly below it") in alt
    withheld = sum(1 for r in national["results"] if r.kind == "site") - len(shown)
    assert f"{withheld} sites withheld or not available" in alt


def test_a_few_sites_keep_one_labelled_row_each(tmp_path):
    page = write(tmp_path, synthetic_results(12))
    alt = BeautifulSoup(page, "html.parser").select_one("img.main-figure")["alt"]
    named = [r.site for r in synthetic_results(12) if r.kind == "site"]
    assert all(f"{name}: " in alt for name in named)


def test_one_site_is_one_table_with_nothing_to_sort_or_filter(tmp_path):
    results = synthetic_results(3)[:2] + [site_result("Main site", referred=60, pairs=40,
                                                      mean=5.8)]
    page = write(tmp_path, results)
    soup = BeautifulSoup(page, "html.parser")
    assert "Sort the sites by" not in page and "Filter the sites" not in page
    assert soup.select('input[name="site-order"]') == []
    tables = [t for t in soup.find_all("table")
              if t.caption and t.caption.get_text().startswith("Site report")]
    assert [t.caption.get_text() for t in tables] == ["Site report with headline figures"]
    row = [c.get_text(" ", strip=True) for c in tables[0].select("tbody tr")[0].find_all(
        ["th", "td"])]
    assert row[:5] == ["Main site", "Ready", "60", "40", "+5.8 (95% CI +4.3 to +7.3)"]


def test_a_study_without_qualitative_material_has_no_themes_column(tmp_path):
    import shutil

    from test_study_shapes import drop_qualitative

    study = tmp_path / "study"
    shutil.copytree(DEMO, study)
    drop_qualitative(study)
    loaded = load_study(study)
    assert loaded.qualitative is None
    page = write(tmp_path / "out", synthetic_results(4), study=loaded)
    assert "Themes voiced most" not in page
    with_themes = write(tmp_path / "out2", synthetic_results(4))
    assert "Themes voiced most" in with_themes


def test_sites_without_pairs_are_not_measured_rather_than_withheld(tmp_path):
    from test_study_shapes import one_timepoint

    results = synthetic_results(3)[:2] + [
        site_result("Ash Bank PCN", referred=40, pairs=0),
        site_result("Beck Cross PCN", referred=30, pairs=3),
        site_result("Cairn Field PCN", referred=50, pairs=20, mean=2.0)]
    page = write(tmp_path / "two", results)
    rows = {r[0]: r[4] for r in orderings(page)["by-name"]}
    assert rows["Ash Bank PCN"] == "not measured (no one answered at both time points)"
    assert rows["Beck Cross PCN"] == "withheld (fewer than 5 pairs)"
    withheld = sum(v.startswith("withheld") for v in rows.values())
    assert withheld >= 1 and f"At {withheld} site" in page   # not counting Ash Bank
    folder = tmp_path / "one"
    one_timepoint(folder)
    page = write(tmp_path / "out", [site_result("Main site", referred=40, pairs=0)],
                 study=load_study(folder))
    assert "not measured (one time point)" in page and "is withheld" not in page


def test_the_primary_outcome_is_named_as_its_definition_names_it():
    """The site table's header and the whole-study sentence name the scale as the instrument
    definition does, not by its ids; an instrument the study does not define keeps its ids."""
    from types import SimpleNamespace

    from spanalysis.report import index

    study = load_study(DEMO)
    assert index._outcome_label(study, "wemwbs", "total") == "WEMWBS total (14-70)"
    assert index._outcome_label(study, "swemwbs", "metric") == \
        "SWEMWBS metric score (7.00-35.00)"
    assert index._outcome_label(study, "ons4", "anxious") == study.instruments["ons4"] \
        .scale("anxious").name
    assert index._outcome_label(SimpleNamespace(instruments={}), "my_scale", "total") == \
        "MY_SCALE total"
    assert index._outcome_label(None, "wemwbs", "total") == "WEMWBS total"
