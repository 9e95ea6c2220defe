"""How a running backfill shows itself: a rich progress bar on a terminal, JSON lines otherwise."""

from __future__ import annotations

import json
import sys
import time

import psycopg

from backfill import state


class JsonLog:
    """One JSON object per event on stdout, with a timestamp."""

    def __call__(self, event: dict) -> None:
        sys.stdout.write(json.dumps({"time": round(time.time(), 3), **event}) + "\n")
        sys.stdout.flush()

    def tick(self, runner) -> None:
        pass

    def close(self) -> None:
        pass


class ProgressBar:
    """A rich progress bar: rows done of the estimate, rows/s, ETA, batch size, lag per replica, throttle."""

    def __init__(self, dsn: str, name: str):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self.name = name
        self.connection = psycopg.connect(dsn, autocommit=True)
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]} rows/s"), TimeRemainingColumn(),
            TextColumn("{task.fields[detail]}"), transient=False,
        )
        self.task = None
        self.last_query = 0.0
        self.samples: list[tuple[float, int]] = []

    def __call__(self, event: dict) -> None:
        if event["event"] in ("throttle", "resume", "retry", "resume_failed"):
            self.progress.console.log(_describe_event(event))

    def tick(self, runner) -> None:
        now = time.monotonic()
        if now - self.last_query < 0.5:
            return
        self.last_query = now
        totals = state.progress(self.connection, self.name)
        done = totals["rows_processed"]
        self.samples = [(t, r) for t, r in self.samples if t > now - 10] + [(now, done)]
        rate = (self.samples[-1][1] - self.samples[0][1]) / max(1e-9, self.samples[-1][0] - self.samples[0][0])
        estimate = max(runner.plan.estimated_rows, done)
        sizes = runner.shared.batch_sizes.values()
        lags = format_lags(runner.shared.lags)
        throttle = runner.shared.throttle_reason
        detail = f"batch {max(sizes, default=0):,} | lag {lags} | " + (f"[yellow]throttled: {throttle}[/]" if throttle else "[green]running[/]")
        if self.task is None:
            self.progress.start()
            self.task = self.progress.add_task(self.name, total=estimate, rate="0", detail=detail)
        self.progress.update(self.task, completed=done, total=estimate, rate=f"{rate:,.0f}", detail=detail)

    def close(self) -> None:
        if self.task is not None:
            self.progress.stop()
        self.connection.close()


def format_lags(lags: dict[str, float] | None) -> str:
    """Replication lag per replica, as progress lines show it."""
    if lags is None:
        return "not read yet"
    return ", ".join(f"{name} {lag:.2f}s" for name, lag in sorted(lags.items())) or "no replicas"


def _describe_event(event: dict) -> str:
    if event["event"] == "resume_failed":
        return f"{event['backfill']} had failed ({event['error']}): resuming at its last checkpoint"
    if event["event"] == "throttle":
        return f"throttled: {event['reason']}"
    if event["event"] == "resume":
        return "throttle released: running"
    return f"batch failed ({event['error']}), retrying with {event['next_batch_size']:,} rows"
