"""`clickstream demo --set titles_source=dms`: the demo takes its titles from the sample
generator's AWS DMS files (a full load, then CDC files inside the event days)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from clickstream.cli import main
from clickstream.tables import EVENTS, TITLES_HISTORY
from clickstream.writer import read_table


@pytest.mark.slow
def test_the_demo_runs_with_titles_from_the_sample_dms_files(
    spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a demo lake folder and titles_source=dms (its own catalog database)
    lake = tmp_path / "demo"
    # WHEN `clickstream demo` runs on a small sample
    code = main(
        [
            *("demo", "--events", "400", "--users", "30", "--days", "2"),
            *("--set", f"lake_root={lake}", "--set", "titles_source=dms"),
            *("--set", "database=clickstream_demo_dms"),
        ]
    )
    out = capsys.readouterr().out
    # THEN it finishes with the DAU table and the chart
    assert code == 0, out
    assert "clickstream_demo_dms.daily_active_users (from the catalog):" in out
    assert (lake / "reports" / "daily_active_users.png").is_file()
    # AND the titles come from the DMS files: renames of the CDC files are versions ...
    history = read_table(spark, str(lake), TITLES_HISTORY)
    renamed = history.where(F.col("title").endswith("(Director's Cut)"))
    assert renamed.count() == 2  # one rename per CDC file, one file per day
    # ... and every event carries the version of its title valid at its event time
    events = read_table(spark, str(lake), EVENTS).where(F.col("title_id").isNotNull())
    valid = history.select(
        "title_id",
        F.col("title").alias("version_title"),
        "valid_from",
        "valid_to",
    )
    at_time = (F.col("valid_from") <= F.col("event_time")) & (
        F.col("valid_to").isNull() | (F.col("event_time") < F.col("valid_to"))
    )
    joined = events.join(valid, ["title_id"], "left").where(at_time)
    assert joined.where(~F.col("title").eqNullSafe(F.col("version_title"))).count() == 0
    cut = renamed.select("title_id").distinct()
    assert events.join(cut, "title_id").where(F.col("title").endswith("(Director's Cut)")).count()
