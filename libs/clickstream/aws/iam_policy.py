"""`clickstream iam-policy`: least-privilege IAM policy documents for the roles the project uses.

Four documents, scoped to the configured buckets, prefixes, databases, jobs and secrets:

* glue_job_role: what the Glue jobs do (read raw and reference, write curated, quarantine and
  state; register partitions in the curated and quarantine databases; the pseudonymize and JDBC
  secrets; the KMS key; Glue's CloudWatch logs and metrics);
* deployer: what `clickstream deploy` calls (uploads, jobs, workflow, triggers, catalog, the
  security configuration, bucket checks, PassRole of the Glue role, EMR steps);
* emr_instance_profile: the job role's data and catalog access, without Glue's own;
* redshift_role: Spectrum and COPY over the curated tables only (never raw, quarantine or state).

Each is a plain IAM policy document (JSON); tests check them with a policy linter and action by
action. Nothing is sent to AWS.
"""

from __future__ import annotations

import re
from typing import Any

from clickstream.aws import split_s3_uri
from clickstream.aws.glue_catalog import lake_uri
from clickstream.config import ConfigError, Settings

ROLES = ("glue_job_role", "deployer", "emr_instance_profile", "redshift_role")
# The lake prefixes a run writes (and deletes in), and those it only reads.
LAKE_WRITTEN = ("curated", "quarantine", "_state", "_runs")
LAKE_READ = ("raw", "ref")
_ACCOUNT = re.compile(r"arn:aws[a-z-]*:iam::(\d{12}):")


def _join(prefix: str, *parts: str) -> str:
    """prefix/part/... without empty parts."""
    return "/".join(p.strip("/") for p in (prefix, *parts) if p.strip("/"))


class _Scope:
    """The ARNs a policy names, from the settings."""

    def __init__(self, settings: Settings) -> None:
        """Resolve buckets, prefixes, account, region and names; ConfigError on a missing key."""
        self.settings = settings
        role = str(settings.values.get("glue_role_arn") or "")
        match = _ACCOUNT.match(role)
        if not match:
            raise ConfigError(
                f"glue_role_arn={role or None!r}: iam-policy takes the account from it; set the "
                "Glue job role's ARN (arn:aws:iam::<account>:role/...)"
            )
        if not settings.values.get("artifacts_uri"):
            raise ConfigError("artifacts_uri is not set; iam-policy scopes the artifacts to it")
        self.account = match.group(1)
        self.region = str(settings.aws_region)
        self.role_arn = role
        self.lake_bucket, self.lake_prefix = split_s3_uri(lake_uri(settings), "lake_uri")
        self.art_bucket, self.art_prefix = split_s3_uri(
            str(settings.artifacts_uri).rstrip("/"), "artifacts_uri"
        )
        self.env = settings.env

    def lake(self, *parts: str) -> str:
        """arn:aws:s3:::<lake bucket>/<lake prefix>/<parts>."""
        return f"arn:aws:s3:::{self.lake_bucket}/{_join(self.lake_prefix, *parts)}"

    def artifacts(self, *parts: str) -> str:
        """arn:aws:s3:::<artifacts bucket>/<artifacts prefix>/<parts>."""
        return f"arn:aws:s3:::{self.art_bucket}/{_join(self.art_prefix, *parts)}"

    def prefix_condition(self, bucket_prefix: str, parts: tuple[str, ...]) -> dict[str, Any]:
        """An s3:prefix condition limiting ListBucket to those prefixes."""
        listed = [_join(bucket_prefix, p) + "/*" for p in parts]
        listed += [_join(bucket_prefix, p) + "/" for p in parts]
        return {"StringLike": {"s3:prefix": sorted(listed)}}

    def glue(self, kind: str, *names: str) -> str:
        """arn:aws:glue:<region>:<account>:<kind>/<names>."""
        suffix = "/".join(names)
        return f"arn:aws:glue:{self.region}:{self.account}:{kind}" + (
            f"/{suffix}" if suffix else ""
        )

    def catalog(self, databases: tuple[str, ...], actions: list[str], sid: str) -> dict[str, Any]:
        """A Glue Data Catalog statement over these databases and their tables."""
        resources = [self.glue("catalog")]
        for db in databases:
            resources += [self.glue("database", db), self.glue("table", db, "*")]
        return _statement(sid, actions, resources)

    def secrets(self) -> list[str]:
        """The ARNs of the configured secrets (a name becomes its ARN with the random suffix)."""
        arns = []
        for key in ("pseudonymize_secret_id", "titles_jdbc_secret_id"):
            value = self.settings.values.get(key)
            if not value:
                continue
            value = str(value)
            if not value.startswith("arn:"):
                value = f"arn:aws:secretsmanager:{self.region}:{self.account}:secret:{value}-??????"
            arns.append(value)
        return arns


def _statement(
    sid: str,
    actions: list[str],
    resources: list[str] | str,
    condition: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One Allow statement."""
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Action": sorted(actions),
        "Resource": resources,
    }
    if condition:
        statement["Condition"] = condition
    return statement


def _document(statements: list[dict[str, Any]]) -> dict[str, Any]:
    """A policy document."""
    return {"Version": "2012-10-17", "Statement": statements}


# The catalog calls of a run: read, register and drop partitions, create what a fresh account
# lacks, add the columns of a new promoted field.
RUN_CATALOG_ACTIONS = [
    "glue:GetDatabase",
    "glue:GetTable",
    "glue:GetPartitions",
    "glue:BatchGetPartition",
    "glue:BatchCreatePartition",
    "glue:CreatePartition",
    "glue:BatchDeletePartition",
    "glue:CreateDatabase",
    "glue:CreateTable",
    "glue:UpdateTable",
    "glue:BatchUpdatePartition",
]


def _data_statements(scope: _Scope) -> list[dict[str, Any]]:
    """What a run needs of S3, the catalog, the secrets and the key (Glue and EMR alike)."""
    settings = scope.settings
    statements = [
        _statement(
            "ListLake",
            ["s3:ListBucket"],
            f"arn:aws:s3:::{scope.lake_bucket}",
            scope.prefix_condition(scope.lake_prefix, LAKE_READ + LAKE_WRITTEN),
        ),
        _statement(
            "ReadRawAndReference", ["s3:GetObject"], [scope.lake(p, "*") for p in LAKE_READ]
        ),
        _statement(
            "WriteCuratedQuarantineState",
            ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            [scope.lake(p, "*") for p in LAKE_WRITTEN],
        ),
        _statement("ReadRelease", ["s3:GetObject"], [scope.artifacts("*")]),
        _statement(
            "GlueTempDir",
            ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            [scope.artifacts("tmp", "*")],
        ),
        scope.catalog(
            (str(settings.database), str(settings.quarantine_database), "default"),
            RUN_CATALOG_ACTIONS,
            "CatalogCuratedAndQuarantine",
        ),
    ]
    if secrets := scope.secrets():
        statements.append(_statement("ReadSecrets", ["secretsmanager:GetSecretValue"], secrets))
    if settings.kms_key_arn:
        statements.append(
            _statement(
                "UseLakeKey",
                ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
                [str(settings.kms_key_arn)],
            )
        )
    return statements


def glue_job_role(settings: Settings) -> dict[str, Any]:
    """The Glue job role: the run's data access, the JDBC connection, Glue's logs and metrics."""
    scope = _Scope(settings)
    statements = _data_statements(scope)
    if settings.titles_source == "jdbc" and settings.titles_jdbc_glue_connection:
        statements.append(
            _statement(
                "TitlesConnection",
                ["glue:GetConnection"],
                [
                    scope.glue("catalog"),
                    scope.glue("connection", settings.titles_jdbc_glue_connection),
                ],
            )
        )
    logs = [
        f"arn:aws:logs:{scope.region}:{scope.account}:log-group:/aws-glue/*",
        f"arn:aws:logs:{scope.region}:{scope.account}:log-group:/aws-glue/*:log-stream:*",
    ]
    log_actions = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
    if settings.kms_key_arn:
        log_actions.append("logs:AssociateKmsKey")  # the security configuration's log groups
    statements.append(_statement("GlueLogs", log_actions, logs))
    statements.append(
        _statement(
            "GlueSparkEventLogs",
            ["s3:GetObject", "s3:PutObject"],
            [scope.artifacts("spark-event-logs", scope.env, "*")],
        )
    )
    namespaces: list[str] | str = "Glue"
    if settings.metrics == "cloudwatch":
        namespaces = ["Glue", str(settings.metrics_namespace)]
    statements.append(
        _statement(
            "GlueMetrics",
            ["cloudwatch:PutMetricData"],
            "*",
            {"StringEquals": {"cloudwatch:namespace": namespaces}},
        )
    )
    return _document(statements)


def _run_metrics(settings: Settings) -> list[dict[str, Any]]:
    """The run figures a job publishes (metrics: cloudwatch), in their namespace only."""
    if settings.metrics != "cloudwatch":
        return []
    namespace = {"StringEquals": {"cloudwatch:namespace": str(settings.metrics_namespace)}}
    return [_statement("RunMetrics", ["cloudwatch:PutMetricData"], "*", namespace)]


def emr_instance_profile(settings: Settings) -> dict[str, Any]:
    """The EMR instance profile: the run's data access (EMR's own needs, logs, come on top)
    and its run figures."""
    return _document(_data_statements(_Scope(settings)) + _run_metrics(settings))


def deployer(settings: Settings) -> dict[str, Any]:
    """Whoever runs `clickstream deploy`."""
    scope = _Scope(settings)
    env = scope.env
    buckets = [f"arn:aws:s3:::{scope.art_bucket}", f"arn:aws:s3:::{scope.lake_bucket}"]
    statements = [
        _statement(
            "CheckBuckets",
            [
                "s3:ListBucket",
                "s3:GetBucketPublicAccessBlock",
                "s3:GetBucketPolicy",
                "s3:GetBucketVersioning",
                "s3:GetEncryptionConfiguration",
            ],
            sorted(set(buckets)),
        ),
        _statement("UploadRelease", ["s3:GetObject", "s3:PutObject"], [scope.artifacts("*")]),
        _statement(
            "GlueJobs",
            ["glue:GetJob", "glue:CreateJob", "glue:UpdateJob"],
            [scope.glue("job", f"clickstream-{env}-*")],
        ),
        _statement(
            "GlueWorkflow",
            [
                "glue:GetWorkflow",
                "glue:CreateWorkflow",
                "glue:UpdateWorkflow",
                "glue:GetTrigger",
                "glue:CreateTrigger",
                "glue:UpdateTrigger",
                "glue:DeleteTrigger",
                "glue:StartTrigger",
            ],
            [
                scope.glue("workflow", f"clickstream-{env}"),
                scope.glue("trigger", f"clickstream-{env}-*"),
            ],
        ),
        scope.catalog(
            (
                str(settings.database),
                str(settings.quarantine_database),
                str(settings.raw_database),
            ),
            [
                "glue:GetDatabase",
                "glue:CreateDatabase",
                "glue:UpdateDatabase",
                "glue:GetTable",
                "glue:CreateTable",
                "glue:UpdateTable",
                # quarantine tables an earlier release registered in the curated database
                "glue:DeleteTable",
            ],
            "GlueCatalog",
        ),
        _statement(
            "PassGlueRole",
            ["iam:PassRole"],
            [scope.role_arn],
            {"StringEquals": {"iam:PassedToService": "glue.amazonaws.com"}},
        ),
        _statement(
            "EmrSteps",
            ["elasticmapreduce:ListSteps", "elasticmapreduce:AddJobFlowSteps"],
            [f"arn:aws:elasticmapreduce:{scope.region}:{scope.account}:cluster/*"],
        ),
    ]
    statements += _alerts_statements(settings, scope)
    if settings.kms_key_arn:
        statements.append(
            _statement(
                # Security configurations have no resource-level permissions in IAM.
                "GlueSecurityConfiguration",
                ["glue:GetSecurityConfiguration", "glue:CreateSecurityConfiguration"],
                "*",
            )
        )
        statements.append(
            _statement(
                "UploadWithLakeKey",
                ["kms:GenerateDataKey", "kms:Decrypt"],
                [str(settings.kms_key_arn)],
            )
        )
    return _document(statements)


def _alerts_statements(settings: Settings, scope: _Scope) -> list[dict[str, Any]]:
    """Deploy's alerts (clickstream.aws.alerts): its topic, its EventBridge rules, its alarms."""
    prefix = f"{scope.region}:{scope.account}"
    statements = []
    if not settings.alerts_topic_arn:
        statements += [
            # ListTopics has no resource-level permissions in IAM.
            _statement("FindAlertsTopic", ["sns:ListTopics"], "*"),
            _statement(
                "AlertsTopic",
                ["sns:CreateTopic", "sns:GetTopicAttributes", "sns:SetTopicAttributes"],
                [f"arn:aws:sns:{prefix}:clickstream-{scope.env}-alerts"],
            ),
        ]
    statements.append(
        _statement(
            "AlertRules",
            [
                "events:DescribeRule",
                "events:PutRule",
                "events:ListTargetsByRule",
                "events:PutTargets",
                "events:RemoveTargets",
            ],
            [f"arn:aws:events:{prefix}:rule/clickstream-{scope.env}-*"],
        )
    )
    if settings.metrics == "cloudwatch":
        statements.append(
            _statement(
                "Alarms",
                ["cloudwatch:DescribeAlarms", "cloudwatch:PutMetricAlarm"],
                [f"arn:aws:cloudwatch:{prefix}:alarm:clickstream-{scope.env}-*"],
            )
        )
    return statements


def redshift_role(settings: Settings) -> dict[str, Any]:
    """The Redshift role: the curated tables only, through S3 and the curated database."""
    scope = _Scope(settings)
    statements = [
        _statement(
            "ListCurated",
            ["s3:ListBucket"],
            f"arn:aws:s3:::{scope.lake_bucket}",
            scope.prefix_condition(scope.lake_prefix, ("curated",)),
        ),
        _statement("ReadCurated", ["s3:GetObject"], [scope.lake("curated", "*")]),
        scope.catalog(
            (str(settings.database),),
            [
                "glue:GetDatabase",
                "glue:GetDatabases",
                "glue:GetTable",
                "glue:GetTables",
                "glue:GetPartition",
                "glue:GetPartitions",
                "glue:BatchGetPartition",
            ],
            "SpectrumCuratedCatalog",
        ),
    ]
    if settings.kms_key_arn:
        statements.append(
            _statement("ReadWithLakeKey", ["kms:Decrypt"], [str(settings.kms_key_arn)])
        )
    return _document(statements)


BUILDERS = {
    "glue_job_role": glue_job_role,
    "deployer": deployer,
    "emr_instance_profile": emr_instance_profile,
    "redshift_role": redshift_role,
}


def policy_documents(settings: Settings) -> dict[str, dict[str, Any]]:
    """Every role's policy document, by role name."""
    return {role: BUILDERS[role](settings) for role in ROLES}
