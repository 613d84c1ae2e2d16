"""titles_source=jdbc on AWS: the release ships the PostgreSQL driver jar for EMR steps; Glue jobs
use their Glue connection instead."""

from __future__ import annotations

from dataclasses import replace

import pytest

from clickstream import jars
from clickstream.aws.deploy import (
    DeployError,
    deploy,
    deploy_targets,
    emr_step,
    glue_job_definition,
    release_uris,
)
from clickstream.aws.packaging import Artifacts
from clickstream.config import Settings, load_settings
from clickstream.delta_lake import EMR_DELTA_JARS
from clickstream.pipeline import JOB_NAMES
from tests.aws.conftest import ISSUE_OVERRIDES
from tests.test_storage_settings import pinned

JDBC = (
    "titles_source=jdbc",
    "titles_jdbc_url=jdbc:postgresql://db.internal:5432/app",
    "titles_jdbc_user=etl",
    "titles_jdbc_glue_connection=app-db",
)


def dev(*overrides: str) -> Settings:
    return load_settings("dev", [*ISSUE_OVERRIDES, *overrides])


def submit_options(settings: Settings, artifacts: Artifacts, job: str) -> list[str]:
    """The spark-submit options of a job's EMR step, before its script."""
    targets = deploy_targets(settings)
    args = emr_step(targets, release_uris(targets, artifacts), job)["HadoopJarStep"]["Args"]
    script = next(i for i, a in enumerate(args) if a.endswith(f"jobs/{job}.py"))
    return args[:script]


def test_make_package_ships_the_driver_jar_pinned_in_the_pom(artifacts: Artifacts) -> None:
    # GIVEN the release built by make package
    driver = artifacts.jdbc_driver
    # THEN it holds the PostgreSQL driver make install copied, at the version jvm/pom.xml pins
    assert driver is not None and artifacts.relative(driver) == f"jars/{driver.name}"
    assert driver.stem in pinned() and driver.stem.startswith("postgresql-42.7.")
    assert driver.read_bytes() == jars.jars_for(*jars.POSTGRESQL)[0].read_bytes()
    assert driver in artifacts.files()  # deploy uploads every file of the release


@pytest.mark.parametrize("job", JOB_NAMES)
def test_emr_steps_pass_the_released_driver_jar_only_with_titles_source_jdbc(
    artifacts: Artifacts, job: str
) -> None:
    release = deploy_targets(dev()).release_uri
    driver = f"{release}/jars/{artifacts.jdbc_driver.name}"  # type: ignore[union-attr]
    # GIVEN titles_source csv THEN the steps load no jar of the release
    assert "--jars" not in submit_options(dev(), artifacts, job)
    # GIVEN titles_source jdbc THEN every step passes the driver from the release with --jars
    options = submit_options(dev(*JDBC), artifacts, job)
    assert options.count("--jars") == 1
    assert options[options.index("--jars") + 1] == driver


def test_with_delta_and_jdbc_one_jars_option_carries_both(artifacts: Artifacts) -> None:
    # GIVEN table_format delta (EMR's Delta jars) and titles_source jdbc (the driver)
    options = submit_options(dev(*JDBC, "table_format=delta"), artifacts, "load_titles")
    # THEN one --jars names them all (spark-submit keeps only the last --jars it is given)
    assert options.count("--jars") == 1
    value = options[options.index("--jars") + 1].split(",")
    assert value[: len(EMR_DELTA_JARS)] == list(EMR_DELTA_JARS)
    assert value[len(EMR_DELTA_JARS) :] == [
        f"{deploy_targets(dev()).release_uri}/jars/{artifacts.jdbc_driver.name}"  # type: ignore[union-attr]
    ]


def test_only_the_load_titles_glue_job_gets_the_glue_connection(artifacts: Artifacts) -> None:
    # GIVEN titles_source jdbc with the Glue connection app-db
    targets = deploy_targets(dev(*JDBC))
    uris = release_uris(targets, artifacts)
    definitions = {job: glue_job_definition(targets, uris, job) for job in JOB_NAMES}
    # THEN load_titles runs with the connection (network, driver, credentials), no other job does
    assert definitions["load_titles"]["Connections"] == {"Connections": ["app-db"]}
    assert [j for j, d in definitions.items() if "Connections" in d] == ["load_titles"]
    # AND no Glue job gets a jar or a password: Glue uses its connection's own driver
    for definition in definitions.values():
        arguments = definition["DefaultArguments"]
        assert "--extra-jars" not in arguments and "password" not in str(arguments).lower()
    # AND with titles_source csv no job has a connection
    csv = deploy_targets(dev())
    assert all("Connections" not in glue_job_definition(csv, uris, job) for job in JOB_NAMES)


def test_an_emr_deploy_with_jdbc_and_no_driver_in_the_package_names_make_package(
    artifacts: Artifacts,
) -> None:
    # GIVEN a package without the driver jar
    without = replace(artifacts, jdbc_driver=None)
    # WHEN deploying titles_source jdbc to an EMR cluster THEN it fails before any call
    with pytest.raises(DeployError, match=r"^titles_source=jdbc: .* make install and make package"):
        deploy(dev(*JDBC), dry_run=True, artifacts=without, emr_cluster_id="j-X", echo=print)
