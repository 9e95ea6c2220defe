"""Throwaway PostgreSQL clusters: a primary plus N streaming replicas, for tests, the demo and users.

Each cluster lives under one temporary root (`migrator-sandbox-*` in the temp dir): a data
directory per node, Unix sockets in the root, and a free loopback port per node, written into the
node's configuration (so a plain `pg_ctl stop`/`start` keeps it). Replicas are
physical streaming replicas made with `pg_basebackup -R` on their own replication slots.
Everything is stopped and removed on `stop()`, on interpreter exit, and, for roots left behind by
a process that was killed, by the next sandbox that starts (`sweep_stale()`). Only the data
directory initdb made is kept (`migrator-initdb-*` beside the roots, about 40 MB per PostgreSQL
build): each primary starts as a copy of it.

PostgreSQL refuses to run as root: when we are root the servers run as an unprivileged system
user (created if needed).
"""

from __future__ import annotations

import atexit
import glob
import hashlib
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from migrator.errors import UserError

SANDBOX_USER = "migrator-pg"
ROOT_PREFIX = "migrator-sandbox-"
SUPERUSER = "postgres"
INITDB_PREFIX = "migrator-initdb-"  # pristine data directories, one per PostgreSQL build (see Cluster._pristine_datadir)
# initdb syncs the pristine copy to disk before it is renamed into place: a crash must not leave a
# half-written one that every later sandbox would copy.
INITDB_OPTIONS = ("-U", SUPERUSER, "--auth=trust", "--encoding=UTF8", "--locale=C")
SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "shared_buffers": "'32MB'",
    "max_connections": "100",
    "fsync": "on",
    "wal_level": "replica",
    "max_wal_senders": "10",
    "max_replication_slots": "10",
    "hot_standby": "on",
    "wal_receiver_status_interval": "'1s'",
    "log_lock_waits": "on",
    "deadlock_timeout": "'200ms'",
    "log_min_messages": "warning",
    "dynamic_shared_memory_type": "posix",
}


class SandboxError(UserError):
    """A sandbox that cannot start or be controlled; the message says what to do."""


# --- finding PostgreSQL ---------------------------------------------------------------------
REQUIRED_BINARIES = ("initdb", "pg_ctl", "postgres", "pg_basebackup")


def _has_binaries(folder: Path) -> bool:
    return all((folder / name).is_file() for name in REQUIRED_BINARIES)


def pgserver_bin_dir() -> Path | None:
    """The bin directory of the PostgreSQL shipped in the `pgserver` wheel, if installed."""
    import importlib.util

    spec = importlib.util.find_spec("pgserver")  # located, not imported: only its files are used
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"
    return folder if _has_binaries(folder) else None


def find_pg_bin() -> Path:
    """PostgreSQL's bin directory: MIGRATOR_PG_BIN, pg_config --bindir, /usr/lib/postgresql/*/bin, pgserver."""
    configured = os.environ.get("MIGRATOR_PG_BIN")
    if configured:
        folder = Path(configured)
        if not _has_binaries(folder):
            missing = [name for name in REQUIRED_BINARIES if not (folder / name).is_file()]
            raise SandboxError(f"MIGRATOR_PG_BIN={configured}: no {', '.join(missing)} there (it must be a PostgreSQL bin directory)")
        return folder
    pg_config = shutil.which("pg_config")
    if pg_config:
        result = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        folder = Path(result.stdout.strip())
        if result.returncode == 0 and _has_binaries(folder):
            return folder
    installed = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0)
    for candidate in reversed(installed):
        if _has_binaries(Path(candidate)):
            return Path(candidate)
    wheel = pgserver_bin_dir()
    if wheel is not None:
        return wheel
    raise SandboxError(
        "no PostgreSQL server binaries found: install them (apt-get install postgresql, or "
        "pip install pgserver, which ships them), or point MIGRATOR_PG_BIN at a bin directory, "
        "or set MIGRATOR_SANDBOX=docker to use Docker"
    )


def pg_major_version(pg_bin: Path) -> int:
    output = subprocess.run([str(pg_bin / "postgres"), "--version"], capture_output=True, text=True).stdout
    return int(output.split()[2].split(".")[0])


# --- running as an unprivileged user ------------------------------------------------------
def server_user() -> pwd.struct_passwd | None:
    """The user servers run as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SANDBOX_USER)
    except KeyError:
        result = subprocess.run(
            ["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", SANDBOX_USER],
            capture_output=True, text=True,
        )
        if result.returncode not in (0, 9):  # 9: created meanwhile by another process
            raise SandboxError(f"cannot create the unprivileged user {SANDBOX_USER!r} to run PostgreSQL as: {result.stderr.strip()}")
        return pwd.getpwnam(SANDBOX_USER)


def _readable_by(user: pwd.struct_passwd | None, path: Path) -> bool:
    """Can that user traverse every folder to path and read it? (Root only ever checks others' bits.)"""
    if user is None:
        return True
    for part in [path, *path.parents]:
        mode = part.stat().st_mode
        if part.stat().st_uid != user.pw_uid and not mode & 0o001:
            return False
    return True


def _usable_bin_dir(pg_bin: Path, user: pwd.struct_passwd | None) -> Path:
    """A bin directory the server user can execute: a world-readable copy when the original is not."""
    if _readable_by(user, pg_bin):
        return pg_bin
    install = pg_bin.parent
    copy = Path(tempfile.gettempdir()) / f"migrator-pg-{abs(hash(str(install.resolve()))):x}"
    if not _has_binaries(copy / "bin"):
        staging = Path(tempfile.mkdtemp(prefix="migrator-pg-staging-"))
        shutil.copytree(install, staging / "install", symlinks=True)
        os.chmod(staging / "install", 0o755)
        try:
            os.rename(staging / "install", copy)
        except OSError:
            pass  # another process finished the same copy first
        shutil.rmtree(staging, ignore_errors=True)
    os.chmod(copy, 0o755)
    return copy / "bin"


# --- the cluster ----------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_in_use(port: int) -> bool:
    """Is something listening on this loopback port? (TIME_WAIT leftovers do not count, as for postgres.)"""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


@dataclass
class Node:
    """One PostgreSQL server of a sandbox cluster."""

    name: str
    datadir: Path
    port: int
    socket_dir: Path
    role: str  # primary | replica
    slot: str | None = None

    def dsn(self, dbname: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    @property
    def running(self) -> bool:
        return server_running(self.datadir)


@dataclass
class Cluster:
    """A primary and `replicas` streaming replicas. Use as a context manager, or start()/stop()."""

    replicas: int = 1
    pg_bin: Path | None = None
    port: int | None = None
    temp_dir: Path | None = None
    detached: bool = False
    name: str | None = None  # None: the root folder's own (unique) name
    settings: dict[str, str] = field(default_factory=dict)  # postgresql.conf values over SETTINGS (replicas copy them)
    root: Path | None = None
    nodes: list[Node] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.replicas < 0:
            raise SandboxError(f"--replicas must be 0 or more, not {self.replicas}")
        if self.name is not None and not _NAME.fullmatch(self.name):
            raise SandboxError(f"--name {self.name!r}: use letters, digits, '.', '_' or '-' (at most 64)")
        self._user = None
        self._bin: Path | None = None

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> "Cluster":
        sweep_stale(self.temp_dir)
        self._user = server_user()
        self._bin = _usable_bin_dir(self.pg_bin or find_pg_bin(), self._user)
        running = find_sandboxes(self.name, self.temp_dir) if self.name else []
        if running:
            root, state = running[0]
            if state.get("nodes") and len(stopped_servers(state)) == len(state["nodes"]):
                raise SandboxError(f"sandbox {self.name!r} is there ({root}) but none of its servers is running: "
                                   f"remove it with `migrator sandbox down --name {self.name}`, or choose another --name")
            raise SandboxError(f"sandbox {self.name!r} is already running ({root}): stop it with "
                               f"`migrator sandbox down --name {self.name}`, or choose another --name")
        if self.port is not None and port_in_use(self.port):
            raise SandboxError(f"port {self.port} on 127.0.0.1 is in use: choose another or omit it to get a free one")
        parent = Path(self.temp_dir or tempfile.gettempdir())
        if not _readable_by(self._user, parent):
            raise SandboxError(f"{parent}: the unprivileged user {SANDBOX_USER!r} that runs PostgreSQL cannot reach this folder; choose a world-accessible one")
        try:
            self.root = Path(tempfile.mkdtemp(prefix=ROOT_PREFIX, dir=parent))
        except OSError as error:
            raise SandboxError(f"cannot create a sandbox folder in {parent}: {error.strerror}") from None
        os.chmod(self.root, 0o755)
        self.name = self.name or self.root.name
        _ACTIVE.append(self)
        self._write_state()
        try:
            self._start_primary()
            for index in range(self.replicas):
                self._start_replica(index + 1)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every server and remove the whole root."""
        for node in reversed(self.nodes):
            if node.running:
                self._pg_ctl("stop", node, "-m", "immediate", check=False)
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
        if self in _ACTIVE:
            _ACTIVE.remove(self)

    def detach(self) -> None:
        """Leave the cluster running past this process (`migrator sandbox down` stops it)."""
        self.detached = True
        self._write_state()

    def __enter__(self) -> "Cluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def primary(self) -> Node:
        return self.nodes[0]

    @property
    def replica_nodes(self) -> list[Node]:
        return self.nodes[1:]

    def dsns(self, dbname: str = "postgres") -> list[str]:
        return [node.dsn(dbname) for node in self.nodes]

    # -- building nodes --------------------------------------------------------------------
    def _start_primary(self) -> None:
        node = Node("primary", self.root / "primary", self.port or free_port(), self.root, "primary")
        result = self._run(["cp", "-a", str(self._pristine_datadir()), str(node.datadir)])
        if result.returncode != 0:
            raise SandboxError(_explain_failure("copying the initdb", result.stdout + result.stderr, self.root))
        with open(node.datadir / "postgresql.conf", "a") as conf:
            conf.write("\n# migrator sandbox\n")
            for key, value in {**SETTINGS, **self.settings}.items():
                conf.write(f"{key} = {value}\n")
            conf.write(f"port = {node.port}\nunix_socket_directories = '{self.root}'\ninclude_if_exists = 'sandbox.conf'\n")
        with open(node.datadir / "pg_hba.conf", "a") as hba:
            hba.write("host replication all 127.0.0.1/32 trust\nlocal replication all trust\n")
        self.nodes.append(node)
        self._start_node(node)
        self._write_state()

    def _pristine_datadir(self) -> Path:
        """A data directory as initdb leaves it, made once per PostgreSQL build (and server user) in the
        parent of the sandbox roots and copied for each primary: initdb takes seconds, a copy a fraction
        of one, and its output is the same every time."""
        postgres = (self._bin / "postgres").resolve()
        build = (str(postgres), postgres.stat().st_mtime_ns, postgres.stat().st_size, INITDB_OPTIONS,
                 self._user.pw_uid if self._user else os.getuid())
        pristine = self.root.parent / f"{INITDB_PREFIX}{hashlib.sha1(repr(build).encode()).hexdigest()[:12]}"
        if (pristine / "global" / "pg_control").is_file():
            return pristine
        staging = Path(tempfile.mkdtemp(prefix=f"{INITDB_PREFIX}staging-", dir=self.root.parent))
        try:
            os.chmod(staging, 0o755)
            self._chown(staging)
            result = self._run([str(self._bin / "initdb"), "-D", str(staging / "data"), *INITDB_OPTIONS])
            if result.returncode != 0:
                raise SandboxError(_explain_failure("initdb", result.stdout + result.stderr, self.root))
            try:
                os.rename(staging / "data", pristine)
            except OSError:
                pass  # another sandbox made the same one first
            else:
                _fsync_directory(pristine.parent)  # the rename itself survives a crash
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return pristine

    def _start_replica(self, number: int) -> None:
        primary = self.primary
        node = Node(f"replica{number}", self.root / f"replica{number}", free_port(), self.root, "replica", slot=f"replica{number}")
        result = self._run([str(self._bin / "pg_basebackup"), "-h", str(self.root), "-p", str(primary.port), "-U", SUPERUSER,
                            "-D", str(node.datadir), "-R", "-X", "stream", "-C", "-S", node.slot, "--no-sync",
                            "--checkpoint=fast"])
        if result.returncode != 0:
            raise SandboxError(_explain_failure("pg_basebackup", result.stdout + result.stderr, self.root))
        with open(node.datadir / "postgresql.auto.conf", "a") as conf:  # overrides the primary's copied port
            conf.write(f"port = {node.port}\n")
            conf.write(f"primary_conninfo = 'host={self.root} port={primary.port} user={SUPERUSER} application_name={node.name}'\n")
        self.nodes.append(node)
        self._start_node(node)
        self._write_state()

    def _start_node(self, node: Node) -> None:
        if port_in_use(node.port):
            raise SandboxError(f"port {node.port} on 127.0.0.1 is in use")
        result = self._pg_ctl("start", node, "-w", "-t", "60", "-l", str(self.root / f"{node.name}.log"), check=False)
        if result.returncode != 0:
            log = (self.root / f"{node.name}.log")
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise SandboxError(_explain_failure(f"starting {node.name}", result.stdout + result.stderr + tail, self.root))

    # -- controls ----------------------------------------------------------------------------
    def stop_node(self, node: Node, mode: str = "fast") -> None:
        """Stop one server (a replica, to test fail-closed behaviour)."""
        self._pg_ctl("stop", node, "-m", mode, "-w")

    def start_node(self, node: Node) -> None:
        self._start_node(node)

    def pause_replay(self, replica: Node) -> None:
        self.query(replica, "SELECT pg_wal_replay_pause()")

    def resume_replay(self, replica: Node) -> None:
        self.query(replica, "SELECT pg_wal_replay_resume()")

    def set_apply_delay(self, replica: Node, milliseconds: int) -> None:
        """Set recovery_min_apply_delay on a replica (0 turns it off) and reload it."""
        (replica.datadir / "sandbox.conf").write_text(f"recovery_min_apply_delay = '{int(milliseconds)}ms'\n")
        self._chown(replica.datadir / "sandbox.conf")
        self._pg_ctl("reload", replica)

    def replay_lsn(self, replica: Node) -> str:
        return self.query(replica, "SELECT pg_last_wal_replay_lsn()")[0][0]

    def current_lsn(self) -> str:
        return self.query(self.primary, "SELECT pg_current_wal_lsn()")[0][0]

    def wait_for_replay(self, replica: Node, lsn: str | None = None, timeout: float = 30.0) -> None:
        """Wait until the replica has replayed up to lsn (default: the primary's current LSN)."""
        target = lsn or self.current_lsn()
        deadline = time.monotonic() + timeout
        while True:
            behind = self.query(replica, "SELECT pg_wal_lsn_diff(%s, pg_last_wal_replay_lsn())", (target,))[0][0]
            if behind is not None and behind <= 0:
                return
            if time.monotonic() > deadline:
                raise SandboxError(f"{replica.name} did not replay up to {target} within {timeout:g} s")
            time.sleep(0.02)

    def replication_status(self) -> list[dict]:
        """Per replica, as the primary sees it: state, bytes and seconds of replay lag."""
        rows = self.query(self.primary, """
            SELECT application_name, state, pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn),
                   EXTRACT(epoch FROM replay_lag)
            FROM pg_stat_replication ORDER BY application_name""")
        return [{"name": r[0], "state": r[1], "replay_bytes": int(r[2] or 0), "replay_lag_s": float(r[3] or 0)} for r in rows]

    def query(self, node: Node, sql: str, params: tuple = ()) -> list[tuple]:
        import psycopg

        with psycopg.connect(node.dsn(), autocommit=True, connect_timeout=10) as connection:
            cursor = connection.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    # -- plumbing ----------------------------------------------------------------------------
    def _run(self, command: list[str]) -> subprocess.CompletedProcess:
        if self._user is not None:
            self._chown(self.root)
        kwargs = {}
        if self._user is not None:
            kwargs = {"user": self._user.pw_uid, "group": self._user.pw_gid, "extra_groups": []}
        env = {**os.environ, "LC_ALL": "C", "HOME": str(self.root)}
        return subprocess.run(command, capture_output=True, text=True, cwd=self.root, env=env, **kwargs)

    def _pg_ctl(self, action: str, node: Node, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = self._run([str(self._bin / "pg_ctl"), action, "-D", str(node.datadir), *args])
        if check and result.returncode != 0:
            raise SandboxError(f"pg_ctl {action} {node.name} failed: {(result.stderr or result.stdout).strip()}")
        return result

    def _chown(self, path: Path) -> None:
        if self._user is not None:
            os.chown(path, self._user.pw_uid, self._user.pw_gid)

    def _write_state(self) -> None:
        state = {
            "name": self.name, "uid": os.getuid(),
            "owner_pid": os.getpid(), "detached": self.detached, "pg_bin": str(self._bin or ""),
            "nodes": [{"name": n.name, "datadir": str(n.datadir), "port": n.port, "role": n.role} for n in self.nodes],
        }
        (self.root / "cluster.json").write_text(json.dumps(state))


def _fsync_directory(folder: Path) -> None:
    """Make a rename into `folder` durable."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _explain_failure(step: str, output: str, root: Path) -> str:
    if "No space left on device" in output or "could not extend file" in output:
        return f"{step} failed: no space left on the device holding {root} (a sandbox needs about 60 MB)"
    last = [line for line in output.strip().splitlines() if line.strip()][-3:]
    return f"{step} failed: " + " / ".join(last)


def _postmaster_pid(datadir: Path) -> int | None:
    """The pid in a data directory's postmaster.pid (the server may have died since), or None."""
    try:
        return int((datadir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def server_running(datadir: Path) -> bool:
    """Is a server running on this data directory? (A killed one leaves its postmaster.pid behind.)"""
    pid = _postmaster_pid(datadir)
    return pid is not None and _alive(pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --- finding sandboxes, and cleanup of what crashed processes left behind ------------------
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def default_name(folder: Path | None = None) -> str:
    """The sandbox name of a working directory (`sandbox up`, `down` and `status` use it when no
    --name is given): the folder's name and a short hash of its whole path."""
    folder = (folder or Path.cwd()).resolve()
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", folder.name)[:40] or "root"
    return f"{slug}-{hashlib.sha1(str(folder).encode()).hexdigest()[:6]}"


def sandbox_roots(temp_dir: Path | None = None) -> list[Path]:
    """Every sandbox root in the temp dir, whoever made it (see find_sandboxes for one's own)."""
    return sorted(Path(temp_dir or tempfile.gettempdir()).glob(ROOT_PREFIX + "*"))


def _owner_uid(root: Path, state: dict | None) -> int | None:
    """Who started the sandbox: recorded in its state, else the owner of its files (as root, the
    folder belongs to the unprivileged server user)."""
    if state and "uid" in state:
        return state["uid"]
    try:
        owner = root.stat().st_uid
    except OSError:
        return None
    user = server_user()
    return 0 if user is not None and owner == user.pw_uid else owner


def find_sandboxes(name: str | None = None, temp_dir: Path | None = None) -> list[tuple[Path, dict]]:
    """This user's live sandboxes (detached, or with their owning process alive), those named
    `name` only when given, as (root, state)."""
    found = []
    for root in sandbox_roots(temp_dir):
        state = read_state(root)
        if state is None or _owner_uid(root, state) != os.getuid():
            continue
        if (name is None or state.get("name", root.name) == name) and (state.get("detached") or _alive(state.get("owner_pid", 0))):
            found.append((root, state))
    return found


def stopped_servers(state: dict) -> list[str]:
    """The names of a sandbox's servers that are not running (stopped with pg_ctl, killed, or never started)."""
    return [node["name"] for node in state.get("nodes", []) if not server_running(Path(node["datadir"]))]


def read_state(root: Path) -> dict | None:
    try:
        return json.loads((root / "cluster.json").read_text())
    except (OSError, ValueError):
        return None


def stop_root(root: Path) -> None:
    """Stop every server under a sandbox root (however it was left) and remove the root."""
    for pid_file in root.glob("*/postmaster.pid"):
        pid = _postmaster_pid(pid_file.parent)
        if pid is not None and _alive(pid):
            os.kill(pid, signal.SIGQUIT)  # immediate shutdown: the data is thrown away anyway
            deadline = time.monotonic() + 10
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.02)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
    shutil.rmtree(root, ignore_errors=True)


def sweep_stale(temp_dir: Path | None = None) -> list[Path]:
    """Remove this user's sandbox roots whose owning process is gone (killed before it could clean up)."""
    swept = []
    for root in sandbox_roots(temp_dir):
        state = read_state(root)
        if _owner_uid(root, state) != os.getuid():
            continue
        if state is None:
            if time.time() - root.stat().st_mtime < 60:  # being created right now
                continue
        elif state.get("detached") or _alive(state.get("owner_pid", 0)):
            continue
        stop_root(root)
        swept.append(root)
    return swept


def remove_initdb_caches(temp_dir: Path | None = None) -> list[Path] | None:
    """Remove this user's pristine initdb copies (see Cluster._pristine_datadir; as root they belong
    to the server user) once no sandbox of theirs is left, running or starting, to copy one; None
    when one is left. The next `sandbox up` runs initdb again."""
    mine = [root for root in sandbox_roots(temp_dir) if _owner_uid(root, read_state(root)) == os.getuid()]
    if mine:
        return None
    removed = [cache for cache in sorted(Path(temp_dir or tempfile.gettempdir()).glob(INITDB_PREFIX + "*"))
               if _owner_uid(cache, None) == os.getuid()]
    for cache in removed:
        shutil.rmtree(cache, ignore_errors=True)
    return removed


_ACTIVE: list[Cluster] = []


@atexit.register
def _stop_active_clusters() -> None:
    for cluster in list(_ACTIVE):
        if not cluster.detached:
            cluster.stop()


# --- Docker (testcontainers): a primary only ---------------------------------------------
class DockerPrimary:
    """A PostgreSQL primary in Docker via testcontainers (MIGRATOR_SANDBOX=docker). No replicas."""

    def __init__(self, image: str = "postgres:16"):
        self.image = image
        self._container = None

    def start(self) -> "DockerPrimary":
        try:
            from testcontainers.postgres import PostgresContainer
        except ImportError:
            raise SandboxError("MIGRATOR_SANDBOX=docker needs testcontainers: pip install testcontainers") from None
        try:
            self._container = PostgresContainer(self.image, username=SUPERUSER, password="sandbox", dbname="postgres").start()
        except Exception as error:  # docker client errors come in many types
            raise SandboxError(f"MIGRATOR_SANDBOX=docker: cannot start a container ({type(error).__name__}: {error})") from None
        return self

    def dsn(self, dbname: str = "postgres") -> str:
        host = self._container.get_container_host_ip()
        port = self._container.get_exposed_port(5432)
        return f"postgresql://{SUPERUSER}:sandbox@{host}:{port}/{dbname}"

    def stop(self) -> None:
        if self._container is not None:
            self._container.stop()


def start_sandbox(replicas: int = 1, **options):
    """A running sandbox: local binaries by default, Docker with MIGRATOR_SANDBOX=docker."""
    if os.environ.get("MIGRATOR_SANDBOX", "local") == "docker":
        if replicas:
            raise SandboxError(
                "streaming replicas need local PostgreSQL binaries; MIGRATOR_SANDBOX=docker starts a primary only "
                "(unset MIGRATOR_SANDBOX, or install postgresql or pgserver)"
            )
        return DockerPrimary().start()
    return Cluster(replicas=replicas, **options).start()
