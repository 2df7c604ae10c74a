"""Table configs: the models, and loading them from ``table_configs/`` with ``file:line`` problems.

The legacy Airflow configs must drop in unchanged, so the keys are the legacy ones plus a few optional new
ones. A config's identity comes from its path: ``databridge/<schema>/<table>.yml``,
``knack/<carto_conn>/<schema>/<table>.yml`` or ``airtable/<schema>/<table>.yml``.
"""

from __future__ import annotations

import difflib
import errno
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from databridge_pipeline.configs.flat_yaml import Where, parse_flat
from databridge_pipeline.domain.connections import (
    CARTO_CONNECTIONS,
    DEFAULT_CARTO_CONNECTION,
    KNACK_CONNECTIONS,
)
from databridge_pipeline.domain.step_kinds import CARTO_LOAD, ChainContext, StepEntry, chain_problems, derived_chain

NAME_PATTERN = re.compile(r"^[a-z0-9_]+$")
COLUMN_PATTERN = re.compile(r"^[A-Za-z0-9_]+$")
CARTO_USER_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")
Source = Literal["databridge", "knack", "airtable"]

if TYPE_CHECKING:  # PyYAML and croniter are imported where configs are read from YAML, not by the Lambdas
    import yaml

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


# --- loading ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with one config file, as ``path:line: message``."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        """``path:line: message``; a problem with the file as a whole (line 0) is ``path: message``."""
        return f"{self.path}:{self.line}: {self.message}" if self.line else f"{self.path}: {self.message}"


class ConfigError(Exception):
    """Raised when configs do not validate; carries every problem, not just the first."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


# Where: a path into a config file, ("retries",), ("steps", 1, "kind"), as flat_yaml defines it.


@dataclass
class _Parsed:
    data: Any
    lines: dict[Where, int]  # the line of each key, list item, and key of a list item's mapping

    def line(self, where: Where) -> int:
        """The line of the deepest part of ``where`` the file has (1 when it has none of it)."""
        for depth in range(len(where), 0, -1):
            if where[:depth] in self.lines:
                return self.lines[where[:depth]]
        return 1


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
    shown_root = display_path(root)  # once: resolving each file's path would cost more than reading it
    folder = str(root)  # and plain strings: a Path per file costs a tenth of the load
    tables: list[Table] = []
    files, problems = config_files(root)
    for relative in files:
        shown = relative if shown_root == "." else f"{shown_root}/{relative}"
        table, file_problems = load_table(os.path.join(folder, relative), relative, shown)
        problems.extend(file_problems)
        if table is not None:
            tables.append(table)
    tables.sort(key=lambda t: str(t.id))
    problems.sort(key=lambda p: (p.path, p.line))
    return tables, problems


def config_files(root: Path) -> tuple[list[str], list[ConfigProblem]]:
    """The ``.yml``/``.yaml`` files under ``root`` as sorted paths relative to it (with ``/``), and what
    discovery could not look at. One ``scandir`` per folder, no stat per file.

    A link to a file is read; a link to a folder is not followed (it could loop, or pull in another tree's
    configs), and neither is a broken link or a loop: each is reported, as is a folder that cannot be read,
    so that no config goes missing without a word.
    """
    files: list[str] = []
    problems: list[ConfigProblem] = []
    folders: list[tuple[str, str]] = [(str(root), "")]
    while folders:
        folder, prefix = folders.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as error:
            problems.append(ConfigProblem(display_path(Path(folder)), 0, f"cannot read this folder ({_reason(error)})"))
            continue
        for entry in entries:
            if entry.is_symlink():
                problem = _link_problem(Path(entry.path))
                if problem:
                    problems.append(ConfigProblem(display_path(Path(entry.path)), 0, problem))
                    continue
            if entry.is_dir():
                folders.append((entry.path, f"{prefix}{entry.name}/"))
            elif entry.name.endswith((".yml", ".yaml")):
                files.append(prefix + entry.name)
    return sorted(files), problems


def _link_problem(path: Path) -> str | None:
    """Why discovery does not follow this symbolic link, or None for a link to a file (read as the file)."""
    try:
        target = path.resolve(strict=True)
    except RuntimeError:  # Python 3.11-3.12 report a loop this way
        return "a symbolic link loop; not followed"
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "a symbolic link loop; not followed"
        return f"a broken symbolic link (to {os.readlink(path)}); not followed"
    if target.is_dir():
        return "a symbolic link to a folder; not followed (copy the configs in, or point --configs at it)"
    return None


def _reason(error: OSError) -> str:
    return (error.strerror or type(error).__name__).lower()


def load_table(path: str | Path, relative: str, shown: str) -> tuple[Table | None, list[ConfigProblem]]:
    """Load one config file (``relative``, with ``/``, under the config folder; ``shown`` in messages): the
    table, or the problems that stop it (each with its line)."""
    if not relative.endswith(".yml"):
        return None, [ConfigProblem(shown, 1, "table configs end in .yml (rename the file)")]
    try:
        table_id = TableId.parse(relative.removesuffix(".yml"))
    except (ValueError, ValidationError) as error:
        return None, [ConfigProblem(shown, 1, f"not where a table config belongs: {_first_message(error)}")]
    try:
        with open(path, "rb") as file:  # bytes, decoded once: a text-mode reader costs a quarter more per file
            text = file.read().decode("utf-8")
        parsed = _parse_yaml(text.replace("\r\n", "\n") if "\r" in text else text)
    except _YamlProblem as problem:
        return None, [ConfigProblem(shown, problem.line, problem.message)]
    except UnicodeDecodeError:
        return None, [ConfigProblem(shown, 1, "not UTF-8 text")]
    except OSError as error:
        return None, [ConfigProblem(shown, 0, f"cannot read this file ({_reason(error)})")]
    if not isinstance(parsed.data, dict):
        kind = "an empty file" if parsed.data is None else type(parsed.data).__name__
        return None, [ConfigProblem(shown, 1, f"expected a mapping of config keys, got {kind}")]
    try:
        config = TableConfig.model_validate(parsed.data)
    except ValidationError as error:
        located = [ConfigProblem(shown, *_locate(e, parsed)) for e in error.errors()]
        return None, list(dict.fromkeys(located))
    problems = [
        ConfigProblem(shown, parsed.line(where), message) for where, message in cross_field_problems(table_id, config)
    ]
    if problems:
        return None, problems
    return Table(id=table_id, config=config, source_file=shown), []


def cross_field_problems(table_id: TableId, config: TableConfig) -> list[tuple[Where, str]]:
    """Rules that span keys or the file's path, and the step chain; each is ``(where to point, message)``."""
    problems: list[tuple[Where, str]] = [((key,), message) for key, message in _key_problems(table_id, config)]
    if config.steps is not None:
        for key in ("upload_to_carto",):
            if key in config.model_fields_set:
                problems.append(((key,), f"with steps:, a {CARTO_LOAD} step says whether to load to Carto; drop {key}"))
        if any(step.kind == CARTO_LOAD for step in config.steps) and not config.carto_users:
            index = next(i for i, step in enumerate(config.steps) if step.kind == CARTO_LOAD)
            problems.append((("steps", index, "kind"), f"{CARTO_LOAD} needs carto_users (who may read the table)"))
    if not problems and config.steps is not None:  # a chain the legacy keys derive is always well formed
        table = Table(id=table_id, config=config)
        problems += [(p.where, p.message) for p in chain_problems(table.chain, table.chain_context)]
    return problems


def _key_problems(table_id: TableId, config: TableConfig) -> list[tuple[str, str]]:
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
                problems.append((key, f"{key} belongs to knack tables; this is a {table_id.source} table"))
    if config.source_schema is not None and table_id.source != "databridge":
        problems.append(("source_schema", f"source_schema is a Databridge schema; this is a {table_id.source} table"))
    if config.knack_conn_id is not None and config.knack_conn_id not in KNACK_CONNECTIONS:
        problems.append(
            ("knack_conn_id", f"unknown connection id {config.knack_conn_id!r} (known: {_ids(KNACK_CONNECTIONS)})")
        )
    carto = table_id.carto_conn or config.carto_conn_id
    if carto is not None and carto not in CARTO_CONNECTIONS:
        key = "carto_conn_id" if config.carto_conn_id else ""
        problems.append((key, f"unknown connection id {carto!r} (known: {_ids(CARTO_CONNECTIONS)})"))
    if config.upload_to_carto and not config.carto_users and config.steps is None:
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
    line = parsed.line(tuple(loc))
    if key == "steps" and len(loc) > 2:
        option = str(loc[2])
        if len(loc) > 3 and loc[3] in ("str", "list[str]"):  # an option is one name or a list of names
            return line, f"steps: item {loc[1] + 1}: {option}: a name or a list of names, got {error['input']!r}"
        return line, f"steps: item {loc[1] + 1}: {option}: {_message(error)}"
    if error["type"] == "extra_forbidden":
        guess = difflib.get_close_matches(key, KNOWN_KEYS, n=1)
        hint = f" (did you mean {guess[0]!r}?)" if guess else f" (known keys: {', '.join(KNOWN_KEYS)})"
        return line, f"unknown key {key!r}{hint}"
    return line, f"{key}: {_message(error)}"


def _message(error: Any) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"].endswith("_type") or error["type"] in ("greater_than_equal", "less_than_equal"):
        message = f"{message}, got {error['input']!r}"
    return message


class _YamlProblem(Exception):
    def __init__(self, line: int, message: str) -> None:
        self.line = line
        self.message = message


def _parse_yaml(text: str) -> _Parsed:
    """Parse once, keeping each key's line for error messages: flat configs without PyYAML (several times
    faster), anything else with its C loader."""
    flat = parse_flat(text)
    if flat is not None:
        return _Parsed(*flat)
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return _Parsed(None, {})
        return _Parsed(loader.construct_document(node), _lines(node))
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 1
        raise _YamlProblem(line, f"YAML syntax error: {error.problem or error.context}") from None
    except yaml.YAMLError as error:
        raise _YamlProblem(1, f"YAML error: {error}") from None
    finally:
        loader.dispose()


def _lines(node: yaml.Node) -> dict[Where, int]:
    import yaml

    lines: dict[Where, int] = {}
    if not isinstance(node, yaml.MappingNode):
        return lines
    for key_node, value_node in node.value:
        key = str(key_node.value)
        line = key_node.start_mark.line + 1
        if (key,) in lines:
            raise _YamlProblem(line, f"duplicate key {key!r} (first at line {lines[(key,)]})")
        lines[(key,)] = line
        if isinstance(value_node, yaml.SequenceNode):
            for index, item in enumerate(value_node.value):
                lines[(key, index)] = item.start_mark.line + 1
                if isinstance(item, yaml.MappingNode):
                    for item_key, _ in item.value:
                        lines[(key, index, str(item_key.value))] = item_key.start_mark.line + 1
    return lines


def display_path(path: Path) -> str:
    """A path as a person would type it: relative to the working directory when it is under it. A link is
    shown as itself, never as its target."""
    cwd = Path.cwd()
    candidates = [Path(os.path.abspath(path))] + ([] if path.is_symlink() else [path.resolve()])
    for candidate in candidates:
        try:
            return str(candidate.relative_to(cwd))
        except ValueError:
            continue
    return str(path)
