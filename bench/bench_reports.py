"""Benchmark: site reports with ``spanalysis report`` against the loop a user would write.

For each ``--sites-count`` (default 40 and 8; 25 participants per site, so the generator's
rule of at least 5 participants per site holds) a demo study is generated in a temporary
folder. In the same run it then times

1. ``spanalysis report STUDY --out DIR --sites all --study-reports no --jobs N`` (site
   reports only: the whole-study notebooks are not part of the comparison), in a fresh
   process, as a user runs it, and
2. the loop a user would otherwise write, one site after another: the ``papermill`` command
   (``-p study ... -p site ...``) then ``jupyter nbconvert --to html`` on the executed
   notebook, over the same ``notebooks/site_report.ipynb``.

Targets (issue 24, 1): the pipeline at least 10x faster than the loop at 40 sites and at
least 8x at 8 sites, on a 2-core machine. ``--loop-sample S`` times the loop on S of the
sites only (evenly spaced through the study's list) and scales its time to all of them:
each turn of the loop is a fresh papermill and nbconvert process over one site of a study of
sites of the same size, so its cost does not depend on which site it is (the JSON gives each
turn's time); ``make bench`` uses it to stay fast, ``--size full`` times the whole loop.
Results are printed and written to ``bench/results/reports.json``.

    python bench/bench_reports.py                          # 40 and 8 sites, the whole loop
    python bench/bench_reports.py --sites-count 8 --loop-sample 3
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import write_result  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
NOTEBOOK = REPO / "notebooks" / "site_report.ipynb"
BIN = Path(sys.executable).parent


def target_ratio(sites: int) -> float:
    """The issue's targets: 10x at 40 sites (and more), 8x at 8 (and between, 8x)."""
    return 10.0 if sites >= 40 else 8.0


#: what papermill prints when its kernel did not start (papermill issue #511): such a turn
#: of the loop is run again, and its time left out, so that a slow start (a minute of
#: waiting) does not flatter the pipeline
_START_FAILURES = ("Kernel didn't respond", "Kernel died before replying to kernel_info")
RETRIES: list[str] = []


def _run(cmd: list[str], retries: int = 0) -> float:
    for attempt in range(retries + 1):
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if done.returncode == 0:
            return seconds
        if attempt < retries and any(m in done.stderr for m in _START_FAILURES):
            RETRIES.append(f"{Path(cmd[0]).name}: kernel did not start; run again")
            continue
        raise RuntimeError(f"{' '.join(cmd[:3])} ... failed ({done.returncode}):\n"
                           f"{done.stderr[-3000:]}")
    raise AssertionError("unreachable")


def _sample(sites: list[str], n: int | None) -> list[str]:
    """``n`` sites evenly spaced through ``sites`` (all of them when ``n`` is None)."""
    if n is None or n >= len(sites):
        return list(sites)
    step = len(sites) / n
    return [sites[int(i * step)] for i in range(n)]


def measure(count: int, per_site: int, jobs: int, loop_sample: int | None, tmp: Path) -> dict:
    from spanalysis import demo
    from spanalysis.report import site_slug
    from spanalysis.study import load_study

    RETRIES.clear()
    study = demo.generate(tmp / f"study-{count}", participants=count * per_site, sites=count)
    sites = load_study(study).sites

    # 1. the pipeline (a fresh process, as a user runs it)
    out = tmp / f"pipeline-{count}"
    pipeline = _run([sys.executable, "-m", "spanalysis", "report", str(study), "--out",
                     str(out), "--sites", "all", "--study-reports", "no", "--jobs", str(jobs),
                     "--no-progress"])
    rendered = len(list((out / "sites").glob("*.html")))

    # 2. the loop a user would write: papermill CLI then nbconvert CLI, site by site
    loop_dir = tmp / f"loop-{count}"
    loop_dir.mkdir()
    timed = _sample(sites, loop_sample)
    turns = []
    for site in timed:
        executed = loop_dir / f"{site_slug(site)}.ipynb"
        turn = _run([str(BIN / "papermill"), str(NOTEBOOK), str(executed), "-k", "spanalysis",
                     "-p", "study", str(study), "-p", "site", site,
                     "--cwd", str(NOTEBOOK.parent), "--no-progress-bar"], retries=2)
        turn += _run([str(BIN / "jupyter"), "nbconvert", "--to", "html", str(executed)])
        turns.append(turn)
    looped = len(list(loop_dir.glob("*.html")))
    loop = sum(turns) * len(sites) / len(timed)
    ratio = loop / pipeline
    print(f"{len(sites)} site reports: spanalysis report {pipeline:.1f} s ({jobs} jobs); "
          f"papermill + nbconvert loop {loop:.1f} s"
          + ("" if len(timed) == len(sites) else
             f" ({len(timed)} sites timed, {sum(turns):.1f} s, scaled to {len(sites)})")
          + f"; ratio {ratio:.1f}x (target >= {target_ratio(len(sites)):g}x)", flush=True)
    return {"sites": len(sites), "participants": count * per_site,
            "pipeline_seconds": round(pipeline, 2), "pipeline_reports": rendered,
            "loop_seconds": round(loop, 2), "loop_reports": looped,
            "loop_sites_timed": len(timed), "loop_turn_seconds": [round(t, 2) for t in turns],
            "loop_kernel_start_retries": len(RETRIES),
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "ratio": round(ratio, 2), "target_ratio": target_ratio(len(sites)),
            "meets_target": ratio >= target_ratio(len(sites))}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites-count", type=int, nargs="+", default=[40, 8])
    parser.add_argument("--participants-per-site", type=int, default=25)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--loop-sample", type=int, default=None,
                        help="time the loop on this many sites and scale (default: all)")
    parser.add_argument("--out", default=str(RESULTS / "reports.json"))
    args = parser.parse_args(argv)

    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-reports-") as tmp:
        for count in args.sites_count:
            runs.append(measure(count, args.participants_per_site, args.jobs,
                                args.loop_sample, Path(tmp)))
    out = {"benchmark": "reports", "jobs": args.jobs, "cpus": os.cpu_count(),
           "python": platform.python_version(), "runs": runs,
           # the first run's figures at the top level (read by python -m bench's summary)
           **{k: runs[0][k] for k in ("sites", "ratio", "target_ratio")},
           "meets_target": all(r["meets_target"] for r in runs)}
    write_result(out, args.out)
    return out


if __name__ == "__main__":
    main()
