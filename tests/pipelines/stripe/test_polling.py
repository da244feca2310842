"""The poll schedule and loop shared by the runners."""

from __future__ import annotations

import itertools

import pytest

from pipelines.stripe import PollPolicy
from pipelines.stripe.polling import poll_until


def test_intervals_grow_by_the_factor_up_to_the_maximum():
    policy = PollPolicy(initial=0.5, factor=1.5, maximum=10.0)

    intervals = list(itertools.islice(policy.intervals(), 12))

    assert intervals[0] == policy.initial
    for before, after in itertools.pairwise(intervals):
        assert after == min(before * policy.factor, policy.maximum)
    assert intervals[-1] == policy.maximum


@pytest.mark.parametrize(
    "arguments", [{"initial": 0}, {"initial": 5, "maximum": 1}, {"factor": 0.5}, {"deadline": -1}]
)
def test_nonsensical_policies_are_refused(arguments):
    with pytest.raises(ValueError):
        PollPolicy(**arguments)


def test_a_state_that_is_already_done_is_not_fetched_again(clock):
    fetches: list[int] = []

    polled = poll_until(
        "done", lambda: fetches.append(1) or "done", lambda s: s == "done", policy=PollPolicy(), clock=clock
    )

    assert polled.done and polled.state == "done"
    assert fetches == [] and clock.sleeps == []


def test_polling_stops_as_soon_as_the_state_is_terminal(clock):
    states = iter(["pending", "pending", "succeeded", "never reached"])

    polled = poll_until(
        "pending", lambda: next(states), lambda s: s == "succeeded", policy=PollPolicy(), clock=clock
    )

    assert polled.state == "succeeded"
    assert len(clock.sleeps) == 3
    assert polled.waited == pytest.approx(sum(clock.sleeps))


def test_a_zero_deadline_returns_the_state_without_waiting(clock):
    polled = poll_until(
        "pending", lambda: "pending", lambda s: False, policy=PollPolicy(deadline=0), clock=clock
    )

    assert not polled.done
    assert clock.sleeps == []


def _polls_until(seconds: float, policy: PollPolicy) -> tuple[int, float]:
    """How many polls the policy makes of a job done after ``seconds``, and when it sees it done."""
    elapsed = 0.0
    for polls, interval in enumerate(policy.intervals(), start=1):
        elapsed += interval
        if elapsed >= seconds:
            return polls, elapsed
    raise AssertionError("unreachable")


def test_a_quick_job_is_seen_done_soon_and_a_long_one_is_not_polled_much_more():
    policy = PollPolicy()

    _, seen = _polls_until(0.3, policy)
    assert seen < 0.3 * policy.factor
    polls, _ = _polls_until(1800.0, policy)
    # Half an hour at the longest interval alone is 180 polls.
    assert polls <= 1800.0 / policy.maximum + 15
