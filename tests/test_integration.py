"""Mixed-methods integration displays (spanalysis.integrate).

References used by these tests (never the module's own output):
* pingouin.ttest(x, y, correction=True) and pingouin.compute_effsize(..., eftype='hedges')
  called directly on groups rebuilt here from the raw scores, sources and segments;
* scipy.stats.ttest_1samp(...).confidence_interval() for each group's mean;
* statsmodels.stats.multitest.multipletests(method='holm');
* hand-worked arithmetic in comments;
* the demo study's planted truth (spanalysis.demo.PLANTED).
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pingouin as pg
import pytest
from conftest import DEMO, folder_digest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from spanalysis import change
from spanalysis import integrate as I
from spanalysis.demo import PLANTED
from spanalysis.errors import InputError
from spanalysis.study import load_study

FIX = Path(__file__).parent / "fixtures" / "integration"


# --------------------------------------------------------------------------------------------
# fixtures and independent helpers
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo():
    return load_study(DEMO)


def interviewed(study) -> set[str]:
    src = study.qualitative.sources
    return set(src.loc[src["source_type"] == "interview", "participant_id"].dropna())


def voicers(study, code: str) -> set[str]:
    """Participants with a segment of ``code`` in one of their interviews (any coder)."""
    q = study.qualitative
    src = q.sources[q.sources["source_type"] == "interview"]
    seg = q.segments[q.segments["code_id"] == code]
    return set(src.loc[src["source_id"].isin(seg["source_id"]), "participant_id"])


def scale_change(study, instrument: str, scale: str) -> pd.Series:
    s = study.scores
    s = s[(s["instrument"] == instrument) & (s["scale"] == scale)]
    wide = s.pivot(index="participant_id", columns="timepoint", values="score")
    return (wide["followup"] - wide["baseline"]).dropna()


def item_change(study, item: str) -> pd.Series:
    r = study.responses
    a = r[r["timepoint"] == "baseline"].set_index("participant_id")[item]
    b = r[r["timepoint"] == "followup"].set_index("participant_id")[item]
    return (b - a.reindex(b.index)).dropna()


def split(study, code: str, values: pd.Series):
    """Change of interviewed completers: (voicers, non-voicers)."""
    inter, said = interviewed(study), voicers(study, code)
    v = values[values.index.isin(inter)]
    return v[v.index.isin(said)].to_numpy(), v[~v.index.isin(said)].to_numpy()


# --------------------------------------------------------------------------------------------
# the two-group statistics
# --------------------------------------------------------------------------------------------
def test_welch_comparison_hand_worked():
    # x = 4 6 5 7 8: mean 6, squared deviations 4+0+1+1+4 = 10, s2 = 10/4 = 2.5
    # y = 1 2 3 2:   mean 2, squared deviations 1+0+1+0 = 2,  s2 = 2/3
    # s2x/nx = 0.5, s2y/ny = 1/6, SE = sqrt(2/3) = 0.816497; t = 4 / 0.816497 = 4.898979
    # df = (2/3)^2 / (0.5^2/4 + (1/6)^2/3) = 0.444444 / 0.071759 = 6.193548
    # pooled s2 = (4*2.5 + 3*2/3) / 7 = 12/7, s = 1.309307, d = 3.055050
    # J = 1 - 3/(4*7 - 1) = 0.888889, g = 2.715600
    r = I.welch_comparison([4, 6, 5, 7, 8], [1, 2, 3, 2]).iloc[0]
    assert r["difference"] == pytest.approx(4.0)
    assert r["t"] == pytest.approx(4.898979, abs=1e-6)
    assert r["df"] == pytest.approx(6.193548, abs=1e-6)
    assert r["hedges_g"] == pytest.approx(2.715600, abs=1e-6)
    tcrit = stats.t.ppf(0.975, 6.193548387)
    assert r["difference_ci_low"] == pytest.approx(4 - tcrit * math.sqrt(2 / 3), abs=1e-6)


@pytest.mark.parametrize("seed", [1, 2])
def test_welch_comparison_matches_pingouin(seed):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(1, 2, 17), rng.normal(0, 1, 9)
    r = I.welch_comparison(x, y, confidence=0.9).iloc[0]
    ref = pg.ttest(x, y, correction=True, confidence=0.9).iloc[0]
    assert r["t"] == pytest.approx(ref["T"])
    assert r["df"] == pytest.approx(ref["dof"])
    assert r["p"] == pytest.approx(ref["p_val"])
    assert [r["difference_ci_low"], r["difference_ci_high"]] == \
        pytest.approx(list(ref["CI90"]), abs=0.01)  # pingouin rounds its CI for display
    ci = stats.ttest_ind(x, y, equal_var=False).confidence_interval(0.9)
    assert [r["difference_ci_low"], r["difference_ci_high"]] == pytest.approx([ci.low, ci.high])
    assert r["hedges_g"] == pytest.approx(pg.compute_effsize(x, y, eftype="hedges"))
    ci = stats.ttest_1samp(x, 0).confidence_interval(0.9)
    assert [r["ci_low_x"], r["ci_high_x"]] == pytest.approx([ci.low, ci.high])


# --------------------------------------------------------------------------------------------
# statistics by themes
# --------------------------------------------------------------------------------------------
def test_statistics_by_themes_matches_pingouin_on_rebuilt_groups(demo):
    table = I.statistics_by_themes(demo)
    for code, inst, scale in [("social_connection", "ucla3", "total"),
                              ("space_to_think", "wemwbs", "total"),
                              ("hope", "ons_lonely", "lonely")]:
        row = table[(table["theme"] == code) & (table["instrument"] == inst)
                    & (table["scale"] == scale)].iloc[0]
        x, y = split(demo, code, scale_change(demo, inst, scale))
        ref = pg.ttest(x, y, correction=True).iloc[0]
        assert (row["n_voiced_completers"], row["n_not_voiced_completers"]) == (len(x), len(y))
        assert row["n_voiced"] == len(voicers(demo, code))
        assert row["n_interviewed"] == len(interviewed(demo)) == 60
        assert row["difference"] == pytest.approx(x.mean() - y.mean())
        assert row["t"] == pytest.approx(ref["T"])
        assert row["df"] == pytest.approx(ref["dof"])
        assert row["p"] == pytest.approx(ref["p_val"])
        # pingouin's CI column is rounded for display: compare it loosely, scipy exactly
        assert [row["difference_ci_low"], row["difference_ci_high"]] == \
            pytest.approx(list(ref["CI95"]), abs=0.01)
        ci = stats.ttest_ind(x, y, equal_var=False).confidence_interval(0.95)
        assert [row["difference_ci_low"], row["difference_ci_high"]] == \
            pytest.approx([ci.low, ci.high])
        # Hedges g by hand: pooled SD, J = 1 - 3 / (4 (n1 + n2) - 9)
        n1, n2 = len(x), len(y)
        sp = math.sqrt(((n1 - 1) * x.var(ddof=1) + (n2 - 1) * y.var(ddof=1)) / (n1 + n2 - 2))
        g = (x.mean() - y.mean()) / sp * (1 - 3 / (4 * (n1 + n2) - 9))
        better = -1 if row["direction"] == "lower" else 1   # g is signed: positive = improved
        assert row["hedges_g"] == pytest.approx(better * g)
        assert abs(row["hedges_g"]) == pytest.approx(ref["cohen_d"] * (1 - 3 / (4 * (n1 + n2)
                                                                                 - 9)))
        ci = stats.ttest_1samp(y, 0).confidence_interval(0.95)
        assert [row["not_voiced_ci_low"], row["not_voiced_ci_high"]] == \
            pytest.approx([ci.low, ci.high])


def test_statistics_by_themes_holm_family(demo):
    # issue 19: 9. The family, by hand: 12 themes x 8 default scales = 96 planned tests, of
    # which 9 are withheld (a group below 5) and still count; SWEMWBS is scored from the
    # WEMWBS items, so it is WEMWBS's outcome and not counted again: 12 x 7 = 84 tests.
    t = I.statistics_by_themes(demo)
    assert len(t) == 96 and t["theme"].nunique() == 12 and t["small_group"].sum() == 9
    assert t["p"].notna().sum() == 87                  # shown
    m = 12 * 7
    first = t.sort_values("p").iloc[0]                 # the smallest p: multiplied by m
    assert first["p_holm"] == pytest.approx(m * first["p"])
    assert (t["holm_family_size"] == m).all()
    # the family without SWEMWBS, every planned test (withheld ones rebuilt from the data)
    planned = []
    for row in t.itertuples():
        x, y = split(demo, row.theme, scale_change(demo, row.instrument, row.scale))
        planned.append(stats.ttest_ind(x, y, equal_var=False).pvalue
                       if len(x) >= 2 and len(y) >= 2 else np.nan)
    t = t.assign(planned=planned)
    assert t.loc[t["p"].notna(), "planned"].to_numpy() == pytest.approx(t["p"].dropna())
    family = t[t["instrument"] != "swemwbs"]
    assert family["planned"].notna().sum() == m
    ref = pd.Series(multipletests(family["planned"], method="holm")[1], index=family.index)
    shown = family["p"].notna()
    assert t.loc[family.index[shown], "p_holm"].to_numpy() == pytest.approx(ref[shown])
    assert t.loc[t["p"].isna(), "p_holm"].isna().all()  # withheld stays withheld
    # a SWEMWBS test is adjusted in WEMWBS's place of the same theme
    sw = t[(t["instrument"] == "swemwbs") & t["p"].notna()].iloc[0]
    w = family.index[(family["instrument"] == "wemwbs") & (family["theme"] == sw["theme"])][0]
    swapped = family["planned"].copy()
    swapped[w] = sw["planned"]
    assert sw["p_holm"] == pytest.approx(multipletests(swapped, method="holm")[1][
        family.index.get_loc(w)])
    by_scale = I.statistics_by_themes(demo, family="scale").assign(planned=planned)
    groups = list(by_scale.groupby(["instrument", "scale"]))
    assert len(groups) == 8 and by_scale["holm_family_size"].max() == 12
    for _, g in groups:   # within a scale: its 12 themes, withheld ones included
        g = g[g["planned"].notna()]
        ref = multipletests(g["planned"], method="holm")[1]
        shown = g["p"].notna().to_numpy()
        assert g.loc[shown, "p_holm"].to_numpy() == pytest.approx(ref[shown])
    with pytest.raises(InputError, match="Holm family"):
        I.statistics_by_themes(demo, family="everything")


def test_social_connection_voicers_reduce_loneliness_more(demo):
    # Planted: latent loneliness falls 0.9 SD more for voicers. UCLA-3 total is
    # lower-is-better, so the raw difference is negative and the improvement positive.
    t = I.statistics_by_themes(demo, scales=["ucla3/total", ("ons_lonely", "lonely")],
                               themes=["social_connection"])
    ucla = t[t["instrument"] == "ucla3"].iloc[0]
    assert ucla["direction"] == "lower"
    assert ucla["difference"] < 0 and ucla["difference_ci_high"] < 0
    assert ucla["improvement_difference"] == pytest.approx(-ucla["difference"])
    assert ucla["improvement_ci_low"] == pytest.approx(-ucla["difference_ci_high"])
    assert ucla["improvement_ci_low"] > 0
    ons = t[t["instrument"] == "ons_lonely"].iloc[0]
    assert ons["direction"] == "higher" and ons["improvement_ci_low"] > 0


def test_small_groups_are_withheld(demo):
    # trust_services: 16 voicers, of whom 12 completed WEMWBS (8 no reliable change + 4
    # reliable improvement, counted below independently); 13 > 12, so withheld.
    x, y = split(demo, "trust_services", scale_change(demo, "wemwbs", "total"))
    assert len(x) == 12
    t = I.statistics_by_themes(demo, scales=["wemwbs"], themes=["trust_services", "hope"],
                               min_cell_size=len(x) + 1)
    trust = t[t["theme"] == "trust_services"].iloc[0]
    assert bool(trust["small_group"])
    assert trust[["voiced_mean", "difference", "p", "hedges_g", "p_holm"]].isna().all()
    assert trust["n_voiced_completers"] == 12  # the counts stay
    hope = t[t["theme"] == "hope"].iloc[0]
    assert not hope["small_group"] and np.isfinite(hope["difference"])
    # the study default (5) applies when not given
    assert not I.statistics_by_themes(demo, scales=["wemwbs"],
                                      themes=["trust_services"])["small_group"].iloc[0]


# --------------------------------------------------------------------------------------------
# participant table
# --------------------------------------------------------------------------------------------
def test_participant_table(demo):
    t = I.participant_table(demo).set_index("participant_id")
    assert len(t) == len(demo.participants)
    ch = scale_change(demo, "wemwbs", "total")
    assert t.loc[ch.index, "wemwbs.total_change"].to_numpy() == pytest.approx(ch.to_numpy())
    assert t["wemwbs.total_change"].notna().sum() == len(ch)
    rc = change.reliable_change(demo.scores[demo.scores["instrument"] == "wemwbs"],
                                demo.scale_info[demo.scale_info["instrument"] == "wemwbs"],
                                timepoints=demo.timepoints).set_index("participant_id")
    assert (t.loc[rc.index, "wemwbs.total_category"] == rc["category"]).all()
    inter = interviewed(demo)
    assert set(t.index[t["interviewed"]]) == inter
    said = voicers(demo, "hope")
    hope = t["theme.hope"]
    assert hope[~t["interviewed"]].isna().all()  # not interviewed: unknown, not 0
    assert set(hope[hope == 1].index) == said
    assert (hope[t["interviewed"]].sum(), t["theme_count.hope"].min()) == (len(said), 0)


# --------------------------------------------------------------------------------------------
# measurement coverage and crosswalk
# --------------------------------------------------------------------------------------------
def test_measurement_coverage_on_demo(demo):
    cov = I.measurement_coverage(demo)
    status = cov.groupby("theme")["coverage"].first()
    assert status["trust_services"] == "not measured"
    assert status["family_dynamics"] == "not measured"
    assert status[["hope", "space_to_think", "social_connection",
                   "valued_not_alone"]].eq("measured").all()
    items = cov.set_index(["theme", "item"])
    # directions: UCLA-3 items from the UCLA-3 scale (lower is better); ONS lonely higher
    assert items.loc[("social_connection", "ucla3_1"), "direction"] == "lower"
    assert items.loc[("social_connection", "ons_lonely"), "direction"] == "higher"
    # hope voicers improve more on wemwbs_1 (planted +1.0): check against pingouin
    x, y = split(demo, "hope", item_change(demo, "wemwbs_1"))
    ref = pg.ttest(x, y, correction=True).iloc[0]
    row = items.loc[("hope", "wemwbs_1")]
    assert (row["n_voiced_completers"], row["n_not_voiced_completers"]) == (len(x), len(y))
    assert row["t"] == pytest.approx(ref["T"]) and row["p"] == pytest.approx(ref["p_val"])
    ci = stats.ttest_ind(x, y, equal_var=False).confidence_interval(0.95)
    assert row["improvement_ci_low"] == pytest.approx(ci.low) and row["improvement_ci_low"] > 0
    # loneliness items: lower is better, so improvement = -(raw difference)
    x, y = split(demo, "social_connection", item_change(demo, "ucla3_2"))
    row = items.loc[("social_connection", "ucla3_2")]
    assert row["difference"] == pytest.approx(x.mean() - y.mean()) and row["difference"] < 0
    assert row["improvement_difference"] == pytest.approx(y.mean() - x.mean())
    measured = cov["coverage"] == "measured"
    assert cov.loc[measured, "p_holm"].to_numpy() == pytest.approx(
        multipletests(cov.loc[measured, "p"], method="holm")[1])
    assert cov.loc[~measured, "small_group"].isna().all()


def test_custom_crosswalk(demo):
    cov = I.measurement_coverage(demo, crosswalk=FIX / "crosswalk_custom.yaml",
                                 themes=["hope", "social_connection", "trust_services",
                                         "family_dynamics", "valued_not_alone"])
    by = cov.set_index("theme")
    assert by.loc["trust_services", "item"] == "ons4_satisfaction"
    assert by.loc["hope", "theme_label"] == "Hope (study wording)"
    assert by.loc["family_dynamics", "note"] == "nothing covers it"
    assert by.loc["valued_not_alone", "note"] == "no entry in the crosswalk"
    assert by.loc["valued_not_alone", "coverage"] == "not measured"


@pytest.mark.parametrize("name, key, message", [
    ("crosswalk_unknown_theme.yaml", "themes.feeling_heard", "theme not in the study's codebook"),
    ("crosswalk_unknown_item.yaml", "themes.hope.items[1]", "unknown questionnaire item"),
    ("crosswalk_bad_direction.yaml", "themes.social_connection.items[0].direction",
     "unknown direction"),
    ("crosswalk_contradiction.yaml", "themes.social_connection.items[0].direction",
     "contradicts the instrument definition"),
    ("crosswalk_unknown_key.yaml", "themes.hope.itemz", "unknown key"),
])
def test_crosswalk_validation(demo, name, key, message):
    with pytest.raises(InputError, match=message) as err:
        I.measurement_coverage(demo, crosswalk=FIX / name)
    assert err.value.issue.file == name
    assert err.value.issue.column == key


def test_crosswalk_unreadable(demo, tmp_path):
    with pytest.raises(InputError, match="duplicate key") as err:
        I.read_crosswalk(demo, FIX / "crosswalk_duplicate_key.yaml")
    assert err.value.issue.file == "crosswalk_duplicate_key.yaml" and err.value.issue.row == 5
    bad = tmp_path / "cw.yaml"
    bad.write_text("themes: [unclosed\n", encoding="utf-8")
    with pytest.raises(InputError, match="not valid YAML"):
        I.read_crosswalk(demo, bad)
    with pytest.raises(InputError, match="file not found"):
        I.read_crosswalk(demo, tmp_path / "missing.yaml")


# --------------------------------------------------------------------------------------------
# fit rules and side by side
# --------------------------------------------------------------------------------------------
def test_classify_fit_rules_case_by_case():
    rows = pd.DataFrame([
        # theme, coverage, small_group, improvement CI
        ("no_item", "not measured", None, np.nan, np.nan),          # rule 1 expansion
        ("tiny", "measured", True, np.nan, np.nan),                 # rule 2 not assessable
        ("tiny", "measured", True, np.nan, np.nan),
        ("confirms", "measured", False, 0.1, 0.8),                  # rule 3
        ("confirms", "measured", False, -0.2, 0.5),                 # one null item is fine
        ("null", "measured", False, -0.2, 0.5),                     # rule 4: all include 0
        ("null", "measured", True, np.nan, np.nan),
        ("less", "measured", False, -0.9, -0.1),                    # rule 4: improved less
        ("mixed", "measured", False, 0.1, 0.9),                     # rule 4: disagree
        ("mixed", "measured", False, -0.9, -0.2),
        ("edge", "measured", False, 0.0, 0.7),                      # CI touching 0: not > 0
    ], columns=["theme", "coverage", "small_group", "improvement_ci_low",
                "improvement_ci_high"])
    fit = I.classify_fit(rows, interval="unadjusted").set_index("theme")
    assert fit["fit"].to_dict() == {
        "no_item": "expansion", "tiny": "not assessable", "confirms": "confirmation",
        "null": "discordance", "less": "discordance", "mixed": "discordance",
        "edge": "discordance"}
    assert "disagree" in fit.at["mixed", "fit_rule"]
    assert "less" in fit.at["less", "fit_rule"]
    assert set(fit["fit"]) <= set(I.FITS)


def test_side_by_side_on_demo(demo):
    sbs = I.side_by_side(demo).set_index("theme")
    assert sbs.loc["trust_services", "fit"] == "expansion"
    assert sbs.loc["hope", "fit"] == "confirmation"
    # issue 23: 7: the fit uses the outcome hierarchy's intervals. UCLA-3 and ONS loneliness
    # are secondary outcomes: their Bonferroni intervals include 0, so the theme that the
    # unadjusted intervals confirm is discordant (tests/test_adjusted_fit.py has the numbers)
    assert sbs.loc["social_connection", "fit"] == "discordance"
    unadjusted = I.classify_fit(I.measurement_coverage(demo), interval="unadjusted")
    assert unadjusted.set_index("theme").at["social_connection", "fit"] == "confirmation"
    assert sbs.loc["space_to_think", "fit"] == "discordance"
    assert (sbs["meta_inference"] == I.NOT_WRITTEN).all()
    assert not sbs["meta_inference_written"].any()
    assert sbs.loc["hope", "n_voiced"] == len(voicers(demo, "hope"))
    quotes = sbs.loc["hope", "quotes"]
    assert 1 <= len(quotes) <= 2
    assert len({q["participant_id"] for q in quotes}) == len(quotes)
    assert all(q["participant_id"] in voicers(demo, "hope") for q in quotes)
    assert "Not measured" in sbs.loc["trust_services", "quantitative_result"]


def test_meta_inferences_read_from_the_analysts_file(demo, tmp_path):
    sbs = I.side_by_side(demo, meta_inferences_path=FIX / "meta_inferences.yaml") \
        .set_index("theme")
    assert sbs.loc["hope", "meta_inference"].startswith("Interviews and the optimism item")
    assert sbs.loc["trust_services", "meta_inference"] == \
        "The questionnaires cannot show this benefit."
    assert sbs.loc["space_to_think", "meta_inference"] == I.NOT_WRITTEN  # blank text
    assert sbs.loc["social_connection", "meta_inference"] == I.NOT_WRITTEN  # no entry
    assert sbs["meta_inference_written"].sum() == 2
    # a file that does not exist yet: nothing written, nothing invented
    assert I.read_meta_inferences(tmp_path / "none.yaml") == {}
    with pytest.raises(InputError, match="unknown theme") as err:
        I.side_by_side(demo, meta_inferences_path=FIX / "meta_unknown_theme.yaml")
    assert err.value.issue.column == "meta_inferences.hopefulness"


def test_meta_inference_template(demo, tmp_path):
    path = tmp_path / "meta_inferences.yaml"
    I.write_meta_inference_template(demo, path)
    text = path.read_text(encoding="utf-8")
    assert "fit from the data: expansion" in text and "trust_services:" in text
    assert I.read_meta_inferences(path) == {}  # empty texts, nothing on the analyst's behalf
    path.write_text(text.replace('text: ""', 'text: "Written."', 1), encoding="utf-8")
    written = I.read_meta_inferences(path, I.benefit_themes(demo))
    assert list(written.values()) == ["Written."]
    before = path.read_bytes()
    with pytest.raises(InputError, match="already exists"):
        I.write_meta_inference_template(demo, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["meta_inferences.yaml"]  # no temp left


# --------------------------------------------------------------------------------------------
# case level
# --------------------------------------------------------------------------------------------
def test_classify_cases_case_by_case():
    imp, same, det = I.CHANGE_GROUPS
    rows = [  # (benefit themes voiced, primary category) -> (classification, divergence)
        (0, imp, "divergent", "negative"), (1, imp, "convergent", None),
        (3, imp, "convergent", None),
        (0, same, "convergent", None), (1, same, "convergent", None),
        (2, same, "divergent", "positive"), (4, same, "divergent", "positive"),
        (0, det, "convergent", None), (1, det, "divergent", "positive"),
        (2, det, "divergent", "positive"),
        (3, None, "not classified", None), (0, I.NOT_CLASSIFIED, "not classified", None),
    ]
    cases = pd.DataFrame({"n_benefit_themes": [r[0] for r in rows],
                          "primary_category": [r[1] for r in rows]})
    out = I.classify_cases(cases)
    assert out["classification"].tolist() == [r[2] for r in rows]
    assert [None if pd.isna(v) else v for v in out["divergence"]] == [r[3] for r in rows]
    assert out["reason"].str.len().gt(0).all()
    assert I.DIVERGENT_POSITIVE_MIN_THEMES == 2


def test_space_to_think_voiced_without_reliable_change(demo):
    cases = I.case_level(demo)
    said = voicers(demo, "space_to_think")
    mine = cases[cases["participant_id"].isin(said)]
    assert len(mine) == len(said)
    # planted: completers who voice it change by at most 5 WEMWBS points, inside the
    # reliable-change threshold; compute the categories independently
    rc = change.reliable_change(demo.scores[demo.scores["instrument"] == "wemwbs"],
                                demo.scale_info[demo.scale_info["instrument"] == "wemwbs"],
                                timepoints=demo.timepoints).set_index("participant_id")
    ref = rc["category"].reindex(sorted(said))
    assert (ref.dropna() == "no reliable change").all()
    assert (ref.notna().sum() > len(said) / 2)  # a majority of its voicers
    assert rc.loc[ref.dropna().index, "change"].abs().max() <= \
        PLANTED["themes"]["space_to_think"]["max_abs_wemwbs_change"]
    # classification matches the rule on independently counted benefit themes
    benefits = I.benefit_themes(demo)
    n_benefits = pd.Series(0, index=sorted(interviewed(demo)))
    for code in benefits:
        n_benefits[n_benefits.index.isin(voicers(demo, code))] += 1
    c = cases.set_index("participant_id")
    assert (c["n_benefit_themes"] == n_benefits.reindex(c.index)).all()
    div = I.divergent_cases(demo)
    space_div = div[div["benefit_themes"].str.contains("space_to_think")]
    assert len(space_div) > 0
    expected = {p for p in said if ref.get(p) == "no reliable change" and n_benefits[p] >= 2}
    assert set(space_div["participant_id"]) == expected
    assert (space_div["divergence"] == "positive").all()
    for quotes in div["quotes"]:
        assert 1 <= len(quotes) <= 3
        assert {"text", "participant_id", "site", "theme", "sensitive"} <= set(quotes[0])


def test_case_level_needs_a_reliability(demo):
    with pytest.raises(InputError, match="no published reliability"):
        I.case_level(demo, primary="ucla3")
    with pytest.raises(InputError, match="unknown instrument scale"):
        I.case_level(demo, primary="wemwbs/everything")


# --------------------------------------------------------------------------------------------
# quotes: redaction and sensitive material
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def altered(demo):
    """The demo with a name planted in one coded passage and a distress code overlapping
    another (in memory; the files are not touched)."""
    q = demo.qualitative
    seg = q.segments.copy()
    space = seg[(seg["code_id"] == "space_to_think") & seg["source_id"].str.startswith("INT")]
    first, second = space.index[0], space.index[1]
    seg.loc[first, "text"] = "Zebedee Quartermaine said I could take my time."
    extra = seg.loc[[second]].assign(segment_id="SEGX", code_id="distress_disclosure",
                                     start=seg.loc[second, "end"] - 5,
                                     end=seg.loc[second, "end"] + 20)
    seg = pd.concat([seg, extra], ignore_index=True)
    qual = dataclasses.replace(q, segments=seg, names=list(q.names) + ["Zebedee Quartermaine"])
    study = dataclasses.replace(demo, qualitative=qual)
    return study, seg.loc[first, "segment_id"], seg.loc[second, "segment_id"]


def test_quotes_are_redacted_and_sensitive_marked(altered):
    study, named, sensitive = altered
    m = I.quote_matrix(study, themes=["space_to_think"], quotes=50)
    quotes = [q for cell in m["quotes"] for q in cell]
    by_id = {q["segment_id"]: q for q in quotes}
    assert "Zebedee" not in by_id[named]["text"] and "[NAME]" in by_id[named]["text"]
    assert by_id[sensitive]["sensitive"] is True
    assert sum(q["sensitive"] for q in quotes) == 1
    # within a cell, non-sensitive quotes come first
    for cell in m["quotes"]:
        flags = [q["sensitive"] for q in cell]
        assert flags == sorted(flags)


def test_quote_matrix_counts(demo):
    m = I.quote_matrix(demo, themes=["space_to_think", "hope"], quotes=2)
    assert list(m["change_group"].cat.categories) == list(I.CHANGE_GROUPS) + [I.NOT_CLASSIFIED]
    rc = change.reliable_change(demo.scores[demo.scores["instrument"] == "wemwbs"],
                                demo.scale_info[demo.scale_info["instrument"] == "wemwbs"],
                                timepoints=demo.timepoints).set_index("participant_id")
    inter = sorted(interviewed(demo))
    group = rc["category"].reindex(inter).fillna(I.NOT_CLASSIFIED)
    for code in ("space_to_think", "hope"):
        said = group[group.index.isin(voicers(demo, code))].value_counts()
        got = m[m["theme"] == code].set_index("change_group")
        for g in got.index:
            assert got.loc[g, "n_voiced"] == said.get(g, 0)
            assert got.loc[g, "n_group"] == (group == g).sum()
            assert len(got.loc[g, "quotes"]) == min(2, said.get(g, 0))
    space = m[m["theme"] == "space_to_think"].set_index("change_group")
    assert space.loc["reliable improvement", "n_voiced"] == 0
    assert bool(space.loc["reliable improvement", "small_group"])


# --------------------------------------------------------------------------------------------
# configurations and prevalence
# --------------------------------------------------------------------------------------------
def test_configuration_table(demo):
    t = I.configuration_table(demo, themes=["hope", "social_connection"], min_cell_size=1)
    inter = sorted(interviewed(demo))
    h, s = voicers(demo, "hope"), voicers(demo, "social_connection")
    label = {p: " + ".join([c for c, v in (("hope", h), ("social_connection", s)) if p in v])
             or "(none)" for p in inter}
    counts = pd.Series(label).value_counts()
    got = t.set_index("configuration")
    assert got["n"].to_dict() == counts.to_dict()
    assert got.loc["hope + social_connection", ["theme.hope",
                                                "theme.social_connection"]].tolist() == [1, 1]
    ch = scale_change(demo, "wemwbs", "total")
    both = [p for p in inter if label[p] == "hope + social_connection" and p in ch.index]
    assert got.loc["hope + social_connection", "mean_change"] == \
        pytest.approx(ch[both].mean())
    assert got.loc["hope + social_connection", "n_completers"] == len(both)
    small = I.configuration_table(demo, themes=["hope", "social_connection"],
                                  min_cell_size=len(both) + 1).set_index("configuration")
    assert small.loc["hope + social_connection", "small_group"]
    assert np.isnan(small.loc["hope + social_connection", "mean_change"])


def test_prevalence_by_site_and_heatmap(demo):
    p = I.theme_prevalence(demo, by="site", themes=["hope", "trust_services"])
    src = demo.qualitative.sources
    site_of = src[src["source_type"] == "interview"].drop_duplicates("participant_id") \
        .set_index("participant_id")["site"]
    n_site = site_of.value_counts()
    row = p[(p["site"] == "Millbrook PCN") & (p["theme"] == "hope")].iloc[0]
    said = site_of[site_of.index.isin(voicers(demo, "hope"))].value_counts()
    assert row["n_group"] == n_site["Millbrook PCN"]
    assert row["pct_voiced"] == pytest.approx(100 * said["Millbrook PCN"]
                                              / n_site["Millbrook PCN"])
    k = 8
    masked = I.theme_prevalence(demo, by="site", min_cell_size=k)
    small = masked["n_group"] < k
    assert masked.loc[small, "pct_voiced"].isna().all() and masked.loc[small, "small_group"].all()
    assert masked.loc[~small, "pct_voiced"].notna().all()
    fig = I.prevalence_heatmap(demo, by="site", min_cell_size=k)
    ax = fig.axes[0]
    assert "percent of the interviewed participants" in ax.get_title()
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert sum(f"(n < {k})" in lab for lab in labels) == masked.loc[small, "site"].nunique()
    by_group = I.theme_prevalence(demo, by="change_group", themes=["space_to_think"])
    assert by_group.set_index("change_group").loc["reliable improvement", "pct_voiced"] == 0
    with pytest.raises(InputError, match="unknown grouping column"):
        I.theme_prevalence(demo, by="shoe_size")


# --------------------------------------------------------------------------------------------
# general behaviour
# --------------------------------------------------------------------------------------------
def test_themes_and_sites(demo):
    assert I.benefit_themes(demo) == ["space_to_think", "hope", "valued_not_alone",
                                      "social_connection", "family_dynamics", "trust_services"]
    with pytest.raises(InputError, match="unknown theme"):
        I.statistics_by_themes(demo, themes=["hopes"])
    site = demo.for_site("Riverside PCN")
    t = I.statistics_by_themes(site, scales=["wemwbs"], themes=["hope"])
    assert t["n_interviewed"].iloc[0] == len(interviewed(site))
    assert t["small_group"].iloc[0]  # 10 interviewed at this site: a group is below 5


def test_no_qualitative_material(demo):
    bare = dataclasses.replace(demo, qualitative=None)
    with pytest.raises(InputError, match="no qualitative material"):
        I.statistics_by_themes(bare)
    table = I.participant_table(bare)
    assert not any(c.startswith("theme") for c in table.columns)


def test_inputs_never_modified(demo, tmp_path):
    before = folder_digest(DEMO)
    I.side_by_side(demo)
    I.divergent_cases(demo)
    I.configuration_table(demo)
    assert folder_digest(DEMO) == before


def test_prevalence_heatmap_hides_small_counts(demo):
    """No cell shows a percentage that stands for 1..k-1 people."""
    from spanalysis import integrate as ig

    k = demo.min_cell_size
    table = ig.theme_prevalence(demo, by="site")
    fig = ig.prevalence_heatmap(demo, by="site", table=table)
    shown = {t.get_text() for t in fig.axes[0].texts}
    small = table[(table["n_voiced"] > 0) & (table["n_voiced"] < k) & (table["n_group"] >= k)]
    assert len(small), "the demo should have small cells for this test to mean anything"
    big = table[(table["n_voiced"] >= k) & (table["n_group"] >= k)]
    # every annotated number belongs to a cell with at least k voicers (or to zero)
    allowed = {f"{v:.0f}" for v in big["pct_voiced"]} | {"0"}
    assert shown <= allowed


def test_by_theme_effects_all_say_improvement_when_positive_on_lower_is_better_scales(demo):
    # issue 19: 3. UCLA-3 and ONS anxiety: lower is better. Voicers' raw difference in change
    # (post - pre, voiced minus not) is negative when they fell more, i.e. improved more; the
    # improvement difference and Hedges' g must both be positive then (and vice versa).
    table = I.statistics_by_themes(demo, scales=["ucla3", "ons4/anxious"])
    shown = table[table["hedges_g"].notna()]
    assert set(shown["instrument"]) == {"ucla3", "ons4"}
    assert set(shown["direction"]) == {"lower"} and len(shown) >= 6
    assert (np.sign(shown["hedges_g"]) == np.sign(shown["improvement_difference"])).all()
    assert (np.sign(shown["hedges_g"]) == -np.sign(shown["difference"])).all()
    social = shown[(shown["theme"] == "social_connection") & (shown["instrument"] == "ucla3")]
    assert social["improvement_difference"].iloc[0] > 0 and social["hedges_g"].iloc[0] > 0
    # the same orientation in the measurement-coverage table (item level)
    coverage = I.measurement_coverage(demo)
    cov = coverage[coverage["hedges_g"].notna()]
    assert len(cov) and (np.sign(cov["hedges_g"]) == np.sign(cov["improvement_difference"])).all()


def test_prevalence_heatmap_of_many_sites_is_one_strip_with_the_protected_cells():
    """Above HEATMAP_MAX_GROUPS sites the heatmap is 8 inches wide without per-site labels or
    numbers; its cells are the same masked grid as the labelled version's."""
    import numpy as np

    from spanalysis.integrate import prevalence

    demo = load_study(DEMO)
    table = prevalence.theme_prevalence(demo, by="site")
    labelled = prevalence.prevalence_heatmap(demo, by="site", table=table)
    old = prevalence.HEATMAP_MAX_GROUPS
    try:
        prevalence.HEATMAP_MAX_GROUPS = 3            # the demo's 8 sites count as many
        strip = prevalence.prevalence_heatmap(demo, by="site", table=table)
    finally:
        prevalence.HEATMAP_MAX_GROUPS = old
    assert strip.get_size_inches()[0] == 8.0 < labelled.get_size_inches()[0]
    ax = strip.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == []
    assert not ax.texts                                  # no numbers in the cells
    a = labelled.axes[0].collections[0].get_array()
    b = ax.collections[0].get_array()
    assert np.ma.allequal(a, b) and (np.ma.getmaskarray(a) == np.ma.getmaskarray(b)).all()
