"""Reading Spark Observations (df.observe) safely: metrics of an action, never a silent hang."""

from __future__ import annotations

import threading
from typing import Any

from pyspark.sql import Observation

# Spark drops an observed node from a plan it proves empty, and Observation.get then waits
# forever. SQL_CONF (clickstream.spark) excludes the empty-relation rules so metrics always
# arrive; this timeout turns any other case into a clear error instead of a hung job.
TIMEOUT_SECONDS = 300.0


class ObservationMissing(RuntimeError):
    """An action finished but Spark never reported the observed metrics."""


def observed(observation: Observation, timeout_s: float = TIMEOUT_SECONDS) -> dict[str, Any]:
    """The metrics of an observation whose action has run; raises if they never arrive."""
    result: dict[str, Any] = {}
    failure: list[BaseException] = []

    def fetch() -> None:
        try:
            result.update(observation.get)
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=fetch, name="observation", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if failure:
        raise failure[0]
    if thread.is_alive():
        raise ObservationMissing(
            f"no metrics for observation {observation._name!r} within {timeout_s:.0f}s: Spark "
            "removed the observed node (is spark.sql.optimizer.excludedRules overridden?)"
        )
    return result
