"""Recognising real-world identifiers that must never appear in a study or a report.

NHS numbers are 10 digits whose last digit is a modulus 11 check digit (NHS Data Dictionary,
"NHS Number"): multiply the first nine digits by the weights 10, 9, ..., 2, sum, take the
remainder on division by 11 and subtract it from 11; 11 becomes 0 and 10 means the number is
invalid. The check digit must equal the tenth digit.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["nhs_check_digit", "is_nhs_number", "looks_like_nhs_number"]

_WEIGHTS = np.arange(10, 1, -1)
#: what may stand between the digits: space, non-breaking space, dash, dot (the regex class
#: needs the dash last)
_SEPARATORS = " \u00a0.-"


def nhs_check_digit(first_nine: str) -> int | None:
    """Check digit for nine digits, or ``None`` when no valid check digit exists."""
    digits = np.array([int(c) for c in first_nine])
    check = 11 - int((digits * _WEIGHTS).sum()) % 11
    if check == 11:
        return 0
    return None if check == 10 else check


def is_nhs_number(text: str) -> bool:
    """True when ``text`` (spaces, non-breaking spaces, dashes and dots allowed between the
    digits, as people write them) is a 10-digit valid NHS number."""
    digits = "".join(ch for ch in str(text) if ch not in _SEPARATORS)
    if len(digits) != 10 or not digits.isdigit():
        return False
    return nhs_check_digit(digits[:9]) == int(digits[9])


def looks_like_nhs_number(values: pd.Series) -> pd.Series:
    """Vectorised :func:`is_nhs_number` over a Series of text (NaN -> False)."""
    text = values.astype("string").str.replace("[" + _SEPARATORS + "]", "", regex=True)
    candidate = text.str.fullmatch(r"\d{10}").fillna(False).astype(bool)
    out = pd.Series(False, index=values.index)
    if not candidate.any():
        return out
    digits = np.array([list(map(int, s)) for s in text[candidate]])
    remainder = (digits[:, :9] * _WEIGHTS).sum(axis=1) % 11
    check = 11 - remainder
    check = np.where(check == 11, 0, check)
    out[candidate] = (check != 10) & (check == digits[:, 9])
    return out
