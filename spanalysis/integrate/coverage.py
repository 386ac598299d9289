"""Measurement coverage: do the questionnaires cover each theme patients describe? Item-level
change of voicers against non-voicers for every item the crosswalk maps to a theme, and the
fit of the two strands per theme.

Fit categories after Fetters, Curry & Creswell (2013); the thresholds of
:func:`classify_fit` are ours and documented in ``docs/integration.md``.

References
----------
Fetters MD, Curry LA, Creswell JW (2013). Achieving integration in mixed methods designs:
    principles and practices. Health Serv Res 48:2134-2156. doi:10.1111/1475-6773.12117
Holm S (1979). A simple sequentially rejective multiple test procedure. Scand J Stat 6:65-70.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from spanalysis import change
from spanalysis.errors import InputError
from spanalysis.integrate.comparison import _COMPARE_COLUMNS, _compare, _holm, _improvement
from spanalysis.integrate.crosswalk import read_crosswalk
from spanalysis.integrate.strands import (
    _check_themes,
    _labels,
    _min_cell,
    _pre_post,
    _voiced,
    benefit_themes,
)

__all__ = ["FITS", "measurement_coverage", "classify_fit"]

#: Fit categories (Fetters et al. 2013) plus "not assessable" (too few people to compare).
FITS = ("confirmation", "expansion", "discordance", "not assessable")


def _theme_list(study, themes, cw) -> list[str]:
    """The themes given (checked), else the benefit themes and every theme of the crosswalk."""
    if themes is not None:
        return _check_themes(study, themes, [])
    try:
        base = benefit_themes(study)
    except InputError:
        base = []
    return list(dict.fromkeys(base + cw["theme"].tolist()))


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


def _measured(study, measured: pd.DataFrame, binary: pd.DataFrame, confidence: float,
              k: int) -> pd.DataFrame:
    """The comparison rows of every (theme, collected covering item) pair in ``measured``."""
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
    meas["p_holm"] = _holm(meas, None)
    meas = _adjusted_intervals(meas, study, confidence)
    return meas.drop(columns="p_planned")


def _primary_items(study) -> set[str]:
    """The items scored by the study's primary outcome (``primary_outcome:``)."""
    from spanalysis.change import outcomes

    inst_id, scale_id = outcomes.primary_outcome(study)
    inst = study.instruments.get(inst_id)
    if inst is None:
        return set()
    try:
        return set(inst.scale(scale_id).items)
    except (KeyError, ValueError, InputError):
        return set()


def _adjusted_intervals(meas: pd.DataFrame, study, confidence: float) -> pd.DataFrame:
    """The outcome hierarchy applied to the joint display (issue 23: 7): the items of the
    primary outcome keep their interval (tested alone); the items of the m secondary
    outcomes get the Bonferroni interval at 1 - (1 - confidence) / m (m from
    :func:`spanalysis.change.outcomes.secondary_family_size`, each outcome once). Adds
    ``outcome_role, fit_level, fit_interval, improvement_ci_low_adj,
    improvement_ci_high_adj`` in place."""
    from spanalysis.change import outcomes

    primary_items = _primary_items(study)
    role = np.array(["primary" if str(i) in primary_items else "secondary"
                     for i in meas["item"]], dtype=object)
    m = max(outcomes.secondary_family_size(study), 1) if (role == "secondary").any() else 1
    level = np.where(role == "primary", confidence, 1 - (1 - confidence) / m)
    df = pd.to_numeric(meas["df"], errors="coerce").to_numpy(float)
    lo = pd.to_numeric(meas["improvement_ci_low"], errors="coerce").to_numpy(float)
    hi = pd.to_numeric(meas["improvement_ci_high"], errors="coerce").to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = stats.t.ppf(1 - (1 - confidence) / 2, df)
        q_adj = stats.t.ppf(1 - (1 - level) / 2, df)
        half = (hi - lo) / 2 * q_adj / q
    mid = (lo + hi) / 2
    meas["outcome_role"] = role
    meas["fit_level"] = level
    meas["fit_interval"] = [FIT_INTERVAL_WORDS["primary"].format(level=_pct(confidence))
                            if r == "primary" else
                            FIT_INTERVAL_WORDS["secondary"].format(level=_pct(lv), m=m,
                                                                  s="s" if m != 1 else "")
                            for r, lv in zip(role, level)]
    meas["improvement_ci_low_adj"] = mid - half
    meas["improvement_ci_high_adj"] = mid + half
    return meas


def _pct(level: float) -> str:
    """A confidence level in words: 0.95 -> '95%', 1 - 0.05/12 -> '99.6%'."""
    text = f"{100 * level:.1f}".rstrip("0").rstrip(".")
    return text + "%"


#: which interval the fit of a covering item used, in words (``fit_interval``)
FIT_INTERVAL_WORDS = {
    "primary": "{level}, unadjusted: the primary outcome, tested alone",
    "secondary": "{level}, Bonferroni-adjusted for {m} secondary outcome{s}"}


def _not_measured(themes: list[str], cw: pd.DataFrame, labels: dict) -> pd.DataFrame:
    """One 'not measured' row per theme in ``themes``, its note saying why."""
    nm = []
    for t in themes:
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
    return pd.DataFrame(nm)


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
        improvement_ci_high``), ``p_holm`` (Holm over every item test in the table), the
        outcome hierarchy's interval that :func:`classify_fit` judges the fit on (issue 23:
        7): ``outcome_role`` ('primary' for an item of the study's primary outcome,
        ``primary_outcome:``, else 'secondary'), ``fit_level`` (the confidence for the
        primary outcome's items, tested alone; 1 - (1 - confidence) / m for the items of the
        m secondary outcomes, :func:`spanalysis.change.outcomes.secondary_family_size`),
        ``fit_interval`` (the same in words), ``improvement_ci_low_adj,
        improvement_ci_high_adj`` (improvement difference +/- t(1 - (1 - fit_level) / 2,
        Welch df) SE: the Bonferroni interval for a secondary outcome, the unadjusted one for
        the primary), ``small_group`` (missing on 'not measured' rows), ``confidence``.
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
    themes = _theme_list(study, themes, cw)
    binary, _ = _voiced(study, themes, coder)
    measured = cw[cw["theme"].isin(themes) & cw["collected"]]
    rows = [_measured(study, measured, binary, confidence, k)]
    not_measured = [t for t in themes if t not in set(measured["theme"])]
    if not_measured:
        rows.append(_not_measured(not_measured, cw, labels))
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
                                 "improvement_ci_low", "improvement_ci_high", "outcome_role",
                                 "fit_level", "fit_interval", "improvement_ci_low_adj",
                                 "improvement_ci_high_adj", "small_group", "confidence"]
    return out[columns].reset_index(drop=True)


def classify_fit(coverage: pd.DataFrame, interval: str = "adjusted") -> pd.DataFrame:
    """The fit of the two strands for each theme, by the documented rules.

    Parameters
    ----------
    coverage : DataFrame
        Rows as :func:`measurement_coverage` returns: ``theme, coverage, small_group`` and
        the interval columns chosen by ``interval`` are used.
    interval : {'adjusted', 'unadjusted'}
        'adjusted' (default; issue 23: 7): ``improvement_ci_low_adj,
        improvement_ci_high_adj``, the outcome hierarchy's intervals (an item of the primary
        outcome: its own interval, tested alone; an item of a secondary outcome: the
        Bonferroni interval at 1 - alpha / m over the m secondary outcomes). 'unadjusted':
        ``improvement_ci_low, improvement_ci_high`` at the chosen confidence.

    Returns
    -------
    DataFrame
        ``theme, fit, fit_rule, fit_interval`` (one row per theme, in order of first
        appearance; ``fit_interval`` says which intervals the fit was judged on).

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
       direction-aware interval wholly above 0 (lower limit > 0), and on no item did they
       improve less with the interval wholly below 0.
    4. **discordance**: otherwise: the theme is measured and assessable, but no covering item
       shows voicers improving more (all intervals include 0), or some show them improving
       less (upper limit < 0).

    Holm's step-down procedure has no simultaneous intervals of its own; the Bonferroni
    intervals at 1 - alpha / m are the usual compatible choice, those of Holm's first step
    and conservative for the later ones (Strassburger & Bretz 2008, Stat Med 27:4914;
    Dmitrienko & Bretz in Dmitrienko, Tamhane & Bretz 2010, Multiple Testing Problems in
    Pharmaceutical Statistics, ch. 2).

    Examples
    --------
    >>> cov = pd.DataFrame({"theme": ["a", "b", "c"],
    ...     "coverage": ["measured", "measured", "not measured"],
    ...     "small_group": [False, False, None],
    ...     "improvement_ci_low": [0.2, -0.3, None], "improvement_ci_high": [0.9, 0.4, None],
    ...     "improvement_ci_low_adj": [-0.1, -0.5, None],
    ...     "improvement_ci_high_adj": [1.2, 0.6, None]})
    >>> classify_fit(cov, interval="unadjusted")["fit"].tolist()
    ['confirmation', 'discordance', 'expansion']
    >>> classify_fit(cov)["fit"].tolist()
    ['discordance', 'discordance', 'expansion']
    """
    if interval not in _FIT_COLUMNS:
        raise InputError("unknown interval for the fit", column="interval", value=interval,
                         expected="'adjusted' or 'unadjusted'")
    low_col, high_col = _FIT_COLUMNS[interval]
    for col in (low_col, high_col):
        if col not in coverage.columns:
            raise InputError("the coverage table lacks the interval the fit is judged on",
                             column=col, value=interval,
                             expected="a table from measurement_coverage, or "
                                      "interval='unadjusted'")
    c = coverage.copy()
    measured = (c["coverage"] == "measured").to_numpy()
    small = c["small_group"].astype("boolean").fillna(True).to_numpy(bool)
    lo = pd.to_numeric(c[low_col], errors="coerce").to_numpy(float)
    hi = pd.to_numeric(c[high_col], errors="coerce").to_numpy(float)
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
    which = "adjusted interval" if interval == "adjusted" else "interval"
    rule = np.select(
        [~g["_measured"], ~g["_assessable"], g["_confirms"] & ~g["_contradicts"],
         g["_confirms"] & g["_contradicts"], g["_contradicts"]],
        ["no questionnaire item covers this theme",
         "too few people in a compared group on every covering item",
         f"voicers improved more on a covering item ({which} excludes 0)",
         "covering items disagree: voicers improved more on one and less on another",
         f"voicers improved less on a covering item ({which} excludes 0)"],
        f"no covering item shows voicers improving more (every {which} includes 0)")
    return pd.DataFrame({"theme": g.index, "fit": fit, "fit_rule": rule,
                         "fit_interval": _interval_words(c, g.index, interval)})


_FIT_COLUMNS = {"adjusted": ("improvement_ci_low_adj", "improvement_ci_high_adj"),
                "unadjusted": ("improvement_ci_low", "improvement_ci_high")}


def _interval_words(c: pd.DataFrame, themes, interval: str) -> list[str]:
    """Per theme: the intervals its covering items' fit was judged on, in words."""
    if interval == "unadjusted" or "fit_interval" not in c.columns:
        return ["unadjusted intervals" if interval == "unadjusted" else
                "adjusted intervals"] * len(themes)
    words = (c[c["_measured"]].groupby("theme", sort=False)["fit_interval"]
             .agg(lambda v: "; ".join(dict.fromkeys(map(str, v.dropna())))))
    return [words.get(t, "") for t in themes]
