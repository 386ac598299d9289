"""Answers as people type them (issue 20: 2): an answer's label for its code, and dates a
spreadsheet stored as numbers.

A survey tool may export the choice a person ticked ("None of the time", "Often") instead of
its code. The instrument's definition gives each code its label (``labels:`` in
``spanalysis/instruments/definitions/*.yaml``); an answer that is a label becomes its code
before the range checks. Case and spaces do not matter ("none of  the TIME" is code 1 of
WEMWBS). Each distinct value is looked up once, never row by row.

Excel keeps a date as a number of days (its "serial number"); a date column that arrives as
numbers from an ``.xlsx`` file is turned back into dates here.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["label_key", "labels_to_codes", "long_labels_to_codes", "labels_expected",
           "excel_serial_dates"]

#: Excel's day 0 for serial numbers from 61 on (1900-03-01): Excel counts the 29 February 1900
#: that never was, so counting from 1899-12-30 gives the right day for every later date
#: (Microsoft, "Date systems in Excel": the 1900 date system).
_EXCEL_DAY_ZERO = "1899-12-30"
#: serial numbers taken as dates: 1900-03-01 (61) to 9999-12-31 (2958465)
_EXCEL_SERIALS = (61, 2958465)


def label_key(values: pd.Series) -> pd.Series:
    """Labels as compared: spaces around and repeated inside ignored, case ignored."""
    return values.astype("str").str.split().str.join(" ").str.casefold()


def labels_to_codes(raw: pd.Series, labels) -> pd.Series:
    """``raw`` with every answer that is one of ``labels`` (pairs of code and label) replaced
    by its code; anything else (codes, blanks, text that is no label) is left as it is, for
    the range checks to judge. A column of numbers is returned as it is."""
    if not labels or pd.api.types.is_numeric_dtype(raw) or pd.api.types.is_bool_dtype(raw):
        return raw
    codes, distinct = pd.factorize(raw)
    if not len(distinct):
        return raw
    lookup = {key: float(code) for code, key in zip(
        [c for c, _ in labels], label_key(pd.Series([lab for _, lab in labels], dtype=object)))}
    found = label_key(pd.Series(distinct, dtype=object)).map(lookup).to_numpy(dtype="float64")
    if np.isnan(found).all():
        return raw
    code = pd.Series(np.append(found, np.nan)[codes], index=raw.index)  # -1 (blank): NaN
    return code.astype(object).where(code.notna(), raw)


def long_labels_to_codes(item: pd.Series, raw: pd.Series, labels: dict) -> pd.Series:
    """The same for a long file, where each row's ``item`` says whose labels apply
    (``labels``: item id -> pairs of code and label)."""
    if pd.api.types.is_numeric_dtype(raw) or pd.api.types.is_bool_dtype(raw):
        return raw
    pairs = [(i, code, lab) for i, options in labels.items() for code, lab in options]
    if not pairs:
        return raw
    table = pd.Series([float(c) for _, c, _ in pairs], index=pd.MultiIndex.from_arrays(
        [[i for i, _, _ in pairs],
         label_key(pd.Series([lab for _, _, lab in pairs], dtype=object))]))
    table = table[~table.index.duplicated()]
    codes, distinct = pd.factorize(raw)
    keys = label_key(pd.Series(distinct, dtype=object)).to_numpy(dtype=object)
    key = pd.Series(np.append(keys, None)[codes], index=raw.index)
    found = table.reindex(pd.MultiIndex.from_arrays([item.astype(object), key])).to_numpy()
    code = pd.Series(found, index=raw.index)
    return code.astype(object).where(code.notna(), raw)


def labels_expected(expected: str, labels) -> str:
    """What an answer that is neither a code nor a label should have been."""
    shown = "; ".join(f"{_code(c)} = {lab}" for c, lab in labels)
    return (expected.replace(", or blank if not answered", "")
            + f", or its label ({shown}; case and spaces ignored), or blank if not answered")


def _code(value) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def excel_serial_dates(column: pd.Series) -> pd.Series:
    """A date column of numbers from an ``.xlsx`` file (Excel serial numbers, days since
    1899-12-30, a fraction being the time of day) as dates; a number outside Excel's dates is
    left as it is, to be reported as "not a date"."""
    if pd.api.types.is_bool_dtype(column) or not pd.api.types.is_numeric_dtype(column):
        return column
    days = column.astype("float64")
    ok = (days >= _EXCEL_SERIALS[0]) & (days <= _EXCEL_SERIALS[1])
    when = pd.to_datetime(days.where(ok), unit="D", origin=_EXCEL_DAY_ZERO)
    if ok.all() or not column.notna().any():
        return when
    return when.astype(object).where(ok | column.isna(), column)
