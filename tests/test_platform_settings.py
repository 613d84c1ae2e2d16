"""Settings that mean what they say on every runtime (issue 28 item 6): spark_conf on a session
Glue or EMR started, spark-submit's master kept, and --set KEY=null."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from clickstream.config import ConfigError, load_settings
from clickstream.spark import apply_spark_conf

REPO = Path(__file__).resolve().parents[1]


def test_runtime_spark_conf_reaches_a_session_the_platform_started(spark: SparkSession) -> None:
    # GIVEN Glue/EMR settings (dev: no spark_master) naming a runtime SQL setting
    settings = load_settings("dev", ["spark_conf.spark.sql.shuffle.partitions=7"])
    before = spark.conf.get("spark.sql.shuffle.partitions")
    try:
        # WHEN applied to the running session THEN it takes the value
        apply_spark_conf(spark, settings)
        assert spark.conf.get("spark.sql.shuffle.partitions") == "7"
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", before)


def test_a_static_spark_setting_fails_fast_naming_the_launch_parameter(
    spark: SparkSession,
) -> None:
    # GIVEN a static setting the running session does not hold
    settings = load_settings("dev", ["spark_conf.spark.driver.memory=64g"])
    # THEN it is refused, naming Glue's job parameter and spark-submit's --conf
    with pytest.raises(ConfigError) as caught:
        apply_spark_conf(spark, settings)
    message = str(caught.value)
    assert message.startswith("spark_conf.spark.driver.memory=64g: a static Spark setting")
    assert "job parameter --conf spark.driver.memory=64g" in message
    assert "spark-submit --conf spark.driver.memory=64g" in message
    # AND a static setting the session already holds (set at launch) is accepted as it is
    warehouse = spark.conf.get("spark.sql.warehouse.dir")
    same = load_settings("dev", [f"spark_conf.spark.sql.warehouse.dir={warehouse}"])
    apply_spark_conf(spark, same)


@pytest.mark.parametrize(
    ("key", "default"),
    [("spark_master", "local[2]"), ("glue_workflow_schedule", "cron(0 * * * ? *)")],
)
def test_set_null_clears_a_string_key_whose_value_may_be_null(key: str, default: str) -> None:
    assert getattr(load_settings("local"), key) == default
    assert getattr(load_settings("local", [f"{key}=null"]), key) is None


def test_set_null_clears_a_key_whose_default_is_null_and_a_key_that_may_not_be_null_fails() -> None:
    assert load_settings("local", ["titles_jdbc_url=null"]).titles_jdbc_url is None
    assert load_settings("local", ["kms_key_arn=null"]).kms_key_arn is None
    with pytest.raises(ConfigError, match="timezone='null'"):
        load_settings("local", ["timezone=null"])


@pytest.mark.slow
def test_spark_submit_keeps_its_master_over_a_local_config(tmp_path: Path) -> None:
    # GIVEN a job started by spark-submit with --master local[1] and the local config
    # (spark_master: local[2]), as an EMR step with a local-style config would be
    script = tmp_path / "job.py"
    script.write_text(
        "from clickstream.config import load_settings\n"
        "from clickstream.spark import get_spark\n"
        f"settings = load_settings('local', ['catalog=none', 'lake_root={tmp_path}/lake'])\n"
        "print('MASTER', get_spark(settings).sparkContext.master)\n",
        encoding="utf-8",
    )
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    env.pop("PYSPARK_GATEWAY_PORT", None)
    submit = Path(sys.executable).parent / "spark-submit"
    # WHEN it runs
    done = subprocess.run(
        [str(submit), "--master", "local[1]", "--conf", "spark.ui.enabled=false", str(script)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
        check=False,
    )
    # THEN the session keeps spark-submit's master, and says so
    assert done.returncode == 0, done.stderr[-2000:]
    assert "MASTER local[1]" in done.stdout
    assert (
        "spark_master=local[2] not applied: spark-submit started this application with master "
        "local[1]" in done.stdout
    )
