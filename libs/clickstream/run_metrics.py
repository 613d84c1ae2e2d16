"""A job's run figures as CloudWatch metrics: one PutMetricData batch per job, never fatal.

`metrics: cloudwatch` publishes, after each job that succeeded, the figures of its run summary
under `metrics_namespace` with the dimensions `env` and `job` (per-reason quarantine counts also
carry `reason`). Metric names are the run summary's keys, so a dashboard and `_runs/<run_id>.json`
speak one vocabulary. The call goes through the shared botocore configuration (standard retries
with backoff); a failure costs one warning line, never the run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from clickstream.aws_clients import aws_client
from clickstream.config import Settings

# PutMetricData takes at most 1,000 metric data per call (and 1 MB); a job sends about 30.
MAX_DATA_PER_CALL = 1000
# Figures published when a job's summary has them: run-summary key -> CloudWatch unit.
COUNTS = (
    "records_read",
    "curated",
    "duplicates_removed",
    "quarantined",
    "objects",
    "dates_rewritten",
    "event_rows_written",
    "repeats_suppressed",
    "sessions_written",
    "days",
    "titles",
    "titles_quarantined",
)
BY_REASON = {
    "quarantined_by_reason": "quarantined",
    "titles_quarantined_by_reason": "titles_quarantined",
}


def metric_data(
    env: str, job: str, figures: Mapping[str, Any], at: datetime
) -> list[dict[str, Any]]:
    """The job's figures as MetricData entries, all stamped at `at` (the job's end)."""
    dims = [{"Name": "env", "Value": env}, {"Name": "job", "Value": job}]

    def datum(name: str, value: float, unit: str, *extra: dict[str, str]) -> dict[str, Any]:
        return {
            "MetricName": name,
            "Dimensions": [*dims, *extra],
            "Timestamp": at,
            "Value": float(value),
            "Unit": unit,
        }

    data = [datum("seconds", figures["seconds"], "Seconds")] if "seconds" in figures else []
    data += [datum(k, figures[k], "Count") for k in COUNTS if _number(figures.get(k))]
    for key, name in BY_REASON.items():
        for reason, n in sorted((figures.get(key) or {}).items()):
            data.append(datum(name, n, "Count", {"Name": "reason", "Value": str(reason)}))
    if _number(figures.get("records_read")) and "quarantined" in figures:
        rate = (
            100.0 * figures["quarantined"] / figures["records_read"]
            if figures["records_read"]
            else 0.0
        )
        data.append(datum("quarantine_rate", rate, "Percent"))
    results = figures.get("dq") or []
    if results:  # alarms: any failed `fail` rule, any warning
        statuses = [r.get("status") for r in results]
        data.append(datum("dq_failures", statuses.count("fail"), "Count"))
        data.append(datum("dq_warnings", statuses.count("warn"), "Count"))
    newest = figures.get("newest_ingested_at")
    if newest:
        lag = (at - datetime.fromisoformat(str(newest))).total_seconds()
        data.append(datum("freshness_lag_seconds", max(lag, 0.0), "Seconds"))
    return data


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _batches(data: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(data), MAX_DATA_PER_CALL):
        yield data[start : start + MAX_DATA_PER_CALL]


def publish_job_metrics(
    settings: Settings,
    job: str,
    figures: Mapping[str, Any],
    *,
    warn: Callable[[str], None] = print,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    client: Any = None,
) -> int:
    """Publish the job's figures when `metrics: cloudwatch`; the number of metric data sent
    (0 when off, or when publishing failed: one warning line, the run goes on)."""
    if settings.metrics != "cloudwatch":
        return 0
    data = metric_data(settings.env, job, figures, now())
    try:
        cloudwatch = client or aws_client("cloudwatch", settings.aws_region)
        for batch in _batches(data):
            cloudwatch.put_metric_data(Namespace=settings.metrics_namespace, MetricData=batch)
    except Exception as exc:  # metrics are for watching the run; they never fail it
        first = next(iter(str(exc).splitlines()), "")
        warn(f"warning: {job}: metrics not published to CloudWatch: {type(exc).__name__}: {first}")
        return 0
    return len(data)
