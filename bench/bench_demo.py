"""Guard: the 400-person demo study loads, scores and computes change in under 0.5 s.

Issue 18's second guard, for the study an analyst meets first: ``data/demo`` as the
repository ships it (400 referrals, 8 sites, with its qualitative files) is loaded
(``spanalysis.load_study``), scored (``Study.scores``) and its paired change computed
(``spanalysis.change.paired_change``). Each run is a fresh Python process that imports
spanalysis before the clock starts, as a notebook's first cell would; anything spanalysis
imports on first use is inside the time. The guard is judged on the median of the runs.

    python bench/bench_demo.py --repeats 5
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import measure, write_result  # noqa: E402
from bench_pipeline import PIPELINE  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
TARGET_SECONDS = 0.5


def run(folder: Path, repeats: int = 5) -> dict:
    runs = [measure(PIPELINE.format(folder=str(folder))) for _ in range(repeats)]
    median = statistics.median(r["seconds"] for r in runs)
    return {"benchmark": "load + score + change of the demo study",
            "guard": f"median seconds < {TARGET_SECONDS}", "study": str(folder),
            "repeats": repeats, "median_seconds": median,
            "fastest": min(runs, key=lambda r: r["seconds"]), "runs": runs,
            "target_seconds": TARGET_SECONDS, "meets_target": median < TARGET_SECONDS}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", default=str(REPO / "data" / "demo"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=str(RESULTS / "demo.json"))
    args = parser.parse_args(argv)
    result = run(Path(args.study), args.repeats)
    write_result(result, args.out)
    f = result["fastest"]
    print(f"{args.study}: load + score + change {result['median_seconds']:.3f} s (median of "
          f"{args.repeats} fresh processes: "
          + ", ".join(f"{r['seconds']:.3f}" for r in result["runs"])
          + f"); fastest: load {f['load_seconds']:.3f}, score {f['score_seconds']:.3f}, "
          f"change {f['change_seconds']:.3f}; {f['scales']} scales")
    print(f"guard: under {TARGET_SECONDS:g} s: "
          f"{'holds' if result['meets_target'] else 'FAILS'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
