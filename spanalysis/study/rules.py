"""What each study file must hold, as data: one table of rules per file.

A :class:`Rule` names a column, whether it is required, what kind of value it holds and what
is allowed; :func:`spanalysis.study.checks.check_table` reads the table and makes every
file/row/column message. To change what a file accepts (a new participant attribute, a
wider range), change the table here, not the checker. The rules are also listed for users in
``docs/study-format.md``.

Kinds of value
--------------
``id``        participant identifier: text, trimmed; checked across files by the loader
``text``      free text (kept as text, trimmed, blank = missing)
``site``      one of the sites declared in ``study.yaml``
``category``  one of ``allowed`` (time points, periods)
``date``      a date (ISO ``2025-03-31``, UK ``31/03/2025`` or an ISO date-time)
``whole``     a whole number from ``low`` to ``high`` (``high`` None: no upper limit)
``item``      a questionnaire answer: a number from the item's ``min`` to ``max``, or the
              label of a code (``labels``, from the instrument's definition)
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Rule", "PARTICIPANTS", "SERVICE_USE", "RESPONSES_KEYS", "response_rules",
           "item_rule", "required_columns"]


@dataclass(frozen=True)
class Rule:
    """One column of a study file.

    ``blank``: the message for a blank cell (None: blanks are allowed, or, for a
    ``category``, a blank counts as not allowed). ``unknown``: the message for a value not
    in ``allowed``. ``expected``: what a message says was expected.
    """

    column: str
    kind: str
    required: bool = False
    low: float | None = None
    high: float | None = None
    allowed: tuple[str, ...] = ()
    integer: bool = True
    blank: str | None = None
    unknown: str | None = None
    expected: str = ""
    label: str | None = None   # how an item is named in messages ("answer to wemwbs_1 ...")
    labels: tuple = ()         # an item's (code, label) pairs: a label is read as its code


#: participants file: one row per participant (``PARTICIPANT_COLUMNS`` is made from it)
PARTICIPANTS: tuple[Rule, ...] = (
    Rule("participant_id", "id", required=True),
    Rule("site", "site", required=True, blank="site is blank",
         expected="one of the sites in study.yaml"),
    Rule("referral_date", "date", required=True, blank="date is blank", expected="a date"),
    Rule("age_band", "text"),
    Rule("gender", "text"),
    Rule("ethnicity", "text"),
    Rule("referral_reasons", "text"),
    Rule("link_worker", "text"),
    Rule("imd_quintile", "whole", low=1, high=5,
         expected="a whole number from 1 (most deprived) to 5"),
    Rule("sessions_attended", "whole", low=0, expected="a whole number of sessions, 0 or more"),
)

#: service-use file: one count per participant, service and period
SERVICE_USE: tuple[Rule, ...] = (
    Rule("participant_id", "id", required=True),
    Rule("service", "text", required=True, blank="service is blank",
         expected="a service name such as gp_consultations"),
    Rule("period", "category", required=True, allowed=("before", "after"),
         unknown="unknown period", expected="'before' or 'after' (referral)"),
    Rule("count", "whole", required=True, low=0, expected="a whole number of events, 0 or more"),
)

#: the columns of a responses file that are not items
RESPONSES_KEYS = ("participant_id", "timepoint", "completed_date")


def item_rule(item_id: str, item) -> Rule:
    """The rule for one questionnaire item (``item``: its row of the item table, with
    ``min``, ``max`` and ``integer``, and optionally ``labels``: code -> label)."""
    integer = bool(item.get("integer", True))
    labels = item.get("labels")
    labels = tuple(labels.items()) if isinstance(labels, dict) else ()
    return Rule(item_id, "item", low=float(item["min"]), high=float(item["max"]),
                integer=integer, label=item_id, expected=item_expected(item), labels=labels)


def response_rules(timepoints: list[str], items) -> tuple[Rule, ...]:
    """Rules of a wide responses file, in the order its checks report: each item column
    (``items``: the item table indexed by item id), then the questionnaire date, then the
    time point."""
    return (*(item_rule(i, items.loc[i]) for i in items.index),
            Rule("completed_date", "date"),
            Rule("timepoint", "category", required=True, allowed=tuple(timepoints),
                 blank="time point is blank", unknown="unknown time point",
                 expected="one of " + ", ".join(timepoints)))


def required_columns(rules) -> list[str]:
    return [r.column for r in rules if r.required]


def item_expected(item) -> str:
    lo, hi = item["min"], item["max"]

    def fmt(v):
        return str(int(v)) if float(v).is_integer() else str(v)

    kind = "a whole number" if bool(item.get("integer", True)) else "a number"
    return f"{kind} from {fmt(lo)} to {fmt(hi)}, or blank if not answered"
