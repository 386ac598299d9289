"""What a worker process of ``spanalysis report`` needs, imported once by the forkserver.

The report command's local pool forks its workers from a ``forkserver`` process
(:func:`spanalysis.processes.pool_context`), which imports this module before it forks
any: papermill (with nbformat, nbclient and jupyter_client), the runner with
:func:`~spanalysis.report.execution.run_job`, and nbconvert's HTML exporter, configured.
Each worker then starts with all of it in memory instead of importing it again (about 0.7 s
of CPU a worker). Importing this module only imports and configures: it starts no thread,
process or kernel, so the forkserver stays safe to fork.
"""
from __future__ import annotations

from spanalysis.processes import kept_for_life

# what is imported here lives as long as every worker forked from here (see kept_for_life)
with kept_for_life():
    from spanalysis.report import runner

    runner.skip_iri_parser()   # before papermill imports nbformat (see its docstring)

    import papermill  # noqa: F401 - imported for the workers

    from spanalysis.report import execution, render  # noqa: F401

    render._exporter()
