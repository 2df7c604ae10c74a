"""Bulk rerun (``rerun --failed``): which tables to rerun after a bad night, from which step, and which to
leave alone and why. Pure: the CLI reads the runs and pauses, and sends what this decides."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from databridge_pipeline.domain.pauses import Pause, describe, pause_of
from databridge_pipeline.domain.runs import Run
from databridge_pipeline.domain.step_kinds import StepName


class Rerun(BaseModel):
    """Rerun ``table`` from ``from_step``, where its run ``failed_run`` failed."""

    model_config = ConfigDict(frozen=True)

    table: str
    from_step: StepName
    failed_run: str
    failed_at: datetime
    reason: str | None


class Skip(BaseModel):
    model_config = ConfigDict(frozen=True)

    table: str
    why: str


def failed_reruns(
    runs: Mapping[str, Sequence[Run]],
    steps: Mapping[str, Sequence[str]],
    pauses: Sequence[Pause],
    since: datetime,
    force: bool = False,
) -> tuple[list[Rerun], list[Skip]]:
    """The tables whose latest run failed at or after ``since``, each from its failed step.

    ``runs`` holds each table's runs, newest first; ``steps`` each table's step names now. A table with a
    run going is skipped (its new run decides); so is a paused one unless ``force``, and one whose failed
    step is no longer in its chain.
    """
    reruns: list[Rerun] = []
    skips: list[Skip] = []
    for table, table_runs in sorted(runs.items()):
        failed = next((r for r in table_runs if r.status == "failed"), None)
        if failed is None or failed.finished_at is None or failed.finished_at < since:
            continue
        latest = table_runs[0]
        if latest is not failed:
            if latest.status == "running":
                skips.append(Skip(table=table, why=f"running (run {latest.run_id} at {latest.step.name})"))
            continue  # a later run succeeded: nothing to rerun
        pause = None if force else pause_of(table, pauses)
        if pause is not None:
            skips.append(Skip(table=table, why=f"{describe(pause)} (--force reruns it anyway)"))
            continue
        step = failed.step.name
        if step not in steps.get(table, ()):
            skips.append(Skip(table=table, why=f"its failed step {step!r} is no longer in its chain"))
            continue
        reruns.append(
            Rerun(
                table=table,
                from_step=step,
                failed_run=failed.run_id,
                failed_at=failed.finished_at,
                reason=failed.step.status_reason,
            )
        )
    return reruns, skips
