"""Benchmark: read a large REFI-QDA project (.qdpx) with ``read_qdpx``.

A synthetic project (default 1,000 sources, 100,000 codings by 3 coders with 20 codes, a few
emoji so the UTF-16 check runs) is written with ``write_qdpx``; ``read_qdpx`` is then timed in
a fresh Python process that also reports its peak resident memory. Target: < 5 s.

    python bench/bench_refi.py                  # full size
    python bench/bench_refi.py --codings 5000   # small, for CI
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import measure, write_result  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_SECONDS = 5.0
WORDS = ("she listened to me and I felt valued for the first time in years the link worker "
         "helped me find a walking group now I have hope again my GP referred me because I "
         "was lonely after my wife died").split()


def make_project(sources: int, codings: int, seed: int = 1) -> dict:
    """A synthetic project of the given size (vectorised; texts of about 600 words)."""
    rng = np.random.default_rng(seed)
    words = np.array(WORDS, dtype=object)
    texts = []
    for i in range(sources):
        body = " ".join(words[rng.integers(0, len(words), 600)])
        texts.append(body + (" \U0001F642 thanks." if i % 10 == 0 else " thanks."))
    codes = pd.DataFrame({"id": [f"code{k:02d}" for k in range(20)],
                          "name": [f"Theme {k}" for k in range(20)]})
    lengths = np.array([len(t) for t in texts])
    src = rng.integers(0, sources, codings)
    start = (rng.random(codings) * (lengths[src] - 60)).astype(np.int64)
    end = start + rng.integers(5, 60, codings)
    segments = pd.DataFrame({
        "segment_id": [f"seg{i}" for i in range(codings)],
        "source_id": [f"S{s:05d}" for s in src],
        "coder": np.array(["Ann", "Ben", "Cat"])[rng.integers(0, 3, codings)],
        "code_id": codes["id"].to_numpy()[rng.integers(0, 20, codings)],
        "start": start, "end": end})
    src_table = pd.DataFrame({"source_id": [f"S{s:05d}" for s in range(sources)],
                              "source_name": [f"Interview {s}" for s in range(sources)],
                              "text": texts})
    cases = pd.DataFrame({"case": [f"P{s:05d}" for s in range(sources)], "description": "",
                          "source_id": src_table["source_id"]})
    variables = pd.DataFrame({"case": cases["case"], "variable": "age",
                              "value": rng.integers(18, 90, sources).astype(str),
                              "type": "Integer"})
    return {"codebook": codes, "sources": src_table, "segments": segments, "cases": cases,
            "variables": variables}


def run(sources: int, codings: int, workdir: Path | None = None) -> dict:
    bench_dir = str(Path(__file__).resolve().parent)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        path = Path(tmp) / "bench.qdpx"
        # Generating and writing run in their own process too: Linux carries a parent's peak
        # RSS (ru_maxrss) into the children it starts, so a parent that had held the big
        # project would inflate the reader's measured peak.
        write = measure(f"""
            sys.path.insert(0, {bench_dir!r})
            from bench_refi import make_project
            from spanalysis.qual.refi import write_qdpx
            t0 = time.perf_counter()
            project = make_project({sources}, {codings})
            _generate = time.perf_counter() - t0
            t0 = time.perf_counter()
            write_qdpx(project, {str(path)!r})
            _seconds = time.perf_counter() - t0
            _extra = {{"generate_seconds": _generate}}
        """)
        read = measure(f"""
            from spanalysis.qual.refi import read_qdpx
            t0 = time.perf_counter()
            project = read_qdpx({str(path)!r})
            _seconds = time.perf_counter() - t0
            _extra = {{"segments": len(project["segments"]),
                      "sources": len(project["sources"]), "offsets": project["offsets"]}}
        """)
        result = {
            "benchmark": "read_qdpx",
            "sources": sources,
            "codings": codings,
            "qdpx_mb": path.stat().st_size / 2**20,
            "generate_seconds": write["generate_seconds"],
            "write_seconds": write["seconds"],
            "read_qdpx": read,
            "target_seconds": TARGET_SECONDS,
        }
    result["meets_target"] = read["seconds"] < TARGET_SECONDS
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--sources", type=int, default=1_000)
    parser.add_argument("--codings", type=int, default=100_000)
    parser.add_argument("--out", default=str(RESULTS / "refi.json"))
    args = parser.parse_args(argv)
    result = run(args.sources, args.codings)
    write_result(result, args.out)
    r = result["read_qdpx"]
    print(f"sources {args.sources:,}  codings {args.codings:,}  qdpx {result['qdpx_mb']:.1f} MB  "
          f"write {result['write_seconds']:.2f} s")
    print(f"read_qdpx  {r['seconds']:6.2f} s  peak RSS {r['peak_rss_mb']:6.0f} MB  "
          f"(target < {TARGET_SECONDS:.0f} s: {'met' if result['meets_target'] else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
