"""Table configs as models: a table's id (from its path), its keys, and what the two derive.

The legacy Airflow configs must drop in unchanged, so the keys are the legacy ones plus a few optional new
ones. A config's identity comes from its path: ``databridge/<schema>/<table>.yml``,
``knack/<carto_conn>/<schema>/<table>.yml`` or ``airtable/<schema>/<table>.yml``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from databridge_pipeline.domain.connections import (
    DEFAULT_CARTO_CONNECTION,
)
from databridge_pipeline.domain.step_kinds import ChainContext, StepEntry, derived_chain

NAME_PATTERN = re.compile(r"^[a-z0-9_]+$")
COLUMN_PATTERN = re.compile(r"^[A-Za-z0-9_]+$")
CARTO_USER_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")
Source = Literal["databridge", "knack", "airtable"]

# Validation context of a manifest compiled from configs that were validated in full when it was built.
COMPILED = {"compiled": True}


class TableId(BaseModel):
    """``databridge/<schema>/<table>``, ``knack/<carto_conn>/<schema>/<table>`` or ``airtable/<schema>/<table>``;
    a plain string on the wire."""

    model_config = ConfigDict(frozen=True)

    source: Source
    schema_name: str
    name: str
    carto_conn: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        return _parse_table_id(value) if isinstance(value, str) else value

    @model_serializer
    def _to_string(self) -> str:
        return str(self)

    @classmethod
    def parse(cls, value: str) -> TableId:
        """Parse a table id, raising ``ValueError`` with a message a person can act on."""
        return cls(**_parse_table_id(value))

    def __str__(self) -> str:
        if self.source == "knack":
            return f"knack/{self.carto_conn}/{self.schema_name}/{self.name}"
        return f"{self.source}/{self.schema_name}/{self.name}"


def _parse_table_id(value: str) -> dict[str, Any]:
    parts = value.split("/")
    shapes = "databridge/<schema>/<table>, knack/<carto_conn>/<schema>/<table> or airtable/<schema>/<table>"
    if parts[0] in ("databridge", "airtable") and len(parts) == 3:
        fields: dict[str, Any] = {"source": parts[0], "schema_name": parts[1], "name": parts[2]}
    elif parts[0] == "knack" and len(parts) == 4:
        fields = {"source": "knack", "carto_conn": parts[1], "schema_name": parts[2], "name": parts[3]}
    else:
        raise ValueError(f"table id {value!r} is not of the form {shapes}")
    for part in parts[1:]:
        if not NAME_PATTERN.match(part):
            raise ValueError(f"table id {value!r}: {part!r} must match ^[a-z0-9_]+$")
    return fields


@lru_cache(maxsize=4096)
def cron_problem(expression: str) -> str | None:
    """Why a cron expression is unusable, or None. Cached: configs share a handful of crons."""
    from croniter import croniter

    if expression.startswith("@reboot"):
        return "'@reboot' has no meaning for a scheduled table"
    try:
        croniter(expression)
    except (ValueError, KeyError) as error:
        return f"{expression!r} is not a valid cron expression ({error})"
    fields = expression.split()
    if not expression.startswith("@") and len(fields) != 5:
        # croniter reads a 6th field as seconds and a 7th as years: valid to it, but not what was meant
        return (
            f"{expression!r} has {len(fields)} fields; a cron has 5 "
            "(minute hour day-of-month month day-of-week), e.g. '0 5 * * *'"
        )
    return None


@lru_cache(maxsize=512)
def timezone_problem(name: str) -> str | None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"{name!r} is not an IANA time zone (e.g. UTC, America/New_York)"
    return None


class TableConfig(BaseModel):
    """One table's YAML file: the legacy keys unchanged, plus optional ``timezone``, retry/timeout keys,
    ``source_schema`` (the Postgres schema, when the usual spelling is wrong) and ``steps`` (a chain)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    schedule_interval: str | bool | None = None
    upload_to_carto: bool = False
    carto_users: list[str] = Field(default_factory=list)
    indexes: list[str] | None = None
    upload_to_ago: bool | None = None  # accepted as the legacy files have it; not acted on yet
    knack_object_id: int | None = Field(default=None, ge=1)
    knack_conn_id: str | None = None
    carto_conn_id: str | None = None
    timezone: str = "UTC"
    retries: int | None = Field(default=None, ge=0, le=10)
    retry_delay_minutes: int | None = Field(default=None, ge=0, le=15)
    timeout_minutes: int = Field(default=240, ge=1, le=24 * 60)
    source_schema: str | None = Field(default=None, pattern=NAME_PATTERN.pattern)
    steps: list[StepEntry] | None = Field(default=None, min_length=1)

    @field_validator("schedule_interval")
    @classmethod
    def _cron(cls, value: str | bool | None, info: ValidationInfo) -> str | bool | None:
        if value is True:
            raise ValueError("true is not a schedule; give a cron expression, or false for manual-only")
        if isinstance(value, str) and value.strip() and info.context != COMPILED:
            problem = cron_problem(value.strip())
            if problem:
                raise ValueError(problem)
            return value.strip()
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        problem = timezone_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("carto_users")
    @classmethod
    def _users(cls, value: list[str]) -> list[str]:
        return _all_match(value, CARTO_USER_PATTERN)

    @field_validator("indexes")
    @classmethod
    def _columns(cls, value: list[str] | None) -> list[str] | None:
        return _all_match(value, COLUMN_PATTERN) if value is not None else None

    @property
    def cron(self) -> str | None:
        """The cron expression, or None for a manual-only table (``false``, empty or missing)."""
        value = self.schedule_interval
        return value if isinstance(value, str) and value else None


def _all_match(values: list[str], pattern: re.Pattern[str]) -> list[str]:
    """They are joined with commas into one CLI option, so each must be a plain name."""
    for item in values:
        if not pattern.match(item):
            raise ValueError(f"{item!r} must match {pattern.pattern}")
    return values


DIGIT_WORDS = {
    "0": "zero", "1": "one", "2": "two", "3": "three", "4": "four",
    "5": "five", "6": "six", "7": "seven", "8": "eight", "9": "nine",
}  # fmt: skip


class Table(BaseModel):
    """A validated table: its id, its config and the file it came from."""

    model_config = ConfigDict(frozen=True)

    id: TableId
    config: TableConfig
    source_file: str = ""

    @property
    def carto_conn(self) -> str:
        return self.id.carto_conn or self.config.carto_conn_id or DEFAULT_CARTO_CONNECTION

    @property
    def chain(self) -> list[StepEntry]:
        """The table's steps: its ``steps:`` key, else the chain its legacy keys give."""
        if self.config.steps is not None:
            return self.config.steps
        return derived_chain(self.id.source, self.config.upload_to_carto)

    @property
    def chain_context(self) -> ChainContext:
        return ChainContext(
            table=self.id.name,
            staging_schema=self.staging_schema,
            knack_conn=self.config.knack_conn_id,
            carto_conn=self.carto_conn,
            has_knack_object=self.config.knack_object_id is not None,
        )

    @property
    def postgres_schema(self) -> str:
        """The schema as the City's Postgres spells it: ``source_schema``, else the folder's name with an
        all-digit name spelled out (``311`` -> ``threeoneone``), as the legacy S3-to-Postgres operator did."""
        if self.config.source_schema:
            return self.config.source_schema
        name = self.id.schema_name
        return "".join(DIGIT_WORDS[c] for c in name) if name.isdigit() else name

    @property
    def staging_schema(self) -> str:
        """The schema used in S3 keys: a knack test connection stages under ``<schema>_test`` (legacy)."""
        if self.id.source == "knack" and "test" in (self.config.knack_conn_id or ""):
            return f"{self.id.schema_name}_test"
        return self.id.schema_name
