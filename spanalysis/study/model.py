"""The :class:`Study` object: a validated study's tables and the shortcuts every later step
reads. Build it with :func:`spanalysis.study.load_study`."""
from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd

from spanalysis.errors import InputError, Issue
from spanalysis.qual.material import Qualitative
from spanalysis.study.manifest import Manifest

__all__ = ["Study"]


@dataclass(repr=False)
class Study:
    """A validated study. Build it with :func:`load_study`.

    Attributes
    ----------
    manifest : the parsed ``study.yaml``.
    participants : DataFrame, one row per participant.
    responses : DataFrame, wide layout: ``participant_id, timepoint, completed_date`` and one
        float column per questionnaire item.
    service_use : DataFrame or None: ``participant_id, service, period, count``.
    instruments : dict of instrument id -> :class:`spanalysis.instruments.Instrument`.
    issues : warnings found while loading (errors stop loading).
    qualitative : the coded qualitative material, or None.
    partial_responses : Qualtrics responses not finished (``Finished = 0``) that were kept (0
        for other files); a warning in ``issues`` says so too.
    """

    manifest: Manifest
    participants: pd.DataFrame
    responses: pd.DataFrame
    service_use: pd.DataFrame | None
    instruments: dict
    issues: list[Issue] = field(default_factory=list)
    qualitative: Qualitative | None = None
    partial_responses: int = 0

    # -- how a notebook shows it ------------------------------------------------------
    def summary(self) -> dict:
        """What the study holds, in a few numbers: sites, time points, instruments,
        participants with a questionnaire at each time point, qualitative sources."""
        answered = self.responses.dropna(how="all", subset=self._item_columns())
        at = answered.groupby("timepoint", observed=False)["participant_id"].nunique()
        sources = (None if self.qualitative is None
                   else self.qualitative.sources["source_type"].value_counts().to_dict())
        return {"name": self.name, "sites": self.sites, "timepoints": self.timepoints,
                "instruments": list(self.instruments), "participants": len(self.participants),
                "n_at_timepoint": {str(t): int(at.get(t, 0)) for t in self.timepoints},
                "service_use": self.service_use is not None,
                "qualitative_sources": sources}

    def _item_columns(self) -> list[str]:
        return [c for c in self.responses.columns
                if c not in ("participant_id", "timepoint", "completed_date")]

    def __repr__(self) -> str:
        s = self.summary()
        n_at = ", ".join(f"{t} {n}" for t, n in s["n_at_timepoint"].items())
        return (f"<Study {s['name']!r}: {s['participants']} participants, "
                f"{len(s['sites'])} site(s), time points ({n_at}), "
                f"instruments {', '.join(s['instruments'])}"
                f"{'' if s['qualitative_sources'] is None else ', qualitative material'}>")

    def _repr_html_(self) -> str:
        s = self.summary()
        esc = html.escape
        rows = [("Sites", f"{len(s['sites'])}: " + ", ".join(s["sites"])),
                ("Participants", str(s["participants"])),
                ("Questionnaires", "; ".join(f"{t}: {n} people"
                                             for t, n in s["n_at_timepoint"].items())),
                ("Instruments", ", ".join(s["instruments"])),
                ("Service use", "yes" if s["service_use"] else "no"),
                ("Qualitative sources", "none" if s["qualitative_sources"] is None else
                 ", ".join(f"{n} {kind}" for kind, n in s["qualitative_sources"].items()))]
        body = "".join(f"<tr><th scope='row' style='text-align:left'>{esc(k)}</th>"
                       f"<td style='text-align:left'>{esc(v)}</td></tr>" for k, v in rows)
        return (f"<table><caption style='text-align:left'><strong>Study: {esc(s['name'])}"
                f"</strong></caption>{body}</table>")

    # -- descriptive shortcuts -------------------------------------------------------
    @property
    def path(self) -> Path:
        return self.manifest.root

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def sites(self) -> list[str]:
        return list(self.manifest.sites)

    @property
    def timepoints(self) -> list[str]:
        return self.manifest.timepoint_ids

    def timepoint_label(self, timepoint: str) -> str:
        """The label study.yaml gives a time point (``label:``), for sentences; its id when it
        has none or is not one of the study's."""
        for t in self.manifest.timepoints:
            if t.id == timepoint:
                return t.label
        return str(timepoint)

    @property
    def min_cell_size(self) -> int:
        return self.manifest.min_cell_size

    @property
    def rounding(self) -> int | None:
        """``privacy.rounding``: counts shown are rounded to this multiple (None: as they are)."""
        return self.manifest.rounding

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.level == "warning"]

    def input_files(self) -> list[tuple[str, Path, str]]:
        """``(name as in study.yaml, path, SHA-256)`` of every declared input file."""
        files = [("study.yaml", self.manifest.root / "study.yaml")]
        files += [(f.name, f.path) for f in self.manifest.files()]
        files += [(str(p.relative_to(self.manifest.root)) if p.is_relative_to(self.manifest.root)
                   else str(p), p) for p in self.manifest.custom_instruments]
        return [(name, path, _sha256(path)) for name, path in files if path.is_file()]

    # -- derived tables: one source of truth for every notebook and report -----------
    @cached_property
    def scores(self) -> pd.DataFrame:
        """Tidy scores for every instrument (and service use), see
        :func:`spanalysis.instruments.score_study`. Made from ``responses`` and
        ``service_use`` as they are when first asked for (an analyst may edit or filter them
        before), then kept."""
        from spanalysis import instruments as ins

        return ins.score_study(self.responses, self.instruments, self.service_use,
                               self.timepoints)

    @cached_property
    def scale_info(self) -> pd.DataFrame:
        """One row per scored scale: direction, reliability, MID, norms, and their sources
        (service-use counts included when the study has them)."""
        from spanalysis import instruments as ins

        chosen = dict(self.instruments)
        if self.service_use is not None:
            chosen["service_use"] = ins.load("service_use")
        table = ins.scale_table(chosen)
        if self.service_use is not None:
            # services the definition does not name are counts too: lower is better
            known = set(table.loc[table["instrument"] == "service_use", "scale"])
            extra = [sv for sv in self._services() if sv not in known]
            if extra:
                rows = pd.DataFrame({"instrument": "service_use", "scale": extra,
                                     "scale_name": [sv.replace("_", " ") for sv in extra],
                                     "direction": "lower"})
                table = pd.concat([table, rows], ignore_index=True)
        return table

    def _services(self) -> list[str]:
        """The services of ``service_use``, in order of first appearance."""
        return [str(v) for v in self.service_use["service"].dropna().unique()]

    @cached_property
    def item_info(self) -> pd.DataFrame:
        from spanalysis import instruments as ins

        return ins.item_table(self.instruments)

    def for_site(self, site: str | None) -> "Study":
        """The same study restricted to one site (``None`` or ``"all"``: the whole study).

        Asking again for the same site gives the same object, so that its derived tables
        (``scores``, ...) are made once for every caller of a report; a study whose tables
        were replaced (``study.responses = ...``) gets a new one.
        """
        if site in (None, "all"):
            return self
        if site not in self.sites:
            raise InputError("unknown site", value=site,
                             expected="one of " + ", ".join(self.sites) + " or 'all'")
        tables = (self.manifest, self.participants, self.responses, self.service_use,
                  self.instruments, self.qualitative)
        kept = self.__dict__.setdefault("_site_studies", {})
        if site in kept and all(a is b for a, b in zip(kept[site][0], tables)):
            return kept[site][1]
        kept[site] = (tables, self._restricted(site))
        return kept[site][1]

    def _restricted(self, site: str) -> "Study":
        keep = self.participants["site"] == site
        ids = set(self.participants.loc[keep, "participant_id"])

        def only(frame):
            return frame[frame["participant_id"].isin(ids)].reset_index(drop=True)

        return Study(self.manifest, self.participants[keep].reset_index(drop=True),
                     only(self.responses),
                     None if self.service_use is None else only(self.service_use),
                     self.instruments, list(self.issues),
                     None if self.qualitative is None else self.qualitative.for_site(site))

    @property
    def crosswalk_path(self) -> Path | None:
        """The study's themes-to-items crosswalk, if ``study.yaml`` declares one."""
        spec = self.manifest.qualitative.get("crosswalk")
        return spec.path if spec else None

    @property
    def meta_inferences_path(self) -> Path | None:
        """The analysts' meta-inferences file, if ``study.yaml`` declares one."""
        spec = self.manifest.qualitative.get("meta_inferences")
        return spec.path if spec else None

    @property
    def interviewed(self) -> set[str]:
        """Participants with at least one interview among the qualitative sources."""
        if self.qualitative is None:
            return set()
        return self.qualitative.interviewed


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
