"""Themes, quotes and the joint display of the site report notebook, as tested helpers.

:func:`site_themes`, :func:`quote_html` and :func:`joint_display_html` hold the logic, so that
no logic lives in a notebook cell.
"""
from __future__ import annotations

import html
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["site_themes", "quote_html", "joint_display_html"]


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
