"""The dispatcher's minute on fakes: a pass that fails does not take the freshness check with it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from databridge_pipeline.services.minute import Minute

from .pipeline import pipeline_of
from .test_freshness_check import PARKS, at


def minute_of(parks) -> Minute:
    return Minute(parks.dispatcher, parks.reconciler, parks.freshness)


def test_a_failing_pass_still_lets_the_freshness_check_run_and_then_fails_the_invocation():
    parks = pipeline_of(PARKS)
    parks.freshness.check(at(24, 5))  # first seen
    broken = parks.ledger.slots

    def slots():
        raise RuntimeError("DynamoDB is throttling the ledger")

    parks.ledger.slots = slots
    parks.clock.now = at(25, 9, 15)

    with pytest.raises(RuntimeError, match="throttling"):
        minute_of(parks).run(at(25, 9, 15))

    assert len(parks.alerts.posts) == 2, "both stale tables were alerted all the same"
    parks.ledger.slots = broken
    assert minute_of(parks).run(at(25, 9, 16))["reconcile"] is not None


def test_the_pass_is_given_the_invocations_remaining_time():
    parks = pipeline_of(PARKS)
    parks.clock.now = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)
    parks.request({"table": "databridge/parks/sites"})

    result = minute_of(parks).run(parks.clock.now, remaining=lambda: 5.0)

    assert result["reconcile"]["cut_short"] is True, "5 s left: the pass starts no repair"
    assert (
        minute_of(parks).run(parks.clock.advance(minutes=1), remaining=lambda: 55.0)["reconcile"]["cut_short"] is False
    )
