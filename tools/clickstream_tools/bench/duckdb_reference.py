"""DuckDB reference: the pipeline's parsing, dedup, sessionization and DAU as DuckDB SQL.

The single-machine alternative a user might pick instead of Spark, run on the same raw objects.
DuckDB's JSON reader cannot be used directly on this raw zone: with ``format='unstructured'``
(needed for concatenated and pretty-printed objects) a parse error aborts the whole query, and
``ignore_errors`` only works for ``format='newline_delimited'``, which in turn keeps only the first
value of a concatenated line. So DuckDB reads the objects as lines (its CSV reader, which also
gunzips ``.gz`` objects), and SQL splits them into records the way the project's reader does:

* a line that is one JSON value is one record (newline-delimited content);
* a line of several objects (``{..}{..}`` or ``{..} {..}``) is split between ``}`` and ``{``
  (concatenated content; a ``}{`` inside a string value would be split wrongly);
* lines that continue an object (``"key": ...`` members, closing braces) are joined to the line
  that opened it (pretty-printed content);
* anything else is one rejected record.

Records are then validated with the contract's rules (a record over ``max_record_kib``; string
ids, missing before a wrong type; ISO-8601 with ``Z`` or an offset and at most millisecond
fractions, or integer epoch milliseconds; the plausible window around the object's arrival), in
the reader's order of reasons. Not checked here: bytes that are not UTF-8 and nesting depth (the
generated sample has neither; DuckDB's line reader and JSON functions treat them their own way).
Valid records are deduplicated (earliest
``ingested_at`` from the Firehose object name), sessionized (gap strictly greater than the timeout,
per user by ``(event_time, event_id)``, the same ``session_id`` hash), summarized and counted per
UTC date, and written as dt-partitioned Parquet like the curated tables.

Run alone: ``python -m clickstream_tools.bench.duckdb_reference --lake LAKE [--out DIR] [--result R]``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import time
from pathlib import Path
from typing import Any

import duckdb

from clickstream.raw_objects import ingested_at_ms
from clickstream_tools.bench import emit_result

TIMEOUT_MINUTES = 30
MAX_SESSION_HOURS = 24
# Objects are read as lines; a concatenated object may be one line of several MB. DuckDB's CSV
# buffers grow with this limit (256 MiB makes reading ~8x slower), so it follows the objects.
MIN_MAX_LINE_BYTES = 64 * 1024 * 1024
GZIP_RATIO = 16
# ISO-8601 as the contract accepts it; the date itself is checked by DuckDB's cast (02-30 fails).
ISO_EVENT_TIME = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,3})?"
    r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)
MIN_EPOCH_MS = -62_135_596_800_000  # 0001-01-01T00:00:00Z
MAX_EPOCH_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
# The reader's defaults (conf/base.yaml): the plausible window and the longest record.
MAX_FUTURE_MINUTES = 1440
MAX_AGE_DAYS = 30
MAX_RECORD_KIB = 1000
# Firehose object name timestamp, as clickstream.raw_objects reads it.
_NAME_STAMP = (
    r"-[0-9]+-([0-9]{4}-[0-9]{2}-[0-9]{2}-[0-9]{2}-[0-9]{2}-[0-9]{2})"
    r"-[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}(\.[a-zA-Z0-9]+)*$"
)
_FIELDS = "['$.event_id', '$.user_id', '$.event_type', '$.event_time', '$.title_id']"

# One row per physical line (gunzipped), in file order (WITH ORDINALITY), untrimmed: trimming
# every line (Unicode-aware) costs more than all the JSON validation.
_LINES = r"""
SELECT filename AS source_file, ordinality AS ord, line
FROM read_csv($files, columns = {'line': 'VARCHAR'}, delim = chr(2), quote = '', escape = '',
              header = false, auto_detect = false, compression = 'auto', filename = true,
              strict_mode = false, max_line_size = $max_line) WITH ORDINALITY
"""

# Lines to records: blank lines dropped; the lines of a pretty-printed object (a lone '{',
# '"key": ...' members, closing braces) joined in file order; concatenated lines split.
_RECORDS = r"""
WITH lines AS (
  SELECT source_file, ord, line,
         regexp_full_match(line, '\s*\{\s*') AS opener,
         regexp_matches(line, '^\s*"(?:[^"\\]|\\.)*"\s*:')
           OR regexp_full_match(line, '\s*[}\]],?\s*') AS cont
  FROM ({lines})
  WHERE NOT regexp_full_match(line, '\s*')
),
pretty AS (
  SELECT source_file, ord, line,
         sum(CASE WHEN cont THEN 0 ELSE 1 END) OVER (
           PARTITION BY source_file ORDER BY ord ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
         ) AS grp
  FROM lines WHERE opener OR cont
),
blocks AS (
  SELECT source_file, ord, line AS text, false AS joined FROM lines WHERE NOT (opener OR cont)
  UNION ALL
  SELECT source_file, min(ord), string_agg(line, chr(10) ORDER BY ord), true
  FROM pretty GROUP BY source_file, grp
),
single AS (
  SELECT source_file, ord, 0 AS piece, text AS record
  FROM blocks
  WHERE joined OR json_valid(text) OR NOT regexp_matches(text, '}\s*\{')
),
split AS (
  SELECT source_file, ord, unnest(generate_series(1, len(parts))) AS piece, unnest(parts) AS record
  FROM (
    SELECT source_file, ord,
           string_split(regexp_replace(text, '}\s*\{', '}' || chr(30) || '{', 'g'), chr(30)) AS parts
    FROM blocks
    WHERE NOT joined AND NOT json_valid(text) AND regexp_matches(text, '}\s*\{')
  )
)
SELECT * FROM single UNION ALL SELECT * FROM split
"""

# Records to validated rows (contract section 2): reason NULL for a valid event. One full parse
# to validate, one to extract the five fields; types and strings come from the small extracts.
_PARSED = r"""
CREATE OR REPLACE TEMP TABLE parsed AS
WITH records AS ({records}),
kinds AS (
  SELECT source_file, ord, piece, record,
         CASE WHEN strlen(trim(record)) > {max_record} THEN 'record_too_large'
              WHEN NOT json_valid(record) THEN 'not_json'
              WHEN NOT regexp_matches(record, '^\s*\{') THEN 'not_an_object' END AS bad
  FROM records
),
extracted AS (
  SELECT *, CASE WHEN bad IS NULL THEN json_extract(record, {fields}) END AS f FROM kinds
),
fields AS (
  SELECT source_file, ord, piece, record, bad,
         [json_type(f[1]), json_type(f[2]), json_type(f[3]), json_type(f[4]), json_type(f[5])]
           AS ty,
         [f[1] ->> '$', f[2] ->> '$', f[3] ->> '$', f[4] ->> '$', f[5] ->> '$'] AS v
  FROM extracted
),
timed AS (
  SELECT fields.*, epoch_us(files.ingested_at) AS ingested_us,
         CASE
           WHEN ty[4] = 'VARCHAR' AND regexp_matches(v[4], '{iso}')
             THEN try_cast(v[4] AS TIMESTAMPTZ)
           WHEN ty[4] IN ('BIGINT', 'UBIGINT')
                AND try_cast(v[4] AS BIGINT) BETWEEN {min_ms} AND {max_ms}
             THEN make_timestamp(try_cast(v[4] AS BIGINT) * 1000)::TIMESTAMPTZ
         END AS ts
  FROM fields JOIN files USING (source_file)
),
checked AS (
  SELECT *,
         CASE
           WHEN bad IS NOT NULL THEN bad
           WHEN coalesce(ty[1], 'NULL') = 'NULL' OR v[1] = '' THEN 'missing_event_id'
           WHEN coalesce(ty[2], 'NULL') = 'NULL' OR v[2] = '' THEN 'missing_user_id'
           WHEN coalesce(ty[3], 'NULL') = 'NULL' OR v[3] = '' THEN 'missing_event_type'
           WHEN ty[1] <> 'VARCHAR' OR ty[2] <> 'VARCHAR' OR ty[3] <> 'VARCHAR'
             THEN 'invalid_type'
           WHEN ts IS NULL OR year(timezone('UTC', ts)) NOT BETWEEN 1 AND 9999
             THEN 'invalid_event_time'
           WHEN ty[5] IS NOT NULL AND ty[5] NOT IN ('NULL', 'VARCHAR') THEN 'invalid_title_id'
           WHEN epoch_us(ts) > ingested_us + {future_us} THEN 'event_time_in_future'
           WHEN epoch_us(ts) < ingested_us - {age_us} THEN 'event_time_too_old'
         END AS reason
  FROM timed
)
SELECT source_file, ord, piece, reason,
       CASE WHEN reason IS NULL THEN v[1] END AS event_id,
       CASE WHEN reason IS NULL THEN v[2] END AS user_id,
       CASE WHEN reason IS NULL THEN v[3] END AS event_type,
       CASE WHEN reason IS NULL THEN ts END AS event_time,
       CASE WHEN reason IS NULL AND ty[5] = 'VARCHAR' THEN v[5] END AS title_id,
       CASE WHEN reason IS NOT NULL THEN trim(record) END AS record
FROM checked
"""

_DEDUP = """
CREATE OR REPLACE TEMP TABLE deduped AS
SELECT p.event_id, p.user_id, p.event_type, p.event_time, p.title_id, f.ingested_at, p.source_file
FROM parsed p JOIN files f USING (source_file)
WHERE p.reason IS NULL
QUALIFY row_number() OVER (
  PARTITION BY p.event_id
  ORDER BY f.ingested_at, p.source_file, p.user_id, p.event_type, p.event_time, p.title_id
) = 1
"""

# Per user by (event_time, event_id): a gap strictly greater than the timeout starts a session,
# and so does an event at or after the session's first event + the cap. The cap starts are walked
# by a recursive CTE, one step per start (the first capped event of an activity, then the first
# at or after the previous start + the cap), and each capped event takes the last start at or
# before it (ASOF join); session_id = first 32 hex digits of sha256(user_id || U+001F || first
# event_id), as in Spark.
_SESSIONIZE = """
CREATE OR REPLACE TEMP TABLE events AS
WITH RECURSIVE gaps AS (
  SELECT *, epoch_us(event_time) AS t,
            epoch_us(event_time)
            - lag(epoch_us(event_time)) OVER (PARTITION BY user_id ORDER BY event_time, event_id)
            AS gap
  FROM deduped
),
firsts AS (
  SELECT *, last_value(CASE WHEN gap IS NULL OR gap > {timeout_us} THEN event_id END IGNORE NULLS)
            OVER w AS first_id,
            last_value(CASE WHEN gap IS NULL OR gap > {timeout_us} THEN t END IGNORE NULLS)
            OVER w AS activity_start
  FROM gaps
  WINDOW w AS (PARTITION BY user_id ORDER BY event_time, event_id
               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
),
capped AS (
  SELECT event_id, user_id, activity_start, t,
         row_number() OVER (PARTITION BY user_id, activity_start ORDER BY event_time, event_id) AS rn
  FROM firsts WHERE t - activity_start >= {cap_us}
),
walk AS (
  SELECT user_id, activity_start, rn FROM capped WHERE rn = 1
  UNION ALL
  SELECT s.user_id, s.activity_start, min(c.rn)
  FROM walk w
  JOIN capped s ON s.user_id = w.user_id AND s.activity_start = w.activity_start AND s.rn = w.rn
  JOIN capped c ON c.user_id = w.user_id AND c.activity_start = w.activity_start
               AND c.t >= s.t + {cap_us}
  GROUP BY s.user_id, s.activity_start
),
starts AS (
  SELECT c.user_id, c.activity_start, c.t, c.event_id AS cap_first
  FROM walk JOIN capped c USING (user_id, activity_start, rn)
),
assigned AS (
  SELECT c.event_id, s.cap_first
  FROM capped c ASOF JOIN starts s
    ON c.user_id = s.user_id AND c.activity_start = s.activity_start AND c.t >= s.t
)
SELECT f.event_id, f.user_id, f.event_type, f.event_time, f.title_id, f.ingested_at, f.source_file,
       substr(sha256(f.user_id || chr(31) || coalesce(w.cap_first, f.first_id)), 1, 32)
         AS session_id,
       strftime(timezone('UTC', f.event_time), '%Y-%m-%d') AS dt
FROM firsts f LEFT JOIN assigned w ON w.event_id = f.event_id
"""

_SESSIONS = """
CREATE OR REPLACE TEMP TABLE sessions AS
SELECT session_id, user_id, min(event_time) AS session_start, max(event_time) AS session_end,
       count(*) AS event_count,
       (epoch_ms(max(event_time)) - epoch_ms(min(event_time))) / 1000.0 AS duration_seconds,
       strftime(timezone('UTC', min(event_time)), '%Y-%m-%d') AS dt
FROM events GROUP BY session_id, user_id
"""

_DAU = """
CREATE OR REPLACE TEMP TABLE dau AS
SELECT dt, count(DISTINCT user_id) AS active_users, count(*) AS events
FROM events GROUP BY dt
"""

# load_titles: rows with a title_id, one per title_id (complete rows first).
_TITLES = """
CREATE OR REPLACE TEMP TABLE titles AS
SELECT title_id, title, genre
FROM read_csv($files, header = true, auto_detect = false, quote = '"', escape = '"',
              columns = {'title_id': 'VARCHAR', 'title': 'VARCHAR', 'genre': 'VARCHAR'})
WHERE trim(title_id) <> ''
QUALIFY row_number() OVER (
  PARTITION BY title_id ORDER BY title IS NULL, title, genre IS NULL, genre
) = 1
"""

_OUTPUTS = {
    "curated/events": """
        SELECT e.event_id, e.user_id, e.event_type, e.event_time, e.title_id, t.title, t.genre,
               e.session_id, e.ingested_at, e.source_file, e.dt
        FROM events e LEFT JOIN titles t ON e.title_id = t.title_id""",
    "curated/sessions": "SELECT * FROM sessions",
    "curated/daily_active_users": "SELECT * FROM dau",
    "quarantine/clickstream": """
        SELECT p.record, p.reason, p.source_file, f.ingested_at,
               strftime(timezone('UTC', f.ingested_at), '%Y-%m-%d') AS dt
        FROM parsed p JOIN files f USING (source_file) WHERE p.reason IS NOT NULL""",
}


def _is_hidden(relative: str) -> bool:
    """Hidden like clickstream.raw_objects: any path part starting with '_' or '.'."""
    return any(part[:1] in ("_", ".") for part in relative.split("/") if part)


def list_objects(con: duckdb.DuckDBPyConnection, root: str) -> list[str]:
    """The non-hidden files under root, recursively, sorted (DuckDB's glob)."""
    root = root.rstrip("/")
    files = [r[0] for r in con.execute("SELECT file FROM glob($p)", {"p": f"{root}/**"}).fetchall()]
    return sorted(f for f in files if not _is_hidden(f[len(root) :]))


def _files_table(con: duckdb.DuckDBPyConnection, objects: list[str]) -> None:
    """files(source_file, ingested_at): the object name's timestamp, else the modification time."""
    con.execute("CREATE OR REPLACE TEMP TABLE files (source_file VARCHAR, ingested_at TIMESTAMPTZ)")
    con.execute(
        "INSERT INTO files SELECT f, try_strptime(regexp_extract(f, $re, 1), '%Y-%m-%d-%H-%M-%S')"
        "::TIMESTAMP::TIMESTAMPTZ FROM unnest($files) AS t(f)",
        {"files": objects, "re": _NAME_STAMP},
    )
    unnamed = [
        r[0]
        for r in con.execute("SELECT source_file FROM files WHERE ingested_at IS NULL").fetchall()
    ]
    if unnamed:
        modified = con.execute(
            "SELECT filename, epoch_ms(last_modified) FROM read_blob($files)", {"files": unnamed}
        ).fetchall()
        for path, ms in modified:
            con.execute(
                "UPDATE files SET ingested_at = make_timestamp($us)::TIMESTAMPTZ "
                "WHERE source_file = $p",
                {"us": ingested_at_ms(path, int(ms)) * 1000, "p": path},
            )


def max_line_bytes(objects: list[str]) -> int:
    """A line-size limit above any object's (uncompressed) size: DuckDB's CSV reader needs one."""
    largest = 0
    for path in objects:
        with contextlib.suppress(OSError):
            size = os.path.getsize(path)
            largest = max(largest, size * GZIP_RATIO if path.endswith(".gz") else size)
    return max(MIN_MAX_LINE_BYTES, largest + 1)


def _fill(sql: str, **values: object) -> str:
    """sql with each {name} replaced (str.format would trip over the braces of regexes)."""
    for name, value in values.items():
        sql = sql.replace(f"{{{name}}}", str(value))
    return sql


def records_sql() -> str:
    """The SQL of one row per record (source_file, ord, piece, record) from $files."""
    return _fill(_RECORDS, lines=_LINES)


def connect(threads: int = 2) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection in UTC with the given thread count."""
    con = duckdb.connect()
    con.execute(f"SET threads = {int(threads)}")
    con.execute("SET TimeZone = 'UTC'")
    return con


def run_reference(
    con: duckdb.DuckDBPyConnection,
    lake_root: str,
    out_dir: str | None = None,
    *,
    timeout_minutes: int = TIMEOUT_MINUTES,
    max_session_hours: int = MAX_SESSION_HOURS,
    max_future_minutes: int | None = MAX_FUTURE_MINUTES,
    max_age_days: int | None = MAX_AGE_DAYS,
    max_record_kib: int = MAX_RECORD_KIB,
) -> dict[str, Any]:
    """Parse, dedup, sessionize and count the lake's raw zone; write Parquet when out_dir is set.
    The window bounds are the reader's settings (None: no bound).

    Leaves temp tables parsed, deduped, events, sessions, dau and titles in con; returns counts,
    DAU rows and per-phase seconds.
    """
    lake = lake_root.rstrip("/")
    phases: dict[str, float] = {}
    t = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal t
        now = time.perf_counter()
        phases[name] = round(now - t, 3)
        t = now

    objects = list_objects(con, f"{lake}/raw/clickstream")
    _files_table(con, objects)
    records = records_sql()
    if not objects:
        records = "SELECT NULL::VARCHAR AS source_file, 0::BIGINT AS ord, 0 AS piece, "
        records += "NULL::VARCHAR AS record WHERE false"
    sql = _fill(
        _PARSED,
        records=records,
        fields=_FIELDS,
        iso=ISO_EVENT_TIME,
        min_ms=MIN_EPOCH_MS,
        max_ms=MAX_EPOCH_MS,
        max_record=max_record_kib * 1024,
        # An absent bound: past any instant (10,000 years of microseconds).
        future_us=_bound_us(max_future_minutes, 60),
        age_us=_bound_us(max_age_days, 86_400),
    )
    con.execute(sql, {"files": objects, "max_line": max_line_bytes(objects)} if objects else {})
    lap("list_and_parse")
    con.execute(_DEDUP)
    lap("dedup")
    con.execute(
        _fill(
            _SESSIONIZE,
            timeout_us=int(timeout_minutes * 60 * 1_000_000),
            cap_us=int(max_session_hours * 3600 * 1_000_000),
        )
    )
    lap("sessionize")
    con.execute(_SESSIONS)
    con.execute(_DAU)
    lap("aggregate")
    titles = sorted(str(p) for p in Path(lake, "ref", "titles").glob("*.csv"))
    if titles:
        con.execute(_TITLES, {"files": titles})
    else:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE titles (title_id VARCHAR, title VARCHAR, genre VARCHAR)"
        )
    if out_dir:
        for location, query in _OUTPUTS.items():
            target = Path(out_dir, location)
            target.parent.mkdir(parents=True, exist_ok=True)
            con.execute(
                f"COPY ({query}) TO '{_quote(str(target))}' (FORMAT parquet, COMPRESSION snappy, "
                "PARTITION_BY (dt), OVERWRITE_OR_IGNORE true)"
            )
    lap("titles_and_write")

    (records, valid) = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE reason IS NULL) FROM parsed"
    ).fetchone() or (0, 0)
    reasons = dict(
        con.execute(
            "SELECT reason, count(*) FROM parsed WHERE reason IS NOT NULL GROUP BY 1 ORDER BY 1"
        ).fetchall()
    )
    unique = _scalar(con, "SELECT count(*) FROM deduped")
    dau = [
        {"dt": dt, "active_users": int(a), "events": int(e)}
        for dt, a, e in con.execute("SELECT * FROM dau ORDER BY dt").fetchall()
    ]
    return {
        "objects": len(objects),
        "records_read": int(records),
        "valid": int(valid),
        "quarantined": int(records) - int(valid),
        "quarantined_by_reason": {k: int(v) for k, v in reasons.items()},
        "curated": unique,
        "duplicates_removed": int(valid) - unique,
        "sessions": _scalar(con, "SELECT count(*) FROM sessions"),
        "dau": dau,
        "phases": phases,
    }


def _bound_us(amount: int | None, seconds: int) -> int:
    """A plausibility bound in microseconds; None (off) as 10,000 years, past every instant."""
    return (amount * seconds if amount is not None else 10_000 * 366 * 86_400) * 1_000_000


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0


def _quote(text: str) -> str:
    """A string safe inside a single-quoted SQL literal."""
    return re.sub("'", "''", text)


def main(argv: list[str] | None = None) -> int:
    """Run the reference on a lake and write a JSON result (the harness runs this in a child)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lake", required=True, help="lake root holding raw/ and ref/")
    parser.add_argument("--out", help="folder for the Parquet output (none: no writes)")
    parser.add_argument("--result", help="JSON file for the result (default: stdout)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--timeout-minutes", type=int, default=TIMEOUT_MINUTES)
    parser.add_argument("--max-session-hours", type=int, default=MAX_SESSION_HOURS)
    parser.add_argument("--max-record-kib", type=int, default=MAX_RECORD_KIB)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    con = connect(args.threads)
    result = run_reference(
        con,
        args.lake,
        args.out,
        timeout_minutes=args.timeout_minutes,
        max_session_hours=args.max_session_hours,
        max_record_kib=args.max_record_kib,
    )
    result["seconds"] = round(time.perf_counter() - t0, 3)
    result["start_seconds"] = 0.0
    con.close()
    return emit_result(result, args.result)


if __name__ == "__main__":
    raise SystemExit(main())
