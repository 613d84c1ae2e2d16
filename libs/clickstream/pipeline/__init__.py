"""The pipeline's jobs, in run order. Each job reads, calls library transforms, and writes."""

# Order matters: later jobs read what earlier ones wrote.
JOB_NAMES: tuple[str, ...] = (
    "load_titles",
    "curate_events",
    "build_sessions",
    "daily_active_users",
)

# The job each job reads from and so waits for (the Glue workflow's conditional triggers and
# the EMR step order follow it): titles -> events -> sessions and daily active users.
UPSTREAM_JOB: dict[str, str] = {
    "curate_events": "load_titles",
    "build_sessions": "curate_events",
    "daily_active_users": "curate_events",
}
