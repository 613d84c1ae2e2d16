"""The reference titles keys fail fast, before Spark starts, naming the key and the fix."""

from __future__ import annotations

import pytest

from clickstream.config import ConfigError, load_settings


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["titles_source=mysql"], r"^titles_source='mysql': use one of csv, dms, jdbc$"),
        (["titles_source=jdbc"], r"^titles_jdbc_url=None: set a PostgreSQL JDBC URL"),
        (
            ["titles_source=jdbc", "titles_jdbc_url=jdbc:postgresql://h/db"],
            r"^titles_jdbc_user=None: set a plain SQL name",
        ),
        (
            [
                "titles_source=jdbc",
                "titles_jdbc_url=jdbc:postgresql://h/db",
                "titles_jdbc_user=etl",
                "titles_jdbc_table=titles; drop table x",
            ],
            r"^titles_jdbc_table='titles; drop table x': set a plain SQL name",
        ),
        (["titles_jdbc_overlap_minutes=-5"], r"^titles_jdbc_overlap_minutes=-5: expected"),
        (["titles_dms_path="], r"^titles_dms_path is empty"),
    ],
)
def test_a_bad_titles_setting_fails_naming_the_key(overrides: list[str], message: str):
    # GIVEN a bad reference titles setting WHEN settings load THEN one line names the key
    with pytest.raises(ConfigError, match=message):
        load_settings("local", overrides)


def test_jdbc_settings_that_name_url_table_key_and_user_load():
    # GIVEN a complete JDBC configuration WHEN loaded THEN the values are kept as given
    settings = load_settings(
        "local",
        [
            "titles_source=jdbc",
            "titles_jdbc_url=jdbc:postgresql://db:5432/app",
            "titles_jdbc_user=etl",
            "titles_jdbc_overlap_minutes=30",
        ],
    )
    assert (settings.titles_jdbc_table, settings.titles_jdbc_key) == ("public.titles", "updated_at")
    assert settings.titles_jdbc_overlap_minutes == 30


def test_a_glue_only_jdbc_config_may_leave_url_and_user_to_the_glue_connection():
    # GIVEN titles_source=jdbc with only a Glue connection (it holds URL, user and password)
    settings = load_settings("local", ["titles_source=jdbc", "titles_jdbc_glue_connection=app-db"])
    # THEN the settings load; the URL stays unset (local and EMR runs would fail naming it)
    assert settings.titles_jdbc_url is None and settings.titles_jdbc_glue_connection == "app-db"
    # AND a URL given beside it must still be a PostgreSQL JDBC URL
    with pytest.raises(ConfigError, match=r"^titles_jdbc_url='mysql://h/db': set a PostgreSQL"):
        load_settings(
            "local",
            [
                "titles_source=jdbc",
                "titles_jdbc_glue_connection=app-db",
                "titles_jdbc_url=mysql://h/db",
                "titles_jdbc_user=etl",
            ],
        )
