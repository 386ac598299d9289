"""A loaded study, cached once per report run and reused by every notebook kernel.

Loading the demo study (reading, validating, scoring) takes about 1.1 s; a batch of site
reports would otherwise repeat it in every kernel. ``spanalysis report`` therefore loads and
scores the study once, pickles the :class:`~spanalysis.study.Study` (with its ``scores``,
``scale_info`` and ``item_info`` already computed) into a private temporary folder, and points
the environment variable :data:`ENV_VAR` at it. In each kernel :func:`load_study` (installed
over :func:`spanalysis.study.load_study` by :func:`install`) returns the cached study when the
cache matches, and otherwise loads the study as usual.

A cache matches when

* it was written by the same spanalysis version and source code (:func:`code_digest`),
* it is for the same study folder, and
* every input file (:func:`input_files`) still has the SHA-256 recorded in the cache.

Anything else (missing file, unreadable or truncated pickle, other version, a data file edited
since the cache was written) means the cache is ignored and the study is loaded and scored
again: a cache can make a report faster, never different.

Security: a pickle runs code when loaded. The cache is only ever read from a folder this
process (or the report command that started it) created with ``tempfile.mkdtemp`` (mode 0700);
never point :data:`ENV_VAR` at a file you did not create.
"""
from __future__ import annotations

import functools
import hashlib
import os
import pickle
import warnings
from pathlib import Path

__all__ = ["ENV_VAR", "CACHE_FORMAT", "input_files", "study_fingerprint", "code_digest",
           "write_cache", "read_cache", "load_study", "install"]

#: environment variable naming the cache file a kernel should reuse
ENV_VAR = "SPANALYSIS_STUDY_CACHE"
#: bumped when the layout of the cache file changes
CACHE_FORMAT = 1
_MAGIC = b"spanalysis-study-cache\n"


def _sha256(path: Path) -> str:
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
        digest.update(_sha256(path).encode() + b"\n")
    return digest.hexdigest()


def study_fingerprint(study_path: str | os.PathLike) -> dict:
    """What a cached study (and a rendered report) depends on.

    Returns
    -------
    dict
        ``study`` (absolute folder), ``files`` ({name: SHA-256} for :func:`input_files`),
        ``code`` (:func:`code_digest`) and ``key``: SHA-256 of the other three, which names
        this state of study and code.
    """
    root = Path(study_path).resolve()
    files = {name: _sha256(path) for name, path in input_files(root)}
    code = code_digest()
    blob = "\n".join([str(root), code] + [f"{n}\t{h}" for n, h in files.items()])
    return {"study": str(root), "files": files, "code": code,
            "key": hashlib.sha256(blob.encode("utf-8")).hexdigest()}


def write_cache(study, path: str | os.PathLike, fingerprint: dict | None = None) -> Path:
    """Pickle ``study`` (scores, scale and item tables computed first) to ``path``, atomically.

    Parameters
    ----------
    study : Study
        A loaded study (:func:`spanalysis.study.load_study`).
    path : path
        File to write; its folder must exist and should be private (``tempfile.mkdtemp``).
    fingerprint : dict, optional
        :func:`study_fingerprint` of the study folder, if already computed.

    Returns
    -------
    Path
    """
    from spanalysis.io import atomic_write

    fingerprint = fingerprint or study_fingerprint(study.path)
    # computed here, once, so that every kernel gets them with the study
    study.scores, study.scale_info, study.item_info   # noqa: B018 (cached_property)
    header = {"format": CACHE_FORMAT, "key": fingerprint["key"], "study": fingerprint["study"]}
    with atomic_write(path, mode="wb") as handle:
        handle.write(_MAGIC)
        pickle.dump(header, handle, protocol=pickle.HIGHEST_PROTOCOL)
        pickle.dump(study, handle, protocol=pickle.HIGHEST_PROTOCOL)
    return Path(path)


def read_cache(path: str | os.PathLike, study_path: str | os.PathLike):
    """The cached study at ``path`` if it matches the study folder now, else ``None``.

    Never raises for a bad cache: a missing, truncated or foreign file, another format or
    version, or changed input files all give ``None`` (with a :class:`RuntimeWarning`
    naming the reason, except for a missing file).
    """
    path = Path(path)
    if not path.is_file():
        return None
    try:
        with open(path, "rb") as handle:
            if handle.read(len(_MAGIC)) != _MAGIC:
                raise ValueError("not a spanalysis study cache")
            header = pickle.load(handle)
            if not isinstance(header, dict) or header.get("format") != CACHE_FORMAT:
                raise ValueError("cache written by another version of spanalysis")
            if header.get("study") != str(Path(study_path).resolve()):
                raise ValueError("cache is for another study folder")
            if header.get("key") != study_fingerprint(study_path)["key"]:
                raise ValueError("study files or spanalysis changed since the cache was written")
            study = pickle.load(handle)
    except Exception as exc:     # noqa: BLE001 - any failure means "recompute"
        warnings.warn(f"ignoring the study cache {path.name}: {exc}", RuntimeWarning,
                      stacklevel=2)
        return None
    return study


def load_study(path: str | os.PathLike):
    """:func:`spanalysis.study.load_study`, reusing the run's cache when it matches.

    With :data:`ENV_VAR` unset this is exactly :func:`spanalysis.study.load_study`.
    """
    from spanalysis import study as _study

    cached = os.environ.get(ENV_VAR)
    if cached:
        study = read_cache(cached, path)
        if study is not None:
            return study
    return _original_load_study(path)


def _original_load_study(path):
    from spanalysis import study as _study

    return getattr(_study, "_uncached_load_study", _study.load_study)(path)


def install() -> None:
    """Make ``spanalysis.load_study`` and ``spanalysis.study.load_study`` use the cache.

    Called by a hidden first cell that ``spanalysis report`` adds to each notebook it runs,
    so the notebooks themselves stay unchanged (``from spanalysis import load_study`` then
    finds the caching version). Calling it again does nothing.
    """
    from spanalysis import study as _study

    if getattr(_study, "_uncached_load_study", None) is None:
        _study._uncached_load_study = _study.load_study
        _study.load_study = load_study
