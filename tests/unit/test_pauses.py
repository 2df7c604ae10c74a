"""Which tables a pause covers: the table itself, or every table under a prefix, on whole path parts."""

from __future__ import annotations

from datetime import UTC, datetime

from databridge_pipeline.domain.pauses import Pause, describe, pause_of, under

AT = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)


def pause(prefix: str, reason: str = "Oracle maintenance") -> Pause:
    return Pause(prefix=prefix, reason=reason, paused_at=AT)


def test_a_prefix_covers_itself_and_the_tables_under_it_on_whole_path_parts():
    assert under("databridge/lni", "databridge/lni/inspections")
    assert under("databridge/lni/", "databridge/lni/inspections")
    assert under("databridge/lni/inspections", "databridge/lni/inspections")
    assert not under("databridge/lni", "databridge/lni_old/inspections")
    assert not under("databridge/lni/inspections", "databridge/lni/inspections_2")


def test_the_broadest_covering_pause_is_the_one_shown():
    pauses = [pause("databridge/lni/inspections", "Carto rebuild"), pause("databridge"), pause("knack")]

    assert pause_of("databridge/lni/inspections", pauses) == pause("databridge")
    assert pause_of("airtable/airtable/immigrant_services", pauses) is None


def test_describe_says_by_what_since_when_and_why():
    assert (
        describe(pause("databridge/lni")) == "paused by databridge/lni since 2026-11-24 14:00 UTC: Oracle maintenance"
    )
