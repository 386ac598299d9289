"""Tests for spanalysis.privacy.disclosure.

References used as the independent check:
- hand-worked tables (arithmetic in the comments);
- a brute-force enumeration of every table consistent with what a suppressed table shows
  (written here from first principles, no linear programming) for the audit;
- pandas ``DataFrame.to_html`` / ``crosstab`` output for the HTML scanner.
"""
from __future__ import annotations

import doctest
import itertools
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spanalysis.errors import InputError
from spanalysis.privacy import disclosure
from spanalysis.privacy.disclosure import (
    COMPLEMENTARY_MARKER,
    DisclosureWarning,
    count_table_html,
    percent_with_suppression,
    scan_html_for_small_counts,
    Suppression,
    protect_counts,
    suppress_counts,
    suppress_series,
    suppression_pattern,
    withhold_small_groups,
)

FAST = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


def quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DisclosureWarning)
        return fn(*args, **kw)


# ---------------------------------------------------------------------------------------------
# Hand-worked examples
# ---------------------------------------------------------------------------------------------

def test_two_by_two_needs_all_four_cells_hidden():
    # Yes/No x Riverside/Hillview = [[3, 15], [20, 25]], totals published elsewhere.
    # 3 < 5 is primary. Row "Yes" then has one hidden cell -> hide 15 (its other non-zero);
    # column Riverside has one -> hide 20; row "No" now has one (20) -> hide 25.
    t = pd.DataFrame({"Riverside": [3, 20], "Hillview": [15, 25]}, index=["Yes", "No"])
    shown, why = suppress_counts(t, 5, return_pattern=True)
    assert shown.to_numpy().tolist() == [["<5", "[c]"], ["[c]", "[c]"]]
    assert why.to_numpy().tolist() == [["primary", "complementary"],
                                      ["complementary", "complementary"]]
    assert protect_counts(t, 5).unprotected == ()


def test_complement_is_the_smallest_non_zero_in_the_line():
    # Row 0 = [2, 0, 9, 7]: 2 is primary; the zero is not a candidate; the smallest other
    # non-zero is 7 (not 9). Column 0 = [2, 40]: the 40 is hidden as its complement.
    t = pd.DataFrame([[2, 0, 9, 7], [40, 30, 50, 60]])
    why = quiet(suppression_pattern, t, 5)
    assert why.iat[0, 0] == "primary"
    assert why.iat[0, 3] == "complementary"      # 7 < 9
    assert why.iat[0, 1] == ""                   # zeros are shown, never used as complements
    assert why.iat[1, 0] == "complementary"


def test_zero_is_shown_and_equal_cells_are_kept():
    t = pd.DataFrame([[0, 12], [25, 30]])
    out = suppress_counts(t, 5)
    assert out.to_numpy().tolist() == [["0", "12"], ["25", "30"]]


def test_line_rule_alone_is_not_enough_pairs_of_ones():
    # Row [1, 1, 0, 30] (row total 32 published): "<5, <5, 0, 30" gives 1 + 1 = 32 - 30 = 2
    # and, as "<5" means 1..4, both are exactly 1. The audit must hide the 30 as well.
    t = pd.DataFrame([[1, 1, 0, 30], [10, 10, 10, 10]])
    result = quiet(protect_counts, t, 5)
    assert result.pattern.iat[0, 3] == "complementary"
    assert result.unprotected == ()


def test_series_with_total_hand_worked():
    # [3, 12, 40] with total 55 shown: 3 -> "<5"; the total gives 3 back (55 - 12 - 40), so
    # the smallest other non-zero (12) is hidden: then 3 + 12 = 15 with "<5" in 1..4 and
    # "[c]" >= 5: the small one can be 1, 2, 3 or 4 (the other 14, 13, 12, 11).
    s = pd.Series([3, 12, 40, 55], index=["Hillview", "Riverside", "Lakeside", "Total"])
    assert suppress_series(s, 5).tolist() == ["<5", "[c]", "40", "55"]


def test_series_complement_too_small_hides_more():
    # [1, 5, 50] total 56: hiding 1 and 5 leaves 1 + 5 = 6 with "[c]" >= 5, so "<5" <= 1:
    # the 1 is pinned down. The 50 must go too (then a + b + c = 56 leaves a in 1..4).
    assert suppress_series(pd.Series([1, 5, 50]), 5).tolist() == ["<5", "[c]", "[c]"]
    # [2, 6, 50]: 2 + 6 = 8, "[c]" >= 5 -> "<5" in 1..3: not exact, nothing more hidden.
    assert suppress_series(pd.Series([2, 6, 50]), 5).tolist() == ["<5", "[c]", "50"]


def test_crosstab_margins_detected_and_checked():
    df = pd.DataFrame({"site": list("AAAABBBBBBBB"), "ok": list("yyynyyyyyynn")})
    ct = pd.crosstab(df["site"], df["ok"], margins=True)   # adds row and column "All"
    # A: n=1, y=3 (4);  B: n=2, y=6 (8);  All: n=3, y=9 (12)
    shown, why = suppress_counts(ct, 5, return_pattern=True)
    assert shown.loc["All", "All"] == "12"          # grand total 12 >= 5, shown
    assert shown.loc["A", "n"] == "<5" and shown.loc["B", "n"] == "<5"
    assert shown.loc["A", "All"] == "<5"            # row total 4 is itself a small count
    assert shown.loc["All", "n"] == "<5"            # column total 3
    # Every line of the shown table has 0 or >= 2 hidden cells.
    hidden = why.to_numpy() != ""
    assert set(hidden.sum(axis=0)) <= {0, 2, 3}
    assert all(h != 1 for h in hidden.sum(axis=1))


def test_totals_that_do_not_add_up_are_an_error():
    t = pd.DataFrame([[3, 7, 10], [5, 5, 11]], columns=["a", "b", "Total"])
    with pytest.raises(InputError) as err:
        suppress_counts(t, 5, label="Table 2")
    msg = str(err.value)
    assert "Table 2" in msg and "'Total'" in msg and "found 11" in msg and "expected 10" in msg


@pytest.mark.parametrize("bad, found", [(-1, "-1"), (2.5, "2.5"), (np.nan, "nan"),
                                        ("3", "'3'"), (True, "True")])
def test_bad_counts_name_row_column_and_value(bad, found):
    t = pd.DataFrame({"x": [1, 2], "y": [bad, 4]}, index=["r1", "r2"], dtype=object)
    with pytest.raises(InputError) as err:
        suppress_counts(t, 5, label="referrals")
    issue = err.value.issue
    assert issue.column == "y" and issue.file == "referrals" and "'r1'" in issue.message
    assert found in str(err.value)


def test_bad_k_and_settings():
    t = pd.DataFrame([[1, 2]])
    for k in (1, 0, 2.5, True):
        with pytest.raises(InputError):
            suppress_counts(t, k)
    with pytest.raises(InputError):
        suppress_counts(t, 5, totals="margins")
    with pytest.raises(InputError):
        suppress_counts(t.iloc[:0], 5)


def test_input_not_modified():
    t = pd.DataFrame([[3, 15], [20, 25]])
    before = t.copy()
    suppress_counts(t, 5)
    percent_with_suppression(t, 5)
    pd.testing.assert_frame_equal(t, before)


def test_unprotectable_cell_warns():
    # Row [3, 0, 0]: its total (3) published elsewhere gives the 3 away whatever we hide.
    t = pd.DataFrame([[3, 0, 0], [10, 20, 30]], index=["Hillview", "Riverside"])
    with pytest.warns(DisclosureWarning, match="Hillview"):
        why = suppression_pattern(t, 5)
    with pytest.warns(DisclosureWarning, match="Hillview"):
        result = protect_counts(t, 5)
    assert result.unprotected == (("Hillview", 0),)
    pd.testing.assert_frame_equal(result.pattern, why)
    # ... and no cell is hidden in vain beyond what the line rule requires.
    assert why.iat[1, 2] == ""


def test_protect_counts_returns_what_the_other_functions_show():
    # The one result: the display of suppress_counts, the pattern of suppression_pattern and
    # the cells left unprotected (no longer carried in DataFrame.attrs).
    t = pd.DataFrame({"Riverside": [3, 20], "Hillview": [15, 25]}, index=["Yes", "No"])
    result = protect_counts(t, 5)
    assert isinstance(result, Suppression)
    pd.testing.assert_frame_equal(result.shown, suppress_counts(t, 5))
    pd.testing.assert_frame_equal(result.pattern, suppression_pattern(t, 5))
    assert result.unprotected == ()
    assert not result.pattern.attrs and not result.shown.attrs
    with pytest.raises(AttributeError):
        result.unprotected = ()                    # frozen
    # A Series: the same as suppress_series, unprotected cells as (row, name).
    s = pd.Series([3, 0, 0], index=["Hillview", "Riverside", "Lakeside"], name="n")
    with pytest.warns(DisclosureWarning, match="Hillview"):
        series = protect_counts(s, 5)
    shown, why = quiet(suppress_series, s, 5, return_pattern=True)
    pd.testing.assert_series_equal(series.shown, shown)
    pd.testing.assert_series_equal(series.pattern, why)
    assert series.unprotected == (("Hillview", "n"),)
    with pytest.raises(InputError, match="unknown 'totals' setting"):
        protect_counts(s, 5, totals="column")


# ---------------------------------------------------------------------------------------------
# Percentages
# ---------------------------------------------------------------------------------------------

def test_percent_hides_percentage_of_a_suppressed_count():
    # 2 of 40 = 5.0% would give the 2 away; 18 is its complement; 20/40 = 50.0%.
    s = pd.Series([2, 18, 20], index=["A", "B", "C"])
    assert percent_with_suppression(s, 5).tolist() == ["[c]", "[c]", "50.0"]


def test_percent_row_with_hidden_denominator():
    # Total column shown: row 0 = [2, 5 | 7]. Rows: 2 primary, 5 its complement; column x
    # [2, 10] -> 10 hidden; row 1 [10, 10 | 20] -> second 10 hidden. Row percentages of row 1
    # use the visible total 20: 10/20 = 50.0 but both are hidden; the totals column is 100.
    t = pd.DataFrame([[2, 5, 7], [10, 10, 20]], columns=["x", "y", "Total"])
    pct = percent_with_suppression(t, 5, of="row")
    shown = suppress_counts(t, 5)
    assert shown.to_numpy().tolist() == [["<5", "[c]", "7"], ["[c]", "[c]", "20"]]
    assert pct.to_numpy().tolist() == [["[c]", "[c]", "100.0"], ["[c]", "[c]", "100.0"]]


def test_percent_denominator_hidden_hides_visible_counts_percentages():
    # Total column shown, row "a" total 4 is a small count -> hidden. Row percentages of
    # row "a" would reveal it even for a visible cell (0% is harmless but 4/4 is not), so
    # every percentage on that denominator is hidden.
    t = pd.DataFrame([[4, 0, 4], [20, 30, 50], [6, 7, 13]], index=["a", "b", "c"],
                     columns=["x", "y", "Total"])
    pct = quiet(percent_with_suppression, t, 5, of="row")
    assert pct.loc["a"].tolist() == ["[c]", "[c]", "[c]"]


def test_percent_values_and_zero_denominator():
    # Column percentages: column x = [10, 30] of 40 -> 25.0, 75.0; column y = [0, 0] -> [z].
    t = pd.DataFrame({"x": [10, 30], "y": [0, 0]})
    pct = percent_with_suppression(t, 5, of="column", decimals=2)
    assert pct.to_numpy().tolist() == [["25.00", "[z]"], ["75.00", "[z]"]]
    # of="all": 10/40 = 25.0, 30/40 = 75.0
    assert percent_with_suppression(t, 5, of="all")["x"].tolist() == ["25.0", "75.0"]


# ---------------------------------------------------------------------------------------------
# Statistics of small groups
# ---------------------------------------------------------------------------------------------

def test_withhold_small_groups():
    t = pd.DataFrame({"site": ["Hillview", "Riverside", "Lakeside", "Empty"],
                      "n": [3, 12, 40, 0], "mean_change": [4.0, 2.5, 3.1, np.nan],
                      "sd": [1.0, 2.0, 3.0, np.nan]})
    before = t.copy()
    out = withhold_small_groups(t, "n", 5)
    pd.testing.assert_frame_equal(t, before)
    assert out["n"].tolist() == ["<5", "[c]", "40", "0"]
    assert out["mean_change"].tolist()[:3] == ["[c]", "[c]", 3.1]
    assert out["sd"].tolist()[:3] == ["[c]", "[c]", 3.0]
    assert out["site"].tolist() == t["site"].tolist()          # labels untouched
    assert out["withheld"].tolist() == ["primary", "complementary", "", ""]
    with pytest.raises(InputError, match="group-size column"):
        withhold_small_groups(t, "people", 5)


# ---------------------------------------------------------------------------------------------
# HTML rendering and scanning
# ---------------------------------------------------------------------------------------------

def test_count_table_html_structure_and_escaping():
    t = pd.DataFrame({"n": [3, 12, 40]}, index=["<b>Hill</b>", "Riverside", "Lakeside"])
    t.index.name = "Site"
    html = count_table_html(t, 5, caption="People & referrals")
    assert html.startswith('<table class="sp-counts" data-k="5">')
    assert "<caption>People &amp; referrals</caption>" in html
    assert '<th scope="col">Site</th><th scope="col">n</th>' in html
    assert '<th scope="row">&lt;b&gt;Hill&lt;/b&gt;</th>' in html
    assert '<td data-count="" data-suppressed="primary">&lt;5</td>' in html
    assert '<td data-count="" data-suppressed="complementary">[c]</td>' in html
    assert '<td data-count="40">40</td>' in html
    assert "a count from 1 to 4" in html
    assert scan_html_for_small_counts(html, 5) == []


def test_scanner_finds_small_counts_in_pandas_html():
    raw = pd.DataFrame({"site": ["A", "B"], "n": [3, 12], "Mean score": [2, 3],
                        "%": [4, 96]})
    found = scan_html_for_small_counts(raw.to_html(index=False), 5)
    # Only the "n" column is a count; "Mean score" 2 and "%" 4 are not counts.
    assert [(f["column"], f["value"], f["row"]) for f in found] == [("n", 3, 1)]


def test_scanner_tagged_cells_n_percent_captions_and_rows():
    tagged = '<table><tr><th>x</th></tr><tr><td data-count="2">2</td></tr></table>'
    assert scan_html_for_small_counts(tagged, 5)[0]["why"] == "data-count attribute"
    npct = ("<table><thead><tr><th>Site</th><th>n (%)</th></tr></thead>"
            "<tbody><tr><td>A</td><td>3 (7.5%)</td></tr></tbody></table>")
    assert scan_html_for_small_counts(npct, 5)[0]["value"] == 3
    cap = ("<table><caption>Number of people referred</caption><tr><th>Site</th>"
           "<th>Hillview</th></tr><tr><td>all</td><td>4</td></tr></table>")
    assert scan_html_for_small_counts(cap, 5)[0]["why"] == "count caption"
    rows = ("<table><thead><tr><th></th><th>Q1</th></tr></thead><tbody>"
            "<tr><th>Participants</th><td>2</td></tr><tr><th>Mean</th><td>2</td></tr>"
            "</tbody></table>")
    found = scan_html_for_small_counts(rows, 5)
    assert [(f["row"], f["why"]) for f in found] == [("Participants", "count row label")]
    # 5 and above, 0 and non-integers are never flagged
    ok = "<table><tr><th>n</th></tr><tr><td>5</td></tr><tr><td>0</td></tr><tr><td>2.5</td></tr></table>"
    assert scan_html_for_small_counts(ok, 5) == []


def test_scanner_multiindex_header_from_pandas():
    # pandas writes a two-level header with colspan; the scanner joins the levels.
    cols = pd.MultiIndex.from_tuples([("Riverside", "n"), ("Riverside", "mean"),
                                      ("Hillview", "n"), ("Hillview", "mean")])
    df = pd.DataFrame([[2, 3.0, 10, 4.0]], columns=cols, index=["WEMWBS"])
    found = scan_html_for_small_counts(df.to_html(), 5)
    assert [(f["column"], f["value"]) for f in found] == [("Riverside n", 2)]


def test_scanner_on_suppressed_output_is_clean():
    t = pd.DataFrame({"n": [3, 12, 40, 2]}, index=list("ABCD"))
    shown = suppress_counts(t, 5)
    assert scan_html_for_small_counts(shown.to_html(), 5) == []
    assert len(scan_html_for_small_counts(t.to_html(), 5)) == 2


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------

@st.composite
def count_tables(draw, max_rows=4, max_cols=4, max_value=30):
    r = draw(st.integers(2, max_rows))
    c = draw(st.integers(2, max_cols))
    # Mix of zeros, small counts and larger ones, as in site-level tables.
    cell = st.one_of(st.just(0), st.integers(1, 6), st.integers(0, max_value))
    values = draw(st.lists(st.lists(cell, min_size=c, max_size=c), min_size=r, max_size=r))
    return pd.DataFrame(values)


def _with_margins(t: pd.DataFrame, row: bool, col: bool) -> pd.DataFrame:
    out = t.copy()
    if col:
        out["Total"] = out.sum(axis=1)
    if row:
        out.loc["Total"] = out.sum(axis=0)
    return out


@FAST
@given(table=count_tables(), k=st.integers(2, 8), margins=st.sampled_from(
    [(False, False), (True, False), (False, True), (True, True)]))
def test_properties(table, k, margins):
    t = _with_margins(table, *margins)
    result = quiet(protect_counts, t, k)
    shown, why = result.shown, result.pattern
    values = t.to_numpy()
    hidden = why.to_numpy() != ""
    # 1. no displayed count in 1..k-1
    for text in shown.to_numpy().ravel():
        if re.fullmatch(r"\d+", text):
            assert not 1 <= int(text) < k
        else:
            assert text in (f"<{k}", COMPLEMENTARY_MARKER)
    # 2. shown cells equal the input
    assert (shown.to_numpy()[~hidden].astype(int) == values[~hidden]).all()
    # 3. primary exactly where 1 <= x < k; complementary cells are >= k
    assert ((why.to_numpy() == "primary") == ((values >= 1) & (values < k))).all()
    assert (values[why.to_numpy() == "complementary"] >= k).all()
    # 4. every row and column has 0 or >= 2 hidden cells, unless its single hidden cell is
    #    a primary cell the warning names as given away by totals published elsewhere
    #    (e.g. row [3, 0, 0], k=5: nothing else in the row can be hidden).
    unprotected = {(t.index.get_loc(r), t.columns.get_loc(c))
                   for r, c in result.unprotected}
    for i in range(hidden.shape[0]):
        if hidden[i].sum() == 1:
            assert (i, int(np.flatnonzero(hidden[i])[0])) in unprotected
    for j in range(hidden.shape[1]):
        if hidden[:, j].sum() == 1:
            assert (int(np.flatnonzero(hidden[:, j])[0]), j) in unprotected


def _brute_force_values(values: np.ndarray, why: np.ndarray, k: int) -> dict:
    """Every value each hidden cell of a 2 x C table can take, by enumeration.

    The reader knows: visible cells; row totals, column totals (published elsewhere);
    "<k" = 1..k-1; "[c]" = k or more. Row 1 follows from the column totals once row 0 is
    fixed, so only row 0's hidden cells are enumerated.
    """
    col_tot = values.sum(axis=0)
    row_tot = values.sum(axis=1)
    hidden0 = [j for j in range(values.shape[1]) if why[0, j]]

    def allowed(i, j, v):
        if why[i, j] == "primary":
            return 1 <= v <= k - 1
        if why[i, j] == "complementary":
            return v >= k
        return v == values[i, j]

    seen = {(i, j): set() for i in range(2) for j in range(values.shape[1]) if why[i, j]}
    ranges = [range(0, int(col_tot[j]) + 1) for j in hidden0]
    for combo in itertools.product(*ranges):
        row0 = values[0].copy()
        row0[hidden0] = combo
        if row0.sum() != row_tot[0] or not all(allowed(0, j, row0[j]) for j in hidden0):
            continue
        row1 = col_tot - row0
        if not all(allowed(1, j, row1[j]) for j in range(values.shape[1])):
            continue
        for j in hidden0:
            seen[(0, j)].add(int(row0[j]))
        for j in range(values.shape[1]):
            if why[1, j]:
                seen[(1, j)].add(int(row1[j]))
    return seen


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(st.lists(st.one_of(st.integers(0, 5), st.integers(0, 12)),
                                min_size=3, max_size=3), min_size=2, max_size=2),
       k=st.integers(3, 5))
def test_audit_against_brute_force_enumeration(values, k):
    t = pd.DataFrame(values)
    result = quiet(protect_counts, t, k)
    why = result.pattern
    seen = _brute_force_values(t.to_numpy(), why.to_numpy(), k)
    unprotected = {(int(r), int(c)) for r, c in result.unprotected}
    for (i, j), possible in seen.items():
        assert values[i][j] in possible          # the truth is among the solutions
        if why.iat[i, j] == "primary" and (i, j) not in unprotected:
            assert len(possible) >= 2, (values, k, why, (i, j), possible)


def test_brute_force_reference_detects_the_pair_of_ones():
    # The reference itself: with only the line rule, [1, 1, 0, 30] pins both ones down.
    values = np.array([[1, 1, 0, 30], [10, 10, 10, 10]])
    why = np.array([["primary", "primary", "", ""],
                    ["complementary", "complementary", "", ""]], dtype=object)
    seen = _brute_force_values(values, why, 5)
    assert seen[(0, 0)] == {1} and seen[(0, 1)] == {1}


@FAST
@given(counts=st.lists(st.one_of(st.integers(0, 6), st.integers(0, 40)), min_size=2,
                       max_size=8), k=st.integers(2, 6))
def test_series_properties(counts, k):
    s = pd.Series(counts)
    result = quiet(protect_counts, s, k)
    shown, why = result.shown, result.pattern
    hidden = (why != "").to_numpy()
    unprotected = {r for r, _ in result.unprotected}
    if hidden.sum() == 1:
        assert int(np.flatnonzero(hidden)[0]) in unprotected
    assert len(shown) == len(counts) == len(hidden) > 0
    for text, value, h in zip(shown, counts, hidden):
        assert (text in (f"<{k}", "[c]")) if h else text == str(value)


def test_docstring_examples_run():
    result = doctest.testmod(disclosure, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 8 and result.failed == 0


# --------------------------------------------------------------------------- rounding (issue 19: 11)

def test_rounding_to_five_after_suppression_worked_by_hand():
    """NHS Digital's practice (reporting.md): small counts suppressed, every other count
    rounded to the nearest 5. Hillview's 3 is hidden, its complement 12 too (the column total
    would give the 3 away); 40 -> 40, 57 (the total) -> 55, 0 stays 0."""
    from spanalysis.privacy.disclosure import suppress_series

    s = pd.Series([3, 12, 42, 0, 57], index=["Hillview", "Riverside", "Lakeside", "Hilltop",
                                             "Total"])
    assert suppress_series(s, k=5).tolist() == ["<5", "[c]", "42", "0", "57"]
    assert suppress_series(s, k=5, rounding=5).tolist() == ["<5", "[c]", "40", "0", "55"]


def test_rounding_defeats_differencing_across_reports():
    """A site's suppressed 3 could be recovered by subtracting the other sites, shown in
    their own reports, from the whole-study total. With rounding to 5 the difference only
    says 'about 0 to 10'."""
    from spanalysis.privacy.disclosure import round_counts

    study_total, other_sites = 3 + 12 + 42, [12, 42]
    assert study_total - sum(other_sites) == 3                       # recovered exactly
    shown_total, shown_others = round_counts([study_total], 5)[0], round_counts(other_sites, 5)
    assert shown_total - shown_others.sum() == 55 - 50 == 5          # only an estimate
    # a reader who sees 55, 10 and 40 knows only that each lies in its rounding interval:
    # every hidden value from 1 to 4 (and 0, and up to 11) fits what is shown
    fits = {t - a - b for t in range(53, 58) for a in range(8, 13) for b in range(38, 43)
            if t - a - b >= 0}
    assert set(range(1, 5)) <= fits and len(fits) > 5
    assert all(round_counts([t], 5)[0] == 55 for t in range(53, 58))


def test_round_counts_halves_up_and_checks_its_base():
    from spanalysis.privacy.disclosure import round_counts

    assert round_counts([0, 2, 3, 7, 8, 12, 13, 15, 17, 18], 5).tolist() == \
        [0, 0, 5, 5, 10, 10, 15, 15, 15, 20]
    assert round_counts([4, 6], None).tolist() == [4, 6]
    for bad in (1, 0, -5, 2.5, True, "5"):
        with pytest.raises(InputError, match="rounding"):
            round_counts([1], bad)


def test_percentages_use_the_rounded_numerator_and_denominator():
    from spanalysis.privacy.disclosure import percent_with_suppression

    s = pd.Series([12, 42, 6], index=["A", "B", "C"])   # total 60
    # rounded: 10, 40, 5 of 60 -> 16.7, 66.7, 8.3 (not 20.0, 70.0, 10.0 of the raw counts)
    assert percent_with_suppression(s, k=5, rounding=5).tolist() == ["16.7", "66.7", "8.3"]
    assert percent_with_suppression(s, k=5).tolist() == ["20.0", "70.0", "10.0"]


def test_count_table_html_shows_rounded_counts_and_says_so():
    from spanalysis.privacy.disclosure import count_table_html

    t = pd.DataFrame({"n": [3, 12, 42]}, index=["Hillview", "Riverside", "Lakeside"])
    html = count_table_html(t, k=5, rounding=5)
    assert 'data-count="40"' in html and 'data-count="42"' not in html
    assert "rounded to the nearest 5" in html


# ---------------------------------------------------------------------------------------------
# The batch certificate (_not_fixed) changes the audit's cost, never its decisions
# ---------------------------------------------------------------------------------------------

def _per_cell_only(monkeypatch):
    """The audit as two linear programmes per primary cell: no batch certificate."""
    monkeypatch.setattr(disclosure, "_not_fixed", lambda *args, **kwargs: set())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(table=count_tables(max_rows=5, max_cols=7), k=st.integers(2, 8), margins=st.sampled_from(
    [(False, False), (True, True)]))
def test_batch_certificate_gives_the_per_cell_audit_pattern(table, k, margins, monkeypatch):
    t = _with_margins(table, *margins)
    batch = quiet(protect_counts, t, k)
    with monkeypatch.context() as mp:
        _per_cell_only(mp)
        per_cell = quiet(protect_counts, t, k)
    assert batch.pattern.equals(per_cell.pattern)
    assert batch.unprotected == per_cell.unprotected


def test_batch_certificate_on_a_wide_table_of_many_sites(monkeypatch):
    """A themes-by-sites table as report 03 protects at national scale (12 x 60, many small
    counts): the same pattern as the per-cell audit, and each cell the certificate passes
    has at least two possible values by the per-cell linear programmes."""
    rng = np.random.default_rng(7)
    t = pd.DataFrame(rng.poisson(rng.uniform(0.5, 12, size=(12, 1)), size=(12, 60)))
    batch = quiet(protect_counts, t, 5)
    with monkeypatch.context() as mp:
        _per_cell_only(mp)
        per_cell = quiet(protect_counts, t, 5)
    assert batch.pattern.equals(per_cell.pattern)
    assert int((batch.pattern == "primary").to_numpy().sum()) > 100
    # the certificate itself, checked against the exact ranges
    prob = disclosure._build_problem(t.to_numpy(), False, False)
    status = np.zeros(prob.A.shape, dtype=np.int8)
    status[:12, :60] = np.select([batch.pattern.to_numpy() == "primary",
                                  batch.pattern.to_numpy() == "complementary"], [1, 2], 0)
    cells = [int(c) for c in np.flatnonzero(status.ravel() == 1)]
    found = disclosure._not_fixed(prob, status, 5, cells)
    assert len(found) > len(cells) // 2
    for cell in sorted(found)[:40]:
        lo, hi = disclosure._feasible_range(prob, status, 5, cell)
        assert hi > lo
