"""Recognising a survey export's columns for ``spanalysis init`` (:mod:`spanalysis.study.draft`).

* **Items by column name**: the instrument's id followed by a number or a letter, in item
  order (``WEMWBS1``, ``wemwbs_1``, ``WEMWBSa``, ``Q_wemwbs_01``, ``wemwbs1_pre``; case
  ignored), or the item's own id (``ons4_satisfaction``). What is left of the name once the
  item's part is taken out (``_pre``, ``T2_``) tells the sets of one row per person apart.
* **Items by question text**: Qualtrics' second header row, an SPSS variable label, or the
  header itself (Microsoft Forms), compared with the items' wording in the instrument
  definitions after case, punctuation and spacing are set aside. A Qualtrics matrix question
  writes ``<question> - <statement>``: each part is tried. Wording that is only close
  (difflib ratio of at least :data:`FUZZY`) is a guess, and said to be.
* **Sets**: each complete run of an instrument's items is one set; a second set of the same
  instrument in one row per person is a second time point, in column order. Instruments with
  more items claim their columns first, so WEMWBS's wording is not taken for SWEMWBS's.
* **Id, time point and date columns** by their usual names (``participant_id``,
  ``record_id``, ``ResponseId``, ``ID``; a question asking for the study id, such as
  Qualtrics' "What is your study ID?", is preferred to a platform's response id;
  ``timepoint``, ``redcap_event_name``, ``wave``; ``completed_date``, ``EndDate``,
  ``Completion time``, Google Forms' ``Timestamp``, LimeSurvey's ``submitdate``, a plain
  ``date``).
"""
from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field

__all__ = ["Match", "ItemSet", "find_items", "build_sets", "find_column", "normal_text",
           "find_id_by_question", "ID_NAMES", "ID_QUESTIONS", "RESPONSE_IDS", "TIME_NAMES",
           "DATE_NAMES", "SITE_NAMES", "REFERRAL_NAMES", "FUZZY"]

#: the least difflib ratio at which a question's wording is taken (as a guess) for an item's
FUZZY = 0.85

# Column names compared with every character but letters and digits taken out, case ignored,
# most specific first: a study's own id beats Qualtrics' ResponseId and Forms' response number.
ID_NAMES = ("participantid", "participant", "studyid", "yourstudyid", "studynumber",
            "clientid", "personid", "subjectid", "caseid", "pid", "recordid", "respondentid",
            "responseid", "id")
TIME_NAMES = ("timepoint", "timepointname", "redcapeventname", "eventname", "wave", "visit",
              "visitname", "occasion", "phase", "assessment", "time", "event",
              "whichquestionnaireisthis")
DATE_NAMES = ("completeddate", "datecompleted", "completiondate", "enddate", "completiontime",
              "recordeddate", "surveydate", "questionnairedate", "submitdate", "timestamp",
              "datestamp", "date")
SITE_NAMES = ("site", "sitename", "practice", "gppractice", "pcn", "location", "hub")
REFERRAL_NAMES = ("referraldate", "datereferred", "dateofreferral", "referred",
                  "referralreceived", "datereferralreceived")


@dataclass(frozen=True)
class Match:
    """One column taken for one item of one instrument."""

    column: str
    position: int       # the column's place in the header (0 = first)
    instrument: str
    item: int           # the item's index in the instrument's item order
    how: str            # "name", "text" (the wording) or "guess" (wording that is close)
    group: str          # what tells sets apart: the rest of the name, or "text"
    note: str = ""      # the question text matched, for the comment in study.yaml


@dataclass
class ItemSet:
    """One instrument's items found once in a row: item index -> its match."""

    instrument: str
    matches: dict[int, Match] = field(default_factory=dict)

    @property
    def first(self) -> int:
        return min(m.position for m in self.matches.values())

    def columns(self) -> list[str]:
        return [self.matches[i].column for i in sorted(self.matches)]


def squeeze(name: str) -> str:
    """A column name as compared with the usual names: letters and digits only, lower case."""
    return re.sub(r"[^0-9a-z]", "", unicodedata.normalize("NFKC", str(name)).casefold())


def normal_text(value: str) -> str:
    """Wording as compared: compatibility form, curly quotes straight, case ignored,
    punctuation dropped (``I've`` -> ``ive``), runs of spaces as one."""
    text = unicodedata.normalize("NFKC", str(value)).casefold()
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("'", "")
    text = re.sub(r"[^\w\s]|_", " ", text)
    return " ".join(text.split())


#: what a question asking for the study's own id ends with, squeezed ("What is your study
#: ID?", "Please enter your participant number"); only specific names, as a question ending in
#: "id" alone could be anything ("Have you been paid?")
ID_QUESTIONS = ("studyid", "studynumber", "studycode", "participantid", "participantnumber",
                "participantcode", "clientid", "clientnumber", "referencenumber")
#: ids a survey platform gives each response, which differ at every answer of one person
RESPONSE_IDS = ("responseid", "respondentid", "id")


def find_id_by_question(columns, questions: dict, taken=()) -> str | None:
    """The first of ``columns`` (not in ``taken``) whose question text (Qualtrics' second
    header row, an SPSS variable label) asks for the study's own id (:data:`ID_QUESTIONS`)."""
    for column in columns:
        asked = squeeze(questions.get(column, ""))
        if column not in taken and asked.endswith(ID_QUESTIONS):
            return column
    return None


def find_column(columns, names, taken=()) -> str | None:
    """The first of ``columns`` (not in ``taken``) whose squeezed name is one of ``names``,
    the earlier of ``names`` winning."""
    free = {squeeze(c): c for c in reversed(list(columns)) if c not in taken}
    for name in names:
        if name in free:
            return free[name]
    return None


def _name_patterns(instruments: dict) -> list[tuple[str, re.Pattern, re.Pattern]]:
    """(instrument id, number pattern, letter pattern), longest id first (``swemwbs`` is
    tried before ``wemwbs``; the look-behind keeps ``swemwbs1`` from being ``wemwbs`` item 1)."""
    out = []
    for iid in sorted(instruments, key=len, reverse=True):
        stem = re.escape(iid.casefold())
        head = rf"^(?P<pre>.*?)(?<![a-z0-9]){stem}[\s_.\-]?"
        out.append((iid, re.compile(head + r"(?P<suf>\d+)(?P<post>(?:\D.*)?)$"),
                    re.compile(head + r"(?P<suf>[a-z])(?P<post>(?:[^a-z0-9].*)?)$")))
    return out


def _by_name(column: str, position: int, instruments: dict, patterns) -> list[Match]:
    """The items ``column``'s name can be, at most one per instrument."""
    name = unicodedata.normalize("NFKC", str(column)).strip().casefold()
    found: dict[str, Match] = {}
    for iid, inst in instruments.items():   # the item's own id as a token: ons4_satisfaction
        best = None
        for k, item in enumerate(inst.items):
            token = re.escape(item.id.casefold())
            hit = re.search(rf"(?<![a-z0-9]){token}(?![a-z0-9])", name)
            if hit and (best is None or len(item.id) > len(inst.items[best[0]].id)):
                best = (k, name[:hit.start()] + "|" + name[hit.end():])
        if best:
            found[iid] = Match(column, position, iid, best[0], "name", "name:" + best[1])
    for iid, number, letter in patterns:
        if iid in found:
            continue
        hit = number.match(name) or letter.match(name)
        if not hit:
            continue
        suffix = hit["suf"]
        k = int(suffix) - 1 if suffix.isdigit() else ord(suffix) - ord("a")
        # the same group as the item's own id (wemwbs_1 and wemwbs_01 are one set); letters
        # are a set of their own
        kind = "" if suffix.isdigit() else ":letters"
        if 0 <= k < len(instruments[iid].items):
            found[iid] = Match(column, position, iid, k, "name",
                               f"name:{hit['pre']}|{hit['post']}{kind}")
            break   # the longest instrument id that fits: ucla3_1 is never also ucla item 3
    return list(found.values())


def _parts(text: str) -> list[str]:
    """The wording and, for a Qualtrics matrix (``question - statement``), each part."""
    parts = [text] + [p for p in re.split(r"\s+[-\u2013\u2014]\s+", text) if p != text]
    return [p for p in (normal_text(p) for p in parts) if p]


def _by_text(column: str, position: int, texts: list[str], stems: dict) -> list[Match]:
    """The items whose wording one of ``texts`` is (or, as a guess, is close to): the best
    item of each instrument. ``stems``: instrument id -> normalised wording of each item."""
    parts = [p for t in texts if t and str(t).strip() for p in _parts(str(t))]
    if not parts:
        return []
    out = []
    for iid, wording in stems.items():
        best = None   # (score, item index, how)
        for k, stem in enumerate(wording):
            if len(stem) < 8:
                continue
            for part in parts:
                if part == stem:
                    score, how = 2.0, "text"
                else:
                    score = difflib.SequenceMatcher(None, part, stem).ratio()
                    how = "guess"
                    if score < FUZZY:
                        continue
                if best is None or score > best[0]:
                    best = (score, k, how)
        if best:
            note = next(str(t) for t in texts if t and str(t).strip())
            out.append(Match(column, position, iid, best[1], best[2], "text", note))
    return out


def find_items(columns, questions: dict, instruments: dict) -> dict[str, list[Match]]:
    """Every column that can be an item: instrument id -> its candidate matches (a column
    may be a candidate of several instruments; :func:`build_sets` decides). A match by name
    is preferred to one by wording. ``questions``: column -> question text (may be empty)."""
    patterns = _name_patterns(instruments)
    stems = {iid: [normal_text(it.stem) for it in inst.items]
             for iid, inst in instruments.items()}
    out: dict[str, list[Match]] = {iid: [] for iid in instruments}
    for position, column in enumerate(columns):
        named = _by_name(column, position, instruments, patterns)
        worded = [] if named else _by_text(column, position,
                                           [questions.get(column, ""), column], stems)
        for match in named + worded:
            out[match.instrument].append(match)
    return out


def _split(matches: list[Match]) -> list[ItemSet]:
    """Matches of one instrument and one group as sets, in column order: an item seen again
    begins the next set."""
    sets: list[ItemSet] = []
    for match in sorted(matches, key=lambda m: m.position):
        if not sets or match.item in sets[-1].matches:
            sets.append(ItemSet(match.instrument))
        sets[-1].matches[match.item] = match
    return sets


def _complete(item_set: ItemSet, inst) -> bool:
    required = {k for k, it in enumerate(inst.items) if not it.optional}
    return bool(item_set.matches) and required <= set(item_set.matches)


def build_sets(candidates: dict[str, list[Match]], instruments: dict
               ) -> tuple[dict[str, list[ItemSet]], list[ItemSet]]:
    """The complete sets of each instrument, in column order, and the incomplete ones (for
    the message: their columns are left unmapped). Instruments with more required items
    claim their columns first; a column belongs to one set only."""
    order = sorted(instruments, key=lambda i: (-sum(not it.optional for it in
                                                     instruments[i].items), i))
    claimed: set[str] = set()
    complete: dict[str, list[ItemSet]] = {}
    partial: list[ItemSet] = []
    for iid in order:
        free = [m for m in candidates.get(iid, []) if m.column not in claimed]
        groups: dict[str, list[Match]] = {}
        for match in free:
            groups.setdefault(match.group, []).append(match)
        sets = [s for g in groups.values() for s in _split(g)]
        good = [s for s in sets if _complete(s, instruments[iid])]
        for item_set in good:
            claimed.update(item_set.columns())
        partial += [s for s in sets if s not in good and len(s.matches) > 1]
        if good:
            complete[iid] = sorted(good, key=lambda s: s.first)
    partial = [s for s in partial if not set(s.columns()) & claimed]
    return complete, partial
