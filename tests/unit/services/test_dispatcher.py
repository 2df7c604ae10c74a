"""The dispatcher on fakes: a tick sends one run request per table due in (last tick, this tick], by the tick's
own time; missed ticks are caught up with each table's latest fire; paused tables' fires are skipped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from databridge_pipeline.adapters.run_queue import QueueSendError
from databridge_pipeline.domain.catalog import Catalog
from databridge_pipeline.domain.pauses import Pause
from databridge_pipeline.domain.schedule import Window
from databridge_pipeline.domain.settings import settings_for
from databridge_pipeline.domain.tables import Table, TableConfig, TableId

from .pipeline import INSPECTIONS, RUN_ID, pipeline_of

TICK = datetime(2026, 11, 24, 11, 15, tzinfo=UTC)  # inspections fires: 06:15 in Philadelphia


def tables(**crons: str) -> Catalog:
    """A catalog of ``databridge/transit/<name>`` tables with the given crons."""
    return Catalog(
        [
            Table(id=TableId.parse(f"databridge/transit/{name}"), config=TableConfig(schedule_interval=cron))
            for name, cron in crons.items()
        ]
    )


def sent(pipeline) -> list[tuple[str, str, str | None]]:
    return [
        (str(r.table), r.scheduled_for.strftime("%Y-%m-%dT%H:%MZ") if r.scheduled_for else "", r.run_id)
        for r in pipeline.queue.requests()
    ]


def test_a_tick_sends_one_request_per_due_table_by_the_ticks_own_time_and_moves_the_cursor(pipeline):
    pipeline.clock.now = datetime(2031, 1, 1, tzinfo=UTC)  # the wall clock must not matter
    pipeline.dispatcher.tick(TICK - timedelta(minutes=1))

    result = pipeline.dispatcher.tick(TICK)

    assert result.window == Window(after=TICK - timedelta(minutes=1), until=TICK)
    assert (result.dispatched, result.send_calls) == (1, 1)
    [request] = pipeline.queue.requests()
    assert (str(request.table), request.trigger, request.scheduled_for, request.run_id) == (
        INSPECTIONS,
        "schedule",
        TICK,
        RUN_ID,
    )
    assert pipeline.ledger.cursor() == TICK


def test_with_no_cursor_yet_a_tick_covers_the_minute_before_it(pipeline):
    result = pipeline.dispatcher.tick(TICK)

    assert result.window == Window(after=TICK - timedelta(minutes=1), until=TICK)
    assert sent(pipeline) == [(INSPECTIONS, "2026-11-24T11:15Z", RUN_ID)]


def test_a_repeated_tick_sends_nothing_new(pipeline):
    pipeline.dispatcher.tick(TICK)

    again = pipeline.dispatcher.tick(TICK)

    assert (again.window, again.dispatched, again.send_calls) == (None, 0, 0)
    assert len(pipeline.queue.sent) == 1


def test_a_tick_that_fires_nothing_still_moves_the_cursor_and_sends_nothing(pipeline):
    pipeline.dispatcher.tick(TICK)

    result = pipeline.dispatcher.tick(TICK + timedelta(minutes=1))

    assert (result.dispatched, result.send_calls) == (0, 0)
    assert pipeline.ledger.cursor() == TICK + timedelta(minutes=1)
    assert pipeline.queue.batch_calls == 1


def test_missed_ticks_are_caught_up_with_the_latest_fire_of_each_table():
    transit = pipeline_of(tables(bus_positions="*/15 * * * *", rail_stops="0 10 * * *", night="0 3 * * *"))
    transit.dispatcher.tick(datetime(2026, 11, 24, 9, 0, tzinfo=UTC))
    transit.queue.sent.clear()

    result = transit.dispatcher.tick(datetime(2026, 11, 24, 11, 7, tzinfo=UTC))  # two hours of ticks missed

    assert result.window == Window(
        after=datetime(2026, 11, 24, 9, 0, tzinfo=UTC), until=datetime(2026, 11, 24, 11, 7, tzinfo=UTC)
    )
    assert sent(transit) == [
        ("databridge/transit/rail_stops", "2026-11-24T10:00Z", "scheduled-20261124T1000Z"),
        ("databridge/transit/bus_positions", "2026-11-24T11:00Z", "scheduled-20261124T1100Z"),
    ]


def test_after_a_long_outage_catch_up_looks_back_24_hours_for_the_latest_fire():
    transit = pipeline_of(tables(night="0 3 * * *", weekly="0 4 * * 1"))  # the 23rd was a Monday
    transit.ledger.last_tick = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)

    result = transit.dispatcher.tick(TICK)

    assert result.window is not None and result.window.after == TICK - timedelta(hours=24)
    assert sent(transit) == [("databridge/transit/night", "2026-11-24T03:00Z", "scheduled-20261124T0300Z")]


def test_twenty_five_due_tables_take_three_send_message_batch_calls():
    parks = pipeline_of(tables(**{f"site_{n:02}": "0 5 * * *" for n in range(25)}))

    result = parks.dispatcher.tick(datetime(2026, 11, 24, 5, 0, tzinfo=UTC))

    assert (result.dispatched, result.send_calls, parks.queue.batch_calls) == (25, 3, 3)
    assert len({str(r.table) for r in parks.queue.requests()}) == 25


def test_a_paused_prefix_skips_its_tables_fires_and_counts_them_and_the_others_go_on():
    transit = pipeline_of(tables(bus_positions="0 5 * * *", rail_stops="0 5 * * *"))
    transit.ledger.pause(Pause(prefix="databridge/transit/rail_stops", reason="SEPTA feed down", paused_at=TICK))

    result = transit.dispatcher.tick(datetime(2026, 11, 24, 5, 0, tzinfo=UTC))

    assert (result.dispatched, result.skipped_paused) == (1, 1)
    assert [str(r.table) for r in transit.queue.requests()] == ["databridge/transit/bus_positions"]
    transit.ledger.pause(Pause(prefix="databridge/transit", reason="all of it", paused_at=TICK))
    later = transit.dispatcher.tick(datetime(2026, 11, 25, 5, 0, tzinfo=UTC))
    assert (later.dispatched, later.skipped_paused) == (0, 2)
    assert len(transit.queue.sent) == 1


def test_with_the_schedule_off_a_tick_dispatches_nothing_but_still_moves_the_cursor():
    off = pipeline_of(settings=settings_for("dev", {"SCHEDULE_ENABLED": "false"}))

    result = off.dispatcher.tick(TICK)

    assert result.window is not None and result.dispatched == 0
    assert off.queue.sent == []
    assert off.ledger.cursor() == TICK


def test_a_tick_whose_requests_were_not_sent_leaves_the_cursor_so_its_redelivery_sends_them(pipeline):
    pipeline.dispatcher.tick(TICK - timedelta(minutes=1))
    pipeline.queue.refuse_next()

    with pytest.raises(QueueSendError):
        pipeline.dispatcher.tick(TICK)

    assert pipeline.ledger.cursor() == TICK - timedelta(minutes=1)
    assert pipeline.dispatcher.tick(TICK).dispatched == 1
    assert sent(pipeline) == [(INSPECTIONS, "2026-11-24T11:15Z", RUN_ID)]
