"""Job bookmarks like AWS Glue's for runtimes without them (local, EMR), kept under the lake.

A bookmark records the inputs a job has processed, each with a fingerprint (for raw objects:
size and modification time). Options follow Glue's --job-bookmark-option:
- job-bookmark-enable: process new or changed inputs; advance the state after a successful run.
- job-bookmark-disable: process every input; leave the state untouched.
- job-bookmark-pause: process new or changed inputs; leave the state untouched.
The state is written only by commit(), which the runner calls after the job's outputs are written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pyspark.sql import SparkSession

from clickstream import fs

ENABLE, DISABLE, PAUSE = "job-bookmark-enable", "job-bookmark-disable", "job-bookmark-pause"


def bookmark_path(lake: str, job: str) -> str:
    """Where a job's bookmark lives under the lake root."""
    return f"{lake}/_state/bookmarks/{job}.json"


@dataclass
class Bookmark:
    """A job's processed inputs (id -> fingerprint) and what the current run has taken on."""

    spark: SparkSession
    lake: str
    job: str
    option: str
    processed: dict[str, str] = field(default_factory=dict)
    pending: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, spark: SparkSession, lake: str, job: str, option: str) -> Bookmark:
        """Read the job's bookmark state (empty when the job never committed)."""
        text = fs.read_text(spark, bookmark_path(lake, job))
        processed = json.loads(text)["processed"] if text else {}
        return cls(spark, lake, job, option, dict(processed))

    def select(self, inputs: Mapping[str, str]) -> list[str]:
        """The inputs this run must process: all when disabled, else the new or changed ones."""
        chosen = [
            key
            for key, fingerprint in inputs.items()
            if self.option == DISABLE or self.processed.get(key) != fingerprint
        ]
        self.pending.update({key: inputs[key] for key in chosen})
        return sorted(chosen)

    def commit(self) -> bool:
        """Record the run's inputs as processed (only with enable); True when state changed."""
        if self.option != ENABLE or not self.pending:
            return False
        self.processed.update(self.pending)
        self.pending = {}
        doc = {
            "job": self.job,
            "updated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "processed": dict(sorted(self.processed.items())),
        }
        fs.write_text(self.spark, bookmark_path(self.lake, self.job), json.dumps(doc, indent=1))
        return True


def reset(spark: SparkSession, lake: str, jobs: Iterable[str]) -> list[str]:
    """Forget what the jobs processed (like Glue's reset-job-bookmark); returns those reset."""
    return [job for job in jobs if fs.delete(spark, bookmark_path(lake, job))]


def show(spark: SparkSession, lake: str, job: str) -> dict[str, object]:
    """A job's bookmark state as a document (empty processed set when never committed)."""
    text = fs.read_text(spark, bookmark_path(lake, job))
    return json.loads(text) if text else {"job": job, "processed": {}}
