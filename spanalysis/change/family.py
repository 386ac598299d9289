"""The Holm family, defined once: which tests are adjusted together and how each counts.

Holm's step-down adjustment (Holm 1979) protects the family-wise error rate of a set of tests,
so the set has to be the tests planned, each outcome once:

* **Distinct outcomes.** Scales scored from the same items (a total and its item mean, a raw
  score and its converted score) measure one outcome. An instrument scored from another
  instrument's items (``derived_from``: SWEMWBS from the WEMWBS items) measures that
  instrument's outcome. Each outcome counts once in the family; every scale of an outcome is
  adjusted as that outcome's member (its own p in the outcome's place).
* **Every planned test.** A test whose result is withheld because a group is small still
  counts: its p-value is used for the adjustment and then withheld with the rest.

References
----------
Holm S (1979). A simple sequentially rejective multiple test procedure. Scand J Stat 6:65-70.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from spanalysis.change.effects import p_adjust_holm

__all__ = ["FAMILY_RULE", "scale_outcomes", "holm_by_outcome", "family_size"]

#: the rule in words, for the reports
FAMILY_RULE = ("Holm's adjustment counts each planned test once per distinct outcome: scales "
               "scored from the same items (a total and its mean, a raw and a converted score) "
               "are one outcome, and an instrument scored from another's items (SWEMWBS from "
               "the WEMWBS items) is that instrument's outcome; tests withheld for small groups "
               "are counted too.")


def scale_outcomes(instruments: Mapping, keys: Sequence[tuple[str, str]]) -> list[tuple]:
    """The outcome each ``(instrument, scale)`` of ``keys`` measures, as an ``(instrument,
    scale)`` label: the scale itself, the first scale of its instrument with the same items
    (the primary one first), or, for an instrument derived from another's items, the primary
    scale of the instrument those items belong to.

    >>> from spanalysis import instruments as ins
    >>> reg = ins.registry(["wemwbs", "swemwbs", "gse"])
    >>> scale_outcomes(reg, [("wemwbs", "total"), ("swemwbs", "metric"), ("swemwbs", "raw")])
    [('wemwbs', 'total'), ('wemwbs', 'total'), ('wemwbs', 'total')]
    >>> scale_outcomes(reg, [("gse", "total"), ("gse", "mean")])
    [('gse', 'total'), ('gse', 'total')]
    """
    owner = {item: i for i, inst in instruments.items() for item in inst.item_ids}
    out = []
    for inst_id, scale_id in keys:
        inst = instruments.get(inst_id)
        if inst is None:
            out.append((inst_id, scale_id))
            continue
        sources = set((inst.derived_from or {}).values())
        hosts = {owner.get(c) for c in sources} - {inst_id}
        if sources and len(hosts) == 1 and None not in hosts:
            host = instruments[hosts.pop()]
            out.append((host.id, host.primary_scale.id))
            continue
        items = set(inst.scale(scale_id).items)
        same = [s.id for s in sorted(inst.scales, key=lambda s: not s.primary)
                if set(s.items) == items]
        out.append((inst_id, same[0]))
    return out


def holm_by_outcome(p, outcomes: Sequence, keys: Sequence | None = None) -> np.ndarray:
    """Holm-adjusted p-values with each outcome counted once.

    ``p``, ``outcomes`` (and ``keys``, each row's own label) are parallel. The outcome's own
    scale (the row whose key is the outcome, else the outcome's first row) stands for it in the
    family; another scale of the same outcome is adjusted in that place with its own p-value.
    NaN p-values (no test) count in no family.

    >>> holm_by_outcome([0.01, 0.04, 0.02], ["a", "b", "a"]).round(3).tolist()
    [0.02, 0.04, 0.04]
    """
    p = np.asarray(p, dtype=float)
    labels = list(outcomes)
    stand = _standing(labels, labels if keys is None else list(keys))
    members = list(stand.values())
    place = {label: members.index(i) for label, i in stand.items()}
    out = np.full(p.shape, np.nan)
    out[members] = p_adjust_holm(p[members])
    for i, label in enumerate(labels):
        if i == stand[label] or np.isnan(p[i]):
            continue
        family = p[members].copy()
        family[place[label]] = p[i]
        out[i] = p_adjust_holm(family)[place[label]]
    return out


def family_size(p, outcomes: Sequence, keys: Sequence | None = None) -> int:
    """How many tests Holm's adjustment counts: the distinct outcomes with a test."""
    p = np.asarray(p, dtype=float)
    labels = list(outcomes)
    stand = _standing(labels, labels if keys is None else list(keys))
    return int(sum(not np.isnan(p[i]) for i in stand.values()))


def _standing(labels: list, keys: list) -> dict:
    """Outcome label -> the row standing for it: its own scale, else its first row."""
    stand = {}
    for i, label in enumerate(labels):
        if label not in stand or (keys[i] == label and keys[stand[label]] != label):
            stand[label] = i
    return stand
