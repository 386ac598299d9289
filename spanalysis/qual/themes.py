"""Theme summaries: which participants voiced which theme, how often codes were applied per
group (normalised for group size), and which codes occur together.

Quantitizing (turning coded qualitative data into variables, present/absent or counts per
participant) is what lets themes be tabulated against questionnaire change (Fetters, Curry &
Creswell 2013; Sandelowski, Voils & Knafl 2009). Users of QDA tools ask for exactly this
participant x code matrix (QualCoder issue #954).

Rules of the participant x code matrix
--------------------------------------
* Only interview sources linked to a participant count (observation notes and documents are
  not one person's voice) unless ``source_types`` says otherwise.
* Every interviewed participant has a row, including those with no coded segment, so that
  "did not voice" is a real zero and not a missing row.
* With several coders and ``coder=None``, a participant voiced a code if **any** coder coded
  it; the count is the **largest** number of segments any one coder gave that code in the
  participant's sources, so a double-coded interview is not counted twice.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from spanalysis.errors import InputError

__all__ = ["participant_code_matrix", "code_frequencies", "code_cooccurrence",
           "cooccurrence_heatmap", "most_coded", "HEATMAP_MAX_CODES", "FREQUENCY_COLUMNS",
           "COOCCURRENCE_COLUMNS"]


def participant_code_matrix(segments: pd.DataFrame, sources: pd.DataFrame, *,
                            binary: bool = False, coder: str | None = None,
                            codes: list[str] | None = None,
                            source_types: tuple[str, ...] = ("interview",)) -> pd.DataFrame:
    """Participants x codes: counts of coded segments (or 0/1 with ``binary=True``).

    Parameters
    ----------
    segments : DataFrame with ``source_id, coder, code_id``.
    sources : DataFrame with ``source_id, source_type, participant_id``.
    binary : return 1 where the participant voiced the code, else 0.
    coder : use only this coder's segments (default: all coders, merged as in the module
        docstring).
    codes : the columns, in order (default: every code that occurs, sorted).
    source_types : which sources count.

    Returns
    -------
    DataFrame indexed by ``participant_id`` (every participant with a counted source), one
    integer column per code.

    Examples
    --------
    >>> import pandas as pd
    >>> src = pd.DataFrame({"source_id": ["I1", "I2"], "source_type": ["interview"] * 2,
    ...                     "participant_id": ["P1", "P2"]})
    >>> seg = pd.DataFrame({"source_id": ["I1", "I1", "I1"], "coder": ["a", "a", "b"],
    ...                     "code_id": ["hope", "hope", "hope"]})
    >>> participant_code_matrix(seg, src)  # doctest: +NORMALIZE_WHITESPACE
                    hope
    participant_id
    P1                 2
    P2                 0
    """
    src = sources[sources["source_type"].isin(source_types) & sources["participant_id"].notna()]
    people = pd.Index(sorted(src["participant_id"].unique()), name="participant_id")
    seg = segments.merge(src[["source_id", "participant_id"]], on="source_id", how="inner")
    if coder is not None:
        seg = seg[seg["coder"] == coder]
    if codes is None:
        codes = sorted(segments["code_id"].dropna().unique())
    per_coder = seg.groupby(["participant_id", "code_id", "coder"], observed=True).size()
    counts = per_coder.groupby(level=["participant_id", "code_id"]).max().unstack("code_id")
    matrix = counts.reindex(index=people, columns=list(codes)).fillna(0).astype(int)
    matrix.columns.name = None
    if binary:
        matrix = (matrix > 0).astype(int)
    return matrix


# =========================================================================== code frequencies

FREQUENCY_COLUMNS = ["code_id", "segments", "sources", "participants", "group_sources",
                     "group_participants", "percent_sources", "percent_participants",
                     "segments_per_source"]
COOCCURRENCE_COLUMNS = ["code_a", "code_b", "n_a", "n_b", "n_ab", "jaccard", "c_coefficient"]
COOCCURRENCE_UNITS = ("source", "overlap")


def _check_columns(frame: pd.DataFrame, needed: list[str], what: str) -> None:
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise InputError(f"the {what} table lacks a column", column=missing[0],
                         expected=", ".join(needed))


def _coder_subset(segments: pd.DataFrame, coder: str | None) -> pd.DataFrame:
    if coder is None:
        return segments
    if coder not in set(segments["coder"].dropna()):
        raise InputError("no segments by this coder", column="coder", value=coder,
                         expected="one of " + ", ".join(sorted(segments["coder"].dropna()
                                                               .unique())))
    return segments[segments["coder"] == coder]


def code_frequencies(segments: pd.DataFrame, sources: pd.DataFrame, *,
                     by: str | list[str] | None = None,
                     participants: pd.DataFrame | None = None, coder: str | None = None,
                     codes: list[str] | None = None,
                     source_types: tuple[str, ...] | None = None) -> pd.DataFrame:
    """How often each code was applied: by segments, sources and participants, per group,
    normalised for group size.

    Parameters
    ----------
    segments : DataFrame
        Coded segments with ``source_id, coder, code_id``.
    sources : DataFrame
        ``source_id, source_type, participant_id`` and any grouping column such as ``site``.
    by : str or list of str, optional
        Grouping: a column of ``sources`` (``site``, ``source_type``) or, for sources linked
        to a participant, a column of ``participants`` (``gender``, ``age_band``,
        ``imd_quintile``, ...). ``None``: one row per code over everything.
    participants : DataFrame, optional
        ``participant_id`` and the attributes named in ``by``.
    coder : str, optional
        Count only this coder's segments (default: all coders, merged as below).
    codes : list of str, optional
        Codes to report, in order (default: every code that occurs, sorted). Codes never
        applied in a group get real zeros.
    source_types : tuple of str, optional
        Only these source types (default: all: interview, observation, document).

    Returns
    -------
    DataFrame
        One row per group and code (group columns first, named as in ``by``):

        - ``code_id``
        - ``segments``: coded segments with the code in the group's sources
        - ``sources``: sources in which the code was applied
        - ``participants``: distinct participants in whose sources the code was applied
          (participants who *voiced* the theme)
        - ``group_sources``: all sources in the group, coded or not
        - ``group_participants``: all participants with a source in the group (the
          interviewed participants of the group)
        - ``percent_sources``: 100 x sources / group_sources
        - ``percent_participants``: 100 x participants / group_participants (NaN when the
          group has no participant, e.g. observation notes)
        - ``segments_per_source``: segments / group_sources

    Notes
    -----
    Raw counts favour large groups: a site with 20 interviews will show more "hope" than a
    site with 5 even if hope is voiced equally often. ATLAS.ti (code-document tables with
    relative frequencies "normalised" for document groups of unequal size) and MAXQDA
    (crosstabs with column percentages, counting a code once per document) therefore report
    the share of the group's documents or people. Here
    :math:`\\text{percent\\_participants}_{g,c} = 100\\, P_{g,c} / N_g`, with
    :math:`P_{g,c}` the participants of group *g* who voiced code *c* and :math:`N_g` the
    participants of the group; ``percent_sources`` is the same for sources.

    * With several coders and ``coder=None`` a source carries a code if **any** coder applied
      it, and its segment count for the code is the **largest** count any single coder gave
      (as :func:`participant_code_matrix`), so double-coded sources are not counted twice.
    * Sources whose group value is missing are left out (e.g. observation notes when grouping
      by a participant attribute).
    * Counts are raw; small cells must be suppressed before display (disclosure control).
    * Parent codes are not credited with their children's segments.

    References
    ----------
    ATLAS.ti 22 Windows manual, "Code-Document Table" (normalisation of frequencies).
    MAXQDA 2022 manual, "Crosstabs" (counts, row/column percentages, per document).

    Examples
    --------
    >>> import pandas as pd
    >>> src = pd.DataFrame({"source_id": ["I1", "I2", "I3"], "source_type": ["interview"] * 3,
    ...                     "participant_id": ["P1", "P2", "P3"], "site": ["A", "A", "B"]})
    >>> seg = pd.DataFrame({"source_id": ["I1", "I1", "I3"], "coder": ["x"] * 3,
    ...                     "code_id": ["hope"] * 3})
    >>> code_frequencies(seg, src, by="site")[["site", "segments", "participants",
    ...                                        "group_participants", "percent_participants"]]
      site  segments  participants  group_participants  percent_participants
    0    A         2             1                   2                  50.0
    1    B         1             1                   1                 100.0
    """
    _check_columns(segments, ["source_id", "coder", "code_id"], "segments")
    _check_columns(sources, ["source_id", "participant_id"], "sources")
    keys = [] if by is None else ([by] if isinstance(by, str) else list(by))
    src, group_cols = _grouped_sources(sources, keys, participants, source_types)
    seg = _coder_subset(segments, coder)
    if codes is None:
        codes = sorted(seg["code_id"].dropna().unique())
    counted = _counts_per_group(seg[seg["code_id"].isin(codes)], src, group_cols)
    out = _with_group_sizes(counted, src, group_cols, list(codes))
    return out[[*keys, *FREQUENCY_COLUMNS]].reset_index(drop=True)


def _with_group_sizes(counted: pd.DataFrame, src: pd.DataFrame, group_cols: list[str],
                      codes: list[str]) -> pd.DataFrame:
    """Counts for every group and code (real zeros where a code was not applied), the
    group's sources and participants, and the shares of them; sorted by group, then code in
    ``codes`` order."""
    sizes = src.groupby(group_cols, observed=True).agg(
        group_sources=("source_id", "nunique"), group_participants=("participant_id", "nunique"))
    grid = pd.MultiIndex.from_product(
        [*(sizes.index.levels if isinstance(sizes.index, pd.MultiIndex) else [sizes.index]),
         pd.Index(codes, name="code_id")], names=[*group_cols, "code_id"])
    out = counted.reindex(grid, fill_value=0).reset_index()
    out = out.merge(sizes.reset_index(), on=group_cols, how="inner")  # drops empty combos
    for col in ("segments", "sources", "participants", "group_sources", "group_participants"):
        out[col] = out[col].astype("int64")
    out["percent_sources"] = 100.0 * out["sources"] / out["group_sources"]
    people = out["group_participants"].where(out["group_participants"] > 0)
    out["percent_participants"] = 100.0 * out["participants"] / people
    out["segments_per_source"] = out["segments"] / out["group_sources"]
    return out.sort_values([*group_cols, "code_id"],
                           key=lambda s: s.map({c: i for i, c in enumerate(codes)})
                           if s.name == "code_id" else s, kind="stable")


def _grouped_sources(sources: pd.DataFrame, keys: list[str],
                     participants: pd.DataFrame | None,
                     source_types: tuple[str, ...] | None) -> tuple[pd.DataFrame, list[str]]:
    """The sources that count, each with its group value(s), and the grouping columns.

    A key that is not a column of ``sources`` is looked up in ``participants`` through the
    source's participant. Without keys every source is in one group ``_all``. Sources with a
    missing group value are left out."""
    src = sources.copy()
    if source_types is not None:
        _check_columns(src, ["source_type"], "sources")
        src = src[src["source_type"].isin(source_types)]
    for key in keys:
        if key in src.columns:
            continue
        if participants is None or key not in participants.columns:
            raise InputError("unknown grouping column", column="by", value=key,
                             expected="a column of the sources table (site, source_type) or "
                                      "of the participants table (pass participants=)")
        attribute = participants.drop_duplicates("participant_id").set_index(
            "participant_id")[key]
        src[key] = src["participant_id"].map(attribute)
    group_cols = keys or ["_all"]
    if not keys:
        src["_all"] = "all"
    return src.dropna(subset=group_cols), group_cols


def _counts_per_group(seg: pd.DataFrame, src: pd.DataFrame, group_cols: list[str]
                      ) -> pd.DataFrame:
    """Per group and code: ``segments`` (per source the largest count any one coder gave),
    ``sources`` and ``participants`` in which the code was applied."""
    columns = ["source_id", "participant_id", *group_cols]
    seg = seg.merge(src[columns], on="source_id", how="inner")
    # per source and code: the largest number of segments any one coder gave it
    per_source = (seg.groupby(["source_id", "code_id", "coder"], observed=True).size()
                  .groupby(level=["source_id", "code_id"]).max().rename("n").reset_index()
                  .merge(src[columns], on="source_id"))
    return per_source.groupby([*group_cols, "code_id"], observed=True).agg(
        segments=("n", "sum"), sources=("source_id", "nunique"),
        participants=("participant_id", "nunique"))


# =========================================================================== co-occurrence

def _merged_coverage(seg: pd.DataFrame) -> pd.DataFrame:
    """Union of each (source, coder, code)'s segments as disjoint character intervals."""
    seg = seg.sort_values(["source_id", "coder", "code_id", "start", "end"], kind="stable")
    keys = ["source_id", "coder", "code_id"]
    reach = seg.groupby(keys, sort=False)["end"].cummax()
    previous_reach = reach.groupby([seg[k] for k in keys], sort=False).shift()
    new_block = previous_reach.isna() | (seg["start"] > previous_reach)
    block = new_block.cumsum()
    return (seg.assign(_block=block.to_numpy()).groupby([*keys, "_block"], sort=False)
            .agg(start=("start", "min"), end=("end", "max")).reset_index())


def code_cooccurrence(segments: pd.DataFrame, *, unit: str = "source",
                      coder: str | None = None, codes: list[str] | None = None
                      ) -> pd.DataFrame:
    """Which codes occur together, as counts, Jaccard index and ATLAS.ti's C-coefficient.

    Parameters
    ----------
    segments : DataFrame
        ``source_id, coder, code_id`` and, for ``unit='overlap'``, ``start, end``.
    unit : {'source', 'overlap'}
        ``'source'``: two codes co-occur when both were applied somewhere in the same source
        (a source carries a code when any coder, or ``coder``, applied it).
        ``'overlap'``: two codes co-occur when a segment of one overlaps a segment of the
        other (``start_1 < end_2`` and ``start_2 < end_1``, including the same passage coded
        with both) **by the same coder** in the same source; different coders giving
        different codes to one passage is disagreement, not co-occurrence.
    coder : str, optional
        Use only this coder's segments.
    codes : list of str, optional
        Codes to pair (default: every code that occurs).

    Returns
    -------
    DataFrame
        One row per unordered pair ``code_a < code_b`` (in ``codes`` order):

        - ``code_a``, ``code_b``
        - ``n_a``, ``n_b``: occurrences: sources carrying the code (``'source'``) or
          segments with the code (``'overlap'``)
        - ``n_ab``: co-occurrences: sources carrying both (``'source'``) or overlapping
          pairs of an ``a`` segment and a ``b`` segment (``'overlap'``)
        - ``jaccard``: ``'source'``: sources with both / sources with either
          = n_ab / (n_a + n_b - n_ab). ``'overlap'``: characters coded with both / characters
          coded with either (each code's coverage per source and coder is the union of its
          segments), a Jaccard index on the text itself.
        - ``c_coefficient``: n_ab / (n_a + n_b - n_ab) (ATLAS.ti). With ``'source'`` it
          equals ``jaccard`` (the formula is Jaccard's on source sets). With ``'overlap'``
          it can exceed 1 when one long segment overlaps several of the other code; ATLAS.ti
          flags such values, and so should a reader.

    Notes
    -----
    ATLAS.ti defines the C-coefficient as :math:`c_{12} = n_{12} / (n_1 + n_2 - n_{12})`,
    with :math:`n_1, n_2` the occurrence frequencies of the two codes (quotations) and
    :math:`n_{12}` their co-occurrence frequency (quotations coded with both or
    overlapping); 0 means never together, 1 always together. The Jaccard index of two sets
    is :math:`|A \\cap B| / |A \\cup B|` (Jaccard 1912).

    References
    ----------
    ATLAS.ti 22 Windows manual, "The Code Co-Occurrence Table" (C-coefficient).
    Jaccard, P. (1912). The distribution of the flora in the alpine zone. New Phytologist,
    11(2), 37-50.

    Examples
    --------
    >>> import pandas as pd
    >>> seg = pd.DataFrame({"source_id": ["S1", "S1", "S2", "S3"], "coder": ["x"] * 4,
    ...                     "code_id": ["hope", "valued", "hope", "valued"],
    ...                     "start": [0, 5, 0, 0], "end": [10, 20, 10, 10]})
    >>> code_cooccurrence(seg, unit="source").round(3)  # doctest: +NORMALIZE_WHITESPACE
      code_a  code_b  n_a  n_b  n_ab  jaccard  c_coefficient
    0   hope  valued    2    2     1    0.333          0.333
    """
    if unit not in COOCCURRENCE_UNITS:
        raise InputError("unknown unit of co-occurrence", column="unit", value=unit,
                         expected="'source' or 'overlap'")
    needed = ["source_id", "coder", "code_id"] + (["start", "end"] if unit == "overlap" else [])
    _check_columns(segments, needed, "segments")
    seg = _coder_subset(segments, coder)[needed].dropna(subset=["code_id"])
    if codes is None:
        codes = sorted(seg["code_id"].unique())
    codes = list(codes)
    seg = seg[seg["code_id"].isin(codes)]
    a_idx, b_idx = np.triu_indices(len(codes), k=1)
    out = pd.DataFrame({"code_a": [codes[i] for i in a_idx], "code_b": [codes[j] for j in b_idx]})
    if unit == "source":
        return _source_cooccurrence(seg, codes, out, a_idx, b_idx)
    return _overlap_cooccurrence(seg, codes, out, a_idx, b_idx)


def _source_cooccurrence(seg: pd.DataFrame, codes: list[str], out: pd.DataFrame,
                         a_idx: np.ndarray, b_idx: np.ndarray) -> pd.DataFrame:
    """Co-occurrence counted in sources: the pairs in ``out`` (codes ``a_idx``, ``b_idx``)
    with sources carrying each code, both, and their Jaccard index (= C-coefficient)."""
    carries = pd.crosstab(seg["source_id"], seg["code_id"]).reindex(columns=codes,
                                                                     fill_value=0)
    m = (carries.to_numpy() > 0).astype(np.int64)
    both = m.T @ m  # both[i, j]: sources carrying codes i and j
    n = np.diag(both)
    out["n_a"], out["n_b"], out["n_ab"] = n[a_idx], n[b_idx], both[a_idx, b_idx]
    union = out["n_a"] + out["n_b"] - out["n_ab"]
    out["jaccard"] = out["n_ab"] / union.where(union > 0)
    out["c_coefficient"] = out["jaccard"]
    return out[COOCCURRENCE_COLUMNS]


def _overlap_cooccurrence(seg: pd.DataFrame, codes: list[str], out: pd.DataFrame,
                          a_idx: np.ndarray, b_idx: np.ndarray) -> pd.DataFrame:
    """Co-occurrence counted in overlapping segments of one coder: segments per code,
    overlapping pairs, the C-coefficient, and the Jaccard index of the coded characters."""
    order = {c: i for i, c in enumerate(codes)}
    seg = seg.assign(start=seg["start"].astype(np.int64), end=seg["end"].astype(np.int64))
    n = seg["code_id"].value_counts().reindex(codes, fill_value=0).to_numpy()
    pairs = seg.merge(seg, on=["source_id", "coder"], suffixes=("_1", "_2"))
    pairs = pairs[(pairs["code_id_1"].map(order) < pairs["code_id_2"].map(order))
                  & (pairs["start_1"] < pairs["end_2"]) & (pairs["start_2"] < pairs["end_1"])]
    n_ab = pairs.groupby(["code_id_1", "code_id_2"]).size()
    key = pd.MultiIndex.from_arrays([out["code_a"], out["code_b"]])
    out["n_a"], out["n_b"] = n[a_idx], n[b_idx]
    out["n_ab"] = n_ab.reindex(key, fill_value=0).to_numpy().astype(np.int64)
    denominator = out["n_a"] + out["n_b"] - out["n_ab"]
    out["c_coefficient"] = out["n_ab"] / denominator.where(denominator > 0)
    covered, inter = _shared_characters(seg, codes, order)
    chars_both = inter.reindex(key, fill_value=0).to_numpy().astype(float)
    chars_either = (covered.to_numpy()[a_idx] + covered.to_numpy()[b_idx]) - chars_both
    out["jaccard"] = np.divide(chars_both, chars_either, out=np.full(len(out), np.nan),
                               where=chars_either > 0)
    return out[COOCCURRENCE_COLUMNS]


def _shared_characters(seg: pd.DataFrame, codes: list[str], order: dict
                       ) -> tuple[pd.Series, pd.Series]:
    """Characters coded with each code (its coverage per source and coder, summed) and, per
    pair of codes (in ``codes`` order), characters coded with both by the same coder."""
    cover = _merged_coverage(seg)
    cover["length"] = cover["end"] - cover["start"]
    covered = cover.groupby("code_id")["length"].sum().reindex(codes, fill_value=0)
    blocks = cover.merge(cover, on=["source_id", "coder"], suffixes=("_1", "_2"))
    blocks = blocks[blocks["code_id_1"].map(order) < blocks["code_id_2"].map(order)]
    shared = (np.minimum(blocks["end_1"], blocks["end_2"])
              - np.maximum(blocks["start_1"], blocks["start_2"])).clip(lower=0)
    return covered, shared.groupby([blocks["code_id_1"], blocks["code_id_2"]]).sum()


#: the co-occurrence heat map of a report draws at most this many codes (the most often
#: coded): with more, its labels cannot be read (issue 24: 3)
HEATMAP_MAX_CODES = 25


def most_coded(table: pd.DataFrame, n: int) -> list[str]:
    """The ``n`` codes of a :func:`code_cooccurrence` table that occur most often (``n_a`` /
    ``n_b``: sources or segments carrying the code), ties broken by code id.

    Examples
    --------
    >>> import pandas as pd
    >>> seg = pd.DataFrame({"source_id": ["S1", "S1", "S2", "S2", "S3"], "coder": ["x"] * 5,
    ...                     "code_id": ["hope", "valued", "hope", "calm", "hope"]})
    >>> most_coded(code_cooccurrence(seg), 2)
    ['hope', 'calm']
    """
    _check_columns(table, ["code_a", "code_b", "n_a", "n_b"], "co-occurrence")
    occurs = pd.concat([table.set_index("code_a")["n_a"], table.set_index("code_b")["n_b"]])
    occurs = occurs.groupby(level=0).max()
    order = sorted(occurs.index, key=lambda c: (-int(occurs[c]), str(c)))
    return [str(c) for c in order[:max(0, int(n))]]


def cooccurrence_heatmap(table: pd.DataFrame, value: str = "c_coefficient", *,
                         labels: dict | None = None, title: str | None = None,
                         annot: bool = True, max_codes: int | None = None):
    """Heat map of a :func:`code_cooccurrence` table.

    Parameters
    ----------
    table : DataFrame
        As returned by :func:`code_cooccurrence`.
    value : {'c_coefficient', 'jaccard', 'n_ab'}
        What the cells show.
    labels : dict, optional
        ``code_id -> label`` (e.g. code names from the codebook).
    title : str, optional
        Figure title (default describes ``value``).
    annot : bool
        Write the value in each cell.
    max_codes : int, optional
        Draw only the ``max_codes`` codes that occur most often (:func:`most_coded`) when the
        table has more; the alt text says how many of how many are drawn. Default: all.

    Returns
    -------
    matplotlib.figure.Figure
        The figure, symmetric, diagonal left blank. ``fig.alt_text`` holds a text
        alternative for screen readers (the title and the strongest pair), for use as the
        image's ``alt`` attribute in reports.

    Notes
    -----
    The figure is created with :class:`matplotlib.figure.Figure` (no pyplot global state),
    so it can be built in worker processes; Jupyter displays it when it is the cell's value.

    Examples
    --------
    >>> import pandas as pd
    >>> seg = pd.DataFrame({"source_id": ["S1", "S1", "S2"], "coder": ["x"] * 3,
    ...                     "code_id": ["hope", "valued", "hope"]})
    >>> fig = cooccurrence_heatmap(code_cooccurrence(seg))
    >>> fig.alt_text
    'Code co-occurrence (C-coefficient) of 2 codes. Strongest pair: hope and valued (0.50).'
    """
    import seaborn as sns
    from matplotlib.figure import Figure

    if value not in ("c_coefficient", "jaccard", "n_ab"):
        raise InputError("unknown value to show", column="value", value=value,
                         expected="'c_coefficient', 'jaccard' or 'n_ab'")
    _check_columns(table, ["code_a", "code_b", value], "co-occurrence")
    labels = labels or {}
    codes = list(dict.fromkeys([*table["code_a"], *table["code_b"]]))
    of_all = ""
    if max_codes is not None and len(codes) > max_codes:
        keep = set(most_coded(table, max_codes))
        of_all = f" (the {len(keep)} most often coded of {len(codes)})"
        table = table[table["code_a"].isin(keep) & table["code_b"].isin(keep)]
        codes = [c for c in codes if c in keep]
    names = [str(labels.get(c, c)) for c in codes]
    pos = {c: i for i, c in enumerate(codes)}
    ia = table["code_a"].map(pos).to_numpy()
    ib = table["code_b"].map(pos).to_numpy()
    values = table[value].to_numpy(dtype=float)
    grid = np.full((len(codes), len(codes)), np.nan)
    grid[ia, ib] = values
    grid[ib, ia] = values
    matrix = pd.DataFrame(grid, index=names, columns=names)
    what = {"c_coefficient": "C-coefficient", "jaccard": "Jaccard index",
            "n_ab": "number of co-occurrences"}[value]
    title = title or f"Code co-occurrence ({what})"
    size = max(4.0, 0.55 * len(codes) + 2.5)
    fig = Figure(figsize=(size + 1.5, size))
    ax = fig.add_subplot()
    sns.heatmap(matrix, ax=ax, annot=annot and len(codes) <= 20,
                fmt=".0f" if value == "n_ab" else ".2f", cmap="viridis", square=True,
                mask=matrix.isna(), cbar_kws={"label": what}, vmin=0,
                linewidths=0.5, linecolor="white")
    ax.set_title(title + ("\n" + of_all.strip(" ()") if of_all else ""))
    ax.set_xlabel("")
    ax.set_ylabel("")
    fig.tight_layout()
    if np.isfinite(values).any():
        k = int(np.nanargmax(values))
        shown = f"{values[k]:.0f}" if value == "n_ab" else f"{values[k]:.2f}"
        first, second = table["code_a"].iloc[k], table["code_b"].iloc[k]
        strongest = (f" Strongest pair: {labels.get(first, first)} and "
                     f"{labels.get(second, second)} ({shown}).")
    else:
        strongest = " No pair of codes occurs together."
    fig.alt_text = f"{title} of {len(codes)} codes{of_all}.{strongest}"
    return fig
