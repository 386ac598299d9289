"""Individual change: the reliable change index and clinically significant change
(Jacobson & Truax 1991), the minimal important difference, and their counts per scale.

References
----------
Jacobson NS, Truax P (1991). Clinical significance: a statistical approach to defining
    meaningful change in psychotherapy research. J Consult Clin Psychol 59:12-19.
"""
from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import stats

from spanalysis.change.pairs import (_KEYS, _attach_group, _better_sign, _pair_table,
                                     _require_columns, _resolve_pre_post, _scale_info,
                                     check_confidence, check_min_cell)
from spanalysis.change.proportions import wilson_interval
from spanalysis.errors import InputError

__all__ = ["reliable_change_threshold", "clinical_cutoffs", "clinical_criterion",
           "reliability_choice", "jacobson_truax_category", "JT_CATEGORIES", "reliable_change",
           "reliable_change_summary"]

#: Jacobson & Truax's (1991) four categories of individual change, in order
JT_CATEGORIES = ["recovered", "improved", "unchanged", "deteriorated"]


def reliable_change_threshold(sd, reliability, confidence: float = 0.95):
    """Smallest raw change that counts as reliable (Jacobson & Truax 1991).

    Parameters
    ----------
    sd : float or array-like
        Standard deviation at baseline (study sample or published norm).
    reliability : float or array-like
        Reliability r_xx of the scale (0 <= r < 1), e.g. Cronbach's alpha or test-retest.
    confidence : float
        0.95 gives the usual z = 1.96.

    Returns
    -------
    float or numpy.ndarray
        z_{1-alpha/2} * S_diff with S_diff = sd * sqrt(2) * sqrt(1 - r_xx).

    Notes
    -----
    SEM = sd sqrt(1 - r); S_diff = sqrt(2 SEM^2) = sd sqrt(2) sqrt(1 - r). A person's change is
    reliable when |change| / S_diff > z_{1-alpha/2} (Jacobson & Truax 1991).

    References
    ----------
    Jacobson NS, Truax P (1991). J Consult Clin Psychol 59:12-19.

    Examples
    --------
    >>> round(reliable_change_threshold(9, 0.89), 3)
    8.274
    """
    confidence = check_confidence(confidence)
    sd_arr = np.asarray(sd, dtype=float)
    r_arr = np.asarray(reliability, dtype=float)
    if np.any(sd_arr < 0):
        raise InputError("the SD must not be negative", column="sd", value=sd,
                         expected="a positive number")
    if np.any((r_arr < 0) | (r_arr >= 1)):
        raise InputError("the reliability must lie in [0, 1)", column="reliability",
                         value=reliability, expected="a number from 0 up to (not including) 1")
    z = stats.norm.ppf(1 - (1 - confidence) / 2)
    result = z * sd_arr * np.sqrt(2.0) * np.sqrt(1.0 - r_arr)
    return float(result) if result.ndim == 0 else result


def clinical_cutoffs(scale_info: pd.DataFrame) -> pd.DataFrame:
    """Jacobson-Truax cut-offs a, b and c for each scale with the needed norms.

    Parameters
    ----------
    scale_info : DataFrame
        ``instrument, scale, direction`` and ``func_mean, func_sd, dys_mean, dys_sd``
        (functional and dysfunctional population means and SDs; NaN where unknown).

    Returns
    -------
    DataFrame
        ``instrument, scale, direction, a, b, c, clinical_source``. A cut-off is NaN when a
        norm it needs is missing.

    Notes
    -----
    For scales where higher = worse (direction 'lower'):
    a = M_dys - 2 SD_dys (two SDs beyond the dysfunctional mean, towards health);
    b = M_func + 2 SD_func (two SDs from the functional mean, towards dysfunction);
    c = (SD_dys M_func + SD_func M_dys) / (SD_dys + SD_func) (where the two distributions are
    equally likely). For higher = better the signs in a and b flip (a = M_dys + 2 SD_dys,
    b = M_func - 2 SD_func); c is unchanged.

    References
    ----------
    Jacobson NS, Truax P (1991). J Consult Clin Psychol 59:12-19.

    Examples
    --------
    >>> info = pd.DataFrame({"instrument": ["phq9"], "scale": ["total"],
    ...     "direction": ["lower"], "func_mean": [5.0], "func_sd": [4.0],
    ...     "dys_mean": [15.0], "dys_sd": [5.0]})
    >>> clinical_cutoffs(info)[["a", "b", "c"]].round(3).to_dict("records")
    [{'a': 5.0, 'b': 13.0, 'c': 9.444}]
    """
    info = _scale_info(scale_info)
    sign = -_better_sign(info["direction"])  # +1 where higher = worse (the JT convention)
    out = info[_KEYS + ["direction"]].copy()
    out["a"] = info["dys_mean"] - sign * 2 * info["dys_sd"]
    out["b"] = info["func_mean"] + sign * 2 * info["func_sd"]
    with np.errstate(divide="ignore", invalid="ignore"):
        out["c"] = ((info["dys_sd"] * info["func_mean"] + info["func_sd"] * info["dys_mean"])
                    / (info["dys_sd"] + info["func_sd"]))
    out["clinical_source"] = info["clinical_source"]
    return out


def clinical_criterion(func_mean, func_sd, dys_mean, dys_sd, direction, fallback="a"):
    """The Jacobson-Truax cut-off to use, and which criterion it is.

    Parameters
    ----------
    func_mean, func_sd, dys_mean, dys_sd : array-like
        Functional (norm) and dysfunctional (referred) population means and SDs; NaN where
        unknown.
    direction : array-like of 'higher' / 'lower'
        Which direction is better.
    fallback : 'a' or None
        Criterion a where c cannot be computed ('a', default here), or no cut-off (None).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        The cut-off, and its criterion ('c', 'a' or None).

    Notes
    -----
    c = (SD_dys M_func + SD_func M_dys) / (SD_dys + SD_func) when both distributions are
    known: the point equally far, in SD units, from the two means (Jacobson & Truax 1991,
    p. 13, their preferred criterion when norms exist). Without a functional norm that has an
    SD, criterion a: two SDs beyond the dysfunctional mean, towards health (M_dys + 2 SD_dys
    when higher is better, M_dys - 2 SD_dys when lower is better), the only criterion that
    needs no norm (same page). Criterion b (two SDs inside the functional distribution) is
    never a fall-back here: it ignores the referred sample, which a before-after study always
    has; :func:`clinical_cutoffs` gives it.

    Examples
    --------
    >>> cut, which = clinical_criterion([49.4], [8.96], [40.0], [9.0], ["higher"])
    >>> round(float(cut[0]), 3), which[0]
    (44.71, 'c')
    >>> cut, which = clinical_criterion([float("nan")], [float("nan")], [40.0], [9.0],
    ...                                 ["higher"])
    >>> float(cut[0]), which[0]
    (58.0, 'a')
    """
    fm, fs, dm, ds = (np.asarray(v, dtype=float) for v in (func_mean, func_sd, dys_mean,
                                                           dys_sd))
    worse = -np.asarray(_better_sign(pd.Series(np.asarray(direction, dtype=object))), float)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = (ds * fm + fs * dm) / (ds + fs)
    a = dm - worse * 2 * ds
    has_c = np.isfinite(c)
    has_a = ~has_c & np.isfinite(a) & (fallback == "a")
    cut = np.where(has_c, c, np.where(has_a, a, np.nan))
    which = np.where(has_c, "c", np.where(has_a, "a", None)).astype(object)
    which[~(has_c | has_a)] = None
    return cut, which


def jacobson_truax_category(category, pre_functional, post_functional, has_cutoff):
    """Jacobson & Truax's four categories from the reliable-change category and the side of
    the cut-off before and after.

    'recovered': a reliable improvement that crossed from the dysfunctional to the functional
    side; 'improved': a reliable improvement that did not (including people who started on
    the functional side, who cannot recover); 'unchanged': no reliable change;
    'deteriorated': a reliable deterioration (Jacobson & Truax 1991, p. 16). None where there
    is no cut-off or no reliable-change category.

    >>> jacobson_truax_category(np.array(["reliable improvement", "reliable improvement",
    ...     "no reliable change", "reliable deterioration"], dtype=object),
    ...     np.array([False, True, False, True]), np.array([True, True, False, False]),
    ...     np.array([True, True, True, True])).tolist()
    ['recovered', 'improved', 'unchanged', 'deteriorated']
    """
    category = np.asarray(category, dtype=object)
    pre_f, post_f = np.asarray(pre_functional, bool), np.asarray(post_functional, bool)
    improved = category == "reliable improvement"
    out = np.select([improved & ~pre_f & post_f, improved, category == "no reliable change",
                     category == "reliable deterioration"], JT_CATEGORIES, "").astype(object)
    out[(out == "") | ~np.asarray(has_cutoff, bool) | pd.isna(category)] = None
    return out


_BASIS = {"cronbach_alpha": "cronbach_alpha", "test_retest": "test_retest",
          "other": "other", "study_alpha": "study_alpha"}


def reliability_choice(info: pd.DataFrame, reliability) -> tuple[pd.Series, pd.Series,
                                                                  pd.Series]:
    """``(value, source, basis)`` per scale of ``info`` for the ``reliability=`` choice of
    :func:`reliable_change`. ``basis``: 'test_retest', 'cronbach_alpha', 'study_alpha' (the
    study's own alpha, labelled by :mod:`spanalysis.change.outcomes`), 'other', 'not stated'
    (a published value of unstated kind), 'given' (a number or mapping) or 'not published'
    (no value of the kind asked for: no reliable change is classified, nothing is guessed).
    """
    keys = info[_KEYS]
    kind = (info["reliability_kind"] if "reliability_kind" in info.columns
            else pd.Series(None, index=info.index, dtype=object)).astype(object)
    retest = (info["test_retest"].astype(float) if "test_retest" in info.columns
              else pd.Series(np.nan, index=info.index))
    retest_src = (info["test_retest_source"] if "test_retest_source" in info.columns
                  else pd.Series(None, index=info.index, dtype=object)).astype(object)
    rel = info["reliability"].astype(float)
    rel_src = info["reliability_source"].astype(object).where(
        info["reliability_source"].notna(), "published (source not given)")
    basis = pd.Series([_BASIS.get(k, "not stated") if isinstance(k, str) else "not stated"
                       for k in kind], index=info.index, dtype=object)
    if isinstance(reliability, str) and reliability in ("test_retest", "published"):
        use = retest.notna()
        rel = rel.where(~use, retest)
        rel_src = rel_src.where(~use, retest_src.where(retest_src.notna(),
                                                       "published (source not given)"))
        basis = basis.where(~use, "test_retest")
    elif isinstance(reliability, str) and reliability == "alpha":
        rel = rel.where(kind != "test_retest")
    basis = basis.where(rel.notna(), "not published")
    rel_src = rel_src.where(rel.notna(), "not available")
    if isinstance(reliability, str) and reliability in ("test_retest", "alpha"):
        reliability = "published"
    value, source = _per_scale(reliability, rel, rel_src, keys, "reliability",
                               {"published": 0})
    if not (isinstance(reliability, str) or reliability is None):
        basis = pd.Series(np.where(value.notna(), "given", "not published"), dtype=object)
    return (value.reset_index(drop=True), source.reset_index(drop=True),
            basis.reset_index(drop=True))


def _cutoff_settings(pairs: pd.DataFrame, info: pd.DataFrame, dysfunctional,
                     functional, fallback) -> pd.DataFrame:
    """Per scale: the clinical cut-off, its criterion and its source (see
    :func:`reliable_change`, :func:`clinical_criterion`)."""
    if fallback not in (None, "a"):
        raise InputError("unknown cut-off fall-back", column="cutoff_fallback",
                         value=fallback, expected="None or 'a'")
    for name, value, allowed in (("dysfunctional", dysfunctional, ("published", "baseline")),
                                 ("functional", functional, ("published",))):
        if not ((isinstance(value, str) and value in allowed) or
                (name == "dysfunctional" and isinstance(value, Mapping))):
            raise InputError(f"unknown choice for {name}", column=name, value=value,
                             expected=" or ".join(repr(a) for a in allowed))
    keys = info[_KEYS].reset_index(drop=True)
    fm, fs = info["func_mean"].to_numpy(float), info["func_sd"].to_numpy(float)
    from_clinical = np.isfinite(fm) & np.isfinite(fs)
    norm_ok = np.isfinite(info["norm_mean"].to_numpy(float)) & np.isfinite(
        info["norm_sd"].to_numpy(float))
    use_norm = ~from_clinical & norm_ok
    fm = np.where(use_norm, info["norm_mean"].to_numpy(float), fm)
    fs = np.where(use_norm, info["norm_sd"].to_numpy(float), fs)
    clin_src = info["clinical_source"].astype(object).to_numpy()
    norm_src = info["norm_source"].astype(object).to_numpy()
    func_src = np.where(from_clinical, "functional norm: " + pd.Series(clin_src).astype(str),
                        np.where(use_norm, "functional norm: "
                                 + pd.Series(norm_src).astype(str), None))
    if isinstance(dysfunctional, Mapping):
        given = [dysfunctional.get(k, (math.nan, math.nan, None))
                 for k in zip(keys["instrument"], keys["scale"])]
        dm = np.array([g[0] for g in given], dtype=float)
        ds = np.array([g[1] for g in given], dtype=float)
        dys_src = np.array([g[2] if len(g) > 2 else "referred: given" for g in given],
                           dtype=object)
    elif dysfunctional == "baseline":
        base = pairs.groupby(_KEYS)["pre"].agg(["mean", "std", "count"]).reindex(
            pd.MultiIndex.from_frame(keys))
        dm, ds = base["mean"].to_numpy(float), base["std"].to_numpy(float)
        dys_src = np.array([f"referred: this study's baseline (n={int(n)})"
                            for n in base["count"].fillna(0)], dtype=object)
    else:
        dm, ds = info["dys_mean"].to_numpy(float), info["dys_sd"].to_numpy(float)
        dys_src = np.where(np.isfinite(dm), "referred: " + pd.Series(clin_src).astype(str),
                           None)
    cut, which = clinical_criterion(fm, fs, dm, ds, info["direction"].to_numpy(object),
                                    fallback)
    source = np.array([_cutoff_source(w, f, d) for w, f, d in zip(which, func_src, dys_src)],
                      dtype=object)
    out = keys.copy()
    out["cutoff"], out["cutoff_criterion"], out["cutoff_source"] = cut, which, source
    out["dys_mean_used"], out["dys_sd_used"] = dm, ds
    out["cutoff_c"] = np.where(which == "c", cut, np.nan)
    return out


def _cutoff_source(which, func_src, dys_src) -> str:
    """The cut-off's criterion and sources in words (or why there is none)."""
    if which == "c":
        return f"criterion c (Jacobson & Truax 1991); {func_src}; {dys_src}"
    if which == "a":
        return (f"criterion a (Jacobson & Truax 1991): no functional norm with an SD "
                f"published; {dys_src}")
    if not func_src:
        return "no cut-off: no functional norm with an SD published"
    return "no cut-off: no referred (dysfunctional) mean and SD given"


def _per_scale(value, default: pd.Series, default_source: pd.Series, keys: pd.DataFrame,
               name: str, keywords: dict) -> tuple[pd.Series, pd.Series]:
    """Resolve an SD / reliability / MID choice to one value and one source per scale."""
    if isinstance(value, str):
        if value not in keywords:
            raise InputError(f"unknown choice for {name}", column=name, value=value,
                             expected=" or ".join(repr(k) for k in keywords)
                             + " or a number")
        return default, default_source
    if isinstance(value, Mapping):
        index = pd.MultiIndex.from_frame(keys)
        vals = pd.Series([value.get(k, math.nan) for k in index], dtype=float)
        return vals, pd.Series(np.where(vals.notna(), "given", "not given"), dtype=object)
    if value is None:
        return (pd.Series(np.nan, index=keys.index, dtype=float),
                pd.Series("not used", index=keys.index, dtype=object))
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a keyword or a number", column=name, value=value,
                         expected=" or ".join(repr(k) for k in keywords) + " or a number")
    return (pd.Series(number, index=keys.index, dtype=float),
            pd.Series("given", index=keys.index, dtype=object))


def reliable_change(scores: pd.DataFrame, scale_info: pd.DataFrame, sd="baseline",
                    reliability="published", mid="published", confidence: float = 0.95,
                    pre=None, post=None, timepoints=None, dysfunctional="published",
                    functional="published", cutoff_fallback=None) -> pd.DataFrame:
    """Each person's change judged against the reliable change index and the MID.

    Parameters
    ----------
    scores, scale_info : DataFrame
        As for :func:`paired_change`.
    sd : 'baseline', 'norm', float or mapping
        'baseline' (default): the SD of all baseline scores in the study (everyone with a
        baseline score, including those lost to follow-up); 'norm': ``norm_sd`` from
        ``scale_info``; a number (applied to every scale) or ``{(instrument, scale): sd}``.
    reliability : 'published', 'test_retest', 'alpha', float or mapping
        'published' (default; 'test_retest' is the same): the published test-retest value
        (``test_retest``) where there is one (issue 23: 3), else ``reliability`` (so just
        ``reliability`` when ``scale_info`` has no ``test_retest`` column); 'alpha':
        ``reliability`` unless its ``reliability_kind`` is test-retest (the
        internal-consistency sensitivity analysis); or a number / mapping.
        ``reliability_basis`` says which was used (:func:`reliability_choice`).
    mid : 'published', float, mapping or None
        Minimal important difference; 'published' uses ``scale_info.mid``.
    confidence : float
        Sets z in the reliable-change criterion (0.95 -> 1.96).
    pre, post, timepoints
        As for :func:`paired_change`.
    dysfunctional, functional : 'published' or 'baseline' / 'published'
        The two populations of the clinical cut-off (:func:`clinical_criterion`):
        'published' takes ``dys_*`` / ``func_*`` from ``scale_info`` (the functional side
        falls back to the reference norm, ``norm_mean``/``norm_sd``, when it has an SD);
        ``dysfunctional='baseline'`` takes the mean and SD of the study's own baseline scores
        (the referred sample, as Jacobson & Truax 1991 did); or a mapping
        ``{(instrument, scale): (mean, sd, source)}`` (a site report: the whole study's).
    cutoff_fallback : None or 'a'
        Without a functional norm that has an SD there is no cut-off (None, default); 'a'
        uses criterion a there (two referred SDs towards health), which needs no norm but
        does not show that anyone reached the functional range.

    Returns
    -------
    DataFrame
        One row per person with both scores on a scale: ``participant_id, instrument,
        scale, pre, post, change`` (post - pre), ``rci`` = change / S_diff, ``category``
        ('reliable improvement', 'no reliable change', 'reliable deterioration', following
        ``direction``; missing when no SD or reliability is available), ``exceeds_mid``
        (an improvement at least as large as the MID), ``worse_by_mid`` (a deterioration at
        least as large as the MID), ``clinically_significant`` (reliable improvement that
        moved from the dysfunctional to the functional side of cut-off c; missing where no
        functional and dysfunctional norms exist, or the person already started on the
        functional side), and, shown on every row so the choice is never hidden,
        ``sd_used, sd_source, reliability_used, reliability_source, threshold`` (raw change
        needed), ``mid_used, mid_source, cutoff_c, direction, confidence``; then
        ``reliability_basis``, ``cutoff`` (the cut-off used), ``cutoff_criterion`` ('c', 'a'
        or None), ``cutoff_source`` and ``jt_category`` ('recovered', 'improved',
        'unchanged', 'deteriorated'; missing without a cut-off or a reliability; see
        :func:`jacobson_truax_category`), ``dys_mean_used, dys_sd_used`` (the referred
        population's mean and SD). ``clinically_significant`` uses ``cutoff``.

    Notes
    -----
    S_diff = SD sqrt(2) sqrt(1 - r_xx); RC = (x_post - x_pre) / S_diff; reliable when
    |RC| > z_{1-alpha/2} (Jacobson & Truax 1991). The SD and reliability chosen change the
    threshold a lot, which is why both are reported with their source.

    References
    ----------
    Jacobson NS, Truax P (1991). J Consult Clin Psychol 59:12-19.
    Maheswaran H et al. (2012). Health Qual Life Outcomes 10:156 (WEMWBS MID).

    Examples
    --------
    >>> scores = pd.DataFrame({"participant_id": ["A", "B", "A", "B"],
    ...     "timepoint": ["baseline", "baseline", "followup", "followup"],
    ...     "instrument": "wemwbs", "scale": "total", "score": [40., 50., 52., 49.]})
    >>> info = pd.DataFrame({"instrument": ["wemwbs"], "scale": ["total"],
    ...     "direction": ["higher"], "reliability": [0.89], "mid": [3.0]})
    >>> rc = reliable_change(scores, info, sd=9, timepoints=["baseline", "followup"])
    >>> rc[["participant_id", "change", "category", "exceeds_mid"]].to_dict("records")
    [{'participant_id': 'A', 'change': 12.0, 'category': 'reliable improvement', 'exceeds_mid': True}, {'participant_id': 'B', 'change': -1.0, 'category': 'no reliable change', 'exceeds_mid': False}]
    """
    confidence = check_confidence(confidence)
    pre_tp, post_tp = _resolve_pre_post(scores, timepoints, pre, post)
    pairs = _pair_table(scores, pre_tp, post_tp)
    info = _scale_info(scale_info, pairs)
    z = stats.norm.ppf(1 - (1 - confidence) / 2)
    params = _settings(pairs, info, sd, reliability, mid, z)
    params = params.merge(_cutoff_settings(pairs, info, dysfunctional, functional,
                                           cutoff_fallback), on=_KEYS)
    rc = pairs[pairs["pre"].notna() & pairs["post"].notna()].merge(params, on=_KEYS,
                                                                   how="left")
    _classify(rc, z)
    rc["confidence"] = confidence
    columns = ["participant_id", "instrument", "scale", "pre", "post", "change", "rci",
               "category", "exceeds_mid", "worse_by_mid", "clinically_significant", "sd_used",
               "sd_source", "reliability_used", "reliability_source", "threshold", "mid_used",
               "mid_source", "cutoff_c", "direction", "confidence", "reliability_basis",
               "cutoff", "cutoff_criterion", "cutoff_source", "jt_category", "dys_mean_used",
               "dys_sd_used"]
    return rc[columns].sort_values(_KEYS + ["participant_id"], kind="stable") \
                      .reset_index(drop=True)


def _settings(pairs: pd.DataFrame, info: pd.DataFrame, sd, reliability, mid,
              z: float) -> pd.DataFrame:
    """Per scale: the SD, reliability and MID used (each with its source), S_diff, the
    threshold z S_diff, cut-off c and the direction (see :func:`reliable_change`)."""
    keys = info[_KEYS]
    baseline = pairs.groupby(_KEYS)["pre"].agg(["std", "count"]).reindex(
        pd.MultiIndex.from_frame(keys))
    base_sd = pd.Series(baseline["std"].to_numpy(), dtype=float)
    base_src = pd.Series([f"study baseline SD (n={int(n)})" for n in baseline["count"]
                          .fillna(0)], dtype=object)
    if isinstance(sd, str) and sd == "norm":
        sd_val = info["norm_sd"]
        sd_src = info["norm_source"].astype(object).where(info["norm_source"].notna(),
                                                         "published norm (source not given)")
    else:
        sd_val, sd_src = _per_scale(sd, base_sd, base_src, keys, "sd", {"baseline": 0,
                                                                        "norm": 0})
    rel_val, rel_src, basis = reliability_choice(info, reliability)
    mid_src = info["mid_source"].astype(object).where(info["mid_source"].notna(),
                                                      "published (source not given)")
    mid_src = mid_src.where(info["mid"].notna(), "no MID published")
    mid_val, mid_src = _per_scale(mid, info["mid"], mid_src, keys, "mid", {"published": 0})

    # Validate given values; published values outside the range are also refused.
    for name, vals, lo_ok in (("sd", sd_val, lambda v: v > 0),
                              ("reliability", rel_val, lambda v: (v >= 0) & (v < 1)),
                              ("mid", mid_val, lambda v: v >= 0)):
        bad = vals.notna() & ~lo_ok(vals)
        if bad.any():
            i = bad.idxmax()
            raise InputError(f"{name} for scale {keys.at[i, 'instrument']}/"
                             f"{keys.at[i, 'scale']} is out of range", column=name,
                             value=vals[i], expected={"sd": "a positive number",
                                                      "reliability": "0 <= r < 1",
                                                      "mid": "a number >= 0"}[name])
    params = keys.copy()
    params["sd_used"] = sd_val.to_numpy(float)
    params["sd_source"] = sd_src.to_numpy(object)
    params["reliability_used"] = rel_val.to_numpy(float)
    params["reliability_source"] = rel_src.to_numpy(object)
    params["reliability_basis"] = basis.to_numpy(object)
    s_diff = params["sd_used"] * np.sqrt(2.0) * np.sqrt(1.0 - params["reliability_used"])
    params["threshold"] = z * s_diff
    params["s_diff"] = s_diff
    params["mid_used"] = mid_val.to_numpy(float)
    params["mid_source"] = mid_src.to_numpy(object)
    params["direction"] = info["direction"].to_numpy(object)
    return params


def _classify(rc: pd.DataFrame, z: float) -> None:
    """Each person's change, RCI, reliable-change category, MID flags and clinical
    significance, added to ``rc`` (pairs with their scale's settings)."""
    rc["change"] = rc["post"] - rc["pre"]
    with np.errstate(divide="ignore", invalid="ignore"):
        rc["rci"] = rc["change"] / rc["s_diff"]
    sign = _better_sign(rc["direction"])
    better = rc["rci"].to_numpy() * sign
    category = np.select([better > z, better < -z], ["reliable improvement",
                                                     "reliable deterioration"],
                         "no reliable change").astype(object)
    category[np.isnan(better)] = None
    rc["category"] = category
    gain = rc["change"].to_numpy() * sign
    has_mid = rc["mid_used"].notna().to_numpy()
    rc["exceeds_mid"] = pd.array(np.where(has_mid, gain >= rc["mid_used"], False),
                                 dtype="boolean")
    rc["worse_by_mid"] = pd.array(np.where(has_mid, -gain >= rc["mid_used"], False),
                                  dtype="boolean")
    rc.loc[~has_mid, ["exceeds_mid", "worse_by_mid"]] = pd.NA
    # Functional side of the cut-off: above it when higher is better, below it when lower
    # is better.
    c = rc["cutoff"].to_numpy(float)
    pre_functional = (rc["pre"].to_numpy() - c) * sign > 0
    post_functional = (rc["post"].to_numpy() - c) * sign > 0
    clin = pd.array((category == "reliable improvement") & post_functional, dtype="boolean")
    clin[np.isnan(c) | pre_functional | pd.isna(category)] = pd.NA
    rc["clinically_significant"] = clin
    rc["jt_category"] = jacobson_truax_category(category, pre_functional, post_functional,
                                                ~np.isnan(c))


def reliable_change_summary(rc: pd.DataFrame, participants=None, by=None,
                            min_cell_size: int = 5) -> pd.DataFrame:
    """Counts and percentages of reliable change per scale (and group).

    Parameters
    ----------
    rc : DataFrame
        Output of :func:`reliable_change`.
    participants : DataFrame, optional
        Needed when ``by`` names a participants column not already in ``rc``.
    by : str, optional
        Group column (e.g. 'site').
    min_cell_size : int
        ``small_group`` flags groups with fewer people (nothing is withheld here: counts are
        suppressed by the reporting layer).

    Returns
    -------
    DataFrame
        ``instrument, scale, [by], n`` (people with both scores), for each category
        ``n_reliable_improvement, pct_reliable_improvement, n_no_reliable_change,
        pct_no_reliable_change, n_reliable_deterioration, pct_reliable_deterioration``, the
        Wilson intervals (Wilson 1927; :func:`spanalysis.change.proportions.wilson_interval`,
        at the table's ``confidence``) ``pct_reliable_improvement_ci_low,
        pct_reliable_improvement_ci_high, pct_reliable_deterioration_ci_low,
        pct_reliable_deterioration_ci_high`` (not withheld here: a report publishes them
        through :func:`spanalysis.change.proportions.count_table_intervals`),
        ``n_not_classified`` (no SD or reliability), ``n_exceeds_mid, pct_exceeds_mid,
        n_worse_by_mid, pct_worse_by_mid`` (missing where no MID is used: a scale with no
        published MID has ``mid_source`` 'no MID published'), ``n_clinical_eligible``
        (started on the dysfunctional side of c), ``n_clinically_significant,
        pct_clinically_significant`` (of the eligible), then the settings ``sd_used,
        sd_source, reliability_used, reliability_source, threshold, mid_used, mid_source,
        cutoff_c, confidence`` and ``small_group``. Percentages are of ``n`` (0-100).
        When ``rc`` has them (:func:`reliable_change` does), then ``reliability_basis,
        cutoff, cutoff_criterion, cutoff_source`` and Jacobson & Truax's four categories
        ``n_recovered, n_improved, n_unchanged, n_deteriorated`` (missing, not 0, where no
        cut-off exists) and ``n_jt_classified``.

    Examples
    --------
    >>> rc = pd.DataFrame({"participant_id": ["A", "B"], "instrument": "w", "scale": "t",
    ...     "category": ["reliable improvement", "no reliable change"],
    ...     "exceeds_mid": pd.array([True, False], dtype="boolean"),
    ...     "worse_by_mid": pd.array([False, False], dtype="boolean"),
    ...     "clinically_significant": pd.array([pd.NA, pd.NA], dtype="boolean"),
    ...     "sd_used": 9.0, "sd_source": "given", "reliability_used": 0.89,
    ...     "reliability_source": "given", "threshold": 8.27, "mid_used": 3.0,
    ...     "mid_source": "given", "cutoff_c": float("nan"), "confidence": 0.95})
    >>> s = reliable_change_summary(rc, min_cell_size=1)
    >>> s[["n", "n_reliable_improvement", "pct_reliable_improvement"]].to_dict("records")
    [{'n': 2, 'n_reliable_improvement': 1, 'pct_reliable_improvement': 50.0}]
    """
    min_cell_size = check_min_cell(min_cell_size)
    needed = ["participant_id", "instrument", "scale", "category", "exceeds_mid",
              "worse_by_mid", "clinically_significant", "sd_used", "sd_source",
              "reliability_used", "reliability_source", "threshold", "mid_used", "mid_source",
              "cutoff_c", "confidence"]
    _require_columns(rc, needed, "reliable change table")
    data = rc.copy()
    for k in ("participant_id", "instrument", "scale"):
        data[k] = data[k].astype(str)
    if by is not None and by not in data.columns:
        data = _attach_group(data, participants, by)
    keys = _KEYS + ([by] if by else [])
    cats = ["reliable improvement", "no reliable change", "reliable deterioration"]
    flags = pd.DataFrame({f"n_{c.replace(' ', '_')}": (data["category"] == c).astype(int)
                          for c in cats})
    flags["n_not_classified"] = data["category"].isna().astype(int)
    flags["n_exceeds_mid"] = data["exceeds_mid"].fillna(False).astype(int)
    flags["n_worse_by_mid"] = data["worse_by_mid"].fillna(False).astype(int)
    flags["n_clinical_eligible"] = data["clinically_significant"].notna().astype(int)
    flags["n_clinically_significant"] = data["clinically_significant"].fillna(False).astype(int)
    flags[keys] = data[keys]
    grouped = flags.groupby(keys, sort=True)
    counts = grouped.sum()
    counts.insert(0, "n", grouped.size())
    n = counts["n"].astype(float)
    out = counts[["n"]].copy()
    for c in cats:
        col = f"n_{c.replace(' ', '_')}"
        out[col] = counts[col]
        out["pct" + col[1:]] = 100 * counts[col] / n
    # Wilson intervals of the percentages improved and deteriorated (issue 23: 4), at the
    # table's confidence level; withheld in reports by the disclosure rule
    # (spanalysis.change.proportions.count_table_intervals), not here
    level = float(data["confidence"].dropna().iloc[0]) if data["confidence"].notna().any() \
        else 0.95
    for c in ("reliable improvement", "reliable deterioration"):
        col = f"n_{c.replace(' ', '_')}"
        low, high = wilson_interval(counts[col].to_numpy(float), n.to_numpy(), level)
        out[f"pct{col[1:]}_ci_low"] = 100 * low
        out[f"pct{col[1:]}_ci_high"] = 100 * high
    unclassified = (data.groupby(keys, sort=True)["threshold"].first().isna()).to_numpy()
    for c in ("reliable_improvement", "reliable_deterioration"):
        out.loc[unclassified, [f"pct_{c}_ci_low", f"pct_{c}_ci_high"]] = np.nan
    out["n_not_classified"] = counts["n_not_classified"]
    for col in ("n_exceeds_mid", "n_worse_by_mid"):
        out[col] = counts[col]
        out["pct" + col[1:]] = 100 * counts[col] / n
    # Where no MID was used (none published, issue 19: 2) nobody can be beyond it: the
    # counts are missing, not 0, and the source says why.
    no_mid = data.groupby(keys, sort=True)["mid_used"].first().isna()
    for col in ("n_exceeds_mid", "n_worse_by_mid"):
        out[col] = out[col].astype("Int64").mask(no_mid)
    out.loc[no_mid, ["pct_exceeds_mid", "pct_worse_by_mid"]] = np.nan
    out["n_clinical_eligible"] = counts["n_clinical_eligible"]
    out["n_clinically_significant"] = counts["n_clinically_significant"]
    with np.errstate(divide="ignore", invalid="ignore"):
        out["pct_clinically_significant"] = (100 * counts["n_clinically_significant"]
                                             / counts["n_clinical_eligible"].replace(0, np.nan))
    settings = data.groupby(keys, sort=True)[["sd_used", "sd_source", "reliability_used",
                                              "reliability_source", "threshold", "mid_used",
                                              "mid_source", "cutoff_c", "confidence"]].first()
    out = out.join(settings)
    out["small_group"] = out["n"] < min_cell_size
    if {"jt_category", "cutoff", "reliability_basis"} <= set(data.columns):
        out = out.join(_jt_counts(data, keys))
    return out.reset_index()


def _jt_counts(data: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per group: the settings of the clinical cut-off and the four Jacobson-Truax counts
    (missing where the scale has no cut-off)."""
    grouped = data.groupby(keys, sort=True)
    out = grouped[["reliability_basis", "cutoff", "cutoff_criterion", "cutoff_source"]].first()
    for cat in JT_CATEGORIES:
        out[f"n_{cat}"] = grouped["jt_category"].agg(lambda c, cat=cat: int((c == cat).sum()))
    out["n_jt_classified"] = grouped["jt_category"].agg(lambda c: int(c.notna().sum()))
    none = out["cutoff"].isna() | grouped["threshold"].first().isna()
    for col in [f"n_{c}" for c in JT_CATEGORIES] + ["n_jt_classified"]:
        out[col] = out[col].astype("Int64").mask(none)
    return out
