"""Benchmark: the whole quantitative pipeline against parsing the same CSV files.

Issue 8's target: loading, scoring and change for 1,000,000 participants at two time points
costs at most 2x the time to parse the same CSV files with ``pandas.read_csv``, measured side
by side in the same run (the median of paired, alternating runs: see
``_measure.paired_ratio``); peak memory is reported.

The plain read is timed twice in each round: as a user would call it (numpy's defaults), and
with numpy's huge-page advice off, as spanalysis itself runs (``spanalysis._memory``). The
verdict is judged against the second, like for like: on a virtual machine the advice makes
some plain reads much slower (see ``bench_hugepages.py``), which would flatter the ratio.

    python bench/bench_pipeline.py --participants 1000000
    python bench/bench_pipeline.py --participants 1000000 --shuffled   # participants unsorted
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import measure, paired_ratio, read_csv_step, write_result  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def shuffle_rows(path: Path, seed: int = 0) -> None:
    """Put the data rows of a CSV file (one record per line, as the demo writes them) in a
    random order, the header first."""
    header, *rows = path.read_text(encoding="utf-8").splitlines(keepends=True)
    random.Random(seed).shuffle(rows)
    path.write_text(header + "".join(rows), encoding="utf-8")


def run(participants: int, repeats: int = 3, shuffled: bool = False) -> dict:
    from spanalysis import demo

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "study"
        demo.generate(folder, participants=participants, qualitative=False)
        if shuffled:  # participants in random order; responses and service use as written
            shuffle_rows(folder / "participants.csv")
        files = [str(folder / f"{n}.csv") for n in ("participants", "responses", "service_use")]
        defaults, parses, pipelines = [], [], []
        # alternate, so that a busy machine slows all alike; the ratio is the median of each
        # pipeline run against the reads just before it (paired_ratio)
        for _ in range(repeats):
            defaults.append(measure(read_csv_step(files)))
            parses.append(measure(read_csv_step(files, small_pages=True)))
            pipelines.append(measure(f"""
                from spanalysis import load_study
                from spanalysis.change import outcomes
                t0 = time.perf_counter()
                study = load_study({str(folder)!r})
                t1 = time.perf_counter()
                scores = study.scores
                t2 = time.perf_counter()
                table = outcomes.change_table(study)
                _seconds = time.perf_counter() - t0
                _extra = {{"load_seconds": t1 - t0, "score_seconds": t2 - t1,
                          "change_seconds": time.perf_counter() - t2,
                          "score_rows": len(scores), "scales": len(table)}}
            """))
    best = lambda runs: min(runs, key=lambda r: r["seconds"])  # noqa: E731
    seconds = lambda runs: [r["seconds"] for r in runs]  # noqa: E731
    parse, pipeline = best(parses), best(pipelines)
    ratios = paired_ratio(seconds(parses), seconds(pipelines))
    result = {"benchmark": "load + score + change vs pandas.read_csv of the same files",
              "reference": "pandas.read_csv with numpy's huge-page advice off, as spanalysis "
                           "runs",
              "participants": participants,
              "participants_file": "shuffled" if shuffled else "sorted by id, as generated",
              "repeats": repeats, "parse": parse,
              "pipeline": pipeline, **ratios, "target_ratio": 2.0,
              "default_read": {"reference": "pandas.read_csv with numpy's defaults",
                               "parse": best(defaults),
                               **paired_ratio(seconds(defaults), seconds(pipelines))},
              "all_runs_seconds": {"parse_numpy_defaults": seconds(defaults),
                                   "parse": seconds(parses),
                                   "pipeline": seconds(pipelines)}}
    result["meets_target"] = result["ratio"] <= result["target_ratio"]
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--shuffled", action="store_true",
                        help="put the participants file's rows in random order (the demo "
                             "writes every file sorted by participant)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    out = args.out or str(RESULTS / ("pipeline_shuffled.json" if args.shuffled
                                     else "pipeline.json"))
    result = run(args.participants, args.repeats, args.shuffled)
    write_result(result, out)
    p, q, d = result["parse"], result["pipeline"], result["default_read"]
    print(f"participants {args.participants:,} (participants file: "
          f"{result['participants_file']})")
    print(f"pandas.read_csv of the 3 files  {d['parse']['seconds']:7.2f} s  "
          f"peak RSS {d['parse']['peak_rss_mb']:7.0f} MB  (numpy's defaults)")
    print(f"the same, huge-page advice off  {p['seconds']:7.2f} s  peak RSS {p['peak_rss_mb']:7.0f} MB"
          "  (as spanalysis runs)")
    print(f"load + score + change           {q['seconds']:7.2f} s  peak RSS {q['peak_rss_mb']:7.0f} MB"
          f"  (load {q['load_seconds']:.2f}, score {q['score_seconds']:.2f}, "
          f"change {q['change_seconds']:.2f})")
    print(f"ratio {result['ratio']:.2f} (median of {args.repeats} paired runs: "
          + ", ".join(f"{x:.2f}" for x in result["paired_ratios"])
          + f"; target <= 2: {'met' if result['meets_target'] else 'NOT met'}); "
          f"fastest runs {result['ratio_of_fastest']:.2f}")
    print(f"against the read with numpy's defaults {d['ratio']:.2f} (paired runs: "
          + ", ".join(f"{x:.2f}" for x in d["paired_ratios"])
          + f"); fastest runs {d['ratio_of_fastest']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
