"""The invariants checked after each seed's drain: the guarantee (docs/guarantee.md) as checks on what the
fakes hold and what the harness saw. Each is a small function returning its violations; a violation names
the invariant, the table and run, and the facts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from fakes import SlackDown

from databridge_pipeline.domain.run_request import RunRequest, run_id_for
from databridge_pipeline.domain.runs import Run

from .baton import Crash
from .faults import HARNESS_ERRORS
from .simulation import Simulation
from .trace import describe

RUN_ALERTS = ("run_failed", "run_stuck", "run_cancelled")


@dataclass(frozen=True)
class Violation:
    invariant: str
    fact: str


Check = Callable[[Simulation], Iterator[Violation]]


def runs_end(sim: Simulation) -> Iterator[Violation]:
    """a. Every run ends (succeeded, failed, cancelled), or, when nothing can move it, is alerted as stuck once
    its step outlived the table's timeout: the drain gives every run longer than any timeout. When the drain
    ran out before all settled (a table whose runs take longer than its schedule's interval has a backlog of
    held-back fires), a run whose step is younger than its timeout is still under way, not lost."""
    stuck_posts = {(table, run_id) for (kind, table, run_id), _ in sim.record.posted if kind == "run_stuck"}
    for key, run in sorted(sim.ledger.runs.items()):
        if run.finished or (run.stuck_alert == "sent" and key in stuck_posts) or _under_way(sim, run):
            continue
        yield Violation("runs_end", f"{describe(run)}: still running, no stuck alert posted")


def _under_way(sim: Simulation, run: Run) -> bool:
    spec = sim.world.spec(run.table)
    if sim.record.settled or spec is None:
        return False
    step = run.step
    since = (step.began_at if step.status == "submitting" else None) or step.since or run.updated_at
    return sim.clock() - since <= timedelta(minutes=spec.table.config.timeout_minutes + 5)


def slots_free(sim: Simulation) -> Iterator[Violation]:
    """a. No table's slot is held by a finished run or by a run the ledger does not have: such a slot would
    hold back every later run of the table (the pass frees them). A planted unreadable item keeps its slot."""
    planted = set(sim.record.planted)
    for table, holder in sorted(sim.ledger.slot_holders.items()):
        run = sim.ledger.runs.get((table, holder))
        if (table, holder) in planted:
            continue
        if run is None:
            yield Violation("slots_free", f"{table}: slot held by run {holder}, which the ledger does not have")
        elif run.finished:
            yield Violation("slots_free", f"{table}: slot held by {describe(run)}")


def rejected_runs_fail(sim: Simulation) -> Iterator[Violation]:
    """a. A run whose SubmitJob AWS Batch refused for good (JobRejected: no job can ever be made) ends failed
    with its alert; it must not wait in ``submitting`` for a stuck alert."""
    for key in sorted(sim.record.rejected):
        run = sim.ledger.runs.get(key)
        if run is not None and not run.finished:
            yield Violation("rejected_runs_fail", f"{describe(run)}: Batch rejected its SubmitJob, yet it runs on")


def one_job_per_attempt(sim: Simulation) -> Iterator[Violation]:
    """b. At most one Batch job per (table, run, step, attempt), from the tags of every job ever made (those
    Batch has forgotten too): a second job would load the table twice."""
    attempts: dict[tuple[str, ...], list[str]] = {}
    for job_id, tags in sim.driver.registry.items():
        key = (tags["table"], tags["run_id"], tags["step"], tags["attempt"])
        attempts.setdefault(key, []).append(job_id)
    for (table, run_id, step, attempt), jobs in sorted(attempts.items()):
        if len(jobs) > 1:
            yield Violation("one_job_per_attempt", f"{table} {run_id} {step} attempt {attempt}: jobs {', '.join(jobs)}")


def one_alert_per_failure(sim: Simulation) -> Iterator[Violation]:
    """c. Once Slack accepts, exactly one failure alert per failed run, and at most one stuck alert per run;
    none for a succeeded run. A second post is tolerated only where the harness cost the invocation its
    chance to mark the alert sent after Slack accepted it (``Record.tolerated``)."""
    posts = Counter(key for key, _ in sim.record.posted)
    posters: dict[tuple[str, str, str], list[str]] = {}
    for key, who in sim.record.posted:
        posters.setdefault(key, []).append(who)
    for key, count in sorted(posts.items()):
        allowed = 1 + sim.record.tolerated[key]
        if key[0] in RUN_ALERTS and count > allowed:
            kind, table, run_id = key
            who = ", ".join(posters[key])
            yield Violation("one_alert_per_failure", f"{table} {run_id}: {kind} posted {count} times by {who}")
    for (table, run_id), run in sorted(sim.ledger.runs.items()):
        failed_posts = posts[("run_failed", table, run_id)]
        if run.status == "failed" and not failed_posts:
            yield Violation("one_alert_per_failure", f"{describe(run)}: failed, its alert never posted")
        if run.status == "succeeded" and failed_posts:
            yield Violation("one_alert_per_failure", f"{describe(run)}: succeeded, yet a failure alert was posted")


def jobs_belong_to_their_run(sim: Simulation) -> Iterator[Violation]:
    """d. No run adopts or tracks another table's or run's job: each job id on a run's steps was made for
    that table and run (its tags say so)."""
    for (table, run_id), run in sorted(sim.ledger.runs.items()):
        for step in run.steps:
            if step.job_id is None:
                continue
            tags = sim.driver.registry.get(step.job_id)
            if tags is None:
                yield Violation("jobs_belong_to_their_run", f"{table} {run_id} {step.name}: {step.job_id} never made")
            elif (tags["table"], tags["run_id"]) != (table, run_id):
                owner = f"{tags['table']} {tags['run_id']}"
                yield Violation("jobs_belong_to_their_run", f"{table} {run_id} {step.name}: {step.job_id} is {owner}'s")


def fires_have_runs(sim: Simulation) -> Iterator[Violation]:
    """e. No lost fire: each tick that moved the cursor over (after, tick] dispatched each table's latest fire
    in it (the dispatcher's catch-up promise); that fire has a run in the ledger, or an alert names it, or
    its table's slot is held for good by an alerted run or item. Fires are computed from the drawn
    schedules, not by the product's schedule code."""
    blocked = sim.blocked_tables()
    named = {run_id for (_, _, run_id), _ in sim.record.posted}
    for before, after_tick, dispatching in sim.record.cursor_moves:
        if not dispatching or after_tick is None:
            continue
        after = before or after_tick - timedelta(minutes=1)
        for spec in sim.world.tables:
            fires = spec.schedule.fires(max(after, after_tick - timedelta(hours=24)), after_tick)
            if not fires:
                continue
            run_id = _scheduled_id(fires[-1])
            key = (spec.id, run_id)
            if key in sim.ledger.runs or key in sim.ledger.unreadable or run_id in named or spec.id in blocked:
                continue
            if not sim.record.settled and any(run_of(m.body, m.message_id) == key for m in sim.sqs.waiting):
                continue  # held back behind its table's backlog when the drain ran out: still on its way
            yield Violation("fires_have_runs", f"{spec.id} {run_id}: no run, no alert; {_whereabouts(sim, key)}")


def _scheduled_id(fire: datetime) -> str:
    return f"scheduled-{fire:%Y%m%dT%H%MZ}"


def _whereabouts(sim: Simulation, key: tuple[str, str]) -> str:
    """Where the fire's messages are: sent, waiting, in the DLQ."""
    sent = sum(run_of(m.body, m.message_id) == key for m in sim.run_queue.sent)
    dlq = sum(run_of(m.body, m.message_id) == key for m in sim.sqs.dlq)
    waiting = sum(run_of(m.body, m.message_id) == key for m in sim.sqs.waiting)
    lost = "lost to the DLQ after 5 failed receives; " if dlq and not waiting else ""
    return f"{lost}{sent} message(s) sent, {waiting} waiting, {dlq} in the DLQ"


def run_of(body: str, message_id: str) -> tuple[str, str]:
    request = RunRequest.model_validate_json(body)
    return str(request.table), run_id_for(request, message_id)


def dlq_holds_no_finished_run(sim: Simulation) -> Iterator[Violation]:
    """f. The DLQ holds no message of a run that exists and finished: a message must go to the DLQ only when it
    can never succeed, and a transient outage every run survived leaves the DLQ empty."""
    for message in sim.sqs.dlq:
        key = run_of(message.body, message.message_id)
        run = sim.ledger.runs.get(key)
        if run is not None and run.finished:
            fact = f"{message.message_id}#{message.copy} ({message.request.trigger}) of {describe(run)}"
            yield Violation("dlq_holds_no_finished_run", fact)


def unreadable_alerted_once(sim: Simulation) -> Iterator[Violation]:
    """g. An unreadable item holding a slot is alerted once (a post naming its run id), and nothing else of it
    stops the others: their runs end (``runs_end`` covers them)."""
    posts = Counter(run_id for (_, _, run_id), _ in sim.record.posted)
    tolerated = Counter(run_id for (_, _, run_id), n in sim.record.tolerated.items() for _ in range(n))
    for table, run_id in sim.record.planted:
        count = posts[run_id]
        if count == 0 or count > 1 + tolerated[run_id]:
            yield Violation("unreadable_alerted_once", f"{table} {run_id}: unreadable item alerted {count} times")


def dispatcher_ends_by_faults_only(sim: Simulation) -> Iterator[Violation]:
    """h. A dispatcher invocation fails only on a fault the harness made (an AWS call failed, Slack down, a
    crash): anything else escaping it (a StaleRun, an unreadable item's parse error) stops the pass for every
    run after it, every minute."""
    for kind, name, error in sim.record.escaped:
        if kind == "dispatcher" and not _harness_made(error):
            yield Violation("dispatcher_ends_by_faults_only", f"{name} raised {type(error).__name__}: {error}")


def no_programming_errors(sim: Simulation) -> Iterator[Violation]:
    """i. What escapes a submitter or job-events invocation is a harness fault or one of the domain's own
    errors (``domain.errors``, raised to have the delivery retried), never a TypeError or the like."""
    for kind, name, error in sim.record.escaped:
        domain = type(error).__module__ == "databridge_pipeline.domain.errors"
        if kind != "dispatcher" and not (domain or _harness_made(error)):
            yield Violation("no_programming_errors", f"{name} raised {type(error).__name__}: {error}")


def _harness_made(error: BaseException | None) -> bool:
    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, (Crash, SlackDown, *HARNESS_ERRORS)):
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False


def harness_sound(sim: Simulation) -> Iterator[Violation]:
    """The harness itself: no bug of its own, no invocation left live."""
    for error in sim.record.harness_errors:
        yield Violation("harness", error)


CHECKS: tuple[Check, ...] = (
    harness_sound,
    runs_end,
    slots_free,
    rejected_runs_fail,
    one_job_per_attempt,
    one_alert_per_failure,
    jobs_belong_to_their_run,
    fires_have_runs,
    dlq_holds_no_finished_run,
    unreadable_alerted_once,
    dispatcher_ends_by_faults_only,
    no_programming_errors,
)


def check(sim: Simulation) -> list[Violation]:
    return [violation for invariant in CHECKS for violation in invariant(sim)]
