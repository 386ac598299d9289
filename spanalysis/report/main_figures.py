"""The one figure under each report's "Main points" (:mod:`spanalysis.report.main_points`).

Each function returns ``(figure, alt text)`` for :func:`spanalysis.report.display.show_figure`.
The rules of the tables hold: a count the report's table hides is not drawn (its bar is
replaced by the table's text, "<5" or "[c]"), a withheld statistic is labelled "withheld",
and the alt text states the chart's type and every number it shows. Markers differ by shape
as well as colour (WCAG 1.4.1), and a dashed line marks no change.
"""
from __future__ import annotations

import textwrap
import warnings

import numpy as np
import pandas as pd

from spanalysis.privacy import disclosure
from spanalysis.report.display import count_text
from spanalysis.report.main_points import (_why_no_themes, outcome_name, scale_facts,
                                           signed_number, voiced_counts)

__all__ = ["site_against_study_figure", "flow_figure", "themes_figure",
           "theme_difference_figure", "interval_rows", "BLUE", "ORANGE"]

from spanalysis.plotting import PALETTE  # noqa: E402  (Okabe-Ito, the reports' palette)

BLUE, ORANGE = PALETTE["blue"], PALETTE["vermillion"]


def _title(ax, text: str) -> None:
    """The chart's title (its message), wrapped to the figure's width, above the axes."""
    # about 11 characters of 11-point text per inch of figure
    width = max(40, int(ax.figure.get_figwidth() * 11))
    ax.figure.suptitle(textwrap.fill(text, width), x=0.02, ha="left", fontsize=11)


def interval_rows(ax, rows: list[dict], xlabel: str):
    """Horizontal intervals, one row each (``label, mean, low, high``; mean None: withheld,
    shown with the row's ``note``). Squares and diamonds as well as colour tell rows apart."""
    ys = list(range(len(rows)))[::-1]
    for y, r in zip(ys, rows):
        if r.get("mean") is None:
            ax.text(0.02, y, r.get("note", "not shown"), transform=ax.get_yaxis_transform(),
                    va="center", fontsize=9, style="italic", color="0.3")
            continue
        marker, colour = r.get("marker", "s"), r.get("colour", ORANGE)
        ax.errorbar([r["mean"]], [y], xerr=[[r["mean"] - r["low"]], [r["high"] - r["mean"]]],
                    fmt=marker, color=colour, ecolor="0.2", capsize=4, markersize=8)
    ax.axvline(0, color="0.4", linestyle="--", linewidth=1)
    ax.set_yticks(ys, [r["label"] for r in rows])
    ax.set_ylim(-0.7, len(rows) - 0.3)
    # wrapped by matplotlib at drawing time to the figure's edge: the label is centred under
    # the axes, which long site names push to the right, so a width in characters that fits
    # the figure can still run past its right edge
    ax.set_xlabel(xlabel, wrap=True)


def site_against_study_figure(whole, site_name: str, headline: dict, *,
                              confidence: float = 0.95, study_headline: dict | None = None):
    """The site's mean change on the primary outcome beside the whole study's, with their
    intervals: ``(figure, alt text)``. A withheld site change is labelled, not drawn.
    ``study_headline``: the whole study's :func:`spanalysis.change.outcomes.headline` when
    the report has it already."""
    import matplotlib.pyplot as plt

    from spanalysis.change import outcomes

    study_h = (study_headline if study_headline is not None
               else outcomes.headline(whole, confidence))
    instrument, scale = study_h["instrument"], study_h["scale"]
    name = outcome_name(whole, instrument, scale)
    facts = scale_facts(whole, instrument, scale)
    level = f"{round(100 * confidence)}% CI"
    k, rounding = whole.min_cell_size, whole.rounding

    def row(label, h):
        if h.get("change_mean") is None or h.get("withheld"):
            why = ("withheld (its number of people is hidden to protect another site)"
                   if h.get("withheld") else f"withheld (fewer than {k} people)"
                   if h.get("n_pairs") else "not measured")
            return {"label": label, "mean": None, "note": why}
        return {"label": f"{label} ({count_text(h['n_pairs'], k, rounding)} people)",
                "mean": float(h["change_mean"]), "low": float(h["ci_low"]),
                "high": float(h["ci_high"])}

    rows = [row(str(site_name), headline), row("Whole study", study_h)]
    rows[1].update(marker="D", colour=BLUE)
    fig, ax = plt.subplots(figsize=(7, 2.4), layout="constrained")
    better = "higher is better" if facts["direction"] != "lower" else "lower is better"
    interval_rows(ax, rows, f"Mean change, {study_h.get('scale')} score (follow-up minus "
                             f"baseline; {better}), {level}")
    site_row, study_row = rows
    if site_row["mean"] is not None and study_row["mean"] is not None:
        _title(ax, f"{site_name}: mean change {signed_number(site_row['mean'])} points, "
                     f"against {signed_number(study_row['mean'])} across the whole study")
    else:
        _title(ax, f"Change at {site_name} against the whole study")
    parts = []
    for r in rows:
        if r["mean"] is None:
            parts.append(f"{r['label']}: {r['note']}")
        else:
            parts.append(f"{r['label']}: {signed_number(r['mean'])} points ({level} "
                         f"{signed_number(r['low'])} to {signed_number(r['high'])})")
    alt = (f"Interval chart of the mean change on {name} ({better}): " + "; ".join(parts)
           + ". A dashed line marks no change.")
    return fig, alt


def _bars(ax, labels: list[str], values: list, k: int, xlabel: str):
    """Horizontal bars of counts already protected (text); a hidden count gets no bar."""
    ys = list(range(len(labels)))[::-1]
    for y, v in zip(ys, values):
        text = str(v)
        if text.replace(",", "").isdigit():
            n = int(text.replace(",", ""))
            ax.barh(y, n, color=BLUE, height=0.6)
            ax.text(n, y, f" {n:,}", va="center", fontsize=9)
        else:
            ax.text(0, y, f" {text} (not drawn)", va="center", fontsize=9, style="italic",
                    color="0.3")
    ax.set_yticks(ys, labels)
    ax.set_xlabel(textwrap.fill(xlabel, 70))
    ax.spines[["top", "right"]].set_visible(False)


def flow_figure(study, flow: pd.DataFrame):
    """Bars of the people at each stage from referral to follow-up: ``(figure, alt)``;
    counts protected as report 01's flow table (1 to k-1 not drawn)."""
    import matplotlib.pyplot as plt

    from spanalysis.change import quality

    k = study.min_cell_size
    table = flow.set_index("stage")[["n"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", disclosure.DisclosureWarning)
        shown = disclosure.suppress_counts(table, k, totals="none",
                                           rounding=study.rounding)["n"]
    labels = [str(s) for s in table.index]
    fig, ax = plt.subplots(figsize=(7, 0.6 + 0.5 * len(labels)), layout="constrained")
    _bars(ax, labels, list(shown), k, "People")
    both = [i for i, lab in enumerate(labels) if lab == quality.both_stage(study)]
    first, last = str(shown.iloc[0]), str(shown.iloc[both[0]]) if both else ""
    if both and first.replace(",", "").isdigit() and last.replace(",", "").isdigit():
        _title(ax, f"{last} of the {first} people referred answered at both time points")
    else:
        _title(ax, "How many people reached each stage")
    alt = ("Bar chart of the number of people at each stage: "
           + "; ".join(f"{lab}: {count_text(v, k) if not str(v).replace(',', '').isdigit() else v}"
                       for lab, v in zip(labels, shown)) + ".")
    return fig, alt


def themes_figure(study, *, coder=None, top: int = 8):
    """Bars of the people who voiced each theme in interview (the most voiced ``top``),
    protected as report 03's table: ``(figure, alt)``, or None without coded interviews."""
    import matplotlib.pyplot as plt

    if _why_no_themes(study):
        return None
    k = study.min_cell_size
    table, shown, interviewed = voiced_counts(study, coder=coder)
    if table.empty or interviewed == 0:
        return None
    shown = shown.head(top)
    labels = [str(t) for t in shown.index]
    fig, ax = plt.subplots(figsize=(7, 0.6 + 0.45 * len(labels)), layout="constrained")
    _bars(ax, labels, list(shown), k, "People interviewed who described the theme")
    first = str(shown.iloc[0]) if len(shown) else ""
    _title(ax, f"{labels[0]}: the benefit people described most" if first.replace(
        ",", "").isdigit() else "The benefits people described most")
    alt = ("Bar chart of how many interviewed people described each theme: "
           + "; ".join(f"{lab}: {count_text(v, k) if not str(v).replace(',', '').isdigit() else v}"
                       for lab, v in zip(labels, shown)) + ".")
    return fig, alt


def theme_difference_figure(study, by_theme: pd.DataFrame, primary, sbs=None,
                            confidence: float = 0.95):
    """For each theme: how much more the people who described it improved on the primary
    outcome than those who did not, with its interval (:func:`spanalysis.integrate.
    statistics_by_themes` rows of the primary scale): ``(figure, alt)``."""
    import matplotlib.pyplot as plt

    k = study.min_cell_size
    instrument, scale = primary
    rows_of = by_theme[(by_theme["instrument"].astype(str) == instrument)
                       & (by_theme["scale"].astype(str) == scale)]
    fits = dict(zip(sbs["theme"], sbs["fit"])) if sbs is not None else {}
    if fits:  # the benefit themes of the joint display
        rows_of = rows_of[rows_of["theme"].isin(list(fits))]
    rows = []
    for r in rows_of.itertuples():
        label = str(r.theme_label) + (f" ({fits[r.theme]})" if r.theme in fits else "")
        if bool(r.small_group) or not np.isfinite(r.improvement_difference):
            rows.append({"label": label, "mean": None,
                         "note": f"withheld (a group of fewer than {k} people)"})
        else:
            rows.append({"label": label, "mean": float(r.improvement_difference),
                         "low": float(r.improvement_ci_low),
                         "high": float(r.improvement_ci_high)})
    level = f"{round(100 * confidence)}% CI"
    fig, ax = plt.subplots(figsize=(7.5, 1.0 + 0.5 * max(len(rows), 1)), layout="constrained")
    interval_rows(ax, rows, f"How many points more the people who described the theme "
                             f"improved ({level}; above 0: they improved more)")
    ahead = [r["label"] for r in rows if r["mean"] is not None and r["low"] > 0]
    info = study.scale_info
    short = info.loc[(info["instrument"] == instrument) & (info["scale"] == scale), "scale_name"]
    short = str(short.iloc[0]) if len(short) else f"{instrument} {scale}"
    _title(ax, f"{short}: for {len(ahead)} of {len(rows)} themes, the people who described "
                 "it improved clearly more" if rows else "No theme to compare")
    name = outcome_name(study, instrument, scale)
    alt = (f"Interval chart, one row per theme, of the difference in improvement on {name} "
           "between the interviewed people who described the theme and those who did not: "
           + "; ".join(f"{r['label']}: " + (r["note"] if r["mean"] is None else
                                            f"{signed_number(r['mean'])} ({level} {signed_number(r['low'])}"
                                            f" to {signed_number(r['high'])})") for r in rows) + ".")
    return fig, alt


def missing_handling_figure(study, handling: pd.DataFrame, primary, *, base: str, final: str,
                            confidence: float = 0.95):
    """The primary outcome's mean change under each handling of missing follow-ups (rows of
    :func:`spanalysis.change.missing.missing_comparison`, the chosen analysis first) as
    intervals, one row each: ``(figure, alt)``. A withheld change is labelled, not drawn."""
    import matplotlib.pyplot as plt

    from spanalysis.change import quality
    from spanalysis.report.display import format_value

    k = study.min_cell_size
    short = {"mi": "Multiple imputation", "completers": "Completers",
             "bocf": "Baseline carried forward"}
    rows = [{"label": short.get(r.method, r.analysis), "marker": "sD^"[j % 3],
             "note": f"withheld (fewer than {k} people)",
             **({"mean": r.change_mean, "low": r.ci_low, "high": r.ci_high}
                if np.isfinite(r.change_mean) else {"mean": None})}
            for j, r in enumerate(handling.itertuples())]
    fig, ax = plt.subplots(figsize=(5, 2.6), layout="constrained")
    interval_rows(ax, rows, f"Mean change in points, {quality.timepoint_label(study, base)} to "
                            f"{quality.timepoint_label(study, final)}\n({confidence:.0%} CI)")
    name = outcome_name(study, *primary)
    name = name[:1].upper() + name[1:]
    shown = [r for r in rows if r["mean"] is not None]
    finding = (f"{name}: mean change {format_value(shown[0]['mean'], 1)} points "
               f"({shown[0]['label'].lower()})" if shown else f"{name}: change withheld")
    _title(ax, finding)
    alt = finding + ". " + "; ".join(
        f"{r['label']}: {format_value(r['mean'], 1)} ({format_value(r['low'], 1)} to "
        f"{format_value(r['high'], 1)})" if r["mean"] is not None else f"{r['label']}: withheld"
        for r in rows) + "."
    return fig, alt
