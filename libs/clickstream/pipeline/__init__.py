"""The pipeline's jobs, in run order. Each job reads, calls library transforms, and writes."""

# Order matters: later jobs read what earlier ones wrote.
JOB_NAMES: tuple[str, ...] = (
    "load_titles",
    "curate_events",
    "build_sessions",
    "daily_active_users",
)
