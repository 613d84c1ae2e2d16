"""The entry point every jobs/<job>.py script calls: the Glue adapter, or an EMR/local run."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from clickstream.config import ConfigError, load_settings
from clickstream.config_args import add_env_args
from clickstream.dq_rules import DQ_EXIT, DataQualityFailed
from clickstream.pipeline import JOB_NAMES, PIPELINE

GLUE_MARKER = "--JOB_NAME"


def is_glue_run(argv: Sequence[str]) -> bool:
    """Whether the arguments come from AWS Glue, which always passes --JOB_NAME."""
    return any(arg == GLUE_MARKER or arg.startswith(f"{GLUE_MARKER}=") for arg in argv)


def build_parser(job: str) -> argparse.ArgumentParser:
    """The command line of an EMR step or a local run: --env and repeated --set KEY=VALUE."""
    parser = argparse.ArgumentParser(
        prog=f"jobs/{job}.py",
        allow_abbrev=False,
        description=f"Run the {job} job as an EMR step or locally (on Glue: Glue's arguments).",
    )
    add_env_args(parser)
    return parser


def run_entry(job: str, argv: Sequence[str] | None = None) -> int:
    """Run one pipeline job (or every job: PIPELINE) on Glue (--JOB_NAME given) or as an EMR
    step / local run; the exit code."""
    if job not in (*JOB_NAMES, PIPELINE):
        raise ValueError(f"unknown job {job!r}; jobs are: {', '.join(JOB_NAMES)}, {PIPELINE}")
    args = list(sys.argv[1:] if argv is None else argv)
    if is_glue_run(args):
        from clickstream.runtime.glue import run_glue_job

        return run_glue_job(job, args)
    return run_spark_job(job, args)


def run_spark_job(job: str, argv: Sequence[str]) -> int:
    """EMR or local: settings from --env/--set, the active or a new SparkSession, one job run
    (every job in order for PIPELINE).

    The project's bookmark store under the lake root decides which inputs are new. Config errors
    print one line naming the key and return 2, before Spark starts.
    """
    from clickstream.aws.glue_catalog import CatalogAccessError

    args = build_parser(job).parse_args(argv)
    try:
        settings = load_settings(args.env, args.overrides)
        from clickstream.pipeline.runner import run_pipeline

        run_pipeline(settings, [] if job == PIPELINE else [job])
    except ConfigError as exc:
        print(f"{job}: config error: {exc}", file=sys.stderr)
        return 2
    except CatalogAccessError as exc:
        print(f"{job}: {exc}", file=sys.stderr)
        return 1
    except DataQualityFailed as exc:  # every job's data is committed; the failed step alerts
        print(f"{job}: {exc}", file=sys.stderr)
        return DQ_EXIT
    return 0
