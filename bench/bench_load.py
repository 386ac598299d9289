"""Benchmark: load and validate a large study against plain ``pandas.read_csv``.

Issue 2's target: ``load_study`` (reading *and* validating every file) costs at most 1.5x
``pandas.read_csv``, measured side by side in the same run. ``load_study`` must read the
participants and service-use files as well as the responses, so the ratio that is judged is
against plain reads of the same three files; the ratio to the responses file alone is printed
beside it.

The reads of the three files are timed twice in each round: as a user would call them (numpy's
defaults), and with numpy's huge-page advice off, as spanalysis itself runs
(``spanalysis._memory``). The verdict is judged against the second, like for like: on a
virtual machine the advice makes some plain reads much slower (see ``bench_hugepages.py``).

    python bench/bench_load.py --participants 1000000
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import measure, paired_ratio, read_csv_step, write_result  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def run(participants: int, repeats: int = 3, workdir: Path | None = None) -> dict:
    from spanalysis import demo

    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        folder = Path(tmp) / "study"
        t0 = time.perf_counter()
        demo.generate(folder, participants=participants, qualitative=False)
        generate_s = time.perf_counter() - t0
        files = [folder / f"{name}.csv" for name in ("participants", "responses", "service_use")]
        # Steps alternate (read, load, read, load, ...) so that a busy machine slows both alike;
        # the ratio is the median of each load against the read just before it (paired_ratio).
        # The fastest runs are kept as the figures of each step.
        reads, read_defaults, read_alls, loads = [], [], [], []
        for _ in range(repeats):
            reads.append(measure(f"""
                t0 = time.perf_counter()
                frame = pd.read_csv({str(files[1])!r})
                _seconds = time.perf_counter() - t0
                _extra = {{"rows": len(frame), "columns": frame.shape[1],
                          "frame_mb": frame.memory_usage(deep=True).sum() / 2**20}}
            """))
            rows = '{"rows": sum(len(f) for f in frames)}'
            read_defaults.append(measure(read_csv_step(files, extra=rows)))
            read_alls.append(measure(read_csv_step(files, small_pages=True, extra=rows)))
            loads.append(measure(f"""
                from spanalysis import load_study
                t0 = time.perf_counter()
                study = load_study({str(folder)!r})
                _seconds = time.perf_counter() - t0
                _extra = {{"rows": len(study.responses),
                          "responses_mb": study.responses.memory_usage(deep=True).sum() / 2**20}}
            """))
        best = lambda runs: min(runs, key=lambda r: r["seconds"])  # noqa: E731
        read, read_all, load = best(reads), best(read_alls), best(loads)
        seconds = lambda runs: [r["seconds"] for r in runs]  # noqa: E731
        result = {
            "benchmark": "load_study vs pandas.read_csv",
            "reference": "pandas.read_csv of the three files with numpy's huge-page advice "
                         "off, as spanalysis runs",
            "participants": participants,
            "repeats": repeats,
            "files_mb": {f.name: f.stat().st_size / 2**20 for f in files},
            "generate_seconds": generate_s,
            "read_csv_responses": read,
            "read_csv_all_files": read_all,
            "load_study": load,
            "read_csv_all_files_numpy_defaults": {
                "read": best(read_defaults),
                **paired_ratio(seconds(read_defaults), seconds(loads))},
            "all_runs_seconds": {"read_csv_responses": seconds(reads),
                                 "read_csv_all_files_numpy_defaults": seconds(read_defaults),
                                 "read_csv_all_files": seconds(read_alls),
                                 "load_study": seconds(loads)},
            "ratio_load_to_read_responses": paired_ratio(
                seconds(reads), seconds(loads))["ratio"],
            **{f"{k}_load_to_read_all_files": v for k, v in paired_ratio(
                seconds(read_alls), seconds(loads)).items()},
            "target_ratio": 1.5,
        }
    result["meets_target"] = result["ratio_load_to_read_all_files"] <= result["target_ratio"]
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--participants", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(RESULTS / "load.json"))
    args = parser.parse_args(argv)
    result = run(args.participants, args.repeats)
    write_result(result, args.out)
    r, a, l = result["read_csv_responses"], result["read_csv_all_files"], result["load_study"]
    print(f"participants {args.participants:,}; files " + ", ".join(
        f"{k} {v:.0f} MB" for k, v in result["files_mb"].items()))
    print(f"pandas.read_csv responses.csv  {r['seconds']:7.2f} s  peak RSS {r['peak_rss_mb']:7.0f} MB")
    d = result["read_csv_all_files_numpy_defaults"]
    print(f"pandas.read_csv all 3 files    {d['read']['seconds']:7.2f} s  "
          f"peak RSS {d['read']['peak_rss_mb']:7.0f} MB  (numpy's defaults)")
    print(f"the same, huge-page advice off {a['seconds']:7.2f} s  peak RSS {a['peak_rss_mb']:7.0f} MB"
          "  (as spanalysis runs)")
    print(f"load_study (read + validate)   {l['seconds']:7.2f} s  peak RSS {l['peak_rss_mb']:7.0f} MB")
    print(f"ratio to reading the same files {result['ratio_load_to_read_all_files']:.2f} "
          f"(median of {args.repeats} paired runs: "
          + ", ".join(f"{x:.2f}" for x in result["paired_ratios_load_to_read_all_files"])
          + f"; target <= 1.5: {'met' if result['meets_target'] else 'NOT met'}); fastest "
          f"runs {result['ratio_of_fastest_load_to_read_all_files']:.2f}; to responses.csv "
          f"alone {result['ratio_load_to_read_responses']:.2f}")
    print(f"against the reads with numpy's defaults {d['ratio']:.2f} (paired runs: "
          + ", ".join(f"{x:.2f}" for x in d["paired_ratios"])
          + f"); fastest runs {d['ratio_of_fastest']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
