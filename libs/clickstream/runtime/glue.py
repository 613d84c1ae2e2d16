"""The AWS Glue adapter: Glue's arguments, GlueContext, job bookmarks, job.init and job.commit.

This is the only module that imports awsglue, and only inside its functions: awsglue exists on
Glue alone (its GlueContext needs Glue's JVM jars), so EMR and local runs never load it.

The call sequence of a run:
1. getResolvedOptions(--JOB_NAME, --env [, --conf_overrides]); settings loaded (fail fast);
2. SparkContext.getOrCreate(), GlueContext, Job(glue_context), job.init(JOB_NAME, args);
3. runner.run_job with GlueInputs: the raw catalog sources (raw_clickstream, ref_titles) are
   read through the Glue Data Catalog with a stable transformation_ctx, so Glue's own bookmark
   picks the new objects; the job writes, registers partitions, commits its change-set bookmark;
4. job.commit(), only after run_job returned. A failure propagates before it, so Glue marks the
   run failed and its bookmark stays where it was.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from clickstream.aws.glue_catalog import RAW_CLICKSTREAM, REF_TITLES
from clickstream.config import ConfigError, Settings, load_settings
from clickstream.pipeline.context import BookmarkInputs, JobContext, Selection
from clickstream.spark import apply_sql_conf

# Sources read through the Glue Data Catalog (tables in raw_database), tracked by Glue's bookmark.
CATALOG_SOURCES = (RAW_CLICKSTREAM, REF_TITLES)
# Column Glue's reader adds with the object each row came from (format option attachFilename).
FILE_COLUMN = "source_file"
BOOKMARK_FLAG = "--job-bookmark-option"
OVERRIDES_FLAG = "--conf_overrides"
_SCHEME_ALIASES = {"s3a": "s3", "s3n": "s3"}
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):(.*)", re.DOTALL)


class UnlistedObjectsError(RuntimeError):
    """Glue reported objects the job's listing did not see; committing would skip them forever."""


def transformation_ctx(job: str, source: str) -> str:
    """The stable transformation_ctx of a job's catalog source: Glue keys its bookmark on it."""
    return f"{job}_{source}"


def normalise_uri(uri: str) -> str:
    """One spelling per object: s3a:// and s3n:// as s3://, file:/// as file:/, no %-escapes."""
    text = uri.strip()
    match = _SCHEME.match(text)
    scheme, rest = (match.group(1).lower(), match.group(2)) if match else ("file", text)
    scheme = _SCHEME_ALIASES.get(scheme, scheme)
    netloc, path = "", rest
    if rest.startswith("//"):
        netloc, slash, tail = rest[2:].partition("/")
        path = slash + tail
    path = unquote(path).rstrip("/")
    if scheme == "file":  # file:/p, file:///p and file://localhost/p are the same file
        return f"file:{path}"
    return f"{scheme}://{netloc}{path}"


def has_flag(argv: Sequence[str], flag: str) -> bool:
    """Whether argv carries the flag, as `--flag value` or `--flag=value`."""
    return any(arg == flag or arg.startswith(f"{flag}=") for arg in argv)


def parse_overrides(text: str) -> list[str]:
    """--conf_overrides 'k=v;k=v' as a list of KEY=VALUE items (blanks skipped)."""
    return [item.strip() for item in text.split(";") if item.strip()]


def glue_settings(argv: Sequence[str]) -> tuple[dict[str, Any], Settings]:
    """Glue's resolved arguments and the settings they select (conf files from --extra-files).

    --conf_overrides adds KEY=VALUE items; Glue's --job-bookmark-option, when passed, becomes
    bookmark_option (last, so it wins), and the derived jobs' change-set bookmarks follow it.
    """
    from awsglue.utils import getResolvedOptions

    names = ["JOB_NAME", "env"]
    if has_flag(argv, OVERRIDES_FLAG):
        names.append(OVERRIDES_FLAG.removeprefix("--"))
    # getResolvedOptions skips args[0], the script path in sys.argv.
    args = dict(getResolvedOptions(["glue-job-script", *argv], names))
    overrides = parse_overrides(args.get("conf_overrides") or "")
    if has_flag(argv, BOOKMARK_FLAG):
        overrides.append(f"bookmark_option={args['job_bookmark_option']}")
    return args, load_settings(args["env"], overrides)


@dataclass
class GlueInputs:
    """Glue's job bookmark for the raw catalog sources; the project's store for the others."""

    glue_context: Any
    settings: Settings

    def select(self, job: str, source: str, candidates: Mapping[str, str]) -> Selection:
        """The candidates Glue's bookmark reports as new (catalog sources), else the lake's store.

        For a catalog source the Selection's commit does nothing: job.commit() advances Glue's
        bookmark after the run. Glue's reader only picks the objects; the project's Firehose
        reader parses them (Spark's and Glue's JSON readers drop concatenated objects).
        """
        if source not in CATALOG_SOURCES:
            spark = self.glue_context.spark_session
            return BookmarkInputs(spark, self.settings).select(job, source, candidates)
        by_uri = {normalise_uri(candidate): candidate for candidate in candidates}
        reported = self.new_objects(job, source)
        unlisted = sorted(reported - by_uri.keys())
        if unlisted:
            raise UnlistedObjectsError(
                f"{job}: Glue's bookmark reports {len(unlisted)} object(s) of {source} that the "
                f"listing did not see (written during the run?), e.g. {unlisted[0]}; failing "
                "before any write so Glue's bookmark does not skip them; run the job again"
            )
        return Selection(sorted(by_uri[uri] for uri in reported))

    def jdbc_frame(self, job: str, source: str, settings: Settings) -> Any:
        """Rows Glue's JDBC bookmark on titles_jdbc_key reports as new (titles_source=jdbc);
        the Glue connection titles_jdbc_glue_connection holds the URL and the credentials."""
        if not settings.titles_jdbc_glue_connection:
            raise ConfigError(
                "titles_jdbc_glue_connection is not set: name the Glue connection to the database"
            )
        frame = self.glue_context.create_dynamic_frame.from_options(
            connection_type="postgresql",
            connection_options={
                "useConnectionProperties": "true",
                "connectionName": settings.titles_jdbc_glue_connection,
                "dbtable": settings.titles_jdbc_table,
                "jobBookmarkKeys": [settings.titles_jdbc_key],
                "jobBookmarkKeysSortOrder": "asc",
            },
            transformation_ctx=transformation_ctx(job, source),
        )
        return frame.toDF()

    def new_objects(self, job: str, source: str) -> set[str]:
        """Normalised URIs of the objects Glue's bookmark reports as new for the source."""
        frame = self.glue_context.create_dynamic_frame.from_catalog(
            database=self.settings.raw_database,
            table_name=source,
            transformation_ctx=transformation_ctx(job, source),
            additional_options={"attachFilename": FILE_COLUMN, "recurse": True},
        )
        df = frame.toDF()
        if FILE_COLUMN not in df.columns:  # Glue gives no columns at all when nothing is new
            return set()
        rows = df.select(FILE_COLUMN).distinct().collect()
        return {normalise_uri(row[0]) for row in rows if row[0]}


def run_glue_job(job: str, argv: Sequence[str]) -> int:
    """Run one pipeline job as an AWS Glue job; job.commit() only after it succeeded."""
    from awsglue.context import GlueContext
    from awsglue.job import Job
    from pyspark.context import SparkContext

    from clickstream.pipeline.runner import resolve_jobs, run_job

    resolve_jobs([job])
    args, settings = glue_settings(argv)
    glue_context = GlueContext(SparkContext.getOrCreate())
    spark = glue_context.spark_session
    glue_job = Job(glue_context)
    glue_job.init(args["JOB_NAME"], args)
    apply_sql_conf(spark)
    ctx = JobContext(spark, settings, inputs=GlueInputs(glue_context, settings))
    # No try/finally: an exception must reach Glue without job.commit() (the bookmark would
    # otherwise move past inputs whose outputs were never written).
    outcome = run_job(ctx, job)
    glue_job.commit()
    print(json.dumps({"job": job, "glue_job": args["JOB_NAME"], **outcome.metrics}, default=str))
    return 0
