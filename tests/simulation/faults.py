"""Faults at AWS-call boundaries: the seeded profile, the errors the harness makes up, and the proxy put
between an invocation's services and the shared fakes.

Every port method call of an invocation goes through ``PortProxy`` to ``FaultInjector.call``, which, in the
invocation's own thread while it holds the baton:

1. lets simulated time pass (an AWS call takes milliseconds, now and then seconds), and crashes the
   invocation past its Lambda timeout (60 s);
2. may hand the baton to another invocation (the interleaving), or crash the invocation (``Crash``);
3. may fail the call before it acts: throttled, a 5xx, a timeout (``NotMade`` for a throttled SubmitJob, as
   the Batch adapter raises; a botocore-named ``AwsFault`` otherwise);
4. makes the call on the fake (a slow Slack post lets 10-20 s pass; the pending-alert index may answer what
   it answered before, as an eventually consistent GSI does);
5. may lose the response: the call acted (the job exists, the item is written, Slack posted) but the caller
   gets a timeout; or the invocation crashes right after the call acted.

What happened is written to the trace, one line a call.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import Any, Protocol

from databridge_pipeline.domain.errors import NotMade

from .baton import Task
from .trace import Trace


class AwsFault(Exception):
    """An AWS (or Slack) call the harness failed; named as botocore's errors are."""


class ThrottlingException(AwsFault):
    """Refused before it did anything."""


class InternalServerError(AwsFault):
    """A 5xx before the call acted."""


class ReadTimeoutError(AwsFault):
    """No response: before the call acted, or after (a lost response: the effect happened)."""


class SubmitThrottled(NotMade):
    """A throttled SubmitJob, as the Batch adapter raises it (``NotMade``: no job was made)."""


HARNESS_ERRORS: tuple[type[BaseException], ...] = (AwsFault, SubmitThrottled)


@dataclass(frozen=True)
class FaultProfile:
    """A seed's fault probabilities (per AWS call, per message, per event, per job)."""

    name: str
    before: float = 0.0  # a call fails before it acts
    lost: float = 0.0  # a call acts, then its response is lost
    crash: float = 0.0  # the invocation dies at a call
    switch: float = 0.3  # another invocation runs at a call
    stall: float = 0.0  # a call takes 1-30 s (a slow network, a GC pause): the world goes on meanwhile
    stale_index: float = 0.0  # the pending-alert index answers an earlier answer
    slow_post: float = 0.0  # a Slack post takes 10-20 s
    sqs_duplicate: float = 0.0
    sqs_delay: float = 0.0
    event_lost: float = 0.0
    event_duplicate: float = 0.0
    event_late: float = 0.0
    tick_lost: float = 0.0
    tick_duplicate: float = 0.0
    job_fails: float = 0.1
    job_hangs: float = 0.0  # runs until Batch's own timeout ends it FAILED
    forget: float = 0.0  # per half hour: Batch forgets an old finished job
    slack_outages: int = 0
    unreadable: bool = False

    def calm(self) -> FaultProfile:
        """The drain's profile: no faults, only the interleaving (jobs still fail as they were going to)."""
        return FaultProfile(name=f"{self.name}-drain", switch=self.switch, job_fails=self.job_fails)


def profile_for(rng: random.Random) -> FaultProfile:
    """Some seeds calm, most mild, many heavy."""
    kind = rng.choices(["calm", "mild", "heavy"], weights=[1, 5, 4])[0]
    u = rng.uniform
    if kind == "calm":
        return FaultProfile(name="calm", switch=u(0.0, 0.5), job_fails=u(0.0, 0.3))
    scale = 1.0 if kind == "mild" else 2.5
    return FaultProfile(
        name=kind,
        before=u(0.005, 0.02) * scale,
        lost=u(0.003, 0.01) * scale,
        crash=u(0.001, 0.004) * scale,
        switch=u(0.1, 0.6),
        stall=u(0.0, 0.01) * scale,
        stale_index=u(0.0, 0.15) * scale,
        slow_post=u(0.0, 0.1) * scale,
        sqs_duplicate=u(0.0, 0.08) * scale,
        sqs_delay=u(0.0, 0.1) * scale,
        event_lost=u(0.0, 0.05) * scale,
        event_duplicate=u(0.0, 0.08) * scale,
        event_late=u(0.0, 0.1) * scale,
        tick_lost=u(0.0, 0.04) * scale,
        tick_duplicate=u(0.0, 0.04) * scale,
        job_fails=u(0.05, 0.35),
        job_hangs=u(0.0, 0.02) * scale,
        forget=u(0.0, 0.3) * scale,
        slack_outages=rng.randint(0, 2) * int(scale),
        unreadable=rng.random() < 0.1 * scale,
    )


class Invocation(Protocol):
    """What the injector needs of an invocation: its name, thread, and Lambda deadline."""

    name: str
    task: Task
    deadline: datetime  # its Lambda timeout


class Observer(Protocol):
    """The simulation's side: the clock, who else is live, and what effects the calls had."""

    def now(self) -> datetime: ...

    def advance(self, seconds: float) -> None: ...

    def others_live(self, invocation: Invocation) -> bool: ...

    def acted(self, invocation: Invocation, label: str, args: tuple[Any, ...], result: Any) -> None: ...

    def failed(self, invocation: Invocation, label: str, args: tuple[Any, ...], error: BaseException) -> None: ...

    def harness_failed(self, invocation: Invocation, label: str, args: tuple[Any, ...], acted: bool) -> None: ...


@dataclass
class FaultInjector:
    rng: random.Random
    profile: FaultProfile
    observer: Observer
    trace: Trace

    def __post_init__(self) -> None:
        self._index_answers: list[Any] = []
        self.harness_errors: list[str] = []  # the harness's own bugs, reported, never left to the services

    def _observe(self, inv: Invocation, hook: Callable[[], None]) -> None:
        """Tell the observer; a bug of the harness crashes the invocation and is reported, so no service's
        ``except Exception`` can swallow it."""
        try:
            hook()
        except Exception as error:
            self.harness_errors.append(f"{inv.name}: {type(error).__name__}: {error}")
            inv.task.crash_here("harness error")

    def call(
        self, inv: Invocation, label: str, fn: Callable[..., Any], args: tuple[Any, ...], kw: dict[str, Any]
    ) -> Any:
        """One port call of ``inv`` (``label``: port.method), with the seed's faults."""
        self._turn(inv, label, args)
        fault = self._fault_before(label)
        if fault is not None:
            self.trace.add(inv.name, label, args, mark=f"!{type(fault).__name__} before")
            self._observe(inv, partial(self.observer.harness_failed, inv, label, args, acted=False))
            raise fault
        try:
            result = self._act(label, fn, args, kw)
        except Exception as error:
            self.trace.add(inv.name, label, args, mark=f"raised {type(error).__name__}")
            self._observe(inv, partial(self.observer.failed, inv, label, args, error))
            raise
        self._observe(inv, partial(self.observer.acted, inv, label, args, result))
        return self._after(inv, label, args, result)

    def _turn(self, inv: Invocation, label: str, args: tuple[Any, ...]) -> None:
        rng, profile, observer = self.rng, self.profile, self.observer
        observer.advance(rng.uniform(0.005, 0.05))
        if profile.stall and rng.random() < profile.stall:
            observer.advance(rng.uniform(1, 30))
            inv.task.pause()  # so that what fell due meanwhile (ticks, deliveries) happens meanwhile
        elif profile.switch and observer.others_live(inv) and rng.random() < profile.switch:
            inv.task.pause()
        if observer.now() > inv.deadline:
            self.trace.add(inv.name, label, args, mark="!Crash: Lambda timeout")
            self._observe(inv, partial(observer.harness_failed, inv, label, args, acted=False))
            inv.task.crash_here(f"Lambda timeout at {label}")
        if profile.crash and rng.random() < profile.crash:
            self.trace.add(inv.name, label, args, mark="!Crash before")
            self._observe(inv, partial(observer.harness_failed, inv, label, args, acted=False))
            inv.task.crash_here(f"crashed at {label}")

    def _fault_before(self, label: str) -> Exception | None:
        if not self.profile.before or self.rng.random() >= self.profile.before:
            return None
        kind = self.rng.choice(["throttle", "5xx", "timeout"])
        if kind == "throttle":
            return SubmitThrottled(f"{label} throttled") if label == "batch.submit" else ThrottlingException(label)
        return InternalServerError(label) if kind == "5xx" else ReadTimeoutError(f"{label}: read timed out")

    def _act(self, label: str, fn: Callable[..., Any], args: tuple[Any, ...], kw: dict[str, Any]) -> Any:
        if label == "alerts.post" and self.profile.slow_post and self.rng.random() < self.profile.slow_post:
            self.observer.advance(self.rng.uniform(10, 20))
        result = fn(*args, **kw)
        if label == "ledger.pending_alert_runs":
            answers = self._index_answers
            answers.append(result)
            del answers[:-4]
            if len(answers) > 1 and self.rng.random() < self.profile.stale_index:
                return list(self.rng.choice(answers[:-1]))
        return result

    def _after(self, inv: Invocation, label: str, args: tuple[Any, ...], result: Any) -> Any:
        rng, profile = self.rng, self.profile
        if profile.lost and rng.random() < profile.lost:
            self.trace.add(inv.name, label, args, result, "!lost response")
            self._observe(inv, partial(self.observer.harness_failed, inv, label, args, acted=True))
            raise ReadTimeoutError(f"{label}: read timed out (it acted)")
        if profile.crash and rng.random() < profile.crash:
            self.trace.add(inv.name, label, args, result, "!Crash after")
            self._observe(inv, partial(self.observer.harness_failed, inv, label, args, acted=True))
            inv.task.crash_here(f"crashed after {label}")
        self.trace.add(inv.name, label, args, result)
        return result

    def calm(self) -> None:
        self.profile = self.profile.calm()

    def with_profile(self, **changes: Any) -> None:
        self.profile = replace(self.profile, **changes)


class Holder(Protocol):
    """Whose calls a proxy makes: a container's, for the invocation it is running."""

    @property
    def invocation(self) -> Invocation: ...


class PortProxy:
    """One port of one container: each method call goes through the injector, for the invocation the
    container runs at the time; attributes pass through."""

    def __init__(self, target: object, port: str, holder: Holder, injector: FaultInjector) -> None:
        self._target, self._port, self._holder, self._injector = target, port, holder, injector

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if not callable(attribute):
            return attribute
        label = f"{self._port}.{name}"
        holder, injector = self._holder, self._injector

        def call(*args: Any, **kw: Any) -> Any:
            return injector.call(holder.invocation, label, attribute, args, kw)

        return call
