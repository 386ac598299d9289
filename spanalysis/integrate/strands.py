"""The two strands, per participant: the change measured by the questionnaires and the
themes voiced in interview, with the small helpers every joint display shares.

* **Interviewed**: a participant with at least one interview source. Only interviews count as
  a participant's voice (observation notes and documents do not). A participant who was not
  interviewed has *missing* themes, never "did not voice".
* **Voiced**: at least one coded segment of the theme in the participant's interviews (any
  coder unless ``coder=`` is given; :func:`spanalysis.qual.participant_code_matrix`).
* **Completer** (for a scale or item): a score (answer) at both the first (baseline) and the
  last time point of the study. Change is post minus pre.
* **Change group**: the reliable-change category on a scale (Jacobson & Truax 1991, through
  :func:`spanalysis.change.reliable_change`), or :data:`NOT_CLASSIFIED`.

References
----------
Jacobson NS, Truax P (1991). Clinical significance: a statistical approach to defining
    meaningful change in psychotherapy research. J Consult Clin Psychol 59:12-19.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from spanalysis import change
from spanalysis.change.outcomes import primary_outcome
from spanalysis.errors import InputError
from spanalysis.integrate.crosswalk import _labels, _qualitative  # noqa: F401 - shared
from spanalysis.qual import participant_code_matrix

__all__ = ["CHANGE_GROUPS", "NOT_CLASSIFIED", "BENEFIT_PARENT", "leaf_themes", "benefit_themes"]

#: Reliable-change categories of :func:`spanalysis.change.reliable_change`, best first.
CHANGE_GROUPS = ("reliable improvement", "no reliable change", "reliable deterioration")
#: Change group of an interviewed participant without a category (no follow-up score, or no
#: reliability for the scale).
NOT_CLASSIFIED = "not classified"
#: The codebook code whose descendants are the benefit themes (seed document).
BENEFIT_PARENT = "benefits"

_KEYS = ["instrument", "scale"]


# ============================================================================================
# small helpers
# ============================================================================================
def _min_cell(study, min_cell_size) -> int:
    """The minimum cell size: the one given, else the study's ``privacy.min_cell_size``."""
    return change.check_min_cell(study.min_cell_size if min_cell_size is None
                                  else min_cell_size)


def leaf_themes(study) -> list[str]:
    """Codebook codes that have no child code, in codebook order.

    These are the themes the displays use by default: a parent such as ``benefits`` only
    groups its children and is not coded directly.

    Examples
    --------
    >>> from spanalysis.study import load_study
    >>> leaf_themes(load_study("data/demo"))[:3]
    ['space_to_think', 'hope', 'valued_not_alone']
    """
    cb = _qualitative(study).codebook
    parents = set(cb["parent"].dropna().astype(str))
    return [c for c in cb["id"].astype(str) if c not in parents]


def benefit_themes(study, parent: str | None = None) -> list[str]:
    """The leaf codes below ``parent`` (default ``'benefits'``) in codebook order.

    A codebook as a CAQDAS program exports it, or one written without a hierarchy, has no
    ``benefits`` parent: with the default, every leaf code is then taken as a possible
    benefit (the reports say which themes they show).

    Raises
    ------
    InputError
        if ``parent`` is given and the codebook has no such code (pass ``themes=[...]``
        explicitly instead).

    Examples
    --------
    >>> from spanalysis.study import load_study
    >>> benefit_themes(load_study("data/demo"))  # doctest: +NORMALIZE_WHITESPACE
    ['space_to_think', 'hope', 'valued_not_alone', 'social_connection', 'family_dynamics',
     'trust_services']
    """
    cb = _qualitative(study).codebook
    ids = cb["id"].astype(str).tolist()
    if parent is None:
        parent = BENEFIT_PARENT
        if parent not in ids:
            return leaf_themes(study)
    if parent not in ids:
        raise InputError("the codebook has no parent code for the benefit themes",
                         file="codebook", column="id", value=parent,
                         expected="a code with this id whose children are the benefits, or "
                                  "themes=[...] given explicitly")
    parent_of = dict(zip(ids, cb["parent"].astype(object).where(cb["parent"].notna(), None)))
    below = {parent}
    changed = True
    while changed:  # descendants at any depth (codebooks are small)
        new = {c for c, p in parent_of.items() if p in below} - below
        below |= new
        changed = bool(new)
    leaves = set(leaf_themes(study))
    return [c for c in ids if c in below and c != parent and c in leaves]


def _check_themes(study, themes, default) -> list[str]:
    """``themes`` as a list of known code ids without repeats (``default`` when None)."""
    if themes is None:
        return list(default)
    if isinstance(themes, str):
        themes = [themes]
    known = set(_qualitative(study).codebook["id"].astype(str))
    themes = [str(t) for t in themes]
    for t in themes:
        if t not in known:
            raise InputError("unknown theme", file="codebook", column="id", value=t,
                             expected="a code id from the study's codebook")
    return list(dict.fromkeys(themes))


def scale_key(study, scale) -> tuple[str, str]:
    """('wemwbs', 'total') from a tuple, 'wemwbs/total', 'wemwbs.total' or 'wemwbs'; None is
    the study's primary outcome (``primary_outcome`` in study.yaml, else WEMWBS total, ...:
    :func:`spanalysis.change.outcomes.primary_outcome`)."""
    if scale is None:
        scale = primary_outcome(study)
    info = study.scale_info
    pairs = list(zip(info["instrument"].astype(str), info["scale"].astype(str)))
    if isinstance(scale, (tuple, list)) and len(scale) == 2:
        key = (str(scale[0]), str(scale[1]))
    elif isinstance(scale, str):
        for sep in ("/", "."):
            if sep in scale:
                key = tuple(scale.split(sep, 1))
                break
        else:
            inst = study.instruments.get(scale)
            key = (scale, inst.primary_scale.id) if inst is not None else (scale, "")
    else:
        key = (str(scale), "")
    if key not in pairs:
        raise InputError("unknown instrument scale", column="primary", value=scale,
                         expected="one of " + ", ".join(f"{i}/{s}" for i, s in pairs))
    return key


def _default_scales(study) -> list[tuple[str, str]]:
    """The primary scale of each questionnaire (service-use counts are not compared with
    t-tests: counts are skewed, see measures reference)."""
    return [(i, inst.primary_scale.id) for i, inst in study.instruments.items()
            if i != "service_use"]


def _pre_post(study) -> tuple[str, str]:
    """The first and the last time point of the study."""
    tps = study.timepoints
    if len(tps) < 2:
        raise InputError("change needs at least two time points", file="study.yaml",
                         column="timepoints", value=", ".join(tps),
                         expected="a baseline and a later time point")
    return tps[0], tps[-1]


def _change_long(study, keys=None) -> pd.DataFrame:
    """Complete pairs: ``participant_id, instrument, scale, pre, post, change``."""
    pre, post = _pre_post(study)
    s = study.scores
    s = s[s["timepoint"].astype(str).isin([pre, post]) & s["score"].notna()]
    s = s.assign(participant_id=s["participant_id"].astype(str),
                 instrument=s["instrument"].astype(str), scale=s["scale"].astype(str),
                 timepoint=s["timepoint"].astype(str))
    if keys is not None:
        want = pd.MultiIndex.from_tuples(list(keys), names=_KEYS)
        s = s[pd.MultiIndex.from_frame(s[_KEYS]).isin(want)]
    wide = s.pivot_table(index=["participant_id"] + _KEYS, columns="timepoint",
                         values="score", aggfunc="first").reindex(columns=[pre, post])
    wide.columns = ["pre", "post"]
    wide = wide.dropna().reset_index()
    wide["change"] = wide["post"] - wide["pre"]
    return wide


def _categories(study, keys, sd, reliability) -> pd.DataFrame:
    """Reliable-change category per participant and scale for scales that have a
    reliability (published or given): ``participant_id, instrument, scale, category``."""
    info = study.scale_info.copy()
    info["instrument"] = info["instrument"].astype(str)
    info["scale"] = info["scale"].astype(str)
    want = pd.MultiIndex.from_tuples(list(keys), names=_KEYS)
    info = info[pd.MultiIndex.from_frame(info[_KEYS]).isin(want)]
    if isinstance(reliability, str):  # 'published': only scales with a published value
        info = info[info["reliability"].notna()]
    elif isinstance(reliability, Mapping):
        info = info[[k in reliability for k in zip(info["instrument"], info["scale"])]]
    empty = pd.DataFrame(columns=["participant_id"] + _KEYS + ["category"])
    if info.empty:
        return empty
    s = study.scores
    s = s[pd.MultiIndex.from_frame(s[_KEYS].astype(str)).isin(
        pd.MultiIndex.from_frame(info[_KEYS]))]
    if s.empty:
        return empty
    rc = change.reliable_change(s, info.reset_index(drop=True), sd=sd,
                                reliability=reliability, timepoints=study.timepoints)
    return rc[["participant_id"] + _KEYS + ["category"]]


def _voiced(study, themes, coder) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(0/1 matrix, count matrix) of interviewed participants x themes."""
    q = _qualitative(study)
    counts = participant_code_matrix(q.segments, q.sources, codes=list(themes), coder=coder)
    counts.index = counts.index.astype(str)
    return (counts > 0).astype(int), counts


def _direction(study, key) -> str:
    """'higher' or 'lower': which scores are better on the scale ``key``."""
    info = study.scale_info
    row = info[(info["instrument"].astype(str) == key[0]) & (info["scale"].astype(str) == key[1])]
    return str(row["direction"].iloc[0])


def _sign(direction) -> np.ndarray:
    """-1 where lower is better, else +1 (so that positive change means improvement)."""
    return np.where(np.asarray(direction, dtype=object) == "lower", -1.0, 1.0)


def _site_of(study) -> pd.Series:
    """Each participant's site, indexed by participant id."""
    p = study.participants
    return pd.Series(p["site"].astype(str).to_numpy(), index=p["participant_id"].astype(str))

