"""Exemplar quotes: redaction first, diversity, length, sensitivity and safe HTML."""
import re

import pandas as pd
import pytest
from conftest import DEMO

from spanalysis.demo import PLANTED
from spanalysis.errors import InputError
from spanalysis.qual.quotes import (
    ELLIPSIS,
    QUOTE_COLUMNS,
    quote_candidates,
    quote_html,
    redacted_segments,
    select_quotes,
    sensitive_codes,
)
from spanalysis.qual.material import Qualitative


@pytest.fixture(scope="module")
def demo():
    from spanalysis.study import load_study

    return load_study(DEMO)


def _identifying_parts(ident: dict) -> list[str]:
    """What must not survive: the identifier as written, its digits run together, and for
    a title + name only the name (the title is kept on purpose)."""
    text = ident["text"]
    if ident["kind"] == "name_with_title":
        return [text.split()[-1]]
    parts = [text]
    digits = re.sub(r"\D", "", text)
    if len(digits) >= 6:
        parts.append(digits)
    return parts


def _assert_clean(texts, names):
    assert len(texts) > 0 and len(PLANTED["identifiers"]) == 7 and len(names) > 0
    joined = "\n".join(texts)
    flat = re.sub(r"\D", "", joined)
    for ident in PLANTED["identifiers"]:
        for part in _identifying_parts(ident):
            assert part not in joined, ident
            if part.isdigit():
                assert part not in flat, ident
    for name in names:
        assert not re.search(rf"(?<!\w){re.escape(name)}(?!\w)", joined, re.IGNORECASE), name


def test_every_coded_segment_of_the_demo_is_redacted(demo):
    q = demo.qualitative
    red = redacted_segments(demo)
    assert len(red) == len(q.segments)
    _assert_clean(red["text"], q.names)
    everything = quote_candidates(demo, min_length=1, max_length=10_000,
                                  source_types=("interview", "observation", "document"))
    _assert_clean(everything["quote"], q.names)
    chosen = select_quotes(demo, n=50, min_length=1, max_length=10_000)
    _assert_clean(chosen["quote"], q.names)


def test_planted_identifiers_are_removed_even_when_coded_or_cut(demo):
    """The demo plants identifiers in uncoded turns, so code them: whole sources, and
    segments whose boundary cuts each identifier in half."""
    q = demo.qualitative
    planted = {i["source_id"] for i in PLANTED["identifiers"]}
    # two identifiers in INT002, one in each of INT003 to INT006 (spanalysis.demo.generator)
    assert planted == {"INT002", "INT003", "INT004", "INT005", "INT006"}
    src = q.sources[q.sources["source_id"].isin(planted)]
    assert len(src) == len(planted)
    rows = []
    for sid, text in zip(src["source_id"], src["text"]):
        rows.append((f"{sid}-all", sid, 0, len(text)))
        for ident in PLANTED["identifiers"]:
            at = text.find(ident["text"])
            if ident["source_id"] == sid and at >= 0:
                middle = at + len(ident["text"]) // 2
                rows.append((f"{sid}-{ident['kind']}-tail", sid, middle, min(len(text),
                                                                               middle + 80)))
                rows.append((f"{sid}-{ident['kind']}-head", sid, max(0, at - 80), middle))
    seg = pd.DataFrame(rows, columns=["segment_id", "source_id", "start", "end"])
    seg["coder"], seg["code_id"] = "tester", "hope"
    text_of = dict(zip(src["source_id"], src["text"]))
    seg["text"] = [text_of[s][a:b] for s, a, b in zip(seg["source_id"], seg["start"],
                                                       seg["end"])]
    assert len(seg) >= 2 * len(PLANTED["identifiers"]) + len(planted)
    study = Qualitative(q.codebook, q.sources, seg, q.names)
    red = redacted_segments(study)
    _assert_clean(red["text"], q.names)
    # a half identifier at a segment's edge is replaced, not left as a fragment
    tail = red.set_index("segment_id").loc["INT003-phone-tail", "text"]
    assert tail.startswith("[PHONE]")
    # ordinary words survive: the only words lost are the identifiers' own words (digit
    # runs such as the interview date in the transcript heading are full dates, redacted)
    for sid in planted:
        original = set(re.findall(r"[^\W\d]\w*", text_of[sid].lower()))
        kept = set(re.findall(r"\w+", red.set_index("segment_id").loc[f"{sid}-all", "text"]
                              .lower()))
        allowed = {w for i in PLANTED["identifiers"]
                   for w in re.findall(r"[^\W\d]\w*", i["text"].lower())}
        allowed |= {n.lower() for n in q.names}
        assert original - kept <= allowed, original - kept - allowed
        assert {"neighbour", "interviewer", "participant"} & kept
    quotes = quote_candidates(study, min_length=1, max_length=100_000)
    _assert_clean(quotes["quote"], q.names)


def _study(segments, texts, sites, people, book=None):
    src = pd.DataFrame({"source_id": list(texts), "source_type": "interview",
                        "participant_id": people, "site": sites, "text": list(texts.values())})
    seg = pd.DataFrame(segments, columns=["segment_id", "source_id", "coder", "code_id",
                                          "start", "end"])
    text_of = dict(texts)
    seg["text"] = [text_of[s][a:b] for s, a, b in zip(seg["source_id"], seg["start"],
                                                       seg["end"])]
    book = book if book is not None else pd.DataFrame({
        "id": ["hope", "distress"], "name": ["Offering hope", "Disclosure of distress"],
        "parent": [None, None], "sensitive": [False, True]})
    return Qualitative(book, src, seg, ["Mary"])


LINE = "I can see a way forward now and I have plans for the summer, which is new for me."


def test_diverse_across_participants_and_sites_and_deterministic():
    # five interviews: P1 and P2 at site A (P1 has two passages), P3 at B, P4 at C, P5 at A
    texts = {f"I{k}": LINE + " " + LINE for k in range(1, 6)}
    segs = [("s1", "I1", "a", "hope", 0, len(LINE)), ("s1b", "I1", "a", "hope", len(LINE) + 1,
                                                        2 * len(LINE) + 1),
            ("s2", "I2", "a", "hope", 0, len(LINE)), ("s3", "I3", "a", "hope", 0, len(LINE)),
            ("s4", "I4", "a", "hope", 0, len(LINE)), ("s5", "I5", "a", "hope", 0, len(LINE))]
    study = _study(segs, texts, ["A", "A", "B", "C", "A"], ["P1", "P2", "P3", "P4", "P5"])
    q = select_quotes(study, n=4)
    assert list(q.columns) == QUOTE_COLUMNS
    assert q["participant_id"].is_unique
    assert set(q["site"].iloc[:3]) == {"A", "B", "C"}  # one per site before any repeat
    assert list(q["rank"]) == [1, 2, 3, 4]
    assert q.loc[0, "attribution"] == f"{q.loc[0, 'participant_id']}, {q.loc[0, 'site']}"
    pd.testing.assert_frame_equal(q, select_quotes(study, n=4))
    assert len(select_quotes(study, n=10)) == 5  # five people, at most one quote each


def test_length_limits_and_trimming_at_sentence_boundaries():
    long = " ".join(["It was the first time anyone had listened to me properly."] * 10)
    texts = {"I1": long, "I2": "Too short.", "I3": "it was fine really, honestly, for the "
                                                   "most part, yes it was, I would say so."}
    segs = [("s1", "I1", "a", "hope", 0, len(long)), ("s2", "I2", "a", "hope", 0, 10),
            ("s3", "I3", "a", "hope", 0, len(texts["I3"]))]
    q = select_quotes(_study(segs, texts, ["A", "B", "C"], ["P1", "P2", "P3"]), n=5,
                      max_length=200).set_index("segment_id")
    assert "s2" not in q.index  # shorter than 60 characters
    trimmed = q.loc["s1"]
    assert trimmed.trimmed and trimmed.length <= 200
    assert trimmed.quote.endswith(" " + ELLIPSIS)
    assert trimmed.quote[:-2].endswith("properly.")  # whole sentences only
    assert q.loc["s3", "quote"].startswith(ELLIPSIS + " it was")  # starts mid-sentence
    with pytest.raises(InputError):
        select_quotes(_study(segs, texts, ["A", "B", "C"], ["P1", "P2", "P3"]),
                      min_length=300, max_length=200)


def test_sensitive_quotes_are_flagged_and_can_be_excluded():
    texts = {"I1": LINE + " There were nights I did not see the point of carrying on, if I "
                          "am honest.",
             "I2": LINE}
    cut = len(LINE) + 1
    segs = [("s1", "I1", "a", "hope", 0, len(texts["I1"])),
            ("s2", "I1", "b", "distress", cut, len(texts["I1"])),  # another coder's segment
            ("s3", "I2", "a", "hope", 0, len(LINE))]
    study = _study(segs, texts, ["A", "B"], ["P1", "P2"])
    q = select_quotes(study, ["hope", "distress"], n=3).set_index("segment_id")
    assert q.loc["s1", "sensitive"] and q.loc["s1", "content_note"] == "Disclosure of distress"
    assert not q.loc["s3", "sensitive"] and q.loc["s3", "content_note"] == ""
    assert q.loc["s2", "sensitive"]  # the theme itself is sensitive
    safe = select_quotes(study, ["hope", "distress"], n=3, exclude_sensitive=True)
    assert list(safe["segment_id"]) == ["s3"]


def test_sensitivity_is_inherited_from_parent_codes(demo):
    book = demo.qualitative.codebook
    flagged = set(book.loc[book["sensitive"], "id"])
    children = set(book.loc[book["parent"].isin(flagged), "id"])
    assert sensitive_codes(book) == flagged | children
    tree = pd.DataFrame({"id": ["a", "b", "c"], "parent": [None, "a", "b"],
                         "sensitive": [True, False, False]})
    assert sensitive_codes(tree) == {"a", "b", "c"}


def test_quote_html_escapes_and_folds_sensitive_quotes():
    row = {"quote": 'She said <script>alert("x")</script> & left', "sensitive": False,
           "attribution": "SP0001, <b>Oakfield</b> PCN", "content_note": ""}
    out = quote_html(row)
    assert "<script" not in out and "<b>" not in out
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; left" in out
    assert "SP0001, &lt;b&gt;Oakfield&lt;/b&gt; PCN" in out
    assert "<details" not in out
    hidden = quote_html(pd.Series({**row, "sensitive": True,
                                   "content_note": "Disclosure <of> distress"}))
    assert hidden.startswith('<details class="sp-content-note"><summary>Content note: '
                             "Disclosure &lt;of&gt; distress</summary>")
    assert hidden.endswith("</details>")


def test_script_in_a_transcript_comes_out_escaped():
    text = "I typed <script>alert(1)</script> into the council form and nothing happened."
    study = _study([("s1", "I1", "a", "hope", 0, len(text))], {"I1": text}, ["A"], ["P1"])
    q = select_quotes(study)
    html_out = quote_html(q.iloc[0])
    assert "<script>" not in html_out and "&lt;script&gt;alert(1)&lt;/script&gt;" in html_out


# ---------------------------------------------------------------------------------------------
# Joint displays (spanalysis.integrate): issue 19: 13
# ---------------------------------------------------------------------------------------------

def test_joint_display_quotes_are_never_repeated_and_spread_across_people():
    from types import SimpleNamespace

    from spanalysis.integrate.quotes import _redacted_quotes, _theme_segments

    shared = "The group gave me a reason to get up in the morning."
    texts = {"I1": shared + " I walk to the park with the others now.",
             "I2": "Somebody finally listened to what I had to say about it."}
    book = pd.DataFrame({"id": ["hope", "calm"], "name": ["Hope", "Calm"],
                         "parent": [None, None], "sensitive": [False, False]})
    # P1's first sentence is coded with both themes; P2 has a passage of "calm" only
    segs = [("s1", "I1", "a", "hope", 0, len(shared)), ("s2", "I1", "a", "calm", 0, len(shared)),
            ("s3", "I2", "a", "calm", 0, len(texts["I2"])),
            ("s4", "I1", "a", "hope", len(shared) + 1, len(texts["I1"]))]
    q = _study(segs, texts, ["A", "B"], ["P1", "P2"], book=book)
    study = SimpleNamespace(qualitative=q, participants=pd.DataFrame(
        {"participant_id": ["P1", "P2"], "site": ["A", "B"]}))
    seg = _theme_segments(study, ["hope", "calm"], None)
    out = _redacted_quotes(study, seg, ["theme"], 1).set_index("theme")["quotes"]
    # worked by hand: "hope" has only P1 to quote (their first passage); "calm" would take the
    # same passage from P1 (first by participant id) but takes P2's instead
    assert [x["segment_id"] for x in out["hope"]] == ["s1"]
    assert [x["segment_id"] for x in out["calm"]] == ["s3"]
    # with two per theme, "calm" has no other passage to give: one quote, not a repeat
    two = _redacted_quotes(study, seg, ["theme"], 2).set_index("theme")["quotes"]
    assert sorted(x["segment_id"] for x in two["hope"]) == ["s1"]
    assert sorted(x["segment_id"] for x in two["calm"]) == ["s3"]


@pytest.mark.parametrize("site", [None, "Riverside PCN"])
def test_no_quote_twice_and_one_person_per_theme_in_the_demo_displays(demo, site):
    from spanalysis import integrate

    s = demo if site is None else demo.for_site(site)
    tables = {"side by side, 1": integrate.side_by_side(s, quotes=1),
              "side by side, 2": integrate.side_by_side(s, quotes=2),
              "quote matrix": integrate.quote_matrix(s, quotes=1)}
    for name, table in tables.items():
        quotes = [q for qs in table["quotes"] for q in qs]
        assert len(quotes) >= 6, name
        texts = [q["text"] for q in quotes]
        assert len(set(texts)) == len(texts)
        assert len({q["segment_id"] for q in quotes}) == len(quotes)
        people = pd.Series([q["participant_id"] for q in quotes])
        if name == "quote matrix" and site is not None:
            continue  # a site's small cells may have one person to quote between them
        # spread: nobody is quoted more often than the quotes shared among everyone
        # interviewed require (once, when there are more people than quotes)
        most = -(-len(quotes) // len(s.interviewed))
        assert people.value_counts().max() <= most, people.value_counts().head(3)
