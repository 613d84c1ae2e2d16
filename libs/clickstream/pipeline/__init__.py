"""The pipeline's jobs, in run order. Each job reads, calls library transforms, and writes."""

from collections.abc import Iterable, Sequence

from clickstream.config import ConfigError

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

# The tables each job writes (its own state under _state aside). Leases follow from it: a run
# holds the lease of every job that writes a table it writes, so two runs never write one table at
# once (load_titles rewrites the stored events a changed title re-enriches, so it and
# curate_events exclude each other; maintain holds the writers of the tables it compacts).
WRITES: dict[str, tuple[str, ...]] = {
    "load_titles": ("titles", "titles_history", "quarantine_titles", "events"),
    "curate_events": ("events", "quarantine_clickstream", "dq_results"),
    "build_sessions": ("sessions",),
    "daily_active_users": ("daily_active_users", "user_activity", "users"),
}


def writers_of(tables: Iterable[str]) -> tuple[str, ...]:
    """The jobs that write any of the tables, in run order (the order leases are taken in)."""
    wanted = set(tables)
    return tuple(job for job in JOB_NAMES if wanted & set(WRITES[job]))


def leases_of(job: str) -> tuple[str, ...]:
    """The leases a run of the job holds: those of every job writing a table it writes (its own
    among them), in run order."""
    return writers_of(WRITES[job])


def resolve_jobs(names: Sequence[str]) -> list[str]:
    """The named jobs in pipeline order (all when none is named); unknown names fail fast."""
    unknown = [n for n in names if n not in JOB_NAMES]
    if unknown:
        raise ConfigError(f"unknown job(s) {', '.join(unknown)}; jobs are: {', '.join(JOB_NAMES)}")
    return [n for n in JOB_NAMES if not names or n in names]
