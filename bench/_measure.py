"""Run one measured step in a fresh Python process: wall time and peak resident memory.

Each step runs in its own process so that its peak memory (``ru_maxrss``) is its own and
imports made by one step do not speed up another.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

# Peak memory is the kernel's high-water mark of this process's resident set (VmHWM in
# /proc/self/status). ru_maxrss is not used: Linux carries the parent's peak across exec.
PRELUDE = """
import json, sys, time
import pandas as pd
import numpy as np
def _hwm_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
_rss0 = _hwm_mb()
"""
EPILOGUE = """
print("__RESULT__" + json.dumps({"seconds": _seconds, "peak_rss_mb": _hwm_mb(),
                                 "rss_after_imports_mb": _rss0, **_extra}))
"""


def measure(body: str) -> dict:
    """Run ``body`` (which must set ``_seconds`` and ``_extra``) in a new interpreter."""
    code = PRELUDE + textwrap.dedent(body) + EPILOGUE
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark step failed:\n{proc.stderr[-3000:]}")
    line = [l for l in proc.stdout.splitlines() if l.startswith("__RESULT__")][-1]
    return json.loads(line[len("__RESULT__"):])


def write_result(result: dict, out) -> None:
    """Write a benchmark's JSON result to ``out`` atomically (a temporary file in the same
    folder, then a rename), creating the folder if needed."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=2)
            fh.write("\n")
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def paired_ratio(reference: list[float], measured: list[float]) -> dict:
    """The ratio of a step's times to its reference's, from runs that alternate (reference,
    step, reference, step, ...): each step run against the reference run just before it.

    The verdict is the median of these paired ratios. A spell in which the machine runs
    faster or slower moves both runs of a pair alike, and one unusually fast or slow run
    moves the median little. The ratio of the fastest runs of each, which one lucky
    reference run can move by a tenth on a shared virtual machine, is given as well.
    """
    if len(reference) != len(measured) or not reference:
        raise ValueError("paired_ratio needs one reference run per measured run")
    pairs = [m / r for r, m in zip(reference, measured)]
    return {"ratio": statistics.median(pairs), "paired_ratios": pairs,
            "ratio_of_fastest": min(measured) / min(reference)}


def read_csv_step(paths: list[str], extra: str = "{}") -> str:
    """The body of a measured step (see :func:`measure`): ``pandas.read_csv`` of each of
    ``paths`` into ``frames``, timed; the reference of the pipeline benchmark. ``extra``: an
    expression for ``_extra``.
    """
    read = f"frames = [pd.read_csv(p) for p in {[str(p) for p in paths]!r}]"
    return (f"t0 = time.perf_counter()\n{read}\n"
            f"_seconds = time.perf_counter() - t0\n_extra = {extra}\n")
