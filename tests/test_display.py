"""Display helpers: disclosure is applied to every table they render."""
import json

import numpy as np
import pandas as pd
from bs4 import BeautifulSoup

from spanalysis.privacy import disclosure
from spanalysis.report.display import (
    column_label,
    count_text,
    percent_text,
    show_counts,
    show_percent_of_group,
    show_stats,
    show_table,
    write_summary,
)


def _rows(markup: str) -> dict:
    """A rendered table as {row label: [cell texts]} (the body rows, footnote left out)."""
    soup = BeautifulSoup(markup, "html.parser")
    return {tr.find("th").get_text(strip=True): [td.get_text(strip=True)
                                                 for td in tr.find_all("td")]
            for tr in soup.find("tbody").find_all("tr")}


def _lines_giving_a_count_away(grid: list[list[str]]) -> list[list[str]]:
    """The rows and columns of ``grid`` (a table whose last row and last column are totals)
    whose total is shown and whose other cells leave exactly one unknown: that one would be
    the total minus the others."""
    lines = grid + [list(column) for column in zip(*grid, strict=True)]
    return [line for line in lines if line[-1].isdigit()
            and sum(not cell.isdigit() for cell in line[:-1]) == 1]


def test_count_text_and_percent_text():
    assert count_text(3, 5) == "fewer than 5"
    assert count_text(0, 5) == "0" and count_text(1234, 5) == "1,234"
    assert percent_text(20, 40, 5) == "20 (50%)"
    # 38 of 40 would reveal that 2 did not: withheld
    assert percent_text(38, 40, 5) == "38 (percentage withheld)"
    assert percent_text(2, 40, 5) == "fewer than 5 (percentage withheld)"


def test_show_counts_never_shows_a_small_count():
    table = pd.DataFrame({"Yes": [3, 20, 14], "No": [15, 25, 9]}, index=["A", "B", "C"])
    markup = show_counts(table, 5, caption="Test", show=False)
    assert disclosure.scan_html_for_small_counts(markup, 5) == []
    assert "&lt;5" in markup
    # worked by hand: the 3 is "<5"; its row's 15 and its column's 14 are hidden to protect
    # it, then row C's 9 (C would otherwise have one hidden cell)
    rows = _rows(markup)
    assert rows == {"A": ["<5", "[c]"], "B": ["20", "25"], "C": ["[c]", "[c]"]}
    # the totals are published elsewhere (rows 18, 45, 23; columns 37, 49; 86 in all): none
    # of them leaves a single hidden cell to work out
    grid = [rows["A"] + ["18"], rows["B"] + ["45"], rows["C"] + ["23"], ["37", "49", "86"]]
    assert _lines_giving_a_count_away(grid) == []


def test_show_counts_hides_a_complement_so_no_total_gives_the_small_count_away():
    # A's 3 would be its row total minus the 20 (23 - 20): the 20 must be hidden too
    table = pd.DataFrame({"Yes": [3, 12, 15], "No": [20, 16, 36], "Total": [23, 28, 51]},
                         index=["A", "B", "Total"])
    markup = show_counts(table, 5, caption="Test", show=False)
    rows = _rows(markup)
    # worked by hand: the 3 is "<5"; the smallest other count of row A (20) and of column
    # Yes (12) are hidden, then column No's 16 (No would otherwise have one hidden cell);
    # the totals stay
    assert rows == {"A": ["<5", "[c]", "23"], "B": ["[c]", "[c]", "28"],
                    "Total": ["15", "36", "51"]}
    soup = BeautifulSoup(markup, "html.parser")
    # (a) the 3 appears nowhere: neither as a cell's text nor in its data-count attribute
    assert "3" not in [td.get_text(strip=True) for td in soup.find_all("td")]
    assert 'data-count="3"' not in markup and ">3<" not in markup
    # (b) the complement of row A is hidden with the marker, marked as complementary
    cell = soup.find("tbody").find("tr").find_all("td")[1]
    assert cell.get_text() == disclosure.COMPLEMENTARY_MARKER == "[c]"
    assert cell["data-suppressed"] == "complementary" and cell["data-count"] == ""
    for hidden in ("20", "12", "16"):
        assert hidden not in [td.get_text(strip=True) for td in soup.find_all("td")], hidden
    # (c) no row or column with a shown total leaves exactly one cell unknown ...
    assert _lines_giving_a_count_away(list(rows.values())) == []
    # ... and "<5" still stands for any of 1 to 4: with A's Yes = a, the shown totals make
    # A's No 23 - a, B's Yes 15 - a and B's No 28 - (15 - a), all "[c]" (5 or more), and
    # column No must add up to 36: true for every a from 1 to 4
    row_a, row_b = int(rows["A"][-1]), int(rows["B"][-1])
    yes, no = int(rows["Total"][0]), int(rows["Total"][1])
    possible = [a for a in range(1, 5)
                if min(row_a - a, yes - a, row_b - (yes - a)) >= 5
                and (row_a - a) + (row_b - (yes - a)) == no]
    assert possible == [1, 2, 3, 4]


def test_show_stats_withholds_small_groups():
    table = pd.DataFrame({"site": ["A", "B", "C"], "n": [3, 30, 40], "mean": [9.5, 1.25, 2.0]})
    markup = show_stats(table, "n", 5, caption="Means", show=False)
    assert "9.50" not in markup and "&lt;5" in markup
    assert "2.00" in markup  # the largest group stays visible
    assert "withheld" in markup
    # the overall n (73) is published in a report: with only A hidden it would be
    # 73 - 30 - 40 = 3, so the next smallest group (B, 30) is hidden too, and its mean
    rows = _rows(markup)
    assert rows == {"A": ["<5", "[c]"], "B": ["[c]", "[c]"], "C": ["40", "2.00"]}
    assert "1.25" not in markup
    assert _lines_giving_a_count_away([rows["A"][:1], rows["B"][:1], rows["C"][:1], ["73"]]) \
        == []   # A + B = 33, A from 1 to 4 and B 5 or more: A could be any of 1 to 4


def test_show_percent_of_group_hides_the_percentages_of_hidden_counts():
    # a percentage of a known group size gives its count away (3 of 60 is 5%): hidden for
    # the small count and for the counts hidden to protect it
    counts = pd.DataFrame({"A": [3, 10, 15], "B": [12, 20, 25]}, index=["hope", "calm", "rest"])
    sizes = pd.Series({"A": 60, "B": 50})
    markup = show_percent_of_group(counts, sizes, 5, caption="Percent", show=False)
    # worked by hand: 3 is "<5"; row hope's 12 and column A's 10 protect it, then column B's
    # 20; row rest is shown: 15 of 60 is 25%, 25 of 50 is 50%
    assert _rows(markup) == {"hope": ["[c]", "[c]"], "calm": ["[c]", "[c]"],
                             "rest": ["25", "50"]}
    for hidden in ("5", "24", "17", "40"):    # 3/60, 12/50, 10/60, 20/50
        assert f"<td>{hidden}</td>" not in markup, hidden


def test_show_table_escapes_text():
    table = pd.DataFrame({"quote": ["<script>alert(1)</script>"], "value": [1.0]})
    markup = show_table(table, caption="<b>cap</b>", show=False)
    assert "<script>" not in markup and "&lt;script&gt;" in markup
    assert "&lt;b&gt;cap" in markup


def test_column_label():
    assert column_label("percent_items_missing") == "Percent items missing"
    assert column_label("change_ci_low") == "Change: lower CI limit"
    assert column_label("d_z") == "Effect size (Cohen's d_z)"
    assert column_label("some_new_column") == "Some new column"


def test_write_summary(tmp_path):
    import numpy as np

    path = write_summary(tmp_path / "s.json", {"n": np.int64(30), "x": np.float64("nan")}, 5)
    assert json.loads(path.read_text()) == {"n": 30, "x": None}
    assert write_summary("", {"n": 1}, 5) is None


def test_a_summary_obeys_the_small_count_rule(tmp_path):
    # issue 19: 10: counts 1 to k-1 are written as "<k" at any depth; 0 and settings are kept
    import numpy as np

    summary = {"report": "site_report", "k": 5, "referred": 12, "pairs": np.int64(4),
               "interviewed": 0, "warnings": 3, "primary": {"n_pairs": 4, "small_group": True,
                                                            "confidence": 0.95},
               "themes": [{"theme": "hope", "n_voiced": 3}, {"theme": "calm", "n_voiced": 7}]}
    path = write_summary(tmp_path / "site.summary.json", summary, 5)
    assert json.loads(path.read_text()) == {
        "report": "site_report", "k": 5, "referred": 12, "pairs": "<5", "interviewed": 0,
        "warnings": "<5", "primary": {"n_pairs": "<5", "small_group": True, "confidence": 0.95},
        "themes": [{"theme": "hope", "n_voiced": "<5"}, {"theme": "calm", "n_voiced": 7}]}
    rounded = write_summary(tmp_path / "r.summary.json", {"referred": 12, "pairs": 3}, 5,
                            rounding=5)
    assert json.loads(rounded.read_text()) == {"referred": 10, "pairs": "<5"}


def test_report_local_participant_labels_and_their_key(tmp_path):
    # issue 19: 12
    from spanalysis.report.display import participant_label, write_participant_key

    labels = {}
    shown = [participant_label(labels, f"SP{i:04d}") for i in range(28)]
    assert shown[:3] == ["Participant A", "Participant B", "Participant C"]
    assert shown[25:] == ["Participant Z", "Participant AA", "Participant AB"]
    assert participant_label(labels, "SP0001") == "Participant B"
    key = write_participant_key(tmp_path / "04_integration.summary.json", labels)
    assert key == tmp_path / "04_integration_participant_key.csv"
    table = pd.read_csv(key, dtype=str)
    assert list(table.columns) == ["label", "participant_id"] and len(table) == 28
    assert table.iloc[27].tolist() == ["Participant AB", "SP0027"]
    assert write_participant_key("", labels) is None


def test_formatting_rules_worked_by_hand():
    # issue 19: 4: p as "< 0.001" or three decimals; effect sizes two decimals; counts and df
    # integers; a non-zero value never rounds to zero without "<"; no scientific notation
    from spanalysis.report.display import format_count, format_effect, format_p, format_value

    assert format_p(0.001) == "0.001"
    assert format_p(0.0004) == "< 0.001"
    assert format_p(0.0312) == "0.031" and format_p(1.0) == "1.000" and format_p(0.0) == "0.000"
    assert format_effect(-0.03) == "-0.03" and format_effect(0.456) == "0.46"
    assert format_effect(0.004) == "< 0.01" and format_effect(-0.004) == "> -0.01"
    assert format_count(225.0) == "225" and format_count(1234) == "1,234"
    assert format_value(-0.03, 1) == "> -0.1" and format_value(0.0, 2) == "0.00"
    assert format_value(0.00002, 2) == "< 0.01" and "e" not in format_value(1.5e7, 2)
    assert format_value(1.5e7, 2) == "15,000,000.00"
    assert format_value(float("nan"), 2) == "–"


def test_show_table_formats_by_column():
    table = pd.DataFrame({"scale": ["total"], "df": [225.0], "t": [2.5], "p": [0.001],
                          "p_holm": [0.0004], "wilcoxon_p": [0.0312], "d_z": [-0.03],
                          "n_pairs": [226.0], "change_mean": [0.00002]})
    markup = show_table(table, caption="Test", show=False, decimals=1)
    cells = [c.rsplit("<td>", 1)[1] for c in markup.split("</td>")[:-1]]
    assert cells == ["225", "2.5", "0.001", "&lt; 0.001", "0.031", "-0.03", "226", "&lt; 0.1"]
    assert "e-" not in markup


def test_show_table_says_why_a_value_is_missing():
    table = pd.DataFrame({"theme": ["hope", "trust"], "cohen_kappa": [np.nan, 0.5],
                          "krippendorff_alpha_all": [np.nan, 0.25]})
    markup = show_table(table, caption="Agreement", show=False,
                        missing={"krippendorff_alpha_all": "not estimable"})
    cells = [c.rsplit("<td>", 1)[1] for c in markup.split("</td>")[:-1]]
    assert cells == ["–", "not estimable", "0.50", "0.25"]


def test_an_empty_table_is_a_sentence_not_an_error():
    # issue 21: a study whose data give no rows for a table (no GAS at follow-up, no scale
    # with a reliability) gets one sentence instead of a traceback
    empty = pd.DataFrame({"n": pd.Series(dtype=int), "mean": pd.Series(dtype=float)})
    for markup in (show_counts(empty[["n"]], 5, caption="People", show=False),
                   show_stats(empty, "n", 5, caption="Scores", show=False)):
        assert markup.startswith("<p>") and "nothing to show" in markup


def test_fold_keeps_a_long_table_short_after_protecting_it_whole():
    """``fold=`` on show_counts / show_stats: the first LONG_TABLE_ROWS rows on the page, the
    rest folded; the hidden cells are those of the whole table protected at once."""
    import numpy as np
    import pandas as pd
    from bs4 import BeautifulSoup

    from spanalysis.privacy import disclosure
    from spanalysis.report import display

    rng = np.random.default_rng(3)
    table = pd.DataFrame(rng.integers(0, 12, size=(45, 3)), columns=["a", "b", "c"],
                         index=[f"Site {i:02d}" for i in range(45)])
    whole = display.show_counts(table, 5, caption="By site", totals="none", show=False)
    folded = display.show_counts(table, 5, caption="By site", totals="none", show=False,
                                 fold="sites")
    soup = BeautifulSoup(folded, "html.parser")
    visible, rest = soup.find_all("table")
    assert visible.find_parent("details") is None and rest.find_parent("details") is not None
    assert len(visible.tbody.find_all("tr")) == display.LONG_TABLE_ROWS
    assert len(rest.tbody.find_all("tr")) == 45 - display.LONG_TABLE_ROWS
    cells = lambda t: [td.get_text() for tr in t.tbody.find_all("tr")  # noqa: E731
                       for td in tr.find_all("td")]
    assert cells(visible) + cells(rest) == cells(BeautifulSoup(whole, "html.parser").table)
    pattern = disclosure.suppression_pattern(table, 5, totals="none")
    assert sum(c in ("<5", "[c]") for c in cells(visible) + cells(rest)) == \
        int((pattern != "").to_numpy().sum())
    stats = pd.DataFrame({"site": table.index, "n": table["a"] + 5, "mean": 1.5})
    out = display.show_stats(stats, "n", 5, caption="Stats", show=False, fold="sites")
    assert "The other 25 sites" in out


def test_count_tables_name_their_scales_for_a_reader_and_keep_every_count():
    """with_scale_labels: the rows of reliable_change_counts / sensitivity_counts (and a
    ``scale`` column) named as the definitions name the scales; counts untouched."""
    from spanalysis.change import outcomes
    from spanalysis.report.display import scale_labels, with_scale_labels
    from conftest import DEMO

    from spanalysis.study import load_study

    study = load_study(DEMO)
    _, summary = outcomes.reliable_change_table(study, None, 0.95, whole=study)
    counts = outcomes.reliable_change_counts(summary)
    named = with_scale_labels(counts, study)
    assert named.index.name == "Scale"
    assert "WEMWBS total (14-70)" in named.index and "wemwbs total" not in named.index
    assert "UCLA-3 loneliness total (3-9, higher = lonelier)" in named.index
    assert (named.to_numpy() == counts.to_numpy()).all()
    labels = scale_labels(study)
    assert len(labels) == len(study.scale_info)
    assert labels["mycaw concern1"] == "MYCaW: Concern 1 (0-6, lower is better)"
    # a suffix after the scale is kept; a label that is no scale is left as it is
    table = pd.DataFrame({"n": [1, 2, 3]}, index=pd.Index(
        ["gse total: Cronbach's alpha 0.90", "ucla3 total (criterion c)", "something else"],
        name="scale and reliability"))
    assert list(with_scale_labels(table, study).index) == [
        "GSE total (10-40): Cronbach's alpha 0.90",
        "UCLA-3 loneliness total (3-9, higher = lonelier) (criterion c)", "something else"]
    column = with_scale_labels(pd.DataFrame({"scale": ["swemwbs metric"], "n": [4]}), study)
    assert list(column.columns) == ["Scale", "n"]
    assert column["Scale"].iloc[0] == "SWEMWBS metric score (7.00-35.00)"
