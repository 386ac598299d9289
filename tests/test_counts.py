"""Service use as counts and change by sessions attended (issue 23: 6).

References, independent of the code under test: statsmodels models fitted here directly
(``smf.gee`` with a formula, ``NegativeBinomial``, ``smf.ols``), the closed form of the
robust (sandwich) variance of a log rate ratio worked by hand, the Poisson variance
1/A + 1/B of a log rate ratio when counts are independent Poisson, and
``scipy.stats.linregress``.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import stats

from spanalysis.change.counts import (RATE_COLUMNS, SESSION_COLUMNS, change_by_session_band,
                                      change_by_sessions, service_use_rate_ratio, window_text)
from spanalysis.errors import InputError

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"

# six people, GP consultations in 6 months before / after: B = 24, A = 18
BEFORE = np.array([4, 3, 6, 2, 5, 4], dtype=float)
AFTER = np.array([2, 3, 4, 1, 5, 3], dtype=float)


def long_table(before, after, service="gp_consultations"):
    ids = [f"P{i:03d}" for i in range(len(before))]
    return pd.DataFrame({"participant_id": np.repeat(ids, 2), "service": service,
                         "period": ["before", "after"] * len(ids),
                         "count": np.column_stack([before, after]).ravel()})


def test_rate_ratio_is_the_crude_ratio_with_the_sandwich_interval_by_hand():
    row = service_use_rate_ratio(long_table(BEFORE, AFTER), window_months=6).iloc[0]
    assert list(service_use_rate_ratio(long_table(BEFORE, AFTER)).columns) == RATE_COLUMNS
    assert (row.before_total, row.after_total, row.n_pairs) == (24, 18, 6)
    assert row.crude_rate_ratio == pytest.approx(0.75)
    assert row.rate_ratio == pytest.approx(0.75)
    # robust variance of log(A/B): sum_i ((a_i - A/n)/A - (b_i - B/n)/B)^2
    #   a - 3 = [-1, 0, 1, -2, 2, 0] / 18;  b - 4 = [0, -1, 2, -2, 1, 0] / 24
    #   terms: (-1/18)^2 = 1/324, (1/24)^2 = 1/576, (1/18 - 2/24)^2 = (1/36)^2 = 1/1296,
    #   (-2/18 + 2/24)^2 = 1/1296, (2/18 - 1/24)^2 = (5/72)^2 = 25/5184, 0
    #   sum = (16 + 9 + 4 + 4 + 25) / 5184 = 58/5184; SE = sqrt(0.0111883) = 0.1057746
    terms = [(-1 / 18) ** 2, (1 / 24) ** 2, (1 / 18 - 1 / 12) ** 2, (-1 / 9 + 1 / 12) ** 2,
             (1 / 9 - 1 / 24) ** 2, 0.0]
    se = math.sqrt(sum(terms))
    assert se == pytest.approx(math.sqrt(58 / 5184)) and se == pytest.approx(0.1057746, abs=1e-7)
    assert row.rate_ratio_ci_low == pytest.approx(0.75 * math.exp(-1.959964 * se), abs=1e-6)
    assert row.rate_ratio_ci_high == pytest.approx(0.75 * math.exp(1.959964 * se), abs=1e-6)
    assert row.p == pytest.approx(2 * stats.norm.sf(abs(math.log(0.75)) / se), rel=1e-6)
    assert row.window == "6 months before and 6 months after referral"
    assert row.before_rate == 4 and row.after_rate == 3


def test_rate_ratio_against_statsmodels_fitted_directly():
    rng = np.random.default_rng(4)
    rate = rng.gamma(2.0, 2.5, 80)                 # overdispersed between people
    before, after = rng.poisson(rate), rng.poisson(rate * 0.8)
    data = long_table(before, after)
    frame = data.assign(after=(data["period"] == "after").astype(float))
    gee = smf.gee("count ~ after", groups="participant_id", data=frame,
                  family=sm.families.Poisson()).fit()
    row = service_use_rate_ratio(data).iloc[0]
    assert row.rate_ratio == pytest.approx(math.exp(gee.params["after"]), rel=1e-8)
    low, high = np.exp(gee.conf_int().loc["after"])
    assert (row.rate_ratio_ci_low, row.rate_ratio_ci_high) == (pytest.approx(low, rel=1e-6),
                                                               pytest.approx(high, rel=1e-6))
    nb = sm.NegativeBinomial(frame["count"].to_numpy(float),
                             sm.add_constant(frame["after"].to_numpy()), loglike_method="nb2")
    nb = nb.fit(disp=0, cov_type="cluster",
                cov_kwds={"groups": pd.factorize(frame["participant_id"])[0]})
    row_nb = service_use_rate_ratio(data, method="negative_binomial").iloc[0]
    assert row_nb.rate_ratio == pytest.approx(math.exp(nb.params[1]), rel=1e-5)
    assert row_nb.rate_ratio == pytest.approx(after.sum() / before.sum(), rel=1e-5)
    low, high = np.exp(nb.conf_int()[1])
    assert row_nb.rate_ratio_ci_low == pytest.approx(low, rel=1e-5)
    assert row_nb.rate_ratio_ci_high == pytest.approx(high, rel=1e-5)
    assert row.dispersion > 1.5                    # gamma frailty: overdispersed


def test_without_overdispersion_the_interval_is_the_poisson_one():
    # independent Poisson counts (same mean for everyone): dispersion about 1, and the robust
    # SE of log(A/B) is close to the Poisson SE sqrt(1/A + 1/B)
    rng = np.random.default_rng(8)
    before, after = rng.poisson(4.0, 3000), rng.poisson(3.4, 3000)
    for method in ("poisson_gee", "negative_binomial"):
        row = service_use_rate_ratio(long_table(before, after), method=method).iloc[0]
        assert row.rate_ratio == pytest.approx(after.sum() / before.sum(), rel=1e-5)
        assert 0.93 < row.dispersion < 1.07
        se = math.sqrt(1 / after.sum() + 1 / before.sum())
        width = math.log(row.rate_ratio_ci_high / row.rate_ratio_ci_low) / (2 * 1.959964)
        assert width == pytest.approx(se, rel=0.06), method


def test_rate_ratio_withholds_small_services_and_checks_its_input():
    data = pd.concat([long_table(BEFORE, AFTER),
                      long_table([1, 2, 0], [0, 1, 1], service="ae_attendances")])
    data = data.iloc[:-1]                            # one person with a before count only
    out = service_use_rate_ratio(data).set_index("service")
    assert out.loc["ae_attendances", "small_group"]
    assert (out.loc["ae_attendances", "n_pairs"], out.loc["ae_attendances", "n_unpaired"]) \
        == (2, 1)
    assert out.loc["ae_attendances", ["rate_ratio", "before_total", "p"]].isna().all()
    assert out.loc["gp_consultations", "rate_ratio"] == pytest.approx(0.75)
    assert out.loc["gp_consultations", "window"].startswith("window length not stated")
    assert window_text(1) == "1 month before and 1 month after referral"
    bad = long_table(BEFORE, AFTER)
    bad.loc[3, "count"] = -1
    with pytest.raises(InputError, match="whole number"):
        service_use_rate_ratio(bad)
    bad = long_table(BEFORE, AFTER)
    bad.loc[0, "period"] = "during"
    with pytest.raises(InputError, match="period"):
        service_use_rate_ratio(bad)
    with pytest.raises(InputError, match="count model"):
        service_use_rate_ratio(long_table(BEFORE, AFTER), method="zip")


def test_demo_gp_consultations_fall_and_the_table_is_fast():
    from spanalysis.study import load_study

    study = load_study(DEMO)
    service_use_rate_ratio(study.service_use)                       # warm up (imports)
    start = time.perf_counter()
    row = service_use_rate_ratio(study.service_use,
                                 study.manifest.service_window_months).iloc[0]
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0, elapsed
    # planted: after = before x exp(-0.12 - 0.1 delta), about a 15% fall (spanalysis.demo)
    assert row.window_months == 6
    assert 0.75 < row.rate_ratio < 0.9 and row.rate_ratio_ci_high < 1
    assert row.dispersion > 1                                       # gamma frailty


# --------------------------------------------------------------------------------------------
# dose
# --------------------------------------------------------------------------------------------
def dose_data(n=60, slope=0.5, seed=2):
    rng = np.random.default_rng(seed)
    sessions = rng.integers(0, 12, n)
    pre = rng.normal(40, 8, n)
    post = pre + 2 + slope * sessions - 0.3 * (pre - 40) + rng.normal(0, 4, n)
    ids = [f"P{i:03d}" for i in range(n)]
    scores = pd.DataFrame({"participant_id": ids * 2, "timepoint": ["pre"] * n + ["post"] * n,
                           "instrument": "w", "scale": "t",
                           "score": np.concatenate([pre, post])})
    people = pd.DataFrame({"participant_id": ids, "sessions_attended": sessions})
    info = pd.DataFrame({"instrument": ["w"], "scale": ["t"], "direction": ["higher"],
                         "scale_name": ["W total"]})
    return scores, people, info, pre, post, sessions


def test_change_by_sessions_against_statsmodels_and_linregress():
    scores, people, info, pre, post, sessions = dose_data()
    row = change_by_sessions(scores, info, people, timepoints=["pre", "post"]).iloc[0]
    frame = pd.DataFrame({"change": post - pre, "sessions": sessions, "pre": pre})
    ref = smf.ols("change ~ sessions + pre", data=frame).fit()
    assert row.slope == pytest.approx(ref.params["sessions"], rel=1e-9)
    low, high = ref.conf_int().loc["sessions"]
    assert (row.slope_ci_low, row.slope_ci_high) == (pytest.approx(low), pytest.approx(high))
    assert row.p == pytest.approx(ref.pvalues["sessions"])
    assert row.baseline_coef == pytest.approx(ref.params["pre"])
    assert row.r_squared == pytest.approx(ref.rsquared)
    assert row.slope_ci_low < 0.5 < row.slope_ci_high              # the planted slope
    assert row.n == 60 and row.adjusted_for == "baseline score"
    assert list(change_by_sessions(scores, info, people,
                                   timepoints=["pre", "post"]).columns) == SESSION_COLUMNS
    bare = change_by_sessions(scores, info, people, timepoints=["pre", "post"],
                              adjust_baseline=False).iloc[0]
    lr = stats.linregress(sessions, post - pre)
    assert bare.slope == pytest.approx(lr.slope) and bare.p == pytest.approx(lr.pvalue)
    assert bare.intercept == pytest.approx(lr.intercept) and math.isnan(bare.baseline_coef)


def test_change_by_sessions_direction_withholding_and_errors():
    scores, people, info, *_ = dose_data(n=4)
    lower = info.assign(direction="lower")
    row = change_by_sessions(scores, lower, people, timepoints=["pre", "post"],
                             min_cell_size=1).iloc[0]
    assert row.improvement_per_session == pytest.approx(-row.slope)
    small = change_by_sessions(scores, info, people, timepoints=["pre", "post"]).iloc[0]
    assert small.small_group and math.isnan(small.slope) and small.n == 4
    # sessions not recorded for someone: they are left out
    scores, people, info, *_ = dose_data()
    people.loc[0, "sessions_attended"] = np.nan
    assert change_by_sessions(scores, info, people, timepoints=["pre", "post"]).n.iloc[0] == 59
    with pytest.raises(InputError, match="sessions_attended"):
        change_by_sessions(scores, info, people.drop(columns="sessions_attended"),
                           timepoints=["pre", "post"])
    with pytest.raises(InputError, match="participants"):
        change_by_sessions(scores, info, None, timepoints=["pre", "post"])


def test_change_by_session_band_by_hand():
    scores, people, info, pre, post, sessions = dose_data()
    bands = change_by_session_band(scores, info, people, "w", "t", bands=(0, 4, 8),
                                   timepoints=["pre", "post"]).set_index("band")
    assert list(bands.index) == ["0-3", "4-7", "8+"]
    change = post - pre
    for label, keep in (("0-3", sessions < 4), ("4-7", (sessions >= 4) & (sessions < 8)),
                        ("8+", sessions >= 8)):
        d = change[keep]
        assert bands.at[label, "n"] == keep.sum()
        assert bands.at[label, "change_mean"] == pytest.approx(d.mean())
        half = stats.t.ppf(0.975, d.size - 1) * d.std(ddof=1) / math.sqrt(d.size)
        assert bands.at[label, "change_ci_high"] == pytest.approx(d.mean() + half)
    few = change_by_session_band(scores, info, people, "w", "t", bands=(0, 11),
                                 timepoints=["pre", "post"]).set_index("band")
    if few.at["11+", "n"] < 5:
        assert few.at["11+", "small_group"] and math.isnan(few.at["11+", "change_mean"])
    with pytest.raises(InputError, match="increasing"):
        change_by_session_band(scores, info, people, "w", "t", bands=(3, 1))


def test_demo_change_by_sessions_is_fast():
    from spanalysis.study import load_study

    study = load_study(DEMO)
    change_by_sessions(study.scores, study.scale_info, study.participants)
    start = time.perf_counter()
    table = change_by_sessions(study.scores, study.scale_info, study.participants)
    change_by_session_band(study.scores, study.scale_info, study.participants,
                           "wemwbs", "total")
    assert time.perf_counter() - start < 1.0
    assert {"wemwbs", "ucla3"} <= set(table["instrument"])
    assert table.loc[~table["small_group"], "slope"].notna().all()
