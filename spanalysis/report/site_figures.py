"""Figures of the site model: a caterpillar plot of the shrunken site estimates.

The change floor does not draw: :func:`spanalysis.change.sites.site_estimates` (or
:func:`spanalysis.change.outcomes.site_effects` for a study) gives the numbers and this
module draws them (issue 23: 5).

References
----------
Snijders TAB, Bosker RJ (2012). Multilevel Analysis, 2nd ed., sec. 4.8 (posterior means of
    the random intercepts).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from spanalysis.change.sites import MANY_SITES  # thin unlabelled rows above it, as the forest plot
from spanalysis.errors import InputError

__all__ = ["caterpillar_plot"]

_NEEDED = ["n_pairs", "estimate", "ci_low", "ci_high", "small_group", "pooled"]




def caterpillar_plot(estimates: pd.DataFrame, site_column: str = "site", ax=None,
                     scale_name: str = "score", direction: str | None = None,
                     note: str | None = None):
    """Caterpillar plot: each site's shrunken mean change with its interval, sorted, with the
    pooled mean; sites withheld for small numbers listed as "too few to show".

    Parameters
    ----------
    estimates : DataFrame
        :func:`spanalysis.change.sites.site_estimates` output.
    site_column : str
        Column naming the site.
    ax : matplotlib Axes, optional
    scale_name, direction : str
        For the axis label ('higher' / 'lower' is better).
    note : str, optional
        A sentence under the plot (e.g. :func:`spanalysis.change.sites.few_sites_note`).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> est = pd.DataFrame({"site": ["A", "B", "C"], "n_pairs": [20, 15, 3],
    ...     "estimate": [4.0, 5.5, np.nan], "ci_low": [2.0, 3.0, np.nan],
    ...     "ci_high": [6.0, 8.0, np.nan], "small_group": [False, False, True],
    ...     "pooled": 5.0, "confidence": 0.95})
    >>> fig = caterpillar_plot(est, scale_name="WEMWBS", direction="higher")
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
    ['C', 'A (n=20)', 'B (n=15)']
    """
    import matplotlib.pyplot as plt

    missing = [c for c in [site_column] + _NEEDED if c not in estimates.columns]
    if missing:
        raise InputError("the site estimates lack required column(s)", file="site estimates",
                         column=missing[0], expected="site_estimates() output")
    small = estimates["small_group"].astype(bool) | estimates["estimate"].isna()
    shown = estimates[~small].sort_values("estimate")
    hidden = estimates[small].sort_values(site_column)
    rows = len(shown) + len(hidden)
    many = rows > MANY_SITES           # thin unlabelled rows: the site table names them
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 5.5) if many else (7, 1.4 + 0.38 * max(rows, 1)),
                               layout="constrained")
    else:
        fig = ax.figure
    n_hidden = len(hidden)
    if many:                           # counted in the title instead of a row each
        hidden = hidden.iloc[:0]
        rows = len(shown)
    labels, ypos = [], []
    for y, (_, r) in enumerate(hidden.iloc[::-1].iterrows()):
        ax.text(0.02, y, "too few to show", transform=ax.get_yaxis_transform(), va="center",
                fontsize=9, style="italic", color="0.3")
        labels.append(str(r[site_column]))
        ypos.append(y)
    ys = np.arange(len(hidden), rows)
    if len(shown):
        est = shown["estimate"].to_numpy(float)
        err = np.vstack([est - shown["ci_low"].to_numpy(float),
                         shown["ci_high"].to_numpy(float) - est])
        if many:
            ax.hlines(ys, est - err[0], est + err[1], color="0.35", lw=0.6)
            ax.plot(est, ys, "o", color="#0072B2", markersize=2.2,
                    label="site estimate (shrunken towards the pooled mean)")
        else:
            ax.errorbar(est, ys, xerr=err, fmt="o", color="#0072B2", ecolor="0.2", capsize=3,
                        label="site estimate (shrunken towards the pooled mean)")
            labels += [f"{s} (n={int(n)})" for s, n in zip(shown[site_column],
                                                           shown["n_pairs"])]
            ypos += list(ys)
    if len(estimates):
        ax.axvline(float(estimates["pooled"].iloc[0]), color="#D55E00", linestyle="-",
                   linewidth=1.2, label="pooled mean change")
    ax.axvline(0, color="0.4", linestyle="--", linewidth=1)
    ax.set_yticks(ypos, labels)
    ax.set_ylim(-1, max(rows, 1))
    if many:
        ax.set_ylabel("Sites, sorted by their estimate (the table names them)")
    better = {"higher": "; higher is better", "lower": "; lower is better"}.get(direction, "")
    level = (f"{round(100 * float(estimates['confidence'].iloc[0]))}% interval"
             if "confidence" in estimates.columns and len(estimates) else "interval")
    ax.set_xlabel(f"Mean change in {scale_name} by site, random-intercept model{better}, "
                  f"{level}")
    ax.set_title(f"{scale_name}: site estimates (caterpillar plot)"
                 + (f", {len(shown)} sites" if many else "")
                 + (f" ({n_hidden} with too few people not drawn)" if many and n_hidden
                    else ""), wrap=True)
    if len(shown):
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14 - 0.6 / max(rows, 1)),
                  ncol=2, fontsize=8, frameon=False)
    if note:
        fig.text(0.01, 0.0, note, fontsize=8, wrap=True, va="bottom")
    return fig


def caterpillar_alt(estimates: pd.DataFrame, scale_name: str, site_column: str = "site") -> str:
    """Alt text of :func:`caterpillar_plot` with its numbers: each shown site's shrunken
    estimate and interval, lowest first, the pooled mean, and how many sites are too small
    to show."""
    from spanalysis.report.display import format_value

    level = f"{float(estimates['confidence'].iloc[0]):.0%}" if len(estimates) else "95%"
    pooled = format_value(float(estimates["pooled"].iloc[0]), 1) if len(estimates) else "–"
    drawn = estimates[~estimates["small_group"].astype(bool)].sort_values("estimate")
    small = int(estimates["small_group"].astype(bool).sum())
    if len(drawn) > MANY_SITES:        # the range and the middle, not 200 numbers read out
        low, high = drawn.iloc[0], drawn.iloc[-1]
        return (f"Caterpillar plot of each site's shrunken mean change on {scale_name} with "
                f"{level} intervals at {len(drawn)} sites, pooled towards the study mean of "
                f"{pooled}: from {format_value(low['estimate'], 1)} at {low[site_column]} to "
                f"{format_value(high['estimate'], 1)} at {high[site_column]}, median "
                f"{format_value(float(drawn['estimate'].median()), 1)}; the site table gives "
                "each site's figures"
                + (f"; {small} site(s) too small to show" if small else "") + ".")
    return (f"Caterpillar plot of each site's shrunken mean change on {scale_name} with "
            f"{level} intervals, pooled towards the study mean of {pooled}: "
            + "; ".join(f"{r[site_column]} {format_value(r['estimate'], 1)} "
                        f"({format_value(r['ci_low'], 1)} to {format_value(r['ci_high'], 1)})"
                        for _, r in drawn.iterrows())
            + (f"; {small} site(s) too small to show" if small else "") + ".")
