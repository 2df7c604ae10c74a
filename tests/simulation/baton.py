"""Deterministic interleaving of invocations: each on a thread of its own, exactly one thread running at a time.

Why threads, not nesting (running another invocation inside a port call's hook): nesting can only interleave
as a stack, B inside A's call, B run to its end before A goes on. Real Lambdas interleave freely: A reads a
run, B reads it, A writes, B writes (and finds it stale), or A is suspended while B and C come and go. With a
thread per invocation, any live invocation can be suspended at any AWS call and resumed later, in any order
the seeded scheduler picks. Python threads cost ~60 us to start and ~20 us a hand-over; an invocation hands
the baton back only when the scheduler chooses to switch, so most calls cost no switch at all.

The baton: a thread runs only after the scheduler has set its ``go`` event, and runs until it reaches its
next AWS call (``Task.pause``) or ends, then sets the scheduler's ``parked`` event and waits. Every wait has
a timeout: a harness that stops handing the baton on fails with ``HarnessHung`` naming the invocation,
never hangs pytest; a thread nobody resumes unwinds itself with ``Crash`` and ends.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

WAIT_SECONDS = 30.0  # far beyond any invocation's step (milliseconds): only a harness bug waits this long


class Crash(BaseException):
    """The invocation dies where it stands (a Lambda timeout, an out-of-memory kill, a lost host).

    A BaseException, not an Exception: the services catch Exception, and a crash must unwind the whole
    invocation, as the end of a Lambda does, with no handler of the product seeing it."""


class HarnessHung(Exception):
    """An invocation neither reached its next AWS call nor ended in time: a harness bug, never the product's."""


class Task:
    """One invocation on its own thread. ``result`` or ``error`` (whatever it raised, a ``Crash`` included)
    is set when it ends; the harness reports every error, it never drops one."""

    def __init__(self, name: str, body: Callable[[], object], baton: Baton) -> None:
        self.name = name
        self._wait = baton.wait
        self._body = body
        self._baton = baton
        self._go = threading.Event()
        self.crash_reason: str | None = None  # once set, every later AWS call of the task crashes too
        self.started = False
        self.done = False
        self.result: object = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._main, name=f"sim-{name}", daemon=True)

    def pause(self) -> None:
        """Hand the baton back to the scheduler and wait to be resumed (in the task's own thread)."""
        self._baton.parked.set()
        self._await_turn()

    def crash_here(self, reason: str) -> None:
        """Die now, in the task's own thread."""
        self.crash_reason = reason
        raise Crash(reason)

    def _await_turn(self) -> None:
        if not self._go.wait(self._wait):
            self.crash_reason = f"abandoned: not resumed within {self._wait} s"
        self._go.clear()
        if self.crash_reason is not None:
            raise Crash(self.crash_reason)

    def _main(self) -> None:
        try:
            self._await_turn()
            self.result = self._body()
        except BaseException as error:  # reported by the scheduler, whatever it is
            self.error = error
        finally:
            self.done = True
            self._baton.parked.set()


class Baton:
    """The scheduler's side: resume one task and wait until it pauses or ends."""

    def __init__(self, wait: float = WAIT_SECONDS) -> None:
        self.wait = wait
        self.parked = threading.Event()

    def task(self, name: str, body: Callable[[], object]) -> Task:
        return Task(name, body, self)

    def resume(self, task: Task, crash: str | None = None) -> None:
        """Let ``task`` run to its next AWS call or its end; with ``crash``, it dies where it is parked."""
        if task.done:
            raise HarnessHung(f"invocation {task.name} resumed after it ended")
        if crash is not None:
            task.crash_reason = crash
        self.parked.clear()
        if not task.started:
            task.started = True
            task.thread.start()
        task._go.set()
        if not self.parked.wait(self.wait):
            raise HarnessHung(f"invocation {task.name} neither reached its next AWS call nor ended in {self.wait} s")
        if task.done:
            task.thread.join(self.wait)
            if task.thread.is_alive():
                raise HarnessHung(f"invocation {task.name} ended but its thread did not")

    def finish(self, task: Task, reason: str) -> None:
        """Unwind a task that is still live (at the end of a seed): it crashes at its parked call."""
        while not task.done:
            self.resume(task, crash=reason)
