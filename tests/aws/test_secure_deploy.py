"""Deploy secure by default (moto over HTTP) and the iam-policy documents (policy linter)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import boto3
import pytest

from clickstream import cli
from clickstream.aws.deploy import DeployPlan, deploy, glue_job_name, upload
from clickstream.aws.iam_policy import policy_documents
from clickstream.aws.packaging import Artifacts
from clickstream.aws.redshift import redshift_sql
from clickstream.aws.security import (
    bucket_warnings,
    security_configuration_name,
    tls_only_policy,
    upload_encryption,
)
from clickstream.config import Settings, load_settings
from clickstream.pipeline import JOB_NAMES
from tests.aws.conftest import ISSUE_OVERRIDES

KMS = "arn:aws:kms:us-east-1:123456789012:key/0a1b2c3d-0000-4000-8000-000000000001"
ACCOUNT = "123456789012"


def _deploy(settings: Settings, artifacts: Artifacts) -> DeployPlan:
    return deploy(settings, artifacts=artifacts, echo=lambda _: None)


def _secure_buckets(s3: Any, names: list[str]) -> None:
    """Block Public Access, a TLS-only policy, versioning and default SSE-KMS on each bucket."""
    for name in names:
        s3.put_public_access_block(
            Bucket=name,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        s3.put_bucket_policy(Bucket=name, Policy=json.dumps(tls_only_policy(name)))
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": KMS,
                        }
                    }
                ]
            },
        )


def test_with_a_kms_key_every_job_gets_the_security_configuration(
    artifacts: Artifacts, buckets: list[str]
) -> None:
    # GIVEN a KMS key in the settings
    settings = load_settings("dev", [*ISSUE_OVERRIDES, f"kms_key_arn={KMS}"])
    # WHEN deployed
    _deploy(settings, artifacts)
    # THEN the security configuration encrypts S3, CloudWatch logs and bookmarks with the key
    glue = boto3.client("glue")
    name = security_configuration_name("dev", KMS)
    found = glue.get_security_configuration(Name=name)["SecurityConfiguration"]
    encryption = found["EncryptionConfiguration"]
    assert encryption["S3Encryption"] == [{"S3EncryptionMode": "SSE-KMS", "KmsKeyArn": KMS}]
    assert encryption["CloudWatchEncryption"] == {
        "CloudWatchEncryptionMode": "SSE-KMS",
        "KmsKeyArn": KMS,
    }
    assert encryption["JobBookmarksEncryption"] == {
        "JobBookmarksEncryptionMode": "CSE-KMS",
        "KmsKeyArn": KMS,
    }
    # AND every job is attached to it
    for job in JOB_NAMES:
        assert (
            glue.get_job(JobName=glue_job_name("dev", job))["Job"]["SecurityConfiguration"] == name
        )
    # AND every artifact was uploaded with SSE-KMS under the key
    s3 = boto3.client("s3")
    keys = s3.list_objects_v2(Bucket="clickstream-artifacts")["Contents"]
    for obj in keys:
        head = s3.head_object(Bucket="clickstream-artifacts", Key=obj["Key"])
        assert head["ServerSideEncryption"] == "aws:kms", obj["Key"]
        assert head["SSEKMSKeyId"] in (KMS, KMS.split("/")[-1])


def test_without_a_key_uploads_ask_for_sse_s3_and_a_second_deploy_changes_nothing(
    settings: Settings, artifacts: Artifacts, buckets: list[str]
) -> None:
    # GIVEN no kms_key_arn WHEN deployed twice
    _deploy(settings, artifacts)
    second = _deploy(settings, artifacts)
    # THEN every artifact is SSE-S3 and the second deploy changed nothing (encryption included)
    s3 = boto3.client("s3")
    for obj in s3.list_objects_v2(Bucket="clickstream-artifacts")["Contents"]:
        head = s3.head_object(Bucket="clickstream-artifacts", Key=obj["Key"])
        assert head["ServerSideEncryption"] == "AES256", obj["Key"]
    assert not second.changed, second.summary()
    assert not boto3.client("glue").get_security_configurations()["SecurityConfigurations"]


def test_an_artifact_stored_with_other_encryption_is_uploaded_again(
    settings: Settings, artifacts: Artifacts, buckets: list[str], tmp_path: Path
) -> None:
    # GIVEN an artifact uploaded with SSE-S3 (moto has no UpdateJob: upload is called alone)
    s3 = boto3.client("s3")
    wheel = tmp_path / "a.whl"
    wheel.write_bytes(b"same bytes")
    uri = "s3://clickstream-artifacts/releases/x/a.whl"
    assert upload(s3, wheel, uri, upload_encryption(settings)) == "uploaded"
    # WHEN the same bytes are uploaded under a KMS key THEN they are put again, then left alone
    with_key = upload_encryption(load_settings("dev", [*ISSUE_OVERRIDES, f"kms_key_arn={KMS}"]))
    assert upload(s3, wheel, uri, with_key) == "updated"
    assert upload(s3, wheel, uri, with_key) == "unchanged"
    head = s3.head_object(Bucket="clickstream-artifacts", Key="releases/x/a.whl")
    assert head["ServerSideEncryption"] == "aws:kms"


def test_insecure_buckets_are_warned_about_naming_what_to_set(
    artifacts: Artifacts, buckets: list[str]
) -> None:
    # GIVEN the two buckets as created: no Block Public Access, no policy, no versioning
    settings = load_settings("dev", [*ISSUE_OVERRIDES, f"kms_key_arn={KMS}"])
    plan = _deploy(settings, artifacts)
    # THEN each gap is one warning naming the bucket and the setting (and deploy went on)
    found = sorted(a.detail.split(";")[0] for a in plan.actions if a.status == "warning")
    assert found == [
        "artifacts_uri: bucket clickstream-artifacts does not block public access",
        "artifacts_uri: bucket clickstream-artifacts has no TLS-only policy",
        "artifacts_uri: bucket clickstream-artifacts is not versioned",
        "lake_uri: bucket clickstream-lake does not block public access",
        "lake_uri: bucket clickstream-lake does not encrypt new objects with kms_key_arn by default",
        "lake_uri: bucket clickstream-lake has no TLS-only policy",
    ]
    assert not any(a.changed for a in plan.actions if a.status == "warning")
    # WHEN the buckets are secured THEN the checks find nothing to say (moto enforces the
    # TLS-only policy on its plain-HTTP endpoint, so the checks run alone, not a whole deploy)
    s3 = boto3.client("s3")
    _secure_buckets(s3, buckets)
    assert bucket_warnings(s3, "clickstream-artifacts", "artifacts_uri", versioned=True) == []
    assert bucket_warnings(s3, "clickstream-lake", "lake_uri", kms_key_arn=KMS) == []


def test_quarantine_is_in_its_own_database_and_redshift_maps_the_curated_one_only(
    settings: Settings, artifacts: Artifacts, buckets: list[str]
) -> None:
    # GIVEN an account where an earlier release registered quarantine in the curated database
    glue = boto3.client("glue")
    glue.create_database(DatabaseInput={"Name": "clickstream_dev"})
    old = {"Name": "quarantine_clickstream", "StorageDescriptor": {"Columns": []}}
    glue.create_table(DatabaseName="clickstream_dev", TableInput=old)
    # WHEN deployed
    plan = _deploy(settings, artifacts)
    # THEN the old entry is deleted from the curated database, and quarantine lives apart
    deleted = [a.target for a in plan.actions if a.status == "deleted"]
    assert deleted == ["clickstream_dev.quarantine_clickstream"]
    curated = {t["Name"] for t in glue.get_tables(DatabaseName="clickstream_dev")["TableList"]}
    apart = glue.get_tables(DatabaseName="clickstream_dev_quarantine")["TableList"]
    assert {t["Name"] for t in apart} == {"quarantine_clickstream", "quarantine_titles"}
    assert not {n for n in curated if "quarantine" in n}
    sql = redshift_sql(settings)
    assert "FROM DATA CATALOG DATABASE 'clickstream_dev' " in sql
    assert "DATABASE 'clickstream_dev_quarantine'" not in sql
    assert "quarantine/" not in sql


# ---- iam-policy -------------------------------------------------------------------------------


def _lint(document: dict[str, Any]) -> list[tuple[str, Any]]:
    """parliament's findings on a policy document."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # parliament imports pkg_resources
        from parliament import analyze_policy_string

    return [(f.issue, f.detail) for f in analyze_policy_string(json.dumps(document)).findings]


FULL = (
    *ISSUE_OVERRIDES,
    f"kms_key_arn={KMS}",
    "pseudonymize_secret_id=clickstream/pseudonymize",
    "titles_source=jdbc",
    "titles_jdbc_glue_connection=titles-db",
    "titles_jdbc_secret_id=arn:aws:secretsmanager:us-east-1:123456789012:secret:titles-AbCdEf",
)


@pytest.mark.parametrize("overrides", [ISSUE_OVERRIDES, FULL], ids=["plain", "kms-secrets-jdbc"])
def test_every_policy_document_passes_the_linter(overrides: tuple[str, ...]) -> None:
    documents = policy_documents(load_settings("dev", list(overrides)))
    assert sorted(documents) == [
        "deployer",
        "emr_instance_profile",
        "glue_job_role",
        "redshift_role",
    ]
    for role, document in documents.items():
        assert _lint(document) == [], role


def test_the_linter_would_catch_a_wrong_action() -> None:
    # A control: the linter reads actions (a typo is a finding)
    document = policy_documents(load_settings("dev", list(ISSUE_OVERRIDES)))["redshift_role"]
    document["Statement"][1]["Action"] = ["s3:GetObjekt"]
    assert ("UNKNOWN_ACTION", "Unknown action s3:GetObjekt") in _lint(document)


def _by_sid(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in document["Statement"]}


def test_the_redshift_role_reaches_the_curated_tables_only() -> None:
    document = policy_documents(load_settings("dev", list(ISSUE_OVERRIDES)))["redshift_role"]
    assert _by_sid(document) == {
        "ListCurated": {
            "Sid": "ListCurated",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": "arn:aws:s3:::clickstream-lake",
            "Condition": {"StringLike": {"s3:prefix": ["curated/", "curated/*"]}},
        },
        "ReadCurated": {
            "Sid": "ReadCurated",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": ["arn:aws:s3:::clickstream-lake/curated/*"],
        },
        "SpectrumCuratedCatalog": {
            "Sid": "SpectrumCuratedCatalog",
            "Effect": "Allow",
            "Action": [
                "glue:BatchGetPartition",
                "glue:GetDatabase",
                "glue:GetDatabases",
                "glue:GetPartition",
                "glue:GetPartitions",
                "glue:GetTable",
                "glue:GetTables",
            ],
            "Resource": [
                f"arn:aws:glue:us-east-1:{ACCOUNT}:catalog",
                f"arn:aws:glue:us-east-1:{ACCOUNT}:database/clickstream_dev",
                f"arn:aws:glue:us-east-1:{ACCOUNT}:table/clickstream_dev/*",
            ],
        },
    }


def test_the_glue_job_role_writes_curated_quarantine_and_state_and_reads_raw() -> None:
    document = policy_documents(load_settings("dev", list(FULL)))["glue_job_role"]
    sids = _by_sid(document)
    lake = "arn:aws:s3:::clickstream-lake"
    assert sids["ReadRawAndReference"]["Action"] == ["s3:GetObject"]
    assert sids["ReadRawAndReference"]["Resource"] == [f"{lake}/raw/*", f"{lake}/ref/*"]
    assert sids["WriteCuratedQuarantineState"]["Action"] == [
        "s3:DeleteObject",
        "s3:GetObject",
        "s3:PutObject",
    ]
    assert sids["WriteCuratedQuarantineState"]["Resource"] == [
        f"{lake}/curated/*",
        f"{lake}/quarantine/*",
        f"{lake}/_state/*",
        f"{lake}/_runs/*",
    ]
    catalog = sids["CatalogCuratedAndQuarantine"]["Resource"]
    assert f"arn:aws:glue:us-east-1:{ACCOUNT}:table/clickstream_dev_quarantine/*" in catalog
    assert "glue:BatchDeletePartition" in sids["CatalogCuratedAndQuarantine"]["Action"]
    assert sids["ReadSecrets"] == {
        "Sid": "ReadSecrets",
        "Effect": "Allow",
        "Action": ["secretsmanager:GetSecretValue"],
        "Resource": [
            f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:clickstream/pseudonymize-??????",
            f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:titles-AbCdEf",
        ],
    }
    assert sids["UseLakeKey"]["Resource"] == [KMS]
    assert sids["TitlesConnection"]["Resource"][1].endswith(":connection/titles-db")
    assert "logs:AssociateKmsKey" in sids["GlueLogs"]["Action"]
    # no statement grants a service wildcard or writes the raw zone
    for statement in document["Statement"]:
        assert not any(a.endswith(":*") or a == "*" for a in statement["Action"])
        resources = statement["Resource"]
        resources = [resources] if isinstance(resources, str) else resources
        if "s3:PutObject" in statement["Action"]:
            assert not any("/raw/" in r or "/ref/" in r for r in resources)


def test_the_deployer_passes_the_glue_role_to_glue_only() -> None:
    document = policy_documents(load_settings("dev", list(FULL)))["deployer"]
    sids = _by_sid(document)
    assert sids["PassGlueRole"] == {
        "Sid": "PassGlueRole",
        "Effect": "Allow",
        "Action": ["iam:PassRole"],
        "Resource": [f"arn:aws:iam::{ACCOUNT}:role/clickstream-glue-dev"],
        "Condition": {"StringEquals": {"iam:PassedToService": "glue.amazonaws.com"}},
    }
    assert sids["GlueJobs"]["Resource"] == [
        f"arn:aws:glue:us-east-1:{ACCOUNT}:job/clickstream-dev-*"
    ]
    assert sids["GlueSecurityConfiguration"]["Action"] == [
        "glue:CreateSecurityConfiguration",
        "glue:GetSecurityConfiguration",
    ]
    assert sids["UploadRelease"]["Resource"] == ["arn:aws:s3:::clickstream-artifacts/releases/*"]


def test_the_iam_policy_command_prints_the_documents(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["iam-policy", "--env", "dev", *(f"--set={o}" for o in ISSUE_OVERRIDES)])
    printed = json.loads(capsys.readouterr().out)
    assert code == 0 and printed == policy_documents(load_settings("dev", list(ISSUE_OVERRIDES)))
    code = cli.main(["iam-policy", "--env", "dev", "--role", "redshift_role"])
    one = json.loads(capsys.readouterr().out)
    assert code == 0 and one["Statement"][1]["Resource"] == [
        "arn:aws:s3:::clickstream-lake-dev/curated/*"
    ]
