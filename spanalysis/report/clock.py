"""The render time of a run, honouring ``SOURCE_DATE_EPOCH`` (reproducible outputs, issue 24).

A run of ``spanalysis report`` shows one time: the "Run date (UTC)" in each report's
provenance footer and the "Made by ... on" line of the index. It is the only thing that
differs between two runs on the same inputs, so that a reviewer can ``diff -r`` two output
folders. When the environment variable ``SOURCE_DATE_EPOCH`` is set (the reproducible-builds
convention, https://reproducible-builds.org/specs/source-date-epoch/: an integer number of
seconds since 1970-01-01 00:00:00 UTC), that time is used instead of the clock, and two runs
give the same bytes.

The runner reads the time once, in the process that starts the run
(:func:`spanalysis.report.runner.build_reports`), and sends it with every job, so all reports
of a run, and the index, show the same time whether they ran in local worker processes or on
Dask workers whose environment may differ.
"""
from __future__ import annotations

import datetime as _dt
import os
import re

from spanalysis.errors import InputError

__all__ = ["render_time", "iso_time", "ENV_VAR"]

#: the environment variable of the reproducible-builds convention
ENV_VAR = "SOURCE_DATE_EPOCH"
_INTEGER = re.compile(r"^\s*[0-9]+\s*$")


def render_time(environ=None) -> _dt.datetime:
    """The render time (UTC, whole seconds): ``SOURCE_DATE_EPOCH`` when set, else now.

    Parameters
    ----------
    environ : mapping, optional
        Where to read ``SOURCE_DATE_EPOCH`` (default ``os.environ``). An empty value counts
        as unset.

    Raises
    ------
    InputError
        ``SOURCE_DATE_EPOCH`` is not a non-negative integer (the specification asks a build
        to stop rather than guess), or is beyond the year 9999.

    Examples
    --------
    >>> render_time({"SOURCE_DATE_EPOCH": "1700000000"}).isoformat()
    '2023-11-14T22:13:20+00:00'
    >>> render_time({}).tzinfo is _dt.timezone.utc
    True
    """
    env = os.environ if environ is None else environ
    raw = env.get(ENV_VAR)
    if raw is None or not str(raw).strip():
        return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
    expected = "an integer number of seconds since 1970-01-01 00:00 UTC, e.g. 1700000000"
    if not _INTEGER.match(str(raw)):
        raise InputError("SOURCE_DATE_EPOCH is not a number of seconds", column=ENV_VAR,
                         value=raw, expected=expected)
    try:
        return _dt.datetime.fromtimestamp(int(raw), _dt.timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise InputError("SOURCE_DATE_EPOCH is out of range", column=ENV_VAR, value=raw,
                         expected=expected) from None


def iso_time(when: _dt.datetime | None = None) -> str:
    """``when`` (default :func:`render_time`) as ISO 8601 text in UTC, to the second.

    >>> iso_time(render_time({"SOURCE_DATE_EPOCH": "0"}))
    '1970-01-01T00:00:00+00:00'
    """
    when = render_time() if when is None else when
    return when.astimezone(_dt.timezone.utc).replace(microsecond=0).isoformat()
