"""Reports: running the parameterised notebooks with papermill (locally or on Dask), rendering
them to offline HTML, the index page, and the display helpers notebooks use.

Modules
-------
runner        the batch: checks, worker processes or Dask, the order of the steps
jobs          report jobs, their results and fingerprints (what needs rendering again)
parameters    the parameters a notebook declares, and checking the values given to it
execution     running one notebook with papermill and rendering it
index         the index page of a run
site_content  themes, quotes and the joint display for the site report notebook
main_points   the "Main points" sentences that open every report and the index
main_figures  the one figure under each report's main points
render        executed notebook -> offline, accessible HTML with a provenance block
display       tables, figures and quotes for notebooks, with disclosure control built in
glossary      plain-words table headings, instrument names and the glossary of terms
checklist     GRAMMS and TREND items and where the reports answer them
fingerprints  SHA-256 of a study's input files and of spanalysis's code
kernel        the project's Jupyter kernel
"""
from __future__ import annotations

from spanalysis.report.execution import is_kernel_start_failure, run_job
from spanalysis.report.index import write_index
from spanalysis.report.main_points import show_main_points
from spanalysis.report.jobs import (
    KERNEL_START_ATTEMPTS,
    NOTEBOOKS_DIR,
    SITE_NOTEBOOK,
    STUDY_NOTEBOOKS,
    BuildResult,
    ReportJob,
    ReportResult,
    RunSettings,
    plan_jobs,
    site_slug,
)
from spanalysis.report.parameters import check_parameters, coerce_parameter, declared_type
from spanalysis.report.runner import build_reports
from spanalysis.report.site_content import (hide_theme_counts, joint_display_html, quote_html,
                                            site_flow, site_theme_counts, site_themes,
                                            themes_by_site)

__all__ = ["ReportJob", "ReportResult", "BuildResult", "RunSettings", "build_reports",
           "check_parameters", "coerce_parameter", "declared_type", "plan_jobs", "run_job",
           "write_index", "site_slug", "site_themes", "joint_display_html", "quote_html",
           "site_flow", "site_theme_counts", "themes_by_site", "hide_theme_counts",
           "is_kernel_start_failure", "NOTEBOOKS_DIR", "STUDY_NOTEBOOKS", "SITE_NOTEBOOK",
           "KERNEL_START_ATTEMPTS", "show_main_points"]
