"""Instrument definitions: the data model, the YAML schema and its validation.

An instrument (questionnaire) is described by a YAML file: its items, its scales and how each
scale is scored, plus the published facts needed to interpret a score (reliability, minimal
important difference, population norms, bands), each with its source. The built-in definitions
live in ``definitions/`` beside this module; a study may add its own (``custom_instruments:`` in
``study.yaml``). The full schema is documented in ``docs/instruments.md``.

Every problem in a definition raises :class:`DefinitionError` (an :class:`InputError`) naming
the file, the field path (for example ``scales[2].method``, counting from 0), the value found
and what was expected. Unknown keys are errors, so a typo never falls back to a default.
"""
from __future__ import annotations

import csv
import dataclasses
import difflib
import functools
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import yaml

from spanalysis.errors import InputError
from spanalysis.io import StrictYamlLoader

__all__ = [
    "Item", "Scale", "MissingRule", "Fact", "Norm", "Band", "Clinical", "Instrument",
    "DefinitionError", "load", "registry", "builtin_ids",
    "DEFINITIONS_DIR", "METHODS", "STATUSES",
]

DEFINITIONS_DIR = Path(__file__).with_name("definitions")

#: Scoring methods a scale may use (see docs/instruments.md).
METHODS = ("sum", "mean", "lookup", "dichotomise_count", "gas_tscore", "count")

#: Every value of the ``status`` column of a score table, in this order.
STATUSES = ("ok", "prorated", "partial", "too_few_items", "incomplete_for_lookup",
            "not_administered")

ROLES = ("item", "level", "weight")
DIRECTIONS = ("higher", "lower")
RULES = ("complete", "min_answered", "max_missing")
RELIABILITY_KINDS = ("cronbach_alpha", "test_retest", "other")
_ID = re.compile(r"^[a-z][a-z0-9_]*$")


class DefinitionError(InputError):
    """An invalid instrument definition. ``field`` is the path of the offending field."""

    def __init__(self, message: str, *, file: str | None = None, field: str | None = None,
                 value: Any = None, expected: str | None = None):
        self.field = field
        text = f"field '{field}': {message}" if field else message
        super().__init__(f"invalid instrument definition: {text}", file=file, value=value,
                         expected=expected)


# --------------------------------------------------------------------------------------------
# Data model
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Item:
    """One questionnaire item.

    Attributes
    ----------
    id : column name in the study's responses (e.g. ``wemwbs_1``).
    stem : the question as asked (paraphrased where the wording is copyright).
    min, max : allowed response range (inclusive).
    integer : whether only whole numbers are valid answers.
    reverse : scored as ``min + max - value`` before any scale is computed.
    optional : a blank answer is expected for some people (a second MYCaW concern, an unused
        GAS goal) and is not counted as a missing item.
    role : ``item`` (an ordinary answer), ``level`` (GAS attainment level) or ``weight``
        (GAS goal weight).
    labels : value -> label, e.g. ``{1: "None of the time"}`` (may be empty).
    """

    id: str
    stem: str
    min: float
    max: float
    integer: bool = True
    reverse: bool = False
    optional: bool = False
    role: str = "item"
    labels: Mapping[float, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Fact:
    """A published number and where it comes from (reliability, MID, GAS rho)."""

    value: float
    source: str
    kind: str | None = None
    notes: str | None = None
    #: the published range ``(low, high)`` when the source gives one (e.g. WEMWBS MID 3 to 8);
    #: ``value`` is the end of it that the analyses use
    range: tuple[float, float] | None = None


@dataclass(frozen=True)
class Norm:
    """A population reference value. ``reference`` marks the one shown in ``scale_table``."""

    group: str
    mean: float
    source: str
    sd: float = math.nan
    n: float = math.nan
    reference: bool = False


@dataclass(frozen=True)
class Band:
    """A labelled score range, ``lower <= score <= upper``."""

    lower: float
    upper: float
    label: str
    source: str


@dataclass(frozen=True)
class Clinical:
    """Functional and dysfunctional population means and SDs (Jacobson & Truax 1991)."""

    func_mean: float
    func_sd: float
    dys_mean: float
    dys_sd: float
    source: str


@dataclass(frozen=True)
class MissingRule:
    """How missing items are handled.

    ``complete``: every required item answered. ``min_answered``: at least ``min_answered``
    items answered. ``max_missing``: at most ``max_missing`` required items missing.
    ``prorate`` (method ``sum`` only): a score from an incomplete response is
    ``mean(answered) * items_expected`` rather than the sum of the answered items.
    """

    rule: str = "complete"
    min_answered: int | None = None
    max_missing: int | None = None
    prorate: bool = False
    source: str | None = None
    notes: str | None = None

    def describe(self) -> str:
        if self.rule == "complete":
            return "complete responses only"
        text = (f"at least {self.min_answered} items answered" if self.rule == "min_answered"
                else f"at most {self.max_missing} items missing")
        return text + (" (sum prorated as mean x items)" if self.prorate else "")


@dataclass(frozen=True)
class Scale:
    """One score computed from an instrument's items.

    Attributes
    ----------
    id, name : identifier (unique within the instrument) and readable name.
    method : one of :data:`METHODS`.
    items : item ids used, in order.
    direction : ``higher`` or ``lower`` (which direction is better).
    min, max : possible score range (NaN when not fixed, e.g. GAS).
    primary : the scale to use when one number per instrument is wanted.
    missing : :class:`MissingRule`.
    reliability, mid : :class:`Fact` or None.
    test_retest : :class:`Fact` or None: published test-retest reliability beside the alpha
        in ``reliability``; the reliable change index uses it first (:attr:`rci_reliability`).
    norms : tuple of :class:`Norm`. clinical : :class:`Clinical` or None.
    bands : tuple of :class:`Band`.
    lookup : for ``lookup``: tuple of (raw, score) pairs; ``lookup_source``.
    count_values : for ``dichotomise_count``: item id -> values that score 1.
    weights : for ``gas_tscore``: weight item ids, parallel to ``items`` (may be empty).
    rho : for ``gas_tscore``: :class:`Fact` with the assumed inter-goal correlation.
    """

    id: str
    name: str
    method: str
    items: tuple[str, ...]
    direction: str
    min: float = math.nan
    max: float = math.nan
    primary: bool = False
    missing: MissingRule = MissingRule()
    reliability: Fact | None = None
    mid: Fact | None = None
    norms: tuple[Norm, ...] = ()
    clinical: Clinical | None = None
    bands: tuple[Band, ...] = ()
    lookup: tuple[tuple[float, float], ...] = ()
    lookup_source: str | None = None
    count_values: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    weights: tuple[str, ...] = ()
    rho: Fact | None = None
    notes: str | None = None
    test_retest: Fact | None = None

    @property
    def retest(self) -> Fact | None:
        """``test_retest``, or ``reliability`` of kind test_retest, or None."""
        if self.test_retest is not None:
            return self.test_retest
        if self.reliability is not None and self.reliability.kind == "test_retest":
            return self.reliability
        return None

    @property
    def rci_reliability(self) -> Fact | None:
        """The RCI's reliability: test-retest where published, else ``reliability``."""
        return self.retest or self.reliability

    @property
    def reference_norm(self) -> Norm | None:
        for norm in self.norms:
            if norm.reference:
                return norm
        return None

    def band(self, scores) -> np.ndarray:
        """Label of the band each score falls in (``None`` outside every band or NaN).

        Bands are inclusive at both ends (``lower <= score <= upper``), as ONS and the
        De Jong Gierveld manual state them for whole-number scores.
        """
        values = np.asarray(scores, dtype=float)
        out = np.full(values.shape, None, dtype=object)
        for b in self.bands:
            out[(values >= b.lower) & (values <= b.upper)] = b.label
        return out


@dataclass(frozen=True)
class Instrument:
    """A questionnaire: items, scales and provenance.

    ``derived_from`` is None, or a mapping from this instrument's item ids to the columns they
    may be taken from when the data has none of this instrument's own columns (SWEMWBS from
    WEMWBS items). ``modifications`` lists changes made after loading (see
    :meth:`with_missing_rule`), so reports can say the scoring departs from the definition.
    """

    id: str
    name: str
    version: str
    citation: str
    licence: str
    items: tuple[Item, ...]
    scales: tuple[Scale, ...]
    derived_from: Mapping[str, str] | None = None
    notes: str | None = None
    url: str | None = None
    path: str | None = None
    builtin: bool = False
    modifications: tuple[str, ...] = ()

    @property
    def item_ids(self) -> list[str]:
        return [it.id for it in self.items]

    @property
    def scale_ids(self) -> list[str]:
        return [sc.id for sc in self.scales]

    def item(self, item_id: str) -> Item:
        for it in self.items:
            if it.id == item_id:
                return it
        raise KeyError(item_id)

    def scale(self, scale_id: str) -> Scale:
        for sc in self.scales:
            if sc.id == scale_id:
                return sc
        raise InputError(f"instrument '{self.id}' has no scale '{scale_id}'", value=scale_id,
                         expected="one of " + ", ".join(self.scale_ids))

    @property
    def primary_scale(self) -> Scale:
        for sc in self.scales:
            if sc.primary:
                return sc
        return self.scales[0]

    def with_missing_rule(self, scale_id: str, rule: str, *, min_answered: int | None = None,
                          max_missing: int | None = None, prorate: bool = False,
                          reason: str | None = None) -> "Instrument":
        """Return a copy whose scale ``scale_id`` uses another missing-item rule.

        This is how an analyst opts in to prorating WEMWBS (the published guidance gives no
        prorating rule, so the built-in default is complete responses only). The change is
        recorded in ``modifications`` so that it can be reported.

        Examples
        --------
        >>> from spanalysis import instruments
        >>> w = instruments.load("wemwbs").with_missing_rule(
        ...     "total", "max_missing", max_missing=2, prorate=True)
        >>> w.scale("total").missing.describe()
        'at most 2 items missing (sum prorated as mean x items)'
        """
        old = self.scale(scale_id)
        raw = {"rule": rule, "prorate": prorate}
        if min_answered is not None:
            raw["min_answered"] = min_answered
        if max_missing is not None:
            raw["max_missing"] = max_missing
        ctx = _Ctx(self.path or f"<{self.id}>", Path(self.path).parent if self.path else None)
        items = {it.id: it for it in self.items}
        new_rule = _parse_missing(ctx, raw, f"scales[{self.scale_ids.index(scale_id)}].missing",
                                  old.method, [items[i] for i in old.items])
        scales = tuple(dataclasses.replace(sc, missing=new_rule) if sc.id == scale_id else sc
                       for sc in self.scales)
        note = (f"{self.id}.{scale_id}: missing-item rule changed from "
                f"'{old.missing.describe()}' to '{new_rule.describe()}'"
                + (f" ({reason})" if reason else ""))
        return dataclasses.replace(self, scales=scales, modifications=self.modifications + (note,))


# --------------------------------------------------------------------------------------------
# YAML loading and validation
# --------------------------------------------------------------------------------------------
#: the YAML loader of every definition: refuses duplicate keys and aliases
UniqueKeyLoader = StrictYamlLoader


@dataclass
class _Ctx:
    file: str
    folder: Path | None

    def fail(self, path: str, message: str, value: Any = None, expected: str | None = None):
        raise DefinitionError(message, file=self.file, field=path, value=value,
                              expected=expected)


def _check_keys(ctx: _Ctx, raw: Any, path: str, required: Iterable[str],
                optional: Iterable[str]) -> dict:
    if not isinstance(raw, dict):
        ctx.fail(path or "(top level)", "must be a mapping", value=type(raw).__name__,
                 expected="a mapping of keys to values")
    required, optional = list(required), list(optional)
    allowed = required + optional
    for key in raw:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            ctx.fail(_join(path, str(key)), "unknown key" + hint, value=key,
                     expected="one of " + ", ".join(allowed))
    for key in required:
        if key not in raw:
            ctx.fail(_join(path, key), "required key is missing", expected=f"a value for '{key}'")
    return raw


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _str(ctx, raw, path, *, nonempty=True, pattern=None, expected="text") -> str:
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        ctx.fail(path, "must be text", value=raw, expected=expected)
    text = str(raw)
    if nonempty and not text.strip():
        ctx.fail(path, "must not be empty", value=raw, expected=expected)
    if pattern is not None and not pattern.match(text):
        ctx.fail(path, "is not a valid identifier", value=raw, expected=expected)
    return text


def _num(ctx, raw, path, *, integer=False, positive=False, lo=None, hi=None) -> float:
    ok = isinstance(raw, (int, float)) and not isinstance(raw, bool)
    if ok and isinstance(raw, float) and not math.isfinite(raw):
        ok = False
    what = "a whole number" if integer else "a number"
    if not ok or (integer and float(raw) != int(raw)):
        ctx.fail(path, f"must be {what}", value=raw, expected=what)
    if positive and raw <= 0:
        ctx.fail(path, "must be greater than 0", value=raw, expected=f"{what} > 0")
    if lo is not None and raw < lo:
        ctx.fail(path, f"must be at least {lo}", value=raw, expected=f"{what} >= {lo}")
    if hi is not None and raw > hi:
        ctx.fail(path, f"must be at most {hi}", value=raw, expected=f"{what} <= {hi}")
    return int(raw) if integer else float(raw)


def _bool(ctx, raw, path) -> bool:
    if not isinstance(raw, bool):
        ctx.fail(path, "must be true or false", value=raw, expected="true or false")
    return raw


def _choice(ctx, raw, path, choices) -> str:
    if raw not in choices:
        ctx.fail(path, "is not an accepted value", value=raw,
                 expected="one of " + ", ".join(choices))
    return raw


def _list(ctx, raw, path, *, nonempty=False) -> list:
    if not isinstance(raw, list):
        ctx.fail(path, "must be a list", value=raw, expected="a list")
    if nonempty and not raw:
        ctx.fail(path, "must not be empty", value=raw, expected="at least one entry")
    return raw


_ITEM_FIELDS = ("min", "max", "integer", "reverse", "optional", "role", "labels")


def _parse_item(ctx: _Ctx, raw: Any, path: str, defaults: dict) -> Item:
    _check_keys(ctx, raw, path, ["id", "stem"], _ITEM_FIELDS)
    merged = {**defaults, **raw}
    for key in ("min", "max"):
        if key not in merged:
            ctx.fail(_join(path, key), "required key is missing (here or in 'defaults')",
                     expected="a number")
    iid = _str(ctx, raw["id"], _join(path, "id"), pattern=_ID,
               expected="lower-case letters, digits and _, starting with a letter")
    integer = _bool(ctx, merged.get("integer", True), _join(path, "integer"))
    lo = _num(ctx, merged["min"], _join(path, "min"))
    hi = _num(ctx, merged["max"], _join(path, "max"))
    if not lo < hi:
        ctx.fail(_join(path, "max"), "must be greater than min", value=merged["max"],
                 expected=f"a number > {merged['min']}")
    labels_raw = merged.get("labels", {}) or {}
    if not isinstance(labels_raw, dict):
        ctx.fail(_join(path, "labels"), "must be a mapping of value to label",
                 value=labels_raw, expected="e.g. {1: 'None of the time'}")
    labels = {}
    for value, label in labels_raw.items():
        vpath = f"{_join(path, 'labels')}[{value!r}]"
        v = _num(ctx, value, vpath, lo=lo, hi=hi)
        labels[v] = _str(ctx, label, vpath)
    return Item(id=iid, stem=_str(ctx, raw["stem"], _join(path, "stem")), min=lo, max=hi,
                integer=integer,
                reverse=_bool(ctx, merged.get("reverse", False), _join(path, "reverse")),
                optional=_bool(ctx, merged.get("optional", False), _join(path, "optional")),
                role=_choice(ctx, merged.get("role", "item"), _join(path, "role"), ROLES),
                labels=labels)


def _parse_fact(ctx, raw, path, *, kinds=False, lo=None, hi=None, ranged=False) -> Fact:
    optional = (["kind", "notes"] if kinds else ["notes"]) + (["range"] if ranged else [])
    _check_keys(ctx, raw, path, ["value", "source"], optional)
    kind = None
    if kinds and "kind" in raw:
        kind = _choice(ctx, raw["kind"], _join(path, "kind"), RELIABILITY_KINDS)
    value = _num(ctx, raw["value"], _join(path, "value"), lo=lo, hi=hi)
    span = _parse_range(ctx, raw["range"], _join(path, "range"), value, lo, hi) \
        if "range" in raw else None
    return Fact(value=value, source=_str(ctx, raw["source"], _join(path, "source")), kind=kind,
                notes=_str(ctx, raw["notes"], _join(path, "notes")) if "notes" in raw else None,
                range=span)


def _parse_range(ctx, raw, path, value, lo, hi) -> tuple[float, float]:
    """A published ``[low, high]`` range that holds the value used."""
    pair = _list(ctx, raw, path, nonempty=True)
    if len(pair) != 2:
        ctx.fail(path, "must be two numbers", value=raw, expected="[low, high]")
    low, high = (_num(ctx, v, f"{path}[{i}]", lo=lo, hi=hi) for i, v in enumerate(pair))
    if not low <= value <= high:
        ctx.fail(path, "must hold the value used", value=raw,
                 expected=f"low <= {value:g} <= high")
    return low, high


def _parse_missing(ctx, raw, path, method, items: Sequence[Item]) -> MissingRule:
    _check_keys(ctx, raw, path, ["rule"],
                ["min_answered", "max_missing", "prorate", "source", "notes"])
    rule = _choice(ctx, raw["rule"], _join(path, "rule"), RULES)
    n_items = len(items)
    n_required = sum(not it.optional for it in items)
    min_answered = max_missing = None
    if rule == "min_answered":
        if "min_answered" not in raw:
            ctx.fail(_join(path, "min_answered"), "required when rule is min_answered",
                     expected=f"a whole number from 1 to {n_items}")
        min_answered = _num(ctx, raw["min_answered"], _join(path, "min_answered"),
                            integer=True, lo=1, hi=n_items)
    elif "min_answered" in raw:
        ctx.fail(_join(path, "min_answered"), f"not used with rule '{rule}'",
                 value=raw["min_answered"], expected="rule: min_answered")
    if rule == "max_missing":
        if "max_missing" not in raw:
            ctx.fail(_join(path, "max_missing"), "required when rule is max_missing",
                     expected=f"a whole number from 0 to {max(n_required - 1, 0)}")
        max_missing = _num(ctx, raw["max_missing"], _join(path, "max_missing"), integer=True,
                           lo=0, hi=max(n_required - 1, 0))
    elif "max_missing" in raw:
        ctx.fail(_join(path, "max_missing"), f"not used with rule '{rule}'",
                 value=raw["max_missing"], expected="rule: max_missing")
    prorate = _bool(ctx, raw.get("prorate", False), _join(path, "prorate"))
    if prorate and method != "sum":
        ctx.fail(_join(path, "prorate"), f"prorating applies only to method 'sum' "
                 f"(this scale uses '{method}')", value=True, expected="false")
    if method == "lookup" and rule != "complete":
        ctx.fail(_join(path, "rule"), "a lookup table is defined for complete responses only",
                 value=rule, expected="complete")
    return MissingRule(rule=rule, min_answered=min_answered, max_missing=max_missing,
                       prorate=prorate,
                       source=_str(ctx, raw["source"], _join(path, "source"))
                       if "source" in raw else None,
                       notes=_str(ctx, raw["notes"], _join(path, "notes"))
                       if "notes" in raw else None)


def _parse_lookup(ctx, raw, path, items: Sequence[Item]):
    _check_keys(ctx, raw, path, ["file", "from", "to", "source"], [])
    fname = _str(ctx, raw["file"], _join(path, "file"))
    table_path = (ctx.folder / fname) if ctx.folder is not None else Path(fname)
    if not table_path.is_file():
        ctx.fail(_join(path, "file"), "lookup table file not found", value=str(table_path),
                 expected="a CSV file beside the definition")
    col_from = _str(ctx, raw["from"], _join(path, "from"))
    col_to = _str(ctx, raw["to"], _join(path, "to"))
    with open(table_path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        for col in (col_from, col_to):
            if col not in (reader.fieldnames or []):
                ctx.fail(_join(path, "from" if col == col_from else "to"),
                         f"column not in {table_path.name}", value=col,
                         expected="one of " + ", ".join(reader.fieldnames or []))
        pairs = []
        for lineno, rec in enumerate(reader, start=2):
            try:
                pairs.append((float(rec[col_from]), float(rec[col_to])))
            except (TypeError, ValueError):
                raise DefinitionError(f"lookup table {table_path.name} line {lineno} is not "
                                      "numeric", file=str(table_path), field=path,
                                      value=rec, expected="numbers") from None
    lo = sum(it.min for it in items)
    hi = sum(it.max for it in items)
    if not all(it.integer for it in items):
        ctx.fail(path, "a lookup table needs whole-number items", expected="integer: true")
    have = {p[0] for p in pairs}
    need = set(float(v) for v in range(int(lo), int(hi) + 1))
    if have != need or len(pairs) != len(have):
        ctx.fail(_join(path, "file"), f"table must list each raw sum {int(lo)}..{int(hi)} "
                 "exactly once", value=str(table_path), expected=f"{len(need)} rows")
    return tuple(sorted(pairs)), _str(ctx, raw["source"], _join(path, "source"))


def _parse_scale(ctx: _Ctx, raw: Any, path: str, items: dict[str, Item]) -> Scale:
    """One scale of a definition, checked field by field (in this order: keys, id, method,
    direction, items, missing-item rule, the method's own fields, range, reliability, MID,
    norms, clinical norms, bands)."""
    _check_keys(ctx, raw, path, ["id", "name", "method", "direction"],
                ["items", "min", "max", "primary", "missing", "reliability", "test_retest",
                 "mid", "norms", "clinical", "bands", "lookup", "count_values", "weights",
                 "rho", "notes"])
    sid = _str(ctx, raw["id"], _join(path, "id"), pattern=_ID,
               expected="lower-case letters, digits and _, starting with a letter")
    method = _choice(ctx, raw["method"], _join(path, "method"), METHODS)
    direction = _choice(ctx, raw["direction"], _join(path, "direction"), DIRECTIONS)
    item_ids = _scale_item_ids(ctx, raw, path, items, method)
    scale_items = [items[i] for i in item_ids]
    missing = (_parse_missing(ctx, raw["missing"], _join(path, "missing"), method, scale_items)
               if "missing" in raw else MissingRule())
    extra = _method_fields(ctx, raw, path, items, method, item_ids, missing)
    smin, smax = _score_range(ctx, raw, path, method, scale_items, extra)
    reliability = (_parse_fact(ctx, raw["reliability"], _join(path, "reliability"),
                               kinds=True, lo=0, hi=1) if "reliability" in raw else None)
    retest = _parse_retest(ctx, raw, path, reliability)
    mid = (_parse_fact(ctx, raw["mid"], _join(path, "mid"), lo=0, ranged=True)
           if "mid" in raw else None)

    norms = _parse_norms(ctx, raw, path)
    clinical = _parse_clinical(ctx, raw, path)
    bands = _parse_bands(ctx, raw, path)
    return Scale(id=sid, name=_str(ctx, raw["name"], _join(path, "name")), method=method,
                 items=tuple(item_ids), direction=direction, min=smin, max=smax,
                 primary=_bool(ctx, raw.get("primary", False), _join(path, "primary")),
                 missing=missing, reliability=reliability, mid=mid, norms=tuple(norms),
                 clinical=clinical, bands=tuple(sorted(bands, key=lambda b: b.lower)),
                 notes=_str(ctx, raw["notes"], _join(path, "notes")) if "notes" in raw
                 else None, test_retest=retest, **extra)


def _parse_retest(ctx: _Ctx, raw: Any, path: str, reliability: Fact | None) -> Fact | None:
    """``test_retest: {value, source, notes}``; refused beside a ``reliability`` that is
    itself of kind ``test_retest`` (two test-retest values: which one would the RCI use?)."""
    if "test_retest" not in raw:
        return None
    tpath = _join(path, "test_retest")
    fact = _parse_fact(ctx, raw["test_retest"], tpath, lo=0, hi=1)
    if reliability is not None and reliability.kind == "test_retest":
        ctx.fail(tpath, "given twice: reliability is already of kind test_retest",
                 expected="test_retest beside a reliability of kind cronbach_alpha or other")
    return Fact(value=fact.value, source=fact.source, kind="test_retest", notes=fact.notes)


def _scale_item_ids(ctx: _Ctx, raw: Any, path: str, items: dict[str, Item],
                    method: str) -> list[str]:
    """The scale's items: listed, or all answer items ('all', the default); none for a
    'count' scale."""
    ipath = _join(path, "items")
    if method == "count":
        if raw.get("items"):
            ctx.fail(ipath, "a 'count' scale has no items (counts come from the service-use "
                     "table)", value=raw.get("items"), expected="no items")
        item_ids: list[str] = []
    else:
        default = [i for i, it in items.items() if it.role in ("item", "level")]
        spec = raw.get("items", "all")
        if spec == "all":
            item_ids = default
        else:
            item_ids = [_str(ctx, v, f"{ipath}[{k}]") for k, v in
                        enumerate(_list(ctx, spec, ipath, nonempty=True))]
        if not item_ids:
            ctx.fail(ipath, "the scale has no items", expected="at least one item id")
        for k, iid in enumerate(item_ids):
            if iid not in items:
                ctx.fail(f"{ipath}[{k}]", "not an item of this instrument", value=iid,
                         expected="one of " + ", ".join(items))
            if items[iid].role == "weight":
                ctx.fail(f"{ipath}[{k}]", "a weight item cannot be scored as an answer",
                         value=iid, expected="an item with role item or level")
        if len(set(item_ids)) != len(item_ids):
            ctx.fail(ipath, "an item is listed twice", value=item_ids, expected="unique ids")
    return item_ids


def _method_fields(ctx: _Ctx, raw: Any, path: str, items: dict[str, Item], method: str,
                   item_ids: list[str], missing: MissingRule) -> dict[str, Any]:
    """The fields only one method uses (conversion table, counted answers, GAS weights and
    rho): each required for its method and refused for the others."""
    ipath = _join(path, "items")
    scale_items = [items[i] for i in item_ids]
    extra: dict[str, Any] = {}
    # Method-specific fields: each is required for its method and refused for the others.
    for key, needed_by in (("lookup", "lookup"), ("count_values", "dichotomise_count"),
                           ("rho", "gas_tscore")):
        if method == needed_by and key not in raw:
            ctx.fail(_join(path, key), f"required for method '{method}'",
                     expected=f"a '{key}' entry")
        if method != needed_by and key in raw:
            ctx.fail(_join(path, key), f"only used by method '{needed_by}'", value=raw[key],
                     expected=f"method: {needed_by}")
    if "weights" in raw and method != "gas_tscore":
        ctx.fail(_join(path, "weights"), "only used by method 'gas_tscore'",
                 value=raw["weights"], expected="method: gas_tscore")

    if method == "lookup":
        extra["lookup"], extra["lookup_source"] = _parse_lookup(ctx, raw["lookup"],
                                                                _join(path, "lookup"),
                                                                scale_items)
    if method == "dichotomise_count":
        cpath = _join(path, "count_values")
        cv = raw["count_values"]
        if not isinstance(cv, dict):
            ctx.fail(cpath, "must map each item to the answers that score 1", value=cv,
                     expected="e.g. {djg6_1: [1, 2]}")
        counted = {}
        for iid in cv:
            if iid not in item_ids:
                ctx.fail(f"{cpath}.{iid}", "not an item of this scale", value=iid,
                         expected="one of " + ", ".join(item_ids))
        for iid in item_ids:
            if iid not in cv:
                ctx.fail(f"{cpath}.{iid}", "missing: every item of the scale needs the "
                         "answers that score 1", expected="a list of answer values")
            vals = _list(ctx, cv[iid], f"{cpath}.{iid}", nonempty=True)
            it = items[iid]
            counted[iid] = tuple(_num(ctx, v, f"{cpath}.{iid}[{k}]", lo=it.min, hi=it.max)
                                 for k, v in enumerate(vals))
        extra["count_values"] = counted
        if missing.prorate:
            ctx.fail(_join(path, "missing.prorate"), "not used by dichotomise_count",
                     value=True, expected="false")
    if method == "gas_tscore":
        for k, iid in enumerate(item_ids):
            if items[iid].role != "level":
                ctx.fail(f"{ipath}[{k}]", "GAS scales take attainment levels", value=iid,
                         expected="an item with role: level")
        if "weights" in raw:
            wpath = _join(path, "weights")
            w_ids = [_str(ctx, v, f"{wpath}[{k}]")
                     for k, v in enumerate(_list(ctx, raw["weights"], wpath))]
            if len(w_ids) != len(item_ids):
                ctx.fail(wpath, "needs one weight item per goal", value=w_ids,
                         expected=f"{len(item_ids)} weight items, parallel to 'items'")
            for k, wid in enumerate(w_ids):
                if wid not in items or items[wid].role != "weight":
                    ctx.fail(f"{wpath}[{k}]", "not a weight item of this instrument",
                             value=wid, expected="an item with role: weight")
            extra["weights"] = tuple(w_ids)
        extra["rho"] = _parse_fact(ctx, raw["rho"], _join(path, "rho"), lo=0, hi=0.999)
    elif method != "count":
        for k, iid in enumerate(item_ids):
            if items[iid].role == "level":
                ctx.fail(f"{ipath}[{k}]", "a GAS level belongs to a gas_tscore scale",
                         value=iid, expected="an item with role: item")
    return extra


def _score_range(ctx: _Ctx, raw: Any, path: str, method: str, scale_items: list[Item],
                 extra: dict[str, Any]) -> tuple[float, float]:
    """The scale's min and max: stated, or implied by the method and the item ranges."""
    if scale_items:
        los = [it.min for it in scale_items]
        his = [it.max for it in scale_items]
    if method == "sum":
        lo_d, hi_d = sum(los), sum(his)
    elif method == "mean":
        lo_d, hi_d = min(los), max(his)
    elif method == "lookup":
        lo_d, hi_d = extra["lookup"][0][1], extra["lookup"][-1][1]
    elif method == "dichotomise_count":
        lo_d, hi_d = 0.0, float(len(scale_items))
    elif method == "count":
        lo_d, hi_d = 0.0, math.nan
    else:
        lo_d, hi_d = math.nan, math.nan
    smin = _num(ctx, raw["min"], _join(path, "min")) if "min" in raw else lo_d
    smax = _num(ctx, raw["max"], _join(path, "max")) if "max" in raw else hi_d
    if not (math.isnan(smin) or math.isnan(smax)) and not smin < smax:
        ctx.fail(_join(path, "max"), "must be greater than min", value=smax,
                 expected=f"> {smin}")
    return smin, smax


def _parse_norms(ctx: _Ctx, raw: Any, path: str) -> list[Norm]:
    """Published norms (at most one marked as the reference)."""
    norms = []
    npath = _join(path, "norms")
    for k, nraw in enumerate(_list(ctx, raw.get("norms", []), npath)):
        p = f"{npath}[{k}]"
        _check_keys(ctx, nraw, p, ["group", "mean", "source"], ["sd", "n", "reference"])
        norms.append(Norm(group=_str(ctx, nraw["group"], _join(p, "group")),
                          mean=_num(ctx, nraw["mean"], _join(p, "mean")),
                          source=_str(ctx, nraw["source"], _join(p, "source")),
                          sd=_num(ctx, nraw["sd"], _join(p, "sd"), positive=True)
                          if "sd" in nraw else math.nan,
                          n=_num(ctx, nraw["n"], _join(p, "n"), integer=True, positive=True)
                          if "n" in nraw else math.nan,
                          reference=_bool(ctx, nraw.get("reference", False),
                                          _join(p, "reference"))))
    if sum(n.reference for n in norms) > 1:
        ctx.fail(npath, "only one norm may be marked reference: true",
                 expected="at most one reference norm")
    return norms


def _parse_clinical(ctx: _Ctx, raw: Any, path: str) -> Clinical | None:
    """Functional and dysfunctional population norms (for Jacobson-Truax cut-offs)."""
    clinical = None
    if "clinical" in raw:
        p = _join(path, "clinical")
        c = _check_keys(ctx, raw["clinical"], p,
                        ["func_mean", "func_sd", "dys_mean", "dys_sd", "source"], [])
        clinical = Clinical(func_mean=_num(ctx, c["func_mean"], _join(p, "func_mean")),
                            func_sd=_num(ctx, c["func_sd"], _join(p, "func_sd"), positive=True),
                            dys_mean=_num(ctx, c["dys_mean"], _join(p, "dys_mean")),
                            dys_sd=_num(ctx, c["dys_sd"], _join(p, "dys_sd"), positive=True),
                            source=_str(ctx, c["source"], _join(p, "source")))
    return clinical


def _parse_bands(ctx: _Ctx, raw: Any, path: str) -> list[Band]:
    """Published score bands: none below its own lower end, none overlapping another."""
    bands = []
    bpath = _join(path, "bands")
    for k, braw in enumerate(_list(ctx, raw.get("bands", []), bpath)):
        p = f"{bpath}[{k}]"
        _check_keys(ctx, braw, p, ["lower", "upper", "label", "source"], [])
        b = Band(lower=_num(ctx, braw["lower"], _join(p, "lower")),
                 upper=_num(ctx, braw["upper"], _join(p, "upper")),
                 label=_str(ctx, braw["label"], _join(p, "label")),
                 source=_str(ctx, braw["source"], _join(p, "source")))
        if b.upper < b.lower:
            ctx.fail(_join(p, "upper"), "must not be below lower", value=b.upper,
                     expected=f">= {b.lower}")
        for j, other in enumerate(bands):
            if b.lower <= other.upper and other.lower <= b.upper:
                ctx.fail(p, f"overlaps bands[{j}] ('{other.label}')",
                         value=f"{b.lower}-{b.upper}", expected="non-overlapping bands")
        bands.append(b)
    return bands


def parse_definition(raw: Any, *, file: str, folder: Path | None = None,
                     builtin: bool = False) -> Instrument:
    """Validate a definition already read from YAML and build the :class:`Instrument`."""
    ctx = _Ctx(file, folder)
    _check_keys(ctx, raw, "", ["id", "name", "version", "citation", "licence", "items",
                               "scales"], ["notes", "url", "derived_from", "defaults"])
    iid = _str(ctx, raw["id"], "id", pattern=_ID,
               expected="lower-case letters, digits and _, starting with a letter")
    defaults = {}
    if "defaults" in raw:
        defaults = _check_keys(ctx, raw["defaults"], "defaults", [], _ITEM_FIELDS)
    items_raw = _list(ctx, raw["items"], "items")
    items: dict[str, Item] = {}
    for k, iraw in enumerate(items_raw):
        it = _parse_item(ctx, iraw, f"items[{k}]", defaults)
        if it.id in items:
            ctx.fail(f"items[{k}].id", "duplicate item id", value=it.id,
                     expected="unique item ids")
        items[it.id] = it
    scales_raw = _list(ctx, raw["scales"], "scales", nonempty=True)
    scales: list[Scale] = []
    for k, sraw in enumerate(scales_raw):
        sc = _parse_scale(ctx, sraw, f"scales[{k}]", items)
        if any(s.id == sc.id for s in scales):
            ctx.fail(f"scales[{k}].id", "duplicate scale id", value=sc.id,
                     expected="unique scale ids")
        scales.append(sc)
    if not items and any(s.method != "count" for s in scales):
        ctx.fail("items", "must not be empty", expected="at least one item")
    if sum(s.primary for s in scales) > 1:
        ctx.fail("scales", "only one scale may be primary", expected="at most one primary")
    derived = None
    if "derived_from" in raw:
        d = raw["derived_from"]
        if not isinstance(d, dict):
            ctx.fail("derived_from", "must map each item to a source column", value=d,
                     expected="e.g. {swemwbs_1: wemwbs_1}")
        for key in d:
            if key not in items:
                ctx.fail(f"derived_from.{key}", "not an item of this instrument", value=key,
                         expected="one of " + ", ".join(items))
        for key in items:
            if key not in d:
                ctx.fail(f"derived_from.{key}", "every item needs a source column",
                         expected="a column name")
        derived = {k: _str(ctx, v, f"derived_from.{k}") for k, v in d.items()}
    return Instrument(id=iid, name=_str(ctx, raw["name"], "name"),
                      version=_str(ctx, raw["version"], "version"),
                      citation=_str(ctx, raw["citation"], "citation"),
                      licence=_str(ctx, raw["licence"], "licence"),
                      items=tuple(items.values()), scales=tuple(scales), derived_from=derived,
                      notes=_str(ctx, raw["notes"], "notes") if "notes" in raw else None,
                      url=_str(ctx, raw["url"], "url") if "url" in raw else None,
                      path=file, builtin=builtin)


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError("instrument definition not found", file=str(path),
                         expected="an existing YAML file") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"instrument definition is not UTF-8 text ({exc.reason})",
                         file=str(path), expected="a UTF-8 YAML file") from None
    try:
        return yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise InputError(f"instrument definition is not valid YAML{where}: "
                         f"{getattr(exc, 'problem', None) or exc}", file=str(path),
                         row=(mark.line + 1) if mark is not None else None,
                         expected="valid YAML") from None


def load_file(path: str | Path, *, builtin: bool = False) -> Instrument:
    """Load and validate one definition file."""
    path = Path(path)
    return parse_definition(_read_yaml(path), file=str(path), folder=path.parent,
                            builtin=builtin)


def builtin_ids() -> list[str]:
    """Ids of the definitions shipped with spanalysis."""
    return sorted(p.stem for p in DEFINITIONS_DIR.glob("*.yaml"))


@functools.lru_cache(maxsize=None)
def _load_builtin(instrument_id: str) -> Instrument:
    path = DEFINITIONS_DIR / f"{instrument_id}.yaml"
    inst = load_file(path, builtin=True)
    if inst.id != instrument_id:
        raise DefinitionError("built-in file name and id differ", file=str(path), field="id",
                              value=inst.id, expected=instrument_id)
    return inst


def _looks_like_path(name: str) -> bool:
    return name.endswith((".yaml", ".yml")) or "/" in name or "\\" in name


def load(name_or_path: str | Path | Instrument) -> Instrument:
    """Load a built-in instrument by id, or a definition from a YAML file.

    Parameters
    ----------
    name_or_path : str or path-like
        A built-in id (``wemwbs``, ``swemwbs``, ``ons4``, ``gse``, ``ucla3``, ``ons_lonely``,
        ``djg6``, ``mycaw``, ``gas``, ``service_use``) or the path of a YAML definition.

    Returns
    -------
    Instrument

    Raises
    ------
    InputError
        Unknown id, missing file, or an invalid definition (naming the field path).

    Examples
    --------
    >>> from spanalysis import instruments
    >>> w = instruments.load("wemwbs")
    >>> w.item_ids[:2], w.scale("total").min, w.scale("total").max
    (['wemwbs_1', 'wemwbs_2'], 14.0, 70.0)
    """
    if isinstance(name_or_path, Instrument):
        return name_or_path
    if isinstance(name_or_path, Path) or _looks_like_path(str(name_or_path)):
        return load_file(name_or_path)
    name = str(name_or_path)
    known = builtin_ids()
    if name not in known:
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise InputError(f"unknown instrument '{name}'{hint}", value=name,
                         expected="a built-in id (" + ", ".join(known) + ") or the path of a "
                         "YAML definition")
    return _load_builtin(name)


def registry(ids: Iterable[str] = (), custom_paths: Iterable[str | Path] = ()
             ) -> dict[str, Instrument]:
    """The instruments a study uses, by id.

    Parameters
    ----------
    ids : iterable of str
        Instrument ids: built-in ids and the ids of the custom definitions.
    custom_paths : iterable of path-like
        Study-specific YAML definitions. A custom definition may not reuse a built-in id
        (that would silently change how a published instrument is scored), and two custom
        definitions may not share an id.

    Returns
    -------
    dict
        id -> :class:`Instrument`, in the order of ``ids``, followed by any custom instrument
        that ``ids`` does not name (declaring a custom definition means using it).

    Examples
    --------
    >>> from spanalysis import instruments
    >>> list(instruments.registry(["wemwbs", "ons4"]))
    ['wemwbs', 'ons4']
    """
    custom: dict[str, Instrument] = {}
    known = set(builtin_ids())
    for path in custom_paths:
        inst = load_file(path)
        if inst.id in known:
            raise DefinitionError("a custom instrument may not reuse a built-in id",
                                  file=str(path), field="id", value=inst.id,
                                  expected="an id other than " + ", ".join(sorted(known)))
        if inst.id in custom:
            raise DefinitionError("two custom definitions share this id", file=str(path),
                                  field="id", value=inst.id,
                                  expected=f"an id not already used by {custom[inst.id].path}")
        custom[inst.id] = inst
    out: dict[str, Instrument] = {}
    for name in ids:
        name = str(name)
        if name in out:
            continue
        out[name] = custom[name] if name in custom else load(name)
    for name, inst in custom.items():
        out.setdefault(name, inst)
    return out


def _as_dict(instruments) -> dict[str, Instrument]:
    if isinstance(instruments, Instrument):
        return {instruments.id: instruments}
    if isinstance(instruments, Mapping):
        return {k: load(v) for k, v in instruments.items()}
    out = {}
    for v in instruments:
        inst = load(v)
        out[inst.id] = inst
    return out
