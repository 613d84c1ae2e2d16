"""Fixtures for the incremental and crash-recovery tests: a generated raw zone and full runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from clickstream.config import Settings
from clickstream.pipeline.runner import run_pipeline
from clickstream_tools.sample import generate_sample
from tests.pipeline import incremental_helpers as ih


@pytest.fixture(scope="module")
def sample_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated raw zone (3 days, re-deliveries, late and malformed records)."""
    root = tmp_path_factory.mktemp("sample")
    generate_sample(root, events=1500, users=60, days=3, seed=11, titles=40)
    return root


@pytest.fixture(scope="module")
def full_runs(
    spark: SparkSession, sample_lake: Path, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], Settings]:
    """One full run over all objects per variant, made on first use and shared."""
    made: dict[str, Settings] = {}

    def get(variant: str) -> Settings:
        if variant not in made:
            lake = tmp_path_factory.mktemp(f"full-{variant}")
            ih.copy_reference(sample_lake, lake)
            ih.copy_objects(ih.raw_objects(sample_lake), sample_lake, lake)
            made[variant] = ih.lake_settings(lake, ih.VARIANTS[variant])
            run_pipeline(made[variant], spark=spark, echo=ih.quiet)
        return made[variant]

    return get
