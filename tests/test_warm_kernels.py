"""Warm kernels (issue 24, 1): one kernel per worker runs report after report.

What a report shows must not depend on what ran before it on the same kernel: nothing of
one site reaches the next (names, numbers, variables, figures, settings), the kernel is
reset to what a fresh kernel holds, a kernel that dies or runs out of time is replaced and
the next report still renders, and a site report rendered after others on a warm kernel is
byte for byte the one a fresh kernel renders (the reference: the same report rendered as the
first and only report of a run, on a kernel that has run nothing before).
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import nbformat

from conftest import DEMO

from spanalysis import report as rp

A, B = "Riverside PCN", "Hillview PCN"
SLUG_A, SLUG_B = "riverside-pcn", "hillview-pcn"


def probe_notebooks(folder: Path, body: str) -> Path:
    """A site report notebook of three cells: a title, the parameters, ``body``."""
    folder.mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('study = ""\nsite = ""\nsummary_path = ""')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# Probe"), params,
                nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "spanalysis", "display_name": "spanalysis",
                                 "language": "python"}
    nbformat.write(nb, folder / f"{rp.SITE_NOTEBOOK}.ipynb")
    return folder


def log_of(out: Path, slug: str) -> str:
    return (out / "sites" / f"{slug}.log").read_text("utf-8")


# What the probe records, and leaves behind for the next report on the same kernel to find:
# a variable, an open figure, a changed matplotlib setting, a changed pandas option, an
# environment variable, a module on sys.path, a changed working folder and a warning filter.
PROBE = """\
import json, os, sys, warnings
import matplotlib, matplotlib.pyplot as plt
import pandas as pd
seen = {
    "leaked": sorted(n for n in ("previous_site", "previous_numbers") if n in globals()),
    "open_figures": plt.get_fignums(),
    "linewidth": matplotlib.rcParams["lines.linewidth"],
    "precision": pd.get_option("display.precision"),
    "env": os.environ.get("PROBE_PREVIOUS_SITE"),
    "path": [p for p in sys.path if p.endswith("probe-path")],
    "cwd": os.getcwd(),
    "count": get_ipython().execution_count,
    "ignored": any(f[0] == "ignore" and f[2] is UserWarning for f in warnings.filters),
}
warnings.warn("probe warning, shown in every report")
print("this report is for", site)
previous_site, previous_numbers = site, [len(site) * 1111 + 7, 424242 + len(site)]
print("numbers", previous_numbers)
plt.figure()
matplotlib.rcParams["lines.linewidth"] = 7.5
pd.set_option("display.precision", 2)
os.environ["PROBE_PREVIOUS_SITE"] = site
sys.path.append("/nowhere/probe-path")
os.chdir("/")
warnings.simplefilter("ignore", UserWarning)
json.dump(seen, open(summary_path, "w"))
"""


def test_nothing_leaks_from_one_site_into_the_next(tmp_path):
    nbs = probe_notebooks(tmp_path / "notebooks", PROBE)
    out = tmp_path / "out"
    result = rp.build_reports(DEMO, out, notebooks_dir=nbs, sites=f"{A},{B}", jobs=1,
                              progress=False)
    assert result.ok, [r.error for r in result.results]
    first, second = (r.summary for r in result.results)
    # the second report ran on the kernel the first one used
    assert "warm kernel (report 2 on it)" in log_of(out, SLUG_B)
    assert "kernel start attempts: 0" in log_of(out, SLUG_B)
    import matplotlib

    default_linewidth = matplotlib.rcParamsDefault["lines.linewidth"]
    for seen in (first, second):
        assert seen["leaked"] == [] and seen["open_figures"] == []
        assert seen["linewidth"] == default_linewidth      # matplotlib's default, 1.5
        assert seen["precision"] == 6                      # pandas' default
        assert seen["env"] is None and seen["path"] == []
        assert seen["cwd"] == str(nbs) and seen["ignored"] is False
    assert first == second
    # and both are what papermill's own engine records on a fresh kernel of its own
    import papermill

    papermill.execute_notebook(str(nbs / f"{rp.SITE_NOTEBOOK}.ipynb"), str(tmp_path / "p.ipynb"),
                               parameters={"study": str(DEMO), "site": B,
                                           "summary_path": str(tmp_path / "fresh.json")},
                               kernel_name="spanalysis", cwd=str(nbs), progress_bar=False)
    assert second == json.loads((tmp_path / "fresh.json").read_text("utf-8"))
    # site B's files hold no trace of site A; the warning A saw is shown to B as well
    for suffix in (".html", ".ipynb"):
        text = (out / "sites" / f"{SLUG_B}{suffix}").read_text("utf-8")
        assert A not in text, suffix
        assert str(len(A) * 1111 + 7) not in text and str(424242 + len(A)) not in text
        assert f"numbers [{len(B) * 1111 + 7}, {424242 + len(B)}]" in text
        assert f"this report is for {B}" in text
        assert "probe warning, shown in every report" in text
    executed = nbformat.read(out / "sites" / f"{SLUG_B}.ipynb", as_version=4)
    counts = [c.execution_count for c in executed.cells if c.cell_type == "code"]
    assert counts == [1, 2, 3]       # as on a fresh kernel: nothing counted before


def _epoch(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")


def test_a_site_report_after_others_on_a_warm_kernel_is_the_fresh_kernel_bytes(
        tmp_path, monkeypatch):
    """The real site notebook, after report 02 and another site on the same kernel, gives
    the same HTML and summary bytes, and the same cell outputs, as on a fresh kernel."""
    _epoch(monkeypatch)
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    for name in ("02_outcome_change", rp.SITE_NOTEBOOK):
        shutil.copy(rp.NOTEBOOKS_DIR / f"{name}.ipynb", nbs)
    warm = rp.build_reports(DEMO, tmp_path / "warm", notebooks_dir=nbs, sites=f"{A},{B}",
                            jobs=1, progress=False)
    assert warm.ok, [r.error for r in warm.results]
    assert "warm kernel (report 3 on it)" in log_of(tmp_path / "warm", SLUG_B)
    single = tmp_path / "single"
    single.mkdir()
    shutil.copy(rp.NOTEBOOKS_DIR / f"{rp.SITE_NOTEBOOK}.ipynb", single)
    fresh = rp.build_reports(DEMO, tmp_path / "fresh", notebooks_dir=single, sites=B, jobs=1,
                             progress=False)
    assert fresh.ok, [r.error for r in fresh.results]
    assert "warm kernel (report 1 on it)" in log_of(tmp_path / "fresh", SLUG_B)
    for suffix in (".html", ".summary.json"):
        a = (tmp_path / "warm" / "sites" / f"{SLUG_B}{suffix}").read_bytes()
        b = (tmp_path / "fresh" / "sites" / f"{SLUG_B}{suffix}").read_bytes()
        assert a == b, suffix
    assert A not in (tmp_path / "warm" / "sites" / f"{SLUG_B}.html").read_text("utf-8")
    # the cells' outputs (what the HTML is made from) are those of papermill's own engine
    # on a kernel of its own, which has run nothing before
    import papermill

    papermill.execute_notebook(str(single / f"{rp.SITE_NOTEBOOK}.ipynb"),
                               str(tmp_path / "plain.ipynb"),
                               parameters={"study": str(DEMO), "site": B,
                                           "summary_path": str(tmp_path / "plain.json")},
                               kernel_name="spanalysis", cwd=str(single), progress_bar=False)
    def outputs(path: Path, summary: Path) -> str:
        cells = nbformat.read(path, as_version=4).cells
        text = json.dumps([(c.get("execution_count"), c.get("outputs")) for c in cells])
        return text.replace(str(summary), "SUMMARY")   # the one parameter that differs

    warm_outputs = outputs(tmp_path / "warm" / "sites" / f"{SLUG_B}.ipynb",
                           tmp_path / "warm" / "sites" / f"{SLUG_B}.summary.json")
    assert warm_outputs.count("SUMMARY") == 1 and "<svg" in warm_outputs   # a figure too
    assert warm_outputs == outputs(tmp_path / "plain.ipynb", tmp_path / "plain.json")
    assert (tmp_path / "plain.json").read_bytes() == \
        (tmp_path / "warm" / "sites" / f"{SLUG_B}.summary.json").read_bytes()


def test_a_kernel_that_dies_mid_report_is_replaced(tmp_path):
    nbs = probe_notebooks(tmp_path / "notebooks", (
        "import os, json, signal\n"
        f"if site == {A!r}:\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "json.dump({'pid': os.getpid()}, open(summary_path, 'w'))"))
    out = tmp_path / "out"
    result = rp.build_reports(DEMO, out, notebooks_dir=nbs, sites=f"{A},{B}", jobs=1,
                              progress=False, timeout=120)
    status = {r.name: r for r in result.results}
    assert status[SLUG_A].status == "failed"
    assert "DeadKernelError" in status[SLUG_A].error or "died" in status[SLUG_A].error
    assert status[SLUG_B].status == "ok"
    assert (out / "sites" / f"{SLUG_B}.html").is_file()
    assert "kernel start attempts: 1" in log_of(out, SLUG_B)     # a new kernel
    assert not [p for p in out.rglob("*") if ".part" in p.name]


def test_the_time_limit_holds_on_a_warm_kernel_and_the_next_report_renders(tmp_path):
    nbs = probe_notebooks(tmp_path / "notebooks", (
        "import json, time\n"
        f"if site == {A!r}:\n"
        "    time.sleep(120)\n"
        "json.dump({'ok': True}, open(summary_path, 'w'))"))
    out = tmp_path / "out"
    start = time.perf_counter()
    result = rp.build_reports(DEMO, out, notebooks_dir=nbs, sites=f"{A},{B}", jobs=1,
                              progress=False, timeout=15)
    assert time.perf_counter() - start < 90           # not the 120 s the cell sleeps
    status = {r.name: r for r in result.results}
    assert status[SLUG_A].status == "failed"
    assert "time limit of 15 s" in status[SLUG_A].error
    assert status[SLUG_B].status == "ok" and status[SLUG_B].summary == {"ok": True}
    assert "kernel start attempts: 1" in log_of(out, SLUG_B)     # the busy kernel was ended


def test_the_warm_kernel_ends_with_its_worker(tmp_path):
    """No kernel outlives the run: each worker ends its kernel when it ends."""
    nbs = probe_notebooks(tmp_path / "notebooks", (
        "import json, os\njson.dump({'pid': os.getpid()}, open(summary_path, 'w'))"))
    result = rp.build_reports(DEMO, tmp_path / "out", notebooks_dir=nbs, sites=f"{A},{B}",
                              jobs=2, progress=False)
    assert result.ok, [r.error for r in result.results]
    pids = {r.summary["pid"] for r in result.results}
    deadline = time.time() + 10
    alive = pids
    while alive and time.time() < deadline:
        alive = {p for p in pids if _running(p)}
        time.sleep(0.2)
    assert not alive, alive


def _running(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:        # a zombie (ended, not yet reaped) has ended
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_the_shared_protection_of_tables_by_site_is_keyed_on_their_content():
    """site_content._joint keeps each protected table by site for the next site report of
    the worker: the kept result is what disclosure.protect_counts gives for that table, a
    table that differs by one count is protected afresh, and callers get their own copies."""
    import warnings

    import pandas as pd

    from spanalysis.privacy import disclosure
    from spanalysis.report import site_content
    from spanalysis.study import load_study

    study = load_study(DEMO)
    table = site_content.themes_by_site(study)
    site_content._JOINT_CACHE.clear()
    first = site_content._joint(table, study, "themes by site")
    first.shown.iloc[0, 0] = "changed by a caller"
    again = site_content._joint(table, study, "themes by site")
    assert len(site_content._JOINT_CACHE) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", disclosure.DisclosureWarning)
        direct = disclosure.protect_counts(table, study.min_cell_size, totals="none",
                                           rounding=study.rounding)
    pd.testing.assert_frame_equal(again.shown, direct.shown)
    pd.testing.assert_frame_equal(again.pattern, direct.pattern)
    # one count changed: below k now, so that cell (at least) is hidden in the new result
    other = table.copy()
    big = other.stack().idxmax()
    other.loc[big] = 1
    changed = site_content._joint(other, study, "themes by site")
    assert len(site_content._JOINT_CACHE) == 2
    assert changed.pattern.loc[big] == "primary" and again.pattern.loc[big] == ""


def test_workers_run_with_the_environment_of_the_run_not_of_the_first_run(tmp_path,
                                                                            monkeypatch):
    """The workers are forked from a forkserver started by the first run of this process
    (where the platform has one): a later run with a changed environment
    still gives its reports (their kernels) the environment as it is now, as spawned workers
    would have."""
    nbs = probe_notebooks(tmp_path / "notebooks", (
        "import json, os\n"
        "json.dump({'value': os.environ.get('SPANALYSIS_PROBE_RUN')}, open(summary_path, 'w'))"))
    monkeypatch.setenv("SPANALYSIS_PROBE_RUN", "first")
    first = rp.build_reports(DEMO, tmp_path / "out1", notebooks_dir=nbs, sites=A, jobs=1,
                             study_reports=False, progress=False)
    assert first.ok, [r.error for r in first.results]
    assert first.results[-1].summary["value"] == "first"
    monkeypatch.setenv("SPANALYSIS_PROBE_RUN", "second")
    second = rp.build_reports(DEMO, tmp_path / "out2", notebooks_dir=nbs, sites=A, jobs=1,
                              study_reports=False, progress=False)
    assert second.ok, [r.error for r in second.results]
    assert second.results[-1].summary["value"] == "second"


def test_the_forkserver_preload_imports_and_starts_nothing():
    """What the forkserver imports before it forks (spanalysis.report.preload) must leave it
    a single-threaded process, so that forking it is safe; on Linux the pool uses it."""
    import subprocess
    import sys

    code = ("import threading, sys\n"
            "import spanalysis.report.preload\n"
            "from spanalysis import processes\n"
            "print(threading.active_count(), 'papermill' in sys.modules,\n"
            "      'nbconvert' in sys.modules, processes.pool_context().get_start_method())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[:3] == ["1", "True", "True"]
    if sys.platform.startswith("linux"):
        assert out[3] == "forkserver"


def test_what_a_report_leaves_as_garbage_is_collected_before_the_next(tmp_path):
    """A warm kernel leaves what it imported at start out of garbage collection (gc.freeze,
    so that the reset's full collection is cheap), but not what a report made: a reference
    cycle one report leaves behind is gone when the next report on the kernel starts."""
    nbs = probe_notebooks(tmp_path / "notebooks", (
        "import gc, json, sys, types, weakref\n"
        "holder = sys.modules.setdefault('spanalysis_probe_holder', types.ModuleType('h'))\n"
        "before = getattr(holder, 'ref', None)\n"
        "class Node:\n"
        "    pass\n"
        "node = Node()\n"
        "node.me = node\n"
        "holder.ref = weakref.ref(node)\n"
        "json.dump({'frozen': gc.get_freeze_count() > 0,\n"
        "           'left': None if before is None else before() is not None},\n"
        "          open(summary_path, 'w'))"))
    result = rp.build_reports(DEMO, tmp_path / "out", notebooks_dir=nbs, sites=f"{A},{B}",
                              jobs=1, study_reports=False, progress=False)
    assert result.ok, [r.error for r in result.results]
    first, second = (r.summary for r in result.results if r.kind == "site")
    assert first == {"frozen": True, "left": None}
    assert second == {"frozen": True, "left": False}
