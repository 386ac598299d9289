"""The reports of a run: one job per notebook to run, its result, and whether it changed.

:func:`plan_jobs` turns a study and an output folder into :class:`ReportJob` s (the
whole-study notebooks, then one site report per site) with their parameters checked. Each
job's fingerprint (SHA-256 of the notebook, its parameters, every input file, the spanalysis
code and the kernel name) is stored beside its report after a successful render, so that a
report whose fingerprint is unchanged is not rendered again.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from spanalysis.errors import InputError, SpanalysisError
from spanalysis.report.fingerprints import file_sha256
from spanalysis.report.kernel import KERNEL_NAME
from spanalysis.report.parameters import (_declared, check_parameters, coerce_parameter,
                                          declared_type)

__all__ = ["ReportJob", "ReportResult", "BuildResult", "RunSettings", "plan_jobs", "site_slug",
           "NOTEBOOKS_DIR", "STUDY_NOTEBOOKS", "SITE_NOTEBOOK", "KERNEL_START_ATTEMPTS"]

NOTEBOOKS_DIR = Path(__file__).resolve().parents[2] / "notebooks"
#: the study-level notebooks, in reading order; those not present are skipped
STUDY_NOTEBOOKS = ["01_data_quality", "02_outcome_change", "03_qualitative_benefits",
                   "04_integration"]
#: the per-site notebook (in ``notebooks_dir``)
SITE_NOTEBOOK = "site_report"
#: kernel start attempts per report (papermill issue #511: ~1 in 200 starts fail under load)
KERNEL_START_ATTEMPTS = 3


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
    #: the run's render time (ISO 8601, UTC; ``SOURCE_DATE_EPOCH`` when set): the time every
    #: report of the run shows, for the index to show too (:mod:`spanalysis.report.clock`)
    render_time: str = ""

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
    repo_dir: str | None = None       # for the git commit in the provenance footer
    #: the run's render time, read once by the runner (ISO 8601, UTC; ``SOURCE_DATE_EPOCH``
    #: when set), shown in every report's footer; None: the worker reads the clock
    render_time: str | None = None


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


def _fingerprint(job: ReportJob, study_fp: dict, kernel: str, out: Path) -> str:
    params = {k: (str(Path(v).relative_to(out)) if k == "summary_path" else v)
              for k, v in job.parameters.items()}
    blob = json.dumps({"study": study_fp["key"], "notebook": file_sha256(job.notebook),
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
