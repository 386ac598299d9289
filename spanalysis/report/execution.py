"""Running one report: papermill executes its notebook on a fresh kernel, nbconvert renders it.

:func:`run_job` runs in a worker process (papermill changes the working directory, so
threads are unsafe). It retries kernel-start failures (papermill issue #511), stops at the
report's time limit, and writes the HTML, the executed notebook, the log and the run record
beside each other; a failing notebook is reported, never raised.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import json
import os
import re
import secrets
import time
import traceback
from pathlib import Path
from typing import Mapping

from spanalysis.io import WriteError, atomic_write
from spanalysis.report.jobs import ReportJob, ReportResult, RunSettings, _read_summary

__all__ = ["run_job", "is_kernel_start_failure", "stop_kernels"]

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

    class _LoggingKernelManager(AsyncKernelManager):
        async def _async_launch_kernel(self, kernel_cmd, **kw):
            kw.setdefault("stdout", log_handle)
            kw.setdefault("stderr", log_handle)
            info = await super()._async_launch_kernel(kernel_cmd, **kw)
            pid = getattr(self.provisioner, "pid", None)
            if pid:
                _KERNEL_PIDS.add(pid)
            return info

    return _LoggingKernelManager


#: kernels this worker process started and has not yet seen end (see :func:`stop_kernels`)
_KERNEL_PIDS: set[int] = set()


def stop_kernels() -> None:
    """End every kernel this worker started, with its own processes. A kernel runs in its
    own session (jupyter_client starts it so), so neither Ctrl-C at the terminal nor the
    end of the worker reaches it: the worker ends it when the run is stopped."""
    import signal

    for pid in list(_KERNEL_PIDS):
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)
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
    kernel_log = out_dir / f".{job.name}.{token}.kernel.part.log"
    notes: list[str] = [f"{job.title}: started {_now()}"]
    with open(kernel_log, "w", encoding="utf-8", errors="replace") as klog:
        try:
            run = _execute_notebook(job, settings, source_nb, tmp_nb, klog, notes,
                                    deadline=start + settings.timeout)
        finally:
            _KERNEL_PIDS.clear()       # papermill has shut this report's kernel down
    html_text = None
    if run["error"] is None:
        html_text, run["error"], run["tb"] = _render(job, settings, tmp_nb)
    seconds = time.perf_counter() - start
    kernel_text = kernel_log.read_text(encoding="utf-8", errors="replace")
    kernel_log.unlink()
    return _write_outputs(job, run, html_text, tmp_nb, notes, kernel_text, seconds)


def _execute_notebook(job: ReportJob, settings: RunSettings, source_nb, tmp_nb: Path, klog,
                      notes: list[str], *, deadline: float) -> dict:
    """Run the notebook with papermill into ``tmp_nb``, retrying kernel-start failures.

    Returns ``error`` (None when every cell ran), ``cell`` and ``cell_source`` (the failing
    cell), ``tb`` (its traceback) and ``attempts`` (kernel starts tried).
    """
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    error = cell = cell_source = tb = None
    attempts = 0
    while True:
        attempts += 1
        nb = nbformat.from_dict(source_nb)
        try:
            papermill.execute_notebook(
                nb, str(tmp_nb), parameters=job.parameters, kernel_name=settings.kernel,
                cwd=str(job.notebook.parent), progress_bar=False, log_output=False,
                request_save_on_cell_execute=False,
                start_timeout=int(max(1, min(settings.start_timeout,
                                             deadline - time.perf_counter()))),
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
            if isinstance(exc, OSError) and exc.errno in _DISK_ERRORS:
                error = f"could not write {job.executed}: {exc.strerror}"
                break
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
    return {"error": error, "cell": cell, "cell_source": cell_source, "tb": tb,
            "attempts": attempts}


def _render(job: ReportJob, settings: RunSettings, tmp_nb: Path):
    """The executed notebook as HTML with its provenance footer: ``(html, error, traceback)``."""
    import nbformat

    from spanalysis.report import render

    try:
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
