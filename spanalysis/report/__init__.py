"""Reports: running the parameterised notebooks with papermill (locally or on Dask), rendering
them to offline HTML, the index page, the study cache, and the display helpers notebooks use.

Modules
-------
runner     report jobs, parameters, the batch runner, the index page
render     executed notebook -> offline, accessible HTML with a provenance block
display    tables, figures and quotes for notebooks, with disclosure control built in
cache      the study cache shared by one batch of reports
kernel     the project's Jupyter kernel
"""
from __future__ import annotations

from spanalysis.report.runner import (
    KERNEL_START_ATTEMPTS,
    NOTEBOOKS_DIR,
    SITE_NOTEBOOK,
    STUDY_NOTEBOOKS,
    BuildResult,
    ReportJob,
    ReportResult,
    RunSettings,
    build_reports,
    check_parameters,
    coerce_parameter,
    declared_type,
    is_kernel_start_failure,
    joint_display_html,
    plan_jobs,
    quote_html,
    run_job,
    site_slug,
    site_themes,
    write_index,
)

__all__ = ["ReportJob", "ReportResult", "BuildResult", "RunSettings", "build_reports",
           "check_parameters", "coerce_parameter", "declared_type", "plan_jobs", "run_job",
           "write_index", "site_slug", "site_themes", "joint_display_html", "quote_html",
           "is_kernel_start_failure", "NOTEBOOKS_DIR", "STUDY_NOTEBOOKS", "SITE_NOTEBOOK",
           "KERNEL_START_ATTEMPTS"]
