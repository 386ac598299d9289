"""Run every benchmark: ``python -m bench --size small`` (CI) or ``--size full``.

Each benchmark prints a ratio measured side by side in the same run (absolute times vary from
machine to machine) and writes its JSON to ``bench/results/``; this runner also writes
``bench/results/summary.json``.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

SIZES = {
    "small": {"load": ["--participants", "20000", "--repeats", "2"],
              "scoring": ["--participants", "20000", "--repeats", "2"],
              "pipeline": ["--participants", "20000", "--repeats", "2"],
              "refi": ["--sources", "100", "--codings", "5000"],
              "reports": ["--sites-count", "4"],
              "hugepages": ["--mb", "200", "--repeats", "2"]},
    # Five repeats at full size: on a virtual machine, touching fresh memory is sometimes
    # several times slower than usual. Load and pipeline alternate their steps and take the
    # median of the paired ratios; the others compare the fastest of five.
    "full": {"load": ["--participants", "1000000", "--repeats", "5"],
             "scoring": ["--participants", "1000000", "--repeats", "5"],
             "pipeline": ["--participants", "1000000", "--repeats", "5"],
             "refi": ["--sources", "1000", "--codings", "100000"],
             "reports": ["--sites-count", "40"],
             "hugepages": ["--mb", "800", "--repeats", "5"]},
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--only", nargs="*", default=None, help="run only these benchmarks")
    args = parser.parse_args(argv)
    RESULTS.mkdir(exist_ok=True)
    summary = {"size": args.size, "benchmarks": {}}
    failed = []
    for name, options in SIZES[args.size].items():
        if args.only and name not in args.only:
            continue
        out = RESULTS / f"{name}.json"
        print(f"== {name} ==", flush=True)
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, str(HERE / f"bench_{name}.py"), *options,
                               "--out", str(out)])
        if proc.returncode != 0:
            failed.append(name)
            continue
        summary["benchmarks"][name] = {"seconds": time.perf_counter() - start,
                                       "result": json.loads(out.read_text())}
    (RESULTS / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"summary: {RESULTS / 'summary.json'}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
