"""Run figures to CloudWatch on a moto server over HTTP, read back with GetMetricData."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from clickstream import run_metrics
from clickstream.aws_clients import MAX_ATTEMPTS
from clickstream.config import ConfigError, Settings, load_settings
from clickstream.run_metrics import metric_data, publish_job_metrics

AT = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
CURATE_FIGURES: dict[str, Any] = {
    "seconds": 31.5,
    "objects": 12,
    "records_read": 1000,
    "quarantined": 50,
    "quarantined_by_reason": {"not_json": 30, "invalid_event_time": 20},
    "valid": 950,
    "curated": 900,
    "duplicates_removed": 50,
    "dates_rewritten": 2,
    "newest_ingested_at": "2026-03-02T11:45:00+00:00",
}


def settings(*overrides: str) -> Settings:
    return load_settings("local", ["metrics=cloudwatch", *overrides])


def read_back(namespace: str, name: str, *dims: tuple[str, str]) -> list[float]:
    """GetMetricData of one metric (Sum over an hour around AT), as the operator's graph reads it."""
    cloudwatch = boto3.client("cloudwatch")
    answer = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "m",
                "MetricStat": {
                    "Metric": {
                        "Namespace": namespace,
                        "MetricName": name,
                        "Dimensions": [{"Name": k, "Value": v} for k, v in dims],
                    },
                    "Period": 60,
                    "Stat": "Sum",
                },
            }
        ],
        StartTime=AT - timedelta(hours=1),
        EndTime=AT + timedelta(hours=1),
    )
    return list(answer["MetricDataResults"][0]["Values"])


def test_a_curate_run_publishes_its_figures_and_get_metric_data_reads_them_back(moto: str) -> None:
    # GIVEN metrics: cloudwatch WHEN curate_events' figures are published
    sent = publish_job_metrics(settings(), "curate_events", CURATE_FIGURES, now=lambda: AT)
    # THEN every figure is one metric with the dimensions env and job
    job = (("env", "local"), ("job", "curate_events"))
    assert sent == 11
    for name, value in [
        ("records_read", 1000),
        ("curated", 900),
        ("duplicates_removed", 50),
        ("quarantined", 50),
        ("dates_rewritten", 2),
        ("objects", 12),
        ("seconds", 31.5),
        ("quarantine_rate", 5.0),
        ("freshness_lag_seconds", 900.0),
    ]:
        assert read_back("Clickstream", name, *job) == [value], name
    # AND per reason with a third dimension, reason
    assert read_back("Clickstream", "quarantined", *job, ("reason", "not_json")) == [30]
    assert read_back("Clickstream", "quarantined", *job, ("reason", "invalid_event_time")) == [20]


def test_the_namespace_comes_from_config_and_other_jobs_publish_their_own_figures(
    moto: str,
) -> None:
    config = settings("metrics_namespace=Team/Clickstream")
    publish_job_metrics(
        config, "build_sessions", {"seconds": 4.0, "sessions_written": 70}, now=lambda: AT
    )
    job = (("env", "local"), ("job", "build_sessions"))
    assert read_back("Team/Clickstream", "sessions_written", *job) == [70]
    assert read_back("Team/Clickstream", "seconds", *job) == [4.0]
    # a job without records has no quarantine rate (nothing to divide)
    assert read_back("Team/Clickstream", "quarantine_rate", *job) == []
    # (moto's GetMetricData ignores the namespace of a query with dimensions: ListMetrics tells)
    listed = boto3.client("cloudwatch").list_metrics(Namespace="Team/Clickstream")["Metrics"]
    assert sorted(m["MetricName"] for m in listed) == ["seconds", "sessions_written"]
    assert boto3.client("cloudwatch").list_metrics(Namespace="Clickstream")["Metrics"] == []


def test_metrics_none_publishes_nothing_and_calls_no_endpoint() -> None:
    class Refuses:
        def put_metric_data(self, **_: Any) -> None:
            raise AssertionError("called")

    config = load_settings("local")
    assert config.metrics == "none"
    assert publish_job_metrics(config, "curate_events", CURATE_FIGURES, client=Refuses()) == 0


def test_a_failed_publish_is_one_warning_line_and_never_fails_the_run() -> None:
    # GIVEN CloudWatch refusing every call (after botocore's retries)
    from botocore.exceptions import ClientError

    class Throttled:
        def put_metric_data(self, **_: Any) -> None:
            raise ClientError(
                {"Error": {"Code": "Throttling", "Message": "Rate exceeded\nmore"}},
                "PutMetricData",
            )

    warnings: list[str] = []
    # WHEN the job's figures are published THEN nothing raises, and one line says why
    sent = publish_job_metrics(
        settings(), "curate_events", CURATE_FIGURES, warn=warnings.append, client=Throttled()
    )
    assert sent == 0
    assert len(warnings) == 1 and "\n" not in warnings[0]
    assert warnings[0].startswith("warning: curate_events: metrics not published to CloudWatch")
    assert "Throttling" in warnings[0]


def test_an_unreachable_endpoint_costs_a_warning_not_the_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN an endpoint where nothing listens (one attempt: the retry policy is tested below)
    from tests.moto_server import free_port

    monkeypatch.setattr(run_metrics, "aws_client", _one_attempt_client)
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    warnings: list[str] = []
    assert (
        publish_job_metrics(settings(), "load_titles", {"seconds": 1.0}, warn=warnings.append) == 0
    )
    assert len(warnings) == 1 and "EndpointConnectionError" in warnings[0]


def _one_attempt_client(service: str, region: str | None = None) -> Any:
    from botocore.config import Config

    return boto3.client(
        service, region_name=region, config=Config(retries={"total_max_attempts": 1})
    )


def test_publishing_goes_through_the_shared_client_with_standard_retries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN the client the publisher makes
    made: list[Any] = []

    def spy(service: str, region: str | None = None) -> Any:
        from clickstream.aws_clients import aws_client

        client = aws_client(service, region)
        made.append(client)
        return type("Sink", (), {"put_metric_data": lambda self, **_: None})()

    monkeypatch.setattr(run_metrics, "aws_client", spy)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    publish_job_metrics(settings("aws_region=eu-west-1"), "curate_events", CURATE_FIGURES)
    # THEN it is CloudWatch's, in the configured region, retried with backoff (standard mode)
    (client,) = made
    assert client.meta.service_model.service_name == "cloudwatch"
    assert client.meta.region_name == "eu-west-1"
    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": MAX_ATTEMPTS}


def test_more_data_than_one_call_takes_is_split_at_the_api_limit() -> None:
    # GIVEN a job with more reasons than PutMetricData takes metric data in one call
    reasons = {f"reason_{i:04d}": 1 for i in range(run_metrics.MAX_DATA_PER_CALL + 5)}
    calls: list[int] = []

    class Counts:
        def put_metric_data(self, **kwargs: Any) -> None:
            calls.append(len(kwargs["MetricData"]))

    figures = {"records_read": 10, "quarantined": 10, "quarantined_by_reason": reasons}
    sent = publish_job_metrics(settings(), "curate_events", figures, client=Counts())
    # THEN two calls, the first at the limit, and nothing lost
    assert calls == [run_metrics.MAX_DATA_PER_CALL, sent - run_metrics.MAX_DATA_PER_CALL]


def test_freshness_lag_is_now_minus_the_newest_ingested_at_never_negative() -> None:
    ahead = {"newest_ingested_at": (AT + timedelta(minutes=5)).isoformat()}
    behind = {"newest_ingested_at": (AT - timedelta(hours=2)).isoformat()}
    lag = [d["Value"] for d in metric_data("dev", "curate_events", ahead, AT)]
    assert lag == [0.0]  # a clock skew of the producer is no negative lag
    (datum,) = metric_data("dev", "curate_events", behind, AT)
    assert datum["MetricName"] == "freshness_lag_seconds" and datum["Value"] == 7200.0


def test_zero_records_read_is_a_quarantine_rate_of_zero_not_a_division_error() -> None:
    data = metric_data("dev", "curate_events", {"records_read": 0, "quarantined": 0}, AT)
    rate = [d["Value"] for d in data if d["MetricName"] == "quarantine_rate"]
    assert rate == [0.0]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("metrics=statsd", "metrics='statsd': use one of cloudwatch, none"),
        ("metrics_namespace=AWS/Glue", "metrics_namespace='AWS/Glue': expected a CloudWatch"),
        ("metrics_namespace=", "metrics_namespace='': expected a CloudWatch namespace"),
        ("metrics_namespace=a|b", "metrics_namespace='a|b'"),
    ],
)
def test_bad_metrics_settings_fail_fast_naming_the_key(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match="^" + message.replace("|", r"\|")):
        load_settings("local", [override])


def test_dev_and_prod_publish_and_local_does_not() -> None:
    assert load_settings("local").metrics == "none"
    assert load_settings("dev").metrics == load_settings("prod").metrics == "cloudwatch"
