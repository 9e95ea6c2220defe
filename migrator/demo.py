"""`migrator demo`: the whole product on a throwaway cluster, in about a minute.

Lints the example messaging service, shows the plan, applies its migrations while a long
transaction holds a lock, and backfills a column over many rows while the replica's replay is
paused half way. Output is plain text that fits 80 columns, for terminals and log files alike.
"""

from __future__ import annotations

import textwrap
import threading
import time
from pathlib import Path
from typing import Callable

import psycopg

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "messaging"
WIDTH = 80


class Demo:
    def __init__(self, rows: int, keep: bool, echo: Callable[[str], None]):
        self.rows = rows
        self.keep = keep
        self.echo = echo

    def say(self, text: str = "", indent: str = "") -> None:
        for line in textwrap.wrap(text, WIDTH - len(indent), subsequent_indent="  ") or [""]:
            self.echo(indent + line)

    def section(self, title: str) -> None:
        self.echo("")
        self.echo(f"== {title} " + "=" * max(0, WIDTH - len(title) - 4))

    def run(self) -> None:
        from migrator.sandbox import Cluster, default_name

        started = time.monotonic()
        self.section("1. A sandbox: PostgreSQL primary + 1 streaming replica")
        cluster = Cluster(replicas=1, name=default_name() if self.keep else None).start()
        try:
            self.say(f"primary {cluster.primary.dsn()}", "  ")
            self.say(f"replica {cluster.replica_nodes[0].dsn()}", "  ")
            self.seed(cluster)
            self.lint()
            self.plan(cluster)
            self.apply_under_lock(cluster)
            self.backfill(cluster)
        finally:
            if self.keep:
                cluster.detach()
                self.section("Sandbox kept")
                self.say("It keeps running; stop it with `migrator sandbox down`.", "  ")
                for dsn in cluster.dsns():
                    self.echo(f"  {dsn}")
            else:
                self.section("7. Tear down")
                cluster.stop()
                self.say("Sandbox stopped and removed.", "  ")
        self.say(f"Demo finished in {time.monotonic() - started:.0f} s.")

    # -- the steps -------------------------------------------------------------------------
    def seed(self, cluster) -> None:
        from migrator.alembic_source import AlembicProject
        from migrator.executor import Executor, Policy

        self.section(f"2. Seed: the service's tables and {self.rows:,} messages")
        dsn = cluster.primary.dsn()
        Executor(dsn, Policy()).apply(AlembicProject(EXAMPLES / "alembic.ini", target="0001"))
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute("INSERT INTO users (email) SELECT 'user' || g || '@example.com' FROM generate_series(1, 10000) g")
            connection.execute("INSERT INTO conversations (title) SELECT 'chat ' || g FROM generate_series(1, 1000) g")
            connection.execute(
                "INSERT INTO messages (conversation_id, sender_id, body) SELECT 1 + g %% 1000, 1 + g %% 10000, "
                "repeat('hello ', 1 + g %% 20) FROM generate_series(1, %s) g", (self.rows,))
            connection.execute("VACUUM ANALYZE messages")
        self.say(f"10,000 users, 1,000 conversations, {self.rows:,} messages.", "  ")

    def lint(self) -> None:
        from migrator.config import load_config
        from migrator.lint import Linter

        self.section("3. migrator lint: the examples, and one deliberately unsafe revision")
        linter = Linter(load_config(EXAMPLES / "migrator.toml"))
        files = sorted((EXAMPLES / "alembic" / "versions").glob("*.py")) + sorted((EXAMPLES / "sql").glob("*.sql"))
        clean = sum(1 for path in files if not linter.lint_file(path).findings)
        self.say(f"{clean} of {len(files)} example migrations (Alembic and SQL): no findings.", "  ")
        for path in sorted((EXAMPLES / "unsafe").iterdir()):
            for finding in linter.lint_file(path).findings:
                self.echo(f"  {path.name}:{finding.line}  {finding.rule} ({finding.severity})")
                self.say(finding.message, "    ")
                if finding.help:
                    self.say("instead: " + finding.help.splitlines()[0], "    ")

    def plan(self, cluster) -> None:
        from migrator.alembic_source import AlembicProject
        from migrator.executor import Executor, Policy, describe_plan
        from migrator.output import plan_step_heading

        self.section("4. migrator plan: what apply will run (the Alembic project)")
        executor = Executor(cluster.primary.dsn(), Policy())
        with executor.connect() as connection:
            pending = AlembicProject(EXAMPLES / "alembic.ini").pending(connection)
        for step in describe_plan(pending, executor.policy):
            locks = ", ".join(f"{lock['lock']} on {lock['relation']}" for lock in step["locks"]) or "no table lock"
            self.say(plan_step_heading(step, width=200), "  ")
            self.say(f"-> {locks}", "      ")

    def apply_under_lock(self, cluster) -> None:
        from migrator.alembic_source import AlembicProject
        from migrator.executor import Executor, Policy

        self.section("5. migrator apply, while a long transaction reads messages")
        dsn = cluster.primary.dsn()
        holder = psycopg.connect(dsn)
        holder.execute("SELECT count(*) FROM messages").fetchone()
        timer = threading.Timer(4.0, holder.commit)
        timer.start()
        self.say("A report query holds ACCESS SHARE on messages for 4 s. A plain ALTER TABLE would queue "
                 "behind it and block every reader; migrator gives up after lock_timeout and retries.", "  ")

        def show(event: dict) -> None:
            if event["event"] == "retry":
                self.say(f"{event['migration']}: lock not granted within 1s ({event['error']}), "
                         f"retry {event['attempt']} in {event['wait_s']:.1f} s", "  ")
            elif event["event"] == "done":
                self.say(f"{event['migration']}: applied", "  ")

        executor = Executor(dsn, Policy(lock_timeout=1000, statement_timeout=5000), show)
        try:
            executor.apply(AlembicProject(EXAMPLES / "alembic.ini"))
        finally:
            timer.join()
            holder.close()
        self.say(f"{executor.retries} retries; no reader waited more than the 1 s lock timeout.", "  ")

    def backfill(self, cluster) -> None:
        from backfill import BackfillSpec, Runner
        from backfill.progress import format_lags

        self.section("6. migrator backfill: messages.body_length, throttled on lag")
        replica = cluster.replica_nodes[0]
        dsn = cluster.primary.dsn()
        state = {"paused": False, "resumed": False, "last": 0.0}

        def event(item: dict) -> None:
            if item["event"] == "throttle":
                self.say(f"throttled: {item['reason']}", "  ")
            elif item["event"] == "resume":
                self.say("throttle released: running again", "  ")

        runner = Runner(BackfillSpec("demo-body-length", "messages", {"body_length": "length(body)"},
                                     where="body_length IS NULL"), dsn,
                        settings={"max_lag": 1000, "max_rows_per_sec": max(self.rows / 8, 20_000)}, emit=event)

        def progress(active: Runner) -> None:
            now = time.monotonic()
            if now - state["last"] < 1.0:
                return
            state["last"] = now
            with psycopg.connect(dsn, autocommit=True) as connection:
                done = connection.execute("SELECT coalesce(sum(rows_processed), 0) FROM migrator.backfill_chunks "
                                          "WHERE backfill = 'demo-body-length'").fetchone()[0]
            lag = format_lags(active.shared.lags)
            self.say(f"{int(done):>9,} / {self.rows:,} rows  lag {lag}  "
                     f"{'THROTTLED' if active.shared.throttle_reason else 'running'}", "  ")
            if not state["paused"] and done >= self.rows / 2:
                state["paused"] = True
                state["paused_at"] = now
                cluster.pause_replay(replica)
                self.say("Half way: replay paused on the replica (pg_wal_replay_pause).", "  ")
            elif state["paused"] and not state["resumed"] and now - state["paused_at"] > 4:
                state["resumed"] = True
                cluster.resume_replay(replica)
                self.say("Replay resumed on the replica.", "  ")

        try:
            result = runner.run(progress=progress)
        finally:
            cluster.resume_replay(replica)
        self.say(f"{result.status}: {result.rows_changed:,} rows in {result.batches:,} batches, {result.elapsed:.1f} s "
                 f"({result.throttled_seconds:.1f} s throttled).", "  ")
