"""The freshness check on fakes: a scheduled table with no success past its deadline is alerted stale once per
episode (a new success starts a new one); paused and manual-only tables are exempt."""

from __future__ import annotations

from datetime import UTC, datetime

from databridge_pipeline.domain.catalog import Catalog
from databridge_pipeline.domain.pauses import Pause
from databridge_pipeline.domain.settings import settings_for
from databridge_pipeline.domain.tables import Table, TableConfig, TableId

from .pipeline import pipeline_of

PARKS = Catalog(
    [
        Table(id=TableId.parse("databridge/parks/sites"), config=TableConfig(schedule_interval="0 5 * * *")),
        Table(id=TableId.parse("databridge/parks/trails"), config=TableConfig(schedule_interval="0 5 * * *")),
        Table(id=TableId.parse("databridge/parks/permits"), config=TableConfig(schedule_interval=False)),
    ]
)
SITES = "databridge/parks/sites"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def test_a_table_that_never_succeeded_is_alerted_stale_once_past_its_first_fire_and_timeout():
    parks = pipeline_of(PARKS)
    first = parks.freshness.check(at(24, 5))  # first seen now; stale after the next fire (05:00) + 240 min

    assert first is not None and (first.stale, first.alerted) == (0, 0)
    assert parks.freshness.check(at(25, 9, 0)).stale == 0, "not past the deadline yet"
    stale = parks.freshness.check(at(25, 9, 15))
    later = parks.freshness.check(at(25, 9, 30))

    assert (stale.stale, stale.alerted, later.stale, later.alerted) == (2, 2, 2, 0)
    assert sorted(alert.table for alert in parks.alerts.posts) == [SITES, "databridge/parks/trails"]
    alert = parks.alerts.posts[0]
    assert alert.never_succeeded and alert.deadline == at(25, 9)
    assert parks.ledger.freshness()[alert.table].alerted_for == at(24, 5)


def test_a_success_ends_the_episode_and_the_next_staleness_is_alerted_again():
    parks = pipeline_of(PARKS)
    parks.ledger.pause(Pause(prefix="databridge/parks/trails", reason="not this test's", paused_at=at(24, 5)))
    parks.freshness.check(at(24, 5))
    parks.freshness.check(at(25, 9, 15))

    parks.ledger.record_success(SITES, at(25, 10))
    fresh = parks.freshness.check(at(25, 10, 15))
    stale_again = parks.freshness.check(at(26, 9, 15))

    assert (fresh.stale, stale_again.stale, stale_again.alerted) == (0, 1, 1)
    first, second = parks.alerts.posts
    assert (first.never_succeeded, second.never_succeeded) == (True, False)
    assert second.reference == at(25, 10)


def test_a_stale_alert_slack_refused_is_tried_again_at_the_next_check():
    parks = pipeline_of(PARKS)
    parks.freshness.check(at(24, 5))
    parks.alerts.fail_next(2)

    refused = parks.freshness.check(at(25, 9, 15))
    retried = parks.freshness.check(at(25, 9, 30))

    assert (refused.alerted, refused.alerts_not_sent) == (0, 2)
    assert (retried.alerted, retried.alerts_not_sent) == (2, 0)
    assert len(parks.alerts.posts) == 2
    assert parks.freshness.check(at(25, 9, 45)).alerted == 0


def test_paused_and_manual_only_tables_are_exempt():
    parks = pipeline_of(PARKS)
    parks.ledger.pause(Pause(prefix="databridge/parks/trails", reason="closed for winter", paused_at=at(24, 5)))
    parks.freshness.check(at(24, 5))

    result = parks.freshness.check(at(26, 12))

    assert (result.stale, result.alerted) == (1, 1)
    assert [alert.table for alert in parks.alerts.posts] == [SITES]
    assert "databridge/parks/permits" not in parks.ledger.freshness(), "a manual table's clock never starts"


def test_between_checks_and_with_the_schedule_off_nothing_is_checked_or_written():
    parks = pipeline_of(PARKS)
    off = pipeline_of(PARKS, settings_for("dev", {"SCHEDULE_ENABLED": "false"}))

    assert parks.freshness.check(at(24, 5, 7)) is None
    assert off.freshness.check(at(24, 5)) is None
    assert parks.ledger.records == {} and off.ledger.records == {}
