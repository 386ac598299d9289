"""Change by site: per-site tables, a random-intercept model and a forest plot.

Participants are nested in sites (practices, link workers), so a pooled mean change that ignores
the sites overstates precision when sites differ. :func:`mixed_model_change` fits
change_ij = mu + u_j + e_ij with u_j ~ N(0, tau^2) (between sites) and e_ij ~ N(0, sigma^2)
(within sites) and reports the ICC = tau^2 / (tau^2 + sigma^2).

References
----------
Seabold S, Perktold J (2010). statsmodels: econometric and statistical modeling with Python.
    Proc 9th Python in Science Conf. (``statsmodels.regression.mixed_linear_model.MixedLM``)
Snijders TAB, Bosker RJ (2012). Multilevel Analysis, 2nd ed. Sage (ch. 3-4: the random
    intercept model and the intraclass correlation).
Lewis S, Clarke M (2001). Forest plots: trying to see the wood and the trees. BMJ 322:1479.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from spanalysis.change.paired import paired_change
from spanalysis.change.pairs import _attach_group, _pair_table, _resolve_pre_post, check_confidence
from spanalysis.errors import InputError

__all__ = ["site_change", "mixed_model_change", "forest_plot"]


def site_change(scores: pd.DataFrame, scale_info: pd.DataFrame, participants: pd.DataFrame,
                site_column: str = "site", **kwargs) -> pd.DataFrame:
    """Paired change per site: :func:`spanalysis.change.paired_change` with ``by=site_column``.

    Parameters
    ----------
    scores, scale_info, participants : DataFrame
        As for :func:`~spanalysis.change.paired_change`.
    site_column : str
        Participants column naming the site (default 'site'; 'link_worker' also works).
    **kwargs
        ``confidence, min_cell_size, pre, post, timepoints`` passed on.

    Returns
    -------
    DataFrame
        The paired_change columns with the site in column ``site_column``; sites below
        ``min_cell_size`` have statistics withheld and ``small_group=True``. Holm adjustment
        is across scales within each site.

    Examples
    --------
    >>> import numpy as np
    >>> ids = [f"P{i}" for i in range(12)]
    >>> scores = pd.DataFrame({"participant_id": ids * 2,
    ...     "timepoint": ["baseline"] * 12 + ["followup"] * 12, "instrument": "w",
    ...     "scale": "t", "score": np.r_[np.arange(40, 52), np.arange(40, 52) + 2]})
    >>> people = pd.DataFrame({"participant_id": ids, "site": ["A"] * 8 + ["B"] * 4})
    >>> info = pd.DataFrame({"instrument": ["w"], "scale": ["t"], "direction": ["higher"]})
    >>> res = site_change(scores, info, people, timepoints=["baseline", "followup"])
    >>> res[["site", "n_pairs", "small_group"]].to_dict("records")
    [{'site': 'A', 'n_pairs': 8, 'small_group': False}, {'site': 'B', 'n_pairs': 4, 'small_group': True}]
    """
    return paired_change(scores, scale_info, participants=participants, by=site_column,
                         **kwargs)


def mixed_model_change(scores: pd.DataFrame, participants: pd.DataFrame, instrument: str,
                       scale: str, site_column: str = "site", confidence: float = 0.95,
                       reml: bool = True, pre=None, post=None, timepoints=None) -> pd.DataFrame:
    """Pooled change with a random intercept for site, and the between-site ICC.

    Parameters
    ----------
    scores : DataFrame
        Tidy scores (``participant_id, timepoint, instrument, scale, score``).
    participants : DataFrame
        ``participant_id`` and ``site_column``.
    instrument, scale : str
        The scale to model.
    site_column : str
        Grouping column (default 'site').
    confidence : float
        Level of the interval for the pooled change.
    reml : bool
        Restricted maximum likelihood (default, as statsmodels) or ML.
    pre, post, timepoints
        As for :func:`~spanalysis.change.paired_change`.

    Returns
    -------
    DataFrame
        One row: ``instrument, scale, n_participants`` (complete pairs), ``n_sites``,
        ``change_mean`` (the fixed intercept mu: pooled post - pre change), ``se``,
        ``change_ci_low, change_ci_high`` (Wald interval, normal quantiles, as statsmodels'
        ``conf_int``), ``z, p``, ``var_site`` (tau^2), ``var_resid`` (sigma^2), ``icc``,
        ``method`` ('REML' or 'ML'), ``converged``, ``warnings`` (text of every fitting
        warning, statsmodels' ConvergenceWarning included, e.g. a between-site variance
        estimated on the boundary at 0) and ``instead`` (what was done when statsmodels'
        optimisers did not converge: a fall-back optimiser that did, or, when none did,
        :data:`NOT_CONVERGED`; empty otherwise). A model that did not converge is never
        reported as a model estimate.

    Notes
    -----
    Model: change_ij = mu + u_j + e_ij, fitted with ``statsmodels`` MixedLM
    (``change ~ 1``, ``groups=site``). ICC = tau^2 / (tau^2 + sigma^2): the share of the
    variation in change that lies between sites (Snijders & Bosker 2012). With few sites the
    Wald interval is too narrow and tau^2 is imprecise; with one site the model is not
    identified and an error is raised. For balanced sites and tau^2 > 0 the REML estimates
    equal the one-way ANOVA (method of moments) estimates.

    References
    ----------
    Snijders TAB, Bosker RJ (2012). Multilevel Analysis. Seabold & Perktold (2010),
    statsmodels.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> ids = [f"P{i}" for i in range(30)]
    >>> pre = rng.normal(45, 8, 30)
    >>> post = pre + np.repeat([1.0, 3.0, 5.0], 10) + rng.normal(0, 2, 30)
    >>> scores = pd.DataFrame({"participant_id": ids * 2,
    ...     "timepoint": ["baseline"] * 30 + ["followup"] * 30, "instrument": "w",
    ...     "scale": "t", "score": np.r_[pre, post]})
    >>> people = pd.DataFrame({"participant_id": ids, "site": np.repeat(["A", "B", "C"], 10)})
    >>> res = mixed_model_change(scores, people, "w", "t", timepoints=["baseline", "followup"])
    >>> int(res["n_sites"].iloc[0]), bool(0 < res["icc"].iloc[0] < 1)
    (3, True)
    """
    import statsmodels.api as sm

    confidence = check_confidence(confidence)
    pre, post = _resolve_pre_post(scores, timepoints, pre, post)
    pairs = _pair_table(scores, pre, post)
    pairs = pairs[(pairs["instrument"] == str(instrument)) & (pairs["scale"] == str(scale))]
    if pairs.empty:
        raise InputError("no scores for this scale", file="scores", column="scale",
                         value=f"{instrument}/{scale}", expected="a scored instrument and scale")
    data = _attach_group(pairs, participants, site_column)
    data = data[data["pre"].notna() & data["post"].notna()]
    data = data.assign(change=data["post"] - data["pre"]).sort_values(
        [site_column, "participant_id"], kind="stable")
    n_sites = data[site_column].nunique()
    if n_sites < 2 or len(data) < 3:
        raise InputError("a mixed model needs complete pairs from at least two sites",
                         column=site_column, value=f"{len(data)} pairs in {n_sites} site(s)",
                         expected="two or more sites (use paired_change for one site)")
    model = sm.MixedLM(data["change"].to_numpy(float), np.ones((len(data), 1)),
                       groups=data[site_column].to_numpy())
    fit, messages, instead = _fit(model, reml)
    row = {"instrument": str(instrument), "scale": str(scale),
           "n_participants": int(len(data)), "n_sites": int(n_sites)}
    if fit is None:
        row.update(_plain_mean(data["change"].to_numpy(float), confidence))
    else:
        ci = np.asarray(fit.conf_int(alpha=1 - confidence))[0]
        var_site = float(np.asarray(fit.cov_re)[0, 0])
        var_resid = float(fit.scale)
        total = var_site + var_resid
        row.update({"change_mean": float(fit.fe_params[0]), "se": float(fit.bse_fe[0]),
                    "change_ci_low": float(ci[0]), "change_ci_high": float(ci[1]),
                    "z": float(fit.tvalues[0]), "p": float(fit.pvalues[0]),
                    "var_site": var_site, "var_resid": var_resid,
                    "icc": var_site / total if total > 0 else math.nan})
    row.update({"method": "REML" if reml else "ML", "converged": fit is not None,
                "warnings": "; ".join(messages), "instead": instead})
    return pd.DataFrame([row])


#: optimisers tried after statsmodels' own (BFGS, then L-BFGS, then CG) fail to converge
FALLBACK_OPTIMISERS = ("powell", "nm")

#: what the model row says was done when no optimiser converged
NOT_CONVERGED = ("the model did not converge with any optimiser (statsmodels' BFGS, L-BFGS "
                 "and CG, then Powell and Nelder-Mead): no model estimate is reported; the "
                 "pooled change shown is the plain mean change of all pairs with its t "
                 "interval (sites ignored), and the between-site variance and ICC are not "
                 "estimated")


def _fit(model, reml: bool):
    """The model fitted with statsmodels' optimisers, then each fall-back in turn until one
    converges: ``(fit or None, warning texts, what was done instead)``. Every warning raised
    (statsmodels' ConvergenceWarning among them) is kept, first lines only, in order."""
    messages: list[str] = []
    for method in (None,) + FALLBACK_OPTIMISERS:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                fit = (model.fit(reml=reml) if method is None
                       else model.fit(reml=reml, method=[method]))
            except (np.linalg.LinAlgError, ValueError) as exc:
                # e.g. "Singular matrix" with a handful of people in a few sites: a fit
                # that fails, treated as one that did not converge
                fit = None
                messages.append(f"{method or 'bfgs, lbfgs, cg'}: the fit failed ({exc})")
        for w in caught:
            text = str(w.message).splitlines()[0]
            if method is not None:
                text = f"{method}: {text}"
            if text not in messages:
                messages.append(text)
        if fit is not None and fit.converged:
            instead = "" if method is None else (
                f"statsmodels' optimisers did not converge; refitted with {method}, "
                "which converged")
            return fit, sorted(messages) if method is None else messages, instead
        if fit is not None:
            messages.append(f"{method or 'bfgs, lbfgs, cg'}: did not converge")
    return None, messages, NOT_CONVERGED


def _plain_mean(change: np.ndarray, confidence: float) -> dict:
    """Mean change of all pairs with its t interval, sites ignored (the fall-back)."""
    from scipy import stats

    n = change.size
    mean = float(change.mean())
    se = float(change.std(ddof=1) / math.sqrt(n))
    t = stats.t.ppf(1 - (1 - confidence) / 2, n - 1)
    tval = mean / se if se > 0 else math.nan
    return {"change_mean": mean, "se": se, "change_ci_low": mean - t * se,
            "change_ci_high": mean + t * se, "z": tval,
            "p": float(2 * stats.t.sf(abs(tval), n - 1)) if se > 0 else math.nan,
            "var_site": math.nan, "var_resid": math.nan, "icc": math.nan}


def forest_plot(site_table: pd.DataFrame, pooled=None, ax=None, site_column: str = "site",
                title: str | None = None):
    """Forest plot of per-site mean change with intervals, and the pooled estimate.

    Parameters
    ----------
    site_table : DataFrame
        :func:`site_change` output for **one** scale (filter first).
    pooled : DataFrame or Mapping, optional
        A :func:`mixed_model_change` row (``change_mean, change_ci_low, change_ci_high``),
        drawn as a diamond below the sites.
    ax : matplotlib Axes, optional
        Axes to draw on; a new figure is made otherwise.
    site_column : str
        Column holding the site names.
    title : str, optional
        Defaults to the scale name.

    Returns
    -------
    matplotlib.figure.Figure

    Notes
    -----
    Sites are sorted by their mean change; sites with ``small_group`` are listed at the bottom
    as "too few to show" without an estimate (their statistics are withheld). Markers differ by
    shape as well as colour, the x axis says which direction is better, and a vertical line
    marks no change (Lewis & Clarke 2001).

    Examples
    --------
    >>> table = pd.DataFrame({"site": ["A", "B", "C"], "n_pairs": [20, 15, 3],
    ...     "change_mean": [2.0, 3.5, float("nan")], "change_ci_low": [0.5, 1.0, float("nan")],
    ...     "change_ci_high": [3.5, 6.0, float("nan")], "small_group": [False, False, True],
    ...     "scale_name": "WEMWBS", "direction": "higher", "confidence": 0.95})
    >>> fig = forest_plot(table, pooled={"change_mean": 2.6, "change_ci_low": 1.1,
    ...                                  "change_ci_high": 4.1})
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
    ['C', 'All sites (pooled)', 'A (n=20)', 'B (n=15)']
    """
    import matplotlib.pyplot as plt

    needed = [site_column, "n_pairs", "change_mean", "change_ci_low", "change_ci_high",
              "small_group"]
    missing = [c for c in needed if c not in site_table.columns]
    if missing:
        raise InputError("the site table lacks required column(s)", file="site table",
                         column=missing[0], expected="site_change() output")
    scales = site_table[["instrument", "scale"]].drop_duplicates() \
        if {"instrument", "scale"} <= set(site_table.columns) else pd.DataFrame([{}])
    if len(scales) > 1:
        raise InputError("the forest plot shows one scale at a time", file="site table",
                         column="scale", value=", ".join(scales["scale"].astype(str)),
                         expected="rows of a single instrument and scale")
    table = site_table.copy()
    small = table["small_group"].astype(bool)
    shown = table[~small & table["change_mean"].notna()].sort_values("change_mean")
    hidden = table[small | table["change_mean"].isna()].sort_values(site_column)
    rows = len(shown) + len(hidden) + (2 if pooled is not None else 0)
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 1.2 + 0.42 * max(rows, 1)), layout="constrained")
    else:
        fig = ax.figure
    labels, y = [], 0
    ypos = []
    for _, r in hidden.iloc[::-1].iterrows():  # few rows (one per site)
        ax.text(0.02, y, "too few to show", transform=ax.get_yaxis_transform(),
                va="center", fontsize=9, style="italic", color="0.3")
        labels.append(f"{r[site_column]}")
        ypos.append(y)
        y += 1
    if pooled is not None:
        p = pooled.iloc[0] if isinstance(pooled, pd.DataFrame) else pooled
        m, lo, hi = float(p["change_mean"]), float(p["change_ci_low"]), float(p["change_ci_high"])
        ax.fill([lo, m, hi, m], [y, y + 0.3, y, y - 0.3], color="#0072B2",
                label="pooled (random-intercept model)")
        labels.append("All sites (pooled)")
        ypos.append(y)
        y += 2
    ys = np.arange(y, y + len(shown))
    if len(shown):
        mean = shown["change_mean"].to_numpy(float)
        err = np.vstack([mean - shown["change_ci_low"].to_numpy(float),
                         shown["change_ci_high"].to_numpy(float) - mean])
        ax.errorbar(mean, ys, xerr=err, fmt="s", color="#D55E00", ecolor="0.2", capsize=3,
                    label="site mean change with CI")
        labels += [f"{s} (n={int(n)})" for s, n in zip(shown[site_column], shown["n_pairs"])]
        ypos += list(ys)
    ax.axvline(0, color="0.4", linestyle="--", linewidth=1)
    ax.set_yticks(ypos, labels)
    ax.set_ylim(-1, max(y + len(shown), 1))
    name = (str(table["scale_name"].iloc[0]) if "scale_name" in table.columns and len(table)
            else "score")
    direction = table["direction"].iloc[0] if "direction" in table.columns and len(table) \
        else None
    better = {"higher": "higher is better", "lower": "lower is better"}.get(direction, "")
    level = (f"{round(100 * float(table['confidence'].iloc[0]))}% CI"
             if "confidence" in table.columns and len(table) else "CI")
    ax.set_xlabel(f"Mean change in {name} (follow-up minus baseline; {better}), {level}"
                  if better else f"Mean change in {name} (follow-up minus baseline), {level}")
    ax.set_title(title or f"{name}: change by site")
    if len(shown) or pooled is not None:
        # below the axes so it never covers an estimate or a site label
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12 - 0.6 / max(rows, 1)),
                  ncol=2, fontsize=8, frameon=False)
    return fig
