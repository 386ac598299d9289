"""Case-level joint displays: each interviewed participant's reliable change beside the
themes they voiced, classified convergent or divergent (rules below and in
``docs/integration.md``, "Convergent and divergent cases"); the divergent cases with their
quotes; the configurations of themes that occur, with change on the primary scale; and the
quote matrix (themes x change group).

References
----------
Guetterman TC, Fetters MD, Creswell JW (2015). Ann Fam Med 13:554-561 (joint displays).
Jacobson NS, Truax P (1991). J Consult Clin Psychol 59:12-19 (reliable change).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from spanalysis import change
from spanalysis.errors import InputError
from spanalysis.integrate.quotes import _redacted_quotes, _theme_segments
from spanalysis.integrate.strands import (
    CHANGE_GROUPS,
    NOT_CLASSIFIED,
    _categories,
    _change_long,
    _check_themes,
    _direction,
    _labels,
    _min_cell,
    scale_key,
    _sign,
    _site_of,
    _voiced,
    benefit_themes,
    leaf_themes,
)

__all__ = ["DIVERGENT_POSITIVE_MIN_THEMES", "DIVERGENT_DETERIORATION_MIN_THEMES", "case_level",
           "classify_cases", "divergent_cases", "configuration_table", "quote_matrix"]

# ---- case-level rules (docs/integration.md, "Convergent and divergent cases") -----------
#: Divergent (positive): at least this many benefit themes voiced, yet no reliable
#: improvement on the primary scale.
DIVERGENT_POSITIVE_MIN_THEMES = 2
#: Divergent (positive) also: a reliable deterioration while voicing at least this many
#: benefit themes.
DIVERGENT_DETERIORATION_MIN_THEMES = 1
#: Divergent (negative): a reliable improvement with at most this many benefit themes voiced.
DIVERGENT_NEGATIVE_MAX_THEMES = 0


# ============================================================================================
# case level: convergent and divergent cases
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


def case_level(study, primary=None, benefits=None, coder: str | None = None,
               sd="baseline", reliability="published") -> pd.DataFrame:
    """Case-level joint display: each interviewed participant's reliable change beside the
    themes they voiced, classified convergent or divergent.

    Parameters
    ----------
    study : Study
    primary : scale
        The scale whose reliable change is compared with the themes (default: the study's primary outcome).
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
    key = scale_key(study, primary)
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
    """The codes voiced by each participant, joined by '; '."""
    text = binary.astype(int).dot(pd.Index(binary.columns) + "; ").astype(str)
    return text.str.rstrip("; ")


def divergent_cases(study, primary=None, benefits=None, quotes: int = 3,
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
# configuration table
# ============================================================================================
def configuration_table(study, themes=None, primary=None,
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
        Default: the study's primary outcome.
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
    key = scale_key(study, primary)
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
# quote matrix
# ============================================================================================
def _change_groups(study, key, sd, reliability) -> pd.Series:
    """Change group (primary category or NOT_CLASSIFIED) per interviewed participant."""
    return _primary_table(study, key, sd, reliability)["primary_category"]


def quote_matrix(study, primary=None, themes=None, quotes: int = 2,
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
    key = scale_key(study, primary)
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
