"""Data quality and reach: who was referred, who answered, what is missing.

Backs ``notebooks/01_data_quality.ipynb``. Every function takes a :class:`~spanalysis.Study`
and returns a tidy DataFrame of counts; disclosure control is applied when a table is shown
(:mod:`spanalysis.privacy.disclosure`), not here, so analysts can still check totals.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["responded", "counted_interviews", "flow_counts", "flow_by_site", "both_stage",
           "timepoint_label", "reach", "engagement", "item_missingness", "followup_timing",
           "issues_table", "DEMOGRAPHICS"]

#: participant attributes summarised for reach, in display order
DEMOGRAPHICS = ["age_band", "gender", "ethnicity", "imd_quintile"]


def responded(study) -> pd.DataFrame:
    """One row per participant: ``participant_id, site`` and, per time point, whether any
    questionnaire item was answered (``answered_<timepoint>``)."""
    items = [c for c in study.responses.columns
             if c not in ("participant_id", "timepoint", "completed_date")]
    answered = study.responses[items].notna().any(axis=1) if items else \
        pd.Series(False, index=study.responses.index)
    frame = pd.DataFrame({"participant_id": study.responses["participant_id"],
                          "timepoint": study.responses["timepoint"].astype(str),
                          "answered": answered})
    wide = frame[frame["answered"]].pivot_table(index="participant_id", columns="timepoint",
                                                values="answered", aggfunc="any")
    out = study.participants[["participant_id", "site"]].copy()
    for tp in study.timepoints:
        col = wide[tp] if tp in wide.columns else pd.Series(dtype=bool)
        out[f"answered_{tp}"] = out["participant_id"].map(col).fillna(False).astype(bool)
    return out


def timepoint_label(study, timepoint) -> str:
    """A time point as a reader sees it: its ``label:`` in study.yaml, else its id (also for
    an object without :meth:`~spanalysis.study.Study.timepoint_label`)."""
    label = getattr(study, "timepoint_label", None)
    return label(timepoint) if callable(label) else str(timepoint)


def both_stage(study) -> str:
    """The name of the flow stage "answered at the first and the last time point", as
    :func:`flow_counts` names it (with the time points' labels)."""
    return (f"Questionnaire at {timepoint_label(study, study.timepoints[0])} and "
            f"{timepoint_label(study, study.timepoints[-1])}")


def counted_interviews(study) -> set | None:
    """The interviewed participants a flow table counts (``interviewed=`` of
    :func:`flow_counts` and :func:`flow_by_site`): ``study.interviewed``, or None when the
    study has no qualitative material, so that its tables have no "Interviewed" row of zeros.
    Every report passes the same, so the whole-study table by site and each site's row of it
    have the same stages."""
    return None if getattr(study, "qualitative", None) is None else study.interviewed


def flow_counts(study, interviewed: set | None = None) -> pd.DataFrame:
    """Participant flow: referred, questionnaire at each time point, both (the first and the
    last, when there are two or more, named by :func:`both_stage`), interviewed. Stages name
    the time points by their labels in study.yaml.

    Returns columns ``stage, n, percent_of_referred``.
    """
    r = responded(study)
    n = len(r)
    rows = [("Referred", n)]
    for tp in study.timepoints:
        rows.append((f"Questionnaire at {timepoint_label(study, tp)}",
                     int(r[f"answered_{tp}"].sum())))
    if len(study.timepoints) > 1:  # with one time point there is no pair to count
        both = r[[f"answered_{tp}" for tp in (study.timepoints[0], study.timepoints[-1])]
                 ].all(axis=1)
        rows.append((both_stage(study), int(both.sum())))
    if interviewed is not None:
        rows.append(("Interviewed", int(r["participant_id"].isin(interviewed).sum())))
    out = pd.DataFrame(rows, columns=["stage", "n"])
    out["percent_of_referred"] = 100 * out["n"] / n if n else np.nan
    return out


def flow_by_site(study, interviewed: set | None = None) -> pd.DataFrame:
    """Flow counts by site (rows: sites in manifest order; columns: stages, naming the time
    points by their labels)."""
    r = responded(study)
    base, final = study.timepoints[0], study.timepoints[-1]
    r["referred"] = True
    r["both"] = r[f"answered_{base}"] & r[f"answered_{final}"]
    cols = {"referred": "Referred"}
    for tp in study.timepoints:
        cols[f"answered_{tp}"] = f"At {timepoint_label(study, tp)}"
    if len(study.timepoints) > 1:
        cols["both"] = f"At {timepoint_label(study, base)} and {timepoint_label(study, final)}"
    if interviewed is not None:
        r["interviewed"] = r["participant_id"].isin(interviewed)
        cols["interviewed"] = "Interviewed"
    table = r.groupby("site", observed=False)[list(cols)].sum().astype(int)
    table = table.rename(columns=cols)
    table.index.name = "site"
    return table


def reach(study, attributes: list[str] | None = None) -> pd.DataFrame:
    """Who was referred: counts and percentages for each attribute value.

    Returns columns ``attribute, value, n, percent`` (missing values shown as "Not recorded").
    """
    attributes = [a for a in (attributes or DEMOGRAPHICS) if a in study.participants.columns]
    parts = []
    for attr in attributes:
        values = study.participants[attr].astype("string").fillna("Not recorded")
        counts = values.value_counts().sort_index()
        part = pd.DataFrame({"attribute": attr, "value": counts.index.astype(str),
                             "n": counts.to_numpy()})
        part["percent"] = 100 * part["n"] / part["n"].sum()
        parts.append(part)
    if not parts:
        return pd.DataFrame(columns=["attribute", "value", "n", "percent"])
    return pd.concat(parts, ignore_index=True)


def engagement(study, bands=(0, 1, 2, 4, 7)) -> pd.DataFrame:
    """Sessions attended with the link worker, by site: n, median, quartiles, and counts in
    bands (``0``, ``1``, ``2-3``, ``4-6``, ``7+`` by default)."""
    if "sessions_attended" not in study.participants.columns:
        return pd.DataFrame()
    p = study.participants[["site", "sessions_attended"]].copy()
    p["sessions_attended"] = p["sessions_attended"].astype("float64")
    labels = []
    for lo, hi in zip(bands, list(bands[1:]) + [None]):
        if hi is None:
            labels.append(f"{lo}+")
        elif hi - lo == 1:
            labels.append(str(lo))
        else:
            labels.append(f"{lo}-{hi - 1}")
    p["band"] = pd.cut(p["sessions_attended"], bins=list(bands) + [np.inf], right=False,
                       labels=labels)
    summary = p.groupby("site", observed=False)["sessions_attended"].agg(
        n="count", median="median", q1=lambda s: s.quantile(0.25),
        q3=lambda s: s.quantile(0.75))
    counts = pd.crosstab(p["site"], p["band"]).reindex(columns=labels, fill_value=0)
    counts.columns = [f"sessions {c}" for c in counts.columns]
    out = summary.join(counts)
    out["n"] = out["n"].astype(int)
    return out


def item_missingness(study) -> pd.DataFrame:
    """Missing items per instrument and time point among people who answered any item.

    Returns ``instrument, timepoint, respondents, items, percent_items_missing,
    respondents_with_missing, percent_respondents_with_missing``. Items derived from other
    instruments (SWEMWBS from WEMWBS) are not counted twice.
    """
    info = study.item_info
    rows = []
    for instrument, group in info.groupby("instrument", sort=False):
        items = [i for i in group["item"] if i in study.responses.columns]
        if not items:
            continue
        block = study.responses[["timepoint"] + items]
        answered_any = block[items].notna().any(axis=1)
        for tp in study.timepoints:
            sub = block.loc[(block["timepoint"] == tp) & answered_any, items]
            respondents = len(sub)
            missing = sub.isna()
            rows.append({
                "instrument": instrument, "timepoint": tp, "respondents": respondents,
                "items": len(items),
                "percent_items_missing": 100 * missing.to_numpy().mean() if respondents else np.nan,
                "respondents_with_missing": int(missing.any(axis=1).sum()),
                "percent_respondents_with_missing":
                    100 * missing.any(axis=1).mean() if respondents else np.nan,
            })
    return pd.DataFrame(rows)


def followup_timing(study) -> pd.DataFrame:
    """Days from referral to each time point's questionnaire: n, median, quartiles, range,
    and the manifest's target."""
    dates = study.responses[["participant_id", "timepoint", "completed_date"]].dropna()
    referral = study.participants.set_index("participant_id")["referral_date"]
    dates = dates.assign(days=(dates["completed_date"]
                               - dates["participant_id"].map(referral)).dt.days)
    out = dates.groupby("timepoint", observed=False)["days"].describe()[
        ["count", "min", "25%", "50%", "75%", "max"]]
    out.columns = ["n", "min", "q1", "median", "q3", "max"]
    out["n"] = out["n"].astype(int)
    targets = {t.id: t.target_days for t in study.manifest.timepoints}
    out["target_days"] = [targets.get(tp) for tp in out.index]
    return out


def issues_table(issues) -> pd.DataFrame:
    """Validation findings as a table (level, file, row, column, value, expected, message);
    ``row`` is a whole number, blank for a finding about a whole file or column (a float
    column would print row 7 as "7.00")."""
    cols = ["level", "file", "row", "column", "value", "expected", "message"]
    table = pd.DataFrame([i.as_dict() for i in issues], columns=cols)
    table["row"] = pd.to_numeric(table["row"]).astype("Int64")
    return table


def item_missingness_by_item(study) -> pd.DataFrame:
    """Percent of respondents leaving each item blank, per time point.

    Returns a table indexed by ``item`` (in instrument order) with one column per time
    point; respondents are people who answered at least one item of that instrument.
    """
    info = study.item_info
    columns = {}
    for tp in study.timepoints:
        rows = study.responses["timepoint"] == tp
        values = {}
        for instrument, group in info.groupby("instrument", sort=False):
            items = [i for i in group["item"] if i in study.responses.columns]
            if not items:
                continue
            block = study.responses.loc[rows, items]
            block = block[block.notna().any(axis=1)]
            for item in items:
                values[item] = 100 * block[item].isna().mean() if len(block) else np.nan
        columns[tp] = pd.Series(values, dtype="float64")
    table = pd.DataFrame(columns)
    table.index.name = "item"
    return table


def missingness_figure(study, *, max_items: int = 80):
    """Heatmap of the percentage of respondents leaving each item blank, per time point.

    Returns ``(figure, alt_text)``.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    table = item_missingness_by_item(study).head(max_items)
    table.columns = [timepoint_label(study, tp) for tp in table.columns]   # as readers see them
    height = max(3.0, 0.18 * len(table) + 1.2)
    fig, ax = plt.subplots(figsize=(5.5, height))
    sns.heatmap(table, ax=ax, cmap="Blues", vmin=0, vmax=max(5.0, float(np.nanmax(
        table.to_numpy())) if table.size else 5.0), cbar_kws={"label": "% left blank"},
        linewidths=0.3, linecolor="white")
    ax.set_xlabel("Time point")
    ax.set_ylabel("Questionnaire item")
    ax.set_title("Items left blank by respondents")
    ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    worst = table.stack().sort_values(ascending=False).head(3)
    detail = "; ".join(f"{item} at {tp}: {value:.1f}%" for (item, tp), value in worst.items())
    alt = (f"Heatmap of the percentage of respondents who left each of {len(table)} "
           f"questionnaire items blank, at each time point. Highest: {detail}.")
    return fig, alt


def baseline_completer_comparison(study) -> pd.DataFrame:
    """Baseline questionnaire scores of completers against non-completers, per scale.

    A thin wrapper over :func:`spanalysis.change.completer_comparison` restricted to the
    questionnaire scales (service-use counts are not a baseline score).
    """
    from spanalysis.change import completer_comparison

    scores = study.scores[study.scores["instrument"] != "service_use"]
    return completer_comparison(scores, study.participants, study.scale_info,
                                timepoints=study.timepoints, min_cell_size=study.min_cell_size)
