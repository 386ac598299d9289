"""Themes, quotes and the joint display of the site report notebook, as tested helpers.

:func:`site_themes`, :func:`quote_html` and :func:`joint_display_html` hold the logic, so that
no logic lives in a notebook cell.

Counts a site report shares with the whole-study reports
---------------------------------------------------------
A site report's flow counts are one row of report 01's table "participants at each stage, by
site", and its theme counts one column of report 03's "people who voiced each theme, by
site". Protecting each site's numbers on their own is not enough: if report 03 hides a small
site's 3 and, to protect it, a larger site's 7, a reader who finds the 7 in the larger site's
own report subtracts and recovers the 3 (issue 19, item 11). So :func:`site_flow` and
:func:`site_theme_counts` protect the *whole-study* table by site once, exactly as reports 01
and 03 do (same counts, same rule, so the same cells hidden), and each site report hides at
least the cells of its row or column that the whole-study table hides. The report index
shows what the site reports wrote, so it hides the same cells too.
"""
from __future__ import annotations

import html
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["site_themes", "quote_html", "joint_display_html", "themes_by_site", "site_flow",
           "site_theme_counts"]


#: whole-study tables by site already protected in this process, by content (see _joint)
_JOINT_CACHE: dict = {}
_JOINT_CACHE_SIZE = 16


def _joint(table: "pd.DataFrame", study, label: str):
    """The whole-study table by site protected as the whole-study report shows it.

    Every site report of a study protects the same two tables (its row or column is one
    site's); the secondary suppression of a table with many sites takes seconds. So the
    result is kept in the process, keyed on the table's content (its values, row and column
    names), the minimum cell size and the rounding: the same inputs give the same
    protection, whichever report asked first (a worker's warm kernel runs report after
    report: :mod:`spanalysis.report.execution`). Callers get copies.
    """
    import warnings

    import pandas as pd

    from spanalysis.privacy import disclosure

    key = (pd.util.hash_pandas_object(table, index=True).to_numpy().tobytes(),
           tuple(map(str, table.columns)), table.shape, tuple(map(str, table.dtypes)),
           int(study.min_cell_size), study.rounding, label)
    if key not in _JOINT_CACHE:
        with warnings.catch_warnings():  # the whole-study report shows (and warns about) it
            warnings.simplefilter("ignore", disclosure.DisclosureWarning)
            result = disclosure.protect_counts(table, study.min_cell_size, totals="none",
                                               label=label, rounding=study.rounding)
        while len(_JOINT_CACHE) >= _JOINT_CACHE_SIZE:
            _JOINT_CACHE.pop(next(iter(_JOINT_CACHE)))
        _JOINT_CACHE[key] = result
    cached = _JOINT_CACHE[key]
    return disclosure.Suppression(cached.shown.copy(), cached.pattern.copy(),
                                  cached.unprotected)


def site_flow(study, site: str) -> "pd.DataFrame":
    """One site's participant flow, with the cells the whole-study table by site hides.

    Parameters
    ----------
    study : Study
        The whole study (not ``for_site``): the protection is of the table of all sites.
    site : str
        One of ``study.sites``.

    Returns
    -------
    DataFrame
        One row per stage, as :func:`spanalysis.change.quality.flow_counts` names them
        (``stage``): ``n`` (the site's count), ``shown`` (the text report 01's table by site
        shows for it: the count, ``"<k"`` or ``"[c]"``), ``hidden`` (True where that
        table hides it) and ``published`` (the count where it is shown, else the text: what a
        summary beside the report may carry).

    Examples
    --------
    >>> from spanalysis.study import load_study
    >>> f = site_flow(load_study("data/demo"), "Riverside PCN")
    >>> row = f.iloc[0]
    >>> str(row["stage"]), int(row["n"]), bool(row["hidden"])
    ('Referred', 90, False)
    """
    import pandas as pd

    from spanalysis.change.quality import counted_interviews, flow_by_site, flow_counts

    by_site = flow_by_site(study, interviewed=counted_interviews(study))
    joint = _joint(by_site, study, "participants at each stage, by site")
    own = flow_counts(study.for_site(site), interviewed=counted_interviews(study.for_site(site)))
    if site not in by_site.index or len(own) != by_site.shape[1]:
        raise ValueError(f"site {site!r} is not a site of the study")  # a programming error
    out = pd.DataFrame({"stage": own["stage"].to_numpy(),
                        "n": by_site.loc[site].to_numpy(),
                        "shown": joint.shown.loc[site].to_numpy(),
                        "hidden": (joint.pattern.loc[site] != "").to_numpy()})
    return _with_published(out)


def _with_published(table: "pd.DataFrame") -> "pd.DataFrame":
    table["published"] = [s if h else int(n) for n, s, h in
                          zip(table["n"], table["shown"], table["hidden"])]
    return table


def themes_by_site(study, coder: str | None = None) -> "pd.DataFrame":
    """People who voiced each theme in interview, by site: report 03's table by site.

    Rows are theme names (sorted), columns sites with interviews, cells the participants
    with at least one segment of the code in their interviews
    (:func:`spanalysis.qual.themes.code_frequencies`, ``by="site"``). Empty when the study
    has no qualitative material or no interview.
    """
    import pandas as pd

    from spanalysis.qual.themes import code_frequencies

    q = study.qualitative
    if q is None:
        return pd.DataFrame()
    by_site = code_frequencies(q.segments, q.sources, by="site", coder=coder,
                               source_types=["interview"])
    if by_site.empty:
        return pd.DataFrame()
    names = q.codebook.set_index("id")["name"]
    by_site["theme"] = by_site["code_id"].map(names)
    return by_site.pivot_table(index="theme", columns="site", values="participants",
                               aggfunc="sum", fill_value=0)


def site_theme_counts(study, site: str, coder: str | None = None) -> "pd.DataFrame":
    """One site's column of :func:`themes_by_site`, with the cells the whole-study table
    hides.

    Returns
    -------
    DataFrame
        One row per theme, most voiced in the whole study first (ties by name): ``theme``
        (its name), ``n_voiced`` (at this site), ``shown`` (the text report 03's table by
        site shows for it), ``hidden`` (True where that table hides it), ``study_total`` and
        ``published`` (as for :func:`site_flow`). Empty when the site has no interviews.
    """
    import pandas as pd

    table = themes_by_site(study, coder)
    if table.empty or site not in table.columns:
        return pd.DataFrame(columns=["theme", "n_voiced", "shown", "hidden", "study_total",
                                     "published"])
    joint = _joint(table, study, "people who voiced each theme, by site")
    out = pd.DataFrame({"theme": table.index.astype(str), "n_voiced": table[site].to_numpy(),
                        "shown": joint.shown[site].to_numpy(),
                        "hidden": (joint.pattern[site] != "").to_numpy(),
                        "study_total": table.sum(axis=1).to_numpy()})
    out = out.sort_values(["study_total", "theme"], ascending=[False, True],
                          kind="stable").reset_index(drop=True)
    out = out.rename(columns={"n_voiced": "n"})
    return _with_published(out).rename(columns={"n": "n_voiced"})


def hide_theme_counts(joint: "pd.DataFrame", counts: "pd.DataFrame") -> "pd.DataFrame":
    """The site's joint display with the counts of hidden themes taken out.

    ``joint`` is :func:`spanalysis.integrate.side_by_side` for the site, ``counts``
    :func:`site_theme_counts`. For a theme whose count the whole-study table by site hides,
    the finding ("Voiced by 7 of 10 ...") and the primary-outcome comparison (which gives the
    numbers of voicers) would give the hidden count away; they are replaced by a sentence
    saying so. Returns a copy.
    """
    hidden = set(counts.loc[counts["hidden"].astype(bool), "theme"])
    out = joint.copy()
    mask = out["theme_label"].astype(str).isin(hidden)
    out.loc[mask, "qualitative_finding"] = (
        "How many people voiced this theme here is not shown: it is a small number, or it "
        "is hidden so that another site's small number cannot be worked out.")
    out.loc[mask, "primary_result"] = ("The comparison of voicers with the rest is not shown "
                                       "for this theme at this site, for the same reason.")
    return out


def site_themes(study) -> "pd.DataFrame":
    """How many interviewed participants voiced each theme (leaf code) in ``study``.

    Parameters
    ----------
    study : Study
        Usually one site's study (``study.for_site(site)``).

    Returns
    -------
    DataFrame
        One row per leaf code of the codebook, most voiced first (ties in codebook order):
        ``theme`` (code id), ``theme_label`` (its name), ``n_voiced`` (participants with at
        least one segment of the code in their interviews, from
        :func:`spanalysis.qual.themes.participant_code_matrix` with ``binary=True``) and
        ``n_interviewed``. Empty when the study has no qualitative material.

    Examples
    --------
    >>> from spanalysis.study import load_study
    >>> t = site_themes(load_study("data/demo").for_site("Riverside PCN"))
    >>> row = t.iloc[0]
    >>> str(row["theme"]), int(row["n_voiced"]), int(row["n_interviewed"])
    ('being_listened_to', 10, 10)
    """
    import pandas as pd

    from spanalysis.qual.themes import participant_code_matrix

    columns = ["theme", "theme_label", "n_voiced", "n_interviewed"]
    q = study.qualitative
    if q is None:
        return pd.DataFrame(columns=columns)
    cb = q.codebook
    parents = set(cb["parent"].dropna().astype(str))
    leaves = [c for c in cb["id"].astype(str) if c not in parents]
    matrix = participant_code_matrix(q.segments, q.sources, binary=True, codes=leaves)
    labels = cb.set_index(cb["id"].astype(str))["name"]
    table = pd.DataFrame({"theme": leaves,
                          "theme_label": [str(labels.get(c, c)) for c in leaves],
                          "n_voiced": matrix.sum(axis=0).reindex(leaves).fillna(0)
                          .astype(int).to_numpy(),
                          "n_interviewed": len(matrix)})
    table["order"] = range(len(table))
    table = table.sort_values(["n_voiced", "order"], ascending=[False, True], kind="stable")
    return table.drop(columns="order").reset_index(drop=True)


def quote_html(text: str, names: Iterable[str] = (), *, sensitive: bool = False) -> str:
    """One quote as HTML: redacted, escaped, and behind a content note when sensitive.

    Parameters
    ----------
    text : str
        The quote as coded.
    names : iterable of str
        Personal names to remove (``study.qualitative.names``), by
        :func:`spanalysis.qual.redact.redact` (which also removes e-mail addresses, phone
        and NHS numbers, postcodes and dates of birth).
    sensitive : bool, default False
        Put the quote inside a closed ``<details>`` element whose summary is a content note,
        so a reader chooses to open it (no script needed).

    Returns
    -------
    str
        ``<blockquote class="sp-quote">...</blockquote>``; every character of the text is
        escaped, so markup in a quote shows as text and never runs.

    Examples
    --------
    >>> quote_html("Mary said <b>thanks</b>", names=["Mary"])
    '<blockquote class="sp-quote"><p>&ldquo;[NAME] said &lt;b&gt;thanks&lt;/b&gt;&rdquo;</p></blockquote>'
    """
    from spanalysis.privacy.redact import redact

    clean = redact(str(text), names=list(names))[0]
    body = (f'<blockquote class="sp-quote"><p>&ldquo;{html.escape(clean)}&rdquo;</p>'
            f"</blockquote>")
    if sensitive:
        return ('<details class="sp-sensitive"><summary>Content note: this quote describes '
                f"distress. Open to read it.</summary>{body}</details>")
    return body


def joint_display_html(table, names: Iterable[str] = (), *, include_sensitive: bool = False,
                       caption: str = "What people said beside what the questionnaires "
                                      "showed") -> str:
    """The side-by-side joint display (one row per theme) as an accessible HTML table.

    Parameters
    ----------
    table : DataFrame
        :func:`spanalysis.integrate.side_by_side`'s result (columns ``theme_label``,
        ``qualitative_finding``, ``quotes``, ``primary_result``, ``quantitative_result``,
        ``fit``). Its findings already withhold counts below the minimum cell size.
    names : iterable of str
        Names to redact from quotes (``study.qualitative.names``).
    include_sensitive : bool, default False
        Show sensitive quotes (behind a content note). By default they are left out.
    caption : str

    Returns
    -------
    str
        A ``<table class="sp-joint">`` with column headers; all text escaped, quotes
        through :func:`quote_html`.
    """
    names = list(names)
    rows = []
    for r in table.itertuples(index=False):
        quotes = [q for q in (getattr(r, "quotes", None) or [])
                  if include_sensitive or not q.get("sensitive")]
        said = f"<p>{html.escape(str(r.qualitative_finding))}</p>" + "".join(
            quote_html(q.get("text", ""), names, sensitive=bool(q.get("sensitive")))
            for q in quotes)
        measured = "".join(f"<p>{html.escape(str(x))}</p>"
                           for x in (r.primary_result, r.quantitative_result) if x)
        rows.append(f'<tr><th scope="row">{html.escape(str(r.theme_label))}</th>'
                    f"<td>{said}</td><td>{measured}</td><td>{html.escape(str(r.fit))}</td></tr>")
    return (f'<table class="sp-joint"><caption>{html.escape(caption)}</caption><thead><tr>'
            '<th scope="col">Theme</th><th scope="col">What people said</th>'
            '<th scope="col">What the questionnaires showed</th><th scope="col">Fit</th>'
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table>")
