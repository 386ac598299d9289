"""Command functions for the qualitative engine (wired into the ``spanalysis`` CLI).

Each function takes plain arguments, prints a one-line summary (plus a table where that is
the point of the command), returns an exit status (0 = success) and raises a
:class:`~spanalysis.errors.SpanalysisError` subclass for a user's mistake, which the CLI turns
into exit status 2 with a message and no traceback.

``spanalysis qual import FILE --out DIR``   -> :func:`qual_import`
``spanalysis qual export STUDY --out FILE`` -> :func:`qual_export`
``spanalysis agreement STUDY [--unit sentence|source] [--coders A,B] [--out FILE]``
                                            -> :func:`agreement`

Nothing here writes into a study folder (spanalysis only reads studies); outputs are written
atomically (temporary file beside the target, then :func:`os.replace`).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from spanalysis.errors import InputError
from spanalysis.io import write_table
from spanalysis.qual.material import require_qualitative

__all__ = ["qual_import", "qual_export", "agreement", "IMPORT_FILES"]

#: Files written by :func:`qual_import`, in the order written.
IMPORT_FILES = ("codebook.csv", "segments.csv", "sources.csv", "cases.csv", "variables.csv")


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def _refuse_inside_study(out: Path, study_path) -> None:
    """An output path inside the study folder is refused: spanalysis only reads studies."""
    folder = Path(study_path)
    folder = folder.parent if folder.is_file() else folder
    if _inside(out, folder):
        raise InputError("the output would be written inside the study folder, which "
                         "spanalysis only reads", file=str(out), column="--out",
                         value=str(out), expected="a path outside " + str(folder))


def refuse_output_in_study(out: str | os.PathLike, study_path: str | os.PathLike) -> None:
    """Refuse an output path that would change the study: one inside the study folder
    (symbolic links followed), or one that is an input file of the study kept elsewhere (a
    custom instrument definition named in ``study.yaml``). Called before anything is
    loaded or written; a ``study.yaml`` that cannot be read is left for the loader to
    report."""
    from spanalysis.errors import SpanalysisError
    from spanalysis.study import read_manifest

    out = Path(out)
    _refuse_inside_study(out, study_path)
    try:
        manifest = read_manifest(study_path)
    except SpanalysisError:
        return
    inputs = [spec.path for spec in manifest.files()] + list(manifest.custom_instruments)
    target = out.resolve()
    for path in inputs:
        if Path(path).resolve() == target:
            raise InputError("the output would overwrite an input file of the study",
                             file=str(out), column="--out", value=str(out),
                             expected="a new file outside the study and its inputs")


def _codebook_table(codebook: pd.DataFrame) -> pd.DataFrame:
    """Codebook as a flat table: keywords joined with '; ' (a CSV cell holds no list)."""
    out = codebook.copy()
    if "keywords" in out.columns:
        out["keywords"] = out["keywords"].map(
            lambda k: "; ".join(map(str, k)) if isinstance(k, (list, tuple, np.ndarray))
            else ("" if k is None or (isinstance(k, float) and np.isnan(k)) else str(k)))
    return out


def qual_import(file: str | os.PathLike, out_dir: str | os.PathLike) -> int:
    """Read a REFI-QDA project (``.qdpx``) and write its tables as CSV files.

    Parameters
    ----------
    file : str or path-like
        The ``.qdpx`` archive (from NVivo, ATLAS.ti, MAXQDA, QualCoder or spanalysis).
    out_dir : str or path-like
        Folder for the output (created if needed): ``codebook.csv``, ``segments.csv``
        (``segment_id, source_id, source_name, case, code_id, code_name, coder, start, end,
        text``), ``sources.csv`` (``source_id, source_name, text``), ``cases.csv`` and
        ``variables.csv``. Existing files of these names are replaced.

    Returns
    -------
    int
        0.

    Raises
    ------
    InputError
        The project cannot be read safely (see :func:`~spanalysis.qual.refi.read_qdpx`), or
        ``out_dir`` is a file.

    Notes
    -----
    Files are written with :func:`spanalysis.io.write_table`: UTF-8, atomically, and text
    cells that a spreadsheet would run as a formula (starting ``=``, ``+``, ``-``, ``@``)
    are prefixed with an apostrophe. Codebook keywords are joined with ``"; "``.
    """
    from spanalysis.qual.refi import read_qdpx

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError("the output must be a folder", file=str(out), column="--out",
                         value=str(out), expected="a folder (it is created if missing)")
    project = read_qdpx(file)
    out.mkdir(parents=True, exist_ok=True)
    tables = {"codebook.csv": _codebook_table(project["codebook"]),
              "segments.csv": project["segments"], "sources.csv": project["sources"],
              "cases.csv": project["cases"], "variables.csv": project["variables"]}
    for name in IMPORT_FILES:
        write_table(tables[name], out / name)
    print(f"imported {len(project['sources'])} sources, {len(project['segments'])} coded "
          f"segments, {len(project['codebook'])} codes and {project['cases']['case'].nunique()}"
          f" cases from {Path(file).name} to {out}")
    return 0


def _variable_type(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "Boolean"
    if pd.api.types.is_integer_dtype(series):
        return "Integer"
    if pd.api.types.is_float_dtype(series):
        values = series.dropna()
        return "Integer" if len(values) and (values == values.round()).all() else "Float"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "Date"
    return "Text"


def _cases_and_variables(qual, participants: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One case per interviewed participant, linked to their interviews; their attributes
    from the participants file become case variables."""
    src = qual.sources
    interviews = src[(src["source_type"] == "interview") & src["participant_id"].notna()]
    cases = pd.DataFrame({"case": interviews["participant_id"].astype(str),
                          "description": "", "source_id": interviews["source_id"]})
    people = participants[participants["participant_id"].isin(set(cases["case"]))]
    columns = [c for c in people.columns if c != "participant_id"]
    parts = []
    for col in columns:  # one pass per attribute column (few)
        vtype = _variable_type(people[col])
        values = people[col]
        keep = values.notna()
        if vtype == "Date":
            text = values[keep].dt.strftime("%Y-%m-%d")
        elif vtype == "Integer":
            text = values[keep].astype("int64").astype(str)
        elif vtype == "Boolean":
            text = values[keep].map({True: "true", False: "false"})
        else:
            text = values[keep].astype(str)
        parts.append(pd.DataFrame({"case": people.loc[keep, "participant_id"].astype(str),
                                   "variable": col, "value": text, "type": vtype}))
    variables = (pd.concat(parts, ignore_index=True) if parts
                 else pd.DataFrame(columns=["case", "variable", "value", "type"]))
    return cases.reset_index(drop=True), variables


def qual_export(study_path: str | os.PathLike, out_file: str | os.PathLike) -> int:
    """Write a study's codebook, sources, coded segments and cases as a REFI-QDA project.

    Parameters
    ----------
    study_path : str or path-like
        The study folder (``study.yaml``) with qualitative material.
    out_file : str or path-like
        The ``.qdpx`` file to write (outside the study folder, which spanalysis never
        writes into).

    Returns
    -------
    int
        0.

    Raises
    ------
    InputError, ValidationError
        The study does not load, has no qualitative material, or the output is not a
        ``.qdpx`` path outside the study folder.

    Notes
    -----
    Cases are the interviewed participants (case name = ``participant_id``), each linked to
    their interview sources; every other column of the participants file (site, age band,
    gender, ...) becomes a case variable, typed Integer, Float, Boolean, Date or Text from
    its column. Source and segment ids that are not GUIDs become deterministic GUIDs (see
    :func:`~spanalysis.qual.refi.write_qdpx`), so exporting twice gives identical files.
    """
    from spanalysis.qual.refi import write_qdpx
    from spanalysis.study import load_study

    out = Path(out_file)
    if out.suffix.lower() != ".qdpx":
        raise InputError("the output must be a .qdpx file", file=str(out), column="--out",
                         value=out.name, expected="a file name ending in .qdpx")
    refuse_output_in_study(out, study_path)
    study = load_study(study_path)
    qual = require_qualitative(study)
    cases, variables = _cases_and_variables(qual, study.participants)
    project = {"name": study.manifest.id,
               "codebook": qual.codebook, "sources": qual.sources,
               "segments": qual.segments, "cases": cases, "variables": variables}
    write_qdpx(project, out)
    print(f"exported {len(qual.sources)} sources, {len(qual.segments)} coded segments, "
          f"{len(qual.codebook)} codes and {cases['case'].nunique()} cases to {out}")
    return 0


def _format_agreement(table: pd.DataFrame) -> str:
    shown = table.copy()
    for col in shown.columns:
        if pd.api.types.is_float_dtype(shown[col]):
            digits = 1 if col.startswith("percent") else 3
            shown[col] = shown[col].map(
                lambda v, d=digits: "not estimable" if pd.isna(v) else f"{v:.{d}f}")
    return shown.to_string(index=False)


def agreement(study_path: str | os.PathLike, unit: str = "sentence",
              coders: Sequence[str] | str | None = None,
              out: str | os.PathLike | None = None) -> int:
    """Inter-coder agreement per code on a study's double-coded sources.

    Parameters
    ----------
    study_path : str or path-like
        The study folder.
    unit : {'sentence', 'source'}
        Unit of comparison (see :func:`~spanalysis.qual.agreement.coding_agreement`).
    coders : sequence of str or comma-separated str, optional
        Coders to compare (default: all; at least two).
    out : str or path-like, optional
        Also write the table to this ``.csv`` or ``.parquet`` file (outside the study
        folder).

    Returns
    -------
    int
        0.

    Notes
    -----
    Prints the table (percentages to one decimal, kappa and alpha to three; "not
    estimable" where a statistic is undefined) and a one-line summary. The table's columns are
    :data:`~spanalysis.qual.agreement.AGREEMENT_COLUMNS`; agreement over *coded* units
    leaves out units nobody coded, which would otherwise inflate agreement.
    """
    from spanalysis.qual.agreement import coding_agreement
    from spanalysis.study import load_study

    if isinstance(coders, str):
        coders = [c.strip() for c in coders.split(",") if c.strip()]
    if out is not None:
        out = Path(out)
        if out.suffix.lower() not in (".csv", ".parquet"):
            raise InputError("unsupported output type", file=str(out), column="--out",
                             value=out.suffix or "(none)", expected=".csv or .parquet")
        refuse_output_in_study(out, study_path)
    study = load_study(study_path)
    qual = require_qualitative(study)
    if coders is not None:
        unknown = [c for c in coders if c not in set(qual.coders)]
        if unknown:
            raise InputError("unknown coder", column="--coders", value=unknown[0],
                             expected="one of " + ", ".join(qual.coders))
    table = coding_agreement(qual.segments, qual.sources, unit=unit, coders=coders)
    print(_format_agreement(table))
    if out is not None:
        write_table(table, out)
    compared = list(coders) if coders is not None else qual.coders
    units = int(table["units_compared"].iloc[0]) if len(table) else 0
    alpha = table["krippendorff_alpha_all"]
    coded = table["percent_agreement_coded"]
    median_alpha = f"{alpha.median():.3f}" if alpha.notna().any() else "not estimable"
    median_coded = f"{coded.median():.1f}%" if coded.notna().any() else "undefined"
    print(f"agreement of {', '.join(compared)} on {len(table)} codes over {units} {unit}s: "
          f"median Krippendorff's alpha {median_alpha}, median agreement on coded units "
          f"{median_coded}" + (f"; table written to {out}" if out is not None else ""))
    return 0
