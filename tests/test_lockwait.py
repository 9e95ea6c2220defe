"""The lock-wait schedule, on its own (no PostgreSQL): what each try may wait and the pause before the next."""

import pytest

from migrator.lockwait import Attempt, LockWaitSchedule


def test_the_default_schedule_starts_short_doubles_up_to_the_cap_and_pauses_five_times_the_next_wait():
    assert list(LockWaitSchedule(max_lock_timeout=5000, attempts=10, deadline=300_000)) == [
        Attempt(1, 100, 1.0), Attempt(2, 200, 2.0), Attempt(3, 400, 4.0), Attempt(4, 800, 8.0), Attempt(5, 1600, 16.0),
        Attempt(6, 3200, 25.0), Attempt(7, 5000, 25.0), Attempt(8, 5000, 25.0), Attempt(9, 5000, 25.0), Attempt(10, 5000, None)]


@pytest.mark.parametrize("cap, attempts", [(5000, 10), (1000, 100), (50, 3), (30_000, 40), (100, 1)])
def test_the_table_is_free_five_sixths_of_the_time_whenever_a_try_ends(cap, attempts):
    """Whenever the holder lets go, during a try or a pause, readers were blocked at most 1/6 of the
    time since the first try (plus the first try itself, which has no pause before it)."""
    schedule = LockWaitSchedule(cap, attempts, deadline=10**9)
    tries = list(schedule)
    assert len(tries) == attempts and tries[-1].pause is None
    blocked = free = 0.0
    for attempt in tries:
        blocked += attempt.lock_timeout / 1000
        assert blocked <= (blocked + free) / 6 + tries[0].lock_timeout / 1000
        free += attempt.pause or 0
    assert schedule.longest_lock_timeout == max(a.lock_timeout for a in tries) <= cap
    assert all(a.lock_timeout <= b.lock_timeout for a, b in zip(tries, tries[1:]))


def test_the_cap_is_reached_and_held():
    assert [a.lock_timeout for a in LockWaitSchedule(1000, 8, 60_000)] == [100, 200, 400, 800, 1000, 1000, 1000, 1000]
    assert LockWaitSchedule(1000, 8, 60_000).longest_lock_timeout == 1000
    assert LockWaitSchedule(5000, 3, 60_000).longest_lock_timeout == 400  # three tries never reach the cap


def test_pauses_stop_at_the_deadline_and_after_the_last_attempt():
    schedule = LockWaitSchedule(5000, 10, deadline=30_000)
    first, second, *_, last = schedule
    assert schedule.pause_after(first, elapsed=0.1) == 1.0
    assert schedule.pause_after(second, elapsed=29.5) == pytest.approx(0.5)  # the next try starts at the deadline
    assert schedule.pause_after(second, elapsed=30.0) is None
    assert schedule.pause_after(last, elapsed=1.0) is None
