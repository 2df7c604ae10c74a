"""RunRequest: the run queue's message body. An operator may write one by hand, so it is strict, and a
rejection names the field and says what is wrong while echoing at most ``SHOWN`` characters of what was sent
(a pasted DSN or a 200 KB value must not reach a log line)."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from databridge_pipeline.domain.step_kinds import StepName
from databridge_pipeline.domain.tables import TableId
from databridge_pipeline.domain.text import cut

Trigger = Literal["schedule", "manual", "retry"]
RUN_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:+=@-]{0,79}$"
# Times a request may name: far enough either way for any real fire or retry, near enough that no
# conversion (a -14:00 offset on 9999-12-31) can overflow.
FIRST_YEAR, LAST_YEAR = 2000, 2199
SHOWN = 80  # at most this many characters of any input in a rejection
LONGEST_TIME = len("2026-11-24T11:15:00.000000+05:30")
MAX_PROBLEM = 240  # one problem's text, the safety net under our own messages
MAX_PROBLEMS = 3  # problems listed in one rejection; the rest are counted
MAX_REJECTION = MAX_PROBLEMS * (SHOWN + 2 + MAX_PROBLEM + 2) + 20
TABLE_ID_SHAPES = "databridge/<schema>/<table>, knack/<carto_conn>/<schema>/<table> or airtable/<schema>/<table>"
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}")
_PASSWORD = re.compile(r"(://[^/@:\s]*:)[^/@\s]*@")


class RunRequest(BaseModel):
    """``{"table": "databridge/lni/permits"}`` is enough; the rest has defaults.

    - ``trigger``: ``manual`` (default), ``schedule`` (the dispatcher's fires) or ``retry`` (the pipeline's
      own retry of a failed step: ``run_id``, ``from_step`` and an ``attempt`` of 2 or more).
    - ``run_id``: a ``scheduled-...`` id belongs to ``trigger: schedule`` (or a retry of such a run) and
      must be the one derived from ``scheduled_for``, so a hand-written message cannot take a fire's id.
    - ``scheduled_for``, ``not_before``: ISO-8601 times in the years 2000-2199; a naive one is UTC.
    - ``not_before``: only on a retry, when it is due (the step's delay after it failed). The ledger keeps
      the same time and is what the submitter trusts: a retry that arrives before it goes back to the queue.
    - ``force``: ``true`` runs a manual request for a paused table anyway (``rerun --force``); without it
      the submitter skips a paused table's new run.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    table: TableId
    from_step: StepName | None = None
    trigger: Trigger = "manual"
    scheduled_for: datetime | None = None
    run_id: str | None = Field(default=None, pattern=RUN_ID_PATTERN)
    attempt: int = Field(default=1, ge=1, le=11)
    not_before: datetime | None = None
    force: bool | None = None

    @field_validator("table", mode="before")
    @classmethod
    def _table(cls, value: object) -> object:
        if isinstance(value, TableId):
            return value
        if not isinstance(value, str):
            raise ValueError(f"a table id is a string, e.g. databridge/lni/permits (got {type(value).__name__})")
        try:
            return TableId.parse(value)
        except ValueError:
            if len(repr(value)) <= SHOWN:
                raise  # its message echoes the id, which is short enough
            raise ValueError(
                f"table id {shown(value)} is not of the form {TABLE_ID_SHAPES}, names matching ^[a-z0-9_]+$"
            ) from None

    @field_validator("scheduled_for", "not_before", mode="before")
    @classmethod
    def _time(cls, value: object) -> object:
        if isinstance(value, str):
            text = value
            try:
                value = datetime.fromisoformat(text)
            except ValueError:
                # Echoed only when it is as short as a time: a longer one may be anything pasted (a DSN).
                sent = shown(text) if len(text) <= LONGEST_TIME else f"{len(text)} characters"
                raise ValueError(f"{sent} is not an ISO-8601 time, e.g. 2026-11-24T11:15:00Z") from None
        return in_range(value) if isinstance(value, datetime) else value

    @model_validator(mode="after")
    def _fields_agree(self) -> RunRequest:
        problem = _scheduled_id_problem(self) or _trigger_problem(self)
        if problem is not None:
            field, text = problem
            raise PydanticCustomError("request_rule", "{text}", {"field": field, "text": text})
        return self


def in_range(moment: datetime) -> datetime:
    """``moment`` in UTC, when it falls in the years ``FIRST_YEAR``-``LAST_YEAR``; else ``ValueError``."""
    outside = f"{moment.isoformat()} is outside the years {FIRST_YEAR}-{LAST_YEAR}"
    if not FIRST_YEAR - 1 <= moment.year <= LAST_YEAR + 1:  # checked first: converting 9999-12-31 overflows
        raise ValueError(outside)
    utc = as_utc(moment)
    if not FIRST_YEAR <= utc.year <= LAST_YEAR:
        raise ValueError(f"{outside} (UTC)")
    return utc


def _scheduled_id_problem(request: RunRequest) -> tuple[str, str] | None:
    """A ``scheduled-`` id is the dispatcher's: it goes with its trigger and is derived from its fire. (A
    retry carries its run's id, whatever it is: a retry never starts a run, so its id takes no fire's.)"""
    if request.run_id is None or not request.run_id.startswith("scheduled-") or request.trigger == "retry":
        return None
    if request.trigger == "manual":
        return "run_id", "a scheduled- id belongs to trigger schedule; leave run_id out of a manual request"
    if request.scheduled_for is None:
        return "run_id", "a scheduled- id needs scheduled_for, the fire it is derived from"
    expected = scheduled_run_id(request.scheduled_for)
    if request.run_id != expected:
        return "run_id", f"must be {expected}, the id of the fire at scheduled_for, or be left out"
    return None


def _trigger_problem(request: RunRequest) -> tuple[str, str] | None:
    """Fields that only one trigger may carry."""
    if request.trigger == "retry":
        if request.run_id is None:
            return "run_id", "a retry names the run it retries"
        if request.from_step is None:
            return "from_step", "a retry names the step it retries"
        if request.attempt < 2:
            return "attempt", "a retry is attempt 2 or later"
        return None
    if request.attempt != 1:
        return "attempt", "only a retry (trigger retry) has an attempt other than 1"
    if request.not_before is not None:
        return "not_before", "only a retry (trigger retry) waits for a time"
    if request.force and request.trigger != "manual":
        return "force", "only a manual request runs a paused table"
    return None


class InvalidRequest(ValueError):
    """A message body that is not a run request. ``field`` names the first thing wrong (``body`` when it is
    the whole); the message lists at most ``MAX_PROBLEMS`` problems and is at most ``MAX_REJECTION`` long."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.field = problems[0][0]
        listed = "; ".join(f"{cut(field, SHOWN)}: {cut(text, MAX_PROBLEM)}" for field, text in problems[:MAX_PROBLEMS])
        more = len(problems) - MAX_PROBLEMS
        super().__init__(listed + (f" (and {more} more)" if more > 0 else ""))


def parse_request(body: str | bytes) -> RunRequest:
    """A message body -> its request; ``InvalidRequest`` when it is not one. JSON is parsed here, not by
    pydantic, so that a key given twice is refused (JSON itself lets the last one win, silently)."""
    try:
        data = json.loads(body, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except _DuplicateKey as duplicate:
        raise InvalidRequest([(_field_name(duplicate.key), "given more than once; give each field once")]) from None
    except RecursionError:
        raise InvalidRequest([("body", "Invalid JSON: nested too deeply")]) from None
    except ValueError as error:  # JSONDecodeError (it never quotes the input), or a number too long
        raise InvalidRequest([("body", f"Invalid JSON: {cut(str(error), SHOWN)}")]) from None
    try:
        return RunRequest.model_validate(data)
    except ValidationError as error:
        raise InvalidRequest([_problem(e) for e in error.errors(include_url=False)]) from None


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object as a dict, unless a key appears twice (at any depth)."""
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise _DuplicateKey(key)
        data[key] = value
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _problem(details: Mapping[str, Any]) -> tuple[str, str]:
    """One pydantic error as (field, what is wrong), the offending input left out."""
    context = details.get("ctx") or {}
    location: tuple[Any, ...] = tuple(details.get("loc") or ())
    if not location and "field" in context:
        field = str(context["field"])
    else:
        field = ".".join(_field_name(part) for part in location) or "body"
    text = str(details.get("msg", "invalid")).removeprefix("Value error, ")
    if details.get("type") == "extra_forbidden" and len(location) == 1:
        guesses = difflib.get_close_matches(str(location[0])[:SHOWN], RunRequest.model_fields, n=1)
        text += f" (did you mean {guesses[0]}?)" if guesses else f" (the fields: {', '.join(RunRequest.model_fields)})"
    return field, text


def _field_name(part: object) -> str:
    """A field name as sent: as it is when it looks like one, else quoted and cut."""
    if isinstance(part, str) and _PLAIN_NAME.fullmatch(part):
        return part
    return str(part) if isinstance(part, int) else shown(part)


def shown(value: object, limit: int = SHOWN) -> str:
    """``value`` quoted (control characters escaped) in at most ``limit`` characters, cut with an ellipsis,
    a URL's password masked (a DSN pasted into the wrong field)."""
    return cut(_PASSWORD.sub(r"\1***@", repr(value)), limit)


def as_utc(moment: datetime) -> datetime:
    """An aware UTC datetime; a naive one is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def scheduled_run_id(scheduled_for: datetime) -> str:
    """A scheduled run's id: from its fire time, so a repeated tick can never start a second run."""
    return "scheduled-" + as_utc(scheduled_for).strftime("%Y%m%dT%H%MZ")


def manual_run_id(message_id: str) -> str:
    """A manual run's id: from the SQS message id, so a redelivered message is the same run."""
    return "manual-" + re.sub(r"[^A-Za-z0-9-]", "", message_id)[:64]


def run_id_for(request: RunRequest, message_id: str) -> str:
    if request.run_id:
        return request.run_id
    if request.trigger == "schedule" and request.scheduled_for is not None:
        return scheduled_run_id(request.scheduled_for)
    return manual_run_id(message_id)
