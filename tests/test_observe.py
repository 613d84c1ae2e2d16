"""Observed metrics arrive for empty writes too, and a missing one fails instead of hanging."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import LongType, StructField, StructType

from clickstream.observe import ObservationMissing, observed
from clickstream.tables import Table
from clickstream.writer import dts_metric, observed_dts, write_table

# A dt-partitioned table of two counts (the first shape of daily_active_users).
COUNTS = Table(
    "daily_counts",
    "curated/daily_counts",
    StructType([StructField("active_users", LongType()), StructField("events", LongType())]),
)


def test_metrics_of_a_write_whose_input_is_empty_arrive(
    make_frame: Callable[..., DataFrame], tmp_path: Path
) -> None:
    # GIVEN an observed frame that filters every row away (Spark can prove nothing is left)
    obs = Observation("empty_write")
    rows = make_frame([(1, 2, "2026-03-01")], "active_users long, events long, dt string")
    empty = rows.where("active_users < 0").observe(
        obs, F.count(F.lit(1)).alias("rows"), dts_metric()
    )
    # WHEN it is written THEN its metrics say zero rows and no dates (instead of waiting forever)
    write_table(empty, str(tmp_path), COUNTS)
    assert observed(obs, timeout_s=30)["rows"] == 0
    assert observed_dts(obs) == []


def test_an_observation_whose_action_never_ran_fails_clearly(spark: SparkSession) -> None:
    obs = Observation("never_ran")
    spark.range(3).observe(obs, F.count(F.lit(1)).alias("rows"))
    with pytest.raises(ObservationMissing, match="never_ran"):
        observed(obs, timeout_s=0.1)
