"""Slack alerts as data: what a person needs to act on a failed or stuck run, one line for a cancelled one,
and nothing secret."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict

from databridge_pipeline.domain.runs import Run, step_since
from databridge_pipeline.domain.text import for_slack

AlertKind = Literal["run_failed", "run_stuck", "run_cancelled"]
CANCEL_NOTE_LIMIT = 300  # of a cancellation's note (who, and the reason they gave), on its one line


class Alert(BaseModel):
    """One Slack alert: at most one per run and kind (the run's ledger record says whether it went out).

    ``status_reason`` is free text anyone who may terminate a job can set (for a cancelled run, the run's
    note: who cancelled it and why): it is escaped for Slack (``for_slack``) wherever it is shown; the other
    fields are validated names or built by us."""

    model_config = ConfigDict(frozen=True)

    kind: AlertKind
    environment: str
    table: str
    run_id: str
    step: str
    attempts: int
    job_id: str | None
    status_reason: str | None
    exit_code: int | None
    log_url: str | None
    rerun_command: str
    rerun_message: str

    @property
    def headline(self) -> str:
        if self.kind == "run_cancelled":
            note = " ".join(for_slack(self.status_reason or "cancelled", CANCEL_NOTE_LIMIT).split())
            return f":no_entry_sign: [{self.environment}] {self.table} run {self.run_id} {note}"
        verb = "failed" if self.kind == "run_failed" else "is stuck"
        return f":red_circle: [{self.environment}] {self.table} {verb} at step {self.step}"

    @property
    def reason(self) -> str:
        return for_slack(self.status_reason) if self.status_reason else "unknown"

    def text(self) -> str:
        """Plain text: Slack's fallback and notification text, and what the local run prints. A cancelled run
        is its headline alone: someone chose it, so there is nothing to look into."""
        if self.kind == "run_cancelled":
            return self.headline
        lines = [
            self.headline,
            f"run {self.run_id}, attempts {self.attempts}, job {self.job_id or '-'}",
            f"reason: {self.reason}; exit code: {_or_dash(self.exit_code)}",
        ]
        if self.log_url:
            lines.append(f"logs: {self.log_url}")
        lines.append(f"rerun: {self.rerun_command}")
        return "\n".join(lines)

    def blocks(self) -> list[dict[str, Any]]:
        if self.kind == "run_cancelled":
            return [{"type": "section", "text": {"type": "mrkdwn", "text": self.headline}}]
        fields = [
            ("Table", f"`{self.table}`"),
            ("Step", self.step),
            ("Run", f"`{self.run_id}`"),
            ("Attempts", str(self.attempts)),
            ("Reason", self.reason),
            ("Exit code", _or_dash(self.exit_code)),
        ]
        blocks: list[dict[str, Any]] = [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{self.headline}*"}},
            {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in fields]},
        ]
        if self.log_url:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"<{self.log_url}|Job log stream>"}})
        rerun = f"Rerun:\n```{self.rerun_command}```\nor send to the run queue:\n```{self.rerun_message}```"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": rerun}})
        return blocks


def _or_dash(value: int | None) -> str:
    return "-" if value is None else str(value)


def log_stream_url(region: str, log_group: str, stream: str) -> str:
    """The CloudWatch console link to one log stream (the console's own $-escaping of %-encoding)."""

    def escape(value: str) -> str:
        return quote(quote(value, safe=""), safe="").replace("%", "$")

    return (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#logsV2:log-groups/log-group/{escape(log_group)}/log-events/{escape(stream)}"
    )


def run_alert(run: Run, kind: AlertKind, environment: str, region: str, log_group: str) -> Alert:
    """The alert for a run that failed (after its retries), is stuck at its current step, or was cancelled
    (its ``note`` says by whom and why; the rerun command is kept, though its one line does not show it)."""
    step = run.step
    message = json.dumps({"table": run.table, "from_step": step.name})
    return Alert(
        kind=kind,
        environment=environment,
        table=run.table,
        run_id=run.run_id,
        step=step.name,
        attempts=step.attempts,
        job_id=step.job_id,
        status_reason=_reason(run, kind),
        exit_code=step.exit_code,
        log_url=log_stream_url(region, log_group, step.log_stream) if step.log_stream else None,
        rerun_command=f"databridge-pipeline rerun {run.table} --from-step {step.name} --env {environment}",
        rerun_message=message,
    )


def _reason(run: Run, kind: AlertKind) -> str | None:
    if kind == "run_failed":
        return run.step.status_reason
    if kind == "run_cancelled":
        return run.note
    return _stuck_reason(run)


def _stuck_reason(run: Run) -> str:
    """Which state, since when, and what was tried, so the person knows where to look."""
    step = run.step
    tried = {
        "submitting": "SubmitJob has not succeeded yet (the reconciliation pass retries it every minute)",
        "submitted": f"Batch has not finished job {step.job_id} (polled every minute)",
        "retry_pending": "the retry message was sent (and re-sent every 5 minutes while overdue)",
    }.get(step.status, "")
    since = step_since(run).strftime("%Y-%m-%d %H:%M UTC")
    return f"step {step.status} since {since}, past the table's timeout; attempt {step.attempts}" + (
        f"; {tried}" if tried else ""
    )


class StaleAlert(BaseModel):
    """A table whose data is older than its schedule promises: once per staleness episode."""

    model_config = ConfigDict(frozen=True)

    environment: str
    table: str
    schedule: str
    never_succeeded: bool
    reference: datetime
    deadline: datetime

    @property
    def headline(self) -> str:
        return f":warning: [{self.environment}] {self.table} is stale"

    def text(self) -> str:
        since = (
            f"no success since it was first seen, {self.reference:%Y-%m-%d %H:%M} UTC"
            if self.never_succeeded
            else f"last success {self.reference:%Y-%m-%d %H:%M} UTC"
        )
        return "\n".join(
            [
                self.headline,
                f"{since}; a fresh copy was due by {self.deadline:%Y-%m-%d %H:%M} UTC ({self.schedule}, "
                "the first fire after it plus the timeout)",
                f"check: databridge-pipeline status {self.table} --env {self.environment}",
                f"rerun: databridge-pipeline rerun {self.table} --env {self.environment}",
            ]
        )

    def blocks(self) -> list[dict[str, Any]]:
        return [{"type": "section", "text": {"type": "mrkdwn", "text": self.text()}}]
