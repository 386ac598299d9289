"""Benchmark: the demo's whole-study reports now against a reference commit (issue 23's guard).

Issue 23 (missing data, regression to the mean, intervals everywhere) may not make the reports
slow: "the demo's whole-study reports render in at most 1.5 times today's time". This renders
``spanalysis report data/demo --sites none`` (the four whole-study reports and the index) with
the code of this checkout and with the code of ``--ref`` (checked out into a temporary git
worktree; the notebooks' kernel imports that worktree's package through ``PYTHONPATH``),
alternating, ``--repeats`` times each, and compares the medians.

    python bench/bench_study_reports.py --ref 4d80dab      # the commit before the issue's work
    python bench/bench_study_reports.py --ref 4d80dab --repeats 1

Results are printed and written to ``bench/results/study_reports.json``.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import write_result  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TARGET_RATIO = 1.5


def _render(code: Path, out: Path) -> float:
    env = dict(os.environ, PYTHONPATH=str(code))
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "spanalysis", "report", str(REPO / "data" / "demo"),
                    "--out", str(out), "--sites", "none", "--jobs", "2", "--force",
                    "--no-progress"], cwd=code, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", required=True, help="the reference commit")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ref = tmp / "ref"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(ref),
                        args.ref], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        try:
            now, before = [], []
            for i in range(args.repeats):
                before.append(_render(ref, tmp / f"before{i}"))
                now.append(_render(REPO, tmp / f"now{i}"))
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force",
                            str(ref)], check=False)
    ratio = statistics.median(now) / statistics.median(before)
    result = {"ref": args.ref, "seconds_now": now, "seconds_ref": before,
              "ratio": ratio, "target": TARGET_RATIO, "holds": ratio <= TARGET_RATIO}
    print(f"whole-study reports: now {statistics.median(now):.1f} s, at {args.ref} "
          f"{statistics.median(before):.1f} s: {ratio:.2f}x (target at most {TARGET_RATIO}x)")
    write_result(result, Path(__file__).resolve().parent / "results" / "study_reports.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
