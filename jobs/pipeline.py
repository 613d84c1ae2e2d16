"""pipeline: every job (load_titles, curate_events, build_sessions, daily_active_users) in order,
in one application.

One script for every runtime (clickstream.runtime.entry tells them apart):
- AWS Glue 5.0 job script (deploy with glue_single_job: true): Glue passes --JOB_NAME, --env and
  --job-bookmark-option; one Glue job start and one minimum charge per run instead of four;
- EMR step: spark-submit --archives <environment archive>#environment --files <conf> jobs/pipeline.py --env dev;
- locally: python jobs/pipeline.py --env local [--set KEY=VALUE ...] (as clickstream run).
"""

from __future__ import annotations

import sys

from clickstream.runtime.entry import run_entry


def main(argv: list[str] | None = None) -> int:
    """Run every job with the command-line arguments (sys.argv[1:] when None); the exit code."""
    return run_entry("pipeline", argv)


if __name__ == "__main__":
    sys.exit(main())
