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

__all__ = ["check_parameters", "check_values", "coerce_parameter", "declared_type", "default_study",
           "open_study", "ParameterError", "RULES", "WHOLE_STUDY"]

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
        rule = RULES.get(name)
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
        allowed = rule(value) if rule is not None and inferred is not None else None
        if allowed:
            raise InputError("parameter out of range", file=notebook.name, column=name,
                             value=value, expected=allowed)
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


# =============================================================================================
# Inside a notebook: checking what papermill injected, and opening the study

#: The values a parameter may take beyond its type, by name (the same meaning in every
#: notebook). Each rule returns None when the value is allowed, else what is allowed.
def _between_0_and_1(value) -> str | None:
    return None if 0 < value < 1 else "a number between 0 and 1, such as 0.95 or 0.90"


def _not_negative(value) -> str | None:
    return None if value >= 0 else "a whole number of 0 or more"


RULES = {
    "confidence": _between_0_and_1,
    "quotes": _not_negative,
    "quotes_per_theme": _not_negative,
    "unit": lambda v: None if v in ("sentence", "source") else "'sentence' or 'source'",
    "missing": lambda v: None if v in ("mi", "completers", "bocf")
    else "'mi' (multiple imputation), 'completers' or 'bocf'",
}

#: the header of the cell papermill adds with the values it was given
_INJECTED_HEADER = "# Parameters\n"
#: the first words of each report notebook's own parameters cell
_OWN_HEADER = "# Parameters ("


class ParameterError(InputError):
    """A notebook parameter that cannot be right. In a notebook it shows as its one-line
    message instead of a traceback (as every :class:`~spanalysis.errors.SpanalysisError`),
    so a papermill run stops on a line naming the parameter, the value given and what is
    allowed."""

    def __str__(self) -> str:
        i = self.issue
        where = f"{i.file}: " if i.file else ""
        return (f"{where}parameter '{i.column}': {i.message} (given {i.value!r}; "
                f"allowed: {i.expected})")


def _assigned(source: str) -> dict[str, str | None]:
    """Names a parameters cell assigns -> their annotation (``site: str = "all"``) or None."""
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    names: dict[str, str | None] = {}
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = ast.unparse(node.annotation)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    names[target.id] = None
    return names


def _cells(namespace: Mapping[str, Any]) -> tuple[dict, dict]:
    """(declared, injected): the names the notebook's own parameters cell declares (with their
    annotations) and those papermill's injected cell set, read from IPython's input history
    (``In``). Both are empty outside IPython."""
    history = [c for c in namespace.get("In", []) if isinstance(c, str)]
    own = [c for c in history if c.lstrip().startswith(_OWN_HEADER)]
    injected = [c for c in history if c.startswith(_INJECTED_HEADER)]
    return (_assigned(own[-1]) if own else {}), (_assigned(injected[-1]) if injected else {})


def check_values(values: Mapping[str, Any], types: Mapping[str, str | None], *,
                 where: str = "notebook") -> None:
    """Check each value against its declared type (``"str"``, ``"int"``, ``"float"``,
    ``"bool"``) and the :data:`RULES` for its name; raise :class:`ParameterError`.

    >>> check_values({"confidence": 0.9, "unit": "source"}, {"confidence": "float",
    ...                                                      "unit": "str"})
    >>> check_values({"confidence": 95}, {"confidence": "float"})
    Traceback (most recent call last):
    ...
    spanalysis.report.parameters.ParameterError: notebook: parameter 'confidence': out of range (given 95; allowed: a number between 0 and 1, such as 0.95 or 0.90)
    """
    for name, value in values.items():
        wanted = types.get(name)
        ok = {"str": isinstance(value, str),
              "int": isinstance(value, int) and not isinstance(value, bool),
              "float": isinstance(value, (int, float)) and not isinstance(value, bool),
              "bool": isinstance(value, bool), None: True}.get(wanted, True)
        if not ok:
            raise ParameterError("of the wrong type", file=where, column=name,
                                 value=value, expected=f"a {wanted}")
        rule = RULES.get(name)
        allowed = rule(value) if rule is not None and ok else None
        if allowed:
            raise ParameterError("out of range", file=where, column=name,
                                 value=value, expected=allowed)


def default_study() -> Path:
    """The demo study: ``data/demo`` of the source checkout this package runs from, or, for an
    installed package, the same synthetic study generated once into the user's cache folder
    (``$XDG_CACHE_HOME/spanalysis/demo``). Never the process's working folder."""
    here = Path(__file__).resolve().parents[2] / "data" / "demo"
    if (here / "study.yaml").is_file():
        return here
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "spanalysis"
    folder = cache / "demo"
    if not (folder / "study.yaml").is_file():
        from spanalysis import demo

        demo.generate(folder)
    return folder


#: the study last opened in this process: (folder, state of its files, the loaded study)
_OPENED: dict = {}


def _files_state(folder: Path, outside: Iterable[Path] = ()) -> tuple:
    """Every file of a study folder (and the declared inputs outside it) as
    ``(path, size, modification time)``: changes when any file is written."""
    state = []
    for path in sorted([p for p in folder.rglob("*") if p.is_file()] + list(outside)):
        try:
            st = path.stat()
        except OSError:
            st = None
        state.append((str(path), st and st.st_size, st and st.st_mtime_ns))
    return tuple(state)


def _opened(folder, load):
    """``load(folder)``, read and validated once per process while the folder's files are
    unchanged (a worker renders many site reports of one study on one warm kernel). Each
    call gets its own :class:`~spanalysis.study.Study` with copies of the tables, so that
    nothing one notebook changes or computes reaches the next."""
    import copy

    from spanalysis.study.model import Study

    path = Path(folder).expanduser().resolve()
    kept = _OPENED.get(path)
    if kept is None or _files_state(path, kept[1]) != kept[2]:
        _OPENED.clear()                                  # one study kept at a time
        study = load(folder)
        outside = [p for _, p, _ in study.input_files() if not p.resolve().is_relative_to(path)]
        _OPENED[path] = kept = (study, outside, _files_state(path, outside))
    study = kept[0]

    def mine(frame):
        return None if frame is None else frame.copy()

    return Study(study.manifest, mine(study.participants), mine(study.responses),
                 mine(study.service_use), study.instruments, list(study.issues),
                 copy.deepcopy(study.qualitative), study.partial_responses)


def open_study(namespace: Mapping[str, Any], notebook: str = "notebook"):
    """Check a report notebook's parameters and open its study: the first call of every
    report notebook, right after its parameters cell.

    ``namespace`` is the notebook's ``globals()``. Refused with one line naming the parameter,
    the value and what is allowed (:class:`ParameterError`): a name papermill was given that
    the parameters cell does not declare (papermill itself only logs it), a value of another
    type than the cell's annotation, a value outside :data:`RULES`, a ``site`` that is not one
    of the study's (``""`` in a site report means its first site), an ``instruments`` or
    ``coder`` the study does not have, a ``pre`` or ``post`` that is not one of its time
    points. ``study = ""`` is the demo (:func:`default_study`); a
    relative path is taken from the working folder, as on a command line.

    Returns the whole :class:`~spanalysis.study.Study`; ``site`` is set in ``namespace`` when
    it was left empty. Figures drawn after it use the report style
    (:func:`spanalysis.plotting.use_report_style`), and tables shown after it name the time
    points by their labels (:func:`spanalysis.report.display.use_timepoint_labels`).
    """
    from spanalysis.study import load_study

    site_report = notebook.removesuffix(".ipynb") == "site_report"
    notebook = notebook if notebook.endswith(".ipynb") else notebook + ".ipynb"
    declared, injected = _cells(namespace)
    unknown = sorted(set(injected) - set(declared)) if declared else []
    if unknown:
        raise ParameterError("not a parameter of this notebook", file=notebook, column=unknown[0],
                             value=namespace.get(unknown[0]),
                             expected="one of " + ", ".join(declared))
    # outside a history-keeping kernel (nbval runs cells without history) the cell is not
    # known: then only the values of RULES' names that hold a simple value are checked
    names = declared or {n: None for n in RULES
                         if isinstance(namespace.get(n), (str, int, float, bool))}
    check_values({n: namespace[n] for n in names if n in namespace},
                 {n: (a if a in _SIMPLE_TYPES else None) for n, a in names.items()},
                 where=notebook)
    folder = namespace.get("study") or default_study()
    study = _opened(folder, load_study)
    from spanalysis import plotting
    from spanalysis.report import display

    plotting.use_report_style()   # the colour-blind-safe palette and legible sizes
    display.use_timepoint_labels(study)   # tables name time points by their labels
    site = namespace.get("site")
    if site == "" and study.sites:
        namespace["site"] = site = study.sites[0]    # type: ignore[index]
    if site is not None and site not in study.sites and (site != WHOLE_STUDY or site_report):
        raise ParameterError("not a site of this study", file=notebook, column="site", value=site,
                             expected="one of " + ", ".join(study.sites)
                                      + ("" if site_report else " or 'all'"))
    wanted = namespace.get("instruments")
    if isinstance(wanted, str) and wanted != "all":
        for name in (w.strip() for w in wanted.split(",")):
            if name not in study.instruments:
                raise ParameterError("not an instrument of this study", file=notebook, column="instruments",
                                     value=name, expected="'all' or a comma-separated list of "
                                     + ", ".join(study.instruments))
    for name, which in (("pre", "the first"), ("post", "the last")):
        value = namespace.get(name)
        if isinstance(value, str) and value and value not in study.timepoints:
            raise ParameterError("not a time point of this study", file=notebook, column=name,
                                 value=value, expected=f"'' ({which}) or one of "
                                 + ", ".join(study.timepoints))
    coder = namespace.get("coder")
    if isinstance(coder, str) and coder != "all":
        coders = study.qualitative.coders if study.qualitative is not None else []
        if coder not in coders:
            raise ParameterError("not a coder of this study", file=notebook, column="coder", value=coder,
                                 expected="'all' or one of " + (", ".join(coders) or "(none)"))
    return study
