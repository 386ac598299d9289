"""Output safety (issue 19: 16, 17, 19, 20, 21): what the commands write cannot run as a
spreadsheet formula, never lands in the study folder, is not written by two runs at once, and
is written whole or not at all."""
from __future__ import annotations

import contextlib
import csv
from pathlib import Path

import pandas as pd
import pytest
from conftest import folder_digest, replace_in_file

from spanalysis.cli import main
from spanalysis.io import neutralise_formulas, write_table

HOSTILE_COLUMN = '=HYPERLINK("http://x.example")'


def hostile_study(make_study):
    """The tiny study with a participants column whose header and values are formulas."""
    folder = make_study()
    path = folder / "participants.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    quoted = '"' + HOSTILE_COLUMN.replace('"', '""') + '"'
    lines = [lines[0] + "," + quoted] + [line + ",@group" for line in lines[1:]]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def cells(path) -> list[str]:
    with open(path, newline="", encoding="utf-8") as handle:
        return [cell for row in csv.reader(handle) for cell in row]


# ------------------------------------------------------------------ 16: formula neutralising

def test_change_by_a_hostile_column_writes_no_formula(make_study, tmp_path, capsys):
    folder = hostile_study(make_study)
    out = tmp_path / "change.csv"
    assert main(["change", str(folder), "--by", HOSTILE_COLUMN, "--missing", "completers",
                 "--out", str(out)]) == 0
    written = cells(out)
    with open(out, newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    assert header[2] == "'" + HOSTILE_COLUMN          # the header cell, escaped
    assert "'@group" in written
    assert not any(c.startswith(("=", "+", "@", "\t", "\r")) for c in written)
    assert not any(c.startswith("-") and not c.lstrip("-").replace(".", "").isdigit()
                   for c in written)


def test_every_cell_header_and_index_is_neutralised():
    frame = pd.DataFrame({"=a": ["+1", "ok"], "b": pd.Categorical(["-x", "@y"]),
                          "n": [-1, 2], 3: ["\tt", "\rr"]},
                         index=pd.Index(["=i", "j"], name="@idx"))
    out = neutralise_formulas(frame)
    assert list(out.columns) == ["'=a", "b", "n", 3]
    assert out["'=a"].tolist() == ["'+1", "ok"]
    assert out["b"].tolist() == ["'-x", "'@y"]
    assert out["n"].tolist() == [-1, 2]                       # numbers are data
    assert out[3].tolist() == ["'\tt", "'\rr"]
    assert out.index.tolist() == ["'=i", "j"] and out.index.name == "'@idx"
    assert list(frame.columns) == ["=a", "b", "n", 3]         # the input is left alone


def test_write_table_csv_header_escaped(tmp_path):
    path = write_table(pd.DataFrame({"-cmd": ["x"], "+y": [1]}), tmp_path / "t.csv")
    assert cells(path)[:2] == ["'-cmd", "'+y"]


# ------------------------------------------------------------------ 17: never into the study

@pytest.mark.parametrize("command, target", [
    (["score"], "participants.csv"), (["change"], "responses.csv"),
    (["change", "--by", "site"], "service_use.csv"), (["score"], "new/scores.csv"),
    (["score"], "scores.parquet"), (["agreement"], "agreement.csv")])
def test_out_inside_the_study_is_refused(make_study, tmp_path, capsys, command, target):
    folder = make_study()
    before = folder_digest(folder)
    code = main([command[0], str(folder), *command[1:], "--out", str(folder / target)])
    err = capsys.readouterr().err
    assert code == 2
    assert "inside the study folder" in err and "Traceback" not in err
    assert err.count("\n") == 1
    assert folder_digest(folder) == before
    assert not (folder / "new").exists()


def test_out_through_a_link_to_the_study_is_refused(make_study, tmp_path, capsys):
    folder = make_study()
    link = tmp_path / "link"
    link.symlink_to(folder, target_is_directory=True)
    before = folder_digest(folder)
    assert main(["score", str(folder), "--out", str(link / "responses.csv")]) == 2
    assert "inside the study folder" in capsys.readouterr().err
    assert folder_digest(folder) == before


def test_out_equal_to_an_input_outside_the_study_is_refused(make_study, tmp_path, capsys):
    """A custom instrument kept outside the study folder (named in study.yaml by its path)
    is an input too: an output over it is refused, whatever its type."""
    import shutil

    from conftest import REPO

    folder = make_study()
    shared = tmp_path / "shared"
    shared.mkdir()
    definition = shared / "mood5.yaml"
    shutil.copy(REPO / "tests" / "fixtures" / "instruments" / "mood5.yaml", definition)
    replace_in_file(folder / "study.yaml", "sites:",
                    f"custom_instruments: ['{definition}']\nsites:")
    before = folder_digest(shared)
    assert main(["score", str(folder), "--out", str(definition)]) == 2
    err = capsys.readouterr().err
    assert "input file of the study" in err and "Traceback" not in err
    assert folder_digest(shared) == before


# ------------------------------------------------------------------ 19: one run per folder

def test_a_second_report_run_into_the_same_folder_refuses(tmp_path, capsys):
    import time

    from conftest import DEMO
    from filelock import FileLock

    from spanalysis.report.runner import LOCK_NAME

    out = tmp_path / "out"
    out.mkdir()
    with FileLock(out / LOCK_NAME):            # the first run, still writing
        start = time.perf_counter()
        code = main(["report", str(DEMO), "--out", str(out), "--sites", "Riverside PCN",
                     "--study-reports", "no", "--no-progress", "--jobs", "1"])
        waited = time.perf_counter() - start
    err = capsys.readouterr().err
    assert code != 0
    assert f"another 'spanalysis report' is writing into {out.resolve()}" in err
    assert "Traceback" not in err and waited < 30
    assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME]   # nothing written


# ------------------------------------------------------------------ 20: whole files or none

def disk_full(monkeypatch):
    """Writes fail as on a full disk: flushing a file to the disk raises ENOSPC."""
    import errno
    import os

    def fsync(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", fsync)


def test_a_full_disk_is_one_line_and_leaves_no_file(tmp_path, monkeypatch, capsys):
    from conftest import DEMO

    out = tmp_path / "scores.csv"
    out.write_text("the previous scores\n", encoding="utf-8")
    disk_full(monkeypatch)
    code = main(["score", str(DEMO), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    assert err == f"error: could not write {out}: No space left on device\n"
    assert out.read_text(encoding="utf-8") == "the previous scores\n"   # left as it was
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.csv"]  # no temporary file


def test_a_read_only_folder_is_one_line(tmp_path, monkeypatch, capsys):
    import errno
    import os

    from conftest import DEMO

    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(os, "open", refuse)
    out = tmp_path / "change.csv"
    assert main(["change", str(DEMO), "--out", str(out)]) == 1
    assert capsys.readouterr().err == f"error: could not write {out}: Read-only file system\n"
    assert not out.exists()


def test_write_error_is_still_an_oserror(tmp_path, monkeypatch):
    import errno

    from spanalysis.io import WriteError, atomic_write

    disk_full(monkeypatch)
    with pytest.raises(OSError) as info, atomic_write(tmp_path / "x.json") as handle:
        handle.write("{}")
    assert isinstance(info.value, WriteError) and info.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []


def report_job(out):
    from spanalysis.report.jobs import ReportJob

    base = out / "sites"
    base.mkdir(parents=True, exist_ok=True)
    return ReportJob(name="riverside-pcn", kind="site", title="Site report: Riverside PCN",
                     notebook=out / "site_report.ipynb", parameters={}, site="Riverside PCN",
                     html=base / "riverside-pcn.html", executed=base / "riverside-pcn.ipynb",
                     log=base / "riverside-pcn.log", summary=base / "riverside-pcn.summary.json",
                     record=base / "riverside-pcn.run.json", fingerprint="f")


def finished_run():
    return {"error": None, "cell": None, "cell_source": None, "tb": None, "attempts": 1}


def test_a_report_whose_html_cannot_be_written(tmp_path, monkeypatch):
    """The disk fills while the HTML is written: the report fails naming the file and the
    cause (not "worker failed"), no part of it is left as finished, no temporary file stays,
    and the index still lists it with the report that did finish."""
    import json

    from conftest import DEMO

    from spanalysis.report.execution import _write_outputs
    from spanalysis.report.index import write_index
    from spanalysis.report.jobs import BuildResult, ReportResult
    from spanalysis.study import load_study

    out = tmp_path / "out"
    job = report_job(out)
    for old in (job.html, job.record, job.summary):     # a previous run's report
        old.write_text("old", encoding="utf-8")
    tmp_nb = job.html.parent / ".riverside-pcn.1234.part.ipynb"
    tmp_nb.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4,
                                  "nbformat_minor": 5}), encoding="utf-8")
    disk_full(monkeypatch)
    result = _write_outputs(job, finished_run(), "<html></html>", tmp_nb, [], "", 1.0)
    monkeypatch.undo()
    assert result.status == "failed"
    assert result.error == f"could not write {job.html}: No space left on device"
    assert not job.html.exists() and not job.record.exists() and not job.summary.exists()
    assert [p for p in out.rglob("*") if ".part" in p.name] == []
    assert job.executed.is_file()                 # the complete executed notebook is kept

    other = ReportResult("01_data_quality", "study", "Data quality", "study/01.html", "ok")
    result.html = "sites/riverside-pcn.html"
    write_index(BuildResult(out, [other, result], 2.0), load_study(DEMO))
    index = json.loads((out / "index.json").read_text(encoding="utf-8"))
    assert [(r["name"], r["status"]) for r in index["reports"]] == [
        ("01_data_quality", "ok"), ("riverside-pcn", "failed")]
    assert "could not write" in (out / "index.html").read_text(encoding="utf-8")


def test_an_empty_executed_notebook_is_never_moved_into_place(tmp_path):
    """papermill could not save the executed notebook (0 bytes on a full disk): it is
    removed, not moved over the analysts' copy."""
    from spanalysis.report.execution import _write_outputs

    job = report_job(tmp_path / "out")
    job.executed.write_text('{"cells": []}', encoding="utf-8")     # the last good copy
    tmp_nb = job.html.parent / ".riverside-pcn.1234.part.ipynb"
    tmp_nb.write_bytes(b"")
    run = dict(finished_run(), error=f"could not write {job.executed}: No space left on device")
    result = _write_outputs(job, run, None, tmp_nb, [], "", 1.0)
    assert result.status == "failed" and result.error.startswith("could not write")
    assert job.executed.read_text(encoding="utf-8") == '{"cells": []}'
    assert not tmp_nb.exists()
    assert "was not written completely" in job.log.read_text(encoding="utf-8")


# ------------------------------------------------------------------ 21: Ctrl-C

INTERRUPTED_RUN = """
import signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)   # a background job ignores Ctrl-C
from spanalysis.report import runner
runner.build_reports.__kwdefaults__["notebooks_dir"] = sys.argv[1]
from spanalysis.cli import main
sys.exit(main(["report", sys.argv[2], "--out", sys.argv[3], "--sites", "Riverside PCN",
               "--jobs", "2", "--no-progress", "--timeout", "300"]))
"""


def descendants(pid: int) -> list[int]:
    import psutil

    try:
        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def is_kernel(pid: int) -> bool:
    """Whether process ``pid`` is a kernel: started as ``-m ipykernel_launcher``, or forked
    by the run's kernel forker (its command line is then the forker's)."""
    import psutil

    try:
        process = psutil.Process(pid)
        if "ipykernel" in " ".join(process.cmdline()):
            return True
        parent = process.parent()
        return parent is not None and "spanalysis.report.forker" in " ".join(parent.cmdline())
    except psutil.Error:
        return False


def test_ctrl_c_during_a_run(tmp_path):
    """Ctrl-C while one report is still running: one line saying how many finished and that
    a rerun resumes, no traceback, and every worker process and kernel ends with the run."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import psutil
    from conftest import DEMO, fixture_notebooks

    nbs = fixture_notebooks("slow", tmp_path / "notebooks")        # 01: sleeps 120 s
    fixture_notebooks("ok", tmp_path / "ok")
    (tmp_path / "ok" / "site_report.ipynb").rename(nbs / "site_report.ipynb")
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-c", INTERRUPTED_RUN, str(nbs), str(DEMO),
                             str(out)], stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    children: list[int] = []
    try:
        lines = interrupt_when_one_finished(proc, children)
    finally:
        if proc.poll() is None:                 # the run did not stop: end it for the suite
            os.killpg(proc.pid, signal.SIGKILL)
    err = "".join(lines)
    assert proc.returncode == 130
    assert "Traceback" not in err, err
    assert lines[-1] == ("interrupted: 1 of 2 report(s) finished; run the same command again "
                         "to resume (finished reports are not rendered again)\n"), err
    time.sleep(3)
    left = [p for p in children if psutil.pid_exists(p)
            and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    for pid in left:                            # (for the rest of the suite)
        os.kill(pid, signal.SIGKILL)
    assert left == []


def interrupt_when_one_finished(proc, children: list[int]) -> list[str]:
    """Ctrl-C (SIGINT to the process group, as a terminal sends it) once the site report
    finished and the study report is running; the lines the run printed. ``children``
    receives the run's processes (workers and kernel) as they were then."""
    import os
    import signal
    import threading
    import time

    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
    reader.start()
    deadline = time.monotonic() + 120
    while not any(line.startswith("ok") for line in lines) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert any(line.startswith("ok") for line in lines), "".join(lines)
    time.sleep(2)                    # the study notebook is running in its kernel now
    children[:] = descendants(proc.pid)
    assert len(children) >= 3        # two worker processes and the running kernel
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(timeout=60)
    reader.join(timeout=10)
    return lines


def test_workers_end_when_the_parent_is_killed(tmp_path):
    """The run is killed outright (SIGKILL: no clean-up in the parent): its worker
    processes notice within seconds and end, with the kernel they started."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import psutil
    from conftest import DEMO, fixture_notebooks

    nbs = fixture_notebooks("slow", tmp_path / "notebooks")
    proc = subprocess.Popen([sys.executable, "-c", INTERRUPTED_RUN.replace(
        '"Riverside PCN"', '"none"'), str(nbs), str(DEMO), str(tmp_path / "out")],
        stderr=subprocess.PIPE, text=True, start_new_session=True)
    children: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not any(
                is_kernel(p) for p in descendants(proc.pid)):
            time.sleep(0.5)
        children[:] = descendants(proc.pid)
        assert any(is_kernel(p) for p in children)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        time.sleep(5)
        left = [p for p in children if psutil.pid_exists(p)
                and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    finally:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert len(children) >= 2 and left == []


def test_failures_are_labelled_by_cause():
    from concurrent.futures.process import BrokenProcessPool

    from spanalysis.report.runner import _failure_label

    assert _failure_label(BrokenProcessPool("gone")).startswith("worker failed: ")
    assert _failure_label(ValueError("bad cell")) == (
        "the notebook could not be run: ValueError: bad cell")


def test_validate_prints_the_first_50_problems_and_counts_the_rest(tmp_path, capsys):
    """Issue 19 (26): a file with thousands of problems printed every one (10^6 lines for a
    10^6-column header). validate prints the first 50 errors and says how many more; --all
    and --json give every one."""
    import shutil

    from spanalysis.cli import main

    study = tmp_path / "study"
    shutil.copytree(Path(__file__).resolve().parents[1] / "data" / "demo", study)
    sources = study / "qualitative" / "sources.csv"
    sources.write_text(sources.read_text(encoding="utf-8").splitlines()[0] + "\n")
    assert main(["validate", str(study)]) == 2
    err = capsys.readouterr().err.splitlines()
    errors = [line for line in err if line.startswith("error: ")]
    assert len(errors) == 50
    more = [line for line in err if line.startswith("... and ")]
    assert len(more) == 1
    n_more = int(more[0].split()[2])
    assert n_more > 0
    assert main(["validate", str(study), "--all"]) == 2
    everything = capsys.readouterr()
    assert len([ln for ln in everything.err.splitlines() if ln.startswith("error: ")]) \
        == 50 + n_more
    assert f"{50 + n_more} error(s)" in everything.out
