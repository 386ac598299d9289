"""Quantitized themes beside measured change: the participant table (one row per person)
and the statistics-by-themes joint display (change of voicers against non-voicers, per theme
and scale).

References
----------
Sandelowski M, Voils CI, Knafl G (2009). On quantitizing. J Mix Methods Res 3:208-222.
Guetterman TC, Fetters MD, Creswell JW (2015). Integrating quantitative and qualitative results
    in health science mixed methods research through joint displays. Ann Fam Med 13:554-561.
    doi:10.1370/afm.1865
"""
from __future__ import annotations

import pandas as pd

from spanalysis import change
from spanalysis.change.family import family_size, scale_outcomes
from spanalysis.errors import InputError
from spanalysis.integrate.comparison import _COMPARE_COLUMNS, _compare, _holm, _improvement
from spanalysis.integrate.strands import (
    _KEYS,
    _categories,
    _change_long,
    _check_themes,
    _default_scales,
    _labels,
    _min_cell,
    scale_key,
    _voiced,
    leaf_themes,
)

__all__ = ["participant_table", "statistics_by_themes"]


# ============================================================================================
# participant table
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
# statistics by themes
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
        Either way each planned test counts, shown or withheld for small groups, and each
        distinct outcome once (SWEMWBS derived from the WEMWBS items is WEMWBS's outcome;
        :mod:`spanalysis.change.family`).

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
        difference_ci_high``, ``t, df, p`` (Welch), ``p_holm``, ``hedges_g`` and
        ``improvement_difference, improvement_ci_low, improvement_ci_high`` (both signed so
        that positive = voicers improved more, following ``direction``),
        ``small_group`` (either group below ``min_cell_size``: statistics withheld),
        ``holm_family_size`` (how many tests the row's Holm family counts), ``confidence``.

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
    keys = ([scale_key(study, s) for s in scales] if scales is not None
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
    scale_keys = list(zip(out["instrument"], out["scale"]))
    outcomes = scale_outcomes(study.instruments, scale_keys)
    themes_col = out["theme"].tolist()
    labels, own = list(zip(themes_col, outcomes)), list(zip(themes_col, scale_keys))
    out["p_holm"] = _holm(out, None if family == "table" else _KEYS, outcomes=labels,
                          keys=own)
    groups = (out.groupby(_KEYS, sort=False).indices.values() if family == "scale"
              else [range(len(out))])
    out["holm_family_size"] = 0
    for rows in groups:
        rows = list(rows)
        out.loc[out.index[rows], "holm_family_size"] = family_size(
            out["p_planned"].to_numpy()[rows], [labels[i] for i in rows],
            [own[i] for i in rows])
    out = out.drop(columns="p_planned")
    out["confidence"] = confidence
    columns = ["theme", "theme_label", "instrument", "scale", "scale_name", "direction",
               "n_interviewed", "n_voiced", "pct_voiced"] + _COMPARE_COLUMNS[:-1] + [
        "p_holm", "hedges_g", "improvement_difference", "improvement_ci_low",
        "improvement_ci_high", "small_group", "holm_family_size", "confidence"]
    return out[columns]
