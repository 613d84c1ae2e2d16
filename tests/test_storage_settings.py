"""Storage settings: the jars make install resolves, S3A from the AWS environment, table_format."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from clickstream import jars
from clickstream.config import ConfigError, load_settings
from clickstream.spark import catalog_dir, local_jars_conf, s3a_conf

POM = Path(__file__).resolve().parents[1] / "jvm" / "pom.xml"
NS = {"m": "http://maven.apache.org/POM/4.0.0"}


def pinned() -> list[str]:
    """artifactId-version of every dependency pinned in jvm/pom.xml."""
    root = ET.parse(POM).getroot()
    props = {p.tag.split("}")[1]: p.text for p in root.find("m:properties", NS) or []}
    out = []
    for dep in root.findall("m:dependencies/m:dependency", NS):
        artifact = dep.findtext("m:artifactId", namespaces=NS)
        version = dep.findtext("m:version", namespaces=NS) or ""
        if version.startswith("${"):
            version = props[version[2:-1]]
        out.append(f"{artifact}-{version}")
    return out


def test_make_install_put_exactly_the_jars_pinned_in_the_pom_in_the_jar_folder() -> None:
    # GIVEN the pins of jvm/pom.xml WHEN make install has run THEN .jars holds those, no others
    assert sorted(p.stem for p in jars.installed().values()) == sorted(pinned())
    assert "hadoop-aws-3.3.4" in pinned() and "delta-spark_2.12-3.3.0" in pinned()
    assert any(p.startswith("postgresql-42.7.") for p in pinned())


def test_local_sessions_load_only_the_jars_their_lake_and_format_need() -> None:
    local = load_settings("local", ["lake_root=/tmp/lake"])
    s3 = load_settings("local", ["lake_root=s3://bucket/lake"])
    delta = load_settings("local", ["lake_root=/tmp/lake", "table_format=delta"])
    assert local_jars_conf(local) == {}
    s3_jars = local_jars_conf(s3)["spark.jars"].split(",")
    assert [Path(j).name.rsplit("-", 1)[0] for j in s3_jars] == list(jars.S3A)
    assert all(Path(j).is_file() for j in s3_jars)  # local paths: nothing is fetched
    delta_jars = local_jars_conf(delta)["spark.jars"].split(",")
    assert [Path(j).name.rsplit("-", 1)[0] for j in delta_jars] == list(jars.DELTA)
    ice = load_settings("local", ["lake_root=/tmp/lake", "table_format=iceberg"])
    ice_jars = local_jars_conf(ice)["spark.jars"].split(",")
    assert [Path(j).name.rsplit("-", 1)[0] for j in ice_jars] == list(jars.ICEBERG)
    jdbc = load_settings(
        "local",
        [
            "lake_root=/tmp/lake",
            "titles_source=jdbc",
            "titles_jdbc_url=jdbc:postgresql://h/db",
            "titles_jdbc_user=u",
        ],
    )
    jdbc_jars = local_jars_conf(jdbc)["spark.jars"].split(",")
    assert [Path(j).name.rsplit("-", 1)[0] for j in jdbc_jars] == list(jars.POSTGRESQL)


def test_a_missing_jar_folder_fails_before_spark_naming_make_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(jars.JARS_ENV, str(tmp_path / "nothing-here"))
    with pytest.raises(ConfigError, match=r"hadoop-aws, aws-java-sdk-bundle not in .*make install"):
        local_jars_conf(load_settings("local", ["lake_root=s3://bucket/lake"]))


@pytest.fixture
def aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Only what a test sets: no AWS variable, profile or config file from the machine."""
    import os

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_s3a_takes_endpoint_region_and_credentials_from_the_aws_environment(
    aws_environment: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the variables boto3 reads
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-northeast-2")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    conf = s3a_conf()
    # THEN s3:// goes through S3A, path-style, over HTTP, with that region and those keys
    assert conf["fs.s3.impl"] == "org.apache.hadoop.fs.s3a.S3AFileSystem"
    assert conf["fs.s3a.endpoint"] == "http://127.0.0.1:5000"
    assert conf["fs.s3a.path.style.access"] == "true"
    assert conf["fs.s3a.connection.ssl.enabled"] == "false"
    assert conf["fs.s3a.endpoint.region"] == "ap-northeast-2"
    assert (conf["fs.s3a.access.key"], conf["fs.s3a.secret.key"]) == ("AKIDEXAMPLE", "secret")
    assert conf["fs.s3a.aws.credentials.provider"].endswith("SimpleAWSCredentialsProvider")


def test_s3_specific_endpoint_and_region_win_and_a_session_token_is_passed_on(
    aws_environment: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://elsewhere:1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "https://s3.example.test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "token")
    conf = s3a_conf()
    assert conf["fs.s3a.endpoint"] == "https://s3.example.test"
    assert conf["fs.s3a.connection.ssl.enabled"] == "true"
    assert conf["fs.s3a.endpoint.region"] == "eu-west-1"
    assert conf["fs.s3a.session.token"] == "token"
    assert conf["fs.s3a.aws.credentials.provider"].endswith("TemporaryAWSCredentialsProvider")


def test_without_an_endpoint_s3a_keeps_virtual_host_access_to_aws(aws_environment: None) -> None:
    conf = s3a_conf()
    assert "fs.s3a.endpoint" not in conf and "fs.s3a.path.style.access" not in conf
    assert "fs.s3a.access.key" not in conf  # S3A's own provider chain is left alone


def test_an_s3_lake_keeps_its_derby_metastore_in_the_configured_local_folder(
    tmp_path: Path,
) -> None:
    on_s3 = load_settings(
        "local", ["lake_root=s3://bucket/lake", f"hive_metastore_dir={tmp_path / 'meta'}"]
    )
    assert catalog_dir(on_s3) == str(tmp_path / "meta")
    local = load_settings("local", [f"lake_root={tmp_path / 'lake'}"])
    assert catalog_dir(local) == str(tmp_path / "lake" / "_catalog")


def test_iceberg_on_the_glue_catalog_is_refused_until_it_is_built() -> None:
    with pytest.raises(
        ConfigError, match="table_format=iceberg with catalog=glue is not built yet"
    ):
        load_settings("dev", ["table_format=iceberg"])


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("table_format=orc", "table_format='orc': use one of parquet, delta, iceberg"),
        ("hive_metastore_dir=s3://b/m", "hive_metastore_dir='s3://b/m': Derby needs a local"),
        ("delta_retention_days=-1", "delta_retention_days=-1: expected a whole number >= 0"),
    ],
)
def test_bad_storage_settings_fail_naming_the_key(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        load_settings("local", [override])
