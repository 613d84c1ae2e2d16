"""`make demo`: a fresh sample lake, the whole pipeline, the DAU table from the catalog, a chart."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from pyspark.sql import SparkSession

from clickstream.config import ConfigError, Settings
from clickstream.pipeline.runner import run_pipeline
from clickstream.spark import get_spark


def run_demo(settings: Settings, *, events: int, users: int, days: int) -> Path:
    """Regenerate the local lake, run every job, print DAU from the catalog; returns the chart."""
    from clickstream_tools.sample import generate_sample

    if not settings.is_local_lake:
        raise ConfigError(
            f"lake_root={settings.lake}: the demo rebuilds a local lake; use a folder"
        )
    lake = Path(settings.lake)
    if lake.exists():
        print(f"demo: removing the previous demo lake {lake}")
        shutil.rmtree(lake)
    t = time.perf_counter()
    report = generate_sample(lake, events=events, users=users, days=days)
    print(f"demo: sample raw zone written in {time.perf_counter() - t:.1f}s: {report}")
    spark = get_spark(settings, "clickstream-demo")
    run_pipeline(settings, spark=spark)
    rows = daily_active_users_from_catalog(spark, settings.database)
    print(f"\n{settings.database}.daily_active_users (from the catalog):")
    print(f"  {'dt':<12}" + "".join(f"{c:>{len(c) + 2}}" for c in METRICS))
    for dt, *values in rows:
        cells = (f"{v:>{len(c) + 2},}" for c, v in zip(METRICS, values, strict=True))
        print(f"  {dt:<12}" + "".join(cells))
    print(f"\n{settings.database}.events by device and app version (from events.properties):")
    for device, version, events in properties_breakdown(spark, settings.database):
        print(f"  {device or '-':<10}{version or '-':<14}{events:>10,}")
    chart = lake / "reports" / "daily_active_users.png"
    write_dau_chart(rows, chart)
    print(f"\nDAU chart: {chart}")
    return chart


# The columns of daily_active_users the demo prints, after dt.
METRICS = (
    "active_users",
    "events",
    "new_users",
    "returning_users",
    "active_users_7d",
    "active_users_28d",
)


def daily_active_users_from_catalog(spark: SparkSession, database: str) -> list[tuple]:
    """(dt, *METRICS) rows of the registered table, in date order."""
    columns = ", ".join(("dt", *METRICS))
    df = spark.sql(f"select {columns} from `{database}`.daily_active_users order by dt")
    return [tuple(r) for r in df.collect()]


def properties_breakdown(spark: SparkSession, database: str) -> list[tuple]:
    """(device, app_version, events) of the registered events table, read from properties (or
    from the columns, when those fields are promoted), most events first."""
    columns = set(spark.table(f"`{database}`.events").columns)
    fields = [
        name if name in columns else f"get_json_object(properties, '$.{name}')"
        for name in ("device", "app_version")
    ]
    df = spark.sql(
        f"select {fields[0]} as device, {fields[1]} as app_version, count(*) as events "
        f"from `{database}`.events group by 1, 2 order by events desc, 1, 2 limit 8"
    )
    return [tuple(r) for r in df.collect()]


def write_dau_chart(rows: list[tuple], path: Path) -> None:
    """A bar chart of daily active users per date, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(8, 4), dpi=110)
    ax.bar([r[0] for r in rows], [r[1] for r in rows], color="#2b7bba")
    for x, (_, active, *_) in enumerate(rows):
        ax.annotate(f"{active:,}", (x, active), ha="center", va="bottom", fontsize=9)
    ax.set_title("Daily active users")
    ax.set_xlabel("dt")
    ax.set_ylabel("active users")
    ax.spines[["top", "right"]].set_visible(False)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
