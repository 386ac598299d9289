"""NLTK text tools without downloads: tokenising, stemming, KWIC, distinctive terms (G2),
collocations and code suggestions with their quality.

References used by the tests: scipy.stats (power_divergence, chi2_contingency), NLTK's own
BigramAssocMeasures, the Snowball English stemmer's published sample vocabulary, and counts
worked by hand (arithmetic in comments) or made with a naive loop independent of the
vectorised code.
"""
import math
import re

import numpy as np
import pandas as pd
import pytest
from conftest import DEMO, folder_digest
from scipy.stats import chi2, chi2_contingency, power_divergence

from spanalysis.errors import InputError
from spanalysis.qual import text as T
from spanalysis.qual.material import Qualitative


@pytest.fixture(scope="module")
def demo():
    from spanalysis.study import load_study

    return load_study(DEMO)


@pytest.fixture
def no_downloads(monkeypatch):
    """Fail loudly if anything reaches for NLTK data or the network."""
    import nltk

    def refuse(*args, **kwargs):
        raise AssertionError("NLTK data was requested: " + repr(args[:1]))

    monkeypatch.setattr(nltk, "download", refuse)
    monkeypatch.setattr(nltk.data, "load", refuse)
    monkeypatch.setattr(nltk.data, "find", refuse)


# --------------------------------------------------------------------------- tokenising

def test_sentences_keep_titles_and_split_lines(no_downloads):
    text = "  Dr. Patel rang. Mrs. Jones came too, etc. and so on!\nInterviewer: Why?\n\nOK"
    spans = T.sentence_spans(text)
    assert [text[a:b] for a, b in spans] == [
        "Dr. Patel rang.", "Mrs. Jones came too, etc. and so on!", "Interviewer: Why?", "OK"]


def test_sentence_table_and_speakers(no_downloads):
    src = pd.DataFrame({"source_id": ["I1", "D1"],
                        "text": ["Interviewer: Hi?\nParticipant: Fine. Thanks.\nStill me.",
                                 "A leaflet. No speakers here."]})
    s = T.sentences(src)
    assert list(s["speaker"][:4]) == ["Interviewer", "Participant", "Participant",
                                      "Participant"]
    assert s["speaker"][4:].isna().all()  # a leaflet has no speaker labels
    assert list(s["sentence_no"]) == [0, 1, 2, 3, 0, 1]
    assert len(s) == 6
    for sid, a, b, sent in zip(s["source_id"], s["start"], s["end"], s["sentence"]):
        assert dict(zip(src["source_id"], src["text"]))[sid][a:b] == sent


def test_words_and_stems(no_downloads):
    assert T.words("Didn’t DIDN'T café 2024 co-op") == ["didn't", "didn't", "café", "co", "op"]
    # Snowball English sample vocabulary (snowballstem.org/algorithms/english/stemmer.html)
    sample = {"consign": "consign", "consigned": "consign", "consigning": "consign",
              "consignment": "consign", "consist": "consist", "consisted": "consist",
              "consistency": "consist", "consistent": "consist", "knack": "knack",
              "knightly": "knight"}
    assert T.stem(list(sample)) == list(sample.values())


def test_stopwords_are_the_snowball_list():
    assert {"the", "and", "i", "don't", "themselves", "very"} <= T.STOPWORDS
    # Snowball comments these out because of homonyms (a will, a can, the month of May)
    assert not {"will", "can", "may", "might", "must", "us"} & T.STOPWORDS
    assert all(w == w.lower().strip() for w in T.STOPWORDS)


# --------------------------------------------------------------------------- KWIC

def test_kwic_table_phrases_stems_and_redaction(no_downloads):
    src = pd.DataFrame({
        "source_id": ["I1", "I2"], "participant_id": ["SP0001", "SP0002"],
        "site": ["Riverside PCN", "Hillview PCN"],
        "text": ["I could step back. Mary helped me step back again.",
                 "Stepping back was hard."]})
    k = T.keyword_in_context(src, "step back", width=20, names=["Mary"])
    assert list(k.columns) == T.KWIC_COLUMNS
    assert list(k["keyword"]) == ["step back", "step back"]
    # 20 characters before the second "step back" are "k. [NAME] helped me "; the cut
    # word "back." is dropped
    assert k.loc[1, "left"] == "[NAME] helped me"
    assert "Mary" not in " ".join(k["left"]) + " ".join(k["right"])
    stems = T.keyword_in_context(src, "step back", use_stems=True)
    assert list(stems["keyword"]) == ["step back", "step back", "Stepping back"]
    assert list(stems["participant_id"]) == ["SP0001", "SP0001", "SP0002"]
    assert T.keyword_in_context(src, "Mary", names=["Mary"]).empty  # redacted first
    with pytest.raises(InputError):
        T.keyword_in_context(src, "  ,, ")


def test_kwic_on_demo_never_shows_a_planted_identifier(demo):
    from spanalysis.demo import PLANTED

    q = demo.qualitative
    # a keyword next to each planted identifier, so that every identifier falls in a window
    near = ["neighbour", "road", "mobile", "heart", "emailed", "far", "born"]

    def shown(redact_text):
        tables = [T.keyword_in_context(q.sources, w, width=80, names=q.names,
                                       redact_text=redact_text) for w in near]
        return pd.concat(tables).astype(str).to_numpy().ravel().tolist()

    raw, redacted = " | ".join(shown(False)), " | ".join(shown(True))
    identifiers = [ident["text"] for ident in PLANTED["identifiers"]]
    assert len(identifiers) == 7
    for text in identifiers:
        assert text in raw, text  # the windows do cover it
        # nowhere in the whole redacted output: not the identifier, nor any part of it of
        # three or more characters (the title is kept; "02" or "14" occur in other words)
        parts = [text, re.sub(r"\W", "", text)] + re.split(r"[\s.@/]+", text)
        checked = [part for part in parts if len(part) >= 3 and part not in ("Mrs", "com")]
        assert len(checked) >= 3, (text, checked)  # the whole, its letters and digits, a part
        for part in checked:
            assert part not in redacted, (text, part)


# --------------------------------------------------------------------------- G2

def test_g2_hand_worked():
    # a = 10 of c = 1000 words in the theme, b = 5 of d = 2000 elsewhere; N = 3000
    # expected: E11 = 15*1000/3000 = 5, E12 = 15*2000/3000 = 10,
    #           E21 = 2985*1000/3000 = 995, E22 = 2985*2000/3000 = 1990
    # G2 = 2 * (10 ln(10/5) + 5 ln(5/10) + 990 ln(990/995) + 1995 ln(1995/1990))
    #    = 2 * (6.931472 - 3.465736 - 4.987415 + 5.006270) = 2 * 3.484591 = 6.969182
    assert T.log_likelihood_g2(10, 5, 1000, 2000) == pytest.approx(6.969182, abs=1e-5)
    # no difference in relative frequency -> 0
    assert T.log_likelihood_g2(2, 4, 100, 200) == pytest.approx(0.0, abs=1e-12)
    # a zero cell is allowed (0 ln 0 = 0); E = 2, 2, 98, 98:
    # 2 * (4 ln(4/2) + 0 + 96 ln(96/98) + 100 ln(100/98))
    # = 2 * (2.772589 - 1.979452 + 2.020271) = 2 * 2.813408 = 5.626816
    assert T.log_likelihood_g2(4, 0, 100, 100) == pytest.approx(5.626816, abs=1e-5)


def test_g2_matches_scipy_power_divergence():
    rng = np.random.default_rng(7)
    c = rng.integers(200, 5000, 50)
    d = rng.integers(200, 5000, 50)
    a = rng.integers(0, 60, 50)
    b = rng.integers(1, 60, 50)
    ours = T.log_likelihood_g2(a, b, c, d)
    assert len(ours) == 50
    for k in range(50):
        table = np.array([[a[k], b[k]], [c[k] - a[k], d[k] - b[k]]], dtype=float)
        expected = np.outer(table.sum(1), table.sum(0)) / table.sum()
        ref = power_divergence(table.ravel(), expected.ravel(), lambda_="log-likelihood")
        assert ours[k] == pytest.approx(ref.statistic, rel=1e-9)
        g, p, _, _ = chi2_contingency(table, correction=False, lambda_="log-likelihood")
        assert ours[k] == pytest.approx(g, rel=1e-9)


def test_distinctive_terms_hand_counted():
    seg = pd.DataFrame({
        "source_id": ["I1", "I2", "I3", "I3"], "coder": ["a", "a", "a", "b"],
        "code_id": ["hope", "hope", "bus", "bus"], "start": [0, 0, 0, 0],
        "end": [1, 1, 1, 1],  # offsets only identify passages here
        "text": ["Hope, hope and the future.", "Hoping for a future",
                 "The bus was late, the bus", "The bus was late, the bus"]})
    t = T.distinctive_terms(seg, ["hope"], min_count=2)
    # theme words: hope hope and the future hoping for a future -> c = 9
    # other words (I3 once: the passage is double-coded): the bus was late the bus -> d = 6
    # stem "hope": a = 3 (hope, hope, hoping), b = 0; "futur": a = 2, b = 0
    hope = t[t["stem"] == "hope"].iloc[0]
    assert (hope.term, hope.theme_count, hope.other_count) == ("hope", 3, 0)
    assert hope.g2 == pytest.approx(float(T.log_likelihood_g2(3, 0, 9, 6)))
    assert hope.p_value == pytest.approx(chi2.sf(hope.g2, 1))
    assert hope.theme_per_1000 == pytest.approx(1000 * 3 / 9)
    # log ratio with 0.5 for the zero count: log2((3/9) / (0.5/6)) = log2(4) = 2
    assert hope.log_ratio == pytest.approx(2.0)
    assert list(t["stem"]) == ["hope", "futur"]  # stop words ("and", "the") never reported


def test_distinctive_terms_on_demo_agree_with_scipy_on_raw_counts(demo):
    seg = demo.qualitative.segments
    t = T.distinctive_terms(seg, ["waiting_lists"], top=5)
    # corpus sizes counted independently: words in distinct passages, split by code
    passages = seg.drop_duplicates(["source_id", "start", "end", "code_id"])
    in_theme = passages[passages["code_id"] == "waiting_lists"].drop_duplicates(
        ["source_id", "start", "end"])
    assert len(in_theme) > 0
    keys = set(zip(in_theme["source_id"], in_theme["start"], in_theme["end"]))
    others = passages.drop_duplicates(["source_id", "start", "end"])
    others = others[[k not in keys for k in zip(others["source_id"], others["start"],
                                                others["end"])]]
    n_words = lambda texts: sum(len(re.findall(T.WORD_PATTERN, s)) for s in texts)  # noqa
    c, d = n_words(in_theme["text"]), n_words(others["text"])
    assert len(t) == 5
    for row in t.itertuples():
        table = np.array([[row.theme_count, row.other_count],
                          [c - row.theme_count, d - row.other_count]])
        g, p, _, _ = chi2_contingency(table, correction=False, lambda_="log-likelihood")
        assert row.g2 == pytest.approx(g, rel=1e-9)
        assert row.p_value == pytest.approx(p, rel=1e-6)


def test_collocations_score_is_the_bigram_g2():
    seg = pd.DataFrame({"source_id": ["I1", "I2"], "code_id": ["hope", "hope"],
                        "start": [0, 0], "end": [1, 1],
                        "text": ["light at the end of the tunnel, light tunnel",
                                 "tunnel light tunnel light"]})
    t = T.collocations(seg, min_count=2)
    # words: doc 1 has 9, doc 2 has 4 -> N = 13; light: 2 + 2 = 4, tunnel: 2 + 2 = 4
    # bigrams within passages: "light tunnel" in doc 1 (1) and doc 2 (2: tunnel light
    # tunnel light -> light tunnel once... see below); pairs never span the two passages
    # doc 2 pairs: (tunnel, light), (light, tunnel), (tunnel, light) -> light tunnel = 1
    # doc 1 pairs include (light, tunnel) once -> n_12 = 2; (tunnel, light): doc 1 has
    # "tunnel light" once and doc 2 twice -> 3
    got = {(r.word_1, r.word_2): r for r in t.itertuples()}
    assert got[("light", "tunnel")].count == 2 and got[("tunnel", "light")].count == 3
    # G2 of the 2x2 table [[n12, n1 - n12], [n2 - n12, N - n1 - n2 + n12]]:
    # for (light, tunnel): a = 2, c = n1 = 4, b = n2 - n12 = 2, d = N - n1 = 9
    assert got[("light", "tunnel")].likelihood_ratio == pytest.approx(
        float(T.log_likelihood_g2(2, 2, 4, 9)), rel=1e-9)
    assert got[("tunnel", "light")].likelihood_ratio == pytest.approx(
        float(T.log_likelihood_g2(3, 1, 4, 9)), rel=1e-9)
    assert not any("the" in k for k in got)  # pairs with a stop word are dropped


# --------------------------------------------------------------------------- suggestions

BOOK = pd.DataFrame({"id": ["space", "hope", "parent"],
                     "name": ["Space to think", "Offering hope", "Parent"],
                     "keywords": [["step back", "think"], ["hope"], []]})
TEXT = ("Interviewer: Did you get hope from it?\n"
        "Participant: I learnt to step back. I was stepping back a lot. I have hope.\n"
        "The bus was late.")


def test_suggestions_skip_interviewer_and_coded_sentences(no_downloads):
    src = pd.DataFrame({"source_id": ["I1"], "text": [TEXT]})
    first = TEXT.index("Participant:")
    coded = pd.DataFrame({"source_id": ["I1"], "start": [first + 13],
                          "end": [first + 35]})  # "I learnt to step back."
    s = T.suggest_codes(src, coded, BOOK)
    assert list(s.columns) == T.SUGGESTION_COLUMNS
    assert list(s["sentence"]) == ["I was stepping back a lot.", "I have hope."]
    assert list(s["code_id"]) == ["space", "hope"]
    assert list(s["matched_keywords"]) == ["step back", "hope"]
    assert (s["status"] == T.SUGGESTION_STATUS).all()
    assert len(s) == 2
    for row in s.itertuples():
        assert TEXT[row.start:row.end] == row.sentence
    everything = T.suggest_codes(src, coded, BOOK, uncoded_only=False, exclude_speakers=())
    assert len(everything) == 4  # + the interviewer's hope and the coded sentence


def test_suggestions_are_never_written_anywhere(demo, tmp_path):
    before = folder_digest(DEMO)
    T.suggest_codes(demo.qualitative.sources, demo.qualitative.segments,
                    demo.qualitative.codebook)
    T.suggestion_quality(demo)
    assert folder_digest(DEMO) == before
    public = [n for n in T.__all__ if re.search(r"accept|apply|write|save|commit", n)]
    assert public == []


def test_suggestion_quality_hand_counted():
    text = "I have hope now. Hope is rare. I step back. The bus was late. I think so."
    src = pd.DataFrame({"source_id": ["I1", "I2"], "text": [text, "Never coded hope."]})
    cut = lambda s: (text.index(s), text.index(s) + len(s))  # noqa: E731
    rows = [("hope", "a", *cut("I have hope now.")), ("hope", "b", *cut("The bus was late.")),
            ("space", "a", *cut("I step back."))]
    seg = pd.DataFrame(rows, columns=["code_id", "coder", "start", "end"])
    seg.insert(0, "source_id", "I1")
    seg.insert(0, "segment_id", ["s1", "s2", "s3"])
    seg["text"] = [text[a:b] for a, b in zip(seg["start"], seg["end"])]
    q = T.suggestion_quality(Qualitative(BOOK, src, seg)).set_index("code_id")
    # I2 was never coded, so its sentence is not evaluated.
    # hope: human = {s1 "I have hope now.", s4 "The bus was late." (coder b)};
    #       suggested = {s1, s2 "Hope is rare."} -> TP 1, FP 1, FN 1
    # space: human = {s3}; suggested = {s3 ("step back"), s5 ("think")} -> TP 1, FP 1, FN 0
    assert tuple(q.loc["hope", ["true_positives", "false_positives", "false_negatives"]]) \
        == (1, 1, 1)
    assert q.loc["hope", "precision"] == 0.5 and q.loc["hope", "recall"] == 0.5
    assert q.loc["space", "recall"] == 1.0 and q.loc["space", "f1"] == pytest.approx(2 / 3)
    # micro: TP 2, FP 2, FN 1 -> P 2/4, R 2/3, F1 = 4 / (4 + 2 + 1)
    micro = q.loc["micro-average"]
    assert micro.precision == 0.5 and micro.recall == pytest.approx(2 / 3)
    assert micro.f1 == pytest.approx(4 / 7)
    assert "parent" not in q.index  # no keywords, nothing to evaluate
    only_a = T.suggestion_quality(Qualitative(BOOK, src, seg), coder="a").set_index("code_id")
    assert only_a.loc["hope", "false_negatives"] == 0  # coder b's segment is not compared


def test_suggestion_quality_on_demo_matches_a_naive_count(demo):
    q = demo.qualitative
    got = T.suggestion_quality(demo).set_index("code_id")
    keywords = T.keyword_table(q.codebook)
    coded = q.sources[q.sources["source_id"].isin(set(q.segments["source_id"]))]
    sents = T.sentences(coded)
    sents = sents[sents["speaker"].fillna("").str.lower() != "interviewer"]
    tp = dict.fromkeys(got.index[:-1], 0)
    fp, fn = dict(tp), dict(tp)
    assert got.index[-1] == "micro-average"
    assert len(tp) == keywords["code_id"].nunique() == 12  # every theme with keywords
    assert len(sents) >= len(coded) > 0
    segs = {sid: list(zip(g["start"], g["end"], g["code_id"]))
            for sid, g in q.segments.groupby("source_id")}
    from nltk.stem.snowball import SnowballStemmer

    stemmer, cache = SnowballStemmer("english"), {}
    stems = lambda ws: [cache[w] if w in cache else cache.setdefault(w, stemmer.stem(w))  # noqa
                        for w in ws]
    for row in sents.itertuples():  # naive: every sentence against every segment and keyword
        human = {c for a, b, c in segs[row.source_id] if a < row.end and b > row.start}
        padded = " " + " ".join(stems(T.words(row.sentence))) + " "
        suggested = {c for c, p in zip(keywords["code_id"], keywords["phrase"])
                     if f" {p} " in padded}
        for code in tp:
            tp[code] += code in human and code in suggested
            fp[code] += code not in human and code in suggested
            fn[code] += code in human and code not in suggested
    for code in tp:
        assert (got.loc[code, "true_positives"], got.loc[code, "false_positives"],
                got.loc[code, "false_negatives"]) == (tp[code], fp[code], fn[code]), code
    total_tp, total_fp = sum(tp.values()), sum(fp.values())
    assert total_tp > 0 and total_fp > 0  # the naive count found something to compare
    assert got.loc["micro-average", "precision"] == pytest.approx(
        total_tp / (total_tp + total_fp))
    assert not math.isnan(got.loc["micro-average", "recall"])
