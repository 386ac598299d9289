"""Internal consistency (Cronbach's alpha) of each multi-item scale in the study's own data."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from spanalysis.errors import InputError
from spanalysis.instruments.model import _as_dict
from spanalysis.instruments.responses import _codes, _reverse, _to_wide
from spanalysis.instruments.scoring import item_matrix

__all__ = ["reliability", "RELIABILITY_COLUMNS"]

RELIABILITY_COLUMNS = ["instrument", "scale", "timepoint", "n", "n_items", "alpha", "ci_low",
                       "ci_high", "published_alpha", "published_source"]


def reliability(responses: pd.DataFrame, instruments, confidence: float = 0.95
                ) -> pd.DataFrame:
    """Cronbach's alpha per instrument, multi-item scale and time point.

    Parameters
    ----------
    responses : DataFrame
        Wide (or long) responses, as for :func:`spanalysis.instruments.score`.
    instruments : dict of id -> Instrument, or a list of ids / Instruments
    confidence : float
        Confidence level of the interval (default 0.95).

    Returns
    -------
    DataFrame
        One row per (instrument, scale, time point) for scales of two or more items scored
        by ``sum``, ``mean``, ``lookup`` or ``dichotomise_count`` whose items are all required
        (scales with optional items, such as the MYCaW profile or GAS, hold person-specific
        goals or concerns and have no meaningful alpha). Columns:

        - ``instrument``, ``scale``, ``timepoint``
        - ``n``: complete responses used (listwise deletion)
        - ``n_items``
        - ``alpha``, ``ci_low``, ``ci_high``: from :func:`pingouin.cronbach_alpha`
          (NaN when fewer than 2 complete responses or no variance)
        - ``published_alpha``, ``published_source``: the definition's published reliability
          when it is a Cronbach's alpha, else NaN/None.

    Notes
    -----
    .. math:: \\alpha = \\frac{k}{k-1}\\left(1 - \\frac{\\sum_i s_i^2}{s_T^2}\\right)

    with ``k`` items, item variances ``s_i^2`` and the variance of the total ``s_T^2``
    (Cronbach 1951). Items are reverse-scored first; for ``dichotomise_count`` scales alpha is
    computed on the 0/1 item scores (then equal to KR-20). The confidence interval is
    pingouin's F-distribution interval (Feldt et al. 1987), which pingouin rounds to 3
    decimals. Complete cases are passed to pingouin, so the interval uses the ``n`` actually
    analysed (pingouin 0.7's own ``nan_policy='listwise'`` keeps the n of the rows before
    dropping incomplete ones for the interval).

    References
    ----------
    Cronbach LJ (1951) Psychometrika 16:297-334. Feldt LS, Woodruff DJ, Salih FA (1987)
    Appl Psychol Meas 11:93-103. Vallat R (2018) Pingouin: statistics in Python. JOSS 3:1026.

    Examples
    --------
    >>> import pandas as pd
    >>> from spanalysis import instruments
    >>> df = pd.DataFrame({"participant_id": list("abcd"), "timepoint": ["t0"] * 4,
    ...                    "ucla3_1": [1, 2, 3, 3], "ucla3_2": [1, 2, 2, 3],
    ...                    "ucla3_3": [1, 1, 3, 3]})
    >>> r = instruments.reliability(df, ["ucla3"])
    >>> print(round(float(r.loc[0, "alpha"]), 4), int(r.loc[0, "n"]))
    0.9231 4
    """
    if not 0 < confidence < 1:
        raise InputError("confidence must be between 0 and 1", value=confidence,
                         expected="e.g. 0.95")
    wide = _to_wide(responses)
    tp_codes, tp_cats = _codes(wide["timepoint"])
    rows = []
    for inst in _as_dict(instruments).values():
        scales = [sc for sc in inst.scales
                  if sc.method in ("sum", "mean", "lookup", "dichotomise_count")
                  and len(sc.items) >= 2
                  and not any(inst.item(i).optional for i in sc.items)]
        if not scales:
            continue
        X_raw = item_matrix(wide, inst, reverse=False)
        X = _reverse(X_raw, inst)
        index = {it.id: j for j, it in enumerate(inst.items)}
        for sc in scales:
            idx = [index[i] for i in sc.items]
            V = X[:, idx]
            if sc.method == "dichotomise_count":
                # 0/1 item scores, from the answers as recorded (as the scale counts them).
                R = X_raw[:, idx]
                V = np.column_stack([np.where(np.isnan(R[:, k]), np.nan,
                                              np.isin(R[:, k], sc.count_values[i]))
                                     for k, i in enumerate(sc.items)]).astype(float)
            rel = sc.reliability if (sc.reliability and
                                     sc.reliability.kind == "cronbach_alpha") else None
            for t, tp in enumerate(tp_cats):
                block = V[tp_codes == t]
                complete = block[~np.isnan(block).any(axis=1)]
                alpha = lo = hi = math.nan
                if len(complete) >= 2 and complete.sum(axis=1).var(ddof=1) > 0:
                    import pingouin as pg  # imported here: pingouin takes ~1.5 s to import

                    df = pd.DataFrame(complete, columns=list(sc.items))
                    a, ci = pg.cronbach_alpha(data=df, nan_policy="listwise", ci=confidence)
                    alpha, lo, hi = float(a), float(ci[0]), float(ci[1])
                rows.append({"instrument": inst.id, "scale": sc.id, "timepoint": tp,
                             "n": int(len(complete)), "n_items": len(sc.items),
                             "alpha": alpha, "ci_low": lo, "ci_high": hi,
                             "published_alpha": rel.value if rel else math.nan,
                             "published_source": rel.source if rel else None})
    out = pd.DataFrame(rows, columns=RELIABILITY_COLUMNS)
    for col in ("alpha", "ci_low", "ci_high", "published_alpha"):
        out[col] = out[col].astype(float)
    out["n"] = out["n"].astype(int)
    out["n_items"] = out["n_items"].astype(int)
    return out
