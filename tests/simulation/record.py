"""What a seed's simulation saw, beyond the fakes' own state: the facts the invariants need."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

AlertKey = tuple[str, str, str]  # (kind, table, run id)
CursorMove = tuple[datetime | None, datetime | None, bool]  # (from, to, whether that tick dispatched fires)


@dataclass
class Record:
    # Extra posts the harness made unavoidable: Slack accepted the alert, then the harness cost the invocation
    # its chance to mark it sent (the post's response lost, a crash or a fault at the next call for that run).
    tolerated: Counter[AlertKey] = field(default_factory=Counter)
    posted: list[tuple[AlertKey, str]] = field(default_factory=list)  # each post Slack accepted, by whom
    cursor_moves: list[CursorMove] = field(default_factory=list)
    escaped: list[tuple[str, str, BaseException]] = field(default_factory=list)  # (kind, invocation, error)
    rejected: set[tuple[str, str]] = field(default_factory=set)  # runs one of whose SubmitJobs was JobRejected
    planted: list[tuple[str, str]] = field(default_factory=list)  # unreadable items planted (table, run id)
    harness_errors: list[str] = field(default_factory=list)
    settled: bool = False  # False: the drain ran out before everything settled
    invocations: int = 0
    events_lost: int = 0
    ticks_lost: int = 0
