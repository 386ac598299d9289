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
    return meas.drop(columns="p_planned")


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
                                 "improvement_ci_low", "improvement_ci_high", "small_group",
                                 "confidence"]
    return out[columns].reset_index(drop=True)


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
