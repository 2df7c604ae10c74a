"""Paused tables: an operator pauses a table, or every table under a prefix, while its source or its Carto
table is out of service; the dispatcher then skips its scheduled fires.

A pause is kept in the ledger by prefix (``databridge/lni`` or ``databridge/lni/inspections``), so pausing a
whole schema is one item, and the dispatcher reads every pause in one Query: O(paused), never O(tables).
A pause never touches a run already going (its retries still run). A new run of a paused table is skipped
by the dispatcher (scheduled fires) and by the submitter (any message that would start one, a hand-sent one
included), unless the request says ``"force": true``, as ``rerun --force`` sends it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class Pause(BaseModel):
    """Every table whose id is ``prefix`` or starts with ``prefix/`` is paused."""

    model_config = ConfigDict(frozen=True)

    prefix: str = Field(min_length=1)
    reason: str = Field(min_length=1)
    paused_at: datetime
    paused_by: str | None = None


def under(prefix: str, table_id: str) -> bool:
    """True when ``table_id`` is ``prefix`` itself or in it (``databridge/lni`` covers ``databridge/lni/x``,
    never ``databridge/lni_old/x``)."""
    prefix = prefix.rstrip("/")
    return table_id == prefix or table_id.startswith(prefix + "/")


def pause_of(table_id: str, pauses: Iterable[Pause]) -> Pause | None:
    """The pause covering ``table_id`` (the broadest one when several do), or None."""
    covering = [p for p in pauses if under(p.prefix, table_id)]
    return min(covering, key=lambda p: len(p.prefix)) if covering else None


def describe(pause: Pause) -> str:
    """``paused by databridge/lni since 2026-11-24 14:00 UTC: Oracle maintenance``."""
    return f"paused by {pause.prefix} since {pause.paused_at:%Y-%m-%d %H:%M} UTC: {pause.reason}"
