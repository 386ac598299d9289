"""What a rendered report depends on: the study's input files and spanalysis's code, by SHA-256.

:func:`study_fingerprint` names one state of a study folder and of the code; the report
runner puts it into every report's fingerprint (:mod:`spanalysis.report.jobs`), so a report is
rendered again when any input file or the code changed, and is otherwise left as it is.
The input files and their SHA-256 are also listed in each report's provenance footer.
"""
from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

__all__ = ["file_sha256", "input_files", "study_fingerprint", "code_digest"]


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of one file (hex), read in blocks."""
    with open(path, "rb") as handle:     # streamed in blocks, never read whole
        return hashlib.file_digest(handle, "sha256").hexdigest()


def input_files(study_path: str | os.PathLike) -> list[tuple[str, Path]]:
    """Every file a study's results can depend on: ``(name, path)`` pairs, sorted by name.

    That is every regular, non-hidden file under the study folder (``study.yaml``, the data
    files it names, qualitative transcripts referred to by ``sources.csv``, ...), named by its
    path relative to the folder with ``/`` separators, plus custom instrument definitions
    that ``study.yaml`` names outside the folder (named by their absolute path). Hashing the
    whole folder rather than only the files ``study.yaml`` lists means a transcript edited in
    place also counts as a change.
    """
    root = Path(study_path).resolve()
    found: dict[str, Path] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if name.startswith("."):
                continue
            path = Path(dirpath) / name
            if path.is_file():
                found[path.relative_to(root).as_posix()] = path
    try:
        from spanalysis.study.manifest import read_manifest

        extra = read_manifest(root).custom_instruments
    except Exception:       # an invalid manifest is reported by load_study, not here
        extra = []
    for path in extra:
        path = Path(path).resolve()
        if not path.is_relative_to(root) and path.is_file():
            found[str(path)] = path
    return sorted(found.items())


@functools.lru_cache(maxsize=1)
def code_digest() -> str:
    """SHA-256 over spanalysis's version and the source of its modules and data files.

    The version alone would not notice a change of code between releases (during development
    the version stays the same), so the installed package's ``*.py``, ``*.yaml``, ``*.csv``
    and template files are hashed too (about 50 small files, a few milliseconds).
    """
    from spanalysis.version import __version__

    root = Path(__file__).resolve().parents[1]  # the installed package
    digest = hashlib.sha256(f"spanalysis {__version__}\n".encode())
    files = sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                   and p.suffix in (".py", ".yaml", ".csv", ".txt", ".j2", ".tpl", ".css",
                                    ".json", ".xsd"))
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(file_sha256(path).encode() + b"\n")
    return digest.hexdigest()


def study_fingerprint(study_path: str | os.PathLike) -> dict:
    """What a rendered report depends on.

    Returns
    -------
    dict
        ``study`` (absolute folder), ``files`` ({name: SHA-256} for :func:`input_files`),
        ``code`` (:func:`code_digest`) and ``key``: SHA-256 of the other three, which names
        this state of study and code.
    """
    root = Path(study_path).resolve()
    files = {name: file_sha256(path) for name, path in input_files(root)}
    code = code_digest()
    blob = "\n".join([str(root), code] + [f"{n}\t{h}" for n, h in files.items()])
    return {"study": str(root), "files": files, "code": code,
            "key": hashlib.sha256(blob.encode("utf-8")).hexdigest()}
