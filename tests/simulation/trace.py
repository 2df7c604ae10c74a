"""The event trace of one seed: a line per AWS call and per harness event, in the order they happened, at
simulated time. Its digest is the determinism check (one seed run twice gives the same digest); ``--trace``
prints it, which is how a failing seed is read."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from databridge_pipeline.domain.aws_events import JobState
from databridge_pipeline.domain.job_requests import JobRequest
from databridge_pipeline.domain.run_request import RunRequest
from databridge_pipeline.domain.runs import Run
from databridge_pipeline.ports import UnreadableRun


class Trace:
    """Entries are kept as they come and rendered only when read (``lines``): the values in them (runs,
    requests, alerts) are frozen, so a later rendering says what a rendering at the time would have."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._entries: list[tuple[datetime, str, str, Any, Any]] = []

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, who: str, what: str, args: Any = (), result: Any = "", mark: str = "") -> None:
        """A call: who made it, what, with which arguments, what it returned (or the fault, as ``mark``)."""
        self._entries.append((self._clock(), who, what, args, (result, mark)))

    def note(self, text: str) -> None:
        self._entries.append((self._clock(), "--", text, None, None))

    @property
    def lines(self) -> list[str]:
        return [_line(*entry) for entry in self._entries]

    def digest(self) -> str:
        return hashlib.sha256("\n".join(self.lines).encode()).hexdigest()[:16]


def _line(at: datetime, who: str, what: str, args: Any, outcome: Any) -> str:
    if outcome is None:
        return f"{at:%H:%M:%S.%f} -- {what}"
    result, mark = outcome
    shown = f"={describe(result)}" if result != "" else ""
    return f"{at:%H:%M:%S.%f} {who} {what}({describe(args)}) {shown}{' ' if shown and mark else ''}{mark}"


def describe(value: Any) -> str:
    """A short, deterministic rendering of a call's arguments or result (no ids of objects, no set order)."""
    if isinstance(value, tuple | list):
        return _items(value)
    if isinstance(value, set | frozenset):
        return _items(sorted(value, key=repr))
    if isinstance(value, dict):
        return "{" + _items(f"{k}:{describe(v)}" for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))) + "}"
    if isinstance(value, Run):
        step = value.step
        return (
            f"{value.table}/{value.run_id} v{value.version} {value.status} {step.name}:{step.status}#{step.attempts}"
            f"{' ' + step.job_id if step.job_id else ''} alert={value.alert}/{value.stuck_alert}"
        )
    return _leaf(value)


def _leaf(value: Any) -> str:
    if isinstance(value, UnreadableRun):
        return f"unreadable {value.table}/{value.run_id}"
    if isinstance(value, JobRequest):
        tags = value.tags
        return f"job {tags['table']}/{tags['run_id']} {value.step}#{tags['attempt']}"
    if isinstance(value, RunRequest):
        return f"request {value.table} {value.run_id} {value.trigger}#{value.attempt}"
    if isinstance(value, JobState):
        return f"{value.job_id}:{value.status}"
    if isinstance(value, datetime):
        return f"{value:%H:%M:%S}"
    if isinstance(value, str):
        return value if len(value) <= 60 else value[:57] + "..."
    if value is None or isinstance(value, bool | int | float):
        return str(value)
    run_id = getattr(value, "run_id", None)
    if run_id is not None:  # a run's alert (failed, stuck, cancelled) or an unreadable item's
        return f"{getattr(value, 'kind', type(value).__name__)} {getattr(value, 'table', '?')}/{run_id}"
    table = getattr(value, "table", None)
    return f"{type(value).__name__} {table}" if table is not None else type(value).__name__


def _items(values: Iterable[Any]) -> str:
    shown = [v if isinstance(v, str) else describe(v) for v in values]
    return ", ".join(shown[:4]) + (f", +{len(shown) - 4}" if len(shown) > 4 else "")
