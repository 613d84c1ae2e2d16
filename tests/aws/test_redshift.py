"""Redshift SQL: parsed with sqlglot (Redshift dialect); COPY columns follow the Parquet files."""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from clickstream.aws.redshift import (
    PLACEHOLDER_ROLE,
    default_iam_role,
    redshift_sql,
    redshift_statements,
)
from clickstream.config import ConfigError, Settings, load_settings
from clickstream.tables import CURATED_TABLES, Table

ROLE = "arn:aws:iam::123456789012:role/clickstream-redshift-dev"


def _parse(statement: str) -> exp.Expression:
    parsed = sqlglot.parse_one(statement, read="redshift", error_level=ErrorLevel.RAISE)
    assert parsed is not None
    return parsed


def _load_section(settings: Settings, table: Table, dt: str | None) -> list[exp.Expression]:
    sections = redshift_statements(settings, dt=dt)
    (statements,) = [s for comment, s in sections if comment.startswith(f"Load {table.name}:")]
    assert "FORMAT AS PARQUET" in statements[2]
    return [_parse(s) for s in statements]


def _names(expressions: list[exp.Expression]) -> list[str]:
    return [e.name for e in expressions]


def test_every_statement_parses(settings: Settings) -> None:
    for dt in (None, "2024-05-01"):
        for _, statements in redshift_statements(settings, dt=dt):
            for statement in statements:
                parsed = _parse(statement)
                if isinstance(parsed, exp.Command):
                    # sqlglot has no grammar for Redshift's CREATE EXTERNAL SCHEMA.
                    assert statement.startswith("CREATE EXTERNAL SCHEMA IF NOT EXISTS ")
        script = redshift_sql(settings, dt=dt)
        parsed = sqlglot.parse(script, read="redshift", error_level=ErrorLevel.RAISE)
        assert len([p for p in parsed if p is not None]) == sum(
            len(s) for _, s in redshift_statements(settings, dt=dt)
        )


def test_external_schema_over_the_glue_database(settings: Settings) -> None:
    first = redshift_sql(settings).split(";")[0]
    assert "CREATE EXTERNAL SCHEMA IF NOT EXISTS clickstream_dev_spectrum" in first
    assert "FROM DATA CATALOG DATABASE 'clickstream_dev'" in first
    assert f"IAM_ROLE '{ROLE}'" in first
    assert "REGION 'us-east-1'" in first


@pytest.mark.parametrize("table", CURATED_TABLES, ids=lambda t: t.name)
def test_native_table_has_file_columns_in_order_then_dt(settings: Settings, table: Table) -> None:
    (statements,) = [s for c, s in redshift_statements(settings) if c.startswith("Native")]
    (create,) = [
        e for e in map(_parse, statements[1:]) if e.this.this.name == table.name
    ]  # Create(this=Schema(this=Table))
    assert isinstance(create, exp.Create)
    assert create.args.get("exists")
    columns = [c.name for c in create.this.expressions]
    assert columns == table.columns + (["dt"] if table.partitioned else [])
    if table.partitioned:
        dt_column = create.this.expressions[-1]
        assert dt_column.args["kind"].this == exp.DataType.Type.DATE


@pytest.mark.parametrize("table", CURATED_TABLES, ids=lambda t: t.name)
def test_copy_loads_staging_with_the_parquet_file_columns(settings: Settings, table: Table) -> None:
    begin, create, copy, delete, insert, drop, commit = _load_section(settings, table, "2024-05-01")
    assert isinstance(begin, exp.Transaction) and isinstance(commit, exp.Commit)
    stage = f"stage_{table.name}"

    assert isinstance(create, exp.Create) and create.this.this.name == stage
    assert [c.name for c in create.this.expressions] == table.columns  # exactly the file columns

    assert isinstance(copy, exp.Copy)
    assert copy.this.this.name == stage
    assert _names(copy.this.expressions) == table.columns  # COPY target list = file order
    prefix = f"s3://clickstream-lake/{table.location}/"
    source = prefix + ("dt=2024-05-01/" if table.partitioned else "")
    assert [f.name for f in copy.args["files"]] == [source]
    assert copy.args["credentials"].args["iam_role"].name == ROLE
    params = {p.name.upper(): p.expression.name.upper() for p in copy.args["params"]}
    assert params == {"FORMAT": "PARQUET"}

    assert isinstance(delete, exp.Delete)
    assert delete.this.name == table.name and delete.this.db == "clickstream_dev"
    assert isinstance(insert, exp.Insert)
    assert insert.this.this.name == table.name
    target_columns = _names(insert.this.expressions)
    select = insert.expression
    assert select.find(exp.From).this.name == stage
    if table.partitioned:
        assert target_columns == [*table.columns, "dt"]
        dt_value = select.expressions[-1]  # dt comes from the INSERT, not from the files
        assert isinstance(dt_value, exp.Cast) and dt_value.this.name == "2024-05-01"
        assert dt_value.to.this == exp.DataType.Type.DATE
        assert _names(select.expressions[:-1]) == table.columns
        where = delete.args["where"].this
        assert where.this.name == "dt" and where.expression.this.name == "2024-05-01"
    else:
        assert target_columns == table.columns
        assert delete.args.get("where") is None
    assert isinstance(drop, exp.Drop) and _names(drop.args["tables"]) == [stage]


def test_without_dt_it_is_a_template(settings: Settings) -> None:
    script = redshift_sql(settings)
    assert "${dt}" in script
    assert "dt=${dt}/" in script
    assert "'${dt}'::DATE" in script
    assert "${dt}" not in redshift_sql(settings, dt="2024-05-01")


@pytest.mark.parametrize("bad", ["2024-5-1", "2024-02-30", "today"])
def test_bad_dt_is_refused(settings: Settings, bad: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        redshift_sql(settings, dt=bad)


def test_iam_role_and_schemas(settings: Settings) -> None:
    assert default_iam_role(settings) == ROLE
    assert default_iam_role(load_settings("dev", ["glue_role_arn=null"])) == PLACEHOLDER_ROLE
    sql = redshift_sql(
        settings, iam_role="arn:aws:iam::1:role/r", schema="analytics", spectrum_schema="lake"
    )
    assert "IAM_ROLE 'arn:aws:iam::1:role/r'" in sql and ROLE not in sql
    assert "CREATE EXTERNAL SCHEMA IF NOT EXISTS lake " in sql
    assert "CREATE TABLE IF NOT EXISTS analytics.events" in sql
    with pytest.raises(ConfigError, match="schema"):
        redshift_sql(settings, schema="Bad-Name")


def test_local_lake_is_refused() -> None:
    with pytest.raises(ConfigError, match="lake_root"):
        redshift_sql(load_settings("local"))
