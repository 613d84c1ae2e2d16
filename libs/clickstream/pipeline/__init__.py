"""The pipeline's jobs, in run order. Each job reads, calls library transforms, and writes."""

# Order matters: later jobs read what earlier ones wrote.
JOB_NAMES: tuple[str, ...] = (
    "load_titles",
    "curate_events",
    "build_sessions",
    "daily_active_users",
)

# The script that runs every job above in order in one application (jobs/pipeline.py): one
# Glue job per pipeline with glue_single_job, or one EMR step / local run of the whole pipeline.
PIPELINE = "pipeline"

# The job each job reads from and so waits for (the Glue workflow's conditional triggers and
# the EMR step order follow it): titles -> events -> sessions and daily active users.
UPSTREAM_JOB: dict[str, str] = {
    "curate_events": "load_titles",
    "build_sessions": "curate_events",
    "daily_active_users": "curate_events",
}

# Jobs that write a table another job owns take that job's lease too, so two runs never write
# one table at once: load_titles rewrites the stored events a changed title re-enriches.
SHARED_WRITERS: dict[str, tuple[str, ...]] = {"load_titles": ("curate_events",)}


def leases_of(job: str) -> tuple[str, ...]:
    """The leases a run of the job holds: its own, then those of the tables it shares."""
    return (job, *SHARED_WRITERS.get(job, ()))


# The tables each job writes that may be Delta tables (table_format: delta): the job brings their
# Redshift manifests up to date before it runs (a dead run may have left them behind a commit).
DELTA_WRITES: dict[str, tuple[str, ...]] = {
    "load_titles": ("events",),
    "curate_events": ("events", "quarantine_clickstream"),
    "build_sessions": ("sessions",),
    "daily_active_users": ("daily_active_users", "user_activity", "users"),
}
