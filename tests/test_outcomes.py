"""Study-level change on the demo study, checked against scipy on scores summed directly
from the raw responses file (independent of the scoring code), and the planted effects."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from conftest import DEMO
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from spanalysis import load_study, plotting
from spanalysis.change import outcomes
from spanalysis.cli import main


@pytest.fixture(scope="module")
def demo():
    return load_study(DEMO)


def _raw_wemwbs_pairs():
    raw = pd.read_csv(DEMO / "responses.csv", dtype={"participant_id": str})
    items = [f"wemwbs_{i}" for i in range(1, 15)]
    raw["total"] = raw[items].sum(axis=1, min_count=14)  # complete cases only
    wide = raw.pivot(index="participant_id", columns="timepoint", values="total")
    return wide[["baseline", "followup"]].dropna()


def test_primary_outcome_defaults_to_wemwbs_total(demo):
    assert outcomes.primary_outcome(demo) == ("wemwbs", "total")


def test_change_table_matches_scipy_on_raw_sums(demo):
    pairs = _raw_wemwbs_pairs()
    row = outcomes.change_table(demo, ["wemwbs"]).set_index("scale").loc["total"]
    diff = pairs["followup"] - pairs["baseline"]
    ref = stats.ttest_rel(pairs["followup"], pairs["baseline"])
    ci = ref.confidence_interval(0.95)
    assert row["n_pairs"] == len(pairs)
    assert row["change_mean"] == pytest.approx(diff.mean())
    assert row["t"] == pytest.approx(ref.statistic)
    assert row["change_ci_low"] == pytest.approx(ci.low)
    assert row["change_ci_high"] == pytest.approx(ci.high)


def test_planted_site_effects_are_recovered(demo):
    by_site = outcomes.site_table(demo, "wemwbs", "total").set_index("site")
    # the generator plants a strong site (Millbrook) and a site with little change (Northgate)
    assert by_site.loc["Millbrook PCN", "change_mean"] > by_site.loc["Northgate PCN", "change_mean"]
    assert by_site.loc["Millbrook PCN", "improvement"] == "improved"


def test_headline_and_sensitivity(demo):
    head = outcomes.headline(demo)
    pairs = _raw_wemwbs_pairs()
    assert head["n_pairs"] == len(pairs) and head["ci_low"] < head["change_mean"] < head["ci_high"]
    sens = outcomes.attrition_sensitivity(demo, ["wemwbs"]).set_index("analysis")
    # BOCF adds non-completers with zero change, so its mean is the completers' mean
    # scaled by n_completers / n_all
    bocf = sens.loc["baseline observation carried forward"]
    completers = sens.loc["completers"]
    assert bocf["change_mean"] == pytest.approx(
        completers["change_mean"] * completers["n_pairs"] / bocf["n_pairs"])


def test_reliable_change_counts_add_up(demo):
    rc, summary = outcomes.reliable_change_table(demo, ["wemwbs"])
    counts = outcomes.reliable_change_counts(summary)
    assert counts.loc["wemwbs total", "Total"] == (rc["category"].notna()).sum()
    by_hand = rc["category"].value_counts()
    for label in outcomes.RC_CATEGORIES:
        assert counts.loc["wemwbs total", label] == by_hand.get(label, 0)


def test_unknown_instrument_is_a_clear_error(demo):
    from spanalysis import InputError

    with pytest.raises(InputError, match="not scored"):
        outcomes.change_table(demo, "wembws")


def test_change_command(tmp_path, capsys):
    out = tmp_path / "change.csv"
    assert main(["change", str(DEMO), "--out", str(out), "--by", "site",
                 "--missing", "completers"]) == 0
    table = pd.read_csv(out)
    assert set(table["site"]) == set(load_study(DEMO).sites)
    assert main(["change", str(DEMO), "--out", str(out), "--by", "sight",
                 "--missing", "completers"]) == 2
    assert "no such participants column" in capsys.readouterr().err
    assert main(["change", str(DEMO), "--out", str(tmp_path / "x.txt")]) == 2
    # --by groups completers; with the default (multiple imputation) it is refused
    assert main(["change", str(DEMO), "--out", str(out), "--by", "site"]) == 2
    assert "--missing completers with --by" in capsys.readouterr().err


def test_change_command_missing_mi_with_completers_and_bocf_beside(tmp_path, capsys):
    """issue 23's done-when: `spanalysis change --missing mi` gives the pooled WEMWBS change
    with its interval and the completers and BOCF rows beside it. The completers row is the
    paired t-test on totals summed from the raw file (scipy), the BOCF row the same test with
    each non-completer's baseline total carried forward, and the MI row lies between
    neither bound of the paired data (its interval is Rubin's, tested in test_missing_data)."""
    out = tmp_path / "mi.csv"
    assert main(["change", str(DEMO), "--out", str(out), "--missing", "mi",
                 "--instruments", "wemwbs"]) == 0
    assert "multiple imputation" in capsys.readouterr().out
    table = pd.read_csv(out).query("scale == 'total'").set_index("method")
    assert list(table.index) == ["mi", "completers", "bocf"]
    pairs = _raw_wemwbs_pairs()
    ref = stats.ttest_rel(pairs["followup"], pairs["baseline"])
    assert table.at["completers", "n_analysed"] == len(pairs)
    assert table.at["completers", "change_mean"] == pytest.approx(
        (pairs["followup"] - pairs["baseline"]).mean())
    assert (table.at["completers", "ci_low"], table.at["completers", "ci_high"]) == \
        pytest.approx(tuple(ref.confidence_interval(0.95)))

    raw = pd.read_csv(DEMO / "responses.csv", dtype={"participant_id": str})
    items = [f"wemwbs_{i}" for i in range(1, 15)]
    raw["total"] = raw[items].sum(axis=1, min_count=14)
    wide = raw.pivot(index="participant_id", columns="timepoint", values="total")
    wide = wide[wide["baseline"].notna()]
    carried = wide["followup"].fillna(wide["baseline"])
    bocf = stats.ttest_rel(carried, wide["baseline"])
    assert table.at["bocf", "n_analysed"] == len(wide) == table.at["mi", "n_analysed"]
    assert table.at["bocf", "change_mean"] == pytest.approx((carried - wide["baseline"]).mean())
    assert (table.at["bocf", "ci_low"], table.at["bocf", "ci_high"]) == \
        pytest.approx(tuple(bocf.confidence_interval(0.95)))
    mi = table.loc["mi"]
    assert mi["ci_low"] < mi["change_mean"] < mi["ci_high"] and mi["m"] >= 20


def test_paired_plot_and_too_few():
    import matplotlib.pyplot as plt

    pairs = pd.DataFrame({"pre": [1.0, 2, 3, 4, 5, 6], "post": [2.0, 3, 4, 5, 6, 7]})
    fig, alt = plotting.paired_plot(pairs, title="Score", pre_label="baseline",
                                    post_label="followup", direction="higher")
    assert "6 people" in alt and "from 3.5 to 4.5" in alt
    plt.close(fig)
    fig, alt = plotting.paired_plot(pairs.head(3), title="Score", pre_label="a", post_label="b")
    assert "fewer than 5" in alt
    plt.close(fig)


def test_individual_change_plot_alt_hides_small_categories():
    import matplotlib.pyplot as plt

    rc = pd.DataFrame({"change": [10.0, 9, 1, 0, -1, 2, 3, -9],
                       "category": ["reliable improvement"] * 2 + ["no reliable change"] * 5
                       + ["reliable deterioration"],
                       "threshold": 7.5, "mid_used": 3.0, "direction": "higher"})
    fig, alt = plotting.individual_change_plot(rc, title="WEMWBS total")
    assert "reliable improvement: fewer than 5" in alt and "no reliable change: 5" in alt
    # issue 19 (30): the one person with a reliable deterioration is hidden too, and no
    # category's small count (2 improved, 1 deteriorated) appears anywhere in the alt text
    # or the figure's own text (titles, legend, annotations)
    assert "reliable deterioration: fewer than 5" in alt
    texts = [alt] + [t.get_text() for ax in fig.axes for t in
                     [ax.title, *ax.texts, *(ax.get_legend().get_texts()
                                             if ax.get_legend() else [])]]
    for text in texts:
        assert not re.search(r"(improvement|deterioration)\s*[:=(]\s*[1-4]\b", text), text
        assert not re.search(r"\bn\s*=\s*[1-4]\b", text), text
        assert not re.search(r"\b[1-4] (people|person|participants?)\b", text), text
    plt.close(fig)


def test_missing_published_reliability_falls_back_to_the_studys_alpha(demo):
    import pingouin as pg

    info = outcomes.scale_info_with_study_reliability(demo).set_index(["instrument", "scale"])
    # WEMWBS keeps its published value
    assert "Tennant" in info.loc[("wemwbs", "total"), "reliability_source"]
    # GSE has none in its definition: the study's own baseline alpha, computed here directly
    raw = demo.responses[demo.responses["timepoint"] == "baseline"]
    items = raw[[f"gse_{i}" for i in range(1, 11)]].dropna()
    alpha, _ = pg.cronbach_alpha(items)
    assert info.loc[("gse", "total"), "reliability"] == pytest.approx(alpha)
    assert "this study's Cronbach's alpha" in info.loc[("gse", "total"), "reliability_source"]
    # single items have no alpha and stay unclassified
    assert np.isnan(info.loc[("ons4", "happy"), "reliability"])


def test_score_pairs_match_the_raw_sums(demo):
    pairs = outcomes.score_pairs(demo, "wemwbs", "total")
    raw = _raw_wemwbs_pairs()
    assert len(pairs) == len(raw)
    assert (pairs.loc[raw.index, "pre"].to_numpy() == raw["baseline"].to_numpy()).all()
    assert (pairs.loc[raw.index, "post"].to_numpy() == raw["followup"].to_numpy()).all()


def _by_key(scores: pd.DataFrame) -> pd.DataFrame:
    """A score table with text keys, sorted, for comparing tables built in other orders."""
    keys = ["participant_id", "timepoint", "instrument", "scale"]
    out = scores.astype({k: str for k in keys})
    return out.sort_values(keys, kind="stable").reset_index(drop=True)


@pytest.mark.parametrize("change", ["reversed", "renamed", "service reversed",
                                    "service renamed"])
def test_scores_follow_tables_changed_after_loading(change):
    """An analyst may reorder or edit study.responses / study.service_use before asking for
    the scores. The loader's participant and service codes describe the tables as loaded,
    so they must not be applied to changed tables: each score still belongs to the
    participant (and service) of its own row, as scoring the changed tables afresh gives."""
    from spanalysis import instruments as ins

    study = load_study(DEMO)
    if change == "reversed":
        study.responses = study.responses.iloc[::-1].reset_index(drop=True)
    elif change == "renamed":  # edited in place, same length
        study.responses.loc[0, "participant_id"] = "SP9999"
    elif change == "service reversed":
        study.service_use = study.service_use.iloc[::-1].reset_index(drop=True)
    else:
        study.service_use.loc[0, "service"] = "a_and_e_visits"
    expected = ins.score_all(study.responses, study.instruments)
    service = ins.score_service_use(study.service_use, study.timepoints)
    expected = pd.concat([expected, service.astype({k: str for k in service.columns
                                                    if k in ("participant_id", "timepoint",
                                                             "instrument", "scale", "status")})])
    got = _by_key(study.scores)
    want = _by_key(expected)
    assert len(got) == len(want)
    for column in ["participant_id", "timepoint", "instrument", "scale", "score"]:
        pd.testing.assert_series_equal(got[column], want[column], check_dtype=False)


@pytest.mark.parametrize("edit", ["loc", "column", "replaced"])
def test_an_answer_changed_after_loading_is_checked_when_scored(edit):
    """Copy-on-write gives an edited responses table new memory, so an answer put out of
    range after loading (in place, by column or by a new table) is found when scored."""
    from spanalysis.errors import InputError

    study = load_study(DEMO)
    if edit == "loc":
        study.responses.loc[3, "wemwbs_2"] = 9.0
    elif edit == "column":
        study.responses["wemwbs_2"] = study.responses["wemwbs_2"].where(
            study.responses.index != 3, 9.0)
    else:
        study.responses = study.responses.assign(
            wemwbs_2=study.responses["wemwbs_2"].where(study.responses.index != 3, 9.0))
    who, when = study.responses.loc[3, ["participant_id", "timepoint"]]
    with pytest.raises(InputError) as exc:
        study.scores
    issue = exc.value.issue
    assert issue.column == "wemwbs_2" and issue.value == 9
    assert f"participant {who} at {when}" in issue.message


def test_a_valid_edit_after_loading_is_scored():
    study = load_study(DEMO)
    study.responses.loc[3, "wemwbs_2"] = 5.0
    from spanalysis.instruments import scoring

    fresh = scoring.score_all(study.responses, study.instruments)
    scores = study.scores
    questionnaire = scores[scores["instrument"] != "service_use"]
    assert np.array_equal(questionnaire["score"].to_numpy(), fresh["score"].to_numpy(),
                          equal_nan=True)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "c", None]), min_size=1, max_size=40),
       st.integers(1, 7))
def test_present_instruments_in_order_of_appearance(values, step):
    """The instruments of a score table in order of first appearance, blanks left out, as
    pandas.unique gives them, wherever the pieces the table is read in begin."""
    import spanalysis.change.outcomes as out

    table = pd.DataFrame({"instrument": pd.Categorical(values, categories=["c", "b", "a"])})
    want = [v for v in pd.unique(pd.Series(values, dtype=object)) if v is not None]
    old = out._PRESENT_STEP
    out._PRESENT_STEP = step
    try:
        assert out._present_instruments(table) == want
    finally:
        out._PRESENT_STEP = old


def test_services_listed_from_the_loader_equal_those_of_the_column():
    """The scale table lists each service once, in order of appearance, before and after an
    edit of the column."""
    study = load_study(DEMO)
    column = study.service_use["service"]
    assert study._services() == [str(v) for v in column.dropna().unique()]
    study.service_use.loc[0, "service"] = "a_and_e_visits"
    assert study._services()[0] == "a_and_e_visits"
    assert study._services() == [str(v) for v in study.service_use["service"].dropna().unique()]
    assert "a_and_e_visits" in set(study.scale_info["scale"])


def _same_table(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Equal column by column: categoricals by their values, numbers exactly."""
    assert list(a.columns) == list(b.columns) and len(a) == len(b)
    for column in a.columns:
        x, y = a[column], b[column]
        if isinstance(x.dtype, pd.CategoricalDtype):
            assert list(x.cat.categories) == list(y.cat.categories), column
            assert np.array_equal(x.cat.codes.to_numpy(), y.cat.codes.to_numpy()), column
        else:
            assert x.dtype == y.dtype, column
            assert np.array_equal(x.to_numpy(), y.to_numpy(), equal_nan=True), column


@pytest.mark.parametrize("form", ["categorical", "text, follow-up first", "unknown time point"])
def test_score_time_points_in_the_studys_order(demo, form):
    """Scores name each row's time point as its response row does, as an ordered
    categorical in the study's order, whether the responses' time points are already in
    that order (the loader's categorical), text in another order, or include one the study
    does not list (blank in the scores)."""
    from spanalysis.instruments import score_study

    responses = demo.responses
    if form != "categorical":
        responses = responses.iloc[::-1].reset_index(drop=True)  # follow-up rows first
        text = responses["timepoint"].astype(str)
        if form == "unknown time point":
            text[text.index[:5]] = "midpoint"
        responses = responses.assign(timepoint=text)
    scores = score_study(responses, demo.instruments, timepoints=demo.timepoints)
    tp = scores["timepoint"]
    assert list(tp.cat.categories) == list(demo.timepoints) and tp.cat.ordered
    n = len(responses)   # one block of rows per scale, in the responses' order
    source = responses["timepoint"].astype(str)
    want = source.where(source.isin(demo.timepoints), "(blank)").tolist()
    assert (form == "unknown time point") == ("(blank)" in want)
    for block in range(len(scores) // n):
        got = tp.iloc[block * n:(block + 1) * n].astype(object).fillna("(blank)")
        assert got.tolist() == want


def test_the_change_tables_holm_family_counts_each_outcome_once(demo):
    # issue 19: 9. The 15 questionnaire scales of the demo, by hand: WEMWBS total with SWEMWBS
    # metric and raw (scored from seven WEMWBS items) = 1 outcome; GSE total and mean (the
    # same items) = 1; ONS4's four items = 4; UCLA-3 = 1; ONS loneliness = 1; MYCaW concern 1,
    # concern 2, wellbeing and profile = 4 (different items). 12 tests, not 15.
    from statsmodels.stats.multitest import multipletests

    table = outcomes.change_table(demo)
    assert len(table) == 15 and outcomes.holm_family_size(demo) == 12
    first = table.sort_values("p").iloc[0]
    assert first["p_holm"] == pytest.approx(12 * first["p"])
    key = list(zip(table["instrument"], table["scale"]))
    family = table[~table["instrument"].isin(["swemwbs"]) & (table["scale"] != "mean")]
    assert len(family) == 12
    ref = multipletests(family["p"], method="holm")[1]
    assert family["p_holm"].to_numpy() == pytest.approx(ref)
    # SWEMWBS metric: adjusted in WEMWBS total's place with its own p
    sw = table.iloc[key.index(("swemwbs", "metric"))]
    p = family["p"].to_numpy().copy()
    p[list(family["instrument"]).index("wemwbs")] = sw["p"]
    assert sw["p_holm"] == pytest.approx(
        multipletests(p, method="holm")[1][list(family["instrument"]).index("wemwbs")])
    assert outcomes.FAMILY_RULE.startswith("Holm's adjustment counts each planned test once")


def test_withheld_tests_still_count_in_the_holm_family():
    # issue 19: 9, by hand: p = 0.01, 0.02, 0.03 for three outcomes; the third is withheld
    # from the display but planned, so the family is 3: 0.01 x 3 = 0.03, max(0.02 x 2, 0.03)
    # = 0.04 (Holm 1979). Dropping it would give 0.02 and 0.02.
    from spanalysis.change.family import family_size, holm_by_outcome

    assert holm_by_outcome([0.01, 0.02, 0.03], ["a", "b", "c"])[:2].tolist() == \
        pytest.approx([0.03, 0.04])
    assert family_size([0.01, 0.02, 0.03, 0.5], ["a", "b", "c", "a"]) == 3


def test_a_site_report_judges_reliable_change_against_the_whole_studys_threshold(demo):
    # issue 19: 5. The notebooks call reliable_change_table (02) and case_level (04) on
    # study.for_site(site); each participant's category must be the one of the whole-study
    # computation, with the whole study's threshold, at every site.
    from spanalysis import integrate

    key = ["participant_id", "instrument", "scale"]
    whole, _ = outcomes.reliable_change_table(demo)
    whole_alpha, _ = outcomes.reliable_change_table(demo, basis="alpha")
    thresholds = outcomes.study_thresholds(demo).set_index(["instrument", "scale"])
    sd, rel = outcomes.rc_settings(thresholds.reset_index(), published_only=True)
    whole_cases = integrate.case_level(demo).set_index("participant_id")["primary_category"]
    assert len(demo.sites) == 8
    moved, compared = 0, 0
    for site in demo.sites:
        s = demo.for_site(site)
        rc, summary = outcomes.reliable_change_table(s, whole=demo)
        m = whole.merge(rc, on=key, suffixes=("", "_site"))
        assert len(m) == len(rc) > 0
        compared += len(m)
        assert (m["category"].fillna("-") == m["category_site"].fillna("-")).all()
        assert m["threshold"].equals(m["threshold_site"]) or np.allclose(
            m["threshold"], m["threshold_site"], equal_nan=True)
        for r in summary[summary["threshold"].notna()].itertuples():
            assert r.threshold == thresholds.loc[(r.instrument, r.scale), "threshold"]
            assert r.sd_source == thresholds.loc[(r.instrument, r.scale), "sd_source"]
        # the issue's count was made with the alpha-based thresholds (the reliability the
        # reports used then): the site's own SD against the whole study's, both on alpha
        own, _ = outcomes.reliable_change_table(s, basis="alpha")
        o = whole_alpha.merge(own, on=key, suffixes=("", "_own"))
        moved += int((o["category"].fillna("-") != o["category_own"].fillna("-")).sum())
        cases = integrate.case_level(s, sd=sd, reliability=rel) \
            .set_index("participant_id")["primary_category"]
        assert len(cases) and cases.equals(whole_cases.reindex(cases.index))
    assert compared == len(whole)
    assert moved == 14          # the people the issue found classified differently


# ------------------------------------------------- studies where change cannot be measured

def test_why_no_change_and_baseline_description(tmp_path):
    """One time point: no change, and the baseline description matches scipy's t interval,
    numpy's quartiles and pandas' SD on WEMWBS totals summed from the raw file."""
    from test_study_shapes import one_timepoint

    folder = tmp_path / "one"
    one_timepoint(folder)
    study = load_study(folder)
    assert outcomes.why_no_change(study).startswith("This study has one time point (baseline)")
    assert outcomes.headline(study)["n_pairs"] == 0
    assert "not_measured" in outcomes.headline(study)

    raw = pd.read_csv(folder / "responses.csv", dtype={"participant_id": str})
    items = [f"wemwbs_{i}" for i in range(1, 15)]
    total = raw[items].sum(axis=1, min_count=14).dropna().to_numpy(float)
    row = outcomes.baseline_table(study).query("instrument == 'wemwbs' and scale == 'total'")
    assert len(row) == 1
    row = row.iloc[0]
    low, high = stats.t.interval(0.95, total.size - 1, loc=total.mean(),
                                 scale=stats.sem(total))
    assert row["n"] == total.size
    assert row["mean"] == pytest.approx(total.mean())
    assert row["sd"] == pytest.approx(pd.Series(total).std())
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((low, high))
    assert (row["q1"], row["median"], row["q3"]) == pytest.approx(
        tuple(np.percentile(total, [25, 50, 75])))


def test_no_followups_yet_and_one_site(tmp_path):
    from test_study_shapes import no_followups, single_site

    folder = tmp_path / "nofollow"
    no_followups(folder)
    study = load_study(folder)
    assert len(study.timepoints) == 2
    assert outcomes.why_no_change(study).startswith("No one has questionnaire scores at both")

    one = tmp_path / "one_site"
    single_site(one)
    study = load_study(one)
    assert outcomes.why_no_change(study) is None
    assert outcomes.why_no_site_model(study, "wemwbs", "total") == (
        "This study has one site, so between-site variation is not estimated.")


def test_site_model_possible_on_the_demo(demo):
    assert outcomes.why_no_site_model(demo, "wemwbs", "total") is None
