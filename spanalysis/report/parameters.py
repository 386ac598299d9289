"""Notebook parameters: what a report notebook declares, and checking the values given to it.

papermill reads a notebook's parameters cell (``papermill.inspect_notebook``) but only logs a
name the notebook does not declare; these checks refuse such names and values of the wrong
type before any notebook runs.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Mapping

from spanalysis.errors import InputError

__all__ = ["check_parameters", "coerce_parameter", "declared_type", "WHOLE_STUDY"]

#: the ``site`` value that means the whole study; no site may have this name
WHOLE_STUDY = "all"

_SIMPLE_TYPES = {"str": str, "int": int, "float": float, "bool": bool}


def _declared(notebook: Path) -> dict:
    import papermill

    return papermill.inspect_notebook(str(notebook))


def declared_type(info: Mapping) -> str | None:
    """The type of a declared parameter: "str", "int", "float", "bool" or None (other).

    papermill's ``inferred_type_name`` is set only for annotated parameters (``x: float =
    0.9``); otherwise it is "None". The type is then read from the literal default
    (``confidence = 0.95`` is a float), which is why defaults in a parameters cell must be
    literals.

    Examples
    --------
    >>> declared_type({"inferred_type_name": "None", "default": "0.95"})
    'float'
    >>> declared_type({"inferred_type_name": "None", "default": '"all"'})
    'str'
    >>> declared_type({"inferred_type_name": "None", "default": "None"}) is None
    True
    """
    import ast

    inferred = info.get("inferred_type_name")
    if inferred in _SIMPLE_TYPES:
        return inferred
    try:
        value = ast.literal_eval(str(info.get("default")))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    for name in ("bool", "int", "float", "str"):     # bool before int: True is an int
        if isinstance(value, _SIMPLE_TYPES[name]):
            return name
    return None


def check_parameters(notebook: str | os.PathLike, parameters: Mapping[str, Any], *,
                     sites: Iterable[str] | None = None, declared: dict | None = None) -> None:
    """Refuse parameters a notebook does not declare or whose values cannot be right.

    Parameters
    ----------
    notebook : path
        The notebook (its cell tagged ``parameters`` is read by
        ``papermill.inspect_notebook``).
    parameters : mapping
        Name -> value, as they would be given to papermill.
    sites : iterable of str, optional
        The study's sites: ``site`` must then be one of them or ``"all"`` (the whole study),
        and none of them may be called ``"all"``.
    declared : dict, optional
        ``inspect_notebook``'s result, if already read.

    Raises
    ------
    InputError
        Naming the notebook, the parameter, the value found and what was expected: an
        unknown name (papermill would only log it and run with the default), a value whose
        type differs from the declared default's (``int`` is accepted for ``float``; ``bool``
        is not accepted for ``int``), an unknown site, or a study with a site called "all".
    """
    notebook = Path(notebook)
    declared = _declared(notebook) if declared is None else declared
    for name, value in parameters.items():
        if name not in declared:
            raise InputError("unknown parameter", file=notebook.name, column=name, value=name,
                             expected="one of " + (", ".join(sorted(declared)) or "(none)"))
        inferred = declared_type(declared[name])
        default = declared[name].get("default")
        if inferred is not None:
            ok = {"str": isinstance(value, str),
                  "int": isinstance(value, int) and not isinstance(value, bool),
                  "float": isinstance(value, (int, float)) and not isinstance(value, bool),
                  "bool": isinstance(value, bool)}[inferred]
            if not ok:
                raise InputError("parameter of the wrong type", file=notebook.name, column=name,
                                 value=value, expected=f"{inferred} (the notebook's default is "
                                                       f"{default})")
        if name == "site" and sites is not None:
            allowed = list(sites)
            if WHOLE_STUDY in allowed:
                # "all" is the value for the whole study: a site of that name would be given
                # the whole study's figures, so the study must rename it
                raise InputError("a site may not be called 'all': the word is reserved for the "
                                 "whole study", file=notebook.name, column="site",
                                 value=WHOLE_STUDY,
                                 expected="another name for that site in study.yaml and the "
                                          "data files")
            if value != WHOLE_STUDY and value not in allowed:
                raise InputError("unknown site", file=notebook.name, column="site", value=value,
                                 expected="one of " + ", ".join(allowed) + " or 'all'")


def coerce_parameter(text: str, type_name: str | None, *, name: str = "", where: str = ""):
    """Convert a command-line value to the type the notebook declares (no guessing).

    Parameters
    ----------
    text : str
        The value as typed (``-p confidence=0.9``).
    type_name : str or None
        ``inspect_notebook``'s ``inferred_type_name``: "str", "int", "float", "bool";
        anything else keeps the text.

    Examples
    --------
    >>> coerce_parameter("0.9", "float"), coerce_parameter("3", "int")
    (0.9, 3)
    >>> coerce_parameter("no", "bool"), coerce_parameter("Riverside PCN", "str")
    (False, 'Riverside PCN')
    """
    try:
        if type_name == "int":
            return int(text)
        if type_name == "float":
            return float(text)
        if type_name == "bool":
            lowered = text.strip().casefold()
            if lowered in ("true", "yes", "1"):
                return True
            if lowered in ("false", "no", "0"):
                return False
            raise ValueError(text)
    except ValueError:
        raise InputError("parameter of the wrong type", file=where or None, column=name or None,
                         value=text, expected=f"a {type_name} value") from None
    return text


# =============================================================================================
# Planning
