"""Table configs: the models, and loading them from ``table_configs/`` with ``file:line`` problems.

The legacy Airflow configs must drop in unchanged, so the keys are the legacy ones plus a few optional new
ones. A config's identity comes from its path: ``databridge/<schema>/<table>.yml`` or
``knack/<carto_conn>/<schema>/<table>.yml``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from croniter import croniter
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from databridge_pipeline.connections import (
    CARTO_CONNECTIONS,
    DEFAULT_CARTO_CONNECTION,
    KNACK_CONNECTIONS,
)

NAME_PATTERN = re.compile(r"^[a-z0-9_]+$")
COLUMN_PATTERN = re.compile(r"^[A-Za-z0-9_]+$")
CARTO_USER_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")
Source = Literal["databridge", "knack"]

YamlLoader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class TableId(BaseModel):
    """``databridge/<schema>/<table>`` or ``knack/<carto_conn>/<schema>/<table>``; a plain string on the wire."""

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
        return f"databridge/{self.schema_name}/{self.name}"


def _parse_table_id(value: str) -> dict[str, Any]:
    parts = value.split("/")
    shapes = "databridge/<schema>/<table> or knack/<carto_conn>/<schema>/<table>"
    if parts[0] == "databridge" and len(parts) == 3:
        fields: dict[str, Any] = {"source": "databridge", "schema_name": parts[1], "name": parts[2]}
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
    if expression.startswith("@reboot"):
        return "'@reboot' has no meaning for a scheduled table"
    try:
        croniter(expression)
    except (ValueError, KeyError) as error:
        return f"{expression!r} is not a valid cron expression ({error})"
    return None


@lru_cache(maxsize=512)
def timezone_problem(name: str) -> str | None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"{name!r} is not an IANA time zone (e.g. UTC, America/New_York)"
    return None


class TableConfig(BaseModel):
    """One table's YAML file: the legacy keys unchanged, plus optional ``timezone`` and retry/timeout keys."""

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

    @field_validator("schedule_interval")
    @classmethod
    def _cron(cls, value: str | bool | None) -> str | bool | None:
        if value is True:
            raise ValueError("true is not a schedule; give a cron expression, or false for manual-only")
        if isinstance(value, str) and value.strip():
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
    def staging_schema(self) -> str:
        """The schema used in S3 keys: a knack test connection stages under ``<schema>_test`` (legacy)."""
        if self.id.source == "knack" and "test" in (self.config.knack_conn_id or ""):
            return f"{self.id.schema_name}_test"
        return self.id.schema_name


# --- loading ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with one config file, as ``path:line: message``."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class ConfigError(Exception):
    """Raised when configs do not validate; carries every problem, not just the first."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass
class _Parsed:
    data: Any
    key_lines: dict[str, int]
    item_lines: dict[tuple[str, int], int]


KNOWN_KEYS = tuple(TableConfig.model_fields)


def load_tables(root: Path) -> list[Table]:
    """Every table under ``root``, sorted by id; raises ``ConfigError`` listing every problem found."""
    tables, problems = check_tables(root)
    if problems:
        raise ConfigError(problems)
    return tables


def check_tables(root: Path) -> tuple[list[Table], list[ConfigProblem]]:
    """Load what validates and report what does not, so one bad file hides no other."""
    if not root.is_dir():
        return [], [ConfigProblem(display_path(root), 0, "no such config directory")]
    tables: list[Table] = []
    problems: list[ConfigProblem] = []
    for path in sorted(_config_files(root)):
        table, file_problems = load_table(path, root)
        problems.extend(file_problems)
        if table is not None:
            tables.append(table)
    tables.sort(key=lambda t: str(t.id))
    problems.sort(key=lambda p: (p.path, p.line))
    return tables, problems


def _config_files(root: Path) -> Iterator[Path]:
    for path in root.rglob("*"):
        if path.is_file() and path.suffix in (".yml", ".yaml"):
            yield path


def load_table(path: Path, root: Path) -> tuple[Table | None, list[ConfigProblem]]:
    """Load one config file: the table, or the problems that stop it (each with its line)."""
    shown = display_path(path)
    relative = path.relative_to(root).with_suffix("")
    if path.suffix != ".yml":
        return None, [ConfigProblem(shown, 1, "table configs end in .yml (rename the file)")]
    try:
        table_id = TableId.parse(relative.as_posix())
    except (ValueError, ValidationError) as error:
        return None, [ConfigProblem(shown, 1, f"not where a table config belongs: {_first_message(error)}")]
    try:
        parsed = _parse_yaml(path.read_text(encoding="utf-8"))
    except _YamlProblem as problem:
        return None, [ConfigProblem(shown, problem.line, problem.message)]
    except UnicodeDecodeError:
        return None, [ConfigProblem(shown, 1, "not UTF-8 text")]
    if not isinstance(parsed.data, dict):
        kind = "an empty file" if parsed.data is None else type(parsed.data).__name__
        return None, [ConfigProblem(shown, 1, f"expected a mapping of config keys, got {kind}")]
    try:
        config = TableConfig.model_validate(parsed.data)
    except ValidationError as error:
        return None, [ConfigProblem(shown, *_locate(e, parsed)) for e in error.errors()]
    problems = [
        ConfigProblem(shown, parsed.key_lines.get(key, 1), message)
        for key, message in cross_field_problems(table_id, config)
    ]
    if problems:
        return None, problems
    return Table(id=table_id, config=config, source_file=shown), []


def cross_field_problems(table_id: TableId, config: TableConfig) -> list[tuple[str, str]]:
    """Rules that span keys or the file's path; each is ``(key to point at, message)``."""
    problems: list[tuple[str, str]] = []
    if table_id.source == "knack":
        if config.knack_object_id is None:
            problems.append(("knack_object_id", "a knack table needs knack_object_id (the Knack object number)"))
        if config.knack_conn_id is None:
            problems.append(("knack_conn_id", f"a knack table needs knack_conn_id (one of {_ids(KNACK_CONNECTIONS)})"))
        if config.carto_conn_id is not None and config.carto_conn_id != table_id.carto_conn:
            problems.append(
                (
                    "carto_conn_id",
                    f"carto_conn_id {config.carto_conn_id!r} disagrees with the folder "
                    f"knack/{table_id.carto_conn}/ this file is in",
                )
            )
    else:
        for key in ("knack_object_id", "knack_conn_id"):
            if getattr(config, key) is not None:
                problems.append((key, f"{key} belongs to knack tables; this is a databridge table"))
    if config.knack_conn_id is not None and config.knack_conn_id not in KNACK_CONNECTIONS:
        problems.append(
            ("knack_conn_id", f"unknown connection id {config.knack_conn_id!r} (known: {_ids(KNACK_CONNECTIONS)})")
        )
    carto = table_id.carto_conn or config.carto_conn_id
    if carto is not None and carto not in CARTO_CONNECTIONS:
        key = "carto_conn_id" if config.carto_conn_id else ""
        problems.append((key, f"unknown connection id {carto!r} (known: {_ids(CARTO_CONNECTIONS)})"))
    if config.upload_to_carto and not config.carto_users:
        problems.append(("upload_to_carto", "upload_to_carto is true but carto_users is empty"))
    return problems


def _ids(ids: Iterable[str]) -> str:
    return ", ".join(ids)


def _first_message(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return str(error.errors()[0]["msg"]).removeprefix("Value error, ")
    return str(error)


def _locate(error: Any, parsed: _Parsed) -> tuple[int, str]:
    """Turn one pydantic error into ``(line, message)`` in the words of the YAML file."""
    loc = error["loc"]
    key = str(loc[0]) if loc else ""
    line = parsed.key_lines.get(key, 1)
    if len(loc) > 1 and isinstance(loc[1], int):
        line = parsed.item_lines.get((key, loc[1]), line)
    if error["type"] == "extra_forbidden":
        guess = difflib.get_close_matches(key, KNOWN_KEYS, n=1)
        hint = f" (did you mean {guess[0]!r}?)" if guess else f" (known keys: {', '.join(KNOWN_KEYS)})"
        return line, f"unknown key {key!r}{hint}"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"].endswith("_type") or error["type"] in ("greater_than_equal", "less_than_equal"):
        message = f"{message}, got {error['input']!r}"
    return line, f"{key}: {message}"


class _YamlProblem(Exception):
    def __init__(self, line: int, message: str) -> None:
        self.line = line
        self.message = message


def _parse_yaml(text: str) -> _Parsed:
    """Parse once with the C loader, keeping each key's line for error messages."""
    loader = YamlLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return _Parsed(None, {}, {})
        key_lines, item_lines = _lines(node)
        return _Parsed(loader.construct_document(node), key_lines, item_lines)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 1
        raise _YamlProblem(line, f"YAML syntax error: {error.problem or error.context}") from None
    except yaml.YAMLError as error:
        raise _YamlProblem(1, f"YAML error: {error}") from None
    finally:
        loader.dispose()


def _lines(node: yaml.Node) -> tuple[dict[str, int], dict[tuple[str, int], int]]:
    key_lines: dict[str, int] = {}
    item_lines: dict[tuple[str, int], int] = {}
    if not isinstance(node, yaml.MappingNode):
        return key_lines, item_lines
    for key_node, value_node in node.value:
        key = str(key_node.value)
        line = key_node.start_mark.line + 1
        if key in key_lines:
            raise _YamlProblem(line, f"duplicate key {key!r} (first at line {key_lines[key]})")
        key_lines[key] = line
        if isinstance(value_node, yaml.SequenceNode):
            for index, item in enumerate(value_node.value):
                item_lines[(key, index)] = item.start_mark.line + 1
    return key_lines, item_lines


def display_path(path: Path) -> str:
    """A path as a person would type it: relative to the working directory when it is under it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
