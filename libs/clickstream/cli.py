"""The `clickstream` command: run jobs, make sample data, show status, manage bookmarks, deploy."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import date
from importlib import import_module
from types import ModuleType

from clickstream.config import ConfigError, Settings, load_settings
from clickstream.config_args import add_env_args
from clickstream.dq_rules import DQ_EXIT, DataQualityFailed
from clickstream.pipeline import JOB_NAMES


class ToolsNotInstalled(Exception):
    """A command of the tools package (clickstream_tools) ran where only the product is installed."""


def _tool(command: str, module: str) -> ModuleType:
    """clickstream_tools.<module>, imported only when a tool command runs (Glue and EMR lack it)."""
    try:
        return import_module(f"clickstream_tools.{module}")
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] != "clickstream_tools":
            raise
        raise ToolsNotInstalled(
            f"{command} needs the tools package clickstream_tools (tools/), which only a "
            "development install has: run `make install`"
        ) from None


def build_parser() -> argparse.ArgumentParser:
    """The command line: clickstream {run,rebuild,sample,demo,status,bookmarks,deploy,maintain,
    skip-object,forget,redshift-sql,iam-policy}."""
    parser = argparse.ArgumentParser(prog="clickstream", allow_abbrev=False, description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser(
        "run", allow_abbrev=False, help="run jobs (the whole pipeline when none is named)"
    )
    run.add_argument("jobs", nargs="*", metavar="JOB", help=f"any of: {', '.join(JOB_NAMES)}")
    add_env_args(run)

    rebuild = sub.add_parser(
        "rebuild",
        allow_abbrev=False,
        help="rebuild curated tables and state from the raw objects (to change a pinned rule)",
    )
    add_env_args(rebuild)

    sample = sub.add_parser(
        "sample", allow_abbrev=False, help="generate a sample raw zone and titles CSV"
    )
    add_env_args(sample)
    sample.add_argument("--events", type=int, default=20_000)
    sample.add_argument("--users", type=int, default=2_000)
    sample.add_argument("--days", type=int, default=3)
    sample.add_argument(
        "--start", type=date.fromisoformat, default=date(2026, 3, 1), help="first day, YYYY-MM-DD"
    )
    sample.add_argument("--seed", type=int, default=7)

    demo = sub.add_parser(
        "demo", allow_abbrev=False, help="fresh sample lake, whole pipeline, DAU table and chart"
    )
    add_env_args(demo)
    demo.add_argument("--events", type=int, default=60_000)
    demo.add_argument("--users", type=int, default=3_000)
    demo.add_argument("--days", type=int, default=4)

    status = sub.add_parser(
        "status",
        allow_abbrev=False,
        help="last runs, bookmarks and lag, change sets not ready, leases: from state files, "
        "without Spark",
    )
    add_env_args(status)

    marks = sub.add_parser("bookmarks", allow_abbrev=False, help="show or reset job bookmarks")
    marks.add_argument("action", choices=("show", "reset"))
    marks.add_argument("jobs", nargs="*", metavar="JOB", help="default: every job")
    add_env_args(marks)

    deploy = sub.add_parser(
        "deploy", allow_abbrev=False, help="package and deploy to AWS Glue (and EMR steps)"
    )
    add_env_args(deploy, default_env="dev")
    deploy.add_argument("--dry-run", action="store_true", help="print the plan, call nothing")
    deploy.add_argument("--emr-cluster-id", help="also add EMR steps to this cluster")

    maintain = sub.add_parser(
        "maintain",
        allow_abbrev=False,
        help="compact recently written dates (clustered by user), vacuum Delta tables past the retention",
    )
    add_env_args(maintain)

    skip = sub.add_parser(
        "skip-object",
        allow_abbrev=False,
        help="set one raw object aside: every read of it quarantines it whole (skipped_by_operator)",
    )
    skip.add_argument("path", help="the raw object: its path or URI, or YYYY/MM/DD/HH/<name>")
    skip.add_argument("--why", required=True, help="why it is set aside (kept in the record)")
    skip.add_argument("--by", help="who sets it aside (default: $CLICKSTREAM_OPERATOR or the user)")
    add_env_args(skip)

    redshift = sub.add_parser(
        "redshift-sql", allow_abbrev=False, help="print Redshift Spectrum and COPY SQL"
    )
    add_env_args(redshift, default_env="dev")
    redshift.add_argument(
        "--dt", type=date.fromisoformat, help="partition date for the COPY statements, YYYY-MM-DD"
    )

    forget = sub.add_parser(
        "forget",
        allow_abbrev=False,
        help="erase users: their rows leave every table and state file, metrics are recomputed, "
        "later runs and rebuilds drop their records (forgotten_user)",
    )
    forget.add_argument(
        "--user-id", action="append", default=[], metavar="ID", help="a raw user id (repeatable)"
    )
    forget.add_argument(
        "--user-ids-file", action="append", default=[], metavar="FILE", help="one user id a line"
    )
    forget.add_argument(
        "--purge-raw",
        action="store_true",
        help="also rewrite the raw objects holding their records without them",
    )
    add_env_args(forget)

    iam = sub.add_parser(
        "iam-policy",
        allow_abbrev=False,
        help="print least-privilege IAM policy documents (Glue role, deployer, EMR, Redshift)",
    )
    add_env_args(iam, default_env="dev")
    iam.add_argument(
        "--role",
        choices=("glue_job_role", "deployer", "emr_instance_profile", "redshift_role"),
        help="print this role's document only (default: all four, by role)",
    )
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(args.env, args.overrides)


def _cmd_rebuild(args: argparse.Namespace) -> int:
    from clickstream.pipeline.runner import rebuild_lake

    rebuild_lake(_settings(args))
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from clickstream.pipeline.runner import resolve_jobs, run_pipeline

    settings = _settings(args)
    resolve_jobs(args.jobs)  # fail before starting Spark
    run_pipeline(settings, args.jobs)
    return 0


def _cmd_sample(args: argparse.Namespace) -> int:
    sample = _tool("sample", "sample")
    settings = _settings(args)
    report = sample.generate_sample(
        settings.lake,
        events=args.events,
        users=args.users,
        days=args.days,
        start=args.start,
        seed=args.seed,
    )
    print(f"sample written to {settings.lake}: {report}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    demo = _tool("demo", "demo")
    demo.run_demo(_settings(args), events=args.events, users=args.users, days=args.days)
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    from clickstream.pipeline.status import format_status, lake_status

    settings = _settings(args)
    status = lake_status(settings.lake, JOB_NAMES, stale_minutes=settings.lease_stale_minutes)
    print(f"clickstream status: env={settings.env}")
    print(format_status(status))
    return 0


def _cmd_bookmarks(args: argparse.Namespace) -> int:
    # State files only: neither show nor reset starts Spark.
    from clickstream import bookmarks
    from clickstream.pipeline import resolve_jobs

    settings = _settings(args)
    jobs = resolve_jobs(args.jobs)
    spark = None
    if args.action == "reset":
        done = bookmarks.reset(spark, settings.lake, jobs)
        print(f"reset: {', '.join(done) if done else 'nothing to reset'}")
    else:
        for job in jobs:
            doc = bookmarks.show(spark, settings.lake, job)
            shown = {"job": job, "updated_at": doc.get("updated_at")}
            if "high_water_hour" in doc:
                shown["high_water_hour"] = doc["high_water_hour"]
            shown["processed"] = len(doc.get("processed", {}))  # type: ignore[arg-type]
            print(json.dumps(shown))
    return 0


def _cmd_deploy(args: argparse.Namespace) -> int:
    from clickstream.aws.deploy import deploy

    deploy(_settings(args), dry_run=args.dry_run, emr_cluster_id=args.emr_cluster_id)
    return 0


def _cmd_maintain(args: argparse.Namespace) -> int:
    from clickstream.maintenance import maintain
    from clickstream.pipeline import writers_of
    from clickstream.tables import DELTA_CAPABLE

    maintain(_settings(args), writers=writers_of(DELTA_CAPABLE))
    return 0


def _cmd_skip_object(args: argparse.Namespace) -> int:
    from clickstream.skipped_objects import skip_object

    settings = _settings(args)
    note = skip_object(settings, args.path, args.why, by=args.by)
    print(
        f"skip-object: {settings.lake}/raw/clickstream/{note.path} set aside by {note.by} at "
        f"{note.at}: every read of it quarantines it whole (skipped_by_operator)"
    )
    return 0


def _cmd_forget(args: argparse.Namespace) -> int:
    from clickstream.pipeline.forget import forget, user_ids_of

    user_ids = user_ids_of(args.user_id, args.user_ids_file)  # fail before the lake or Spark
    forget(_settings(args), user_ids, purge_raw=args.purge_raw)
    return 0


def _cmd_redshift(args: argparse.Namespace) -> int:
    from clickstream.aws.redshift import redshift_sql

    kwargs = {"dt": args.dt.isoformat()} if args.dt else {}
    print(redshift_sql(_settings(args), **kwargs))
    return 0


def _cmd_iam_policy(args: argparse.Namespace) -> int:
    from clickstream.aws.iam_policy import policy_documents

    documents = policy_documents(_settings(args))
    print(json.dumps(documents[args.role] if args.role else documents, indent=2))
    return 0


COMMANDS = {
    "run": _cmd_run,
    "rebuild": _cmd_rebuild,
    "sample": _cmd_sample,
    "demo": _cmd_demo,
    "status": _cmd_status,
    "bookmarks": _cmd_bookmarks,
    "deploy": _cmd_deploy,
    "maintain": _cmd_maintain,
    "redshift-sql": _cmd_redshift,
    "skip-object": _cmd_skip_object,
    "forget": _cmd_forget,
    "iam-policy": _cmd_iam_policy,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ConfigError as exc:
        print(f"clickstream: config error: {exc}", file=sys.stderr)
        return 2
    except ToolsNotInstalled as exc:
        print(f"clickstream: {exc}", file=sys.stderr)
        return 2
    except DataQualityFailed as exc:  # the data is committed; the failed run is the alarm
        print(f"clickstream: {exc}", file=sys.stderr)
        return DQ_EXIT
    except Exception as exc:  # an AWS or packaging failure: one line, not a traceback
        if type(exc).__module__.split(".")[0] not in ("botocore", "boto3", "clickstream"):
            raise
        print(f"clickstream: {args.command} failed: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
