"""Shared fixtures: one fast local SparkSession for the whole run, and the chispa wrapper."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession

from clickstream.spark import LOCAL_CONF, local_session, metastore_conf


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    """One local[2] session with an embedded Derby metastore (one JVM per metastore dir)."""
    catalog = str(tmp_path_factory.mktemp("catalog"))
    conf = metastore_conf(catalog)
    conf["spark.driver.extraJavaOptions"] = (
        f"{LOCAL_CONF['spark.driver.extraJavaOptions']} -Dderby.system.home={catalog}"
    )
    session = local_session("clickstream-tests", conf)
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def _assert_frames_equal(actual: DataFrame, expected: DataFrame, *, ordered: bool = False) -> None:
    assert_df_equality(
        actual,
        expected,
        ignore_row_order=not ordered,
        ignore_nullable=True,
        ignore_column_order=False,
    )


@pytest.fixture(scope="session")
def assert_frames_equal() -> Callable[..., None]:
    """chispa's assert_df_equality: same schema and rows; row order ignored unless ordered=True."""
    return _assert_frames_equal
