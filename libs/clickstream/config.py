"""Settings from conf/base.yaml, conf/<env>.yaml and --set overrides, validated up front."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from clickstream.dq_rules import parse_rules

BOOKMARK_OPTIONS = ("job-bookmark-enable", "job-bookmark-disable", "job-bookmark-pause")
CATALOGS = ("hive", "glue", "none")
TITLES_SOURCES = ("csv", "dms", "jdbc")
TABLE_FORMATS = ("parquet", "delta", "iceberg")
_REF = re.compile(r"\$\{([a-z_]+)\}")
# Keys null turns off or leaves unset (--set KEY=null): whole numbers, and strings whose default
# is a value (every key whose base.yaml default is null takes null too).
NULLABLE_KEYS = frozenset(
    {
        "event_time_max_future_minutes",
        "event_time_max_age_days",
        "compact_after_files",
        "quarantine_retention_days",
        "spark_master",
        "glue_workflow_schedule",
    }
)
_NULLS = ("null", "None", "~")


class ConfigError(ValueError):
    """A config file, key or value is wrong; the message names the key and the fix."""


# Credentials a JDBC URL may carry: user:password@ before the host, password=... parameters.
_URL_USERINFO = re.compile(r"(?<=//)[^/@?#]*@")
_URL_SECRET_PARAM = re.compile(r"(?i)([?&;](?:password|pwd|sslpassword|sslkey)=)[^&;#]*")


def redacted_url(url: object) -> str | None:
    """A URL as messages and tables show it: any user:password@ and password parameter
    replaced by ***, so an error never echoes a credential."""
    if url is None:
        return None
    return _URL_SECRET_PARAM.sub(r"\1***", _URL_USERINFO.sub("***@", str(url)))


def conf_dir() -> Path:
    """The conf folder: the checkout's conf/, else ./conf, else the CWD itself.

    On Glue, --extra-files places base.yaml and <env>.yaml flat in the script's working dir.
    """
    for candidate in (Path(__file__).resolve().parents[2] / "conf", Path.cwd() / "conf"):
        if (candidate / "base.yaml").is_file():
            return candidate
    return Path.cwd()


@dataclass(frozen=True)
class Settings:
    """Validated settings of one environment."""

    env: str
    values: Mapping[str, Any] = field(repr=False)
    conf_root: Path = field(repr=False)

    def __getattr__(self, key: str) -> Any:
        try:
            return self.values[key]
        except KeyError:
            raise AttributeError(key) from None

    @property
    def lake(self) -> str:
        """The lake root as an absolute path or URI (no trailing slash)."""
        root = str(self.values["lake_root"])
        if "://" in root:
            return root.rstrip("/")
        path = Path(root)
        if not path.is_absolute():
            path = self.conf_root.parent / path
        return str(path.resolve())

    @property
    def is_local_lake(self) -> bool:
        return "://" not in self.lake or self.lake.startswith("file://")

    def path(self, *parts: str) -> str:
        """A path under the lake root."""
        return "/".join([self.lake, *parts])

    def database_of(self, table_name: str) -> str:
        """The catalog database of a table: quarantine_database for the quarantine tables (and
        their Delta manifest tables), database for the others."""
        from clickstream.tables import QUARANTINE_NAMES

        if table_name.removesuffix("_manifest") in QUARANTINE_NAMES:
            return str(self.values["quarantine_database"])
        return str(self.values["database"])


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc}); fix the syntax") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must be a mapping of key: value")
    return data


def _parse_override(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. --set timezone=Asia/Seoul")
    return key.strip(), value.strip()


def _coerce(key: str, raw: Any, default: Any) -> Any:
    """Convert a --set string to the type of the key's default (null for a nullable key)."""
    if (key in NULLABLE_KEYS or default is None) and raw in _NULLS:
        return None
    if isinstance(default, list) and isinstance(raw, str):
        # A list key from --set: comma-separated (an empty value or [] is the empty list).
        return [] if raw.strip() in ("", "[]") else [p.strip() for p in raw.split(",")]
    if not isinstance(raw, str) or default is None or isinstance(default, str):
        return None if raw in _NULLS and default is None else raw
    if isinstance(default, bool):
        if raw.lower() in ("true", "1", "yes"):
            return True
        if raw.lower() in ("false", "0", "no"):
            return False
        raise ConfigError(f"{key}={raw!r}: expected true or false")
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError:
            also = " or null" if key in NULLABLE_KEYS else ""
            raise ConfigError(f"{key}={raw!r}: expected a whole number{also}") from None
    return raw


def _merge(values: dict[str, Any], layer: Mapping[str, Any], source: str) -> None:
    for key, value in layer.items():
        if key not in values:
            known = ", ".join(sorted(values))
            raise ConfigError(f"{source}: unknown key {key!r}; known keys: {known}")
        if key == "dq_rules":
            values[key] = _merged_rules(values[key], value, source)
        elif isinstance(values[key], dict):
            if not isinstance(value, Mapping):
                raise ConfigError(f"{source}: {key} must be a mapping")
            values[key] = {**values[key], **{str(k): str(v) for k, v in value.items()}}
        else:
            values[key] = value


def _merged_rules(rules: Mapping[str, Any], layer: Any, source: str) -> dict[str, Any]:
    """dq_rules merged field by field: a layer may set one rule's threshold or action alone
    (`--set dq_rules.volume_drop_max.action=fail` arrives as {"volume_drop_max.action": ...})."""
    if not isinstance(layer, Mapping):
        raise ConfigError(f"{source}: dq_rules must be a mapping of rule: {{threshold, action}}")
    merged = {str(k): dict(v) if isinstance(v, Mapping) else v for k, v in rules.items()}
    for key, value in layer.items():
        rule, dot, name = str(key).partition(".")
        spec = merged.get(rule)
        spec = dict(spec) if isinstance(spec, Mapping) else {}
        if dot:
            spec[name] = value
        elif isinstance(value, Mapping):
            spec.update(value)
        else:
            raise ConfigError(
                f"{source}: dq_rules.{rule} must be a mapping, e.g. {{threshold: 5, action: warn}}"
                f", or set one field: --set dq_rules.{rule}.threshold=5"
            )
        merged[rule] = spec
    return merged


def _interpolate(values: dict[str, Any]) -> None:
    for key, value in values.items():
        if isinstance(value, str) and "${" in value:

            def sub(match: re.Match[str], key: str = key) -> str:
                ref = match.group(1)
                if values.get(ref) in (None, ""):
                    raise ConfigError(f"{key} refers to ${{{ref}}}, which is not set; set {ref}")
                return str(values[ref])

            values[key] = _REF.sub(sub, value)


def _validate(values: dict[str, Any]) -> None:
    def positive_int(key: str, minimum: int) -> None:
        value = values[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ConfigError(f"{key}={value!r}: expected a whole number >= {minimum}")

    positive_int("session_timeout_minutes", 1)
    positive_int("repeat_window_seconds", 0)
    positive_int("target_file_mb", 1)
    positive_int("glue_number_of_workers", 1)
    positive_int("max_session_hours", 1)
    positive_int("lease_stale_minutes", 1)
    positive_int("state_retention_days", 1)
    try:
        ZoneInfo(str(values["timezone"]))
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"timezone={values['timezone']!r}: not an IANA time zone; use e.g. UTC or Asia/Seoul"
        ) from None
    if values["bookmark_option"] not in BOOKMARK_OPTIONS:
        raise ConfigError(
            f"bookmark_option={values['bookmark_option']!r}: use one of {', '.join(BOOKMARK_OPTIONS)}"
        )
    if not isinstance(values["rebalance_events"], bool):
        raise ConfigError(
            f"rebalance_events={values['rebalance_events']!r}: expected true or false"
        )
    if values["catalog"] not in CATALOGS:
        raise ConfigError(f"catalog={values['catalog']!r}: use one of {', '.join(CATALOGS)}")
    if not values["lake_root"]:
        raise ConfigError("lake_root is empty; set it to a folder or an s3:// URI")
    if values.get("glue_workflow_schedule") in ("null", "None", "~", ""):
        values["glue_workflow_schedule"] = None  # --set glue_workflow_schedule=null
    _validate_glue_schedule(values.get("glue_workflow_schedule"))
    if values.get("emr_architecture") not in EMR_ARCHITECTURES:
        raise ConfigError(
            f"emr_architecture={values.get('emr_architecture')!r}: use one of "
            f"{', '.join(EMR_ARCHITECTURES)}"
        )
    _validate_titles(values)
    _validate_storage(values)
    _validate_performance(values)
    _validate_promoted(values)
    _validate_reader(values)
    _validate_privacy(values)
    _validate_operations(values)


def _validate_operations(values: dict[str, Any]) -> None:
    """Keys of operations (issue 28): metrics and their namespace."""
    if values["metrics"] not in METRICS:
        raise ConfigError(
            f"metrics={values['metrics']!r}: use one of {', '.join(METRICS)} (cloudwatch "
            "publishes each job's run figures, none publishes nothing)"
        )
    namespace = values["metrics_namespace"]
    if (
        not isinstance(namespace, str)
        or not _NAMESPACE.fullmatch(namespace)
        or namespace.startswith("AWS/")
    ):
        raise ConfigError(
            f"metrics_namespace={namespace!r}: expected a CloudWatch namespace of 1 to 255 "
            "letters, digits and . - _ / # : or spaces, not starting with AWS/, e.g. Clickstream"
        )
    if values["glue_execution_class"] not in GLUE_EXECUTION_CLASSES:
        raise ConfigError(
            f"glue_execution_class={values['glue_execution_class']!r}: use one of "
            f"{', '.join(GLUE_EXECUTION_CLASSES)} (FLEX: spare capacity, cheaper, may start later)"
        )
    if values["glue_execution_class"] == "FLEX" and values["glue_worker_type"] not in FLEX_WORKERS:
        raise ConfigError(
            f"glue_execution_class=FLEX runs on {' or '.join(FLEX_WORKERS)} workers only, not "
            f"glue_worker_type={values['glue_worker_type']!r}; set glue_worker_type=G.2X or "
            "glue_execution_class=STANDARD"
        )
    try:
        values["dq_rules"] = {
            name: {"threshold": rule.threshold, "action": rule.action}
            for name, rule in parse_rules(values["dq_rules"]).items()
        }
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    topic = values["alerts_topic_arn"]
    if topic is not None and not _SNS_ARN.fullmatch(str(topic)):
        raise ConfigError(
            f"alerts_topic_arn={topic!r}: expected an SNS topic ARN, e.g. "
            "arn:aws:sns:us-east-1:123456789012:oncall, or null to create clickstream-<env>-alerts"
        )
    if not isinstance(values["glue_job_run_queuing"], bool):
        raise ConfigError(
            f"glue_job_run_queuing={values['glue_job_run_queuing']!r}: expected true or false"
        )


def _validate_titles(values: dict[str, Any]) -> None:
    """The reference titles keys (issue 16)."""
    source = values["titles_source"]
    if source not in TITLES_SOURCES:
        raise ConfigError(f"titles_source={source!r}: use one of {', '.join(TITLES_SOURCES)}")
    if not str(values["titles_dms_path"] or "").strip():
        raise ConfigError("titles_dms_path is empty; set a folder under lake_root or a full URI")
    for key in ("titles_jdbc_overlap_minutes", "titles_jdbc_timeout_seconds"):
        value = values[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"{key}={value!r}: expected a whole number >= 0")
    if source != "jdbc":
        return
    url = values["titles_jdbc_url"]
    # Glue jobs take URL and user from the Glue connection: a Glue-only config may omit them.
    glue_only = bool(values["titles_jdbc_glue_connection"]) and not url
    if not glue_only and (not url or not str(url).startswith("jdbc:postgresql://")):
        raise ConfigError(
            f"titles_jdbc_url={redacted_url(url)!r}: set a PostgreSQL JDBC URL, "
            "e.g. jdbc:postgresql://host:5432/appdb (or, for Glue jobs only, "
            "titles_jdbc_glue_connection)"
        )
    names = ("titles_jdbc_table", "titles_jdbc_key") + (() if glue_only else ("titles_jdbc_user",))
    for key in names:
        if not values[key] or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", str(values[key])):
            raise ConfigError(f"{key}={values[key]!r}: set a plain SQL name, e.g. public.titles")


def _validate_storage(values: dict[str, Any]) -> None:
    """Keys of the storage block: table_format, hive_metastore_dir, Delta maintenance."""
    if values["table_format"] not in TABLE_FORMATS:
        raise ConfigError(
            f"table_format={values['table_format']!r}: use one of {', '.join(TABLE_FORMATS)}"
        )
    if values["table_format"] == "iceberg" and values["catalog"] == "glue":
        raise ConfigError(
            "table_format=iceberg with catalog=glue is not built yet (Iceberg tables live in a "
            "Hadoop catalog under the lake for now): use table_format=delta or parquet on AWS"
        )
    if not values["hive_metastore_dir"]:
        raise ConfigError("hive_metastore_dir is empty; set it to a local folder, e.g. .metastore")
    if "://" in str(values["hive_metastore_dir"]):
        raise ConfigError(
            f"hive_metastore_dir={values['hive_metastore_dir']!r}: Derby needs a local folder"
        )
    for key in ("maintenance_lookback_days", "delta_retention_days"):
        value = values[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"{key}={value!r}: expected a whole number >= 0")
    value = values["compact_after_files"]
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ConfigError(
            f"compact_after_files={value!r}: expected a whole number >= 1, e.g. 48 (a date is "
            "compacted once it holds more files), or null to leave compaction to maintain"
        )


def _validate_performance(values: dict[str, Any]) -> None:
    """Keys of the performance block (issue 17)."""
    value = values["bookmark_lookback_hours"]
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 1 <= value <= MAX_LOOKBACK_HOURS
    ):
        raise ConfigError(
            f"bookmark_lookback_hours={value!r}: expected a whole number of hours from 1 to "
            f"{MAX_LOOKBACK_HOURS}, e.g. 48 (Firehose retries S3 delivery for up to 24 hours)"
        )
    value = values["plan_on_driver_max_rows"]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(
            f"plan_on_driver_max_rows={value!r}: expected a whole number >= 0, e.g. 200000 "
            "(0 plans every batch with Spark)"
        )
    if not isinstance(values["glue_single_job"], bool):
        raise ConfigError(f"glue_single_job={values['glue_single_job']!r}: expected true or false")


# The largest bookmark lookback: 1,000 years of hours (reaches any lake's first hour).
MAX_LOOKBACK_HOURS = 24 * 366 * 1000

# A promoted field's name is its column's name: Glue and Athena know lower-case names only.
_COLUMN_NAME = re.compile(r"[a-z_][a-z0-9_]*")
# The parser flags misfits as bits of one 64-bit value.
MAX_PROMOTED = 63


def _validate_promoted(values: dict[str, Any]) -> None:
    """promoted_fields (issue 15): lower-case names, no clash with an events column, known types."""
    promoted = values["promoted_fields"]
    if not promoted:
        return  # no table schema (pyspark) to check against: status and bookmarks stay light
    from clickstream.tables import PROMOTED_TYPES, RESERVED_EVENT_COLUMNS

    types = ", ".join(PROMOTED_TYPES)
    if len(promoted) > MAX_PROMOTED:
        raise ConfigError(
            f"promoted_fields: {len(promoted)} fields; promote at most {MAX_PROMOTED} (the others "
            "stay in properties)"
        )
    for name, kind in promoted.items():
        key = f"promoted_fields.{name}"
        if not _COLUMN_NAME.fullmatch(name):
            raise ConfigError(
                f"{key}: {name!r} is not a lower-case column name (a-z, 0-9, _); promote a "
                "field whose name is one, others stay in properties"
            )
        if name in RESERVED_EVENT_COLUMNS:
            raise ConfigError(
                f"{key}: clashes with the events column {name!r}; remove it from "
                "promoted_fields (the field stays in properties)"
            )
        if kind not in PROMOTED_TYPES:
            raise ConfigError(f"{key}={kind!r}: use one of {types}")


# Any plausibility bound past 10,000 years reaches every instant the contract accepts.
MAX_TIME_BOUND_DAYS = 3_652_425
# The largest record limit: a worker holds about this much text per window (README: Limits).
MAX_RECORD_KIB = 10_240


def _validate_reader(values: dict[str, Any]) -> None:
    """Keys of the reader (issue 25): the plausible event_time window and the size limits."""
    bounds = (
        ("event_time_max_future_minutes", MAX_TIME_BOUND_DAYS * 1440, "e.g. 1440 (a day)"),
        ("event_time_max_age_days", MAX_TIME_BOUND_DAYS, "e.g. 30"),
    )
    for key, most, example in bounds:
        value = values[key]
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= most
        ):
            raise ConfigError(
                f"{key}={value!r}: expected a whole number from 0 to {most}, {example}, or null "
                "to turn the bound off"
            )
    sizes = (
        ("max_object_mib", 1 << 30, "decompressed MiB read from one raw object, e.g. 1024"),
        ("max_record_kib", MAX_RECORD_KIB, "KiB of one record, e.g. 1000 (Firehose's limit)"),
    )
    for key, most, meaning in sizes:
        value = values[key]
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
            raise ConfigError(
                f"{key}={value!r}: expected a whole number from 1 to {most}: {meaning}"
            )


def _validate_privacy(values: dict[str, Any]) -> None:
    """Keys of privacy and security (issue 27); the field paths are checked by privacy.py."""
    from clickstream.privacy import validate_privacy

    if not str(values["quarantine_database"] or "").strip():
        raise ConfigError(
            "quarantine_database is empty; set a database name, e.g. curated_quarantine"
        )
    if values["quarantine_database"] in (values["database"], values["raw_database"]):
        raise ConfigError(
            f"quarantine_database={values['quarantine_database']!r} is the curated or raw "
            "database; quarantine holds raw payloads: give it its own, e.g. "
            f"{values['database']}_quarantine"
        )
    value = values["quarantine_retention_days"]
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ConfigError(
            f"quarantine_retention_days={value!r}: expected a whole number >= 1, e.g. 30, or "
            "null to keep every quarantined record"
        )
    sslmode = values["titles_jdbc_sslmode"]
    if sslmode not in JDBC_SSLMODES:
        raise ConfigError(
            f"titles_jdbc_sslmode={sslmode!r}: use one of {', '.join(JDBC_SSLMODES)} "
            "(require encrypts the connection, verify-full also checks the server's name)"
        )
    kms = values["kms_key_arn"]
    if kms is not None and not re.fullmatch(
        r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/\S+", str(kms)
    ):
        raise ConfigError(
            f"kms_key_arn={kms!r}: expected a KMS key ARN, e.g. "
            "arn:aws:kms:us-east-1:123456789012:key/1234abcd-..., or null for SSE-S3"
        )
    try:
        validate_privacy(values)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


# Where run figures go (clickstream.run_metrics), and what a CloudWatch namespace may hold.
METRICS = ("cloudwatch", "none")
_SNS_ARN = re.compile(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}")
GLUE_EXECUTION_CLASSES = ("STANDARD", "FLEX")
FLEX_WORKERS = ("G.1X", "G.2X")  # Glue's flexible execution class takes these worker types
_NAMESPACE = re.compile(r"[A-Za-z0-9.\-_/#: ]{1,255}")
# The sslmode values of the PostgreSQL JDBC driver.
JDBC_SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
# Node architectures of EMR clusters the environment archive can be built for.
EMR_ARCHITECTURES = ("x86_64", "aarch64")
# A Glue schedule: cron( followed by six space-separated fields and ).
_GLUE_CRON = re.compile(r"cron\(\S+( \S+){5}\)")


def _validate_glue_schedule(value: Any) -> None:
    """glue_workflow_schedule is null or a Glue cron expression with six fields."""
    if value is None:
        return
    if not isinstance(value, str) or not _GLUE_CRON.fullmatch(value.strip()):
        raise ConfigError(
            f"glue_workflow_schedule={value!r}: expected a Glue cron expression with six fields, "
            "e.g. cron(0 * * * ? *) for hourly, or null for an on-demand workflow"
        )


def load_settings(
    env: str = "local", overrides: Iterable[str] = (), conf_root: Path | None = None
) -> Settings:
    """Load base.yaml, then <env>.yaml, then KEY=VALUE overrides; fail fast on any bad key."""
    root = conf_root or conf_dir()
    base_file = root / "base.yaml"
    if not base_file.is_file():
        raise ConfigError(f"{base_file} not found; run from the repo root or pass conf_root")
    env_file = root / f"{env}.yaml"
    if not env_file.is_file():
        envs = sorted(p.stem for p in root.glob("*.yaml") if p.stem != "base")
        raise ConfigError(f"--env {env!r}: no {env_file}; available: {', '.join(envs)}")
    values = _read_yaml(base_file)
    defaults = dict(values)
    _merge(values, _read_yaml(env_file), str(env_file))
    for item in overrides:
        key, raw = _parse_override(item)
        head, dot, rest = key.partition(".")
        if dot and isinstance(defaults.get(head), dict):
            _merge(values, {head: {rest: raw}}, f"--set {key}")
        else:
            _merge(values, {key: _coerce(key, raw, defaults.get(key))}, f"--set {key}")
    _interpolate(values)
    _validate(values)
    return Settings(env=env, values=values, conf_root=root)
