"""The files an analyst edits for the integration, read and checked without the statistics.

:func:`read_meta_inferences` reads the meta-inferences file (theme -> text) and
:func:`check_study` checks it and the crosswalk (:func:`~spanalysis.integrate.read_crosswalk`)
against a loaded study. This module imports only pandas, YAML and the crosswalk reader (not
SciPy, as the displays do), so that the report command checks a study's files before any
notebook starts at little cost (:mod:`spanalysis.integrate` imports its modules when a name
is first used).
"""
from __future__ import annotations

from pathlib import Path

from spanalysis.errors import InputError, Issue
from spanalysis.integrate.crosswalk import _read_yaml, read_crosswalk

__all__ = ["read_meta_inferences", "check_study"]


def read_meta_inferences(path, themes=None) -> dict:
    """Read the analyst's meta-inferences (theme -> text) from an editable YAML file.

    Parameters
    ----------
    path : str or Path or None
        The YAML file (format in ``docs/integration.md``). None or a missing file: no
        meta-inference has been written (an empty dict).
    themes : iterable of str, optional
        Allowed theme ids; any other key is an error.

    Returns
    -------
    dict
        theme -> text, only for themes with non-empty text.

    Raises
    ------
    InputError
        not YAML, wrong structure, unknown theme or unknown key (naming file and key).
    """
    if path is None:
        return {}
    path = Path(path)
    if not path.exists():
        return {}
    raw = _read_yaml(path, path.name, "a meta-inferences YAML file (docs/integration.md)")
    if raw is None:
        return {}
    if not isinstance(raw, dict) or set(raw) - {"meta_inferences", "study"}:
        extra = sorted(map(str, set(raw) - {"meta_inferences", "study"})) \
            if isinstance(raw, dict) else []
        raise InputError("unknown key" if extra else "the file must be a mapping",
                         file=path.name, column=extra[0] if extra else None,
                         expected="keys study: and meta_inferences:")
    entries = raw.get("meta_inferences") or {}
    if not isinstance(entries, dict):
        raise InputError("'meta_inferences' must map theme ids to entries", file=path.name,
                         column="meta_inferences", value=type(entries).__name__,
                         expected="meta_inferences: {theme_id: {text: ...}}")
    allowed = None if themes is None else set(themes)
    out = {}
    for theme, entry in entries.items():
        key = f"meta_inferences.{theme}"
        if allowed is not None and str(theme) not in allowed:
            raise InputError("unknown theme", file=path.name, column=key, value=str(theme),
                             expected="one of " + ", ".join(sorted(allowed)))
        if entry is None:
            continue
        if isinstance(entry, str):
            text = entry
        elif isinstance(entry, dict):
            bad = set(entry) - {"text", "author", "date"}
            if bad:
                raise InputError("unknown key", file=path.name,
                                 column=f"{key}.{sorted(map(str, bad))[0]}",
                                 expected="text, author, date")
            text = entry.get("text") or ""
            if not isinstance(text, str):
                raise InputError("the meta-inference must be text", file=path.name,
                                 column=f"{key}.text", value=text, expected="text")
        else:
            raise InputError("a meta-inference must be text or a mapping with text:",
                             file=path.name, column=key, value=type(entry).__name__,
                             expected="text: ...")
        if text.strip():
            out[str(theme)] = text.strip()
    return out


def check_study(study) -> list[Issue]:
    """Problems in the study's crosswalk and meta-inference files, checked against the loaded
    study (their themes must be in the codebook, their items in the instruments): a list of
    :class:`~spanalysis.errors.Issue`, empty when both are sound or not declared."""
    try:
        if study.crosswalk_path is not None:
            read_crosswalk(study, study.crosswalk_path)
        if study.meta_inferences_path is not None and study.qualitative is not None:
            read_meta_inferences(study.meta_inferences_path,
                                 themes=list(study.qualitative.codebook["id"]))
    except InputError as exc:
        return [exc.issue]
    return []
