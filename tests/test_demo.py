"""Tests for the synthetic demo study generator (spanalysis.demo).

Only raw-data checks (pandas on the CSV files) are used, so these tests do not depend on the
loader or scoring modules. Expected values come from the data themselves, from published
figures (measures.md) or from arithmetic worked in the test; none is copied from output.
"""
from __future__ import annotations

import filecmp
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pingouin as pg
import pytest
import yaml

from spanalysis.demo import PLANTED, generate
from spanalysis.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "data" / "demo"

WEMWBS = [f"wemwbs_{i}" for i in range(1, 15)]
GSE = [f"gse_{i}" for i in range(1, 11)]
UCLA = ["ucla3_1", "ucla3_2", "ucla3_3"]
# Response ranges from /work/shared/reference/measures.md and the fixed item ids of the brief.
RANGES = {**{c: (1, 5) for c in WEMWBS}, **{c: (1, 4) for c in GSE},
          "ons4_satisfaction": (0, 10), "ons4_worthwhile": (0, 10), "ons4_happy": (0, 10),
          "ons4_anxious": (0, 10), **{c: (1, 3) for c in UCLA}, "ons_lonely": (1, 5),
          "mycaw_concern1": (0, 6), "mycaw_concern2": (0, 6), "mycaw_wellbeing": (0, 6),
          "gas_1": (-2, 2), "gas_2": (-2, 2), "gas_3": (-2, 2)}


def read(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / name, keep_default_na=False, na_values=[""])


def files_of(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def demo():
    """The committed demo study, read once."""
    assert COMMITTED.is_dir(), "data/demo is missing: run spanalysis.demo.generate('data/demo')"
    q = COMMITTED / "qualitative"
    src = read(q, "sources.csv")
    texts = {r.source_id: (q / r.path).read_text(encoding="utf-8") for r in src.itertuples()}
    resp = read(COMMITTED, "responses.csv")
    return {
        "participants": read(COMMITTED, "participants.csv"),
        "responses": resp,
        "base": resp[resp.timepoint == "baseline"].set_index("participant_id"),
        "fu": resp[resp.timepoint == "followup"].set_index("participant_id"),
        "service": read(COMMITTED, "service_use.csv"),
        "sources": src, "texts": texts, "segments": read(q, "segments.csv"),
        "codebook": yaml.safe_load((q / "codebook.yaml").read_text(encoding="utf-8")),
        "manifest": yaml.safe_load((COMMITTED / "study.yaml").read_text(encoding="utf-8")),
    }


def total(frame: pd.DataFrame, items: list[str]) -> pd.Series:
    """Complete-case sum (the WEMWBS default in measures.md)."""
    return frame[items].sum(axis=1, min_count=len(items)).where(frame[items].notna().all(axis=1))


# ------------------------------------------------------------------------------------------
# Determinism and the committed copy
# ------------------------------------------------------------------------------------------
def test_same_seed_gives_byte_identical_files_and_other_seed_differs(tmp_path):
    a = generate(tmp_path / "a", participants=120, sites=4, seed=7)
    b = generate(tmp_path / "b", participants=120, sites=4, seed=7)
    c = generate(tmp_path / "c", participants=120, sites=4, seed=8)
    assert files_of(a) == files_of(b)
    match, mismatch, errors = filecmp.cmpfiles(a, b, files_of(a), shallow=False)
    assert mismatch == [] and errors == []
    assert (a / "responses.csv").read_bytes() != (c / "responses.csv").read_bytes()
    assert (a / "qualitative" / "segments.csv").read_bytes() != \
        (c / "qualitative" / "segments.csv").read_bytes()


def test_committed_demo_equals_fresh_default_generation(tmp_path):
    fresh = generate(tmp_path / "demo")
    assert files_of(fresh) == files_of(COMMITTED)
    match, mismatch, errors = filecmp.cmpfiles(fresh, COMMITTED, files_of(fresh), shallow=False)
    assert mismatch == [] and errors == [], "data/demo drifted from the code: regenerate it"


def test_committed_demo_is_small():
    size = sum((COMMITTED / f).stat().st_size for f in files_of(COMMITTED))
    assert size < 2_000_000


# ------------------------------------------------------------------------------------------
# Folder handling
# ------------------------------------------------------------------------------------------
def test_refuses_non_empty_folder_that_is_not_a_demo(tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(InputError, match="not a previous demo"):
        generate(tmp_path, participants=40, sites=2)
    assert (tmp_path / "mine.txt").read_text() == "keep me"
    assert files_of(tmp_path) == ["mine.txt"]


def test_overwrites_previous_demo_and_removes_its_stale_files(tmp_path):
    out = generate(tmp_path / "d", participants=200, sites=4)
    assert (out / "qualitative" / "segments.csv").exists()
    generate(out, participants=60, sites=3, qualitative=False)
    assert not (out / "qualitative").exists()
    assert len(read(out, "participants.csv")) == 60
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("kwargs", [{"participants": 10}, {"sites": 0},
                                    {"participants": 50, "sites": 11}, {"seed": -1},
                                    {"interviews": 6}, {"interviews": 401},
                                    {"interviews": 20.5}, {"interviews": True}])
def test_bad_arguments_are_input_errors(tmp_path, kwargs):
    with pytest.raises(InputError):
        generate(tmp_path / "x", **kwargs)


def test_a_chosen_number_of_interviews_spread_over_sites(tmp_path):
    """issue 24, item 3: interviews=N makes N interviews over every site, each coded, a fifth
    double-coded, and above QUALITATIVE_MAX_PARTICIPANTS the qualitative part is kept."""
    from spanalysis import load_study
    from spanalysis.demo import QUALITATIVE_MAX_PARTICIPANTS

    out = generate(tmp_path / "s", participants=600, sites=6, interviews=120)
    sources = read(out, "qualitative/sources.csv")
    interviews = sources[sources["source_type"] == "interview"]
    assert len(interviews) == 120 and interviews["source_id"].is_unique
    assert interviews["site"].nunique() == 6
    segments = read(out, "qualitative/segments.csv")
    assert set(segments["source_id"]) <= set(sources["source_id"])
    coded = segments[segments["source_id"].isin(interviews["source_id"])]
    assert coded["source_id"].nunique() == 120
    double = coded.groupby("source_id")["coder"].nunique()
    assert (double == 2).sum() == pytest.approx(0.2 * 120, abs=2)
    study = load_study(out)
    assert len(study.qualitative.sources) == len(sources)

    big = generate(tmp_path / "big", participants=QUALITATIVE_MAX_PARTICIPANTS + 500,
                   sites=25, interviews=30)
    big_sources = read(big, "qualitative/sources.csv")
    assert (big_sources["source_type"] == "interview").sum() == 30
    assert not (generate(tmp_path / "big2", participants=QUALITATIVE_MAX_PARTICIPANTS + 500,
                         sites=25) / "qualitative").exists()


def test_demo_command_takes_interviews(tmp_path, capsys):
    from spanalysis.cli import main

    assert main(["demo", str(tmp_path / "d"), "--participants", "200", "--sites", "4",
                 "--interviews", "50"]) == 0
    sources = read(tmp_path / "d", "qualitative/sources.csv")
    assert (sources["source_type"] == "interview").sum() == 50
    assert main(["demo", str(tmp_path / "e"), "--interviews", "3"]) == 2
    err = capsys.readouterr().err
    assert "interviews" in err and "Traceback" not in err


# ------------------------------------------------------------------------------------------
# Participants, manifest and format
# ------------------------------------------------------------------------------------------
def test_manifest_declares_what_the_brief_asks(demo):
    m = demo["manifest"]
    assert m["id"] == "demo"
    assert m["instruments"] == ["wemwbs", "swemwbs", "gse", "ons4", "ucla3", "ons_lonely",
                                "mycaw", "gas"]
    assert m["timepoints"] == [{"id": "baseline"}, {"id": "followup", "target_days": 90}]
    assert m["privacy"] == {"min_cell_size": 5}
    assert m["files"]["responses"] == {"path": "responses.csv", "layout": "wide"}
    assert set(m["sites"]) == set(demo["participants"].site)
    for rel in ["participants.csv", "responses.csv", "service_use.csv"]:
        assert (COMMITTED / rel).exists()
    for rel in m["files"]["qualitative"].values():
        assert (COMMITTED / rel).exists()


def test_participants_look_like_a_referred_cohort(demo):
    p = demo["participants"]
    assert len(p) == 400 and p.participant_id.is_unique
    assert p.participant_id.str.fullmatch(r"SP\d{4}").all()
    assert not p.participant_id.str.fullmatch(r"\d{10}").any()
    assert p.link_worker.str.fullmatch(r"LW\d{2}").all()
    dates = pd.to_datetime(p.referral_date, format="%Y-%m-%d")
    assert dates.dt.year.eq(2025).all() and dates.dt.month.nunique() == 12
    assert dates.dt.day_of_week.lt(5).all()  # working days
    sizes = p.site.value_counts()
    assert len(sizes) == 8 and sizes.min() <= 25 and sizes.max() >= 80
    assert set(p.imd_quintile) <= {1, 2, 3, 4, 5}
    assert set(p.ethnicity) <= {"White", "Mixed or Multiple ethnic groups",
                                "Asian or Asian British",
                                "Black, Black British, Caribbean or African",
                                "Other ethnic group"}
    reasons = p.referral_reasons.str.split(";").explode()
    assert {"loneliness", "low mood", "debt", "housing", "bereavement",
            "long-term condition"} <= set(reasons)
    assert (p.sessions_attended >= 0).all()


def test_responses_wide_layout_and_item_ranges(demo):
    r = demo["responses"]
    expected_cols = ["participant_id", "timepoint", "completed_date"] + list(RANGES)
    assert list(r.columns) == expected_cols
    assert not any(c.startswith("swemwbs") for c in r.columns)
    assert set(r.timepoint) == {"baseline", "followup"}
    assert not r.duplicated(["participant_id", "timepoint"]).any()
    assert set(r.participant_id) <= set(demo["participants"].participant_id)
    for col, (lo, hi) in RANGES.items():
        values = r[col].dropna()
        assert (values == values.round()).all(), col
        assert values.between(lo, hi).all(), col


def test_dates_follow_referral(demo):
    p = demo["participants"].set_index("participant_id")
    r = demo["responses"]
    ref = pd.to_datetime(p.referral_date.reindex(r.participant_id).to_numpy())
    days = (pd.to_datetime(r.completed_date).to_numpy() - ref) / np.timedelta64(1, "D")
    base, fu = r.timepoint.eq("baseline").to_numpy(), r.timepoint.eq("followup").to_numpy()
    assert (days[base] >= 0).all() and (days[base] <= 30).all()
    assert (days[fu] > 0).all()
    assert 80 <= np.median(days[fu]) <= 110  # target_days 90


# ------------------------------------------------------------------------------------------
# Measurement properties (published references from measures.md; alpha by pingouin)
# ------------------------------------------------------------------------------------------
def test_wemwbs_baseline_like_a_referred_population(demo):
    wb = total(demo["base"], WEMWBS).dropna()
    assert 38.0 <= wb.mean() <= 40.0          # below the population mean of about 49.5
    assert 7.5 <= wb.std() <= 10.5            # population SD 8.96 (SHeS 2018)
    alpha, _ = pg.cronbach_alpha(demo["base"][WEMWBS].dropna())
    assert 0.87 <= alpha <= 0.93              # published 0.89-0.91 (Tennant et al. 2007)


def test_gse_internal_consistency(demo):
    alpha, _ = pg.cronbach_alpha(demo["base"][GSE].dropna())
    assert 0.80 <= alpha <= 0.90


def test_item_missingness_trips_the_rules(demo):
    r = demo["responses"]
    core = WEMWBS + GSE + UCLA + ["ons_lonely", "ons4_satisfaction", "ons4_worthwhile",
                                  "ons4_happy", "ons4_anxious"]
    rate = r[core].isna().to_numpy().mean()
    assert 0.005 <= rate <= 0.05              # a few per cent at most
    gse_answered = r[GSE].notna().sum(axis=1)
    assert (gse_answered < 7).sum() >= 3      # GSE needs >= 7 answered (Schwarzer FAQ)
    assert (r[WEMWBS].isna().sum(axis=1) == 1).sum() >= 3
    # MYCaW and GAS are used for some people only: about 40% and 30% at baseline
    base = demo["base"]
    assert 0.3 <= base.mycaw_wellbeing.notna().mean() <= 0.5
    assert 0.2 <= base.gas_1.notna().mean() <= 0.4
    # unused goals are blank after the used ones, never before
    g = base[["gas_1", "gas_2", "gas_3"]].notna()
    assert not (g.gas_2 & ~g.gas_1).any() and not (g.gas_3 & ~g.gas_2).any()
    assert (base.gas_1.dropna() <= -1).mean() > 0.95  # baseline level typically -1


# ------------------------------------------------------------------------------------------
# Attrition and planted quantitative truth
# ------------------------------------------------------------------------------------------
def test_retention_about_two_thirds(demo):
    retention = len(demo["fu"]) / len(demo["base"])
    assert 0.60 <= retention <= 0.73


def test_attrition_depends_on_baseline_wellbeing(demo):
    wb = total(demo["base"], WEMWBS)
    completer = wb.index.isin(demo["fu"].index)
    gap = wb[completer].mean() - wb[~completer].mean()
    assert gap > 3.0  # MAR: lower baseline WEMWBS -> more dropout
    # and the difference is not chance: Welch t-test via scipy (independent of the generator)
    from scipy import stats
    assert stats.ttest_ind(wb[completer].dropna(), wb[~completer].dropna(),
                           equal_var=False).pvalue < 0.001


def test_sites_differ_in_effect(demo):
    p = demo["participants"].set_index("participant_id")
    change = (total(demo["fu"], WEMWBS) - total(demo["base"], WEMWBS)).dropna()
    by_site = change.groupby(p.site.reindex(change.index)).mean()
    strong, little = PLANTED["sites"]["strong_effect"], PLANTED["sites"]["little_change"]
    assert by_site[strong] - by_site[little] > 3
    assert abs(by_site[little]) < 3.0
    assert 3.0 < change.mean() < 8.0


def test_gp_consultations_fall_modestly(demo):
    s = demo["service"]
    assert set(s.service) == {"gp_consultations"} and set(s.period) == {"before", "after"}
    assert (s["count"] >= 0).all() and (s["count"] == s["count"].round()).all()
    wide = s.pivot(index="participant_id", columns="period", values="count")
    assert len(wide) == 400
    ratio = wide["after"].mean() / wide["before"].mean()
    assert 0.75 <= ratio <= 0.95
    assert wide["before"].var() > 1.5 * wide["before"].mean()  # over-dispersed counts


def voiced_by(demo) -> pd.DataFrame:
    """participant x code 0/1 from the primary coder (coder_a where double-coded)."""
    seg, src = demo["segments"], demo["sources"]
    ints = src[src.source_type == "interview"]
    seg = seg[seg.source_id.isin(ints.source_id)]
    double = seg.groupby("source_id").coder.nunique().pipe(lambda s: s[s == 2].index)
    primary = seg[~seg.source_id.isin(double) | (seg.coder == "coder_a")]
    primary = primary.merge(ints[["source_id", "participant_id"]], on="source_id")
    table = pd.crosstab(primary.participant_id, primary.code_id).clip(upper=1)
    return table.reindex(ints.participant_id, fill_value=0)


def test_social_connection_voicers_become_less_lonely(demo):
    v = voiced_by(demo)
    v = v[v.index.isin(demo["fu"].index)]
    ucla_change = total(demo["fu"], UCLA) - total(demo["base"], UCLA)
    direct_change = demo["fu"].ons_lonely - demo["base"].ons_lonely.reindex(demo["fu"].index)
    yes, no = v.index[v.social_connection == 1], v.index[v.social_connection == 0]
    assert len(yes) >= 8 and len(no) >= 8
    assert ucla_change.reindex(yes).mean() < ucla_change.reindex(no).mean() - 0.5
    assert direct_change.reindex(yes).mean() > direct_change.reindex(no).mean() + 0.3


def test_space_to_think_voicers_change_little(demo):
    v = voiced_by(demo)
    v = v[v.index.isin(demo["fu"].index)]
    change = (total(demo["fu"], WEMWBS) - total(demo["base"], WEMWBS)).reindex(
        v.index[v.space_to_think == 1]).dropna()
    assert len(change) >= 8
    # Reliable change threshold (Jacobson & Truax 1991), worked by hand:
    # S_diff = 8.96 * sqrt(2) * sqrt(1 - 0.91) = 8.96 * 1.41421 * 0.3 = 3.8014;
    # 1.96 * 3.8014 = 7.45 WEMWBS points.
    threshold = 1.96 * 8.96 * np.sqrt(2) * np.sqrt(1 - 0.91)
    assert threshold == pytest.approx(7.45, abs=0.01)
    assert (change.abs() < threshold).all()
    assert (change.abs() <= PLANTED["themes"]["space_to_think"]["max_abs_wemwbs_change"]).all()


def test_hope_and_valued_voicers_improve_on_their_items(demo):
    v = voiced_by(demo)
    v = v[v.index.isin(demo["fu"].index)]
    fu, base = demo["fu"], demo["base"]

    def item_change(item, who):
        return (fu[item] - base[item].reindex(fu.index)).reindex(who).mean()

    hope, no_hope = v.index[v.hope == 1], v.index[v.hope == 0]
    assert item_change("wemwbs_1", hope) > item_change("wemwbs_1", no_hope) + 0.3
    val, no_val = v.index[v.valued_not_alone == 1], v.index[v.valued_not_alone == 0]
    for item in ("wemwbs_9", "wemwbs_12"):
        assert item_change(item, val) > item_change(item, no_val) + 0.2, item


# ------------------------------------------------------------------------------------------
# Qualitative data
# ------------------------------------------------------------------------------------------
def test_every_segment_is_the_exact_source_slice(demo):
    seg = demo["segments"]
    assert len(seg) > 100 and seg.segment_id.is_unique
    for row in seg.itertuples():
        text = demo["texts"][row.source_id]
        assert 0 <= row.start < row.end <= len(text)
        assert text[row.start:row.end] == row.text, row.segment_id


def test_segments_in_small_generated_study_match_sources(tmp_path):
    out = generate(tmp_path / "s", participants=60, sites=3, seed=3)
    q = out / "qualitative"
    src = read(q, "sources.csv").set_index("source_id")
    seg = read(q, "segments.csv")
    for row in seg.itertuples():
        text = (q / src.path[row.source_id]).read_text(encoding="utf-8")
        assert text[row.start:row.end] == row.text


def test_interviews_are_spread_and_mostly_completers(demo):
    src = demo["sources"]
    ints = src[src.source_type == "interview"]
    assert 50 <= len(ints) <= 70 and ints.participant_id.is_unique
    assert set(ints.site) == set(demo["participants"].site)
    completers = ints.participant_id.isin(demo["fu"].index)
    assert 0.7 <= completers.mean() < 1.0
    obs = src[src.source_type == "observation"]
    assert set(obs.site) == set(demo["participants"].site)
    assert obs.groupby("site").size().between(1, 2).all()
    assert (src.source_type == "document").sum() >= 2
    assert src.loc[src.source_type != "interview", "participant_id"].isna().all()


def test_transcripts_are_turn_based_long_and_distinct(demo):
    src = demo["sources"]
    texts = [demo["texts"][s] for s in src.source_id[src.source_type == "interview"]]
    words = [len(t.split()) for t in texts]
    assert min(words) >= 300
    assert len(set(texts)) == len(texts)
    for t in texts:
        assert "\nInterviewer: " in t and "\nParticipant: " in t
    # sentences are reused across transcripts but whole turns rarely repeat verbatim
    turns = pd.Series([ln for t in texts for ln in t.split("\n") if ln.startswith("Participant")])
    assert turns.duplicated().mean() < 0.25


def test_double_coding_is_imperfect_agreement(demo):
    seg = demo["segments"]
    assert set(seg.coder) == {"coder_a", "coder_b"}
    ints = seg[seg.source_id.str.startswith("INT")]
    coders = ints.groupby("source_id").coder.nunique()
    n_int = (demo["sources"].source_type == "interview").sum()
    assert coders.index.size == n_int
    share = (coders == 2).sum() / n_int
    assert 0.15 <= share <= 0.25
    double = ints[ints.source_id.isin(coders[coders == 2].index)]
    key = ["source_id", "code_id", "start", "end"]
    a = double[double.coder == "coder_a"][key]
    b = double[double.coder == "coder_b"][key]
    exact = a.merge(b, on=key).shape[0] / len(a)
    assert 0.5 <= exact < 1.0  # mostly the same passages, not all


def test_codebook_has_required_codes_and_fields(demo):
    codes = demo["codebook"]["codes"]
    fields = {"id", "name", "parent", "definition", "inclusion", "exclusion", "example",
              "keywords", "sensitive", "colour"}
    ids = {c["id"] for c in codes}
    for c in codes:
        assert set(c) == fields
        assert c["parent"] is None or c["parent"] in ids
        assert re.fullmatch(r"#[0-9A-F]{6}", c["colour"])
        assert isinstance(c["keywords"], list) and isinstance(c["sensitive"], bool)
    parent = {c["id"]: c["parent"] for c in codes}
    for benefit in ["space_to_think", "hope", "valued_not_alone", "social_connection",
                    "family_dynamics", "trust_services"]:
        assert parent[benefit] == "benefits"
    for code in ["waiting_lists", "transport_cost", "digital_exclusion", "being_listened_to",
                 "practical_support", "distress_disclosure"]:
        assert code in ids
    assert {c["id"] for c in codes if c["sensitive"]} >= {"distress_disclosure"}
    assert set(demo["segments"].code_id) <= ids


def test_planted_identifiers_are_in_the_named_transcripts(demo):
    for entry in PLANTED["identifiers"]:
        assert entry["text"] in demo["texts"][entry["source_id"]], entry
    kinds = {e["kind"] for e in PLANTED["identifiers"]}
    assert kinds == {"name", "name_with_title", "phone", "nhs_number", "email", "postcode",
                     "date_of_birth"}
    names = (COMMITTED / "qualitative" / "names.txt").read_text(encoding="utf-8").split("\n")
    assert "Sinéad" in names and "Patel" in names
    phone = next(e["text"] for e in PLANTED["identifiers"] if e["kind"] == "phone")
    # Ofcom drama range for mobiles: 07700 900000 to 07700 900999
    assert re.fullmatch(r"07700 900\d{3}", phone)
    email = next(e["text"] for e in PLANTED["identifiers"] if e["kind"] == "email")
    assert email.endswith("@example.com")
    # contact details sit in uncoded text: no segment contains them ...
    for entry in PLANTED["identifiers"]:
        if entry["kind"] not in ("name", "name_with_title"):
            assert not demo["segments"].text.str.contains(entry["text"], regex=False).any()
    # ... but names from names.txt do turn up inside coded quotes, as in real transcripts
    pattern = r"\b(?:" + "|".join(re.escape(n) for n in names if n) + r")\b"
    assert demo["segments"].text.str.contains(pattern).sum() >= 3


def test_planted_nhs_number_has_valid_mod11_check_digit():
    number = next(e["text"] for e in PLANTED["identifiers"] if e["kind"] == "nhs_number")
    digits = [int(c) for c in number.replace(" ", "")]
    assert len(digits) == 10 and digits[:3] == [9, 9, 9]
    # Worked by hand for 999 123 457x: weights 10..2
    # 9*10 + 9*9 + 9*8 + 1*7 + 2*6 + 3*5 + 4*4 + 5*3 + 7*2
    # = 90 + 81 + 72 + 7 + 12 + 15 + 16 + 15 + 14 = 322; 322 mod 11 = 322 - 319 = 3;
    # check = 11 - 3 = 8, so the number is 999 123 4578.
    assert number == "999 123 4578"
    remainder = sum(d * w for d, w in zip(digits[:9], range(10, 1, -1))) % 11
    check = 11 - remainder
    check = 0 if check == 11 else check
    assert check != 10 and check == digits[9]


def test_unicode_offsets_are_exercised(demo):
    emoji_src = PLANTED["emoji"]["source_id"]
    text = demo["texts"][emoji_src]
    assert PLANTED["emoji"]["text"] in text
    pos = text.index(PLANTED["emoji"]["text"])
    seg = demo["segments"]
    later = seg[(seg.source_id == emoji_src) & (seg.start > pos)]
    assert len(later) >= 1 and set(later.coder) == {"coder_a", "coder_b"}
    # in UTF-16 (NVivo's unit) these offsets would be one more: the emoji is two code units
    assert len(PLANTED["emoji"]["text"].encode("utf-16-le")) == 4
    all_text = "".join(demo["texts"].values())
    assert "\u201c" in all_text and "é" in all_text


# ------------------------------------------------------------------------------------------
# Large studies
# ------------------------------------------------------------------------------------------
def test_large_study_is_vectorised_and_questionnaire_only(tmp_path):
    t0 = time.perf_counter()
    out = generate(tmp_path / "big", participants=20_000, sites=8, seed=11)
    elapsed = time.perf_counter() - t0
    assert elapsed < 15  # about 1 s on a 2-core machine; a per-row loop would be far slower
    assert not (out / "qualitative").exists()
    manifest = yaml.safe_load((out / "study.yaml").read_text(encoding="utf-8"))
    assert "qualitative" not in manifest["files"]
    p = read(out, "participants.csv")
    assert len(p) == 20_000 and p.participant_id.is_unique
    assert p.site.nunique() == len(manifest["sites"]) == 40  # max(8, 20000 // 500)
    r = read(out, "responses.csv")
    base = r[r.timepoint == "baseline"].set_index("participant_id")
    fu = r[r.timepoint == "followup"].set_index("participant_id")
    assert 0.62 <= len(fu) / len(base) <= 0.72
    wb = total(base, WEMWBS)
    completer = wb.index.isin(fu.index)
    assert wb[completer].mean() > wb[~completer].mean() + 3
    for col, (lo, hi) in RANGES.items():
        assert r[col].dropna().between(lo, hi).all(), col
    assert len(read(out, "service_use.csv")) == 40_000
