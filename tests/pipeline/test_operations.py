"""A real run on the fixture lake: its figures reach CloudWatch (moto) and status reads its state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from pyspark.sql import SparkSession

from clickstream import cli
from clickstream.config import load_settings
from clickstream.pipeline import JOB_NAMES
from clickstream.pipeline.runner import run_pipeline
from tests.pipeline import lake_fixture as lf

pytestmark = pytest.mark.slow


def values(name: str, job: str, start: datetime) -> list[float]:
    """GetMetricData of one metric of the job (Sum per hour), as a dashboard reads it."""
    answer = boto3.client("cloudwatch").get_metric_data(
        MetricDataQueries=[
            {
                "Id": "m",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "Clickstream",
                        "MetricName": name,
                        "Dimensions": [
                            {"Name": "env", "Value": "local"},
                            {"Name": "job", "Value": job},
                        ],
                    },
                    "Period": 3600,
                    "Stat": "Sum",
                },
            }
        ],
        StartTime=start - timedelta(minutes=5),
        EndTime=datetime.now(UTC) + timedelta(minutes=5),
    )
    return list(answer["MetricDataResults"][0]["Values"])


def test_a_run_publishes_each_jobs_figures_and_status_reads_the_run_back(
    spark: SparkSession, tmp_path: Path, moto: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the fixture lake and metrics: cloudwatch (moto over HTTP)
    lf.build_lake(tmp_path)
    lake = [f"lake_root={tmp_path}", "catalog=none"]
    settings = load_settings("local", [*lake, "metrics=cloudwatch"])
    started = datetime.now(UTC)
    lines: list[str] = []
    # WHEN the whole pipeline runs
    summary = run_pipeline(settings, spark=spark, echo=lines.append)
    # THEN no warning, and curate_events' figures read back equal the run summary's
    assert not [line for line in lines if line.startswith("warning")], lines
    curate = summary["jobs"]["curate_events"]
    for name in ("records_read", "curated", "duplicates_removed", "quarantined"):
        assert values(name, "curate_events", started) == [curate[name]], name
    rate = 100 * curate["quarantined"] / curate["records_read"]
    assert values("quarantine_rate", "curate_events", started) == [pytest.approx(rate)]
    # AND the freshness lag is measured from the newest object (named 2026-03-02T00:30:00Z)
    assert curate["newest_ingested_at"] == "2026-03-02T00:30:00+00:00"
    (lag,) = values("freshness_lag_seconds", "curate_events", started)
    newest = datetime(2026, 3, 2, 0, 30, tzinfo=UTC)
    assert (started - newest).total_seconds() <= lag <= (datetime.now(UTC) - newest).total_seconds()
    # AND the data-quality results are counted for the alarms (the fixture's quarantine rate
    # is past quarantine_rate_max's 5%: a warning)
    statuses = [r["status"] for r in curate["dq"]]
    assert "warn" in statuses
    assert values("dq_warnings", "curate_events", started) == [statuses.count("warn")]
    assert values("dq_failures", "curate_events", started) == [0]
    # AND every job published its seconds
    for job in JOB_NAMES:
        assert len(values("seconds", job, started)) == 1, job
    # WHEN status reads the lake THEN each job's last run is this one, succeeded
    capsys.readouterr()
    assert cli.main(["status", *(f"--set={item}" for item in lake)]) == 0
    out = capsys.readouterr().out
    for job in JOB_NAMES:
        assert f"  {job:<20}succeeded in " in out and summary["run_id"] in out
    assert f"records_read={curate['records_read']:,}" in out
    assert "high-water hour 2026/03/02/00" in out
    assert "change sets not ready: none" in out and "leases held: none" in out
