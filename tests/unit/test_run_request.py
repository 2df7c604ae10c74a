"""The run-queue message parser, case by case: what a hand-written message may say, and how a rejection
reads (it names the field, says what is wrong, and echoes at most 80 characters of what was sent)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from databridge_pipeline.adapters.run_queue import body
from databridge_pipeline.cli.stack import manual_request
from databridge_pipeline.domain.run_request import (
    MAX_REJECTION,
    SHOWN,
    InvalidRequest,
    RunRequest,
    parse_request,
    run_id_for,
)

T = "databridge/lni/inspections"
FIRE = "2026-11-24T11:15:00Z"


def rejected(message: dict[str, Any] | str) -> InvalidRequest:
    text = message if isinstance(message, str) else json.dumps(message)
    with pytest.raises(InvalidRequest) as caught:
        parse_request(text)
    error = caught.value
    assert len(str(error)) <= MAX_REJECTION
    assert str(error).startswith(f"{error.field}: ")
    return error


def longest_echo(message: str, sent: str) -> int:
    """The longest run of ``sent`` (at least 20 characters) that ``message`` repeats, 0 if none."""
    longest = 0
    for size in (20, SHOWN, SHOWN + 1):
        if any(message[i : i + size] in sent for i in range(len(message) - size + 1)):
            longest = size
    return longest


def test_a_table_alone_is_a_manual_request():
    request = parse_request(json.dumps({"table": T}))

    assert (str(request.table), request.trigger, request.attempt, request.force) == (T, "manual", 1, None)
    assert run_id_for(request, "c80e8021-a70a") == "manual-c80e8021-a70a"


@pytest.mark.parametrize(
    "moment",
    [
        "9999-12-31T23:59:59-14:00",  # converting it to UTC overflows: it used to escape as OverflowError
        "9999-12-31T23:59:59+00:00",
        "0001-01-01T00:00:00+14:00",
        "0001-01-01T00:00:00",
        "1999-12-31T23:59:59Z",
        "2200-01-01T00:00:00Z",
        "2199-12-31T23:00:00-14:00",  # 2200 in UTC
    ],
)
def test_a_time_outside_the_years_2000_to_2199_is_refused_with_the_range(moment: str):
    error = rejected({"table": T, "trigger": "schedule", "scheduled_for": moment})

    assert error.field == "scheduled_for"
    assert "outside the years 2000-2199" in str(error)
    retry = {"table": T, "trigger": "retry", "run_id": "r-1", "from_step": "extract", "attempt": 2}
    assert rejected({**retry, "not_before": moment}).field == "not_before"


@pytest.mark.parametrize("moment", ["2000-01-01T00:00:00Z", "2199-12-31T23:59:59Z", "2000-01-01T00:00:00-05:00"])
def test_the_range_ends_are_times_a_request_may_name(moment: str):
    request = parse_request(json.dumps({"table": T, "trigger": "schedule", "scheduled_for": moment}))

    assert request.scheduled_for is not None and request.scheduled_for.tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (f'{{"table": "{T}", "table": "databridge/lni/permits"}}', "table"),
        (f'{{"table": "{T}", "trigger": "schedule", "trigger": "manual"}}', "trigger"),
        (f'{{"table": "{T}", "from_step": {{"a": 1, "a": 2}}}}', "a"),
    ],
)
def test_a_key_given_twice_is_refused_not_the_last_one_winning(text: str, field: str):
    error = rejected(text)

    assert error.field == field
    assert "given more than once" in str(error)


def test_a_200_kb_table_is_refused_naming_the_field_and_echoing_80_characters_at_most():
    huge = "databridge/lni/" + "X" * 200_000  # a well-formed one is refused as unknown, by the submitter

    error = rejected({"table": huge})

    assert error.field == "table"
    assert "is not of the form databridge/<schema>/<table>" in str(error)
    assert longest_echo(str(error), huge) <= SHOWN


def test_a_dsn_pasted_as_scheduled_for_is_not_echoed():
    dsn = "postgresql://etl:s3cret-passw0rd@databridge.internal:5432/prod?sslmode=require&application_name=x"

    error = rejected({"table": T, "trigger": "schedule", "scheduled_for": dsn})

    assert str(error) == (f"scheduled_for: {len(dsn)} characters is not an ISO-8601 time, e.g. 2026-11-24T11:15:00Z")
    assert "s3cret" not in str(error)
    assert "'2026-13-01' is not an ISO-8601 time" in str(rejected({"table": T, "scheduled_for": "2026-13-01"}))


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ({"x" * 5000: 1, "table": T}, "'" + "x" * 78 + "…"),
        ({"\x1b[2J\x1b[31mred": 1, "table": T}, "'\\x1b[2J\\x1b[31mred'"),
        ({"table": T, "run_id": "r" * 5000}, "run_id"),
        ({"table": T, "from_step": "é" * 5000}, "from_step"),
        ({"table": ["databridge/lni/inspections"] * 10_000}, "table"),
        ({"table": "databridge/lni/" + "\n" * 1000}, "table"),
    ],
)
def test_a_rejection_echoes_at_most_80_characters_of_any_input(message: dict[str, Any], field: str):
    error = rejected(message)

    assert error.field == field
    assert len(error.field) <= SHOWN
    sent = json.dumps(message, ensure_ascii=False)
    assert longest_echo(str(error), sent) <= SHOWN
    assert "\x1b" not in str(error) and "\n" not in str(error)


def test_an_unknown_field_gets_a_did_you_mean_and_many_problems_are_counted_not_listed():
    assert str(rejected({"tabel": T})) == (
        "table: Field required; tabel: Extra inputs are not permitted (did you mean table?)"
    )
    many = rejected({f"field_{n}": n for n in range(500)})
    assert str(many).endswith("(and 498 more)")


@pytest.mark.parametrize(
    ("message", "field", "reason"),
    [
        ({"table": T, "run_id": "scheduled-20261125T1115Z"}, "run_id", "a scheduled- id belongs to trigger schedule"),
        ({"table": T, "trigger": "schedule", "run_id": "scheduled-20261125T1115Z"}, "run_id", "needs scheduled_for"),
        (
            {"table": T, "trigger": "schedule", "scheduled_for": FIRE, "run_id": "scheduled-20261125T1115Z"},
            "run_id",
            "must be scheduled-20261124T1115Z, the id of the fire at scheduled_for",
        ),
        ({"table": T, "trigger": "retry", "from_step": "extract", "attempt": 2}, "run_id", "a retry names the run"),
        ({"table": T, "trigger": "retry", "run_id": "r-1", "attempt": 2}, "from_step", "names the step"),
        ({"table": T, "trigger": "retry", "run_id": "r-1", "from_step": "load"}, "attempt", "attempt 2 or later"),
        ({"table": T, "attempt": 2}, "attempt", "only a retry (trigger retry) has an attempt"),
        ({"table": T, "not_before": FIRE}, "not_before", "only a retry (trigger retry) waits"),
        ({"table": T, "trigger": "schedule", "scheduled_for": FIRE, "force": True}, "force", "only a manual request"),
        ({"table": T, "force": "yes"}, "force", "Input should be a valid boolean"),
        ({"table": T, "run_id": "r" * 81}, "run_id", "String should match pattern"),
    ],
)
def test_ids_times_and_force_only_with_the_trigger_they_belong_to(message: dict[str, Any], field: str, reason: str):
    error = rejected(message)

    assert (error.field, reason in str(error)) == (field, True), str(error)


def test_what_the_pipeline_sends_is_accepted():
    scheduled = {"table": T, "trigger": "schedule", "scheduled_for": FIRE, "run_id": "scheduled-20261124T1115Z"}
    retry = {
        "table": T,
        "trigger": "retry",
        "run_id": "scheduled-20261124T1115Z",
        "from_step": "extract",
        "attempt": 2,
        "scheduled_for": FIRE,
        "not_before": "2026-11-24T11:25:00Z",
    }
    for message in (scheduled, retry, {"table": T, "force": True}, {"table": T, "trigger": "schedule"}):
        request = parse_request(json.dumps(message))
        assert parse_request(body(request)) == request


def test_the_clis_forced_rerun_says_force_and_a_plain_one_sends_what_it_always_sent():
    forced = json.loads(body(manual_request(T, "load", force=True)))
    plain = json.loads(body(manual_request(T, "load")))

    assert forced == {"table": T, "from_step": "load", "trigger": "manual", "attempt": 1, "force": True}
    assert plain == {"table": T, "from_step": "load", "trigger": "manual", "attempt": 1}


def test_a_request_built_in_code_is_held_to_the_same_rules():
    with pytest.raises(ValueError, match="a scheduled- id belongs to trigger schedule"):
        RunRequest.model_validate({"table": T, "run_id": "scheduled-20261124T1115Z"})
    naive = RunRequest.model_validate({"table": T, "trigger": "schedule", "scheduled_for": datetime(2026, 11, 24)})
    assert naive.scheduled_for == datetime(2026, 11, 24, tzinfo=UTC)
