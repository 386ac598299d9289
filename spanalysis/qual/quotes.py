"""Exemplar quotes per theme: redacted, attributed, diverse, of sensible length, with content
notes for distressing material.

Order of work (so that nothing sees an identifier)
--------------------------------------------------
1. **Redact.** Every source text is redacted once with
   :func:`spanalysis.qual.redact.redact` (``names`` = the study's ``names.txt``); a segment's
   quote is cut from the redacted source, so an identifier that a segment's boundary cuts
   in half is still removed (the half inside the segment becomes the placeholder), and cues
   just before the segment (such as "born" before a date) still count. The quote is then
   passed through :func:`~spanalysis.qual.redact.redact` again on its own.
2. **Tidy and trim.** White space is collapsed to single spaces; a leading speaker label
   ("Participant: ") is removed. A quote longer than ``max_length`` keeps its first whole
   sentences that fit and ends with " …"; if not even the first sentence fits it is cut at
   the last space and ends with " …". A quote that begins inside a sentence (lower-case
   first letter) starts with "… ". Quotes shorter than ``min_length`` are not used.
3. **Choose.** Per theme, at most one quote per participant (a source without a participant
   counts as its own speaker), spread over sites round-robin: the best quote of each site
   first (sites in the order of their best quote), then the second best of each site, and
   so on, until ``n`` quotes. "Best" is deterministic: untrimmed before trimmed, then length
   closest to :data:`IDEAL_LENGTH` characters, then source and position. No randomness.

Sensitive material
------------------
A quote is ``sensitive`` when its theme is flagged ``sensitive`` in the codebook, or when its
passage overlaps (same source, ``start < other.end`` and ``end > other.start``, any coder) a
segment coded with a sensitive code. A code is sensitive when it or any ancestor in the
codebook has ``sensitive: true``. ``content_note`` names the sensitive codes involved; HTML
from :func:`quote_html` hides such a quote behind a ``<details>`` element whose summary is the
content note, so readers choose to open it.

References
----------
Redaction rules: :mod:`spanalysis.qual.redact`. Sentence boundaries:
:func:`spanalysis.qual.text.sentence_spans` (untrained Punkt, Kiss & Strunk 2006).
"""
from __future__ import annotations

import bisect
import html
import re
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from spanalysis.errors import InputError
from spanalysis.privacy.redact import PLACEHOLDERS, redact
from spanalysis.qual.material import require_qualitative
from spanalysis.qual.text import sentence_spans

__all__ = ["redacted_segments", "quote_candidates", "select_quotes", "quote_html",
           "selection_sentence", "sensitive_codes", "QUOTE_COLUMNS", "IDEAL_LENGTH", "ELLIPSIS"]

QUOTE_COLUMNS = ["code_id", "code_name", "rank", "quote", "attribution", "participant_id",
                 "site", "source_id", "segment_id", "start", "end", "length", "trimmed",
                 "sensitive", "content_note"]
IDEAL_LENGTH = 200
ELLIPSIS = "\u2026"
_LABEL = re.compile(r"^(?:Participant|Respondent|Patient|Interviewee|P\d*)\s*:\s+",
                    re.IGNORECASE)


def sensitive_codes(codebook: pd.DataFrame) -> set[str]:
    """Codes flagged ``sensitive`` in the codebook, and all their descendants.

    Examples
    --------
    >>> import pandas as pd
    >>> book = pd.DataFrame({"id": ["sens", "distress", "hope"],
    ...                      "parent": [None, "sens", None], "sensitive": [True, False, False]})
    >>> sorted(sensitive_codes(book))
    ['distress', 'sens']
    """
    if "sensitive" not in codebook.columns:
        return set()
    flagged = set(codebook.loc[codebook["sensitive"].fillna(False).astype(bool), "id"])
    parent = dict(zip(codebook["id"], codebook["parent"])) if "parent" in codebook.columns \
        else {}
    out = set(flagged)
    for code in codebook["id"]:  # walk up the (small) code tree
        seen, node = set(), parent.get(code)
        while isinstance(node, str) and node not in seen:
            if node in flagged:
                out.add(code)
                break
            seen.add(node)
            node = parent.get(node)
    return out


def _redacted_slice(text: str, found: list, starts: list[int], a: int, b: int) -> str:
    """``text[a:b]`` with every redaction that overlaps it replaced by its placeholder."""
    labels = PLACEHOLDERS
    pieces, pos = [], a
    k = max(0, bisect.bisect_right(starts, a) - 1)
    while k < len(found) and found[k][1] < b:
        kind, s, e, _ = found[k]
        if e > a:  # overlaps [a, b)
            if s > pos:
                pieces.append(text[pos:s])
            pieces.append(labels[kind])
            pos = max(pos, e)
        k += 1
    if pos < b:
        pieces.append(text[pos:b])
    return "".join(pieces)


def redacted_segments(study, *, names: Sequence[str] | None = None) -> pd.DataFrame:
    """The study's coded segments with ``text`` redacted (see the module docstring).

    Parameters
    ----------
    study : Study or Qualitative
    names : sequence of str, optional
        Names to redact (default: the study's ``names.txt``).

    Returns
    -------
    DataFrame
        The segments table with ``text`` replaced by the redacted passage (white space kept).

    Examples
    --------
    >>> import pandas as pd
    >>> from spanalysis.qual.material import Qualitative
    >>> src = pd.DataFrame({"source_id": ["I1"], "text": ["Call 07700 900123, Mary said."]})
    >>> seg = pd.DataFrame({"segment_id": ["s"], "source_id": ["I1"], "coder": ["a"],
    ...                     "code_id": ["x"], "start": [11], "end": [29],
    ...                     "text": ["900123, Mary said."]})
    >>> redacted_segments(Qualitative(pd.DataFrame(), src, seg), names=["Mary"])["text"][0]
    '[PHONE], [NAME] said.'
    """
    qual = require_qualitative(study)
    return _redact_segments(qual.segments, qual.sources,
                            list(qual.names if names is None else names))


def _redact_segments(segments: pd.DataFrame, sources: pd.DataFrame,
                     names: list[str]) -> pd.DataFrame:
    seg = segments.copy()
    text_of = dict(zip(sources["source_id"], sources["text"]))
    redactions = {}
    for sid in pd.unique(seg["source_id"]):  # one redaction pass per source text
        found = redact(str(text_of[sid]), names=names)[1]
        redactions[sid] = (found, [f[1] for f in found])
    out = []
    for sid, a, b in zip(seg["source_id"], seg["start"], seg["end"]):  # string building
        found, starts = redactions[sid]
        piece = _redacted_slice(str(text_of[sid]), found, starts, int(a), int(b))
        out.append(redact(piece, names=names)[0])
    seg["text"] = pd.Series(out, index=seg.index, dtype="str")
    return seg


def _tidy_and_trim(text: str, max_length: int) -> tuple[str, bool]:
    text = _LABEL.sub("", " ".join(text.split()))
    lead = ""
    if text[:1].islower():
        lead = ELLIPSIS + " "
    if len(lead) + len(text) <= max_length:
        return lead + text, False
    room = max_length - len(lead) - 2  # " …"
    fitting = [b for a, b in sentence_spans(text) if b <= room]
    if fitting:
        cut = text[:fitting[-1]]
    else:
        cut = text[:room + 1]
        cut = cut[:cut.rfind(" ")] if " " in cut else text[:room]
        # never end inside a placeholder such as "[NA"
        open_at = cut.rfind("[")
        if open_at > cut.rfind("]"):
            cut = cut[:open_at]
        cut = cut.rstrip(" ,;:-\u2013\u2014")
    return lead + cut.rstrip() + " " + ELLIPSIS, True


def quote_candidates(study, codes: Sequence[str] | None = None, *, coder: str | None = None,
                     min_length: int = 60, max_length: int = 400,
                     source_types: Sequence[str] = ("interview",)) -> pd.DataFrame:
    """Every passage that could be quoted for a theme, redacted, tidied and trimmed.

    Parameters
    ----------
    study : Study or Qualitative
    codes : sequence of str, optional
        Themes (default: every code with segments).
    coder : str, optional
        Only this coder's segments (default: all; the same passage coded twice is one
        candidate).
    min_length, max_length : int, default 60 and 400
        Allowed quote length in characters after trimming (the ellipsis included).
    source_types : sequence of str, default ('interview',)
        Which sources may be quoted (interviews are participants' own words).

    Returns
    -------
    DataFrame
        Columns :data:`QUOTE_COLUMNS` except ``rank`` (0), sorted best first within each
        theme and site (see the module docstring).
    """
    if max_length < min_length or min_length < 1:
        raise InputError("quote lengths are inconsistent", column="max_length",
                         value=f"min {min_length}, max {max_length}",
                         expected="1 <= min_length <= max_length")
    qual = require_qualitative(study)
    seg = qual.segments_by(coder)
    src = qual.sources[qual.sources["source_type"].isin(source_types)]
    seg = seg[seg["source_id"].isin(set(src["source_id"]))]
    if codes is not None:
        seg = seg[seg["code_id"].isin(list(codes))]
    seg = seg.sort_values(["source_id", "start", "end", "code_id", "segment_id"],
                          kind="stable").drop_duplicates(["code_id", "source_id", "start", "end"])
    book = qual.codebook
    names = dict(zip(book["id"], book["name"])) if len(book) else {}
    sensitive = sensitive_codes(book)
    if seg.empty:
        return pd.DataFrame(columns=QUOTE_COLUMNS)

    red = _redact_segments(seg, qual.sources, list(getattr(qual, "names", []) or []))
    trimmed = [_tidy_and_trim(t, max_length) for t in red["text"]]
    out = red[["code_id", "source_id", "segment_id", "start", "end"]].copy()
    out["quote"] = [t for t, _ in trimmed]
    out["trimmed"] = [flag for _, flag in trimmed]
    out["length"] = out["quote"].str.len().astype(np.int64)
    out = out[(out["length"] >= min_length) & (out["length"] <= max_length)]

    meta = src.set_index("source_id")
    out["participant_id"] = out["source_id"].map(meta["participant_id"])
    out["site"] = out["source_id"].map(meta["site"])
    kind = out["source_id"].map(meta["source_type"]).map(
        {"interview": "Interview", "observation": "Observation notes", "document": "Document"})
    who = out["participant_id"].where(out["participant_id"].notna(), kind)
    out["attribution"] = who.astype(str) + np.where(out["site"].notna(),
                                                    ", " + out["site"].astype(str), "")
    out["code_name"] = out["code_id"].map(names).fillna(out["code_id"])

    # sensitivity: the theme itself, or overlap with any coder's sensitive segment
    sens_seg = qual.segments[qual.segments["code_id"].isin(sensitive)][
        ["source_id", "start", "end", "code_id"]]
    hits = out.reset_index()[["index", "source_id", "start", "end"]].merge(
        sens_seg, on="source_id", suffixes=("", "_s"))
    hits = hits[(hits["start"] < hits["end_s"]) & (hits["end"] > hits["start_s"])]
    notes = {i: set(g) for i, g in hits.groupby("index")["code_id"]}
    for i, code in zip(out.index, out["code_id"]):
        if code in sensitive:
            notes.setdefault(i, set()).add(code)
    out["sensitive"] = [i in notes for i in out.index]
    out["content_note"] = [
        "; ".join(sorted(names.get(c, c) for c in notes[i])) if i in notes else ""
        for i in out.index]

    out["_distance"] = (out["length"] - IDEAL_LENGTH).abs()
    out = out.sort_values(["code_id", "trimmed", "_distance", "source_id", "start"],
                          kind="stable")
    out["rank"] = 0
    return out[QUOTE_COLUMNS].reset_index(drop=True)


def select_quotes(study, codes: Sequence[str] | None = None, n: int = 3, *,
                  coder: str | None = None, min_length: int = 60, max_length: int = 400,
                  exclude_sensitive: bool = False,
                  source_types: Sequence[str] = ("interview",)) -> pd.DataFrame:
    """Up to ``n`` exemplar quotes per theme, diverse across participants and sites.

    Parameters
    ----------
    study : Study or Qualitative
        A loaded study (``study.qualitative`` is used) or its ``Qualitative`` part.
    codes : sequence of str, optional
        Themes, in the order wanted (default: every code with segments, sorted).
    n : int, default 3
        Quotes per theme at most.
    coder : str, optional
        Quote only this coder's segments.
    min_length, max_length : int, default 60 and 400
        Allowed quote length in characters (see the module docstring for trimming).
    exclude_sensitive : bool, default False
        Leave out sensitive quotes entirely (instead of carrying a content note).
    source_types : sequence of str, default ('interview',)

    Returns
    -------
    DataFrame
        One row per quote, themes in ``codes`` order, ``rank`` 1..n within a theme:

        - ``code_id``, ``code_name``, ``rank``
        - ``quote``: redacted, tidied, trimmed text
        - ``attribution``: pseudonym and site, e.g. ``"SP0012, Riverside PCN"``
        - ``participant_id``, ``site``, ``source_id``, ``segment_id``, ``start``, ``end``
          (where the passage is in the source, for the researcher to check)
        - ``length`` (characters), ``trimmed`` (bool)
        - ``sensitive`` (bool) and ``content_note`` (names of the sensitive codes; empty
          when not sensitive)

    Notes
    -----
    Rules in the module docstring. Researchers must still read every quote before
    publication: redaction is a safety net.

    Examples
    --------
    >>> import pandas as pd
    >>> from spanalysis.qual.material import Qualitative
    >>> book = pd.DataFrame({"id": ["hope"], "name": ["Offering hope"], "parent": [None],
    ...                      "sensitive": [False]})
    >>> text = "I can see a future now, Mary, and I have plans for the spring and summer."
    >>> src = pd.DataFrame({"source_id": ["I1"], "source_type": ["interview"],
    ...                     "participant_id": ["SP0012"], "site": ["Riverside PCN"],
    ...                     "text": [text]})
    >>> seg = pd.DataFrame({"segment_id": ["s1"], "source_id": ["I1"], "coder": ["a"],
    ...                     "code_id": ["hope"], "start": [0], "end": [len(text)],
    ...                     "text": [text]})
    >>> q = select_quotes(Qualitative(book, src, seg, ["Mary"]))
    >>> q.loc[0, "quote"]
    'I can see a future now, [NAME], and I have plans for the spring and summer.'
    >>> q.loc[0, "attribution"]
    'SP0012, Riverside PCN'
    """
    if n < 1:
        raise InputError("the number of quotes must be at least 1", column="n", value=n,
                         expected="1 or more")
    cands = quote_candidates(study, codes, coder=coder, min_length=min_length,
                             max_length=max_length, source_types=source_types)
    if exclude_sensitive:
        cands = cands[~cands["sensitive"]]
    if cands.empty:
        return pd.DataFrame(columns=QUOTE_COLUMNS)
    person = cands["participant_id"].where(cands["participant_id"].notna(),
                                           "source:" + cands["source_id"].astype(str))
    cands = cands.assign(_person=person, _site=cands["site"].fillna("(no site)"),
                         _order=np.arange(len(cands)))
    # at most one quote per participant: their best (candidates are sorted best first)
    cands = cands.drop_duplicates(["code_id", "_person"], keep="first")
    cands["_round"] = cands.groupby(["code_id", "_site"], sort=False).cumcount()
    site_rank = cands.groupby(["code_id", "_site"], sort=False)["_order"].transform("min")
    cands = cands.assign(_site_rank=site_rank).sort_values(
        ["code_id", "_round", "_site_rank"], kind="stable")
    chosen = cands.groupby("code_id", sort=False).head(n).copy()
    order = list(codes) if codes is not None else sorted(chosen["code_id"].unique())
    chosen["_theme"] = chosen["code_id"].map({c: i for i, c in enumerate(order)})
    chosen = chosen.sort_values(["_theme", "_round", "_site_rank"], kind="stable")
    chosen["rank"] = chosen.groupby("code_id", sort=False).cumcount() + 1
    return chosen[QUOTE_COLUMNS].reset_index(drop=True)


_NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def selection_sentence(n: int) -> str:
    """What a report says about its quotes: how many per theme and how they were chosen.

    The number is fixed by the report's ``quotes_per_theme``, whatever the number of
    interviews, and the choice follows :func:`select_quotes`'s rules (no random draw, so every
    render shows the same quotes).

    Examples
    --------
    >>> selection_sentence(2)[:60]
    'Up to two passages per theme, chosen to come from different '
    >>> selection_sentence(1).startswith("Up to one passage per theme")
    True
    >>> selection_sentence(12).startswith("Up to 12 passages")
    True
    """
    n = int(n)
    if n < 1:
        raise InputError("the number of quotes must be at least 1", column="n", value=n,
                         expected="1 or more")
    count = _NUMBER_WORDS[n] if n < len(_NUMBER_WORDS) else str(n)
    noun = "passage" if n == 1 else "passages"
    return (f"Up to {count} {noun} per theme, chosen to come from different people and sites, "
            "trimmed to a readable length. Each is redacted before it is shown. The number "
            "per theme is fixed however many interviews there are, and the passages are "
            "chosen by fixed rules, not drawn at random, so every run shows the same ones: at "
            "most one per person, the sites taken in turn, complete passages of about "
            f"{IDEAL_LENGTH} characters first.")


def quote_html(quote_row: Mapping | pd.Series) -> str:
    """HTML for one quote: text and attribution escaped; sensitive quotes folded away.

    Parameters
    ----------
    quote_row : mapping or Series
        A row of :func:`select_quotes` (``quote``, ``attribution``, ``sensitive``,
        ``content_note``).

    Returns
    -------
    str
        ``<figure class="sp-quote"><blockquote>…</blockquote><figcaption>…</figcaption>
        </figure>``; a sensitive quote is wrapped in ``<details class="sp-content-note">``
        with ``<summary>Content note: …</summary>`` so it is shown only when a reader opens
        it. Every piece of text goes through :func:`html.escape` (quotes included).

    Examples
    --------
    >>> shown = quote_html({"quote": "I said <b>no</b> & left",
    ...                     "attribution": "SP0001, Oakfield PCN",
    ...                     "sensitive": False, "content_note": ""})
    >>> shown == ('<figure class="sp-quote"><blockquote><p>I said &lt;b&gt;no&lt;/b&gt; &amp; '
    ...           'left</p></blockquote><figcaption>SP0001, Oakfield PCN</figcaption></figure>')
    True
    """
    get = quote_row.get
    text = html.escape(str(get("quote", "")), quote=True)
    who = html.escape(str(get("attribution", "")), quote=True)
    body = (f'<figure class="sp-quote"><blockquote><p>{text}</p></blockquote>'
            f"<figcaption>{who}</figcaption></figure>")
    sensitive = get("sensitive", False)
    if isinstance(sensitive, str):
        sensitive = sensitive.strip().lower() in ("true", "1", "yes")
    elif sensitive is None or (isinstance(sensitive, float) and np.isnan(sensitive)):
        sensitive = False
    if bool(sensitive):
        note = str(get("content_note", "") or "may be distressing")
        return (f'<details class="sp-content-note"><summary>Content note: '
                f"{html.escape(note, quote=True)}</summary>{body}</details>")
    return body
