"""Tables of the instruments' items and scales: what the data loader needs to validate
responses, and the per-scale facts the change statistics use."""
from __future__ import annotations

import math

import pandas as pd

from spanalysis.instruments.model import _as_dict

__all__ = ["item_table", "scale_table", "SCALE_TABLE_COLUMNS"]


def item_table(instruments) -> pd.DataFrame:
    """One row per item: what the data loader needs to validate responses.

    Parameters
    ----------
    instruments : dict of id -> Instrument (or a list of ids / Instruments)

    Returns
    -------
    DataFrame
        ``instrument, item, stem, min, max, integer, reverse, role`` (plus ``optional`` and
        ``source_column``: the column read for the item when it is derived, e.g. SWEMWBS from
        WEMWBS, else the item id).

    Examples
    --------
    >>> from spanalysis import instruments
    >>> t = instruments.item_table({"ucla3": instruments.load("ucla3")})
    >>> t[["item", "min", "max"]].to_dict("records")[0]
    {'item': 'ucla3_1', 'min': 1.0, 'max': 3.0}
    """
    rows = []
    for inst in _as_dict(instruments).values():
        for it in inst.items:
            rows.append({"instrument": inst.id, "item": it.id, "stem": it.stem,
                         "min": float(it.min), "max": float(it.max), "integer": it.integer,
                         "reverse": it.reverse, "role": it.role, "optional": it.optional,
                         "source_column": (inst.derived_from or {}).get(it.id, it.id)})
    cols = ["instrument", "item", "stem", "min", "max", "integer", "reverse", "role",
            "optional", "source_column"]
    return pd.DataFrame(rows, columns=cols)


SCALE_TABLE_COLUMNS = ["instrument", "scale", "scale_name", "direction", "min", "max",
                       "reliability", "reliability_source", "mid", "mid_source", "norm_mean",
                       "norm_sd", "norm_source", "func_mean", "func_sd", "dys_mean", "dys_sd",
                       "clinical_source", "reliability_kind", "test_retest",
                       "test_retest_source", "norm_group"]


def scale_table(instruments) -> pd.DataFrame:
    """One row per (instrument, scale) with the facts needed to interpret change.

    Parameters
    ----------
    instruments : dict of id -> Instrument (or a list of ids / Instruments)

    Returns
    -------
    DataFrame
        Columns ``instrument, scale, scale_name, direction ('higher'|'lower'), min, max,
        reliability, reliability_source, mid, mid_source, norm_mean, norm_sd, norm_source,
        func_mean, func_sd, dys_mean, dys_sd, clinical_source``, then ``reliability_kind``
        (``cronbach_alpha``, ``test_retest``, ``other``, None when not stated),
        ``test_retest, test_retest_source`` (the published test-retest reliability, which
        the reliable change index uses first; NaN and None where none is published) and
        ``norm_group`` (the reference norm's population). Numbers are NaN and sources None
        where the definition states nothing. ``norm_*`` come from the norm marked
        ``reference: true``; ``reliability`` is the definition's ``reliability`` value
        (usually Cronbach's alpha; its kind in ``reliability_kind``).

    Examples
    --------
    >>> from spanalysis import instruments
    >>> t = instruments.scale_table({"wemwbs": instruments.load("wemwbs")})
    >>> print(t.loc[0, ["direction", "reliability", "mid", "norm_mean", "norm_sd"]].to_dict())
    {'direction': 'higher', 'reliability': 0.91, 'mid': 3.0, 'norm_mean': 49.4, 'norm_sd': 8.96}
    """
    rows = []
    nan = math.nan
    for inst in _as_dict(instruments).values():
        for sc in inst.scales:
            norm = sc.reference_norm
            rel, mid, cl = sc.reliability, sc.mid, sc.clinical
            rows.append({
                "instrument": inst.id, "scale": sc.id, "scale_name": sc.name,
                "direction": sc.direction, "min": sc.min, "max": sc.max,
                "reliability": rel.value if rel else nan,
                "reliability_source": rel.source if rel else None,
                "mid": mid.value if mid else nan, "mid_source": mid.source if mid else None,
                "norm_mean": norm.mean if norm else nan, "norm_sd": norm.sd if norm else nan,
                "norm_source": norm.source if norm else None,
                "func_mean": cl.func_mean if cl else nan, "func_sd": cl.func_sd if cl else nan,
                "dys_mean": cl.dys_mean if cl else nan, "dys_sd": cl.dys_sd if cl else nan,
                "clinical_source": cl.source if cl else None,
                "reliability_kind": rel.kind if rel else None,
                "test_retest": sc.retest.value if sc.retest else nan,
                "test_retest_source": sc.retest.source if sc.retest else None,
                "norm_group": norm.group if norm else None,
            })
    df = pd.DataFrame(rows, columns=SCALE_TABLE_COLUMNS)
    for col in ("min", "max", "reliability", "mid", "norm_mean", "norm_sd", "func_mean",
                "func_sd", "dys_mean", "dys_sd", "test_retest"):
        df[col] = df[col].astype(float)
    return df
