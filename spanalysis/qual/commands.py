"""``spanalysis qual import``: a REFI-QDA project (``.qdpx`` or bare ``.qde``) written as a
study's qualitative folder, so ``study.yaml`` can point ``files.qualitative`` at it::

    OUT/
      codebook.yaml      codes (read_codebook's format)
      sources.csv        source_id, source_name, source_type, participant_id, site, date, path
      sources/*.txt      one UTF-8 text per source, exactly as read from the project
      segments.csv       segment_id, source_id, coder, code_id, start, end, text

Text read back from a project is written as it is: the CSV files here are study inputs, not
spreadsheet outputs, so no cell is formula-escaped (an apostrophe before ``=`` would change
a code name, and a segment's text would no longer equal its source's slice). The folder is
written beside its final place and renamed into it, so an import that fails leaves no half
folder; an existing folder is replaced only when it holds nothing but what an import writes.

Command line (``spanalysis qual import FILE --out DIR [--texts DIR] [--participants FILE]``):
:func:`add_import_arguments` declares the options and :func:`run_import` runs them.
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
import sys
import warnings
from pathlib import Path

import pandas as pd

from spanalysis.errors import InputError, Issue
from spanalysis.io import atomic_write, read_table
from spanalysis.qual.codebook import write_codebook
from spanalysis.qual.refi import RefiQdaWarning, read_qdpx
from spanalysis.qual.refi_links import warn_list
from spanalysis.qual.segments import SEGMENT_COLUMNS, SOURCE_COLUMNS

__all__ = ["qual_import", "study_tables", "write_qualitative_folder", "STUDY_FILES",
           "add_import_arguments", "run_import"]

#: What :func:`qual_import` writes into its folder.
STUDY_FILES = ("codebook.yaml", "sources.csv", "segments.csv", "sources")
#: The coder given to a coding whose project names no coder (segments.csv needs one).
UNKNOWN_CODER = "unknown"
_RESERVED = re.compile(r"(con|prn|aux|nul|com\d|lpt\d)(\..*)?", re.I)  # Windows device names


def qual_import(file: str | os.PathLike, out_dir: str | os.PathLike, *,
                texts: str | os.PathLike | None = None, participants=None,
                offsets: str = "auto") -> int:
    """Read a REFI-QDA project and write it as a study's qualitative folder.

    Parameters
    ----------
    file : str or path-like
        The ``.qdpx`` archive or bare ``.qde`` XML (NVivo, ATLAS.ti, MAXQDA, QualCoder,
        spanalysis).
    out_dir : str or path-like
        The folder to write (see the module docstring). Created if missing; an existing one
        is replaced only if it holds nothing but a previous import's files.
    texts : str or path-like, optional
        A folder of ``.txt`` files, named after the sources, for sources the project holds
        no text for (see :func:`~spanalysis.qual.refi.read_qdpx`).
    participants : path, DataFrame or iterable of str, optional
        The study's participants file (or table, with ``participant_id`` and optionally
        ``site``) or their ids: cases are matched to them by name or variable value, and a
        source's site is its participant's.
    offsets : {'auto', 'characters', 'utf16'}
        As :func:`~spanalysis.qual.refi.read_qdpx`.

    Returns
    -------
    int
        0. A summary line goes to standard output, each warning to standard error.

    Raises
    ------
    InputError, ValidationError
        The project cannot be read safely or has bad content (file, element, value named),
        the participants file lacks ``participant_id``, or ``out_dir`` is a file or a folder
        holding other files.
    """
    out = Path(out_dir)
    _check_out(out)
    ids, site_of = _participants(participants)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RefiQdaWarning)  # printed below, once each
        project = read_qdpx(file, texts=texts, participant_ids=ids, offsets=offsets)
    tables = study_tables(project, site_of)
    write_qualitative_folder(out, tables)
    src = tables["sources"]
    kinds = src["source_type"].value_counts()
    kinds_text = ", ".join(f"{kinds[k]} {k}" for k in ("interview", "observation", "document")
                           if k in kinds) or "none"
    print(f"imported {len(src)} sources ({kinds_text}), {len(tables['segments'])} coded "
          f"segments and {len(tables['codebook'])} codes from {Path(file).name} to {out}; "
          f"{int(src['participant_id'].notna().sum())} sources linked to participants. "
          f"In study.yaml: files: qualitative: {{codebook: {out.name}/codebook.yaml, "
          f"sources: {out.name}/sources.csv, segments: {out.name}/segments.csv}}")
    for issue in list(project["warnings"]) + tables["warnings"]:
        print(f"warning: {issue}", file=sys.stderr)
    return 0


def _participants(participants) -> tuple[list[str] | None, dict[str, str]]:
    """The participant ids and each one's site, from a file, a table or a list of ids."""
    if participants is None:
        return None, {}
    if isinstance(participants, (str, os.PathLike)):
        path = Path(participants)
        frame = read_table(path, label=path.name, text_columns=["participant_id", "site"]).frame
        label = path.name
    elif isinstance(participants, pd.DataFrame):
        frame, label = participants, "participants"
    else:
        return [str(p) for p in participants], {}
    if "participant_id" not in frame.columns:
        raise InputError("the participants table has no participant_id column", file=label,
                         row=1, column="participant_id",
                         expected="a participants file with a participant_id column")
    ids = frame["participant_id"].dropna().astype(str).str.strip()
    site_of = {}
    if "site" in frame.columns:
        keep = frame["participant_id"].notna() & frame["site"].notna()
        site_of = dict(zip(frame.loc[keep, "participant_id"].astype(str).str.strip(),
                           frame.loc[keep, "site"].astype(str).str.strip()))
    return ids.tolist(), site_of


def study_tables(project: dict, site_of: dict[str, str] | None = None) -> dict:
    """A project (as :func:`~spanalysis.qual.refi.read_qdpx` returns it) as the study's
    qualitative tables: ``codebook``, ``sources`` (study columns, ``path`` under
    ``sources/``), ``segments`` (study columns), ``texts`` (``path -> text``) and
    ``warnings`` (:class:`~spanalysis.errors.Issue` list).

    A source's site is its participant's in ``site_of``; failing that, the source's own
    ``site``; failing that, a ``site`` variable of the source's case. A coding with no coder gets :data:`UNKNOWN_CODER` (and a
    warning)."""
    src = project["sources"]
    issues: list[Issue] = []
    cases, variables = project["cases"], project["variables"]
    case_of = cases.dropna(subset=["source_id"]).drop_duplicates("source_id") \
        .set_index("source_id")["case"]
    site_var = variables[variables["variable"].str.strip().str.lower() == "site"] \
        .drop_duplicates("case").set_index("case")["value"]
    pid = src["participant_id"]
    site = (pid.map(site_of) if site_of else pd.Series(None, index=src.index, dtype="str"))
    site = site.fillna(src["site"]).fillna(src["source_id"].map(case_of).map(site_var))
    paths = _file_names(src["source_name"].tolist(), src["source_id"].tolist())
    sources = pd.DataFrame({"source_id": src["source_id"], "source_name": src["source_name"],
                            "source_type": src["source_type"], "participant_id": pid,
                            "site": site, "date": None, "path": paths})[SOURCE_COLUMNS]
    alone = sources["source_type"].eq("interview") & sources["participant_id"].isna()
    if alone.any():
        issues.append(Issue("warning", f"{int(alone.sum())} interview(s) are linked to no "
                            "participant, which the study's validation refuses: " +
                            warn_list(sources.loc[alone, "source_name"]), file="sources.csv",
                            column="participant_id", expected="cases named after participant "
                            "ids, or --participants to match cases by name or variable"))
    segments = project["segments"][SEGMENT_COLUMNS].copy()
    no_coder = segments["coder"].isna() | (segments["coder"].astype(str).str.strip() == "")
    if no_coder.any():
        segments.loc[no_coder, "coder"] = UNKNOWN_CODER
        issues.append(Issue("warning", f"{int(no_coder.sum())} coding(s) name no coder and "
                            f"were given the coder {UNKNOWN_CODER!r}", file="segments.csv",
                            column="coder", expected="a creatingUser on every Coding"))
    return {"codebook": project["codebook"], "sources": sources, "segments": segments,
            "texts": dict(zip(paths, src["text"])), "warnings": issues}


def _file_names(names: list[str], ids: list[str]) -> list[str]:
    """``sources/<name>.txt`` per source: the name with characters that file systems refuse
    replaced by ``_``, distinct ignoring case (``Interview 3 (2).txt`` for a second one)."""
    used: set[str] = set()
    out = []
    for name, sid in zip(names, ids):
        base = re.sub(r"[^\w\-+=@ .,()&'#]+", "_", str(name)).strip(" ._")[:80] or \
            re.sub(r"[^\w\-]+", "_", str(sid))
        if _RESERVED.fullmatch(base):
            base += "_"
        candidate, k = base, 2
        while candidate.casefold() in used:
            candidate, k = f"{base} ({k})", k + 1
        used.add(candidate.casefold())
        out.append(f"sources/{candidate}.txt")
    return out


def _check_out(out: Path) -> None:
    """Refuse an output that is a file or a link, or a folder holding anything other than a
    previous import's files."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise InputError("the output must be a folder", file=str(out), column="--out",
                         value=str(out), expected="a folder (created if missing)")
    if not out.exists():
        return
    for entry in sorted(out.iterdir()):
        ok = entry.name in STUDY_FILES[:3] and entry.is_file() and not entry.is_symlink()
        if entry.name == "sources" and entry.is_dir() and not entry.is_symlink():
            ok = all(p.is_file() and not p.is_symlink() and p.suffix.lower() == ".txt"
                     for p in entry.iterdir())
        if not ok:
            raise InputError("the output folder holds files an import does not write, so "
                             "it is not replaced", file=str(out), column="--out",
                             value=entry.name, expected="a new or empty folder, or one "
                             "holding only a previous import (codebook.yaml, sources.csv, "
                             "segments.csv, sources/*.txt)")


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    """CSV as the study loader reads it, every cell as it is (no formula escaping)."""
    with atomic_write(path, newline="") as handle:
        frame.to_csv(handle, index=False)


def write_qualitative_folder(out: str | os.PathLike, tables: dict) -> Path:
    """Write :func:`study_tables`' tables as a qualitative folder: built beside ``out``,
    then renamed onto it (an existing folder is replaced only after the new one is
    complete)."""
    out = Path(out)
    _check_out(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(6)
    tmp = out.with_name(f".{out.name}.{token}.part")
    old = out.with_name(f".{out.name}.{token}.old")
    tmp.mkdir()
    try:
        write_codebook(tables["codebook"], tmp / "codebook.yaml")
        _write_csv(tables["sources"], tmp / "sources.csv")
        _write_csv(tables["segments"], tmp / "segments.csv")
        (tmp / "sources").mkdir()
        for rel, text in tables["texts"].items():  # one file per source: I/O
            with atomic_write(tmp / rel, mode="wb") as handle:
                handle.write(str(text).encode("utf-8"))
        if out.exists():
            os.replace(out, old)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not out.exists():
            os.replace(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return out


def add_import_arguments(parser) -> None:
    """The arguments of ``spanalysis qual import`` on an :mod:`argparse` parser."""
    parser.add_argument("file", help="the REFI-QDA project (.qdpx, or a bare .qde XML file)")
    parser.add_argument("--out", required=True,
                        help="folder to write: codebook.yaml, sources.csv, sources/*.txt, "
                             "segments.csv (the study's qualitative format)")
    parser.add_argument("--texts", default=None, metavar="DIR",
                        help="folder of .txt files named after the sources, for sources the "
                             "project holds no text for (e.g. ATLAS.ti exports)")
    parser.add_argument("--participants", default=None, metavar="FILE",
                        help="the study's participants file: cases are linked to participants "
                             "by name or variable value, sources get their sites")
    parser.add_argument("--offsets", choices=("auto", "characters", "utf16"), default="auto",
                        help="how selection positions are counted (default auto)")


def run_import(args) -> int:
    """Run ``spanalysis qual import`` from parsed :func:`add_import_arguments`."""
    return qual_import(args.file, args.out, texts=args.texts,
                       participants=args.participants, offsets=args.offsets)
