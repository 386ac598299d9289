"""Regression to the mean (RTM) in an uncontrolled before-after evaluation: how much of the
change people who start below (or above) the population average would show anyway.

People are referred to social prescribing when they are struggling, so their baseline scores
sit below the population mean; a second measurement of the same people is expected to be
closer to that mean even if nothing happened. Two views, both for the completers (the people
whose change is observed), between ``pre`` and ``post`` (default the first and last time
point):

* :func:`ancova_followup`: ANCOVA of the follow-up score on the baseline score (and site),
  ordinary least squares. Reported: the slope on baseline, the change predicted at the
  completers' baseline mean and the change predicted for someone who started at the
  population mean (where, on the model's line, there is no regression to the mean to
  expect). The difference between the two predicted changes is (1 - b)(mu - x_bar): the
  formula below with the slope b in place of r.
* :func:`regression_to_mean`: the expected RTM from the test-retest reliability and the
  population norm, and a plain sentence on what part of the observed change it could
  explain.

Expected regression to the mean
-------------------------------
With baseline and follow-up scores bivariate normal with the same mean mu and SD sigma in
the population and correlation r between two measurements (test-retest reliability over the
follow-up interval), E[X2 | X1 = x] = mu + r (x - mu) (Davis 1976; Barnett, van der Pols &
Dobson 2005, Int J Epidemiol 34:215-220). For a group with baseline mean x_bar the expected
change from RTM alone is therefore

    RTM = (1 - r) (mu - x_bar)

(positive when the group starts below the mean). Barnett et al.'s equation (1) gives the
same for people selected by a cut-off c (one baseline measurement): RTM = sigma (1 - r) C(z)
with z = (c - mu) / sigma and C(z) = phi(z) / (1 - Phi(z)) (selected above c; for below c,
z = (mu - c) / sigma and the effect is upwards); since the mean of the selected group is
mu +/- sigma C(z), this is (1 - r)|mu - x_bar| (:func:`rtm_cutoff`).

Which r: a one-week test-retest coefficient (WEMWBS: 0.83, Tennant et al. 2007, Health Qual
Life Outcomes 5:63; in ``measures.md`` and the WEMWBS definition's notes, not yet a
structured field) is higher than the correlation over a follow-up of months, so it gives a
*smaller* RTM than the true one; the study's own baseline-follow-up correlation (always shown,
labelled) includes any varied response to the intervention, which lowers it, so it gives a
*larger* one. The definitions' reliabilities are used only when their kind is
``test_retest`` (Cronbach's alpha is not a test-retest correlation). Which norm: every norm
of the scale's definition is a row (WEMWBS: Scottish Health Survey 2018 adults 49.4, the
reference, and Health Survey for England 2016 men 50.1 and women 49.6); ``norm_mean=`` puts
the analyst's own in place of them.

References
----------
Barnett AG, van der Pols JC, Dobson AJ (2005). Regression to the mean: what it is and how to
    deal with it. Int J Epidemiol 34:215-220. doi:10.1093/ije/dyh299
Davis CE (1976). The effect of regression to the mean in epidemiologic and clinical studies.
    Am J Epidemiol 104:493-498.
Vickers AJ, Altman DG (2001). Analysing controlled trials with baseline and follow up
    measurements. BMJ 323:1123-1124 (ANCOVA of follow-up on baseline).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from spanalysis.change.pairs import check_confidence
from spanalysis.change.quality import timepoint_label
from spanalysis.errors import InputError

__all__ = ["expected_rtm", "rtm_cutoff", "ancova_followup", "regression_to_mean",
           "ANCOVA_COLUMNS", "RTM_COLUMNS"]

STUDY_R = "study"


def expected_rtm(baseline_mean: float, population_mean: float, r: float) -> float:
    """Expected change from regression to the mean alone: (1 - r)(mu - x_bar).

    >>> round(expected_rtm(39.0, 49.4, 0.83), 3)
    1.768
    """
    _check_r(r)
    return (1 - float(r)) * (float(population_mean) - float(baseline_mean))


def rtm_cutoff(mu: float, sigma: float, r: float, cutoff: float, below: bool = True) -> float:
    """Barnett et al. (2005) equation (1), one baseline measurement: the expected RTM of
    people selected below (``below``) or above ``cutoff``, sigma (1 - r) C(z), signed (up
    for a group selected below the cut-off)."""
    _check_r(r)
    if not sigma > 0:
        raise InputError("the population SD must be positive", column="sigma", value=sigma,
                         expected="a number above 0")
    z = (mu - cutoff) / sigma if below else (cutoff - mu) / sigma
    cz = stats.norm.pdf(z) / stats.norm.sf(z)
    return (1 if below else -1) * sigma * (1 - r) * cz


def _check_r(r) -> None:
    if r is None or not (isinstance(r, (int, float, np.floating)) and 0 <= float(r) <= 1):
        raise InputError("a test-retest reliability must be a number from 0 to 1",
                         column="retest", value=r, expected="a correlation such as 0.83")


def _completers(study, instrument: str, scale: str, pre, post) -> pd.DataFrame:
    """``participant_id, pre, post, site`` of the people with both scores."""
    from spanalysis.change.missing import scale_data

    data = scale_data(study, instrument, scale, pre, post)
    return data[data["completer"]].reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# ANCOVA
# --------------------------------------------------------------------------------------------
#: the columns of :func:`ancova_followup`
ANCOVA_COLUMNS = ["quantity", "estimate", "se", "ci_low", "ci_high", "t", "df", "p", "n",
                  "at", "sites", "confidence"]


def ancova_followup(study, instrument: str, scale: str, pre=None, post=None,
                    confidence: float = 0.95, norm_mean=None, site: bool = True
                    ) -> pd.DataFrame:
    """ANCOVA of the follow-up score on the baseline score (and site) for the completers,
    by ordinary least squares: post = a + b pre + sum_s g_s [site = s] + e (treatment coding,
    first site the reference). Rows (``quantity``):

    * ``baseline slope``: b (1 = no regression towards the mean; below 1 = people further
      from the mean moved further back towards it, as RTM predicts, or responded more);
    * ``change at baseline mean``: mean over the completers of the predicted follow-up with
      every baseline at their mean x_bar, minus x_bar (``at`` = x_bar);
    * ``change at population mean``: the same at the population norm mu (``at``; the
      scale's reference norm unless ``norm_mean``; absent when there is none).

    ``se`` from sigma^2 c'(X'X)^-1 c, t interval on n - p df; ``sites``: site terms in the
    model (0 when ``site`` is False or the completers are at one site). Withheld (no rows)
    below the study's minimum cell size or with fewer than p + 2 completers."""
    confidence = check_confidence(confidence)
    data = _completers(study, instrument, scale, pre, post)
    n = len(data)
    x, y = data["pre"].to_numpy(float), data["post"].to_numpy(float)
    columns = [np.ones(n), x]
    levels = []
    if site and "site" in data.columns:
        sites = data["site"].astype(str)
        levels = sorted(sites.unique())[1:]
        columns += [(sites == s).to_numpy(float) for s in levels]
    X = np.column_stack(columns)
    p_terms = X.shape[1]
    if n < max(study.min_cell_size, p_terms + 2):
        return pd.DataFrame(columns=ANCOVA_COLUMNS)
    xtx_inv = np.linalg.pinv(X.T @ X)
    beta = xtx_inv @ X.T @ y
    resid = y - X @ beta
    df = n - np.linalg.matrix_rank(X)
    sigma2 = float(resid @ resid / df)
    crit = stats.t.ppf(1 - (1 - confidence) / 2, df)

    def row(quantity, c, offset, at):
        est = float(c @ beta) - offset
        se = math.sqrt(sigma2 * float(c @ xtx_inv @ c))
        t = est / se if se > 0 else math.nan
        return {"quantity": quantity, "estimate": est, "se": se, "ci_low": est - crit * se,
                "ci_high": est + crit * se, "t": t, "df": float(df),
                "p": float(2 * stats.t.sf(abs(t), df)), "n": n, "at": at,
                "sites": len(levels), "confidence": confidence}

    slope = np.zeros(p_terms)
    slope[1] = 1.0
    # H0 for the slope is 1 (no regression): t and p test b = 1, the estimate is b itself
    rows = [row("baseline slope", slope, 0.0, math.nan)]
    b = rows[0]
    b["t"] = (b["estimate"] - 1) / b["se"] if b["se"] > 0 else math.nan
    b["p"] = float(2 * stats.t.sf(abs(b["t"]), df))
    xbar = float(x.mean())
    means = X.mean(axis=0)
    rows.append(row("change at baseline mean", np.r_[means[0], xbar, means[2:]], xbar, xbar))
    mu = _norm_mean(study, instrument, scale, norm_mean)
    if mu is not None:
        rows.append(row("change at population mean", np.r_[means[0], mu, means[2:]], mu, mu))
    return pd.DataFrame(rows, columns=ANCOVA_COLUMNS)


def _norm_mean(study, instrument, scale, norm_mean) -> float | None:
    if norm_mean is not None:
        return float(norm_mean)
    norms = _norms(study, instrument, scale)
    ref = [n for n in norms if n[3]] or norms
    return ref[0][1] if ref else None


def _scale(study, instrument: str, scale: str):
    ins = study.instruments.get(instrument)
    if ins is None:
        return None
    found = [s for s in ins.scales if s.id == scale]
    return found[0] if found else None


def _norms(study, instrument, scale) -> list[tuple[str, float, str, bool]]:
    """``(group, mean, source, reference)`` of every norm in the scale's definition."""
    s = _scale(study, instrument, scale)
    return [] if s is None else [(n.group, float(n.mean), n.source, bool(n.reference))
                                 for n in s.norms]


# --------------------------------------------------------------------------------------------
# expected regression to the mean
# --------------------------------------------------------------------------------------------
#: the columns of :func:`regression_to_mean`
RTM_COLUMNS = ["instrument", "scale", "pre", "post", "n_completers", "baseline_mean",
               "followup_mean", "observed_change", "norm_group", "norm_mean", "norm_source",
               "reliability", "reliability_kind", "reliability_source", "expected_rtm",
               "share_of_change", "change_beyond_rtm", "primary", "small_group", "sentence"]


def regression_to_mean(study, instrument: str, scale: str, pre=None, post=None,
                       retest=None, retest_source=None, norm_mean=None, norm_source=None,
                       norm_group=None) -> pd.DataFrame:
    """Expected regression to the mean for the completers (module docstring): one row per
    norm and correlation, columns :data:`RTM_COLUMNS`.

    Correlations, in order: ``retest`` (a test-retest reliability the analyst gives, with
    ``retest_source``: required with it); the definition's reliability when its kind is
    ``test_retest``; and always the study's own baseline-follow-up correlation of the
    completers (``reliability_kind`` 'study'). Norms: ``norm_mean`` (with ``norm_source``,
    required with it) or each norm of the definition. ``expected_rtm`` = (1 - r)(mu -
    x_bar), in score points, signed like a change (post minus pre); ``share_of_change`` =
    expected_rtm / observed_change (the completers' mean change); ``change_beyond_rtm`` =
    observed - expected. ``primary``: the row the ``sentence`` speaks of (the first
    correlation, the given or reference norm). No norm: one row per correlation with NaN
    norms and a sentence saying so. Withheld (NaN) below the study's minimum cell size."""
    if retest is not None:
        _check_r(retest)
        if not retest_source:
            raise InputError("say where the test-retest reliability comes from",
                             column="retest_source", value=retest_source,
                             expected="a citation, e.g. 'Tennant et al. 2007, HQLO 5:63'")
    if norm_mean is not None and not norm_source:
        raise InputError("say where the population mean comes from", column="norm_source",
                         value=norm_source, expected="a citation of the survey or paper")
    from spanalysis.change.outcomes import time_pair

    base, final = time_pair(study, pre, post)
    data = _completers(study, instrument, scale, base, final)
    x, y = data["pre"].to_numpy(float), data["post"].to_numpy(float)
    n = x.size
    small = n < max(study.min_cell_size, 3)
    xbar = float(x.mean()) if n else math.nan
    ybar = float(y.mean()) if n else math.nan
    change = ybar - xbar
    rs = _correlations(study, instrument, scale, retest, retest_source, x, y, base, final)
    if norm_mean is not None:
        norms = [(norm_group or "given", float(norm_mean), norm_source, True)]
    else:
        norms = _norms(study, instrument, scale) or [(None, math.nan, None, True)]
    if not any(nm[3] for nm in norms):
        norms[0] = norms[0][:3] + (True,)
    rows = []
    for i, (r, kind, rsource) in enumerate(rs):
        for group, mu, nsource, ref in norms:
            rtm = (1 - r) * (mu - xbar) if np.isfinite(r) else math.nan
            rows.append({"instrument": instrument, "scale": scale, "pre": base,
                         "post": final, "n_completers": n, "baseline_mean": xbar,
                         "followup_mean": ybar, "observed_change": change,
                         "norm_group": group, "norm_mean": mu, "norm_source": nsource,
                         "reliability": r, "reliability_kind": kind,
                         "reliability_source": rsource, "expected_rtm": rtm,
                         "share_of_change": rtm / change if change else math.nan,
                         "change_beyond_rtm": change - rtm, "primary": i == 0 and ref,
                         "small_group": small, "sentence": None})
    out = pd.DataFrame(rows, columns=RTM_COLUMNS)
    if small:
        out[["baseline_mean", "followup_mean", "observed_change", "reliability",
             "expected_rtm", "share_of_change", "change_beyond_rtm"]] = math.nan
        out.loc[out["primary"], "sentence"] = ("Too few people were followed up to say how "
                                               "much regression to the mean could explain.")
        return out
    first = out.index[out["primary"]][0]
    out.at[first, "sentence"] = _sentence(out.loc[first])
    return out


def _correlations(study, instrument, scale, retest, retest_source, x, y, base, final):
    rs = []
    if retest is not None:
        rs.append((float(retest), "test_retest", str(retest_source)))
    s = _scale(study, instrument, scale)
    # the published test-retest reliability: the definition's test_retest beside its alpha,
    # or its reliability when that is of kind test_retest (Scale.retest)
    rel = None if s is None else s.retest
    if rel is not None and retest is None:
        rs.append((float(rel.value), "test_retest", rel.source))
    r_study = float(np.corrcoef(x, y)[0, 1]) if x.size > 2 and x.std() > 0 and y.std() > 0 \
        else math.nan
    rs.append((max(r_study, 0.0) if np.isfinite(r_study) else math.nan, STUDY_R,
               f"this study's correlation of {timepoint_label(study, base)} and "
               f"{timepoint_label(study, final)} scores among completers (includes varied responses to the "
               "intervention, so it overstates regression to the mean)"))
    return rs


def _f(v: float) -> str:
    return f"{v:.1f}".replace("-", "\u2212")


def _sentence(row) -> str:
    """What part of the observed change regression to the mean could explain."""
    mu, xbar, rtm, change = (row["norm_mean"], row["baseline_mean"], row["expected_rtm"],
                             row["observed_change"])
    if not np.isfinite(mu):
        return ("The scale's definition has no population norm, so the regression to the "
                "mean expected cannot be estimated.")
    if not np.isfinite(rtm):
        return ("No correlation between repeated measurements is available, so the "
                "regression to the mean expected cannot be estimated.")
    where = "below" if xbar < mu else "above"
    r_text = (f"a test-retest reliability of {row['reliability']:.2f}"
              if row["reliability_kind"] == "test_retest" else
              f"this study's own baseline-follow-up correlation ({row['reliability']:.2f})")
    head = (f"People followed up started on average {_f(abs(mu - xbar))} points {where} the "
            f"population mean ({_f(mu)}, {row['norm_group']}); with {r_text}, regression to "
            f"the mean alone would move their average {_f(abs(rtm))} points towards it")
    if change == 0 or np.sign(rtm) != np.sign(change):
        return head + (f", the opposite way to the observed change of {_f(change)} points, so "
                       "it cannot explain that change.")
    share = min(rtm / change, 1.0)
    if share >= 1:
        return head + (f", as much as or more than the observed change of {_f(change)} "
                       "points: the change could be regression to the mean alone.")
    return head + (f", about {100 * share:.0f}% of the observed change of {_f(change)} points; "
                   f"the other {_f(change - rtm)} points are not explained by it (but, "
                   "without a comparison group, not shown to be caused by the service "
                   "either).")
