"""Guard: a large study loads, scores and computes change in at most 3.5x a plain read.

Issue 18's guard: a 200,000-participant demo study (two time points, no qualitative files)
is loaded (``spanalysis.load_study``: read and validated), scored (``Study.scores``) and its
paired change computed (``spanalysis.change.paired_change``), all in one fresh Python
process, in at most 3.5 times a plain ``pandas.read_csv`` of the same three files
(participants, responses, service use) in another fresh process. The two steps alternate
(read, pipeline, read, pipeline, ...) and the ratio judged is the median of each pipeline run
against the read just before it (``_measure.paired_ratio``). The load alone against the same
read is printed too, as is peak memory. Meeting the guard is enough: it is not a target.

    python bench/bench_pipeline.py --participants 200000 --repeats 5   # as make bench-full
    python bench/bench_pipeline.py --participants 200000 --repeats 3   # as make bench (CI)

At much smaller sizes the fixed costs of a load (manifest, instrument definitions, modules
imported on first use) outweigh a read of small files, and the ratio is not the guard's.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import measure, paired_ratio, read_csv_step, write_result  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_RATIO = 3.5

# One measured run of the pipeline, through the public API only. The imports come before the
# clock starts, as they would in a notebook's first cell.
PIPELINE = """
from spanalysis import load_study
from spanalysis.change import paired_change
t0 = time.perf_counter()
study = load_study({folder!r})
t1 = time.perf_counter()
scores = study.scores
t2 = time.perf_counter()
table = paired_change(scores, study.scale_info, timepoints=study.timepoints)
_seconds = time.perf_counter() - t0
_extra = {{"load_seconds": t1 - t0, "score_seconds": t2 - t1,
          "change_seconds": time.perf_counter() - t2,
          "score_rows": len(scores), "scales": len(table)}}
"""


def run(participants: int, repeats: int = 3) -> dict:
    from spanalysis import demo

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "study"
        demo.generate(folder, participants=participants, qualitative=False)
        files = [folder / f"{n}.csv" for n in ("participants", "responses", "service_use")]
        files_mb = {f.name: f.stat().st_size / 2**20 for f in files}
        reads, pipelines = [], []
        for _ in range(repeats):  # alternate, so that a busy spell slows both alike
            reads.append(measure(read_csv_step(files)))
            pipelines.append(measure(PIPELINE.format(folder=str(folder))))
    best = lambda runs: min(runs, key=lambda r: r["seconds"])  # noqa: E731
    seconds = lambda runs: [r["seconds"] for r in runs]  # noqa: E731
    load_ratios = [p["load_seconds"] / r["seconds"] for r, p in zip(reads, pipelines)]
    result = {"benchmark": "load + score + change vs pandas.read_csv of the same files",
              "guard": f"ratio <= {TARGET_RATIO}",
              "participants": participants, "repeats": repeats, "files_mb": files_mb,
              "read_csv": best(reads), "pipeline": best(pipelines),
              **paired_ratio(seconds(reads), seconds(pipelines)),
              "load_ratio": statistics.median(load_ratios),
              "target_ratio": TARGET_RATIO,
              "all_runs_seconds": {"read_csv": seconds(reads),
                                   "pipeline": seconds(pipelines)}}
    result["meets_target"] = result["ratio"] <= TARGET_RATIO
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(RESULTS / "pipeline.json"))
    args = parser.parse_args(argv)
    result = run(args.participants, args.repeats)
    write_result(result, args.out)
    r, p = result["read_csv"], result["pipeline"]
    print(f"participants {args.participants:,}; files " + ", ".join(
        f"{k} {v:.1f} MB" for k, v in result["files_mb"].items()))
    print(f"pandas.read_csv of the 3 files  {r['seconds']:7.2f} s  peak RSS "
          f"{r['peak_rss_mb']:6.0f} MB")
    print(f"load + score + change           {p['seconds']:7.2f} s  peak RSS "
          f"{p['peak_rss_mb']:6.0f} MB  (load {p['load_seconds']:.2f}, score "
          f"{p['score_seconds']:.2f}, change {p['change_seconds']:.2f})")
    print(f"ratio {result['ratio']:.2f} (median of {args.repeats} paired runs: "
          + ", ".join(f"{x:.2f}" for x in result["paired_ratios"])
          + f"; fastest runs {result['ratio_of_fastest']:.2f}); load alone "
          f"{result['load_ratio']:.2f}")
    print(f"guard: ratio <= {TARGET_RATIO:g}: {'holds' if result['meets_target'] else 'FAILS'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
