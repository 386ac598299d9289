"""Running one report: papermill executes its notebook on the worker's warm kernel, nbconvert
renders it.

:func:`run_job` runs in a worker process (papermill changes the working directory, so
threads are unsafe). It retries kernel-start failures (papermill issue #511), stops at the
report's time limit, and writes the HTML, the executed notebook, the log and the run record
beside each other; a failing notebook is reported, never raised.

**Warm kernels** (issue 24, 1). Each worker keeps one kernel and papermill runs report after
report on it, through papermill's own engine API (an engine registered as
``"spanalysis-warm"``: papermill's nbclient engine given the worker's kernel instead of
starting one), so the executed notebook is papermill's output as before. Before each
notebook the kernel is reset (:func:`spanalysis.report.kernel.reset_kernel`, a silent
request, not a cell): an empty namespace, no figures, the settings it started with. A
kernel that dies, runs out of time or fails a report is ended, and the next report starts
a new one. Starting a kernel and importing pandas, matplotlib, SciPy and spanalysis in it
(about 4 s of CPU) are then paid once per worker instead of once per report (and, with the
local pool's kernel forker, :mod:`spanalysis.report.forker`, once per run), and the
package's content-keyed caches (the disclosure control of the study's tables by site,
which every site report shares) are computed once per worker.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import json
import os
import re
import secrets
import threading
import time
import traceback
from pathlib import Path
from typing import Mapping

from spanalysis.io import WriteError, atomic_write
from spanalysis.report.jobs import ReportJob, ReportResult, RunSettings, _read_summary

__all__ = ["run_job", "is_kernel_start_failure", "stop_kernels", "WARM_ENGINE",
           "start_warm_kernel"]

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
#: errors of a disk that takes no more (full, read-only, over quota): papermill failing to
#: save the executed notebook is reported as a write of that file
_DISK_ERRORS = {errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EACCES}


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

    from spanalysis.report import forker

    class _LoggingKernelManager(AsyncKernelManager):
        async def _async_launch_kernel(self, kernel_cmd, **kw):
            kw.setdefault("stdout", log_handle)
            kw.setdefault("stderr", log_handle)
            pid, reason = forker.launch(FORKER, kernel_cmd, env=kw.get("env"),
                                        cwd=kw.get("cwd"), stdout=kw["stdout"],
                                        stderr=kw["stderr"])
            if pid is None:
                if reason:
                    log_handle.write(f"[spanalysis] kernel started without the kernel "
                                     f"forker: {reason}\n")
                    log_handle.flush()
                info = await super()._async_launch_kernel(kernel_cmd, **kw)
            else:
                # as the local provisioner's launch_kernel, with the forked process
                provisioner = self.provisioner
                provisioner.process = forker.ForkedKernel(pid)
                provisioner.pid = provisioner.pgid = pid    # it leads its own session
                provisioner.cwd = kw.get("cwd") or os.getcwd()
                info = self._reconcile_connection_info(provisioner.connection_info)
            pid = getattr(self.provisioner, "pid", None)
            if pid:
                _KERNEL_PIDS.add(pid)
            return info

    return _LoggingKernelManager


#: kernels this worker process started and has not yet seen end (see :func:`stop_kernels`)
_KERNEL_PIDS: set[int] = set()

#: this worker's kernel forker (:attr:`spanalysis.report.forker.Forker.info`), or None:
#: kernels are then started by jupyter_client (set by the local pool's worker start-up)
FORKER: tuple[str, list[str]] | None = None


def stop_kernels() -> None:
    """End every kernel this worker started, with its own processes. A kernel runs in its
    own session (jupyter_client starts it so), so neither Ctrl-C at the terminal nor the
    end of the worker reaches it: the worker ends it when the run is stopped."""
    from spanalysis.report.forker import kill_kernel

    for pid in list(_KERNEL_PIDS):
        kill_kernel(pid)
        _KERNEL_PIDS.discard(pid)


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

    The notebook runs as it is: papermill adds only its visible injected-parameters cell.
    Returns a :class:`ReportResult`; never raises for a failing notebook. On failure the
    executed notebook (with papermill's error banner) and the log are kept, and no HTML,
    summary or record of a previous run is left behind for this report.
    """
    import nbformat

    start = time.perf_counter()
    out_dir = job.html.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    source_nb = nbformat.read(job.notebook, as_version=4)
    token = secrets.token_hex(4)
    tmp_nb = out_dir / f".{job.name}.{token}.part.ipynb"
    notes: list[str] = [f"{job.title}: started {_now()}"]
    kernel_text: list[str] = []
    run = _execute_notebook(job, settings, source_nb, tmp_nb, notes, kernel_text,
                            deadline=start + settings.timeout)
    html_text = None
    if run["error"] is None:
        html_text, run["error"], run["tb"] = _render(job, settings, tmp_nb, run.pop("nb", None))
    seconds = time.perf_counter() - start
    return _write_outputs(job, run, html_text, tmp_nb, notes, "".join(kernel_text), seconds)


# =============================================================================================
# The worker's warm kernel
# =============================================================================================

class _WarmKernel:
    """One running kernel of this worker: its manager, client and log file.

    The kernel's own stdout and stderr go to a file of the worker's; each report's log gets
    what the kernel wrote while that report ran (:meth:`output_since`).
    """

    def __init__(self, kernel_name: str, cwd: str, start_timeout: float):
        import tempfile

        import nbformat
        from nbclient import NotebookClient

        self.kernel_name, self.cwd = kernel_name, cwd
        fd, self.log_path = tempfile.mkstemp(prefix="spanalysis-kernel-", suffix=".log")
        self.log = os.fdopen(fd, "w", encoding="utf-8", errors="replace")
        self.reports = 0
        # nbclient starts it exactly as it starts a notebook's kernel (the same arguments,
        # an in-memory history), then hands over its manager and client
        starter = NotebookClient(nbformat.v4.new_notebook(), kernel_name=kernel_name,
                                 kernel_manager_class=_kernel_manager_class(self.log),
                                 startup_timeout=int(max(1, start_timeout)),
                                 resources={"metadata": {"path": cwd}})
        try:
            starter.km = starter.create_kernel_manager()
            starter.start_new_kernel(cwd=cwd)
            starter.start_new_kernel_client()
        except BaseException:
            self._forget_pid(starter.km)
            self.log.close()
            with contextlib.suppress(OSError):
                os.unlink(self.log_path)
            raise
        self.km, self.kc = starter.km, starter.kc

    @staticmethod
    def _forget_pid(km) -> None:
        pid = getattr(getattr(km, "provisioner", None), "pid", None)
        if pid:
            from spanalysis.report.forker import kill_kernel

            kill_kernel(pid)
            _KERNEL_PIDS.discard(pid)

    def log_offset(self) -> int:
        self.log.flush()
        return os.path.getsize(self.log_path)

    def output_since(self, offset: int) -> str:
        self.log.flush()
        with open(self.log_path, encoding="utf-8", errors="replace") as handle:
            handle.seek(offset)
            return handle.read()

    def alive(self) -> bool:
        from jupyter_core.utils import run_sync

        try:
            return bool(run_sync(self.km.is_alive)())
        except Exception:   # noqa: BLE001 - a manager that cannot tell is not trusted
            return False

    def reset(self, cwd: str, timeout: float) -> None:
        """Run :func:`spanalysis.report.kernel.reset_kernel` in the kernel (silently: no
        output, no history); raise when it does not answer "ok" within ``timeout``."""
        from jupyter_core.utils import run_sync

        code = ("__import__('spanalysis.report.kernel', fromlist=['reset_kernel'])"
                f".reset_kernel({cwd!r})")
        reply = run_sync(self.kc.execute_interactive)(
            code, silent=True, store_history=False, allow_stdin=False,
            timeout=max(1.0, timeout), output_hook=lambda _msg: None)
        content = reply.get("content", {})
        if content.get("status") != "ok":
            raise RuntimeError(f"the warm kernel could not be reset: "
                               f"{content.get('ename')}: {content.get('evalue')}")

    def shutdown(self) -> None:
        """End the kernel at once (its process group) and free its channels and files."""
        from jupyter_core.utils import run_sync

        with contextlib.suppress(Exception):
            self.kc.stop_channels()
        with contextlib.suppress(Exception):
            run_sync(self.km.shutdown_kernel)(now=True)
        self._forget_pid(self.km)
        with contextlib.suppress(Exception):
            run_sync(self.km.cleanup_resources)()
        with contextlib.suppress(OSError):
            self.log.close()
            os.unlink(self.log_path)


#: this worker thread's warm kernel (a Dask worker may run tasks in several threads)
_WARM = threading.local()


def _usable_warm_kernel(settings: RunSettings) -> "_WarmKernel | None":
    """This worker's kernel when it is running and is ``settings.kernel``; else None (a
    dead or other kernel is ended first)."""
    warm = getattr(_WARM, "kernel", None)
    if warm is not None and (warm.kernel_name != settings.kernel or not warm.alive()):
        _discard_warm_kernel()
        warm = None
    return warm


def _start_warm_kernel(settings: RunSettings, cwd: str, start_timeout: float) -> _WarmKernel:
    """Start this worker's kernel (there is none)."""
    warm = _WarmKernel(settings.kernel, cwd, start_timeout)
    _WARM.kernel = warm
    _register_exit()
    return warm


def _discard_warm_kernel() -> None:
    warm = getattr(_WARM, "kernel", None)
    _WARM.kernel = None
    if warm is not None:
        warm.shutdown()


def start_warm_kernel(kernel: str, cwd: str | os.PathLike, start_timeout: float = 60.0
                      ) -> bool:
    """Start this worker's warm kernel and reset it once (its imports), ahead of the first
    report: the worker processes do this while the parent loads the study. False (and no
    kernel) when it could not start: the first report then starts one, with its retries."""
    try:
        warm = (_usable_warm_kernel(RunSettings(kernel=kernel))
                or _start_warm_kernel(RunSettings(kernel=kernel), str(cwd), start_timeout))
        warm.reset(str(cwd), start_timeout)
        return True
    except Exception as exc:  # noqa: BLE001 - the first report that needs a kernel says so
        _discard_warm_kernel()
        if is_kernel_start_failure(exc):   # counts as that report's first attempt
            _EARLY_FAILURES.append(f"{type(exc).__name__}: {exc}".strip())
        return False


#: a kernel start that failed when this worker started (:func:`start_warm_kernel`): the
#: first report that starts a kernel counts it as its first attempt and says so in its log
_EARLY_FAILURES: list[str] = []


_EXIT_REGISTERED = False


def _register_exit() -> None:
    """End the warm kernel when the worker ends: normally (multiprocessing runs its
    finalizers, not ``atexit``, in a pool's worker), or as a Dask worker (``atexit``)."""
    global _EXIT_REGISTERED
    if _EXIT_REGISTERED:
        return
    import atexit
    from multiprocessing import util

    util.Finalize(None, stop_kernels, exitpriority=100)
    atexit.register(stop_kernels)
    _EXIT_REGISTERED = True


def _warm_engine_class():
    """papermill's nbclient engine, run on a kernel that is already running.

    Made on first use (importing papermill costs the report command's parent process half a
    second). Its ``execute_managed_notebook`` is papermill's
    ``NBClientEngine.execute_managed_notebook`` with the notebook client given the warm
    kernel's manager and client (``km``, ``kc``): nbclient then starts no kernel and, not
    owning the manager, leaves the kernel running after the last cell. Everything else is
    papermill's: the parameters cell, the cell metadata, the error banner, the saved
    notebook."""
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, logger
    from papermill.utils import merge_kwargs, remove_args

    class WarmEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False,
                                     stdout_file=None, stderr_file=None, start_timeout=60,
                                     execution_timeout=None, warm_kernel=None, **kwargs):
            if warm_kernel is None:
                return super().execute_managed_notebook(
                    nb_man, kernel_name, log_output=log_output, stdout_file=stdout_file,
                    stderr_file=stderr_file, start_timeout=start_timeout,
                    execution_timeout=execution_timeout, **kwargs)
            # as NBClientEngine.execute_managed_notebook (papermill 2.x)
            kwargs = remove_args(["input_path"], **kwargs)
            safe_kwargs = remove_args(["timeout", "startup_timeout"], **kwargs)
            final_kwargs = merge_kwargs(
                safe_kwargs,
                timeout=execution_timeout if execution_timeout else kwargs.get("timeout"),
                startup_timeout=start_timeout, kernel_name=kernel_name, log=logger,
                log_output=log_output, stdout_file=stdout_file, stderr_file=stderr_file)
            client = PapermillNotebookClient(nb_man, km=warm_kernel.km, **final_kwargs)
            client.kc = warm_kernel.kc
            return client.execute()

    return WarmEngine


#: the name the warm engine is registered under with papermill
WARM_ENGINE = "spanalysis-warm"


def _register_engine() -> None:
    from papermill.engines import papermill_engines

    if WARM_ENGINE not in papermill_engines._engines:
        papermill_engines.register(WARM_ENGINE, _warm_engine_class())


def _execute_notebook(job: ReportJob, settings: RunSettings, source_nb, tmp_nb: Path,
                      notes: list[str], kernel_text: list[str], *, deadline: float) -> dict:
    """Run the notebook with papermill into ``tmp_nb`` on the worker's warm kernel (started,
    with retries of kernel-start failures, when there is none).

    Returns ``error`` (None when every cell ran), ``cell`` and ``cell_source`` (the failing
    cell), ``tb`` (its traceback) and ``attempts`` (kernel starts tried). The kernel is kept
    for the next report only when every cell ran; otherwise it is ended.
    """
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    _register_engine()
    cwd = str(job.notebook.parent)
    error = cell = cell_source = tb = executed = None
    attempts = 0
    if getattr(_WARM, "kernel", None) is None:
        for early in _EARLY_FAILURES:
            attempts += 1
            notes.append(f"kernel start attempt {attempts} failed (when the worker started): "
                         f"{early}; retrying")
        _EARLY_FAILURES.clear()
    warm = None
    offset = 0
    while True:
        nb = nbformat.from_dict(source_nb)
        try:
            left = deadline - time.perf_counter()
            warm = _usable_warm_kernel(settings)
            if warm is None:
                attempts += 1
                warm = _start_warm_kernel(settings, cwd,
                                          max(1, min(settings.start_timeout, left)))
            else:
                notes.append(f"on the worker's warm kernel (report {warm.reports + 1} on it)")
            # the first report on a kernel gets what it wrote as it started (and how it was
            # started: spanalysis.report.forker), the others what it wrote meanwhile
            offset = warm.log_offset() if warm.reports else 0
            warm.reset(cwd, max(1, min(settings.start_timeout, left)))
            executed = papermill.execute_notebook(
                nb, str(tmp_nb), parameters=job.parameters, kernel_name=settings.kernel,
                cwd=cwd, progress_bar=False, log_output=False,
                request_save_on_cell_execute=False, engine_name=WARM_ENGINE,
                warm_kernel=warm,
                start_timeout=int(max(1, min(settings.start_timeout,
                                             deadline - time.perf_counter()))),
                # the time limit is per report: each cell gets what is left of it
                timeout_func=lambda _cell: max(1, int(deadline - time.perf_counter())))
            error = None
            warm.reports += 1
            break
        except PapermillExecutionError as exc:
            error = f"{exc.ename}: {exc.evalue}"
            cell, cell_source = _failed_cell(source_nb, exc.source)
            tb = _ANSI.sub("", "\n".join(exc.traceback or []))
            break
        except Exception as exc:   # noqa: BLE001 - kernel start, time limit, ...
            error = f"{type(exc).__name__}: {exc}".strip()
            tb = traceback.format_exc()
            if isinstance(exc, OSError) and exc.errno in _DISK_ERRORS:
                error = f"could not write {job.executed}: {exc.strerror}"
                break
            if type(exc).__name__ == "CellTimeoutError" or time.perf_counter() >= deadline:
                error = (f"time limit of {settings.timeout:g} s per report reached "
                         f"({error.splitlines()[0]})")
                break
            if is_kernel_start_failure(exc) and attempts < settings.attempts:
                notes.append(f"kernel start attempt {attempts} failed: {error}; retrying")
                _collect_output(warm, offset, kernel_text)
                _discard_warm_kernel()
                warm = None
                time.sleep(0.25 * attempts)      # let the ports / the machine settle
                continue
            if is_kernel_start_failure(exc):
                error = f"the kernel failed to start ({attempts} attempts): {error}"
            break
    _collect_output(warm, offset, kernel_text)
    if error is not None:
        # a kernel that failed a report (died, timed out mid-cell, raised) is not reused
        _discard_warm_kernel()
    return {"error": error, "cell": cell, "cell_source": cell_source, "tb": tb,
            "attempts": attempts, "nb": executed if error is None else None}


def _collect_output(warm: "_WarmKernel | None", offset: int, kernel_text: list[str]) -> None:
    if warm is not None and getattr(_WARM, "kernel", None) is warm:
        with contextlib.suppress(OSError, ValueError):
            kernel_text.append(warm.output_since(offset))


def _render(job: ReportJob, settings: RunSettings, tmp_nb: Path, executed=None):
    """The executed notebook as HTML with its provenance footer: ``(html, error, traceback)``.

    ``executed``: the notebook papermill returned (what it saved as ``tmp_nb``); read from
    ``tmp_nb`` when not given."""
    import nbformat

    from spanalysis.report import render

    try:
        if executed is None:
            executed = nbformat.read(tmp_nb, as_version=4)
        provenance = render.collect_provenance([], _public_parameters(job.parameters),
                                               repo_dir=settings.repo_dir,
                                               run_date=settings.render_time)
        provenance["input_files"] = list(job.inputs)
        index_href, related = _links(job)
        return (render.notebook_to_html(executed, title=job.title, subtitle=job.subtitle,
                                        provenance=provenance, index_href=index_href,
                                        related=related), None, None)
    except Exception as exc:   # noqa: BLE001 - a rendering failure is this report's failure
        return None, f"rendering failed: {type(exc).__name__}: {exc}", traceback.format_exc()


def _links(job: ReportJob) -> tuple[str, list[tuple[str, str, str]]]:
    """The report's links to the index (``<out>/index.html``; reports are in ``<out>/study``
    and ``<out>/sites``) and, for a whole-study report, to the study reports before and after
    it in reading order (all of them are built when one is: see ``plan_jobs``)."""
    from spanalysis.report.jobs import STUDY_NOTEBOOKS, _notebook_title

    index_href = Path(os.path.relpath(job.html.parent.parent / "index.html",
                                      job.html.parent)).as_posix()
    related: list[tuple[str, str, str]] = []
    if job.kind != "study" or job.name not in STUDY_NOTEBOOKS:
        return index_href, related
    present = [n for n in STUDY_NOTEBOOKS if (job.notebook.parent / f"{n}.ipynb").is_file()]
    at = present.index(job.name) if job.name in present else -1
    for relation, other in (("Previous report", at - 1), ("Next report", at + 1)):
        if at >= 0 and 0 <= other < len(present):
            name = present[other]
            related.append((relation, _notebook_title(job.notebook.parent / f"{name}.ipynb"),
                            f"{name}.html"))
    return index_href, related


def _write_outputs(job: ReportJob, run: dict, html_text: str | None, tmp_nb: Path,
                   notes: list[str], kernel_text: str, seconds: float) -> ReportResult:
    """Keep the executed notebook, write the HTML (or remove a previous run's), the log and
    the run record (last: it marks the report complete), and say what happened.

    A write that fails (disk full, read-only folder) makes this report fail with the file
    and the cause (:class:`~spanalysis.io.WriteError`), leaving none of its HTML, summary
    or record behind, so the index and a rerun see it as not finished."""
    from spanalysis.report import render

    _keep_executed_notebook(tmp_nb, job.executed, notes)
    try:
        if run["error"] is None:
            render.write_html_atomic(html_text, job.html)
        else:
            _remove_outputs(job)
        notes.append(f"{job.title}: ended {_now()}")
        _write_log(job, run, notes, kernel_text, seconds)
        if run["error"] is None:
            # last: marks the report complete. Only what the report depends on: the times
            # and durations of this run are in the log, so that two runs on the same inputs
            # write the same record (issue 24, 2)
            with atomic_write(job.record) as handle:
                json.dump({"fingerprint": job.fingerprint}, handle, indent=2)
    except WriteError as exc:
        with contextlib.suppress(OSError):
            _remove_outputs(job)
        run = dict(run, error=str(exc), cell=None, cell_source=None, tb=None)
        with contextlib.suppress(OSError):       # the log too, if the disk takes it
            _write_log(job, run, notes, kernel_text, seconds)
    error = run["error"]
    summary = _read_summary(job.summary) if error is None else None
    return ReportResult(job.name, job.kind, job.title, str(job.html),
                        "failed" if error else "ok", job.site, seconds, run["attempts"], error,
                        run["cell"], run["cell_source"], str(job.log), summary)


def _keep_executed_notebook(tmp_nb: Path, executed: Path, notes: list[str]) -> None:
    """Move the executed notebook into place when papermill wrote it whole; a partial or
    empty one (the disk filled while papermill wrote it) is removed, never moved."""
    if not tmp_nb.exists():
        return
    try:
        complete = isinstance(json.loads(tmp_nb.read_text(encoding="utf-8")).get("cells"),
                              list)
    except (OSError, ValueError, AttributeError):
        complete = False
    try:
        if complete:         # papermill writes it at the end: keep it for analysts
            os.replace(tmp_nb, executed)
            return
        notes.append(f"the executed notebook {executed.name} was not written completely")
    except OSError as exc:
        notes.append(f"could not write {executed}: {exc.strerror or exc}")
    with contextlib.suppress(OSError):
        tmp_nb.unlink()


def _remove_outputs(job: ReportJob) -> None:
    """A failed report keeps no HTML, summary or record of a previous run."""
    for stale in (job.html, job.record, job.summary):
        with contextlib.suppress(FileNotFoundError, IsADirectoryError):  # not ours to remove
            stale.unlink()


def _write_log(job: ReportJob, run: dict, notes: list[str], kernel_text: str,
               seconds: float) -> None:
    error, cell, cell_source = run["error"], run["cell"], run["cell_source"]
    lines = notes + [f"kernel start attempts: {run['attempts']}",
                     f"{'failed' if error else 'finished'} after {seconds:.1f} s"]
    if error:
        where = f" in cell {cell} ({cell_source})" if cell or cell_source else ""
        lines += [f"ERROR{where}: {error}", "", run["tb"] or ""]
    if kernel_text.strip():
        lines += ["", "kernel output:", kernel_text]
    with atomic_write(job.log) as handle:
        handle.write("\n".join(lines) + "\n")


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
