"""Inter-coder agreement: percent agreement, Cohen's kappa, Krippendorff's alpha, and a
per-code comparison of coded segments that uncoded text cannot inflate.

Reliability data are a *coders x units* table (rows = coders, columns = units such as
sentences), with NaN where a coder gave no value.

References
----------
Krippendorff, K. (2011). Computing Krippendorff's alpha-reliability. Annenberg School for
Communication, University of Pennsylvania. https://repository.upenn.edu/asc_papers/43
Cohen, J. (1960). A coefficient of agreement for nominal scales. Educational and
Psychological Measurement, 20(1), 37-46.
Efron, B. & Tibshirani, R. J. (1993). An Introduction to the Bootstrap. Chapman & Hall
(ch. 13, percentile intervals).
Field, C. A. & Welsh, A. H. (2007). Bootstrapping clustered data. J R Stat Soc B 69:369-390
(resampling whole clusters: here, sources).
Hayes, A. F. & Krippendorff, K. (2007). Answering the call for a standard reliability measure
for coding data. Communication Methods and Measures 1:77-89 (bootstrapping alpha).
Kiss, T. & Strunk, J. (2006). Unsupervised multilingual sentence boundary detection.
Computational Linguistics, 32(4), 485-525 (NLTK's Punkt sentence tokenizer).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import numpy as np
import pandas as pd

from spanalysis.errors import InputError

__all__ = ["krippendorff_alpha", "cohen_kappa", "percent_agreement", "coding_agreement",
           "sentence_spans", "AGREEMENT_COLUMNS", "double_coded_sources", "BOOTSTRAP_SEED",
           "BOOTSTRAP_RESAMPLES", "MIN_BOOTSTRAP_SOURCES"]

AGREEMENT_COLUMNS = ["code_id", "units_compared", "units_coded_by_any", "percent_agreement_all",
                     "percent_agreement_coded", "cohen_kappa", "krippendorff_alpha_all",
                     "n_coders", "cohen_kappa_ci_low", "cohen_kappa_ci_high",
                     "krippendorff_ci_low", "krippendorff_ci_high",
                     "sources_compared", "bootstrap_resamples", "confidence"]
#: the seed of the bootstrap draws (fixed: the same study gives the same intervals)
BOOTSTRAP_SEED = 20231
#: resamples of the compared sources behind each interval
BOOTSTRAP_RESAMPLES = 1000
#: fewer compared sources than this and no interval is given: the resamples of 4 sources
#: take at most 35 distinct forms, too few for percentile limits
MIN_BOOTSTRAP_SOURCES = 5
_LEVELS = ("nominal", "ordinal", "interval", "ratio")


def _reliability_frame(data) -> pd.DataFrame:
    frame = pd.DataFrame(data)
    if frame.ndim != 2 or frame.shape[0] < 2:
        raise InputError("reliability data need at least two coders (rows)",
                         value=f"shape {frame.shape}", expected="a coders x units table")
    return frame


def krippendorff_alpha(data, level: str = "nominal") -> float:
    """Krippendorff's alpha for two or more coders, any level of measurement, missing data.

    Parameters
    ----------
    data : array-like or DataFrame, shape (coders, units)
        One row per coder, one column per unit; NaN (or None) where a coder gave no value.
        For ``'nominal'`` values may be any labels; other levels need numbers (ordinal
        values are ranked by their numeric order).
    level : {'nominal', 'ordinal', 'interval', 'ratio'}
        Level of measurement, which sets the difference function.

    Returns
    -------
    float
        alpha = 1 - D_o / D_e; 1 is perfect agreement, 0 agreement at chance level. NaN when
        no unit has two values or when the pairable values do not vary (D_e = 0, alpha is
        undefined).

    Notes
    -----
    The coincidence-matrix method of Krippendorff (2011). Units with fewer than two values
    are not pairable and are dropped. With :math:`n_{uc}` the number of coders giving value
    *c* to unit *u* and :math:`m_u = \\sum_c n_{uc}`:

    .. math::

        o_{ck} = \\sum_u \\frac{n_{uc} (n_{uk} - [c = k])}{m_u - 1}, \\quad
        n_c = \\sum_k o_{ck}, \\quad n = \\sum_c n_c

        \\alpha = 1 - (n - 1) \\frac{\\sum_{c,k} o_{ck}\\, \\delta^2_{ck}}
                                  {\\sum_{c,k} n_c n_k\\, \\delta^2_{ck}}

    with :math:`\\delta^2_{ck}` = 0 if *c = k* else 1 (nominal);
    :math:`(\\sum_{g=c}^{k} n_g - (n_c + n_k)/2)^2` (ordinal);
    :math:`(c - k)^2` (interval); :math:`((c - k)/(c + k))^2` (ratio).

    References
    ----------
    Krippendorff, K. (2011). Computing Krippendorff's alpha-reliability. Worked example
    (4 coders, 12 units, missing data): nominal 0.743, ordinal 0.815, interval 0.849,
    ratio 0.797.

    Examples
    --------
    >>> import numpy as np
    >>> data = [[1, 2, 3, 3, 2, 1, 4, 1, 2, np.nan, np.nan, np.nan],
    ...         [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, np.nan, 3],
    ...         [np.nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, np.nan],
    ...         [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, np.nan]]
    >>> round(krippendorff_alpha(data, "nominal"), 3)
    0.743
    >>> round(krippendorff_alpha(data, "interval"), 3)
    0.849
    """
    if level not in _LEVELS:
        raise InputError("unknown level of measurement", column="level", value=level,
                         expected=", ".join(_LEVELS))
    frame = _reliability_frame(data)
    long = frame.stack(future_stack=True).dropna()  # (coder, unit) -> value
    if long.empty:
        return float("nan")
    unit_codes, _ = pd.factorize(long.index.get_level_values(1))
    if level == "nominal":
        value_codes, values = pd.factorize(long.to_numpy(), sort=False)
        numeric = None
    else:
        try:
            as_number = pd.to_numeric(long, errors="raise").to_numpy(dtype=float)
        except (TypeError, ValueError):
            raise InputError(f"{level} alpha needs numeric values", column="level",
                             value=level, expected="numbers, or level='nominal'") from None
        value_codes, values = pd.factorize(as_number, sort=True)
        numeric = np.asarray(values, dtype=float)
    counts = np.zeros((unit_codes.max() + 1, len(values)))
    np.add.at(counts, (unit_codes, value_codes), 1.0)
    m = counts.sum(axis=1)
    counts = counts[m >= 2]  # units with one value are not pairable
    m = m[m >= 2]
    if len(m) == 0:
        return float("nan")
    weighted = counts / (m - 1)[:, None]
    coincidence = weighted.T @ counts - np.diag(weighted.sum(axis=0))
    n_c = coincidence.sum(axis=1)
    n = n_c.sum()
    delta = _delta(level, n_c, numeric)
    observed = (coincidence * delta).sum()
    expected = (np.outer(n_c, n_c) * delta).sum()
    if expected == 0:
        return float("nan")
    return float(1.0 - (n - 1.0) * observed / expected)


def _delta(level: str, n_c: np.ndarray, values: np.ndarray | None) -> np.ndarray:
    """Squared difference function delta^2_ck (Krippendorff 2011, section E)."""
    k = len(n_c)
    if level == "nominal":
        return 1.0 - np.eye(k)
    if level == "ordinal":
        cum = np.cumsum(n_c)
        lo = np.minimum.outer(np.arange(k), np.arange(k))
        hi = np.maximum.outer(np.arange(k), np.arange(k))
        between = cum[hi] - cum[lo] + n_c[lo]  # sum of n_g for g from c to k inclusive
        return (between - (n_c[:, None] + n_c[None, :]) / 2.0) ** 2
    diff = values[:, None] - values[None, :]
    if level == "interval":
        return diff ** 2
    total = values[:, None] + values[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (diff / total) ** 2
    return np.where(total == 0, 0.0, out)


def cohen_kappa(a: Sequence, b: Sequence) -> float:
    """Cohen's kappa for two coders' nominal ratings of the same units.

    Parameters
    ----------
    a, b : array-like, same length
        The two coders' values; units where either is missing (NaN/None) are left out.

    Returns
    -------
    float
        kappa = (p_o - p_e) / (1 - p_e); NaN when there are no complete pairs or when
        p_e = 1 (both coders used a single, identical category throughout).

    Notes
    -----
    :math:`p_o` is the proportion of units with equal values and
    :math:`p_e = \\sum_k p_{a,k}\\, p_{b,k}`, the agreement expected from each coder's own
    category proportions (Cohen 1960).

    Examples
    --------
    >>> round(cohen_kappa([1, 1, 0, 0, 1], [1, 0, 0, 0, 1]), 4)
    0.6154
    """
    a = pd.Series(np.asarray(a, dtype=object))
    b = pd.Series(np.asarray(b, dtype=object))
    if len(a) != len(b):
        raise InputError("the two coders rated different numbers of units",
                         value=f"{len(a)} and {len(b)}", expected="equal lengths")
    keep = a.notna() & b.notna()
    a, b = a[keep], b[keep]
    n = len(a)
    if n == 0:
        return float("nan")
    codes, _ = pd.factorize(pd.concat([a, b], ignore_index=True))
    ca, cb = codes[:n], codes[n:]
    k = codes.max() + 1
    p_o = float(np.mean(ca == cb))
    p_e = float(np.dot(np.bincount(ca, minlength=k), np.bincount(cb, minlength=k))) / n ** 2
    if p_e == 1.0:
        return float("nan")
    return (p_o - p_e) / (1.0 - p_e)


def percent_agreement(data) -> float:
    """Percentage of pairable units on which all coders gave the same value.

    Parameters
    ----------
    data : array-like or DataFrame, shape (coders, units)
        NaN where a coder gave no value; units with fewer than two values are left out.

    Returns
    -------
    float
        100 x (units where every value present is identical) / (units with >= 2 values);
        NaN when no unit has two values.

    Examples
    --------
    >>> percent_agreement([[1, 0, 1, 1], [1, 1, 1, 0]])
    50.0
    """
    frame = _reliability_frame(data)
    present = frame.notna().sum(axis=0)
    pairable = present >= 2
    if not pairable.any():
        return float("nan")
    same = frame.nunique(axis=0, dropna=True) == 1
    return float(100.0 * (same & pairable).sum() / pairable.sum())


# --------------------------------------------------------------------------- coded segments

#: Abbreviations after which Punkt must not end a sentence (titles are common in interviews).
ABBREVIATIONS = {"dr", "mr", "mrs", "ms", "mx", "prof", "e.g", "i.e", "vs"}


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of ``text`` (start, end exclusive).

    Uses NLTK's Punkt sentence tokenizer *untrained* (Kiss & Strunk 2006): no model is
    downloaded, so it runs offline. Its default rules split after ``. ? !`` followed by
    white space; the common titles in :data:`ABBREVIATIONS` are declared so that "Dr. Patel"
    is not split. Spans exclude the white space between sentences.
    """
    from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

    params = PunktParameters()
    params.abbrev_types = set(ABBREVIATIONS)
    return list(PunktSentenceTokenizer(params).span_tokenize(text))


def double_coded_sources(segments: pd.DataFrame) -> int:
    """How many sources at least two coders coded: agreement can be measured on these only.

    >>> import pandas as pd
    >>> double_coded_sources(pd.DataFrame({"source_id": ["S1", "S1", "S2"],
    ...                                    "coder": ["A", "B", "A"]}))
    1
    """
    if segments.empty:
        return 0
    return int((segments.dropna(subset=["coder"]).groupby("source_id")["coder"].nunique()
                >= 2).sum())


def coding_agreement(segments: pd.DataFrame, sources: pd.DataFrame, unit: str = "sentence",
                     coders: Sequence[str] | None = None, confidence: float = 0.95,
                     n_resamples: int = BOOTSTRAP_RESAMPLES,
                     seed: int = BOOTSTRAP_SEED) -> pd.DataFrame:
    """Agreement between coders, code by code, over sentences or whole sources.

    Parameters
    ----------
    segments : DataFrame
        Coded segments with ``source_id``, ``coder``, ``code_id``, ``start``, ``end``
        (character offsets, end exclusive), as from ``read_segments`` or ``read_qdpx``.
    sources : DataFrame
        ``source_id`` and ``text``.
    unit : {'sentence', 'source'}
        The unit of comparison: each sentence (see :func:`sentence_spans`) or each source.
    coders : sequence of str, optional
        The coders to compare (default: every coder in ``segments``); at least two.
    confidence : float
        Level of the bootstrap intervals (default 0.95).
    n_resamples : int
        Bootstrap resamples of the compared sources (default 1,000; 0 gives no intervals).
    seed : int
        Seed of the resamples (default :data:`BOOTSTRAP_SEED`): the same data give the same
        intervals.

    Returns
    -------
    DataFrame
        One row per code used by any compared coder, sorted by ``code_id``:

        - ``code_id``
        - ``units_compared``: units in the sources coded by all compared coders
        - ``units_coded_by_any``: of those, units at least one coder gave this code
        - ``percent_agreement_all``: % of all compared units where the coders agree
          (all gave the code, or none did)
        - ``percent_agreement_coded``: % of units coded by any where all coders gave it
        - ``cohen_kappa``: over all units (two coders only, else NaN)
        - ``krippendorff_alpha_all``: nominal alpha over all compared units, the units
          nobody coded included (presence or absence of the code per unit, as Krippendorff
          defines it); NaN where it is not estimable (no variation: every unit has the
          code from every coder, or none has)
        - ``n_coders``
        - ``cohen_kappa_ci_low``, ``cohen_kappa_ci_high``,
          ``krippendorff_ci_low``, ``krippendorff_ci_high`` (of alpha): percentile
          bootstrap intervals at ``confidence`` (see Notes); NaN when fewer than
          :data:`MIN_BOOTSTRAP_SOURCES` sources are compared, when the statistic itself is
          NaN, or when it is undefined in more than 10% of the resamples (a code found in
          very few sources)
        - ``sources_compared``: sources coded by every compared coder (the bootstrap's
          clusters)
        - ``bootstrap_resamples``, ``confidence``

    Notes
    -----
    A unit carries a code for a coder when any of that coder's segments with the code
    overlaps the unit (``segment.start < unit.end`` and ``segment.end > unit.start``). Only
    sources in which every compared coder coded at least one segment are compared, so a
    source one coder has not yet coded is not counted as disagreement. Agreement over all
    units counts the many units nobody coded as agreement, which inflates it (the complaint
    in QualCoder issue #667); ``percent_agreement_coded`` leaves those units out. Alpha is
    given over all units only: over the coded units alone there is no unit where every
    coder said "absent", so alpha is zero or negative by construction even when coders
    agree on almost everything (Krippendorff 2011: alpha is defined over all units of
    analysis).

    The intervals resample whole sources with replacement (a cluster bootstrap: the
    sentences of one interview are not independent of one another, Field & Welsh 2007), the
    same ``n_resamples`` draws for every code (drawn once per number of sources, resample
    count and seed, and cached). Each resample's kappa and alpha come from its counts of
    unit patterns: with s_u the number of coders who gave the code to unit u (m coders,
    n = m x units, n_1 = sum s_u, n_0 = n - n_1),
    alpha = 1 - (n - 1) sum_u s_u (m - s_u) / (m - 1) / (n_0 n_1), Krippendorff's
    coincidence-matrix alpha for binary values without missing data; kappa from the two
    coders' 2 x 2 table. The limits are the alpha/2 and 1 - alpha/2 quantiles of the
    resamples' values (percentile method, Efron & Tibshirani 1993, ch. 13; Hayes &
    Krippendorff 2007 bootstrap alpha in the same spirit, resampling units). Where the coders
    agree on every unit, every resample agrees too and the interval is 1 to 1: the bootstrap
    cannot show the uncertainty of a perfect score in a small sample.

    Examples
    --------
    >>> import pandas as pd
    >>> sources = pd.DataFrame({"source_id": ["S1"],
    ...                         "text": ["I felt alone. She listened. Now I go out."]})
    >>> segments = pd.DataFrame({"source_id": ["S1", "S1", "S1"], "coder": ["A", "B", "B"],
    ...                          "code_id": ["valued", "valued", "valued"],
    ...                          "start": [14, 14, 28], "end": [27, 27, 41]})
    >>> row = coding_agreement(segments, sources).iloc[0]
    >>> int(row.units_compared), int(row.units_coded_by_any)
    (3, 2)
    >>> round(float(row.percent_agreement_all), 2), float(row.percent_agreement_coded)
    (66.67, 50.0)
    """
    if unit not in ("sentence", "source"):
        raise InputError("unknown unit of comparison", column="unit", value=unit,
                         expected="'sentence' or 'source'")
    confidence, n_resamples = _check_bootstrap(confidence, n_resamples)
    seg, coders, compared, texts = _compared_sources(segments, sources, coders)
    codes, marks, unit_source = _unit_marks(seg, coders, compared, texts, unit)
    table = _agreement_by_code(codes, marks)
    intervals = _bootstrap_intervals(marks, unit_source, len(compared), confidence,
                                     n_resamples, int(seed))
    for name, values in intervals.items():
        table[name] = values
    table["sources_compared"] = len(compared)
    table["bootstrap_resamples"] = n_resamples
    table["confidence"] = confidence
    return table[AGREEMENT_COLUMNS]


def _check_bootstrap(confidence, n_resamples) -> tuple[float, int]:
    try:
        level = float(confidence)
    except (TypeError, ValueError):
        level = float("nan")
    if not 0 < level < 1:
        raise InputError("the confidence level must lie between 0 and 1", column="confidence",
                         value=confidence, expected="a number such as 0.95")
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, (int, np.integer)) \
            or n_resamples < 0:
        raise InputError("the number of bootstrap resamples must be a whole number",
                         column="n_resamples", value=n_resamples,
                         expected="0 (no intervals) or e.g. 1000")
    return level, int(n_resamples)


@lru_cache(maxsize=32)
def _resample_weights(n_sources: int, n_resamples: int, seed: int) -> np.ndarray:
    """``weights[b, s]``: how often source s is drawn in resample b (each resample draws
    ``n_sources`` sources with replacement). Cached: one study's tables share the draws."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_sources, size=(n_resamples, n_sources))
    rows = np.repeat(np.arange(n_resamples), n_sources)
    weights = np.bincount(rows * n_sources + draws.ravel(),
                          minlength=n_resamples * n_sources).reshape(n_resamples, n_sources)
    weights.setflags(write=False)
    return weights


def _alpha_from_counts(counts: np.ndarray, m: int) -> np.ndarray:
    """Nominal alpha of binary codes without missing values from ``counts[..., j]``, the
    number of units that j of the m coders gave the code (vectorised over leading axes)."""
    j = np.arange(m + 1, dtype=float)
    units = counts.sum(axis=-1)
    n = m * units
    n_1 = counts @ j
    n_0 = n - n_1
    disagree = counts @ (j * (m - j)) / (m - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n_0 * n_1 > 0, 1.0 - (n - 1) * disagree / (n_0 * n_1), np.nan)


def _kappa_from_counts(counts: np.ndarray) -> np.ndarray:
    """Cohen's kappa from ``counts[..., 2a + b]``: units with coder A's mark a and coder B's
    mark b (0 or 1), vectorised over leading axes."""
    total = counts.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_o = (counts[..., 0] + counts[..., 3]) / total
        p_a = (counts[..., 2] + counts[..., 3]) / total
        p_b = (counts[..., 1] + counts[..., 3]) / total
        p_e = p_a * p_b + (1 - p_a) * (1 - p_b)
        return np.where((total > 0) & (p_e < 1), (p_o - p_e) / (1 - p_e), np.nan)


def _percentile_limits(values: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile limits over the last axis; NaN where more than 10% of values are NaN."""
    finite = np.isfinite(values)
    ok = finite.mean(axis=-1) >= 0.9
    q = [(1 - confidence) / 2, 1 - (1 - confidence) / 2]
    limits = np.full(values.shape[:-1] + (2,), np.nan)
    if ok.any():
        limits[ok] = np.nanquantile(values[ok], q, axis=-1).T
    return limits[..., 0], limits[..., 1]


def _bootstrap_intervals(marks: np.ndarray, unit_source: np.ndarray, n_sources: int,
                         confidence: float, n_resamples: int, seed: int) -> dict:
    """Cluster-bootstrap limits of kappa and alpha for every code of ``marks[code, coder,
    unit]`` (sources resampled; see :func:`coding_agreement`)."""
    n_codes, m = marks.shape[0], marks.shape[1]
    nan = np.full(n_codes, np.nan)
    out = {"cohen_kappa_ci_low": nan, "cohen_kappa_ci_high": nan,
           "krippendorff_ci_low": nan, "krippendorff_ci_high": nan}
    if n_resamples == 0 or n_codes == 0 or n_sources < MIN_BOOTSTRAP_SOURCES:
        return out
    weights = _resample_weights(n_sources, n_resamples, seed).astype(float)
    marked = marks.sum(axis=1)                                    # [code, unit]: 0..m
    n_levels = m + 1
    cell = unit_source[None, :] * n_levels + marked               # [code, unit]
    per_source = np.stack([np.bincount(c, minlength=n_sources * n_levels) for c in cell])
    per_source = per_source.reshape(n_codes, n_sources, n_levels).astype(float)
    counts = np.einsum("bs,ksj->kbj", weights, per_source)        # [code, resample, j]
    alpha = _alpha_from_counts(counts, m)
    out["krippendorff_ci_low"], out["krippendorff_ci_high"] = \
        _percentile_limits(alpha, confidence)
    if m == 2:
        pattern = 2 * marks[:, 0, :].astype(np.int64) + marks[:, 1, :]
        cell = unit_source[None, :] * 4 + pattern
        per_source = np.stack([np.bincount(c, minlength=n_sources * 4) for c in cell])
        per_source = per_source.reshape(n_codes, n_sources, 4).astype(float)
        kappa = _kappa_from_counts(np.einsum("bs,ksj->kbj", weights, per_source))
        out["cohen_kappa_ci_low"], out["cohen_kappa_ci_high"] = \
            _percentile_limits(kappa, confidence)
    return out


def _compared_sources(segments: pd.DataFrame, sources: pd.DataFrame,
                      coders: Sequence[str] | None
                      ) -> tuple[pd.DataFrame, list, pd.Index, list[str]]:
    """The compared coders' segments, the coders, the sources every one of them coded, and
    those sources' texts (in the same order)."""
    needed = ["source_id", "coder", "code_id", "start", "end"]
    missing = [c for c in needed if c not in segments.columns]
    if missing:
        raise InputError("the segments table lacks a column", column=missing[0],
                         expected=", ".join(needed))
    seg = segments[needed].dropna(subset=["coder"])
    coders = sorted(seg["coder"].unique()) if coders is None else list(dict.fromkeys(coders))
    if len(coders) < 2:
        raise InputError("agreement needs at least two coders", column="coder",
                         value=", ".join(map(str, coders)) or "none",
                         expected="segments from two or more coders")
    seg = seg[seg["coder"].isin(coders)]
    per_source = seg.groupby("source_id")["coder"].nunique()
    compared = per_source.index[per_source == len(coders)]
    if len(compared) == 0:
        raise InputError("no source has been coded by all the coders compared",
                         column="coder", value=", ".join(map(str, coders)),
                         expected="at least one source coded by each of them")
    text_of = pd.Series(sources["text"].to_numpy(), index=sources["source_id"])
    unknown = ~pd.Index(compared).isin(text_of.index)
    if unknown.any():
        raise InputError("a coded source is not in the sources table", column="source_id",
                         value=compared[unknown][0], expected="a source_id of the sources")
    texts = [str(text_of[s]) for s in compared]
    return seg[seg["source_id"].isin(compared)], coders, compared, texts


def _unit_marks(seg: pd.DataFrame, coders: list, compared: pd.Index, texts: list[str],
                unit: str) -> tuple[pd.Index, np.ndarray, np.ndarray]:
    """The codes used (sorted), ``marks[code, coder, unit]``: True where one of the
    coder's segments with the code overlaps the unit, and each unit's source (its position
    in ``compared``).

    Units are laid end to end on one global axis (source k starts at ``base[k]``) so that
    every segment is matched to its units by two binary searches instead of a loop."""
    lengths = np.array([len(t) for t in texts], dtype=np.int64)
    base = np.concatenate([[0], np.cumsum(lengths + 1)[:-1]])
    spans = ([sentence_spans(t) for t in texts] if unit == "sentence"
             else [[(0, len(t))] if len(t) else [] for t in texts])
    n_units = np.array([len(s) for s in spans], dtype=np.int64)
    flat = np.array([p for s in spans for p in s], dtype=np.int64).reshape(-1, 2)
    offset = np.repeat(base, n_units)
    u_start, u_end = flat[:, 0] + offset, flat[:, 1] + offset

    src_index = pd.Series(np.arange(len(compared)), index=compared)
    sbase = base[src_index[seg["source_id"]].to_numpy()]
    g_start = seg["start"].to_numpy(np.int64) + sbase
    g_end = seg["end"].to_numpy(np.int64) + sbase
    first = np.searchsorted(u_end, g_start, side="right")   # first unit ending after start
    last = np.searchsorted(u_start, g_end, side="left") - 1  # last unit starting before end
    count = np.clip(last - first + 1, 0, None)
    within = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    unit_idx = np.repeat(first, count) + within

    code_codes, codes = pd.factorize(seg["code_id"], sort=True)
    coder_index = pd.Series(np.arange(len(coders)), index=coders)
    coder_codes = coder_index[seg["coder"]].to_numpy()
    marks = np.zeros((len(codes), len(coders), len(u_start)), dtype=bool)
    marks[np.repeat(code_codes, count), np.repeat(coder_codes, count), unit_idx] = True
    return codes, marks, np.repeat(np.arange(len(compared)), n_units)


def _agreement_by_code(codes: pd.Index, marks: np.ndarray) -> pd.DataFrame:
    """One row of :data:`AGREEMENT_COLUMNS` per code from ``marks[code, coder, unit]``."""
    n_coders, total_units = marks.shape[1], marks.shape[2]
    any_coded = marks.any(axis=1)
    all_coded = marks.all(axis=1)
    agree = all_coded | ~any_coded
    n_any = any_coded.sum(axis=1)
    rows = []
    for k, code in enumerate(codes):  # one alpha/kappa per code; codes are few
        data = marks[k].astype(float)
        rows.append({
            "code_id": code,
            "units_compared": total_units,
            "units_coded_by_any": int(n_any[k]),
            "percent_agreement_all": 100.0 * agree[k].mean() if total_units else np.nan,
            "percent_agreement_coded": (100.0 * all_coded[k].sum() / n_any[k]
                                        if n_any[k] else np.nan),
            "cohen_kappa": cohen_kappa(data[0], data[1]) if n_coders == 2 else np.nan,
            "krippendorff_alpha_all": krippendorff_alpha(data) if total_units else np.nan,
            "n_coders": n_coders,
        })
    return pd.DataFrame(rows, columns=AGREEMENT_COLUMNS[:8])
