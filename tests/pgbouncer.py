"""A real PgBouncer in front of the sandbox primary, for the executor's pooling check.

PgBouncer is not on PyPI. An installed one (on PATH or in /usr/sbin) is used; otherwise the
tests obtain Debian's package themselves, so the README's two commands are all the set-up:
`apt-get download` and `dpkg-deb -x` unpack it, with the libraries it needs that are not
installed, into the temp dir. That needs no root and changes nothing on the machine (a plain
pip user is not root; `apt-get install` would need it). PgBouncer, like PostgreSQL, refuses to
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
from tests.test_sandbox import poll


def pgbouncer_command() -> tuple[str, dict[str, str]]:
    """The pgbouncer binary and the environment it runs with: installed, or unpacked from Debian's package."""
    found = shutil.which("pgbouncer") or next((p for p in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if os.path.exists(p)), None)
    if found is not None:
        return found, {}
    return unpacked_command(Path(tempfile.gettempdir()) / "migrator-pgbouncer")


def unpacked_command(root: Path) -> tuple[str, dict[str, str]]:
    """Debian's pgbouncer unpacked under root (once), and the library path it needs."""
    if not (root / "usr/sbin/pgbouncer").exists():
        unpack_debian_package(root)
    libraries = sorted({str(library.parent) for library in root.rglob("*.so*")})
    return str(root / "usr/sbin/pgbouncer"), {"LD_LIBRARY_PATH": ":".join(libraries)}


def unpack_debian_package(root: Path) -> None:
    """Debian's pgbouncer and its not-installed libraries, unpacked under root (no root needed)."""
    if not (shutil.which("apt-get") and shutil.which("dpkg-deb")):
        raise RuntimeError("pgbouncer is not installed and this is not a Debian-like system: install PgBouncer")
    depends = subprocess.run(["apt-cache", "depends", "--no-recommends", "--no-suggests", "pgbouncer"],
                             capture_output=True, text=True).stdout
    libraries = [line.split(":", 1)[1].strip() for line in depends.splitlines()
                 if line.strip().startswith("Depends: lib") and "libc6" not in line]
    missing = [name for name in libraries if subprocess.run(
        ["dpkg-query", "-W", "-f", "${db:Status-Status}", name], capture_output=True, text=True).stdout != "installed"]
    staging = Path(tempfile.mkdtemp(prefix="migrator-pgbouncer-staging-"))
    try:
        download = subprocess.run(["apt-get", "download", "pgbouncer", *missing], cwd=staging, capture_output=True, text=True)
        if download.returncode != 0 and os.geteuid() == 0:  # a fresh machine has no package lists yet
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True)
            download = subprocess.run(["apt-get", "download", "pgbouncer", *missing], cwd=staging, capture_output=True, text=True)
        if download.returncode != 0:
            raise RuntimeError(f"apt-get download pgbouncer failed: {download.stderr.strip().splitlines()[-1:]}")
        for package in staging.glob("*.deb"):
            subprocess.run(["dpkg-deb", "-x", str(package), str(staging / "root")], check=True)
        os.chmod(staging, 0o755)
        os.chmod(staging / "root", 0o755)
        try:
            os.rename(staging / "root", root)
        except OSError:  # unpacked meanwhile by another test run
            pass
    finally:
        shutil.rmtree(staging, ignore_errors=True)


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
