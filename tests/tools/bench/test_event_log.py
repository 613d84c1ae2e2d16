"""The bench's event-log reports: Spark jobs' busy time and the driver's gaps between them."""

from __future__ import annotations

import json
from pathlib import Path

from clickstream_tools.bench.event_log import job_lines, job_report


def _job(job_id: int, start: int, end: int, label: str) -> list[str]:
    return [
        json.dumps(
            {
                "Event": "SparkListenerJobStart",
                "Job ID": job_id,
                "Submission Time": start,
                "Properties": {"spark.job.description": label},
            }
        ),
        json.dumps({"Event": "SparkListenerJobEnd", "Job ID": job_id, "Completion Time": end}),
    ]


def test_overlapping_jobs_count_once_and_the_gaps_name_the_jobs_around_them(tmp_path: Path):
    # GIVEN two overlapping curate jobs, a 3 s pause, then a DAU job (and a line that is no JSON)
    log = tmp_path / "app"
    lines = [
        *_job(0, 10_000, 11_000, "curate_events"),
        *_job(1, 10_500, 11_500, "curate_events"),
        "not json",
        *_job(2, 14_500, 15_000, "daily_active_users"),
    ]
    log.write_text("\n".join(lines), encoding="utf-8")
    # WHEN the jobs are reported
    report = job_report(log)
    # THEN busy time counts the overlap once; the span runs from first start to last end
    assert report["jobs"] == 3
    assert report["busy_seconds"] == 2.0
    assert report["span_seconds"] == 5.0
    # AND the one gap is the 3 s between the curate jobs' end and the DAU job
    assert report["gaps"] == [
        {"seconds": 3.0, "after": "curate_events", "before": "daily_active_users"}
    ]
    assert "3.0s idle between curate_events and daily_active_users" in job_lines("run", report)


def test_a_log_without_finished_jobs_reports_none(tmp_path: Path):
    # GIVEN an event log whose only job never finished (the application died)
    log = tmp_path / "app"
    log.write_text(_job(0, 1_000, 2_000, "curate_events")[0], encoding="utf-8")
    # THEN no job is reported
    assert job_report(log) == {"jobs": 0, "busy_seconds": 0.0, "span_seconds": 0.0, "gaps": []}
