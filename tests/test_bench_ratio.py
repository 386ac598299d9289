"""The benchmarks' side-by-side ratio (bench/_measure.py), worked by hand, and their plain-read step."""
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


@pytest.mark.parametrize("small_pages", [False, True])
def test_read_csv_step_reads_every_file_and_times_it(tmp_path, small_pages):
    from bench._measure import read_csv_step

    paths = []
    for k in (1, 2):
        path = tmp_path / f"t{k}.csv"
        path.write_text("a,b\n" + "1,2\n" * k, encoding="utf-8")
        paths.append(path)
    scope = {}
    exec("import time\nimport pandas as pd\n"
         + read_csv_step(paths, small_pages=small_pages,
                         extra='{"rows": sum(len(f) for f in frames)}'), scope)
    assert [len(f) for f in scope["frames"]] == [1, 2]
    assert scope["_extra"] == {"rows": 3}
    assert scope["_seconds"] >= 0


def test_shuffle_rows_keeps_the_header_and_every_row(tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    from bench.bench_pipeline import shuffle_rows

    path = tmp_path / "participants.csv"
    rows = [f"SP{k:04d},site {k % 3}\n" for k in range(200)]
    path.write_text("participant_id,site\n" + "".join(rows), encoding="utf-8")
    shuffle_rows(path)
    header, *got = path.read_text(encoding="utf-8").splitlines(keepends=True)
    assert header == "participant_id,site\n"
    assert sorted(got) == rows and got != rows
