"""The freshness check on the dispatcher's tick, on moto: one stale alert per table and episode, StaleTables."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).parents[2] / "events"
INSPECTIONS = "databridge/lni/inspections"
SCHEDULED_DAILY = {INSPECTIONS, "airtable/airtable/immigrant_services", "knack/carto_phl/ppr/ppr_events"}


def tick(stack: Any, context: Any, time: str) -> dict[str, Any] | None:
    event = json.loads((EVENTS / "schedule_tick.json").read_text()) | {"time": time}
    stack.clock.now = datetime.fromisoformat(time.replace("Z", "+00:00"))
    freshness: dict[str, Any] | None = stack.handler("dispatcher").lambda_handler(event, context)["freshness"]
    return freshness


def stale_posts(stack: Any) -> list[str]:
    return [post["text"].splitlines()[0] for post in stack.slack.posts if " is stale" in post["text"]]


def test_tables_that_never_succeed_are_alerted_once_per_episode_even_through_a_slack_outage(stack, context, capsys):
    assert tick(stack, context, "2026-11-24T06:00:00Z") == {"stale": 0, "alerted": 0, "alerts_not_sent": 0}
    assert tick(stack, context, "2026-11-24T06:01:00Z") is None, "every 15 minutes, not every tick"

    stack.slack.fail_next(3)
    assert tick(stack, context, "2026-11-24T16:00:00Z") == {"stale": 3, "alerted": 0, "alerts_not_sent": 3}
    assert tick(stack, context, "2026-11-24T16:15:00Z") == {"stale": 3, "alerted": 3, "alerts_not_sent": 0}
    assert tick(stack, context, "2026-11-24T16:30:00Z") == {"stale": 3, "alerted": 0, "alerts_not_sent": 0}

    assert sorted(stale_posts(stack)) == sorted(f":warning: [dev] {t} is stale" for t in SCHEDULED_DAILY)
    [inspections] = [p["text"] for p in stack.slack.posts if INSPECTIONS in p["text"]]
    assert "no success since it was first seen, 2026-11-24 06:00 UTC" in inspections
    assert "a fresh copy was due by 2026-11-24 15:15 UTC (15 6 * * * America/New_York, timeout 240 min" in inspections
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"StaleTables"' in line]
    assert [m["StaleTables"] for m in metrics] == [[0.0], [3.0], [3.0], [3.0]]


def test_a_success_ends_the_episode_and_the_next_staleness_is_alerted_again(stack, context):
    tick(stack, context, "2026-11-24T06:00:00Z")
    tick(stack, context, "2026-11-24T16:00:00Z")  # dispatches the day's runs (catch-up) and alerts the three
    run = next(m for m in stack.receive() if json.loads(m["Body"])["table"] == INSPECTIONS)
    stack.deliver([run], context)
    for _ in range(2):  # extract, then load
        [job] = [j for j in stack.jobs() if j["tags"]["table"] == INSPECTIONS and j["jobId"] not in stack.batch_says]
        stack.handler("job_events").lambda_handler(stack.job_event(job, "SUCCEEDED"), context)
    assert stack.run_item(INSPECTIONS, "scheduled-20261124T1115Z")["status"] == "succeeded"

    assert tick(stack, context, "2026-11-24T16:30:00Z")["stale"] == 2, "inspections is fresh again"
    assert tick(stack, context, "2026-11-25T15:15:00Z")["stale"] == 2, "its deadline is the next fire + timeout"
    assert tick(stack, context, "2026-11-25T15:30:00Z") == {"stale": 3, "alerted": 1, "alerts_not_sent": 0}
    assert stale_posts(stack).count(f":warning: [dev] {INSPECTIONS} is stale") == 2


def test_paused_manual_and_dev_without_a_schedule_are_exempt(stack, context, monkeypatch):
    from databridge_pipeline.domain.pauses import Pause

    ledger = stack.handler("dispatcher").wiring.ledger
    ledger.pause(Pause(prefix="databridge", reason="Oracle maintenance", paused_at=datetime(2026, 11, 24, tzinfo=UTC)))
    tick(stack, context, "2026-11-24T06:00:00Z")

    assert tick(stack, context, "2026-11-24T16:00:00Z")["stale"] == 2, "inspections paused; clinics manual"

    freshness = stack.handler("dispatcher").freshness
    settings = freshness.settings
    monkeypatch.setattr(
        freshness,
        "settings",
        settings.model_copy(update={"schedule_enabled": False}),
    )
    assert tick(stack, context, "2026-11-24T16:15:00Z") is None
