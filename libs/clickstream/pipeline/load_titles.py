"""load_titles: the reference titles CSV snapshot to curated/titles."""

from __future__ import annotations

from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from clickstream.observe import observed
from clickstream.pipeline.context import JobContext, JobOutcome
from clickstream.raw_objects import list_raw_objects
from clickstream.tables import TITLES
from clickstream.transforms import unique_titles
from clickstream.writer import write_table

JOB = "load_titles"


def read_titles_csv(spark: SparkSession, path: str) -> DataFrame:
    """RFC 4180 CSV with header title_id,title,genre (quoted commas, quotes, newlines, UTF-8)."""
    return (
        spark.read.schema(TITLES.schema)
        .option("header", True)
        .option("multiLine", True)
        .option("quote", '"')
        .option("escape", '"')
        .option("encoding", "UTF-8")
        .option("mode", "PERMISSIVE")
        .csv(path)
    )


def run(ctx: JobContext) -> JobOutcome:
    """Replace curated/titles with the snapshot when any CSV of it is new or changed."""
    spark, settings = ctx.spark, ctx.settings
    files = list_raw_objects(spark, settings.path("ref/titles"))
    selection = ctx.select(JOB, "ref_titles", {f.path: f"{f.size}:{f.modified_ms}" for f in files})
    if not selection.chosen:
        ctx.echo("  titles snapshot unchanged")
        return JobOutcome(metrics={"titles": None}, commit=selection.commit)
    raw = read_titles_csv(spark, settings.path("ref/titles"))
    rows = raw.filter(F.trim("title_id") != "")
    # The row count is observed during the write: no second pass, no cache.
    written = Observation("titles")
    titles = unique_titles(rows).observe(written, F.count(F.lit(1)).alias("rows"))
    write_table(titles, ctx.settings.lake, TITLES, target_file_mb=ctx.settings.target_file_mb)
    metrics = {"titles": int(observed(written)["rows"])}
    return JobOutcome(metrics=metrics, tables=(TITLES,), commit=selection.commit)
