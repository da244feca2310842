"""Waiting for a Stripe job: how often to look, and for how long at most.

Sigma query runs and report runs are both created, then polled until Stripe says they are done.
The loop is shared; what "done" means and what to do with the result stay with each runner.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from pipelines.stripe.clock import Clock

T = TypeVar("T")


@dataclass(frozen=True)
class PollPolicy:
    """Poll after ``initial`` seconds, then ``factor`` times longer each time up to ``maximum``;
    give up once ``deadline`` seconds have passed since polling started.

    Growing intervals keep short runs snappy without polling a run that takes half an hour every
    half second (each poll counts against Stripe's rate limit). The first look comes soon: a run
    that takes a fraction of a second is seen done within half as long again as it took, and the
    short early intervals add about six polls to a run of half an hour (about 190 polls).
    """

    initial: float = 0.05
    factor: float = 1.5
    maximum: float = 10.0
    deadline: float = 3600.0

    def __post_init__(self) -> None:
        if self.initial <= 0 or self.maximum < self.initial or self.factor < 1 or self.deadline < 0:
            raise ValueError(f"invalid poll policy: {self!r}")

    def intervals(self) -> Iterator[float]:
        """The successive waits between polls (endless)."""
        interval = self.initial
        while True:
            yield interval
            interval = min(interval * self.factor, self.maximum)


@dataclass(frozen=True)
class Polled(Generic[T]):
    """The last state seen, whether it was terminal, and how long polling took."""

    state: T
    done: bool
    waited: float


def poll_until(
    state: T,
    fetch: Callable[[], T],
    done: Callable[[T], bool],
    *,
    policy: PollPolicy,
    clock: Clock,
) -> Polled[T]:
    """Fetch fresh states until ``done(state)`` holds or the policy's deadline passes.

    ``state`` is the state already known (the create response), so a job that is finished on
    creation (an idempotent replay of a finished run) needs no poll. The last wait is shortened so
    that the final look happens right at the deadline rather than after it.
    """
    started = clock.monotonic()
    intervals = policy.intervals()
    while not done(state):
        remaining = policy.deadline - (clock.monotonic() - started)
        if remaining <= 0:
            return Polled(state, done=False, waited=clock.monotonic() - started)
        clock.sleep(min(next(intervals), remaining))
        state = fetch()
    return Polled(state, done=True, waited=clock.monotonic() - started)
