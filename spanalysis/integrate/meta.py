"""The side-by-side joint display and the analyst's meta-inferences.

Per theme: the quantitative result (one sentence per covering item, and the primary scale),
the qualitative finding with exemplar quotes, the fit (:func:`classify_fit`) and the analyst's
meta-inference, read from an editable YAML file that :func:`write_meta_inference_template`
starts. A meta-inference is never invented: where none is written the display says
:data:`NOT_WRITTEN`. Reading that file and checking both files the analyst edits (crosswalk
and meta-inferences) against the loaded study are in :mod:`spanalysis.integrate.files`.

References
----------
Fetters MD, Curry LA, Creswell JW (2013). Health Serv Res 48:2134-2156 (meta-inferences, fit).
Guetterman TC, Fetters MD, Creswell JW (2015). Ann Fam Med 13:554-561 (side-by-side display).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from spanalysis.errors import InputError
from spanalysis.integrate.by_theme import statistics_by_themes
from spanalysis.integrate.coverage import (
    _pct,
    _theme_list,
    classify_fit,
    measurement_coverage,
)
from spanalysis.integrate.crosswalk import read_crosswalk
from spanalysis.integrate.files import read_meta_inferences
from spanalysis.integrate.quotes import _redacted_quotes, _theme_segments
from spanalysis.integrate.strands import _min_cell, _qualitative, scale_key
from spanalysis.io import atomic_write
from spanalysis.privacy.disclosure import round_counts

__all__ = ["NOT_WRITTEN", "side_by_side", "write_meta_inference_template"]

#: Shown wherever the analyst has not (yet) written a meta-inference. Never invented.
NOT_WRITTEN = "not yet written by the analyst"


def _fmt(x: float, decimals: int = 1, signed: bool = False) -> str:
    """A number for a sentence: ``n/a`` when missing, and never "-0.0"."""
    if x is None or not np.isfinite(x):
        return "n/a"
    text = f"{x:+.{decimals}f}" if signed else f"{x:.{decimals}f}"
    return "0.0" if text in ("-0.0", "+0.0") and decimals == 1 else text



def _too_few(k: int) -> str:
    # no group size is printed: a count below k must not reach a report through a sentence
    return f"too few people to compare (a group has fewer than {k})."


def _people(n, rounding: int | None) -> int:
    """A count of people as published: rounded under ``privacy.rounding``."""
    return int(round_counts([int(n)], rounding)[0]) if rounding else int(n)


def _item_sentence(r, k: int, rounding: int | None = None) -> str:
    """One sentence on a covering item's comparison (a row of measurement_coverage)."""
    name = f"{r['item']} ({r['stem']})"
    if bool(r["small_group"]) or not np.isfinite(r["improvement_difference"]):
        return f"{name}: {_too_few(k)}"
    lvl = f"{round(100 * r['confidence'])}% CI"
    diff = r["improvement_difference"]
    verb = "more" if diff >= 0 else "less"
    adjusted = ""
    if r.get("outcome_role") == "secondary" and np.isfinite(r.get("improvement_ci_low_adj",
                                                                    np.nan)):
        # the interval the fit is judged on (issue 23: 7): Bonferroni over the secondaries
        adjusted = (f"; adjusted {_pct(r['fit_level'])} CI "
                    f"{_fmt(r['improvement_ci_low_adj'], 2, True)} to "
                    f"{_fmt(r['improvement_ci_high_adj'], 2, True)}")
    return (f"{name}: voicers improved {_fmt(abs(diff), 2)} points {verb} "
            f"({lvl} {_fmt(r['improvement_ci_low'], 2, True)} to "
            f"{_fmt(r['improvement_ci_high'], 2, True)}{adjusted}; n = "
            f"{_people(r['n_voiced_completers'], rounding)} vs "
            f"{_people(r['n_not_voiced_completers'], rounding)}).")


def side_by_side(study, meta_inferences_path=None, crosswalk=None, themes=None,
                 primary=None, coder: str | None = None, quotes: int = 2,
                 confidence: float = 0.95, min_cell_size: int | None = None) -> pd.DataFrame:
    """Side-by-side joint display: per theme, the quantitative result, the qualitative
    finding with exemplar quotes, the fit, and the analyst's meta-inference.

    Parameters
    ----------
    study : Study
    meta_inferences_path : str or Path, optional
        The analyst's YAML file (:func:`write_meta_inference_template` makes one). Missing:
        every meta-inference reads :data:`NOT_WRITTEN`.
    crosswalk : str or Path, optional
        As for :func:`measurement_coverage`.
    themes : list of str, optional
        Default: the benefit themes and the crosswalk's themes.
    primary : scale
        The overall scale also summarised per theme (default: the study's primary outcome).
    coder : str, optional
    quotes : int
        Up to this many exemplar quotes per theme (default 2), one per participant.
    confidence, min_cell_size
        As for :func:`statistics_by_themes`.

    Returns
    -------
    DataFrame
        One row per theme: ``theme, theme_label, n_interviewed, n_voiced, pct_voiced,
        qualitative_finding`` (text), ``quotes`` (list of dicts ``text`` (redacted),
        ``participant_id, site, theme, segment_id, sensitive``), ``n_covering_items``,
        ``quantitative_result`` (text, one sentence per covering item),
        ``primary_result`` (text: the primary scale, voicers against non-voicers),
        ``fit, fit_rule, fit_interval`` (:func:`classify_fit` on the outcome hierarchy's
        adjusted intervals; ``fit_interval`` says which), ``meta_inference`` and
        ``meta_inference_written`` (bool).

    Examples
    --------
    >>> from spanalysis.study import load_study
    >>> sbs = side_by_side(load_study("data/demo"))
    >>> sbs.set_index("theme").loc["trust_services", ["fit", "meta_inference"]].tolist()
    ['expansion', 'not yet written by the analyst']
    """
    key = scale_key(study, primary)
    k = _min_cell(study, min_cell_size)
    cw = read_crosswalk(study, crosswalk)
    themes = _theme_list(study, themes, cw)
    cov = measurement_coverage(study, crosswalk, themes=themes, coder=coder,
                               confidence=confidence, min_cell_size=min_cell_size)
    fits = classify_fit(cov).set_index("theme")
    prim = statistics_by_themes(study, scales=[key], themes=themes, coder=coder,
                                confidence=confidence,
                                min_cell_size=min_cell_size).set_index("theme")
    quote_table = _redacted_quotes(study, _theme_segments(study, themes, coder), ["theme"],
                                   quotes)
    quote_of = dict(zip(quote_table["theme"], quote_table["quotes"]))
    meta = read_meta_inferences(meta_inferences_path,
                                _qualitative(study).codebook["id"].astype(str))
    rows = []
    for t in themes:  # one row per theme: a handful of rows, text assembly only
        c = cov[cov["theme"] == t]
        p = prim.loc[t]
        measured = c[c["coverage"] == "measured"]
        if measured.empty:
            quant = "Not measured: " + str(c["note"].iloc[0]) + "."
        else:
            quant = " ".join(_item_sentence(r, k, study.rounding)
                             for _, r in measured.iterrows())
        if bool(p["small_group"]) or not np.isfinite(p["improvement_difference"]):
            prim_text = f"{p['scale_name']}: {_too_few(k)}"
        else:
            d = p["improvement_difference"]
            prim_text = (f"{p['scale_name']}: voicers improved {_fmt(abs(d))} points "
                         f"{'more' if d >= 0 else 'less'} ({round(100 * confidence)}% CI "
                         f"{_fmt(p['improvement_ci_low'], 1, True)} to "
                         f"{_fmt(p['improvement_ci_high'], 1, True)}; n = "
                         f"{_people(p['n_voiced_completers'], study.rounding)} vs "
                         f"{_people(p['n_not_voiced_completers'], study.rounding)}).")
        n_int, n_v = int(p["n_interviewed"]), int(p["n_voiced"])
        pct = 100 * n_v / n_int if n_int else math.nan
        # as published: rounded under privacy.rounding, the percentage of the rounded counts
        shown_int, shown_v = _people(n_int, study.rounding), _people(n_v, study.rounding)
        shown_pct = 100 * shown_v / shown_int if shown_int else math.nan
        finding = (f"Voiced by {shown_v} of {shown_int} interviewed participants "
                   f"({_fmt(shown_pct, 0)}%)." if n_v == 0 or n_v >= k else
                   f"Voiced by fewer than {k} of {shown_int} interviewed participants.")
        rows.append({
            "theme": t, "theme_label": c["theme_label"].iloc[0], "n_interviewed": n_int,
            "n_voiced": n_v, "pct_voiced": pct,
            "qualitative_finding": finding,
            "quotes": quote_of.get(t, []), "n_covering_items": len(measured),
            "quantitative_result": quant, "primary_result": prim_text,
            "fit": fits.at[t, "fit"], "fit_rule": fits.at[t, "fit_rule"],
            "fit_interval": fits.at[t, "fit_interval"],
            "meta_inference": meta.get(t, NOT_WRITTEN), "meta_inference_written": t in meta})
    return pd.DataFrame(rows)


def write_meta_inference_template(study, path, crosswalk=None, themes=None,
                                  overwrite: bool = False, **side_by_side_options) -> Path:
    """Write an editable ``meta_inferences.yaml`` with one empty entry per theme.

    Each entry carries, as YAML comments, the theme's qualitative finding, quantitative
    result and fit so the analyst can write the meta-inference beside them. The texts are
    left empty: nothing is written on the analyst's behalf.

    Parameters
    ----------
    study : Study
    path : str or Path
        Where to write. An existing file is never replaced unless ``overwrite=True`` (it holds
        the analyst's work).
    crosswalk, themes
        As for :func:`side_by_side`.
    overwrite : bool
    **side_by_side_options
        Passed to :func:`side_by_side` (``primary``, ``coder``, ``confidence``, ...).

    Returns
    -------
    Path
        The file written (atomically: a temporary file in the same folder, then renamed).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from spanalysis.study import load_study
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "meta_inferences.yaml"
    >>> _ = write_meta_inference_template(load_study("data/demo"), out)
    >>> read_meta_inferences(out)
    {}
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise InputError("the meta-inferences file already exists and holds the analyst's "
                         "text", file=path.name, value=str(path),
                         expected="a new path, or overwrite=True")
    sbs = side_by_side(study, None, crosswalk=crosswalk, themes=themes,
                       quotes=0, **side_by_side_options)

    def comment(text: str) -> str:
        return " ".join(str(text).split())

    lines = ["# Meta-inferences: the analyst's conclusions drawing on both strands, one per",
             "# theme (spanalysis.integrate.side_by_side; format in docs/integration.md).",
             "# Write under 'text:'; an empty text shows as "
             f"'{NOT_WRITTEN}'.",
             "# The comments are the data at the time this template was made.",
             yaml.safe_dump({"study": str(study.manifest.name)}, allow_unicode=True,
                            width=10_000).rstrip(),
             "meta_inferences:"]
    for _, r in sbs.iterrows():
        key = yaml.safe_dump(str(r["theme"]), allow_unicode=True).splitlines()[0]
        lines += [f"  {key}:",
                  f"    # {comment(r['theme_label'])}",
                  f"    # qualitative: {comment(r['qualitative_finding'])}",
                  f"    # quantitative: {comment(r['quantitative_result'])}",
                  f"    # primary scale: {comment(r['primary_result'])}",
                  f"    # fit from the data: {r['fit']} ({comment(r['fit_rule'])})",
                  '    text: ""']
    with atomic_write(path) as handle:
        handle.write("\n".join(lines) + "\n")
    return path
