"""Kernels forked from the run's kernel forker (spanalysis.report.forker, issue 24).

A forked kernel must be the kernel ``python -m ipykernel_launcher`` starts: its own session,
stdin from /dev/null, the launcher's argv, the notebook folder first on sys.path, the
environment the worker gives it, matplotlib's inline backend; what it renders is compared
byte for byte with a fresh kernel's in test_warm_kernels.py and, on Dask (which does not
fork), in test_reproducible.py. Here: that the kernels are forked, that a kernel which
cannot be forked starts as before and says why, and that nothing outlives the run.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import psutil
import pytest

from conftest import DEMO
from test_warm_kernels import A, B, probe_notebooks

from spanalysis import report as rp
from spanalysis.report import forker

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="kernels are forked on Linux only")

WHAT_THE_KERNEL_IS = """\
import json, os, sys
import psutil
parent = psutil.Process(os.getppid())
json.dump({
    "pid": os.getpid(), "ppid": os.getppid(), "parent": parent.cmdline(),
    "session_leader": os.getsid(0) == os.getpid(),
    "stdin": os.path.realpath("/proc/self/fd/0"),
    "argv0": os.path.basename(sys.argv[0]),
    "path": sys.path, "cwd": os.getcwd(), "argv": sys.argv[1:2],
    "mplbackend": os.environ.get("MPLBACKEND"),
    "probe_env": os.environ.get("SPANALYSIS_PROBE"),
    "big_env": len(os.environ.get("SPANALYSIS_BIG", "")),
    "parent_pid_env": os.environ.get("JPY_PARENT_PID"),
    "modules": "pingouin" in sys.modules and "scipy.stats" in sys.modules,
}, open(summary_path, "w"))
"""


def test_the_kernels_of_a_run_are_forked_and_are_what_the_launcher_starts(
        tmp_path, monkeypatch):
    monkeypatch.setenv("SPANALYSIS_PROBE", "seen by the kernel")
    monkeypatch.setenv("SPANALYSIS_BIG", "x" * 120_000)   # a request of many reads
    nbs = probe_notebooks(tmp_path / "notebooks", WHAT_THE_KERNEL_IS)
    result = rp.build_reports(DEMO, tmp_path / "out", notebooks_dir=nbs, sites=f"{A},{B}",
                              jobs=2, progress=False)
    assert result.ok, [r.error for r in result.results]
    seen = [r.summary for r in result.results]
    for kernel in seen:
        assert "spanalysis.report.forker" in " ".join(kernel["parent"])
        assert kernel["session_leader"]
        assert kernel["stdin"] == os.devnull
        assert kernel["argv0"] == "ipykernel_launcher.py"
        assert kernel["cwd"] == str(nbs)
        assert kernel["mplbackend"] == "module://matplotlib_inline.backend_inline"
        assert kernel["probe_env"] == "seen by the kernel"   # the run's environment
        assert kernel["big_env"] == 120_000
        assert kernel["parent_pid_env"] is not None          # as jupyter_client sets it
        assert kernel["modules"]                             # imported before the fork
    assert len({k["ppid"] for k in seen}) == 1               # one forker for the run
    for name in ("riverside-pcn", "hillview-pcn"):
        log = (tmp_path / "out" / "sites" / f"{name}.log").read_text("utf-8")
        assert "without the kernel forker" not in log
    # the forker and its kernels end with the run
    deadline = time.time() + 10
    pids = {seen[0]["ppid"]} | {k["pid"] for k in seen}
    while time.time() < deadline and any(_running(p) for p in pids):
        time.sleep(0.2)
    assert not [p for p in pids if _running(p)]


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_a_kernel_the_forker_cannot_start_is_started_as_before_and_says_why(
        tmp_path, monkeypatch):
    """The forker gone (its socket refuses): the worker starts its kernel with
    jupyter_client, the report renders, the log says why it was not forked, and that
    launched kernel is what a forked one is (but for its process and stdin)."""
    from spanalysis.report import runner

    monkeypatch.setenv("SPANALYSIS_PROBE", "seen by the kernel")
    nbs = probe_notebooks(tmp_path / "notebooks", WHAT_THE_KERNEL_IS)
    forked = rp.build_reports(DEMO, tmp_path / "forked", notebooks_dir=nbs, sites=A,
                              jobs=1, progress=False)
    started = []
    real_start = forker.start

    def start_then_end(kernel):
        handle = real_start(kernel)
        started.append(handle)
        handle.process.kill()        # as if it had died: its socket is left, refusing
        handle.process.wait()
        return handle

    monkeypatch.setattr(runner.forker, "start", start_then_end)
    launched = rp.build_reports(DEMO, tmp_path / "out", notebooks_dir=nbs, sites=A,
                                jobs=1, progress=False)
    assert started and launched.ok and forked.ok, [r.error for r in launched.results]
    kernel = launched.results[0].summary
    assert "spanalysis.report.forker" not in " ".join(kernel["parent"])   # the worker's
    log = (tmp_path / "out" / "sites" / "riverside-pcn.log").read_text("utf-8")
    assert "kernel started without the kernel forker: the kernel forker did not answer" \
        in log
    assert not Path(started[0].folder).exists()      # its folder is removed all the same
    other = forked.results[0].summary
    assert "spanalysis.report.forker" in " ".join(other["parent"])
    differ = {"pid", "ppid", "parent", "stdin", "parent_pid_env", "argv"}
    assert {k: v for k, v in kernel.items() if k not in differ} == \
        {k: v for k, v in other.items() if k not in differ}
    assert kernel["argv"] == other["argv"] == ["-f"]


def test_only_a_python_m_ipykernel_launcher_command_is_forked(tmp_path):
    py = sys.executable
    assert forker._command_prefix([py, "-m", "ipykernel_launcher", "-f", "c.json"]) == [py]
    assert forker._command_prefix([py, "-Xfrozen_modules=off", "-m", "ipykernel_launcher",
                                   "-f", "c.json"]) == [py, "-Xfrozen_modules=off"]
    assert forker._command_prefix([py, "-m", "other_kernel", "-f", "c.json"]) is None
    assert forker._command_prefix([py, "-X", "dev", "-m", "ipykernel_launcher"]) is None
    assert forker._command_prefix([py, "launcher.py", "-m", "ipykernel_launcher"]) is None
    assert forker._command_prefix(["R", "--slave", "-e", "IRkernel::main()"]) is None
    # a launch whose command is not the forker's is not forked (and no socket is tried)
    pid, reason = forker.launch((str(tmp_path / "none.sock"), [py]),
                                ["/other/python", "-m", "ipykernel_launcher", "-f", "c"],
                                env={}, cwd=tmp_path, stdout=1, stderr=2)
    assert pid is None and reason == "this kernel's command is not the forker's"
    assert forker.launch(None, [py, "-m", "ipykernel_launcher"], env={}, cwd=tmp_path,
                         stdout=1, stderr=2) == (None, None)


def test_a_kernel_spec_with_its_own_environment_gets_no_forker(tmp_path, monkeypatch):
    """Its environment would apply to the forker's imports only after them: not forked."""
    spec_dir = tmp_path / "jupyter" / "kernels" / "with-env"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "with env", "language": "python", "env": {"OMP_NUM_THREADS": "1"}}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    assert forker.start("with-env") is None
    assert forker.start("no-such-kernel") is None


def test_the_forker_ends_its_kernels_when_the_run_is_gone(tmp_path):
    """Its pipe closed (the run ended, however it ended): the forker kills the kernels it
    forked and exits."""
    from jupyter_client import KernelManager

    handle = forker.start("spanalysis")
    assert handle is not None
    km = KernelManager(kernel_name="spanalysis")
    km.write_connection_file()
    cmd = km.format_kernel_cmd()
    with open(tmp_path / "kernel.log", "w") as log:
        pid, reason = forker.launch(handle.info, cmd, env=dict(os.environ), cwd=tmp_path,
                                    stdout=log, stderr=log)
    assert reason is None and pid
    assert _running(pid), (tmp_path / "kernel.log").read_text()
    assert psutil.Process(pid).ppid() == handle.process.pid
    handle.process.stdin.close()                     # what the run's end does
    handle.process.wait(timeout=20)
    deadline = time.time() + 10
    while time.time() < deadline and _running(pid):
        time.sleep(0.1)
    assert not _running(pid)
    handle.stop()
    km.cleanup_connection_file()
    assert not Path(handle.folder).exists()


def test_a_forker_that_failed_is_named_with_its_last_line(tmp_path):
    """The forker could not import (say): the worker's reason quotes its log's last line."""
    (tmp_path / "forker.log").write_text(
        "Traceback (most recent call last):\n  ...\n"
        "ModuleNotFoundError: No module named 'pingouin'\n")
    py = sys.executable
    pid, reason = forker.launch((str(tmp_path / "forker.sock"), [py]),
                                [py, "-m", "ipykernel_launcher", "-f", "c.json"],
                                env={}, cwd=tmp_path, stdout=1, stderr=2)
    assert pid is None
    assert reason.startswith("the kernel forker did not answer (FileNotFoundError")
    assert reason.endswith("; it wrote: ModuleNotFoundError: No module named 'pingouin'")


def test_stopping_the_forker_while_it_imports_does_not_wait_for_its_imports():
    """A run with nothing to render stops its forker at once, not after its imports."""
    handle = forker.start("spanalysis")
    assert handle is not None
    time.sleep(0.3)                       # started, importing
    start = time.perf_counter()
    handle.stop()
    assert time.perf_counter() - start < 1.5
    assert handle.process.returncode is not None
    assert not Path(handle.folder).exists()
