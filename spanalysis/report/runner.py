"""Turning a study into HTML reports: papermill runs the notebooks, nbconvert renders them.

``build_reports(study, out)`` (the ``spanalysis report`` command) does, in order:

1. **Checks, before anything runs.** The study is loaded and validated (a study with errors
   produces no report: exit status 2); the sites asked for must be sites of the study; the
   Jupyter kernel must be installed; every notebook's parameters are checked against what
   ``papermill.inspect_notebook`` reports (:mod:`spanalysis.report.parameters`).
2. **Incremental.** Each report's fingerprint (:mod:`spanalysis.report.jobs`) is stored beside
   it after a successful render; a report whose fingerprint is unchanged is skipped unless
   ``force``.
3. **Execution** in worker *processes*: a local process pool (forked from a ``forkserver``
   that has imported what they need once; spawned on Windows), or a Dask distributed
   cluster with ``scheduler=ADDRESS``. Each job runs its notebook as it is, with the
   papermill Python API (:func:`spanalysis.report.execution.run_job`), on its worker's warm
   kernel: one kernel per worker, reset before each notebook to what a fresh kernel holds,
   replaced when it dies, runs out of time or fails a report. In a local pool the kernels
   are forked from the run's kernel forker, which has imported what a report needs once
   (:mod:`spanalysis.report.forker`). The executed notebook beside
   each report has exactly the notebook's cells plus papermill's injected-parameters cell.
   A failing report does not stop the others.
4. **Index.** ``index.html`` lists every report with its status and, per site, headline
   figures (:mod:`spanalysis.report.index`).

**Reproducible.** The same inputs (study files, code, notebooks, kernel) give the same bytes
in every HTML and JSON file, locally and on Dask, whatever the output folder: the run's one
render time (:mod:`spanalysis.report.clock`: ``SOURCE_DATE_EPOCH`` when set, else the clock)
is the only line that differs, in each report's footer and the index's. Times and durations
of the run are in the ``.log`` files and the executed notebooks (papermill's and the kernel's
timings and the absolute output path; these are run records, not compared);
``tests/test_reproducible.py`` renders twice and compares.

Every file is written to a temporary name in the same folder and renamed, so an interrupted
run never leaves a half-written report, and a rerun resumes where it stopped. On Ctrl-C the
worker processes and their kernels are stopped and one line says how many reports finished;
a worker also ends when its parent process is gone.

Layout of ``out``::

    index.html, index.json        every report with its status
    study/<notebook>.html         the whole-study reports (notebooks 01-04 present)
    sites/<site-slug>.html        one compact report per site (notebooks/site_report.ipynb)
    */<name>.ipynb                the executed notebook (for analysts)
    */<name>.log                  timing, kernel start attempts, kernel messages, errors
    */<name>.summary.json         headline figures the notebook wrote (for the index)
    */<name>.run.json             fingerprint of the last successful render (no times)
    .spanalysis-report.lock       held by the run writing into the folder (a second run
                                  into the same folder refuses, naming it)
"""
from __future__ import annotations

import contextlib
import os
import secrets
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Mapping

from spanalysis import processes
from spanalysis.errors import InputError, SpanalysisError, ValidationError
from spanalysis.report import clock, forker
from spanalysis.report.execution import run_job
from spanalysis.report.index import write_index
from spanalysis.report.jobs import (KERNEL_START_ATTEMPTS, NOTEBOOKS_DIR, BuildResult,
                                    ReportJob, ReportResult, RunSettings, _fingerprint,
                                    _read_summary, _up_to_date, plan_jobs)
from spanalysis.report.kernel import KERNEL_NAME, check_kernel

__all__ = ["build_reports", "ReportsInterrupted"]


def skip_iri_parser() -> None:
    """Keep ``jsonschema`` from building its IRI parser in a process of the report command.

    papermill imports nbformat, which imports jsonschema, whose format checkers import
    ``rfc3987_syntax`` when it is installed (jupyterlab's dependencies install it): that
    module builds about 35 Earley parsers at import, 0.8 to 1 s of CPU in every process
    (python-jsonschema/jsonschema#1428). Nothing here checks the "iri" format: nbformat
    validates notebooks without format checkers. Marking the module as absent makes
    jsonschema skip that one checker, as it does when the package is not installed. Only
    the report command's own processes (the ``spanalysis report`` parent and its workers)
    call this, never a notebook's kernel or a user's session; it does nothing once
    jsonschema is imported.
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)


def _clean_partial(out: Path) -> None:
    """Remove temporary files an interrupted run left behind (never complete files)."""
    for folder in (out, out / "study", out / "sites"):
        if folder.is_dir():
            for path in folder.glob(".*.part*"):
                with contextlib.suppress(OSError):
                    path.unlink()


def _worker_init(kernel: str | None = None, cwd: str | None = None,
                 parent_env: Mapping | None = None, parent_cwd: str | None = None,
                 forker_info=None) -> None:   # pragma: no cover - runs in the workers
    import warnings

    if parent_env is not None:
        # a forkserver's child inherits the environment and folder the forkserver started
        # with (the first run of this process); a worker runs as a spawned one would: with
        # the parent's environment and folder as they are now (JUPYTER_PATH, a kernel's
        # environment variables, relative paths)
        os.environ.clear()
        os.environ.update(parent_env)
    if parent_cwd is not None:
        os.chdir(parent_cwd)
    skip_iri_parser()
    _end_with_parent()
    # render.ReportWarning notes (e.g. a figure without alt text) go to the log, not the bar
    warnings.simplefilter("ignore")
    # Import papermill, build the HTML exporter and start this worker's warm kernel (with
    # its imports) now: the pool is started before the study is loaded and the jobs are
    # planned, so this work overlaps with the parent's.
    import papermill  # noqa: F401

    from spanalysis.report import execution, render
    from spanalysis.report.execution import start_warm_kernel

    execution.FORKER = forker_info     # kernels forked from the run's kernel forker
    render._exporter()
    if kernel and cwd:
        start_warm_kernel(kernel, cwd)


def _end_with_parent() -> None:  # pragma: no cover - runs in the worker processes
    """A worker leaves Ctrl-C to the parent (which stops the run and says what finished:
    no traceback from each worker), and ends, with its kernel, when the parent stops it
    (SIGTERM) or is gone (killed too: it waits on the run's sentinel, not a timer)."""
    import multiprocessing
    import signal
    import threading

    from spanalysis.report.execution import stop_kernels

    def end(*_args) -> None:
        stop_kernels()
        os._exit(1)

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, end)
    # the run's process, not the OS parent (a forked worker's is the forkserver): its
    # sentinel is a pipe the run holds open, readable once the run is gone, however it ended
    parent = multiprocessing.parent_process()

    def watch() -> None:
        parent.join()
        end()

    threading.Thread(target=watch, name="spanalysis-parent-watch", daemon=True).start()


def _stop_workers(pool) -> None:
    """Stop the pool's worker processes now (each ends its kernel): on Ctrl-C the running
    reports are abandoned rather than waited for. ``_processes`` is the executor's own
    table of its processes (concurrent.futures has no public way to stop them)."""
    if isinstance(pool, _WorkerPool):
        pool._started()             # every worker it starts is known, so that it is stopped
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)      # (forgets its processes)
    for process in processes:
        with contextlib.suppress(OSError, AttributeError):
            process.terminate()


def _ready() -> bool:  # pragma: no cover - runs in the worker processes
    return True


class _WorkerPool(ProcessPoolExecutor):
    """A process pool whose workers start in the background: with a forkserver, starting a
    worker waits until the forkserver has imported what the workers need
    (:mod:`spanalysis.report.preload`), and the parent has its own work meanwhile (loading
    the study, planning the jobs). The first job waits until the workers are started."""

    def start_workers(self, count: int) -> None:
        def start() -> None:
            with contextlib.suppress(RuntimeError):   # the run ended (refused) first
                for _ in range(count):
                    self.submit(_ready)

        self._starting = threading.Thread(target=start, name="spanalysis-start-workers",
                                          daemon=True)
        self._starting.start()

    def _started(self) -> None:
        starting = getattr(self, "_starting", None)
        if starting is not None and starting is not threading.current_thread():
            starting.join()

    def submit(self, fn, /, *args, **kwargs):
        self._started()
        return super().submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._started()
        super().shutdown(wait=wait, cancel_futures=cancel_futures)


def _start_pool(workers: int, kernel: str | None = None, cwd: str | os.PathLike | None = None,
                forker_info=None):
    """A pool of worker processes, started at once in the background (see
    :class:`_WorkerPool` and :func:`_worker_init`), each with a warm kernel ``kernel``
    started in ``cwd`` (the notebooks' folder) when given, forked by the kernel forker
    ``forker_info`` when given (:mod:`spanalysis.report.forker`)."""
    pool = _WorkerPool(max_workers=workers, mp_context=processes.pool_context(),
                       initializer=_worker_init,
                       initargs=(kernel, None if cwd is None else str(cwd),
                                 dict(os.environ), os.getcwd(), forker_info))
    pool.start_workers(workers)
    return pool


#: a report whose worker process died this many times is reported as failed
WORKER_DEATHS_ALLOWED = 2


def _run_local(todo, settings, workers, on_done, first_pool=None, forker_info=None) -> None:
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
            pool, first_pool = first_pool or _start_pool(
                min(workers, len(group)), settings.kernel, group[0].notebook.parent,
                forker_info), None
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
                    _stop_workers(pool)
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
        Has no effect: every notebook loads the study itself (the shared study cache was
        removed in issue 18: on the demo's 12 reports it saved no measurable time). Kept so
        that callers passing it, such as ``bench/bench_reports.py``, keep working.

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
    t0 = time.perf_counter()
    study_path, out = _check_folders_and_limits(study_path, out, timeout=timeout, jobs=jobs)
    # the run's one render time (SOURCE_DATE_EPOCH when set; a malformed one refuses the
    # run here), sent with every job so local and Dask workers show the same time
    render_time = clock.iso_time()
    # The kernel forker and the worker processes start now, so that their imports overlap
    # with loading the study and planning the jobs below (a Dask scheduler has its own
    # workers, which start their kernels themselves).
    kernels = None if scheduler else forker.start(kernel)
    forker_info = None if kernels is None else kernels.info
    pool = None
    try:
        if not scheduler:
            pool = _start_pool(max(1, jobs or os.cpu_count() or 1), kernel,
                               Path(notebooks_dir).resolve(), forker_info)
        study, todo_all = _load_and_plan(study_path, out, kernel=kernel, sites=sites,
                                         study_reports=study_reports,
                                         notebooks_dir=Path(notebooks_dir),
                                         parameters=parameters)
        out.mkdir(parents=True, exist_ok=True)
        with _output_lock(out):
            return _build(study, todo_all, out, t0, force=force, kernel=kernel,
                          timeout=timeout, attempts=attempts, jobs=jobs, scheduler=scheduler,
                          progress=progress, pool=pool, render_time=render_time,
                          forker_info=forker_info)
    finally:
        if pool is not None:
            # a pool that ran the jobs is shut down already (its workers ended their
            # kernels); one that ran none (nothing to render, a refused run) is stopped now
            # rather than waited for at exit while its workers start their kernels
            _stop_workers(pool)
        if kernels is not None:
            kernels.stop()     # and any kernel it forked that is still running


class ReportsInterrupted(KeyboardInterrupt):
    """Ctrl-C during a run: the message says how many reports finished (a rerun resumes)."""


#: the lock file a run holds in its output folder (see :func:`_output_lock`)
LOCK_NAME = ".spanalysis-report.lock"
#: seconds a second run into the same output folder waits for the lock before refusing
LOCK_WAIT = 2.0


@contextlib.contextmanager
def _output_lock(out: Path):
    """Hold the output folder's lock for the run: two runs into one folder would remove
    each other's files and mark finished reports as failed (issue 19: 19). A second run
    waits :data:`LOCK_WAIT` seconds, then refuses with a message naming the folder."""
    from filelock import FileLock, Timeout

    lock = FileLock(out / LOCK_NAME)
    try:
        lock.acquire(timeout=LOCK_WAIT)
    except Timeout:
        raise SpanalysisError(f"another 'spanalysis report' is writing into {out}: wait for "
                              "it to finish, or choose another --out") from None
    try:
        yield
    finally:
        lock.release()


def _build(study, todo_all, out: Path, t0: float, *, force, kernel, timeout, attempts, jobs,
           scheduler, progress, pool, render_time: str, forker_info=None) -> BuildResult:
    """Render the reports that changed and write the index (the output folder is locked)."""
    _clean_partial(out)
    results, todo = _skip_unchanged(todo_all, force)
    print(f"{len(todo_all)} report(s): {len(todo)} to render, "
          f"{len(todo_all) - len(todo)} unchanged", file=sys.stderr)

    index_imports = _import_in_background(_INDEX_MODULES)
    if todo:
        settings = RunSettings(kernel=kernel, timeout=float(timeout), attempts=attempts,
                               repo_dir=str(NOTEBOOKS_DIR.parent), render_time=render_time)
        try:
            _execute(todo, settings, results, jobs=jobs, scheduler=scheduler, out=out,
                     progress=progress, pool=pool, forker_info=forker_info)
        except KeyboardInterrupt:
            raise ReportsInterrupted(
                f"interrupted: {len(results) - (len(todo_all) - len(todo))} of {len(todo)} "
                "report(s) finished; run the same command again to resume (finished "
                "reports are not rendered again)") from None
        finally:
            _clean_partial(out)  # a worker that died mid-write leaves nothing behind

    ordered = [results[j.html.as_posix()] for j in todo_all]
    for r in ordered:
        r.html = str(Path(r.html).relative_to(out).as_posix())
        if r.log:
            r.log = str(Path(r.log).relative_to(out).as_posix())
    result = BuildResult(out, ordered, time.perf_counter() - t0, render_time=render_time)
    index_imports.join()
    _write_index_stably(result, study)
    print(f"{result.count('ok')} rendered, {result.count('skipped')} unchanged, "
          f"{result.count('failed')} failed in {result.seconds:.1f} s; index: "
          f"{out / 'index.html'}", file=sys.stderr)
    return result


#: what the index imports to draw its figure (matplotlib, about half a second): imported
#: while the reports run (this process only waits for them then), not after the last one
_INDEX_MODULES = ("matplotlib.pyplot", "spanalysis.report.main_figures",
                  "spanalysis.report.main_points", "spanalysis.report.index")


def _import_in_background(names) -> threading.Thread:
    """Import ``names`` in a thread of this process; join it before using them. A module
    that fails to import here is imported (and fails, with its own error) where it is used."""
    def run() -> None:
        import importlib

        for name in names:
            with contextlib.suppress(Exception):
                importlib.import_module(name)

    thread = threading.Thread(target=run, name="spanalysis-index-imports", daemon=True)
    thread.start()
    return thread


def _write_index_stably(result: BuildResult, study) -> None:
    """Write the index with SVG ids hashed from a fixed salt (matplotlib's default salt is
    random per run), so that the index's figure is the same bytes in every run. (The index
    itself should save its figure with :func:`spanalysis.report.render.svg_text`, which also
    leaves out the figure's date; this keeps its ids stable meanwhile.)"""
    import matplotlib

    from spanalysis.report.render import SVG_RC

    with matplotlib.rc_context({"svg.hashsalt": SVG_RC["svg.hashsalt"]}):
        write_index(result, study)


def _check_folders_and_limits(study_path, out, *, timeout, jobs) -> tuple[Path, Path]:
    """The study and output folders, absolute; refuses an output inside the study and a
    time limit or number of jobs out of range."""
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
    return study_path, out


def _load_and_plan(study_path: Path, out: Path, *, kernel, sites, study_reports, notebooks_dir,
                   parameters):
    """Load and validate the study, check the kernel, plan the jobs and fingerprint them.

    Everything that can refuse the run happens here, before any notebook starts.
    """
    from spanalysis import integrate
    from spanalysis.report.fingerprints import study_fingerprint
    from spanalysis.study import load_study

    study = load_study(study_path)      # refuse an invalid study before any notebook starts
    problems = integrate.check_study(study)
    if problems:
        raise ValidationError(study.issues + problems)
    check_kernel(kernel)
    todo_all = plan_jobs(study, out, sites=sites, study_reports=study_reports,
                         notebooks_dir=notebooks_dir, parameters=parameters)

    study_fp = study_fingerprint(study_path)
    # named relative to the study folder; a custom instrument kept elsewhere by its file
    # name only, so that no report shows a researcher's folders
    inputs = [{"path": name if not os.path.isabs(name)
               else f"(outside the study folder) {Path(name).name}",
               "sha256": digest, "bytes": (study_path / name).stat().st_size}
              for name, digest in study_fp["files"].items()]
    for job in todo_all:
        job.fingerprint = _fingerprint(job, study_fp, kernel, out)
        job.inputs = inputs
    return study, todo_all


def _skip_unchanged(todo_all: list[ReportJob], force: bool):
    """``(results, todo)``: a "skipped" result for each report whose fingerprint and files
    are unchanged (none with ``force``), and the jobs left to run."""
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
    return results, todo


def _failure_label(exc: BaseException) -> str:
    """What stopped a report that returned no result, labelled by its cause: the worker
    process died (killed, out of memory, a crash in native code: "worker failed"), or the
    job itself raised (an error in running the notebook, named as such)."""
    from concurrent.futures.process import BrokenProcessPool

    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, BrokenProcessPool) or type(exc).__name__ == "KilledWorker":
        return f"worker failed: {text}"
    return f"the notebook could not be run: {text}"


def _execute(todo, settings, results, *, jobs, scheduler, out, progress, pool=None,
             forker_info=None) -> None:
    from tqdm import tqdm

    bar = tqdm(total=len(todo), desc="reports", unit="report", file=sys.stderr,
               disable=not progress, dynamic_ncols=True)
    tally = {"ok": 0, "failed": 0}

    def on_done(job: ReportJob, future) -> None:
        try:
            res = future.result()
        except Exception as exc:   # noqa: BLE001 - the worker died, or the job raised
            res = ReportResult(job.name, job.kind, job.title, str(job.html), "failed",
                               job.site, error=_failure_label(exc), log=str(job.log))
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
            _run_local(todo, settings, workers, on_done, first_pool=pool,
                       forker_info=forker_info)
    finally:
        bar.close()


# =============================================================================================
# Index page
