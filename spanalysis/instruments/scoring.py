"""Scoring questionnaire responses into tidy score tables.

Each instrument's answers are read into one matrix (rows x items), checked, and every scale
is computed from it with numpy, over all rows at once (see :mod:`.scales`).

The tidy score table has exactly the columns ``participant_id, timepoint, instrument, scale,
score, items_answered, items_expected, status`` (see :func:`score`). String columns are
categoricals, to keep a large table small.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from spanalysis.errors import InputError
from spanalysis.instruments.model import STATUSES, Instrument, Scale, _as_dict, load
from spanalysis.instruments.responses import (_answer_matrix, _codes, _item_columns, _reverse,
                                              _to_wide, _val)
from spanalysis.instruments.scales import Answers, gas_sums, scale_scores
from spanalysis.instruments.service import score_service_use

__all__ = ["score", "score_all", "score_study", "gas_tscore", "assign_bands",
           "score_service_use", "item_matrix", "SCORE_COLUMNS"]

SCORE_COLUMNS = ["participant_id", "timepoint", "instrument", "scale", "score",
                 "items_answered", "items_expected", "status"]

_STATUS_DTYPE = pd.CategoricalDtype(list(STATUSES))


def item_matrix(responses: pd.DataFrame, instrument, *, reverse: bool = True,
                source: str | None = None) -> np.ndarray:
    """The (rows x items) matrix of one instrument's answers, validated.

    Parameters
    ----------
    responses : DataFrame
        Wide responses (item columns may be absent only for optional items).
    instrument : Instrument or id
    reverse : bool
        Apply reverse scoring (``min + max - value``) to reverse-keyed items.
    source : str, optional
        The file the responses came from, named in error messages.

    Returns
    -------
    numpy.ndarray of float64, columns in ``instrument.items`` order, NaN = not answered.

    Raises
    ------
    InputError
        A required item column is missing, a value is not a number, outside the item's
        range, or not a whole number where the item needs one. The message names the column,
        the value, the expected range and the participant and time point.
    """
    wide = _to_wide(responses, source)
    inst = load(instrument)
    cols, arrays = _item_columns(wide, inst, source)
    X = _answer_matrix(wide, inst, cols, arrays, source)
    return _reverse(X, inst) if reverse else X


def gas_tscore(levels: Sequence[float], weights: Sequence[float] | None = None,
               rho: float = 0.3) -> float:
    """Goal Attainment Scaling T-score for one person's goals.

    Parameters
    ----------
    levels : sequence of float
        Attainment of each goal, in {-2, -1, 0, +1, +2}; NaN/None for a goal not set.
    weights : sequence of float, optional
        Positive weight per goal (NaN/None = 1). Default: all 1 (unweighted).
    rho : float
        Assumed correlation between goal scales; 0.3 by convention.

    Returns
    -------
    float
        The T-score, or NaN when no goal is set.

    Notes
    -----
    .. math:: T = 50 + \\frac{10 \\sum w_i x_i}{\\sqrt{(1-\\rho)\\sum w_i^2 + \\rho(\\sum w_i)^2}}

    T is 50 when every goal is met exactly; with equal weights and rho = 0.3, one goal at +1
    gives 60.

    References
    ----------
    Kiresuk TJ, Sherman RE (1968) Community Ment Health J 4:443-453.
    Turner-Stokes L (2009) Clin Rehabil 23:362-370 and erratum (corrected formula).

    Examples
    --------
    >>> from spanalysis.instruments import gas_tscore
    >>> gas_tscore([0, 0, 0])
    50.0
    >>> round(gas_tscore([1]), 6)
    60.0
    """
    L = np.array([np.nan if v is None else v for v in levels], dtype=float)
    if weights is None:
        W = np.ones_like(L)
    else:
        W = np.array([np.nan if v is None else v for v in weights], dtype=float)
        if W.shape != L.shape:
            raise InputError("one weight per goal is needed", value=len(W),
                             expected=f"{len(L)} weights")
        W = np.where(np.isnan(W), 1.0, W)
    set_ = ~np.isnan(L)
    bad = set_ & ~np.isin(L, [-2, -1, 0, 1, 2])
    if bad.any():
        raise InputError("GAS level outside -2..+2", value=_val(L[bad][0]),
                         expected="one of -2, -1, 0, 1, 2")
    if (set_ & (W <= 0)).any():
        raise InputError("GAS weight must be greater than 0", value=_val(W[set_ & (W <= 0)][0]),
                         expected="a positive number")
    if not 0 <= rho < 1:
        raise InputError("rho must be in [0, 1)", value=rho, expected="0 <= rho < 1")
    x, w = np.where(set_, L, 0.0)[None, :], np.where(set_, W, 0.0)[None, :]  # unset goals: 0
    return float(gas_sums((w * x).sum(axis=1), w.sum(axis=1), (w * w).sum(axis=1), rho)[0])


# --------------------------------------------------------------------------------------------
# Public scoring
# --------------------------------------------------------------------------------------------
def score(responses: pd.DataFrame, instrument, *, source: str | None = None) -> pd.DataFrame:
    """Score one instrument for every participant and time point.

    Parameters
    ----------
    responses : DataFrame
        The study's wide responses: ``participant_id``, ``timepoint``, optional
        ``completed_date``, then one float column per item (NaN = not answered). Columns of
        other instruments are ignored. A long table (``participant_id, timepoint, item,
        value``) is accepted and pivoted. For SWEMWBS, when no ``swemwbs_*`` column exists,
        the WEMWBS items 1, 2, 3, 6, 7, 9, 11 are used.
    instrument : Instrument or str
        An :class:`Instrument` or a built-in id / YAML path.
    source : str, optional
        The file the responses came from, named in error messages.

    Returns
    -------
    DataFrame
        One row per (scale, input row), in the order of the instrument's scales and then of
        the input rows. Columns:

        - ``participant_id``, ``timepoint`` (categorical; categories kept from the input
          when it is categorical, else in order of appearance)
        - ``instrument``, ``scale`` (categorical)
        - ``score`` (float; NaN when no score can be given)
        - ``items_answered`` (int8; int16 if a scale has more than 127 items): items of the
          scale answered
        - ``items_expected`` (same type): required items plus optional items answered
        - ``status`` (categorical, categories :data:`STATUSES`): ``ok`` (all expected items
          answered), ``prorated`` (items missing, score from the answered items: prorated
          sum = mean x items, or mean of answered items), ``partial`` (items missing, sum or
          count of the answered items as the instrument's rule says, e.g. De Jong Gierveld
          total with one item missing), ``too_few_items`` (more missing than the rule
          allows: score NaN), ``incomplete_for_lookup`` (a conversion table needs every item:
          score NaN), ``not_administered`` (no item answered: score NaN).

    Raises
    ------
    InputError
        Missing ``participant_id``/``timepoint``; an item column the instrument needs is
        absent; a response is not a number, outside its item's range, or not whole where it
        must be; a non-positive GAS weight; an instrument that is not scored from items
        (service use: see :func:`score_service_use`).

    Notes
    -----
    Reverse-keyed items are scored ``min + max - value`` first. Methods: ``sum``; ``mean``;
    ``lookup`` (raw sum converted through a published table, complete responses only);
    ``dichotomise_count`` (number of items whose answer is among the scale's
    ``count_values``); ``gas_tscore`` (see :func:`gas_tscore`). Missing-item rules are in
    each definition (``docs/instruments.md``).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from spanalysis import instruments
    >>> df = pd.DataFrame({"participant_id": ["p1", "p2"], "timepoint": ["baseline"] * 2,
    ...                    "ucla3_1": [1, 3], "ucla3_2": [2, np.nan], "ucla3_3": [3, 3]})
    >>> instruments.score(df, "ucla3")[["participant_id", "score", "status"]]
      participant_id  score         status
    0             p1    6.0             ok
    1             p2    NaN  too_few_items
    """
    inst = load(instrument)
    return score_all(responses, {inst.id: inst}, source=source)


def score_all(responses: pd.DataFrame, instruments, *,
              source: str | None = None) -> pd.DataFrame:
    """Score several instruments into one tidy table (see :func:`score` for the columns).

    Parameters
    ----------
    responses : DataFrame
        Wide (or long) responses.
    instruments : dict of id -> Instrument, or a list of ids / Instruments
        Instruments scored from questionnaire items. Instruments whose scales are all
        ``count`` (service use) are skipped here: score them with
        :func:`score_service_use`.
    source : str, optional
        The file the responses came from, named in error messages.

    Returns
    -------
    DataFrame
        The rows of every instrument, in the order given; categorical columns share one set
        of categories.

    Examples
    --------
    >>> import pandas as pd
    >>> from spanalysis import instruments
    >>> df = pd.DataFrame({"participant_id": ["p1"], "timepoint": ["baseline"],
    ...                    "ons_lonely": [4], "ucla3_1": [1], "ucla3_2": [1], "ucla3_3": [2]})
    >>> instruments.score_all(df, ["ucla3", "ons_lonely"])[["instrument", "scale", "score"]]
       instrument   scale  score
    0       ucla3   total    4.0
    1  ons_lonely  lonely    4.0
    """
    return _score_table(responses, instruments, source=source)


def score_study(responses: pd.DataFrame, instruments, service_use: pd.DataFrame | None = None,
                timepoints: Sequence[str] | None = None, *, source: str | None = None,
                service_source: str | None = None) -> pd.DataFrame:
    """A study's whole score table: every instrument scored from ``responses`` (see
    :func:`score`), then the service-use counts (:func:`score_service_use`) when given.

    With ``timepoints`` (the study's order), ``timepoint`` is an ordered categorical in that
    order; a time point not in it is blank. This is what :attr:`spanalysis.study.Study.scores`
    holds. ``source`` and ``service_source`` name the two files in error messages."""
    append = (None if service_use is None else
              score_service_use(service_use, timepoints, source=service_source))
    return _score_table(responses, instruments, append=append, timepoints=timepoints,
                        source=source)


def _scorable(inst: Instrument) -> list[Scale]:
    return [sc for sc in inst.scales if sc.method != "count"]


def _score_table(responses: pd.DataFrame, instruments, append: pd.DataFrame | None = None,
                 timepoints: Sequence[str] | None = None,
                 source: str | None = None) -> pd.DataFrame:
    """:func:`score_all`, with the rows of ``append`` (a score table with categorical text
    columns, such as :func:`score_service_use` gives) after the questionnaire rows. With
    ``timepoints`` (the study's order), ``timepoint`` is an ordered categorical in that
    order; a time point not in it is blank.

    Problems are reported in this order: a missing item column or an answer that is not a
    number (instrument by instrument), a blank participant id, an answer outside its item's
    range or a GAS weight that is not positive (instrument by instrument), a blank time
    point."""
    insts = _as_dict(instruments)
    wide = _to_wide(responses, source)
    only_counts = [i for i in insts.values() if not _scorable(i)]
    if only_counts and len(only_counts) == len(insts) and len(insts) == 1:
        raise InputError(f"'{only_counts[0].id}' is not scored from questionnaire items",
                         value=only_counts[0].id,
                         expected="score it with score_service_use(service_use, timepoints)")
    scored = [inst for inst in insts.values() if _scorable(inst)]
    columns = [_item_columns(wide, inst, source) for inst in scored]
    if not scored:
        return _empty_scores() if append is None else append
    pid = _codes(wide["participant_id"])
    blocks = []   # (instrument number, scale, its scores): one block of rows per scale
    for k, (inst, (cols, arrays)) in enumerate(zip(scored, columns)):
        answers = Answers(inst, _answer_matrix(wide, inst, cols, arrays, source))
        blocks += [(k, sc, scale_scores(sc, answers, wide, cols, source))
                   for sc in _scorable(inst)]
    tp = _codes(wide["timepoint"], any_width=True)
    return _assemble(blocks, len(wide), pid, tp, [inst.id for inst in scored], append,
                     timepoints)


def _assemble(blocks: list, n: int, pid: tuple, tp: tuple, inst_ids: list[str],
              append: pd.DataFrame | None, timepoints: Sequence[str] | None) -> pd.DataFrame:
    """The score table: each scale's block of ``n`` rows (the responses' rows, in order),
    then the rows of ``append``, whose categories are added after ours."""
    # Item counts fit int8 unless a scale has more than 127 items.
    count_dtype = np.int8 if max(len(sc.items) for _, sc, _ in blocks) <= 127 else np.int16
    scale_cats = list(dict.fromkeys(sc.id for _, sc, _ in blocks))
    numbers = {
        "score": [r[0] for _, _, r in blocks],
        "items_answered": [np.broadcast_to(r[1], n).astype(count_dtype) for _, _, r in blocks],
        "items_expected": [np.broadcast_to(r[2], n).astype(count_dtype) for _, _, r in blocks],
    }
    def small(codes, categories):   # codes in the width pandas keeps them in: no recast
        return np.asarray(codes).astype(_code_width(len(categories)), copy=False)

    categorical = {   # column: (codes, categories)
        "participant_id": (np.tile(small(*pid), len(blocks)), pd.Index(pid[1])),
        "timepoint": (np.tile(small(*tp), len(blocks)), pd.Index(tp[1])),
        "instrument": (np.repeat(small([k for k, _, _ in blocks], inst_ids), n),
                       pd.Index(inst_ids)),
        "scale": (np.repeat(small([scale_cats.index(sc.id) for _, sc, _ in blocks],
                                  scale_cats), n), pd.Index(scale_cats)),
        "status": (np.concatenate([small(r[3], STATUSES) for _, _, r in blocks]),
                   pd.Index(STATUSES)),
    }
    if append is not None:
        for column in numbers:
            numbers[column].append(append[column].to_numpy(
                dtype=float if column == "score" else None).astype(numbers[column][0].dtype))
        for column, (codes, ours) in categorical.items():
            theirs = append[column]
            joined = _joined(ours, theirs.cat.categories)
            categorical[column] = (np.concatenate([codes, _recode(theirs, joined)]), joined)
    out = {}
    for column, (codes, categories) in categorical.items():
        out[column] = pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(categories),
                                                validate=False)   # codes made above
    if timepoints is not None:   # the study's order; a time point not in it is blank
        order = [str(t) for t in timepoints]
        codes, categories = categorical["timepoint"]
        position = np.append(pd.Index(order).get_indexer(categories.astype(str)), -1)
        position = position.astype(_code_width(len(order)))
        out["timepoint"] = pd.Categorical.from_codes(
            position[codes], dtype=pd.CategoricalDtype(order, ordered=True), validate=False)
    out.update((column, np.concatenate(parts)) for column, parts in numbers.items())
    return pd.DataFrame({column: out[column] for column in SCORE_COLUMNS}, copy=False)


def _code_width(n_categories: int):
    """The integer type pandas stores a categorical's codes in (it recasts any other)."""
    return (np.int8 if n_categories < np.iinfo(np.int8).max else
            np.int16 if n_categories < np.iinfo(np.int16).max else
            np.int32 if n_categories < np.iinfo(np.int32).max else np.int64)


def _joined(ours: pd.Index, theirs: pd.Index) -> pd.Index:
    """``ours`` followed by the categories of ``theirs`` not among them."""
    if theirs.equals(ours):
        return ours
    extra = theirs[ours.get_indexer(theirs) < 0]
    return ours.append(extra) if len(extra) else ours


def _recode(column: pd.Series, categories: pd.Index) -> np.ndarray:
    """The codes of the categorical ``column`` in terms of ``categories`` (which hold all of
    its categories); a blank stays -1."""
    lookup = np.append(categories.get_indexer(column.cat.categories), -1)
    return lookup[column.array.codes]


def _empty_scores() -> pd.DataFrame:
    empty = pd.Categorical([])
    return pd.DataFrame({"participant_id": empty, "timepoint": empty, "instrument": empty,
                         "scale": empty, "score": np.array([], dtype=float),
                         "items_answered": np.array([], dtype=np.int8),
                         "items_expected": np.array([], dtype=np.int8),
                         "status": pd.Categorical([], dtype=_STATUS_DTYPE)})


def assign_bands(scores: pd.DataFrame, instruments) -> pd.DataFrame:
    """Add a ``band`` column (the published band each score falls in) to a score table.

    Parameters
    ----------
    scores : DataFrame
        Output of :func:`score` / :func:`score_all`.
    instruments : dict of id -> Instrument, or a list of ids / Instruments

    Returns
    -------
    DataFrame
        A copy of ``scores`` with ``band`` (categorical; missing where the scale has no
        bands, the score is NaN, or it falls between bands). Bands are inclusive at both
        ends.

    Examples
    --------
    >>> import pandas as pd
    >>> from spanalysis import instruments
    >>> df = pd.DataFrame({"participant_id": ["a", "b"], "timepoint": ["t0", "t0"],
    ...     "ons4_satisfaction": [4, 5], "ons4_worthwhile": [7, 9], "ons4_happy": [6, 8],
    ...     "ons4_anxious": [1, 2]})
    >>> s = instruments.assign_bands(instruments.score(df, "ons4"), ["ons4"])
    >>> s[s.scale == "anxious"].band.tolist()
    ['very low', 'low']
    """
    insts = _as_dict(instruments)
    band = np.full(len(scores), None, dtype=object)
    inst_col = scores["instrument"].astype(str).to_numpy()
    scale_col = scores["scale"].astype(str).to_numpy()
    values = scores["score"].to_numpy(dtype=float)
    labels: list[str] = []
    for inst in insts.values():
        for sc in inst.scales:
            if not sc.bands:
                continue
            mask = (inst_col == inst.id) & (scale_col == sc.id)
            band[mask] = sc.band(values[mask])
            labels += [b.label for b in sc.bands if b.label not in labels]
    out = scores.copy()
    out["band"] = pd.Categorical(band, categories=labels)
    return out
