"""Agreement checks: the pipeline's curated output against the DuckDB reference and the sample."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clickstream_tools.bench.child import Measurement


def _check(a: Any, b: Any) -> dict[str, Any]:
    return {"pipeline": a, "duckdb": b, "equal": a == b}


def agreement(
    pipeline_lake: Path | None,
    duckdb_out: Path | None,
    measurements: dict[str, Measurement],
    report: dict[str, Any],
) -> dict[str, Any]:
    """Compare the pipeline's curated output with the DuckDB reference (and both with the sample)."""
    import duckdb

    checks: dict[str, Any] = {}
    pipe, ref = measurements.get("pipeline"), measurements.get("duckdb")
    scan, native = measurements.get("scan"), measurements.get("scan_native")
    checks["generator"] = {
        "records": report["records"],
        "valid_records": report["valid_records"],
        "unique_events": report["unique_events"],
        "malformed": report["malformed"],
    }
    if scan and scan.ok:
        checks["scan_records_equal_generator"] = scan.result["records_read"] == report["records"]
    core = measurements.get("core")
    if core and core.ok:
        checks["core_events_equal_generator"] = core.result["rows"] == report["unique_events"]
    if native and native.ok:
        got = native.result["rows_with_event_id"]
        checks["scan_native"] = {
            "rows": native.result["rows"],
            "rows_with_event_id": got,
            "valid_records": report["valid_records"],
            "dropped_or_broken": report["valid_records"] - got,
            "fraction_read": round(got / max(1, report["valid_records"]), 4),
        }
    if not (pipe and pipe.ok and ref and ref.ok and pipeline_lake):
        return checks
    con = duckdb.connect()
    con.execute("SET threads = 2")
    totals = pipe.result["totals"]
    for key in ("records_read", "curated", "duplicates_removed", "quarantined"):
        checks[key] = _check(totals.get(key), ref.result.get(key))
    checks["quarantined_by_reason"] = _check(
        totals.get("quarantined_by_reason"), ref.result.get("quarantined_by_reason")
    )
    dau_glob = str(pipeline_lake / "curated/daily_active_users/*/*.parquet")
    pipe_dau = [
        {"dt": dt, "active_users": int(a), "events": int(e)}
        for dt, a, e in con.execute(
            "SELECT CAST(dt AS VARCHAR), active_users, events "
            "FROM read_parquet($g, hive_partitioning = true) "
            "ORDER BY dt",
            {"g": dau_glob},
        ).fetchall()
    ]
    checks["dau"] = {
        "rows": len(pipe_dau),
        "equal": pipe_dau == ref.result["dau"],
        "pipeline": pipe_dau,
        "duckdb": ref.result["dau"],
    }
    sessions_glob = str(pipeline_lake / "curated/sessions/*/*.parquet")
    pipe_sessions = con.execute(
        "SELECT count(*) FROM read_parquet($g, hive_partitioning = true)", {"g": sessions_glob}
    ).fetchone()
    checks["sessions"] = _check(
        int(pipe_sessions[0]) if pipe_sessions else 0, ref.result["sessions"]
    )
    if duckdb_out is not None and (duckdb_out / "curated/sessions").is_dir():
        ref_glob = str(duckdb_out / "curated/sessions/*/*.parquet")
        only = {}
        for label, a, b in (
            ("only_pipeline", sessions_glob, ref_glob),
            ("only_duckdb", ref_glob, sessions_glob),
        ):
            row = con.execute(
                "SELECT count(*) FROM (SELECT session_id FROM read_parquet($a) "
                "EXCEPT SELECT session_id FROM read_parquet($b))",
                {"a": a, "b": b},
            ).fetchone()
            only[label] = int(row[0]) if row else 0
        checks["session_ids"] = {**only, "equal": not any(only.values())}
    con.close()
    return checks


def agreement_lines(checks: dict[str, Any]) -> str:
    lines = ["", "agreement (pipeline vs DuckDB reference):"]
    for key, value in checks.items():
        if key == "dau" and isinstance(value, dict):
            lines.append(f"  dau: {value['rows']} rows, equal={value['equal']}")
        elif isinstance(value, dict) and "equal" in value:
            shown = {k: v for k, v in value.items() if k != "equal"}
            lines.append(f"  {key}: equal={value['equal']} {shown}")
        else:
            lines.append(f"  {key}: {value}")
    return "\n".join(lines)
