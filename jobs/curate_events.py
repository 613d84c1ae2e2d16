"""curate_events: new raw Firehose objects to deduplicated, enriched, sessionized events.

One script for every runtime (clickstream.runtime.entry tells them apart):
- AWS Glue 5.0 job script: Glue passes --JOB_NAME, --env and --job-bookmark-option;
- EMR step: spark-submit --archives <environment archive>#environment --files <conf> jobs/curate_events.py --env dev;
- locally: python jobs/curate_events.py --env local [--set KEY=VALUE ...].
"""

from __future__ import annotations

import sys

from clickstream.runtime.entry import run_entry


def main(argv: list[str] | None = None) -> int:
    """Run curate_events with the command-line arguments (sys.argv[1:] when None); the exit code."""
    return run_entry("curate_events", argv)


if __name__ == "__main__":
    sys.exit(main())
