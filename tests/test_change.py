"""Tests for spanalysis.change.

Every expected number comes from an independent source: arithmetic worked by hand in the
comments, scipy, pingouin or statsmodels called directly on the same data. Nothing here was
copied from the module's own output.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pingouin as pg
import pytest
from scipy import optimize, stats

from spanalysis import change
import spanalysis.change.effects  # noqa: F401  (the doctests below)
import spanalysis.change.paired  # noqa: F401
import spanalysis.change.pairs  # noqa: F401
import spanalysis.change.person_centred  # noqa: F401
import spanalysis.change.reliable  # noqa: F401
from spanalysis.change import (
    clinical_cutoffs,
    completer_comparison,
    describe_change,
    gas_summary,
    mycaw_change,
    p_adjust_holm,
    paired_change,
    paired_effect_sizes,
    reliable_change,
    reliable_change_summary,
    reliable_change_threshold,
    sensitivity_bocf,
    service_use_change,
)
from spanalysis.errors import InputError

TP = ["baseline", "followup"]
PRE = np.array([10, 12, 14, 16, 18], dtype=float)
POST = np.array([12, 13, 17, 18, 21], dtype=float)


def make_scores(pre, post, instrument="wemwbs", scale="total", prefix="P"):
    """Tidy scores for one scale; NaN stays NaN (a row with no score)."""
    n = len(pre)
    ids = [f"{prefix}{i:03d}" for i in range(n)]
    return pd.DataFrame({
        "participant_id": ids * 2,
        "timepoint": ["baseline"] * n + ["followup"] * n,
        "instrument": instrument, "scale": scale,
        "score": np.concatenate([np.asarray(pre, float), np.asarray(post, float)]),
        "items_answered": 14, "items_expected": 14, "status": "ok"})


def info_for(rows):
    """scale_info from (instrument, scale, direction[, extra dict]) tuples."""
    recs = []
    for r in rows:
        rec = {"instrument": r[0], "scale": r[1], "direction": r[2]}
        if len(r) > 3:
            rec.update(r[3])
        recs.append(rec)
    return pd.DataFrame(recs)


WEMWBS = info_for([("wemwbs", "total", "higher", {"scale_name": "WEMWBS"})])


def random_pairs(n, shift, seed):
    rng = np.random.default_rng(seed)
    pre = rng.normal(45, 8, n).round()
    post = (pre + rng.normal(shift, 5, n)).round()
    return pre, post


# ------------------------------------------------------------------------------------------
# effect sizes
# ------------------------------------------------------------------------------------------
def test_paired_effect_sizes_worked_by_hand():
    es = paired_effect_sizes(PRE, POST)
    # diff = [2, 1, 3, 2, 3]; mean 2.2; squared deviations .04+1.44+.64+.04+.64 = 2.8;
    # var = 2.8/4 = 0.7; sd_diff = sqrt(0.7) = 0.836660
    # d_z = 2.2 / 0.836660 = 2.629503
    assert es["n"] == 5
    assert es["mean_diff"] == pytest.approx(2.2)
    assert es["sd_diff"] == pytest.approx(math.sqrt(0.7))
    assert es["d_z"] == pytest.approx(2.2 / math.sqrt(0.7))
    assert es["d_z"] == pytest.approx(2.629503, abs=1e-6)
    # sd_pre: devs -4,-2,0,2,4 -> 40/4 = 10 -> 3.162278
    # sd_post: mean 16.2, devs -4.2,-3.2,.8,1.8,4.8 -> 54.8/4 = 13.7 -> 3.701351
    # d_av = 2.2 / ((3.162278 + 3.701351) / 2) = 2.2 / 3.431815 = 0.641060
    assert es["sd_pre"] == pytest.approx(math.sqrt(10))
    assert es["sd_post"] == pytest.approx(math.sqrt(13.7))
    assert es["d_av"] == pytest.approx(0.641060, abs=1e-6)
    # r = cov / (sd_pre sd_post); cov = (16.8 + 6.4 + 0 + 3.6 + 19.2)/4 = 11.5
    # r = 11.5 / sqrt(10 * 13.7) = 0.982511
    # d_rm = 2.2 / sqrt(10 + 13.7 - 2*11.5) * sqrt(2 (1 - r)) = 2.629503 * sqrt(0.034977)
    #      = 2.629503 * 0.187022 = 0.491776
    r = 11.5 / math.sqrt(10 * 13.7)
    assert es["r"] == pytest.approx(r)
    assert es["d_rm"] == pytest.approx(2.2 / math.sqrt(0.7) * math.sqrt(2 * (1 - r)))
    assert es["d_rm"] == pytest.approx(0.491776, abs=1e-6)
    # J = 1 - 3 / (4 * 4 - 1) = 0.8; g_av = 0.641060 * 0.8 = 0.512848
    assert es["hedges_j"] == pytest.approx(0.8)
    assert es["g_av"] == pytest.approx(0.512848, abs=1e-6)


def test_pingouin_paired_effsize_is_neither_dz_nor_dav():
    # pingouin divides by sqrt((10 + 13.7) / 2) = 3.442383 -> 2.2 / 3.442383 = 0.639092
    pg_d = pg.compute_effsize(POST, PRE, paired=True)
    assert pg_d == pytest.approx(0.639092, abs=1e-6)
    es = paired_effect_sizes(PRE, POST)
    assert abs(pg_d - es["d_av"]) > 1e-3 and abs(pg_d - es["d_z"]) > 1


def test_paired_effect_sizes_drops_incomplete_pairs_and_checks_length():
    es = paired_effect_sizes(np.append(PRE, np.nan), np.append(POST, 30))
    assert es["n"] == 5 and es["d_z"] == pytest.approx(2.2 / math.sqrt(0.7))
    with pytest.raises(InputError):
        paired_effect_sizes([1, 2, 3], [1, 2])
    with pytest.raises(InputError):
        paired_effect_sizes([1], [2])


# ------------------------------------------------------------------------------------------
# paired_change
# ------------------------------------------------------------------------------------------
def test_paired_change_small_vector_by_hand():
    res = paired_change(make_scores(PRE, POST), WEMWBS, timepoints=TP)
    row = res.iloc[0]
    # t = d_z * sqrt(5) = 2.629503 * 2.236068 = 5.879747, df = 4
    assert row["t"] == pytest.approx(5.879747, abs=1e-6)
    assert row["df"] == 4
    assert row["d_z"] == pytest.approx(2.629503, abs=1e-6)
    assert row["d_av"] == pytest.approx(0.641060, abs=1e-6)
    assert row["g_av"] == pytest.approx(0.512848, abs=1e-6)
    assert row["pre_mean"] == 14 and row["post_mean"] == pytest.approx(16.2)
    assert row["change_mean"] == pytest.approx(2.2)
    assert row["improvement"] == "improved"
    assert row["small_group"] == False  # noqa: E712 (numpy bool)


def test_paired_change_matches_scipy_and_pingouin():
    pre, post = random_pairs(40, 2.0, seed=1)
    res = paired_change(make_scores(pre, post), WEMWBS, timepoints=TP).iloc[0]
    sp = stats.ttest_rel(post, pre)
    pgt = pg.ttest(post, pre, paired=True)
    assert res["t"] == pytest.approx(sp.statistic, rel=1e-10)
    assert res["p"] == pytest.approx(sp.pvalue, rel=1e-8)
    assert res["df"] == pgt["dof"].iloc[0] == 39
    assert res["p"] == pytest.approx(pgt["p_val"].iloc[0], rel=1e-6)
    ci = sp.confidence_interval(0.95)
    assert [res["change_ci_low"], res["change_ci_high"]] == pytest.approx([ci.low, ci.high])
    # pingouin reports the same interval rounded to 2 decimals
    assert [res["change_ci_low"], res["change_ci_high"]] == pytest.approx(
        list(pgt["CI95"].iloc[0]), abs=0.005)
    w = stats.wilcoxon(post - pre)
    assert res["wilcoxon_W"] == w.statistic
    assert res["wilcoxon_p"] == pytest.approx(w.pvalue, rel=1e-10)
    # pingouin adds a continuity correction by default; without it it equals scipy
    assert res["wilcoxon_p"] == pytest.approx(
        pg.wilcoxon(post, pre, correction=False)["p_val"].iloc[0], rel=1e-10)
    assert res["d_z"] == pytest.approx(sp.statistic / math.sqrt(40))  # d_z = t / sqrt(n)
    assert res["n_pairs"] == 40 and res["n_baseline_only"] == 0


def test_confidence_level_respected_against_pingouin_90():
    pre, post = random_pairs(25, 1.0, seed=2)
    res = paired_change(make_scores(pre, post), WEMWBS, timepoints=TP,
                        confidence=0.90).iloc[0]
    ci90 = pg.ttest(post, pre, paired=True, confidence=0.90)["CI90"].iloc[0]  # 2 decimals
    assert [res["change_ci_low"], res["change_ci_high"]] == pytest.approx(list(ci90),
                                                                          abs=0.005)
    exact = stats.ttest_rel(post, pre).confidence_interval(0.90)
    assert [res["change_ci_low"], res["change_ci_high"]] == pytest.approx([exact.low,
                                                                           exact.high])
    res95 = paired_change(make_scores(pre, post), WEMWBS, timepoints=TP).iloc[0]
    assert res95["change_ci_high"] - res95["change_ci_low"] > \
        res["change_ci_high"] - res["change_ci_low"]
    assert res["confidence"] == 0.90


@pytest.mark.parametrize("confidence", [0.95, 0.90])
def test_dz_interval_inverts_noncentral_t(confidence):
    # Independent computation: solve P(T <= t_obs | df, ncp) = 1 - a/2 and a/2 with brentq on
    # scipy.stats.nct.cdf, then divide the noncentralities by sqrt(n).
    res = paired_change(make_scores(PRE, POST), WEMWBS, timepoints=TP,
                        confidence=confidence).iloc[0]
    n, df, t_obs = 5, 4, 2.2 / math.sqrt(0.7) * math.sqrt(5)
    a = 1 - confidence
    lo = optimize.brentq(lambda nc: stats.nct.cdf(t_obs, df, nc) - (1 - a / 2), -50, 50)
    hi = optimize.brentq(lambda nc: stats.nct.cdf(t_obs, df, nc) - a / 2, -50, 50)
    assert res["d_z_ci_low"] == pytest.approx(lo / math.sqrt(n), rel=1e-5)
    assert res["d_z_ci_high"] == pytest.approx(hi / math.sqrt(n), rel=1e-5)
    assert res["d_z_ci_low"] < res["d_z"] < res["d_z_ci_high"]


def test_dz_interval_close_to_large_sample_formula():
    # For large n the noncentral-t interval approaches d +/- z sqrt(1/n + d^2 / (2n))
    # (Hedges & Olkin 1985 asymptotic variance of d for one sample).
    pre, post = random_pairs(2000, 1.0, seed=3)
    res = paired_change(make_scores(pre, post), WEMWBS, timepoints=TP).iloc[0]
    d, n = res["d_z"], 2000
    half = 1.959964 * math.sqrt(1 / n + d**2 / (2 * n))
    assert res["d_z_ci_low"] == pytest.approx(d - half, abs=2e-3)
    assert res["d_z_ci_high"] == pytest.approx(d + half, abs=2e-3)


def test_holm_worked_by_hand():
    # sorted: .005*4 = .02; .01*3 = .03; .03*2 = .06; .04*1 = .04 -> running max .06
    assert p_adjust_holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # NaN is not part of the family: m = 2 -> .02*2 = .04, .5*1 -> .5
    out = p_adjust_holm([0.5, np.nan, 0.02])
    assert out[0] == pytest.approx(0.5) and np.isnan(out[1]) and out[2] == pytest.approx(0.04)
    assert p_adjust_holm([0.6, 0.7]) == pytest.approx([1.0, 1.0])  # capped at 1 (.6*2, .7)


def three_scales(seed=4, n=30, prefix="P"):
    parts = []
    for i, (scale, shift) in enumerate([("a", 2.0), ("b", 0.3), ("c", -1.0)]):
        pre, post = random_pairs(n, shift, seed + i)
        parts.append(make_scores(pre, post, instrument="x", scale=scale, prefix=prefix))
    return pd.concat(parts, ignore_index=True)


X_INFO = info_for([("x", "a", "higher"), ("x", "b", "higher"), ("x", "c", "lower")])


def test_p_holm_across_scales_matches_pingouin_multicomp():
    res = paired_change(three_scales(), X_INFO, timepoints=TP)
    _, expected = pg.multicomp(res["p"].to_numpy(), method="holm")
    assert res["p_holm"].to_numpy() == pytest.approx(expected)


def test_p_holm_within_each_group():
    scores = pd.concat([three_scales(seed=10, prefix="R"), three_scales(seed=20, prefix="H")],
                       ignore_index=True)
    ids = scores["participant_id"].unique()
    people = pd.DataFrame({"participant_id": ids,
                           "site": ["Riverside" if i.startswith("R") else "Hillview"
                                    for i in ids]})
    res = paired_change(scores, X_INFO, participants=people, by="site", timepoints=TP)
    assert set(res["site"]) == {"Riverside", "Hillview"} and len(res) == 6
    for _, g in res.groupby("site"):
        _, expected = pg.multicomp(g["p"].to_numpy(), method="holm")
        assert g["p_holm"].to_numpy() == pytest.approx(expected)
    # and each site's t-test equals scipy on that site's data alone
    sub = scores[scores["participant_id"].str.startswith("R") & (scores["scale"] == "a")]
    wide = sub.pivot(index="participant_id", columns="timepoint", values="score")
    row = res[(res["site"] == "Riverside") & (res["scale"] == "a")].iloc[0]
    assert row["t"] == pytest.approx(stats.ttest_rel(wide["followup"], wide["baseline"])
                                     .statistic)


def test_direction_lower_is_better():
    # the same fall of scores is an improvement on a lower-better scale
    pre = np.array([20, 22, 25, 19, 24, 21.0])
    post = pre - np.array([3, 2, 4, 3, 2, 3.0])
    scores = pd.concat([make_scores(pre, post, "ucla3", "total"),
                        make_scores(pre, post, "gse", "total")], ignore_index=True)
    info = info_for([("ucla3", "total", "lower"), ("gse", "total", "higher")])
    res = paired_change(scores, info, timepoints=TP).set_index("instrument")
    assert res.loc["ucla3", "change_mean"] < 0  # raw change is always post - pre
    assert res.loc["ucla3", "improvement"] == "improved"
    assert res.loc["gse", "improvement"] == "worsened"
    assert res.loc["ucla3", "direction"] == "lower"


def test_unclear_when_interval_includes_zero():
    pre = np.array([10, 12, 14, 16, 18, 20.0])
    post = pre + np.array([1, -1, 2, -2, 1, -1.0])
    res = paired_change(make_scores(pre, post), WEMWBS, timepoints=TP).iloc[0]
    assert res["change_ci_low"] < 0 < res["change_ci_high"]
    assert res["improvement"] == "unclear"


def test_small_groups_flagged_and_withheld():
    big = make_scores(*random_pairs(8, 2, seed=5), prefix="B")
    small = make_scores(PRE[:3], POST[:3], prefix="S")
    scores = pd.concat([big, small], ignore_index=True)
    people = pd.DataFrame({"participant_id": scores["participant_id"].unique()})
    people["site"] = np.where(people["participant_id"].str.startswith("B"), "Big", "Small")
    res = paired_change(scores, WEMWBS, participants=people, by="site", timepoints=TP,
                        min_cell_size=5).set_index("site")
    assert bool(res.loc["Small", "small_group"]) and not bool(res.loc["Big", "small_group"])
    assert res.loc["Small", "n_pairs"] == 3
    for col in ("pre_mean", "change_mean", "change_ci_low", "t", "p", "p_holm", "d_z",
                "wilcoxon_p", "g_av"):
        assert np.isnan(res.loc["Small", col]), col
    assert pd.isna(res.loc["Small", "improvement"])
    assert np.isfinite(res.loc["Big", "t"])


def test_baseline_only_missing_scores_and_categorical_timepoints():
    scores = make_scores(np.append(PRE, [30, 31]), np.append(POST, [np.nan, np.nan]))
    scores = scores[~((scores["participant_id"] == "P006") &
                      (scores["timepoint"] == "followup"))]  # one row absent, one NaN
    extra = pd.DataFrame({"participant_id": ["P099"], "timepoint": ["followup"],
                          "instrument": "wemwbs", "scale": "total", "score": [50.0]})
    scores = pd.concat([scores, extra], ignore_index=True)
    for c in ("participant_id", "instrument", "scale"):
        scores[c] = scores[c].astype("category")
    scores["timepoint"] = pd.Categorical(scores["timepoint"], categories=TP, ordered=True)
    original = scores.copy()
    res = paired_change(scores, WEMWBS).iloc[0]  # order from the categorical
    assert res["n_pairs"] == 5 and res["n_baseline_only"] == 2
    assert res["t"] == pytest.approx(5.879747, abs=1e-6)
    pd.testing.assert_frame_equal(scores, original)  # input untouched


def test_pre_post_override_with_three_timepoints():
    base = make_scores(PRE, POST)
    mid = base[base["timepoint"] == "followup"].assign(timepoint="month3",
                                                       score=lambda d: d["score"] + 10)
    scores = pd.concat([base, mid], ignore_index=True)
    order = ["baseline", "followup", "month3"]
    last = paired_change(scores, WEMWBS, timepoints=order).iloc[0]
    assert last["change_mean"] == pytest.approx(12.2)  # post defaults to the last
    chosen = paired_change(scores, WEMWBS, timepoints=order, post="followup").iloc[0]
    assert chosen["change_mean"] == pytest.approx(2.2)


@pytest.mark.parametrize("mutate, column", [
    (lambda s: s.drop(columns="score"), "score"),
    (lambda s: s.assign(timepoint="week2"), "timepoint"),
    (lambda s: pd.concat([s, s.iloc[[0]]]), None),
    (lambda s: s.assign(score=s["score"].astype(object).where(s.index != 3, "high")),
     "score"),
])
def test_bad_scores_raise_input_error(mutate, column):
    with pytest.raises(InputError) as err:
        paired_change(mutate(make_scores(PRE, POST)), WEMWBS, timepoints=TP)
    if column:
        assert err.value.issue.column == column


def test_scale_info_and_grouping_errors():
    scores = make_scores(PRE, POST)
    with pytest.raises(InputError, match="no entry in scale_info"):
        paired_change(scores, info_for([("gse", "total", "higher")]), timepoints=TP)
    with pytest.raises(InputError) as err:
        paired_change(scores, info_for([("wemwbs", "total", "up")]), timepoints=TP)
    assert err.value.issue.column == "direction" and err.value.issue.value == "up"
    with pytest.raises(InputError, match="participants"):
        paired_change(scores, WEMWBS, by="site", timepoints=TP)
    people = pd.DataFrame({"participant_id": ["P000"], "site": ["A"]})
    with pytest.raises(InputError, match="not in the participants"):
        paired_change(scores, WEMWBS, participants=people, by="site", timepoints=TP)
    with pytest.raises(InputError, match="order of the time points"):
        paired_change(scores, WEMWBS)
    with pytest.raises(InputError):
        paired_change(scores, WEMWBS, timepoints=TP, confidence=95)


# ------------------------------------------------------------------------------------------
# reliable change
# ------------------------------------------------------------------------------------------
def test_reliable_change_threshold_by_hand():
    # S_diff = 9 * sqrt(2) * sqrt(0.11) = 9 * 1.414214 * 0.331662 = 4.221374
    # threshold = 1.959964 * 4.221374 = 8.273741
    assert reliable_change_threshold(9, 0.89) == pytest.approx(
        1.959964 * 9 * math.sqrt(2) * math.sqrt(0.11), rel=1e-6)
    assert reliable_change_threshold(9, 0.89) == pytest.approx(8.27374, abs=1e-4)
    # 90%: z = 1.644854 -> 1.644854 * 4.221374 = 6.943546
    assert reliable_change_threshold(9, 0.89, confidence=0.90) == pytest.approx(6.94355,
                                                                                abs=1e-4)
    with pytest.raises(InputError):
        reliable_change_threshold(9, 1.0)


def test_reliable_change_categories_follow_direction_and_mid():
    # given SD 9 and r 0.89 -> threshold 8.2737 (see above)
    changes = np.array([9, 8, -9, 3, 2.5, 0])
    pre = np.full(6, 40.0)
    scores = pd.concat([make_scores(pre, pre + changes, "hi", "s"),
                        make_scores(pre, pre + changes, "lo", "s")], ignore_index=True)
    info = info_for([("hi", "s", "higher", {"reliability": 0.89, "mid": 3.0,
                                            "reliability_source": "Tennant 2007"}),
                     ("lo", "s", "lower", {"reliability": 0.89, "mid": 3.0})])
    rc = reliable_change(scores, info, sd=9, timepoints=TP)
    hi = rc[rc["instrument"] == "hi"].reset_index(drop=True)
    lo = rc[rc["instrument"] == "lo"].reset_index(drop=True)
    assert hi["category"].tolist() == ["reliable improvement", "no reliable change",
                                       "reliable deterioration", "no reliable change",
                                       "no reliable change", "no reliable change"]
    assert lo["category"].tolist() == ["reliable deterioration", "no reliable change",
                                       "reliable improvement", "no reliable change",
                                       "no reliable change", "no reliable change"]
    # rci = change / S_diff = 9 / 4.221374 = 2.132006
    assert hi.loc[0, "rci"] == pytest.approx(2.132006, abs=1e-5)
    # MID 3: +9 and +3 reach it (>=), +2.5 does not
    assert hi["exceeds_mid"].tolist() == [True, True, False, True, False, False]
    assert lo["worse_by_mid"].tolist() == [True, True, False, True, False, False]
    assert (rc["sd_used"] == 9).all() and (rc["sd_source"] == "given").all()
    assert hi.loc[0, "reliability_source"] == "Tennant 2007"
    assert lo.loc[0, "reliability_source"].startswith("published")
    assert hi.loc[0, "threshold"] == pytest.approx(8.27374, abs=1e-4)
    assert rc["clinically_significant"].isna().all()  # no norms -> NA


def test_reliable_change_baseline_sd_includes_people_lost_to_follow_up():
    pre = np.array([40, 44, 48, 52, 56.0])
    post = np.array([50, 45, 49, 53, np.nan])
    info = info_for([("wemwbs", "total", "higher", {"reliability": 0.91})])
    rc = reliable_change(make_scores(pre, post), info, timepoints=TP)
    # baseline SD over all five: devs -8,-4,0,4,8 -> 160/4 = 40 -> sd 6.324555
    # threshold = 1.959964 * 6.324555 * 1.414214 * sqrt(0.09) = 1.959964 * 2.683282 = 5.259135
    assert len(rc) == 4
    assert rc.loc[0, "sd_used"] == pytest.approx(math.sqrt(40))
    assert rc.loc[0, "sd_source"].startswith("study baseline SD")
    assert rc.loc[0, "threshold"] == pytest.approx(5.25914, abs=1e-4)
    assert rc["category"].tolist() == ["reliable improvement"] + ["no reliable change"] * 3
    # overriding reliability changes the threshold and the stated source
    rc2 = reliable_change(make_scores(pre, post), info, timepoints=TP, reliability=0.5)
    assert rc2.loc[0, "reliability_used"] == 0.5 and rc2.loc[0, "reliability_source"] == "given"
    # sd='norm' uses the published norm SD
    info_norm = info.assign(norm_sd=8.96, norm_source="SHeS 2018")
    rc3 = reliable_change(make_scores(pre, post), info_norm, timepoints=TP, sd="norm")
    assert rc3.loc[0, "sd_used"] == 8.96 and rc3.loc[0, "sd_source"] == "SHeS 2018"
    with pytest.raises(InputError):
        reliable_change(make_scores(pre, post), info, timepoints=TP, sd="pooled")


def test_clinical_cutoffs_by_hand():
    info = info_for([
        ("phq", "total", "lower", {"func_mean": 5, "func_sd": 4, "dys_mean": 15, "dys_sd": 5}),
        ("wb", "total", "higher", {"func_mean": 51, "func_sd": 7, "dys_mean": 40, "dys_sd": 8}),
        ("gse", "total", "higher")])
    cut = clinical_cutoffs(info).set_index("instrument")
    # higher = worse: a = 15 - 2*5 = 5; b = 5 + 2*4 = 13; c = (5*5 + 4*15)/(5+4) = 85/9
    assert cut.loc["phq", ["a", "b", "c"]].tolist() == pytest.approx([5, 13, 85 / 9])
    # higher = better (flipped): a = 40 + 2*8 = 56; b = 51 - 2*7 = 37;
    # c = (8*51 + 7*40)/(8+7) = 688/15 = 45.8667
    assert cut.loc["wb", ["a", "b", "c"]].tolist() == pytest.approx([56, 37, 688 / 15])
    assert cut.loc["gse", ["a", "b", "c"]].isna().all()


def test_clinically_significant_change_uses_cutoff_c():
    # lower = better, c = 85/9 = 9.444; sd 5, r 0.8: S_diff = 5*sqrt(2)*sqrt(.2) = 3.162278,
    # threshold = 1.959964 * 3.162278 = 6.197952
    pre = np.array([18, 18, 8, 15.0])
    post = np.array([6, 11, 2, 14.0])
    info = info_for([("phq", "total", "lower", {"func_mean": 5, "func_sd": 4, "dys_mean": 15,
                                                "dys_sd": 5, "reliability": 0.8})])
    rc = reliable_change(make_scores(pre, post, "phq"), info, sd=5, timepoints=TP)
    # 18->6: change -12 reliable, ends below c -> True
    # 18->11: change -7 reliable (7 > 6.198) but 11 > 9.444 -> False
    # 8->2: started functional (8 < 9.444) -> not applicable (NA)
    # 15->14: not reliable -> False
    got = rc["clinically_significant"].tolist()
    assert got[0] is True and got[1] is False and got[2] is pd.NA and got[3] is False
    assert rc["cutoff_c"].iloc[0] == pytest.approx(85 / 9)


def test_reliable_change_summary_counts_by_hand():
    changes = np.array([9, 8, -9, 3, 2.5, 0])
    pre = np.full(6, 40.0)
    info = info_for([("hi", "s", "higher", {"reliability": 0.89, "mid": 3.0})])
    rc = reliable_change(make_scores(pre, pre + changes, "hi", "s"), info, sd=9,
                         timepoints=TP)
    s = reliable_change_summary(rc, min_cell_size=5).iloc[0]
    # 1 improvement, 4 no change, 1 deterioration of 6; MID 3 reached by +9, +8, +3 (3 of 6)
    assert (s["n"], s["n_reliable_improvement"], s["n_no_reliable_change"],
            s["n_reliable_deterioration"]) == (6, 1, 4, 1)
    assert s["pct_reliable_improvement"] == pytest.approx(100 / 6)
    assert s["pct_no_reliable_change"] == pytest.approx(400 / 6)
    assert s["n_exceeds_mid"] == 3 and s["pct_exceeds_mid"] == pytest.approx(50.0)
    assert s["n_worse_by_mid"] == 1  # the -9
    assert s["sd_used"] == 9 and s["sd_source"] == "given" and s["reliability_used"] == 0.89
    assert s["threshold"] == pytest.approx(8.27374, abs=1e-4)
    assert s["n_clinical_eligible"] == 0 and not s["small_group"]


# ------------------------------------------------------------------------------------------
# attrition
# ------------------------------------------------------------------------------------------
def test_completer_comparison_welch_and_hedges_by_hand():
    pre = np.array([40, 42, 44, 46, 48, 38, 40, 41, 43.0])
    post = np.array([45, 44, 47, 49, 50] + [np.nan] * 4)
    res = completer_comparison(make_scores(pre, post), scale_info=WEMWBS, timepoints=TP,
                               min_cell_size=4).iloc[0]
    x, y = pre[:5], pre[5:]
    # completers mean 44, var 40/4 = 10; non-completers mean 40.5, var 13/3 = 4.333333
    # Welch se = sqrt(10/5 + 4.333333/4) = sqrt(3.083333) = 1.755942; t = 3.5 / 1.755942
    #   = 1.993230; df = 3.083333^2 / (2^2/4 + 1.083333^2/3) = 9.506944/1.391204 = 6.833611
    assert res["difference"] == pytest.approx(3.5)
    assert res["t"] == pytest.approx(1.993230, abs=1e-5)
    assert res["df"] == pytest.approx(6.833611, abs=1e-5)
    welch = stats.ttest_ind(x, y, equal_var=False)
    assert res["p"] == pytest.approx(welch.pvalue, rel=1e-8)
    # pooled var = (4*10 + 3*4.333333)/7 = 53/7 = 7.571429; d = 3.5/2.751623 = 1.271977
    # J = 1 - 3/(4*9 - 9) = 0.888889 (= 1 - 3/(4 df - 1), df = 7) -> g = 1.130646
    assert res["hedges_g"] == pytest.approx(1.130646, abs=1e-5)
    ci = welch.confidence_interval(0.95)
    assert [res["difference_ci_low"], res["difference_ci_high"]] == pytest.approx(
        [ci.low, ci.high], abs=1e-6)
    assert (res["n_completers"], res["n_non_completers"]) == (5, 4)
    withheld = completer_comparison(make_scores(pre, post), timepoints=TP).iloc[0]
    assert withheld["small_group"] and np.isnan(withheld["t"])  # 4 < 5


def test_sensitivity_bocf_by_hand():
    pre = np.array([40, 42, 44, 46, 48, 50, 52.0])
    post = np.array([42, 43, 47, 48, 51, np.nan, np.nan])
    res = sensitivity_bocf(make_scores(pre, post), WEMWBS, timepoints=TP)
    comp, bocf = res.iloc[0], res.iloc[1]
    assert comp["analysis"] == "completers" and bocf["analysis"].startswith("baseline")
    # BOCF mean = 2.2 * 5 / 7 = 1.571429 (two changes of 0 added)
    assert comp["change_mean"] == pytest.approx(2.2)
    assert bocf["change_mean"] == pytest.approx(11 / 7)
    assert bocf["n_pairs"] == 7 and bocf["n_carried_forward"] == 2
    filled = np.where(np.isnan(post), pre, post)
    assert bocf["t"] == pytest.approx(stats.ttest_rel(filled, pre).statistic)
    assert "unchanged" in bocf["assumption"] and "missing" in comp["assumption"]


# ------------------------------------------------------------------------------------------
# service use, MYCaW, GAS
# ------------------------------------------------------------------------------------------
def service_table():
    before = np.array([4, 6, 2, 8, 5, 3, 7, 0])
    after = np.array([2, 6, 1, 5, 5, 4, 3, 0])
    n = len(before)
    ids = [f"P{i}" for i in range(n)]
    return pd.DataFrame({"participant_id": ids * 2 + ["P99"],
                         "service": "gp_consultations",
                         "period": ["before"] * n + ["after"] * n + ["before"],
                         "count": np.concatenate([before, after, [3]])}), before, after


def test_service_use_change_against_numpy_and_scipy():
    table, before, after = service_table()
    res = service_use_change(table).iloc[0]
    diff = after - before  # [-2, 0, -1, -3, 0, 1, -4, 0]
    assert res["n_pairs"] == 8 and res["n_unpaired"] == 1
    assert res["before_median"] == np.median(before) == 4.5
    assert res["before_q1"] == np.percentile(before, 25)
    assert res["after_q3"] == np.percentile(after, 75)
    assert res["median_difference"] == np.median(diff) == -0.5  # not median(after)-median(before)
    w = stats.wilcoxon(after, before)
    assert res["wilcoxon_W"] == w.statistic
    assert res["wilcoxon_p"] == pytest.approx(w.pvalue)
    # fewer: -2,-1,-3,-4 = 4; same: 3 zeros; more: 1
    assert (res["n_fewer"], res["n_same"], res["n_more"]) == (4, 3, 1)
    assert res["pct_fewer"] == 50 and res["pct_same"] == 37.5


def test_service_use_errors_name_the_row():
    table, _, _ = service_table()
    bad = table.copy()
    bad.loc[2, "period"] = "during"
    with pytest.raises(InputError) as err:
        service_use_change(bad)
    assert err.value.issue.row == 4 and err.value.issue.column == "period"
    bad = table.copy()
    bad["count"] = bad["count"].astype(float)
    bad.loc[5, "count"] = -1
    with pytest.raises(InputError) as err:
        service_use_change(bad)
    assert err.value.issue.row == 7 and err.value.issue.column == "count"
    small = service_use_change(table, min_cell_size=10).iloc[0]
    assert small["small_group"] and np.isnan(small["before_median"]) and pd.isna(small["n_fewer"])


def test_mycaw_change_is_baseline_minus_followup():
    pre = np.array([5, 6, 4, 5, 6, 5.0])
    post = np.array([3, 4, 3, 2, 4, 4.0])
    res = mycaw_change(make_scores(pre, post, "mycaw", "concern_1"), timepoints=TP).iloc[0]
    # improvement = mean(pre - post) = (2+2+1+3+2+1)/6 = 11/6
    assert res["improvement_mean"] == pytest.approx(11 / 6)
    assert res["change_mean"] == pytest.approx(-11 / 6)
    assert res["improvement"] == "improved"
    ci = stats.ttest_rel(pre, post).confidence_interval(0.95)  # interval of pre - post
    assert [res["improvement_ci_low"], res["improvement_ci_high"]] == pytest.approx(
        [ci.low, ci.high])


def test_gas_summary_against_scipy_and_pingouin():
    t_scores = np.array([50, 55.3, 61.2, 44.7, 50, 58.1, 63.4, 52.6])
    scores = pd.DataFrame({"participant_id": [f"P{i}" for i in range(8)],
                           "timepoint": "followup", "instrument": "gas", "scale": "t_score",
                           "score": t_scores})
    res = gas_summary(scores, timepoints=TP).iloc[0]
    one = stats.ttest_1samp(t_scores, 50)
    assert res["t"] == pytest.approx(one.statistic) and res["p"] == pytest.approx(one.pvalue)
    ci = one.confidence_interval(0.95)  # interval for the mean
    assert [res["ci_low"], res["ci_high"]] == pytest.approx([ci.low, ci.high])
    assert [res["ci_low"], res["ci_high"]] == pytest.approx(
        list(pg.ttest(t_scores, 50)["CI95"].iloc[0]), abs=0.005)
    w = stats.wilcoxon(t_scores - 50)
    assert res["wilcoxon_W"] == w.statistic and res["wilcoxon_p"] == pytest.approx(w.pvalue)
    assert res["difference_from_50"] == pytest.approx(t_scores.mean() - 50)


# ------------------------------------------------------------------------------------------
# sentences
# ------------------------------------------------------------------------------------------
BASE_ROW = {"instrument": "wemwbs", "scale": "total", "scale_name": "WEMWBS", "n_pairs": 40,
            "change_mean": 3.1, "change_ci_low": 1.2, "change_ci_high": 5.0,
            "direction": "higher", "small_group": False, "confidence": 0.95}


def test_describe_change_improved_higher_better():
    text = describe_change(BASE_ROW)
    assert "improved" in text and "+3.1" in text and "95% CI 1.2 to 5.0" in text
    assert "n = 40" in text


def test_describe_change_lower_better_negative_change_is_improvement():
    row = dict(BASE_ROW, scale_name="UCLA loneliness", direction="lower", change_mean=-1.5,
               change_ci_low=-2.4, change_ci_high=-0.6)
    text = describe_change(row)
    assert "improved" in text and "lower scores are better" in text and "\u22121.5" in text


def test_describe_change_worsened():
    row = dict(BASE_ROW, change_mean=-2.0, change_ci_low=-3.5, change_ci_high=-0.5)
    assert "worsened" in describe_change(row)
    row = dict(row, direction="lower", change_mean=2.0, change_ci_low=0.5, change_ci_high=3.5)
    assert "worsened" in describe_change(row)


def test_describe_change_interval_spanning_zero_never_claims_change():
    row = dict(BASE_ROW, change_mean=1.0, change_ci_low=-0.4, change_ci_high=2.4)
    text = describe_change(row)
    assert "no clear evidence of change" in text
    assert "improved" not in text and "worsened" not in text


def test_describe_change_small_group_and_not_estimable():
    row = dict(BASE_ROW, small_group=True, n_pairs=3, change_mean=np.nan,
               change_ci_low=np.nan, change_ci_high=np.nan, site="Hillview")
    text = describe_change(row, by="site")
    assert "too few people" in text and text.startswith("In Hillview, WEMWBS")
    assert "3" not in text  # the small count itself is not disclosed
    row = dict(BASE_ROW, change_ci_low=np.nan, change_ci_high=np.nan)
    assert "could not be estimated" in describe_change(row)


def test_describe_change_on_a_real_row_uses_its_level():
    res = paired_change(make_scores(PRE, POST), WEMWBS, timepoints=TP, confidence=0.9)
    text = describe_change(res.iloc[0])
    assert text.startswith("WEMWBS improved") and "90% CI" in text and "n = 5" in text


def test_module_exports_exist():
    for name in change.__all__:
        assert callable(getattr(change, name))


def test_docstring_examples_run():
    import doctest
    attempted = 0
    for module in (change.pairs, change.effects, change.paired, change.reliable,
                   change.person_centred):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.failed == 0, module.__name__
        attempted += result.attempted
    assert attempted > 10


@pytest.mark.parametrize("n", [51, 60, 500, 20_000])
@pytest.mark.parametrize("kind", ["whole", "continuous", "halves", "many_zeros", "one_sided",
                                  "all_negative", "one_nonzero"])
def test_signed_rank_test_in_paired_change_equals_scipy(n, kind):
    """paired_change's signed-rank test gives scipy's statistic and p-value
    (scipy.stats.wilcoxon, defaults: the normal approximation with tie correction above 50
    differences)."""
    rng = np.random.default_rng(n)
    d = {"whole": lambda: rng.integers(-5, 8, n).astype(float),
         "continuous": lambda: rng.normal(0.3, 1.0, n),
         "halves": lambda: rng.integers(-10, 12, n) / 2,
         "many_zeros": lambda: np.where(rng.random(n) < 0.6, 0.0, rng.integers(-3, 4, n)),
         "one_sided": lambda: rng.integers(0, 4, n).astype(float),
         "all_negative": lambda: rng.integers(-6, 0, n).astype(float),
         "one_nonzero": lambda: np.where(np.arange(n) == 7, -2.0, 0.0)}[kind]()
    pre = rng.integers(20, 40, n).astype(float)
    scores = pd.DataFrame({"participant_id": [f"P{i}" for i in range(n)] * 2,
                           "timepoint": ["baseline"] * n + ["followup"] * n,
                           "instrument": "w", "scale": "t",
                           "score": np.concatenate([pre, pre + d])})
    info = pd.DataFrame({"instrument": ["w"], "scale": ["t"], "direction": ["higher"]})
    res = paired_change(scores, info, timepoints=["baseline", "followup"]).iloc[0]
    reference = stats.wilcoxon((pre + d) - pre)
    assert res["wilcoxon_W"] == pytest.approx(float(reference.statistic), rel=1e-12)
    assert res["wilcoxon_p"] == pytest.approx(float(reference.pvalue), rel=1e-9, abs=1e-300)


@pytest.mark.parametrize("n", [10, 51, 5_000])
def test_signed_rank_test_is_not_computed_when_every_difference_is_zero(n):
    scores = pd.DataFrame({"participant_id": [f"P{i}" for i in range(n)] * 2,
                           "timepoint": ["baseline"] * n + ["followup"] * n,
                           "instrument": "w", "scale": "t", "score": 3.0})
    info = pd.DataFrame({"instrument": ["w"], "scale": ["t"], "direction": ["higher"]})
    res = paired_change(scores, info, timepoints=["baseline", "followup"]).iloc[0]
    assert math.isnan(res["wilcoxon_W"]) and math.isnan(res["wilcoxon_p"])


def test_moments_by_scale_equal_pandas_groupby():
    """The bincount summaries per scale equal pandas' groupby on the same pairs (an
    independent implementation), including scales with one pair or none complete."""
    from spanalysis.change.paired import _moments_by_scale  # the summaries without by=

    rng = np.random.default_rng(7)
    n = 3000
    inst = rng.choice(["a", "b", "c"], n)
    scale = rng.choice(["x", "y"], n)
    pre = np.where(rng.random(n) < 0.2, np.nan, rng.normal(20, 4, n))
    post = np.where(rng.random(n) < 0.3, np.nan, rng.normal(22, 5, n))
    # one scale with a single complete pair, one with no complete pair
    inst[:3], scale[:3], pre[:3], post[:3] = "d", "z", [1.0, 2.0, np.nan], [3.0, np.nan, 4.0]
    inst[3:5], scale[3:5], pre[3:5], post[3:5] = "e", "z", [1.0, np.nan], [np.nan, 2.0]
    pairs = pd.DataFrame({"instrument": pd.Categorical(inst), "scale": pd.Categorical(scale),
                          "pre": pre, "post": post})
    out, diffs = _moments_by_scale(pairs)
    both = pairs.dropna(subset=["pre", "post"]).assign(diff=lambda d: d["post"] - d["pre"])
    # each row's differences: the complete pairs of that scale, in the pairs' order
    groups = both.groupby(["instrument", "scale"], observed=True)["diff"]
    assert len(diffs) == len(out) == 8
    for key, d in zip(out.index, diffs):
        expected = groups.get_group(key).to_numpy() if key in groups.groups else []
        np.testing.assert_array_equal(d, expected)
    ref = (both.groupby(["instrument", "scale"], observed=True)
           .agg(n_pairs=("diff", "size"), pre_mean=("pre", "mean"), pre_sd=("pre", "std"),
                post_mean=("post", "mean"), post_sd=("post", "std"),
                change_mean=("diff", "mean"), change_sd=("diff", "std")))
    ref = ref.reindex(out.index)
    ref["n_pairs"] = ref["n_pairs"].fillna(0)  # as paired_change reports a scale with none
    for col in ref.columns:
        np.testing.assert_allclose(out[col].to_numpy(float), ref[col].to_numpy(float),
                                   rtol=1e-12, equal_nan=True)
    assert out.loc[("d", "z"), "n_pairs"] == 1 and np.isnan(out.loc[("d", "z"), "pre_sd"])
    assert out.loc[("e", "z"), "n_pairs"] == 0 and out.loc[("e", "z"), "n_baseline_only"] == 1


def _categorical_timepoints(scores, categories):
    return scores.assign(timepoint=pd.Categorical(scores["timepoint"], categories=categories,
                                                  ordered=True))


def test_time_point_outside_the_given_order_is_an_error():
    scores = _categorical_timepoints(make_scores(PRE, POST), ["baseline", "followup", "mid"])
    scores.loc[0, "timepoint"] = "mid"
    with pytest.raises(InputError) as info:
        paired_change(scores, WEMWBS, timepoints=["baseline", "followup"])
    assert "not among the study's time points" in str(info.value)
    assert info.value.issue.value == "mid"


def test_unused_category_outside_the_given_order_is_not_an_error():
    scores = _categorical_timepoints(make_scores(PRE, POST), ["baseline", "followup", "mid"])
    table = paired_change(scores, WEMWBS, timepoints=["baseline", "followup"])
    assert table["n_pairs"].tolist() == [5]


def test_time_point_order_unknown_and_same_pre_post_are_errors():
    with pytest.raises(InputError, match="order of the time points is unknown"):
        paired_change(make_scores(PRE, POST), WEMWBS)
    with pytest.raises(InputError, match="pre and post are the same"):
        paired_change(make_scores(PRE, POST), WEMWBS, pre="baseline", post="baseline")
    with pytest.raises(InputError, match="the post time point is not in the data"):
        paired_change(make_scores(PRE, POST), WEMWBS, pre="baseline", post="month12")


def test_a_scale_with_no_published_mid_says_so_instead_of_counting_zero():
    # issue 19: 2. Six people, changes +9, +8, -9, +3, +2.5, 0 on a scale with no MID: nobody
    # can be "beyond the MID" of a scale that has none, so the counts are missing (not 0) and
    # the source says that no MID is published.
    changes = np.array([9, 8, -9, 3, 2.5, 0])
    pre = np.full(6, 40.0)
    info = info_for([("lo", "s", "higher", {"reliability": 0.89})])
    rc = reliable_change(make_scores(pre, pre + changes, "lo", "s"), info, sd=9,
                         timepoints=TP)
    assert rc["mid_source"].tolist() == ["no MID published"] * 6
    assert rc["exceeds_mid"].isna().all() and rc["worse_by_mid"].isna().all()
    s = reliable_change_summary(rc, min_cell_size=5).iloc[0]
    assert pd.isna(s["n_exceeds_mid"]) and pd.isna(s["n_worse_by_mid"])
    assert pd.isna(s["pct_exceeds_mid"]) and s["mid_source"] == "no MID published"
    # counts are still counts (an integer type that can be missing)
    assert str(reliable_change_summary(rc, min_cell_size=5)["n_exceeds_mid"].dtype) == "Int64"


def test_effect_sizes_not_estimable_are_nan_with_the_reason_in_both_places():
    # issue 19: 6. Two pairs: pre 10, 12; post 13, 14. diff 3, 2: mean 2.5, sd 0.7071;
    # sd_pre 1.4142, sd_post 0.7071, d_av = 2.5 / 1.0607 = 2.357. With df = 1, Hedges' J
    # = 1 - 3 / (4 - 1) = 0 would make g_av 0: not an estimate, so NaN with the reason.
    es = paired_effect_sizes([10, 12], [13, 14])
    assert es["d_av"] == pytest.approx(2.5 / ((math.sqrt(2) + math.sqrt(0.5)) / 2))
    assert math.isnan(es["hedges_j"]) and math.isnan(es["g_av"])
    assert "at least 3 pairs" in es["reason"]
    assert np.isnan(change.hedges_j(1)) and change.hedges_j(2) == pytest.approx(1 - 3 / 7)
    table = paired_change(make_scores(np.array([10, 12.0]), np.array([13, 14.0]), "w", "t"),
                          info_for([("w", "t", "higher", {})]), timepoints=TP,
                          min_cell_size=2).iloc[0]
    assert table["d_av"] == pytest.approx(es["d_av"]) and math.isnan(table["g_av"])
    # Everyone changed by exactly 2: sd(diff) = 0, so d_z = 2 / 0 is not estimable (NaN in
    # paired_change, and now in paired_effect_sizes too, never inf).
    pre, post = np.array([10, 11, 12.0]), np.array([12, 13, 14.0])
    es = paired_effect_sizes(pre, post)
    assert math.isnan(es["d_z"]) and "no variation" in es["reason"]
    assert es["d_av"] == pytest.approx(2.0)      # sd_pre = sd_post = 1
    table = paired_change(make_scores(pre, post, "w", "t"), info_for([("w", "t", "higher", {})]),
                          timepoints=TP, min_cell_size=2).iloc[0]
    assert math.isnan(table["d_z"]) and table["d_av"] == pytest.approx(2.0)
    # and no SD at either time point: d_av is NaN too (not inf)
    es = paired_effect_sizes([5, 5, 5], [7, 7, 7])
    assert math.isnan(es["d_z"]) and math.isnan(es["d_av"]) and math.isnan(es["g_av"])
    assert es["reason"].count(";") == 1
    # an estimable case has no reason
    assert paired_effect_sizes(PRE, POST)["reason"] is None
