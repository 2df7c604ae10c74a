"""rerun --failed: each table whose latest run failed in the window, from its failed step; the rest skipped
with the reason."""

from __future__ import annotations

from datetime import UTC, datetime

from databridge_pipeline.domain.pauses import Pause
from databridge_pipeline.domain.reruns import Skip, failed_reruns
from databridge_pipeline.domain.runs import Run, StepRecord

SINCE = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
STEPS = {t: ["extract", "load"] for t in ("databridge/lni/a", "databridge/lni/b", "databridge/opa/c", "knack/x/y/z")}


def run(table: str, run_id: str, status: str, step: str = "load", finished: int | None = 6) -> Run:
    at = datetime(2026, 11, 24, finished or 5, tzinfo=UTC)
    steps = (StepRecord(name="extract", status="succeeded"), StepRecord(name=step, status=status, status_reason="x"))
    return Run(
        table=table,
        run_id=run_id,
        trigger="schedule",
        status="running" if status == "submitted" else status,
        steps=steps if step == "load" else steps[:1],
        current=1 if step == "load" else 0,
        created_at=at,
        updated_at=at,
        finished_at=at if finished and status != "submitted" else None,
    )


def test_each_failed_table_reruns_from_its_failed_step_and_the_others_are_skipped_with_why():
    runs = {
        "databridge/lni/a": [run("databridge/lni/a", "r2", "failed")],
        "databridge/lni/b": [
            run("databridge/lni/b", "r3", "submitted", finished=7),
            run("databridge/lni/b", "r1", "failed"),
        ],
        "databridge/opa/c": [run("databridge/opa/c", "r4", "failed")],
        "knack/x/y/z": [run("knack/x/y/z", "r5", "succeeded", finished=8), run("knack/x/y/z", "r4", "failed")],
    }
    pauses = [Pause(prefix="databridge/opa", reason="Oracle maintenance", paused_at=SINCE)]

    reruns, skips = failed_reruns(runs, STEPS, pauses, SINCE)

    assert [(r.table, r.from_step, r.failed_run) for r in reruns] == [("databridge/lni/a", "load", "r2")]
    assert skips == [
        Skip(table="databridge/lni/b", why="running (run r3 at load)"),
        Skip(
            table="databridge/opa/c",
            why="paused by databridge/opa since 2026-11-24 00:00 UTC: Oracle maintenance (--force reruns it anyway)",
        ),
    ]

    forced, _ = failed_reruns(runs, STEPS, pauses, SINCE, force=True)
    assert [r.table for r in forced] == ["databridge/lni/a", "databridge/opa/c"]


def test_a_failure_before_the_window_is_left_alone():
    runs = {"databridge/lni/a": [run("databridge/lni/a", "r1", "failed", step="extract", finished=6)]}

    assert failed_reruns(runs, STEPS, [], datetime(2026, 11, 24, 7, tzinfo=UTC)) == ([], [])
    assert [r.from_step for r in failed_reruns(runs, STEPS, [], SINCE)[0]] == ["extract"]
