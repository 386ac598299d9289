"""Showing results in notebooks and reports, with disclosure control built in.

Notebooks call these instead of displaying DataFrames directly, so that every table a report
shows has small counts suppressed (:mod:`spanalysis.privacy.disclosure`), every text is escaped and
every figure has alt text. The same calls work in JupyterLab.
"""
from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from spanalysis.io import atomic_write
from spanalysis.privacy import disclosure

__all__ = ["column_label", "show_counts", "fold_long_table", "show_long_table",
           "percent_of_group_cells", "site_spread", "counts_by_site_html", "show_counts_by_site",
           "LONG_TABLE_ROWS", "MAX_SITE_COLUMNS", "show_stats", "show_table", "show_figure",
           "show_markdown", "show_quotes", "show_percent_of_group", "count_text",
           "percent_text", "format_value", "format_p", "format_effect", "format_count",
           "escape_markdown", "write_summary", "protect_summary", "participant_label",
           "participant_key_path", "write_participant_key", "first_unshown_quote",
           "scale_labels", "with_scale_labels"]


def _display(obj):
    from IPython.display import display

    display(obj)


def _nothing_to_show(caption: str, show: bool):
    """A table with no rows is not drawn: one sentence says so (the study's data give
    nothing for it, e.g. no goal attainment scores at follow-up)."""
    text = f"{caption}: nothing to show, this study's data give no rows for it."
    if not show:
        return f"<p>{html.escape(text)}</p>"
    show_markdown(escape_markdown(text))
    return None


def show_counts(table: pd.DataFrame, k: int, *, caption: str, totals: str = "auto",
                show: bool = True, rounding: int | None = None, hide=None,
                fold: str | None = None) -> str:
    """A table of counts with counts 1..k-1 suppressed (and complementary suppression),
    rounded to ``rounding`` (the study's ``privacy.rounding``) when given; ``hide`` names
    more cells to hide (see :func:`~spanalysis.privacy.disclosure.count_table_html`).
    ``fold`` (what a row is, e.g. "sites"): a table of more than :data:`LONG_TABLE_ROWS`
    rows shows that many and folds the rest (:func:`fold_long_table`; protected whole first).

    Displays the table; with ``show=False`` returns its HTML instead."""
    from IPython.display import HTML

    if table.empty:
        return _nothing_to_show(caption, show)
    table = _timepoints_labelled(table)
    markup = disclosure.count_table_html(table, k, totals=totals, caption=caption,
                                         rounding=rounding, hide=hide)
    if fold:
        markup = fold_long_table(markup, what=fold)
    if not show:
        return markup
    _display(HTML(markup))
    return None


def format_value(value, decimals: int = 2) -> str:
    """A number as a report shows it, to ``decimals`` decimal places.

    The rule, the same in every table and sentence of the reports:

    - never scientific notation: ``15000000.0`` is "15,000,000.00";
    - a value that is not zero never shows as zero: when rounding would give zero, it is shown
      as "< 0.01" (or "> -0.01" below zero) at the precision used;
    - missing (None, NaN, pandas' NA and NaT) is "–"; ``True`` / ``False`` are "yes" / "no";
      integers are whole numbers with thousands separators; text is kept as it is.

    >>> format_value(-0.03, 2), format_value(-0.03, 1), format_value(0.0, 2)
    ('-0.03', '> -0.1', '0.00')
    >>> format_value(pd.NA), format_value(pd.NaT)
    ('–', '–')
    """
    if value is None or value is pd.NA or value is pd.NaT or (
            isinstance(value, float) and np.isnan(value)):
        return "–"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            return "–" if np.isnan(value) else ("∞" if value > 0 else "-∞")
        step = 10.0 ** -decimals
        if value != 0 and abs(value) < step / 2:
            # it would round to zero: say how small instead
            smallest = f"{step:.{decimals}f}"
            return f"< {smallest}" if value > 0 else f"> -{smallest}"
        text = f"{value:,.{decimals}f}"
        if text.startswith("-") and float(text.replace(",", "")) == 0:
            text = text[1:]  # no "-0.00"
        return text
    return str(value)


def format_p(p) -> str:
    """A p value: "< 0.001" below 0.001, otherwise three decimals (APA 7th edition, 6.36).

    >>> format_p(0.001), format_p(0.0004), format_p(0.0312)
    ('0.001', '< 0.001', '0.031')
    """
    if isinstance(p, (int, float, np.integer, np.floating)) and not isinstance(p, bool) \
            and np.isfinite(p) and 0 < p < 0.001:
        return "< 0.001"
    if isinstance(p, (int, np.integer)) and not isinstance(p, bool):
        p = float(p)
    return format_value(p, 3)


def format_effect(value) -> str:
    """An effect size (d, g, correlation, ICC, alpha) to two decimals.

    >>> format_effect(-0.03), format_effect(0.004)
    ('-0.03', '< 0.01')
    """
    return format_value(value, 2)


def format_count(value) -> str:
    """A count or degrees of freedom as a whole number ("225", "1,234").

    A count stored as a float (225.0) is shown without decimals; a degrees of freedom that is
    not whole (a Welch test's) keeps one decimal, as APA 7th edition (6.36) suggests.

    >>> format_count(225.0), format_count(1234), format_count(198.37)
    ('225', '1,234', '198.4')
    """
    if isinstance(value, (float, np.floating)) and np.isfinite(value):
        if float(value).is_integer():
            return f"{int(value):,}"
        return format_value(value, 1)
    return format_value(value, 0)


#: effect-size columns, always shown to two decimals
_EFFECT_COLUMNS = {"d", "d_z", "d_av", "g", "g_av", "hedges_g", "d_z_ci_low", "d_z_ci_high",
                   "d_av_ci_low", "d_av_ci_high", "g_av_ci_low", "g_av_ci_high",
                   "hedges_g_ci_low", "hedges_g_ci_high", "icc", "cohen_kappa_ci_low",
                   "cohen_kappa_ci_high", "krippendorff_ci_low", "krippendorff_ci_high",
                   "icc_ci_low", "icc_ci_high"}
#: count columns that do not start with ``n_``
_COUNT_COLUMNS = {"n", "df", "items", "respondents", "respondents_with_missing", "people"}


def _formatter(column, decimals: int):
    """The formatting function of a table column, chosen by its name: p values
    (``p``, ``p_holm``, ``wilcoxon_p``), counts and df (``n``, ``n_...``, ``df``), effect
    sizes, or any other number at ``decimals`` places."""
    name = str(column).lower()
    if name == "p" or name.startswith("p_") or name.endswith("_p"):
        return format_p
    if name in _COUNT_COLUMNS or name.startswith("n_"):
        return format_count
    if name in _EFFECT_COLUMNS:
        return format_effect
    return lambda value: format_value(value, decimals)


#: words kept as written when column names are turned into headings
_KEEP = {"ci": "CI", "sd": "SD", "n": "n", "p": "p", "df": "df", "t": "t", "mid": "MID",
         "icc": "ICC", "iqr": "IQR", "d": "d", "g": "g", "z": "z", "w": "W", "q1": "Q1",
         "q3": "Q3", "gp": "GP"}


def column_label(name) -> str:
    """A column name as a heading in plain words: the heading
    :mod:`spanalysis.report.glossary` gives it (``d_z`` -> "Effect size (Cohen's d_z)",
    ``change_ci_low`` -> "Change: lower CI limit"), else its words
    (``percent_items_missing`` -> "Percent items missing")."""
    from spanalysis.report.glossary import heading

    plain = heading(name)
    if plain is not None:
        return plain
    words = str(name).split("_")
    out = [_KEEP.get(w.lower(), w) for w in words]
    if out and out[0] == words[0] and out[0][:1].islower() and out[0] not in _KEEP.values():
        out[0] = out[0][:1].upper() + out[0][1:]
    return " ".join(out)


def _counts_people(column) -> bool:
    """Whether a column counts people (rounded under ``privacy.rounding``): ``n``,
    ``n_...`` (but not ``n_sites``, ``n_coders``, ``n_items``), ``people``, ``respondents``."""
    name = str(column).lower()
    if name in ("n_sites", "n_coders", "n_items"):
        return False
    return name in ("n", "people", "respondents", "respondents_with_missing") \
        or name.startswith("n_")


def _round_people(frame: pd.DataFrame, rounding: int | None) -> pd.DataFrame:
    """``frame`` with its whole-number people counts rounded (text such as "<5" kept)."""
    if not rounding:
        return frame
    frame = frame.copy()
    for col in [c for c in frame.columns if _counts_people(c)]:
        frame[col] = [int(disclosure.round_counts([v], rounding)[0])
                      if isinstance(v, (int, float, np.integer, np.floating))
                      and not isinstance(v, bool) and np.isfinite(v) and float(v).is_integer()
                      else v for v in frame[col]]
    return frame


#: the time points' labels of the study a report shows (id -> label), set by
#: :func:`use_timepoint_labels` (``open_study`` does, in every report notebook)
_TIMEPOINT_LABELS: dict[str, str] = {}

#: columns whose values are time points: shown by their labels
TIMEPOINT_COLUMNS = ("timepoint", "pre", "post")


def use_timepoint_labels(study) -> None:
    """Show the time points of ``study`` by their labels in study.yaml (``label:``) in every
    table shown from now on: the values of the columns in :data:`TIMEPOINT_COLUMNS`. The
    computations keep the ids. ``None`` forgets the labels."""
    _TIMEPOINT_LABELS.clear()
    if study is not None:
        _TIMEPOINT_LABELS.update({str(t): study.timepoint_label(t) for t in study.timepoints})


def _timepoints_labelled(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the values of its time-point columns and index levels
    (:data:`TIMEPOINT_COLUMNS`) shown by their labels (:func:`use_timepoint_labels`)."""
    if not _TIMEPOINT_LABELS:
        return frame
    columns = [c for c in TIMEPOINT_COLUMNS if c in frame.columns]
    levels = [n for n in frame.index.names if n in TIMEPOINT_COLUMNS]
    if not columns and not levels:
        return frame
    label = lambda v: _TIMEPOINT_LABELS.get(v, v) if isinstance(v, str) else v  # noqa: E731
    frame = frame.copy()
    for column in columns:
        frame[column] = [label(v) for v in frame[column].astype(object)]
    if levels:
        index = frame.index.to_frame(index=False)
        for level in levels:
            index[level] = [label(v) for v in index[level].astype(object)]
        frame.index = pd.MultiIndex.from_frame(index) if frame.index.nlevels > 1 \
            else pd.Index(index.iloc[:, 0], name=frame.index.name)
    return frame


def _named(frame: pd.DataFrame) -> pd.DataFrame:
    """Built-in instruments and scales by name, not id (``wemwbs``/``total`` -> "WEMWBS" /
    "WEMWBS total (14-70)"), time points by their labels (:func:`use_timepoint_labels`);
    other values as they are."""
    from spanalysis.report.glossary import instrument_name, scale_name

    frame = _timepoints_labelled(frame)
    if "instrument" not in frame.columns:
        return frame
    frame = frame.copy()
    if "scale" in frame.columns:
        frame["scale"] = [scale_name(i, c) if isinstance(c, str) else c
                          for i, c in zip(frame["instrument"], frame["scale"])]
    frame["instrument"] = [instrument_name(i) if isinstance(i, str) else i
                           for i in frame["instrument"]]
    return frame


def scale_labels(study) -> dict[str, str]:
    """Each scale's label for a reader, keyed by the ``"<instrument> <scale>"`` text that
    :mod:`spanalysis.change.outcomes` gives its count tables' rows: the scale's name in the
    instrument definition, after the instrument's abbreviation (the last bracket of its name)
    when it has one and the scale's name does not start with it ("WEMWBS total (14-70)",
    "MYCaW: Concern 1 (0-6, lower is better)", "UCLA-3 loneliness total (3-9, ...)").

    >>> from spanalysis.study import load_study
    >>> labels = scale_labels(load_study("data/demo"))
    >>> labels["wemwbs total"], labels["mycaw concern1"]
    ('WEMWBS total (14-70)', 'MYCaW: Concern 1 (0-6, lower is better)')
    """
    out = {}
    for row in study.scale_info.itertuples():
        inst = study.instruments.get(row.instrument) if hasattr(study.instruments, "get") \
            else None
        name = str(getattr(inst, "name", row.instrument))
        short = re.search(r"\(([A-Za-z0-9-]+)\)\s*$", name)
        label = str(row.scale_name) if isinstance(row.scale_name, str) and row.scale_name \
            else f"{row.instrument} {row.scale}"
        out[f"{row.instrument} {row.scale}"] = (
            f"{short.group(1)}: {label}" if short and not label.startswith(short.group(1))
            else label)
    return out


def with_scale_labels(table: pd.DataFrame, study) -> pd.DataFrame:
    """A table of :mod:`spanalysis.change.outcomes` whose rows (index) or ``scale`` column
    are ``"<instrument> <scale>"``, perhaps followed by more (``": Cronbach's alpha 0.91"``,
    ``" (criterion c)"``), with each scale named for a reader (:func:`scale_labels`) and the
    index or column name capitalised. Only the labels change, never a count."""
    labels = scale_labels(study)
    keys = sorted(labels, key=len, reverse=True)

    def relabel(text):
        text = str(text)
        for key in keys:
            if text == key or text.startswith((key + " ", key + ":")):
                return labels[key] + text[len(key):]
        return text

    out = table.copy()
    if "scale" in out.columns:
        out["scale"] = [relabel(v) for v in out["scale"]]
        return out.rename(columns={"scale": "Scale"})
    out.index = pd.Index([relabel(v) for v in out.index], name=(
        str(out.index.name)[:1].upper() + str(out.index.name)[1:] if out.index.name else None))
    return out


def show_table(table: pd.DataFrame, *, caption: str, decimals: int = 2,
               index: bool = False, show: bool = True,
               missing: dict | None = None, rounding: int | None = None,
               fold: str | None = None) -> str:
    """An escaped, accessible HTML table of statistics (no counts to suppress).

    ``missing`` maps a column to the words shown where its value is missing (for example
    ``{"krippendorff_alpha_all": "not estimable"}``); elsewhere a missing value is "–".
    ``rounding`` (the study's ``privacy.rounding``) rounds the columns that count people
    (``n``, ``n_...``, ``people``, ``respondents``). Use :func:`show_stats` when the table
    holds group sizes. ``fold`` (what a row is, e.g. "sites"): a table of more than
    :data:`LONG_TABLE_ROWS` rows shows that many and folds the rest (:func:`fold_long_table`).
    """
    from IPython.display import HTML

    frame = _named(_round_people(table.reset_index() if index else table, rounding))
    head = "".join(f'<th scope="col">{html.escape(column_label(c))}</th>' for c in frame.columns)
    formats = [_formatter(c, decimals) for c in frame.columns]
    instead = [(missing or {}).get(c) for c in frame.columns]
    rows = []
    for values in frame.itertuples(index=False):
        cells = []
        for j, value in enumerate(values):
            blank = instead[j] is not None and pd.isna(value)
            text = html.escape(instead[j] if blank else formats[j](value))
            tag = "th scope=\"row\"" if j == 0 else "td"
            close = "th" if j == 0 else "td"
            cells.append(f"<{tag}>{text}</{close}>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    markup = (f'<table class="sp-stats"><caption>{html.escape(caption)}</caption>'
              f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")
    if fold:
        markup = fold_long_table(markup, what=fold)
    if not show:
        return markup
    _display(HTML(markup))
    return None


def show_stats(table: pd.DataFrame, n_cols: str | Iterable[str], k: int, *, caption: str,
               stat_cols: list[str] | None = None, decimals: int = 2, show: bool = True,
               rounding: int | None = None, fold: str | None = None) -> str:
    """A statistics table whose group-size columns are protected: groups with n below k
    have their n shown as "<k" and their statistics withheld (see
    :func:`spanalysis.privacy.disclosure.withhold_small_groups`). ``fold``: as
    :func:`show_table`."""
    n_cols = [n_cols] if isinstance(n_cols, str) else list(n_cols)
    if table.empty:
        return _nothing_to_show(caption, show)
    if stat_cols is None:
        stat_cols = [c for c in table.columns if c not in n_cols
                     and pd.api.types.is_numeric_dtype(table[c])
                     and not pd.api.types.is_bool_dtype(table[c])]
    out = table.copy()
    withheld = pd.Series("", index=out.index)
    for n_col in n_cols:
        protected = disclosure.withhold_small_groups(out, n_col, k, stat_cols=stat_cols,
                                                     totals="none", rounding=rounding)
        withheld = withheld.where(protected["withheld"] == "", protected["withheld"])
        out = protected.drop(columns="withheld")
        # once one n column withheld a row's statistics, keep them withheld
    if (withheld != "").any():
        caption += f" (statistics for groups of fewer than {k} people are withheld: [c] / <{k})"
    return show_table(out, caption=caption, decimals=decimals, show=show, rounding=rounding,
                      fold=fold)


def show_figure(fig, alt: str):
    """Display a matplotlib figure with alt text (required) and close it."""
    from spanalysis.report.render import figure_image

    _display(figure_image(fig, alt))


def show_markdown(text: str) -> None:
    """Display generated narrative. Values interpolated into ``text`` must already be safe
    (numbers, or text passed through :func:`escape_markdown`)."""
    from IPython.display import Markdown

    _display(Markdown(text))


#: characters of HTML and of Markdown syntax, written as character references (which Markdown
#: and HTML show as the character itself, never as markup: CommonMark 0.31, section 2.5)
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;",
            **{c: f"&#{ord(c)};" for c in "\\`*_[]()!#|~{}+-.:"}}


def escape_markdown(value) -> str:
    """A value from the data, safe to put into Markdown or HTML: shown as text, never as markup.

    HTML's special characters are escaped (:func:`html.escape`), Markdown's (``[ ] ( ) ! * _``
    and the rest) are written as character references, and line breaks become spaces, so a
    site called ``[x](https://e.x)`` stays that text instead of becoming a link, ``![](...)``
    does not become an image and a value cannot start a heading or a list. Every notebook
    builds its Markdown from data through this function.

    >>> escape_markdown("[x](https://e.x)")
    '&#91;x&#93;&#40;https&#58;//e&#46;x&#41;'
    >>> escape_markdown("Riverside PCN")
    'Riverside PCN'
    """
    return "".join(_ESCAPES.get(c, c) for c in " ".join(str(value).splitlines()))


def count_text(n: int, k: int, rounding: int | None = None) -> str:
    """A count for a sentence: the number (rounded to ``rounding`` when given), "fewer than
    k" when 1..k-1 (or already withheld as the text "<k", as in a summary), or "a number
    not shown" for a count hidden to protect another ("[c]").

    >>> count_text(3, 5), count_text(12, 5), count_text(12, 5, rounding=5), count_text("[c]", 5)
    ('fewer than 5', '12', '10', 'a number not shown')
    """
    if isinstance(n, str) and n.startswith("<"):
        return f"fewer than {k}"
    if n == disclosure.COMPLEMENTARY_MARKER:
        return "a number not shown"
    n = int(n)
    if 0 < n < k:
        return f"fewer than {k}"
    return f"{int(disclosure.round_counts([n], rounding)[0]):,}"


def percent_text(n: int, total: int, k: int, rounding: int | None = None) -> str:
    """"n (p%)" for a sentence, withholding the percentage when n or the rest is 1..k-1
    (either would let a reader recover a small count from the total) or either is hidden
    ("<k", "[c]"). With ``rounding`` both are rounded first and the percentage is of the
    rounded numbers, as the tables do.

    >>> percent_text(38, 60, 5), percent_text(38, 60, 5, rounding=5), percent_text(57, 60, 5)
    ('38 (63%)', '40 (67%)', '57 (percentage withheld)')
    """
    if isinstance(n, str) or isinstance(total, str):
        return f"{count_text(n, k, rounding)} (percentage withheld)"
    n, total = int(n), int(total)
    if total == 0:
        return "0"
    if 0 < n < k or 0 < total - n < k:
        return f"{count_text(n, k, rounding)} (percentage withheld)"
    n_shown, total_shown = disclosure.round_counts([n, total], rounding)
    if total_shown == 0:
        return f"{count_text(n, k, rounding)} (percentage withheld)"
    return f"{int(n_shown):,} ({100 * n_shown / total_shown:.0f}%)"


#: summary keys that hold settings, not counts of people
_SETTINGS = frozenset({"k", "min_cell_size", "rounding", "confidence"})


def protect_summary(summary, k: int, *, rounding: int | None = None):
    """A report's summary with the small-count rule of its HTML applied to every count.

    Every whole number in ``summary`` (at any depth, except the settings ``k``,
    ``min_cell_size`` and ``rounding``) is a count: from 1 to ``k - 1`` it is written as the
    text ``"<k"`` (as in the report's tables); 0 stays 0; with ``rounding`` (the study's
    ``privacy.rounding``) the counts shown are rounded to the nearest multiple, as the tables
    are (:func:`spanalysis.privacy.disclosure.round_counts`).

    >>> protect_summary({"k": 5, "referred": 40, "n_voiced": 3, "none": 0,
    ...                  "themes": [{"n_voiced": 4}]}, 5)
    {'k': 5, 'referred': 40, 'n_voiced': '<5', 'none': 0, 'themes': [{'n_voiced': '<5'}]}
    """
    def protect(value, key=None):
        if isinstance(value, dict):
            return {name: protect(v, name) for name, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [protect(v, key) for v in value]
        if key in _SETTINGS or isinstance(value, (bool, np.bool_)) \
                or not isinstance(value, (int, np.integer)):
            return value
        n = int(value)
        if 0 < n < k:
            return disclosure.primary_marker(k)
        return int(disclosure.round_counts([n], rounding)[0]) if rounding else n

    return protect(summary)


def write_summary(path: str | os.PathLike | None, summary: dict, k: int, *,
                  rounding: int | None = None) -> Path | None:
    """Write a report's headline figures as a small JSON file for the index page.

    The small-count rule of the HTML applies (:func:`protect_summary`): a count from 1 to
    ``k - 1`` (the study's ``min_cell_size``) is written as ``"<k"``. ``path`` empty or None
    (as when a notebook runs in JupyterLab) writes nothing.
    """
    if not path:
        return None
    path = Path(path)
    with atomic_write(path) as handle:
        json.dump(_clean(protect_summary(summary, k, rounding=rounding)), handle, indent=2,
                  default=_json_default, sort_keys=True, allow_nan=False)
    return path


def _clean(value):
    """NaN (including numpy's, a float subclass) becomes null: JSON has no NaN."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return None if np.isnan(value) else float(value)
    if isinstance(value, (pd.Timestamp,)):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def participant_label(labels: dict, participant_id) -> str:
    """The report-local label of a participant: "Participant A", "B", ... "Z", "AA", ...

    Reviewer-facing reports never show a study participant id. ``labels`` (a dict the
    notebook keeps, id -> label) is filled as participants are first shown, so the first
    person shown is Participant A; :func:`write_participant_key` writes it for the analyst.

    >>> labels = {}
    >>> [participant_label(labels, p) for p in ["SP0012", "SP0003", "SP0012"]]
    ['Participant A', 'Participant B', 'Participant A']
    """
    key = str(participant_id)
    if key not in labels:
        n, letters = len(labels), ""
        while True:  # bijective base 26: A..Z, AA..AZ, BA..
            n, r = divmod(n, 26)
            letters = chr(65 + r) + letters
            if n == 0:
                break
            n -= 1
        labels[key] = f"Participant {letters}"
    return labels[key]


def participant_key_path(summary_path) -> Path | None:
    """Where a report's key from label to participant id is written: beside the rendered
    notebook, ``<report>_participant_key.csv`` (None when no summary path is given)."""
    if not summary_path:
        return None
    path = Path(summary_path)
    stem = path.name[:-len(".summary.json")] if path.name.endswith(".summary.json") \
        else path.stem
    return path.with_name(f"{stem}_participant_key.csv")


def write_participant_key(summary_path, labels: dict) -> Path | None:
    """Write the key from report-local label to study participant id, for the analyst.

    The file (``label,participant_id``, see :func:`participant_key_path`) stays beside the
    executed notebook; no HTML page links to it or shows it. Nothing is written when the
    notebook runs without a summary path (in JupyterLab).
    """
    path = participant_key_path(summary_path)
    if path is None:
        return None
    from spanalysis.io import write_table

    key = pd.DataFrame({"label": list(labels.values()), "participant_id": list(labels)})
    return write_table(key, path)


def first_unshown_quote(quotes, shown: set) -> dict | None:
    """The first of ``quotes`` (dicts with a ``text``) that the report has not shown yet, or
    None; its text is added to ``shown``, the set a notebook keeps of the quotes it shows, so
    that no quote appears twice in a report.

    >>> shown = set()
    >>> [first_unshown_quote([{"text": "a"}, {"text": "b"}], shown)["text"] for _ in range(2)]
    ['a', 'b']
    >>> first_unshown_quote([{"text": "a"}], shown) is None
    True
    """
    for quote in quotes or []:
        text = str(quote.get("text", ""))
        if text and text not in shown:
            shown.add(text)
            return quote
    return None


def show_quotes(quotes: pd.DataFrame, labels: dict, *, heading_level: int = 3,
                show: bool = True):
    """Quotes grouped by theme, each escaped and attributed to the participant's
    report-local label and site (:func:`participant_label`, filling ``labels``); sensitive
    quotes behind a content note (see :func:`spanalysis.qual.quotes.quote_html`)."""
    from IPython.display import HTML

    from spanalysis.qual.quotes import quote_html

    parts = []
    for (code_id, name), group in quotes.groupby(["code_id", "code_name"], sort=False):
        parts.append(f"<h{heading_level}>{html.escape(str(name))}</h{heading_level}>")
        for row in group.to_dict("records"):
            if pd.notna(row.get("participant_id")):  # a document keeps its kind as attribution
                site = f", {row['site']}" if pd.notna(row.get("site")) else ""
                row["attribution"] = participant_label(labels, row["participant_id"]) + site
            parts.append(quote_html(row))
    markup = "\n".join(parts) or "<p>No quotes to show.</p>"
    if not show:
        return markup
    _display(HTML(markup))
    return None


def show_percent_of_group(counts: pd.DataFrame, group_sizes: pd.Series, k: int, *,
                          caption: str, decimals: int = 0, show: bool = True,
                          rounding: int | None = None):
    """Percentages ``100 * counts / group size`` (columns are groups), hidden wherever the
    count is suppressed (a percentage of a known group size gives the count away) or the
    group is smaller than k; with ``rounding``, of the rounded count and group size."""
    if counts.empty:
        return _nothing_to_show(caption, show)
    shown = disclosure.suppress_counts(counts, k, totals="none")
    out = percent_of_group_cells(counts, group_sizes, k, shown, decimals=decimals,
                                 rounding=rounding)
    return show_table(out, caption=caption + f" (hidden where a count is below {k}: [c])",
                      index=True, show=show)


# --- long tables and tables by site (report 03 at national scale, issue 24: 3) -------------

#: a table shows at most this many body rows on the page; the rest are folded below it
#: (:func:`fold_long_table`)
LONG_TABLE_ROWS = 20
#: a table by site has one column per site up to this many sites; with more, a summary per
#: row is shown and the full table (one row per site) folded (:func:`show_counts_by_site`)
MAX_SITE_COLUMNS = 12

_TABLE = re.compile(r"^(?P<open><table\b[^>]*>)(?P<caption><caption>.*?</caption>)?"
                    r"(?P<head><thead>.*?</thead>)<tbody>(?P<body>.*?)</tbody>"
                    r"(?P<foot><tfoot>.*?</tfoot>)?</table>$", re.S)
_ROW = re.compile(r"<tr\b.*?</tr>", re.S)


def fold_long_table(markup: str, *, visible: int = LONG_TABLE_ROWS, what: str = "rows") -> str:
    """A table's HTML with only its first ``visible`` body rows on the page, the others in a
    folded ``<details>`` below it (opened by the reader; no JavaScript).

    ``markup`` is one table as :func:`show_table`, :func:`show_counts` or
    :func:`show_percent_of_group` return it with ``show=False``; anything else (a sentence
    saying there is nothing to show, a table of ``visible`` rows or fewer) is returned as it
    is. The table is split after it was built, so disclosure control was applied to the whole
    table, never to a part. Both parts keep the header and the notes (``tfoot``); the folded
    part's caption says which rows it holds and its summary how many ``what`` it holds.

    Examples
    --------
    >>> rows = "".join(f"<tr><th>t{i}</th><td>{i}</td></tr>" for i in range(3))
    >>> table = f"<table><caption>C</caption><thead><tr><th>x</th></tr></thead><tbody>{rows}</tbody></table>"
    >>> out = fold_long_table(table, visible=2, what="themes")
    >>> out.count("<tr><th>t"), "<summary>The other 1 themes (rows 3 to 3)</summary>" in out
    (3, True)
    >>> fold_long_table(table, visible=3) == table
    True
    """
    if visible < 1:
        raise ValueError("visible must be at least 1")  # a programming error
    match = _TABLE.match(markup.strip()) if isinstance(markup, str) else None
    if match is None:
        return markup
    rows = _ROW.findall(match["body"])
    if len(rows) <= visible:
        return markup
    caption = match["caption"] or ""
    inner = caption[len("<caption>"):-len("</caption>")] if caption else ""
    rest = len(rows) - visible
    span = f"rows {visible + 1} to {len(rows)}"

    def table(part, cap):
        return (f"{match['open']}{cap}{match['head']}<tbody>{''.join(part)}</tbody>"
                f"{match['foot'] or ''}</table>")

    first = table(rows[:visible], caption)
    more_caption = f"<caption>{inner} (continued: {span})</caption>" if inner else \
        f"<caption>Continued: {span}</caption>"
    return (f"{first}\n<p>The first {visible} of {len(rows)} {html.escape(what)} are shown; "
            f"the other {rest} are in the folded table below.</p>\n"
            f'<details class="sp-more"><summary>The other {rest} {html.escape(what)} '
            f"({span})</summary>\n{table(rows[visible:], more_caption)}\n</details>")


def show_long_table(markup: str, *, visible: int = LONG_TABLE_ROWS, what: str = "rows",
                    show: bool = True):
    """Display :func:`fold_long_table` of ``markup`` (or, with ``show=False``, return it)."""
    from IPython.display import HTML

    out = fold_long_table(markup, visible=visible, what=what) if markup else markup
    if not show:
        return out
    if out:
        _display(HTML(out))
    return None


def percent_of_group_cells(counts: pd.DataFrame, group_sizes: pd.Series, k: int,
                           shown: pd.DataFrame, *, decimals: int = 0,
                           rounding: int | None = None) -> pd.DataFrame:
    """The text :func:`show_percent_of_group` shows in each cell, from the protected counts
    ``shown`` (``disclosure.protect_counts(counts, k, totals="none").shown``) so that the
    protection is not computed a second time: ``100 * count / group size`` at ``decimals``
    places (of the rounded count and size under ``rounding``), ``"[c]"`` where the count is
    hidden or the group has fewer than k people."""
    sizes = group_sizes.reindex(counts.columns)
    if rounding:
        counts = pd.DataFrame(disclosure.round_counts(counts.to_numpy(), rounding),
                              index=counts.index, columns=counts.columns)
        sizes = pd.Series(disclosure.round_counts(sizes.to_numpy(), rounding),
                          index=sizes.index)
    pct = 100 * counts.div(sizes.where(sizes > 0), axis=1)
    out = pct.round(decimals).astype(object)
    hidden = shown.apply(lambda col: ~col.astype(str).str.fullmatch(r"\d+"))
    out = out.where(~hidden, disclosure.COMPLEMENTARY_MARKER)
    out.loc[:, (sizes < k).to_numpy()] = disclosure.COMPLEMENTARY_MARKER
    return out.map(lambda v: v if isinstance(v, str) else f"{v:.{decimals}f}")


def site_spread(counts: pd.DataFrame, group_sizes: pd.Series, k: int, *,
                rounding: int | None = None, protected=None) -> pd.DataFrame:
    """Each row of a table by site (rows: themes, columns: sites) summarised over its sites,
    from what the protected table shows and nothing else.

    Returns
    -------
    DataFrame
        Indexed as ``counts``: ``sites_shown`` (sites whose count is shown and is at least
        k), ``sites_hidden`` (sites whose count is hidden: below k, or hidden so that another
        cannot be worked out), ``sites_none`` (sites where the count shown is 0), and over the
        sites counted in ``sites_shown``, the ``lowest``, ``median`` and ``highest`` of the
        percentages shown for them (:func:`percent_of_group_cells`; missing when no site's
        percentage is shown). Every figure is read off cells the full table publishes, so
        the summary discloses nothing that table does not.
    """
    if protected is None:
        protected = disclosure.protect_counts(counts, k, totals="none", rounding=rounding)
    pct = percent_of_group_cells(counts, group_sizes, k, protected.shown, rounding=rounding)
    hidden = protected.pattern.to_numpy() != ""
    raw = counts.to_numpy()
    shown_k = ~hidden & (raw >= k)
    values = pd.DataFrame(np.where(shown_k & (pct.to_numpy() != disclosure.COMPLEMENTARY_MARKER),
                                   pct.to_numpy(), np.nan), index=counts.index,
                          columns=counts.columns).apply(pd.to_numeric, errors="coerce")
    return pd.DataFrame({"sites_shown": shown_k.sum(axis=1),
                         "sites_hidden": hidden.sum(axis=1),
                         "sites_none": (~hidden & (raw == 0)).sum(axis=1),
                         "lowest": values.min(axis=1), "median": values.median(axis=1),
                         "highest": values.max(axis=1)}, index=counts.index)


def counts_by_site_html(counts: pd.DataFrame, group_sizes: pd.Series, k: int, *,
                        caption: str, rounding: int | None = None, protected=None) -> str:
    """A table by site turned round, one row per site: each cell the count as
    :func:`show_counts` shows it, followed by the percentage of the site's group as
    :func:`show_percent_of_group` shows it (``"12 (40%)"``; only the count where the
    percentage is hidden), protected once for the whole table (``totals="none"``)."""
    if protected is None:
        protected = disclosure.protect_counts(counts, k, totals="none", rounding=rounding)
    shown = protected.shown
    pct = percent_of_group_cells(counts, group_sizes, k, shown, rounding=rounding)
    pattern = protected.pattern
    head = "".join(f'<th scope="col">{html.escape(str(t))}</th>' for t in counts.index)
    corner = html.escape(str(counts.columns.name or "site"))
    rows = []
    for site in counts.columns:
        cells = []
        for theme in counts.index:
            text, why, p = str(shown.at[theme, site]), pattern.at[theme, site], pct.at[theme, site]
            full = text if why or p == disclosure.COMPLEMENTARY_MARKER else f"{text} ({p}%)"
            attrs = f' data-count="" data-suppressed="{why}"' if why else \
                f' data-count="{html.escape(text)}"'
            cells.append(f"<td{attrs}>{html.escape(full)}</td>")
        rows.append(f'<tr><th scope="row">{html.escape(str(site))}</th>{"".join(cells)}</tr>')
    notes = disclosure.suppression_notes(pattern, k, rounding)
    foot = (f'<tfoot><tr><td colspan="{len(counts.index) + 1}">'
            f"{html.escape(' '.join(notes))}</td></tr></tfoot>") if notes else ""
    return (f'<table class="sp-counts" data-k="{k}"><caption>{html.escape(caption)}</caption>'
            f'<thead><tr><th scope="col">{corner}</th>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody>{foot}</table>")


def show_counts_by_site(counts: pd.DataFrame, group_sizes: pd.Series, k: int, *,
                        caption: str, percent_caption: str, rounding: int | None = None,
                        max_columns: int = MAX_SITE_COLUMNS, what: str = "theme",
                        show: bool = True):
    """A table of counts by site (rows such as themes, one column per site) and the
    percentages of each site's group, readable however many sites there are.

    Up to ``max_columns`` sites: exactly :func:`show_counts` (``totals="none"``) then
    :func:`show_percent_of_group`. With more sites a column per site cannot be read: a
    sentence, then :func:`site_spread` per row (how many sites' counts are shown, hidden or
    0, and the lowest, median and highest percentage shown), then the full table turned
    round (:func:`counts_by_site_html`, one row per site, count and percentage in each
    cell) folded in ``<details>``. The protection is computed once, for the whole table,
    as :func:`show_counts` computes it, so every cell is hidden exactly as it would be in the
    wide table (and as the site reports hide their column of it).
    """
    from IPython.display import HTML

    if counts.empty:
        return _nothing_to_show(caption, show)
    if counts.shape[1] <= max_columns:
        parts = [show_counts(counts, k, totals="none", caption=caption, rounding=rounding,
                             show=False),
                 show_percent_of_group(counts, group_sizes, k, caption=percent_caption,
                                       rounding=rounding, show=False)]
    else:
        protected = disclosure.protect_counts(counts, k, totals="none", rounding=rounding,
                                              label=caption)
        spread = site_spread(counts, group_sizes, k, rounding=rounding, protected=protected)
        n_sites = counts.shape[1]
        spread = spread.rename(columns={
            "sites_shown": f"Sites shown ({k} or more)", "sites_hidden": "Sites hidden",
            "sites_none": "Sites with none", "lowest": "Lowest %", "median": "Median %",
            "highest": "Highest %"})
        spread.index.name = what
        intro = (f"<p>Interviews came from {n_sites} sites, too many for a column each. For "
                 f"each {html.escape(what)}, the first table says at how many sites the "
                 f"number of people is shown (at least {k}), hidden or none, and the lowest, "
                 "median and highest percentage of the people interviewed among the sites "
                 "where it is shown. The full table, one row per site with the number and "
                 "the percentage, is folded below it.</p>")
        summary = show_table(spread, caption=f"Each {what} across the {n_sites} sites with "
                                                     "interviews",
                             index=True, decimals=0, show=False,
                             missing={"Lowest %": "–", "Median %": "–", "Highest %": "–"})
        full = counts_by_site_html(counts, group_sizes, k, rounding=rounding,
                                   protected=protected,
                                   caption=f"{caption}, one row per site, with the "
                                           "percentage of the people interviewed there")
        parts = [intro, summary,
                 f'<details class="sp-more"><summary>The table by site: {n_sites} '
                 f"sites, one row each</summary>\n{full}\n</details>"]
    markup = "\n".join(p for p in parts if p)
    if not show:
        return markup
    _display(HTML(markup))
    return None
