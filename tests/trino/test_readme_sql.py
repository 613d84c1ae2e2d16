"""The README's SQL examples as text: how they are found, and the rules they keep (no server)."""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from clickstream.tables import ALL_TABLES, PARTITION_COLUMN
from tests.trino.readme_sql import readme_examples, sql_examples

PARTITIONED = {t.name for t in ALL_TABLES if t.partitioned}
# deploy's raw table, partitioned by its hour folder
PARTITION_OF = {**{name: PARTITION_COLUMN for name in PARTITIONED}, "raw_clickstream": "datehour"}


def test_examples_are_split_at_semicolons_and_named_by_their_first_comment() -> None:
    # GIVEN a README with a sql block of two statements and a bash block
    text = (
        "intro\n```bash\nselect 1;\n```\n"
        "```sql\n-- first one\n-- more words\nSELECT 1\nFROM t;\n\n-- second\nSELECT 2;\n```\n"
    )
    # WHEN its examples are extracted
    examples = sql_examples(text)
    # THEN each sql statement is one example, titled by its first comment, with its line
    assert [(e.title, e.line) for e in examples] == [("first one", 6), ("second", 11)]
    assert examples[0].sql == "-- first one\n-- more words\nSELECT 1\nFROM t"


def test_the_readme_has_sql_examples_and_each_has_an_expected_result_in_the_tier() -> None:
    # GIVEN the README as it is
    from tests.trino.test_query_engine import EXPECTED

    examples = readme_examples()
    # THEN there are examples, titled uniquely, and the tier knows what each must return
    assert len(examples) >= 5
    assert len({e.title for e in examples}) == len(examples)
    assert {e.title for e in examples} == set(EXPECTED)


def test_every_readme_example_filters_its_partitioned_tables_on_their_partition() -> None:
    # GIVEN the README's examples, parsed as Athena (Trino) SQL
    for example in readme_examples():
        tree = sqlglot.parse_one(example.sql, read="trino")
        for select in tree.find_all(exp.Select):
            tables = {t.name for t in select.find_all(exp.Table)} & set(PARTITION_OF)
            where = select.args.get("where")
            columns = {c.name for c in where.find_all(exp.Column)} if where else set()
            # THEN a query over a partitioned table has a condition on its partition column:
            # Athena then lists only those dates (hours) instead of every projected one
            for table in tables:
                assert PARTITION_OF[table] in columns, f"{example}: no condition on {table}"


def test_no_readme_example_divides_a_decimal_literal_ratio() -> None:
    # GIVEN the README's examples
    for example in readme_examples():
        tree = sqlglot.parse_one(example.sql, read="trino")
        for division in tree.find_all(exp.Div):
            literals = [n for n in division.find_all(exp.Literal) if not n.is_string]
            # THEN no quotient has a decimal literal such as 1.0 or 100.0 in it: in Athena that
            # is a DECIMAL and the quotient is rounded to its scale (0.651 reads 0.7)
            assert not any("." in n.this for n in literals), f"{example}: {division.sql()}"
