"""The index page of a run: every report with its status, and headline figures per site.

The figures come from the small JSON summaries the notebooks write, with disclosure control
(:mod:`spanalysis.privacy.disclosure`) applied again here.
"""
from __future__ import annotations

import datetime as _dt
import html
import json
import textwrap
from dataclasses import asdict
from pathlib import Path
from urllib.parse import quote as _url_quote

from spanalysis.io import atomic_write
from spanalysis.report.display import protect_summary
from spanalysis.report.jobs import BuildResult, ReportResult

__all__ = ["write_index"]

_INDEX_CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
       color: #1a1a1a; background: #ffffff; max-width: 72rem; margin: 0 auto;
       padding: 1rem 1.25rem 3rem; line-height: 1.5; }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 1rem; top: 1rem; background: #fff; padding: .25rem .5rem; }
table { border-collapse: collapse; width: 100%; margin: .75rem 0 1.5rem; }
caption { text-align: left; font-weight: 600; padding: .25rem 0; }
th, td { border-bottom: 1px solid #8a8a8a; padding: .4rem .6rem; text-align: left;
         vertical-align: top; }
thead th { border-bottom: 2px solid #1a1a1a; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.status-failed { color: #8b0000; font-weight: 700; }
.status-ok, .status-skipped { color: #0a5c0a; }
a { color: #0b4f9c; }
.note { color: #333333; font-size: .95rem; }
footer { margin-top: 2rem; border-top: 1px solid #8a8a8a; font-size: .9rem; color: #333; }
img.main-figure { max-width: 100%; height: auto; }
.table-box { overflow-x: auto; margin: .75rem 0 1.5rem; }
.table-box:focus { outline: 2px solid #0b4f9c; }
.table-box table { margin: 0; }
figure { margin: 0 0 1rem; }
@media print {
  .table-box { overflow: visible; }
  table { font-size: 8.5pt; }
  th, td { padding: .2rem .3rem; overflow-wrap: anywhere; }
}
code { font-family: ui-monospace, Consolas, monospace; background: #f2f2f2; padding: 0 .2rem; }
a:focus-visible { outline: 3px solid #0b4f9c; outline-offset: 2px; }
.site-controls { display: flex; flex-wrap: wrap; align-items: flex-start; gap: .5rem 1rem;
                 margin: .5rem 0 1rem; }
.site-controls details { flex: 2 1 20rem; }
.site-controls summary { cursor: pointer; font-weight: 600; padding: .25rem 0; }
.site-controls summary:focus-visible { outline: 3px solid #0b4f9c; outline-offset: 2px; }
.site-controls .filters { display: flex; flex-wrap: wrap; gap: .5rem 1rem; }
.site-controls fieldset { border: 1px solid #8a8a8a; border-radius: 4px; margin: 0;
                          padding: .25rem .75rem .5rem; min-width: 0; flex: 1 1 15rem; }
.site-controls legend { font-weight: 600; padding: 0 .25rem; }
.site-controls .option { display: flex; align-items: center; gap: .5rem; min-height: 1.75rem; }
.site-controls input { width: 1.1rem; height: 1.1rem; margin: 0; flex: none;
                       accent-color: #0b4f9c; }
.site-controls input:focus-visible { outline: 3px solid #0b4f9c; outline-offset: 2px; }
.site-controls input[type="radio"]:checked + label { font-weight: 600; }
.jump { margin: .25rem 0 .5rem; }
.jump a { display: inline-block; min-width: 1.6rem; padding: .15rem .3rem; }
.site-index tr:target > * { background: #fff3bf; }
.print-only { display: none; }
@media print {
  .site-controls, .jump { display: none; }
  .site-index .ordering:not(.default) { display: none; }
  .print-only { display: block; }
}
"""


def _href(rel: str) -> str:
    return html.escape(_url_quote(rel, safe="/"), quote=True)


def _status_label(r: ReportResult) -> str:
    return {"ok": "Ready", "skipped": "Ready (unchanged)", "failed": "FAILED"}[r.status]


def _problem(r: ReportResult) -> str:
    if r.status != "failed":
        return ""
    where = ""
    if r.cell is not None:
        where = f"cell {r.cell}"
    if r.cell_source:
        where += (": " if where else "") + r.cell_source[:120]
    text = html.escape(r.error or "unknown error")
    if where:
        text = f"In {html.escape(where)}: {text}"
    if r.log:
        text += f' (<a href="{_href(r.log)}">log</a>)'
    return text


def _report_link(r: ReportResult) -> str:
    label = r.site if r.kind == "site" and r.site else r.title
    if r.status == "failed":
        return html.escape(label)
    return f'<a href="{_href(r.html)}">{html.escape(label)}</a>'


def _fmt_change(value: float) -> str:
    """A change to one decimal with its sign, by :func:`~spanalysis.report.display.format_value`.

    A non-zero change that one decimal would show as 0.0 gets the decimals it needs (up to
    three: -0.03 is "−0.03", not "> −0.1", which reads badly as an interval bound);
    beyond that format_value's "< 0.001" form is used.

    >>> [_fmt_change(v) for v in (5.26, -0.03, 0.004, -0.0001, 0.0)]
    ['+5.3', '−0.03', '+0.004', '> −0.001', '0.0']
    """
    from spanalysis.report.display import format_value

    value = float(value)
    decimals = next((d for d in (1, 2, 3) if round(abs(value), d) != 0), 3) if value else 1
    text = format_value(value, decimals)
    if value > 0 and text[0].isdigit() and text != "0.0":
        text = "+" + text
    return text.replace("-", "\u2212")


def _as_shown(value: float) -> float:
    """A change rounded to the decimals :func:`_fmt_change` shows it with.

    >>> [_as_shown(v) for v in (9.94, 9.86, -0.034, 0.0004)]
    [9.9, 9.9, -0.03, 0.0]
    """
    value = float(value)
    decimals = next((d for d in (1, 2, 3) if round(abs(value), d) != 0), 3) if value else 1
    return round(value, decimals) + 0.0          # + 0.0: no "-0.0"


def _withheld(value) -> bool:
    """A count a summary withheld (written as the text "<k")."""
    return isinstance(value, str) and value.startswith("<")


def _site_rows(results: list[ReportResult], k: int, timepoints: int = 2) -> list[dict]:
    """Headline figures per site with disclosure control applied (all text, escaped later).
    A site with no pairs has its change "not measured" (nothing is withheld): the study has
    one time point (``timepoints``) or nobody there answered at both."""
    import pandas as pd

    from spanalysis.privacy import disclosure

    sites = [r for r in results if r.kind == "site"]
    if not sites:
        return []
    rows = []
    for r in sites:
        s = r.summary or {}
        primary = s.get("primary") or {}
        rows.append({"site": r.site, "referred": s.get("referred"), "pairs": s.get("pairs"),
                     "n_pairs": primary.get("n_pairs"), "change_mean": primary.get("change_mean"),
                     "ci_low": primary.get("ci_low"), "ci_high": primary.get("ci_high"),
                     "confidence": primary.get("confidence"),
                     "scale": f"{str(primary.get('instrument', '')).upper()} "
                              f"{primary.get('scale', '')}".strip(),
                     "themes": s.get("themes") or []})
    frame = pd.DataFrame(rows)
    # A summary writes a count from 1 to k-1 as "<k" and a count its report hides to protect
    # another site's as "[c]" (the site report hides at least what the whole-study table by
    # site hides). Here "<k" takes part in the suppression as a small count (1) and "[c]" as
    # a count of k; whatever the summary hid stays hidden, so the index never shows a cell
    # the whole-study reports hide.
    forced = {}
    for column in ("referred", "n_pairs"):
        forced[column] = pd.Series([v == disclosure.COMPLEMENTARY_MARKER for v in frame[column]],
                                   index=frame.index)
        frame[column] = [1 if _withheld(v) else k if v == disclosure.COMPLEMENTARY_MARKER
                         else v for v in frame[column]]
    have = frame["referred"].notna()
    shown_referred = pd.Series("not available", index=frame.index, dtype=object)
    if have.any():
        # counts per site add up to the study total, which the study reports publish:
        # suppress_series protects that total (complementary suppression)
        shown_referred[have] = disclosure.suppress_series(
            frame.loc[have, "referred"].astype(int), k, totals="none",
            label="index: people referred").to_numpy()
        shown_referred[forced["referred"]] = disclosure.COMPLEMENTARY_MARKER
    stats = frame.loc[frame["n_pairs"].notna(), ["n_pairs", "change_mean", "ci_low", "ci_high"]]
    shown_pairs = pd.Series("not available", index=frame.index, dtype=object)
    shown_change = pd.Series("not available", index=frame.index, dtype=object)
    shown_interval = {}          # row -> (mean, low, high) of a change the page shows
    if len(stats):
        protected = disclosure.withhold_small_groups(
            stats.astype({"n_pairs": int}).astype({"change_mean": float, "ci_low": float,
                                                   "ci_high": float}),
            "n_pairs", k, stat_cols=["change_mean", "ci_low", "ci_high"], totals="none",
            label="index: pairs")
        shown_pairs[stats.index] = protected["n_pairs"].to_numpy()
        again = forced["n_pairs"][stats.index] & (protected["withheld"] == "").to_numpy()
        protected.loc[again.to_numpy(), "withheld"] = "complementary"
        shown_pairs[stats.index[again.to_numpy()]] = disclosure.COMPLEMENTARY_MARKER
        for i in stats.index:
            p = protected.loc[i]
            if p["withheld"] or frame.loc[i, "change_mean"] is None \
                    or pd.isna(frame.loc[i, "change_mean"]):
                if p["withheld"] == "complementary":
                    shown_change[i] = "withheld (so a smaller site's figures cannot be worked out)"
                elif not p["withheld"] and frame.loc[i, "n_pairs"] == 0:
                    shown_change[i] = ("not measured (one time point)" if timepoints < 2 else
                                       "not measured (no one answered at both time points)")
                elif p["withheld"] or (frame.loc[i, "n_pairs"] or 0) < k:
                    shown_change[i] = f"withheld (fewer than {k} pairs)"
                else:
                    shown_change[i] = "not estimable"
            else:
                shown_interval[i] = (float(p["change_mean"]), float(p["ci_low"]),
                                     float(p["ci_high"]))
                level = frame.loc[i, "confidence"] or 0.95
                shown_change[i] = (f"{_fmt_change(float(p['change_mean']))} "
                                   f"({float(level):.0%} CI {_fmt_change(float(p['ci_low']))} "
                                   f"to {_fmt_change(float(p['ci_high']))})")
    out = []
    for i, r in enumerate(sites):
        themes = [t for t in frame.loc[i, "themes"]
                  if isinstance(t, dict) and not _withheld(t.get("n_voiced"))
                  and (t.get("n_voiced") or 0) >= k][:3]
        primary = (r.summary or {}).get("primary") or {}
        out.append({"result": r, "referred": shown_referred[i], "pairs": shown_pairs[i],
                    "change": shown_change[i], "scale": frame.loc[i, "scale"],
                    "interval": shown_interval.get(i),
                    "outcome": (str(primary.get("instrument", "")), str(primary.get("scale", ""))),
                    "themes": "; ".join(str(t.get("label") or t.get("theme")) for t in themes)
                    or f"none voiced by {k} or more people"})
    return out


#: The orderings of the site table: (key, "Sort the sites by" label). Each is rendered as a
#: table of its own, sorted here; CSS shows the one whose radio button is checked. The first
#: is the default: the one shown first without CSS and the only one printed.
ORDERINGS = (
    ("name", "Site name (A to Z)"),
    ("referred", "People referred (most first)"),
    ("pairs", "Pairs on the primary outcome (most first)"),
    ("change", "Change on the primary outcome (most improvement first)"),
)
#: Filters: (group, legend, [(value, label)]); a row has one class ``<group>-<value>`` per group
#: and is hidden on screen while that value's checkbox is cleared.
FILTERS = (
    ("st", "Show sites whose report is", (
        ("ready", "Ready"),
        ("withheld", "Ready, change withheld for privacy"),
        ("failed", "Failed"))),
    ("dir", "Show sites whose change on the primary outcome is", (
        ("better", "An improvement (interval wholly on the better side of no change)"),
        ("unclear", "Unclear (interval includes no change)"),
        ("worse", "A worsening (interval wholly on the worse side)"),
        ("none", "Not shown"))),
)


def _site_index_css() -> str:
    """The screen rules that sort and filter the site table without a script.

    ``:has()`` (Chromium 105, Safari 15.4, Firefox 121) lets a checked input anywhere in
    ``.site-index`` hide the other orderings and the filtered rows with ``display: none``, so
    that a screen reader reads one table, not four. A browser without ``:has()`` drops these
    rules and shows every ordering, the default first: nothing is lost. In print none of
    them apply: the default ordering prints with every row (``_INDEX_CSS``'s print rules).
    """
    rules = [f".site-index:has(#sort-{key}:checked) .ordering:not(#by-{key}) "
             "{ display: none; }" for key, _ in ORDERINGS]
    rules += [f".site-index:has(#show-{group}-{value}:not(:checked)) tr.{group}-{value} "
              "{ display: none; }" for group, _, options in FILTERS for value, _ in options]
    return "@media screen {\n" + "\n".join(f"  {rule}" for rule in rules) + "\n}\n"


def _name_key(name: str) -> tuple[str, str]:
    """Alphabetical order of site names: accents and case ignored ("Église" sorts with E).

    >>> sorted(["oak", "Église", "Ash", "eagle"], key=_name_key)
    ['Ash', 'eagle', 'Église', 'oak']
    """
    import unicodedata

    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return folded.casefold(), name


def _letter(name: str) -> str:
    """The jump-list letter of a site name: A to Z, or "#" for any other first character."""
    first = _name_key(name)[0][:1].upper()
    return first if "A" <= first <= "Z" else "#"


def _shown_count(value) -> int | None:
    """A count the page shows as a number; None for "<k", "[c]" and "not available"."""
    text = str(value)
    return int(text) if text.isdigit() else None


def _state(row: dict) -> str:
    if row["result"].status == "failed":
        return "failed"
    return "withheld" if str(row["change"]).startswith("withheld") else "ready"


def _direction(row: dict, study) -> str:
    """Which side of no change the shown interval lies on, for the scale's direction
    (:func:`spanalysis.report.main_points.scale_facts`); "none" when no change is shown."""
    from spanalysis.report import main_points

    if row["interval"] is None:
        return "none"
    _, low, high = row["interval"]
    lower_better = main_points.scale_facts(study, *row["outcome"])["direction"] == "lower"
    if low > 0:
        return "worse" if lower_better else "better"
    if high < 0:
        return "better" if lower_better else "worse"
    return "unclear"


def _ordered(rows: list[dict], key: str, study) -> list[dict]:
    """The site rows in one ordering (:data:`ORDERINGS`).

    Only what the page shows decides the order: a change sorts by its value as shown
    (:func:`_as_shown`), so that two changes shown alike are in name order; rows whose
    count or change is withheld
    ("<k", "[c]", "withheld ...") or not available come after the shown ones, in name
    order, whatever their true values, so that a row's place gives nothing hidden away.
    Ties are broken by name.
    """
    from spanalysis.report import main_points

    def name(row):
        return _name_key(str(row["result"].site))

    if key == "name":
        return sorted(rows, key=name)

    def value(row):
        if key == "change":
            if row["interval"] is None:
                return None
            lower_better = main_points.scale_facts(study, *row["outcome"])["direction"] \
                == "lower"
            shown = _as_shown(row["interval"][0])
            return -shown if lower_better else shown
        return _shown_count(row[key])

    shown = [r for r in rows if value(r) is not None]
    rest = [r for r in rows if value(r) is None]
    return sorted(shown, key=lambda r: (-value(r), name(r))) + sorted(rest, key=name)


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _site_section(rows: list[dict], study, scale: str) -> str:
    """The site reports: a sentence on failed and withheld sites, the sort and filter
    controls (radio buttons and checkboxes in labelled fieldsets; no script), then the site
    table once per ordering, the default first with an A to Z jump list. One site: its row
    alone, with nothing to sort or filter. A study without qualitative material has no
    themes column."""
    k = study.min_cell_size
    if not rows:
        return "<p>No site reports were made in this run.</p>"
    several = len(rows) > 1
    orderings = ORDERINGS if several else ORDERINGS[:1]
    themes = getattr(study, "qualitative", None) is not None
    for row in rows:
        row["classes"] = {"st": _state(row), "dir": _direction(row, study)}
    n_failed = sum(row["classes"]["st"] == "failed" for row in rows)
    n_withheld = sum(row["classes"]["st"] == "withheld" for row in rows)
    said = [f"{_plural(len(rows), 'site', 'sites')}."]
    if n_failed:
        said.append(f"{_plural(n_failed, 'site report', 'site reports')} failed: the Problem "
                    "column says where and why, and a rerun renders only what failed.")
    if n_withheld:
        said.append(f"At {_plural(n_withheld, 'site', 'sites')} the change is withheld: fewer "
                    f"than {k} people answered at both time points, or showing it would let a "
                    "smaller site's figures be worked out.")
    if several:
        said.append("Sort and filter the sites below (this works without a script or a "
                    "network).")
    parts = [f"<p>{html.escape(' '.join(said))}</p>", '<div class="site-index">']
    if several:
        parts += _site_controls(rows)
    what = f" on {html.escape(scale)}" if scale else ""
    head = (f'<thead><tr><th scope="col">Site</th><th scope="col">Status</th>'
            f'<th scope="col">People referred</th>'
            f'<th scope="col">Pairs on the primary outcome</th>'
            f'<th scope="col">Mean change{what}</th>'
            + (f'<th scope="col">Themes voiced most (by {k} or more people)</th>' if themes
               else "")
            + '<th scope="col">Problem</th></tr></thead>')
    for i, (key, label) in enumerate(orderings):
        ordered = _ordered(rows, key, study)
        body, letters = [], []
        for row in ordered:
            r = row["result"]
            anchor = ""
            if key == "name" and _letter(str(r.site)) not in letters:
                letters.append(_letter(str(r.site)))
                anchor = f' id="sites-{"other" if letters[-1] == "#" else letters[-1]}"'
            classes = " ".join(f"{g}-{v}" for g, v in row["classes"].items())
            body.append(
                f'<tr class="{classes}"{anchor}><th scope="row">{_report_link(r)}</th>'
                f'<td class="status-{r.status}">{_status_label(r)}</td>'
                f'<td class="num">{html.escape(str(row["referred"]))}</td>'
                f'<td class="num">{html.escape(str(row["pairs"]))}</td>'
                f'<td>{html.escape(str(row["change"]))}</td>'
                + (f'<td>{html.escape(row["themes"])}</td>' if themes else "")
                + f'<td>{_problem(r)}</td></tr>')
        caption = (f"Site reports with headline figures, by {label[0].lower()}{label[1:]}"
                   if several else "Site report with headline figures")
        if key != "name":
            caption += "; sites whose figure is withheld or not available come last"
        parts.append(f'<div class="ordering{" default" if i == 0 else ""}" id="by-{key}">')
        if key == "name" and several:
            links = " ".join(
                '<a href="#sites-other" aria-label="Names starting with another character">#</a>'
                if c == "#" else f'<a href="#sites-{c}">{c}</a>' for c in letters)
            parts.append(f'<nav class="jump" aria-label="Find a site by its first letter">'
                         f"Find a site: {links}</nav>")
        parts.append(_boxed(f"<table><caption>{html.escape(caption)}</caption>{head}<tbody>"
                            + "".join(body) + "</tbody></table>", caption))
        parts.append("</div>")
    if several:
        parts.append('<p class="print-only">Printed: every site, by site name.</p>')
    parts.append("</div>")
    return "\n".join(parts)


def _site_controls(rows: list[dict]) -> list[str]:
    """The sort (radio buttons) and filter (checkboxes, folded) controls of the site table,
    in labelled fieldsets; a filter is left out when every site is of one kind."""
    parts = ['<div class="site-controls">', '<fieldset><legend>Sort the sites by</legend>']
    for i, (key, label) in enumerate(ORDERINGS):
        parts.append(f'<div class="option"><input type="radio" name="site-order" '
                     f'id="sort-{key}"{" checked" if i == 0 else ""}>'
                     f'<label for="sort-{key}">{html.escape(label)}</label></div>')
    parts.append("</fieldset>")
    filters = []
    for group, legend, options in FILTERS:
        counts = {value: sum(row["classes"][group] == value for row in rows)
                  for value, _ in options}
        present = [(value, label) for value, label in options if counts[value]]
        if len(present) < 2:
            continue                 # one kind of site only: nothing to filter
        filters.append(f"<fieldset><legend>{html.escape(legend)}</legend>")
        for value, label in present:
            filters.append(f'<div class="option"><input type="checkbox" '
                           f'id="show-{group}-{value}" checked><label for="show-{group}-{value}">'
                           f'{html.escape(label)} ({_plural(counts[value], "site", "sites")})'
                           "</label></div>")
        filters.append("</fieldset>")
    if filters:
        # folded, so that on a phone the table is not a screen away; a cleared box keeps
        # its rows hidden while the fold is closed
        parts.append("<details><summary>Filter the sites (by status, by change)</summary>"
                     '<div class="filters">' + "".join(filters) + "</div></details>")
    parts.append("</div>")
    return parts


def _outcome_label(study, instrument: str, scale: str) -> str:
    """A scale as a column header or a sentence names it: as the reports' tables name it
    (:func:`spanalysis.report.display.scale_labels`: "WEMWBS total (14-70)"), else the
    instrument and scale ids."""
    from spanalysis.report.display import scale_labels

    labels = scale_labels(study) if getattr(study, "scale_info", None) is not None else {}
    return labels.get(f"{instrument} {scale}") or f"{instrument.upper()} {scale}".strip()


def _study_overview(results: list[ReportResult], k: int, study=None) -> str:
    """One sentence of whole-study headline figures from notebooks 01 and 02's summaries."""
    from spanalysis.report.display import count_text

    by_name = {r.name: (r.summary or {}) for r in results if r.kind == "study"}
    parts = []
    referred = by_name.get("01_data_quality", {}).get("referred")
    if isinstance(referred, int) or _withheld(referred):
        parts.append(f"{count_text(referred, k)} people referred")
    primary = by_name.get("02_outcome_change", {}).get("primary") or {}
    if primary.get("change_mean") is not None and not primary.get("small_group"):
        level = primary.get("confidence") or 0.95
        label = _outcome_label(study, str(primary.get("instrument", "")),
                               str(primary.get("scale", "")))
        parts.append(f"mean change on {label} {_fmt_change(primary['change_mean'])} "
                     f"({level:.0%} CI {_fmt_change(primary['ci_low'])} to "
                     f"{_fmt_change(primary['ci_high'])}; "
                     f"{count_text(primary.get('n_pairs', 0), k)} pairs)")
    return ("Whole study: " + "; ".join(parts) + ".") if parts else ""


def _boxed(table: str, label: str) -> str:
    """A table in its own labelled box that scrolls sideways on a narrow screen (the page
    never does), reachable by keyboard."""
    return (f'<div class="table-box" role="region" tabindex="0" '
            f'aria-label="{html.escape(label, quote=True)}">{table}</div>')


def _main_points(results: list[ReportResult], study) -> str:
    """The "Main points" list from the whole-study reports' summaries
    (:func:`spanalysis.report.main_points.index_points`), or "" when no whole-study report
    wrote one."""
    from spanalysis.report import main_points

    summaries = {r.name: r.summary for r in results if r.kind == "study" and r.summary}
    if not summaries:
        return ""
    points = main_points.index_points(summaries, study)
    items = "".join(f"<li>{html.escape(text)}</li>" for _, text in points)
    return f'<h2 id="main-points">Main points</h2>\n<ul class="main-points">{items}</ul>'


def _figure(results: list[ReportResult], study, k: int) -> str:
    """Change on the primary outcome in the whole study and at each site, with intervals,
    as an inline SVG image with alt text holding the numbers; "" with nothing to draw.

    Only what the page's table shows is drawn: a site whose change the table withholds is
    labelled "withheld", and the numbers of people are the table's."""
    import base64

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from spanalysis.report import main_figures, main_points

    by_name = {r.name: (r.summary or {}) for r in results if r.kind == "study"}
    primary = by_name.get("02_outcome_change", {}).get("primary") or {}
    rows = []
    if primary.get("change_mean") is not None and not primary.get("small_group"):
        rows.append({"label": "Whole study", "mean": float(primary["change_mean"]),
                     "low": float(primary["ci_low"]), "high": float(primary["ci_high"]),
                     "marker": "D", "colour": main_figures.BLUE})
    for row in _site_rows(results, k, len(study.timepoints)):
        p = (row["result"].summary or {}).get("primary") or {}
        label = str(row["result"].site)
        if str(row["change"]).startswith(("withheld", "not")):
            rows.append({"label": label, "mean": None, "note": str(row["change"])})
        else:
            rows.append({"label": label, "mean": float(p["change_mean"]),
                         "low": float(p["ci_low"]), "high": float(p["ci_high"])})
    if not any(r["mean"] is not None for r in rows):
        return ""
    instrument, scale = primary.get("instrument"), primary.get("scale")
    if not instrument:
        first = next((r for r in results if r.kind == "site" and (r.summary or {}).get(
            "primary")), None)
        p = first.summary["primary"] if first else {}
        instrument, scale = p.get("instrument"), p.get("scale")
    name = main_points.outcome_name(study, str(instrument), str(scale))
    facts = main_points.scale_facts(study, str(instrument), str(scale))
    better = "lower is better" if facts["direction"] == "lower" else "higher is better"
    if sum(r["label"] != "Whole study" for r in rows) > FIGURE_SITE_ROWS:
        fig, alt = _many_sites_figure(rows, name, better, facts["direction"] == "lower")
    else:
        # 5 inches wide: legible at full size on a desktop and at 0.7 of it on a phone
        fig, ax = plt.subplots(figsize=(5.0, 1.3 + 0.4 * len(rows)), layout="constrained")
        main_figures.interval_rows(ax, rows, f"Mean change (follow-up minus baseline; "
                                             f"{better}), 95% CI")
        ax.set_title("Change on the primary outcome:\nthe whole study and each site",
                     loc="left", fontsize=10)
        alt = (f"Interval chart of the mean change on {name} ({better}): "
               + "; ".join(f"{r['label']}: " + (r["note"] if r["mean"] is None else
                           f"{main_points.signed_number(r['mean'])} (95% CI "
                           f"{main_points.signed_number(r['low'])} to "
                           f"{main_points.signed_number(r['high'])})")
                           for r in rows) + ". A dashed line marks no change.")
    from spanalysis.report import render

    svg = render.svg_text(fig)          # fixed ids, no date: the same bytes every run
    plt.close(fig)
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return (f'<figure><img class="main-figure" src="data:image/svg+xml;base64,{data}" '
            f'alt="{html.escape(alt, quote=True)}"></figure>')


#: above this many sites the index's figure draws every site as one thin, unlabelled row,
#: sorted by its change (the site table names them), instead of a labelled row each: at 200
#: sites labelled rows make a figure 80 inches tall that pushes the table off the first screens
FIGURE_SITE_ROWS = 30


def _many_sites_figure(rows: list[dict], name: str, better: str, lower_better: bool):
    """``(figure, alt text)``: each site's mean change with its interval as a thin row, the
    sites sorted from the largest improvement down, the whole study's interval as a band.
    Withheld sites are counted in the title, not drawn. The alt text gives the range of the
    site means and how many sites' intervals lie wholly on either side of zero."""
    import matplotlib.pyplot as plt

    from spanalysis.report import main_figures, main_points

    whole = next((r for r in rows if r["label"] == "Whole study" and r["mean"] is not None),
                 None)
    sites = [r for r in rows if r["label"] != "Whole study"]
    drawn = sorted((r for r in sites if r["mean"] is not None),
                   key=lambda r: (r["mean"] if lower_better else -r["mean"], r["label"]))
    withheld = len(sites) - len(drawn)
    fig, ax = plt.subplots(figsize=(5.0, 4.2), layout="constrained")
    if whole is not None:
        ax.axvspan(whole["low"], whole["high"], color=main_figures.BLUE, alpha=0.18, lw=0,
                   label="Whole study, 95% CI")
        ax.axvline(whole["mean"], color=main_figures.BLUE, lw=1.2)
    ys = list(range(len(drawn)))[::-1]
    ax.hlines(ys, [r["low"] for r in drawn], [r["high"] for r in drawn], color="0.35", lw=0.6)
    ax.plot([r["mean"] for r in drawn], ys, "s", color=main_figures.ORANGE, markersize=2.2,
            label="A site's mean change")
    ax.axvline(0, color="0.4", linestyle="--", linewidth=1)
    ax.set_yticks([])
    ax.set_ylabel(textwrap.fill("Sites, from the largest improvement down", 30))
    ax.set_xlabel(textwrap.fill(f"Mean change (follow-up minus baseline; {better}), 95% CI", 70))
    title = f"Change on the primary outcome at {len(drawn)} sites"
    if withheld:
        title += f"\n({withheld} more with the change withheld or not available)"
    ax.set_title(title, loc="left", fontsize=10)
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    above = sum(r["low"] > 0 for r in drawn)
    below = sum(r["high"] < 0 for r in drawn)
    sign = main_points.signed_number
    alt = (f"Interval chart of the mean change on {name} ({better}) at each of {len(drawn)} "
           "sites, sorted, without site names (the table below names them)"
           + (f"; the whole study: {sign(whole['mean'])} (95% CI {sign(whole['low'])} to "
              f"{sign(whole['high'])})" if whole is not None else "")
           + (f"; site means from {sign(min(r['mean'] for r in drawn))} to "
              f"{sign(max(r['mean'] for r in drawn))}; at {above} sites the interval lies "
              f"wholly above zero and at {below} wholly below it" if drawn else "")
           + (f"; {withheld} sites withheld or not available" if withheld else "")
           + ". A dashed line marks no change.")
    return fig, alt


def _made_at(result: BuildResult) -> _dt.datetime:
    """The run's render time (``SOURCE_DATE_EPOCH`` when set; report.clock), as every report's
    footer gives it."""
    from spanalysis.report import clock

    stamp = getattr(result, "render_time", None)
    return _dt.datetime.fromisoformat(stamp) if stamp else clock.render_time()


def write_index(result: BuildResult, study) -> Path:
    """Write ``index.html`` (and ``index.json``) for a batch of reports.

    ``index.json`` lists every report with its status and summary; the summaries' counts
    from 1 to k-1 are written as ``"<k"`` (:func:`spanalysis.report.display.protect_summary`).

    The page lists every report with its status (a failed report with its cell, message and
    log) and, per site, headline figures from the notebooks' JSON summaries: people
    referred and pairs (counts 1 to k-1 shown as "<k", with complementary suppression by
    :func:`spanalysis.privacy.disclosure.suppress_series`), change on the primary outcome with its
    confidence interval (withheld for fewer than k pairs,
    :func:`spanalysis.privacy.disclosure.withhold_small_groups`) and the themes voiced by most
    interviewed people (only themes voiced by k or more). Every text is HTML-escaped; the
    page is self-contained (no scripts, styles inline, no external reference).

    The site table can be sorted (:data:`ORDERINGS`) and filtered by status and by the
    direction of the change (:data:`FILTERS`) without a script: it is written once per
    ordering, already sorted, and CSS shows the ordering whose radio button is checked and
    hides the rows whose checkbox is cleared (:func:`_site_index_css`). A to Z links lead to
    the sites in name order. In print only the default ordering, with every row, appears.
    """
    from spanalysis.version import __version__

    k = study.min_cell_size
    study_rows = []
    for r in (r for r in result.results if r.kind == "study"):
        study_rows.append(
            f'<tr><th scope="row">{_report_link(r)}</th>'
            f'<td class="status-{r.status}">{_status_label(r)}</td><td>{_problem(r)}</td></tr>')
    site_rows = _site_rows(result.results, k, len(study.timepoints))
    failed = result.count("failed")
    status = (f"{len(result.results)} reports: {len(result.results) - failed} ready, "
              f"{failed} failed.")
    scale = next((_outcome_label(study, *row["outcome"]) for row in site_rows
                  if row["scale"]), "")
    parts = [f"""<!DOCTYPE html>
<html lang="en-GB"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(study.name)}: reports</title>
<style>{_INDEX_CSS}{_site_index_css()}</style></head>
<body><a class="skip" href="#main">Skip to the reports</a>
<main id="main">
<h1>{html.escape(study.name)}</h1>
{_main_points(result.results, study)}
{_figure(result.results, study, k)}
<p>{html.escape(status)}{' See the problem column for what went wrong.' if failed else ''}</p>
<p class="note">Every report opens offline, without internet. Counts from 1 to {k - 1} are
shown as &quot;&lt;{k}&quot;; &quot;[c]&quot; hides a count that would let a small one be worked
out from a total; statistics of groups of fewer than {k} people are withheld.</p>
<h2>Whole-study reports</h2>"""]
    overview = _study_overview(result.results, k, study)
    if overview:
        parts.append(f"<p>{html.escape(overview)}</p>")
    if study_rows:
        parts.append(_boxed('<table><caption>Reports on the whole study</caption><thead><tr>'
                            '<th scope="col">Report</th><th scope="col">Status</th>'
                            '<th scope="col">Problem</th></tr></thead><tbody>'
                            + "".join(study_rows) + "</tbody></table>",
                            "Reports on the whole study"))
    else:
        parts.append("<p>No whole-study reports were made in this run.</p>")
    parts.append('<h2 id="sites">Site reports</h2>')
    parts.append(_site_section(site_rows, study, scale))
    parts.append(f"""</main>
<footer><p>Made by spanalysis {html.escape(__version__)} on
{html.escape(_made_at(result).strftime('%d %B %Y, %H:%M UTC'))}.
Analysts: executed notebooks and logs are beside each report.</p></footer>
</body></html>
""")
    page = "\n".join(parts)
    path = result.out / "index.html"
    with atomic_write(path) as handle:
        handle.write(page)
    with atomic_write(result.out / "index.json") as handle:
        # the summaries obey the small-count rule again (as the page does), whatever wrote them
        # no durations: identical inputs give identical bytes (issue 24: 2); they are in the logs
        reports = [dict({key: v for key, v in asdict(r).items() if key != "seconds"},
                        summary=None if r.summary is None else
                        protect_summary(r.summary, k, rounding=getattr(study, "rounding", None)))
                   for r in result.results]
        json.dump({"study": study.name, "min_cell_size": k, "reports": reports}, handle,
                  indent=2, default=str)
    return path
