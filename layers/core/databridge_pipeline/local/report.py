"""The local run's report: every run with its steps, per-table figures, and totals."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from databridge_pipeline.domain.runs import Run


def run_report(
    runs: list[Run],
    jobs_submitted: int,
    alerts: int,
    dlq_messages: int,
    repairs: dict[str, int],
    duplicate_jobs: int,
) -> dict[str, Any]:
    """The ``--report`` JSON: ``runs`` (oldest first) and ``totals`` (with the reconciliation pass's repairs
    by kind, and the jobs submitted for a step attempt that already had one: always 0 when all is well)."""
    ordered = sorted(runs, key=lambda r: (r.created_at, r.table, r.run_id))
    return {
        "runs": [
            {
                "table": run.table,
                "run_id": run.run_id,
                "scheduled_for": run.scheduled_for.strftime("%Y-%m-%dT%H:%M:%SZ") if run.scheduled_for else None,
                "status": run.status,
                "steps": [
                    {"step": s.name, "job_id": s.job_id, "attempts": s.attempts, "status": s.status} for s in run.steps
                ],
            }
            for run in ordered
        ],
        "totals": {
            "runs": len(ordered),
            "jobs_submitted": jobs_submitted,
            "alerts": alerts,
            "dlq_messages": dlq_messages,
            "repairs": repairs,
            "duplicate_jobs": duplicate_jobs,
        },
    }


def table_summary(runs: list[Run], alerts_by_table: dict[str, int]) -> list[dict[str, Any]]:
    """Per table: runs (and how they ended), steps succeeded and failed, retries, alerts."""
    rows: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"runs": 0, "succeeded": 0, "failed": 0, "running": 0, "steps_ok": 0, "steps_failed": 0, "retries": 0}
    )
    for run in runs:
        row = rows[run.table]
        row["runs"] += 1
        row[run.status] += 1
        for step in run.steps:
            row["steps_ok"] += step.status == "succeeded"
            row["steps_failed"] += step.status == "failed"
            row["retries"] += max(step.attempts - 1, 0)
    tables = sorted(set(rows) | set(alerts_by_table))
    return [{"table": t, **rows[t], "alerts": alerts_by_table.get(t, 0)} for t in tables]


def format_summary(summary: list[dict[str, Any]]) -> str:
    header = ["TABLE", "RUNS", "OK", "FAILED", "RUNNING", "STEPS OK", "STEPS FAILED", "RETRIES", "ALERTS"]
    keys = ["table", "runs", "succeeded", "failed", "running", "steps_ok", "steps_failed", "retries", "alerts"]
    rows = [header, *[[str(row[k]) for k in keys] for row in summary]]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        for r in rows
    )
