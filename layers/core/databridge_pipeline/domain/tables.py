"""Table configs as models: a table's id (from its path), its keys, and what the two derive.

The legacy Airflow configs must drop in unchanged, so the keys are the legacy ones plus a few optional new
ones. A config's identity comes from its path: ``databridge/<schema>/<table>.yml``,
``knack/<carto_conn>/<schema>/<table>.yml`` or ``airtable/<schema>/<table>.yml``.
"""

from __future__ import annotations

from functools import lru_cache
from re import Pattern
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from databridge_pipeline.domain.connections import DEFAULT_CARTO_CONNECTION, stages_apart
from databridge_pipeline.domain.names import CARTO_USER, COLUMN, NAME, clip, echo, is_name, shape
from databridge_pipeline.domain.step_kinds import (
    CartoSource,
    ChainContext,
    StepEntry,
    derived_chain,
    step_connection,
)

Source = Literal["databridge", "knack", "airtable"]

# Validation context of a manifest compiled from configs that were validated in full when it was built.
COMPILED = {"compiled": True}
MAX_CRON = 200  # the longest legacy cron is 26 characters; croniter expands lists, so bound what it reads


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
        raise ValueError(f"table id {echo(value)} is not of the form {shapes}")
    for part in parts[1:]:
        if not is_name(NAME, part):
            raise ValueError(f"table id {echo(value)}: {echo(part)} must match {shape(NAME)}")
    return fields


@lru_cache(maxsize=4096)
def cron_problem(expression: str) -> str | None:
    """Why a cron expression is unusable, or None. Cached: configs share a handful of crons."""
    from croniter import croniter

    if expression.startswith("@reboot"):
        return "'@reboot' has no meaning for a scheduled table"
    if len(expression) > MAX_CRON or not expression.isprintable():
        return f"{echo(expression)} is not a cron expression (one line of at most {MAX_CRON} printable characters)"
    try:
        croniter(expression)
    except (ValueError, KeyError) as error:
        return f"{echo(expression)} is not a valid cron expression ({clip(str(error))})"
    fields = expression.split()
    if not expression.startswith("@") and len(fields) != 5:
        # croniter reads a 6th field as seconds and a 7th as years: valid to it, but not what was meant
        return (
            f"{echo(expression)} has {len(fields)} fields; a cron has 5 "
            "(minute hour day-of-month month day-of-week), e.g. '0 5 * * *'"
        )
    return None


@lru_cache(maxsize=512)
def timezone_problem(name: str) -> str | None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file name
        return f"{echo(name)} is not an IANA time zone (e.g. UTC, America/New_York)"
    return None


def _matching(pattern: Pattern[str]) -> AfterValidator:
    """A name that goes into a command or Carto SQL (users and indexes are joined with commas into one CLI
    option): the whole of it must match, each list item checked at its own line."""

    def check(value: str) -> str:
        if not is_name(pattern, value):
            raise ValueError(f"{echo(value)} must match {shape(pattern)}")
        return value

    return AfterValidator(check)


CartoUser = Annotated[str, _matching(CARTO_USER)]
Column = Annotated[str, _matching(COLUMN)]
SchemaName = Annotated[str, _matching(NAME)]


class TableConfig(BaseModel):
    """One table's YAML file: the legacy keys unchanged, plus optional ``timezone``, retry/timeout keys,
    ``source_schema`` (the Postgres schema, when the usual spelling is wrong) and ``steps`` (a chain)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    schedule_interval: str | bool | None = None
    upload_to_carto: bool = False
    carto_users: list[CartoUser] = Field(default_factory=list)
    indexes: list[Column] | None = None
    upload_to_ago: bool | None = None  # accepted as the legacy files have it; not acted on yet
    knack_object_id: int | None = Field(default=None, ge=1)
    knack_conn_id: str | None = None
    carto_conn_id: str | None = None
    timezone: str = "UTC"
    retries: int | None = Field(default=None, ge=0, le=10)
    retry_delay_minutes: int | None = Field(default=None, ge=0, le=15)
    timeout_minutes: int = Field(default=240, ge=1, le=24 * 60)
    source_schema: SchemaName | None = None
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

    @property
    def cron(self) -> str | None:
        """The cron expression, or None for a manual-only table (``false``, empty or missing)."""
        value = self.schedule_interval
        return value if isinstance(value, str) and value else None


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
        carto_source: CartoSource = (
            "folder" if self.id.carto_conn else "carto_conn_id" if self.config.carto_conn_id else "default"
        )
        return ChainContext(
            table=self.id.name,
            staging_schema=self.staging_schema,
            knack_conn=self.config.knack_conn_id,
            carto_conn=self.carto_conn,
            has_knack_object=self.config.knack_object_id is not None,
            carto_source=carto_source,
        )

    @property
    def knack_conn(self) -> str | None:
        """The Knack app the table extracts from: its knack step's ``connection:``, else ``knack_conn_id`` (the
        two must agree, but what is staged where follows what is extracted)."""
        named = step_connection(self.config.steps, "knack") if self.config.steps else None
        return named or self.config.knack_conn_id

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
        """The schema used in S3 keys: a knack test connection stages under ``<schema>_test`` (legacy), so a
        test app's records never land on the production path."""
        if self.id.source == "knack" and stages_apart(self.knack_conn):
            return f"{self.id.schema_name}_test"
        return self.id.schema_name
