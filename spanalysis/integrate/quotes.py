"""Quotes for the joint displays: the interview segments of chosen themes, flagged
``sensitive`` when they overlap (in the same source) a segment coded with a code the codebook
marks sensitive, and a few exemplar quotes per group, redacted with the study's names list
(:func:`spanalysis.privacy.redact`). Nothing here builds HTML; the rendering layer escapes
text.
"""
from __future__ import annotations

import pandas as pd

from spanalysis.integrate.strands import _qualitative, _site_of
from spanalysis.privacy.redact import redact


def _theme_segments(study, themes, coder) -> pd.DataFrame:
    """Interview segments of ``themes``: ``participant_id, site, theme, segment_id,
    source_id, start, end, coder, text, sensitive``."""
    q = _qualitative(study)
    src = q.sources[(q.sources["source_type"] == "interview")
                    & q.sources["participant_id"].notna()]
    seg = q.segments.merge(src[["source_id", "participant_id"]], on="source_id")
    cb = q.codebook
    flag = cb["sensitive"].astype(object).where(cb["sensitive"].notna(), False).astype(bool)
    sensitive_codes = set(cb.loc[flag, "id"].astype(str))
    flagged = seg[seg["code_id"].isin(sensitive_codes)][["source_id", "start", "end"]]
    if coder is not None:
        seg = seg[seg["coder"] == coder]
    seg = seg[seg["code_id"].isin(list(themes))].copy()
    seg["participant_id"] = seg["participant_id"].astype(str)
    # sensitive: overlaps (same source, any coder) a segment coded with a sensitive code
    pairs = seg[["segment_id", "source_id", "start", "end"]].merge(
        flagged, on="source_id", suffixes=("", "_s"))
    overlap = (pairs["start"] < pairs["end_s"]) & (pairs["start_s"] < pairs["end"])
    hit = set(pairs.loc[overlap, "segment_id"])
    seg["sensitive"] = seg["segment_id"].isin(hit) | seg["code_id"].isin(sensitive_codes)
    seg["site"] = seg["participant_id"].map(_site_of(study))
    seg = seg.rename(columns={"code_id": "theme"})
    return seg[["participant_id", "site", "theme", "segment_id", "source_id", "start", "end",
                "coder", "text", "sensitive"]]


def _redacted_quotes(study, seg: pd.DataFrame, by: list[str], k: int,
                     distinct: str = "participant_id") -> pd.DataFrame:
    """Up to ``k`` quotes per group, one per ``distinct`` value (participant, or theme), texts
    redacted with the study's names. Returns ``by + ['quotes']`` (a list of dicts per group).

    No passage is quoted twice in the result: a passage coded with two themes, or the same
    words in two places, goes to one group only. Quotes are spread across participants where
    the data allow: each group takes, among its passages not yet used, those of the
    participants quoted least so far; groups with the fewest passages choose first, so a
    theme few people voiced keeps its quote. Ties go to non-sensitive passages, then by
    participant id and position (deterministic).
    """
    names = _qualitative(study).names
    if seg.empty or k <= 0:
        groups = seg[by].drop_duplicates() if len(seg) else pd.DataFrame(columns=by)
        return groups.assign(quotes=[[] for _ in range(len(groups))]).reset_index(drop=True)
    s = seg.sort_values(["sensitive", "participant_id", "source_id", "start", "coder"],
                        kind="stable")
    s = s.drop_duplicates(list(dict.fromkeys(by + [distinct]))).copy()
    # the same words are the same quote, whatever their case or spacing
    s["words"] = s["text"].astype(str).str.split().str.join(" ").str.casefold()
    s["passage"] = list(zip(s["source_id"], s["start"], s["end"]))
    keys, frames = zip(*s.groupby(by, sort=False))
    order = sorted(range(len(keys)), key=lambda i: len(frames[i]))
    used_words, used_passages, times_quoted, chosen = set(), set(), {}, {}
    for i in order:  # one pass per group (themes, or theme by change group): a few dozen
        g = frames[i]
        g = g[~g["words"].isin(used_words) & ~g["passage"].isin(used_passages)]
        g = g.assign(times=g["participant_id"].map(times_quoted).fillna(0),
                     rank=range(len(g)))
        g = g.sort_values(["sensitive", "times", "rank"], kind="stable")
        g = g.drop_duplicates("words").head(k)
        used_words.update(g["words"])
        used_passages.update(g["passage"])
        for person in g["participant_id"]:
            times_quoted[person] = times_quoted.get(person, 0) + 1
        chosen[i] = g
    s = pd.concat([chosen[i] for i in range(len(keys))])
    # redact() is a per-text regex pass; it runs on the few selected quotes only
    s["text"] = [redact(str(t), names=names)[0] for t in s["text"]]
    s["quote"] = [{"text": t, "participant_id": p, "site": site, "theme": th,
                   "segment_id": sid, "sensitive": bool(sens)}
                  for t, p, site, th, sid, sens in zip(s["text"], s["participant_id"],
                                                       s["site"], s["theme"],
                                                       s["segment_id"], s["sensitive"])]
    found = s.groupby(by, sort=False)["quote"].agg(list).rename("quotes").reset_index()
    # every group keeps its row (an empty list when all its passages went elsewhere)
    every = pd.DataFrame([key if isinstance(key, tuple) else (key,) for key in keys],
                         columns=by)
    out = every.merge(found, on=by, how="left")
    out["quotes"] = [q if isinstance(q, list) else [] for q in out["quotes"]]
    return out
