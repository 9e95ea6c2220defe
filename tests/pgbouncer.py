"""A real PgBouncer in front of the sandbox primary, for the executor's pooling check.

PgBouncer is not on PyPI. An installed one (on PATH or in /usr/sbin) is used; otherwise Debian's
package is unpacked into the temp dir (tests/debian.py). PgBouncer, like PostgreSQL, refuses to
run as root, so as root it runs as the sandbox's unprivileged user.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

import psycopg

from migrator.sandbox import SUPERUSER, free_port, server_user
from tests.debian import unpacked
from tests.test_sandbox import poll


def pgbouncer_command() -> tuple[str, dict[str, str]]:
    """The pgbouncer binary and the environment it runs with: installed, or unpacked from Debian's package."""
    found = shutil.which("pgbouncer") or next((p for p in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if os.path.exists(p)), None)
    if found is not None:
        return found, {}
    return unpacked("pgbouncer", "usr/sbin/pgbouncer")


@contextmanager
def pgbouncer(primary_port: int, dbname: str):
    """PgBouncer on a free port with two aliases of `dbname`: `tx` (transaction pooling) and
    `session` (session pooling). Yields a function alias -> DSN."""
    user = server_user()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="migrator-pgbouncer-") as folder:
        root = Path(folder)
        (root / "users.txt").write_text(f'"{SUPERUSER}" ""\n')
        (root / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"tx = host=127.0.0.1 port={primary_port} dbname={dbname} pool_mode=transaction\n"
            f"session = host=127.0.0.1 port={primary_port} dbname={dbname} pool_mode=session\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {root / 'users.txt'}\n"
            f"logfile = {root / 'pgbouncer.log'}\ndefault_pool_size = 4\n")
        ids = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []} if user else {}
        if user:
            for path in (root, *root.iterdir()):
                os.chown(path, user.pw_uid, user.pw_gid)
        binary, environment = pgbouncer_command()
        process = subprocess.Popen([binary, str(root / "pgbouncer.ini")], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, env={**os.environ, **environment}, **ids)

        def dsn(alias: str) -> str:
            return f"postgresql://{SUPERUSER}@127.0.0.1:{port}/{alias}"

        def accepting() -> bool:
            if process.poll() is not None:
                log = root / "pgbouncer.log"
                raise RuntimeError(f"pgbouncer exited: {process.stdout.read().decode()} {log.read_text() if log.exists() else ''}")
            try:
                psycopg.connect(dsn("session"), connect_timeout=2).close()
                return True
            except psycopg.OperationalError:
                return False

        try:
            poll(accepting, timeout=15)
            yield dsn
        finally:
            process.terminate()
            process.wait(timeout=10)
