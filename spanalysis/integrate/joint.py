"""Mixed-methods integration: joint displays linking measured change with what people said.

Each participant's questionnaire change (:mod:`spanalysis.change`) is put beside the themes
they voiced in interview (:func:`spanalysis.qual.themes.participant_code_matrix`), to ask
whether the questionnaires capture what matters to patients, for whom, and where the two
strands diverge. The displays follow the joint-display types most used in health research
(Guetterman, Fetters & Creswell 2015) and the fit categories of Fetters, Curry & Creswell
(2013):

=============================  ================================================================
function                       display
=============================  ================================================================
:func:`participant_table`      one row per participant: attributes, scores, change, reliable-
                               change category per scale, quantitized themes
:func:`statistics_by_themes`   per theme and scale: change among interviewed completers who
                               voiced the theme against those who did not (Welch, Hedges' g)
:func:`measurement_coverage`   per theme and covering item (crosswalk): the same comparison at
                               item level; themes without a covering item are "not measured"
:func:`side_by_side`           per theme: quantitative result, qualitative finding with quotes,
                               fit (confirmation / expansion / discordance), meta-inference
:func:`case_level`             per interviewed participant: reliable-change categories beside
                               the themes voiced, convergent or divergent
:func:`divergent_cases`        the divergent cases with their (redacted) quotes
:func:`configuration_table`    which combinations of themes occur, with change on the primary
                               scale
:func:`quote_matrix`           themes x change group, with quotes in the cells
:func:`theme_prevalence`       percent of interviewed participants in each group (site, change
                               group, ...) who voiced each theme; :func:`prevalence_heatmap`
=============================  ================================================================

Conventions
-----------
* **Interviewed**: a participant with at least one interview source. Only interviews count as
  a participant's voice (observation notes and documents do not). A participant who was not
  interviewed has *missing* themes, never "did not voice".
* **Voiced**: at least one coded segment of the theme in the participant's interviews (any
  coder unless ``coder=`` is given; :mod:`spanalysis.qual.themes`).
* **Completer** (for a scale or item): a score (answer) at both the first (baseline) and the
  last time point of the study. Change is post minus pre; whether it is an improvement follows
  the scale's (item's) ``direction`` (``improvement_*`` columns are multiplied by -1 where lower
  is better, so positive always means "voicers improved more").
* **Small groups**: when either compared group has fewer than ``min_cell_size`` people (default:
  the study's ``privacy.min_cell_size``), every statistic of that comparison is withheld (NaN)
  and ``small_group`` is True; the group sizes stay so the table explains itself.
* **Quotes** are coded segment texts passed through :func:`spanalysis.qual.redact.redact` with
  the study's names list, and marked ``sensitive`` when the segment overlaps (in the same
  source) a segment coded with a code the codebook marks ``sensitive``, or is itself coded so.
  Nothing here builds HTML; the rendering layer escapes text.

The classification rules (fit, convergent/divergent) are constants of this module and are
documented in ``docs/integration.md``.

References
----------
Fetters MD, Curry LA, Creswell JW (2013). Achieving integration in mixed methods designs:
    principles and practices. Health Serv Res 48:2134-2156. doi:10.1111/1475-6773.12117
Guetterman TC, Fetters MD, Creswell JW (2015). Integrating quantitative and qualitative results
    in health science mixed methods research through joint displays. Ann Fam Med 13:554-561.
    doi:10.1370/afm.1865
Sandelowski M, Voils CI, Knafl G (2009). On quantitizing. J Mix Methods Res 3:208-222.
Welch BL (1947). The generalization of "Student's" problem when several different population
    variances are involved. Biometrika 34:28-35.
Hedges LV, Olkin I (1985). Statistical Methods for Meta-Analysis. Academic Press;
    Borenstein M et al. (2009). Introduction to Meta-Analysis, Wiley, ch. 4.
Holm S (1979). A simple sequentially rejective multiple test procedure. Scand J Stat 6:65-70.
Jacobson NS, Truax P (1991). J Consult Clin Psychol 59:12-19 (reliable change).
"""
from __future__ import annotations

import functools
import math
import textwrap
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy import stats

from spanalysis import change
from spanalysis.errors import InputError, Issue
from spanalysis.instruments.model import UniqueKeyLoader  # YAML that refuses duplicate keys
from spanalysis.io import atomic_write
from spanalysis.privacy.redact import redact
from spanalysis.qual.themes import participant_code_matrix

__all__ = ["check_study", 
    "participant_table", "statistics_by_themes", "measurement_coverage", "read_crosswalk",
    "side_by_side", "classify_fit", "read_meta_inferences", "write_meta_inference_template",
    "case_level", "classify_cases", "divergent_cases", "configuration_table", "quote_matrix",
    "theme_prevalence", "prevalence_heatmap", "benefit_themes", "leaf_themes",
    "welch_comparison", "DEFAULT_CROSSWALK", "CHANGE_GROUPS", "NOT_CLASSIFIED", "FITS",
    "NOT_WRITTEN", "DIVERGENT_POSITIVE_MIN_THEMES", "DIVERGENT_DETERIORATION_MIN_THEMES",
]

#: The default crosswalk shipped with the package (themes -> questionnaire items).
DEFAULT_CROSSWALK = Path(__file__).resolve().parent / "crosswalk.yaml"
#: Reliable-change categories of :func:`spanalysis.change.reliable_change`, best first.
CHANGE_GROUPS = ("reliable improvement", "no reliable change", "reliable deterioration")
#: Change group of an interviewed participant without a category (no follow-up score, or no
#: reliability for the scale).
NOT_CLASSIFIED = "not classified"
#: The codebook code whose descendants are the benefit themes (seed document).
BENEFIT_PARENT = "benefits"
#: Fit categories (Fetters et al. 2013) plus "not assessable" (too few people to compare).
FITS = ("confirmation", "expansion", "discordance", "not assessable")
#: Shown wherever the analyst has not (yet) written a meta-inference. Never invented.
NOT_WRITTEN = "not yet written by the analyst"

# ---- case-level rules (docs/integration.md, "Convergent and divergent cases") -----------
#: Divergent (positive): at least this many benefit themes voiced, yet no reliable
#: improvement on the primary scale.
DIVERGENT_POSITIVE_MIN_THEMES = 2
#: Divergent (positive) also: a reliable deterioration while voicing at least this many
#: benefit themes.
DIVERGENT_DETERIORATION_MIN_THEMES = 1
#: Divergent (negative): a reliable improvement with at most this many benefit themes voiced.
DIVERGENT_NEGATIVE_MAX_THEMES = 0

_MAX_YAML_BYTES = 1_000_000
_KEYS = ["instrument", "scale"]


# ============================================================================================
# small helpers
# ============================================================================================
def _qualitative(study):
    if getattr(study, "qualitative", None) is None:
        raise InputError("this study has no qualitative material to integrate",
                         file="study.yaml", column="files.qualitative",
                         expected="codebook, sources and segments (or refi_qda) declared "
                                  "under files: qualitative:")
    return study.qualitative


def _min_cell(study, min_cell_size) -> int:
    return change.check_min_cell(study.min_cell_size if min_cell_size is None
                                  else min_cell_size)


def _fmt(x: float, decimals: int = 1, signed: bool = False) -> str:
    if x is None or not np.isfinite(x):
        return "n/a"
    text = f"{x:+.{decimals}f}" if signed else f"{x:.{decimals}f}"
    return "0.0" if text in ("-0.0", "+0.0") and decimals == 1 else text


def _labels(study) -> dict:
    cb = _qualitative(study).codebook
    names = cb["name"].astype(object).where(cb["name"].notna(), cb["id"])
    return dict(zip(cb["id"].astype(str), names.astype(str)))


def leaf_themes(study) -> list[str]:
    """Codebook codes that have no child code, in codebook order.

    These are the themes the displays use by default: a parent such as ``benefits`` only
    groups its children and is not coded directly.

    Examples
    --------
    >>> from spanalysis.study import load_study
    >>> leaf_themes(load_study("data/demo"))[:3]
    ['space_to_think', 'hope', 'valued_not_alone']
    """
    cb = _qualitative(study).codebook
    parents = set(cb["parent"].dropna().astype(str))
    return [c for c in cb["id"].astype(str) if c not in parents]


def benefit_themes(study, parent: str = BENEFIT_PARENT) -> list[str]:
    """The leaf codes below ``parent`` (default ``'benefits'``) in codebook order.

    Raises
    ------
    InputError
        if the codebook has no such code (pass ``themes=[...]`` explicitly instead).

    Examples
    --------
    >>> from spanalysis.study import load_study
    >>> benefit_themes(load_study("data/demo"))
    ['space_to_think', 'hope', 'valued_not_alone', 'social_connection', 'family_dynamics', 'trust_services']
    """
    cb = _qualitative(study).codebook
    ids = cb["id"].astype(str).tolist()
    if parent not in ids:
        raise InputError("the codebook has no parent code for the benefit themes",
                         file="codebook", column="id", value=parent,
                         expected="a code with this id whose children are the benefits, or "
                                  "themes=[...] given explicitly")
    parent_of = dict(zip(ids, cb["parent"].astype(object).where(cb["parent"].notna(), None)))
    below = {parent}
    changed = True
    while changed:  # descendants at any depth (codebooks are small)
        new = {c for c, p in parent_of.items() if p in below} - below
        below |= new
        changed = bool(new)
    leaves = set(leaf_themes(study))
    return [c for c in ids if c in below and c != parent and c in leaves]


def _check_themes(study, themes, default) -> list[str]:
    if themes is None:
        return list(default)
    if isinstance(themes, str):
        themes = [themes]
    known = set(_qualitative(study).codebook["id"].astype(str))
    themes = [str(t) for t in themes]
    for t in themes:
        if t not in known:
            raise InputError("unknown theme", file="codebook", column="id", value=t,
                             expected="a code id from the study's codebook")
    return list(dict.fromkeys(themes))


def _scale_key(study, scale) -> tuple[str, str]:
    """('wemwbs', 'total') from a tuple, 'wemwbs/total', 'wemwbs.total' or 'wemwbs'."""
    info = study.scale_info
    pairs = list(zip(info["instrument"].astype(str), info["scale"].astype(str)))
    if isinstance(scale, (tuple, list)) and len(scale) == 2:
        key = (str(scale[0]), str(scale[1]))
    elif isinstance(scale, str):
        for sep in ("/", "."):
            if sep in scale:
                key = tuple(scale.split(sep, 1))
                break
        else:
            inst = study.instruments.get(scale)
            key = (scale, inst.primary_scale.id) if inst is not None else (scale, "")
    else:
        key = (str(scale), "")
    if key not in pairs:
        raise InputError("unknown instrument scale", column="primary", value=scale,
                         expected="one of " + ", ".join(f"{i}/{s}" for i, s in pairs))
    return key


def _default_scales(study) -> list[tuple[str, str]]:
    """The primary scale of each questionnaire (service-use counts are not compared with
    t-tests: counts are skewed, see measures reference)."""
    return [(i, inst.primary_scale.id) for i, inst in study.instruments.items()
            if i != "service_use"]


def _pre_post(study) -> tuple[str, str]:
    tps = study.timepoints
    if len(tps) < 2:
        raise InputError("change needs at least two time points", file="study.yaml",
                         column="timepoints", value=", ".join(tps),
                         expected="a baseline and a later time point")
    return tps[0], tps[-1]


def _change_long(study, keys=None) -> pd.DataFrame:
    """Complete pairs: ``participant_id, instrument, scale, pre, post, change``."""
    pre, post = _pre_post(study)
    s = study.scores
    s = s[s["timepoint"].astype(str).isin([pre, post]) & s["score"].notna()]
    s = s.assign(participant_id=s["participant_id"].astype(str),
                 instrument=s["instrument"].astype(str), scale=s["scale"].astype(str),
                 timepoint=s["timepoint"].astype(str))
    if keys is not None:
        want = pd.MultiIndex.from_tuples(list(keys), names=_KEYS)
        s = s[pd.MultiIndex.from_frame(s[_KEYS]).isin(want)]
    wide = s.pivot_table(index=["participant_id"] + _KEYS, columns="timepoint",
                         values="score", aggfunc="first").reindex(columns=[pre, post])
    wide.columns = ["pre", "post"]
    wide = wide.dropna().reset_index()
    wide["change"] = wide["post"] - wide["pre"]
    return wide


def _categories(study, keys, sd, reliability) -> pd.DataFrame:
    """Reliable-change category per participant and scale for scales that have a
    reliability (published or given): ``participant_id, instrument, scale, category``."""
    info = study.scale_info.copy()
    info["instrument"] = info["instrument"].astype(str)
    info["scale"] = info["scale"].astype(str)
    want = pd.MultiIndex.from_tuples(list(keys), names=_KEYS)
    info = info[pd.MultiIndex.from_frame(info[_KEYS]).isin(want)]
    if isinstance(reliability, str):  # 'published': only scales with a published value
        info = info[info["reliability"].notna()]
    elif isinstance(reliability, Mapping):
        info = info[[k in reliability for k in zip(info["instrument"], info["scale"])]]
    empty = pd.DataFrame(columns=["participant_id"] + _KEYS + ["category"])
    if info.empty:
        return empty
    s = study.scores
    s = s[pd.MultiIndex.from_frame(s[_KEYS].astype(str)).isin(
        pd.MultiIndex.from_frame(info[_KEYS]))]
    if s.empty:
        return empty
    rc = change.reliable_change(s, info.reset_index(drop=True), sd=sd,
                                reliability=reliability, timepoints=study.timepoints)
    return rc[["participant_id"] + _KEYS + ["category"]]


def _voiced(study, themes, coder) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(0/1 matrix, count matrix) of interviewed participants x themes."""
    q = _qualitative(study)
    counts = participant_code_matrix(q.segments, q.sources, codes=list(themes), coder=coder)
    counts.index = counts.index.astype(str)
    return (counts > 0).astype(int), counts


def _direction(study, key) -> str:
    info = study.scale_info
    row = info[(info["instrument"].astype(str) == key[0]) & (info["scale"].astype(str) == key[1])]
    return str(row["direction"].iloc[0])


def _sign(direction) -> np.ndarray:
    return np.where(np.asarray(direction, dtype=object) == "lower", -1.0, 1.0)


def _site_of(study) -> pd.Series:
    p = study.participants
    return pd.Series(p["site"].astype(str).to_numpy(), index=p["participant_id"].astype(str))


# ============================================================================================
# two-group comparison (Welch) -- one function for single pairs, one vectorised
# ============================================================================================
def _group_stats(n1, m1, v1, n0, m0, v0, confidence):
    """Vectorised Welch comparison of group 1 against group 0 from counts, means, variances."""
    n1, m1, v1, n0, m0, v0 = (np.asarray(a, dtype=float) for a in (n1, m1, v1, n0, m0, v0))
    q = 1 - (1 - confidence) / 2
    out = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        for label, n, m, v in (("voiced", n1, m1, v1), ("not_voiced", n0, m0, v0)):
            se = np.where(n >= 2, np.sqrt(v / n), np.nan)
            tc = stats.t.ppf(q, np.where(n >= 2, n - 1, np.nan))
            out[f"{label}_mean"] = np.where(n >= 1, m, np.nan)
            out[f"{label}_sd"] = np.where(n >= 2, np.sqrt(v), np.nan)
            out[f"{label}_ci_low"] = m - tc * se
            out[f"{label}_ci_high"] = m + tc * se
        ok = (n1 >= 2) & (n0 >= 2)
        a, b = v1 / n1, v0 / n0
        se = np.where(ok, np.sqrt(a + b), np.nan)
        df = np.where(ok, (a + b) ** 2 / (a ** 2 / (n1 - 1) + b ** 2 / (n0 - 1)), np.nan)
        diff = np.where(ok, m1 - m0, np.nan)
        t = np.where(se > 0, diff / se, np.nan)
        tc = stats.t.ppf(q, df)
        out["difference"] = diff
        out["difference_ci_low"] = diff - tc * se
        out["difference_ci_high"] = diff + tc * se
        out["t"] = t
        out["df"] = df
        out["p"] = 2 * stats.t.sf(np.abs(t), df)
        pooled_df = n1 + n0 - 2
        sp = np.sqrt(((n1 - 1) * v1 + (n0 - 1) * v0) / pooled_df)
        d = np.where(ok & (sp > 0), diff / sp, np.nan)
        out["hedges_g"] = d * change.hedges_j(pooled_df)
    return out


def welch_comparison(x, y, confidence: float = 0.95) -> pd.DataFrame:
    """Compare the mean of ``x`` (e.g. change among people who voiced a theme) with ``y``.

    Parameters
    ----------
    x, y : array-like of float
        The two independent groups; NaN values are dropped.
    confidence : float
        Confidence level of the intervals (default 0.95).

    Returns
    -------
    DataFrame
        One row: ``n_x, n_y``, ``mean_x, sd_x, ci_low_x, ci_high_x`` (t interval for each
        mean), the same for y, ``difference`` (mean_x - mean_y), ``difference_ci_low,
        difference_ci_high`` (Welch), ``t, df, p`` (Welch's unequal-variance t-test, two-sided)
        and ``hedges_g`` (same sign as the difference).

    Notes
    -----
    Welch (1947): SE = sqrt(s_x^2/n_x + s_y^2/n_y); t = (mean_x - mean_y) / SE;
    df = SE^4 / ((s_x^2/n_x)^2 / (n_x - 1) + (s_y^2/n_y)^2 / (n_y - 1)) (Welch-Satterthwaite);
    CI = difference +/- t_{1-alpha/2, df} SE. These equal ``pingouin.ttest(x, y,
    correction=True)``.

    Hedges' g = d J with d = (mean_x - mean_y) / s_pooled,
    s_pooled = sqrt(((n_x - 1) s_x^2 + (n_y - 1) s_y^2) / (n_x + n_y - 2)) and
    J = 1 - 3 / (4 (n_x + n_y - 2) - 1) = 1 - 3 / (4 (n_x + n_y) - 9) (Hedges & Olkin 1985;
    Borenstein et al. 2009 eq. 4.22; as ``pingouin.compute_effsize(x, y, eftype='hedges')``).
    The effect size uses the pooled SD even though the test does not assume equal variances,
    as is usual: g describes the size of the difference, Welch protects the test.

    References
    ----------
    Welch BL (1947). Biometrika 34:28-35. Hedges LV, Olkin I (1985). Statistical Methods for
    Meta-Analysis. Borenstein M et al. (2009). Introduction to Meta-Analysis, ch. 4.

    Examples
    --------
    >>> r = welch_comparison([4, 6, 5, 7, 8], [1, 2, 3, 2])
    >>> r[["n_x", "n_y", "difference"]].to_dict("records")
    [{'n_x': 5, 'n_y': 4, 'difference': 4.0}]
    >>> round(float(r["df"].iloc[0]), 3), round(float(r["hedges_g"].iloc[0]), 3)
    (6.194, 2.716)
    """
    confidence = change.check_confidence(confidence)
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    x, y = x[~np.isnan(x)], y[~np.isnan(y)]
    var = (lambda a: a.var(ddof=1) if a.size >= 2 else np.nan)
    mean = (lambda a: a.mean() if a.size else np.nan)
    res = _group_stats(x.size, mean(x), var(x), y.size, mean(y), var(y), confidence)
    row = {"n_x": x.size, "n_y": y.size}
    for src, dst in (("voiced", "x"), ("not_voiced", "y")):
        for stat in ("mean", "sd", "ci_low", "ci_high"):
            row[f"{stat}_{dst}"] = float(res[f"{src}_{stat}"])
    for col in ("difference", "difference_ci_low", "difference_ci_high", "t", "df", "p",
                "hedges_g"):
        row[col] = float(res[col])
    return pd.DataFrame([row])


_COMPARE_COLUMNS = ["n_voiced_completers", "n_not_voiced_completers", "voiced_mean",
                    "voiced_sd", "voiced_ci_low", "voiced_ci_high", "not_voiced_mean",
                    "not_voiced_sd", "not_voiced_ci_low", "not_voiced_ci_high", "difference",
                    "difference_ci_low", "difference_ci_high", "t", "df", "p", "hedges_g"]
_WITHHELD = [c for c in _COMPARE_COLUMNS if not c.startswith("n_")]


def _compare(data: pd.DataFrame, keys: list[str], index: pd.MultiIndex, confidence: float,
             min_cell: int) -> pd.DataFrame:
    """Voicers (voiced == 1) against non-voicers per ``keys`` group, vectorised.

    ``data`` has ``keys``, ``voiced`` (0/1) and ``value``; ``index`` lists every group to
    report (groups without data get zero counts)."""
    agg = (data.groupby(keys + ["voiced"], observed=True)["value"]
           .agg(["count", "mean", "var"]).unstack("voiced"))
    agg = agg.reindex(index)

    def col(stat, v):
        return (agg[(stat, v)] if (stat, v) in agg.columns
                else pd.Series(np.nan, index=agg.index)).to_numpy(float)

    n1 = np.nan_to_num(col("count", 1)).astype(int)
    n0 = np.nan_to_num(col("count", 0)).astype(int)
    res = _group_stats(n1, col("mean", 1), col("var", 1), n0, col("mean", 0), col("var", 0),
                       confidence)
    out = pd.DataFrame(index=index)
    out["n_voiced_completers"] = n1
    out["n_not_voiced_completers"] = n0
    for c in _WITHHELD:
        out[c] = res[c]
    small = (n1 < min_cell) | (n0 < min_cell)
    out.loc[small, _WITHHELD] = np.nan
    out["small_group"] = small
    return out.reset_index()


def _improvement(out: pd.DataFrame) -> pd.DataFrame:
    """Direction-aware difference: positive = voicers improved more."""
    sign = _sign(out["direction"])
    lo = out["difference_ci_low"].to_numpy() * sign
    hi = out["difference_ci_high"].to_numpy() * sign
    out["improvement_difference"] = out["difference"].to_numpy() * sign
    out["improvement_ci_low"] = np.fmin(lo, hi)
    out["improvement_ci_high"] = np.fmax(lo, hi)
    return out


def _holm(out: pd.DataFrame, by: list[str] | None) -> np.ndarray:
    if not by:
        return change.p_adjust_holm(out["p"].to_numpy())
    return out.groupby(by, sort=False)["p"].transform(
        lambda s: change.p_adjust_holm(s.to_numpy())).to_numpy()


# ============================================================================================
# 1. participant table
# ============================================================================================
def participant_table(study, coder: str | None = None, themes=None, sd="baseline",
                      reliability="published") -> pd.DataFrame:
    """One row per participant: attributes, scores, change, reliable change and themes.

    Parameters
    ----------
    study : Study
        From :func:`spanalysis.study.load_study` (qualitative material optional).
    coder : str, optional
        Count only this coder's segments (default: any coder, see
        :func:`spanalysis.qual.themes.participant_code_matrix`).
    themes : list of str, optional
        Codes to quantitize (default: every leaf code of the codebook).
    sd, reliability
        Passed to :func:`spanalysis.change.reliable_change` (default: the study's baseline SD
        and the published reliability; scales without a reliability get no category).

    Returns
    -------
    DataFrame
        The participants columns (``participant_id, site, ...``), then for every scored
        scale in ``study.scale_info`` (service-use counts included):
        ``<instrument>.<scale>_<timepoint>`` (score at each time point),
        ``<instrument>.<scale>_change`` (last minus first time point, completers only) and,
        where a reliability is available, ``<instrument>.<scale>_category`` (reliable
        improvement / no reliable change / reliable deterioration, Jacobson & Truax 1991);
        ``interviewed`` (bool); ``theme.<code>`` (1 voiced, 0 not voiced, missing when not
        interviewed) and ``theme_count.<code>`` (coded segments, missing when not
        interviewed), both nullable integers.

    Notes
    -----
    Quantitizing turns each theme into a variable per participant (Sandelowski, Voils & Knafl
    2009). A participant not interviewed has *missing* themes, because "not voiced" can only be
    said of someone who was asked.

    Examples
    --------
    >>> from spanalysis.study import load_study
    >>> t = participant_table(load_study("data/demo"))
    >>> t[["participant_id", "wemwbs.total_change", "interviewed", "theme.hope"]].shape
    (400, 4)
    """
    people = study.participants.copy()
    people["participant_id"] = people["participant_id"].astype(str)
    info = study.scale_info
    keys = list(zip(info["instrument"].astype(str), info["scale"].astype(str)))
    s = study.scores
    s = s[s["score"].notna()]
    s = s.assign(name=s["instrument"].astype(str) + "." + s["scale"].astype(str),
                 participant_id=s["participant_id"].astype(str),
                 timepoint=s["timepoint"].astype(str))
    wide = s.pivot_table(index="participant_id", columns=["name", "timepoint"],
                         values="score", aggfunc="first")
    ch = _change_long(study)
    ch["name"] = ch["instrument"] + "." + ch["scale"]
    change_wide = ch.pivot(index="participant_id", columns="name", values="change")
    cats = _categories(study, keys, sd, reliability)
    cats = cats.assign(name=cats["instrument"].astype(str) + "." + cats["scale"].astype(str))
    cat_wide = (cats.pivot(index="participant_id", columns="name", values="category")
                if len(cats) else pd.DataFrame())
    columns = {}
    for inst, scale in keys:
        name = f"{inst}.{scale}"
        for tp in study.timepoints:
            if (name, tp) in wide.columns:
                columns[f"{name}_{tp}"] = wide[(name, tp)]
        if name in change_wide.columns:
            columns[f"{name}_change"] = change_wide[name]
        if name in cat_wide.columns:
            columns[f"{name}_category"] = cat_wide[name]
    block = pd.DataFrame(columns).reindex(people["participant_id"])
    out = pd.concat([people.reset_index(drop=True), block.reset_index(drop=True)], axis=1)
    interviewed = set(map(str, study.interviewed))
    out["interviewed"] = out["participant_id"].isin(interviewed)
    if study.qualitative is not None:
        themes = _check_themes(study, themes, leaf_themes(study))
        binary, counts = _voiced(study, themes, coder)
        theme_cols = {}
        for t in themes:
            theme_cols[f"theme.{t}"] = binary[t].reindex(out["participant_id"]).astype("Int64")
        for t in themes:
            theme_cols[f"theme_count.{t}"] = counts[t].reindex(out["participant_id"]) \
                .astype("Int64")
        out = pd.concat([out, pd.DataFrame({k: v.to_numpy() for k, v in theme_cols.items()})],
                        axis=1)
    return out


# ============================================================================================
# 2a. statistics by themes
# ============================================================================================
def statistics_by_themes(study, scales=None, themes=None, coder: str | None = None,
                         confidence: float = 0.95, min_cell_size: int | None = None,
                         family: str = "table") -> pd.DataFrame:
    """Statistics-by-themes joint display: change among those who voiced each theme against
    interviewed completers who did not.

    Parameters
    ----------
    study : Study
    scales : list, optional
        Scales to compare, each ``(instrument, scale)``, ``'instrument/scale'`` or an
        instrument id (its primary scale). Default: the primary scale of every questionnaire.
    themes : list of str, optional
        Codes (default: every leaf code of the codebook, benefits and others).
    coder : str, optional
        Use only this coder's segments.
    confidence : float
        Level of every interval (default 0.95).
    min_cell_size : int, optional
        Default: the study's ``privacy.min_cell_size``.
    family : {'table', 'scale'}
        The Holm family: every theme x scale test in the table (default; the table is read as
        one screen of which themes go with which change), or the themes within each scale.

    Returns
    -------
    DataFrame
        One row per theme and scale: ``theme, theme_label, instrument, scale, scale_name,
        direction``, ``n_interviewed`` (interviewed participants), ``n_voiced`` (of them, how
        many voiced the theme), ``pct_voiced``, ``n_voiced_completers,
        n_not_voiced_completers`` (interviewed with a change score on the scale),
        ``voiced_mean, voiced_sd, voiced_ci_low, voiced_ci_high`` (mean change and its t
        interval among voicers), the same for ``not_voiced_*``, ``difference`` (voiced minus
        not voiced mean change, raw points) with its Welch interval ``difference_ci_low,
        difference_ci_high``, ``t, df, p`` (Welch), ``p_holm``, ``hedges_g``,
        ``improvement_difference, improvement_ci_low, improvement_ci_high`` (the difference
        signed so that positive = voicers improved more, following ``direction``),
        ``small_group`` (either group below ``min_cell_size``: statistics withheld),
        ``confidence``.

    Notes
    -----
    Welch's test and Hedges' g as in :func:`welch_comparison`. Holm (1979) adjustment over the
    available p-values of the family chosen. Completers are people with a score at the first
    and the last time point. These are associations in people who chose to talk about a
    theme, not effects of the theme.

    References
    ----------
    Guetterman TC, Fetters MD, Creswell JW (2015). Ann Fam Med 13:554-561. Welch (1947).
    Hedges & Olkin (1985). Holm (1979).

    Examples
    --------
    >>> from spanalysis.study import load_study
    >>> t = statistics_by_themes(load_study("data/demo"), scales=["ucla3"],
    ...                          themes=["social_connection"])
    >>> r = t.iloc[0]
    >>> r["theme"], int(r["n_voiced"]), bool(r["improvement_difference"] > 0)
    ('social_connection', 31, True)
    """
    confidence = change.check_confidence(confidence)
    k = _min_cell(study, min_cell_size)
    if family not in ("table", "scale"):
        raise InputError("unknown Holm family", column="family", value=family,
                         expected="'table' or 'scale'")
    themes = _check_themes(study, themes, leaf_themes(study))
    keys = ([_scale_key(study, s) for s in scales] if scales is not None
            else _default_scales(study))
    binary, _ = _voiced(study, themes, coder)
    ch = _change_long(study, keys)
    ch = ch[ch["participant_id"].isin(binary.index)]
    voiced = binary.rename_axis("participant_id").reset_index().melt(
        id_vars="participant_id", var_name="theme", value_name="voiced")
    data = ch.merge(voiced, on="participant_id").rename(columns={"change": "value"})
    index = pd.MultiIndex.from_tuples([(t, i, s) for t in themes for i, s in keys],
                                      names=["theme"] + _KEYS)
    out = _compare(data, ["theme"] + _KEYS, index, confidence, k)
    info = study.scale_info.assign(instrument=lambda d: d["instrument"].astype(str),
                                   scale=lambda d: d["scale"].astype(str))
    out = out.merge(info[_KEYS + ["scale_name", "direction"]], on=_KEYS, how="left")
    labels = _labels(study)
    out["theme_label"] = out["theme"].map(labels)
    out["n_interviewed"] = len(binary)
    out["n_voiced"] = out["theme"].map(binary.sum()).astype(int)
    out["pct_voiced"] = 100 * out["n_voiced"] / max(len(binary), 1)
    out = _improvement(out)
    out["p_holm"] = _holm(out, None if family == "table" else _KEYS)
    out["confidence"] = confidence
    columns = ["theme", "theme_label", "instrument", "scale", "scale_name", "direction",
               "n_interviewed", "n_voiced", "pct_voiced"] + _COMPARE_COLUMNS[:-1] + [
        "p_holm", "hedges_g", "improvement_difference", "improvement_ci_low",
        "improvement_ci_high", "small_group", "confidence"]
    return out[columns]


# ============================================================================================
# 2d. crosswalk and measurement coverage
# ============================================================================================
def _read_yaml(path: Path, label: str, expected: str):
    if not path.is_file():
        raise InputError("file not found", file=label, value=str(path), expected=expected)
    if path.stat().st_size > _MAX_YAML_BYTES:
        raise InputError("file too large", file=label, value=f"{path.stat().st_size} bytes",
                         expected=f"at most {_MAX_YAML_BYTES} bytes of YAML")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("not valid UTF-8", file=label, expected="UTF-8 text") from None
    try:
        return yaml.load(text, Loader=UniqueKeyLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        raise InputError("not valid YAML: " + str(getattr(exc, "problem", None) or exc),
                         file=label, row=None if mark is None else mark.line + 1,
                         expected=expected) from None


@functools.lru_cache(maxsize=1)
def _builtin_items() -> dict:
    from spanalysis.instruments import model

    return {it: iid for iid in model.builtin_ids() for it in model.load(iid).item_ids}


def _item_direction(inst, item_id) -> str | None:
    """'higher'/'lower' from the scales scoring the item (flipped for reversed items), or
    None when the scales disagree or none scores it."""
    item = inst.item(item_id)
    dirs = {sc.direction for sc in inst.scales if item_id in sc.items}
    if len(dirs) != 1:
        return None
    d = dirs.pop()
    if item.reverse:  # a reversed item is scored min + max - answer: a higher answer is worse
        d = "lower" if d == "higher" else "higher"
    return d


def read_crosswalk(study, crosswalk=None) -> pd.DataFrame:
    """Read and validate a crosswalk file (themes -> questionnaire items).

    Parameters
    ----------
    study : Study
        Theme ids are checked against its codebook and item ids against its instruments
        (and the built-in ones).
    crosswalk : str or Path, optional
        A crosswalk YAML file (format in ``docs/integration.md``). Default: the shipped
        :data:`DEFAULT_CROSSWALK`, whose themes missing from the codebook are skipped.

    Returns
    -------
    DataFrame
        One row per theme and item: ``theme, theme_label, item, instrument, stem,
        direction, why, note, collected`` (the item is in the study's data). A theme listed
        with no item has one row with ``item`` missing.

    Raises
    ------
    InputError
        naming the file and the key: not YAML, unknown keys, an unknown theme (user files),
        an unknown item, a direction other than 'higher'/'lower', a direction contradicting
        the instrument definition, or an item whose direction cannot be derived.

    Examples
    --------
    >>> from spanalysis.study import load_study
    >>> cw = read_crosswalk(load_study("data/demo"))
    >>> cw.loc[cw["theme"] == "hope", ["item", "direction"]].to_dict("records")
    [{'item': 'wemwbs_1', 'direction': 'higher'}]
    """
    default = crosswalk is None
    path = DEFAULT_CROSSWALK if default else Path(crosswalk)
    label = "crosswalk.yaml (default)" if default else path.name
    expected_file = "a crosswalk YAML file (docs/integration.md)"
    raw = _read_yaml(path, label, expected_file)

    def fail(message, key, value=None, expected=None):
        raise InputError(message, file=label, column=key, value=value, expected=expected)

    if not isinstance(raw, dict):
        fail("the crosswalk must be a mapping", None, type(raw).__name__,
             "keys version: and themes:")
    unknown = set(raw) - {"version", "themes", "description"}
    if unknown:
        fail("unknown key", sorted(map(str, unknown))[0], None,
             "version, themes, description")
    if raw.get("version", 1) != 1:
        fail("unsupported crosswalk version", "version", raw.get("version"), "1")
    themes = raw.get("themes")
    if not isinstance(themes, dict):
        fail("'themes' must be a mapping of theme id -> entry", "themes",
             type(themes).__name__, "themes: {theme_id: {items: [...]}}")
    codebook = set(_qualitative(study).codebook["id"].astype(str))
    labels = _labels(study)
    item_info = study.item_info.drop_duplicates("item").set_index("item")
    builtin = _builtin_items()
    rows = []
    for theme, entry in themes.items():
        key = f"themes.{theme}"
        theme = str(theme)
        if theme not in codebook:
            if default:
                continue
            fail("theme not in the study's codebook", key, theme,
                 "a code id from the codebook")
        if not isinstance(entry, dict):
            fail("a theme entry must be a mapping", key, type(entry).__name__,
                 "items: [...], optional label: and note:")
        bad = set(entry) - {"items", "label", "note"}
        if bad:
            fail("unknown key", f"{key}.{sorted(map(str, bad))[0]}", None,
                 "items, label, note")
        if "items" not in entry:
            fail("missing key 'items' (use items: [] when nothing covers the theme)",
                 f"{key}.items", None, "a list of item ids")
        items = entry["items"] if entry["items"] is not None else []
        if not isinstance(items, list):
            fail("'items' must be a list", f"{key}.items", type(items).__name__,
                 "a list of item ids or {item: ..., direction: ..., why: ...}")
        theme_label = str(entry.get("label") or labels.get(theme, theme))
        note = entry.get("note")
        note = None if note is None else " ".join(str(note).split())
        if not items:
            rows.append({"theme": theme, "theme_label": theme_label, "item": None,
                         "instrument": None, "stem": None, "direction": None, "why": None,
                         "note": note, "collected": False})
        seen = set()
        for i, spec in enumerate(items):
            ikey = f"{key}.items[{i}]"
            if isinstance(spec, str):
                spec = {"item": spec}
            if not isinstance(spec, dict) or "item" not in spec:
                fail("an item entry must be an item id or a mapping with 'item'", ikey,
                     spec, "e.g. wemwbs_1 or {item: wemwbs_1, why: ...}")
            bad = set(spec) - {"item", "direction", "why"}
            if bad:
                fail("unknown key", f"{ikey}.{sorted(map(str, bad))[0]}", None,
                     "item, direction, why")
            item = str(spec["item"])
            if item in seen:
                fail("item listed twice for the same theme", ikey, item, "each item once")
            seen.add(item)
            explicit = spec.get("direction")
            if explicit is not None and explicit not in ("higher", "lower"):
                fail("unknown direction", f"{ikey}.direction", explicit,
                     "'higher' or 'lower' (which answer is better)")
            collected = item in item_info.index
            if not collected and item not in builtin:
                fail("unknown questionnaire item", ikey, item,
                     "an item id of the study's instruments, e.g. wemwbs_1")
            if collected:
                inst_id = str(item_info.at[item, "instrument"])
                derived = _item_direction(study.instruments[inst_id], item)
                stem = str(item_info.at[item, "stem"])
            else:
                from spanalysis.instruments import model

                inst_id = builtin[item]
                inst = model.load(inst_id)
                derived = _item_direction(inst, item)
                stem = inst.item(item).stem
            if explicit is not None and derived is not None and explicit != derived:
                fail("direction contradicts the instrument definition", f"{ikey}.direction",
                     explicit, f"'{derived}' (from the {inst_id} scale scoring this item)")
            direction = explicit or derived
            if direction is None:
                fail("the direction of this item cannot be derived from its instrument",
                     f"{ikey}.direction", item, "direction: higher or direction: lower")
            why = spec.get("why")
            rows.append({"theme": theme, "theme_label": theme_label, "item": item,
                         "instrument": inst_id, "stem": stem, "direction": direction,
                         "why": None if why is None else " ".join(str(why).split()),
                         "note": note, "collected": collected})
    return pd.DataFrame(rows, columns=["theme", "theme_label", "item", "instrument", "stem",
                                       "direction", "why", "note", "collected"])


def _item_change(study, items: list[str]) -> pd.DataFrame:
    """``participant_id, item, value`` = answer at the last minus the first time point."""
    pre, post = _pre_post(study)
    info = study.item_info.drop_duplicates("item").set_index("item")
    r = study.responses
    tp = r["timepoint"].astype(str)
    cols = {it: info.at[it, "source_column"] for it in items}
    cols = {it: c for it, c in cols.items() if c in r.columns}
    if not cols:
        return pd.DataFrame(columns=["participant_id", "item", "value"])
    src = list(dict.fromkeys(cols.values()))
    a = r.loc[tp == pre, ["participant_id"] + src].set_index("participant_id")
    b = r.loc[tp == post, ["participant_id"] + src].set_index("participant_id")
    a.index = a.index.astype(str)
    b.index = b.index.astype(str)
    both = a.index.intersection(b.index)
    diff = b.loc[both, src].astype(float) - a.loc[both, src].astype(float)
    out = pd.DataFrame({it: diff[c] for it, c in cols.items()}, index=both)
    out.index.name = "participant_id"
    return out.reset_index().melt(id_vars="participant_id", var_name="item",
                                  value_name="value").dropna(subset=["value"])


def measurement_coverage(study, crosswalk=None, themes=None, coder: str | None = None,
                         confidence: float = 0.95,
                         min_cell_size: int | None = None) -> pd.DataFrame:
    """Do the questionnaires cover each theme? Item-level change of voicers against
    interviewed completers who did not voice it, for every item the crosswalk maps to it.

    Parameters
    ----------
    study : Study
    crosswalk : str or Path, optional
        Crosswalk YAML (default: :data:`DEFAULT_CROSSWALK`; see :func:`read_crosswalk`).
    themes : list of str, optional
        Themes to report. Default: the benefit themes (:func:`benefit_themes`, when the
        codebook has a ``benefits`` parent) and every theme of the crosswalk. A theme with no
        crosswalk entry is "not measured".
    coder, confidence, min_cell_size
        As for :func:`statistics_by_themes`.

    Returns
    -------
    DataFrame
        One row per theme and collected covering item: ``theme, theme_label, coverage``
        ('measured' or 'not measured'), ``item, instrument, stem, direction, why, note``,
        ``n_interviewed, n_voiced, pct_voiced``, the comparison columns of
        :func:`statistics_by_themes` on the item's change in points (``n_voiced_completers``
        ... ``hedges_g``, ``improvement_difference, improvement_ci_low,
        improvement_ci_high``), ``p_holm`` (Holm over every item test in the table),
        ``small_group`` (missing on 'not measured' rows), ``confidence``.
        A theme without a collected covering item has one 'not measured' row, its ``note``
        saying why (no item in the crosswalk, listed items not collected, or no entry).

    Notes
    -----
    Item change is the answer at the last time point minus the answer at the first, for
    people who answered the item both times; it is judged better or worse by the item's
    direction (UCLA-3 items: higher = lonelier, so lower is better; ONS "how often lonely",
    coded 1 often/always .. 5 never: higher is better). Statistics as in
    :func:`welch_comparison`.

    Examples
    --------
    >>> from spanalysis.study import load_study
    >>> cov = measurement_coverage(load_study("data/demo"))
    >>> cov.loc[cov["theme"] == "trust_services", "coverage"].tolist()
    ['not measured']
    """
    confidence = change.check_confidence(confidence)
    k = _min_cell(study, min_cell_size)
    cw = read_crosswalk(study, crosswalk)
    labels = _labels(study)
    if themes is None:
        try:
            base = benefit_themes(study)
        except InputError:
            base = []
        themes = list(dict.fromkeys(base + cw["theme"].tolist()))
    else:
        themes = _check_themes(study, themes, [])
    binary, _ = _voiced(study, themes, coder)
    measured = cw[cw["theme"].isin(themes) & cw["collected"]]
    items = list(dict.fromkeys(measured["item"]))
    ch = _item_change(study, items)
    ch = ch[ch["participant_id"].isin(binary.index)]
    voiced = binary.rename_axis("participant_id").reset_index().melt(
        id_vars="participant_id", var_name="theme", value_name="voiced")
    pairs = measured[["theme", "item"]]
    data = ch.merge(pairs, on="item").merge(voiced, on=["participant_id", "theme"])
    index = pd.MultiIndex.from_frame(pairs) if len(pairs) else pd.MultiIndex.from_tuples(
        [], names=["theme", "item"])
    stats_ = _compare(data, ["theme", "item"], index, confidence, k)
    meas = measured.merge(stats_, on=["theme", "item"], how="left")
    meas["coverage"] = "measured"
    meas = _improvement(meas)
    meas["p_holm"] = change.p_adjust_holm(meas["p"].to_numpy())
    rows = [meas]
    not_measured = [t for t in themes if t not in set(measured["theme"])]
    if not_measured:
        nm = []
        for t in not_measured:
            entry = cw[cw["theme"] == t]
            if entry.empty:
                note = "no entry in the crosswalk"
                label = labels.get(t, t)
            else:
                label = entry["theme_label"].iloc[0]
                listed = entry["item"].dropna().tolist()
                note = (f"listed items not collected in this study: {', '.join(listed)}"
                        if listed else entry["note"].iloc[0] or "no covering item")
            nm.append({"theme": t, "theme_label": label, "coverage": "not measured",
                       "note": note})
        rows.append(pd.DataFrame(nm))
    out = pd.concat(rows, ignore_index=True) if len(rows) > 1 else rows[0]
    out["theme_label"] = out["theme_label"].where(out["theme_label"].notna(),
                                                  out["theme"].map(labels))
    out["small_group"] = pd.array(
        np.where(out["coverage"] == "measured", out["small_group"].fillna(False), False),
        dtype="boolean")
    out.loc[out["coverage"] != "measured", "small_group"] = pd.NA
    for c in ("n_voiced_completers", "n_not_voiced_completers"):
        out[c] = out[c].astype("Int64")
    out["n_interviewed"] = len(binary)
    out["n_voiced"] = out["theme"].map(binary.sum()).astype(int)
    out["pct_voiced"] = 100 * out["n_voiced"] / max(len(binary), 1)
    out["confidence"] = confidence
    order = {t: i for i, t in enumerate(themes)}
    out = out.sort_values(["theme"], key=lambda s: s.map(order), kind="stable")
    columns = ["theme", "theme_label", "coverage", "item", "instrument", "stem", "direction",
               "why", "note", "n_interviewed", "n_voiced", "pct_voiced"] + \
        _COMPARE_COLUMNS[:-1] + ["p_holm", "hedges_g", "improvement_difference",
                                 "improvement_ci_low", "improvement_ci_high", "small_group",
                                 "confidence"]
    return out[columns].reset_index(drop=True)


# ============================================================================================
# 2b. side by side: fit and meta-inferences
# ============================================================================================
def classify_fit(coverage: pd.DataFrame) -> pd.DataFrame:
    """The fit of the two strands for each theme, by the documented rules.

    Parameters
    ----------
    coverage : DataFrame
        Rows as :func:`measurement_coverage` returns: ``theme, coverage, small_group,
        improvement_ci_low, improvement_ci_high`` are used.

    Returns
    -------
    DataFrame
        ``theme, fit, fit_rule`` (one row per theme, in order of first appearance).

    Notes
    -----
    Rules, applied in order to the theme's covering items (Fetters, Curry & Creswell 2013
    define confirmation, expansion and discordance; the thresholds are ours):

    1. **expansion**: no covering item was collected ('not measured'): the interviews describe
       a benefit the questionnaires cannot show, so the qualitative strand expands the
       quantitative one.
    2. **not assessable**: covering items exist, but every comparison is withheld (a group
       below the minimum cell size) or cannot be computed.
    3. **confirmation**: on at least one covering item voicers improved more, with the
       direction-aware interval wholly above 0 (``improvement_ci_low > 0``), and on no item
       did they improve less with the interval wholly below 0.
    4. **discordance**: otherwise: the theme is measured and assessable, but no covering item
       shows voicers improving more (all intervals include 0), or some show them improving
       less (``improvement_ci_high < 0``).

    The intervals are the unadjusted ones at the chosen confidence (the display is
    descriptive; ``p_holm`` is reported beside them).

    Examples
    --------
    >>> cov = pd.DataFrame({"theme": ["a", "b", "c"],
    ...     "coverage": ["measured", "measured", "not measured"],
    ...     "small_group": [False, False, None],
    ...     "improvement_ci_low": [0.2, -0.3, None], "improvement_ci_high": [0.9, 0.4, None]})
    >>> classify_fit(cov)["fit"].tolist()
    ['confirmation', 'discordance', 'expansion']
    """
    c = coverage.copy()
    measured = (c["coverage"] == "measured").to_numpy()
    small = c["small_group"].astype("boolean").fillna(True).to_numpy(bool)
    lo = pd.to_numeric(c["improvement_ci_low"], errors="coerce").to_numpy(float)
    hi = pd.to_numeric(c["improvement_ci_high"], errors="coerce").to_numpy(float)
    assessable = measured & ~small & np.isfinite(lo) & np.isfinite(hi)
    c["_measured"] = measured
    c["_assessable"] = assessable
    c["_confirms"] = assessable & (lo > 0)
    c["_contradicts"] = assessable & (hi < 0)
    g = c.groupby("theme", sort=False)[["_measured", "_assessable", "_confirms",
                                        "_contradicts"]].any()
    fit = np.select(
        [~g["_measured"], ~g["_assessable"], g["_confirms"] & ~g["_contradicts"]],
        ["expansion", "not assessable", "confirmation"], "discordance")
    rule = np.select(
        [~g["_measured"], ~g["_assessable"], g["_confirms"] & ~g["_contradicts"],
         g["_confirms"] & g["_contradicts"], g["_contradicts"]],
        ["no questionnaire item covers this theme",
         "too few people in a compared group on every covering item",
         "voicers improved more on a covering item (interval excludes 0)",
         "covering items disagree: voicers improved more on one and less on another",
         "voicers improved less on a covering item (interval excludes 0)"],
        "no covering item shows voicers improving more (every interval includes 0)")
    return pd.DataFrame({"theme": g.index, "fit": fit, "fit_rule": rule})


def read_meta_inferences(path, themes=None) -> dict:
    """Read the analyst's meta-inferences (theme -> text) from an editable YAML file.

    Parameters
    ----------
    path : str or Path or None
        The YAML file (format in ``docs/integration.md``). None or a missing file: no
        meta-inference has been written (an empty dict).
    themes : iterable of str, optional
        Allowed theme ids; any other key is an error.

    Returns
    -------
    dict
        theme -> text, only for themes with non-empty text.

    Raises
    ------
    InputError
        not YAML, wrong structure, unknown theme or unknown key (naming file and key).
    """
    if path is None:
        return {}
    path = Path(path)
    if not path.exists():
        return {}
    raw = _read_yaml(path, path.name, "a meta-inferences YAML file (docs/integration.md)")
    if raw is None:
        return {}
    if not isinstance(raw, dict) or set(raw) - {"meta_inferences", "study"}:
        extra = sorted(map(str, set(raw) - {"meta_inferences", "study"})) \
            if isinstance(raw, dict) else []
        raise InputError("unknown key" if extra else "the file must be a mapping",
                         file=path.name, column=extra[0] if extra else None,
                         expected="keys study: and meta_inferences:")
    entries = raw.get("meta_inferences") or {}
    if not isinstance(entries, dict):
        raise InputError("'meta_inferences' must map theme ids to entries", file=path.name,
                         column="meta_inferences", value=type(entries).__name__,
                         expected="meta_inferences: {theme_id: {text: ...}}")
    allowed = None if themes is None else set(themes)
    out = {}
    for theme, entry in entries.items():
        key = f"meta_inferences.{theme}"
        if allowed is not None and str(theme) not in allowed:
            raise InputError("unknown theme", file=path.name, column=key, value=str(theme),
                             expected="one of " + ", ".join(sorted(allowed)))
        if entry is None:
            continue
        if isinstance(entry, str):
            text = entry
        elif isinstance(entry, dict):
            bad = set(entry) - {"text", "author", "date"}
            if bad:
                raise InputError("unknown key", file=path.name,
                                 column=f"{key}.{sorted(map(str, bad))[0]}",
                                 expected="text, author, date")
            text = entry.get("text") or ""
            if not isinstance(text, str):
                raise InputError("the meta-inference must be text", file=path.name,
                                 column=f"{key}.text", value=text, expected="text")
        else:
            raise InputError("a meta-inference must be text or a mapping with text:",
                             file=path.name, column=key, value=type(entry).__name__,
                             expected="text: ...")
        if text.strip():
            out[str(theme)] = text.strip()
    return out


def _theme_list(study, themes, cw) -> list[str]:
    if themes is not None:
        return _check_themes(study, themes, [])
    try:
        base = benefit_themes(study)
    except InputError:
        base = []
    return list(dict.fromkeys(base + cw["theme"].tolist()))


def _too_few(k: int) -> str:
    # no group size is printed: a count below k must not reach a report through a sentence
    return f"too few people to compare (a group has fewer than {k})."


def _item_sentence(r, k: int) -> str:
    name = f"{r['item']} ({r['stem']})"
    if bool(r["small_group"]) or not np.isfinite(r["improvement_difference"]):
        return f"{name}: {_too_few(k)}"
    lvl = f"{round(100 * r['confidence'])}% CI"
    diff = r["improvement_difference"]
    verb = "more" if diff >= 0 else "less"
    return (f"{name}: voicers improved {_fmt(abs(diff), 2)} points {verb} "
            f"({lvl} {_fmt(r['improvement_ci_low'], 2, True)} to "
            f"{_fmt(r['improvement_ci_high'], 2, True)}; n = {r['n_voiced_completers']} vs "
            f"{r['n_not_voiced_completers']}).")


def side_by_side(study, meta_inferences_path=None, crosswalk=None, themes=None,
                 primary=("wemwbs", "total"), coder: str | None = None, quotes: int = 2,
                 confidence: float = 0.95, min_cell_size: int | None = None) -> pd.DataFrame:
    """Side-by-side joint display: per theme, the quantitative result, the qualitative
    finding with exemplar quotes, the fit, and the analyst's meta-inference.

    Parameters
    ----------
    study : Study
    meta_inferences_path : str or Path, optional
        The analyst's YAML file (:func:`write_meta_inference_template` makes one). Missing:
        every meta-inference reads :data:`NOT_WRITTEN`.
    crosswalk : str or Path, optional
        As for :func:`measurement_coverage`.
    themes : list of str, optional
        Default: the benefit themes and the crosswalk's themes.
    primary : scale
        The overall scale also summarised per theme (default WEMWBS total).
    coder : str, optional
    quotes : int
        Up to this many exemplar quotes per theme (default 2), one per participant.
    confidence, min_cell_size
        As for :func:`statistics_by_themes`.

    Returns
    -------
    DataFrame
        One row per theme: ``theme, theme_label, n_interviewed, n_voiced, pct_voiced,
        qualitative_finding`` (text), ``quotes`` (list of dicts ``text`` (redacted),
        ``participant_id, site, theme, segment_id, sensitive``), ``n_covering_items``,
        ``quantitative_result`` (text, one sentence per covering item),
        ``primary_result`` (text: the primary scale, voicers against non-voicers),
        ``fit, fit_rule`` (:func:`classify_fit`), ``meta_inference`` and
        ``meta_inference_written`` (bool).

    Examples
    --------
    >>> from spanalysis.study import load_study
    >>> sbs = side_by_side(load_study("data/demo"))
    >>> sbs.set_index("theme").loc["trust_services", ["fit", "meta_inference"]].tolist()
    ['expansion', 'not yet written by the analyst']
    """
    key = _scale_key(study, primary)
    k = _min_cell(study, min_cell_size)
    cw = read_crosswalk(study, crosswalk)
    themes = _theme_list(study, themes, cw)
    cov = measurement_coverage(study, crosswalk, themes=themes, coder=coder,
                               confidence=confidence, min_cell_size=min_cell_size)
    fits = classify_fit(cov).set_index("theme")
    prim = statistics_by_themes(study, scales=[key], themes=themes, coder=coder,
                                confidence=confidence,
                                min_cell_size=min_cell_size).set_index("theme")
    quote_table = _redacted_quotes(study, _theme_segments(study, themes, coder), ["theme"],
                                   quotes)
    quote_of = dict(zip(quote_table["theme"], quote_table["quotes"]))
    meta = read_meta_inferences(meta_inferences_path,
                                _qualitative(study).codebook["id"].astype(str))
    rows = []
    for t in themes:  # one row per theme: a handful of rows, text assembly only
        c = cov[cov["theme"] == t]
        p = prim.loc[t]
        measured = c[c["coverage"] == "measured"]
        if measured.empty:
            quant = "Not measured: " + str(c["note"].iloc[0]) + "."
        else:
            quant = " ".join(_item_sentence(r, k) for _, r in measured.iterrows())
        if bool(p["small_group"]) or not np.isfinite(p["improvement_difference"]):
            prim_text = f"{p['scale_name']}: {_too_few(k)}"
        else:
            d = p["improvement_difference"]
            prim_text = (f"{p['scale_name']}: voicers improved {_fmt(abs(d))} points "
                         f"{'more' if d >= 0 else 'less'} ({round(100 * confidence)}% CI "
                         f"{_fmt(p['improvement_ci_low'], 1, True)} to "
                         f"{_fmt(p['improvement_ci_high'], 1, True)}; n = "
                         f"{p['n_voiced_completers']} vs {p['n_not_voiced_completers']}).")
        n_int, n_v = int(p["n_interviewed"]), int(p["n_voiced"])
        pct = 100 * n_v / n_int if n_int else math.nan
        finding = (f"Voiced by {n_v} of {n_int} interviewed participants ({_fmt(pct, 0)}%)."
                   if n_v == 0 or n_v >= k else
                   f"Voiced by fewer than {k} of {n_int} interviewed participants.")
        rows.append({
            "theme": t, "theme_label": c["theme_label"].iloc[0], "n_interviewed": n_int,
            "n_voiced": n_v, "pct_voiced": pct,
            "qualitative_finding": finding,
            "quotes": quote_of.get(t, []), "n_covering_items": len(measured),
            "quantitative_result": quant, "primary_result": prim_text,
            "fit": fits.at[t, "fit"], "fit_rule": fits.at[t, "fit_rule"],
            "meta_inference": meta.get(t, NOT_WRITTEN), "meta_inference_written": t in meta})
    return pd.DataFrame(rows)


def write_meta_inference_template(study, path, crosswalk=None, themes=None,
                                  overwrite: bool = False, **side_by_side_options) -> Path:
    """Write an editable ``meta_inferences.yaml`` with one empty entry per theme.

    Each entry carries, as YAML comments, the theme's qualitative finding, quantitative
    result and fit so the analyst can write the meta-inference beside them. The texts are
    left empty: nothing is written on the analyst's behalf.

    Parameters
    ----------
    study : Study
    path : str or Path
        Where to write. An existing file is never replaced unless ``overwrite=True`` (it holds
        the analyst's work).
    crosswalk, themes
        As for :func:`side_by_side`.
    overwrite : bool
    **side_by_side_options
        Passed to :func:`side_by_side` (``primary``, ``coder``, ``confidence``, ...).

    Returns
    -------
    Path
        The file written (atomically: a temporary file in the same folder, then renamed).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from spanalysis.study import load_study
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "meta_inferences.yaml"
    >>> _ = write_meta_inference_template(load_study("data/demo"), out)
    >>> read_meta_inferences(out)
    {}
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise InputError("the meta-inferences file already exists and holds the analyst's "
                         "text", file=path.name, value=str(path),
                         expected="a new path, or overwrite=True")
    sbs = side_by_side(study, None, crosswalk=crosswalk, themes=themes,
                       quotes=0, **side_by_side_options)

    def comment(text: str) -> str:
        return " ".join(str(text).split())

    lines = ["# Meta-inferences: the analyst's conclusions drawing on both strands, one per",
             "# theme (spanalysis.integrate.side_by_side; format in docs/integration.md).",
             "# Write under 'text:'; an empty text shows as "
             f"'{NOT_WRITTEN}'.",
             "# The comments are the data at the time this template was made.",
             yaml.safe_dump({"study": str(study.manifest.name)}, allow_unicode=True,
                            width=10_000).rstrip(),
             "meta_inferences:"]
    for _, r in sbs.iterrows():
        key = yaml.safe_dump(str(r["theme"]), allow_unicode=True).splitlines()[0]
        lines += [f"  {key}:",
                  f"    # {comment(r['theme_label'])}",
                  f"    # qualitative: {comment(r['qualitative_finding'])}",
                  f"    # quantitative: {comment(r['quantitative_result'])}",
                  f"    # primary scale: {comment(r['primary_result'])}",
                  f"    # fit from the data: {r['fit']} ({comment(r['fit_rule'])})",
                  '    text: ""']
    with atomic_write(path) as handle:
        handle.write("\n".join(lines) + "\n")
    return path


# ============================================================================================
# quotes
# ============================================================================================
def _theme_segments(study, themes, coder) -> pd.DataFrame:
    """Interview segments of ``themes``: ``participant_id, site, theme, segment_id,
    source_id, start, end, coder, text, sensitive``."""
    q = _qualitative(study)
    src = q.sources[(q.sources["source_type"] == "interview") & q.sources["participant_id"].notna()]
    seg = q.segments.merge(src[["source_id", "participant_id"]], on="source_id")
    cb = q.codebook
    flag = cb["sensitive"].astype(object).where(cb["sensitive"].notna(), False).astype(bool)
    sensitive_codes = set(cb.loc[flag, "id"].astype(str))
    flagged = seg[seg["code_id"].isin(sensitive_codes)][["source_id", "start", "end"]]
    if coder is not None:
        seg = seg[seg["coder"] == coder]
    seg = seg[seg["code_id"].isin(list(themes))].copy()
    seg["participant_id"] = seg["participant_id"].astype(str)
    # sensitive: overlaps (same source, any coder) a segment coded with a sensitive code
    pairs = seg[["segment_id", "source_id", "start", "end"]].merge(
        flagged, on="source_id", suffixes=("", "_s"))
    overlap = (pairs["start"] < pairs["end_s"]) & (pairs["start_s"] < pairs["end"])
    hit = set(pairs.loc[overlap, "segment_id"])
    seg["sensitive"] = seg["segment_id"].isin(hit) | seg["code_id"].isin(sensitive_codes)
    seg["site"] = seg["participant_id"].map(_site_of(study))
    seg = seg.rename(columns={"code_id": "theme"})
    return seg[["participant_id", "site", "theme", "segment_id", "source_id", "start", "end",
                "coder", "text", "sensitive"]]


def _redacted_quotes(study, seg: pd.DataFrame, by: list[str], k: int,
                     distinct: str = "participant_id") -> pd.DataFrame:
    """Up to ``k`` quotes per group, one per ``distinct`` value (participant, or theme),
    non-sensitive first, then by participant id and position (deterministic), texts redacted
    with the study's names. Returns ``by + ['quotes']`` (a list of dicts per group)."""
    names = _qualitative(study).names
    if seg.empty or k <= 0:
        groups = seg[by].drop_duplicates() if len(seg) else pd.DataFrame(columns=by)
        return groups.assign(quotes=[[] for _ in range(len(groups))]).reset_index(drop=True)
    s = seg.sort_values(["sensitive", "participant_id", "source_id", "start", "coder"],
                        kind="stable")
    s = s.drop_duplicates(list(dict.fromkeys(by + [distinct]))) \
         .groupby(by, sort=False).head(k).copy()
    # redact() is a per-text regex pass; it runs on the few selected quotes only
    s["text"] = [redact(str(t), names=names)[0] for t in s["text"]]
    s["quote"] = [{"text": t, "participant_id": p, "site": site, "theme": th,
                   "segment_id": sid, "sensitive": bool(sens)}
                  for t, p, site, th, sid, sens in zip(s["text"], s["participant_id"],
                                                       s["site"], s["theme"],
                                                       s["segment_id"], s["sensitive"])]
    return s.groupby(by, sort=False)["quote"].agg(list).rename("quotes").reset_index()


# ============================================================================================
# 2c. case level: convergent and divergent cases
# ============================================================================================
def _primary_table(study, key, sd, reliability) -> pd.DataFrame:
    """Interviewed participants: ``primary_pre, primary_post, primary_change,
    primary_category`` (NOT_CLASSIFIED when missing), indexed by participant_id."""
    info = study.scale_info
    row = info[(info["instrument"].astype(str) == key[0]) & (info["scale"].astype(str) == key[1])]
    if isinstance(reliability, str) and not np.isfinite(float(row["reliability"].iloc[0])):
        raise InputError("the primary scale has no published reliability, so reliable change "
                         "cannot be judged", column="primary", value="/".join(key),
                         expected="a scale with a published reliability (e.g. wemwbs/total) "
                                  "or reliability=<number>")
    people = pd.Index(sorted(map(str, study.interviewed)), name="participant_id")
    ch = _change_long(study, [key]).set_index("participant_id")
    cats = _categories(study, [key], sd, reliability).set_index("participant_id")
    out = pd.DataFrame(index=people)
    out["primary_pre"] = ch["pre"].reindex(people)
    out["primary_post"] = ch["post"].reindex(people)
    out["primary_change"] = ch["change"].reindex(people)
    cat = cats["category"].reindex(people).astype(object)
    out["primary_category"] = cat.where(cat.notna(), NOT_CLASSIFIED)
    return out


def classify_cases(cases: pd.DataFrame) -> pd.DataFrame:
    """Classify participants as convergent or divergent by the documented rules.

    Parameters
    ----------
    cases : DataFrame
        With ``n_benefit_themes`` (benefit themes the participant voiced) and
        ``primary_category`` (reliable-change category on the primary scale; anything else,
        e.g. missing or 'not classified', means no category).

    Returns
    -------
    DataFrame
        A copy with ``classification`` ('convergent', 'divergent', 'not classified'),
        ``divergence`` ('positive': benefits voiced without measured improvement; 'negative':
        measured improvement without benefits voiced; missing otherwise) and ``reason``.

    Notes
    -----
    With B = number of benefit themes voiced and C = the primary category:

    * not classified: C missing (no follow-up score, or no reliability for the scale);
    * divergent, positive: C is 'no reliable change' or 'reliable deterioration' and
      B >= :data:`DIVERGENT_POSITIVE_MIN_THEMES` (2), or C is 'reliable deterioration' and
      B >= :data:`DIVERGENT_DETERIORATION_MIN_THEMES` (1);
    * divergent, negative: C is 'reliable improvement' and
      B <= :data:`DIVERGENT_NEGATIVE_MAX_THEMES` (0);
    * convergent: every other case (reliable improvement with a benefit voiced; no reliable
      change with at most one benefit; reliable deterioration with none).

    Examples
    --------
    >>> cases = pd.DataFrame({"n_benefit_themes": [3, 0, 1],
    ...     "primary_category": ["no reliable change", "reliable improvement",
    ...                          "reliable improvement"]})
    >>> classify_cases(cases)[["classification", "divergence"]].values.tolist()
    [['divergent', 'positive'], ['divergent', 'negative'], ['convergent', None]]
    """
    out = cases.copy()
    n = pd.to_numeric(out["n_benefit_themes"], errors="coerce").fillna(0).to_numpy(float)
    cat = out["primary_category"].astype(object).to_numpy()
    imp = cat == CHANGE_GROUPS[0]
    same = cat == CHANGE_GROUPS[1]
    det = cat == CHANGE_GROUPS[2]
    known = imp | same | det
    pos_same = same & (n >= DIVERGENT_POSITIVE_MIN_THEMES)
    pos_det = det & ((n >= DIVERGENT_POSITIVE_MIN_THEMES)
                     | (n >= DIVERGENT_DETERIORATION_MIN_THEMES))
    neg = imp & (n <= DIVERGENT_NEGATIVE_MAX_THEMES)
    out["classification"] = np.select([~known, pos_same | pos_det | neg],
                                      ["not classified", "divergent"], "convergent")
    divergence = np.select([pos_same | pos_det, neg], ["positive", "negative"], "")
    out["divergence"] = pd.Series(np.where(divergence == "", None, divergence), dtype=object,
                                  index=out.index)
    out["reason"] = np.select(
        [~known, pos_det, pos_same, neg, imp, same, det],
        ["no reliable-change category on the primary scale (no follow-up score or no "
         "reliability)",
         "reliable deterioration on the primary scale, yet benefit theme(s) voiced",
         f"voiced {DIVERGENT_POSITIVE_MIN_THEMES} or more benefit themes but no reliable "
         "change on the primary scale",
         "reliable improvement on the primary scale but no benefit theme voiced",
         "reliable improvement and benefit theme(s) voiced",
         f"no reliable change and fewer than {DIVERGENT_POSITIVE_MIN_THEMES} benefit themes "
         "voiced",
         "reliable deterioration and no benefit theme voiced"], "")
    return out


def case_level(study, primary=("wemwbs", "total"), benefits=None, coder: str | None = None,
               sd="baseline", reliability="published") -> pd.DataFrame:
    """Case-level joint display: each interviewed participant's reliable change beside the
    themes they voiced, classified convergent or divergent.

    Parameters
    ----------
    study : Study
    primary : scale
        The scale whose reliable change is compared with the themes (default WEMWBS total).
    benefits : list of str, optional
        The benefit themes (default :func:`benefit_themes`).
    coder : str, optional
    sd, reliability
        For :func:`spanalysis.change.reliable_change` (defaults: study baseline SD, published
        reliability).

    Returns
    -------
    DataFrame
        One row per interviewed participant: ``participant_id, site, primary_instrument,
        primary_scale, primary_pre, primary_post, primary_change, primary_category``, the
        reliable-change category of every other scale with a reliability
        (``<instrument>.<scale>_category``), ``theme.<code>`` (0/1) per benefit theme,
        ``n_benefit_themes``, ``benefit_themes`` and ``other_themes`` (codes voiced, joined
        by '; '), then ``classification, divergence, reason`` (:func:`classify_cases`).

    Examples
    --------
    >>> from spanalysis.study import load_study
    >>> cases = case_level(load_study("data/demo"))
    >>> sorted(cases["classification"].unique())
    ['convergent', 'divergent', 'not classified']
    """
    key = _scale_key(study, primary)
    benefits = _check_themes(study, benefits, benefit_themes(study) if benefits is None else [])
    others = [t for t in leaf_themes(study) if t not in benefits]
    binary, _ = _voiced(study, benefits + others, coder)
    out = _primary_table(study, key, sd, reliability)
    out.insert(0, "primary_scale", key[1])
    out.insert(0, "primary_instrument", key[0])
    out.insert(0, "site", out.index.map(_site_of(study)))
    info = study.scale_info
    keys = [k for k in zip(info["instrument"].astype(str), info["scale"].astype(str))
            if k != key]
    cats = _categories(study, keys, sd, reliability)
    if len(cats):
        cats = cats[cats["participant_id"].isin(out.index)]
        wide = cats.assign(name=cats["instrument"] + "." + cats["scale"] + "_category") \
                   .pivot(index="participant_id", columns="name", values="category")
        out = out.join(wide, how="left")
    b = binary.reindex(out.index).fillna(0).astype(int)
    for t in benefits:
        out[f"theme.{t}"] = b[t]
    out["n_benefit_themes"] = b[benefits].sum(axis=1) if benefits else 0
    # joined code lists: a vectorised dot product of the 0/1 matrix with "code; " strings
    out["benefit_themes"] = _joined(b[benefits]) if benefits else ""
    out["other_themes"] = _joined(b[others]) if others else ""
    out = classify_cases(out.rename_axis("participant_id").reset_index())
    return out


def _joined(binary: pd.DataFrame) -> pd.Series:
    text = binary.astype(int).dot(pd.Index(binary.columns) + "; ").astype(str)
    return text.str.rstrip("; ")


def divergent_cases(study, primary=("wemwbs", "total"), benefits=None, quotes: int = 3,
                    coder: str | None = None, sd="baseline",
                    reliability="published") -> pd.DataFrame:
    """The divergent cases of :func:`case_level` with their (redacted) quotes, for follow-up.

    Parameters
    ----------
    study, primary, benefits, coder, sd, reliability
        As for :func:`case_level`.
    quotes : int
        Up to this many quotes per case, one per theme (default 3): the benefit themes they
        voiced for a positive divergence; any coded theme for a negative one (they voiced no
        benefit). Non-sensitive quotes first.

    Returns
    -------
    DataFrame
        The :func:`case_level` rows with ``classification == 'divergent'`` plus ``quotes``
        (list of dicts ``text, participant_id, site, theme, segment_id, sensitive``).

    Examples
    --------
    >>> from spanalysis.study import load_study
    >>> d = divergent_cases(load_study("data/demo"))
    >>> set(d["classification"])
    {'divergent'}
    """
    cases = case_level(study, primary=primary, benefits=benefits, coder=coder, sd=sd,
                       reliability=reliability)
    div = cases[cases["classification"] == "divergent"].reset_index(drop=True)
    benefit_list = [c[len("theme."):] for c in cases.columns if c.startswith("theme.")]
    seg = _theme_segments(study, leaf_themes(study), coder)
    seg = seg.merge(div[["participant_id", "divergence"]], on="participant_id")
    keep = (seg["divergence"] == "negative") | seg["theme"].isin(benefit_list)
    q = _redacted_quotes(study, seg[keep].drop(columns="divergence"), ["participant_id"],
                         quotes, distinct="theme")
    div["quotes"] = div["participant_id"].map(dict(zip(q["participant_id"], q["quotes"])))
    div["quotes"] = [v if isinstance(v, list) else [] for v in div["quotes"]]
    return div


# ============================================================================================
# 2e. configuration table
# ============================================================================================
def configuration_table(study, themes=None, primary=("wemwbs", "total"),
                        coder: str | None = None, confidence: float = 0.95,
                        min_cell_size: int | None = None) -> pd.DataFrame:
    """Which combinations of themes occur among interviewed participants, and the change on
    the primary scale associated with each.

    Parameters
    ----------
    study : Study
    themes : list of str, optional
        Default: the benefit themes.
    primary : scale
        Default WEMWBS total.
    coder, confidence, min_cell_size
        As for :func:`statistics_by_themes`.

    Returns
    -------
    DataFrame
        One row per configuration that occurs, most frequent first: ``configuration``
        (codes joined by ' + ', '(none)' when no theme was voiced), ``n_themes``,
        ``theme.<code>`` (0/1), ``n`` (interviewed participants), ``n_completers`` (with a
        change score on the primary scale), ``mean_change, change_sd, ci_low, ci_high``
        (t interval) and ``improvement_mean`` (signed so positive = better), ``direction``,
        ``small_group`` (``n_completers < min_cell_size``: statistics withheld).

    Notes
    -----
    The configuration table of MAXQDA's mixed-methods tools, with measured change added.
    Configurations are exact: "hope + space_to_think" is not counted under "hope".

    Examples
    --------
    >>> from spanalysis.study import load_study
    >>> t = configuration_table(load_study("data/demo"))
    >>> int(t["n"].sum())
    60
    """
    confidence = change.check_confidence(confidence)
    k = _min_cell(study, min_cell_size)
    key = _scale_key(study, primary)
    themes = _check_themes(study, themes, benefit_themes(study) if themes is None else [])
    binary, _ = _voiced(study, themes, coder)
    conf = binary[themes].astype(int)
    config = (conf.dot(pd.Index(themes) + " + ").astype(str).str.rstrip(" + ")
              .replace("", "(none)"))
    ch = _change_long(study, [key]).set_index("participant_id")["change"]
    data = conf.assign(configuration=config, change=ch.reindex(conf.index))
    g = data.groupby("configuration", sort=False)
    out = g[themes].first()
    out.columns = [f"theme.{t}" for t in themes]
    out.insert(0, "n_themes", out.sum(axis=1).astype(int))
    out["n"] = g.size()
    agg = g["change"].agg(["count", "mean", "std"])
    n = agg["count"].to_numpy(float)
    out["n_completers"] = agg["count"].astype(int)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.where(n >= 2, agg["std"].to_numpy() / np.sqrt(n), np.nan)
        tc = stats.t.ppf(1 - (1 - confidence) / 2, np.where(n >= 2, n - 1, np.nan))
    out["mean_change"] = agg["mean"]
    out["change_sd"] = agg["std"]
    out["ci_low"] = agg["mean"] - tc * se
    out["ci_high"] = agg["mean"] + tc * se
    direction = _direction(study, key)
    out["improvement_mean"] = out["mean_change"] * _sign([direction])[0]
    out["direction"] = direction
    small = out["n_completers"] < k
    out.loc[small, ["mean_change", "change_sd", "ci_low", "ci_high", "improvement_mean"]] = np.nan
    out["small_group"] = small
    out = out.reset_index().sort_values(["n", "configuration"], ascending=[False, True],
                                        kind="stable")
    return out.reset_index(drop=True)


# ============================================================================================
# 2f. quote matrix
# ============================================================================================
def _change_groups(study, key, sd, reliability) -> pd.Series:
    """Change group (primary category or NOT_CLASSIFIED) per interviewed participant."""
    return _primary_table(study, key, sd, reliability)["primary_category"]


def quote_matrix(study, primary=("wemwbs", "total"), themes=None, quotes: int = 2,
                 coder: str | None = None, min_cell_size: int | None = None, sd="baseline",
                 reliability="published") -> pd.DataFrame:
    """Themes x change group with redacted quotes in the cells.

    Parameters
    ----------
    study : Study
    primary : scale
        The change groups are the reliable-change categories on this scale (default WEMWBS
        total), plus 'not classified' for interviewed people without one.
    themes : list of str, optional
        Default: the benefit themes.
    quotes : int
        Up to this many quotes per cell, one per participant (default 2).
    coder, min_cell_size, sd, reliability
        As for :func:`case_level` and :func:`statistics_by_themes`.

    Returns
    -------
    DataFrame
        One row per theme and change group (every combination, empty cells included):
        ``theme, theme_label, change_group`` (ordered categorical: reliable improvement, no
        reliable change, reliable deterioration, not classified), ``n_group`` (interviewed in
        the group), ``n_voiced`` (of them, voicers of the theme), ``pct_voiced``,
        ``quotes`` (list of dicts ``text, participant_id, site, theme, segment_id,
        sensitive``), ``small_group`` (``n_voiced`` below ``min_cell_size``: the count may
        need suppression and the quotes care before showing).

    Examples
    --------
    >>> from spanalysis.study import load_study
    >>> m = quote_matrix(load_study("data/demo"), themes=["space_to_think"])
    >>> m[["change_group", "n_voiced"]].values.tolist()[:2]
    [['reliable improvement', 0], ['no reliable change', 18]]
    """
    k = _min_cell(study, min_cell_size)
    key = _scale_key(study, primary)
    themes = _check_themes(study, themes, benefit_themes(study) if themes is None else [])
    groups = _change_groups(study, key, sd, reliability)
    binary, _ = _voiced(study, themes, coder)
    levels = list(CHANGE_GROUPS) + [NOT_CLASSIFIED]
    gcat = pd.Categorical(groups.reindex(binary.index), categories=levels, ordered=True)
    n_group = pd.Series(gcat).value_counts().reindex(levels, fill_value=0)
    voiced = binary.groupby(gcat, observed=False).sum().reindex(levels, fill_value=0)
    out = voiced.rename_axis("change_group").reset_index().melt(
        id_vars="change_group", var_name="theme", value_name="n_voiced")
    out["n_group"] = out["change_group"].map(n_group).astype(int)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["pct_voiced"] = 100 * out["n_voiced"] / out["n_group"].replace(0, np.nan)
    seg = _theme_segments(study, themes, coder)
    seg["change_group"] = seg["participant_id"].map(groups)
    q = _redacted_quotes(study, seg, ["theme", "change_group"], quotes)
    quote_of = {(t, g): v for t, g, v in zip(q["theme"], q["change_group"], q["quotes"])}
    out["quotes"] = [quote_of.get((t, g), []) for t, g in zip(out["theme"], out["change_group"])]
    out["small_group"] = out["n_voiced"] < k
    out["theme_label"] = out["theme"].map(_labels(study))
    out["change_group"] = pd.Categorical(out["change_group"], categories=levels, ordered=True)
    order = {t: i for i, t in enumerate(themes)}
    out = out.sort_values(["theme", "change_group"], key=lambda s: s.map(order)
                          if s.name == "theme" else s, kind="stable")
    return out[["theme", "theme_label", "change_group", "n_group", "n_voiced", "pct_voiced",
                "quotes", "small_group"]].reset_index(drop=True)


# ============================================================================================
# 2g. prevalence by group and heatmap
# ============================================================================================
def theme_prevalence(study, by: str = "site", themes=None, primary=("wemwbs", "total"),
                     coder: str | None = None, min_cell_size: int | None = None,
                     sd="baseline", reliability="published") -> pd.DataFrame:
    """Percent of the interviewed participants in each group who voiced each theme.

    Parameters
    ----------
    study : Study
    by : str
        'site', 'change_group' (reliable-change category on ``primary``, plus 'not
        classified') or any other participants column (e.g. 'age_band').
    themes : list of str, optional
        Default: every leaf code of the codebook.
    primary, sd, reliability
        For ``by='change_group'``.
    coder, min_cell_size
        As for :func:`statistics_by_themes`.

    Returns
    -------
    DataFrame
        One row per group and theme: ``<by>, theme, theme_label, n_group`` (interviewed
        participants in the group), ``n_voiced, pct_voiced`` (withheld, missing, when the
        group is smaller than ``min_cell_size``), ``small_group``.

    Notes
    -----
    Normalising by group size (percent of the group's interviewed participants, counting
    each participant once however often they voiced the theme) is what ATLAS.ti's
    code-document tables and Dedoose's normalised charts do; raw counts would mostly reflect
    how many people were interviewed in each group.

    Examples
    --------
    >>> from spanalysis.study import load_study
    >>> p = theme_prevalence(load_study("data/demo"), by="site", themes=["hope"])
    >>> int(p["n_group"].sum())
    60
    """
    k = _min_cell(study, min_cell_size)
    themes = _check_themes(study, themes, leaf_themes(study))
    binary, _ = _voiced(study, themes, coder)
    if by == "change_group":
        groups = _change_groups(study, _scale_key(study, primary), sd, reliability)
        levels = list(CHANGE_GROUPS) + [NOT_CLASSIFIED]
        g = pd.Categorical(groups.reindex(binary.index), categories=levels, ordered=True)
    else:
        people = study.participants
        if by not in people.columns or by == "participant_id":
            raise InputError("unknown grouping column", column="by", value=by,
                             expected="'site', 'change_group' or a participants column")
        col = people.set_index(people["participant_id"].astype(str))[by]
        values = col.reindex(binary.index)
        if isinstance(col.dtype, pd.CategoricalDtype):
            levels = [str(c) for c in col.cat.categories]
        else:
            levels = sorted(map(str, col.dropna().unique()))
        values = values.astype(object).where(values.notna(), "(not recorded)").astype(str)
        if (values == "(not recorded)").any():
            levels.append("(not recorded)")
        g = pd.Categorical(values, categories=levels, ordered=True)
    n_group = pd.Series(g).value_counts().reindex(levels, fill_value=0)
    voiced = binary.groupby(g, observed=False).sum().reindex(levels, fill_value=0)
    out = voiced.rename_axis(by).reset_index().melt(id_vars=by, var_name="theme",
                                                    value_name="n_voiced")
    out["n_group"] = out[by].map(n_group).astype(int)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["pct_voiced"] = 100 * out["n_voiced"] / out["n_group"].replace(0, np.nan)
    small = out["n_group"] < k
    out["n_voiced"] = out["n_voiced"].astype("Int64")
    out.loc[small, "n_voiced"] = pd.NA
    out.loc[small, "pct_voiced"] = np.nan
    out["small_group"] = small
    out["theme_label"] = out["theme"].map(_labels(study))
    out[by] = pd.Categorical(out[by].astype(str), categories=levels, ordered=True)
    order = {t: i for i, t in enumerate(themes)}
    out = out.sort_values([by, "theme"], key=lambda s: s.map(order) if s.name == "theme"
                          else s, kind="stable")
    return out[[by, "theme", "theme_label", "n_group", "n_voiced", "pct_voiced",
                "small_group"]].reset_index(drop=True)


def prevalence_heatmap(study, by: str = "site", themes=None, primary=("wemwbs", "total"),
                       coder: str | None = None, min_cell_size: int | None = None,
                       table: pd.DataFrame | None = None, **prevalence_options):
    """Heatmap of theme prevalence by group, normalised for group size.

    Parameters
    ----------
    study : Study
    by, themes, primary, coder, min_cell_size
        As for :func:`theme_prevalence`.
    table : DataFrame, optional
        A :func:`theme_prevalence` result to draw (computed when not given).
    **prevalence_options
        Passed to :func:`theme_prevalence` (``sd``, ``reliability``).

    Returns
    -------
    matplotlib.figure.Figure
        Themes (rows) by groups (columns), cells = percent of the group's interviewed
        participants who voiced the theme (0-100, annotated). Groups smaller than
        ``min_cell_size`` are masked (blank) and labelled "n < k", and so are cells where from
        1 to k-1 people voiced the theme (the printed group size would give the count away).
        The figure is built without
        pyplot, so it leaves no global state; it displays inline in Jupyter.

    Examples
    --------
    >>> from spanalysis.study import load_study
    >>> fig = prevalence_heatmap(load_study("data/demo"), by="change_group")
    >>> fig.axes[0].get_title().startswith("Themes voiced")
    True
    """
    import seaborn as sns
    from matplotlib.figure import Figure

    k = _min_cell(study, min_cell_size)
    if table is None:
        table = theme_prevalence(study, by=by, themes=themes, primary=primary, coder=coder,
                                 min_cell_size=k, **prevalence_options)
    grid = table.pivot_table(index="theme_label", columns=by, values="pct_voiced",
                             observed=False, sort=False, dropna=False)
    rows = list(dict.fromkeys(table["theme_label"]))
    cols = list(table[by].cat.categories) if isinstance(table[by].dtype, pd.CategoricalDtype) \
        else list(dict.fromkeys(table[by]))
    grid = grid.reindex(index=rows, columns=cols)
    sizes = table.drop_duplicates(by).set_index(by)["n_group"].reindex(cols)
    # A percentage of a group whose size is printed gives away the count behind it, so
    # cells where 1..k-1 people voiced the theme are blank too (disclosure control).
    voiced = table.pivot_table(index="theme_label", columns=by, values="n_voiced",
                               observed=False, sort=False, dropna=False
                               ).reindex(index=rows, columns=cols)
    grid = grid.mask((voiced > 0) & (voiced < k))
    xlabels = [textwrap.fill(str(c), 12) + (f"\n(n = {int(n)})" if n >= k else f"\n(n < {k})")
               for c, n in zip(cols, sizes)]
    fig = Figure(figsize=(max(6.0, 1.2 * len(cols) + 4), max(3.0, 0.45 * len(rows) + 2.5)),
                 layout="constrained")
    ax = fig.subplots()
    sns.heatmap(grid, mask=grid.isna(), annot=True, fmt=".0f", vmin=0, vmax=100,
                cmap="viridis", linewidths=0.5, linecolor="white", ax=ax,
                xticklabels=xlabels, yticklabels=rows,
                cbar_kws={"label": "% of the group's interviewed participants"})
    what = {"site": "site", "change_group": "change group"}.get(by, by.replace("_", " "))
    ax.set_title(f"Themes voiced, by {what}: percent of the interviewed participants in each "
                 f"group\n(blank: fewer than {k} people in the group, or fewer than {k} "
                 "voicing the theme)", fontsize=10)
    ax.set_xlabel(what)
    ax.set_ylabel("theme")
    ax.tick_params(axis="x", labelrotation=0)
    return fig


def check_study(study) -> list[Issue]:
    """Problems in the study's crosswalk and meta-inference files, checked against the loaded
    study (their themes must be in the codebook, their items in the instruments): a list of
    :class:`~spanalysis.errors.Issue`, empty when both are sound or not declared."""
    try:
        if study.crosswalk_path is not None:
            read_crosswalk(study, study.crosswalk_path)
        if study.meta_inferences_path is not None and study.qualitative is not None:
            read_meta_inferences(study.meta_inferences_path,
                                 themes=list(study.qualitative.codebook["id"]))
    except InputError as exc:
        return [exc.issue]
    return []
