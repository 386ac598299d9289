"""The benchmarks' side-by-side ratio (bench/_measure.py) worked by hand, their plain-read
step, and the runner's verdict lines."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._measure import paired_ratio  # noqa: E402


def test_paired_ratio_is_the_median_of_each_run_against_the_reference_before_it():
    # pairs 1.8/1.0 = 1.8, 1.9/0.95 = 2.0, 1.7/0.8 = 2.125, 2.0/1.25 = 1.6, 1.85/1.0 = 1.85
    got = paired_ratio([1.0, 0.95, 0.8, 1.25, 1.0], [1.8, 1.9, 1.7, 2.0, 1.85])
    assert got["paired_ratios"] == pytest.approx([1.8, 2.0, 2.125, 1.6, 1.85])
    assert got["ratio"] == pytest.approx(1.85)
    assert got["ratio_of_fastest"] == pytest.approx(1.7 / 0.8)


def test_paired_ratio_needs_one_reference_run_per_run():
    with pytest.raises(ValueError):
        paired_ratio([1.0], [1.0, 2.0])
    with pytest.raises(ValueError):
        paired_ratio([], [])


def test_read_csv_step_reads_every_file_and_times_it(tmp_path):
    from bench._measure import read_csv_step

    paths = []
    for k in (1, 2):
        path = tmp_path / f"t{k}.csv"
        path.write_text("a,b\n" + "1,2\n" * k, encoding="utf-8")
        paths.append(path)
    scope = {}
    exec("import time\nimport pandas as pd\n"
         + read_csv_step(paths, extra='{"rows": sum(len(f) for f in frames)}'), scope)
    assert [len(f) for f in scope["frames"]] == [1, 2]
    assert scope["_extra"] == {"rows": 3}
    assert scope["_seconds"] >= 0


def test_the_runner_says_whether_each_guard_holds():
    from bench.__main__ import verdict

    assert verdict("pipeline", {"ratio": 2.31, "participants": 200_000, "target_ratio": 3.5,
                                "meets_target": True}) == (
        "guard pipeline: 2.31x read_csv at 200,000 participants (target <= 3.5x): holds")
    assert verdict("demo", {"median_seconds": 0.61, "target_seconds": 0.5,
                            "meets_target": False}) == (
        "guard demo: 0.610 s (target < 0.5 s): DOES NOT HOLD")
