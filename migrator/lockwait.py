"""The lock-wait schedule: how long each try of a blocking transaction may wait for its locks,
and how long to pause before the next try.

While a statement waits for a lock, every later query that conflicts with it queues behind it
(PostgreSQL grants no lock that conflicts with one already waiting): an ALTER TABLE waiting for
ACCESS EXCLUSIVE stalls every reader of the table for as long as it waits. So a try costs the
application one stall of at most its lock timeout, and what matters to readers is the share of
time the table is blocked, and the longest single stall.

The schedule, in the spirit of GitLab's `WithLockRetries` (growing lock timeouts, pauses in between):

- The first try waits at most 100 ms: enough to get past the short queries of a busy table,
  short enough that readers barely notice. Each further try waits twice as long as the one
  before, up to the cap (`--lock-timeout`), so a lock held by a slower transaction is still
  caught, and the longest stall any reader sees is the cap.
- Before each retry, migrator pauses five times as long as that retry may wait. The queue that
  formed behind the failed try drains (an application at up to 5/6 of its capacity catches up
  within the pause), and, counted from the first try, the table is free at least 5/6 of the
  time, however long the holder keeps its lock and whenever it lets go. (GitLab pauses less
  than a try at first; with a pause proportional to the next wait the share holds at every try.)
- No jitter: one apply runs at a time per database or tenant schema (the deploy lock), so there
  is no herd of retrying clients to spread out, and a fixed schedule is the same in the log, in
  `--help` and in tests.

Tries stop after `attempts`, or when the time since the first try reaches `deadline`; a pause
is cut short so that the last try starts at the deadline at the latest. With the defaults
(5 s cap, 10 attempts) the tries wait 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5, 5, 5, 5 s after pauses of
1, 2, 4, 8, 16, 25, 25, 25, 25 s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, NamedTuple

FIRST_LOCK_TIMEOUT = 100  # ms
GROWTH = 2
DRAIN = 5  # pause before a try = DRAIN x its lock timeout


class Attempt(NamedTuple):
    """One try: its number (from 1), how long it may wait for locks (ms), and the pause before the
    next try if it fails on a lock (seconds; None after the last try)."""

    number: int
    lock_timeout: int
    pause: float | None


@dataclass(frozen=True)
class LockWaitSchedule:
    """Tries of a transaction that waits for locks: see the module doc. Times in milliseconds."""

    max_lock_timeout: int
    attempts: int
    deadline: int

    def lock_timeouts(self) -> Iterator[int]:
        timeout = min(FIRST_LOCK_TIMEOUT, self.max_lock_timeout)
        for _ in range(self.attempts):
            yield timeout
            timeout = min(timeout * GROWTH, self.max_lock_timeout)

    def __iter__(self) -> Iterator[Attempt]:
        timeouts = list(self.lock_timeouts())
        for number, timeout in enumerate(timeouts, 1):
            following = timeouts[number] if number < len(timeouts) else None
            yield Attempt(number, timeout, None if following is None else DRAIN * following / 1000)

    def pause_after(self, attempt: Attempt, elapsed: float) -> float | None:
        """The pause after `attempt` failed, `elapsed` seconds after the first try started: cut to
        the deadline; None when there is no next try (the last attempt, or the deadline passed)."""
        left = self.deadline / 1000 - elapsed
        if attempt.pause is None or left <= 0:
            return None
        return min(attempt.pause, left)

    @property
    def first_lock_timeout(self) -> int:
        """The lock timeout of a first try (ms)."""
        return next(self.lock_timeouts())

    @property
    def longest_lock_timeout(self) -> int:
        """The longest any try waits (ms): the longest stall a reader of the table can see."""
        return max(self.lock_timeouts())
