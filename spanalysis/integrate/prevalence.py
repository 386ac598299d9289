"""Theme prevalence by group: the percent of the interviewed participants in each group
(site, change group, or any participants column) who voiced each theme, and its heatmap.
Groups smaller than the minimum cell size are withheld; the heatmap also blanks cells where
1 to k-1 people voiced a theme, since the printed group size would give the count away.
"""
from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd

from spanalysis.errors import InputError
from spanalysis.integrate.cases import _change_groups
from spanalysis.integrate.strands import (
    CHANGE_GROUPS,
    NOT_CLASSIFIED,
    _check_themes,
    _labels,
    _min_cell,
    scale_key,
    _voiced,
    leaf_themes,
)

__all__ = ["theme_prevalence", "prevalence_heatmap"]


# ============================================================================================
# prevalence by group and heatmap
# ============================================================================================
def theme_prevalence(study, by: str = "site", themes=None, primary=None,
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
        groups = _change_groups(study, scale_key(study, primary), sd, reliability)
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


#: above this many groups (sites) the heatmap is one unlabelled strip of fixed width
HEATMAP_MAX_GROUPS = 20


def prevalence_heatmap(study, by: str = "site", themes=None, primary=None,
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
    what = {"site": "site", "change_group": "change group"}.get(by, by.replace("_", " "))
    many = len(cols) > HEATMAP_MAX_GROUPS
    if many:
        # a column per group is unreadable beyond a few dozen (244 inches wide at 200 sites):
        # the same cells, unlabelled and without numbers, as one strip of fixed width
        fig = Figure(figsize=(8.0, max(3.0, 0.45 * len(rows) + 2.5)), layout="constrained")
        ax = fig.subplots()
        sns.heatmap(grid, mask=grid.isna(), annot=False, vmin=0, vmax=100, cmap="viridis",
                    linewidths=0, ax=ax, xticklabels=False, yticklabels=rows,
                    rasterized=True,
                    cbar_kws={"label": "% of the group's interviewed participants"})
        ax.set_title(f"Themes voiced, by {what}: percent of the interviewed participants in "
                     f"each of {len(cols)} {what}s\n(one column each, in the order of the "
                     f"study; blank: fewer than {k} people in the {what}, or fewer than {k} "
                     "voicing the theme)", fontsize=10)
        ax.set_xlabel(f"{len(cols)} {what}s (report 03 gives each one's figures)")
        ax.set_ylabel("theme")
        return fig
    xlabels = [textwrap.fill(str(c), 12) + (f"\n(n = {int(n)})" if n >= k else f"\n(n < {k})")
               for c, n in zip(cols, sizes)]
    fig = Figure(figsize=(max(6.0, 1.2 * len(cols) + 4), max(3.0, 0.45 * len(rows) + 2.5)),
                 layout="constrained")
    ax = fig.subplots()
    sns.heatmap(grid, mask=grid.isna(), annot=True, fmt=".0f", vmin=0, vmax=100,
                cmap="viridis", linewidths=0.5, linecolor="white", ax=ax,
                xticklabels=xlabels, yticklabels=rows,
                cbar_kws={"label": "% of the group's interviewed participants"})
    ax.set_title(f"Themes voiced, by {what}: percent of the interviewed participants in each "
                 f"group\n(blank: fewer than {k} people in the group, or fewer than {k} "
                 "voicing the theme)", fontsize=10)
    ax.set_xlabel(what)
    ax.set_ylabel("theme")
    ax.tick_params(axis="x", labelrotation=0)
    return fig
