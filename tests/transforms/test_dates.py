"""The dt rule: Spark's local_date and the driver's local_day agree, and both clamp the calendar."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from clickstream.transforms.dates import local_date, local_day, shift_dt

MICROS = 1_000_000
FIRST = -62_135_596_800 * MICROS  # 0001-01-01T00:00:00Z
LAST = 253_402_300_799_999_999  # 9999-12-31T23:59:59.999999Z
INSTANTS = [
    FIRST,
    FIRST + 3_600 * MICROS,
    -12_219_292_800 * MICROS,  # 1582-10-15T00:00:00Z, the Gregorian switch
    -2_208_988_800 * MICROS,  # 1900-01-01: local mean time offsets before it
    0,
    1_772_323_200 * MICROS - 1,  # 2026-02-28T23:59:59.999999Z
    1_772_323_200 * MICROS,  # 2026-03-01T00:00:00Z
    1_793_520_000 * MICROS,  # 2026-11-01T08:00:00Z, a US DST change
    LAST - 3_600 * MICROS,
    LAST,
]
ZONES = ["UTC", "Asia/Seoul", "America/New_York", "Pacific/Kiritimati", "Pacific/Pago_Pago"]


def test_spark_and_the_driver_give_every_instant_the_same_local_date(spark: SparkSession) -> None:
    # GIVEN instants from the first to the last of the calendar, DST changes and LMT eras
    frame = spark.createDataFrame([(t,) for t in INSTANTS], "t long")
    for zone in ZONES:
        # WHEN Spark (dt of rows) and the driver (dates of ranges) compute their dates
        rows = frame.select("t", local_date(F.timestamp_micros("t"), zone).alias("d")).collect()
        spark_dates = {r["t"]: r["d"] for r in rows}
        driver_dates = {t: local_day(t, ZoneInfo(zone)).isoformat() for t in INSTANTS}
        # THEN they agree, and stay within 0001-01-01 .. 9999-12-31
        assert spark_dates == driver_dates, zone
        assert all("0001-01-01" <= d <= "9999-12-31" for d in driver_dates.values())


def test_the_last_instant_east_of_utc_is_clamped_to_the_last_date(spark: SparkSession) -> None:
    # GIVEN 9999-12-31T23:59:59.999999Z, which is 10000-01-01 in Seoul
    frame = spark.createDataFrame([(LAST,)], "t long")
    # WHEN its Seoul date is computed
    dt = frame.select(local_date(F.timestamp_micros("t"), "Asia/Seoul")).first()[0]
    # THEN it is the calendar's last date, not a five-digit year
    assert dt == "9999-12-31" == local_day(LAST, ZoneInfo("Asia/Seoul")).isoformat()


def test_shifting_a_date_past_the_calendar_stops_at_its_ends() -> None:
    # GIVEN dates at both ends of the calendar
    # WHEN they are shifted past it (the planner's and the user metrics' neighbouring dates)
    # THEN they stop at the first and last dates
    assert shift_dt("9999-12-30", 27) == "9999-12-31"
    assert shift_dt("0001-01-02", -27) == "0001-01-01"
    assert shift_dt("2026-02-28", 1) == "2026-03-01"
