"""Text tools for coded qualitative data, with NLTK and **no downloads**.

Everything here runs offline: nothing fetches NLTK data packages. Only NLTK parts that need no
data package are used (see ``jupyter-pipeline.md``, "NLTK without downloads"):

sentences
    An *untrained* :class:`nltk.tokenize.punkt.PunktSentenceTokenizer` (Kiss & Strunk 2006)
    whose :class:`~nltk.tokenize.punkt.PunktParameters` declare the abbreviations in
    :data:`ABBREVIATIONS` (titles such as "Dr." and "Mrs." must not end a sentence). Because
    transcripts put each speaker turn on its own line, a sentence also ends at a line break
    (Punkt alone would join a heading to the next line). Spans exclude surrounding white
    space. ``nltk.sent_tokenize`` is *not* used: it needs the downloaded ``punkt_tab`` model.
words
    :class:`nltk.tokenize.RegexpTokenizer` with :data:`WORD_PATTERN`: runs of letters (any
    alphabet, accents kept) with inner apostrophes ("didn't", "Sinéad"); digits and
    punctuation are not words. Words are lower-cased and curly apostrophes (’) become
    straight ones, so "Didn’t" and "didn't" are the same word.
stems
    The Snowball English ("Porter2") stemmer (:class:`nltk.stem.snowball.SnowballStemmer`),
    so "thinking", "thinks" and "think" count as one term.
stop words
    :data:`STOPWORDS`, the Snowball English stop list shipped as
    ``spanalysis/qual/stopwords_en.txt`` (BSD licence; source and notice in the file).
    NLTK's ``stopwords`` corpus is not used (it needs a download).

Code suggestions are *suggestions*: no function here (or anywhere in spanalysis) writes them
into ``segments.csv``. See :func:`suggest_codes` for how a person accepts one.

References
----------
Kiss, T. & Strunk, J. (2006). Unsupervised multilingual sentence boundary detection.
Computational Linguistics, 32(4), 485-525.
Porter, M. F. (2001). Snowball: a language for stemming algorithms. snowballstem.org.
Dunning, T. (1993). Accurate methods for the statistics of surprise and coincidence.
Computational Linguistics, 19(1), 61-74.
Rayson, P. & Garside, R. (2000). Comparing corpora using frequency profiling. Proceedings of
the Workshop on Comparing Corpora, ACL 2000, 1-6.
Manning, C. D. & Schütze, H. (1999). Foundations of Statistical Natural Language Processing,
section 5.3.4 (likelihood ratios for collocations). MIT Press.
"""
from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from scipy.special import chdtrc, xlogy

from spanalysis.errors import InputError
from spanalysis.privacy.redact import redact
from spanalysis.qual.material import require_qualitative

__all__ = ["ABBREVIATIONS", "WORD_PATTERN", "STOPWORDS", "sentence_spans", "sentences",
           "words", "stem", "keyword_in_context", "log_likelihood_g2", "distinctive_terms",
           "collocations", "keyword_table", "suggest_codes", "suggestion_quality",
           "KWIC_COLUMNS", "SUGGESTION_COLUMNS", "QUALITY_COLUMNS", "DISTINCTIVE_COLUMNS",
           "COLLOCATION_COLUMNS", "SUGGESTION_STATUS", "SUGGESTION_NOTE"]

#: Abbreviations after which Punkt must not end a sentence (lower case, without the full stop).
#: "etc" is included so that "forms etc. and" is one sentence; the price is that a sentence
#: ending in "etc." is joined to the next one.
ABBREVIATIONS = frozenset({"dr", "mr", "mrs", "ms", "mx", "prof", "st", "etc", "e.g", "i.e",
                           "vs", "approx"})
#: A word: letters (any script) with optional inner apostrophes (straight or curly).
WORD_PATTERN = r"[^\W\d_]+(?:['\u2019][^\W\d_]+)*"

KWIC_COLUMNS = ["source_id", "participant_id", "site", "left", "keyword", "right"]
SUGGESTION_COLUMNS = ["source_id", "start", "end", "sentence", "code_id", "code_name",
                      "matched_keywords", "status"]
QUALITY_COLUMNS = ["code_id", "code_name", "support", "suggested", "true_positives",
                   "false_positives", "false_negatives", "precision", "recall", "f1"]
DISTINCTIVE_COLUMNS = ["code_id", "term", "stem", "theme_count", "other_count",
                       "theme_per_1000", "other_per_1000", "log_ratio", "g2", "p_value"]
COLLOCATION_COLUMNS = ["code_id", "word_1", "word_2", "count", "likelihood_ratio"]
#: The ``status`` of every row :func:`suggest_codes` returns.
SUGGESTION_STATUS = "suggestion (not coded; a person must accept it)"
#: A caption for a table of :func:`suggest_codes` (what the rows are and how one is accepted).
SUGGESTION_NOTE = ("Code suggestions from codebook keywords: not codings. A person accepts one "
                   "by adding it to segments.csv.")
_SPEAKER = re.compile(r"(?m)^[ \t]*(?P<speaker>[A-Za-z][A-Za-z .'\-]{0,29}?)[ \t]*:[ \t]")
_WORD = re.compile(WORD_PATTERN)


def _load_stopwords() -> frozenset[str]:
    text = resources.files("spanalysis.qual").joinpath("stopwords_en.txt").read_text("utf-8")
    return frozenset(line.strip() for line in text.splitlines()
                     if line.strip() and not line.startswith("#"))


#: Snowball English stop words (174 words), from ``stopwords_en.txt``.
STOPWORDS: frozenset[str] = _load_stopwords()


# --------------------------------------------------------------------------- tokenisation

@lru_cache(maxsize=1)
def _punkt():
    from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

    params = PunktParameters()
    params.abbrev_types = set(ABBREVIATIONS)
    return PunktSentenceTokenizer(params)


@lru_cache(maxsize=1)
def _stemmer():
    from nltk.stem.snowball import SnowballStemmer

    return SnowballStemmer("english")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans ``(start, end)`` of the sentences of ``text`` (end exclusive).

    Parameters
    ----------
    text : str

    Returns
    -------
    list of (int, int)
        In text order; white space at either end of a sentence is excluded.

    Notes
    -----
    Untrained Punkt (splits after ``.``, ``?``, ``!`` followed by white space, except after
    the :data:`ABBREVIATIONS`), then every line break also ends a sentence.

    Examples
    --------
    >>> text = "Dr. Patel listened. I felt better!\\nInterviewer: Why?"
    >>> [text[a:b] for a, b in sentence_spans(text)]
    ['Dr. Patel listened.', 'I felt better!', 'Interviewer: Why?']
    """
    if not isinstance(text, str):
        raise InputError("sentence_spans() needs text", value=type(text).__name__,
                         expected="str")
    spans = []
    for start, end in _punkt().span_tokenize(text):
        for line in re.finditer(r"[^\r\n]+", text[start:end]):
            a, b = start + line.start(), start + line.end()
            chunk = text[a:b]
            stripped = chunk.strip()
            if stripped:
                lead = len(chunk) - len(chunk.lstrip())
                spans.append((a + lead, a + lead + len(stripped)))
    return spans


def sentences(sources: pd.DataFrame) -> pd.DataFrame:
    """Every sentence of every source, as a tidy table.

    Parameters
    ----------
    sources : DataFrame
        ``source_id`` and ``text``.

    Returns
    -------
    DataFrame
        ``source_id``, ``sentence_no`` (from 0 within the source), ``start``, ``end``
        (character offsets, end exclusive, as segments use), ``sentence`` and ``speaker``:
        the label of the most recent line of the form ``Label: ...`` at or before the
        sentence in its source (``Interviewer``, ``Participant``, ...), missing if none.

    Examples
    --------
    >>> import pandas as pd
    >>> src = pd.DataFrame({"source_id": ["S1"],
    ...                     "text": ["Interviewer: How was it?\\nParticipant: Good. Really."]})
    >>> sentences(src)[["sentence_no", "sentence", "speaker"]]  # doctest: +NORMALIZE_WHITESPACE
       sentence_no                  sentence      speaker
    0            0  Interviewer: How was it?  Interviewer
    1            1         Participant: Good.  Participant
    2            2                   Really.  Participant
    """
    for col in ("source_id", "text"):
        if col not in sources.columns:
            raise InputError("the sources table lacks a column", column=col,
                             expected="source_id, text")
    rows_id, rows_start, rows_end, rows_speaker = [], [], [], []
    for sid, text in zip(sources["source_id"], sources["text"]):  # tokenizer works per text
        text = "" if pd.isna(text) else str(text)
        spans = sentence_spans(text)
        if not spans:
            continue
        labels = [(m.start(), m.group("speaker").strip()) for m in _SPEAKER.finditer(text)]
        starts = np.array([a for a, _ in spans], dtype=np.int64)
        if labels:
            label_pos = np.array([p for p, _ in labels], dtype=np.int64)
            # the label line starts at or before the sentence: last label position <= start
            which = np.searchsorted(label_pos, starts, side="right") - 1
            names = np.array([s for _, s in labels] + [None], dtype=object)
            rows_speaker.append(names[np.where(which >= 0, which, len(labels))])
        else:
            rows_speaker.append(np.full(len(spans), None, dtype=object))
        rows_id.append(np.full(len(spans), sid, dtype=object))
        rows_start.append(starts)
        rows_end.append(np.array([b for _, b in spans], dtype=np.int64))
    if not rows_id:
        return pd.DataFrame({"source_id": pd.Series(dtype="str"),
                             "sentence_no": pd.Series(dtype="int64"),
                             "start": pd.Series(dtype="int64"), "end": pd.Series(dtype="int64"),
                             "sentence": pd.Series(dtype="str"),
                             "speaker": pd.Series(dtype="str")})
    out = pd.DataFrame({"source_id": np.concatenate(rows_id),
                        "start": np.concatenate(rows_start), "end": np.concatenate(rows_end),
                        "speaker": np.concatenate(rows_speaker)})
    out.insert(1, "sentence_no", out.groupby("source_id", sort=False).cumcount())
    text_of = dict(zip(sources["source_id"], sources["text"]))
    out.insert(4, "sentence", [text_of[s][a:b] for s, a, b in
                               zip(out["source_id"], out["start"], out["end"])])
    out["speaker"] = out["speaker"].astype("str")
    return out


def words(text: str) -> list[str]:
    """The words of ``text``: lower case, curly apostrophes made straight.

    Examples
    --------
    >>> words("I didn’t feel rushed, not once in 2 years.")
    ['i', "didn't", 'feel', 'rushed', 'not', 'once', 'in', 'years']
    """
    from nltk.tokenize import RegexpTokenizer

    return [w.lower().replace("\u2019", "'")
            for w in RegexpTokenizer(WORD_PATTERN).tokenize(text)]


def stem(tokens: Iterable[str]) -> list[str]:
    """Snowball English stems of lower-case words (each distinct word is stemmed once).

    Examples
    --------
    >>> stem(["thinking", "thinks", "think", "hopeful", "listened"])
    ['think', 'think', 'think', 'hope', 'listen']
    """
    series = pd.Series(list(tokens), dtype=object)
    unique = series.dropna().unique()
    stemmer = _stemmer()
    table = dict(zip(unique, (stemmer.stem(w) for w in unique)))
    return series.map(table).tolist()


def _token_table(texts: Sequence[str], keys: Sequence | None = None) -> pd.DataFrame:
    """All word tokens of ``texts``: ``doc`` (position in ``texts`` or its key), ``i`` (token
    number in the doc), ``start``, ``end``, ``word`` (lower case) and ``stem``.

    Bracketed redaction placeholders such as ``[NAME]`` are not words."""
    docs, starts, ends, forms = [], [], [], []
    for k, text in enumerate(texts):  # regex search runs per text
        text = "" if text is None or (isinstance(text, float) and np.isnan(text)) else text
        for m in _WORD.finditer(text):
            a, b = m.span()
            if a > 0 and b < len(text) and text[a - 1] == "[" and text[b] == "]":
                continue
            docs.append(k)
            starts.append(a)
            ends.append(b)
            forms.append(m.group(0))
    table = pd.DataFrame({"doc": np.asarray(docs, dtype=np.int64),
                          "start": np.asarray(starts, dtype=np.int64),
                          "end": np.asarray(ends, dtype=np.int64),
                          "word": pd.Series(forms, dtype=object).str.lower()
                          .str.replace("\u2019", "'", regex=False)})
    table.insert(1, "i", table.groupby("doc").cumcount().astype(np.int64))
    table["stem"] = stem(table["word"]) if len(table) else pd.Series(dtype=object)
    if keys is not None:
        table["doc"] = np.asarray(keys, dtype=object)[table["doc"].to_numpy()]
    return table


def _phrase_matches(tokens: pd.DataFrame, phrases: pd.DataFrame, form: str) -> pd.DataFrame:
    """Occurrences of phrases (consecutive tokens) in a token table.

    ``phrases`` has ``phrase`` (the token forms joined by single spaces) and ``n_words``;
    returns the phrase rows joined with ``doc``, ``start`` (first token) and ``end`` (last
    token)."""
    found = []
    for n in sorted(phrases["n_words"].unique()):  # one vectorised pass per phrase length
        gram = tokens[form].astype(object)
        end = tokens["end"]
        same_doc = pd.Series(True, index=tokens.index)
        for k in range(1, n):
            nxt = tokens.groupby("doc", sort=False)[form].shift(-k)
            same_doc &= nxt.notna()
            gram = gram + " " + nxt.fillna("")
            end = tokens.groupby("doc", sort=False)["end"].shift(-k)
        grams = pd.DataFrame({"doc": tokens["doc"], "start": tokens["start"],
                              "end": end, "phrase": gram})[same_doc]
        hits = grams.merge(phrases[phrases["n_words"] == n], on="phrase", how="inner")
        found.append(hits)
    out = pd.concat(found, ignore_index=True) if found else pd.DataFrame(
        columns=["doc", "start", "end", "phrase", "n_words"])
    out["end"] = out["end"].astype(np.int64)
    return out


# --------------------------------------------------------------------------- KWIC

def _window(text: str, start: int, end: int, width: int) -> tuple[str, str]:
    """Up to ``width`` characters either side, cut back to whole white-space-separated
    pieces (never half a word or half a placeholder), line breaks shown as spaces."""
    lo, hi = max(0, start - width), min(len(text), end + width)
    left, right = text[lo:start], text[end:hi]
    if lo > 0 and not text[lo - 1].isspace():
        cut = re.search(r"\s", left)
        left = left[cut.start():] if cut else ""
    if hi < len(text) and not text[hi].isspace():
        cut = [m.start() for m in re.finditer(r"\s", right)]
        right = right[:cut[-1]] if cut else ""
    return " ".join(left.split()), " ".join(right.split())


def keyword_in_context(sources: pd.DataFrame, keyword: str, *, width: int = 40,
                       use_stems: bool = False, names: Iterable[str] = (),
                       redact_text: bool = True) -> pd.DataFrame:
    """Keyword in context (KWIC, a concordance) across sources.

    Parameters
    ----------
    sources : DataFrame
        ``source_id``, ``text`` and optionally ``participant_id`` and ``site``.
    keyword : str
        A word or phrase, matched as whole words, case-insensitively.
    width : int, default 40
        Characters of context on each side (cut back to whole words).
    use_stems : bool, default False
        Match by Snowball stem, so "think" also finds "thinking" and "thinks".
    names : iterable of str
        Personal names to redact (the study's ``names.txt``).
    redact_text : bool, default True
        Redact every source with :func:`~spanalysis.qual.redact.redact` *before* searching,
        so no identifier can appear in the context (and a redacted name is never found).

    Returns
    -------
    DataFrame
        One row per occurrence, in source and text order: ``source_id``, ``participant_id``,
        ``site``, ``left``, ``keyword`` (as written), ``right``. Line breaks in the context
        are shown as spaces.

    Examples
    --------
    >>> import pandas as pd
    >>> src = pd.DataFrame({"source_id": ["I1"], "participant_id": ["SP0001"],
    ...                     "site": ["Riverside PCN"],
    ...                     "text": ["She gave me time to think. Thinking helps, Mary said."]})
    >>> kwic = keyword_in_context(src, "think", width=16, use_stems=True, names=["Mary"])
    >>> kwic[["left", "keyword", "right"]]  # doctest: +NORMALIZE_WHITESPACE
                  left   keyword          right
    0  gave me time to     think     . Thinking
    1   time to think.  Thinking  helps, [NAME]
    """
    for col in ("source_id", "text"):
        if col not in sources.columns:
            raise InputError("the sources table lacks a column", column=col,
                             expected="source_id, text")
    target = words(keyword)
    if not target:
        raise InputError("the keyword has no words", column="keyword", value=keyword,
                         expected="a word or phrase such as 'hope' or 'step back'")
    texts = [("" if pd.isna(t) else str(t)) for t in sources["text"]]
    if redact_text:
        names = list(names)
        texts = [redact(t, names=names)[0] for t in texts]
    tokens = _token_table(texts)
    form = "stem" if use_stems else "word"
    phrase = " ".join(stem(target) if use_stems else target)
    hits = _phrase_matches(tokens, pd.DataFrame({"phrase": [phrase],
                                                 "n_words": [len(target)]}), form)
    hits = hits.sort_values(["doc", "start"], kind="stable")
    rows = []
    for doc, a, b in zip(hits["doc"], hits["start"], hits["end"]):  # string slicing per hit
        left, right = _window(texts[doc], a, b, width)
        rows.append((doc, left, texts[doc][a:b], right))
    frame = pd.DataFrame(rows, columns=["doc", "left", "keyword", "right"])
    meta = sources.reset_index(drop=True)
    out = pd.DataFrame({
        "source_id": meta["source_id"].to_numpy()[frame["doc"].to_numpy(np.int64)]
        if len(frame) else pd.Series(dtype=object)})
    for col in ("participant_id", "site"):
        out[col] = (meta[col].to_numpy()[frame["doc"].to_numpy(np.int64)]
                    if col in meta.columns and len(frame) else None)
    out["left"], out["keyword"], out["right"] = frame["left"], frame["keyword"], frame["right"]
    return out[KWIC_COLUMNS].astype({"left": "str", "keyword": "str", "right": "str"})


# --------------------------------------------------------------------------- distinctive terms

def log_likelihood_g2(a, b, c, d):
    """Dunning's log-likelihood G2 for a word's frequency in two corpora.

    Parameters
    ----------
    a, b : array-like
        Occurrences of the word in corpus 1 (the theme) and corpus 2 (the rest).
    c, d : array-like
        Total words in corpus 1 and corpus 2 (``a <= c``, ``b <= d``).

    Returns
    -------
    numpy.ndarray (or float for scalars)
        G2 >= 0; compare with chi-squared on 1 degree of freedom (3.84 for p = 0.05,
        10.83 for p = 0.001).

    Notes
    -----
    The 2 x 2 table has rows (this word, other words) and columns (corpus 1, corpus 2):
    :math:`O = [[a, b], [c - a, d - b]]`, expected values
    :math:`E_{ij} = R_i C_j / N` with row totals *R*, column totals *C* and
    :math:`N = c + d`, and

    .. math:: G^2 = 2 \\sum_{ij} O_{ij} \\ln(O_{ij} / E_{ij})

    with :math:`0 \\ln 0 = 0` (Dunning 1993). Rayson & Garside (2000) drop the two
    "other words" cells, which gives a slightly different value; the full table is used here
    so that G2 equals the standard likelihood-ratio test of independence
    (``scipy.stats.chi2_contingency(..., lambda_="log-likelihood")``).

    References
    ----------
    Dunning, T. (1993). Accurate methods for the statistics of surprise and coincidence.
    Computational Linguistics, 19(1), 61-74.

    Examples
    --------
    >>> round(float(log_likelihood_g2(10, 5, 1000, 2000)), 4)
    6.9692
    """
    a, b, c, d = (np.asarray(x, dtype=float) for x in (a, b, c, d))
    n = c + d
    observed = [a, b, c - a, d - b]
    row_word, row_other = a + b, n - a - b
    expected = [row_word * c / n, row_word * d / n, row_other * c / n, row_other * d / n]
    with np.errstate(divide="ignore", invalid="ignore"):
        g2 = 2.0 * sum(xlogy(o, o) - xlogy(o, e) for o, e in zip(observed, expected))
    g2 = np.maximum(g2, 0.0)  # rounding can give -1e-15 when O == E
    return g2 if g2.ndim else float(g2)


def _span_texts(segments: pd.DataFrame, coder: str | None) -> pd.DataFrame:
    needed = ["source_id", "code_id", "start", "end", "text"]
    missing = [c for c in needed if c not in segments.columns]
    if missing:
        raise InputError("the segments table lacks a column", column=missing[0],
                         expected=", ".join(needed))
    seg = segments
    if coder is not None:
        seg = seg[seg["coder"] == coder]
        if seg.empty:
            raise InputError("no segments by this coder", column="coder", value=coder,
                             expected="a coder who coded segments")
    return seg[needed].dropna(subset=["code_id", "text"])


def distinctive_terms(segments: pd.DataFrame, codes: Sequence[str] | None = None, *,
                      coder: str | None = None, min_count: int = 3, top: int = 15,
                      alpha: float | None = None) -> pd.DataFrame:
    """Terms used more in a theme's coded text than in all other coded text.

    Parameters
    ----------
    segments : DataFrame
        Coded segments with ``source_id, code_id, start, end, text`` (and ``coder``).
    codes : sequence of str, optional
        Themes to describe (default: every code that occurs).
    coder : str, optional
        Use only this coder's segments.
    min_count : int, default 3
        Ignore terms used fewer times in the theme.
    top : int, default 15
        Terms kept per theme, highest G2 first.
    alpha : float, optional
        Keep only terms with ``p_value < alpha``.

    Returns
    -------
    DataFrame
        Per theme, over-used terms sorted by G2: ``code_id``, ``term`` (the commonest
        spelling in the theme), ``stem``, ``theme_count``, ``other_count``,
        ``theme_per_1000``, ``other_per_1000`` (per 1,000 words), ``log_ratio`` (log2 of the
        ratio of relative frequencies, 0.5 added to zero counts), ``g2``
        (:func:`log_likelihood_g2`) and ``p_value`` (chi-squared, 1 df).

    Notes
    -----
    The theme corpus is the text of the distinct passages (source, start, end) coded with
    the code; the reference corpus is the text of every other distinct coded passage (a
    passage coded with both the theme and another code belongs to the theme only), so a
    double-coded passage is counted once. Terms are Snowball stems of :func:`words`; stop
    words (:data:`STOPWORDS`) are not reported but count towards the corpus sizes *c* and
    *d*, as corpus sizes in Rayson & Garside (2000) do. With many terms tested, p-values
    are descriptive, not confirmatory.

    Examples
    --------
    >>> import pandas as pd
    >>> seg = pd.DataFrame({"source_id": ["I1", "I2", "I3"], "code_id": ["hope", "hope", "x"],
    ...                     "start": [0, 0, 0], "end": [30, 30, 30],
    ...                     "text": ["hope hope future hope", "a future of hope",
    ...                              "the bus was late again, late"]})
    >>> distinctive_terms(seg, ["hope"], min_count=2)[["term", "theme_count", "other_count"]]
         term  theme_count  other_count
    0    hope            4            0
    1  future            2            0
    """
    seg = _span_texts(segments, coder)
    passages, spans = _distinct_passages(seg)
    tokens = _token_table(passages["text"].tolist()).rename(columns={"doc": "passage"})
    words_per_passage = tokens.groupby("passage").size().reindex(passages["passage"],
                                                                 fill_value=0).to_numpy()
    content = tokens[~tokens["word"].isin(STOPWORDS)]
    counts = content.groupby(["passage", "stem"]).size().rename("n").reset_index()
    codes = sorted(spans["code_id"].unique()) if codes is None else list(codes)
    results = []
    for code in codes:  # one pass per theme; themes are few
        in_theme = np.zeros(len(passages), dtype=bool)
        in_theme[spans.loc[spans["code_id"] == code, "passage"].to_numpy()] = True
        frame = _theme_terms(counts, in_theme, words_per_passage, min_count)
        if frame is not None:
            results.append(frame.assign(code_id=code))
    if not results:
        return pd.DataFrame(columns=DISTINCTIVE_COLUMNS)
    out = pd.concat(results, ignore_index=True)
    if alpha is not None:
        out = out[out["p_value"] < alpha]
    out = out.sort_values(["code_id", "g2", "stem"], ascending=[True, False, True],
                          kind="stable")
    out["code_id"] = pd.Categorical(out["code_id"], categories=codes, ordered=True)
    out = out.sort_values("code_id", kind="stable").groupby("code_id", observed=True).head(top)
    out["code_id"] = out["code_id"].astype(str)
    spelled = _commonest_spelling(content, spans[spans["code_id"].isin(codes)])
    out = out.merge(spelled, on=["code_id", "stem"], how="left")
    out["term"] = out["word"].fillna(out["stem"])
    for col in ("theme_count", "other_count"):
        out[col] = out[col].astype(np.int64)
    return out[DISTINCTIVE_COLUMNS].reset_index(drop=True)


def _distinct_passages(seg: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The distinct coded passages (source, start, end), numbered, and each (passage, code)
    coding once: ``passages`` has ``source_id, start, end, text, passage``; ``spans`` the
    segments' columns plus ``passage``."""
    spans = seg.drop_duplicates(["source_id", "start", "end", "code_id"])
    passages = spans.drop_duplicates(["source_id", "start", "end"])[
        ["source_id", "start", "end", "text"]].reset_index(drop=True)
    passages["passage"] = np.arange(len(passages))
    spans = spans.merge(passages[["source_id", "start", "end", "passage"]],
                        on=["source_id", "start", "end"])
    return passages, spans


def _theme_terms(counts: pd.DataFrame, in_theme: np.ndarray, words_per_passage: np.ndarray,
                 min_count: int) -> pd.DataFrame | None:
    """Over-used stems of one theme: counts in the theme and the other passages, G2, p-value,
    rates per 1,000 words and log ratio; None when nothing qualifies.

    ``counts`` holds (passage, stem, n) for content words; ``in_theme`` marks the theme's
    passages; the corpus sizes *c* and *d* count every word, stop words included."""
    c = float(words_per_passage[in_theme].sum())
    d = float(words_per_passage[~in_theme].sum())
    if c == 0 or d == 0:
        return None
    side = np.where(in_theme[counts["passage"].to_numpy()], "theme_count", "other_count")
    table = (counts.assign(side=side).pivot_table(index="stem", columns="side", values="n",
                                                  aggfunc="sum", fill_value=0)
             .reindex(columns=["theme_count", "other_count"], fill_value=0))
    table = table[(table["theme_count"] >= min_count)
                  & (table["theme_count"] / c > table["other_count"] / d)]
    if table.empty:
        return None
    a, b = table["theme_count"].to_numpy(float), table["other_count"].to_numpy(float)
    frame = table.reset_index()
    frame["g2"] = log_likelihood_g2(a, b, c, d)
    frame["p_value"] = chdtrc(1, frame["g2"])  # = scipy.stats.chi2.sf(g2, 1)
    frame["theme_per_1000"] = 1000.0 * a / c
    frame["other_per_1000"] = 1000.0 * b / d
    # Hardie's log ratio: log2 of the ratio of relative frequencies; 0.5 for zero counts
    frame["log_ratio"] = np.log2((np.where(a == 0, 0.5, a) / c)
                                 / (np.where(b == 0, 0.5, b) / d))
    return frame


def _commonest_spelling(content: pd.DataFrame, theme_spans: pd.DataFrame) -> pd.DataFrame:
    """The commonest spelling of each stem in each theme's text, for display: ``code_id,
    stem, word`` (ties go to the alphabetically first word)."""
    theme_passages = theme_spans[["code_id", "passage"]]
    return (content.merge(theme_passages, on="passage").groupby(["code_id", "stem", "word"])
            .size().rename("n").reset_index()
            .sort_values(["code_id", "stem", "n", "word"], ascending=[True, True, False, True])
            .drop_duplicates(["code_id", "stem"]))[["code_id", "stem", "word"]]


def collocations(segments: pd.DataFrame, codes: Sequence[str] | None = None, *,
                 coder: str | None = None, min_count: int = 2, top: int = 10
                 ) -> pd.DataFrame:
    """Word pairs that occur together in a theme's coded text more often than chance.

    Parameters
    ----------
    segments : DataFrame
        Coded segments with ``source_id, code_id, start, end, text``.
    codes : sequence of str, optional
        Themes (default: every code that occurs).
    coder : str, optional
        Use only this coder's segments.
    min_count : int, default 2
        Ignore pairs seen fewer times.
    top : int, default 10
        Pairs kept per theme, highest score first.

    Returns
    -------
    DataFrame
        ``code_id``, ``word_1``, ``word_2``, ``count`` (times the pair occurs),
        ``likelihood_ratio`` (NLTK ``BigramAssocMeasures.likelihood_ratio``).

    Notes
    -----
    For each theme, :class:`nltk.collocations.BigramCollocationFinder` is built from the
    words of each distinct coded passage (``from_documents``, so no pair spans two
    passages). Pairs with a stop word are dropped from the results (the counts behind the
    score still include every word). The score is Dunning's G2 for the 2 x 2 table of the
    pair: :math:`[[n_{12}, n_{1} - n_{12}], [n_{2} - n_{12}, N - n_1 - n_2 + n_{12}]]`
    with :math:`n_1, n_2` the words' frequencies and *N* the number of words (Manning &
    Schütze 1999, 5.3.4); NLTK adds 1e-20 inside the logarithm, which is negligible.

    Examples
    --------
    >>> import pandas as pd
    >>> seg = pd.DataFrame({"source_id": ["I1", "I2"], "code_id": ["hope", "hope"],
    ...                     "start": [0, 0], "end": [10, 10],
    ...                     "text": ["light at the end of the tunnel, a light tunnel",
    ...                              "I saw the light tunnel"]})
    >>> collocations(seg)[["word_1", "word_2", "count"]]
      word_1  word_2  count
    0  light  tunnel      2
    """
    from nltk.collocations import BigramAssocMeasures, BigramCollocationFinder

    seg = _span_texts(segments, coder)
    codes = sorted(seg["code_id"].unique()) if codes is None else list(codes)
    rows = []
    for code in codes:  # one finder per theme
        passages = seg[seg["code_id"] == code].drop_duplicates(["source_id", "start", "end"])
        docs = [words(t) for t in passages["text"]]
        finder = BigramCollocationFinder.from_documents(docs)
        finder.apply_freq_filter(min_count)
        finder.apply_word_filter(lambda w: w in STOPWORDS)
        scored = finder.score_ngrams(BigramAssocMeasures.likelihood_ratio)
        for (w1, w2), score in scored[:top]:
            rows.append((code, w1, w2, int(finder.ngram_fd[(w1, w2)]), float(score)))
    return pd.DataFrame(rows, columns=COLLOCATION_COLUMNS)


# --------------------------------------------------------------------------- code suggestions

def keyword_table(codebook: pd.DataFrame) -> pd.DataFrame:
    """The codebook's keywords, stemmed for matching.

    Returns
    -------
    DataFrame
        ``code_id``, ``code_name``, ``keyword`` (as written in the codebook), ``phrase``
        (the Snowball stems of its words joined by spaces) and ``n_words``. Codes without
        keywords have no rows.

    Examples
    --------
    >>> import pandas as pd
    >>> book = pd.DataFrame({"id": ["space"], "name": ["Space to think"],
    ...                      "keywords": [["thinking", "step back"]]})
    >>> keyword_table(book)[["code_id", "keyword", "phrase", "n_words"]]
      code_id    keyword     phrase  n_words
    0   space   thinking      think        1
    1   space  step back  step back        2
    """
    for col in ("id", "keywords"):
        if col not in codebook.columns:
            raise InputError("the codebook lacks a column", column=col,
                             expected="id, name, keywords")
    book = codebook.assign(code_name=codebook["name"] if "name" in codebook.columns
                           else codebook["id"])
    kw = book[["id", "code_name", "keywords"]].explode("keywords").dropna(subset=["keywords"])
    kw = kw.rename(columns={"id": "code_id", "keywords": "keyword"})
    kw["keyword"] = kw["keyword"].astype(str).str.strip()
    tokens = [words(k) for k in kw["keyword"]]
    # object and int columns even when no code has keywords (an empty table still merges)
    kw["phrase"] = pd.Series([" ".join(stem(t)) for t in tokens], index=kw.index, dtype=object)
    kw["n_words"] = pd.Series([len(t) for t in tokens], index=kw.index, dtype=np.int64)
    kw = kw[kw["n_words"] > 0].drop_duplicates(["code_id", "phrase"])
    return kw.reset_index(drop=True)[["code_id", "code_name", "keyword", "phrase", "n_words"]]


def _overlapping(units: pd.DataFrame, segments: pd.DataFrame
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pairs (unit row, segment row) where a segment overlaps a unit of the same source
    (``seg.start < unit.end`` and ``seg.end > unit.start``).

    ``units`` must be sorted by source then start, non-overlapping (sentences are). Both
    are laid on one global axis (each source shifted past the previous one) so the matching
    is two binary searches per segment, not a loop."""
    order = pd.Index(pd.unique(units["source_id"]))
    lengths = units.groupby("source_id", sort=False)["end"].max().reindex(order)
    base = pd.Series(np.concatenate([[0], np.cumsum(lengths.to_numpy() + 1)[:-1]]),
                     index=order)
    u_start = units["start"].to_numpy(np.int64) + base[units["source_id"]].to_numpy()
    u_end = units["end"].to_numpy(np.int64) + base[units["source_id"]].to_numpy()
    seg = segments[segments["source_id"].isin(order)]
    sb = base[seg["source_id"]].to_numpy()
    last_end = lengths[seg["source_id"]].to_numpy()
    # a segment reaching past the last sentence (trailing white space) must not reach into
    # the next source on the global axis
    g_start = seg["start"].to_numpy(np.int64) + sb
    g_end = np.minimum(seg["end"].to_numpy(np.int64), last_end) + sb
    first = np.searchsorted(u_end, g_start, side="right")
    last = np.searchsorted(u_start, g_end, side="left") - 1
    count = np.clip(last - first + 1, 0, None)
    within = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    return pd.DataFrame({"unit": np.repeat(first, count) + within,
                         "segment": np.repeat(np.arange(len(seg)), count)}), seg


def _suggest(sents: pd.DataFrame, keywords: pd.DataFrame) -> pd.DataFrame:
    """(sentence row, code_id, matched keywords) for every keyword found in a sentence."""
    tokens = _token_table(sents["sentence"].tolist())
    hits = _phrase_matches(tokens, keywords[["phrase", "n_words"]].drop_duplicates(), "stem")
    hits = hits.merge(keywords[["code_id", "phrase", "keyword"]], on="phrase")
    return (hits.groupby(["doc", "code_id"], sort=True)["keyword"]
            .agg(lambda k: "; ".join(sorted(set(k)))).rename("matched_keywords").reset_index())


def suggest_codes(sources: pd.DataFrame, segments: pd.DataFrame, codebook: pd.DataFrame, *,
                  uncoded_only: bool = True,
                  exclude_speakers: Sequence[str] = ("Interviewer",)) -> pd.DataFrame:
    """Suggest codes for sentences from the codebook's keywords. **Suggestions only.**

    Parameters
    ----------
    sources : DataFrame
        ``source_id`` and ``text``.
    segments : DataFrame
        Coded segments (``source_id, start, end``) by any coder.
    codebook : DataFrame
        ``id``, ``name``, ``keywords`` (a list per code).
    uncoded_only : bool, default True
        Suggest only for sentences no coder's segment overlaps.
    exclude_speakers : sequence of str, default ('Interviewer',)
        Sentences whose speaker label (see :func:`sentences`) is one of these
        (case-insensitive) get no suggestions: interviewers' questions are not data.

    Returns
    -------
    DataFrame
        One row per sentence and suggested code: ``source_id``, ``start``, ``end``
        (character offsets of the sentence, as in ``segments.csv``), ``sentence``,
        ``code_id``, ``code_name``, ``matched_keywords`` (codebook keywords found, ``"; "``
        separated) and ``status`` = ``"suggestion (not coded; a person must accept it)"``
        (:data:`SUGGESTION_STATUS`). :data:`SUGGESTION_NOTE` is a caption for showing the
        table.

    Notes
    -----
    A sentence is suggested a code when the Snowball stems of one of the code's keywords
    occur in it as consecutive words ("step back" matches "stepping back"). Keywords are
    blunt: "time" or "better" occur in many sentences that are not about the theme. See
    :func:`suggestion_quality` for how often suggestions agree with human coding.

    Suggestions never become codes by themselves; nothing in spanalysis writes them into
    ``segments.csv``. To accept one, a coder reads the sentence in its source and, if the
    code applies, adds a row to ``segments.csv`` by hand: a new ``segment_id``, the
    ``source_id``, their own name as ``coder``, the ``code_id``, and ``start``, ``end`` and
    ``text`` (which may be narrowed to the relevant words). Loading the study then checks
    the row like any other coding.

    Examples
    --------
    >>> import pandas as pd
    >>> src = pd.DataFrame({"source_id": ["I1"],
    ...                     "text": ["Interviewer: Any hope?\\nParticipant: I have hope now. "
    ...                              "The bus was late."]})
    >>> book = pd.DataFrame({"id": ["hope"], "name": ["Offering hope"],
    ...                      "keywords": [["hope", "future"]]})
    >>> seg = pd.DataFrame({"source_id": [], "start": [], "end": []})
    >>> suggest_codes(src, seg, book)[["sentence", "code_id", "matched_keywords"]]
    ... # doctest: +NORMALIZE_WHITESPACE
                           sentence code_id matched_keywords
    0  Participant: I have hope now.    hope             hope
    """
    sents = sentences(sources)
    speakers = {s.lower() for s in exclude_speakers}
    sents = sents[~sents["speaker"].str.lower().isin(speakers).fillna(False).astype(bool)]
    sents = sents.reset_index(drop=True)
    if uncoded_only and len(sents) and len(segments):
        pairs, _ = _overlapping(sents, segments)
        sents = sents.drop(index=pd.unique(pairs["unit"])).reset_index(drop=True)
    keywords = keyword_table(codebook)
    if sents.empty or keywords.empty:
        return pd.DataFrame(columns=SUGGESTION_COLUMNS)
    found = _suggest(sents, keywords)
    out = sents.loc[found["doc"], ["source_id", "start", "end", "sentence"]].reset_index(
        drop=True)
    out["code_id"] = found["code_id"].to_numpy()
    out["code_name"] = out["code_id"].map(dict(zip(keywords["code_id"], keywords["code_name"])))
    out["matched_keywords"] = found["matched_keywords"].to_numpy()
    out["status"] = SUGGESTION_STATUS
    return out[SUGGESTION_COLUMNS]


def suggestion_quality(study, *, coder: str | None = None,
                       exclude_speakers: Sequence[str] = ("Interviewer",)) -> pd.DataFrame:
    """How well keyword suggestions match human coding, sentence by sentence.

    Parameters
    ----------
    study : Study or Qualitative
        A loaded study (its ``qualitative`` part is used) or a
        :class:`~spanalysis.qual.material.Qualitative`.
    coder : str, optional
        Compare with this coder only (default: every coder).
    exclude_speakers : sequence of str
        As :func:`suggest_codes` (those sentences are left out of the evaluation).

    Returns
    -------
    DataFrame
        One row per code that has keywords, then a ``micro-average`` row: ``code_id``,
        ``code_name``, ``support`` (sentences a human coded with the code),
        ``suggested``, ``true_positives``, ``false_positives``, ``false_negatives``,
        ``precision``, ``recall``, ``f1`` (NaN when undefined, e.g. nothing suggested).

    Notes
    -----
    The evaluation uses every sentence of the sources that were coded (by ``coder`` if
    given; a source nobody coded says nothing about what a coder would have done). For each
    sentence and code, *human-coded* means a segment of that code by any compared coder
    overlaps the sentence (``segment.start < sentence.end`` and ``segment.end >
    sentence.start``, the rule used for agreement), and *suggested* means
    :func:`suggest_codes` would suggest it (``uncoded_only=False``). Then

    .. math::

        \\text{precision} = \\frac{TP}{TP + FP}, \\quad
        \\text{recall} = \\frac{TP}{TP + FN}, \\quad
        F_1 = \\frac{2\\,TP}{2\\,TP + FP + FN}

    The micro-average adds TP, FP and FN over codes before dividing.

    Examples
    --------
    >>> import pandas as pd
    >>> from spanalysis.qual.material import Qualitative
    >>> src = pd.DataFrame({"source_id": ["I1"],
    ...                     "text": ["I have hope now. Hope is rare. The bus was late."]})
    >>> book = pd.DataFrame({"id": ["hope"], "name": ["Offering hope"],
    ...                      "keywords": [["hope"]]})
    >>> seg = pd.DataFrame({"segment_id": ["s1"], "source_id": ["I1"], "coder": ["a"],
    ...                     "code_id": ["hope"], "start": [0], "end": [16],
    ...                     "text": ["I have hope now."]})
    >>> q = suggestion_quality(Qualitative(book, src, seg))
    >>> q[["code_id", "support", "true_positives", "false_positives", "precision", "recall"]]
    ... # doctest: +NORMALIZE_WHITESPACE
              code_id  support  true_positives  false_positives  precision  recall
    0            hope        1               1                1        0.5     1.0
    1  micro-average        1               1                1        0.5     1.0
    """
    qual = require_qualitative(study)
    seg = qual.segments_by(coder)
    keywords = keyword_table(qual.codebook)
    if keywords.empty:  # a codebook without keywords: nothing to assess
        return pd.DataFrame(columns=QUALITY_COLUMNS)
    coded_sources = qual.sources[qual.sources["source_id"].isin(set(seg["source_id"]))]
    sents = sentences(coded_sources)
    speakers = {s.lower() for s in exclude_speakers}
    sents = sents[~sents["speaker"].str.lower().isin(speakers).fillna(False).astype(bool)]
    sents = sents.reset_index(drop=True)
    codes = list(dict.fromkeys(keywords["code_id"]))
    names = dict(zip(qual.codebook["id"], qual.codebook["name"]))

    pairs, seg_used = _overlapping(sents, seg)
    truth = pd.DataFrame({"doc": pairs["unit"].to_numpy(),
                          "code_id": seg_used["code_id"].to_numpy()[pairs["segment"]
                                                                    .to_numpy()]})
    truth = truth[truth["code_id"].isin(codes)].drop_duplicates()
    predicted = _suggest(sents, keywords)[["doc", "code_id"]] if len(sents) else \
        pd.DataFrame(columns=["doc", "code_id"])
    both = truth.merge(predicted, on=["doc", "code_id"], how="outer", indicator=True)
    counts = pd.crosstab(both["code_id"], both["_merge"]).reindex(
        index=codes, columns=["both", "left_only", "right_only"], fill_value=0)
    tp = counts["both"].to_numpy(np.int64)
    fn = counts["left_only"].to_numpy(np.int64)
    fp = counts["right_only"].to_numpy(np.int64)
    out = pd.DataFrame({"code_id": codes + ["micro-average"],
                        "code_name": [names.get(c, c) for c in codes] + ["all codes"],
                        "true_positives": np.append(tp, tp.sum()),
                        "false_positives": np.append(fp, fp.sum()),
                        "false_negatives": np.append(fn, fn.sum())})
    t, p, n = out["true_positives"], out["false_positives"], out["false_negatives"]
    out["support"] = t + n
    out["suggested"] = t + p
    out["precision"] = t / (t + p).where(t + p > 0)
    out["recall"] = t / (t + n).where(t + n > 0)
    out["f1"] = 2 * t / (2 * t + p + n).where(2 * t + p + n > 0)
    return out[QUALITY_COLUMNS]
