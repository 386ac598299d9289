"""One validator for every study file: :func:`check_table` reads a file's rule table
(:mod:`spanalysis.study.rules`) and returns the checked columns, adding one message per bad
cell (file, spreadsheet row, column, value, what was expected) to a :class:`Messages` list.

Also the column helpers the loader shares: :func:`text` (trimmed text, blank = missing),
:func:`numbers`, :func:`dates`.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

from spanalysis.errors import Issue
from spanalysis.study.answers import labels_expected, labels_to_codes
from spanalysis.study.manifest import _site_key
from spanalysis.study.rules import Rule

__all__ = ["Messages", "EXAMPLES_PER_CHECK", "check_table", "text", "numbers", "dates",
           "positions"]

#: at most this many messages per check and column; the rest are counted in one message
EXAMPLES_PER_CHECK = 10


class Messages:
    """The errors and warnings found so far, in the order found."""

    def __init__(self):
        self.issues: list[Issue] = []

    def add(self, level, message, **where):
        self.issues.append(Issue(level, message, **where))

    def flag_rows(self, label: str, frame: pd.DataFrame, mask, column: str | None,
                  message: str, expected: str | None, values=None, level="error"):
        """One issue per flagged row (up to EXAMPLES_PER_CHECK), then a count of the rest.

        ``frame.index`` holds each row's 0-based row in the source file (spreadsheet row
        = index + 2). ``values``: what the messages quote (default ``frame[column]``); a
        string quotes that string for every row."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        hits = np.flatnonzero(mask)
        if values is None and column in frame.columns:
            values = frame[column]
        for i in hits[:EXAMPLES_PER_CHECK]:
            value = values if values is None or isinstance(values, str) else values.iloc[i]
            if value is not None and not isinstance(value, str) and pd.isna(value):
                value = "(blank)"
            self.add(level, message, file=label, row=int(frame.index[i]) + 2, column=column,
                     value=value, expected=expected)
        if len(hits) > EXAMPLES_PER_CHECK:
            self.add(level, f"{len(hits) - EXAMPLES_PER_CHECK} more row(s) with the same problem",
                     file=label, column=column, expected=expected)

    def require(self, label: str, columns: Iterable[str], required: list[str], what: str) -> bool:
        """Whether every required column is there (an error for each one missing)."""
        missing = [c for c in required if c not in columns]
        for col in missing:
            self.add("error", f"required column missing from the {what} file", file=label,
                     row=1, column=col, expected="columns " + ", ".join(required))
        return not missing


# ----------------------------------------------------------------------------- the validator
def check_table(msgs: Messages, label: str, frame: pd.DataFrame, rules: Iterable[Rule],
                sites: list[str] = ()) -> dict[str, pd.Series]:
    """Check every column of ``frame`` that ``rules`` name; return each as checked (bad cells
    blank). Columns the rules name but the file lacks are skipped (the caller checks the
    required ones first). ``sites``: the study's declared sites, for ``site`` columns."""
    out = {}
    for rule in rules:
        if rule.column not in frame.columns:
            continue
        check = _CHECKS[rule.kind]
        out[rule.column] = (check(msgs, label, frame, rule, sites) if rule.kind == "site"
                            else check(msgs, label, frame, rule))
    return out


def _check_id(msgs, label, frame, rule) -> pd.Series:
    return text(frame[rule.column])   # checked across files by the loader


def _check_text(msgs, label, frame, rule) -> pd.Series:
    values = text(frame[rule.column])
    if rule.blank:
        msgs.flag_rows(label, frame, values.isna(), rule.column, rule.blank, rule.expected)
    return values


def _check_site(msgs, label, frame, rule, declared) -> pd.Categorical:
    site = text(frame[rule.column])
    blank = site.isna().to_numpy()
    msgs.flag_rows(label, frame, blank, rule.column, rule.blank, rule.expected)
    where = positions(site, declared)
    unknown = (where < 0) & ~blank
    if unknown.any():
        canonical = {_site_key(s): s for s in declared}
        keys = site.map(lambda s: _site_key(s) if isinstance(s, str) else None)
        variant = unknown & keys.isin(list(canonical)).to_numpy()
        for i in np.flatnonzero(variant)[:EXAMPLES_PER_CHECK]:
            msgs.add("error", "site name differs from a declared site only by case or spaces",
                     file=label, row=int(frame.index[i]) + 2, column=rule.column,
                     value=site.iloc[i], expected=repr(canonical[keys.iloc[i]]))
        if variant.sum() > EXAMPLES_PER_CHECK:
            msgs.add("error", f"{variant.sum() - EXAMPLES_PER_CHECK} more row(s) with a site "
                     "spelled differently", file=label, column=rule.column)
        msgs.flag_rows(label, frame, unknown & ~variant, rule.column,
                       "site not declared in study.yaml", "one of " + ", ".join(declared))
    return pd.Categorical.from_codes(where, categories=list(declared), ordered=True)


def _check_category(msgs, label, frame, rule) -> pd.Categorical:
    values = text(frame[rule.column])
    blank = values.isna().to_numpy()
    where = positions(values, rule.allowed)
    if rule.blank:
        msgs.flag_rows(label, frame, blank, rule.column, rule.blank, rule.expected)
        unknown = (where < 0) & ~blank
    else:
        unknown = where < 0
    msgs.flag_rows(label, frame, unknown, rule.column, rule.unknown, rule.expected,
                   values=values)
    return pd.Categorical.from_codes(where, categories=list(rule.allowed), ordered=True)


def _check_date(msgs, label, frame, rule) -> pd.Series:
    raw = frame[rule.column]
    parsed, bad = dates(raw)
    msgs.flag_rows(label, frame, bad, rule.column, "not a date",
                   "a date such as 2025-03-31 or 31/03/2025")
    if rule.blank:
        msgs.flag_rows(label, frame, raw.isna(), rule.column, rule.blank, rule.expected)
    return parsed


def _check_whole(msgs, label, frame, rule) -> pd.Series:
    raw = frame[rule.column]
    values, not_number = numbers(raw)
    msgs.flag_rows(label, frame, not_number, rule.column, "not a number", rule.expected)
    bad = values.notna() & ((values != np.floor(values)) | (values < rule.low)
                            | ((values > rule.high) if rule.high is not None else False))
    msgs.flag_rows(label, frame, bad, rule.column, "value out of range", rule.expected)
    return values.where(~bad).astype("Int64")


def _check_item(msgs, label, frame, rule) -> pd.Series:
    raw = frame[rule.column]
    values, not_number = numbers(labels_to_codes(raw, rule.labels))
    if rule.labels:
        msgs.flag_rows(label, frame, not_number, rule.column,
                       f"answer to {rule.label} is not a number, nor one of its labels",
                       labels_expected(rule.expected, rule.labels), values=raw)
    else:
        msgs.flag_rows(label, frame, not_number, rule.column,
                       f"answer to {rule.label} is not a number", rule.expected, values=raw)
    v = values.to_numpy()
    with np.errstate(invalid="ignore"):
        bad = (v < rule.low) | (v > rule.high)
        if rule.integer:
            bad |= v != np.floor(v)
    bad &= ~np.isnan(v)
    msgs.flag_rows(label, frame, bad, rule.column,
                   f"answer to {rule.label} is outside the item's range", rule.expected,
                   values=raw)
    return values.where(~bad) if bad.any() else values


_CHECKS = {"id": _check_id, "text": _check_text, "site": _check_site,
           "category": _check_category, "date": _check_date, "whole": _check_whole,
           "item": _check_item}


# ----------------------------------------------------------------------------- column helpers
def positions(values: pd.Series, allowed) -> np.ndarray:
    """Each value's position in ``allowed`` (-1: blank or not allowed). Each distinct value
    is looked up once: a column of sites or time points has a handful."""
    codes, distinct = pd.factorize(values)
    found = pd.Index(list(allowed), dtype=object).get_indexer(np.asarray(distinct, dtype=object))
    return np.append(found, -1)[codes]   # code -1 (blank) finds the appended -1


def text(series: pd.Series) -> pd.Series:
    """Text (pandas string dtype) with surrounding spaces removed and blanks as missing;
    numbers used as identifiers read as whole numbers (12.0 -> "12")."""
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        series = series.map(lambda v: v if pd.isna(v) else
                            (str(int(v)) if float(v).is_integer() else str(v)))
    out = series.astype("str").str.strip()
    return out.mask(out == "")


def numbers(raw: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Numbers as float, and a mask of cells that hold something that is not a number."""
    if pd.api.types.is_bool_dtype(raw) or pd.api.types.is_numeric_dtype(raw):
        return raw.astype("float64"), np.zeros(len(raw), dtype=bool)
    written = text(raw)
    values = pd.to_numeric(written, errors="coerce").astype("float64")
    return values, (values.isna() & written.notna()).to_numpy()


# a UTC offset at the end of an ISO 8601 date-time: Z, +01:00, -0500, +01
_UTC_OFFSET = r"(?<=[T ]\d{2}:\d{2})((?::\d{2}(?:\.\d+)?)?)\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$"


def dates(raw: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Dates written as ISO ``YYYY-MM-DD`` (or ISO date-times, with ``T`` or a space) or UK
    ``DD/MM/YYYY`` (or ``DD/MM/YYYY HH:MM``, as Qualtrics writes them), as
    datetime64[ns] at midnight, and a mask of cells that are not dates. Each distinct value
    is parsed once (a study's dates take a few hundred values)."""
    if pd.api.types.is_datetime64_any_dtype(raw):
        parsed = pd.to_datetime(raw)
        if getattr(parsed.dt, "tz", None) is not None:
            parsed = parsed.dt.tz_localize(None)
        return (parsed.dt.normalize().astype("datetime64[ns]"),
                np.zeros(len(raw), dtype=bool))
    written = text(raw)
    codes, distinct = pd.factorize(written)
    distinct = pd.Series(distinct, dtype="str")
    found = pd.to_datetime(distinct, format="%Y-%m-%d", errors="coerce")
    for fmt in ("%d/%m/%Y", "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "ISO8601"):
        rest = found.isna()
        if not rest.any():
            break
        values = distinct[rest]
        if fmt == "ISO8601":
            # A date-time with a UTC offset (2025-03-01T09:30+01:00, ...Z) is taken on the
            # day it was written where it was recorded: the offset is dropped, not applied, so
            # mixed offsets (a summer and a winter export) give each answer its own local day.
            values = values.str.replace(_UTC_OFFSET, r"\1", regex=True)
        retry = pd.to_datetime(values, format=fmt, errors="coerce")
        if getattr(retry.dt, "tz", None) is not None:
            retry = retry.dt.tz_localize(None)
        found[rest] = retry.dt.normalize()
    lookup = np.append(found.to_numpy(dtype="datetime64[ns]"), np.datetime64("NaT", "ns"))
    parsed = pd.Series(lookup[codes], index=raw.index)  # code -1 (blank) finds NaT
    unparsed = np.append(found.isna().to_numpy(), False)[codes]
    return parsed, unparsed
