"""Inter-coder agreement against published values, hand-worked tables and other libraries."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from spanalysis.errors import InputError
from spanalysis.qual.agreement import (
    coding_agreement,
    cohen_kappa,
    krippendorff_alpha,
    sentence_spans,
    percent_agreement,
)

nan = np.nan
# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", section C: reliability
# data of 4 observers (A-D) x 12 units with missing values.
KRIPPENDORFF_2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
    [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
]
PUBLISHED = {"nominal": 0.743, "ordinal": 0.815, "interval": 0.849, "ratio": 0.797}


def _hand_alpha(data, level):
    """Krippendorff's alpha by the paper's formulas, in plain Python (no numpy, no shortcuts).

    o_ck = sum over units of (number of c-k pairs between different coders) / (m_u - 1);
    n_c = sum_k o_ck; alpha = 1 - (n - 1) sum o_ck d2_ck / sum n_c n_k d2_ck.
    """
    units = list(zip(*data))
    values = sorted({v for u in units for v in u if v == v})
    o = {(c, k): 0.0 for c in values for k in values}
    for u in units:
        vals = [v for v in u if v == v]
        m = len(vals)
        if m < 2:
            continue  # unit 12 (one value) is not pairable
        for i in range(m):
            for j in range(m):
                if i != j:
                    o[(vals[i], vals[j])] += 1.0 / (m - 1)
    n_c = {c: sum(o[(c, k)] for k in values) for c in values}
    n = sum(n_c.values())

    def d2(c, k):
        if level == "nominal":
            return 0.0 if c == k else 1.0
        if level == "interval":
            return (c - k) ** 2
        if level == "ratio":
            return ((c - k) / (c + k)) ** 2
        lo, hi = min(c, k), max(c, k)  # ordinal
        return (sum(n_c[g] for g in values if lo <= g <= hi) - (n_c[c] + n_c[k]) / 2) ** 2

    num = sum(o[(c, k)] * d2(c, k) for c in values for k in values)
    den = sum(n_c[c] * n_c[k] * d2(c, k) for c in values for k in values)
    return 1 - (n - 1) * num / den, n_c, n


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_krippendorff_2011_worked_example(level):
    hand, n_c, n = _hand_alpha(KRIPPENDORFF_2011, level)
    # the paper's coincidence-matrix marginals: n_1..n_5 = 9, 13, 10, 5, 3; n = 40
    assert [round(n_c[v], 10) for v in (1, 2, 3, 4, 5)] == [9, 13, 10, 5, 3]
    assert n == pytest.approx(40)
    assert round(hand, 3) == PUBLISHED[level]          # the hand formulas reproduce the paper
    assert krippendorff_alpha(KRIPPENDORFF_2011, level) == pytest.approx(hand, abs=1e-12)


def test_krippendorff_nominal_by_hand_arithmetic():
    # Mismatching ordered pairs per unit, divided by m_u - 1:
    #   unit 2 (2,2,3,2): 3 + 3 = 6 pairs / 3 = 2
    #   unit 6 (1,2,3,4): 4 x 3 = 12 pairs / 3 = 4
    #   unit 8 (1,1,2,1): 6 pairs / 3 = 2            -> sum of off-diagonal o = 8
    # Expected: n^2 - sum n_c^2 = 1600 - (81 + 169 + 100 + 25 + 9) = 1600 - 384 = 1216
    # alpha = 1 - (n - 1) * 8 / 1216 = 1 - 312 / 1216 = 0.743421...
    assert krippendorff_alpha(KRIPPENDORFF_2011, "nominal") == pytest.approx(1 - 312 / 1216)


def test_krippendorff_matches_nltk_on_complete_nominal_data():
    from nltk.metrics.agreement import AnnotationTask

    rng = np.random.default_rng(7)
    truth = rng.integers(0, 4, size=40)
    data = np.array([np.where(rng.random(40) < 0.75, truth, rng.integers(0, 4, 40))
                     for _ in range(3)])
    triples = [(f"c{c}", f"u{u}", int(data[c, u])) for c in range(3) for u in range(40)]
    assert krippendorff_alpha(data, "nominal") == pytest.approx(AnnotationTask(triples).alpha(),
                                                               abs=1e-10)


def test_krippendorff_accepts_labels_and_dataframe():
    frame = pd.DataFrame([["yes", "no", "yes", None], ["yes", "no", "no", "no"]])
    # units 1-3 pairable: o(yes,yes)=2, o(no,no)=2, o(yes,no)=o(no,yes)=1; n_yes=3, n_no=3,
    # n=6: alpha = 1 - 5 * 2 / (36 - 18) = 1 - 10/18 = 0.4444...
    assert krippendorff_alpha(frame) == pytest.approx(1 - 10 / 18)


def test_alpha_one_for_identical_coders_and_nan_without_variation():
    row = [1, 2, 3, 4, 2, 1]
    for level in ("nominal", "ordinal", "interval", "ratio"):
        assert krippendorff_alpha([row, row, row], level) == pytest.approx(1.0)
    assert math.isnan(krippendorff_alpha([[1, 1, 1], [1, 1, 1]]))      # D_e = 0: undefined
    assert math.isnan(krippendorff_alpha([[1, nan], [nan, 2]]))         # nothing pairable
    with pytest.raises(InputError):
        krippendorff_alpha([[1, 2]], "nominal")                         # one coder
    with pytest.raises(InputError):
        krippendorff_alpha([["a", "b"], ["a", "b"]], "interval")
    with pytest.raises(InputError):
        krippendorff_alpha([[1, 2], [1, 2]], "cardinal")


def test_cohen_kappa_hand_worked_2x2():
    # 50 units:            B yes   B no
    #             A yes      20      5     (25)
    #             A no       10     15     (25)
    #                       (30)   (20)
    # p_o = (20 + 15) / 50 = 0.70
    # p_e = (25/50)(30/50) + (25/50)(20/50) = 0.30 + 0.20 = 0.50
    # kappa = (0.70 - 0.50) / (1 - 0.50) = 0.40
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.40)


def test_cohen_kappa_matches_sklearn_and_drops_missing():
    from sklearn.metrics import cohen_kappa_score

    rng = np.random.default_rng(3)
    a = rng.integers(0, 3, 200)
    b = np.where(rng.random(200) < 0.6, a, rng.integers(0, 3, 200))
    assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)
    fa, fb = a.astype(float), b.astype(float)
    fa[:10] = nan
    assert cohen_kappa(fa, fb) == pytest.approx(cohen_kappa_score(a[10:], b[10:]), abs=1e-12)
    assert math.isnan(cohen_kappa([1, 1], [1, 1]))  # p_e = 1


def test_percent_agreement():
    # units: (1,1) agree, (0,1) no, (1,1) agree, (1,0) no, (nan,1) not pairable -> 2/4 = 50%
    assert percent_agreement([[1, 0, 1, 1, nan], [1, 1, 1, 0, 1]]) == 50.0
    # three coders: a unit agrees only when all present values are equal: 1 of 3
    assert percent_agreement([[1, 2, 3], [1, 2, 3], [1, 3, nan]]) == pytest.approx(200 / 3)


# --------------------------------------------------------------------------- coded segments

S1 = "I felt alone. She listened to me. Now I go out. It gave me hope."
S2 = "The GP referred me. Dr. Patel was kind. I trust them again."
S3 = "Nothing here."


def _seg(source, text, coder, code, phrase):
    start = text.index(phrase)
    return {"source_id": source, "coder": coder, "code_id": code, "start": start,
            "end": start + len(phrase)}


@pytest.fixture
def two_coders():
    sources = pd.DataFrame({"source_id": ["S1", "S2", "S3"], "text": [S1, S2, S3]})
    segments = pd.DataFrame([
        _seg("S1", S1, "A", "valued", "She listened to me."),
        _seg("S2", S2, "A", "valued", "Dr. Patel was kind."),
        _seg("S1", S1, "B", "valued", "She listened to me."),
        _seg("S2", S2, "B", "valued", "I trust them again."),
        _seg("S1", S1, "A", "hope", "It gave me hope."),
        _seg("S1", S1, "B", "hope", "hope"),                   # part of the same sentence
        _seg("S2", S2, "A", "trust", "trust them"),
        _seg("S3", S3, "A", "hope", "Nothing"),                # S3: only A coded -> left out
    ])
    return segments, sources


def test_coding_agreement_by_sentence_hand_worked(two_coders):
    segments, sources = two_coders
    out = coding_agreement(segments, sources, unit="sentence").set_index("code_id")
    assert list(out.index) == ["hope", "trust", "valued"]
    # Units: S1 has 4 sentences, S2 has 3 ("Dr. Patel" is not split): 7. S3 is not compared.
    assert (out["units_compared"] == 7).all()
    assert (out["n_coders"] == 2).all()

    # valued: A = {S1 s2, S2 s2}, B = {S1 s2, S2 s3}; coded by any = 3, by both = 1.
    # agree over all = both (1) + neither (4) = 5 of 7 = 71.43 %; over coded = 1/3 = 33.3 %
    # kappa: p_o = 5/7, p_e = (2/7)^2 + (5/7)^2 = 29/49 -> (35/49 - 29/49) / (20/49) = 0.3
    # alpha (all): 4 units both 0 -> o00 = 8; 1 unit both 1 -> o11 = 2; 2 split units ->
    #   o01 = o10 = 2; n0 = 10, n1 = 4, n = 14: 1 - 13 * (2 + 2) / (2 * 10 * 4) = 1 - 52/80
    #   = 0.35
    v = out.loc["valued"]
    assert v["units_coded_by_any"] == 3
    assert v["percent_agreement_all"] == pytest.approx(500 / 7)
    assert v["percent_agreement_coded"] == pytest.approx(100 / 3)
    assert v["cohen_kappa"] == pytest.approx(0.3)
    assert v["krippendorff_alpha_all"] == pytest.approx(1 - 52 / 80)

    # hope: both coders mark S1 sentence 4 (B's "hope" overlaps it): 7/7 and 1/1 agree;
    # kappa: p_o = 1, p_e = (1/7)^2 + (6/7)^2 = 37/49 -> 1
    h = out.loc["hope"]
    assert (h["units_coded_by_any"], h["percent_agreement_all"],
            h["percent_agreement_coded"]) == (1, 100.0, 100.0)
    assert h["cohen_kappa"] == pytest.approx(1.0)
    assert h["krippendorff_alpha_all"] == pytest.approx(1.0)

    # trust: only A (S2 s3): 6 of 7 agree (85.7 %) but 0 of 1 coded unit; kappa:
    # p_o = 6/7, p_e = (1/7)(0) + (6/7)(7/7) = 6/7 -> 0; alpha: o00 = 12, o01 = o10 = 1,
    # n0 = 13, n1 = 1, n = 14: 1 - 13 * 2 / (2 * 13 * 1) = 0
    t = out.loc["trust"]
    assert t["percent_agreement_all"] == pytest.approx(600 / 7)
    assert t["percent_agreement_coded"] == 0.0
    assert t["cohen_kappa"] == pytest.approx(0.0)
    assert t["krippendorff_alpha_all"] == pytest.approx(0.0)


def test_coding_agreement_by_source(two_coders):
    segments, sources = two_coders
    out = coding_agreement(segments, sources, unit="source").set_index("code_id")
    # units: S1 and S2 (S3 only coded by A). valued: both coders in both sources -> 100 %.
    # trust: A in S2, B nowhere: S1 agree, S2 not -> 50 % over all, 0 % over coded.
    assert (out["units_compared"] == 2).all()
    assert out.loc["valued", "percent_agreement_all"] == 100.0
    assert out.loc["trust", "percent_agreement_all"] == 50.0
    assert out.loc["trust", "percent_agreement_coded"] == 0.0
    assert out.loc["hope", "units_coded_by_any"] == 1


def test_coding_agreement_three_coders_and_errors(two_coders):
    segments, sources = two_coders
    extra = pd.DataFrame([_seg("S1", S1, "C", "valued", "She listened"),
                          _seg("S2", S2, "C", "valued", "Dr. Patel")])
    out = coding_agreement(pd.concat([segments, extra]), sources).set_index("code_id")
    assert (out["n_coders"] == 3).all()
    assert out["cohen_kappa"].isna().all()  # kappa is for two coders only
    # valued: A {1, 5}, B {1, 6}, C {1, 5} (units numbered 0..6): all three agree on unit 1
    # and on the four units nobody coded: 5 of 7; coded by any: {1, 5, 6}, all agree on 1.
    assert out.loc["valued", "percent_agreement_all"] == pytest.approx(500 / 7)
    assert out.loc["valued", "percent_agreement_coded"] == pytest.approx(100 / 3)
    only_ab = coding_agreement(pd.concat([segments, extra]), sources, coders=["A", "B"])
    assert (only_ab["n_coders"] == 2).all()
    with pytest.raises(InputError, match="two coders"):
        coding_agreement(segments, sources, coders=["A"])
    with pytest.raises(InputError, match="unit"):
        coding_agreement(segments, sources, unit="paragraph")
    with pytest.raises(InputError, match="coded by all"):
        coding_agreement(segments[segments["source_id"] == "S3"].assign(coder=["A"]),
                         sources, coders=["A", "B"])


def _sentences(n: int) -> tuple[str, list[tuple[int, int]]]:
    """A text of ``n`` short sentences and each sentence's span."""
    words = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
             "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
             "eighteen", "nineteen", "twenty"]
    parts, spans, pos = [], [], 0
    for w in words[:n]:
        sentence = f"This is line {w}."
        parts.append(sentence)
        spans.append((pos, pos + len(sentence)))
        pos += len(sentence) + 1
    return " ".join(parts), spans


def test_alpha_over_all_units_when_coders_mostly_agree():
    # Issue 19 item 1: 20 sentences; both coders code sentences 0 and 1, coder A also codes
    # sentence 2 (95 % raw agreement). Over all 20 units, by hand (Krippendorff 2011,
    # nominal, two coders, no missing values): o00 = 2 * 17 = 34, o11 = 2 * 2 = 4,
    # o01 = o10 = 1; n0 = 35, n1 = 5, n = 40;
    # alpha = 1 - (n - 1) * (o01 + o10) / (2 * n0 * n1) = 1 - 39 * 2 / 350 = 0.7771...
    # Over the three coded units alone (o11 = 4, o01 = o10 = 1, n1 = 5, n0 = 1, n = 6) it
    # would be 1 - 5 * 2 / (2 * 5 * 1) = 0 by construction; that figure is not reported.
    text, spans = _sentences(20)
    assert sentence_spans(text) == spans
    rows = [("A", 0), ("A", 1), ("A", 2), ("B", 0), ("B", 1)]
    segments = pd.DataFrame([{"source_id": "S", "coder": c, "code_id": "hope",
                              "start": spans[i][0], "end": spans[i][1]} for c, i in rows])
    sources = pd.DataFrame({"source_id": ["S"], "text": [text]})
    row = coding_agreement(segments, sources).iloc[0]
    assert row["units_compared"] == 20
    assert row["percent_agreement_all"] == pytest.approx(95.0)
    assert row["krippendorff_alpha_all"] == pytest.approx(1 - 78 / 350)
    assert not any("alpha" in c and c != "krippendorff_alpha_all" for c in row.index)


def test_alpha_not_estimable_without_variation_is_nan_and_said(tmp_path, capsys):
    # Both coders code every sentence with the code: no variation (D_e = 0), so alpha is
    # not estimable: NaN in the table, the words "not estimable" in the printed table.
    from spanalysis.commands import _format_agreement

    text, spans = _sentences(4)
    segments = pd.DataFrame([{"source_id": "S", "coder": c, "code_id": "hope",
                              "start": s, "end": e} for c in "AB" for s, e in spans])
    sources = pd.DataFrame({"source_id": ["S"], "text": [text]})
    table = coding_agreement(segments, sources)
    assert math.isnan(table["krippendorff_alpha_all"].iloc[0])
    assert table["percent_agreement_all"].iloc[0] == 100.0
    printed = _format_agreement(table)
    assert "not estimable" in printed and "nan" not in printed.lower()
