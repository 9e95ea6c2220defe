"""The backfill runner: resumable, throttled keyset batches (`migrator backfill`)."""

from backfill.runner import Runner, RunResult
from backfill.spec import BackfillError, BackfillSpec

__all__ = ["BackfillError", "BackfillSpec", "Runner", "RunResult"]
