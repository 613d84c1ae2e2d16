"""Data-quality rules on real runs of the fixture lake: each rule broken by a lake that breaks it."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from clickstream import cli
from clickstream.config import load_settings
from clickstream.dq_rules import DataQualityFailed
from clickstream.pipeline.context import JobContext, JobOutcome
from clickstream.pipeline.dq_check import check_quality
from clickstream.pipeline.runner import run_pipeline
from clickstream.tables import DQ_RESULTS, EVENTS, SESSIONS
from clickstream.writer import read_table, table_schema
from tests.pipeline import lake_fixture as lf

pytestmark = pytest.mark.slow


def _lake(tmp_path: Path, *more: str) -> list[str]:
    lf.build_lake(tmp_path)
    return [f"lake_root={tmp_path}", "catalog=none", *more]


def _results(spark: SparkSession, lake: str) -> list[tuple[str, str, str]]:
    rows = read_table(spark, lake, DQ_RESULTS).collect()
    return sorted((r["run_id"], r["rule"], r["status"]) for r in rows)


def test_a_failing_fail_rule_ends_the_run_with_one_line_once_every_job_committed(
    spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the fixture lake (7 of its 18 records are malformed) and quarantine_rate_max: fail
    lake = _lake(tmp_path, "dq_rules.quarantine_rate_max.action=fail")
    sets = [f"--set={item}" for item in lake]
    settings = load_settings("local", lake)
    # WHEN the pipeline runs from the command line
    code = cli.main(["run", *sets])
    # THEN it exits 3 with one line naming the rule, its value and its threshold
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 3
    assert len(err) == 1 and err[0].startswith(
        "clickstream: data quality: quarantine_rate_max fail"
    )
    assert "records quarantined" in err[0] and "threshold 5%" in err[0]
    # AND every job's data was committed: sessions exist and a second run reads nothing new
    assert read_table(spark, settings.lake, SESSIONS).count() > 0
    again = run_pipeline(settings, spark=spark, echo=lambda _: None)
    assert again["jobs"]["curate_events"]["records_read"] == 0
    # AND dq_results holds one row per rule that is on, per run (freshness is off locally)
    results = _results(spark, settings.lake)
    first = [r for r in results if r[0] != again["run_id"]]
    assert [(rule, status) for _, rule, status in first] == [
        ("event_id_unique", "pass"),
        ("quarantine_rate_max", "fail"),
        ("volume_drop_max", "skip"),
    ]
    assert len(results) == 6
    # AND status shows the last run's results
    assert cli.main(["status", *sets]) == 0
    assert "data quality: quarantine_rate_max pass: 0.00% of 0 records" in capsys.readouterr().out


def test_volume_drop_fails_against_the_same_hour_on_earlier_days(
    spark: SparkSession, tmp_path: Path
) -> None:
    # GIVEN dq_results history: 1,000 events curated in every hour of each of the last 4 days
    lake = _lake(tmp_path, "dq_rules.volume_drop_max.action=fail")
    settings = load_settings("local", lake)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    history = [
        {
            "run_id": f"old-{day}-{hour}",
            "job": "curate_events",
            "rule": "volume_drop_max",
            "action": "fail",
            "status": "pass",
            "value": 0.0,
            "threshold": 50.0,
            "observed": 1000,
            "detail": "seeded",
            "evaluated_at": (now - timedelta(days=day)).replace(hour=hour),
            "dt": (now - timedelta(days=day)).date().isoformat(),
        }
        for day in range(1, 5)
        for hour in range(24)
    ]
    spark.createDataFrame(history, table_schema(DQ_RESULTS)).write.partitionBy("dt").parquet(
        settings.path(DQ_RESULTS.location)
    )
    # WHEN a run curates the fixture's events (9 after dedup)
    with pytest.raises(DataQualityFailed) as caught:
        run_pipeline(settings, spark=spark, echo=lambda _: None)
    # THEN volume_drop_max fails: 9 against a median of 1,000 is a 99.1% drop
    assert str(caught.value) == (
        f"data quality: volume_drop_max fail: 9 curated against a median of 1,000 in hour "
        f"{caught.value.args[0].split(' in hour ')[1][:2]} UTC over 4 day(s): drop 99.1%, "
        "threshold 50%"
    )
    # AND the events are stored all the same
    assert read_table(spark, settings.lake, EVENTS).count() == 9


def test_event_id_unique_and_freshness_judge_a_lake_that_breaks_them(
    spark: SparkSession, tmp_path: Path
) -> None:
    # GIVEN a run of the fixture lake, then one events file of 2026-03-01 copied beside itself
    lake = _lake(tmp_path, "dq_rules.freshness_max_minutes.threshold=60")
    settings = load_settings("local", lake)
    summary = run_pipeline(settings, spark=spark, echo=lambda _: None)
    folder = Path(settings.path(EVENTS.location)) / "dt=2026-03-01"
    copied = sorted(folder.glob("*.parquet"))[0]
    shutil.copy(copied, folder / f"copy-{copied.name}")
    extra = spark.read.parquet(str(copied)).count()
    # WHEN the rules are judged on an outcome that wrote that date
    lines: list[str] = []
    ctx = JobContext(spark, settings, lines.append, run_id="judged")
    figures = summary["jobs"]["curate_events"]
    outcome = JobOutcome(metrics=figures, dts={"events": ("2026-03-01",)})
    results = {r["rule"]: r for r in check_quality(ctx, outcome, "judged")}
    # THEN event_id_unique fails with the copied rows as extra copies
    assert results["event_id_unique"]["status"] == "fail"
    assert results["event_id_unique"]["observed"] == extra > 0
    # AND freshness warns: the newest object (2026-03-02T00:30Z) is far older than 60 minutes
    assert results["freshness_max_minutes"]["status"] == "warn"
    assert any(line.startswith("  data quality: freshness_max_minutes warn") for line in lines)
    # AND both are rows of dq_results under the run's id
    judged = [r for r in _results(spark, settings.lake) if r[0] == "judged"]
    assert ("judged", "event_id_unique", "fail") in judged and len(judged) == 4
