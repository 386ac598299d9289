"""Issue 23: 3. Reliable change with the published test-retest reliability, the alpha-based
result as its sensitivity analysis, and Jacobson & Truax's clinically significant change
(criterion c from the population norm and the referred sample), each against a hand-worked
or independent reference."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from conftest import DEMO
from scipy import stats

from spanalysis import load_study
from spanalysis.change import outcomes, reliable
from spanalysis.change.reliable import clinical_criterion, reliable_change
from spanalysis.errors import InputError
from spanalysis.privacy import disclosure


@pytest.fixture(scope="module")
def demo():
    return load_study(DEMO)


def _scores(pre, post):
    ids = [f"P{i}" for i in range(len(pre))]
    return pd.DataFrame({"participant_id": ids * 2,
                         "timepoint": ["baseline"] * len(pre) + ["followup"] * len(post),
                         "instrument": "w", "scale": "t", "score": np.r_[pre, post]})


INFO = pd.DataFrame({"instrument": ["w"], "scale": ["t"], "direction": ["higher"],
                     "reliability": [0.91], "reliability_kind": ["cronbach_alpha"],
                     "reliability_source": ["alpha src"], "test_retest": [0.83],
                     "test_retest_source": ["retest src"], "norm_mean": [49.4],
                     "norm_sd": [8.96], "norm_source": ["SHeS 2018"]})
TP = ["baseline", "followup"]


def test_threshold_uses_test_retest_and_alpha_is_the_sensitivity():
    pre = np.array([30., 35, 40, 45, 50, 38])
    post = pre + np.array([9., 12, -9, 2, 8, 11])
    main = reliable_change(_scores(pre, post), INFO, sd=9, timepoints=TP)
    alt = reliable_change(_scores(pre, post), INFO, sd=9, reliability="alpha", timepoints=TP)
    # by hand: 1.959964 * 9 * sqrt(2) * sqrt(1 - r)
    assert main["threshold"].iloc[0] == pytest.approx(1.959964 * 9 * math.sqrt(2 * 0.17),
                                                      rel=1e-6)   # 10.2846
    assert alt["threshold"].iloc[0] == pytest.approx(1.959964 * 9 * math.sqrt(2 * 0.09),
                                                     rel=1e-6)    # 7.4837
    assert set(main["reliability_basis"]) == {"test_retest"}
    assert set(main["reliability_source"]) == {"retest src"}
    assert set(alt["reliability_basis"]) == {"cronbach_alpha"}
    # changes 9 and 8 are reliable with alpha (> 7.48) but not with test-retest (< 10.28)
    assert main["category"].tolist().count("reliable improvement") == 2     # 12, 11
    assert alt["category"].tolist().count("reliable improvement") == 4      # 9, 12, 8, 11
    # the old keyword gives the same as 'test_retest'; without a test_retest column it is
    # the reliability as before
    same = reliable_change(_scores(pre, post), INFO, sd=9, reliability="test_retest",
                           timepoints=TP)
    assert same["threshold"].equals(main["threshold"])
    old = reliable_change(_scores(pre, post), INFO.drop(columns=["test_retest"]), sd=9,
                          timepoints=TP)
    assert old["threshold"].equals(alt["threshold"])


def test_alpha_basis_without_an_alpha_says_not_published():
    info = INFO.assign(reliability=0.83, reliability_kind="test_retest", test_retest=np.nan)
    rc = reliable_change(_scores([40., 42], [50., 41]), info, sd=9, reliability="alpha",
                         timepoints=TP)
    assert rc["category"].isna().all() and set(rc["reliability_basis"]) == {"not published"}
    with pytest.raises(InputError):
        outcomes.reliable_change_table(load_study(DEMO), ["wemwbs"], basis="retest")


def test_criterion_c_against_jacobson_and_truax_by_hand():
    # c = (s0 mu1 + s1 mu0) / (s0 + s1), s0/mu0 dysfunctional, s1/mu1 functional (Jacobson &
    # Truax 1991, p. 13). Their marital-satisfaction example style, lower = worse here:
    # functional 49.4 (8.96), referred 40 (9): (9 * 49.4 + 8.96 * 40) / 17.96 = 44.7105
    cut, which = clinical_criterion([49.4], [8.96], [40.0], [9.0], ["higher"])
    assert which[0] == "c" and cut[0] == pytest.approx(803.0 / 17.96)
    # higher = worse (JT's convention): a = M_dys - 2 SD_dys; c is symmetric in direction
    cut, which = clinical_criterion([np.nan], [np.nan], [15.0], [5.0], ["lower"], "a")
    assert (which[0], cut[0]) == ("a", 5.0)
    cut, which = clinical_criterion([np.nan], [np.nan], [15.0], [5.0], ["lower"], None)
    assert which[0] is None and np.isnan(cut[0])
    # agrees with clinical_cutoffs' c
    info = pd.DataFrame({"instrument": ["x"], "scale": ["t"], "direction": ["lower"],
                         "func_mean": [5.0], "func_sd": [4.0], "dys_mean": [15.0],
                         "dys_sd": [5.0]})
    assert reliable.clinical_cutoffs(info)["c"].iloc[0] == pytest.approx(
        clinical_criterion([5.], [4.], [15.], [5.], ["lower"])[0][0])


def test_four_categories_with_the_baseline_as_the_referred_sample():
    pre = np.array([30., 32, 34, 36, 38, 40, 42, 44, 46, 52])
    post = pre + np.array([15., 12, 0, -12, 1, 2, 14, 0, 3, 12])
    rc = reliable_change(_scores(pre, post), INFO, sd=9, timepoints=TP,
                         dysfunctional="baseline")
    m0, s0 = pre.mean(), pre.std(ddof=1)
    c = (s0 * 49.4 + 8.96 * m0) / (s0 + 8.96)
    assert rc["cutoff"].iloc[0] == pytest.approx(c) and rc["cutoff_c"].iloc[0] == \
        pytest.approx(c)
    assert set(rc["cutoff_criterion"]) == {"c"}
    threshold = stats.norm.ppf(0.975) * 9 * math.sqrt(2) * math.sqrt(1 - 0.83)
    change = post - pre
    want = np.where(change > threshold,
                    np.where((pre <= c) & (post > c), "recovered", "improved"),
                    np.where(change < -threshold, "deteriorated", "unchanged"))
    assert rc["jt_category"].tolist() == want.tolist()
    assert {"recovered", "improved", "unchanged", "deteriorated"} <= set(want)
    # clinically_significant = recovered, among those who started on the dysfunctional side
    started = pre <= c
    assert rc["clinically_significant"].isna().tolist() == (~started).tolist()
    summary = reliable.reliable_change_summary(rc, min_cell_size=1).iloc[0]
    for cat in ("recovered", "improved", "unchanged", "deteriorated"):
        assert summary[f"n_{cat}"] == int((want == cat).sum())


def test_no_norm_sd_means_no_cutoff_and_the_source_says_so():
    info = INFO.assign(norm_sd=np.nan)
    rc = reliable_change(_scores([40., 42], [50., 41]), info, sd=9, timepoints=TP,
                         dysfunctional="baseline")
    assert rc["jt_category"].isna().all() and rc["cutoff"].isna().all()
    assert set(rc["cutoff_source"]) == {"no cut-off: no functional norm with an SD published"}
    rc = reliable_change(_scores([40., 42], [50., 41]), info, sd=9, timepoints=TP,
                         dysfunctional="baseline", cutoff_fallback="a")
    assert set(rc["cutoff_criterion"]) == {"a"}
    assert rc["cutoff"].iloc[0] == pytest.approx(41 + 2 * np.std([40., 42], ddof=1))


def test_demo_reliable_improvers_with_test_retest_and_with_alpha(demo):
    # the reviewer: with the published one-week test-retest reliability (.83) the demo has 46
    # reliable improvers instead of 89; recomputed here from the raw totals by hand
    pairs = outcomes.score_pairs(demo, "wemwbs", "total")
    sc = demo.scores
    base = sc[(sc.instrument == "wemwbs") & (sc.scale == "total")
              & (sc.timepoint == demo.timepoints[0])]["score"].dropna()
    sd = float(base.std(ddof=1))
    z = stats.norm.ppf(0.975)
    by_hand = {r: int(((pairs["post"] - pairs["pre"]) > z * sd * math.sqrt(2 * (1 - r))).sum())
               for r in (0.83, 0.91)}
    assert by_hand == {0.83: 46, 0.91: 89}
    sens = outcomes.reliable_change_sensitivity(demo, ["wemwbs"]).set_index("analysis")
    assert sens.loc["main", "reliability_used"] == 0.83
    assert sens.loc["main", "n_reliable_improvement"] == 46
    assert sens.loc["sensitivity", "reliability_used"] == 0.91
    assert sens.loc["sensitivity", "n_reliable_improvement"] == 89
    counts = outcomes.sensitivity_counts(sens.reset_index())
    assert counts.index.tolist() == ["wemwbs total: test-retest reliability 0.83",
                                     "wemwbs total: published Cronbach's alpha 0.91"]
    assert (counts["Total"] == len(pairs)).all()


def test_demo_sensitivity_says_test_retest_not_published(demo):
    sens = outcomes.reliable_change_sensitivity(demo, ["swemwbs", "gse"])
    alt = sens[sens["analysis"] == "sensitivity"]
    assert set(alt["note"]) == {"test-retest reliability not published"}
    assert alt["n_reliable_improvement"].isna().all()
    main = sens[sens["analysis"] == "main"]
    assert set(main["reliability_basis"]) == {"study_alpha"}


def test_demo_clinical_counts_by_hand_and_under_the_disclosure_rule(demo):
    rc, summary = outcomes.reliable_change_table(demo, ["wemwbs", "swemwbs"])
    w = summary.set_index(["instrument", "scale"]).loc[("wemwbs", "total")]
    sc = demo.scores
    base = sc[(sc.instrument == "wemwbs") & (sc.scale == "total")
              & (sc.timepoint == demo.timepoints[0])]["score"].dropna()
    m0, s0 = float(base.mean()), float(base.std(ddof=1))
    c = (s0 * 49.4 + 8.96 * m0) / (s0 + 8.96)     # SHeS 2018 norm, referred = baseline
    assert w["cutoff"] == pytest.approx(c) and w["cutoff_criterion"] == "c"
    pairs = outcomes.score_pairs(demo, "wemwbs", "total")
    thr = stats.norm.ppf(0.975) * s0 * math.sqrt(2 * (1 - 0.83))
    gain = pairs["post"] - pairs["pre"]
    recovered = int(((gain > thr) & (pairs["pre"] <= c) & (pairs["post"] > c)).sum())
    assert w["n_recovered"] == recovered
    assert w["n_improved"] == int((gain > thr).sum()) - recovered
    counts = outcomes.clinical_change_counts(summary)
    assert counts.index.tolist() == ["wemwbs total (criterion c)"]     # SWEMWBS: no norm SD
    s = summary.set_index(["instrument", "scale"]).loc[("swemwbs", "metric")]
    assert s["cutoff_source"] == "no cut-off: no functional norm with an SD published"
    assert pd.isna(s["n_recovered"])
    shown = disclosure.suppress_counts(counts, 5, totals="column")
    row = shown.loc["wemwbs total (criterion c)"]
    assert counts.loc["wemwbs total (criterion c)", "deteriorated"] < 5
    assert not str(row["deteriorated"]).isdigit()           # fewer than 5: suppressed


def test_site_report_uses_the_whole_studys_cutoff(demo):
    whole, _ = outcomes.reliable_change_table(demo, ["wemwbs"])
    site = demo.sites[0]
    rc, _ = outcomes.reliable_change_table(demo.for_site(site), ["wemwbs"], whole=demo)
    m = whole.merge(rc, on=["participant_id", "instrument", "scale"], suffixes=("", "_s"))
    assert len(m) == len(rc) > 0
    assert np.allclose(m["cutoff"], m["cutoff_s"])
    assert (m["jt_category"].fillna("-") == m["jt_category_s"].fillna("-")).all()
    assert set(m["reliability_basis_s"]) == {"test_retest"}


def test_study_thresholds_are_kept_by_content_not_by_object():
    """study_thresholds computes once per study content in a process (site reports on a warm
    kernel load the study afresh each time); a copy is returned, and a study whose answers
    differ gets its own thresholds (as computed without the cache)."""
    from spanalysis.change import outcomes
    from spanalysis.study import load_study

    outcomes._THRESHOLDS_CACHE.clear()
    first = outcomes.study_thresholds(load_study(DEMO), ["wemwbs"])
    first.loc[0, "threshold"] = -1.0                      # the caller's copy, not the cache's
    again = outcomes.study_thresholds(load_study(DEMO), ["wemwbs"])
    assert again.loc[0, "threshold"] > 0
    assert len(outcomes._THRESHOLDS_CACHE) == 1
    edited = load_study(DEMO)
    items = [f"wemwbs_{i}" for i in range(1, 15)]
    base = edited.responses["timepoint"].astype(str) == "baseline"
    edited.responses.loc[base, items] = edited.responses.loc[base, items].clip(upper=3)
    edited.__dict__.pop("scores", None)                   # scores follow the new answers
    changed = outcomes.study_thresholds(edited, ["wemwbs"])
    fresh = outcomes._study_thresholds(edited, ["wemwbs"], 0.95, "baseline", "followup",
                                       "test_retest")
    assert len(outcomes._THRESHOLDS_CACHE) == 2
    assert changed.equals(fresh)
    assert changed.loc[0, "sd_used"] != again.loc[0, "sd_used"]
