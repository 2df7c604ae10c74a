"""Properties of the run-queue message parser, over generated bodies, valid and hostile: it never raises
anything but its rejection (the submitter's BadMessage path); a valid request round-trips through the body
the pipeline sends; a rejection names the field, stays under its length and echoes at most 80 characters."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from databridge_pipeline.adapters.run_queue import body
from databridge_pipeline.domain.catalog import Catalog
from databridge_pipeline.domain.run_request import (
    MAX_REJECTION,
    SHOWN,
    InvalidRequest,
    RunRequest,
    parse_request,
    scheduled_run_id,
)
from databridge_pipeline.domain.step_kinds import STEP_NAMES
from databridge_pipeline.domain.tables import Table, TableConfig, TableId
from databridge_pipeline.services.submitter import BadMessage, Submitter

FIELDS = tuple(RunRequest.model_fields)
NAMES = st.from_regex(r"[a-z0-9_]{1,30}", fullmatch=True)
TABLE_IDS = st.one_of(
    st.tuples(st.sampled_from(["databridge", "airtable"]), NAMES, NAMES).map("/".join),
    st.tuples(st.just("knack"), NAMES, NAMES, NAMES).map("/".join),
)
OFFSETS = st.sampled_from([UTC, timezone(timedelta(hours=-14)), timezone(timedelta(hours=14, minutes=0))])
TIMES = st.datetimes(datetime(2000, 1, 2), datetime(2199, 12, 30), timezones=st.one_of(st.none(), OFFSETS))
RUN_IDS = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:+=@-]{0,79}", fullmatch=True).filter(
    lambda run_id: not run_id.startswith("scheduled-")
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


@st.composite
def valid_requests(draw: st.DrawFn) -> dict[str, Any]:
    """The fields of a request the pipeline or an operator may send, as Python values."""
    fields: dict[str, Any] = {"table": draw(TABLE_IDS)}
    trigger = draw(st.sampled_from(["manual", "schedule", "retry", None]))
    if trigger is not None:
        fields["trigger"] = trigger
    if draw(st.booleans()):
        fields["scheduled_for"] = draw(TIMES)
    if trigger == "retry":
        fields |= {"run_id": draw(RUN_IDS), "from_step": draw(st.sampled_from(STEP_NAMES))}
        fields["attempt"] = draw(st.integers(2, 11))
        if draw(st.booleans()):
            fields["not_before"] = draw(TIMES)
        return fields
    if draw(st.booleans()):
        fields["from_step"] = draw(st.sampled_from(STEP_NAMES))
    if trigger == "schedule" and "scheduled_for" in fields and draw(st.booleans()):
        fields["run_id"] = scheduled_run_id(fields["scheduled_for"])
    elif draw(st.booleans()):
        fields["run_id"] = draw(RUN_IDS)
    if trigger in ("manual", None):
        fields["force"] = draw(st.sampled_from([True, False, None]))
    return fields


HOSTILE_VALUES = st.one_of(
    st.text(min_size=SHOWN + 1, max_size=20_000),
    st.text(st.characters(codec="utf-8"), min_size=SHOWN + 1, max_size=2_000).map(lambda t: "\x1b[31m" + t),
    st.lists(JSON, min_size=1, max_size=5),
    st.dictionaries(st.text(max_size=10), JSON, min_size=1, max_size=5),
    st.floats(allow_nan=False, allow_infinity=False),
)
EXTREME_TIMES = st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30), timezones=st.one_of(st.none(), OFFSETS)).filter(
    lambda moment: not 2000 <= (moment.astimezone(UTC) if moment.tzinfo else moment).year <= 2199
)


def strings_in(value: Any) -> list[str]:
    """Every string in a JSON value, keys included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in (key, *strings_in(item))]
    if isinstance(value, list):
        return [s for item in value for s in strings_in(item)]
    return []


def check_rejection(error: InvalidRequest, sent: list[str]) -> None:
    """A rejection names its field first, stays under its length, and repeats no 81 characters sent."""
    message = str(error)
    assert error.field and message.startswith(error.field[: SHOWN - 1])
    assert len(message) <= MAX_REJECTION
    windows = {message[i : i + SHOWN + 1] for i in range(len(message) - SHOWN)}
    assert not any(window in text for text in sent if len(text) > SHOWN for window in windows)


def parsed_or_rejected(text: str, value: Any = None) -> RunRequest | InvalidRequest:
    """Parse ``text`` (the JSON of ``value``, when given): a request, or the rejection; anything else raised
    fails the property."""
    try:
        return parse_request(text)
    except InvalidRequest as error:
        check_rejection(error, [text, *strings_in(value)])
        return error


@pytest.mark.property
@given(valid_requests())
def test_a_valid_request_round_trips_through_the_body_the_pipeline_sends(fields: dict[str, Any]):
    request = RunRequest.model_validate(fields)

    assert parse_request(body(request)) == request
    assert parse_request(json.dumps(request.model_dump(mode="json"))) == request


@pytest.mark.property
@given(valid_requests(), st.sampled_from(FIELDS), HOSTILE_VALUES)
def test_a_hostile_value_in_one_field_is_rejected_naming_that_field(fields: dict[str, Any], field: str, value: Any):
    message = RunRequest.model_validate(fields).model_dump(mode="json", exclude_none=True) | {field: value}
    assume(not (field == "table" and isinstance(value, str) and value.count("/") in (2, 3)))

    result = parsed_or_rejected(json.dumps(message), message)

    assert isinstance(result, InvalidRequest)
    assert result.field == field, str(result)


@pytest.mark.property
@given(valid_requests(), st.sampled_from(["scheduled_for", "not_before"]), EXTREME_TIMES)
@example({"table": "databridge/lni/x"}, "scheduled_for", datetime.max.replace(tzinfo=timezone(timedelta(hours=-14))))
@example({"table": "databridge/lni/x"}, "not_before", datetime.min.replace(tzinfo=timezone(timedelta(hours=14))))
def test_a_time_outside_the_range_is_rejected_naming_the_field_and_the_range(
    fields: dict[str, Any], field: str, moment: datetime
):
    message = RunRequest.model_validate(fields).model_dump(mode="json", exclude_none=True)
    message[field] = moment.isoformat()

    result = parsed_or_rejected(json.dumps(message))

    assert isinstance(result, InvalidRequest)
    assert (result.field, "outside the years 2000-2199" in str(result)) == (field, True)


@pytest.mark.property
@given(valid_requests(), st.data())
def test_a_key_given_twice_is_rejected_naming_it(fields: dict[str, Any], data: st.DataObject):
    pairs = list(RunRequest.model_validate(fields).model_dump(mode="json", exclude_none=True).items())
    key, value = data.draw(st.sampled_from(pairs))
    again = data.draw(st.one_of(st.just(value), JSON))
    position = data.draw(st.integers(0, len(pairs)))
    pairs.insert(position, (key, again))
    text = "{" + ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in pairs) + "}"

    result = parsed_or_rejected(text)

    assert isinstance(result, InvalidRequest)
    assert (result.field, "given more than once" in str(result)) == (key, True)


@pytest.mark.property
@given(st.one_of(JSON, st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=300), JSON, max_size=12)))
def test_any_json_is_a_request_or_a_rejection(value: Any):
    parsed_or_rejected(json.dumps(value), value)


@pytest.mark.property
@given(
    st.one_of(
        st.text(max_size=2_000),
        st.binary(max_size=500).map(lambda raw: raw.decode("latin-1")),
        st.integers(1, 5_000).map(lambda depth: "[" * depth + "]" * depth),
        st.integers(1, 5_000).map(lambda depth: '{"table": ' * depth + "1" + "}" * depth),
        st.sampled_from(["NaN", "-Infinity", '{"table": Infinity}', '{"attempt": 1' + "0" * 5000 + "}"]),
    )
)
def test_any_text_is_a_request_or_a_rejection(text: str):
    parsed_or_rejected(text)


CATALOG = Catalog([Table(id=TableId.parse("databridge/lni/inspections"), config=TableConfig())])


@pytest.mark.property
@given(st.one_of(valid_requests().map(lambda f: body(RunRequest.model_validate(f))), JSON.map(json.dumps)))
def test_the_submitter_refuses_what_it_cannot_run_as_a_bad_message_only(text: str):
    submitter = Submitter(CATALOG, None, None, None, None, None)  # type: ignore[arg-type]  # parsing needs no port

    try:
        request, table = submitter._parse(text)
    except BadMessage as error:
        assert len(str(error)) <= MAX_REJECTION
        assert not any(str(error)[i : i + SHOWN + 1] in text for i in range(len(str(error)) - SHOWN))
    else:
        assert str(request.table) == str(table.id) == "databridge/lni/inspections"
