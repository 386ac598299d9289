"""Synthetic demo study: a link-worker (social prescribing) evaluation with planted truth.

:func:`generate` writes a complete study folder in the format of ``docs/study-format.md``:
``study.yaml``, ``participants.csv``, ``responses.csv`` (wide), ``service_use.csv`` and, unless
switched off, ``qualitative/`` (codebook, sources, transcripts, coded segments, names). The
output is byte-identical for a seed, so the committed ``data/demo`` can be checked against the
code. Every person, place and quote is invented; identifiers are pseudonymous (``SP0001``,
``LW03``).

Planted truth
-------------
The data are generated so that later analyses have something real to find. The same facts are
available as data in :data:`PLANTED` (tests refer to it).

*Design.* Eight fictional primary care networks (PCNs) of different sizes (default 20 to 90
referrals) and effects; referrals on English working days of 2025; a baseline questionnaire
at referral and a follow-up about 90 days later (``target_days: 90``).

*Latent model.* Each person has a latent well-being ``eta ~ N(0, 1)`` (plus a small site
offset). Item responses are rounded and clipped versions of ``mu_j + s * (eta + sigma * e_ij)``
with independent item errors, which gives WEMWBS Cronbach's alpha about 0.9 (published 0.89 to
0.91, Tennant et al. 2007) and a baseline mean about 39 (SD about 9), below the population
mean of about 49.5 (Scottish Health Survey 2018; Health Survey for England 2016), as expected
for a referred population. GSE items load on a self-efficacy factor correlated 0.55 with
``eta`` (alpha about 0.85); ONS4 items on ``eta``; loneliness (UCLA 3-item, ONS direct
question) on a loneliness factor correlated -0.45 with ``eta``.

*Change.* Follow-up well-being is ``eta + delta`` with
``delta = 0.55 * site_effect + N(0, 0.5) + theme effects``. Site effects: **Millbrook PCN**
strong (1.7), **Northgate PCN** little change (0.1), others 0.8 to 1.2.

*Attrition (MAR, not MCAR).* ``P(follow-up) = expit(0.8 + 0.6 * eta_baseline)``: people with
lower baseline well-being drop out more; about two thirds are retained.

*Missing items.* About 1% of items are left blank at random (0.7% for WEMWBS), and about 2% of
questionnaires skip 4 or 5 GSE items (fewer than 7 answered, so the GSE score is missing under
the authors' rule). MYCaW is used for about 40% of people (a second concern for about 70% of
them) and goal attainment scaling for about 30% (1 to 3 goals; baseline level usually -1;
unused goals blank).

*Qualitative themes (decided first, then used to derive change).* About 60 people are
interviewed (at least one per site, mostly completers and about a sixth non-completers). A
person "voices" a code when their transcript has a passage for it; that passage, and only
that, is the coded segment (by the primary coder: ``coder_a`` on double-coded transcripts).

- ``social_connection``: loneliness falls more (latent loneliness reduction +0.9 SD), so UCLA
  totals fall and ``ons_lonely`` rises more than for interviewed people who do not voice it.
- ``space_to_think``: well-being hardly changes; the WEMWBS total change of completers who
  voice it is within +/-5 points (redrawn until it is), inside the reliable-change threshold
  of 1.96 * 8.96 * sqrt(2) * sqrt(1 - 0.91) = 7.45 points (Jacobson & Truax 1991 with the
  SHeS 2018 SD and alpha 0.91) and also of the sample-SD version.
- ``hope``: WEMWBS item 1 (optimistic about the future) rises more (+1.0 on the item's
  continuous scale before rounding).
- ``valued_not_alone``: items 9 (close to other people) and 12 (loved) rise more (+0.9).
- ``trust_services``: no questionnaire item covers it; nothing is planted quantitatively.
- ``hope``, ``valued_not_alone``, ``social_connection`` and ``family_dynamics`` also add a
  little to overall ``delta``.

*Service use.* GP consultations in the 6 months before and after referral: Poisson counts
with a gamma-distributed personal rate (negative binomial overall; mean about 5 before,
higher with lower well-being), multiplied by ``exp(-0.12 - 0.1 * delta)`` after referral, a
modest average fall (about 15%).

*Identifiers planted for redaction tests* (in uncoded turns, see ``PLANTED["identifiers"]``):
a neighbour's name and "Mrs Patel" (``INT002``), a phone number in Ofcom's drama range
(``INT003``), a 999-prefixed NHS number with a valid modulus-11 check digit (``INT004``), an
email at ``example.com`` (``INT005``), a postcode and a date of birth (``INT006``). ``INT007``
contains one emoji (outside the Basic Multilingual Plane) before its coded passages, and many
transcripts contain curly quotes, accented names and dashes.

*Coding.* Two coders; about a fifth of interviews are coded by both. The second coder agrees
on most passages; otherwise the boundaries differ (lead-in or tail included, or only the first
sentences), a passage is missed, or a related code is used instead
(``trust_services`` <-> ``being_listened_to``, ``practical_support`` -> ``being_listened_to``,
``waiting_lists`` -> ``trust_services``). Codes with planted quantitative relationships are
never substituted.

*Large studies.* With more than :data:`QUALITATIVE_MAX_PARTICIPANTS` participants the
qualitative part is not generated unless a number of interviews is asked for (``interviews=``,
``spanalysis demo --interviews N``: a national-size study with, say, 1,000 interviews), and the
number of sites is ``max(sites, participants // 500)`` (names generated beyond the eight named
PCNs). Everything is vectorised with numpy.

References
----------
Tennant R et al. (2007) The Warwick-Edinburgh Mental Well-being Scale (WEMWBS): development and
UK validation. Health Qual Life Outcomes 5:63.
Jacobson NS, Truax P (1991) Clinical significance: a statistical approach to defining
meaningful change in psychotherapy research. J Consult Clin Psychol 59:12-19.
NHS Digital, NHS number check digit (modulus 11): weights 10..2 on the first nine digits,
check = 11 - (sum mod 11); 11 -> 0; 10 -> invalid number.
Ofcom, telephone numbers reserved for TV and radio drama: 07700 900000 to 07700 900999.

Examples
--------
>>> import tempfile, pathlib
>>> from spanalysis.demo import generate
>>> out = generate(pathlib.Path(tempfile.mkdtemp()) / "demo", participants=60, sites=3)
>>> sorted(p.name for p in out.iterdir())[:4]
['README.md', 'participants.csv', 'qualitative', 'responses.csv']
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import yaml

from spanalysis.demo import text_banks as T
from spanalysis.demo.files import (
    README_MARKER,
    csv_bytes,
    csv_chunks,
    prepare_folder,
    remove_stale,
    write_atomically,
)
from spanalysis.errors import InputError

__all__ = ["generate", "PLANTED", "nhs_check_digit", "DEFAULT_SEED",
           "QUALITATIVE_MAX_PARTICIPANTS"]

DEFAULT_SEED = 20261126
#: Above this many participants only questionnaire data are written (qualitative=False).
QUALITATIVE_MAX_PARTICIPANTS = 10_000

# name, relative size (referrals in the default study), effect multiplier
_NAMED_SITES = [
    ("Riverside PCN", 90, 1.0), ("Hillview PCN", 75, 0.9), ("Millbrook PCN", 60, 1.7),
    ("Northgate PCN", 50, 0.1), ("Oakfield PCN", 45, 1.1), ("Kestrel Moor PCN", 35, 0.8),
    ("Saltmarsh Coast PCN", 25, 1.2), ("Brackenridge PCN", 20, 0.9),
]
_BASE_DELTA = 0.55           # mean latent improvement (SD units) at a site with effect 1
_DELTA_SD = 0.6
_RETAIN_A, _RETAIN_B = 0.8, 0.6
_ENGLAND_BANK_HOLIDAYS_2025 = ["2025-01-01", "2025-04-18", "2025-04-21", "2025-05-05",
                               "2025-05-26", "2025-08-25", "2025-12-25", "2025-12-26"]

_AGE_BANDS = ["18-34", "35-49", "50-64", "65-79", "80+"]
_AGE_P = [0.17, 0.22, 0.25, 0.24, 0.12]
_GENDERS = ["Female", "Male", "Non-binary", "Prefer not to say"]
_GENDER_P = [0.60, 0.38, 0.01, 0.01]
# ONS 5-group ethnicity (2021 Census wording); shares close to England 2021.
_ETHNICITIES = ["White", "Asian or Asian British", "Black, Black British, Caribbean or African",
                "Mixed or Multiple ethnic groups", "Other ethnic group"]
_ETHNICITY_P = [0.81, 0.096, 0.042, 0.03, 0.022]
_REASONS = ["loneliness", "low mood", "anxiety", "debt", "housing", "benefits", "bereavement",
            "long-term condition", "caring responsibilities", "employment"]

WEMWBS_ITEMS = [f"wemwbs_{i}" for i in range(1, 15)]
GSE_ITEMS = [f"gse_{i}" for i in range(1, 11)]
ONS4_ITEMS = ["ons4_satisfaction", "ons4_worthwhile", "ons4_happy", "ons4_anxious"]
UCLA_ITEMS = ["ucla3_1", "ucla3_2", "ucla3_3"]
MYCAW_ITEMS = ["mycaw_concern1", "mycaw_concern2", "mycaw_wellbeing"]
GAS_ITEMS = ["gas_1", "gas_2", "gas_3"]
ITEM_COLUMNS = (WEMWBS_ITEMS + GSE_ITEMS + ONS4_ITEMS + UCLA_ITEMS + ["ons_lonely"]
                + MYCAW_ITEMS + GAS_ITEMS)
ITEM_RANGES = {**{c: (1, 5) for c in WEMWBS_ITEMS}, **{c: (1, 4) for c in GSE_ITEMS},
               **{c: (0, 10) for c in ONS4_ITEMS}, **{c: (1, 3) for c in UCLA_ITEMS},
               "ons_lonely": (1, 5), **{c: (0, 6) for c in MYCAW_ITEMS},
               **{c: (-2, 2) for c in GAS_ITEMS}}

# Item intercepts (difficulty) for WEMWBS: energy (5) and relaxed (3) lowest, loved (12) and
# able to make up my own mind (11) highest, as is typical in published item means.
_WEMWBS_MU = 2.8 + np.array([-0.2, 0.1, -0.3, 0.2, -0.5, -0.1, 0.0, -0.2, 0.1, -0.2, 0.3, 0.3,
                             0.1, -0.1])
_GSE_MU = 2.65 + np.array([0.1, -0.1, 0.0, -0.15, 0.05, 0.15, -0.05, 0.0, 0.1, -0.1])


def nhs_check_digit(first_nine: str) -> int | None:
    """Modulus-11 check digit of an NHS number, or None when the nine digits cannot be valid.

    Notes
    -----
    Weights 10, 9, ..., 2 multiply the first nine digits; ``check = 11 - (sum mod 11)``; a
    result of 11 becomes 0 and a result of 10 means no valid NHS number starts with these
    digits (NHS Data Dictionary, "NHS Number").

    Examples
    --------
    >>> nhs_check_digit("999123457")
    8
    """
    digits = [int(c) for c in first_nine]
    if len(digits) != 9:
        raise ValueError("expected nine digits")
    check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1))) % 11
    return {11: 0, 10: None}.get(check, check)


_NHS_FIRST_NINE = "999123457"  # 999-prefixed: the range used for test NHS numbers
_NHS_NUMBER = (f"{_NHS_FIRST_NINE[:3]} {_NHS_FIRST_NINE[3:6]} {_NHS_FIRST_NINE[6:]}"
               f"{nhs_check_digit(_NHS_FIRST_NINE)}")

# Where identifiers are planted (fixed source ids, so the truth does not depend on the seed).
_IDENTIFIER_PLAN = {
    "INT002": {"name": T.PLANTED_IDENTIFIER_TEXT["name"],
               "name_with_title": T.PLANTED_IDENTIFIER_TEXT["name_with_title"]},
    "INT003": {"phone": T.PHONE},
    "INT004": {"nhs_number": _NHS_NUMBER},
    "INT005": {"email": T.EMAIL},
    "INT006": {"postcode": T.POSTCODE, "date_of_birth": T.DATE_OF_BIRTH},
}
_EMOJI_SOURCE = "INT007"

# Theme effects on change (latent SD units); see the module docstring.
_THEME_DELTA = {"social_connection": 0.15, "hope": 0.1, "valued_not_alone": 0.1,
                "family_dynamics": 0.05}
_SOCIAL_LONELINESS_DROP = 0.9
_HOPE_ITEM1 = 1.0
_VALUED_ITEMS_9_12 = 0.9
_SPACE_MAX_CHANGE = 5
_CODER_B_SUBSTITUTE = {"trust_services": "being_listened_to",
                       "being_listened_to": "trust_services",
                       "practical_support": "being_listened_to",
                       "waiting_lists": "trust_services"}

PLANTED: dict = {
    "seed": DEFAULT_SEED,
    "defaults": {"participants": 400, "sites": 8},
    "sites": {
        "names": [s[0] for s in _NAMED_SITES],
        "default_sizes": {s[0]: s[1] for s in _NAMED_SITES},
        "effect_multiplier": {s[0]: s[2] for s in _NAMED_SITES},
        "strong_effect": "Millbrook PCN",
        "little_change": "Northgate PCN",
    },
    "change_model": {"base_delta_sd_units": _BASE_DELTA, "delta_sd": _DELTA_SD},
    "attrition": {
        "mechanism": "MAR on baseline well-being",
        "model": "P(followup) = expit(0.8 + 0.6 * eta_baseline)",
        "expected_retention": 2 / 3,
        "direction": "completers have higher baseline WEMWBS than non-completers",
    },
    "wemwbs_baseline": {"mean_range": (38.0, 40.0), "sd_about": 9.0, "alpha_about": 0.9},
    "gse_alpha_about": 0.85,
    "themes": {
        "social_connection": {
            "effect": "larger loneliness reduction (UCLA total falls more; ons_lonely rises "
                      "more) than interviewed completers who do not voice it",
            "latent_loneliness_drop_sd": _SOCIAL_LONELINESS_DROP},
        "space_to_think": {
            "effect": "WEMWBS total change of completer voicers within +/-5 points",
            "max_abs_wemwbs_change": _SPACE_MAX_CHANGE,
            "reliable_change_threshold": 7.45,
            "threshold_arithmetic": "1.96 * 8.96 * sqrt(2) * sqrt(1 - 0.91) = 7.45"},
        "hope": {"effect": "WEMWBS item 1 (optimistic about the future) improves more",
                 "items": ["wemwbs_1"], "item_shift": _HOPE_ITEM1},
        "valued_not_alone": {"effect": "WEMWBS items 9 (close to other people) and 12 "
                                       "(loved) improve more",
                             "items": ["wemwbs_9", "wemwbs_12"],
                             "item_shift": _VALUED_ITEMS_9_12},
        "trust_services": {"effect": "none: no questionnaire item covers it", "items": []},
        "overall_delta_bonus": dict(_THEME_DELTA),
    },
    "gp_consultations": {"window_months": 6,
                         "after_multiplier": "exp(-0.12 - 0.1 * delta)",
                         "expected": "modest fall in the mean after referral (about 15%)"},
    "identifiers": [{"source_id": sid, "kind": kind, "text": text}
                    for sid, kinds in _IDENTIFIER_PLAN.items() for kind, text in kinds.items()],
    "nhs_number": _NHS_NUMBER,
    "emoji": {"source_id": _EMOJI_SOURCE, "text": T.EMOJI},
    "names_file": list(T.NAMES),
    "coding": {"coders": ["coder_a", "coder_b"], "double_coded_fraction": 0.2,
               "primary_coder_on_double_coded": "coder_a",
               "substitutions_by_coder_b": dict(_CODER_B_SUBSTITUTE)},
    "qualitative_max_participants": QUALITATIVE_MAX_PARTICIPANTS,
}


# ============================================================================================
# Public entry point
# ============================================================================================
def generate(out, participants: int = 400, sites: int = 8, seed: int = DEFAULT_SEED,
             qualitative: bool = True, interviews: int | None = None) -> Path:
    """Write a synthetic link-worker evaluation study folder.

    Parameters
    ----------
    out : str or Path
        Folder to write. It must not exist, be empty, or be a previous demo study (recognised
        by its ``README.md`` first line and ``study.yaml`` id ``demo``); files of a previous
        demo that the new one does not write are removed.
    participants : int, default 400
        Number of referred participants (at least 20).
    sites : int, default 8
        Number of sites (primary care networks). With large studies ``max(sites,
        participants // 500)`` sites are made.
    seed : int, default 20261126
        Random seed; the same arguments give byte-identical files.
    qualitative : bool, default True
        Also write ``qualitative/`` (codebook, sources, transcripts, segments, names). Ignored
        (treated as False) above :data:`QUALITATIVE_MAX_PARTICIPANTS` participants unless
        ``interviews`` is given.
    interviews : int, optional
        Number of interviews (at least 7, the planted identifiers' sources; at most the number
        of participants), spread over the sites in proportion to the square root of their
        size (a site with fewer people than its share gives all it has, so the total can fall
        short), with the codings and double coding scaled with them. By default 15 % of
        participants, between 8 and 60.

    Returns
    -------
    Path
        The study folder.

    Notes
    -----
    The data-generating model and the planted relationships are described in the module
    docstring and in :data:`PLANTED`. Files are written to a temporary file in the same folder
    and moved into place with :func:`os.replace`.

    Examples
    --------
    >>> import tempfile, pathlib, pandas as pd
    >>> out = generate(pathlib.Path(tempfile.mkdtemp()) / "s", participants=50, sites=2,
    ...                qualitative=False)
    >>> len(pd.read_csv(out / "participants.csv"))
    50
    """
    participants, sites, seed = _check_args(participants, sites, seed)
    if interviews is not None:
        interviews = _check_interviews(interviews, participants)
    out = Path(out)
    previous = prepare_folder(out)
    if participants > QUALITATIVE_MAX_PARTICIPANTS and interviews is None:
        qualitative = False
    n_sites = max(sites, participants // 500) if participants > QUALITATIVE_MAX_PARTICIPANTS \
        else sites

    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(6)]
    site = _make_sites(streams[0], participants, n_sites)
    people = _make_people(streams[1], participants, site)
    qual_plan = None
    if qualitative:
        qual_plan = _choose_interviews(streams[2], people, site, interviews)
    resp, service = _make_responses(streams[3], people, site, qual_plan)

    written: list[Path] = []

    def put(rel: str, data) -> None:
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, data)
        written.append(path)

    put("participants.csv", csv_chunks(_participants_table(people, site)))
    put("responses.csv", csv_chunks(resp))
    del resp
    put("service_use.csv", csv_chunks(service))
    if qualitative:
        for rel, data in _qualitative_files(streams[4], streams[5], people, site, qual_plan):
            put(rel, data)
    put("study.yaml", _manifest(site, qualitative, participants, seed))
    put("README.md", _readme(participants, n_sites, seed, qualitative).encode("utf-8"))
    if previous:
        remove_stale(out, set(written))
    return out


# ============================================================================================
# Arguments
# ============================================================================================
def _check_args(participants, sites, seed):
    for name, value, low in (("participants", participants, 20), ("sites", sites, 1),
                             ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise InputError(f"invalid {name} for the demo study", column=name, value=value,
                             expected=f"a whole number >= {low}")
    if sites > participants // 5:
        raise InputError("too many sites for the number of participants", column="sites",
                         value=sites, expected=f"at most participants // 5 = {participants // 5}")
    return int(participants), int(sites), int(seed)


def _check_interviews(interviews, participants: int) -> int:
    low = len(_IDENTIFIER_PLAN) + 2   # INT001 and the planted identifiers' sources, INT007
    if isinstance(interviews, bool) or not isinstance(interviews, (int, np.integer)) \
            or not low <= interviews <= participants:
        raise InputError("invalid number of interviews for the demo study",
                         column="interviews", value=interviews,
                         expected=f"a whole number from {low} to the number of participants "
                                  f"({participants})")
    return int(interviews)


# ============================================================================================
# Sites and participants
# ============================================================================================
_PREFIXES = ["Ash", "Beech", "Birch", "Bramble", "Brook", "Cedar", "Clay", "Cole", "Corn",
             "Cross", "Dale", "Elm", "Fern", "Fox", "Glen", "Green", "Hazel", "Heath", "High",
             "Holly", "Kings", "Lark", "Lime", "Long", "Maple", "Marsh", "Mead", "Moss", "New",
             "Pine", "Queens", "Red", "Rush", "Sand", "Stone", "Thorn", "Wal", "White",
             "Willow", "Wood", "Wren", "Yew"]
_SUFFIXES = ["bank", "bridge", "bury", "by", "cliffe", "combe", "cote", "croft", "dale", "den",
             "field", "ford", "gate", "ham", "holme", "hurst", "ley", "mere", "moor", "port",
             "stead", "stow", "thorpe", "ton", "vale", "wick", "well", "worth"]
_QUALIFIERS = ["", " North", " South", " East", " West", " Central"]


def _site_names(k: int) -> list[str]:
    names = [s[0] for s in _NAMED_SITES[:k]]
    if k <= len(names):
        return names
    taken = {n.split(" PCN")[0].lower() for n in names}
    generated = [f"{p}{s}{q} PCN" for q in _QUALIFIERS for p in _PREFIXES for s in _SUFFIXES
                 if f"{p}{s}".lower() not in taken]
    need = k - len(names)
    if need > len(generated):
        generated += [f"Network {i:05d} PCN" for i in range(1, need - len(generated) + 1)]
    return names + generated[:need]


def _allocate(total: int, weights: np.ndarray) -> np.ndarray:
    """Integer sizes >= 1 summing to ``total``, proportional to weights (largest remainder).

    With the default study (400 people, the eight named weights summing to 400) the sizes are
    exactly the weights.
    """
    k = len(weights)
    share = np.asarray(weights, dtype=np.float64) / np.sum(weights) * total
    sizes = np.floor(share + 1e-9).astype(np.int64)
    order = np.lexsort((np.arange(k), -(share - sizes)))
    sizes[order[:total - sizes.sum()]] += 1
    while (sizes < 1).any():  # every declared site gets at least one referral
        sizes[np.argmax(sizes)] -= 1
        sizes[np.argmin(sizes)] += 1
    return sizes


def _make_sites(rng: np.random.Generator, n: int, k: int) -> dict:
    names = _site_names(k)
    named = min(k, len(_NAMED_SITES))
    weights = np.empty(k)
    effect = np.empty(k)
    weights[:named] = [s[1] for s in _NAMED_SITES[:named]]
    effect[:named] = [s[2] for s in _NAMED_SITES[:named]]
    if k > named:
        weights[named:] = rng.lognormal(np.log(50.0), 0.5, k - named)
        effect[named:] = np.clip(rng.normal(1.0, 0.3, k - named), 0.1, 1.8)
    sizes = _allocate(n, weights)
    baseline_offset = rng.normal(0.0, 0.15, k)
    deprivation = rng.normal(0.0, 0.5, k)
    n_lw = np.maximum(1, np.rint(sizes / 35).astype(np.int64))
    lw_first = np.concatenate([[0], np.cumsum(n_lw)[:-1]])
    return {"name": names, "size": sizes, "effect": effect, "offset": baseline_offset,
            "deprivation": deprivation, "n_lw": n_lw, "lw_first": lw_first,
            "lw_total": int(n_lw.sum())}


def _make_people(rng: np.random.Generator, n: int, site: dict) -> dict:
    k = len(site["name"])
    site_idx = rng.permutation(np.repeat(np.arange(k), site["size"]))
    # Referral dates: English working days of 2025, people numbered in referral order.
    hol = np.array(_ENGLAND_BANK_HOLIDAYS_2025, dtype="datetime64[D]")
    start, stop = np.datetime64("2025-01-02"), np.datetime64("2026-01-01")
    n_days = int(np.busday_count(start, stop, holidays=hol))
    day = rng.integers(0, n_days, n)
    order = np.lexsort((rng.random(n), day))
    day, site_idx = day[order], site_idx[order]
    referral = np.busday_offset(start, day, roll="forward", holidays=hol)

    eta = (rng.standard_normal(n) + site["offset"][site_idx]).astype(np.float64)
    age = rng.choice(len(_AGE_BANDS), n, p=_AGE_P)
    gender = rng.choice(len(_GENDERS), n, p=_GENDER_P)
    ethnicity = rng.choice(len(_ETHNICITIES), n, p=_ETHNICITY_P)
    dep = site["deprivation"][site_idx] + rng.standard_normal(n)
    # More deprived areas are over-represented among referrals (1 = most deprived).
    imd = np.searchsorted(np.array([-0.35, 0.3, 0.8, 1.3]), dep) + 1
    loneliness = 0.45 - 0.45 * eta + np.sqrt(1 - 0.45 ** 2) * rng.standard_normal(n)

    old = age >= 3
    p = np.column_stack([
        _expit(-0.6 + 1.3 * loneliness),                  # loneliness
        _expit(-0.3 - 1.2 * eta),                         # low mood
        np.full(n, 0.3),                                  # anxiety
        0.12 + 0.1 * (imd <= 2),                          # debt
        np.full(n, 0.12),                                 # housing
        0.08 + 0.06 * (imd <= 2),                         # benefits
        0.08 + 0.1 * old,                                 # bereavement
        0.2 + 0.2 * old,                                  # long-term condition
        np.full(n, 0.07),                                 # caring responsibilities
        0.1 * (age <= 2),                                 # employment
    ])
    has = rng.random(p.shape) < p
    has[~has.any(axis=1), 1] = True  # everyone was referred for something: default low mood
    mask = has @ (1 << np.arange(len(_REASONS)))
    completer = rng.random(n) < _expit(_RETAIN_A + _RETAIN_B * eta)
    mean_sessions = np.where(completer, 5.0, 1.5)
    sessions = rng.negative_binomial(3, 3 / (3 + mean_sessions))
    sessions = np.where(completer, sessions + 1, sessions)
    lw_within = (rng.random(n) * site["n_lw"][site_idx]).astype(np.int64)
    lw = site["lw_first"][site_idx] + lw_within
    return {"n": n, "site": site_idx, "referral": referral, "eta": eta, "age": age,
            "gender": gender, "ethnicity": ethnicity, "imd": imd, "loneliness": loneliness,
            "reasons": has, "reason_mask": mask, "completer": completer, "sessions": sessions,
            "lw": lw, "holidays": hol}


def _expit(x):
    return 1.0 / (1.0 + np.exp(-x))


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    text = pc.cast(pa.array(numbers), pa.string())
    return pc.binary_join_element_wise(prefix, pc.utf8_lpad(text, width=width, padding="0"), "")


def _pid_width(n: int) -> int:
    return max(4, len(str(n)))


def _lw_width(total: int) -> int:
    return max(2, len(str(total)))


def _dict_array(codes: np.ndarray, labels: list[str]) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), pa.array(labels))


def _participants_table(people: dict, site: dict) -> pa.Table:
    n = people["n"]
    masks, inverse = np.unique(people["reason_mask"], return_inverse=True)
    reason_text = [";".join(r for b, r in enumerate(_REASONS) if m >> b & 1) for m in masks]
    return pa.table({
        "participant_id": _ids("SP", np.arange(1, n + 1), _pid_width(n)),
        "site": _dict_array(people["site"], site["name"]),
        "referral_date": pa.array(people["referral"], pa.date32()),
        "age_band": _dict_array(people["age"], _AGE_BANDS),
        "gender": _dict_array(people["gender"], _GENDERS),
        "ethnicity": _dict_array(people["ethnicity"], _ETHNICITIES),
        "imd_quintile": pa.array(people["imd"].astype(np.int8)),
        "referral_reasons": _dict_array(inverse.ravel(), reason_text),
        "link_worker": _ids("LW", people["lw"] + 1, _lw_width(site["lw_total"])),
        "sessions_attended": pa.array(people["sessions"].astype(np.int16)),
    })


# ============================================================================================
# Interview plan: who is interviewed and which themes each person voices (decided first)
# ============================================================================================
_BENEFITS = T.THEMES


def _choose_interviews(rng: np.random.Generator, people: dict, site: dict,
                       total: int | None = None) -> dict:
    n, k = people["n"], len(site["name"])
    if total is None:
        total = int(min(60, max(8, round(0.15 * n))))
    per_site = _allocate(total, np.sqrt(site["size"].astype(float))) if total >= k else \
        np.bincount(rng.choice(k, total, replace=False), minlength=k)
    chosen = []
    for s in range(k):
        members = np.flatnonzero(people["site"] == s)
        comp = members[people["completer"][members]]
        non = members[~people["completer"][members]]
        want = int(per_site[s])
        n_non = min(len(non), int(round(want / 6)))
        n_comp = min(len(comp), want - n_non)
        n_non = min(len(non), want - n_comp)
        chosen += list(rng.choice(comp, n_comp, replace=False)) if n_comp else []
        chosen += list(rng.choice(non, n_non, replace=False)) if n_non else []
    idx = np.sort(np.array(chosen, dtype=np.int64))
    m = len(idx)
    reasons = people["reasons"][idx]
    comp = people["completer"][idx]
    lonely_reason = reasons[:, _REASONS.index("loneliness")]
    practical_reason = reasons[:, [_REASONS.index(r) for r in ("debt", "housing", "benefits")]
                               ].any(axis=1)
    old = people["age"][idx] >= 3
    scale = np.where(comp, 1.0, 0.5)  # people who stopped early describe fewer benefits
    probs = {
        "space_to_think": 0.45 * scale,
        "hope": 0.45 * scale,
        "valued_not_alone": 0.45 * scale,
        "social_connection": (0.35 + 0.25 * lonely_reason) * scale,
        "family_dynamics": 0.25 * scale,
        "trust_services": 0.3 * scale,
        "being_listened_to": np.full(m, 0.65),
        "practical_support": np.where(practical_reason, 0.75, 0.1),
        "waiting_lists": np.where(comp, 0.25, 0.45),
        "transport_cost": np.where(comp, 0.15, 0.3),
        "digital_exclusion": 0.1 + 0.25 * old,
        "distress_disclosure": np.full(m, 0.12),
    }
    codes = list(probs)
    voiced = np.column_stack([rng.random(m) < probs[c] for c in codes])
    # Everyone interviewed talks about at least two things.
    for _ in range(3):
        few = voiced.sum(axis=1) < 3
        if not few.any():
            break
        pick = rng.integers(0, len(_BENEFITS), m)
        voiced[few, pick[few]] = True
    return {"idx": idx, "codes": codes, "voiced": voiced,
            "source_id": [f"INT{i + 1:03d}" for i in range(m)]}


# ============================================================================================
# Questionnaire responses and service use
# ============================================================================================
def _ordinal(rng, mu, latent, scale, err_sd, lo, hi):
    """Round-and-clip ordinal items: ``clip(rint(mu_j + scale * (latent + err_sd * e)))``."""
    mu = np.atleast_1d(np.asarray(mu, dtype=np.float32))
    return _round_items(rng, mu[None, :], latent, scale, err_sd, lo, hi)


def _round_items(rng, mu, latent, scale, err_sd, lo, hi):
    """In-place float32 arithmetic: one (n, k) temporary, so a million people fit easily."""
    cont = rng.standard_normal((len(latent), mu.shape[1]), dtype=np.float32)
    cont *= np.float32(err_sd)
    cont += latent.astype(np.float32)[:, None]
    cont *= np.float32(scale)
    cont += mu
    np.rint(cont, out=cont)
    np.clip(cont, lo, hi, out=cont)
    return cont.astype(np.int8)


def _make_responses(rng: np.random.Generator, people: dict, site: dict,
                    plan: dict | None) -> tuple[pa.Table, pa.Table]:
    """Questionnaire answers (baseline for everyone, follow-up for completers) and GP
    consultations, from the latent model of the module docstring.

    The steps draw from ``rng`` in a fixed order (change, WEMWBS, GSE, ONS4, loneliness,
    MYCaW, GAS, dates, missing items, service use), so a seed gives the same files."""
    n = people["n"]
    eta0, lon0 = people["eta"], people["loneliness"]
    voiced = _voiced_themes(n, plan)
    delta, eta1, lon1, space = _latent_change(rng, people, site, voiced)
    w0, w1 = _wemwbs(rng, eta0, eta1, space, voiced)
    gse0, gse1 = _gse(rng, eta0, delta)
    o0, o1 = _ons4(rng, eta0), _ons4(rng, eta1)
    u0, d0 = _loneliness(rng, lon0)
    u1, d1 = _loneliness(rng, lon1)
    mycaw = _mycaw(rng, eta0, eta1, delta)
    gas = _gas(rng, delta)

    # baseline rows for all, follow-up rows for completers
    fu = np.flatnonzero(people["completer"])
    items = np.concatenate([
        np.column_stack([w0, gse0, o0, u0, d0, mycaw["baseline"], gas["baseline"]]),
        np.column_stack([w1, gse1, o1, u1, d1, mycaw["followup"], gas["followup"]])[fu]])
    del w0, w1, gse0, gse1, o0, o1, u0, u1, d0, d1
    pid = np.concatenate([np.arange(n), fu])
    tp = np.concatenate([np.zeros(n, np.int8), np.ones(len(fu), np.int8)])
    date = _questionnaire_dates(rng, people, fu)
    missing = _missing_items(rng, pid, mycaw, gas)
    responses = _responses_table(items, missing, pid, tp, date, n)
    del items, missing
    return responses, _service_use(rng, people, delta)


def _voiced_themes(n: int, plan: dict | None) -> dict:
    """``code -> bool array over participants``: True for the interviewed people who voice
    the code; all False for a code nobody voices (or without interviews)."""
    theme = defaultdict(lambda: np.zeros(n, dtype=bool))
    if plan:
        for j, c in enumerate(plan["codes"]):
            theme[c] = np.zeros(n, dtype=bool)
            theme[c][plan["idx"][plan["voiced"][:, j]]] = True
    return theme


def _latent_change(rng, people: dict, site: dict, voiced: dict):
    """Latent change ``delta``, follow-up well-being and loneliness, and who voiced
    space_to_think among completers (their change is drawn near 0)."""
    n, s = people["n"], people["site"]
    delta = (_BASE_DELTA * site["effect"][s] + _DELTA_SD * rng.standard_normal(n))
    for c, bonus in _THEME_DELTA.items():
        delta = delta + bonus * voiced[c]
    space = voiced["space_to_think"] & people["completer"]
    delta = np.where(space, rng.normal(0.05, 0.1, n), delta)
    eta1 = people["eta"] + delta
    lonely_drop = (0.2 + 0.35 * delta + 0.35 * rng.standard_normal(n)
                   + _SOCIAL_LONELINESS_DROP * voiced["social_connection"])
    return delta, eta1, people["loneliness"] - lonely_drop, space


def _wemwbs(rng, eta0, eta1, space, voiced: dict):
    """WEMWBS items at baseline and follow-up, with the theme-specific item shifts; the
    follow-up of space_to_think voicers is redrawn until the total changes by at most
    ``_SPACE_MAX_CHANGE`` (planted, see the module docstring)."""
    n = len(eta0)
    s_w, sd_w = 0.62, 1.15
    w0 = _ordinal(rng, _WEMWBS_MU, eta0, s_w, sd_w, 1, 5)
    mu1 = np.broadcast_to(_WEMWBS_MU.astype(np.float32), (n, 14)).copy()
    mu1[:, 0] += _HOPE_ITEM1 * voiced["hope"]
    mu1[:, [8, 11]] += _VALUED_ITEMS_9_12 * voiced["valued_not_alone"][:, None]
    w1 = _round_items(rng, mu1, eta1, s_w, sd_w, 1, 5)
    bad = np.flatnonzero(space & (np.abs(w1.sum(1, dtype=np.int32)
                                         - w0.sum(1, dtype=np.int32)) > _SPACE_MAX_CHANGE))
    for _ in range(200):
        if not len(bad):
            break
        w1[bad] = _round_items(rng, mu1[bad], eta1[bad], s_w, sd_w, 1, 5)
        chg = np.abs(w1[bad].sum(1, dtype=np.int32) - w0[bad].sum(1, dtype=np.int32))
        bad = bad[chg > _SPACE_MAX_CHANGE]
    w1[bad] = w0[bad]  # never reached in practice; keeps the planted rule exact
    return w0, w1


def _gse(rng, eta0, delta):
    """GSE items at baseline and follow-up (self-efficacy factor correlated 0.55 with eta)."""
    n = len(eta0)
    g0 = 0.55 * eta0 + np.sqrt(1 - 0.55 ** 2) * rng.standard_normal(n)
    g1 = g0 + 0.55 * delta + 0.25 * rng.standard_normal(n)
    return _ordinal(rng, _GSE_MU, g0, 0.6, 1.2, 1, 4), _ordinal(rng, _GSE_MU, g1, 0.6, 1.2, 1, 4)


def _ons4(rng, latent):
    """ONS4 items (0-10; the anxiety item is lower for higher well-being)."""
    pos = _ordinal(rng, [4.8, 5.3, 4.9], latent, 1.6, 0.75, 0, 10)
    anx = _ordinal(rng, [5.4], -latent, 1.5, 1.0, 0, 10)
    return np.column_stack([pos, anx])


def _loneliness(rng, latent):
    """UCLA 3 items (1-3, higher lonelier) and the ONS direct question (1 often .. 5 never)."""
    ucla = _ordinal(rng, [2.0, 1.9, 1.95], latent, 0.6, 0.8, 1, 3)
    direct = _ordinal(rng, [2.9], -latent, 1.0, 0.5, 1, 5)
    return ucla, direct


def _mycaw(rng, eta0, eta1, delta) -> dict:
    """MYCaW (0-6, lower is better) for about 40% of people, a second concern for about 70%
    of them: ``baseline``, ``followup`` (two concerns and well-being), ``used``,
    ``two_concerns``."""
    n = len(eta0)
    used = rng.random(n) < 0.4
    two_concerns = rng.random(n) < 0.7
    c0 = np.clip(np.rint(4.7 + 0.9 * rng.standard_normal((n, 2))), 0, 6)
    wb0 = np.clip(np.rint(3.6 - 1.0 * eta0 + 0.7 * rng.standard_normal(n)), 0, 6)
    c1 = np.clip(np.rint(c0 - (0.9 + 1.6 * delta)[:, None] + 0.9 * rng.standard_normal((n, 2))),
                 0, 6)
    wb1 = np.clip(np.rint(3.6 - 1.0 * eta1 + 0.7 * rng.standard_normal(n)), 0, 6)
    return {"baseline": np.column_stack([c0, wb0]).astype(np.int8),
            "followup": np.column_stack([c1, wb1]).astype(np.int8),
            "used": used, "two_concerns": two_concerns}


def _gas(rng, delta) -> dict:
    """Goal attainment scaling for about 30% of people, 1 to 3 goals: ``baseline`` (mostly
    -1), ``followup`` (the attained level), ``used``, ``n_goals``."""
    n = len(delta)
    used = rng.random(n) < 0.3
    n_goals = rng.choice([1, 2, 3], n, p=[0.3, 0.4, 0.3])
    gas0 = np.where(rng.random((n, 3)) < 0.85, -1, -2).astype(np.int8)
    gas1 = np.clip(np.rint(-0.3 + 1.3 * delta[:, None] + 0.8 * rng.standard_normal((n, 3))),
                   -2, 2).astype(np.int8)
    return {"baseline": gas0, "followup": gas1, "used": used, "n_goals": n_goals}


def _questionnaire_dates(rng, people: dict, fu: np.ndarray) -> np.ndarray:
    """Completion dates: baseline at the first appointment (within 12 working days of
    referral), follow-up about 90 days after referral; baseline rows, then follow-up rows."""
    hol = people["holidays"]
    ref = people["referral"]
    n = len(ref)
    bdate = np.busday_offset(ref, rng.integers(0, 12, n), roll="forward", holidays=hol)
    fdays = np.clip(np.rint(rng.normal(96, 9, n)), 75, 140).astype("timedelta64[D]")
    fdate = np.busday_offset(ref + fdays, 0, roll="forward", holidays=hol)
    return np.concatenate([bdate, fdate[fu]])


def _missing_items(rng, pid: np.ndarray, mycaw: dict, gas: dict) -> np.ndarray:
    """Blank answers (rows x ``ITEM_COLUMNS``): about 1% at random (0.7% for WEMWBS), 2% of
    questionnaires skipping 4 or 5 GSE items, and the structural blanks (MYCaW or GAS not
    used, no second concern, unused goals)."""
    cols = ITEM_COLUMNS
    rows = len(pid)
    missing = np.zeros((rows, len(cols)), dtype=bool)
    rate = np.array([0.007 if c.startswith("wemwbs") else 0.01 for c in cols])
    for j in range(len(cols)):  # column by column keeps memory low for large studies
        missing[:, j] = rng.random(rows, dtype=np.float32) < rate[j]
    gse_cols = np.array([cols.index(c) for c in GSE_ITEMS])
    skip = np.flatnonzero(rng.random(rows) < 0.02)
    n_skip = rng.integers(4, 6, len(skip))
    rank = np.argsort(rng.random((len(skip), 10)), axis=1)
    missing[skip[:, None], gse_cols[None, :]] |= rank < n_skip[:, None]
    my_cols = np.array([cols.index(c) for c in MYCAW_ITEMS])
    gas_cols = np.array([cols.index(c) for c in GAS_ITEMS])
    mycaw_p, gas_p = mycaw["used"][pid], gas["used"][pid]
    missing[:, my_cols] = ~mycaw_p[:, None] | (missing[:, my_cols] & mycaw_p[:, None])
    missing[:, my_cols[1]] |= ~mycaw["two_concerns"][pid]
    unused_goal = np.arange(3)[None, :] >= gas["n_goals"][pid][:, None]
    missing[:, gas_cols] = ~gas_p[:, None] | unused_goal
    return missing


def _responses_table(items, missing, pid, tp, date, n: int) -> pa.Table:
    """``responses.csv`` (wide): rows sorted by participant then time point (participant ids
    follow referral order), blanks where ``missing``."""
    order = np.lexsort((tp, pid))
    items, missing, pid, tp, date = items[order], missing[order], pid[order], tp[order], \
        date[order]
    table = {"participant_id": _ids("SP", pid + 1, _pid_width(n)),
             "timepoint": _dict_array(tp, ["baseline", "followup"]),
             "completed_date": pa.array(date, pa.date32())}
    for j, c in enumerate(ITEM_COLUMNS):
        table[c] = pa.array(items[:, j], mask=missing[:, j])
    return pa.table(table)


def _service_use(rng, people: dict, delta) -> pa.Table:
    """GP consultations in the 6 months before and after referral (negative binomial overall,
    more with lower well-being and age 65+, a modest fall after referral)."""
    n = people["n"]
    mean_before = 4.0 * np.exp(-0.25 * people["eta"]) * np.where(people["age"] >= 3, 1.2, 1.0)
    frailty = rng.gamma(2.0, 0.5, n)  # mean 1: negative binomial counts overall
    before = rng.poisson(mean_before * frailty)
    after = rng.poisson(mean_before * frailty * np.exp(-0.12 - 0.1 * delta))
    return pa.table({
        "participant_id": _ids("SP", np.repeat(np.arange(1, n + 1), 2), _pid_width(n)),
        "service": _dict_array(np.zeros(2 * n, np.int8), ["gp_consultations"]),
        "period": _dict_array(np.tile(np.array([1, 0], np.int8), n), ["after", "before"]),
        "count": pa.array(np.column_stack([before, after]).ravel().astype(np.int16)),
    })


# ============================================================================================
# Qualitative files
# ============================================================================================
def _qualitative_files(rng: np.random.Generator, rng_coding: np.random.Generator, people: dict,
                       site: dict, plan: dict):
    n = people["n"]
    n_w = _pid_width(n)
    sources = []   # dicts for sources.csv
    texts = {}     # source_id -> text
    canonical = {}  # source_id -> list[CodedSpan or (code, start, end)]
    hol = people["holidays"]

    for i, pi in enumerate(plan["idx"]):
        sid = plan["source_id"][i]
        pid = f"SP{pi + 1:0{n_w}d}"
        sname = site["name"][people["site"][pi]]
        lw_no = int(people["lw"][pi])
        lw_name = T.LINK_WORKER_NAMES[lw_no % len(T.LINK_WORKER_NAMES)]
        completer = bool(people["completer"][pi])
        gap = int(rng.integers(100, 121)) if completer else int(rng.integers(95, 170))
        date = str(np.busday_offset(people["referral"][pi] + np.timedelta64(gap, "D"), 0,
                                    roll="forward", holidays=hol))
        themes = [c for j, c in enumerate(plan["codes"]) if plan["voiced"][i, j]]
        reasons = [r for b, r in enumerate(_REASONS) if people["reasons"][pi, b]]
        text, spans = T.interview(rng, participant_id=pid, site=sname, date=date,
                                  link_worker_name=lw_name, reasons=reasons, themes=themes,
                                  completer=completer, identifiers=_IDENTIFIER_PLAN.get(sid),
                                  emoji=(sid == _EMOJI_SOURCE))
        texts[sid], canonical[sid] = text, spans
        sources.append({"source_id": sid, "source_name": f"Interview with {pid}",
                        "source_type": "interview", "participant_id": pid, "site": sname,
                        "date": date, "path": f"sources/{sid}.txt"})

    # Observation notes: three weeks at each site, one or two sets of notes per site.
    k = len(site["name"])
    obs_no = 0
    for s in range(k):
        weeks = [1, 3] if site["size"][s] >= 50 else [2]
        block = np.datetime64("2025-03-03") + np.timedelta64(int(21 * (s % 14)), "D")
        for w in weeks:
            obs_no += 1
            sid = f"OBS{obs_no:02d}"
            day = block + np.timedelta64(7 * (w - 1) + int(rng.integers(0, 5)), "D")
            date = str(np.busday_offset(day, 0, roll="forward", holidays=hol))
            text, spans = T.observation(rng, site=site["name"][s], week=w, date=date,
                                        researcher=f"R{1 + s % 2}")
            texts[sid], canonical[sid] = text, spans
            sources.append({"source_id": sid,
                            "source_name": f"Observation notes, {site['name'][s]}, week {w}",
                            "source_type": "observation", "participant_id": "",
                            "site": site["name"][s], "date": date, "path": f"sources/{sid}.txt"})
    doc_dates = ["2024-11-01", "2025-01-15", "2025-06-12"]
    for j, (key, title, text, spans) in enumerate(T.documents()):
        sid = f"DOC{j + 1:02d}"
        texts[sid], canonical[sid] = text, spans
        sources.append({"source_id": sid, "source_name": title, "source_type": "document",
                        "participant_id": "", "site": site["name"][j % k],
                        "date": doc_dates[j], "path": f"sources/{sid}.txt"})

    segments = _code_segments(rng_coding, plan, texts, canonical)

    files = [(f"qualitative/sources/{sid}.txt", texts[sid].encode("utf-8"))
             for sid in sorted(texts)]
    cols = ["source_id", "source_name", "source_type", "participant_id", "site", "date", "path"]
    src_table = pa.table({c: pa.array([r[c] for r in sources], pa.string()) for c in cols})
    files.append(("qualitative/sources.csv", csv_bytes(src_table)))
    files.append(("qualitative/segments.csv", csv_bytes(segments)))
    files.append(("qualitative/codebook.yaml", _yaml({"codes": T.CODEBOOK})))
    files.append(("qualitative/names.txt", ("\n".join(T.NAMES) + "\n").encode("utf-8")))
    return files


def _code_segments(rng: np.random.Generator, plan: dict, texts: dict, canonical: dict
                   ) -> pa.Table:
    interviews = plan["source_id"]
    m = len(interviews)
    n_double = max(1, int(round(PLANTED["coding"]["double_coded_fraction"] * m)))
    pool = [s for s in interviews if s != _EMOJI_SOURCE]
    double = set(rng.choice(pool, min(len(pool), n_double - (_EMOJI_SOURCE in interviews)),
                            replace=False).tolist())
    if _EMOJI_SOURCE in interviews:
        double.add(_EMOJI_SOURCE)
    rows = []  # (source_id, coder, code, start, end)
    for sid in sorted(texts):
        spans = canonical[sid]
        if not sid.startswith("INT"):
            rows += [(sid, "coder_a", c, a, b) for c, a, b in spans]
            continue
        if sid not in double:
            coder = "coder_a" if rng.random() < 0.5 else "coder_b"
            rows += [(sid, coder, sp.code, sp.start, sp.end) for sp in spans]
            continue
        rows += [(sid, "coder_a", sp.code, sp.start, sp.end) for sp in spans]
        for sp in spans:  # the second coder: mostly the same, realistically imperfect
            u = rng.random()
            if u < 0.70:
                rows.append((sid, "coder_b", sp.code, sp.start, sp.end))
            elif u < 0.86:
                v = rng.random()
                if v < 0.4 and sp.wide_start < sp.start:
                    a, b = sp.wide_start, sp.end
                elif v < 0.7 and sp.wide_end > sp.end:
                    a, b = sp.start, sp.wide_end
                elif len(sp.sentence_ends) > 1:
                    a, b = sp.start, sp.sentence_ends[-2]
                else:
                    a, b = sp.wide_start, sp.wide_end
                rows.append((sid, "coder_b", sp.code, a, b))
            elif u < 0.93 or sp.code not in _CODER_B_SUBSTITUTE:
                continue  # missed
            else:
                rows.append((sid, "coder_b", _CODER_B_SUBSTITUTE[sp.code], sp.start, sp.end))
    rows.sort(key=lambda r: (r[0], r[1], r[3], r[4], r[2]))
    width = max(5, len(str(len(rows))))
    return pa.table({
        "segment_id": pa.array([f"SEG{i + 1:0{width}d}" for i in range(len(rows))]),
        "source_id": pa.array([r[0] for r in rows]),
        "coder": pa.array([r[1] for r in rows]),
        "code_id": pa.array([r[2] for r in rows]),
        "start": pa.array([r[3] for r in rows], pa.int32()),
        "end": pa.array([r[4] for r in rows], pa.int32()),
        "text": pa.array([texts[r[0]][r[3]:r[4]] for r in rows]),
    })


# ============================================================================================
# Manifest and README
# ============================================================================================
def _yaml(doc) -> bytes:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100,
                          default_flow_style=False).encode("utf-8")


def _manifest(site: dict, qualitative: bool, n: int, seed: int) -> bytes:
    files = {
        "participants": "participants.csv",
        "responses": {"path": "responses.csv", "layout": "wide"},
        "service_use": {"path": "service_use.csv", "window_months": 6},
    }
    if qualitative:
        files["qualitative"] = {"codebook": "qualitative/codebook.yaml",
                                "sources": "qualitative/sources.csv",
                                "segments": "qualitative/segments.csv",
                                "names": "qualitative/names.txt"}
    doc = {
        "id": "demo",
        "name": "Synthetic link worker evaluation",
        "description": (f"Synthetic data made by spanalysis.demo (seed {seed}, {n} participants, "
                        f"{len(site['name'])} sites). No real people. Relationships planted "
                        "for testing are described in the spanalysis.demo module."),
        "timepoints": [{"id": "baseline"}, {"id": "followup", "target_days": 90}],
        "instruments": ["wemwbs", "swemwbs", "gse", "ons4", "ucla3", "ons_lonely", "mycaw",
                        "gas"],
        "sites": list(site["name"]),
        "privacy": {"min_cell_size": 5},
        "files": files,
    }
    return ("# Synthetic demo study written by spanalysis.demo.generate; do not edit by hand.\n"
            .encode("utf-8") + _yaml(doc))


def _readme(n: int, k: int, seed: int, qualitative: bool) -> str:
    return "\n".join([
        README_MARKER, "",
        "Everything in this folder is synthetic: the people, sites, answers and interview",
        "transcripts are invented by `spanalysis.demo.generate` to exercise and demonstrate",
        "spanalysis. Identifiers are pseudonymous; the phone number, NHS number (999 test",
        "range), email and postcode in a few transcripts are planted for redaction tests.", "",
        f"Made with: participants={n}, sites={k}, seed={seed}, "
        f"qualitative={'yes' if qualitative else 'no'}.",
        "Regenerate with `spanalysis demo OUT` (same arguments give identical files).", "",
        "The planted relationships (site effects, missing-at-random attrition, themes linked",
        "to measured change) are documented in the `spanalysis.demo` module docstring and",
        "available as `spanalysis.demo.PLANTED`.", "",
    ])
