"""Benchmark: the first touch of new memory, with and without numpy's huge-page advice.

spanalysis switches numpy's ``madvise(MADV_HUGEPAGE)`` advice off while it loads, scores and
compares a study (``spanalysis/_memory.py``). This measures why, on the machine at hand: each
trial starts a fresh Python process that fills a new array of --mb megabytes, once with
numpy's default advice and once inside ``spanalysis._memory.small_pages()``, alternating.

    python bench/bench_hugepages.py --mb 800 --repeats 5
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import measure, write_result  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def _sysfs(name: str) -> str | None:
    try:
        return Path("/sys/kernel/mm/transparent_hugepage", name).read_text().strip()
    except OSError:
        return None


def run(mb: int = 800, repeats: int = 5) -> dict:
    n = mb * 2**20 // 8
    fills = {"numpy_default": [], "small_pages": []}
    for _ in range(repeats):
        fills["numpy_default"].append(measure(f"""
            t0 = time.perf_counter()
            a = np.ones({n})
            _seconds = time.perf_counter() - t0
            _extra = {{}}
        """))
        fills["small_pages"].append(measure(f"""
            from spanalysis._memory import small_pages
            t0 = time.perf_counter()
            with small_pages():
                a = np.ones({n})
            _seconds = time.perf_counter() - t0
            _extra = {{}}
        """))
    seconds = {k: [r["seconds"] for r in v] for k, v in fills.items()}
    result = {"benchmark": "first touch of a new array", "mb": mb, "repeats": repeats,
              "transparent_hugepage": {"enabled": _sysfs("enabled"),
                                       "defrag": _sysfs("defrag")},
              "seconds": seconds,
              "median_seconds": {k: sorted(v)[len(v) // 2] for k, v in seconds.items()}}
    result["median_ratio_default_to_small_pages"] = (
        result["median_seconds"]["numpy_default"] / result["median_seconds"]["small_pages"])
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=800)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=str(RESULTS / "hugepages.json"))
    args = parser.parse_args(argv)
    result = run(args.mb, args.repeats)
    write_result(result, args.out)
    thp = result["transparent_hugepage"]
    print(f"transparent huge pages: enabled {thp['enabled']}; defrag {thp['defrag']}")
    for k, v in result["seconds"].items():
        print(f"fill a new {args.mb} MB array, {k:13s} "
              + " ".join(f"{s:5.2f}" for s in v) + f"  (median {sorted(v)[len(v) // 2]:.2f} s)")
    print(f"median ratio, numpy default to small pages: "
          f"{result['median_ratio_default_to_small_pages']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
