"""The benchmarks' side-by-side ratio (bench/_measure.py), worked by hand."""
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
