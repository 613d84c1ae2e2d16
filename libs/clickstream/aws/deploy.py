"""`clickstream deploy`: ship a release to S3, Glue jobs, the Glue Data Catalog and EMR steps.

One call does, in order (each step create-or-update, so deploying twice changes nothing):

1. build the package (clickstream.aws.packaging) and upload wheel, Glue's extra wheels, zip, EMR
   environment archives, the PostgreSQL JDBC driver jar, jobs/*.py and conf/*.yaml to
   <artifacts_uri>/<version>/ (skipped per object when S3 already has the same bytes);
2. the Glue Data Catalog: `database` (curated tables, Parquet, dt projection from the lake's
   first date), `quarantine_database` (the quarantine tables: raw payloads, granted apart) and
   `raw_database` (raw_clickstream by hour folder, ref_titles);
3. one Glue 5.0 job per pipeline job, named clickstream-<env>-<job> (underscores as hyphens);
4. the Glue workflow clickstream-<env> that runs them in order on `glue_workflow_schedule`, one
   run at a time (clickstream.aws.workflow);
5. with an EMR cluster id: one command-runner.jar spark-submit step per job, in run order, each
   cancelling the steps after it when it fails, unless the same step is already pending or
   running there. With titles_source jdbc the steps load the release's driver jar (--jars); Glue
   jobs read the database through their Glue connection's own driver.

Secure by default (clickstream.aws.security): uploads ask for SSE-S3, or SSE-KMS with
`kms_key_arn`, which also gives every Glue job a security configuration (S3, CloudWatch logs and
bookmarks under the key); the lake and artifacts buckets are checked and each gap is a warning.

The endpoint is boto3's own (AWS_ENDPOINT_URL works); the region is `aws_region`. With
dry_run=True nothing is called on AWS: the plan lists every action and its target.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import clickstream
from clickstream import delta_lake
from clickstream.aws import client, split_s3_uri
from clickstream.aws.alerts import (
    alarm_definitions,
    ensure_alarm,
    ensure_rule,
    ensure_topic,
    rule_definitions,
    topic_name,
)
from clickstream.aws.glue_catalog import (
    catalog_tables,
    database_inputs,
    delete_stale_table,
    ensure_database,
    ensure_table,
    lake_first_dates,
    lake_first_raw_hour,
    lake_uri,
    stale_quarantine_tables,
)
from clickstream.aws.packaging import Artifacts, build_package
from clickstream.aws.security import (
    bucket_warnings,
    encrypted_as_wanted,
    ensure_security_configuration,
    security_configuration,
    upload_encryption,
)
from clickstream.aws.workflow import (
    delete_trigger,
    ensure_trigger,
    ensure_workflow,
    stale_trigger_names,
    trigger_definitions,
    workflow_definition,
)
from clickstream.aws_clients import error_code
from clickstream.config import ConfigError, Settings
from clickstream.pipeline import JOB_NAMES, PIPELINE

GLUE_VERSION = "5.0"
GLUE_COMMAND = "glueetl"
ACTIVE_STEP_STATES = ("PENDING", "RUNNING")
# A failed step cancels the pending steps after it (the jobs read each other's output) and
# leaves the cluster waiting; CONTINUE would run sessions and DAU over a failed curate.
EMR_ACTION_ON_FAILURE = "CANCEL_AND_WAIT"
# The folder each EMR container unpacks the environment archive into (--archives ...#environment).
EMR_ENVIRONMENT = "environment"
CHANGED_STATUSES = ("created", "updated", "uploaded", "added", "deleted", "planned")


class DeployError(RuntimeError):
    """Deployment cannot go on; the message names what is missing and how to fix it."""


@dataclass(frozen=True)
class Action:
    """One deploy action: what, on which target, and whether it changed (or would change) AWS."""

    kind: str
    target: str
    status: str
    detail: str = ""

    @property
    def changed(self) -> bool:
        """True when the action created or updated something (in a dry run: would)."""
        return self.status in CHANGED_STATUSES

    def __str__(self) -> str:
        """One line: * when changed, status, kind, target, detail."""
        mark = "*" if self.changed else " "
        line = f"{mark} {self.status:<9} {self.kind:<12} {self.target}"
        return f"{line}  ({self.detail})" if self.detail else line


@dataclass
class DeployPlan:
    """The actions of one deploy (taken, or planned in a dry run), printable as a summary."""

    env: str
    version: str
    dry_run: bool
    actions: list[Action] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Whether any action changed (or in a dry run would change) something."""
        return any(a.changed for a in self.actions)

    @property
    def changes(self) -> list[Action]:
        """The actions that changed something."""
        return [a for a in self.actions if a.changed]

    def header(self) -> str:
        """First line of the summary."""
        mode = "dry run, nothing called on AWS" if self.dry_run else "deploy"
        return f"clickstream-etl {self.version} -> env {self.env} ({mode})"

    def tally(self) -> str:
        """Counts of actions by status."""
        counts: dict[str, int] = {}
        for action in self.actions:
            counts[action.status] = counts.get(action.status, 0) + 1
        body = ", ".join(f"{n} {status}" for status, n in counts.items()) or "nothing to do"
        verdict = "no changes" if not self.changed else f"{len(self.changes)} changes"
        return f"{len(self.actions)} actions: {body} -> {verdict}"

    def summary(self) -> str:
        """The readable plan: header, one line per action (* = changed), counts."""
        return "\n".join([self.header(), *map(str, self.actions), self.tally()])

    def __str__(self) -> str:
        """The summary."""
        return self.summary()


@dataclass(frozen=True)
class DeployTargets:
    """Validated deploy settings of one environment and release."""

    env: str
    version: str
    region: str
    artifacts_uri: str
    lake: str
    glue_role_arn: str
    worker_type: str
    number_of_workers: int
    timeout_minutes: int
    bookmark_option: str
    workflow_schedule: str | None
    emr_architecture: str
    table_format: str = "parquet"
    titles_source: str = "csv"
    titles_glue_connection: str | None = None
    single_job: bool = False
    # The Glue security configuration attached to every job (kms_key_arn set), else None.
    security_configuration: str | None = None
    # Operator options (issue 28): STANDARD or FLEX capacity, and queuing of job runs.
    execution_class: str = "STANDARD"
    job_run_queuing: bool = True

    @property
    def glue_jobs(self) -> tuple[str, ...]:
        """The pipeline jobs deployed as Glue jobs: every job, or PIPELINE (glue_single_job)."""
        return (PIPELINE,) if self.single_job else JOB_NAMES

    @property
    def release_uri(self) -> str:
        """<artifacts_uri>/<version>: the versioned prefix of the release."""
        return f"{self.artifacts_uri}/{self.version}"

    def uri(self, relative: str) -> str:
        """The S3 URI of a release file, e.g. uri('jobs/load_titles.py')."""
        return f"{self.release_uri}/{relative}"

    @property
    def spark_event_logs_uri(self) -> str:
        """Where the Glue jobs write Spark event logs (the Spark UI and history server read
        them): beside the releases, one folder per environment."""
        return f"{self.artifacts_uri}/spark-event-logs/{self.env}/"


def _required(settings: Settings, key: str) -> Any:
    """A config value that must be set, else ConfigError naming the key."""
    value = settings.values.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ConfigError(
            f"{key} is not set; set it in conf/{settings.env}.yaml or pass --set {key}=..."
        )
    return value


def deploy_targets(settings: Settings, version: str = clickstream.__version__) -> DeployTargets:
    """Check the AWS keys of the settings up front; each error names its key."""
    artifacts_uri = str(_required(settings, "artifacts_uri")).rstrip("/")
    split_s3_uri(artifacts_uri, "artifacts_uri")
    split_s3_uri(str(_required(settings, "lake_uri")), "lake_uri")
    role = str(_required(settings, "glue_role_arn"))
    if not role.startswith("arn:"):
        raise ConfigError(f"glue_role_arn={role!r}: expected an IAM role ARN (arn:aws:iam::...)")
    timeout = settings.values.get("glue_timeout_minutes")
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 1:
        raise ConfigError(f"glue_timeout_minutes={timeout!r}: expected a whole number >= 1")
    return DeployTargets(
        env=settings.env,
        version=version,
        region=str(_required(settings, "aws_region")),
        artifacts_uri=artifacts_uri,
        lake=lake_uri(settings),
        glue_role_arn=role,
        worker_type=str(_required(settings, "glue_worker_type")),
        number_of_workers=int(settings.values["glue_number_of_workers"]),
        timeout_minutes=timeout,
        bookmark_option=str(settings.values.get("bookmark_option") or "job-bookmark-enable"),
        table_format=str(settings.values.get("table_format") or "parquet"),
        titles_source=settings.titles_source,
        titles_glue_connection=settings.titles_jdbc_glue_connection,
        workflow_schedule=settings.values.get("glue_workflow_schedule"),
        emr_architecture=str(settings.values.get("emr_architecture") or "x86_64"),
        single_job=bool(settings.values.get("glue_single_job")),
        security_configuration=(
            security_configuration(settings.env, settings.kms_key_arn)["Name"]
            if settings.kms_key_arn
            else None
        ),
        execution_class=settings.glue_execution_class,
        job_run_queuing=settings.glue_job_run_queuing,
    )


def glue_job_name(env: str, job: str) -> str:
    """clickstream-<env>-<job>, underscores turned into hyphens (clickstream-dev-load-titles)."""
    return f"clickstream-{env}-{job.replace('_', '-')}"


def release_uris(targets: DeployTargets, artifacts: Artifacts) -> dict[str, str]:
    """S3 URIs of the release: wheel, Glue's python modules, zip, EMR archive, conf files.

    modules: the project's wheel and the wheels of what Glue 5.0 lacks, comma-separated, as
    --additional-python-modules takes them. emr_archive: the archive of the configured
    emr_architecture ('' when the package has none). jdbc_driver: the PostgreSQL driver jar
    ('' when the package has none).
    """
    conf = {path.name: path for path in artifacts.conf_files}
    for name in ("base.yaml", f"{targets.env}.yaml"):
        if name not in conf:
            raise DeployError(f"conf/{name} is not in the package; it must exist in conf/")
    wheels = [artifacts.wheel, *artifacts.glue_modules]
    archive = artifacts.emr_archives.get(targets.emr_architecture)
    return {
        "wheel": targets.uri(artifacts.relative(artifacts.wheel)),
        "modules": ",".join(targets.uri(artifacts.relative(w)) for w in wheels),
        "zip": targets.uri(artifacts.relative(artifacts.zip_file)),
        "emr_archive": targets.uri(artifacts.relative(archive)) if archive else "",
        "jdbc_driver": (
            targets.uri(artifacts.relative(artifacts.jdbc_driver)) if artifacts.jdbc_driver else ""
        ),
        "conf": ",".join(
            targets.uri(artifacts.relative(conf[n])) for n in ("base.yaml", f"{targets.env}.yaml")
        ),
    }


def glue_job_definition(targets: DeployTargets, uris: Mapping[str, str], job: str) -> dict:
    """The CreateJob request of one pipeline job (JobUpdate = this without Name and Tags)."""
    return {
        "Name": glue_job_name(targets.env, job),
        "Description": f"clickstream-etl {targets.version}: {job} ({targets.env})",
        "Role": targets.glue_role_arn,
        "Command": {
            "Name": GLUE_COMMAND,
            "ScriptLocation": targets.uri(f"jobs/{job}.py"),
            "PythonVersion": "3",
        },
        "DefaultArguments": {
            "--env": targets.env,
            # The project and what Glue 5.0 lacks (PyYAML), from S3: nothing comes from PyPI, so
            # jobs in a private subnet start too.
            "--additional-python-modules": uris["modules"],
            # The wheel's pins (pyspark, pandas, ...) must not replace Glue's own runtime.
            "--python-modules-installer-option": "--no-deps",
            "--extra-files": uris["conf"],
            "--job-bookmark-option": targets.bookmark_option,
            "--enable-glue-datacatalog": "true",
            "--TempDir": f"{targets.artifacts_uri}/tmp/",
            # Operators' view of a run (issue 28): job metrics and observability metrics in
            # CloudWatch, driver and executor logs streamed while the job runs, and the Spark UI
            # from event logs under the artifacts bucket.
            "--enable-metrics": "true",
            "--enable-observability-metrics": "true",
            "--enable-continuous-cloudwatch-log": "true",
            "--enable-spark-ui": "true",
            "--spark-event-logs-path": targets.spark_event_logs_uri,
            **(delta_lake.glue_job_arguments() if targets.table_format == "delta" else {}),
        },
        **glue_connections(targets, job),
        **(
            {"SecurityConfiguration": targets.security_configuration}
            if targets.security_configuration
            else {}
        ),
        "ExecutionProperty": {"MaxConcurrentRuns": 1},
        # A run started while one is running waits in Glue's queue instead of failing with
        # ConcurrentRunsExceededException; FLEX runs on spare capacity, cheaper, may start later.
        "JobRunQueuingEnabled": targets.job_run_queuing,
        "ExecutionClass": targets.execution_class,
        "MaxRetries": 0,
        "GlueVersion": GLUE_VERSION,
        "WorkerType": targets.worker_type,
        "NumberOfWorkers": targets.number_of_workers,
        "Timeout": targets.timeout_minutes,
        "Tags": {"project": "clickstream-etl", "env": targets.env},
    }


def glue_connections(targets: DeployTargets, job: str) -> dict[str, Any]:
    """load_titles (alone or in the PIPELINE job) with titles_source jdbc reaches the database
    through its Glue connection (network, driver and credentials); no other job needs it."""
    if (
        job not in ("load_titles", PIPELINE)
        or targets.titles_source != "jdbc"
        or not targets.titles_glue_connection
    ):
        return {}
    return {"Connections": {"Connections": [targets.titles_glue_connection]}}


def job_update(definition: Mapping[str, Any]) -> dict[str, Any]:
    """The JobUpdate part of a job definition."""
    return {k: v for k, v in definition.items() if k not in ("Name", "Tags")}


# Fields a GetJob answer may leave out (moto keeps no JobRunQueuingEnabled): left out, they are
# not a difference. A job from before the field gets it with this release's other changes.
OPTIONAL_JOB_FIELDS = ("JobRunQueuingEnabled",)


def job_matches(current: Mapping[str, Any], definition: Mapping[str, Any]) -> bool:
    """Whether a job from get_job already has the definition (DefaultArguments exactly)."""
    wanted = job_update(definition)
    for key, value in wanted.items():
        have = current.get(key)
        if key in OPTIONAL_JOB_FIELDS and key not in current:
            continue
        if isinstance(value, Mapping) and key != "DefaultArguments":
            if not all((have or {}).get(k) == v for k, v in value.items()):
                return False
        elif (dict(have or {}) if key == "DefaultArguments" else have) != value:
            return False
    return True


def ensure_job(glue: Any, definition: Mapping[str, Any]) -> str:
    """Create or update a Glue job; returns created, updated or unchanged."""
    try:
        current = glue.get_job(JobName=definition["Name"])["Job"]
    except glue.exceptions.EntityNotFoundException:
        glue.create_job(**definition)
        return "created"
    if job_matches(current, definition):
        return "unchanged"
    glue.update_job(JobName=definition["Name"], JobUpdate=job_update(definition))
    return "updated"


def emr_step(targets: DeployTargets, uris: Mapping[str, str], job: str) -> dict[str, Any]:
    """The EMR step of one job: spark-submit in cluster mode with the environment archive.

    The archive (the project and every module it imports, bin/python -> /usr/bin/python3.11)
    is unpacked as ./environment in each container; the driver (YARN application master) and
    the executors run ./environment/bin/python, so nothing installed on the nodes is used.
    """
    python = f"./{EMR_ENVIRONMENT}/bin/python"
    return {
        "Name": glue_job_name(targets.env, job),
        "ActionOnFailure": EMR_ACTION_ON_FAILURE,
        "HadoopJarStep": {
            "Jar": "command-runner.jar",
            "Args": [
                "spark-submit",
                "--deploy-mode",
                "cluster",
                "--archives",
                f"{uris['emr_archive']}#{EMR_ENVIRONMENT}",
                "--conf",
                f"spark.pyspark.python={python}",
                "--conf",
                f"spark.yarn.appMasterEnv.PYSPARK_PYTHON={python}",
                # Spark's event logs where the Glue jobs write theirs (a Spark history server
                # reads both): EMR's EMRFS writes s3:// directly.
                "--conf",
                "spark.eventLog.enabled=true",
                "--conf",
                f"spark.eventLog.dir={targets.spark_event_logs_uri}",
                "--files",
                uris["conf"],
                *emr_jar_args(targets, uris),
                targets.uri(f"jobs/{job}.py"),
                "--env",
                targets.env,
            ],
        },
    }


def emr_jar_args(targets: DeployTargets, uris: Mapping[str, str]) -> list[str]:
    """One --jars (spark-submit keeps only the last) with EMR's Delta jars for table_format delta
    and the release's PostgreSQL driver for titles_source jdbc; then the Delta settings."""
    driver = [uris["jdbc_driver"]] if targets.titles_source == "jdbc" else []
    if targets.table_format == "delta":
        return delta_lake.emr_submit_args(extra_jars=driver)
    return ["--jars", ",".join(driver)] if driver else []


def _step_key(name: str, args: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    """What makes two EMR steps the same: name and arguments."""
    return name, tuple(args)


def active_steps(emr: Any, cluster_id: str) -> dict[tuple[str, tuple[str, ...]], str]:
    """(name, args) -> step id of the steps pending or running on the cluster."""
    found = {}
    paginator = emr.get_paginator("list_steps")
    for page in paginator.paginate(ClusterId=cluster_id, StepStates=list(ACTIVE_STEP_STATES)):
        for step in page.get("Steps", []):
            args = (step.get("Config") or {}).get("Args") or []
            found[_step_key(step["Name"], args)] = step["Id"]
    return found


def upload(s3: Any, path: Path, uri: str, encryption: Mapping[str, str] | None = None) -> str:
    """Put a file unless S3 has the same bytes (ETag or stored md5) encrypted as asked (the
    put_object arguments of security.upload_encryption); uploaded/updated/unchanged."""
    from botocore.exceptions import ClientError

    bucket, key = split_s3_uri(uri)
    data = path.read_bytes()
    digest = hashlib.md5(data, usedforsecurity=False)
    md5 = digest.hexdigest()
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if error_code(exc) not in ("404", "NoSuchKey", "NotFound"):
            raise
        head = None
    wanted = dict(encryption or {})
    same = head is not None and md5 in (
        head.get("ETag", "").strip('"'),
        head["Metadata"].get("md5"),
    )
    if same and (not wanted or encrypted_as_wanted(head, wanted)):
        return "unchanged"
    try:
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=data,
            ContentMD5=base64.b64encode(digest.digest()).decode(),
            Metadata={"md5": md5},
            **wanted,
        )
    except ClientError as exc:
        if error_code(exc) == "NoSuchBucket":
            raise DeployError(f"bucket {bucket} does not exist; create it or fix the URI") from exc
        raise
    return "updated" if head is not None else "uploaded"


def _check_bucket(s3: Any, uri: str, key: str) -> None:
    """Fail with DeployError naming the key when the bucket is missing."""
    from botocore.exceptions import ClientError

    bucket, _ = split_s3_uri(uri, key)
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        raise DeployError(
            f"{key}={uri}: bucket {bucket} is not reachable ({error_code(exc)}); "
            "create it or fix the URI"
        ) from exc


def _deploy_alerts(
    settings: Settings,
    targets: DeployTargets,
    record: Callable[..., None],
    session: Any,
    *,
    dry_run: bool,
) -> None:
    """The alerts topic, the EventBridge rules on failed Glue jobs and EMR steps, the alarms
    (clickstream.aws.alerts)."""
    sns = events = cloudwatch = None
    if not dry_run:
        sns = client("sns", settings, session)
        events = client("events", settings, session)
        cloudwatch = client("cloudwatch", settings, session)
    if dry_run:
        topic, status = settings.alerts_topic_arn or topic_name(targets.env), "planned"
    else:
        topic, status = ensure_topic(sns, targets.env, settings.alerts_topic_arn)
    record("topic", topic, status, "alerts: EventBridge rules and alarms publish here")
    glue_jobs = [glue_job_name(targets.env, job) for job in targets.glue_jobs]
    steps = [glue_job_name(targets.env, job) for job in JOB_NAMES]
    for rule in rule_definitions(targets.env, glue_jobs, steps):
        status = "planned" if dry_run else ensure_rule(events, rule, topic)
        record("event-rule", rule["Name"], status, rule["Description"])
    if settings.metrics != "cloudwatch":
        record("alarm", f"clickstream-{targets.env}-*", "skipped", "metrics=none: no figures")
        return
    for alarm in alarm_definitions(settings, topic):
        status = "planned" if dry_run else ensure_alarm(cloudwatch, alarm)
        record("alarm", alarm["AlarmName"], status, alarm["AlarmDescription"])


def deploy(
    settings: Settings,
    *,
    dry_run: bool = False,
    emr_cluster_id: str | None = None,
    echo: Callable[[str], object] = print,
    artifacts: Artifacts | None = None,
    dist_dir: str | Path = "dist",
    session: Any = None,
) -> DeployPlan:
    """Deploy the release to the settings' environment; returns the plan of what changed.

    artifacts: an already built package (default: build into dist_dir). session: a boto3
    Session to make the clients from (default: a new one). echo prints each action as it is done.
    """
    targets = deploy_targets(settings)
    if emr_cluster_id is not None and not emr_cluster_id.strip():
        raise ConfigError("--emr-cluster-id is empty; pass the cluster id (j-...)")

    artifacts = artifacts or build_package(dist_dir)
    if artifacts.version != targets.version:
        raise DeployError(
            f"package version {artifacts.version} differs from clickstream {targets.version}"
        )
    uris = release_uris(targets, artifacts)
    plan = DeployPlan(env=targets.env, version=targets.version, dry_run=dry_run)
    echo(plan.header())

    def record(kind: str, target: str, status: str, detail: str = "") -> None:
        """Add an action to the plan and echo it."""
        action = Action(kind, target, status, detail)
        plan.actions.append(action)
        echo(str(action))

    s3 = glue = emr = None
    if not dry_run:
        s3 = client("s3", settings, session)
        glue = client("glue", settings, session)
        _check_bucket(s3, targets.artifacts_uri, "artifacts_uri")
        _check_bucket(s3, targets.lake, "lake_uri")
        for key, uri, versioned in (
            ("artifacts_uri", targets.artifacts_uri, True),
            ("lake_uri", targets.lake, False),
        ):
            bucket = split_s3_uri(uri, key)[0]
            kms = settings.kms_key_arn if key == "lake_uri" else None
            for warning in bucket_warnings(s3, bucket, key, versioned=versioned, kms_key_arn=kms):
                record("check", f"s3://{bucket}", "warning", warning)

    encryption = upload_encryption(settings)
    for path in artifacts.files():
        uri = targets.uri(artifacts.relative(path))
        record("upload", uri, "planned" if dry_run else upload(s3, path, uri, encryption))
    scripts = {path.name for path in artifacts.job_scripts}
    for job in targets.glue_jobs:
        if f"{job}.py" not in scripts:
            record("job-script", targets.uri(f"jobs/{job}.py"), "missing", f"no jobs/{job}.py")

    for database in database_inputs(settings):
        status = "planned" if dry_run else ensure_database(glue, database)
        record("database", database["Name"], status, database.get("LocationUri", ""))
    # Projections start at the lake's first date and hour; a table with no data yet keeps the
    # start it has (the runs move it back when they write an earlier date).
    first_dates = {} if dry_run else lake_first_dates(settings, client=s3)
    first_hour = None if dry_run else lake_first_raw_hour(settings, client=s3)
    dated = {*first_dates, *(["raw_clickstream"] if first_hour else [])}
    for database_name, table in catalog_tables(settings, first_dates, first_hour):
        status = (
            "planned"
            if dry_run
            else ensure_table(
                glue, database_name, table, keep_projection_start=table["Name"] not in dated
            )
        )
        record("table", f"{database_name}.{table['Name']}", status, "")
    # Quarantine tables an earlier release registered in the curated database: a grant there
    # would still reach raw payloads (the catalog entry goes; the data stays where it is).
    for name in [] if dry_run else stale_quarantine_tables(settings):
        if delete_stale_table(glue, settings.database, name) == "deleted":
            record(
                "table", f"{settings.database}.{name}", "deleted", "moved to quarantine_database"
            )

    if settings.kms_key_arn:
        spec = security_configuration(targets.env, settings.kms_key_arn)
        status = "planned" if dry_run else ensure_security_configuration(glue, spec)
        record("security", spec["Name"], status, "SSE-KMS: S3, CloudWatch logs, bookmarks")
    for job in targets.glue_jobs:
        definition = glue_job_definition(targets, uris, job)
        status = "planned" if dry_run else ensure_job(glue, definition)
        record("glue-job", definition["Name"], status, definition["Command"]["ScriptLocation"])

    workflow = workflow_definition(targets.env)
    status = "planned" if dry_run else ensure_workflow(glue, workflow)
    record(
        "workflow", workflow["Name"], status, f"MaxConcurrentRuns {workflow['MaxConcurrentRuns']}"
    )
    job_names = {job: glue_job_name(targets.env, job) for job in targets.glue_jobs}
    triggers = trigger_definitions(targets.env, job_names, targets.workflow_schedule)
    # Triggers of the other layout (four jobs <-> one) would start jobs this one does not use:
    # deleted before this layout's are made, so the two never both start a run.
    for name in [] if dry_run else stale_trigger_names(targets.env, {t["Name"] for t in triggers}):
        if delete_trigger(glue, name) == "deleted":
            record("trigger", name, "deleted", "not part of this layout")
    for trigger in triggers:
        status = "planned" if dry_run else ensure_trigger(glue, trigger)
        record("trigger", trigger["Name"], status, trigger["Description"])

    _deploy_alerts(settings, targets, record, session, dry_run=dry_run)

    if emr_cluster_id:
        if targets.titles_source == "jdbc" and not uris["jdbc_driver"]:
            raise DeployError(
                "titles_source=jdbc: the package has no PostgreSQL JDBC driver jar for the EMR "
                "steps; run make install and make package"
            )
        if not uris["emr_archive"]:
            raise DeployError(
                f"the package has no EMR environment archive for emr_architecture="
                f"{targets.emr_architecture}; run make install EMR_ARCHS={targets.emr_architecture}"
                " and make package (or deploy without --emr-cluster-id)"
            )
        steps = [emr_step(targets, uris, job) for job in JOB_NAMES]
        active: dict[tuple[str, tuple[str, ...]], str] = {}
        if not dry_run:
            emr = client("emr", settings, session)
            active = active_steps(emr, emr_cluster_id)
        new_steps = []
        for step in steps:
            target = f"{emr_cluster_id}:{step['Name']}"
            existing = active.get(_step_key(step["Name"], step["HadoopJarStep"]["Args"]))
            if dry_run:
                record("emr-step", target, "planned")
            elif existing:
                record("emr-step", target, "skipped", f"already pending or running as {existing}")
            else:
                new_steps.append(step)
        if new_steps:
            response = emr.add_job_flow_steps(JobFlowId=emr_cluster_id, Steps=new_steps)
            for step, step_id in zip(new_steps, response["StepIds"], strict=True):
                record("emr-step", f"{emr_cluster_id}:{step['Name']}", "added", step_id)

    echo(plan.tally())
    return plan
