"""The ``spanalysis`` command: a thin layer over the Python API.

Exit status: 0 success, 1 a report or analysis step failed (see its log) or an output could
not be written, 2 a problem with the input or the command line (message on stderr, no
traceback), 130 interrupted (Ctrl-C; a report run says how many reports finished).
"""
from __future__ import annotations

import argparse
import json
import sys

from spanalysis.errors import SpanalysisError
from spanalysis.version import __version__

__all__ = ["main", "build_parser"]


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own usage errors also exit with status 2
        self.print_usage(sys.stderr)
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="spanalysis", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"spanalysis {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("validate", help="check a study's files and report every problem")
    p.add_argument("study", help="study folder (containing study.yaml)")
    p.add_argument("--json", action="store_true", help="print the findings as JSON")
    p.add_argument("--all", action="store_true",
                   help=f"print every problem (default: the first {SHOWN_PROBLEMS} of each "
                        "kind and how many more)")
    p.set_defaults(func=_validate)

    p = sub.add_parser("init", help="draft a study folder from survey exports")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="survey exports (.csv, .xlsx, .sav); copied in unchanged")
    p.add_argument("--out", required=True, help="folder to create (must not exist or be empty)")
    p.set_defaults(func=_init)

    p = sub.add_parser("demo", help="write the synthetic demo study")
    p.add_argument("out", help="folder to create")
    p.add_argument("--participants", type=int, default=400)
    p.add_argument("--sites", type=int, default=8)
    p.add_argument("--seed", type=int, default=None, help="random seed (default: the demo's)")
    p.add_argument("--interviews", type=int, default=None,
                   help="number of interviews (default: 15%% of participants, 8 to 60)")
    p.set_defaults(func=_demo)

    p = sub.add_parser("score", help="score every instrument; write a tidy score table")
    p.add_argument("study")
    p.add_argument("--out", required=True, help="output file (.csv or .parquet)")
    p.set_defaults(func=_score)

    p = sub.add_parser("change", help="paired change per scale; write a table")
    p.add_argument("study")
    p.add_argument("--out", required=True, help="output file (.csv or .parquet)")
    p.add_argument("--by", default=None, help="a participants column to group by, e.g. site")
    p.add_argument("--instruments", default="all", help="comma-separated ids (default all)")
    p.add_argument("--confidence", type=float, default=0.95)
    p.add_argument("--pre", default=None, metavar="TIMEPOINT",
                   help="the earlier time point (default: the study's first)")
    p.add_argument("--post", default=None, metavar="TIMEPOINT",
                   help="the later time point (default: the study's last)")
    p.add_argument("--missing", default="mi", choices=["mi", "completers", "bocf"],
                   help="missing follow-ups: mi (multiple imputation, the primary analysis; "
                        "completers and BOCF rows beside it), completers (paired change of "
                        "the people with both scores, with effect sizes; --by works here), "
                        "bocf (baseline carried forward)")
    p.set_defaults(func=_change)

    p = sub.add_parser("reliable", help="reliable and clinically significant change per "
                                         "scale; write a table")
    p.add_argument("study")
    p.add_argument("--out", required=True, help="output file (.csv or .parquet)")
    p.add_argument("--instruments", default="all", help="comma-separated ids (default all)")
    p.add_argument("--confidence", type=float, default=0.95,
                   help="level of the Wilson intervals of the percentages (default 0.95)")
    p.add_argument("--pre", default=None, metavar="TIMEPOINT",
                   help="the earlier time point (default: the study's first)")
    p.add_argument("--post", default=None, metavar="TIMEPOINT",
                   help="the later time point (default: the study's last)")
    p.add_argument("--reliability", default="test_retest", choices=["test_retest", "alpha"],
                   help="test_retest (the published test-retest reliability where there is "
                        "one, else the study's alpha; the default) or alpha (the sensitivity "
                        "analysis)")
    p.set_defaults(func=_reliable)

    p = sub.add_parser("report", help="render the study's notebooks to HTML reports")
    p.add_argument("study")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--sites", default="all",
                   help="site reports to make: 'all' (default), 'none' or comma-separated sites")
    p.add_argument("--study-reports", choices=("yes", "no"), default="yes",
                   help="also render the whole-study notebooks 01-04 (default yes)")
    p.add_argument("--jobs", type=int, default=None,
                   help="worker processes (default: number of CPUs)")
    p.add_argument("--force", action="store_true", help="re-render reports even if unchanged")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run the reports on a Dask distributed scheduler, e.g. tcp://host:8786")
    p.add_argument("--timeout", type=float, default=600, metavar="SECONDS",
                   help="time limit per report (default 600)")
    p.add_argument("--kernel", default="spanalysis", help="Jupyter kernel (default spanalysis)")
    p.add_argument("-p", "--parameter", action="append", default=[], metavar="NAME=VALUE",
                   help="a notebook parameter, converted to the type the notebook declares "
                        "(repeatable)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_report)

    p = sub.add_parser("qual", help="qualitative material: REFI-QDA import and export")
    qsub = p.add_subparsers(dest="qual_command", required=True, parser_class=_Parser)
    q = qsub.add_parser("import", help="read a REFI-QDA project (.qdpx) into CSV tables")
    q.add_argument("file", help="the .qdpx project")
    q.add_argument("--out", required=True, help="folder for codebook.csv, segments.csv, ...")
    q.set_defaults(func=_qual_import)
    q = qsub.add_parser("export", help="write a study's coding as a REFI-QDA project")
    q.add_argument("study")
    q.add_argument("--out", required=True, help="the .qdpx file to write")
    q.set_defaults(func=_qual_export)

    p = sub.add_parser("agreement", help="inter-coder agreement per code")
    p.add_argument("study")
    p.add_argument("--unit", choices=["sentence", "source"], default="sentence",
                   help="unit of analysis (default: sentence)")
    p.add_argument("--coders", default=None, help="comma-separated coders (default: all)")
    p.add_argument("--out", default=None, help="also write the table (.csv or .parquet)")
    p.set_defaults(func=_agreement)

    p = sub.add_parser("kernel", help="manage the Jupyter kernel the notebooks run on")
    ksub = p.add_subparsers(dest="kernel_command", required=True, parser_class=_Parser)
    k = ksub.add_parser("install", help="register this environment as a Jupyter kernel")
    k.add_argument("--name", default="spanalysis")
    k.set_defaults(func=_kernel_install)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SpanalysisError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:   # a report run says how many reports finished
        print(str(exc) or "interrupted", file=sys.stderr)
        return 130


# ----------------------------------------------------------------------------- commands

#: how many errors (and warnings) ``validate`` prints before saying how many more there are
SHOWN_PROBLEMS = 50

def _validate(args) -> int:
    from spanalysis import validate_study

    issues = validate_study(args.study)
    errors = [i for i in issues if i.level == "error"]
    if args.json:
        print(json.dumps([i.as_dict() for i in issues], indent=2))
    else:
        for level, stream in (("error", sys.stderr), ("warning", sys.stdout)):
            found = [i for i in issues if i.level == level]
            shown = found if args.all else found[:SHOWN_PROBLEMS]
            for issue in shown:
                print(f"{level}: {issue}", file=stream)
            if len(found) > len(shown):
                print(f"... and {len(found) - len(shown)} more {level}(s) (spanalysis validate "
                      "--all, or --json, lists every one)", file=stream)
        n_warn = len(issues) - len(errors)
        print(f"{len(errors)} error(s), {n_warn} warning(s) in {args.study}")
    return 2 if errors else 0


def _init(args) -> int:
    from spanalysis.study.draft import init_command

    return init_command(args.files, args.out)


def _demo(args) -> int:
    from spanalysis import demo

    kwargs = {"participants": args.participants, "sites": args.sites}
    if args.seed is not None:
        kwargs["seed"] = args.seed
    if args.interviews is not None:
        kwargs["interviews"] = args.interviews
    out = demo.generate(args.out, **kwargs)
    print(f"wrote the demo study to {out}")
    return 0


def _score(args) -> int:
    from spanalysis.commands import refuse_output_in_study
    from spanalysis.io import write_table
    from spanalysis.study import load_study

    refuse_output_in_study(args.out, args.study)
    study = load_study(args.study)
    scores = study.scores
    path = write_table(scores, args.out)
    print(f"wrote {len(scores)} scores to {path}")
    return 0


def _open_for_change(args):
    """The checks and the study shared by ``change`` and ``reliable``: the confidence level,
    an output outside the study folder, then the study loaded."""
    from spanalysis.commands import refuse_output_in_study
    from spanalysis.errors import InputError
    from spanalysis.study import load_study

    if not 0 < args.confidence < 1:
        raise InputError("confidence level out of range", value=args.confidence,
                         expected="a number between 0 and 1, e.g. 0.95")
    refuse_output_in_study(args.out, args.study)
    return load_study(args.study)


def _change(args) -> int:
    from spanalysis.change import outcomes
    from spanalysis.errors import InputError
    from spanalysis.io import write_table

    study = _open_for_change(args)
    if args.by is not None and args.by not in study.participants.columns:
        raise InputError("no such participants column to group by", value=args.by,
                         expected="one of " + ", ".join(study.participants.columns))
    if args.by is not None and args.missing != "completers":
        raise InputError("--by compares groups of completers", column="--missing",
                         value=args.missing, expected="--missing completers with --by")
    pre, post = outcomes.time_pair(study, args.pre, args.post)   # checked before any work
    if args.missing == "completers":
        table = outcomes.change_table(study, args.instruments, args.confidence, by=args.by,
                                      pre=pre, post=post)
        what = "completers' change"
    else:
        from spanalysis.change import missing

        outcomes.change_table(study, args.instruments, args.confidence, pre=pre, post=post)
        table = missing.change_by_missing(study, args.instruments, args.missing,
                                          args.confidence, pre, post, sensitivity=True)
        what = {"mi": "change under multiple imputation (completers and BOCF beside it)",
                "bocf": "change with baseline carried forward (MI and completers beside it)"
                }[args.missing]
    path = write_table(table, args.out)
    scales = table[["instrument", "scale"]].drop_duplicates().shape[0] if len(table) else 0
    print(f"wrote {what} from {pre} to {post} for {scales} scale(s)"
          f"{' by ' + args.by if args.by else ''} to {path}")
    return 0


def _reliable(args) -> int:
    from spanalysis.change import outcomes
    from spanalysis.io import write_table

    study = _open_for_change(args)
    pre, post = outcomes.time_pair(study, args.pre, args.post)   # checked before any work
    _, summary = outcomes.reliable_change_table(study, args.instruments, args.confidence,
                                                pre=pre, post=post, basis=args.reliability)
    path = write_table(summary, args.out)
    print(f"wrote reliable change ({args.reliability.replace('_', '-')} reliability; "
          f"Wilson {round(100 * args.confidence)}% intervals of the percentages) from {pre} "
          f"to {post} for {len(summary)} scale(s) to {path}")
    return 0


def _report(args) -> int:
    from spanalysis import processes

    if args.scheduler is None:
        processes.start_early()   # the workers' forkserver imports while this process does
    from spanalysis.errors import InputError
    from spanalysis.report import build_reports
    from spanalysis.report.runner import skip_iri_parser

    skip_iri_parser()   # this process is the report command's own: see there
    parameters = {}
    for item in args.parameter:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InputError("a parameter must be given as NAME=VALUE", column="--parameter",
                             value=item, expected="e.g. -p confidence=0.9")
        parameters[name.strip()] = value   # converted to the declared type by plan_jobs
    result = build_reports(args.study, args.out, sites=args.sites,
                           study_reports=args.study_reports == "yes", force=args.force,
                           jobs=args.jobs, scheduler=args.scheduler, timeout=args.timeout,
                           kernel=args.kernel, parameters=parameters,
                           progress=not args.no_progress)
    return 0 if result.ok else 1


def _qual_import(args) -> int:
    from spanalysis.commands import qual_import

    return qual_import(args.file, args.out)


def _qual_export(args) -> int:
    from spanalysis.commands import qual_export

    return qual_export(args.study, args.out)


def _agreement(args) -> int:
    from spanalysis.commands import agreement

    return agreement(args.study, unit=args.unit, coders=args.coders, out=args.out)


def _kernel_install(args) -> int:
    from spanalysis.report.kernel import install_kernel

    path = install_kernel(args.name)
    print(f"installed Jupyter kernel '{args.name}' -> {path}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
