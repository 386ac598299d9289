"""Property-based tests (hypothesis): invariants that must hold for every input.

Each property is stated against an independent formula written here, never against the
code's own output on another input.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from spanalysis import instruments
from spanalysis.privacy.identifiers import nhs_check_digit
from spanalysis.privacy.redact import redact
from spanalysis.qual.agreement import cohen_kappa, krippendorff_alpha

FIXTURES = Path(__file__).parent / "fixtures" / "instruments"
SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

answer = st.one_of(st.none(), st.integers(min_value=1, max_value=5))


def _wide(rows: list[list], prefix: str, n_items: int) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=[f"{prefix}_{i}" for i in range(1, n_items + 1)],
                         dtype="float64")
    frame.insert(0, "timepoint", "baseline")
    frame.insert(0, "participant_id", [f"P{i}" for i in range(len(rows))])
    return frame


def _score_of(table: pd.DataFrame, scale: str) -> np.ndarray:
    return table[table["scale"] == scale].sort_values("participant_id")["score"].to_numpy()


# --------------------------------------------------------------------------- scoring

@SETTINGS
@given(st.lists(st.lists(answer, min_size=14, max_size=14), min_size=1, max_size=30))
def test_wemwbs_total_is_the_sum_of_complete_answers_within_bounds(rows):
    scores = instruments.score(_wide(rows, "wemwbs", 14), instruments.load("wemwbs"))
    got = _score_of(scores, "total")
    assert len(got) == len(rows) > 0  # one score per row: the loop below is never empty
    for row, score in zip(rows, got):
        if any(v is None for v in row):
            assert np.isnan(score)  # complete cases only (measures.md)
        else:
            assert score == sum(row) and 14 <= score <= 70


@SETTINGS
@given(st.lists(st.lists(st.one_of(st.none(), st.integers(1, 4)), min_size=10, max_size=10),
                min_size=1, max_size=30))
def test_gse_missing_rule_and_prorating(rows):
    scores = instruments.score(_wide(rows, "gse", 10), instruments.load("gse"))
    got = _score_of(scores, "total")
    assert len(got) == len(rows) > 0  # one score per row: the loop below is never empty
    for row, score in zip(rows, got):
        answered = [v for v in row if v is not None]
        if len(answered) < 7:  # Schwarzer: at most 3 of 10 missing
            assert np.isnan(score)
        else:
            assert score == pytest.approx(10 * sum(answered) / len(answered))
            assert 10 <= score <= 40


@SETTINGS
@given(st.lists(st.lists(st.one_of(st.none(), st.integers(0, 4)), min_size=5, max_size=5),
                min_size=1, max_size=30))
def test_reverse_scored_items(rows):
    """mood5 (fixture): items 2 and 4 are reversed on a 0-4 scale; at least 4 answered,
    prorated as mean x 5."""
    inst = instruments.load(FIXTURES / "mood5.yaml")
    got = _score_of(instruments.score(_wide(rows, "mood5", 5), inst), "total")
    assert len(got) == len(rows) > 0  # one score per row: the loop below is never empty
    for row, score in zip(rows, got):
        keyed = [None if v is None else (4 - v if i in (1, 3) else v) for i, v in enumerate(row)]
        answered = [v for v in keyed if v is not None]
        if len(answered) < 4:
            assert np.isnan(score)
        else:
            assert score == pytest.approx(5 * sum(answered) / len(answered))
            assert 0 <= score <= 20


@SETTINGS
@given(st.lists(st.lists(st.integers(1, 5), min_size=14, max_size=14), min_size=2, max_size=20))
def test_swemwbs_metric_follows_the_published_table_and_is_monotone(rows):
    # the published table, shipped with the tests (tests/reference/README.md: its source)
    table = pd.read_csv(Path(__file__).parent / "reference" / "swemwbs_conversion.csv")
    scores = instruments.score(_wide(rows, "wemwbs", 14), instruments.load("swemwbs"))
    raw = _score_of(scores, "raw")
    metric = _score_of(scores, "metric")
    # SWEMWBS items are WEMWBS items 1, 2, 3, 6, 7, 9, 11 (measures.md)
    expected_raw = [sum(r[i - 1] for i in (1, 2, 3, 6, 7, 9, 11)) for r in rows]
    assert list(raw) == expected_raw
    order = np.argsort(raw, kind="stable")
    assert np.all(np.diff(metric[order]) >= 0)
    lookup = dict(zip(table["raw"], table["metric"]))
    assert list(metric) == [lookup[r] for r in expected_raw]


@SETTINGS
@given(st.lists(st.integers(-2, 2), min_size=1, max_size=5),
       st.lists(st.integers(1, 9), min_size=5, max_size=5))
def test_gas_tscore_formula(levels, weights):
    weights = weights[:len(levels)]
    rho = 0.3
    # Kiresuk & Sherman (1968), as corrected by Turner-Stokes (2009)
    num = 10 * sum(w * x for w, x in zip(weights, levels))
    den = np.sqrt((1 - rho) * sum(w * w for w in weights) + rho * sum(weights) ** 2)
    assert instruments.gas_tscore(levels, weights) == pytest.approx(50 + num / den)
    if all(x == 0 for x in levels):
        assert instruments.gas_tscore(levels, weights) == pytest.approx(50)


# --------------------------------------------------------------------------- agreement

coder_values = st.lists(st.one_of(st.none(), st.integers(0, 3)), min_size=3, max_size=25)


@SETTINGS
@given(st.lists(coder_values, min_size=2, max_size=4))
def test_krippendorff_alpha_is_at_most_one(rows):
    width = min(len(r) for r in rows)
    data = np.array([[np.nan if v is None else v for v in r[:width]] for r in rows], float)
    for level in ("nominal", "ordinal", "interval", "ratio"):
        alpha = krippendorff_alpha(data, level=level)
        assert np.isnan(alpha) or alpha <= 1 + 1e-12


@SETTINGS
@given(st.lists(st.integers(0, 3), min_size=3, max_size=30), st.integers(2, 4))
def test_identical_coders_agree_perfectly(values, n_coders):
    assume(len(set(values)) > 1)  # alpha is undefined without variation
    data = np.array([values] * n_coders, dtype=float)
    for level in ("nominal", "ordinal", "interval", "ratio"):
        assert krippendorff_alpha(data, level=level) == pytest.approx(1.0)
    assert cohen_kappa(values, values) == pytest.approx(1.0)


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2)), min_size=2, max_size=40))
def test_cohen_kappa_is_within_its_range(pairs):
    a, b = zip(*pairs)
    kappa = cohen_kappa(list(a), list(b))
    assert np.isnan(kappa) or -1 - 1e-12 <= kappa <= 1 + 1e-12


# --------------------------------------------------------------------------- redaction

words = st.sampled_from(["I", "went", "to", "the", "group", "and", "she", "said", "Hope",
                         "Bath", "Mark", "my", "words", "every", "week", "it", "helped",
                         "garden", "cafe", "May", "we", "talked"])


@st.composite
def nhs_numbers(draw):
    while True:
        first = "".join(str(draw(st.integers(0, 9))) for _ in range(9))
        check = nhs_check_digit(first)
        if check is not None:
            number = first + str(check)
            return draw(st.sampled_from([number, f"{number[:3]} {number[3:6]} {number[6:]}"]))


mobiles = st.integers(0, 999).map(lambda n: f"07700 900{n:03d}")
emails = st.from_regex(r"[a-z]{3,8}\.[a-z]{3,8}@example\.(com|org)", fullmatch=True)
postcodes = st.sampled_from(["LS6 9ZX", "BA1 1AA", "SW1A 2AA", "M1 1AE", "B33 8TH"])
names = st.sampled_from(["Sinead", "Mrs Patel", "Dr Okafor", "Margaret"])


@SETTINGS
@given(st.lists(words, min_size=3, max_size=12), st.lists(st.one_of(
    nhs_numbers(), mobiles, emails, postcodes, names), min_size=1, max_size=4),
    st.randoms(use_true_random=False))
def test_redaction_never_leaves_a_planted_identifier(text_words, planted, rnd):
    tokens = list(text_words)
    for item in planted:
        tokens.insert(rnd.randint(0, len(tokens)), item)
    text = " ".join(tokens) + "."
    out, found = redact(text, names=["Sinead", "Margaret"])
    for item in planted:
        core = item.split(" ", 1)[1] if item.startswith(("Mrs ", "Dr ")) else item
        assert core not in out, (text, out)
        digits = re.sub(r"\D", "", core)
        if len(digits) >= 6:
            assert digits not in re.sub(r"\D", "", out), (text, out)
    # ordinary words survive
    for word in ("group", "garden", "helped"):
        assert text.count(word) == out.count(word)
