"""participant_code_matrix: quantitized themes, checked on hand-built cases."""
import pandas as pd

from spanalysis.qual.themes import participant_code_matrix

SOURCES = pd.DataFrame({
    "source_id": ["I1", "I2", "I3", "O1"],
    "source_type": ["interview", "interview", "interview", "observation"],
    "participant_id": ["P1", "P2", "P3", None],
})
SEGMENTS = pd.DataFrame({
    # P1: coder a codes hope twice, coder b once (double-coded) -> count max(2, 1) = 2
    # P2: only coder b codes social -> voiced
    # P3: nothing coded -> a row of zeros
    # O1: observation, never counted
    "source_id": ["I1", "I1", "I1", "I2", "O1"],
    "coder": ["a", "a", "b", "b", "a"],
    "code_id": ["hope", "hope", "hope", "social", "hope"],
})


def test_counts_merge_coders_without_double_counting():
    m = participant_code_matrix(SEGMENTS, SOURCES)
    assert list(m.index) == ["P1", "P2", "P3"]
    assert m.loc["P1", "hope"] == 2 and m.loc["P1", "social"] == 0
    assert m.loc["P2", "social"] == 1
    assert m.loc["P3"].sum() == 0


def test_binary_and_single_coder():
    b = participant_code_matrix(SEGMENTS, SOURCES, binary=True)
    assert b.loc["P1", "hope"] == 1 and set(b.to_numpy().ravel()) <= {0, 1}
    a = participant_code_matrix(SEGMENTS, SOURCES, coder="a", codes=["hope", "social", "trust"])
    assert list(a.columns) == ["hope", "social", "trust"]
    assert a.loc["P1", "hope"] == 2 and a.loc["P2", "social"] == 0


def test_observations_can_be_included_but_need_a_participant():
    m = participant_code_matrix(SEGMENTS, SOURCES, source_types=("interview", "observation"))
    assert "O1" not in m.index and len(m) == 3
