"""`clickstream forget` on an S3 lake (moto) with pseudonymous ids: the tables and state hold
none of their ids, pseudonyms or event_ids; later events are counted, not curated; DAU equals a
full run without their records; --purge-raw leaves no raw object holding them."""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Callable
from pathlib import Path

import boto3
import pyarrow.parquet as pq
import pytest
from pyspark.sql import SparkSession

from clickstream.config import Settings, load_settings
from clickstream.pipeline.forget import forget
from clickstream.pipeline.runner import run_pipeline
from clickstream.spark import get_spark
from clickstream.tables import DAILY_ACTIVE_USERS
from clickstream.writer import read_table
from tests.pipeline import incremental_helpers as ih
from tests.pipeline.test_forget import (
    CURATE,
    FORGOTTEN,
    LATER_HOUR,
    SETTINGS,
    THEIR_EVENT_IDS,
    _assert_no_file_holds_them,
    build,
    without_them,
)
from tests.pipeline.test_privacy_lake import KEY, KEY_ENV
from tests.pipeline.test_s3_lake import upload

pytestmark = pytest.mark.slow

Check = Callable[..., None]
PSEUDONYMS = ["pseudonymize_user_id=true", f"pseudonymize_key_env={KEY_ENV}"]
__all__ = ["without_them"]  # the module fixture of the expected lake, shared


def _s3_texts(lake: str) -> dict[str, str]:
    """Every object under an S3 lake but the raw zone, as text (Parquet: its string values)."""
    bucket, _, prefix = lake.removeprefix("s3://").partition("/")
    s3 = boto3.client("s3")
    texts = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/"):
        for obj in page.get("Contents", []):
            key = obj["Key"]
            if key.startswith(f"{prefix}/raw/") or key.endswith(".crc"):
                continue
            data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            if key.endswith(".parquet"):
                rows = pq.read_table(io.BytesIO(data)).to_pylist()
                texts[key] = json.dumps(rows, default=str, ensure_ascii=False)
            else:
                texts[key] = data.decode("utf-8", "replace")
    return texts


def _s3_raw_texts(lake: str) -> dict[str, str]:
    bucket, _, prefix = lake.removeprefix("s3://").partition("/")
    s3 = boto3.client("s3")
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/raw/")["Contents"]
    texts = {}
    for obj in listed:
        data = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
        texts[obj["Key"]] = (gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data).decode()
    return texts


def test_forget_on_s3_with_pseudonymous_ids(
    spark: SparkSession,
    moto: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    without_them: Settings,
    assert_frames_equal: Check,
) -> None:
    # GIVEN a pseudonymized Parquet lake on S3 (moto) curated from the first two days
    monkeypatch.setenv(KEY_ENV, KEY)
    boto3.client("s3").create_bucket(Bucket="forget-lake")
    lake = "s3://forget-lake/lake"
    local = tmp_path / "local"
    build(local)
    later = [p for p in ih.raw_objects(local) if ih.relative(p, local).startswith(LATER_HOUR)]
    first = [p for p in local.rglob("*") if p.is_file() and p not in later]
    upload(local, first, lake)
    settings = load_settings(
        "local",
        [f"lake_root={lake}", "catalog=none", *SETTINGS, *PSEUDONYMS],
    )
    assert get_spark(settings) is spark  # passes the AWS environment on to S3A
    run_pipeline(settings, spark=spark, echo=ih.quiet)
    # WHEN both users are forgotten (by their raw ids) and the later batch arrives
    forget(settings, FORGOTTEN, spark=spark, echo=ih.quiet)
    upload(local, later, lake)
    summary = run_pipeline(settings, spark=spark, echo=ih.quiet)
    # THEN their later events are counted, not curated; DAU is the full run's without them
    assert summary["jobs"]["curate_events"]["quarantined_by_reason"] == {"forgotten_user": 2}
    assert_frames_equal(
        read_table(spark, lake, DAILY_ACTIVE_USERS),
        read_table(spark, without_them.lake, DAILY_ACTIVE_USERS),
    )
    # AND no object under the lake but the raw zone holds their ids, pseudonyms or event_ids
    texts = _s3_texts(lake)
    assert any(k.endswith(".parquet") and "/_state/event_index/" in k for k in texts)
    _assert_no_file_holds_them(settings, texts)
    # WHEN forget runs again with --purge-raw
    record = forget(settings, FORGOTTEN, purge_raw=True, spark=spark, echo=ih.quiet)
    # THEN no raw object holds them, and the next run reads nothing new
    assert len(record["raw_objects_rewritten"]) == 3
    for secret in (*FORGOTTEN, *THEIR_EVENT_IDS):
        assert not [k for k, t in _s3_raw_texts(lake).items() if secret in t], secret
    summary = run_pipeline(settings, [CURATE], spark=spark, echo=ih.quiet)
    assert summary["jobs"][CURATE]["objects"] == 0
