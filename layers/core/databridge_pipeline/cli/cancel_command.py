"""``cancel``: end a table's running run by hand, saying who and why. The run is saved cancelled first, its
slot freed, and only then is its Batch job terminated, so the job's FAILED event finds the run finished and is
dropped (never retried); the reconciliation pass posts one Slack line within a minute."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from databridge_pipeline.cli.args import (
    RUN_ID,
    CommandFailed,
    Subcommands,
    add_command,
    configured_tables,
    find_table,
    reason_text,
)
from databridge_pipeline.cli.aws import add_stack_options, aws_errors, open_stack
from databridge_pipeline.cli.output import iso_utc, say
from databridge_pipeline.domain.cancel import Cancellation, CancelRefused
from databridge_pipeline.domain.runs import Run, step_since

if TYPE_CHECKING:
    from databridge_pipeline.services.cancel import Cancelled


def add_cancel(commands: Subcommands) -> None:
    help_text = "cancel TABLE's running run: finish it cancelled, free the table's slot, terminate its Batch job"
    cancel = add_command(commands, "cancel", help_text)
    cancel.add_argument("table", metavar="TABLE", help="table id, e.g. databridge/lni/inspections")
    cancel.add_argument("--run-id", type=RUN_ID, help="this run of TABLE (default: the one running now)")
    cancel.add_argument(
        "--reason", type=reason_text, required=True, help="why (status and the Slack line show it), e.g. 'wrong data'"
    )
    cancel.add_argument(
        "--dry-run", action="store_true", help="print what would be cancelled and stopped; change nothing"
    )
    add_stack_options(cancel)
    cancel.set_defaults(run=cmd_cancel)


def cmd_cancel(args: argparse.Namespace) -> int:
    """Refused (exit 1) when the table has no running run, or the run named has finished."""
    table = str(find_table(configured_tables(args), args.table).id)
    from databridge_pipeline.cli.stack import aws_call

    stack = open_stack(args)
    with aws_errors():
        caller = stack.caller()
        canceller = stack.canceller()
        try:
            with aws_call(f"cancel the run of {table}"):
                if args.dry_run:
                    return _dry_run(canceller.plan(table, args.run_id, args.reason, caller))
                done = canceller.cancel(table, args.run_id, args.reason, caller)
        except CancelRefused as refused:
            raise CommandFailed(str(refused)) from None
    return _report(done)


def _dry_run(plan: Cancellation) -> int:
    say(f"would cancel {_where(plan.run)}: {plan.run.note}")
    say(f"would terminate job {plan.job_id}" if plan.job_id else _no_job(plan.run, plan.in_flight))
    say("--dry-run: nothing changed", file=sys.stderr)
    return 0


def _report(done: Cancelled) -> int:
    from databridge_pipeline.cli.stack import explain

    run = done.run
    say(f"cancelled {_where(run)}: {run.note}")
    if done.ledger_error is not None:
        why = (
            explain(done.ledger_error, "free the table's slot in the run ledger")
            or f"{type(done.ledger_error).__name__}: {done.ledger_error}"
        )
        say(f"its slot is not freed yet ({why}); the reconciliation pass frees it within a minute", file=sys.stderr)
    if done.job_id is None:
        say(_no_job(run, done.in_flight))
    elif done.terminate_error is None:
        say(f"terminated job {done.job_id}: Batch ends it FAILED, and its event finds the run cancelled")
    else:
        error = done.terminate_error
        why = explain(error, f"terminate job {done.job_id}") or f"{type(error).__name__}: {error}"
        raise CommandFailed(
            f"run {run.run_id} of {run.table} is cancelled, but its job {done.job_id} still runs ({why}); stop it "
            f"with `aws batch terminate-job --job-id {done.job_id} --reason cancelled`"
        )
    say("the reconciliation pass posts the Slack line within a minute")
    return 0


def _where(run: Run) -> str:
    step, since = run.step, iso_utc(step_since(run))
    return f"run {run.run_id} of {run.table} at {step.name} ({step.status.replace('_', ' ')} since {since})"


def _no_job(run: Run, in_flight: bool) -> str:
    step = run.step
    if in_flight:
        return (
            f"no job recorded to terminate: {step.name} was being submitted, and a job that submission still "
            "makes is not stopped by this command"
        )
    if step.status == "retry_pending":
        return f"no job to terminate: {step.name} attempt {step.attempts} failed; its retry finds the run cancelled"
    return f"no job to terminate ({step.name} {step.status.replace('_', ' ')})"
