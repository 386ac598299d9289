"""A study's qualitative material as one object: codebook, sources, coded segments and the
names to redact. The study loader builds it (:mod:`spanalysis.study`); the qualitative tools
take it, or any object with a ``qualitative`` attribute holding it."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from spanalysis.errors import InputError

__all__ = ["Qualitative", "require_qualitative", "from_refi"]


@dataclass
class Qualitative:
    """A study's qualitative material (read by :mod:`spanalysis.qual`).

    Attributes
    ----------
    codebook : one row per code (``id, name, parent, definition, ..., sensitive, colour``).
    sources : one row per source (``source_id, source_name, source_type, participant_id,
        site, date, path, text``).
    segments : one row per coded segment (``segment_id, source_id, coder, code_id, start,
        end, text``), offsets in characters of ``sources.text``.
    names : personal names to redact from any quote a report shows.
    """

    codebook: pd.DataFrame
    sources: pd.DataFrame
    segments: pd.DataFrame
    names: list[str] = field(default_factory=list)

    @property
    def interviewed(self) -> set[str]:
        s = self.sources
        return set(s.loc[(s["source_type"] == "interview") & s["participant_id"].notna(),
                         "participant_id"])

    @property
    def coders(self) -> list[str]:
        return sorted(self.segments["coder"].dropna().unique())

    def segments_by(self, coder: str | None) -> pd.DataFrame:
        """The coded segments of one coder (all segments when ``coder`` is None)."""
        if coder is None:
            return self.segments
        seg = self.segments[self.segments["coder"] == coder]
        if seg.empty:
            raise InputError("no segments by this coder", column="coder", value=coder,
                             expected="one of " + ", ".join(self.coders))
        return seg

    def for_site(self, site: str) -> "Qualitative":
        keep = self.sources["site"] == site
        ids = set(self.sources.loc[keep, "source_id"])
        return Qualitative(self.codebook, self.sources[keep].reset_index(drop=True),
                           self.segments[self.segments["source_id"].isin(ids)]
                           .reset_index(drop=True), list(self.names))


def require_qualitative(study) -> Qualitative:
    """The qualitative material of a :class:`Study` (or a :class:`Qualitative` itself), or a
    clear error when the study declares none."""
    qual = getattr(study, "qualitative", study)
    if qual is None or not hasattr(qual, "segments"):
        raise InputError("the study has no qualitative material", file="study.yaml",
                         column="files", expected="files: qualitative: (codebook, sources, "
                                                  "segments) in study.yaml")
    return qual


def from_refi(project: dict, participants) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Map a REFI-QDA project onto the study's tables: a source whose case is named after a
    participant is that participant's interview; the site comes from the participants file."""
    sources = project["sources"].copy()
    segments = project["segments"].copy()
    case_of = (segments.dropna(subset=["case"]).drop_duplicates("source_id")
               .set_index("source_id")["case"]) if "case" in segments else pd.Series(dtype=object)
    sources["participant_id"] = sources["source_id"].map(case_of)
    known = set() if participants is None else set(participants["participant_id"])
    sources.loc[~sources["participant_id"].isin(known), "participant_id"] = None
    sources["source_type"] = np.where(sources["participant_id"].notna(), "interview", "document")
    site = {} if participants is None else participants.set_index("participant_id")["site"]
    sources["site"] = sources["participant_id"].map(site)
    for col in ("date", "path"):
        sources[col] = None
    return project["codebook"], sources, segments[["segment_id", "source_id", "coder", "code_id",
                                                   "start", "end", "text"]]
