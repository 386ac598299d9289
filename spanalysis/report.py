"""Turning a study into HTML reports: papermill runs the notebooks, nbconvert renders them.

``build_reports(study, out)`` validates the study first (a study with errors produces no
report, and the command exits with status 2), checks the notebooks' parameters against what
``papermill.inspect_notebook`` reports, then executes each notebook with the papermill Python
API in a pool of worker *processes* (papermill changes the working directory, so threads are
unsafe) on the named kernel, and renders each executed notebook in-process with the project's
offline template (:mod:`spanalysis.render`). Every file is written to a temporary name and
renamed, so an interrupted run never leaves a half-written report.

Layout of ``out``::

    index.html                    every report with its status
    study/<notebook>.html         the rendered report
    study/<notebook>.ipynb        the executed notebook (for analysts)
    study/<notebook>.log          what went wrong, when something did
"""
from __future__ import annotations

import html
import json
import os
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path

from .errors import SpanalysisError
from .io import atomic_write
from .kernel import KERNEL_NAME, check_kernel

__all__ = ["ReportJob", "ReportResult", "BuildResult", "build_reports", "study_jobs",
           "check_parameters", "NOTEBOOKS_DIR", "STUDY_NOTEBOOKS"]

NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
#: the study-level notebooks, in reading order; those not present are skipped
STUDY_NOTEBOOKS = ["01_data_quality", "02_outcome_change", "03_qualitative_benefits",
                   "04_integration"]


@dataclass
class ReportJob:
    name: str
    title: str
    notebook: Path
    parameters: dict
    html: Path
    executed: Path
    log: Path


@dataclass
class ReportResult:
    name: str
    title: str
    html: str
    status: str  # "ok" | "failed"
    seconds: float = 0.0
    error: str | None = None
    cell: int | None = None


@dataclass
class BuildResult:
    out: Path
    results: list[ReportResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.status == "ok" for r in self.results)


def check_parameters(notebook: Path, parameters: dict) -> None:
    """Refuse unknown parameter names and values whose type differs from the default's.

    papermill itself only logs an unknown parameter, so a typo would silently run the
    notebook with its default (see docs/jupyter-pipeline notes).
    """
    import papermill

    declared = papermill.inspect_notebook(str(notebook))
    for name, value in parameters.items():
        if name not in declared:
            raise SpanalysisError(
                f"{notebook.name}: unknown parameter '{name}' (the notebook declares "
                f"{', '.join(sorted(declared)) or 'none'})")
        default = declared[name].get("default")
        inferred = declared[name].get("inferred_type_name")
        if inferred in ("str", "int", "float", "bool") and default not in (None, "None"):
            expected = {"str": str, "int": int, "float": (int, float), "bool": bool}[inferred]
            if not isinstance(value, expected) or (inferred == "int" and isinstance(value, bool)):
                raise SpanalysisError(
                    f"{notebook.name}: parameter '{name}' should be {inferred}, "
                    f"got {type(value).__name__} {value!r}")


def study_jobs(study_path: Path, out: Path, notebooks_dir: Path = NOTEBOOKS_DIR) -> list[ReportJob]:
    jobs = []
    for name in STUDY_NOTEBOOKS:
        nb = notebooks_dir / f"{name}.ipynb"
        if not nb.is_file():
            continue
        jobs.append(ReportJob(
            name=name, title=_notebook_title(nb), notebook=nb,
            parameters={"study": str(study_path), "site": "all"},
            html=out / "study" / f"{name}.html", executed=out / "study" / f"{name}.ipynb",
            log=out / "study" / f"{name}.log"))
    return jobs


def _notebook_title(path: Path) -> str:
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return path.stem


def build_reports(study_path: str | os.PathLike, out: str | os.PathLike, *, force: bool = False,
                  jobs: int | None = None, kernel: str = KERNEL_NAME,
                  notebooks_dir: Path = NOTEBOOKS_DIR, timeout: int = 600) -> BuildResult:
    """Validate the study, run and render every report, write ``index.html``.

    Raises :class:`SpanalysisError` (exit 2) when the study has errors or the kernel is
    missing; a report that fails is recorded in the result and the index, and the others
    still run.
    """
    from .study import load_study

    study_path = Path(study_path).resolve()
    out = Path(out).resolve()
    load_study(study_path)  # refuse an invalid study before any notebook starts
    check_kernel(kernel)
    todo = study_jobs(study_path, out, notebooks_dir)
    if not todo:
        raise SpanalysisError(f"no report notebooks found in {notebooks_dir}")
    for job in todo:
        check_parameters(job.notebook, job.parameters)
    (out / "study").mkdir(parents=True, exist_ok=True)
    result = BuildResult(out)
    workers = max(1, min(jobs or os.cpu_count() or 1, len(todo)))
    print(f"rendering {len(todo)} report(s) with {workers} worker process(es)")
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        futures = {pool.submit(run_job, job, kernel, timeout): job for job in todo}
        for done, future in enumerate(as_completed(futures), 1):
            job = futures[future]
            try:
                res = future.result()
            except Exception as exc:  # the worker itself died
                res = ReportResult(job.name, job.title, _rel(job.html, out), "failed",
                                   error=f"worker process failed: {exc!r}")
            print(f"[{done}/{len(todo)}] {res.status:6} {job.name} ({res.seconds:.1f} s)"
                  + (f": {res.error}" if res.error else ""))
            res.html = _rel(job.html, out)
            result.results.append(res)
    result.results.sort(key=lambda r: r.name)
    write_index(result, study_path)
    print(f"index: {out / 'index.html'}")
    return result


def _rel(path: Path, out: Path) -> str:
    return str(path.relative_to(out))


def run_job(job: ReportJob, kernel: str, timeout: int) -> ReportResult:
    """Execute one notebook with papermill and render it (runs in a worker process)."""
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from . import render

    start = time.perf_counter()
    job.executed.parent.mkdir(parents=True, exist_ok=True)
    tmp_nb = job.executed.with_name(f".{job.executed.stem}.part.ipynb")
    error = cell = None
    try:
        papermill.execute_notebook(
            str(job.notebook), str(tmp_nb), parameters=job.parameters, kernel_name=kernel,
            cwd=str(job.notebook.parent), progress_bar=False, log_output=False,
            request_save_on_cell_execute=False, execution_timeout=timeout)
    except PapermillExecutionError as exc:
        error, cell = f"{exc.ename}: {exc.evalue}", exc.exec_count
    except Exception as exc:  # kernel failed to start, timeout, ...
        error = f"{type(exc).__name__}: {exc}"
    if tmp_nb.exists():
        os.replace(tmp_nb, job.executed)
    if error:
        with atomic_write(job.log) as handle:
            handle.write(f"{job.name} failed\n{error}\n\n{traceback.format_exc()}")
        return ReportResult(job.name, job.title, str(job.html), "failed",
                            time.perf_counter() - start, error, cell)
    nb = nbformat.read(job.executed, as_version=4)
    provenance = render.collect_provenance(_input_files(Path(job.parameters["study"])),
                                           job.parameters, repo_dir=job.notebook.parent)
    html_text = render.notebook_to_html(nb, title=job.title, provenance=provenance)
    render.write_html_atomic(html_text, job.html)
    if job.log.exists():
        job.log.unlink()
    return ReportResult(job.name, job.title, str(job.html), "ok", time.perf_counter() - start)


def _input_files(study_path: Path) -> list[Path]:
    from .manifest import read_manifest

    manifest = read_manifest(study_path)
    files = [study_path / "study.yaml"] + [f.path for f in manifest.files()]
    return files + list(manifest.custom_instruments)


def write_index(result: BuildResult, study_path: Path) -> Path:
    """A small self-contained index page listing every report and its status."""
    from .manifest import read_manifest

    manifest = read_manifest(study_path)
    rows = []
    for r in result.results:
        status = "OK" if r.status == "ok" else "FAILED"
        detail = "" if r.status == "ok" else html.escape(
            f"cell {r.cell}: {r.error}" if r.cell is not None else (r.error or ""))
        link = (f'<a href="{html.escape(r.html)}">{html.escape(r.title)}</a>'
                if r.status == "ok" else html.escape(r.title))
        rows.append(f"<tr><td>{link}</td><td class=\"{r.status}\">{status}</td>"
                    f"<td>{detail}</td></tr>")
    page = f"""<!DOCTYPE html>
<html lang="en-GB"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(manifest.name)}: reports</title>
<style>
body {{ font-family: system-ui, sans-serif; color: #1a1a1a; background: #fff; max-width: 60rem;
       margin: 2rem auto; padding: 0 1rem; line-height: 1.5; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border-bottom: 1px solid #bbb; padding: .4rem .6rem; text-align: left; }}
.failed {{ color: #a00000; font-weight: bold; }} .ok {{ color: #0a5c0a; }}
a {{ color: #0b4f9c; }}
</style></head>
<body><main>
<h1>{html.escape(manifest.name)}</h1>
<p>Reports generated by spanalysis. Each opens offline; small counts are suppressed.</p>
<h2>Study reports</h2>
<table><thead><tr><th scope="col">Report</th><th scope="col">Status</th>
<th scope="col">Problem</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table>
</main></body></html>
"""
    path = result.out / "index.html"
    with atomic_write(path) as handle:
        handle.write(page)
    with atomic_write(result.out / "index.json") as handle:
        json.dump([asdict(r) for r in result.results], handle, indent=2)
    return path
