"""The quarantine write: a clean batch on dates without quarantine costs no write."""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import SparkSession

from clickstream.pipeline.context import JobContext
from clickstream.pipeline.curate import quarantine
from clickstream.pipeline.curate.parse_cache import parse
from clickstream.raw_objects import list_raw_objects
from clickstream.state_store import store_for
from clickstream.tables import QUARANTINE
from clickstream.writer import read_table
from tests.pipeline import incremental_helpers as ih

HOUR = ("2026", "03", "01", "10")
NAME = "clickstream-1-2026-03-01-10-{}-00-0a0a0a0a-0000-4000-8000-00000000000a"
GOOD = '{"event_id":"e1","user_id":"u1","event_type":"play","event_time":"2026-03-01T10:00:00Z"}'


def _object(lake: Path, minute: str, text: str) -> None:
    folder = lake.joinpath("raw", "clickstream", *HOUR)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / NAME.format(minute)).write_text(text, encoding="utf-8")


def _write(ctx: JobContext, rejected_rows: int | None) -> quarantine.QuarantineWrite:
    objects = list_raw_objects(ctx.spark, ctx.settings.path("raw", "clickstream"))
    return quarantine.write_quarantine(ctx, parse(ctx, objects), objects, rejected_rows)


def test_a_batch_without_rejected_records_on_a_date_without_quarantine_writes_nothing(
    spark: SparkSession, tmp_path: Path
):
    # GIVEN one object of valid records, arriving on a date with no quarantine stored
    _object(tmp_path, "05", GOOD + "\n")
    ctx = JobContext(spark, ih.lake_settings(tmp_path, []), ih.quiet)
    # WHEN its quarantine is written, knowing the parse rejected nothing
    written = _write(ctx, 0)
    # THEN nothing is written: no partition, no table folder, no write intent left
    assert written == quarantine.QuarantineWrite(0, [], [])
    assert not Path(ctx.settings.path(QUARANTINE.location)).exists()
    assert store_for(ctx.settings.lake).read(quarantine.INTENT) is None


def test_a_clean_rerun_of_quarantined_objects_still_removes_their_old_rows(
    spark: SparkSession, tmp_path: Path
):
    # GIVEN an object whose malformed record was quarantined
    _object(tmp_path, "05", GOOD + "\nthis is not json\n")
    ctx = JobContext(spark, ih.lake_settings(tmp_path, []), ih.quiet)
    assert _write(ctx, 1).rows == 1
    # WHEN the object is delivered again without the bad record and re-curated (nothing rejected)
    _object(tmp_path, "05", GOOD + "\n")
    written = _write(ctx, 0)
    # THEN the date holding its old row is rewritten: the row is gone, the emptied date dropped
    assert written == quarantine.QuarantineWrite(0, [], ["2026-03-01"])
    assert read_table(spark, ctx.settings.lake, QUARANTINE).count() == 0
