"""Benchmark: load and validate a large study against plain ``pandas.read_csv``.

Issue 2's target: ``load_study`` (reading *and* validating every file) costs at most 1.5x
``pandas.read_csv`` of the same responses file, measured side by side in the same run.

    python bench/bench_load.py --participants 1000000
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import measure  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def run(participants: int, workdir: Path | None = None) -> dict:
    from spanalysis import demo

    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        folder = Path(tmp) / "study"
        t0 = time.perf_counter()
        demo.generate(folder, participants=participants, qualitative=False)
        generate_s = time.perf_counter() - t0
        responses = folder / "responses.csv"
        read = measure(f"""
            t0 = time.perf_counter()
            frame = pd.read_csv({str(responses)!r})
            _seconds = time.perf_counter() - t0
            _extra = {{"rows": len(frame), "columns": frame.shape[1],
                      "frame_mb": frame.memory_usage(deep=True).sum() / 2**20}}
        """)
        load = measure(f"""
            from spanalysis import load_study
            t0 = time.perf_counter()
            study = load_study({str(folder)!r})
            _seconds = time.perf_counter() - t0
            _extra = {{"rows": len(study.responses),
                      "responses_mb": study.responses.memory_usage(deep=True).sum() / 2**20}}
        """)
        result = {
            "benchmark": "load_study vs pandas.read_csv",
            "participants": participants,
            "responses_file_mb": responses.stat().st_size / 2**20,
            "generate_seconds": generate_s,
            "read_csv": read,
            "load_study": load,
            "ratio_load_to_read": load["seconds"] / read["seconds"],
            "target_ratio": 1.5,
        }
    result["meets_target"] = result["ratio_load_to_read"] <= result["target_ratio"]
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--participants", type=int, default=1_000_000)
    parser.add_argument("--out", default=str(RESULTS / "load.json"))
    args = parser.parse_args(argv)
    result = run(args.participants)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    r, l = result["read_csv"], result["load_study"]
    print(f"participants {args.participants:,}  responses.csv {result['responses_file_mb']:.0f} MB")
    print(f"pandas.read_csv  {r['seconds']:7.2f} s  peak RSS {r['peak_rss_mb']:7.0f} MB")
    print(f"load_study       {l['seconds']:7.2f} s  peak RSS {l['peak_rss_mb']:7.0f} MB")
    print(f"ratio load/read  {result['ratio_load_to_read']:.2f}  (target <= 1.5: "
          f"{'met' if result['meets_target'] else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
