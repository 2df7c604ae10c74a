"""Rules that span a config's keys, its file's path and its step chain (one key alone is the model's)."""

from __future__ import annotations

from collections.abc import Iterable

from databridge_pipeline.configs.flat_yaml import Where
from databridge_pipeline.domain.connections import CARTO_CONNECTIONS, KNACK_CONNECTIONS
from databridge_pipeline.domain.step_kinds import CARTO_LOAD, chain_problems
from databridge_pipeline.domain.tables import Table, TableConfig, TableId


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
    problems = _knack_problems(table_id, config) if table_id.source == "knack" else []
    if table_id.source != "knack":
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


def _knack_problems(table_id: TableId, config: TableConfig) -> list[tuple[str, str]]:
    """What a knack table needs: its object, its app's connection, and a Carto account matching its folder."""
    problems: list[tuple[str, str]] = []
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
    return problems


def _ids(ids: Iterable[str]) -> str:
    return ", ".join(ids)
