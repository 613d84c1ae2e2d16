"""The ``pipeline`` measurement: run_pipeline (all jobs) with the local settings, in a child.

Run by the harness: ``python -m clickstream_tools.bench.pipeline_run --lake LAKE --result R
[--set KEY=VALUE ...]``. ``seconds`` is the pipeline alone; the SparkSession start is reported
apart as ``start_seconds``; ``spark_jobs`` counts each job's Spark jobs and stages.
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Sequence
from typing import Any

from clickstream.config import load_settings
from clickstream.config_args import add_set_arg
from clickstream_tools.bench import emit_result
from clickstream_tools.bench.spark_jobs import jobs_by_group, set_group

_JOB_LINE = re.compile(r"^\[\d+/\d+\] (\w+)$")


def measure_pipeline(lake: str, overrides: Sequence[str]) -> dict[str, Any]:
    """Start Spark, then time run_pipeline (all jobs) on the lake, and count each job's Spark
    jobs and stages (spark_jobs)."""
    from clickstream.pipeline.runner import run_pipeline
    from clickstream.spark import get_spark

    settings = load_settings("local", [f"lake_root={lake}", *overrides])
    t0 = time.perf_counter()
    spark = get_spark(settings)
    start = time.perf_counter() - t0

    def echo(message: str) -> None:
        print(message, flush=True)
        match = _JOB_LINE.match(message)
        if match:  # each pipeline job's Spark jobs under its name (counted; named in event logs)
            set_group(spark, match.group(1))

    t1 = time.perf_counter()
    summary = run_pipeline(settings, spark=spark, echo=echo)
    seconds = time.perf_counter() - t1
    set_group(spark, None)
    spark_jobs = jobs_by_group(spark, summary["jobs"])
    spark.stop()
    totals = summary.get("totals", {})
    return {
        "start_seconds": round(start, 3),
        "seconds": round(seconds, 3),
        "jobs": {name: job["seconds"] for name, job in summary["jobs"].items()},
        "spark_jobs": spark_jobs,
        "job_metrics": summary["jobs"],
        "totals": totals,
        "records_read": totals.get("records_read"),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the pipeline measurement's child process."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--lake", required=True, help="the raw zone to run on (written into)")
    parser.add_argument("--result", help="result JSON file (default: stdout)")
    add_set_arg(parser)
    args = parser.parse_args(argv)
    return emit_result(measure_pipeline(args.lake, args.overrides), args.result)


if __name__ == "__main__":
    raise SystemExit(main())
