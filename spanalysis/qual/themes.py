"""Quantitizing coded themes: which participants voiced which theme, and how often.

Quantitizing (turning coded qualitative data into variables, present/absent or counts per
participant) is what lets themes be tabulated against questionnaire change (Fetters, Curry &
Creswell 2013; Sandelowski, Voils & Knafl 2009). Users of QDA tools ask for exactly this
participant x code matrix (QualCoder issue #954).

Rules
-----
* Only interview sources linked to a participant count (observation notes and documents are
  not one person's voice) unless ``source_types`` says otherwise.
* Every interviewed participant has a row, including those with no coded segment, so that
  "did not voice" is a real zero and not a missing row.
* With several coders and ``coder=None``, a participant voiced a code if **any** coder coded
  it; the count is the **largest** number of segments any one coder gave that code in the
  participant's sources, so a double-coded interview is not counted twice.
"""
from __future__ import annotations

import pandas as pd

__all__ = ["participant_code_matrix"]


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
