"""Turning a study into HTML reports: papermill runs the notebooks, nbconvert renders them.

``build_reports(study, out)`` (the ``spanalysis report`` command) does, in order:

1. **Checks, before anything runs.** The study is loaded and validated (a study with errors
   produces no report: exit status 2); the sites asked for must be sites of the study; the
   Jupyter kernel must be installed; every notebook's parameters are checked against what
   ``papermill.inspect_notebook`` reports (unknown names refused, since papermill itself only
   logs them; values of the declared type; ``site`` one of the study's sites or ``"all"``).
2. **Shared work once.** The study loaded in step 1 is scored and pickled into a private
   temporary folder (:mod:`spanalysis.report.cache`); every kernel reuses it through the environment
   variable ``SPANALYSIS_STUDY_CACHE`` instead of reading and scoring the files again.
3. **Incremental.** Each report's fingerprint (SHA-256 of the notebook, its parameters, every
   input file, the spanalysis code and the kernel name) is stored beside it after a
   successful render; a report whose fingerprint is unchanged is skipped unless ``force``.
4. **Execution** in worker *processes* (papermill changes the working directory, so threads
   are unsafe): a local ``spawn`` process pool, or a Dask distributed cluster with
   ``scheduler=ADDRESS``. Each job runs its notebook with the papermill Python API on the
   named kernel, retries kernel-start failures (papermill issue #511: "ZMQError: Address
   already in use", "Kernel died before replying to kernel_info"), stops at a time limit
   per report, and renders in-process with a reused nbconvert exporter
   (:func:`spanalysis.report.render.notebook_to_html`). A failing report does not stop the others.
5. **Index.** ``index.html`` lists every report with its status (a failure with its cell and
   message) and, per site, headline figures read from the small JSON summaries the
   notebooks write, with disclosure control (:mod:`spanalysis.privacy.disclosure`).

Every file is written to a temporary name in the same folder and renamed, so an interrupted
run never leaves a half-written report, and a rerun resumes where it stopped.

Layout of ``out``::

    index.html, index.json        every report with its status
    study/<notebook>.html         the whole-study reports (notebooks 01-04 present)
    sites/<site-slug>.html        one compact report per site (notebooks/site_report.ipynb)
    */<name>.ipynb                the executed notebook (for analysts)
    */<name>.log                  timing, kernel start attempts, kernel messages, errors
    */<name>.summary.json         headline figures the notebook wrote (for the index)
    */<name>.run.json             fingerprint of the last successful render

The module also holds the small, tested helpers the site report notebook uses to show
themes and the joint display (:func:`site_themes`, :func:`joint_display_html`,
:func:`quote_html`), so that no logic lives in a notebook cell.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import html
import json
import os
import re
import secrets
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping
from urllib.parse import quote as _url_quote

from spanalysis.errors import InputError, SpanalysisError, ValidationError
from spanalysis.io import atomic_write
from spanalysis.report.kernel import KERNEL_NAME, check_kernel

__all__ = ["ReportJob", "ReportResult", "BuildResult", "RunSettings", "build_reports",
           "check_parameters", "coerce_parameter", "declared_type", "plan_jobs", "run_job", "write_index",
           "site_slug", "site_themes", "joint_display_html", "quote_html",
           "is_kernel_start_failure", "NOTEBOOKS_DIR", "STUDY_NOTEBOOKS", "SITE_NOTEBOOK",
           "KERNEL_START_ATTEMPTS"]

NOTEBOOKS_DIR = Path(__file__).resolve().parents[2] / "notebooks"
#: the study-level notebooks, in reading order; those not present are skipped
STUDY_NOTEBOOKS = ["01_data_quality", "02_outcome_change", "03_qualitative_benefits",
                   "04_integration"]
#: the per-site notebook (in ``notebooks_dir``)
SITE_NOTEBOOK = "site_report"
#: kernel start attempts per report (papermill issue #511: ~1 in 200 starts fail under load)
KERNEL_START_ATTEMPTS = 3
#: tag of the hidden cell the runner adds to reuse the cached study
CACHE_CELL_TAG = "spanalysis-cache"
_SIMPLE_TYPES = {"str": str, "int": int, "float": float, "bool": bool}
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


# =============================================================================================
# Jobs and results
# =============================================================================================

@dataclass
class ReportJob:
    """One notebook to run and render. Paths are absolute."""

    name: str                 # file stem: "01_data_quality", "riverside-pcn"
    kind: str                 # "study" or "site"
    title: str
    notebook: Path
    parameters: dict
    html: Path
    executed: Path
    log: Path
    summary: Path
    record: Path              # <name>.run.json: fingerprint of the last successful render
    site: str | None = None
    subtitle: str | None = None
    fingerprint: str = ""
    inputs: list = field(default_factory=list)    # [{path (relative), sha256, bytes}]


@dataclass
class ReportResult:
    """What happened to one report (``status``: "ok", "failed" or "skipped")."""

    name: str
    kind: str
    title: str
    html: str                 # relative to the output folder
    status: str
    site: str | None = None
    seconds: float = 0.0
    attempts: int = 0
    error: str | None = None
    cell: int | None = None          # 1-based position of the failing cell in the notebook
    cell_source: str | None = None   # its first line
    log: str | None = None
    summary: dict | None = None


@dataclass
class BuildResult:
    out: Path
    results: list[ReportResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(r.status != "failed" for r in self.results)

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)


@dataclass
class RunSettings:
    """How a worker runs a job (picklable, sent with every job)."""

    kernel: str = KERNEL_NAME
    timeout: float = 600.0            # seconds per report, kernel start included
    attempts: int = KERNEL_START_ATTEMPTS
    start_timeout: float = 60.0       # seconds to wait for one kernel start
    cache_path: str | None = None     # the run's study cache (spanalysis.report.cache)
    repo_dir: str | None = None       # for the git commit in the provenance footer


# =============================================================================================
# Parameters
# =============================================================================================

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
        The study's sites: ``site`` must then be one of them or ``"all"``.
    declared : dict, optional
        ``inspect_notebook``'s result, if already read.

    Raises
    ------
    InputError
        Naming the notebook, the parameter, the value found and what was expected: an
        unknown name (papermill would only log it and run with the default), a value whose
        type differs from the declared default's (``int`` is accepted for ``float``; ``bool``
        is not accepted for ``int``), or an unknown site.
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
            if value != "all" and value not in allowed:
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

def site_slug(site: str) -> str:
    """A file name for a site: lower case ASCII letters, digits and hyphens.

    Examples
    --------
    >>> site_slug("Kestrel Moor PCN"), site_slug("St. Mary's & Église")
    ('kestrel-moor-pcn', 'st-mary-s-eglise')
    """
    import unicodedata

    ascii_text = unicodedata.normalize("NFKD", site).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.casefold()).strip("-")
    return slug or "site"


def _notebook_title(path: Path) -> str:
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return path.stem


def _parse_sites(sites, known: list[str]) -> list[str]:
    if sites is None or sites == "all":
        return list(known)
    if sites == "none":
        return []
    chosen = [s.strip() for s in sites.split(",")] if isinstance(sites, str) else list(sites)
    chosen = [s for s in chosen if s]
    for name in chosen:
        if name not in known:
            raise InputError("unknown site", column="--sites", value=name,
                             expected="'all', 'none' or comma-separated sites of the study: "
                                      + ", ".join(known))
    return list(dict.fromkeys(chosen))


def plan_jobs(study, out: Path, *, sites="all", study_reports: bool = True,
              notebooks_dir: Path = NOTEBOOKS_DIR, parameters: Mapping | None = None
              ) -> list[ReportJob]:
    """The reports to build, with their parameters checked.

    ``parameters`` (name -> value) are extra parameters given to every notebook that
    declares them; a name no notebook of the run declares is refused.
    """
    out = Path(out)
    notebooks_dir = Path(notebooks_dir)
    study_path = str(study.path)
    jobs: list[ReportJob] = []

    def job(name, kind, nb, params, folder, title, site=None, subtitle=None):
        base = out / folder
        params = dict(params, summary_path=str(base / f"{name}.summary.json"))
        return ReportJob(name=name, kind=kind, title=title, notebook=nb, parameters=params,
                         html=base / f"{name}.html", executed=base / f"{name}.ipynb",
                         log=base / f"{name}.log", summary=base / f"{name}.summary.json",
                         record=base / f"{name}.run.json", site=site, subtitle=subtitle)

    if study_reports:
        for name in STUDY_NOTEBOOKS:
            nb = notebooks_dir / f"{name}.ipynb"
            if nb.is_file():
                jobs.append(job(name, "study", nb, {"study": study_path, "site": "all"},
                                "study", _notebook_title(nb), subtitle=study.name))
    chosen = _parse_sites(sites, study.sites)
    if chosen:
        nb = notebooks_dir / f"{SITE_NOTEBOOK}.ipynb"
        if not nb.is_file():
            raise SpanalysisError(f"the site report notebook {nb} is missing")
        used: set[str] = set()
        for site in chosen:
            slug, n = site_slug(site), 1
            while slug in used:      # two sites that differ only in punctuation
                n += 1
                slug = f"{site_slug(site)}-{n}"
            used.add(slug)
            jobs.append(job(slug, "site", nb, {"study": study_path, "site": site}, "sites",
                            f"Site report: {site}", site=site, subtitle=study.name))
    if not jobs:
        raise SpanalysisError(f"nothing to render: no report notebooks in {notebooks_dir} and "
                              "no sites chosen")

    declared = {nb: _declared(nb) for nb in {j.notebook for j in jobs}}
    extra = dict(parameters or {})
    for name in extra:
        if not any(name in d for d in declared.values()):
            names = sorted(set().union(*declared.values()))
            raise InputError("unknown parameter", column=name, value=name,
                             expected="a parameter of the notebooks: " + ", ".join(names))
        if name in ("study", "summary_path"):
            raise InputError("this parameter is set by the report command", column=name,
                             value=name, expected="another parameter (use --sites for sites)")
    for j in jobs:
        d = declared[j.notebook]
        for name, value in extra.items():
            if name in d:
                if name == "site" and j.kind == "site":
                    continue   # a site report's site is its own
                wanted = declared_type(d[name])
                if isinstance(value, str) and wanted not in (None, "str"):
                    value = coerce_parameter(value, wanted, name=name, where=j.notebook.name)
                j.parameters[name] = value
        check_parameters(j.notebook, j.parameters, sites=study.sites, declared=d)
    return jobs


def _file_sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _fingerprint(job: ReportJob, study_fp: dict, kernel: str, out: Path) -> str:
    params = {k: (str(Path(v).relative_to(out)) if k == "summary_path" else v)
              for k, v in job.parameters.items()}
    blob = json.dumps({"study": study_fp["key"], "notebook": _file_sha256(job.notebook),
                       "parameters": params, "kernel": kernel, "kind": job.kind},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _up_to_date(job: ReportJob) -> dict | None:
    """The stored record when ``job``'s outputs exist and its fingerprint is unchanged."""
    try:
        record = json.loads(job.record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if record.get("fingerprint") != job.fingerprint:
        return None
    if not (job.html.is_file() and job.summary.is_file()):
        return None
    return record


def _read_summary(path: Path) -> dict | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


# =============================================================================================
# Running one job (in a worker process)
# =============================================================================================

def is_kernel_start_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is a kernel failing to start (worth another attempt).

    Recognised: ``zmq.ZMQError`` (e.g. "Address already in use" when two kernels pick the
    same port), ``RuntimeError("Kernel died before replying to kernel_info")`` and "Kernel
    didn't respond in N seconds" from ``jupyter_client``'s ``wait_for_ready`` (papermill
    issue #511). An error inside a cell, a kernel dying while a cell runs, or a time-out is
    not a start failure.

    Examples
    --------
    >>> is_kernel_start_failure(RuntimeError("Kernel died before replying to kernel_info"))
    True
    >>> is_kernel_start_failure(ValueError("boom"))
    False
    """
    try:
        import zmq
        if isinstance(exc, zmq.ZMQError):
            return True
    except ImportError:   # pragma: no cover - pyzmq is a dependency of jupyter_client
        pass
    text = str(exc)
    return isinstance(exc, (RuntimeError, OSError, TimeoutError)) and any(
        marker in text for marker in ("Kernel died before replying to kernel_info",
                                      "Kernel didn't respond", "Address already in use"))


def _kernel_manager_class(log_handle):
    """An AsyncKernelManager whose kernel writes its stdout/stderr into the job's log.

    (Otherwise every kernel's start-up warnings land on the terminal of the report command.)
    """
    from jupyter_client import AsyncKernelManager

    class _LoggingKernelManager(AsyncKernelManager):
        async def _async_launch_kernel(self, kernel_cmd, **kw):
            kw.setdefault("stdout", log_handle)
            kw.setdefault("stderr", log_handle)
            return await super()._async_launch_kernel(kernel_cmd, **kw)

    return _LoggingKernelManager


def _cache_cell():
    import nbformat

    cell = nbformat.v4.new_code_cell(
        "# Added by `spanalysis report`: reuse the study loaded once for the whole run\n"
        "# (environment variable SPANALYSIS_STUDY_CACHE; see spanalysis.report.cache).\n"
        "import spanalysis.report.cache\nspanalysis.report.cache.install()")
    cell.metadata["tags"] = ["remove-cell", CACHE_CELL_TAG]
    return cell


def _failed_cell(source_nb, source: str | None) -> tuple[int | None, str | None]:
    """1-based position of the failing cell in the original notebook, and its first line."""
    if not source:
        return None, None
    first = next((ln.strip() for ln in source.splitlines() if ln.strip()), "")
    for n, cell in enumerate(source_nb.cells, start=1):
        if cell.cell_type == "code" and cell.source.strip() == source.strip():
            return n, first
    return None, first


def _public_parameters(parameters: Mapping) -> dict:
    """Parameters for the provenance footer: no absolute paths (a home folder is personal)."""
    out = {}
    for key, value in parameters.items():
        if key == "summary_path":
            continue
        out[key] = Path(value).name if key == "study" else value
    return out


def run_job(job: ReportJob, settings: RunSettings) -> ReportResult:
    """Execute one notebook with papermill and render it (runs in a worker process).

    Returns a :class:`ReportResult`; never raises for a failing notebook. On failure the
    executed notebook (with papermill's error banner) and the log are kept, and no HTML,
    summary or record of a previous run is left behind for this report.
    """
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from spanalysis.report import render

    start = time.perf_counter()
    deadline = start + settings.timeout
    out_dir = job.html.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    if settings.cache_path:
        os.environ["SPANALYSIS_STUDY_CACHE"] = settings.cache_path
    else:
        os.environ.pop("SPANALYSIS_STUDY_CACHE", None)
    source_nb = nbformat.read(job.notebook, as_version=4)
    token = secrets.token_hex(4)
    tmp_nb = out_dir / f".{job.name}.{token}.part.ipynb"
    kernel_log = out_dir / f".{job.name}.{token}.kernel.part.log"
    notes: list[str] = [f"{job.title}: started {_now()}"]
    error = cell = cell_source = tb = None
    attempts = 0
    with open(kernel_log, "w", encoding="utf-8", errors="replace") as klog:
        while True:
            attempts += 1
            nb = nbformat.from_dict(source_nb)
            nb.cells.insert(0, _cache_cell())
            try:
                papermill.execute_notebook(
                    nb, str(tmp_nb), parameters=job.parameters, kernel_name=settings.kernel,
                    cwd=str(job.notebook.parent), progress_bar=False, log_output=False,
                    request_save_on_cell_execute=False,
                    start_timeout=int(max(1, min(settings.start_timeout, deadline - time.perf_counter()))),
                    # the time limit is per report: each cell gets what is left of it
                    timeout_func=lambda _cell: max(1, int(deadline - time.perf_counter())),
                    kernel_manager_class=_kernel_manager_class(klog),
                    # every cell has finished and its outputs are saved by then: stopping the
                    # kernel at once spares the ~0.3 s a polite shutdown waits per report
                    shutdown_kernel="immediate")
                error = None
                break
            except PapermillExecutionError as exc:
                error = f"{exc.ename}: {exc.evalue}"
                cell, cell_source = _failed_cell(source_nb, exc.source)
                tb = _ANSI.sub("", "\n".join(exc.traceback or []))
                break
            except Exception as exc:   # noqa: BLE001 - kernel start, time limit, ...
                error = f"{type(exc).__name__}: {exc}".strip()
                tb = traceback.format_exc()
                if type(exc).__name__ == "CellTimeoutError" or time.perf_counter() >= deadline:
                    error = (f"time limit of {settings.timeout:g} s per report reached "
                             f"({error.splitlines()[0]})")
                    break
                if is_kernel_start_failure(exc) and attempts < settings.attempts:
                    notes.append(f"kernel start attempt {attempts} failed: {error}; retrying")
                    time.sleep(0.25 * attempts)      # let the ports / the machine settle
                    continue
                if is_kernel_start_failure(exc):
                    error = f"the kernel failed to start ({attempts} attempts): {error}"
                break
    html_text = None
    if error is None:
        try:
            executed = nbformat.read(tmp_nb, as_version=4)
            provenance = render.collect_provenance([], _public_parameters(job.parameters),
                                                   repo_dir=settings.repo_dir)
            provenance["input_files"] = list(job.inputs)
            html_text = render.notebook_to_html(executed, title=job.title,
                                                subtitle=job.subtitle, provenance=provenance)
        except Exception as exc:   # noqa: BLE001 - a rendering failure is this report's failure
            error = f"rendering failed: {type(exc).__name__}: {exc}"
            tb = traceback.format_exc()
    seconds = time.perf_counter() - start
    kernel_text = kernel_log.read_text(encoding="utf-8", errors="replace")
    kernel_log.unlink()
    if tmp_nb.exists():        # complete (papermill wrote it at the end): keep for analysts
        os.replace(tmp_nb, job.executed)
    if error is None:
        render.write_html_atomic(html_text, job.html)
    else:
        for stale in (job.html, job.record, job.summary):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
    notes.append(f"kernel start attempts: {attempts}")
    notes.append(f"{'failed' if error else 'finished'} after {seconds:.1f} s")
    if error:
        where = f" in cell {cell} ({cell_source})" if cell or cell_source else ""
        notes += [f"ERROR{where}: {error}", "", tb or ""]
    if kernel_text.strip():
        notes += ["", "kernel output:", kernel_text]
    with atomic_write(job.log) as handle:
        handle.write("\n".join(notes) + "\n")
    summary = _read_summary(job.summary) if error is None else None
    if error is None:
        with atomic_write(job.record) as handle:      # last: marks the report as complete
            json.dump({"fingerprint": job.fingerprint, "seconds": round(seconds, 3),
                       "attempts": attempts, "finished": _now()}, handle, indent=2)
    return ReportResult(job.name, job.kind, job.title, str(job.html),
                        "failed" if error else "ok", job.site, seconds, attempts, error, cell,
                        cell_source, str(job.log), summary)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


# =============================================================================================
# The batch
# =============================================================================================

def _clean_partial(out: Path) -> None:
    """Remove temporary files an interrupted run left behind (never complete files)."""
    for folder in (out, out / "study", out / "sites"):
        if folder.is_dir():
            for path in folder.glob(".*.part*"):
                with contextlib.suppress(OSError):
                    path.unlink()


def _worker_init() -> None:   # pragma: no cover - runs in the worker processes
    import warnings

    # render.ReportWarning notes (e.g. a figure without alt text) go to the log, not the bar
    warnings.simplefilter("ignore")
    # Import papermill and build the HTML exporter now: the pool is started before the study
    # is loaded and the jobs are planned, so this work overlaps with the parent's.
    import papermill  # noqa: F401

    from spanalysis.report import render

    render._exporter()


def _ready() -> bool:  # pragma: no cover - runs in the worker processes
    return True


def _start_pool(workers: int):
    """A pool of worker processes, started at once (see :func:`_worker_init`)."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"),
                               initializer=_worker_init)
    for _ in range(workers):
        pool.submit(_ready)
    return pool


#: a report whose worker process died this many times is reported as failed
WORKER_DEATHS_ALLOWED = 2


def _run_local(todo, settings, workers, on_done, first_pool=None) -> None:
    """Run the jobs in a pool of worker processes, surviving workers that die.

    When a worker process dies (killed, out of memory, a crash in native code), Python marks
    the whole pool broken and every unfinished job fails with it, not just the one that was
    running there. Those jobs are run again in a fresh pool; a job caught up in a second
    death is then run on its own, so that the job that kills its worker is identified and
    reported while the others complete.
    """
    from concurrent.futures import as_completed
    from concurrent.futures.process import BrokenProcessPool

    deaths: dict[str, int] = {}
    pending = list(todo)
    while pending:
        shared = [j for j in pending if deaths.get(j.html.as_posix(), 0) < WORKER_DEATHS_ALLOWED]
        alone = [[j] for j in pending if j not in shared]
        pending = []
        for group in ([shared] if shared else []) + alone:
            pool, first_pool = first_pool or _start_pool(min(workers, len(group))), None
            with pool:
                futures = {pool.submit(run_job, job, settings): job for job in group}
                try:
                    for future in as_completed(futures):
                        job = futures[future]
                        if isinstance(future.exception(), BrokenProcessPool):
                            key = job.html.as_posix()
                            deaths[key] = deaths.get(key, 0) + 1
                            if deaths[key] <= WORKER_DEATHS_ALLOWED:
                                pending.append(job)
                                continue
                        on_done(job, future)
                except BaseException:
                    for future in futures:
                        future.cancel()
                    raise


def _run_dask(todo, settings, address, on_done) -> None:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise SpanalysisError("--scheduler needs the 'distributed' package "
                              "(pip install distributed)") from None
    try:
        client = Client(address, timeout="20s")
    except (OSError, TimeoutError) as exc:
        raise SpanalysisError(f"could not connect to the Dask scheduler at {address}: {exc}"
                              ) from None
    try:
        futures = {client.submit(run_job, job, settings, pure=False,
                                 key=f"spanalysis-report-{job.kind}-{job.name}-"
                                     f"{secrets.token_hex(4)}"): job for job in todo}
        try:
            for future in as_completed(list(futures)):
                on_done(futures[future], future)
        except BaseException:
            client.cancel(list(futures))
            raise
    finally:
        client.close()


def build_reports(study_path: str | os.PathLike, out: str | os.PathLike, *,
                  sites="all", study_reports: bool = True, force: bool = False,
                  jobs: int | None = None, scheduler: str | None = None,
                  timeout: float = 600, kernel: str = KERNEL_NAME,
                  notebooks_dir: str | os.PathLike = NOTEBOOKS_DIR,
                  parameters: Mapping | None = None, attempts: int = KERNEL_START_ATTEMPTS,
                  progress: bool = True, use_cache: bool = True) -> BuildResult:
    """Validate the study, run and render every report that changed, write the index.

    Parameters
    ----------
    study_path : path
        Study folder (containing ``study.yaml``).
    out : path
        Output folder (created). Must not be inside the study folder.
    sites : "all", "none", str or list of str, default "all"
        Sites to make a site report for ("A,B" or a list).
    study_reports : bool, default True
        Also render the whole-study notebooks (01-04, those present).
    force : bool, default False
        Re-render reports whose fingerprint is unchanged.
    jobs : int, optional
        Worker processes of the local pool (default: the number of CPUs).
    scheduler : str, optional
        Address of a Dask distributed scheduler (``tcp://host:8786``); the jobs run there
        instead of in a local pool. Workers need this environment, the kernel and the study
        and output folders at the same paths.
    timeout : float, default 600
        Time limit per report in seconds (kernel start, every cell and rendering).
    kernel : str, default "spanalysis"
        Jupyter kernel to run the notebooks on (checked before anything runs).
    notebooks_dir : path
        Folder with the notebooks.
    parameters : mapping, optional
        Extra notebook parameters (name -> value), given to every notebook that declares
        them; see :func:`plan_jobs`.
    attempts : int, default 3
        Kernel start attempts per report.
    progress : bool, default True
        Show a progress bar on stderr.
    use_cache : bool, default True
        Share the loaded, scored study with the kernels (:mod:`spanalysis.report.cache`). False
        makes every kernel load the study itself (for benchmarks and debugging).

    Returns
    -------
    BuildResult
        ``results``: one :class:`ReportResult` per report (study reports first, then sites
        in the study's order); ``ok`` is False when any report failed.

    Raises
    ------
    SpanalysisError
        (exit status 2) before anything runs: an invalid study, an unknown site, kernel or
        parameter, a bad output folder.
    """
    from spanalysis import integrate
    from spanalysis.report import cache
    from spanalysis.study import load_study

    t0 = time.perf_counter()
    study_path = Path(study_path).resolve()
    out = Path(out).resolve()
    if out == study_path or out.is_relative_to(study_path):
        raise InputError("the output folder is inside the study folder", value=str(out),
                         expected="a folder outside the study (nothing is written into a study)")
    if timeout is None or timeout <= 0:
        raise InputError("time limit out of range", column="--timeout", value=timeout,
                         expected="a number of seconds greater than 0")
    if jobs is not None and jobs < 1:
        raise InputError("number of jobs out of range", column="--jobs", value=jobs,
                         expected="1 or more")
    # Worker processes start now, so that their imports overlap with loading the study
    # and planning the jobs below (a Dask scheduler has its own workers).
    pool = None if scheduler else _start_pool(max(1, jobs or os.cpu_count() or 1))
    try:
        study = load_study(study_path)      # refuse an invalid study before any notebook starts
        problems = integrate.check_study(study)
        if problems:
            raise ValidationError(study.issues + problems)
        check_kernel(kernel)
        todo_all = plan_jobs(study, out, sites=sites, study_reports=study_reports,
                             notebooks_dir=Path(notebooks_dir), parameters=parameters)

        study_fp = cache.study_fingerprint(study_path)
        # named relative to the study folder; a custom instrument kept elsewhere by its file
        # name only, so that no report shows a researcher's folders
        inputs = [{"path": name if not os.path.isabs(name)
                   else f"(outside the study folder) {Path(name).name}",
                   "sha256": digest, "bytes": (study_path / name).stat().st_size}
                  for name, digest in study_fp["files"].items()]
        for job in todo_all:
            job.fingerprint = _fingerprint(job, study_fp, kernel, out)
            job.inputs = inputs

        out.mkdir(parents=True, exist_ok=True)
        _clean_partial(out)
        results: dict[str, ReportResult] = {}
        todo = []
        for job in todo_all:
            record = None if force else _up_to_date(job)
            if record is None:
                todo.append(job)
            else:
                results[job.html.as_posix()] = ReportResult(
                    job.name, job.kind, job.title, str(job.html), "skipped", job.site,
                    float(record.get("seconds", 0.0)), 0, log=str(job.log),
                    summary=_read_summary(job.summary))
        print(f"{len(todo_all)} report(s): {len(todo)} to render, "
              f"{len(todo_all) - len(todo)} unchanged", file=sys.stderr)

        if todo:
            tmpdir = tempfile.mkdtemp(prefix="spanalysis-cache-")
            try:
                cache_path = None
                if use_cache:
                    cache_path = str(Path(tmpdir) / "study.pickle")
                    cache.write_cache(study, cache_path, study_fp)
                settings = RunSettings(kernel=kernel, timeout=float(timeout), attempts=attempts,
                                       cache_path=cache_path, repo_dir=str(NOTEBOOKS_DIR.parent))
                _execute(todo, settings, results, jobs=jobs, scheduler=scheduler, out=out,
                         progress=progress, pool=pool)
            finally:
                shutil.rmtree(tmpdir, ignore_errors=True)
                _clean_partial(out)  # a worker that died mid-write leaves nothing behind

        ordered = [results[j.html.as_posix()] for j in todo_all]
        for r in ordered:
            r.html = str(Path(r.html).relative_to(out).as_posix())
            if r.log:
                r.log = str(Path(r.log).relative_to(out).as_posix())
        result = BuildResult(out, ordered, time.perf_counter() - t0)
        write_index(result, study)
        print(f"{result.count('ok')} rendered, {result.count('skipped')} unchanged, "
              f"{result.count('failed')} failed in {result.seconds:.1f} s; index: "
              f"{out / 'index.html'}", file=sys.stderr)
        return result
    finally:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


def _execute(todo, settings, results, *, jobs, scheduler, out, progress, pool=None) -> None:
    from tqdm import tqdm

    bar = tqdm(total=len(todo), desc="reports", unit="report", file=sys.stderr,
               disable=not progress, dynamic_ncols=True)
    tally = {"ok": 0, "failed": 0}

    def on_done(job: ReportJob, future) -> None:
        try:
            res = future.result()
        except Exception as exc:   # noqa: BLE001 - the worker process itself died
            res = ReportResult(job.name, job.kind, job.title, str(job.html), "failed",
                               job.site, error=f"worker failed: {type(exc).__name__}: {exc}",
                               log=str(job.log))
        results[job.html.as_posix()] = res
        tally[res.status] = tally.get(res.status, 0) + 1
        line = f"{res.status:6} {job.title} ({res.seconds:.1f} s)"
        if res.error:
            line += f": {res.error.splitlines()[0][:200]}"
        if progress:
            bar.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr)
        bar.set_postfix(tally, refresh=False)
        bar.update(1)

    try:
        if scheduler:
            _run_dask(todo, settings, scheduler, on_done)
        else:
            workers = max(1, min(jobs or os.cpu_count() or 1, len(todo)))
            _run_local(todo, settings, workers, on_done, first_pool=pool)
    finally:
        bar.close()


# =============================================================================================
# Index page
# =============================================================================================

_INDEX_CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
       color: #1a1a1a; background: #ffffff; max-width: 72rem; margin: 0 auto;
       padding: 1rem 1.25rem 3rem; line-height: 1.5; }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 1rem; top: 1rem; background: #fff; padding: .25rem .5rem; }
table { border-collapse: collapse; width: 100%; margin: .75rem 0 1.5rem; }
caption { text-align: left; font-weight: 600; padding: .25rem 0; }
th, td { border-bottom: 1px solid #8a8a8a; padding: .4rem .6rem; text-align: left;
         vertical-align: top; }
thead th { border-bottom: 2px solid #1a1a1a; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.status-failed { color: #8b0000; font-weight: 700; }
.status-ok, .status-skipped { color: #0a5c0a; }
a { color: #0b4f9c; }
.note { color: #333333; font-size: .95rem; }
footer { margin-top: 2rem; border-top: 1px solid #8a8a8a; font-size: .9rem; color: #333; }
code { font-family: ui-monospace, Consolas, monospace; background: #f2f2f2; padding: 0 .2rem; }
"""


def _href(rel: str) -> str:
    return html.escape(_url_quote(rel, safe="/"), quote=True)


def _status_label(r: ReportResult) -> str:
    return {"ok": "Ready", "skipped": "Ready (unchanged)", "failed": "FAILED"}[r.status]


def _problem(r: ReportResult) -> str:
    if r.status != "failed":
        return ""
    where = ""
    if r.cell is not None:
        where = f"cell {r.cell}"
    if r.cell_source:
        where += (": " if where else "") + r.cell_source[:120]
    text = html.escape(r.error or "unknown error")
    if where:
        text = f"In {html.escape(where)}: {text}"
    if r.log:
        text += f' (<a href="{_href(r.log)}">log</a>)'
    return text


def _report_link(r: ReportResult) -> str:
    label = r.site if r.kind == "site" and r.site else r.title
    if r.status == "failed":
        return html.escape(label)
    return f'<a href="{_href(r.html)}">{html.escape(label)}</a>'


def _fmt_change(value: float) -> str:
    text = f"{value:+.1f}"
    if text in ("-0.0", "+0.0"):
        text = "0.0"
    return text.replace("-", "\u2212")


def _site_rows(results: list[ReportResult], k: int) -> list[dict]:
    """Headline figures per site with disclosure control applied (all text, escaped later)."""
    import pandas as pd

    from spanalysis.privacy import disclosure

    sites = [r for r in results if r.kind == "site"]
    if not sites:
        return []
    rows = []
    for r in sites:
        s = r.summary or {}
        primary = s.get("primary") or {}
        rows.append({"site": r.site, "referred": s.get("referred"), "pairs": s.get("pairs"),
                     "n_pairs": primary.get("n_pairs"), "change_mean": primary.get("change_mean"),
                     "ci_low": primary.get("ci_low"), "ci_high": primary.get("ci_high"),
                     "confidence": primary.get("confidence"),
                     "scale": f"{str(primary.get('instrument', '')).upper()} "
                              f"{primary.get('scale', '')}".strip(),
                     "themes": s.get("themes") or []})
    frame = pd.DataFrame(rows)
    have = frame["referred"].notna()
    shown_referred = pd.Series("not available", index=frame.index, dtype=object)
    if have.any():
        # counts per site add up to the study total, which the study reports publish:
        # suppress_series protects that total (complementary suppression)
        shown_referred[have] = disclosure.suppress_series(
            frame.loc[have, "referred"].astype(int), k, totals="none",
            label="index: people referred").to_numpy()
    stats = frame.loc[frame["n_pairs"].notna(), ["n_pairs", "change_mean", "ci_low", "ci_high"]]
    shown_pairs = pd.Series("not available", index=frame.index, dtype=object)
    shown_change = pd.Series("not available", index=frame.index, dtype=object)
    if len(stats):
        protected = disclosure.withhold_small_groups(
            stats.astype({"n_pairs": int}).astype({"change_mean": float, "ci_low": float,
                                                   "ci_high": float}),
            "n_pairs", k, stat_cols=["change_mean", "ci_low", "ci_high"], totals="none",
            label="index: pairs")
        shown_pairs[stats.index] = protected["n_pairs"].to_numpy()
        for i in stats.index:
            p = protected.loc[i]
            if p["withheld"] or frame.loc[i, "change_mean"] is None \
                    or pd.isna(frame.loc[i, "change_mean"]):
                if p["withheld"] == "complementary":
                    shown_change[i] = "withheld (so a smaller site's figures cannot be worked out)"
                elif p["withheld"] or (frame.loc[i, "n_pairs"] or 0) < k:
                    shown_change[i] = f"withheld (fewer than {k} pairs)"
                else:
                    shown_change[i] = "not estimable"
            else:
                level = frame.loc[i, "confidence"] or 0.95
                shown_change[i] = (f"{_fmt_change(float(p['change_mean']))} "
                                   f"({float(level):.0%} CI {_fmt_change(float(p['ci_low']))} "
                                   f"to {_fmt_change(float(p['ci_high']))})")
    out = []
    for i, r in enumerate(sites):
        themes = [t for t in frame.loc[i, "themes"]
                  if isinstance(t, dict) and (t.get("n_voiced") or 0) >= k][:3]
        out.append({"result": r, "referred": shown_referred[i], "pairs": shown_pairs[i],
                    "change": shown_change[i], "scale": frame.loc[i, "scale"],
                    "themes": "; ".join(str(t.get("label") or t.get("theme")) for t in themes)
                    or f"none voiced by {k} or more people"})
    return out


def _study_overview(results: list[ReportResult], k: int) -> str:
    """One sentence of whole-study headline figures from notebooks 01 and 02's summaries."""
    from spanalysis.report.display import count_text

    by_name = {r.name: (r.summary or {}) for r in results if r.kind == "study"}
    parts = []
    referred = by_name.get("01_data_quality", {}).get("referred")
    if isinstance(referred, int):
        parts.append(f"{count_text(referred, k)} people referred")
    primary = by_name.get("02_outcome_change", {}).get("primary") or {}
    if primary.get("change_mean") is not None and not primary.get("small_group"):
        level = primary.get("confidence") or 0.95
        parts.append(f"mean change on {str(primary.get('instrument', '')).upper()} "
                     f"{primary.get('scale', '')} {_fmt_change(primary['change_mean'])} "
                     f"({level:.0%} CI {_fmt_change(primary['ci_low'])} to "
                     f"{_fmt_change(primary['ci_high'])}; "
                     f"{count_text(primary.get('n_pairs', 0), k)} pairs)")
    return ("Whole study: " + "; ".join(parts) + ".") if parts else ""


def write_index(result: BuildResult, study) -> Path:
    """Write ``index.html`` (and ``index.json``) for a batch of reports.

    The page lists every report with its status (a failed report with its cell, message and
    log) and, per site, headline figures from the notebooks' JSON summaries: people
    referred and pairs (counts 1 to k-1 shown as "<k", with complementary suppression by
    :func:`spanalysis.privacy.disclosure.suppress_series`), change on the primary outcome with its
    confidence interval (withheld for fewer than k pairs,
    :func:`spanalysis.privacy.disclosure.withhold_small_groups`) and the themes voiced by most
    interviewed people (only themes voiced by k or more). Every text is HTML-escaped; the
    page is self-contained (no scripts, styles inline, no external reference).
    """
    from spanalysis.version import __version__

    k = study.min_cell_size
    study_rows = []
    for r in (r for r in result.results if r.kind == "study"):
        study_rows.append(
            f'<tr><th scope="row">{_report_link(r)}</th>'
            f'<td class="status-{r.status}">{_status_label(r)}</td><td>{_problem(r)}</td></tr>')
    site_rows = []
    for row in _site_rows(result.results, k):
        r = row["result"]
        site_rows.append(
            f'<tr><th scope="row">{_report_link(r)}</th>'
            f'<td class="status-{r.status}">{_status_label(r)}</td>'
            f'<td class="num">{html.escape(str(row["referred"]))}</td>'
            f'<td class="num">{html.escape(str(row["pairs"]))}</td>'
            f'<td>{html.escape(str(row["change"]))}</td>'
            f'<td>{html.escape(row["themes"])}</td>'
            f'<td>{_problem(r)}</td></tr>')
    failed = result.count("failed")
    status = (f"{len(result.results)} reports: {len(result.results) - failed} ready, "
              f"{failed} failed.")
    scale = next((row["scale"] for row in _site_rows(result.results, k) if row["scale"]), "")
    parts = [f"""<!DOCTYPE html>
<html lang="en-GB"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(study.name)}: reports</title>
<style>{_INDEX_CSS}</style></head>
<body><a class="skip" href="#main">Skip to the reports</a>
<main id="main">
<h1>{html.escape(study.name)}</h1>
<p>{html.escape(status)}{' See the problem column for what went wrong.' if failed else ''}</p>
<p class="note">Every report opens offline, without internet. Counts from 1 to {k - 1} are
shown as &quot;&lt;{k}&quot;; &quot;[c]&quot; hides a count that would let a small one be worked
out from a total; statistics of groups of fewer than {k} people are withheld.</p>
<h2>Whole-study reports</h2>"""]
    overview = _study_overview(result.results, k)
    if overview:
        parts.append(f"<p>{html.escape(overview)}</p>")
    if study_rows:
        parts.append('<table><caption>Reports on the whole study</caption><thead><tr>'
                     '<th scope="col">Report</th><th scope="col">Status</th>'
                     '<th scope="col">Problem</th></tr></thead><tbody>'
                     + "".join(study_rows) + "</tbody></table>")
    else:
        parts.append("<p>No whole-study reports were made in this run.</p>")
    parts.append("<h2>Site reports</h2>")
    if site_rows:
        what = f" on {html.escape(scale)}" if scale else ""
        parts.append(
            f'<table><caption>One report per site, with headline figures</caption><thead><tr>'
            f'<th scope="col">Site</th><th scope="col">Status</th>'
            f'<th scope="col">People referred</th>'
            f'<th scope="col">Pairs on the primary outcome</th>'
            f'<th scope="col">Mean change{what}</th>'
            f'<th scope="col">Themes voiced most (by {k} or more people)</th>'
            f'<th scope="col">Problem</th></tr></thead><tbody>'
            + "".join(site_rows) + "</tbody></table>")
    else:
        parts.append("<p>No site reports were made in this run.</p>")
    parts.append(f"""</main>
<footer><p>Made by spanalysis {html.escape(__version__)} on
{html.escape(_dt.datetime.now(_dt.timezone.utc).strftime('%d %B %Y, %H:%M UTC'))}.
Analysts: executed notebooks and logs are beside each report.</p></footer>
</body></html>
""")
    page = "\n".join(parts)
    path = result.out / "index.html"
    with atomic_write(path) as handle:
        handle.write(page)
    with atomic_write(result.out / "index.json") as handle:
        json.dump({"study": study.name, "seconds": round(result.seconds, 3),
                   "reports": [asdict(r) for r in result.results]}, handle, indent=2,
                  default=str)
    return path


# =============================================================================================
# Site report content (used by notebooks/site_report.ipynb)
# =============================================================================================

def site_themes(study) -> "pd.DataFrame":
    """How many interviewed participants voiced each theme (leaf code) in ``study``.

    Parameters
    ----------
    study : Study
        Usually one site's study (``study.for_site(site)``).

    Returns
    -------
    DataFrame
        One row per leaf code of the codebook, most voiced first (ties in codebook order):
        ``theme`` (code id), ``theme_label`` (its name), ``n_voiced`` (participants with at
        least one segment of the code in their interviews, from
        :func:`spanalysis.qual.themes.participant_code_matrix` with ``binary=True``) and
        ``n_interviewed``. Empty when the study has no qualitative material.

    Examples
    --------
    >>> from spanalysis.study import load_study
    >>> t = site_themes(load_study("data/demo").for_site("Riverside PCN"))
    >>> row = t.iloc[0]
    >>> str(row["theme"]), int(row["n_voiced"]), int(row["n_interviewed"])
    ('being_listened_to', 10, 10)
    """
    import pandas as pd

    from spanalysis.qual.themes import participant_code_matrix

    columns = ["theme", "theme_label", "n_voiced", "n_interviewed"]
    q = study.qualitative
    if q is None:
        return pd.DataFrame(columns=columns)
    cb = q.codebook
    parents = set(cb["parent"].dropna().astype(str))
    leaves = [c for c in cb["id"].astype(str) if c not in parents]
    matrix = participant_code_matrix(q.segments, q.sources, binary=True, codes=leaves)
    labels = cb.set_index(cb["id"].astype(str))["name"]
    table = pd.DataFrame({"theme": leaves,
                          "theme_label": [str(labels.get(c, c)) for c in leaves],
                          "n_voiced": matrix.sum(axis=0).reindex(leaves).fillna(0)
                          .astype(int).to_numpy(),
                          "n_interviewed": len(matrix)})
    table["order"] = range(len(table))
    table = table.sort_values(["n_voiced", "order"], ascending=[False, True], kind="stable")
    return table.drop(columns="order").reset_index(drop=True)


def quote_html(text: str, names: Iterable[str] = (), *, sensitive: bool = False) -> str:
    """One quote as HTML: redacted, escaped, and behind a content note when sensitive.

    Parameters
    ----------
    text : str
        The quote as coded.
    names : iterable of str
        Personal names to remove (``study.qualitative.names``), by
        :func:`spanalysis.qual.redact.redact` (which also removes e-mail addresses, phone
        and NHS numbers, postcodes and dates of birth).
    sensitive : bool, default False
        Put the quote inside a closed ``<details>`` element whose summary is a content note,
        so a reader chooses to open it (no script needed).

    Returns
    -------
    str
        ``<blockquote class="sp-quote">...</blockquote>``; every character of the text is
        escaped, so markup in a quote shows as text and never runs.

    Examples
    --------
    >>> quote_html("Mary said <b>thanks</b>", names=["Mary"])
    '<blockquote class="sp-quote"><p>&ldquo;[NAME] said &lt;b&gt;thanks&lt;/b&gt;&rdquo;</p></blockquote>'
    """
    from spanalysis.privacy.redact import redact

    clean = redact(str(text), names=list(names))[0]
    body = (f'<blockquote class="sp-quote"><p>&ldquo;{html.escape(clean)}&rdquo;</p>'
            f"</blockquote>")
    if sensitive:
        return ('<details class="sp-sensitive"><summary>Content note: this quote describes '
                f"distress. Open to read it.</summary>{body}</details>")
    return body


def joint_display_html(table, names: Iterable[str] = (), *, include_sensitive: bool = False,
                       caption: str = "What people said beside what the questionnaires "
                                      "showed") -> str:
    """The side-by-side joint display (one row per theme) as an accessible HTML table.

    Parameters
    ----------
    table : DataFrame
        :func:`spanalysis.integrate.side_by_side`'s result (columns ``theme_label``,
        ``qualitative_finding``, ``quotes``, ``primary_result``, ``quantitative_result``,
        ``fit``). Its findings already withhold counts below the minimum cell size.
    names : iterable of str
        Names to redact from quotes (``study.qualitative.names``).
    include_sensitive : bool, default False
        Show sensitive quotes (behind a content note). By default they are left out.
    caption : str

    Returns
    -------
    str
        A ``<table class="sp-joint">`` with column headers; all text escaped, quotes
        through :func:`quote_html`.
    """
    names = list(names)
    rows = []
    for r in table.itertuples(index=False):
        quotes = [q for q in (getattr(r, "quotes", None) or [])
                  if include_sensitive or not q.get("sensitive")]
        said = f"<p>{html.escape(str(r.qualitative_finding))}</p>" + "".join(
            quote_html(q.get("text", ""), names, sensitive=bool(q.get("sensitive")))
            for q in quotes)
        measured = "".join(f"<p>{html.escape(str(x))}</p>"
                           for x in (r.primary_result, r.quantitative_result) if x)
        rows.append(f'<tr><th scope="row">{html.escape(str(r.theme_label))}</th>'
                    f"<td>{said}</td><td>{measured}</td><td>{html.escape(str(r.fit))}</td></tr>")
    return (f'<table class="sp-joint"><caption>{html.escape(caption)}</caption><thead><tr>'
            '<th scope="col">Theme</th><th scope="col">What people said</th>'
            '<th scope="col">What the questionnaires showed</th><th scope="col">Fit</th>'
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table>")
