"""Benchmark: 40 site reports with ``spanalysis report`` against the loop a user would write.

A demo study with ``--sites-count`` sites (default 40; 25 participants per site, so the
generator's rule of at least 5 participants per site holds) is generated in a temporary
folder. In the same run it then times

1. ``spanalysis report STUDY --out DIR --sites all --study-reports no --jobs N`` (site
   reports only: the whole-study notebooks are not part of the comparison), and
2. the loop a user would otherwise write, one site after another: the ``papermill`` command
   (``-p study ... -p site ...``) then ``jupyter nbconvert --to html`` on the executed
   notebook, over the same ``notebooks/site_report.ipynb``.

Target: the pipeline at least 5x faster than the loop on a 2-core machine. Results are
printed and written to ``bench/results/reports.json``.

    python bench/bench_reports.py                   # 40 sites
    python bench/bench_reports.py --sites-count 4   # small, for CI
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
TARGET_RATIO = 5.0
BIN = Path(sys.executable).parent


def _run(cmd: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} ... failed ({done.returncode}):\n"
                           f"{done.stderr[-3000:]}")
    return seconds


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites-count", type=int, default=40)
    parser.add_argument("--participants-per-site", type=int, default=25)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--out", default=str(RESULTS / "reports.json"))
    args = parser.parse_args(argv)

    from spanalysis import demo
    from spanalysis.report import site_slug
    from spanalysis.study import load_study

    with tempfile.TemporaryDirectory(prefix="bench-reports-") as tmp:
        tmp = Path(tmp)
        study = demo.generate(tmp / "study", participants=args.sites_count
                              * args.participants_per_site, sites=args.sites_count)
        sites = load_study(study).sites

        # 1. the pipeline (a fresh process, as a user runs it)
        pipeline = _run([sys.executable, "-m", "spanalysis", "report", str(study), "--out",
                         str(tmp / "pipeline"), "--sites", "all", "--study-reports", "no",
                         "--jobs", str(args.jobs), "--no-progress"])
        rendered = len(list((tmp / "pipeline" / "sites").glob("*.html")))

        # 2. the loop a user would write: papermill CLI then nbconvert CLI, site by site
        loop_dir = tmp / "loop"
        loop_dir.mkdir()
        loop = 0.0
        for site in sites:
            executed = loop_dir / f"{site_slug(site)}.ipynb"
            loop += _run([str(BIN / "papermill"), str(NOTEBOOK), str(executed), "-k",
                          "spanalysis", "-p", "study", str(study), "-p", "site", site,
                          "--cwd", str(NOTEBOOK.parent), "--no-progress-bar"])
            loop += _run([str(BIN / "jupyter"), "nbconvert", "--to", "html", str(executed)])
        looped = len(list(loop_dir.glob("*.html")))

    out = {
        "benchmark": "reports", "sites": len(sites), "participants": args.sites_count
        * args.participants_per_site, "jobs": args.jobs, "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "pipeline_seconds": round(pipeline, 2), "pipeline_reports": rendered,
        "loop_seconds": round(loop, 2), "loop_reports": looped,
        "ratio": round(loop / pipeline, 2), "target_ratio": TARGET_RATIO,
    }
    print(f"{len(sites)} site reports: spanalysis report {pipeline:.1f} s "
          f"({args.jobs} jobs); papermill + nbconvert loop {loop:.1f} s; "
          f"ratio {loop / pipeline:.1f}x (target >= {TARGET_RATIO:g}x)")
    write_result(out, args.out)
    return out


if __name__ == "__main__":
    main()
