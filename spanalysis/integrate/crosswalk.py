"""The crosswalk: which questionnaire items could reflect each theme patients describe.

A crosswalk is a small YAML file (format in ``docs/integration.md``) mapping theme ids of the
codebook to item ids of the instruments. :func:`read_crosswalk` reads and checks it against the
loaded study; :func:`spanalysis.integrate.measurement_coverage` uses it. The package ships a
default, :data:`DEFAULT_CROSSWALK`, for the built-in instruments.

Each item's direction (is a higher answer better?) comes from the scales that score it,
flipped for reversed items; a file may state it, and a stated direction that contradicts the
instrument definition is an error.
"""
from __future__ import annotations

import functools
from pathlib import Path

import pandas as pd
import yaml

from spanalysis.errors import InputError
from spanalysis.instruments import builtin_ids, load
from spanalysis.io import load_yaml  # YAML that refuses duplicate keys and aliases

__all__ = ["DEFAULT_CROSSWALK", "read_crosswalk"]

#: The default crosswalk shipped with the package (themes -> questionnaire items).
DEFAULT_CROSSWALK = Path(__file__).resolve().parent / "crosswalk.yaml"

_MAX_YAML_BYTES = 1_000_000
_COLUMNS = ["theme", "theme_label", "item", "instrument", "stem", "direction", "why", "note",
            "collected"]


def _qualitative(study):
    """The study's qualitative material, or an InputError saying there is none."""
    if getattr(study, "qualitative", None) is None:
        raise InputError("this study has no qualitative material to integrate",
                         file="study.yaml", column="files.qualitative",
                         expected="codebook, sources and segments (or refi_qda) declared "
                                  "under files: qualitative:")
    return study.qualitative


def _labels(study) -> dict:
    """Code id -> code name (the id when the codebook gives no name)."""
    cb = _qualitative(study).codebook
    names = cb["name"].astype(object).where(cb["name"].notna(), cb["id"])
    return dict(zip(cb["id"].astype(str), names.astype(str)))


def _read_yaml(path: Path, label: str, expected: str):
    """The YAML document in ``path`` (at most 1 MB, UTF-8, no duplicate keys), or an
    InputError naming ``label``. Also reads the meta-inferences file."""
    if not path.is_file():
        raise InputError("file not found", file=label, value=str(path), expected=expected)
    if path.stat().st_size > _MAX_YAML_BYTES:
        raise InputError("file too large", file=label, value=f"{path.stat().st_size} bytes",
                         expected=f"at most {_MAX_YAML_BYTES} bytes of YAML")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("not valid UTF-8", file=label, expected="UTF-8 text") from None
    try:
        return load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        raise InputError("not valid YAML: " + str(getattr(exc, "problem", None) or exc),
                         file=label, row=None if mark is None else mark.line + 1,
                         expected=expected) from None


def _fail(label, message, key, value=None, expected=None):
    """Stop on a problem in the crosswalk file ``label`` at ``key``."""
    raise InputError(message, file=label, column=key, value=value, expected=expected)


@functools.lru_cache(maxsize=1)
def _builtin_items() -> dict:
    """item id -> built-in instrument id, for every built-in instrument."""
    return {it: iid for iid in builtin_ids() for it in load(iid).item_ids}


def _item_direction(inst, item_id) -> str | None:
    """'higher'/'lower' from the scales scoring the item (flipped for reversed items), or
    None when the scales disagree or none scores it."""
    item = inst.item(item_id)
    dirs = {sc.direction for sc in inst.scales if item_id in sc.items}
    if len(dirs) != 1:
        return None
    d = dirs.pop()
    if item.reverse:  # a reversed item is scored min + max - answer: a higher answer is worse
        d = "lower" if d == "higher" else "higher"
    return d


def _theme_entries(raw, label: str) -> dict:
    """The ``themes:`` mapping of a crosswalk document, after checking its top-level keys."""
    if not isinstance(raw, dict):
        _fail(label, "the crosswalk must be a mapping", None, type(raw).__name__,
              "keys version: and themes:")
    unknown = set(raw) - {"version", "themes", "description"}
    if unknown:
        _fail(label, "unknown key", sorted(map(str, unknown))[0], None,
              "version, themes, description")
    if raw.get("version", 1) != 1:
        _fail(label, "unsupported crosswalk version", "version", raw.get("version"), "1")
    themes = raw.get("themes")
    if not isinstance(themes, dict):
        _fail(label, "'themes' must be a mapping of theme id -> entry", "themes",
              type(themes).__name__, "themes: {theme_id: {items: [...]}}")
    return themes


def _theme_entry(entry, key: str, label: str) -> list:
    """The list of item specifications of one theme's entry, after checking its keys."""
    if not isinstance(entry, dict):
        _fail(label, "a theme entry must be a mapping", key, type(entry).__name__,
              "items: [...], optional label: and note:")
    bad = set(entry) - {"items", "label", "note"}
    if bad:
        _fail(label, "unknown key", f"{key}.{sorted(map(str, bad))[0]}", None,
              "items, label, note")
    if "items" not in entry:
        _fail(label, "missing key 'items' (use items: [] when nothing covers the theme)",
              f"{key}.items", None, "a list of item ids")
    items = entry["items"] if entry["items"] is not None else []
    if not isinstance(items, list):
        _fail(label, "'items' must be a list", f"{key}.items", type(items).__name__,
              "a list of item ids or {item: ..., direction: ..., why: ...}")
    return items


def _item_spec(spec, ikey: str, label: str) -> dict:
    """One item specification as a mapping with ``item`` (and optional direction, why)."""
    if isinstance(spec, str):
        spec = {"item": spec}
    if not isinstance(spec, dict) or "item" not in spec:
        _fail(label, "an item entry must be an item id or a mapping with 'item'", ikey,
              spec, "e.g. wemwbs_1 or {item: wemwbs_1, why: ...}")
    bad = set(spec) - {"item", "direction", "why"}
    if bad:
        _fail(label, "unknown key", f"{ikey}.{sorted(map(str, bad))[0]}", None,
              "item, direction, why")
    return spec


def _item_source(study, item: str, item_info: pd.DataFrame, ikey: str, label: str):
    """(instrument id, direction derived from it, stem, collected) of one item: from the
    study's instruments when the study collected it, else from the built-in ones."""
    collected = item in item_info.index
    builtin = _builtin_items()
    if not collected and item not in builtin:
        _fail(label, "unknown questionnaire item", ikey, item,
              "an item id of the study's instruments, e.g. wemwbs_1")
    if collected:
        inst_id = str(item_info.at[item, "instrument"])
        derived = _item_direction(study.instruments[inst_id], item)
        stem = str(item_info.at[item, "stem"])
    else:
        inst_id = builtin[item]
        inst = load(inst_id)
        derived = _item_direction(inst, item)
        stem = inst.item(item).stem
    return inst_id, derived, stem, collected


def _item_row(study, spec, ikey: str, label: str, seen: set, item_info) -> dict:
    """The crosswalk row of one item of a theme (``item`` ... ``why``, ``collected``)."""
    spec = _item_spec(spec, ikey, label)
    item = str(spec["item"])
    if item in seen:
        _fail(label, "item listed twice for the same theme", ikey, item, "each item once")
    seen.add(item)
    explicit = spec.get("direction")
    if explicit is not None and explicit not in ("higher", "lower"):
        _fail(label, "unknown direction", f"{ikey}.direction", explicit,
              "'higher' or 'lower' (which answer is better)")
    inst_id, derived, stem, collected = _item_source(study, item, item_info, ikey, label)
    if explicit is not None and derived is not None and explicit != derived:
        _fail(label, "direction contradicts the instrument definition", f"{ikey}.direction",
              explicit, f"'{derived}' (from the {inst_id} scale scoring this item)")
    direction = explicit or derived
    if direction is None:
        _fail(label, "the direction of this item cannot be derived from its instrument",
              f"{ikey}.direction", item, "direction: higher or direction: lower")
    why = spec.get("why")
    return {"item": item, "instrument": inst_id, "stem": stem, "direction": direction,
            "why": None if why is None else " ".join(str(why).split()),
            "collected": collected}


def read_crosswalk(study, crosswalk=None) -> pd.DataFrame:
    """Read and validate a crosswalk file (themes -> questionnaire items).

    Parameters
    ----------
    study : Study
        Theme ids are checked against its codebook and item ids against its instruments
        (and the built-in ones).
    crosswalk : str or Path, optional
        A crosswalk YAML file (format in ``docs/integration.md``). Default: the shipped
        :data:`DEFAULT_CROSSWALK`, whose themes missing from the codebook are skipped.

    Returns
    -------
    DataFrame
        One row per theme and item: ``theme, theme_label, item, instrument, stem,
        direction, why, note, collected`` (the item is in the study's data). A theme listed
        with no item has one row with ``item`` missing.

    Raises
    ------
    InputError
        naming the file and the key: not YAML, unknown keys, an unknown theme (user files),
        an unknown item, a direction other than 'higher'/'lower', a direction contradicting
        the instrument definition, or an item whose direction cannot be derived.

    Examples
    --------
    >>> from spanalysis.study import load_study
    >>> cw = read_crosswalk(load_study("data/demo"))
    >>> cw.loc[cw["theme"] == "hope", ["item", "direction"]].to_dict("records")
    [{'item': 'wemwbs_1', 'direction': 'higher'}]
    """
    default = crosswalk is None
    path = DEFAULT_CROSSWALK if default else Path(crosswalk)
    label = "crosswalk.yaml (default)" if default else path.name
    raw = _read_yaml(path, label, "a crosswalk YAML file (docs/integration.md)")
    themes = _theme_entries(raw, label)
    codebook = set(_qualitative(study).codebook["id"].astype(str))
    labels = _labels(study)
    item_info = study.item_info.drop_duplicates("item").set_index("item")
    rows = []
    for theme, entry in themes.items():
        key = f"themes.{theme}"
        theme = str(theme)
        if theme not in codebook:
            if default:
                continue
            _fail(label, "theme not in the study's codebook", key, theme,
                  "a code id from the codebook")
        items = _theme_entry(entry, key, label)
        theme_label = str(entry.get("label") or labels.get(theme, theme))
        note = entry.get("note")
        note = None if note is None else " ".join(str(note).split())
        if not items:
            rows.append({"theme": theme, "theme_label": theme_label, "item": None,
                         "instrument": None, "stem": None, "direction": None, "why": None,
                         "note": note, "collected": False})
        seen = set()
        for i, spec in enumerate(items):
            row = _item_row(study, spec, f"{key}.items[{i}]", label, seen, item_info)
            rows.append({"theme": theme, "theme_label": theme_label, "note": note, **row})
    return pd.DataFrame(rows, columns=_COLUMNS)
