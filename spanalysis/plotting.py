"""Figures of change: paired plots and the distribution of individual change.

Each function returns ``(figure, alt_text)``: the alt text describes what the figure shows
in words, for readers who cannot see it (show both with
:func:`spanalysis.report.display.show_figure`). A figure for fewer than ``min_cell_size`` people is
not drawn: it says so instead, because individual points of a small group are disclosive.

Colours
-------
Every figure of the reports draws from one colour-blind-safe palette, set here: the
Okabe-Ito palette (Okabe and Ito 2008, "Color Universal Design"; the same 8 hex values as
R's ``palette.colors(palette = "Okabe-Ito")``), which people with protanopia, deuteranopia
and tritanopia can tell apart. :data:`PALETTE` names the colours;
:data:`CATEGORY_COLOURS` fixes which colour means improvement, no change and deterioration
(blue / grey / vermillion, never red against green); sequential data use ``viridis``
(perceptually uniform and colour-blind safe, matplotlib's default colour map).
:func:`use_report_style` puts the palette into matplotlib's colour cycle, so a figure that
does not choose colours gets them too; :func:`spanalysis.report.render.figure_image` saves
figures as SVG (vector: sharp at any zoom on a phone) with text drawn as paths (no fonts are
needed on the reader's machine).

Titles: the notebook states the finding (``finding=``, e.g. "WEMWBS rose by 5 points on
average"); ``title`` names what is measured, and the axes are labelled with it and its unit
(points on the scale, people).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["paired_plot", "individual_change_plot", "PALETTE", "CATEGORY_COLOURS",
           "SEQUENTIAL_CMAP", "use_report_style"]

#: Okabe-Ito colours (Okabe and Ito 2008), in the order of their colour cycle
PALETTE = {"blue": "#0072B2", "vermillion": "#D55E00", "bluish green": "#009E73",
           "orange": "#E69F00", "sky blue": "#56B4E9", "reddish purple": "#CC79A7",
           "yellow": "#F0E442", "black": "#000000"}
#: colours of the categories of individual change: blue / grey / vermillion (not red/green)
CATEGORY_COLOURS = {"improvement": PALETTE["blue"], "none": "#595959",
                    "deterioration": PALETTE["vermillion"]}
#: colour map for sequential values (heatmaps)
SEQUENTIAL_CMAP = "viridis"
_CYCLE = [PALETTE[n] for n in ("blue", "vermillion", "bluish green", "orange", "sky blue",
                               "reddish purple", "black", "yellow")]


def use_report_style() -> None:
    """Make the report palette and sizes matplotlib's defaults (in this process).

    Sets the colour cycle to :data:`PALETTE` (Okabe-Ito), the colour map to
    :data:`SEQUENTIAL_CMAP`, white backgrounds, and font sizes that stay readable when a
    6.4-inch-wide figure is shown on a 390 px phone screen (titles 12 pt, labels 11 pt), and
    a fixed ``svg.hashsalt`` so that SVG output is reproducible.

    Examples
    --------
    >>> import matplotlib
    >>> use_report_style()
    >>> matplotlib.rcParams["axes.prop_cycle"].by_key()["color"][:2]
    ['#0072B2', '#D55E00']
    """
    import matplotlib
    from cycler import cycler

    matplotlib.rcParams.update({
        "axes.prop_cycle": cycler(color=_CYCLE), "image.cmap": SEQUENTIAL_CMAP,
        "figure.facecolor": "white", "axes.facecolor": "white", "savefig.facecolor": "white",
        "font.size": 10.5, "axes.titlesize": 12, "axes.labelsize": 11,
        "xtick.labelsize": 10, "ytick.labelsize": 10, "legend.fontsize": 9.5,
        # SVG ids from a fixed salt, not a random one: a figure saved as SVG any way in a
        # report (not only by render.figure_image) is the same bytes in every run (issue 24)
        "svg.hashsalt": "spanalysis",
    })


def _too_few(ax, n: int, k: int, what: str):
    ax.text(0.5, 0.5, f"Fewer than {k} people: {what} not shown", ha="center", va="center",
            transform=ax.transAxes, fontsize=11)
    ax.set_axis_off()


#: the most people :func:`paired_plot` draws a line for (a seeded random sample above it)
PAIRED_PLOT_MAX_LINES = 400
PAIRED_PLOT_SEED = 20261204


def paired_plot(pairs: pd.DataFrame, *, title: str, pre_label: str, post_label: str,
                min_cell_size: int = 5, direction: str | None = None,
                finding: str | None = None):
    """Each person's score before and after (thin lines) with the mean and its 95% CI.

    Parameters
    ----------
    pairs : DataFrame with columns ``pre`` and ``post`` (one row per person, both present).
    title : what is plotted (e.g. "WEMWBS total"); the y axis is its score in points.
    pre_label, post_label : the time point names.
    direction : "higher" or "lower" is better, stated in the alt text.
    finding : the figure's title, stating what it shows (default: "<title>: individual
        scores").

    Returns
    -------
    (matplotlib.figure.Figure, str)
    """
    import matplotlib.pyplot as plt
    from scipy import stats

    pairs = pairs[["pre", "post"]].dropna()
    n = len(pairs)
    fig, ax = plt.subplots(figsize=(4.2, 4.2))
    if n < min_cell_size:
        _too_few(ax, n, min_cell_size, "individual scores")
        return fig, f"{title}: fewer than {min_cell_size} people, so no figure is shown."
    x = np.array([0.0, 1.0])
    # a line per person up to PAIRED_PLOT_MAX_LINES; above that a seeded random sample of
    # them (the mean and its interval are everyone's): 28,000 lines make an 8 MB figure
    # that shows no more than a few hundred do
    lines = pairs
    if n > PAIRED_PLOT_MAX_LINES:
        pick = np.random.default_rng(PAIRED_PLOT_SEED).choice(n, PAIRED_PLOT_MAX_LINES,
                                                               replace=False)
        lines = pairs.iloc[np.sort(pick)]
    for pre, post in lines.itertuples(index=False):
        ax.plot(x, [pre, post], color="#8c8c8c", alpha=min(0.6, 12 / len(lines) + 0.05),
                linewidth=0.8)
    means = pairs.mean().to_numpy()
    sems = pairs.sem().to_numpy()
    tcrit = stats.t.ppf(0.975, n - 1)
    ax.errorbar(x, means, yerr=tcrit * sems, color=PALETTE["blue"], linewidth=2.5, capsize=6,
                marker="o", markersize=7, label="mean with 95% CI")
    ax.set_xticks(x, [pre_label, post_label])
    ax.set_xlim(-0.3, 1.3)
    ax.set_xlabel("Time point")
    ax.set_ylabel(f"{title} (score, points)")
    ax.set_title(finding or f"{title}: individual scores", loc="left", wrap=True)
    ax.legend(loc="best", fontsize=8, frameon=False)
    fig.tight_layout()
    lo, hi = means - tcrit * sems, means + tcrit * sems
    better = {"higher": "higher scores are better", "lower": "lower scores are better"}.get(
        direction or "", "")
    if len(lines) < n:
        ax.text(0.02, 0.02, f"Grey lines: {len(lines):,} of the {n:,} people, chosen at random",
                transform=ax.transAxes, fontsize=8, color="0.3")
    who = ("each person's" if len(lines) == n else
           f"the scores of each of {len(lines):,} people chosen at random from the {n:,}, at")
    alt = (f"Paired plot of {title} for {n:,} people: a grey line joins {who} "
           f"{pre_label} and {post_label}{' scores' if len(lines) == n else ''}; the mean"
           f"{'' if len(lines) == n else ' of everyone'} went from {means[0]:.1f} to "
           f"{means[1]:.1f} (95% confidence intervals {lo[0]:.1f} to {hi[0]:.1f} and "
           f"{lo[1]:.1f} to {hi[1]:.1f})" + (f"; {better}." if better else "."))
    return fig, alt


def individual_change_plot(rc: pd.DataFrame, *, title: str, min_cell_size: int = 5,
                           finding: str | None = None):
    """Histogram of individual change (post minus pre) with the reliable-change band and the
    minimal important difference marked.

    Parameters
    ----------
    rc : rows of :func:`spanalysis.change.reliable_change` for ONE scale (columns
        ``change, category, threshold, mid_used, direction``).
    title : the scale (e.g. "WEMWBS total"); the x axis is its change in points.
    finding : the figure's title, stating what it shows (default: "<title>: individual
        change").

    Returns
    -------
    (matplotlib.figure.Figure, str)
    """
    import matplotlib.pyplot as plt

    rc = rc.dropna(subset=["change"])
    n = len(rc)
    fig, ax = plt.subplots(figsize=(5.6, 3.8))
    if n < min_cell_size:
        _too_few(ax, n, min_cell_size, "the distribution of change")
        return fig, f"{title}: fewer than {min_cell_size} people, so no figure is shown."
    threshold = float(rc["threshold"].iloc[0]) if rc["threshold"].notna().any() else np.nan
    mid = float(rc["mid_used"].iloc[0]) if "mid_used" in rc and rc["mid_used"].notna().any() \
        else np.nan
    direction = str(rc["direction"].iloc[0]) if "direction" in rc else "higher"
    change = rc["change"].to_numpy(dtype=float)
    lo, hi = np.floor(change.min()) - 0.5, np.ceil(change.max()) + 0.5
    bins = np.arange(lo, hi + 1, max(1.0, (hi - lo) / 30))
    ax.hist(change, bins=bins, color=PALETTE["sky blue"], edgecolor="white")
    if np.isfinite(threshold):
        ax.axvspan(-threshold, threshold, color="#bdbdbd", alpha=0.35,
                   label=f"no reliable change (±{threshold:.2f})")
    if np.isfinite(mid):
        sign = 1 if direction == "higher" else -1
        ax.axvline(sign * mid, color=CATEGORY_COLOURS["improvement"], linestyle="--", linewidth=2,
                   label=f"minimal important improvement ({sign * mid:+.2f})")
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(f"Change in {title} (points, follow-up minus baseline)")
    ax.set_ylabel("People (number)")
    ax.set_title(finding or f"{title}: individual change", loc="left", wrap=True)
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    fig.tight_layout()
    counts = rc["category"].value_counts()
    parts = []
    for label in ("reliable improvement", "no reliable change", "reliable deterioration"):
        c = int(counts.get(label, 0))
        parts.append(f"{label}: " + (f"fewer than {min_cell_size}" if 0 < c < min_cell_size
                                      else str(c)))
    alt = (f"Histogram of the change in {title} for {n} people, from {change.min():.1f} to "
           f"{change.max():.1f}. " + ("The shaded band marks changes smaller than the "
                                      f"reliable change threshold of {threshold:.2f}. "
                                      if np.isfinite(threshold) else "")
           + "; ".join(parts) + ".")
    return fig, alt
